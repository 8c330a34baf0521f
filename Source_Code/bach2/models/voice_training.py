"""Training the voice model (:mod:`bach2.models.voice_model`): random windows, random masks, Adam; resumable.

Each batch holds ``batch_size`` windows of ``window`` steps drawn from training pieces of one voice count (drawn
in proportion to the steps of each count), each window from a random piece (in proportion to its length), a
random key (the 12 prepared transpositions) and a random start; a piece shorter than the window is padded with
rests that are given and never scored. Every ``valid_every`` batches the masked-cell NLL (nats per masked cell)
is measured on fixed windows and masks of the held-out pieces (untransposed), and the checkpoint written (its
``…_best.npz`` twin keeps the lowest). A fresh run may start from another checkpoint's parameters (``init_from``:
a larger model grown from a smaller one). A run stopped (Ctrl-C, a time limit) resumes from its checkpoint: same
parameters, Adam state, batch count and history; the learning rate may be lowered for the rest (each history row
says the rate it trained at).
"""
import dataclasses
import math
import pathlib
import time

import numpy as np
from tqdm import tqdm

from bach2.common import CorpusError
from bach2.data.training_windows import bwv_number
from bach2.data.voice_data import load_voice_tokens
from bach2.data.voice_tokens import REST
from bach2.models.checkpoints import best_checkpoint_path, load_voice_checkpoint, save_model_checkpoint
from bach2.models.voice_model import VoiceModel, network_inputs, random_masks, starts_silent

#: the works the shipped LSTM-NADE held out (its checkpoint's ``bwv_held_out``): compared on the same pieces
SHIPPED_HELD_OUT_BWV = (772, 776, 786, 855, 865, 868, 884, 885)


@dataclasses.dataclass
class VoiceTrainingConfig:
    """What to train on and for how long."""
    data_dir: str = 'training_data'
    out_path: str = 'voice_model.npz'
    held_out_bwv: tuple = SHIPPED_HELD_OUT_BWV
    batches: int = 20000            # stop after this many batches in all …
    hours: float = 0.0              # … or after this long in this run (0: no limit)
    valid_every: int = 250
    valid_windows: int = 64
    seed: int = 0
    backend: str = 'jax'
    init_from: str = ''             # a voice checkpoint whose parameters a fresh run starts from


@dataclasses.dataclass
class Pieces:
    """Tokens of several pieces: ``tokens[k][i]`` piece i in transposition k (``T_i × V_i``), positions per piece."""
    names: list
    tokens: list
    positions: list
    split: list = None      # 'train', 'valid' or 'test' per piece, where the data say

    def voices(self, i):
        return self.tokens[0][i].shape[1]

    def chosen(self, sides, side):
        """The pieces whose entry of ``sides`` is ``side``."""
        index = [i for i, s in enumerate(sides) if s == side]
        return Pieces([self.names[i] for i in index], [[key[i] for i in index] for key in self.tokens],
                      [self.positions[i] for i in index], [side] * len(index))


def load_pieces(data_dir, keys=range(12)):
    """Prepared voice tokens in ``keys`` → :class:`Pieces`."""
    names, positions, split, tokens = None, None, None, []
    for k in keys:
        names, key_tokens, positions, split = load_voice_tokens(data_dir, f'sh{k}')
        tokens.append(key_tokens)
    return Pieces(names, tokens, positions, split)


def split_held_out(pieces, held_out_bwv):
    """→ (train, held out) :class:`Pieces`: by the stored split where there is one (held out: 'valid'), else by
    BWV number."""
    if pieces.split:
        sides = pieces.split
    else:
        sides = ['valid' if bwv_number(name) in set(held_out_bwv) else 'train' for name in pieces.names]
    return pieces.chosen(sides, 'train'), pieces.chosen(sides, 'valid')


def crop(tokens, positions, start, length):
    """``length`` steps from ``start`` (padded with rests, position 0, at the end) → (tokens, positions, real)."""
    part, where = tokens[start:start + length], positions[start:start + length, 0]
    real = np.zeros(length, bool)
    real[:len(part)] = True
    out = np.full((length, tokens.shape[1]), REST, np.int16)
    out[:len(part)] = part
    clock = np.zeros(length, np.int64)
    clock[:len(where)] = where
    return out, clock, real


def draw_batch(pieces, config, rng, keys=None):
    """A random batch → (tokens ``B × V × T``, positions ``B × T``, real ``B × V × T`` bool)."""
    lengths = np.array([len(p) for p in pieces.positions], float)
    voices = np.array([pieces.voices(i) for i in range(len(pieces.names))])
    counts = sorted(set(voices))
    weight = np.array([lengths[voices == v].sum() for v in counts])
    v = counts[rng.choice(len(counts), p=weight / weight.sum())]
    candidates = np.flatnonzero(voices == v)
    chosen = rng.choice(candidates, size=config.batch_size, p=lengths[candidates] / lengths[candidates].sum())
    rows = []
    for i in chosen:
        key = int(rng.integers(len(pieces.tokens))) if keys is None else keys
        tokens = pieces.tokens[key][i]
        start = int(rng.integers(0, max(1, len(tokens) - config.window + 1)))
        rows.append(crop(tokens, pieces.positions[i], start, config.window))
    tokens = np.stack([r[0] for r in rows]).transpose(0, 2, 1)
    real = np.broadcast_to(np.stack([r[2] for r in rows])[:, None, :], tokens.shape)
    return tokens, np.stack([r[1] for r in rows]), real


