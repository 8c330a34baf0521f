"""Stage 3: the journal's model — LSTM layers over pitch-matrix windows, compiled by PyTensor.

Input: a batch of windows, ``B × L × P`` float32 (L = SEQUENCE_LENGTH steps,
P = 61 pitches; ``B × L × (P + 12)`` with ``chord_input``: each step also holds
the pitch classes of the chord of the step after it, so a prescribed chord
progression can steer generation). One or two :class:`~bach2.nn.layers.LSTMLayer` (N units, Lasagne
semantics, GRAD_CLIPPING on the gate pre-activations), optional
:class:`~bach2.nn.layers.DropoutLayer` on the input and after each LSTM layer, then
an output layer for the next step:

* polyphonic: P sigmoid outputs, one independent probability per pitch;
* monophonic (the bass line): P + 1 softmax outputs (the last = rest);
* ``model='lstm-nade'`` (beyond the journal): a :class:`~bach2.nn.nade.NADELayer`
  instead, the joint distribution of the step's pitches; its "probabilities"
  are the conditionals p(y_i | y_<i), so the same cross-entropy is its exact NLL;
  with ``articulation`` a step is 2P wide — the pitches sounding, then the pitches
  struck — and the onset conditionals follow the pitches exactly
  (:func:`~bach2.nn.nade.follow_pitches`: 0 where silent, 1 where a pitch starts), so
  the NLL counts only the choice between holding a pitch and striking it again.

Cost = note cost + λ · chord cost:

* note cost: binary cross-entropy averaged over pitches and examples
  (summed over pitches with ``note_cost='sum'``, over pitches and examples with ``'total'``;
  categorical cross-entropy in monophonic mode);
* chord cost (the journal's): fold the predicted probabilities into a 12-bin
  pitch-class profile and take ``arccos(cosine similarity)/π`` against the
  target step's chord vector from stage 2 (steps without a chord do not count).

What a window teaches (``targets``):

* ``'last'`` (the journal's): the window's final LSTM output predicts the step after
  the window; every window starts from a zero state;
* ``'all'``: every step of the sequence predicts the step after it, and the LSTM
  state is carried from one chunk of a piece to the next (truncated back-propagation
  through time; ``reset`` marks where a new piece starts from the initial state).

Every example carries a weight (0 for the padding of a last, short batch). The
reported NLL per frame is the cross-entropy *summed* over pitches, averaged
over frames (the literature's convention), in nats.
"""
import functools
import sys
import warnings

import jax
import numpy as np
import pytensor
import pytensor.link.jax.dispatch  # noqa: F401 (switches JAX to 64 bits when floatX is float64 …)
import pytensor.tensor as pt

from bach2.common import CheckpointError
from bach2.models.model_config import ModelConfig  # noqa: F401 (re-exported: from bach2.rnn_model import ModelConfig)
from bach2.nn import layers, objectives, updates
from bach2.nn.lstm_sequence import one_blas_thread
from bach2.nn.nade import NADELayer, follow_pitches

# … which turns float32 sums float64 and breaks scan's carry types: the model is float32 throughout.
pytensor.config.floatX = 'float32'
jax.config.update('jax_enable_x64', False)
# PyTensor asks JAX for 64-bit results it cannot have in 32 bits (float64 sum accumulators, int64 argmax): JAX
# warns on each compiled function, in the middle of progress bars; its 32-bit results are what the model uses.
warnings.filterwarnings('ignore', message=r'Explicitly requested dtype (float|int)64 requested in \w+ is not '
                        r'available, and will be truncated', category=UserWarning)

OPTIMIZERS = {'sgd': updates.sgd, 'adagrad': updates.adagrad, 'rmsprop': updates.rmsprop, 'adam': updates.adam}
BACKENDS = {'jax': 'JAX', 'c': 'CVM'}   # PyTensor compile modes: JAX (XLA) or the C virtual machine
# whether each LSTM layer's recurrence is one fused Op (bach2.nn.lstm_sequence) rather than a scan: on the C backend
# the Op's training step is 5-7× faster than the scan's (N = 256 and 768, oneDNN's products, 7 December). Through JAX
# the Op is a host callback: there the scan was faster with NumPy's dot (5 December), and JAX's scan stays the
# library's way (benchmarks/bench_train.py, docs/measured.md)
FUSED = {'jax': False, 'c': True}


