"""``bach2 chords`` / ``bach2 lines`` / ``bach2 chain``: the journal's road map (issue 7) on the command line.

* ``chords train|evaluate|generate``: the chord-progression model (:mod:`bach2.models.chord_model`);
* ``lines train|evaluate|generate``: a melody over a bass line, or a second melody from a melody
  (:mod:`bach2.models.line_model`);
* ``chain``: progression → bass → melody → second melody, one MIDI (:mod:`bach2.compose.chain`).

Each command parses, calls one library function and prints where the output went.
"""
# Imports of heavy modules are inside the commands, for start-up speed (`bach2 --help` loads no PyTensor or JAX).
import argparse
import pathlib

from bach2.app.arguments import (DEFAULT_DATA, command_parser, count, file_stem, fraction, key, positive, rate, seed,
                                 transpositions)
from bach2.app.output import write_json
from bach2.compose.lines import Sampling
from bach2.render.piece import Output


def add_model_arguments(parser, sequence_length):
    """Training options shared by ``chords train`` and ``lines train``."""
    parser.add_argument('--data', default=DEFAULT_DATA, help='prepared training data (default: %(default)s)')
    parser.add_argument('--out', default='checkpoints', help='checkpoint folder (default: %(default)s)')
    parser.add_argument('--epochs', type=positive, default=5, help='default: %(default)s')
    parser.add_argument('--layers', type=int, choices=(1, 2), default=2, help='LSTM layers (default: %(default)s)')
    parser.add_argument('--hidden', type=positive, default=128, help='units per layer (default: %(default)s)')
    parser.add_argument('--sequence-length', type=positive, default=sequence_length,
                        help='steps per training window (default: %(default)s)')
    parser.add_argument('--batch-size', type=positive, default=32, help='default: %(default)s')
    parser.add_argument('--learning-rate', type=rate, default=0.002, help='Adam (default: %(default)s)')
    parser.add_argument('--max-batches', type=count, default=0, help='batches per epoch, 0 = all')
    parser.add_argument('--transpositions', default='all', help="training keys: 'all' or e.g. 0,5,7")
    parser.add_argument('--valid-fraction', type=fraction, default=0.1,
                        help='share of BWV numbers held out (default: %(default)s)')
    parser.add_argument('--seed', type=seed, default=0)
    parser.add_argument('--metre-input', action=argparse.BooleanOptionalAction, default=True,
                        help='the position of each step in its bar as an input (bach2.music.metre; default: on; '
                        'needs data prepared since the positions are recorded)')


def sequence_config(args, **fields):
    """The options of ``chords train`` / ``lines train`` (and ``fields``) → :class:`SequenceConfig`."""
    from bach2.models.sequence_model import SequenceConfig
    return SequenceConfig(n_layers=args.layers, n_hidden=args.hidden, sequence_length=args.sequence_length,
                          batch_size=args.batch_size, learning_rate=args.learning_rate, **fields)


def training_config(args, out):
    """The options of ``chords train`` / ``lines train``, checkpoint ``out`` → :class:`SequenceTrainingConfig`."""
    from bach2.models.sequence_training import SequenceTrainingConfig      # PyTensor: seconds to import
    return SequenceTrainingConfig(out, data_dir=args.data, epochs=args.epochs, max_batches=args.max_batches,
                                  valid_fraction=args.valid_fraction, seed=args.seed,
                                  transpositions=transpositions(args.transpositions), metre_input=args.metre_input)


# --------------------------------------------------------------------------- chords

def cmd_chords_train(args):
    """Train the chord-progression model (one chord per quarter note, all 12 keys) on prepared data."""
    from bach2.models.chord_model import train_chords
    out = pathlib.Path(args.out) / f'chords_N{args.hidden}_{args.layers}layers.npz'
    train_chords(sequence_config(args), training_config(args, out))
    print(f'checkpoint: {out} (and {out.stem}_best.npz)')
    return 0


def cmd_chords_evaluate(args):
    """NLL per chord on the held-out pieces (original keys) against a bigram and a unigram baseline."""
    from bach2.models.chord_model import evaluate_chords
    result = evaluate_chords(args.checkpoint, args.data, alpha=args.alpha)
    print(f'{result["pieces"]} held-out pieces, {result["tokens"]} chords: NLL per chord (nats) '
          f'model {result["model"]:.3f}, bigram (add-{args.alpha:g}) {result["bigram"]:.3f}, '
          f'unigram {result["unigram"]:.3f}')
    if args.json:
        print(f'written: {write_json(args.json, {"checkpoint": str(args.checkpoint), **result})}')
    return 0


