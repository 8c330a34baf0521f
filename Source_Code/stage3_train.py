"""Stage 3: train the journal's LSTM on training_data/ (run stages 0–2 first) → checkpoints/.

Same options as `bach2 train`; --help lists them.
"""
import sys

from bach2.app.cli import OneLineParser, run
from bach2.app.model_commands import add_train_arguments, cmd_train

if __name__ == '__main__':
    parser = OneLineParser(description=__doc__)
    add_train_arguments(parser)
    sys.exit(run(cmd_train, parser.parse_args()))
