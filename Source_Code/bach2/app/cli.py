"""The ``bach2`` command: ``prepare`` (stages 0–2), ``inspect`` (stage 0 on files), ``train`` (stage 3),
``export`` (a checkpoint to share), ``generate`` (stage 4), ``evaluate`` and ``judge`` (stage 5),
``prepare-jsb`` (the JSB Chorales benchmark),
``listen``, ``look``, ``gallery`` (stage 5: hear and see MIDI files and generated pieces),
``journey`` (all of them on the built-in corpus, small and quick), the journal's road map
(:mod:`bach2.app.roadmap`): ``chords``, ``lines`` and ``chain``, and voices around given lines
(:mod:`bach2.app.voices`): ``harmonize`` and ``fugue``.

Every subcommand has ``--help``; bad input ends in one line on stderr naming
the file and the problem, and a non-zero exit status.
"""
import argparse
import dataclasses
import json
import math
import os
import pathlib
import sys
import time

from bach2 import __version__
from bach2.data.default_corpus import SUBFOLDER, fill_default_corpus, keyboard_corpus
from bach2.midi_to_time_series import MidiFileError, midi_to_time_series
from bach2.models.model_config import (MODELS, NOTE_COSTS, OPTIMIZER_NAMES, PITCH_ORDERS, SAMPLING_RULES, TARGETS,
                                       ModelConfig, default_metre_input, default_targets)
from bach2.common import CheckpointError, TrainingDiverged
from bach2.music.key_finding import key_name
from bach2.render.listen import RenderError, RendererMissing
from bach2.data.prepare import PrepareConfig, find_midi_files, piece_key, prepare_training_data
from bach2.common import MIDI_SUFFIXES, CorpusError
from bach2.data.piece_filters import time_signature_names
from bach2.app.roadmap import add_chain_command, add_chords_commands, add_lines_commands
from bach2.app.voices import add_voice_commands
from bach2.compose.fugue import SubjectError
from bach2.app.arguments import count, decay, fraction, positive, rate, transpositions
from bach2.safe_io import UnsafePickleError, atomic_path

DEFAULT_DATA = 'training_data'


class OneLineParser(argparse.ArgumentParser):
    """argparse with errors in one line: ``bach2 train: error: … (see bach2 train --help)``, exit status 2."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def add_out_argument(parser):
    parser.add_argument('--out', default=DEFAULT_DATA, help='training data folder (default: %(default)s)')


def add_data_arguments(parser):
    """--data, --limit, --jobs, --skip-time-signature, --no-split-movements (stage 0)."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--data', help='folder of .mid/.midi files, searched recursively (default: the built-in '
                        f'corpus of Bach keyboard works, {DEFAULT_DATA}/bach_keyboard/)')
    source.add_argument('--chorales', action='store_true', help="music21's Bach chorales instead (≈ 410, converted "
                        'once into OUT/music21_bach/, about a minute)')
    parser.add_argument('--limit', type=positive, help='with --chorales: convert only the first N of them')
    parser.add_argument('--jobs', type=positive, help='worker processes (default: all cores)')
    parser.add_argument('--skip-time-signature', action='append', default=[], metavar='N/D',
                        help='leave out pieces with this time signature, e.g. 3/4 (repeatable)')
    parser.add_argument('--no-split-movements', action='store_true',
                        help='keep files holding several movements whole')


def add_matrix_arguments(parser):
    """--step-ticks, --lowest-pitch, --n-pitches, --transpose (stages 1–2)."""
    parser.add_argument('--step-ticks', type=positive, default=24,
                        help='one time step in ticks at 96 per quarter note (default: %(default)s = a 16th)')
    parser.add_argument('--lowest-pitch', type=int, default=24, choices=range(0, 128), metavar='0-127',
                        help='MIDI pitch of column 0 (default: %(default)s, the journal\'s two-octave shift)')
    parser.add_argument('--n-pitches', type=positive, default=61, help='pitches per step (default: %(default)s)')
    parser.add_argument('--transpose', choices=('all', 'c'), default='all',
                        help="'all': 12 keys sh0…sh11; 'c': each piece to C major / C minor (default: %(default)s)")


def config_from(args):
    return PrepareConfig(step_ticks=getattr(args, 'step_ticks', 24), lowest_pitch=getattr(args, 'lowest_pitch', 24),
                         n_pitches=getattr(args, 'n_pitches', 61), transpose=getattr(args, 'transpose', 'all'),
                         skip_time_signatures=tuple(getattr(args, 'skip_time_signature', ())),
                         split_movements=not getattr(args, 'no_split_movements', False))


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


def report_failures(failures, skipped):
    """Print bad files and skipped pieces at the end of a folder run; returns the exit status."""
    for name, reason in skipped:
        print(f'skipped {name}: {reason}')
    for _, reason in failures:                  # one line per unreadable file: 'path: problem'
        print(f'bach2: error: {reason}', file=sys.stderr)
    return 1 if failures else 0


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


