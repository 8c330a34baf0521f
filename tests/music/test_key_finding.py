"""bach2.music.key_finding: Krumhansl–Schmuckler keys, the journal's pitch counter, shift to C, and keys
named and spelled as musicians write them (at most seven accidentals: B♭ major, not A♯ major).

Histograms are 12 bins, C first, in sounding steps (any unit works: only the shape matters).
"""
import numpy as np
import pytest

from bach2.data.prepare import piece_key
from bach2.midi_to_time_series import midi_to_time_series
from bach2.music.key_finding import (MAJOR_TONICS, MINOR_TONICS, MODES, PROFILES, find_key, find_key_by_pitch_count,
                                     key_correlations, key_name, key_of, key_profiles, key_signature, key_spelling,
                                     pitch_class_histogram, semitones_to_c, spelled_key, tonic_class)
from bach2.music.pitch_names import PITCH_CLASS_NAMES, pitch_class_of

#                   C  C# D  D# E  F  F# G  G# A  A# B
C_MAJOR = np.array([5, 0, 2, 0, 4, 2, 0, 4, 0, 2, 0, 1], float)      # scale, tonic triad heavier
A_HARMONIC_MINOR = np.array([4, 0, 2, 0, 4, 2, 0, 0, 2, 5, 0, 2], float)  # A B C D E F G#, A C E heavier
PROFILE_SETS = sorted(PROFILES)


@pytest.mark.parametrize('profiles', PROFILE_SETS)
def test_c_major(profiles):
    assert find_key(C_MAJOR, profiles) == ('C', 'major')


@pytest.mark.parametrize('profiles', PROFILE_SETS)
def test_a_harmonic_minor(profiles):
    assert find_key(A_HARMONIC_MINOR, profiles) == ('A', 'minor')


def test_default_profiles_are_aarden_essen():
    assert set(PROFILE_SETS) == {'aarden_essen', 'krumhansl_kessler'}
    np.testing.assert_array_equal(key_correlations(C_MAJOR), key_correlations(C_MAJOR, 'aarden_essen'))


@pytest.mark.parametrize('profiles', PROFILE_SETS)
@pytest.mark.parametrize('histogram, tonic, mode', [(C_MAJOR, 0, 'major'), (A_HARMONIC_MINOR, 9, 'minor')])
def test_rotating_the_histogram_moves_the_tonic(profiles, histogram, tonic, mode):
    for k in range(12):
        assert find_key(np.roll(histogram, k), profiles) == key_of(tonic + k, mode)


def test_key_profiles_rows():
    profiles = key_profiles('krumhansl_kessler')
    assert profiles.shape == (24, 12)
    major, minor = PROFILES['krumhansl_kessler']
    np.testing.assert_array_equal(profiles[0], major)                  # C major
    np.testing.assert_array_equal(profiles[2 * 9 + 1], np.roll(minor, 9))  # A minor
    assert profiles[2 * 9 + 1][9] == minor[0]                          # its tonic weight sits on A


def test_correlation_of_a_profile_with_itself_is_one():
    profiles = key_profiles('aarden_essen')
    correlations = key_correlations(profiles[2 * 7])                   # G major's own profile
    assert correlations[2 * 7] == pytest.approx(1.0)
    assert np.all(correlations <= 1.0 + 1e-12)


@pytest.mark.parametrize('histogram', [np.ones(12), np.zeros(12)])
def test_flat_histogram_does_not_crash(histogram):
    assert key_correlations(histogram).tolist() == [0.0] * 24
    tonic, mode = find_key(histogram)
    assert tonic in MAJOR_TONICS + MINOR_TONICS and mode in MODES
    tonic, mode = find_key_by_pitch_count(histogram)
    assert tonic in MAJOR_TONICS + MINOR_TONICS and mode in MODES


