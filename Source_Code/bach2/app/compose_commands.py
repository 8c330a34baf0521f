"""``bach2 generate`` (stage 4: continue a primer), ``harmonize`` and ``fugue`` (voices written around lines
given note for note).

* ``generate``: :func:`bach2.compose.generate.generate_a_fugue`, once per seed;
* ``harmonize MELODY.mid --voice soprano|alto|…``: the other voices around given ones, a lone soprano or bass by
  the LSTM-NADE (:func:`bach2.compose.harmonize.harmonize`), any others by the voice model
  (:func:`bach2.compose.voice_writing.harmonize_file`);
* ``rewrite PIECE.mid --bars 5-8 [--voices alto,tenor]``: a passage written again by the voice model, the rest
  kept (:func:`bach2.compose.voice_writing.rewrite_file`);
* ``fugue SUBJECT``: a whole fugue on a subject, planned and written by the voice model
  (:func:`bach2.compose.fugue_form.write_whole_fugue`), or with ``--form exposition`` an exposition and a free
  continuation (:func:`bach2.compose.fugue.write_fugue`);
* ``complete PIECE.mid``: an unfinished piece continued in its voices to a cadence on its tonic
  (:func:`bach2.compose.voice_writing.complete_file`).

Harmonize and fugue write one MIDI track per voice, a ``.p`` record, a piano roll, where FluidSynth is
installed a WAV, and with ``--musicxml`` a score. Each command parses, calls one library function and prints
where the output went.
"""
# Imports of heavy modules are inside the commands, for start-up speed (`bach2 --help` loads no PyTensor or JAX).
import argparse
import contextlib
import dataclasses
import os
import pathlib

from bach2.app.arguments import DEFAULT_DATA, command_parser, file_stem, key, positive, rate, seed
from bach2.app.output import refresh_gallery, renderer_or_say_so
from bach2.common import CheckpointError, CorpusError
from bach2.compose.fugue import MAX_FREE_BARS, Form, SubjectError, write_fugue, write_voice_fugue
from bach2.compose.generate import GenerateConfig, generate_a_fugue
from bach2.compose.harmonize import harmonize
from bach2.compose.lines import Sampling
from bach2.models.checkpoints import SHIPPED_MODEL
from bach2.models.model_config import SAMPLING_RULES
from bach2.music.progressions import parse_progression
from bach2.render.listen import renderer_available
from bach2.render.piece import Output

DEFAULT_OUT = 'Synthesized_Fugues'


# --------------------------------------------------------------------------- generate

