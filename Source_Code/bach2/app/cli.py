"""The ``bach2`` command: the parser, assembled from one module per command group, and how a command is run.

* :mod:`bach2.app.data_commands`: ``prepare`` (stages 0–2), ``inspect`` (stage 0 on files), ``prepare-jsb``
  and ``prepare-benchmark`` (the polyphonic benchmarks);
* :mod:`bach2.app.model_commands`: ``train`` (stage 3), ``export`` (a checkpoint to share), ``evaluate`` and
  ``judge`` (stage 5);
* :mod:`bach2.app.compose_commands`: ``generate`` (stage 4), and voices around given lines: ``harmonize``,
  ``rewrite``, ``fugue`` and ``complete``;
* :mod:`bach2.app.render_commands`: ``listen``, ``look``, ``gallery`` (stage 5: hear and see MIDI files and
  generated pieces);
* :mod:`bach2.app.roadmap_commands`: the journal's road map: ``chords``, ``lines`` and ``chain``;
* :mod:`bach2.app.voice_commands`: ``voices prepare|train`` (the corpus in voices, the voice model);
* :mod:`bach2.app.journey`: ``journey`` (all of them on the built-in corpus, small and quick);
* :mod:`bach2.app.studio`: ``studio`` (Bach2.0 in the browser).

Every subcommand has ``--help``; bad input ends in one line on stderr naming
the file and the problem, and a non-zero exit status.
"""
import argparse
import sys

from bach2 import __version__
from bach2.app import (compose_commands, data_commands, journey, model_commands, render_commands, roadmap_commands,
                       studio, voice_commands)
from bach2.common import CheckpointError, CorpusError, TrainingDiverged
from bach2.compose.fugue import SubjectError
from bach2.midi_to_time_series import MidiFileError
from bach2.render.listen import RenderError, RendererMissing
from bach2.safe_io import UnsafePickleError

#: each adds one subcommand, in the order of ``bach2 --help``
ADD_COMMANDS = (data_commands.add_prepare_command, data_commands.add_inspect_command, model_commands.add_train_command,
                compose_commands.add_generate_command, model_commands.add_export_command,
                data_commands.add_prepare_jsb_command, data_commands.add_prepare_benchmark_command,
                model_commands.add_evaluate_command, model_commands.add_judge_command, journey.add_journey_command,
                render_commands.add_listen_command, render_commands.add_look_command,
                render_commands.add_gallery_command, roadmap_commands.add_chords_command,
                roadmap_commands.add_lines_command, roadmap_commands.add_chain_command,
                compose_commands.add_harmonize_command, compose_commands.add_rewrite_command,
                compose_commands.add_fugue_command, compose_commands.add_complete_command,
                voice_commands.add_voices_command, studio.add_studio_command)


class OneLineParser(argparse.ArgumentParser):
    """argparse with errors in one line: ``bach2 train: error: … (see bach2 train --help)``, exit status 2."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def build_parser():
    """The ``bach2`` parser with every subcommand; ``parser.command_parsers``: {name: its parser}."""
    parser = OneLineParser(prog='bach2', description="Bach2.0: learn Bach's counterpoint from MIDI "
                                     'and write new fugues.')
    parser.add_argument('--version', action='version', version=f'bach2 {__version__}')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    for add_command in ADD_COMMANDS:
        add_command(commands)
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
    """``bach2 ARGS``: parse ``argv`` (default: the command line), run the command → its exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:                                 # the error names the command they were given to
        parser.command_parsers[args.command].error(f'unrecognized arguments: {" ".join(unknown)}')
    return run(args.run, args)


if __name__ == '__main__':
    sys.exit(main())
