"""The voice model (issue 30) against Bach and against the shipped LSTM-NADE: continuations, lines, chorales, speed.

Five parts (``--parts``, run in the order 4, 1, 2, 3, 5 so that part 4 times a model nothing has compiled yet):

1. **Continuations.** For seeds 0 … ``--count`` − 1 the primer is chosen as ``bach2 generate`` and
   ``benchmarks/sampled_statistics.py`` choose it (:func:`bach2.compose.generate.prime`: a random piece of the
   prepared built-in corpus ``--data``, its first 32 steps, the seed's own draw), and ``--steps`` steps follow:
   the keyboard voice model continues the primer's own voices (the piece's voice tokens, prepared from
   ``bach_keyboard_voices``, first 32 steps; :func:`bach2.compose.voice_writing.continue_voices`, ``--rounds``
   Gibbs rounds, temperature ``--temperature``, pitches at ``--pitch-temperature``), and the shipped model
   continues its pitch matrix
   (``sampled_statistics.generate_pieces``, unchanged). Both write ``.p`` pickles of the continuation alone
   (``OUT/voices``, ``OUT/shipped``) that ``benchmarks/judge_pieces.py`` reads; it is run on them (the judge
   against held-out Bach; copies of training Bach), its JSON in ``OUT/judge.json``.
2. **Lines.** Per voice, pooled over pieces: share of 16ths it sounds; struck notes per sounding 16th (1 / mean
   note length); same-note repeats and stepwise moves (1–2 semitones) as shares of its melodic moves (successive
   notes, across rests); for the piece, the share of 16ths at which some voice strikes a note (the judge's
   'steps with onsets'); parallel fifths and octaves per 100 voice pairs (music21,
   :func:`bach2.measure.music_statistics.parallel_motion`: two voices at two successive frames, both sounding,
   one moving) at 16ths and at quarter frames (every 4th 16th, as ``harmonize_chorales.py`` reads quarters).
   Voices are grouped by rank: top, inner (pooled), bass. Sets: held-out Bach (the keyboard checkpoint's
   held-out pieces, whole, true voices; again with voices found by
   :func:`bach2.music.voice_separation.separate_voices`, a check of that separation), Bach's own next
   ``--steps`` steps after each primer (true voices: the floor the primers allow, as sampled_statistics' 'bach'),
   the voice model's continuations (its own voices), the shipped model's (voices by ``separate_voices``, as many
   as the primer piece has).
3. **Chorales.** JSB test chorales (the JSB checkpoint's data, ``split`` 'test'; ``--chorales`` first ones): the
   soprano given, alto, tenor and bass written (:func:`bach2.models.voice_sampling.gibbs_fill`, ``--rounds``,
   ``--seeds`` per chorale), by the JSB voice model and by the keyboard one: chord agreement with Bach per quarter
   (root and family, :func:`bach2.music.progressions.chord_agreement` on quarter frames, as
   ``harmonize_chorales.py``), each voice's share of sounding 16ths, parallels per 100 voice pairs; beside Bach's
   own four voices, Bach's other harmonizations of the same melody found anywhere in the set (:func:`same_melody`:
   the ceiling) and the shipped models' documented figures (``docs/harmonize_and_fugue.md``: quarter-note JSB
   LSTM-NADE, not rerun here).
4. **Speed.** 256 steps (16 bars) in 4 voices after a 1-bar primer (the first held-out piece of 4 voices) with
   the sampler of parts 1 and 3 (:class:`~bach2.models.voice_sampling.GibbsSchedule`): seconds of the first
   call (compiling included) and of a second one.
5. **Given Bach.** On the keyboard model's held-out pieces, what it expects at each step given Bach's own past,
   beside what Bach wrote (:func:`given_bach`): does the model know the rhythm and the repeats, or do they go
   astray only when it hears its own music?

Steps are 16ths. Prints one table per part; everything goes to ``OUT/results.json``.

    bach2 prepare --out /tmp/kbdefault          # the built-in corpus, as the shipped model saw it
    python benchmarks/voice_model.py --data /tmp/kbdefault --out /tmp/voice_model \\
        --keyboard-model /work/runs/voice_kb.npz --jsb-model /work/runs/voice_jsb.npz --count 64 --chorales 77
"""
import argparse
import collections
import json
import pathlib
import subprocess
import sys
import time

