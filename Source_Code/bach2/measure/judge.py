"""Does it sound like Bach? Two measurements that never look inside our models (issue 15).

* :func:`judge_accuracy`: a judge (logistic regression on the style features of
  :func:`excerpt_features`) learns to tell 4-bar excerpts of held-out Bach from
  excerpts of generated pieces, scored by cross-validation grouped by piece, so
  that it must learn style, not recognise pieces. 0.5: it cannot tell them
  apart; 1.0: it always can. Its largest weights say what gives the pieces away.
* :func:`longest_copy`: the longest passage of a piece that a corpus piece holds
  verbatim in some transposition. Written here, as no library searches 2-D binary
  matrices under transposition: a binary search on the length over polynomial
  hashes of row windows (:class:`CopyIndex`), each hit checked row by row.

Pieces are ``T × P`` uint8 pitch matrices (column j = MIDI ``lowest_pitch + j``,
4 steps per quarter), each given with its ``T × 2`` bar positions
(:mod:`bach2.music.metre`) or None (then bars of 16 steps from its first step), and
its ``T × P`` onset plane (1 where a pitch is struck) or None (a note lasts
while its pitch sounds): the judge hears a repeated note as a listener does
where the piece says it was struck again.
:func:`bach_split` and :func:`load_generated` read the two sides (held-out and
training Bach; generated pieces) for ``benchmarks/judge_pieces.py`` and the CLI.
"""
import dataclasses
import pathlib
import typing

import numpy as np
from tqdm import tqdm

from bach2.common import CorpusError
from bach2.data.prepare import ONSETS
from bach2.data.training_set import prepared_geometry, records, split_pieces
from bach2.data.training_windows import bwv_number
from bach2.measure.evaluate import load_pieces
from bach2.measure.motifs import EXCERPT_STEPS, outer_line
from bach2.measure.music_statistics import DURATION_BINS, MOST_NOTES, piece_counts
from bach2.music.geometry import Geometry
from bach2.music.key_finding import find_key
from bach2.music.metre import regular_positions
from bach2.music.pitch_names import pitch_class_of
from bach2.safe_io import load_pickle
from bach2.time_series_to_pitch_matrix import JOURNAL_STEP_TICKS, LOWEST_PITCH

STEPS_PER_QUARTER = 4
SLOTS = 16                               # onsets by position in the bar, the bar cut in 16 slots
LEAP = 12                                # melodic intervals are clipped to ± an octave
FEATURE_GROUPS = {
    'top voice interval': [f'{k:+d}' for k in range(-LEAP, LEAP + 1)],      # successive notes of the highest voice
    'bass interval': [f'{k:+d}' for k in range(-LEAP, LEAP + 1)],           # … and of the lowest
    'above bass': [str(k) for k in range(12)],                              # other sounding notes, mod 12
    'sounding notes': [str(n) for n in range(MOST_NOTES)] + [f'{MOST_NOTES}+'],   # per step
    'onset slot': [f'{s}/{SLOTS}' for s in range(SLOTS)],
    'duration': list(DURATION_BINS),                                        # note lengths in steps
    'pitch class from tonic': [str(k) for k in range(12)],                  # of the excerpt's own key
    '': ['minor', 'in key', 'steps with onsets', 'onsets per step', 'range (octaves)', 'repeated steps'],
}
FEATURE_NAMES = tuple(f'{group} {label}'.strip() for group, labels in FEATURE_GROUPS.items() for label in labels)


def normalised(counts):
    """Counts → shares summing to 1 (all 0 when there is nothing to count)."""
    counts = np.asarray(counts, np.float64)
    return counts / max(counts.sum(), 1)


def voice_intervals(matrix, onsets, top):
    """Signed intervals (semitones, clipped to ± :data:`LEAP`) between successive notes of the top (or bottom)
    voice (:func:`~bach2.measure.motifs.outer_line`)."""
    return np.clip(np.diff(outer_line(matrix, onsets, top)[1]), -LEAP, LEAP)


