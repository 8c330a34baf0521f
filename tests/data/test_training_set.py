"""bach2.data.training_set crops: the first N steps of each piece (the journal's first 4 bars) and the first N
steps of all pieces in order (its ``pitch_matrix[:4800]``), with window counts ours vs the journal's."""
import numpy as np
import pytest

from bach2.chord_sequence import NO_CHORD
from bach2.data.prepare import prepare_training_data
from bach2.data.training_set import Crop, Rows, build_training_set, crop_pieces, load_training_set, piece_names
from bach2.data.training_windows import journal_data_size, window_starts
from midi_builders import write_random_corpus


def piece(n_steps, marker):
    """``n_steps × 61`` pitch matrix whose row t sounds column (marker + t) % 61; chords all 0."""
    matrix = np.zeros((n_steps, 61), np.uint8)
    matrix[np.arange(n_steps), (marker + np.arange(n_steps)) % 61] = 1
    return matrix, np.zeros(n_steps, np.int16), f'piece{marker}'


def test_piece_steps_keeps_the_first_steps_of_every_piece():
    pieces = [piece(100, 0), piece(50, 10), piece(80, 20)]
    data = build_training_set(pieces, crop=Crop(piece_steps=64))
    assert data.n_steps == 64 + 50 + 64
    assert list(data.piece_starts) == [0, 64, 114, 178]
    np.testing.assert_array_equal(data.inputs[114:178], pieces[2][0][:64])
    # windows of 16 steps: 48 + 34 + 48 (the 50-step piece is shorter than 64 and stays whole)
    assert len(window_starts(data.piece_starts, 16)) == 130


def test_max_steps_keeps_the_first_steps_of_the_concatenation_in_piece_order():
    pieces = [piece(100, 0), piece(50, 10), piece(80, 20)]
    data = build_training_set(pieces, crop=Crop(max_steps=120))
    assert data.n_steps == 120 and data.names == ['piece0', 'piece10']
    assert list(data.piece_starts) == [0, 100, 120]
    np.testing.assert_array_equal(data.inputs[100:], pieces[1][0][:20])
    assert len(window_starts(data.piece_starts, 16)) == 84 + 4
    assert journal_data_size(120, 16) == 104         # the journal also counted the 16 windows across the boundary


def test_the_journals_4800_steps_give_4784_windows_to_it_and_16_fewer_per_boundary_to_us():
    pieces = [piece(n, k) for k, n in enumerate([2000, 1500, 1000, 900, 700])]
    data = build_training_set(pieces, crop=Crop(max_steps=4800))
    assert data.n_steps == 4800 and len(data.names) == 4          # 2000 + 1500 + 1000 + 300 of the fourth
    assert journal_data_size(data.n_steps, 16) == 4784
    assert len(window_starts(data.piece_starts, 16)) == 4784 - 3 * 16


def test_crops_apply_after_the_silent_pad_and_keep_the_chords_aligned():
    matrix, _, name = piece(100, 0)
    chords = np.arange(100, dtype=np.int16)
    (cropped, cropped_chords, _, _), = crop_pieces([(matrix, chords, name)], piece_steps=64, pad=16)
    assert len(cropped) == 80 and not cropped[:16].any()
    np.testing.assert_array_equal(cropped[16:], matrix[:64])
    assert (cropped_chords[:16] == NO_CHORD).all() and list(cropped_chords[16:]) == list(range(64))
    assert len(crop_pieces([piece(100, 0), piece(50, 1)], max_steps=90)) == 1


def test_monophonic_and_chord_input_sets_are_cropped_alike():
    pieces = [piece(100, 0), piece(50, 10)]
    data = build_training_set(pieces, Rows(monophonic=True, chord_input=True), Crop(piece_steps=40, max_steps=70))
    assert data.inputs.shape == (70, 61 + 12) and data.targets.shape == (70, 62)
    assert len(data.step_chords) == 70 and list(data.piece_starts) == [0, 40, 70]


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('crops')
    data = root / 'data'
    prepare_training_data(write_random_corpus(root / 'midi'), data, progress=False, processes=1)
    return data


def test_load_training_set_crops_prepared_pieces_in_every_transposition(data_dir):
    n = len(piece_names(data_dir))
    full = load_training_set(data_dir, range(n), transpositions=(0, 1))
    first = load_training_set(data_dir, range(n), transpositions=(0, 1), crop=Crop(piece_steps=16))
    assert full.n_steps == 2 * n * 64 and first.n_steps == 2 * n * 16
    np.testing.assert_array_equal(first.inputs[:16], full.inputs[:16])
    cut = load_training_set(data_dir, range(n), transpositions=(0, 1), crop=Crop(max_steps=100))
    assert cut.n_steps == 100 and cut.names == [f'{name}_sh0' for name in piece_names(data_dir)[:2]]