def add_out_dir_argument(parser, dest='out_dir', metavar=None):
    """--out-dir, the folder the pieces are written to, the spelling of every composing command (``--out``: a
    hidden alias, as ``generate`` spelled it before)."""
    parser.add_argument('--out-dir', dest=dest, metavar=metavar, default=DEFAULT_OUT,
                        help='folder the pieces are written to (default: %(default)s)')
    parser.add_argument('--out', dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_generate_arguments(parser, shipped=True):
    """Checkpoint, primer, length, sampling rule, key or progression, output folder (stage 4). Without a
    checkpoint: the shipped models (``bach2 generate``: :func:`plays_voices` says which), or the newest in
    checkpoints/ (``shipped=False``: the journal's stage 4, after its stage 3)."""
    parser.add_argument('checkpoint', nargs='?', help='a .npz checkpoint of `bach2 train`, or a folder: its newest '
                        '(default: ' + ('the voice model shipped with Bach2.0, trained on the built-in corpus; '
                                        'with --model lstm-nade the LSTM-NADE shipped beside it; with --voices or '
                                        '--model voices a checkpoint is one of bach2 voices train)' if shipped
                                        else 'the newest in checkpoints/, what stage 3 wrote)'))
    parser.set_defaults(shipped=shipped)
    parser.add_argument('--data', default=DEFAULT_DATA, help='prepared data for primers and progressions '
                        '(default: %(default)s)')
    add_out_dir_argument(parser, dest='out', metavar='OUT_DIR')
    parser.add_argument('--primer', default='random', help="a prepared piece's name (e.g. bwv1.6), a MIDI "
                        "file, 'random' or 'silence' (default: %(default)s)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument('--steps', type=positive, default=256, help='sixteenths to generate (default: %(default)s)')
    length.add_argument('--bars', type=positive, help='bars of 4/4 to generate (16 steps each)')
    parser.add_argument('--count', type=positive, default=1, help='pieces, with seeds seed … seed + count − 1')
    parser.add_argument('--seed', type=seed, default=0, help='the first seed (default: %(default)s)')
    add_sampling_arguments(parser)
    parser.add_argument('--name', type=file_stem, default='',
                        help='file stem (default: fugue_N<hidden>epoch<epoch>[_seed<k>])')
    audio = parser.add_mutually_exclusive_group()
    audio.add_argument('--wav', dest='audio', action='store_const', const='wav', default='',
                       help='render a WAV of each piece beside its MIDI (FluidSynth)')
    audio.add_argument('--no-wav', dest='audio', action='store_const', const='', help='no audio (the default)')
    audio.add_argument('--audio', nargs='?', const='wav', choices=('wav', 'ogg'),
                       help='render audio in this format: wav (as --wav) or ogg')
    parser.add_argument('--musicxml', action='store_true', help='write a MusicXML score of each piece too (a piano '
                        'grand staff; music21)')
    parser.add_argument('--no-gallery', action='store_true', help='do not refresh OUT_DIR/index.html (the gallery)')


def add_sampling_arguments(parser):
    """How ``generate`` draws and in what key: --rule … --backend."""
    parser.add_argument('--rule', choices=SAMPLING_RULES, default='sample',
                        help="'sample' (Bernoulli / softmax), 'threshold' (polyphonic: the journal's p > 0.5), "
                        "'argmax' (monophonic: the journal's) (default: %(default)s)")
    parser.add_argument('--temperature', type=rate, default=1.0, help='divides the logits (default: %(default)s)')
    parser.add_argument('--context', choices=('window', 'carry'), default='',
                        help="'window': every step reads the last SEQUENCE_LENGTH steps from a zero state (the "
                        "journal's); 'carry': the LSTM state is carried, SEQUENCE_LENGTH× faster (default: as the "
                        "model trained: 'window' for --targets last, 'carry' for --targets all)")
    parser.add_argument('--key', type=key, help="e.g. 'D minor' or 'Bb major': transpose the result "
                        'there; with --progression, the key of the progression')
    parser.add_argument('--progression', default='', help="models trained with --chord-input: Roman numerals "
                        "such as 'i iv V7 i' (cycled) or 'piece:<name>' (a prepared piece's chords)")
    parser.add_argument('--beats-per-chord', type=positive, default=4, help='quarter notes per chord (default: 4)')
    parser.add_argument('--tempo', type=rate, default=100.0, help='quarter notes per minute (default: %(default)s)')
    parser.add_argument('--backend', choices=('jax', 'c'), default='jax')


def newest_checkpoint(folder='checkpoints'):
    """The most recently written ``.npz`` in ``folder``; CheckpointError when there is none."""
    found = sorted(pathlib.Path(folder).glob('*.npz'), key=lambda path: path.stat().st_mtime)
    if not found:
        raise CheckpointError(f'{folder}/: no checkpoint; train one with `bach2 train` or name one')
    return str(found[-1])


def generate_configs(args):
    """One :class:`GenerateConfig` per piece asked for (``--count``)."""
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


def plays_voices(args):
    """Whether ``generate`` plays the voice model: with ``--voices`` or ``--model voices``, and by default
    (``--model auto``) when no checkpoint is given and no option that only the LSTM-NADE has (``--rule``,
    ``--context``, ``--key``, ``--progression``); the journal's stage 4 (``shipped=False``) never."""
    model, voices = getattr(args, 'model', 'lstm-nade'), getattr(args, 'voices', None)   # stage 4 has neither
    if model == 'lstm-nade' and voices:
        raise CorpusError('--voices continues with the voice model: leave out --model lstm-nade')
    lstm_only = args.rule != 'sample' or args.context or args.key or args.progression
    if (model == 'voices' or voices) and lstm_only:
        raise CorpusError('--rule, --context, --key and --progression go with the LSTM-NADE: leave out --model '
                          'voices and --voices')
    return model == 'voices' or bool(voices) or (model == 'auto' and not (args.checkpoint or lstm_only))


def cmd_generate(args):
    """Stage 4: continue a primer with a trained model → .mid, .p (pitch matrix), .png (and .wav) in --out-dir;
    then refresh the gallery, OUT_DIR/index.html."""
    if plays_voices(args):
        return generate_in_voices(args)
    sampler = None
    configs = generate_configs(args)
    if args.audio and not renderer_or_say_so():
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


@contextlib.contextmanager
def drawing(what, args, k):
    """A progress bar (shown after 2 s) for piece ``k`` of a command → the :class:`Sampling` of seed
    ``args.seed + k`` at ``args.temperature`` whose progress moves it."""
    from tqdm import tqdm
    with tqdm(total=100, desc=f'{what}, seed {args.seed + k}', unit='%', leave=False, delay=2) as shown:
        yield Sampling(temperature=args.temperature, seed=args.seed + k,
                       progress=lambda done: shown.update(round(100 * done) - shown.n))


def generate_in_voices(args):
    """``generate`` by the voice model: it continues a primer (a MIDI file, a piece of the built-in corpus in
    voices, or a held-out piece of it with --voices voices, 4 by default) in its voices, or in --voices."""
    from bach2.compose.voice_writing import continue_file, corpus_primer
    if args.primer == 'silence':
        raise CorpusError('--primer silence: the voice model continues a primer (a MIDI file, a piece of the '
                          'corpus, or random); --model lstm-nade starts from silence')
    primer = corpus_primer(args.primer)
    if args.audio and not renderer_or_say_so():
        args.audio = ''
    for k in range(args.count):
        with drawing('voices', args, k) as sampling:
            name = f'{args.name}_{k}' if args.name and args.count > 1 else args.name
            files, _ = continue_file(primer, args.voices, args.bars * 16 if args.bars else args.steps,
                                     checkpoint=args.checkpoint, sampling=sampling,
                                     output=Output(args.out, name=name, audio=args.audio, musicxml=args.musicxml,
                                                   tempo_bpm=args.tempo))
        for path in files.values():
            print(f'  {path}')
    if not args.no_gallery:
        refresh_gallery(args.out, args.data)
    return 0


def add_generate_command(commands):
    generate = command_parser(commands, 'generate', cmd_generate, 'stage 4: write new pieces with a trained model')
    add_generate_arguments(generate)
    generate.add_argument('--model', choices=('auto', 'voices', 'lstm-nade'), default='auto',
                          help='auto (the default): the voice model shipped with Bach2.0, the best it ships '
                          '(docs/motifs.md), unless a checkpoint of bach2 train or an option only the LSTM-NADE '
                          'has (--rule, --context, --key, --progression) is given; lstm-nade: the LSTM-NADE '
                          '(the shipped one without a checkpoint)')
    generate.add_argument('--voices', type=int, choices=range(2, 7), metavar='2…6',
                          help='the voice model continues in this many voices (its checkpoint, if one is given, '
                          'is a voice model of bach2 voices train; default: the primer\'s own voices, 4 for a '
                          'random held-out piece); its sampler reuses the figures the piece has played')


# --------------------------------------------------------------------------- harmonize, fugue

def add_voice_arguments(parser):
    """Options shared by ``harmonize`` and ``fugue``: temperature, seeds, file names, audio, score."""
    parser.add_argument('--temperature', type=rate, default=1.0,
                        help='below 1: safer, above 1: wilder (default: %(default)s)')
    parser.add_argument('--seed', type=seed, default=0, help='the first seed (default: %(default)s)')
    parser.add_argument('--count', type=positive, default=1, help='pieces, seeds seed, seed+1, … (default: 1)')
    parser.add_argument('--name', type=file_stem, default='', help='file stem (default: from the input and the seed)')
    add_out_dir_argument(parser)
    parser.add_argument('--wav', action=argparse.BooleanOptionalAction, default=None,
                        help='render a WAV too (default: when FluidSynth and a soundfont are installed)')
    parser.add_argument('--musicxml', action='store_true', help='write a MusicXML score too, one part per voice')


def audio(args):
    """'wav' where the pieces are to be rendered: asked for, or by default when FluidSynth can."""
    return 'wav' if (renderer_available() if args.wav is None else args.wav) else ''


def stems(args):
    """The file stem of each of ``args.count`` pieces ('' = the command's own)."""
    if not args.name:
        return [''] * args.count
    return [args.name] if args.count == 1 else [f'{args.name}_seed{args.seed + k}' for k in range(args.count)]


def cmd_harmonize(args):
    """Harmonize given lines from a MIDI file: a melody (its highest line) as the soprano, a bass (its lowest
    line), an inner voice, or several voices (one track each, highest first: --voice soprano,bass). The given
    lines are kept note for note. A lone soprano or bass in 2–4 voices is written around by an LSTM-NADE drawn
    from that voice out (--model lstm-nade, the default there); any other voices by the voice model (--model
    voices), which fills in any voices given any others."""
    from bach2.compose.voice_writing import harmonize_file, harmonizer
    model = harmonizer(args.voice, args.voices, args.model)
    for k, stem in enumerate(stems(args)):
        output = Output(args.out_dir, name=stem, audio=audio(args), musicxml=args.musicxml)
        if model == 'lstm-nade':
            files, _ = harmonize(args.melody, args.voice[0], args.voices, args.checkpoint,
                                 Sampling(temperature=args.temperature, seed=args.seed + k), output)
        else:
            with drawing('harmonize', args, k) as sampling:
                files, _ = harmonize_file(args.melody, tuple(args.voice), args.voices, args.checkpoint, sampling,
                                          output)
        print('written: ' + ', '.join(str(path) for path in files.values()))
    return 0


def cmd_rewrite(args):
    """Write a passage of a piece again: the bars given (--bars 5-8), in all voices or those named
    (--voices alto,tenor), by the voice model; everything else is kept note for note. A file whose tracks are
    voices keeps them; a texture (a piano staff) is split into voices first."""
    from bach2.compose.voice_writing import rewrite_file
    for k, stem in enumerate(stems(args)):
        with drawing('rewrite', args, k) as sampling:
            files, _, free = rewrite_file(args.piece, args.bars, args.voices, args.checkpoint, sampling,
                                          Output(args.out_dir, name=stem, audio=audio(args), musicxml=args.musicxml))
        print(f'{int(free.sum())} cells of {free.size} written again; written: '
              + ', '.join(str(path) for path in files.values()))
    return 0


def cmd_fugue(args):
    """Write a whole fugue on a subject (--form whole, the default): exposition, episodes in sequence, middle
    entries in related keys, a stretto where the subject allows one, the final entry over a tonic pedal and the
    final cadence, planned (printed, and saved as <name>.plan.json; --plan gives one back) and written around by
    the voice model. --form exposition: the subject alone in the tonic, the answer in the dominant above it,
    further entries below, each kept note for note while the model writes the others, then --free-bars bars."""
    if args.form == 'whole' or args.plan:
        return whole_fugue(args)
    model, n_voices = args.model or 'lstm-nade', args.voices or 3
    checkpoints = None
    if model == 'lstm-nade' and (args.entries or args.checkpoint or n_voices not in (3, 4)):
        raise SubjectError('--entries, --checkpoint and 2, 5 or 6 voices go with --model voices')
    if args.up or args.down:
        if not (args.up and args.down):
            raise SubjectError('--up and --down go together: a model of each drawing order')
        checkpoints = {'up': args.up, 'down': args.down}
    for k, stem in enumerate(stems(args)):
        with drawing('fugue', args, k) as sampling:
            form = Form(n_voices, args.answer, args.key, args.free_bars)
            output = Output(args.out_dir, name=stem, audio=audio(args), musicxml=args.musicxml)
            if model == 'voices':
                files, report = write_voice_fugue(args.subject, form, args.entries, args.checkpoint, sampling, output)
            else:
                files, report = write_fugue(args.subject, form, checkpoints, sampling, output)
        entries = '; '.join(f'bar {bar:g} {kind} in the {voice}' for bar, voice, kind in report['entries'])
        print(f'{report["key"]}, {report["answer"]} answer: {entries}; entries intact '
              f'{report["entries_intact"]:.0%}')
        print('written: ' + ', '.join(str(path) for path in files.values()))
    return 0


def whole_fugue(args):
    """``fugue --form whole``: plan (or read ``--plan``), print the plan, write each seed."""
    from bach2.compose.fugue import VOICE_GEOMETRY, read_subject
    from bach2.compose.fugue_form import WholeForm, plan_fugue, plan_summary, read_plan, write_whole_fugue
    if args.model == 'lstm-nade' or args.up or args.down:
        raise SubjectError('a whole fugue is written by the voice model: --model lstm-nade, --up and --down go with '
                           '--form exposition')
    if args.plan:
        plan = read_plan(args.plan)
    else:
        form = WholeForm(args.voices or 4, args.answer, args.key, args.middle_entries, tuple(args.keys or ()),
                         args.episode_bars, args.stretto, args.third, args.bars, args.entries)
        plan = plan_fugue(read_subject(args.subject, VOICE_GEOMETRY), form)
    print(plan_summary(plan))
    for k, stem in enumerate(stems(args)):
        with drawing('fugue', args, k) as sampling:
            output = Output(args.out_dir, name=stem, audio=audio(args), musicxml=args.musicxml)
            files, report = write_whole_fugue(None, plan=plan, checkpoint=args.checkpoint, sampling=sampling,
                                              output=output)
        print(f'seed {args.seed + k}: {report["bars"]} bars; entries intact {report["entries_intact"]:.0%}; '
              f'keys found at the entries {report["keys_found"]:.0%}; countersubject against '
              f'{report["countersubjects"]} later entries; ends on the tonic: {report["ends_on_tonic"]}')
        print('written: ' + ', '.join(str(path) for path in files.values()))
    return 0


def cmd_complete(args):
    """Continue an unfinished piece in its own voices (one track each; a texture is split into voices) for --bars
    bars, to a cadence on its tonic (the key found from its last bars, or --key): the model writes every bar, the
    final chord given, over a tonic pedal in the bass."""
    from bach2.compose.fugue_form import complete_file
    for k, stem in enumerate(stems(args)):
        with drawing('complete', args, k) as sampling:
            files, report = complete_file(args.piece, args.bars, args.key, args.checkpoint, sampling,
                                          Output(args.out_dir, name=stem, audio=audio(args), musicxml=args.musicxml),
                                          args.from_bar)
        print(f'{report["voices"]} voices, {report["given_bars"]} bars given, {args.bars} written to a cadence in '
              f'{report["key"]}; ends on the tonic: {report["ends_on_tonic"]}')
        print('written: ' + ', '.join(str(path) for path in files.values()))
    return 0


def free_bars(text):
    """Bars of free continuation: an integer 0 … :data:`~bach2.compose.fugue.MAX_FREE_BARS`."""
    value = int(text)
    if not 0 <= value <= MAX_FREE_BARS:
        raise argparse.ArgumentTypeError(f'must be 0 … {MAX_FREE_BARS} bars, not {text}')
    return value


def add_harmonize_command(commands):
    harmonize = command_parser(commands, 'harmonize', cmd_harmonize,
                               'write the other voices around a given soprano or bass')
    harmonize.add_argument('melody', metavar='MELODY.mid', help='a MIDI file: its highest line is the soprano, '
                           'its lowest the bass')
    harmonize.add_argument('--voice', type=voice_names, default=['soprano'],
                           help='which voice the file gives, or voices highest first (soprano,bass): soprano, '
                           'alto, tenor, bass (five and six voices: soprano1, soprano2, alto1, alto2 …; '
                           'default: soprano)')
    harmonize.add_argument('--voices', type=int, choices=range(2, 7), default=4, metavar='2…6',
                           help='voices in all, the given ones included (default: %(default)s)')
    harmonize.add_argument('--model', choices=('auto', 'voices', 'lstm-nade'), default='auto',
                           help='auto (the default): the LSTM-NADE for a lone soprano or bass in 2–4 voices, '
                           'the voice model otherwise')
    harmonize.add_argument('--checkpoint', help='an lstm-nade of bach2 train, drawn --pitch-order down for a '
                           'soprano, up for a bass, or a voice model of bach2 voices train (default: the shipped '
                           'model of that kind)')
    add_voice_arguments(harmonize)


def voice_names(text):
    """'alto' or 'soprano,bass' → ['soprano', 'bass']: voice names, each checked against the voices of 2 to 6."""
    from bach2.compose.voice_writing import VOICE_NAMES
    known = sorted({name for names in VOICE_NAMES.values() for name in names})
    names = [name.strip() for name in text.split(',') if name.strip()]
    unknown = [name for name in names if name not in known]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f'{text!r}: voices are named {", ".join(known)}')
    return names


def bar_range(text):
    """'5-8' or '5' → (5, 8): bars counted from 1 (a pickup is bar 0)."""
    first, _, last = text.partition('-')
    try:
        bars = (int(first), int(last or first))
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r}: give bars as FIRST-LAST, e.g. 5-8') from None
    if not 0 <= bars[0] <= bars[1]:
        raise argparse.ArgumentTypeError(f'{text!r}: the first bar must be 0 or more and not after the last')
    return bars


