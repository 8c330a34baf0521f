"""Every kind of checkpoint: saved, loaded, described; and the models shipped with Bach2.0.

Two formats, each an ``.npz`` of values written atomically, read without running a pickle: ``meta``, a JSON
string, and ``param:<name>`` float32 arrays, one per parameter (and optimizer accumulator).

* An **RNN checkpoint** holds the journal's stage-3 model (:class:`~bach2.rnn_model.RNNModel`, ``bach2
  train``). ``meta``: ``model_config`` (:class:`~bach2.models.model_config.ModelConfig`), ``train_config``,
  ``epoch``, ``batch``, ``history`` and ``best_valid_nll_per_frame``. ``carry:<k>`` arrays hold the LSTM state of
  an every-step epoch stopped mid-way, and a ``.p`` twin beside it holds the same plain values as a pickle.
  An **exported model** (``bach2 export``, :data:`SHIPPED_MODELS`) is an RNN checkpoint without the optimizer's
  accumulators. Its meta adds the command that trained it, its sampling temperature and the pieces it trained
  on and held out.
* A **sequence checkpoint** holds a road-map model (:class:`~bach2.models.sequence_model.SequenceModel`,
  ``bach2 chords train`` / ``bach2 lines train``). ``meta``: ``config``
  (:class:`~bach2.models.sequence_model.SequenceConfig`), ``epoch``, ``history``, and the folder, split and keys
  it trained on. A **voice checkpoint** (:class:`~bach2.models.voice_model.VoiceModel`, ``bach2 voices train``)
  is written the same way (:func:`save_model_checkpoint`): ``config``, ``batch``, ``history``, the pieces trained
  on and held out; the shipped voice models (:data:`SHIPPED_VOICE_MODELS`) keep only the parameters.

Either kind keeps the epoch of lowest validation NLL in a twin, ``…_best.npz`` (:func:`best_checkpoint_path`).
Both loaders return (config, state, meta).
"""
import dataclasses
import json
import pathlib
import shutil
import zipfile

import numpy as np

from bach2.common import CheckpointError, CorpusError
from bach2.data.training_set import piece_names, split_pieces
from bach2.data.training_windows import bwv_number
from bach2.models.model_config import ModelConfig
from bach2.music.geometry import Geometry
from bach2.safe_io import atomic_path, load_pickle, save_npz, save_pickle
from bach2.time_series_to_pitch_matrix import JOURNAL_STEP_TICKS

SHIPPED_MODEL = pathlib.Path(__file__).parent / 'shipped' / 'model.npz'   # trained on the built-in corpus
#: the shipped model and its twin drawn high to low (a given soprano: bach2 harmonize, bach2 fugue)
SHIPPED_MODELS = {'up': SHIPPED_MODEL, 'down': SHIPPED_MODEL.parent / 'down' / 'model.npz'}
#: the voice models shipped: one trained on the keyboard corpus in voices, one on the JSB Chorales (harmonizing)
SHIPPED_VOICE_MODELS = {kind: SHIPPED_MODEL.parent / kind / 'model.npz' for kind in ('voices', 'chorales')}
UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)   # what a damaged file raises
SEQUENCE_KINDS = {'chords': 'a chord model (bach2 chords train)', 'line': 'a line model (bach2 lines train)'}


def run_name(model_config):
    """'lstm_polyphonic_N256_2layers' ('lstmnade_…' for the NADE model): the stem of a stage-3 run's checkpoint,
    log and curve files."""
    model = 'lstmnade' if model_config.model == 'lstm-nade' else 'lstm'
    return f'{model}_{model_config.mode}_N{model_config.n_hidden}_{model_config.n_layers}layers'


def checkpoint_path(train_config, model_config):
    """Where stage 3 keeps the checkpoint of a run: ``<out_dir>/<run name>.npz``."""
    return pathlib.Path(train_config.out_dir) / f'{run_name(model_config)}.npz'


