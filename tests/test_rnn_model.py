"""bach2.rnn_model: the compiled LSTM model, its cost terms and its state, against NumPy.

Models are tiny (1 layer, N = 8, L = 8, B = 4, P = 61) and compiled once per
module; a test that trains restores the state it started from. A run in a subprocess (the shipped sampler and
a training step) leaves no temporary file and prints no JAX warning.
"""
import contextlib
import os
import subprocess
import sys

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bach2.chord_sequence import CHORD_VECTORS
from bach2.common import CheckpointError
from bach2.models.model_config import ModelConfig
from bach2.rnn_model import RNNModel, chord_cost, fold_matrix

B, L, P = 4, 8, 61
TINY = dict(n_layers=1, n_hidden=8, sequence_length=L, batch_size=B)
LAMBDA = 0.5
EPS = 1e-7


def batch(seed=0, n_outputs=P, monophonic=False):
    """A fixed batch: binary X (B × L × P), Y (B × n_outputs), chord vectors (row 3: no chord), weights 1."""
    rng = np.random.default_rng(seed)
    X = (rng.random((B, L, P)) < 0.1).astype(np.float32)
    if monophonic:
        Y = np.zeros((B, n_outputs), np.float32)
        Y[np.arange(B), rng.integers(0, n_outputs, B)] = 1.0
    else:
        Y = (rng.random((B, n_outputs)) < 0.1).astype(np.float32)
    chords = np.zeros((B, 12), np.float32)
    chords[:3] = CHORD_VECTORS[[0, 13, 57]]
    return X, Y, chords, np.ones(B, np.float32)


def numpy_bce(probabilities, targets):
    p = np.clip(np.asarray(probabilities, np.float64), EPS, 1 - EPS)
    return -(targets * np.log(p) + (1 - targets) * np.log(1 - p))          # B × P


def numpy_chord_cost(probabilities, chords, lowest_pitch=24):
    profile = np.asarray(probabilities, np.float64) @ fold_matrix(probabilities.shape[1], lowest_pitch)
    dot = (profile * chords).sum(axis=1)
    norms = np.linalg.norm(profile, axis=1) * np.linalg.norm(chords, axis=1)
    cosine = np.clip(dot / (norms + 1e-7), -1 + 1e-6, 1 - 1e-6)
    return np.arccos(cosine) / np.pi


@contextlib.contextmanager
def restored(*models):
    """Give the models back the state they had on entry."""
    states = [model.get_state() for model in models]
    try:
        yield
    finally:
        for model, state in zip(models, states):
            model.set_state(state)


@pytest.fixture(scope='module')
def poly():
    return RNNModel(ModelConfig(**TINY))


@pytest.fixture(scope='module')
def chordal():
    return RNNModel(ModelConfig(**TINY, chord_weight=LAMBDA))


@pytest.fixture(scope='module')
def mono():
    return RNNModel(ModelConfig(**TINY, mode='monophonic'))


# --------------------------------------------------------------------------- fold_matrix, chord_cost

@pytest.mark.parametrize('lowest_pitch', [24, 25, 31])
def test_fold_matrix_sums_pitch_classes(lowest_pitch):
    fold = fold_matrix(P, lowest_pitch)
    assert fold.shape == (P, 12) and fold.dtype == np.float32
    np.testing.assert_array_equal(fold.sum(axis=1), np.ones(P))             # each pitch in one class
    for j in range(P):
        assert fold[j, (j + lowest_pitch) % 12] == 1.0
    rng = np.random.default_rng(1)
    probabilities = rng.random((3, P))
    expected = np.zeros((3, 12))
    for j in range(P):
        expected[:, (j + lowest_pitch) % 12] += probabilities[:, j]
    np.testing.assert_allclose(probabilities @ fold, expected, rtol=1e-6)


def test_fold_matrix_column_zero_is_c_when_lowest_is_c():
    fold = fold_matrix(P, 24)                                 # MIDI 24 = C1
    assert np.flatnonzero(fold[:, 0]).tolist() == [0, 12, 24, 36, 48, 60]
    fold = fold_matrix(P, 25)                                 # MIDI 25 = C#1: C is column 11, 23, …
    assert np.flatnonzero(fold[:, 0]).tolist() == [11, 23, 35, 47, 59]


@pytest.fixture(scope='module')
def chord_cost_function():
    probabilities = pt.matrix('probabilities', dtype='float32')
    chords = pt.matrix('chords', dtype='float32')
    fold = pt.constant(fold_matrix(P, 24))
    return pytensor.function([probabilities, chords], chord_cost(probabilities, chords, fold), mode='FAST_COMPILE')


