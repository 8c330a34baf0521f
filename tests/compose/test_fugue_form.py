"""bach2.compose.fugue_form and ``bach2 fugue --form whole`` / ``bach2 complete``: a whole fugue planned and
written, an unfinished piece brought to a close.

* lines move into keys by scale steps (a minor subject in major takes the major's notes);
* the plan of a real subject (Bach's, from the corpus in voices): the exposition alternates subject and answer
  in tonic and dominant, the middle entries go to the related keys in inner voices too, a stretto that fits,
  the final entry in the tonic, the final chord on the tonic; every entry's cells are its notes;
* counterpoint checks refuse crossing, dissonant strong beats and parallels;
* the plan file round-trips, and a broken one is named with what is wrong;
* writing (a small untrained model: what is tested is what the writing keeps): every planned cell as planned,
  the countersubject written in the exposition comes back against later entries, the last chord is the tonic,
  ``--plan`` writes the same form again;
* a completion keeps the piece and ends on its tonic;
* the subject finder finds every planned entry, and Bach's entries in his fugues.
"""
import json

import numpy as np
import pytest

from bach2.app.cli import main
from bach2.compose import fugue_form
from bach2.compose.fugue import SubjectError, read_subject
from bach2.compose.fugue_form import (RELATED_KEYS, WholeForm, complete_voices, ends_on_tonic, final_chord, fits,
                                      in_key, plan_cells, plan_dict, plan_fugue, read_plan, save_plan,
                                      stretto_options, write_whole_fugue)
from bach2.compose.lines import Sampling
from bach2.compose.voice_writing import read_voices, voice_model_for
from bach2.data.default_corpus import KEYBOARD_VOICES
from bach2.data.voice_tokens import FIRST_PITCH, HOLD, LOWEST, REST
from bach2.measure.fugue_profile import find_entries, form_profile, token_pitches
from bach2.midi_to_time_series import midi_to_time_series
from bach2.models.checkpoints import save_model_checkpoint
from bach2.models.voice_model import VoiceConfig, VoiceModel
from bach2.render.piece import Output
from bach2.safe_io import load_pickle

ART_OF_FUGUE_I = KEYBOARD_VOICES / 'mutopia' / 'bwv1080_fugue_contrapunctusi.mid'     # D minor, 4 voices
WTC1_C_MAJOR = KEYBOARD_VOICES / 'buschke' / 'bwv846_fugue_wtc1_01.mid'
SHORT = 'C4:0.5 Eb4 D4 C4 B3:1 C4:0.5 D4 G3:1'


