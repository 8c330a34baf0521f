"""bach2.models.chord_model, bach2.models.sequence_model, bach2.models.sequence_training: the chord-progression model (issue 7).

Checked: the bigram baseline against counts done by hand, the model's NLL against a
NumPy LSTM with the same parameters, a tiny model learning a progression the bigram
cannot (A B A C …: after A, B and C alternate), windows that never cross pieces,
sampling, and the ``bach2 chords`` commands on a tiny prepared corpus.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bach2.chord_sequence import NO_CHORD
from bach2.data.prepare import prepare_training_data
from bach2.models import chord_model as cm
from bach2.models.checkpoints import load_sequence_checkpoint, load_sequence_model
from bach2.models.sequence_model import SequenceConfig, SequenceModel, one_hot_inputs, right_padded_window
from bach2.models.sequence_training import (SequenceTrainingConfig, concatenate, make_windows, sequence_nll,
                                            train_sequence_model, window_starts)
from midi_builders import write_random_corpus

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(slot_sizes=(cm.N_INPUT_TOKENS,), n_outputs=cm.N_TOKENS, kind='chords', n_layers=1, n_hidden=6,
            sequence_length=4, batch_size=2)


def test_tokens_round_trip():
    chords = np.array([0, 119, NO_CHORD, 5], np.int16)
    assert cm.to_tokens(chords).tolist() == [0, 119, cm.SILENT, 5]
    assert cm.to_chords(cm.to_tokens(chords)).tolist() == chords.tolist()


def test_bigram_counts_and_nll_by_hand():
    bigram = cm.Bigram([(np.array([0, 1, 0, 1]), 'a')], alpha=1.0)
    assert bigram.counts[cm.START, 0] == 1 and bigram.counts[0, 1] == 2 and bigram.counts[1, 0] == 1
    assert bigram.counts.sum() == 4
    p = bigram.probabilities()
    assert p[0, 1] == pytest.approx(3 / (2 + 121)) and p[1, 0] == pytest.approx(2 / (1 + 121))
    assert p[5, 7] == pytest.approx(1 / 121)              # an unseen context: uniform
    nll, n = bigram.nll([(np.array([0, 1, 2]), 'b')])
    expected = -(math.log(2 / 122) + math.log(3 / 123) + math.log(1 / 122)) / 3
    assert n == 3 and nll == pytest.approx(expected)


def test_unigram_by_hand():
    nll = cm.unigram_nll([(np.array([0, 0, 1]), 'a')], [(np.array([0]), 'b')], alpha=1.0)
    assert nll == pytest.approx(-math.log(3 / (3 + 121)))


def test_windows_stop_at_the_end_of_their_piece():
    data = concatenate([(np.arange(5)[:, None], np.arange(5), 'a'), (np.arange(3)[:, None] + 10, np.arange(3), 'b')])
    starts = window_starts(data.piece_starts, 4)
    assert starts.tolist() == [0, 4, 5]
    X, Y, W = make_windows(data, starts, 4)
    assert X[1, :, 0].tolist() == [4, -1, -1, -1] and W[1].tolist() == [1, 0, 0, 0]
    assert X[2, :, 0].tolist() == [10, 11, 12, -1] and Y[2].tolist() == [0, 1, 2, 0]
    assert W.sum() == 8                                   # every step once


def test_one_hot_inputs_and_right_padding():
    onehot = one_hot_inputs(np.array([[1, 0], [-1, 2]]), (2, 3))
    assert onehot.tolist() == [[0, 1, 1, 0, 0], [0, 0, 0, 0, 1]]
    window, last = right_padded_window(np.arange(6)[:, None], 4)
    assert window[:, 0].tolist() == [2, 3, 4, 5] and last == 3
    window, last = right_padded_window(np.arange(2)[:, None], 4)
    assert window[:, 0].tolist() == [0, 1, -1, -1] and last == 1


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_nll(state, tokens, config):
    """NLL summed over a piece read in windows of L from a zero state: plain NumPy, peephole LSTM (Lasagne)."""
    inputs = np.concatenate([[cm.START], tokens[:-1]])
    total = 0.0
    for s in range(0, len(tokens), config.sequence_length):
        h = c = np.zeros(config.n_hidden)
        for t in range(s, min(s + config.sequence_length, len(tokens))):
            x = np.zeros(config.n_inputs)
            x[inputs[t]] = 1.0
            g = {name: x @ state[f'lstm1.W_in_to_{name}'] + h @ state[f'lstm1.W_hid_to_{name}'] + state[f'lstm1.b_{name}']
                 for name in ('ingate', 'forgetgate', 'cell', 'outgate')}
            i = sigmoid(g['ingate'] + c * state['lstm1.W_cell_to_ingate'])
            f = sigmoid(g['forgetgate'] + c * state['lstm1.W_cell_to_forgetgate'])
            c = f * c + i * np.tanh(g['cell'])
            o = sigmoid(g['outgate'] + c * state['lstm1.W_cell_to_outgate'])
            h = o * np.tanh(c)
            z = h @ state['output.W'] + state['output.b']
            total -= z[tokens[t]] - np.log(np.exp(z - z.max()).sum()) - z.max()
    return total


def test_model_nll_equals_a_numpy_lstm():
    config = SequenceConfig(**TINY)
    model = SequenceModel(config, seed=3)
    state = {name: value.astype(np.float64) for name, value in model.get_state().items()}
    pieces = [(np.array([3, 7, 7, 119, 0, 3, 120]), 'a'), (np.array([5, 6]), 'b')]
    nll, tokens = sequence_nll(model, cm.sequence_data(pieces))
    reference = sum(numpy_nll(state, piece, config) for piece, _ in pieces)
    assert tokens == 9
    assert nll * tokens == pytest.approx(reference, rel=1e-4)


def abac_pieces(n_pieces=4, length=24):
    """A B A C A B A C …: the bigram is unsure after A (B or C), one step more of context is not."""
    return [(np.array([0, 1, 0, 2] * (length // 4)), f'bwv{i}') for i in range(n_pieces)]


def test_tiny_model_learns_what_the_bigram_cannot(tmp_path):
    pieces = abac_pieces()
    config = SequenceConfig(**{**TINY, 'n_hidden': 16, 'sequence_length': 12, 'batch_size': 4,
                               'learning_rate': 0.03})
    data = cm.sequence_data(pieces)
    training = SequenceTrainingConfig(tmp_path / 'abac.npz', epochs=60, stride=4)
    model, history = train_sequence_model(config, training, data, data, progress=False, log=lambda *_: None)
    bigram, _ = cm.Bigram(pieces, alpha=0.01).nll(pieces)
    assert bigram > 0.3                                    # log 2 / 2 per token at best
    assert history[-1]['valid_nll_per_token'] < 0.3 * bigram
    assert (tmp_path / 'abac.npz').exists() and (tmp_path / 'abac_best.npz').exists()
    config_back, state, meta = load_sequence_checkpoint(tmp_path / 'abac.npz')
    assert config_back == config and meta['epoch'] == 60 and set(state) == set(model.get_state())
    predictor, _ = load_sequence_model(tmp_path / 'abac.npz', 'chords')
    sampled = cm.sample_tokens(predictor, 8, cm.ChordSampling(temperature=0.5, seed=1), primer=[0, 1])
    assert sampled.tolist() == [0, 2, 0, 1, 0, 2, 0, 1]


def test_sampling_is_seeded_and_never_silent_unless_asked():
    predictor = SequenceModel(SequenceConfig(**TINY), batch_size=1, training=False, seed=1)
    wild = cm.ChordSampling(temperature=3.0, seed=4)
    a = cm.sample_tokens(predictor, 30, wild)
    assert a.tolist() == cm.sample_tokens(predictor, 30, wild).tolist()
    assert cm.SILENT not in a and a.min() >= 0 and a.max() < cm.N_CHORDS
    with pytest.raises(ValueError, match='temperature'):
        cm.sample_tokens(predictor, 3, cm.ChordSampling(temperature=0))


# --------------------------------------------------------------------------- on a prepared corpus, CLI

@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('chords')
    prepare_training_data(write_random_corpus(root / 'midi'), root / 'data', progress=False, processes=1)
    return root / 'data'


def bach2(*args, cwd=None):
    return subprocess.run([sys.executable, '-m', 'bach2.app.cli', *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={'PYTHONPATH': str(ROOT / 'Source_Code'), 'PATH': '/usr/bin:/bin',
                                        'JAX_PLATFORMS': 'cpu'})


def test_chords_train_evaluate_generate_commands(data_dir, tmp_path):
    result = bach2('chords', 'train', '--data', data_dir, '--out', tmp_path, '--epochs', 1, '--hidden', 8,
                   '--layers', 1, '--sequence-length', 8, '--batch-size', 4, '--transpositions', '0,1',
                   '--valid-fraction', 0.3)
    assert result.returncode == 0, result.stderr
    checkpoint = tmp_path / 'chords_N8_1layers.npz'
    assert checkpoint.exists() and (tmp_path / 'chords_N8_1layers_best.npz').exists()
    result = bach2('chords', 'evaluate', checkpoint, '--json', tmp_path / 'e.json')
    assert result.returncode == 0, result.stderr
    numbers = json.loads((tmp_path / 'e.json').read_text())
    assert numbers['pieces'] == 2 and numbers['tokens'] == 32     # 2 held-out works × 16 quarter notes
    assert all(math.isfinite(numbers[key]) for key in ('model', 'bigram', 'unigram'))
    result = bach2('chords', 'generate', checkpoint, '--chords', 8, '--primer', 'i V7', '--key', 'D minor',
                   '--out-dir', tmp_path / 'out', '--count', 2)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / 'out' / 'progression_chords_N8_1layers_seed0.txt').read_text().split()
    assert len(text) == 8 and text[:2] == ['Dm', 'A7']
    with np.load(tmp_path / 'out' / 'progression_chords_N8_1layers_seed1.npz') as arrays:
        assert arrays['chords'].shape == (8,) and arrays["chords"][1] == 9 * 10 + 7   # A dominant


@pytest.mark.parametrize('args, needle', [
    (('chords', 'evaluate', 'missing.npz'), 'missing.npz: no such checkpoint'),
    (('chords', 'train', '--data', 'no_such_folder'), 'no_such_folder: no such folder'),
    (('chords', 'generate', 'missing.npz'), 'missing.npz: no such checkpoint'),
    (('chords', 'train', '--epochs', '0'), 'must be a positive integer'),
    (('chords',), 'required: ACTION'),
])
def test_bad_input_is_one_line_and_a_non_zero_exit(args, needle, tmp_path):
    result = bach2(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_damaged_checkpoint_is_one_line(tmp_path):
    (tmp_path / 'bad.npz').write_bytes(b'not a zip')
    result = bach2('chords', 'generate', tmp_path / 'bad.npz')
    assert result.returncode == 2 and 'not a checkpoint of a sequence model' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
