"""Piano-roll pictures of pitch matrices (PNG, written atomically)."""
import numpy as np

from bach2.pitch_names import PITCH_CLASS_NAMES
from bach2.safe_io import atomic_path
from bach2.time_series_to_pitch_matrix import LOWEST_PITCH


def plot_piano_roll(pitch_matrix, path, title='', lowest_pitch=LOWEST_PITCH, steps_per_bar=16, primer_steps=0):
    """``T × P`` pitch matrix → PNG at ``path``: time in bars across, pitch up, C's named (C4 = middle C).

    ``primer_steps`` > 0 shades the first steps (the primer the model continued).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    matrix = np.asarray(pitch_matrix) > 0
    n_steps, n_pitches = matrix.shape
    figure, axis = plt.subplots(figsize=(min(24, 4 + n_steps / 60), 4.5))
    axis.imshow(matrix.T, origin='lower', aspect='auto', cmap='Greys', interpolation='nearest',
                extent=(0, n_steps / steps_per_bar, -0.5, n_pitches - 0.5))
    if primer_steps:
        axis.axvspan(0, primer_steps / steps_per_bar, color='tab:blue', alpha=0.12, label='primer')
        axis.legend(loc='upper right')
    c_columns = [j for j in range(n_pitches) if (lowest_pitch + j) % 12 == 0]
    axis.set_yticks(c_columns)
    axis.set_yticklabels([f'{PITCH_CLASS_NAMES[0]}{(lowest_pitch + j) // 12 - 1}' for j in c_columns])
    axis.set_xlabel('bar (4/4, 16 sixteenths)')
    axis.set_ylabel('pitch')
    axis.set_title(title)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format='png', dpi=90)
    plt.close(figure)
    return path
