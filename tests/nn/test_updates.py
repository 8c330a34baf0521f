"""bach2.nn.updates: ten steps on a toy quadratic against NumPy versions of each documented rule."""
import inspect

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bach2.nn import updates
MODE = 'FAST_COMPILE'  # see tests/nn/test_layers.py: the default (Numba) compiles slowly
STEPS = 10
# loss = Σ a·p² + Σ c·p over two parameters, so the gradient is 2·a·p + c
START = [np.array([1.0, -2.0, 0.5]), np.array([[0.3, -0.7], [1.5, 2.0]])]
A = [np.array([1.0, 0.5, 2.0]), np.array([[0.1, 1.0], [3.0, 0.2]])]
C = [np.array([0.1, -0.2, 0.0]), np.array([[0.5, 0.0], [-0.3, 0.1]])]


def gradients(values):
    return [2 * a * p + c for a, p, c in zip(A, values, C)]


def sgd_reference(lr):
    def step(state, values):
        return [p - lr * g for p, g in zip(values, gradients(values))]
    return step


def adagrad_reference(lr, eps):
    def step(state, values):
        grads = gradients(values)
        state['acc'] = [a + g ** 2 for a, g in zip(state.get('acc', [0, 0]), grads)]
        return [p - lr * g / np.sqrt(a + eps) for p, g, a in zip(values, grads, state['acc'])]
    return step


def rmsprop_reference(lr, rho, eps):
    def step(state, values):
        grads = gradients(values)
        state['acc'] = [rho * a + (1 - rho) * g ** 2
                        for a, g in zip(state.get('acc', [0, 0]), grads)]
        return [p - lr * g / np.sqrt(a + eps) for p, g, a in zip(values, grads, state['acc'])]
    return step


def adam_reference(lr, beta1, beta2, eps):
    def step(state, values):
        grads = gradients(values)
        t = state['t'] = state.get('t', 0) + 1
        state['m'] = [beta1 * m + (1 - beta1) * g for m, g in zip(state.get('m', [0, 0]), grads)]
        state['v'] = [beta2 * v + (1 - beta2) * g ** 2
                      for v, g in zip(state.get('v', [0, 0]), grads)]
        alpha = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        return [p - alpha * m / (np.sqrt(v) + eps)
                for p, m, v in zip(values, state['m'], state['v'])]
    return step


# epsilons large enough that putting them outside (or inside) the square root shows
CASES = {
    'sgd': (lambda loss, ps: updates.sgd(loss, ps, learning_rate=0.1), sgd_reference(0.1)),
    'adagrad': (lambda loss, ps: updates.adagrad(loss, ps, learning_rate=0.1, epsilon=0.5),
                adagrad_reference(0.1, 0.5)),
    'rmsprop': (lambda loss, ps: updates.rmsprop(loss, ps, learning_rate=0.01, rho=0.8,
                                                 epsilon=0.1),
                rmsprop_reference(0.01, 0.8, 0.1)),
    'adam': (lambda loss, ps: updates.adam(loss, ps, learning_rate=0.05, beta1=0.8, beta2=0.9,
                                           epsilon=0.1),
             adam_reference(0.05, 0.8, 0.9, 0.1)),
}


@pytest.mark.parametrize('make_updates, reference', CASES.values(), ids=CASES.keys())
def test_ten_steps_match_numpy(make_updates, reference):
    params = [pytensor.shared(p.astype(np.float32), name=f'p{k}') for k, p in enumerate(START)]
    loss = sum(pt.sum(np.float32(a) * p ** 2 + np.float32(c) * p)
               for a, p, c in zip(A, params, C))
    rule = make_updates(loss, params)
    assert all(new.dtype == 'float32' and shared.dtype == 'float32'
               for shared, new in rule.items())
    step = pytensor.function([], loss, updates=rule, mode=MODE)
    values, state = [p.copy() for p in START], {}
    for _ in range(STEPS):
        step()
        values = reference(state, values)
        for param, want in zip(params, values):
            np.testing.assert_allclose(param.get_value(), want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(params[0].get_value(), START[0])


def test_defaults_are_lasagnes():
    def defaults(fn):
        return {k: v.default for k, v in inspect.signature(fn).parameters.items()
                if v.default is not inspect.Parameter.empty}
    assert defaults(updates.adagrad) == {'learning_rate': 1.0, 'epsilon': 1e-6}
    assert defaults(updates.rmsprop) == {'learning_rate': 1.0, 'rho': 0.9, 'epsilon': 1e-6}
    assert defaults(updates.adam) == {'learning_rate': 0.001, 'beta1': 0.9, 'beta2': 0.999,
                                      'epsilon': 1e-8}


def test_given_gradients_are_used_as_they_are():
    param = pytensor.shared(np.ones(2, np.float32), name='p')
    rule = updates.sgd([pt.as_tensor_variable(np.array([1., -2.], np.float32))], [param], 0.5)
    pytensor.function([], [], updates=rule, mode=MODE)()
    np.testing.assert_allclose(param.get_value(), [0.5, 2.0])
    with pytest.raises(ValueError, match='got 2 gradients for 1 parameters'):
        updates.sgd([param, param], [param], 0.5)
    with pytest.raises(ValueError, match='must be shared variables'):
        updates.sgd(param.sum(), [pt.vector()], 0.5)


def test_total_norm_constraint_rescales_only_large_norms():
    values = [np.array([3., 0., 4.], np.float32), np.array([[0., 12.], [0., 0.]], np.float32)]
    tensors = [pt.as_tensor_variable(v) for v in values]  # total norm 13
    scaled, norm = updates.total_norm_constraint(tensors, max_norm=1.0, return_norm=True)
    kept = updates.total_norm_constraint(tensors, max_norm=100.0)
    got = pytensor.function([], [norm] + scaled + kept, mode=MODE)()
    assert got[0] == pytest.approx(13.0)
    assert np.sqrt(sum((g ** 2).sum() for g in got[1:3])) == pytest.approx(1.0, rel=1e-6)
    for small, big, original in zip(got[1:3], got[3:5], values):
        np.testing.assert_allclose(small, original / 13, rtol=1e-6)
        np.testing.assert_allclose(big, original, rtol=1e-6)
        assert small.dtype == big.dtype == np.float32
