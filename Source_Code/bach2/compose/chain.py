"""The journal's road map as one chain: progression → bass line → melody → second melody → one MIDI.

* :func:`generate_progression`: chords from the chord model (:mod:`bach2.models.chord_model`), one per quarter note;
* the bass line: the monophonic stage-3 model trained with ``--chord-input`` follows the progression
  (:class:`~bach2.sampling.Sampler`); without one, :func:`root_bass` plays each chord's root;
* the melody over the bass, and a second melody from the melody: :mod:`bach2.models.line_model`;
* :func:`write_chain`: one MIDI with a track per voice (:mod:`bach2.time_series_to_midi`), its piano
  roll (PNG) and, when FluidSynth is installed, a WAV.
"""
import pathlib

import numpy as np

from bach2.models.chord_model import load_predictor, progression_text, sample_tokens, to_chords, to_tokens
from bach2.chord_sequence import CHORD_NAMES, NO_CHORD, chord_index_sequence, chord_tones
from bach2.compose.generate import load_model
from bach2.models.line_model import PAIRS, extract_line, line_to_matrix, load_line_model, sample_line
from bach2.render.listen import RendererMissing, render_midi
from bach2.music.metre import piece_positions, regular_positions
from bach2.midi_to_time_series import Piece, Voice, midi_to_time_series
from bach2.common import CheckpointError
from bach2.render.piano_roll import chord_symbol, plot_piano_roll
from bach2.music.pitch_names import PITCH_CLASS_NAMES
from bach2.common import MIDI_SUFFIXES, CorpusError
from bach2.music.progressions import parse_progression
from bach2.safe_io import atomic_path, save_npz, save_pickle
from bach2.render.scores import write_musicxml
from bach2.models.sequence_training import load_checkpoint
from bach2.time_series_to_midi import time_series_to_midi
from bach2.time_series_to_pitch_matrix import (JOURNAL_RESOLUTION, JOURNAL_STEP_TICKS, pitch_matrix_to_time_series,
                                               time_series_to_pitch_matrix)
from bach2.data.training_set import load_piece, step_chord_indices


def chord_model(checkpoint):
    """A batch-1 chord predictor from a ``bach2 chords train`` checkpoint; CorpusError if it is another model."""
    config, meta, state = load_checkpoint(checkpoint)
    if config.kind != 'chords':
        raise CorpusError(f'{checkpoint}: a {config.kind!r} model, not a chord model')
    return load_predictor(config, state), meta


def sample_progression(predictor, n_chords, temperature=1.0, seed=0, primer='', key='C major'):
    """→ ``n_chords`` int16 chord indices (primer first, if any; NO_CHORD never sampled).

    ``primer``: Roman numerals in ``key`` ('i iv V7 i'), one per quarter note; a bad one raises CorpusError.
    """
    try:
        start = parse_progression(primer, key) if primer else []
    except ValueError as error:
        raise CorpusError(f'--primer {primer!r}: {error}') from None
    start = start[:n_chords]
    sampled = sample_tokens(predictor, n_chords - len(start), temperature, seed, primer=to_tokens(start)) \
        if n_chords > len(start) else np.zeros(0, np.int64)
    return np.concatenate([np.asarray(start, np.int16), to_chords(sampled)]).astype(np.int16)


def generate_progression(checkpoint, n_chords=32, temperature=1.0, seed=0, primer='', key='C major',
                         out_dir='Synthesized_Fugues'):
    """Sample a progression and write ``progression_<checkpoint stem>_seed<k>.txt`` (symbols) and ``.npz``
    (``chords``: int16 indices, one per quarter note) → (files dict, chords)."""
    predictor, _ = chord_model(checkpoint)
    chords = sample_progression(predictor, n_chords, temperature, seed, primer, key)
    stem = pathlib.Path(out_dir) / f'progression_{pathlib.Path(checkpoint).stem}_seed{seed}'
    text = progression_text(chords)
    with atomic_path(stem.with_suffix('.txt')) as temporary:
        pathlib.Path(temporary).write_text(text + '\n')
    save_npz(stem.with_suffix('.npz'), chords=chords, temperature=np.float32(temperature))
    return {'txt': stem.with_suffix('.txt'), 'npz': stem.with_suffix('.npz'),
            'symbols': [chord_symbol(int(c)) or '-' for c in chords]}, chords


