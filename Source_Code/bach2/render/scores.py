"""Scores a musician can open in MuseScore: MusicXML written by music21 (``--musicxml``).

Where the voices are known (``harmonize``, ``fugue``, ``chain``) each voice is one part; a piece
of one track (``generate``) goes on a piano grand staff, the notes from middle C up on the upper
staff, the rest on the lower, the notes a staff sounds together made chords (music21's
``chordify``, tied where one note outlasts another). The key signature is the piece's key where given, else
the key found from the notes (:func:`bach2.music.key_finding.find_key`), either named as musicians write it
(at most seven accidentals: B♭ major, not A♯ major); the time signature is the piece's. MIDI carries no
spelling, so every pitch is spelled as the key spells it (:func:`bach2.music.key_finding.key_spelling`: B♭ in
F major, A♯ in B major, C♭ in G♭ major, C♯ in D minor). A piece that starts with a pickup (``pickup_ticks``)
starts with an anacrusis: a short first measure, numbered 0. music21 cuts the notes into bars with ties
(``makeNotation``); every silence is a rest.
"""
import pathlib
import typing

import numpy as np

from bach2.music.key_finding import find_key, key_spelling, spelled_key
from bach2.safe_io import atomic_path

MIDDLE_C = 60


class Frame(typing.NamedTuple):
    """What every part of a score shares: ``resolution`` (ticks per quarter note), the ``key`` ('Bb', 'major'),
    the ``time_signature`` (numerator, denominator), ``lead``: quarter notes of the first bar before the
    first note (0: none; else the first measure is an anacrusis), and the ``end`` of the last bar in quarter
    notes from the first bar line (``lead`` before the first note)."""
    resolution: int
    key: tuple
    time_signature: tuple
    lead: float
    end: float


def music21_name(name):
    """'Bb', 'F#', 'F##' → music21's 'B-', 'F#', 'F##'."""
    return name[0] + name[1:].replace('b', '-')


def _spelled(pitch, spelling):
    """MIDI number → a music21 Pitch spelled as ``spelling`` (12 names, C first) spells its pitch class."""
    from music21 import pitch as m21pitch
    found = m21pitch.Pitch(music21_name(spelling[int(pitch) % 12]))
    found.octave = int(pitch) // 12 - 1
    found.octave += (int(pitch) - found.midi) // 12            # C♭ and B♯ cross the octave's number
    return found


def _part(notes, name, frame, part_class, clef=None):
    """[(tick, pitch, duration)] → a music21 ``part_class`` named ``name`` (chords where notes overlap) in the
    :class:`Frame`, lasting up to its ``end`` (a rest after its last note: every part ends at the same bar
    line), bars made."""
    from music21 import key as m21key, meter, note
    part = part_class()
    part.partName = name
    (tonic, mode), (numerator, denominator) = frame.key, frame.time_signature
    spelling = key_spelling(frame.key)
    for tick, pitch, duration in notes:
        part.insert(frame.lead + tick / frame.resolution,
                    note.Note(_spelled(pitch, spelling), quarterLength=duration / frame.resolution))
    overlapping = any(b[0] < a[0] + a[2] for a, b in zip(sorted(notes), sorted(notes)[1:]))
    if overlapping:
        chords = part.chordify()
        part = part_class()
        part.partName = name
        for element in chords.flatten().notesAndRests:
            part.insert(element.offset, element)
    time = frame.lead
    for element in sorted(part.notesAndRests, key=lambda element: element.offset):
        if element.offset > time:
            part.insert(time, note.Rest(quarterLength=element.offset - time))
        time = max(time, element.offset + element.quarterLength)
    if time < frame.end:
        part.insert(time, note.Rest(quarterLength=frame.end - time))
    if clef is not None:
        part.insert(0, clef)
    part.insert(0, m21key.Key(music21_name(tonic), mode))
    part.insert(0, meter.TimeSignature(f'{numerator}/{denominator}'))
    part.makeNotation(inPlace=True)
    if frame.lead:
        _make_anacrusis(part, frame.lead)
    return part


def _make_anacrusis(part, lead):
    """A part whose notes start ``lead`` quarter notes into its first measure → that measure an anacrusis
    (numbered 0, its number not shown, its notes from offset 0, ``paddingLeft`` = ``lead``), the measures after
    it ``lead`` earlier and numbered from 1."""
    from music21 import stream
    measures = list(part.getElementsByClass('Measure'))
    first = measures[0]
    for element in list(first.notesAndRests):
        first.setElementOffset(element, element.offset - lead)
    first.paddingLeft = lead
    first.showNumber = stream.enums.ShowNumber.NEVER
    for measure in measures:
        measure.number -= 1
        if measure is not first:
            part.setElementOffset(measure, measure.offset - lead)


def time_signature_of(steps_per_bar, steps_per_quarter=4):
    """Steps in a bar → (numerator, denominator): quarters where they are whole (16 → 4/4), else eighths
    (6 → 3/8), else sixteenths."""
    for denominator in (4, 8, 16):
        beats = steps_per_bar * denominator / (4 * steps_per_quarter)
        if beats == int(beats):
            return int(beats), denominator
    return int(steps_per_bar), 4 * steps_per_quarter


def piece_key(voices):
    """{name: notes} → the key of all the notes ('Bb', 'major'), each pitch class weighed by its duration."""
    histogram = np.zeros(12)
    for notes in voices.values():
        for _, pitch, duration in notes:
            histogram[pitch % 12] += duration
    return find_key(histogram) if histogram.any() else ('C', 'major')


def write_musicxml(voices, resolution, path, title='', time_signature=(4, 4), key=None, pickup_ticks=0):
    """{voice name: [(tick, pitch, duration)]} → a MusicXML file at ``path`` (atomically), one part per voice;
    a single voice called 'piano' becomes a grand staff. ``key``: ('C', 'minor'), or None to find it;
    ``pickup_ticks``: length of a short first bar, an anacrusis (0: the first bar is whole)."""
    from music21 import clef, layout, metadata, stream
    bar = time_signature[0] * 4 / time_signature[1]                       # quarter notes
    lead = (bar - pickup_ticks / resolution) % bar if pickup_ticks else 0.0
    end = lead + max((tick + duration for notes in voices.values() for tick, _, duration in notes),
                     default=0) / resolution
    frame = Frame(resolution, piece_key(voices) if key is None else spelled_key(key), time_signature, lead,
                  max(bar, -(-end // bar) * bar))
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