def add_train_arguments(parser):
    """Hyper-parameters (the journal's names in capitals) and the run settings of stage 3."""
    defaults = ModelConfig()
    parser.add_argument('--data', default=DEFAULT_DATA, help='prepared training data (default: %(default)s)')
    parser.add_argument('--out', default='checkpoints', help='checkpoints, CSV log, curve (default: %(default)s)')
    parser.add_argument('--epochs', type=positive, default=10, help='default: %(default)s')
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
    parser.add_argument('--patience', type=count, default=0,
                        help='stop after N epochs without a new best validation NLL, 0 = never (default: %(default)s)')
    parser.add_argument('--chord-input', action='store_true',
                        help="append the next step's chord tones to each input step (steer with generate --progression)")
    parser.add_argument('--metre-input', action=argparse.BooleanOptionalAction, default=None,
                        help="append the next step's position in its bar (a binary clock and a downbeat flag, "
                        'from the time signatures) to each input step (default: on for lstm-nade, off for lstm)')
    parser.add_argument('--articulation', action='store_true',
                        help='lstm-nade: model struck and held notes — each step is the pitches sounding, then the '
                        'pitches struck (the onset plane of stage 1), so a repeated note is not a held one')
    parser.add_argument('--pitch-order', choices=PITCH_ORDERS, default=defaults.pitch_order,
                        help="lstm-nade: draw each step's pitches low to high (up) or high to low (down), so that "
                        'bach2 harmonize and fugue can give the top voice exactly (default: %(default)s)')
    parser.add_argument('--note-cost', choices=NOTE_COSTS, default=defaults.note_cost,
                        help="the note cost: cross-entropy averaged over pitches and examples ('mean', Lasagne's), "
                        "summed over pitches ('sum') or over pitches and examples ('total') (default: %(default)s)")
    parser.add_argument('--log-gate-gradients', action='store_true',
                        help='record, per batch and LSTM layer, the largest gradient reaching the gate '
                        'pre-activations (what GRAD_CLIPPING compares with its bound) in the history')
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
    parser.add_argument('--backend', choices=('auto', 'jax', 'c'), default='auto',
                        help="PyTensor backend: 'jax' (XLA, the LSTM a scan), 'c' (each LSTM layer one fused Op), or "
                             "'auto': c on a CPU for last-step targets up to 256 units, where it measured fastest "
                             "(1.2-1.5x JAX at N = 256, docs/measured.md), jax otherwise (default: %(default)s)")
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
    """``--backend``, with 'auto' resolved: the C backend's fused LSTM Op on a CPU for last-step targets and up to
    256 units (there the fastest route: 1.2-1.5x JAX at N = 256, benchmarks/bench_train.py), JAX elsewhere (at
    N = 768 JAX's scan measured 1.0-1.3x faster; every-step targets; --log-gate-gradients, which keeps the scan; a
    GPU; no C++ compiler for PyTensor)."""
    if args.backend != 'auto':
        return args.backend
    import pytensor
    fused_is_faster = model_config.targets == 'last' and model_config.n_hidden <= 256 and bool(pytensor.config.cxx)
    return 'c' if args.device == 'cpu' and fused_is_faster and not args.log_gate_gradients else 'jax'


def cmd_train(args):
    """Stage 3: train the LSTM on the prepared data; checkpoints, CSV log and curve go to --out."""
    os.environ['JAX_PLATFORMS'] = 'cuda' if args.device == 'gpu' else 'cpu'   # before JAX is imported
    from bach2.train import TrainConfig, baseline_report, train
    from bach2.data.training_set import prepared_geometry
    shifts = transpositions(args.transpositions)
    valid_shifts = transpositions(args.valid_transpositions) if args.valid_transpositions else ()
    step_ticks, n_pitches, lowest_pitch = prepared_geometry(args.data)
    try:
        model_config = ModelConfig(n_layers=args.layers, n_hidden=args.hidden, sequence_length=args.sequence_length,
                                   batch_size=args.batch_size, grad_clipping=args.grad_clipping,
                                   optimizer=args.optimizer, learning_rate=args.learning_rate,
                                   chord_weight=args.chord_weight, mode=args.mode, chord_input=args.chord_input,
                                   model=args.model, nade_hidden=args.nade_hidden,
                                   targets=args.targets or default_targets(args.model),
                                   metre_input=(default_metre_input(args.model) if args.metre_input is None
                                                else args.metre_input),
                                   articulation=args.articulation, pitch_order=args.pitch_order,
                                   note_cost=args.note_cost,
                                   dropout=args.dropout,
                                   input_dropout=args.input_dropout, n_pitches=n_pitches, lowest_pitch=lowest_pitch)
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
    trainer, history = train(model_config, train_config, resume=args.resume)      # TrainingDiverged: see run()
    if trainer.valid_set is not None and args.mode == 'polyphonic' and history:
        baselines = baseline_report(trainer)
        print(f'validation NLL per frame: model {history[-1]["valid_nll_per_frame"]:.3f}, '
              f'unigram baseline {baselines["unigram"]:.3f}, repeat baseline {baselines["repeat"]:.3f}')
    return 0