def root_bass(chords, n_pitches=61, lowest_pitch=24, steps_per_quarter=4, octave_low=36):
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
    from bach2.sampling import Sampler
    model_config, state, _ = load_model(checkpoint)
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


def lines_over_piece(checkpoint, given, data_dir='training_data', n_steps=128, temperature=1.0, seed=0,
                     out_dir='Synthesized_Fugues', audio=''):
    """Generate a line over the given line of a MIDI file or prepared piece → files written (mid, p, png[, wav])."""
    predictor, _ = load_line_model(checkpoint)
    extra = predictor.config.extra
    which = PAIRS[extra['pair']][0]
    name, line, chords, positions = given_line_of(given, data_dir, which, extra['n_pitches'], extra['lowest_pitch'])
    if n_steps:
        line, chords = line[:n_steps], chords[:n_steps]
        positions = None if positions is None else positions[:n_steps]
    generated = sample_line(predictor, line, temperature, seed, chords, positions)
    voices = {PAIRS[extra['pair']][0]: line, PAIRS[extra['pair']][1]: generated}
    stem = f'{extra["pair"]}_{name}_seed{seed}'
    return write_voices(voices, extra['n_pitches'], extra['lowest_pitch'], out_dir, stem, audio=audio)['files']


def write_voices(lines, n_pitches, lowest_pitch, out_dir, stem, chords=None, audio='', record=None, onsets=None,
                 marks=(), step_ticks=JOURNAL_STEP_TICKS, time_signature=(4, 4), lead_steps=0, musicxml=False):
    """{voice name: ``T`` line} → one MIDI with a track per voice, a ``.p`` record and a piano-roll PNG
    (``chords`` per quarter note under it, else found from the notes; ``marks`` [(step, label)] drawn on
    it); ``audio`` 'wav' renders it too. ``onsets`` {voice name: ``T`` bool}: where a voice strikes its
    note (else a note lasts while its pitch stays); the ``.p`` keeps them, and their ``T × P`` onset plane. ``step_ticks``: a step's length at 96 ticks per
    quarter (24: 16ths); ``time_signature`` (numerator, denominator) and ``lead_steps``, the steps of the first
    bar before the first step (a pickup), place the bar lines of the MIDI and of the MusicXML score that
    ``musicxml`` writes too (:mod:`bach2.render.scores`, one part per voice).
    → {'files': {kind: path}, 'matrix': ``T × P`` all voices together}."""
    out = pathlib.Path(out_dir)
    voices, matrices, planes = [], [], []
    for channel, (name, line) in enumerate(lines.items()):
        matrix = line_to_matrix(line, n_pitches)
        matrices.append(matrix)
        struck = None if onsets is None else matrix * np.asarray(onsets[name], np.uint8)[:, None]
        planes.append(struck)
        notes = [(time + lead_steps * step_ticks, pitch, duration) for time, pitch, duration in
                 pitch_matrix_to_time_series(matrix, step=step_ticks, lowest_pitch=lowest_pitch, onsets=struck)]
        voices.append(Voice(track=channel + 1, channel=channel, name=name, notes=notes))
    n_steps = max(len(matrix) for matrix in matrices)
    combined = np.zeros((n_steps, n_pitches), np.uint8)
    struck = None if onsets is None else np.zeros_like(combined)
    for matrix, plane in zip(matrices, planes):
        combined[:len(matrix)] |= matrix
        if plane is not None:
            struck[:len(plane)] |= plane
    end = max((t + d for voice in voices for t, _, d in voice.notes), default=0)
    piece = Piece(name=stem, resolution=JOURNAL_RESOLUTION, tempi=[(0, 600000)],
                  time_signatures=[(0, *time_signature)], key_signatures=[], markers=[], voices=voices, end_tick=end)
    files = {'mid': time_series_to_midi(piece, out / f'{stem}.mid')}
    if musicxml:
        files['musicxml'] = write_musicxml({voice.name: voice.notes for voice in voices}, JOURNAL_RESOLUTION,
                                           out / f'{stem}.musicxml', time_signature=time_signature)
    files['p'] = out / f'{stem}.p'
    save_pickle({'lines': {name: np.asarray(line) for name, line in lines.items()}, 'pitch_matrix': combined,
                 'onsets': struck, 'voice_onsets': None if onsets is None else
                 {name: np.asarray(o) for name, o in onsets.items()},
                 'lowest_pitch': lowest_pitch, 'step_ticks': step_ticks, 'resolution': JOURNAL_RESOLUTION,
                 'chords': None if chords is None else np.asarray(chords), **(record or {})}, files['p'])
    steps_per_quarter = JOURNAL_RESOLUTION // step_ticks
    files['png'] = plot_piano_roll(combined, out / f'{stem}.png', title=stem, lowest_pitch=lowest_pitch,
                                   chords='auto' if chords is None else chords, marks=marks,
                                   steps_per_bar=4 * steps_per_quarter, steps_per_quarter=steps_per_quarter)
    if audio:
        try:
            files[audio] = render_midi(files['mid'], out / f'{stem}.{audio}')['path']
        except RendererMissing as error:
            print(f'no audio: {error}')
    return {'files': files, 'matrix': combined}


