"""bach2.compose.lines: pieces of one line per voice, written by bach2.render.piece.

* pickups stay pickups: a tune with a quarter-note pickup (4/4 and 3/4), read as ``harmonize`` reads it, comes
  back with its notes at the same ticks, a short first bar in the MIDI (1/4, then the metre) and an anacrusis
  in the MusicXML (a first measure of one beat, numbered 0, padded on the left);
* the piano roll numbers the pickup bar 0 and labels the tune's own metre.
"""
import mido
import numpy as np
import pytest

from bach2.compose.harmonize import bar_layout, read_line
from bach2.compose.lines import lines_piece
from bach2.midi_to_time_series import midi_to_time_series
from bach2.music.geometry import Geometry
from bach2.render.piano_roll import bar_axis
from bach2.render.piece import Output, roll_positions, write_piece
from bach2.render.scores import time_signature_of
from midi_builders import off, on, write_midi


def pickup_tune(path, numerator):
    """A tune with a quarter-note pickup (G4), then two bars of quarter notes in ``numerator``/4; the pickup
    written as MIDI writes one: a 1/4 signature at tick 0, the metre from tick 96 → (path, [(tick, pitch, ticks)])."""
    pitches = [67] + [72, 74, 76, 77, 79, 77, 76, 74][:2 * numerator]
    notes = [(96 * k, pitch, 96) for k, pitch in enumerate(pitches)]
    meta = [mido.MetaMessage('time_signature', numerator=1, denominator=4, time=0),
            mido.MetaMessage('time_signature', numerator=numerator, denominator=4, time=96)]
    messages = [message for _, pitch, ticks in notes for message in (on(pitch), off(pitch, ticks))]
    return write_midi(path, [meta, messages]), notes


@pytest.mark.parametrize('numerator', [4, 3])
def test_a_pickup_stays_a_pickup_in_the_midi_and_the_score(tmp_path, numerator):
    from music21 import converter
    path, notes = pickup_tune(tmp_path / 'tune.mid', numerator)
    geometry = Geometry()
    line, onsets, positions = read_line(path, 'top', geometry.n_pitches, geometry.lowest_pitch)
    bar, lead = bar_layout(positions)
    piece = lines_piece({'soprano': line}, geometry, {'soprano': onsets}, lead_steps=lead)
    piece.time_signature = time_signature_of(bar)
    files = write_piece(piece, Output(tmp_path / 'out', 'tune', musicxml=True))

    written = midi_to_time_series(files['mid'])
    assert written.voices[0].notes == notes                                   # the same ticks: none moved
    assert written.time_signatures == [(0, 1, 4), (96, numerator, 4)]

    score = converter.parse(files['musicxml'])
    measures = list(score.parts[0].getElementsByClass('Measure'))
    pickup = measures[0]
    assert pickup.number == 0 and pickup.paddingLeft == numerator - 1
    assert pickup.duration.quarterLength == 1 and pickup.barDuration.quarterLength == numerator
    assert [n.nameWithOctave for n in pickup.notes] == ['G4']
    assert measures[1].number == 1 and measures[1].offset == 1
    assert [n.nameWithOctave for n in measures[1].notes][:2] == ['C5', 'D5']
    assert [(float(n.offset), n.pitch.midi) for n in score.parts[0].flatten().notes] == [
        (tick / 96, pitch) for tick, pitch, _ in notes]

    steps, numbers, label = bar_axis(roll_positions(piece))
    assert steps.tolist() == [0, 4, 4 + 4 * numerator] and numbers == ['0', '1', '2']
    assert label == f'bar ({numerator}/4, {4 * numerator} steps)'


def test_without_a_pickup_the_first_bar_is_whole(tmp_path):
    geometry = Geometry()
    line = np.full(32, geometry.n_pitches, np.int64)
    line[:16] = 72 - geometry.lowest_pitch
    piece = lines_piece({'soprano': line}, geometry)
    files = write_piece(piece, Output(tmp_path, 'plain'))
    written = midi_to_time_series(files['mid'])
    assert written.voices[0].notes == [(0, 72, 384)] and written.time_signatures == [(0, 4, 4)]
