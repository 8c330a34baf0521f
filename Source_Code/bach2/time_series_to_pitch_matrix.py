"""Stage 1: time series ⇄ pitch matrix (the journal's piano roll), transpositions, bass line.

A *pitch matrix* is a ``T × P`` uint8 array (1 = pitch sounding): row ``t`` is
time step ``t`` (one step = ``ticks_per_step`` ticks, a 16th note by default),
column ``j`` is MIDI pitch ``lowest_pitch + j``. The journal kept P = 61 pitches
and shifted the data down two octaves: column 0 is MIDI 24 (``C_2``) by default,
and shifting back is adding ``lowest_pitch`` again.

The journal named its step in ticks at 96 ticks per quarter note (``24ticks`` =
a 16th); :func:`ticks_per_step` turns that into a file's own ticks.

Onsets and ends are rounded to the nearest step and every note keeps at least
one step, so no note vanishes between two samples; :func:`quantization_report` says
which notes that rounding moved, merged or dropped. The inverse,
:func:`pitch_matrix_to_time_series`, is *legato*: consecutive steps of one
pitch become one note — unless an *onset plane* (:func:`onset_roll`, stored
beside the pitch matrices in stage 1) marks the pitch struck again.
"""
import numpy as np

from bach2.music.pitch_names import PITCH_CLASS_NAMES

N_PITCHES = 61
LOWEST_PITCH = 24          # MIDI C_2: the journal's "shifted down two octaves"
JOURNAL_RESOLUTION = 96    # ticks per quarter note in the journal's files
JOURNAL_STEP_TICKS = 24    # a 16th note at 96 ticks per quarter
GRID_NAMES = {96: 'quarter-note', 48: '8th-note', 24: '16th-note', 12: '32nd-note', 6: '64th-note'}   # by step ticks


def ticks_per_step(resolution, step_ticks=JOURNAL_STEP_TICKS):
    """Ticks of one step in a file of ``resolution`` ticks per quarter (step given at 96 per quarter)."""
    ticks = resolution * step_ticks / JOURNAL_RESOLUTION
    if ticks < 1:
        raise ValueError(f'a step of {step_ticks} ticks at 96 per quarter is under one tick '
                         f'at {resolution} ticks per quarter')
    return ticks


def note_arrays(piece):
    """All notes of all voices → (start, pitch, end) int64 arrays in ticks."""
    notes = [note for voice in piece.voices for note in voice.notes]
    if not notes:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    table = np.asarray(notes, dtype=np.int64)
    return table[:, 0], table[:, 1], table[:, 0] + table[:, 2]


def grid_steps(start, end, step):
    """Onsets and ends in ticks (arrays) → (first step, last step exclusive) int64 arrays: each rounded to the
    nearest step of ``step`` ticks, every note at least one step long."""
    first = np.floor(np.asarray(start) / step + 0.5).astype(np.int64)
    return first, np.maximum(np.floor(np.asarray(end) / step + 0.5).astype(np.int64), first + 1)


def note_steps(piece, step):
    """Notes → (first step, pitch, last step exclusive) int64 arrays; ``step`` in ticks."""
    start, pitch, end = note_arrays(piece)
    first, last = grid_steps(start, end, step)
    return first, pitch, last


def quantization_report(piece, step_ticks=JOURNAL_STEP_TICKS):
    """The notes that rounding to the step grid (:func:`note_steps`) changes → [(time in quarters as written,
    pitch name such as 'F#4', what happened)] in time order, one entry a note; ``[]`` when all fit the grid.
    ``step_ticks`` at 96 per quarter.

    What happened, per voice: where notes written at different times land on one step, the one written nearest
    it keeps it and each other is 'dropped: struck with F4 at 2.25' (a line keeps one pitch a step) or, of the
    same pitch, 'merged: …' (one note); a note alone on its step whose onset or length is off the grid is
    'moved: at 1.25 for 0.5 (written 1.333 for 0.3333)'.
    """
    step = ticks_per_step(piece.resolution, step_ticks)
    quarter = piece.resolution
    changed = []
    for voice in piece.voices:
        notes = sorted(voice.notes)
        firsts, lasts = grid_steps([start for start, _, _ in notes], [start + span for start, _, span in notes],
                                   step)
        nearest = {}                # step → (distance in ticks, written onset, pitch) of the note that keeps it
        for (start, pitch, _), first in zip(notes, firsts.tolist()):
            nearest[first] = min(nearest.get(first, (np.inf,)), (abs(start - first * step), start, pitch))
        for (start, pitch, duration), first, last in zip(notes, firsts.tolist(), lasts.tolist()):
            _, onset, keeper = nearest[first]
            at = first * step / quarter
            if onset != start:
                what = f'{"merged" if keeper == pitch else "dropped"}: struck with {_pitch_name(keeper)} at {at:g}'
            elif first * step != start or (last - first) * step != duration:
                what = (f'moved: at {at:g} for {(last - first) * step / quarter:g} '
                        f'(written {start / quarter:.4g} for {duration / quarter:.4g})')
            else:
                continue
            changed.append((start / quarter, _pitch_name(pitch), what))
    return sorted(changed)


