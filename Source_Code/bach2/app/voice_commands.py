"""``bach2 voices``: the corpus in voices and the voice model (issue 30) on the command line.

* ``voices prepare``: a folder of MIDI (default: the built-in corpus with one track per voice) → voice tokens in
  12 keys (:mod:`bach2.data.voice_data`);
* ``voices train``: the voice model (:mod:`bach2.models.voice_training`), resumable, in a time budget;
* ``voices evaluate``: its NLL per frame as Coconet reports it (:mod:`bach2.measure.voice_likelihood`).

Each command parses, calls one library function and prints where the output went.
"""
# Imports of heavy modules are inside the commands, for start-up speed (`bach2 --help` loads no PyTensor or JAX).
import pathlib

from bach2.app.arguments import command_parser, positive, rate, seed
from bach2.data.default_corpus import KEYBOARD_VOICES

DEFAULT_VOICE_DATA = 'training_data/voices'


def cmd_voices_prepare(args):
    """Read a folder of MIDI in voices (each track a voice; a texture is split into voices) and write its voice
    tokens, in 12 keys, with a manifest of what each rule changed."""
    from bach2.data.voice_data import VOICE_MANIFEST, prepare_jsb_voice_data, prepare_voice_data
    if args.jsb:
        counts = prepare_jsb_voice_data(args.jsb, args.out)
        print(f'JSB Chorales in voices ({", ".join(f"{n} {split}" for split, n in counts.items())}) → '
              f'{args.out}/voice_tokens_24ticks_sh*.npz')
        return 0
    manifest = prepare_voice_data(args.data or KEYBOARD_VOICES, args.out)
    total = manifest['total']
    print(f'{len(manifest["pieces"])} pieces, {total["voices"]} voices → {args.out}/voice_tokens_24ticks_sh*.npz; '
          f'{total["fragment_notes"]} notes of {total["fragment_tracks"]} fragment tracks merged, '
          f'{total["separated_notes"]} notes separated into voices, {total["chord_notes_dropped"]} chord notes '
          f'dropped, {total["notes_cut"]} notes cut ({pathlib.Path(args.out) / VOICE_MANIFEST})')
    return 0


def cmd_voices_train(args):
    """Train the voice model (an orderless model of voices: any cells given, the others predicted) on prepared
    voice tokens; a run stopped resumes from its checkpoint when started again with the same --out."""
    from bach2.models.voice_model import VoiceConfig
    from bach2.models.voice_training import VoiceTrainingConfig, train_voice_model
    config = VoiceConfig(channels=args.channels, n_blocks=args.blocks, window=args.window,
                         batch_size=args.batch_size, learning_rate=args.learning_rate,
                         kind='chorales' if args.chorales else 'voices', neighbours=args.neighbours,
                         pitch_classes=args.pitch_classes, attention=args.attention, heads=args.heads,
                         attention_reach=args.attention_reach)
    training = VoiceTrainingConfig(data_dir=args.data, out_path=args.out, batches=args.batches, hours=args.hours,
                                   valid_every=args.valid_every, seed=args.seed, init_from=args.init_from or '')
    _, history = train_voice_model(config, training)
    if history:
        print(f'{args.out}: batch {history[-1]["batch"]}, held-out NLL per masked cell '
              f'{history[-1]["valid_nll"]:.3f}')
    return 0


def cmd_voices_evaluate(args):
    """NLL of held-out music in nats per frame (16th), as Coconet reports it: one random ordering of frames and of
    the voices in each (the chain rule on the true cells). The JSB Chorales' test split (--jsb), or the pieces a
    voice model held out of its prepared data (--data)."""
    from bach2.data.voice_data import chorale_positions, jsb_voice_tokens
    from bach2.measure.voice_likelihood import framewise_nll
    from bach2.models.checkpoints import load_voice_model
    from bach2.models.voice_training import load_pieces, split_held_out
    model, meta = load_voice_model(args.checkpoint)
    if args.jsb:
        pieces = [(t.T, chorale_positions(len(t))[:, 0]) for t in jsb_voice_tokens(args.jsb)[args.split]]
    else:
        _, held = split_held_out(load_pieces(args.data, keys=[0]), meta.get('held_out_bwv', ()))
        pieces = [(t.T, p[:, 0]) for t, p in zip(held.tokens[0], held.positions)]
    pieces = pieces[:args.pieces] if args.pieces else pieces
    windows = []
    for tokens, positions in pieces:        # whole pieces, or cut in --window steps
        size = args.window or tokens.shape[1]
        windows += [(tokens[:, t:t + size], positions[t:t + size]) for t in range(0, tokens.shape[1], size)]
    result = framewise_nll(model, windows, args.orderings, args.seed)
    cut = f', cut in windows of {args.window} steps' if args.window else ''
    print(f'{len(pieces)} pieces{cut}, {result["frames"]} frames: {result["nll_per_frame"]:.3f} nats per frame')
    return 0


