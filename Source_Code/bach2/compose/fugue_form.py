"""A whole fugue on a subject (``bach2 fugue --form whole``): the form planned as a fugue is, the voice model
writing every note the plan leaves free.

The plan (:func:`plan_fugue`, a :class:`Plan` of :class:`Event`, saved as ``<name>.plan.json`` and read back with
``--plan``):

1. **exposition**: every voice enters in turn (:func:`~bach2.compose.fugue.entry_order`), subject and answer
   (tonal or real, :func:`~bach2.compose.fugue.answer_of`) alternating; the voice that has finished its entry
   goes on with the countersubject;
2. then for each **middle entry**: an **episode** (a fragment of the subject's head repeated a scale step lower
   each time — a sequence — in the scale of the key it leads to, the bass on that key's dominant for its last
   half bar and on its tonic for the entry's first beat where the bass is free) and the subject in a related key
   (:data:`RELATED_KEYS`: the relative, the dominant, the subdominant and their relatives), in each voice by
   turns, inner ones first, the countersubject against it in a neighbouring voice where it fits;
3. an episode and a **stretto** where the subject allows one (:func:`stretto_options`: the second entry before
   the first has ended, every strong beat consonant, no parallel fifths or octaves), said when none does;
4. an episode, the **final entry** in the tonic in the top voice, a **tonic pedal** in the bass from its middle,
   and the **final chord** on the tonic (in minor, a major third by default: the tierce de Picardie).

Writing (:func:`write_whole_fugue`): the exposition is written first, up to the end of its second entry; the
countersubject is what the first voice played against the answer (:func:`countersubject_of`). It is placed
against each later entry where it fits in its neighbouring voice (:func:`fitting_octave`: it must stay on its side
of the entry, its strong beats consonant with it — a fourth over the lower voice is not — and no parallel fifths
or octaves: invertible at the octave where it goes below), and the whole piece is filled around everything
given. Keys move a line by scale steps (:func:`in_key`), so a minor subject in a major key sounds major.

Steps are 16ths from the subject's first note; pitches MIDI. A plan file gives each event's ``step`` and
``steps`` (its first step and length) with its ``bar`` (counted from the subject's bar, for reading; the step is
what counts).
"""
import dataclasses
import json
import pathlib

import numpy as np

from bach2.compose.fugue import (BOTTOM_REGISTER, STEPS_PER_QUARTER, TOP_REGISTER, VOICE_GEOMETRY, Entry, Subject,
                                 SubjectError, answer_of, entry_order, exposition_cells, line_cells, read_subject,
                                 subject_key, subject_slug)
from bach2.compose.harmonize import VOICE_NAMES, melody_key, read_given
from bach2.compose.lines import Sampling
from bach2.compose.voice_writing import (STEP, VoicePiece, bar_steps, continue_voices, read_voices, voice_model_for,
                                         voices_composition)
from bach2.data.voice_tokens import FIRST_PITCH, HOLD, LOWEST, N_KEYS, REST, sounding_pitches
from bach2.measure.fugue_profile import opening_subject, sounding_roll, token_pitches
from bach2.music.key_finding import find_key, key_of, pitch_class_histogram, scale_pitches, scale_steps
from bach2.music.metre import continue_positions, fit_positions, regular_positions, usual_bar
from bach2.music.progressions import parse_key
from bach2.music.pitch_names import pitch_class_of
from bach2.render.piece import Output, write_piece
from bach2.safe_io import atomic_path

PLAN_FORMAT = 'bach2 fugue plan 1'
ENTRY_KINDS = ('subject', 'answer')
EVENT_KINDS = ENTRY_KINDS + ('countersubject', 'episode', 'dominant', 'pedal', 'cadence')
#: the keys of the middle entries, in order, as (semitones above the tonic, mode), for a fugue in major / minor
RELATED_KEYS = {'major': ((9, 'minor'), (7, 'major'), (2, 'minor'), (5, 'major'), (4, 'minor')),
                'minor': ((3, 'major'), (7, 'minor'), (5, 'minor'), (8, 'major'), (10, 'major'))}
MAX_MIDDLE_ENTRIES = 8
EPISODE_BARS = 2           # bars of an episode (as long as the subject: the judge told them from Bach more often)
MAX_BARS = 200
CONSONANT = frozenset((0, 3, 4, 7, 8, 9))          # semitones mod 12 between two voices (a fourth is not)
STRETTO_INTERVALS = (12, -12, 24, -24, 7, -5, 19, -17, 0)   # the follower above (+) or below (−) the leader
FINAL_CHORD_THIRD = ('major', 'minor')


@dataclasses.dataclass
class Event:
    """One thing the plan gives: an entry ('subject' or 'answer'), a 'countersubject' against an entry, an
    'episode' (a fragment of the subject in sequence), a 'dominant' (the bass on the dominant of the key of the
    entry that follows for half a bar, then on its tonic for the entry's first beat), a tonic 'pedal' or the final
    'cadence' chord.

    ``voice`` (row, 0 highest; −1: the cadence, every voice), ``step`` and ``steps`` (first step, length),
    ``key`` ((tonic pitch class, mode): the notes are the subject's moved into it, :func:`in_key`), ``octave``
    (octaves added after), ``fragment`` (an episode: the steps of the subject it repeats, (first, stop)),
    ``shift`` (an episode: scale steps from one statement to the next), ``section`` (the part of the form)."""
    kind: str
    voice: int
    step: int
    steps: int
    key: tuple
    octave: int = 0
    fragment: tuple = ()
    shift: int = -1
    section: str = ''


