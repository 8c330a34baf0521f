"""Stage 1: training_data/time_series.p → pitch_matrix_<N>ticks_sh<k>.p/.npz in 12 keys (or toC).

Needs stage 0's output; stage 2 comes next.
"""
import sys

from bach2.app.arguments import add_matrix_arguments, add_out_argument, config_from
from bach2.app.cli import OneLineParser, run
from bach2.data.prepare import load_time_series, write_pitch_matrices


def stage1(args):
    pieces, _, _ = load_time_series(args.out)
    for label, (path, outside) in write_pitch_matrices(pieces, args.out, config_from(args)).items():
        print(f'{label}: {path} ({sum(outside)} notes outside the {args.n_pitches}-pitch window)')
    return 0


if __name__ == '__main__':
    parser = OneLineParser(description=__doc__)
    add_out_argument(parser)
    add_matrix_arguments(parser)
    sys.exit(run(stage1, parser.parse_args()))
