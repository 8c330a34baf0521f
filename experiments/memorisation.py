"""How much of a piece a trained model plays back, primed with the piece's first SEQUENCE_LENGTH steps.

    python experiments/memorisation.py CHECKPOINT --data /tmp/kb --pieces bwv846_fugue_wtc1_01 bwv855_fugue_wtc1_10

For each piece (original key): the model continues its first L steps for --steps sixteenths with the journal's
rule (p > 0.5), each step read from the last L steps as in training; printed and written to --out (JSON): the
share of steps equal to the piece's own, the sounding (step, pitch) cells of each and their F1.
"""
import argparse
import json
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
try:
    import bach2  # noqa: F401
except ImportError:
    sys.path.insert(0, str(HERE.parent / 'Source_Code'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('checkpoint', help='a checkpoint (.npz) of a polyphonic model')
    parser.add_argument('--data', default='training_data', help='prepared data holding the pieces')
    parser.add_argument('--pieces', nargs='+', required=True, help='prepared pieces by name')
    parser.add_argument('--steps', type=int, default=256, help='sixteenths to continue (default: %(default)s)')
    parser.add_argument('--out', help='JSON file for the rows (default: none)')
    args = parser.parse_args(argv)
    from bach2.models.checkpoints import load_rnn_checkpoint
    from bach2.sampling import Sampler
    from bach2.data.training_set import load_piece
    config, state, _ = load_rnn_checkpoint(args.checkpoint)
    sampler = Sampler(config, state)
    L, rows = config.sequence_length, []
    for name in args.pieces:
        matrix = np.asarray(load_piece(args.data, name)[0], np.float32)
        if len(matrix) < L + args.steps:
            print(f'memorisation: {name} has {len(matrix)} steps, fewer than {L} + {args.steps}', file=sys.stderr)
            return 2
        truth = matrix[L:L + args.steps] > 0
        steps = sampler.continue_piece(matrix[:L], args.steps, rule='threshold')[0] > 0
        rows.append({'piece': name, 'steps': args.steps, 'steps_equal': float((steps == truth).all(axis=1).mean()),
                     'cells_piece': int(truth.sum()), 'cells_generated': int(steps.sum()),
                     'cells_f1': float(2 * (steps & truth).sum() / max(1, steps.sum() + truth.sum()))})
        print(json.dumps(rows[-1]))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps({'command': 'python experiments/memorisation.py '
                                                      + ' '.join(sys.argv[1:] if argv is None else argv),
                                                      'rows': rows}, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