def test_chord_cost_matches_numpy(chord_cost_function):
    rng = np.random.default_rng(2)
    probabilities = rng.random((5, P)).astype(np.float32)
    chords = CHORD_VECTORS[[0, 7, 30, 61, 119]].astype(np.float32)
    cost = chord_cost_function(probabilities, chords)
    assert cost.shape == (5,)
    np.testing.assert_allclose(cost, numpy_chord_cost(probabilities, chords), atol=1e-5)
    assert np.all((cost > 0) & (cost < 1))


def test_chord_cost_is_zero_when_profile_matches_chord(chord_cost_function):
    chords = CHORD_VECTORS[[0, 13, 50]].astype(np.float32)
    probabilities = np.zeros((3, P), np.float32)
    for row, (octave, scale) in enumerate([(3, 0.5), (1, 0.9), (4, 0.1)]):
        # one octave of pitches, p ∝ the chord vector's weight of its pitch class (lowest 24 = C)
        probabilities[row, 12 * octave:12 * octave + 12] = scale * chords[row]
    cost = chord_cost_function(probabilities, chords)
    np.testing.assert_allclose(cost, 0.0, atol=1e-3)         # the clip at 1 − 1e-6 leaves ≈ 4.5e-4
    # the opposite: probabilities only outside the chord give a cost near 1/2 (orthogonal)
    outside = np.zeros((3, P), np.float32)
    outside[:, 12:24] = (chords == 0).astype(np.float32)
    np.testing.assert_allclose(chord_cost_function(outside, chords), 0.5, atol=1e-3)


# --------------------------------------------------------------------------- ModelConfig

@pytest.mark.parametrize('kwargs, message', [
    (dict(n_layers=3), 'n_layers must be 1 or 2, not 3'),
    (dict(optimizer='foo'), "optimizer must be one of .*'adam'.*not 'foo'"),
    (dict(mode='x'), "mode must be one of .*'monophonic'.*not 'x'"),
    (dict(n_hidden=0), 'n_hidden must be positive, not 0'),
    (dict(batch_size=-1), 'batch_size must be positive'),
    (dict(sequence_length=0), 'sequence_length must be positive'),
])
def test_model_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


def test_model_config_outputs():
    assert ModelConfig().n_outputs == 61
    assert ModelConfig(mode='monophonic').n_outputs == 62
    assert ModelConfig(n_pitches=10, mode='monophonic').n_outputs == 11


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend must be one of .*not 'cuda'"):
        RNNModel(ModelConfig(**TINY), backend='cuda')


# --------------------------------------------------------------------------- polyphonic model

def test_predict_shape_and_range(poly):
    X, _, _, _ = batch()
    probabilities = np.asarray(poly.predict(X))
    assert probabilities.shape == (B, P)
    assert probabilities.dtype == np.float32
    assert np.all((probabilities > 0) & (probabilities < 1))
    assert not np.allclose(probabilities[0], probabilities[1])   # depends on the input


def test_parameter_names_and_shapes(poly):
    state = poly.get_state()
    n = TINY['n_hidden']
    assert state['lstm1.W_in_to_ingate'].shape == (P, n)
    assert state['lstm1.W_hid_to_cell'].shape == (n, n)
    assert state['lstm1.W_cell_to_outgate'].shape == (n,)
    assert state['output.W'].shape == (n, P) and state['output.b'].shape == (P,)
    assert all(value.dtype == np.float32 for value in state.values())
    # adagrad: one accumulator per trainable parameter, with its shape
    accumulators = [name for name in state if name.startswith('adagrad_state')]
    assert len(accumulators) == len(poly.params)


def test_train_decreases_cost_on_fixed_batch(poly):
    data = batch(seed=3)
    with restored(poly):
        costs = [float(poly.train(*data)[0]) for _ in range(30)]
    assert all(np.isfinite(costs))
    assert costs[-1] < 0.8 * costs[0]
    assert costs[10] < costs[0] and costs[-1] < costs[10]


def test_train_without_chords_returns_note_cost(poly):
    X, Y, chords, weights = batch(seed=4)
    probabilities = np.asarray(poly.predict(X))
    with restored(poly):
        cost, note_cost, chord_term = (float(v) for v in poly.train(X, Y, chords, weights)[:3])
    assert chord_term == 0.0
    assert cost == pytest.approx(note_cost, abs=1e-7)
    # note cost: BCE averaged over pitches and examples, from the parameters before the step
    assert note_cost == pytest.approx(numpy_bce(probabilities, Y).mean(), abs=1e-5)


