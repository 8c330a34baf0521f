"""bach2.nn.gemm: the kernels' matrix products equal NumPy's on oneDNN's sgemm and on the NumPy fallback, and the fused
LSTM computes the same on both (the fallback in a fresh process: the engine is bound at import)."""
import ctypes
import json
import os
import platform
import subprocess
import sys

import numba
import numpy as np
import pytest

from bach2.nn import gemm, lstm_sequence as ls

SHAPES = [(32, 256, 1024), (32, 1024, 256), (7, 13, 5), (1, 3, 2), (0, 4, 3), (2048, 61, 1024)]


@numba.njit(parallel=True)
def both_products(a, b, a_rows_first):
    """(a · b, aᵀ · b) from inside a parallel Numba region, as the kernels call them (one thread each)."""
    out = np.empty((a.shape[0], b.shape[1]), np.float32)
    out_t = np.empty((a_rows_first.shape[1], b.shape[1]), np.float32)
    for k in numba.prange(2):
        if k == 0:
            gemm.product(a, b, out)
        else:
            gemm.product_transposed(a_rows_first, b, out_t)
    return out, out_t


@pytest.mark.parametrize('M,K,N', SHAPES)
def test_the_products_equal_numpys(M, K, N):
    rng = np.random.default_rng(M + K + N)
    a, b, a_t = (rng.standard_normal(shape).astype(np.float32) for shape in ((M, K), (K, N), (K, M)))
    out, out_t = both_products(a, b, a_t)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4 * np.sqrt(K))
    np.testing.assert_allclose(out_t, a_t.T.astype(np.float64) @ b, rtol=1e-4, atol=1e-4 * np.sqrt(K))


def test_onednn_computes_the_products_where_its_wheel_installs():
    """requirements.txt installs onednn-cpu-gomp on Linux x86-64: there the products are oneDNN's."""
    if platform.machine() != 'x86_64' or sys.platform != 'linux':
        pytest.skip('the onednn-cpu-gomp wheel is for Linux x86-64 only')
    assert gemm.ENGINE == 'onednn'


def test_the_numpy_fallback_refuses_what_it_does_not_compute():
    """It computes C = op(A) B without padding; anything else is oneDNN's status 2 and C untouched."""
    call = gemm._numpy_fallback().ctypes
    a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(12, dtype=np.float32).reshape(3, 4)
    c = np.full((2, 4), -1, np.float32)
    floats = ctypes.POINTER(ctypes.c_float)

    def sgemm(trans_a, M, N, K, alpha, lda, beta):
        return call(ord(trans_a), ord('N'), M, N, K, alpha, a.ctypes.data_as(floats), lda, b.ctypes.data_as(floats),
                    N, beta, c.ctypes.data_as(floats), N)
    assert sgemm('N', 2, 4, 3, 2.0, 3, 0.0) == 2            # alpha ≠ 1
    assert sgemm('N', 2, 4, 3, 1.0, 4, 0.0) == 2            # padded rows
    assert sgemm('N', 2, 4, 3, 1.0, 3, 1.0) == 2            # beta ≠ 0
    assert (c == -1).all()
    assert sgemm('N', 2, 4, 3, 1.0, 3, 0.0) == 0
    np.testing.assert_array_equal(c, a @ b)


LSTM_SCRIPT = """
import json, sys
import numpy as np
from bach2.nn import gemm, lstm_sequence as ls
rng = np.random.default_rng(0)
T, B, F, n = 9, 5, 7, 16
x, W_in, b, W_hid, peep = (rng.standard_normal(s).astype(np.float32) * 0.3 for s in
                           ((T, B, F), (F, 4 * n), (4 * n,), (n, 4 * n), (3, n)))
cell0, hid0, start_c, start_h = (rng.standard_normal(s).astype(np.float32) for s in ((B, n), (B, n), (1, n), (1, n)))
reset = (rng.random((T, B)) < 0.2).astype(np.float32)
inputs = (x, W_in, b, W_hid, peep, cell0, hid0, reset, start_c, start_h)
cells, hids, cache = ls._forward(*inputs)
d_cells, d_hids = (rng.standard_normal((T, B, n)).astype(np.float32) for _ in range(2))
grads = ls._backward(0.5, *inputs, cells, hids, cache, d_cells, d_hids)
unclipped = ls._backward(0., *inputs, cells, hids, cache, d_cells, d_hids)
print(json.dumps({'engine': gemm.ENGINE, 'arrays': [a.tolist() for a in (cells, hids, *grads)],
                  'clip_binds': any(bool(np.abs(g - u).max() > 1e-3) for g, u in zip(grads, unclipped))}))
"""


def run_lstm(engine):
    """The fused LSTM's outputs and gradients (random inputs, resets, a clip of 0.5 that binds), in a fresh
    process with the products on ``engine``."""
    env = {**os.environ, 'BACH2_GEMM': engine}
    result = subprocess.run([sys.executable, '-c', LSTM_SCRIPT], env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_the_fused_lstm_computes_the_same_on_both_engines():
    numpy_run, default_run = run_lstm('numpy'), run_lstm('')
    assert numpy_run['engine'] == 'numpy' and default_run['engine'] == gemm.ENGINE
    assert numpy_run['clip_binds'] and default_run['clip_binds']
    assert len(numpy_run['arrays']) == 2 + len(ls.GRADIENTS)
    for got, want in zip(default_run['arrays'], numpy_run['arrays']):
        want = np.asarray(want)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
