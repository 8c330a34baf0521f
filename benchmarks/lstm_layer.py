"""Benchmark: one LSTM layer's forward and backward pass — our fused kernels against oneDNN's own LSTM primitive.

The fused LSTM Op (:mod:`bach2.nn.lstm_sequence`) runs its products on oneDNN's
sgemm (:mod:`bach2.nn.gemm`). oneDNN also has a whole LSTM primitive, with
peephole weights, which PyTorch's ``nn.LSTM`` runs on a CPU (without peepholes).
This times both on the layers of the journal's network (64 steps × 64 sequences;
layer 1 reads 61 pitches, layer 2 the N units below), after checking that the
primitive computes what the kernels compute: the hidden states, the last cell and
every gradient, with the journal's gate order [in, forget, cell, out] and
peepholes [in, forget, out]. The primitive cannot be the Op's path: it has no
GRAD_CLIPPING inside the steps (the journal's default is 10, and it binds:
REPRODUCTION.md) and no resets of the state within a window (every-step
training); here both are off. Its weights are reordered to the layout its
backward pass wants on every call, as a training step would.

A third line times the matrix products of the kernels' forward pass alone (the
same products, nothing between them): what is left of the forward pass is its gate
functions and memory traffic.

The primitive is reached through oneDNN's C API with ctypes (``libdnnl`` of the
``onednn-cpu-gomp`` wheel, oneDNN 3.2; the enum values are that version's). Run
the kernels' row on NumPy's dot as well with ``BACH2_GEMM=numpy`` in the
environment.

    python benchmarks/lstm_layer.py [--sizes 256 768] [--repeats 10]
"""
import argparse
import ctypes

import numba
import numpy as np

from bach2.nn import gemm, lstm_sequence
from bench_train import time_steps       # the benchmarks' timer: the median call after two to warm up

T, B, PITCHES = 64, 64, 61
P = ctypes.c_void_p
DIMS = ctypes.c_int64 * 12
# oneDNN 3.2's enum values (oneapi/dnnl/dnnl_types.h)
CPU, F32, TNC, LDNC, LDIGO, LDGO, ANY = 1, 3, 4, 5, 6, 5, 1
TRAINING, BACKWARD, LEFT_TO_RIGHT, QUERY_WORKSPACE, QUERY_WEIGHTS, QUERY_DIFF_WEIGHTS = 64, 128, 1, 135, 131, 132
SRC, SRC_ITER, SRC_ITER_C, DST, DST_ITER, DST_ITER_C = 1, 2, 3, 17, 18, 19
WEIGHTS_LAYER, WEIGHTS_ITER, WEIGHTS_PEEPHOLE, BIAS, WORKSPACE, DIFF = 33, 34, 35, 41, 64, 128


class Arg(ctypes.Structure):
    _fields_ = [('arg', ctypes.c_int), ('memory', P)]


