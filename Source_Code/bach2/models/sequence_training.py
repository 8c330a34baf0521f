"""Data, windows and training loop of a :class:`~bach2.models.sequence_model.SequenceModel`.

A :class:`SequenceData` holds pieces concatenated: ``inputs`` ``N × K`` int16
class indices (one per input slot, −1 = nothing), ``targets`` ``N`` int16 (the
class to predict at that step) and ``piece_starts`` (``n + 1``). A window is
``L`` consecutive steps of one piece from a start row, padded past the piece's
end with weight 0, so no window crosses two pieces and short pieces still count.

* training windows start every ``stride`` steps of every piece (shuffled, by (seed, epoch));
* evaluation windows start every ``L`` steps, so every step is predicted exactly once
  (the first step of a window from a zero state, like the journal's windows).

After every epoch a sequence checkpoint (:mod:`bach2.models.checkpoints`); ``…_best.npz``
keeps the epoch of lowest validation NLL per token.
"""
import dataclasses
import math
import pathlib

import numpy as np
from tqdm import tqdm

from bach2.common import TrainingDiverged
from bach2.models.checkpoints import best_checkpoint_path, save_model_checkpoint
from bach2.models.sequence_model import SequenceModel, one_hot_inputs


@dataclasses.dataclass
class SequenceTrainingConfig:
    """How a road-map model is trained (``bach2 chords train``, ``bach2 lines train``); the folder, split and keys
    are saved in its checkpoints. Network sizes: its :class:`~bach2.models.sequence_model.SequenceConfig`."""
    out_path: str                       # the checkpoint, .npz (and its twin …_best.npz)
    data_dir: str = 'training_data'     # prepared data
    epochs: int = 3
    max_batches: int = 0                # per epoch; 0 = all
    valid_fraction: float = 0.1         # share of the BWV numbers held out
    seed: int = 0                       # the split, the initial weights and the order of the batches
    transpositions: tuple = tuple(range(12))   # keys sh<k> of the training pieces (held-out pieces: sh0)
    metre_input: bool = False           # the position of each step in its bar as an input
    stride: int = 0                     # steps between training window starts; 0 = L // 2
    backend: str = 'jax'


@dataclasses.dataclass
class SequenceData:
    inputs: np.ndarray          # N × K int16 class index per slot (−1 = nothing)
    targets: np.ndarray         # N int16 class to predict
    piece_starts: np.ndarray    # n + 1 int64
    names: list

    @property
    def n_steps(self):
        return len(self.targets)


def concatenate(pieces):
    """[(``T × K`` inputs, ``T`` targets, name)] → :class:`SequenceData` (empty pieces dropped)."""
    pieces = [piece for piece in pieces if len(piece[1])]
    if not pieces:
        raise ValueError('no steps to train or evaluate on (every piece is empty)')
    starts = np.concatenate([[0], np.cumsum([len(targets) for _, targets, _ in pieces])]).astype(np.int64)
    return SequenceData(inputs=np.concatenate([np.asarray(i, np.int16) for i, _, _ in pieces]),
                        targets=np.concatenate([np.asarray(t, np.int16) for _, t, _ in pieces]),
                        piece_starts=starts, names=[name for _, _, name in pieces])


def window_starts(piece_starts, stride):
    """Start rows every ``stride`` steps inside each piece (int64)."""
    return np.concatenate([np.arange(begin, end, stride, dtype=np.int64)
                           for begin, end in zip(piece_starts[:-1], piece_starts[1:])])


def make_windows(data, starts, length, weights=None):
    """Window start rows → (``B × L × K`` indices, ``B × L`` int32 targets, ``B × L`` float32 weights).

    Steps past the end of a window's piece get index −1, target 0 and weight 0;
    ``weights`` (``B``) scales whole windows (0 for the padding of a last batch).
    """
    piece_end = data.piece_starts[np.searchsorted(data.piece_starts, starts, side='right')]
    rows = starts[:, None] + np.arange(length)[None, :]                       # B × L
    real = rows < piece_end[:, None]
    rows = np.where(real, rows, 0)
    X = np.where(real[:, :, None], data.inputs[rows], -1)
    Y = np.where(real, data.targets[rows], 0).astype(np.int32)
    W = real.astype(np.float32) * (1.0 if weights is None else np.asarray(weights, np.float32)[:, None])
    return X, Y, W


