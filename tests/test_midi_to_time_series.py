"""bach2.midi_to_time_series: MIDI file → time series, note pairing and repairs, bad files, drums left out of tunes."""
import collections
import pickle

import mido
import pytest

from bach2.midi_to_time_series import MidiFileError, Piece, RepairReport, Voice, midi_to_time_series, read_tune
from bach2.safe_io import load_pickle, save_pickle
from midi_builders import off, on, write_midi


def two_track_file(path):
    """Track 0: conductor meta + one bass note on channel 2; track 1: notes on channels 0 and 1."""
    conductor = [
        mido.MetaMessage('track_name', name='Conductor', time=0),
        mido.MetaMessage('set_tempo', tempo=500000, time=0),
        mido.MetaMessage('time_signature', numerator=3, denominator=4, time=0),
        mido.MetaMessage('key_signature', key='Eb', time=0),
        on(48, channel=2),
        off(48, 288, channel=2),                             # (0, 48, 288)
        mido.MetaMessage('set_tempo', tempo=400000, time=0),  # tick 288
        mido.MetaMessage('time_signature', numerator=4, denominator=4, time=0),
    ]
    upper = [
        mido.MetaMessage('track_name', name='Upper', time=0),
        on(72), on(55, channel=1),
        off(72, 96),                                # (0, 72, 96)
        on(76),
        on(76, 192, velocity=0),                    # velocity-0 NoteOn: (96, 76, 192)
        off(55, 0, channel=1),                      # channel 1: (0, 55, 288)
        on(74, 96), off(74, 48),                    # (384, 74, 48)
    ]
    return write_midi(path, [conductor, upper])


def one_track_piece(tmp_path, messages):
    """Write one track of ``messages`` and read it back."""
    return midi_to_time_series(write_midi(tmp_path / 'one.mid', [messages]))


def test_two_track_file(tmp_path):
    piece = midi_to_time_series(two_track_file(tmp_path / 'two.mid'))
    assert piece.name == 'two'
    assert piece.resolution == 96
    assert piece.tempi == [(0, 500000), (288, 400000)]
    assert piece.time_signatures == [(0, 3, 4), (288, 4, 4)]
    assert piece.key_signatures == [(0, 'Eb')]
    assert piece.voices == [
        Voice(track=0, channel=2, name='Conductor', notes=[(0, 48, 288)]),
        Voice(track=1, channel=0, name='Upper', notes=[(0, 72, 96), (96, 76, 192), (384, 74, 48)]),
        Voice(track=1, channel=1, name='Upper', notes=[(0, 55, 288)]),
    ]
    assert piece.end_tick == 432
    assert piece.n_notes == 5
    assert piece.repairs == RepairReport()


def test_missing_tempo_gets_midi_default(tmp_path):
    piece = one_track_piece(tmp_path, [on(60), off(60, 96)])
    assert piece.tempi == [(0, 500000)]


def test_velocity_zero_note_on_is_note_off(tmp_path):
    piece = one_track_piece(tmp_path, [on(60), on(60, 96, velocity=0), on(62), on(62, 48, velocity=0)])
    assert piece.voices[0].notes == [(0, 60, 96), (96, 62, 48)]
    assert piece.repairs.total == 0


def test_repeated_pitch_pairs_first_in_first_out(tmp_path):
    # Ons at 0 and 96, offs at 192 and 288. FIFO: 0→192 and 96→288, the first cut at 96.
    # (Last-in-first-out would give 96→192 and 0→288, i.e. a second note of 96 ticks.)
    piece = one_track_piece(tmp_path, [on(60), on(60, 96), off(60, 96), off(60, 96)])
    assert piece.voices[0].notes == [(0, 60, 96), (96, 60, 192)]
    assert piece.repairs == RepairReport(overlapping_notes=1)


def test_overlapping_same_pitch_notes_are_cut(tmp_path):
    # Ons at 0, 48, 96; offs at 120, 200, 300 → spans 0–120, 48–200, 96–300.
    piece = one_track_piece(tmp_path, [on(60), on(60, 48), on(60, 48),
                                       off(60, 24), off(60, 80), off(60, 100)])
    assert piece.voices[0].notes == [(0, 60, 48), (48, 60, 48), (96, 60, 204)]
    assert piece.repairs == RepairReport(overlapping_notes=2)


