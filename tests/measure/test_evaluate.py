"""bach2.measure.evaluate and ``bach2 evaluate``: NLL of a checkpoint on held-out pieces, statistics against a corpus.

The corpus is six random MIDI pieces (tests/midi_builders.py) prepared as in
training, with a ``split.json`` holding two of them out. A tiny model (1 × 8
units, L = 8) is trained with a silent start, so every frame is predicted.
"""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from bach2.common import CorpusError
from bach2.data.prepare import prepare_training_data
from bach2.data.training_set import SPLIT_FILE, piece_names
from bach2.measure.evaluate import checkpoint_nll, load_pieces, mixture_nll, mixture_weights
from bach2.models.checkpoints import best_checkpoint_path, checkpoint_path
from bach2.models.model_config import ModelConfig
from bach2.music.geometry import Geometry
from bach2.train import TrainConfig, train
from midi_builders import write_random_corpus

TINY = dict(n_layers=1, n_hidden=8, sequence_length=8, batch_size=4)
HELD_OUT = ['bwv2_x', 'bwv5_x']


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp('evaluate')
    midi = write_random_corpus(root / 'midi')
    data = root / 'data'
    prepare_training_data(midi, data, progress=False, processes=1)
    names = piece_names(data)
    (data / SPLIT_FILE).write_text(json.dumps({'train': [n for n in names if n not in HELD_OUT], 'valid': HELD_OUT}))
    model_config = ModelConfig(**TINY)
    train_config = TrainConfig(str(data), str(root / 'checkpoints'), epochs=2, transpositions=(0, 1),
                               valid_transpositions=(0,), max_batches=3, pad_start=True)
    _, history = train(model_config, train_config, progress=False, log=lambda message: None)
    return {'root': root, 'midi': midi, 'data': data, 'history': history,
            'checkpoint': checkpoint_path(train_config, model_config)}


def test_nll_on_the_held_out_split_equals_the_validation_nll_of_training(trained):
    _, pieces, _ = load_pieces(trained['data'], split='valid')
    assert [name for _, _, name, _ in pieces] == HELD_OUT
    result = checkpoint_nll(trained['checkpoint'], pieces, progress=False)
    assert result['nll_per_frame'] == pytest.approx(trained['history'][-1]['valid_nll_per_frame'], rel=1e-5)
    assert result['frames'] == sum(len(matrix) for matrix, *_ in pieces)     # the silent start: every frame
    best = min(trained['history'], key=lambda row: row['valid_nll_per_frame'])
    best_result = checkpoint_nll(best_checkpoint_path(trained['checkpoint']), pieces, progress=False)
    assert best_result['nll_per_frame'] == pytest.approx(best['valid_nll_per_frame'], rel=1e-5)
    assert best_result['epoch'] == best['epoch'] + 1
    two = [trained['checkpoint'], best_checkpoint_path(trained['checkpoint'])]
    weighted = checkpoint_nll(two, pieces, progress=False, weights=[1e-12, 1 - 1e-12])     # all on the best
    assert weighted['nll_per_frame'] == pytest.approx(best['valid_nll_per_frame'], rel=1e-5)
    np.testing.assert_allclose(weighted['member_nlls'].mean(axis=1),
                               [result['nll_per_frame'], best_result['nll_per_frame']], rtol=1e-6)


def test_midi_files_get_the_same_preprocessing_as_the_prepared_folder(trained, tmp_path):
    for name in HELD_OUT:
        shutil.copy(trained['midi'] / f'{name}.mid', tmp_path)
    geometry, from_midi, failures = load_pieces(tmp_path, Geometry(), progress=False)
    _, from_prepared, _ = load_pieces(trained['data'], split='valid')
    assert not failures and geometry == Geometry(24, 61, 24)
    for (a, chords_a, name_a, positions_a), (b, chords_b, name_b, positions_b) in zip(from_midi, from_prepared):
        assert name_a == name_b
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(chords_a, chords_b)
        np.testing.assert_array_equal(positions_a, positions_b)
    nll = [checkpoint_nll(trained['checkpoint'], pieces, progress=False)['nll_per_frame']
           for pieces in (from_midi, from_prepared)]
    assert nll[0] == pytest.approx(nll[1], rel=1e-6)


