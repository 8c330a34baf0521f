"""bach2.nn.layers: Lasagne's LSTM and dense layers, checked against plain NumPy."""
import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bach2.nn import layers as L
from bach2.nn.objectives import aggregate, binary_crossentropy
from bach2.nn.updates import sgd

B, T, F, N = 2, 4, 3, 5  # batch, time steps, input features, LSTM units


# --------------------------------------------------------------------------- NumPy reference

def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_reference(x, p, peepholes=True, backwards=False, mask=None, only_final=False):
    """The LSTM equations, step by step in float64. x: (batch, time, features); p: Lasagne names."""
    n_batch, n_steps, _ = x.shape
    c = np.repeat(p['cell_init'], n_batch, axis=0)
    h = np.repeat(p['hid_init'], n_batch, axis=0)
    out = np.zeros((n_batch, n_steps, h.shape[1]))
    for t in (reversed(range(n_steps)) if backwards else range(n_steps)):
        def pre(gate):
            return x[:, t] @ p[f'W_in_to_{gate}'] + h @ p[f'W_hid_to_{gate}'] + p[f'b_{gate}']
        i, f, o = pre('ingate'), pre('forgetgate'), pre('outgate')
        if peepholes:
            i, f = i + c * p['W_cell_to_ingate'], f + c * p['W_cell_to_forgetgate']
        c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(pre('cell'))
        if peepholes:
            o = o + c_new * p['W_cell_to_outgate']
        h_new = sigmoid(o) * np.tanh(c_new)
        if mask is not None:
            real = mask[:, t, None] > 0
            c_new, h_new = np.where(real, c_new, c), np.where(real, h_new, h)
        c, h = c_new, h_new
        out[:, t] = h
    return h if only_final else out


def randomize(layer, rng, scale=0.5):
    """Give every parameter (biases and initial states too) random values; return them by name."""
    params = layer.get_params()
    L.set_all_param_values(layer, [rng.normal(0, scale, p.get_value().shape) for p in params])
    return {p.name.split('.')[-1]: p.get_value().astype(np.float64) for p in params}


# PyTensor 3.0.7 compiles with Numba by default, which takes 10-40 s per scan graph here.
# FAST_COMPILE (few rewrites, C thunks) runs these checks in about a second each; the
# backend test below compiles the full C backend ('CVM', every rewrite) against JAX.
MODE = 'FAST_COMPILE'


def compile_fn(inputs, outputs, mode=MODE):
    return pytensor.function(inputs, outputs, mode=mode)


@pytest.fixture
def rng():
    L.set_rng(np.random.RandomState(42))
    return np.random.RandomState(0)


@pytest.fixture
def jax_float32():
    """Run JAX in 32-bit mode for the test, then restore the previous setting.

    PyTensor 3.0.7 switches JAX's 64-bit mode on when floatX is float64, and its
    JAX Sum then returns float64 for a float32 sum (it casts to the float64
    accumulator), which breaks float32 gradient scans.
    """
    jax = pytest.importorskip('jax')
    import pytensor.link.jax.dispatch  # noqa: F401  sets jax_enable_x64 from floatX on import
    before = jax.config.read('jax_enable_x64')
    jax.config.update('jax_enable_x64', False)
    with warnings.catch_warnings():  # the float64 accumulators come back as float32: intended
        warnings.filterwarnings('ignore', 'Explicitly requested dtype float64', UserWarning)
        yield
    jax.config.update('jax_enable_x64', before)


# --------------------------------------------------------------------------- init, nonlinearities

def test_initialisers_give_float32_arrays_of_the_shape(rng):
    for init in (L.Normal(0.1), L.Constant(3.), L.Uniform(0.2), L.Uniform((1., 2.)),
                 L.GlorotUniform()):
        value = init((4, 6))
        assert (value.shape, value.dtype) == ((4, 6), np.float32)
    assert np.all(L.Constant(3.)((2,)) == 3)
    assert np.all(np.abs(L.GlorotUniform()((4, 6))) <= np.sqrt(6 / 10))
    assert np.all((L.Uniform((1., 2.))((50,)) >= 1) & (L.Uniform((1., 2.))((50,)) <= 2))


