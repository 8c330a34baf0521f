"""bach2.time_series_to_midi: time series → MIDI file, the inverse of midi_to_time_series."""
import os

import pytest

from bach2.midi_to_time_series import Piece, RepairReport, Voice, midi_to_time_series
from bach2.time_series_to_midi import notes_to_piece, time_series_to_midi


def hand_built_piece():
    """Two voices, two tempi, 3/4 then 6/8, A minor key signature, one marker."""
    return Piece(
        name='hand', resolution=96,
        tempi=[(0, 500000), (384, 600000)],
        time_signatures=[(0, 3, 4), (288, 6, 8)],
        key_signatures=[(0, 'Am')],
        markers=[(96, 'subject')],
        voices=[
            Voice(track=1, channel=0, name='upper', notes=[(0, 69, 96), (0, 72, 48), (96, 71, 288)]),
            Voice(track=2, channel=1, name='lower', notes=[(48, 45, 384)]),
        ],
        end_tick=432,
        repairs=RepairReport(),
    )


def test_round_trip_is_exact(tmp_path):
    piece = hand_built_piece()
    path = time_series_to_midi(piece, tmp_path / 'hand.mid')
    assert midi_to_time_series(path) == piece


def test_adjacent_same_pitch_notes_stay_two_notes(tmp_path):
    notes = [(0, 60, 96), (96, 60, 96), (192, 60, 24)]   # each ends where the next starts
    path = time_series_to_midi(notes_to_piece(notes, resolution=96), tmp_path / 'repeat.mid')
    piece = midi_to_time_series(path)
    assert [voice.notes for voice in piece.voices] == [notes]
    assert piece.repairs.total == 0


def unwritable_pitch():
    """Fails while building the messages: MIDI pitches stop at 127."""
    return notes_to_piece([(0, 200, 96)], resolution=96)


def unwritable_marker():
    """Fails while saving, inside the atomic block: MIDI text is latin-1."""
    piece = notes_to_piece([(0, 60, 96)], resolution=96)
    piece.markers = [(0, 'Fuge \u2603')]
    return piece


@pytest.mark.parametrize('make_piece', [unwritable_pitch, unwritable_marker])
def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path, make_piece):
    target = tmp_path / 'fugue.mid'
    target.write_bytes(b'old contents')
    with pytest.raises(ValueError):
        time_series_to_midi(make_piece(), target)
    assert target.read_bytes() == b'old contents'
    assert os.listdir(tmp_path) == ['fugue.mid']


def test_shared_corpus_round_trip(tmp_path, bach_keyboard_files):
    """Every shared file: read → write → read keeps notes per voice, resolution, tempi, time signatures."""
    assert bach_keyboard_files
    for path in bach_keyboard_files:
        first = midi_to_time_series(path)
        second = midi_to_time_series(time_series_to_midi(first, tmp_path / path.name))
        assert [(v.channel, v.notes) for v in second.voices] == \
               [(v.channel, v.notes) for v in first.voices], path.name
        assert second.resolution == first.resolution, path.name
        assert second.tempi == first.tempi, path.name
        assert second.time_signatures == first.time_signatures, path.name
        assert second.repairs.total == 0, path.name
