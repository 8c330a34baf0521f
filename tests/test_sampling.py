"""bach2.sampling: the compiled sampler gives the trained network's own predictions, in both contexts.

An untrained tiny model (random weights, biases and peepholes nudged so outputs
vary) is compared with ``RNNModel.predict`` on the same windows: the first
step after the primer must match in both contexts; with ``context='window'``
every later step must match the window made of the primer and the steps
sampled so far.
"""
import numpy as np
import pytest

from bach2.models.model_config import ModelConfig
from bach2.rnn_model import RNNModel
from bach2.sampling import Sampler, decision_noise, longest_single_pitch_run, repetition_report

L, B = 8, 3


def tiny_model(**settings):
    config = ModelConfig(n_hidden=16, sequence_length=L, batch_size=B, **settings)
    model = RNNModel(config, seed=1)
    rng = np.random.default_rng(2)
    state = {name: value + (rng.normal(0, 0.5, value.shape).astype(np.float32)
                            if name.split('.')[-1].startswith(('b', 'W_cell')) else 0)
             for name, value in model.get_state().items()}
    model.set_state(state)
    return model, Sampler(config, state)


def predict_one(model, window):
    batch = np.broadcast_to(np.asarray(window, np.float32), (B,) + np.shape(window))
    return np.asarray(model.predict(np.ascontiguousarray(batch)))[0]


@pytest.fixture(scope='module')
def polyphonic():
    return tiny_model()


@pytest.fixture(scope='module')
def primer():
    return (np.random.default_rng(0).random((L, 61)) < 0.15).astype(np.uint8)


def test_window_context_reproduces_predict_at_every_step(polyphonic, primer):
    model, sampler = polyphonic
    steps, probabilities = sampler.continue_piece(primer, 5, seed=3)
    assert steps.shape == (5, 61) and probabilities.shape == (5, 61) and steps.dtype == np.uint8
    history = np.concatenate([primer, steps])
    for t in range(5):
        np.testing.assert_allclose(probabilities[t], predict_one(model, history[t:t + L]), atol=1e-5)


def test_carry_context_starts_from_the_same_prediction(polyphonic, primer):
    model, sampler = polyphonic
    _, probabilities = sampler.continue_piece(primer, 4, context='carry')
    np.testing.assert_allclose(probabilities[0], predict_one(model, primer), atol=1e-5)


def test_bernoulli_steps_follow_the_probabilities(polyphonic, primer):
    _, sampler = polyphonic
    steps, probabilities = sampler.continue_piece(primer, 300, seed=5, context='carry')
    # each cell is 1 with probability p: the total count is within 5 standard deviations of the expectation
    expected, spread = probabilities.sum(), np.sqrt((probabilities * (1 - probabilities)).sum())
    assert abs(steps.sum() - expected) < 5 * spread


def test_threshold_rule_is_the_journals_half_cut_and_deterministic(polyphonic, primer):
    _, sampler = polyphonic
    first, probabilities = sampler.continue_piece(primer, 20, rule='threshold', seed=1)
    second, _ = sampler.continue_piece(primer, 20, rule='threshold', seed=2)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, probabilities > 0.5)


def test_same_seed_same_piece_other_seed_other_piece(polyphonic, primer):
    _, sampler = polyphonic
    a, _ = sampler.continue_piece(primer, 30, seed=7)
    b, _ = sampler.continue_piece(primer, 30, seed=7)
    c, _ = sampler.continue_piece(primer, 30, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_low_temperature_sharpens_the_probabilities(polyphonic, primer):
    _, sampler = polyphonic
    _, warm = sampler.continue_piece(primer, 1, temperature=1.0)
    _, cold = sampler.continue_piece(primer, 1, temperature=0.25)
    assert np.abs(cold - 0.5).mean() > np.abs(warm - 0.5).mean()


def test_monophonic_argmax_gives_one_pitch_or_a_rest_per_step(primer):
    model, sampler = tiny_model(mode='monophonic')
    steps, probabilities = sampler.continue_piece(primer, 12, rule='argmax')
    assert probabilities.shape == (12, 62)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    chosen = probabilities.argmax(axis=1)
    for row, index in zip(steps, chosen):
        assert row.sum() == (0 if index == 61 else 1) and (index == 61 or row[index] == 1)
    np.testing.assert_allclose(probabilities[0], predict_one(model, primer), atol=1e-5)


def test_chord_input_is_read_from_the_chords_given(primer):
    model, sampler = tiny_model(chord_input=True)
    chords = (np.random.default_rng(4).random((L + 3, 12)) < 0.3).astype(np.float32)
    _, probabilities = sampler.continue_piece(primer, 4, chords=chords)
    window = np.concatenate([primer, chords[:L]], axis=1)
    np.testing.assert_allclose(probabilities[0], predict_one(model, window), atol=1e-5)
    _, other = sampler.continue_piece(primer, 4, chords=1 - chords)
    assert not np.allclose(other[0], probabilities[0])


@pytest.mark.parametrize('call, message', [
    (lambda s, p: s.continue_piece(p[:, :60], 3), 'primer must be'),
    (lambda s, p: s.continue_piece(p, 0), 'n_steps'),
    (lambda s, p: s.continue_piece(p, 3, temperature=0), 'temperature'),
    (lambda s, p: s.continue_piece(p, 3, rule='argmax'), "rule 'argmax'"),
    (lambda s, p: s.continue_piece(p, 3, context='both'), 'context'),
    (lambda s, p: s.continue_piece(p, 3, chords=np.zeros((2, 12))), 'chords must be'),
])
def test_bad_arguments_are_refused_with_a_message(polyphonic, primer, call, message):
    with pytest.raises(ValueError, match=message):
        call(polyphonic[1], primer)


def test_decision_noise_shapes_and_rules():
    rng = np.random.default_rng(0)
    uniform = decision_noise('polyphonic', 'sample', 4, 61, rng)
    assert uniform.shape == (4, 61) and ((uniform > 0) & (uniform < 1)).all()
    assert (decision_noise('polyphonic', 'threshold', 2, 61, rng) == 0.5).all()
    assert (decision_noise('monophonic', 'argmax', 2, 62, rng) == 0).all()


def test_repetition_report_spots_a_single_repeated_pitch():
    held = np.zeros((50, 61), np.uint8)
    held[:, 30] = 1
    assert repetition_report(held) == {'distinct_pitches': 1, 'onsets': 1, 'single_repeated_pitch': True}
    scale = np.eye(61, dtype=np.uint8)[:12]
    assert repetition_report(scale)['distinct_pitches'] == 12 and repetition_report(scale)['onsets'] == 12


def test_longest_single_pitch_run_counts_held_and_restruck_notes_and_stops_at_other_pitches():
    steps = np.zeros((40, 61), np.uint8)
    steps[0:10, 30] = 1                     # held 10 steps
    steps[10, [30, 34]] = 1                 # a chord breaks the run
    steps[11:14, 30] = 1
    steps[14:16, 20] = 1                    # another pitch alone
    steps[16:20, 5] = 1                     # pitch 5: struck at 16, 18, 21 and 24 with rests between
    steps[[18, 21, 24], 5] = 1
    steps[17, 5] = steps[19, 5] = 0
    assert longest_single_pitch_run(steps) == (10, 30)
    steps[25:39, 5] = 1                     # …and held to step 38: steps 16–38 are pitch 5 alone or silence
    assert longest_single_pitch_run(steps) == (23, 5)
    assert longest_single_pitch_run(np.zeros((5, 61))) == (0, None)