def test_validate_nll_is_bce_summed_over_pitches_weighted(poly):
    X, Y, chords, _ = batch(seed=5)
    weights = np.array([1.0, 0.5, 0.0, 2.0], np.float32)
    probabilities = np.asarray(poly.predict(X))
    cost, nll_sum, total_weight = (float(v) for v in poly.validate(X, Y, chords, weights))
    bce = numpy_bce(probabilities, Y)
    assert total_weight == pytest.approx(3.5)
    assert nll_sum == pytest.approx((weights * bce.sum(axis=1)).sum(), abs=1e-3)
    assert cost == pytest.approx((weights * bce.mean(axis=1)).sum() / weights.sum(), abs=1e-5)
    # validate is a pure function: no parameter changes
    assert float(poly.validate(X, Y, chords, weights)[1]) == nll_sum


def test_rows_with_weight_zero_do_not_count(poly):
    X, Y, chords, _ = batch(seed=6)
    weights = np.array([1, 1, 0, 1], np.float32)
    before = [float(v) for v in poly.validate(X, Y, chords, weights)]
    X2, Y2 = X.copy(), Y.copy()
    X2[2], Y2[2] = 1.0 - X[2], 1.0 - Y[2]                        # a very different padding row
    after = [float(v) for v in poly.validate(X2, Y2, chords, weights)]
    assert after == pytest.approx(before, abs=1e-6)
    assert float(poly.validate(X2, Y2, chords, np.ones(B, np.float32))[1]) != pytest.approx(before[1], abs=1e-3)
    # and a training step ignores the row too: the same parameters come out
    with restored(poly):
        poly.train(X, Y, chords, weights)
        first = poly.get_state()
    with restored(poly):
        poly.train(X2, Y2, chords, weights)
        second = poly.get_state()
    for name in first:
        np.testing.assert_allclose(second[name], first[name], atol=1e-6, err_msg=name)


# --------------------------------------------------------------------------- the chord cost in the model

def test_chord_weight_adds_lambda_times_chord_cost(poly, chordal):
    X, Y, chords, weights = batch(seed=7)
    weights[1] = 0.0                                            # padding: no chord cost either
    probabilities = np.asarray(chordal.predict(X))
    with restored(poly, chordal):
        poly.set_state(chordal.get_state())                     # the same parameters, λ = 0
        plain_cost, plain_note, _ = (float(v) for v in poly.train(X, Y, chords, weights)[:3])
        cost, note_cost, chord_term = (float(v) for v in chordal.train(X, Y, chords, weights)[:3])
    # rows 0 and 2 have a chord and weight 1; row 1 has weight 0, row 3 no chord
    expected_chord = numpy_chord_cost(probabilities, chords)[[0, 2]].mean()
    assert chord_term == pytest.approx(expected_chord, abs=1e-5)
    assert chord_term > 0.05
    assert note_cost == pytest.approx(plain_note, abs=1e-6)
    assert cost == pytest.approx(note_cost + LAMBDA * chord_term, abs=1e-6)
    assert cost > plain_cost + 0.01


def test_chord_cost_zero_without_any_chord(chordal):
    X, Y, _, weights = batch(seed=8)
    with restored(chordal):
        cost, note_cost, chord_term = (float(v) for v in chordal.train(X, Y, np.zeros((B, 12), np.float32), weights)[:3])
    assert chord_term == 0.0 and cost == pytest.approx(note_cost, abs=1e-7)


# --------------------------------------------------------------------------- monophonic

def test_monophonic_softmax_over_pitches_and_rest(mono):
    X, Y, chords, weights = batch(seed=9, n_outputs=P + 1, monophonic=True)
    probabilities = np.asarray(mono.predict(X))
    assert probabilities.shape == (B, P + 1)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(probabilities > 0)
    _, nll_sum, total_weight = (float(v) for v in mono.validate(X, Y, chords, weights))
    expected = -np.log(np.clip(probabilities[Y == 1].astype(np.float64), EPS, 1 - EPS)).sum()
    assert total_weight == B
    assert nll_sum == pytest.approx(expected, abs=1e-3)
    with restored(mono):
        costs = [float(mono.train(X, Y, chords, weights)[0]) for _ in range(15)]
    assert costs[0] == pytest.approx(expected / B, abs=1e-4)
    assert costs[-1] < costs[0]


# --------------------------------------------------------------------------- state