@functools.cache
def link_c_blas():
    """PyTensor's C backend linked to a BLAS, once per process before its first C function → the link flags.

    The user's ``blas__ldflags`` (PYTENSOR_FLAGS, .pytensorrc) if given, else the system's OpenBLAS
    (``libopenblas-dev``, which setup.sh installs when run as root), checked by compiling against it. PyTensor's
    own search finds none on Debian (it wants a ``libgfortran.so`` beside OpenBLAS), and pip's OpenBLAS
    wheels rename their symbols; without a BLAS one line on stderr says so and the products go through NumPy.
    """
    try:
        return pytensor.config.fetch_val_for_key('blas__ldflags')
    except KeyError:
        pass
    from pytensor.link.c.cmodule import try_blas_flag
    try:
        flags = try_blas_flag(['-lopenblas']) if pytensor.config.cxx else ''
    except Exception:       # PyTensor's own report of a failed compile can fail (no compiler on PATH)
        flags = ''
    pytensor.config.blas__ldflags = flags
    if not flags:
        print('bach2: no BLAS for PyTensor\'s C backend (apt-get install libopenblas-dev): its matrix products '
              'go through NumPy, slower', file=sys.stderr)
    return flags


def compile_function(inputs, outputs, backend, fused, **kwargs):
    """``pytensor.function`` in ``backend``'s mode (the C backend linked to a BLAS: :func:`link_c_blas`); a graph
    whose LSTMs are fused Ops on the C backend is called with one BLAS thread
    (:func:`bach2.nn.lstm_sequence.one_blas_thread`)."""
    if backend == 'c':
        link_c_blas()
    function = pytensor.function(inputs, outputs, mode=BACKENDS[backend], **kwargs)
    return one_blas_thread(function) if fused and backend == 'c' else function


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


def build_network(config, batch_size, fused=False):
    """Layers for ``config`` with a ``batch_size × L × n_inputs`` input → the output layer (``fused``: see
    :class:`bach2.nn.layers.LSTMLayer`).

    Every LSTM returns all its steps; the output layer (``num_leading_axes=2``) reads
    ``B × T × N`` — every step (``targets='all'``) or only the last (T = 1, the journal's).
    Dropout layers sit on the input and after each LSTM layer when their rate is above 0.
    """
    network = layers.InputLayer((batch_size, config.sequence_length, config.n_inputs), name='input')
    if config.input_dropout:
        network = layers.DropoutLayer(network, config.input_dropout, name='input_dropout')
    for i in range(config.n_layers):
        network = layers.LSTMLayer(network, config.n_hidden, grad_clipping=config.grad_clipping, fused=fused,
                                   name=f'lstm{i + 1}')
        if config.dropout:
            network = layers.DropoutLayer(network, config.dropout, name=f'dropout{i + 1}')
    if config.model == 'lstm-nade':
        return NADELayer(network, config.n_outputs, config.nade_hidden, order=config.pitch_order,
                         planes=2 if config.articulation else 1, name='output')
    nonlinearity = layers.softmax if config.mode == 'monophonic' else layers.sigmoid
    return layers.DenseLayer(network, config.n_outputs, nonlinearity=nonlinearity, num_leading_axes=2,
                             name='output')


