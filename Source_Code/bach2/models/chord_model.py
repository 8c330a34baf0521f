"""Stage 0 of the journal's road map: a model of chord progressions (one chord per quarter note).

Tokens: the 120 chords of stage 2 (:data:`bach2.chord_sequence.CHORD_NAMES`, index
0…119) and :data:`SILENT` = 120 for a quarter note without a chord (stage 2's
NO_CHORD); inputs also know :data:`START` = 121, put before the first chord
of every piece, so the first chord is predicted too. At step t the model reads
the token of step t − 1 (START at t = 0) and gives a softmax over the 121 tokens
of step t (:class:`~bach2.models.sequence_model.SequenceModel`). With metre input (``extra['metre_input']``)
a second slot holds the position of step t in its bar, in quarter notes (:mod:`bach2.music.metre`), read from
the bar positions that stage 1 stored beside the pitch matrices.

Keys: training uses the chord sequences of all 12 transpositions (``sh0…sh11``),
as the rest of stage 3 does, so every progression is seen in every key and the
model cannot lean on a key; a piece moved to C would instead rely on the key
finder, whose mistakes (relative major/minor, modulations) would blur the
progressions. Held-out pieces (split by BWV number) are measured in their
original key (``sh0``).

Baseline: :class:`Bigram`, P(token | previous token) from counts on the same
training pieces and transpositions, with add-``alpha`` smoothing over the 121 tokens.
"""
import dataclasses
import pathlib

import numpy as np

from bach2.chord_sequence import CHORD_NAMES, NO_CHORD
from bach2.common import CorpusError
from bach2.data.training_set import piece_names, prepared_geometry, read_positions, read_sequences
from bach2.data.training_windows import split_by_bwv
from bach2.models.checkpoints import load_sequence_model
from bach2.models.sequence_model import SequenceConfig, one_hot_inputs, right_padded_window
from bach2.models.sequence_training import concatenate, sequence_nll, train_sequence_model
from bach2.music.metre import POSITION_CLASSES, coarser_positions, fit_positions, position_classes, regular_positions
from bach2.time_series_to_pitch_matrix import JOURNAL_RESOLUTION

N_CHORDS = len(CHORD_NAMES)     # 120
SILENT = N_CHORDS               # token of a quarter note without a chord
START = N_CHORDS + 1            # input-only token before a piece's first chord
N_TOKENS = N_CHORDS + 1         # output classes: 120 chords + silent
N_INPUT_TOKENS = N_CHORDS + 2   # input classes: + START


def to_tokens(chords):
    """Stage-2 chord indices (NO_CHORD = −1) → int64 tokens (SILENT = 120)."""
    chords = np.asarray(chords, np.int64)
    return np.where(chords == NO_CHORD, SILENT, chords)


def to_chords(tokens):
    """Tokens → stage-2 chord indices, int16 (SILENT → NO_CHORD); the inverse of :func:`to_tokens`."""
    tokens = np.asarray(tokens, np.int64)
    return np.where(tokens == SILENT, NO_CHORD, tokens).astype(np.int16)


