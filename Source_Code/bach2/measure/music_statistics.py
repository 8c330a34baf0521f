"""Musical statistics of a set of pieces, and how far one set is from another (stage 5).

A piece is a ``T × P`` pitch matrix (column j = MIDI ``lowest_pitch + j``,
one row per step, ``steps_per_quarter`` rows per quarter note). Statistics of a
set pool its pieces:

* ``pitch_class_histogram``: share of sounding steps per pitch class (12, sums to 1);
* ``in_key``: share of sounding steps whose pitch is in the scale of the piece's detected key;
* ``chord_transitions``: distribution of consecutive chord changes as (quality, quality,
  root interval) — key-free, from stage 2's chord finder;
* ``polyphony``: mean pitches sounding per non-silent step;
* ``note_density``: note onsets per quarter note (a pitch that turns on, or is struck again where the
  piece comes with its onset plane);
* ``pitch_range``: mean over pieces of highest − lowest pitch, in semitones;
* ``repetition``: share of steps equal to the step before (held chords, repeated notes);
* ``empty_beats``: share of quarter notes in which nothing sounds;
* ``sounding_notes``: distribution of the number of pitches sounding per step (0 … 5, then '6+');
* ``onset_positions``: distribution of note onsets over the positions of the bar, keyed
  'position/steps in the bar' ('4/16': the second beat of 4/4 at 16ths) — only for pieces
  given with their bar positions (:mod:`bach2.music.metre`), else empty;
* ``note_durations``: distribution of note lengths in steps (:data:`DURATION_BINS`); without an onset
  plane a note lasts as long as its pitch sounds (the pitch matrix's legato reading);
* the material figures of :mod:`bach2.measure.motifs` (:data:`~bach2.measure.motifs.MATERIAL`: motifs that
  recur in the top and bass lines, notes in sequences, bar-to-bar rhythm, beats struck), each pooled over the
  pieces' 4-bar excerpts (bars of 16 steps where a piece comes without bar positions); None where a set has
  nothing to count.

:func:`compare` sets the statistics of generated pieces beside the corpus's:
total-variation distance for the two distributions, the difference for the rest.
"""
import collections
import functools
import itertools

import numpy as np

from bach2.chord_sequence import CHORD_NAMES, NO_CHORD, beat_profiles, chord_indices
from bach2.data.training_windows import piece_kind
from bach2.measure.motifs import EXCERPT_STEPS, MATERIAL, material_counts, material_shares
from bach2.music.key_finding import HARMONIC_MINOR_SCALE, MAJOR_SCALE, find_key, pitch_class_histogram
from bach2.music.metre import regular_positions
from bach2.music.pitch_names import PITCH_CLASS_NAMES, pitch_class_of
from bach2.time_series_to_pitch_matrix import pitch_matrix_to_roll, pitch_matrix_to_time_series

SCALAR_STATISTICS = ('in_key', 'polyphony', 'note_density', 'pitch_range', 'repetition', 'empty_beats')
DISTRIBUTIONS = ('pitch_class_histogram', 'chord_transitions', 'sounding_notes', 'onset_positions', 'note_durations')
MOST_NOTES = 6            # sounding_notes pools 6 and more
DURATION_BINS = {'1': 1, '2': 2, '3': 3, '4': 4, '5-6': 6, '7-8': 8, '9-12': 12, '13-16': 16, '17+': None}  # ≤ steps


def duration_bin(steps):
    """A note length in steps → its key in :data:`DURATION_BINS`."""
    return next(key for key, most in DURATION_BINS.items() if most is None or steps <= most)


