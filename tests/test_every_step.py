"""Every-step training (``targets='all'``), full-context evaluation, dropout, early stopping and ensembles.

The corpus is the one of ``test_train.py``: six random 4-bar MIDI files, prepared; the model 1 × 8 units,
L = 8, B = 4 — small enough to compile in seconds.
"""
import dataclasses
import json

import numpy as np
import pytest

from bach2.compose.generate import GenerateConfig, generate_a_fugue
from bach2.data.prepare import prepare_training_data
from bach2.data.training_set import Crop, build_training_set
from bach2.data.training_windows import stream_chunks, stream_layout
from bach2.measure.evaluate import checkpoint_nll, load_pieces
from bach2.models.checkpoints import best_checkpoint_path, checkpoint_path, load_rnn_checkpoint
from bach2.models.model_config import ModelConfig
from bach2.models.nll import stream_batch, stream_nll
from bach2.rnn_model import RNNModel
from bach2.safe_io import save_npz
from bach2.train import TrainConfig, Trainer
from midi_builders import write_random_corpus
from test_train import quiet_train as quiet

TINY = dict(n_layers=1, n_hidden=8, sequence_length=8, batch_size=4)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('every_step')
    data = root / 'data'
    prepare_training_data(write_random_corpus(root / 'midi'), data, progress=False, processes=1)
    return data


@pytest.fixture(scope='module')
def every_step_run(data_dir, tmp_path_factory):
    """Two epochs of ``targets='all'`` with dropout on the tiny corpus → (trainer, history, out dir)."""
    out = tmp_path_factory.mktemp('all')
    model_config = ModelConfig(**TINY, targets='all', dropout=0.2, input_dropout=0.1, optimizer='adam',
                               learning_rate=0.01)
    train_config = TrainConfig(str(data_dir), str(out), epochs=2, transpositions=(0, 1), valid_fraction=0.3)
    trainer, history, _ = quiet(model_config, train_config)
    return trainer, history, out


def random_pieces(lengths, seed=0, n_pitches=12):
    rng = np.random.default_rng(seed)
    return [((rng.random((n, n_pitches)) < 0.25).astype(np.uint8), np.zeros(n, np.int16), f'p{i}')
            for i, n in enumerate(lengths)]


def test_stream_layout_makes_every_frame_a_target_exactly_once():
    data = build_training_set(random_pieces([5, 17, 30, 9, 3, 1, 12]), crop=Crop(pad=1))
    rows, reset = stream_layout(data.piece_starts, 3, order_seed=[0, 4])
    targets = rows[rows >= 0] + 1
    silent = data.piece_starts[:-1]                              # the silent step before each piece
    expected = np.setdiff1d(np.arange(data.n_steps), silent)
    assert sorted(targets) == list(expected)                     # each real frame once, no silent step
    for stream_rows, stream_reset in zip(rows, reset):           # a reset exactly where a piece begins
        real = stream_rows >= 0
        begins = np.isin(stream_rows[real], silent)
        np.testing.assert_array_equal(stream_reset[real].astype(bool), begins)
    assert sum(len(chunk_rows[0]) for chunk_rows, _ in stream_chunks(rows, reset, 4)) >= rows.shape[1]


def test_trainer_epoch_predicts_every_training_frame_once(every_step_run):
    trainer, history, _ = every_step_run
    data = trainer.train_set
    counted = np.zeros(data.n_steps, int)
    for rows, _ in trainer.epoch_batches(epoch=1):
        np.add.at(counted, rows[rows >= 0] + 1, 1)
    first = np.zeros(data.n_steps, bool)
    first[data.piece_starts[:-1]] = True
    assert (counted[~first] == 1).all() and (counted[first] == 0).all()
    assert history[-1]['batch_frames'] and sum(history[-1]['batch_frames']) == (~first).sum()


