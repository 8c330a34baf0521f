"""The JSB Chorales benchmark with the faithful model (issue 5): test NLL per frame beside the published numbers.

Prepares ``../shared/data/jsb_chorales/jsb-chorales-quarter.json`` (88 keys,
quarter notes, the standard split), trains the journal's LSTM on ``train`` in
the chosen transpositions with a silent start (every frame is predicted),
selects the epoch of lowest NLL on ``valid`` (original keys), and reports
``test`` NLL per frame — binary cross-entropy summed over the 88 keys, averaged
over all frames — beside the unigram and repeat baselines on the same frames
and the published LSTM / GRU / TCN numbers. Results go to ``--out``/results.json.

    python benchmarks/jsb_chorales.py --out /tmp/jsb_run             # the setting of the README's number
    python benchmarks/jsb_chorales.py --out /tmp/jsb_quick --epochs 1 --transpositions 0 --hidden 64
"""
import argparse
import json
import pathlib

import numpy as np

from bach2.baselines import repeat_nll, repeat_rates, unigram_nll
from bach2.cli_types import decay
from bach2.evaluate import checkpoint_nll, load_pieces
from bach2.jsb_chorales import PUBLISHED_TEST_NLL, STEP_TICKS, prepare_jsb_chorales
from bach2.model_config import ModelConfig
from bach2.safe_io import atomic_path
from bach2.train import TrainConfig, best_checkpoint_path, checkpoint_path, load_checkpoint, train

JSB_JSON = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'jsb_chorales' / 'jsb-chorales-quarter.json'


def baselines(data_dir):
    """Unigram and repeat NLL per frame on ``test``, fitted on ``train`` (original keys); the first frame of a
    chorale follows silence."""
    _, train_pieces, _ = load_pieces(data_dir, split='train')
    _, test_pieces, _ = load_pieces(data_dir, split='test')
    train_frames = np.concatenate([m for m, _, _ in train_pieces])
    starts = np.cumsum([0] + [len(m) for m, _, _ in train_pieces])
    test_frames = np.concatenate([m for m, _, _ in test_pieces])
    previous = np.concatenate([np.vstack([np.zeros_like(m[:1]), m[:-1]]) for m, _, _ in test_pieces])
    return {'unigram': unigram_nll(train_frames, test_frames),
            'repeat': repeat_nll(repeat_rates(train_frames, starts), previous, test_frames)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--json', default=str(JSB_JSON), help='the benchmark file (default: ../shared/data/…)')
    parser.add_argument('--out', required=True, help='prepared data, checkpoints and results.json go here')
    parser.add_argument('--model', choices=('lstm', 'lstm-nade'), default='lstm',
                        help="'lstm': the faithful model; 'lstm-nade': a NADE over each step (issue 8)")
    parser.add_argument('--nade-hidden', type=int, default=150)
    parser.add_argument('--layers', type=int, default=2)
    parser.add_argument('--hidden', type=int, default=256)
    parser.add_argument('--sequence-length', type=int, default=32, help='quarter notes of context (default: 32)')
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--learning-rate', type=float, default=0.002)
    parser.add_argument('--transpositions', default='all', help="'all' or a comma list of k in sh<k>")
    parser.add_argument('--plateau-decay', type=decay, default=1.0,
                        help='learning rate × this after each epoch whose validation NLL is no new best (1 = off)')
    parser.add_argument('--max-batches', type=int, default=0, help='per epoch, 0 = all')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--resume', action='store_true', help='continue the run of the same --out and settings '
                        'up to --epochs')
    parser.add_argument('--evaluate-only', action='store_true', help='skip training: test the checkpoint of an '
                        'earlier run with the same --out and settings')
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    shifts = tuple(range(12)) if args.transpositions == 'all' else tuple(int(k) for k in args.transpositions.split(','))
    data_dir = out / 'data'
    prepare_jsb_chorales(args.json, data_dir, shifts if 0 in shifts else (0,) + shifts)
    model_config = ModelConfig(n_layers=args.layers, n_hidden=args.hidden, sequence_length=args.sequence_length,
                               optimizer='adam', learning_rate=args.learning_rate, n_pitches=88, lowest_pitch=21,
                               model=args.model, nade_hidden=args.nade_hidden)
    train_config = TrainConfig(str(data_dir), str(out / 'checkpoints'), epochs=args.epochs, seed=args.seed,
                               transpositions=shifts, valid_transpositions=(0,), step_ticks=STEP_TICKS,
                               pad_start=True, max_batches=args.max_batches, plateau_decay=args.plateau_decay)
    best = best_checkpoint_path(checkpoint_path(train_config, model_config))
    if args.evaluate_only:
        history = load_checkpoint(checkpoint_path(train_config, model_config))[0]['history']
    else:
        _, history = train(model_config, train_config, resume=args.resume)
    seconds = sum(row['seconds'] for row in history)           # the training batches of every epoch, resumed or not
    _, test_pieces, _ = load_pieces(data_dir, split='test')
    test = checkpoint_nll(best, test_pieces)
    results = {'settings': vars(args), 'train_seconds': seconds, 'best_epoch': test['epoch'],
               'valid_nll_per_frame': [row['valid_nll_per_frame'] for row in history],
               'test_nll_per_frame': test['nll_per_frame'], 'test_frames': test['frames'],
               'baselines': baselines(data_dir), 'published': PUBLISHED_TEST_NLL, 'checkpoint': str(best)}
    print(f'\nJSB Chorales, test NLL per frame (88 keys, summed over keys, mean over {test["frames"]} frames):')
    label = 'faithful LSTM' if args.model == 'lstm' else f'LSTM-NADE (H = {args.nade_hidden})'
    rows = [(f'{label} {args.layers}×{args.hidden} (ours, epoch {test["epoch"]})', test['nll_per_frame'])]
    rows += [(f'{name} baseline (ours)', value) for name, value in results['baselines'].items()]
    rows += [(f'{name} (Bai et al. 2018)', value) for name, value in PUBLISHED_TEST_NLL.items()]
    for name, value in rows:
        print(f'  {name:<44} {value:6.2f}')
    print(f'training: {seconds / 60:.1f} min of batches for {len(history)} epochs')
    with atomic_path(out / 'results.json') as temporary, open(temporary, 'w') as handle:
        json.dump(results, handle, indent=1)
    print(f'  {out / "results.json"}')


if __name__ == '__main__':
    main()
