"""bach2.measure.music_statistics: statistics of hand-made pieces whose true values are known, and distances."""
import numpy as np
import pytest

from bach2.chord_sequence import CHORD_NAMES, NO_CHORD
from bach2.measure.music_statistics import chord_transitions, compare, format_table, music_statistics, total_variation

LOW = 24          # column j = MIDI 24 + j
C4, E4, G4, F4, A4, C5 = 60, 64, 67, 65, 69, 72


def matrix(steps):
    """[[MIDI pitches] per 16th] → ``T × 61`` pitch matrix."""
    m = np.zeros((len(steps), 61), np.uint8)
    for t, pitches in enumerate(steps):
        m[t, [p - LOW for p in pitches]] = 1
    return m


def test_a_held_c_major_triad():
    stats = music_statistics([matrix([[C4, E4, G4]] * 8)], LOW)           # two quarter notes
    assert stats['polyphony'] == 3.0
    assert stats['note_density'] == 3 / 2                                  # three onsets in two quarters
    assert stats['repetition'] == 1.0                                      # every step equals the one before
    assert stats['in_key'] == 1.0 and stats['empty_beats'] == 0.0
    assert stats['pitch_range'] == 7
    assert stats['chord_transitions'] == {}                                # the chord never changes
    histogram = np.array(stats['pitch_class_histogram'])
    np.testing.assert_allclose(histogram[[0, 4, 7]], 1 / 3)
    assert histogram.sum() == pytest.approx(1.0)


def test_silence_repeated_notes_and_a_chord_change():
    steps = [[C4, E4, G4]] * 4 + [[]] * 4 + [[F4, A4, C5]] * 2 + [[C4]] + [[C4]]   # I, silence, IV, C
    stats = music_statistics([matrix(steps)], LOW)
    assert stats['empty_beats'] == pytest.approx(1 / 3)                    # quarter 2 of 3 is silent
    assert stats['note_density'] == pytest.approx((3 + 3 + 1) / 3)
    assert stats['polyphony'] == pytest.approx((12 + 6 + 2) / 8)
    assert stats['repetition'] == pytest.approx(8 / 11)                  # 3 + 3 + 1 + 1 equal neighbours
    assert stats['chord_transitions'] == {'major→major +5': 1.0}           # C major → F major across the silence


def test_note_durations_read_the_onset_plane():
    """C4 struck on every quarter for a bar and E4 held for it: legato, two 16-step notes; with the onset
    plane, four quarter notes and one whole note — five onsets, not two."""
    piece = matrix([[C4, E4]] * 16)
    struck = np.zeros_like(piece)
    struck[0:16:4, C4 - LOW] = 1
    struck[0, E4 - LOW] = 1
    legato, played = music_statistics([piece], LOW), music_statistics([piece], LOW, onsets=[struck])
    assert legato['note_durations'] == {'13-16': 1.0} and legato['note_density'] == 2 / 4
    assert played['note_durations'] == {'4': 0.8, '13-16': 0.2} and played['note_density'] == 5 / 4
    assert total_variation(played['note_durations'], legato['note_durations']) == pytest.approx(0.8)


def test_pieces_are_pooled_not_concatenated():
    a, b = matrix([[C4]] * 4), matrix([[G4]] * 4)
    stats = music_statistics([a, b], LOW)
    assert stats['pieces'] == 2 and stats['steps'] == 8
    assert stats['repetition'] == 1.0                                      # no pair crosses from a into b
    assert stats['pitch_range'] == 0


def test_chord_transitions_skip_silence_and_repeats():
    c_major, f_major = CHORD_NAMES.index(('C', 'major')), CHORD_NAMES.index(('F', 'major'))
    changes = chord_transitions([c_major, c_major, NO_CHORD, f_major, c_major])
    assert changes == {'major→major +5': 1, 'major→major +7': 1}


def test_total_variation_of_lists_and_dicts():
    assert total_variation([0.5, 0.5, 0], [0, 0.5, 0.5]) == pytest.approx(0.5)
    assert total_variation({'a': 1.0}, {'b': 1.0}) == pytest.approx(1.0)
    assert total_variation({'a': 0.3, 'b': 0.7}, {'a': 0.3, 'b': 0.7}) == 0.0


def test_compare_a_set_with_itself_gives_zero_distances_and_a_table():
    stats = music_statistics([matrix([[C4, E4, G4]] * 4 + [[F4, A4, C5]] * 4)], LOW)
    rows = compare(stats, stats)
    assert {name for name, *_ in rows} >= {'pitch_class_histogram', 'chord_transitions', 'polyphony', 'in_key'}
    assert all(distance == 0 for *_, distance in rows)
    table = format_table(rows)
    assert table.splitlines()[0].split() == ['statistic', 'pieces', 'corpus', 'distance']
    assert len(table.splitlines()) == len(rows) + 1


def test_sounding_notes_and_onsets_over_the_bar():
    """A bar of 4/4 at 16ths: a triad struck on beat 1, held; D4 alone struck on beat 3 and again an 8th later."""
    from bach2.music.metre import regular_positions
    D4 = 62
    steps = [[C4, E4, G4]] * 8 + [[D4]] + [[]] + [[D4]] * 6
    stats = music_statistics([matrix(steps)], LOW, positions=[regular_positions(16, 16)])
    assert stats['sounding_notes'] == {'3': 8 / 16, '1': 7 / 16, '0': 1 / 16}
    assert stats['onset_positions'] == {'0/16': 3 / 5, '8/16': 1 / 5, '10/16': 1 / 5}
    assert music_statistics([matrix(steps)], LOW)['onset_positions'] == {}      # no bar positions, no onsets
    crowded = music_statistics([matrix([list(range(60, 68))] * 2)], LOW)        # 8 notes: pooled as '6+'
    assert crowded['sounding_notes'] == {'6+': 1.0}
    # compare leaves out what one side lacks
    names = [row[0] for row in compare(music_statistics([matrix(steps)], LOW), stats)]
    assert 'sounding_notes' in names and 'onset_positions' not in names
