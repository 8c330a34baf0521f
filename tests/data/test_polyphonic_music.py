"""bach2.data.polyphonic_music: the four .mat benchmarks as prepared folders — 88 keys, published split, split.json."""
import json

import numpy as np
import pytest
import scipy.io

from bach2.chord_sequence import NO_CHORD
from bach2.common import CorpusError
from bach2.data.jsb_chorales import load_jsb_chorales, prepare_jsb_chorales, roll_chords
from bach2.data.polyphonic_music import BENCHMARKS, PUBLISHED_TEST_NLL, load_mat, prepare_polyphonic, sequence_roll
from bach2.data.training_set import load_training_set, piece_names, prepared_geometry, read_split
from bach2.measure.evaluate import load_pieces
from bach2.music.geometry import Geometry
from conftest import SHARED_DATA

POLYPHONIC = SHARED_DATA / 'polyphonic_music'
#: README table: split → (sequences, frames).
README_COUNTS = {'jsb': {'train': (229, 13807), 'valid': (76, 4602), 'test': (77, 4725)},
                 'musedata': {'train': (524, 245202), 'valid': (135, 82755), 'test': (124, 64339)},
                 'nottingham': {'train': (694, 176561), 'valid': (173, 45513), 'test': (170, 44463)},
                 'piano-midi': {'train': (87, 75911), 'valid': (12, 8540), 'test': (25, 19036)}}


def roll(length, *keys_per_step):
    """``length × 88`` uint8 roll with MIDI pitches ``keys_per_step[t]`` sounding at step t."""
    matrix = np.zeros((length, 88), np.uint8)
    for t, pitches in enumerate(keys_per_step):
        matrix[t, [p - 21 for p in pitches]] = 1
    return matrix


SMALL = {'train': [roll(4, [60, 64, 67], [60, 64, 67], [62], [43, 96]), roll(3, [48], [50, 53])],
         'valid': [roll(2, [55, 59, 62], [60])],
         'test': [roll(5, [57], [57, 60], [64], [21], [108])]}


def cells(matrices):
    """A MATLAB cell array (what ``loadmat`` gives back as a ``1 × n`` object array)."""
    array = np.empty((len(matrices),), object)
    for i, matrix in enumerate(matrices):
        array[i] = matrix
    return array


def write_mat(path, splits):
    scipy.io.savemat(path, {f'{split}data': cells(matrices) for split, matrices in splits.items()})
    return path


@pytest.fixture
def small_mat(tmp_path):
    return write_mat(tmp_path / 'small.mat', SMALL)


def need_shared_data():
    if not POLYPHONIC.is_dir():
        pytest.skip('../shared/data is absent (CI has it)')


def test_load_mat_gives_each_split_as_uint8_rolls(small_mat):
    rolls = load_mat(small_mat)
    assert list(rolls) == ['train', 'valid', 'test']
    for split, matrices in SMALL.items():
        assert len(rolls[split]) == len(matrices)
        for got, expected in zip(rolls[split], matrices):
            assert got.dtype == np.uint8
            np.testing.assert_array_equal(got, expected)


def test_float_zeros_and_ones_are_accepted():
    np.testing.assert_array_equal(sequence_roll(np.eye(3, 88)), np.eye(3, 88, dtype=np.uint8))


@pytest.mark.parametrize('content', [b'', b'not a mat file at all', bytes(range(256)) * 4])
def test_a_file_that_is_not_a_mat_is_one_clear_error(tmp_path, content):
    path = tmp_path / 'x.mat'
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=r'x\.mat: not a readable MATLAB \.mat file') as error:
        load_mat(path)
    assert '\n' not in str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CorpusError, match=r'nowhere\.mat: no such file'):
        load_mat(tmp_path / 'nowhere.mat')


@pytest.mark.parametrize('bad, message', [
    (np.zeros((3, 61), np.uint8), r'traindata sequence 1: shape \(3, 61\), expected T × 88'),
    (np.full((2, 88), 2, np.uint8), r'traindata sequence 1: values other than 0 and 1 \(e\.g\. 2\)'),
    (np.full((2, 88), 0.5), r'traindata sequence 1: values other than 0 and 1 \(e\.g\. 0\.5\)'),
])
def test_a_malformed_sequence_is_named_with_its_problem(tmp_path, bad, message):
    path = write_mat(tmp_path / 'bad.mat', {**SMALL, 'train': [SMALL['train'][0], bad]})
    with pytest.raises(CorpusError, match=r'bad\.mat: ' + message) as error:
        load_mat(path)
    assert '\n' not in str(error.value)


