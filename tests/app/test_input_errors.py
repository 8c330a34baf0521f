"""Input a new user gives first, run as ``bach2 …`` from a folder of their own.

* the shipped model needs no ``training_data/``: ``generate`` primes with a piece of the built-in corpus it
  held out, ``export`` re-exports it from what it records;
* ``judge`` names a missing folder before it reads the corpus;
* a damaged checkpoint is "not a Bach2.0 checkpoint", with no advice from NumPy;
* a MIDI file of drums only (channel 10) is no tune.
"""
import json
import types

import numpy as np
import pytest

from bach2.app.cli import main
from bach2.models.checkpoints import SHIPPED_MODEL
from bach2.safe_io import load_pickle
from midi_builders import off, on, write_midi


@pytest.fixture
def bach2(monkeypatch, capsys):
    """``bach2(folder, *ARGS)``: ``bach2 ARGS`` run with ``folder`` as the working directory → its returncode,
    stdout and stderr."""
    def run(folder, *args):
        monkeypatch.chdir(folder)
        capsys.readouterr()
        returncode = main([str(arg) for arg in args])
        out, err = capsys.readouterr()
        return types.SimpleNamespace(returncode=returncode, stdout=out, stderr=err)
    return run


def test_generate_without_training_data_primes_with_a_piece_the_shipped_model_held_out(bach2, tmp_path):
    result = bach2(tmp_path, 'generate', '--model', 'lstm-nade', '--steps', 4, '--out', 'out')
    assert result.returncode == 0, result.stderr
    record = load_pickle(next((tmp_path / 'out').glob('*.p')))
    held_out = json.loads((SHIPPED_MODEL.parent / 'model.json').read_text())['held_out']
    assert record['primer_name'] in held_out and record['primer'].any()
    assert not (tmp_path / 'training_data').exists()


def test_judge_names_the_missing_folder_before_the_corpus(bach2, tmp_path):
    result = bach2(tmp_path, 'judge', 'missing_folder')
    assert (result.returncode, result.stderr) == (2, 'bach2: error: missing_folder: no such folder\n')


def test_the_shipped_model_exports_again_without_its_training_data(bach2, tmp_path):
    result = bach2(tmp_path, 'export', SHIPPED_MODEL, '--out', 'exported')
    assert result.returncode == 0, result.stderr
    shipped = json.loads((SHIPPED_MODEL.parent / 'model.json').read_text())
    exported = json.loads((tmp_path / 'exported' / 'model.json').read_text())
    assert {key: exported[key] for key in ('command', 'trained_on', 'held_out', 'bwv_held_out')} == {
        key: shipped[key] for key in ('command', 'trained_on', 'held_out', 'bwv_held_out')}
    assert (tmp_path / 'exported' / 'training_log.csv').read_bytes() == \
        (SHIPPED_MODEL.parent / 'training_log.csv').read_bytes()


@pytest.fixture
def damaged(tmp_path):
    """{kind: path} of two damaged checkpoints: random bytes, and an .npz whose meta is a pickled object."""
    random_bytes = tmp_path / 'random.npz'
    random_bytes.write_bytes(np.random.default_rng(0).bytes(3000))
    pickled = tmp_path / 'pickled.npz'
    np.savez(pickled, meta=np.array([{'model_config': {}}], dtype=object))
    return {'random bytes': random_bytes, 'a pickle inside': pickled}


@pytest.mark.parametrize('kind', ['random bytes', 'a pickle inside'])
@pytest.mark.parametrize('command', [['export', '{checkpoint}', '--out', 'exported'],
                                     ['generate', '{checkpoint}', '--out', 'out', '--steps', '4']])
def test_a_damaged_checkpoint_is_not_a_bach2_checkpoint_and_nothing_more(bach2, tmp_path, damaged, kind, command):
    checkpoint = damaged[kind]
    result = bach2(tmp_path, *(arg.format(checkpoint=checkpoint) for arg in command))
    assert (result.returncode, result.stderr) == (2, f'bach2: error: {checkpoint}: not a Bach2.0 checkpoint\n')


def test_a_damaged_sequence_checkpoint_says_only_that(bach2, tmp_path, damaged):
    result = bach2(tmp_path, 'chords', 'evaluate', damaged['a pickle inside'])
    assert (result.returncode, result.stderr) == (
        2, f'bach2: error: {damaged["a pickle inside"]}: not a checkpoint of a sequence model\n')


@pytest.mark.parametrize('command', [['generate', '--primer', '{drums}', '--steps', '4', '--out', 'out'],
                                     ['harmonize', '{drums}', '--out-dir', 'out'],
                                     ['fugue', '{drums}', '--out-dir', 'out']])
def test_a_midi_file_of_drums_only_is_no_tune(bach2, tmp_path, command):
    drums = write_midi(tmp_path / 'drums.mid', [[on(36, channel=9), off(36, 48, channel=9), on(38, 48, channel=9),
                                                 off(38, 48, channel=9), on(42, channel=9), off(42, 24, channel=9)]])
    result = bach2(tmp_path, *(arg.format(drums=drums) for arg in command))
    assert (result.returncode, result.stderr) == (
        2, f'bach2: error: {drums}: no pitched notes: its 3 notes are drums (MIDI channel 10)\n')
    assert not (tmp_path / 'out').exists()
