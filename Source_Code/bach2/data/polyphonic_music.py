"""The four standard polyphonic-music benchmarks as prepared training-data folders.

Input: the MATLAB files of Boulanger-Lewandowski, Bengio & Vincent (2012) —
``JSB_Chorales.mat``, ``Nottingham.mat``, ``MuseData.mat``, ``Piano_midi.mat``
— each holding ``traindata``, ``validdata`` and ``testdata``, arrays of
sequences, a sequence being a ``T × 88`` 0/1 matrix (column j = MIDI 21 + j,
one row per frame: a quarter note for JSB, an eighth note for the others; every
piece in C major or C minor).

:func:`prepare_polyphonic` writes what :func:`bach2.data.jsb_chorales.prepare_jsb_chorales`
writes for the JSB JSON: ``pitch_matrix_<N>ticks_sh<k>`` (88 keys from MIDI 21,
N = ticks per frame at 96 per quarter: 96 for JSB, 48 for the others),
``chord_sequence_sh<k>`` (one chord per quarter note) and ``split.json``, so that
``bach2 train`` keeps the published split and ``bach2 evaluate`` reports NLL per
frame in the literature's convention.
"""
import pathlib
import zlib

import numpy as np
import scipy.io

from bach2.common import CorpusError
from bach2.data.jsb_chorales import N_KEYS, SPLITS, prepare_rolls
from bach2.time_series_to_pitch_matrix import JOURNAL_RESOLUTION

#: Where the benchmark files live: ../shared/data/polyphonic_music beside the repository.
DATA_ROOT = pathlib.Path(__file__).resolve().parents[4] / 'shared' / 'data' / 'polyphonic_music'
#: name → (file under DATA_ROOT, ticks per frame at 96 per quarter).
BENCHMARKS = {'jsb': ('JSB_Chorales.mat', 96),
              'nottingham': ('Nottingham.mat', 48),
              'musedata': ('MuseData.mat', 48),
              'piano-midi': ('Piano_midi.mat', 48)}
#: Published test NLL per frame (nats): LSTM / TCN from Bai, Kolter & Koltun (2018),
#: RNN-NADE from Boulanger-Lewandowski et al. (2012).
PUBLISHED_TEST_NLL = {'jsb': {'LSTM': 8.45, 'TCN': 8.10, 'RNN-NADE': 5.56},
                      'nottingham': {'LSTM': 3.29, 'TCN': 3.07, 'RNN-NADE': 2.31},
                      'musedata': {'RNN-NADE': 5.60},
                      'piano-midi': {'RNN-NADE': 7.05}}
DEFAULT_STEP_TICKS = 48   # an eighth note: the frame of every set but JSB
MAT_KEYS = {split: f'{split}data' for split in SPLITS}   # 'train' → 'traindata'


def load_mat(path):
    """A benchmark's ``.mat`` → {split: [``T × 88`` uint8 piano roll]}; CorpusError naming the file otherwise."""
    try:
        data = scipy.io.loadmat(str(path), appendmat=False)
    except FileNotFoundError:
        raise CorpusError(f'{path}: no such file') from None
    except (OSError, ValueError, TypeError, IndexError, KeyError, EOFError, NotImplementedError, zlib.error,
            scipy.io.matlab.MatReadError) as error:   # NotImplementedError: a v7.3 (HDF5) file
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CorpusError(f'{path}: not a readable MATLAB .mat file ({message})') from None
    missing = [key for key in MAT_KEYS.values() if key not in data]
    if missing:
        raise CorpusError(f'{path}: no {", ".join(missing)} (expected {", ".join(MAT_KEYS.values())})')
    rolls = {}
    for split, key in MAT_KEYS.items():
        rolls[split] = []
        for i, sequence in enumerate(_sequences(data[key])):
            try:
                rolls[split].append(sequence_roll(sequence))
            except (TypeError, ValueError) as error:
                raise CorpusError(f'{path}: {key} sequence {i}: {error}') from None
    if not any(rolls.values()):
        raise CorpusError(f'{path}: no sequences in {", ".join(MAT_KEYS.values())}')
    return rolls


def _sequences(array):
    """``loadmat``'s ``1 × n`` object array (a MATLAB cell array) or ``n × T × 88`` array → list of sequences."""
    array = np.asarray(array)
    if array.dtype == object:
        return list(array.ravel())
    if array.ndim == 3:
        return list(array)
    return [array]   # one matrix: sequence_roll checks its shape


def sequence_roll(sequence):
    """A ``T × 88`` 0/1 matrix → ``T × 88`` uint8; ValueError saying what is wrong otherwise."""
    matrix = np.asarray(sequence)
    if matrix.ndim != 2 or matrix.shape[1] != N_KEYS:
        raise ValueError(f'shape {matrix.shape}, expected T × {N_KEYS}')
    if matrix.dtype.kind not in 'biuf':
        raise ValueError(f'{matrix.dtype} values, expected 0 and 1')
    if not np.isin(matrix, (0, 1)).all():
        raise ValueError(f'values other than 0 and 1 (e.g. {matrix[~np.isin(matrix, (0, 1))].flat[0]})')
    return matrix.astype(np.uint8)


def benchmark_path(name_or_path, data_root=DATA_ROOT, step_ticks=None):
    """A name of :data:`BENCHMARKS` or a ``.mat`` path → (path, set name, ticks per frame)."""
    if str(name_or_path) in BENCHMARKS:
        file_name, benchmark_ticks = BENCHMARKS[str(name_or_path)]
        if step_ticks not in (None, benchmark_ticks):
            raise ValueError(f'{name_or_path} has {benchmark_ticks} ticks per frame, not {step_ticks}')
        return pathlib.Path(data_root) / file_name, str(name_or_path), benchmark_ticks
    step_ticks = step_ticks or DEFAULT_STEP_TICKS
    if JOURNAL_RESOLUTION % step_ticks:
        raise ValueError(f'step_ticks must divide {JOURNAL_RESOLUTION} (a quarter note), not {step_ticks}')
    path = pathlib.Path(name_or_path)
    return path, path.stem, step_ticks


def prepare_polyphonic(name_or_path, out_dir, transpositions=(0,), data_root=DATA_ROOT, step_ticks=None):
    """Write a benchmark as a prepared folder (sh<k> for each k of ``transpositions``) → files written.

    ``name_or_path``: a key of :data:`BENCHMARKS` (found under ``data_root``) or
    a ``.mat`` path, whose frame is ``step_ticks`` ticks (default 48, an eighth
    note). Pieces are named ``<set>_<split>_<index>``; ``split.json`` lists them per split.
    """
    path, set_name, step_ticks = benchmark_path(name_or_path, data_root, step_ticks)
    return prepare_rolls(load_mat(path), set_name, out_dir, transpositions, step_ticks)
