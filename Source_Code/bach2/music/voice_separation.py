"""Voice separation: a keyboard texture (the notes of one or more tracks merged) → lines, highest first.

A note is a tuple ``(onset_tick, midi_pitch, duration_ticks)``; a piece is a list of notes in any order, a
separation a list of ``n_voices`` lists of notes, each sorted by onset, the highest voice first.

* :func:`voices_by_height`: the baseline: at its onset a note takes the voice of its rank by height among the
  notes sounding then.
* :func:`separate_voices`: a beam search over the onset times: the new notes of each time go to the voices in
  every way, each way costed (semitones of leap from the voice's last note, a rest in the voice, distance from
  the voice's register, a sounding voice crossed, a note begun in a voice still sounding), and the
  :data:`BEAM` cheapest distinct hypotheses are kept to the end. On the 101 clean files of
  ``bach_keyboard_voices`` (``benchmarks/voice_separation.py``) it gives 0.91 of the notes their voice,
  the baseline 0.75; most of its errors are where fewer voices sound than the piece has (which one rests?),
  where voices really cross, and in files with tiny fragment voices.
* :func:`estimate_n_voices`: how many voices a texture has; :func:`overlaps`: notes begun in a voice still sounding.

Written by hand: music21 (10.5) analyses voice leading of voices already apart (``music21.voiceLeading``:
``VoiceLeadingQuartet``, ``Verticality``), splits voices a score marks (``Stream.voicesToParts``), and
``Stream.makeVoices`` deals overlapping notes first-fit to the first free voice (no pitch, register or
continuity); nothing finds the lines in a MIDI texture.
"""
import functools
import itertools

import numpy as np

DEFAULT_RESOLUTION = 384        # ticks per quarter note
VOICES_PERCENTILE = 99.5        # estimate_n_voices: percentile of the notes sounding at the onset times
BEAM = 24                       # hypotheses kept
MAX_ASSIGNMENTS = 60            # more orderings of an onset's notes than this: only the order-keeping ones
LEAP = 1.0                      # cost per semitone from the voice's last note
REGISTER = 0.25                 # cost per semitone from the voice's register (:func:`voice_registers`)
REST = 36.0                     # a note after a rest in its voice (a voice's first note too)
CROSSING = 8.0                  # a sounding voice above a higher one
OVERLAP = 1000.0                # a note begun in a voice still sounding: only when every voice is
LEGATO = 1 / 8                  # quarters a voice's last note may overlap the next without counting


def _by_onset(notes):
    """Notes → (onsets, pitches, ends) int64 arrays sorted by onset then pitch, highest first; the order."""
    notes = [tuple(int(x) for x in note) for note in notes]
    order = sorted(range(len(notes)), key=lambda i: (notes[i][0], -notes[i][1], notes[i][2]))
    table = np.array([notes[i] for i in order], np.int64).reshape(-1, 3)
    return table[:, 0], table[:, 1], table[:, 0] + table[:, 2], [notes[i] for i in order]


def _groups(onsets):
    """Sorted onsets → [(start, stop)] index ranges of equal onsets."""
    starts = np.flatnonzero(np.diff(onsets, prepend=onsets[:1] - 1))
    return list(zip(starts, np.r_[starts[1:], len(onsets)]))


def sounding_ranks(notes):
    """Notes → per note (in :func:`_by_onset` order) the number of notes sounding above it at its onset, and
    the number sounding then; with the ordered notes."""
    onsets, pitches, ends, ordered = _by_onset(notes)
    above, sounding = np.zeros(len(ordered), np.int64), np.zeros(len(ordered), np.int64)
    active = []
    for start, stop in _groups(onsets):
        t = onsets[start]
        active = [i for i in active if ends[i] > t] + list(range(start, stop))
        heights = pitches[active]
        for i in range(start, stop):
            above[i] = np.sum(heights > pitches[i]) + np.sum((heights == pitches[i]) & (np.array(active) < i))
            sounding[i] = len(active)
    return above, sounding, ordered


def voices_by_height(notes, n_voices):
    """Notes → ``n_voices`` lists of notes: a note goes to the voice of its rank by height (0 = highest) among
    the notes sounding at its onset; ranks beyond the last voice go to the last."""
    above, _, ordered = sounding_ranks(notes)
    voices = [[] for _ in range(n_voices)]
    for note, rank in zip(ordered, above):
        voices[min(int(rank), n_voices - 1)].append(note)
    return voices


def estimate_n_voices(notes, percentile=VOICES_PERCENTILE):
    """Notes → number of voices: the ``percentile`` of the number of notes sounding at each onset time (on the
    101 clean files of ``bach_keyboard_voices``, 99.5 is right on 95; the maximum on 87)."""
    if not notes:
        return 0
    onsets, _, ends, _ = _by_onset(notes)
    times = np.unique(onsets)
    counts = np.searchsorted(onsets, times, 'right') - np.searchsorted(np.sort(ends), times, 'right')
    return int(np.ceil(np.percentile(counts, percentile)))


def overlaps(voices, legato=0):
    """Separation → number of notes that begin more than ``legato`` ticks before an earlier note of their voice
    ends (0: every voice monophonic)."""
    return sum(int(np.sum(np.maximum.accumulate(ends[:-1]) > onsets[1:] + legato))
               for onsets, ends in (_onsets_ends(voice) for voice in voices) if len(onsets) > 1)


def _onsets_ends(voice):
    """Notes → (onsets, ends) int64 arrays, by onset."""
    table = np.array(sorted(voice), np.int64).reshape(-1, 3)
    return table[:, 0], table[:, 0] + table[:, 2]


