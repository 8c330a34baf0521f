"""Writing in voices with the voice model: harmonize any voices given, rewrite a passage, continue a primer.

Each reads MIDI into voice tokens (:mod:`bach2.data.voice_tokens`: a file whose tracks are voices keeps them, a
texture is split into voices), marks the cells that are given, fills the others
(:func:`bach2.models.voice_sampling.gibbs_fill`: step by step; given cells are kept exactly) and makes the
:class:`~bach2.render.piece.Composition` that :func:`bach2.render.piece.write_piece` writes, one track and one
staff per voice.

* :func:`harmonize_voices`: lines given in some of N voices (a soprano, an alto and a bass …), the others written;
* :func:`rewrite_passage`: a piece kept note for note outside some bars (and voices), those written again — a note
  that starts inside the passage is the passage's, to its end;
* :func:`continue_voices`: a primer in N voices, then N voices more;
* :func:`harmonize_file`, :func:`rewrite_file`: the same from a MIDI file to the files of a piece.

Steps are 16th notes (24 ticks at 96 per quarter); pitches A0–C8.
"""
import dataclasses
import glob
import os
import pathlib

import numpy as np

from bach2.common import CorpusError
from bach2.compose.lines import Sampling
from bach2.data.voice_data import piece_voice_tokens
from bach2.data.voice_tokens import (HOLD, LOWEST, N_KEYS, REST, VOICE_NAMES, line_steps, line_tokens, token_notes,
                                     voice_lines)
from bach2.music.metre import continue_positions, piece_positions, usual_bar
from bach2.render.piece import Composition, Output, write_piece
from bach2.render.scores import time_signature_of
from bach2.time_series_to_pitch_matrix import JOURNAL_STEP_TICKS, ticks_per_step

STEP = JOURNAL_STEP_TICKS


@dataclasses.dataclass
class VoicePiece:
    """Tokens of a piece in voices: ``tokens`` ``V × T`` (highest first), ``positions`` ``T × 2`` bar positions,
    ``names`` of the voices."""
    tokens: np.ndarray
    positions: np.ndarray
    names: tuple


def voice_index(name, n_voices):
    """A voice name ('alto') → its row among ``n_voices`` voices; CorpusError listing the names otherwise."""
    names = VOICE_NAMES.get(n_voices)
    if names is None:
        raise CorpusError(f'{n_voices} voices: 2 to 6 can be written')
    if name not in names:
        raise CorpusError(f'no {name!r} among {n_voices} voices: choose from {", ".join(names)}')
    return names.index(name)


def read_voices(piece, n_voices=None):
    """A :class:`~bach2.midi_to_time_series.Piece` → :class:`VoicePiece` of its voices (its tracks, or its
    texture separated into ``n_voices``), on the 16th-note grid."""
    tokens, positions, _ = piece_voice_tokens(piece, STEP, n_voices)
    if not tokens.shape[1]:
        raise CorpusError(f'{piece.name}: no notes')
    n = tokens.shape[1]
    return VoicePiece(tokens.T.copy(), positions, VOICE_NAMES.get(n, tuple(f'voice{i + 1}' for i in range(n))))


def given_lines(piece, count):
    """The ``count`` lines of a piece given to harmonize, highest first: its voices when it has ``count``; one
    line from a texture is its top line (the melody). CorpusError naming the piece otherwise."""
    step = ticks_per_step(piece.resolution, STEP)
    lines, _ = voice_lines([voice.notes for voice in piece.voices], step)
    if len(lines) == count or count == 1:
        return lines[:count], step
    raise CorpusError(f'{piece.name}: {len(lines)} voices, but {count} are to be given (one track per voice)')


