"""The gradient log of GRAD_CLIPPING (``TrainConfig.log_gate_gradients``, issue 20).

On a model of one step and one example the gradient reaching a layer's gate pre-activations is the
gradient of its gate biases, so the log can be checked against ``pytensor.grad``:

* without clipping, the logged largest gradient of each layer is the largest bias gradient;
* with a bound of a quarter of it, clipping binds: the top layer still logs the same (it is measured
  before the clip), while the bias gradient the optimizer receives is cut to the bound;
* the log reaches the training history, per batch and per layer, and costs no change in the numbers;
* ``note_cost='sum'`` is the mean times the number of pitches, ``'total'`` that times the examples.
"""
import numpy as np
import pytensor
import pytest

from bach2.data.prepare import prepare_training_data
from bach2.models.model_config import ModelConfig
from bach2.rnn_model import RNNModel
from bach2.train import TrainConfig, train
from midi_builders import write_random_corpus

P = 6
ONE_STEP = dict(n_layers=2, n_hidden=5, sequence_length=1, batch_size=1, n_pitches=P, lowest_pitch=60,
                optimizer='sgd', learning_rate=0.1)


def batch():
    rng = np.random.default_rng(1)
    return (rng.integers(0, 2, (1, 1, P)).astype(np.float32), rng.integers(0, 2, (1, P)).astype(np.float32),
            np.zeros((1, 12), np.float32), np.ones(1, np.float32))


def bias_gradients(model):
    """|∂cost/∂b| of each layer's four gate biases together, largest, from the training graph."""
    given, outputs = model._training_graph
    biases = [[getattr(lstm, f'b_{gate}') for gate in ('ingate', 'forgetgate', 'cell', 'outgate')]
              for lstm in model.lstms]
    grads = pytensor.grad(outputs[0], [b for layer in biases for b in layer])
    values = pytensor.function(given, grads, on_unused_input='ignore')(*batch())
    return [max(np.abs(v).max() for v in values[4 * k:4 * k + 4]) for k in range(len(biases))]


def model_with(grad_clipping, state=None):
    model = RNNModel(ModelConfig(grad_clipping=grad_clipping, **ONE_STEP), log_gate_gradients=True)
    if state is None:
        rng = np.random.default_rng(0)
        state = {name: rng.normal(0, 1.5, value.shape).astype(np.float32) for name, value in model.get_state().items()}
    model.set_state(state)
    return model, state


def test_the_log_is_the_gradient_reaching_the_gates_before_the_clip():
    free, state = model_with(0)
    expected = bias_gradients(free)
    logged = [float(x) for x in free.train(*batch())[5:]]
    np.testing.assert_allclose(logged, expected, rtol=1e-5)
    bound = logged[1] / 4
    clipped, _ = model_with(bound, state)
    assert bias_gradients(clipped)[1] == pytest.approx(bound, rel=1e-5)       # clipping binds …
    assert float(clipped.train(*batch())[6]) == pytest.approx(logged[1], rel=1e-5)   # … after the log's reading


def test_the_log_reaches_the_history_and_changes_nothing(tmp_path):
    data = tmp_path / 'data'
    prepare_training_data(write_random_corpus(tmp_path / 'midi'), data, progress=False, processes=1)
    config = ModelConfig(n_layers=2, n_hidden=8, sequence_length=8, batch_size=4, grad_clipping=10)
    runs = []
    for log in (False, True):
        settings = TrainConfig(str(data), str(tmp_path / f'ck{log}'), epochs=1, max_batches=3, transpositions=(0,),
                               valid_fraction=0.3, log_gate_gradients=log)
        _, history = train(config, settings, progress=False, log=lambda *_: None)
        runs.append(history[-1])
    assert 'batch_gate_gradients' not in runs[0]
    assert np.asarray(runs[1]['batch_gate_gradients']).shape == (3, 2)              # 3 batches × 2 layers
    assert runs[1]['gate_gradient_max'] == np.max(runs[1]['batch_gate_gradients'], axis=0).tolist()
    np.testing.assert_allclose(runs[1]['batch_costs'], runs[0]['batch_costs'], rtol=1e-5)


def test_a_summed_note_cost_is_the_mean_times_the_pitches_and_examples():
    costs = []
    for note_cost in ('mean', 'sum', 'total'):
        model = RNNModel(ModelConfig(note_cost=note_cost, **{**ONE_STEP, 'batch_size': 2}))
        X, Y, chords, _ = batch()
        costs.append(float(model.validate(np.repeat(X, 2, 0), np.repeat(Y, 2, 0), np.repeat(chords, 2, 0),
                                          np.ones(2, np.float32))[0]))
    assert costs[1] == pytest.approx(P * costs[0], rel=1e-5) and costs[2] == pytest.approx(2 * costs[1], rel=1e-5)
    with pytest.raises(ValueError, match='note_cost must be one of'):
        ModelConfig(note_cost='median')
