"""A NADE output layer: the joint distribution of the pitches of one step, given the LSTM's state.

The faithful model gives each pitch its own sigmoid, independent of the others,
so it cannot learn which notes sound together. :class:`NADELayer` models the
whole step ``v`` (P pitches, 0/1) as a product of conditionals, low pitch to
high (or in another order: ``order``; Larochelle & Murray 2011), with biases set by the LSTM output ``h`` — the
RNN-NADE of Boulanger-Lewandowski et al. (2012), here with an LSTM:

    b_v = b + h·U_v                   (P)    visible biases of this step
    a_i = c + h·U_h + Σ_{j<i} v_j W_j  (H)    NADE hidden pre-activation for pitch i
    p(v_i = 1 | v_<i, h) = σ(b_v,i + V_i · σ(a_i))

``log p(v | h) = Σ_i log p(v_i | v_<i, h)`` is exact, so the NLL per frame is
comparable with the literature. Training and evaluation feed the true step
(teacher forcing: all P conditionals in one pass); sampling
draws pitch after pitch, each conditional reading the pitches drawn below it.

The teacher-forced conditionals are one fused operation, :data:`nade_logits`
(forward and gradient as two PyTensor Ops, in the spirit of Theano's own fused
ops): on a CPU, Numba kernels walk the pitches of each row once, so the
``rows × P × H`` activations are never stored (the gradient recomputes them row
by row); a JAX graph on another JAX device (a GPU). Measured for 1 024 rows, 88
pitches, H = 150 (``benchmarks/bench_train.py --nade``): see docs/every_step.md.
"""
import jax
import jax.numpy as jnp
import numba
import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.jax.dispatch import jax_funcify

from bach2.nn.layers import Constant, Layer, Normal
from bach2.nn.lstm_sequence import interruptible, jax_on_cpu, kernel_arrays, sigmoid_into

F32 = np.float32


@numba.njit(fastmath=True, parallel=True, cache=True)
def _logits_cpu(hidden, visible, steps, W, V):
    """Rows × H hidden biases, rows × P visible biases, rows × P steps, W, V (P × H) → rows × P logits."""
    rows, n_pitches = visible.shape
    logits = np.empty((rows, n_pitches), np.float32)
    for r in numba.prange(rows):
        activation = hidden[r].copy()
        s, bits = np.empty_like(activation), np.empty(activation.shape[0], np.int32)
        for i in range(n_pitches):
            sigmoid_into(activation, s, bits)
            logits[r, i] = visible[r, i] + np.dot(V[i], s)
            if steps[r, i] != 0:
                activation += steps[r, i] * W[i]
    return logits


@numba.njit(fastmath=True, parallel=True, cache=True)
def _logits_grad_cpu(hidden, visible, steps, W, V, grad, n_blocks):
    """The gradient of Σ grad · logits → (d hidden rows × H, d steps rows × P, dW, dV).

    Rows are split into ``n_blocks`` blocks (one per thread), each with its own dW, dV summed at the end.
    """
    rows, n_pitches = visible.shape
    n_hidden = hidden.shape[1]
    dWs, dVs = np.zeros((n_blocks, n_pitches, n_hidden), np.float32), np.zeros((n_blocks, n_pitches, n_hidden),
                                                                               np.float32)
    d_hidden, d_steps = np.empty((rows, n_hidden), np.float32), np.empty((rows, n_pitches), np.float32)
    per_block = (rows + n_blocks - 1) // n_blocks
    for block in numba.prange(n_blocks):
        s, bits = np.empty((n_pitches, n_hidden), np.float32), np.empty(n_hidden, np.int32)
        activation, above = np.empty(n_hidden, np.float32), np.empty(n_hidden, np.float32)
        dW, dV = dWs[block], dVs[block]
        for r in range(block * per_block, min(rows, (block + 1) * per_block)):
            activation[:] = hidden[r]
            for i in range(n_pitches):                 # σ(a_i) of every pitch, as in the forward pass
                sigmoid_into(activation, s[i], bits)
                if steps[r, i] != 0:
                    activation += steps[r, i] * W[i]
            above[:] = 0                               # Σ_{k > i} ∂/∂a_k: a_k holds v_i W_i for every k > i
            for i in range(n_pitches - 1, -1, -1):
                d_steps[r, i] = np.dot(W[i], above)
                if steps[r, i] != 0:
                    dW[i] += steps[r, i] * above
                g = grad[r, i]
                for h in range(n_hidden):
                    dV[i, h] += g * s[i, h]
                    above[h] += g * V[i, h] * s[i, h] * (F32(1.) - s[i, h])
            d_hidden[r] = above
    return d_hidden, d_steps, dWs.sum(axis=0), dVs.sum(axis=0)