def add_generate_arguments(parser, shipped=True):
    """Checkpoint, primer, length, sampling rule, key or progression, output folder (stage 4). Without a
    checkpoint: the shipped model (``bach2 generate``), or the newest in checkpoints/ (``shipped=False``:
    the journal's stage 4, after its stage 3)."""
    parser.add_argument('checkpoint', nargs='?', help='a .npz checkpoint of `bach2 train`, or a folder: its newest '
                        '(default: ' + ('the model shipped with Bach2.0, trained on the built-in corpus)' if shipped
                                        else 'the newest in checkpoints/, what stage 3 wrote)'))
    parser.set_defaults(shipped=shipped)
    parser.add_argument('--data', default=DEFAULT_DATA, help='prepared data for primers and progressions '
                        '(default: %(default)s)')
    parser.add_argument('--out', default='Synthesized_Fugues', help='default: %(default)s')
    parser.add_argument('--primer', default='random', help="a prepared piece's name (e.g. bwv1.6), a MIDI "
                        "file, 'random' or 'silence' (default: %(default)s)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument('--steps', type=positive, default=256, help='sixteenths to generate (default: %(default)s)')
    length.add_argument('--bars', type=positive, help='bars of 4/4 to generate (16 steps each)')
    parser.add_argument('--count', type=positive, default=1, help='pieces, with seeds seed … seed + count − 1')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--rule', choices=SAMPLING_RULES, default='sample',
                        help="'sample' (Bernoulli / softmax), 'threshold' (polyphonic: the journal's p > 0.5), "
                        "'argmax' (monophonic: the journal's) (default: %(default)s)")
    parser.add_argument('--temperature', type=rate, default=1.0, help='divides the logits (default: %(default)s)')
    parser.add_argument('--context', choices=('window', 'carry'), default='',
                        help="'window': every step reads the last SEQUENCE_LENGTH steps from a zero state (the "
                        "journal's); 'carry': the LSTM state is carried, SEQUENCE_LENGTH× faster (default: as the "
                        "model trained: 'window' for --targets last, 'carry' for --targets all)")
    parser.add_argument('--key', type=_key, help="e.g. 'D minor' or 'Bb major': transpose the result "
                        'there; with --progression, the key of the progression')
    parser.add_argument('--progression', default='', help="models trained with --chord-input: Roman numerals "
                        "such as 'i iv V7 i' (cycled) or 'piece:<name>' (a prepared piece's chords)")
    parser.add_argument('--beats-per-chord', type=positive, default=4, help='quarter notes per chord (default: 4)')
    parser.add_argument('--tempo', type=rate, default=100.0, help='quarter notes per minute (default: %(default)s)')
    parser.add_argument('--backend', choices=('jax', 'c'), default='jax')
    parser.add_argument('--name', default='', help='file stem (default: fugue_N<hidden>epoch<epoch>[_seed<k>])')
    audio = parser.add_mutually_exclusive_group()
    audio.add_argument('--audio', nargs='?', const='wav', choices=('wav', 'ogg'), default='',
                       help='also render each piece to audio beside its MIDI (FluidSynth; default: wav)')
    audio.add_argument('--wav', dest='audio', action='store_const', const='wav', help='same as --audio wav')
    parser.add_argument('--musicxml', action='store_true', help='write a MusicXML score of each piece too (a piano '
                        'grand staff; music21)')
    parser.add_argument('--no-gallery', action='store_true', help='do not refresh OUT/index.html (the gallery)')


def _key(text):
    from bach2.music.progressions import parse_key
    try:
        parse_key(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error))
    return text


def newest_checkpoint(folder='checkpoints'):
    """The most recently written ``.npz`` in ``folder``; CheckpointError when there is none."""
    found = sorted(pathlib.Path(folder).glob('*.npz'), key=lambda path: path.stat().st_mtime)
    if not found:
        raise CheckpointError(f'{folder}/: no checkpoint; train one with `bach2 train` or name one')
    return str(found[-1])


