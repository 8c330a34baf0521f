"""Stages 1–2 of the journal's road map: a melody over a bass line, and a second melody from a melody.

"Stage 1: input a bass line, generate a melody; Stage 2: from that melody, write a new
melody" — the melody note at step t depends on the melody at t − 1 and the given line at t.

A *line* is one pitch per step: ``T`` int64 column indices into the pitch window
(column j = MIDI ``lowest_pitch + j``) with :func:`rest` = P for a silent step. Lines
taken from a ``T × P`` pitch matrix (:func:`extract_line`):

* ``lowest``: the lowest sounding pitch (the bass line of :func:`~bach2.time_series_to_pitch_matrix.bass_line`);
* ``highest``: the highest pitch where at least 2 pitches sound (else a rest: a lone voice is the bass);
* ``second``: the second highest where at least 3 sound (else a rest: two voices are bass and melody).

A pair (given line, generated line) is one of :data:`PAIRS`: ``bass-melody`` (lowest → highest) and
``melody-second`` (highest → second). Inputs at step t are two slots of P + 1 classes:
``[given line at t, generated line at t − 1]`` (a rest before the first step); the target is the
generated line at t (softmax over P pitches + rest). With ``chord_input`` a third slot holds the
chord of step t (:mod:`bach2.models.chord_model` tokens: 120 chords + silent), so a prescribed progression
can steer the line. With metre input (``extra['metre_input']``) a last slot holds the position of
step t in its bar (:func:`bach2.music.metre.position_classes`, from the positions stage 1 stored).
"""
import dataclasses
import pathlib

import numpy as np

from bach2.common import CorpusError
from bach2.data.training_set import piece_names, prepared_geometry, read_positions, read_sequences, step_chord_indices
from bach2.data.training_windows import split_by_bwv
from bach2.models.checkpoints import load_sequence_model
from bach2.models.chord_model import N_TOKENS, to_tokens
from bach2.models.sequence_model import SequenceConfig, one_hot_inputs, right_padded_window
from bach2.models.sequence_training import concatenate, sequence_nll, train_sequence_model
from bach2.music.metre import POSITION_CLASSES, fit_positions, position_classes, regular_positions
from bach2.time_series_to_pitch_matrix import JOURNAL_RESOLUTION, JOURNAL_STEP_TICKS

PAIRS = {'bass-melody': ('lowest', 'highest'), 'melody-second': ('highest', 'second')}
MIN_SOUNDING = {'lowest': 1, 'highest': 2, 'second': 3}      # pitches that must sound for the line to play


def rest(n_pitches):
    """Class index of a silent step (the last of P + 1)."""
    return n_pitches


def extract_line(pitch_matrix, which):
    """``T × P`` pitch matrix → ``T`` int64 line ('lowest', 'highest' or 'second'; P = rest)."""
    matrix = np.asarray(pitch_matrix) > 0
    n_steps, n_pitches = matrix.shape
    line = np.full(n_steps, rest(n_pitches), np.int64)
    count = matrix.sum(axis=1)
    for t in np.nonzero(count >= MIN_SOUNDING[which])[0]:
        sounding = np.nonzero(matrix[t])[0]
        line[t] = sounding[{'lowest': 0, 'highest': -1, 'second': -2}[which]]
    return line


def line_to_matrix(line, n_pitches):
    """``T`` line → ``T × P`` uint8 pitch matrix with one pitch (or none) per step; the inverse of 'lowest'."""
    line = np.asarray(line)
    matrix = np.zeros((len(line), n_pitches + 1), np.uint8)
    matrix[np.arange(len(line)), line] = 1
    return matrix[:, :n_pitches]


def pair_inputs(given, generated, n_pitches, chords=None, positions=None):
    """Given line and generated line (``T`` each) → ``T × 2`` inputs ``[given[t], generated[t − 1]]``,
    then ``chords[t]`` (``T`` chord tokens) and the class of ``positions[t]`` (``T × 2`` bar positions)
    when given."""
    previous = np.concatenate([[rest(n_pitches)], np.asarray(generated)[:-1]])
    columns = [np.asarray(given), previous] + ([] if chords is None else [np.asarray(chords)[:len(previous)]]) \
        + ([] if positions is None else [position_classes(positions[:len(previous)])])
    return np.stack(columns, axis=1)


