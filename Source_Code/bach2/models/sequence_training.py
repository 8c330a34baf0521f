"""Data, windows, training loop and checkpoints of a :class:`~bach2.models.sequence_model.SequenceModel`.

A :class:`SequenceData` holds pieces concatenated: ``inputs`` ``N × K`` int16
class indices (one per input slot, −1 = nothing), ``targets`` ``N`` int16 (the
class to predict at that step) and ``piece_starts`` (``n + 1``). A window is
``L`` consecutive steps of one piece from a start row, padded past the piece's
end with weight 0, so no window crosses two pieces and short pieces still count.

* training windows start every ``stride`` steps of every piece (shuffled, by (seed, epoch));
* evaluation windows start every ``L`` steps, so every step is predicted exactly once
  (the first step of a window from a zero state, like the journal's windows).

Checkpoints are ``.npz`` of values only: ``meta`` (JSON: config, epoch, history)
and ``param:<name>`` arrays, written atomically; ``…_best.npz`` keeps the epoch of
lowest validation NLL per token.
"""
import dataclasses
import json
import math
import pathlib
import zipfile

import numpy as np
from tqdm import tqdm

from bach2.common import CheckpointError, TrainingDiverged
from bach2.safe_io import save_npz
from bach2.models.sequence_model import SequenceConfig, SequenceModel, one_hot_inputs


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


def save_checkpoint(path, model, meta):
    """``.npz`` of values: ``meta`` (JSON, with the config) and ``param:<name>`` arrays; atomic → path."""
    meta = {**meta, 'config': dataclasses.asdict(model.config)}
    save_npz(path, meta=np.array(json.dumps(meta)),
             **{f'param:{name}': value for name, value in model.get_state().items()})
    return path


def load_checkpoint(path):
    """→ (SequenceConfig, meta, state); CheckpointError naming the file when it is missing or not one."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path}: no such checkpoint')
    try:
        with np.load(path, allow_pickle=False) as arrays:
            meta = json.loads(str(arrays['meta']))
            state = {key.split(':', 1)[1]: arrays[key] for key in arrays.files if key.startswith('param:')}
        config = SequenceConfig(**meta['config'])
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
        reason = 'not an .npz archive' if not zipfile.is_zipfile(path) else error
        raise CheckpointError(f'{path}: not a checkpoint of a sequence model ({reason})') from None
    return config, meta, state


def train_sequence_model(config, train_data, valid_data, out_path, epochs=3, stride=None, max_batches=0,
                         seed=0, backend='jax', extra_meta=None, progress=True, log=print):
    """Train → (model, history); after every epoch a checkpoint at ``out_path`` (and ``…_best.npz``).

    ``stride``: steps between training window starts (default L // 2). History rows:
    epoch, train_cost (mean over batches), valid_nll_per_token (when there is validation data).
    """
    out_path = pathlib.Path(out_path)
    best_path = out_path.with_name(out_path.stem + '_best.npz')
    model = SequenceModel(config, backend=backend, seed=seed)
    starts = window_starts(train_data.piece_starts, stride or max(config.sequence_length // 2, 1))
    history, best = [], math.inf
    for epoch in range(1, epochs + 1):
        epoch_batches = batches(starts, config.batch_size, seed, epoch)
        if max_batches:
            epoch_batches = epoch_batches[:max_batches]
        costs = []
        bar = tqdm(epoch_batches, desc=f'epoch {epoch}/{epochs}', unit='batch', disable=not progress)
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
        meta = {'epoch': epoch, 'history': history, **(extra_meta or {})}
        save_checkpoint(out_path, model, meta)
        if row.get('valid_nll_per_token', -math.inf) < best or valid_data is None:
            best = row.get('valid_nll_per_token', best)
            save_checkpoint(best_path, model, meta)
        log(f'epoch {epoch}: train cost {row["train_cost"]:.3f}'
            + (f', validation NLL per token {row["valid_nll_per_token"]:.3f}' if 'valid_nll_per_token' in row else ''))
    return model, history
