"""bach2.nn.lstm_sequence: the fused LSTM recurrence equals LSTMLayer's scan (forward and every gradient, every option
the layer fuses), through PyTensor's C backend and through JAX; the JAX graph for other devices equals the kernels."""
import glob
import os
import signal
import threading
import time
import warnings

import jax
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bach2.nn import layers as L, lstm_sequence as ls
from bach2.rnn_model import ModelConfig, RNNModel
from bach2.sampling import Sampler
from test_layers import lstm_reference, randomize

B, T, F, N = 3, 5, 4, 6

CASES = {
    'default': dict(),
    'no peepholes': dict(peepholes=False),
    'backwards': dict(backwards=True),
    'only final': dict(only_return_final=True),
    'learned init': dict(learn_init=True),
    'clipping binds': dict(grad_clipping=0.05),
    'backwards, clipping binds': dict(backwards=True, grad_clipping=0.05),
    'reset and carried state': dict(reset=True),
    'reset, backwards, learned init': dict(reset=True, backwards=True, learn_init=True),
}


@pytest.fixture(autouse=True)
def float32_jax():
    """JAX in 32-bit mode (PyTensor turns 64-bit on when floatX is float64), restored after."""
    import pytensor.link.jax.dispatch  # noqa: F401
    before = jax.config.read('jax_enable_x64')
    jax.config.update('jax_enable_x64', False)
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'Explicitly requested dtype float64', UserWarning)
        yield
    jax.config.update('jax_enable_x64', before)


def build(options, fused, rng):
    """An LSTM layer with random parameters (the same for the same rng state) and its symbolic loss, gradients."""
    options = dict(options)
    with_reset = options.pop('reset', False)
    l_in = L.InputLayer((B, T, F))
    lstm = L.LSTMLayer(l_in, N, fused=fused, **options)
    randomize(lstm, rng)
    extra, kwargs = [], {}
    if with_reset:
        reset = pt.tensor('reset', dtype='float32', shape=(B, T))
        cell, hid = (pt.tensor(name, dtype='float32', shape=(B, N)) for name in ('cell', 'hid'))
        state_out = {}
        extra, kwargs = [reset, cell, hid], dict(reset=reset, state_in={lstm: (cell, hid)}, state_out=state_out)
    output = L.get_output(lstm, **kwargs)
    weights = pt.constant(np.random.RandomState(7).normal(size=lstm.output_shape).astype(np.float32))
    loss = (output * weights).sum() * np.float32(100.)      # large enough that a clip of 0.05 binds
    if with_reset:
        loss = loss + (state_out[lstm][0] * weights.reshape((-1,))[:N]).sum()
    wrt = lstm.get_params(trainable=True) + [l_in.input_var] + extra[1:]
    return lstm, [l_in.input_var] + extra, [output, loss] + pytensor.grad(loss, wrt)


@pytest.mark.parametrize('mode', ['CVM', 'JAX'])
@pytest.mark.parametrize('options', CASES.values(), ids=CASES.keys())
def test_the_fused_recurrence_equals_the_scan(options, mode):
    values = {}
    for fused in (True, False):
        lstm, inputs, outputs = build(options, fused, np.random.RandomState(0))
        assert lstm._fusable(None, None) == fused
        function = pytensor.function(inputs, outputs, mode=mode)
        ops = {type(node.op).__name__ for node in function.maker.fgraph.toposort()}
        assert ('LSTMSequence' in ops) == fused or mode == 'JAX'
        rng = np.random.RandomState(1)
        given = [rng.normal(size=(B, T, F)).astype(np.float32)]
        if len(inputs) > 1:
            reset = np.zeros((B, T), np.float32)
            reset[0, 2] = reset[2, 0] = reset[1, 4] = 1
            given += [reset] + [rng.normal(0, 0.5, size=(B, N)).astype(np.float32) for _ in range(2)]
        values[fused] = [np.asarray(value) for value in function(*given)]
    for k, (fused, scanned) in enumerate(zip(values[True], values[False])):
        assert fused.dtype == np.float32 and fused.shape == scanned.shape
        assert np.abs(scanned).max() > 1e-3, k                        # not vacuous
        np.testing.assert_allclose(fused, scanned, rtol=2e-5, atol=2e-5 * np.abs(scanned).max(), err_msg=str(k))


