"""Scores a musician can open in MuseScore: MusicXML written by music21 (``--musicxml``).

Where the voices are known (``harmonize``, ``fugue``, ``chain``) each voice is one part; a piece
of one track (``generate``) goes on a piano grand staff, the notes from middle C up on the upper
staff, the rest on the lower, the notes a staff sounds together made chords (music21's
``chordify``, tied where one note outlasts another). The key signature is the key found from the
notes (:func:`bach2.music.key_finding.find_key`) unless given; the time signature is the piece's. MIDI
carries no spelling, so a pitch of the key's scale is spelled as the key spells it (B♭ in F major,
A♯ in B major, C♭ in G♭ major) and any other with a sharp in a key of sharps, a flat in a key of flats. music21 cuts the notes into bars
with ties and rests (``makeNotation``).
"""
import pathlib
import typing

import numpy as np

from bach2.music.key_finding import find_key
from bach2.safe_io import atomic_path

MIDDLE_C = 60


class Frame(typing.NamedTuple):
    """What every part of a score shares: ``resolution`` (ticks per quarter note), the music21 ``key``, the
    ``time_signature`` (numerator, denominator) and the ``end`` of the last bar in quarter notes."""
    resolution: int
    key: object
    time_signature: tuple
    end: float


def _spelled(pitch, spelling, sharps=0):
    """MIDI number → a music21 Pitch spelled as the key's scale spells its pitch class, if it is one, else
    with a sharp in a key of sharps (``sharps`` > 0), a flat in a key of flats (< 0)."""
    from music21 import pitch as m21pitch
    found = m21pitch.Pitch(midi=int(pitch))
    if found.accidental is not None and found.accidental.alter * sharps < 0:
        found = found.getEnharmonic()
    if found.pitchClass in spelling:
        found = m21pitch.Pitch(spelling[found.pitchClass])
        found.octave = int(pitch) // 12 - 1
        found.octave += (int(pitch) - found.midi) // 12            # C♭ and B♯ cross the octave's number
    return found


def _part(notes, name, frame, part_class, clef=None):
    """[(tick, pitch, duration)] → a music21 ``part_class`` named ``name`` (chords where notes overlap) in the
    :class:`Frame`, lasting up to its ``end`` (a rest after its last note: every part ends at the same bar
    line), bars made."""
    from music21 import meter, note
    part = part_class()
    part.partName = name
    key, (numerator, denominator) = frame.key, frame.time_signature
    spelling = {p.pitchClass: p.name for p in key.pitches}
    for tick, pitch, duration in notes:
        part.insert(tick / frame.resolution, note.Note(_spelled(pitch, spelling, key.sharps),
                                                       quarterLength=duration / frame.resolution))
    overlapping = any(b[0] < a[0] + a[2] for a, b in zip(sorted(notes), sorted(notes)[1:]))
    if overlapping:
        chords = part.chordify()
        part = part_class()
        part.partName = name
        for element in chords.flatten().notesAndRests:
            part.insert(element.offset, element)
    last = max((element.offset + element.quarterLength for element in part.notesAndRests), default=0)
    if last < frame.end:
        part.insert(last, note.Rest(quarterLength=frame.end - last))
    if clef is not None:
        part.insert(0, clef)
    part.insert(0, key)
    part.insert(0, meter.TimeSignature(f'{numerator}/{denominator}'))
    part.makeNotation(inPlace=True)
    return part


def time_signature_of(steps_per_bar, steps_per_quarter=4):
    """Steps in a bar → (numerator, denominator): quarters where they are whole (16 → 4/4), else eighths
    (6 → 3/8), else sixteenths."""
    for denominator in (4, 8, 16):
        beats = steps_per_bar * denominator / (4 * steps_per_quarter)
        if beats == int(beats):
            return int(beats), denominator
    return int(steps_per_bar), 4 * steps_per_quarter


def piece_key(voices):
    """{name: notes} → music21 Key of all the notes, each pitch class weighed by its duration."""
    from music21 import key as m21key
    histogram = np.zeros(12)
    for notes in voices.values():
        for _, pitch, duration in notes:
            histogram[pitch % 12] += duration
    tonic, mode = find_key(histogram) if histogram.any() else ('C', 'major')
    return m21key.Key(tonic, mode)


def write_musicxml(voices, resolution, path, title='', time_signature=(4, 4), key=None):
    """{voice name: [(tick, pitch, duration)]} → a MusicXML file at ``path`` (atomically), one part per voice;
    a single voice called 'piano' becomes a grand staff. ``key``: ('C', 'minor'), or None to find it."""
    from music21 import clef, key as m21key, layout, metadata, stream
    music21_key = piece_key(voices) if key is None else m21key.Key(*key)
    bar = time_signature[0] * 4 / time_signature[1]                       # quarter notes
    end = max((tick + duration for notes in voices.values() for tick, _, duration in notes), default=0) / resolution
    frame = Frame(resolution, music21_key, time_signature, max(bar, -(-end // bar) * bar))
    score = stream.Score()
    score.metadata = metadata.Metadata(title=title or pathlib.Path(path).stem, composer='Bach2.0')
    if list(voices) == ['piano']:
        notes = voices['piano']
        staves = [_part([n for n in notes if n[1] >= MIDDLE_C], 'piano', frame, stream.PartStaff, clef.TrebleClef()),
                  _part([n for n in notes if n[1] < MIDDLE_C], 'piano', frame, stream.PartStaff, clef.BassClef())]
        for staff in staves:
            score.insert(0, staff)
        score.insert(0, layout.StaffGroup(staves, name='piano', symbol='brace'))
    else:
        for name, notes in voices.items():
            score.insert(0, _part(notes, name, frame, stream.Part))
    with atomic_path(path) as temporary:
        score.write('musicxml', fp=temporary)
    return path
