"""Stage 3 input: the prepared pitch matrices and chords of stage 1–2, as arrays ready for windows.

:func:`load_training_set` reads ``pitch_matrix_<N>ticks_sh<k>.npz`` and
``chord_sequence_sh<k>.npz`` (no pickle is executed: ``.npz`` without object
arrays) for the chosen transpositions and keeps the chosen pieces:

* ``inputs``: ``N × P`` uint8, all pieces of all transpositions concatenated
  (``N × (P + 12)`` with ``chord_input``: the chord tones of the *next* step's
  chord appended, see :func:`bach2.chord_sequence.chord_tones`; then, with
  ``metre_input``, the METRE_FEATURES of the next step's position in its bar,
  see :mod:`bach2.music.metre`);
* with ``articulation`` a step is ``2P`` wide, inputs and targets: the pitch matrix, then the onset
  plane (1 where a pitch is struck, so a held note and a repeated one differ);
* ``targets``: ``N × P`` (polyphonic) or ``N × (P + 1)`` (monophonic: the
  bass line one-hot, last column = rest) uint8;
* ``step_chords``: ``N`` int16 chord index per step (the chord of its quarter note);
* ``positions``: ``N × 2`` int16 (position in the bar, steps in the bar), or None
  where the prepared folder predates them;
* ``piece_starts``: ``n + 1`` int64; ``names``: one per piece and transposition.

With ``pad`` > 0 every piece starts with that many silent steps, so that with
``pad`` = SEQUENCE_LENGTH every real step, the first included, is the target of
a window (the convention of the JSB Chorales benchmark: every frame is predicted).

Two crops reproduce journal runs: ``piece_steps`` keeps only the first steps of
each piece (64 = the first 4 bars of 4/4, the journal's epoch-311 run), and
``max_steps`` only the first steps of all pieces concatenated in order (the
journal's ``pitch_matrix[:4800]``); they apply in that order, after ``pad``.

A prepared folder may hold ``split.json`` (``{'train': [names], 'valid': [...],
…}``): a fixed split by piece name, used instead of the split by BWV number.
"""
import dataclasses
import json
import pathlib
import zipfile

import numpy as np

from bach2.chord_sequence import CHORD_VECTORS, NO_CHORD, chord_tones
from bach2.common import CorpusError
from bach2.data.prepare import BAR_POSITIONS, ONSETS
from bach2.data.training_windows import concatenate_pieces, split_by_bwv
from bach2.music.metre import next_step_features, pad_positions
from bach2.time_series_to_pitch_matrix import JOURNAL_RESOLUTION, JOURNAL_STEP_TICKS, LOWEST_PITCH, bass_line


@dataclasses.dataclass
class TrainingSet:
    inputs: np.ndarray
    targets: np.ndarray
    step_chords: np.ndarray
    piece_starts: np.ndarray
    names: list
    positions: np.ndarray = None

    @property
    def n_steps(self):
        return len(self.inputs)

    def chord_vectors(self, rows):
        """``B × 12`` float32 chord vectors of the given rows (zeros where no chord)."""
        chords = self.step_chords[rows]
        vectors = CHORD_VECTORS[np.maximum(chords, 0)].astype(np.float32)
        vectors[chords == NO_CHORD] = 0.0
        return vectors


def piece_names(data_dir, step_ticks=JOURNAL_STEP_TICKS):
    """Names of the prepared pieces (from ``sh0``)."""
    return read_sequences(_path(data_dir, f'pitch_matrix_{step_ticks}ticks_sh0.npz'), 'pitch_matrices')[1]


SPLIT_FILE = 'split.json'
NPZ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)   # what a damaged .npz raises


def unreadable(path, error):
    """The CorpusError for a damaged prepared file."""
    return CorpusError(f'{path}: not readable prepared data ({error}); run `bach2 prepare` again')


def read_split(data_dir):
    """``split.json`` of a prepared folder → {split name: [piece names]}, or None when there is none."""
    path = pathlib.Path(data_dir) / SPLIT_FILE
    if not path.exists():
        return None
    try:
        split = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorpusError(f'{path}: not a readable split file ({error})') from None
    if not isinstance(split, dict) or not all(isinstance(names, list) for names in split.values()):
        raise CorpusError(f'{path}: expected {{"train": [piece names], "valid": [...]}}')
    return split


