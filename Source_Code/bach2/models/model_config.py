"""Stage 3 hyper-parameters (no PyTensor import: the CLI reads the defaults from here)."""
import dataclasses

from bach2.data.training_set import Rows
from bach2.music.metre import METRE_FEATURES
from bach2.time_series_to_pitch_matrix import LOWEST_PITCH, N_PITCHES

OPTIMIZER_NAMES = ('sgd', 'adagrad', 'rmsprop', 'adam')
MODES = ('polyphonic', 'monophonic')
TARGETS = ('last', 'all')           # what a training sequence teaches: its next step (the journal's) or every step
MODELS = ('lstm', 'lstm-nade')       # output: independent sigmoids (the journal's) or a NADE over the step
PITCH_ORDERS = ('up', 'down', 'outside-in', 'inside-out')   # the NADE's order over a step (bach2.nn.nade.drawing_order)
SAMPLING_RULES = ('sample', 'threshold', 'argmax')   # see bach2.sampling.decision_noise
NOTE_COSTS = ('mean', 'sum', 'total')   # the note cost: cross-entropy averaged over pitches and examples, summed
                                         # over pitches (averaged over examples), or summed over both


def default_targets(model):
    """What ``bach2 train`` teaches by default: every step for the LSTM-NADE (measured in docs/every_step.md), the
    journal's last step for its own model."""
    return 'all' if model == 'lstm-nade' else 'last'


def default_metre_input(model):
    """Whether ``bach2 train`` feeds the position in the bar by default: for the LSTM-NADE (beyond the
    journal), not for the journal's own model."""
    return model == 'lstm-nade'


@dataclasses.dataclass
class ModelConfig:
    """Hyper-parameters, saved in every checkpoint; defaults follow the journal where it says."""
    n_layers: int = 2               # the journal tried 1 and 2
    n_hidden: int = 256             # N; the journal's named runs used 768 (fugue_N768epoch180)
    sequence_length: int = 64       # SEQUENCE_LENGTH, in steps (16th notes)
    batch_size: int = 64            # BATCH_SIZE
    grad_clipping: float = 10.0     # GRAD_CLIPPING: 1000 gave one repeated pitch, 10 (2 layers) a melody
    optimizer: str = 'adagrad'
    learning_rate: float = 0.05
    chord_weight: float = 0.0       # λ; 0 is the plain model
    note_cost: str = 'mean'         # 'mean' (Lasagne's aggregate), 'sum' over pitches, 'total' over pitches and batch
    mode: str = 'polyphonic'        # or 'monophonic' (bass line, softmax)
    chord_input: bool = False       # the journal's plan: the next step's chord (12 pitch classes) as extra input
    metre_input: bool = False       # the next step's position in its bar as extra input (bach2.music.metre)
    model: str = 'lstm'             # 'lstm-nade': the joint distribution of a step (bach2.nn.nade), polyphonic only
    articulation: bool = False      # lstm-nade: each step is P sounding then P struck pitches (the onset plane)
    nade_hidden: int = 150          # H, hidden units of the NADE
    pitch_order: str = 'up'         # lstm-nade: 'down' draws high to low, so a given top voice conditions exactly
    targets: str = 'last'           # 'last': window → next step (the journal's); 'all': every step, state carried
    input_dropout: float = 0.0      # dropout on the input steps (Lasagne's DropoutLayer; training only)
    dropout: float = 0.0            # dropout after each LSTM layer (between layers and before the output)
    n_pitches: int = N_PITCHES
    lowest_pitch: int = LOWEST_PITCH

    def __post_init__(self):
        if self.n_layers not in (1, 2):
            raise ValueError(f'n_layers must be 1 or 2, not {self.n_layers}')
        if self.optimizer not in OPTIMIZER_NAMES:
            raise ValueError(f'optimizer must be one of {OPTIMIZER_NAMES}, not {self.optimizer!r}')
        if self.mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, not {self.mode!r}')
        if self.model not in MODELS:
            raise ValueError(f'model must be one of {MODELS}, not {self.model!r}')
        if self.model == 'lstm-nade' and self.mode != 'polyphonic':
            raise ValueError('the lstm-nade model is polyphonic (a monophonic step is already one softmax)')
        if self.articulation and self.model != 'lstm-nade':
            raise ValueError('articulation (struck and held notes) is a model of the lstm-nade')
        if self.note_cost not in NOTE_COSTS:
            raise ValueError(f'note_cost must be one of {NOTE_COSTS}, not {self.note_cost!r}')
        if self.pitch_order not in PITCH_ORDERS:
            raise ValueError(f'pitch_order must be one of {PITCH_ORDERS}, not {self.pitch_order!r}')
        if self.pitch_order != 'up' and self.model != 'lstm-nade':
            raise ValueError('a pitch order is a choice of the lstm-nade (the lstm has no order)')
        if self.targets not in TARGETS:
            raise ValueError(f'targets must be one of {TARGETS}, not {self.targets!r}')
        for name in ('input_dropout', 'dropout'):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f'{name} must be in [0, 1), not {getattr(self, name)}')
        for name in ('n_hidden', 'sequence_length', 'batch_size', 'n_pitches', 'nade_hidden'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name} must be positive, not {getattr(self, name)}')

    @property
    def step_width(self):
        """Columns of a step the model reads and writes: P pitches, 2P with the onset plane."""
        return self.n_pitches * (2 if self.articulation else 1)

    @property
    def n_inputs(self):
        return self.step_width + 12 * self.chord_input + METRE_FEATURES * self.metre_input

    @property
    def rows(self):
        """What this model reads in each training row (:class:`~bach2.data.training_set.Rows`)."""
        return Rows(self.mode == 'monophonic', self.chord_input, self.metre_input, self.articulation)

    @property
    def n_outputs(self):
        return self.n_pitches + 1 if self.mode == 'monophonic' else self.step_width