def test_every_frame_is_evaluated_short_pieces_too_and_empty_ones_are_listed(trained, tmp_path):
    model_config = ModelConfig(**TINY)
    train_config = TrainConfig(str(trained['data']), str(tmp_path), epochs=1, transpositions=(0,), max_batches=2)
    train(model_config, train_config, progress=False, log=lambda message: None)
    _, pieces, _ = load_pieces(trained['data'], split='valid')
    short = (pieces[0][0][:5], pieces[0][1][:5], 'short')          # shorter than a window: predicted from silence
    empty = (pieces[0][0][:0], pieces[0][1][:0], 'empty')
    result = checkpoint_nll(checkpoint_path(train_config, model_config), pieces + [short, empty], progress=False)
    assert result['too_short'] == ['empty'] and result['pieces'] == 3
    assert result['frames'] == sum(len(matrix) for matrix, *_ in pieces) + 5
    with pytest.raises(CorpusError, match='all 1 are empty'):
        checkpoint_nll(checkpoint_path(train_config, model_config), [empty], progress=False)


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, '-m', 'bach2.app.cli', 'evaluate', *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_the_command_prints_nll_and_the_statistics_table_and_writes_json(trained, tmp_path):
    out = tmp_path / 'evaluation.json'
    done = run_cli(trained['midi'], '--checkpoint', trained['checkpoint'], '--corpus', trained['data'],
                   '--json', out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert 'NLL per frame' in done.stdout and 'pitch_class_histogram' in done.stdout
    result = json.loads(out.read_text())
    assert result['pieces'] == 6 and result['frames'] > 0 and result['nll_per_frame'] > 0
    assert set(result['comparison']) >= {'pitch_class_histogram', 'chord_transitions', 'polyphony', 'empty_beats'}
    assert result['comparison']['pitch_class_histogram'] == pytest.approx(0, abs=0.05)   # the corpus itself


@pytest.mark.parametrize('case', ['missing folder', 'split of a MIDI folder', 'unknown split', 'other geometry',
                                  'corpus of other geometry'])
def test_bad_input_is_one_line_and_writes_nothing(trained, tmp_path, case):
    args = {'missing folder': [tmp_path / 'nowhere'],
            'split of a MIDI folder': [trained['midi'], '--split', 'test'],
            'unknown split': [trained['data'], '--split', 'test', '--checkpoint', trained['checkpoint']],
            'other geometry': [trained['data'], '--checkpoint', trained['checkpoint']],
            'corpus of other geometry': [trained['midi'], '--checkpoint', trained['checkpoint']]}[case]
    corpus = tmp_path / 'none'
    if case in ('other geometry', 'corpus of other geometry'):
        data = tmp_path / 'data88'
        from bach2.data.jsb_chorales import prepare_jsb_chorales
        (tmp_path / 'j.json').write_text(json.dumps({'train': [[[60]] * 20], 'valid': [], 'test': []}))
        prepare_jsb_chorales(tmp_path / 'j.json', data, transpositions=(0,))
        if case == 'other geometry':
            args[0] = data
        else:
            corpus = data
    done = run_cli(*args, '--json', tmp_path / 'e.json', '--corpus', corpus, cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith('bach2: error: ')
    assert not (tmp_path / 'e.json').exists()


def test_mixture_weights_are_those_most_likely_on_the_frames_given():
    rng = np.random.default_rng(0)
    good, bad = rng.uniform(1, 2, 400), rng.uniform(4, 5, 400)
    assert mixture_weights(np.stack([bad, good]))[1] > 0.95                   # one member better everywhere
    split = np.stack([np.r_[good[:200], bad[:200]], np.r_[bad[200:], good[200:]]])
    weights = mixture_weights(split)
    assert weights.sum() == pytest.approx(1) and weights == pytest.approx([0.5, 0.5], abs=0.02)
    best = mixture_nll(split, weights).mean()
    assert all(best <= mixture_nll(split, [w, 1 - w]).mean() + 1e-9 for w in np.linspace(0.05, 0.95, 19))
    np.testing.assert_allclose(mixture_nll(split), -np.log((np.exp(-split[0]) + np.exp(-split[1])) / 2))
