"""A Standard MIDI File scanner that keeps only what Bach2.0 uses.

mido's general parser builds and checks one Message object per event: on the
shared Bach corpus that alone took 1.46 s, more than half of pretty_midi's whole
pipeline, so the bytes are scanned here in one pass and only notes and a few
meta events are kept. mido still decodes those meta events (its key-signature
names, tempo and text rules) and writes every file.

Handled per the SMF 1.0 spec: variable-length delta times, running status
(meta and SysEx events do not change it), SysEx and unknown chunks skipped.
Two defects are tolerated and marked on the :class:`Track` so that the caller
can count them: MTrk chunks past the header's track count are read too
(``declared=False``), and bytes after an early end-of-track event are skipped
(``bytes_after_end``). Bytes after the last whole chunk are ignored. Every
other defect raises :class:`SmfError` with a short problem text; the caller
adds the file name.
"""
import dataclasses

from mido.midifiles.meta import KeySignatureError, build_meta_message

#: Meta events kept: tempo, time signature, key signature, marker, track name.
KEPT_META_TYPES = {0x51, 0x58, 0x59, 0x06, 0x03}
END_OF_TRACK = 0x2F
MAX_TRACKS = 0xFFFF   # the most a header can declare; MTrk chunks past it are not read
_DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}


class SmfError(Exception):
    """The bytes are not a readable Standard MIDI File; ``str()`` says what is wrong."""


@dataclasses.dataclass
class Track:
    """One MTrk chunk. ``notes``: [(tick, channel, pitch, is_on)] in file order (velocity-0
    NoteOn has ``is_on=False``); ``metas``: [(tick, mido.MetaMessage)]; ticks are absolute.

    ``declared``: False for a chunk past the header's track count. ``bytes_after_end``:
    bytes of the chunk after its end-of-track event, skipped unread (0 in a sound file).
    """
    notes: list
    metas: list
    end_tick: int
    declared: bool = True
    bytes_after_end: int = 0


def _varlen(data, pos, end):
    """Variable-length quantity at ``pos`` → (value, next position); at most 4 bytes."""
    value = 0
    for _ in range(4):
        if pos >= end:
            raise SmfError('truncated: the file ends inside a delta time or length')
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos
    raise SmfError(f'variable-length number longer than 4 bytes at byte {pos}')


def read_smf(data):
    """Bytes of a MIDI file → (format, ticks per quarter note, [Track])."""
    if data[:4] != b'MThd':
        raise SmfError('not a MIDI file (it does not start with the MThd header)')
    if len(data) < 14:
        raise SmfError('truncated: the header chunk is incomplete')
    header_length = int.from_bytes(data[4:8], 'big')
    if header_length < 6:
        raise SmfError(f'header chunk length {header_length} is under 6')
    midi_format = int.from_bytes(data[8:10], 'big')
    n_tracks = int.from_bytes(data[10:12], 'big')
    division = int.from_bytes(data[12:14], 'big')
    if division & 0x8000:
        raise SmfError('SMPTE time division is not supported (needs ticks per quarter note)')
    if division == 0:
        raise SmfError('time division is 0 ticks per quarter note')
    if midi_format > 2:
        raise SmfError(f'unknown MIDI file format {midi_format}')
    tracks = []
    for chunk_id, start, end in _chunks(data, 8 + header_length):
        if end > len(data):
            if len(tracks) >= n_tracks:
                break   # bytes after the declared tracks that are no whole chunk: ignored
            raise SmfError(f'truncated: chunk {len(tracks) + 1} declares {end - start} bytes, '
                           f'{len(data) - start} remain (wrong chunk length or cut-off file)')
        if chunk_id == b'MTrk':
            try:
                track = _read_track(data, start, end)
            except SmfError as error:
                raise SmfError(f'track {len(tracks)}: {error}') from None
            tracks.append(dataclasses.replace(track, declared=len(tracks) < n_tracks))
            if len(tracks) == MAX_TRACKS:
                break
    if len(tracks) < n_tracks:
        raise SmfError(f'truncated: the header declares {n_tracks} tracks, the file holds {len(tracks)}')
    if not tracks:
        raise SmfError('no tracks')
    return midi_format, division, tracks


def _chunks(data, pos):
    """Chunks from byte ``pos`` on → (4-byte id, first byte, end byte); ``end`` may lie past the data."""
    while pos + 8 <= len(data):
        start = pos + 8
        pos = start + int.from_bytes(data[pos + 4:pos + 8], 'big')
        yield data[start - 8:start - 4], start, pos


def _read_track(data, pos, end):
    """Scan one MTrk chunk's events between byte ``pos`` and ``end`` → :class:`Track`."""
    notes, metas = [], []
    tick = status = 0
    while pos < end:
        delta, pos = _varlen(data, pos, end)
        tick += delta
        if pos >= end:
            raise SmfError('truncated: an event is missing after its delta time')
        byte = data[pos]
        if byte >= 0x80:
            pos += 1
            if byte == 0xFF:
                if pos >= end:
                    raise SmfError('truncated meta event')
                meta_type = data[pos]
                length, pos = _varlen(data, pos + 1, end)
                if pos + length > end:
                    raise SmfError(f'meta event 0x{meta_type:02X} runs past the end of its chunk')
                if meta_type == END_OF_TRACK:
                    return Track(notes, metas, tick, bytes_after_end=end - pos - length)
                if meta_type in KEPT_META_TYPES:
                    try:
                        metas.append((tick, build_meta_message(meta_type, list(data[pos:pos + length]))))
                    except (KeySignatureError, ValueError, IndexError, TypeError, KeyError) as error:
                        raise SmfError(f'bad meta event 0x{meta_type:02X} at tick {tick}: {error}') from None
                pos += length
                continue
            if byte in (0xF0, 0xF7):
                length, pos = _varlen(data, pos, end)
                pos += length
                if pos > end:
                    raise SmfError('SysEx event runs past the end of its chunk')
                continue
            if byte > 0xF0:
                raise SmfError(f'status byte 0x{byte:02X} at tick {tick} is not allowed in a MIDI file')
            status = byte
        elif not status:
            raise SmfError(f'data byte 0x{byte:02X} at tick {tick} with no status byte before it')
        kind = status & 0xF0
        n_data = _DATA_BYTES[kind]
        if pos + n_data > end:
            raise SmfError('truncated: an event runs past the end of its chunk')
        if data[pos] >= 0x80 or (n_data == 2 and data[pos + 1] >= 0x80):
            raise SmfError(f'data byte over 127 at tick {tick} (status 0x{status:02X})')
        if kind == 0x90:
            notes.append((tick, status & 0x0F, data[pos], data[pos + 1] > 0))
        elif kind == 0x80:
            notes.append((tick, status & 0x0F, data[pos], False))
        pos += n_data
    return Track(notes, metas, tick)
