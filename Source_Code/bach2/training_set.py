"""Stage 3 input: the prepared pitch matrices and chords of stage 1–2, as arrays ready for windows.

:func:`load_training_set` reads ``pitch_matrix_<N>ticks_sh<k>.npz`` and
``chord_sequence_sh<k>.npz`` (no pickle is executed: ``.npz`` without object
arrays) for the chosen transpositions and keeps the chosen pieces:

* ``inputs``: ``N × P`` uint8, all pieces of all transpositions concatenated;
* ``targets``: ``N × P`` (polyphonic) or ``N × (P + 1)`` (monophonic: the
  bass line one-hot, last column = rest) uint8;
* ``step_chords``: ``N`` int16 chord index per step (the chord of its quarter note);
* ``piece_starts``: ``n + 1`` int64; ``names``: one per piece and transposition.
"""
import dataclasses
import pathlib

import numpy as np

from bach2.chord_sequence import CHORD_VECTORS, NO_CHORD
from bach2.prepare import CorpusError
from bach2.time_series_to_pitch_matrix import JOURNAL_RESOLUTION, bass_line
from bach2.training_windows import concatenate_pieces


@dataclasses.dataclass
class TrainingSet:
    inputs: np.ndarray
    targets: np.ndarray
    step_chords: np.ndarray
    piece_starts: np.ndarray
    names: list

    @property
    def n_steps(self):
        return len(self.inputs)

    def chord_vectors(self, rows):
        """``B × 12`` float32 chord vectors of the given rows (zeros where no chord)."""
        chords = self.step_chords[rows]
        vectors = CHORD_VECTORS[np.maximum(chords, 0)].astype(np.float32)
        vectors[chords == NO_CHORD] = 0.0
        return vectors


def piece_names(data_dir, step_ticks=24):
    """Names of the prepared pieces (from ``sh0``)."""
    with np.load(_path(data_dir, f'pitch_matrix_{step_ticks}ticks_sh0.npz')) as arrays:
        return [str(name) for name in arrays['names']]


def _path(data_dir, name):
    path = pathlib.Path(data_dir) / name
    if not path.exists():
        raise CorpusError(f'{path}: no such file; run `bach2 prepare` first')
    return path


def _pieces(npz_path, key):
    with np.load(npz_path, allow_pickle=False) as arrays:
        data, starts = arrays[key], arrays['piece_starts']
        names = [str(name) for name in arrays['names']]
    return [data[a:b] for a, b in zip(starts[:-1], starts[1:])], names


def load_training_set(data_dir, piece_indices, transpositions=range(12), step_ticks=24, monophonic=False):
    """The pieces ``piece_indices`` in the transpositions ``sh<k>`` → :class:`TrainingSet`."""
    steps_per_quarter = JOURNAL_RESOLUTION // step_ticks
    inputs, targets, chords, names = [], [], [], []
    for k in transpositions:
        matrices, piece_names_k = _pieces(_path(data_dir, f'pitch_matrix_{step_ticks}ticks_sh{k}.npz'),
                                          'pitch_matrices')
        chord_sequences, _ = _pieces(_path(data_dir, f'chord_sequence_sh{k}.npz'), 'chord_sequences')
        for i in piece_indices:
            matrix = matrices[i]
            if monophonic:
                bass = bass_line(matrix)
                rest = (bass.sum(axis=1) == 0).astype(np.uint8)[:, None]
                inputs.append(bass)
                targets.append(np.concatenate([bass, rest], axis=1))
            else:
                inputs.append(matrix)
                targets.append(matrix)
            quarter = np.minimum(np.arange(len(matrix)) // steps_per_quarter, len(chord_sequences[i]) - 1)
            chords.append(chord_sequences[i][quarter] if len(chord_sequences[i]) else
                          np.full(len(matrix), NO_CHORD, np.int16))
            names.append(f'{piece_names_k[i]}_sh{k}')
    data, starts = concatenate_pieces(inputs)
    return TrainingSet(inputs=data, targets=concatenate_pieces(targets)[0] if monophonic else data,
                       step_chords=np.concatenate(chords).astype(np.int16), piece_starts=starts, names=names)
