"""Fuzzing the MIDI reader: every input → a Piece (with its repair report) or a one-line MidiFileError.

Three parts: every malformed case of the "Malformed MIDI" table (docs/robustness.md), built
byte by byte; hypothesis over files made of a valid header and mutated tracks;
and the mutation fuzzer of ``benchmarks/fuzz_midi.py`` over a few shared files.
The contract (``fuzz_midi.check``) also bounds each read to 1 s and 64 MiB.
"""
import collections
import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bach2.midi_to_time_series import MAX_FILE_BYTES, MidiFileError, RepairReport, midi_to_time_series
from conftest import SHARED_DATA

_spec = importlib.util.spec_from_file_location(
    'fuzz_midi', Path(__file__).resolve().parents[1] / 'benchmarks' / 'fuzz_midi.py')
fuzz_midi = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz_midi)


def header(n_tracks=1, division=96, midi_format=1, length=6):
    """MThd chunk: ``length`` (6 in a sound file), format, track count, ticks per quarter note."""
    fields = midi_format.to_bytes(2, 'big') + n_tracks.to_bytes(2, 'big') + division.to_bytes(2, 'big')
    return b'MThd' + length.to_bytes(4, 'big') + fields + bytes(max(length - 6, 0))


def chunk(events_hex, chunk_id=b'MTrk', length=None):
    """A chunk holding the events written in hex; ``length`` overrides the true length."""
    body = bytes.fromhex(events_hex)
    return chunk_id + (len(body) if length is None else length).to_bytes(4, 'big') + body


C4 = '00 903c40 60 803c00'   # C4 on at tick 0, off 96 ticks (a quarter) later
D4 = '00 903e40 60 803e00'
EOT = '00 ff2f00'            # end of track

# Each row of the README table: (bytes, RepairReport of the parsed piece) or (bytes, words of the refusal).
PARSED = {
    'more tracks than the header declares': (header(1) + chunk(C4 + EOT) + chunk(D4 + EOT),
                                             RepairReport(undeclared_tracks=1)),
    'header declares 0 tracks, file has one': (header(0) + chunk(C4 + EOT), RepairReport(undeclared_tracks=1)),
    'end of track before the chunk ends': (header() + chunk(C4 + EOT + D4), RepairReport(early_ends_of_track=1)),
    'no end-of-track event': (header() + chunk(C4), RepairReport()),
    'unknown chunk before the track': (header() + chunk('4a554e4b', chunk_id=b'XFIH') + chunk(C4 + EOT),
                                       RepairReport()),
    'bytes after the last track': (header() + chunk(C4 + EOT) + b'\x00\x00 padding', RepairReport()),
    'incomplete chunk after the last track': (header() + chunk(C4 + EOT) + chunk('00', length=4096),
                                              RepairReport()),
    'header chunk longer than 6 bytes': (header(length=10) + chunk(C4 + EOT), RepairReport()),
    'format 0 with two tracks': (header(2, midi_format=0) + chunk(C4 + EOT) + chunk(D4 + EOT), RepairReport()),
}
REFUSED = {
    'empty file': (b'', 'empty file'),
    'not a MIDI file': (b'RIFF\x00\x00\x00\x00WAVEfmt ', 'not a MIDI file'),
    'header cut short': (header()[:11], 'header chunk is incomplete'),
    'header length under 6': (header(length=4) + chunk(C4 + EOT), 'header chunk length 4 is under 6'),
    'unknown format 3': (header(midi_format=3) + chunk(C4 + EOT), 'unknown MIDI file format 3'),
    'SMPTE division': (header(division=0xE728) + chunk(C4 + EOT), 'SMPTE time division'),
    'division 0': (header(division=0) + chunk(C4 + EOT), 'time division is 0'),
    'division under 4 ticks per quarter': (header(division=2) + chunk(C4 + EOT), 'too coarse for 16th notes'),
    'header declares 65535 tracks, file has 1': (header(65535) + chunk(C4 + EOT),
                                                 'header declares 65535 tracks, the file holds 1'),
    'no tracks at all': (header(0), 'no tracks'),
    'damaged track past the declared count': (header(1) + chunk(C4 + EOT) + chunk('00 3c40' + EOT),
                                              'track 1: data byte 0x3C'),
    'chunk length of 4 GB': (header() + chunk(C4 + EOT, length=0xFFFFFFFF), 'declares 4294967295 bytes'),
    'file cut inside a track': ((header() + chunk(C4 + EOT))[:-5], 'truncated'),
    'delta time longer than 4 bytes': (header() + chunk('ffffffff7f 903c40' + EOT), 'longer than 4 bytes'),
    'meta length longer than 4 bytes': (header() + chunk('00 ff03 ffffffff7f' + EOT), 'longer than 4 bytes'),
    'event missing after its delta time': (header() + chunk(C4 + '00'), 'missing after its delta time'),
    'track longer than 32768 quarter notes': (header() + chunk('00 903c40 ffffff7f 803c00' + EOT),
                                              'more than the 32768 allowed'),
    'data byte with no status byte': (header() + chunk('00 3c40' + EOT), 'with no status byte before it'),
    'status byte inside a note': (header() + chunk('00 903c 90 60 803c00' + EOT), 'data byte over 127'),
    'system message in a track': (header() + chunk('00 f8' + C4 + EOT), 'status byte 0xF8'),
    'meta length past the chunk end': (header() + chunk('00 ff037f 41' + EOT), 'meta event 0x03 runs past'),
    'SysEx length past the chunk end': (header() + chunk('00 f0 8fffff7f 00' + EOT), 'SysEx event runs past'),
    'key signature with 9 sharps': (header() + chunk('00 ff5902 0900' + EOT), 'bad meta event 0x59'),
    'tempo of one byte': (header() + chunk('00 ff5101 07' + EOT), 'bad meta event 0x51'),
    'time signature of one byte': (header() + chunk('00 ff5801 04' + EOT), 'bad meta event 0x58'),
    'file over 4 MiB': (header() + chunk(C4 + EOT) + bytes(MAX_FILE_BYTES), 'larger than 4 MiB'),
}


