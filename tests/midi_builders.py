"""Helpers that write tiny MIDI files with mido for the tests."""
import mido
import numpy as np


def write_midi(path, tracks, ticks_per_beat=96):
    """Write a type-1 MIDI file: ``tracks`` is a list of lists of mido messages (delta times)."""
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    for messages in tracks:
        midi.tracks.append(mido.MidiTrack(messages))
    midi.save(path)
    return path


def on(pitch, time=0, channel=0, velocity=64):
    """NoteOn ``time`` ticks after the previous event."""
    return mido.Message('note_on', note=pitch, velocity=velocity, time=time, channel=channel)


def off(pitch, time=0, channel=0):
    """NoteOff ``time`` ticks after the previous event."""
    return mido.Message('note_off', note=pitch, velocity=0, time=time, channel=channel)


def random_voice(rng, low, high, n_ticks, channel):
    """Notes of 8th, quarter or half length (96 ticks per quarter) with random pitches in [low, high)."""
    messages, tick = [], 0
    while tick < n_ticks:
        ticks = min(int(rng.choice([48, 96, 192])), n_ticks - tick)
        pitch = int(rng.integers(low, high))
        messages += [on(pitch, 0, channel), off(pitch, ticks, channel)]
        tick += ticks
    return messages


def write_random_corpus(folder, n_pieces=6, bars=4, seed=0):
    """``bwv1_x.mid`` … : ``bars`` 4/4 bars of two or three voices of random notes (fixed seed) → folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ranges = [(60, 76), (48, 64), (36, 52)]
    for i in range(1, n_pieces + 1):
        voices = ranges[:2 + i % 2]
        write_midi(folder / f'bwv{i}_x.mid', [random_voice(rng, low, high, bars * 4 * 96, channel)
                                              for channel, (low, high) in enumerate(voices)])
    return folder
