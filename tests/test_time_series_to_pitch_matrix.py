"""bach2.time_series_to_pitch_matrix: pitch matrices, transpositions, bass line.

Pieces are at 96 ticks per quarter with step_ticks=24, so one row = 24 ticks (a 16th),
and the window is 5 pitches from MIDI 60 (C4) unless a test says otherwise. A real MIDI file with a
triplet and a 32nd run shows what the grid changes (quantization_report).
"""
import numpy as np
import pytest

from bach2.midi_to_time_series import Voice, midi_to_time_series
from bach2.time_series_to_midi import notes_to_piece
from bach2.time_series_to_pitch_matrix import (bass_line, octave_shift, onset_roll, pitch_matrix_to_roll,
                                               pitch_matrix_to_time_series, pitch_span, quantization_report,
                                               quantization_summary, shift_semitones, ticks_per_step,
                                               time_series_to_pitch_matrix, transpositions, window)
from midi_builders import off, on, write_midi

WINDOW = dict(step_ticks=24, lowest_pitch=60, n_pitches=5)
# C4 for two steps, E4 from step 1 for three steps, D4 at step 2.
THREE_NOTES = [(0, 60, 48), (24, 64, 72), (48, 62, 24)]
THREE_NOTES_MATRIX = np.array([
    # 60 61 62 63 64
    [1, 0, 0, 0, 0],
    [1, 0, 0, 0, 1],
    [0, 0, 1, 0, 1],
    [0, 0, 0, 0, 1],
], np.uint8)


def piece_of(notes, resolution=96):
    return notes_to_piece(notes, resolution=resolution)


def test_three_notes():
    matrix, outside = time_series_to_pitch_matrix(piece_of(THREE_NOTES), **WINDOW)
    assert matrix.dtype == np.uint8
    np.testing.assert_array_equal(matrix, THREE_NOTES_MATRIX)
    assert outside == 0


def test_step_follows_the_file_resolution():
    """The same music at 384 ticks per quarter gives the same matrix."""
    notes = [(4 * time, pitch, 4 * duration) for time, pitch, duration in THREE_NOTES]
    matrix, _ = time_series_to_pitch_matrix(piece_of(notes, resolution=384), **WINDOW)
    np.testing.assert_array_equal(matrix, THREE_NOTES_MATRIX)


def test_ticks_per_step():
    assert ticks_per_step(96) == 24
    assert ticks_per_step(384) == 96
    with pytest.raises(ValueError):
        ticks_per_step(2)


def test_thirty_second_notes_keep_one_step():
    # 12 ticks each: onset 0 rounds to step 0, onset 36 (1.5 steps) rounds to step 2.
    matrix, _ = time_series_to_pitch_matrix(piece_of([(0, 60, 12), (36, 61, 12)]),
                                            step_ticks=24, lowest_pitch=60, n_pitches=2)
    np.testing.assert_array_equal(matrix, [[1, 0],
                                           [0, 0],
                                           [0, 1]])


def test_unison_in_two_voices_is_one():
    piece = piece_of([(0, 60, 48)])
    piece.voices.append(Voice(track=2, channel=1, name='alto', notes=[(24, 60, 48)]))
    matrix, _ = time_series_to_pitch_matrix(piece, step_ticks=24, lowest_pitch=60, n_pitches=1)
    np.testing.assert_array_equal(matrix, [[1], [1], [1]])


@pytest.mark.parametrize('semitones, expected', [
    (2, [[0, 0, 1, 0, 0],     # 60 → 62, 62 → 64, 64 → 66 leaves the window
         [0, 0, 1, 0, 0],
         [0, 0, 0, 0, 1],
         [0, 0, 0, 0, 0]]),
    (-1, [[0, 0, 0, 0, 0],    # 60 → 59 leaves the window, 62 → 61, 64 → 63
          [0, 0, 0, 1, 0],
          [0, 1, 0, 1, 0],
          [0, 0, 0, 1, 0]]),
])
def test_transposition_shifts_columns(semitones, expected):
    matrix, outside = time_series_to_pitch_matrix(piece_of(THREE_NOTES), semitones=semitones, **WINDOW)
    np.testing.assert_array_equal(matrix, expected)
    assert outside == 1


def test_transpositions_are_twelve_keys_from_minus_5_to_6():
    assert [shift_semitones(k) for k in range(12)] == [0, 1, 2, 3, 4, 5, 6, -5, -4, -3, -2, -1]
    piece = piece_of(THREE_NOTES)
    keys = transpositions(piece, **WINDOW)
    assert sorted(keys) == list(range(12))
    for k, (matrix, outside) in keys.items():
        expected, expected_outside = time_series_to_pitch_matrix(piece, semitones=shift_semitones(k), **WINDOW)
        np.testing.assert_array_equal(matrix, expected)
        assert outside == expected_outside
    assert keys[0][1] == 0 and keys[11][1] == 1   # down 1: C4 leaves the window


