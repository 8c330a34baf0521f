"""The journal's failure mode on real Bach: a trained model must not collapse to one repeated pitch."""
import pytest

from conftest import SHARED_DATA

from bach2.model_config import ModelConfig
from bach2.prepare import prepare_training_data
from bach2.sampling import Sampler, repetition_report
from bach2.train import TrainConfig, baseline_report, train


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A small model trained for two short epochs on the shared keyboard corpus (sh0)."""
    if not SHARED_DATA.is_dir():
        pytest.skip('../shared/data is absent (CI has it)')
    data = tmp_path_factory.mktemp('kb')
    prepare_training_data(SHARED_DATA / 'bach_keyboard', data, progress=False)
    config = TrainConfig(data_dir=str(data), out_dir=str(tmp_path_factory.mktemp('ck')), epochs=2,
                         transpositions=(0,), max_batches=120, max_valid_frames=4000)
    trainer, history = train(ModelConfig(n_hidden=32, optimizer='adam', learning_rate=0.005), config,
                             progress=False, log=lambda line: None)
    return trainer, history


def test_sampled_200_steps_are_not_one_repeated_pitch(trained):
    trainer, _ = trained
    sampler = Sampler(trainer.model.config, trainer.model.get_state())
    steps, _ = sampler.continue_piece(trainer.valid_primer(), 200, seed=1)
    report = repetition_report(steps)
    assert not report['single_repeated_pitch']
    assert report['distinct_pitches'] >= 5 and report['onsets'] >= 10, report


def test_trained_model_beats_the_unigram_baseline(trained):
    trainer, history = trained
    assert history[-1]['valid_nll_per_frame'] < baseline_report(trainer)['unigram']
