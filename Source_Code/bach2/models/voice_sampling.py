"""Sampling the voice model: fill every cell not given, given cells kept exactly.

A first drawing gives every free cell a value — step by step from the first (each step given every step before
it, the later free cells masked: ancestral sampling in time order; or, within a step, one voice at a time from
the lowest), or all at once as Coconet does. After each step the voices that struck a pitch together draw their
pitches again one by one, each hearing the others (``revoice``), and no pitch is drawn that makes parallel fifths
or octaves with a voice already known where another can be (``avoid_parallels``). Where a voice's last three
notes repeat a figure heard before, in itself or another voice, at the same or another place in the scale, what
came next there (moved as the figure was) is made up to ``1 + figures`` times likelier (:func:`figure_shares`):
the piece works with its own material, the model still judging each note (a voice already repeating itself
literally for a bar, :func:`looping`, is proposed nothing). Then, for ``n_iterations``
rounds of blocked Gibbs (Coconet's way; none by default: measured in docs/voices.md, they made the lines leap more
and no piece more like Bach's), a random block of the free cells (each with probability ``p_n``, annealed from
``p_max`` to ``p_min`` over the first ``anneal`` share of the rounds, Yao et al.'s schedule as Coconet uses it) is
masked and drawn again given all the others. A hold is never drawn where the cell before it is a known rest (nor
at a voice's first step); any such hold left at the end becomes a rest
(:func:`~bach2.models.voice_model.legal`).

Shapes: tokens, given ``V × T`` (voices highest first, 16th-note steps); positions ``T`` (step in its bar).
Lengths are padded to a multiple of :data:`LENGTH_QUANTUM` with given rests, so a few compiled shapes serve any
piece.
"""
import collections
import dataclasses

import numpy as np
from tqdm import tqdm

from bach2.data.voice_tokens import FIRST_PITCH, HOLD, LOWEST, N_KEYS, REST
from bach2.models.voice_model import legal, model_reach, network_inputs
from bach2.music.key_finding import find_key, scale_pitches, scale_steps
from bach2.music.pitch_names import pitch_class_of

LENGTH_QUANTUM = 64
FIGURE_LAGS = (4, 8, 12, 16, 24, 32, 48, 64)   # steps back a figure is looked for: a beat … four bars of 4/4
FIGURE_NOTES = 3                               # notes before the step drawn that must repeat a figure
LOOP_STEPS = 16                                # a voice whose last LOOP_STEPS repeat literally is looping
KEY_STEPS = 64                                 # steps before the one drawn whose pitches name the key
CONTINUATION_FIGURES = 512.0                   # GibbsSchedule.figures when a piece is continued (docs/motifs.md)
#: steps each side of the step drawn that a pass computes, at most: the shipped voice model reaches 254 in theory,
#: but its predictions there move by at most 0.0002 nats when it hears 128 (docs/whole_fugue.md)
WINDOW_REACH = 127


@dataclasses.dataclass
class GibbsSchedule:
    """How the free cells are first drawn and then drawn again: ``start`` (:func:`first_drawing`) 'ancestral'
    (step by step from the first, each step's free cells given every step before it, the later ones masked),
    'ancestral-voices' or 'independent' (all at once, as Coconet's first round); then ``n_iterations`` rounds, a
    block of probability p annealed from ``p_max`` to ``p_min`` over the first ``anneal`` share of them
    (Coconet's schedule). A cell strikes, holds or rests with the model's probabilities (at the caller's
    temperature); which pitch it strikes is drawn at ``pitch_temperature`` (:func:`sharpen_pitches`), which
    keeps more of the lines stepwise (docs/voices.md). With ``revoice``, after each step of an 'ancestral' drawing
    the voices that struck a pitch there, all but the lowest of them, draw their pitches again from the lowest
    up, each given all the others at that step (a pass each): the voices that strike together hear each other.
    With ``avoid_parallels``, a pitch that would make parallel fifths or octaves with a voice already known is
    not drawn (:func:`forbid_parallels`). With ``figures`` > 0, each step of an ancestral drawing makes the
    tokens that would go on with a figure heard before up to ``1 + figures`` times likelier
    (:func:`figure_shares`; off by default, :data:`CONTINUATION_FIGURES` where a piece is continued: measured in
    docs/motifs.md, it made continuations reuse their figures as Bach's do and harmonized chorales agree a
    little less with Bach's chords). Revoice and avoid_parallels are on by default (docs/voices.md: the judge, the
    parallels and the chorales' chord agreement improved with them)."""
    n_iterations: int = 0
    p_max: float = 0.9
    p_min: float = 0.1
    anneal: float = 0.7
    start: str = 'ancestral'
    pitch_temperature: float = 0.8
    revoice: bool = True
    avoid_parallels: bool = True
    figures: float = 0.0

    def block_probability(self, n):
        return max(self.p_min, self.p_max - (self.p_max - self.p_min) * n / (self.anneal * self.n_iterations))


