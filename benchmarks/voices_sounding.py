"""Voices that sound (issue 29): asked for N voices, does each voice sound, and as often as Bach's?

Harmonizations by the shipped models (the soprano given to the 'down' model, the bass to the 'up' one, four
voices, the voices dealt by :func:`bach2.compose.harmonize.separate_voices`), each step drawn until it fills
every voice (``fill``, what ``bach2 harmonize`` does) and, for comparison, with the cap alone (``--no-fill``
compares both):

* the ten tunes of ``benchmarks/tunes/`` (outside the corpus; their top line given as a soprano);
* the sopranos and the basses of the JSB Chorales test set at 16ths (``Jsb16thSeparated.json``, 77 chorales),
  beside Bach's own four voices of the same chorales;
* fugue expositions (:func:`bach2.compose.fugue.exposition_plan`) on the subjects the subject finder reads from
  the fugues of 3 and 4 voices of ``bach_keyboard_voices`` (one track per voice; fragmented files left out), in
  as many voices as the fugue has, beside the real expositions of the same files.

Per voice: the share of the piece's steps in which it sounds; and the quarter note at which every voice
first sounds together. Per exposition: the share of its steps, from the second entry to the end of the last,
in which every voice that has entered sounds (rests are Bach's too: he is the reference, not 1.0). Bach's figure for the JSB data is 1.0 per voice by construction (the data holds four
pitches per 16th); the share of 16ths whose unordered set (``jsb-chorales-16th.json``) has four distinct
pitches is printed beside it (a unison or a rest lowers it).

    python benchmarks/voices_sounding.py --out benchmarks/results/voices_sounding.json [--seeds 2] [--no-fill]
"""
import argparse
import csv
import json
import pathlib
import time

import numpy as np
from tqdm import tqdm

from bach2.compose.fugue import Form, SubjectError, exposition_plan, read_subject, subject_key
from bach2.compose.harmonize import harmonize_plan, read_line, separate_voices, write_with_plan
from bach2.midi_to_time_series import midi_to_time_series
from bach2.compose.lines import Sampling
from bach2.models.checkpoints import SHIPPED_MODELS, load_samplers
from bach2.music.metre import regular_positions
from bach2.safe_io import atomic_path

HERE = pathlib.Path(__file__).parent
JSB = HERE.parent.parent / 'shared' / 'data' / 'jsb_chorales'
VOICES_CORPUS = HERE.parent.parent / 'shared' / 'data' / 'bach_keyboard_voices'
VOICES = ('soprano', 'alto', 'tenor', 'bass')


def sounding(lines, n_pitches, lowest_pitch, steps_per_quarter=4):
    """``n_voices × T`` lines (P = rest) → (share of steps each voice sounds, first quarter where all sound or None,
    mean MIDI pitch of each voice where it sounds, NaN where it never does)."""
    played = lines < n_pitches
    all_sound = np.flatnonzero(played.all(axis=0))
    first = float(all_sound[0] / steps_per_quarter) if len(all_sound) else None
    heights = [lowest_pitch + line[line < n_pitches].mean() if played[k].any() else np.nan
               for k, line in enumerate(lines)]
    return played.mean(axis=1), first, np.array(heights)


def jsb_lines(split='test'):
    """The JSB chorales of ``split`` → [``T × 4`` MIDI pitches at 16ths, soprano first]."""
    chorales = json.loads((JSB / 'Jsb16thSeparated.json').read_text())[split]
    return [np.asarray(chorale, np.int64) for chorale in chorales]


def given_line(pitches, lowest_pitch):
    """``T`` MIDI pitches at 16ths → (``T`` columns, ``T`` onsets: where the pitch changes)."""
    return pitches - lowest_pitch, np.r_[True, pitches[1:] != pitches[:-1]]


def harmonize_line(samplers, line, onsets, positions, voice, n_pitches, seed, fill):
    """One harmonization in four voices → ``4 × T`` lines."""
    plan = harmonize_plan(line, onsets, voice, len(VOICES), n_pitches)
    steps = write_with_plan(samplers, plan, positions, Sampling(seed=seed), fill=fill)
    return separate_voices(steps, plan)[0]


def summary(results):
    """[:func:`sounding`] → {'mean share of steps each voice sounds': {voice: mean}, …}."""
    shares = np.array([share for share, _, _ in results])
    firsts = [first for _, first, _ in results]
    heights = np.nanmean(np.array([height for _, _, height in results]), axis=0)
    return {'mean share of steps each voice sounds': dict(zip(VOICES, np.round(shares.mean(axis=0), 3).tolist())),
            'lowest share of a voice in a piece': dict(zip(VOICES, np.round(shares.min(axis=0), 3).tolist())),
            'pieces with a voice silent over half the piece': round(float((shares < 0.5).any(axis=1).mean()), 3),
            'quarter at which all voices first sound (median)': (float(np.median([f for f in firsts if f is not None]))
                                                                if any(f is not None for f in firsts) else None),
            'pieces where all voices never sound together': sum(f is None for f in firsts),
            'mean MIDI pitch of each voice': dict(zip(VOICES, np.round(heights, 1).tolist())),
            'pieces': len(results)}


