"""``bach2 harmonize`` / ``bach2 fugue``: voices written around lines given note for note.

* ``harmonize MELODY.mid --voice soprano|bass``: the other voices around a soprano or a bass
  (:func:`bach2.compose.harmonize.harmonize`);
* ``fugue SUBJECT --voices 3|4``: an exposition on a subject, then a free continuation
  (:func:`bach2.compose.fugue.write_fugue`).

Both write one MIDI track per voice, a ``.p`` record, a piano roll, where FluidSynth is installed a WAV,
and with ``--musicxml`` a score.
"""
import argparse

from bach2.app.arguments import count, positive, rate
from bach2.compose.fugue import SubjectError

DEFAULT_OUT = 'Synthesized_Fugues'


def add_common_arguments(parser):
    parser.add_argument('--temperature', type=rate, default=1.0,
                        help='below 1: safer, above 1: wilder (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='the first seed (default: %(default)s)')
    parser.add_argument('--count', type=positive, default=1, help='pieces, seeds seed, seed+1, … (default: 1)')
    parser.add_argument('--name', default='', help='file stem (default: from the input and the seed)')
    parser.add_argument('--out-dir', default=DEFAULT_OUT, help='default: %(default)s')
    parser.add_argument('--wav', action=argparse.BooleanOptionalAction, default=None,
                        help='render a WAV too (default: when FluidSynth and a soundfont are installed)')
    parser.add_argument('--musicxml', action='store_true', help='write a MusicXML score too, one part per voice')


def audio(args):
    """'wav' where the pieces are to be rendered: asked for, or by default when FluidSynth can."""
    from bach2.render.listen import renderer_available
    return 'wav' if (renderer_available() if args.wav is None else args.wav) else ''


def stems(args):
    """The file stem of each of ``args.count`` pieces ('' = the command's own)."""
    if not args.name:
        return [''] * args.count
    return [args.name] if args.count == 1 else [f'{args.name}_seed{args.seed + k}' for k in range(args.count)]


def cmd_harmonize(args):
    """Harmonize a melody (its highest line: --voice soprano) or a bass (its lowest line: --voice bass) from
    a MIDI file: the given line is kept note for note, the other voices are written by an LSTM-NADE drawn
    from that voice out, so they follow the model's exact conditional given the line."""
    from bach2.compose.harmonize import harmonize
    for k, stem in enumerate(stems(args)):
        files, lines = harmonize(args.melody, args.voice, args.voices, args.checkpoint, args.temperature,
                                 args.seed + k, args.out_dir, audio(args), stem, args.musicxml)
        print('written: ' + ', '.join(str(path) for path in files.values()))
    return 0


def cmd_fugue(args):
    """Write a fugue exposition on a subject: the subject alone in the tonic, the answer in the dominant above
    it, further entries below, each kept note for note in its voice while the model writes the others,
    then --free-bars bars in all voices."""
    from bach2.compose.fugue import write_fugue
    checkpoints = None
    if args.up or args.down:
        if not (args.up and args.down):
            raise SubjectError('--up and --down go together: a model of each drawing order')
        checkpoints = {'up': args.up, 'down': args.down}
    for k, stem in enumerate(stems(args)):
        files, report = write_fugue(args.subject, args.voices, checkpoints, args.answer, args.key, args.free_bars,
                                    args.temperature, args.seed + k, args.out_dir, audio(args), stem,
                                    musicxml=args.musicxml)
        entries = '; '.join(f'bar {bar:g} {kind} in the {voice}' for bar, voice, kind in report['entries'])
        print(f'{report["key"]}, {report["answer"]} answer: {entries}; entries intact '
              f'{report["entries_intact"]:.0%}')
        print('written: ' + ', '.join(str(path) for path in files.values()))
    return 0


def add_voice_commands(commands):
    harmonize = commands.add_parser('harmonize', help='write the other voices around a given soprano or bass',
                                    description=cmd_harmonize.__doc__)
    harmonize.add_argument('melody', metavar='MELODY.mid', help='a MIDI file: its highest line is the soprano, '
                           'its lowest the bass')
    harmonize.add_argument('--voice', choices=('soprano', 'bass'), default='soprano',
                           help='which voice the file gives (default: %(default)s)')
    harmonize.add_argument('--voices', type=int, choices=(2, 3, 4), default=4,
                           help='voices in all, the given one included (default: %(default)s)')
    harmonize.add_argument('--checkpoint', help='an lstm-nade of bach2 train, drawn --pitch-order down for a '
                           'soprano, up for a bass (default: the shipped model of that order)')
    add_common_arguments(harmonize)
    harmonize.set_defaults(run=cmd_harmonize)
    fugue = commands.add_parser('fugue', help='a fugue exposition on a subject (MIDI or notes as text)',
                                description=cmd_fugue.__doc__)
    fugue.add_argument('subject', metavar='SUBJECT', help='a MIDI file (its highest line), or notes as text: '
                       '"C4:0.5 Eb4 D4 C4 B3:1 C4 D4 G3" — scientific pitch names (C4 = middle C), r for a rest, '
                       ':LENGTH in quarter notes (kept until changed; first: 1); starts on a downbeat of 4/4')
    fugue.add_argument('--voices', type=int, choices=(3, 4), default=3, help='default: %(default)s')
    fugue.add_argument('--answer', choices=('tonal', 'real'), default='tonal',
                       help='tonal: a dominant in the head of the subject is answered by the tonic; real: every '
                       'note a fifth up (default: %(default)s)')
    fugue.add_argument('--key', default='', help="the subject's key, e.g. 'C minor' (default: found from its notes)")
    fugue.add_argument('--free-bars', type=count, default=4,
                       help='bars in all voices after the last entry (default: %(default)s)')
    fugue.add_argument('--up', help='an lstm-nade drawn low to high (default: the shipped model; with --down)')
    fugue.add_argument('--down', help='an lstm-nade drawn high to low, same geometry (default: the shipped twin)')
    add_common_arguments(fugue)
    fugue.set_defaults(run=cmd_fugue)
