"""The model shipped in the package (``bach2/models/shipped/``) and ``bach2 export``, which made it.

* it loads like any checkpoint (an ``.npz`` of values, no pickle), is small, holds no optimizer state,
  and says how it was made and which pieces (BWV numbers) it trained on and held out;
* ``bach2 generate`` without a checkpoint uses it, and its pieces carry their onsets;
* ``bach2 evaluate`` reads it (parameters only);
* ``bach2 export`` of a freshly trained checkpoint writes the same kind of folder.
"""
import json

import numpy as np

from bach2.app.cli import main
from bach2.models.checkpoints import SHIPPED_MODEL, SHIPPED_MODELS, checkpoint_path, load_rnn_checkpoint
from bach2.models.model_config import ModelConfig
from bach2.safe_io import load_pickle
from midi_builders import write_random_corpus


def test_the_shipped_model_is_small_safe_and_documented():
    assert SHIPPED_MODEL.stat().st_size < 20e6
    config, state, meta = load_rnn_checkpoint(SHIPPED_MODEL)
    assert config.model == 'lstm-nade' and config.articulation and config.metre_input
    assert not any(name.startswith(f'{config.optimizer}_state') for name in state)
    assert 'bach2 train ' in meta['command'] and meta['temperature'] > 0
    assert meta['trained_on'] and meta['held_out'] and not set(meta['bwv_trained_on']) & set(meta['bwv_held_out'])
    folder = SHIPPED_MODEL.parent
    assert json.loads((folder / 'model.json').read_text())['held_out'] == meta['held_out']
    assert (folder / 'training_log.csv').read_text().count('\n') == meta['epoch'] + 1      # a header, one per epoch
    assert (folder / 'training_curve.png').stat().st_size > 1000


def test_the_shipped_twin_draws_high_to_low_on_the_same_split():
    up, _, up_meta = load_rnn_checkpoint(SHIPPED_MODELS['up'])
    down, state, meta = load_rnn_checkpoint(SHIPPED_MODELS['down'])
    assert (up.pitch_order, down.pitch_order) == ('up', 'down')
    assert {**vars(up), 'pitch_order': 'down'} == vars(down)                 # else the same model
    assert meta['held_out'] == up_meta['held_out'] and '--pitch-order down' in meta['command']
    assert SHIPPED_MODELS['down'].stat().st_size < 20e6 and not any(n.startswith('adam_state') for n in state)


def test_generate_without_a_checkpoint_plays_the_shipped_voice_model_unless_asked_for_the_lstm_nade(tmp_path, capsys):
    voices = tmp_path / 'voices'
    assert main(['generate', '--primer', 'bwv884_fugue_wtc2_15', '--steps', '16', '--out', str(voices),
                 '--no-gallery']) == 0
    record = load_pickle(voices / 'voices4_bwv884_fugue_wtc2_15_seed0.p')           # its own four voices
    assert record['primer'].endswith('bwv884_fugue_wtc2_15.mid') and record['pitch_matrix'].shape[1] == 88
    assert len(record['pitch_matrix']) == record['primer_steps'] + 16
    assert main(['generate', '--model', 'lstm-nade', '--primer', 'silence', '--steps', '48', '--out', str(tmp_path),
                 '--no-gallery']) == 0
    record = load_pickle(next(tmp_path.glob('*.p')))
    assert record['checkpoint'] == str(SHIPPED_MODEL)
    assert record['pitch_matrix'].shape == record['onsets'].shape == (48, 61)
    assert record['pitch_matrix'].any() and (record['onsets'] <= record['pitch_matrix']).all()
    assert str(next(tmp_path.glob('*.mid'))) in capsys.readouterr().out


def test_export_keeps_the_parameters_and_evaluate_reads_them(tmp_path):
    from bach2.train import TrainConfig, train
    from bach2.data.prepare import prepare_training_data
    data = tmp_path / 'data'
    prepare_training_data(write_random_corpus(tmp_path / 'midi', bars=6), data, progress=False, processes=1)
    config = ModelConfig(n_layers=1, n_hidden=8, sequence_length=8, batch_size=4, model='lstm-nade', nade_hidden=4,
                         articulation=True, targets='all', optimizer='adam')
    train_config = TrainConfig(str(data), str(tmp_path / 'ck'), epochs=2, max_batches=2, transpositions=(0,),
                               valid_fraction=0.3)
    train(config, train_config, progress=False, log=lambda *_: None)
    checkpoint = checkpoint_path(train_config, config)
    assert main(['export', str(checkpoint), '--out', str(tmp_path / 'model'), '--command', 'made here',
                 '--temperature', '0.9']) == 0
    _, state, meta = load_rnn_checkpoint(tmp_path / 'model' / 'model.npz')
    _, full, _ = load_rnn_checkpoint(checkpoint)
    assert set(full) - set(state) == {name for name in full if name.startswith('adam_state')} != set()
    for name, value in state.items():
        np.testing.assert_array_equal(value, full[name])
    assert meta['command'] == 'made here' and meta['temperature'] == 0.9 and meta['epoch'] == 2
    assert sorted(meta['trained_on'] + meta['held_out']) == sorted(p.stem for p in (tmp_path / 'midi').glob('*.mid'))
    assert main(['evaluate', str(data), '--checkpoint', str(tmp_path / 'model' / 'model.npz'), '--json',
                 str(tmp_path / 'e.json')]) == 0
    assert json.loads((tmp_path / 'e.json').read_text())['nll_per_frame'] > 0


def test_the_journals_stage_4_still_takes_the_model_stage_3_wrote(tmp_path, monkeypatch):
    from bach2.app.cli import OneLineParser, build_parser
    from bach2.app.compose_commands import add_generate_arguments, generate_configs, plays_voices
    (tmp_path / 'checkpoints').mkdir()
    (tmp_path / 'checkpoints' / 'lstm_polyphonic_N128_2layers.npz').write_bytes(b'')
    monkeypatch.chdir(tmp_path)
    stage4 = OneLineParser()
    add_generate_arguments(stage4, shipped=False)
    assert generate_configs(stage4.parse_args([]))[0].checkpoint == 'checkpoints/lstm_polyphonic_N128_2layers.npz'
    assert not plays_voices(stage4.parse_args([])) and plays_voices(build_parser().parse_args(['generate']))
    assert generate_configs(build_parser().parse_args(['generate']))[0].checkpoint == str(SHIPPED_MODEL)
