"""Stage 0: MIDI file → time series, with the note pairing done here, not by a library.

A *time series* is one list per voice of ``(time, pitch, duration)`` tuples in
ticks (absolute onset, MIDI pitch 0–127, ticks > 0), sorted. A voice is one
(track, channel) pair. :mod:`bach2.music.smf_reader` scans the bytes (mido decodes
the meta events); pairing follows these rules:

* a NoteOn with velocity 0 is a NoteOff;
* per (track, channel, pitch) the oldest open note closes first (FIFO);
* a NoteOff with no open note is dropped (the journal's bwv733 had 849 NoteOn
  against 850 NoteOff; paired naively, that gave negative durations);
* a NoteOn never closed is closed at the end of its track;
* overlapping notes of one pitch in one voice: the earlier one is cut where the
  later one starts (a re-struck key), so the file can be written back exactly;
* notes of zero duration (NoteOn and NoteOff on the same tick) are dropped.

Two defects of the file itself are repaired too: MTrk chunks past the
header's track count are read as tracks, and bytes after an early end-of-track
event are skipped. Each repair is counted in a :class:`RepairReport`. Any file
that cannot be read raises :class:`MidiFileError`, whose message is one line
naming the file; so do files under :data:`MIN_RESOLUTION` ticks per quarter
note and tracks longer than :data:`MAX_QUARTERS` (corrupt delta times), which
would make stage 1 fail or build a giant roll.

Stage 0 keeps every channel, drums too, so that a file is written back as it was read. Music given to write
around (a melody, a subject, a primer) is read with :func:`read_tune`, which leaves out the drums of MIDI
channel 10 (their key numbers name instruments, not pitches) and refuses a file with no pitched note.

Inverse: :func:`bach2.time_series_to_midi.time_series_to_midi`.
"""
import collections
import dataclasses
import functools
import itertools
import os

from bach2.music.smf_reader import SmfError, read_smf

MAX_FILE_BYTES = 4 * 2 ** 20    # a larger file is not a score (the largest shared file: 30 KB); see docs/robustness.md
READ_BLOCK_BYTES = 2 ** 16      # read in blocks: one read(MAX_FILE_BYTES + 1) would reserve it all per file
#: A longer track is taken as corrupt delta times (2**15 quarter notes ≈ 4.5 hours at 120 bpm; the longest
#: shared file has 956). It bounds stage 1 too: a 16th-note roll of at most 2**17 steps.
MAX_QUARTERS = 2 ** 15
#: Fewer ticks per quarter note cannot place a 16th note (stage 1's step) on a tick.
MIN_RESOLUTION = 4
DEFAULT_TEMPO = 500000  # microseconds per quarter note (120 bpm), the MIDI default
DRUM_CHANNEL = 9        # MIDI channel 10 (counted from 1): General MIDI percussion, a drum per key number


class MidiFileError(Exception):
    """A MIDI file that cannot be read; ``str()`` is one line: ``'<path>: <problem>'``."""

    def __init__(self, path, problem):
        self.path, self.problem = str(path), problem
        super().__init__(f'{self.path}: {problem}')


@dataclasses.dataclass
class RepairReport:
    """Counts of what :func:`midi_to_time_series` had to repair in one file."""
    unmatched_note_offs: int = 0      # NoteOff with no open note: dropped
    unclosed_note_ons: int = 0        # NoteOn never closed: closed at the end of its track
    zero_or_negative_durations: int = 0  # dropped; FIFO pairing cannot make a negative one
    overlapping_notes: int = 0        # same pitch re-struck while sounding: earlier one cut
    undeclared_tracks: int = 0        # MTrk chunks past the header's track count: read too
    early_ends_of_track: int = 0      # end-of-track event before its chunk ends: the bytes after it skipped

    @property
    def total(self):
        return sum(dataclasses.astuple(self))

    def __str__(self):
        if not self.total:
            return 'no repairs'
        return ', '.join(f'{count} {field.replace("_", " ")}' for field, count
                         in dataclasses.asdict(self).items() if count)


@dataclasses.dataclass
class Voice:
    """The notes of one (track, channel): ``notes`` is a sorted list of (time, pitch, duration) in ticks."""
    track: int
    channel: int
    name: str
    notes: list