class OneDNN:
    """The few calls of oneDNN's C API an LSTM layer needs, on one CPU engine and stream."""

    SIGNATURES = {
        'dnnl_engine_create': [ctypes.POINTER(P), ctypes.c_int, ctypes.c_size_t],
        'dnnl_stream_create': [ctypes.POINTER(P), P, ctypes.c_uint],
        'dnnl_memory_desc_create_with_tag': [ctypes.POINTER(P), ctypes.c_int, DIMS, ctypes.c_int, ctypes.c_int],
        'dnnl_primitive_create': [ctypes.POINTER(P), P],
        'dnnl_memory_create': [ctypes.POINTER(P), P, P, P],
        'dnnl_primitive_execute': [P, P, ctypes.c_int, ctypes.POINTER(Arg)],
        'dnnl_stream_wait': [P],
        'dnnl_memory_destroy': [P],
        'dnnl_primitive_destroy': [P],
        'dnnl_primitive_desc_destroy': [P],
        'dnnl_reorder_primitive_desc_create': [ctypes.POINTER(P), P, P, P, P, P],
        'dnnl_lstm_forward_primitive_desc_create': [ctypes.POINTER(P), P, ctypes.c_int, ctypes.c_int] + [P] * 11
        + [ctypes.c_uint, P],
        'dnnl_lstm_backward_primitive_desc_create': [ctypes.POINTER(P), P, ctypes.c_int, ctypes.c_int] + [P] * 22
        + [ctypes.c_uint, P, P],
    }

    def __init__(self):
        self.lib = gemm._library()
        if self.lib is None:
            raise SystemExit('lstm_layer.py: oneDNN is not installed (pip install onednn-cpu-gomp==2023.2.0)')
        for name, arguments in self.SIGNATURES.items():
            function = getattr(self.lib, name)
            function.restype, function.argtypes = ctypes.c_int, arguments
        self.lib.dnnl_memory_desc_get_size.restype, self.lib.dnnl_memory_desc_get_size.argtypes = ctypes.c_size_t, [P]
        self.lib.dnnl_primitive_desc_query_md.restype = P
        self.lib.dnnl_primitive_desc_query_md.argtypes = [P, ctypes.c_int, ctypes.c_int]
        self.engine, self.stream = P(), P()
        self.call('dnnl_engine_create', ctypes.byref(self.engine), CPU, 0)
        self.call('dnnl_stream_create', ctypes.byref(self.stream), self.engine, 1)

    def call(self, name, *arguments):
        status = getattr(self.lib, name)(*arguments)
        if status != 0:
            raise RuntimeError(f'{name}: oneDNN status {status}')

    def new(self, name, *arguments):
        """The handle that ``name`` creates (its first argument)."""
        handle = P()
        self.call(name, ctypes.byref(handle), *arguments)
        return handle

    def desc(self, shape, tag):
        return self.new('dnnl_memory_desc_create_with_tag', len(shape), DIMS(*shape), F32, tag)

    def size(self, desc):
        return self.lib.dnnl_memory_desc_get_size(desc)

    def query(self, primitive_desc, what, index=0):
        return self.lib.dnnl_primitive_desc_query_md(primitive_desc, what, index)

    def run(self, primitive, arguments):
        """Execute ``primitive`` on {argument: (memory desc, array)}; the arrays must stay alive until it returns."""
        args = [Arg(key, self.new('dnnl_memory_create', desc, self.engine, array.ctypes.data_as(P)))
                for key, (desc, array) in arguments.items()]
        self.call('dnnl_primitive_execute', primitive, self.stream, len(args), (Arg * len(args))(*args))
        self.call('dnnl_stream_wait', self.stream)
        for arg in args:
            self.call('dnnl_memory_destroy', arg.memory)

    def reorder(self, source_desc, target_desc, source, target):
        primitive_desc = self.new('dnnl_reorder_primitive_desc_create', source_desc, self.engine, target_desc,
                                  self.engine, None)
        primitive = self.new('dnnl_primitive_create', primitive_desc)
        self.run(primitive, {SRC: (source_desc, source), DST: (target_desc, target)})
        self.call('dnnl_primitive_destroy', primitive)
        self.call('dnnl_primitive_desc_destroy', primitive_desc)


