"""Stage 2: training_data/time_series.p → chord_sequence_sh<k>.p/.npz (a chord per quarter note) and manifest.json.

Needs stage 0's output; use the same --transpose as stage 1.
"""
import sys

from bach2.app.arguments import add_matrix_arguments, add_out_argument, config_from
from bach2.app.cli import OneLineParser, run
from bach2.data.prepare import load_time_series, write_chord_sequences


def stage2(args):
    pieces, failures, skipped = load_time_series(args.out)
    path = write_chord_sequences(pieces, args.out, config_from(args), failures=failures, skipped=skipped)
    print(f'chord sequences and manifest of {len(pieces)} pieces → {path}')
    return 0


if __name__ == '__main__':
    parser = OneLineParser(description=__doc__)
    add_out_argument(parser)
    add_matrix_arguments(parser)
    sys.exit(run(stage2, parser.parse_args()))
