"""bach2.music.metre: each step's position in its bar, from the time signatures, and the metre input of the models.

* a test-made piece with a pickup and a change of time signature gets the right positions in stage 1,
  the same in a transposed copy, in the ``.npz`` and the pickle;
* a music21 score with a pickup is written with its bar lines in place;
* the encoding, its shift to the next step, padding and continuation;
* a model trained with metre input samples with it (the sampler feeds the positions the model was
  trained on), and a model without it still loads, samples and evaluates;
* the road map's chord and line models read the position of the step they predict, in quarter notes
  and in 16ths, and sample with it.
"""
import numpy as np
import pytest

from bach2.data.prepare import PrepareConfig, prepare_training_data
from bach2.data.training_set import Rows, load_training_set, read_positions
from bach2.midi_to_time_series import Piece, Voice
from bach2.models.model_config import ModelConfig
from bach2.music.metre import (METRE_FEATURES, POSITION_CLASSES, bar_positions, coarser_positions, continue_positions,
                               fit_positions, metre_features, next_step_features, pad_positions, position_classes,
                               regular_positions)
from bach2.safe_io import load_pickle
from bach2.time_series_to_midi import time_series_to_midi

R = 96    # ticks per quarter note: a 16th is 24 ticks


def pickup_piece():
    """A 1-beat pickup (1/4), two bars of 4/4, then two bars of 3/4: quarter notes throughout, C4 and E4."""
    signatures = [(0, 1, 4), (R, 4, 4), (9 * R, 3, 4)]
    notes = [(t * R, 60 + 4 * (t % 2), R) for t in range(15)]
    return Piece(name='pickup', resolution=R, tempi=[(0, 500000)], time_signatures=signatures, key_signatures=[],
                 markers=[], voices=[Voice(track=1, channel=0, name='v', notes=notes)], end_tick=15 * R)


def expected_positions():
    """16ths: the pickup bar (4 steps), two bars of 16, two of 12."""
    return np.concatenate([regular_positions(4, 4), regular_positions(32, 16), regular_positions(24, 12)])


def prepared_pickups(tmp_path, names=('bwv1', 'bwv2', 'bwv3', 'bwv4')):
    """The pickup piece under four BWV numbers, prepared (stage 0–2) → the prepared folder."""
    midi = tmp_path / 'midi'
    midi.mkdir()
    for name in names:
        time_series_to_midi(pickup_piece(), midi / f'{name}.mid')
    prepare_training_data(midi, tmp_path / 'data', PrepareConfig(), processes=1, progress=False)
    return tmp_path / 'data'


def test_positions_follow_a_pickup_and_a_change_of_time_signature():
    positions = bar_positions(pickup_piece().time_signatures, R, R / 4, 60)
    np.testing.assert_array_equal(positions, expected_positions())
    assert positions.dtype == np.int16
    # no signature at all is 4/4 from tick 0; a first signature after tick 0 is preceded by 4/4
    np.testing.assert_array_equal(bar_positions([], R, R, 6), regular_positions(6, 4))
    np.testing.assert_array_equal(bar_positions([(2 * R, 3, 4)], R, R, 6),
                                  np.concatenate([regular_positions(2, 4), regular_positions(4, 3)]))


def test_stage_1_records_the_positions_the_same_in_every_transposition(tmp_path):
    midi = tmp_path / 'midi'
    midi.mkdir()
    time_series_to_midi(pickup_piece(), midi / 'pickup.mid')
    prepare_training_data(midi, tmp_path / 'data', PrepareConfig(), processes=1, progress=False)
    for k in (0, 5):
        npz = tmp_path / 'data' / f'pitch_matrix_24ticks_sh{k}.npz'
        np.testing.assert_array_equal(read_positions(npz)[0], expected_positions())
        pickled = load_pickle(npz.with_suffix('.p'))
        np.testing.assert_array_equal(pickled['bar_positions'][0], expected_positions())
        assert len(pickled['bar_positions'][0]) == len(pickled['pitch_matrices'][0])
    # the training set appends the *next* step's metre after the pitches
    data = load_training_set(tmp_path / 'data', [0], transpositions=(0, 5), rows=Rows(metre_input=True))
    assert data.inputs.shape == (120, 61 + METRE_FEATURES) and data.targets.shape == (120, 61)
    np.testing.assert_array_equal(data.inputs[:60, 61:], next_step_features(expected_positions()))
    np.testing.assert_array_equal(data.positions[60:], expected_positions())


