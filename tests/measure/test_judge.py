"""bach2.measure.judge and benchmarks/judge_pieces.py on test-made pieces whose answer is known."""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from bach2.measure.judge import (FEATURE_NAMES, Copy, CopyIndex, excerpt_features, excerpts, judge_accuracy,
                                 longest_copy)
from bach2.measure.motifs import MATERIAL
from bach2.music.metre import regular_positions
from bach2.safe_io import save_npz, save_pickle

_spec = importlib.util.spec_from_file_location(
    'judge_pieces', Path(__file__).resolve().parents[2] / 'benchmarks' / 'judge_pieces.py')
judge_pieces = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(judge_pieces)

P = 61
C_MAJOR = (0, 2, 4, 5, 7, 9, 11)


def structured(rng, steps=256):
    """Two voices in C major: a melody of 8ths and quarters moving by step or third, a bass of half notes."""
    matrix = np.zeros((steps, P), np.uint8)
    degree = 14
    for t in range(0, steps, 8):
        matrix[t:t + 8, rng.choice([0, 5, 7]) + 12] = 1                               # C, F or G, MIDI 36–43
    t = 0
    while t < steps:
        length = int(rng.choice([2, 4]))
        degree = int(np.clip(degree + rng.choice([-2, -1, 1, 2]), 7, 24))
        matrix[t:t + length - 1, 12 * (degree // 7) + C_MAJOR[degree % 7] + 12] = 1  # detached: each note struck
        t += length
    return matrix


def noise(rng, steps=256):
    """Each pitch sounds at each step with probability 0.04."""
    return (rng.random((steps, P)) < 0.04).astype(np.uint8)


def test_a_passage_copied_a_minor_third_up_is_found_with_its_length_and_shift():
    rng = np.random.default_rng(0)
    corpus = [noise(rng, 200) for _ in range(5)]
    corpus[2][:, P - 3:] = 0                                       # room to move the passage up 3
    piece = noise(rng, 256)
    piece[100:140] = 0
    piece[100:140, 3:] = corpus[2][30:70, :P - 3]
    assert longest_copy(piece, corpus) == Copy(40, corpus_piece=2, corpus_start=30, shift=3, piece_start=100)
    assert longest_copy(piece, CopyIndex(corpus), shifts=[0, -3]).steps < 40      # not in these transpositions


def test_silence_never_counts_but_leads_into_a_copied_row():
    chord = np.zeros(P, np.uint8)
    chord[[20, 24, 27]] = 1
    corpus = [np.concatenate([np.zeros((50, P), np.uint8), chord[None], np.zeros((50, P), np.uint8)])]
    assert longest_copy(np.zeros((80, P), np.uint8), corpus).steps == 0
    piece = np.zeros((80, P), np.uint8)
    piece[40] = np.roll(chord, 1)                                 # the chord a semitone up, after 40 silent steps
    found = longest_copy(piece, corpus)
    assert (found.steps, found.shift) == (40 + 1 + 39, 1)         # silence around a sounding row is copied too
    piece[40] = 0
    piece[40, [30, 40]] = 1                                       # a chord nowhere in the corpus
    assert longest_copy(piece, corpus).steps == 0


def test_notes_pushed_out_of_the_window_match_nothing():
    corpus = [np.zeros((4, P), np.uint8)]
    corpus[0][:, 58] = 1
    piece = np.zeros((4, P), np.uint8)
    piece[:, [1, 60]] = 1                                          # 2 lower: column 1 leaves, column 60 → 58
    assert longest_copy(piece, corpus).steps == 0
    assert longest_copy(piece[:, ::-1].copy(), [corpus[0][:, ::-1].copy()]).steps == 0   # and at the top


def test_excerpts_leave_out_silence_and_the_short_tail():
    piece = np.ones((64 * 3 + 10, P), np.uint8)
    piece[64:128] = 0
    struck = np.zeros_like(piece)
    struck[::4] = 1                                                         # every pitch struck each quarter
    found = excerpts([(piece, regular_positions(len(piece), 16), struck), (piece[:63], None)])
    assert [(i, len(matrix), len(positions)) for i, matrix, positions, _ in found] == [(0, 64, 64), (0, 64, 64)]
    np.testing.assert_array_equal(found[1][3], struck[128:192])
    # struck again each quarter: notes of 4 steps, not one held note, and 16 times the onsets
    held, played = excerpt_features(found[1][1]), excerpt_features(found[1][1], onsets=found[1][3])
    duration = [FEATURE_NAMES.index(f'duration {label}') for label in ('4', '17+')]
    assert held[duration].tolist() == [0, 1] and played[duration].tolist() == [1, 0]
    assert played[FEATURE_NAMES.index('onsets per step')] == 16 * held[FEATURE_NAMES.index('onsets per step')]


def test_features_do_not_depend_on_the_key_or_register():
    matrix = structured(np.random.default_rng(3), 64)
    features = excerpt_features(matrix)
    assert features.shape == (len(FEATURE_NAMES),)
    assert not matrix[:, P - 5:].any()
    np.testing.assert_allclose(excerpt_features(np.roll(matrix, 5, axis=1)), features)   # up a fourth


def test_the_judge_cannot_tell_pieces_of_one_kind_apart():
    rng = np.random.default_rng(1)
    result = judge_accuracy([(structured(rng), None) for _ in range(40)], [(structured(rng), None) for _ in range(40)])
    assert result['excerpts'] == 160 and result['pieces'] == {'bach': 40, 'generated': 40}
    assert abs(result['accuracy'] - 0.5) <= 0.15


def test_the_judge_tells_noise_from_music_and_says_why():
    rng = np.random.default_rng(2)
    result = judge_accuracy([(noise(rng), None) for _ in range(20)], [(structured(rng), None) for _ in range(30)])
    assert result['excerpts'] == 80                                # balanced: 20 noise pieces of 4 excerpts
    assert result['accuracy'] > 0.9
    assert len(result['top_features']) == 8 and all(name in FEATURE_NAMES for name, _ in result['top_features'])


def test_bach_is_told_from_noise(bach_keyboard_files, tmp_path):
    from bach2.measure.evaluate import load_pieces
    for path in bach_keyboard_files[:6]:
        (tmp_path / path.name).symlink_to(path)
    _, pieces, _ = load_pieces(tmp_path, progress=False)
    rng = np.random.default_rng(4)
    result = judge_accuracy([(noise(rng), None) for _ in range(15)], [(matrix, positions) for matrix, _, _, positions
                                                                      in pieces])
    assert result['accuracy'] > 0.9
    source = pieces[1][0]
    assert not source[200:248, :2].any()                           # nothing below MIDI 26 there
    piece = noise(rng)
    piece[10:58] = 0
    piece[10:58, :P - 2] = source[200:248, 2:]                     # 2 semitones down
    assert longest_copy(piece, [matrix for matrix, *_ in pieces]) == Copy(48, 1, 200, -2, 10)


def prepared_folder(folder, rng):
    """A stand-in for `bach2 prepare` output: 20 structured pieces bwv1 … bwv20, 4/4, no chords."""
    matrices = [structured(rng, 320) for _ in range(20)]
    starts = np.cumsum([0] + [len(m) for m in matrices])
    names = np.array([f'bwv{k + 1}_test' for k in range(20)])
    save_npz(folder / 'pitch_matrix_24ticks_sh0.npz', pitch_matrices=np.concatenate(matrices), piece_starts=starts,
             names=names, lowest_pitch=np.int64(24), bar_positions=regular_positions(starts[-1], 16))
    save_npz(folder / 'chord_sequence_sh0.npz', chord_sequences=np.zeros(starts[-1] // 4, np.int16),
             piece_starts=starts // 4, names=names)
    return matrices


def run_benchmark(monkeypatch, *argv):
    monkeypatch.setattr(sys, 'argv', ['judge_pieces.py', *map(str, argv)])
    judge_pieces.main()


def test_the_benchmark_end_to_end_and_its_errors(tmp_path, monkeypatch, capsys):
    from bach2.data.training_windows import split_by_bwv
    rng = np.random.default_rng(5)
    data, made, empty, out = (tmp_path / name for name in ('data', 'made', 'empty', 'out.json'))
    for folder in (data, made, empty):
        folder.mkdir()
    matrices = prepared_folder(data, rng)
    copied = split_by_bwv([f'bwv{k + 1}' for k in range(20)], 0.5)[0][0]       # a training piece
    for k in range(16):
        matrix = noise(rng) if k else matrices[copied][:256]     # made_0 copies it whole
        save_pickle({'pitch_matrix': matrix, 'lowest_pitch': 24, 'step_ticks': 24, 'bar_positions': None},
                    made / f'made_{k}.p')
    run_benchmark(monkeypatch, 'made=' + str(made), '--data', data, '--out', out, '--valid-fraction', 0.5)
    results = json.loads(out.read_text())['results']
    assert results['made']['judge']['accuracy'] > 0.85
    copies = results['made']['copies']
    assert copies['share_over_limit'] == pytest.approx(1 / 16) and copies['max'] == 256
    assert copies['per_piece'][0] == {'piece': 'made_0', 'steps': 256, 'corpus_piece': f'bwv{copied + 1}_test',
                                      'corpus_start': 0, 'shift': 0, 'piece_start': 0}
    assert '| held-out Bach | 10 |' in capsys.readouterr().out
    for argv, problem in [(['made=' + str(tmp_path / 'nowhere')], 'nowhere: no such folder'),
                          (['made=' + str(empty)], 'empty: no .mid or .midi files')]:
        with pytest.raises(SystemExit, match=problem):
            run_benchmark(monkeypatch, *argv, '--data', data, '--out', out, '--valid-fraction', 0.5)
    save_pickle({'pitch_matrix': noise(rng), 'lowest_pitch': 36, 'step_ticks': 24}, made / 'made_2.p')
    (made / 'made_3.p').write_bytes(b'not a pickle')
    for bad, problem in [('made_2.p', 'made_2.p: generated with Geometry'), ('made_3.p', 'made_3.p: not a readable')]:
        with pytest.raises(SystemExit, match=problem):
            run_benchmark(monkeypatch, 'made=' + str(made), '--data', data, '--out', out, '--valid-fraction', 0.5)
        (made / bad).unlink()


def test_the_judge_command(tmp_path):
    """``bach2 judge`` prints the judge's accuracy and the longest copies and writes them as JSON; a missing
    folder is one line on stderr."""
    import subprocess
    import sys
    rng = np.random.default_rng(6)
    data, made = tmp_path / 'data', tmp_path / 'made'
    data.mkdir()
    made.mkdir()
    prepared_folder(data, rng)
    for k in range(12):
        save_pickle({'pitch_matrix': noise(rng), 'lowest_pitch': 24, 'step_ticks': 24, 'bar_positions': None},
                    made / f'made_{k}.p')
    command = [sys.executable, '-m', 'bach2.app.cli', 'judge', str(made), '--corpus', str(data), '--valid-fraction', '0.5',
               '--json', str(tmp_path / 'judge.json')]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'judge accuracy' in result.stdout and 'longest copy from 10 training pieces' in result.stdout
    assert 'their own material, per 4-bar excerpt' in result.stdout and 'Bach, others' in result.stdout
    written = json.loads((tmp_path / 'judge.json').read_text())
    assert written['judge']['accuracy'] > 0.85 and written['copies']['max'] < 32
    for side in ('pieces', 'held-out Bach'):
        assert set(written['material'][side]) == set(MATERIAL) and 0 < written['material'][side]['beats struck'] <= 1
    command[4] = str(tmp_path / 'nowhere')
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and result.stderr.strip().endswith('nowhere: no such folder')
    assert len(result.stderr.strip().splitlines()) == 1
