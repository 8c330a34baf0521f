"""The record of a stage-3 run beside its checkpoint: a CSV log, one row per epoch, and the training curve (PNG)."""
import csv

from bach2.safe_io import atomic_path, save_png

LOG_COLUMNS = ('epoch', 'train_cost', 'valid_cost', 'valid_nll_per_frame', 'seconds', 'frames_per_second',
               'learning_rate', 'train_nll_per_frame', 'valid_seconds')


def write_log(path, history):
    """The CSV log: one row per finished epoch of ``history`` (columns :data:`LOG_COLUMNS`, epochs from 1,
    seconds of wall time), written atomically."""
    with atomic_path(path) as temporary, open(temporary, 'w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(LOG_COLUMNS)
        for row in history:
            if 'train_cost' in row:
                writer.writerow([row['epoch'] + 1] + [row.get(column, '') for column in LOG_COLUMNS[1:]])


def plot_history(path, history, title):
    """Training curve PNG: train and validation cost per finished epoch of ``history``."""
    import matplotlib           # seconds to import: only when a curve is drawn
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = [row for row in history if 'train_cost' in row]
    epochs = [row['epoch'] + 1 for row in rows]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(epochs, [row['train_cost'] for row in rows], 'o-', label='train cost')
    if rows and 'valid_cost' in rows[0]:
        axis.plot(epochs, [row['valid_cost'] for row in rows], 's-', label='validation cost')
    axis.set_xlabel('epoch')
    axis.set_ylabel('cost (BCE mean + λ · chord cost)')
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    save_png(figure, path, dpi=100)