def bach_figures():
    """Bach's JSB test chorales: share per voice (1.0 by construction) and of 16ths with four distinct pitches."""
    sets = json.loads((JSB / 'jsb-chorales-16th.json').read_text())['test']
    frames = [len(set(frame)) for chorale in sets for frame in chorale]
    heights = np.mean([chorale.mean(axis=0) for chorale in jsb_lines()], axis=0)
    return {'mean share of steps each voice sounds': dict.fromkeys(VOICES, 1.0),
            'share of 16ths with four distinct pitches': round(float(np.mean(np.array(frames) == 4)), 3),
            'mean MIDI pitch of each voice': dict(zip(VOICES, np.round(heights, 1).tolist()))}


def corpus_fugues():
    """The fugues of 3 or 4 voices of the voices corpus, each track a whole voice → [(path, voices)]."""
    with open(VOICES_CORPUS / 'manifest.tsv', newline='') as manifest:
        rows = list(csv.DictReader(manifest, delimiter='\t'))
    return [(VOICES_CORPUS / row['file'], int(row['n_voices'])) for row in rows
            if row['kind'] == 'fugue' and row['n_voices'] == row['max_simultaneous_voices']
            and row['n_voices'] in ('3', '4') and 'PRELUDE' not in row['notes'] and 'Fantasy' not in row['notes']]


def bach_exposition(path, steps_per_quarter=4):
    """Share of the steps of a real exposition (one track per voice), from the second entry to the end of
    the last (its start plus the distance between the first two), in which every entered voice sounds."""
    piece = midi_to_time_series(path)
    step = piece.resolution // steps_per_quarter
    voices = [voice.notes for voice in piece.voices if voice.notes]
    starts = np.array([notes[0][0] // step for notes in voices])
    order = np.sort(starts)
    span = np.arange(order[1], order[-1] + order[1] - order[0])
    sounds = np.zeros((len(voices), span[-1] + 1), bool)
    for k, notes in enumerate(voices):
        for start, _, duration in notes:
            sounds[k, start // step:max(start // step + 1, (start + duration) // step)] = True
    entered = starts[:, None] <= span[None, :]
    return float((sounds[:, span] | ~entered).all(axis=0).mean())


def written_exposition(samplers, geometry, path, voices, seed, fill):
    """The same share in an exposition written on the subject found in ``path``; None where none is found."""
    try:
        subject = read_subject(str(path), geometry)
        tonic, _ = subject_key(subject.pitches, subject.onsets, '', subject.context)
        plan, positions, entries = exposition_plan(subject, tonic, geometry, Form(voices=voices, free_bars=0))
    except SubjectError:
        return None
    lines, _ = separate_voices(write_with_plan(samplers, plan, positions, Sampling(seed=seed), fill=fill), plan)
    span = slice(entries[1].start, entries[-1].start + len(subject.pitches))
    return float(((lines[:, span] < geometry.n_pitches) | ~plan.active[span].T).all(axis=0).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', required=True, help='JSON results')
    parser.add_argument('--seeds', type=int, default=2, help='harmonizations per line (default: %(default)s)')
    parser.add_argument('--chorales', type=int, default=77, help='JSB test chorales used (default: all 77)')
    parser.add_argument('--no-fill', action='store_true', help='also measure the cap alone (the behaviour before)')
    args = parser.parse_args()
    samplers, geometry = load_samplers({'down': SHIPPED_MODELS['down'], 'up': SHIPPED_MODELS['up']})
    n_pitches, lowest = geometry.n_pitches, geometry.lowest_pitch
    jobs = [('tunes', path.stem, 'soprano', *read_line(path, 'top', n_pitches, lowest))
            for path in sorted((HERE / 'tunes').glob('*.mid'))]
    if JSB.exists():
        for k, chorale in enumerate(jsb_lines()[:args.chorales]):
            positions = regular_positions(len(chorale), 16)
            for column, voice in ((0, 'soprano'), (3, 'bass')):
                jobs.append((f'jsb_{voice}', f'test_{k}', voice, *given_line(chorale[:, column], lowest), positions))
    results, started = {}, time.time()
    for fill in (True, False) if args.no_fill else (True,):
        for group, name, voice, line, onsets, positions in tqdm(jobs, desc=f'fill={fill}'):
            for seed in range(args.seeds):
                lines = harmonize_line(samplers, line, onsets, positions, voice, n_pitches, seed, fill)
                results.setdefault(f'{group}, fill={fill}', []).append(sounding(lines, n_pitches, lowest))
    report = {'seeds': args.seeds, 'conditions': {condition: summary(found) for condition, found in results.items()}}
    if JSB.exists():
        report['bach_jsb_test'] = bach_figures()
    if VOICES_CORPUS.exists():
        fugues = corpus_fugues()
        expositions = {'fugues': len(fugues),
                       'Bach': round(float(np.mean([bach_exposition(path) for path, _ in fugues])), 3)}
        for fill in (True, False) if args.no_fill else (True,):
            shares = [written_exposition(samplers, geometry, path, voices, seed, fill)
                      for path, voices in tqdm(fugues, desc=f'expositions, fill={fill}') for seed in range(args.seeds)]
            found = [share for share in shares if share is not None]
            expositions[f'fill={fill}'] = {'mean': round(float(np.mean(found)), 3), 'expositions': len(found),
                                           'below 0.5': int(sum(share < 0.5 for share in found))}
        report['share of exposition steps in which every entered voice sounds'] = expositions
    report['seconds'] = round(time.time() - started)
    with atomic_path(args.out) as temporary:
        pathlib.Path(temporary).write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == '__main__':
    main()