def cmd_chords_generate(args):
    """Generate chord progressions (one chord per quarter note) → .txt of chord symbols and .npz of indices."""
    from bach2.compose.chain import Progression, generate_progression
    for k in range(args.count):
        files, chords = generate_progression(args.checkpoint, Progression(args.chords, args.primer, args.key),
                                             Sampling(temperature=args.temperature, seed=args.seed + k), args.out_dir)
        print(f'{files["txt"]}: ' + ' '.join(files['symbols'][:16]) + (' …' if len(chords) > 16 else ''))
    return 0


def add_chords_command(commands):
    chords = commands.add_parser('chords', help="stage 0 of the journal's road map: chord-progression model",
                                 description='Train, evaluate and sample the chord-progression model.')
    sub = chords.add_subparsers(dest='chords_command', required=True, metavar='ACTION')
    train = command_parser(sub, 'train', cmd_chords_train, cmd_chords_train.__doc__)
    add_model_arguments(train, sequence_length=32)
    evaluate = command_parser(sub, 'evaluate', cmd_chords_evaluate, cmd_chords_evaluate.__doc__)
    evaluate.add_argument('checkpoint', help='a .npz of `bach2 chords train`')
    evaluate.add_argument('--data', help='prepared folder (default: the one it was trained on)')
    evaluate.add_argument('--alpha', type=rate, default=1.0, help='add-alpha smoothing of the baselines '
                          '(default: %(default)s)')
    evaluate.add_argument('--json', help='also write the numbers here')
    generate = command_parser(sub, 'generate', cmd_chords_generate, cmd_chords_generate.__doc__)
    add_progression_arguments(generate)
    generate.add_argument('--count', type=positive, default=1, help='progressions (seeds seed, seed+1, …)')
    generate.add_argument('--out-dir', default='Synthesized_Fugues', help='default: %(default)s')


# --------------------------------------------------------------------------- lines

def cmd_lines_train(args):
    """Train a line model: a melody over a bass line (bass-melody) or a second melody from a melody (melody-second)."""
    from bach2.models.line_model import train_lines
    chords = '_chords' if args.chord_input else ''
    out = pathlib.Path(args.out) / f'lines_{args.pair}{chords}_N{args.hidden}_{args.layers}layers.npz'
    train_lines(sequence_config(args), training_config(args, out), args.pair, args.chord_input)
    print(f'checkpoint: {out} (and {out.stem}_best.npz)')
    return 0


def cmd_lines_evaluate(args):
    """NLL per step on the held-out pieces (original keys) against a count table with the same inputs."""
    from bach2.models.line_model import evaluate_lines
    result = evaluate_lines(args.checkpoint, args.data, alpha=args.alpha)
    print(f'{result["pair"]}: {result["pieces"]} held-out pieces, {result["steps"]} steps: NLL per step (nats) '
          f'model {result["model"]:.3f}, count table (add-{args.alpha:g}) {result["count_baseline"]:.3f}')
    if args.json:
        print(f'written: {write_json(args.json, {"checkpoint": str(args.checkpoint), **result})}')
    return 0


def cmd_lines_generate(args):
    """Generate a line over a given one: the lowest (or highest) line of a MIDI file or a prepared piece."""
    from bach2.compose.chain import lines_over_piece
    files = lines_over_piece(args.checkpoint, args.given, data_dir=args.data, n_steps=args.steps,
                             sampling=Sampling(temperature=args.temperature, seed=args.seed),
                             output=Output(args.out_dir, audio='wav' if args.wav else ''))
    print('written: ' + ', '.join(str(path) for path in files.values()))
    return 0


