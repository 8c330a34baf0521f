"""bach2.render.piano_roll: chord labels spelled in the piece's key, and the piece's own bars.

* a real MIDI progression in F minor (i VII VI V7 i iv V7 i) is labelled Fm Eb Db C7 Fm Bbm C7 Fm, not with
  D♯, C♯, A♯m;
  one in E major keeps its sharps (E B E C#m F#m B7 E);
* a 3/4 tune's roll, from its MIDI time signatures, has a line every 3 quarters and says 3/4; a pickup bar is 0.
"""
import numpy as np
import pytest

from bach2.midi_to_time_series import midi_to_time_series
from bach2.music.metre import piece_positions
from bach2.render.piano_roll import bar_axis, pitch_matrix_chords, progression_text, roll_key
from bach2.time_series_to_pitch_matrix import time_series_to_pitch_matrix
from midi_builders import off, on, write_midi

F_MINOR = [(41, 65, 68, 72), (39, 63, 67, 70), (37, 65, 68, 73), (36, 64, 67, 70), (41, 65, 68, 72),
           (46, 65, 70, 73), (36, 64, 67, 70), (41, 65, 68, 72)]               # Fm Eb Db C7 Fm Bbm C7 Fm
E_MAJOR = [(40, 64, 68, 71), (35, 63, 66, 71), (40, 64, 68, 71), (37, 64, 68, 73), (42, 66, 69, 73),
           (35, 63, 66, 69), (40, 64, 68, 71)]                                    # E B E C#m F#m B7 E


def write_chords(path, chords, numerator=4):
    """One chord per bar of ``numerator``/4 (96 ticks per quarter), the metre in a time signature."""
    import mido
    messages = [mido.MetaMessage('time_signature', numerator=numerator, denominator=4)]
    for chord in chords:
        messages += [on(p) for p in chord] + [off(p, 96 * numerator if i == 0 else 0) for i, p in enumerate(chord)]
    return write_midi(path, [messages])


@pytest.mark.parametrize('chords, key, symbols', [(F_MINOR, ('F', 'minor'), 'Fm Eb Db C7 Fm Bbm C7 Fm'),
                                                  (E_MAJOR, ('E', 'major'), 'E B E C#m F#m B7 E')])
def test_chord_labels_are_spelled_in_the_key_of_the_piece(tmp_path, chords, key, symbols):
    piece = midi_to_time_series(write_chords(tmp_path / 'cadence.mid', chords))
    matrix, _ = time_series_to_pitch_matrix(piece)
    assert roll_key(matrix, 24) == key
    found = pitch_matrix_chords(matrix, 24)[::4]
    assert progression_text(found, key=roll_key(matrix, 24)) == symbols


def test_a_three_four_roll_has_three_four_bars_and_a_pickup_bar_0(tmp_path):
    piece = midi_to_time_series(write_chords(tmp_path / 'waltz.mid', F_MINOR, numerator=3))
    matrix, _ = time_series_to_pitch_matrix(piece)
    steps, numbers, label = bar_axis(piece_positions(piece, 24, len(matrix)))
    assert steps.tolist() == list(range(0, 96, 12)) and numbers == [str(k) for k in range(1, 9)]
    assert label == 'bar (3/4, 12 steps)'
    pickup = np.concatenate([[[k, 4] for k in range(4)], [[k % 12, 12] for k in range(24)]]).astype(np.int16)
    steps, numbers, label = bar_axis(pickup)
    assert steps.tolist() == [0, 4, 16] and numbers == ['0', '1', '2'] and label == 'bar (3/4, 12 steps)'
