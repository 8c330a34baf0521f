"""bach2.compose.generate and ``bach2 generate``: files written, what they hold, keys, progressions, bad input.

A tiny model (1 layer of 8 units, L = 8) is trained for one short epoch on the
random six-piece corpus of ``midi_builders.write_random_corpus``; generation
does not need a good model to show that the files are right.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bach2.app.cli import main
from bach2.compose.generate import GenerateConfig, generate_a_fugue
from bach2.data.prepare import prepare_training_data
from bach2.midi_to_time_series import midi_to_time_series
from bach2.models.checkpoints import checkpoint_path
from bach2.models.model_config import ModelConfig
from bach2.render.listen import INSTALL_HINT, audio_levels, renderer_available
from bach2.safe_io import load_pickle
from bach2.time_series_to_pitch_matrix import pitch_matrix_to_time_series
from bach2.train import TrainConfig, train
from midi_builders import write_random_corpus

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('generate')
    data = root / 'data'
    prepare_training_data(write_random_corpus(root / 'midi'), data, progress=False, processes=1)
    return data


def trained_checkpoint(data_dir, out_dir, **model_settings):
    model_config = ModelConfig(n_layers=1, n_hidden=8, sequence_length=8, batch_size=4, **model_settings)
    train_config = TrainConfig(str(data_dir), str(out_dir), epochs=1, transpositions=(0,), max_batches=3,
                               valid_fraction=0.3)
    train(model_config, train_config, progress=False, log=lambda line: None)
    return str(checkpoint_path(train_config, model_config))


@pytest.fixture(scope='module')
def checkpoint(data_dir, tmp_path_factory):
    return trained_checkpoint(data_dir, tmp_path_factory.mktemp('ck'))


def test_files_are_written_named_after_the_model_and_hold_the_piece(data_dir, checkpoint, tmp_path):
    result = generate_a_fugue(GenerateConfig(checkpoint, data_dir=str(data_dir), out_dir=str(tmp_path),
                                             primer='bwv2_x', n_steps=40), log=lambda line: None)
    assert sorted(path.name for path in tmp_path.iterdir()) == ['fugue_N8epoch1.mid', 'fugue_N8epoch1.p',
                                                                'fugue_N8epoch1.png']
    record = load_pickle(tmp_path / 'fugue_N8epoch1.p')
    matrix = record['pitch_matrix']
    assert matrix.shape == (40, 61) and matrix.dtype == np.uint8 and record['primer'].shape == (8, 61)
    assert record['primer_name'] == 'bwv2_x' and record['probabilities'].shape == (40, 61)
    piece = midi_to_time_series(tmp_path / 'fugue_N8epoch1.mid')
    written = sorted(note for voice in piece.voices for note in voice.notes)
    assert written == pitch_matrix_to_time_series(matrix, step=24, lowest_pitch=record['lowest_pitch'])
    assert result['report']['notes'] == len(written) and result['report']['steps'] == 40
    assert (tmp_path / 'fugue_N8epoch1.png').read_bytes()[:8] == PNG_SIGNATURE


def test_the_primer_is_the_start_of_the_named_piece(data_dir, checkpoint, tmp_path):
    generate_a_fugue(GenerateConfig(checkpoint, data_dir=str(data_dir), out_dir=str(tmp_path), primer='bwv3_x',
                                    n_steps=4), log=lambda line: None)
    with np.load(data_dir / 'pitch_matrix_24ticks_sh0.npz') as arrays:
        names = [str(name) for name in arrays['names']]
        start = arrays['piece_starts'][names.index('bwv3_x')]
        expected = arrays['pitch_matrices'][start:start + 8]
    np.testing.assert_array_equal(load_pickle(tmp_path / 'fugue_N8epoch1.p')['primer'], expected)


def test_key_option_transposes_the_result_to_that_tonic(data_dir, checkpoint, tmp_path):
    config = GenerateConfig(checkpoint, data_dir=str(data_dir), out_dir=str(tmp_path), primer='bwv1_x', n_steps=64,
                            seed=3)
    plain = generate_a_fugue(config, log=lambda line: None)['report']
    config.key, config.name = 'F# major', 'moved'
    moved = generate_a_fugue(config, log=lambda line: None)['report']
    assert moved['key_written'].split()[0] == 'F#'
    assert moved['key_generated'] == plain['key_generated'] and -5 <= moved['transposed_semitones'] <= 6
    shift = load_pickle(tmp_path / 'moved.p')['lowest_pitch'] - 24
    assert shift == moved['transposed_semitones']


def test_chord_input_model_follows_a_prescribed_progression_report(data_dir, tmp_path):
    checkpoint = trained_checkpoint(data_dir, tmp_path / 'ck', chord_input=True)
    result = generate_a_fugue(GenerateConfig(checkpoint, data_dir=str(data_dir), out_dir=str(tmp_path / 'out'),
                                             n_steps=32, key='D minor', progression='i iv V i', beats_per_chord=1),
                              log=lambda line: None)
    agreement = result['report']['chord_agreement']
    assert agreement['quarters'] == 8 and 0 <= agreement['agreement'] <= 1
    prescribed = load_pickle(tmp_path / 'out' / 'fugue_N8epoch1.p')['prescribed_chords']
    assert len(prescribed) == 32 and len(set(prescribed.tolist())) == 3      # i, iv, V


def test_cli_generate_writes_count_pieces_and_lists_them(data_dir, checkpoint, tmp_path, capsys):
    status = main(['generate', checkpoint, '--data', str(data_dir), '--out', str(tmp_path), '--bars', '2',
                   '--count', '2', '--seed', '4', '--rule', 'threshold'])
    out = capsys.readouterr().out
    assert status == 0
    for stem in ('fugue_N8epoch1_seed4', 'fugue_N8epoch1_seed5'):
        assert str(tmp_path / f'{stem}.mid') in out
        assert load_pickle(tmp_path / f'{stem}.p')['pitch_matrix'].shape == (32, 61)


@pytest.mark.parametrize('arguments, message', [
    (['--primer', 'bwv99_nothing'], "no prepared piece named 'bwv99_nothing'"),
    (['--rule', 'argmax'], "rule 'argmax' does not apply to the polyphonic model"),
    (['--progression', 'i iv X'], '--progression: not a Roman numeral'),
    (['--primer', 'missing.mid'], 'missing.mid'),
])
def test_cli_generate_bad_input_is_one_line_and_writes_nothing(data_dir, checkpoint, tmp_path, capsys,
                                                               arguments, message):
    out = tmp_path / 'out'
    assert main(['generate', checkpoint, '--data', str(data_dir), '--out', str(out), *arguments]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not out.exists()


def test_cli_generate_without_a_checkpoint_names_the_problem(tmp_path, capsys):
    assert main(['generate', str(tmp_path / 'none.npz'), '--out', str(tmp_path / 'out')]) == 2
    assert 'none.npz: no such checkpoint' in capsys.readouterr().err
    not_a_checkpoint = tmp_path / 'bad.npz'
    not_a_checkpoint.write_bytes(b'not a zip file')
    assert main(['generate', str(not_a_checkpoint), '--out', str(tmp_path / 'out')]) == 2
    assert 'bad.npz: not a Bach2.0 checkpoint' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_stage4_script_has_help():
    run = subprocess.run([sys.executable, str(ROOT / 'Source_Code' / 'stage4_generate.py'), '--help'],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and '--primer' in run.stdout and '--progression' in run.stdout


def test_journey_runs_every_stage_and_lists_the_pieces(tmp_path, capsys):
    midi = write_random_corpus(tmp_path / 'midi', bars=8)
    status = main(['journey', '--data', str(midi), '--out', str(tmp_path / 'data'), '--checkpoints',
                   str(tmp_path / 'ck'), '--fugues', str(tmp_path / 'fugues'), '--epochs', '1', '--max-batches', '2',
                   '--jobs', '1', '--fugue-bars', '12'])
    out = capsys.readouterr().out
    assert status == 0
    for line in ('stages 0–2', 'stage 3', 'stage 4', 'a whole fugue by the shipped voice model'):
        assert line in out
    fugue = load_pickle(tmp_path / 'fugues' / 'shipped_fugue_bwv868_fugue_wtc1_23.p')      # the shortest subject
    assert fugue['entries_intact'] == 1.0 and fugue['ends_on_tonic'] and fugue['bars'] == 17   # nearest 12 bars
    assert (tmp_path / 'fugues' / 'shipped_fugue_bwv868_fugue_wtc1_23.plan.json').is_file()
    for k, primer in enumerate(('bwv855_fugue_wtc1_10', 'bwv865_fugue_wtc1_01')):   # the voice model's, from its corpus
        assert load_pickle(tmp_path / 'fugues' / f'shipped_{k}_{primer}.p')['primer'].endswith(f'{primer}.mid')
    assert (tmp_path / 'ck' / 'lstm_polyphonic_N128_2layers.npz').is_file()
    for stem in ('fugue_N128epoch1', 'fugue_N128epoch1_seed1'):
        assert str(tmp_path / 'fugues' / f'{stem}.mid') in out
        assert load_pickle(tmp_path / 'fugues' / f'{stem}.p')['pitch_matrix'].shape == (256, 61)
        assert (tmp_path / 'fugues' / f'{stem}.wav').is_file() == renderer_available()
    assert f'gallery: {tmp_path / "fugues" / "index.html"}' in out


@pytest.mark.skipif(not renderer_available(), reason=f'FluidSynth or a soundfont is missing ({INSTALL_HINT})')
def test_cli_generate_wav_renders_each_piece_and_refreshes_the_gallery(data_dir, checkpoint, tmp_path, capsys):
    status = main(['generate', checkpoint, '--data', str(data_dir), '--out', str(tmp_path), '--bars', '2',
                   '--count', '2', '--wav'])
    out = capsys.readouterr().out
    assert status == 0
    for stem in ('fugue_N8epoch1', 'fugue_N8epoch1_seed1'):
        assert str(tmp_path / f'{stem}.wav') in out
        assert audio_levels(tmp_path / f'{stem}.wav')['seconds'] > 2                 # 2 bars at 100 bpm: 4.8 s
    page = (tmp_path / 'index.html').read_text()
    assert f'gallery: {tmp_path / "index.html"}' in out
    assert page.count('<audio') == 2 and 'fugue_N8epoch1_seed1.mid' in page


def test_cli_generate_wav_without_fluidsynth_says_so_once_and_writes_the_rest(data_dir, checkpoint, tmp_path):
    empty = tmp_path / 'bin'
    empty.mkdir()
    env = {**os.environ, 'PATH': str(empty),
           'PYTHONPATH': os.pathsep.join(filter(None, [str(ROOT / 'Source_Code'), os.environ.get('PYTHONPATH')]))}
    out = tmp_path / 'out'
    run = subprocess.run([sys.executable, '-m', 'bach2.app.cli', 'generate', checkpoint, '--data', str(data_dir),
                          '--out', str(out), '--steps', '8', '--count', '2', '--wav'],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count(INSTALL_HINT) == 1 and run.stdout.count('no audio') == 1
    assert sorted(path.suffix for path in out.iterdir() if path.is_file()) == [
        '.html', '.mid', '.mid', '.musicxml', '.musicxml', '.p', '.p', '.png', '.png', '.png', '.svg', '.svg']