def primitive_layer(dnnl, x, W_in, b, W_hid, peep, cell0, hid0):
    """→ (forward, backward): closures running oneDNN's LSTM primitive on one layer; backward(d_hids, d_cell)
    returns (d x, d W_in, d b, d W_hid, d peep, d cell0, d hid0), forward() (hids, last cell)."""
    F, n = x.shape[2], W_hid.shape[0]
    d = dict(src=dnnl.desc([T, B, F], TNC), state=dnnl.desc([1, 1, B, n], LDNC),
             w_layer=dnnl.desc([1, 1, F, 4, n], LDIGO), w_iter=dnnl.desc([1, 1, n, 4, n], LDIGO),
             peep=dnnl.desc([1, 1, 3, n], LDGO), bias=dnnl.desc([1, 1, 4, n], LDGO), dst=dnnl.desc([T, B, n], TNC),
             any_layer=dnnl.desc([1, 1, F, 4, n], ANY), any_iter=dnnl.desc([1, 1, n, 4, n], ANY))
    forward_desc = dnnl.new('dnnl_lstm_forward_primitive_desc_create', dnnl.engine, TRAINING, LEFT_TO_RIGHT,
                            d['src'], d['state'], d['state'], d['w_layer'], d['w_iter'], d['peep'], None, d['bias'],
                            d['dst'], d['state'], d['state'], 0, None)
    forward_primitive = dnnl.new('dnnl_primitive_create', forward_desc)
    workspace_desc = dnnl.query(forward_desc, QUERY_WORKSPACE)
    workspace = np.empty(dnnl.size(workspace_desc), np.uint8)
    hids, last_hid, last_cell = (np.empty(shape, np.float32) for shape in ((T, B, n), (B, n), (B, n)))
    inputs = {SRC: (d['src'], x), SRC_ITER: (d['state'], hid0), SRC_ITER_C: (d['state'], cell0),
              WEIGHTS_LAYER: (d['w_layer'], W_in), WEIGHTS_ITER: (d['w_iter'], W_hid),
              WEIGHTS_PEEPHOLE: (d['peep'], peep), BIAS: (d['bias'], b), DST: (d['dst'], hids),
              DST_ITER: (d['state'], last_hid), DST_ITER_C: (d['state'], last_cell),
              WORKSPACE: (workspace_desc, workspace)}
    backward_desc = dnnl.new('dnnl_lstm_backward_primitive_desc_create', dnnl.engine, BACKWARD, LEFT_TO_RIGHT,
                             d['src'], d['state'], d['state'], d['any_layer'], d['any_iter'], d['peep'], None,
                             d['bias'], d['dst'], d['state'], d['state'], d['src'], d['state'], d['state'],
                             d['any_layer'], d['any_iter'], d['peep'], None, d['bias'], d['dst'], d['state'],
                             d['state'], 0, forward_desc, None)
    backward_primitive = dnnl.new('dnnl_primitive_create', backward_desc)
    packed = [dnnl.query(backward_desc, what, k) for what in (QUERY_WEIGHTS, QUERY_DIFF_WEIGHTS) for k in (0, 1)]

    def forward():
        dnnl.run(forward_primitive, inputs)
        return hids, last_cell

    def backward(d_hids, d_cell):
        weights = [np.empty(dnnl.size(desc), np.uint8) for desc in packed]
        dnnl.reorder(d['w_layer'], packed[0], W_in, weights[0])
        dnnl.reorder(d['w_iter'], packed[1], W_hid, weights[1])
        for array in weights[2:]:
            array[:] = 0                    # oneDNN adds the weights' gradients to what is there
        d_x, d_cell0, d_hid0 = np.empty_like(x), np.empty_like(cell0), np.empty_like(hid0)
        d_peep, d_b, d_W_in, d_W_hid = np.zeros_like(peep), np.zeros_like(b), np.empty_like(W_in), np.empty_like(W_hid)
        zeros = np.zeros_like(hid0)
        dnnl.run(backward_primitive, {
            **inputs, WEIGHTS_LAYER: (packed[0], weights[0]), WEIGHTS_ITER: (packed[1], weights[1]),
            DIFF + DST: (d['dst'], d_hids), DIFF + DST_ITER: (d['state'], zeros),
            DIFF + DST_ITER_C: (d['state'], d_cell), DIFF + SRC: (d['src'], d_x),
            DIFF + SRC_ITER: (d['state'], d_hid0), DIFF + SRC_ITER_C: (d['state'], d_cell0),
            DIFF + WEIGHTS_LAYER: (packed[2], weights[2]), DIFF + WEIGHTS_ITER: (packed[3], weights[3]),
            DIFF + WEIGHTS_PEEPHOLE: (d['peep'], d_peep), DIFF + BIAS: (d['bias'], d_b)})
        dnnl.reorder(packed[2], d['w_layer'], weights[2], d_W_in)
        dnnl.reorder(packed[3], d['w_iter'], weights[3], d_W_hid)
        return d_x, d_W_in, d_b, d_W_hid, d_peep, d_cell0, d_hid0
    return forward, backward


