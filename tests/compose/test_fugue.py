"""bach2.compose.fugue and ``bach2 fugue``: an exposition on a subject.

* subjects as text (scientific pitch names, lengths in quarter notes) and their errors;
* the tonal answer mutates the dominant of the head, the real one does not;
* the plan puts each entry in its voice, a whole number of bars apart, in the register of that voice;
* the command, with the shipped pair of models: one track per voice, every entry note for note where
  the form puts it, the entries marked on the piano roll.
"""
import mido
import numpy as np
import pytest

from bach2.app.cli import main
from bach2.compose.fugue import Form, Subject, SubjectError, answer_of, exposition_plan, parse_subject, subject_key
from bach2.music.geometry import Geometry
from bach2.music.pitch_names import PITCH_CLASS_NAMES
from bach2.render.listen import renderer_available
from bach2.safe_io import load_pickle

C_MINOR = 'C4:0.5 Eb4 D4 C4 B3:1 C4:0.5 D4 G3:1'


def test_a_subject_is_read_from_text():
    pitches, onsets = parse_subject('C4 Eb4:0.5 r F#3:1/4 D4:1')      # r keeps the eighth
    assert pitches.tolist() == [60] * 4 + [63] * 2 + [-1] * 2 + [54] + [62] * 4
    assert onsets.tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0]
    assert parse_subject('G4 G4:2', steps_per_quarter=1)[1].tolist() == [1, 1, 0]


@pytest.mark.parametrize('text, message', [('', 'the subject is empty'), ('C4 H4', "'H4' is not a note"),
                                           ('C4:0.3', 'positive multiple of 1/4 quarter note'),
                                           ('r r:2', 'only rests'), ('C4:0', 'positive multiple'),
                                           ('C4 Cb-1', "'Cb-1' is outside MIDI 0–127"),
                                           ('C4:', "'C4:' is not a note")])
def test_a_bad_subject_is_named(text, message):
    with pytest.raises(SubjectError, match=message):
        parse_subject(text)


@pytest.mark.parametrize('text, key', [(C_MINOR, ('C', 'minor')), ('E4 B4 C5 B4 A4 G4 F#4 E4', ('E', 'minor')),
                                       ('G4 D5 C5 B4 A4 G4', ('G', 'major')), ('D4 A4 F4 D4 C#4 D4 E4 F4', ('D', 'minor'))])
def test_the_key_of_a_subject_has_its_first_note_as_tonic_or_dominant(text, key):
    tonic, found = subject_key(parse_subject(text)[0])
    assert found == key and PITCH_CLASS_NAMES[tonic] == key[0]
    assert subject_key(parse_subject(text)[0], 'A major')[1] == ('A', 'major')


def test_the_tonal_answer_turns_the_dominant_of_the_head_into_the_tonic():
    pitches, onsets = parse_subject('C4 G4 Ab4 G4 F4')               # 1 5 | 6 5 4 in C minor
    tonal, real = (answer_of(pitches, onsets, tonic=0, rule=rule)[::4].tolist() for rule in ('tonal', 'real'))
    assert real == [67, 74, 75, 74, 72]
    assert tonal == [67, 72, 75, 74, 72]                             # G4 answered by C5, then a fifth up
    pitches, onsets = parse_subject('C4 D4 G4')                      # D leaves the head before the dominant
    assert answer_of(pitches, onsets, 0, 'tonal').tolist() == answer_of(pitches, onsets, 0, 'real').tolist()


@pytest.mark.parametrize('voices', [3, 4])
def test_the_plan_puts_every_entry_in_its_voice_whole_bars_apart(voices):
    pitches, onsets = parse_subject(C_MINOR)                          # 5 quarters: two bars apart
    positions = np.stack([np.arange(len(pitches)) % 16, np.full(len(pitches), 16)], axis=1)
    geometry = Geometry(n_pitches=61, lowest_pitch=24)
    plan, bar_positions, entries = exposition_plan(Subject(pitches, onsets, positions), 0, geometry,
                                                   Form(voices, free_bars=1))
    assert [entry.start for entry in entries] == [32 * k for k in range(voices)]
    assert [entry.voice for entry in entries] == [1, 0, 2, 3][:voices]
    assert [entry.kind for entry in entries] == ['subject', 'answer', 'subject', 'answer'][:voices]
    means = [entry.pitches[entry.pitches >= 0].mean() for entry in entries]
    assert means[1] > means[0] > means[2] and (voices == 3 or means[2] > means[3])
    assert len(plan.voice) == len(bar_positions) == 32 * (voices - 1) + len(pitches) + 16
    assert plan.active[0].tolist() == [False, True] + [False] * (voices - 2)
    assert plan.active[-1].all() and (plan.voice[-16:] == -1).all()
    for t in range(len(plan.voice)):
        plan.side(t)                                                   # never an inner voice
    high = exposition_plan(Subject(pitches + 24, onsets, positions), 0, geometry, Form(voices))[2]   # octave down
    assert [entry.pitches.tolist() for entry in high] == [(entry.pitches + 12).tolist() for entry in entries]
    with pytest.raises(SubjectError, match="wider than the model's 24–84"):
        exposition_plan(Subject(np.where(np.arange(len(pitches)) < 4, 30, pitches + 24), onsets, positions), 0,
                        geometry, Form(voices))


def test_the_fugue_command_keeps_every_entry_where_the_form_puts_it(tmp_path, capsys):
    assert main(['fugue', C_MINOR, '--voices', '4', '--free-bars', '1', '--out-dir', str(tmp_path),
                 '--name', 'expo', '--temperature', '0.8']) == 0
    out = capsys.readouterr().out
    assert 'C minor, tonal answer' in out and 'bar 7 answer in the bass' in out and 'entries intact 100%' in out
    midi = mido.MidiFile(tmp_path / 'expo.mid')
    names = [next(m.name for m in track if m.type == 'track_name') for track in midi.tracks[1:]]
    assert names == ['soprano', 'alto', 'tenor', 'bass']
    record = load_pickle(tmp_path / 'expo.p')
    pitches, onsets = parse_subject(C_MINOR)
    alto = record['lines']['alto']
    assert (alto[:len(pitches)] + 24).tolist() == pitches.tolist()
    assert record['voice_onsets']['alto'][:len(pitches)].tolist() == onsets.tolist()
    assert not record['pitch_matrix'][:len(pitches)].sum(axis=1).max() > 1     # the subject alone
    bass = record['lines']['bass'][96:96 + len(pitches)] + 24
    assert bass.tolist() == (answer_of(pitches, onsets, 0) - 24).tolist()
    assert record['pitch_matrix'][96:].sum(axis=1).max() <= 4
    assert (tmp_path / 'expo.png').stat().st_size > 1000
    assert (tmp_path / 'expo.wav').is_file() == renderer_available()
