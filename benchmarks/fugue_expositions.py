"""Fugue expositions on the subjects of held-out fugues, against Bach's own expositions (issue 16).

From the prepared keyboard corpus (``--data``, e.g. ``bach2 prepare --out /tmp/kbdefault``) and the split
``bach2 train --seed`` makes of it, each fugue gives its subject, voices and exposition
(:func:`bach2.compose.fugue.subject_of`).

For each held-out fugue and ``--seeds``, ``bach2.compose.fugue.compose`` writes an exposition on its subject with
the ``--up``/``--down`` pair (default: the shipped pair). Measured: the share of entries kept note for note
(must be 1.0); ``bach2 evaluate``'s statistics of the written expositions against the real expositions of
the held-out fugues; and the judge of ``bach2 judge`` (4-bar excerpts, cross-validation grouped by subject or
work) telling the written expositions from the real expositions of every fugue of the corpus.

    python benchmarks/fugue_expositions.py --data /tmp/kbdefault --out /tmp/fugue_expositions.json
"""
import argparse
import json
import pathlib
import tempfile

import numpy as np
from tqdm import tqdm

from bach2.compose.fugue import Form, Subject, compose, subject_of
from bach2.compose.lines import Sampling
from bach2.measure.judge import JudgeConfig, bach_split, judge_accuracy, work
from bach2.measure.music_statistics import compare, format_table, music_statistics
from bach2.models.checkpoints import SHIPPED_MODELS, load_samplers
from bach2.render.piece import Output
from bach2.safe_io import atomic_path, load_pickle


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True, help='prepared keyboard corpus with onsets and bar positions')
    parser.add_argument('--up', default=str(SHIPPED_MODELS['up']))
    parser.add_argument('--down', default=str(SHIPPED_MODELS['down']))
    parser.add_argument('--seed', type=int, default=0, help='the seed the models were trained with: the split')
    parser.add_argument('--seeds', type=int, default=8, help='expositions per subject (default: %(default)s)')
    parser.add_argument('--temperature', type=float, default=1.0)
    parser.add_argument('--out', required=True, help='JSON results')
    args = parser.parse_args()
    samplers, geometry = load_samplers({'up': args.up, 'down': args.down})
    _, held_out, training = bach_split(args.data, args.seed)
    fugues = {side: [(name, found) for name, *piece in pieces if '_fugue_' in name
                     for found in [subject_of(*piece)] if found is not None]
              for side, pieces in (('held_out', held_out), ('training', training))}
    written, intact, per_subject = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for name, (line, struck, positions, voices, _) in tqdm(fugues['held_out'], desc='subjects'):
            pitches = np.where(line >= 0, line + geometry.lowest_pitch, -1)
            for seed in range(args.seeds):
                files, report = compose(samplers, geometry, Subject(pitches, struck, positions), Form(voices),
                                        Sampling(temperature=args.temperature, seed=seed),
                                        Output(folder, name=f'{name}_seed{seed}'))
                record = load_pickle(files['p'])
                steps = report['exposition_steps']
                written.append((name, record['pitch_matrix'][:steps], record['bar_positions'][:steps],
                                record['onsets'][:steps]))
                intact.append(report['entries_intact'])
            per_subject.append({'fugue': name, 'voices': voices, 'subject_steps': len(line), 'key': report['key'],
                                'entries': report['entries']})
    real = [found[4] for _, found in fugues['held_out']]
    ours = music_statistics([m for _, m, _, _ in written], geometry.lowest_pitch, geometry.steps_per_quarter,
                            [p for _, _, p, _ in written], [o for *_, o in written])
    theirs = music_statistics([m for m, _, _ in real], geometry.lowest_pitch, geometry.steps_per_quarter,
                              [p for _, p, _ in real], [o for *_, o in real])
    every_real = [found[4] for side in fugues.values() for _, found in side]
    every_name = [name for side in fugues.values() for name, _ in side]
    judge = judge_accuracy([piece[1:] for piece in written], every_real, geometry.lowest_pitch,
                           groups=([name for name, *_ in written], [work(name) for name in every_name]),
                           config=JudgeConfig(folds=min(5, len(fugues['held_out']))))
    results = {'settings': vars(args), 'subjects': per_subject, 'expositions': len(written),
               'entries_intact': float(np.mean(intact)), 'real_expositions_judged': len(every_real),
               'statistics': compare(ours, theirs), 'judge': judge}
    with atomic_path(args.out) as temporary:
        pathlib.Path(temporary).write_text(json.dumps(results, indent=1, default=str))
    print(json.dumps(per_subject, indent=1))
    print(f'{len(written)} expositions, entries intact {results["entries_intact"]:.3f}')
    print(format_table(results['statistics']))
    print(f'judge accuracy {judge["accuracy"]:.3f} ± {judge["accuracy_std"]:.3f} '
          f'({judge["excerpts"]} excerpts per side; 0.5: it cannot tell)')


if __name__ == '__main__':
    main()