def add_voices_command(commands):
    voices = commands.add_parser('voices', help='the corpus in voices and the voice model',
                                 description='Prepare music in voices and train the voice model.')
    sub = voices.add_subparsers(dest='voices_command', required=True, metavar='ACTION')
    prepare = command_parser(sub, 'prepare', cmd_voices_prepare, cmd_voices_prepare.__doc__)
    prepare.add_argument('--data', help='folder of MIDI (default: the built-in corpus in voices, '
                                        f'{KEYBOARD_VOICES.parent.name}/{KEYBOARD_VOICES.name}/)')
    prepare.add_argument('--jsb', metavar='JSON', help="the JSB Chorales with voices apart instead "
                         "(Jsb16thSeparated.json: Coconet's data, its split kept)")
    prepare.add_argument('--out', default=DEFAULT_VOICE_DATA, help='default: %(default)s')
    train = command_parser(sub, 'train', cmd_voices_train, cmd_voices_train.__doc__)
    train.add_argument('--data', default=DEFAULT_VOICE_DATA, help='prepared voice tokens (default: %(default)s)')
    train.add_argument('--out', default='voice_model.npz', help='checkpoint (default: %(default)s)')
    train.add_argument('--chorales', action='store_true', help='the data are chorales (a model for harmonizing)')
    train.add_argument('--channels', type=positive, default=128, help='default: %(default)s')
    train.add_argument('--blocks', type=positive, default=12, help='residual blocks (default: %(default)s)')
    train.add_argument('--window', type=positive, default=128, help='steps per window (default: %(default)s)')
    train.add_argument('--batch-size', type=positive, default=8, help='default: %(default)s')
    train.add_argument('--learning-rate', type=rate, default=1e-3,
                       help='Adam (default: %(default)s; a resumed run may go on at a lower rate)')
    train.add_argument('--neighbours', action='store_true',
                       help='each block also hears the voices just above and below, not only the mean of all')
    train.add_argument('--pitch-classes', action='store_true',
                       help='read and predict pitch classes apart from pitches (what a key makes likely, learnt once '
                            'for every octave)')
    train.add_argument('--attention', type=int, nargs='+', default=(), metavar='BLOCK',
                       help='follow these blocks (0 first) with self-attention over the piece, by content and by steps '
                            'apart: what lets a cell reuse a figure played before (default: none)')
    train.add_argument('--heads', type=positive, default=4, help='of each attention (default: %(default)s)')
    train.add_argument('--attention-reach', type=positive, default=64,
                       help='steps each side an attention reads (default: %(default)s)')
    train.add_argument('--init-from', metavar='CHECKPOINT',
                       help='start a fresh run from the parameters of this voice checkpoint (what it lacks, such as '
                            '--pitch-classes or --attention, is added so that the model begins as the checkpoint '
                            'played)')
    train.add_argument('--batches', type=positive, default=20000, help='stop after this many (default: %(default)s)')
    train.add_argument('--hours', type=float, default=0.0, help='or after this long (default: no limit)')
    train.add_argument('--valid-every', type=positive, default=250, help='batches (default: %(default)s)')
    train.add_argument('--seed', type=seed, default=0)
    evaluate = command_parser(sub, 'evaluate', cmd_voices_evaluate, cmd_voices_evaluate.__doc__)
    evaluate.add_argument('checkpoint', help='a voice model (.npz)')
    evaluate.add_argument('--jsb', metavar='JSON', help='Jsb16thSeparated.json: score its --split')
    evaluate.add_argument('--split', choices=('train', 'valid', 'test'), default='test', help='default: %(default)s')
    evaluate.add_argument('--data', default=DEFAULT_VOICE_DATA, help='prepared voice tokens, without --jsb '
                          '(default: %(default)s)')
    evaluate.add_argument('--pieces', type=positive, help='the first so many pieces only')
    evaluate.add_argument('--window', type=positive, help='score pieces in windows of this many steps, each on '
                          'its own (the cost grows with the square of the length; default: whole pieces)')
    evaluate.add_argument('--orderings', type=positive, default=1, help='default: %(default)s')
    evaluate.add_argument('--seed', type=seed, default=0)
