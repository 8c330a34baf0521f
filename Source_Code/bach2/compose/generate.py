"""Stage 4: write a new piece with a trained model → Synthesized_Fugues/.

:func:`generate_a_fugue` loads a checkpoint, takes a primer (the first
SEQUENCE_LENGTH steps of a prepared piece chosen by name or at random, of a
MIDI file, or silence), continues it with the compiled :class:`~bach2.sampling.Sampler`,
then post-processes as the journal did — legato notes, the octave shift of the
training data undone (column j is MIDI ``lowest_pitch + j``), and a transposition
to a chosen key — and writes, named after the model as the journal did
(``fugue_N768epoch180``; ``_seed<k>`` added for seeds other than 0):

* ``.p``: the pickled pitch matrix (plain dict, loads in IPython; ``onsets``: the onset plane of a
  model with articulation, else None);
* ``.mid``: the piece, one track;
* ``.png``: its piano roll, the primer shaded, the stage-2 chords under it;
* ``.wav`` or ``.ogg`` (``audio``): the MIDI rendered by FluidSynth (:mod:`bach2.render.listen`),
  when it is installed;
* ``.musicxml`` (``musicxml``): the score on a piano grand staff (:mod:`bach2.render.scores`).

A model trained with ``chord_input`` follows a prescribed progression
(``progression='i iv V i'`` in ``key``, one chord per bar, cycled; or
``'piece:<name>'``, the chords of a prepared piece).
"""
import dataclasses
import pathlib

import numpy as np

from bach2.chord_sequence import NO_CHORD, chord_index_sequence, chord_tones
from bach2.music.key_finding import find_key, key_name, pitch_class_histogram
from bach2.render.listen import RendererMissing, render_midi
from bach2.music.metre import continue_positions, piece_positions, regular_positions
from bach2.midi_to_time_series import midi_to_time_series
from bach2.models.model_config import ModelConfig
from bach2.common import CheckpointError
from bach2.render.piano_roll import plot_piano_roll
from bach2.music.pitch_names import PITCH_CLASS_NAMES
from bach2.common import MIDI_SUFFIXES, CorpusError
from bach2.music.progressions import chord_agreement, parse_key, parse_progression, progression_steps
from bach2.safe_io import save_pickle
from bach2.render.scores import write_musicxml
from bach2.time_series_to_midi import notes_to_piece, time_series_to_midi
from bach2.time_series_to_pitch_matrix import (JOURNAL_RESOLUTION, bass_line, onset_matrix, pitch_matrix_to_roll,
                                               pitch_matrix_to_time_series, time_series_to_pitch_matrix)
from bach2.data.training_set import load_piece, piece_names, step_chord_indices

SHIPPED_MODEL = pathlib.Path(__file__).parents[1] / 'models' / 'shipped' / 'model.npz'   # trained on the built-in corpus
#: the shipped model and its twin drawn high to low (a given soprano: bach2 harmonize, bach2 fugue)
SHIPPED_MODELS = {'up': SHIPPED_MODEL, 'down': SHIPPED_MODEL.parent / 'down' / 'model.npz'}


@dataclasses.dataclass
class GenerateConfig:
    checkpoint: str
    data_dir: str = 'training_data'    # prepared data: primers by name, progressions of real pieces
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


def load_model(checkpoint):
    """Checkpoint ``.npz`` → (ModelConfig, parameter values, meta); CheckpointError naming the file otherwise."""
    from bach2.train import load_checkpoint
    path = pathlib.Path(checkpoint)
    if not path.is_file():
        raise CheckpointError(f'{path}: no such checkpoint (train one with `bach2 train`)')
    meta, state = load_checkpoint(path)
    try:
        return ModelConfig(**meta['model_config']), state, meta
    except (ValueError, TypeError) as error:
        raise CheckpointError(f'{path}: not a Bach2.0 checkpoint ({error})') from None


def choose_primer(spec, data_dir, length, geometry, rng, articulation=False):
    """→ (name, ``≤ length × P`` uint8 primer (``2P`` with ``articulation``: the onset plane after the
    pitches), chord per step of the primer and the piece after it, the primer's ``≤ length × 2`` bar
    positions (:mod:`bach2.music.metre`; None from a folder prepared before them)).

    ``spec``: 'silence' (ending just before a downbeat of 4/4), 'random' (a prepared piece), a prepared
    piece's name, or a MIDI file, read in the model's :class:`~bach2.measure.evaluate.Geometry` (step, pitch window).
    """
    width = geometry.n_pitches * (2 if articulation else 1)
    if spec == 'silence':
        bar = 4 * geometry.steps_per_quarter
        return ('silence', np.zeros((length, width), np.uint8), np.full(length, NO_CHORD, np.int16),
                regular_positions(length, bar, -length % bar))
    if pathlib.Path(spec).suffix.lower() in MIDI_SUFFIXES:
        piece = midi_to_time_series(spec)
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


def found_key(pitch_matrix, lowest_pitch):
    """Krumhansl–Schmuckler key of a ``T × P`` pitch matrix (column j = MIDI ``lowest_pitch + j``)."""
    return find_key(pitch_class_histogram(pitch_matrix_to_roll(pitch_matrix, lowest_pitch)))


