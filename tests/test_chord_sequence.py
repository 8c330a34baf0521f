"""bach2.chord_sequence: chord vectors, chord naming, chord distance, chords of a MIDI file.

MIDI files here are at 96 ticks per quarter: one beat = 96 ticks = 4 steps of a 16th.
"""
import numpy as np
import pytest

from bach2.chord_sequence import (CHORD_NAMES, CHORD_VECTORS, NO_CHORD, QUALITIES, ROLE_WEIGHTS, chord_distance,
                                  chord_indices, chord_vector, extract_chord_sequence, find_chord, get_chord,
                                  transpose_chord_indices)
from bach2.midi_to_time_series import midi_to_time_series
from bach2.music.pitch_names import PITCH_CLASS_NAMES
from midi_builders import off, on, write_midi


def chord_index(root, quality):
    return CHORD_NAMES.index((root, quality))


# ---------------------------------------------------------------- chord vectors

def test_120_unit_vectors_in_root_then_quality_order():
    assert CHORD_VECTORS.shape == (120, 12)
    assert CHORD_VECTORS.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(CHORD_VECTORS, axis=1), 1.0, rtol=1e-6)
    qualities = list(QUALITIES)
    assert len(qualities) == 10
    for i, (root, quality) in enumerate(CHORD_NAMES):
        assert root == PITCH_CLASS_NAMES[i // 10]
        assert quality == qualities[i % 10]


def test_dominant_seventh_on_c_by_hand():
    # C 1.0, E 0.8, G 0.6, Bb 0.5; norm = sqrt(1 + .64 + .36 + .25) = 1.5
    expected = np.zeros(12)
    expected[[0, 4, 7, 10]] = [1 / 1.5, 0.8 / 1.5, 0.6 / 1.5, 0.5 / 1.5]
    np.testing.assert_allclose(chord_vector('C', 'dominant'), expected, rtol=1e-6)
    np.testing.assert_allclose(CHORD_VECTORS[chord_index('C', 'dominant')], expected, rtol=1e-6)


def test_root_has_the_largest_weight_in_every_chord():
    for (root, _), vector in zip(CHORD_NAMES, CHORD_VECTORS):
        root_entry = vector[PITCH_CLASS_NAMES.index(root)]
        assert root_entry == vector.max()
        assert np.count_nonzero(vector == root_entry) == 1


def test_role_weights_are_the_same_in_every_chord():
    """Entry / root entry is the role's weight, for every interval of every quality and root."""
    for i, (root, quality) in enumerate(CHORD_NAMES):
        vector = CHORD_VECTORS[i]
        root_class = PITCH_CLASS_NAMES.index(root)
        roles = QUALITIES[quality]
        for interval in range(12):
            ratio = vector[(root_class + interval) % 12] / vector[root_class]
            expected = ROLE_WEIGHTS[roles[interval]] if interval in roles else 0.0
            assert ratio == pytest.approx(expected, abs=1e-6), (root, quality, interval)
    assert ROLE_WEIGHTS['root'] == 1.0
    assert ROLE_WEIGHTS['root'] > ROLE_WEIGHTS['third'] > ROLE_WEIGHTS['fifth'] > ROLE_WEIGHTS['seventh'] \
        > ROLE_WEIGHTS['colour'] > 0


def test_every_root_is_a_rotation_of_c():
    for quality in QUALITIES:
        on_c = CHORD_VECTORS[chord_index('C', quality)]
        for shift, root in enumerate(PITCH_CLASS_NAMES):
            np.testing.assert_array_equal(CHORD_VECTORS[chord_index(root, quality)], np.roll(on_c, shift))


# ---------------------------------------------------------------- find_chord

@pytest.mark.parametrize('pitches, expected', [
    ([51, 54, 58], ('D#', 'minor')),                  # D#3 F#3 A#3: the journal's example
    ([60, 64, 67], ('C', 'major')),                   # root position
    ([64, 67, 72], ('C', 'major')),                   # first inversion
    ([67, 72, 76], ('C', 'major')),                   # second inversion
    ([52, 60, 67, 72, 79], ('C', 'major')),           # first inversion, spread over three octaves
    ([60, 64, 67, 70], ('C', 'dominant')),            # C7
    ([57, 60, 64, 67], ('A', 'minor')),               # A C E G: Am7, not C major (A in the bass)
    ([59, 62, 65, 68], ('B', 'minor_diminished')),    # B D F Ab: the bass picks the root of the symmetric dim7
    ([60, 64, 68], ('C', 'major_augmented')),         # C E G#
    ([59, 62, 65, 69], ('B', 'minor_half_diminished')),  # B D F A
    ([60, 63, 67, 71], ('C', 'minor_harmonic')),      # C Eb G B
])
def test_find_chord(pitches, expected):
    assert find_chord(pitches) == expected


def test_find_chord_ignores_the_order_of_the_pitches():
    assert find_chord([67, 60, 64]) == find_chord([60, 64, 67]) == ('C', 'major')


def test_find_chord_of_nothing_is_none():
    assert find_chord([]) is None


# ---------------------------------------------------------------- get_chord

def test_get_chord_12_dimensional():
    profile = np.zeros(12)
    profile[[2, 6, 9]] = 1.0                          # D F# A
    assert get_chord(profile) == ('D', 'major')


def test_get_chord_61_dimensional_column_j_is_midi_24_plus_j():
    vector = np.zeros(61)
    for pitch in (43, 59, 62, 65):                    # G2 B3 D4 F4: G7
        vector[pitch - 24] = 1.0
    assert get_chord(vector) == ('G', 'dominant')


def test_get_chord_61_dimensional_equals_the_folded_12_dimensional():
    rng = np.random.default_rng(0)
    for _ in range(200):
        vector = rng.random(61) * (rng.random(61) < 0.15)     # a few sounding pitches
        if not vector.any():
            continue
        folded = np.zeros(12)
        for j, value in enumerate(vector):
            folded[(24 + j) % 12] += value
        assert get_chord(vector) == get_chord(folded)


def test_get_chord_uses_lowest_pitch_for_the_columns():
    vector = np.zeros(61)
    vector[[0, 3, 7]] = 1.0                           # with column 0 = A0 (MIDI 21): A C E
    assert get_chord(vector, lowest_pitch=21) == ('A', 'minor')
    assert get_chord(vector) == ('C', 'minor')        # with column 0 = C: C D# G


@pytest.mark.parametrize('size', [12, 61])
def test_get_chord_of_silence_is_none(size):
    assert get_chord(np.zeros(size)) is None


def test_chord_indices_marks_silent_rows():
    profiles = np.zeros((3, 12))
    profiles[0, [0, 4, 7]] = 1
    profiles[2, [7, 11, 2, 5]] = 1
    assert chord_indices(profiles).tolist() == [chord_index('C', 'major'), NO_CHORD, chord_index('G', 'dominant')]


# ---------------------------------------------------------------- chord_distance

def test_chord_distance_identical_is_zero():
    vector = CHORD_VECTORS[chord_index('C', 'major')]
    assert chord_distance(vector, vector) == pytest.approx(0.0, abs=1e-6)
    assert chord_distance(vector, 3 * vector) == pytest.approx(0.0, abs=1e-6)   # scale does not matter


def test_chord_distance_orthogonal_is_one_half():
    c_major = np.zeros(12)
    c_major[[0, 4, 7]] = 1
    f_sharp_major = np.zeros(12)
    f_sharp_major[[6, 10, 1]] = 1                     # no pitch class in common
    assert chord_distance(c_major, f_sharp_major) == pytest.approx(0.5)


def test_chord_distance_opposite_is_one():
    vector = np.arange(12.0)
    assert chord_distance(vector, -vector) == pytest.approx(1.0)


def test_chord_distance_is_symmetric_and_in_unit_interval():
    rng = np.random.default_rng(1)
    for _ in range(100):
        a, b = rng.normal(size=12), rng.normal(size=12)
        distance = chord_distance(a, b)
        assert 0.0 <= distance <= 1.0
        assert distance == pytest.approx(chord_distance(b, a))
    # The chord vectors are non-negative: their distances stay within [0, 0.5].
    for a in CHORD_VECTORS[::7]:
        for b in CHORD_VECTORS[::11]:
            assert 0.0 <= chord_distance(a, b) <= 0.5 + 1e-9


def test_chord_distance_near_chords_are_closer():
    c_major, a_minor, f_sharp_major = (CHORD_VECTORS[chord_index(*name)] for name in
                                       [('C', 'major'), ('A', 'minor'), ('F#', 'major')])
    assert chord_distance(c_major, a_minor) < chord_distance(c_major, f_sharp_major)


# ---------------------------------------------------------------- transpose_chord_indices

def test_transpose_moves_roots_and_keeps_quality():
    indices = [chord_index('C', 'major'), chord_index('A#', 'minor'), NO_CHORD, chord_index('B', 'dominant')]
    moved = transpose_chord_indices(indices, 2)
    assert moved.dtype == np.int16
    assert moved.tolist() == [chord_index('D', 'major'), chord_index('C', 'minor'), NO_CHORD,
                              chord_index('C#', 'dominant')]
    assert transpose_chord_indices(indices, -1).tolist() == [
        chord_index('B', 'major'), chord_index('A', 'minor'), NO_CHORD, chord_index('A#', 'dominant')]


def test_transpose_by_an_octave_is_identity():
    indices = np.array(list(range(120)) + [NO_CHORD], np.int16)
    np.testing.assert_array_equal(transpose_chord_indices(indices, 12), indices)
    np.testing.assert_array_equal(transpose_chord_indices(indices, -12), indices)
    for k in range(12):
        np.testing.assert_array_equal(transpose_chord_indices(transpose_chord_indices(indices, k), -k), indices)


def test_transposing_indices_equals_naming_the_transposed_profiles():
    rng = np.random.default_rng(2)
    profiles = rng.random((50, 12))
    for k in range(12):
        np.testing.assert_array_equal(chord_indices(np.roll(profiles, k, axis=1)),
                                      transpose_chord_indices(chord_indices(profiles), k))


# ---------------------------------------------------------------- extract_chord_sequence

def test_extract_chord_sequence_from_midi(tmp_path):
    c_major = [48, 60, 64, 67]                        # C3 C4 E4 G4: two quarter notes (192 ticks)
    g_seven = [43, 59, 62, 65]                        # G2 B3 D4 F4: one quarter note after a silent one
    track = ([on(p) for p in c_major] + [off(c_major[0], 192)] + [off(p) for p in c_major[1:]]
             + [on(g_seven[0], 96)] + [on(p) for p in g_seven[1:]]
             + [off(g_seven[0], 96)] + [off(p) for p in g_seven[1:]])
    path = write_midi(tmp_path / 'cadence.mid', [track])
    expected = [('C', 'major'), ('C', 'major'), None, ('G', 'dominant')]
    assert extract_chord_sequence(path) == expected
    assert extract_chord_sequence(str(path)) == expected
    assert extract_chord_sequence(midi_to_time_series(path)) == expected


def test_passing_note_inside_a_beat_keeps_the_chord(tmp_path):
    # C major held for the beat; a passing D4 16th at tick 48 (the third 16th of the beat).
    track = [on(48), on(60), on(64), on(67),
             on(62, 48), off(62, 24),
             off(48, 24), off(60), off(64), off(67)]
    path = write_midi(tmp_path / 'passing.mid', [track])
    assert extract_chord_sequence(path) == [('C', 'major')]


def test_scale_run_over_a_held_chord_keeps_the_chord(tmp_path):
    # Beat 1: C3 and G3 held, soprano runs E5 F5 G5 A5 in 16ths; beat 2: an F major chord.
    track = [on(48), on(55), on(76), off(76, 24), on(77), off(77, 24), on(79), off(79, 24), on(81), off(81, 24),
             off(48), off(55),
             on(53), on(57), on(60), off(53, 96), off(57), off(60)]
    path = write_midi(tmp_path / 'run.mid', [track])
    assert extract_chord_sequence(path) == [('C', 'major'), ('F', 'major')]


def test_major_third_is_a_major_chord():
    # music21 calls C–E an incomplete C major triad; augmented triads are rare in Bach.
    assert find_chord([60, 64]) == ('C', 'major')
