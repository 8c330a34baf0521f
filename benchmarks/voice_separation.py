"""Voice separation against Bach's own voices (issue 30): the share of notes given the right voice.

Each file of ``--voices-data`` (``bach_keyboard_voices``: track 0 the conductor, tracks 1..n one voice each,
highest first) whose manifest row has ``n_voices == max_simultaneous_voices`` (every track a continuous voice;
the fragmented files are listed as left out) is merged into one list of notes, as a keyboard MIDI holds it, and
separated by

* the baseline :func:`bach2.music.voice_separation.voices_by_height`, given the true number of voices;
* :func:`bach2.music.voice_separation.separate_voices` given the true number of voices;
* the same with the number estimated (:func:`bach2.music.voice_separation.estimate_n_voices`).

A note is right when its predicted voice is its true track (both highest first); a note is (onset, pitch,
duration, voice), so two voices sounding the same note are matched one to one. Per piece and overall
(note-weighted, and the mean over pieces); also the files without small fragment tracks (the manifest's
"small tracks", whose tiny top or bottom voice no separation can find), and the notes that the separation had
to begin in a voice still sounding (:func:`bach2.music.voice_separation.overlaps`).

    python benchmarks/voice_separation.py [--voices-data ../shared/data/bach_keyboard_voices] [--out FILE.md]
"""
import argparse
import collections
import csv
import pathlib
import time

import numpy as np
from tqdm import tqdm

from bach2.midi_to_time_series import midi_to_time_series
from bach2.music.voice_separation import estimate_n_voices, overlaps, separate_voices, voices_by_height
from bach2.safe_io import atomic_path

METHODS = ('baseline', 'separation', 'estimated')


def true_voices(path):
    """A voice-separated MIDI → (ticks per quarter, [(onset, pitch, duration, voice)], voice 0 the highest)."""
    piece = midi_to_time_series(path)
    tracks = sorted({voice.track for voice in piece.voices})
    return piece.resolution, [(*note, tracks.index(voice.track)) for voice in piece.voices for note in voice.notes]


def right_notes(truth, voices):
    """True (onset, pitch, duration, voice) notes and a separation → how many notes it gives their voice."""
    found = collections.Counter((*note, index) for index, voice in enumerate(voices) for note in voice)
    return sum((collections.Counter(truth) & found).values())


def measure(path, n_voices):
    """One file → its notes, right notes per method, the estimated voice count, overlaps and ms per separation."""
    resolution, truth = true_voices(path)
    notes = [note[:3] for note in truth]
    started = time.perf_counter()
    separated = separate_voices(notes, n_voices, resolution)
    milliseconds = 1000 * (time.perf_counter() - started)
    estimated = estimate_n_voices(notes)
    found = {'baseline': voices_by_height(notes, n_voices), 'separation': separated,
             'estimated': separate_voices(notes, estimated, resolution)}
    return {'notes': len(truth), 'estimated_voices': estimated, 'overlaps': overlaps(separated),
            'ms': milliseconds, **{method: right_notes(truth, voices) for method, voices in found.items()}}


def summary(results, label):
    """Results of some files → one markdown table row per method share, note-weighted and mean over files."""
    notes = sum(result['notes'] for result in results)
    cells = [f'{sum(r[m] for r in results) / notes:.4f} / {np.mean([r[m] / r["notes"] for r in results]):.4f}'
             for m in METHODS]
    return f'| {label} | {len(results)} | {notes} | ' + ' | '.join(cells) + ' |'


def report(results, left_out, seconds):
    """Per-file results → the markdown report."""
    lines = ['| file | voices | notes | baseline | separation | estimated voices | separation, estimated '
             '| overlaps | ms |', '|' + ' --- |' * 9]
    for name, r in results.items():
        lines.append(f'| {name} | {r["voices"]} | {r["notes"]} | ' + ' | '.join(
            f'{r[m] / r["notes"]:.3f}' for m in METHODS[:2]) + f' | {r["estimated_voices"]} | '
            f'{r["estimated"] / r["notes"]:.3f} | {r["overlaps"]} | {r["ms"]:.0f} |')
    rows = list(results.values())
    lines += ['', '| files (share of notes right: note-weighted / mean over files) | files | notes | baseline '
              '| separation | separation, estimated voices |', '|' + ' --- |' * 6, summary(rows, 'all')]
    lines += [summary([r for r in rows if not r['fragments']], 'without small fragment tracks')]
    lines += [summary([r for r in rows if r['voices'] == n], f'{n} voices')
              for n in sorted({r['voices'] for r in rows})]
    right = sum(r['estimated_voices'] == r['voices'] for r in rows)
    lines += ['', f'voice count estimated right in {right} of {len(rows)} files; '
              f'{sum(r["overlaps"] for r in rows)} notes begun in a voice still sounding; '
              f'separation {sum(r["ms"] for r in rows) / 1000:.1f} s in all ({seconds:.0f} s for the benchmark)', '',
              f'left out ({len(left_out)}):'] + [f'* {name}: {reason}' for name, reason in left_out]
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--voices-data', default='../shared/data/bach_keyboard_voices',
                        help='bach_keyboard_voices folder with its manifest.tsv (default: %(default)s)')
    parser.add_argument('--out', help='also write the markdown report to this file')
    args = parser.parse_args()
    started, folder = time.time(), pathlib.Path(args.voices_data)
    with open(folder / 'manifest.tsv', newline='') as handle:
        rows = list(csv.DictReader(handle, delimiter='\t'))
    clean = [row for row in rows if row['n_voices'] == row['max_simultaneous_voices']]
    left_out = [(row['file'], f'fragmented: {row["n_voices"]} tracks but at most {row["max_simultaneous_voices"]} '
                              'sound together') for row in rows if row not in clean]
    results = {row['file']: {'voices': int(row['n_voices']), 'fragments': 'small tracks' in row['notes'],
                             **measure(folder / row['file'], int(row['n_voices']))}
               for row in tqdm(clean, desc='voice separation')}
    text = report(results, left_out, time.time() - started)
    print(text)
    if args.out:
        with atomic_path(args.out) as temporary:
            pathlib.Path(temporary).write_text(text + '\n')


if __name__ == '__main__':
    main()
