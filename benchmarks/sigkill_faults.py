"""Kill ``bach2 train``, ``prepare`` and ``generate`` with SIGKILL at random moments; nothing may be half-written.

Everything runs for real: a tiny corpus of random MIDI pieces written here, a
tiny model (1 layer of 8 units, L = 8), real ``python -m bach2.app.cli`` processes.

* train: a chain of runs in one checkpoint folder (``--chains`` of them side
  by side, in folders of their own). Each run is killed
  either at a random moment before its first epoch line (compiling, loading,
  writing the first checkpoint) or a random 0–0.6 s after it (epochs of two
  batches write the checkpoint ``.npz`` and ``.p``, the CSV log and the curve
  PNG about ten times a second). After every kill the checkpoint must load,
  never be older than before the run, and the next run uses ``--resume``
  (a fresh start while there is none): its first line must be the epoch after
  the checkpoint's. At the end one resumed run completes.
* prepare (24 pieces of 16 bars → 50 files): runs killed a random moment into
  their usual run time; generate (``--count 1000`` pieces of 16 steps): runs
  killed before or while writing pieces.

After every kill every file in the output folders must be whole — ``.npz``
loads, ``.p`` loads through the restricted unpickler, ``.mid`` parses, ``.png``
decodes, ``.csv`` and ``.json`` read — or absent. A killed writer leaves its
temporary file ``.<name>.bach2-<pid>-<random>.tmp`` behind; the next run's
first write into that folder must remove it (its process has ended), and no
reader may take it for data.

    python benchmarks/sigkill_faults.py [--train-kills 30] [--prepare-kills 30] [--generate-kills 10] [--chains 2] [--seed 0]

Prints the counts; exit status 1 if any check failed. ``tests/test_sigkill_faults.py`` runs it smaller.
"""
import argparse
import csv
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

import mido
import numpy as np
from tqdm import tqdm

from bach2.midi_to_time_series import MidiFileError, midi_to_time_series
from bach2.models.checkpoints import load_rnn_checkpoint
from bach2.render.training_curves import LOG_COLUMNS
from bach2.safe_io import TEMPORARY_NAME, UnsafePickleError, load_pickle

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = ['--layers', '1', '--hidden', '8', '--sequence-length', '8', '--batch-size', '4', '--transpositions', '0,1',
        '--valid-fraction', '0.3', '--max-batches', '2', '--max-valid-frames', '8']
CHECKPOINT = 'lstm_polyphonic_N8_1layers.npz'
LATE_KILL_SECONDS = 0.6      # train and generate: a kill lands up to this long after the first line
WATCHDOG_SECONDS = 300       # a run that hangs this long is killed and counted as a failure


# ------------------------------------------------------------------------------------------ inputs

