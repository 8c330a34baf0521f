"""Stage 4: write a new piece with a trained model → Synthesized_Fugues/.

:func:`generate_a_fugue` loads a checkpoint, takes a primer (the first
SEQUENCE_LENGTH steps of a prepared piece chosen by name or at random, of a
MIDI file, or silence), continues it with the compiled :class:`~bach2.sampling.Sampler`,
then post-processes as the journal did — legato notes, the octave shift of the
training data undone (column j is MIDI ``lowest_pitch + j``), and a transposition
to a chosen key — and writes with :func:`bach2.render.piece.write_piece`, named after the model as the
journal did (``fugue_N768epoch180``; ``_seed<k>`` added for seeds other than 0):

* ``.p``: the pickled pitch matrix (plain dict, loads in IPython; ``onsets``: the onset plane of a
  model with articulation, else None);
* ``.mid``: the piece, one track, at ``tempo_bpm`` in 4/4;
* ``.png``: its piano roll, the primer shaded, a line at each bar of the primer's metre, the stage-2 chords
  under it;
* ``.wav`` or ``.ogg`` (``audio``): the MIDI rendered by FluidSynth (:mod:`bach2.render.listen`),
  when it is installed;
* ``.musicxml`` (``musicxml``): the score on a piano grand staff (:mod:`bach2.render.scores`).

A model trained with ``chord_input`` follows a prescribed progression
(``progression='i iv V i'`` in ``key``, one chord per bar, cycled; or
``'piece:<name>'``, the chords of a prepared piece).

The steps: :func:`read_checkpoint` and :func:`prime`, :func:`sample`, :func:`name_key`, then
:func:`generated_piece` and :func:`generation_report`, written by :func:`~bach2.render.piece.write_piece`.
"""
import dataclasses
import pathlib
import typing

import numpy as np

from bach2.chord_sequence import NO_CHORD, chord_index_sequence, chord_tones
from bach2.common import MIDI_SUFFIXES, CorpusError
from bach2.data.default_corpus import keyboard_corpus
from bach2.data.training_set import load_piece, piece_names, step_chord_indices
from bach2.midi_to_time_series import read_tune
from bach2.models.checkpoints import checkpoint_geometry, load_rnn_checkpoint
from bach2.models.model_config import ModelConfig
from bach2.music.geometry import Geometry
from bach2.music.key_finding import key_name, tonic_class
from bach2.music.metre import continue_positions, piece_positions, regular_positions
from bach2.music.progressions import chord_agreement, parse_key, parse_progression, progression_steps
from bach2.render.piano_roll import roll_key
from bach2.render.piece import Composition, Output, write_piece
from bach2.time_series_to_pitch_matrix import (JOURNAL_RESOLUTION, bass_line, onset_matrix,
                                               pitch_matrix_to_time_series, time_series_to_pitch_matrix)


DEFAULT_DATA = 'training_data'     # where `bach2 prepare` writes; a random primer needs none there (builtin_primer)


@dataclasses.dataclass
class GenerateConfig:
    checkpoint: str
    data_dir: str = DEFAULT_DATA       # prepared data: primers by name, progressions of real pieces
    out_dir: str = 'Synthesized_Fugues'
    primer: str = 'random'             # a prepared piece's name, a MIDI file, 'random' or 'silence'
    n_steps: int = 256                 # steps to generate after the primer (sixteenths, or the model's step)
    seed: int = 0
    rule: str = 'sample'               # 'sample'; 'threshold' (polyphonic, the journal's 0.5); 'argmax' (monophonic)
    temperature: float = 1.0
    context: str = ''                  # 'window' (the journal's), 'carry' (state carried); '' = as the model trained
    key: str = ''                      # e.g. 'D minor': transpose the result there ('' = as generated)
    progression: str = ''              # with chord_input: 'i iv V i' (in key) or 'piece:<name>'
    beats_per_chord: int = 4
    tempo_bpm: float = 100.0
    backend: str = 'jax'
    name: str = ''                     # file stem; '' = fugue_N<hidden>epoch<epoch>[_seed<k>]
    audio: str = ''                    # 'wav' or 'ogg': render the MIDI too (needs FluidSynth); '' = no audio
    musicxml: bool = False             # write a MusicXML score too (a piano grand staff, bach2.render.scores)