def test_a_folder_prepared_before_positions_says_so_for_a_metre_model(tmp_path):
    midi = tmp_path / 'midi'
    midi.mkdir()
    time_series_to_midi(pickup_piece(), midi / 'pickup.mid')
    prepare_training_data(midi, tmp_path / 'data', PrepareConfig(), processes=1, progress=False)
    npz = tmp_path / 'data' / 'pitch_matrix_24ticks_sh0.npz'
    with np.load(npz) as arrays:                       # the same file as an older prepare wrote it
        old = {name: arrays[name] for name in arrays.files if name != 'bar_positions'}
    np.savez(npz, **old)
    assert load_training_set(tmp_path / 'data', [0], transpositions=(0,)).positions is None
    from bach2.common import CorpusError
    with pytest.raises(CorpusError, match='prepared before bar positions were recorded'):
        load_training_set(tmp_path / 'data', [0], transpositions=(0,), rows=Rows(metre_input=True))


def test_a_music21_pickup_is_written_as_its_own_bar(tmp_path):
    from music21 import meter, note, stream

    from bach2.data.default_corpus import convert_score, pickup_signature
    from bach2.music.metre import piece_positions
    from bach2.midi_to_time_series import midi_to_time_series
    part = stream.Part()
    pickup = stream.Measure(number=0)
    pickup.timeSignature = meter.TimeSignature('4/4')
    pickup.append(note.Note('G4', quarterLength=1))
    pickup.paddingLeft = 3.0
    part.append(pickup)
    for number in (1, 2):
        bar = stream.Measure(number=number)
        bar.append([note.Note('C5', quarterLength=1) for _ in range(4)])
        part.append(bar)
    score = stream.Score([part])
    score.write('musicxml', fp=tmp_path / 'pickup.musicxml')
    piece = midi_to_time_series(convert_score(tmp_path / 'pickup.musicxml', tmp_path / 'pickup.mid'))
    positions = piece_positions(piece, 24, 36)                            # 16ths
    assert list(np.flatnonzero(positions[:, 0] == 0)) == [0, 4, 20]       # the pickup, then bars of 16
    assert [pickup_signature(q) for q in (1.0, 1.5, 0.75, 3.0)] == ['1/4', '3/8', '3/16', '3/4']


def test_the_encoding_is_a_binary_clock_and_a_downbeat():
    positions = regular_positions(16, 12, first=10)                         # a bar of 3/4 at 16ths, from step 10
    features = metre_features(positions)
    assert features.shape == (16, METRE_FEATURES) and features.dtype == np.uint8
    np.testing.assert_array_equal(features[:, :5] @ (1 << np.arange(5)), positions[:, 0])
    np.testing.assert_array_equal(np.flatnonzero(features[:, 5]), [2, 14])
    np.testing.assert_array_equal(next_step_features(positions)[:-1], features[1:])
    np.testing.assert_array_equal(next_step_features(positions)[-1], metre_features(regular_positions(1, 12, 2))[0])
    np.testing.assert_array_equal(continue_positions(positions, 3), [[2, 12], [3, 12], [4, 12]])
    np.testing.assert_array_equal(pad_positions(positions, 3)[:4], [[7, 12], [8, 12], [9, 12], [10, 12]])
    empty = np.zeros((0, 2), np.int16)                                     # an empty piece: nothing to predict
    assert next_step_features(empty).shape == (0, METRE_FEATURES) and pad_positions(empty, 1).shape == (1, 2)
    # the sequence models' slot: the position itself; quarter notes from 16ths; cut or continued to a length
    np.testing.assert_array_equal(position_classes(regular_positions(3, 48, first=30)), [30, 31, 31])
    assert POSITION_CLASSES == 32
    np.testing.assert_array_equal(coarser_positions(expected_positions(), 4)[:7],
                                  [[0, 1], [0, 4], [1, 4], [2, 4], [3, 4], [0, 4], [1, 4]])
    np.testing.assert_array_equal(coarser_positions(expected_positions(), 4)[-4:], [[2, 3], [0, 3], [1, 3], [2, 3]])
    np.testing.assert_array_equal(fit_positions(positions, 18)[-3:], [[1, 12], [2, 12], [3, 12]])
    np.testing.assert_array_equal(fit_positions(positions, 2), positions[:2])


