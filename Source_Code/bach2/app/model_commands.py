"""``bach2 train`` (stage 3), ``export`` (a checkpoint to share), ``evaluate`` and ``judge`` (stage 5).

Each command parses, calls one library function and prints where the output went.
"""
# Imports of heavy modules are inside the commands, for start-up speed (`bach2 --help` loads no PyTensor or JAX).
import argparse
import os
import sys

from bach2.app.arguments import DEFAULT_DATA, command_parser, count, decay, fraction, positive, rate, transpositions
from bach2.app.output import report_failures, write_json
from bach2.common import CorpusError
from bach2.data.training_set import prepared_geometry
from bach2.measure.baselines import baseline_report
from bach2.measure.evaluate import evaluate_folder
from bach2.measure.judge import (CopyIndex, bach_split, copy_table, generated_folder, judge_accuracy, load_generated,
                                 work)
from bach2.measure.motifs import MATERIAL
from bach2.measure.music_statistics import format_table, material_by_kind, material_statistics
from bach2.models.checkpoints import export_model
from bach2.models.model_config import (MODELS, ModelConfig, NOTE_COSTS, OPTIMIZER_NAMES, PITCH_ORDERS, TARGETS,
                                       default_metre_input, default_targets)


def add_train_arguments(parser):
    """Hyper-parameters (the journal's names in capitals) and the run settings of stage 3, in the order of
    ``bach2 train --help``."""
    defaults = ModelConfig()
    parser.add_argument('--data', default=DEFAULT_DATA, help='prepared training data (default: %(default)s)')
    parser.add_argument('--out', default='checkpoints', help='checkpoints, CSV log, curve (default: %(default)s)')
    parser.add_argument('--epochs', type=positive, default=10, help='default: %(default)s')
    add_network_arguments(parser, defaults)
    parser.add_argument('--patience', type=count, default=0,
                        help='stop after N epochs without a new best validation NLL, 0 = never (default: %(default)s)')
    add_step_arguments(parser, defaults)
    add_training_set_arguments(parser)
    add_run_arguments(parser)


def add_network_arguments(parser, defaults):
    """The network and its optimiser: --layers … --input-dropout (defaults: ``defaults``, a ModelConfig)."""
    parser.add_argument('--layers', type=int, choices=(1, 2), default=defaults.n_layers, help='LSTM layers')
    parser.add_argument('--hidden', type=positive, default=defaults.n_hidden, help='N units per layer')
    parser.add_argument('--sequence-length', type=positive, default=defaults.sequence_length,
                        help='SEQUENCE_LENGTH in steps (default: %(default)s)')
    parser.add_argument('--batch-size', type=positive, default=defaults.batch_size, help='BATCH_SIZE')
    parser.add_argument('--grad-clipping', type=float, default=defaults.grad_clipping,
                        help='GRAD_CLIPPING on the gate pre-activations; 0 = off (default: %(default)s)')
    parser.add_argument('--optimizer', choices=OPTIMIZER_NAMES, default=defaults.optimizer)
    parser.add_argument('--learning-rate', type=rate, default=defaults.learning_rate)
    parser.add_argument('--chord-weight', type=float, default=defaults.chord_weight,
                        help='λ of the chord cost; 0 = the plain model (default: %(default)s)')
    parser.add_argument('--mode', choices=('polyphonic', 'monophonic'), default=defaults.mode,
                        help='polyphonic: sigmoid per pitch; monophonic: the bass line, softmax')
    parser.add_argument('--model', choices=MODELS, default=defaults.model,
                        help="'lstm': the journal's independent sigmoid per pitch; 'lstm-nade': a NADE over the "
                        'pitches of each step, their joint distribution (default: %(default)s)')
    parser.add_argument('--nade-hidden', type=positive, default=defaults.nade_hidden,
                        help='hidden units of the NADE (default: %(default)s)')
    parser.add_argument('--targets', choices=TARGETS, default=None,
                        help="'last': each window of SEQUENCE_LENGTH steps teaches the step after it (the journal's); "
                        "'all': every step is a target, the LSTM state carried from chunk to chunk of a piece "
                        "(about SEQUENCE_LENGTH× more learning per step) (default: 'all' for lstm-nade, else 'last')")
    parser.add_argument('--dropout', type=fraction, default=defaults.dropout,
                        help='dropout after each LSTM layer, training only (default: %(default)s)')
    parser.add_argument('--input-dropout', type=fraction, default=defaults.input_dropout,
                        help='dropout on the input steps, training only (default: %(default)s)')