def pad_length(tokens, given, positions):
    """Pad ``V × T`` to ``V × T'`` (``T'`` a multiple of :data:`LENGTH_QUANTUM`) with given rests."""
    T = tokens.shape[1]
    padded = -(-T // LENGTH_QUANTUM) * LENGTH_QUANTUM
    extra = padded - T
    tokens = np.pad(np.asarray(tokens), ((0, 0), (0, extra)), constant_values=REST)
    given = np.pad(np.asarray(given, bool), ((0, 0), (0, extra)), constant_values=True)
    positions = np.pad(np.asarray(positions), (0, extra), mode='edge' if T else 'constant')
    return tokens, given, positions


def draw(log_p, temperature, rng):
    """``… × K`` log-probabilities → one draw per cell at ``temperature``."""
    logits = log_p / temperature
    logits = logits - logits.max(axis=-1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    cumulative = probabilities.cumsum(axis=-1)
    return (rng.random(cumulative.shape[:-1] + (1,)) > cumulative).sum(axis=-1).clip(0, log_p.shape[-1] - 1)


def sharpen_pitches(log_p, pitch_temperature):
    """``… × K`` log-probabilities with the struck pitches' shares among themselves raised to
    ``1 / pitch_temperature`` and renormalised, their total (against rest and hold) unchanged."""
    if pitch_temperature == 1.0:
        return log_p
    pitches = log_p[..., FIRST_PITCH:]
    with np.errstate(invalid='ignore', divide='ignore'):
        total = np.logaddexp.reduce(pitches, axis=-1, keepdims=True)
        sharpened = pitches / pitch_temperature
        sharpened = sharpened - np.logaddexp.reduce(sharpened, axis=-1, keepdims=True) + total
    log_p = log_p.copy()
    log_p[..., FIRST_PITCH:] = np.where(np.isfinite(total), sharpened, pitches)
    return log_p


def forbid_holds(log_p, tokens, block):
    """``V × T × K`` log-probabilities of the cells of ``block`` with no hold where the cell before (not being
    drawn) is a rest, nor at a voice's first step, and no rest before a hold not being drawn."""
    before = np.concatenate([np.full((tokens.shape[0], 1), REST), tokens[:, :-1]], axis=1)
    before_drawn = np.concatenate([np.zeros((tokens.shape[0], 1), bool), block[:, :-1]], axis=1)
    first = np.zeros_like(block)
    first[:, 0] = True
    after = np.concatenate([tokens[:, 1:], np.full((tokens.shape[0], 1), REST)], axis=1)
    after_drawn = np.concatenate([block[:, 1:], np.zeros((tokens.shape[0], 1), bool)], axis=1)
    log_p = log_p.copy()
    log_p[((before == REST) & ~before_drawn) | first, HOLD] = -np.inf
    log_p[(after == HOLD) & ~after_drawn, REST] = -np.inf     # a kept hold needs a note before it
    return log_p


def sounding_pitches(tokens):
    """``V × T`` tokens → ``V × T`` int key index (0 … 87) each voice sounds at each step, −1 where it rests."""
    steps = np.arange(tokens.shape[1])
    last = np.maximum.accumulate(np.where(tokens >= FIRST_PITCH, steps, -1), axis=1)
    struck = np.take_along_axis(tokens, last.clip(0), axis=1).astype(int) - FIRST_PITCH
    return np.where((tokens == REST) | (last < 0), -1, struck)


def forbid_parallels(log_p, sounding, masked, block, beats=None):
    """``V × T × K`` log-probabilities with no struck pitch in a cell of ``block`` that would make parallel (or
    contrary) fifths or octaves with a voice known at that step and the one before (not ``masked``) that moves
    there — and, at a step on a beat (``beats``, ``T`` bool), from the beat before (4 steps) as well; the pitches
    left share the probability to strike that all had. ``sounding``: :func:`sounding_pitches` of the piece at the
    same steps. A fifth is 7 semitones apart, an octave 0, modulo 12, either voice above (as music21 reads MIDI
    numbers). Bach's rate is not zero (0.4–1.4 per 100 voice pairs, docs/voices.md); this allows none where it can."""
    keys = np.arange(log_p.shape[-1] - FIRST_PITCH)
    log_p = log_p.copy()
    for v, t in zip(*np.nonzero(block)):
        bad = np.zeros(len(keys), bool)
        for s in [t - 1] + ([t - 4] if beats is not None and beats[t] else []):
            before = sounding[v, s] if s >= 0 else -1
            if before < 0 or masked[v, s]:
                continue
            for u in range(len(sounding)):
                a, b = sounding[u, s], sounding[u, t]
                if u == v or masked[u, t] or masked[u, s] or a < 0 or b < 0 or a == b:
                    continue
                interval = abs(before - a) % 12             # either voice above: a fifth or a twelfth is 7
                if interval in (0, 7):
                    bad |= (abs(keys - b) % 12 == interval) & (keys != before)
        pitches = log_p[v, t, FIRST_PITCH:]
        if bad.any() and not bad[np.isfinite(pitches)].all():
            total = np.logaddexp.reduce(pitches)
            kept = np.where(bad, -np.inf, pitches)
            log_p[v, t, FIRST_PITCH:] = kept - np.logaddexp.reduce(kept) + total
    return log_p


def local_key(sounding, step):
    """:func:`sounding_pitches` (``V × T``) → (tonic pitch class, mode) of the :data:`KEY_STEPS` steps before
    ``step`` (C major where nothing sounds)."""
    recent = sounding[:, max(0, step - KEY_STEPS):step]
    histogram = np.bincount((recent[recent >= 0] + LOWEST) % 12, minlength=12)
    tonic, mode = find_key(histogram) if histogram.any() else ('C', 'major')
    return pitch_class_of(tonic), mode


def figure_shares(tokens, sounding, step, voice, key, lags=FIGURE_LAGS, notes=FIGURE_NOTES):
    """Where the piece would go on with a figure it has played → {token: share of the figures found}, {} if none.

    ``tokens`` and their :func:`sounding_pitches` (``V × T``) are known before ``step``. The context is
    ``voice``'s last ``notes`` notes up to ``step`` (at most :data:`FIGURE_LAGS`' first lag × 4 steps). A figure
    is found at (voice u, lag L) where u's steps ``L`` earlier repeat the context: the same rests, holds and
    strikes, every struck pitch moved by the same number of scale steps of ``key`` ((tonic pitch class, mode):
    :func:`~bach2.music.key_finding.scale_steps`). It proposes the token u played ``L`` steps before ``step``, a
    struck pitch moved as the figure was. A voice that is :func:`looping` is proposed nothing: the model alone
    says whether the loop goes on."""
    strikes = np.flatnonzero(tokens[voice, :step] >= FIRST_PITCH)
    if len(strikes) < notes or step - strikes[-notes] > 4 * lags[0] or looping(tokens[voice], step):
        return {}
    context = step - strikes[-notes]
    kinds = np.minimum(tokens[voice, step - context:step], FIRST_PITCH)
    struck = kinds == FIRST_PITCH
    places = scale_steps(sounding[voice, step - context:step][struck] + LOWEST, *key)
    found = collections.Counter()
    for lag in lags:
        start = step - lag - context
        for u in range(len(tokens)) if start >= 0 else ():
            if (np.minimum(tokens[u, start:start + context], FIRST_PITCH) != kinds).any():
                continue
            moves = places - scale_steps(sounding[u, start:start + context][struck] + LOWEST, *key)
            if np.ptp(moves) > 1e-6:
                continue
            token = int(tokens[u, step - lag])
            if token >= FIRST_PITCH:
                pitch = int(scale_pitches(scale_steps(sounding[u, step - lag] + LOWEST, *key) + moves[0], *key))
                if not LOWEST <= pitch < LOWEST + N_KEYS:
                    continue
                token = pitch - LOWEST + FIRST_PITCH
            found[token] += 1
    total = sum(found.values())
    return {token: n / total for token, n in found.items()}


def looping(row, step, steps=LOOP_STEPS):
    """Whether a voice's tokens ``row`` (``T``) repeat literally, in the ``steps`` steps before ``step``, the steps
    some period of 1 … 2 × ``steps`` before them: a figure stated again and again at one pitch, a note held or a
    rest kept for a bar. Bach repeats a figure literally once or twice, then moves it; a sampler that reuses
    figures must not lock a voice in a loop (docs/motifs.md)."""
    recent = row[step - steps:step]
    return step >= steps and any((row[step - steps - period:step - period] == recent).all()
                                 for period in range(1, min(2 * steps, step - steps) + 1))


def first_drawing(free, start):
    """``V × T`` free cells → the passes of the first drawing, [(step, voice)]: 'independent' one pass,
    (None, None), all at once; 'ancestral' step by step, (t, None), each step's free cells given every step before
    it; 'ancestral-voices' the same one voice at a time from the lowest, (t, v), each given the voices below it
    at its step. :func:`pass_cells` says which cells each pass masks and draws."""
    if start == 'independent':
        return [(None, None)]
    steps = np.flatnonzero(free.any(axis=0))
    if start == 'ancestral':
        return [(t, None) for t in steps]
    if start == 'ancestral-voices':
        return [(t, v) for t in steps for v in np.flatnonzero(free[:, t])[::-1]]
    raise ValueError(f"start must be 'ancestral', 'ancestral-voices' or 'independent', not {start!r}")


def pass_cells(free, step, voice):
    """A pass of :func:`first_drawing` → (masked, drawn) ``V × T`` bool: the free cells after it (and at it,
    from ``voice`` up) are masked; the free cells of ``step`` (of ``voice`` alone, where given) are drawn."""
    if step is None:
        return free, free
    steps, voices = np.arange(free.shape[1]), np.arange(free.shape[0])[:, None]
    now = steps == step
    if voice is None:
        return free & (steps >= step), free & now
    return free & ((steps > step) | (now & (voices <= voice))), free & now & (voices == voice)


def window(step, length, reach):
    """(start, stop) of the steps a pass at ``step`` computes: every step of the ``length`` when ``step`` is None or
    the piece is short, else :data:`LENGTH_QUANTUM`-rounded window holding ``reach`` steps each side of it (or
    the piece's edge), so the cells of ``step`` come out as they would from the whole piece."""
    width = -(-(2 * reach + 1) // LENGTH_QUANTUM) * LENGTH_QUANTUM
    if step is None or length <= width:
        return 0, length
    start = int(np.clip(step - reach, 0, length - width))
    return start, start + width


def gibbs_fill(model, tokens, given, positions, schedule=GibbsSchedule(), temperature=1.0, seed=0,
               progress=False, on_round=None):
    """Fill the cells of ``tokens`` (``V × T``) where ``given`` is False → ``V × T`` int16 tokens.

    ``model``: a :class:`~bach2.models.voice_model.VoiceModel`; ``on_round(fraction)`` is called after each
    round (the studio's progress bar). A pass of the first drawing computes only the window of steps its step
    hears (:func:`window`; at most :data:`WINDOW_REACH` steps each side), so its cost does not grow with the
    piece."""
    rng = np.random.default_rng(seed)
    T = np.asarray(tokens).shape[1]
    tokens, given, positions = pad_length(tokens, given, positions)
    tokens = np.where(given, tokens, REST).astype(np.int16)
    free = ~given
    reach = min(model_reach(model.config), WINDOW_REACH)

    def redraw(masked, block, step, pitches_only=False):
        """Draw the cells of ``block`` again, given every cell not ``masked``."""
        start, stop = window(step, tokens.shape[1], reach)
        inputs = [x[..., start:stop] for x in network_inputs(tokens[None], ~masked[None], positions[None])]
        log_p = np.asarray(model.predict((1, len(tokens), stop - start))(*inputs))[0]
        log_p = forbid_holds(log_p, tokens[:, start:stop], masked[:, start:stop])      # a copy
        cells = block[:, start:stop]
        sounding = sounding_pitches(tokens)
        if schedule.avoid_parallels:
            log_p = forbid_parallels(log_p, sounding[:, start:stop], masked[:, start:stop], cells,
                                     positions[start:stop] % 4 == 0)
        if schedule.figures and step is not None:
            key = local_key(sounding, step)
            for v in np.flatnonzero(block[:, step]):
                for token, share in figure_shares(tokens, sounding, step, v, key).items():
                    log_p[v, step - start, token] += np.log1p(schedule.figures * share)
        drawn = sharpen_pitches(log_p[cells], schedule.pitch_temperature)            # only the cells drawn
        if pitches_only:
            drawn[..., :FIRST_PITCH] = -np.inf
        part = tokens[:, start:stop]
        part[cells] = draw(drawn, temperature, rng)

    first = first_drawing(free, schedule.start)
    rounds = len(first) + schedule.n_iterations
    for n in tqdm(range(rounds), desc='voices', unit='round', disable=not progress):
        if n < len(first):
            step, voice = first[n]
            masked, block = pass_cells(free, step, voice)
        else:
            step = None
            block = masked = free & (rng.random(free.shape) < schedule.block_probability(n - len(first)))
        if block.any():
            redraw(masked, block, step)
        if schedule.revoice and n < len(first) and step is not None and voice is None:
            struck = np.flatnonzero(block[:, step] & (tokens[:, step] >= FIRST_PITCH))[::-1]
            for v in struck[1:]:         # from the second lowest up, each given all the others at the step
                cell = np.zeros_like(block)
                cell[v, step] = True
                redraw((masked & ~block) | cell, cell, step, pitches_only=True)
        if on_round:
            on_round((n + 1) / rounds)
    tokens = legal(tokens)
    return tokens[:, :T]
