"""bach2.render.piece: one writer of a piece in every format, for every composing command.

* a piece of several voices: one MIDI track per voice, at 100 bpm, in its time signature, the record's keys;
* a single 'piano' voice: one track named after the piece;
* the piano roll's bars follow the time signature (3/4: every 3 quarters) or the piece's bar positions;
* audio asked for without FluidSynth: one line saying why, the other files written.
"""
import mido
import numpy as np
import pytest

from bach2.music.metre import regular_positions
from bach2.render.listen import INSTALL_HINT
from bach2.render.piano_roll import bar_lines
from bach2.render.piece import Composition, Output, roll_positions, write_piece
from bach2.safe_io import load_pickle


def two_voices(**fields):
    """A soprano and a bass of 48 sixteenths, one note a bar of 3/4 each (lowest pitch MIDI 48)."""
    matrix = np.zeros((48, 25), np.uint8)
    matrix[:, 24], matrix[:, 0] = 1, 1
    voices = {'soprano': [(288 * k, 72, 288) for k in range(4)], 'bass': [(288 * k, 48, 288) for k in range(4)]}
    return Composition(voices, matrix, 48, {'seed': 3}, **fields)


def test_a_piece_of_voices_is_one_track_each_in_its_metre(tmp_path):
    files = write_piece(two_voices(time_signature=(3, 4)), Output(tmp_path, 'duet'))
    assert list(files) == ['mid', 'p', 'png'] and files['mid'] == tmp_path / 'duet.mid'
    midi = mido.MidiFile(files['mid'])
    meta = {message.type: message for message in midi.tracks[0]}
    assert meta['set_tempo'].tempo == 600000 and meta['track_name'].name == 'duet'           # 100 bpm
    assert (meta['time_signature'].numerator, meta['time_signature'].denominator) == (3, 4)
    assert [next(m.name for m in track if m.type == 'track_name') for track in midi.tracks[1:]] == ['soprano', 'bass']
    assert [{m.channel for m in track if m.type == 'note_on'} for track in midi.tracks[1:]] == [{0}, {1}]
    record = load_pickle(files['p'])
    assert list(record) == ['pitch_matrix', 'onsets', 'lowest_pitch', 'step_ticks', 'resolution', 'seed']
    assert record['pitch_matrix'].shape == (48, 25) and record['lowest_pitch'] == 48 and record['resolution'] == 96


def test_a_piano_piece_is_one_track_named_after_it_at_its_tempo(tmp_path):
    piece = Composition({'piano': [(0, 60, 96), (0, 64, 96)]}, np.ones((4, 12), np.uint8), 60)
    files = write_piece(piece, Output(tmp_path, 'solo', tempo_bpm=120))
    midi = mido.MidiFile(files['mid'])
    assert len(midi.tracks) == 2 and midi.tracks[1].name == 'solo'
    assert next(m.tempo for m in midi.tracks[0] if m.type == 'set_tempo') == 500000


def test_the_bars_of_the_roll_follow_the_time_signature_or_the_positions():
    assert bar_lines(roll_positions(two_voices(time_signature=(3, 4)))).tolist() == [0, 12, 24, 36]
    assert bar_lines(roll_positions(two_voices())).tolist() == [0, 16, 32]                     # 4/4
    assert bar_lines(roll_positions(two_voices(time_signature=(6, 8)))).tolist() == [0, 12, 24, 36]
    primed = two_voices(time_signature=(3, 4), primer=np.zeros((8, 25), np.uint8))
    assert len(roll_positions(primed)) == 56                                                 # primer rows too
    late = two_voices(positions=regular_positions(48, 12, first=4))                          # from the 2nd beat
    assert bar_lines(roll_positions(late)).tolist() == [8, 20, 32, 44]


def test_audio_without_fluidsynth_is_one_line_and_the_rest_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))                        # no fluidsynth on it
    lines = []
    files = write_piece(two_voices(), Output(tmp_path, 'duet', audio='wav'), log=lines.append)
    assert list(files) == ['mid', 'p', 'png'] and len(lines) == 1 and INSTALL_HINT in lines[0]


def test_an_output_without_a_name_takes_the_commands_own():
    assert Output(name='mine').named('fugue').name == 'mine' and Output().named('fugue').name == 'fugue'
    with pytest.raises(ValueError, match='needs a name'):
        write_piece(two_voices(), Output())