def test_get_state_set_state_round_trip(poly):
    X, Y, chords, weights = batch(seed=10)
    state = poly.get_state()
    before = np.asarray(poly.predict(X)).copy()
    with restored(poly):
        state['output.b'][:] = 123.0                            # get_state gives copies
        assert np.asarray(poly.predict(X)) == pytest.approx(before)
        state = poly.get_state()
        poly.train(X, Y, chords, weights)
        assert not np.allclose(np.asarray(poly.predict(X)), before)
        assert not np.allclose(poly.get_state()['adagrad_state0'], state['adagrad_state0'])
        poly.set_state(state)
        np.testing.assert_array_equal(np.asarray(poly.predict(X)), before)
        for name, value in poly.get_state().items():
            np.testing.assert_array_equal(value, state[name], err_msg=name)


def test_get_state_gives_numpy_arrays_after_training(poly):
    with restored(poly):
        poly.train(*batch(seed=12))
        kinds = {type(value) for value in poly.get_state().values()}
    assert kinds == {np.ndarray}, kinds


def test_set_state_missing_name(poly):
    state = poly.get_state()
    del state['output.b']
    with pytest.raises(CheckpointError, match=r"missing \['output.b'\]"):
        poly.set_state(state)


def test_set_state_extra_name(poly):
    state = poly.get_state()
    state['lstm9.W'] = np.zeros(3, np.float32)
    with pytest.raises(CheckpointError, match=r"unexpected \['lstm9.W'\]"):
        poly.set_state(state)


def test_set_state_wrong_shape_names_the_parameter(poly):
    state = poly.get_state()
    state['lstm1.W_hid_to_cell'] = np.zeros((9, 8), np.float32)
    with pytest.raises(CheckpointError, match=r'lstm1\.W_hid_to_cell has shape \(9, 8\), the model needs \(8, 8\)'):
        poly.set_state(state)


# --------------------------------------------------------------------------- JAX and C agree

def test_jax_and_c_backends_agree(chordal):
    c_model = RNNModel(ModelConfig(**TINY, chord_weight=LAMBDA), backend='c')
    X, Y, chords, weights = batch(seed=11)
    with restored(chordal):
        c_model.set_state(chordal.get_state())
        np.testing.assert_allclose(c_model.predict(X), np.asarray(chordal.predict(X)), atol=1e-5)
        np.testing.assert_allclose(c_model.validate(X, Y, chords, weights),
                                   [np.asarray(v) for v in chordal.validate(X, Y, chords, weights)], atol=1e-4)
        for _ in range(3):
            jax_out = [float(v) for v in chordal.train(X, Y, chords, weights)]
            c_out = [float(v) for v in c_model.train(X, Y, chords, weights)]
            np.testing.assert_allclose(c_out, jax_out, atol=1e-4)
        jax_state, c_state = chordal.get_state(), c_model.get_state()
        for name in jax_state:
            np.testing.assert_allclose(c_state[name], jax_state[name], atol=1e-4, err_msg=name)


# --------------------------------------------------------------------------- what a run leaves and prints

AFTER_A_RUN = '''
import numpy as np
from bach2.models.checkpoints import SHIPPED_MODEL, load_rnn_checkpoint
from bach2.models.model_config import ModelConfig
from bach2.music.metre import regular_positions
from bach2.rnn_model import RNNModel
from bach2.sampling import Sampler
config, state, _ = load_rnn_checkpoint(SHIPPED_MODEL)
primer = np.zeros((4, 2 * config.n_pitches), np.uint8)
Sampler(config, state).continue_piece(primer, 8, context='carry', positions=regular_positions(12, 16, 0))
model = RNNModel(ModelConfig(n_layers=1, n_hidden=8, sequence_length=8, batch_size=4, optimizer='adam'))
rng = np.random.default_rng(0)
model.train((rng.random((4, 8, 61)) < .1).astype(np.float32), (rng.random((4, 61)) < .1).astype(np.float32),
            np.zeros((4, 12), np.float32), np.ones(4, np.float32))
'''


@pytest.fixture(scope='module')
def a_run(tmp_path_factory):
    """The shipped model's sampler draws 8 steps and a tiny model takes a training step, on JAX, in a process
    whose temporary folder is an empty one → (that folder, the completed process)."""
    folder = tmp_path_factory.mktemp('tmpdir')
    result = subprocess.run([sys.executable, '-c', AFTER_A_RUN], env={**os.environ, 'TMPDIR': str(folder)},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return folder, result


def test_a_run_leaves_no_temporary_file(a_run):
    folder, _ = a_run
    assert sorted(path.name for path in folder.iterdir()) == []


def test_a_run_prints_no_warning_about_64_bit_dtypes(a_run):
    _, result = a_run
    assert 'Explicitly requested dtype' not in result.stderr