def test_the_fused_forward_equals_the_numpy_reference():
    lstm, inputs, outputs = build({}, True, np.random.RandomState(0))
    p = {param.name.split('.')[-1]: param.get_value().astype(np.float64) for param in lstm.get_params()}
    x = np.random.RandomState(1).normal(size=(B, T, F)).astype(np.float32)
    got = pytensor.function(inputs, outputs[0], mode='CVM')(x)
    np.testing.assert_allclose(got, lstm_reference(x.astype(np.float64), p), rtol=1e-5, atol=1e-5)


def test_a_mask_probes_or_truncation_keep_the_scan_and_only_the_c_backend_fuses():
    l_in, l_mask = L.InputLayer((B, T, F)), L.InputLayer((B, T))
    assert L.LSTMLayer(l_in, N, fused=True)._fusable(None, None)
    assert not L.LSTMLayer(l_in, N)._fusable(None, None)                        # Lasagne's scan by default
    assert not L.LSTMLayer(l_in, N, fused=True, mask_input=l_mask)._fusable(l_mask.input_var, None)
    assert not L.LSTMLayer(l_in, N, fused=True)._fusable(None, {})
    assert not L.LSTMLayer(l_in, N, fused=True, gradient_steps=2)._fusable(None, None)
    assert L.LSTMLayer(l_in, N, fused=True, precompute_input=False)._fusable(None, None)   # the same numbers
    assert not L.LSTMLayer(l_in, N, fused=True, nonlinearity=L.rectify)._fusable(None, None)
    config = ModelConfig(n_layers=2, n_hidden=4, sequence_length=4, batch_size=2)
    for backend, fused in (('c', True), ('jax', False)):
        model = RNNModel(config, backend=backend)
        assert [lstm.fused for lstm in model.lstms] == [fused, fused]
        assert [lstm.fused for lstm in Sampler(config, model.get_state(), backend).lstms] == [fused, fused]


