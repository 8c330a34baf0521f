"""Pitch-class histograms of generated music against the corpus (PNG).

A distribution is 12 shares (C first, summing to 1) of sounding 16th-note steps.
With ``to_c=True`` every piece is first moved so the tonic of its key
(:func:`bach2.music.key_finding.find_key`) is C, so pieces in different keys compare
by scale degree.
"""
import pathlib

import numpy as np

from bach2.music.key_finding import find_key, pitch_class_histogram, tonic_class
from bach2.music.pitch_names import PITCH_CLASS_NAMES
from bach2.safe_io import save_png
from bach2.time_series_to_pitch_matrix import JOURNAL_STEP_TICKS, LOWEST_PITCH, pitch_matrix_to_roll


def pitch_class_counts(pitch_matrix, lowest_pitch, to_c=False):
    """``T × P`` pitch matrix (column j = MIDI ``lowest_pitch + j``) → 12 sounding-step counts, C first."""
    counts = pitch_class_histogram(pitch_matrix_to_roll(pitch_matrix, lowest_pitch))
    if to_c and counts.any():
        counts = np.roll(counts, -tonic_class(find_key(counts)))
    return counts


def pitch_class_distribution(matrices, lowest_pitch, to_c=False):
    """[T_i × P] pitch matrices → 12 shares summing to 1 (zeros when nothing sounds)."""
    total = sum((pitch_class_counts(m, lowest_pitch, to_c) for m in matrices), np.zeros(12))
    return total / total.sum() if total.sum() else total


def corpus_matrices(data_dir, step_ticks=JOURNAL_STEP_TICKS):
    """Stage-1 data (``pitch_matrix_<N>ticks_sh0.npz``, the pieces in their own keys) → ([T_i × P], lowest pitch).

    ([], None) when ``data_dir`` holds no prepared data.
    """
    path = pathlib.Path(data_dir) / f'pitch_matrix_{step_ticks}ticks_sh0.npz'
    if not path.is_file():
        return [], None
    with np.load(path) as arrays:
        data, starts = arrays['pitch_matrices'], arrays['piece_starts']
        lowest = int(arrays['lowest_pitch']) if 'lowest_pitch' in arrays else LOWEST_PITCH
    return [data[a:b] for a, b in zip(starts[:-1], starts[1:])], lowest


def plot_pitch_class_histograms(distributions, path, title='pitch classes'):
    """{label: 12 shares} → grouped bar chart PNG at ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axis = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / max(1, len(distributions))
    for k, (label, shares) in enumerate(distributions.items()):
        axis.bar(np.arange(12) + (k - (len(distributions) - 1) / 2) * width, shares, width, label=label)
    axis.set_xticks(range(12))
    axis.set_xticklabels(PITCH_CLASS_NAMES)
    axis.set_ylabel('share of sounding steps')
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    return save_png(figure, path)