def best_checkpoint_path(path):
    """The twin of checkpoint ``path`` that keeps the epoch of lowest validation NLL (model selection)."""
    path = pathlib.Path(path)
    return path.with_name(f'{path.stem}_best{path.suffix}')


def write_values(path, meta, state, **arrays):
    """Write ``path`` (.npz) atomically in either format: ``meta`` (a dict) as JSON, each array of ``state`` as
    ``param:<name>``, and ``arrays`` under their own names; the inverse of :func:`read_values`."""
    save_npz(path, meta=np.array(json.dumps(meta)), **{f'param:{name}': value for name, value in state.items()},
             **arrays)


def read_values(path):
    """``.npz`` of either format → (meta dict, {name: array} of its ``param:`` arrays); raises what NumPy and JSON
    raise on a damaged file (:data:`UNREADABLE`)."""
    with np.load(path, allow_pickle=False) as arrays:
        meta = json.loads(str(arrays['meta']))
        state = {key.split(':', 1)[1]: arrays[key] for key in arrays.files if key.startswith('param:')}
    return meta, state


# --------------------------------------------------------------------------- RNN checkpoints (stage 3)

@dataclasses.dataclass
class RunState:
    """Where a stage-3 run stands, saved beside its parameters.

    ``epoch``: epochs finished, or the epoch under way when ``batch`` > 0; ``batch``: batches done of it;
    ``history``: one dict per epoch (the last one partial when ``batch`` > 0); ``carry``: the LSTM state
    carried between chunks (``B × N`` arrays) when an every-step epoch stopped mid-way, else None.
    """
    epoch: int = 0
    batch: int = 0
    history: list = dataclasses.field(default_factory=list)
    carry: list = None


def save_rnn_checkpoint(path, model, train_config, run):
    """Write ``path`` (.npz) and ``path.with_suffix('.p')`` atomically: the parameters and optimizer state of
    ``model`` (an RNNModel), its and ``train_config``'s hyper-parameters and ``run`` (a :class:`RunState`);
    values only, never objects."""
    nlls = [row['valid_nll_per_frame'] for row in run.history if 'valid_nll_per_frame' in row]
    meta = {'model_config': dataclasses.asdict(model.config), 'train_config': dataclasses.asdict(train_config),
            'epoch': run.epoch, 'batch': run.batch, 'history': run.history,
            'best_valid_nll_per_frame': min(nlls, default=None)}
    state = model.get_state()
    write_values(path, meta, state, **{f'carry:{k}': np.asarray(value) for k, value in enumerate(run.carry or [])})
    save_pickle({**meta, 'state': state}, path.with_suffix('.p'))


