"""bach2.compose.harmonize and ``bach2 harmonize``: voices written around a line given note for note.

* a NADE drawn high to low, given its top pitch, samples the rest of the step from the exact conditional
  (frequencies against the enumerated distribution of a tiny model), and the cap on the pitches holds;
* a plan fixes the units of the outer voice it gives, and refuses an inner one;
* the voices are dealt with the given one kept, the others nearest where they were;
* the command, with the shipped models on a real Bach file: one track per voice, the melody (or bass)
  note for note, and a checkpoint of the wrong drawing order refused in one line;
* asked for four voices around tunes from outside the corpus (``benchmarks/tunes/``), the shipped models
  write four voices that sound from the first quarter note nearly throughout, in their registers; a melody too
  low to leave room for them is one line.
"""
import itertools
import re
from pathlib import Path

import mido
import numpy as np
import pytest

from bach2.app.cli import main
from bach2.compose.harmonize import (VoicePlan, bar_layout, harmonize_plan, order_segments, plan_units, read_line,
                                     separate_voices, write_with_plan)
from bach2.compose.lines import Sampling
from bach2.models.checkpoints import load_samplers
from bach2.measure.music_statistics import parallel_motion
from bach2.midi_to_time_series import midi_to_time_series
from bach2.models.checkpoints import SHIPPED_MODELS
from bach2.models.model_config import ModelConfig
from bach2.rnn_model import RNNModel
from bach2.sampling import Sampler
from midi_builders import off, on, write_midi

ROOT = Path(__file__).resolve().parents[2]
INVENTION = ROOT / 'training_data' / 'bach_keyboard' / 'mutopia' / 'bwv772_invention_bach-invention-01.mid'
TUNES = ROOT / 'benchmarks' / 'tunes'
P = 4
TINY = dict(n_layers=1, n_hidden=6, sequence_length=3, n_pitches=P, lowest_pitch=60, model='lstm-nade',
            nade_hidden=5, pitch_order='down')


@pytest.fixture(scope='module')
def down_state():
    model = RNNModel(ModelConfig(batch_size=2 ** P, **TINY))
    rng = np.random.default_rng(0)
    return {name: (rng.normal(0, 1.0, value.shape) if name.startswith(('output', 'lstm')) else value
                   ).astype(np.float32) for name, value in model.get_state().items()}


def test_a_given_top_pitch_leaves_the_rest_to_the_exact_conditional(down_state):
    model = RNNModel(ModelConfig(batch_size=2 ** P, **TINY))
    model.set_state(down_state, parameters_only=True)
    primer = np.array([[0, 1, 0, 0], [0, 0, 0, 1], [1, 0, 1, 0]], np.float32)        # one window
    steps = np.array(list(itertools.product([0, 1], repeat=P)), np.float32)            # every step
    conditionals = np.asarray(model.predict(np.repeat(primer[None], 2 ** P, axis=0), steps))
    joint = np.prod(np.where(steps > 0, conditionals, 1 - conditionals), axis=1)
    with_top = steps[:, P - 1] == 1
    exact = joint[with_top] / joint[with_top].sum()                    # p(lower three | top on)
    sampler = Sampler(ModelConfig(batch_size=1, **TINY), down_state)
    given = np.array([[-1, -1, -1, 1]], np.int8)
    drawn = [tuple(sampler.continue_piece(primer, 1, seed=seed, context='carry', given=given)[0][0])
             for seed in range(3000)]
    assert all(step[P - 1] == 1 for step in drawn)
    index = {tuple(step.astype(np.uint8)): i for i, step in enumerate(steps[with_top])}
    frequencies = np.bincount([index[step] for step in drawn], minlength=len(exact)) / len(drawn)
    np.testing.assert_allclose(frequencies, exact, atol=0.03)
    capped = [sampler.continue_piece(primer, 1, seed=seed, context='carry', given=given, max_notes=[2])[0][0]
              for seed in range(200)]
    assert max(step.sum() for step in capped) == 2 and all(step[P - 1] for step in capped)


