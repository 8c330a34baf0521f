"""SIGKILL at random moments: ``bach2 train`` (20 kills), ``prepare`` (20) and ``generate`` (3) never leave half a file.

Runs ``benchmarks/sigkill_faults.py`` smaller (its docstring says what is
killed when and what is checked): real processes, a tiny corpus written here,
a tiny model. Train runs in two chains side by side to halve the wait. After
every kill each output file is whole or absent and the checkpoint loads; each
run after a kill resumes from the checkpoint, and a last run completes. The
temporary files the killed writers leave are removed by the next run.
"""
import importlib.util
import os
from pathlib import Path

import pytest

from bach2.app.compose_commands import newest_checkpoint
from bach2.data.prepare import find_midi_files

_spec = importlib.util.spec_from_file_location(
    'sigkill_faults', Path(__file__).resolve().parents[1] / 'benchmarks' / 'sigkill_faults.py')
sigkill_faults = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sigkill_faults)

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    return sigkill_faults.run_all(tmp_path_factory.mktemp('sigkill'), train_kills=20, prepare_kills=20,
                                  generate_kills=3, seed=int(os.environ.get('BACH2_SIGKILL_SEED', '0')),
                                  progress=False, chains=2)


def test_train_killed_twenty_times_checkpoint_always_loads_and_resume_continues(results):
    counts = results['train']
    assert counts.problems == []
    assert counts['kills'] == 20 and counts['finished_before_kill'] == 0
    assert counts['kills_after_writing_began'] >= 10            # most kills land among checkpoint writes
    assert counts['resumed_runs'] >= 15 and counts['resumes_continued'] >= 10
    assert counts['final_runs_completed'] == 2
    assert counts['stale_temporaries_removed'] == counts['stale_temporaries']


def test_prepare_killed_twenty_times_leaves_whole_files_only(results):
    counts = results['prepare']
    assert counts.problems == []
    assert counts['kills'] + counts['finished_before_kill'] == 20 and counts['kills'] >= 15
    assert counts['kills_after_writing_began'] >= 1
    assert counts['files_checked'] >= 20 * 50                  # the first, uninterrupted run wrote 50 files
    assert counts['stale_temporaries_removed'] == counts['stale_temporaries']


def test_generate_killed_leaves_whole_files_only(results):
    counts = results['generate']
    assert counts.problems == []
    assert counts['kills'] == 3
    assert counts['stale_temporaries_removed'] <= counts['stale_temporaries']   # the last kill's are still there


def test_readers_never_take_a_temporary_file_for_data(tmp_path):
    """What a SIGKILL leaves — ``.<name>.bach2-<pid>-<random>.tmp``, newest of all — is skipped by every search."""
    real = tmp_path / 'lstm_polyphonic_N8_1layers.npz'
    real.write_bytes(b'a checkpoint')
    for name in ('.lstm_polyphonic_N8_1layers.npz.bach2-99999999-abc_123.tmp', '.bwv1.mid.bach2-99999999-x1.tmp'):
        (tmp_path / name).write_bytes(b'half a file')
        os.utime(tmp_path / name, ns=(real.stat().st_mtime_ns + 10 ** 9,) * 2)
    (tmp_path / 'bwv2.mid').write_bytes(b'MThd')
    assert newest_checkpoint(tmp_path) == str(real)
    assert find_midi_files(tmp_path) == [tmp_path / 'bwv2.mid']
    assert len(sigkill_faults.inspect_folder(tmp_path)[1]) == 2            # the campaign's check counts them apart
