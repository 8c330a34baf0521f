"""Benchmark: memory of the X, Y training windows of a whole prepared corpus in 12 transpositions.

Loads the pitch matrices of every piece in sh0 … sh11 (their size is the
reference), then builds the windows with ``make_X_Y`` and one batch with
``make_batch``, measuring the peak of new allocations with tracemalloc (NumPy
reports its buffers to it). Target: windows within 2× the pitch matrices; a
copied ``windows × SEQUENCE_LENGTH × P`` array is printed for comparison.

    bach2 prepare --data ../shared/data/bach_keyboard --out /tmp/kb
    python benchmarks/bench_windows_memory.py --data /tmp/kb
"""
import argparse
import tracemalloc

from bach2.data.training_set import load_training_set, piece_names
from bach2.data.training_windows import iterate_batches, make_batch, make_X_Y


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True, help='folder written by bach2 prepare')
    parser.add_argument('--sequence-length', type=int, default=64)
    parser.add_argument('--batch-size', type=int, default=64)
    args = parser.parse_args()
    names = piece_names(args.data)
    data = load_training_set(args.data, range(len(names)))
    matrices_bytes = data.inputs.nbytes
    tracemalloc.start()
    X, Y, starts = make_X_Y(data.inputs, data.piece_starts, args.sequence_length)
    batch_starts, _ = iterate_batches(starts, args.batch_size, seed=0, epoch=0)[0]
    make_batch(X, Y, batch_starts)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    copied = len(starts) * args.sequence_length * data.inputs.shape[1]
    print(f'{len(names)} pieces × 12 transpositions: {data.n_steps} steps, pitch matrices {matrices_bytes / 1e6:.1f} MB')
    print(f'windows ({len(starts)} of {args.sequence_length} steps) + one batch: peak {peak / 1e6:.1f} MB '
          f'= {peak / matrices_bytes:.2f}× the pitch matrices (target ≤ 2×); '
          f'a copied X would take {copied / 1e6:.0f} MB = {copied / matrices_bytes:.0f}×')


if __name__ == '__main__':
    main()
