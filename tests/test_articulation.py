"""Held notes and struck notes: the LSTM-NADE with ``articulation`` (issue 15).

* the training set of such a model is ``2P`` wide, the pitch matrix then the onset plane of stage 1;
* sampling keeps the onsets consistent with the pitches (struck only where sounding; struck where a
  pitch starts), whatever the weights, and the sampled conditionals are the model's;
* ``bach2 generate`` writes a re-struck note as a new MIDI note, and the ``.p`` keeps the onset plane;
* an articulation flag on the journal's model is refused; a checkpoint from before the flag loads.
"""
import mido
import numpy as np
import pytest

from bach2.data.prepare import prepare_training_data
from bach2.data.training_set import Rows, load_training_set, read_sequences
from bach2.models.model_config import ModelConfig
from bach2.safe_io import load_pickle
from bach2.time_series_to_pitch_matrix import pitch_matrix_to_time_series
from midi_builders import write_random_corpus

TINY = dict(n_layers=1, n_hidden=8, sequence_length=8, batch_size=4, model='lstm-nade', nade_hidden=6,
            articulation=True, targets='all', optimizer='adam', learning_rate=0.01)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A prepared random corpus and an articulated LSTM-NADE trained on it for a few batches."""
    from bach2.train import TrainConfig, train
    root = tmp_path_factory.mktemp('articulation')
    prepare_training_data(write_random_corpus(root / 'midi', bars=8), root / 'data', progress=False, processes=1)
    train(ModelConfig(**TINY), TrainConfig(str(root / 'data'), str(root / 'ck'), epochs=1, max_batches=3,
                                           transpositions=(0,), valid_fraction=0.3),
          progress=False, log=lambda *_: None)
    return root, next((root / 'ck').glob('*_best.npz'))


def test_the_training_set_is_the_pitch_matrix_then_the_onsets(trained):
    root, _ = trained
    path = root / 'data' / 'pitch_matrix_24ticks_sh0.npz'
    matrices, _ = read_sequences(path, 'pitch_matrices')
    onsets, _ = read_sequences(path, 'onsets')
    data = load_training_set(root / 'data', [0], transpositions=(0,), rows=Rows(articulation=True))
    assert data.inputs.shape == (len(matrices[0]), 122)
    np.testing.assert_array_equal(data.inputs[:, :61], matrices[0])
    np.testing.assert_array_equal(data.inputs[:, 61:], onsets[0])
    assert (onsets[0] <= matrices[0]).all() and onsets[0].sum() > (np.diff(matrices[0].astype(int), axis=0) == 1).sum()


@pytest.mark.parametrize('context', ['window', 'carry'])
def test_sampled_onsets_follow_the_pitches(context):
    """Random weights that strike and hold at will: every onset sits on a sounding pitch, and every pitch that
    starts sounding is struck; the first step's conditionals equal the model's given the sampled step."""
    from bach2.rnn_model import RNNModel
    from bach2.sampling import Sampler
    config = ModelConfig(**{**TINY, 'n_pitches': 5, 'lowest_pitch': 60, 'batch_size': 1})
    model = RNNModel(config)
    rng = np.random.default_rng(1)
    model.set_state({name: (rng.normal(0, 1.5, value.shape) if name.startswith(('output', 'lstm')) else value)
                     .astype(np.float32) for name, value in model.get_state().items()})
    primer = np.zeros((8, 10), np.float32)
    primer[-1, [0, 5]] = 1                                                  # C4 struck on the last primer step
    steps, probabilities = Sampler(config, model.get_state()).continue_piece(primer, 60, seed=2, context=context)
    sounding, struck = steps[:, :5].astype(bool), steps[:, 5:].astype(bool)
    before = np.concatenate([primer[-1:, :5].astype(bool), sounding[:-1]])
    assert not (struck & ~sounding).any()                                   # struck only where it sounds
    assert (struck[sounding & ~before]).all()                               # a pitch that starts is struck
    assert (sounding & before & struck).any() and (sounding & before & ~struck).any()   # both happen
    expected = np.asarray(model.predict(primer[None], steps[:1].astype(np.float32)))[0]
    if context == 'window':                                                 # the window is exactly the primer
        np.testing.assert_allclose(probabilities[0], expected, atol=1e-5)


def test_generate_writes_a_struck_note_again(trained, tmp_path):
    from bach2.compose.generate import GenerateConfig, generate_a_fugue
    root, checkpoint = trained
    result = generate_a_fugue(GenerateConfig(checkpoint=str(checkpoint), data_dir=str(root / 'data'),
                                             out_dir=str(tmp_path), n_steps=96, temperature=1.5), log=lambda *_: None)
    record = load_pickle(result['files']['p'])
    sounding, struck = record['pitch_matrix'], record['onsets']
    assert sounding.shape == struck.shape == (96, 61) and record['primer'].shape[1] == 61
    notes = pitch_matrix_to_time_series(sounding, 24, record['lowest_pitch'], onsets=struck)
    restruck = int((sounding[1:] & sounding[:-1] & struck[1:]).sum())        # struck while sounding before
    assert restruck > 0
    assert len(notes) == len(pitch_matrix_to_time_series(sounding, 24, record['lowest_pitch'])) + restruck
    midi = mido.MidiFile(result['files']['mid'])
    assert sum(message.type == 'note_on' and message.velocity > 0 for message in midi) == len(notes)


def test_articulation_belongs_to_the_nade_and_old_checkpoints_load_without_it():
    with pytest.raises(ValueError, match='articulation'):
        ModelConfig(articulation=True)
    old = {name: value for name, value in ModelConfig(model='lstm-nade').__dict__.items() if name != 'articulation'}
    config = ModelConfig(**old)
    assert not config.articulation and config.step_width == config.n_outputs == config.n_pitches == 61
    assert ModelConfig(model='lstm-nade', articulation=True, metre_input=True).n_inputs == 122 + 6
