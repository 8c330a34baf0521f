"""Bach2.0: learn Bach's counterpoint from MIDI and write new fugues.

Pipeline (one module per stage, named as in the 2016 journal):
``midi_to_time_series`` → ``time_series_to_pitch_matrix`` (and ``time_series_to_midi``)
→ ``chord_sequence`` → ``prepare`` (training data on disk).
"""
__version__ = '0.1.0'
