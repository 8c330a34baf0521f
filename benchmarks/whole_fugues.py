"""Whole fugues on the subjects of the held-out fugues, read beside Bach's own (issue 31).

For each fugue of ``--voices-data`` (one MIDI track per voice) that the shipped voice model held out by BWV, of
3 voices or more (one per BWV number): its subject (the first voice from its first note to the second voice's first,
:func:`bach2.measure.fugue_profile.opening_subject`), its key (:func:`bach2.compose.harmonize.melody_key`) and its
number of voices (at most 4) plan a whole fugue (:func:`bach2.compose.fugue_form.plan_fugue`), written by the
shipped voice model for each of ``--seeds``. Reported:

* plan kept: every planned cell as planned (entries note for note, episodes, pedal, final chord), share;
* keys found at the entries: the key found on the notes over each entry and a bar either side equals the planned
  key, share of entries;
* ends on the tonic chord, share of pieces;
* the form profile (:func:`bach2.measure.fugue_profile.form_profile`: entries per 10 bars, bars in episodes, keys
  at the entries, entries in inner voices, stretti and where they fall) of ours, of the same held-out fugues and
  of every fugue of 3–4 voices in the corpus, read the same way;
* the voice statistics of ``benchmarks/voice_model.py`` (notes struck, repeats, stepwise, parallels);
* seconds per piece, and per 16 steps (a bar of 4/4).

The pieces go to ``--out``/pieces, their pitch matrices in the built-in corpus's geometry to ``--out``/judge (for
``benchmarks/judge_pieces.py``: the judge on 4-bar excerpts and the copy search), the numbers to
``--out``/whole_fugues.json and a table on stdout.

    python benchmarks/whole_fugues.py --out /tmp/whole --count 6 --seeds 0 1
    python benchmarks/judge_pieces.py --data /tmp/kbdefault --out /tmp/whole/judge.json --judge-seeds 20 \\
        whole=/tmp/whole/judge
"""
import argparse
import dataclasses
import json
import pathlib
import sys
import time

import numpy as np

from bach2.compose.fugue_form import (WholeForm, ends_on_tonic, key_text, keys_at_entries, piece_subject, plan_cells,
                                      plan_fugue, read_plan, write_whole_fugue)
from bach2.compose.harmonize import melody_key
from bach2.compose.lines import Sampling
from bach2.compose.voice_writing import STEP, read_voices
from bach2.data.default_corpus import KEYBOARD_VOICES
from bach2.measure.fugue_profile import form_profile, opening_subject
from bach2.midi_to_time_series import midi_to_time_series
from bach2.models.checkpoints import SHIPPED_VOICE_MODELS, load_voice_model
from bach2.music.metre import fit_positions
from bach2.music.pitch_names import pitch_class_of
from bach2.render.piece import Output
from bach2.safe_io import atomic_path, load_pickle, save_pickle
from bach2.time_series_to_pitch_matrix import JOURNAL_RESOLUTION, LOWEST_PITCH, N_PITCHES

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from voice_model import pooled_lines, token_matrices  # noqa: E402  (a sibling benchmark's line statistics)


def fugues(folder):
    """{name: (VoicePiece, Piece)} of the fugues of 3 or more voices in ``folder`` (``*/*.mid``)."""
    found = {}
    for path in sorted(pathlib.Path(folder).glob('*/*_fugue_*.mid')):
        piece = midi_to_time_series(path)
        voices = read_voices(piece)
        if len(voices.names) >= 3 and opening_subject(voices.tokens) is not None:
            found[path.stem] = voices, piece
    return found


def write_pieces(held, corpus, args):
    """Write a whole fugue on each held-out fugue's subject for each seed (kept where ``--measure-only`` finds it
    written) → [(name, seed, .p path, seconds or None)]."""
    out = pathlib.Path(args.out) / 'pieces'
    written = []
    for name in held:
        voices, piece = corpus[name]
        written_key = melody_key(piece)
        form = WholeForm(voices=min(len(voices.names), 4), episode_bars=args.episode_bars,
                         key=key_text((pitch_class_of(written_key[0]), written_key[1])))
        plan = plan_fugue(piece_subject(voices), form)
        for seed in args.seeds:
            path = out / f'{name}_whole_seed{seed}.p'
            seconds = None
            if not (args.measure_only and path.is_file()):
                started = time.perf_counter()
                write_whole_fugue(None, plan=plan, checkpoint=args.checkpoint, sampling=Sampling(seed=seed),
                                  output=Output(out, name=path.stem))
                seconds = time.perf_counter() - started
                print(f'{name} seed {seed}: {seconds:.0f} s', flush=True)
            written.append((name, seed, path, seconds))
    return written


