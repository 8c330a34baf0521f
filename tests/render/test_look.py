"""Look: piano rolls with stage-2 chord labels, the X/Y windows figure, pitch-class histograms, ``bach2 look``."""
import os
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from bach2.chord_sequence import CHORD_NAMES, NO_CHORD, chord_index_sequence
from bach2.common import CorpusError
from bach2.data.prepare import prepare_training_data
from bach2.data.training_windows import concatenate_pieces, make_X_Y
from bach2.midi_to_time_series import midi_to_time_series
from bach2.music.metre import regular_positions
from bach2.render.look import load_pitch_matrix, look
from bach2.render.piano_roll import (bar_lines, chord_changes, chord_symbol, pitch_matrix_chords, place_labels,
                                     plot_piano_roll, progression_text)
from bach2.render.pitch_class_plot import pitch_class_counts, pitch_class_distribution, plot_pitch_class_histograms
from bach2.render.windows_figure import pick_windows, plot_windows
from bach2.safe_io import save_pickle
from bach2.time_series_to_pitch_matrix import time_series_to_pitch_matrix
from midi_builders import off, on, write_midi, write_random_corpus

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
ENV = {**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2] /
                                                                     'Source_Code'), os.environ.get('PYTHONPATH')]))}


def png_size(path):
    """(width, height) in pixels from the PNG header."""
    data = Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE
    return int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')


def write_cadence(path):
    """C major, F major, G7, C major: one chord per bar of whole notes (96 ticks per quarter)."""
    chords = [(48, 60, 64, 67), (53, 60, 65, 69), (43, 59, 62, 65), (48, 60, 64, 67)]
    messages = []
    for chord in chords:
        messages += [on(p) for p in chord] + [off(p, 384 if i == 0 else 0) for i, p in enumerate(chord)]
    return write_midi(path, [messages])


def test_chord_symbols_and_changes():
    assert chord_symbol(CHORD_NAMES.index(('D#', 'minor'))) == 'D#m'
    assert chord_symbol(CHORD_NAMES.index(('G', 'dominant'))) == 'G7'
    assert chord_symbol(NO_CHORD) == ''
    assert chord_changes([5, 5, 7, NO_CHORD, NO_CHORD, 5]) == [(0, 5), (2, 7), (3, NO_CHORD), (5, 5)]


def test_progression_text():
    assert progression_text([0, 6, NO_CHORD, 7], per_line=2) == 'C C+\n- C7'


def test_labels_never_overlap_on_a_row_and_dense_changes_drop_some():
    changes = [(q, q % 20) for q in range(400)]                         # a new chord every quarter
    placed = place_labels(changes, quarters_per_inch=40)
    assert 0 < len(placed) < 400
    for row in range(3):
        quarters = [q for q, r, _ in placed if r == row]
        for (a, symbol), b in zip([(q, s) for q, r, s in placed if r == row], quarters[1:]):
            assert b - a >= (0.7 * 7 * (len(symbol) + 1) + 2) / 72 * 40
    sparse = place_labels([(0, 0), (8, 10), (16, 20)], quarters_per_inch=4)
    assert [row for _, row, _ in sparse] == [0, 0, 0]                   # room enough: one row


def test_chords_of_a_pitch_matrix_are_stage_2_chords(tmp_path):
    piece = midi_to_time_series(write_cadence(tmp_path / 'cadence.mid'))
    matrix, _ = time_series_to_pitch_matrix(piece)
    chords = pitch_matrix_chords(matrix, 24)
    np.testing.assert_array_equal(chords, chord_index_sequence(piece))
    names = [CHORD_NAMES[c] for c in chords[::4]]
    assert names == [('C', 'major'), ('F', 'major'), ('G', 'dominant'), ('C', 'major')]


def test_look_draws_a_midi_file_with_chords(tmp_path):
    midi = write_cadence(tmp_path / 'cadence.mid')
    path = look(midi)
    assert Path(path) == tmp_path / 'cadence_roll.png'
    width, height = png_size(path)
    assert width > 300 and height > 400                                # the chord row makes it taller
    found = load_pitch_matrix(midi)
    assert found['lowest_pitch'] == 36 and found['matrix'].shape == (64, 36)   # C2 … B4, 16 bars of 16ths


def test_bar_lines_of_a_piece_in_three_four_come_every_three_quarters(tmp_path):
    waltz = [mido.MetaMessage('time_signature', numerator=3, denominator=4)]
    for pitch in (60, 62, 64, 65):                                     # four bars of dotted halves
        waltz += [on(pitch), off(pitch, 288)]
    found = load_pitch_matrix(write_midi(tmp_path / 'waltz.mid', [waltz]))
    assert found['matrix'].shape[0] == 48
    assert bar_lines(found['positions']).tolist() == [0, 12, 24, 36]   # 3 quarters of 4 sixteenths
    record = {'pitch_matrix': found['matrix'][8:], 'primer': found['matrix'][:8],
              'bar_positions': found['positions'][8:]}
    save_pickle(record, tmp_path / 'waltz.p')                          # as bach2 generate keeps it
    assert bar_lines(load_pitch_matrix(tmp_path / 'waltz.p')['positions']).tolist() == [0, 12, 24, 36]
    cadence = load_pitch_matrix(write_cadence(tmp_path / 'cadence.mid'))['positions']
    assert bar_lines(cadence).tolist() == [0, 16, 32, 48]                # no time signature: 4/4
    assert bar_lines(regular_positions(28, 12, first=8)).tolist() == [4, 16]   # from the third beat of 3/4