def test_a_missing_split_is_named(tmp_path):
    path = write_mat(tmp_path / 'nosplit.mat', {'train': SMALL['train'], 'test': SMALL['test']})
    with pytest.raises(CorpusError, match=r'nosplit\.mat: no validdata \(expected traindata, validdata, testdata\)'):
        load_mat(path)


def test_a_file_without_sequences_is_refused(tmp_path):
    path = write_mat(tmp_path / 'empty.mat', {'train': [], 'valid': [], 'test': []})
    with pytest.raises(CorpusError, match=r'empty\.mat: no sequences'):
        load_mat(path)


def test_chords_are_one_per_quarter_note_of_eighth_note_frames():
    eighths = roll(5, [60, 64, 67], [60, 64, 67], [], [], [57, 60, 64])
    chords = roll_chords(eighths, steps_per_quarter=2)
    assert len(chords) == 3                                     # ⌈5 / 2⌉ quarter notes
    assert chords[1] == NO_CHORD and chords[0] != NO_CHORD and chords[2] != chords[0]
    np.testing.assert_array_equal(roll_chords(eighths[::2], 1), chords)   # same chords from quarter-note frames


def test_prepared_folder_keeps_the_split_the_geometry_and_the_transposition(small_mat, tmp_path):
    out = tmp_path / 'prepared'
    written = prepare_polyphonic(small_mat, out, transpositions=(0, 2, 11), data_root=tmp_path)
    assert all(path.exists() for path in written) and len(written) == 3 * 4 + 1
    assert prepared_geometry(out) == (48, 88, 21)
    split = read_split(out)
    assert split == {'train': ['small_train_000', 'small_train_001'], 'valid': ['small_valid_000'],
                     'test': ['small_test_000']}
    assert json.loads((out / 'split.json').read_text()) == split
    assert piece_names(out, 48) == split['train'] + split['valid'] + split['test']
    sh0 = load_training_set(out, [0, 3], transpositions=(0,), step_ticks=48)
    sh2 = load_training_set(out, [0, 3], transpositions=(2,), step_ticks=48)
    sh11 = load_training_set(out, [0, 3], transpositions=(11,), step_ticks=48)
    np.testing.assert_array_equal(sh0.inputs, np.concatenate([SMALL['train'][0], SMALL['test'][0]]))
    np.testing.assert_array_equal(sh2.inputs[:, 2:], sh0.inputs[:4, :-2])     # sh2: two semitones up
    np.testing.assert_array_equal(sh11.inputs[:, :-1], sh0.inputs[:4, 1:])    # sh11: one semitone down
    # the test piece spans MIDI 21 to 108: no other key keeps it on the keyboard
    assert sh0.names == ['small_train_000_sh0', 'small_test_000_sh0']
    assert sh2.names == ['small_train_000_sh2'] and sh11.names == ['small_train_000_sh11']

    geometry, pieces, failures = load_pieces(out, split='test', progress=False)
    assert geometry == Geometry(step_ticks=48, n_pitches=88, lowest_pitch=21) and failures == []
    assert [name for _, _, name, _ in pieces] == ['small_test_000']
    matrix, step_chords, _, positions = pieces[0]
    np.testing.assert_array_equal(matrix, SMALL['test'][0])
    assert len(step_chords) == 5 and step_chords[0] == step_chords[1]       # one chord per two eighth-note frames
    # no bar lines in the set: bars of 4/4 (8 eighths) from the first frame
    np.testing.assert_array_equal(positions, [[0, 8], [1, 8], [2, 8], [3, 8], [4, 8]])


def test_a_key_goes_in_the_octave_that_keeps_the_piece_on_the_keyboard(tmp_path):
    high = roll(2, [100, 107], [104])                   # sh2 (+2) would push MIDI 107 off: it goes 10 down
    low = roll(2, [21, 30], [60])                       # sh11 (-1) would push MIDI 21 off: it goes 11 up
    mat = write_mat(tmp_path / 'edges.mat', {'train': [high, low], 'valid': [high], 'test': [low]})
    out = tmp_path / 'prepared'
    prepare_polyphonic(mat, out, transpositions=(0, 2, 11), data_root=tmp_path)
    sh2 = load_training_set(out, [0, 1], transpositions=(2,), step_ticks=48)
    sh11 = load_training_set(out, [0, 1], transpositions=(11,), step_ticks=48)
    np.testing.assert_array_equal(sh2.inputs, np.concatenate([np.roll(high, -10, axis=1), np.roll(low, 2, axis=1)]))
    np.testing.assert_array_equal(sh11.inputs, np.concatenate([np.roll(high, -1, axis=1), np.roll(low, 11, axis=1)]))
    assert sh2.inputs.sum() == sh11.inputs.sum() == high.sum() + low.sum()        # no note lost