def load_rnn_checkpoint(path):
    """RNN checkpoint or exported model → (ModelConfig, state {name: float32 array}, meta dict); no pickle is read.
    CheckpointError naming the file when it is missing, unreadable or not one."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path}: no such checkpoint (train one with `bach2 train`)')
    try:
        meta, state = read_values(path)
    except UNREADABLE:      # NumPy's reasons advise allow_pickle and name paths: the user needs neither
        raise CheckpointError(f'{path}: not a Bach2.0 checkpoint') from None
    missing = [key for key in ('model_config', 'epoch', 'batch', 'history') if key not in meta]
    if missing or not state:
        raise CheckpointError(f'{path}: not a Bach2.0 checkpoint (no {", ".join(missing) or "parameters"})')
    try:
        return ModelConfig(**meta['model_config']), state, meta
    except (ValueError, TypeError) as error:
        raise CheckpointError(f'{path}: not a Bach2.0 checkpoint ({error})') from None


def load_carry(path):
    """The carried LSTM state saved with an RNN checkpoint stopped mid-epoch → list of ``B × N`` arrays (empty
    when none)."""
    with np.load(path, allow_pickle=False) as arrays:
        keys = sorted((key for key in arrays.files if key.startswith('carry:')), key=lambda key: int(key[6:]))
        return [arrays[key] for key in keys]


def read_checkpoint_pickle(path):
    """The ``.p`` twin of an RNN checkpoint through the restricted unpickler (for IPython users)."""
    return load_pickle(path)


def checkpoint_geometry(meta):
    """RNN checkpoint metadata → the :class:`~bach2.music.geometry.Geometry` its model was trained on."""
    model, train = meta['model_config'], meta['train_config']
    return Geometry(train.get('step_ticks', JOURNAL_STEP_TICKS), model['n_pitches'], model['lowest_pitch'])


SEEN = ('trained_on', 'held_out', 'bwv_trained_on', 'bwv_held_out')    # what :func:`pieces_seen` returns


def pieces_seen(train_config):
    """An RNN checkpoint's ``train_config`` (a dict) → {'trained_on': names, 'held_out': names,
    'bwv_trained_on': sorted BWV numbers, 'bwv_held_out': …}; its prepared folder must still be there."""
    data_dir, step_ticks = train_config['data_dir'], train_config.get('step_ticks', JOURNAL_STEP_TICKS)
    names = piece_names(data_dir, step_ticks)
    indices = split_pieces(data_dir, step_ticks, train_config['valid_fraction'], train_config['seed'])
    sides = {side: [names[i] for i in chosen] for side, chosen in zip(('trained_on', 'held_out'), indices)}
    return {**sides, **{f'bwv_{side}': sorted({bwv_number(name) for name in sides[side]} - {None}) for side in sides}}


def export_model(checkpoint, folder, command='', temperature=1.0):
    """An RNN checkpoint → ``folder`` with what a model needs to be used and trusted, and nothing to resume from.

    ``model.npz``: its parameters without the optimizer's accumulators, and its meta; the training log (``.csv``)
    and curve (``.png``) beside the checkpoint; ``model.json``: the configurations, the ``command`` that trained
    it, its history per epoch, the pieces it trained on and held out (names, BWV numbers) and the sampling
    ``temperature`` to use with it. → the ``model.npz`` path; no pickle is written or read.

    An exported model (the shipped one) exports again from what it records, its command (unless ``command``
    is given), split, log and curve: its training data need not be there.
    """
    model_config, state, meta = load_rnn_checkpoint(checkpoint)
    exported = all(key in meta for key in SEEN)
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    parameters = {name: value for name, value in state.items()
                  if not name.startswith(f'{model_config.optimizer}_state')}
    history = [{key: value for key, value in row.items() if not key.startswith('batch_')}   # per epoch only
               for row in meta['history']]
    seen = {key: meta[key] for key in SEEN} if exported else pieces_seen(meta['train_config'])
    record = {**meta, 'history': history, 'command': command or (meta.get('command', '') if exported else ''),
              'temperature': temperature, **seen}
    write_values(folder / 'model.npz', record, parameters)
    with atomic_path(folder / 'model.json') as temporary:
        pathlib.Path(temporary).write_text(json.dumps(record, indent=1))
    stem = pathlib.Path(checkpoint)
    stem = stem.with_name(stem.stem.removesuffix('_best'))
    for suffix, name in (('.csv', 'training_log.csv'), ('.png', 'training_curve.png')):
        source = stem.parent / name if exported else stem.with_suffix(suffix)
        if source.is_file():
            with atomic_path(folder / name) as temporary:
                shutil.copyfile(source, temporary)
    return folder / 'model.npz'


def load_samplers(checkpoints):
    """{'up' or 'down': RNN checkpoint} → ({order: compiled Sampler}, the Geometry they share), each checked to be
    an lstm-nade drawn in that order, all reading the same pitch matrices; CheckpointError naming the file otherwise."""
    from bach2.sampling import Sampler          # PyTensor and JAX: seconds to import
    samplers, geometries = {}, {}
    for order, checkpoint in checkpoints.items():
        config, state, meta = load_rnn_checkpoint(checkpoint)
        if config.model != 'lstm-nade' or config.pitch_order != order:
            raise CheckpointError(f'{checkpoint}: needed an lstm-nade drawn {order} (bach2 train --model lstm-nade '
                                  f'--pitch-order {order}), this one is {config.model}, {config.pitch_order}')
        geometries[checkpoint] = (checkpoint_geometry(meta), config.articulation, config.metre_input)
        samplers[order] = Sampler(config, state)
    if any(value != next(iter(geometries.values())) for value in geometries.values()):
        raise CheckpointError(f'the checkpoints read different pitch matrices: {geometries}')
    return samplers, next(iter(geometries.values()))[0]


# --------------------------------------------------------------------------- sequence checkpoints (the road map)

def save_model_checkpoint(path, model, meta):
    """Write ``path`` (.npz) atomically: ``meta`` with the config of ``model`` (a SequenceModel or a VoiceModel)
    added, and the parameters and optimizer state of ``model`` → ``path``."""
    write_values(path, {**meta, 'config': dataclasses.asdict(model.config)}, model.get_state())
    return path


def load_model_checkpoint(path, config_class, what):
    """A checkpoint of :func:`save_model_checkpoint` → (``config_class`` of its config, state {name: float32 array},
    meta dict); CheckpointError naming the file when it is missing or not one (``what``: 'a sequence model' …)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path}: no such checkpoint')
    try:
        meta, state = read_values(path)
        config = config_class(**meta['config'])
    except UNREADABLE:
        reason = '' if zipfile.is_zipfile(path) else ' (not an .npz archive)'
        raise CheckpointError(f'{path}: not a checkpoint of {what}{reason}') from None
    return config, state, meta


