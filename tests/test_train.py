"""bach2.train: the stage 3 loop on a tiny prepared corpus — files, resume, Ctrl-C, divergence, CLI.

The corpus: six MIDI files ``bwv1_x.mid`` … ``bwv6_x.mid``, four 4/4 bars each
(64 sixteenth steps), two or three voices of random notes (fixed seed), then
``prepare_training_data``. With ``valid_fraction = 0.3`` two of the six works
(round(1.8)) are held out. The model is 1 layer of N = 8 units, L = 8, B = 4.

Ctrl-C is simulated in-process by a trace function that raises
KeyboardInterrupt when ``Trainer.train_epoch`` reaches a chosen source line at a chosen
(epoch, batch) — the same exception a real SIGINT raises at that point — and
for real with SIGINT to a ``python -m bach2.app.cli train`` subprocess.
"""
import copy
import csv
import dataclasses
import inspect
import json
import math
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bach2.common import CheckpointError, TrainingDiverged, CorpusError
from bach2.data.prepare import prepare_training_data
from bach2.measure.baselines import baseline_report
from bach2.models.checkpoints import RunState, checkpoint_path, load_rnn_checkpoint, read_checkpoint_pickle
from bach2.models.model_config import ModelConfig
from bach2.render.training_curves import LOG_COLUMNS
from bach2.safe_io import UnsafePickleError, save_npz
from bach2.train import TrainConfig, Trainer, scheduled_learning_rate, train
from midi_builders import write_random_corpus

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(n_layers=1, n_hidden=8, sequence_length=8, batch_size=4)
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
CHECKPOINT_STEM = 'lstm_polyphonic_N8_1layers'


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('train')
    data = root / 'data'
    result = prepare_training_data(write_random_corpus(root / 'midi'), data, progress=False, processes=1)
    assert len(result['pieces']) == 6 and not result['failures']
    return data


def configs(data_dir, out_dir, **train_settings):
    settings = dict(epochs=2, transpositions=(0, 1), max_batches=3, valid_fraction=0.3)
    settings.update(train_settings)
    return ModelConfig(**TINY), TrainConfig(str(data_dir), str(out_dir), **settings)


def quiet_train(model_config, train_config, resume=False):
    lines = []
    trainer, history = train(model_config, train_config, resume=resume, progress=False, log=lines.append)
    return trainer, history, lines


@pytest.fixture(scope='module')
def two_epochs(data_dir, tmp_path_factory):
    """An uninterrupted 2-epoch run: (trainer, history, log lines, out dir, validate() and state right after).

    Later tests reuse the trainer's compiled model and change its state; the last two items keep the end of the run.
    """
    out = tmp_path_factory.mktemp('two_epochs')
    trainer, history, lines = quiet_train(*configs(data_dir, out))
    return trainer, history, lines, out, trainer.validate(), trainer.model.get_state()


@pytest.fixture(scope='module')
def one_epoch(data_dir, tmp_path_factory):
    """A 1-epoch run of the same settings; its out dir (checkpoint after epoch 1)."""
    out = tmp_path_factory.mktemp('one_epoch')
    quiet_train(*configs(data_dir, out, epochs=1))
    return out


def costs_of(history):
    return [row['batch_costs'] for row in history]


# --------------------------------------------------------------------------- one run: the files

