"""The whole recurrence of one LSTM layer as one operation, forward and gradient (Theano's cuDNN RNN ops in spirit).

:class:`~bach2.nn.layers.LSTMLayer` as a ``scan`` costs a loop of small graph
operations per step; here a layer's T steps are one PyTensor Op, its gradient a
second. Inputs, float32 (T steps, B sequences, F features, n units, G = 4n gates
stacked [in, forget, cell, out] as in Lasagne):

    x           T × B × F   the layer's input
    W_in, b     F × G, G    x_t W_in + b: one matrix product for all steps
    W_hid       n × G
    peep        3 × n       peepholes [w_ci, w_cf, w_co] (zeros and unused without them)
    cell0, hid0 B × n       the state before the first step
    reset       T × B       1 where the state returns to (cell_start, hid_start) before step t
    cell_start, hid_start   1 × n

Outputs: cells and hids (T × B × n, in processing order), and a cache
T × B × 5n (i, f, g, o after their nonlinearities and tanh c_t) that only the
gradient reads. The gradient clips what reaches the gate pre-activations to
[-grad_clipping, grad_clipping] inside every step, as Lasagne's GRAD_CLIPPING;
the peepholes sit after the clip, as in the scan.

On a CPU (PyTensor's C backend, or JAX on the CPU through a callback) Numba
kernels split the sequences into one block per thread; each block does the input
product for all its steps at once, then one matrix product per step (oneDNN's
sgemm on the block's thread, :mod:`bach2.nn.gemm`, 1.7× the OpenBLAS products
it replaced in the layer's forward and backward at N = 256) and the gate
functions in one vectorised pass, never waiting for another block; the weights'
gradients are one product per block over all steps at the end. On another JAX device (a GPU) the same
mathematics is a ``lax.scan`` and its gradient is JAX's. Written by hand
because no library offers an LSTM with Lasagne's peepholes and gate clipping
(cuDNN and PyTorch have no peepholes).
"""
import functools
import platform

import jax
import jax.numpy as jnp
import numba
import numpy as np
import pytensor.tensor as pt
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic
import scipy.linalg.cython_blas  # noqa: F401  the BLAS Numba's dot calls: loaded before _BLAS looks for it
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.jax.dispatch import jax_funcify
from threadpoolctl import ThreadpoolController

from bach2.nn.gemm import product, product_transposed

F32 = np.float32


@numba.njit(fastmath=True, inline='always', cache=True)
def sigmoid_into(activation, out, bits):
    """``out = σ(activation)`` over a vector (float32; ``bits``: int32 scratch of the same length).

    exp is written out, 2^k · p(f) with a degree-6 polynomial (σ within 2e-7 of
    float64 for any input, tested), because pip's Numba has no vector exp: this
    form compiles to AVX-512, and the NADE's forward kernel ran 11× faster than with ``np.exp``.
    """
    for h in range(activation.shape[0]):
        x = min(max(-activation[h], F32(-87.)), F32(87.)) * F32(1.4426950408889634)    # log2 e^(-a)
        k = np.floor(x + F32(0.5))
        f = (x - k) * F32(0.6931471805599453)                                          # |f| ≤ ln2 / 2
        out[h] = F32(1.) + f * (F32(1.) + f * (F32(1 / 2) + f * (F32(1 / 6) + f * (
            F32(1 / 24) + f * (F32(1 / 120) + f * F32(1 / 720))))))
        bits[h] = (np.int32(k) + np.int32(127)) << np.int32(23)                         # 2^k as float32 bits
    powers = bits.view(np.float32)
    for h in range(activation.shape[0]):
        out[h] = F32(1.) / (F32(1.) + out[h] * powers[h])


@numba.njit(fastmath=True, inline='always', cache=True)
def _tanh_into(activation, out, scratch, bits):
    """``out = tanh(activation) = 2 σ(2 a) - 1`` over a vector (``scratch``: float32 of the same length)."""
    for h in range(activation.shape[0]):
        scratch[h] = F32(2.) * activation[h]
    sigmoid_into(scratch, out, bits)
    for h in range(activation.shape[0]):
        out[h] = F32(2.) * out[h] - F32(1.)


