"""Write ``tunes.txt`` as one MIDI file per tune beside it (``python benchmarks/tunes/write_tunes.py``).

One track, 480 ticks per quarter, a key signature and the tune's time signature; a pickup is a first bar
of its own length (a 1/4 bar before the 4/4 ones), as MuseScore writes an anacrusis to MIDI.
"""
import pathlib

import mido

from bach2.music.pitch_names import parse_pitch_name

HERE = pathlib.Path(__file__).parent
TICKS = 480
KEYS = {'major': '', 'minor': 'm'}


def notes_of(text):
    """'F4:1 Bb4:1.5 R:1 A4' → [(MIDI pitch or None for a rest, quarters)]; a missing length repeats the last."""
    notes, length = [], 1.0
    for token in text.split():
        name, _, quarters = token.partition(':')
        length = float(quarters) if quarters else length
        notes.append((None if name == 'R' else parse_pitch_name(name, scientific=True), length))
    return notes


def write_tune(path, key, time_signature, pickup, text):
    """One tune → a type-1 MIDI file at ``path``."""
    numerator, denominator = (int(x) for x in time_signature.split('/'))
    tonic, mode = key.split()
    conductor = [mido.MetaMessage('key_signature', key=tonic + KEYS[mode]),
                 mido.MetaMessage('set_tempo', tempo=600000)]
    if pickup:
        conductor.append(mido.MetaMessage('time_signature', numerator=int(pickup * denominator / 4),
                                          denominator=denominator))
    conductor.append(mido.MetaMessage('time_signature', numerator=numerator, denominator=denominator,
                                      time=int(pickup * TICKS)))
    melody, wait = [mido.MetaMessage('track_name', name=path.stem)], 0
    for pitch, quarters in notes_of(text):
        ticks = int(round(quarters * TICKS))
        if pitch is None:
            wait += ticks
            continue
        melody += [mido.Message('note_on', note=pitch, velocity=80, time=wait),
                   mido.Message('note_off', note=pitch, velocity=0, time=ticks)]
        wait = 0
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS)
    midi.tracks += [mido.MidiTrack(conductor), mido.MidiTrack(melody)]
    midi.save(path)


def main():
    for line in (HERE / 'tunes.txt').read_text().splitlines():
        if line.strip() and not line.startswith('#'):
            name, key, time_signature, pickup, text = (field.strip() for field in line.split('|'))
            write_tune(HERE / f'{name}.mid', key, time_signature, float(pickup), text)


if __name__ == '__main__':
    main()