@numba.njit(parallel=True)
def forward_products(x, W_in, W_hid, n_blocks):
    """The matrix products of the kernels' forward pass and nothing else: per block of sequences, the input product
    for all steps, then one recurrent product per step (of a state that stays zero)."""
    T, B, F = x.shape
    n, G = W_hid.shape
    per = (B + n_blocks - 1) // n_blocks
    for block in numba.prange(n_blocks):
        rows = min(B, (block + 1) * per) - block * per
        x_block, gates_in = np.zeros((T * rows, F), np.float32), np.zeros((T * rows, G), np.float32)
        h, pre = np.zeros((rows, n), np.float32), np.zeros((rows, G), np.float32)
        gemm.product(x_block, W_in, gates_in)
        for _ in range(T):
            gemm.product(h, W_hid, pre)


def layer_report(dnnl, n_inputs, n, repeats, rng):
    """Check the primitive against the kernels on one layer, then time both; prints one line each."""
    def normal(*shape, scale=0.1):
        return (rng.standard_normal(shape) * scale).astype(np.float32)
    x, W_in, b, W_hid, peep = normal(T, B, n_inputs, scale=1.), normal(n_inputs, 4 * n), normal(4 * n), \
        normal(n, 4 * n), normal(3, n)
    cell0, hid0, d_hids, last_d_cell = normal(B, n), normal(B, n), normal(T, B, n), normal(B, n)
    no_reset, start = np.zeros((T, B), np.float32), np.zeros((1, n), np.float32)
    inputs = (x, W_in, b, W_hid, peep, cell0, hid0, no_reset, start, start)
    d_cells = np.zeros((T, B, n), np.float32)
    d_cells[-1] = last_d_cell

    def kernels_forward():
        return lstm_sequence._forward(*inputs)
    cells, hids, cache = kernels_forward()

    def kernels_backward():
        return lstm_sequence._backward(0., *inputs, cells, hids, cache, d_cells, d_hids)
    forward, backward = primitive_layer(dnnl, x, W_in, b, W_hid, peep, cell0, hid0)
    want = (hids, cells[-1], *kernels_backward()[:7])
    got = (*forward(), *backward(d_hids, last_d_cell))
    error = max(float(np.abs(g - w).max() / np.abs(w).max()) for g, w in zip(got, want))
    n_blocks = min(B, numba.get_num_threads())
    products = 1e3 * time_steps(lambda: forward_products(x, W_in, W_hid, n_blocks), repeats)
    flops = 2 * T * B * (n_inputs + n) * 4 * n
    rows = [(f'fused kernels, {gemm.ENGINE} products', kernels_forward, kernels_backward),
            ('oneDNN LSTM primitive', forward, lambda: backward(d_hids, last_d_cell))]
    for name, run_forward, run_backward in rows:
        f, b_ = 1e3 * time_steps(run_forward, repeats), 1e3 * time_steps(run_backward, repeats)
        print(f'{n:5d} {n_inputs:6d}  {name:34s} {f:8.1f} {b_:9.1f} {f + b_:8.1f}')
    print(f'{"":13s} products of the forward pass alone: {products:.1f} ms ({flops / products / 1e6:.0f} GFLOP/s)')
    print(f'{"":13s} primitive against kernels: largest difference {error:.1e} of the largest value')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[256, 768], help='hidden units N')
    parser.add_argument('--repeats', type=int, default=10, help='timed calls per pass (median)')
    args = parser.parse_args()
    dnnl, rng = OneDNN(), np.random.default_rng(0)
    print(f'one LSTM layer, {T} steps × {B} sequences, peepholes, no clipping; ms per call')
    print(f'{"N":>5s} {"inputs":>6s}  {"implementation":34s} {"forward":>8s} {"backward":>9s} {"both":>8s}')
    for n in args.sizes:
        for n_inputs in (PITCHES, n):
            layer_report(dnnl, n_inputs, n, args.repeats, rng)


if __name__ == '__main__':
    main()
