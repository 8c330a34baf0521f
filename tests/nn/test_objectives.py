"""bach2.nn.objectives: cross-entropies against hand-computed values, and aggregation."""
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bach2.nn.objectives import aggregate, binary_crossentropy, categorical_crossentropy

MODE = 'FAST_COMPILE'  # see tests/nn/test_layers.py: the default (Numba) compiles slowly
LOG_EPS = -np.log(np.float32(1e-7))  # ≈ 16.118: the loss of a prediction clipped at ε


def evaluate(expression):
    return pytensor.function([], expression, mode=MODE)()


def f32(values):
    return pt.as_tensor_variable(np.asarray(values, np.float32))


def test_binary_crossentropy_by_hand():
    predictions = f32([0.5, 0.9, 0.0, 1.0, 0.2])
    targets = f32([1.0, 0.0, 1.0, 1.0, 0.0])
    got = evaluate(binary_crossentropy(predictions, targets))
    # log 2;  -log(1 - 0.9);  p = 0 clipped to ε;  p = 1 clipped to 1 - ε (≈ 0);  -log(0.8)
    want = [np.log(2), -np.log(0.1), LOG_EPS, 0.0, -np.log(0.8)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-7)
    assert got.dtype == np.float32 and np.all(np.isfinite(got))


def test_binary_crossentropy_gradient_stays_finite_when_saturated():
    p = pt.vector(dtype='float32')
    grad = pytensor.grad(binary_crossentropy(p, f32([1.0, 0.0])).sum(), p)
    got = pytensor.function([p], grad, mode=MODE)(np.array([0.0, 1.0], np.float32))
    assert np.all(np.isfinite(got))


def test_categorical_crossentropy_by_hand():
    predictions = f32([[0.2, 0.7, 0.1], [0.5, 0.5, 0.0]])
    targets = f32([[0, 1, 0], [0, 0, 1]])
    got = evaluate(categorical_crossentropy(predictions, targets))
    np.testing.assert_allclose(got, [-np.log(0.7), LOG_EPS], rtol=1e-5)  # class 2 clipped at ε
    cube = evaluate(categorical_crossentropy(predictions[None], targets[None]))
    assert cube.shape == (1, 2) and cube.dtype == np.float32
    np.testing.assert_allclose(cube[0], got)
    with pytest.raises(ValueError, match='one-hot'):
        categorical_crossentropy(predictions, f32([1, 2]))


def test_aggregate_modes():
    loss = f32([[1, 2], [3, 4]])
    weights = f32([[1, 0], [1, 1]])
    got = evaluate([aggregate(loss), aggregate(loss, mode='sum'),
                    aggregate(loss, weights), aggregate(loss, weights, mode='sum'),
                    aggregate(loss, weights, mode='normalized_sum')])
    np.testing.assert_allclose(got, [2.5, 10.0, 2.0, 8.0, 8 / 3], rtol=1e-6)
    assert {np.asarray(g).dtype for g in got} == {np.dtype(np.float32)}
    with pytest.raises(ValueError, match='needs weights'):
        aggregate(loss, mode='normalized_sum')
    with pytest.raises(ValueError, match="got 'max'"):
        aggregate(loss, mode='max')
