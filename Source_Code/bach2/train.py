"""Stage 3 training loop: epochs of shuffled batches, validation, checkpoints, resume.

* Split by piece — by BWV number, so one work never sits on both sides, or as
  the folder's ``split.json`` says (the JSB Chorales benchmark) — then the
  chosen transpositions of each side.
* ``targets='last'`` (the journal's): shuffled batches of windows, each teaching the
  step after it. ``targets='all'``: every piece of the epoch, in a shuffled order,
  laid end to end in B streams and cut into chunks of L steps; the LSTM state is
  carried from chunk to chunk (truncated back-propagation through time) and reset
  where a piece begins, so every frame is a target exactly once per epoch
  (:func:`~bach2.data.training_windows.stream_layout`).
* Validation (and :func:`stream_nll`) predicts every frame of a validation piece
  from everything before it in that piece, the first from silence, whatever the mode.
* Every epoch: a progress bar with the running loss, the train and validation NLL
  per frame (the journal's cross-validation error), frames predicted per second, a CSV
  row, the training-curve PNG, and a checkpoint (atomic ``.npz`` + a ``.p`` of the same
  plain values: parameters, optimizer state, hyper-parameters, epoch, history);
  ``…_best.npz`` / ``.p`` keep the epoch of lowest validation NLL so far.
* ``resume=True`` continues from the checkpoint so that, with the same seed,
  the loss sequence equals an uninterrupted run's (batch order depends only on
  seed and epoch). Ctrl-C saves a checkpoint at the current batch first.
* ``plateau_decay`` < 1 multiplies the learning rate by it after each epoch
  whose validation NLL is no new best (the rate of each epoch is in the history
  and the CSV); the default 1 keeps the journal's constant rate.
* ``patience`` > 0 stops after that many epochs without a new best validation NLL
  (early stopping; the best checkpoint stays in ``…_best.npz``).
* A NaN or infinite loss stops training with :class:`TrainingDiverged`; the
  last good checkpoint stays on disk.
"""
import csv
import dataclasses
import json
import math
import pathlib
import shutil
import time
import zipfile

import numpy as np
from tqdm import tqdm

from bach2.models.model_config import ModelConfig
from bach2.common import CheckpointError, TrainingDiverged
from bach2.common import CorpusError
from bach2.rnn_model import RNNModel
from bach2.safe_io import atomic_path, load_pickle, save_npz, save_pickle, save_png
from bach2.data.training_set import load_training_set, piece_names, read_split, select_pieces, split_indices
from bach2.data.training_windows import (bwv_number, iterate_batches, make_batch, make_X_Y, split_by_bwv, stream_chunks,
                                    stream_layout)


@dataclasses.dataclass
class TrainConfig:
    data_dir: str = 'training_data'
    out_dir: str = 'checkpoints'
    epochs: int = 10
    seed: int = 0
    valid_fraction: float = 0.1
    transpositions: tuple = tuple(range(12))   # sh<k> used for training (and validation, unless …)
    valid_transpositions: tuple = ()           # … these are given, e.g. (0,): validate in the original keys
    step_ticks: int = 24
    pad_start: bool = False         # SEQUENCE_LENGTH silent steps before each piece: every step is a target
    backend: str = 'jax'
    max_batches: int = 0            # per epoch; 0 = all (quick runs use a few)
    max_valid_frames: int = 0       # validation: whole pieces of a fixed random order up to this many frames; 0 = all
    piece_steps: int = 0            # keep the first N steps of each piece (64 = 4 bars of 4/4); 0 = all
    max_steps: int = 0              # keep the first N training steps, pieces in order (the journal's [:4800]); 0 = all
    plateau_decay: float = 1.0      # learning rate × this after each epoch whose validation NLL is no new best; 1 = off
    patience: int = 0               # stop after this many epochs without a new best validation NLL; 0 = never
    log_gate_gradients: bool = False  # record, per batch and LSTM layer, the largest gradient reaching its gates


def training_split(train_config):
    """(train, valid) piece indices: the folder's ``split.json`` if it has one, else by BWV number."""
    data_dir = train_config.data_dir
    names = piece_names(data_dir, train_config.step_ticks)
    split = read_split(data_dir)
    if split is None:
        return split_by_bwv(names, train_config.valid_fraction, train_config.seed)
    return (split_indices(names, split, 'train', data_dir),
            split_indices(names, split, 'valid', data_dir) if 'valid' in split else [])