def batches(starts, batch_size, seed=0, epoch=0, shuffle=True):
    """→ [(starts ``B``, weights ``B``)]; the last batch is filled with weight-0 windows (static shapes)."""
    order = np.random.default_rng([seed, epoch]).permutation(starts) if shuffle else np.asarray(starts)
    out = []
    for b in range(0, len(order), batch_size):
        chunk = order[b:b + batch_size]
        weights = np.ones(batch_size, np.float32)
        weights[len(chunk):] = 0.0
        out.append((np.resize(chunk, batch_size), weights))
    return out


def feed(model, data, starts, weights):
    """The arguments of ``model.train`` / ``model.nll`` for a batch of window starts."""
    X, Y, W = make_windows(data, starts, model.config.sequence_length, weights)
    return one_hot_inputs(X, model.config.slot_sizes), Y, W


def sequence_nll(model, data, progress=False):
    """→ (NLL per token in nats, tokens) of ``model`` on every step of ``data`` (windows every L steps)."""
    total = weight = 0.0
    for starts, weights in tqdm(batches(window_starts(data.piece_starts, model.config.sequence_length),
                                        model.batch_size, shuffle=False), desc='NLL', unit='batch',
                                disable=not progress):
        nll, w = model.nll(*feed(model, data, starts, weights))
        total, weight = total + float(nll), weight + float(w)
    return total / max(weight, 1.0), int(weight)


def train_sequence_model(config, training, train_data, valid_data, progress=True, log=print):
    """Train a :class:`SequenceModel` of ``config`` as ``training`` (a :class:`SequenceTrainingConfig`) says →
    (model, history); after every epoch a checkpoint at ``training.out_path`` (and ``…_best.npz``).

    History rows: epoch, train_cost (mean over batches), valid_nll_per_token and valid_tokens (when there is
    validation data).
    """
    out_path = pathlib.Path(training.out_path)
    model = SequenceModel(config, backend=training.backend, seed=training.seed)
    starts = window_starts(train_data.piece_starts, training.stride or max(config.sequence_length // 2, 1))
    data_meta = {'data_dir': str(training.data_dir), 'valid_fraction': training.valid_fraction, 'seed': training.seed,
                 'transpositions': list(training.transpositions)}
    history, best = [], math.inf
    for epoch in range(1, training.epochs + 1):
        epoch_batches = batches(starts, config.batch_size, training.seed, epoch)
        if training.max_batches:
            epoch_batches = epoch_batches[:training.max_batches]
        costs = []
        bar = tqdm(epoch_batches, desc=f'epoch {epoch}/{training.epochs}', unit='batch', disable=not progress)
        for batch_starts, weights in bar:
            cost = float(model.train(*feed(model, train_data, batch_starts, weights)))
            if not math.isfinite(cost):
                raise TrainingDiverged(f'the loss became {cost} in epoch {epoch}; {out_path} keeps the last good epoch')
            costs.append(cost)
            bar.set_postfix(loss=f'{np.mean(costs[-50:]):.3f}')
        row = {'epoch': epoch, 'train_cost': float(np.mean(costs))}
        if valid_data is not None:
            row['valid_nll_per_token'], row['valid_tokens'] = sequence_nll(model, valid_data)
        history.append(row)
        meta = {'epoch': epoch, 'history': history, **data_meta}
        save_model_checkpoint(out_path, model, meta)
        if row.get('valid_nll_per_token', -math.inf) < best or valid_data is None:
            best = row.get('valid_nll_per_token', best)
            save_model_checkpoint(best_checkpoint_path(out_path), model, meta)
        log(f'epoch {epoch}: train cost {row["train_cost"]:.3f}'
            + (f', validation NLL per token {row["valid_nll_per_token"]:.3f}' if 'valid_nll_per_token' in row else ''))
    return model, history
