"""Benchmark: training speed of the journal's LSTM (2 layers, batch 64 × 64 steps, 61 pitches, Adagrad).

Ours — PyTensor graph with peepholes and GRAD_CLIPPING, compiled through JAX
(default; the LSTM a scan) and through the C backend (the LSTM one fused Op,
:mod:`bach2.nn.lstm_sequence`, and the scan it replaces there) — against PyTorch's ``nn.LSTM`` of the same
size (no peepholes, cuDNN-style gates) with the same output layer, binary
cross-entropy and Adagrad (gradients clipped at 10), measured in the same run.
On a CPU PyTorch runs ``nn.LSTM`` through oneDNN's fused RNN primitive; a second
PyTorch row turns oneDNN off (PyTorch's own products and gate functions). The
fused Op's matrix products run on oneDNN's sgemm (:mod:`bach2.nn.gemm`); the row
"NumPy dot (before)" times the same Op on NumPy's dot, as before, in a fresh
process (``BACH2_GEMM=numpy``); "JAX, fused LSTM Op" calls the Op's kernels from
JAX (a host callback).

Two kinds of training step (``--targets``, both by default):

* ``last`` (the journal's): each window's last output predicts the step after it —
  ours against PyTorch's loss on ``output[:, -1]``;
* ``all``: every step of the window predicts the step after it (our ``targets='all'``,
  state carried and reset at column 0) — ours against PyTorch's loss on every step
  of the same batch.

Two rates per step: *pushed/s*, the time steps pushed through the network
(batch × SEQUENCE_LENGTH per step, either kind), and *predicted/s*, the frames
that get a prediction and a loss (batch per step for ``last``, batch ×
SEQUENCE_LENGTH for ``all``). "vs PyTorch" compares with PyTorch's step of the
same kind; the ``all/last`` line compares our two kinds (the C backend's fused
Op) in frames predicted per second. This machine's speed varies by tens of per
cent from one minute to the next, so ``--rounds`` times every row in turn, again
and again: a row gives its median round and the range, and its ratio to PyTorch
is the median of the rounds' ratios. PyTorch is a benchmark-only extra (``pip
install -e '.[bench]'``).

The NADE output layer (``--nade``): its teacher-forced conditionals and their
gradient for ``NADE_ROWS`` steps (a batch of 32 × 32 of every-step training), 88
pitches, H = 150 — our fused operation (``bach2.nn.nade.nade_logits``: Numba kernels,
through JAX and through the C backend) against the same mathematics as a graph
(the cumulative sum it replaced, through PyTensor → JAX) and in PyTorch autograd,
then one whole every-step training step of the 2 × 256 LSTM-NADE.

Where the time goes (``--breakdown``): the forward pass alone (our ``validate``,
PyTorch under ``no_grad``), and the recurrent matrix product on its own — 64 steps
of ``(batch × N) · (N × 4N)`` inside one ``jax.lax.scan`` against the same 64
products in PyTorch — with the GFLOP/s each reaches.

    python benchmarks/bench_train.py [--sizes 256 768] [--steps 10] [--rounds 3] [--targets last all]
        [--breakdown] [--nade]
"""
import argparse
import os
import subprocess
import sys
import time
import warnings

import numpy as np

BATCH, STEPS, PITCHES = 64, 64, 61
NADE_ROWS, NADE_PITCHES, NADE_HIDDEN = 32 * 32, 88, 150
FUSED_C = 'bach2 PyTensor → C, fused LSTM Op'


def batch_arrays(seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.random((BATCH, STEPS, PITCHES)) < 0.1).astype(np.float32)
    Y = (rng.random((BATCH, PITCHES)) < 0.1).astype(np.float32)
    return X, Y


def all_step_targets(X, Y):
    """``B × L × P`` targets of the same batch for every step: Y[:, t] = X[:, t + 1], the last step's Y."""
    return np.concatenate([X[:, 1:], Y[:, None]], axis=1)


