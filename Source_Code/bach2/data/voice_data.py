"""Training data in voices: a corpus of MIDI (or the JSB Chorales with voices apart) → voice tokens in every key.

:func:`prepare_voice_data` reads a folder as stage 0 does (:func:`bach2.data.prepare.read_corpus`: movements
split, bad files listed), turns each piece into voices (:func:`bach2.data.voice_tokens.voice_lines`) and writes,
for k = 0 … 11, ``voice_tokens_<N>ticks_sh<k>.p`` / ``.npz`` (:func:`bach2.data.prepare.save_sequences`):
``voice_tokens`` ``T_i × MAX_VOICES`` int16 per piece (:data:`~bach2.data.voice_tokens.ABSENT` past its voices),
``bar_positions`` ``T_i × 2``, ``n_voices``, ``semitones``; and ``voice_manifest.json`` with each rule's counts
per piece and in all (:class:`~bach2.data.voice_tokens.VoiceRules`).

:func:`jsb_voice_tokens` reads ``Jsb16thSeparated.json`` (Coconet's data: each chorale a list of 16ths, four
MIDI pitches per 16th, soprano first): a voice that keeps its pitch from one 16th to the next holds it (the data
cannot tell a held note from a re-struck one); bars of 16 steps from the first 16th.
"""
import dataclasses
import json
import math
import pathlib

import numpy as np
from tqdm import tqdm

from bach2.common import CorpusError
from bach2.data.prepare import BAR_POSITIONS, PrepareConfig, find_midi_files, read_corpus, save_sequences
from bach2.data.voice_tokens import (HOLD, REST, VoiceRules, line_steps, pad_voices, piece_tokens, pitch_token,
                                     transpose_tokens, voice_lines)
from bach2.music.metre import piece_positions, regular_positions
from bach2.safe_io import atomic_path
from bach2.time_series_to_pitch_matrix import JOURNAL_STEP_TICKS, shift_semitones, ticks_per_step

VOICE_MANIFEST = 'voice_manifest.json'
JSB_SPLITS = ('train', 'valid', 'test')


def voice_tokens_name(step_ticks, label):
    """'voice_tokens_24ticks_sh3': the stored tokens of transposition ``label`` (as the pitch matrices name theirs)."""
    return f'voice_tokens_{step_ticks}ticks_{label}'


def piece_voice_tokens(piece, step_ticks=JOURNAL_STEP_TICKS, n_voices=None):
    """A :class:`~bach2.midi_to_time_series.Piece` → (``T × V`` int16 tokens, ``T × 2`` bar positions,
    :class:`VoiceRules`); ``n_voices``: voices wanted where its tracks are textures (None: as estimated)."""
    step = ticks_per_step(piece.resolution, step_ticks)
    lines, rules = voice_lines([voice.notes for voice in piece.voices], step, n_voices)
    n_steps = line_steps(lines, step)
    tokens = piece_tokens(lines, step, n_steps, rules)
    return tokens, piece_positions(piece, step_ticks, n_steps), rules


def prepare_voice_data(data_dir, out_dir, step_ticks=JOURNAL_STEP_TICKS, progress=True):
    """A folder of MIDI → voice tokens in 12 keys in ``out_dir`` (see the module) → the manifest dict."""
    pieces, failures, skipped = read_corpus(find_midi_files(data_dir), PrepareConfig(step_ticks=step_ticks),
                                            progress=progress)
    tokens, positions, rows, total = [], [], [], VoiceRules()
    for piece in tqdm(pieces, desc='voices', unit='piece', disable=not progress):
        piece_tokens_, piece_positions_, rules = piece_voice_tokens(piece, step_ticks)
        if piece_tokens_.shape[1] < 2:
            skipped.append((piece.name, f'{piece_tokens_.shape[1]} voice: a model of voices needs two or more'))
            continue
        tokens.append(piece_tokens_)
        positions.append(piece_positions_)
        rows.append({'piece': piece.name, 'steps': len(piece_tokens_), **dataclasses.asdict(rules)})
        total.add(rules)
    if not tokens:
        raise CorpusError(f'{data_dir}: no piece with two or more voices')
    moved = write_voice_tokens(out_dir, tokens, positions, [row['piece'] for row in rows], step_ticks)
    total.notes_moved_octave = moved.notes_moved_octave     # summed over the 12 keys
    manifest = {'step_ticks': step_ticks, 'pieces': rows, 'total': dataclasses.asdict(total),
                'failed_files': [{'file': path, 'reason': reason} for path, reason in failures],
                'skipped': [{'piece': name, 'reason': reason} for name, reason in skipped]}
    with atomic_path(pathlib.Path(out_dir) / VOICE_MANIFEST) as temporary, open(temporary, 'w') as handle:
        json.dump(manifest, handle, indent=1)
    return manifest