def test_look_draws_a_generated_record_and_a_stage1_pickle(tmp_path):
    rng = np.random.default_rng(0)
    record = {'pitch_matrix': (rng.random((48, 61)) < 0.05).astype(np.uint8), 'lowest_pitch': 26,
              'primer': (rng.random((16, 61)) < 0.05).astype(np.uint8), 'step_ticks': 24}
    save_pickle(record, tmp_path / 'fugue_N8epoch1.p')
    found = load_pitch_matrix(tmp_path / 'fugue_N8epoch1.p')
    assert found['matrix'].shape == (64, 61) and found['primer_steps'] == 16 and found['lowest_pitch'] == 26
    assert png_size(look(tmp_path / 'fugue_N8epoch1.p', tmp_path / 'roll.png'))[0] > 300
    data = tmp_path / 'data'
    prepare_training_data(write_random_corpus(tmp_path / 'midi', n_pieces=2), data, progress=False, processes=1)
    found = load_pitch_matrix(data / 'pitch_matrix_24ticks_sh0.p', piece='bwv2_x')
    assert found['matrix'].shape == (64, 61) and 'bwv2_x' in found['title']
    with pytest.raises(CorpusError, match="no piece named 'bwv9'"):
        load_pitch_matrix(data / 'pitch_matrix_24ticks_sh0.p', piece='bwv9')


def test_look_bad_files_are_one_line_errors(tmp_path):
    (tmp_path / 'x.p').write_bytes(b'not a pickle')
    (tmp_path / 'x.mid').write_bytes(b'not MIDI')
    for name in ('x.p', 'x.mid', 'missing.p'):
        run = subprocess.run([sys.executable, '-m', 'bach2.app.cli', 'look', str(tmp_path / name)],
                             capture_output=True, text=True, timeout=120, env=ENV)
        assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1 and name in run.stderr


def test_windows_figure_shows_the_windows_make_X_Y_cuts(tmp_path):
    pieces = [np.eye(61, dtype=np.uint8)[np.arange(n) % 61] for n in (40, 30)]
    data, piece_starts = concatenate_pieces(pieces)
    _, _, starts = make_X_Y(data, piece_starts, 16)
    chosen, crossing = pick_windows(starts, piece_starts, 16)
    assert set(chosen) <= set(starts.tolist()) and len(chosen) == 3
    assert crossing not in starts and crossing < 40 < crossing + 16     # straddles the boundary: never made
    path = plot_windows(pieces, tmp_path / 'windows.png', sequence_length=16, names=['a', 'b'])
    assert png_size(path)[0] > 600


def test_look_windows_command_on_a_stage1_pickle(tmp_path):
    data = tmp_path / 'data'
    prepare_training_data(write_random_corpus(tmp_path / 'midi', n_pieces=2), data, progress=False, processes=1)
    run = subprocess.run([sys.executable, '-m', 'bach2.app.cli', 'look', '--windows', str(data / 'pitch_matrix_24ticks_sh0.p'),
                          '-o', str(tmp_path / 'w.png')], capture_output=True, text=True, timeout=120, env=ENV)
    assert run.returncode == 0, run.stderr
    assert png_size(tmp_path / 'w.png')[0] > 600


def test_pitch_class_histograms(tmp_path):
    c_major = np.zeros((8, 61), np.uint8)
    c_major[:, [36, 40, 43]] = 1                                        # C4 E4 G4 with column 0 = MIDI 24
    counts = pitch_class_counts(c_major, 24)
    assert counts.tolist() == [8, 0, 0, 0, 8, 0, 0, 8, 0, 0, 0, 0]
    d_major = np.roll(c_major, 2, axis=1)
    np.testing.assert_allclose(pitch_class_counts(d_major, 24, to_c=True), counts)   # moved to C by its key
    shares = pitch_class_distribution([c_major, d_major], 24)
    assert shares.sum() == pytest.approx(1.0) and shares[2] == pytest.approx(1 / 6)
    path = plot_pitch_class_histograms({'generated': shares, 'corpus': np.full(12, 1 / 12)}, tmp_path / 'h.png')
    assert png_size(path)[0] > 300


def test_plot_piano_roll_without_chords_still_works(tmp_path):
    assert png_size(plot_piano_roll(np.zeros((32, 61)), tmp_path / 'empty.png'))[0] > 100