TINY = dict(n_layers=1, n_hidden=6, sequence_length=3, n_pitches=4, lowest_pitch=60, model='lstm-nade',
            nade_hidden=5, metre_input=True)


@pytest.mark.parametrize('context', ['window', 'carry'])
def test_a_metre_model_samples_with_the_positions_it_was_given(context):
    """The sampler's conditionals are the model's on windows whose rows carry the next step's metre."""
    from bach2.rnn_model import RNNModel
    from bach2.sampling import Sampler, decision_noise
    model = RNNModel(ModelConfig(batch_size=1, **TINY))
    rng = np.random.default_rng(0)
    model.set_state({name: (rng.normal(0, 0.8, value.shape) if name.startswith(('output', 'lstm')) else value)
                     .astype(np.float32) for name, value in model.get_state().items()})
    sampler = Sampler(ModelConfig(batch_size=1, **TINY), model.get_state())
    primer = rng.integers(0, 2, (3, 4)).astype(np.float32)
    positions = regular_positions(9, 3, first=1)                          # a bar of 3 steps
    with pytest.raises(ValueError, match='reads the position in the bar'):
        sampler.continue_piece(primer, 6, seed=4, context=context)
    steps, probabilities = sampler.continue_piece(primer, 6, seed=4, context=context, positions=positions)
    piece = np.concatenate([primer, steps]).astype(np.float32)
    inputs = np.concatenate([piece, next_step_features(positions)], axis=1).astype(np.float32)
    noise = decision_noise('polyphonic', 'sample', 6 if context == 'window' else 8, 4, np.random.default_rng(4))
    for t in range(6 if context == 'window' else 1):                      # carry: only the first has a 3-step past
        expected = np.asarray(model.predict(inputs[t:t + 3][None], piece[3 + t][None]))[0]
        np.testing.assert_allclose(probabilities[t], expected, atol=1e-5)
        np.testing.assert_array_equal(steps[t], (probabilities[t] > noise[-6:][t]).astype(np.uint8))
    # another metre changes what the model predicts
    other = sampler.continue_piece(primer, 6, seed=4, context=context, positions=regular_positions(9, 4))[1]
    assert not np.allclose(other[0], probabilities[0])


def test_the_cli_trains_the_lstm_nade_with_metre_input_by_default_and_it_generates_and_evaluates(tmp_path, capsys):
    """``bach2 train --model lstm-nade`` reads the metre (``--no-metre-input`` turns it off; the journal's
    model reads none); generate continues the primer's metre, evaluate reads the prepared positions. The eight
    commands run in this process: each in a process of its own, the test took 55 s here instead of 34."""
    import json
    from bach2.app.cli import main
    midi = tmp_path / 'midi'
    midi.mkdir()
    for name in ('bwv1', 'bwv2', 'bwv3', 'bwv4'):
        time_series_to_midi(pickup_piece(), midi / f'{name}.mid')

    def bach2(*args):
        capsys.readouterr()
        assert main([str(arg) for arg in args]) == 0
        return capsys.readouterr()

    data = tmp_path / 'data'
    bach2('prepare', '--data', midi, '--out', data)
    small = ['--data', data, '--hidden', 8, '--nade-hidden', 4, '--epochs', 1, '--batch-size', 4,
             '--sequence-length', 8, '--transpositions', '0,1', '--valid-fraction', 0.25]
    configs = {}
    for name, extra in (('nade', ['--model', 'lstm-nade']), ('nade_off', ['--model', 'lstm-nade', '--no-metre-input']),
                        ('lstm', [])):
        bach2('train', *small, *extra, '--out', tmp_path / name)
        checkpoint = next((tmp_path / name).glob('*_best.npz'))
        with np.load(checkpoint) as arrays:
            configs[name] = json.loads(str(arrays['meta']))['model_config']['metre_input'], checkpoint
    assert [configs[name][0] for name in ('nade', 'nade_off', 'lstm')] == [True, False, False]
    checkpoint = configs['nade'][1]
    for primer in ('silence', 'bwv2', midi / 'bwv3.mid'):
        bach2('generate', checkpoint, '--data', data, '--primer', primer, '--steps', 12, '--out', tmp_path / 'out',
              '--no-gallery')
    result = bach2('evaluate', data, '--checkpoint', checkpoint, '--json', tmp_path / 'evaluate.json')
    assert json.loads((tmp_path / 'evaluate.json').read_text())['frames'] == 4 * 60
    assert 'NLL per frame' in result.out


