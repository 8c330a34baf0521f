"""A fugue exposition on a given subject (``bach2 fugue``).

The form, as this module lays it out for ``n_voices`` of 3 or 4 (voice 0 the highest):

1. the subject alone, in the tonic, in the alto (voice 1);
2. the answer in the dominant, in the soprano, above the alto, which goes on against it;
3. the subject an octave below the first entry, in the voice below (the bass of 3 voices, the tenor of 4);
4. (4 voices) the answer two octaves below the second entry, in the bass;
5. a free continuation in all voices.

Each new entry enters above or below every voice already sounding, so the given voice is always
the highest or the lowest and the others are drawn from the model's exact conditional given it
(:mod:`bach2.compose.harmonize`: the soprano with a model drawn high to low, the others low to high).
Entries follow each other every ``spacing`` steps: the subject's length rounded up to whole bars,
so each entry starts at the same place in the bar as the subject; a voice whose entry has ended is
free. The answer (:func:`answer_of`) is *real* (every note a fifth up) or *tonal*: the rule used
is the classical one for the head of the subject — while the subject's opening notes are only
tonic and dominant, a dominant is answered by the tonic (a fourth up) and a tonic by the
dominant; from the first other note on, everything a fifth up. A subject without the dominant in
its head gets the same answer either way.

A subject is a MIDI file (its highest line; its own bar positions) or notes written as text
(:func:`parse_subject`), starting on a downbeat of 4/4. Steps are the model's (16ths for the shipped one).
"""
import dataclasses
import fractions
import re
import typing

import numpy as np

from bach2.common import MIDI_SUFFIXES, CorpusError
from bach2.compose.harmonize import VOICE_NAMES, VoicePlan, plan_piece, read_line
from bach2.compose.lines import Sampling
from bach2.data.training_set import load_piece, piece_names
from bach2.models.checkpoints import SHIPPED_MODELS, load_samplers
from bach2.music.key_finding import MODES, key_correlations
from bach2.music.metre import fit_positions, regular_positions
from bach2.music.pitch_names import PITCH_CLASS_NAMES, parse_pitch_name
from bach2.music.progressions import parse_key
from bach2.render.piece import Output, write_piece

STEPS_PER_QUARTER = 4
ANSWERS = ('tonal', 'real')
#: (voice, 'subject' or 'answer', octaves from the first entry) of each entry, in order
ENTRIES = {3: ((1, 'subject', 0), (0, 'answer', 0), (2, 'subject', -1)),
           4: ((1, 'subject', 0), (0, 'answer', 0), (2, 'subject', -1), (3, 'answer', -2))}
_TOKEN = re.compile(r'^(?P<note>[^:]+)(?::(?P<length>\d+(?:\.\d+)?(?:/\d+)?))?$')     # a note or r, a length


class Entry(typing.NamedTuple):
    """One entry of the exposition: its first step, voice, 'subject' or 'answer', and its ``T_e``
    MIDI pitches (−1 rest) and onsets."""
    start: int
    voice: int
    kind: str
    pitches: np.ndarray
    onsets: np.ndarray


class Subject(typing.NamedTuple):
    """A subject: ``T`` MIDI pitches (−1 rest), ``T`` bool onsets and ``T × 2`` bar positions, in the model's
    steps; ``spec``: what it was read from (text or a MIDI file, kept in the ``.p`` as 'subject'), None for a
    subject found in a piece (:func:`subject_of`)."""
    pitches: np.ndarray
    onsets: np.ndarray
    positions: np.ndarray
    spec: str = None


@dataclasses.dataclass(frozen=True)
class Form:
    """The form of an exposition: ``voices`` (3 or 4), the ``answer`` rule ('tonal' or 'real', :func:`answer_of`),
    the ``key`` (e.g. 'C minor'; '' = found from the subject, :func:`subject_key`) and ``free_bars``, the bars
    in all voices after the entries."""
    voices: int = 3
    answer: str = 'tonal'
    key: str = ''
    free_bars: int = 4


class SubjectError(ValueError):
    """A subject that cannot be read or placed; the message names the token or the problem."""


