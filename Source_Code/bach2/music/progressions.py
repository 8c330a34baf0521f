"""Prescribed chord progressions, and how closely a pitch matrix follows one.

A progression is written in Roman numerals in a key — ``'i iv V i'`` in
``'D minor'``: upper case = major, lower case = minor, ``7`` after an upper-case
numeral = dominant seventh, ``o`` (or ``°``) = diminished, ``ø`` = half
diminished; ``b``/``#`` before the numeral lowers/raises its root. Degrees
follow the major scale in a major key and the natural minor scale in a minor
key, except that ``vii`` in minor is the leading tone (``VII`` the subtonic).

Agreement is measured per quarter note with stage 2's chord finder
(:func:`bach2.chord_sequence.beat_profiles`): the found chord agrees when root
and family (major, minor, dominant, diminished, augmented) equal the prescribed
chord's.
"""
import re

import numpy as np

from bach2.chord_sequence import CHORD_NAMES, CHORD_VECTORS, FAMILY, NO_CHORD, QUALITIES, beat_profiles, chord_indices
from bach2.music.key_finding import spelled_key, tonic_class
from bach2.time_series_to_pitch_matrix import LOWEST_PITCH, pitch_matrix_to_roll

NUMERALS = ('i', 'ii', 'iii', 'iv', 'v', 'vi', 'vii')
MAJOR_DEGREES = (0, 2, 4, 5, 7, 9, 11)
MINOR_DEGREES = (0, 2, 3, 5, 7, 8, 10)
_NUMERAL = re.compile(r'^([b#]?)(vii|iii|vi|iv|ii|v|i)(7|o7|o|°7|°|ø7|ø)?$', re.IGNORECASE)
_QUALITY_INDEX = {quality: i for i, quality in enumerate(QUALITIES)}


def parse_key(text):
    """'D minor', 'd', 'Bb major', 'F#' (capital: major, small: minor) → ('D', 'minor'), the tonic as written
    where the key has at most seven accidentals ('Gb major', 'D# minor'), else respelled ('A# major' → 'Bb')."""
    words = text.replace('-', ' ').split()
    error = ValueError(f"not a key: {text!r} (expected e.g. 'D minor' or 'Bb major')")
    if not words or len(words) > 2:
        raise error
    tonic = words[0]
    mode = words[1].lower() if len(words) == 2 else ('minor' if tonic[0].islower() else 'major')
    if mode not in ('major', 'minor'):
        raise error
    try:
        return spelled_key((tonic[0].upper() + tonic[1:], mode))
    except ValueError:
        raise error from None


def numeral_to_chord(numeral, key):
    """'V7' in ('D', 'minor') → chord index of ('A', 'dominant')."""
    match = _NUMERAL.match(numeral.strip())
    if not match:
        raise ValueError(f'not a Roman numeral: {numeral!r} (expected e.g. i, iv, V, V7, viio)')
    accidental, degree_text, suffix = match.groups()
    suffix = (suffix or '').replace('°', 'o')
    degree = NUMERALS.index(degree_text.lower())
    mode = key[1]
    steps = MINOR_DEGREES if mode == 'minor' else MAJOR_DEGREES
    offset = steps[degree] + {'': 0, 'b': -1, '#': 1}[accidental]
    if mode == 'minor' and degree_text == 'vii':
        offset += 1                                   # the leading tone
    major = degree_text.isupper()
    if suffix.startswith('o'):
        quality = 'minor_diminished'
    elif suffix.startswith('ø'):
        quality = 'minor_half_diminished'
    elif major:
        quality = 'dominant' if suffix == '7' else 'major'
    else:
        quality = 'minor'
    root = (tonic_class(key) + offset) % 12
    return root * len(QUALITIES) + _QUALITY_INDEX[quality]


def parse_progression(text, key):
    """'i iv V i' (spaces, commas or dashes between) in ``key`` → list of chord indices."""
    numerals = [word for word in re.split(r'[\s,–-]+', text.strip()) if word]
    if not numerals:
        raise ValueError('an empty chord progression')
    return [numeral_to_chord(numeral, parse_key(key) if isinstance(key, str) else key) for numeral in numerals]


def progression_steps(chords, n_steps, beats_per_chord=4, steps_per_beat=4):
    """Chord indices, each held ``beats_per_chord`` quarter notes and cycled → ``n_steps`` int16 chord per step."""
    per_step = np.repeat(np.asarray(chords, np.int16), beats_per_chord * steps_per_beat)
    return np.resize(per_step, n_steps).astype(np.int16)


def chord_agreement(pitch_matrix, step_chords, lowest_pitch=LOWEST_PITCH, steps_per_beat=4):
    """Share of quarter notes whose found chord has the prescribed root and family.

    ``pitch_matrix``: ``T × P``; ``step_chords``: ``T`` prescribed chord indices (NO_CHORD: not counted; the
    chord of a quarter is that of its first step). Silent quarters count as disagreeing.
    → {'agreement': fraction, 'quarters': counted, 'mean_chord_distance': journal's cost of profile vs chord}.
    """
    profiles = beat_profiles(pitch_matrix_to_roll(pitch_matrix, lowest_pitch), steps_per_beat)
    found = chord_indices(profiles)
    prescribed = np.asarray(step_chords)[::steps_per_beat][:len(found)]
    counted = prescribed != NO_CHORD
    if not counted.any():
        return {'agreement': float('nan'), 'quarters': 0, 'mean_chord_distance': float('nan')}
    same = [f != NO_CHORD and CHORD_NAMES[f][0] == CHORD_NAMES[p][0]
            and FAMILY[CHORD_NAMES[f][1]] == FAMILY[CHORD_NAMES[p][1]]
            for f, p in zip(found[counted], prescribed[counted])]
    norms = np.linalg.norm(profiles[counted], axis=1)
    cosine = np.einsum('ij,ij->i', profiles[counted], CHORD_VECTORS[prescribed[counted]]) / np.maximum(norms, 1e-12)
    distance = np.arccos(np.clip(np.where(norms > 0, cosine, 0.0), -1, 1)) / np.pi
    return {'agreement': float(np.mean(same)), 'quarters': int(counted.sum()),
            'mean_chord_distance': float(distance.mean())}
