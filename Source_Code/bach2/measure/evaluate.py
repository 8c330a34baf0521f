"""Stage 5: how good is a model, how Bach-like is its music.

* :func:`evaluate_folder`: what ``bach2 evaluate`` reports of a folder of pieces — the NLL of checkpoints read
  in their shared geometry (:func:`shared_geometry`) and musical statistics against a prepared corpus
  (:func:`corpus_statistics`);
* :func:`checkpoint_nll`: NLL per frame (nats; binary cross-entropy summed over
  pitches, averaged over frames — the literature's convention) of a checkpoint
  on pieces it never saw: every frame of a piece predicted from everything
  before it in that piece (the first from silence), the LSTM state carried
  through the piece — for a window-trained model (``targets='last'``) too.
* :func:`load_pieces`: the pieces of a folder of MIDI files (stages 0–2 in the
  original key, ``sh0``) or of a prepared folder (``bach2 prepare`` output, or
  one split of its ``split.json``, e.g. the JSB Chorales ``test`` split).
* Musical statistics against a corpus: :mod:`bach2.measure.music_statistics`.
"""
import pathlib

import numpy as np

from bach2.chord_sequence import beat_profiles, chord_indices
from bach2.common import CheckpointError, CorpusError
from bach2.data.prepare import PrepareConfig, find_midi_files, read_corpus
from bach2.data.training_set import (Crop, build_training_set, piece_names, prepared_geometry, read_positions,
                                     read_sequences, read_split, read_steps, split_indices, step_chord_indices)
from bach2.measure.music_statistics import compare, music_statistics
from bach2.models.checkpoints import checkpoint_geometry, load_rnn_checkpoint
from bach2.models.nll import stream_nll
from bach2.music.geometry import Geometry
from bach2.music.metre import piece_positions
from bach2.time_series_to_pitch_matrix import full_roll, onset_matrix, ticks_per_step, window


def is_prepared(folder):
    """True when ``folder`` holds ``bach2 prepare`` output (pitch matrices in ``sh0``)."""
    return any(pathlib.Path(folder).glob('pitch_matrix_*ticks_sh0.npz'))


def load_pieces(folder, geometry=None, split='', progress=True, articulation=False):
    """→ (Geometry, [(``T × P`` uint8 pitch matrix, ``T`` int16 chord per step, name, ``T × 2`` bar positions
    or None)], [(file, reason)]); with ``articulation`` the matrices are ``T × 2P``, the onset plane after
    the pitches (what a model with articulation reads).

    A prepared folder keeps its own geometry (which must equal ``geometry`` when
    given) and may be narrowed to one ``split``; a MIDI folder is read with ``geometry``.
    """
    if is_prepared(folder):
        found = Geometry(*prepared_geometry(folder))
        if geometry is not None and found != geometry:
            raise CheckpointError(f'{folder}: prepared with {found}, the model needs {geometry}')
        return found, prepared_pieces(folder, found, split, articulation), []
    if split:
        raise CorpusError(f'{folder}: --split needs a prepared folder with split.json, this one holds MIDI files')
    geometry = geometry or Geometry()
    return geometry, *midi_pieces(folder, geometry, progress, articulation)


def prepared_pieces(folder, geometry, split='', articulation=False):
    """The ``sh0`` pieces of a prepared folder (only those of ``split`` when given)."""
    names = piece_names(folder, geometry.step_ticks)
    chosen = range(len(names))
    if split:
        splits = read_split(folder)
        if splits is None:
            raise CorpusError(f'{folder}: no split.json, so no split named {split!r}')
        chosen = split_indices(names, splits, split, folder)
    path = pathlib.Path(folder) / f'pitch_matrix_{geometry.step_ticks}ticks_sh0.npz'
    matrices, _ = read_steps(path, articulation)
    chords, _ = read_sequences(pathlib.Path(folder) / 'chord_sequence_sh0.npz', 'chord_sequences')
    positions = read_positions(path, required=False) or [None] * len(matrices)   # None: prepared before them
    return [(matrices[i], step_chord_indices(chords[i], len(matrices[i]), geometry.steps_per_quarter), names[i],
             positions[i]) for i in chosen]


