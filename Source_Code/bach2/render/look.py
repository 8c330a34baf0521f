"""Look: a MIDI file or a pickled pitch matrix → piano-roll PNG with the stage-2 chords under it.

Accepted files:

* ``.mid`` / ``.midi``: read by stage 0, sampled at 16ths by stage 1 over the
  piece's own pitch span (whole octaves), chords by stage 2;
* a piece of ``bach2 generate`` (``.p`` with ``pitch_matrix``, ``lowest_pitch``
  and ``primer``): primer and continuation, the primer shaded;
* a stage-1 pickle (``pitch_matrix_24ticks_sh<k>.p``): one piece of it, by name.

The bar lines are the piece's: from the MIDI file's time signatures, or the ``bar_positions`` a pickle
keeps (:mod:`bach2.music.metre`); bars of 4/4 where it keeps none.
"""
import pathlib

import numpy as np

from bach2.common import MIDI_SUFFIXES, CorpusError
from bach2.midi_to_time_series import MidiFileError, midi_to_time_series
from bach2.music.metre import pad_positions, piece_positions
from bach2.render.piano_roll import RollLabels, plot_piano_roll
from bach2.render.windows_figure import plot_windows
from bach2.safe_io import load_pickle
from bach2.time_series_to_pitch_matrix import (JOURNAL_RESOLUTION, JOURNAL_STEP_TICKS, LOWEST_PITCH, pitch_span,
                                               time_series_to_pitch_matrix)


def midi_pitch_matrix(path):
    """MIDI file → (``T × P`` uint8 pitch matrix at 16ths, lowest MIDI pitch, ``T × 2`` bar positions of its
    time signatures), P spanning whole octaves."""
    piece = midi_to_time_series(path)
    span = pitch_span(piece)
    if span is None:
        raise MidiFileError(path, 'no notes to draw')
    lowest = span[0] - span[0] % 12
    highest = span[1] + 11 - span[1] % 12
    matrix, _ = time_series_to_pitch_matrix(piece, lowest_pitch=lowest, n_pitches=highest - lowest + 1)
    return matrix, lowest, piece_positions(piece, JOURNAL_STEP_TICKS, len(matrix))


def load_pitch_matrix(path, piece=None):
    """A ``.mid`` or ``.p`` file → dict(matrix ``T × P``, lowest_pitch, step_ticks, primer_steps, title,
    positions: ``T × 2`` bar positions, None where the pickle keeps none).

    ``piece``: the name of a piece inside a stage-1 pickle (default: its first).
    """
    path = pathlib.Path(path)
    if path.suffix.lower() in MIDI_SUFFIXES:
        matrix, lowest, positions = midi_pitch_matrix(path)
        return {'matrix': matrix, 'lowest_pitch': lowest, 'step_ticks': JOURNAL_STEP_TICKS,
                'primer_steps': 0, 'title': path.stem, 'positions': positions}
    if not path.is_file():
        raise CorpusError(f'{path}: no such file')
    data = load_pickle(path)
    if isinstance(data, np.ndarray):
        data = {'pitch_matrix': data}
    if not isinstance(data, dict):
        raise CorpusError(f'{path}: not a pitch matrix pickle (holds a {type(data).__name__})')
    step_ticks = int(data.get('step_ticks', JOURNAL_STEP_TICKS))
    lowest = int(data.get('lowest_pitch', LOWEST_PITCH))
    if 'pitch_matrices' in data:
        names = list(data['names'])
        name = piece or names[0]
        if name not in names:
            raise CorpusError(f'{path}: no piece named {name!r} (it holds {len(names)}, e.g. {names[0]})')
        positions = data.get('bar_positions')
        return {'matrix': np.asarray(data['pitch_matrices'][names.index(name)]), 'lowest_pitch': lowest,
                'step_ticks': step_ticks, 'primer_steps': 0, 'title': f'{name} ({path.name})',
                'positions': None if positions is None else positions[names.index(name)]}
    if 'pitch_matrix' not in data:
        raise CorpusError(f'{path}: a pickle without pitch_matrix or pitch_matrices')
    matrix = np.asarray(data['pitch_matrix'])
    primer = np.asarray(data['primer']) if data.get('primer') is not None else np.zeros((0, matrix.shape[1]))
    if matrix.ndim != 2 or primer.ndim != 2 or primer.shape[1] != matrix.shape[1]:
        raise CorpusError(f'{path}: pitch_matrix {matrix.shape} and primer {primer.shape} are not T × P matrices')
    positions = data.get('bar_positions')                  # of the piece after the primer (bach2 generate)
    return {'matrix': np.concatenate([primer, matrix]).astype(np.uint8), 'lowest_pitch': lowest,
            'step_ticks': step_ticks, 'primer_steps': len(primer), 'title': path.stem,
            'positions': None if positions is None else pad_positions(np.asarray(positions), len(primer))}


def look_windows(paths, out, sequence_length=16, piece=None):
    """The X/Y windows figure (:mod:`bach2.render.windows_figure`) of the first ``3 × sequence_length`` steps of
    each file of ``paths`` (a lone stage-1 pickle without ``piece``: its first two pieces) → ``out``."""
    paths = [pathlib.Path(path) for path in paths]
    if len(paths) == 1 and paths[0].suffix == '.p' and piece is None and paths[0].is_file():
        data = load_pickle(paths[0])
        names = list(data.get('names', []))[:2] if isinstance(data, dict) else []
        found = [load_pitch_matrix(paths[0], name) for name in names] or [load_pitch_matrix(paths[0])]
    else:
        found = [load_pitch_matrix(path, piece) for path in paths]
    if any(len(f['matrix']) <= sequence_length for f in found):
        raise CorpusError(f'{paths[0]}: a piece is not longer than SEQUENCE_LENGTH = {sequence_length} steps')
    lowest = min(f['lowest_pitch'] for f in found)
    highest = max(f['lowest_pitch'] + f['matrix'].shape[1] for f in found)
    matrices = [np.pad(f['matrix'][:3 * sequence_length],                 # one pitch axis for all pieces
                       ((0, 0), (f['lowest_pitch'] - lowest, highest - f['lowest_pitch'] - f['matrix'].shape[1])))
                for f in found]
    return plot_windows(matrices, out, sequence_length=sequence_length, lowest_pitch=lowest,
                        names=[f['title'] for f in found])


def look(path, out=None, piece=None):
    """Draw ``path`` (see module docstring) → PNG at ``out`` (default: ``<path stem>_roll.png`` beside it)."""
    found = load_pitch_matrix(path, piece)
    out = out or pathlib.Path(path).with_name(pathlib.Path(path).stem + '_roll.png')
    steps_per_quarter = max(1, round(JOURNAL_RESOLUTION / found['step_ticks']))
    return plot_piano_roll(found['matrix'], out, found['lowest_pitch'], found['positions'], steps_per_quarter,
                           RollLabels(found['title'], found['primer_steps'], chords='auto'))