def time_steps(step, n_steps):
    """Seconds per call of ``step`` (after two warm-up calls), the median of ``n_steps``."""
    step()
    step()
    times = []
    for _ in range(n_steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def ours(n_hidden, backend, n_steps, forward_only=False, targets='last', fused=None):
    """Seconds per training step (or forward pass) of our model (see :func:`our_step`)."""
    return time_steps(our_step(n_hidden, backend, forward_only, targets, fused), n_steps)


def our_step(n_hidden, backend, forward_only=False, targets='last', fused=None):
    """One training step (or forward pass) of our model, a function of nothing; ``fused``: the LSTM as one Op or a
    scan (None: the backend's choice, :data:`bach2.rnn_model.FUSED`)."""
    from bach2.rnn_model import ModelConfig, RNNModel
    model = RNNModel(ModelConfig(n_layers=2, n_hidden=n_hidden, sequence_length=STEPS, batch_size=BATCH,
                                 optimizer='adagrad', grad_clipping=10.0, targets=targets), backend=backend,
                     fused=fused)
    X, Y = batch_arrays()
    if targets == 'all':
        Y = all_step_targets(X, Y)
        chords, weights = np.zeros((BATCH, STEPS, 12), np.float32), np.ones((BATCH, STEPS), np.float32)
        reset = np.zeros((BATCH, STEPS), np.float32)
        reset[:, 0] = 1.0                   # every window a new piece, as PyTorch's zero initial state
        state = model.zero_state()

        def step():
            # the new state is carried to the next step, as bach2 train does (truncated BPTT)
            cost, _, _, _, _, *new_state = model.train(X, Y, chords, weights, reset, *state)
            state[:] = new_state
            return float(cost)
        return step
    chords, weights = np.zeros((BATCH, 12), np.float32), np.ones(BATCH, np.float32)
    function = model.validate if forward_only else model.train
    # float() waits for the result: JAX dispatches asynchronously
    return lambda: float(function(X, Y, chords, weights)[0])


def before(what, *arguments):
    """Seconds of ``what`` (``ours`` or ``nade-step``) with the fused LSTM's products on NumPy's dot, as before
    oneDNN's sgemm (:mod:`bach2.nn.gemm`): in a fresh process, since the engine is bound at import."""
    command = [sys.executable, __file__, '--time-one', what, *map(str, arguments)]
    result = subprocess.run(command, env={**os.environ, 'BACH2_GEMM': 'numpy'}, capture_output=True, text=True,
                            check=True)
    return float(result.stdout.split()[-1])


def time_one(what, arguments):
    """``--time-one``: print the seconds of one setting (what :func:`before` reads)."""
    if what == 'ours':
        backend, n_hidden, targets, n_steps = arguments
        print(ours(int(n_hidden), backend, int(n_steps), targets=targets))
    else:
        backend, n_steps = arguments
        print(nade_training_step(int(n_steps), backend))


def training_flops(n_hidden, targets):
    """Floating-point operations of the matrix products of one training step: 3 × the forward pass's (the
    backward pass has two products for each forward one)."""
    per_step = 2 * BATCH * 4 * n_hidden * (PITCHES + n_hidden)          # layer 1: input and recurrent products
    per_step += 2 * BATCH * 4 * n_hidden * (2 * n_hidden)               # layer 2
    outputs = 2 * BATCH * n_hidden * PITCHES * (STEPS if targets == 'all' else 1)
    return 3 * (STEPS * per_step + outputs)


def recurrent_products(n_hidden, n_steps):
    """Seconds for STEPS products (BATCH × N)·(N × 4N), each feeding the next: in a JAX scan, and in PyTorch."""
    import jax
    import jax.numpy as jnp
    import torch
    rng = np.random.default_rng(0)
    h = rng.standard_normal((BATCH, n_hidden)).astype(np.float32)
    W = (rng.standard_normal((n_hidden, 4 * n_hidden)) * 0.05).astype(np.float32)

    def fold(z):
        """B × 4N → B × N, reading every column (so no compiler can skip part of the product)."""
        return z[:, :n_hidden] + z[:, n_hidden:2 * n_hidden] + z[:, 2 * n_hidden:3 * n_hidden] + z[:, 3 * n_hidden:]

    @jax.jit
    def scanned(h, W):
        def body(h, _):
            return jnp.tanh(fold(h @ W)), None
        return jax.lax.scan(body, h, None, length=STEPS)[0]
    h_jax, W_jax = jnp.asarray(h), jnp.asarray(W)
    jax_seconds = time_steps(lambda: scanned(h_jax, W_jax).block_until_ready(), n_steps)

    h_torch, W_torch = torch.from_numpy(h), torch.from_numpy(W)

    def looped():
        state = h_torch
        for _ in range(STEPS):
            state = torch.tanh(fold(state @ W_torch))
        return state
    return jax_seconds, time_steps(looped, n_steps)


def pytorch(n_hidden, n_steps, forward_only=False, targets='last', onednn=True):
    """Seconds per PyTorch training step (or forward pass) (see :func:`pytorch_step`)."""
    return time_steps(pytorch_step(n_hidden, forward_only, targets, onednn), n_steps)


def pytorch_step(n_hidden, forward_only=False, targets='last', onednn=True):
    """One PyTorch training step (or forward pass), a function of nothing; ``targets='all'``: the loss on every
    step's output; ``onednn=False``: without oneDNN, whose fused RNN primitive (``mkldnn_rnn_layer``) ``nn.LSTM``
    runs on a CPU by default — then each step is PyTorch's own matrix products and gate functions."""
    import torch
    if not onednn:
        with_onednn = pytorch_step(n_hidden, forward_only, targets)

        def without_onednn():
            with warnings.catch_warnings():     # the flags' note on TF32, which float32 training never uses
                warnings.simplefilter('ignore', UserWarning)
                with torch.backends.mkldnn.flags(enabled=False):
                    with_onednn()
        return without_onednn
    # Flush denormals to zero, as XLA does: without it, once Adagrad saturates some gates,
    # PyTorch's backward pass measured 6× slower here (denormal arithmetic), an unfair reference.
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(PITCHES, n_hidden, num_layers=2, batch_first=True)
    dense = torch.nn.Linear(n_hidden, PITCHES)
    parameters = list(lstm.parameters()) + list(dense.parameters())
    optimizer = torch.optim.Adagrad(parameters, lr=0.05)
    X, Y = batch_arrays()
    if targets == 'all':
        Y = all_step_targets(X, Y)
    X, Y = torch.from_numpy(X), torch.from_numpy(Y)

    def step():
        optimizer.zero_grad()
        output, _ = lstm(X)                                       # batch × time × units
        logits = dense(output) if targets == 'all' else dense(output[:, -1])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, Y)
        loss.backward()
        torch.nn.utils.clip_grad_value_(parameters, 10.0)
        optimizer.step()

    def forward():
        with torch.no_grad():
            output, _ = lstm(X)
            return torch.nn.functional.binary_cross_entropy_with_logits(dense(output[:, -1]), Y)
    return forward if forward_only else step


