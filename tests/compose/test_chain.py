"""bach2.compose.chain and ``bach2 chain``: progression → bass → melody → second melody → one multi-track MIDI.

Tiny models (a few batches on a six-piece random corpus) are enough: the tests check what is
written — tracks, steps, the bass following the roots of the progression — not the music.
"""
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from bach2.chord_sequence import CHORD_NAMES, NO_CHORD
from bach2.compose import chain
from bach2.compose.lines import Sampling
from bach2.data.prepare import prepare_training_data
from bach2.models.chord_model import train_chords
from bach2.models.line_model import train_lines
from bach2.models.model_config import ModelConfig
from bach2.models.sequence_model import SequenceConfig
from bach2.models.sequence_training import SequenceTrainingConfig
from bach2.music.pitch_names import PITCH_CLASS_NAMES
from bach2.render.piece import Output
from bach2.safe_io import load_pickle
from bach2.train import TrainConfig, train
from midi_builders import write_random_corpus

ROOT = Path(__file__).resolve().parents[2]
QUIET = dict(progress=False, log=lambda *_: None)


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp('chain')
    data = root / 'data'
    prepare_training_data(write_random_corpus(root / 'midi'), data, progress=False, processes=1)
    tiny = dict(n_layers=1, n_hidden=8, sequence_length=8, batch_size=4)
    settings = dict(data_dir=data, epochs=1, max_batches=3, valid_fraction=0.3, transpositions=(0, 1))
    paths = {'chords': root / 'chords.npz', 'melody': root / 'bm.npz', 'second': root / 'ms.npz'}
    train_chords(SequenceConfig(**tiny), SequenceTrainingConfig(paths['chords'], metre_input=True, **settings),
                 **QUIET)                                                                  # one of each
    train_lines(SequenceConfig(**tiny), SequenceTrainingConfig(paths['melody'], metre_input=True, **settings),
                'bass-melody', **QUIET)
    train_lines(SequenceConfig(**tiny), SequenceTrainingConfig(paths['second'], **settings), 'melody-second', **QUIET)
    train(ModelConfig(mode='monophonic', chord_input=True, **tiny),
          TrainConfig(str(data), str(root / 'bass'), epochs=1, max_batches=2, transpositions=(0,),
                      valid_fraction=0.3), progress=False, log=lambda *_: None)
    paths['bass'] = root / 'bass' / 'lstm_monophonic_N8_1layers.npz'
    return paths


def test_root_bass_plays_each_root_for_a_quarter():
    chords = np.array([0, 97, NO_CHORD], np.int16)          # C major, A dominant, nothing
    bass = chain.root_bass(chords)
    assert bass.shape == (12, 61) and bass.sum() == 8
    assert np.nonzero(bass[:4])[1].tolist() == [12] * 4      # MIDI 36 = C2, column 36 − 24
    assert np.nonzero(bass[4:8])[1].tolist() == [21] * 4     # A2 = 45
    assert not bass[8:].any()


@pytest.mark.parametrize('with_bass_model', [False, True])
def test_chain_writes_one_midi_with_a_track_per_voice(models, tmp_path, with_bass_model):
    checkpoints = chain.ChainCheckpoints(models['chords'], models['melody'], models['second'],
                                         models['bass'] if with_bass_model else None)
    result = chain.make_chain(checkpoints, chain.Progression(8, primer='I IV', key='G major'), Sampling(seed=3),
                              Output(tmp_path), log=lambda *_: None)
    midi = mido.MidiFile(result['files']['mid'])
    assert len(midi.tracks) == 4                              # tempo/meta track + bass, melody, second melody
    assert [track.name for track in midi.tracks[1:]] == ['bass', 'melody', 'second melody']
    last_tick = max(sum(message.time for message in track) for track in midi.tracks[1:])
    assert 0 < last_tick <= 8 * 96                            # 8 quarter notes at 96 ticks
    record = load_pickle(result['files']['p'])
    assert record['pitch_matrix'].shape == (32, 61)
    assert {name: len(line) for name, line in record['lines'].items()} == {'bass': 32, 'melody': 32,
                                                                          'second melody': 32}
    assert result['chords'][:2].tolist() == [70, 0 * 10 + 0]  # G major (7·10 + 0), C major
    assert result['files']['png'].exists()
    assert 0 <= result['report']['chord_agreement'] <= 1 and 0 <= result['report']['in_key'] <= 1
    if not with_bass_model:
        roots = [PITCH_CLASS_NAMES.index(CHORD_NAMES[c][0]) for c in result['chords']]
        bass_pitches = record['lines']['bass'][::4] + 24
        assert (bass_pitches % 12).tolist() == roots


def bach2(*args, cwd=None):
    return subprocess.run([sys.executable, '-m', 'bach2.app.cli', *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={'PYTHONPATH': str(ROOT / 'Source_Code'), 'PATH': '/usr/bin:/bin',
                                        'JAX_PLATFORMS': 'cpu'})


def test_chain_command(models, tmp_path):
    result = bach2('chain', models['chords'], '--melody', models['melody'], '--second', models['second'],
                   '--bass', models['bass'], '--chords', 4, '--count', 2, '--out-dir', tmp_path, '--name', 'c')
    assert result.returncode == 0, result.stderr
    assert (tmp_path / 'c_seed0.mid').exists() and (tmp_path / 'c_seed1.mid').exists()
    assert 'mean over 2 pieces' in result.stdout


@pytest.mark.parametrize('swap, needle', [
    (('melody', 'chords'), "a 'chords' model, not a line model"),
    (('second', 'melody'), 'a bass-melody model, the chain needs melody-second here'),
    (('bass', 'melody'), 'not a Bach2.0 checkpoint'),
    (('chords', 'melody'), "a 'line' model, not a chord model"),
])
def test_wrong_checkpoints_are_one_line(models, tmp_path, swap, needle):
    paths = dict(models)
    paths[swap[0]] = models[swap[1]]
    result = bach2('chain', paths['chords'], '--melody', paths['melody'], '--second', paths['second'],
                   '--bass', paths['bass'], '--chords', 4, '--out-dir', tmp_path)
    assert result.returncode == 2 and needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