def test_the_graph_for_other_jax_devices_equals_the_cpu_kernels():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(0, 0.5, size=shape).astype(np.float32)
              for shape in ((T, B, F), (F, 4 * N), (4 * N,), (N, 4 * N), (3, N), (B, N), (B, N))]
    reset = np.zeros((T, B), np.float32)
    reset[2, 0] = reset[0, 2] = 1
    start = [rng.normal(0, 0.5, size=(1, N)).astype(np.float32) for _ in range(2)]
    inputs = [*arrays, reset, *start]
    d_cells, d_hids = (rng.normal(0, 20, size=(T, B, N)).astype(np.float32) for _ in range(2))
    cells, hids, cache = ls._forward(*inputs)
    for clip in (0., 0.5):
        def graph(*differentiable):
            return ls._graph(clip, *differentiable[:7], reset, *differentiable[7:])
        (g_cells, g_hids), pull = jax.vjp(graph, *arrays, *start)
        np.testing.assert_allclose(g_cells, cells, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(g_hids, hids, rtol=1e-5, atol=1e-5)
        kernels = ls._backward(clip, *inputs, cells, hids, cache, d_cells, d_hids)
        if clip:        # each gate gradient within the bound: d b sums T × B of them
            assert np.abs(kernels[2]).max() <= T * B * clip * (1 + 1e-5)
        for k, (value, reference) in enumerate(zip(pull((d_cells, d_hids)), kernels)):
            np.testing.assert_allclose(value, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max(),
                                       err_msg=str(k))


def test_the_kernels_sigmoid_and_tanh_are_float32_exact_over_the_whole_line():
    x = np.linspace(-200, 200, 400_001).astype(np.float32)
    out, bits = np.empty_like(x), np.empty(x.shape, np.int32)
    ls.sigmoid_into(x, out, bits)
    assert np.abs(out - 1 / (1 + np.exp(-x.astype(np.float64)))).max() < 2e-7
    ls._tanh_into(x, out, np.empty_like(x), bits)
    assert np.abs(out - np.tanh(x.astype(np.float64))).max() < 5e-7


def test_the_c_backends_fused_sampler_writes_what_the_jax_scan_writes():
    """The fused Op inside the sampler's window scan (C backend) against the scan through JAX: same probabilities,
    same steps for the same noise."""
    config = ModelConfig(n_layers=2, n_hidden=8, sequence_length=6, batch_size=2)
    state = RNNModel(config, backend='jax', seed=3).get_state()
    primer = (np.random.RandomState(0).uniform(size=(6, config.step_width)) < 0.2).astype(np.float32)
    pieces = {backend: Sampler(config, state, backend).continue_piece(primer, 5, rule='sample', seed=1)
              for backend in ('c', 'jax')}
    np.testing.assert_allclose(pieces['c'][1], pieces['jax'][1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(pieces['c'][0], pieces['jax'][0])
    assert 0 < pieces['c'][0].sum() < pieces['c'][0].size


def test_an_every_step_lstm_nade_trains_the_same_on_the_fused_c_backend_as_through_jax():
    """Resets and the carried state of every-step training, an LSTM-NADE with dropout off: three training steps
    from the same parameters give the same costs, states and parameters with the fused Op (C) and the scan (JAX)."""
    config = ModelConfig(n_layers=2, n_hidden=8, sequence_length=6, batch_size=3, model='lstm-nade', nade_hidden=5,
                         targets='all', n_pitches=10, learning_rate=0.1)
    models = {backend: RNNModel(config, backend=backend, seed=4) for backend in ('c', 'jax')}
    assert [lstm.fused for lstm in models['c'].lstms] == [True, True]
    rng = np.random.RandomState(5)
    steps = (rng.uniform(size=(3, 7, config.step_width)) < 0.3).astype(np.float32)
    X, Y = steps[:, :-1], steps[:, 1:]
    chords, weights = np.zeros((3, 6, 12), np.float32), np.ones((3, 6), np.float32)
    reset = np.zeros((3, 6), np.float32)
    reset[:, 0] = reset[1, 3] = 1
    states = {backend: model.zero_state() for backend, model in models.items()}
    for _ in range(3):
        outputs = {}
        for backend, model in models.items():
            outputs[backend] = [np.asarray(v) for v in model.train(X, Y, chords, weights, reset, *states[backend])]
            states[backend] = outputs[backend][5:]
        for c_value, jax_value in zip(outputs['c'], outputs['jax']):
            np.testing.assert_allclose(c_value, jax_value, rtol=1e-4, atol=1e-5)
    for name, value in models['jax'].get_state().items():
        np.testing.assert_allclose(models['c'].get_state()[name], value, rtol=1e-4, atol=1e-5, err_msg=name)


def test_the_c_backend_links_the_system_openblas_or_says_in_one_line_that_it_has_none(monkeypatch, capsys):
    from bach2 import rnn_model
    if glob.glob('/usr/lib/*/libopenblas.so') and 'blas__ldflags' not in os.environ.get('PYTENSOR_FLAGS', ''):
        assert rnn_model.link_c_blas() == '-lopenblas' == pytensor.config.blas__ldflags
    monkeypatch.setattr(pytensor.config, 'blas__ldflags', pytensor.config.blas__ldflags)     # restored afterwards

    def unset(key, delete_key=False):
        raise KeyError(key)
    monkeypatch.setattr(pytensor.config, 'fetch_val_for_key', unset)
    monkeypatch.setattr('pytensor.link.c.cmodule.try_blas_flag', lambda flags: '')
    capsys.readouterr()
    assert rnn_model.link_c_blas.__wrapped__() == '' == pytensor.config.blas__ldflags
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and 'libopenblas-dev' in said[0]

    def failing(flags):         # PyTensor's report of a failed compile fails itself when no compiler is on PATH
        raise TypeError("'bool' object is not subscriptable")
    monkeypatch.setattr('pytensor.link.c.cmodule.try_blas_flag', failing)
    assert rnn_model.link_c_blas.__wrapped__() == ''
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_ctrl_c_during_a_kernel_is_a_keyboard_interrupt():
    """Numba hands a SIGINT that lands inside a kernel back as a SystemError; training needs the KeyboardInterrupt."""
    rng = np.random.default_rng(0)
    T, B, N, F = 512, 64, 64, 16
    arrays = ls.kernel_arrays((rng.standard_normal((T, B, F)), rng.standard_normal((F, 4 * N)) * .05,
                               np.zeros(4 * N), rng.standard_normal((N, 4 * N)) * .05, np.zeros((3, N)),
                               np.zeros((B, N)), np.zeros((B, N)), np.zeros((T, B)), np.zeros((1, N)),
                               np.zeros((1, N))))
    ls._forward(*arrays)
    # Python raises KeyboardInterrupt on SIGINT only where it was not ignored at start (not under `nohup` or `&`)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    deadline = time.monotonic() + 30
    try:
        with pytest.raises(KeyboardInterrupt):
            while time.monotonic() < deadline:
                ls._forward(*arrays)
    finally:
        timer.join()
        signal.signal(signal.SIGINT, previous)
