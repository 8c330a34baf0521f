"""Voices as tokens: one row per voice, one column per step (a 16th note) — a rest, a held note or a struck pitch.

A piece in voices is a ``T × V`` int16 array, voices highest first (soprano in column 0):

* :data:`REST` (0): the voice is silent;
* :data:`HOLD` (1): the note sounding in this voice at the step before goes on (a tie);
* ``FIRST_PITCH + pitch − LOWEST`` (2 …): a note of that MIDI pitch is struck, ``LOWEST`` = 21 (A0) to 108 (C8);
* :data:`ABSENT` (−1): the piece has fewer voices than the array's width (storage pads to :data:`MAX_VOICES`).

A struck note and a held one differ, so a repeated note is two pitch tokens and a half note four steps of one
pitch token and three holds. Where the voices come from (:func:`voice_lines`):

* a file whose tracks are voices (``bach_keyboard_voices``, most scores exported by notation programs) keeps
  them, ordered highest first by mean pitch;
* **fragments** (tracks with under :data:`FRAGMENT_SHARE` of the notes of the largest, as LilyPond writes
  passing polyphony, or tracks beyond :data:`MAX_VOICES`) are merged into the voice they continue: the one
  silent over most of the fragment's steps, then nearest in pitch around it;
* **chords in a voice** (two notes struck at one step) keep the top note (the bottom one in the lowest voice);
  a note struck while the voice still sounds cuts the note before;
* a file whose tracks are textures (a piano staff, one track for everything) is split into lines by
  :mod:`bach2.music.voice_separation`.

Each rule's count is returned (:class:`VoiceRules`), so a corpus says what it changed.
"""
import dataclasses
import math

import numpy as np

from bach2.time_series_to_pitch_matrix import grid_steps

REST, HOLD, FIRST_PITCH = 0, 1, 2
ABSENT = -1
LOWEST = 21                 # MIDI A0, the lowest piano key
N_KEYS = 88                 # A0 … C8
VOCABULARY = FIRST_PITCH + N_KEYS   # token classes: rest, hold, 88 pitches
MAX_VOICES = 6              # the most voices a stored piece keeps (Bach's keyboard writing: 2–6)
FRAGMENT_SHARE = 0.1        # a track with fewer notes than this share of the largest track's is a fragment
#: voice names, highest first, for each number of voices
VOICE_NAMES = {2: ('soprano', 'bass'), 3: ('soprano', 'alto', 'bass'), 4: ('soprano', 'alto', 'tenor', 'bass'),
               5: ('soprano1', 'soprano2', 'alto', 'tenor', 'bass'),
               6: ('soprano1', 'soprano2', 'alto1', 'alto2', 'tenor', 'bass')}
TEXTURE_SHARE = 0.3         # tracks striking more of their notes over another of their own are textures


@dataclasses.dataclass
class VoiceRules:
    """What :func:`voice_lines` and :func:`line_tokens` changed in one piece (counts of notes unless said)."""
    voices: int = 0                 # voices kept
    fragment_tracks: int = 0        # tracks merged into another voice
    fragment_notes: int = 0         # their notes
    separated_notes: int = 0        # notes of texture tracks given a voice by voice separation
    chord_notes_dropped: int = 0    # notes struck at a step where their voice struck another kept note
    notes_cut: int = 0              # notes shortened because their voice struck the next note before they ended
    notes_moved_octave: int = 0     # notes outside A0–C8 after transposition, moved an octave in

    def add(self, other):
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))
        return self


def is_texture(tracks, step):
    """Whether tracks (lists of ``(onset, pitch, duration)`` ticks) are textures rather than voices: over
    :data:`TEXTURE_SHARE` of all their notes are struck while another note of their own track still sounds
    (steps of ``step`` ticks). Measured on the built-in corpora: the voice-separated files 0–0.30 (0.43 and 0.47
    for two chordal fantasias), the piano files with one track per staff 0.30–0.73."""
    struck_over = total = 0
    for notes in tracks:
        total += len(notes)
        if len(notes) > 1:
            table = np.asarray(sorted(notes), np.int64)
            first, last = grid_steps(table[:, 0], table[:, 0] + table[:, 2], step)
            struck_over += int((np.maximum.accumulate(last)[:-1] > first[1:]).sum())
    return total > 0 and struck_over / total > TEXTURE_SHARE


def voice_lines(tracks, step, n_voices=None):
    """Tracks (lists of ``(onset, pitch, duration)`` ticks) → (lines highest first, :class:`VoiceRules`).

    ``step``: ticks per step. ``n_voices``: voices wanted when the tracks are textures (None: as the separation
    estimates).
    """
    tracks = [sorted(notes) for notes in tracks if notes]
    rules = VoiceRules()
    if not tracks:
        return [], rules
    if is_texture(tracks, step):
        from bach2.music.voice_separation import separate_voices
        notes = sorted(note for notes in tracks for note in notes)
        rules.separated_notes = len(notes)
        tracks = [line for line in separate_voices(notes, n_voices, resolution=round(4 * step)) if line]
    largest = max(len(notes) for notes in tracks)
    by_size = sorted(range(len(tracks)), key=lambda i: -len(tracks[i]))
    main = [i for i in by_size if len(tracks[i]) >= FRAGMENT_SHARE * largest][:MAX_VOICES]
    lines = [list(tracks[i]) for i in main]
    fragments = sorted((tracks[i] for i in by_size if i not in main), key=lambda notes: notes[0][0])
    for fragment in fragments:
        target = _continued_voice(fragment, lines, step)
        lines[target] = sorted(lines[target] + fragment)
        rules.fragment_tracks += 1
        rules.fragment_notes += len(fragment)
    lines.sort(key=lambda notes: -np.mean([pitch for _, pitch, _ in notes]))
    rules.voices = len(lines)
    return lines, rules


