"""The journal's road map as one chain: progression → bass line → melody → second melody → one MIDI.

* :func:`generate_progression`: chords from the chord model (:mod:`bach2.models.chord_model`), one per quarter note;
* the bass line: the monophonic stage-3 model trained with ``--chord-input`` follows the progression
  (:class:`~bach2.sampling.Sampler`); without one, :func:`root_bass` plays each chord's root;
* the melody over the bass, and a second melody from the melody: :mod:`bach2.models.line_model`;
* :func:`make_chain`: all of it, written by :func:`bach2.render.piece.write_piece` — one MIDI with a track per
  voice, the ``.p`` record, its piano roll (PNG) and, when asked, a MusicXML score and audio.
"""
import dataclasses
import pathlib

import numpy as np

from bach2.chord_sequence import CHORD_NAMES, NO_CHORD, chord_index_sequence, chord_tones
from bach2.common import CheckpointError, MIDI_SUFFIXES, CorpusError
from bach2.compose.lines import Sampling, lines_piece
from bach2.data.training_set import load_piece, step_chord_indices
from bach2.measure.music_statistics import music_statistics
from bach2.midi_to_time_series import midi_to_time_series
from bach2.models.checkpoints import load_rnn_checkpoint, load_sequence_model
from bach2.models.chord_model import ChordSampling, sample_tokens, to_chords, to_tokens
from bach2.models.line_model import PAIRS, extract_line, sample_line
from bach2.music.geometry import Geometry
from bach2.music.metre import piece_positions, regular_positions
from bach2.music.pitch_names import PITCH_CLASS_NAMES
from bach2.music.progressions import chord_agreement, parse_key, parse_progression
from bach2.render.piano_roll import chord_symbol, progression_text
from bach2.render.piece import Output, write_piece
from bach2.safe_io import atomic_path, save_npz
from bach2.sampling import Sampler
from bach2.time_series_to_pitch_matrix import JOURNAL_STEP_TICKS, LOWEST_PITCH, N_PITCHES, time_series_to_pitch_matrix


@dataclasses.dataclass(frozen=True)
class Progression:
    """The progression asked for: ``n_chords`` chords, one per quarter note, the first ones the ``primer``
    (Roman numerals in ``key``, e.g. 'i iv V7 i'; '' = every chord sampled)."""
    n_chords: int = 32
    primer: str = ''
    key: str = 'C major'


@dataclasses.dataclass(frozen=True)
class ChainCheckpoints:
    """The models of the chain: ``chords`` (``bach2 chords train``), the line models ``melody`` (bass-melody) and
    ``second`` (melody-second) (``bach2 lines train``), and ``bass``: a monophonic ``--chord-input`` model of
    ``bach2 train``, or None to play each chord's root."""
    chords: str
    melody: str
    second: str
    bass: str = None


def sample_progression(predictor, progression=Progression(), sampling=Sampling()):
    """→ ``progression.n_chords`` int16 chord indices (its primer first, if any; NO_CHORD never sampled), drawn as
    ``sampling`` says; a bad primer raises CorpusError."""
    n_chords, primer = progression.n_chords, progression.primer
    try:
        start = parse_progression(primer, progression.key) if primer else []
    except ValueError as error:
        raise CorpusError(f'--primer {primer!r}: {error}') from None
    start = start[:n_chords]
    sampled = sample_tokens(predictor, n_chords - len(start), ChordSampling(sampling.temperature, sampling.seed),
                            to_tokens(start)) if n_chords > len(start) else np.zeros(0, np.int64)
    return np.concatenate([np.asarray(start, np.int16), to_chords(sampled)]).astype(np.int16)


def generate_progression(checkpoint, progression=Progression(), sampling=Sampling(), out_dir='Synthesized_Fugues'):
    """Sample a progression and write ``progression_<checkpoint stem>_seed<k>.txt`` (symbols) and ``.npz``
    (``chords``: int16 indices, one per quarter note) → (files dict, chords)."""
    predictor, _ = load_sequence_model(checkpoint, 'chords')
    chords = sample_progression(predictor, progression, sampling)
    stem = pathlib.Path(out_dir) / f'progression_{pathlib.Path(checkpoint).stem}_seed{sampling.seed}'
    text = progression_text(chords, key=parse_key(progression.key))
    with atomic_path(stem.with_suffix('.txt')) as temporary:
        pathlib.Path(temporary).write_text(text + '\n')
    save_npz(stem.with_suffix('.npz'), chords=chords, temperature=np.float32(sampling.temperature))
    return {'txt': stem.with_suffix('.txt'), 'npz': stem.with_suffix('.npz'),
            'symbols': [chord_symbol(int(c), parse_key(progression.key)) or '-' for c in chords]}, chords


