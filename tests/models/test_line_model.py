"""bach2.models.line_model: lines of a pitch matrix, the inputs [given line at t, generated line at t − 1], the
count-table baseline, training and sampling of a tiny model, and ``bach2 lines`` on a tiny corpus."""
import math
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from bach2.data.prepare import prepare_training_data
from bach2.models import line_model as lm
from bach2.models.checkpoints import load_sequence_model
from bach2.models.sequence_model import SequenceConfig, one_hot_inputs
from bach2.models.sequence_training import SequenceTrainingConfig, concatenate, make_windows, window_starts
from midi_builders import write_random_corpus

ROOT = Path(__file__).resolve().parents[2]
P = 10          # pitches of the hand-made matrices (rest = 10)


def hand_matrix():
    matrix = np.zeros((5, P), np.uint8)
    matrix[0, [1, 5]] = 1        # two voices
    matrix[1, [2, 4, 7]] = 1     # three voices
    matrix[2, 3] = 1             # one voice: the bass alone
    matrix[4, [0, 9]] = 1        # step 3 silent
    return matrix


def test_lines_of_a_hand_made_matrix():
    matrix = hand_matrix()
    assert lm.extract_line(matrix, 'lowest').tolist() == [1, 2, 3, P, 0]
    assert lm.extract_line(matrix, 'highest').tolist() == [5, 7, P, P, 9]
    assert lm.extract_line(matrix, 'second').tolist() == [P, 4, P, P, P]


def test_line_to_matrix_inverts_the_lowest_line():
    bass = lm.extract_line(hand_matrix(), 'lowest')
    matrix = lm.line_to_matrix(bass, P)
    assert matrix.shape == (5, P) and matrix.sum() == 4 and not matrix[3].any()
    assert lm.extract_line(matrix, 'lowest').tolist() == bass.tolist()


def test_input_at_t_is_bass_at_t_and_melody_at_t_minus_1():
    matrix = hand_matrix()
    bass, melody = lm.extract_line(matrix, 'lowest'), lm.extract_line(matrix, 'highest')
    inputs = lm.pair_inputs(bass, melody, P)
    assert inputs.tolist() == [[1, P], [2, 5], [3, 7], [P, P], [0, P]]
    data = concatenate([(inputs, melody, 'a')])
    X, Y, W = make_windows(data, window_starts(data.piece_starts, 8), 8)
    onehot = one_hot_inputs(X, (P + 1, P + 1))                     # 1 × 8 × 22
    assert onehot.shape == (1, 8, 2 * (P + 1))
    for t in range(5):
        assert np.nonzero(onehot[0, t, :P + 1])[0].tolist() == [bass[t]]                # bass at t
        previous = melody[t - 1] if t else P                                            # melody at t − 1
        assert np.nonzero(onehot[0, t, P + 1:])[0].tolist() == [previous]
        assert Y[0, t] == melody[t]                                                     # target: melody at t
    assert not onehot[0, 5:].any() and W[0].tolist() == [1] * 5 + [0] * 3


def test_count_baseline_by_hand():
    inputs = np.array([[1, P], [1, 2], [1, 2]])
    train = [(inputs, np.array([2, 2, 3]), 'a')]
    nll = lm.count_baseline_nll(train, [(np.array([[1, 2]]), np.array([3]), 'b')], P + 1, alpha=1.0)
    assert nll == pytest.approx(-math.log(2 / (2 + 11)))


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('lines')
    prepare_training_data(write_random_corpus(root / 'midi'), root / 'data', progress=False, processes=1)
    return root / 'data'


@pytest.fixture(scope='module')
def tiny_checkpoint(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp('line_ck') / 'bm.npz'
    config = SequenceConfig(n_layers=1, n_hidden=8, sequence_length=8, batch_size=4)
    training = SequenceTrainingConfig(out, data_dir, epochs=1, max_batches=3, valid_fraction=0.3, transpositions=(0, 1))
    lm.train_lines(config, training, 'bass-melody', progress=False, log=lambda *_: None)
    return out


def test_training_sets_the_geometry_and_sampling_follows_the_given_line(tiny_checkpoint):
    model, meta = load_sequence_model(tiny_checkpoint, 'line')
    assert model.config.kind == 'line' and model.config.extra['pair'] == 'bass-melody'
    assert model.config.slot_sizes == (62, 62) and model.config.n_outputs == 62
    bass = np.array([12, 12, 14, P, 16] * 4)
    melody = lm.sample_line(model, bass, temperature=1.0, seed=2)
    assert melody.shape == bass.shape and melody.min() >= 0 and melody.max() <= 61
    assert melody.tolist() == lm.sample_line(model, bass, temperature=1.0, seed=2).tolist()
    result = lm.evaluate_lines(tiny_checkpoint)
    assert result['pieces'] == 2 and result['steps'] == 128 and math.isfinite(result['count_baseline'])


def bach2(*args, cwd=None):
    return subprocess.run([sys.executable, '-m', 'bach2.app.cli', *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={'PYTHONPATH': str(ROOT / 'Source_Code'), 'PATH': '/usr/bin:/bin',
                                        'JAX_PLATFORMS': 'cpu'})


def test_lines_generate_over_a_midi_file_and_a_prepared_piece(tiny_checkpoint, data_dir, tmp_path):
    midi = next((data_dir.parent / 'midi').glob('*.mid'))
    result = bach2('lines', 'generate', tiny_checkpoint, midi, '--steps', 32, '--out-dir', tmp_path)
    assert result.returncode == 0, result.stderr
    written = mido.MidiFile(tmp_path / f'bass-melody_{midi.stem}_seed0.mid')
    assert [track.name for track in written.tracks[1:]] == ['lowest', 'highest']
    assert (tmp_path / f'bass-melody_{midi.stem}_seed0.png').exists()
    result = bach2('lines', 'generate', tiny_checkpoint, 'bwv2_x', '--data', data_dir, '--steps', 0,
                   '--out-dir', tmp_path)
    assert result.returncode == 0, result.stderr
    result = bach2('lines', 'generate', tiny_checkpoint, 'no_such_piece', '--data', data_dir, '--out-dir', tmp_path)
    assert result.returncode == 2 and "no prepared piece named 'no_such_piece'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_chord_input_is_a_third_slot(data_dir, tmp_path):
    inputs = lm.pair_inputs(np.array([1, 2]), np.array([5, 6]), P, chords=np.array([7, 120]))
    assert inputs.tolist() == [[1, P, 7], [2, 5, 120]]
    pieces = lm.line_pieces(data_dir, lm.LineInputs('bass-melody', chord_input=True), [0])
    assert pieces[0][0].shape[1] == 3 and pieces[0][0][:, 2].max() <= 120
    config = SequenceConfig(n_layers=1, n_hidden=8, sequence_length=8, batch_size=4)
    training = SequenceTrainingConfig(tmp_path / 'c.npz', data_dir, epochs=1, max_batches=2, valid_fraction=0.3,
                                      transpositions=(0,))
    lm.train_lines(config, training, 'bass-melody', chord_input=True, progress=False, log=lambda *_: None)
    model, _ = load_sequence_model(tmp_path / 'c.npz', 'line')
    assert model.config.slot_sizes == (62, 62, 121)
    with pytest.raises(ValueError, match='chord for every step'):
        lm.sample_line(model, np.array([12, 13]))
    assert lm.sample_line(model, np.array([12, 13]), chords=np.array([0, -1])).shape == (2,)