def test_set_rng_makes_initialisation_reproducible():
    L.set_rng(np.random.RandomState(7))
    first = L.Normal(1.)((3, 3))
    L.set_rng(np.random.RandomState(7))
    np.testing.assert_array_equal(L.Normal(1.)((3, 3)), first)
    assert isinstance(L.get_rng(), np.random.RandomState)


def test_nonlinearities():
    x = np.array([[-2., 0., 3.], [1., 1., 1.]], np.float32)
    v = pt.matrix(dtype='float32')
    f = compile_fn([v], [L.sigmoid(v), L.tanh(v), L.rectify(v), L.softmax(v), L.identity(v)])
    got = f(x)
    for have, want in zip(got, [sigmoid(x), np.tanh(x), np.maximum(x, 0),
                                np.exp(x) / np.exp(x).sum(1, keepdims=True), x]):
        np.testing.assert_allclose(have, want, rtol=1e-6, atol=1e-7)
    cube = pt.tensor3(dtype='float32')
    probs = compile_fn([cube], L.softmax(cube))(np.stack([x, 2 * x]))
    np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-6)
    assert probs.dtype == np.float32


# --------------------------------------------------------------------------- LSTM forward

LSTM_CASES = {
    'default': {},
    'no peepholes': dict(peepholes=False),
    'backwards': dict(backwards=True),
    'only final': dict(only_return_final=True),
    'backwards, only final': dict(backwards=True, only_return_final=True),
    'not precomputed': dict(precompute_input=False),
    'learned init': dict(learn_init=True),
}


@pytest.mark.parametrize('options', LSTM_CASES.values(), ids=LSTM_CASES.keys())
def test_lstm_forward_matches_numpy(rng, options):
    l_in = L.InputLayer((B, T, F))
    lstm = L.LSTMLayer(l_in, N, **options)
    p = randomize(lstm, rng)
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    got = compile_fn([l_in.input_var], L.get_output(lstm))(x)
    want = lstm_reference(x.astype(np.float64), p, peepholes=options.get('peepholes', True),
                          backwards=options.get('backwards', False),
                          only_final=options.get('only_return_final', False))
    assert got.shape == lstm.output_shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('backwards', [False, True])
def test_lstm_mask_zeros_carry_the_state(rng, backwards):
    l_in, l_mask = L.InputLayer((B, T, F)), L.InputLayer((B, T))
    lstm = L.LSTMLayer(l_in, N, mask_input=l_mask, backwards=backwards)
    p = randomize(lstm, rng)
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    mask = np.array([[1, 1, 0, 0], [1, 0, 1, 1]], np.float32)
    got = compile_fn([l_in.input_var, l_mask.input_var], L.get_output(lstm))(x, mask)
    np.testing.assert_allclose(got, lstm_reference(x, p, mask=mask, backwards=backwards),
                               rtol=1e-5, atol=1e-5)
    if not backwards:  # padding after the end repeats the last real state
        np.testing.assert_array_equal(got[0, 2], got[0, 1])
        np.testing.assert_array_equal(got[0, 3], got[0, 1])


def test_precompute_input_gives_identical_outputs(rng):
    l_in = L.InputLayer((B, T, F))
    a = L.LSTMLayer(l_in, N, precompute_input=True)
    b = L.LSTMLayer(l_in, N, precompute_input=False)
    randomize(a, rng)
    L.set_all_param_values(b, L.get_all_param_values(a))
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    out_a, out_b = compile_fn([l_in.input_var], L.get_output([a, b]))(x)
    np.testing.assert_allclose(out_a, out_b, rtol=1e-6, atol=1e-6)


