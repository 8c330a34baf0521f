"""Key of a piece from its pitch-class profile.

* :func:`find_key`: the Krumhansl–Schmuckler method: correlate the
  duration-weighted 12-bin pitch-class histogram with 24 rotated key profiles;
  the best correlation names the key. Two profile sets: Krumhansl & Kessler's
  probe-tone ratings (1982, the method's original) and Aarden & Essen's
  note-frequency profiles (2003, counted in folk and classical scores), the
  default because it measured best on Bach: on music21's 410 Bach scores it
  agrees with music21's key analysis on 98 % of pieces, against 77 % for
  Krumhansl–Kessler (music21's own analysis uses Aarden–Essen, so that judge
  is not independent of the profile choice; see ``benchmarks/music21_agreement.py``).
* :func:`find_key_by_pitch_count`: the journal's pitch counter: the key whose
  scale (major, or harmonic minor) holds the most note duration.

Keys are ``(tonic, mode)`` tuples such as ``('F#', 'minor')``.
"""
import numpy as np

from bach2.music.pitch_names import PITCH_CLASS_NAMES

#: (major, minor) profiles, tonic first, for each profile set.
PROFILES = {
    # Krumhansl & Kessler (1982) probe-tone ratings.
    'krumhansl_kessler': ((6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
                          (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)),
    # Aarden (2003) / Essen folksong collection note frequencies, in percent.
    'aarden_essen': ((17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587,
                      0.291248, 22.062, 0.145624, 8.15494, 0.232998, 4.95122),
                     (18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362,
                      0.702494, 18.6161, 4.56621, 1.93186, 7.37619, 1.75623)),
}
DEFAULT_PROFILES = 'aarden_essen'
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 11)
MODES = ('major', 'minor')


def pitch_class_histogram(roll):
    """``T × 128`` roll (or any ``T × P`` matrix whose column 0 is a C) → 12 sounding-step counts, C first."""
    per_pitch = np.asarray(roll, np.float64).sum(axis=0)
    padded = np.zeros(-(-len(per_pitch) // 12) * 12)
    padded[:len(per_pitch)] = per_pitch
    return padded.reshape(-1, 12).sum(axis=0)


def key_profiles(profiles=DEFAULT_PROFILES):
    """24 × 12 array: row ``2·tonic + (0 major | 1 minor)`` is that key's profile rotated to its tonic."""
    major, minor = (np.array(profile) for profile in PROFILES[profiles])
    return np.array([np.roll(profile, tonic) for tonic in range(12) for profile in (major, minor)])


def key_correlations(histogram, profiles=DEFAULT_PROFILES):
    """12-bin histogram → 24 Pearson correlations with :func:`key_profiles` (a flat histogram → zeros)."""
    h = np.asarray(histogram, np.float64)
    h = h - h.mean()
    p = key_profiles(profiles)
    p = p - p.mean(axis=1, keepdims=True)
    denominator = np.linalg.norm(p, axis=1) * np.linalg.norm(h)
    return p @ h / denominator if denominator.all() else np.zeros(24)


def find_key(histogram, profiles=DEFAULT_PROFILES):
    """Krumhansl–Schmuckler key of a 12-bin pitch-class histogram → ('A', 'minor').

    ``profiles``: 'aarden_essen' (default) or 'krumhansl_kessler'.
    """
    best = int(np.argmax(key_correlations(histogram, profiles)))
    return PITCH_CLASS_NAMES[best // 2], MODES[best % 2]


def find_key_by_pitch_count(histogram):
    """The journal's pitch counter: key whose scale covers the most of the histogram (ties: more tonic)."""
    h = np.asarray(histogram, np.float64)
    best, best_score = None, None
    for tonic in range(12):
        for mode, scale in zip(MODES, (MAJOR_SCALE, HARMONIC_MINOR_SCALE)):
            score = (sum(h[(tonic + degree) % 12] for degree in scale), h[tonic])
            if best_score is None or score > best_score:
                best, best_score = (PITCH_CLASS_NAMES[tonic], mode), score
    return best


def key_name(key):
    """('A', 'minor') → 'A minor'."""
    return f'{key[0]} {key[1]}'


def semitones_to_c(key):
    """Shift (−5 … +6) that moves ``key``'s tonic to C: transposes a piece to C major or C minor."""
    shift = -PITCH_CLASS_NAMES.index(key[0]) % 12
    return shift if shift <= 6 else shift - 12
