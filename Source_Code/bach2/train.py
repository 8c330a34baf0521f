"""Stage 3 training loop: epochs of shuffled batches, validation, checkpoints, resume.

* Split by piece — by BWV number, so one work never sits on both sides, or as
  the folder's ``split.json`` says (the JSB Chorales benchmark) — then the
  chosen transpositions of each side.
* Every epoch: a progress bar with the running loss, the validation cost and
  NLL per frame (the journal's cross-validation error), a CSV row, the
  training-curve PNG, and a checkpoint (atomic ``.npz`` + a ``.p`` of the same
  plain values: parameters, optimizer state, hyper-parameters, epoch, history);
  ``…_best.npz`` / ``.p`` keep the epoch of lowest validation NLL so far.
* ``resume=True`` continues from the checkpoint so that, with the same seed,
  the loss sequence equals an uninterrupted run's (batch order depends only on
  seed and epoch). Ctrl-C saves a checkpoint at the current batch first.
* ``plateau_decay`` < 1 multiplies the learning rate by it after each epoch
  whose validation NLL is no new best (the rate of each epoch is in the history
  and the CSV); the default 1 keeps the journal's constant rate.
* A NaN or infinite loss stops training with :class:`TrainingDiverged`; the
  last good checkpoint stays on disk.
"""
import csv
import dataclasses
import json
import math
import pathlib
import time
import zipfile

import numpy as np
from tqdm import tqdm

from bach2.model_config import CheckpointError, ModelConfig, TrainingDiverged  # noqa: F401 (re-exported)
from bach2.prepare import CorpusError
from bach2.rnn_model import RNNModel
from bach2.safe_io import atomic_path, load_pickle, save_npz, save_pickle, save_png
from bach2.training_set import load_training_set, piece_names, read_split, split_indices
from bach2.training_windows import iterate_batches, make_batch, make_X_Y, split_by_bwv


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
    max_valid_windows: int = 0      # validation windows (a fixed random subset); 0 = all
    piece_steps: int = 0            # keep the first N steps of each piece (64 = 4 bars of 4/4); 0 = all
    max_steps: int = 0              # keep the first N training steps, pieces in order (the journal's [:4800]); 0 = all
    plateau_decay: float = 1.0      # learning rate × this after each epoch whose validation NLL is no new best; 1 = off


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


def save_checkpoint(path, model, train_config, epoch, batch, history):
    """Write ``path`` (.npz) and ``path.with_suffix('.p')`` atomically: values only, never objects."""
    nlls = [row['valid_nll_per_frame'] for row in history if 'valid_nll_per_frame' in row]
    meta = {'model_config': dataclasses.asdict(model.config), 'train_config': dataclasses.asdict(train_config),
            'epoch': epoch, 'batch': batch, 'history': history, 'best_valid_nll_per_frame': min(nlls, default=None)}
    state = model.get_state()
    save_npz(path, meta=np.array(json.dumps(meta)), **{f'param:{name}': value for name, value in state.items()})
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


def window_nll(model, data, windows, progress=False):
    """→ (cost, NLL per frame in nats, frames) of ``model`` over every window of ``windows`` (from :func:`data_windows`)."""
    starts = windows[2]
    batch = model.config.batch_size
    cost_sum = nll_sum = weight_sum = 0.0
    for b in tqdm(range(0, len(starts), batch), desc='NLL', unit='batch', disable=not progress):
        chunk = starts[b:b + batch]
        weights = np.zeros(batch, np.float32)
        weights[:len(chunk)] = 1.0
        chunk = np.resize(chunk, batch)
        cost, nll, weight = model.validate(*feed(data, windows, chunk, weights, model.config.sequence_length))
        cost_sum += float(cost) * float(weight)
        nll_sum += float(nll)
        weight_sum += float(weight)
    return cost_sum / weight_sum, nll_sum / weight_sum, int(weight_sum)