def run_name(model_config):
    """'lstm_polyphonic_N256_2layers' ('lstmnade_…' for the NADE model) — the stem of the checkpoint, log and curve files."""
    model = 'lstmnade' if model_config.model == 'lstm-nade' else 'lstm'
    return f'{model}_{model_config.mode}_N{model_config.n_hidden}_{model_config.n_layers}layers'


def checkpoint_path(train_config, model_config):
    return pathlib.Path(train_config.out_dir) / f'{run_name(model_config)}.npz'


def best_checkpoint_path(path):
    """The twin of checkpoint ``path`` that keeps the epoch of lowest validation NLL (model selection)."""
    path = pathlib.Path(path)
    return path.with_name(f'{path.stem}_best{path.suffix}')


def save_checkpoint(path, model, train_config, epoch, batch, history, carry=None):
    """Write ``path`` (.npz) and ``path.with_suffix('.p')`` atomically: values only, never objects.

    ``carry``: the LSTM state carried between chunks, when an every-step epoch stops mid-way
    (``carry:<k>`` arrays, read back by :func:`load_carry`).
    """
    nlls = [row['valid_nll_per_frame'] for row in history if 'valid_nll_per_frame' in row]
    meta = {'model_config': dataclasses.asdict(model.config), 'train_config': dataclasses.asdict(train_config),
            'epoch': epoch, 'batch': batch, 'history': history, 'best_valid_nll_per_frame': min(nlls, default=None)}
    state = model.get_state()
    save_npz(path, meta=np.array(json.dumps(meta)), **{f'param:{name}': value for name, value in state.items()},
             **{f'carry:{k}': np.asarray(value) for k, value in enumerate(carry or [])})
    save_pickle({**meta, 'state': state}, path.with_suffix('.p'))


