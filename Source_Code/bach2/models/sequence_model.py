"""An LSTM that predicts a token at *every* step of a window (the road map's models, issue 7).

The chord-progression model (one chord per quarter note) and the line models
(a melody over a bass line, a second melody from a melody) are both "given the
inputs up to step t, a softmax over V classes at step t". Their inputs are
*slots* of class indices: a step holds K indices, slot k ranging over
``slot_sizes[k]`` classes, and the network reads their one-hot codes side by
side (``n_inputs = Σ slot_sizes``).

Shapes (all static, float32 except the indices):

* X: ``B × L × n_inputs`` one-hot inputs (see :func:`one_hot_inputs`);
* Y: ``B × L`` int32 target class per step; W: ``B × L`` float32 weight per
  step (0 for padding: a window that runs past the end of its piece);
* output: ``B × L × V`` probabilities.

Network: one or two :class:`~bach2.nn.layers.LSTMLayer` (Lasagne semantics, every
step returned), then a :class:`~bach2.nn.layers.DenseLayer` with a softmax applied
at each step. Cost: categorical cross-entropy (nats) averaged over the weighted
steps; the reported NLL is its sum over steps, so NLL / weight = NLL per token.
"""
import dataclasses
import functools

import numpy as np
import pytensor.tensor as pt

from bach2.nn import layers, objectives
from bach2.rnn_model import BACKENDS, FUSED, OPTIMIZERS, assign_state, compile_function   # importing rnn_model also makes everything float32


@dataclasses.dataclass
class SequenceConfig:
    """Hyper-parameters of a :class:`SequenceModel`, saved in its checkpoint (with ``extra``)."""
    slot_sizes: tuple = (122,)      # classes of each input slot (one-hot each)
    n_outputs: int = 121            # V, classes of the softmax
    n_layers: int = 2
    n_hidden: int = 128
    sequence_length: int = 32       # L, steps per training window
    batch_size: int = 32
    grad_clipping: float = 10.0     # the journal's GRAD_CLIPPING
    optimizer: str = 'adam'
    learning_rate: float = 0.002
    kind: str = 'chords'            # what the tokens mean: 'chords' or 'line' (see extra)
    extra: dict = dataclasses.field(default_factory=dict)   # kind-specific facts (pitch window, which lines …)

    def __post_init__(self):
        self.slot_sizes = tuple(int(size) for size in self.slot_sizes)
        if self.n_layers not in (1, 2):
            raise ValueError(f'n_layers must be 1 or 2, not {self.n_layers}')
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f'optimizer must be one of {sorted(OPTIMIZERS)}, not {self.optimizer!r}')
        for name in ('n_outputs', 'n_hidden', 'sequence_length', 'batch_size'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name} must be positive, not {getattr(self, name)}')
        if not self.slot_sizes or min(self.slot_sizes) <= 0:
            raise ValueError(f'slot_sizes must be positive, not {self.slot_sizes}')

    @property
    def n_inputs(self):
        return sum(self.slot_sizes)


def one_hot_inputs(indices, slot_sizes):
    """``… × K`` int class indices (−1: nothing, an all-zero code) → ``… × Σ slot_sizes`` float32 one-hot."""
    indices = np.asarray(indices)
    out = np.zeros(indices.shape[:-1] + (sum(slot_sizes),), np.float32)
    offset = 0
    for k, size in enumerate(slot_sizes):
        index = indices[..., k]
        where = np.nonzero(index >= 0)
        out[where + (offset + index[where],)] = 1.0
        offset += size
    return out


def build_network(config, batch_size, fused=False):
    """InputLayer ``batch_size × L × n_inputs`` → LSTM layer(s) → per-step softmax layer (``B × L × V``);
    ``fused``: see :class:`bach2.nn.layers.LSTMLayer`."""
    network = layers.InputLayer((batch_size, config.sequence_length, config.n_inputs), name='input')
    for i in range(config.n_layers):
        network = layers.LSTMLayer(network, config.n_hidden, grad_clipping=config.grad_clipping, fused=fused,
                                   name=f'lstm{i + 1}')                   # B × L × N
    # B × L × N → B × L × V: the dense layer keeps batch and time (num_leading_axes=2)
    return layers.DenseLayer(network, config.n_outputs, nonlinearity=layers.softmax, num_leading_axes=2,
                             name='output')


class SequenceModel:
    """Compiled ``train(X, Y, W)`` → cost (and one optimizer step), ``nll(X, Y, W)`` → (NLL sum, weight),
    ``predict(X)`` → ``B × L × V`` probabilities, for ``config.batch_size`` windows (``batch_size`` overrides it)."""

    def __init__(self, config, backend='jax', seed=0, batch_size=None, training=True):
        if backend not in BACKENDS:
            raise ValueError(f'backend must be one of {sorted(BACKENDS)}, not {backend!r}')
        self.config = config
        layers.set_rng(np.random.RandomState(seed))
        batch = batch_size or config.batch_size
        self.batch_size = batch
        self.network = build_network(config, batch, fused=FUSED[backend])
        self.params = layers.get_all_params(self.network, trainable=True)
        inputs = layers.get_all_layers(self.network)[0].input_var
        targets = pt.tensor('targets', dtype='int32', shape=(batch, config.sequence_length))
        weights = pt.tensor('weights', dtype='float32', shape=(batch, config.sequence_length))
        probabilities = per_step_probabilities(self.network, inputs)
        one_hot = pt.eq(targets[:, :, None], pt.arange(config.n_outputs)[None, None, :]).astype('float32')
        step_nll = objectives.categorical_crossentropy(probabilities, one_hot)          # B × L
        total = (weights * step_nll).sum()
        weight = weights.sum()
        cost = total / pt.maximum(weight, np.float32(1))
        compile = functools.partial(compile_function, backend=backend, fused=FUSED[backend])
        self.optimizer_state = []
        if training:
            step = OPTIMIZERS[config.optimizer](cost, self.params, learning_rate=np.float32(config.learning_rate))
            self.optimizer_state = [variable for variable in step if variable not in set(self.params)]
            for i, variable in enumerate(self.optimizer_state):
                variable.name = f'{config.optimizer}_state{i}'
            self.train = compile([inputs, targets, weights], cost, updates=step)
        self.nll = compile([inputs, targets, weights], [total, weight])
        self.predict = compile([inputs], probabilities)

    def get_state(self):
        """{name: float32 array} of every parameter and optimizer accumulator."""
        return {variable.name: np.asarray(variable.get_value()) for variable in self.params + self.optimizer_state}

    def set_state(self, state, parameters_only=False):
        """Load :meth:`get_state` values (only the parameters with ``parameters_only``); see :func:`assign_state`."""
        assign_state(self.params + ([] if parameters_only else self.optimizer_state), state,
                     allow_extra=parameters_only)


def per_step_probabilities(network, inputs):
    """``B × L × V`` softmax probabilities of :func:`build_network` for ``inputs``.

    :func:`bach2.nn.layers.softmax` is PyTensor's softmax over the last axis, so the
    DenseLayer's nonlinearity already normalises each step.
    """
    return layers.get_output(network, inputs)


def right_padded_window(rows, length):
    """``n × K`` index rows → (``length × K`` rows, −1 after the last; position of the last real row).

    The LSTM is causal: rows after position i never change the output at i, so a
    window of the last ≤ L rows, padded on the right, is read exactly as trained
    (from a zero state at the window's first row).
    """
    rows = np.asarray(rows)[-length:]
    window = np.full((length, rows.shape[1]), -1, np.int64)
    window[:len(rows)] = rows
    return window, len(rows) - 1