def root_bass(chords, n_pitches=N_PITCHES, lowest_pitch=LOWEST_PITCH, steps_per_quarter=4, octave_low=36):
    """Chord per quarter note → ``T × P`` uint8 bass: each chord's root from MIDI ``octave_low`` up
    (C2…B2), held for its quarter; silent where there is no chord (the fallback without a bass model)."""
    chords = np.asarray(chords)
    matrix = np.zeros((len(chords) * steps_per_quarter, n_pitches), np.uint8)
    for q, chord in enumerate(chords):
        if chord != NO_CHORD:
            root = PITCH_CLASS_NAMES.index(CHORD_NAMES[chord][0])
            matrix[q * steps_per_quarter:(q + 1) * steps_per_quarter, octave_low + root - lowest_pitch] = 1
    return matrix


def model_bass(checkpoint, chords, temperature=1.0, seed=0, steps_per_quarter=4, sampler=None):
    """The monophonic stage-3 model trained with ``--chord-input`` following ``chords`` (one per quarter note)
    from a silent window → (``T × P`` uint8 bass, sampler). CheckpointError when it is not such a model."""
    model_config, state, _ = load_rnn_checkpoint(checkpoint)
    if model_config.mode != 'monophonic' or not model_config.chord_input:
        raise CheckpointError(f'{checkpoint}: the bass needs a monophonic model trained with --chord-input '
                              f'(this one is {model_config.mode}, chord input {model_config.chord_input})')
    every_step = model_config.targets == 'all'       # trained from one silent step, the state carried
    length, n_steps = 1 if every_step else model_config.sequence_length, len(chords) * steps_per_quarter
    steps = np.concatenate([np.full(length, chords[0], np.int16), step_chord_indices(chords, n_steps)])
    sampler = sampler or Sampler(model_config, state)
    bar = 4 * steps_per_quarter                 # the silence ends just before a downbeat of 4/4 (bach2.music.metre)
    bass, _ = sampler.continue_piece(np.zeros((length, model_config.n_pitches), np.float32), n_steps,
                                     seed=seed, temperature=temperature, chords=chord_tones(steps[1:]),
                                     context='carry' if every_step else 'window',
                                     positions=regular_positions(length + n_steps, bar, -length % bar))
    return bass, sampler


def given_line_of(spec, data_dir, which, n_pitches, lowest_pitch):
    """A MIDI file or a prepared piece's name → (name, its ``which`` line ``T`` int64 with P = rest,
    ``T`` stage-2 chord index per step, ``T × 2`` bar positions or None for a folder prepared before them)."""
    if pathlib.Path(spec).suffix.lower() in MIDI_SUFFIXES:
        piece = midi_to_time_series(spec)
        matrix, _ = time_series_to_pitch_matrix(piece, lowest_pitch=lowest_pitch, n_pitches=n_pitches)
        chords = step_chord_indices(chord_index_sequence(piece), len(matrix))
        positions = piece_positions(piece, JOURNAL_STEP_TICKS, len(matrix))
        name = pathlib.Path(spec).stem
    else:
        matrix, chords, positions = load_piece(data_dir, spec, positions=True)
        name = spec
    if matrix.shape[1] != n_pitches:
        raise CorpusError(f'{spec}: {matrix.shape[1]} pitches per step, the line model needs {n_pitches}')
    line = extract_line(matrix, which)
    if (line == n_pitches).all():
        raise CorpusError(f'{spec}: no {which} line (too few notes sound together)')
    return name, line, chords, positions