def load_checkpoint(path):
    """→ (meta dict, state {name: array}); reads the ``.npz`` (no pickle runs); CheckpointError if unreadable."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            meta = json.loads(str(arrays['meta']))
            state = {key.split(':', 1)[1]: arrays[key] for key in arrays.files if key.startswith('param:')}
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(f'{path}: not a Bach2.0 checkpoint ({error})') from None
    missing = [key for key in ('model_config', 'epoch', 'batch', 'history') if key not in meta]
    if missing or not state:
        raise CheckpointError(f'{path}: not a Bach2.0 checkpoint (no {", ".join(missing) or "parameters"})')
    return meta, state


def export_model(checkpoint, folder, command='', temperature=1.0):
    """A checkpoint → ``folder`` with what a model needs to be used and trusted, and nothing to resume from:
    ``model.npz`` (its parameters without the optimizer's accumulators, and its meta), the training log
    (``.csv``) and curve (``.png``) beside the checkpoint, and ``model.json``: the configurations, the
    ``command`` that trained it, its history per epoch, the pieces it trained on and held out (names, BWV numbers) and
    the sampling ``temperature`` to use with it. → the ``model.npz`` path; no pickle is written or read."""
    meta, state = load_checkpoint(checkpoint)
    model_config = ModelConfig(**meta['model_config'])
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    parameters = {name: value for name, value in state.items()
                  if not name.startswith(f'{model_config.optimizer}_state')}
    train_config = TrainConfig(**{key: tuple(value) if isinstance(value, list) else value
                                  for key, value in meta['train_config'].items()})
    names = piece_names(train_config.data_dir, train_config.step_ticks)
    sides = {side: [names[i] for i in indices] for side, indices in zip(('trained_on', 'held_out'),
                                                                       training_split(train_config))}
    history = [{key: value for key, value in row.items() if not key.startswith('batch_')}   # per epoch only
               for row in meta['history']]
    record = {**meta, 'history': history, 'command': command, 'temperature': temperature, **sides,
              'bwv_trained_on': sorted({bwv_number(name) for name in sides['trained_on']} - {None}),
              'bwv_held_out': sorted({bwv_number(name) for name in sides['held_out']} - {None})}
    save_npz(folder / 'model.npz', meta=np.array(json.dumps(record)),
             **{f'param:{name}': value for name, value in parameters.items()})
    with atomic_path(folder / 'model.json') as temporary:
        pathlib.Path(temporary).write_text(json.dumps(record, indent=1))
    stem = pathlib.Path(checkpoint)
    stem = stem.with_name(stem.stem.removesuffix('_best'))
    for suffix, name in (('.csv', 'training_log.csv'), ('.png', 'training_curve.png')):
        if stem.with_suffix(suffix).is_file():
            with atomic_path(folder / name) as temporary:
                shutil.copyfile(stem.with_suffix(suffix), temporary)
    return folder / 'model.npz'


def load_carry(path):
    """The carried LSTM state saved with a checkpoint stopped mid-epoch → list of arrays (empty when none)."""
    with np.load(path, allow_pickle=False) as arrays:
        keys = sorted((key for key in arrays.files if key.startswith('carry:')), key=lambda key: int(key[6:]))
        return [arrays[key] for key in keys]


def read_checkpoint_pickle(path):
    """The ``.p`` twin of a checkpoint through the restricted unpickler (for IPython users)."""
    return load_pickle(path)


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


class Trainer:
    """Holds the model and the two data sets; :meth:`run` trains.

    ``train_set``: the training pieces (after SEQUENCE_LENGTH silent steps with ``pad_start``, or one
    silent step with ``targets='all'``); ``train_windows`` (``targets='last'``): from :func:`data_windows`.
    ``valid_set``: the validation pieces after one silent step (every frame predicted), or None.
    """

    def __init__(self, model_config, train_config, state=None):
        self.model_config, self.config = model_config, train_config
        train_idx, valid_idx = training_split(train_config)
        if not train_idx:
            raise CorpusError(f'{train_config.data_dir}: no piece left for training '
                              f'(valid_fraction {train_config.valid_fraction} or split.json holds out all {len(valid_idx)})')
        load = dict(step_ticks=train_config.step_ticks, monophonic=model_config.mode == 'monophonic',
                    chord_input=model_config.chord_input, metre_input=model_config.metre_input,
                    articulation=model_config.articulation, piece_steps=train_config.piece_steps)
        L = model_config.sequence_length
        self.every_step = model_config.targets == 'all'
        pad = 1 if self.every_step else L if train_config.pad_start else 0
        self.train_set = load_training_set(train_config.data_dir, train_idx, max_steps=train_config.max_steps,
                                           transpositions=train_config.transpositions, pad=pad, **load)
        self.valid_set = load_training_set(train_config.data_dir, valid_idx, pad=1, transpositions=(
            train_config.valid_transpositions or train_config.transpositions), **load) if valid_idx else None
        if self.every_step:
            self.train_windows = None
            if self.train_set.n_steps <= len(self.train_set.names):    # checked before compiling: fails fast
                raise CorpusError(f'{train_config.data_dir}: no training frame: every training piece is empty')
        else:
            self.train_windows = data_windows(self.train_set, L)
            if not len(self.train_windows[2]):
                raise CorpusError(f'{train_config.data_dir}: no training window: every training piece is shorter '
                                  f'than SEQUENCE_LENGTH + 1 = {L + 1} steps')
        if self.valid_set is not None and self.valid_set.n_steps <= len(self.valid_set.names):
            self.valid_set = None             # every validation piece is empty
        if self.valid_set is not None and train_config.max_valid_frames:
            self.valid_set = select_pieces(self.valid_set, train_config.max_valid_frames, train_config.seed)
        self.model = RNNModel(model_config, backend=train_config.backend, seed=train_config.seed,
                              log_gate_gradients=train_config.log_gate_gradients)
        if state is not None:
            self.model.set_state(state)

    def valid_primer(self):
        """The first SEQUENCE_LENGTH steps of the middle validation piece, a primer for sampling → (``≤ L × P``
        uint8 (``2P`` with articulation), their ``≤ L × 2`` bar positions or None)."""
        data, middle = self.valid_set, len(self.valid_set.names) // 2
        begin, end = data.piece_starts[middle] + 1, data.piece_starts[middle + 1]      # after its silent step
        rows = slice(begin, min(end, begin + self.model_config.sequence_length))
        positions = None if data.positions is None else data.positions[rows]
        return data.inputs[rows, :self.model_config.step_width], positions

    def _feed(self, data, windows, batch_starts, weights):
        return feed(data, windows, batch_starts, weights, self.model_config.sequence_length)

    def validate(self):
        """→ (validation cost, NLL per frame in nats) over every validation frame, each from its piece's whole past."""
        cost, nll, _, _ = stream_nll(self.model, self.valid_set)
        return cost, nll

    def epoch_batches(self, epoch):
        """This epoch's batches: (window starts, weights) pairs, or (rows, reset) chunks of streams (every step)."""
        config, B = self.config, self.model_config.batch_size
        if self.every_step:
            layout = stream_layout(self.train_set.piece_starts, B, order_seed=[config.seed, epoch])
            batches = stream_chunks(*layout, self.model_config.sequence_length)
        else:
            batches = iterate_batches(self.train_windows[2], B, config.seed, epoch)
        return batches[:config.max_batches] if config.max_batches else batches

    def train_step(self, batch, state, record):
        """One optimizer step; its cost, NLL summed, frames and (with ``log_gate_gradients``) the largest
        gradient reaching each layer's gate pre-activations appended to the four lists of ``record`` →
        the carried state."""
        if self.every_step:
            cost, _, _, nll, frames, *rest = self.model.train(*stream_batch(self.train_set, *batch), *state)
        else:
            cost, _, _, nll, frames, *rest = self.model.train(*self._feed(self.train_set, self.train_windows, *batch))
        n_state = 2 * len(self.model.lstms) if self.every_step else 0
        state, gates = rest[:n_state], rest[n_state:]
        for kept, value in zip(record, (cost, nll, frames)):
            kept.append(float(value))
        if gates:
            record[3].append([float(gate) for gate in gates])
        return state

    def run(self, start_epoch=0, start_batch=0, history=(), progress=True, log=print, carry=()):
        """Train epochs ``start_epoch`` … ``epochs − 1`` → history (one dict per epoch).

        ``carry``: the carried state saved when an every-step epoch stopped at ``start_batch``.
        """
        config = self.config
        history = [{**row, 'batch_costs': list(row.get('batch_costs', []))} for row in history]
        path = checkpoint_path(config, self.model_config)
        for epoch in range(start_epoch, config.epochs):
            if config.patience and epochs_without_best(history) >= config.patience:
                log(f'early stop: no new best validation NLL in {config.patience} epochs; best checkpoint: '
                    f'{best_checkpoint_path(path)}')
                break
            batches = self.epoch_batches(epoch)
            first = start_batch if epoch == start_epoch else 0
            # this epoch so far: len(costs) is always the index of the next batch to train
            partial = history.pop() if first and history and history[-1]['epoch'] == epoch else {}
            costs, nlls, frames, gates = (list(partial.get(key, [])) for key in ('batch_costs', 'batch_nll',
                                                                                  'batch_frames', 'batch_gate_gradients'))
            state = list(carry) if first and len(carry) else self.model.zero_state()
            learning_rate = scheduled_learning_rate(history, self.model_config.learning_rate, config.plateau_decay)
            self.model.learning_rate.set_value(np.float32(learning_rate))
            bar = tqdm(range(first, len(batches)), desc=f'epoch {epoch + 1}/{config.epochs}', unit='batch',
                       disable=not progress)
            started = time.perf_counter()
            try:
                for b in bar:
                    # one statement: a Ctrl-C lands before the step or after its numbers are kept
                    state = self.train_step(batches[b], state, (costs, nlls, frames, gates))
                    if not math.isfinite(costs[-1]):
                        raise TrainingDiverged(f'loss became {costs[-1]} at epoch {epoch + 1}, batch {b + 1}; '
                                               f'last good checkpoint kept: {path}')
                    bar.set_postfix(loss=f'{np.mean(costs[-50:]):.4f}')
            except KeyboardInterrupt:
                history.append({'epoch': epoch, 'batch_costs': costs, 'batch_nll': nlls, 'batch_frames': frames,
                                **({'batch_gate_gradients': gates} if gates else {})})
                self._check_finite(epoch, len(costs), path)
                save_checkpoint(path, self.model, config, epoch, len(costs), history,
                                carry=[np.asarray(x) for x in state] if self.every_step else None)
                log(f'interrupted: checkpoint at epoch {epoch + 1}, after {len(costs)} batches, saved to {path} '
                    '(continue with --resume)')
                raise
            seconds = time.perf_counter() - started
            row = {'epoch': epoch, 'batch_costs': costs, 'batch_nll': nlls, 'batch_frames': frames,
                   'train_cost': float(np.mean(costs)), 'train_nll_per_frame': sum(nlls) / max(sum(frames), 1.0),
                   'seconds': seconds, 'learning_rate': learning_rate,
                   'frames_per_second': sum(frames[first:]) / max(seconds, 1e-9)}
            if gates:       # per layer: the largest over the epoch; per batch in batch_gate_gradients
                row.update(batch_gate_gradients=gates, gate_gradient_max=np.max(gates, axis=0).tolist())
            if self.valid_set is not None:
                started = time.perf_counter()
                row['valid_cost'], row['valid_nll_per_frame'] = self.validate()
                row['valid_seconds'] = time.perf_counter() - started
            self._check_finite(epoch, len(costs), path)
            history.append(row)
            save_checkpoint(path, self.model, config, epoch + 1, 0, history)
            if epochs_without_best(history) == 0 and 'valid_nll_per_frame' in row:
                save_checkpoint(best_checkpoint_path(path), self.model, config, epoch + 1, 0, history)
            write_log(path.with_suffix('.csv'), history)
            plot_history(path.with_suffix('.png'), history, run_name(self.model_config))
            log(f'epoch {epoch + 1}: train NLL/frame {row["train_nll_per_frame"]:.3f}'
                + (f', valid NLL/frame {row["valid_nll_per_frame"]:.3f}' if 'valid_nll_per_frame' in row else '')
                + f', {row["frames_per_second"]:.0f} frames/s, {seconds:.1f} s → {path}')
        return history

    def _check_finite(self, epoch, batch, path):
        """TrainingDiverged unless every parameter is finite (a step after the last cost may have broken them)."""
        broken = [name for name, value in self.model.get_state().items() if not np.isfinite(value).all()]
        if broken:
            raise TrainingDiverged(f'parameters {", ".join(broken[:3])} became NaN or infinite by epoch {epoch + 1}, '
                                   f'batch {batch}; last good checkpoint kept: {path}')


LOG_COLUMNS = ('epoch', 'train_cost', 'valid_cost', 'valid_nll_per_frame', 'seconds', 'frames_per_second',
               'learning_rate', 'train_nll_per_frame', 'valid_seconds')


def epochs_without_best(history):
    """Finished epochs since the one of lowest validation NLL (0: the last epoch is the best; 0 without validation)."""
    nlls = [row['valid_nll_per_frame'] for row in history if 'valid_nll_per_frame' in row]
    return len(nlls) - 1 - int(np.argmin(nlls)) if nlls else 0


def scheduled_learning_rate(history, base, decay):
    """Learning rate of the next epoch: ``base × decay^k``, k = finished epochs whose validation NLL was no new best."""
    nlls = [row['valid_nll_per_frame'] for row in history if 'valid_nll_per_frame' in row]
    misses = sum(nll >= min(nlls[:i]) for i, nll in enumerate(nlls) if i)
    return base * decay ** misses


def write_log(path, history):
    """The CSV log: one row per finished epoch (columns :data:`LOG_COLUMNS`), written atomically."""
    with atomic_path(path) as temporary, open(temporary, 'w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(LOG_COLUMNS)
        for row in history:
            if 'train_cost' in row:
                writer.writerow([row['epoch'] + 1] + [row.get(column, '') for column in LOG_COLUMNS[1:]])


def plot_history(path, history, title):
    """Training curve PNG: train and validation cost per epoch."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = [row for row in history if 'train_cost' in row]
    epochs = [row['epoch'] + 1 for row in rows]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(epochs, [row['train_cost'] for row in rows], 'o-', label='train cost')
    if rows and 'valid_cost' in rows[0]:
        axis.plot(epochs, [row['valid_cost'] for row in rows], 's-', label='validation cost')
    axis.set_xlabel('epoch')
    axis.set_ylabel('cost (BCE mean + λ · chord cost)')
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    save_png(figure, path, dpi=100)


def train(model_config, train_config, resume=False, progress=True, log=print):
    """Build (or resume) and train → (trainer, history)."""
    path = checkpoint_path(train_config, model_config)
    if resume:
        if not path.exists():
            raise CheckpointError(f'{path}: no checkpoint to resume from (same --out, --mode, --hidden, --layers?)')
        meta, state = load_checkpoint(path)
        try:
            model_config = ModelConfig(**meta['model_config'])
        except (TypeError, ValueError) as error:
            raise CheckpointError(f'{path}: its hyper-parameters are not a ModelConfig ({error})') from None
        try:
            trainer = Trainer(model_config, train_config, state=state)
        except CheckpointError as error:
            raise CheckpointError(f'{path}: {error}') from None
        return trainer, trainer.run(meta['epoch'], meta['batch'], meta['history'], progress, log,
                                    carry=load_carry(path))
    trainer = Trainer(model_config, train_config)
    return trainer, trainer.run(progress=progress, log=log)


def baseline_report(trainer):
    """NLL per frame of the unigram and repeat baselines on every validation frame (the first after silence)."""
    from bach2.measure.baselines import repeat_nll, repeat_rates, unigram_nll
    valid, train = trainer.valid_set, trainer.train_set
    first = np.zeros(valid.n_steps, bool)
    first[valid.piece_starts[:-1]] = True                       # the silent step before each piece
    targets = valid.targets[~first].astype(np.float32)
    previous = valid.targets[np.flatnonzero(~first) - 1].astype(np.float32)
    return {'unigram': unigram_nll(train.targets, targets),
            'repeat': repeat_nll(repeat_rates(train.targets, train.piece_starts), previous, targets)}