def chain_report(matrix, chords, lowest_pitch, steps_per_quarter=4):
    """How a piece follows its progression: chord agreement (:func:`~bach2.music.progressions.chord_agreement`)
    and the share of sounding notes in its detected key (``in_key`` of :mod:`bach2.measure.music_statistics`)."""
    from bach2.measure.music_statistics import music_statistics
    from bach2.music.progressions import chord_agreement
    step_chords = step_chord_indices(chords, len(matrix), steps_per_quarter)
    agreement = chord_agreement(matrix, step_chords, lowest_pitch, steps_per_quarter)
    return {'chord_agreement': agreement['agreement'], 'mean_chord_distance': agreement['mean_chord_distance'],
            'in_key': music_statistics([matrix], lowest_pitch, steps_per_quarter)['in_key']}


def make_chain(chords_checkpoint, melody_checkpoint, second_checkpoint, bass_checkpoint=None, quarters=32,
               seed=0, temperature=1.0, primer='', key='C major', out_dir='Synthesized_Fugues', name='',
               audio='', log=print, musicxml=False):
    """Progression → bass → melody → second melody → files (see :func:`write_voices`; ``musicxml``: a score
    too) and a report.

    ``bass_checkpoint``: a monophonic ``--chord-input`` model; None plays each chord's root instead.
    ``temperature`` applies to every stage. → {'files', 'report', 'chords', 'lines'}.
    """
    melody_model, _ = load_line_model(melody_checkpoint)
    second_model, _ = load_line_model(second_checkpoint)
    for checkpoint, model, pair in ((melody_checkpoint, melody_model, 'bass-melody'),
                                    (second_checkpoint, second_model, 'melody-second')):
        if model.config.extra['pair'] != pair:
            raise CorpusError(f'{checkpoint}: a {model.config.extra["pair"]} model, the chain needs {pair} here')
    n_pitches, lowest = melody_model.config.extra['n_pitches'], melody_model.config.extra['lowest_pitch']
    predictor, _ = chord_model(chords_checkpoint)
    chords = sample_progression(predictor, quarters, temperature, seed, primer, key)
    if bass_checkpoint:
        bass_matrix, _ = model_bass(bass_checkpoint, chords, temperature, seed)
        if bass_matrix.shape[1] != n_pitches:
            raise CheckpointError(f'{bass_checkpoint}: {bass_matrix.shape[1]} pitches, the line models use {n_pitches}')
    else:
        bass_matrix = root_bass(chords, n_pitches, lowest)
    bass = extract_line(bass_matrix, 'lowest')
    step_chords = step_chord_indices(chords, len(bass))
    melody = sample_line(melody_model, bass, temperature, seed, step_chords)
    second = sample_line(second_model, melody, temperature, seed, step_chords)
    lines = {'bass': bass, 'melody': melody, 'second melody': second}
    stem = name or f'chain_{pathlib.Path(chords_checkpoint).stem}_seed{seed}'
    record = {'progression': progression_text(chords), 'bass_source': str(bass_checkpoint or 'chord roots'),
              'checkpoints': [str(chords_checkpoint), str(melody_checkpoint), str(second_checkpoint)],
              'seed': seed, 'temperature': temperature}
    written = write_voices(lines, n_pitches, lowest, out_dir, stem, chords=chords, audio=audio, record=record,
                           musicxml=musicxml)
    report = chain_report(written['matrix'], chords, lowest)
    log(f'{stem}: {quarters} quarter notes, bass from {record["bass_source"]}, chord agreement '
        f'{report["chord_agreement"]:.2f}, in key {report["in_key"]:.2f}')
    return {'files': written['files'], 'report': report, 'chords': chords, 'lines': lines}