import numpy as np
from tqdm import tqdm

from bach2.app.arguments import count, positive, rate
from bach2.chord_sequence import beat_profiles, chord_indices
from bach2.common import CorpusError
from bach2.compose.generate import GenerateConfig, prime, read_checkpoint
from bach2.compose.lines import Sampling
from bach2.compose.voice_writing import VoicePiece, continue_voices
from bach2.data.voice_data import chorale_positions, load_voice_tokens
from bach2.data.voice_tokens import FIRST_PITCH, LOWEST, piece_tokens, sounding_pitches, token_notes
from bach2.measure.motifs import MATERIAL
from bach2.measure.music_statistics import parallel_motion
from bach2.models.checkpoints import SHIPPED_MODELS, load_voice_checkpoint, load_voice_model
from bach2.models.voice_model import model_reach, network_inputs
from bach2.models.voice_sampling import CONTINUATION_FIGURES, GibbsSchedule, gibbs_fill, window as step_window
from bach2.music.metre import continue_positions
from bach2.music.progressions import chord_agreement
from bach2.music.voice_separation import separate_voices
from bach2.safe_io import atomic_path, load_pickle, save_pickle
from bach2.time_series_to_pitch_matrix import JOURNAL_RESOLUTION, pitch_matrix_to_time_series, window
from sampled_statistics import generate_pieces      # benchmarks/ is on the path when this script runs

HERE = pathlib.Path(__file__).parent
NO_PITCH = 128                        # a rest in a line of MIDI pitches
SATB = ('soprano', 'alto', 'tenor', 'bass')
PRIMER_STEPS = 64                     # part 5: steps of Bach before the first step scored
#: the shipped models' JSB LSTM-NADE (quarter notes, 'down': the soprano first) on the 77 JSB test sopranos,
#: T = 1.0, each step drawn with the cap alone (docs/harmonize_and_fugue.md; not rerun here)
SHIPPED_JSB = {'chord agreement per quarter': 0.243, 'parallel 5ths+8ves per 100 pairs, quarters': 2.85}


# --------------------------------------------------------------------------- reading pieces in voices

def voice_corpus(data_dir):
    """Prepared voice tokens (``sh0``) → {name: (``T × V`` int16 tokens, ``T × 2`` bar positions)}."""
    names, tokens, positions, _ = load_voice_tokens(data_dir, 'sh0')
    return dict(zip(names, zip(tokens, positions)))


def token_matrices(tokens, lowest_pitch, n_pitches):
    """``T × V`` tokens → (``T × P`` uint8 pitch matrix, ``T × P`` uint8 onset plane), column j = MIDI
    ``lowest_pitch + j``; pitches outside the window left out, as stage 1 leaves them."""
    pitches = sounding_pitches(tokens)
    roll, struck = np.zeros((len(tokens), 128), bool), np.zeros((len(tokens), 128), bool)
    steps, voices = np.nonzero(pitches >= 0)
    roll[steps, pitches[steps, voices]] = True
    steps, voices = np.nonzero(tokens >= FIRST_PITCH)
    struck[steps, pitches[steps, voices]] = True
    return window(roll, lowest_pitch, n_pitches), window(struck, lowest_pitch, n_pitches)


def separated(notes, n_voices, n_steps, step_ticks):
    """Notes ``[(onset, pitch, duration)]`` in ticks (4 steps of ``step_ticks`` a quarter) → ``n_steps × n_voices``
    tokens of the voices :func:`separate_voices` finds."""
    lines = separate_voices(notes, n_voices, resolution=4 * step_ticks)
    return piece_tokens(lines, step_ticks, n_steps)