def test_pitch_matrix_to_time_series_is_legato():
    matrix = np.array([
        # 60 61
        [1, 0],
        [1, 1],
        [0, 1],
        [1, 0],
    ], np.uint8)
    assert pitch_matrix_to_time_series(matrix, step=24, lowest_pitch=60) == [
        (0, 60, 48), (24, 61, 48), (72, 60, 24)]


def test_repeated_note_merges_into_one():
    """Legato: the inverse cannot tell a re-struck pitch from a held one."""
    matrix, _ = time_series_to_pitch_matrix(piece_of([(0, 60, 24), (24, 60, 24)]), **WINDOW)
    assert pitch_matrix_to_time_series(matrix, step=24, lowest_pitch=60) == [(0, 60, 48)]


def test_the_onset_plane_tells_a_struck_note_from_a_held_one(tmp_path):
    """Articulation round trip: MIDI → matrix and onset plane (stage 1 stores it) → MIDI keeps C4 struck twice
    apart from E4 held for as long, and a note struck while another voice holds the same pitch."""
    from bach2.midi_to_time_series import Piece, midi_to_time_series
    from bach2.data.prepare import ONSETS, PrepareConfig, prepare_training_data
    from bach2.safe_io import load_pickle
    from bach2.time_series_to_midi import time_series_to_midi
    notes = [(0, 60, 48), (48, 60, 48), (0, 64, 96), (96, 62, 24)]         # C4 C4 | E4 held | D4
    voices = [Voice(track=1, channel=0, name='a', notes=notes), Voice(track=2, channel=1, name='b',
                                                                      notes=[(24, 64, 24)])]   # E4 again, inside
    piece = Piece(name='bwv1', resolution=96, tempi=[(0, 500000)], time_signatures=[(0, 4, 4)], key_signatures=[],
                  markers=[], voices=voices, end_tick=120)
    midi = tmp_path / 'midi'
    midi.mkdir()
    time_series_to_midi(piece, midi / 'bwv1.mid')
    matrix, _ = time_series_to_pitch_matrix(midi_to_time_series(midi / 'bwv1.mid'), **WINDOW)
    onsets = onset_roll(midi_to_time_series(midi / 'bwv1.mid'), 24)[:, 60:65]
    np.testing.assert_array_equal(onsets[:, [0, 2, 4]], [[1, 0, 1], [0, 0, 1], [1, 0, 0], [0, 0, 0], [0, 1, 0]])
    assert pitch_matrix_to_time_series(matrix, 24, 60) == [(0, 60, 96), (0, 64, 96), (96, 62, 24)]   # legato
    assert pitch_matrix_to_time_series(matrix, 24, 60, onsets=onsets) == [
        (0, 60, 48), (0, 64, 24), (24, 64, 72), (48, 60, 48), (96, 62, 24)]
    prepare_training_data(midi, tmp_path / 'data', PrepareConfig(lowest_pitch=60, n_pitches=5), processes=1,
                          progress=False)
    for k, shift in ((0, 0), (1, 1)):                    # the same plane in every key, moved with the notes
        stored = load_pickle(tmp_path / 'data' / f'pitch_matrix_24ticks_sh{k}.p')
        np.testing.assert_array_equal(stored[ONSETS][0][:, shift:], onsets[:, :5 - shift])
        with np.load(tmp_path / 'data' / f'pitch_matrix_24ticks_sh{k}.npz') as arrays:
            np.testing.assert_array_equal(arrays[ONSETS], stored[ONSETS][0])


def test_inverse_on_a_grid_aligned_piece():
    matrix, _ = time_series_to_pitch_matrix(piece_of(THREE_NOTES), **WINDOW)
    assert pitch_matrix_to_time_series(matrix, step=24, lowest_pitch=60) == sorted(THREE_NOTES)


def test_octave_shift_counts_lost_cells():
    matrix = np.zeros((2, 14), np.uint8)
    matrix[0, [0, 13]] = 1
    matrix[1, [1, 5]] = 1
    up, lost_up = octave_shift(matrix, 1)        # 0 → 12 and 1 → 13 stay; 13 and 5 fall off
    expected_up = np.zeros((2, 14), np.uint8)
    expected_up[0, 12] = expected_up[1, 13] = 1
    np.testing.assert_array_equal(up, expected_up)
    assert (lost_up, up.dtype) == (2, np.uint8)
    down, lost_down = octave_shift(matrix, -1)   # 13 → 1 stays; 0, 1 and 5 fall off
    expected_down = np.zeros((2, 14), np.uint8)
    expected_down[0, 1] = 1
    np.testing.assert_array_equal(down, expected_down)
    assert lost_down == 3
    assert octave_shift(matrix, 2)[1] == 4
    same, lost = octave_shift(matrix, 0)
    np.testing.assert_array_equal(same, matrix)
    assert lost == 0


def test_bass_line_keeps_lowest_pitch():
    matrix = np.array([[0, 1, 0, 1],
                       [0, 0, 0, 0],
                       [1, 1, 1, 0]], np.uint8)
    bass = bass_line(matrix)
    assert bass.dtype == np.uint8
    np.testing.assert_array_equal(bass, [[0, 1, 0, 0],
                                         [0, 0, 0, 0],
                                         [1, 0, 0, 0]])