def tonic_shift(key, target):
    """Semitones (−5 … +6) moving the tonic of ``key`` (('G', 'minor')) to that of ``target`` ('D minor')."""
    shift = (PITCH_CLASS_NAMES.index(parse_key(target)[0]) - PITCH_CLASS_NAMES.index(key[0])) % 12
    return shift - 12 if shift > 6 else shift


def output_stem(config, model_config, meta):
    if config.name:
        return config.name
    return f'fugue_N{model_config.n_hidden}epoch{meta["epoch"]}' + (f'_seed{config.seed}' if config.seed else '')


def generate_a_fugue(config, sampler=None, log=print):
    """Generate one piece → dict of the files written and its statistics (see module docstring).

    ``sampler``: a :class:`~bach2.sampling.Sampler` to reuse (else built from the checkpoint).
    """
    from bach2.measure.evaluate import checkpoint_geometry
    from bach2.sampling import Sampler, longest_single_pitch_run, repetition_report
    model_config, state, meta = load_model(config.checkpoint)
    if config.n_steps < 1:
        raise ValueError(f'n_steps must be positive, not {config.n_steps}')
    rng = np.random.default_rng(config.seed)
    geometry = checkpoint_geometry(meta)
    per = geometry.steps_per_quarter
    primer_name, primer, primer_chords, primer_positions = choose_primer(
        config.primer, config.data_dir, model_config.sequence_length, geometry, rng, model_config.articulation)
    positions = None              # the primer's bar positions, then its metre continued
    if primer_positions is not None:
        positions = np.concatenate([primer_positions, continue_positions(primer_positions, config.n_steps)])
    elif model_config.metre_input:
        raise CorpusError(f'{config.data_dir}: prepared before bar positions were recorded; run `bach2 prepare` '
                          'again for a model with metre input')
    if model_config.mode == 'monophonic':
        primer = bass_line(primer)
    chords = prescribed_chords(config, model_config, primer_chords, len(primer), per)
    tones = None if chords is None else chord_tones(chords[1:])          # the chord of the step after each row
    sampler = sampler or Sampler(model_config, state, backend=config.backend)
    context = config.context or ('carry' if model_config.targets == 'all' else 'window')
    steps, probabilities = sampler.continue_piece(primer, config.n_steps, rule=config.rule, seed=config.seed,
                                                  context=context, temperature=config.temperature, chords=tones,
                                                  positions=positions)
    lowest, P = model_config.lowest_pitch, model_config.n_pitches
    struck = steps[:, P:] if model_config.articulation else None        # the onset plane, with articulation
    steps, primer = steps[:, :P], primer[:, :P]
    key = found_key(steps, lowest)
    shift = tonic_shift(key, config.key) if config.key and not config.progression else 0   # a progression sets it
    out = pathlib.Path(config.out_dir)
    stem = output_stem(config, model_config, meta)
    step_ticks = geometry.step_ticks
    notes = pitch_matrix_to_time_series(steps, step=step_ticks, lowest_pitch=lowest + shift, onsets=struck)
    piece = notes_to_piece(notes, JOURNAL_RESOLUTION, name=stem, tempo=int(round(60e6 / config.tempo_bpm)))
    files = {'mid': time_series_to_midi(piece, out / f'{stem}.mid')}
    if config.musicxml:
        files['musicxml'] = write_musicxml({'piano': notes}, JOURNAL_RESOLUTION, out / f'{stem}.musicxml',
                                           key=found_key(steps, lowest + shift))
    report = {**repetition_report(steps, struck), 'longest_single_pitch_run': longest_single_pitch_run(steps)[0],
              'notes': len(notes), 'steps': int(len(steps)),
              'key_generated': key_name(key), 'transposed_semitones': shift,
              'key_written': key_name(found_key(steps, lowest + shift))}
    if chords is not None:
        report['chord_agreement'] = chord_agreement(steps, chords[len(primer):], lowest, per)
    record = {'pitch_matrix': steps, 'onsets': struck, 'lowest_pitch': lowest + shift, 'step_ticks': step_ticks,
              'resolution': JOURNAL_RESOLUTION, 'primer': primer, 'primer_name': primer_name,
              'probabilities': probabilities.astype(np.float32),
              'prescribed_chords': None if chords is None else chords[len(primer):],
              'bar_positions': None if positions is None else positions[len(primer):],
              'checkpoint': str(config.checkpoint), 'model_config': dataclasses.asdict(model_config),
              'epoch': meta['epoch'], 'generate_config': dataclasses.asdict(config), 'report': report}
    files['p'] = out / f'{stem}.p'
    save_pickle(record, files['p'])
    files['png'] = plot_piano_roll(np.concatenate([primer, steps]), out / f'{stem}.png',
                                   title=f'{stem} (primer {primer_name}, {config.rule}, T={config.temperature:g})',
                                   lowest_pitch=lowest + shift, primer_steps=len(primer), chords='auto',
                                   steps_per_bar=4 * per, steps_per_quarter=per)
    if config.audio:
        try:
            files[config.audio] = render_midi(files['mid'], out / f'{stem}.{config.audio}')['path']
        except RendererMissing as error:
            log(f'no audio: {error}')
    log(f'{stem}: {report["notes"]} notes, {report["distinct_pitches"]} pitches, key {report["key_written"]}'
        + (f', chord agreement {report["chord_agreement"]["agreement"]:.2f}' if chords is not None else ''))
    return {'files': files, 'report': report, 'sampler': sampler}

