"""Piano-roll pictures of pitch matrices (PNG, written atomically), with the stage-2 chords under them.

Chord labels are the chords of :mod:`bach2.chord_sequence`, one per quarter
note, their roots spelled in the piece's key (E♭, B♭, A♭m in F minor; found from
the notes unless given); only changes are written, in up to :data:`CHORD_ROWS` staggered rows, and
a label that would overlap its neighbours is left out (its change is still
ticked), so they stay legible at any length. A thin line marks each bar, where the piece's bar
positions (:mod:`bach2.music.metre`, from its time signatures) put it; bars are numbered from 1, a pickup
(a short first bar) 0, and the axis names the usual bar's metre.
"""
import dataclasses
import textwrap

import numpy as np

from bach2.chord_sequence import CHORD_NAMES, NO_CHORD, beat_profiles, chord_indices
from bach2.music.key_finding import find_key, key_spelling, pitch_class_histogram
from bach2.music.metre import fit_positions, regular_positions, usual_bar
from bach2.music.pitch_names import PITCH_CLASS_NAMES, pitch_class_of
from bach2.render.scores import time_signature_of
from bach2.safe_io import save_png
from bach2.time_series_to_pitch_matrix import LOWEST_PITCH, pitch_matrix_to_roll

#: Chord quality → the suffix of its symbol ('D#', 'minor') → 'D#m'.
QUALITY_SYMBOLS = {'major': '', 'minor': 'm', 'minor_harmonic': 'm(maj7)', 'minor_melodic': 'm6',
                   'minor_diminished': 'dim7', 'minor_half_diminished': 'm7b5', 'major_augmented': '+',
                   'dominant': '7', 'dominant_altered': '7alt', 'dominant_sharp_11': '7#11'}
CHORD_ROWS = 3
CHORD_FONT_POINTS = 7


def chord_symbol(index, key=None):
    """Chord index (into :data:`~bach2.chord_sequence.CHORD_NAMES`) → 'D#m', 'G7' …, the root spelled in
    ``key`` (('F', 'minor'): 'Ebm'; None: as the journal's vocabulary names it); NO_CHORD → ''."""
    if index == NO_CHORD:
        return ''
    root, quality = CHORD_NAMES[index]
    if key is not None:
        root = key_spelling(key)[pitch_class_of(root)]
    return root + QUALITY_SYMBOLS[quality]


def progression_text(chords, per_line=16, key=None):
    """Chord indices (NO_CHORD = −1) → symbols spelled in ``key`` (:func:`chord_symbol`), one per quarter
    note, ``per_line`` per line ('-' = none)."""
    symbols = [chord_symbol(int(c), key) or '-' for c in chords]
    return '\n'.join(' '.join(symbols[i:i + per_line]) for i in range(0, len(symbols), per_line))


def pitch_matrix_chords(pitch_matrix, lowest_pitch=LOWEST_PITCH, steps_per_quarter=4):
    """``T × P`` pitch matrix → one stage-2 chord index per quarter note (``⌈T / steps_per_quarter⌉`` int16)."""
    roll = pitch_matrix_to_roll(pitch_matrix, lowest_pitch)
    return chord_indices(beat_profiles(roll, steps_per_quarter))


def chord_changes(chords):
    """Chord per quarter note → [(quarter index, chord index)] where the chord changes (silence included)."""
    chords = np.asarray(chords)
    changed = np.nonzero(np.concatenate([[True], chords[1:] != chords[:-1]]))[0]
    return [(int(q), int(chords[q])) for q in changed]


def place_labels(changes, quarters_per_inch, rows=CHORD_ROWS, points=CHORD_FONT_POINTS, key=None):
    """[(quarter, chord)] → [(quarter, row, symbol spelled in ``key``)]: each label on the first row where it
    does not overlap the one before it (text width estimated at 0.7 × font size per character); else left out."""
    row_ends = [-np.inf] * rows
    placed = []
    for quarter, chord in changes:
        symbol = chord_symbol(chord, key)
        if not symbol:
            continue
        width = (0.7 * points * (len(symbol) + 1) + 2) / 72 * quarters_per_inch
        for row in range(rows):
            if quarter >= row_ends[row]:
                placed.append((quarter, row, symbol))
                row_ends[row] = quarter + width
                break
    return placed


@dataclasses.dataclass
class RollLabels:
    """What a piano roll shows besides the notes.

    ``primer_steps`` > 0 shades the first steps (the primer a model continued). ``chords``: one chord
    index per quarter note to label under the roll; ``'auto'`` computes them from the matrix
    (:func:`pitch_matrix_chords`); None: no chord row. ``marks``: [(step, label)], a dashed line at each
    step, labelled at the top (e.g. a fugue's entries). ``key``: the piece's, e.g. ('F', 'minor'), in which
    the chords are spelled; None: found from the notes.
    """
    title: str = ''
    primer_steps: int = 0
    chords: object = None
    marks: tuple = ()
    key: tuple = None


def bar_lines(positions):
    """``T × 2`` bar positions (:mod:`bach2.music.metre`) → the steps where a bar starts (position 0),
    ``B`` int64, ascending (none at the first step of a piece that starts inside a bar)."""
    return np.flatnonzero(np.asarray(positions)[:, 0] == 0)


