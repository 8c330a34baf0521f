"""bach2.music.pitch_names: python-midi names ⇄ MIDI note numbers, and scientific pitch notation read."""
import pytest

from bach2.music import pitch_names
from bach2.music.pitch_names import (fifths_class, fifths_name, fifths_position, name_to_pitch, parse_pitch_name,
                                     pitch_class_of, pitch_to_name)


def test_module_attributes_follow_python_midi():
    assert pitch_names.C_0 == 0
    assert pitch_names.Cs_0 == pitch_names.Db_0 == 1
    assert pitch_names.C_1 == 12
    assert pitch_names.Cs_4 == 49
    assert pitch_names.G_10 == 127


@pytest.mark.parametrize('flats', [False, True])
def test_round_trip_every_pitch(flats):
    for pitch in range(128):
        assert name_to_pitch(pitch_to_name(pitch, flats=flats)) == pitch


def test_spellings():
    assert pitch_to_name(49) == 'Cs_4'
    assert pitch_to_name(49, flats=True) == 'Db_4'
    assert name_to_pitch('C#4') == name_to_pitch('Cs_4') == name_to_pitch('Db_4') == 49


@pytest.mark.parametrize('name', ['H_2', 'C_11', '', 'Cs', 'C_-1'])
def test_bad_names_raise_value_error(name):
    with pytest.raises(ValueError):
        name_to_pitch(name)


@pytest.mark.parametrize('pitch', [-1, 128])
def test_pitch_out_of_range_raises_value_error(pitch):
    with pytest.raises(ValueError):
        pitch_to_name(pitch)


def test_pitch_class_of():
    assert pitch_class_of('D#') == pitch_class_of('Eb') == pitch_class_of('Ds') == 3
    assert pitch_class_of('C') == 0
    assert pitch_class_of('B') == 11


def test_pitch_class_of_cb_is_b():
    """'Cb' is a key name mido writes (7 flats); its pitch class is 11 like B."""
    assert pitch_class_of('Cb') == 11


@pytest.mark.parametrize('name, pitch', [('C4', 60), ('c4', 60), ('Eb4', 63), ('E♭4', 63), ('D#4', 63), ('Ds4', 63),
                                         ('D♯4', 63), ('F#3', 54), ('B#3', 60), ('Cb4', 59), ('C-1', 0), ('G9', 127),
                                         ('Cb-1', -1), ('B9', 131)])
def test_scientific_names_count_octaves_from_middle_c_and_are_not_range_checked(name, pitch):
    assert parse_pitch_name(name, scientific=True) == pitch


@pytest.mark.parametrize('name', ['H4', 'C_4', 'C10', 'C', 'Cx4', 'r', 'C4:1', ''])
def test_what_is_not_a_scientific_name_is_none(name):
    assert parse_pitch_name(name, scientific=True) is None


def test_python_midi_names_read_the_same_flats_and_sharps():
    assert parse_pitch_name('D♭_4') == parse_pitch_name('C♯4') == name_to_pitch('Db_4') == 49
    assert parse_pitch_name('C4') == parse_pitch_name('C4', scientific=True) - 12


def test_the_line_of_fifths():
    assert [fifths_name(q) for q in range(-8, 14)] == [
        'Fb', 'Cb', 'Gb', 'Db', 'Ab', 'Eb', 'Bb', 'F', 'C', 'G', 'D', 'A', 'E', 'B', 'F#', 'C#', 'G#', 'D#', 'A#',
        'E#', 'B#', 'F##']
    for q in range(-14, 20):
        name = fifths_name(q)
        assert fifths_class(q) == (pitch_class_of(name[0]) + name.count('#') - name.count('b')) % 12, name
    assert [fifths_position(name) for name in ('C', 'G', 'F#', 'Bb', 'Cb', 'B#', 'fs', 'E♭')] == [0, 1, 6, -2, -7,
                                                                                                 12, 6, -3]
    with pytest.raises(ValueError, match='not a pitch class'):
        fifths_position('H')
