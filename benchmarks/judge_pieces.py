"""Does it sound like Bach? bach2.measure.judge's judge and copy search on sets of generated pieces (issue 15).

Each set is ``LABEL=FOLDER``: the ``.p`` pickles of ``bach2 generate`` or ``benchmarks/sampled_statistics.py``
(their continuation only, the primer left out), or, in a folder without pickles, its MIDI files read whole.
For each set:

* judge: how often a logistic regression on style features tells 4-bar excerpts of the set from those of
  held-out Bach, in cross-validation grouped by piece (0.5: it cannot tell; 1.0: it always can), ± the spread
  over the folds, and the features it leans on most (weights > 0 point to the set, < 0 to Bach); with
  ``--judge-seeds N``, the mean over N seeds (which excerpts, which folds) ± the spread over the seeds, and
  each two sets compared seed by seed (held-out Bach is the same for both, so what differs is the sets);
* copies: the longest passage of each piece that a training piece holds verbatim in any transposition, in
  steps: median and longest over the pieces, and the share of pieces over ``--copy-limit`` (issue 15's target:
  none over 2 bars, 32 steps);
* material: how the set works with its own material, per 4-bar excerpt (:mod:`bach2.measure.motifs`: motifs
  that recur, notes in sequences, bar-to-bar rhythm, beats struck), beside held-out Bach's.

Held-out and training Bach are the split ``bach2 train`` makes of ``--data`` (its split.json, or else by BWV
number with ``--valid-fraction`` and ``--seed``: give the seed the models were trained with). The reference
row is held-out Bach itself: the judge on its works split in two halves (``--halvings`` random halvings, mean ±
spread; ≈ 0.5 expected), the copy search on it cut in ``--segment``-step pieces like the generated ones.
Prints a table and writes everything, each piece's copy included, to ``--out`` (JSON).

    python benchmarks/judge_pieces.py --data /tmp/kb2 --out /tmp/judge/seed0.json \\
        without=/tmp/q_sampled4/without metre=/tmp/q_sampled4/metre
"""
import argparse
import json
import pathlib
import sys

import numpy as np
from tqdm import tqdm

from bach2.app.arguments import fraction, positive
from bach2.common import CorpusError
from bach2.measure.judge import CopyIndex, JudgeConfig, bach_split, copy_table, judge_accuracy, load_generated, work
from bach2.measure.motifs import MATERIAL
from bach2.measure.music_statistics import material_statistics
from bach2.safe_io import UnsafePickleError, atomic_path


def set_argument(text):
    """'LABEL=FOLDER' → (label, folder), or an argparse error."""
    label, separator, folder = text.partition('=')
    if not separator or not label or not folder:
        raise argparse.ArgumentTypeError(f'{text!r}: give LABEL=FOLDER')
    return label, folder


def judged(generated, bach, args, seed=0):
    """judge_accuracy of two lists of (name, matrix, positions, onsets) grouped by :func:`work`; CorpusError if too
    few."""
    try:
        groups = [[work(name) for name, *_ in side] for side in (generated, bach)]
        return judge_accuracy([piece[1:] for piece in generated], [piece[1:] for piece in bach],
                              args.geometry.lowest_pitch, groups,
                              JudgeConfig(args.excerpt_steps, args.folds, seed=seed))
    except ValueError as error:
        raise CorpusError(f'{args.data}: {error}') from None


def judged_over_seeds(generated, bach, args):
    """:func:`judged` with seeds 0 … ``args.judge_seeds`` − 1 (which excerpts of the larger side are kept, and the
    folds) → the first seed's dict with ``accuracy`` the mean over the seeds, ``accuracy_std`` their spread and
    ``seed_accuracies``; with one seed, :func:`judged`'s dict (± the spread over its folds)."""
    runs = [judged(generated, bach, args, seed) for seed in range(args.judge_seeds)]
    if len(runs) == 1:
        return runs[0]
    accuracies = [run['accuracy'] for run in runs]
    return {**runs[0], 'accuracy': float(np.mean(accuracies)), 'accuracy_std': float(np.std(accuracies)),
            'seed_accuracies': accuracies}


def paired_lines(rows):
    """For each two sets judged over the same seeds: the mean difference of their accuracies and on how many
    seeds the first is the harder to tell from Bach."""
    seeded = [(label, judge['seed_accuracies']) for label, (_, judge, *_) in list(rows.items())[1:]
              if 'seed_accuracies' in judge]
    lines = []
    for i, (first, a) in enumerate(seeded):
        for second, b in seeded[i + 1:]:
            difference = np.subtract(a, b)
            lines.append(f'{first} − {second}: {difference.mean():+.3f} ± {difference.std():.3f} over {len(a)} '
                         f'seeds; {first} the harder to tell on {(difference < 0).sum()} of them')
    return lines


