"""Harmonizing Bach's chorales: the soprano (or the bass) of each test chorale given, the other voices
written by the model (issue 16).

Data: a prepared JSB Chorales folder (the ``data/`` that ``benchmarks/polyphonic.py --set jsb`` writes, or
``bach2 prepare-benchmark jsb``): its test split in the original keys, quarter-note frames, 88 keys, bars of
4/4 from the first frame. Models: ``--down`` (an lstm-nade drawn high to low: the soprano is drawn first) and
``--up`` (low to high: the bass first; also the unconstrained model).

Measured, each beside Bach's own where it applies:

* NLL in nats per frame of Bach's frames: the whole frame, and the voices under the soprano given the soprano
  (``--down``) or over the bass given the bass (``--up``). Exact: the given voice is drawn first, so the
  conditional is the sum of the conditionals of the pitches drawn after it (frames with no note left out);
* for harmonizations sampled with the soprano given, with the bass given, and with nothing given (``--up``):
  chord agreement with Bach's chord at each quarter (root and family, :func:`bach2.music.progressions.chord_agreement`),
  share of sounding notes in the key (:func:`bach2.measure.music_statistics.piece_counts`), parallel fifths and
  octaves per 100 voice pairs (music21, :func:`bach2.measure.music_statistics.parallel_motion`; voices dealt by
  :func:`bach2.compose.harmonize.separate_voices`, Bach's frames too), and the share of frames whose given note was kept.

    python benchmarks/harmonize_chorales.py --data /tmp/q_jsb_metre/data --out /tmp/harmonize.json \\
        --down /tmp/q_jsb_down/checkpoints/lstmnade_polyphonic_N256_2layers_best.npz \\
        --up /tmp/q_jsb_metre/checkpoints/lstmnade_polyphonic_N256_2layers_best.npz
"""
import argparse
import json
import pathlib

import numpy as np
from tqdm import tqdm

from bach2.chord_sequence import beat_profiles, chord_indices
from bach2.compose.harmonize import VoicePlan, harmonize_plan, separate_voices, write_with_plan
from bach2.compose.lines import Sampling
from bach2.measure.evaluate import load_pieces
from bach2.measure.music_statistics import parallel_motion, piece_counts
from bach2.models.checkpoints import load_samplers
from bach2.music.metre import fit_positions, pad_positions, regular_positions
from bach2.music.progressions import chord_agreement
from bach2.safe_io import atomic_path
from bach2.time_series_to_pitch_matrix import pitch_matrix_to_roll

VOICES = 4
GIVEN = {'soprano': 'down', 'bass': 'up', 'nothing': 'up'}       # the condition → the model that writes it


def outer_line(matrix, side):
    """``T × P`` frames → ``T`` columns of the highest ('top') or lowest note, P where silent."""
    line = np.full(len(matrix), matrix.shape[1], np.int64)
    for t in np.flatnonzero(matrix.any(axis=1)):
        line[t] = np.flatnonzero(matrix[t])[-1 if side == 'top' else 0]
    return line


def free_plan(n_steps, n_pitches):
    """Every voice may sound, none is given."""
    return VoicePlan(np.full(n_steps, -1), np.full(n_steps, n_pitches), np.zeros(n_steps, bool),
                     np.ones((n_steps, VOICES), bool), n_pitches)


def padded(plan, n_steps):
    """``plan`` continued with free steps up to ``n_steps`` (one compiled sampler serves every chorale)."""
    extra = n_steps - len(plan.voice)
    free = free_plan(extra, plan.n_pitches)
    return VoicePlan(*(np.concatenate([getattr(plan, field), getattr(free, field)])
                       for field in ('voice', 'line', 'struck', 'active')), plan.n_pitches)


def conditional_nll(sampler, matrix, positions, length, side):
    """Bach's frames read by ``sampler`` with every unit given → ``T`` NLL of each frame, ``T`` NLL of its pitches
    drawn after the ``side`` voice, ``T`` bool: the frame has a note."""
    n_steps, n_pitches = matrix.shape
    given = np.full((length, n_pitches), -1, np.int8)
    given[:n_steps] = matrix
    _, p = sampler.continue_piece(np.zeros((1, n_pitches), np.float32), length, context='carry',
                                  positions=fit_positions(pad_positions(positions, 1), length + 1),
                                  given=given)
    p = np.clip(p[:n_steps].astype(np.float64), 1e-12, 1 - 1e-12)
    nll = -np.where(matrix > 0, np.log(p), np.log1p(-p))                       # T × P, one per unit
    line = outer_line(matrix, side)
    columns = np.arange(n_pitches)
    after = columns[None, :] < line[:, None] if side == 'top' else columns[None, :] > line[:, None]
    return nll.sum(axis=1), (nll * after).sum(axis=1), line < n_pitches


