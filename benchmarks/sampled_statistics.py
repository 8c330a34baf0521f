"""Sampled music of several checkpoints against the corpus, beside Bach's own continuation of the same primers (issue 8).

Each checkpoint (``LABEL=PATH.npz``) continues the same ``--count`` primers
(seeds 0 … count − 1: the primer piece and the sampling noise of a seed are
shared by all models) for ``--steps`` steps. ``bach`` is the reference: the
next ``--steps`` steps of each primer's own piece, i.e. what a perfect model
could have drawn — its distances are the floor that the number of pieces
allows. Prints the statistics of ``bach2 evaluate`` against the whole corpus
(``sh0`` of ``--data``) and, over ``--bootstrap`` resamplings of the seeds, how
often each model is closer than the first one on the three statistics of issue 8
(pitch-class histogram, chord transitions, polyphony) and on all three at once,
and on the two of the metre issue (the number of sounding notes per step, the
onsets over the positions of the bar: each piece read with its bar positions —
the primer's metre continued for generated pieces), and draws ``distances.png``
(each set's distance with its 5–95 % bootstrap range).

    python benchmarks/sampled_statistics.py --data /tmp/kb --out /tmp/sampled --count 64 \\
        faithful=/tmp/ck_kb/lstm_polyphonic_N128_2layers.npz lstm-nade=/tmp/ck_kb_nade/lstmnade_polyphonic_N128_2layers.npz
"""
import argparse
import json
import pathlib

import numpy as np
from tqdm import tqdm

from bach2.app.arguments import positive, rate
from bach2.compose.generate import GenerateConfig, generate_a_fugue
from bach2.data.prepare import ONSETS
from bach2.data.training_set import records
from bach2.measure.evaluate import load_pieces
from bach2.measure.music_statistics import DISTRIBUTIONS, SCALAR_STATISTICS, compare, piece_counts, pooled_statistics
from bach2.models.checkpoints import checkpoint_geometry, load_rnn_checkpoint
from bach2.safe_io import atomic_path, load_pickle, save_png

NAMED = ('pitch_class_histogram', 'chord_transitions', 'polyphony')    # the three statistics issue 8 names
METRE_NAMED = ('sounding_notes', 'onset_positions')                    # and the two of the metre issue (19)
BOOTSTRAPPED = NAMED + METRE_NAMED + ('note_durations',)               # and the held and struck notes (15)


def distances(statistics, corpus):
    """Statistics dict → {statistic: distance to the corpus}: total variation, or |difference| for a scalar."""
    return {name: abs(distance) for name, _, _, distance in compare(statistics, corpus)}


def generate_pieces(label, checkpoint, args):
    """Generate ``args.count`` pieces with one checkpoint → [(pitch matrix, primer name, primer length,
    bar positions or None, onset plane or None)]."""
    sampler, pieces = None, []
    for seed in tqdm(range(args.count), desc=label, unit='piece'):
        config = GenerateConfig(checkpoint, data_dir=args.data, out_dir=str(pathlib.Path(args.out) / label),
                                n_steps=args.steps, seed=seed, temperature=args.temperature, name=f'{label}_{seed}')
        result = generate_a_fugue(config, sampler=sampler, log=lambda line: None)
        sampler = result['sampler']
        record = load_pickle(result['files']['p'])
        pieces.append((record['pitch_matrix'], record['primer_name'], len(record['primer']),
                       record.get('bar_positions'), record.get('onsets')))
    return pieces


def bach_continuations(generated, corpus_pieces, n_steps, n_pitches):
    """The steps of each primer's own piece after the primer (as long as the generated piece, or what is left)
    → [(pitch matrix, bar positions or None, onset plane or None)]; ``corpus_pieces`` are ``2P`` wide where
    the folder records onsets."""
    by_name = {name: (matrix, positions) for matrix, _, name, positions in corpus_pieces}
    pieces = []
    for _, name, length, *_ in generated:
        matrix, positions = by_name[name]
        cut = slice(length, length + n_steps)
        pieces.append((matrix[cut, :n_pitches], None if positions is None else positions[cut],
                       matrix[cut, n_pitches:] if matrix.shape[1] > n_pitches else None))
    return pieces


def bootstrap_distances(counts, corpus, n_resamples, seed=0):
    """Resample the seeds (the same ones for every set) → {label: {statistic: distances, one per resampling}}."""
    rng = np.random.default_rng(seed)
    n = len(next(iter(counts.values())))
    names = [name for name in BOOTSTRAPPED if all(name in distances(pooled_statistics(pieces), corpus)
                                                  for pieces in counts.values())]
    found = {label: {name: np.zeros(n_resamples) for name in names} for label in counts}
    for r in range(n_resamples):
        chosen = rng.integers(0, n, n)
        for label, pieces in counts.items():
            distance = distances(pooled_statistics([pieces[i] for i in chosen]), corpus)
            for name in names:
                found[label][name][r] = distance[name]
    return found


def share_closer(resampled, label, reference):
    """Share of resamplings in which ``label`` is strictly closer than ``reference``, per statistic and on all three."""
    wins = {name: resampled[label][name] < resampled[reference][name] for name in resampled[label]}
    return {**{name: float(won.mean()) for name, won in wins.items()},
            'all_three': float(np.logical_and.reduce([wins[name] for name in NAMED]).mean())}


