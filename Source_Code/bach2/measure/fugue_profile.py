"""The form of a fugue read from its voices: where its subject enters, in which voice and key, and how much of
it is episode — for Bach's fugues (one track per voice) and ours alike.

* :func:`opening_subject`: the subject of a fugue in voices: the first voice to sound, from its first note to the
  first note of the second;
* :func:`find_entries`: every entry of a subject in any voice and transposition: a place where a voice strikes
  the subject's first notes (three quarters of them, at least :data:`HEAD_NOTES`: a fragment of the head in an
  episode is no entry) in its rhythm (onset to onset, exactly) and contour (each interval in the same direction
  and within 2 semitones of the subject's: a tonal answer or a minor subject in major still counts);
* :func:`form_profile`: entries per 10 bars, the share of bars no entry sounds in (episodes), keys visited at the
  entries, entries in inner voices, and stretti (an entry struck while another still sounds) and where they
  fall.

Tokens are ``V × T`` voice tokens (:mod:`bach2.data.voice_tokens`, 16th-note steps, highest voice first).
"""
import numpy as np

from bach2.data.voice_tokens import FIRST_PITCH, REST, sounding_pitches
from bach2.music.key_finding import find_key, pitch_class_histogram
from bach2.music.pitch_names import pitch_class_of

HEAD_NOTES = 6           # notes of the subject's head an entry must strike, at least …
HEAD_SHARE = 0.75        # … and this share of its notes (a fragment in an episode is no entry)
INTERVAL_SLACK = 2       # semitones each interval may differ by, in the same direction (a tonal answer changes
                         # a fifth to a fourth; a minor subject in major, seconds and thirds by 1)


def token_pitches(row):
    """One voice's tokens → (``T`` MIDI pitches sounding, −1 silent; ``T`` bool onsets)."""
    row = np.asarray(row)
    return sounding_pitches(row[:, None])[:, 0].astype(int), row >= FIRST_PITCH


def opening_subject(tokens):
    """The subject of a fugue in voices → (``T_s`` MIDI pitches, −1 rest; ``T_s`` onsets), or None where fewer
    than two voices sound."""
    starts = sorted((int(np.flatnonzero(row != REST)[0]), v) for v, row in enumerate(tokens) if (row != REST).any())
    if len(starts) < 2 or starts[1][0] <= starts[0][0]:
        return None
    (first, voice), (second, _) = starts[:2]
    pitches, onsets = token_pitches(tokens[voice])
    return pitches[first:second], onsets[first:second]


def head(pitches, onsets, n=HEAD_NOTES):
    """The first ``n`` struck notes of a line → (onset steps from the first, their MIDI pitches)."""
    struck = np.flatnonzero(np.asarray(onsets, bool) & (np.asarray(pitches) >= 0))[:n]
    return struck - struck[0], np.asarray(pitches)[struck]


def find_entries(tokens, subject):
    """Every entry of ``subject`` ((pitches, onsets)) in the ``V × T`` tokens → [(step, voice, semitones from the
    subject's first note)], in order of step. A voice's entries are at least the subject's length apart."""
    n_notes = int((np.asarray(subject[1], bool) & (np.asarray(subject[0]) >= 0)).sum())
    times, pitches = head(*subject, max(HEAD_NOTES, int(np.ceil(HEAD_SHARE * n_notes))))
    intervals = np.diff(pitches)
    length = len(subject[0])
    found = []
    for v, row in enumerate(tokens):
        line, onsets = token_pitches(row)
        struck = np.flatnonzero(onsets)
        last = -length
        for i in range(len(struck) - len(times) + 1):
            notes = struck[i:i + len(times)]
            if notes[0] < last + length or not np.array_equal(notes - notes[0], times):
                continue
            moves = np.diff(line[notes])
            if (np.abs(moves - intervals) <= INTERVAL_SLACK).all() and (np.sign(moves) == np.sign(intervals)).all():
                found.append((int(notes[0]), v, int(line[notes[0]] - pitches[0])))
                last = notes[0]
    return sorted(found)


def sounding_roll(tokens):
    """``V × T`` tokens → ``T × 128`` 0/1 roll of every voice."""
    pitches = sounding_pitches(np.asarray(tokens).T)
    roll = np.zeros((len(pitches), 128))
    steps, voices = np.nonzero(pitches >= 0)
    roll[steps, pitches[steps, voices]] = 1
    return roll


def form_profile(tokens, subject, bar=16, tonic=None):
    """The form of a fugue: ``V × T`` tokens, its subject ((pitches, onsets)), bars of ``bar`` steps → {'bars',
    'entries', 'entries per 10 bars', 'episode share' (bars where no entry sounds), 'keys' (distinct keys found
    over each entry and a bar either side), 'inner share' (entries in neither the top nor the bottom voice),
    'stretti' (entries struck while another sounds), 'stretto place' (their mean place, 0 start … 1 end; None
    without)}; with the fugue's ``tonic`` (pitch class), 'keys follow' too: the share of entries over which the
    key found has the tonic the entry's transposition moves the fugue's to (an answer a fifth up: the
    dominant)."""
    V, T = tokens.shape
    length = len(subject[0])
    entries = find_entries(tokens, subject)
    covered = np.zeros(T, bool)
    for step, _, _ in entries:
        covered[step:step + length] = True
    n_bars = max(1, -(-T // bar))
    bars_with_entry = {t // bar for t in np.flatnonzero(covered)}
    roll = sounding_roll(tokens)
    found = [find_key(pitch_class_histogram(roll[max(0, step - bar):step + length + bar])) for step, _, _ in entries]
    stretti = [step for k, (step, voice, _) in enumerate(entries)
               if any(other < step < other + length and v != voice for other, v, _ in entries[:k])]
    return {'bars': n_bars, 'entries': len(entries), 'entries per 10 bars': 10 * len(entries) / n_bars,
            'episode share': 1 - len(bars_with_entry) / n_bars, 'keys': len(set(found)),
            'inner share': sum(0 < v < V - 1 for _, v, _ in entries) / max(len(entries), 1),
            'stretti': len(stretti), 'stretto place': float(np.mean(stretti) / T) if stretti else None,
            **({} if tonic is None else {'keys follow': float(np.mean(
                [pitch_class_of(key[0]) == (tonic + moved) % 12 for key, (_, _, moved) in zip(found, entries)]))
                if entries else None})}
