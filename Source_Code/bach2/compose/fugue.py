"""A fugue exposition on a given subject (``bach2 fugue --form exposition``; the whole fugue that builds on it:
:mod:`bach2.compose.fugue_form`).

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

A subject is a MIDI file or notes written as text (:func:`parse_subject`, starting on a downbeat of 4/4), at
most :data:`MAX_SUBJECT_QUARTERS` quarter notes and :data:`MAX_SUBJECT_NOTES` notes. A MIDI file of one line is
the subject (its own bar positions); one where a second voice enters is read as a whole fugue, and its subject
is found in it (:func:`subject_of`), its key from its exposition. Steps are the model's (16ths for the shipped
one).
"""
import dataclasses
import fractions
import hashlib
import pathlib
import re
import typing

import numpy as np

from bach2.common import MIDI_SUFFIXES
from bach2.compose.harmonize import VOICE_NAMES, VoicePlan, line_of, plan_piece, read_given
from bach2.compose.lines import Sampling
from bach2.compose.voice_writing import VoicePiece, voice_model_for, voices_composition
from bach2.data.voice_tokens import FIRST_PITCH, HOLD, LOWEST, N_KEYS, REST
from bach2.models.checkpoints import SHIPPED_MODELS, load_samplers
from bach2.music.key_finding import MODES, key_correlations, key_of, tonic_class
from bach2.music.geometry import Geometry
from bach2.music.metre import fit_positions, piece_positions, regular_positions
from bach2.music.pitch_names import parse_pitch_name
from bach2.music.progressions import parse_key
from bach2.render.piece import Output, write_piece
from bach2.time_series_to_pitch_matrix import JOURNAL_STEP_TICKS, onset_matrix, time_series_to_pitch_matrix

STEPS_PER_QUARTER = 4
ANSWERS = ('tonal', 'real')
#: (voice, 'subject' or 'answer', octaves from the first entry) of each entry, in order
ENTRIES = {3: ((1, 'subject', 0), (0, 'answer', 0), (2, 'subject', -1)),
           4: ((1, 'subject', 0), (0, 'answer', 0), (2, 'subject', -1), (3, 'answer', -2))}