def test_the_chord_and_line_models_read_the_position_of_the_step_they_predict(tmp_path):
    """Chords read quarter-note positions, lines 16ths, each row the position of the step it predicts; a
    near-zero temperature samples the model's argmax given the positions, which change what it predicts."""
    from bach2.models import chord_model as cm
    from bach2.models import line_model as lm
    from bach2.models.sequence_model import SequenceConfig, one_hot_inputs, right_padded_window
    from bach2.models.checkpoints import load_sequence_model
    from bach2.models.sequence_training import SequenceTrainingConfig
    data = prepared_pickups(tmp_path)
    quarters = coarser_positions(expected_positions(), 4)
    pieces = cm.load_chord_pieces(data, [0], (0, 5), metre_input=True)
    assert len(pieces[0][0]) == len(quarters) == 15
    np.testing.assert_array_equal(cm.sequence_data(pieces).inputs[:, 1], np.tile(quarters[:, 0], 2))
    line_inputs = lm.line_pieces(data, lm.LineInputs('bass-melody', chord_input=True, metre_input=True), [0])[0][0]
    assert line_inputs.shape == (60, 4)
    np.testing.assert_array_equal(line_inputs[:, 3], expected_positions()[:, 0])

    quiet = dict(progress=False, log=lambda *_: None)
    settings = dict(data_dir=data, epochs=1, max_batches=2, valid_fraction=0.25, transpositions=(0,), metre_input=True)
    tiny = SequenceConfig(n_layers=1, n_hidden=6, sequence_length=4, batch_size=4)
    cm.train_chords(tiny, SequenceTrainingConfig(tmp_path / 'c.npz', **settings), **quiet)
    predictor, _ = load_sequence_model(tmp_path / 'c_best.npz', 'chords')
    config = predictor.config
    assert config.slot_sizes == (cm.N_INPUT_TOKENS, POSITION_CLASSES) and config.extra == {'metre_input': True}
    first = []
    for positions in (regular_positions(6, 4), regular_positions(6, 3, first=2)):
        tokens = cm.sample_tokens(predictor, 4, cm.ChordSampling(temperature=1e-6, allow_silent=True), primer=[3, 5],
                                  positions=positions)
        played = [3, 5] + tokens.tolist()
        for t in range(4):
            window, last = right_padded_window(cm.chord_inputs(np.array(played[:3 + t]), positions[:3 + t]), 4)
            p = np.asarray(predictor.predict(one_hot_inputs(window[None], config.slot_sizes))[0, last])
            assert tokens[t] == np.argmax(p)
            first.append(p) if t == 0 else None
    assert not np.allclose(first[0], first[1])
    assert cm.evaluate_chords(tmp_path / 'c_best.npz')['tokens'] == 15

    lm.train_lines(tiny, SequenceTrainingConfig(tmp_path / 'l.npz', **settings), 'bass-melody', **quiet)
    model, _ = load_sequence_model(tmp_path / 'l_best.npz', 'line')
    assert model.config.slot_sizes[-1] == POSITION_CLASSES and model.config.extra['metre_input']
    assert lm.evaluate_lines(tmp_path / 'l_best.npz')['steps'] == 60
    given = np.array([12, 14, 16, 17, 19, 21])
    a = lm.sample_line(model, given, seed=1, positions=regular_positions(6, 16))
    assert a.tolist() == lm.sample_line(model, given, seed=1).tolist()          # default: 4/4 from a downbeat