def add_step_arguments(parser, defaults):
    """What each step reads and how its cost is counted and recorded: --chord-input … --log-gate-gradients."""
    parser.add_argument('--chord-input', action='store_true',
                        help="append the next step's chord tones to each input step (steer with generate --progression)")
    parser.add_argument('--metre-input', action=argparse.BooleanOptionalAction, default=None,
                        help="append the next step's position in its bar (a binary clock and a downbeat flag, "
                        'from the time signatures) to each input step (default: on for lstm-nade, off for lstm)')
    parser.add_argument('--articulation', action='store_true',
                        help='lstm-nade: model struck and held notes — each step is the pitches sounding, then the '
                        'pitches struck (the onset plane of stage 1), so a repeated note is not a held one')
    parser.add_argument('--pitch-order', choices=PITCH_ORDERS, default=defaults.pitch_order,
                        help="lstm-nade: draw each step's pitches low to high (up), high to low (down: bach2 "
                        'harmonize and fugue can give the top voice exactly), the outer ones first (outside-in) '
                        'or the middle ones first (inside-out) (default: %(default)s)')
    parser.add_argument('--note-cost', choices=NOTE_COSTS, default=defaults.note_cost,
                        help="the note cost: cross-entropy averaged over pitches and examples ('mean', Lasagne's), "
                        "summed over pitches ('sum') or over pitches and examples ('total') (default: %(default)s)")
    parser.add_argument('--log-gate-gradients', action='store_true',
                        help='record, per batch and LSTM layer, the largest gradient reaching the gate '
                        'pre-activations (what GRAD_CLIPPING compares with its bound) in the history')