def nade_arrays(seed=0):
    """(hidden biases rows × H, visible biases rows × P, steps rows × P 0/1, W, V P × H), float32."""
    rng = np.random.default_rng(seed)
    return [np.asarray(x, np.float32) for x in (
        rng.normal(0, 1, (NADE_ROWS, NADE_HIDDEN)), rng.normal(-3, 1, (NADE_ROWS, NADE_PITCHES)),
        rng.random((NADE_ROWS, NADE_PITCHES)) < 0.05, rng.normal(0, 0.1, (NADE_PITCHES, NADE_HIDDEN)),
        rng.normal(0, 0.1, (NADE_PITCHES, NADE_HIDDEN)))]


def nade_ours(mode, n_steps, fused=True):
    """Seconds for the NLL of NADE_ROWS steps and its gradient: ``fused`` (bach2.nn.nade.nade_logits)
    or the graph it replaced (a cumulative sum over ``rows × P × H``)."""
    import pytensor
    import pytensor.tensor as pt
    from bach2.nn.nade import nade_logits
    arrays = nade_arrays()
    hidden, visible, steps, W, V = [pt.matrix(dtype='float32', shape=x.shape) for x in arrays]
    if fused:
        logits = nade_logits(hidden, visible, steps, W, V)
    else:
        below = steps[:, :, None] * W[None]                                   # rows × P × H
        activation = hidden[:, None, :] + pt.cumsum(below, axis=1) - below
        logits = visible + (pt.sigmoid(activation) * V[None]).sum(axis=2)
    nll = (pt.softplus(logits) - steps * logits).sum()                        # binary cross-entropy
    function = pytensor.function([hidden, visible, steps, W, V], [nll, *pytensor.grad(nll, [hidden, visible, W, V])],
                                 mode=mode)
    return time_steps(lambda: [np.asarray(x) for x in function(*arrays)], n_steps)


