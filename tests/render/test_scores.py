"""bach2.render.scores and ``--musicxml``: MusicXML that music21 reads back with the same notes.

* ``generate --musicxml`` (the shipped model): a piano grand staff whose notes sound where the MIDI's do;
* ``fugue --musicxml``: one part per voice, each with its voice's notes, the key and time signatures;
* the key's scale spells the pitches (B♭ in F major, A♯ in B major, C♭ in G♭ major, C♯ in D minor);
* a flat key found from the notes is written with flats (B♭ major: two), never more than seven accidentals;
* a score written in a key (A♯ major given) carries it, respelled as musicians write it (B♭ major);
* a pickup is an anacrusis: the first measure is short, numbered 0, and every silence is a rest;
* where Debian's MuseScore 3 is installed, it renders the score to a page that is not blank.
"""
import shutil
import subprocess

import numpy as np
import pytest

from bach2.app.cli import main
from bach2.midi_to_time_series import midi_to_time_series
from bach2.render.scores import time_signature_of, write_musicxml


def sounding(notes, resolution, steps_per_quarter=4):
    """[(tick, pitch, duration)] → set of (16th, pitch) where a note sounds."""
    step = resolution // steps_per_quarter
    return {(t, pitch) for tick, pitch, duration in notes for t in range(tick // step, (tick + duration) // step)}


def score_sounding(part, steps_per_quarter=4):
    """A music21 part or score → set of (16th, MIDI pitch) where a note or chord sounds."""
    found = set()
    for element in part.flatten().notes:
        start, end = (round(float(x) * steps_per_quarter) for x in (element.offset, element.offset + element.quarterLength))
        found |= {(t, p.midi) for p in element.pitches for t in range(start, end)}
    return found


def test_generate_writes_a_grand_staff_with_the_same_notes(tmp_path):
    from music21 import converter
    assert main(['generate', '--model', 'lstm-nade', '--primer', 'silence', '--steps', '64', '--out', str(tmp_path),
                 '--no-gallery', '--musicxml', '--name', 'piece']) == 0
    score = converter.parse(tmp_path / 'piece.musicxml')
    piece = midi_to_time_series(tmp_path / 'piece.mid')
    notes = [note for voice in piece.voices for note in voice.notes]
    assert notes and score_sounding(score) == sounding(notes, piece.resolution)
    assert len(score.parts) == 2                                             # treble and bass staves
    upper, lower = (score_sounding(part) for part in score.parts)
    assert all(p >= 60 for _, p in upper) and all(p < 60 for _, p in lower)
    assert score.parts[0].flatten().getElementsByClass('TimeSignature')[0].ratioString == '4/4'


def test_fugue_writes_one_part_per_voice(tmp_path):
    from music21 import converter
    assert main(['fugue', 'C4:0.5 Eb4 D4 C4 B3:1 C4:0.5 D4 G3:1', '--form', 'exposition', '--voices', '3',
                 '--free-bars', '1', '--no-wav', '--musicxml', '--out-dir', str(tmp_path), '--name', 'expo']) == 0
    score = converter.parse(tmp_path / 'expo.musicxml')
    piece = midi_to_time_series(tmp_path / 'expo.mid')
    assert [part.partName for part in score.parts] == ['soprano', 'alto', 'bass'] == [v.name for v in piece.voices]
    for part, voice in zip(score.parts, piece.voices):
        assert score_sounding(part) == sounding(voice.notes, piece.resolution)
    key = score.parts[0].flatten().getElementsByClass('KeySignature')[0]
    assert key.sharps == -3                                                 # C minor: three flats
    assert len({part.highestTime for part in score.parts}) == 1            # every part to the last bar line
    assert score.parts[0].highestTime % 4 == 0


@pytest.mark.parametrize('key, pitch, name', [(('F', 'major'), 70, 'B-4'), (('B', 'major'), 70, 'A#4'),
                                               (('Gb', 'major'), 59, 'C-4'), (('C', 'minor'), 63, 'E-4'),
                                               (('E', 'major'), 63, 'D#4'), (('A', 'major'), 63, 'D#4'),
                                               (('F', 'major'), 66, 'F#4'), (('C', 'major'), 66, 'F#4'),
                                               (('D', 'minor'), 61, 'C#4'), (('G', 'minor'), 66, 'F#4'),
                                               (('F', 'minor'), 63, 'E-4'), (('A#', 'major'), 63, 'E-4')])
def test_the_key_spells_the_pitches(tmp_path, key, pitch, name):
    from music21 import converter
    path = write_musicxml({'voice': [(0, pitch, 96)]}, 96, tmp_path / 'one.musicxml', key=key)
    assert [n.nameWithOctave for n in converter.parse(path).flatten().notes] == [name]


def key_signatures(path):
    """The sharps (> 0) or flats (< 0) of every key signature of a MusicXML file, read back by music21."""
    from music21 import converter
    return {k.sharps for k in converter.parse(path).flatten().getElementsByClass('KeySignature')}


def test_a_b_flat_melody_gets_two_flats_and_flat_spellings(tmp_path):
    from music21 import converter
    #        B♭3 F4  D4  B♭3 E♭4 D4  C4  B♭3 F4     (bach2 fugue "Bb3:0.5 F4 D4 Bb3 Eb4:1 D4:0.5 C4 Bb3:1 F4")
    pitches = [58, 65, 62, 58, 63, 62, 60, 58, 65]
    lengths = [48, 48, 48, 48, 96, 48, 48, 96, 48]
    notes = [(sum(lengths[:k]), pitch, length) for k, (pitch, length) in enumerate(zip(pitches, lengths))]
    path = write_musicxml({'voice': notes}, 96, tmp_path / 'b_flat.musicxml')
    assert key_signatures(path) == {-2}
    assert [n.name for n in converter.parse(path).flatten().notes] == ['B-', 'F', 'D', 'B-', 'E-', 'D', 'C', 'B-', 'F']


@pytest.mark.parametrize('key, sharps', [(('A#', 'major'), -2), (('D#', 'major'), -3), (('C', 'minor'), -3),
                                         (('G#', 'major'), -4), (('B', 'major'), 5), (('Gb', 'major'), -6)])
def test_the_given_key_is_the_signature_with_at_most_seven_accidentals(tmp_path, key, sharps):
    notes = [(96 * k, pitch, 96) for k, pitch in enumerate((60, 62, 64, 65, 67, 69, 71, 72))]    # C major's
    assert key_signatures(write_musicxml({'voice': notes}, 96, tmp_path / 'k.musicxml', key=key)) == {sharps}


@pytest.mark.parametrize('numerator, pickup', [(4, 96), (3, 96), (4, 144), (6, 48)])
def test_a_pickup_is_an_anacrusis(tmp_path, numerator, pickup):
    from music21 import converter
    bar = 96 * numerator
    soprano = [(0, 67, pickup)] + [(pickup + 96 * k, 72, 96) for k in range(numerator)]
    bass = [(pickup, 48, bar)]                                             # silent in the pickup
    path = write_musicxml({'soprano': soprano, 'bass': bass}, 96, tmp_path / 'pickup.musicxml',
                          time_signature=(numerator, 4), pickup_ticks=pickup)
    score = converter.parse(path)
    for part, notes in zip(score.parts, (soprano, bass)):
        measures = list(part.getElementsByClass('Measure'))
        assert [m.number for m in measures] == [0, 1]
        assert measures[0].duration.quarterLength == pickup / 96 == numerator - measures[0].paddingLeft
        assert measures[1].offset == pickup / 96 and measures[1].duration.quarterLength == numerator
        assert score_sounding(part) == sounding(notes, 96)
    assert [r.quarterLength for r in score.parts[1].getElementsByClass('Measure')[0].notesAndRests] == [pickup / 96]


def test_a_silence_between_notes_is_a_rest_one_sees(tmp_path):
    path = write_musicxml({'voice': [(0, 67, 96), (192, 72, 96)]}, 96, tmp_path / 'gap.musicxml')
    text = path.read_text()
    assert 'print-object="no"' not in text and text.count('<rest') == 2


def test_time_signatures_from_bar_lengths():
    assert [time_signature_of(n) for n in (16, 12, 6, 24, 5)] == [(4, 4), (3, 4), (3, 8), (6, 4), (5, 16)]


@pytest.mark.skipif(shutil.which('musescore3') is None, reason="Debian's musescore3 is not installed")
def test_musescore_renders_a_page_that_is_not_blank(tmp_path):
    from PIL import Image
    path = write_musicxml({'soprano': [(0, 72, 96), (96, 74, 96)], 'bass': [(0, 48, 192)]}, 96,
                          tmp_path / 'two.musicxml')
    subprocess.run(['musescore3', '-o', str(tmp_path / 'two.png'), str(path)], check=True, timeout=300,
                   capture_output=True, env={'QT_QPA_PLATFORM': 'offscreen', 'PATH': '/usr/bin:/bin'})
    page = np.asarray(Image.open(next(tmp_path.glob('two*.png'))).convert('L'))
    assert (page < 128).mean() > 0.001