def piece_counts(pitch_matrix, lowest_pitch, steps_per_quarter, positions=None, onsets=None, material=True):
    """One piece → the raw counts that :func:`music_statistics` pools (dict of numbers and Counters);
    ``positions``: its ``T × 2`` bar positions, or None; ``onsets``: its ``T × P`` onset plane (1 where a
    pitch is struck), or None (a note lasts while its pitch sounds); ``material``: whether to count the
    material figures (most of the cost on a 4-bar excerpt; without them they pool as None)."""
    roll = pitch_matrix_to_roll(pitch_matrix, lowest_pitch).astype(bool)     # T × 128
    sounding = roll.any(axis=1)
    histogram = pitch_class_histogram(roll)
    tonic_name, mode = find_key(histogram) if histogram.sum() else ('C', 'major')
    tonic = pitch_class_of(tonic_name)
    scale = {(tonic + degree) % 12 for degree in (MAJOR_SCALE if mode == 'major' else HARMONIC_MINOR_SCALE)}
    pitch_classes = np.nonzero(roll)[1] % 12
    struck = np.zeros_like(roll) if onsets is None else pitch_matrix_to_roll(onsets, lowest_pitch).astype(bool)
    notes = pitch_matrix_to_time_series(pitch_matrix, step=1, lowest_pitch=0, onsets=onsets)
    onsets = roll & (~np.vstack([np.zeros((1, 128), bool), roll[:-1]]) | struck)
    pitches = np.nonzero(roll.any(axis=0))[0]
    chords = chord_indices(beat_profiles(roll, steps_per_quarter)) if len(roll) else np.zeros(0, int)
    sounding_notes = np.minimum(roll.sum(axis=1), MOST_NOTES)
    onset_positions, figures = collections.Counter(), collections.Counter()
    bars = regular_positions(len(roll), 4 * steps_per_quarter) if positions is None else np.asarray(positions)
    for start in range(0, len(roll) - EXCERPT_STEPS + 1, EXCERPT_STEPS) if material else ():
        excerpt = slice(start, start + EXCERPT_STEPS)
        if roll[excerpt].any():
            figures.update(material_counts(roll[excerpt], onsets[excerpt], bars[excerpt], steps_per_quarter))
    if positions is not None:
        for (position, steps_per_bar), n in zip(np.asarray(positions)[:len(roll)], onsets.sum(axis=1)):
            if n:
                onset_positions[f'{position}/{steps_per_bar}'] += int(n)
    return {
        'pitch_classes': np.bincount(pitch_classes, minlength=12),
        'in_key': int(np.isin(pitch_classes, list(scale)).sum()), 'notes_sounding': len(pitch_classes),
        'sounding_steps': int(sounding.sum()), 'steps': len(roll),
        'onsets': int(onsets.sum()), 'quarters': -(-len(roll) // steps_per_quarter),
        'range': int(pitches[-1] - pitches[0]) if len(pitches) else 0,
        'repeats': int((roll[1:] == roll[:-1]).all(axis=1).sum()),
        'empty_beats': int(sum(chord == NO_CHORD for chord in chords)),
        'transitions': chord_transitions(chords),
        'sounding_notes': collections.Counter({str(n) if n < MOST_NOTES else f'{MOST_NOTES}+': int(count)
                                               for n, count in zip(*np.unique(sounding_notes, return_counts=True))}),
        'onset_positions': onset_positions,
        'note_durations': collections.Counter(duration_bin(duration) for _, _, duration in notes),
        'material': figures,
    }


def chord_transitions(chords):
    """Chord indices per quarter note → Counter of changes ``'major→minor +9'`` (quality, quality, root interval)."""
    changes = collections.Counter()
    previous = None
    for chord in chords:
        if chord == NO_CHORD:
            continue
        if previous is not None and chord != previous:
            (root_a, quality_a), (root_b, quality_b) = CHORD_NAMES[previous], CHORD_NAMES[chord]
            interval = (PITCH_CLASS_NAMES.index(root_b) - PITCH_CLASS_NAMES.index(root_a)) % 12
            changes[f'{quality_a}→{quality_b} +{interval}'] += 1
        previous = chord
    return changes


def music_statistics(pitch_matrices, lowest_pitch, steps_per_quarter=4, positions=None, onsets=None):
    """Pieces (``T × P`` each; ``positions``: their bar positions, ``onsets``: their onset planes, each a
    list or None) → dict of the statistics in the module docstring, pooled over the pieces."""
    positions = positions or [None] * len(pitch_matrices)
    onsets = onsets or [None] * len(pitch_matrices)
    return pooled_statistics([piece_counts(matrix, lowest_pitch, steps_per_quarter, piece_positions, piece_onsets)
                              for matrix, piece_positions, piece_onsets in zip(pitch_matrices, positions, onsets)])


def material_statistics(pieces, lowest_pitch, steps_per_quarter=4):
    """Pieces [(name, ``T × P``, positions or None, onsets or None)], as the judge reads them → {measure of
    :data:`~bach2.measure.motifs.MATERIAL`: share or None}, pooled over their 4-bar excerpts."""
    found = music_statistics([matrix for _, matrix, *_ in pieces], lowest_pitch, steps_per_quarter,
                             [positions for _, _, positions, _ in pieces], [onsets for *_, onsets in pieces])
    return {measure: found[measure] for measure in MATERIAL}


def material_by_kind(pieces, lowest_pitch, steps_per_quarter=4):
    """Pieces as :func:`material_statistics` reads them, named as the built-in corpus names them → {kind
    (:func:`~bach2.data.training_windows.piece_kind`): :func:`material_statistics` of its pieces}, fugues,
    preludes, inventions, then any other."""
    kinds = collections.defaultdict(list)
    for piece in pieces:
        kinds[piece_kind(piece[0])].append(piece)
    order = ['fugue', 'prelude', 'invention', 'other']
    return {kind: material_statistics(kinds[kind], lowest_pitch, steps_per_quarter) for kind in order if kinds[kind]}


def pooled_statistics(counts):
    """:func:`piece_counts` of some pieces (a bootstrap may repeat one) → the dict of :func:`music_statistics`."""
    total = collections.Counter()
    pooled = {name: collections.Counter() for name in ('transitions', 'sounding_notes', 'onset_positions',
                                                       'note_durations', 'material')}
    histogram = np.zeros(12)
    for piece in counts:
        histogram += piece['pitch_classes']
        for name, counter in pooled.items():
            counter.update(piece[name])
        total.update({key: value for key, value in piece.items() if isinstance(value, int)})
    return {
        'pieces': len(counts), 'steps': total['steps'],
        'pitch_class_histogram': (histogram / max(histogram.sum(), 1)).tolist(),
        'in_key': total['in_key'] / max(total['notes_sounding'], 1),
        'polyphony': total['notes_sounding'] / max(total['sounding_steps'], 1),
        'note_density': total['onsets'] / max(total['quarters'], 1),
        'pitch_range': total['range'] / max(len(counts), 1),
        'repetition': total['repeats'] / max(total['steps'] - len(counts), 1),
        'empty_beats': total['empty_beats'] / max(total['quarters'], 1),
        'chord_transitions': shares(pooled['transitions']),
        'sounding_notes': shares(pooled['sounding_notes']),
        'onset_positions': shares(pooled['onset_positions']),
        'note_durations': shares(pooled['note_durations']),
        **material_shares(pooled['material']),
    }


def shares(counter):
    """Counter → {key: share}, most common first ({} when empty)."""
    n = sum(counter.values())
    return {key: count / n for key, count in counter.most_common()}


def total_variation(p, q):
    """Half the L1 distance of two distributions given as lists (aligned) or dicts (by key): 0 … 1."""
    if isinstance(p, dict):
        keys = set(p) | set(q)
        return 0.5 * sum(abs(p.get(key, 0.0) - q.get(key, 0.0)) for key in keys)
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())