def generate_configs(args):
    """One :class:`GenerateConfig` per piece asked for (``--count``)."""
    from bach2.compose.generate import SHIPPED_MODEL, GenerateConfig
    from bach2.music.progressions import parse_progression
    if args.progression and not args.progression.startswith('piece:'):
        try:
            parse_progression(args.progression, args.key or 'C major')
        except ValueError as error:
            raise CorpusError(f'--progression: {error}') from None
    checkpoint = args.checkpoint or (str(SHIPPED_MODEL) if args.shipped else newest_checkpoint())
    if os.path.isdir(checkpoint):
        checkpoint = newest_checkpoint(checkpoint)
    n_steps = args.bars * 16 if args.bars else args.steps
    return [GenerateConfig(checkpoint=checkpoint, data_dir=args.data, out_dir=args.out, primer=args.primer,
                           n_steps=n_steps, seed=args.seed + k, rule=args.rule, temperature=args.temperature,
                           context=args.context, key=args.key or '', progression=args.progression,
                           beats_per_chord=args.beats_per_chord, tempo_bpm=args.tempo, backend=args.backend,
                           name=f'{args.name}_{k}' if args.name and args.count > 1 else args.name,
                           audio=args.audio, musicxml=args.musicxml)
            for k in range(args.count)]


def cmd_generate(args):
    """Stage 4: continue a primer with a trained model → .mid, .p (pitch matrix), .png (and .wav) in --out;
    then refresh the gallery, --out/index.html."""
    from bach2.compose.generate import generate_a_fugue
    sampler = None
    configs = generate_configs(args)
    if args.audio and not _renderer_or_say_so():
        configs = [dataclasses.replace(config, audio='') for config in configs]
    for config in configs:
        try:
            result = generate_a_fugue(config, sampler=sampler)
        except ValueError as error:                 # a rule that does not fit the model, a bad primer …
            raise CorpusError(f'{config.checkpoint}: {error}') from None
        sampler = result['sampler']
        for path in result['files'].values():
            print(f'  {path}')
    if not args.no_gallery:
        refresh_gallery(args.out, args.data)
    return 0


def cmd_export(args):
    """Export a checkpoint to share or ship: its parameters (no optimizer state, no pickle), meta, training log
    and curve, and model.json with the command that trained it and the pieces it saw and held out."""
    from bach2.train import export_model
    path = export_model(args.checkpoint, args.out, args.command, args.temperature)
    print('written: ' + ', '.join(str(p) for p in sorted(path.parent.iterdir())))
    return 0


def cmd_prepare_jsb(args):
    """The JSB Chorales benchmark (JSON, quarter-note steps) → a prepared folder: 88 keys, split.json."""
    from bach2.data.jsb_chorales import prepare_jsb_chorales
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


def cmd_evaluate(args):
    """Stage 5: NLL per frame of a checkpoint on held-out pieces; musical statistics against a corpus."""
    from bach2.measure.evaluate import Geometry, checkpoint_geometry, checkpoint_nll, is_prepared, load_pieces
    from bach2.data.training_set import prepared_geometry
    from bach2.compose.generate import load_model
    from bach2.measure.music_statistics import compare, format_table, music_statistics
    geometry = corpus = None
    articulation = False                   # the checkpoints read struck notes too: their pieces are 2P wide
    if args.checkpoint:
        loaded = {checkpoint: load_model(checkpoint) for checkpoint in args.checkpoint}
        geometries = {checkpoint: (checkpoint_geometry(meta), config.articulation)
                      for checkpoint, (config, _, meta) in loaded.items()}
        geometry, articulation = geometries[args.checkpoint[0]]
        for checkpoint, other in geometries.items():
            if other != (geometry, articulation):
                raise CheckpointError(f'{checkpoint}: trained on {other[0]}, articulation {other[1]}; '
                                      f'{args.checkpoint[0]} on {geometry}, articulation {articulation}')
    if args.corpus and is_prepared(args.corpus):
        other_default = (args.corpus == DEFAULT_DATA and geometry is not None
                         and Geometry(*prepared_geometry(args.corpus)) != geometry)
        if not other_default:           # load_pieces refuses a --corpus of another geometry than the model's
            geometry, corpus_pieces, _ = load_pieces(args.corpus, geometry, progress=False)
            corpus = music_statistics([m for m, *_ in corpus_pieces], geometry.lowest_pitch,
                                      geometry.steps_per_quarter, [p for *_, p in corpus_pieces])
    elif args.corpus != DEFAULT_DATA:
        raise CorpusError(f'{args.corpus}: not a prepared folder (run `bach2 prepare --out {args.corpus}` first)')
    geometry, pieces, failures = load_pieces(args.folder, geometry, args.split, articulation=articulation)
    result = {'folder': str(args.folder), 'split': args.split, 'pieces': len(pieces),
              'unreadable': [{'file': path, 'reason': reason} for path, reason in failures]}
    if args.checkpoint:
        result['checkpoint'] = args.checkpoint[0] if len(args.checkpoint) == 1 else args.checkpoint
        result.update(checkpoint_nll(args.checkpoint, pieces, args.backend))
        print(f'NLL per frame {result["nll_per_frame"]:.3f} nats over {result["frames"]} frames of '
              f'{result["pieces"]} pieces, each frame from its piece\'s whole past'
              + (f' ({len(result["too_short"])} empty pieces left out)' if result['too_short'] else ''))
    result['statistics'] = music_statistics([m[:, :geometry.n_pitches] for m, *_ in pieces], geometry.lowest_pitch,
                                            geometry.steps_per_quarter, [p for *_, p in pieces])
    if corpus is not None:
        result['corpus'], result['corpus_statistics'] = args.corpus, corpus
        rows = compare(result['statistics'], corpus)
        result['comparison'] = {name: distance for name, _, _, distance in rows}
        print(format_table(rows))
    with atomic_path(args.json) as temporary, open(temporary, 'w') as handle:
        json.dump(result, handle, indent=1)
    print(f'  {args.json}')
    return report_failures(failures, [])


