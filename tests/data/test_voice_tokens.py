"""bach2.data.voice_tokens and voice_data: pieces in voices as tokens, on the built-in corpus in voices."""
import json
import shutil

import numpy as np
import pytest

from bach2.data.default_corpus import KEYBOARD, KEYBOARD_VOICES
from bach2.data.voice_data import (VOICE_MANIFEST, chorale_tokens, jsb_voice_tokens, load_voice_tokens,
                                   piece_voice_tokens, prepare_voice_data)
from bach2.data.voice_tokens import (ABSENT, FIRST_PITCH, HOLD, REST, VoiceRules, is_texture, line_tokens,
                                     pad_voices, sounding_pitches, token_notes, transpose_tokens, voice_lines)
from bach2.midi_to_time_series import midi_to_time_series
from conftest import SHARED_DATA

STEP = 24       # a 16th note at 96 ticks per quarter


def token(pitch):
    return FIRST_PITCH + pitch - 21


def test_a_held_note_and_a_repeated_one_differ():
    held = line_tokens([(0, 60, 96)], STEP, 4)
    repeated = line_tokens([(0, 60, 48), (48, 60, 48)], STEP, 4)
    assert held.tolist() == [token(60), HOLD, HOLD, HOLD]
    assert repeated.tolist() == [token(60), HOLD, token(60), HOLD]
    assert token_notes(repeated, STEP) == [(0, 60, 48), (48, 60, 48)]
    assert line_tokens([(24, 62, 24)], STEP, 3).tolist() == [REST, token(62), REST]


def test_a_chord_in_a_voice_keeps_its_outer_note_and_an_overlap_cuts_the_note_before():
    rules = VoiceRules()
    chord = [(0, 60, 48), (0, 64, 48), (0, 67, 48)]
    assert line_tokens(chord, STEP, 2, rules=rules).tolist() == [token(67), HOLD]
    assert line_tokens(chord, STEP, 2, lowest_voice=True, rules=rules).tolist() == [token(60), HOLD]
    assert rules.chord_notes_dropped == 4
    overlap = line_tokens([(0, 60, 96), (48, 62, 24)], STEP, 5, rules=rules)
    assert overlap.tolist() == [token(60), HOLD, token(62), REST, REST] and rules.notes_cut == 1


def test_transposition_moves_pitches_and_keeps_rests_and_holds():
    rules = VoiceRules()
    tokens = np.array([[token(60), token(108)], [HOLD, HOLD], [REST, REST]], np.int16)
    moved = transpose_tokens(tokens, 2, rules)
    assert moved[:, 0].tolist() == [token(62), HOLD, REST]
    assert moved[0, 1] == token(98) and rules.notes_moved_octave == 1     # C8 + 2 leaves the keyboard
    assert sounding_pitches(moved)[:, 0].tolist() == [62, 62, -1]
    assert (pad_voices(moved, 4)[:, 2:] == ABSENT).all()


def test_the_voice_corpus_keeps_its_voices_note_for_note_on_the_grid():
    piece = midi_to_time_series(KEYBOARD_VOICES / 'mutopia' / 'bwv1080_fugue_contrapunctusi.mid')
    tokens, positions, rules = piece_voice_tokens(piece)
    assert tokens.shape[1] == 4 and len(positions) == len(tokens)
    assert rules.fragment_tracks == rules.separated_notes == 0
    voices = sorted(piece.voices, key=lambda v: -np.mean([p for _, p, _ in v.notes]))
    for column, voice in zip(tokens.T, voices):
        scale = piece.resolution // 4
        on_grid = [(o // scale * STEP, p, d // scale * STEP) for o, p, d in sorted(voice.notes)]
        assert token_notes(column, STEP) == on_grid
    means = [np.mean([p for p in sounding_pitches(tokens)[:, v] if p >= 0]) for v in range(4)]
    assert means == sorted(means, reverse=True)


def test_fragment_tracks_join_the_voice_they_continue():
    piece = midi_to_time_series(KEYBOARD_VOICES / 'buschke' / 'bwv877_fugue_wtc2_08.mid')
    step = piece.resolution / 4
    lines, rules = voice_lines([voice.notes for voice in piece.voices], step)
    assert len(piece.voices) == 6 and len(lines) == 4
    assert rules.fragment_tracks == 2 and rules.fragment_notes == 19
    assert sum(map(len, lines)) == piece.n_notes


def test_piano_staves_are_textures_and_voice_tracks_are_not():
    staves = midi_to_time_series(KEYBOARD / 'mutopia' / 'bwv846_fugue_wtk1-fugue1.mid')
    voices = midi_to_time_series(KEYBOARD_VOICES / 'mutopia' / 'bwv846_fugue_wtk1-fugue1.mid')
    assert is_texture([v.notes for v in staves.voices], staves.resolution / 4)
    assert not is_texture([v.notes for v in voices.voices], voices.resolution / 4)
    lines, rules = voice_lines([v.notes for v in staves.voices], staves.resolution / 4, n_voices=4)
    assert len(lines) == 4 and rules.separated_notes == staves.n_notes


def test_prepare_writes_every_key_and_a_manifest(tmp_path):
    folder = tmp_path / 'midi'
    folder.mkdir()
    for name in ('bwv1080_fugue_contrapunctusi.mid', 'bwv772_invention_bach-invention-01.mid'):
        shutil.copy(KEYBOARD_VOICES / 'mutopia' / name, folder / name)
    manifest = prepare_voice_data(folder, tmp_path / 'out', progress=False)
    assert [row['voices'] for row in manifest['pieces']] == [4, 2]
    assert json.loads((tmp_path / 'out' / VOICE_MANIFEST).read_text())['total']['voices'] == 6
    names, tokens, positions, split = load_voice_tokens(tmp_path / 'out', 'sh0')
    assert split is None and [t.shape[1] for t in tokens] == [4, 2]
    _, up, _, _ = load_voice_tokens(tmp_path / 'out', 'sh2')
    struck = tokens[1] >= FIRST_PITCH
    assert (up[1][struck] == tokens[1][struck] + 2).all() and (up[1][~struck] == tokens[1][~struck]).all()


def test_chorales_hold_a_repeated_pitch_and_keep_their_split():
    assert chorale_tokens([[60, 55, 52, 48], [60, 55, 52, 47]]).tolist() == [
        [token(60), token(55), token(52), token(48)], [HOLD, HOLD, HOLD, token(47)]]
    path = SHARED_DATA / 'jsb_chorales' / 'Jsb16thSeparated.json'
    if not path.is_file():
        pytest.skip('../shared/data is absent (CI has it)')
    chorales = jsb_voice_tokens(path)
    assert [len(chorales[s]) for s in ('train', 'valid', 'test')] == [229, 76, 77]
    assert all(t.shape[1] == 4 for t in chorales['test'])
