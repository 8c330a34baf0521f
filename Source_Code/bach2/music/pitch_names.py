"""Pitch names as python-midi spelled them: ``C_0 = 0``, ``Cs_0 = Db_0 = 1``,
``C_1 = 12`` … ``G_10 = 127`` (MIDI note numbers, octave 0 starts at MIDI 0).

``name_to_pitch`` and ``pitch_to_name`` are inverses; every name is also a
module attribute (``pitch_names.Cs_4 == 49``), as in python-midi.
:func:`parse_pitch_name` also reads scientific pitch notation (``C4`` = middle C
= MIDI 60, one octave above python-midi's ``C_4``), as ``bach2 fugue`` subjects are written.
:func:`fifths_position` and :func:`fifths_name` place a spelled pitch class on the line of fifths
(… B♭ −2, F −1, C 0, G 1 … F♯ 6 …), on which keys choose their spellings (:mod:`bach2.music.key_finding`).
"""
import re

SHARP_NAMES = ('C', 'Cs', 'D', 'Ds', 'E', 'F', 'Fs', 'G', 'Gs', 'A', 'As', 'B')
FLAT_NAMES = ('C', 'Db', 'D', 'Eb', 'E', 'F', 'Gb', 'G', 'Ab', 'A', 'Bb', 'B')
#: Root names of the journal's chord vocabulary ('D#', not 'Ds'), as it printed them (keys: key_finding.key_of).
PITCH_CLASS_NAMES = ('C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B')

_ACCIDENTAL = r'(?P<accidental>s|b|#|♯|♭)?'
_NAME_PATTERN = re.compile(r'^(?P<letter>[A-Ga-g])' + _ACCIDENTAL + r'_?(?P<octave>-?\d+)$')
_SCIENTIFIC_PATTERN = re.compile(r'^(?P<letter>[A-Ga-g])' + _ACCIDENTAL + r'(?P<octave>-?\d)$')
_CLASS_PATTERN = re.compile(r'^(?P<letter>[A-Ga-g])' + _ACCIDENTAL + '$')
_LETTER_FIFTHS = 'FCGDAEB'
_STEP = {'C': 0, 'D': 2, 'E': 4, 'F': 5, 'G': 7, 'A': 9, 'B': 11}
_ALTERATION = {None: 0, 's': 1, '#': 1, '♯': 1, 'b': -1, '♭': -1}


def parse_pitch_name(name, scientific=False):
    """A pitch name → its MIDI note number, not checked against 0–127; None if ``name`` is not one.

    python-midi names (``scientific=False``): 'Cs_4', 'C#4', 'Db_4', 'D♭4' → 49 (octave 0 from MIDI 0).
    Scientific pitch notation (``scientific=True``): a letter (either case), an optional sharp
    ('#', 's', '♯') or flat ('b', '♭') and a one-digit octave, no underscore: 'C4' → 60, 'Eb4' → 63
    (octave −1 from MIDI 0).
    """
    match = (_SCIENTIFIC_PATTERN if scientific else _NAME_PATTERN).match(name.strip())
    if not match:
        return None
    octave = int(match['octave']) + (1 if scientific else 0)
    return 12 * octave + _STEP[match['letter'].upper()] + _ALTERATION[match['accidental']]


def name_to_pitch(name):
    """'Cs_4' (also 'C#4', 'Db_4') → MIDI note number 49; ValueError if not a pitch 0–127."""
    pitch = parse_pitch_name(name)
    if pitch is None:
        raise ValueError(f"not a pitch name: {name!r} (expected e.g. 'C_4', 'Cs_4', 'Db_4')")
    if not 0 <= pitch <= 127:
        raise ValueError(f"pitch name {name!r} is MIDI {pitch}, outside 0–127")
    return pitch


def pitch_to_name(pitch, flats=False):
    """MIDI note number → python-midi name: 49 → 'Cs_4' ('Db_4' with ``flats=True``)."""
    pitch = int(pitch)
    if not 0 <= pitch <= 127:
        raise ValueError(f"MIDI pitch {pitch} is outside 0–127")
    names = FLAT_NAMES if flats else SHARP_NAMES
    return f'{names[pitch % 12]}_{pitch // 12}'


def pitch_class_of(name):
    """'D#', 'Eb', 'Ds' → 3; 'Cb' → 11."""
    return name_to_pitch(name.strip() + '_1') % 12


def fifths_position(name):
    """A pitch class spelled with at most one accidental → its place on the line of fifths: 'C' → 0, 'G' → 1,
    'F#' → 6, 'Bb' → −2, 'Cb' → −7; ValueError if it is not one."""
    match = _CLASS_PATTERN.match(name.strip())
    if not match:
        raise ValueError(f"not a pitch class: {name!r} (expected e.g. 'C', 'F#', 'Bb')")
    return _LETTER_FIFTHS.index(match['letter'].upper()) - 1 + 7 * _ALTERATION[match['accidental']]


def fifths_name(position):
    """A place on the line of fifths → its spelling: 0 → 'C', 6 → 'F#', −2 → 'Bb', 13 → 'F##'."""
    letter, alteration = _LETTER_FIFTHS[(position + 1) % 7], (position + 1) // 7
    return letter + ('#' * alteration if alteration > 0 else 'b' * -alteration)


def fifths_class(position):
    """A place on the line of fifths → its pitch class (0–11): 6 → 6 (F♯), −2 → 10 (B♭)."""
    return 7 * position % 12


for _pitch in range(128):
    globals()[pitch_to_name(_pitch)] = _pitch
    globals()[pitch_to_name(_pitch, flats=True)] = _pitch
del _pitch
