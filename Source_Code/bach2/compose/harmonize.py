"""Write voices around lines that are given note for note: ``bach2 harmonize`` (a soprano or a bass),
and the entries of ``bach2 fugue`` (:mod:`bach2.compose.fugue`).

An LSTM-NADE draws the pitches of a step in one order (``ModelConfig.pitch_order``), so the voice
drawn first can be given exactly: the top voice to a model drawn high to low ('down'), the bottom
voice to one drawn low to high ('up'). The units of the given voice — its pitch on, every pitch
beyond it off, its onset struck or held — are fixed (``Sampler.continue_piece(given=)``), and the
rest of the step is drawn from the model's exact conditional given them, so the likelihood of the
other voices given the line is exact too. A cap on the pitches of a step keeps the texture to the
voices that may sound (drawn greedily, see :meth:`bach2.nn.nade.NADELayer.sample`), and each step is
drawn until it fills them (``fill``: the first of :data:`bach2.sampling.FILL_DRAWS` draws that does), so
that N voices are N voices: with the cap alone the model, starting from a lone melody, often wrote two.

A :class:`VoicePlan` says, step by step, which voices may sound and which one, if any, is given;
:func:`write_with_plan` samples the steps, switching between the 'up' and the 'down' model where
the given voice changes from bottom to top (each segment reads everything written before it);
:func:`separate_voices` deals the sounding pitches into voices, the given one kept, the others
nearest to where each voice last sounded; :func:`plan_piece` does both and makes the piece that
:func:`bach2.render.piece.write_piece` writes.

Lines are ``T`` int64 pitch-matrix columns, P = rest (as :mod:`bach2.models.line_model`), with ``T`` bool
onsets (True where a note is struck).
"""
import dataclasses
import itertools
import pathlib
import sys

import numpy as np

from bach2.common import CheckpointError, MIDI_SUFFIXES, CorpusError
from bach2.compose.lines import Sampling, lines_piece
from bach2.data.voice_tokens import VOICE_NAMES
from bach2.midi_to_time_series import read_tune
from bach2.models.checkpoints import SHIPPED_MODELS, load_samplers
from bach2.music.key_finding import MODES, key_correlations, key_of, key_of_midi_name, tonic_class
from bach2.music.metre import pad_positions, piece_positions, usual_bar
from bach2.render.piece import Output, write_piece
from bach2.render.scores import time_signature_of
from bach2.time_series_to_pitch_matrix import (JOURNAL_STEP_TICKS, onset_matrix, quantization_report,
                                               quantization_summary, time_series_to_pitch_matrix)

ORDER_OF_SIDE = {'top': 'down', 'bottom': 'up'}        # the drawing order that gives this voice first
UNSEEN = 12            # semitones a voice that has not sounded yet counts as away from any pitch


@dataclasses.dataclass
class VoicePlan:
    """What the form fixes at each of T steps, for ``n_voices`` voices (voice 0 the highest).

    ``voice``: ``T`` int, the voice whose line is given at that step, −1 none; ``line``: ``T`` int
    column of the given note (P = the given voice rests); ``struck``: ``T`` bool, the given note starts
    there; ``active``: ``T × n_voices`` bool, the voices that may sound; ``n_pitches``: P.
    """
    voice: np.ndarray
    line: np.ndarray
    struck: np.ndarray
    active: np.ndarray
    n_pitches: int

    @property
    def n_voices(self):
        return self.active.shape[1]

    def side(self, t):
        """'top' or 'bottom' where the given voice is the highest or lowest that may sound at step t
        ('only' where it sounds alone), None where no note is given; an inner voice is a ValueError."""
        voice = self.voice[t]
        if voice < 0 or self.line[t] >= self.n_pitches:
            return None
        sounding = np.flatnonzero(self.active[t])
        if len(sounding) == 1:
            return 'only'
        if voice == sounding[0]:
            return 'top'
        if voice == sounding[-1]:
            return 'bottom'
        raise ValueError(f'step {t}: voice {voice} is given between two sounding voices; only the highest or '
                         'the lowest voice can be given exactly')


def plan_units(plan, articulation):
    """→ (``T × W`` int8 given units: 1 on, 0 off, −1 the model's; ``T`` int caps on the sounding
    pitches; ``T`` drawing orders 'up', 'down' or '' where either gives the same)."""
    n_steps, n_pitches = len(plan.voice), plan.n_pitches
    width = n_pitches * (2 if articulation else 1)
    given = np.full((n_steps, width), -1, np.int8)
    orders = np.full(n_steps, '', object)
    caps = plan.active.sum(axis=1)
    for t in range(n_steps):
        side, column = plan.side(t), plan.line[t]
        if side is None:
            caps[t] -= int(plan.voice[t] >= 0 and plan.active[t, plan.voice[t]])   # the given voice rests
            continue
        beyond = slice(column + 1, None) if side == 'top' else slice(0, column) if side == 'bottom' else slice(None)
        given[t, :n_pitches][beyond] = 0
        given[t, column] = 1
        if articulation:
            given[t, n_pitches:][beyond] = 0
            given[t, n_pitches + column] = int(plan.struck[t])
        orders[t] = ORDER_OF_SIDE.get(side, '')
    return given, caps, orders


