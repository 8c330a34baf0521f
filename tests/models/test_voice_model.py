"""bach2.models.voice_model, voice_training, voice_sampling: a small voice model trained on real Bach."""
import dataclasses

import numpy as np
import pytest

from bach2.app.cli import main
from bach2.common import CheckpointError, CorpusError
from bach2.data.voice_data import load_voice_tokens
from bach2.data.voice_tokens import FIRST_PITCH, HOLD, REST
from bach2.models.checkpoints import best_checkpoint_path, load_voice_checkpoint, load_voice_model
from bach2.models.voice_model import (MASK, NO_PITCH, PitchClassLogitsLayer, VoiceConfig, VoiceModel, known_pitches,
                                     legal, model_reach, network_inputs, random_masks)
from bach2.models.voice_sampling import (GibbsSchedule, figure_shares, first_drawing, forbid_parallels, gibbs_fill,
                                         local_key, looping, pass_cells, sharpen_pitches, sounding_pitches, window)
from bach2.music.key_finding import scale_pitches
from bach2.models.voice_training import VoiceTrainingConfig, initialize_from, train_voice_model
from bach2.nn import layers

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


def test_a_pitch_class_logit_is_added_to_every_octave_of_its_class():
    logits, classes = layers.InputLayer((1, 90)), layers.InputLayer((1, 12))
    total = PitchClassLogitsLayer([logits, classes])
    bias = np.arange(12, dtype=np.float32)[None]                   # class c gets c
    got = np.asarray(layers.get_output(total, {logits: np.zeros((1, 90), np.float32), classes: bias}).eval())[0]
    assert got[REST] == got[HOLD] == 0 and total.output_shape == (1, 90)
    midi = np.arange(21, 109)                                      # the 88 keys, A0 … C8
    assert (got[FIRST_PITCH:] == midi % 12).all()                  # A0 → 9, C4 → 0, C8 → 0


def test_a_pass_computes_only_the_window_its_step_hears():
    config = dataclasses.replace(SMALL, pitch_classes=True, attention=[0], heads=2, attention_reach=5)
    model, reach = VoiceModel(config, training=False, seed=2), model_reach(config)
    assert reach == 3 + 5 and window(None, 192, reach) == (0, 192) and window(5, 64, reach) == (0, 64)
    assert window(100, 192, reach) == (92, 156) and window(190, 192, reach) == (128, 192)
    rng = np.random.default_rng(0)
    tokens, given = rng.integers(0, 90, (1, 3, 192)), rng.random((1, 3, 192)) < 0.5
    inputs = network_inputs(tokens, given, np.arange(192)[None] % 16)
    whole = np.asarray(model.predict((1, 3, 192))(*inputs))
    for step in (0, 100, 191):
        start, stop = window(step, 192, reach)
        part = np.asarray(model.predict((1, 3, stop - start))(*[x[..., start:stop] for x in inputs]))
        np.testing.assert_allclose(part[:, :, step - start], whole[:, :, step], atol=1e-5)


def test_pitch_temperature_sharpens_the_choice_of_pitch_not_whether_to_strike():
    log_p = np.full((2, 90), -np.inf)
    log_p[0, [REST, HOLD, FIRST_PITCH, FIRST_PITCH + 1]] = np.log([0.2, 0.4, 0.3, 0.1])
    log_p[1, REST] = 0.0                                        # no pitch possible: left as it is
    sharp = np.exp(sharpen_pitches(log_p, 0.5))
    np.testing.assert_allclose(sharp[0, [REST, HOLD]], [0.2, 0.4])
    np.testing.assert_allclose(sharp[0, FIRST_PITCH:FIRST_PITCH + 2], [0.4 * 0.9, 0.4 * 0.1])   # 3² : 1²
    np.testing.assert_allclose(sharp.sum(axis=-1), 1)
    assert sharpen_pitches(log_p, 1.0) is log_p