@pytest.mark.parametrize('name', sorted(PARSED))
def test_malformed_file_is_parsed_and_repair_counted(tmp_path, name):
    data, repairs = PARSED[name]
    assert fuzz_midi.check(data, tmp_path / 'case.mid')[0] in ('parsed', 'repaired')
    piece = midi_to_time_series(tmp_path / 'case.mid')
    assert piece.repairs == repairs
    assert (0, 60, 96) in [note for voice in piece.voices for note in voice.notes]


def test_repaired_tracks_keep_their_notes(tmp_path):
    path = tmp_path / 'case.mid'
    path.write_bytes(PARSED['more tracks than the header declares'][0])
    assert [voice.notes for voice in midi_to_time_series(path).voices] == [[(0, 60, 96)], [(0, 62, 96)]]
    path.write_bytes(PARSED['end of track before the chunk ends'][0])
    assert [voice.notes for voice in midi_to_time_series(path).voices] == [[(0, 60, 96)]]


@pytest.mark.parametrize('name', sorted(REFUSED))
def test_malformed_file_is_refused_in_one_line(tmp_path, name):
    data, words = REFUSED[name]
    path = tmp_path / 'case.mid'
    assert fuzz_midi.check(data, path) == ('refused', '')   # one line 'path: problem', fast, small
    with pytest.raises(MidiFileError) as caught:
        midi_to_time_series(path)
    assert str(caught.value).startswith(f'{path}: ')
    assert words in caught.value.problem


# --- hypothesis: a valid header, then tracks of mostly sound events with some broken ones ---------

def vlq(value):
    return fuzz_midi._vlq(value)


delta_times = st.one_of(st.integers(0, 200).map(vlq), st.integers(0, 2 ** 28 - 1).map(vlq),
                        st.sampled_from(fuzz_midi.HUGE_DELTAS))
notes = st.builds(lambda status, pitch, velocity: bytes([status, pitch, velocity]),
                  st.sampled_from([0x80, 0x90, 0x91, 0x9F]), st.integers(0, 127), st.integers(0, 127))
channel_events = st.builds(lambda status, a, b: bytes([status, a]) + (b'' if status & 0xE0 == 0xC0 else bytes([b])),
                           st.integers(0x80, 0xEF), st.integers(0, 127), st.integers(0, 127))
