"""Stage 2: chords of the journal's vocabulary, one per quarter note.

A *chord vector* is a unit-length 12-bin pitch-class vector (C first). Every
quality is a set of intervals above the root, each with a role, and every role
has one weight in every chord (the journal wanted root, third, fifth and
seventh weighted consistently):

==========  ======  ==============================================
role        weight  used for
==========  ======  ==============================================
root        1.0
third       0.8
fifth       0.6     (diminished or augmented fifth where the chord has one)
seventh     0.5     the defining 4th note (7th, or the 6th of minor_melodic)
colour      0.3     tones that may join (maj7 on major, b9, #11 …)
==========  ======  ==============================================

:func:`get_chord` names the chord whose vector has the highest cosine
similarity with a pitch-class profile; the journal's chord cost is
``arccos(cosine_similarity) / π`` (:func:`chord_distance`).
"""
import numpy as np

from bach2.midi_to_time_series import midi_to_time_series
from bach2.music.pitch_names import PITCH_CLASS_NAMES
from bach2.time_series_to_pitch_matrix import LOWEST_PITCH, full_roll, ticks_per_step

ROLE_WEIGHTS = {'root': 1.0, 'third': 0.8, 'fifth': 0.6, 'seventh': 0.5, 'colour': 0.3}
QUALITIES = {  # quality → {semitones above the root: role}; on a tie the earlier quality wins
    'major': {0: 'root', 4: 'third', 7: 'fifth', 11: 'colour'},
    'minor': {0: 'root', 3: 'third', 7: 'fifth', 10: 'colour'},
    'minor_harmonic': {0: 'root', 3: 'third', 7: 'fifth', 11: 'seventh'},
    'minor_melodic': {0: 'root', 3: 'third', 7: 'fifth', 9: 'seventh', 11: 'colour'},
    'minor_diminished': {0: 'root', 3: 'third', 6: 'fifth', 9: 'seventh'},
    'minor_half_diminished': {0: 'root', 3: 'third', 6: 'fifth', 10: 'seventh'},
    # the augmented 7ths as colour: without them a bare third (C–E) would score as augmented
    'major_augmented': {0: 'root', 4: 'third', 8: 'fifth', 10: 'colour', 11: 'colour'},
    'dominant': {0: 'root', 4: 'third', 7: 'fifth', 10: 'seventh'},
    'dominant_altered': {0: 'root', 4: 'third', 10: 'seventh', 1: 'colour', 3: 'colour', 8: 'colour'},
    'dominant_sharp_11': {0: 'root', 4: 'third', 7: 'fifth', 10: 'seventh', 6: 'colour'},
}
#: The family of each quality, as music theory (and music21) names plain triads and sevenths.
FAMILY = {'minor': 'minor', 'minor_harmonic': 'minor', 'minor_melodic': 'minor',
          'minor_diminished': 'diminished', 'minor_half_diminished': 'diminished',
          'major': 'major', 'major_augmented': 'augmented',
          'dominant': 'dominant', 'dominant_altered': 'dominant', 'dominant_sharp_11': 'dominant'}
BASS_WEIGHT = 2.0   # the lowest sounding note of a step counts this many times
ONSET_WEIGHT = 3.0  # extra weight of the notes sounding on the beat (passing notes fall between beats)
NO_CHORD = -1       # chord index of a silent quarter note


def chord_vector(root, quality):
    """('D#', 'minor') → unit-length float32 vector of 12 pitch classes."""
    vector = np.zeros(12, np.float32)
    root_class = PITCH_CLASS_NAMES.index(root)
    for interval, role in QUALITIES[quality].items():
        vector[(root_class + interval) % 12] = ROLE_WEIGHTS[role]
    return vector / np.linalg.norm(vector)


#: Index i of a chord: root = i // 10 … in this order; CHORD_VECTORS[i] is its vector (120 × 12).
CHORD_NAMES = [(root, quality) for root in PITCH_CLASS_NAMES for quality in QUALITIES]
CHORD_VECTORS = np.stack([chord_vector(root, quality) for root, quality in CHORD_NAMES])
CHORD_TONES = np.stack([np.isin(np.arange(12), [(PITCH_CLASS_NAMES.index(root) + interval) % 12
                                                for interval, role in QUALITIES[quality].items() if role != 'colour'])
                        for root, quality in CHORD_NAMES]).astype(np.uint8)    # 120 × 12


def chord_tones(indices):
    """Chord indices → ``n × 12`` uint8: 1 on root, third, fifth and seventh (not colour tones); NO_CHORD → 0s."""
    indices = np.asarray(indices, np.int64)
    return np.where((indices == NO_CHORD)[:, None], 0, CHORD_TONES[np.maximum(indices, 0)]).astype(np.uint8)


