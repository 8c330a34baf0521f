"""bach2.render.piece: one writer of a piece in every format, for every composing command.

* a piece of several voices: one MIDI track per voice, at 100 bpm, in its time signature, the record's keys;
* a single 'piano' voice: one track named after the piece;
* the piano roll's bars follow the time signature (3/4: every 3 quarters) or the piece's bar positions;
* audio asked for without FluidSynth: one line saying why, the other files written;
* a composition's key is its score's key signature and its MIDI's, as musicians write it (A♯ major given: B♭
  major, two flats), though the notes alone read otherwise; without a key the score's is found from the notes;
* a pickup (``lead_steps``) is a short first bar in the MIDI (1/4 before 4/4) and bar 0 of the roll.
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


@pytest.mark.parametrize('key, sharps, midi_key', [(('C', 'minor'), -3, 'Cm'), (('A#', 'major'), -2, 'Bb'),
                                                   (None, 0, None)])
def test_the_score_and_the_midi_carry_the_key_the_piece_was_written_in(tmp_path, key, sharps, midi_key):
    from music21 import converter
    scale = [(96 * k, pitch, 96) for k, pitch in enumerate((60, 62, 64, 65, 67, 69, 71, 72))]   # C major's notes
    bass = [(0, 48, 384), (384, 43, 288), (672, 48, 96)]                                      # C G C
    piece = Composition({'soprano': scale, 'bass': bass}, np.ones((32, 25), np.uint8), 48, key=key)
    files = write_piece(piece, Output(tmp_path, 'keyed', musicxml=True))
    score = converter.parse(files['musicxml'])
    assert {k.sharps for k in score.flatten().getElementsByClass('KeySignature')} == {sharps}
    assert [m.key for m in mido.MidiFile(files['mid']).tracks[0] if m.type == 'key_signature'] == (
        [midi_key] if midi_key else [])


def test_a_pickup_is_a_short_first_bar_of_the_midi_and_bar_0_of_the_roll(tmp_path):
    piece = two_voices(lead_steps=12)                                      # a quarter before 4/4
    midi = mido.MidiFile(write_piece(piece, Output(tmp_path, 'pickup'))['mid'])
    signatures = [(m.numerator, m.denominator) for m in midi.tracks[0] if m.type == 'time_signature']
    assert signatures == [(1, 4), (4, 4)]
    assert bar_lines(roll_positions(piece)).tolist() == [0, 4, 20, 36]
    assert piece.time_signatures() == [(0, 1, 4), (96, 4, 4)]
    assert two_voices(lead_steps=8, time_signature=(3, 4)).time_signatures() == [(0, 1, 4), (96, 3, 4)]
    assert two_voices(lead_steps=10, time_signature=(3, 4)).time_signatures() == [(0, 1, 8), (48, 3, 4)]


def test_audio_without_fluidsynth_is_one_line_and_the_rest_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))                        # no fluidsynth on it
    lines = []
    files = write_piece(two_voices(), Output(tmp_path, 'duet', audio='wav'), log=lines.append)
    assert list(files) == ['mid', 'p', 'png'] and len(lines) == 1 and INSTALL_HINT in lines[0]


def test_an_output_without_a_name_takes_the_commands_own():
    assert Output(name='mine').named('fugue').name == 'mine' and Output().named('fugue').name == 'fugue'
    with pytest.raises(ValueError, match='needs a name'):
        write_piece(two_voices(), Output())