def separate_voices(notes, n_voices=None, resolution=DEFAULT_RESOLUTION, beam=BEAM):
    """Notes → ``n_voices`` lists of notes (each by onset), the highest voice first; every note in one voice.

    ``n_voices``: None estimates it (:func:`estimate_n_voices`). ``resolution``: ticks per quarter note (a voice
    may overlap its next note by :data:`LEGATO` quarters). ``beam``: hypotheses kept at each onset time. A voice
    starts from its register (:func:`voice_registers`) after a rest. A note goes into a voice still sounding only
    when every voice is (count them with :func:`overlaps`). About 0.15 ms a note (a 2000-note fugue: 0.3 s).
    """
    n_voices = estimate_n_voices(notes) if n_voices is None else n_voices
    if not notes:
        return [[] for _ in range(n_voices)]
    if n_voices < 1:
        raise ValueError(f'{len(notes)} notes cannot go into {n_voices} voices')
    onsets, pitches, ends, ordered = _by_onset(notes)
    registers = voice_registers(notes, n_voices)
    state = registers[None, :], np.full((1, n_voices), np.iinfo(np.int64).min // 2), np.zeros(1)
    trail = []
    for start, stop in _groups(onsets):
        state, back = _step(state, onsets[start], pitches[start:stop], ends[start:stop], registers,
                            LEGATO * resolution, beam)
        trail.append((start, stop, *back))
    voices = [[] for _ in range(n_voices)]
    row = int(np.argmin(state[2]))
    for start, stop, parents, chosen in trail[::-1]:
        for note, voice in zip(ordered[start:stop], chosen[row]):
            voices[voice].append(note)
        row = parents[row]
    return [voice[::-1] for voice in voices]


def voice_registers(notes, n_voices):
    """Notes → ``n_voices`` MIDI pitches, highest voice first: the median pitch of each rank by height at the
    onsets where ``n_voices`` notes sound (a rank never seen there: that quantile of all the pitches)."""
    above, sounding, ordered = sounding_ranks(notes)
    pitches = np.array([note[1] for note in ordered])
    full = sounding == n_voices
    quantiles = np.quantile(pitches, (n_voices - 0.5 - np.arange(n_voices)) / n_voices)
    return np.array([np.median(pitches[full & (above == rank)]) if np.any(full & (above == rank))
                     else quantiles[rank] for rank in range(n_voices)])


@functools.lru_cache(maxsize=None)
def _assignments(n_voices, k):
    """Voices to try for ``k`` notes of one onset, highest first → ``C × k`` voice indices: every ordering, or
    the order-keeping ones when there are more than :data:`MAX_ASSIGNMENTS` (notes share voices when
    ``k > n_voices``)."""
    if k > n_voices:
        choices = itertools.combinations_with_replacement(range(n_voices), k)
    elif np.prod(range(n_voices - k + 1, n_voices + 1)) <= MAX_ASSIGNMENTS:
        choices = itertools.permutations(range(n_voices), k)
    else:
        choices = itertools.combinations(range(n_voices), k)
    return np.array(list(choices), np.int64).reshape(-1, k)


def _step(state, t, pitches, ends, registers, legato, beam):
    """One onset time: extend every hypothesis ``(last pitch, end tick per voice, cost)`` by every assignment
    of the new notes (``k`` pitches and end ticks, highest first) → the ``beam`` cheapest distinct hypotheses,
    and (parent row, ``k`` voices of the notes) of each."""
    last, end, cost = state
    choices = _assignments(last.shape[1], len(pitches))
    prev, prev_end = last[:, choices], end[:, choices]
    note_cost = (LEAP * np.abs(pitches - prev) + REST * (prev_end < t - legato) + OVERLAP * (prev_end > t + legato)
                 + REGISTER * np.abs(pitches - registers[choices])).sum(axis=-1)
    shared = len(pitches) - np.array([len(set(row)) for row in choices])
    new_last, new_end = _extend(last, choices, pitches), _extend(end, choices, ends)
    total = cost[:, None] + note_cost + OVERLAP * shared + _crossings(new_last, new_end > t, choices)
    kept, seen = [], set()
    for index in np.argsort(total.ravel(), kind='stable')[:3 * beam]:
        b, c = divmod(int(index), len(choices))
        key = new_last[b, c].tobytes() + new_end[b, c].tobytes()
        if key not in seen:
            seen.add(key)
            kept.append((b, c))
    rows, cols = np.array(kept[:beam]).T
    return (new_last[rows, cols], new_end[rows, cols], total[rows, cols]), (rows, choices[cols])


def _extend(table, choices, values):
    """``B × n`` per-voice table, ``C × k`` voices, ``k`` values → ``B × C × n`` table with the values set."""
    extended = np.repeat(table[:, None, :], len(choices), axis=1)
    extended[:, np.arange(len(choices))[:, None], choices] = values
    return extended


def _crossings(pitch, sounding, choices):
    """``B × C × n`` last pitches and sounding flags → ``B × C`` cost of the crossings that involve a voice
    given a note now: a sounding voice below a lower sounding one."""
    new = np.zeros(pitch.shape[1:], bool)
    new[np.arange(len(choices))[:, None], choices] = True
    below = (pitch[..., :, None] < pitch[..., None, :]) & np.triu(np.ones(pitch.shape[-1], bool), 1)
    below &= new[:, :, None] | new[:, None, :]
    below &= sounding[..., :, None] & sounding[..., None, :]
    return CROSSING * below.sum(axis=(-1, -2))
