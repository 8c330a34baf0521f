"""What every room shares: the errors that cross module boundaries and the file suffixes read as MIDI.

Each error's message is one line that names the file or folder and the problem, so the command line prints
it as it is (``bach2: <message>``).
"""

MIDI_SUFFIXES = ('.mid', '.midi')    # what a folder of MIDI files holds (any case)


class CorpusError(Exception):
    """A folder that yields no usable piece; the message is one line naming the folder."""


class CheckpointError(Exception):
    """A checkpoint that is missing or does not fit the model; the message names the file and the problem."""


class TrainingDiverged(Exception):
    """The loss became NaN or infinite; the message names the epoch, batch and the checkpoint kept."""