def reseparated(tokens, step_ticks=24):
    """``T × V`` tokens → the same notes dealt to V voices again by :func:`separate_voices`."""
    notes = sorted(note for v in range(tokens.shape[1]) for note in token_notes(tokens[:, v], step_ticks))
    return separated(notes, tokens.shape[1], len(tokens), step_ticks)


# --------------------------------------------------------------------------- part 1: continuations

def schedule(args, figures=CONTINUATION_FIGURES):
    """The sampler of parts 1, 3 and 4: the default one with ``--start``, ``--rounds``, ``--pitch-temperature``,
    ``--[no-]revoice``, ``--[no-]avoid-parallels`` and ``--figures`` (else ``figures``: the library's default for
    continuations, parts 1 and 4; part 3 passes GibbsSchedule's, harmonizing's)."""
    return GibbsSchedule(n_iterations=args.rounds, start=args.start, pitch_temperature=args.pitch_temperature,
                         revoice=args.revoice, avoid_parallels=args.avoid_parallels,
                         figures=figures if args.figures is None else args.figures)


def primers(args):
    """Seeds 0 … count − 1 → ([(seed, :class:`~bach2.compose.generate.Primed`)], the shipped model's
    :class:`~bach2.music.geometry.Geometry`): the primers ``bach2 generate`` draws for it from ``args.data`` (name,
    ``L × P`` steps, ``(L + steps) × 2`` positions)."""
    config = GenerateConfig(args.shipped, data_dir=args.data, n_steps=args.steps)
    checkpoint = read_checkpoint(config)
    found = []
    for seed in range(args.count):
        primed = prime(GenerateConfig(args.shipped, data_dir=args.data, n_steps=args.steps, seed=seed), checkpoint)
        if primed.positions is None:
            raise CorpusError(f'{args.data}: prepared before bar positions; run bach2 prepare again')
        found.append((seed, primed))
    return found, checkpoint.geometry


def continue_in_voices(model, corpus, primed, seed, args):
    """One primer's own voices continued by the voice model → (``steps × V`` tokens of the continuation,
    ``steps × 2`` positions)."""
    if primed.name not in corpus:
        raise CorpusError(f'{primed.name}: not among the voice model\'s prepared pieces; prepare both corpora anew')
    length = len(primed.primer)
    tokens = corpus[primed.name][0][:length]
    primer = VoicePiece(tokens.T.copy(), primed.positions[:length], ())
    written = continue_voices(model, primer, args.steps, Sampling(args.temperature, seed),
                              schedule(args))
    return written.tokens[:, length:].T, continue_positions(primed.positions[:length], args.steps)


def voice_continuations(args):
    """Part 1: the voice model's and the shipped model's continuations → {'primers': names, 'judge': results}."""
    model, meta = load_voice_model(args.keyboard_model)
    corpus = voice_corpus(meta['data_dir'])
    chosen, geometry = primers(args)
    folder = pathlib.Path(args.out) / 'voices'
    for seed, primed in tqdm(chosen, desc='voice model', unit='piece'):
        tokens, positions = continue_in_voices(model, corpus, primed, seed, args)
        matrix, onsets = token_matrices(tokens, geometry.lowest_pitch, geometry.n_pitches)
        save_pickle({'pitch_matrix': matrix, 'onsets': onsets, 'lowest_pitch': geometry.lowest_pitch,
                     'step_ticks': geometry.step_ticks, 'resolution': JOURNAL_RESOLUTION, 'bar_positions': positions,
                     'voice_tokens': tokens, 'primer_name': primed.name, 'primer_steps': len(primed.primer),
                     'seed': seed, 'checkpoint': str(args.keyboard_model), 'rounds': args.rounds,
                     'temperature': args.temperature, 'start': args.start,
                     'pitch_temperature': args.pitch_temperature, 'revoice': args.revoice,
                     'avoid_parallels': args.avoid_parallels, 'figures': schedule(args).figures},
                    folder / f'voices_{seed}.p')
    generate_pieces('shipped', args.shipped, args)
    return {'primers': [primed.name for _, primed in chosen], 'judge': run_judge(args)}