def test_output_shapes_and_parameter_counts():
    l_in = L.InputLayer((B, T, F))
    lstm = L.LSTMLayer(l_in, N)
    assert lstm.output_shape == (B, T, N)
    assert L.LSTMLayer(l_in, N, only_return_final=True).output_shape == (B, N)
    n_gates = 4 * (F * N + N * N + N)
    assert L.count_params(lstm, trainable=True) == n_gates + 3 * N  # + peepholes
    assert L.count_params(lstm) == n_gates + 3 * N + 2 * N  # + cell_init, hid_init
    assert L.count_params(L.LSTMLayer(l_in, N, peepholes=False), trainable=True) == n_gates
    names = [p.name for p in L.LSTMLayer(l_in, N, name='lstm1').get_params()]
    assert names[:3] == ['lstm1.W_in_to_ingate', 'lstm1.W_hid_to_ingate', 'lstm1.b_ingate']
    assert names[-5:] == ['lstm1.W_cell_to_ingate', 'lstm1.W_cell_to_forgetgate',
                          'lstm1.W_cell_to_outgate', 'lstm1.cell_init', 'lstm1.hid_init']


@pytest.mark.parametrize('learn_init', [False, True])
def test_learn_init_decides_whether_initial_states_train(learn_init):
    lstm = L.LSTMLayer(L.InputLayer((B, T, F)), N, learn_init=learn_init)
    trainable = L.get_all_params(lstm, trainable=True)
    assert (lstm.hid_init in trainable) is learn_init
    assert (lstm.cell_init in trainable) is learn_init
    assert lstm.b_ingate not in L.get_all_params(lstm, regularizable=True)
    assert lstm.W_in_to_ingate in L.get_all_params(lstm, regularizable=True)


def test_everything_stays_float32():
    """Inputs, parameters, outputs, loss and gradients are float32 whatever floatX is."""
    l_in = L.InputLayer((B, T, F))
    l_out = L.DenseLayer(L.LSTMLayer(l_in, N, grad_clipping=5), 2, num_leading_axes=2)
    out = L.get_output(l_out)
    loss = aggregate(binary_crossentropy(out, pt.ones_like(out)))
    params = L.get_all_params(l_out)
    grads = pytensor.grad(loss, L.get_all_params(l_out, trainable=True))
    assert l_in.input_var.dtype == out.dtype == loss.dtype == 'float32'
    assert {p.dtype for p in params} == {g.dtype for g in grads} == {'float32'}


# --------------------------------------------------------------------------- LSTM gradients

@pytest.mark.parametrize('backwards', [False, True])
def test_lstm_gradients_match_finite_differences(rng, backwards):
    """Symbolic float32 gradients against central differences of the float64 reference."""
    b, t, f, n = 2, 3, 2, 3
    l_in, l_mask = L.InputLayer((b, t, f)), L.InputLayer((b, t))
    lstm = L.LSTMLayer(l_in, n, mask_input=l_mask, learn_init=True, backwards=backwards)
    p = randomize(lstm, rng)
    x = rng.normal(size=(b, t, f)).astype(np.float32)
    mask = np.array([[1, 1, 1], [1, 1, 0]], np.float32)
    weights = rng.normal(size=(b, t, n))
    loss = (L.get_output(lstm) * weights.astype(np.float32)).sum()
    params = lstm.get_params()
    grads = compile_fn([l_in.input_var, l_mask.input_var], pytensor.grad(loss, params))(x, mask)

    def reference_loss(values):
        return (lstm_reference(x, values, mask=mask, backwards=backwards) * weights).sum()

    eps = 1e-6
    for param, grad in zip(params, grads):
        name = param.name
        numeric = np.zeros_like(p[name])
        for idx in np.ndindex(p[name].shape):
            shifted = {k: v.copy() for k, v in p.items()}
            shifted[name][idx] += eps
            up = reference_loss(shifted)
            shifted[name][idx] -= 2 * eps
            numeric[idx] = (up - reference_loss(shifted)) / (2 * eps)
        assert np.abs(numeric).max() > 1e-3, name  # the check is not vacuous
        np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=2e-5, err_msg=name)