def quantization_summary(report, step_ticks=JOURNAL_STEP_TICKS):
    """A :func:`quantization_report` → one line ('' when empty): '5 notes finer than the 16th-note grid changed
    (1 dropped, 0 merged, 4 moved); first: quarter 1.333, E4 moved: …'."""
    if not report:
        return ''
    counts = {how: sum(what.startswith(how) for _, _, what in report) for how in ('dropped', 'merged', 'moved')}
    grid = GRID_NAMES.get(step_ticks, f'{step_ticks / JOURNAL_RESOLUTION:g}-quarter')
    time, pitch, what = report[0]
    return (f'{len(report)} note{"s" * (len(report) > 1)} finer than the {grid} grid changed ('
            + ', '.join(f'{count} {how}' for how, count in counts.items()) + f'); first: quarter {time:.4g}, '
            f'{pitch} {what}')


def _pitch_name(pitch):
    """MIDI pitch → scientific name: 60 → 'C4', 70 → 'A#4'."""
    return f'{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}'


def full_roll(piece, step):
    """``T × 128`` bool roll of all MIDI pitches, one row per ``step`` ticks (T = last note end)."""
    first, pitch, last = note_steps(piece, step)
    n_steps = int(last.max()) if len(last) else 0
    counts = np.zeros((n_steps + 1, 128), np.int32)
    np.add.at(counts, (first, pitch), 1)
    np.add.at(counts, (last, pitch), -1)
    return np.cumsum(counts[:-1], axis=0) > 0


def onset_roll(piece, step):
    """``T × 128`` bool roll of the steps where a note is struck (T as in :func:`full_roll`): what tells a
    note held from the step before from the same pitch struck again."""
    first, pitch, last = note_steps(piece, step)
    roll = np.zeros((int(last.max()) if len(last) else 0, 128), bool)
    roll[first, pitch] = True
    return roll


def window(roll, lowest_pitch=LOWEST_PITCH, n_pitches=N_PITCHES, semitones=0):
    """Columns of a ``T × 128`` roll transposed up ``semitones`` → ``T × n_pitches`` uint8 pitch matrix.

    Column j holds MIDI pitch ``lowest_pitch + j`` after transposition; pitches
    that land outside are not in the result (count them with :func:`notes_outside`).
    """
    matrix = np.zeros((roll.shape[0], n_pitches), np.uint8)
    low = lowest_pitch - semitones                  # source column of matrix column 0
    src_lo, src_hi = max(low, 0), min(low + n_pitches, 128)
    if src_lo < src_hi:
        matrix[:, src_lo - low:src_hi - low] = roll[:, src_lo:src_hi]
    return matrix


def pitch_matrix_to_roll(pitch_matrix, lowest_pitch=LOWEST_PITCH):
    """``T × P`` pitch matrix (column j = MIDI ``lowest_pitch + j``) → ``T × 128`` bool roll (inverse of window)."""
    matrix = np.asarray(pitch_matrix) > 0
    roll = np.zeros((len(matrix), 128), bool)
    roll[:, lowest_pitch:lowest_pitch + matrix.shape[1]] = matrix
    return roll


def notes_outside(pitches, lowest_pitch=LOWEST_PITCH, n_pitches=N_PITCHES, semitones=0):
    """How many notes (MIDI ``pitches`` array) fall outside the window after transposing by ``semitones``."""
    moved = np.asarray(pitches) + semitones
    return int(np.count_nonzero((moved < lowest_pitch) | (moved >= lowest_pitch + n_pitches)))


def time_series_to_pitch_matrix(piece, step_ticks=JOURNAL_STEP_TICKS, lowest_pitch=LOWEST_PITCH,
                                n_pitches=N_PITCHES, semitones=0):
    """:class:`Piece` → (``T × n_pitches`` uint8 pitch matrix, notes left outside the window).

    ``semitones`` transposes first. Inverse: :func:`pitch_matrix_to_time_series`.
    """
    step = ticks_per_step(piece.resolution, step_ticks)
    roll = full_roll(piece, step)
    _, pitches, _ = note_arrays(piece)
    return (window(roll, lowest_pitch, n_pitches, semitones),
            notes_outside(pitches, lowest_pitch, n_pitches, semitones))