def run_judge(args):
    """``benchmarks/judge_pieces.py`` on OUT/voices and OUT/shipped → its 'results' ({set: {pieces, judge,
    copies}}), or {'error': …} where it fails (too few pieces for its folds)."""
    out = pathlib.Path(args.out) / 'judge.json'
    command = [sys.executable, str(HERE / 'judge_pieces.py'), '--data', args.data, '--out', str(out),
               f'voices={pathlib.Path(args.out) / "voices"}', f'shipped={pathlib.Path(args.out) / "shipped"}']
    if subprocess.run(command, stdout=subprocess.DEVNULL).returncode:       # its table: in the one printed here
        return {'error': f'judge_pieces.py failed: {" ".join(command)}'}
    return json.loads(out.read_text())['results']


def judge_table(judged):
    """Part 1's results → Markdown."""
    if 'error' in judged:
        return judged['error']
    lines = ['| set | pieces | judge accuracy (± spread; 0.5: cannot tell) | copy median / max (steps) '
             '| copies > 32 steps | ' + ' | '.join(MATERIAL) + ' |', '|' + ' --- |' * (5 + len(MATERIAL))]
    for label, row in judged.items():
        judge, copies, material = row['judge'], row['copies'], row['material']
        lines.append(f'| {label} | {row["pieces"]} | {judge["accuracy"]:.3f} ± {judge["accuracy_std"]:.3f} '
                     f'| {copies["median"]:g} / {copies["max"]} | {copies["share_over_limit"]:.0%} | '
                     + ' | '.join('—' if material[m] is None else f'{material[m]:.3f}' for m in MATERIAL) + ' |')
    return '\n'.join(lines)


# --------------------------------------------------------------------------- part 2: lines

def rank_groups(n_voices):
    """Voice ranks, highest first → group names: 'top', 'inner' …, 'bass'."""
    return ('top',) + ('inner',) * (n_voices - 2) + ('bass',)


def line_counts(tokens, groups):
    """``T × V`` tokens, a group name per voice → Counter of counts to pool: per group (steps, sounding, struck,
    moves, repeats, stepwise), for the piece (steps, struck: steps where some voice strikes), and parallels
    (fifths, octaves, pairs) at 16ths and at quarter frames (every 4th step from the first)."""
    pitches, struck = sounding_pitches(tokens), tokens >= FIRST_PITCH
    counts = collections.Counter({('piece', 'steps'): len(tokens), ('piece', 'struck'): int(struck.any(axis=1).sum())})
    for v, group in enumerate(groups):
        moves = np.abs(np.diff([pitch for _, pitch, _ in token_notes(tokens[:, v], 1)]))
        counts.update({(group, 'steps'): len(tokens), (group, 'sounding'): int((pitches[:, v] >= 0).sum()),
                       (group, 'struck'): int(struck[:, v].sum()), (group, 'moves'): len(moves),
                       (group, 'repeats'): int((moves == 0).sum()),
                       (group, 'stepwise'): int(((moves == 1) | (moves == 2)).sum())})
    lines = np.where(pitches >= 0, pitches, NO_PITCH).T
    for frames, every in (('16ths', 1), ('quarters', 4)):
        found = parallel_motion(lines[:, ::every], 0, NO_PITCH)
        counts.update({(frames, key): found[key] for key in ('fifths', 'octaves', 'pairs')})
    return counts


def share(part, whole):
    """``part / whole``, NaN where ``whole`` is 0."""
    return part / whole if whole else float('nan')


