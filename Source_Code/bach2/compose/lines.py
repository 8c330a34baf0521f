"""Pieces of one line per voice (``lines``, ``chain``, ``harmonize``, ``fugue``) made ready for the writer
(:mod:`bach2.render.piece`), and how the models that compose them draw (:class:`Sampling`).

Lines are ``T`` int64 pitch-matrix columns, P = rest (as :mod:`bach2.models.line_model`), with ``T`` bool
onsets (True where a note is struck).
"""
import dataclasses

import numpy as np

from bach2.render.piece import Composition
from bach2.time_series_to_pitch_matrix import pitch_matrix_to_time_series


@dataclasses.dataclass(frozen=True)
class Sampling:
    """How the models draw: ``temperature`` (1: as the model learnt; lower: more predictable; higher: more
    surprising), ``seed`` of the random draws; ``progress(fraction)``, when given, called as the drawing goes."""
    temperature: float = 1.0
    seed: int = 0
    progress: object = None


def lines_piece(lines, geometry, onsets=None, chords=None, lead_steps=0):
    """{voice name: ``T`` line} read in ``geometry`` (:class:`~bach2.music.geometry.Geometry`: step, pitch
    window) → a :class:`~bach2.render.piece.Composition` with one voice per line.

    ``onsets`` {voice name: ``T`` bool}: where each voice strikes its note (None: a note lasts while its pitch
    stays); ``chords``: one per quarter note, labelled under the piano roll (None: found from the notes);
    ``lead_steps``: steps of the first bar before the first step: the piece starts with a pickup, the rest of
    that bar (the notes stay where they are, from tick 0; the MIDI's first bar and the score's first measure
    are short). The record keeps the ``lines``, the ``voice_onsets`` and the ``chords``.
    """
    from bach2.models.line_model import line_to_matrix     # lazy: line_model loads pytensor and jax
    voices, matrices, planes = {}, [], []
    for name, line in lines.items():
        matrix = line_to_matrix(line, geometry.n_pitches)
        struck = None if onsets is None else matrix * np.asarray(onsets[name], np.uint8)[:, None]
        notes = pitch_matrix_to_time_series(matrix, step=geometry.step_ticks, lowest_pitch=geometry.lowest_pitch,
                                            onsets=struck)
        voices[name] = notes
        matrices.append(matrix)
        planes.append(struck)
    combined = np.zeros((max(len(matrix) for matrix in matrices), geometry.n_pitches), np.uint8)
    struck = None if onsets is None else np.zeros_like(combined)
    for matrix, plane in zip(matrices, planes):
        combined[:len(matrix)] |= matrix
        if plane is not None:
            struck[:len(plane)] |= plane
    record = {'lines': {name: np.asarray(line) for name, line in lines.items()},
              'voice_onsets': None if onsets is None else {name: np.asarray(o) for name, o in onsets.items()},
              'chords': None if chords is None else np.asarray(chords)}
    return Composition(voices, combined, geometry.lowest_pitch, record, geometry.step_ticks, onsets=struck,
                       lead_steps=lead_steps, chords='auto' if chords is None else chords)