def test_a_path_may_say_its_frame_and_a_name_keeps_its_own(small_mat, tmp_path):
    prepare_polyphonic(small_mat, tmp_path / 'quarters', step_ticks=96)
    assert prepared_geometry(tmp_path / 'quarters') == (96, 88, 21)
    with pytest.raises(ValueError, match='must divide 96'):
        prepare_polyphonic(small_mat, tmp_path / 'bad', step_ticks=40)
    with pytest.raises(ValueError, match='96 ticks per frame, not 48'):
        prepare_polyphonic('jsb', tmp_path / 'bad', step_ticks=48)


def test_a_benchmark_name_is_found_under_data_root(small_mat, tmp_path):
    small_mat.rename(tmp_path / 'Nottingham.mat')
    prepare_polyphonic('nottingham', tmp_path / 'out', data_root=tmp_path)
    assert read_split(tmp_path / 'out')['valid'] == ['nottingham_valid_000']
    assert prepared_geometry(tmp_path / 'out') == (48, 88, 21)
    with pytest.raises(CorpusError, match=r'MuseData\.mat: no such file'):
        prepare_polyphonic('musedata', tmp_path / 'out', data_root=tmp_path)


def test_every_benchmark_has_a_file_a_frame_and_published_figures():
    assert set(BENCHMARKS) == set(PUBLISHED_TEST_NLL) == set(README_COUNTS)
    assert PUBLISHED_TEST_NLL['jsb']['RNN-NADE'] == 5.56 and PUBLISHED_TEST_NLL['nottingham']['TCN'] == 3.07


@pytest.mark.parametrize('name', sorted(BENCHMARKS))
def test_the_real_benchmarks_have_the_readme_split_and_frame_counts(name):
    need_shared_data()
    rolls = load_mat(POLYPHONIC / BENCHMARKS[name][0])
    assert {split: (len(r), sum(map(len, r))) for split, r in rolls.items()} == README_COUNTS[name]


def test_the_jsb_mat_holds_exactly_the_frames_of_the_json():
    need_shared_data()
    from_mat = load_mat(POLYPHONIC / 'JSB_Chorales.mat')
    from_json = load_jsb_chorales(SHARED_DATA / 'jsb_chorales' / 'jsb-chorales-quarter.json')
    for split in from_json:
        assert len(from_mat[split]) == len(from_json[split])
        for a, b in zip(from_mat[split], from_json[split]):
            np.testing.assert_array_equal(a, b)


def test_the_real_jsb_prepares_as_the_json_does(tmp_path):
    need_shared_data()
    prepare_polyphonic('jsb', tmp_path / 'mat', data_root=POLYPHONIC)
    prepare_jsb_chorales(SHARED_DATA / 'jsb_chorales' / 'jsb-chorales-quarter.json', tmp_path / 'json',
                         transpositions=(0,))
    geometry, pieces, _ = load_pieces(tmp_path / 'mat', split='test', progress=False)
    assert geometry == Geometry(step_ticks=96, n_pitches=88, lowest_pitch=21)
    assert len(pieces) == 77 and sum(len(matrix) for matrix, *_ in pieces) == 4725
    assert read_split(tmp_path / 'mat') == read_split(tmp_path / 'json')
    for stem, key in (('pitch_matrix_96ticks_sh0', 'pitch_matrices'), ('chord_sequence_sh0', 'chord_sequences')):
        with np.load(tmp_path / 'mat' / f'{stem}.npz') as mat, np.load(tmp_path / 'json' / f'{stem}.npz') as js:
            for name in (key, 'piece_starts', 'names'):
                np.testing.assert_array_equal(mat[name], js[name])


def run_bach2(*args, cwd):
    import subprocess
    import sys
    return subprocess.run([sys.executable, '-m', 'bach2.app.cli', *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_cli_prepares_a_mat_and_names_a_bad_one_in_one_line(small_mat, tmp_path):
    done = run_bach2('prepare-benchmark', small_mat, '--out', tmp_path / 'prepared', '--transpositions', '0,2',
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / 'prepared' / 'split.json').exists()
    assert (tmp_path / 'prepared' / 'pitch_matrix_48ticks_sh2.npz').exists()
    bad = tmp_path / 'bad.mat'
    bad.write_bytes(b'not a mat file')
    failed = run_bach2('prepare-benchmark', bad, '--out', tmp_path / 'bad_out', cwd=tmp_path)
    assert failed.returncode != 0
    assert len(failed.stderr.strip().splitlines()) == 1 and str(bad) in failed.stderr