MAX_SUBJECT_QUARTERS = 32        # 8 bars of 4/4: the longest subject read (text, MIDI or found in a fugue)
MAX_SUBJECT_NOTES = 256          # tokens of a subject given as text
MAX_FREE_BARS = 64               # bars of free continuation after the entries
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
    subject found in a piece (:func:`subject_of`); ``context``: 12 pitch-class weights (C first, sounding
    steps) of the exposition of the fugue it was found in, which decide its key (:func:`subject_key`), None
    for a subject given alone."""
    pitches: np.ndarray
    onsets: np.ndarray
    positions: np.ndarray
    spec: str = None
    context: np.ndarray = None


class SubjectError(ValueError):
    """A subject that cannot be read or placed; the message names the token or the problem."""


@dataclasses.dataclass(frozen=True)
class Form:
    """The form of an exposition: ``voices`` (3 or 4), the ``answer`` rule ('tonal' or 'real', :func:`answer_of`),
    the ``key`` (e.g. 'C minor'; '' = found from the subject, :func:`subject_key`) and ``free_bars``, the bars
    in all voices after the entries."""
    voices: int = 3
    answer: str = 'tonal'
    key: str = ''
    free_bars: int = 4

    def __post_init__(self):
        if not 0 <= self.free_bars <= MAX_FREE_BARS:
            raise SubjectError(f'free bars: at most {MAX_FREE_BARS}, not {self.free_bars}')


def parse_subject(text, steps_per_quarter=STEPS_PER_QUARTER):
    """Notes as text → (``T`` int MIDI pitch per step (a 16th at 4 steps per quarter), −1 rest; ``T`` bool
    onsets).

    Tokens are separated by spaces: a pitch in scientific notation (``C4`` = middle C = MIDI 60,
    ``Eb4``, ``F#3``) or ``r`` (a rest), each optionally followed by ``:LENGTH`` in quarter notes
    (``:1`` a quarter, ``:0.5`` or ``:1/2`` an eighth, ``:1.5`` a dotted quarter); a token without a
    length keeps the one before it (the first: a quarter). Lengths must be whole steps; the whole at most
    :data:`MAX_SUBJECT_NOTES` tokens and :data:`MAX_SUBJECT_QUARTERS` quarter notes, refused before anything
    is allocated.
    """
    tokens = text.split()
    if not tokens:
        raise SubjectError('the subject is empty: give notes such as "C4 Eb4:0.5 D4 C4"')
    if len(tokens) > MAX_SUBJECT_NOTES:
        raise SubjectError(f'the subject has {len(tokens)} notes: a subject here has at most {MAX_SUBJECT_NOTES}')
    lengths, length, total = [], fractions.Fraction(1), 0
    for token in tokens:
        match = _TOKEN.match(token)
        if match and match['length']:
            try:
                length = fractions.Fraction(match['length'])
            except ZeroDivisionError:
                raise SubjectError(f'subject token {token!r}: a length cannot divide by zero') from None
        lengths.append(length)
        total += length
        if total > MAX_SUBJECT_QUARTERS:
            raise SubjectError(f'subject token {token!r}: the subject is longer than {MAX_SUBJECT_QUARTERS} '
                               f'quarter notes ({MAX_SUBJECT_QUARTERS // 4} bars of 4/4), the longest read here')
    pitches, onsets = [], []
    for token, length in zip(tokens, lengths):
        match = _TOKEN.match(token)
        rest = bool(match) and match['note'] in ('r', 'R')
        pitch = -1 if rest else parse_pitch_name(match['note'], scientific=True) if match else None
        if pitch is None:
            raise SubjectError(f'subject token {token!r} is not a note: expected e.g. C4, Eb4:0.5, F#3:1/2 or r:1')
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
    """A MIDI file or subject text → its :class:`Subject` in steps of ``geometry``
    (:class:`~bach2.music.geometry.Geometry`), leading and trailing rests cut. A MIDI file where a second
    voice enters is a whole fugue: its subject is found (:func:`fugue_subject`), or a SubjectError says to give
    the subject alone; a line longer than :data:`MAX_SUBJECT_QUARTERS` quarter notes is refused."""
    if spec.strip().lower().endswith(tuple(MIDI_SUFFIXES)):
        path = spec.strip()
        piece = read_given(path, geometry.step_ticks)
        matrix, _ = time_series_to_pitch_matrix(piece, geometry.step_ticks, 0, 128)
        positions = piece_positions(piece, geometry.step_ticks, len(matrix))
        if len(matrix) and voice_entry(matrix.sum(axis=1), int(positions[0][1])) is not None:
            found = fugue_subject(matrix, positions, onset_matrix(piece, geometry.step_ticks, 0, 128), 0)
            if found is None:
                raise SubjectError(f'{path}: more than one voice sounds and no fugue subject of 3 or 4 voices was '
                                   'found in it: give the subject alone (a MIDI file of one line, or notes as text)')
            return found._replace(spec=spec)
        line, onsets, positions = line_of(piece, path, 'top', geometry.n_pitches, geometry.lowest_pitch,
                                          geometry.step_ticks)
        pitches = np.where(line < geometry.n_pitches, line + geometry.lowest_pitch, -1)
    else:
        pitches, onsets = parse_subject(spec, geometry.steps_per_quarter)
        positions = regular_positions(len(pitches), 4 * geometry.steps_per_quarter)
    sounding = np.flatnonzero(pitches >= 0)
    first, last = sounding[0], sounding[-1] + 1
    if last - first > MAX_SUBJECT_QUARTERS * geometry.steps_per_quarter:
        raise SubjectError(f'{spec.strip()}: the subject lasts {(last - first) / geometry.steps_per_quarter:g} '
                           f'quarter notes, longer than {MAX_SUBJECT_QUARTERS}: give the subject alone')
    return Subject(pitches[first:last], onsets[first:last], positions[first:last], spec)


def subject_key(pitches, onsets, key='', context=None):
    """The tonic pitch class (0–11) and the key ('C', 'minor') of a subject (``T`` MIDI pitches, −1 rest;
    ``T`` onsets): ``key`` when given (e.g. 'C minor'); else, among the keys whose tonic or dominant is its
    first note (a subject starts on one or the other), the key profile that best fits ``context`` (12
    pitch-class weights of the fugue's exposition, :attr:`Subject.context`) or, for a subject alone, its
    notes counted once each (a long dominant at the start does not pull the key to the dominant)."""
    if key:
        try:
            found = parse_key(key)
        except ValueError as error:
            raise SubjectError(str(error)) from None
        return tonic_class(found), found
    pitches = np.asarray(pitches)
    struck = pitches[np.asarray(onsets, bool) & (pitches >= 0)]
    weights = np.bincount(struck % 12, minlength=12) if context is None else context
    correlations = key_correlations(weights).reshape(12, len(MODES))
    first = pitches[pitches >= 0][0] % 12
    allowed = np.zeros(12, bool)
    allowed[[first, (first - 7) % 12]] = True
    tonic, mode = np.unravel_index(np.argmax(np.where(allowed[:, None], correlations, -np.inf)), correlations.shape)
    return int(tonic), key_of(tonic, MODES[mode])


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
                answer[t:end] = np.where(pitches[t:end] >= 0, pitches[t:end] + 5, -1)   # a rest stays one
    return answer


def exposition_plan(subject, tonic, geometry, form=Form()):
    """→ (:class:`~bach2.compose.harmonize.VoicePlan` of the exposition of ``form`` on the :class:`Subject` in the
    key of ``tonic`` (pitch class) and its free continuation, ``T × 2`` bar positions, [:class:`Entry`]).

    The entries keep their distances (answer a fifth above the subject, the lower entries one and two
    octaves down); the whole exposition moves by octaves, the fewest, where it would leave the pitch range of
    ``geometry`` (:class:`~bach2.music.geometry.Geometry`), and a SubjectError says so where no octave fits.
    """
    pitches, onsets, positions = subject.pitches, subject.onsets, subject.positions
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


def subject_slug(subject):
    """A short name for a :class:`Subject`: its MIDI file's stem, or ``s`` and 8 hex digits of its notes."""
    if subject.spec is not None and subject.spec.strip().lower().endswith(tuple(MIDI_SUFFIXES)):
        return re.sub(r'[^A-Za-z0-9_-]+', '_', pathlib.Path(subject.spec.strip()).stem)
    notes = np.stack([np.asarray(subject.pitches, np.int64), np.asarray(subject.onsets, np.int64)])
    return 's' + hashlib.sha1(notes.tobytes()).hexdigest()[:8]


def compose(samplers, geometry, subject, form=Form(), sampling=Sampling(), output=Output()):
    """An exposition of ``form`` on the :class:`Subject` written by ``samplers``
    (:func:`bach2.models.checkpoints.load_samplers`) as ``output`` says (named
    ``fugue_exposition_<subject>_<voices>v_seed<k>`` unless it names it, :func:`subject_slug`; the score in the
    subject's key) → (files {kind: path}, report: key, answer rule, voices, entries [(bar, voice, kind)],
    ``exposition_steps`` (up to the end of the last entry), share of entries intact)."""
    tonic, found_key = subject_key(subject.pitches, subject.onsets, form.key, subject.context)
    plan, positions, entries = exposition_plan(subject, tonic, geometry, form)
    bar = int(positions[0][1])
    names = VOICE_NAMES[form.voices]
    report = {'key': f'{found_key[0]} {found_key[1]}', 'answer': form.answer, 'voices': form.voices,
              'entries': [((entry.start + int(positions[0][0])) / bar + 1, names[entry.voice], entry.kind)
                          for entry in entries],
              'exposition_steps': entries[-1].start + len(subject.pitches)}
    piece, lines, voice_onsets = plan_piece(samplers, geometry, plan, positions, sampling)
    piece.key = found_key
    piece.marks = [(entry.start, f'{entry.kind} ({names[entry.voice]})') for entry in entries]
    if subject.spec is not None:
        piece.record['subject'] = subject.spec
    piece.record.update(report)
    files = write_piece(piece, output.named(f'fugue_exposition_{subject_slug(subject)}_{form.voices}v_seed'
                                            f'{sampling.seed}'))
    report['entries_intact'] = entries_intact(lines, voice_onsets, entries, geometry.lowest_pitch,
                                              geometry.n_pitches)
    return files, report


def voice_entry(counts, bar, start=0):
    """The first step from ``start`` at which a second voice enters, in ``T`` counts of the notes sounding at each
    step, in bars of ``bar`` steps → that step, or None. A voice has entered where two or more notes sound in
    three quarters of the next half bar: a run squeezed onto the grid, an ornament or a chord does not count."""
    window = max(bar // 2, 2)
    several = np.asarray(counts) >= 2
    for t in np.flatnonzero(several[start:]) + start:
        if several[t:t + window].sum() >= 0.75 * window:
            return int(t)
    return None


def subject_of(matrix, positions, onsets):
    """A fugue's ``T × P`` pitch matrix, ``T × 2`` bar positions and ``T × P`` onset plane → (subject ``T_s``
    columns (−1 rest), ``T_s`` onsets, ``T_s × 2`` positions, voices, its exposition (matrix, positions,
    onsets)), or None where it does not read as a fugue of 3 or more voices.

    The subject is the highest line from the first note up to the entry of a second voice (:func:`voice_entry`),
    or up to the onset of the note held into that entry where that note is the answer's (a fifth or a fourth
    above the subject's first note) and the note struck at the entry is not; the voices, the most notes
    sounding for half a subject length in the first six subject lengths, at most 4; the exposition, from the
    first note, as many subject lengths as there are voices. A subject under half a bar or over 8 bars is not
    read as one.
    """
    matrix, onsets = np.asarray(matrix), np.asarray(onsets)
    counts = matrix.sum(axis=1)
    if not counts.any():
        return None
    first = int(np.flatnonzero(counts)[0])
    bar = int(positions[first][1])
    entry = voice_entry(counts, bar, first + 1)
    if entry is None:
        return None
    top = int(np.flatnonzero(matrix[first])[-1])
    answer = {(top + 7) % 12, (top + 5) % 12}
    held = [p for p in np.flatnonzero(matrix[entry - 1]) if matrix[entry, p] and not onsets[entry, p]]
    struck = [p for p in np.flatnonzero(matrix[entry]) if onsets[entry, p]]
    if counts[entry - 1] == 1 and held and held[0] % 12 in answer and not any(p % 12 in answer for p in struck):
        while entry - 1 > first and matrix[entry - 1, held[0]] and not onsets[entry, held[0]]:
            entry -= 1
    length = entry - first
    if not bar // 2 <= length <= 8 * bar:
        return None
    early = counts[first:first + 6 * length]
    voices = max((k for k in (2, 3, 4) if (early >= k).sum() >= length / 2), default=1)
    if voices < 3:
        return None
    span = slice(first, first + voices * length)
    line = np.array([np.flatnonzero(row)[-1] if row.any() else -1 for row in matrix[first:first + length]])
    struck = np.array([t == 0 or line[t] != line[t - 1] or (line[t] >= 0 and onsets[first + t, line[t]] > 0)
                       for t in range(length)])
    return line, struck, positions[first:first + length], voices, (matrix[span], positions[span], onsets[span])


def fugue_subject(matrix, positions, onsets, lowest_pitch):
    """:func:`subject_of` a fugue (``T × P`` pitch matrix whose column 0 is MIDI ``lowest_pitch``, ``T × 2``
    positions, ``T × P`` onsets) → its :class:`Subject` in MIDI pitches, with its exposition's pitch classes as
    ``context``; None where it does not read as a fugue."""
    found = subject_of(matrix, positions, onsets)
    if found is None:
        return None
    line, struck, subject_positions, _, (exposition, _, _) = found
    sounding = exposition.sum(axis=0)
    context = np.bincount((np.arange(len(sounding)) + lowest_pitch) % 12, weights=sounding, minlength=12)
    return Subject(np.where(line >= 0, line + lowest_pitch, -1), struck, subject_positions, context=context)


# --------------------------------------------------------------------------- with the voice model

#: the voice model's steps and pitches (:mod:`bach2.data.voice_tokens`: A0–C8 at 16ths)
VOICE_GEOMETRY = Geometry(JOURNAL_STEP_TICKS, N_KEYS, LOWEST)
TOP_REGISTER, BOTTOM_REGISTER = 72, 50     # mean MIDI pitch an entry aims at in the highest and the lowest voice


def entry_order(n_voices, entry_voices=None):
    """Rows of the voices in the order they enter: ``entry_voices`` (names, e.g. ('tenor', 'alto', …)), else
    :data:`ENTRIES`' order (alto, soprano, tenor, bass), else from the top; SubjectError on a wrong list."""
    names = VOICE_NAMES.get(n_voices)
    if names is None:
        raise SubjectError(f'a fugue in voices has 2 to 6 voices, not {n_voices}')
    if not entry_voices:
        return [voice for voice, _, _ in ENTRIES[n_voices]] if n_voices in ENTRIES else list(range(n_voices))
    unknown = [name for name in entry_voices if name not in names]
    if unknown or len(set(entry_voices)) != len(entry_voices) or len(entry_voices) != n_voices:
        raise SubjectError(f'entries: name each of the {n_voices} voices once ({", ".join(names)}), '
                           f'not {", ".join(entry_voices)}')
    return [names.index(name) for name in entry_voices]


def voice_exposition(subject, tonic, form, entry_voices=None):
    """The entries of ``form`` on the :class:`Subject` in the key of ``tonic``, subject and answer by turns,
    each in ``entry_order`` and in the octave nearest its voice's register → [:class:`Entry`], steps in all."""
    pitches, onsets = subject.pitches, subject.onsets
    bar = int(subject.positions[0][1])
    spacing = -(-len(pitches) // bar) * bar
    order = entry_order(form.voices, entry_voices)
    entries = []
    for k, voice in enumerate(order):
        kind = 'subject' if k % 2 == 0 else 'answer'
        line = pitches if kind == 'subject' else answer_of(pitches, onsets, tonic, form.answer)
        register = TOP_REGISTER - voice * (TOP_REGISTER - BOTTOM_REGISTER) / max(form.voices - 1, 1)
        shift = 12 * round((register - line[line >= 0].mean()) / 12)
        entries.append(Entry(k * spacing, voice, kind, np.where(line >= 0, line + shift, -1), onsets))
    return entries, (form.voices - 1) * spacing + len(pitches) + form.free_bars * bar


def line_cells(pitches, onsets):
    """A line's ``T`` MIDI pitches (−1 rest) and ``T`` onsets → ``T`` voice tokens: a rest, a pitch struck (at an
    onset or where the pitch changes) or held."""
    pitches = np.asarray(pitches)
    struck = np.asarray(onsets, bool) | (np.r_[-1, pitches[:-1]] != pitches)
    return np.where(pitches < 0, REST, np.where(struck, FIRST_PITCH + pitches - LOWEST, HOLD))


def exposition_cells(entries, n_voices, n_steps):
    """Entries → (``V × T`` tokens, ``V × T`` given): each entry note for note, each voice silent before its first
    entry, the rest free."""
    tokens = np.full((n_voices, n_steps), REST, np.int16)
    given = np.zeros((n_voices, n_steps), bool)
    for entry in entries:
        if not given[entry.voice].any():
            given[entry.voice, :entry.start] = True
        span = slice(entry.start, entry.start + len(entry.pitches))
        tokens[entry.voice, span] = line_cells(entry.pitches, entry.onsets)
        given[entry.voice, span] = True
    return tokens, given


def write_voice_fugue(subject, form=Form(), entry_voices=None, checkpoint=None, sampling=Sampling(), output=Output()):
    """An exposition on ``subject`` (MIDI file or text) written by the voice model (``checkpoint``; None: the
    shipped one): the entries in ``entry_voices`` (names in order of entry; default :func:`entry_order`), kept
    note for note, every other cell written — so the voice that stated the subject goes on against the answer
    (a countersubject) → (files, report) as :func:`compose` gives them."""
    from bach2.models.voice_sampling import GibbsSchedule, gibbs_fill
    subject = read_subject(subject, VOICE_GEOMETRY)
    tonic, found_key = subject_key(subject.pitches, subject.onsets, form.key, subject.context)
    entries, n_steps = voice_exposition(subject, tonic, form, entry_voices)
    tokens, given = exposition_cells(entries, form.voices, n_steps)
    positions = fit_positions(subject.positions, n_steps)
    filled = gibbs_fill(voice_model_for(checkpoint, 'voices'), tokens, given, positions[:, 0], GibbsSchedule(),
                        sampling.temperature, sampling.seed, on_round=sampling.progress)
    names = VOICE_NAMES[form.voices]
    bar = int(positions[0][1])
    report = {'key': f'{found_key[0]} {found_key[1]}', 'answer': form.answer, 'voices': form.voices,
              'model': 'voices', 'entries': [((e.start + int(positions[0][0])) / bar + 1, names[e.voice], e.kind)
                                             for e in entries],
              'exposition_steps': entries[-1].start + len(subject.pitches)}
    piece = voices_composition(VoicePiece(filled, positions, names), key=found_key, record=dict(report))
    piece.marks = [(entry.start, f'{entry.kind} ({names[entry.voice]})') for entry in entries]
    files = write_piece(piece, output.named(f'fugue_exposition_{subject_slug(subject)}_{form.voices}v_voices_seed'
                                            f'{sampling.seed}'))
    report['entries_intact'] = float((filled[given] == tokens[given]).all())
    return files, report
