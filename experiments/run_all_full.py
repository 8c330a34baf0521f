"""The four 2016 runs at the journal's sizes, one after another, each resumable — for a lent GPU or a long CPU run.

    python experiments/run_all_full.py --data /tmp/kb --device gpu --time 30   # 30 batches of each: projected hours
    python experiments/run_all_full.py --data /tmp/kb --device gpu             # all four in sequence, with --resume

--time K trains each configuration (each variant) for 2 epochs of K batches into --out and prints, per
configuration, the seconds per batch of the second epoch (the first compiles), the batches of a whole epoch, the
seconds of one validation and the projected hours of all its epochs (compilation aside); timing.json keeps them.
Without --time each configuration runs as `run_experiment.py NAME --setting full --resume`: run the same
command again after a stop and each picks up where it was.
"""
import argparse
import csv
import json
import math
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run_experiment  # noqa: E402

ORDER = ('first_4800_steps', 'first_4_bars', 'grad_clipping', 'bass_line_N768')     # shortest first


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default='training_data', help='prepared training data (default: %(default)s)')
    parser.add_argument('--device', choices=('cpu', 'gpu'), default='gpu', help='JAX device (default: %(default)s)')
    parser.add_argument('--only', nargs='+', choices=ORDER, default=list(ORDER), metavar='NAME',
                        help=f'these configurations, in this order (default: {" ".join(ORDER)})')
    parser.add_argument('--time', type=int, metavar='K', help='time K batches of each and project the totals')
    parser.add_argument('--out', help='a folder for one results folder per configuration (default: '
                        'experiments/results/NAME_full, with --time experiments/results/full_timing_DEVICE/NAME)')
    parser.add_argument('--set', action='append', default=[], metavar='SECTION.KEY=VALUE', dest='overrides',
                        help='passed to every run, e.g. train.transpositions=[0]')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    return parser


def projection(name, out, overrides=()):
    """One row per variant of a timing run in ``out``: seconds per batch (its second epoch), batches per epoch and
    the projected hours of all the epochs of the full setting of config ``name`` (with ``overrides``)."""
    from bach2.measure.experiment import load_config, resolve_runs
    results = json.loads((out / 'results.json').read_text())
    full = {run.name: run.train_config for run in resolve_runs(load_config(HERE / f'{name}.json'), 'full',
                                                                overrides=overrides)}
    rows = []
    for variant, result in results['runs'].items():
        epochs_full, max_batches = full[variant].epochs, full[variant].max_batches
        with open(out / variant / 'training_log.csv') as handle:
            epochs = list(csv.DictReader(handle))
        timed = result['training']['batches'] // len(epochs)
        per_batch = float(epochs[-1]['seconds']) / timed
        validation = float(epochs[-1]['valid_seconds'] or 0)
        batches = math.ceil(result['data']['data_size'] / result['model_config']['batch_size'])
        if max_batches:
            batches = min(batches, max_batches)
        hours = (per_batch * batches + validation) * epochs_full / 3600
        rows.append({'config': name, 'variant': variant, 'seconds_per_batch': round(per_batch, 5),
                     'validation_seconds_per_epoch': round(validation, 3),
                     'batches_per_epoch': batches, 'epochs': epochs_full, 'projected_hours': round(hours, 4)})
    return rows


def main(argv=None):
    args = build_parser().parse_args(argv)
    common = ['--setting', 'full', '--data', args.data, '--device', args.device]
    common += [item for override in args.overrides for item in ('--set', override)]
    common += ['--no-progress'] if args.no_progress else []
    if args.time is None:
        for name in args.only:
            out = ['--out', str(pathlib.Path(args.out) / name)] if args.out else []
            status = run_experiment.main([name, *common, *out, '--resume'])
            if status:
                return status
        return 0
    root = pathlib.Path(args.out or HERE / 'results' / f'full_timing_{args.device}')
    rows = []
    for name in args.only:
        out = root / name
        status = run_experiment.main([name, *common, '--out', str(out), '--set', 'train.epochs=2',
                                      '--set', f'train.max_batches={args.time}', '--set', 'generate.n_steps=16'])
        if status:
            return status
        for row in projection(name, out, args.overrides):
            rows.append(row)
            print(f"{row['config']}/{row['variant']}: {row['seconds_per_batch']:.3f} s per batch × "
                  f"{row['batches_per_epoch']} batches × {row['epochs']} epochs → {row['projected_hours']:.1f} h")
    (root / 'timing.json').write_text(json.dumps({'command': 'python experiments/run_all_full.py '
                                                  + ' '.join(sys.argv[1:] if argv is None else argv),
                                                  'rows': rows}, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