class Trainer:
    """Holds the model, the two data sets and their windows; :meth:`run` trains."""

    def __init__(self, model_config, train_config, state=None):
        self.model_config, self.config = model_config, train_config
        train_idx, valid_idx = training_split(train_config)
        if not train_idx:
            raise CorpusError(f'{train_config.data_dir}: no piece left for training '
                              f'(valid_fraction {train_config.valid_fraction} or split.json holds out all {len(valid_idx)})')
        load = dict(step_ticks=train_config.step_ticks, monophonic=model_config.mode == 'monophonic',
                    chord_input=model_config.chord_input, piece_steps=train_config.piece_steps,
                    pad=model_config.sequence_length if train_config.pad_start else 0)
        self.train_set = load_training_set(train_config.data_dir, train_idx, max_steps=train_config.max_steps,
                                           transpositions=train_config.transpositions, **load)
        self.valid_set = load_training_set(train_config.data_dir, valid_idx, transpositions=(
            train_config.valid_transpositions or train_config.transpositions), **load) if valid_idx else None
        L = model_config.sequence_length
        self.train_windows = data_windows(self.train_set, L)
        if not len(self.train_windows[2]):          # checked before the model is compiled: fails fast
            raise CorpusError(f'{train_config.data_dir}: no training window: every training piece is shorter '
                              f'than SEQUENCE_LENGTH + 1 = {L + 1} steps')
        self.model = RNNModel(model_config, backend=train_config.backend, seed=train_config.seed)
        if state is not None:
            self.model.set_state(state)
        self.valid_windows = data_windows(self.valid_set, L) if self.valid_set else None
        if self.valid_windows and not len(self.valid_windows[2]):
            self.valid_windows = None      # every validation piece is shorter than a window
        if self.valid_windows and train_config.max_valid_windows:
            X, Y, starts = self.valid_windows
            chosen = np.random.default_rng(train_config.seed).permutation(starts)[:train_config.max_valid_windows]
            self.valid_windows = (X, Y, np.sort(chosen))

    def _feed(self, data, windows, batch_starts, weights):
        return feed(data, windows, batch_starts, weights, self.model_config.sequence_length)

    def validate(self):
        """→ (validation cost, NLL per frame in nats) over the validation windows."""
        cost, nll, _ = window_nll(self.model, self.valid_set, self.valid_windows)
        return cost, nll

    def run(self, start_epoch=0, start_batch=0, history=(), progress=True, log=print):
        """Train epochs ``start_epoch`` … ``epochs − 1``; → history (one dict per epoch)."""
        config = self.config
        history = [{**row, 'batch_costs': list(row.get('batch_costs', []))} for row in history]
        path = checkpoint_path(config, self.model_config)
        for epoch in range(start_epoch, config.epochs):
            batches = iterate_batches(self.train_windows[2], self.model_config.batch_size, config.seed, epoch)
            if config.max_batches:
                batches = batches[:config.max_batches]
            first = start_batch if epoch == start_epoch else 0
            # costs of this epoch so far: len(costs) is always the index of the next batch to train
            costs = history.pop()['batch_costs'] if first and history and history[-1]['epoch'] == epoch else []
            learning_rate = scheduled_learning_rate(history, self.model_config.learning_rate, config.plateau_decay)
            self.model.learning_rate.set_value(np.float32(learning_rate))
            bar = tqdm(range(first, len(batches)), desc=f'epoch {epoch + 1}/{config.epochs}', unit='batch',
                       disable=not progress)
            started = time.perf_counter()
            try:
                for b in bar:
                    starts, weights = batches[b]
                    # one statement: a Ctrl-C lands before the step or after its cost is counted
                    costs.append(float(self.model.train(*self._feed(self.train_set, self.train_windows,
                                                                    starts, weights))[0]))
                    if not math.isfinite(costs[-1]):
                        raise TrainingDiverged(f'loss became {costs[-1]} at epoch {epoch + 1}, batch {b + 1}; '
                                               f'last good checkpoint kept: {path}')
                    bar.set_postfix(loss=f'{np.mean(costs[-50:]):.4f}')
            except KeyboardInterrupt:
                history.append({'epoch': epoch, 'batch_costs': costs})
                self._check_finite(epoch, len(costs), path)
                save_checkpoint(path, self.model, config, epoch, len(costs), history)
                log(f'interrupted: checkpoint at epoch {epoch + 1}, after {len(costs)} batches, saved to {path} '
                    '(continue with --resume)')
                raise
            seconds = time.perf_counter() - started
            row = {'epoch': epoch, 'batch_costs': costs, 'train_cost': float(np.mean(costs)), 'seconds': seconds,
                   'learning_rate': learning_rate,
                   'frames_per_second': (len(batches) - first) * self.model_config.batch_size / max(seconds, 1e-9)}
            if self.valid_windows:
                row['valid_cost'], row['valid_nll_per_frame'] = self.validate()
            self._check_finite(epoch, len(costs), path)
            history.append(row)
            save_checkpoint(path, self.model, config, epoch + 1, 0, history)
            nlls = [r['valid_nll_per_frame'] for r in history if 'valid_nll_per_frame' in r]
            if nlls and nlls[-1] == min(nlls):
                save_checkpoint(best_checkpoint_path(path), self.model, config, epoch + 1, 0, history)
            write_log(path.with_suffix('.csv'), history)
            plot_history(path.with_suffix('.png'), history, run_name(self.model_config))
            log(f'epoch {epoch + 1}: train cost {row["train_cost"]:.4f}'
                + (f', valid cost {row["valid_cost"]:.4f}, valid NLL/frame {row["valid_nll_per_frame"]:.3f}'
                   if self.valid_windows else '') + f', {row["frames_per_second"]:.0f} frames/s → {path}')
        return history

    def _check_finite(self, epoch, batch, path):
        """TrainingDiverged unless every parameter is finite (a step after the last cost may have broken them)."""
        broken = [name for name, value in self.model.get_state().items() if not np.isfinite(value).all()]
        if broken:
            raise TrainingDiverged(f'parameters {", ".join(broken[:3])} became NaN or infinite by epoch {epoch + 1}, '
                                   f'batch {batch}; last good checkpoint kept: {path}')


LOG_COLUMNS = ('epoch', 'train_cost', 'valid_cost', 'valid_nll_per_frame', 'seconds', 'frames_per_second',
               'learning_rate')


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
        return trainer, trainer.run(meta['epoch'], meta['batch'], meta['history'], progress, log)
    trainer = Trainer(model_config, train_config)
    return trainer, trainer.run(progress=progress, log=log)


def baseline_report(trainer):
    """NLL per frame of the unigram and repeat baselines on the trainer's validation frames."""
    from bach2.baselines import repeat_nll, repeat_rates, unigram_nll
    X, Y, starts = trainer.valid_windows
    targets = Y[starts].astype(np.float32)
    previous = X[starts, -1].astype(np.float32)                 # last step of each window: windows × P
    train = trainer.train_set
    return {'unigram': unigram_nll(train.targets, targets),
            'repeat': repeat_nll(repeat_rates(train.targets, train.piece_starts), previous, targets)}
