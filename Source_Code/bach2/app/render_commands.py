"""``bach2 listen``, ``look`` and ``gallery`` (stage 5: hear and see MIDI files and generated pieces).

Each command parses, calls one library function and prints where the output went.
"""
# Imports of heavy modules are inside the commands, for start-up speed (`bach2 --help` loads no Matplotlib).
import math
import os
import time

from bach2.app.arguments import DEFAULT_DATA, command_parser, positive
from bach2.app.output import refresh_gallery
from bach2.render.listen import audio_levels, render_midi
from bach2.render.look import look, look_windows


def cmd_listen(args):
    """Render a MIDI file to WAV or OGG with FluidSynth (peak at −1 dBFS) beside it or at -o."""
    start = time.perf_counter()
    result = render_midi(args.file, args.output, soundfont=args.soundfont)
    seconds = time.perf_counter() - start
    levels = ''
    if result['path'].lower().endswith('.wav'):
        found = audio_levels(result['path'])
        levels = (f'{found["seconds"]:.1f} s of audio, peak {dbfs(found["peak"]):.1f} dBFS, '
                  f'RMS {dbfs(found["rms"]):.1f} dBFS, ')
    print(f'{result["path"]}  ({levels}gain {result["gain"]:.2f}, {os.path.basename(result["soundfont"])}, '
          f'rendered in {seconds:.1f} s)')
    return 0


def dbfs(level):
    """An amplitude (full scale = 1) → decibels relative to full scale; −inf for silence."""
    return 20 * math.log10(level) if level > 0 else float('-inf')


def cmd_look(args):
    """Draw a MIDI file or pickled pitch matrix as a piano roll with its stage-2 chords (PNG);
    with --windows, the journal's figure of how X windows and Y targets are cut from pitch matrices."""
    if args.windows:
        print(look_windows(args.files, args.output or 'pitch_matrix_windows.png', args.sequence_length, args.piece))
        return 0
    for path in args.files:
        out = args.output if args.output and len(args.files) == 1 else None
        print(look(path, out, piece=args.piece))
    return 0


def cmd_gallery(args):
    """Write FOLDER/index.html: every generated piece's piano roll, audio player, statistics and MIDI link."""
    refresh_gallery(args.folder, args.corpus)
    return 0


def add_listen_command(commands):
    listen = command_parser(commands, 'listen', cmd_listen, 'render a MIDI file to WAV or OGG (FluidSynth)')
    listen.add_argument('file', metavar='FILE.mid', help='a MIDI file')
    listen.add_argument('-o', '--output', metavar='OUT.wav|OUT.ogg',
                        help='audio file to write (default: FILE.wav beside FILE.mid)')
    listen.add_argument('--soundfont', metavar='SF2', help='a General MIDI .sf2 (default: the first of '
                        '/usr/share/sounds/sf2/TimGM6mb.sf2, FluidR3_GM.sf2, default-GM.sf2)')


def add_look_command(commands):
    look = command_parser(commands, 'look', cmd_look, 'piano roll with chords (PNG) of a MIDI file or pitch matrix')
    look.add_argument('files', nargs='+', metavar='FILE', help='.mid/.midi, a .p of `bach2 generate`, or a '
                      'stage-1 pitch_matrix_*.p')
    look.add_argument('-o', '--output', metavar='OUT.png', help='default: FILE_roll.png beside FILE '
                      '(--windows: pitch_matrix_windows.png)')
    look.add_argument('--piece', help='the piece to draw from a stage-1 pickle (default: its first)')
    look.add_argument('--windows', action='store_true', help='draw how X windows and Y targets are cut from '
                      'the pieces (a stage-1 pickle: its first two)')
    look.add_argument('--sequence-length', type=positive, default=16,
                      help='SEQUENCE_LENGTH of the --windows figure (default: %(default)s)')


def add_gallery_command(commands):
    gallery = command_parser(commands, 'gallery', cmd_gallery, 'write FOLDER/index.html of the generated pieces')
    gallery.add_argument('folder', nargs='?', default='Synthesized_Fugues', metavar='FOLDER',
                         help='default: %(default)s')
    gallery.add_argument('--corpus', default=DEFAULT_DATA, help='prepared data to compare pitch classes with '
                         '(default: %(default)s; skipped when absent)')
