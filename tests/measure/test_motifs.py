"""bach2.measure.motifs: a piece built from a figure stated in sequence scores high, a random walk low, and moving
a piece to another key or register changes no figure."""
import numpy as np
import pytest

from bach2.measure.motifs import (MATERIAL, bar_rhythm_similarity, beats_struck, literal_loops, material_counts,
                                  material_shares, recurrence, sequence_share)
from bach2.measure.music_statistics import compare, music_statistics, piece_counts
from bach2.music.key_finding import scale_pitches, scale_steps
from bach2.music.metre import regular_positions

LOW = 24                          # column j of a pitch matrix = MIDI 24 + j
C_MAJOR = (0, 'major')


def two_lines(top, bass, note_steps=2):
    """Two lines of MIDI pitches, each note ``note_steps`` 16ths long and struck → (``T × 128`` roll, onsets)."""
    T = note_steps * max(len(top), len(bass))
    roll, struck = np.zeros((T, 128), bool), np.zeros((T, 128), bool)
    for line in (top, bass):
        for i, pitch in enumerate(line):
            roll[i * note_steps:(i + 1) * note_steps, pitch] = True
            struck[i * note_steps, pitch] = True
    return roll, struck


def sequenced(first, start, step, statements, tonic=0, mode='major'):
    """A figure (scale places from its first note) stated ``statements`` times, each ``step`` scale steps from the
    one before, from the place of MIDI ``start`` → MIDI pitches."""
    places = scale_steps(start, tonic, mode) + np.concatenate([np.add(first, k * step) for k in range(statements)])
    return scale_pitches(places, tonic, mode).tolist()


def random_walk(n, seed, start=72):
    rng = np.random.default_rng(seed)
    return (start + np.cumsum(rng.choice([-7, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 7], n))).tolist()


@pytest.mark.parametrize('mode', ['major', 'minor'])
def test_scale_places_go_back_to_the_same_pitches_in_every_key(mode):
    pitches = np.arange(21, 109)
    for tonic in range(12):
        assert (scale_pitches(scale_steps(pitches, tonic, mode), tonic, mode) == pitches).all()
    assert scale_steps([60, 62, 64, 65], *C_MAJOR).tolist() == [35, 36, 37, 38]       # C D E F: one step each


def test_a_figure_in_sequence_recurs_and_a_random_walk_does_not():
    figure = sequenced([0, 1, 2, 0], 72, -1, 8)            # C D E C, B C D B, …: 32 notes, a descending sequence
    assert recurrence(scale_steps(figure, *C_MAJOR)) == (29, 29)
    assert sequence_share(scale_steps(figure, *C_MAJOR)) == (32, 32)
    exact = recurrence(figure)[0] / recurrence(figure)[1]
    assert 0.3 < exact < 1.0                               # in semitones only the statements of one shape match
    walk = random_walk(32, seed=1)
    found, counted = recurrence(scale_steps(walk, *C_MAJOR))
    assert counted == 29 and found / counted < 0.2
    assert sequence_share(scale_steps(walk, *C_MAJOR))[0] < 8


def test_rhythm_kept_bar_to_bar_and_beats_struck():
    positions = regular_positions(64, 16)
    kept = np.tile([1, 0, 1, 1] * 4, 4).astype(bool)                      # one rhythm every bar
    assert bar_rhythm_similarity(kept, positions) == (48, 48)
    assert beats_struck(kept, positions) == (16, 16)
    changing = np.concatenate([np.ones(16), np.zeros(16), np.ones(16), np.zeros(16)]).astype(bool)
    assert bar_rhythm_similarity(changing, positions) == (0, 48)
    assert beats_struck(changing, positions) == (8, 16)
    assert bar_rhythm_similarity(kept, regular_positions(64, 16, first=8))[1] == 32   # whole bars only


def test_a_texture_stuck_in_a_loop_is_found_and_a_sequence_is_not():
    trill = two_lines([76, 74] * 16, [48, 48, 48, 48, 55, 55, 55, 55] * 4, note_steps=1)   # 32 steps, period 8
    assert literal_loops(*trill) == (9, 17)     # the 16 steps up to 24 … 32 repeat those 8 steps before them
    assert literal_loops(*two_lines(sequenced([0, 1, 2, 0], 72, -1, 8), [48] * 32, note_steps=1))[0] == 0
    held = np.zeros((40, 128), bool)
    held[:, 60] = True
    struck = np.zeros_like(held)
    struck[0, 60] = True                                   # one note held 40 steps: only the first 16 are checked
    assert literal_loops(held, struck) == (0, 1)


def test_moving_a_piece_changes_no_figure():
    top, bass = sequenced([0, 2, 1, 3, 2, 1], 76, -1, 5), sequenced([0, 4, 0, -3], 48, 1, 8)
    roll, struck = two_lines(top, bass)
    positions = regular_positions(len(roll), 16)
    counts = material_counts(roll, struck, positions)
    for semitones in (-5, 3, 12):
        moved = [np.roll(plane, semitones, axis=1) for plane in (roll, struck)]
        assert material_counts(*moved, positions) == counts
    shares = material_shares(counts)
    assert set(shares) == set(MATERIAL)
    assert shares['top motifs recur, in the scale'] > 0.9 and shares['bass notes in a sequence'] == 1.0


def test_the_statistics_report_the_material_of_4_bar_excerpts():
    top, bass = sequenced([0, 1, 2, 0], 72, -1, 8), sequenced([0, 4, 0, -3], 48, 1, 8)
    walk_top, walk_bass = random_walk(32, seed=2), random_walk(32, seed=3, start=48)
    pieces = []
    for lines in ((top, bass), (walk_top, walk_bass)):
        roll, _ = two_lines(*lines)
        matrix = roll[:, LOW:LOW + 88].astype(np.uint8)
        onsets = np.zeros_like(matrix)
        onsets[::2] = matrix[::2]
        pieces.append(music_statistics([matrix], LOW, onsets=[onsets]))
    figures, walk = pieces
    for measure in ('top motifs recur, in the scale', 'bass motifs recur, exact', 'top notes in a sequence'):
        assert figures[measure] > walk[measure] + 0.5, measure
    rows = {name: (ours, theirs) for name, ours, theirs, _ in compare(walk, figures)}
    assert all(rows[measure] == (walk[measure], figures[measure]) for measure in MATERIAL)
    assert not piece_counts(matrix, LOW, 4, onsets=onsets, material=False)['material']   # the judge's reading
    short = music_statistics([np.zeros((32, 88), np.uint8)], LOW)          # under one excerpt: nothing counted
    assert short['beats struck'] is None and 'beats struck' not in {row[0] for row in compare(short, figures)}