def order_segments(orders, first='up'):
    """``T`` orders ('' = either) → [(start, end, order)]: runs of one model, '' joining the run before it."""
    segments, current = [], None
    for t, order in enumerate(orders):
        order = order or (current or first)
        if order != current:
            segments.append([t, t + 1, order])
            current = order
        else:
            segments[-1][1] = t + 1
    return [tuple(segment) for segment in segments]


def write_with_plan(samplers, plan, positions, sampling=Sampling(), fill=True):
    """Sample the ``T`` steps of ``plan`` → ``T × W`` uint8 steps.

    ``samplers``: {'up': Sampler, 'down': Sampler} (one is enough where the plan never needs the
    other); ``positions``: ``T × 2`` bar positions (models with ``metre_input``). Each run of one
    drawing order is one ``continue_piece`` in the carried context, from silence then everything written,
    at ``sampling``'s temperature and seed; its ``progress(fraction)``, if any, is called after each.
    ``fill``: each step is drawn until it sounds every voice the plan lets sound (``continue_piece(fill=)``),
    so that N voices are N voices; False: the cap alone, where the model often writes fewer.
    """
    config = next(iter(samplers.values())).config
    given, caps, orders = plan_units(plan, config.articulation)
    segments = order_segments(orders, first='up' if 'up' in samplers else 'down')
    for _, _, order in segments:
        if order not in samplers:
            raise CheckpointError(f'this line needs a model drawn {order} (bach2 train --pitch-order {order})')
    positions = pad_positions(np.asarray(positions), 1)            # the silent step the piece starts from
    steps = np.zeros((1 + len(plan.voice), config.step_width), np.uint8)
    for k, (start, end, order) in enumerate(segments):
        new, _ = samplers[order].continue_piece(
            steps[:start + 1], end - start, seed=sampling.seed + 7919 * k, temperature=sampling.temperature,
            context='carry', positions=positions[:end + 1], given=given[start:end], max_notes=caps[start:end],
            fill=fill)
        steps[start + 1:end + 1] = new
        if sampling.progress:
            sampling.progress(end / len(plan.voice))
    return steps[1:]


def _deal(notes, voices, last):
    """Pitches ``notes`` (high to low) among ``voices`` (high to low) → {voice: pitch}: in order, the voices
    chosen (when fewer notes) so that each note lies nearest where its voice last sounded."""
    def distance(choice):
        return sum(UNSEEN if last[v] is None else abs(last[v] - n) for v, n in zip(choice, notes))
    best = min(itertools.combinations(voices, len(notes)), key=distance)
    return dict(zip(best, notes))


def separate_voices(steps, plan):
    """``T × W`` sampled steps → (``n_voices × T`` int64 lines, P = rest; ``n_voices × T`` bool onsets).

    The given voice keeps the plan's line; the other pitches of a step go, high to low, to the other
    voices that may sound (nearest to their last pitch when there are fewer pitches than voices; the
    lowest extra pitches, if a step has more than its voices, are dropped). Without an onset plane a
    voice strikes a note where its pitch changes.
    """
    steps = np.asarray(steps)
    n_steps, n_voices, n_pitches = len(steps), plan.n_voices, plan.n_pitches
    lines = np.full((n_voices, n_steps), n_pitches, np.int64)
    onsets = np.zeros((n_voices, n_steps), bool)
    struck_plane = steps[:, n_pitches:] if steps.shape[1] == 2 * n_pitches else None
    last = [None] * n_voices
    for t in range(n_steps):
        fixed = plan.voice[t] if plan.voice[t] >= 0 and plan.line[t] < n_pitches else -1
        notes = [int(c) for c in np.flatnonzero(steps[t, :n_pitches])[::-1] if not (fixed >= 0 and c == plan.line[t])]
        voices = [v for v in np.flatnonzero(plan.active[t]) if v != fixed and v != plan.voice[t]]
        dealt = _deal(notes[:len(voices)], voices, last) if voices and notes else {}
        if fixed >= 0:
            dealt[fixed] = int(plan.line[t])
        for voice, column in dealt.items():
            lines[voice, t] = column
            if voice == fixed:
                onsets[voice, t] = bool(plan.struck[t])
            elif struck_plane is not None:
                onsets[voice, t] = bool(struck_plane[t, column]) or t == 0 or lines[voice, t - 1] != column
            else:
                onsets[voice, t] = t == 0 or lines[voice, t - 1] != column
            last[voice] = column
    return lines, onsets