def statistics(matrix, lines, bach_chords, lowest_pitch):
    """Counts of one harmonization (or of Bach's frames) → {name: number}, pooled later."""
    counts = piece_counts(matrix, lowest_pitch, 1, material=False)
    agreement = chord_agreement(matrix, bach_chords, lowest_pitch, steps_per_beat=1)
    parallels = parallel_motion(lines, lowest_pitch, matrix.shape[1])
    return {'agreeing': agreement['agreement'] * agreement['quarters'], 'quarters': agreement['quarters'],
            'in_key': counts['in_key'], 'notes_sounding': counts['notes_sounding'],
            'parallels': parallels['fifths'] + parallels['octaves'], 'fifths': parallels['fifths'],
            'octaves': parallels['octaves'], 'pairs': parallels['pairs']}


def pooled(rows):
    total = {key: sum(row[key] for row in rows) for key in rows[0]}
    return {'chord_agreement': total['agreeing'] / max(total['quarters'], 1),
            'in_key': total['in_key'] / max(total['notes_sounding'], 1),
            'parallels_per_100_pairs': 100 * total['parallels'] / max(total['pairs'], 1),
            'fifths': total['fifths'], 'octaves': total['octaves'], 'pairs': total['pairs'],
            **({'given_kept': total['kept'] / total['given']} if 'kept' in total else {})}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True, help='prepared JSB Chorales folder with split.json')
    parser.add_argument('--down', required=True, help='lstm-nade checkpoint drawn high to low')
    parser.add_argument('--up', required=True, help='lstm-nade checkpoint drawn low to high')
    parser.add_argument('--split', default='test')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--temperature', type=float, default=1.0)
    parser.add_argument('--out', required=True, help='JSON results')
    args = parser.parse_args()
    samplers, geometry = load_samplers({'down': args.down, 'up': args.up})
    _, pieces, _ = load_pieces(args.data, split=args.split, progress=False)
    P, lowest = geometry.n_pitches, geometry.lowest_pitch
    length = max(len(matrix) for matrix, *_ in pieces)
    nll = {'down': ([], [], []), 'up': ([], [], [])}
    rows = {name: [] for name in ['bach', *GIVEN]}
    for matrix, _, name, positions in tqdm(pieces, desc='chorales'):
        matrix = (np.asarray(matrix) > 0).astype(np.uint8)
        positions = regular_positions(len(matrix), 4) if positions is None else np.asarray(positions)
        for order, side in (('down', 'top'), ('up', 'bottom')):
            for part, values in zip(nll[order], conditional_nll(samplers[order], matrix, positions, length, side)):
                part.append(values)
        bach_chords = chord_indices(beat_profiles(pitch_matrix_to_roll(matrix, lowest), 1))
        bach_lines, _ = separate_voices(matrix, free_plan(len(matrix), P))
        rows['bach'].append(statistics(matrix, bach_lines, bach_chords, lowest))
        for condition, order in GIVEN.items():
            if condition == 'nothing':
                plan = free_plan(len(matrix), P)
            else:
                line = outer_line(matrix, 'top' if condition == 'soprano' else 'bottom')
                onsets = np.concatenate([[True], line[1:] != line[:-1]])
                plan = harmonize_plan(line, onsets, condition, VOICES, P)
            for seed in args.seeds:
                steps = write_with_plan({order: samplers[order]}, padded(plan, length),
                                        fit_positions(positions, length),
                                        Sampling(temperature=args.temperature, seed=seed))[:len(matrix)]
                lines, _ = separate_voices(steps, plan)
                row = statistics(steps, lines, bach_chords, lowest)
                if condition != 'nothing':
                    index = 0 if condition == 'soprano' else VOICES - 1
                    sounding = plan.line < P
                    row.update(kept=int((lines[index][sounding] == plan.line[sounding]).sum()),
                               given=int(sounding.sum()))
                rows[condition].append(row)
    results = {'settings': vars(args), 'chorales': len(pieces), 'frames': int(sum(len(m) for m, *_ in pieces))}
    for order, side in (('down', 'soprano'), ('up', 'bass')):
        whole, after, sounding = (np.concatenate(parts) for parts in nll[order])
        results[f'nll_{order}'] = {'whole_frame': float(whole.mean()), 'frames': len(whole),
                                   f'given_the_{side}': float(after[sounding].mean()),
                                   f'the_{side}_itself': float((whole - after)[sounding].mean()),
                                   'frames_with_a_note': int(sounding.sum())}
    results['sampled'] = {name: pooled(condition_rows) for name, condition_rows in rows.items()}
    with atomic_path(args.out) as temporary:
        pathlib.Path(temporary).write_text(json.dumps(results, indent=1))
    print(json.dumps({key: value for key, value in results.items() if key != 'settings'}, indent=1))


if __name__ == '__main__':
    main()
