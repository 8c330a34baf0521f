"""NLL per frame of a stage-3 model (:class:`~bach2.rnn_model.RNNModel`) on a
:class:`~bach2.data.training_set.TrainingSet`, and the batches that both it and training (:mod:`bach2.train`) feed
the model.

* :func:`stream_nll`: every frame of every piece predicted from everything before it in its piece, the first
  from silence, the LSTM state carried from chunk to chunk (the Trainer's validation, ``bach2 evaluate``);
* :func:`window_nll`: the step after each window, each window read from a zero state (the journal's measure).

NLL per frame: binary cross-entropy summed over pitches (or the softmax's cross-entropy), averaged over frames, in nats.
"""
import numpy as np
from tqdm import tqdm

from bach2.common import CorpusError
from bach2.data.training_windows import make_batch, make_X_Y, stream_chunks, stream_layout


def data_windows(data, sequence_length):
    """:class:`TrainingSet` → (X views, Y views, valid window starts) — see :func:`make_X_Y`."""
    if data.n_steps <= sequence_length:
        return None, None, np.zeros(0, np.int64)
    X, _, starts = make_X_Y(data.inputs, data.piece_starts, sequence_length)
    return X, data.targets[sequence_length:], starts


def feed(data, windows, batch_starts, weights, sequence_length):
    """The arguments of ``model.train`` / ``model.validate`` for one batch of window starts."""
    X, Y, _ = windows
    inputs, targets = make_batch(X, Y, batch_starts)
    return inputs, targets, data.chord_vectors(batch_starts + sequence_length), weights


def window_nll(model, data, max_windows=0, seed=0):
    """NLL per frame of the step after each window of ``data`` (a fixed random subset of ``max_windows``; 0 = all),
    each window read from a zero state — the journal's measure, and the README's before full-context evaluation."""
    L, B = model.config.sequence_length, model.config.batch_size
    windows = data_windows(data, L)
    starts = windows[2]
    if not len(starts):
        raise CorpusError(f'no window: every piece is shorter than SEQUENCE_LENGTH + 1 = {L + 1} steps')
    if max_windows:
        starts = np.sort(np.random.default_rng(seed).permutation(starts)[:max_windows])
    nll = frames = 0.0
    for b in range(0, len(starts), B):
        chunk = starts[b:b + B]
        weights = np.zeros(B, np.float32)
        weights[:len(chunk)] = 1.0
        _, batch_nll, batch_frames = model.validate(*feed(data, windows, np.resize(chunk, B), weights, L))
        nll, frames = nll + float(batch_nll), frames + float(batch_frames)
    return nll / frames


def stream_batch(data, rows, reset):
    """One chunk of streams (rows ``B × L``, −1 = nothing) → the arguments of ``model.train`` / ``model.evaluate``
    before the state: (X ``B × L × n_inputs``, Y ``B × L × n_outputs``, chords ``B × L × 12``, weights, reset)."""
    real = rows >= 0
    safe = np.where(real, rows, 0)
    X = data.inputs[safe].astype(np.float32) * real[:, :, None]
    Y = data.targets[safe + 1].astype(np.float32)
    chords = data.chord_vectors(safe + 1) * real[:, :, None]
    return X, Y, chords, real.astype(np.float32), reset


def stream_nll(model, data, progress=False):
    """→ (cost, NLL per frame in nats, frames, NLL of each row ``N``) of ``model`` on every frame of ``data``
    (pieces after one silent step), each predicted from everything before it in its piece; dropout off.
    The NLL of row r + 1 is that of the frame predicted after input row r (NaN for each piece's silent step)."""
    config = model.config
    cost_sum = nll_sum = weight_sum = 0.0
    row_nll = np.full(data.n_steps, np.nan)
    state = model.zero_state()
    chunks = stream_chunks(*stream_layout(data.piece_starts, config.batch_size), config.sequence_length)
    for rows, reset in tqdm(chunks, desc='NLL', unit='chunk', disable=not progress):
        cost, nll, weight, frame_nll, *state = model.evaluate(*stream_batch(data, rows, reset), *state)
        cost_sum += float(cost) * float(weight)
        nll_sum += float(nll)
        weight_sum += float(weight)
        row_nll[rows[rows >= 0] + 1] = np.asarray(frame_nll)[rows >= 0]
    return cost_sum / max(weight_sum, 1.0), nll_sum / max(weight_sum, 1.0), int(weight_sum), row_nll