def test_unclosed_note_on_closes_at_end_of_its_track(tmp_path):
    short = [on(64), on(60), off(60, 96), mido.MetaMessage('end_of_track', time=96)]  # ends at 192
    long = [on(67, channel=1), off(67, 480, channel=1)]                             # ends at 480
    piece = midi_to_time_series(write_midi(tmp_path / 'unclosed.mid', [short, long]))
    assert [voice.notes for voice in piece.voices] == [[(0, 60, 96), (0, 64, 192)], [(0, 67, 480)]]
    assert piece.repairs == RepairReport(unclosed_note_ons=1)


def test_zero_duration_note_is_dropped(tmp_path):
    piece = one_track_piece(tmp_path, [on(60), off(60), on(62), off(62, 96)])
    assert piece.voices[0].notes == [(0, 62, 96)]
    assert piece.repairs == RepairReport(zero_or_negative_durations=1)


def test_stray_note_off_is_dropped(tmp_path):
    # A NoteOff before any NoteOn, a second NoteOff of a closed note, one on another channel.
    piece = one_track_piece(tmp_path, [off(65), on(60), off(60, 96), off(60), off(62, channel=1),
                                       on(62), off(62, 48)])
    assert piece.voices[0].notes == [(0, 60, 96), (96, 62, 48)]
    assert piece.repairs == RepairReport(unmatched_note_offs=3)


def naive_durations(path):
    """The journal's pairing: the k-th NoteOn of a pitch with the k-th NoteOff of that pitch."""
    ons, offs = collections.defaultdict(list), collections.defaultdict(list)
    tick = 0
    for message in mido.MidiFile(path).tracks[0]:
        tick += message.time
        if message.type == 'note_on':
            ons[message.note].append(tick)
        elif message.type == 'note_off':
            offs[message.note].append(tick)
    return [end - start for pitch in ons for start, end in zip(ons[pitch], offs[pitch])]


def test_bwv733_one_stray_note_off(tmp_path):
    """849 NoteOn against 850 NoteOff: a stray NoteOff of C4 comes first."""
    messages = [off(60)]
    for index in range(849):
        pitch = 60 + index % 12
        messages += [on(pitch), off(pitch, 48)]
    path = write_midi(tmp_path / 'bwv733.mid', [messages])
    types = collections.Counter(message.type for message in mido.MidiFile(path).tracks[0])
    assert (types['note_on'], types['note_off']) == (849, 850)

    assert min(naive_durations(path)) < 0

    piece = midi_to_time_series(path)
    notes = piece.voices[0].notes
    assert len(notes) == 849
    assert all(duration > 0 for _, _, duration in notes)
    assert notes[:2] == [(0, 60, 48), (48, 61, 48)]
    assert piece.repairs == RepairReport(unmatched_note_offs=1)


# A valid one-track file, 96 ticks per quarter:
GOOD_MIDI = bytes.fromhex(
    '4d546864 00000006 0001 0001 0060'  # MThd, length 6, format 1, 1 track, 96 ticks per quarter
    '4d54726b 00000014'                 # MTrk, length 20
    '00 903c40 60 803c00'               # C4 on at 0, off at 96
    '00 903e40 60 803e00'               # D4 on at 96, off at 192
    '00 ff2f00'                         # end of track
)
# Two one-note tracks; the first chunk's length (12) is patched below.
TWO_TRACKS = bytes.fromhex(
    '4d546864 00000006 0001 0002 0060'
    '4d54726b 0000000c 00 903c40 60 803c00 00 ff2f00'
    '4d54726b 0000000c 00 904040 60 804000 00 ff2f00'
)

BAD_FILES = {
    'empty': b'',
    'text': b'This is a README, not a MIDI file.\n',
    'truncated': GOOD_MIDI[:30],                                            # cut inside the track
    'chunk_too_long': GOOD_MIDI[:18] + bytes.fromhex('00000040') + GOOD_MIDI[22:],
    'chunk_too_short': GOOD_MIDI[:18] + bytes.fromhex('00000011') + GOOD_MIDI[22:],  # ends mid-event
    'first_chunk_too_short': TWO_TRACKS[:18] + bytes.fromhex('00000008') + TWO_TRACKS[22:],
    'smpte_division': GOOD_MIDI[:12] + bytes.fromhex('e728') + GOOD_MIDI[14:],  # -25 fps, 40 ticks
    'invalid_key_signature': bytes.fromhex(
        '4d546864 00000006 0001 0001 0060'
        '4d54726b 0000000b 00 ff5902 0900'  # key signature with 9 sharps (only −7…7 exist)
        '00 ff2f00'),
}