def test_carried_state_equals_the_whole_sequence_at_once():
    pieces = random_pieces([23, 7, 16])
    short = RNNModel(ModelConfig(n_hidden=8, sequence_length=4, batch_size=2, n_pitches=12, targets='all'))
    whole = RNNModel(ModelConfig(n_hidden=8, sequence_length=24, batch_size=2, n_pitches=12, targets='all'))
    whole.set_state(short.get_state())
    data = build_training_set(pieces, crop=Crop(pad=1))
    _, nll_short, frames_short, rows_short = stream_nll(short, data)
    _, nll_whole, frames_whole, rows_whole = stream_nll(whole, data)
    assert frames_short == frames_whole == 23 + 7 + 16
    np.testing.assert_allclose(rows_short, rows_whole, rtol=1e-5)   # chunks of 4 with the state carried = one pass
    # and the first frame of a piece is predicted from silence: a piece alone gives the same NLL
    alone = stream_nll(whole, build_training_set(pieces[1:2], crop=Crop(pad=1)))[3]
    np.testing.assert_allclose(alone[1:], rows_whole[data.piece_starts[1] + 1:data.piece_starts[2]], rtol=1e-5)


def test_dropout_is_off_in_evaluation_and_on_in_training():
    config = ModelConfig(n_hidden=8, sequence_length=4, batch_size=2, n_pitches=12, targets='all', dropout=0.5,
                         input_dropout=0.3)
    dropped = RNNModel(config)
    plain = RNNModel(dataclasses.replace(config, dropout=0.0, input_dropout=0.0))
    plain.set_state(dropped.get_state())
    data = build_training_set(random_pieces([9, 6]), crop=Crop(pad=1))
    assert stream_nll(dropped, data)[1] == pytest.approx(stream_nll(plain, data)[1], rel=1e-6)
    rows, reset = stream_chunks(*stream_layout(data.piece_starts, 2), 4)[0]
    batch = stream_batch(data, rows, reset)
    before = dropped.get_state()
    costs = set()
    for _ in range(3):            # a new mask every step: the same batch and parameters give other costs
        dropped.set_state(before)
        costs.add(round(float(dropped.train(*batch, *dropped.zero_state())[0]), 6))
    assert len(costs) == 3


def test_every_step_training_learns_and_logs(every_step_run):
    trainer, history, out = every_step_run
    assert [row['epoch'] for row in history] == [0, 1]
    for row in history:
        assert row['train_nll_per_frame'] > 0 and row['valid_nll_per_frame'] > 0 and row['frames_per_second'] > 0
    assert history[1]['train_nll_per_frame'] < history[0]['train_nll_per_frame']
    header = (out / 'lstm_polyphonic_N8_1layers.csv').read_text().splitlines()[0]
    assert 'train_nll_per_frame' in header and 'valid_nll_per_frame' in header
    _, _, meta = load_rnn_checkpoint(out / 'lstm_polyphonic_N8_1layers.npz')
    assert meta['model_config']['targets'] == 'all' and meta['model_config']['dropout'] == 0.2


def test_every_step_model_samples_in_both_contexts_and_evaluates(every_step_run, data_dir, tmp_path):
    _, _, out = every_step_run
    checkpoint = out / 'lstm_polyphonic_N8_1layers.npz'
    for context in ('carry', 'window', ''):
        result = generate_a_fugue(GenerateConfig(checkpoint=str(checkpoint), data_dir=str(data_dir),
                                                 out_dir=str(tmp_path), n_steps=40, context=context,
                                                 name=f'piece_{context or "default"}'), log=lambda line: None)
        assert result['report']['steps'] == 40
        assert result['files']['mid'].exists()
    _, pieces, _ = load_pieces(data_dir, progress=False)
    report = checkpoint_nll(str(checkpoint), pieces, progress=False)
    assert report['frames'] == sum(len(matrix) for matrix, *_ in pieces)   # every frame, from its piece's start
    assert 0 < report['nll_per_frame'] < 61 * np.log(2) * 2
    by_depth = report['nll_by_depth']
    lengths = np.array([len(matrix) for matrix, *_ in pieces])
    assert by_depth['0-32'][1] == np.minimum(lengths, 32).sum()           # each piece's first 32 frames
    assert sum(frames for _, frames in by_depth.values()) == report['frames']
    assert sum(nll * frames for nll, frames in by_depth.values()) / report['frames'] == pytest.approx(
        report['nll_per_frame'], rel=1e-9)