def harmonize_voices(model, piece, given, n_voices, sampling=Sampling(), schedule=None):
    """Lines of ``piece`` given as the voices named in ``given`` (highest first, e.g. ('alto',) or ('soprano',
    'bass')) of ``n_voices`` → :class:`VoicePiece` with every other voice written."""
    from bach2.models.voice_sampling import GibbsSchedule, gibbs_fill
    rows = [voice_index(name, n_voices) for name in given]
    if sorted(rows) != rows or len(set(rows)) != len(rows):
        raise CorpusError(f'given voices must be named highest first, each once: {", ".join(given)}')
    lines, step = given_lines(piece, len(given))
    n_steps = line_steps(lines, step)
    tokens = np.full((n_voices, n_steps), REST, np.int16)
    known = np.zeros_like(tokens, bool)
    for row, line in zip(rows, lines):
        tokens[row] = line_tokens(line, step, n_steps)
        known[row] = True
    positions = piece_positions(piece, STEP, n_steps)
    filled = gibbs_fill(model, tokens, known, positions[:, 0], schedule or GibbsSchedule(), sampling.temperature,
                        sampling.seed, on_round=sampling.progress)
    return VoicePiece(filled, positions, VOICE_NAMES[n_voices])


def passage_cells(tokens, steps, voices):
    """Cells to write again: in ``voices`` (rows), the steps ``steps`` (a range) and the whole of every note
    struck inside them (its holds after the passage) → ``V × T`` bool."""
    free = np.zeros(tokens.shape, bool)
    for v in voices:
        free[v, steps.start:steps.stop] = True
        t = steps.stop
        while t < tokens.shape[1] and tokens[v, t] == HOLD:
            free[v, t] = True
            t += 1
    return free


def bar_steps(positions, first_bar, last_bar):
    """Bars ``first_bar`` … ``last_bar`` (counted from 1; a pickup, a short or partial first bar, is bar 0) of
    ``T × 2`` bar positions → range of steps; CorpusError when the piece has no such bars."""
    positions = np.asarray(positions)
    starts = list(np.flatnonzero(positions[:, 0] == 0))
    if not starts or starts[0] != 0:
        starts = [0] + starts
    pickup = positions[0, 0] != 0 or positions[0, 1] < usual_bar(positions)
    numbers = np.arange(len(starts)) + (0 if pickup else 1)
    chosen = np.flatnonzero((numbers >= first_bar) & (numbers <= last_bar))
    if first_bar > last_bar or not len(chosen):
        raise CorpusError(f'bars {first_bar}-{last_bar}: the piece has bars {numbers[0]}-{numbers[-1]}')
    end = starts[chosen[-1] + 1] if chosen[-1] + 1 < len(starts) else len(positions)
    return range(int(starts[chosen[0]]), int(end))


def rewrite_passage(model, voice_piece, steps, voices, sampling=Sampling(), schedule=None):
    """:class:`VoicePiece` with ``voices`` (rows) written again over ``steps`` (:func:`passage_cells`), every
    other cell kept → a new :class:`VoicePiece`."""
    from bach2.models.voice_sampling import GibbsSchedule, gibbs_fill
    free = passage_cells(voice_piece.tokens, steps, voices)
    filled = gibbs_fill(model, voice_piece.tokens, ~free, voice_piece.positions[:, 0], schedule or GibbsSchedule(),
                        sampling.temperature, sampling.seed, on_round=sampling.progress)
    return dataclasses.replace(voice_piece, tokens=filled)


def continue_voices(model, voice_piece, n_steps, sampling=Sampling(), schedule=None, ending=None):
    """:class:`VoicePiece` (a primer) → the primer and ``n_steps`` more steps in its voices; by default the
    sampler reuses the piece's figures (:data:`~bach2.models.voice_sampling.CONTINUATION_FIGURES`). ``ending``:
    (``V × n_steps`` tokens, ``V × n_steps`` bool) cells of the new steps given too (a final cadence)."""
    from bach2.models.voice_sampling import CONTINUATION_FIGURES, GibbsSchedule, gibbs_fill
    V, T = voice_piece.tokens.shape
    tokens = np.concatenate([voice_piece.tokens, np.full((V, n_steps), REST, np.int16)], axis=1)
    known = np.zeros(tokens.shape, bool)
    known[:, :T] = True
    if ending is not None:
        tokens[:, T:] = np.where(ending[1], ending[0], REST)
        known[:, T:] = ending[1]
    positions = np.concatenate([voice_piece.positions, continue_positions(voice_piece.positions, n_steps)])
    filled = gibbs_fill(model, tokens, known, positions[:, 0], schedule or GibbsSchedule(figures=CONTINUATION_FIGURES),
                        sampling.temperature, sampling.seed, on_round=sampling.progress)
    return VoicePiece(filled, positions, voice_piece.names)