def midi_pieces(folder, geometry, progress=True, articulation=False):
    """Stages 0–2 of every MIDI file under ``folder`` in its own key → (pieces as :func:`load_pieces`, failures)."""
    config = PrepareConfig(step_ticks=geometry.step_ticks, lowest_pitch=geometry.lowest_pitch,
                           n_pitches=geometry.n_pitches)
    read, failures, _ = read_corpus(find_midi_files(folder), config, processes=1, progress=progress)
    pieces = []
    for piece in read:
        matrix = window(full_roll(piece, ticks_per_step(piece.resolution, geometry.step_ticks)),
                        geometry.lowest_pitch, geometry.n_pitches)
        if articulation:
            matrix = np.concatenate([matrix, onset_matrix(piece, geometry.step_ticks, geometry.lowest_pitch,
                                                          geometry.n_pitches)], axis=1)
        chords = chord_indices(beat_profiles(full_roll(piece, ticks_per_step(piece.resolution))))  # from 16ths
        positions = piece_positions(piece, geometry.step_ticks, len(matrix))
        pieces.append((matrix, step_chord_indices(chords, len(matrix), geometry.steps_per_quarter), piece.name,
                       positions))
    return pieces, failures


DEPTHS = (0, 32, 128, 512)      # frames into a piece where the ranges of ``nll_by_depth`` begin


def checkpoint_nll(checkpoints, pieces, backend='jax', progress=True, weights=None):
    """NLL per frame of a checkpoint, or of an ensemble of checkpoints (a list), on ``pieces`` (as :func:`load_pieces`).

    An ensemble's probability of a frame is the mean of its members' probabilities of that frame, or their
    mean weighted by ``weights`` (one per checkpoint, summing to 1; :func:`mixture_weights`): a mixture, still
    an exact likelihood. → dict: ``nll_per_frame`` (nats), ``frames``, ``pieces`` (evaluated), ``too_short``
    (names of pieces with no step at all), ``epoch`` (of the first checkpoint), ``nll_by_depth`` ({'0-32': (NLL
    per frame, frames), '32-128': …, '512-': …}: the frames that many frames into their piece, the first frame
    at depth 0; ranges without a frame left out), ``member_nlls`` (members × frames, nats).
    """
    from bach2.rnn_model import RNNModel        # PyTensor and JAX: seconds to import
    usable = [piece for piece in pieces if len(piece[0])]
    too_short = [name for matrix, _, name, *_ in pieces if not len(matrix)]
    if not usable:
        raise CorpusError(f'no piece to evaluate: all {len(pieces)} are empty')
    checkpoints = [checkpoints] if isinstance(checkpoints, (str, pathlib.Path)) else list(checkpoints)
    row_nlls, epochs = [], []
    for checkpoint in checkpoints:
        model_config, state, meta = load_rnn_checkpoint(checkpoint)
        data = build_training_set(usable, model_config.rows, Crop(pad=1))
        model = RNNModel(model_config, backend=backend)
        try:
            model.set_state(state, parameters_only=True)
        except CheckpointError as error:
            raise CheckpointError(f'{checkpoint}: {error}') from None
        row_nlls.append(stream_nll(model, data, progress=progress)[3])
        epochs.append(meta['epoch'])
    predicted = ~np.isnan(row_nlls[0])
    nll = np.stack([row_nll[predicted] for row_nll in row_nlls])             # members × frames
    mixture = mixture_nll(nll, weights)
    starts = data.piece_starts[:-1]
    rows = np.arange(len(predicted))
    depth = (rows - starts[np.searchsorted(starts, rows, side='right') - 1] - 1)[predicted]   # after the silent row
    by_depth = {}
    for low, high in zip(DEPTHS, DEPTHS[1:] + (None,)):
        inside = (depth >= low) & (depth < (high or np.inf))
        if inside.any():
            by_depth[f'{low}-{high or ""}'] = (float(mixture[inside].mean()), int(inside.sum()))
    return {'nll_per_frame': float(mixture.mean()), 'frames': int(predicted.sum()), 'pieces': len(usable),
            'too_short': too_short, 'epoch': epochs[0], 'nll_by_depth': by_depth, 'member_nlls': nll}


def mixture_nll(member_nlls, weights=None):
    """Members × frames NLL (nats) → the NLL of each frame under their mixture, −log Σ_k w_k p_k(frame), with
    ``weights`` (one per member, summing to 1; None: equal)."""
    member_nlls = np.asarray(member_nlls, float)
    weights = np.full(len(member_nlls), 1 / len(member_nlls)) if weights is None else np.asarray(weights, float)
    return -np.logaddexp.reduce(np.log(weights)[:, None] - member_nlls, axis=0)


