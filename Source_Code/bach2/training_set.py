"""Stage 3 input: the prepared pitch matrices and chords of stage 1–2, as arrays ready for windows.

:func:`load_training_set` reads ``pitch_matrix_<N>ticks_sh<k>.npz`` and
``chord_sequence_sh<k>.npz`` (no pickle is executed: ``.npz`` without object
arrays) for the chosen transpositions and keeps the chosen pieces:

* ``inputs``: ``N × P`` uint8, all pieces of all transpositions concatenated
  (``N × (P + 12)`` with ``chord_input``: the chord tones of the *next* step's
  chord appended, see :func:`bach2.chord_sequence.chord_tones`);
* ``targets``: ``N × P`` (polyphonic) or ``N × (P + 1)`` (monophonic: the
  bass line one-hot, last column = rest) uint8;
* ``step_chords``: ``N`` int16 chord index per step (the chord of its quarter note);
* ``piece_starts``: ``n + 1`` int64; ``names``: one per piece and transposition.
"""
import dataclasses
import pathlib
import zipfile

import numpy as np

from bach2.chord_sequence import CHORD_VECTORS, NO_CHORD, chord_tones
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
    return _pieces(_path(data_dir, f'pitch_matrix_{step_ticks}ticks_sh0.npz'), 'pitch_matrices')[1]


def _path(data_dir, name):
    folder = pathlib.Path(data_dir)
    if not folder.is_dir():
        problem = 'not a folder' if folder.exists() else 'no such folder'
        raise CorpusError(f'{folder}: {problem}; prepared training data goes there with `bach2 prepare --out {folder}`')
    path = folder / name
    if not path.exists():
        raise CorpusError(f'{path}: no such file; run `bach2 prepare` first')
    return path


def _pieces(npz_path, key):
    """``.npz`` of stage 1 or 2 → (list of per-piece arrays, names); CorpusError naming the file if unreadable."""
    try:
        with np.load(npz_path, allow_pickle=False) as arrays:
            data, starts = arrays[key], arrays['piece_starts']
            names = [str(name) for name in arrays['names']]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise CorpusError(f'{npz_path}: not readable prepared data ({error}); run `bach2 prepare` again') from None
    return [data[a:b] for a, b in zip(starts[:-1], starts[1:])], names


def next_step_chord_tones(step_chords):
    """``T`` chord indices per step → ``T × 12`` chord tones of the step after each (the last keeps its own)."""
    return chord_tones(np.append(step_chords[1:], step_chords[-1:]))


def step_chord_indices(chord_sequence, n_steps, steps_per_quarter=4):
    """One chord per quarter note → ``n_steps`` int16 chord per step (NO_CHORD when there is none)."""
    if not len(chord_sequence):
        return np.full(n_steps, NO_CHORD, np.int16)
    quarter = np.minimum(np.arange(n_steps) // steps_per_quarter, len(chord_sequence) - 1)
    return np.asarray(chord_sequence, np.int16)[quarter]


def load_piece(data_dir, name, transposition=0, step_ticks=24):
    """One prepared piece by name → (``T × P`` uint8 pitch matrix, ``T`` int16 chord per step)."""
    matrices, names = _pieces(_path(data_dir, f'pitch_matrix_{step_ticks}ticks_sh{transposition}.npz'),
                              'pitch_matrices')
    if name not in names:
        raise CorpusError(f'{data_dir}: no prepared piece named {name!r} (there are {len(names)}, '
                          f'e.g. {", ".join(names[:3])})')
    chord_sequences, _ = _pieces(_path(data_dir, f'chord_sequence_sh{transposition}.npz'), 'chord_sequences')
    i = names.index(name)
    return matrices[i], step_chord_indices(chord_sequences[i], len(matrices[i]), JOURNAL_RESOLUTION // step_ticks)


def load_training_set(data_dir, piece_indices, transpositions=range(12), step_ticks=24, monophonic=False,
                      chord_input=False):
    """The pieces ``piece_indices`` in the transpositions ``sh<k>`` → :class:`TrainingSet`."""
    steps_per_quarter = JOURNAL_RESOLUTION // step_ticks
    inputs, targets, chords, names = [], [], [], []
    for k in transpositions:
        matrices, piece_names_k = _pieces(_path(data_dir, f'pitch_matrix_{step_ticks}ticks_sh{k}.npz'),
                                          'pitch_matrices')
        chord_sequences, _ = _pieces(_path(data_dir, f'chord_sequence_sh{k}.npz'), 'chord_sequences')
        for i in piece_indices:
            matrix = matrices[i]
            step_chords = step_chord_indices(chord_sequences[i], len(matrix), steps_per_quarter)
            if monophonic:
                bass = bass_line(matrix)
                rest = (bass.sum(axis=1) == 0).astype(np.uint8)[:, None]
                inputs.append(bass)
                targets.append(np.concatenate([bass, rest], axis=1))
            else:
                inputs.append(matrix)
                targets.append(matrix)
            if chord_input:
                inputs[-1] = np.concatenate([inputs[-1], next_step_chord_tones(step_chords)], axis=1)
            chords.append(step_chords)
            names.append(f'{piece_names_k[i]}_sh{k}')
    data, starts = concatenate_pieces(inputs)
    separate_targets = monophonic or chord_input
    return TrainingSet(inputs=data, targets=concatenate_pieces(targets)[0] if separate_targets else data,
                       step_chords=np.concatenate(chords).astype(np.int16), piece_starts=starts, names=names)