@numba.njit(fastmath=True, inline='always', cache=True)
def _previous(t, b, states, state0, reset, start):
    """The state step t of sequence b reads: the start after a reset, else the last step's (or the initial one)."""
    if reset[t, b] != 0:
        return start[0]
    return states[t - 1, b] if t > 0 else state0[b]


X86 = platform.machine().lower() in ('x86_64', 'amd64')


@intrinsic
def _flush_denormals(typingctx, flush):
    """Set (``flush`` true) or clear the flush-to-zero and denormals-are-zero bits of this thread's MXCSR → whether
    both were set before. Called at the start and the end of each thread's block: a gradient fading over 64
    steps can reach the denormal range, where a CPU computes many times slower, and XLA's threads flush them
    too, so the kernels compute what the scan through JAX computes. Elsewhere than on x86 nothing is done."""
    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        if not X86:
            return ir.Constant(ir.IntType(1), 1)
        slot = cgutils.alloca_once(builder, i32)
        pointer = builder.bitcast(slot, ir.IntType(8).as_pointer())
        function = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
        builder.call(cgutils.get_or_insert_function(builder.module, function, 'llvm.x86.sse.stmxcsr'), [pointer])
        before = builder.load(slot)
        bits = ir.Constant(i32, 0x8040)
        builder.store(builder.select(args[0], builder.or_(before, bits), builder.and_(before, builder.not_(bits))),
                      slot)
        builder.call(cgutils.get_or_insert_function(builder.module, function, 'llvm.x86.sse.ldmxcsr'), [pointer])
        return builder.icmp_unsigned('==', builder.and_(before, bits), bits)
    return types.boolean(types.boolean), codegen


@numba.njit(fastmath=True, inline='always', cache=True)
def _block_rows(block, per, n_rows):
    """Sequences ``lo:hi`` of a block of ``per``."""
    return block * per, min(n_rows, (block + 1) * per)


@numba.njit(fastmath=True, parallel=True, cache=True)
def _forward_cpu(x, W_in, b_in, W_hid, peep, cell0, hid0, reset, cell_start, hid_start, n_blocks):
    """→ cells, hids (T × B × n), cache (T × B × 5n: i, f, g, o, tanh c). The sequences are split into
    ``n_blocks`` blocks, one per thread, each running all T steps on its own (no step waits for another block)."""
    T, B, F = x.shape
    G = W_hid.shape[1]
    n = G // 4
    cells, hids = np.empty((T, B, n), np.float32), np.empty((T, B, n), np.float32)
    cache = np.empty((T, B, 5 * n), np.float32)
    per = (B + n_blocks - 1) // n_blocks
    for block in numba.prange(n_blocks):
        flushed = _flush_denormals(True)
        lo, hi = _block_rows(block, per, B)
        rows = max(hi - lo, 0)
        x_block = np.empty((T, rows, F), np.float32)
        x_block[:] = x[:, lo:hi]
        gates_in = np.empty((T, rows, G), np.float32)
        product(x_block.reshape(T * rows, F), W_in, gates_in.reshape(T * rows, G))   # without b_in
        h_prev, pre = np.empty((rows, n), np.float32), np.empty((rows, G), np.float32)
        scratch, bits = np.empty(n, np.float32), np.empty(2 * n, np.int32)
        for t in range(T):
            for b in range(lo, hi):
                h_prev[b - lo] = _previous(t, b, hids, hid0, reset, hid_start)
            product(h_prev, W_hid, pre)                                              # rows × G
            for b in range(lo, hi):
                c_prev = _previous(t, b, cells, cell0, reset, cell_start)
                z, act = pre[b - lo], cache[t, b]
                for k in range(G):
                    z[k] += gates_in[t, b - lo, k] + b_in[k]
                for k in range(n):
                    z[k] += c_prev[k] * peep[0, k]
                    z[n + k] += c_prev[k] * peep[1, k]
                sigmoid_into(z[:2 * n], act[:2 * n], bits)                            # i, f
                _tanh_into(z[2 * n:3 * n], act[2 * n:3 * n], scratch, bits)           # g
                cell = cells[t, b]
                for k in range(n):
                    cell[k] = act[n + k] * c_prev[k] + act[k] * act[2 * n + k]
                    z[3 * n + k] += cell[k] * peep[2, k]                                # the new cell
                sigmoid_into(z[3 * n:], act[3 * n:4 * n], bits)                       # o
                _tanh_into(cell, act[4 * n:], scratch, bits)
                for k in range(n):
                    hids[t, b, k] = act[3 * n + k] * act[4 * n + k]
        _flush_denormals(flushed)
    return cells, hids, cache


