"""An independent judge for stage 2: how often our keys and chords agree with music21's.

* Keys: :func:`bach2.music.key_finding.find_key` on our duration histogram against
  ``score.analyze('key')`` (music21's default, the Aarden–Essen profiles);
  agreement = same tonic and mode.
* Chords: on every quarter-note beat where music21's ``chordify()`` sounds a
  plain triad or seventh chord, our chord for that quarter note must have the
  same root and the same family (major, minor, dominant, diminished, augmented;
  :data:`bach2.chord_sequence.FAMILY`).

Our side reads the MIDI that music21 writes for the same score, so both judge
the same notes.
"""
import os
import tempfile
import warnings

from bach2.chord_sequence import CHORD_NAMES, FAMILY, NO_CHORD, chord_index_sequence, piece_roll
from bach2.midi_to_time_series import midi_to_time_series
from bach2.music.key_finding import PROFILES, find_key, find_key_by_pitch_count, key_of, pitch_class_histogram
from bach2.music.pitch_names import PITCH_CLASS_NAMES


def music21_family(chord):
    """music21 Chord (a triad or seventh) → 'major' | 'minor' | 'dominant' | 'diminished' | 'augmented'."""
    if chord.isSeventh():
        if chord.isDominantSeventh():
            return 'dominant'
        if chord.isDiminishedSeventh() or chord.isHalfDiminishedSeventh():
            return 'diminished'
    return chord.quality


def judge_score(score_path):
    """One music21 score → dict(key_agrees, our_keys, music21_key, chord_beats, chord_agreements).

    ``key_agrees`` and ``our_keys`` hold one entry per key method: each profile
    set of :func:`bach2.music.key_finding.find_key` and 'pitch_count' (the journal's).
    """
    from music21 import converter
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        score = converter.parse(score_path)
        try:   # music21 writes MIDI with repeats played out: judge that same expanded score
            score = score.expandRepeats()
        except Exception:  # noqa: BLE001 (music21's ExpanderException and others: keep the score as written)
            pass
        handle, midi_path = tempfile.mkstemp(suffix='.mid')
        os.close(handle)
        try:
            score.write('midi', fp=midi_path)
            piece = midi_to_time_series(midi_path)
        finally:
            os.remove(midi_path)
        their_key = score.analyze('key')
        chords = score.chordify().flatten().notes
    roll = piece_roll(piece)
    histogram = pitch_class_histogram(roll)
    our_keys = {profiles: find_key(histogram, profiles) for profiles in PROFILES}
    our_keys['pitch_count'] = find_key_by_pitch_count(histogram)
    music21_key = key_of(their_key.tonic.pitchClass, their_key.mode)
    ours = chord_index_sequence(piece)
    beats = agreements = 0
    for chord in chords:
        beat = float(chord.offset)
        if beat != int(beat) or int(beat) >= len(ours) or not (chord.isTriad() or chord.isSeventh()):
            continue
        beats += 1
        index = int(ours[int(beat)])
        if index != NO_CHORD:
            root, quality = CHORD_NAMES[index]
            agreements += (PITCH_CLASS_NAMES.index(root) == chord.root().pitchClass
                           and FAMILY[quality] == music21_family(chord))
    return {'key_agrees': {method: key == music21_key for method, key in our_keys.items()},
            'our_keys': our_keys, 'music21_key': music21_key,
            'chord_beats': beats, 'chord_agreements': agreements}