def test_the_plan_gives_the_outer_voice_and_refuses_an_inner_one():
    line = np.array([2, 2, P, 1])
    plan = harmonize_plan(line, np.array([True, False, False, True]), 'soprano', 3, P)
    given, caps, orders = plan_units(plan, articulation=True)
    assert given[0].tolist() == [-1, -1, 1, 0, -1, -1, 1, 0]          # on, above it off; struck
    assert given[1, 2 + P] == 0 and given[2].tolist() == [-1] * 2 * P   # held; a rest leaves all free
    assert caps.tolist() == [3, 3, 2, 3] and orders.tolist() == ['down', 'down', '', 'down']
    bass = plan_units(harmonize_plan(line, np.ones(4, bool), 'bass', 3, P), articulation=False)[0]
    assert bass[0].tolist() == [0, 0, 1, -1]
    inner = VoicePlan(np.array([1]), np.array([2]), np.array([True]), np.ones((1, 3), bool), P)
    with pytest.raises(ValueError, match='between two sounding voices'):
        plan_units(inner, articulation=False)
    assert order_segments(np.array(['', 'up', '', 'down', 'down', ''], object)) == [(0, 3, 'up'), (3, 6, 'down')]


def test_voices_are_dealt_with_the_given_line_kept():
    n = 12
    line = np.array([10, 10, 11])
    plan = harmonize_plan(line, np.array([True, False, True]), 'soprano', 3, n)
    steps = np.zeros((3, 2 * n), np.uint8)
    for t, columns in enumerate([(10, 7, 3), (10, 4), (11, 7, 2)]):
        steps[t, list(columns)] = 1
        steps[t, n + np.array(columns)] = 1
    steps[1, n + 10] = 0                                              # the soprano held
    lines, onsets = separate_voices(steps, plan)
    assert lines[0].tolist() == [10, 10, 11] and onsets[0].tolist() == [True, False, True]
    assert lines[1].tolist() == [7, n, 7] and lines[2].tolist() == [3, 4, 2]      # 4 is nearer 3 than 7


def test_the_bars_of_a_piece_with_a_pickup():
    pickup = np.array([[0, 4], [1, 4], [2, 4], [3, 4]] + [[k, 16] for k in range(20)])      # a beat, then 4/4
    assert bar_layout(pickup) == (16, 12)
    assert bar_layout(np.array([[2, 16], [3, 16]])) == (16, 2) and bar_layout(np.array([[0, 12]] * 3)) == (12, 0)


def test_parallel_fifths_and_octaves_are_music21s():
    fifths = np.array([[48, 50], [41, 43]])                         # C4–D4 over F3–G3 (columns from 24)
    assert parallel_motion(fifths, 24, 61)['fifths'] == 1
    contrary = np.array([[48, 50], [41, 38]])
    assert parallel_motion(contrary, 24, 61) == {'fifths': 0, 'octaves': 0, 'pairs': 1, 'per_100_pairs': 0.0}


def track_notes(path):
    """{track name: [(start tick, pitch)]} of a MIDI file."""
    notes = {}
    for track in mido.MidiFile(path).tracks[1:]:
        name, tick, found = '', 0, []
        for message in track:
            tick += message.time
            if message.type == 'track_name':
                name = message.name
            elif message.type == 'note_on' and message.velocity:
                found.append((tick, message.note))
        notes[name] = found
    return notes


