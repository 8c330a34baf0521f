"""Arguments shared by the ``bach2`` commands and the stage scripts.

* :func:`command_parser`: one subcommand that runs its ``cmd_`` function;
* types: each parses one option value or says, in one line, why not;
* option groups of stages 0–2 (:func:`add_out_argument`, :func:`add_data_arguments`,
  :func:`add_matrix_arguments`) and the :class:`PrepareConfig` they give (:func:`config_from`).
"""
import argparse

from bach2.common import CorpusError
from bach2.data.prepare import PrepareConfig
from bach2.music.progressions import parse_key
from bach2.time_series_to_pitch_matrix import JOURNAL_STEP_TICKS, LOWEST_PITCH, N_PITCHES

DEFAULT_DATA = 'training_data'


def command_parser(commands, name, run, help):
    """The parser of subcommand ``name`` of ``commands`` (argparse subparsers): ``help`` in the list of commands,
    ``run``'s docstring as its description, and ``run(args)`` what it does."""
    parser = commands.add_parser(name, help=help, description=run.__doc__)
    parser.set_defaults(run=run)
    return parser


def positive(text):
    """An integer > 0."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f'must be a positive integer, not {text}')
    return value


def count(text):
    """An integer ≥ 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f'must be 0 or more, not {text}')
    return value


MAX_SEED = 2 ** 31 - 1


def seed(text):
    """A random seed: an integer 0 … :data:`MAX_SEED`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'must be a whole number 0 or more, not {text}') from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f'must be 0 … {MAX_SEED}, not {text}')
    return value


def file_stem(text):
    """A file name without folder or suffix: no path separator and no '..', so it stays in the output folder."""
    if any(mark in text for mark in ('/', '\\', '..', '\0')) or text == '.':
        raise argparse.ArgumentTypeError(f'must be a plain file name, without a folder or "..", not {text!r}')
    return text


def rate(text):
    """A positive finite float (learning rate, temperature, tempo)."""
    value = float(text)
    if not 0 < value < float('inf'):
        raise argparse.ArgumentTypeError(f'must be a positive finite number, not {text}')
    return value


def fraction(text):
    """A float in [0, 1)."""
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 0 and below 1, not {text}')
    return value


def decay(text):
    """A float in (0, 1]: a factor that may shrink a value but never grow it or zero it."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f'must be above 0 and at most 1, not {text}')
    return value


def key(text):
    """A key such as 'D minor' or 'Bb major' (checked, returned as given)."""
    try:
        parse_key(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error))
    return text


def transpositions(text):
    """'all' or '0,5,7' → tuple of k in sh<k>; CorpusError on anything else."""
    if text == 'all':
        return tuple(range(12))
    try:
        shifts = tuple(int(k) for k in text.split(','))
    except ValueError:
        raise CorpusError(f"--transpositions: expected 'all' or numbers 0-11 separated by commas, not {text!r}") \
            from None
    if not all(0 <= k < 12 for k in shifts):
        raise CorpusError(f'--transpositions: {text!r} has a number outside 0-11')
    return shifts


def add_out_argument(parser):
    """--out, the training data folder."""
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
    parser.add_argument('--step-ticks', type=positive, default=JOURNAL_STEP_TICKS,
                        help='one time step in ticks at 96 per quarter note (default: %(default)s = a 16th)')
    parser.add_argument('--lowest-pitch', type=int, default=LOWEST_PITCH, choices=range(0, 128), metavar='0-127',
                        help='MIDI pitch of column 0 (default: %(default)s, the journal\'s two-octave shift)')
    parser.add_argument('--n-pitches', type=positive, default=N_PITCHES, help='pitches per step (default: %(default)s)')
    parser.add_argument('--transpose', choices=('all', 'c'), default='all',
                        help="'all': 12 keys sh0…sh11; 'c': each piece to C major / C minor (default: %(default)s)")


def config_from(args):
    """The options of stages 0–2 (those given; the rest at their defaults) → :class:`PrepareConfig`."""
    return PrepareConfig(step_ticks=getattr(args, 'step_ticks', JOURNAL_STEP_TICKS),
                         lowest_pitch=getattr(args, 'lowest_pitch', LOWEST_PITCH),
                         n_pitches=getattr(args, 'n_pitches', N_PITCHES), transpose=getattr(args, 'transpose', 'all'),
                         skip_time_signatures=tuple(getattr(args, 'skip_time_signature', ())),
                         split_movements=not getattr(args, 'no_split_movements', False))