def _logits_graph(hidden, visible, steps, W, V):
    """The same logits as a JAX graph (for a JAX device other than the CPU): Σ_{j<i} v_j W_j as one matmul."""
    rows, n_pitches = visible.shape
    below = jnp.tril(jnp.ones((n_pitches, n_pitches), jnp.float32), -1)           # P × P, j < i
    activation = hidden[:, None, :] + ((steps[:, None, :] * below).reshape(rows * n_pitches, n_pitches) @ W
                                       ).reshape(rows, n_pitches, -1)              # rows × P × H
    return visible + (jax.nn.sigmoid(activation) * V).sum(axis=-1)


def _logits(*arrays):
    """:func:`_logits_cpu` on any arrays."""
    return interruptible(_logits_cpu, *kernel_arrays(arrays))


def _logits_grad(*arrays):
    """:func:`_logits_grad_cpu` on any arrays, one block of rows per thread."""
    arrays = kernel_arrays(arrays)
    return interruptible(_logits_grad_cpu, *arrays, max(1, min(len(arrays[0]), numba.get_num_threads())))


class NADELogits(Op):
    """(hidden ``rows × H``, visible ``rows × P``, steps ``rows × P``, W, V ``P × H``) → logits ``rows × P``:
    ``logit_i = visible_i + V_i · σ(hidden + Σ_{j<i} steps_j W_j)``, float32."""
    __props__ = ()

    def make_node(self, hidden, visible, steps, W, V):
        inputs = [pt.as_tensor_variable(x) for x in (hidden, visible, steps, W, V)]
        return Apply(self, inputs, [pt.tensor(dtype='float32', shape=inputs[1].type.shape)])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = _logits(*inputs)

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[1]]

    def pullback(self, inputs, outputs, cotangents):
        d_hidden, d_steps, dW, dV = NADELogitsGrad()(*inputs, cotangents[0])
        return [d_hidden, cotangents[0], d_steps, dW, dV]


class NADELogitsGrad(Op):
    """(the five inputs of :class:`NADELogits`, grad ``rows × P``) → their gradients but visible's (= grad)."""
    __props__ = ()

    def make_node(self, hidden, visible, steps, W, V, grad):
        inputs = [pt.as_tensor_variable(x) for x in (hidden, visible, steps, W, V, grad)]
        outputs = [pt.tensor(dtype='float32', shape=inputs[i].type.shape) for i in (0, 2, 3, 4)]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, outputs):
        for slot, value in zip(outputs, _logits_grad(*inputs)):
            slot[0] = value

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[i] for i in (0, 2, 3, 4)]


nade_logits = NADELogits()


@jax_funcify.register(NADELogits)
def _jax_logits(op, **kwargs):
    def logits(hidden, visible, steps, W, V):
        if not jax_on_cpu():
            return _logits_graph(hidden, visible, steps, W, V)
        shape = jax.ShapeDtypeStruct(visible.shape, jnp.float32)
        return jax.pure_callback(_logits, shape, hidden, visible, steps, W, V)
    return logits


@jax_funcify.register(NADELogitsGrad)
def _jax_logits_grad(op, **kwargs):
    def gradients(hidden, visible, steps, W, V, grad):
        if not jax_on_cpu():
            d_hidden, _, d_steps, dW, dV = jax.vjp(_logits_graph, hidden, visible, steps, W, V)[1](grad)
            return d_hidden, d_steps, dW, dV
        shapes = tuple(jax.ShapeDtypeStruct(x.shape, jnp.float32) for x in (hidden, steps, W, V))
        return jax.pure_callback(_logits_grad, shapes, hidden, visible, steps, W, V, grad)
    return gradients