def split_indices(names, split, split_name, data_dir):
    """Indices into ``names`` of the pieces of ``split[split_name]``; CorpusError naming what is missing."""
    if split_name not in split:
        raise CorpusError(f'{data_dir}/{SPLIT_FILE}: no split named {split_name!r} (there are {", ".join(split)})')
    position = {name: i for i, name in enumerate(names)}
    missing = [name for name in split[split_name] if name not in position]
    if missing:
        raise CorpusError(f'{data_dir}/{SPLIT_FILE}: {len(missing)} piece(s) of {split_name!r} are not prepared, '
                          f'e.g. {missing[0]!r}')
    return [position[name] for name in split[split_name]]


def split_pieces(data_dir, step_ticks, valid_fraction, seed):
    """(train, valid) piece indices of a prepared folder, the split of stage 3: the folder's ``split.json`` if it
    has one, else by BWV number (a ``valid_fraction`` of the works held out, drawn with ``seed``)."""
    names = piece_names(data_dir, step_ticks)
    split = read_split(data_dir)
    if split is None:
        return split_by_bwv(names, valid_fraction, seed)
    return (split_indices(names, split, 'train', data_dir),
            split_indices(names, split, 'valid', data_dir) if 'valid' in split else [])


def prepared_geometry(data_dir):
    """→ (step_ticks, n_pitches, lowest_pitch) of the ``sh0`` pitch matrices of a prepared folder."""
    found = sorted(_folder(data_dir).glob('pitch_matrix_*ticks_sh0.npz'))
    if not found:
        raise CorpusError(f'{data_dir}: no pitch_matrix_<N>ticks_sh0.npz; run `bach2 prepare` first')
    if len(found) > 1:
        raise CorpusError(f'{data_dir}: pitch matrices of several step sizes ({", ".join(p.name for p in found)}); '
                          'keep one per folder')
    try:
        with np.load(found[0], allow_pickle=False) as arrays:
            n_pitches = arrays['pitch_matrices'].shape[1]
            lowest_pitch = int(arrays['lowest_pitch']) if 'lowest_pitch' in arrays.files else LOWEST_PITCH
    except NPZ_ERRORS as error:
        raise unreadable(found[0], error) from None
    return int(found[0].name.split('_')[2][:-len('ticks')]), int(n_pitches), lowest_pitch


def _folder(data_dir):
    """``data_dir`` as a Path; CorpusError when it is not a folder."""
    folder = pathlib.Path(data_dir)
    if not folder.is_dir():
        problem = 'not a folder' if folder.exists() else 'no such folder'
        raise CorpusError(f'{folder}: {problem}; prepared training data goes there with `bach2 prepare --out {folder}`')
    return folder


def _path(data_dir, name):
    path = _folder(data_dir) / name
    if not path.exists():
        raise CorpusError(f'{path}: no such file; run `bach2 prepare` first')
    return path


def read_sequences(npz_path, key):
    """``.npz`` of stage 1 or 2 → (list of per-piece arrays, names); CorpusError naming the file if unreadable."""
    try:
        with np.load(npz_path, allow_pickle=False) as arrays:
            data, starts = arrays[key], arrays['piece_starts']
            names = [str(name) for name in arrays['names']]
    except NPZ_ERRORS as error:
        raise unreadable(npz_path, error) from None
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


def records(npz_path, key):
    """Whether a stage-1 ``.npz`` holds ``key`` (arrays that later versions of stage 1 added: bar positions,
    onsets), read from its index without loading any array."""
    try:
        with np.load(npz_path, allow_pickle=False) as arrays:
            return key in arrays.files
    except NPZ_ERRORS as error:
        raise unreadable(npz_path, error) from None


def read_recorded(npz_path, key, required, what):
    """Per-piece arrays ``key`` of a stage-1 ``.npz`` that later versions of stage 1 added (bar positions,
    onsets). A file that predates them: CorpusError naming ``what`` needs them when ``required``, else None."""
    if records(npz_path, key):
        return read_sequences(npz_path, key)[0]
    if required:
        raise CorpusError(f'{npz_path}: prepared before {key.replace("_", " ")} were recorded; run `bach2 prepare` '
                          f'again for {what}')
    return None


