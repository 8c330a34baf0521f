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

import numpy as np

from bach2.models.chord_model import N_TOKENS, to_tokens
from bach2.music.metre import POSITION_CLASSES, fit_positions, position_classes, regular_positions
from bach2.common import CorpusError
from bach2.models.sequence_model import SequenceConfig, SequenceModel, one_hot_inputs, right_padded_window
from bach2.models.sequence_training import concatenate, load_checkpoint, sequence_nll, train_sequence_model
from bach2.time_series_to_pitch_matrix import JOURNAL_RESOLUTION
from bach2.data.training_set import (_path, piece_names, prepared_geometry, read_positions, read_sequences,
                                step_chord_indices)
from bach2.data.training_windows import split_by_bwv

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


def line_pieces(data_dir, pair, piece_indices, transpositions=(0,), step_ticks=24, chord_input=False,
                metre_input=False):
    """Prepared pieces → [(``T × K`` inputs (:func:`pair_inputs`), ``T`` targets, name)] for ``pair``
    (a key of :data:`PAIRS`); K = 2, + 1 with ``chord_input``, + 1 with ``metre_input``."""
    given_line, generated_line = PAIRS[pair]
    pieces = []
    for k in transpositions:
        path = _path(data_dir, f'pitch_matrix_{step_ticks}ticks_sh{k}.npz')
        matrices, names = read_sequences(path, 'pitch_matrices')
        chords = read_sequences(_path(data_dir, f'chord_sequence_sh{k}.npz'), 'chord_sequences')[0] \
            if chord_input else None
        positions = read_positions(path) if metre_input else None
        for i in piece_indices:
            given, generated = extract_line(matrices[i], given_line), extract_line(matrices[i], generated_line)
            step_chords = None if chords is None else to_tokens(
                step_chord_indices(chords[i], len(matrices[i]), JOURNAL_RESOLUTION // step_ticks))
            pieces.append((pair_inputs(given, generated, matrices[i].shape[1], step_chords,
                                       None if positions is None else positions[i]),
                           generated, f'{names[i]}_sh{k}'))
    return pieces


def train_lines(data_dir, out_path, pair='bass-melody', config=None, epochs=3, max_batches=0, valid_fraction=0.1,
                seed=0, transpositions=tuple(range(12)), chord_input=False, metre_input=False, progress=True,
                log=print):
    """Train a line model for ``pair`` on ``data_dir`` (split by BWV number) → (model, history)."""
    step_ticks, n_pitches, lowest_pitch = prepared_geometry(data_dir)
    extra = {'pair': pair, 'n_pitches': n_pitches, 'lowest_pitch': lowest_pitch, 'step_ticks': step_ticks,
             'chord_input': chord_input, 'metre_input': metre_input}
    slots = (n_pitches + 1,) * 2 + ((N_TOKENS,) if chord_input else ()) + ((POSITION_CLASSES,) if metre_input else ())
    config = dataclasses.replace(config or SequenceConfig(sequence_length=64), slot_sizes=slots,
                                 n_outputs=n_pitches + 1, kind='line', extra=extra)
    train_idx, valid_idx = split_by_bwv(piece_names(data_dir, step_ticks), valid_fraction, seed)
    settings = (step_ticks, chord_input, metre_input)
    train_data = concatenate(line_pieces(data_dir, pair, train_idx, transpositions, *settings))
    valid_data = concatenate(line_pieces(data_dir, pair, valid_idx, (0,), *settings)) if valid_idx else None
    log(f'{pair}: {len(train_idx)} training pieces × {len(transpositions)} keys = {train_data.n_steps} steps; '
        f'{len(valid_idx)} held out')
    meta = {'data_dir': str(data_dir), 'valid_fraction': valid_fraction, 'seed': seed,
            'transpositions': list(transpositions)}
    return train_sequence_model(config, train_data, valid_data, out_path, epochs=epochs, max_batches=max_batches,
                                seed=seed, extra_meta=meta, progress=progress, log=log)


def load_line_model(checkpoint, batch_size=1):
    """A line-model checkpoint → (SequenceModel of ``batch_size`` windows without optimizer, meta)."""
    config, meta, state = load_checkpoint(checkpoint)
    if config.kind != 'line':
        raise CorpusError(f'{checkpoint}: a {config.kind!r} model, not a line model (bach2 lines train)')
    model = SequenceModel(config, batch_size=batch_size, training=False)
    model.set_state(state, parameters_only=True)
    return model, meta


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
    model, meta = load_line_model(checkpoint, batch_size=None)
    extra = model.config.extra
    data_dir = data_dir or meta['data_dir']
    train_idx, valid_idx = split_by_bwv(piece_names(data_dir, extra['step_ticks']), meta['valid_fraction'],
                                        meta['seed'])
    if not valid_idx:
        raise CorpusError(f'{data_dir}: no held-out pieces (the split left every piece in training)')
    pieces = line_pieces(data_dir, extra['pair'], valid_idx, (0,), extra['step_ticks'], extra.get('chord_input', False),
                         extra.get('metre_input', False))
    nll, steps = sequence_nll(model, concatenate(pieces))
    train_pieces = line_pieces(data_dir, extra['pair'], train_idx, meta['transpositions'], extra['step_ticks'])
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