def test_train_writes_checkpoint_log_and_curve(two_epochs):
    trainer, history, lines, out, _, state = two_epochs
    assert sorted(p.name for p in out.iterdir()) == [f'{CHECKPOINT_STEM}{s}' for s in (
        '.csv', '.npz', '.p', '.png', '_best.npz', '_best.p')]      # _best: the epoch of lowest validation NLL
    path = out / f'{CHECKPOINT_STEM}.npz'
    assert checkpoint_path(trainer.config, trainer.model_config) == path
    # .p: plain pickle, plain values
    with open(path.with_suffix('.p'), 'rb') as handle:
        saved = pickle.load(handle)
    assert isinstance(saved, dict)
    assert saved['epoch'] == 2 and saved['batch'] == 0
    assert saved['model_config'] == dataclasses.asdict(ModelConfig(**TINY))
    assert saved['train_config']['transpositions'] in ([0, 1], (0, 1))
    assert sorted(saved['state']) == sorted(state)
    for name, value in state.items():
        np.testing.assert_array_equal(saved['state'][name], value, err_msg=name)
    # .npz: the same values, no pickle needed
    _, npz_state, meta = load_rnn_checkpoint(path)
    assert meta['epoch'] == 2 and meta['model_config']['n_hidden'] == 8
    assert [row['batch_costs'] for row in meta['history']] == costs_of(history)
    for name, value in state.items():
        np.testing.assert_array_equal(npz_state[name], value, err_msg=name)
    # .csv: header and one row per epoch
    with open(path.with_suffix('.csv'), newline='') as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(LOG_COLUMNS)
    assert len(rows) == 3
    assert [row[0] for row in rows[1:]] == ['1', '2']
    assert float(rows[2][1]) == pytest.approx(history[1]['train_cost'])
    assert float(rows[2][3]) == pytest.approx(history[1]['valid_nll_per_frame'])
    # .png
    assert path.with_suffix('.png').read_bytes()[:8] == PNG_SIGNATURE
    # one log line per epoch, naming the checkpoint
    assert len(lines) == 2 and lines[0].startswith('epoch 1: train NLL/frame') and str(path) in lines[1]


def test_history_of_a_run(two_epochs):
    _, history, _, _, after, _ = two_epochs
    assert [row['epoch'] for row in history] == [0, 1]
    for row in history:
        assert len(row['batch_costs']) == 3                            # max_batches
        assert all(math.isfinite(c) and c > 0 for c in row['batch_costs'])
        assert row['train_cost'] == pytest.approx(np.mean(row['batch_costs']))
        assert math.isfinite(row['valid_nll_per_frame']) and row['valid_nll_per_frame'] > 0
        assert math.isfinite(row['valid_cost'])
    # NLL per frame sums over 61 pitches; the cost averages over them
    assert history[-1]['valid_nll_per_frame'] == pytest.approx(61 * history[-1]['valid_cost'], rel=1e-4)
    assert after == pytest.approx((history[-1]['valid_cost'], history[-1]['valid_nll_per_frame']), rel=1e-6)


def test_split_and_windows_of_the_trainer(two_epochs):
    trainer = two_epochs[0]
    train_names = {name.rsplit('_sh', 1)[0] for name in trainer.train_set.names}
    valid_names = {name.rsplit('_sh', 1)[0] for name in trainer.valid_set.names}
    assert len(train_names) == 4 and len(valid_names) == 2 and not train_names & valid_names
    assert {name[-3:] for name in trainer.train_set.names} == {'sh0', 'sh1'}
    X, Y, starts = trainer.train_windows
    assert len(starts) == 4 * 2 * (64 - 8)                              # 8 pieces of 64 steps, L = 8
    assert np.shares_memory(X, trainer.train_set.inputs)


def test_baseline_report(two_epochs):
    trainer = two_epochs[0]
    report = baseline_report(trainer)
    assert set(report) == {'unigram', 'repeat'}
    assert all(math.isfinite(value) and value > 0 for value in report.values())
    # random notes: the repeat baseline knows that a held note goes on, so it beats pitch frequencies
    assert report['repeat'] < report['unigram']


def test_checkpoint_pickle_holds_numpy_arrays_only(two_epochs):
    path = two_epochs[3] / f'{CHECKPOINT_STEM}.p'
    with open(path, 'rb') as handle:
        saved = pickle.load(handle)
    assert all(type(value) is np.ndarray for value in saved['state'].values()), \
        {type(value).__name__ for value in saved['state'].values()}
    assert read_checkpoint_pickle(path)['epoch'] == 2


# --------------------------------------------------------------------------- resume

