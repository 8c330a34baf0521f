"""Helpers that write tiny MIDI files with mido for the tests."""
import mido


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