def _continued_voice(fragment, lines, step):
    """Index of the line a fragment continues: fewest of its steps already sounding, then nearest in mean
    pitch over the fragment's span widened by a whole note each side."""
    table = np.asarray(fragment, np.int64)
    start, end = table[:, 0].min(), (table[:, 0] + table[:, 2]).max()
    span = np.zeros(int(np.ceil(end / step)) + 1, bool)
    for first, last in zip(*grid_steps(table[:, 0], table[:, 0] + table[:, 2], step)):
        span[first:last] = True
    pitch = table[:, 1].mean()
    costs = []
    for line in lines:
        busy = np.zeros_like(span)
        near = []
        for onset, note_pitch, duration in line:
            if onset < end + 16 * step and onset + duration > start - 16 * step:
                near.append(note_pitch)
            first, last = grid_steps(onset, onset + duration, step)
            busy[min(first, len(busy)):min(last, len(busy))] = True
        reference = np.mean(near) if near else np.mean([p for _, p, _ in line])
        costs.append((int((busy & span).sum()), abs(reference - pitch)))
    return min(range(len(lines)), key=costs.__getitem__)


def line_steps(lines, step):
    """Steps of ``step`` ticks that lines of ``(onset, pitch, duration)`` fill: where the last note ends, rounded
    to the grid; at least 1."""
    end = max((onset + duration for line in lines for onset, _, duration in line), default=0)
    return max(1, math.floor(end / step + 0.5))


def line_tokens(line, step, n_steps, lowest_voice=False, rules=None):
    """One line's notes (ticks) → ``n_steps`` int16 tokens on a grid of ``step`` ticks.

    Two notes struck at one step: the top one is kept (the bottom one if ``lowest_voice``); a note struck
    while the line sounds cuts the note before. Counts go to ``rules`` (a :class:`VoiceRules`) when given.
    """
    tokens = np.full(n_steps, REST, np.int16)
    if not line:
        return tokens
    table = np.asarray(line, np.int64)
    firsts, lasts = grid_steps(table[:, 0], table[:, 0] + table[:, 2], step)
    order = np.lexsort((table[:, 1] if lowest_voice else -table[:, 1], firsts))
    struck = -1
    for i in order:
        first, last, pitch = int(firsts[i]), min(int(lasts[i]), n_steps), int(table[i, 1])
        if first >= n_steps:
            continue
        if first == struck:
            if rules:
                rules.chord_notes_dropped += 1
            continue
        if rules and first > 0 and tokens[first] == HOLD:
            rules.notes_cut += 1
        tokens[first] = pitch_token(pitch)
        tokens[first + 1:last] = HOLD
        struck = first
        rest = last
        while rest < n_steps and tokens[rest] == HOLD:     # the cut note's tail: silent after this note
            tokens[rest] = REST
            rest += 1
    return tokens


def pitch_token(pitch):
    """MIDI pitch → token, moved by octaves into A0–C8."""
    while pitch < LOWEST:
        pitch += 12
    while pitch >= LOWEST + N_KEYS:
        pitch -= 12
    return FIRST_PITCH + pitch - LOWEST


def piece_tokens(lines, step, n_steps, rules=None):
    """Lines highest first → ``n_steps × len(lines)`` int16 tokens (see :func:`line_tokens`)."""
    columns = [line_tokens(line, step, n_steps, lowest_voice=(i == len(lines) - 1 and i > 0), rules=rules)
               for i, line in enumerate(lines)]
    return np.stack(columns, axis=1) if columns else np.zeros((n_steps, 0), np.int16)


def transpose_tokens(tokens, semitones, rules=None):
    """Tokens moved ``semitones``; a pitch leaving A0–C8 moves an octave back in (counted in ``rules``)."""
    tokens = np.array(tokens, np.int16, copy=True)
    struck = tokens >= FIRST_PITCH
    moved = tokens[struck].astype(np.int64) + semitones
    outside = (moved < FIRST_PITCH) | (moved >= VOCABULARY)
    moved[moved < FIRST_PITCH] += 12
    moved[moved >= VOCABULARY] -= 12
    if rules:
        rules.notes_moved_octave += int(outside.sum())
    tokens[struck] = moved
    return tokens


def sounding_pitches(tokens):
    """``T × V`` tokens → ``T × V`` int16 MIDI pitch sounding at each step (−1: rest, or a hold with nothing
    struck before it)."""
    tokens = np.asarray(tokens)
    pitches = np.where(tokens >= FIRST_PITCH, tokens - FIRST_PITCH + LOWEST, -1).astype(np.int16)
    for t in range(1, len(tokens)):
        held = tokens[t] == HOLD
        pitches[t, held] = pitches[t - 1, held]
    return pitches


def token_notes(column, step):
    """One voice's tokens → ``[(onset, pitch, duration)]`` in ticks of ``step`` per token."""
    notes, start, pitch = [], None, None
    for t, token in enumerate(list(column) + [REST]):
        if token == HOLD and start is not None:
            continue
        if start is not None:
            notes.append((start * step, pitch, (t - start) * step))
            start = None
        if token >= FIRST_PITCH:
            start, pitch = t, int(token) - FIRST_PITCH + LOWEST
    return notes


def pad_voices(tokens, width=MAX_VOICES):
    """``T × V`` tokens → ``T × width`` with :data:`ABSENT` columns after the piece's voices."""
    out = np.full((len(tokens), width), ABSENT, np.int16)
    out[:, :tokens.shape[1]] = tokens
    return out
