"""Mutation fuzzer for the MIDI reader (``bach2.midi_to_time_series`` over ``bach2.music.smf_reader``).

Each case takes one real file of the shared Bach corpus, damages it in one way
(a *mutation kind*: byte flips, truncation, a duplicated chunk, a chunk length
of up to 4 GB, huge delta times, running-status abuse, an absurd track count,
bad header fields, random garbage, bogus SysEx/meta events) and reads it. The
contract: every input ends in either a parsed
:class:`~bach2.midi_to_time_series.Piece` (with its repair report) or a
:class:`~bach2.midi_to_time_series.MidiFileError` whose message is one line
``'<path>: <problem>'``, within ``MAX_SECONDS`` (1 s) and ``MAX_PEAK_BYTES``
(64 MiB peak, traced by :mod:`tracemalloc`). A parsed piece must be sane: notes
sorted, pitches 0–127, durations > 0, and small enough for stage 1 (a roll of
at most ``MAX_ROLL_STEPS`` 16th-note steps). Anything else is a *failure*: the
input is saved to a temporary folder and the exit status is 1.
``tests/test_fuzz_midi.py`` runs a few hundred of these cases.

    python benchmarks/fuzz_midi.py [--cases 10000] [--seed 0] [--data ../shared/data/bach_keyboard]

Prints, per mutation kind: cases, parsed (of which repaired), refused, failures.
"""
import argparse
import collections
import contextlib
import pathlib
import random
import signal
import sys
import tempfile
import time
import tracemalloc

from tqdm import tqdm

from bach2.midi_to_time_series import MidiFileError, midi_to_time_series
from bach2.time_series_to_pitch_matrix import ticks_per_step

DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'bach_keyboard'
MAX_SECONDS = 1.0
MAX_PEAK_BYTES = 64 * 2 ** 20
MAX_ROLL_STEPS = 2 ** 17   # 16th notes ≈ 4.5 hours at 120 bpm; the roll's counts then take 64 MiB
HANG_SECONDS = 10          # an alarm stops a case that runs this long (it already failed at 1 s)


# --- a valid file as chunks and events, so mutations can hit event boundaries ---------------------

def _vlq(value):
    """Non-negative int → variable-length quantity bytes (7 bits per byte, high bit = more follow)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _read_vlq(body, pos):
    value = 0
    while True:
        byte = body[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos


def split_chunks(data):
    """Bytes of a valid MIDI file → (header chunk bytes, [(chunk id, body bytes)])."""
    header_end = 8 + int.from_bytes(data[4:8], 'big')
    chunks, pos = [], header_end
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos + 4:pos + 8], 'big')
        chunks.append((data[pos:pos + 4], data[pos + 8:pos + 8 + length]))
        pos += 8 + length
    return data[:header_end], chunks


def split_events(body):
    """One MTrk body of a valid file → [(delta-time bytes, event bytes)]; event bytes may use running status."""
    events, pos, status = [], 0, 0
    while pos < len(body):
        _, event_start = _read_vlq(body, pos)
        delta, pos = body[pos:event_start], event_start
        byte = body[pos]
        if byte == 0xFF:
            length, pos = _read_vlq(body, pos + 2)
            pos += length
        elif byte in (0xF0, 0xF7):
            length, pos = _read_vlq(body, pos + 1)
            pos += length
        else:
            if byte & 0x80:
                status, pos = byte, pos + 1
            pos += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
        events.append((delta, body[event_start:pos]))
    return events


def join_chunks(header, chunks):
    """(header bytes, [(chunk id, body)]) → file bytes with every chunk length right."""
    return header + b''.join(cid + len(body).to_bytes(4, 'big') + body for cid, body in chunks)


class Source:
    """One corpus file, split once: ``data`` (bytes), ``header``, ``chunks``, ``tracks`` (events per MTrk)."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.data = self.path.read_bytes()
        self.header, self.chunks = split_chunks(self.data)
        self.tracks = [split_events(body) for cid, body in self.chunks if cid == b'MTrk']

    def rebuild(self, tracks, header=None):
        return join_chunks(header or self.header,
                           [(b'MTrk', b''.join(d + e for d, e in events)) for events in tracks])


# --- mutation kinds: (random.Random, Source) → bytes ---------------------------------------------

