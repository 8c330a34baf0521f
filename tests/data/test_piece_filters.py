"""bach2.data.piece_filters: time signatures, key signatures, and files holding several movements.

Files are at 96 ticks per quarter: a 4/4 bar = 384 ticks, a 3/4 bar = 288 ticks.
"""
import mido
import pytest

from bach2.data.piece_filters import (accidentals, key_changes, movement_boundaries, skipped_for_time_signature,
                                      split_movements, time_signature_names)
from bach2.midi_to_time_series import Piece, midi_to_time_series
from bach2.time_series_to_midi import notes_to_piece
from midi_builders import off, on, write_midi


def meta(kind, time=0, **fields):
    return mido.MetaMessage(kind, time=time, **fields)


def piece_with(time_signatures=(), key_signatures=()):
    piece = notes_to_piece([(0, 60, 96)], resolution=96)
    piece.time_signatures = list(time_signatures)
    piece.key_signatures = list(key_signatures)
    return piece


# ---------------------------------------------------------------- time signatures

def test_time_signature_names():
    assert time_signature_names(piece_with([(0, 3, 4), (288, 6, 8), (576, 3, 4)])) == {'3/4', '6/8'}


def test_no_time_signature_means_four_four():
    assert time_signature_names(piece_with([])) == {'4/4'}


def test_skipped_for_time_signature():
    piece = piece_with([(0, 4, 4), (384, 3, 4)])
    assert skipped_for_time_signature(piece, ['3/4']) == '3/4'
    assert skipped_for_time_signature(piece, ('6/8', '4/4')) == '4/4'
    assert skipped_for_time_signature(piece, ['6/8']) is None
    assert skipped_for_time_signature(piece, ()) is None
    assert skipped_for_time_signature(piece_with([]), ['4/4']) == '4/4'   # no signature = 4/4


# ---------------------------------------------------------------- key signatures

@pytest.mark.parametrize('key, expected', [
    ('C', 0), ('Am', 0), ('D', 2), ('Bm', 2), ('Eb', -3), ('Cm', -3), ('Cb', -7), ('Abm', -7),
    ('C#', 7), ('A#m', 7), ('F#', 6), ('D#m', 6), ('F', -1), ('Dm', -1),
])
def test_accidentals(key, expected):
    assert accidentals(key) == expected


def test_key_changes_ignores_one_signature_per_track():
    # Two tracks write the signature at each tick; 'D' and 'Bm' have the same two sharps.
    piece = piece_with(key_signatures=[(0, 'Bm'), (0, 'D'), (768, 'D'), (768, 'D')])
    assert key_changes(piece) == []


def test_key_changes_flags_a_real_change():
    piece = piece_with(key_signatures=[(0, 'Bm'), (0, 'D'), (768, 'F'), (768, 'F'), (1536, 'Dm')])
    assert key_changes(piece) == [(768, 'F')]    # 'Dm' has F's one flat: no change at 1536


def test_key_changes_back_and_forth():
    piece = piece_with(key_signatures=[(0, 'C'), (384, 'G'), (768, 'Am')])
    assert key_changes(piece) == [(384, 'G'), (768, 'Am')]


# ---------------------------------------------------------------- split_movements

def chord_bar(pitches, ticks):
    """Messages that hold ``pitches`` together for ``ticks`` from the previous event."""
    return [on(p) for p in pitches] + [off(pitches[0], ticks)] + [off(p) for p in pitches[1:]]


def two_movement_file(path):
    """4/4 C major, two bars (0–768); a bar of general rest (768–1152); then 3/4 from 1152 for two bars."""
    conductor = [meta('time_signature', numerator=4, denominator=4), meta('key_signature', key='C'),
                 meta('set_tempo', tempo=500000),
                 meta('time_signature', 1152, numerator=3, denominator=4),
                 meta('set_tempo', tempo=600000)]
    notes = (chord_bar([48, 60], 384) + chord_bar([55, 62], 384)                 # movement 1: two bars
             + [on(50, 384), off(50, 288), on(57), off(57, 288)])               # movement 2 from 1152
    return write_midi(path, [conductor, notes])


