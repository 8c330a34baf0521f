"""The voice model: given any cells of a piece in voices, a distribution for every other cell (an orderless NADE,
as Coconet is, on :mod:`bach2.data.voice_tokens`).

A piece is ``V × T`` tokens (voices highest first, 16th-note steps): rest, hold or a struck pitch. Some cells
are *given*, the others are masked. The network reads, per cell:

* the token, or :data:`MASK` where it is not given;
* the pitch it sounds when that is known (a struck pitch; a hold whose note was struck in a given cell), else
  :data:`NO_PITCH` — so a held note is heard as the pitch it holds; with ``pitch_classes``, that pitch's class too;
* the voice's rank from the top and from the bottom (soprano, bass … for any number of voices);
* the step's position in its bar (:mod:`bach2.music.metre`, up to 32 steps).

Their embeddings are summed (``C`` channels), then ``n_blocks`` residual blocks each normalise
(:class:`~bach2.nn.convolution.LayerNormLayer`), convolve along time (3 taps, dilations 1, 2, 4 … 32, then again,
so a cell hears about 250 steps each side), put each voice beside the mean of all voices
(:class:`~bach2.nn.convolution.VoiceMeanLayer`; with ``neighbours`` also beside the voices just above and below)
and add a dense projection back to the block's input. After the blocks listed in ``attention``, a residual
attention: each cell reads every cell within ``attention_reach`` steps, in any voice, weighed by content and by the
steps apart (:class:`~bach2.nn.attention.RelativeAttentionLayer`), what lets a cell find the figure the piece
played before. A dense layer gives each cell a softmax over
:data:`~bach2.data.voice_tokens.VOCABULARY` tokens (with ``pitch_classes``, plus a logit per pitch class).

Training (Coconet's orderless NADE objective): each window gets a random mask (:func:`random_masks`) and the cost
is the mean cross-entropy (nats) of the masked cells. Sampling: :mod:`bach2.models.voice_sampling`.

Shapes: tokens, pitches ``B × V × T`` int32; positions ``B × 1 × T`` int32; output ``B × V × T × VOCABULARY``
log-probabilities. Each (B, V, T) is compiled once, on first use, with the same parameters.
"""
import dataclasses
import functools
import re

import numpy as np
import pytensor.tensor as pt

from bach2.data.voice_tokens import FIRST_PITCH, HOLD, N_KEYS, REST, VOCABULARY
from bach2.music.metre import POSITION_CLASSES
from bach2.nn import convolution, layers
from bach2.nn.attention import RelativeAttentionLayer
from bach2.rnn_model import BACKENDS, OPTIMIZERS, assign_state, compile_function   # also makes everything float32

MASK = VOCABULARY               # the input token of a cell not given
NO_PITCH = N_KEYS               # the sounding-pitch input of a cell whose pitch is not known (rests too)
MAX_RANK = 8                    # voice ranks embedded: 0 … 7 from the top and from the bottom
PITCH_CLASS = (np.arange(N_KEYS) + 9) % 12      # key index (0: A0, MIDI 21) → pitch class (0: C)
PITCH_CLASS_INPUT = np.append(PITCH_CLASS, 12).astype(np.int32)   # a sounding-pitch input → class, 12 for NO_PITCH


@dataclasses.dataclass
class VoiceConfig:
    """Hyper-parameters of a :class:`VoiceModel`, saved in its checkpoint."""
    channels: int = 128             # C
    n_blocks: int = 12
    dilations: tuple = (1, 2, 4, 8, 16, 32)   # repeated over the blocks
    window: int = 128               # T of a training window (steps)
    batch_size: int = 8             # windows per training batch (all of one voice count)
    learning_rate: float = 1e-3     # Adam
    max_grad_norm: float = 5.0      # total-norm clipping of the gradients
    kind: str = 'voices'            # what it models: 'voices' (keyboard corpus) or 'chorales' (JSB)
    neighbours: bool = False        # each block also hears the voices just above and below (VoiceMeanLayer)
    pitch_classes: bool = False     # pitch classes read and predicted apart from pitches (PitchClassLogitsLayer)
    attention: tuple = ()           # blocks followed by relative self-attention (RelativeAttentionLayer)
    heads: int = 4                  # of each attention
    attention_reach: int = 64       # steps each side an attention reads

    def __post_init__(self):
        self.dilations = tuple(int(d) for d in self.dilations)
        self.attention = tuple(sorted(set(int(i) for i in self.attention)))
        if any(not 0 <= i < self.n_blocks for i in self.attention):
            raise ValueError(f'attention follows blocks 0 … {self.n_blocks - 1}, not {self.attention}')
        for name in ('channels', 'n_blocks', 'window', 'batch_size'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name} must be positive, not {getattr(self, name)}')