def bach_subject(path):
    """A fugue of the corpus in voices → (its VoicePiece, its opening subject as a Subject)."""
    voices = read_voices(midi_to_time_series(path))
    return voices, fugue_form.piece_subject(voices)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A small voice model with its initial parameters, as a checkpoint."""
    path = tmp_path_factory.mktemp('model') / 'voices.npz'
    model = VoiceModel(VoiceConfig(channels=8, n_blocks=1, dilations=(1,)), training=False, seed=2)
    return save_model_checkpoint(path, model, {'held_out': []})


def test_a_line_moves_into_a_key_by_scale_steps():
    line = np.array([60, 63, 67, 71, 68, 70, 69, -1])                   # C minor: C Eb G B Ab Bb A, a rest
    assert in_key(line, (0, 'minor'), (3, 'major')).tolist() == [63, 67, 70, 74, 72, 74, 72, -1]   # Eb major
    assert in_key(line, (0, 'minor'), (7, 'minor')).tolist() == [55, 58, 62, 66, 63, 65, 64, -1]   # by semitones
    assert in_key(np.array([60, 64, 67, 69, 71]), (0, 'major'), (9, 'minor')).tolist() == [57, 60, 64, 65, 68]


@pytest.mark.skipif(not ART_OF_FUGUE_I.is_file(), reason='the built-in corpus in voices is not here')
def test_the_plan_of_a_real_subject_is_a_fugue():
    _, subject = bach_subject(ART_OF_FUGUE_I)
    plan = plan_fugue(subject, WholeForm(voices=3))
    entries = plan.entries()
    assert plan.key == (2, 'minor')
    exposition = [e for e in entries if e.section == 'exposition']
    assert [e.kind for e in exposition] == ['subject', 'answer', 'subject']
    assert [e.key for e in exposition] == [(2, 'minor'), (9, 'minor'), (2, 'minor')]
    assert sorted(e.voice for e in exposition) == [0, 1, 2]
    middle = [e for e in entries if e.section == 'middle entry']
    assert [e.key for e in middle] == [((2 + up) % 12, mode) for up, mode in RELATED_KEYS['minor'][:3]]
    assert any(0 < e.voice < 2 for e in middle)                           # an inner voice too
    assert entries[-1].section == 'final entry' and entries[-1].key == (2, 'minor') and entries[-1].voice == 0
    stretto = [e for e in entries if e.section == 'stretto']
    assert len(stretto) == 2 and stretto[0].step < stretto[1].step < stretto[0].step + stretto[0].steps
    assert plan.events[-1].kind == 'cadence' and plan.events[-1].step + plan.events[-1].steps == plan.length
    assert [e.kind for e in plan.events].count('episode') == 5
    fugue_form.check_plan(plan, 'the plan')                               # no two events in one cell
    for event in (e for e in plan.events if e.kind == 'dominant'):       # the bass leads into the entry's key
        following = next(e for e in entries if e.step == event.step + plan.bar // 2)
        assert event.voice == 2 and following.key == event.key and following.voice != 2
        bass, struck = fugue_form.event_line(plan, event)                 # V for half a bar, I on the entry's beat
        assert {p % 12 for p in bass[:plan.bar // 2]} == {(event.key[0] + 7) % 12} and struck[plan.bar // 2]
        assert {p % 12 for p in bass[plan.bar // 2:]} == {event.key[0]}
    tokens, given = plan_cells(plan)
    for entry in entries:                                                 # every entry note for note
        pitches, onsets = token_pitches(tokens[entry.voice, entry.step:entry.step + entry.steps])
        expected, struck = fugue_form.event_line(plan, entry)
        assert (pitches == expected).all() and (onsets[struck & (expected >= 0)]).all()
        assert given[entry.voice, entry.step:entry.step + entry.steps].all()
    assert ends_on_tonic(tokens, 2)
    assert not given[:, entries[0].step + entries[0].steps:entries[1].step + 1].all()   # room for the model
    assert 25 <= plan.bar_of(plan.length - 1) <= 90                       # as long as the WTC fugues run


def test_more_bars_ask_for_more_middle_entries():
    subject = read_subject(SHORT, fugue_form.VOICE_GEOMETRY)
    plans = [plan_fugue(subject, WholeForm(bars=bars)) for bars in (24, 60)]
    assert len(plans[0].entries()) < len(plans[1].entries())
    assert abs(plans[1].bar_of(plans[1].length - 1) - 60) <= 4
    with pytest.raises(SubjectError, match='bars: 8 to 200'):
        WholeForm(bars=500)
    assert not any(e.section == 'stretto' for e in plan_fugue(subject, WholeForm(stretto=False)).events)
    asked = plan_fugue(subject, WholeForm(keys=('F minor', 'Ab major', 'Bb minor', 'Eb major')))
    assert [fugue_form.key_text(e.key) for e in asked.entries() if e.section == 'middle entry'] == \
        ['F minor', 'Ab major', 'Bb minor', 'Eb major']


def test_counterpoint_checks():
    upper = np.array([72, 72, 72, 72, 74, 74, 74, 74])
    assert fits(upper, np.array([60] * 4 + [62] * 4), 0, 16) is False      # parallel octaves
    assert fits(upper, np.array([64] * 4 + [65] * 4), 0, 16) is True       # parallel sixths
    assert fits(np.array([60] * 8), np.array([65] * 8), 0, 16) is False    # crossed
    assert fits(np.array([66] * 8), np.array([60] * 8), 0, 16) is False    # a tritone on the downbeat
    subject = read_subject(SHORT, fugue_form.VOICE_GEOMETRY)
    plan = plan_fugue(subject)
    for lag, interval in stretto_options(plan):
        follower = np.r_[np.full(lag, -1), subject.pitches + interval]
        leader = np.r_[subject.pitches, np.full(lag, -1)]
        assert fits(*((follower, leader) if interval > 0 else (leader, follower)), plan.lead, plan.bar)


def test_the_final_chord_is_the_tonic_with_a_major_third_in_minor():
    chord = final_chord(2, 'minor', 4)
    assert chord == sorted(chord, reverse=True) and chord[-1] % 12 == 2
    assert {p % 12 for p in chord} == {2, 6, 9}
    assert 5 in {p % 12 for p in final_chord(2, 'minor', 4, third='minor')}


def test_the_plan_file_round_trips_and_a_broken_one_is_named(tmp_path):
    plan = plan_fugue(read_subject(SHORT, fugue_form.VOICE_GEOMETRY), WholeForm(voices=3, middle=2))
    path = save_plan(plan, tmp_path / 'p.plan.json')
    again = read_plan(path)
    assert plan_dict(again) == plan_dict(plan)
    assert all((a == b).all() for a, b in zip(plan_cells(again), plan_cells(plan)))
    record = json.loads(path.read_text())
    record['events'][1]['step'] = record['events'][0]['step']
    record['events'][1]['voice'] = record['events'][0]['voice']
    path.write_text(json.dumps(record))
    with pytest.raises(SubjectError, match=rf'{path}: answer at step 0 overlaps another event in the'):
        read_plan(path)
    record = json.loads(save_plan(plan, path).read_text())
    record['events'][0]['octave'] = 6
    path.write_text(json.dumps(record))
    with pytest.raises(SubjectError, match=rf'{path}: the subject at bar 1 goes outside A0–C8'):
        read_plan(path)
    path.write_text('{"format": "something else"}')
    with pytest.raises(SubjectError, match=rf'{path}: not a readable plan file: not a plan file'):
        read_plan(path)


def test_a_whole_fugue_keeps_its_plan_and_its_countersubject(checkpoint, tmp_path):
    form = WholeForm(voices=3, middle=1, episode_bars=1)
    files, report = write_whole_fugue(SHORT, form, checkpoint=checkpoint, sampling=Sampling(seed=3),
                                      output=Output(tmp_path, audio=None))
    assert report['entries_intact'] == 1.0 and report['ends_on_tonic']
    written = load_pickle(files['p'])['voice_tokens']
    plan = read_plan(files['plan'])
    tokens, given = plan_cells(plan)
    assert (written[given] == tokens[given]).all()
    first, second = plan.entries()[:2]
    countersubject = written[first.voice, second.step:second.step + second.steps]
    assert (token_pitches(countersubject)[0] == plan.countersubject[0]).all()
    later = [e for e in plan.events if e.kind == 'countersubject']
    assert report['countersubjects'].startswith(f'{len(later)} of')
    for voice in range(3):                         # silent before its first entry, countersubject or not
        first = min(e.step for e in plan.entries() if e.voice == voice)
        assert (written[voice, :first] == REST).all() and all(e.step >= first for e in later if e.voice == voice)
    for event in later:                            # the same line, moved into the entry's key
        line, _ = fugue_form.event_line(plan, event)
        assert (token_pitches(written[event.voice, event.step:event.step + event.steps])[0] == line).all()
    assert [step for step, _ in fugue_form.plan_marks(plan)] == sorted(step for step, _ in fugue_form.plan_marks(plan))


def test_the_command_writes_a_whole_fugue_and_again_from_its_plan(checkpoint, tmp_path, capsys):
    assert main(['fugue', SHORT, '--voices', '3', '--middle-entries', '0', '--episode-bars', '1', '--no-stretto',
                 '--checkpoint', str(checkpoint), '--out-dir', str(tmp_path), '--no-wav', '--name', 'first']) == 0
    out = capsys.readouterr().out
    assert 'C minor, 3 voices' in out and 'final entry' in out and 'stretto: off' in out
    plan_path = tmp_path / 'first.plan.json'
    assert main(['fugue', '--plan', str(plan_path), '--checkpoint', str(checkpoint), '--out-dir', str(tmp_path),
                 '--no-wav', '--name', 'second', '--seed', '5']) == 0
    plans = [read_plan(tmp_path / f'{name}.plan.json') for name in ('first', 'second')]
    assert plan_dict(plans[0]) == plan_dict(plans[1])
    tokens, given = plan_cells(plans[0])
    for name in ('first', 'second'):
        written = load_pickle(tmp_path / f'{name}.p')['voice_tokens']
        assert (written[given] == tokens[given]).all()


@pytest.mark.skipif(not WTC1_C_MAJOR.is_file(), reason='the built-in corpus in voices is not here')
def test_a_completion_keeps_the_piece_and_ends_on_its_tonic(checkpoint):
    voices = read_voices(midi_to_time_series(WTC1_C_MAJOR))
    head = type(voices)(voices.tokens[:, :64], voices.positions[:64], voices.names)
    done, given = complete_voices(voice_model_for(checkpoint, 'voices'), head, 48, (0, 'major'), Sampling(seed=1))
    assert (done.tokens[:, :64] == head.tokens).all() and done.tokens.shape == (4, 112)
    assert ends_on_tonic(done.tokens, 0)
    assert (done.tokens[-1, 80] == FIRST_PITCH + 48 - LOWEST) and (done.tokens[-1, 81:96] == HOLD).all()  # pedal


def test_the_subject_finder_finds_every_planned_entry():
    plan = plan_fugue(read_subject(SHORT, fugue_form.VOICE_GEOMETRY), WholeForm(voices=4))
    tokens, _ = plan_cells(plan)
    found = {(step, voice) for step, voice, _ in find_entries(tokens, (plan.subject.pitches, plan.subject.onsets))}
    assert {(e.step, e.voice) for e in plan.entries()} <= found


@pytest.mark.skipif(not WTC1_C_MAJOR.is_file(), reason='the built-in corpus in voices is not here')
def test_bach_s_entries_are_found_in_his_fugue():
    voices, subject = bach_subject(WTC1_C_MAJOR)
    profile = form_profile(voices.tokens, (subject.pitches, subject.onsets), 16)
    assert profile['entries'] >= 15 and profile['stretti'] >= 5 and profile['episode share'] < 0.2


@pytest.mark.skipif(not WTC1_C_MAJOR.is_file(), reason='the built-in corpus in voices is not here')
def test_the_complete_command_writes_from_the_bar_asked(checkpoint, tmp_path, capsys):
    assert main(['complete', str(WTC1_C_MAJOR), '--bars', '2', '--from-bar', '26', '--checkpoint', str(checkpoint),
                 '--out-dir', str(tmp_path), '--no-wav']) == 0
    assert 'written to a cadence in C major; ends on the tonic: True' in capsys.readouterr().out
    record = load_pickle(tmp_path / 'bwv846_fugue_wtc1_01_completed_seed0.p')
    original = read_voices(midi_to_time_series(WTC1_C_MAJOR))
    first = record['first_step']
    assert (record['voice_tokens'][:, :record['given_steps'] - first] == original.tokens[:, first:]).all()
    assert record['voice_tokens'].shape[1] == record['given_steps'] - first + 32     # 27 whole bars, then 2 more