def line_summary(counts, groups):
    """Pooled :func:`line_counts` → {measure: value} (shares in 0 … 1, parallels per 100 voice pairs)."""
    c = counts
    summary = {'16ths where a note starts': share(c['piece', 'struck'], c['piece', 'steps'])}
    for group in dict.fromkeys(groups):
        summary.update({f'{group} sounds': share(c[group, 'sounding'], c[group, 'steps']),
                        f'{group} notes struck per sounding 16th': share(c[group, 'struck'], c[group, 'sounding']),
                        f'{group} same-note repeats': share(c[group, 'repeats'], c[group, 'moves']),
                        f'{group} stepwise moves': share(c[group, 'stepwise'], c[group, 'moves'])})
    for frames in ('16ths', 'quarters'):
        parallels = c[frames, 'fifths'] + c[frames, 'octaves']
        summary[f'parallel 5ths+8ves per 100 pairs, {frames}'] = 100 * share(parallels, c[frames, 'pairs'])
    return summary


def pooled_lines(pieces):
    """[``T × V`` tokens] → :func:`line_summary` of them all, voices grouped by :func:`rank_groups`."""
    counts = sum((line_counts(tokens, rank_groups(tokens.shape[1])) for tokens in pieces), collections.Counter())
    return line_summary(counts, ('top', 'inner', 'bass'))


def shipped_voices(record, corpus):
    """A shipped model's ``.p`` record → its continuation's ``T × V`` tokens, V = the primer piece's voices."""
    matrix, step = record['pitch_matrix'], record['step_ticks']
    notes = pitch_matrix_to_time_series(matrix, step, record['lowest_pitch'], record.get('onsets'))
    return separated(notes, corpus[record['primer_name']][0].shape[1], len(matrix), step)


def line_statistics(args):
    """Part 2: {set: line summary} for held-out Bach (true and separated voices), Bach's own continuation of the
    primers and both models' continuations."""
    _, _, meta = load_voice_checkpoint(args.keyboard_model)
    corpus = voice_corpus(meta['data_dir'])
    held_out = [corpus[name][0] for name in meta['held_out']]
    records = {label: [load_pickle(path) for path in sorted((pathlib.Path(args.out) / label).glob('*.p'))]
               for label in ('voices', 'shipped')}
    after = [corpus[record['primer_name']][0][record['primer_steps']:][:args.steps] for record in records['voices']]
    sets = {'held-out Bach': held_out,
            'held-out Bach, voices separated': [reseparated(t) for t in tqdm(held_out, desc='separating Bach')],
            'Bach after the same primers': after,
            'voice model': [record['voice_tokens'] for record in records['voices']],
            'shipped, voices separated': [shipped_voices(record, corpus)
                                          for record in tqdm(records['shipped'], desc='separating shipped')]}
    return {label: {'pieces': len(pieces), **pooled_lines(pieces)} for label, pieces in sets.items()}


# --------------------------------------------------------------------------- part 3: chorales

def quarter_frames(tokens):
    """``T × V`` tokens → ``⌈T / 4⌉ × 128`` uint8: the MIDI pitches sounding at every 4th step (from step 0)."""
    pitches = sounding_pitches(tokens)[::4]
    frames = np.zeros((len(pitches), 128), np.uint8)
    steps, voices = np.nonzero(pitches >= 0)
    frames[steps, pitches[steps, voices]] = 1
    return frames


def chorale_counts(tokens, bach):
    """A harmonization and Bach's chorale (``T × 4`` tokens each) → :func:`line_counts` with the quarters whose
    chord (root and family) agrees with Bach's."""
    counts = line_counts(tokens, SATB)
    bach_chords = chord_indices(beat_profiles(quarter_frames(bach), 1))
    agreement = chord_agreement(quarter_frames(tokens), bach_chords, lowest_pitch=0, steps_per_beat=1)
    counts.update({('chords', 'agreeing'): agreement['agreement'] * agreement['quarters'],
                   ('chords', 'quarters'): agreement['quarters']})
    return counts


def chorale_summary(counts):
    """Pooled :func:`chorale_counts` → {measure: value}."""
    lines = line_summary(counts, SATB)
    return {'chord agreement per quarter': share(counts['chords', 'agreeing'], counts['chords', 'quarters']),
            **{f'{voice} sounds': lines[f'{voice} sounds'] for voice in SATB},
            **{key: value for key, value in lines.items() if key.startswith('parallel')}}