def test_grad_clipping_keeps_forward_and_bounds_gate_gradients(rng):
    l_in = L.InputLayer((B, T, F))
    free = L.LSTMLayer(l_in, N)
    clipped = L.LSTMLayer(l_in, N, grad_clipping=1.0)
    tiny = L.LSTMLayer(l_in, N, grad_clipping=1e-6)
    randomize(free, rng)
    for other in (clipped, tiny):
        L.set_all_param_values(other, L.get_all_param_values(free))
    weights = rng.normal(size=(B, T, N)).astype(np.float32)
    grads = []
    for layer, scale in ((free, 1e6), (clipped, 1e6), (free, 1.0), (tiny, 1.0)):
        loss = np.float32(scale) * (L.get_output(layer) * weights).sum()
        grads += pytensor.grad(loss, [layer.b_ingate, layer.W_hid_to_cell, layer.W_in_to_outgate])
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    values = compile_fn([l_in.input_var], L.get_output([free, clipped, tiny]) + grads)(x)
    out_free, out_clipped, out_tiny = values[:3]
    big_free, big_clipped, small_free, small_tiny = (values[3 + 3 * k:6 + 3 * k] for k in range(4))
    np.testing.assert_array_equal(out_clipped, out_free)
    np.testing.assert_array_equal(out_tiny, out_free)
    # each gate pre-activation gradient is within ±1 per (batch, step), so:
    # |d b| <= B*T;  |d W_hid| <= B*T (|h| < 1);  |d W_in[i]| <= sum over batch and steps of |x_i|
    bounds = [B * T, B * T, np.abs(x).sum(axis=(0, 1))[:, None]]
    for g_free, g_clipped, bound in zip(big_free, big_clipped, bounds):
        assert np.all(np.abs(g_clipped) <= bound * (1 + 1e-5))
        assert np.any(np.abs(g_free) > bound)
    for g_free, g_tiny in zip(small_free, small_tiny):
        assert np.abs(g_tiny).max() < 1e-3 * np.abs(g_free).max()


# --------------------------------------------------------------------------- dense, helpers

def test_dense_layer_per_time_step_and_flattened(rng):
    l_in = L.InputLayer((B, T, F))
    per_step = L.DenseLayer(l_in, 2, num_leading_axes=2)
    flat = L.DenseLayer(l_in, 2, nonlinearity=None)
    last_axis = L.DenseLayer(l_in, 2, num_leading_axes=-1)
    assert per_step.output_shape == last_axis.output_shape == (B, T, 2)
    assert flat.output_shape == (B, 2) and flat.W.get_value().shape == (T * F, 2)
    p1, p2 = randomize(per_step, rng), randomize(flat, rng)
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    got_step, got_flat = compile_fn([l_in.input_var], L.get_output([per_step, flat]))(x)
    np.testing.assert_allclose(got_step, sigmoid(x @ p1['W'] + p1['b']), rtol=1e-5, atol=1e-6)
    # (batch, time, features) -> (batch, time*features), time-major within each row
    np.testing.assert_allclose(got_flat, x.reshape(B, T * F) @ p2['W'] + p2['b'],
                               rtol=1e-5, atol=1e-5)


def test_constructors_check_shapes_and_name_the_layer():
    l_in = L.InputLayer((B, T, F))
    with pytest.raises(ValueError, match=r"DenseLayer 'out'.*num_leading_axes=3"):
        L.DenseLayer(l_in, 2, num_leading_axes=3, name='out')
    with pytest.raises(ValueError, match=r"LSTMLayer 'lstm'.*3-D.*\(2, 3\)"):
        L.LSTMLayer(L.InputLayer((2, 3)), N, name='lstm')
    with pytest.raises(ValueError, match=r"LSTMLayer 'lstm'.*mask shape \(2, 3\)"):
        L.LSTMLayer(l_in, N, mask_input=L.InputLayer((2, 3)), name='lstm')
    with pytest.raises(ValueError, match=r"LSTMLayer 'lstm': num_units must be a positive int"):
        L.LSTMLayer(l_in, 0, name='lstm')
    with pytest.raises(ValueError, match='static shapes'):
        L.InputLayer((None, T, F))
    with pytest.raises(ValueError, match=r"W_hid_to_ingate should have shape \(5, 5\)"):
        L.LSTMLayer(l_in, N, ingate=L.Gate(W_hid=np.zeros((4, 4))))