def add_rewrite_command(commands):
    rewrite = command_parser(commands, 'rewrite', cmd_rewrite, 'write some bars of a piece again, the rest kept')
    rewrite.add_argument('piece', metavar='PIECE.mid', help='a MIDI file, one track per voice or a piano texture')
    rewrite.add_argument('--bars', type=bar_range, required=True, help='bars to write again, e.g. 5-8')
    rewrite.add_argument('--voices', type=voice_names, help='voices to write again, e.g. alto,tenor (default: all)')
    rewrite.add_argument('--checkpoint', help='a voice model of bach2 voices train (default: the shipped one)')
    add_voice_arguments(rewrite)


def add_fugue_command(commands):
    fugue = command_parser(commands, 'fugue', cmd_fugue, 'a whole fugue on a subject (MIDI or notes as text), or '
                           'its exposition')
    fugue.add_argument('subject', metavar='SUBJECT', nargs='?', default='',
                       help='a MIDI file (its highest line, or the subject of a whole fugue in it), or notes as text: '
                       '"C4:0.5 Eb4 D4 C4 B3:1 C4 D4 G3" — scientific pitch names (C4 = middle C), r for a rest, '
                       ':LENGTH in quarter notes (kept until changed; first: 1); starts on a downbeat of 4/4; '
                       'none with --plan')
    fugue.add_argument('--form', choices=('whole', 'exposition'), default='whole',
                       help='whole: exposition, episodes, middle entries, stretto, final entry and cadence, by the '
                       'voice model; exposition: the entries and --free-bars bars (default: %(default)s)')
    fugue.add_argument('--voices', type=int, choices=range(2, 7), default=None, metavar='2…6',
                       help='whole: 2 to 6 (default 4); exposition: 3 or 4, 2 to 6 with --model voices (default 3)')
    fugue.add_argument('--plan', help='a plan file (<name>.plan.json, written with every whole fugue, edited or '
                       'not) to write again: its subject, keys, entries, episodes and cadence')
    fugue.add_argument('--bars', type=positive, help='whole: about this many bars (8–200): the middle entries and '
                       'episodes fitted to it (default: 3 middle entries, episodes of 2 bars)')
    fugue.add_argument('--middle-entries', type=int, default=None, metavar='0…8',
                       help='whole: entries between the exposition and the stretto (default: one per --keys, else 3, '
                       'or as --bars asks)')
    fugue.add_argument('--keys', type=lambda text: [k.strip() for k in text.split(',') if k.strip()],
                       help="whole: the middle entries' keys, e.g. 'Eb major,G minor' (default: the relative, the "
                       'dominant, the subdominant and their relatives)')
    fugue.add_argument('--episode-bars', type=int, default=None, metavar='0…8',
                       help='whole: bars of each episode (default: 2, or as --bars asks)')
    fugue.add_argument('--stretto', action=argparse.BooleanOptionalAction, default=True,
                       help='whole: a stretto before the final entry where the subject allows one (default: on)')
    fugue.add_argument('--third', choices=('major', 'minor'), default='major',
                       help='whole: the third of the final chord of a minor fugue (default: %(default)s, the '
                       'tierce de Picardie)')
    fugue.add_argument('--model', choices=('lstm-nade', 'voices'), default=None,
                       help='exposition: lstm-nade, the shipped pair drawn up and down (the default), or voices, the '
                       'voice model (entries in any voice, countersubjects); a whole fugue is always the voice '
                       "model's")
    fugue.add_argument('--entries', type=voice_names, help='with the voice model: the voices in order of entry, '
                       'e.g. tenor,alto,soprano,bass (default: alto, soprano, tenor, bass)')
    fugue.add_argument('--checkpoint', help='with the voice model: a voice model (default: the shipped one)')
    fugue.add_argument('--answer', choices=('tonal', 'real'), default='tonal',
                       help='tonal: a dominant in the head of the subject is answered by the tonic; real: every '
                       'note a fifth up (default: %(default)s)')
    fugue.add_argument('--key', default='', help="the subject's key, e.g. 'C minor' (default: found from its notes)")
    fugue.add_argument('--free-bars', type=free_bars, default=4,
                       help=f'exposition: bars in all voices after the last entry, at most {MAX_FREE_BARS} '
                       '(default: %(default)s)')
    fugue.add_argument('--up', help='exposition: an lstm-nade drawn low to high (default: the shipped model; with '
                       '--down)')
    fugue.add_argument('--down', help='exposition: an lstm-nade drawn high to low, same geometry (default: the '
                       'shipped twin)')
    add_voice_arguments(fugue)


def add_complete_command(commands):
    complete = command_parser(commands, 'complete', cmd_complete, 'continue an unfinished piece in its voices to a '
                              'cadence on its tonic')
    complete.add_argument('piece', metavar='PIECE.mid', help='the piece (one track per voice, or a texture)')
    complete.add_argument('--bars', type=positive, default=8, help='bars to write after it (default: %(default)s)')
    complete.add_argument('--key', type=key, default=None, help="the key to close in, e.g. 'D minor' (default: "
                          'found from its last 8 bars)')
    complete.add_argument('--from-bar', type=positive, help='write the piece from this bar on (the model hears every '
                          'bar before it; default: the whole piece)')
    complete.add_argument('--checkpoint', help='a voice model (default: the shipped one)')
    add_voice_arguments(complete)