def same_melody(tokens, chosen, share=0.9):
    """Chorales (``T × 4`` tokens) and the indices ``chosen`` → ``[(i, j, shift)]``: every other chorale ``j`` of
    the same length whose soprano, read at quarters, is chorale ``i``'s moved by ``shift`` semitones on at least
    ``share`` of the quarters (and sounds on that share): Bach's other harmonizations of a melody, the ceiling a
    harmonizer's chord agreement can hope for."""
    sopranos = [sounding_pitches(t)[::4, 0].astype(int) for t in tokens]
    found = []
    for i in chosen:
        for j, other in enumerate(sopranos):
            if j == i or len(other) != len(sopranos[i]):
                continue
            both = (sopranos[i] >= 0) & (other >= 0)
            moves = sopranos[i][both] - other[both]
            if both.mean() < share:
                continue
            values, counts = np.unique(moves, return_counts=True)
            if counts.max() >= share * len(other):
                found.append((i, j, int(values[counts.argmax()])))
    return found


def harmonized(checkpoint, chorales, args):
    """Each chorale (``T × 4`` tokens) with its soprano given and the rest written by the voice model of
    ``checkpoint``, ``args.seeds`` times → :func:`chorale_summary` pooled over all."""
    model, _ = load_voice_model(checkpoint)
    counts = collections.Counter()
    for bach in tqdm(chorales, desc=pathlib.Path(checkpoint).stem, unit='chorale'):
        given = np.zeros(bach.T.shape, bool)
        given[0] = True
        for seed in range(args.seeds):
            written = gibbs_fill(model, bach.T, given, chorale_positions(len(bach))[:, 0],
                                 schedule(args, GibbsSchedule.figures), args.temperature, seed)
            counts += chorale_counts(written.T, bach)
    return chorale_summary(counts)


def chorale_statistics(args):
    """Part 3: {row: chorale summary} for Bach, the JSB voice model, the keyboard one and the shipped models."""
    _, _, meta = load_voice_checkpoint(args.jsb_model)
    _, tokens, _, split = load_voice_tokens(meta['data_dir'], 'sh0')
    if split is None:
        raise CorpusError(f'{meta["data_dir"]}: no split stored; prepare the JSB Chorales with bach2 voices prepare')
    tests = [i for i, side in enumerate(split) if side == 'test'][:args.chorales]
    chorales = [tokens[i] for i in tests]
    twice = [(tokens[j] + np.where(tokens[j] >= FIRST_PITCH, shift, 0).astype(tokens[j].dtype), tokens[i])
             for i, j, shift in same_melody(tokens, tests)]
    rows = {'Bach': chorale_summary(sum((chorale_counts(t, t) for t in chorales), collections.Counter())),
            f'Bach, another harmonization of the same melody ({len(twice)} pairs, '
            f'{len({id(bach) for _, bach in twice})} chorales)':
                chorale_summary(sum((chorale_counts(*pair) for pair in twice), collections.Counter())),
            'JSB voice model': harmonized(args.jsb_model, chorales, args)}
    if args.keyboard_model:
        rows['keyboard voice model'] = harmonized(args.keyboard_model, chorales, args)
    rows['JSB LSTM-NADE, soprano first (docs, 77 chorales)'] = SHIPPED_JSB
    return {'chorales': len(chorales), 'rows': rows}


# --------------------------------------------------------------------------- part 4: speed

def sampling_time(args):
    """Part 4: seconds to write 256 steps in 4 voices after a 1-bar primer, first and second call."""
    model, meta = load_voice_model(args.keyboard_model)
    corpus = voice_corpus(meta['data_dir'])
    name = next((name for name in meta['held_out'] if corpus[name][0].shape[1] == 4), None)
    if name is None:
        raise CorpusError(f'{args.keyboard_model}: no held-out piece in 4 voices to prime with')
    tokens, positions = corpus[name]
    primer = VoicePiece(tokens[:16].T.copy(), positions[:16], ())
    seconds = []
    for seed in tqdm(range(2), desc='timing', unit='call'):
        started = time.perf_counter()
        continue_voices(model, primer, 256, Sampling(seed=seed), schedule(args))
        seconds.append(time.perf_counter() - started)
    return {'primer': name, 'sampler': repr(schedule(args)), 'first_call_s': seconds[0],
            'second_call_s': seconds[1]}


