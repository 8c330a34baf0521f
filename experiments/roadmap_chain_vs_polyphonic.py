"""What the road-map chain buys: chord agreement and key consistency of chain pieces vs the plain polyphonic model.

    python experiments/roadmap_chain_vs_polyphonic.py --chords CH.npz --melody BM.npz --second MS.npz \\
        --bass BASS.npz --polyphonic checkpoints/lstm_polyphonic_N128_2layers.npz --data training_data

For seeds 0 … count−1 the chord model writes a progression (``--quarters`` quarter notes). Three
kinds of piece are measured against that same progression:

* ``chain``: bass from the ``--chord-input`` monophonic model, melody, second melody (:func:`bach2.compose.chain.make_chain`);
* ``chain, root bass``: the same with each chord's root as the bass (no bass model);
* ``polyphonic``: the unconditioned stage-3 model continuing a random prepared primer for as many
  sixteenths (:func:`bach2.compose.generate.generate_a_fugue`); it never sees the progression, so its
  agreement is what chance and the style give.

Chord agreement: :func:`bach2.music.progressions.chord_agreement` (share of quarter notes whose found chord
has the prescribed root and family); in key: ``in_key`` of :mod:`bach2.measure.music_statistics` (share of
sounding notes in the detected key's scale). → ``results.json`` in ``--out`` and a table on stdout.
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

from bach2.compose.chain import ChainCheckpoints, Progression, chain_report, make_chain  # noqa: E402
from bach2.compose.generate import GenerateConfig, generate_a_fugue  # noqa: E402
from bach2.compose.lines import Sampling  # noqa: E402
from bach2.render.piece import Output  # noqa: E402
from bach2.safe_io import atomic_path, load_pickle  # noqa: E402


def measure(args):
    """→ {kind: [report per seed]} for the three kinds of piece of the module docstring."""
    out = pathlib.Path(args.out)
    rows = {'chain': [], 'chain, root bass': [], 'polyphonic': []}
    sampler = None
    quiet = lambda *_: None  # noqa: E731
    for seed in range(args.count):
        common = dict(progression=Progression(args.quarters),
                      sampling=Sampling(temperature=args.temperature, seed=seed), log=quiet)
        with_bass = make_chain(ChainCheckpoints(args.chords, args.melody, args.second, args.bass),
                               output=Output(out / 'pieces', name=f'chain_seed{seed}'), **common)
        rows['chain'].append(with_bass['report'])
        roots = make_chain(ChainCheckpoints(args.chords, args.melody, args.second),
                           output=Output(out / 'pieces', name=f'chain_rootbass_seed{seed}'), **common)
        rows['chain, root bass'].append(roots['report'])
        assert roots['chords'].tolist() == with_bass['chords'].tolist()
        result = generate_a_fugue(GenerateConfig(checkpoint=args.polyphonic, data_dir=args.data,
                                                 out_dir=str(out / 'pieces'), n_steps=args.quarters * 4, seed=seed,
                                                 temperature=args.temperature, name=f'polyphonic_seed{seed}'),
                                  sampler=sampler, log=quiet)
        sampler = result['sampler']
        record = load_pickle(result['files']['p'])
        rows['polyphonic'].append(chain_report(record['pitch_matrix'], with_bass['chords'], record['lowest_pitch']))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ('chords', 'melody', 'second', 'bass', 'polyphonic'):
        parser.add_argument(f'--{name}', required=True, help=f'{name} checkpoint')
    parser.add_argument('--data', default='training_data', help='prepared data for the primers')
    parser.add_argument('--count', type=int, default=5)
    parser.add_argument('--quarters', type=int, default=32)
    parser.add_argument('--temperature', type=float, default=0.8)
    parser.add_argument('--out', default='experiments/results/roadmap_chain_vs_polyphonic')
    args = parser.parse_args()
    rows = measure(args)
    summary = {kind: {key: float(np.mean([r[key] for r in reports])) for key in reports[0]}
               for kind, reports in rows.items()}
    print(f'{"pieces":<20}{"chord agreement":>17}{"chord distance":>16}{"in key":>9}   ({args.count} each, '
          f'{args.quarters} quarter notes, T={args.temperature:g})')
    for kind, means in summary.items():
        print(f'{kind:<20}{means["chord_agreement"]:>17.3f}{means["mean_chord_distance"]:>16.3f}'
              f'{means["in_key"]:>9.3f}')
    path = pathlib.Path(args.out) / 'results.json'
    with atomic_path(path) as temporary:
        pathlib.Path(temporary).write_text(json.dumps({'settings': vars(args), 'per_piece': rows,
                                                       'mean': summary}, indent=1))
    print(f'written: {path}')


if __name__ == '__main__':
    main()