def nade_pytorch(n_steps):
    """Seconds for the same NLL and gradient in PyTorch autograd (cumulative-sum form)."""
    import torch
    torch.set_flush_denormal(True)
    hidden, visible, steps, W, V = [torch.from_numpy(x) for x in nade_arrays()]
    for x in (hidden, visible, W, V):
        x.requires_grad_(True)

    def step():
        below = steps[:, :, None] * W[None]
        activation = hidden[:, None, :] + torch.cumsum(below, dim=1) - below
        logits = visible + (torch.sigmoid(activation) * V[None]).sum(dim=2)
        torch.nn.functional.binary_cross_entropy_with_logits(logits, steps, reduction='sum').backward()
    return time_steps(step, n_steps)


def nade_training_step(n_steps, backend='jax'):
    """Seconds per every-step training step of the 2 × 256 LSTM-NADE (batch 32 × 32, 88 keys, Adam)."""
    from bach2.rnn_model import ModelConfig, RNNModel
    batch, length = 32, 32
    model = RNNModel(ModelConfig(n_hidden=256, sequence_length=length, batch_size=batch, n_pitches=NADE_PITCHES,
                                 lowest_pitch=21, model='lstm-nade', targets='all', optimizer='adam',
                                 learning_rate=0.004, dropout=0.2), backend=backend)
    rng = np.random.default_rng(0)
    X, Y = ((rng.random((batch, length, NADE_PITCHES)) < 0.05).astype(np.float32) for _ in range(2))
    chords, weights = np.zeros((batch, length, 12), np.float32), np.ones((batch, length), np.float32)
    reset, state = np.zeros((batch, length), np.float32), model.zero_state()
    return time_steps(lambda: float(model.train(X, Y, chords, weights, reset, *state)[0]), n_steps)