@dataclasses.dataclass
class Plan:
    """A fugue's form: the :class:`~bach2.compose.fugue.Subject`, its ``key`` ((tonic pitch class, mode)),
    ``voices``, ``answer`` rule, ``events`` in order of their first step, ``length`` in steps, ``stretto``
    (what the stretto search found, in words), ``third`` of the final chord ('major' or 'minor') and the
    ``countersubject`` ((``T_s`` MIDI pitches, −1 rest; ``T_s`` onsets) as sounded against the first answer;
    None until the exposition is written)."""
    subject: Subject
    key: tuple
    voices: int
    answer: str
    events: list
    length: int
    stretto: str = ''
    third: str = 'major'
    countersubject: tuple = None

    @property
    def bar(self):
        return int(self.subject.positions[0][1])

    @property
    def lead(self):
        """Steps of the subject's bar before its first note."""
        return int(self.subject.positions[0][0])

    def bar_of(self, step):
        """The bar (from 1, the subject's) of a step."""
        return (step + self.lead) // self.bar + 1

    def entries(self):
        """The subject and answer events, in order."""
        return [event for event in self.events if event.kind in ENTRY_KINDS]


# --------------------------------------------------------------------------- lines in keys

def key_text(key):
    """(tonic pitch class, mode) → 'Eb major'."""
    return ' '.join(key_of(*key))


def in_key(pitches, home, key):
    """MIDI pitches (−1 rest) in the key ``home`` moved into ``key`` ((tonic pitch class, mode) each), the
    tonic by the fewest semitones (−6 … +5): by semitones where the modes agree, else by scale steps (a minor
    line in major takes the major's third, sixth and seventh; a major line in minor the harmonic minor's;
    a minor line's raised sixth and lowered seventh are its sixth and seventh there) → pitches."""
    pitches = np.asarray(pitches)
    move = (key[0] - home[0] + 6) % 12 - 6
    if key[1] == home[1]:
        return np.where(pitches >= 0, pitches + move, -1)
    sounding = pitches >= 0
    places = scale_steps(np.where(sounding, pitches, home[0]), home[0], home[1])
    if home[1] == 'minor':                       # A and Bb in C minor: the sixth and the seventh
        fraction = np.round((places % 1) * 3) / 3
        places = np.where(fraction == 1 / 3, np.floor(places), np.where(fraction == 2 / 3, np.ceil(places), places))
    moved = scale_pitches(places, home[0] + move, key[1])
    return np.where(sounding, moved, -1)


def register(voice, n_voices):
    """The mean MIDI pitch a line aims at in ``voice`` of ``n_voices``."""
    return TOP_REGISTER - voice * (TOP_REGISTER - BOTTOM_REGISTER) / max(n_voices - 1, 1)


def octave_for(pitches, voice, n_voices):
    """Octaves to add to ``pitches`` (−1 rest) so that their mean is nearest ``voice``'s register."""
    return int(round((register(voice, n_voices) - pitches[pitches >= 0].mean()) / 12))