def add_lines_command(commands):
    lines = commands.add_parser('lines', help="stages 1–2 of the road map: melody over a bass, melody from a melody",
                                description='Train, evaluate and sample the line models.')
    sub = lines.add_subparsers(dest='lines_command', required=True, metavar='ACTION')
    train = command_parser(sub, 'train', cmd_lines_train, cmd_lines_train.__doc__)
    add_model_arguments(train, sequence_length=64)
    train.add_argument('--pair', choices=('bass-melody', 'melody-second'), default='bass-melody',
                       help='given line → generated line (default: %(default)s)')
    train.add_argument('--chord-input', action='store_true',
                       help="the step's chord (stage 2) as a third input, so a progression can steer the line")
    evaluate = command_parser(sub, 'evaluate', cmd_lines_evaluate, cmd_lines_evaluate.__doc__)
    evaluate.add_argument('checkpoint', help='a .npz of `bach2 lines train`')
    evaluate.add_argument('--data', help='prepared folder (default: the one it was trained on)')
    evaluate.add_argument('--alpha', type=rate, default=1.0, help='add-alpha smoothing of the count table')
    evaluate.add_argument('--json', help='also write the numbers here')
    generate = command_parser(sub, 'generate', cmd_lines_generate, cmd_lines_generate.__doc__)
    generate.add_argument('checkpoint', help='a .npz of `bach2 lines train`')
    generate.add_argument('given', help="a MIDI file or a prepared piece's name (in --data): its lowest line "
                          '(bass-melody) or highest line (melody-second) is the given line')
    generate.add_argument('--data', default=DEFAULT_DATA, help='prepared folder for piece names (default: %(default)s)')
    generate.add_argument('--steps', type=count, default=128, help='sixteenths, 0 = the whole piece '
                          '(default: %(default)s)')
    generate.add_argument('--temperature', type=rate, default=1.0)
    generate.add_argument('--seed', type=seed, default=0)
    generate.add_argument('--out-dir', default='Synthesized_Fugues', help='default: %(default)s')
    generate.add_argument('--wav', action=argparse.BooleanOptionalAction, default=False,
                          help='render a WAV too (FluidSynth)')


# --------------------------------------------------------------------------- chain

def cmd_chain(args):
    """Progression → bass line → melody over it → second melody from the melody: one MIDI, a track per voice."""
    from bach2.compose.chain import ChainCheckpoints, Progression, make_chain
    reports = []
    for k in range(args.count):
        result = make_chain(ChainCheckpoints(args.chords_checkpoint, args.melody, args.second, args.bass),
                            Progression(args.chords, args.primer, args.key),
                            Sampling(temperature=args.temperature, seed=args.seed + k),
                            Output(args.out_dir, name=f'{args.name}_seed{args.seed + k}' if args.name else '',
                                   audio='wav' if args.wav else '', musicxml=args.musicxml))
        print('written: ' + ', '.join(str(path) for path in result['files'].values()))
        reports.append(result['report'])
    if args.count > 1:
        print(f'mean over {args.count} pieces: chord agreement '
              f'{sum(r["chord_agreement"] for r in reports) / len(reports):.3f}, '
              f'in key {sum(r["in_key"] for r in reports) / len(reports):.3f}')
    return 0


def add_chain_command(commands):
    chain = command_parser(commands, 'chain', cmd_chain, cmd_chain.__doc__)
    chain.add_argument('chords_checkpoint', metavar='CHORDS.npz', help='a checkpoint of `bach2 chords train`')
    chain.add_argument('--melody', required=True, help='a bass-melody checkpoint of `bach2 lines train`')
    chain.add_argument('--second', required=True, help='a melody-second checkpoint of `bach2 lines train`')
    chain.add_argument('--bass', help='a monophonic checkpoint of `bach2 train --mode monophonic --chord-input`; '
                       "without it the bass plays each chord's root")
    add_progression_arguments(chain, positional=False)
    chain.add_argument('--count', type=positive, default=1, help='pieces (seeds seed, seed+1, …)')
    chain.add_argument('--name', type=file_stem, default='',
                       help='file stem (default: chain_<chord checkpoint>_seed<k>)')
    chain.add_argument('--out-dir', default='Synthesized_Fugues', help='default: %(default)s')
    chain.add_argument('--wav', action=argparse.BooleanOptionalAction, default=False,
                       help='render a WAV too (FluidSynth)')
    chain.add_argument('--musicxml', action='store_true', help='write a MusicXML score too, one part per voice')


def add_progression_arguments(parser, positional=True):
    """The chord checkpoint (``positional``), length, temperature, seed and primer of a generated progression."""
    if positional:
        parser.add_argument('checkpoint', help='a .npz of `bach2 chords train`')
    parser.add_argument('--chords', type=positive, default=32, help='quarter notes to generate (default: %(default)s)')
    parser.add_argument('--temperature', type=rate, default=1.0, help='below 1: safer, above 1: wilder')
    parser.add_argument('--seed', type=seed, default=0)
    parser.add_argument('--primer', default='', help="start from this progression, e.g. 'i iv V7 i' (one chord "
                        'per quarter note, in --key)')
    parser.add_argument('--key', type=key, default='C major', help='key of --primer and of the chord names '
                        '(default: %(default)s)')