running_status = st.binary(min_size=1, max_size=2).map(lambda data: bytes(byte & 0x7F for byte in data))
meta_events = st.builds(lambda kind, payload, length: bytes([0xFF, kind]) + vlq(len(payload) if length is None
                                                                               else length) + payload,
                        st.one_of(st.sampled_from([0x2F, 0x51, 0x58, 0x59, 0x06, 0x03]), st.integers(0, 255)),
                        st.binary(max_size=6), st.one_of(st.none(), st.integers(0, 2 ** 28 - 1)))
sysex_events = st.builds(lambda status, payload, length: bytes([status]) + vlq(length) + payload,
                         st.sampled_from([0xF0, 0xF7]), st.binary(max_size=6), st.integers(0, 2 ** 28 - 1))
sound_events = st.tuples(st.integers(0, 200).map(vlq), st.one_of(notes, notes, notes, channel_events))
broken_events = st.tuples(delta_times, st.one_of(notes, channel_events, running_status, meta_events, sysex_events,
                                                 st.binary(min_size=1, max_size=4)))


@st.composite
def track_bodies(draw):
    """Up to 25 sound events, then half the time 1–3 of them replaced by broken ones; end of track or not."""
    pairs = draw(st.lists(sound_events, max_size=25))
    if pairs and draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            pairs[draw(st.integers(0, len(pairs) - 1))] = draw(broken_events)
    return b''.join(d + e for d, e in pairs) + (bytes.fromhex(EOT) if draw(st.booleans()) else b'')


@st.composite
def midi_files(draw):
    """A valid header + 0–4 tracks (half of them with broken events); then, 2 times in 3, one more
    defect: wrong track count, division or format, a chunk length or id, or bytes after the end."""
    bodies = draw(st.lists(track_bodies(), max_size=4))
    fields = {'n_tracks': len(bodies), 'division': 96, 'midi_format': 1}
    lengths, ids, tail = [len(body) for body in bodies], [b'MTrk'] * len(bodies), b''
    defect = draw(st.sampled_from(['none', 'n_tracks', 'division', 'midi_format', 'length', 'id', 'tail']))
    if defect in fields:
        fields[defect] = draw(st.one_of(st.integers(0, 4), st.integers(0, 0xFFFF)))
        fields['midi_format'] %= 4
    elif defect in ('length', 'id') and bodies:
        i = draw(st.integers(0, len(bodies) - 1))
        if defect == 'length':
            lengths[i] = draw(st.one_of(st.integers(0, 2 ** 32 - 1), st.integers(0, lengths[i] + 4)))
        else:
            ids[i] = draw(st.sampled_from([b'XFIH', b'MThd', b'mtrk']))
    elif defect == 'tail':
        tail = draw(st.binary(min_size=1, max_size=8))
    return header(**fields) + b''.join(cid + length.to_bytes(4, 'big') + body
                                       for cid, length, body in zip(ids, lengths, bodies)) + tail


@pytest.fixture(scope='module')
def case_path(tmp_path_factory):
    return tmp_path_factory.mktemp('fuzz') / 'case.mid'


@settings(max_examples=300, deadline=2000, derandomize=True, database=None)
@given(data=midi_files())
def test_generated_files_are_parsed_or_refused(case_path, data):
    outcome, detail = fuzz_midi.check(data, case_path)
    assert outcome != 'failure', detail


# --- the mutation fuzzer over a few shared files -------------------------------------------------

def test_mutation_fuzzer_over_shared_files(tmp_path):
    if not SHARED_DATA.is_dir():
        pytest.skip('../shared/data is absent (CI has it)')
    files = sorted((SHARED_DATA / 'bach_keyboard').glob('*/*.mid'))[::32]   # 4 files
    counts, failures = fuzz_midi.fuzz([fuzz_midi.Source(path) for path in files], cases=200, seed=1,
                                      work_dir=tmp_path, failure_dir=tmp_path, progress=False)
    assert not failures, failures[:5]
    assert set(counts) == set(fuzz_midi.MUTATIONS)
    outcomes = sum(counts.values(), collections.Counter())
    assert outcomes['parsed'] + outcomes['repaired'] > 0 and outcomes['refused'] > 0, outcomes
