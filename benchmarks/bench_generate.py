"""Generation speed: a 3-minute piece (≈ 2000 sixteenth-note steps) with a 2 × 768 model, on CPU.

Times bach2's compiled sampler (``context='carry'``: one LSTM step per new
step, a PyTensor scan run by JAX, or with ``--backend c`` by PyTensor's C
backend; the window context runs each window through the fused Op of
:mod:`bach2.nn.lstm_sequence` there) against a PyTorch reference sampler of the
same size — ``nn.LSTMCell`` layers stepped in a Python loop under
``torch.no_grad``, the state carried, Bernoulli sampling — measured in the same
run. Also times ``context='window'`` (every step re-reads SEQUENCE_LENGTH
steps, the journal's way) on fewer steps, for scale. Random weights: speed
does not depend on training. Compilation is timed separately (first call).

    python benchmarks/bench_generate.py [--steps 2000] [--hidden 768] [--repeats 3] [--backend jax c]
"""
import argparse
import time

import numpy as np

from bach2.models.model_config import ModelConfig
from bach2.rnn_model import RNNModel
from bach2.sampling import Sampler


def best_time(function, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def torch_sampler(n_hidden, n_layers, n_pitches, primer, n_steps, seed):
    """A PyTorch reference: stacked LSTMCells + sigmoid output, state carried, Bernoulli sampling."""
    import torch
    torch.set_flush_denormal(True)
    torch.manual_seed(seed)
    cells = [torch.nn.LSTMCell(n_pitches if k == 0 else n_hidden, n_hidden) for k in range(n_layers)]
    output = torch.nn.Linear(n_hidden, n_pitches)

    def run():
        with torch.no_grad():
            states = [(torch.zeros(1, n_hidden), torch.zeros(1, n_hidden)) for _ in cells]
            steps = []
            row = None
            for t in range(len(primer) + n_steps - 1):
                row = torch.from_numpy(primer[t:t + 1]) if t < len(primer) else row
                x = row
                for k, cell in enumerate(cells):
                    states[k] = cell(x, states[k])
                    x = states[k][0]
                probabilities = torch.sigmoid(output(x))
                row = (probabilities > torch.rand_like(probabilities)).float()
                if t >= len(primer) - 1:
                    steps.append(row)
            return torch.cat(steps)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--steps', type=int, default=2000)
    parser.add_argument('--hidden', type=int, default=768)
    parser.add_argument('--window-steps', type=int, default=100, help='steps for the window-context timing')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--backend', nargs='+', choices=('jax', 'c'), default=['jax'],
                        help='PyTensor backends to time (default: jax)')
    args = parser.parse_args()
    config = ModelConfig(n_hidden=args.hidden, n_layers=2)
    state = RNNModel(config, seed=0).get_state()
    primer = (np.random.default_rng(0).random((config.sequence_length, config.n_pitches)) < 0.05).astype(np.float32)
    reference = best_time(torch_sampler(args.hidden, 2, config.n_pitches, primer, args.steps, 0), args.repeats)
    print(f'{args.steps} steps, 2 × {args.hidden} units, primer {len(primer)} steps, Bernoulli sampling')
    print(f'  PyTorch LSTMCell loop          {reference:7.2f} s  {args.steps / reference:8.0f} steps/s')
    for backend in args.backend:
        sampler = Sampler(config, state, backend=backend)
        started = time.perf_counter()
        sampler.continue_piece(primer, args.steps, context='carry')
        first_call = time.perf_counter() - started
        ours = best_time(lambda: sampler.continue_piece(primer, args.steps, context='carry'), args.repeats)
        sampler.continue_piece(primer, args.window_steps, context='window')
        window = best_time(lambda: sampler.continue_piece(primer, args.window_steps, context='window'), 1)
        print(f'  bach2 carry, {backend:3s}               {ours:7.2f} s  {args.steps / ours:8.0f} steps/s   '
              f'{reference / ours:5.2f}× PyTorch (target ≥ 1.5×, and under 2 s; first call incl. compile '
              f'{first_call:.2f} s)')
        print(f'  bach2 window, {backend:3s} (journal\'s) {window:7.2f} s for {args.window_steps} steps '
              f'({args.window_steps / window:.0f} steps/s)')


if __name__ == '__main__':
    main()