# --------------------------------------------------------------------------- part 5: given Bach's past

def given_bach(args):
    """Part 5: what the keyboard model expects at each step of its held-out pieces (after the first
    :data:`PRIMER_STEPS`, ``--steps`` steps) given Bach's own past, as the ancestral pass sees a step (its voices and
    the future masked), beside what Bach wrote there: the share of steps where some voice strikes (the model's
    voices independent, as one pass draws them), strikes per step, and the share of the top voice's and the bass's
    struck notes that repeat the pitch before → {'Bach': {measure: value}, 'model': {…}}."""
    model, meta = load_voice_model(args.keyboard_model)
    corpus = voice_corpus(meta['data_dir'])
    reach = model_reach(model.config)
    totals = {side: collections.Counter() for side in ('Bach', 'model')}
    steps, strikes = 0, collections.Counter()
    for name in tqdm(meta['held_out'], desc='given Bach', unit='piece'):
        tokens, positions = corpus[name][0].T, corpus[name][1][None, :, 0]
        sounding = sounding_pitches(tokens.T).T
        for step in range(PRIMER_STEPS, min(tokens.shape[1], PRIMER_STEPS + args.steps)):
            given = np.zeros(tokens.shape, bool)
            given[:, :step] = True
            start, stop = step_window(step, tokens.shape[1], reach)
            inputs = [x[..., start:stop] for x in network_inputs(tokens[None], given[None], positions)]
            p = np.exp(np.asarray(model.predict((1, len(tokens), stop - start))(*inputs))[0][:, step - start])
            strike, struck = p[:, FIRST_PITCH:].sum(-1), tokens[:, step] >= FIRST_PITCH
            steps += 1
            totals['model'].update({'some voice strikes': 1 - np.prod(1 - strike), 'strikes per step': strike.sum()})
            totals['Bach'].update({'some voice strikes': float(struck.any()),
                                   'strikes per step': float(struck.sum())})
            for line, v in (('top', 0), ('bass', len(tokens) - 1)):
                if struck[v] and sounding[v, step - 1] >= 0:
                    same = sounding[v, step - 1] - LOWEST + FIRST_PITCH
                    strikes[line] += 1
                    totals['model'][f'{line}: struck notes repeating the pitch before'] += p[v, same] / strike[v]
                    totals['Bach'][f'{line}: struck notes repeating the pitch before'] += float(
                        tokens[v, step] == same)
    return {side: {measure: float(total) / (strikes[measure.split(':')[0]] if ':' in measure else steps)
                   for measure, total in counts.items()} for side, counts in totals.items()}


# --------------------------------------------------------------------------- output

def markdown(rows, digits=3):
    """{column: {measure: value}} → Markdown, one row per measure (— where a column lacks it)."""
    columns = list(rows)
    measures = list(dict.fromkeys(key for row in rows.values() for key in row))
    lines = ['| measure | ' + ' | '.join(columns) + ' |', '|' + ' --- |' * (len(columns) + 1)]
    for measure in measures:
        cells = [rows[c].get(measure) for c in columns]
        lines.append(f'| {measure} | ' + ' | '.join('—' if v is None else f'{v:.{digits}f}' if isinstance(v, float)
                                                   else str(v) for v in cells) + ' |')
    return '\n'.join(lines)


def save_results(results, args):
    with atomic_path(pathlib.Path(args.out) / 'results.json') as temporary:
        pathlib.Path(temporary).write_text(json.dumps(results, indent=1))