def test_pitch_count_c_major_and_a_minor():
    assert find_key_by_pitch_count(C_MAJOR) == ('C', 'major')
    assert find_key_by_pitch_count(A_HARMONIC_MINOR) == ('A', 'minor')


@pytest.mark.parametrize('histogram, tonic, mode', [(C_MAJOR, 0, 'major'), (A_HARMONIC_MINOR, 9, 'minor')])
def test_pitch_count_rotation(histogram, tonic, mode):
    for k in range(12):
        assert find_key_by_pitch_count(np.roll(histogram, k)) == key_of(tonic + k, mode)


def test_pitch_count_ties_go_to_the_heavier_tonic():
    # C D E F G A B plus G#: C major and A harmonic minor both cover all but one tone.
    #                    C  C# D  D# E  F  F# G  G# A  A# B
    histogram = np.array([1, 0, 1, 0, 1, 1, 0, 1, 1, 2, 0, 1], float)   # covered: 8 each; tonic A 2 > C 1
    assert find_key_by_pitch_count(histogram) == ('A', 'minor')
    histogram[0] = 3                                                      # covered: 10 each; tonic C 3 > A 2
    assert find_key_by_pitch_count(histogram) == ('C', 'major')


def test_pitch_class_histogram_folds_octaves():
    roll = np.zeros((3, 128), bool)
    roll[0, 60] = roll[1, 60] = roll[2, 72] = True     # C4 twice, C5 once
    roll[0, 67] = True                                 # G4
    roll[1, 127] = True                                # G9: the last column, a partial octave
    histogram = pitch_class_histogram(roll)
    assert histogram.shape == (12,)
    assert histogram[0] == 3 and histogram[7] == 2 and histogram.sum() == 5


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('tonic', PITCH_CLASS_NAMES + MAJOR_TONICS + MINOR_TONICS)
def test_semitones_to_c(tonic, mode):
    shift = semitones_to_c((tonic, mode))
    assert -5 <= shift <= 6
    assert (pitch_class_of(tonic) + shift) % 12 == 0


def test_semitones_to_c_by_hand():
    assert semitones_to_c(('C', 'major')) == 0
    assert semitones_to_c(('Bb', 'major')) == semitones_to_c(('A#', 'major')) == 2
    assert semitones_to_c(('G', 'major')) == 5          # G up a fourth
    assert semitones_to_c(('F', 'minor')) == -5         # F down a fourth
    assert semitones_to_c(('F#', 'major')) == 6
    assert semitones_to_c(('B', 'minor')) == 1


def test_key_name():
    assert key_name(('F#', 'minor')) == 'F# minor'


def test_a_b_flat_tune_is_in_b_flat_major_with_two_flats():
    #                    C  C# D  D# E  F  F# G  A♭ A  B♭ B     (Bb F D Bb Eb D C Bb F: the fugue example)
    histogram = np.array([1, 0, 2, 0, 0, 2, 0, 0, 0, 0, 4, 0], float)
    histogram[3] = 1
    assert find_key(histogram) == ('Bb', 'major') and key_name(find_key(histogram)) == 'Bb major'
    assert key_signature(find_key(histogram)) == -2


@pytest.mark.parametrize('profiles', PROFILE_SETS)
def test_every_found_key_has_at_most_seven_accidentals_and_the_fewer_of_two_spellings(profiles):
    for k in range(12):
        for histogram in (C_MAJOR, A_HARMONIC_MINOR):
            key = find_key(np.roll(histogram, k), profiles)
            assert abs(key_signature(key)) <= 6
            other = (PITCH_CLASS_NAMES[tonic_class(key)], key[1])          # the journal's sharp name
            assert abs(key_signature(key)) <= abs(key_signature(other))
    assert find_key(np.roll(A_HARMONIC_MINOR, -4)) == ('F', 'minor')                 # not E# minor
    assert [key_of(t, 'major')[0] for t in (1, 3, 6, 8, 10)] == ['Db', 'Eb', 'F#', 'Ab', 'Bb']
    assert [key_of(t, 'minor')[0] for t in (1, 3, 6, 8, 10)] == ['C#', 'Eb', 'F#', 'G#', 'Bb']


