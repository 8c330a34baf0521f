"""Does chord input make generated music follow a prescribed progression? (issue 4, the journal's plan)

Trains two models with the same settings on prepared data — plain, and with
``chord_input`` (the next step's chord tones as extra input) — then generates
``--pieces`` pieces with each under the same progression (same primers and
seeds), the plain model's output transposed to the progression's key, and
prints the chord agreement per quarter note (root and family found by stage 2
equal the prescribed chord) and the journal's chord distance.

    python benchmarks/chord_conditioning.py --data training_data --out /tmp/chord_runs
"""
import argparse
import json
import pathlib

import numpy as np

from bach2.compose.generate import GenerateConfig, generate_a_fugue
from bach2.models.checkpoints import checkpoint_path
from bach2.models.model_config import ModelConfig
from bach2.music.progressions import chord_agreement, parse_progression, progression_steps
from bach2.safe_io import load_pickle
from bach2.train import TrainConfig, train


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default='training_data', help='folder written by bach2 prepare')
    parser.add_argument('--out', required=True, help='checkpoints and generated pieces go here')
    parser.add_argument('--hidden', type=int, default=128)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--max-batches', type=int, default=150)
    parser.add_argument('--pieces', type=int, default=8)
    parser.add_argument('--steps', type=int, default=128)
    parser.add_argument('--progression', default='i iv V i')
    parser.add_argument('--key', default='D minor')
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    results = {}
    for chord_input in (False, True):
        label = 'chord_input' if chord_input else 'plain'
        model_config = ModelConfig(n_hidden=args.hidden, optimizer='adam', learning_rate=0.002,
                                   chord_input=chord_input)
        train_config = TrainConfig(data_dir=args.data, out_dir=str(out / label), epochs=args.epochs,
                                   max_batches=args.max_batches, max_valid_frames=4000)
        _, history = train(model_config, train_config)
        sampler, agreements, distances = None, [], []
        for seed in range(args.pieces):
            config = GenerateConfig(str(checkpoint_path(train_config, model_config)), data_dir=args.data,
                                    out_dir=str(out / label / 'pieces'), n_steps=args.steps, seed=seed,
                                    key=args.key, progression=args.progression if chord_input else '')
            result = generate_a_fugue(config, sampler=sampler, log=lambda line: None)
            sampler = result['sampler']
            record = load_pickle(result['files']['p'])
            if chord_input:
                prescribed = record['prescribed_chords']
            else:        # the same progression, after the plain model's piece was moved to the key
                prescribed = progression_steps(parse_progression(args.progression, args.key), args.steps)
            score = chord_agreement(record['pitch_matrix'], prescribed, record['lowest_pitch'])
            agreements.append(score['agreement'])
            distances.append(score['mean_chord_distance'])
        results[label] = {'valid_nll_per_frame': history[-1]['valid_nll_per_frame'],
                          'chord_agreement_mean': float(np.mean(agreements)),
                          'chord_agreement_per_piece': [round(a, 3) for a in agreements],
                          'chord_distance_mean': float(np.mean(distances))}
    print(json.dumps({'progression': args.progression, 'key': args.key, 'pieces': args.pieces,
                      'steps': args.steps, **results}, indent=1))


if __name__ == '__main__':
    main()