PARTS = {4: ('speed', sampling_time, lambda found: markdown({'seconds': found})),
         1: ('continuations', voice_continuations, lambda found: judge_table(found['judge'])),
         2: ('lines', line_statistics, markdown),
         3: ('chorales', chorale_statistics, lambda found: f'{found["chorales"]} JSB test chorales, soprano given\n'
             + markdown(found['rows'])),
         5: ('given Bach', given_bach, markdown)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', help='prepared built-in corpus (bach2 prepare): primers, and held-out Bach for '
                        'the judge (part 1)')
    parser.add_argument('--out', required=True, help='folder: continuations, judge.json, results.json')
    parser.add_argument('--keyboard-model', help='voice model of the keyboard corpus (parts 1, 2, 4; a row of 3)')
    parser.add_argument('--jsb-model', help='voice model of the JSB Chorales (part 3)')
    parser.add_argument('--shipped', default=str(SHIPPED_MODELS['up']), help='the LSTM-NADE compared (default: '
                        'the shipped model)')
    parser.add_argument('--count', type=positive, default=64, help='continuations per model (seeds 0 … count − 1)')
    parser.add_argument('--steps', type=positive, default=256, help='steps after each primer')
    parser.add_argument('--rounds', type=count, default=GibbsSchedule.n_iterations,
                        help='Gibbs rounds after the first pass (parts 1, 3, 4; default: %(default)s)')
    parser.add_argument('--start', choices=('ancestral', 'ancestral-voices', 'independent'),
                        default=GibbsSchedule.start, help='the first drawing (default: %(default)s)')
    parser.add_argument('--revoice', action=argparse.BooleanOptionalAction, default=GibbsSchedule.revoice,
                        help='after each step, the voices that struck together draw their pitches again, each given '
                             'the others (GibbsSchedule.revoice; default: %(default)s)')
    parser.add_argument('--avoid-parallels', action=argparse.BooleanOptionalAction,
                        default=GibbsSchedule.avoid_parallels,
                        help='no pitch drawn that makes parallel fifths or octaves with a voice already known '
                             '(GibbsSchedule.avoid_parallels; default: %(default)s)')
    parser.add_argument('--figures', type=float,
                        help='a token that goes on with a figure heard before made up to 1 + this many times likelier '
                             f'(GibbsSchedule.figures; default: {CONTINUATION_FIGURES:g} for continuations, parts 1 '
                             f'and 4, {GibbsSchedule.figures:g} for chorales, part 3)')
    parser.add_argument('--pitch-temperature', type=rate, default=GibbsSchedule.pitch_temperature,
                        help='which pitch a struck note takes, drawn at this temperature (default: %(default)s)')
    parser.add_argument('--seeds', type=positive, default=1, help='harmonizations per chorale (part 3)')
    parser.add_argument('--chorales', type=positive, default=77, help='the first N JSB test chorales (part 3)')
    parser.add_argument('--temperature', type=rate, default=1.0)
    parser.add_argument('--parts', type=int, nargs='+', choices=sorted(PARTS), default=sorted(PARTS))
    args = parser.parse_args()
    needs = {1: ('data', 'keyboard_model'), 2: ('keyboard_model',), 3: ('jsb_model',), 4: ('keyboard_model',),
             5: ('keyboard_model',)}
    missing = sorted({name for part in args.parts for name in needs[part] if not getattr(args, name)})
    if missing:
        parser.error('the parts chosen need ' + ', '.join('--' + name.replace('_', '-') for name in missing))
    results = {'args': vars(args)}
    try:
        for part in [p for p in PARTS if p in args.parts]:
            name, run, table = PARTS[part]
            started = time.perf_counter()
            results[name] = run(args)
            results[name + '_minutes'] = (time.perf_counter() - started) / 60
            save_results(results, args)
            print(f'\n## Part {part}: {name} ({results[name + "_minutes"]:.1f} min)\n{table(results[name])}')
    except CorpusError as error:
        sys.exit(f'voice_model: error: {error}')
    print(f'  {pathlib.Path(args.out) / "results.json"}')


if __name__ == '__main__':
    main()