def read_given(path, step_ticks=JOURNAL_STEP_TICKS):
    """A MIDI file of music to write around → its :class:`~bach2.midi_to_time_series.Piece`, drums left out
    (:func:`~bach2.midi_to_time_series.read_tune`); CorpusError naming the file if it is not MIDI. The notes that
    rhythms finer than a step of ``step_ticks`` change are named on stderr (:func:`warn_quantization`)."""
    path = pathlib.Path(path)
    if path.suffix.lower() not in MIDI_SUFFIXES:
        raise CorpusError(f'{path}: not a MIDI file (expected {", ".join(sorted(MIDI_SUFFIXES))})')
    piece = read_tune(path)
    warn_quantization(path, piece, step_ticks)
    return piece


def line_of(piece, path, which, n_pitches, lowest_pitch, step_ticks=JOURNAL_STEP_TICKS):
    """A piece read from ``path`` (:func:`read_given`) → (``T`` line: its highest ('top') or lowest ('bottom')
    pitch at each step, ``T`` onsets, ``T × 2`` bar positions); CorpusError naming the file if it has no note or
    leaves the model's pitch range."""
    matrix, dropped = time_series_to_pitch_matrix(piece, step_ticks, lowest_pitch, n_pitches)
    if dropped:
        raise CorpusError(f'{path}: {dropped} notes lie outside the model\'s range (MIDI {lowest_pitch}–'
                          f'{lowest_pitch + n_pitches - 1})')
    if not matrix.any():
        raise CorpusError(f'{path}: no notes')
    struck = onset_matrix(piece, step_ticks, lowest_pitch, n_pitches)
    line = np.full(len(matrix), n_pitches, np.int64)
    onsets = np.zeros(len(matrix), bool)
    for t in np.flatnonzero(matrix.any(axis=1)):
        line[t] = np.flatnonzero(matrix[t])[-1 if which == 'top' else 0]
        onsets[t] = bool(struck[t, line[t]]) or t == 0 or line[t - 1] != line[t]
    return line, onsets, piece_positions(piece, step_ticks, len(matrix))


def read_line(path, which, n_pitches, lowest_pitch, step_ticks=JOURNAL_STEP_TICKS):
    """A MIDI file → :func:`line_of` the piece :func:`read_given` reads from it."""
    return line_of(read_given(path, step_ticks), path, which, n_pitches, lowest_pitch, step_ticks)


def warn_quantization(path, piece, step_ticks, shown=8):
    """Print to stderr which notes of ``piece`` (read from ``path``) the grid of ``step_ticks`` (at 96 a quarter)
    moves, merges or drops, one line and then the first ``shown`` of them; nothing where all fit."""
    report = quantization_report(piece, step_ticks)
    if report:
        print(f'bach2: warning: {path}: {quantization_summary(report, step_ticks)}', file=sys.stderr)
        for time, pitch, what in report[1:shown]:
            print(f'  quarter {time:.4g}, {pitch} {what}', file=sys.stderr)
        if len(report) > shown:
            print(f'  … and {len(report) - shown} more', file=sys.stderr)


def check_room(path, line, voice, n_voices, geometry):
    """CorpusError naming ``path`` where the given ``line`` (``T`` columns, P = rest) of a 'soprano' (or 'bass')
    comes so low (high) that the model's range leaves fewer pitches below (above) it than the other voices."""
    sounding = line[line < geometry.n_pitches]
    room = sounding.min() if voice == 'soprano' else geometry.n_pitches - 1 - sounding.max()
    if room < n_voices - 1:
        extreme = geometry.lowest_pitch + (sounding.min() if voice == 'soprano' else sounding.max())
        side = 'below' if voice == 'soprano' else 'above'
        raise CorpusError(f'{path}: the {voice} reaches MIDI {extreme}, which leaves no room for {n_voices - 1} '
                          f'voices {side} it in the model\'s range (MIDI {geometry.lowest_pitch}–'
                          f'{geometry.lowest_pitch + geometry.n_pitches - 1}): move it an octave '
                          f'{"up" if voice == "soprano" else "down"}')


