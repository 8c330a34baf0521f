"""Stages 0–2 as files on disk: the training data of Bach2.0.

* stage 0 — :func:`read_corpus`: every MIDI file of a folder → :class:`Piece`
  (bad files listed with their reason, never fatal), several movements split,
  pieces skipped by time signature; writes ``time_series.p``.
* stage 1 — :func:`write_pitch_matrices`: ``pitch_matrix_<N>ticks_sh<k>.p`` for
  k = 0 … 11 (or ``…_toC.p``, every piece in C major / C minor), each a dict
  ``{'names', 'pitch_matrices': [T_i × 61 uint8], 'bar_positions': [T_i × 2 int16], …}``
  (each step's position in its bar and the bar's length in steps, from the time
  signatures: :mod:`bach2.music.metre`), plus the same arrays as ``.npz`` (rows of all
  pieces concatenated, ``piece_starts`` marks where each begins).
* stage 2 — :func:`write_chord_sequences`: ``chord_sequence_sh<k>.p`` / ``.npz``
  (one chord index per quarter note, into ``chord_names``) and
  ``manifest.json`` (piece, key, time signatures, key changes, repairs,
  steps, notes left outside the pitch window).

Every file is written atomically; the pickles hold only dicts, lists, strings,
numbers and NumPy arrays, so plain ``pickle.load`` reads them in IPython.
"""
import dataclasses
import json
import multiprocessing
import os
import pathlib

import numpy as np
from tqdm import tqdm

from bach2.chord_sequence import CHORD_NAMES, chord_indices, beat_profiles, transpose_chord_indices
from bach2.common import MIDI_SUFFIXES, CorpusError
from bach2.data.piece_filters import key_changes, skipped_for_time_signature, split_movements, time_signature_names
from bach2.midi_to_time_series import MidiFileError, Piece, midi_to_time_series
from bach2.music.key_finding import find_key, find_key_by_pitch_count, key_name, pitch_class_histogram, semitones_to_c
from bach2.music.metre import piece_positions
from bach2.safe_io import atomic_path, load_pickle, save_npz, save_pickle
from bach2.time_series_to_pitch_matrix import (JOURNAL_STEP_TICKS, LOWEST_PITCH, N_PITCHES, full_roll, note_arrays,
                                               note_steps, notes_outside, onset_roll, shift_semitones, ticks_per_step,
                                               window)

TIME_SERIES_FILE = 'time_series.p'
MANIFEST_FILE = 'manifest.json'
BAR_POSITIONS = 'bar_positions'     # per step (position in its bar, steps in that bar), see bach2.music.metre
ONSETS = 'onsets'                   # per step and pitch, 1 where a note is struck (T × P uint8)


@dataclasses.dataclass
class PrepareConfig:
    """What the training data looks like; the defaults are the journal's."""
    step_ticks: int = JOURNAL_STEP_TICKS   # one step in ticks at 96 per quarter (24 = a 16th note)
    lowest_pitch: int = LOWEST_PITCH       # MIDI pitch of column 0 (24: data shifted down two octaves)
    n_pitches: int = N_PITCHES
    transpose: str = 'all'                 # 'all': sh0 … sh11; 'c': each piece to C major / C minor
    skip_time_signatures: tuple = ()       # e.g. ('3/4',): pieces with any of these are left out
    split_movements: bool = True


