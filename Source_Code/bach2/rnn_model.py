"""Stage 3: the journal's model — LSTM layers over pitch-matrix windows, compiled by PyTensor.

Input: a batch of windows, ``B × L × P`` float32 (L = SEQUENCE_LENGTH steps,
P = 61 pitches; ``B × L × (P + 12)`` with ``chord_input``: each step also holds
the pitch classes of the chord of the step after it, so a prescribed chord
progression can steer generation). One or two :class:`~bach2.layers.LSTMLayer` (N units, Lasagne
semantics, GRAD_CLIPPING on the gate pre-activations), the last returning only
its final step, then a :class:`~bach2.layers.DenseLayer` to the next step:

* polyphonic: P sigmoid outputs, one independent probability per pitch;
* monophonic (the bass line): P + 1 softmax outputs (the last = rest);
* ``model='lstm-nade'`` (beyond the journal): a :class:`~bach2.nade.NADELayer`
  instead, the joint distribution of the step's pitches; its "probabilities"
  are the conditionals p(y_i | y_<i), so the same cross-entropy is its exact NLL.

Cost = note cost + λ · chord cost:

* note cost: binary cross-entropy averaged over pitches and examples
  (categorical cross-entropy in monophonic mode);
* chord cost (the journal's): fold the predicted probabilities into a 12-bin
  pitch-class profile and take ``arccos(cosine similarity)/π`` against the
  target step's chord vector from stage 2 (steps without a chord do not count).

Every example carries a weight (0 for the padding of a last, short batch). The
reported NLL per frame is the cross-entropy *summed* over pitches, averaged
over frames (the literature's convention), in nats.
"""
import functools

import jax
import numpy as np
import pytensor
import pytensor.link.jax.dispatch  # noqa: F401 (switches JAX to 64 bits when floatX is float64 …)
import pytensor.tensor as pt

from bach2 import layers, objectives, updates
from bach2.model_config import CheckpointError, ModelConfig  # noqa: F401 (ModelConfig re-exported)
from bach2.nade import NADELayer

# … which turns float32 sums float64 and breaks scan's carry types: the model is float32 throughout.
pytensor.config.floatX = 'float32'
jax.config.update('jax_enable_x64', False)

OPTIMIZERS = {'sgd': updates.sgd, 'adagrad': updates.adagrad, 'rmsprop': updates.rmsprop, 'adam': updates.adam}
BACKENDS = {'jax': 'JAX', 'c': 'CVM'}   # PyTensor compile modes: JAX (XLA) or the C virtual machine


def fold_matrix(n_pitches, lowest_pitch):
    """``P × 12`` float32: column c sums the pitches of pitch class c (column j = MIDI lowest_pitch + j)."""
    fold = np.zeros((n_pitches, 12), np.float32)
    fold[np.arange(n_pitches), (np.arange(n_pitches) + lowest_pitch) % 12] = 1.0
    return fold


def chord_cost(probabilities, chord_targets, fold):
    """Per example ``arccos(cos(profile, chord))/π``: ``B × P`` probabilities, ``B × 12`` chord vectors → ``B``."""
    profile = pt.dot(probabilities, fold)                                   # B × 12
    dot = (profile * chord_targets).sum(axis=1)
    norms = pt.sqrt((profile ** 2).sum(axis=1)) * pt.sqrt((chord_targets ** 2).sum(axis=1))
    cosine = pt.clip(dot / (norms + np.float32(1e-7)), np.float32(-1 + 1e-6), np.float32(1 - 1e-6))
    return pt.arccos(cosine) / np.float32(np.pi)


def build_network(config, batch_size):
    """Layers for ``config`` with a ``batch_size × L × P`` input → output layer (``B × n_outputs``)."""
    network = layers.InputLayer((batch_size, config.sequence_length, config.n_inputs), name='input')
    for i in range(config.n_layers):
        network = layers.LSTMLayer(network, config.n_hidden, grad_clipping=config.grad_clipping,
                                   only_return_final=i == config.n_layers - 1, name=f'lstm{i + 1}')
    if config.model == 'lstm-nade':
        return NADELayer(network, config.n_outputs, config.nade_hidden, name='output')
    nonlinearity = layers.softmax if config.mode == 'monophonic' else layers.sigmoid
    return layers.DenseLayer(network, config.n_outputs, nonlinearity=nonlinearity, name='output')


