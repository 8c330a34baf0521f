"""bach2.data.training_windows: windows of SEQUENCE_LENGTH steps and their targets, never across two pieces.

The hand-made corpus below has three pieces of 5, 2 and 7 steps (N = 14 rows),
each row filled with its own row number so that every window can be read back:

    piece 0: rows 0-4    piece 1: rows 5-6    piece 2: rows 7-13

With L = 3 a window starting at s covers rows s, s+1, s+2 and its target is row
s+3, so the valid starts are 0, 1 (piece 0), none (piece 1 is too short) and
7, 8, 9, 10 (piece 2).
"""
import tracemalloc

import numpy as np
import pytest

from bach2.data.training_windows import (bwv_number, concatenate_pieces, iterate_batches, make_batch, make_X_Y,
                                         piece_kind, split_by_bwv, window_starts)

P = 4  # pitches of the hand-made pieces


def numbered_pieces(lengths, n_pitches=P):
    """Pieces whose row r (counted over the concatenation) is filled with r (uint8)."""
    pieces, row = [], 0
    for length in lengths:
        pieces.append(np.repeat(np.arange(row, row + length, dtype=np.uint8)[:, None], n_pitches, axis=1))
        row += length
    return pieces


# --------------------------------------------------------------------------- concatenate_pieces

def test_concatenate_pieces_stacks_rows_and_marks_starts():
    pieces = numbered_pieces([5, 2, 7])
    data, starts = concatenate_pieces(pieces)
    assert data.shape == (14, P) and data.dtype == np.uint8
    np.testing.assert_array_equal(data[:, 0], np.arange(14))
    assert starts.dtype == np.int64
    assert starts.tolist() == [0, 5, 7, 14]
    for i, piece in enumerate(pieces):
        np.testing.assert_array_equal(data[starts[i]:starts[i + 1]], piece)


def test_concatenate_pieces_of_nothing():
    data, starts = concatenate_pieces([])
    assert len(data) == 0
    assert starts.tolist() == [0] and starts.dtype == np.int64


# --------------------------------------------------------------------------- window_starts

def test_window_starts_stay_inside_pieces():
    _, piece_starts = concatenate_pieces(numbered_pieces([5, 2, 7]))
    starts = window_starts(piece_starts, 3)
    assert starts.dtype == np.int64
    assert starts.tolist() == [0, 1, 7, 8, 9, 10]


def test_window_starts_exact_fit_needs_one_more_row_for_the_target():
    # A piece of exactly L rows has no target inside it; L + 1 rows give one window.
    assert window_starts(np.array([0, 3]), 3).tolist() == []
    assert window_starts(np.array([0, 4]), 3).tolist() == [0]
    assert window_starts(np.array([0, 3, 7]), 3).tolist() == [3]


@pytest.mark.parametrize('L', [1, 2, 3, 6])
def test_no_window_or_target_crosses_a_boundary(L):
    lengths = [5, 2, 7, 1, 9]
    _, piece_starts = concatenate_pieces(numbered_pieces(lengths))
    starts = window_starts(piece_starts, L)
    piece_of = np.repeat(np.arange(len(lengths)), lengths)
    for s in starts:
        assert piece_of[s] == piece_of[s + L], (s, L)     # first row, last row and target: one piece
    # and every start that would be valid is there
    expected = [s for s in range(sum(lengths) - L) if piece_of[s] == piece_of[s + L]]
    assert starts.tolist() == expected


# --------------------------------------------------------------------------- make_X_Y

def test_make_X_Y_windows_and_targets():
    data, piece_starts = concatenate_pieces(numbered_pieces([5, 2, 7]))
    X, Y, starts = make_X_Y(data, piece_starts, 3)
    assert starts.tolist() == [0, 1, 7, 8, 9, 10]
    assert X.shape == (14 - 3, 3, P) and Y.shape == (14 - 3, P)
    for s in range(len(data) - 3):
        np.testing.assert_array_equal(X[s], data[s:s + 3])
        np.testing.assert_array_equal(Y[s], data[s + 3])
    # the valid examples, read through the row numbers
    assert X[starts][:, :, 0].tolist() == [[0, 1, 2], [1, 2, 3], [7, 8, 9], [8, 9, 10], [9, 10, 11],
                                           [10, 11, 12]]
    assert Y[starts][:, 0].tolist() == [3, 4, 10, 11, 12, 13]


