"""How a piece works with its own material (issue 34): motifs that come back, sequences, rhythm kept bar to bar.

Measured on a line, the notes of one voice in order (``(step, MIDI pitch)``; the top and the bass line of a pitch
matrix where the voices are not known, :func:`outer_line`), and on the steps where some note is struck:

* :func:`recurrence`: the share of a line's notes whose next ``MOTIF`` notes (their ``MOTIF − 1`` intervals) come
  back elsewhere in the line, not overlapping them. Intervals in scale steps of the excerpt's key
  (:func:`~bach2.music.key_finding.scale_steps`: a figure moved anywhere within the scale counts, as Bach moves
  his) or exact, in semitones (the figure at the same intervals);
* :func:`sequence_share`: the share of a line's notes inside a sequence: a figure of 2 … ``LONGEST_FIGURE``
  notes stated at least three times in a row, each statement moved by the same step of the scale (not 0);
* :func:`bar_rhythm_similarity`: for each two successive whole bars of the same length, the share of their steps
  on which both or neither strike a note; the mean over the pairs;
* :func:`beats_struck`: the share of quarter-note beats (every ``steps_per_quarter`` steps of the bar) on which
  some note is struck;
* :func:`literal_loops`: the share of steps that end ``LOOP`` steps (a bar of 4/4) repeating literally, every
  pitch sounding and struck as it was, the steps some period of 1 … 2 × ``LOOP`` before them: a texture stuck in
  a loop, which Bach almost never writes and a sampler that reuses figures can fall into.

:func:`material_counts` measures one excerpt; pooled over pieces' 4-bar excerpts (as the judge cuts them) they
are ``music_statistics``' material figures and ``bach2 judge``'s table. Nothing depends on the key or the
register: moving a piece changes no figure. Written here, as neither music21 nor pretty_midi measures a
line's reuse of its own figures.
"""
import numpy as np

from bach2.music.key_finding import find_key, pitch_class_histogram, scale_steps
from bach2.music.pitch_names import pitch_class_of

EXCERPT_STEPS = 64        # 4 bars of 4/4 at 16ths: the excerpts the judge and the statistics measure
MOTIF = 4                 # notes of a motif: its 3 intervals come back
LONGEST_FIGURE = 8        # notes of the longest figure a sequence states
STATEMENTS = 3            # statements of a sequence, each moved by the same step
LOOP = 16                 # steps a literal repeat must last to count as a loop
#: material_counts' keys: (recurring, counted) pairs, pooled as shares
MATERIAL = {'top motifs recur, in the scale': ('top_recurring', 'top_motifs'),
            'bass motifs recur, exact': ('bass_recurring', 'bass_motifs'),
            'top notes in a sequence': ('top_in_sequence', 'top_notes'),
            'bass notes in a sequence': ('bass_in_sequence', 'bass_notes'),
            'bar-to-bar rhythm similarity': ('rhythm_agreeing', 'rhythm_steps'),
            'beats struck': ('beats_struck', 'beats'),
            'steps in literal loops': ('loop_steps', 'loop_checked')}


def outer_line(roll, struck, top):
    """``T × 128`` bool roll (column = MIDI pitch) and its onsets (``T × 128``: where a pitch starts or is struck
    again) → (steps, pitches) of the top (or bottom) voice's notes: its pitch at each sounding step, a new note
    where that pitch changes or is struck again."""
    steps = np.nonzero(roll.any(axis=1))[0]
    pitch = (roll.shape[1] - 1 - np.argmax(roll[steps, ::-1], axis=1)) if top else np.argmax(roll[steps], axis=1)
    new = np.concatenate([[True], (pitch[1:] != pitch[:-1]) | struck[steps[1:], pitch[1:]]]) if len(steps) else []
    return steps[new], pitch[new]


def exact(places):
    """Pitches or scale places (whole, halves, thirds) → int64 sixths, so that equal figures compare equal."""
    return np.rint(np.asarray(places, np.float64) * 6).astype(np.int64)


def recurrence(values, length=MOTIF):
    """A line's pitches (MIDI, or :func:`~bach2.music.key_finding.scale_steps`) → (notes whose ``length``-note
    figure recurs, figures counted): a figure, the intervals from one note to the next ``length − 1``, recurs
    where the same intervals start at another note at least ``length`` notes away."""
    intervals = exact(np.diff(values))
    n = len(values) - length + 1
    if n < 1:
        return 0, 0
    figures = np.lib.stride_tricks.sliding_window_view(intervals, length - 1)
    starts = {}
    for i, figure in enumerate(map(bytes, figures)):
        starts.setdefault(figure, []).append(i)
    recurring = sum(1 for i, figure in enumerate(map(bytes, figures))
                    if any(abs(i - j) >= length for j in starts[figure]))
    return recurring, n