def nade_report(n_steps):
    print(f'NADE conditionals and gradient: {NADE_ROWS} steps × {NADE_PITCHES} pitches, H = {NADE_HIDDEN}')
    reference = nade_pytorch(n_steps)
    rows = [('PyTorch autograd (reference)', reference),
            ('graph with cumsum, PyTensor → JAX', nade_ours('JAX', n_steps, fused=False)),
            ('fused op (Numba), PyTensor → JAX', nade_ours('JAX', n_steps)),
            ('fused op (Numba), PyTensor → C', nade_ours('CVM', n_steps))]
    for name, seconds in rows:
        print(f'  {name:36s} {seconds * 1e3:8.1f} ms {reference / seconds:6.2f}x PyTorch')
    print('LSTM-NADE 2 × 256 training step, every step, batch 32 × 32:')
    from bach2.nn.gemm import ENGINE
    steps = [('PyTensor → JAX, LSTM a scan', nade_training_step(n_steps)),
             ('PyTensor → C, fused LSTM Op, NumPy dot (before)', before('nade-step', 'c', n_steps)),
             (f'PyTensor → C, fused LSTM Op, {ENGINE} products', nade_training_step(n_steps, 'c'))]
    for name, seconds in steps:
        print(f'  {name:48s} {seconds * 1e3:8.1f} ms {NADE_ROWS / seconds:8.0f} frames predicted/s '
              f'{steps[0][1] / seconds:6.2f}x JAX')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[256, 768], help='hidden units N per layer')
    parser.add_argument('--steps', type=int, default=10, help='timed training steps per setting (median)')
    parser.add_argument('--rounds', type=int, default=3,
                        help='rounds of timing every row in turn; the table gives the median round, the range, and '
                             'the median of the rounds\' ratios to PyTorch (default: %(default)s)')
    parser.add_argument('--targets', nargs='+', choices=('last', 'all'), default=['last', 'all'],
                        help="training kinds to time: 'last' (the journal's, one frame predicted per window), "
                             "'all' (every step predicted)")
    parser.add_argument('--breakdown', action='store_true',
                        help='also time the forward pass alone and the recurrent matrix products alone')
    parser.add_argument('--nade', action='store_true',
                        help='time the NADE output layer (fused op, the graph it replaced, PyTorch) and an '
                             'LSTM-NADE training step, then stop')
    parser.add_argument('--time-one', nargs='+', metavar='ARG', help=argparse.SUPPRESS)   # see time_one
    args = parser.parse_args()
    if args.time_one:
        return time_one(args.time_one[0], args.time_one[1:])
    if args.nade:
        return nade_report(args.steps)
    frames = BATCH * STEPS
    predicted = {'last': BATCH, 'all': BATCH * STEPS}    # frames with a prediction and a loss, per step
    from bach2.nn.gemm import ENGINE
    print(f'training step: 2-layer LSTM, batch {BATCH} × {STEPS} steps × {PITCHES} pitches, Adagrad, '
          f'grad_clipping 10; GFLOP/s counts the matrix products, 3 × those of the forward pass; the fused '
          f'Op\'s products: {ENGINE}')
    print(f'{"N":>5s} {"targets":8s} {"implementation":40s} {"ms/step":>8s} {"rounds, ms":>11s} {"pushed/s":>9s} '
          f'{"predicted/s":>11s} {"GFLOP/s":>8s} {"vs PyTorch":>10s}')
    for n_hidden in args.sizes:
        ours_seconds = {}
        for targets in ('last', 'all'):
            if targets not in args.targets:
                continue
            def timed(step, n_steps=args.steps):
                return lambda: time_steps(step, n_steps)
            timers = [('PyTorch nn.LSTM (reference)', timed(pytorch_step(n_hidden, targets=targets))),
                      ('PyTorch nn.LSTM without oneDNN', timed(pytorch_step(n_hidden, targets=targets, onednn=False))),
                      ('bach2 PyTensor → JAX, scan', timed(our_step(n_hidden, 'jax', targets=targets))),
                      ('bach2 PyTensor → JAX, fused LSTM Op', timed(our_step(n_hidden, 'jax', targets=targets,
                                                                            fused=True))),
                      ('bach2 → C, fused Op, NumPy dot (before)',
                       lambda: before('ours', 'c', n_hidden, targets, args.steps)),
                      (FUSED_C, timed(our_step(n_hidden, 'c', targets=targets)))]
            if targets == 'last':
                timers.append(('bach2 PyTensor → C, scan', timed(our_step(n_hidden, 'c', fused=False),
                                                                 max(2, args.steps // 3))))
            runs = {name: [] for name, _ in timers}
            for _ in range(args.rounds):        # each round times every row, so a slow spell of the machine
                for name, timer in timers:      # falls on all of them
                    runs[name].append(timer())
            reference = runs[timers[0][0]]
            gflop = training_flops(n_hidden, targets) / 1e9
            for name, seconds in runs.items():
                median = float(np.median(seconds))
                spread = f'{min(seconds) * 1e3:.0f}-{max(seconds) * 1e3:.0f}'
                ratio = np.median([r / s for r, s in zip(reference, seconds)])   # round by round
                print(f'{n_hidden:5d} {targets:8s} {name:40s} {median * 1e3:8.1f} {spread:>11s} '
                      f'{frames / median:9.0f} {predicted[targets] / median:11.0f} {gflop / median:8.0f} '
                      f'{ratio:9.2f}x')
            ours_seconds[targets] = float(np.median(runs[FUSED_C]))
        if len(ours_seconds) == 2:
            ratio = predicted['all'] / ours_seconds['all'] / (predicted['last'] / ours_seconds['last'])
            print(f'{n_hidden:5d} {"all/last":8s} {"bach2 → C, fused Op: frames predicted/s":40s} {"":8s} '
                  f'{"":11s} {"":9s} {"":11s} {"":8s} {ratio:9.2f}x')
        if args.breakdown:
            forward_reference = pytorch(n_hidden, args.steps, forward_only=True)
            forward_ours = ours(n_hidden, 'jax', args.steps, forward_only=True)
            print(f'{n_hidden:5d} {"forward only: PyTorch":32s} {forward_reference * 1e3:8.1f}')
            print(f'{n_hidden:5d} {"forward only: bach2 → JAX":32s} {forward_ours * 1e3:8.1f} {"":9s} '
                  f'{forward_reference / forward_ours:9.2f}x')
            flops = 2 * STEPS * BATCH * n_hidden * 4 * n_hidden
            for name, seconds in zip(('recurrent products: JAX scan', 'recurrent products: PyTorch'),
                                     recurrent_products(n_hidden, args.steps)):
                print(f'{n_hidden:5d} {name:32s} {seconds * 1e3:8.1f} {flops / seconds / 1e9:8.0f} GFLOP/s')


if __name__ == '__main__':
    main()