@dataclasses.dataclass(frozen=True)
class LineInputs:
    """What a line model reads at each step: the given line of ``pair`` (a key of :data:`PAIRS`) in steps of
    ``step_ticks``, then the step's chord (``chord_input``) and its bar position (``metre_input``)."""
    pair: str = 'bass-melody'
    step_ticks: int = JOURNAL_STEP_TICKS
    chord_input: bool = False
    metre_input: bool = False


def line_pieces(data_dir, inputs, piece_indices, transpositions=(0,)):
    """Prepared pieces → [(``T × K`` inputs (:func:`pair_inputs`), ``T`` targets, name)] as ``inputs`` (a
    :class:`LineInputs`) says; K = 2, + 1 with ``chord_input``, + 1 with ``metre_input``."""
    given_line, generated_line = PAIRS[inputs.pair]
    folder, step_ticks = pathlib.Path(data_dir), inputs.step_ticks
    pieces = []
    for k in transpositions:
        path = folder / f'pitch_matrix_{step_ticks}ticks_sh{k}.npz'
        matrices, names = read_sequences(path, 'pitch_matrices')
        chords = read_sequences(folder / f'chord_sequence_sh{k}.npz', 'chord_sequences')[0] \
            if inputs.chord_input else None
        positions = read_positions(path) if inputs.metre_input else None
        for i in piece_indices:
            given, generated = extract_line(matrices[i], given_line), extract_line(matrices[i], generated_line)
            step_chords = None if chords is None else to_tokens(
                step_chord_indices(chords[i], len(matrices[i]), JOURNAL_RESOLUTION // step_ticks))
            pieces.append((pair_inputs(given, generated, matrices[i].shape[1], step_chords,
                                       None if positions is None else positions[i]),
                           generated, f'{names[i]}_sh{k}'))
    return pieces


def train_lines(config, training, pair='bass-melody', chord_input=False, progress=True, log=print):
    """Train a line model for ``pair`` on ``training.data_dir`` (split by BWV number) → (model, history).

    ``config``: a :class:`SequenceConfig` of the sizes and training settings (None: its defaults, L = 64);
    ``training``: a :class:`~bach2.models.sequence_training.SequenceTrainingConfig`; ``chord_input``: the step's
    chord as a third input.
    """
    data_dir = training.data_dir
    step_ticks, n_pitches, lowest_pitch = prepared_geometry(data_dir)
    inputs = LineInputs(pair, step_ticks, chord_input, training.metre_input)
    extra = {'pair': pair, 'n_pitches': n_pitches, 'lowest_pitch': lowest_pitch, 'step_ticks': step_ticks,
             'chord_input': chord_input, 'metre_input': inputs.metre_input}
    slots = (n_pitches + 1,) * 2 + ((N_TOKENS,) if chord_input else ()) \
        + ((POSITION_CLASSES,) if inputs.metre_input else ())
    config = dataclasses.replace(config or SequenceConfig(sequence_length=64), slot_sizes=slots,
                                 n_outputs=n_pitches + 1, kind='line', extra=extra)
    train_idx, valid_idx = split_by_bwv(piece_names(data_dir, step_ticks), training.valid_fraction, training.seed)
    train_data = concatenate(line_pieces(data_dir, inputs, train_idx, training.transpositions))
    valid_data = concatenate(line_pieces(data_dir, inputs, valid_idx, (0,))) if valid_idx else None
    log(f'{pair}: {len(train_idx)} training pieces × {len(training.transpositions)} keys = '
        f'{train_data.n_steps} steps; {len(valid_idx)} held out')
    return train_sequence_model(config, training, train_data, valid_data, progress=progress, log=log)


def count_baseline_nll(train_pieces, pieces, n_classes, alpha=1.0):
    """NLL per step (nats) of P(target | given[t], generated[t − 1]) from add-``alpha`` counts on
    ``train_pieces`` — the same inputs as the model, as a lookup table — on ``pieces``."""
    counts = np.zeros((n_classes, n_classes, n_classes))     # the first two slots (a chord slot is left out)
    for inputs, targets, _ in train_pieces:
        np.add.at(counts, (inputs[:, 0], inputs[:, 1], targets), 1.0)
    counts += alpha
    log_p = np.log(counts / counts.sum(axis=2, keepdims=True))
    inputs = np.concatenate([piece[0] for piece in pieces])
    targets = np.concatenate([piece[1] for piece in pieces])
    return float(-log_p[inputs[:, 0], inputs[:, 1], targets].mean())


def evaluate_lines(checkpoint, data_dir=None, alpha=1.0):
    """NLL per step (nats) of a line model on its held-out pieces (original keys), beside the add-``alpha``
    count table of :func:`count_baseline_nll` fitted on its training pieces and keys → dict."""
    model, meta = load_sequence_model(checkpoint, 'line', batch_size=None)
    extra = model.config.extra
    data_dir = data_dir or meta['data_dir']
    train_idx, valid_idx = split_by_bwv(piece_names(data_dir, extra['step_ticks']), meta['valid_fraction'],
                                        meta['seed'])
    if not valid_idx:
        raise CorpusError(f'{data_dir}: no held-out pieces (the split left every piece in training)')
    pieces = line_pieces(data_dir, LineInputs(extra['pair'], extra['step_ticks'], extra.get('chord_input', False),
                                              extra.get('metre_input', False)), valid_idx)
    nll, steps = sequence_nll(model, concatenate(pieces))
    train_pieces = line_pieces(data_dir, LineInputs(extra['pair'], extra['step_ticks']), train_idx,
                               meta['transpositions'])
    return {'model': nll, 'count_baseline': count_baseline_nll(train_pieces, pieces, model.config.n_outputs, alpha),
            'steps': steps, 'pieces': len(pieces), 'pair': extra['pair'], 'epoch': meta['epoch']}


def sample_line(predictor, given, temperature=1.0, seed=0, chords=None, positions=None):
    """Generate a line over the ``T`` given line → ``T`` int64 line (P = rest).

    Each step reads the last ≤ L rows ``[given[t], generated[t − 1]]`` from a zero state (as trained)
    and samples from ``p^(1/temperature)``, renormalised. ``chords``: ``T`` stage-2 chord indices per step,
    read only by a model trained with chord input (which then needs them). ``positions``: ``T × 2`` bar
    positions of the steps, read only by a model with metre input (default: bars of 4/4 from a downbeat).
    """
    if not temperature > 0:
        raise ValueError(f'temperature must be positive, not {temperature}')
    config = predictor.config
    n_pitches = config.extra['n_pitches']
    given = np.asarray(given, np.int64)
    rng = np.random.default_rng(seed)
    generated = np.full(len(given), rest(n_pitches), np.int64)
    if config.extra.get('chord_input'):
        if chords is None or len(chords) < len(given):
            raise ValueError('this line model was trained with chord input: give a chord for every step')
        tokens = to_tokens(chords)
    else:
        tokens = None
    if config.extra.get('metre_input'):
        bar = 4 * JOURNAL_RESOLUTION // config.extra['step_ticks']
        positions = fit_positions(regular_positions(1, bar) if positions is None else positions, len(given))
    else:
        positions = None
    for t in range(len(given)):
        rows = pair_inputs(given[:t + 1], generated[:t + 1], n_pitches, None if tokens is None else tokens[:t + 1],
                           None if positions is None else positions[:t + 1])
        window, last = right_padded_window(rows, config.sequence_length)
        p = np.asarray(predictor.predict(one_hot_inputs(window[None], config.slot_sizes))[0, last]).astype(np.float64)
        logits = np.log(np.maximum(p, 1e-30)) / temperature
        p = np.exp(logits - logits.max())
        generated[t] = rng.choice(len(p), p=p / p.sum())
    return generated