def sequence_share(values, longest=LONGEST_FIGURE, statements=STATEMENTS):
    """A line's :func:`~bach2.music.key_finding.scale_steps` → (notes inside a sequence, notes): a figure of
    m = 2 … ``longest`` notes stated ``statements`` times or more in a row, each statement starting the same
    nonzero number of scale steps from the one before and moving by the same intervals."""
    values = exact(values)
    inside = np.zeros(len(values), bool)
    for m in range(2, longest + 1):
        for start in range(len(values) - statements * m + 1):
            units = values[start:start + statements * m].reshape(statements, m)
            moves = np.diff(units[:, 0])
            if moves[0] != 0 and (moves == moves[0]).all() and (np.diff(units, axis=1) == np.diff(units[0])).all():
                inside[start:start + statements * m] = True
    return int(inside.sum()), len(values)


def bar_rhythm_similarity(struck_steps, positions):
    """``T`` bool (some note struck) and ``T × 2`` bar positions → (agreeing steps, steps compared) over each two
    successive whole bars of one length: a step of one bar agrees with the same step of the next where both or
    neither strike."""
    positions = np.asarray(positions)
    starts = np.nonzero(positions[:, 0] == 0)[0]
    agreeing = compared = 0
    for a, b in zip(starts, starts[1:]):
        length = int(positions[a, 1])
        if b - a == length and b + length <= len(positions) and positions[b + length - 1, 0] == length - 1:
            agreeing += int((struck_steps[a:b] == struck_steps[b:b + length]).sum())
            compared += length
    return agreeing, compared


def beats_struck(struck_steps, positions, steps_per_quarter=4):
    """``T`` bool (some note struck) and ``T × 2`` bar positions → (beats struck, beats): a beat is a step whose
    place in its bar is a multiple of ``steps_per_quarter``."""
    beats = np.asarray(positions)[:, 0] % steps_per_quarter == 0
    return int((struck_steps & beats).sum()), int(beats.sum())


def literal_loops(roll, struck, length=LOOP):
    """``T × 128`` bool roll and onsets → (steps in a loop, steps checked): a step from ``length`` on is checked
    when some note is struck in the ``length`` steps up to it, and is in a loop when those steps repeat literally
    the ones some period of 1 … 2 × ``length`` steps before them."""
    texture = np.concatenate([roll, struck], axis=1)
    names = np.unique(texture, axis=0, return_inverse=True)[1].ravel()     # a number per distinct step
    T = len(names)
    ends = np.arange(length, T + 1)                                         # windows [end − length, end)
    checked = np.convolve(struck.any(axis=1), np.ones(length, int), 'valid') > 0
    looping = np.zeros(len(ends), bool)
    for period in range(1, min(2 * length, T - length) + 1):
        same = np.concatenate([np.zeros(period, int), names[period:] == names[:-period]])   # step t = t − period
        runs = np.convolve(same, np.ones(length, int), 'valid')            # per window: steps equal
        looping |= (runs == length) & (ends - length >= period)
    return int((looping & checked).sum()), int(checked.sum())


def material_counts(roll, struck, positions, steps_per_quarter=4):
    """One excerpt: ``T × 128`` bool roll, its ``T × 128`` onsets (where a pitch starts or is struck again) and
    ``T × 2`` bar positions → {count: int} (the pairs of :data:`MATERIAL`)."""
    histogram = pitch_class_histogram(roll)
    tonic, mode = find_key(histogram) if histogram.sum() else ('C', 'major')
    counts = {}
    for name, top in (('top', True), ('bass', False)):
        _, pitches = outer_line(roll, struck, top)
        steps = scale_steps(pitches, pitch_class_of(tonic), mode)
        counts[f'{name}_recurring'], counts[f'{name}_motifs'] = recurrence(steps if top else pitches)
        counts[f'{name}_in_sequence'], counts[f'{name}_notes'] = sequence_share(steps)
    onsets = struck.any(axis=1)
    counts['rhythm_agreeing'], counts['rhythm_steps'] = bar_rhythm_similarity(onsets, positions)
    counts['beats_struck'], counts['beats'] = beats_struck(onsets, positions, steps_per_quarter)
    counts['loop_steps'], counts['loop_checked'] = literal_loops(roll, struck)
    return counts


def material_shares(counts):
    """Pooled :func:`material_counts` (a Counter) → {measure of :data:`MATERIAL`: share, None where none was
    counted}."""
    return {measure: counts[part] / counts[whole] if counts[whole] else None
            for measure, (part, whole) in MATERIAL.items()}