def build_network(config):
    """Input layers {name: InputLayer} and the output layer (``B × V × T × VOCABULARY`` logits).

    Template shapes (1 × 1 × window) only; :meth:`VoiceModel.function` feeds tensors of any static shape.
    With ``config.pitch_classes`` the known pitches' classes are embedded too ('pitch_classes', 12 for none) and
    each struck pitch's logit gains one of 12 shared by its class (:class:`PitchClassLogitsLayer`).
    """
    window = config.window
    sizes = {'tokens': VOCABULARY + 1, 'pitches': N_KEYS + 1, 'positions': POSITION_CLASSES,
             'from_top': MAX_RANK, 'from_bottom': MAX_RANK}
    if config.pitch_classes:
        sizes['pitch_classes'] = 13
    inputs = {name: layers.InputLayer((1, 1, 1) if name.startswith('from_') else (1, 1, window), name=name)
              for name in sizes}
    C = config.channels
    network = convolution.ElemwiseSumLayer(
        [convolution.EmbeddingLayer(inputs[name], sizes[name], C, name=f'embed_{name}') for name in inputs])
    for i in range(config.n_blocks):
        dilation = config.dilations[i % len(config.dilations)]
        block = convolution.LayerNormLayer(network, name=f'block{i}.norm')
        block = convolution.TimeConvLayer(block, C, 3, dilation, nonlinearity=layers.rectify, name=f'block{i}.conv')
        block = convolution.VoiceMeanLayer(block, config.neighbours)
        block = layers.DenseLayer(block, C, nonlinearity=None, num_leading_axes=3, name=f'block{i}.mix')
        network = convolution.ElemwiseSumLayer([network, block])
        if i in config.attention:
            block = convolution.LayerNormLayer(network, name=f'attend{i}.norm')
            block = RelativeAttentionLayer(block, config.heads, config.attention_reach, name=f'attend{i}')
            block = layers.DenseLayer(block, C, nonlinearity=None, num_leading_axes=3, name=f'attend{i}.out')
            network = convolution.ElemwiseSumLayer([network, block])
    network = convolution.LayerNormLayer(network, name='out.norm')
    logits = layers.DenseLayer(network, VOCABULARY, nonlinearity=None, num_leading_axes=3, name='out')
    if config.pitch_classes:
        classes = layers.DenseLayer(network, 12, nonlinearity=None, num_leading_axes=3, name='out_classes')
        logits = PitchClassLogitsLayer([logits, classes])
    return inputs, logits


class PitchClassLogitsLayer(convolution.MergeLayer):
    """(``… × VOCABULARY`` logits, ``… × 12`` pitch-class logits, C first) → the logits with each struck pitch's
    class logit added: what a key makes likely is learnt once for every octave."""

    def get_output_shape_for(self, input_shapes):
        return input_shapes[0]

    def get_output_for(self, logits, classes, **kwargs):
        zeros = pt.zeros(classes.type.shape[:-1] + (FIRST_PITCH,), dtype=classes.dtype)       # rest, hold
        return logits + pt.concatenate([zeros, classes[..., PITCH_CLASS]], axis=-1)


def model_reach(config):
    """Steps each side of a cell that its output reads: the dilations of the blocks' 3-tap convolutions and the
    attentions' reach."""
    return (sum(config.dilations[i % len(config.dilations)] for i in range(config.n_blocks))
            + len(config.attention) * config.attention_reach)


def starts_silent(name):
    """Whether parameter ``name`` ends a part a model may add to another's (the pitch classes' embedding and
    logits, an attention's output), so that at zero the part adds nothing and the model plays as before."""
    return name.startswith(('embed_pitch_classes.', 'out_classes.')) or bool(re.fullmatch(r'attend\d+\.out\..*', name))


