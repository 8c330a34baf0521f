"""The journal's illustration: a pitch matrix, and how X windows and next-step targets Y are cut from it.

Top: the pieces' pitch matrices concatenated as in training (time across, pitch
up), piece boundaries in red, a few windows ``X[s]`` (SEQUENCE_LENGTH steps)
boxed with their target step ``Y[s]`` filled, and one window that would cross
a boundary crossed out — :func:`bach2.data.training_windows.make_X_Y` never makes it.
Bottom: those ``X[s]`` (L × P) and ``Y[s]`` (1 × P) as the model sees them,
taken from the arrays :func:`~bach2.data.training_windows.make_X_Y` returns.
"""
import numpy as np

from bach2.data.training_windows import concatenate_pieces, make_X_Y
from bach2.safe_io import save_png
from bach2.time_series_to_pitch_matrix import LOWEST_PITCH

COLOURS = ('tab:blue', 'tab:orange', 'tab:green', 'tab:purple')


def pick_windows(starts, piece_starts, sequence_length, n_windows=3):
    """→ (chosen valid window starts, a start whose window crosses the first boundary or None)."""
    chosen = [int(s) for s in starts[np.linspace(0, len(starts) - 1, n_windows).astype(int)]] if len(starts) else []
    crossing = None
    if len(piece_starts) > 2:
        crossing = int(piece_starts[1] - sequence_length // 2)
    return sorted(set(chosen)), crossing


def plot_windows(matrices, path, sequence_length=16, lowest_pitch=LOWEST_PITCH, names=(), n_windows=3):
    """[T_i × P] pitch matrices → PNG at ``path`` illustrating X/Y windows (see module docstring)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    data, piece_starts = concatenate_pieces([np.asarray(m, np.uint8) for m in matrices])
    X, Y, starts = make_X_Y(data, piece_starts, sequence_length)
    chosen, crossing = pick_windows(starts, piece_starts, sequence_length, n_windows)
    used = np.nonzero(data.any(axis=0))[0]
    low, high = (int(used.min()), int(used.max()) + 1) if len(used) else (0, data.shape[1])
    figure = plt.figure(figsize=(12, 7.5))
    grid = figure.add_gridspec(2, 2 * len(chosen), height_ratios=[1.3, 1], hspace=0.45, wspace=0.6,
                               width_ratios=[sequence_length, 2.5] * len(chosen))
    top = figure.add_subplot(grid[0, :])
    top.imshow(data[:, low:high].T, origin='lower', aspect='auto', cmap='Greys', interpolation='nearest',
               extent=(-0.5, len(data) - 0.5, low - 0.5, high - 0.5))
    for k, boundary in enumerate(piece_starts[1:-1]):
        top.axvline(boundary - 0.5, color='red', linewidth=2, label='piece boundary' if k == 0 else None)
    for i, (name, begin) in enumerate(zip(names, piece_starts[:-1])):
        top.text(begin + 0.5, high - 1, f' {name}', va='top', fontsize=8, color='red')
    for colour, s in zip(COLOURS, chosen):
        top.add_patch(Rectangle((s - 0.5, low - 0.5), sequence_length, high - low, fill=False, edgecolor=colour,
                                linewidth=2, label=f'X[{s}]: steps {s}…{s + sequence_length - 1}'))
        top.add_patch(Rectangle((s + sequence_length - 0.5, low - 0.5), 1, high - low, color=colour, alpha=0.35,
                                label=f'Y[{s}] = step {s + sequence_length}'))
    if crossing is not None:
        top.add_patch(Rectangle((crossing - 0.5, low - 0.5), sequence_length + 1, high - low, fill=False,
                                edgecolor='0.4', linestyle='--', linewidth=1.5,
                                label=f'X[{crossing}], Y: crosses a boundary, never made'))
    top.set_xlabel('time step t (16th notes), pieces concatenated')
    top.set_ylabel(f'column j (MIDI {lowest_pitch} + j)')
    top.set_title(f'pitch_matrix ({len(data)} steps × {data.shape[1]} pitches) and its windows, '
                  f'SEQUENCE_LENGTH = {sequence_length}')
    top.legend(loc='upper left', bbox_to_anchor=(1.005, 1), fontsize=7)
    for k, (colour, s) in enumerate(zip(COLOURS, chosen)):
        x_axis = figure.add_subplot(grid[1, 2 * k])
        x_axis.imshow(X[s][:, low:high].T, origin='lower', aspect='auto', cmap='Greys', interpolation='nearest',
                      extent=(-0.5, sequence_length - 0.5, low - 0.5, high - 0.5))
        x_axis.set_title(f'X[{s}]: {sequence_length} × {X.shape[2]}', color=colour, fontsize=9)
        x_axis.set_xlabel('window step', fontsize=8)
        y_axis = figure.add_subplot(grid[1, 2 * k + 1], sharey=x_axis)
        y_axis.imshow(Y[s][None, low:high].T, origin='lower', aspect='auto', cmap='Greys',
                      interpolation='nearest', extent=(-0.5, 0.5, low - 0.5, high - 0.5))
        y_axis.set_title(f'Y[{s}]', color=colour, fontsize=9)
        y_axis.set_xticks([])
        y_axis.tick_params(labelleft=False)
    return save_png(figure, path, bbox_inches='tight')