@numba.njit(fastmath=True, parallel=True, cache=True)
def _backward_cpu(x, W_in_T, W_hid_T, peep, cell0, hid0, reset, cell_start, hid_start, cells, hids, cache,
                  d_cells, d_hids, clip, n_blocks):
    """The gradient of Σ d_cells · cells + d_hids · hids → (d x, d W_in, d b, d W_hid, d peep, d cell0, d hid0,
    d cell_start, d hid_start); ``clip`` > 0 bounds what reaches the gate pre-activations. Blocks of sequences
    as in the forward kernel, each with its own share of the weights' gradients, summed at the end. Kept whole
    (76 lines): one block's walk back through time and its weight gradients share the block's buffers, which a
    split would pass, with the kernel's sixteen arrays, from one Numba function to the next."""
    T, B, n = cells.shape
    F = x.shape[2]
    G = 4 * n
    d_x = np.empty((T, B, F), np.float32)
    d_W_in_blocks, d_b_blocks = np.zeros((n_blocks, F, G), np.float32), np.zeros((n_blocks, G), np.float32)
    d_W_blocks = np.zeros((n_blocks, n, G), np.float32)
    d_peep_blocks = np.zeros((n_blocks, 3, n), np.float32)
    d_start_blocks = np.zeros((n_blocks, 2, n), np.float32)          # cell_start, hid_start
    d_cell0, d_hid0 = np.zeros((B, n), np.float32), np.zeros((B, n), np.float32)
    per = (B + n_blocks - 1) // n_blocks
    for block in numba.prange(n_blocks):
        flushed = _flush_denormals(True)
        lo, hi = _block_rows(block, per, B)
        rows = max(hi - lo, 0)
        dz_block, h_block = np.empty((T, rows, G), np.float32), np.empty((T, rows, n), np.float32)
        dh_next, dc_next = np.zeros((rows, n), np.float32), np.zeros((rows, n), np.float32)
        dp = d_peep_blocks[block]
        for t in range(T - 1, -1, -1):
            for b in range(lo, hi):
                r = b - lo
                c_prev = _previous(t, b, cells, cell0, reset, cell_start)
                h_block[t, r] = _previous(t, b, hids, hid0, reset, hid_start)
                act, dz, cell = cache[t, b], dz_block[t, r], cells[t, b]
                dh_out, dc_out, dh_in, dc_in = d_hids[t, b], d_cells[t, b], dh_next[r], dc_next[r]
                # Loops that each write one array, so that LLVM vectorises them (it checks at run time that the
                # arrays do not overlap, for few enough pairs): the output gate's and the cell's gradients first
                for k in range(n):
                    o, tc = act[3 * n + k], act[4 * n + k]
                    dz[3 * n + k] = (dh_out[k] + dh_in[k]) * tc * o * (F32(1.) - o)
                for k in range(n):
                    o, tc = act[3 * n + k], act[4 * n + k]
                    dh = dh_out[k] + dh_in[k]
                    dc_in[k] = (dc_out[k] + dc_in[k] + dh * o * (F32(1.) - tc * tc)
                                + dh * tc * o * (F32(1.) - o) * peep[2, k])                  # now d c_t
                for k in range(n):                                                          # i, f, g
                    i, f, g, dc = act[k], act[n + k], act[2 * n + k], dc_in[k]
                    dz[k] = dc * g * i * (F32(1.) - i)
                    dz[n + k] = dc * c_prev[k] * f * (F32(1.) - f)
                    dz[2 * n + k] = dc * i * (F32(1.) - g * g)
                for k in range(n):                                                          # d c_{t-1}
                    dc_in[k] = dc_in[k] * act[n + k] + dz[k] * peep[0, k] + dz[n + k] * peep[1, k]
                for k in range(n):          # the peepholes' gradients: before the clip
                    dp[0, k] += dz[k] * c_prev[k]
                    dp[1, k] += dz[n + k] * c_prev[k]
                    dp[2, k] += dz[3 * n + k] * cell[k]
                if clip > 0:
                    for k in range(G):
                        dz[k] = min(max(dz[k], -clip), clip)
            product(dz_block[t], W_hid_T, dh_next)                                     # rows × n
            for b in range(lo, hi):
                if reset[t, b] != 0:        # this step read the start state, not the step before
                    d_start_blocks[block, 0] += dc_next[b - lo]
                    d_start_blocks[block, 1] += dh_next[b - lo]
                    dc_next[b - lo] = 0
                    dh_next[b - lo] = 0
        d_cell0[lo:hi] = dc_next
        d_hid0[lo:hi] = dh_next
        dz_rows = dz_block.reshape(T * rows, G)
        product_transposed(h_block.reshape(T * rows, n), dz_rows, d_W_blocks[block])
        x_block = np.empty((T, rows, F), np.float32)
        x_block[:] = x[:, lo:hi]
        product_transposed(x_block.reshape(T * rows, F), dz_rows, d_W_in_blocks[block])
        d_b_blocks[block] = dz_rows.sum(axis=0)
        product(dz_rows, W_in_T, x_block.reshape(T * rows, F))                        # d x of the block
        d_x[:, lo:hi] = x_block
        _flush_denormals(flushed)
    d_start = d_start_blocks.sum(axis=0)
    return (d_x, d_W_in_blocks.sum(axis=0), d_b_blocks.sum(axis=0), d_W_blocks.sum(axis=0),
            d_peep_blocks.sum(axis=0), d_cell0, d_hid0, d_start[:1].copy(), d_start[1:].copy())


