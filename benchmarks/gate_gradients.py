"""Does GRAD_CLIPPING bind? The largest gradient reaching the LSTM gate pre-activations, per batch (issue 20).

Trains each setting for ``--batches`` batches of the ``grad_clipping`` experiment's model (2 layers, the
journal's windows of 64 steps, batches of 64, polyphonic; ``--hidden``, default the journal's 768) on a prepared
corpus with ``TrainConfig.log_gate_gradients``, and prints, per setting and layer, the largest logged gradient,
its median over the batches, and the share of batches in which it passes 10 and 1000 — the two bounds of the
journal's contrast (a bound binds in a batch where the gradient passes it). The settings: the journal's choices
as far as its notes go (mean binary cross-entropy, Adagrad at the learning rate of the Lasagne examples of its
time, 0.01), then the alternatives that could make clipping bind — a cost summed over the pitches, or over
pitches and examples (``note_cost='total'``), Adagrad's own default learning rate (1.0), our experiments'
Adam 0.002, every step a target (each gate then receives the gradient of every later step) — each with
GRAD_CLIPPING 1000, so that nothing is clipped below it. Writes every batch's numbers to ``--out`` (JSON).

    python benchmarks/gate_gradients.py --data /tmp/kbdefault --out /tmp/gate_gradients.json --batches 40
"""
import argparse
import json
import pathlib
import tempfile

import numpy as np

from bach2.models.model_config import ModelConfig
from bach2.safe_io import atomic_path
from bach2.train import TrainConfig, train

SETTINGS = {
    'journal: mean cost, Adagrad 0.01': dict(note_cost='mean', optimizer='adagrad', learning_rate=0.01),
    'summed cost, Adagrad 0.01': dict(note_cost='sum', optimizer='adagrad', learning_rate=0.01),
    'mean cost, Adagrad 1.0': dict(note_cost='mean', optimizer='adagrad', learning_rate=1.0),
    'summed cost, Adagrad 1.0': dict(note_cost='sum', optimizer='adagrad', learning_rate=1.0),
    'total cost, Adagrad 0.01': dict(note_cost='total', optimizer='adagrad', learning_rate=0.01),
    'total cost, Adagrad 1.0': dict(note_cost='total', optimizer='adagrad', learning_rate=1.0),
    'mean cost, Adam 0.002 (our experiments)': dict(note_cost='mean', optimizer='adam', learning_rate=0.002),
    'total cost, every step, Adagrad 0.01': dict(note_cost='total', optimizer='adagrad', learning_rate=0.01,
                                                 targets='all'),
    'total cost, every step, Adagrad 1.0': dict(note_cost='total', optimizer='adagrad', learning_rate=1.0,
                                                targets='all'),
}
BOUNDS = (10, 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True, help='a prepared corpus (bach2 prepare)')
    parser.add_argument('--hidden', type=int, default=768)
    parser.add_argument('--batches', type=int, default=40, help='per setting (default: %(default)s)')
    parser.add_argument('--only', nargs='*', default=None, help='run only the settings whose name starts so')
    parser.add_argument('--out', required=True, help='JSON with every batch')
    args = parser.parse_args()
    results = {'settings': vars(args), 'runs': {}}
    for name, options in SETTINGS.items():
        if args.only and not any(name.startswith(prefix) for prefix in args.only):
            continue
        config = ModelConfig(n_layers=2, n_hidden=args.hidden, sequence_length=64, batch_size=64,
                             grad_clipping=1000, **options)
        with tempfile.TemporaryDirectory() as folder:
            _, history = train(config, TrainConfig(args.data, folder, epochs=1, max_batches=args.batches,
                                                   max_valid_frames=500, log_gate_gradients=True),
                               progress=False, log=lambda *_: None)
        gates = np.asarray(history[-1]['batch_gate_gradients'])                     # batches × layers
        results['runs'][name] = {'options': options, 'batch_gate_gradients': gates.tolist(),
                                 'batch_costs': history[-1]['batch_costs'], 'seconds': history[-1]['seconds']}
        cells = [f'layer {k + 1}: max {gates[:, k].max():.3g}, median {np.median(gates[:, k]):.3g}, '
                 + ', '.join(f'> {bound} in {np.mean(gates[:, k] > bound):.0%}' for bound in BOUNDS)
                 for k in range(gates.shape[1])]
        print(f'{name} ({len(gates)} batches, {history[-1]["seconds"]:.0f} s): ' + '; '.join(cells), flush=True)
        with atomic_path(args.out) as temporary:
            pathlib.Path(temporary).write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
    main()