class RNNModel:
    """Compiled ``train``, ``validate`` and ``predict`` for one :class:`ModelConfig`.

    ``train(X, Y, chords, weights)`` → (cost, note cost, chord cost) and one optimizer step;
    ``validate(...)`` → (cost, NLL summed over frames, weight of the frames);
    ``predict(X)`` → ``B × n_outputs`` probabilities of the next step; for the ``lstm-nade`` model
    ``predict(X, Y)`` → the conditionals p(y_i = 1 | y_<i, X) of the step Y.
    X: ``B × L × n_inputs``, Y: ``B × n_outputs``, chords: ``B × 12`` (zeros: no chord), weights: ``B``; all float32.
    """

    def __init__(self, config, backend='jax', seed=0):
        if backend not in BACKENDS:
            raise ValueError(f'backend must be one of {sorted(BACKENDS)}, not {backend!r}')
        self.config, self.backend = config, backend
        layers.set_rng(np.random.RandomState(seed))
        batch = config.batch_size
        self.network = build_network(config, batch)
        self.params = layers.get_all_params(self.network, trainable=True)
        inputs = self.network_input()
        targets = pt.tensor('targets', dtype='float32', shape=(batch, config.n_outputs))
        chords = pt.tensor('chords', dtype='float32', shape=(batch, 12))
        weights = pt.tensor('weights', dtype='float32', shape=(batch,))
        probabilities = layers.get_output(self.network, targets=targets)   # a DenseLayer ignores targets
        if config.mode == 'monophonic':
            note_loss = objectives.categorical_crossentropy(probabilities, targets)        # B
            frame_nll = note_loss
        else:
            elementwise = objectives.binary_crossentropy(probabilities, targets)          # B × P
            note_loss, frame_nll = elementwise.mean(axis=1), elementwise.sum(axis=1)
        total_weight = weights.sum()
        note_cost = (weights * note_loss).sum() / total_weight
        if config.chord_weight:
            fold = pt.constant(fold_matrix(config.n_pitches, config.lowest_pitch))
            has_chord = pt.gt(chords.sum(axis=1), 0).astype('float32') * weights
            chord_term = (has_chord * chord_cost(probabilities[:, :config.n_pitches], chords, fold)).sum() \
                / pt.maximum(has_chord.sum(), np.float32(1))
        else:
            chord_term = pt.constant(np.float32(0))
        cost = note_cost + np.float32(config.chord_weight) * chord_term
        # a shared scalar, so that a schedule (TrainConfig.plateau_decay) can change it between epochs
        self.learning_rate = pytensor.shared(np.float32(config.learning_rate), name='learning_rate')
        step = OPTIMIZERS[config.optimizer](cost, self.params, learning_rate=self.learning_rate)
        self.optimizer_state = [variable for variable in step if variable not in set(self.params)]
        for i, variable in enumerate(self.optimizer_state):     # stable names for checkpoints
            variable.name = f'{config.optimizer}_state{i}'
        mode = BACKENDS[backend]
        self._train_graph = [inputs, targets, chords, weights], [cost, note_cost, chord_term], step, mode
        self.validate = pytensor.function([inputs, targets, chords, weights],
                                          [cost, (weights * frame_nll).sum(), total_weight], mode=mode,
                                          on_unused_input='ignore')
        given = [inputs, targets] if config.model == 'lstm-nade' else [inputs]
        self._predict_graph = given, probabilities, mode

    @functools.cached_property
    def train(self):
        """Compiled on first use: evaluating a checkpoint never takes a training step."""
        given, outputs, step, mode = self._train_graph
        return pytensor.function(given, outputs, updates=step, mode=mode,
                                 on_unused_input='ignore')      # chords unused when λ = 0

    @functools.cached_property
    def predict(self):
        """Compiled on first use: training never calls it, so ``bach2 train`` starts sooner."""
        given, probabilities, mode = self._predict_graph
        return pytensor.function(given, probabilities, mode=mode)

    def network_input(self):
        return layers.get_all_layers(self.network)[0].input_var

    def get_state(self):
        """{name: value} of every parameter and optimizer accumulator (float32 arrays)."""
        return {variable.name: np.asarray(variable.get_value()) for variable in self.params + self.optimizer_state}

    def set_state(self, state):
        """Load :meth:`get_state` values; a missing or extra name, or a wrong shape, is a CheckpointError naming it."""
        assign_state(self.params + self.optimizer_state, state)


def assign_state(variables, state, allow_extra=False):
    """Set shared ``variables`` from ``state`` {name: array}, as float32.

    A name missing from ``state`` (or, unless ``allow_extra``, a name of ``state`` that no
    variable has) or a wrong shape is a CheckpointError naming it; nothing is set then.
    """
    variables = {variable.name: variable for variable in variables}
    missing = sorted(set(variables) - set(state))
    extra = [] if allow_extra else sorted(set(state) - set(variables))
    if missing or extra:
        raise CheckpointError(f'checkpoint does not match the model: missing {missing or "nothing"}, '
                              f'unexpected {extra or "nothing"}')
    for name, variable in variables.items():
        shape = np.asarray(state[name]).shape
        if shape != variable.get_value().shape:
            raise CheckpointError(f'checkpoint parameter {name} has shape {shape}, '
                                  f'the model needs {variable.get_value().shape}')
    for name, variable in variables.items():
        variable.set_value(np.asarray(state[name]).astype(np.float32))