def voice_ranks(n_voices):
    """(from the top, from the bottom) ``1 × V × 1`` int32 rank arrays, clipped to ``MAX_RANK − 1``."""
    top = np.minimum(np.arange(n_voices), MAX_RANK - 1).astype(np.int32)
    return top[None, :, None], top[::-1].copy()[None, :, None]


class VoiceModel:
    """The network of ``config`` and its compiled functions, one set per input shape (B, V, T):

    * ``train(shape)(tokens, pitches, positions, targets, weights)`` → cost, and one Adam step;
    * ``nll(shape)(…same…)`` → (Σ −log p of the weighted cells, Σ weights);
    * ``predict(shape)(tokens, pitches, positions)`` → ``B × V × T × VOCABULARY`` log-probabilities.

    ``targets`` ``B × V × T`` int32 tokens, ``weights`` float32 (1 on the cells scored).
    """

    def __init__(self, config, backend='jax', seed=0, training=True):
        if backend not in BACKENDS:
            raise ValueError(f'backend must be one of {sorted(BACKENDS)}, not {backend!r}')
        self.config, self.backend, self.training = config, backend, training
        layers.set_rng(np.random.RandomState(seed))
        self.inputs, self.network = build_network(config)
        self.params = layers.get_all_params(self.network, trainable=True)
        self.optimizer_state = []
        if training:   # the optimizer's accumulators exist before any function is compiled, so state can load
            probe = OPTIMIZERS['adam'](self._clipped(self._graph((1, 1, 4))['cost']), self.params,
                                       learning_rate=np.float32(config.learning_rate))
            self.optimizer_state = [v for v in probe if v not in set(self.params)]
            for i, variable in enumerate(self.optimizer_state):
                variable.name = f'adam_state{i}'

    def _graph(self, shape):
        """Symbolic inputs and outputs for batches of ``shape`` = (B, V, T)."""
        B, V, T = shape
        variables = {name: pt.tensor(name, dtype='int32', shape=(B, V, T)) for name in ('tokens', 'pitches')}
        variables['positions'] = pt.tensor('positions', dtype='int32', shape=(B, 1, T))
        top, bottom = voice_ranks(V)
        given = {self.inputs[name]: variables[name] for name in ('tokens', 'pitches', 'positions')}
        if 'pitch_classes' in self.inputs:
            given[self.inputs['pitch_classes']] = pt.constant(PITCH_CLASS_INPUT)[variables['pitches']]
        given.update({self.inputs['from_top']: pt.constant(top), self.inputs['from_bottom']: pt.constant(bottom)})
        logits = layers.get_output(self.network, given)
        log_p = pt.special.log_softmax(logits, axis=-1)
        targets = pt.tensor('targets', dtype='int32', shape=(B, V, T))
        weights = pt.tensor('weights', dtype='float32', shape=(B, V, T))
        cell_nll = -pt.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]
        scored = weights * cell_nll
        total, weight = scored.sum(acc_dtype='float32'), weights.sum(acc_dtype='float32')
        # Coconet's objective: each window's masked cells averaged, then the windows
        per_window = scored.sum(axis=(1, 2), acc_dtype='float32') / pt.maximum(
            weights.sum(axis=(1, 2), acc_dtype='float32'), np.float32(1))
        return {**variables, 'targets': targets, 'weights': weights, 'log_p': log_p, 'total': total,
                'weight': weight, 'cost': per_window.sum(acc_dtype='float32') * np.float32(1 / B)}

    def _clipped(self, cost):
        from bach2.nn.updates import total_norm_constraint
        gradients = pt.grad(cost, self.params)
        return total_norm_constraint(gradients, np.float32(self.config.max_grad_norm))

    def _compile(self, inputs, outputs, **kwargs):
        return compile_function(inputs, outputs, backend=self.backend, fused=False, **kwargs)

    @functools.cache
    def train(self, shape):
        graph = self._graph(shape)
        step = OPTIMIZERS['adam'](self._clipped(graph['cost']), self.params,
                                  learning_rate=np.float32(self.config.learning_rate))
        # the same accumulators for every shape: map this step's fresh ones onto the model's
        fresh = [v for v in step if v not in set(self.params)]
        replace = dict(zip(fresh, self.optimizer_state))
        updates = [(replace.get(variable, variable), pytensor_replace(value, replace))
                   for variable, value in step.items()]
        names = ('tokens', 'pitches', 'positions', 'targets', 'weights')
        return self._compile([graph[name] for name in names], graph['cost'], updates=updates)

    @functools.cache
    def nll(self, shape):
        graph = self._graph(shape)
        names = ('tokens', 'pitches', 'positions', 'targets', 'weights')
        return self._compile([graph[name] for name in names], [graph['total'], graph['weight']])

    @functools.cache
    def predict(self, shape):
        graph = self._graph(shape)
        return self._compile([graph[name] for name in ('tokens', 'pitches', 'positions')], graph['log_p'])

    def get_state(self):
        """{name: float32 array} of every parameter and Adam accumulator."""
        return {variable.name: np.asarray(variable.get_value()) for variable in self.params + self.optimizer_state}

    def set_state(self, state, parameters_only=False):
        """Load :meth:`get_state` values (only the parameters with ``parameters_only``)."""
        assign_state(self.params + ([] if parameters_only else self.optimizer_state), state,
                     allow_extra=parameters_only)