def drawing_order(order, width):
    """The ``width`` units of a plane in the order a NADE draws them → int array: the natural index of the
    unit drawn at each turn. 'up': low to high; 'down': high to low; 'outside-in': the highest, the lowest,
    the next highest, the next lowest, …; 'inside-out': that order backwards (the middle first)."""
    if order not in ('up', 'down', 'outside-in', 'inside-out'):
        raise ValueError(f'the order must be up, down, outside-in or inside-out, not {order!r}')
    natural = np.arange(width)
    if order in ('up', 'down'):
        return natural if order == 'up' else natural[::-1]
    outside_in = np.empty(width, int)
    outside_in[0::2], outside_in[1::2] = natural[::-1][:(width + 1) // 2], natural[:width // 2]
    return outside_in if order == 'outside-in' else outside_in[::-1]


class NADELayer(Layer):
    """Output layer over P pitches with H NADE hidden units, reading an ``B × N`` LSTM output.

    Parameters: W (P × H), V (P × H), b (P), c (H), U_v (N × P), U_h (N × H), all float32, indexed in
    the order the NADE draws its units. ``order`` (:func:`drawing_order`, the same within each of the
    ``planes`` planes of P pitches): 'up' (low to high), 'down' (high to low, so that a given top voice is
    the first thing drawn and the rest of the step is sampled from its exact conditional), 'outside-in' or
    'inside-out'. Inputs and outputs keep the natural order.
    ``get_output_for(h, targets=v)`` → ``B × P`` conditionals p(v_i = 1 | v_before i, h); h may have
    more leading axes (``B × T × N`` with ``B × T × P`` targets → ``B × T × P``).
    """

    def __init__(self, incoming, num_units, num_hidden, W=Normal(0.01), V=Normal(0.01), U=Normal(0.01),
                 b=Constant(0.), c=Constant(0.), order='up', planes=1, name=None):
        super().__init__(incoming, name)
        self._check_num_units(num_units)
        self._check_num_units(num_hidden)
        if num_units % planes:
            raise ValueError(f'{self._describe()}: {num_units} units are not {planes} whole planes')
        num_inputs = incoming.output_shape[-1]
        self.num_units, self.num_hidden = num_units, num_hidden
        width = num_units // planes
        self.order = None if order == 'up' else np.concatenate(
            [drawing_order(order, width) + k * width for k in range(planes)])
        self.natural = None if order == 'up' else np.argsort(self.order)
        self.W = self.add_param(W, (num_units, num_hidden), name='W')
        self.V = self.add_param(V, (num_units, num_hidden), name='V')
        self.b = self.add_param(b, (num_units,), name='b', regularizable=False)
        self.c = self.add_param(c, (num_hidden,), name='c', regularizable=False)
        self.U_v = self.add_param(U, (num_inputs, num_units), name='U_v')
        self.U_h = self.add_param(U, (num_inputs, num_hidden), name='U_h')

    def get_output_shape_for(self, input_shape):
        return input_shape[0], self.num_units

    def _reorder(self, x):
        """Units on the last axis of ``x`` from the natural order to the drawing order."""
        return x if self.order is None else x[..., self.order]

    def _natural(self, x):
        """Units on the last axis of ``x`` from the drawing order back to the natural order."""
        return x if self.order is None else x[..., self.natural]

    def biases(self, h):
        """LSTM output ``B × N`` → (visible biases ``B × P``, hidden biases ``B × H``) of this step, drawing order."""
        return self.b + pt.dot(h, self.U_v), self.c + pt.dot(h, self.U_h)

    def get_output_for(self, input, targets=None, **kwargs):
        if targets is None:
            raise ValueError(f'{self._describe()}: the conditionals of a NADE need the step itself (targets=)')
        static = input.type.shape[:-1]          # static where known: the JAX backend traces fixed shapes
        leading = tuple(static) if None not in static else input.shape[:-1]
        h = input.reshape((-1, input.shape[-1]))                            # rows × N
        visible, hidden = self.biases(h)
        steps = self._reorder(targets.reshape((-1, self.num_units)))
        logits = self._natural(nade_logits(hidden, visible, steps, self.W, self.V))
        return pt.sigmoid(logits).reshape((*leading, self.num_units))

    def sample(self, h, cutoffs, temperature, previous=None, max_notes=None):
        """Draw one step for ``h`` (1 × N): unit i is on where p_i > ``cutoffs[i]`` → (step, p), each ``num_units``.

        Each conditional's logit is divided by ``temperature``; uniform cutoffs
        are exact sampling from the NADE, cutoffs of 0.5 take each unit's likelier value; a cutoff
        below 0 keeps a unit on, one above 1 keeps it off (given notes). ``max_notes`` (a scalar): once
        that many pitches sound, the later ones in the drawing order stay off, unless given (a cap on
        the voices, drawn greedily: not the exact conditional of "at most k").
        ``cutoffs`` of K × ``num_units`` draw the step K times at once and keep the draw that sounds the
        most pitches (the first of equals): with a cap, rejection sampling of the draws that fill it — the
        first draw that sounds ``max_notes`` pitches is an exact draw of the capped step given that it
        does, and where none of the K does, the fullest is kept.
        ``previous`` (P = ``num_units`` / 2, the sounding pitches of the step before): the units are P
        sounding pitches, then P onsets, each following its pitch (:func:`follow_pitches`).
        """
        visible, hidden = self.biases(h)
        n_pitches = self.num_units // 2
        articulated = previous is not None
        draws = self._reorder(cutoffs if cutoffs.ndim == 2 else cutoffs[None])              # K × units
        before = self._reorder(pt.concatenate([pt.zeros((n_pitches,), dtype='float32'), previous])) if articulated \
            else pt.zeros((self.num_units,), dtype='float32')
        cap = pt.as_tensor_variable(np.float32(self.num_units) if max_notes is None else max_notes).astype('float32')
        pitch = pt.lt(pt.arange(self.num_units), n_pitches) if articulated else pt.ones((self.num_units,), 'bool')

        def unit(i, b_i, W_i, V_i, cutoff_i, before_i, pitch_i, activation, count, *chosen):
            p_i = pt.sigmoid((b_i + pt.dot(pt.sigmoid(activation), V_i)) / temperature)          # K
            v_i = pt.gt(p_i, cutoff_i).astype('float32')
            v_i = pt.switch(pitch_i & pt.ge(count, cap) & pt.ge(cutoff_i, 0), np.float32(0), v_i)
            count = count + pitch_i * v_i
            if not articulated:
                return activation + v_i[:, None] * W_i, count, v_i, p_i
            sounding, onset = chosen[0][:, pt.maximum(i - n_pitches, 0)], pt.ge(i, n_pitches)   # the units so far
            v_i = pt.switch(onset, follow_pitches(v_i, sounding, before_i), v_i)   # an onset follows its pitch
            p_i = pt.switch(onset, follow_pitches(p_i, sounding, before_i), p_i)
            return activation + v_i[:, None] * W_i, count, pt.set_subtensor(chosen[0][:, i], v_i), p_i

        n_draws = draws.shape[0]
        chosen = pt.zeros((n_draws, self.num_units), dtype='float32') if articulated else None
        outputs = pytensor.scan(unit, sequences=[pt.arange(self.num_units), visible[0], self.W, self.V, draws.T,
                                                 before, pitch],
                                outputs_info=[pt.ones((n_draws, 1), dtype='float32') * hidden,
                                              pt.zeros((n_draws,), dtype='float32'), chosen, None],
                                return_updates=False)
        steps = outputs[2][-1] if articulated else outputs[2].T                                # K × units
        counts = outputs[1][-1]
        fullest = pt.eq(counts, counts.max()).astype('float32')
        first = fullest * pt.eq(pt.cumsum(fullest), 1)           # one-hot K, float: no int64 index under JAX
        return self._natural(pt.dot(first, steps)), self._natural(pt.dot(first, outputs[3].T))


def follow_pitches(onsets, sounding, before):
    """Onset values or conditionals of a step whose onsets follow its pitches → 0 where the pitch is silent,
    1 where it starts sounding (``before`` 0: silent the step before), ``onsets`` where it sounded before
    (held, or struck again: the one choice left). Any shapes that broadcast; exact 0 and 1, so the
    likelihood counts only the choices the music leaves open."""
    return sounding * (before * onsets + (1 - before))