def test_two_movements(tmp_path):
    piece = midi_to_time_series(two_movement_file(tmp_path / 'suite.mid'))
    assert movement_boundaries(piece) == [1152]
    first, second = split_movements(piece)
    assert first.name == 'suite_movement1'
    assert second.name == 'suite_movement2'
    assert [v.notes for v in first.voices] == [[(0, 48, 384), (0, 60, 384), (384, 55, 384), (384, 62, 384)]]
    assert [v.notes for v in second.voices] == [[(0, 50, 288), (288, 57, 288)]]
    assert first.time_signatures == [(0, 4, 4)]
    assert second.time_signatures == [(0, 3, 4)]
    assert first.key_signatures == [(0, 'C')]
    assert second.key_signatures == [(0, 'C')]          # the one in force carries over
    assert first.tempi == [(0, 500000)]
    assert second.tempi == [(0, 600000)]
    assert second.end_tick == 576
    assert first.n_notes + second.n_notes == piece.n_notes


def test_movements_are_written_back_whole(tmp_path):
    """A split movement is an ordinary piece: writing and reading it back keeps its notes."""
    from bach2.time_series_to_midi import time_series_to_midi
    _, second = split_movements(midi_to_time_series(two_movement_file(tmp_path / 'suite.mid')))
    again = midi_to_time_series(time_series_to_midi(second, tmp_path / 'second.mid'))
    assert [v.notes for v in again.voices] == [v.notes for v in second.voices]
    assert again.time_signatures == [(0, 3, 4)]


def test_note_sustained_across_the_change_does_not_split(tmp_path):
    conductor = [meta('time_signature', numerator=4, denominator=4),
                 meta('time_signature', 768, numerator=3, denominator=4)]
    notes = chord_bar([48, 60], 384) + [on(55), off(55, 480)]       # 55 sounds 384–864, across 768
    piece = midi_to_time_series(write_midi(tmp_path / 'tied.mid', [conductor, notes]))
    assert movement_boundaries(piece) == []
    assert split_movements(piece) == [piece]


def test_signature_change_without_rest_or_tempo_change_does_not_split(tmp_path):
    # Notes end exactly at 768 and start again there: no note crosses, but no rest and no new tempo.
    conductor = [meta('time_signature', numerator=4, denominator=4),
                 meta('time_signature', 768, numerator=3, denominator=4)]
    notes = chord_bar([48, 60], 768) + chord_bar([50, 62], 288)
    piece = midi_to_time_series(write_midi(tmp_path / 'meter.mid', [conductor, notes]))
    assert split_movements(piece) == [piece]


def marker_file(path, text):
    """Notes 0–384 and 384–768 back to back; a marker ``text`` at 384."""
    conductor = [meta('time_signature', numerator=4, denominator=4), meta('marker', 384, text=text)]
    notes = chord_bar([48, 60], 384) + chord_bar([53, 65], 384)
    return write_midi(path, [conductor, notes])


def test_fugue_marker_splits(tmp_path):
    piece = midi_to_time_series(marker_file(tmp_path / 'prelude_and_fugue.mid', 'Fugue'))
    assert movement_boundaries(piece) == [384]
    first, second = split_movements(piece)
    assert [v.notes for v in first.voices] == [[(0, 48, 384), (0, 60, 384)]]
    assert [v.notes for v in second.voices] == [[(0, 53, 384), (0, 65, 384)]]
    assert second.markers == [(0, 'Fugue')]
    assert (first.name, second.name) == ('prelude_and_fugue_movement1', 'prelude_and_fugue_movement2')


def test_lilypond_fermata_marker_does_not_split(tmp_path):
    piece = midi_to_time_series(marker_file(tmp_path / 'fermata.mid', 'scripts.ufermata'))
    assert movement_boundaries(piece) == []
    assert split_movements(piece) == [piece]


def test_marker_inside_a_sounding_note_does_not_split(tmp_path):
    conductor = [meta('marker', 192, text='Fugue')]
    notes = chord_bar([48, 60], 384)
    piece = midi_to_time_series(write_midi(tmp_path / 'inside.mid', [conductor, notes]))
    assert split_movements(piece) == [piece]


def test_piece_without_notes_is_one_movement():
    piece = Piece(name='empty', resolution=96, tempi=[(0, 500000)], time_signatures=[(0, 4, 4), (384, 3, 4)],
                  key_signatures=[], markers=[(384, 'Fugue')], voices=[], end_tick=768)
    assert movement_boundaries(piece) == []
    assert split_movements(piece) == [piece]


def test_first_time_signature_after_a_general_rest_splits(tmp_path):
    # No signature at tick 0 (MIDI's default: 4/4); 3/4 from 1152, after a bar of general rest.
    conductor = [meta('time_signature', 1152, numerator=3, denominator=4)]
    notes = [on(60), off(60, 768), on(62, 384), off(62, 288)]
    piece = midi_to_time_series(write_midi(tmp_path / 'late_meter.mid', [conductor, notes]))
    assert movement_boundaries(piece) == [1152]
