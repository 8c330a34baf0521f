"""bach2.nn.nade and the ``lstm-nade`` model: an exact distribution over the pitches of a step.

* the conditionals equal a pitch-by-pitch NumPy NADE written here;
* the probabilities of all 2^P steps of a tiny model sum to one (the NLL is exact);
* the sampler's conditionals are the model's on the steps it drew;
* it trains, saves and reloads through the same loop and checkpoints as the faithful model.
"""
import itertools

import numpy as np
import pytensor
import pytest

from bach2.models.model_config import PITCH_ORDERS, ModelConfig
from bach2.nn import layers
from bach2.nn.nade import NADELayer, drawing_order
from bach2.rnn_model import RNNModel
from bach2.sampling import Sampler, decision_noise

P = 4
TINY = dict(n_layers=1, n_hidden=6, sequence_length=3, n_pitches=P, lowest_pitch=60, model='lstm-nade',
            nade_hidden=5)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def numpy_conditionals(h, v, state, order='up'):
    """p(v_i = 1 | v_before i, h) pitch by pitch, from the equations of bach2.nn.nade's docstring, the
    parameters indexed in the drawing order."""
    W, V, b, c = (state[f'output.{name}'] for name in 'WVbc')
    visible, activation = b + h @ state['output.U_v'], c + h @ state['output.U_h']
    turns = drawing_order(order, len(v))
    conditionals = np.zeros(len(v))
    for i, pitch in enumerate(turns):
        conditionals[pitch] = sigmoid(visible[i] + V[i] @ sigmoid(activation))
        activation = activation + v[pitch] * W[i]
    return conditionals


def test_each_order_draws_every_unit_once():
    assert list(drawing_order('up', 5)) == [0, 1, 2, 3, 4] and list(drawing_order('down', 5)) == [4, 3, 2, 1, 0]
    assert list(drawing_order('outside-in', 5)) == [4, 0, 3, 1, 2]
    assert list(drawing_order('inside-out', 6)) == [2, 3, 1, 4, 0, 5]
    for order in PITCH_ORDERS:
        assert sorted(drawing_order(order, 88)) == list(range(88))
    with pytest.raises(ValueError, match='sideways'):
        drawing_order('sideways', 4)


@pytest.fixture(scope='module', params=['up', 'down', 'outside-in'])
def model(request):
    model = RNNModel(ModelConfig(batch_size=2 ** P, pitch_order=request.param, **TINY))
    rng = np.random.default_rng(0)
    model.set_state({name: (rng.normal(0, 0.8, value.shape) if name.startswith(('output', 'lstm'))
                            else value).astype(np.float32) for name, value in model.get_state().items()})
    return model


def all_steps():
    return np.array(list(itertools.product([0, 1], repeat=P)), np.float32)        # 16 × 4


def test_the_probabilities_of_every_possible_step_sum_to_one(model):
    X = np.repeat(np.random.default_rng(1).integers(0, 2, (1, 3, P)), 2 ** P, axis=0).astype(np.float32)
    weights = np.ones(2 ** P, np.float32)
    _, nll_sum, _ = model.validate(X, all_steps(), np.zeros((2 ** P, 12), np.float32), weights)
    conditionals = np.asarray(model.predict(X, all_steps()))
    steps = all_steps()
    likelihoods = np.prod(np.where(steps > 0, conditionals, 1 - conditionals), axis=1)
    assert likelihoods.sum() == pytest.approx(1.0, abs=1e-5)
    assert float(nll_sum) == pytest.approx(-np.log(likelihoods).sum(), rel=1e-4)


def test_conditionals_equal_a_pitch_by_pitch_numpy_nade(model):
    state = model.get_state()
    X = np.random.default_rng(2).integers(0, 2, (2 ** P, 3, P)).astype(np.float32)
    conditionals = np.asarray(model.predict(X, all_steps()))
    lstm = model.network.input_layer                    # its output h is checked in test_layers.py
    h = pytensor.function([model.network_input()], layers.get_output(lstm)[:, -1])(X)     # the last step
    for row in range(2 ** P):
        np.testing.assert_allclose(conditionals[row], numpy_conditionals(h[row], all_steps()[row], state,
                                                                         model.config.pitch_order), atol=1e-5)


def test_the_nade_output_refuses_to_run_without_the_step():
    network = NADELayer(layers.InputLayer((1, 6)), P, 5)
    with pytest.raises(ValueError, match='need the step itself'):
        layers.get_output(network)


