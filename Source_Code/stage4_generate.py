"""Stage 4: continue a primer with a checkpoint of stage 3 → Synthesized_Fugues/ (.mid, .p pitch matrix, .png).

Same options as `bach2 generate`; --help lists them.
"""
import sys

from bach2.app.cli import OneLineParser, run
from bach2.app.compose_commands import add_generate_arguments, cmd_generate

if __name__ == '__main__':
    parser = OneLineParser(description=__doc__)
    add_generate_arguments(parser, shipped=False)     # the journal's order: the model stage 3 just trained
    sys.exit(run(cmd_generate, parser.parse_args()))
