"""Bach2.0: learn Bach's counterpoint from MIDI and write new fugues.

The map of the package. The journal's modules sit at the top, named as in the 2016 journal; everything beyond
the journal lives in a room of its concern. Imports run down the floors, never up (``tests/test_layout.py``).

The journal's pipeline (top of the package)::

    midi_to_time_series          stage 0: MIDI → time series per voice, with a repair report
    time_series_to_midi          its inverse: time series → MIDI file
    time_series_to_pitch_matrix  stage 1: time series ⇄ T × P pitch matrix, 12 transpositions, bass line
    chord_sequence               stage 2: a chord per quarter note, the key of a piece
    rnn_model                    stage 3: the Lasagne-style LSTM (or LSTM-NADE) compiled by PyTensor
    train                        stage 3: epochs, validation, checkpoints, resume
    sampling                     stage 4: the compiled sampler that continues a primer

Shared by every room: ``common`` (the errors that cross rooms, the MIDI suffixes) and ``safe_io`` (files never
half-written, pickles that never run code).

The rooms, bottom floor first::

    music/    representation: MIDI bytes (smf_reader), metre, key_finding, pitch_names, progressions, geometry
    nn/       the network library with Lasagne's semantics: layers, lstm_sequence, nade, objectives, updates
    data/     corpora and training data: prepare (stages 0–2 on disk), default_corpus, jsb_chorales,
              polyphonic_music, piece_filters, training_set, training_windows
    models/   model_config, checkpoints (every kind, and the shipped models in models/shipped/), nll,
              the road map's sequence models (sequence_model, sequence_training, chord_model, line_model)
    render/   piece (one writer of a piece in every format), piano_roll, scores, listen, look, gallery,
              pitch_class_plot, windows_figure, training_curves
    compose/  generate (stage 4), harmonize, fugue, chain, lines
    measure/  evaluate (stage 5), music_statistics, judge, music21_judge, baselines, experiment
    app/      the ``bach2`` command (cli, one module per command group, journey) and the studio

Floors: common and safe_io; music and nn with stages 0–2; data, models and render with rnn_model, train and
sampling; compose and measure; app.
"""
__version__ = '0.1.0'