def test_a_monophonic_nade_is_refused():
    with pytest.raises(ValueError, match='lstm-nade model is polyphonic'):
        ModelConfig(mode='monophonic', model='lstm-nade')


@pytest.mark.parametrize('context', ['window', 'carry'])
def test_sampled_conditionals_are_the_models_on_the_drawn_steps(model, context):
    config = ModelConfig(batch_size=1, pitch_order=model.config.pitch_order, **TINY)
    sampler = Sampler(config, model.get_state())
    primer = np.random.default_rng(3).integers(0, 2, (3, P)).astype(np.float32)
    steps, probabilities = sampler.continue_piece(primer, 6, seed=4, context=context)
    assert steps.shape == (6, P) and probabilities.shape == (6, P)
    single = RNNModel(config)
    single.set_state(model.get_state())
    piece = np.concatenate([primer, steps]).astype(np.float32)
    rows = 6 if context == 'window' else 3 + 6 - 1          # carry draws noise for the primer rows too
    noise = decision_noise('polyphonic', 'sample', rows, P, np.random.default_rng(4))[-6:]
    for t in range(6 if context == 'window' else 1):           # carry: only the first step has the same context
        window = piece[t:t + 3][None]
        expected = np.asarray(single.predict(window, piece[3 + t][None]))[0]
        np.testing.assert_allclose(probabilities[t], expected, atol=1e-5)
        np.testing.assert_array_equal(steps[t], (probabilities[t] > noise[t]).astype(np.uint8))


def test_a_nade_trained_on_quarter_note_chorales_writes_quarter_note_music(tmp_path):
    """The JSB geometry end to end: 88 keys, one step per quarter note, a silent start, then generate."""
    import json
    from bach2.compose.generate import GenerateConfig, generate_a_fugue
    from bach2.data.jsb_chorales import prepare_jsb_chorales
    from bach2.midi_to_time_series import midi_to_time_series
    from bach2.models.checkpoints import best_checkpoint_path, checkpoint_path
    from bach2.train import TrainConfig, train
    rng = np.random.default_rng(5)
    chorale = lambda: [sorted(set(int(p) for p in rng.integers(48, 80, 3))) for _ in range(12)]   # noqa: E731
    (tmp_path / 'jsb.json').write_text(json.dumps({'train': [chorale() for _ in range(4)],
                                                   'valid': [chorale()], 'test': [chorale()]}))
    prepare_jsb_chorales(tmp_path / 'jsb.json', tmp_path / 'data', transpositions=(0,))
    model_config = ModelConfig(n_layers=1, n_hidden=8, sequence_length=4, batch_size=4, n_pitches=88,
                               lowest_pitch=21, model='lstm-nade', nade_hidden=6)
    train_config = TrainConfig(str(tmp_path / 'data'), str(tmp_path / 'ck'), epochs=2, transpositions=(0,),
                               step_ticks=96, pad_start=True)
    train(model_config, train_config, progress=False, log=lambda line: None)
    best = best_checkpoint_path(checkpoint_path(train_config, model_config))
    assert best.name == 'lstmnade_polyphonic_N8_1layers_best.npz' and best.exists()
    result = generate_a_fugue(GenerateConfig(str(best), data_dir=str(tmp_path / 'data'), out_dir=str(tmp_path / 'out'),
                                             primer='jsb_test_000', n_steps=8), log=lambda line: None)
    piece = midi_to_time_series(result['files']['mid'])
    starts = [time for voice in piece.voices for time, _, _ in voice.notes]
    assert piece.resolution == 96 and starts and all(time % 96 == 0 for time in starts)   # on quarter notes
    assert result['report']['steps'] == 8


def numpy_logits_and_gradients(hidden, visible, steps, W, V, grad):
    """float64 NumPy: the logits of bach2.nn.nade.NADELogits and the gradient of Σ grad · logits."""
    hidden, visible, steps, W, V, grad = (np.asarray(x, np.float64) for x in (hidden, visible, steps, W, V, grad))
    below = np.tril(np.ones((W.shape[0],) * 2), -1)                                 # j < i
    s = sigmoid(hidden[:, None, :] + np.einsum('ij,rj,jh->rih', below, steps, W))   # rows × P × H
    d_activation = grad[:, :, None] * V * s * (1 - s)
    above = np.einsum('ij,rih->rjh', below, d_activation)                           # Σ_{i>j} ∂/∂a_i
    return (visible + (s * V).sum(-1), d_activation.sum(1), np.einsum('rjh,jh->rj', above, W),
            np.einsum('rj,rjh->jh', steps, above), (grad[:, :, None] * s).sum(0))