def find_midi_files(folder):
    """All ``.mid`` / ``.midi`` files under ``folder``, sorted; CorpusError if there is none."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise CorpusError(f'{folder}: {"not a folder" if folder.exists() else "no such folder"}')
    files = sorted(p for p in folder.rglob('*') if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    if not files:
        raise CorpusError(f'{folder}: no .mid or .midi files in this folder')
    return files


def _read(path):
    """Worker: path → (path, Piece or None, one-line error or None)."""
    try:
        return path, midi_to_time_series(path), None
    except MidiFileError as error:
        return path, None, str(error)


def read_corpus(paths, config=PrepareConfig(), processes=None, progress=True, min_steps=0):
    """Stage 0 on many files → (pieces, failures [(path, reason)], skipped [(name, reason)]).

    Bad files do not stop the run, but :class:`CorpusError` is raised when no
    file gives a usable piece; movements are split and time signatures
    filtered as ``config`` says; pieces shorter than ``min_steps`` steps are
    skipped. Uses ``processes`` worker processes (default: all cores).
    """
    paths = [str(p) for p in paths]
    processes = processes or min(os.cpu_count() or 1, max(1, len(paths) // 8))
    bar = tqdm(total=len(paths), desc='stage 0: MIDI → time series', unit='file', disable=not progress)
    results = []
    if processes > 1:
        with multiprocessing.Pool(processes) as pool:
            for result in pool.imap(_read, paths, chunksize=8):
                results.append(result)
                bar.update()
    else:
        for path in paths:
            results.append(_read(path))
            bar.update()
    bar.close()
    pieces, failures, skipped = [], [], []
    for path, piece, error in results:
        if error:
            failures.append((path, error))
            continue
        for movement in (split_movements(piece) if config.split_movements else [piece]):
            reason = skipped_for_time_signature(movement, config.skip_time_signatures)
            if reason:
                skipped.append((movement.name, f'time signature {reason}'))
            elif movement.n_notes == 0:
                skipped.append((movement.name, 'no notes'))
            elif min_steps and piece_steps(movement, config.step_ticks) < min_steps:
                skipped.append((movement.name, f'{piece_steps(movement, config.step_ticks)} steps, shorter than '
                                               f'SEQUENCE_LENGTH + 1 = {min_steps}'))
            else:
                movement.name = _unique(movement.name, {p.name for p in pieces})
                pieces.append(movement)
    if not pieces:
        folder = os.path.commonpath([os.path.dirname(path) for path in paths]) if paths else 'no files'
        reasons = [reason for _, reason in failures] + [f'{name}: {reason}' for name, reason in skipped]
        first = f'; first: {reasons[0]}' if reasons else ''
        raise CorpusError(f'{folder}: none of its {len(paths)} MIDI files gave a usable piece '
                          f'({len(failures)} unreadable, {len(skipped)} skipped{first})')
    return pieces, failures, skipped


def piece_steps(piece, step_ticks=JOURNAL_STEP_TICKS):
    """Length of a piece in steps of ``step_ticks`` (at 96 ticks per quarter): rows of its pitch matrix."""
    return int(note_steps(piece, ticks_per_step(piece.resolution, step_ticks))[2].max())


def _unique(name, taken):
    """``name``, or ``name_2``, ``name_3`` … if two files share a name in different folders."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f'{name}_{n}'
    return candidate


def write_time_series(pieces, out_dir, failures=(), skipped=()):
    """Stage 0 output: ``time_series.p`` = {'pieces': [plain-dict pieces, see ``Piece.to_dict``],
    'failed_files': [(path, reason)], 'skipped': [(piece, reason)]}."""
    path = pathlib.Path(out_dir) / TIME_SERIES_FILE
    save_pickle({'pieces': [piece.to_dict() for piece in pieces], 'failed_files': list(failures),
                 'skipped': list(skipped)}, path)
    return path


def load_time_series(out_dir):
    """Read stage 0's ``time_series.p`` (restricted unpickler) → (pieces, failures, skipped)."""
    path = pathlib.Path(out_dir) / TIME_SERIES_FILE
    if not path.exists():
        raise CorpusError(f'{path}: no such file; run stage 0 (bach2 prepare, or stage0_midi_to_time_series.py) first')
    data = load_pickle(path)
    return [Piece.from_dict(piece) for piece in data['pieces']], data['failed_files'], data['skipped']


def piece_key(piece):
    """Krumhansl–Schmuckler key of a piece → ('A', 'minor')."""
    return find_key(pitch_class_histogram(full_roll(piece, ticks_per_step(piece.resolution))))


def transposition_shifts(config, keys):
    """{label: [semitones per piece]}: 'sh0' … 'sh11', or 'toC' (each piece's tonic to C)."""
    if config.transpose == 'c':
        return {'toC': [semitones_to_c(key) for key in keys]}
    if config.transpose == 'all':
        return {f'sh{k}': [shift_semitones(k)] * len(keys) for k in range(12)}
    raise ValueError(f"transpose must be 'all' or 'c', not {config.transpose!r}")


def pitch_matrix_name(config, label):
    """'pitch_matrix_24ticks_sh2' — the journal's file name (step in ticks at 96 per quarter)."""
    return f'pitch_matrix_{config.step_ticks}ticks_{label}'


def save_sequences(out_dir, stem, key, sequences, names, per_step=None, **extra):
    """Write ``stem.p`` ({'names', key: [arrays], **per_step, **extra}) and ``stem.npz`` (concatenated +
    piece_starts). ``per_step``: {name: [arrays, one per piece, as long as its sequence]}, stored like ``key``."""
    out_dir = pathlib.Path(out_dir)
    per_step = per_step or {}
    save_pickle({'names': list(names), key: sequences, **per_step, **extra}, out_dir / f'{stem}.p')
    starts = np.concatenate([[0], np.cumsum([len(s) for s in sequences])]).astype(np.int64)
    save_npz(out_dir / f'{stem}.npz', **{key: np.concatenate(sequences), 'piece_starts': starts,
                                         'names': np.array(names)},
             **{name: np.concatenate(arrays) for name, arrays in per_step.items()},
             **{name: np.asarray(value) for name, value in extra.items()})
    return out_dir / f'{stem}.p'