def cmd_judge(args):
    """Stage 5: can a judge that never saw the model tell 4-bar excerpts of the pieces from held-out
    Bach (cross-validated accuracy: 0.5, it cannot; 1.0, always), and how long is the longest passage each piece
    copies from the training Bach, in any transposition? Bach is split as `bach2 train --seed` splits --corpus."""
    from bach2.measure.judge import CopyIndex, bach_split, copy_table, judge_accuracy, load_generated, work
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
    result = {'folder': str(args.folder), 'corpus': str(args.corpus), 'seed': args.seed,
              'valid_fraction': args.valid_fraction, 'held_out': [name for name, *_ in held_out],
              'judge': judge, 'copies': copies,
              'unreadable': [{'file': str(path), 'reason': reason} for path, reason in failures]}
    with atomic_path(args.json) as temporary, open(temporary, 'w') as handle:
        json.dump(result, handle, indent=1)
    print(f'  {args.json}')
    return report_failures(failures, [])


def _renderer_or_say_so():
    """True when FluidSynth and a soundfont are installed; else print once what to install."""
    from bach2.render.listen import find_renderer
    try:
        find_renderer()
        return True
    except RendererMissing as error:
        print(f'no audio: {error}')
        return False


def refresh_gallery(folder, corpus_dir):
    """Rewrite ``folder/index.html`` and say where it is."""
    from bach2.render.gallery import write_gallery
    print(f'gallery: {write_gallery(folder, corpus_dir)}')


def shipped_pieces(args, audio, count=2):
    """The journey's first pieces: the shipped model continues ``count`` pieces it never trained on (its
    held-out pieces that ``args.out`` holds, else random ones) at the temperature recorded with it; a model
    that does not fit the prepared data is skipped with a line that says why."""
    from bach2.compose.generate import SHIPPED_MODEL, GenerateConfig, generate_a_fugue, load_model
    from bach2.data.training_set import piece_names
    try:
        _, _, meta = load_model(SHIPPED_MODEL)
        prepared = set(piece_names(args.out))
        primers = [name for name in meta.get('held_out', []) if name in prepared][:count]
        sampler = None
        for k in range(count):
            primer = primers[k] if k < len(primers) else 'random'
            result = generate_a_fugue(GenerateConfig(
                checkpoint=str(SHIPPED_MODEL), data_dir=args.out, out_dir=args.fugues, primer=primer, n_steps=256,
                seed=k, temperature=meta.get('temperature', 1.0), name=f'shipped_{k}_{primer}', audio=audio),
                sampler=sampler)
            sampler = result['sampler']
            for path in result['files'].values():
                print(f'  {path}')
    except (CheckpointError, CorpusError, ValueError) as error:
        print(f'the shipped model is skipped: {error}')


def shipped_exposition(args, audio):
    """The journey's fugue: the shipped pair of models writes an exposition on the subject of the first
    held-out fugue of 3 or 4 voices that ``args.out`` holds; skipped with a line that says why otherwise."""
    import numpy as np
    from bach2.compose.fugue import compose, subject_of
    from bach2.compose.generate import SHIPPED_MODELS, load_model
    from bach2.compose.harmonize import load_samplers
    from bach2.data.training_set import load_piece, piece_names
    try:
        samplers, geometry = load_samplers(SHIPPED_MODELS)
        _, _, meta = load_model(SHIPPED_MODELS['up'])
        prepared, P = set(piece_names(args.out)), geometry.n_pitches
        for name in (name for name in meta.get('held_out', []) if '_fugue_' in name and name in prepared):
            matrix, _, positions = load_piece(args.out, name, positions=True, articulation=True)
            found = positions is not None and subject_of(matrix[:, :P], positions, matrix[:, P:])
            if found:
                break
        else:
            raise CorpusError(f'{args.out}: none of the held-out fugues is prepared here with its onsets')
        line, struck, subject_positions, voices, _ = found
        files, report = compose(samplers, geometry, np.where(line >= 0, line + geometry.lowest_pitch, -1), struck,
                                subject_positions, voices, temperature=meta.get('temperature', 1.0),
                                out_dir=args.fugues, audio=audio, name=f'shipped_exposition_{name}')
        print(f'  on the subject of {name}, {voices} voices, {report["key"]}: entries intact '
              f'{report["entries_intact"]:.0%}')
        for path in files.values():
            print(f'  {path}')
    except (CheckpointError, CorpusError, ValueError) as error:
        print(f'the fugue exposition is skipped: {error}')