def parse_subject(text, steps_per_quarter=STEPS_PER_QUARTER):
    """Notes as text → (``T`` int MIDI pitch per step (a 16th at 4 steps per quarter), −1 rest; ``T`` bool
    onsets).

    Tokens are separated by spaces: a pitch in scientific notation (``C4`` = middle C = MIDI 60,
    ``Eb4``, ``F#3``) or ``r`` (a rest), each optionally followed by ``:LENGTH`` in quarter notes
    (``:1`` a quarter, ``:0.5`` or ``:1/2`` an eighth, ``:1.5`` a dotted quarter); a token without a
    length keeps the one before it (the first: a quarter). Lengths must be whole steps.
    """
    tokens = text.split()
    if not tokens:
        raise SubjectError('the subject is empty: give notes such as "C4 Eb4:0.5 D4 C4"')
    pitches, onsets, length = [], [], fractions.Fraction(1)
    for token in tokens:
        match = _TOKEN.match(token)
        rest = bool(match) and match['note'] in ('r', 'R')
        pitch = -1 if rest else parse_pitch_name(match['note'], scientific=True) if match else None
        if pitch is None:
            raise SubjectError(f'subject token {token!r} is not a note: expected e.g. C4, Eb4:0.5, F#3:1/2 or r:1')
        if match['length']:
            length = fractions.Fraction(match['length'])
        steps = length * steps_per_quarter
        if steps <= 0 or steps.denominator != 1:
            raise SubjectError(f'subject token {token!r}: a length must be a positive multiple of '
                               f'{fractions.Fraction(1, steps_per_quarter)} quarter note (one step of the model)')
        if not (rest or 0 <= pitch <= 127):
            raise SubjectError(f'subject token {token!r} is outside MIDI 0–127')
        pitches += [pitch] * int(steps)
        onsets += [pitch >= 0] + [False] * (int(steps) - 1)
    if max(pitches) < 0:
        raise SubjectError('the subject has only rests')
    return np.array(pitches), np.array(onsets)


def read_subject(spec, geometry):
    """A MIDI file (its highest line) or subject text → its :class:`Subject` in steps of ``geometry``
    (:class:`~bach2.music.geometry.Geometry`), leading and trailing rests cut."""
    if spec.strip().lower().endswith(tuple(MIDI_SUFFIXES)):
        line, onsets, positions = read_line(spec.strip(), 'top', geometry.n_pitches, geometry.lowest_pitch,
                                            geometry.step_ticks)
        pitches = np.where(line < geometry.n_pitches, line + geometry.lowest_pitch, -1)
    else:
        pitches, onsets = parse_subject(spec, geometry.steps_per_quarter)
        positions = regular_positions(len(pitches), 4 * geometry.steps_per_quarter)
    sounding = np.flatnonzero(pitches >= 0)
    first, last = sounding[0], sounding[-1] + 1
    return Subject(pitches[first:last], onsets[first:last], positions[first:last], spec)


def subject_key(pitches, key=''):
    """The tonic pitch class (0–11) and the key ('C', 'minor') of a subject: ``key`` when given (e.g.
    'C minor'), else the key profile that best fits its pitch classes weighted by duration, among the keys
    whose tonic or dominant is its first note (a subject starts on one or the other)."""
    if key:
        try:
            found = parse_key(key)
        except ValueError as error:
            raise SubjectError(str(error)) from None
        return PITCH_CLASS_NAMES.index(found[0]), found
    sounding = pitches[pitches >= 0]
    correlations = key_correlations(np.bincount(sounding % 12, minlength=12)).reshape(12, len(MODES))
    first = sounding[0] % 12
    allowed = np.zeros(12, bool)
    allowed[[first, (first - 7) % 12]] = True
    tonic, mode = np.unravel_index(np.argmax(np.where(allowed[:, None], correlations, -np.inf)), correlations.shape)
    return int(tonic), (PITCH_CLASS_NAMES[tonic], MODES[mode])


def answer_of(pitches, onsets, tonic, rule='tonal'):
    """The answer to a subject (``T`` MIDI pitches, −1 rest) in the dominant: every note a fifth up, but
    with ``rule='tonal'`` the notes of the head (up to the first note that is neither tonic nor
    dominant) a fourth up where they are the dominant → ``T`` pitches."""
    if rule not in ANSWERS:
        raise SubjectError(f'answer must be one of {ANSWERS}, not {rule!r}')
    answer = np.where(pitches >= 0, pitches + 7, -1)
    if rule == 'tonal':
        for t in np.flatnonzero(onsets & (pitches >= 0)):
            degree = (pitches[t] - tonic) % 12
            if degree not in (0, 7):
                break
            if degree == 7:                      # the dominant answered by the tonic, until the next note
                end = t + 1
                while end < len(pitches) and not onsets[end]:
                    end += 1
                answer[t:end] = pitches[t:end] + 5
    return answer