def kernel_arrays(arrays):
    """C-contiguous, writable float32 copies where needed: one compiled specialisation of each kernel (here and
    in :mod:`bach2.nn.nade`) serves PyTensor's C backend and JAX's read-only callback buffers alike."""
    return [np.require(x, np.float32, ['C', 'W']) for x in arrays]


_BLAS = ThreadpoolController().select(user_api='blas')


def _one_block_per_thread(kernel, *arrays, n_rows):
    """``kernel(*arrays, n_blocks)``: one block of the ``n_rows`` sequences per Numba thread, each calling a
    BLAS of one thread (measured on 2 cores: with BLAS's own threads fighting Numba's, the training step at
    N = 256 took 405 ms against 293 ms)."""
    n_blocks = max(1, min(n_rows, numba.get_num_threads()))
    with _BLAS.limit(limits=1):
        return interruptible(kernel, *arrays, n_blocks)


def interruptible(kernel, *arguments):
    """``kernel(*arguments)``, a Numba kernel here or in :mod:`bach2.nn.nade`: Ctrl-C during one comes out of Numba
    as a SystemError caused by the KeyboardInterrupt, raised here as the KeyboardInterrupt itself (which
    ``bach2 train`` turns into a checkpoint)."""
    try:
        return kernel(*arguments)
    except SystemError as error:
        cause = error
        while cause.__cause__ is not None:
            cause = cause.__cause__
        if isinstance(cause, KeyboardInterrupt):
            raise cause from None
        raise


