"""The four standard polyphonic benchmarks (JSB Chorales, Nottingham, MuseData, Piano-midi.de): test NLL per frame
beside the published numbers.

Prepares one set of ``../shared/data/polyphonic_music/`` (88 keys, its own frame: a quarter note for JSB, an
eighth for the others; the published split; every set in C, so other keys are augmentation), trains on
``train`` in the chosen transpositions, selects the epoch of lowest NLL on ``valid`` (in C), and reports
``test`` NLL per frame — binary cross-entropy summed over the 88 keys, averaged over every frame, each frame
predicted from everything before it in its sequence (an exact likelihood) — beside the unigram and repeat
baselines on the same frames and the published numbers. ``--ensemble`` averages the *probabilities* of the
best checkpoints of earlier runs (still an exact likelihood; ``--ensemble-weights valid``: with the weights
most likely on ``valid``), and prints what each member adds. Results go to ``--out``/results.json.

    python benchmarks/polyphonic.py --set jsb --model lstm-nade --targets all --out /tmp/jsb_all
    python benchmarks/polyphonic.py --set jsb --out /tmp/jsb_quick --epochs 1 --transpositions 0 --hidden 64
"""
import argparse
import json
import pathlib

import numpy as np

from bach2.app.arguments import decay, fraction
from bach2.data.polyphonic_music import BENCHMARKS, PUBLISHED_TEST_NLL, prepare_polyphonic
from bach2.measure.baselines import repeat_nll, repeat_rates, unigram_nll
from bach2.measure.evaluate import checkpoint_nll, load_pieces, mixture_nll, mixture_weights
from bach2.models.checkpoints import best_checkpoint_path, checkpoint_path, load_rnn_checkpoint
from bach2.models.model_config import PITCH_ORDERS, ModelConfig
from bach2.safe_io import atomic_path
from bach2.train import TrainConfig, train


def baselines(data_dir):
    """Unigram and repeat NLL per frame on ``test``, fitted on ``train`` (in C); the first frame of a
    sequence follows silence."""
    _, train_pieces, _ = load_pieces(data_dir, split='train')
    _, test_pieces, _ = load_pieces(data_dir, split='test')
    train_frames = np.concatenate([m for m, *_ in train_pieces])
    starts = np.cumsum([0] + [len(m) for m, *_ in train_pieces])
    test_frames = np.concatenate([m for m, *_ in test_pieces])
    previous = np.concatenate([np.vstack([np.zeros_like(m[:1]), m[:-1]]) for m, *_ in test_pieces])
    return {'unigram': unigram_nll(train_frames, test_frames),
            'repeat': repeat_nll(repeat_rates(train_frames, starts), previous, test_frames)}