def byte_flips(rng, source):
    """1–8 bytes anywhere get one bit flipped or a random value."""
    data = bytearray(source.data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(data))
        data[i] = data[i] ^ (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(256)
    return bytes(data)


def truncation(rng, source):
    """The file cut at a random byte (in the header, a chunk header or an event)."""
    return source.data[:rng.randrange(len(source.data))]


def duplicated_chunk(rng, source):
    """One chunk copied to another place; half the time the header's track count follows."""
    chunks = list(source.chunks)
    chunks.insert(rng.randint(0, len(chunks)), rng.choice(chunks))
    header = bytearray(source.header)
    if rng.random() < 0.5:
        header[10:12] = min(len(chunks), 0xFFFF).to_bytes(2, 'big')
    return join_chunks(bytes(header), chunks)


def oversized_chunk_length(rng, source):
    """A chunk (or the header) claims up to 4 GB; the bytes after it are unchanged."""
    data = bytearray(source.data)
    starts, pos = [0], len(source.header)
    for _, body in source.chunks:
        starts.append(pos)
        pos += 8 + len(body)
    start = rng.choice(starts)
    real = int.from_bytes(data[start + 4:start + 8], 'big')
    claimed = rng.choice([0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, real + 1, real + rng.randint(2, 10 ** 6),
                          rng.randrange(2 ** 32)])
    data[start + 4:start + 8] = (claimed % 2 ** 32).to_bytes(4, 'big')
    return bytes(data)


HUGE_DELTAS = [b'\xff\xff\xff\x7f', b'\xff\xff\xff\xff', b'\xff\xff\xff\xff\x7f', b'\x8f\xff\xff\x7f',
               b'\xff', b'\xff\xff', b'\xff\xff\xff']


def huge_delta_time(rng, source):
    """1–3 delta times become huge (up to 2**28 − 1) or unterminated variable-length numbers."""
    tracks = [list(events) for events in source.tracks]
    for _ in range(rng.randint(1, 3)):
        events = rng.choice(tracks)
        i = rng.randrange(len(events))
        events[i] = (rng.choice(HUGE_DELTAS), events[i][1])
    return source.rebuild(tracks)


def running_status_abuse(rng, source):
    """Data bytes without a status, a status byte dropped, or status bytes inside data."""
    tracks = [list(events) for events in source.tracks]
    events = rng.choice(tracks)
    i = rng.randrange(len(events))
    delta, event = events[i]
    how = rng.randrange(4)
    if how == 0:      # data bytes with no status byte before them (at the start of a track, or anywhere)
        events.insert(rng.choice([0, i]), (b'\x00', bytes([rng.randrange(128), rng.randrange(128)])))
    elif how == 1 and event[0] < 0xF0 and event[0] & 0x80:   # drop a status byte: running status that may not apply
        events[i] = (delta, event[1:])
    elif how == 2 and len(event) > 1:                       # a status byte where a data byte belongs
        j = rng.randrange(1, len(event))
        events[i] = (delta, event[:j] + bytes([rng.randrange(0x80, 0x100)]) + event[j + 1:])
    else:                                                    # a stray status byte before an event
        events[i] = (delta, bytes([rng.randrange(0x80, 0x100)]) + event)
    return source.rebuild(tracks)


def absurd_track_count(rng, source):
    """The header declares 0, 65535 or some other wrong number of tracks."""
    header = bytearray(source.header)
    n_tracks = len(source.tracks)
    header[10:12] = rng.choice([0, 65535, n_tracks + 1, max(n_tracks - 1, 0), rng.randrange(65536)]
                               ).to_bytes(2, 'big')
    return bytes(header) + source.data[len(header):]


def bad_header_fields(rng, source):
    """Format, division (SMPTE, 0, 1–3 ticks) or the header length set to odd values."""
    header = bytearray(source.header)
    field = rng.randrange(3)
    if field == 0:
        header[8:10] = rng.choice([3, 0xFFFF, rng.randrange(65536)]).to_bytes(2, 'big')
    elif field == 1:
        header[12:14] = rng.choice([0, 1, 2, 3, 0x8000, 0xE728, 0x7FFF, rng.randrange(65536)]).to_bytes(2, 'big')
    else:
        header[4:8] = rng.choice([0, 5, 7, 100, 0xFFFFFFFF]).to_bytes(4, 'big')
    return bytes(header) + source.data[len(header):]


def random_garbage(rng, source):
    """Random bytes: a whole file, after a valid header, or over a stretch of the real file."""
    noise = rng.randbytes(rng.randrange(2048))
    how = rng.randrange(3)
    if how == 0:
        return noise
    if how == 1:
        return source.header + noise
    start = rng.randrange(len(source.data))
    return source.data[:start] + noise + source.data[start + len(noise):]


def bogus_sysex_or_meta(rng, source):
    """A SysEx or meta event inserted with a length that lies, a kept meta event with bad contents,
    or an end-of-track event in the middle of a track."""
    tracks = [list(events) for events in source.tracks]
    events = rng.choice(tracks)
    payload = rng.randbytes(rng.randrange(8))
    claimed = rng.choice([0, len(payload) + rng.randint(1, 300), 0x0FFFFFFF, max(len(payload) - 1, 0)])
    how = rng.randrange(4)
    if how == 0:
        event = bytes([rng.choice([0xF0, 0xF7])]) + _vlq(claimed) + payload
    elif how == 1:
        event = bytes([0xFF, rng.randrange(256)]) + _vlq(claimed) + payload
    elif how == 2:   # tempo, time signature, key signature, marker, track name: right length, odd contents
        event = bytes([0xFF, rng.choice([0x51, 0x58, 0x59, 0x06, 0x03])]) + _vlq(len(payload)) + payload
    else:
        event = b'\xff\x2f\x00'
    events.insert(rng.randrange(len(events) + 1), (b'\x00', event))
    return source.rebuild(tracks)


MUTATIONS = {
    'byte flips': byte_flips,
    'truncation': truncation,
    'duplicated chunk': duplicated_chunk,
    'oversized chunk length': oversized_chunk_length,
    'huge delta time': huge_delta_time,
    'running-status abuse': running_status_abuse,
    'absurd track count': absurd_track_count,
    'bad header fields': bad_header_fields,
    'random garbage': random_garbage,
    'bogus SysEx/meta': bogus_sysex_or_meta,
}


# --- the contract ---------------------------------------------------------------------------------

class _Hang(Exception):
    pass


@contextlib.contextmanager
def _alarm(seconds):
    """Raise :class:`_Hang` after ``seconds`` (main thread, POSIX); elsewhere do nothing."""
    if not hasattr(signal, 'SIGALRM'):
        yield
        return

    def ring(signum, frame):
        raise _Hang()
    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def piece_problem(piece):
    """What is wrong with a parsed piece ('' when nothing): order, ranges, durations, stage-1 size."""
    for voice in piece.voices:
        if voice.notes != sorted(voice.notes):
            return f'voice {voice.track}/{voice.channel}: notes not sorted'
        if not 0 <= voice.channel <= 15:
            return f'channel {voice.channel}'
        for time_, pitch, duration in voice.notes:
            if not (0 <= pitch <= 127 and time_ >= 0 and duration > 0 and time_ + duration <= piece.end_tick):
                return f'bad note {(time_, pitch, duration)} (end tick {piece.end_tick})'
    if min(dataclass_counts(piece.repairs)) < 0:
        return f'negative repair count: {piece.repairs}'
    try:
        steps = piece.end_tick / ticks_per_step(piece.resolution)
    except ValueError as error:
        return f'unusable by stage 1: {error}'
    if steps > MAX_ROLL_STEPS:
        return f'{piece.end_tick} ticks at {piece.resolution} per quarter: a roll of {steps:.0f} 16th notes'
    return ''


def dataclass_counts(report):
    return [getattr(report, name) for name in report.__dataclass_fields__]


def check(data, path, max_seconds=MAX_SECONDS, max_peak_bytes=MAX_PEAK_BYTES):
    """Write ``data`` to ``path`` and read it → (outcome, detail).

    outcome: 'parsed', 'repaired' (parsed, repair report not empty), 'refused'
    (a proper :class:`MidiFileError`) or 'failure' (``detail`` says why).
    """
    path = pathlib.Path(path)
    path.write_bytes(data)
    started_tracing = not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    try:
        with _alarm(HANG_SECONDS):
            piece = midi_to_time_series(path)
        outcome = 'repaired' if piece.repairs.total else 'parsed'
        detail = piece_problem(piece)
    except MidiFileError as error:
        outcome, detail = 'refused', str(error)
        if not detail.startswith(f'{path}: ') or '\n' in detail:
            return 'failure', f'badly formed MidiFileError message: {detail!r}'
        detail = ''
    except _Hang:
        return 'failure', f'hangs (stopped after {HANG_SECONDS} s)'
    except MemoryError:
        return 'failure', 'MemoryError'
    except Exception as error:   # noqa: BLE001 -- any other exception is what this looks for
        return 'failure', f'{type(error).__name__}: {error}'
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        if started_tracing:
            tracemalloc.stop()
    if detail:
        return 'failure', f'bad piece: {detail}'
    if seconds > max_seconds:
        return 'failure', f'too slow: {seconds:.2f} s'
    if peak > max_peak_bytes:
        return 'failure', f'too much memory: peak {peak / 2 ** 20:.0f} MiB'
    return outcome, ''


def mutate(case, seed, sources):
    """Case number → (kind, source, bytes); the same (case, seed) always gives the same bytes."""
    rng = random.Random(f'{seed}:{case}')
    kind = list(MUTATIONS)[case % len(MUTATIONS)]
    source = rng.choice(sources)
    return kind, source, MUTATIONS[kind](rng, source)


def fuzz(sources, cases, seed, work_dir, failure_dir=None, progress=True):
    """Run ``cases`` mutations → {kind: Counter of outcomes}, [(kind, case, source name, detail, saved path)]."""
    counts = collections.defaultdict(collections.Counter)
    failures = []
    path = pathlib.Path(work_dir) / 'case.mid'
    for case in tqdm(range(cases), desc='fuzzing the MIDI reader', unit='case', disable=not progress):
        kind, source, data = mutate(case, seed, sources)
        outcome, detail = check(data, path)
        counts[kind][outcome] += 1
        if outcome == 'failure':
            saved = None
            if failure_dir is not None:
                saved = pathlib.Path(failure_dir) / f'case{case}_{kind.replace(" ", "_").replace("/", "_")}.mid'
                saved.write_bytes(data)
            failures.append((kind, case, source.path.name, detail, saved))
    return counts, failures


def _limit_address_space(extra_bytes):
    """Cap this process's address space at its current size + ``extra_bytes``: a huge allocation
    becomes a MemoryError (a reported failure) instead of taking the machine down."""
    try:
        import resource
        with open('/proc/self/statm') as handle:
            current = int(handle.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (current + extra_bytes, resource.RLIM_INFINITY))
    except (ImportError, OSError, ValueError):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--cases', type=int, default=10000, help='mutated files to read (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: %(default)s)')
    parser.add_argument('--data', default=str(DEFAULT_DATA), help='folder of MIDI files (default: %(default)s)')
    args = parser.parse_args()
    files = sorted(pathlib.Path(args.data).rglob('*.mid'))
    if not files:
        sys.exit(f'fuzz_midi: {args.data}: no .mid files (the shared corpus is in ../shared/data)')
    sources = [Source(path) for path in files]
    _limit_address_space(2 * 2 ** 30)
    failure_dir = pathlib.Path(tempfile.mkdtemp(prefix='fuzz_midi_failures_'))
    with tempfile.TemporaryDirectory() as work_dir:
        start = time.perf_counter()
        counts, failures = fuzz(sources, args.cases, args.seed, work_dir, failure_dir)
        seconds = time.perf_counter() - start
    print(f'{args.cases} cases over {len(files)} files (seed {args.seed}) in {seconds:.0f} s')
    print(f'{"mutation kind":24s} {"cases":>6s} {"parsed":>7s} {"repaired":>9s} {"refused":>8s} {"failures":>9s}')
    total = collections.Counter()
    for kind in MUTATIONS:
        c = counts[kind]
        row = {'cases': sum(c.values()), 'parsed': c['parsed'] + c['repaired'], 'repaired': c['repaired'],
               'refused': c['refused'], 'failures': c['failure']}
        total.update(row)
        print(f'{kind:24s} {row["cases"]:6d} {row["parsed"]:7d} {row["repaired"]:9d} {row["refused"]:8d} '
              f'{row["failures"]:9d}')
    print(f'{"total":24s} {total["cases"]:6d} {total["parsed"]:7d} {total["repaired"]:9d} {total["refused"]:8d} '
          f'{total["failures"]:9d}')
    if failures:
        for kind, case, name, detail, saved in failures[:20]:
            print(f'FAILURE case {case} ({kind}, from {name}): {detail} → {saved}')
        sys.exit(f'fuzz_midi: {len(failures)} failures; inputs saved in {failure_dir}')
    failure_dir.rmdir()
    print('no failures: every input was parsed or refused with a one-line MidiFileError')


if __name__ == '__main__':
    main()
