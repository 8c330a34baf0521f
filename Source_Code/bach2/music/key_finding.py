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

Keys are ``(tonic, mode)`` tuples such as ``('F#', 'minor')`` or ``('Bb', 'major')``, named as musicians
write them: the key finders name a tonic by :func:`key_of`, the enharmonic whose signature has fewer
accidentals. :func:`key_spelling` spells every pitch class in a key (scores, chord labels).
"""
import numpy as np

from bach2.music.pitch_names import fifths_class, fifths_name, fifths_position, pitch_class_of

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
#: The tonic of the key on each pitch class (C first), as musicians name it: the enharmonic with fewer
#: accidentals; of the two with six, F♯ major (Bach's BWV 858, 882) and E♭ minor (the prelude BWV 853).
MAJOR_TONICS = ('C', 'Db', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B')
MINOR_TONICS = ('C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'G#', 'A', 'Bb', 'B')
MOST_ACCIDENTALS = 7


def pitch_class_histogram(roll):
    """``T × 128`` roll (or any ``T × P`` matrix whose column 0 is a C) → 12 sounding-step counts, C first."""
    per_pitch = np.asarray(roll, np.float64).sum(axis=0)
    padded = np.zeros(-(-len(per_pitch) // 12) * 12)
    padded[:len(per_pitch)] = per_pitch
    return padded.reshape(-1, 12).sum(axis=0)


def scale_steps(pitches, tonic, mode):
    """MIDI pitches → their places on the scale of ``tonic`` (a pitch class) in ``mode`` ('major', 'minor': the
    harmonic minor), counted in scale steps from the tonic below MIDI 0 (float); a pitch off the scale sits the
    share of the way to the next scale note that its semitones above the one below make (a half in a tone, a third
    or two in the minor's augmented second). Moving a figure within the scale adds a whole number to each place."""
    scale = np.array((MAJOR_SCALE if mode == 'major' else HARMONIC_MINOR_SCALE) + (12,))
    octave, pitch_class = np.divmod(np.asarray(pitches) - tonic, 12)
    below = np.searchsorted(scale, pitch_class, side='right') - 1
    return 7 * octave + below + (pitch_class - scale[below]) / (scale[below + 1] - scale[below])


def scale_pitches(places, tonic, mode):
    """:func:`scale_steps` back to MIDI pitches (int)."""
    scale = np.array((MAJOR_SCALE if mode == 'major' else HARMONIC_MINOR_SCALE) + (12,))
    places = np.rint(np.asarray(places, np.float64) * 6) / 6          # sixths: halves and thirds, exact
    octave, degree = np.divmod(np.floor(places).astype(int), 7)
    gap = scale[degree + 1] - scale[degree]
    return tonic + 12 * octave + scale[degree] + np.rint((places % 1) * gap).astype(int)


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
    return key_of(best // 2, MODES[best % 2])


def find_key_by_pitch_count(histogram):
    """The journal's pitch counter: key whose scale covers the most of the histogram (ties: more tonic)."""
    h = np.asarray(histogram, np.float64)
    best, best_score = None, None
    for tonic in range(12):
        for mode, scale in zip(MODES, (MAJOR_SCALE, HARMONIC_MINOR_SCALE)):
            score = (sum(h[(tonic + degree) % 12] for degree in scale), h[tonic])
            if best_score is None or score > best_score:
                best, best_score = key_of(tonic, mode), score
    return best


def key_name(key):
    """('A', 'minor') → 'A minor'."""
    return f'{key[0]} {key[1]}'


def semitones_to_c(key):
    """Shift (−5 … +6) that moves ``key``'s tonic (any spelling) to C: transposes a piece to C major or minor."""
    shift = -tonic_class(key) % 12
    return shift if shift <= 6 else shift - 12


def key_of(tonic, mode):
    """Tonic pitch class (0–11) and mode → the key as musicians name it: (10, 'major') → ('Bb', 'major')."""
    return (MAJOR_TONICS if mode == 'major' else MINOR_TONICS)[int(tonic) % 12], mode


def tonic_class(key):
    """('Bb', 'major') or ('A#', 'major') → 10, the tonic's pitch class."""
    return pitch_class_of(key[0])


def key_signature(key):
    """The signature of ``key``: sharps (> 0) or flats (< 0): ('Bb', 'major') → −2, ('A#', 'major') → 10."""
    return fifths_position(key[0]) - (3 if key[1] == 'minor' else 0)


def spelled_key(key):
    """``key`` with its tonic as written ('F#', 'Gb', 'D#' …) where its signature has at most seven
    accidentals, else as :func:`key_of` names it: ('A#', 'major') → ('Bb', 'major')."""
    if abs(key_signature(key)) <= MOST_ACCIDENTALS:
        return fifths_name(fifths_position(key[0])), key[1]
    return key_of(tonic_class(key), key[1])



def midi_key_name(key):
    """('Bb', 'minor') → 'Bbm', the key as a MIDI key signature names it (mido), spelled by :func:`spelled_key`."""
    tonic, mode = spelled_key(key)
    return tonic + ('m' if mode == 'minor' else '')


def key_of_midi_name(name):
    """A MIDI key signature's name (mido: 'F#m', 'Bb') → ('F#', 'minor'), the inverse of :func:`midi_key_name`."""
    return spelled_key((name.removesuffix('m'), 'minor' if name.endswith('m') else 'major'))


def key_spelling(key):
    """12 names, C first, of the pitch classes as :func:`spelled_key` of ``key`` writes them: its scale (a minor
    key's raised sixth and seventh too) as the scale spells it (C♭ in G♭ major, C♯ in D minor), other white keys
    natural, other black keys by their place on the line of fifths near the tonic (major: from three fifths
    below to eight above, F♯ C♯ G♯ E♭ B♭ in C; minor: from five below to six above, F♯ C♯ G♯ D♯ B♭ in
    A minor, G♭ D♭ A♭ E♭ B♭ in F minor)."""
    tonic, mode = spelled_key(key)
    t = fifths_position(tonic)
    scale = range(t - 1, t + 6) if mode == 'major' else [*range(t - 4, t + 3), t + 3, t + 5]
    window = range(t - 3, t + 9) if mode == 'major' else range(t - 5, t + 7)
    names = {fifths_class(q): fifths_name(q) for q in window}
    names.update({fifths_class(q): white for white, q in zip('FCGDAEB', range(-1, 6))})
    names.update({fifths_class(q): fifths_name(q) for q in scale})
    return tuple(names[pitch_class] for pitch_class in range(12))