def test_resume_after_an_epoch_equals_an_uninterrupted_run(two_epochs, one_epoch, data_dir, tmp_path):
    out = tmp_path / 'resumed'
    shutil.copytree(one_epoch, out)
    _, history, lines = quiet_train(*configs(data_dir, out), resume=True)
    expected = two_epochs[1]
    assert len(lines) == 1 and lines[0].startswith('epoch 2:')         # only epoch 2 ran
    assert [row['epoch'] for row in history] == [0, 1]
    np.testing.assert_allclose(np.array(costs_of(history)), np.array(costs_of(expected)), rtol=0, atol=1e-6)
    assert history[1]['valid_cost'] == pytest.approx(expected[1]['valid_cost'], abs=1e-6)
    with open(out / f'{CHECKPOINT_STEM}.csv', newline='') as handle:
        assert len(list(csv.reader(handle))) == 3


def test_resume_without_checkpoint(data_dir, tmp_path):
    with pytest.raises(CheckpointError, match=f'{CHECKPOINT_STEM}.npz: no checkpoint to resume from'):
        train(*configs(data_dir, tmp_path / 'empty'), resume=True, progress=False)


def test_resume_with_mismatched_parameter_shapes(two_epochs, data_dir, tmp_path):
    """A checkpoint saying N = 16 whose parameters are N = 8: the error names the file and a parameter."""
    _, state, meta = load_rnn_checkpoint(two_epochs[3] / f'{CHECKPOINT_STEM}.npz')
    meta['model_config']['n_hidden'] = 16
    model_config = ModelConfig(**{**TINY, 'n_hidden': 16})
    _, train_config = configs(data_dir, tmp_path)
    path = checkpoint_path(train_config, model_config)
    save_npz(path, meta=np.array(json.dumps(meta)), **{f'param:{name}': value for name, value in state.items()})
    with pytest.raises(CheckpointError) as raised:
        train(model_config, train_config, resume=True, progress=False)
    message = str(raised.value)
    assert str(path) in message
    assert 'checkpoint parameter lstm1.W_in_to_ingate has shape (61, 8), the model needs (61, 16)' in message


def test_resume_with_mismatched_parameter_names(two_epochs, data_dir, tmp_path):
    """A checkpoint whose parameter is renamed: the error names the file, the missing and the unexpected name."""
    _, state, meta = load_rnn_checkpoint(two_epochs[3] / f'{CHECKPOINT_STEM}.npz')
    state['lstm1.W_in_to_gate'] = state.pop('lstm1.W_in_to_ingate')
    model_config, train_config = configs(data_dir, tmp_path)
    path = checkpoint_path(train_config, model_config)
    save_npz(path, meta=np.array(json.dumps(meta)), **{f'param:{name}': value for name, value in state.items()})
    with pytest.raises(CheckpointError) as raised:
        train(model_config, train_config, resume=True, progress=False)
    assert str(raised.value) == (f"{path}: checkpoint does not match the model: missing ['lstm1.W_in_to_ingate'], "
                                 "unexpected ['lstm1.W_in_to_gate']")


@pytest.mark.parametrize('content', [b'', b'PK\x03\x04 cut short', b'not a zip at all'])
def test_unreadable_checkpoint_is_refused_in_one_line(content, tmp_path):
    path = tmp_path / f'{CHECKPOINT_STEM}.npz'
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f'^{path}: not a Bach2.0 checkpoint') as raised:
        load_rnn_checkpoint(path)
    assert '\n' not in str(raised.value)


def test_checkpoint_without_parameters_is_refused(tmp_path):
    path = tmp_path / 'plain.npz'
    save_npz(path, meta=np.array(json.dumps({'model_config': {}, 'epoch': 1, 'batch': 0, 'history': []})))
    with pytest.raises(CheckpointError, match='plain.npz: not a Bach2.0 checkpoint \\(no parameters\\)'):
        load_rnn_checkpoint(path)