def exposition_plan(subject, tonic, geometry, form=Form()):
    """→ (:class:`~bach2.compose.harmonize.VoicePlan` of the exposition of ``form`` on the :class:`Subject` in the
    key of ``tonic`` (pitch class) and its free continuation, ``T × 2`` bar positions, [:class:`Entry`]).

    The entries keep their distances (answer a fifth above the subject, the lower entries one and two
    octaves down); the whole exposition moves by octaves, the fewest, where it would leave the pitch range of
    ``geometry`` (:class:`~bach2.music.geometry.Geometry`), and a SubjectError says so where no octave fits.
    """
    pitches, onsets, positions, _ = subject
    n_voices, n_pitches, lowest_pitch = form.voices, geometry.n_pitches, geometry.lowest_pitch
    if n_voices not in ENTRIES:
        raise SubjectError(f'a fugue here has 3 or 4 voices, not {n_voices}')
    bar = int(positions[0][1])
    spacing = -(-len(pitches) // bar) * bar             # whole bars: every entry starts where the subject did
    lines = [(voice, kind, np.where(line >= 0, line + 12 * octaves, -1)) for voice, kind, octaves in ENTRIES[n_voices]
             for line in [pitches if kind == 'subject' else answer_of(pitches, onsets, tonic, form.answer)]]
    low = min(line[line >= 0].min() for *_, line in lines)
    high = max(line.max() for *_, line in lines)
    shift = next((12 * k for k in (0, -1, 1, -2, 2, -3, 3)
                  if lowest_pitch <= low + 12 * k and high + 12 * k < lowest_pitch + n_pitches), None)
    if shift is None:
        raise SubjectError(f'the {n_voices} entries span MIDI {low}–{high}, wider than the model\'s '
                           f'{lowest_pitch}–{lowest_pitch + n_pitches - 1}')
    entries = [Entry(k * spacing, voice, kind, np.where(line >= 0, line + shift, -1), onsets)
               for k, (voice, kind, line) in enumerate(lines)]
    n_steps = (n_voices - 1) * spacing + len(pitches) + form.free_bars * bar
    plan = VoicePlan(voice=np.full(n_steps, -1), line=np.full(n_steps, n_pitches), struck=np.zeros(n_steps, bool),
                     active=np.zeros((n_steps, n_voices), bool), n_pitches=n_pitches)
    for entry in entries:
        span = slice(entry.start, entry.start + len(entry.pitches))
        plan.voice[span] = entry.voice
        plan.line[span] = np.where(entry.pitches >= 0, entry.pitches - lowest_pitch, n_pitches)
        plan.struck[span] = entry.onsets
        plan.active[entry.start:, entry.voice] = True
    return plan, fit_positions(positions, n_steps), entries


def entries_intact(lines, onsets, entries, lowest_pitch, n_pitches):
    """Share of ``entries`` whose voice plays them note for note — the same pitch at every step, struck
    where the entry strikes — in ``lines``/``onsets`` (``n_voices × T``,
    :func:`bach2.compose.harmonize.separate_voices`)."""
    kept = 0
    for entry in entries:
        span = slice(entry.start, entry.start + len(entry.pitches))
        columns = np.where(entry.pitches >= 0, entry.pitches - lowest_pitch, n_pitches)
        sounding = columns < n_pitches
        kept += bool(np.array_equal(lines[entry.voice, span], columns)
                     and np.array_equal(onsets[entry.voice, span][sounding], entry.onsets[sounding]))
    return kept / len(entries)


def write_fugue(subject, form=Form(), checkpoints=None, sampling=Sampling(), output=Output()):
    """Write an exposition of ``form`` on ``subject`` (MIDI file or text, :func:`read_subject`) with ``checkpoints``
    ({'up': path, 'down': path}, lstm-nade models of both drawing orders on one geometry; default: the shipped
    pair) → :func:`compose`'s (files, report)."""
    samplers, geometry = load_samplers(checkpoints or SHIPPED_MODELS)
    return compose(samplers, geometry, read_subject(subject, geometry), form, sampling, output)


def compose(samplers, geometry, subject, form=Form(), sampling=Sampling(), output=Output()):
    """An exposition of ``form`` on the :class:`Subject` written by ``samplers``
    (:func:`bach2.models.checkpoints.load_samplers`) as ``output`` says (named
    ``fugue_exposition_<voices>v_seed<k>`` unless it names it) → (files {kind: path}, report: key, answer rule,
    voices, entries [(bar, voice, kind)], ``exposition_steps`` (up to the end of the last entry), share of
    entries intact)."""
    tonic, found_key = subject_key(subject.pitches, form.key)
    plan, positions, entries = exposition_plan(subject, tonic, geometry, form)
    bar = int(positions[0][1])
    names = VOICE_NAMES[form.voices]
    report = {'key': f'{found_key[0]} {found_key[1]}', 'answer': form.answer, 'voices': form.voices,
              'entries': [((entry.start + int(positions[0][0])) / bar + 1, names[entry.voice], entry.kind)
                          for entry in entries],
              'exposition_steps': entries[-1].start + len(subject.pitches)}
    piece, lines, voice_onsets = plan_piece(samplers, geometry, plan, positions, sampling)
    piece.marks = [(entry.start, f'{entry.kind} ({names[entry.voice]})') for entry in entries]
    if subject.spec is not None:
        piece.record['subject'] = subject.spec
    piece.record.update(report)
    files = write_piece(piece, output.named(f'fugue_exposition_{form.voices}v_seed{sampling.seed}'))
    report['entries_intact'] = entries_intact(lines, voice_onsets, entries, geometry.lowest_pitch,
                                              geometry.n_pitches)
    return files, report


def subject_of(matrix, positions, onsets):
    """A fugue's ``T × P`` pitch matrix, ``T × 2`` bar positions and ``T × P`` onset plane → (subject ``T_s``
    columns (−1 rest), ``T_s`` onsets, ``T_s × 2`` positions, voices, its exposition (matrix, positions,
    onsets)), or None where it does not read as a fugue of 3 or more voices.

    The subject is the highest line from the first note up to the step where a second note first sounds
    (the answer's entry); the voices, the most notes sounding (90th percentile of the steps) over the first
    four subject lengths, at most 4; the exposition, from the first note, as many subject lengths as there
    are voices. A subject under half a bar or over 8 bars is not read as one.
    """
    counts = np.asarray(matrix).sum(axis=1)
    if not (counts >= 2).any():
        return None
    first = int(np.flatnonzero(counts)[0])
    length = int(np.flatnonzero(counts >= 2)[0]) - first
    bar = int(positions[first][1])
    if not bar // 2 <= length <= 8 * bar:
        return None
    voices = max(int(np.percentile(counts[first + k * length:first + (k + 1) * length], 90)) for k in range(4)
                 if len(counts[first + k * length:first + (k + 1) * length]))
    if voices < 3:
        return None
    voices = min(voices, 4)
    span = slice(first, first + voices * length)
    line = np.array([np.flatnonzero(row)[-1] if row.any() else -1 for row in matrix[first:first + length]])
    struck = np.array([t == 0 or line[t] != line[t - 1] or (line[t] >= 0 and onsets[first + t, line[t]] > 0)
                       for t in range(length)])
    return line, struck, positions[first:first + length], voices, (matrix[span], positions[span], onsets[span])


def prepared_subject(data_dir, names, n_pitches):
    """The first of ``names`` that is a fugue (``_fugue_`` in its name) prepared in ``data_dir`` with its onsets
    and bar positions and reads as one (:func:`subject_of`, on its ``T × P`` matrix of ``n_pitches`` columns) →
    (its name, :func:`subject_of`'s result); CorpusError when none is."""
    prepared = set(piece_names(data_dir))
    for name in (name for name in names if '_fugue_' in name and name in prepared):
        matrix, _, positions = load_piece(data_dir, name, positions=True, articulation=True)
        found = positions is not None and subject_of(matrix[:, :n_pitches], positions, matrix[:, n_pitches:])
        if found:
            return name, found
    raise CorpusError(f'{data_dir}: none of the held-out fugues is prepared here with its onsets')