def measured(name, seed, path, seconds):
    """One written fugue's numbers (module docstring) and its ``T × V`` tokens; its pitch matrix in the built-in
    corpus's geometry goes to ``judge/`` beside ``pieces/`` (for ``benchmarks/judge_pieces.py``)."""
    record = load_pickle(path)
    plan = read_plan(path.with_suffix('.plan.json'))
    tokens = record['voice_tokens']
    matrix, onsets = token_matrices(tokens.T, LOWEST_PITCH, N_PITCHES)
    judge = path.parents[1] / 'judge'
    judge.mkdir(exist_ok=True)
    save_pickle({'pitch_matrix': matrix, 'onsets': onsets, 'lowest_pitch': LOWEST_PITCH, 'step_ticks': STEP,
                 'resolution': JOURNAL_RESOLUTION, 'bar_positions': fit_positions(plan.subject.positions, plan.length)},
                judge / path.name)
    planned, given = plan_cells(dataclasses.replace(plan, countersubject=None))
    subject = (plan.subject.pitches, plan.subject.onsets)
    keys = keys_at_entries(plan, tokens)
    return {'fugue': name, 'seed': seed, 'key': record['key'], 'voices': plan.voices,
            'bars': plan.bar_of(plan.length - 1), 'steps': plan.length, 'seconds': seconds,
            'plan kept': float((tokens[given] == planned[given]).mean()),
            'keys found': sum(a == b for a, b in keys) / len(keys), 'ends on tonic': ends_on_tonic(tokens, plan.key[0]),
            'countersubjects': record['countersubjects'], 'stretto': plan.stretto,
            'profile': form_profile(tokens, subject, plan.bar, plan.key[0])}, tokens.T


def mean_profiles(profiles):
    """{measure: mean over pieces} (None values skipped)."""
    keys = profiles[0].keys()
    return {k: float(np.mean([p[k] for p in profiles if p[k] is not None]))
            if any(p[k] is not None for p in profiles) else None for k in keys}


def bach_profile(voices, piece):
    """form_profile of one of Bach's fugues in voices, on its opening subject, in its key."""
    return form_profile(voices.tokens, opening_subject(voices.tokens), int(voices.positions[0][1]),
                        pitch_class_of(melody_key(piece)[0]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--voices-data', default=str(KEYBOARD_VOICES), help='the corpus in voices (default: the '
                        'built-in one)')
    parser.add_argument('--out', required=True, help='folder for the pieces and whole_fugues.json')
    parser.add_argument('--count', type=int, default=6, help='held-out fugues (default: %(default)s)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1], help='seeds (default: 0 1)')
    parser.add_argument('--checkpoint', default=SHIPPED_VOICE_MODELS['voices'], help='voice model')
    parser.add_argument('--episode-bars', type=int, help='bars of each episode (default: the plan\'s)')
    parser.add_argument('--measure-only', action='store_true', help='measure the pieces already written in --out')
    args = parser.parse_args()
    _, meta = load_voice_model(args.checkpoint)
    corpus = fugues(args.voices_data)
    works = {}                                  # one fugue per BWV number (the corpus holds some twice)
    for name in (name for name in meta['held_out'] if name in corpus):
        works.setdefault(name.split('_')[0], name)
    held = list(works.values())[:args.count]
    results, ours = zip(*(measured(*piece) for piece in write_pieces(held, corpus, args)))
    timed = [r for r in results if r['seconds'] is not None]
    summary = {'pieces': len(results), 'plan kept': float(np.mean([r['plan kept'] for r in results])),
               'keys found': float(np.mean([r['keys found'] for r in results])),
               'ends on tonic': float(np.mean([r['ends on tonic'] for r in results])),
               'seconds per 16 steps': 16 * sum(r['seconds'] for r in timed) / sum(r['steps'] for r in timed)
               if timed else None,
               'form': {'ours': mean_profiles([r['profile'] for r in results]),
                        'held-out Bach': mean_profiles([bach_profile(*corpus[n]) for n in held]),
                        'all Bach fugues of 3-4 voices': mean_profiles([bach_profile(v, p) for v, p in corpus.values()
                                                                        if len(v.names) <= 4])},
               'lines': {'ours': pooled_lines(list(ours)),
                         'held-out Bach': pooled_lines([corpus[n][0].tokens.T for n in held])}}
    for r in results:
        print(f'{r["fugue"]} seed {r["seed"]}: {r["bars"]} bars, plan kept {r["plan kept"]:.0%}, keys '
              f'{r["keys found"]:.0%}, tonic {r["ends on tonic"]}, countersubject {r["countersubjects"]}; '
              f'{r["profile"]}')
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / 'whole_fugues.json') as temporary:
        pathlib.Path(temporary).write_text(json.dumps({'summary': summary, 'pieces': results}, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == '__main__':
    main()