def load_sequence_checkpoint(path):
    """Sequence checkpoint → (SequenceConfig, state {name: float32 array}, meta dict); CheckpointError naming the
    file when it is missing or not one."""
    from bach2.models.sequence_model import SequenceConfig      # PyTensor: seconds to import
    return load_model_checkpoint(path, SequenceConfig, 'a sequence model')


def load_sequence_model(checkpoint, kind, batch_size=1):
    """A sequence checkpoint of ``kind`` ('chords' or 'line') → (SequenceModel of ``batch_size`` windows (None:
    its config's), no optimizer, holding the checkpoint's parameters; meta). CorpusError if it is another kind."""
    from bach2.models.sequence_model import SequenceModel       # PyTensor: seconds to import
    config, state, meta = load_sequence_checkpoint(checkpoint)
    if config.kind != kind:
        raise CorpusError(f'{checkpoint}: a {config.kind!r} model, not {SEQUENCE_KINDS[kind]}')
    model = SequenceModel(config, batch_size=batch_size, training=False)
    model.set_state(state, parameters_only=True)
    return model, meta


# --------------------------------------------------------------------------- voice checkpoints (issue 30)

def load_voice_checkpoint(path):
    """Voice checkpoint → (VoiceConfig, state {name: float32 array}, meta dict); CheckpointError naming the file
    when it is missing or not one."""
    from bach2.models.voice_model import VoiceConfig       # PyTensor: seconds to import
    return load_model_checkpoint(path, VoiceConfig, 'a voice model')


def export_voice_model(checkpoint, folder, command=''):
    """A voice checkpoint → ``folder``/``model.npz`` (its parameters without Adam's accumulators, and its meta with
    the ``command`` that trained it) and ``model.json`` (the same meta, readable) → the ``model.npz`` path."""
    config, state, meta = load_voice_checkpoint(checkpoint)
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record = {**meta, 'config': dataclasses.asdict(config), 'command': command or meta.get('command', '')}
    write_values(folder / 'model.npz', record, {k: v for k, v in state.items() if not k.startswith('adam_')})
    with atomic_path(folder / 'model.json') as temporary:
        pathlib.Path(temporary).write_text(json.dumps(record, indent=1))
    return folder / 'model.npz'


def load_voice_model(checkpoint):
    """A voice checkpoint → (VoiceModel holding its parameters, no optimizer; meta)."""
    from bach2.models.voice_model import VoiceModel        # PyTensor: seconds to import
    config, state, meta = load_voice_checkpoint(checkpoint)
    model = VoiceModel(config, training=False)
    model.set_state(state, parameters_only=True)
    return model, meta