@pytest.fixture(scope='module')
def nade_inputs():
    rng = np.random.default_rng(5)
    rows, n_pitches, n_hidden = 7, 11, 13
    arrays = (rng.normal(0, 3, (rows, n_hidden)), rng.normal(0, 1, (rows, n_pitches)),
              (rng.random((rows, n_pitches)) < 0.4), rng.normal(0, 2, (n_pitches, n_hidden)),
              rng.normal(0, 1, (n_pitches, n_hidden)), rng.normal(0, 1, (rows, n_pitches)))
    return [np.asarray(x, np.float32) for x in arrays]


@pytest.mark.parametrize('mode', ['JAX', 'CVM'])
def test_the_fused_nade_op_and_its_gradient_equal_numpy(nade_inputs, mode):
    """NADELogits through either backend (Numba kernels on this CPU): forward and every gradient."""
    import pytensor.tensor as pt
    from bach2.nn.nade import nade_logits
    hidden, visible, steps, W, V, grad = nade_inputs
    variables = [pt.matrix(name, dtype='float32', shape=x.shape) for name, x in zip('hvsWV', nade_inputs)]
    logits = nade_logits(*variables)
    gradients = pytensor.grad((logits * grad).sum(), [variables[i] for i in (0, 1, 2, 3, 4)])
    got = pytensor.function(variables, [logits, *gradients], mode=mode)(hidden, visible, steps, W, V)
    expected = numpy_logits_and_gradients(*nade_inputs)
    names = ['logits', 'd hidden', 'd visible', 'd steps', 'dW', 'dV']
    for name, value, reference in zip(names, got, expected[:2] + (grad,) + expected[2:]):
        np.testing.assert_allclose(value, reference, rtol=2e-5, atol=2e-5, err_msg=name)


def test_the_nade_graph_for_other_jax_devices_equals_the_cpu_kernels(nade_inputs):
    """_logits_graph (what a GPU runs) against the Numba kernels, forward and gradient (jax.vjp)."""
    import jax
    from bach2.nn import nade
    hidden, visible, steps, W, V, grad = nade_inputs
    logits, vjp = jax.vjp(nade._logits_graph, hidden, visible, steps, W, V)
    np.testing.assert_allclose(logits, nade._logits_cpu(hidden, visible, steps, W, V), rtol=2e-5, atol=2e-5)
    d_hidden, _, d_steps, dW, dV = vjp(grad)
    for value, reference in zip((d_hidden, d_steps, dW, dV), nade._logits_grad_cpu(*nade_inputs, 3)):
        np.testing.assert_allclose(value, reference, rtol=2e-5, atol=2e-5)


def test_drawing_each_step_until_it_fills_the_cap_sounds_every_voice(model):
    config = ModelConfig(batch_size=1, pitch_order=model.config.pitch_order, **TINY)
    sampler = Sampler(config, model.get_state())
    primer = np.zeros((1, P), np.float32)
    cap = np.full(12, 3)
    capped, _ = sampler.continue_piece(primer, 12, seed=5, context='carry', max_notes=cap)
    filled, probabilities = sampler.continue_piece(primer, 12, seed=5, context='carry', max_notes=cap, fill=True)
    assert (capped.sum(axis=1) < 3).any()                     # the cap alone often leaves a voice out
    assert (filled.sum(axis=1) == 3).all()
    single = RNNModel(config)
    single.set_state(model.get_state())
    piece = np.concatenate([primer, filled]).astype(np.float32)
    expected = np.asarray(single.predict(piece[None, :3], piece[3][None]))[0]     # step 2 read the first 3 rows
    np.testing.assert_allclose(probabilities[2], expected, atol=1e-5)     # the kept draw's conditionals


def test_fill_needs_a_cap(model):
    config = ModelConfig(batch_size=1, pitch_order=model.config.pitch_order, **TINY)
    with pytest.raises(ValueError, match='fill needs max_notes'):
        Sampler(config, model.get_state()).continue_piece(np.zeros((1, P), np.float32), 2, fill=True)
