"""bach2.models.voice_model, voice_training, voice_sampling: a small voice model trained on real Bach."""
import numpy as np
import pytest

from bach2.common import CheckpointError, CorpusError
from bach2.data.voice_data import load_voice_tokens
from bach2.data.voice_tokens import FIRST_PITCH, HOLD, REST
from bach2.models.checkpoints import best_checkpoint_path, load_voice_checkpoint, load_voice_model
from bach2.models.voice_model import (MASK, NO_PITCH, VoiceConfig, VoiceModel, known_pitches, legal, network_inputs,
                                     random_masks)
from bach2.models.voice_sampling import GibbsSchedule, gibbs_fill
from bach2.models.voice_training import VoiceTrainingConfig, train_voice_model

SMALL = VoiceConfig(channels=8, n_blocks=2, dilations=(1, 2), window=16, batch_size=2, learning_rate=0.01)


def test_masks_and_inputs():
    rng = np.random.default_rng(0)
    masks = random_masks((64, 3, 32), rng)
    assert masks.reshape(64, -1).any(axis=1).all()
    tokens = np.array([[[FIRST_PITCH + 39, HOLD, HOLD, REST]]])
    given = np.array([[[True, True, False, True]]])
    shown, pitches, positions = network_inputs(tokens, given, np.array([[0, 1, 2, 3]]))
    assert shown.tolist() == [[[FIRST_PITCH + 39, HOLD, MASK, REST]]]
    assert pitches.tolist() == [[[39, 39, NO_PITCH, NO_PITCH]]] and positions.shape == (1, 1, 4)
    assert known_pitches(tokens, ~given).tolist() == [[[NO_PITCH, NO_PITCH, NO_PITCH, NO_PITCH]]]
    assert legal(np.array([[REST, HOLD, FIRST_PITCH, HOLD]])).tolist() == [[REST, REST, FIRST_PITCH, HOLD]]


def test_it_learns_a_window_of_bach_and_fills_only_what_is_not_given(inventions_in_voices):
    _, tokens, positions, _ = load_voice_tokens(inventions_in_voices)
    window = tokens[0][:16].T[None].astype(np.int32)                  # 1 × 2 voices × 16 steps
    model = VoiceModel(SMALL, seed=1)
    masks = random_masks(window.shape, np.random.default_rng(1)) | (np.arange(16) >= 8)
    inputs = network_inputs(window, ~masks, positions[0][None, :16, 0])
    train = model.train(window.shape)
    costs = [float(train(*inputs, window, masks.astype(np.float32))) for _ in range(40)]
    assert costs[-1] < 0.5 * costs[0]
    given = np.zeros((2, 32), bool)
    given[0] = True
    melody = tokens[0][:32, 0]
    filled = gibbs_fill(model, np.where(given, tokens[0][:32].T, REST), given, positions[0][:32, 0],
                        GibbsSchedule(n_iterations=4), seed=3)
    assert filled.shape == (2, 32) and (filled[0] == melody).all()
    assert not ((filled[:, 1:] == HOLD) & (filled[:, :-1] == REST)).any() and (filled[:, 0] != HOLD).all()


def test_training_resumes_from_its_checkpoint(inventions_in_voices, tmp_path):
    out = tmp_path / 'voices.npz'
    training = VoiceTrainingConfig(data_dir=inventions_in_voices, out_path=out, batches=2, valid_every=2,
                                   valid_windows=2)
    _, history = train_voice_model(SMALL, training, progress=False, log=lambda line: None)
    assert [row['batch'] for row in history] == [2] and best_checkpoint_path(out).is_file()
    lines = []
    _, history = train_voice_model(SMALL, VoiceTrainingConfig(**{**vars(training), 'batches': 4}),
                                   progress=False, log=lines.append)
    assert lines[0].startswith('resuming') and [row['batch'] for row in history] == [2, 4]
    config, state, meta = load_voice_checkpoint(out)
    assert config == SMALL and meta['held_out'] == ['bwv772_invention_bach-invention-01',
                                                    'bwv776_invention_bach-invention-05']
    model, _ = load_voice_model(out)
    assert model.optimizer_state == []
    with pytest.raises(CorpusError, match='another configuration'):
        train_voice_model(VoiceConfig(**{**vars(SMALL), 'channels': 4}), training, progress=False)
    (tmp_path / 'bad.npz').write_bytes(b'not a checkpoint')
    with pytest.raises(CheckpointError, match='not a checkpoint of a voice model'):
        load_voice_checkpoint(tmp_path / 'bad.npz')