def test_good_midi_bytes_are_readable(tmp_path):
    """The base of the corrupt files below is itself fine."""
    path = tmp_path / 'good.mid'
    path.write_bytes(GOOD_MIDI)
    assert midi_to_time_series(path).voices[0].notes == [(0, 60, 96), (96, 62, 96)]


@pytest.mark.parametrize('name', sorted(BAD_FILES))
def test_bad_file_raises_one_line_midi_file_error(tmp_path, name):
    path = tmp_path / f'{name}.mid'
    path.write_bytes(BAD_FILES[name])
    with pytest.raises(MidiFileError) as caught:
        midi_to_time_series(path)
    assert str(path) in str(caught.value)
    assert '\n' not in str(caught.value)
    assert 'Traceback' not in str(caught.value)


def test_missing_file_raises_midi_file_error(tmp_path):
    path = tmp_path / 'nowhere.mid'
    with pytest.raises(MidiFileError) as caught:
        midi_to_time_series(path)
    assert caught.value.path == str(path)
    assert str(caught.value).startswith(f'{path}: ')
    assert '\n' not in str(caught.value)


def plain_types_only(value):
    """True when ``value`` is built from dicts, lists, tuples, str, int, float, bool and None only."""
    if isinstance(value, dict):
        return all(type(key) is str and plain_types_only(item) for key, item in value.items())
    if type(value) in (list, tuple):
        return all(plain_types_only(item) for item in value)
    return type(value) in (str, int, float, bool, type(None))


def test_to_dict_round_trip_and_plain_pickle(tmp_path):
    piece = midi_to_time_series(two_track_file(tmp_path / 'two.mid'))
    piece.repairs.unmatched_note_offs = 2          # non-default repairs survive too
    data = piece.to_dict()
    assert plain_types_only(data)
    assert Piece.from_dict(data) == piece
    assert Piece.from_dict(pickle.loads(pickle.dumps(data))) == piece
    save_pickle(data, tmp_path / 'piece.pkl')       # the restricted loader accepts it
    assert Piece.from_dict(load_pickle(tmp_path / 'piece.pkl')) == piece


# --------------------------------------------------------------------------- drums (MIDI channel 10)

def drum_file(path, with_melody=False):
    """Bass drum (36) and snare (38) on channel 10 (9 counted from 0); with a melody C4 D4 on channel 1 too."""
    drums = [on(36, channel=9), off(36, 48, channel=9), on(38, 48, channel=9), off(38, 48, channel=9)]
    melody = [on(60), off(60, 96), on(62), off(62, 96)]
    return write_midi(path, [drums, melody] if with_melody else [drums])


def test_stage_0_keeps_the_drums_read_tune_leaves_them_out(tmp_path):
    path = drum_file(tmp_path / 'band.mid', with_melody=True)
    assert [(voice.channel, voice.notes) for voice in midi_to_time_series(path).voices] == [
        (9, [(0, 36, 48), (96, 38, 48)]), (0, [(0, 60, 96), (96, 62, 96)])]
    assert [(voice.channel, voice.notes) for voice in read_tune(path).voices] == [(0, [(0, 60, 96), (96, 62, 96)])]


def test_a_tune_of_drums_only_is_a_one_line_error(tmp_path):
    path = drum_file(tmp_path / 'drums.mid')
    with pytest.raises(MidiFileError) as raised:
        read_tune(path)
    assert str(raised.value) == f'{path}: no pitched notes: its 2 notes are drums (MIDI channel 10)'
    silent = write_midi(tmp_path / 'silent.mid', [[mido.MetaMessage('track_name', name='empty')]])
    with pytest.raises(MidiFileError, match=f'^{silent}: no notes$'):
        read_tune(silent)