class RunsACommand:
    """Unpickling this with plain pickle would run a shell command."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_checkpoint_pickle_with_a_malicious_reduce_is_refused(two_epochs, tmp_path):
    """The ``.p`` twin of a real checkpoint with one parameter replaced by code: refused, nothing runs."""
    evidence = tmp_path / 'pwned.txt'
    saved = read_checkpoint_pickle(two_epochs[3] / f'{CHECKPOINT_STEM}.p')
    saved['state']['lstm1.W_in_to_ingate'] = RunsACommand(f"echo pwned > '{evidence}'")
    path = tmp_path / f'{CHECKPOINT_STEM}.p'
    path.write_bytes(pickle.dumps(saved))
    with pytest.raises(UnsafePickleError) as raised:
        read_checkpoint_pickle(path)
    assert str(raised.value).startswith(f'{path}: refused to load: the pickle calls posix.system')
    assert not evidence.exists()


# --------------------------------------------------------------------------- Ctrl-C in the middle of an epoch

def run_line(text):
    """Line number of the first line of ``Trainer.train_epoch`` holding ``text``."""
    source, first = inspect.getsourcelines(Trainer.train_epoch)
    matches = [first + i for i, line in enumerate(source) if text in line]
    assert matches, text
    return matches[0]


def interrupt_at(trainer, line, epoch, batch, **run_kwargs):
    """Run ``trainer.run`` and raise KeyboardInterrupt when its epoch reaches ``line`` at (epoch, batch)."""
    code = Trainer.train_epoch.__code__
    hits = []

    def local(frame, event, _):
        if event == 'line' and frame.f_lineno == line and frame.f_locals.get('epoch') == epoch \
                and frame.f_locals.get('b') == batch:
            hits.append((epoch, batch))
            raise KeyboardInterrupt
        return local

    def global_trace(frame, event, _):
        return local if frame.f_code is code else None

    sys.settrace(global_trace)
    try:
        with pytest.raises(KeyboardInterrupt):
            trainer.run(progress=False, log=lambda _: None, **run_kwargs)
    finally:
        sys.settrace(None)
    assert hits == [(epoch, batch)]


def interrupted_then_resumed(two_epochs, one_epoch, out, line_text):
    """From the 1-epoch checkpoint, Ctrl-C at ``line_text`` of epoch 2, batch 2; then resume.

    → (meta saved by the interruption, history after resuming, files in ``out`` after the interruption).
    """
    trainer = two_epochs[0]
    trainer.config = dataclasses.replace(trainer.config, out_dir=str(out))
    _, state, meta = load_rnn_checkpoint(one_epoch / f'{CHECKPOINT_STEM}.npz')
    trainer.model.set_state(state)
    interrupt_at(trainer, run_line(line_text), epoch=1, batch=1, start=RunState(meta['epoch'], 0, meta['history']))
    files = sorted(p.name for p in out.iterdir())
    _, saved_state, saved_meta = load_rnn_checkpoint(out / f'{CHECKPOINT_STEM}.npz')
    trainer.model.set_state(saved_state)                     # what train(resume=True) does
    start = RunState(saved_meta['epoch'], saved_meta['batch'], copy.deepcopy(saved_meta['history']))
    history = trainer.run(start, progress=False, log=lambda _: None)
    return saved_meta, history, files


def test_ctrl_c_before_a_batch_then_resume(two_epochs, one_epoch, tmp_path):
    meta, history, files = interrupted_then_resumed(two_epochs, one_epoch, tmp_path, 'state = self.train_step(batches[b], state, (costs, nlls, frames, gates))')
    assert meta['epoch'] == 1 and meta['batch'] == 1                # epoch 2, batch 2 (1-based) comes next
    assert meta['history'][-1] == {'epoch': 1, 'batch_costs': two_epochs[1][1]['batch_costs'][:1],
                                   'batch_nll': two_epochs[1][1]['batch_nll'][:1],
                                   'batch_frames': two_epochs[1][1]['batch_frames'][:1]}
    assert files == [f'{CHECKPOINT_STEM}.npz', f'{CHECKPOINT_STEM}.p']   # no finished epoch: no log, no curve
    np.testing.assert_allclose(np.array(costs_of(history)), np.array(costs_of(two_epochs[1])), atol=1e-6)
    assert [row['epoch'] for row in history] == [0, 1]


def test_ctrl_c_right_after_a_step_then_resume(two_epochs, one_epoch, tmp_path):
    # the step and the recording of its cost are one statement: the next line already counts the batch
    _, history, _ = interrupted_then_resumed(two_epochs, one_epoch, tmp_path, 'if not math.isfinite(costs[-1]):')
    np.testing.assert_allclose(np.array(costs_of(history)), np.array(costs_of(two_epochs[1])), atol=1e-6)


def test_ctrl_c_after_the_cost_is_recorded_then_resume(two_epochs, one_epoch, tmp_path):
    meta, history, _ = interrupted_then_resumed(two_epochs, one_epoch, tmp_path, 'bar.set_postfix(')
    assert len(meta['history'][-1]['batch_costs']) == meta['batch']
    np.testing.assert_array_equal(np.array(costs_of(history)).shape, (2, 3))


# --------------------------------------------------------------------------- divergence

@pytest.fixture(scope='module')
def absurd_trainer(data_dir, tmp_path_factory):
    """SGD with an infinite learning rate: the first step makes the parameters NaN.

    (1e30 is not enough: the clipped cross-entropy saturates and the loss stays finite.)
    """
    model_config, train_config = configs(data_dir, tmp_path_factory.mktemp('nan'))
    trainer = Trainer(dataclasses.replace(model_config, optimizer='sgd', learning_rate=float('inf')), train_config)
    return trainer, trainer.model.get_state()


def test_nan_loss_stops_training_and_keeps_the_good_checkpoint(absurd_trainer, two_epochs, tmp_path):
    trainer, initial = absurd_trainer
    out = tmp_path / 'out'
    shutil.copytree(two_epochs[3], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    trainer.model.set_state(initial)
    trainer.config = dataclasses.replace(trainer.config, out_dir=str(out))
    with pytest.raises(TrainingDiverged) as raised:
        trainer.run(progress=False, log=lambda _: None)
    message = str(raised.value)
    assert 'loss became nan at epoch 1, batch 2' in message
    assert str(out / f'{CHECKPOINT_STEM}.npz') in message
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_checkpoint_kept_after_divergence_is_finite(absurd_trainer, tmp_path):
    trainer, initial = absurd_trainer
    trainer.model.set_state(initial)
    trainer.config = dataclasses.replace(trainer.config, out_dir=str(tmp_path), max_batches=1)
    # the only batch of epoch 1 still has a finite cost, but its update breaks the parameters
    with pytest.raises(TrainingDiverged, match='became NaN or infinite by epoch 1, batch 1'):
        trainer.run(progress=False, log=lambda _: None)
    assert not (tmp_path / f'{CHECKPOINT_STEM}.npz').exists()       # nothing broken was saved


# --------------------------------------------------------------------------- settings that leave nothing to train on

def test_sequence_length_longer_than_every_piece(data_dir, tmp_path):
    _, train_config = configs(data_dir, tmp_path, epochs=1)
    model_config = ModelConfig(**{**TINY, 'sequence_length': 64})          # every piece has 64 steps
    with pytest.raises((ValueError, CorpusError), match='SEQUENCE_LENGTH'):
        Trainer(model_config, train_config).run(progress=False, log=lambda _: None)


# --------------------------------------------------------------------------- the command line

def bach2(*args, timeout=120):
    return subprocess.run([sys.executable, '-m', 'bach2.app.cli', *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_train_help():
    result = bach2('train', '--help')
    assert result.returncode == 0
    for option in ('--resume', '--transpositions', '--max-batches', '--hidden', '--backend'):
        assert option in result.stdout


def test_stage3_script_help():
    result = subprocess.run([sys.executable, 'Source_Code/stage3_train.py', '--help'], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert '--resume' in result.stdout and 'Stage 3' in result.stdout


def test_cli_train_without_prepared_data(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    result = bach2('train', '--data', empty, '--out', tmp_path / 'out')
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('bach2: error:')
    assert f'{empty}: no pitch_matrix_<N>ticks_sh0.npz' in lines[0] and 'bach2 prepare' in lines[0]
    assert not (tmp_path / 'out').exists()


def test_cli_train_transposition_out_of_range(data_dir, tmp_path):
    result = bach2('train', '--data', data_dir, '--out', tmp_path, '--transpositions', '13')
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == "bach2: error: --transpositions: '13' has a number outside 0-11"


def test_cli_train_valid_fraction_one(data_dir, tmp_path):
    result = bach2('train', '--data', data_dir, '--out', tmp_path, '--valid-fraction', '1', '--layers', '1',
                   '--hidden', '8')
    assert result.returncode == 2, result.stderr[-300:]
    last = result.stderr.strip().splitlines()[-1]
    assert 'error: argument --valid-fraction: must be at least 0 and below 1' in last


@pytest.mark.parametrize('engine', ['onednn', 'numpy'])
def test_train_backend_auto_takes_the_fused_c_op_only_where_it_measured_faster(engine, monkeypatch):
    import pytensor
    from argparse import Namespace
    from bach2.app.model_commands import training_backend
    from bach2.nn import gemm
    monkeypatch.setattr(gemm, 'ENGINE', engine)
    cpu = Namespace(backend='auto', device='cpu', log_gate_gradients=False)
    fused = 'c' if pytensor.config.cxx else 'jax'                                   # the C backend needs g++
    everywhere = fused if engine == 'onednn' else 'jax'                             # on NumPy's dot: N ≤ 256, last
    assert training_backend(cpu, ModelConfig()) == fused                            # N = 256, last-step targets
    assert training_backend(cpu, ModelConfig(n_hidden=768)) == everywhere
    assert training_backend(cpu, ModelConfig(targets='all')) == everywhere
    assert training_backend(cpu, ModelConfig(model='lstm-nade', targets='all', n_pitches=88)) == everywhere
    assert training_backend(Namespace(**{**vars(cpu), 'log_gate_gradients': True}), ModelConfig()) == 'jax'
    assert training_backend(Namespace(**{**vars(cpu), 'device': 'gpu'}), ModelConfig()) == 'jax'
    assert training_backend(Namespace(**{**vars(cpu), 'backend': 'jax'}), ModelConfig()) == 'jax'
    assert training_backend(Namespace(**{**vars(cpu), 'backend': 'c'}), ModelConfig(n_hidden=768)) == 'c'


def test_train_backend_auto_keeps_jax_without_a_cpp_compiler(monkeypatch):
    import pytensor
    from argparse import Namespace
    from bach2.app.model_commands import training_backend
    monkeypatch.setattr(pytensor.config, 'cxx', '')
    assert training_backend(Namespace(backend='auto', device='cpu', log_gate_gradients=False), ModelConfig()) == 'jax'


def test_cli_ctrl_c_mid_epoch_then_resume(data_dir, tmp_path):
    """SIGINT to a real ``bach2 train`` right after its first epoch line: exit 130, checkpoint, --resume works."""
    out = tmp_path / 'out'
    # batches of one window: an epoch of 2 688 steps (≥ 1 s here even on a quiet machine, where 672 batches of
    # four once ended within the 0.3 s below and the signal landed in epoch 3)
    args = ['train', '--data', data_dir, '--out', out, '--layers', '1', '--hidden', '8', '--sequence-length', '8',
            '--batch-size', '1', '--transpositions', 'all', '--valid-fraction', '0.3', '--max-valid-frames', '40']
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    with open(tmp_path / 'stderr.txt', 'w') as stderr:
        # a shell starts background jobs with SIGINT ignored, an ignored signal stays ignored across exec, and
        # Python keeps it so: catch SIGINT here for a moment (a caught signal is default again after exec)
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            process = subprocess.Popen([sys.executable, '-m', 'bach2.app.cli', *map(str, args), '--epochs', '50'],
                                       cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        finally:
            signal.signal(signal.SIGINT, previous)
        watchdog = threading.Timer(120, process.kill)
        watchdog.start()
        try:
            first = process.stdout.readline()
            assert first.startswith('epoch 1: train NLL/frame'), first
            time.sleep(0.3)                                    # into epoch 2's 2 688 batches
            process.send_signal(signal.SIGINT)
            rest = process.stdout.read()
            status = process.wait(timeout=60)
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
    error = (tmp_path / 'stderr.txt').read_text()
    assert status == 130, error
    assert 'bach2: interrupted' in error
    _, _, meta = load_rnn_checkpoint(out / f'{CHECKPOINT_STEM}.npz')
    assert meta['epoch'] == 1 and 0 < meta['batch'] < 2688     # inside epoch 2
    assert f'interrupted: checkpoint at epoch 2, after {meta["batch"]} batches, saved to' in rest
    assert meta['history'][-1]['epoch'] == 1
    # len(batch_costs) == batch is NOT asserted here: a SIGINT landing after costs.append sees batch b
    # recorded as not done (the bug pinned down by test_ctrl_c_after_the_cost_is_recorded_then_resume)
    with open(out / f'{CHECKPOINT_STEM}.csv', newline='') as handle:
        assert len(list(csv.reader(handle))) == 2              # epoch 1 only
    resumed = bach2(*args, '--epochs', '2', '--resume')
    assert resumed.returncode == 0, resumed.stderr
    assert 'epoch 2: train NLL/frame' in resumed.stdout and 'epoch 1:' not in resumed.stdout
    assert 'unigram baseline' in resumed.stdout
    _, _, meta = load_rnn_checkpoint(out / f'{CHECKPOINT_STEM}.npz')
    assert meta['epoch'] == 2 and meta['batch'] == 0
    assert [row['epoch'] for row in meta['history'] if 'train_cost' in row] == [0, 1]


# --------------------------------------------------------------------------- learning rate on a plateau

def test_the_learning_rate_shrinks_after_each_epoch_that_is_no_new_best():
    history = [{'valid_nll_per_frame': nll} for nll in (5.0, 4.0, 4.0, 3.0, 3.5)] + [{'batch_costs': [1.0]}]
    assert scheduled_learning_rate(history, 0.002, 0.5) == pytest.approx(0.0005)      # epochs 3 and 5 missed
    assert scheduled_learning_rate(history, 0.002, 1.0) == 0.002
    assert scheduled_learning_rate([], 0.002, 0.5) == 0.002


def test_a_run_with_plateau_decay_trains_each_epoch_at_its_scheduled_rate(data_dir, tmp_path):
    model_config = ModelConfig(**{**TINY, 'optimizer': 'adam', 'learning_rate': 0.1})   # large: validation wobbles
    train_config = TrainConfig(str(data_dir), str(tmp_path), epochs=5, transpositions=(0, 1), max_batches=3,
                               valid_fraction=0.3, plateau_decay=0.5)
    trainer, history, _ = quiet_train(model_config, train_config)
    rates = [row['learning_rate'] for row in history]
    assert rates == [scheduled_learning_rate(history[:i], 0.1, 0.5) for i in range(5)]
    assert min(rates) < 0.1                                                       # at least one epoch decayed
    assert trainer.model.learning_rate.get_value() == np.float32(rates[-1])
    with open(tmp_path / f'{CHECKPOINT_STEM}.csv', newline='') as handle:
        assert [float(row['learning_rate']) for row in csv.DictReader(handle)] == pytest.approx(rates)


def test_a_learning_rate_of_zero_leaves_the_parameters_alone(two_epochs):
    trainer = two_epochs[0]
    before = trainer.model.get_state()
    trainer.model.learning_rate.set_value(np.float32(0))
    starts, weights = trainer.train_windows[2][:4], np.ones(4, np.float32)
    trainer.model.train(*trainer._feed(trainer.train_set, trainer.train_windows, starts, weights))
    after = trainer.model.get_state()
    for name in trainer.model.params:
        np.testing.assert_array_equal(after[name.name], before[name.name], err_msg=name.name)
    trainer.model.learning_rate.set_value(np.float32(trainer.model_config.learning_rate))