def test_pitch_span():
    assert pitch_span(piece_of(THREE_NOTES)) == (60, 64)
    assert pitch_span(piece_of([])) is None


def test_empty_piece_gives_empty_matrix():
    matrix, outside = time_series_to_pitch_matrix(piece_of([]), **WINDOW)
    assert (matrix.shape, matrix.dtype, outside) == ((0, 5), np.uint8, 0)


def test_pitch_matrix_to_roll_is_the_inverse_of_window():
    matrix = (np.random.default_rng(0).random((20, 61)) < 0.2).astype(np.uint8)
    roll = pitch_matrix_to_roll(matrix, lowest_pitch=24)
    assert roll.shape == (20, 128) and not roll[:, :24].any() and not roll[:, 85:].any()
    np.testing.assert_array_equal(window(roll, lowest_pitch=24, n_pitches=61), matrix)


# --------------------------------------------------------------------------- what the grid changes

def write_finer_than_sixteenths(path):
    """A real MIDI file at 96 ticks per quarter: C4 a quarter, an 8th-note triplet E4 F4 G4 (32 ticks each), the
    32nd run A4 G4 F4 E4 (12 ticks each), then D4 a quarter on the beat."""
    notes = [(0, 60, 96), (96, 64, 32), (128, 65, 32), (160, 67, 32),
             (192, 69, 12), (204, 67, 12), (216, 65, 12), (228, 64, 12), (240, 62, 96)]
    messages, now = [], 0
    for start, pitch, duration in notes:
        messages += [on(pitch, start - now), off(pitch, duration)]
        now = start + duration
    return write_midi(path, [messages])


def test_the_quantization_report_names_each_note_the_16th_grid_changes(tmp_path):
    piece = midi_to_time_series(write_finer_than_sixteenths(tmp_path / 'triplet_and_32nds.mid'))
    report = quantization_report(piece, 24)
    assert report == [
        (1.0, 'E4', 'moved: at 1 for 0.25 (written 1 for 0.3333)'),
        (4 / 3, 'F4', 'moved: at 1.25 for 0.5 (written 1.333 for 0.3333)'),
        (5 / 3, 'G4', 'moved: at 1.75 for 0.25 (written 1.667 for 0.3333)'),
        (2.0, 'A4', 'moved: at 2 for 0.25 (written 2 for 0.125)'),
        (2.125, 'G4', 'dropped: struck with F4 at 2.25'),        # F4 was written on that step, G4 was not
        (2.25, 'F4', 'moved: at 2.25 for 0.25 (written 2.25 for 0.125)'),
        (2.375, 'E4', 'dropped: struck with D4 at 2.5'),
    ]
    summary = quantization_summary(report)
    assert summary == ('7 notes finer than the 16th-note grid changed (2 dropped, 0 merged, 5 moved); first: '
                       'quarter 1, E4 moved: at 1 for 0.25 (written 1 for 0.3333)')
    assert quantization_report(piece, 12)[:1] == [(1.0, 'E4', 'moved: at 1 for 0.375 (written 1 for 0.3333)')]
    assert not [note for note in quantization_report(piece, 12) if note[0] >= 2]      # the 32nds fit a 32nd grid


def test_notes_on_the_grid_are_not_reported_and_a_repeat_on_one_step_is_merged(tmp_path):
    on_grid = midi_to_time_series(write_midi(tmp_path / 'plain.mid', [[on(60), off(60, 48), on(62), off(62, 24)]]))
    assert quantization_report(on_grid) == [] and quantization_summary([]) == ''
    repeated = piece_of([(0, 60, 6), (6, 60, 6), (24, 62, 24)])      # two 64ths of C4 land on step 0
    assert quantization_report(repeated) == [(0.0, 'C4', 'moved: at 0 for 0.25 (written 0 for 0.0625)'),
                                             (0.0625, 'C4', 'merged: struck with C4 at 0')]
    assert quantization_summary(quantization_report(repeated)).startswith(
        '2 notes finer than the 16th-note grid changed (0 dropped, 1 merged, 1 moved)')


def test_the_report_leaves_stage_1_as_it_was(tmp_path):
    piece = midi_to_time_series(write_finer_than_sixteenths(tmp_path / 'triplet_and_32nds.mid'))
    matrix, outside = time_series_to_pitch_matrix(piece, 24, lowest_pitch=60, n_pitches=10)
    quantization_report(piece)
    assert outside == 0 and (time_series_to_pitch_matrix(piece, 24, lowest_pitch=60, n_pitches=10)[0] == matrix).all()
    # the triplet became 0.25 / 0.5 / 0.25, the run A4 G4+F4 E4+D4: what the report says
    assert [np.flatnonzero(row).tolist() for row in matrix[4:12]] == [[4], [5], [5], [7], [9], [5, 7], [2, 4], [2]]