@pytest.mark.parametrize('voice', ['soprano', 'bass'])
def test_harmonize_keeps_the_given_line_note_for_note(voice, tmp_path, capsys):
    assert main(['harmonize', str(INVENTION), '--voice', voice, '--voices', '3', '--out-dir', str(tmp_path),
                 '--seed', '2']) == 0
    written = next(tmp_path.glob('*.mid'))
    assert str(written) in capsys.readouterr().out
    notes = track_notes(written)
    assert list(notes) == ['soprano', 'alto', 'bass']
    line, onsets, _ = read_line(INVENTION, 'top' if voice == 'soprano' else 'bottom', 61, 24)
    expected = [(int(t) * 24, int(line[t]) + 24) for t in np.flatnonzero(onsets)]
    piece = midi_to_time_series(written)
    assert [(time * 96 // piece.resolution, pitch) for time, pitch in notes[voice]] == expected
    others = [name for name in notes if name != voice]
    assert all(len(notes[name]) > 0 for name in others)


def test_a_checkpoint_of_the_wrong_order_is_one_line(tmp_path, capsys):
    assert main(['harmonize', str(INVENTION), '--voice', 'soprano', '--checkpoint', str(SHIPPED_MODELS['up']),
                 '--out-dir', str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert 'needed an lstm-nade drawn down' in error and error.count('\n') == 1
    assert not any(tmp_path.iterdir())


@pytest.fixture(scope='module')
def shipped():
    return load_samplers({'down': SHIPPED_MODELS['down'], 'up': SHIPPED_MODELS['up']})


@pytest.mark.parametrize('tune, voice, seed', [('auld_lang_syne', 'soprano', 0), ('auld_lang_syne', 'soprano', 2),
                                               ('amazing_grace', 'soprano', 1), ('old_hundredth', 'bass', 0)])
def test_four_voices_around_a_tune_from_outside_the_corpus_all_sound(shipped, tune, voice, seed):
    samplers, geometry = shipped
    line, onsets, positions = read_line(TUNES / f'{tune}.mid', 'top', geometry.n_pitches, geometry.lowest_pitch)
    if voice == 'bass':
        line = np.where(line < geometry.n_pitches, line - 24, line)                 # two octaves down: a bass
    plan = harmonize_plan(line, onsets, voice, 4, geometry.n_pitches)
    lines, _ = separate_voices(write_with_plan(samplers, plan, positions, Sampling(seed=seed)), plan)
    sounding = lines < geometry.n_pitches
    assert sounding.mean(axis=1).min() >= 0.9                # before: the bass silent in 94–100 % of the steps
    assert sounding[:, :4].any(axis=1).all()                 # every voice in the first quarter (before: 8–12)
    heights = [np.median(voice_line[voice_line < geometry.n_pitches]) for voice_line in lines]
    assert heights == sorted(heights, reverse=True)          # soprano, alto, tenor, bass: high to low


def test_a_melody_too_low_to_leave_room_for_the_voices_is_one_line(tmp_path, capsys):
    notes = (24, 26, 28, 29, 31, 29, 28, 26)                               # C1–G1
    melody = write_midi(tmp_path / 'low.mid', [[message for pitch in notes
                                                for message in (on(pitch), off(pitch, 96))]])
    assert main(['harmonize', str(melody), '--voices', '4', '--out-dir', str(tmp_path / 'out')]) == 2
    error = capsys.readouterr().err
    assert 'low.mid' in error and 'no room for 3 voices below' in error and error.count('\n') == 1
    assert not (tmp_path / 'out').exists() or not any((tmp_path / 'out').iterdir())


def test_the_score_takes_the_melodys_key_signature_where_its_notes_agree(tmp_path):
    from bach2.compose.harmonize import melody_key
    from bach2.midi_to_time_series import read_tune
    chorale = ROOT / 'Synthesized_Fugues' / 'examples' / 'chorale_bwv66.6_soprano.mid'   # written in F♯ minor
    assert melody_key(read_tune(chorale)) == ('F#', 'minor')       # all its voices' notes say E major
    assert melody_key(read_tune(TUNES / 'auld_lang_syne.mid')) == ('Bb', 'major')    # the notes alone: G minor
    midi = mido.MidiFile(TUNES / 'auld_lang_syne.mid')
    for message in midi.tracks[0]:
        if message.type == 'key_signature':
            message.key = 'C'                           # what some MIDI writers put whatever the key
    midi.save(tmp_path / 'default_signature.mid')
    assert melody_key(read_tune(tmp_path / 'default_signature.mid')) == ('G', 'minor')    # found from the notes


def test_a_b_flat_tune_harmonized_has_two_flats(tmp_path):
    assert main(['harmonize', str(TUNES / 'auld_lang_syne.mid'), '--voices', '4', '--musicxml', '--no-wav',
                 '--out-dir', str(tmp_path)]) == 0
    score = next(tmp_path.glob('*.musicxml')).read_text()
    assert set(re.findall(r'<fifths>(-?\d+)</fifths>', score)) == {'-2'}     # before: 10 (A♯ major)