def one_blas_thread(function):
    """``function`` (a compiled PyTensor function whose LSTMs are this module's Ops on the C backend), each call
    with BLAS limited to one thread throughout: OpenBLAS's threads spin for a while after every product of two
    threads, and the graph's small products around the Ops (the output layer, its gradient) left them spinning
    against the kernels' threads (measured, N = 256: the training step 270 → 180 ms, the second layer's forward
    kernel 72 → 28 ms in the step)."""
    blas = ThreadpoolController().select(user_api='blas')     # every BLAS loaded by now, the C backend's too

    @functools.wraps(function)
    def limited(*args, **kwargs):
        with blas.limit(limits=1):
            return function(*args, **kwargs)
    return limited


def _forward(*arrays):
    arrays = kernel_arrays(arrays)
    return _one_block_per_thread(_forward_cpu, *arrays, n_rows=arrays[0].shape[1])


def _backward(clip, x, W_in, b_in, W_hid, peep, cell0, hid0, reset, cell_start, hid_start, cells, hids, cache,
              d_cells, d_hids):
    arrays = kernel_arrays((x, np.asarray(W_in).T, np.asarray(W_hid).T, peep, cell0, hid0, reset, cell_start,
                             hid_start, cells, hids, cache, d_cells, d_hids))
    return _one_block_per_thread(_backward_cpu, *arrays, F32(clip), n_rows=x.shape[1])


@jax.custom_vjp
def _clipped(z, clip):
    return z


def _clipped_forward(z, clip):
    return z, clip


def _clipped_backward(clip, g):
    return (jnp.where(clip > 0, jnp.clip(g, -clip, clip), g), jnp.zeros_like(clip))


_clipped.defvjp(_clipped_forward, _clipped_backward)


def _graph(clip, x, W_in, b_in, W_hid, peep, cell0, hid0, reset, cell_start, hid_start):
    """cells, hids (T × B × n) as a JAX scan (for a JAX device other than the CPU)."""
    gates_in, clip, n = x @ W_in + b_in, jnp.float32(clip), W_hid.shape[0]

    def step(carry, inputs):
        """The scan's step: the reset, the clip, then the peepholes."""
        (cell_prev, hid_prev), (gates_n, reset_n) = carry, inputs
        keep = reset_n[:, None] == 0
        cell_prev = jnp.where(keep, cell_prev, cell_start)
        hid_prev = jnp.where(keep, hid_prev, hid_start)
        z = _clipped(gates_n + hid_prev @ W_hid, clip)
        i = jax.nn.sigmoid(z[:, :n] + cell_prev * peep[0])
        f = jax.nn.sigmoid(z[:, n:2 * n] + cell_prev * peep[1])
        cell = f * cell_prev + i * jnp.tanh(z[:, 2 * n:3 * n])
        o = jax.nn.sigmoid(z[:, 3 * n:] + cell * peep[2])
        hid = o * jnp.tanh(cell)
        return (cell, hid), (cell, hid)
    return jax.lax.scan(step, (cell0, hid0), (gates_in, reset))[1]


