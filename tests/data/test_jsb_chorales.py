"""bach2.data.jsb_chorales: the JSB Chorales benchmark as a prepared folder — 88 keys, quarter notes, split.json."""
import json

import numpy as np
import pytest

from bach2.common import CorpusError
from bach2.data.jsb_chorales import (LOWEST_KEY, N_KEYS, chorale_roll, load_jsb_chorales, prepare_jsb_chorales,
                                     transpose_keys)
from bach2.data.training_set import Crop, load_training_set, piece_names, prepared_geometry, read_split, split_indices
from bach2.models.nll import data_windows
from conftest import SHARED_DATA

JSB_JSON = SHARED_DATA / 'jsb_chorales' / 'jsb-chorales-quarter.json'
SMALL = {'train': [[[60, 64, 67], [62], [], [43, 96]], [[48], [50, 53]]],
         'valid': [[[55, 59, 62], [60]]],
         'test': [[[57], [57, 60], [64]]]}


@pytest.fixture
def small_json(tmp_path):
    path = tmp_path / 'jsb.json'
    path.write_text(json.dumps(SMALL))
    return path


def test_chorale_roll_puts_each_pitch_in_its_key_column():
    roll = chorale_roll(SMALL['train'][0])
    assert roll.shape == (4, N_KEYS) and roll.dtype == np.uint8
    assert [list(np.nonzero(row)[0] + LOWEST_KEY) for row in roll] == [[60, 64, 67], [62], [], [43, 96]]


def test_a_pitch_off_the_keyboard_is_refused_naming_file_split_and_step(tmp_path):
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps({'train': [[[60], [200]]], 'valid': [], 'test': []}))
    with pytest.raises(CorpusError, match=r'bad\.json: train chorale 0: step 1: 200 is not a piano key'):
        load_jsb_chorales(path)


@pytest.mark.parametrize('text', ['not json', '{"train": []}', '[1, 2]'])
def test_a_file_that_is_not_the_benchmark_is_one_clear_error(tmp_path, text):
    path = tmp_path / 'x.json'
    path.write_text(text)
    with pytest.raises(CorpusError, match=r'x\.json: ') as error:
        load_jsb_chorales(path)
    assert '\n' not in str(error.value)


def test_transpose_keys_moves_notes_and_drops_those_pushed_off_the_keyboard():
    roll = np.zeros((1, N_KEYS), np.uint8)
    roll[0, [0, 40, 87]] = 1
    assert list(np.nonzero(transpose_keys(roll, 2)[0])[0]) == [2, 42]
    assert list(np.nonzero(transpose_keys(roll, -3)[0])[0]) == [37, 84]
    assert list(np.nonzero(transpose_keys(roll, 0)[0])[0]) == [0, 40, 87]


def test_prepared_folder_keeps_the_split_and_the_geometry(small_json, tmp_path):
    out = tmp_path / 'prepared'
    written = prepare_jsb_chorales(small_json, out, transpositions=(0, 2))
    assert all(path.exists() for path in written)
    assert prepared_geometry(out) == (96, 88, 21)
    names = piece_names(out, 96)
    split = read_split(out)
    assert split == {'train': ['jsb_train_000', 'jsb_train_001'], 'valid': ['jsb_valid_000'], 'test': ['jsb_test_000']}
    assert [names[i] for i in split_indices(names, split, 'test', out)] == ['jsb_test_000']
    sh0 = load_training_set(out, [0], transpositions=(0,), step_ticks=96)
    sh2 = load_training_set(out, [0], transpositions=(2,), step_ticks=96)
    np.testing.assert_array_equal(sh0.inputs, chorale_roll(SMALL['train'][0]))
    np.testing.assert_array_equal(sh2.inputs[:, 2:], sh0.inputs[:, :-2])       # sh2 = two semitones up
    with pytest.raises(CorpusError, match="no split named 'extra'"):
        split_indices(names, split, 'extra', out)


def test_with_a_silent_start_every_real_frame_is_the_target_of_exactly_one_window(small_json, tmp_path):
    out = tmp_path / 'prepared'
    prepare_jsb_chorales(small_json, out, transpositions=(0,))
    L = 5
    data = load_training_set(out, [0, 1, 2, 3], transpositions=(0,), step_ticks=96, crop=Crop(pad=L))
    X, Y, starts = data_windows(data, L)
    real = np.concatenate([chorale_roll(c) for split in ('train', 'valid', 'test') for c in SMALL[split]])
    assert len(starts) == len(real) == 11
    np.testing.assert_array_equal(Y[starts], real)                        # every frame, in order, once
    assert not X[starts[0]].any()                                          # the first frame is predicted from silence


def test_the_real_benchmark_has_the_published_split_and_pitch_range():
    if not JSB_JSON.exists():
        pytest.skip('../shared/data is absent (CI has it)')
    rolls = load_jsb_chorales(JSB_JSON)
    assert {split: len(rolls[split]) for split in rolls} == {'train': 229, 'valid': 76, 'test': 77}
    assert {split: sum(map(len, rolls[split])) for split in rolls} == {'train': 13807, 'valid': 4602, 'test': 4725}
    keys = np.nonzero(np.concatenate([r for split in rolls.values() for r in split]).any(axis=0))[0] + LOWEST_KEY
    assert keys.min() == 43 and keys.max() == 96
