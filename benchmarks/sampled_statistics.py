"""Sampled music of several checkpoints against the corpus, beside Bach's own continuation of the same primers (issue 8).

Each checkpoint (``LABEL=PATH.npz``) continues the same ``--count`` primers
(seeds 0 … count − 1: the primer piece and the sampling noise of a seed are
shared by all models) for ``--steps`` steps. ``bach`` is the reference: the
next ``--steps`` steps of each primer's own piece, i.e. what a perfect model
could have drawn — its distances are the floor that the number of pieces
allows. Prints the statistics of ``bach2 evaluate`` against the whole corpus
(``sh0`` of ``--data``) and, over ``--bootstrap`` resamplings of the seeds, how
often each model is closer than the first one on the three statistics of issue 8
(pitch-class histogram, chord transitions, polyphony) and on all three at once.

    python benchmarks/sampled_statistics.py --data /tmp/kb --out /tmp/sampled --count 64 \\
        faithful=/tmp/ck_kb/lstm_polyphonic_N128_2layers.npz lstm-nade=/tmp/ck_kb_nade/lstmnade_polyphonic_N128_2layers.npz
"""
import argparse
import json
import pathlib

import numpy as np
from tqdm import tqdm

from bach2.evaluate import checkpoint_geometry, load_pieces
from bach2.generate import GenerateConfig, generate_a_fugue, load_model
from bach2.music_statistics import SCALAR_STATISTICS, piece_counts, pooled_statistics, total_variation
from bach2.safe_io import atomic_path, load_pickle

NAMED = ('pitch_class_histogram', 'chord_transitions', 'polyphony')    # the three statistics issue 8 names


def distances(statistics, corpus):
    """Statistics dict → {statistic: distance to the corpus}: total variation, or |difference| for a scalar."""
    result = {name: total_variation(statistics[name], corpus[name])
              for name in ('pitch_class_histogram', 'chord_transitions')}
    result.update({name: abs(statistics[name] - corpus[name]) for name in SCALAR_STATISTICS})
    return result


def generate_pieces(label, checkpoint, args):
    """Generate ``args.count`` pieces with one checkpoint → [(pitch matrix, primer name, primer length)]."""
    sampler, pieces = None, []
    for seed in tqdm(range(args.count), desc=label, unit='piece'):
        config = GenerateConfig(checkpoint, data_dir=args.data, out_dir=str(pathlib.Path(args.out) / label),
                                n_steps=args.steps, seed=seed, temperature=args.temperature, name=f'{label}_{seed}')
        result = generate_a_fugue(config, sampler=sampler, log=lambda line: None)
        sampler = result['sampler']
        record = load_pickle(result['files']['p'])
        pieces.append((record['pitch_matrix'], record['primer_name'], len(record['primer'])))
    return pieces


def bach_continuations(generated, corpus_pieces, n_steps):
    """The steps of each primer's own piece after the primer (as long as the generated piece, or what is left)."""
    by_name = {name: matrix for matrix, _, name in corpus_pieces}
    return [by_name[name][length:length + n_steps] for _, name, length in generated]


def paired_bootstrap(counts, corpus, reference, n_resamples, seed=0):
    """Resample the seeds (the same ones for every set) → {label: {statistic or 'all_three': share closer than reference}}."""
    rng = np.random.default_rng(seed)
    n = len(counts[reference])
    closer = {label: dict.fromkeys((*NAMED, 'all_three'), 0) for label in counts if label != reference}
    for _ in range(n_resamples):
        chosen = rng.integers(0, n, n)
        found = {label: distances(pooled_statistics([pieces[i] for i in chosen]), corpus)
                 for label, pieces in counts.items()}
        for label in closer:
            wins = [found[label][name] < found[reference][name] for name in NAMED]
            for name, win in zip(NAMED, wins):
                closer[label][name] += win
            closer[label]['all_three'] += all(wins)
    return {label: {name: wins / n_resamples for name, wins in shares.items()} for label, shares in closer.items()}


def markdown_table(statistics, found, corpus):
    """Rows: statistic, corpus value, then 'distance (value)' per set."""
    labels = list(statistics)
    lines = ['| statistic | corpus | ' + ' | '.join(labels) + ' |', '|' + ' --- |' * (2 + len(labels))]
    for name in ('pitch_class_histogram', 'chord_transitions'):
        lines.append(f'| {name} (distance) | 0 | ' + ' | '.join(f'{found[label][name]:.3f}' for label in labels) + ' |')
    for name in SCALAR_STATISTICS:
        lines.append(f'| {name} | {corpus[name]:.3f} | '
                     + ' | '.join(f'{statistics[label][name]:.3f}' for label in labels) + ' |')
    return '\n'.join(lines)


def checkpoint_argument(text):
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
    parser.add_argument('--count', type=int, default=64, help='pieces per model (seeds 0 … count − 1)')
    parser.add_argument('--steps', type=int, default=256, help='steps generated after each primer')
    parser.add_argument('--temperature', type=float, default=1.0)
    parser.add_argument('--bootstrap', type=int, default=1000, help='resamplings of the seeds')
    args = parser.parse_args()
    geometry = checkpoint_geometry(load_model(args.checkpoints[0][1])[2])
    lowest, per = geometry.lowest_pitch, geometry.steps_per_quarter
    _, corpus_pieces, _ = load_pieces(args.data, geometry, progress=False)
    corpus = pooled_statistics([piece_counts(matrix, lowest, per) for matrix, _, _ in corpus_pieces])
    generated = {label: generate_pieces(label, path, args) for label, path in args.checkpoints}
    matrices = {'bach': bach_continuations(next(iter(generated.values())), corpus_pieces, args.steps)}
    matrices.update({label: [matrix for matrix, _, _ in pieces] for label, pieces in generated.items()})
    counts = {label: [piece_counts(matrix, lowest, per) for matrix in pieces] for label, pieces in matrices.items()}
    statistics = {label: pooled_statistics(piece) for label, piece in counts.items()}
    found = {label: distances(values, corpus) for label, values in statistics.items()}
    reference = args.checkpoints[0][0]
    shares = paired_bootstrap({label: piece for label, piece in counts.items() if label != 'bach'},
                              corpus, reference, args.bootstrap)
    print(markdown_table(statistics, found, corpus))
    for label, share in shares.items():
        print(f'{label} closer than {reference} in {args.bootstrap} resamplings of the seeds: '
              + ', '.join(f'{name} {value:.0%}' for name, value in share.items()))
    results = {'args': {**vars(args), 'checkpoints': dict(args.checkpoints)},
               'corpus': {name: corpus[name] for name in SCALAR_STATISTICS}, 'distances': found,
               'statistics': {label: {name: values[name] for name in SCALAR_STATISTICS}
                              for label, values in statistics.items()},
               'bootstrap_share_closer': shares}
    with atomic_path(pathlib.Path(args.out) / 'results.json') as temporary:
        pathlib.Path(temporary).write_text(json.dumps(results, indent=1))


if __name__ == '__main__':
    main()
