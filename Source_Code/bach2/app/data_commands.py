"""``bach2 prepare`` (stages 0–2), ``inspect`` (stage 0 on files), ``prepare-jsb`` and ``prepare-benchmark``
(the polyphonic benchmarks as prepared folders).

Each command parses, calls one library function and prints where the output went.
"""
# Imports of heavy modules are inside the commands, for start-up speed (`bach2 --help` stays quick).
import os
import pathlib
import sys

from bach2.app.arguments import (add_data_arguments, add_matrix_arguments, add_out_argument, command_parser,
                                 config_from, positive, transpositions)
from bach2.app.output import report_failures
from bach2.common import CorpusError, MIDI_SUFFIXES
from bach2.data.default_corpus import SUBFOLDER, fill_default_corpus, keyboard_corpus
from bach2.data.jsb_chorales import prepare_jsb_chorales
from bach2.data.piece_filters import time_signature_names
from bach2.data.prepare import find_midi_files, piece_key, prepare_training_data
from bach2.midi_to_time_series import MidiFileError, midi_to_time_series
from bach2.music.key_finding import key_name


def resolve_data(args):
    """The MIDI folder to read: --data; with --chorales, music21's Bach converted into OUT/music21_bach/
    (once); else the built-in keyboard corpus."""
    if args.data:
        return args.data
    if not args.chorales:
        return keyboard_corpus()
    _, failed = fill_default_corpus(args.out, limit=args.limit, processes=args.jobs)
    for reason in failed:
        print(f'music21 could not convert {reason}', file=sys.stderr)
    return pathlib.Path(args.out) / SUBFOLDER


def cmd_prepare(args, min_steps=0):
    """Stages 0–2: MIDI folder → time series, pitch matrices, chords, manifest."""
    result = prepare_training_data(resolve_data(args), args.out, config_from(args), processes=args.jobs,
                                   min_steps=min_steps)
    pieces = result['pieces']
    print(f'{len(pieces)} pieces, {sum(p.n_notes for p in pieces)} notes → {args.out}/')
    for path in result['written']:
        print(f'  {path}  ({os.path.getsize(path) / 1e6:.2f} MB)')
    return report_failures(result['failures'], result['skipped'])


def cmd_inspect(args):
    """Stage 0 on files or folders: voices, notes, key, time signatures and the repair report of each."""
    paths = []
    for target in args.paths:
        target = pathlib.Path(target)
        paths += find_midi_files(target) if target.is_dir() else [target]
    failures = []
    for path in paths:
        try:
            piece = midi_to_time_series(path)
        except MidiFileError as error:
            failures.append((str(path), str(error)))
            continue
        print(f'{path}: {len(piece.voices)} voices, {piece.n_notes} notes, {piece.resolution} ticks/quarter, '
              f'{"/".join(sorted(time_signature_names(piece)))}, key {key_name(piece_key(piece)) if piece.n_notes else "-"}'
              f'; repairs: {piece.repairs}')
    return report_failures(failures, [])


def cmd_prepare_jsb(args):
    """The JSB Chorales benchmark (JSON, quarter-note steps) → a prepared folder: 88 keys, split.json."""
    for path in prepare_jsb_chorales(args.json, args.out, transpositions(args.transpositions)):
        print(f'  {path}')
    return 0


def cmd_prepare_benchmark(args):
    """A polyphonic benchmark (.mat: train/valid/test sequences of 88-key frames) → a prepared folder with split.json;
    train on it with `bach2 train --data FOLDER --valid-transpositions 0`, test with `bach2 evaluate FOLDER --split test`."""
    from bach2.data.polyphonic_music import prepare_polyphonic
    try:
        written = prepare_polyphonic(args.set, args.out or f'{pathlib.Path(args.set).stem}_data',
                                     transpositions(args.transpositions), step_ticks=args.step_ticks)
    except ValueError as error:
        raise CorpusError(f'{args.set}: {error}') from None
    for path in written:
        print(f'  {path}')
    return 0


def add_prepare_command(commands):
    prepare = command_parser(commands, 'prepare', cmd_prepare,
                             'stages 0–2: MIDI → time series → pitch matrices → chords')
    add_out_argument(prepare)
    add_data_arguments(prepare)
    add_matrix_arguments(prepare)


def add_inspect_command(commands):
    inspect = command_parser(commands, 'inspect', cmd_inspect, 'stage 0 on MIDI files: notes, key and repair report')
    inspect.add_argument('paths', nargs='+', metavar='PATH', help=f'MIDI files or folders ({", ".join(MIDI_SUFFIXES)})')


def add_prepare_jsb_command(commands):
    prepare_jsb = command_parser(commands, 'prepare-jsb', cmd_prepare_jsb,
                                 'the JSB Chorales benchmark as a prepared folder')
    prepare_jsb.add_argument('json', help='jsb-chorales-quarter.json (the Boulanger-Lewandowski split)')
    prepare_jsb.add_argument('--out', default='jsb_chorales_data', help='default: %(default)s')
    prepare_jsb.add_argument('--transpositions', default='all', help="'all' or a comma list such as 0,5,7 "
                             '(default: %(default)s)')


def add_prepare_benchmark_command(commands):
    benchmark = command_parser(commands, 'prepare-benchmark', cmd_prepare_benchmark,
                               'one of the four polyphonic benchmarks (.mat) as a prepared folder')
    benchmark.add_argument('set', help="jsb, nottingham, musedata or piano-midi (from ../shared/data/polyphonic_music), "
                           'or a .mat file of the same format (frames of --step-ticks)')
    benchmark.add_argument('--out', help='default: <set>_data')
    benchmark.add_argument('--transpositions', default='0', help="'all' or a comma list such as 0,1,2,10,11; every "
                           'set is in C, so other keys are augmentation (default: %(default)s)')
    benchmark.add_argument('--step-ticks', type=positive, help='ticks per frame at 96 per quarter, for a .mat file '
                           '(default: 48, an eighth note)')
