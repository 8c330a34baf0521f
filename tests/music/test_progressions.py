"""bach2.music.progressions: keys and Roman numerals → chords, and chord agreement of a pitch matrix."""
import numpy as np
import pytest

from bach2.chord_sequence import CHORD_NAMES, NO_CHORD
from bach2.music.progressions import (chord_agreement, numeral_to_chord, parse_key, parse_progression,
                                      progression_steps)


def names(indices):
    return [CHORD_NAMES[i] for i in indices]


@pytest.mark.parametrize('text, key', [('D minor', ('D', 'minor')), ('d', ('D', 'minor')),
                                       ('Bb major', ('Bb', 'major')), ('F#', ('F#', 'major')), ('eb minor', ('Eb', 'minor')), ('bb', ('Bb', 'minor')),
                                       ('Gb major', ('Gb', 'major')), ('D# minor', ('D#', 'minor')),
                                       ('A# major', ('Bb', 'major')), ('E# major', ('F', 'major'))])
def test_parse_key(text, key):
    assert parse_key(text) == key


@pytest.mark.parametrize('text', ['', 'H major', 'C dorian', 'C major minor'])
def test_parse_key_refuses_nonsense(text):
    with pytest.raises(ValueError, match='not a key'):
        parse_key(text)


def test_minor_progression_with_dominant_and_leading_tone():
    assert names(parse_progression('i iv V7 i viio VII', 'D minor')) == [
        ('D', 'minor'), ('G', 'minor'), ('A', 'dominant'), ('D', 'minor'), ('C#', 'minor_diminished'), ('C', 'major')]


def test_major_progression_and_accidentals():
    assert names(parse_progression('I-vi-ii-V7, bVII', 'C major')) == [
        ('C', 'major'), ('A', 'minor'), ('D', 'minor'), ('G', 'dominant'), ('A#', 'major')]
    assert CHORD_NAMES[numeral_to_chord('iiø7', ('C', 'minor'))] == ('D', 'minor_half_diminished')


def test_flat_keys_give_the_same_chords_as_their_sharp_spellings():
    assert parse_progression('i iv V7 VI', 'Eb minor') == parse_progression('i iv V7 VI', ('D#', 'minor'))
    assert names(parse_progression('I IV V', 'Bb major')) == [('A#', 'major'), ('D#', 'major'), ('F', 'major')]


@pytest.mark.parametrize('text', ['', 'i iv X', 'V9'])
def test_bad_numerals_are_refused(text):
    with pytest.raises(ValueError):
        parse_progression(text, 'C major')


def test_progression_steps_hold_each_chord_a_bar_and_cycle():
    steps = progression_steps([3, 5], 40)
    assert steps.tolist() == [3] * 16 + [5] * 16 + [3] * 8


def triads(chords, voicing=(0, 4, 7)):
    """A 61-column pitch matrix holding each chord's root-position triad for one quarter (4 steps)."""
    matrix = np.zeros((4 * len(chords), 61), np.uint8)
    for q, index in enumerate(chords):
        root = CHORD_NAMES[index][0]
        root_pc = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'].index(root)
        for interval in voicing:
            matrix[4 * q:4 * q + 4, 24 + root_pc + interval] = 1       # MIDI 48 + …
    return matrix


def test_agreement_is_one_for_the_prescribed_triads_and_low_for_others():
    prescribed = parse_progression('I IV V I', 'C major')
    steps = progression_steps(prescribed, 16, beats_per_chord=1)
    exact = chord_agreement(triads(prescribed), steps)
    assert exact['agreement'] == 1.0 and exact['quarters'] == 4 and exact['mean_chord_distance'] < 0.2
    other = chord_agreement(triads(parse_progression('ii iii vi ii', 'C major'), voicing=(0, 3, 7)), steps)
    assert other['agreement'] == 0.0 and other['mean_chord_distance'] > exact['mean_chord_distance']


def test_silence_disagrees_and_no_chord_is_not_counted():
    steps = np.array([0] * 4 + [NO_CHORD] * 4, np.int16)
    result = chord_agreement(np.zeros((8, 61), np.uint8), steps)
    assert result == {'agreement': 0.0, 'quarters': 1, 'mean_chord_distance': 0.5}