def bar_axis(positions, steps_per_quarter=4, most_numbers=24):
    """``T × 2`` bar positions → (steps of the numbered bar lines, their numbers, the axis label such as
    'bar (3/4, 12 steps)'). Bars count from 1; a pickup, a first bar shorter than the usual one
    (:func:`~bach2.music.metre.usual_bar`), is bar 0. Every 1st, 2nd, 5th, 10th … bar is numbered, at most
    ``most_numbers``."""
    starts = bar_lines(positions)
    bar = usual_bar(positions)
    first = 0 if len(starts) and starts[0] == 0 and positions[0][1] < bar else 1
    every = next((k for k in (1, 2, 5, 10, 20, 50, 100) if len(starts) <= most_numbers * k),
                 -(-len(starts) // most_numbers))
    numbered = np.arange(0, len(starts), every)
    numerator, denominator = time_signature_of(bar, steps_per_quarter)
    return starts[numbered], [str(k + first) for k in numbered], f'bar ({numerator}/{denominator}, {bar} steps)'


def plot_piano_roll(pitch_matrix, path, lowest_pitch=LOWEST_PITCH, positions=None, steps_per_quarter=4,
                    labels=None):
    """``T × P`` pitch matrix → PNG at ``path``: steps across with a line at each bar, bars numbered from 1,
    pitch up, C's named (C4 = middle C).

    ``positions``: the ``T × 2`` bar positions of its rows (:mod:`bach2.music.metre`; cut or continued to T),
    None = bars of 4/4 from the first row. ``labels``: :class:`RollLabels` (title, primer, chords, marks).
    """
    import matplotlib          # lazy: matplotlib takes a second to import
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    labels = labels or RollLabels()
    matrix = np.asarray(pitch_matrix) > 0
    n_steps, n_pitches = matrix.shape
    positions = (regular_positions(n_steps, 4 * steps_per_quarter) if positions is None
                 else fit_positions(positions, n_steps))
    chords = labels.chords
    if isinstance(chords, str) and chords == 'auto':
        chords = pitch_matrix_chords(matrix, lowest_pitch, steps_per_quarter)
    width = min(24, 4 + n_steps / 60)
    if chords is None:
        figure, axis = plt.subplots(figsize=(width, 4.5))
    else:
        figure, (axis, chord_axis) = plt.subplots(2, 1, figsize=(width, 5.3), sharex=True,
                                                  gridspec_kw={'height_ratios': [4.5, 0.8]})
    axis.imshow(matrix.T, origin='lower', aspect='auto', cmap='Greys', interpolation='nearest',
                extent=(0, n_steps, -0.5, n_pitches - 0.5))
    if labels.primer_steps:
        axis.axvspan(0, labels.primer_steps, color='tab:blue', alpha=0.12, label='primer')
        axis.legend(loc='upper right')
    for k, (step, label) in enumerate(labels.marks):        # labels on two rows, so that neighbours do not overlap
        axis.axvline(step, color='tab:red', linestyle='--', linewidth=0.8)
        axis.text(step, n_pitches - 1 - 4 * (k % 2), ' ' + label, color='tab:red', fontsize=8, va='top')
    c_columns = [j for j in range(n_pitches) if (lowest_pitch + j) % 12 == 0]
    axis.set_yticks(c_columns)
    axis.set_yticklabels([f'{PITCH_CLASS_NAMES[0]}{(lowest_pitch + j) // 12 - 1}' for j in c_columns])
    axis.set_ylabel('pitch')
    axis.set_title('\n'.join(textwrap.wrap(labels.title, max(20, int((width - 1.2) * 72 / 7.5)))))   # chars that fit
    bottom = axis if chords is None else chord_axis
    _draw_bars(axis, bottom, positions, steps_per_quarter)
    if chords is not None:
        chord_axis.set_ylabel('chord', rotation=0, ha='right', va='center')
    figure.tight_layout()
    if chords is not None:             # after the layout: labels are placed by the axis' real width
        _draw_chords(chord_axis, chords, steps_per_quarter, n_steps, labels.key or roll_key(matrix, lowest_pitch))
    return save_png(figure, path)


def roll_key(pitch_matrix, lowest_pitch=LOWEST_PITCH):
    """The key of a ``T × P`` pitch matrix's notes (:func:`~bach2.music.key_finding.find_key`); C major if silent."""
    histogram = pitch_class_histogram(pitch_matrix_to_roll(pitch_matrix, lowest_pitch))
    return find_key(histogram) if histogram.any() else ('C', 'major')


def _draw_bars(axis, bottom, positions, steps_per_quarter):
    """A line on ``axis`` at each bar of ``positions`` (``T × 2``); on ``bottom`` (x in steps) the bars
    numbered and the metre named (:func:`bar_axis`)."""
    for step in bar_lines(positions):
        axis.axvline(step, color='0.85', linewidth=0.5, zorder=0)
    steps, numbers, label = bar_axis(positions, steps_per_quarter)
    bottom.set_xticks(steps)
    bottom.set_xticklabels(numbers)
    bottom.set_xlim(0, len(positions))
    bottom.set_xlabel(label)


def _draw_chords(axis, chords, steps_per_quarter, n_steps, key):
    """Chord symbols spelled in ``key`` at their changes on ``axis`` (x in steps), a tick at every change."""
    changes = chord_changes(chords)
    axis_inches = axis.get_position().width * axis.figure.get_figwidth()
    quarters_per_inch = n_steps / steps_per_quarter / axis_inches
    for quarter, chord in changes:
        if chord != NO_CHORD:
            axis.axvline(quarter * steps_per_quarter, color='0.75', linewidth=0.6)
    for quarter, row, symbol in place_labels(changes, quarters_per_inch, key=key):
        axis.text(quarter * steps_per_quarter, CHORD_ROWS - 0.5 - row, ' ' + symbol, fontsize=CHORD_FONT_POINTS,
                  va='center', ha='left', clip_on=True)
    axis.set_ylim(0, CHORD_ROWS)
    axis.set_yticks([])