def event_line(plan, event):
    """The notes an event gives → (``steps`` MIDI pitches, −1 rest; ``steps`` bool onsets)."""
    subject = plan.subject
    if event.kind == 'subject':
        pitches, onsets = subject.pitches, subject.onsets
        home = plan.key
    elif event.kind == 'answer':
        pitches, onsets = answer_of(subject.pitches, subject.onsets, plan.key[0], plan.answer), subject.onsets
        home = ((plan.key[0] + 7) % 12, plan.key[1])
    elif event.kind == 'countersubject':
        if plan.countersubject is None:
            raise SubjectError('the countersubject is not written yet')
        pitches, onsets = plan.countersubject
        home = ((plan.key[0] + 7) % 12, plan.key[1])
    elif event.kind == 'episode':
        return episode_line(plan, event)
    elif event.kind == 'pedal':
        pitches = np.full(event.steps, tonic_pitch(event.key[0], register(event.voice, plan.voices)))
        return pitches + 12 * event.octave, np.r_[True, np.zeros(event.steps - 1, bool)]
    elif event.kind == 'dominant':                   # V for half a bar, then I for the beat the entry starts on
        near = register(event.voice, plan.voices)
        half = min(event.steps, plan.bar // 2)
        pitches = np.r_[np.full(half, tonic_pitch((event.key[0] + 7) % 12, near)),
                        np.full(event.steps - half, tonic_pitch(event.key[0], near))]
        return pitches + 12 * event.octave, (np.arange(event.steps) == 0) | (np.arange(event.steps) == half)
    else:
        raise SubjectError(f'{event.kind}: not a line')
    line = in_key(pitches, home, event.key)
    line = np.where(line >= 0, line + 12 * event.octave, -1)
    return line[:event.steps], np.asarray(onsets, bool)[:event.steps]


def tonic_pitch(tonic, near):
    """The MIDI pitch of pitch class ``tonic`` nearest ``near``."""
    return int(tonic + 12 * round((near - tonic) / 12))


def episode_line(plan, event):
    """An episode's line: the subject's ``fragment`` stated again and again, each statement ``shift`` scale steps
    from the one before in the episode's key, cut at ``steps`` → (pitches, onsets)."""
    first, stop = event.fragment
    pitches = in_key(plan.subject.pitches[first:stop], plan.key, event.key)
    onsets = np.asarray(plan.subject.onsets[first:stop], bool).copy()
    onsets[0] = pitches[0] >= 0
    places = scale_steps(np.where(pitches >= 0, pitches, event.key[0]), event.key[0], event.key[1])
    line, struck = [], []
    for k in range(-(-event.steps // (stop - first))):
        moved = scale_pitches(places + k * event.shift, event.key[0], event.key[1])
        line.append(np.where(pitches >= 0, moved + 12 * event.octave, -1))
        struck.append(onsets)
    return np.concatenate(line)[:event.steps], np.concatenate(struck)[:event.steps]


def final_chord(tonic, mode, n_voices, third='major'):
    """The final tonic chord, one MIDI pitch per voice (highest first): the bass on the tonic, each voice above
    on the chord tone nearest its register and above the voice below, the third (major in minor where
    ``third`` says so) in at least one voice."""
    third_class = (tonic + (4 if mode == 'major' or third == 'major' else 3)) % 12
    classes = (tonic % 12, third_class, (tonic + 7) % 12)
    chord = [tonic_pitch(tonic, register(n_voices - 1, n_voices) - 2)]
    for voice in range(n_voices - 2, -1, -1):
        near = max(register(voice, n_voices), chord[-1] + 3)
        candidates = [p for p in range(chord[-1] + 1, chord[-1] + 13) if p % 12 in classes]
        chord.append(min(candidates, key=lambda p: abs(p - near)))
    if third_class not in {p % 12 for p in chord} and n_voices > 1:
        k = min(range(1, n_voices), key=lambda i: min(abs(chord[i] - p) for p in range(chord[i] - 4, chord[i] + 5)
                                                      if p % 12 == third_class))
        chord[k] = min((p for p in range(chord[k] - 4, chord[k] + 5) if p % 12 == third_class),
                       key=lambda p: abs(p - chord[k]))
    return chord[::-1]


# --------------------------------------------------------------------------- counterpoint checks

def struck_beats(length, lead, beat=4):
    """Steps of a line of ``length`` steps starting ``lead`` steps into its bar that fall on a beat."""
    return np.flatnonzero((np.arange(length) + lead) % beat == 0)


def two_voice_faults(upper, lower, lead, bar):
    """Faults of two lines (MIDI, −1 rest, same steps) sounded together: (steps where the upper goes below the
    lower, strong beats (half bars) not consonant, beats not consonant, beats both sound, parallel fifths or
    octaves from one struck pair to the next)."""
    both = (upper >= 0) & (lower >= 0)
    crossed = int((both & (upper < lower)).sum())
    interval = np.abs(upper - lower) % 12
    beats = struck_beats(len(upper), lead)
    strong = beats[(beats + lead) % max(bar // 2, 4) == 0]
    dissonant_strong = int(sum(both[t] and interval[t] not in CONSONANT for t in strong))
    dissonant_beats = int(sum(both[t] and interval[t] not in CONSONANT for t in beats))
    changes = [t for t in range(1, len(upper)) if both[t] and both[t - 1]
               and (upper[t] != upper[t - 1] or lower[t] != lower[t - 1])]
    parallels = sum(interval[t] in (0, 7) and interval[t - 1] == interval[t]
                    and upper[t] != upper[t - 1] and lower[t] != lower[t - 1] for t in changes)
    return crossed, dissonant_strong, dissonant_beats, int(both[beats].sum()), int(parallels)


def fits(upper, lower, lead, bar):
    """Whether two lines go together as a stretto or an invertible countersubject must: never crossed, every
    strong beat consonant, three beats in four consonant, no parallel fifths or octaves."""
    crossed, strong, beats, together, parallels = two_voice_faults(upper, lower, lead, bar)
    return together > 0 and crossed == 0 and strong == 0 and parallels == 0 and beats <= together / 4


def stretto_options(plan):
    """Every stretto of the subject with itself that :func:`fits`: [(lag in steps, semitones from the leader to
    the follower)], closest first, then the octave before other intervals; lags are whole beats shorter than the
    subject."""
    pitches, lead, bar = plan.subject.pitches, plan.lead, plan.bar
    found = []
    for lag in range(4, len(pitches) - 3, 4):
        for interval in STRETTO_INTERVALS:
            leader = np.r_[pitches, np.full(lag, -1)]
            follower = np.r_[np.full(lag, -1), np.where(pitches >= 0, pitches + interval, -1)]
            upper, lower = (follower, leader) if interval > 0 else (leader, follower)
            if fits(upper, lower, lead, bar):
                found.append((lag, interval))
    return found


def fitting_octave(line, entry, above, lead, bar, near):
    """Octaves to add to ``line`` so that it goes with ``entry`` (MIDI, −1 rest, same steps) from ``above``
    (True) or below, nearest the register ``near``; None where no octave fits."""
    sounding = line >= 0
    if not sounding.any():
        return None
    start = int(round((near - line[sounding].mean()) / 12))
    for octave in sorted(range(start - 2, start + 3), key=lambda k: abs(k - start)):
        moved = np.where(sounding, line + 12 * octave, -1)
        if LOWEST <= moved[sounding].min() and moved.max() < LOWEST + N_KEYS and \
                fits(*((moved, entry) if above else (entry, moved)), lead, bar):
            return octave
    return None


# --------------------------------------------------------------------------- the plan

def fragment_of(subject):
    """The head of the subject an episode repeats: (0, stop), half a bar (a whole bar for a subject of more than
    two bars), at most half the subject."""
    bar = int(subject.positions[0][1])
    length = bar if len(subject.pitches) > 2 * bar else bar // 2
    return 0, int(max(4, min(length, len(subject.pitches) // 2)))


def voice_turns(n_voices, last):
    """The voices of the middle entries by turns: inner voices first, then the outer ones, not ``last`` first."""
    inner = list(range(1, n_voices - 1))
    order = inner[::-1] + [0, n_voices - 1] if n_voices > 2 else [1, 0]
    return order[1:] + order[:1] if order[0] == last else order


def parse_keys(texts, n):
    """'Eb major' texts → (tonic pitch class, mode) keys; SubjectError naming a wrong one."""
    keys = []
    for text in texts[:n]:
        try:
            key = parse_key(text)
        except ValueError as error:
            raise SubjectError(f'--keys {text!r}: {error}') from None
        keys.append((pitch_class_of(key[0]), key[1]))
    return keys


@dataclasses.dataclass(frozen=True)
class WholeForm:
    """What a musician chooses of a whole fugue: ``voices``, ``answer`` rule, ``key`` ('' = from the subject),
    ``middle`` entries (None: one for each of ``keys``, else 3, or as many as ``bars`` asks), their ``keys``
    (texts; default :data:`RELATED_KEYS` in order), ``episode_bars`` (None: :data:`EPISODE_BARS`, or as ``bars``
    asks), ``stretto`` on or off, ``third`` of the final chord, ``bars`` (None: as the plan comes; else the plan
    nearest that length), ``entries`` (voice names in order of entry; None:
    :func:`~bach2.compose.fugue.entry_order`)."""
    voices: int = 4
    answer: str = 'tonal'
    key: str = ''
    middle: int = None
    keys: tuple = ()
    episode_bars: int = None
    stretto: bool = True
    third: str = 'major'
    bars: int = None
    entries: tuple = None

    def __post_init__(self):
        if self.middle is not None and not 0 <= self.middle <= MAX_MIDDLE_ENTRIES:
            raise SubjectError(f'middle entries: 0 to {MAX_MIDDLE_ENTRIES}, not {self.middle}')
        if self.bars is not None and not 8 <= self.bars <= MAX_BARS:
            raise SubjectError(f'bars: 8 to {MAX_BARS}, not {self.bars}')
        if self.episode_bars is not None and not 0 <= self.episode_bars <= 8:
            raise SubjectError(f'episode bars: 0 to 8, not {self.episode_bars}')
        if self.third not in FINAL_CHORD_THIRD:
            raise SubjectError(f'third: one of {FINAL_CHORD_THIRD}, not {self.third!r}')


def piece_subject(voice_piece):
    """The subject of a fugue in voices (:class:`~bach2.compose.voice_writing.VoicePiece`, one track per voice:
    the first voice from its first note to the second voice's first, at its own bar positions) →
    :class:`~bach2.compose.fugue.Subject`; SubjectError where fewer than two voices sound."""
    found = opening_subject(voice_piece.tokens)
    if found is None:
        raise SubjectError('no subject: fewer than two voices sound')
    first = int(np.flatnonzero((voice_piece.tokens != REST).any(axis=0))[0])
    return Subject(*found, voice_piece.positions[first:first + len(found[0])])


def plan_fugue(subject, form=WholeForm()):
    """The :class:`Plan` of a whole fugue on the :class:`~bach2.compose.fugue.Subject` (module docstring); with
    ``form.bars``, the number of middle entries and the episodes' length whose plan comes nearest that many bars
    (ties: more middle entries)."""
    tonic, found = subject_key(subject.pitches, subject.onsets, form.key, subject.context)
    key = (tonic, found[1])
    if form.bars is None:
        return layout(subject, key, form, (len(form.keys) or 3) if form.middle is None else form.middle,
                      EPISODE_BARS if form.episode_bars is None else form.episode_bars)
    middles = range(MAX_MIDDLE_ENTRIES + 1) if form.middle is None else [form.middle]
    episodes = range(1, 9) if form.episode_bars is None else [form.episode_bars]
    plans = [layout(subject, key, form, m, e) for m in middles for e in episodes]
    return min(plans, key=lambda p: (abs(p.bar_of(p.length - 1) - form.bars), -len(p.entries())))


def layout(subject, key, form, n_middle, episode_bars):
    """The :class:`Plan` with ``n_middle`` middle entries and episodes of ``episode_bars`` bars."""
    builder = FormBuilder(subject, key, form, episode_bars)
    order = builder.exposition()
    builder.middle_entries(n_middle, order[-1])
    stretto = builder.stretto() if form.stretto else 'off'
    length = builder.ending()
    events = sorted(builder.events, key=lambda e: (e.step, e.voice))
    return Plan(subject, key, form.voices, form.answer, events, length, stretto, form.third)


class FormBuilder:
    """Lays out the events of a fugue part by part (:func:`layout`), ``t`` the step where the next part starts."""

    def __init__(self, subject, key, form, episode_bars):
        self.subject, self.key, self.form, self.episode_bars = subject, key, form, episode_bars
        self.n_voices, self.bar, self.lead = form.voices, int(subject.positions[0][1]), int(subject.positions[0][0])
        self.S = len(subject.pitches)
        self.spacing = -(-self.S // self.bar) * self.bar           # whole bars: each entry where the subject began
        self.probe = Plan(subject, key, self.n_voices, form.answer, [], 0, third=form.third)
        self.events, self.t = [], 0

    def entry(self, kind, voice, step, key, section):
        """An entry at ``step`` in ``voice``, in the octave nearest its register."""
        base = Event(kind, voice, step, self.S, key, 0, section=section)
        line, _ = event_line(self.probe, base)
        self.events.append(dataclasses.replace(base, octave=octave_for(line, voice, self.n_voices)))

    def countersubject(self, against, voice):
        self.events.append(Event('countersubject', voice, against.step, self.S, against.key, 0,
                                 section=against.section))

    def episode(self, voice, key):
        """An episode of :attr:`episode_bars` bars from ``t`` in ``voice``, leading to ``key``."""
        if self.episode_bars:
            base = Event('episode', voice, self.t, self.episode_bars * self.bar, key, 0, fragment_of(self.subject),
                         -1, 'episode')
            line, _ = episode_line(self.probe, base)
            self.events.append(dataclasses.replace(base, octave=octave_for(line, voice, self.n_voices)))
        self.t += self.episode_bars * self.bar

    def lead_in(self, busy, key):
        """The bass on the dominant of ``key`` for the half bar before ``t`` and on its tonic for the beat from
        ``t`` (a cadence into the entry), unless it is ``busy`` (the voices of the episode and the entries there)."""
        bass = self.n_voices - 1
        if self.n_voices > 2 and bass not in busy and self.episode_bars:
            self.events.append(Event('dominant', bass, self.t - self.bar // 2, self.bar // 2 + STEPS_PER_QUARTER, key,
                                     0, section='episode'))

    def exposition(self):
        """Subject and answer by turns in every voice, the countersubject from the third entry → the order of
        entry."""
        dominant = ((self.key[0] + 7) % 12, self.key[1])
        order = entry_order(self.n_voices, self.form.entries)
        for k, voice in enumerate(order):
            self.entry(ENTRY_KINDS[k % 2], voice, k * self.spacing, dominant if k % 2 else self.key, 'exposition')
            if k >= 2:
                self.countersubject(self.events[-1], order[k - 1])
        self.t = self.n_voices * self.spacing
        return order

    def middle_entries(self, n_middle, last):
        """``n_middle`` entries in related keys (``form.keys``, then :data:`RELATED_KEYS`), each after an
        episode in the voice that entered last, the countersubject in a neighbouring voice."""
        keys = parse_keys(self.form.keys, n_middle) if self.form.keys else []
        related = RELATED_KEYS[self.key[1]] * MAX_MIDDLE_ENTRIES
        keys += [((self.key[0] + up) % 12, mode) for up, mode in related[len(keys):n_middle]]
        turns = voice_turns(self.n_voices, last)
        for k, key in enumerate(keys):
            voice = turns[k % len(turns)]
            episode_voice = last if last != voice else (voice + 1) % self.n_voices
            self.episode(episode_voice, key)
            self.lead_in((voice, episode_voice), key)
            self.entry('subject', voice, self.t, key, 'middle entry')
            self.countersubject(self.events[-1], voice + 1 if voice + 1 < self.n_voices else voice - 1)
            last, self.t = voice, self.t + self.spacing

    def stretto(self):
        """The closest stretto that fits (:func:`stretto_options`), after an episode back to the tonic → what was
        found, in words."""
        options = stretto_options(self.probe)
        if not options:
            return 'none: no overlap of the subject with itself keeps every strong beat consonant'
        lag, interval = options[0]
        self.episode(0, self.key)
        leader, follower = stretto_voices(self.n_voices, interval)
        self.lead_in((leader, follower, 0), self.key)
        self.entry('subject', leader, self.t, self.key, 'stretto')
        move = (interval + 6) % 12 - 6                           # in_key moves the tonic by this much
        self.events.append(Event('subject', follower, self.t + lag, self.S, ((self.key[0] + interval) % 12,
                                                                              self.key[1]),
                                 self.events[-1].octave + (interval - move) // 12, section='stretto'))
        self.t += -(-(lag + self.S) // self.bar) * self.bar
        return f'at {lag} steps, the follower {interval:+d} semitones from the leader ({len(options)} found)'

    def ending(self):
        """An episode, the final entry in the top voice over a tonic pedal from its middle, the final chord on the
        next downbeat → the piece's length in steps."""
        n_voices, bar, lead = self.n_voices, self.bar, self.lead
        self.episode(n_voices - 1 if n_voices > 2 else 0, self.key)
        final = self.t
        self.entry('subject', 0, final, self.key, 'final entry')
        end = final + self.S
        chord_step = end + (-(end + lead)) % bar                 # the next downbeat
        pedal_from = final + self.S // 2
        pedal_from += (-(pedal_from + lead)) % (bar // 2)
        if n_voices > 1 and pedal_from < chord_step:
            self.events.append(Event('pedal', n_voices - 1, pedal_from, chord_step - pedal_from, self.key, 0,
                                     section='final entry'))
        self.events.append(Event('cadence', -1, chord_step, bar, self.key, 0, section='cadence'))
        return chord_step + bar


def stretto_voices(n_voices, interval):
    """(leader, follower) rows for a stretto whose follower is ``interval`` semitones from the leader: the pair
    whose registers lie nearest that far apart."""
    pairs = [(a, b) for a in range(n_voices) for b in range(n_voices) if a != b]
    return min(pairs, key=lambda p: (abs(register(p[1], n_voices) - register(p[0], n_voices) - interval), p))


# --------------------------------------------------------------------------- plan → cells

def in_range(plan, event, line):
    """``line`` (MIDI pitches, −1 rest) of ``event``; SubjectError naming the event where a pitch lies outside the
    voice model's keys (A0–C8)."""
    sounding = line[line >= 0]
    if len(sounding) and (sounding.min() < LOWEST or sounding.max() >= LOWEST + N_KEYS):
        raise SubjectError(f'the {event.kind} at bar {plan.bar_of(event.step)} goes outside A0–C8 (MIDI '
                           f'{sounding.min()}–{sounding.max()}): move it by octaves')
    return line


def plan_cells(plan):
    """The cells a plan gives → (``V × T`` tokens, ``V × T`` given): every entry, episode, pedal, countersubject
    (once written) note for note, the final chord held to the end, each voice silent before its first entry;
    SubjectError where a note lies outside A0–C8."""
    entries = []
    for e in plan.entries():
        pitches, onsets = event_line(plan, e)
        entries.append(Entry(e.step, e.voice, e.kind, in_range(plan, e, pitches), onsets))
    tokens, given = exposition_cells(entries, plan.voices, plan.length)
    for event in plan.events:
        if event.kind == 'cadence':
            chord = final_chord(event.key[0], event.key[1], plan.voices, plan.third)
            for voice, pitch in enumerate(chord):
                tokens[voice, event.step] = FIRST_PITCH + pitch - LOWEST
                tokens[voice, event.step + 1:event.step + event.steps] = HOLD
                given[voice, event.step:event.step + event.steps] = True
        elif event.kind in ('countersubject', 'episode', 'dominant', 'pedal'):
            if event.kind == 'countersubject' and plan.countersubject is None:
                continue
            pitches, onsets = event_line(plan, event)
            in_range(plan, event, pitches)
            span = slice(event.step, event.step + len(pitches))
            tokens[event.voice, span] = line_cells(pitches, onsets)
            given[event.voice, span] = True
    return tokens, given


def countersubject_of(plan, tokens):
    """The countersubject: what the first voice to enter plays (``V × T`` tokens) against the second entry →
    (``T_s`` MIDI pitches, −1 rest; ``T_s`` onsets)."""
    first, second = plan.entries()[:2]
    return token_pitches(tokens[first.voice, second.step:second.step + second.steps])


def place_countersubjects(plan):
    """The plan with each countersubject event given the octave at which it goes with its entry
    (:func:`fitting_octave`: in its voice, then in the entry's neighbours, a voice that has entered and is free
    there), those that fit nowhere dropped → (plan, [(entry step, voice or None)])."""
    entries = {e.step: e for e in plan.entries()}
    kept, placed = [], []
    for event in plan.events:
        if event.kind != 'countersubject':
            kept.append(event)
            continue
        against = entries[event.step]
        entry_line, _ = event_line(plan, against)
        line, _ = event_line(plan, dataclasses.replace(event, octave=0))
        neighbours = [event.voice] + [v for v in (against.voice - 1, against.voice + 1)
                                      if 0 <= v < plan.voices and v != event.voice]
        busy = {e.voice for e in plan.events if e.kind != 'countersubject' and e.voice >= 0
                and e.step < event.step + event.steps and event.step < e.step + e.steps}
        busy |= {v for v in range(plan.voices)                      # not entered yet: silent, as the plan has it
                 if min((e.step for e in entries.values() if e.voice == v), default=plan.length) > event.step}
        chosen = None
        for voice in (v for v in neighbours if v not in busy):
            octave = fitting_octave(line, entry_line, voice < against.voice, plan.lead + event.step, plan.bar,
                                    register(voice, plan.voices))
            if octave is not None:
                chosen = dataclasses.replace(event, voice=voice, octave=octave)
                break
        placed.append((event.step, None if chosen is None else chosen.voice))
        if chosen is not None:
            kept.append(chosen)
    return dataclasses.replace(plan, events=kept), placed


# --------------------------------------------------------------------------- plan files

def plan_dict(plan):
    """The plan as the JSON of a plan file."""
    names = VOICE_NAMES[plan.voices]
    subject = plan.subject
    record = {'format': PLAN_FORMAT, 'key': key_text(plan.key), 'voices': plan.voices, 'answer': plan.answer,
              'bar_steps': plan.bar, 'lead_steps': plan.lead, 'steps': plan.length,
              'bars': plan.bar_of(plan.length - 1),
              'third': plan.third, 'stretto': plan.stretto,
              'subject': {'pitches': [int(p) for p in subject.pitches], 'onsets': [bool(o) for o in subject.onsets]},
              'events': [{'kind': e.kind, 'voice': names[e.voice] if e.voice >= 0 else 'all',
                          'bar': plan.bar_of(e.step),
                          'step': e.step, 'steps': e.steps, 'key': key_text(e.key), 'octave': e.octave,
                          'section': e.section, **({'fragment': list(e.fragment), 'shift': e.shift}
                                                   if e.kind == 'episode' else {})} for e in plan.events]}
    if subject.spec is not None:
        record['subject']['spec'] = subject.spec
    if plan.countersubject is not None:
        record['countersubject'] = {'pitches': [int(p) for p in plan.countersubject[0]],
                                    'onsets': [bool(o) for o in plan.countersubject[1]]}
    return record


def save_plan(plan, path):
    """Write the plan file (JSON, temporary file then rename) → its path."""
    with atomic_path(path) as temporary:
        pathlib.Path(temporary).write_text(json.dumps(plan_dict(plan), indent=1) + '\n')
    return pathlib.Path(path)


def read_plan(path):
    """A plan file → :class:`Plan`; SubjectError naming the file and what is wrong."""
    try:
        record = json.loads(pathlib.Path(path).read_text())
        if record.get('format') != PLAN_FORMAT:
            raise ValueError(f'not a plan file (format {record.get("format")!r}, expected {PLAN_FORMAT!r})')
        n_voices = int(record['voices'])
        names = VOICE_NAMES[n_voices]
        pitches = np.array(record['subject']['pitches'], int)
        onsets = np.array(record['subject']['onsets'], bool)
        bar, lead = int(record['bar_steps']), int(record['lead_steps'])
        if len(pitches) != len(onsets) or not len(pitches) or not 0 <= lead < bar:
            raise ValueError('the subject needs as many onsets as pitches, and lead_steps within a bar')
        positions = regular_positions(len(pitches) + lead, bar)[lead:]
        subject = Subject(pitches, onsets, positions, record['subject'].get('spec'))
        key = parse_keys([record['key']], 1)[0]
        events = []
        for item in record['events']:
            if item['kind'] not in EVENT_KINDS:
                raise ValueError(f'event kind {item["kind"]!r}: one of {", ".join(EVENT_KINDS)}')
            voice = -1 if item['voice'] == 'all' else names.index(item['voice'])
            events.append(Event(item['kind'], voice, int(item['step']), int(item['steps']),
                                parse_keys([item['key']], 1)[0], int(item.get('octave', 0)),
                                tuple(item.get('fragment', ())), int(item.get('shift', -1)), item.get('section', '')))
        countersubject = record.get('countersubject')
        if countersubject is not None:
            countersubject = (np.array(countersubject['pitches'], int), np.array(countersubject['onsets'], bool))
        plan = Plan(subject, key, n_voices, record['answer'], events, int(record['steps']), record.get('stretto', ''),
                    record.get('third', 'major'), countersubject)
    except SubjectError as error:
        raise SubjectError(f'{path}: {error}') from None
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
        raise SubjectError(f'{path}: not a readable plan file: {error}') from None
    check_plan(plan, path)
    return plan


def check_plan(plan, path):
    """SubjectError naming ``path`` where the plan has fewer than two entries, a countersubject not as long as the
    subject, an event outside the piece or a note outside A0–C8, an episode's fragment outside the subject, or
    two events give one voice the same step."""
    if len(plan.entries()) < 2:
        raise SubjectError(f'{path}: a fugue needs two entries at least (subject and answer)')
    if plan.countersubject is not None and not (len(plan.countersubject[0]) == len(plan.countersubject[1])
                                                == len(plan.subject.pitches)):
        raise SubjectError(f'{path}: the countersubject must be as long as the subject')
    taken = np.zeros((plan.voices, plan.length), bool)
    for event in plan.events:
        where = f'{path}: {event.kind} at step {event.step}'
        if event.step < 0 or event.steps <= 0 or event.step + event.steps > plan.length:
            raise SubjectError(f'{where} lies outside the piece of {plan.length} steps')
        if event.kind == 'episode' and not (len(event.fragment) == 2 and
                                            0 <= event.fragment[0] < event.fragment[1] <= len(plan.subject.pitches)):
            raise SubjectError(f'{where}: fragment must be [first, stop] steps of the subject')
        if event.kind in ENTRY_KINDS + ('countersubject',) and event.steps > len(plan.subject.pitches):
            raise SubjectError(f'{where} is longer than the subject')
        rows = range(plan.voices) if event.voice < 0 else [event.voice]
        for row in rows:
            if taken[row, event.step:event.step + event.steps].any():
                raise SubjectError(f'{where} overlaps another event in the {VOICE_NAMES[plan.voices][row]}')
            taken[row, event.step:event.step + event.steps] = True
    try:
        plan_cells(plan)
    except SubjectError as error:
        raise SubjectError(f'{path}: {error}') from None


# --------------------------------------------------------------------------- writing

def write_whole_fugue(subject, form=WholeForm(), plan=None, checkpoint=None, sampling=Sampling(), output=Output()):
    """A whole fugue on ``subject`` (MIDI file or text; unused when ``plan``, a :class:`Plan`, is given) by the
    voice model (``checkpoint``; None: the shipped one) → (files {kind: path} with 'plan' the plan file, report:
    key, voices, answer, stretto, bars, entries [(bar, voice, kind, key)], countersubjects placed, entries
    intact, keys found at the entries, ends on the tonic)."""
    from bach2.models.voice_sampling import CONTINUATION_FIGURES, GibbsSchedule, gibbs_fill
    if plan is None:
        plan = plan_fugue(read_subject(subject, VOICE_GEOMETRY), form)
    model = voice_model_for(checkpoint, 'voices')
    positions = fit_positions(plan.subject.positions, plan.length)
    schedule = GibbsSchedule(figures=CONTINUATION_FIGURES)
    rounds = _progress_split(sampling)
    if plan.countersubject is None:
        first, second = plan.entries()[:2]
        cut = second.step + second.steps
        tokens, given = plan_cells(plan)
        head = gibbs_fill(model, tokens[:, :cut], given[:, :cut], positions[:cut, 0], schedule,
                          sampling.temperature, sampling.seed, on_round=rounds(0, cut / plan.length))
        plan = dataclasses.replace(plan, countersubject=countersubject_of(plan, head))
    else:
        head, cut = None, 0
    plan, placed = place_countersubjects(plan)
    tokens, given = plan_cells(plan)
    if head is not None:
        tokens[:, :cut], given[:, :cut] = head, True
    filled = gibbs_fill(model, tokens, given, positions[:, 0], schedule, sampling.temperature, sampling.seed + 1,
                        on_round=rounds(cut / plan.length, 1.0))
    names = VOICE_NAMES[plan.voices]
    report = fugue_report(plan, filled, given, tokens, placed)
    piece = voices_composition(VoicePiece(filled, positions, names), key=key_of(*plan.key),
                               record={'plan': plan_dict(plan), 'model': 'voices', 'seed': sampling.seed,
                                       **{k: v for k, v in report.items() if k != 'entries'}})
    piece.marks = plan_marks(plan)
    output = output.named(f'fugue_{subject_slug(plan.subject)}_{plan.voices}v_whole_seed{sampling.seed}')
    files = write_piece(piece, output)
    files['plan'] = save_plan(plan, output.path('plan.json'))
    return files, report


def _progress_split(sampling):
    """on_round callbacks mapping each fill's 0…1 onto its share of the whole (the studio's progress bar)."""
    def rounds(low, high):
        if sampling.progress is None:
            return None
        return lambda fraction: sampling.progress(low + (high - low) * fraction)
    return rounds


def plan_marks(plan):
    """The piano roll's marks: (step, text) of each entry, countersubject, episode, pedal and the cadence."""
    names = VOICE_NAMES[plan.voices]
    marks = []
    for e in plan.events:
        if e.kind in ENTRY_KINDS:
            marks.append((e.step, f'{e.kind} ({names[e.voice]}, {key_text(e.key)})'))
        elif e.kind == 'cadence':
            marks.append((e.step, 'cadence'))
        elif e.kind in ('episode', 'pedal'):
            marks.append((e.step, f'{e.kind} ({names[e.voice]})'))
    return marks


def ends_on_tonic(tokens, tonic):
    """Whether the last step of ``V × T`` tokens sounds a tonic chord: the lowest sounding pitch the tonic, the
    others in its major or minor triad."""
    chord = [int(p) for p in sounding_pitches(np.asarray(tokens).T)[-1] if p >= 0]
    if not chord:
        return False
    return min(chord) % 12 == tonic and {(p - tonic) % 12 for p in chord} <= {0, 3, 4, 7}


def keys_at_entries(plan, tokens, around=None):
    """For each entry, the key found (:func:`~bach2.music.key_finding.find_key`) on the notes of every voice over
    the entry's steps and ``around`` steps (a bar) either side → [(planned key, found key)] as (pitch class,
    mode)."""
    around = plan.bar if around is None else around
    roll = sounding_roll(tokens)
    found = []
    for e in plan.entries():
        span = roll[max(0, e.step - around):e.step + e.steps + around]
        name = find_key(pitch_class_histogram(span))
        found.append((e.key, (pitch_class_of(name[0]), name[1])))
    return found


def fugue_report(plan, filled, given, tokens, placed):
    """What :func:`write_whole_fugue` reports (its docstring)."""
    names = VOICE_NAMES[plan.voices]
    keys = keys_at_entries(plan, filled)
    return {'key': key_text(plan.key), 'voices': plan.voices, 'answer': plan.answer, 'stretto': plan.stretto,
            'bars': plan.bar_of(plan.length - 1),
            'entries': [(plan.bar_of(e.step), names[e.voice], e.kind, key_text(e.key)) for e in plan.entries()],
            'countersubjects': f'{sum(v is not None for _, v in placed)} of {len(placed)}',
            'entries_intact': float((filled[given] == tokens[given]).all()),
            'keys_found': sum(planned == found for planned, found in keys) / max(len(keys), 1),
            'ends_on_tonic': ends_on_tonic(filled, plan.key[0])}


def plan_summary(plan):
    """The plan in words, one line per event: its bar, section, what and where."""
    names = VOICE_NAMES[plan.voices]
    lines = [f'{key_text(plan.key)}, {plan.voices} voices, {plan.bar_of(plan.length - 1)} bars, {plan.answer} '
             f'answer; stretto: {plan.stretto}']
    for e in plan.events:
        where = 'every voice' if e.voice < 0 else f'the {names[e.voice]}'
        lines.append(f'  bar {plan.bar_of(e.step):>3}  {e.section:<12}  {e.kind} in {where}, {key_text(e.key)}')
    return '\n'.join(lines)


# --------------------------------------------------------------------------- completing a piece

def complete_voices(model, voice_piece, n_steps, key, sampling=Sampling()):
    """:class:`~bach2.compose.voice_writing.VoicePiece` (an unfinished piece) → it and ``n_steps`` more steps in
    its voices, ending on the tonic chord of ``key`` ((tonic pitch class, mode)) held for the last bar, over a
    tonic pedal in the bass for the bar before it (when ``n_steps`` has three bars or more) → (VoicePiece, ``V × T``
    tokens given)."""
    V, T = voice_piece.tokens.shape
    tokens, given = np.full((V, n_steps), REST, np.int16), np.zeros((V, n_steps), bool)
    downbeats = np.flatnonzero(continue_positions(voice_piece.positions, n_steps)[:, 0] == 0)
    last = int(downbeats[-1]) if len(downbeats) else 0
    chord = final_chord(key[0], key[1], V, 'major')
    for voice, pitch in enumerate(chord):
        tokens[voice, last], tokens[voice, last + 1:] = FIRST_PITCH + pitch - LOWEST, HOLD
        given[voice, last:] = True
    if len(downbeats) >= 3 and V > 1:
        before = int(downbeats[-2])
        tokens[V - 1, before], tokens[V - 1, before + 1:last] = FIRST_PITCH + chord[-1] - LOWEST, HOLD
        given[V - 1, before:last] = True
    done = continue_voices(model, voice_piece, n_steps, sampling, ending=(tokens, given))
    return done, np.concatenate([np.ones((V, T), bool), given], axis=1)


def complete_file(path, bars=8, key=None, checkpoint=None, sampling=Sampling(), output=Output(), from_bar=None):
    """The MIDI file ``path`` (unfinished) continued in its voices for ``bars`` bars to a cadence on the tonic of
    ``key`` ('D minor'; None: the piece's own, :func:`~bach2.compose.harmonize.melody_key`), written from bar
    ``from_bar`` on (None: whole; the model hears every bar) → (files, report: voices, given_bars, key,
    ends_on_tonic); named ``<stem>_completed_seed<k>``."""
    tune = read_given(path, STEP)
    piece = read_voices(tune)
    written = parse_key(key) if key else melody_key(tune)
    tonic = (pitch_class_of(written[0]), written[1])
    first = 0 if from_bar is None else bar_steps(piece.positions, from_bar, from_bar).start
    position, bar = (int(x) for x in piece.positions[-1])
    n_steps = (bar - position - 1) + bars * bar                   # the rest of its last bar, then ``bars``
    done, _ = complete_voices(voice_model_for(checkpoint, 'voices'), piece, n_steps, tonic, sampling)
    T = piece.tokens.shape[1]
    report = {'voices': len(piece.names), 'given_bars': round(T / usual_bar(piece.positions), 1),
              'key': key_text(tonic), 'ends_on_tonic': ends_on_tonic(done.tokens, tonic[0])}
    shown = dataclasses.replace(done, tokens=done.tokens[:, first:], positions=done.positions[first:])
    output = output.named(f'{pathlib.Path(path).stem}_completed_seed{sampling.seed}')
    composition = voices_composition(shown, key=key_of(*tonic), record={'source': str(path), 'given_steps': T,
                                                                          'first_step': first, 'seed': sampling.seed,
                                                                          **report},
                                     title=f'{output.name}, from bar {from_bar}' if from_bar else '')
    composition.marks = [(T - first, 'the model from here')]
    return write_piece(composition, output), report