def choose_primer(spec, data_dir, length, geometry, rng, articulation=False):
    """→ (name, ``≤ length × P`` uint8 primer (``2P`` with ``articulation``: the onset plane after the
    pitches), chord per step of the primer and the piece after it, the primer's ``≤ length × 2`` bar
    positions (:mod:`bach2.music.metre`; None from a folder prepared before them)).

    ``spec``: 'silence' (ending just before a downbeat of 4/4), 'random' (a prepared piece), a prepared
    piece's name, or a MIDI file (its drums left out, :func:`~bach2.midi_to_time_series.read_tune`), read in the
    model's :class:`~bach2.music.geometry.Geometry` (step, pitch window).
    """
    width = geometry.n_pitches * (2 if articulation else 1)
    if spec == 'silence':
        bar = 4 * geometry.steps_per_quarter
        return ('silence', np.zeros((length, width), np.uint8), np.full(length, NO_CHORD, np.int16),
                regular_positions(length, bar, -length % bar))
    if pathlib.Path(spec).suffix.lower() in MIDI_SUFFIXES:
        piece = read_tune(spec)
        matrix, _ = time_series_to_pitch_matrix(piece, geometry.step_ticks, geometry.lowest_pitch, geometry.n_pitches)
        if articulation:
            matrix = np.concatenate([matrix, onset_matrix(piece, geometry.step_ticks, geometry.lowest_pitch,
                                                          geometry.n_pitches)], axis=1)
        chords = step_chord_indices(chord_index_sequence(piece), len(matrix), geometry.steps_per_quarter)
        bars = piece_positions(piece, geometry.step_ticks, len(matrix))
        name = pathlib.Path(spec).stem
    else:
        name = str(rng.choice(piece_names(data_dir, geometry.step_ticks))) if spec == 'random' else spec
        matrix, chords, bars = load_piece(data_dir, name, step_ticks=geometry.step_ticks, positions=True,
                                          articulation=articulation)
    if not np.asarray(matrix).any():
        raise CorpusError(f'{spec}: the primer piece has no notes')
    return name, np.asarray(matrix[:length], np.uint8), chords, None if bars is None else bars[:length]


def builtin_primer(meta, rng):
    """A MIDI file of the built-in keyboard corpus to prime with where no training data is prepared: one of the
    pieces the model held out (``meta['held_out']``, names) when it records them, else any → its path."""
    files = sorted(keyboard_corpus().glob('*/*.mid'))
    held_out = [path for path in files if path.stem in set(meta.get('held_out', ()))]
    return str(rng.choice(held_out or files))