def halvings(held_out, args):
    """The judge on held-out Bach against held-out Bach, its works split in two random halves ``args.halvings``
    times → dict: accuracy (mean), accuracy_std (over the halvings), one judge_accuracy per halving."""
    works = sorted({work(name) for name, *_ in held_out}, key=str)
    runs = []
    for seed in range(args.halvings):
        first = set(np.random.default_rng(seed).permutation(np.array(works, object))[:len(works) // 2])
        halves = [[piece for piece in held_out if (work(piece[0]) in first) == side] for side in (True, False)]
        runs.append(judged(*halves, args, seed))
    accuracies = [run['accuracy'] for run in runs]
    return {'accuracy': float(np.mean(accuracies)), 'accuracy_std': float(np.std(accuracies)),
            'excerpts': min(run['excerpts'] for run in runs), 'halvings': runs}


def markdown_table(rows, limit):
    """{label: (pieces, judge dict, copies dict, material dict)} → Markdown table."""
    lines = [f'| set | pieces | excerpts per side | judge accuracy (± spread) | copy median | copy max '
             f'| copies > {limit} steps | ' + ' | '.join(MATERIAL) + ' |', '|' + ' --- |' * (7 + len(MATERIAL))]
    for label, (n, judge, copy, material) in rows.items():
        lines.append(f'| {label} | {n} | {judge["excerpts"]} | {judge["accuracy"]:.3f} ± {judge["accuracy_std"]:.3f} '
                     f'| {copy["median"]:g} | {copy["max"]} | {copy["share_over_limit"]:.0%} | '
                     + ' | '.join('—' if material[m] is None else f'{material[m]:.3f}' for m in MATERIAL) + ' |')
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('sets', nargs='+', type=set_argument, metavar='LABEL=FOLDER')
    parser.add_argument('--data', required=True, help='prepared folder (bach2 prepare): held-out and training Bach')
    parser.add_argument('--out', required=True, help='results JSON')
    parser.add_argument('--seed', type=int, default=0, help='the seed of the BWV split (bach2 train --seed)')
    parser.add_argument('--valid-fraction', type=fraction, default=0.1, help='as bach2 train --valid-fraction')
    parser.add_argument('--excerpt-steps', type=positive, default=64, help='steps of an excerpt the judge sees')
    parser.add_argument('--folds', type=positive, default=5, help='cross-validation folds')
    parser.add_argument('--judge-seeds', type=positive, default=1,
                        help='judge each set with this many seeds (excerpts kept, folds) and give the mean ± the '
                             'spread over the seeds, and each two sets paired seed by seed (default: one seed, '
                             '± the spread over its folds)')
    parser.add_argument('--halvings', type=positive, default=10, help='random halvings of held-out Bach (reference)')
    parser.add_argument('--segment', type=positive, default=256, help='held-out Bach is cut in pieces of these '
                        'steps for its copy search (as long as the generated pieces)')
    parser.add_argument('--copy-limit', type=positive, default=32, help='copies longer than this many steps count')
    args = parser.parse_args()
    labels = [label for label, _ in args.sets]
    if len(set(labels)) < len(labels) or 'held-out Bach' in labels:
        parser.error(f'each set needs its own label, not {", ".join(labels)}')
    try:
        args.geometry, held_out, training = bach_split(args.data, args.seed, args.valid_fraction)
        sets = {}
        for label, folder in args.sets:                          # bad input fails before the long part
            sets[label], failures = load_generated(folder, args.geometry)
            for path, reason in failures:
                print(f'{path}: left out ({reason})', file=sys.stderr)
        index = CopyIndex([matrix for _, matrix, *_ in training])
        names = [name for name, *_ in training]
        segments = [(f'{name}@{s}', matrix[s:s + args.segment], None) for name, matrix, *_ in held_out
                    for s in range(0, max(len(matrix) - args.segment, 0) + 1, args.segment)]   # ≥ 1 a piece
        lowest = args.geometry.lowest_pitch
        rows = {'held-out Bach': (len(held_out), halvings(held_out, args),
                                  copy_table(segments, index, names, args.copy_limit),
                                  material_statistics(held_out, lowest))}
        for label, generated in tqdm(sets.items(), desc='sets', unit='set'):
            rows[label] = (len(generated), judged_over_seeds(generated, held_out, args),
                           copy_table(generated, index, names, args.copy_limit), material_statistics(generated, lowest))
    except (CorpusError, UnsafePickleError) as error:
        sys.exit(f'judge_pieces: error: {error}')
    print(f'held-out Bach: {len(held_out)} pieces of --data {args.data} (split seed {args.seed}); '
          f'copies searched in its {len(training)} training pieces, 12 transpositions')
    print(markdown_table(rows, args.copy_limit))
    for line in paired_lines(rows):
        print(line)
    for label, (_, judge, *_) in list(rows.items())[1:]:
        print(f'{label}: the judge leans on '
              + ', '.join(f'{name} ({weight:+.2f})' for name, weight in judge['top_features']))
    results = {'args': {**vars(args), 'geometry': vars(args.geometry), 'sets': dict(args.sets)},
               'held_out': [name for name, *_ in held_out],
               'results': {label: {'pieces': n, 'judge': judge, 'copies': copy, 'material': material}
                           for label, (n, judge, copy, material) in rows.items()}}
    with atomic_path(args.out) as temporary:
        pathlib.Path(temporary).write_text(json.dumps(results, indent=1))
    print(f'  {args.out}')


if __name__ == '__main__':
    main()