def harmonize_plan(line, onsets, voice, n_voices, n_pitches):
    """A soprano (``voice`` 'soprano') or bass line → the :class:`VoicePlan` of ``n_voices`` voices around it."""
    n_steps = len(line)
    index = 0 if voice == 'soprano' else n_voices - 1
    return VoicePlan(voice=np.full(n_steps, index), line=np.asarray(line), struck=np.asarray(onsets, bool),
                     active=np.ones((n_steps, n_voices), bool), n_pitches=n_pitches)


def bar_layout(positions):
    """``T × 2`` bar positions → (steps in a bar, the most common length; steps of that bar before the first
    step: its position, or what a shorter first bar, a pickup, leaves out)."""
    positions = np.asarray(positions, np.int64)
    bar = usual_bar(positions)
    position, first_bar = int(positions[0][0]), int(positions[0][1])
    return bar, (bar - first_bar + position) % bar if first_bar < bar else position


def plan_piece(samplers, geometry, plan, positions, sampling=Sampling()):
    """Sample ``plan`` (:func:`write_with_plan`) and deal the voices (:func:`separate_voices`) → (the
    :class:`~bach2.render.piece.Composition` of one voice per line, named as :data:`VOICE_NAMES`, in the bars
    of ``positions`` (``T × 2``; the first step's position, or a pickup, puts the notes late by the part of
    the first bar before it); ``n_voices × T`` lines, ``n_voices × T`` onsets). Steps and pitches are
    ``geometry``'s (:class:`~bach2.music.geometry.Geometry`)."""
    steps = write_with_plan(samplers, plan, positions, sampling)
    lines, onsets = separate_voices(steps, plan)
    names = VOICE_NAMES[plan.n_voices]
    bar, lead = bar_layout(positions)
    piece = lines_piece(dict(zip(names, lines)), geometry, dict(zip(names, onsets)), lead_steps=lead)
    piece.time_signature = time_signature_of(bar, geometry.steps_per_quarter)
    piece.positions = np.asarray(positions)
    piece.record.update({'steps': steps, 'bar_positions': np.asarray(positions), 'seed': sampling.seed,
                         'temperature': sampling.temperature})
    return piece, lines, onsets


def melody_key(piece, top=4):
    """The key of a given line (a :class:`~bach2.midi_to_time_series.Piece`): the key signature it starts with
    where its notes agree (the key is among the ``top`` of 24 their pitch classes correlate with best), else
    the key its notes fit best → ('F#', 'minor'). A signature MIDI writers put by default (C major on a piece
    in E♭) is not taken."""
    histogram = np.zeros(12)
    for voice in piece.voices:
        for _, pitch, duration in voice.notes:
            histogram[pitch % 12] += duration
    ranked = [key_of(k // 2, MODES[k % 2]) for k in np.argsort(-key_correlations(histogram))[:top]]
    if piece.key_signatures:
        written = key_of_midi_name(piece.key_signatures[0][1])
        if any(tonic_class(written) == tonic_class(key) and written[1] == key[1] for key in ranked):
            return written
    return ranked[0]


def harmonize(melody, voice='soprano', n_voices=4, checkpoint=None, sampling=Sampling(), output=Output()):
    """Harmonize the highest (``voice='soprano'``) or lowest (``'bass'``) line of the MIDI file ``melody``
    in ``n_voices`` voices → (files {kind: path}, ``n_voices × T`` lines), written as ``output`` says (named
    ``harmonized_<voice>_<melody stem>_seed<k>`` unless it names them; the score in the melody's key,
    :func:`melody_key`). ``checkpoint``: an lstm-nade drawn in the order that gives this voice first (default:
    the shipped model of that order)."""
    if voice not in ('soprano', 'bass'):
        raise ValueError(f"voice must be 'soprano' or 'bass', not {voice!r}")
    if n_voices not in (2, 3, 4):
        raise ValueError(f'voices must be 2, 3 or 4, not {n_voices}')
    order = ORDER_OF_SIDE['top' if voice == 'soprano' else 'bottom']
    samplers, geometry = load_samplers({order: checkpoint or SHIPPED_MODELS[order]})
    tune = read_given(melody, geometry.step_ticks)
    line, onsets, positions = line_of(tune, melody, 'top' if voice == 'soprano' else 'bottom', geometry.n_pitches,
                                      geometry.lowest_pitch, geometry.step_ticks)
    check_room(melody, line, voice, n_voices, geometry)
    plan = harmonize_plan(line, onsets, voice, n_voices, geometry.n_pitches)
    piece, lines, _ = plan_piece(samplers, geometry, plan, positions, sampling)
    piece.key = melody_key(tune)
    piece.record.update({'given_voice': voice, 'melody': str(melody)})
    files = write_piece(piece, output.named(f'harmonized_{voice}_{pathlib.Path(melody).stem}_seed{sampling.seed}'))
    return files, lines