def add_training_set_arguments(parser):
    """Which steps and keys train and validate: --pad-start, --transpositions, --valid-transpositions,
    --valid-fraction, --seed."""
    parser.add_argument('--pad-start', action='store_true',
                        help='SEQUENCE_LENGTH silent steps before each piece, so every step is a target '
                        '(the JSB Chorales convention: every frame is predicted)')
    parser.add_argument('--transpositions', default='all',
                        help="'all' (sh0…sh11) or a comma list such as 0,5,7 (default: %(default)s)")
    parser.add_argument('--valid-transpositions', default='',
                        help="validate on these instead (e.g. 0: the original keys) (default: as --transpositions)")
    parser.add_argument('--valid-fraction', type=fraction, default=0.1,
                        help='share of BWV numbers held out for validation (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0)


def add_run_arguments(parser):
    """Where and how long it runs: --backend, --device, the crops of quick runs, --plateau-decay, --resume."""
    parser.add_argument('--backend', choices=('auto', 'jax', 'c'), default='auto',
                        help="PyTensor backend: 'jax' (XLA, the LSTM a scan), 'c' (each LSTM layer one fused Op), or "
                             "'auto': c on a CPU where it measured fastest — everywhere with oneDNN's products "
                             "(1.5-2.6x JAX at N = 256 and 768, docs/measured.md), else for last-step targets up to "
                             "256 units — jax otherwise (default: %(default)s)")
    parser.add_argument('--device', choices=('cpu', 'gpu'), default='cpu',
                        help='where JAX runs (gpu needs JAX with CUDA) (default: %(default)s)')
    parser.add_argument('--max-batches', type=count, default=0, help='batches per epoch, 0 = all (quick runs)')
    parser.add_argument('--max-valid-frames', type=count, default=0,
                        help='validate on whole pieces (a fixed random choice) up to N frames, 0 = all')
    parser.add_argument('--piece-steps', type=count, default=0,
                        help='keep the first N steps of each piece (64 = 4 bars of 4/4), 0 = all')
    parser.add_argument('--max-steps', type=count, default=0,
                        help="keep the first N training steps, pieces in order (the journal's [:4800]), 0 = all")
    parser.add_argument('--plateau-decay', type=decay, default=1.0,
                        help='multiply the learning rate by this after each epoch whose validation NLL is no new '
                        'best (default: %(default)s = constant, as the journal)')
    parser.add_argument('--resume', action='store_true', help='continue from the checkpoint in --out')


def training_backend(args, model_config):
    """``--backend``, with 'auto' resolved: the C backend's fused LSTM Op on a CPU where it measured fastest, JAX
    elsewhere (a GPU; --log-gate-gradients, which keeps the scan; no C++ compiler for PyTensor). With oneDNN's
    products (:data:`bach2.nn.gemm.ENGINE`) the Op trains 1.5-2.6x faster than JAX's scan at N = 256 and 768, last
    and every-step targets, and the LSTM-NADE's step 1.1-1.2x (benchmarks/bench_train.py, 7 December); on NumPy's dot
    it was the faster only for last-step targets up to 256 units (1.2-1.5x; at N = 768 JAX's scan measured 1.0-1.3x
    faster, with every-step targets 0.94-1.09x)."""
    if args.backend != 'auto':
        return args.backend
    import pytensor
    from bach2.nn.gemm import ENGINE
    fused_is_faster = bool(pytensor.config.cxx) and (
        ENGINE == 'onednn' or (model_config.targets == 'last' and model_config.n_hidden <= 256))
    return 'c' if args.device == 'cpu' and fused_is_faster and not args.log_gate_gradients else 'jax'


def model_config_from(args, n_pitches, lowest_pitch):
    """The model options of ``bach2 train`` on prepared data of ``n_pitches`` from ``lowest_pitch`` →
    :class:`ModelConfig`; ValueError for options that do not go together."""
    return ModelConfig(n_layers=args.layers, n_hidden=args.hidden, sequence_length=args.sequence_length,
                       batch_size=args.batch_size, grad_clipping=args.grad_clipping,
                       optimizer=args.optimizer, learning_rate=args.learning_rate,
                       chord_weight=args.chord_weight, mode=args.mode, chord_input=args.chord_input,
                       model=args.model, nade_hidden=args.nade_hidden,
                       targets=args.targets or default_targets(args.model),
                       metre_input=default_metre_input(args.model) if args.metre_input is None else args.metre_input,
                       articulation=args.articulation, pitch_order=args.pitch_order, note_cost=args.note_cost,
                       dropout=args.dropout, input_dropout=args.input_dropout, n_pitches=n_pitches,
                       lowest_pitch=lowest_pitch)


def cmd_train(args):
    """Stage 3: train the LSTM on the prepared data; checkpoints, CSV log and curve go to --out."""
    os.environ['JAX_PLATFORMS'] = 'cuda' if args.device == 'gpu' else 'cpu'   # before JAX is imported
    from bach2.train import TrainConfig, train
    shifts = transpositions(args.transpositions)
    valid_shifts = transpositions(args.valid_transpositions) if args.valid_transpositions else ()
    step_ticks, n_pitches, lowest_pitch = prepared_geometry(args.data)
    try:
        model_config = model_config_from(args, n_pitches, lowest_pitch)
    except ValueError as error:          # options that do not go together, e.g. a monophonic NADE
        print(f'bach2 train: error: {error} (see bach2 train --help)', file=sys.stderr)
        return 2
    train_config = TrainConfig(data_dir=args.data, out_dir=args.out, epochs=args.epochs, seed=args.seed,
                               valid_fraction=args.valid_fraction, transpositions=shifts,
                               valid_transpositions=valid_shifts, step_ticks=step_ticks, pad_start=args.pad_start,
                               backend=training_backend(args, model_config), max_batches=args.max_batches,
                               max_valid_frames=args.max_valid_frames, piece_steps=args.piece_steps,
                               max_steps=args.max_steps, plateau_decay=args.plateau_decay,
                               patience=args.patience, log_gate_gradients=args.log_gate_gradients)
    trainer, history = train(model_config, train_config, resume=args.resume)      # TrainingDiverged: see cli.run
    if trainer.valid_set is not None and args.mode == 'polyphonic' and history:
        baselines = baseline_report(trainer)
        print(f'validation NLL per frame: model {history[-1]["valid_nll_per_frame"]:.3f}, '
              f'unigram baseline {baselines["unigram"]:.3f}, repeat baseline {baselines["repeat"]:.3f}')
    return 0


def cmd_export(args):
    """Export a checkpoint to share or ship: its parameters (no optimizer state, no pickle), meta, training log
    and curve, and model.json with the command that trained it and the pieces it saw and held out."""
    path = export_model(args.checkpoint, args.out, args.command, args.temperature)
    print('written: ' + ', '.join(str(p) for p in sorted(path.parent.iterdir())))
    return 0


def cmd_evaluate(args):
    """Stage 5: NLL per frame of a checkpoint on held-out pieces; musical statistics against a corpus."""
    result, rows, failures = evaluate_folder(args.folder, args.checkpoint or [], args.split, args.corpus,
                                             corpus_optional=args.corpus == DEFAULT_DATA, backend=args.backend)
    if args.checkpoint:
        print(f'NLL per frame {result["nll_per_frame"]:.3f} nats over {result["frames"]} frames of '
              f'{result["pieces"]} pieces, each frame from its piece\'s whole past'
              + (f' ({len(result["too_short"])} empty pieces left out)' if result['too_short'] else ''))
    if rows is not None:
        print(format_table(rows))
    print(f'  {write_json(args.json, result)}')
    return report_failures(failures, [])


def cmd_judge(args):
    """Stage 5: can a judge that never saw the model tell 4-bar excerpts of the pieces from held-out
    Bach (cross-validated accuracy: 0.5, it cannot; 1.0, always), and how long is the longest passage each piece
    copies from the training Bach, in any transposition? Bach is split as `bach2 train --seed` splits --corpus."""
    generated_folder(args.folder)
    geometry, held_out, training = bach_split(args.corpus, args.seed, args.valid_fraction)
    pieces, failures = load_generated(args.folder, geometry)
    groups = [[work(name) for name, *_ in side] for side in (pieces, held_out)]      # a BWV work in one fold
    try:
        judge = judge_accuracy([piece[1:] for piece in pieces], [piece[1:] for piece in held_out],
                               geometry.lowest_pitch, groups)
    except ValueError as error:                 # too few excerpts on one side
        raise CorpusError(f'{args.folder}: {error}') from None
    copies = copy_table(pieces, CopyIndex([matrix for _, matrix, *_ in training]), [name for name, *_ in training],
                        args.copy_limit)
    print(f'judge accuracy {judge["accuracy"]:.3f} ± {judge["accuracy_std"]:.3f} (over the folds), '
          f'{judge["excerpts"]} excerpts a side, against {len(held_out)} held-out Bach pieces; 0.5: it cannot tell')
    print('  it leans on ' + ', '.join(f'{name} ({weight:+.2f})' for name, weight in judge['top_features']))
    print(f'longest copy from {len(training)} training pieces: median {copies["median"]:g} steps, max '
          f'{copies["max"]}; {copies["share_over_limit"]:.0%} of {len(pieces)} pieces copy over {args.copy_limit}')
    material = {'pieces': material_statistics(pieces, geometry.lowest_pitch),
                'held-out Bach': material_statistics(held_out, geometry.lowest_pitch),
                **{f'Bach, {kind}s': found for kind, found in
                   material_by_kind(held_out + training, geometry.lowest_pitch).items()}}
    print('their own material, per 4-bar excerpt:')
    print(f'{"":<32}' + ''.join(f'{side:>18}' for side in material))
    for measure in MATERIAL:
        print(f'{measure:<32}' + ''.join('—'.rjust(18) if found[measure] is None else f'{found[measure]:>18.3f}'
                                         for found in material.values()))
    result = {'folder': str(args.folder), 'corpus': str(args.corpus), 'seed': args.seed,
              'valid_fraction': args.valid_fraction, 'held_out': [name for name, *_ in held_out],
              'judge': judge, 'copies': copies, 'material': material,
              'unreadable': [{'file': str(path), 'reason': reason} for path, reason in failures]}
    print(f'  {write_json(args.json, result)}')
    return report_failures(failures, [])


def add_train_command(commands):
    train = command_parser(commands, 'train', cmd_train, 'stage 3: train the LSTM on prepared data')
    add_train_arguments(train)


def add_export_command(commands):
    export = command_parser(commands, 'export', cmd_export,
                            'a checkpoint as a model to share (parameters, log, curve, split)')
    export.add_argument('checkpoint', help='a .npz of `bach2 train` (its training data must still be there: the '
                        'split is written down)')
    export.add_argument('--out', required=True, help='folder to write model.npz, model.json and the log into')
    export.add_argument('--command', default='', help='the command that trained it, recorded in model.json')
    export.add_argument('--temperature', type=rate, default=1.0, help='the sampling temperature to use with it '
                        '(the journey reads it) (default: %(default)s)')


def add_evaluate_command(commands):
    evaluate = command_parser(commands, 'evaluate', cmd_evaluate,
                              'stage 5: NLL on held-out pieces, statistics against a corpus')
    evaluate.add_argument('folder', help='MIDI files (e.g. Synthesized_Fugues, held-out Bach) or a prepared folder')
    evaluate.add_argument('--checkpoint', nargs='+', help='a .npz of `bach2 train`: report its NLL per frame on the '
                          'pieces; several: their ensemble (the mean of their probabilities of each frame)')
    evaluate.add_argument('--split', default='', help="one split of a prepared folder's split.json, e.g. test")
    evaluate.add_argument('--corpus', default=DEFAULT_DATA, help='prepared folder to compare the statistics '
                          'with (default: %(default)s, skipped when it is not prepared)')
    evaluate.add_argument('--json', default='evaluation.json', help='where the results go (default: %(default)s)')
    evaluate.add_argument('--backend', choices=('jax', 'c'), default='jax')


def add_judge_command(commands):
    judge = command_parser(commands, 'judge', cmd_judge,
                           'stage 5: does a judge tell the pieces from Bach; do they copy him')
    judge.add_argument('folder', help='.p files of bach2 generate (the continuations, primer left out), or else '
                       'MIDI files, read whole')
    judge.add_argument('--corpus', default=DEFAULT_DATA, help='prepared folder of held-out and training Bach '
                       '(default: %(default)s)')
    judge.add_argument('--seed', type=int, default=0, help='the seed the model was trained with: its BWV split '
                       '(default: %(default)s)')
    judge.add_argument('--valid-fraction', type=fraction, default=0.1, help='as bach2 train (default: %(default)s)')
    judge.add_argument('--copy-limit', type=positive, default=32, help='copies over this many steps count '
                       '(default: %(default)s, 2 bars)')
    judge.add_argument('--json', default='judge.json', help='where the results go (default: %(default)s)')
