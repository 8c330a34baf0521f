"""Stage 0: a folder of MIDI → training_data/time_series.p (time series per voice, repair reports).

Run the stages in order: stage0 → stage1 → stage2 (``bach2 prepare`` runs all three).
"""
import sys

from bach2.app.arguments import add_data_arguments, add_out_argument, config_from
from bach2.app.cli import OneLineParser, run
from bach2.app.data_commands import resolve_data
from bach2.app.output import report_failures
from bach2.data.prepare import find_midi_files, read_corpus, write_time_series


def stage0(args):
    pieces, failures, skipped = read_corpus(find_midi_files(resolve_data(args)), config_from(args),
                                            processes=args.jobs)
    path = write_time_series(pieces, args.out, failures, skipped)
    repaired = [p for p in pieces if p.repairs.total]
    print(f'{len(pieces)} pieces, {sum(p.n_notes for p in pieces)} notes, {len(repaired)} repaired → {path}')
    for piece in repaired:
        print(f'  {piece.name}: {piece.repairs}')
    return report_failures(failures, skipped)


if __name__ == '__main__':
    parser = OneLineParser(description=__doc__)
    add_out_argument(parser)
    add_data_arguments(parser)
    sys.exit(run(stage0, parser.parse_args()))