def voices_composition(voice_piece, key=None, title='', record=None):
    """:class:`VoicePiece` → :class:`~bach2.render.piece.Composition`: one voice per row, its struck notes and
    holds as MIDI notes, an 88-key roll with its onsets, bars as ``positions`` say."""
    from bach2.compose.harmonize import bar_layout
    tokens = voice_piece.tokens
    T = tokens.shape[1]
    matrix = np.zeros((T, N_KEYS), np.uint8)
    onsets = np.zeros((T, N_KEYS), np.uint8)
    voices = {}
    for name, row in zip(voice_piece.names, tokens):
        notes = token_notes(row, STEP)
        voices[name] = notes
        for onset, pitch, duration in notes:
            first = onset // STEP
            matrix[first:first + duration // STEP, pitch - LOWEST] = 1
            onsets[first, pitch - LOWEST] = 1
    bar, lead = bar_layout(voice_piece.positions)
    return Composition(voices, matrix, LOWEST, {'voice_tokens': tokens, 'voice_names': list(voice_piece.names),
                                                **(record or {})},
                       STEP, onsets=onsets, time_signature=time_signature_of(bar, 4), lead_steps=lead, key=key,
                       positions=np.asarray(voice_piece.positions), title=title)


# --------------------------------------------------------------------------- from files to files

def harmonizer(given, n_voices, model='auto'):
    """Which model harmonizes the voices ``given`` (names) of ``n_voices``: 'lstm-nade' (a lone soprano or bass
    in 2–4 voices: drawn from that voice out, its exact conditional) or 'voices' (anything else); ``model``
    'auto' chooses, 'lstm-nade' or 'voices' insists → the model; CorpusError where the LSTM-NADE cannot."""
    lone_outer = len(given) == 1 and given[0] in ('soprano', 'bass') and n_voices <= 4
    if model == 'auto':
        return 'lstm-nade' if lone_outer else 'voices'
    if model == 'lstm-nade' and not lone_outer:
        raise CorpusError('--model lstm-nade harmonizes a lone soprano or bass in 2–4 voices; '
                          'give --model voices for other voices')
    return model


def voice_model_for(checkpoint, kind):
    """``checkpoint`` (None: the shipped voice model of ``kind``, 'voices' or 'chorales') → loaded model."""
    from bach2.models.checkpoints import SHIPPED_VOICE_MODELS, load_voice_model
    model, _ = load_voice_model(checkpoint or SHIPPED_VOICE_MODELS[kind])
    return model


def harmonize_file(melody, given, n_voices, checkpoint=None, sampling=Sampling(), output=Output(), kind='chorales'):
    """The lines of the MIDI file ``melody`` as the voices ``given`` (names, highest first) of ``n_voices``, the
    others written by the voice model → (files {kind: path}, :class:`VoicePiece`); named
    ``harmonized_<voices>_<melody stem>_seed<k>`` unless ``output`` names them; the score in the melody's key."""
    from bach2.compose.harmonize import melody_key, read_given
    tune = read_given(melody, STEP)
    for name in given:
        voice_index(name, n_voices)             # a wrong name is said before the model loads
    written = harmonize_voices(voice_model_for(checkpoint, kind), tune, given, n_voices, sampling)
    piece = voices_composition(written, key=melody_key(tune),
                               record={'given_voices': list(given), 'melody': str(melody), 'seed': sampling.seed})
    name = f'harmonized_{"+".join(given)}_{pathlib.Path(melody).stem}_seed{sampling.seed}'
    return write_piece(piece, output.named(name)), written


def rewrite_file(path, bars, voices=None, checkpoint=None, sampling=Sampling(), output=Output(), kind='voices'):
    """The MIDI file ``path`` with bars ``bars`` ((first, last), counted from 1) of ``voices`` (names; None:
    all) written again, everything else kept note for note → (files, the new :class:`VoicePiece`, the free
    cells ``V × T``); named ``<stem>_rewritten_bars<a>-<b>_seed<k>``."""
    from bach2.compose.harmonize import melody_key, read_given
    tune = read_given(path, STEP)
    original = read_voices(tune)
    rows = range(len(original.names)) if not voices else [voice_index(v, len(original.names)) for v in voices]
    steps = bar_steps(original.positions, *bars)
    rewritten = rewrite_passage(voice_model_for(checkpoint, kind), original, steps, list(rows), sampling)
    free = passage_cells(original.tokens, steps, list(rows))
    piece = voices_composition(rewritten, key=melody_key(tune), record={'rewritten_bars': list(bars),
                               'rewritten_voices': [original.names[r] for r in rows], 'source': str(path)})
    name = f'{pathlib.Path(path).stem}_rewritten_bars{bars[0]}-{bars[1]}_seed{sampling.seed}'
    return write_piece(piece, output.named(name)), rewritten, free


def corpus_primer(primer):
    """A ``--primer`` of a continuation in voices → a MIDI path, or None for 'random' (a held-out piece): a MIDI
    file, or the name of a piece of the built-in corpus in voices (``bwv855_fugue_wtc1_10``); CorpusError else."""
    from bach2.data.default_corpus import KEYBOARD_VOICES
    if primer == 'random':
        return None
    if os.path.isfile(primer):
        return primer
    found = sorted(KEYBOARD_VOICES.glob(f'*/{glob.escape(primer)}.mid'))
    if not found:
        raise CorpusError(f'{primer}: no such MIDI file, nor a piece of the built-in corpus in voices '
                          f'({KEYBOARD_VOICES}); a continuation in voices takes a MIDI file, a piece of that corpus '
                          f'or random')
    return str(found[0])


def held_out_primer(meta, n_voices, rng):
    """A piece of the built-in corpus in voices that the voice model held out (``meta['held_out']``) with
    ``n_voices`` voices → its path; CorpusError when there is none."""
    from bach2.data.default_corpus import KEYBOARD_VOICES
    from bach2.midi_to_time_series import midi_to_time_series
    held = [path for path in sorted(KEYBOARD_VOICES.glob('*/*.mid')) if path.stem in set(meta.get('held_out', ()))]
    fitting = [path for path in held if len(read_voices(midi_to_time_series(path)).names) == n_voices]
    if not fitting:
        raise CorpusError(f'no held-out piece of the corpus in voices has {n_voices} voices: give a primer '
                          f'(--primer FILE.mid)')
    return fitting[rng.integers(len(fitting))]


def continue_file(primer, n_voices, n_steps, primer_bars=2, checkpoint=None, sampling=Sampling(), output=Output()):
    """The first ``primer_bars`` bars of the MIDI file ``primer`` (None: of a held-out piece of the corpus with
    ``n_voices`` voices, 4 if None), in ``n_voices`` voices (None: the primer's own), continued for ``n_steps``
    16ths by the voice model → (files, :class:`VoicePiece` of primer and continuation); named
    ``voices<N>_<primer stem>_seed<k>``."""
    from bach2.compose.harmonize import melody_key, read_given
    from bach2.models.checkpoints import SHIPPED_VOICE_MODELS, load_voice_model
    model, meta = load_voice_model(checkpoint or SHIPPED_VOICE_MODELS['voices'])
    primer = primer or held_out_primer(meta, n_voices or 4, np.random.default_rng(sampling.seed))
    tune = read_given(primer, STEP)
    voices = read_voices(tune, n_voices)
    if n_voices and len(voices.names) != n_voices:
        raise CorpusError(f'{primer}: {len(voices.names)} voices, not {n_voices}')
    n_voices = len(voices.names)
    start = bar_steps(voices.positions, 1, primer_bars) if len(voices.tokens[0]) else range(0)
    head = VoicePiece(voices.tokens[:, :start.stop], voices.positions[:start.stop], VOICE_NAMES[n_voices])
    written = continue_voices(model, head, n_steps, sampling)
    piece = voices_composition(written, key=melody_key(tune), record={'primer': str(primer),
                               'primer_steps': start.stop, 'seed': sampling.seed})
    name = f'voices{n_voices}_{pathlib.Path(primer).stem}_seed{sampling.seed}'
    return write_piece(piece, output.named(name)), written