@pytest.mark.parametrize('key, spelled', [(('A#', 'major'), ('Bb', 'major')), (('D#', 'major'), ('Eb', 'major')),
                                          (('Gb', 'major'), ('Gb', 'major')), (('D#', 'minor'), ('D#', 'minor')),
                                          (('A#', 'minor'), ('A#', 'minor')), (('Fb', 'major'), ('E', 'major')),
                                          (('Cs', 'minor'), ('C#', 'minor')), (('B♭', 'minor'), ('Bb', 'minor'))])
def test_a_key_keeps_its_spelling_up_to_seven_accidentals(key, spelled):
    assert spelled_key(key) == spelled


@pytest.mark.parametrize('key, names', [
    (('C', 'major'), 'C C# D Eb E F F# G G# A Bb B'),
    (('F', 'minor'), 'C Db D Eb E F Gb G Ab A Bb B'),       # the leading tone E and the raised sixth D natural
    (('D', 'minor'), 'C C# D Eb E F F# G G# A Bb B'),       # C♯, the leading tone, not D♭
    (('Bb', 'major'), 'C Db D Eb E F F# G Ab A Bb B'),
    (('A#', 'major'), 'C Db D Eb E F F# G Ab A Bb B'),      # respelled B♭ major
    (('E', 'major'), 'C C# D D# E F F# G G# A A# B'),
    (('Gb', 'major'), 'C Db D Eb E F Gb G Ab A Bb Cb'),
    (('G#', 'minor'), 'C C# D D# E E# F# F## G# A A# B'),   # its raised sixth and seventh
])
def test_key_spelling(key, names):
    assert ' '.join(key_spelling(key)) == names


# ---------------------------------------------------------------- real Bach (../shared/data)

def shared_files(bach_keyboard_files, prefix):
    files = [path for path in bach_keyboard_files if path.name.startswith(prefix)]
    if not files:
        pytest.skip(f'no {prefix}* file in the shared corpus')
    return files


@pytest.mark.parametrize('prefix, key', [
    ('bwv846', ('C', 'major')),    # WTC I prelude and fugue 1 (manifest: "Praeludium I", "Fuga I")
    ('bwv871', ('C', 'minor')),    # WTC II prelude and fugue 2 (WTC I no. 2, BWV 847, is not in the corpus)
    ('bwv849', ('C#', 'minor')),   # WTC I prelude and fugue 4
])
def test_piece_key_of_real_bach(bach_keyboard_files, prefix, key):
    for path in shared_files(bach_keyboard_files, prefix):
        assert piece_key(midi_to_time_series(path)) == key, path.name


def test_piece_key_agrees_with_most_key_signatures(bach_keyboard_files):
    """The files' own key signatures: ≥ 90 % agree (the misses are mostly relative major/minor mix-ups)."""
    agree = total = 0
    for path in bach_keyboard_files:
        piece = midi_to_time_series(path)
        if not piece.key_signatures:
            continue
        signature = piece.key_signatures[0][1]
        mode = 'minor' if signature.endswith('m') else 'major'
        expected = key_of(pitch_class_of(signature.rstrip('m')), mode)
        total += 1
        agree += piece_key(piece) == expected
    assert total > 100
    assert agree / total >= 0.9


@pytest.mark.parametrize('key, name', [(('Bb', 'minor'), 'Bbm'), (('A#', 'major'), 'Bb'), (('F#', 'minor'), 'F#m'),
                                       (('C', 'major'), 'C')])
def test_a_key_and_its_midi_key_signature_name_are_inverses(key, name):
    from bach2.music.key_finding import key_of_midi_name, midi_key_name, spelled_key
    assert midi_key_name(key) == name and key_of_midi_name(name) == spelled_key(key)