def test_window_model_is_evaluated_with_full_context(data_dir, tmp_path):
    model_config = ModelConfig(**TINY)
    _, history, _ = quiet(model_config, TrainConfig(str(data_dir), str(tmp_path), epochs=1, transpositions=(0,),
                                                    max_batches=2, valid_fraction=0.3))
    _, pieces, _ = load_pieces(data_dir, progress=False)
    report = checkpoint_nll(str(tmp_path / 'lstm_polyphonic_N8_1layers.npz'), pieces, progress=False)
    assert report['frames'] == sum(len(matrix) for matrix, *_ in pieces)
    assert history[0]['valid_nll_per_frame'] > 0


def test_old_checkpoint_without_the_new_fields_loads_as_the_journals_mode(data_dir, tmp_path):
    model_config = ModelConfig(**TINY)
    quiet(model_config, TrainConfig(str(data_dir), str(tmp_path), epochs=1, transpositions=(0,), max_batches=1,
                                    valid_fraction=0.3))
    path = tmp_path / 'lstm_polyphonic_N8_1layers.npz'
    _, state, meta = load_rnn_checkpoint(path)
    for key in ('targets', 'dropout', 'input_dropout', 'metre_input'):   # what checkpoints before these fields hold
        del meta['model_config'][key]
    del meta['train_config']['patience'], meta['train_config']['max_valid_frames']
    old = tmp_path / 'old.npz'
    save_npz(old, meta=np.array(json.dumps(meta)), **{f'param:{name}': value for name, value in state.items()})
    config, _, _ = load_rnn_checkpoint(old)
    assert config.targets == 'last' and config.dropout == 0.0 and not config.metre_input
    from bach2.compose.generate import GenerateConfig, generate_a_fugue
    made = generate_a_fugue(GenerateConfig(checkpoint=str(old), data_dir=str(data_dir), out_dir=str(tmp_path / 'gen'),
                                           n_steps=8), log=lambda line: None)
    assert made['report']['steps'] == 8
    _, pieces, _ = load_pieces(data_dir, progress=False)
    assert checkpoint_nll(str(old), pieces, progress=False)['nll_per_frame'] == pytest.approx(
        checkpoint_nll(str(path), pieces, progress=False)['nll_per_frame'], rel=1e-6)


def test_resume_mid_epoch_carries_the_state_and_equals_an_uninterrupted_run(data_dir, tmp_path):
    model_config = ModelConfig(**TINY, targets='all', optimizer='adam', learning_rate=0.01)
    settings = dict(epochs=2, transpositions=(0, 1), valid_fraction=0.3)
    _, uninterrupted, _ = quiet(model_config, TrainConfig(str(data_dir), str(tmp_path / 'a'), **settings))
    config = TrainConfig(str(data_dir), str(tmp_path / 'b'), **settings)
    trainer = Trainer(model_config, config)
    step = trainer.train_step
    calls = []

    def interrupt_at_third(batch, state, record):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return step(batch, state, record)

    trainer.train_step = interrupt_at_third
    with pytest.raises(KeyboardInterrupt):
        trainer.run(progress=False, log=lambda line: None)
    _, resumed, _ = quiet(model_config, config, resume=True)
    for a, b in zip(uninterrupted, resumed):
        np.testing.assert_allclose(a['batch_costs'], b['batch_costs'], rtol=1e-5)
        assert a['valid_nll_per_frame'] == pytest.approx(b['valid_nll_per_frame'], rel=1e-5)