def write_voice_tokens(out_dir, tokens, positions, names, step_ticks=JOURNAL_STEP_TICKS, **extra):
    """Pieces' ``T_i × V_i`` tokens → ``voice_tokens_<N>ticks_sh<k>`` for k = 0 … 11 in ``out_dir`` →
    :class:`VoiceRules` of the notes moved an octave (summed over the keys). ``extra``: one value per piece."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    moved = VoiceRules()
    for k in range(12):
        shifted = [pad_voices(transpose_tokens(t, shift_semitones(k), moved)) for t in tokens]
        save_sequences(out_dir, voice_tokens_name(step_ticks, f'sh{k}'), 'voice_tokens', shifted, names,
                       per_step={BAR_POSITIONS: positions}, n_voices=[t.shape[1] for t in tokens],
                       semitones=[shift_semitones(k)] * len(names), step_ticks=step_ticks, **extra)
    return moved


def load_voice_tokens(data_dir, label='sh0', step_ticks=JOURNAL_STEP_TICKS):
    """Prepared voice tokens of one transposition → (names, [``T_i × V_i`` int16 tokens], [``T_i × 2``
    positions], [split of each piece] or None); CorpusError naming the file when it is missing."""
    path = pathlib.Path(data_dir) / f'{voice_tokens_name(step_ticks, label)}.npz'
    if not path.is_file():
        raise CorpusError(f'{path}: no such file; run bach2 voices prepare first')
    with np.load(path) as arrays:
        starts, counts = arrays['piece_starts'], arrays['n_voices']
        tokens, positions = arrays['voice_tokens'], arrays[BAR_POSITIONS]
        names = [str(name) for name in arrays['names']]
        split = [str(side) for side in arrays['split']] if 'split' in arrays.files else None
    spans = list(zip(starts[:-1], starts[1:]))
    return (names, [tokens[a:b, :v] for (a, b), v in zip(spans, counts)], [positions[a:b] for a, b in spans],
            split)


def prepare_jsb_voice_data(json_path, out_dir):
    """``Jsb16thSeparated.json`` → voice tokens in 12 keys in ``out_dir``, pieces named ``<split>_<i>`` with
    their ``split`` stored (the standard 229 / 76 / 77) → number of chorales per split."""
    chorales = jsb_voice_tokens(json_path)
    tokens = [t for split in JSB_SPLITS for t in chorales[split]]
    names = [f'{split}_{i:03d}' for split in JSB_SPLITS for i in range(len(chorales[split]))]
    sides = [split for split in JSB_SPLITS for _ in chorales[split]]
    write_voice_tokens(out_dir, tokens, [chorale_positions(len(t)) for t in tokens], names, split=sides)
    return {split: len(chorales[split]) for split in JSB_SPLITS}


def jsb_voice_tokens(path):
    """``Jsb16thSeparated.json`` → {split: [``T × 4`` int16 tokens]}; CorpusError naming the file otherwise."""
    try:
        data = json.loads(pathlib.Path(path).read_text())
        return {split: [chorale_tokens(chorale) for chorale in data[split]] for split in JSB_SPLITS}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise CorpusError(f'{path}: not the JSB Chorales at 16ths with voices apart ({error})') from None


def chorale_tokens(chorale):
    """[[4 MIDI pitches] per 16th] (NaN or None: silent) → ``T × 4`` tokens; a pitch equal to the one before
    holds."""
    pitches = np.array([[np.nan if p is None else p for p in frame] for frame in chorale], float)
    tokens = np.full(pitches.shape, REST, np.int16)
    for t in range(len(pitches)):
        for v in range(pitches.shape[1]):
            pitch = pitches[t, v]
            if math.isnan(pitch):
                continue
            held = t > 0 and pitches[t - 1, v] == pitch
            tokens[t, v] = HOLD if held else pitch_token(int(pitch))
    return tokens


def chorale_positions(n_steps):
    """Bars of 16 steps (4/4 at 16ths) from the first step: the chorales carry no time signature."""
    return regular_positions(n_steps, 16)
