"""Where the beat falls: each step's position in its bar, and its encoding as a model input.

*Positions* are a ``T × 2`` int16 array, one row per step of a pitch matrix:
(position of the step in its bar, in steps from the bar line; steps in that
bar). Stage 1 computes them once per piece from the MIDI time signatures
(:func:`bar_positions`) and stores them beside the pitch matrices; they are the
same in every transposition.

Bars start at tick 0 and at every time-signature event, each
``numerator × 4 / denominator`` quarter notes long. A pickup is a short bar
that MIDI writes as its own signature (``1/4`` at tick 0, ``4/4`` after it), as
:mod:`bach2.data.default_corpus` does for music21's scores. A file without a time
signature is in 4/4 (MIDI's default). Sets without bar lines (the four
polyphonic benchmarks) get :func:`regular_positions`: bars of 4/4 from their
first frame.

The model input (:func:`metre_features`, ``T × METRE_FEATURES`` uint8) is a
binary clock of the position — bit k is ``(position >> k) & 1``, as in Johnson's
biaxial network, so in 4/4 at 16ths the bits mark 16ths, 8ths, beats and half
bars — and a downbeat flag. Like the chord of ``chord_input``, each step's input
carries the metre of the step *after* it, the one being predicted
(:func:`next_step_features`).

The road map's chord and line models read one-hot *slots* of class indices
(:mod:`bach2.models.sequence_model`): their metre slot is the position itself, one of
:data:`POSITION_CLASSES` (:func:`position_classes`), of the step predicted. The
chord model counts in quarter notes (:func:`coarser_positions`).
"""
import numpy as np

from bach2.time_series_to_pitch_matrix import ticks_per_step

CLOCK_BITS = 5                      # positions 0–31: a bar of 12/8 or 3/2 at 16ths is 24 steps
METRE_FEATURES = CLOCK_BITS + 1     # the clock, then 1 on the first step of a bar
DEFAULT_SIGNATURE = (4, 4)
POSITION_CLASSES = 1 << CLOCK_BITS  # one-hot positions of the sequence models' metre slot


def bar_positions(time_signatures, resolution, step, n_steps):
    """MIDI time signatures [(tick, numerator, denominator)] → ``n_steps × 2`` int16 positions.

    ``resolution``: ticks per quarter note; ``step``: ticks per step (may be fractional).
    A signature event starts a bar; one before the first (or none at all) means 4/4 from tick 0.
    """
    signatures = sorted(time_signatures)
    if not signatures or signatures[0][0] > 0:
        signatures.insert(0, (0, *DEFAULT_SIGNATURE))
    starts = np.array([tick for tick, _, _ in signatures], np.float64)
    bar_ticks = np.array([numerator * 4 / denominator * resolution for _, numerator, denominator in signatures])
    ticks = np.arange(n_steps) * float(step)
    segment = np.searchsorted(starts, ticks + 1e-6, side='right') - 1       # the signature in force
    steps_per_bar = np.maximum(1, np.floor(bar_ticks[segment] / step + 0.5))
    offset = np.mod(ticks - starts[segment], bar_ticks[segment])
    position = np.minimum(np.floor(offset / step + 0.5), steps_per_bar - 1)
    return np.stack([position, steps_per_bar], axis=1).astype(np.int16)


def piece_positions(piece, step_ticks, n_steps):
    """A :class:`~bach2.midi_to_time_series.Piece` → the ``n_steps × 2`` positions of its steps of
    ``step_ticks`` (at 96 per quarter, as stage 1 counts them)."""
    return bar_positions(piece.time_signatures, piece.resolution, ticks_per_step(piece.resolution, step_ticks),
                         n_steps)


def regular_positions(n_steps, steps_per_bar, first=0):
    """``n_steps × 2`` positions in bars of ``steps_per_bar`` steps, the first step at ``first``."""
    position = (first + np.arange(n_steps)) % steps_per_bar
    return np.stack([position, np.full(n_steps, steps_per_bar)], axis=1).astype(np.int16)


def continue_positions(positions, n_steps):
    """The ``n_steps`` positions after ``positions`` (``T × 2``, T ≥ 1), in the bar length of its last step."""
    position, steps_per_bar = (int(x) for x in positions[-1])
    return regular_positions(n_steps, steps_per_bar, position + 1)


def pad_positions(positions, pad):
    """``positions`` with ``pad`` rows before the first, counted back in the first bar's length
    (an empty piece's padding is one bar of ``pad`` steps)."""
    if not pad:
        return positions
    if not len(positions):
        return regular_positions(pad, pad)
    position, steps_per_bar = (int(x) for x in positions[0])
    return np.concatenate([regular_positions(pad, steps_per_bar, position - pad), positions])


def metre_features(positions):
    """``T × 2`` positions → ``T × METRE_FEATURES`` uint8: the binary clock of the position, then the downbeat."""
    position = np.asarray(positions)[:, 0].astype(np.int64)
    clock = (position[:, None] >> np.arange(CLOCK_BITS)) & 1
    return np.concatenate([clock, (position == 0)[:, None]], axis=1).astype(np.uint8)


def next_step_features(positions):
    """``T × 2`` positions → ``T × METRE_FEATURES``: row t encodes step t + 1 (the last continues its bar)."""
    if not len(positions):
        return np.zeros((0, METRE_FEATURES), np.uint8)
    return metre_features(np.concatenate([positions[1:], continue_positions(positions, 1)]))


def usual_bar(positions):
    """``T × 2`` positions → the steps of the most common bar length among them (ties: the shorter)."""
    return int(np.bincount(np.asarray(positions, np.int64)[:, 1]).argmax())


def fit_positions(positions, n_steps):
    """``positions`` cut to ``n_steps`` rows, or continued in the last bar's length up to them."""
    positions = np.asarray(positions)
    if len(positions) >= n_steps:
        return positions[:n_steps]
    return np.concatenate([positions, continue_positions(positions, n_steps - len(positions))])


def coarser_positions(positions, factor):
    """Positions of steps → those of steps ``factor`` times longer (quarter notes from 16ths: 4), one per
    ``factor`` steps: position and bar length divided by ``factor``, rounded down (a bar at least 1)."""
    rows = np.asarray(positions, np.int64)[::factor]
    return np.stack([rows[:, 0] // factor, np.maximum(1, rows[:, 1] // factor)], axis=1).astype(np.int16)


def position_classes(positions):
    """``T × 2`` positions → ``T`` int64 one-hot classes (positions past the last class share it)."""
    return np.minimum(np.asarray(positions)[:, 0].astype(np.int64), POSITION_CLASSES - 1)