def test_set_all_param_values_round_trip_and_errors(rng):
    net = L.DenseLayer(L.LSTMLayer(L.InputLayer((B, T, F)), N, name='lstm'), 2, name='out')
    values = [v + 1 for v in L.get_all_param_values(net)]
    L.set_all_param_values(net, values)
    for got, want in zip(L.get_all_param_values(net), values):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.float32
    with pytest.raises(ValueError, match='got 2 values for 19 parameters'):
        L.set_all_param_values(net, values[:2])
    wrong = list(values)
    wrong[1] = np.zeros((4, 4))
    with pytest.raises(ValueError, match=r'lstm.W_hid_to_ingate has shape \(5, 5\) but its '
                                         r'value has shape \(4, 4\)'):
        L.set_all_param_values(net, wrong)
    np.testing.assert_array_equal(L.get_all_param_values(net)[0], values[0])  # nothing half-set


def test_get_output_with_given_inputs(rng):
    l_in = L.InputLayer((B, F))
    l_hidden = L.DenseLayer(l_in, 4, nonlinearity=None, b=None)
    l_out = L.DenseLayer(l_hidden, 1, nonlinearity=None, b=None)
    assert L.get_all_layers(l_out) == [l_in, l_hidden, l_out]
    x = pt.matrix(dtype='float32')
    h = pt.matrix(dtype='float32')
    via_input = L.get_output(l_out, x)
    via_hidden = L.get_output(l_out, {l_hidden: h})
    data = rng.normal(size=(B, F)).astype(np.float32)
    hidden = data @ l_hidden.W.get_value()
    np.testing.assert_allclose(compile_fn([x], via_input)(data), hidden @ l_out.W.get_value(),
                               rtol=1e-5)
    np.testing.assert_allclose(compile_fn([h], via_hidden)(hidden), hidden @ l_out.W.get_value(),
                               rtol=1e-5)
    lstm = L.LSTMLayer(L.InputLayer((B, T, F)), N, mask_input=L.InputLayer((B, T)))
    with pytest.raises(ValueError, match='2 InputLayers'):
        L.get_output(lstm, pt.tensor3())


# --------------------------------------------------------------------------- JAX backend

def test_jax_and_c_backends_agree(rng, jax_float32):
    l_in = L.InputLayer((B, T, F))
    l_lstm = L.LSTMLayer(l_in, N, grad_clipping=10)
    l_out = L.DenseLayer(l_lstm, 3, num_leading_axes=2)
    randomize(l_lstm, rng)
    targets = pt.tensor(dtype='float32', shape=(B, T, 3))
    loss = aggregate(binary_crossentropy(L.get_output(l_out), targets))
    params = L.get_all_params(l_out, trainable=True)
    outputs = [loss] + pytensor.grad(loss, params)
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    y = (rng.uniform(size=(B, T, 3)) < 0.5).astype(np.float32)
    default = compile_fn([l_in.input_var, targets], outputs, mode='CVM')(x, y)
    jax = compile_fn([l_in.input_var, targets], outputs, mode='JAX')(x, y)
    for param, a, b in zip([None] + params, default, jax):
        assert np.asarray(b).dtype == np.float32
        np.testing.assert_allclose(np.asarray(b), a, rtol=1e-5, atol=1e-5, err_msg=str(param))


def test_param_values_are_numpy_after_a_jax_update(rng, jax_float32):
    """A JAX-mode update leaves JAX arrays in the shared variables; callers still get NumPy."""
    l_in = L.InputLayer((B, F))
    l_out = L.DenseLayer(l_in, 2)
    loss = L.get_output(l_out).sum()
    step = pytensor.function([l_in.input_var], loss, mode='JAX',
                             updates=sgd(loss, L.get_all_params(l_out), learning_rate=0.1))
    before = L.get_all_param_values(l_out)
    step(rng.normal(size=(B, F)).astype(np.float32))
    after = L.get_all_param_values(l_out)
    assert all(type(v) is np.ndarray and v.dtype == np.float32 for v in after)
    assert not np.allclose(after[0], before[0])
    L.set_all_param_values(l_out, before)
    np.testing.assert_array_equal(L.get_all_param_values(l_out)[0], before[0])