def write_corpus(folder, n_pieces=8, bars=4, seed=0):
    """``bwv<i>_x.mid``: ``bars`` 4/4 bars of two voices of random 8th/quarter notes, 96 ticks per quarter."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(1, n_pieces + 1):
        midi = mido.MidiFile(type=1, ticks_per_beat=96)
        for channel, low in enumerate((60, 48)):
            track, tick = mido.MidiTrack(), 0
            while tick < bars * 384:
                pitch, length = int(rng.integers(low, low + 16)), int(rng.choice([48, 96]))
                track += [mido.Message('note_on', note=pitch, velocity=64, channel=channel, time=0),
                          mido.Message('note_off', note=pitch, velocity=0, channel=channel, time=length)]
                tick += length
            midi.tracks.append(track)
        midi.save(folder / f'bwv{i}_x.mid')
    return folder


def environment(cache):
    """The subprocess environment: this checkout's package first, unbuffered output, JAX's compilation cache."""
    return {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT / 'Source_Code'), os.environ.get('PYTHONPATH', '')]),
            'PYTHONUNBUFFERED': '1', 'JAX_COMPILATION_CACHE_DIR': str(cache),
            'JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS': '0', 'JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES': '0'}


# ------------------------------------------------------------------------------------------ checks

def whole_file_problem(path):
    """None if ``path`` is a whole file of its kind, else one line saying what is wrong."""
    suffix = path.suffix
    try:
        if suffix == '.npz':
            with np.load(path, allow_pickle=False) as arrays:
                [arrays[name] for name in arrays.files]
        elif suffix == '.p':
            load_pickle(path)
        elif suffix in ('.mid', '.midi'):
            midi_to_time_series(path)
        elif suffix == '.png':
            import matplotlib.image
            matplotlib.image.imread(path)
        elif suffix == '.csv':
            with open(path, newline='') as handle:
                if next(csv.reader(handle)) != list(LOG_COLUMNS):
                    return f'{path}: CSV header is not {LOG_COLUMNS}'
        elif suffix == '.json':
            with open(path) as handle:
                json.load(handle)
        else:
            return f'{path}: unexpected file'
    except Exception as error:          # whatever the reader raises: the file is not whole
        if not isinstance(error, (OSError, ValueError, KeyError, EOFError, StopIteration, MidiFileError,
                                  UnsafePickleError)):
            raise
        return f'{path}: not whole ({type(error).__name__}: {str(error)[:80]})'
    return None


def inspect_folder(folder):
    """→ (number of whole files, names of temporary files, problems)."""
    whole, temporaries, problems = 0, [], []
    for path in sorted(pathlib.Path(folder).glob('*')) if pathlib.Path(folder).is_dir() else []:
        if TEMPORARY_NAME.match(path.name):
            temporaries.append(path.name)
            continue
        problem = whole_file_problem(path)
        if problem:
            problems.append(problem)
        else:
            whole += 1
    return whole, temporaries, problems


class Counts(dict):
    """Counters by name, plus the list of problems found."""

    def __init__(self):
        super().__init__(kills=0, finished_before_kill=0, kills_after_writing_began=0, files_checked=0,
                         stale_temporaries=0, stale_temporaries_removed=0)
        self.problems = []

    def add(self, name, n=1):
        self[name] = self.get(name, 0) + n


def count_run(counts, killed, status, command):
    """A run killed, or one that ended by itself (a problem unless it succeeded)."""
    counts.add('kills' if killed else 'finished_before_kill')
    if not killed and status != 0:
        counts.problems.append(f'bach2 {command} ended with status {status} before the kill')


def snapshot(folder):
    """{name: modification time in ns} of the files in ``folder``."""
    return {path.name: path.stat().st_mtime_ns for path in pathlib.Path(folder).glob('*')}


def check_after_kill(counts, folders, stale, before=None):
    """Check every file of ``folders``; remember the temporaries left (``stale``: {folder: names}).

    ``before``: :func:`snapshot` of the (single) folder before the run; a changed one counts as a kill while writing.
    """
    if before is not None and snapshot(folders[0]) != before:
        counts.add('kills_after_writing_began')
    for folder in folders:
        whole, temporaries, problems = inspect_folder(folder)
        counts.add('files_checked', whole + len(problems))
        counts.problems += problems
        counts.add('stale_temporaries', len(set(temporaries) - stale.get(folder, set())))
        stale[folder] = stale.get(folder, set()) | set(temporaries)


def check_cleaned(counts, folders, stale):
    """After a run that wrote into ``folders``: the temporaries seen before are gone."""
    for folder in folders:
        left = set(inspect_folder(folder)[1])
        counts.add('stale_temporaries_removed', len(stale.get(folder, set()) - left))
        stale[folder] = stale.get(folder, set()) & left


# ------------------------------------------------------------------------------------------ one run

class Run:
    """``python -m bach2.app.cli args`` in its own process group; lines of stdout are collected by a thread."""

    def __init__(self, args, env, log):
        self.started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, '-m', 'bach2.app.cli', *map(str, args)], env=env,
                                        stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
        self.lines, self.first_line = [], threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.watchdog = threading.Timer(WATCHDOG_SECONDS, self.kill)
        self.watchdog.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip('\n'))
            self.first_line.set()
        self.first_line.set()

    def kill(self):
        """SIGKILL to the whole group (prepare's worker processes too) → True if it was still running."""
        running = self.process.poll() is None
        if running:
            os.killpg(self.process.pid, signal.SIGKILL)
        return running

    def wait(self):
        status = self.process.wait()
        self.watchdog.cancel()
        self.reader.join()
        return status


def kill_at_random(run, rng, early_seconds, late=True):
    """Kill ``run`` at a random moment: before ``early_seconds`` or up to LATE_KILL_SECONDS after its first line.

    → (killed, seconds from start to the first line or None).
    """
    if not late or rng.random() < 0.25:
        time.sleep(rng.uniform(0, early_seconds))
        return run.kill(), None
    run.first_line.wait()
    seen = time.perf_counter() - run.started if run.lines else None
    time.sleep(rng.uniform(0, LATE_KILL_SECONDS))
    return run.kill(), seen


# ------------------------------------------------------------------------------------------ campaigns

def train_chain(work, out, kills, rng, env, bar):
    """``kills`` runs of ``bach2 train`` into ``out``, each killed, each resuming the last; then one completes."""
    log = open(out.parent / f'{out.name}_stderr.txt', 'w')
    counts, stale, first_line_seconds = Counts(), {}, 8.0
    counts.update(resumed_runs=0, resumes_continued=0, fresh_starts=0, kills_before_first_checkpoint=0)
    path = out / CHECKPOINT
    for _ in range(kills):
        before = load_rnn_checkpoint(path)[2]['epoch'] if path.exists() else None
        resume = ['--resume'] if before is not None else []
        counts.add('resumed_runs' if resume else 'fresh_starts')
        files = snapshot(out)
        run = Run(['train', '--data', work / 'data', '--out', out, *TINY, '--epochs', '100000', *resume], env, log)
        killed, seen = kill_at_random(run, rng, first_line_seconds)
        count_run(counts, killed, run.wait(), 'train')
        bar.update()
        if seen:
            first_line_seconds = max(first_line_seconds * 0.5, seen)
            check_cleaned(counts, [out], stale)          # it wrote a checkpoint: old temporaries are gone
            expected = f'epoch {(before or 0) + 1}: train NLL/frame'
            if not run.lines[0].startswith(expected):
                counts.problems.append(f'{out.name}: first line {run.lines[0]!r}, expected {expected!r}')
            elif resume:
                counts.add('resumes_continued')
        check_after_kill(counts, [out], stale, files)
        if not path.exists():
            counts.add('kills_before_first_checkpoint')
            continue
        _, _, meta = load_rnn_checkpoint(path)           # whole: checked above
        if before is not None and meta['epoch'] < before:
            counts.problems.append(f'{path}: went back from epoch {before} to {meta["epoch"]}')
        if [row['epoch'] for row in meta['history']] != list(range(meta['epoch'])) or meta['batch'] != 0:
            counts.problems.append(f'{path}: history does not match its epoch {meta["epoch"]}')
    # the last run continues to two epochs past the checkpoint and completes
    before = load_rnn_checkpoint(path)[2]['epoch'] if path.exists() else 0
    final = Run(['train', '--data', work / 'data', '--out', out, *TINY, '--epochs', before + 2,
                 *(['--resume'] if path.exists() else [])], env, log)
    status = final.wait()
    check_cleaned(counts, [out], stale)
    _, temporaries, problems = inspect_folder(out)
    counts.problems += problems + [f'left after the final run: {name}' for name in temporaries]
    _, _, meta = load_rnn_checkpoint(path)
    completed = status == 0 and meta['epoch'] == before + 2 and final.lines[0].startswith(f'epoch {before + 1}:')
    counts['final_runs_completed'] = int(completed)
    if not completed:
        counts.problems.append(f'{out.name}: final resumed run: exit {status}, checkpoint epoch {meta["epoch"]}, '
                               f'expected {before + 2}; see {log.name}')
    log.close()
    return counts


def train_campaign(work, kills, rng, env, progress=True, chains=1):
    """``chains`` chains of killed ``bach2 train`` runs side by side (``work/checkpoints_<c>``) → summed Counts."""
    from concurrent.futures import ThreadPoolExecutor
    shares = [kills // chains + (c < kills % chains) for c in range(chains)]
    with tqdm(total=kills, desc='SIGKILL bach2 train', unit='kill', disable=not progress) as bar, \
            ThreadPoolExecutor(chains) as pool:
        results = list(pool.map(lambda c: train_chain(work, work / f'checkpoints_{c}', shares[c],
                                                      random.Random(rng.random()), env, bar), range(chains)))
    total = Counts()
    for counts in results:
        for name, value in counts.items():
            total.add(name, value)
        total.problems += counts.problems
    return total


def prepare_campaign(work, kills, rng, env, progress=True):
    """``bach2 prepare`` killed a random moment into its run time (measured once uninterrupted)."""
    out, log = work / 'prepared', open(work / 'prepare_stderr.txt', 'w')
    args = ['prepare', '--data', write_corpus(work / 'midi_prepare', n_pieces=24, bars=16), '--out', out, '--jobs', '1']
    counts, stale = Counts(), {}
    started = time.perf_counter()
    if Run(args, env, log).wait() != 0:
        counts.problems.append(f'uninterrupted bach2 prepare failed; see {log.name}')
    seconds = time.perf_counter() - started
    for _ in tqdm(range(kills), desc='SIGKILL bach2 prepare', unit='kill', disable=not progress):
        files = snapshot(out)
        run = Run(args, env, log)
        killed, _ = kill_at_random(run, rng, seconds * 1.05, late=False)
        count_run(counts, killed, run.wait(), 'prepare')
        check_after_kill(counts, [out], stale, files)
    if Run(args, env, log).wait() != 0:
        counts.problems.append(f'bach2 prepare after the kills failed; see {log.name}')
    check_cleaned(counts, [out], stale)
    counts.problems += [f'left after the last run: {name}' for name in inspect_folder(out)[1]]
    log.close()
    return counts


def generate_campaign(work, kills, rng, env, progress=True):
    """``bach2 generate --count 1000`` (16 steps each) killed while it writes pieces."""
    out, log = work / 'fugues', open(work / 'generate_stderr.txt', 'w')
    args = ['generate', work / 'checkpoints_0' / CHECKPOINT, '--data', work / 'data', '--out', out, '--steps', '16',
            '--context', 'carry', '--count', '1000']
    counts, stale = Counts(), {}
    for k in tqdm(range(kills), desc='SIGKILL bach2 generate', unit='kill', disable=not progress):
        files = snapshot(out)
        run = Run([*args, '--seed', 1000 * k], env, log)
        killed, seen = kill_at_random(run, rng, 8.0)
        count_run(counts, killed, run.wait(), 'generate')
        if seen:
            check_cleaned(counts, [out], stale)
        check_after_kill(counts, [out], stale, files)
    log.close()
    return counts


def run_all(work, train_kills, prepare_kills, generate_kills, seed=0, progress=True, chains=1):
    """Build the corpus and prepared data in ``work``, run the three campaigns → {command: Counts}."""
    from bach2.data.prepare import prepare_training_data
    rng = random.Random(seed)
    env = environment(work / 'jax_cache')
    write_corpus(work / 'midi', seed=seed)
    prepare_training_data(work / 'midi', work / 'data', progress=False, processes=1)
    campaigns = {'train': lambda: train_campaign(work, train_kills, rng, env, progress, chains),
                 'prepare': lambda: prepare_campaign(work, prepare_kills, rng, env, progress),
                 'generate': lambda: generate_campaign(work, generate_kills, rng, env, progress)}
    results = {}
    for command, campaign in campaigns.items():          # in this order: generate uses train's checkpoint
        started = time.perf_counter()
        results[command] = campaign()
        results[command]['seconds'] = round(time.perf_counter() - started)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--train-kills', type=int, default=30)
    parser.add_argument('--prepare-kills', type=int, default=30)
    parser.add_argument('--generate-kills', type=int, default=10)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--chains', type=int, default=2, help='train chains run side by side (default: 2)')
    parser.add_argument('--work', help='folder for the corpus and outputs (default: a temporary one, removed)')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='sigkill_') as temporary:
        work = pathlib.Path(args.work or temporary)
        work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        results = run_all(work, args.train_kills, args.prepare_kills, args.generate_kills, args.seed,
                          chains=args.chains)
        failed = False
        for command, counts in results.items():
            print(f'bach2 {command}: ' + ', '.join(f'{name.replace("_", " ")} {value}' for name, value in counts.items())
                  + f', problems {len(counts.problems)}')
            for problem in counts.problems:
                print(f'  {problem}')
            failed |= bool(counts.problems)
        print(f'{time.perf_counter() - started:.0f} s')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