def quarter_positions(data_dir):
    """Per-piece ``Q × 2`` bar positions in quarter notes, from the stage-1 positions of a prepared folder
    (the same in every key); CorpusError when it was prepared before they were recorded."""
    step_ticks = prepared_geometry(data_dir)[0]
    positions = read_positions(pathlib.Path(data_dir) / f'pitch_matrix_{step_ticks}ticks_sh0.npz')
    return [coarser_positions(rows, JOURNAL_RESOLUTION // step_ticks) for rows in positions]


def load_chord_pieces(data_dir, piece_indices=None, transpositions=(0,), metre_input=False):
    """Prepared folder → [(tokens ``T`` int64, name, ``T × 2`` quarter-note bar positions or None)] for the
    pieces and transpositions asked for (positions with ``metre_input``).

    Names get ``_sh<k>`` appended. CorpusError names a missing or unreadable file.
    """
    pieces = []
    positions = quarter_positions(data_dir) if metre_input else None
    for k in transpositions:
        sequences, names = read_sequences(pathlib.Path(data_dir) / f'chord_sequence_sh{k}.npz', 'chord_sequences')
        for i in (range(len(names)) if piece_indices is None else piece_indices):
            tokens = to_tokens(sequences[i])
            pieces.append((tokens, f'{names[i]}_sh{k}',
                           None if positions is None else fit_positions(positions[i], len(tokens))))
    if not pieces:
        raise CorpusError(f'{data_dir}: no chord sequences to use')
    return pieces


def chord_inputs(tokens, positions=None):
    """``T`` tokens → ``T × 1`` input rows (the previous token, START first); ``T × 2`` with ``positions``
    (``T × 2``: the bar position of each step predicted)."""
    previous = np.concatenate([[START], np.asarray(tokens)[:-1]])[:, None]
    return previous if positions is None else np.column_stack([previous, position_classes(positions)])


def sequence_data(pieces):
    """[(tokens, name[, positions or None])] → :class:`~bach2.models.sequence_training.SequenceData`."""
    return concatenate([(chord_inputs(tokens, *positions), tokens, name) for tokens, name, *positions in pieces])


class Bigram:
    """P(token | previous token) with add-``alpha`` smoothing; the previous token of a first chord is START.

    ``counts``: ``N_INPUT_TOKENS × N_TOKENS`` float64 transition counts.
    """

    def __init__(self, pieces=(), alpha=1.0):
        self.alpha = alpha
        self.counts = np.zeros((N_INPUT_TOKENS, N_TOKENS))
        for tokens, *_ in pieces:
            previous = np.concatenate([[START], tokens[:-1]])
            np.add.at(self.counts, (previous, tokens), 1.0)

    def probabilities(self):
        """``N_INPUT_TOKENS × N_TOKENS`` smoothed conditional probabilities (rows sum to 1)."""
        smoothed = self.counts + self.alpha
        return smoothed / smoothed.sum(axis=1, keepdims=True)

    def nll(self, pieces):
        """→ (NLL per token in nats, tokens) on ``pieces`` [(tokens, name, …)], every token predicted once."""
        log_p = np.log(self.probabilities())
        total, n = 0.0, 0
        for tokens, *_ in pieces:
            previous = np.concatenate([[START], tokens[:-1]])
            total -= log_p[previous, tokens].sum()
            n += len(tokens)
        return total / max(n, 1), n


def unigram_nll(train_pieces, pieces, alpha=1.0):
    """NLL per token of the add-``alpha`` token frequencies of ``train_pieces`` on ``pieces`` (nats)."""
    counts = np.full(N_TOKENS, alpha)
    for tokens, *_ in train_pieces:
        counts += np.bincount(tokens, minlength=N_TOKENS)
    log_p = np.log(counts / counts.sum())
    tokens = np.concatenate([piece[0] for piece in pieces])
    return float(-log_p[tokens].mean())


@dataclasses.dataclass
class ChordSampling:
    """How :func:`sample_tokens` draws: from ``p^(1/temperature)``, renormalised, with ``default_rng(seed)``;
    the SILENT token only with ``allow_silent``."""
    temperature: float = 1.0        # below 1: safer, above 1: wilder
    seed: int = 0
    allow_silent: bool = False


def sample_tokens(predictor, n_chords, sampling=None, primer=(), positions=None):
    """Continue ``primer`` tokens by ``n_chords`` → int64 tokens (primer excluded).

    ``predictor``: a :class:`SequenceModel` of batch 1 (``training=False``). Each step reads the last ≤ L
    input tokens from a zero state (as trained) and draws as ``sampling`` (a :class:`ChordSampling`; None: its
    defaults) says. A model with metre input reads ``positions`` (quarter notes, primer and continuation;
    default: bars of 4/4, the primer on a downbeat).
    """
    sampling = sampling or ChordSampling()
    temperature = sampling.temperature
    if not temperature > 0:
        raise ValueError(f'temperature must be positive, not {temperature}')
    rng = np.random.default_rng(sampling.seed)
    inputs = [START] + [int(token) for token in primer]
    if predictor.config.extra.get('metre_input'):
        positions = fit_positions(regular_positions(1, 4) if positions is None else positions,
                                  len(inputs) - 1 + n_chords)
    else:
        positions = None
    out = []
    length = predictor.config.sequence_length
    for _ in range(n_chords):
        rows = chord_inputs(np.asarray(inputs[1:] + [0]), None if positions is None else positions[:len(inputs)])
        window, last = right_padded_window(rows, length)
        p = predictor.predict(one_hot_inputs(window[None], predictor.config.slot_sizes))[0, last]
        p = np.asarray(p).astype(np.float64)
        if not sampling.allow_silent:
            p[SILENT] = 0.0
        logits = np.log(np.maximum(p, 1e-30)) / temperature
        p = np.exp(logits - logits.max())
        token = int(rng.choice(N_TOKENS, p=p / p.sum()))
        inputs.append(token)
        out.append(token)
    return np.asarray(out, np.int64)


def chord_split(data_dir, valid_fraction=0.1, seed=0):
    """(train, valid) piece indices of a prepared folder, split by BWV number as stage 3 does."""
    return split_by_bwv(piece_names(data_dir), valid_fraction, seed)


def train_chords(config, training, progress=True, log=print):
    """Train the chord model on the training pieces of ``training.data_dir`` → (model, history); checkpoints at
    ``training.out_path``.

    ``config``: a :class:`SequenceConfig` of the sizes and training settings (None: its defaults); the slots,
    outputs and kind are the chord model's. ``training``: a
    :class:`~bach2.models.sequence_training.SequenceTrainingConfig`.
    """
    data_dir, metre_input = training.data_dir, training.metre_input
    slots = (N_INPUT_TOKENS,) + ((POSITION_CLASSES,) if metre_input else ())
    config = dataclasses.replace(config or SequenceConfig(), slot_sizes=slots, n_outputs=N_TOKENS, kind='chords',
                                 extra={'metre_input': metre_input})
    train_idx, valid_idx = chord_split(data_dir, training.valid_fraction, training.seed)
    train_data = sequence_data(load_chord_pieces(data_dir, train_idx, training.transpositions, metre_input))
    valid_data = sequence_data(load_chord_pieces(data_dir, valid_idx, (0,), metre_input)) if valid_idx else None
    log(f'{len(train_idx)} training pieces × {len(training.transpositions)} keys = {train_data.n_steps} chords; '
        f'{len(valid_idx)} held out ({0 if valid_data is None else valid_data.n_steps} chords, original keys)')
    return train_sequence_model(config, training, train_data, valid_data, progress=progress, log=log)


def evaluate_chords(checkpoint, data_dir=None, alpha=1.0, progress=False):
    """NLL per chord of a checkpoint on the held-out pieces (its own split, original keys) against baselines.

    → dict: model, bigram (add-``alpha``, fitted on the training pieces in the checkpoint's transpositions),
    unigram, tokens, pieces. ``data_dir`` defaults to the folder the model was trained on.
    """
    model, meta = load_sequence_model(checkpoint, 'chords', batch_size=None)
    config = model.config
    data_dir = data_dir or meta['data_dir']
    train_idx, valid_idx = chord_split(data_dir, meta['valid_fraction'], meta['seed'])
    if not valid_idx:
        raise CorpusError(f'{data_dir}: no held-out pieces (the split left every piece in training)')
    held_out = load_chord_pieces(data_dir, valid_idx, (0,), config.extra.get('metre_input', False))
    train_pieces = load_chord_pieces(data_dir, train_idx, meta['transpositions'])
    nll, tokens = sequence_nll(model, sequence_data(held_out), progress=progress)
    bigram = float(Bigram(train_pieces, alpha).nll(held_out)[0])
    return {'model': nll, 'bigram': bigram, 'unigram': unigram_nll(train_pieces, held_out, alpha),
            'tokens': tokens, 'pieces': len(held_out), 'epoch': meta['epoch']}