def write_pitch_matrices(pieces, out_dir, config=PrepareConfig(), keys=None, progress=True):
    """Stage 1 → {label: (pickle path, notes left outside the window per piece)}."""
    keys = keys or [piece_key(piece) for piece in pieces]
    steps = [ticks_per_step(piece.resolution, config.step_ticks) for piece in pieces]
    rolls = [full_roll(piece, step) for piece, step in zip(pieces, steps)]
    onset_rolls = [onset_roll(piece, step) for piece, step in zip(pieces, steps)]
    positions = [piece_positions(piece, config.step_ticks, len(roll)) for piece, roll in zip(pieces, rolls)]
    written = {}
    shifts = transposition_shifts(config, keys)
    for label, semitones in tqdm(shifts.items(), desc='stage 1: pitch matrices', unit='key',
                                 disable=not progress):
        matrices, onsets = ([window(roll, config.lowest_pitch, config.n_pitches, shift)
                             for roll, shift in zip(source, semitones)] for source in (rolls, onset_rolls))
        outside = [notes_outside(note_arrays(piece)[1], config.lowest_pitch, config.n_pitches, shift)
                   for piece, shift in zip(pieces, semitones)]
        path = save_sequences(out_dir, pitch_matrix_name(config, label), 'pitch_matrices', matrices,
                               [p.name for p in pieces], per_step={BAR_POSITIONS: positions, ONSETS: onsets},
                               semitones=semitones, step_ticks=config.step_ticks,
                               lowest_pitch=config.lowest_pitch, notes_outside=outside)
        written[label] = (path, outside)
    return written


def write_chord_sequences(pieces, out_dir, config=PrepareConfig(), keys=None, failures=(), skipped=(),
                          progress=True):
    """Stage 2: chord sequences per transposition and ``manifest.json`` → manifest path."""
    keys = keys or [piece_key(piece) for piece in pieces]
    rolls = [full_roll(piece, ticks_per_step(piece.resolution)) for piece in pieces]   # 16ths: 4 per beat
    chords = [chord_indices(beat_profiles(roll)) for roll in tqdm(rolls, desc='stage 2: chords', unit='piece',
                                                                    disable=not progress)]
    shifts = transposition_shifts(config, keys)
    for label, semitones in shifts.items():
        save_sequences(out_dir, f'chord_sequence_{label}', 'chord_sequences',
                        [transpose_chord_indices(c, s) for c, s in zip(chords, semitones)],
                        [p.name for p in pieces], semitones=semitones,
                        chord_names=[f'{root} {quality}' for root, quality in CHORD_NAMES])
    manifest = {
        'config': dataclasses.asdict(config),
        'pieces': [_manifest_entry(piece, roll, key, config, {label: shift[i] for label, shift in shifts.items()})
                   for i, (piece, roll, key) in enumerate(zip(pieces, rolls, keys))],
        'failed_files': [{'file': path, 'reason': reason} for path, reason in failures],
        'skipped': [{'piece': name, 'reason': reason} for name, reason in skipped],
    }
    path = pathlib.Path(out_dir) / MANIFEST_FILE
    with atomic_path(path) as temporary, open(temporary, 'w') as handle:
        json.dump(manifest, handle, indent=1)
    return path


def _manifest_entry(piece, roll, key, config, shifts):
    """One piece's line of the manifest; ``shifts``: {label: semitones this piece moves}."""
    _, pitches, _ = note_arrays(piece)
    first, _, last = note_steps(piece, ticks_per_step(piece.resolution, config.step_ticks))
    histogram = pitch_class_histogram(roll)
    return {
        'piece': piece.name, 'key': key_name(key),
        'key_by_pitch_count': key_name(find_key_by_pitch_count(histogram)),
        'time_signatures': sorted(time_signature_names(piece)),
        'key_changes': [{'tick': tick, 'key': k} for tick, k in key_changes(piece)],
        'repairs': dataclasses.asdict(piece.repairs), 'notes': piece.n_notes,
        'steps': int(last.max()), 'quarter_notes': len(beat_profiles(roll)),
        'notes_outside_window': {label: notes_outside(pitches, config.lowest_pitch, config.n_pitches, shift)
                                 for label, shift in shifts.items()},
    }


def prepare_training_data(data_dir, out_dir, config=PrepareConfig(), processes=None, progress=True, min_steps=0):
    """Stages 0–2 on a folder of MIDI → dict(pieces, failures, skipped, files written).

    Raises :class:`CorpusError`, before writing anything, when the folder holds
    no MIDI or no usable piece (``min_steps``: pieces shorter are skipped).
    """
    paths = find_midi_files(data_dir)
    pieces, failures, skipped = read_corpus(paths, config, processes, progress, min_steps)
    written = [write_time_series(pieces, out_dir, failures, skipped)]
    keys = [piece_key(piece) for piece in pieces]
    for path, _ in write_pitch_matrices(pieces, out_dir, config, keys, progress).values():
        written += [path, path.with_suffix('.npz')]
    manifest = write_chord_sequences(pieces, out_dir, config, keys, failures, skipped, progress)
    written += [manifest.parent / f'chord_sequence_{label}{suffix}'
                for label in transposition_shifts(config, keys) for suffix in ('.p', '.npz')] + [manifest]
    return {'pieces': pieces, 'failures': failures, 'skipped': skipped, 'written': written}