def cmd_journey(args):
    """The whole journey on the built-in corpus: prepare → two pieces and a fugue exposition of the shipped models
    → train a small model of the journal → its pieces → MIDI, PNG (and WAV) and the gallery."""
    from bach2.compose.generate import GenerateConfig, generate_a_fugue
    from bach2.train import TrainConfig, checkpoint_path, train
    model_config = ModelConfig(n_hidden=128, optimizer='adam', learning_rate=0.002)
    print('stages 0–2: prepare the training data')
    status = cmd_prepare(args, min_steps=model_config.sequence_length + 1)   # pieces that give a window
    audio = 'wav' if _renderer_or_say_so() else ''
    print('stage 4 with the model shipped with Bach2.0 (trained on the built-in corpus): two pieces')
    shipped_pieces(args, audio)
    print('a fugue exposition by the shipped models (bach2 fugue) on the subject of a fugue they never trained on')
    shipped_exposition(args, audio)
    print('stage 3: train a small model of the journal (2 × 128 units)')
    train_config = TrainConfig(data_dir=args.out, out_dir=args.checkpoints, epochs=args.epochs,
                               max_batches=args.max_batches, max_valid_frames=4000)
    train(model_config, train_config)
    print('stage 4: generate')
    sampler = None
    for seed in range(2):
        result = generate_a_fugue(GenerateConfig(checkpoint=str(checkpoint_path(train_config, model_config)),
                                                 data_dir=args.out, out_dir=args.fugues, n_steps=256, seed=seed,
                                                 temperature=args.temperature, audio=audio), sampler=sampler)
        sampler = result['sampler']
        for path in result['files'].values():
            print(f'  {path}')
    refresh_gallery(args.fugues, args.out)
    return status


def cmd_studio(args):
    """Serve the studio, a page to try Bach2.0 without a terminal: pick a model, continue a primer, harmonize
    an uploaded melody or write a fugue exposition; see the piano roll, listen, download MIDI and MusicXML."""
    from bach2.app.studio import Studio, create_app
    if not 0 <= args.port <= 65535:
        raise CorpusError(f'--port {args.port}: not a port (0–65535)')
    app = create_app(Studio(args.out_dir, args.checkpoints))
    print(f'Bach2.0 studio: http://{args.host}:{args.port}/  (Ctrl-C stops it; pieces go to {args.out_dir})')
    app.run(host=args.host, port=args.port, threaded=True)
    return 0


def cmd_listen(args):
    """Render a MIDI file to WAV or OGG with FluidSynth (peak at −1 dBFS) beside it or at -o."""
    from bach2.render.listen import audio_levels, render_midi
    start = time.perf_counter()
    result = render_midi(args.file, args.output, soundfont=args.soundfont)
    seconds = time.perf_counter() - start
    levels = ''
    if result['path'].lower().endswith('.wav'):
        found = audio_levels(result['path'])
        levels = (f'{found["seconds"]:.1f} s of audio, peak {_dbfs(found["peak"]):.1f} dBFS, '
                  f'RMS {_dbfs(found["rms"]):.1f} dBFS, ')
    print(f'{result["path"]}  ({levels}gain {result["gain"]:.2f}, {os.path.basename(result["soundfont"])}, '
          f'rendered in {seconds:.1f} s)')
    return 0


def cmd_look(args):
    """Draw a MIDI file or pickled pitch matrix as a piano roll with its stage-2 chords (PNG);
    with --windows, the journal's figure of how X windows and Y targets are cut from pitch matrices."""
    if args.windows:
        return _look_windows(args)
    from bach2.render.look import look
    for path in args.files:
        out = args.output if args.output and len(args.files) == 1 else None
        print(look(path, out, piece=args.piece))
    return 0


def _look_windows(args):
    from bach2.render.look import look_windows
    print(look_windows(args.files, args.output or 'pitch_matrix_windows.png', args.sequence_length, args.piece))
    return 0


def cmd_gallery(args):
    """Write FOLDER/index.html: every generated piece's piano roll, audio player, statistics and MIDI link."""
    refresh_gallery(args.folder, args.corpus)
    return 0


def _dbfs(level):
    return 20 * math.log10(level) if level > 0 else float('-inf')