def excerpt_features(matrix, positions=None, lowest_pitch=LOWEST_PITCH, onsets=None):
    """``T × P`` excerpt (and its ``T × 2`` bar positions and ``T × P`` onset plane, each or None) →
    ``len(FEATURE_NAMES)`` float64.

    Histograms are shares; nothing depends on the key, the register or T. The pitch-class,
    sounding-note, onset-position, note-length, range and repetition counts are
    :func:`~bach2.measure.music_statistics.piece_counts`'s.
    """
    matrix = np.asarray(matrix).astype(bool)
    n = len(matrix)
    positions = regular_positions(n, SLOTS) if positions is None else positions
    counts = piece_counts(matrix.astype(np.uint8), lowest_pitch, STEPS_PER_QUARTER, positions, onsets,
                          material=False)        # the judge's features leave the material out
    struck = np.zeros_like(matrix) if onsets is None else np.asarray(onsets).astype(bool)
    onsets = matrix & (~np.vstack([np.zeros((1, matrix.shape[1]), bool), matrix[:-1]]) | struck)
    step, pitch = np.nonzero(matrix)
    bass = np.argmax(matrix, axis=1)[step]
    slots, sounding = np.zeros(SLOTS), np.zeros(MOST_NOTES + 1)
    for key, count in counts['onset_positions'].items():
        position, steps_per_bar = (int(x) for x in key.split('/'))
        slots[position * SLOTS // steps_per_bar] += count
    for key, count in counts['sounding_notes'].items():
        sounding[int(key.rstrip('+'))] += count
    tonic, mode = find_key(counts['pitch_classes']) if len(step) else ('C', 'major')
    return np.concatenate([
        normalised(np.bincount(voice_intervals(matrix, onsets, True) + LEAP, minlength=2 * LEAP + 1)),
        normalised(np.bincount(voice_intervals(matrix, onsets, False) + LEAP, minlength=2 * LEAP + 1)),
        normalised(np.bincount((pitch - bass)[pitch != bass] % 12, minlength=12)),
        normalised(sounding), normalised(slots),
        normalised([counts['note_durations'][key] for key in DURATION_BINS]),
        normalised(np.roll(counts['pitch_classes'], -pitch_class_of(tonic))),
        [mode == 'minor', counts['in_key'] / max(counts['notes_sounding'], 1), onsets.any(axis=1).mean(),
         onsets.sum() / n, counts['range'] / 12, counts['repeats'] / max(n - 1, 1)]])


def excerpts(pieces, steps=EXCERPT_STEPS):
    """Pieces [(``T × P``, ``T × 2`` positions or None[, ``T × P`` onsets or None])] → [(piece index, excerpt,
    its positions or None, its onsets or None)]: non-overlapping windows of ``steps`` from each piece's first
    step, all-silent ones and the short tail left out."""
    cut = lambda array, s: None if array is None else array[s:s + steps]          # noqa: E731
    return [(i, matrix[s:s + steps], cut(positions, s), cut(onsets[0] if onsets else None, s))
            for i, (matrix, positions, *onsets) in enumerate(pieces)
            for s in range(0, len(matrix) - steps + 1, steps) if matrix[s:s + steps].any()]


@dataclasses.dataclass(frozen=True)
class JudgeConfig:
    """How the judge is trained and scored (:func:`judge_accuracy`)."""
    steps: int = EXCERPT_STEPS     # steps of one excerpt
    folds: int = 5                 # cross-validation folds, none splitting a group
    C: float = 0.1                 # inverse strength of the logistic regression's L2 penalty
    seed: int = 0                  # which excerpts of the larger side are kept, and the folds
    top: int = 8                   # how many of the largest weights to report


def judge_accuracy(generated, bach, lowest_pitch=LOWEST_PITCH, groups=None, config=JudgeConfig()):
    """How well a judge tells excerpts of ``generated`` from those of ``bach`` (both [(``T × P``, positions or
    None[, onsets or None])]) → dict.

    ``groups``: (generated groups, bach groups), a label per piece (e.g. its BWV number: versions of one work
    stay together), by default each piece its own. Both sides are cut into :func:`excerpts` of ``config.steps``,
    the larger subsampled (``config.seed``) to the size of the smaller, so chance is 0.5. The judge,
    standardised features and logistic regression of inverse strength ``config.C``, is scored by
    ``config.folds``-fold cross-validation whose folds never split a group. → ``accuracy`` (mean over folds),
    ``accuracy_std``, ``fold_accuracies``, ``excerpts`` (per side), ``pieces`` (per side, with an excerpt),
    ``top_features``: [(name, weight)], the ``config.top`` largest weights of the judge fitted on everything,
    > 0 pointing to 'generated'.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    rng = np.random.default_rng(config.seed)
    sides = [excerpts(pieces, config.steps) for pieces in (bach, generated)]
    n = min(len(side) for side in sides)
    if n < config.folds:
        raise ValueError(f'{n} non-silent excerpts of {config.steps} steps on one side: '
                         f'too few for {config.folds} folds')
    X, y, labels, used = [], [], [], []
    for label, (side, side_groups) in enumerate(zip(sides, (groups or (None, None))[::-1])):
        chosen = [side[i] for i in np.sort(rng.choice(len(side), n, replace=False))]
        used.append(len({piece for piece, *_ in chosen}))
        for piece, matrix, positions, onsets in chosen:
            X.append(excerpt_features(matrix, positions, lowest_pitch, onsets))
            y.append(label)
            labels.append(f'{label}:{piece if side_groups is None else side_groups[piece]}')
    X, y, group_ids = np.array(X), np.array(y), np.unique(labels, return_inverse=True)[1]
    judge = make_pipeline(StandardScaler(), LogisticRegression(C=config.C, solver='liblinear'))
    scores = cross_val_score(judge, X, y, groups=group_ids,
                             cv=StratifiedGroupKFold(config.folds, shuffle=True, random_state=config.seed))
    weights = judge.fit(X, y)[-1].coef_[0]
    return {'accuracy': float(scores.mean()), 'accuracy_std': float(scores.std()),
            'fold_accuracies': scores.tolist(), 'excerpts': n,
            'pieces': dict(zip(('bach', 'generated'), used)),
            'top_features': [(FEATURE_NAMES[i], float(weights[i])) for i in np.argsort(-np.abs(weights))[:config.top]]}


B = np.uint64(0x9E3779B97F4A7C15)                     # odd, hence invertible mod 2⁶⁴
B_INVERSE = np.uint64(pow(int(B), -1, 2 ** 64))


def hash_prefixes(matrix, weights, invalid=None):
    """``T × P`` → three ``T + 1`` prefix sums, from which :func:`window_hashes` reads windows of any length:
    of row hash · B^−(t+1) (uint64, mod 2⁶⁴), of sounding rows, of ``invalid`` rows (``T`` bool, or None)."""
    with np.errstate(over='ignore'):
        rows = matrix.astype(np.uint64) @ weights
        hashes = np.concatenate([[np.uint64(0)], np.cumsum(rows * np.cumprod(np.full(len(matrix), B_INVERSE)))])
    sounding = np.concatenate([[0], np.cumsum(matrix.any(axis=1))])
    bad = np.concatenate([[0], np.cumsum(np.zeros(len(matrix), bool) if invalid is None else invalid)])
    return hashes, sounding, bad


def window_hashes(prefixes, length):
    """:func:`hash_prefixes` → (hash of each window of ``length`` rows, ``T − length + 1`` uint64:
    Σᵢ row_{s+i} · B^−(i+1); usable, bool: neither all silent nor holding an invalid row)."""
    hashes, sounding, bad = prefixes
    with np.errstate(over='ignore'):
        scale = np.cumprod(np.concatenate([[np.uint64(1)], np.full(max(len(hashes) - length - 1, 0), B)]))  # B^s
        found = (hashes[length:] - hashes[:-length]) * scale[:len(hashes) - length]
    return found, (sounding[length:] > sounding[:-length]) & (bad[length:] == bad[:-length])


class Copy(typing.NamedTuple):
    """A copied passage: ``steps`` long, at ``corpus_start`` in corpus piece ``corpus_piece`` (index) and at
    ``piece_start`` in the piece, which holds it ``shift`` semitones higher."""
    steps: int
    corpus_piece: int = -1
    corpus_start: int = -1
    shift: int = 0
    piece_start: int = -1


class CopyIndex:
    """Hashes of the corpus pieces' row windows (untransposed), per window length, made when first asked for.

    A row's hash is the sum of a random 64-bit number per sounding column; a window's, the polynomial
    Σᵢ row_i · B^−(i+1) mod 2⁶⁴ (:func:`window_hashes`). Memory: 16 bytes per corpus row and length asked for.
    """

    def __init__(self, pieces, seed=0):
        self.pieces = [np.asarray(piece, np.uint8) for piece in pieces]
        self.weights = np.random.default_rng(seed).integers(0, 2 ** 64, self.pieces[0].shape[1], np.uint64,
                                                            endpoint=False)
        self.data = np.concatenate(self.pieces)
        self.starts = np.cumsum([0] + [len(piece) for piece in self.pieces])
        self.prefixes = hash_prefixes(self.data, self.weights)
        self.windows = {}

    def sorted_hashes(self, length):
        """→ (hashes, global start rows) of the non-silent windows of ``length`` inside one piece, by hash."""
        if length not in self.windows:
            hashes, usable = window_hashes(self.prefixes, length)
            start = np.arange(len(hashes))
            piece = np.searchsorted(self.starts, start, side='right') - 1
            keep = usable & (start + length <= self.starts[piece + 1])
            order = np.argsort(hashes[keep], kind='stable')
            self.windows[length] = hashes[keep][order], start[keep][order]
        return self.windows[length]

    def locate(self, row):
        """Global row → (piece index, row in that piece)."""
        piece = int(np.searchsorted(self.starts, row, side='right') - 1)
        return piece, int(row - self.starts[piece])


def lowered(piece, shift):
    """``T × P`` → (the piece ``shift`` semitones lower, ``T × P``; ``T`` bool: rows that lost a note out of the P
    columns)."""
    moved, width = np.zeros_like(piece), piece.shape[1]
    if shift >= 0:
        moved[:, :width - shift] = piece[:, shift:]
        return moved, piece[:, :shift].any(axis=1)
    moved[:, -shift:] = piece[:, :width + shift]
    return moved, piece[:, width + shift:].any(axis=1)


def longest_copy(piece, corpus, shifts=range(-6, 6)):
    """Longest passage of ``piece`` (``T × P``) that a corpus piece holds verbatim ``shift`` semitones lower, for
    a shift in ``shifts`` (a row with a note pushed out of the P columns matches nothing) → :class:`Copy`
    (``steps`` 0: not a single row). ``corpus``: a :class:`CopyIndex`, or its pieces (same P).

    A copy of L rows holds copies of L − 1 rows, so the longest is found by a binary search on L; all-silent
    passages never count.
    """
    index = corpus if isinstance(corpus, CopyIndex) else CopyIndex(corpus)
    moved = [(shift, matrix, hash_prefixes(matrix, index.weights, lost))
             for shift in shifts for matrix, lost in [lowered(np.asarray(piece, np.uint8), shift)]]

    def found(length):
        hashes, rows = index.sorted_hashes(length)
        for shift, matrix, prefixes in moved:
            mine, usable = window_hashes(prefixes, length)
            first, last = np.searchsorted(hashes, mine), np.searchsorted(hashes, mine, side='right')
            for start in np.nonzero(usable & (last > first))[0]:
                for row in rows[first[start]:last[start]]:          # a hash collision fails this check
                    if np.array_equal(matrix[start:start + length], index.data[row:row + length]):
                        return Copy(length, *index.locate(row), shift, int(start))
        return None

    best, low, high = Copy(0), 0, len(piece)
    while low < high:
        middle = (low + high + 1) // 2
        match = found(middle)
        if match:
            best, low = match, middle
        else:
            high = middle - 1
    return best


def copy_table(pieces, index, names, limit=32, progress=True):
    """:func:`longest_copy` of each (name, ``T × P``, …) in ``index`` (whose pieces are called ``names``)
    → dict: ``median``, ``max`` (steps), ``share_over_limit`` (of pieces copying more than ``limit`` steps),
    ``per_piece`` (one :class:`Copy` dict each, its corpus piece by name)."""
    found = [{'piece': name, **longest_copy(matrix, index)._asdict()}
             for name, matrix, *_ in tqdm(pieces, desc='copies', unit='piece', disable=not progress, leave=False)]
    for copy in found:
        copy['corpus_piece'] = names[copy['corpus_piece']] if copy['steps'] else None
    steps = np.array([copy['steps'] for copy in found])
    return {'median': float(np.median(steps)), 'max': int(steps.max()),
            'share_over_limit': float((steps > limit).mean()), 'per_piece': found}


def work(name):
    """A piece's group for the judge: its BWV number (movements and versions of a work together), else its name."""
    number = bwv_number(name)
    return name if number is None else number


def bach_split(data_dir, seed=0, valid_fraction=0.1):
    """Prepared folder → (Geometry, held-out, training), each piece (name, ``T × P``, positions or None, onsets
    or None where the folder predates them) in its own key: the split ``bach2 train --seed`` makes (split.json,
    or by BWV number); CorpusError if a side is empty."""
    geometry = Geometry(*prepared_geometry(data_dir))
    path = pathlib.Path(data_dir) / f'pitch_matrix_{geometry.step_ticks}ticks_sh0.npz'
    recorded = records(path, ONSETS)
    _, corpus, _ = load_pieces(data_dir, geometry, progress=False, articulation=recorded)
    P = geometry.n_pitches
    sides = split_pieces(data_dir, geometry.step_ticks, valid_fraction, seed)      # the split of bach2 train
    if not all(sides):
        raise CorpusError(f'{data_dir}: the split holds out {len(sides[1])} of {len(corpus)} pieces; '
                          'the judge needs Bach on both sides')
    return geometry, *([(corpus[i][2], corpus[i][0][:, :P], corpus[i][3], corpus[i][0][:, P:] if recorded else None)
                         for i in side] for side in sides[::-1])


def generated_folder(folder):
    """``folder`` of generated pieces as a Path; CorpusError naming it when it is not a folder (checked before the
    corpus is read, so that a mistyped folder is what the error names)."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise CorpusError(f'{folder}: {"not a folder" if folder.exists() else "no such folder"}')
    return folder


def load_generated(folder, geometry):
    """A folder of generated pieces → ([(name, ``T × P``, positions or None, onsets or None)], [(file, reason)]):
    its ``.p`` pickles of ``bach2 generate`` (the continuation, primer left out; the onset plane of a model
    with articulation), or else its MIDI files read whole with their onsets.
    CorpusError naming the folder or file when there is no piece, or a pickle is not one or of another geometry."""
    folder = generated_folder(folder)
    pieces = []
    for path in sorted(folder.glob('*.p')):
        record = load_pickle(path)
        matrix = record.get('pitch_matrix') if isinstance(record, dict) else None
        if not isinstance(matrix, np.ndarray) or matrix.ndim != 2:
            raise CorpusError(f'{path}: not a generated piece (no pitch_matrix)')
        found = Geometry(record.get('step_ticks', JOURNAL_STEP_TICKS), matrix.shape[1],
                         record.get('lowest_pitch', LOWEST_PITCH))
        if found != geometry:
            raise CorpusError(f'{path}: generated with {found}, the corpus is {geometry}')
        positions, onsets = record.get('bar_positions'), record.get('onsets')
        pieces.append((path.stem, matrix, positions if positions is not None and len(positions) == len(matrix)
                       else None, onsets))
    if pieces:
        return pieces, []
    _, read, failures = load_pieces(folder, geometry, progress=False, articulation=True)
    if not read:
        raise CorpusError(f'{folder}: no readable piece')
    P = geometry.n_pitches
    return [(name, matrix[:, :P], positions, matrix[:, P:]) for matrix, _, name, positions in read], failures