def test_patience_stops_training_and_keeps_the_best(data_dir, tmp_path):
    # a learning rate so small that the parameters, and so validation, stay what they were after the first epoch
    model_config = ModelConfig(**TINY, targets='all', optimizer='sgd', learning_rate=1e-30)
    config = TrainConfig(str(data_dir), str(tmp_path), epochs=8, transpositions=(0,), valid_fraction=0.3, patience=2)
    _, history, lines = quiet(model_config, config)
    nlls = [row['valid_nll_per_frame'] for row in history]
    best = int(np.argmin(nlls))
    assert best == 0 and len(history) == 3, nlls                  # stopped 2 epochs after the best
    assert any(line.startswith('early stop') for line in lines)
    _, _, meta = load_rnn_checkpoint(best_checkpoint_path(checkpoint_path(config, model_config)))
    assert meta['epoch'] == best + 1


def test_ensemble_is_a_mixture_exact_and_no_worse_than_its_members_mean(every_step_run, data_dir, tmp_path):
    _, _, out = every_step_run
    first = str(out / 'lstm_polyphonic_N8_1layers_best.npz')
    model_config = ModelConfig(**TINY, targets='all')
    quiet(model_config, TrainConfig(str(data_dir), str(tmp_path), epochs=1, transpositions=(0,), seed=5,
                                    valid_fraction=0.3))
    second = str(tmp_path / 'lstm_polyphonic_N8_1layers.npz')
    _, pieces, _ = load_pieces(data_dir, progress=False)
    one, two = (checkpoint_nll(path, pieces, progress=False)['nll_per_frame'] for path in (first, second))
    assert checkpoint_nll([first, first], pieces, progress=False)['nll_per_frame'] == pytest.approx(one, rel=1e-6)
    mixture = checkpoint_nll([first, second], pieces, progress=False)['nll_per_frame']
    assert mixture <= (one + two) / 2 + 1e-9                     # −log of a mean ≤ mean of −logs (Jensen)
    assert mixture > min(one, two) - np.log(2)                   # a mixture of two loses at most log 2 per frame


def test_cli_evaluates_an_ensemble_of_checkpoints(every_step_run, data_dir, tmp_path):
    import subprocess
    import sys
    _, _, out = every_step_run
    checkpoints = [out / 'lstm_polyphonic_N8_1layers.npz', out / 'lstm_polyphonic_N8_1layers_best.npz']
    done = subprocess.run([sys.executable, '-m', 'bach2.app.cli', 'evaluate', str(data_dir), '--checkpoint',
                           *map(str, checkpoints), '--json', str(tmp_path / 'nll.json')],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / 'nll.json').read_text())
    assert result['checkpoint'] == [str(path) for path in checkpoints]
    _, pieces, _ = load_pieces(data_dir, progress=False)
    expected = checkpoint_nll([str(path) for path in checkpoints], pieces, progress=False)['nll_per_frame']
    assert result['nll_per_frame'] == pytest.approx(expected, rel=1e-6)


def test_an_every_step_bass_model_with_chord_input_follows_a_progression(data_dir, tmp_path):
    from bach2.compose.chain import model_bass
    from bach2.music.progressions import parse_progression
    model_config = ModelConfig(**TINY, targets='all', mode='monophonic', chord_input=True, optimizer='adam',
                               learning_rate=0.01)
    _, history, _ = quiet(model_config, TrainConfig(str(data_dir), str(tmp_path), epochs=1, transpositions=(0, 1),
                                                    valid_fraction=0.3))
    checkpoint = tmp_path / 'lstm_monophonic_N8_1layers.npz'
    assert history[0]['valid_nll_per_frame'] > 0
    result = generate_a_fugue(GenerateConfig(checkpoint=str(checkpoint), data_dir=str(data_dir), out_dir=str(tmp_path),
                                             n_steps=32, progression='i iv V i', key='D minor'), log=lambda line: None)
    assert 'chord_agreement' in result['report'] and result['report']['steps'] == 32
    assert result['report']['distinct_pitches'] >= 1
    chords = parse_progression('i iv V i', 'D minor')
    bass, _ = model_bass(str(checkpoint), np.repeat(chords, 4))
    assert bass.shape == (64, 61) and (bass.sum(axis=1) <= 1).all()     # one pitch or a rest per step