class RNNModel:
    """Compiled training and evaluation functions for one :class:`ModelConfig` (each compiled on first use).

    Shapes: B = batch_size, L = sequence_length, P = n_outputs, n = n_hidden; all float32.

    * ``train`` — one optimizer step → (cost, note cost, chord cost, NLL summed over frames, frames[, *state]
      [, the largest absolute gradient reaching each LSTM layer's gate pre-activations, with
      ``log_gate_gradients``: before GRAD_CLIPPING clips it]):
      ``targets='last'``: ``train(X, Y, chords, weights)``, X ``B × L × n_inputs`` windows,
      Y ``B × P`` the step after each, chords ``B × 12`` (zeros: no chord), weights ``B``;
      ``targets='all'``: ``train(X, Y, chords, weights, reset, *state)`` with Y ``B × L × P``
      (Y[:, t] follows X[:, t]), chords ``B × L × 12``, weights and reset ``B × L`` (reset 1 where a
      piece begins: the state returns to its initial value), and ``state`` the (cell, hidden) of
      each layer, ``B × n`` each; the new state is appended to the outputs (carry it to the next chunk).
    * ``evaluate(X, Y, chords, weights, reset, *state)`` — the same all-steps pass without dropout
      or update, for any model → (cost, NLL summed, frames, NLL of each frame ``B × L`` (0 where the
      weight is 0), *state): full-context evaluation.
    * ``validate(X, Y, chords, weights)`` → (cost, NLL summed, frames) and ``predict(X)`` →
      ``B × P`` probabilities of the step after each window (from a zero state, no dropout); for
      the ``lstm-nade`` model ``predict(X, Y)`` → the conditionals p(y_i = 1 | y_<i, X) of the step Y.
    """

    def __init__(self, config, backend='jax', seed=0, log_gate_gradients=False, fused=None):
        if backend not in BACKENDS:
            raise ValueError(f'backend must be one of {sorted(BACKENDS)}, not {backend!r}')
        self.config, self.backend = config, backend
        self.fused = FUSED[backend] if fused is None else fused
        layers.set_rng(np.random.RandomState(seed))
        self.network = build_network(config, config.batch_size, fused=self.fused)
        self.lstms = [layer for layer in layers.get_all_layers(self.network) if isinstance(layer, layers.LSTMLayer)]
        self.params = layers.get_all_params(self.network, trainable=True)
        # a shared scalar, so that a schedule (TrainConfig.plateau_decay) can change it between epochs
        self.learning_rate = pytensor.shared(np.float32(config.learning_rate), name='learning_rate')
        self.fold = pt.constant(fold_matrix(config.n_pitches, config.lowest_pitch))
        probes = {} if log_gate_gradients else None
        self._training_graph = self._graph(last=config.targets == 'last', deterministic=False, gate_probes=probes)[:2]
        cost = self._training_graph[1][0]
        if probes:      # one backward pass gives the parameters' gradients and the gates'
            grads = pytensor.grad(cost, self.params + [probes[lstm] for lstm in self.lstms])
            cost = grads[:len(self.params)]
            self._training_graph[1].extend(pt.abs(grad).max() for grad in grads[len(self.params):])
        self.step = OPTIMIZERS[config.optimizer](cost, self.params, learning_rate=self.learning_rate)
        self.optimizer_state = [variable for variable in self.step if variable not in set(self.params)]
        for i, variable in enumerate(self.optimizer_state):     # stable names for checkpoints
            variable.name = f'{config.optimizer}_state{i}'
        self.step.update(layers.random_updates(self.network))   # a new dropout mask every step

    def _graph(self, last, deterministic, gate_probes=None):
        """Symbolic (inputs, [cost, note cost, chord cost, NLL sum, frames, *final state], probabilities,
        NLL of each frame ``B × T``) of one pass.

        ``last``: windows predicting the step after them from a zero state; else every step,
        from a given state, with resets. ``gate_probes``: see :meth:`bach2.nn.layers.LSTMLayer.get_output_for`.
        """
        config, B, L = self.config, self.config.batch_size, self.config.sequence_length
        T = 1 if last else L
        inputs = pt.tensor('inputs', dtype='float32', shape=(B, L, config.n_inputs))
        per_step = () if last else (T,)            # the journal's windows: one target each, B × P
        targets = pt.tensor('targets', dtype='float32', shape=(B, *per_step, config.n_outputs))
        chords = pt.tensor('chords', dtype='float32', shape=(B, *per_step, 12))
        weights = pt.tensor('weights', dtype='float32', shape=(B, *per_step))
        given, state_in, state_out, reset = [inputs, targets, chords, weights], None, {}, None
        if not last:
            reset = pt.tensor('reset', dtype='float32', shape=(B, L))
            state = [pt.tensor(f'{lstm.name}.{part}', dtype='float32', shape=(B, config.n_hidden))
                     for lstm in self.lstms for part in ('cell', 'hid')]
            state_in = {lstm: (state[2 * k], state[2 * k + 1]) for k, lstm in enumerate(self.lstms)}
            given += [reset] + state
        hidden = layers.get_output(self.network.input_layer, inputs, deterministic=deterministic, reset=reset,
                                   state_in=state_in, state_out=state_out, gate_probes=gate_probes)  # B × L × n
        if last:
            hidden = hidden[:, -1:]
        rows = B * T
        probabilities = self.network.get_output_for(hidden, targets=targets.reshape((B, T, config.n_outputs)))
        if config.articulation:         # the onsets follow the pitches: only held-or-struck is the model's choice
            P, step = config.n_pitches, targets.reshape((B, T, config.n_outputs))
            probabilities = pt.concatenate([probabilities[..., :P], follow_pitches(
                probabilities[..., P:], step[..., :P], inputs[:, L - T:, :P])], axis=-1)
        *outputs, frame_nll = self._costs(probabilities.reshape((rows, config.n_outputs)),
                                          targets.reshape((rows, config.n_outputs)), chords.reshape((rows, 12)),
                                          weights.reshape((rows,)))
        outputs += [x for lstm in self.lstms if not last for x in state_out[lstm]]
        return (given, outputs, probabilities.reshape((B, config.n_outputs)) if last else probabilities,
                frame_nll.reshape((B, T)))

    def _costs(self, probabilities, targets, chords, weights):
        """Rows of probabilities, targets, chords and weights → [cost, note cost, chord cost, NLL sum, weight sum,
        weighted NLL of each row]."""
        config = self.config
        if config.mode == 'monophonic':
            note_loss = objectives.categorical_crossentropy(probabilities, targets)        # rows
            frame_nll = note_loss
        else:
            elementwise = objectives.binary_crossentropy(probabilities, targets)          # rows × P
            frame_nll = elementwise.sum(axis=1)
            note_loss = elementwise.mean(axis=1) if config.note_cost == 'mean' else frame_nll
        total_weight = weights.sum()
        note_cost = (weights * note_loss).sum()
        if config.note_cost != 'total':             # averaged over the examples
            note_cost = note_cost / pt.maximum(total_weight, np.float32(1e-7))
        if config.chord_weight:
            has_chord = pt.gt(chords.sum(axis=1), 0).astype('float32') * weights
            chord_term = (has_chord * chord_cost(probabilities[:, :config.n_pitches], chords, self.fold)).sum() \
                / pt.maximum(has_chord.sum(), np.float32(1))
        else:
            chord_term = pt.constant(np.float32(0))
        cost = note_cost + np.float32(config.chord_weight) * chord_term
        return [cost, note_cost, chord_term, (weights * frame_nll).sum(), total_weight, weights * frame_nll]

    def _function(self, given, outputs, **kwargs):
        with warnings.catch_warnings():     # JAX copies the dropout generators; the updates keep them moving
            warnings.filterwarnings('ignore', message='The RandomType SharedVariables')
            return compile_function(given, outputs, self.backend, self.fused, on_unused_input='ignore', **kwargs)

    @functools.cached_property
    def train(self):
        """Compiled on first use: evaluating a checkpoint never takes a training step."""
        return self._function(*self._training_graph, updates=self.step)

    @functools.cached_property
    def evaluate(self):
        """Every step from a carried state, dropout off (full-context evaluation, any model)."""
        given, outputs, _, frame_nll = self._graph(last=False, deterministic=True)
        return self._function(given, [outputs[0], outputs[3], outputs[4], frame_nll] + outputs[5:])

    @functools.cached_property
    def validate(self):
        given, outputs, _, _ = self._graph(last=True, deterministic=True)
        return self._function(given, [outputs[0], outputs[3], outputs[4]])

    @functools.cached_property
    def predict(self):
        """Compiled on first use: training never calls it, so ``bach2 train`` starts sooner."""
        given, _, probabilities, _ = self._graph(last=True, deterministic=True)
        return self._function(given[:2] if self.config.model == 'lstm-nade' else given[:1], probabilities)

    def zero_state(self):
        """The (cell, hidden) of every layer before a piece begins: ``B × n`` each, from cell_init / hid_init."""
        return [np.repeat(np.asarray(init.get_value()), self.config.batch_size, axis=0)
                for lstm in self.lstms for init in (lstm.cell_init, lstm.hid_init)]

    def network_input(self):
        return layers.get_all_layers(self.network)[0].input_var

    def get_state(self):
        """{name: value} of every parameter and optimizer accumulator (float32 arrays)."""
        return {variable.name: np.asarray(variable.get_value()) for variable in self.params + self.optimizer_state}

    def set_state(self, state, parameters_only=False):
        """Load :meth:`get_state` values (only the parameters with ``parameters_only``: an exported model, or
        evaluation); a missing or extra name, or a wrong shape, is a CheckpointError naming it."""
        assign_state(self.params + ([] if parameters_only else self.optimizer_state), state,
                     allow_extra=parameters_only)


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