def mixture_weights(member_nlls, iterations=500):
    """Members × frames NLL (nats) → the weights, one per member, summing to 1, of the mixture of highest
    likelihood on those frames (expectation-maximisation from equal weights)."""
    log_p = -np.asarray(member_nlls, float)
    weights = np.full(len(log_p), 1 / len(log_p))
    for _ in range(iterations):
        joint = np.log(weights)[:, None] + log_p
        weights = np.exp(joint - np.logaddexp.reduce(joint, axis=0)).mean(axis=1)
    return weights


def shared_geometry(checkpoints):
    """The :class:`Geometry` and articulation (whether their pieces are ``T × 2P``, onsets after the pitches) that
    all of ``checkpoints`` (a list of paths) were trained on → (Geometry, bool); CheckpointError naming the first
    checkpoint that differs from the first one."""
    loaded = {checkpoint: load_rnn_checkpoint(checkpoint) for checkpoint in checkpoints}
    geometries = {checkpoint: (checkpoint_geometry(meta), config.articulation)
                  for checkpoint, (config, _, meta) in loaded.items()}
    geometry, articulation = geometries[checkpoints[0]]
    for checkpoint, other in geometries.items():
        if other != (geometry, articulation):
            raise CheckpointError(f'{checkpoint}: trained on {other[0]}, articulation {other[1]}; '
                                  f'{checkpoints[0]} on {geometry}, articulation {articulation}')
    return geometry, articulation


def corpus_statistics(corpus, geometry=None, optional=False):
    """Musical statistics (:func:`bach2.measure.music_statistics.music_statistics`) of the ``sh0`` pieces of the
    prepared folder ``corpus``, read with ``geometry`` (None: its own) → (the Geometry read with, statistics).

    An ``optional`` corpus is skipped — (``geometry``, None) — when it is not prepared or was prepared with
    another geometry than the given one; a required one that is not prepared raises CorpusError.
    """
    if corpus and is_prepared(corpus):
        if optional and geometry is not None and Geometry(*prepared_geometry(corpus)) != geometry:
            return geometry, None
        geometry, pieces, _ = load_pieces(corpus, geometry, progress=False)   # another geometry: CheckpointError
        return geometry, music_statistics([m for m, *_ in pieces], geometry.lowest_pitch,
                                          geometry.steps_per_quarter, [p for *_, p in pieces])
    if not optional:
        raise CorpusError(f'{corpus}: not a prepared folder (run `bach2 prepare --out {corpus}` first)')
    return geometry, None


def evaluate_folder(folder, checkpoints=(), split='', corpus='', corpus_optional=False, backend='jax'):
    """Stage 5 on the pieces of ``folder`` (:func:`load_pieces`, narrowed to ``split``): the NLL per frame of
    ``checkpoints`` (a list; several: their ensemble, :func:`checkpoint_nll`) and musical statistics compared
    with those of the prepared ``corpus`` (:func:`corpus_statistics`), all read in the checkpoints' geometry
    (:func:`shared_geometry`) → (result: the dict ``bach2 evaluate`` writes as JSON, rows of
    :func:`bach2.measure.music_statistics.compare` or None without a corpus, [(file, reason)] unreadable)."""
    geometry, articulation = shared_geometry(checkpoints) if checkpoints else (None, False)
    geometry, corpus_found = corpus_statistics(corpus, geometry, corpus_optional)
    geometry, pieces, failures = load_pieces(folder, geometry, split, articulation=articulation)
    result = {'folder': str(folder), 'split': split, 'pieces': len(pieces),
              'unreadable': [{'file': path, 'reason': reason} for path, reason in failures]}
    if checkpoints:
        result['checkpoint'] = checkpoints[0] if len(checkpoints) == 1 else checkpoints
        nll = checkpoint_nll(checkpoints, pieces, backend)
        del nll['member_nlls']                                  # frame by frame: not for the JSON report
        result.update(nll)
    result['statistics'] = music_statistics([m[:, :geometry.n_pitches] for m, *_ in pieces], geometry.lowest_pitch,
                                            geometry.steps_per_quarter, [p for *_, p in pieces])
    rows = None
    if corpus_found is not None:
        result['corpus'], result['corpus_statistics'] = corpus, corpus_found
        rows = compare(result['statistics'], corpus_found)
        result['comparison'] = {name: distance for name, _, _, distance in rows}
    return result, rows, failures
