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
* Validation (:func:`~bach2.models.nll.stream_nll`) predicts every frame of a validation piece
  from everything before it in that piece, the first from silence, whatever the mode.
* Every epoch: a progress bar with the running loss, the train and validation NLL
  per frame (the journal's cross-validation error), frames predicted per second, a CSV
  row and the training-curve PNG (:mod:`bach2.render.training_curves`), and an RNN checkpoint
  (:mod:`bach2.models.checkpoints`: atomic ``.npz`` + a ``.p`` of the same plain values:
  parameters, optimizer state, hyper-parameters, epoch, history);
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
import dataclasses
import math
import time

import numpy as np
from tqdm import tqdm

from bach2.common import CheckpointError, CorpusError, TrainingDiverged
from bach2.data.training_set import Crop, load_training_set, select_pieces, split_pieces
from bach2.data.training_windows import iterate_batches, stream_chunks, stream_layout
from bach2.models.checkpoints import (RunState, best_checkpoint_path, checkpoint_path, load_carry,
                                      load_rnn_checkpoint, run_name, save_rnn_checkpoint)
from bach2.models.nll import data_windows, feed, stream_batch, stream_nll
from bach2.render.training_curves import plot_history, write_log
from bach2.rnn_model import RNNModel
from bach2.time_series_to_pitch_matrix import JOURNAL_STEP_TICKS

# The journal's train module gave these too: a script that imports them from here keeps working.
from bach2.models.checkpoints import export_model  # noqa: F401,E402
from bach2.models.model_config import ModelConfig  # noqa: F401,E402
from bach2.models.nll import window_nll  # noqa: F401,E402


@dataclasses.dataclass
class TrainConfig:
    data_dir: str = 'training_data'
    out_dir: str = 'checkpoints'
    epochs: int = 10
    seed: int = 0
    valid_fraction: float = 0.1
    transpositions: tuple = tuple(range(12))   # sh<k> used for training (and validation, unless …)
    valid_transpositions: tuple = ()           # … these are given, e.g. (0,): validate in the original keys
    step_ticks: int = JOURNAL_STEP_TICKS
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
    """(train, valid) piece indices of a run: the folder's ``split.json`` if it has one, else by BWV number."""
    return split_pieces(train_config.data_dir, train_config.step_ticks, train_config.valid_fraction,
                        train_config.seed)


class Trainer:
    """Holds the model and the two data sets; :meth:`run` trains.

    ``train_set``: the training pieces (after SEQUENCE_LENGTH silent steps with ``pad_start``, or one
    silent step with ``targets='all'``); ``train_windows`` (``targets='last'``): from
    :func:`~bach2.models.nll.data_windows`.
    ``valid_set``: the validation pieces after one silent step (every frame predicted), or None.
    """

    def __init__(self, model_config, train_config, state=None):
        self.model_config, self.config = model_config, train_config
        train_idx, valid_idx = training_split(train_config)
        if not train_idx:
            raise CorpusError(f'{train_config.data_dir}: no piece left for training '
                              f'(valid_fraction {train_config.valid_fraction} or split.json holds out all {len(valid_idx)})')
        L = model_config.sequence_length
        self.every_step = model_config.targets == 'all'
        pad = 1 if self.every_step else L if train_config.pad_start else 0
        data_dir, step_ticks, rows = train_config.data_dir, train_config.step_ticks, model_config.rows
        self.train_set = load_training_set(data_dir, train_idx, train_config.transpositions, step_ticks, rows,
                                           Crop(pad, train_config.piece_steps, train_config.max_steps))
        self.valid_set = load_training_set(
            data_dir, valid_idx, train_config.valid_transpositions or train_config.transpositions, step_ticks, rows,
            Crop(1, train_config.piece_steps)) if valid_idx else None
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

    @property
    def path(self):
        """The run's checkpoint (:func:`~bach2.models.checkpoints.checkpoint_path`), after the current config."""
        return checkpoint_path(self.config, self.model_config)

    def run(self, start=None, progress=True, log=print):
        """Train epochs ``start.epoch`` … ``epochs − 1`` → history (one dict per epoch).

        ``start``: the :class:`~bach2.models.checkpoints.RunState` to go on from (the epoch, the batches done of it,
        the history so far, the state carried when an every-step epoch stopped mid-way); None: from the first epoch.
        """
        config, start = self.config, start or RunState()
        history = [{**row, 'batch_costs': list(row.get('batch_costs', []))} for row in start.history]
        for epoch in range(start.epoch, config.epochs):
            if config.patience and epochs_without_best(history) >= config.patience:
                log(f'early stop: no new best validation NLL in {config.patience} epochs; best checkpoint: '
                    f'{best_checkpoint_path(self.path)}')
                break
            resumed = epoch == start.epoch and start.batch > 0
            row = self.train_epoch(RunState(epoch, start.batch if resumed else 0, history,
                                            start.carry if resumed else None), progress, log)
            self.end_epoch(row, history, log)
        return history

    def train_epoch(self, start, progress, log):
        """Train epoch ``start.epoch`` from batch ``start.batch`` → its history row (train cost and NLL, seconds,
        learning rate, frames per second, the numbers of each batch).

        ``start.history``: the run so far, ending with this epoch's partial row when ``start.batch`` > 0 (popped
        here); a Ctrl-C appends the row so far and saves a checkpoint, a NaN or infinite cost raises TrainingDiverged.
        """
        epoch, first, history, path = start.epoch, start.batch, start.history, self.path
        batches = self.epoch_batches(epoch)
        # this epoch so far: len(costs) is always the index of the next batch to train
        partial = history.pop() if first and history and history[-1]['epoch'] == epoch else {}
        costs, nlls, frames, gates = (list(partial.get(key, [])) for key in ('batch_costs', 'batch_nll',
                                                                              'batch_frames', 'batch_gate_gradients'))
        state = list(start.carry) if first and start.carry else self.model.zero_state()
        learning_rate = scheduled_learning_rate(history, self.model_config.learning_rate, self.config.plateau_decay)
        self.model.learning_rate.set_value(np.float32(learning_rate))
        bar = tqdm(range(first, len(batches)), desc=f'epoch {epoch + 1}/{self.config.epochs}', unit='batch',
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
            save_rnn_checkpoint(path, self.model, self.config, RunState(
                epoch, len(costs), history, [np.asarray(x) for x in state] if self.every_step else None))
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
        return row

    def end_epoch(self, row, history, log):
        """Validate the epoch of ``row``, append it to ``history``, save the checkpoint (and the best one), the CSV
        log and the curve, and log one line."""
        path, epoch = self.path, row['epoch']
        if self.valid_set is not None:
            started = time.perf_counter()
            row['valid_cost'], row['valid_nll_per_frame'] = self.validate()
            row['valid_seconds'] = time.perf_counter() - started
        self._check_finite(epoch, len(row['batch_costs']), path)
        history.append(row)
        save_rnn_checkpoint(path, self.model, self.config, RunState(epoch + 1, 0, history))
        if epochs_without_best(history) == 0 and 'valid_nll_per_frame' in row:
            save_rnn_checkpoint(best_checkpoint_path(path), self.model, self.config, RunState(epoch + 1, 0, history))
        write_log(path.with_suffix('.csv'), history)
        plot_history(path.with_suffix('.png'), history, run_name(self.model_config))
        log(f'epoch {epoch + 1}: train NLL/frame {row["train_nll_per_frame"]:.3f}'
            + (f', valid NLL/frame {row["valid_nll_per_frame"]:.3f}' if 'valid_nll_per_frame' in row else '')
            + f', {row["frames_per_second"]:.0f} frames/s, {row["seconds"]:.1f} s → {path}')

    def _check_finite(self, epoch, batch, path):
        """TrainingDiverged unless every parameter is finite (a step after the last cost may have broken them)."""
        broken = [name for name, value in self.model.get_state().items() if not np.isfinite(value).all()]
        if broken:
            raise TrainingDiverged(f'parameters {", ".join(broken[:3])} became NaN or infinite by epoch {epoch + 1}, '
                                   f'batch {batch}; last good checkpoint kept: {path}')


def epochs_without_best(history):
    """Finished epochs since the one of lowest validation NLL (0: the last epoch is the best; 0 without validation)."""
    nlls = [row['valid_nll_per_frame'] for row in history if 'valid_nll_per_frame' in row]
    return len(nlls) - 1 - int(np.argmin(nlls)) if nlls else 0


def scheduled_learning_rate(history, base, decay):
    """Learning rate of the next epoch: ``base × decay^k``, k = finished epochs whose validation NLL was no new best."""
    nlls = [row['valid_nll_per_frame'] for row in history if 'valid_nll_per_frame' in row]
    misses = sum(nll >= min(nlls[:i]) for i, nll in enumerate(nlls) if i)
    return base * decay ** misses


def train(model_config, train_config, resume=False, progress=True, log=print):
    """Build (or resume) and train → (trainer, history)."""
    path = checkpoint_path(train_config, model_config)
    if not resume:
        trainer = Trainer(model_config, train_config)
        return trainer, trainer.run(progress=progress, log=log)
    if not path.exists():
        raise CheckpointError(f'{path}: no checkpoint to resume from (same --out, --mode, --hidden, --layers?)')
    model_config, state, meta = load_rnn_checkpoint(path)
    try:
        trainer = Trainer(model_config, train_config, state=state)
    except CheckpointError as error:
        raise CheckpointError(f'{path}: {error}') from None
    start = RunState(meta['epoch'], meta['batch'], meta['history'], load_carry(path))
    return trainer, trainer.run(start, progress, log)