def build_parser():
    parser = OneLineParser(prog='bach2', description="Bach2.0: learn Bach's counterpoint from MIDI "
                                     'and write new fugues.')
    parser.add_argument('--version', action='version', version=f'bach2 {__version__}')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    prepare = commands.add_parser('prepare', help='stages 0–2: MIDI → time series → pitch matrices → chords',
                                  description=cmd_prepare.__doc__)
    add_out_argument(prepare)
    add_data_arguments(prepare)
    add_matrix_arguments(prepare)
    prepare.set_defaults(run=cmd_prepare)
    inspect = commands.add_parser('inspect', help='stage 0 on MIDI files: notes, key and repair report',
                                  description=cmd_inspect.__doc__)
    inspect.add_argument('paths', nargs='+', metavar='PATH', help=f'MIDI files or folders ({", ".join(MIDI_SUFFIXES)})')
    inspect.set_defaults(run=cmd_inspect)
    train = commands.add_parser('train', help='stage 3: train the LSTM on prepared data',
                                description=cmd_train.__doc__)
    add_train_arguments(train)
    train.set_defaults(run=cmd_train)
    generate = commands.add_parser('generate', help='stage 4: write new pieces with a trained model',
                                   description=cmd_generate.__doc__)
    add_generate_arguments(generate)
    generate.set_defaults(run=cmd_generate)
    export = commands.add_parser('export', help='a checkpoint as a model to share (parameters, log, curve, split)',
                                 description=cmd_export.__doc__)
    export.add_argument('checkpoint', help='a .npz of `bach2 train` (its training data must still be there: the '
                        'split is written down)')
    export.add_argument('--out', required=True, help='folder to write model.npz, model.json and the log into')
    export.add_argument('--command', default='', help='the command that trained it, recorded in model.json')
    export.add_argument('--temperature', type=rate, default=1.0, help='the sampling temperature to use with it '
                        '(the journey reads it) (default: %(default)s)')
    export.set_defaults(run=cmd_export)
    prepare_jsb = commands.add_parser('prepare-jsb', help='the JSB Chorales benchmark as a prepared folder',
                                      description=cmd_prepare_jsb.__doc__)
    prepare_jsb.add_argument('json', help='jsb-chorales-quarter.json (the Boulanger-Lewandowski split)')
    prepare_jsb.add_argument('--out', default='jsb_chorales_data', help='default: %(default)s')
    prepare_jsb.add_argument('--transpositions', default='all', help="'all' or a comma list such as 0,5,7 "
                             '(default: %(default)s)')
    prepare_jsb.set_defaults(run=cmd_prepare_jsb)
    benchmark = commands.add_parser('prepare-benchmark', help='one of the four polyphonic benchmarks (.mat) as a '
                                    'prepared folder', description=cmd_prepare_benchmark.__doc__)
    benchmark.add_argument('set', help="jsb, nottingham, musedata or piano-midi (from ../shared/data/polyphonic_music), "
                           'or a .mat file of the same format (frames of --step-ticks)')
    benchmark.add_argument('--out', help='default: <set>_data')
    benchmark.add_argument('--transpositions', default='0', help="'all' or a comma list such as 0,1,2,10,11; every "
                           'set is in C, so other keys are augmentation (default: %(default)s)')
    benchmark.add_argument('--step-ticks', type=positive, help='ticks per frame at 96 per quarter, for a .mat file '
                           '(default: 48, an eighth note)')
    benchmark.set_defaults(run=cmd_prepare_benchmark)
    evaluate = commands.add_parser('evaluate', help='stage 5: NLL on held-out pieces, statistics against a corpus',
                                   description=cmd_evaluate.__doc__)
    evaluate.add_argument('folder', help='MIDI files (e.g. Synthesized_Fugues, held-out Bach) or a prepared folder')
    evaluate.add_argument('--checkpoint', nargs='+', help='a .npz of `bach2 train`: report its NLL per frame on the '
                          'pieces; several: their ensemble (the mean of their probabilities of each frame)')
    evaluate.add_argument('--split', default='', help="one split of a prepared folder's split.json, e.g. test")
    evaluate.add_argument('--corpus', default=DEFAULT_DATA, help='prepared folder to compare the statistics '
                          'with (default: %(default)s, skipped when it is not prepared)')
    evaluate.add_argument('--json', default='evaluation.json', help='where the results go (default: %(default)s)')
    evaluate.add_argument('--backend', choices=('jax', 'c'), default='jax')
    evaluate.set_defaults(run=cmd_evaluate)
    judge = commands.add_parser('judge', help='stage 5: does a judge tell the pieces from Bach; do they copy him',
                                description=cmd_judge.__doc__)
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
    judge.set_defaults(run=cmd_judge)
    journey = commands.add_parser('journey', help='the main job: prepare, the shipped model writes, a small model trains and writes',
                                  description=cmd_journey.__doc__)
    add_out_argument(journey)
    add_data_arguments(journey)
    add_matrix_arguments(journey)
    journey.add_argument('--checkpoints', default='checkpoints', help='default: %(default)s')
    journey.add_argument('--fugues', default='Synthesized_Fugues', help='default: %(default)s')
    journey.add_argument('--epochs', type=positive, default=3, help='default: %(default)s')
    journey.add_argument('--max-batches', type=count, default=150, help='per epoch (default: %(default)s)')
    journey.add_argument('--temperature', type=rate, default=0.7, help='of the samples (default: %(default)s)')
    journey.set_defaults(run=cmd_journey)
    listen = commands.add_parser('listen', help='render a MIDI file to WAV or OGG (FluidSynth)',
                                 description=cmd_listen.__doc__)
    listen.add_argument('file', metavar='FILE.mid', help='a MIDI file')
    listen.add_argument('-o', '--output', metavar='OUT.wav|OUT.ogg',
                        help='audio file to write (default: FILE.wav beside FILE.mid)')
    listen.add_argument('--soundfont', metavar='SF2', help='a General MIDI .sf2 (default: the first of '
                        '/usr/share/sounds/sf2/TimGM6mb.sf2, FluidR3_GM.sf2, default-GM.sf2)')
    listen.set_defaults(run=cmd_listen)
    look = commands.add_parser('look', help='piano roll with chords (PNG) of a MIDI file or pitch matrix',
                               description=cmd_look.__doc__)
    look.add_argument('files', nargs='+', metavar='FILE', help='.mid/.midi, a .p of `bach2 generate`, or a '
                      'stage-1 pitch_matrix_*.p')
    look.add_argument('-o', '--output', metavar='OUT.png', help='default: FILE_roll.png beside FILE '
                      '(--windows: pitch_matrix_windows.png)')
    look.add_argument('--piece', help='the piece to draw from a stage-1 pickle (default: its first)')
    look.add_argument('--windows', action='store_true', help='draw how X windows and Y targets are cut from '
                      'the pieces (a stage-1 pickle: its first two)')
    look.add_argument('--sequence-length', type=positive, default=16,
                      help='SEQUENCE_LENGTH of the --windows figure (default: %(default)s)')
    look.set_defaults(run=cmd_look)
    gallery = commands.add_parser('gallery', help='write FOLDER/index.html of the generated pieces',
                                  description=cmd_gallery.__doc__)
    gallery.add_argument('folder', nargs='?', default='Synthesized_Fugues', metavar='FOLDER',
                         help='default: %(default)s')
    gallery.add_argument('--corpus', default=DEFAULT_DATA, help='prepared data to compare pitch classes with '
                         '(default: %(default)s; skipped when absent)')
    gallery.set_defaults(run=cmd_gallery)
    add_chords_commands(commands)
    add_lines_commands(commands)
    add_chain_command(commands)
    add_voice_commands(commands)
    studio = commands.add_parser('studio', help='Bach2.0 in the browser: continue, harmonize, write a fugue',
                                 description=cmd_studio.__doc__)
    studio.add_argument('--host', default='127.0.0.1', help='address to serve on (default: %(default)s, this machine '
                        'only; 0.0.0.0 opens the studio to every machine that can reach this one — it has no login)')
    studio.add_argument('--port', type=int, default=7860, help='default: %(default)s')
    studio.add_argument('--out-dir', default='Synthesized_Fugues/studio', help='where the pieces go '
                        '(default: %(default)s)')
    studio.add_argument('--checkpoints', default='checkpoints', help='its .npz files are offered as models beside '
                        'the shipped one (default: %(default)s)')
    studio.set_defaults(run=cmd_studio)
    parser.command_parsers = commands.choices
    return parser


def run(function, args):
    """Run a command; project errors and refused file operations become one line on stderr, exit status 2."""
    try:
        return function(args)
    except (CorpusError, MidiFileError, UnsafePickleError, CheckpointError, RendererMissing, RenderError,
            SubjectError) as error:
        print(f'bach2: error: {error}', file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f'bach2: training stopped: {error}', file=sys.stderr)
        return 3
    except OSError as error:                    # e.g. --out is a file, or a folder we may not write
        where = f'{error.filename}: ' if error.filename is not None else ''
        print(f'bach2: error: {where}{error.strerror or error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('bach2: interrupted; files already written are whole, the one being written was discarded',
              file=sys.stderr)
        return 130


def main(argv=None):
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:                                 # the error names the command they were given to
        parser.command_parsers[args.command].error(f'unrecognized arguments: {" ".join(unknown)}')
    return run(args.run, args)


if __name__ == '__main__':
    sys.exit(main())