def compare(pieces, corpus):
    """Two :func:`music_statistics` dicts → rows ``(name, pieces, corpus, distance)``.

    Distributions: total-variation distance (left out where either side has none, e.g. onset positions of
    pieces without bar positions); scalars: pieces − corpus.
    """
    rows = [(name, None, None, total_variation(pieces[name], corpus[name])) for name in DISTRIBUTIONS
            if pieces[name] and corpus[name]]
    rows += [(name, pieces[name], corpus[name], pieces[name] - corpus[name])
             for name in SCALAR_STATISTICS + tuple(MATERIAL) if pieces[name] is not None and corpus[name] is not None]
    return rows


def format_table(rows):
    """Rows of :func:`compare` → a plain-text table."""
    width = max([24] + [len(name) + 2 for name, *_ in rows])
    lines = [f'{"statistic":<{width}}{"pieces":>11}{"corpus":>11}{"distance":>11}']
    for name, ours, theirs, distance in rows:
        cells = ['' if value is None else f'{value:.3f}' for value in (ours, theirs)]
        lines.append(f'{name:<{width}}{cells[0]:>11}{cells[1]:>11}{distance:>+11.3f}')
    return '\n'.join(lines)


@functools.lru_cache(maxsize=None)
def _parallels(upper, upper_next, lower, lower_next):
    """music21's verdict on two voices moving (MIDI numbers, spelled as music21 spells them) →
    (parallel or antiparallel fifth, parallel octave); cached, as a piece repeats its motions."""
    from music21 import note, voiceLeading
    quartet = voiceLeading.VoiceLeadingQuartet(*(note.Note(midi=p) for p in (upper, upper_next, lower, lower_next)))
    return quartet.parallelFifth(), quartet.parallelOctave()


def parallel_motion(lines, lowest_pitch, n_pitches):
    """Parallel fifths and octaves between voices, as music21's ``VoiceLeadingQuartet`` finds them.

    ``lines``: ``n_voices × T`` columns (P = rest; one voice per row, e.g. from
    :func:`bach2.compose.harmonize.separate_voices`). A *voice pair* is two voices at two successive steps where
    both sound and at least one changes pitch. → {'fifths', 'octaves', 'pairs', 'per_100_pairs': fifths and
    octaves per 100 pairs}. Spelling comes from the MIDI numbers (music21's default), the same for every piece.
    """
    lines = np.asarray(lines)
    fifths = octaves = pairs = 0
    for upper, lower in itertools.combinations(lines, 2):
        for t in range(1, lines.shape[1]):
            a, b, c, d = int(upper[t - 1]), int(upper[t]), int(lower[t - 1]), int(lower[t])
            if max(a, b, c, d) >= n_pitches or (a == b and c == d):
                continue
            fifth, octave = _parallels(a + lowest_pitch, b + lowest_pitch, c + lowest_pitch, d + lowest_pitch)
            fifths, octaves, pairs = fifths + fifth, octaves + octave, pairs + 1
    return {'fifths': fifths, 'octaves': octaves, 'pairs': pairs,
            'per_100_pairs': 100 * (fifths + octaves) / pairs if pairs else float('nan')}