def test_make_X_Y_returns_views_of_data():
    data, piece_starts = concatenate_pieces(numbered_pieces([5, 2, 7]))
    X, Y, _ = make_X_Y(data, piece_starts, 3)
    assert np.shares_memory(X, data) and np.shares_memory(Y, data)
    assert not X.flags.owndata and not Y.flags.owndata
    base = X
    while base.base is not None:          # follow the view chain down to the owner of the memory
        base = base.base
    assert base is data
    data[8, 2] = 200                       # a change in data shows through both views
    assert X[7, 1, 2] == 200 and X[8, 0, 2] == 200 and Y[5, 2] == 200


@pytest.mark.parametrize('n_rows', [0, 2, 3])
def test_make_X_Y_rejects_data_not_longer_than_L(n_rows):
    data = np.zeros((n_rows, P), np.uint8)
    with pytest.raises(ValueError, match=f'{n_rows} steps.*SEQUENCE_LENGTH = 3'):
        make_X_Y(data, np.array([0, n_rows]), 3)


def test_make_batch_copies_float32():
    data, piece_starts = concatenate_pieces(numbered_pieces([5, 2, 7]))
    X, Y, starts = make_X_Y(data, piece_starts, 3)
    inputs, targets = make_batch(X, Y, np.array([7, 0]))
    assert inputs.dtype == np.float32 and targets.dtype == np.float32
    assert inputs.shape == (2, 3, P) and targets.shape == (2, P)
    np.testing.assert_array_equal(inputs[:, :, 0], [[7, 8, 9], [0, 1, 2]])
    np.testing.assert_array_equal(targets[:, 0], [10, 3])
    assert not np.shares_memory(inputs, data)
    inputs[:] = -1
    assert data.min() == 0                   # the batch is a copy


def test_windows_do_not_copy_n_by_L_by_P():
    """~50 pieces × 200 steps × 61 pitches: X, Y and starts cost far less than an N × L × P copy."""
    rng = np.random.default_rng(0)
    pieces = [(rng.random((int(rng.integers(150, 250)), 61)) < 0.1).astype(np.uint8) for _ in range(50)]
    L = 64
    tracemalloc.start()
    try:
        data, piece_starts = concatenate_pieces(pieces)
        tracemalloc.reset_peak()
        X, Y, starts = make_X_Y(data, piece_starts, L)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    full_copy = len(starts) * L * 61
    assert peak < 2 * data.nbytes
    assert peak < full_copy / 20
    assert X.shape == (len(data) - L, L, 61)
    np.testing.assert_array_equal(X[starts[-1]], data[starts[-1]:starts[-1] + L])


# --------------------------------------------------------------------------- iterate_batches

def test_iterate_batches_uses_every_window_once_per_epoch():
    starts = np.array([0, 1, 7, 8, 9, 10, 20, 21, 22, 30, 31], np.int64)    # 11 windows
    batches = iterate_batches(starts, 4, seed=3, epoch=0)
    assert len(batches) == 3
    for batch_starts, weights in batches:
        assert batch_starts.shape == (4,) and weights.shape == (4,)     # static batch size
        assert weights.dtype == np.float32
        assert set(weights.tolist()) <= {0.0, 1.0}
        assert set(batch_starts.tolist()) <= set(starts.tolist())      # padding uses real windows too
    used = np.concatenate([s[w == 1] for s, w in batches])
    assert sorted(used.tolist()) == starts.tolist()                      # each window once, weight 1
    all_weights = np.concatenate([w for _, w in batches])
    assert all_weights.sum() == len(starts)
    assert batches[-1][1].tolist() == [1, 1, 1, 0]                      # 11 = 4 + 4 + 3: one padding slot
    assert batches[0][1].tolist() == [1, 1, 1, 1]


def test_iterate_batches_exact_multiple_has_no_padding():
    starts = np.arange(12, dtype=np.int64)
    batches = iterate_batches(starts, 4, seed=0, epoch=5)
    assert len(batches) == 3
    assert all(w.tolist() == [1, 1, 1, 1] for _, w in batches)


