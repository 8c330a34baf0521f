"""Benchmark: the shared Bach corpus → pitch matrices in all 12 transpositions.

Ours (mido + our note pairing + a vectorised roll, 1 process and all cores)
against pretty_midi (``PrettyMIDI`` + ``get_piano_roll`` at a 16th-note frame
rate, then the same 12 window slices) on the same files in the same run.
Prints files/s, notes/s, the ratio, and the size of one per-transposition pickle
(the journal's were 130 MB each).

    python benchmarks/bench_preprocess.py [--data ../shared/data/bach_keyboard] [--repeat 3]
"""
import argparse
import os
import pathlib
import sys
import tempfile
import time
import warnings


from bach2.data.prepare import PrepareConfig, find_midi_files, read_corpus, write_pitch_matrices
from bach2.time_series_to_pitch_matrix import (LOWEST_PITCH, N_PITCHES, full_roll, shift_semitones, ticks_per_step,
                                               window)

DEFAULT_DATA = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'bach_keyboard'


def ours(files, processes):
    """→ (seconds, notes, 12 matrices per piece)."""
    start = time.perf_counter()
    pieces, failures, _ = read_corpus(files, PrepareConfig(), processes=processes, progress=False)
    assert not failures, failures
    matrices = []
    for piece in pieces:
        roll = full_roll(piece, ticks_per_step(piece.resolution))
        matrices.append([window(roll, LOWEST_PITCH, N_PITCHES, shift_semitones(k)) for k in range(12)])
    return time.perf_counter() - start, sum(p.n_notes for p in pieces), matrices


def reference_pretty_midi(files):
    """pretty_midi: load, one piano roll at 4 frames per quarter note, the same 12 windows."""
    import pretty_midi
    start = time.perf_counter()
    notes, matrices = 0, []
    for path in files:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            midi = pretty_midi.PrettyMIDI(str(path))
        _, tempi = midi.get_tempo_changes()
        frames_per_second = 4 * tempi[0] / 60 if len(tempi) else 8.0
        roll = midi.get_piano_roll(fs=frames_per_second).T > 0          # T × 128
        notes += sum(len(instrument.notes) for instrument in midi.instruments)
        matrices.append([window(roll, LOWEST_PITCH, N_PITCHES, shift_semitones(k)) for k in range(12)])
    return time.perf_counter() - start, notes, matrices


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default=str(DEFAULT_DATA), help='folder of MIDI files (default: %(default)s)')
    parser.add_argument('--repeat', type=int, default=3, help='runs of each; the best is reported')
    args = parser.parse_args()
    if not pathlib.Path(args.data).is_dir():
        sys.exit(f'bench_preprocess: {args.data}: no such folder (the shared corpus is in ../shared/data)')
    files = find_midi_files(args.data)
    cores = os.cpu_count() or 1
    runs = {'pretty_midi (reference)': lambda: reference_pretty_midi(files),
            'bach2, 1 process': lambda: ours(files, 1),
            f'bach2, {cores} processes': lambda: ours(files, cores)}
    results = {}
    for name, run in runs.items():
        best = min((run() for _ in range(args.repeat)), key=lambda result: result[0])
        results[name] = best
    reference_seconds = results['pretty_midi (reference)'][0]
    print(f'{len(files)} files → pitch matrices in 12 transpositions (best of {args.repeat})')
    print(f'{"":28s} {"seconds":>8s} {"files/s":>8s} {"notes/s":>10s} {"speed-up":>9s}')
    for name, (seconds, notes, _) in results.items():
        print(f'{name:28s} {seconds:8.2f} {len(files) / seconds:8.1f} {notes / seconds:10.0f} '
              f'{reference_seconds / seconds:8.2f}x')
    with tempfile.TemporaryDirectory() as out:
        pieces, _, _ = read_corpus(files, PrepareConfig(), progress=False)
        config = PrepareConfig()
        path, _ = write_pitch_matrices(pieces, out, config, keys=[('C', 'major')] * len(pieces),
                                       progress=False)['sh0']
        steps = sum(m.shape[0] for m in read_matrices(path))
        print(f'one per-transposition pickle ({path.name}): {os.path.getsize(path) / 1e6:.1f} MB '
              f'for {len(pieces)} pieces, {steps} steps × {config.n_pitches} pitches, uint8 '
              f'(the journal\'s: 130 MB each)')


def read_matrices(path):
    from bach2.safe_io import load_pickle
    return load_pickle(path)['pitch_matrices']


if __name__ == '__main__':
    main()