def pytensor_replace(expression, replace):
    """``expression`` with the shared variables of ``replace`` swapped (``pytensor.graph.replace.graph_replace``)."""
    from pytensor.graph.replace import graph_replace
    return graph_replace(expression, replace, strict=False) if replace else expression


# --------------------------------------------------------------------------- inputs

def known_pitches(tokens, given):
    """``… × V × T`` tokens and ``given`` (bool, same shape) → int32 sounding-pitch inputs: the key index
    (0 … 87) of a given struck pitch, or of a given hold whose note was struck in a given cell of the same
    voice with only given holds between; :data:`NO_PITCH` elsewhere."""
    tokens = np.asarray(tokens)
    pitches = np.where(given & (tokens >= FIRST_PITCH), tokens - FIRST_PITCH, NO_PITCH).astype(np.int32)
    steps = np.arange(tokens.shape[-1])
    start = np.maximum.accumulate(np.where(given & (tokens == HOLD), -1, steps), axis=-1)   # where each chain of
    held = np.take_along_axis(pitches, start.clip(0), axis=-1)                              # given holds begins
    return np.where(start < 0, NO_PITCH, held).astype(np.int32)


def network_inputs(tokens, given, positions):
    """(tokens with :data:`MASK` where not given, known pitches, positions ``B × 1 × T``) as int32."""
    shown = np.where(given, tokens, MASK).astype(np.int32)
    positions = np.minimum(np.asarray(positions), POSITION_CLASSES - 1).astype(np.int32)
    return shown, known_pitches(tokens, given), positions.reshape(len(shown), 1, -1)


def random_masks(shape, rng):
    """``B × V × T`` bool masks (True: masked, to predict), each window one of four kinds:

    * 50 %: every cell masked with one probability drawn uniformly in (0, 1] (Coconet's orderless masks);
    * 20 %: whole voices (a random non-empty subset; all of them now and then): harmonize, given the others;
    * 20 %: a passage of 4 … T/2 steps in a random non-empty subset of the voices: rewrite;
    * 10 %: every step after a random one: continue.
    """
    B, V, T = shape
    masks = np.zeros(shape, bool)
    for b in range(B):
        kind = rng.random()
        voices = rng.random(V) < 0.5
        if not voices.any():
            voices[rng.integers(V)] = True
        if kind < 0.5:
            masks[b] = rng.random((V, T)) < 1 - rng.random()
        elif kind < 0.7:
            masks[b, voices] = True
        elif kind < 0.9:
            length = int(rng.integers(4, max(5, T // 2 + 1)))
            start = int(rng.integers(0, T - length + 1))
            masks[b, voices, start:start + length] = True
        else:
            masks[b, :, int(rng.integers(1, T)):] = True
        if not masks[b].any():
            masks[b, rng.integers(V), rng.integers(T)] = True
    return masks


def legal(tokens):
    """Tokens with each hold that follows a rest (or starts a voice) turned into a rest: what the sampler keeps."""
    tokens = np.array(tokens, copy=True)
    for t in range(tokens.shape[-1]):
        before = tokens[..., t - 1] if t else np.full(tokens.shape[:-1], REST)
        tokens[..., t] = np.where((tokens[..., t] == HOLD) & (before == REST), REST, tokens[..., t])
    return tokens