def plot_distances(found, resampled, path):
    """Bars: distance to the corpus of each set on the three statistics, with the 5–95 % bootstrap range."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = list(next(iter(resampled.values())))
    figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.6))
    labels = list(found)
    for axis, name in zip(axes, names):
        low, high = zip(*(np.percentile(resampled[label][name], [5, 95]) for label in labels))
        values = [found[label][name] for label in labels]
        errors = [np.maximum(0, np.subtract(values, low)), np.maximum(0, np.subtract(high, values))]
        axis.bar(labels, values, yerr=errors, capsize=4, color=['0.6'] + [f'C{k}' for k in range(len(labels) - 1)])
        axis.set_title(name.replace('_', ' ') + (' (|difference|)' if name in SCALAR_STATISTICS else ' (TV)'))
        axis.tick_params(axis='x', rotation=20)
    axes[0].set_ylabel('distance to the corpus')
    figure.tight_layout()
    save_png(figure, path, dpi=100)


def markdown_table(statistics, found, corpus):
    """Markdown: the two distributions as distances to the corpus, the scalars as values beside the corpus's."""
    labels = list(statistics)
    lines = ['| statistic | corpus | ' + ' | '.join(labels) + ' |', '|' + ' --- |' * (2 + len(labels))]
    for name in DISTRIBUTIONS:
        lines.append(f'| {name} (distance) | 0 | ' + ' | '.join(
            f'{found[label][name]:.3f}' if name in found[label] else '—' for label in labels) + ' |')
    for name in SCALAR_STATISTICS:
        lines.append(f'| {name} | {corpus[name]:.3f} | '
                     + ' | '.join(f'{statistics[label][name]:.3f}' for label in labels) + ' |')
    return '\n'.join(lines)


def checkpoint_argument(text):
    """'LABEL=PATH.npz' → (label, path), or an argparse error naming what is wrong."""
    label, separator, path = text.partition('=')
    if not separator or not label or label == 'bach':
        raise argparse.ArgumentTypeError(f'{text!r}: give LABEL=CHECKPOINT.npz (any label but "bach")')
    if not pathlib.Path(path).is_file():
        raise argparse.ArgumentTypeError(f'{path}: no such checkpoint')
    return label, path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('checkpoints', nargs='+', type=checkpoint_argument, metavar='LABEL=CHECKPOINT',
                        help='the first is the reference of the bootstrap')
    parser.add_argument('--data', required=True, help='prepared folder (bach2 prepare): primers and corpus')
    parser.add_argument('--out', required=True, help='generated pieces and results.json go here')
    parser.add_argument('--count', type=positive, default=64, help='pieces per model (seeds 0 … count − 1)')
    parser.add_argument('--steps', type=positive, default=256, help='steps generated after each primer')
    parser.add_argument('--temperature', type=rate, default=1.0)
    parser.add_argument('--bootstrap', type=positive, default=1000, help='resamplings of the seeds')
    args = parser.parse_args()
    labels = [label for label, _ in args.checkpoints]
    if len(set(labels)) < len(labels):
        parser.error(f'each checkpoint needs its own label, not {", ".join(labels)}')
    geometry = checkpoint_geometry(load_rnn_checkpoint(args.checkpoints[0][1])[2])
    lowest, per = geometry.lowest_pitch, geometry.steps_per_quarter
    P = geometry.n_pitches
    sh0 = pathlib.Path(args.data) / f'pitch_matrix_{geometry.step_ticks}ticks_sh0.npz'
    recorded = records(sh0, ONSETS)                     # then Bach's notes are read with their onsets
    _, corpus_pieces, _ = load_pieces(args.data, geometry, progress=False, articulation=recorded)
    corpus = pooled_statistics([piece_counts(matrix[:, :P], lowest, per, positions, matrix[:, P:] if recorded else None)
                                for matrix, _, _, positions in corpus_pieces])
    generated = {label: generate_pieces(label, path, args) for label, path in args.checkpoints}
    pieces = {'bach': bach_continuations(next(iter(generated.values())), corpus_pieces, args.steps, P)}
    pieces.update({label: [(matrix, positions, onsets) for matrix, _, _, positions, onsets in made]
                   for label, made in generated.items()})
    counts = {label: [piece_counts(matrix, lowest, per, positions, onsets) for matrix, positions, onsets in made]
              for label, made in pieces.items()}
    statistics = {label: pooled_statistics(piece) for label, piece in counts.items()}
    found = {label: distances(values, corpus) for label, values in statistics.items()}
    reference = args.checkpoints[0][0]
    resampled = bootstrap_distances(counts, corpus, args.bootstrap)
    shares = {label: share_closer(resampled, label, reference) for label, _ in args.checkpoints[1:]}
    print(markdown_table(statistics, found, corpus))
    for label, share in shares.items():
        print(f'{label} closer than {reference} in {args.bootstrap} resamplings of the seeds: '
              + ', '.join(f'{name} {value:.0%}' for name, value in share.items()))
    plot_distances(found, resampled, pathlib.Path(args.out) / 'distances.png')
    results = {'args': {**vars(args), 'checkpoints': dict(args.checkpoints)},
               'corpus': {name: corpus[name] for name in SCALAR_STATISTICS}, 'distances': found,
               'bootstrap_5_95': {label: {name: np.percentile(values, [5, 95]).tolist()
                                          for name, values in by_name.items()} for label, by_name in resampled.items()},
               'statistics': {label: {name: values[name] for name in SCALAR_STATISTICS}
                              for label, values in statistics.items()},
               'bootstrap_share_closer': shares}
    with atomic_path(pathlib.Path(args.out) / 'results.json') as temporary:
        pathlib.Path(temporary).write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
    main()
