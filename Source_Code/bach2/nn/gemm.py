"""The matrix products inside the Numba kernels: oneDNN's ``dnnl_sgemm`` where it is installed, else NumPy's dot.

:mod:`bach2.nn.lstm_sequence` spends most of its time in products of a block's 32
rows with the recurrent weights, one per step and thread (32 × 256 · 256 × 1 024
at N = 256). On this machine's AVX-512 cores, two threads side by side, one
product each, OpenBLAS reaches 145 GF/s on that shape and oneDNN's JIT sgemm 318
GF/s (docs/measured.md). oneDNN is the pip package ``onednn-cpu-gomp``; its
OpenMP is the GNU one Numba's threads run on, so a product called inside a
kernel's block runs on that block's thread alone.

The kernels call the C symbol ``bach2_sgemm`` (``dnnl_sgemm``'s row-major
signature), bound at import to oneDNN's function or, without the library, to a
Numba ``cfunc`` that calls ``np.dot``: either way the same compiled kernels,
cached on disk, link and run. :data:`ENGINE` says which. Written by hand
because no library offers Numba code a GEMM to call without the GIL.
"""
import ctypes
import ctypes.util
import functools
import os
import site
import sys

import numba
import numpy as np
from llvmlite import binding
from numba import types

SYMBOL = 'bach2_sgemm'
_ARGUMENTS = (types.int8, types.int8, types.int64, types.int64, types.int64, types.float32)
_sgemm = types.ExternalFunction(SYMBOL, types.int32(*_ARGUMENTS, types.intp, types.int64, types.intp, types.int64,
                                                    types.float32, types.intp, types.int64))
_FLOATS = types.CPointer(types.float32)
_N, _T = np.int8(ord('N')), np.int8(ord('T'))


def _numpy_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc):
    """``C = op(A) B`` with ``np.dot``, for what :func:`product` and :func:`product_transposed` pass of
    ``dnnl_sgemm``'s arguments (row-major; op ``'N'``, or ``'T'`` transposed): ``alpha`` 1, ``beta`` 0, ``B``
    not transposed, rows stored without padding (``lda``, ``ldb``, ``ldc`` the rows' lengths). Anything else →
    status 2 (oneDNN's ``invalid_arguments``), nothing computed."""
    if (alpha != 1 or beta != 0 or trans_b != _N or lda != (M if trans_a == _T else K) or ldb != N
            or ldc != N):
        return 2
    b, c = numba.carray(B, (K, N)), numba.carray(C, (M, N))
    if trans_a == _T:
        np.dot(numba.carray(A, (K, M)).T, b, c)
    else:
        np.dot(numba.carray(A, (M, K)), b, c)
    return 0


@functools.cache
def _numpy_fallback():
    """:func:`_numpy_sgemm` as a C function, compiled (or loaded from Numba's cache) only where oneDNN is not
    used: loading it took 0.1-0.2 s of every import, compiling it 0.9 s. Kept here, since the symbol points into
    it."""
    return numba.cfunc(types.int32(*_ARGUMENTS, _FLOATS, types.int64, _FLOATS, types.int64, types.float32, _FLOATS,
                                   types.int64), cache=True)(_numpy_sgemm)


def _library():
    """oneDNN's shared library (the wheel puts it in the environment's ``lib``, or the user's with ``pip --user``),
    or None."""
    places = [os.path.join(base, 'lib', 'libdnnl.so.3') for base in (sys.prefix, site.getuserbase())]
    for path in (*places, ctypes.util.find_library('dnnl')):
        if path:
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    return None


def _bind():
    """Bind ``bach2_sgemm`` → the engine's name, 'onednn' or 'numpy'."""
    library = None if os.environ.get('BACH2_GEMM') == 'numpy' else _library()
    if library is not None:
        binding.add_symbol(SYMBOL, ctypes.cast(library.dnnl_sgemm, ctypes.c_void_p).value)
        return 'onednn'
    binding.add_symbol(SYMBOL, _numpy_fallback().address)
    return 'numpy'


ENGINE = _bind()     # BACH2_GEMM=numpy chooses NumPy's dot with oneDNN installed (the benchmark's reference)


@numba.njit(inline='always')
def product(a, b, out):
    """``out = a · b``: C-contiguous float32 ``M × K``, ``K × N`` → ``M × N``."""
    M, K = a.shape
    N = b.shape[1]
    _sgemm(_N, _N, M, N, K, np.float32(1.), a.ctypes.data, K, b.ctypes.data, N, np.float32(0.), out.ctypes.data, N)


@numba.njit(inline='always')
def product_transposed(a, b, out):
    """``out = aᵀ · b``: C-contiguous float32 ``K × M``, ``K × N`` → ``M × N``."""
    K, M = a.shape
    N = b.shape[1]
    _sgemm(_T, _N, M, N, K, np.float32(1.), a.ctypes.data, M, b.ctypes.data, N, np.float32(0.), out.ctypes.data, N)
