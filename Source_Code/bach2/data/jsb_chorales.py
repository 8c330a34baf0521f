"""The JSB Chorales benchmark as a prepared training-data folder.

Input: ``jsb-chorales-quarter.json`` — ``{'train' | 'valid' | 'test': [chorale]}``
(Boulanger-Lewandowski et al. 2012 split, 229 / 76 / 77 chorales), a chorale
being a list of quarter-note steps, each a list of MIDI pitches.

:func:`prepare_jsb_chorales` writes what ``bach2 prepare`` writes for a MIDI
folder, in the benchmark's geometry — 88 keys (MIDI 21–108), one step per
quarter note (``pitch_matrix_96ticks_sh<k>``) — plus ``split.json``, so that
``bach2 train`` keeps the published split and ``bach2 evaluate`` reports NLL
per frame in the literature's convention (binary cross-entropy summed over the
88 keys, averaged over every frame of the split).
"""
import json
import pathlib

import numpy as np

from bach2.chord_sequence import CHORD_NAMES, beat_profiles, chord_indices, transpose_chord_indices
from bach2.common import CorpusError
from bach2.data.prepare import BAR_POSITIONS, save_sequences
from bach2.data.training_set import SPLIT_FILE
from bach2.music.metre import regular_positions
from bach2.safe_io import atomic_path
from bach2.time_series_to_pitch_matrix import JOURNAL_RESOLUTION, shift_semitones

LOWEST_KEY = 21          # A0, the lowest piano key
N_KEYS = 88
STEP_TICKS = JOURNAL_RESOLUTION   # one step = one quarter note
SPLITS = ('train', 'valid', 'test')
#: Test NLL per frame reported by Bai, Kolter & Koltun (2018), Table 1.
PUBLISHED_TEST_NLL = {'LSTM': 8.45, 'GRU': 8.43, 'TCN': 8.10}


def load_jsb_chorales(path):
    """The benchmark's JSON → {split: [``T × 88`` uint8 piano roll]}; CorpusError naming the file otherwise."""
    try:
        data = json.loads(pathlib.Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorpusError(f'{path}: not a readable JSB Chorales JSON file ({error})') from None
    if not isinstance(data, dict) or not set(SPLITS) <= set(data):
        raise CorpusError(f'{path}: expected the splits {", ".join(SPLITS)} at the top level')
    rolls = {}
    for split in SPLITS:
        rolls[split] = []
        for i, chorale in enumerate(data[split]):
            try:
                rolls[split].append(chorale_roll(chorale))
            except (TypeError, ValueError) as error:
                raise CorpusError(f'{path}: {split} chorale {i}: {error}') from None
    return rolls


def chorale_roll(chorale):
    """[[MIDI pitches] per quarter note] → ``T × 88`` uint8 (column j = MIDI 21 + j)."""
    roll = np.zeros((len(chorale), N_KEYS), np.uint8)
    for t, pitches in enumerate(chorale):
        for pitch in pitches:
            if not (isinstance(pitch, int) and LOWEST_KEY <= pitch < LOWEST_KEY + N_KEYS):
                raise ValueError(f'step {t}: {pitch!r} is not a piano key (MIDI 21–108)')
            roll[t, pitch - LOWEST_KEY] = 1
    return roll


def transpose_keys(roll, semitones):
    """``T × 88`` roll moved ``semitones`` up; notes pushed off the keyboard are dropped."""
    moved = np.zeros_like(roll)
    if semitones >= 0:
        moved[:, semitones:] = roll[:, :N_KEYS - semitones]
    else:
        moved[:, :semitones] = roll[:, -semitones:]
    return moved


def keyboard_shift(roll, semitones):
    """The shift of a ``T × 88`` roll to the key ``semitones`` away that keeps every note on the keyboard:
    ``semitones``, else the same key an octave lower or higher → semitones, or None when no octave fits."""
    played = np.nonzero(roll.any(axis=0))[0]
    if not len(played):
        return semitones
    for shift in (semitones, semitones - 12, semitones + 12):
        if played[0] + shift >= 0 and played[-1] + shift < N_KEYS:
            return shift
    return None


def roll_chords(roll, steps_per_quarter=1):
    """``T × 88`` roll → one chord index per quarter note (stage 2's chord finder)."""
    full = np.zeros((len(roll), 128), bool)
    full[:, LOWEST_KEY:LOWEST_KEY + N_KEYS] = roll
    return chord_indices(beat_profiles(full, steps_per_beat=steps_per_quarter))


def prepare_rolls(rolls, set_name, out_dir, transpositions, step_ticks):
    """{split: [``T × 88`` roll]} → a prepared folder (sh<k> for each k of ``transpositions``, frames of
    ``step_ticks``) → files written. Pieces are named ``<set_name>_<split>_<index>``; ``split.json`` lists them.
    A piece goes to sh<k> in the octave of that key that keeps its notes on the 88 keys (:func:`keyboard_shift`);
    where none does, sh<k> holds it with 0 steps, and training leaves it out of that key."""
    names = {split: [f'{set_name}_{split}_{i:03d}' for i in range(len(rolls[split]))] for split in SPLITS}
    all_names = [name for split in SPLITS for name in names[split]]
    originals = [roll for split in SPLITS for roll in rolls[split]]
    chords = [roll_chords(roll, JOURNAL_RESOLUTION // step_ticks) for roll in originals]
    # no bar lines in these sets: bars of 4/4 from the first frame (bach2.music.metre)
    positions = [regular_positions(len(roll), 4 * JOURNAL_RESOLUTION // step_ticks) for roll in originals]
    out_dir = pathlib.Path(out_dir)
    written = []
    for k in transpositions:
        shifts = [keyboard_shift(roll, shift_semitones(k)) for roll in originals]
        kept = [slice(None) if shift is not None else slice(0) for shift in shifts]
        shifts = [shift_semitones(k) if shift is None else shift for shift in shifts]
        path = save_sequences(out_dir, f'pitch_matrix_{step_ticks}ticks_sh{k}', 'pitch_matrices',
                              [transpose_keys(roll[keep], shift) for roll, keep, shift in zip(originals, kept, shifts)],
                              all_names, per_step={BAR_POSITIONS: [p[keep] for p, keep in zip(positions, kept)]},
                              semitones=shifts, step_ticks=step_ticks, lowest_pitch=LOWEST_KEY)
        chord_path = save_sequences(out_dir, f'chord_sequence_sh{k}', 'chord_sequences',
                                    [transpose_chord_indices(c[keep], shift)
                                     for c, keep, shift in zip(chords, kept, shifts)], all_names,
                                    semitones=shifts, chord_names=[f'{root} {quality}' for root, quality in CHORD_NAMES])
        written += [path, path.with_suffix('.npz'), chord_path, chord_path.with_suffix('.npz')]
    split_path = out_dir / SPLIT_FILE
    with atomic_path(split_path) as temporary:
        pathlib.Path(temporary).write_text(json.dumps(names, indent=1))
    return written + [split_path]


def prepare_jsb_chorales(json_path, out_dir, transpositions=tuple(range(12))):
    """Write the benchmark as a prepared folder (sh<k> for each k of ``transpositions``) → files written.

    Pieces are named ``jsb_<split>_<index>``; ``split.json`` lists them per split.
    """
    return prepare_rolls(load_jsb_chorales(json_path), 'jsb', out_dir, transpositions, STEP_TICKS)