def prescribed_chords(config, model_config, primer_chords, n_primer, steps_per_quarter=4):
    """Chord per step for primer + generated steps (``n_primer + n_steps``), or None without chord input."""
    if not model_config.chord_input:
        return None
    total, per = n_primer + config.n_steps, steps_per_quarter
    if not config.progression:                         # the primer piece's own chords, then its last one held
        return step_chord_indices(primer_chords[::per], total, per)
    if config.progression.startswith('piece:'):
        _, chords = load_piece(config.data_dir, config.progression[len('piece:'):],
                               step_ticks=JOURNAL_RESOLUTION // per)
        return step_chord_indices(chords[::per], total, per)
    key = parse_key(config.key or 'C major')
    generated = progression_steps(parse_progression(config.progression, key), config.n_steps,
                                  config.beats_per_chord, per)
    return np.concatenate([primer_chords[:n_primer], generated]).astype(np.int16)


def tonic_shift(key, target):
    """Semitones (−5 … +6) moving the tonic of ``key`` (('G', 'minor')) to that of ``target`` ('D minor')."""
    shift = (tonic_class(parse_key(target)) - tonic_class(key)) % 12
    return shift - 12 if shift > 6 else shift


def output_stem(config, model_config, meta):
    if config.name:
        return config.name
    return f'fugue_N{model_config.n_hidden}epoch{meta["epoch"]}' + (f'_seed{config.seed}' if config.seed else '')


class Checkpoint(typing.NamedTuple):
    """A checkpoint as generation reads it: the model's config, its parameter values, the metadata saved with
    them and the pitch-matrix geometry it was trained on."""
    model_config: ModelConfig
    state: dict
    meta: dict
    geometry: Geometry


class Primed(typing.NamedTuple):
    """The start of a piece: the primer's name, its ``L × W`` uint8 steps (W = P, or 2P with articulation),
    the prescribed chord per step of the primer and the continuation (None without chord input), and
    their ``(L + n_steps) × 2`` bar positions (None from a folder prepared before them)."""
    name: str
    primer: np.ndarray
    chords: np.ndarray
    positions: np.ndarray


class Sampled(typing.NamedTuple):
    """The continuation: ``T × P`` uint8 pitches, the ``T × P`` onset plane (None without articulation) and
    the ``T × W`` float probabilities the sampler drew from."""
    steps: np.ndarray
    struck: np.ndarray
    probabilities: np.ndarray


def read_checkpoint(config):
    """Step 1a: ``config.checkpoint`` → :class:`Checkpoint`; CheckpointError naming the file, ValueError where
    ``config.n_steps`` is not positive."""
    model_config, state, meta = load_rnn_checkpoint(config.checkpoint)
    if config.n_steps < 1:
        raise ValueError(f'n_steps must be positive, not {config.n_steps}')
    return Checkpoint(model_config, state, meta, checkpoint_geometry(meta))


def prime(config, checkpoint):
    """Step 1b: the primer ``config`` asks for, read in the :class:`Checkpoint`'s geometry → :class:`Primed`
    (a random one from the built-in corpus, :func:`builtin_primer`, where the default data folder is not prepared);
    CorpusError where the model reads the metre and the folder has no bar positions."""
    model_config, geometry = checkpoint.model_config, checkpoint.geometry
    rng = np.random.default_rng(config.seed)
    spec = config.primer
    if spec == 'random' and config.data_dir == DEFAULT_DATA and not (
            pathlib.Path(config.data_dir) / f'pitch_matrix_{geometry.step_ticks}ticks_sh0.npz').is_file():
        spec = builtin_primer(checkpoint.meta, rng)
    name, primer, primer_chords, primer_positions = choose_primer(
        spec, config.data_dir, model_config.sequence_length, geometry, rng, model_config.articulation)
    positions = None              # the primer's bar positions, then its metre continued
    if primer_positions is not None:
        positions = np.concatenate([primer_positions, continue_positions(primer_positions, config.n_steps)])
    elif model_config.metre_input:
        raise CorpusError(f'{config.data_dir}: prepared before bar positions were recorded; run `bach2 prepare` '
                          'again for a model with metre input')
    if model_config.mode == 'monophonic':
        primer = bass_line(primer)
    chords = prescribed_chords(config, model_config, primer_chords, len(primer), geometry.steps_per_quarter)
    return Primed(name, primer, chords, positions)


def sample(config, model_config, sampler, primed):
    """Step 2: continue the primer by ``config.n_steps`` steps with ``sampler`` (a :class:`~bach2.sampling.Sampler`
    of the model of ``model_config``) → :class:`Sampled`."""
    tones = None if primed.chords is None else chord_tones(primed.chords[1:])  # the chord of the step after each row
    context = config.context or ('carry' if model_config.targets == 'all' else 'window')
    steps, probabilities = sampler.continue_piece(primed.primer, config.n_steps, rule=config.rule, seed=config.seed,
                                                  context=context, temperature=config.temperature, chords=tones,
                                                  positions=primed.positions)
    P = model_config.n_pitches
    return Sampled(steps[:, :P], steps[:, P:] if model_config.articulation else None, probabilities)


def name_key(config, steps, lowest_pitch):
    """Step 3: the key of the ``T × P`` steps (column j = MIDI ``lowest_pitch + j``) → (key as generated, e.g.
    ('G', 'minor'); semitones (−5 … +6) to ``config.key``, 0 without one or with a progression, which sets it)."""
    key = roll_key(steps, lowest_pitch)
    return key, tonic_shift(key, config.key) if config.key and not config.progression else 0


def generated_piece(config, checkpoint, primed, sampled, shift):
    """Step 4a: ``sampled`` moved ``shift`` semitones, one voice on a piano staff, with its record (see the module
    docstring; its 'report' still to come) and its piano roll's primer, bars and title → a
    :class:`~bach2.render.piece.Composition`."""
    model_config, _, meta, geometry = checkpoint
    lowest = model_config.lowest_pitch + shift
    primer = primed.primer[:, :model_config.n_pitches]
    notes = pitch_matrix_to_time_series(sampled.steps, step=geometry.step_ticks, lowest_pitch=lowest,
                                        onsets=sampled.struck)
    record = {'primer': primer, 'primer_name': primed.name, 'probabilities': sampled.probabilities.astype(np.float32),
              'prescribed_chords': None if primed.chords is None else primed.chords[len(primer):],
              'bar_positions': None if primed.positions is None else primed.positions[len(primer):],
              'checkpoint': str(config.checkpoint), 'model_config': dataclasses.asdict(model_config),
              'epoch': meta['epoch'], 'generate_config': dataclasses.asdict(config)}
    return Composition({'piano': notes}, sampled.steps, lowest, record, geometry.step_ticks, onsets=sampled.struck,
                       key=roll_key(sampled.steps, lowest), primer=primer, positions=primed.positions,
                       title=f'{output_stem(config, model_config, meta)} (primer {primed.name}, {config.rule}, '
                             f'T={config.temperature:g})')


def generation_report(piece, key, shift, prescribed=None):
    """Step 4b, what :func:`generate_a_fugue` reports of the :func:`generated_piece`: repetition, the longest
    single-pitch run, notes, steps, the key as generated (``key``) and as written (``shift`` semitones up), and
    with ``prescribed`` chords (one per generated step) the chord agreement."""
    from bach2.sampling import longest_single_pitch_run, repetition_report    # lazy: sampling loads pytensor
    steps = piece.matrix
    report = {**repetition_report(steps, piece.onsets), 'longest_single_pitch_run': longest_single_pitch_run(steps)[0],
              'notes': len(piece.voices['piano']), 'steps': int(len(steps)), 'key_generated': key_name(key),
              'transposed_semitones': shift, 'key_written': key_name(piece.key)}
    if prescribed is not None:
        report['chord_agreement'] = chord_agreement(steps, prescribed, piece.lowest_pitch - shift,
                                                    piece.steps_per_quarter)
    return report


def generate_a_fugue(config, sampler=None, log=print):
    """Generate one piece → dict of the files written and its statistics (see module docstring).

    ``sampler``: a :class:`~bach2.sampling.Sampler` to reuse (else built from the checkpoint).
    """
    from bach2.sampling import Sampler       # lazy: sampling loads pytensor
    checkpoint = read_checkpoint(config)
    model_config = checkpoint.model_config
    primed = prime(config, checkpoint)
    sampler = sampler or Sampler(model_config, checkpoint.state, backend=config.backend)
    sampled = sample(config, model_config, sampler, primed)
    key, shift = name_key(config, sampled.steps, model_config.lowest_pitch)
    piece = generated_piece(config, checkpoint, primed, sampled, shift)
    prescribed = None if primed.chords is None else primed.chords[len(primed.primer):]
    report = piece.record['report'] = generation_report(piece, key, shift, prescribed)
    stem = output_stem(config, model_config, checkpoint.meta)
    files = write_piece(piece, Output(config.out_dir, stem, config.audio, config.musicxml, config.tempo_bpm), log)
    log(f'{stem}: {report["notes"]} notes, {report["distinct_pitches"]} pitches, key {report["key_written"]}'
        + (f', chord agreement {report["chord_agreement"]["agreement"]:.2f}' if prescribed is not None else ''))
    return {'files': files, 'report': report, 'sampler': sampler}