def test_no_pitch_is_drawn_that_makes_parallel_fifths_or_octaves_with_a_known_voice():
    C4, G4, A4 = 39, 46, 48                                        # key indices (MIDI − 21)
    tokens = np.array([[FIRST_PITCH + G4, FIRST_PITCH + A4, HOLD], [FIRST_PITCH + C4, REST, REST]])
    assert sounding_pitches(tokens).tolist() == [[G4, A4, A4], [C4, -1, -1]]
    block = np.array([[False, False, False], [False, True, False]])     # the lower voice's second step, drawn
    log_p = np.log(np.full((2, 3, 90), 1 / 90))
    kept = np.exp(forbid_parallels(log_p, sounding_pitches(tokens), block, block)[1, 1])
    forbidden = np.flatnonzero(kept == 0) - FIRST_PITCH          # the upper voice moves G4 → A4 over C4
    assert forbidden.tolist() == [A4 - 43, A4 - 31, A4 - 19, A4 - 7, A4 + 7, A4 + 19, A4 + 31]   # fifths, twelfths …
    np.testing.assert_allclose(kept[[REST, HOLD]], 1 / 90)          # striking stays as likely
    np.testing.assert_allclose(kept.sum(), 1)
    assert kept[FIRST_PITCH + C4] > 0                                # striking C4 again is no motion
    unknown = block | np.array([[False, True, False], [False, False, False]])   # the upper voice not known yet
    np.testing.assert_allclose(forbid_parallels(log_p, sounding_pitches(tokens), unknown, block), log_p)
    tokens = np.array([[FIRST_PITCH + G4, HOLD, FIRST_PITCH + A4, HOLD, HOLD],
                       [FIRST_PITCH + C4, HOLD, HOLD, HOLD, REST]])
    block = np.zeros((2, 5), bool)
    block[1, 4] = True                                             # G4 … A4 above C4 from beat to beat
    log_p, beats = np.log(np.full((2, 5, 90), 1 / 90)), np.arange(5) % 4 == 0
    np.testing.assert_allclose(forbid_parallels(log_p, sounding_pitches(tokens), block, block), log_p)
    kept = np.exp(forbid_parallels(log_p, sounding_pitches(tokens), block, block, beats)[1, 4])
    assert (np.flatnonzero(kept == 0) - FIRST_PITCH).tolist() == forbidden.tolist()


def eighths(places, tonic=0, mode='major', lowest=21):
    """Scale places → a line of 8th notes: a strike and a hold each (tokens)."""
    keys = scale_pitches(places, tonic, mode) - lowest
    return [token for key in keys for token in (FIRST_PITCH + key, HOLD)]


def test_a_figure_heard_before_proposes_the_note_that_followed_it_moved_as_it_is():
    C4 = 35                                                  # C4's place on the scale of C major
    figure = [0, 1, 2, 0]                                    # C D E C, then a step lower each time
    top = eighths([C4 + k - s for s in range(3) for k in figure][:-1])      # the last C not yet played
    bass = [FIRST_PITCH + 27, HOLD, HOLD, HOLD] * 6                          # C3 in half notes
    tokens = np.array([top + [REST] * 2, bass[:len(top) + 2]])
    step = len(top)
    sounding = sounding_pitches(tokens)
    assert local_key(sounding, step) == (9, 'minor')          # A minor, as these notes sound
    shares = figure_shares(tokens, sounding, step, 0, (0, 'major'))
    A3 = int(scale_pitches(C4 - 2, 0, 'major')) - 21          # the third statement's C, two steps lower: A3
    assert max(shares, key=shares.get) == FIRST_PITCH + A3 and sum(shares.values()) == pytest.approx(1)
    assert figure_shares(tokens, sounding, 18, 1, (0, 'major')) == {HOLD: 1.0}          # the half note goes on
    assert looping(tokens[1], step) and not looping(tokens[1], 18) and not looping(tokens[0], step)
    assert figure_shares(tokens, sounding, step, 1, (0, 'major')) == {}      # half notes at one pitch for a bar:
    assert figure_shares(tokens, sounding, 4, 0, (0, 'major')) == {}         # the model alone; two notes: no figure
    trill = np.array([[FIRST_PITCH + 40, FIRST_PITCH + 38] * 20])
    assert [looping(trill[0], t) for t in (16, 17, 18, 40)] == [False, False, True, True]


def test_the_first_drawing_goes_step_by_step_and_within_a_step_from_the_lowest_voice():
    free = np.array([[1, 1, 0], [0, 1, 1]], bool)           # soprano free at steps 0, 1; bass at 1, 2
    passes = [pass_cells(free, *cell) for cell in first_drawing(free, 'ancestral-voices')]
    assert [np.argwhere(drawn).tolist() for _, drawn in passes] == [[[0, 0]], [[1, 1]], [[0, 1]], [[1, 2]]]
    masked, _ = passes[1]                                   # the bass at step 1: soprano still masked there
    assert masked.tolist() == [[False, True, False], [False, True, True]]
    assert [drawn.sum() for _, drawn in (pass_cells(free, *c) for c in first_drawing(free, 'ancestral'))] == [1, 2, 1]
    assert first_drawing(free, 'independent') == [(None, None)] and pass_cells(free, None, None)[1] is free
    with pytest.raises(ValueError, match='start'):
        first_drawing(free, 'sideways')


