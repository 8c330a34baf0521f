"""bach2.measure.baselines: the unigram and repeat baselines on hand-made frames, values worked out by hand."""
import math

import numpy as np
import pytest

from bach2.measure.baselines import EPSILON, repeat_nll, repeat_rates, unigram_nll


def test_unigram_nll_by_hand():
    # pitch 0 sounds in 3 of 4 training frames, pitch 1 in 1 of 4 → p = (0.75, 0.25)
    train = np.array([[1, 0], [1, 1], [0, 0], [1, 0]], np.uint8)
    valid = np.array([[1, 0], [0, 1]], np.uint8)
    # frame 1: −ln 0.75 − ln 0.75; frame 2: −ln 0.25 − ln 0.25; mean = −ln 0.75 − ln 0.25
    expected = -(math.log(0.75) + math.log(0.25))
    assert unigram_nll(train, valid) == pytest.approx(expected, rel=1e-12)
    assert unigram_nll(train, valid) == pytest.approx(1.6739764335716716, rel=1e-12)


def test_unigram_nll_never_heard_pitch_is_clipped_not_infinite():
    train = np.array([[1, 0], [1, 0]], np.uint8)          # pitch 1 never sounds, pitch 0 always
    valid = np.array([[0, 1]], np.uint8)
    value = unigram_nll(train, valid)
    assert math.isfinite(value)
    assert value == pytest.approx(-2 * math.log(EPSILON), rel=1e-6)


def test_unigram_nll_sums_over_pitches_and_averages_over_frames():
    train = np.full((4, 3), 1, np.uint8)
    train[:2] = 0                                           # every pitch: p = 0.5
    valid = np.zeros((5, 3), np.uint8)
    assert unigram_nll(train, valid) == pytest.approx(3 * math.log(2), rel=1e-12)


def test_repeat_rates_by_hand():
    # one piece, one pitch: 1 1 0 1 0 0 → pairs (1,1) (1,0) (0,1) (1,0) (0,0)
    frames = np.array([[1], [1], [0], [1], [0], [0]], np.uint8)
    stay, start = repeat_rates(frames, np.array([0, 6]))
    assert stay == pytest.approx(1 / 3)                     # on before: 3 pairs, stays on in 1
    assert start == pytest.approx(1 / 2)                    # off before: 2 pairs, switches on in 1


def test_repeat_rates_ignores_pairs_that_cross_pieces():
    # piece A = 1 1, piece B = 0 0: inside the pieces a note always stays on and never starts;
    # the pair (last of A, first of B) = (1, 0) crosses the boundary and must not count.
    frames = np.array([[1], [1], [0], [0]], np.uint8)
    assert repeat_rates(frames, np.array([0, 2, 4])) == (1.0, 0.0)
    # as one piece the crossing pair counts: stay = 1/2
    assert repeat_rates(frames, np.array([0, 4])) == (0.5, 0.0)


def test_repeat_rates_three_pieces_two_pitches():
    # pieces: [a0 a1] [b0 b1 b2] [c0 c1]; the pairs a1→b0 and b2→c0 cross pieces.
    frames = np.array([[1, 0], [1, 1],               # A
                       [0, 0], [0, 1], [1, 1],       # B
                       [1, 1], [0, 0]], np.uint8)    # C
    stay, start = repeat_rates(frames, np.array([0, 2, 5, 7]))
    # inside pairs: A (1,0)->(1,1); B (0,0)->(0,1), (0,1)->(1,1); C (1,1)->(0,0)
    # on before: A p0, B p1 (second pair), C p0, C p1 → 4; stays on: A p0, B p1 → 2
    # off before: A p1, B p0 twice, B p1 (first pair) → 4; switches on: A p1, B p1, B p0 (second) → 3
    assert stay == pytest.approx(2 / 4)
    assert start == pytest.approx(3 / 4)


def test_repeat_nll_by_hand():
    rates = (0.8, 0.1)
    previous = np.array([[1, 0], [0, 0]], np.uint8)
    targets = np.array([[1, 1], [0, 0]], np.uint8)
    # frame 1: p = (0.8, 0.1), both on → −ln 0.8 − ln 0.1
    # frame 2: p = (0.1, 0.1), both off → −2 ln 0.9
    expected = (-(math.log(0.8) + math.log(0.1)) - 2 * math.log(0.9)) / 2
    assert repeat_nll(rates, previous, targets) == pytest.approx(expected, rel=1e-12)


def test_repeat_baseline_beats_unigram_on_held_notes():
    # long held notes: repeating the previous step is far better than pitch frequencies
    piece = np.zeros((40, 4), np.uint8)
    piece[:20, 0] = 1
    piece[20:, 2] = 1
    frames = np.concatenate([piece, piece])
    starts = np.array([0, 40, 80])
    rates = repeat_rates(frames, starts)
    previous, targets = piece[:-1], piece[1:]
    assert repeat_nll(rates, previous, targets) < unigram_nll(frames, targets)


def test_repeat_rates_with_an_empty_piece():
    frames = np.array([[1], [1], [0]], np.uint8)               # one real piece: pairs (1,1), (1,0)
    assert repeat_rates(frames, np.array([0, 0, 3])) == (0.5, 0.0)   # actual: (1.0, 0.0)
    assert repeat_rates(frames, np.array([0, 3, 3])) == (0.5, 0.0)   # actual: IndexError
