"""bach2.compose.fugue and ``bach2 fugue``: an exposition on a subject.

* subjects as text (scientific pitch names, lengths in quarter notes) and their errors;
* the tonal answer mutates the dominant of the head, the real one does not;
* the plan puts each entry in its voice, a whole number of bars apart, in the register of that voice;
* the command, with the shipped pair of models: one track per voice, every entry note for note where
  the form puts it, the entries marked on the piano roll;
* once a voice has entered it goes on against the next entries (a countersubject, not silence);
* a flat subject is named in flats ('Bb major', not 'A# major').
"""
import re
import time
from pathlib import Path

import mido
import numpy as np
import pytest

from bach2.app.cli import main
from bach2.compose import fugue
from bach2.compose.fugue import (MAX_FREE_BARS, MAX_SUBJECT_NOTES, MAX_SUBJECT_QUARTERS, Form, Subject, SubjectError,
                                 answer_of, exposition_plan, fugue_subject, parse_subject, read_subject, subject_key,
                                 subject_of, subject_slug)
from bach2.compose.harmonize import separate_voices, write_with_plan
from bach2.compose.lines import Sampling
from bach2.models.checkpoints import SHIPPED_MODELS, load_samplers
from bach2.midi_to_time_series import midi_to_time_series
from bach2.music.metre import piece_positions
from bach2.music.geometry import Geometry
from bach2.music.key_finding import tonic_class
from bach2.render.listen import renderer_available
from bach2.safe_io import load_pickle
from bach2.time_series_to_pitch_matrix import onset_matrix, time_series_to_pitch_matrix
from midi_builders import off, on, write_midi

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
                                           ('C4:', "'C4:' is not a note"), ('C4:1/0', 'divide by zero')])
def test_a_bad_subject_is_named(text, message):
    with pytest.raises(SubjectError, match=message):
        parse_subject(text)


@pytest.mark.parametrize('text, key', [(C_MINOR, ('C', 'minor')), ('E4 B4 C5 B4 A4 G4 F#4 E4', ('E', 'minor')),
                                       ('G4 D5 C5 B4 A4 G4', ('G', 'major')), ('D4 A4 F4 D4 C#4 D4 E4 F4', ('D', 'minor'))])
def test_the_key_of_a_subject_has_its_first_note_as_tonic_or_dominant(text, key):
    tonic, found = subject_key(*parse_subject(text))
    assert found == key and tonic_class(key) == tonic
    assert subject_key(*parse_subject(text), 'A major')[1] == ('A', 'major')