@dataclasses.dataclass
class Piece:
    """One MIDI file as time series. All times are absolute ticks.

    ``resolution``: ticks per quarter note. ``tempi``: [(tick, microseconds per
    quarter)]. ``time_signatures``: [(tick, numerator, denominator)].
    ``key_signatures``: [(tick, mido key name such as 'C#m')]. ``markers``:
    [(tick, text)]. ``end_tick``: the last tick of the longest track.
    """
    name: str
    resolution: int
    tempi: list
    time_signatures: list
    key_signatures: list
    markers: list
    voices: list
    end_tick: int
    repairs: RepairReport = dataclasses.field(default_factory=RepairReport)

    @property
    def n_notes(self):
        return sum(len(voice.notes) for voice in self.voices)

    def to_dict(self):
        """Plain dicts, lists and ints only: what stage 0 pickles (loads anywhere, runs no code)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        fields = dict(data)
        fields['voices'] = [Voice(**voice) for voice in data['voices']]
        fields['repairs'] = RepairReport(**data['repairs'])
        return cls(**fields)


def read_midi(path):
    """Scan ``path`` (:mod:`bach2.music.smf_reader`) → (ticks per quarter, [Track]); failures → :class:`MidiFileError`."""
    try:
        with open(path, 'rb') as handle:
            blocks = iter(functools.partial(handle.read, READ_BLOCK_BYTES), b'')
            data = b''.join(itertools.islice(blocks, MAX_FILE_BYTES // READ_BLOCK_BYTES + 1))
    except OSError as error:
        raise MidiFileError(path, f'cannot open: {error.strerror or error}') from None
    if not data:
        raise MidiFileError(path, 'empty file (0 bytes)')
    if len(data) > MAX_FILE_BYTES:
        raise MidiFileError(path, f'larger than {MAX_FILE_BYTES // 2**20} MiB: not a score')
    try:
        _, resolution, tracks = read_smf(data)
    except SmfError as error:
        raise MidiFileError(path, str(error)) from None
    return resolution, tracks


def midi_to_time_series(path, name=None):
    """Read a MIDI file → :class:`Piece` (time series per voice + repair report)."""
    resolution, tracks = read_midi(path)
    if resolution < MIN_RESOLUTION:
        raise MidiFileError(path, f'{resolution} ticks per quarter note is too coarse for 16th notes '
                                  f'(at least {MIN_RESOLUTION} needed)')
    repairs = RepairReport()
    tempi, time_signatures, key_signatures, markers, voices = [], [], [], [], []
    for track_index, track in enumerate(tracks):
        if track.end_tick > MAX_QUARTERS * resolution:
            raise MidiFileError(path, f'track {track_index} lasts {track.end_tick // resolution} quarter notes '
                                      f'({track.end_tick} ticks), more than the {MAX_QUARTERS} allowed '
                                      f'(probably corrupt delta times)')
        repairs.undeclared_tracks += not track.declared
        repairs.early_ends_of_track += track.bytes_after_end > 0
        track_name = ''
        for tick, message in track.metas:
            if message.type == 'set_tempo':
                tempi.append((tick, message.tempo))
            elif message.type == 'time_signature':
                time_signatures.append((tick, message.numerator, message.denominator))
            elif message.type == 'key_signature':
                key_signatures.append((tick, message.key))
            elif message.type == 'marker':
                markers.append((tick, message.text))
            elif message.type == 'track_name' and not track_name:
                track_name = message.name.strip()
        notes = _pair_notes(track, repairs)
        for channel in sorted(notes):
            voices.append(Voice(track_index, channel, track_name, _repair_durations(notes[channel], repairs)))
    if not tempi or tempi[0][0] > 0:
        tempi.insert(0, (0, DEFAULT_TEMPO))
    return Piece(name=name or os.path.splitext(os.path.basename(str(path)))[0],
                 resolution=resolution, tempi=sorted(tempi),
                 time_signatures=sorted(time_signatures), key_signatures=sorted(key_signatures),
                 markers=sorted(markers), voices=[v for v in voices if v.notes],
                 end_tick=max(track.end_tick for track in tracks), repairs=repairs)


def without_drums(piece):
    """:class:`Piece` → the same piece without its voices on MIDI channel 10 (:data:`DRUM_CHANNEL`)."""
    return dataclasses.replace(piece, voices=[voice for voice in piece.voices if voice.channel != DRUM_CHANNEL])


def read_tune(path, name=None):
    """A MIDI file of music to write around (a melody, a subject, a primer) → :class:`Piece` without its drums
    (:func:`without_drums`); :class:`MidiFileError` naming the file when no pitched note is left."""
    piece = midi_to_time_series(path, name)
    pitched = without_drums(piece)
    if not pitched.n_notes:
        raise MidiFileError(path, f'no pitched notes: its {piece.n_notes} notes are drums (MIDI channel 10)'
                            if piece.n_notes else 'no notes')
    return pitched


def _pair_notes(track, repairs):
    """NoteOn/NoteOff events of one track → {channel: [(start, pitch, end)]}, oldest open note first."""
    open_notes = collections.defaultdict(collections.deque)  # (channel, pitch) → onsets
    notes = collections.defaultdict(list)
    for tick, channel, pitch, is_on in track.notes:
        if is_on:
            open_notes[channel, pitch].append(tick)
            continue
        queue = open_notes.get((channel, pitch))
        if queue:
            notes[channel].append((queue.popleft(), pitch, tick))
        else:
            repairs.unmatched_note_offs += 1
    for (channel, pitch), onsets in open_notes.items():
        repairs.unclosed_note_ons += len(onsets)
        notes[channel].extend((onset, pitch, track.end_tick) for onset in onsets)
    return notes


def _repair_durations(spans, repairs):
    """[(start, pitch, end)] → sorted [(time, pitch, duration)] with overlaps cut and empty notes dropped."""
    spans.sort(key=lambda span: (span[1], span[0], span[2]))
    notes = []
    for i, (start, pitch, end) in enumerate(spans):
        if i + 1 < len(spans) and spans[i + 1][1] == pitch and spans[i + 1][0] < end:
            repairs.overlapping_notes += 1
            end = spans[i + 1][0]
            if end == start:  # struck twice on one tick: keep one note
                continue
        elif end <= start:
            repairs.zero_or_negative_durations += 1
            continue
        notes.append((start, pitch, end - start))
    notes.sort()
    return notes
