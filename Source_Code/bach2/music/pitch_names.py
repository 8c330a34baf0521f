"""Pitch names as python-midi spelled them: ``C_0 = 0``, ``Cs_0 = Db_0 = 1``,
``C_1 = 12`` … ``G_10 = 127`` (MIDI note numbers, octave 0 starts at MIDI 0).

``name_to_pitch`` and ``pitch_to_name`` are inverses; every name is also a
module attribute (``pitch_names.Cs_4 == 49``), as in python-midi.
"""
import re

SHARP_NAMES = ('C', 'Cs', 'D', 'Ds', 'E', 'F', 'Fs', 'G', 'Gs', 'A', 'As', 'B')
FLAT_NAMES = ('C', 'Db', 'D', 'Eb', 'E', 'F', 'Gb', 'G', 'Ab', 'A', 'Bb', 'B')
#: Root names used for chords and keys ('D#', not 'Ds'), as the journal printed them.
PITCH_CLASS_NAMES = ('C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B')

_NAME_PATTERN = re.compile(r'^([A-Ga-g])(s|b|#)?_?(-?\d+)$')
_STEP = {'C': 0, 'D': 2, 'E': 4, 'F': 5, 'G': 7, 'A': 9, 'B': 11}


def name_to_pitch(name):
    """'Cs_4' (also 'C#4', 'Db_4') → MIDI note number 49; ValueError if not a pitch 0–127."""
    match = _NAME_PATTERN.match(name.strip())
    if not match:
        raise ValueError(f"not a pitch name: {name!r} (expected e.g. 'C_4', 'Cs_4', 'Db_4')")
    letter, accidental, octave = match.groups()
    pitch = 12 * int(octave) + _STEP[letter.upper()] + {None: 0, 's': 1, '#': 1, 'b': -1}[accidental]
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


for _pitch in range(128):
    globals()[pitch_to_name(_pitch)] = _pitch
    globals()[pitch_to_name(_pitch, flats=True)] = _pitch
del _pitch