def onset_matrix(piece, step_ticks=JOURNAL_STEP_TICKS, lowest_pitch=LOWEST_PITCH, n_pitches=N_PITCHES):
    """:class:`Piece` → ``T × n_pitches`` uint8 onset plane (1 where a pitch is struck), row for row with
    :func:`time_series_to_pitch_matrix`'s pitch matrix."""
    return window(onset_roll(piece, ticks_per_step(piece.resolution, step_ticks)), lowest_pitch, n_pitches)


def transpositions(piece, step_ticks=JOURNAL_STEP_TICKS, lowest_pitch=LOWEST_PITCH, n_pitches=N_PITCHES,
                   shifts=range(12)):
    """The piece in 12 keys: {k: (pitch matrix, notes outside)} with ``sh<k>`` = up k semitones.

    For k > 6 the notes go down ``12 - k`` instead (same key, an octave lower),
    which keeps more of them inside the window; :func:`shift_semitones` says which.
    """
    step = ticks_per_step(piece.resolution, step_ticks)
    roll = full_roll(piece, step)
    _, pitches, _ = note_arrays(piece)
    result = {}
    for k in shifts:
        semitones = shift_semitones(k)
        result[k] = (window(roll, lowest_pitch, n_pitches, semitones),
                     notes_outside(pitches, lowest_pitch, n_pitches, semitones))
    return result


def shift_semitones(k):
    """Transposition ``sh<k>`` (key k semitones up) → actual shift in −5 … +6 semitones."""
    return k if k <= 6 else k - 12


def pitch_matrix_to_time_series(pitch_matrix, step=JOURNAL_STEP_TICKS, lowest_pitch=LOWEST_PITCH, onsets=None):
    """``T × P`` pitch matrix → sorted [(time, pitch, duration)] in ticks, legato.

    ``step``: ticks per row. A run of consecutive steps of one pitch becomes one
    note; with ``onsets`` (``T × P``, 1 where a note is struck, :func:`onset_roll`) a
    sounding step marked struck starts a new note even when the pitch sounded
    before it. ``lowest_pitch`` shifts the columns back to MIDI pitches. Inverse of
    :func:`time_series_to_pitch_matrix` (and of :func:`onset_roll` with ``onsets``).
    """
    active = np.asarray(pitch_matrix) > 0
    padded = np.zeros((active.shape[0] + 2, active.shape[1]), bool)
    padded[1:-1] = active
    struck = np.zeros_like(padded)
    if onsets is not None:
        struck[1:-1] = np.asarray(onsets) > 0
    start = padded[1:] & (~padded[:-1] | struck[1:])           # (T + 1) × P: a note starts at this step
    end = padded[:-1] & (~padded[1:] | start)                  # … the note before ends here
    on_step, on_col = np.nonzero(start)
    off_step, off_col = np.nonzero(end)
    on_order = np.lexsort((on_step, on_col))       # pair the k-th onset and end of each column
    off_order = np.lexsort((off_step, off_col))
    starts, columns, ends = on_step[on_order], on_col[on_order], off_step[off_order]
    notes = [(int(s * step), int(c + lowest_pitch), int((e - s) * step))
             for s, c, e in zip(starts, columns, ends)]
    notes.sort()
    return notes


def pitch_span(piece):
    """(lowest, highest) MIDI pitch of the piece, or None when it has no notes."""
    _, pitches, _ = note_arrays(piece)
    return (int(pitches.min()), int(pitches.max())) if len(pitches) else None


def octave_shift(pitch_matrix, octaves):
    """Move a pitch matrix ``octaves`` up (negative: down) → (shifted matrix, sounding cells lost at the edge)."""
    semitones = 12 * octaves
    matrix = np.asarray(pitch_matrix)
    shifted = np.zeros_like(matrix)
    n = matrix.shape[1]
    if abs(semitones) < n:
        if semitones >= 0:
            shifted[:, semitones:] = matrix[:, :n - semitones]
        else:
            shifted[:, :n + semitones] = matrix[:, -semitones:]
    lost = int(np.count_nonzero(matrix)) - int(np.count_nonzero(shifted))
    return shifted, lost


def bass_line(pitch_matrix):
    """Monophonic bass line: ``T × P`` uint8 with only the lowest sounding pitch of each step (silent rows stay 0)."""
    matrix = np.asarray(pitch_matrix) > 0
    bass = np.zeros(matrix.shape, np.uint8)
    sounding = matrix.any(axis=1)
    bass[np.nonzero(sounding)[0], matrix.argmax(axis=1)[sounding]] = 1
    return bass