def test_it_learns_a_window_of_bach_and_fills_only_what_is_not_given(inventions_in_voices):
    _, tokens, positions, _ = load_voice_tokens(inventions_in_voices)
    window = tokens[0][:16].T[None].astype(np.int32)                  # 1 × 2 voices × 16 steps
    model = VoiceModel(dataclasses.replace(SMALL, neighbours=True), seed=1)     # hearing the voice beside it too
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
    given = np.zeros((3, 32), bool)              # three voices: the top one given, the others from step 16
    given[0], given[1:, :16] = True, True
    three = np.where(given, np.concatenate([tokens[0][:32].T, tokens[0][:32, 1:].T]), REST)
    passes, predict = [], model.predict
    model.predict = lambda shape: lambda *inputs: passes.append(shape) or predict(shape)(*inputs)
    filled = gibbs_fill(model, three, given, positions[0][:32, 0], GibbsSchedule(revoice=True), seed=4)
    assert (filled[given] == three[given]).all() and not ((filled[:, 1:] == HOLD) & (filled[:, :-1] == REST)).any()
    together = ((filled[1:, 16:] >= FIRST_PITCH).sum(axis=0) == 2).sum()     # steps where both struck a pitch
    assert together and len(passes) == 16 + together                          # a step each, and one more there


def test_training_resumes_from_its_checkpoint_and_is_scored_per_frame(inventions_in_voices, tmp_path, capsys):
    out = tmp_path / 'voices.npz'
    training = VoiceTrainingConfig(data_dir=inventions_in_voices, out_path=out, batches=2, valid_every=2,
                                   valid_windows=2)
    _, history = train_voice_model(SMALL, training, progress=False, log=lambda line: None)
    assert [row['batch'] for row in history] == [2] and best_checkpoint_path(out).is_file()
    lines, slower = [], dataclasses.replace(SMALL, learning_rate=SMALL.learning_rate / 4)     # resumed more gently
    _, history = train_voice_model(slower, VoiceTrainingConfig(**{**vars(training), 'batches': 4}),
                                   progress=False, log=lines.append)
    assert lines[0].startswith('resuming') and [row['batch'] for row in history] == [2, 4]
    assert [row['learning_rate'] for row in history] == [SMALL.learning_rate, slower.learning_rate]
    config, state, meta = load_voice_checkpoint(out)
    assert config == slower and meta['held_out'] == ['bwv772_invention_bach-invention-01',
                                                    'bwv776_invention_bach-invention-05']
    model, _ = load_voice_model(out)
    assert model.optimizer_state == []
    grown = VoiceModel(dataclasses.replace(slower, pitch_classes=True, attention=[1], heads=2), training=False)
    lines = []
    initialize_from(grown, out, lines.append)   # pitch classes and an attention added: it plays as the checkpoint
    added = ('embed_pitch_classes.W', 'out_classes.W', 'attend1.W_qkv', 'attend1.out.W')
    assert all(name in lines[0] for name in added)
    tokens = np.random.default_rng(0).integers(0, FIRST_PITCH + 88, (1, 2, 16)).astype(np.int32)
    inputs = network_inputs(tokens, np.random.default_rng(1).random(tokens.shape) < 0.5, np.zeros((1, 16), int))
    np.testing.assert_allclose(grown.predict(tokens.shape)(*inputs), model.predict(tokens.shape)(*inputs), atol=1e-5)
    parameters = {variable.name: variable.get_value() for variable in grown.params}
    assert not parameters['attend1.out.W'].any() and parameters['attend1.W_qkv'].any()   # silent, yet it can learn
    with pytest.raises(CorpusError, match='same size'):
        initialize_from(VoiceModel(dataclasses.replace(SMALL, channels=4), training=False), out, print)
    with pytest.raises(CorpusError, match='lacks'):                           # a smaller model: not the same music
        initialize_from(VoiceModel(dataclasses.replace(SMALL, n_blocks=1), training=False), out, print)
    with pytest.raises(CorpusError, match='another configuration'):
        train_voice_model(VoiceConfig(**{**vars(SMALL), 'channels': 4}), training, progress=False)
    (tmp_path / 'bad.npz').write_bytes(b'not a checkpoint')
    with pytest.raises(CheckpointError, match='not a checkpoint of a voice model'):
        load_voice_checkpoint(tmp_path / 'bad.npz')
    for cut in ([], ['--window', '64']):                # its held-out pieces scored whole, then in windows
        assert main(['voices', 'evaluate', str(out), '--data', str(inventions_in_voices), '--pieces', '1', *cut]) == 0
        line = capsys.readouterr().out.strip().splitlines()[-1]
        assert line.startswith('1 pieces' + (', cut in windows of 64 steps' if cut else ','))
        assert line.endswith('nats per frame')
