"""The network library, with Lasagne's semantics: layers, the fused LSTM and NADE ops, objectives, updates.

* :mod:`~bach2.nn.layers`: Lasagne's layers (input, dense, dropout, LSTM with peepholes) on PyTensor expressions;
* :mod:`~bach2.nn.lstm_sequence`: an LSTM layer's whole recurrence as one Op (Numba kernels on a CPU, JAX elsewhere);
* :mod:`~bach2.nn.nade`: the NADE output layer and its fused conditionals;
* :mod:`~bach2.nn.objectives`, :mod:`~bach2.nn.updates`: Lasagne's losses, optimizers and gradient clipping.

Long argument lists here are on purpose: a layer's constructor takes Lasagne's keyword arguments one for one (so
code written for Lasagne reads the same), and a kernel or a scan step takes its arrays one by one (what Numba
compiles and ``pytensor.scan`` passes); none of them is a bag of options.
"""
import tempfile

import pytensor.link.utils


def _source_file(*args, delete=True, **kwargs):
    """``tempfile.NamedTemporaryFile`` removed on close: PyTensor's JAX backend writes each function it generates to
    one (``delete=False``) and compiles the source string, never reading the file; else each run left about seven
    ``/tmp/tmpXXXX`` behind. Here, below every module that compiles a graph. Tracebacks still name the file."""
    return tempfile.NamedTemporaryFile(*args, delete=True, **kwargs)


pytensor.link.utils.NamedTemporaryFile = _source_file
