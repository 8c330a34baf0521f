"""Quality of a trained model (faithful, or ``--model lstm-nade``) on the shared corpus, against two baselines, and the collapse check.

Trains (or, with ``--resume``, continues) the model of ``bach2 train`` on
prepared data — by default the shared Bach keyboard corpus in all 12
transpositions, split by BWV — then prints, on the same validation frames:
the model's NLL per frame (every frame of a validation piece predicted from
its whole past) and, as the README's numbers before that were measured, the NLL
of the step after each of 20 000 windows of 64 steps read from a zero state;
the unigram and "repeat the previous step" baselines; and samples 200 steps from a validation primer (Bernoulli and the
journal's 0.5 threshold), reporting distinct pitches and whether the journal's
failure — one repeated pitch — appears.

    bach2 prepare --data ../shared/data/bach_keyboard --out /tmp/kb
    python benchmarks/quality_check.py --data /tmp/kb --out /tmp/ck_kb
"""
import argparse
import json

import numpy as np

from bach2.measure.baselines import baseline_report
from bach2.models.model_config import ModelConfig
from bach2.models.nll import window_nll
from bach2.music.metre import continue_positions
from bach2.sampling import Sampler, repetition_report
from bach2.train import TrainConfig, train


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True, help='folder written by bach2 prepare')
    parser.add_argument('--out', required=True, help='checkpoint folder')
    parser.add_argument('--model', choices=('lstm', 'lstm-nade'), default='lstm',
                        help="'lstm': the faithful model; 'lstm-nade': a NADE over each step (issue 8)")
    parser.add_argument('--hidden', type=int, default=128)
    parser.add_argument('--epochs', type=int, default=6)
    parser.add_argument('--max-batches', type=int, default=300)
    parser.add_argument('--max-valid-windows', type=int, default=20000,
                        help='windows of the journal-style measure (the step after each window, from a zero state)')
    parser.add_argument('--targets', choices=('last', 'all'), default='last')
    parser.add_argument('--dropout', type=float, default=0.0)
    parser.add_argument('--learning-rate', type=float, default=0.002)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--sequence-length', type=int, default=64)
    parser.add_argument('--metre-input', action='store_true',
                        help="the next step's position in its bar as input (off here, so earlier rows reproduce)")
    parser.add_argument('--articulation', action='store_true',
                        help='lstm-nade: struck and held notes, each step 2P wide (the onset plane of stage 1)')
    parser.add_argument('--seed', type=int, default=0, help='initial weights, batch order and the BWV split')
    parser.add_argument('--resume', action='store_true')
    args = parser.parse_args()
    model_config = ModelConfig(n_hidden=args.hidden, optimizer='adam', learning_rate=args.learning_rate,
                               model=args.model, targets=args.targets, dropout=args.dropout,
                               metre_input=args.metre_input, articulation=args.articulation,
                               batch_size=args.batch_size, sequence_length=args.sequence_length)
    train_config = TrainConfig(data_dir=args.data, out_dir=args.out, epochs=args.epochs, max_batches=args.max_batches,
                               seed=args.seed)
    trainer, history = train(model_config, train_config, resume=args.resume)
    report = {'valid_nll_per_frame': history[-1]['valid_nll_per_frame'],
              'valid_window_nll_per_frame': window_nll(trainer.model, trainer.valid_set, args.max_valid_windows),
              'train_seconds': sum(row['seconds'] for row in history), **baseline_report(trainer)}
    primer, positions = trainer.valid_primer()
    if positions is not None:                   # the primer's metre, then 200 steps more of it
        positions = np.concatenate([positions, continue_positions(positions, 200)])
    sampler = Sampler(trainer.model.config, trainer.model.get_state())
    for name, rule in (('bernoulli', 'sample'), ('threshold_0.5', 'threshold')):
        steps = sampler.continue_piece(primer, 200, rule=rule, positions=positions)[0]
        P = model_config.n_pitches
        report[f'sample_{name}'] = repetition_report(steps[:, :P], steps[:, P:] if args.articulation else None)
    print(json.dumps(report, indent=1))


if __name__ == '__main__':
    main()