def lines_over_piece(checkpoint, given, data_dir='training_data', n_steps=128, sampling=Sampling(),
                     output=Output()):
    """Generate a line over the given line of a MIDI file or prepared piece (``n_steps`` steps, 0 = all of it)
    → files written (:func:`~bach2.render.piece.write_piece`: mid, p, png[, wav]), named
    ``<pair>_<piece>_seed<k>`` unless ``output`` names them; the piano roll's bars are the piece's."""
    predictor, _ = load_sequence_model(checkpoint, 'line')
    extra = predictor.config.extra
    which = PAIRS[extra['pair']][0]
    name, line, chords, positions = given_line_of(given, data_dir, which, extra['n_pitches'], extra['lowest_pitch'])
    if n_steps:
        line, chords = line[:n_steps], chords[:n_steps]
        positions = None if positions is None else positions[:n_steps]
    generated = sample_line(predictor, line, sampling.temperature, sampling.seed, chords, positions)
    voices = {PAIRS[extra['pair']][0]: line, PAIRS[extra['pair']][1]: generated}
    piece = lines_piece(voices, Geometry(n_pitches=extra['n_pitches'], lowest_pitch=extra['lowest_pitch']))
    piece.positions = positions
    return write_piece(piece, output.named(f'{extra["pair"]}_{name}_seed{sampling.seed}'))


def chain_report(matrix, chords, lowest_pitch, steps_per_quarter=4):
    """How a piece follows its progression: chord agreement (:func:`~bach2.music.progressions.chord_agreement`)
    and the share of sounding notes in its detected key (``in_key`` of :mod:`bach2.measure.music_statistics`)."""
    step_chords = step_chord_indices(chords, len(matrix), steps_per_quarter)
    agreement = chord_agreement(matrix, step_chords, lowest_pitch, steps_per_quarter)
    return {'chord_agreement': agreement['agreement'], 'mean_chord_distance': agreement['mean_chord_distance'],
            'in_key': music_statistics([matrix], lowest_pitch, steps_per_quarter)['in_key']}


def make_chain(checkpoints, progression=Progression(), sampling=Sampling(), output=Output(), log=print):
    """Progression → bass → melody → second melody, by the models of ``checkpoints`` (:class:`ChainCheckpoints`),
    each drawing as ``sampling`` says → files (:func:`~bach2.render.piece.write_piece`, named
    ``chain_<chords checkpoint stem>_seed<k>`` unless ``output`` names them) and a report.

    → {'files', 'report', 'chords', 'lines'}.
    """
    melody_model, _ = load_sequence_model(checkpoints.melody, 'line')
    second_model, _ = load_sequence_model(checkpoints.second, 'line')
    for checkpoint, model, pair in ((checkpoints.melody, melody_model, 'bass-melody'),
                                    (checkpoints.second, second_model, 'melody-second')):
        if model.config.extra['pair'] != pair:
            raise CorpusError(f'{checkpoint}: a {model.config.extra["pair"]} model, the chain needs {pair} here')
    n_pitches, lowest = melody_model.config.extra['n_pitches'], melody_model.config.extra['lowest_pitch']
    predictor, _ = load_sequence_model(checkpoints.chords, 'chords')
    chords = sample_progression(predictor, progression, sampling)
    seed, temperature = sampling.seed, sampling.temperature
    if checkpoints.bass:
        bass_matrix, _ = model_bass(checkpoints.bass, chords, temperature, seed)
        if bass_matrix.shape[1] != n_pitches:
            raise CheckpointError(f'{checkpoints.bass}: {bass_matrix.shape[1]} pitches, the line models use '
                                  f'{n_pitches}')
    else:
        bass_matrix = root_bass(chords, n_pitches, lowest)
    bass = extract_line(bass_matrix, 'lowest')
    step_chords = step_chord_indices(chords, len(bass))
    melody = sample_line(melody_model, bass, temperature, seed, step_chords)
    second = sample_line(second_model, melody, temperature, seed, step_chords)
    lines = {'bass': bass, 'melody': melody, 'second melody': second}
    output = output.named(f'chain_{pathlib.Path(checkpoints.chords).stem}_seed{seed}')
    piece = lines_piece(lines, Geometry(n_pitches=n_pitches, lowest_pitch=lowest), chords=chords)
    piece.record.update({'progression': progression_text(chords, key=parse_key(progression.key)),
                         'bass_source': str(checkpoints.bass or 'chord roots'),
                         'checkpoints': [str(checkpoints.chords), str(checkpoints.melody), str(checkpoints.second)],
                         'seed': seed, 'temperature': temperature})
    files = write_piece(piece, output)
    report = chain_report(piece.matrix, chords, lowest)
    log(f'{output.name}: {progression.n_chords} quarter notes, bass from {piece.record["bass_source"]}, chord '
        f'agreement {report["chord_agreement"]:.2f}, in key {report["in_key"]:.2f}')
    return {'files': files, 'report': report, 'chords': chords, 'lines': lines}