def validation_batches(pieces, config, n_windows, seed=0):
    """Fixed held-out batches with fixed masks → [(tokens, positions, real, masks)], one voice count each."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(max(1, n_windows // config.batch_size)):
        tokens, positions, real = draw_batch(pieces, config, rng, keys=0)
        batches.append((tokens, positions, real, random_masks(tokens.shape, rng)))
    return batches


def masked_nll(model, batches):
    """Mean NLL (nats) per masked real cell over ``batches`` of :func:`validation_batches`."""
    total = weight = 0.0
    for tokens, positions, real, masks in batches:
        inputs = network_inputs(tokens, ~masks, positions)
        nll, w = model.nll(tokens.shape)(*inputs, tokens.astype(np.int32), (masks & real).astype(np.float32))
        total, weight = total + float(nll), weight + float(w)
    return total / max(weight, 1.0)


def resume(model, out_path, log):
    """Load the checkpoint at ``out_path``, if there is one, into ``model`` → (batches done, history); CorpusError
    when it holds another configuration."""
    if not out_path.exists():
        return 0, []
    saved_config, state, meta = load_voice_checkpoint(out_path)
    if dataclasses.replace(saved_config, learning_rate=model.config.learning_rate) != model.config:
        raise CorpusError(f'{out_path}: a checkpoint of another configuration ({saved_config}); '
                          f'give another --out to start afresh')
    model.set_state(state)
    log(f'resuming {out_path} at batch {meta["batch"]}, learning rate {model.config.learning_rate:g}')
    return meta['batch'], meta['history']


def initialize_from(model, path, log):
    """Set ``model``'s parameters from the voice checkpoint at ``path``. A parameter it lacks (a part the model adds,
    such as ``pitch_classes`` or an attention) keeps its fresh value, except those that end such a part
    (:func:`~bach2.models.voice_model.starts_silent`), which start at zero: the model begins as the checkpoint's
    and every new part still learns. Adam starts afresh."""
    _, state, _ = load_voice_checkpoint(path)
    lacking = sorted(set(name for name in state if not name.startswith('adam_')) - {v.name for v in model.params})
    if lacking:
        raise CorpusError(f'{path}: holds parameters the model lacks ({", ".join(lacking[:3])} …); start from a '
                          f'checkpoint of a model this one contains')
    added = []
    for variable in model.params:
        shape = variable.get_value().shape
        if variable.name not in state:
            added.append(variable.name)
            if starts_silent(variable.name):
                variable.set_value(np.zeros(shape, np.float32))
        elif state[variable.name].shape != shape:
            raise CorpusError(f'{path}: {variable.name} has shape {state[variable.name].shape}, the model needs '
                              f'{shape}; start from a checkpoint of the same size')
        else:
            variable.set_value(np.asarray(state[variable.name], np.float32))
    log(f'starting from {path}' + (f'; new: {", ".join(added)}' if added else ''))


def train_voice_model(config, training, progress=True, log=print):
    """Train (or resume) a voice model of ``config`` (:class:`~bach2.models.voice_model.VoiceConfig`) as
    ``training`` (:class:`VoiceTrainingConfig`) says → (model, history rows {batch, train_cost, valid_nll,
    minutes})."""
    out_path = pathlib.Path(training.out_path)
    train, held = split_held_out(load_pieces(training.data_dir), training.held_out_bwv)
    if not train.names or not held.names:
        raise CorpusError(f'{training.data_dir}: the split by BWV left {len(train.names)} training and '
                          f'{len(held.names)} held-out pieces; both need some')
    model = VoiceModel(config, backend=training.backend, seed=training.seed)
    batch, history = resume(model, out_path, log)
    if not batch and training.init_from:
        initialize_from(model, training.init_from, log)
    minutes = history[-1]['minutes'] if history else 0.0
    valid = validation_batches(held, config, training.valid_windows, training.seed)
    best = min((row['valid_nll'] for row in history), default=math.inf)
    started, costs = time.time(), []
    bar = tqdm(total=training.batches, initial=batch, desc='voice model', unit='batch', disable=not progress)
    rng = np.random.default_rng([training.seed, batch])
    while batch < training.batches:
        tokens, positions, real = draw_batch(train, config, rng)
        masks = random_masks(tokens.shape, rng)
        cost = float(model.train(tokens.shape)(*network_inputs(tokens, ~masks, positions), tokens.astype(np.int32),
                                               (masks & real).astype(np.float32)))
        costs.append(cost)
        batch += 1
        bar.update()
        bar.set_postfix(loss=f'{np.mean(costs[-100:]):.3f}')
        out_of_time = training.hours and time.time() - started > training.hours * 3600
        if batch % training.valid_every == 0 or batch == training.batches or out_of_time:
            row = {'batch': batch, 'train_cost': float(np.mean(costs)), 'valid_nll': masked_nll(model, valid),
                   'minutes': minutes + (time.time() - started) / 60, 'learning_rate': config.learning_rate}
            history.append(row)
            costs = []
            meta = {'batch': batch, 'history': history, 'data_dir': str(training.data_dir),
                    'held_out_bwv': list(training.held_out_bwv), 'trained_on': train.names, 'held_out': held.names,
                    'initialized_from': str(training.init_from)}
            save_model_checkpoint(out_path, model, meta)
            if row['valid_nll'] < best:
                best = row['valid_nll']
                save_model_checkpoint(best_checkpoint_path(out_path), model, meta)
            log(f'batch {batch}: train cost {row["train_cost"]:.3f}, held-out NLL per masked cell '
                f'{row["valid_nll"]:.3f} ({row["minutes"]:.0f} min)')
        if out_of_time:
            break
    bar.close()
    return model, history
