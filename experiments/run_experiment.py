"""Reproduce one run of the 2016 journal: train, generate, measure → results.json and plots.

    python experiments/run_experiment.py bass_line_N768 --setting quick --data /tmp/kb
    python experiments/run_experiment.py grad_clipping --setting full --device gpu

NAME is a config in experiments/ (NAME.json). --setting quick runs on a CPU in
minutes (smaller N, fewer batches; outputs are named after what was trained);
full uses the journal's sizes (a GPU). --set SECTION.KEY=VALUE overrides any
model / train / generate setting of the config (e.g. --set train.max_batches=2).
"""
import argparse
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
try:
    import bach2  # noqa: F401  (installed with `pip -e .` or on PYTHONPATH)
except ImportError:
    sys.path.insert(0, str(HERE.parent / 'Source_Code'))


def build_parser():
    names = sorted(path.stem for path in HERE.glob('*.json'))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('name', help=f'an experiment config in {HERE}: {", ".join(names)}')
    parser.add_argument('--setting', choices=('quick', 'full'), default='quick', help='default: %(default)s')
    parser.add_argument('--data', default='training_data', help='prepared training data (default: %(default)s)')
    parser.add_argument('--out', help='results folder (default: experiments/results/NAME_SETTING)')
    parser.add_argument('--set', action='append', default=[], metavar='SECTION.KEY=VALUE', dest='overrides',
                        help='override a setting of the config, e.g. train.epochs=2 or model.n_hidden=64')
    parser.add_argument('--device', choices=('cpu', 'gpu'),
                        help='JAX device (default: cpu for quick, gpu for full)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    parser.add_argument('--resume', action='store_true', help='continue each variant from its checkpoint in --out '
                        '(a run stopped by Ctrl-C, a kill or the end of a session: it loses at most the epoch it was '
                        'in); a variant without one starts afresh')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    device = args.device or ('cpu' if args.setting == 'quick' else 'gpu')
    os.environ['JAX_PLATFORMS'] = 'cuda' if device == 'gpu' else 'cpu'      # before JAX is imported
    from bach2.measure.experiment import Invocation, run_experiment
    from bach2.common import CorpusError
    path = pathlib.Path(args.name) if args.name.endswith('.json') else HERE / f'{args.name}.json'
    command = 'python experiments/run_experiment.py ' + ' '.join(sys.argv[1:] if argv is None else argv)
    try:
        run_experiment(path, Invocation(args.setting, args.data, args.out, tuple(args.overrides), command, args.resume),
                       progress=not args.no_progress)
    except (ValueError, CorpusError) as error:
        print(f'run_experiment: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