def chord_distance(a, b):
    """The journal's chord cost: arccos(cosine similarity of two vectors) / π, in [0, 1].

    A zero vector (silence) has cosine 0 with anything: distance 0.5.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    cosine = a @ b / norms if norms > 0 else 0.0
    return float(np.arccos(np.clip(cosine, -1.0, 1.0)) / np.pi)


def fold_to_pitch_classes(vector, lowest_pitch=LOWEST_PITCH):
    """``P``-long vector (column j = MIDI ``lowest_pitch + j``) → 12 pitch-class sums, C first."""
    vector = np.asarray(vector, np.float64)
    if vector.shape[-1] == 12:
        return vector
    classes = (np.arange(vector.shape[-1]) + lowest_pitch) % 12
    folded = np.zeros(vector.shape[:-1] + (12,))
    for pitch_class in range(12):
        folded[..., pitch_class] = vector[..., classes == pitch_class].sum(axis=-1)
    return folded


def chord_indices(profiles):
    """``B × 12`` pitch-class profiles → ``B`` int16 indices into :data:`CHORD_NAMES` (silent: NO_CHORD)."""
    profiles = np.atleast_2d(np.asarray(profiles, np.float64))
    indices = np.argmax(profiles @ CHORD_VECTORS.T, axis=1).astype(np.int16)
    indices[~(profiles > 0).any(axis=1)] = NO_CHORD
    return indices


def get_chord(vector, lowest_pitch=LOWEST_PITCH):
    """12- or P-dimensional (probability) vector → ('D#', 'minor'), or None when it is all zero."""
    index = int(chord_indices(fold_to_pitch_classes(vector, lowest_pitch))[0])
    return None if index == NO_CHORD else CHORD_NAMES[index]


def find_chord(pitches):
    """MIDI pitches sounding together → ('D#', 'minor'); the lowest counts :data:`BASS_WEIGHT` times."""
    pitches = [int(p) for p in pitches]
    if not pitches:
        return None
    profile = np.zeros(12)
    for pitch in pitches:
        profile[pitch % 12] += 1.0
    profile[min(pitches) % 12] += BASS_WEIGHT - 1.0
    return get_chord(profile)


def beat_profiles(roll, steps_per_beat=4):
    """``T × 128`` roll → ``B × 12`` pitch-class weights per beat (B = ⌈T / steps_per_beat⌉).

    Each sounding step adds 1 (long notes weigh more); the lowest note of each
    step adds :data:`BASS_WEIGHT` instead (low notes weigh more); notes sounding
    on the beat itself add :data:`ONSET_WEIGHT` more (passing notes weigh less).
    With these weights, root and family agree with music21's ``chordify`` on
    84 % of chorale beats (``benchmarks/music21_agreement.py``).
    """
    roll = np.asarray(roll, bool)
    n_beats = -(-roll.shape[0] // steps_per_beat)
    weights = roll.astype(np.float64)
    sounding = roll.any(axis=1)
    rows = np.nonzero(sounding)[0]
    weights[rows, roll.argmax(axis=1)[rows]] = BASS_WEIGHT
    weights[::steps_per_beat] += ONSET_WEIGHT * roll[::steps_per_beat]
    padded = np.zeros((n_beats * steps_per_beat, roll.shape[1]))
    padded[:roll.shape[0]] = weights
    per_beat = padded.reshape(n_beats, steps_per_beat, roll.shape[1]).sum(axis=1)   # B × 128
    return fold_to_pitch_classes(per_beat, lowest_pitch=0)


def piece_roll(piece):
    """A piece's ``T × 128`` roll at 16th-note steps (4 per quarter)."""
    return full_roll(piece, ticks_per_step(piece.resolution))


def chord_index_sequence(piece):
    """One chord index per quarter note of ``piece`` → int16 array (NO_CHORD where silent)."""
    return chord_indices(beat_profiles(piece_roll(piece)))


def extract_chord_sequence(piece):
    """A :class:`Piece` or MIDI path → one (root, quality) per quarter note, None where silent."""
    if not hasattr(piece, 'voices'):
        piece = midi_to_time_series(piece)
    return [None if i == NO_CHORD else CHORD_NAMES[i] for i in chord_index_sequence(piece)]


def transpose_chord_indices(indices, semitones):
    """Chord indices of a piece → those of the piece transposed by ``semitones``."""
    indices = np.asarray(indices, np.int16)
    n_qualities = len(QUALITIES)
    moved = ((indices // n_qualities + semitones) % 12) * n_qualities + indices % n_qualities
    return np.where(indices == NO_CHORD, NO_CHORD, moved).astype(np.int16)
