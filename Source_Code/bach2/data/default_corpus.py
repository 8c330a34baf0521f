"""The built-in corpora: Bach's keyboard works (the default) and music21's Bach chorales.

* :data:`KEYBOARD`: 132 MIDI files of fugues, preludes, inventions and sinfonias
  shipped in ``training_data/bach_keyboard/`` with their manifest and licences
  (public domain or CC BY-SA, see its ``LICENSE.md``); :func:`keyboard_corpus`.
* :data:`KEYBOARD_VOICES`: the same 132 pieces compiled with one MIDI track per
  voice (``training_data/bach_keyboard_voices/``, same names, its own manifest);
  `bach2 voices prepare` reads it.
* music21's Bach (≈ 410 chorales and BWV 846): music21 ships MusicXML / Humdrum
  scores offline; :func:`fill_default_corpus` converts each to
  ``<folder>/music21_bach/<name>.mid`` once (about 0.14 s a piece), writing every
  file atomically so an interrupted run leaves only whole files.
"""
import multiprocessing
import os
import pathlib
import warnings

from tqdm import tqdm

from bach2.common import CorpusError
from bach2.safe_io import atomic_path

KEYBOARD = pathlib.Path(__file__).resolve().parents[3] / 'training_data' / 'bach_keyboard'
KEYBOARD_VOICES = KEYBOARD.with_name('bach_keyboard_voices')
SUBFOLDER = 'music21_bach'
SCORE_SUFFIXES = ('.mxl', '.xml', '.musicxml', '.krn')   # scores; music21's .rntxt are analyses


def default_corpus_scores():
    """Paths of music21's Bach scores (not its Roman-numeral analyses), one per name, sorted.

    Where a piece exists in two formats (``bwv277.mxl`` and ``bwv277.krn``), the
    earlier suffix of :data:`SCORE_SUFFIXES` wins.
    """
    from music21 import corpus
    scores = {}
    for path in sorted(map(pathlib.Path, corpus.getComposer('bach')),
                       key=lambda p: SCORE_SUFFIXES.index(p.suffix) if p.suffix in SCORE_SUFFIXES else -1):
        if path.suffix in SCORE_SUFFIXES:
            scores.setdefault(path.stem, path)
    return [scores[stem] for stem in sorted(scores)]


def midi_name(score_path):
    """music21 corpus path → MIDI file name: '.../bach/bwv10.7.mxl' → 'bwv10.7.mid'."""
    return pathlib.Path(score_path).stem + '.mid'


def pickup_signature(quarters):
    """A pickup's length in quarter notes → its time signature: 1.0 → '1/4', 1.5 → '3/8', 0.75 → '3/16'."""
    denominator = 4
    while abs(quarters * denominator / 4 - round(quarters * denominator / 4)) > 1e-6 and denominator < 64:
        denominator *= 2
    return f'{round(quarters * denominator / 4)}/{denominator}'


def mark_pickup(score):
    """Give a pickup bar its own time signature, the full one on the bar after it.

    music21 writes a pickup as if it began a full bar (a 1-beat pickup in 4/4 puts
    beat 4 at tick 0), so the bar lines of the MIDI file would fall one beat off;
    a short signature first is how MIDI marks a pickup (see :mod:`bach2.music.metre`).
    """
    from music21 import meter
    for part in score.parts:
        measures = list(part.getElementsByClass('Measure'))
        if len(measures) < 2:
            continue
        first, second = measures[0], measures[1]
        signature = first.timeSignature or first.getContextByClass(meter.TimeSignature)
        if signature is None or not 0 < first.duration.quarterLength < signature.barDuration.quarterLength:
            continue
        if second.timeSignature is None:
            second.timeSignature = meter.TimeSignature(signature.ratioString)
        first.timeSignature = meter.TimeSignature(pickup_signature(first.duration.quarterLength))


def convert_score(score_path, midi_path):
    """Parse one music21 score and write it as MIDI at ``midi_path`` (atomic), its pickup marked."""
    from music21 import converter
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        score = converter.parse(score_path)
        mark_pickup(score)
        with atomic_path(midi_path) as temporary:
            score.write('midi', fp=temporary)
    return midi_path


def _convert(job):
    """Worker: (score, midi path) → (midi path, None) or (midi path, one-line reason it failed)."""
    try:
        return convert_score(*job), None
    except Exception as error:  # music21 raises many types; one bad score must not stop the corpus
        return job[1], f'{pathlib.Path(job[0]).name}: {type(error).__name__}: {error}'


def keyboard_corpus():
    """The folder of the built-in keyboard corpus; CorpusError when this copy of Bach2.0 lacks it."""
    if not (KEYBOARD / 'manifest.tsv').is_file():
        raise CorpusError(f'{KEYBOARD}: the built-in corpus is missing from this installation; '
                          'give a MIDI folder with --data')
    return KEYBOARD


def fill_default_corpus(folder, limit=None, processes=None, progress=True):
    """Convert music21's Bach into ``folder/music21_bach/``, skipping files already there.

    Returns (MIDI paths now present, [one-line reason per score music21 could not convert]).
    """
    target = pathlib.Path(folder) / SUBFOLDER
    scores = default_corpus_scores()[:limit]
    jobs = [(str(score), str(target / midi_name(score))) for score in scores
            if not (target / midi_name(score)).exists()]
    failures = []
    if jobs:
        target.mkdir(parents=True, exist_ok=True)
        processes = processes or min(len(jobs), os.cpu_count() or 1)
        bar = tqdm(total=len(jobs), desc='music21 Bach → MIDI', unit='piece', disable=not progress)
        with multiprocessing.Pool(processes) as pool:
            for _, failure in pool.imap_unordered(_convert, jobs, chunksize=4):
                failures.append(failure)
                bar.update()
        bar.close()
    present = [target / midi_name(score) for score in scores if (target / midi_name(score)).exists()]
    return present, [failure for failure in failures if failure]