def ensemble_nll(checkpoints, data_dir, test_pieces, fitted):
    """Test NLL of the mixture of ``checkpoints``: equal weights, or (``fitted``) those most likely on ``valid``
    → (checkpoint_nll's dict + ``members``: per member its own test NLL, its weight, and the test NLL of the
    mixture of the members up to it, weights fitted again for each such prefix; label)."""
    valid = None
    if fitted:
        _, valid_pieces, _ = load_pieces(data_dir, split='valid')
        valid = checkpoint_nll(checkpoints, valid_pieces)['member_nlls']

    def weights(k):
        return np.full(k, 1 / k) if valid is None else mixture_weights(valid[:k])

    test = checkpoint_nll(checkpoints, test_pieces, weights=weights(len(checkpoints)))
    nll, final = test['member_nlls'], weights(len(checkpoints))
    test['members'] = []
    for k, checkpoint in enumerate(checkpoints, 1):
        prefix = float(mixture_nll(nll[:k], weights(k)).mean())
        test['members'].append({'checkpoint': str(checkpoint), 'test_nll_per_frame': float(nll[k - 1].mean()),
                                'weight': float(final[k - 1]), 'mixture_up_to_here': prefix})
        print(f'  {checkpoint}: alone {nll[k - 1].mean():.3f}, weight {final[k - 1]:.3f}, the first {k} mixed '
              f'{prefix:.3f}')
    return test, f'ensemble of {len(checkpoints)} ({"weights fitted on valid" if fitted else "equal weights"})'


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--set', choices=sorted(BENCHMARKS), default='jsb', help='default: %(default)s')
    parser.add_argument('--out', required=True, help='prepared data, checkpoints and results.json go here')
    parser.add_argument('--model', choices=('lstm', 'lstm-nade'), default='lstm',
                        help="'lstm': the faithful model; 'lstm-nade': a NADE over each step")
    parser.add_argument('--targets', choices=('last', 'all'), default='last',
                        help="'last': windows with a silent start, the journal's; 'all': every step (default: %(default)s)")
    parser.add_argument('--nade-hidden', type=int, default=150)
    parser.add_argument('--layers', type=int, default=2)
    parser.add_argument('--hidden', type=int, default=256)
    parser.add_argument('--sequence-length', type=int, default=32, help='frames per window or chunk (default: 32)')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--learning-rate', type=float, default=0.002)
    parser.add_argument('--dropout', type=fraction, default=0.0, help='after each LSTM layer')
    parser.add_argument('--input-dropout', type=fraction, default=0.0)
    parser.add_argument('--metre-input', action='store_true',
                        help="the next frame's position in a 4/4 bar counted from the first frame as input "
                        '(the sets have no bar lines; off here, so earlier rows reproduce)')
    parser.add_argument('--pitch-order', choices=PITCH_ORDERS, default='up',
                        help="lstm-nade: draw each frame's pitches low to high (up), high to low (down: a given "
                        'soprano conditions exactly, see bach2 harmonize), the outer ones first (outside-in) or the '
                        "middle ones first (inside-out); --ensemble of several orders is a mixture over orders "
                        '(default: %(default)s)')
    parser.add_argument('--patience', type=int, default=0, help='early stopping: epochs without a new best (0 = off)')
    parser.add_argument('--transpositions', default='all', help="'all' or a comma list of k in sh<k>")
    parser.add_argument('--plateau-decay', type=decay, default=1.0,
                        help='learning rate × this after each epoch whose validation NLL is no new best (1 = off)')
    parser.add_argument('--max-batches', type=int, default=0, help='per epoch, 0 = all')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--resume', action='store_true', help='continue the run of the same --out and settings '
                        'up to --epochs')
    parser.add_argument('--evaluate-only', action='store_true', help='skip training: test the checkpoint of an '
                        'earlier run with the same --out and settings')
    parser.add_argument('--ensemble', nargs='+', default=[], metavar='CHECKPOINT',
                        help='skip training: test the average of these checkpoints\' probabilities')
    parser.add_argument('--ensemble-weights', choices=('equal', 'valid'), default='equal',
                        help="--ensemble: equal weights, or those of the mixture most likely on 'valid' "
                        '(default: %(default)s)')
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    shifts = tuple(range(12)) if args.transpositions == 'all' else tuple(int(k) for k in args.transpositions.split(','))
    data_dir = out / 'data'
    prepare_polyphonic(args.set, data_dir, shifts if 0 in shifts else (0,) + shifts)
    _, test_pieces, _ = load_pieces(data_dir, split='test')
    results = {'settings': vars(args), 'set': args.set, 'published': PUBLISHED_TEST_NLL[args.set],
               'baselines': baselines(data_dir)}
    if args.ensemble:
        test, label = ensemble_nll(args.ensemble, data_dir, test_pieces, args.ensemble_weights == 'valid')
        results.update(test_nll_per_frame=test['nll_per_frame'], test_frames=test['frames'],
                       members=test['members'])
    else:
        model_config = ModelConfig(n_layers=args.layers, n_hidden=args.hidden, sequence_length=args.sequence_length,
                                   batch_size=args.batch_size, optimizer='adam', learning_rate=args.learning_rate,
                                   n_pitches=88, lowest_pitch=21, model=args.model, nade_hidden=args.nade_hidden,
                                   targets=args.targets, dropout=args.dropout, input_dropout=args.input_dropout,
                                   metre_input=args.metre_input, pitch_order=args.pitch_order)
        train_config = TrainConfig(str(data_dir), str(out / 'checkpoints'), epochs=args.epochs, seed=args.seed,
                                   transpositions=shifts, valid_transpositions=(0,),
                                   step_ticks=BENCHMARKS[args.set][1], pad_start=args.targets == 'last',
                                   max_batches=args.max_batches, plateau_decay=args.plateau_decay,
                                   patience=args.patience)
        best = best_checkpoint_path(checkpoint_path(train_config, model_config))
        if args.evaluate_only:
            history = load_rnn_checkpoint(checkpoint_path(train_config, model_config))[2]['history']
        else:
            _, history = train(model_config, train_config, resume=args.resume)
        seconds = sum(row['seconds'] for row in history)        # the training batches of every epoch, resumed or not
        test = checkpoint_nll(best, test_pieces)
        label = (f'{"faithful LSTM" if args.model == "lstm" else f"LSTM-NADE (H = {args.nade_hidden})"} '
                 f'{args.layers}×{args.hidden}, targets {args.targets} (ours, epoch {test["epoch"]})')
        results.update(train_seconds=seconds, seconds_per_epoch=[row['seconds'] for row in history],
                       best_epoch=test['epoch'], valid_nll_per_frame=[row['valid_nll_per_frame'] for row in history],
                       train_nll_per_frame=[row.get('train_nll_per_frame') for row in history],
                       test_nll_per_frame=test['nll_per_frame'], test_frames=test['frames'], checkpoint=str(best))
        print(f'training: {seconds / 60:.1f} min of batches for {len(history)} epochs')
    print(f'\n{args.set}, test NLL per frame (88 keys, summed over keys, mean over {test["frames"]} frames):')
    rows = [(label, test['nll_per_frame'])]
    rows += [(f'{name} baseline (ours)', value) for name, value in results['baselines'].items()]
    rows += [(f'{name} (published)', value) for name, value in PUBLISHED_TEST_NLL[args.set].items()]
    for name, value in rows:
        print(f'  {name:<60} {value:6.2f}')
    print('  by depth into a piece: ' + ', '.join(f'frames {span}: {value:.2f} ({frames})'
                                                  for span, (value, frames) in test['nll_by_depth'].items()))
    results['test_nll_by_depth'] = test['nll_by_depth']
    with atomic_path(out / 'results.json') as temporary, open(temporary, 'w') as handle:
        json.dump(results, handle, indent=1)
    print(f'  {out / "results.json"}')


if __name__ == '__main__':
    main()