class LSTMSequence(Op):
    """(x, W_in, b, W_hid, peep, cell0, hid0, reset, cell_start, hid_start) → (cells, hids, cache); see the
    module."""
    __props__ = ('grad_clipping',)

    def __init__(self, grad_clipping=0.):
        self.grad_clipping = float(grad_clipping)

    def make_node(self, *inputs):
        inputs = [pt.as_tensor_variable(x).astype('float32') for x in inputs]
        T, B, _ = inputs[0].type.shape
        G = inputs[3].type.shape[1]
        n = None if G is None else G // 4
        return Apply(self, inputs, [pt.tensor(dtype='float32', shape=(T, B, n)),
                                    pt.tensor(dtype='float32', shape=(T, B, n)),
                                    pt.tensor(dtype='float32', shape=(T, B, None if n is None else 5 * n))])

    def perform(self, node, inputs, outputs):
        for slot, value in zip(outputs, _forward(*inputs)):
            slot[0] = value

    def infer_shape(self, fgraph, node, shapes):
        (T, B, _), n = shapes[0], shapes[3][0]
        return [(T, B, n), (T, B, n), (T, B, 5 * n)]

    def pullback(self, inputs, outputs, cotangents):
        d_cells, d_hids = (pt.zeros_like(out) if isinstance(d.type, DisconnectedType) else d
                           for out, d in zip(outputs[:2], cotangents[:2]))
        grads = LSTMSequenceGrad(self.grad_clipping)(*inputs, *outputs, d_cells, d_hids)
        return [*grads[:7], pt.zeros_like(inputs[7]), *grads[7:]]


GRADIENTS = (0, 1, 2, 3, 4, 5, 6, 8, 9)       # the inputs of LSTMSequence that have one (all but reset)


class LSTMSequenceGrad(Op):
    """(the 10 inputs of :class:`LSTMSequence`, its 3 outputs, d cells, d hids) → the gradients of its inputs
    but reset's."""
    __props__ = ('grad_clipping',)

    def __init__(self, grad_clipping=0.):
        self.grad_clipping = float(grad_clipping)

    def make_node(self, *inputs):
        inputs = [pt.as_tensor_variable(x).astype('float32') for x in inputs]
        outputs = [pt.tensor(dtype='float32', shape=inputs[i].type.shape) for i in GRADIENTS]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, outputs):
        for slot, value in zip(outputs, _backward(self.grad_clipping, *inputs)):
            slot[0] = value

    def infer_shape(self, fgraph, node, shapes):
        return [shapes[i] for i in GRADIENTS]


def jax_on_cpu():
    """Whether JAX computes on the CPU (the kernels through a callback) or on another device (a JAX graph)."""
    return jax.default_backend() == 'cpu'


@jax_funcify.register(LSTMSequence)
def _jax_forward(op, **kwargs):
    clip = op.grad_clipping

    def forward(*inputs):
        (T, B, _), n = inputs[0].shape, inputs[3].shape[0]
        if not jax_on_cpu():
            cells, hids = _graph(clip, *inputs)
            return cells, hids, jnp.zeros((T, B, 5 * n), jnp.float32)     # the graph's gradient needs no cache
        shapes = tuple(jax.ShapeDtypeStruct(shape, jnp.float32) for shape in ((T, B, n), (T, B, n), (T, B, 5 * n)))
        return jax.pure_callback(_forward, shapes, *inputs)
    return forward


@jax_funcify.register(LSTMSequenceGrad)
def _jax_backward(op, **kwargs):
    clip = op.grad_clipping

    def backward(*arrays):
        inputs, (d_cells, d_hids) = arrays[:10], arrays[13:]     # then cells, hids, cache, d cells, d hids
        if not jax_on_cpu():
            def graph(*differentiable):
                return _graph(clip, *differentiable[:7], inputs[7], *differentiable[7:])
            pull = jax.vjp(graph, *(inputs[i] for i in GRADIENTS))[1]
            return pull((d_cells, d_hids))
        shapes = tuple(jax.ShapeDtypeStruct(inputs[i].shape, jnp.float32) for i in GRADIENTS)
        return jax.pure_callback(lambda *arrays: _backward(clip, *arrays), shapes, *arrays)
    return backward


def lstm_sequence(x, W_in, b, W_hid, peep, cell0, hid0, reset, cell_start, hid_start, grad_clipping=0.):
    """Symbolic (cells, hids), each T × B × n, of the whole recurrence (see the module)."""
    cells, hids, _ = LSTMSequence(grad_clipping)(x, W_in, b, W_hid, peep, cell0, hid0, reset, cell_start, hid_start)
    return cells, hids