def test_iterate_batches_order_depends_only_on_seed_and_epoch():
    starts = np.arange(0, 200, 2, dtype=np.int64)

    def order(seed, epoch):
        return np.concatenate([s for s, _ in iterate_batches(starts, 8, seed, epoch)]).tolist()

    assert order(0, 1) == order(0, 1)
    assert order(0, 1) != order(0, 2)
    assert order(0, 1) != order(1, 1)
    assert order(0, 1)[:100] != starts.tolist()                          # shuffled


def test_iterate_batches_does_not_change_its_input():
    starts = np.arange(10, dtype=np.int64)
    iterate_batches(starts, 3, seed=0, epoch=0)
    assert starts.tolist() == list(range(10))


# --------------------------------------------------------------------------- BWV numbers and the split

@pytest.mark.parametrize('name, number', [
    ('bwv846_fugue_wtc1_01', 846), ('bwv1.6', 1), ('BWV 565', 565), ('prelude', None),
    ('mutopia/bwv847', 847), ('Bwv_1006a', 1006), ('sinfonia_bwv787', 787), ('', None),
])
def test_bwv_number(name, number):
    assert bwv_number(name) == number


@pytest.mark.parametrize('name, kind', [
    ('bwv846_fugue_wtc1_01', 'fugue'), ('bwv1079_ricercar_ricercare6', 'fugue'), ('bwv855_prelude_bwv855a', 'prelude'),
    ('bwv903_fantasia_bwv903fan', 'prelude'), ('bwv772_invention_bach-invention-01', 'invention'),
    ('bwv787_sinfonia_x', 'invention'), ('bwv568_other_bwv-568', 'other'), ('my_piece', 'other'),
])
def test_piece_kind(name, kind):
    assert piece_kind(name) == kind


NAMES = ['bwv846_fugue', 'bwv846_prelude', 'buschke_bwv847', 'mutopia_bwv847', 'bwv848_prelude_sh0',
         'BWV 565', 'bwv565_toccata', 'prelude', 'fugue_in_c', 'bwv1.6', 'bwv1.8', 'bwv2_x', 'bwv3_x',
         'bwv4_x', 'bwv5_x', 'bwv6_x', 'bwv7_x', 'bwv8_x', 'bwv9_x', 'bwv10_x']
GROUPS = {846, 847, 848, 565, 'prelude', 'fugue_in_c', *range(1, 11)}  # 16 works


def group_of(name):
    number = bwv_number(name)
    return number if number is not None else name


@pytest.mark.parametrize('seed', range(20))
def test_split_by_bwv_never_puts_one_work_on_both_sides(seed):
    train, valid = split_by_bwv(NAMES, valid_fraction=0.3, seed=seed)
    assert sorted(train + valid) == list(range(len(NAMES)))            # a partition of the pieces
    assert not set(train) & set(valid)
    train_groups = {group_of(NAMES[i]) for i in train}
    valid_groups = {group_of(NAMES[i]) for i in valid}
    assert not train_groups & valid_groups
    assert {group_of(n) for n in NAMES} == GROUPS
    assert len(valid_groups) == round(0.3 * len(GROUPS))


def test_split_by_bwv_is_deterministic_and_seeded():
    splits = {seed: split_by_bwv(NAMES, 0.3, seed) for seed in range(6)}
    assert all(split_by_bwv(NAMES, 0.3, seed) == splits[seed] for seed in range(6))
    assert len({tuple(valid) for _, valid in splits.values()}) > 1       # another seed, another split


def test_split_by_bwv_fraction_roughly_respected():
    names = [f'bwv{n}_{part}' for n in range(1, 101) for part in ('prelude', 'fugue')]
    for fraction in (0.1, 0.25, 0.5):
        train, valid = split_by_bwv(names, fraction, seed=0)
        assert len(valid) == 2 * round(fraction * 100)
        assert len(train) + len(valid) == 200


def test_split_by_bwv_edge_cases():
    assert split_by_bwv(['bwv1_a', 'bwv1_b'], 0.5, 0) == ([0, 1], [])    # one work: nothing to hold out
    assert split_by_bwv(['bwv1', 'bwv2', 'bwv3'], 0.0, 0) == ([0, 1, 2], [])
    train, valid = split_by_bwv(['bwv1', 'bwv2', 'bwv3'], 0.01, 0)      # at least one group when two or more
    assert len(valid) == 1 and len(train) == 2