def test_the_tonal_answer_turns_the_dominant_of_the_head_into_the_tonic():
    pitches, onsets = parse_subject('C4 G4 Ab4 G4 F4')               # 1 5 | 6 5 4 in C minor
    tonal, real = (answer_of(pitches, onsets, tonic=0, rule=rule)[::4].tolist() for rule in ('tonal', 'real'))
    assert real == [67, 74, 75, 74, 72]
    assert tonal == [67, 72, 75, 74, 72]                             # G4 answered by C5, then a fifth up
    pitches, onsets = parse_subject('C4 D4 G4')                      # D leaves the head before the dominant
    assert answer_of(pitches, onsets, 0, 'tonal').tolist() == answer_of(pitches, onsets, 0, 'real').tolist()
    pitches, onsets = parse_subject('G4:0.5 r C5:1 D5')                # a rest after the dominant stays a rest
    assert answer_of(pitches, onsets, 0, 'tonal').tolist() == [72, 72, -1, -1, 79, 79, 79, 79, 81, 81, 81, 81]


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
    assert main(['fugue', C_MINOR, '--form', 'exposition', '--voices', '4', '--free-bars', '1', '--out-dir', str(tmp_path),
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


# --------------------------------------------------------------------------- subjects from real fugues, limits, names

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / 'training_data' / 'bach_keyboard' / 'buschke'


def read_fugue(name):
    """A fugue of the built-in corpus → (``T × 128`` pitch matrix, ``T × 2`` positions, ``T × 128`` onsets)."""
    piece = midi_to_time_series(CORPUS / name)
    matrix, _ = time_series_to_pitch_matrix(piece, 24, 0, 128)
    return matrix, piece_positions(piece, 24, len(matrix)), onset_matrix(piece, 24, 0, 128)


@pytest.mark.parametrize('name, steps, voices', [
    ('bwv846_fugue_wtc1_01.mid', 24, 4),     # a 32nd-note turn squeezed onto the 16th grid sounds two notes at once
    ('bwv875_fugue_wtc2_06.mid', 32, 3),     # the first steps sound two notes (a broken-chord figure)
    ('bwv857_fugue_wtc1_12.mid', 48, 4),     # read as 3 voices before
    ('bwv862_fugue_wtc1_17.mid', 16, 4)])    # entries further apart than a subject length
def test_the_subject_of_a_real_fugue_is_found_with_its_voices(name, steps, voices):
    line, struck, positions, found_voices, (exposition, _, _) = subject_of(*read_fugue(name))
    assert (len(line), found_voices) == (steps, voices)
    assert struck[0] and len(exposition) == voices * steps


def test_a_fugue_given_whole_is_read_in_the_key_of_its_exposition():
    """WTC II/5 in D major: its subject alone fits G major best (it starts on the dominant, A)."""
    subject = fugue_subject(*read_fugue('bwv874_fugue_wtc2_05.mid'), lowest_pitch=0)
    assert subject_key(subject.pitches, subject.onsets, context=subject.context)[1] == ('D', 'major')


def test_a_long_subject_is_refused_before_anything_is_allocated():
    start = time.perf_counter()
    with pytest.raises(SubjectError, match=f"'C4:10000000': the subject is longer than {MAX_SUBJECT_QUARTERS} quarter"):
        parse_subject('C4:10000000 D4')
    with pytest.raises(SubjectError, match=f'has 300 notes: a subject here has at most {MAX_SUBJECT_NOTES}'):
        parse_subject('C4:1/4 ' * 300)
    assert time.perf_counter() - start < 0.5
    with pytest.raises(SubjectError, match=f'free bars: at most {MAX_FREE_BARS}, not 100000'):
        Form(free_bars=100000)


def test_a_whole_fugue_gives_its_subject_and_the_score_its_key(tmp_path, capsys, monkeypatch):
    """``bach2 fugue fugue.mid``: the subject found in it (36 steps, not its whole top line), the exposition in
    B minor (WTC II/24), the composition carrying that key, the name carrying the file's stem."""
    written = []
    write_piece = fugue.write_piece
    monkeypatch.setattr(fugue, 'write_piece', lambda piece, output: written.append(piece) or write_piece(piece, output))
    assert main(['fugue', str(CORPUS / 'bwv893_fugue_wtc2_24.mid'), '--form', 'exposition', '--free-bars', '0', '--out-dir', str(tmp_path),
                 '--no-wav']) == 0
    assert 'B minor, tonal answer' in capsys.readouterr().out
    record = load_pickle(tmp_path / 'fugue_exposition_bwv893_fugue_wtc2_24_3v_seed0.p')
    assert record['exposition_steps'] == 2 * 36 + 36 and len(record['steps']) == 3 * 36
    assert written[0].key == ('B', 'minor')


def test_a_midi_of_several_voices_without_a_fugue_subject_is_refused(tmp_path, capsys):
    path = write_midi(tmp_path / 'two_voices.mid', [[on(72), off(72, 96 * 16)], [on(48), off(48, 96 * 16)]])
    assert main(['fugue', str(path), '--out-dir', str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (f'bach2: error: {path}: more than one voice sounds and no fugue subject '
                                               'of 3 or 4 voices was found in it: give the subject alone (a MIDI file '
                                               'of one line, or notes as text)')


def test_different_subjects_get_different_names():
    geometry = Geometry()
    slugs = [subject_slug(read_subject(text, geometry)) for text in ('C4 D4 E4 C4', 'C4 E4 D4 C4', 'C4:1 E4 D4 C4')]
    assert slugs[0] != slugs[1] and slugs[1] == slugs[2]          # the notes name it, not how they are written
    assert all(re.fullmatch(r's[0-9a-f]{8}', slug) for slug in slugs)
    assert subject_slug(read_subject(str(ROOT / 'Synthesized_Fugues' / 'examples' / 'subject_bwv868.mid'),
                                     geometry)) == 'subject_bwv868'


ART_OF_FUGUE = 'D4:2 A4 F4 D4 C#4 D4:1 E4 F4:2.5 G4:0.5 F4 E4 D4:1'


@pytest.fixture(scope='module')
def shipped():
    return load_samplers(SHIPPED_MODELS)


@pytest.mark.parametrize('seed', [0, 1, 3])
def test_a_voice_that_has_entered_goes_on_against_the_next_entry(shipped, seed):
    samplers, geometry = shipped
    subject = read_subject(ART_OF_FUGUE, geometry)
    tonic, key = subject_key(subject.pitches, subject.onsets)
    assert key == ('D', 'minor')
    plan, positions, entries = exposition_plan(subject, tonic, geometry, Form(voices=3, free_bars=2))
    lines, _ = separate_voices(write_with_plan(samplers, plan, positions, Sampling(seed=seed)), plan)
    span = slice(entries[1].start, len(plan.voice))           # from the answer to the end of the free bars
    everyone = ((lines[:, span] < geometry.n_pitches) | ~plan.active[span].T).all(axis=0)
    assert everyone.mean() >= 0.9              # before: the alto silent in bars 4–6 and from bar 7 (0.4–0.6)


def test_a_flat_subject_is_named_in_flats(tmp_path, capsys):
    assert main(['fugue', 'Bb3:0.5 F4 D4 Bb3 Eb4:1 D4:0.5 C4 Bb3:1 F4', '--form', 'exposition', '--free-bars', '0', '--musicxml',
                 '--no-wav', '--out-dir', str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert 'Bb major' in out and 'A#' not in out
    score = next(tmp_path.glob('*.musicxml'))
    assert re.fullmatch(r'fugue_exposition_s[0-9a-f]{8}_3v_seed0', score.stem)     # the subject in the name
    score = score.read_text()
    assert '<fifths>-2</fifths>' in score


def test_a_subject_file_is_read_once_and_its_changed_notes_named_once(tmp_path, capsys):
    run = [on(69), off(69, 12), on(67), off(67, 12), on(65), off(65, 12), on(64), off(64, 12), on(62), off(62, 96)]
    path = write_midi(tmp_path / 'run.mid', [run])                 # a 32nd-note run: the 16th grid drops two
    read_subject(str(path), Geometry())
    assert capsys.readouterr().err.count('bach2: warning') == 1
