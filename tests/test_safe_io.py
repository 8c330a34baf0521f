"""bach2.safe_io: atomic writes and pickles that never run code."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from bach2.safe_io import (TEMPORARY_NAME, UnsafePickleError, atomic_path, load_pickle, remove_stale_temporaries,
                           save_npz, save_pickle)

DATA = {
    'matrix': np.array([[0, 1], [1, 0]], np.uint8),
    'matrices': [np.zeros((3, 61), np.uint8), np.ones((1, 61), np.uint8)],
    'names': ['bwv846', 'bwv847'],
    'steps': [24, 48],
    'pitch range': (24, 84),
    'loss': 1.25,
}


def assert_same_data(loaded):
    assert sorted(loaded) == sorted(DATA)
    assert loaded['matrix'].dtype == np.uint8
    np.testing.assert_array_equal(loaded['matrix'], DATA['matrix'])
    for got, want in zip(loaded['matrices'], DATA['matrices'], strict=True):
        assert (got.dtype, got.shape) == (want.dtype, want.shape)
        np.testing.assert_array_equal(got, want)
    assert [loaded[key] for key in ('names', 'steps', 'pitch range', 'loss')] == \
           [DATA[key] for key in ('names', 'steps', 'pitch range', 'loss')]


def test_pickle_round_trip(tmp_path):
    save_pickle(DATA, tmp_path / 'data.pkl')
    assert_same_data(load_pickle(tmp_path / 'data.pkl'))
    assert os.listdir(tmp_path) == ['data.pkl']


@pytest.mark.parametrize('protocol', [3, pickle.HIGHEST_PROTOCOL])
def test_loads_plain_pickles_of_arrays(tmp_path, protocol):
    """Arrays pickled by plain ``pickle.dump`` with other protocols are still allowed."""
    path = tmp_path / 'plain.pkl'
    path.write_bytes(pickle.dumps(DATA, protocol=protocol))
    assert_same_data(load_pickle(path))


class RunsACommand:
    """Unpickling this with plain pickle would run a shell command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_pickle_that_runs_code_is_refused(tmp_path):
    evidence = tmp_path / 'pwned.txt'
    path = tmp_path / 'evil.pkl'
    path.write_bytes(pickle.dumps({'model': RunsACommand(f"echo pwned > '{evidence}'")}))
    with pytest.raises(UnsafePickleError) as caught:
        load_pickle(path)
    assert str(path) in str(caught.value)
    assert 'system' in str(caught.value)
    assert not evidence.exists()


def test_not_a_pickle_is_refused(tmp_path):
    path = tmp_path / 'notes.pkl'
    path.write_text('just text\n')
    with pytest.raises(UnsafePickleError, match='notes.pkl'):
        load_pickle(path)


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / 'out.txt'
    target.write_text('old')
    with atomic_path(target) as temporary:
        assert os.path.dirname(temporary) == str(tmp_path)
        with open(temporary, 'w') as handle:
            handle.write('new')
        assert target.read_text() == 'old'      # nothing visible before the block ends
    assert target.read_text() == 'new'
    assert os.listdir(tmp_path) == ['out.txt']


def test_atomic_path_keeps_old_file_when_block_raises(tmp_path):
    target = tmp_path / 'out.txt'
    target.write_text('old')
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            with open(temporary, 'w') as handle:
                handle.write('half written')
            raise RuntimeError('disk full')
    assert target.read_text() == 'old'
    assert os.listdir(tmp_path) == ['out.txt']


def test_save_npz_is_readable_with_np_load(tmp_path):
    path = tmp_path / 'matrices.npz'
    save_npz(path, matrix=DATA['matrix'], shifts=np.arange(-5, 7))
    with np.load(path) as loaded:
        assert sorted(loaded.files) == ['matrix', 'shifts']
        assert loaded['matrix'].dtype == np.uint8
        np.testing.assert_array_equal(loaded['matrix'], DATA['matrix'])
        np.testing.assert_array_equal(loaded['shifts'], np.arange(-5, 7))
    assert os.listdir(tmp_path) == ['matrices.npz']


def test_temporary_name_is_hidden_recognisable_and_never_a_data_name(tmp_path):
    with atomic_path(tmp_path / 'ck.npz') as temporary:
        name = os.path.basename(temporary)
        assert name.startswith('.ck.npz.bach2-') and name.endswith('.tmp')
        assert int(TEMPORARY_NAME.match(name).group(1)) == os.getpid()
        open(temporary, 'wb').close()
        assert list(tmp_path.glob('*.npz')) == [] and list(tmp_path.glob('*.p')) == []


def ended_process_id():
    process = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True)
    return int(process.stdout)


def test_next_write_removes_temporaries_of_ended_processes_only(tmp_path):
    ended, alive = ended_process_id(), os.getppid()
    stale = tmp_path / f'.ck.npz.bach2-{ended}-k1ll3d_x.tmp'
    other = tmp_path / f'.curve.png.bach2-{ended}-abc_1234.tmp'         # any file of that folder
    in_progress = tmp_path / f'.ck.npz.bach2-{alive}-w0rk1ng.tmp'         # a live writer's file
    mine = tmp_path / f'.ck.npz.bach2-{os.getpid()}-m1n3.tmp'
    unrelated = tmp_path / '.notes.tmp'
    for path in (stale, other, in_progress, mine, unrelated):
        path.write_bytes(b'half a file')
    save_pickle(DATA, tmp_path / 'data.pkl')
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([in_progress.name, mine.name, unrelated.name,
                                                                 'data.pkl'])
    assert remove_stale_temporaries(tmp_path) == []