def read_positions(npz_path, required=True):
    """Per-piece ``T × 2`` bar positions of a stage-1 ``.npz`` (None, or CorpusError when ``required``, for a
    file that predates them)."""
    return read_recorded(npz_path, BAR_POSITIONS, required, 'a model with metre input')


def read_steps(npz_path, articulation=False):
    """→ (per-piece steps, names) of a stage-1 ``.npz``: ``T × P`` pitch matrices, or with ``articulation``
    ``T × 2P`` (the pitch matrix, then the onset plane: 1 where a pitch is struck)."""
    matrices, names = read_sequences(npz_path, 'pitch_matrices')
    if articulation:
        onsets = read_recorded(npz_path, ONSETS, True, 'a model of struck and held notes')
        matrices = [np.concatenate([matrix, struck], axis=1) for matrix, struck in zip(matrices, onsets)]
    return matrices, names


def load_piece(data_dir, name, transposition=0, step_ticks=JOURNAL_STEP_TICKS, positions=False, articulation=False):
    """One prepared piece by name → (``T × P`` uint8 pitch matrix (``T × 2P`` with ``articulation``, see
    :func:`read_steps`), ``T`` int16 chord per step), and with ``positions`` its ``T × 2`` bar positions
    (None in a folder prepared before them)."""
    path = _path(data_dir, f'pitch_matrix_{step_ticks}ticks_sh{transposition}.npz')
    matrices, names = read_steps(path, articulation)
    if name not in names:
        raise CorpusError(f'{data_dir}: no prepared piece named {name!r} (there are {len(names)}, '
                          f'e.g. {", ".join(names[:3])})')
    chord_sequences, _ = read_sequences(_path(data_dir, f'chord_sequence_sh{transposition}.npz'), 'chord_sequences')
    i = names.index(name)
    piece = matrices[i], step_chord_indices(chord_sequences[i], len(matrices[i]), JOURNAL_RESOLUTION // step_ticks)
    if not positions:
        return piece
    recorded = read_positions(path, required=False)
    return (*piece, None if recorded is None else recorded[i])


def pad_start(array, pad, fill=0):
    """``array`` with ``pad`` rows of ``fill`` before its first row."""
    return np.concatenate([np.full((pad,) + array.shape[1:], fill, array.dtype), array]) if pad else array


@dataclasses.dataclass(frozen=True)
class Rows:
    """What a model reads in each row of a training set (from its :class:`~bach2.models.model_config.ModelConfig`)."""
    monophonic: bool = False     # the bass line (:func:`bass_line`); the targets get a rest unit
    chord_input: bool = False    # the next step's chord tones (12) appended to each input row
    metre_input: bool = False    # the next step's metre features appended (every piece needs bar positions)
    articulation: bool = False   # read each step ``2P`` wide, the onset plane after the pitches (:func:`read_steps`)


@dataclasses.dataclass(frozen=True)
class Crop:
    """Which steps of the pieces a training set keeps (:func:`crop_pieces`); 0 = no limit."""
    pad: int = 0                 # silent steps before each piece
    piece_steps: int = 0         # each piece's first steps only (the journal's first 4 bars: 64)
    max_steps: int = 0           # the first steps of all the pieces in order (the journal's pitch_matrix[:4800])


def load_training_set(data_dir, piece_indices, transpositions=range(12), step_ticks=JOURNAL_STEP_TICKS, rows=Rows(),
                      crop=Crop()):
    """The pieces ``piece_indices`` in the transpositions ``sh<k>`` → :class:`TrainingSet` of ``rows``, cropped
    by ``crop`` (:func:`build_training_set`); the bar positions are read when the folder has them (and must be,
    with ``rows.metre_input``). A piece with 0 steps in sh<k> (left out of that key) is skipped there."""
    steps_per_quarter = JOURNAL_RESOLUTION // step_ticks
    pieces = []
    for k in transpositions:
        path = _path(data_dir, f'pitch_matrix_{step_ticks}ticks_sh{k}.npz')
        matrices, piece_names_k = read_steps(path, rows.articulation)
        chord_sequences, _ = read_sequences(_path(data_dir, f'chord_sequence_sh{k}.npz'), 'chord_sequences')
        positions = read_positions(path, required=rows.metre_input) or [None] * len(matrices)
        pieces += [(matrices[i], step_chord_indices(chord_sequences[i], len(matrices[i]), steps_per_quarter),
                    f'{piece_names_k[i]}_sh{k}', positions[i]) for i in piece_indices if len(matrices[i])]
    return build_training_set(pieces, rows, crop)


def crop_pieces(pieces, piece_steps=0, max_steps=0, pad=0):
    """[(matrix, chords, name[, positions])] → [(matrix, chords, name, positions or None)]: each piece's
    first ``piece_steps`` steps, ``pad`` silent steps before it (their positions counted back), then only
    the first ``max_steps`` steps of them all in order (the last piece kept cut); 0 = no limit."""
    cropped, remaining = [], max_steps or None
    for matrix, step_chords, name, *positions in pieces:
        positions = positions[0] if positions else None
        if piece_steps:
            matrix, step_chords = matrix[:piece_steps], step_chords[:piece_steps]
            positions = None if positions is None else positions[:piece_steps]
        matrix, step_chords = pad_start(matrix, pad), pad_start(np.asarray(step_chords, np.int16), pad, NO_CHORD)
        positions = None if positions is None else pad_positions(positions, pad)
        if remaining is not None:
            if remaining <= 0:
                break
            matrix, step_chords = matrix[:remaining], step_chords[:remaining]
            positions = None if positions is None else positions[:remaining]
            remaining -= len(matrix)
        cropped.append((matrix, step_chords, name, positions))
    return cropped


def build_training_set(pieces, rows=Rows(), crop=Crop()):
    """[(``T × P`` pitch matrix, ``T`` chord per step, name[, ``T × 2`` bar positions])] → :class:`TrainingSet`
    whose input rows hold what ``rows`` says (its ``articulation`` is how the pieces were read), the pieces
    cropped by ``crop`` (:func:`crop_pieces`)."""
    inputs, targets, chords, names, positions = [], [], [], [], []
    for matrix, step_chords, name, piece_positions in crop_pieces(pieces, crop.piece_steps, crop.max_steps, crop.pad):
        if rows.monophonic:
            bass = bass_line(matrix)
            rest = (bass.sum(axis=1) == 0).astype(np.uint8)[:, None]
            inputs.append(bass)
            targets.append(np.concatenate([bass, rest], axis=1))
        else:
            inputs.append(matrix)
            targets.append(matrix)
        if rows.chord_input:
            inputs[-1] = np.concatenate([inputs[-1], next_step_chord_tones(step_chords)], axis=1)
        if rows.metre_input:
            if piece_positions is None:
                raise CorpusError(f'{name}: no bar positions for a model with metre input')
            inputs[-1] = np.concatenate([inputs[-1], next_step_features(piece_positions)], axis=1)
        chords.append(step_chords)
        names.append(name)
        positions.append(piece_positions)
    data, starts = concatenate_pieces(inputs)
    separate_targets = rows.monophonic or rows.chord_input or rows.metre_input
    return TrainingSet(inputs=data, targets=concatenate_pieces(targets)[0] if separate_targets else data,
                       step_chords=np.concatenate(chords).astype(np.int16), piece_starts=starts, names=names,
                       positions=None if any(p is None for p in positions) else np.concatenate(positions))


def select_pieces(data, max_frames, seed=0):
    """Whole pieces of ``data`` in a fixed random order (``seed``) while their frames stay within ``max_frames``
    (the first piece always) → a smaller :class:`TrainingSet`."""
    lengths = np.diff(data.piece_starts)
    chosen, total = [], 0
    for i in np.random.default_rng(seed).permutation(len(lengths)):
        if chosen and total + lengths[i] > max_frames:
            continue
        chosen.append(int(i))
        total += lengths[i]
    chosen.sort()
    rows = np.concatenate([np.arange(data.piece_starts[i], data.piece_starts[i + 1]) for i in chosen])
    starts = np.concatenate([[0], np.cumsum(lengths[chosen])]).astype(np.int64)
    targets = data.targets[rows] if data.targets is not data.inputs else None
    inputs = data.inputs[rows]
    return TrainingSet(inputs=inputs, targets=inputs if targets is None else targets,
                       step_chords=data.step_chords[rows], piece_starts=starts, names=[data.names[i] for i in chosen],
                       positions=None if data.positions is None else data.positions[rows])
