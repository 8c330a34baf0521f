"""How often the subject finder reads a fugue right (issue 29): subject, key and voices.

For each fugue of ``--voices-data`` (``bach_keyboard_voices``: one MIDI track per voice, highest first) of 3 or
more voices, :func:`bach2.compose.fugue.fugue_subject` reads the union of its tracks (what a piano MIDI holds) at
16ths, and its answers are compared with the truth the tracks give:

* subject: the highest line of the first track to sound, from its first note to the first note of the second
  track; right when the found subject is that line step for step;
* voices: the tracks with at least a fifth of the notes of the fullest one (smaller ones are fragments, e.g.
  final chords), at most 4 (the finder, like ``bach2 fugue``, reads 3 or 4); right when equal;
* key: not in the manifest: from the BWV number (WTC I and II, BWV 846–893: C major, C minor, C♯ major … in
  order; the other works by their catalogue key); right when tonic and mode are.

Left out: files the manifest calls fragmented (a voice split over many tracks), a prelude or a fantasy, and
fugues of 2 voices (the finder reads 3 or more).

    python benchmarks/subject_finder.py --voices-data ../shared/data/bach_keyboard_voices
"""
import argparse
import csv
import dataclasses
import pathlib
import re

import numpy as np

from bach2.compose.fugue import fugue_subject, subject_key, subject_of
from bach2.midi_to_time_series import midi_to_time_series
from bach2.music.key_finding import MODES
from bach2.music.metre import piece_positions
from bach2.time_series_to_pitch_matrix import onset_matrix, time_series_to_pitch_matrix

STEP_TICKS = 24                 # a 16th at 96 ticks per quarter
#: (tonic pitch class, mode) of the works outside the WTC, by BWV
CATALOGUE_KEYS = {565: (2, 'minor'), 895: (9, 'minor'), 903: (2, 'minor'), 944: (9, 'minor'), 952: (0, 'major'),
                  1079: (0, 'minor'), 1080: (2, 'minor')}
LEFT_OUT = re.compile('fragmented|PRELUD|FANTASY')


def true_key(bwv):
    """BWV number → (tonic pitch class, mode): the WTC's order of keys, else :data:`CATALOGUE_KEYS`."""
    if 846 <= bwv <= 893:
        number = (bwv - 846) % 24
        return number // 2, MODES[number % 2]
    return CATALOGUE_KEYS[bwv]


def top_line(matrix):
    """``T × 128`` pitch matrix → ``T`` highest MIDI pitch per step (−1 silent)."""
    return np.array([np.flatnonzero(row)[-1] if row.any() else -1 for row in matrix])


def measure(path, bwv):
    """The fugue at ``path`` → its truth ('voices', 'subject_steps'), what was found ('found_steps',
    'found_voices', 'key') and whether it is right ('subject', 'voices_right', 'key_right'); None where it has
    fewer than 3 voices."""
    piece = midi_to_time_series(path)
    matrix, _ = time_series_to_pitch_matrix(piece, STEP_TICKS, 0, 128)
    fullest = max(len(voice.notes) for voice in piece.voices)
    tracks = [voice for voice in piece.voices if len(voice.notes) >= fullest / 5]
    if len(tracks) < 3:
        return None
    entries = sorted((int(np.flatnonzero(track.any(axis=1))[0]), track[:len(matrix)]) for track in
                     (time_series_to_pitch_matrix(dataclasses.replace(piece, voices=[voice]), STEP_TICKS, 0, 128)[0]
                      for voice in tracks))
    (first, first_track), (second, _) = entries[:2]
    truth = top_line(first_track[first:second])
    voices = min(len(tracks), 4)
    positions, onsets = piece_positions(piece, STEP_TICKS, len(matrix)), onset_matrix(piece, STEP_TICKS, 0, 128)
    result = {'voices': voices, 'subject_steps': len(truth), 'found_steps': None, 'found_voices': None,
              'subject': False, 'voices_right': False, 'key': None, 'key_right': False}
    found = fugue_subject(matrix, positions, onsets, 0)
    if found is None:
        return result
    tonic, key = subject_key(found.pitches, found.onsets, context=found.context)
    found_voices = subject_of(matrix, positions, onsets)[3]
    return result | {'found_steps': len(found.pitches), 'found_voices': found_voices,
                     'subject': np.array_equal(found.pitches, truth), 'voices_right': found_voices == voices,
                     'key': f'{key[0]} {key[1]}', 'key_right': (tonic, key[1]) == true_key(bwv)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--voices-data', default='../shared/data/bach_keyboard_voices',
                        help='bach_keyboard_voices folder with its manifest.tsv (default: %(default)s)')
    parser.add_argument('--verbose', action='store_true', help='one line per fugue read wrong')
    args = parser.parse_args()
    folder = pathlib.Path(args.voices_data)
    with open(folder / 'manifest.tsv', newline='') as handle:
        rows = [row for row in csv.DictReader(handle, delimiter='\t')
                if row['kind'] == 'fugue' and not LEFT_OUT.search(row['notes'])]
    results = {row['file']: measure(folder / row['file'], int(row['bwv'])) for row in rows}
    results = {name: result for name, result in results.items() if result is not None}
    for name, result in results.items():
        if args.verbose and not (result['subject'] and result['voices_right'] and result['key_right']):
            print(f'{name}: {result}')
    n = len(results)
    for what in ('subject', 'voices_right', 'key_right'):
        right = sum(bool(result[what]) for result in results.values())
        print(f'{what.replace("_right", ""):8s} right in {right:2d} of {n} fugues ({right / n:.0%})')
    found = sum(result['found_steps'] is not None for result in results.values())
    print(f'a subject found in {found} of {n}')


if __name__ == '__main__':
    main()
