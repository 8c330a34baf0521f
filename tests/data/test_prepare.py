"""bach2.data.prepare: stages 0–2 on a folder of MIDI → the training data files.

Tiny corpus at 96 ticks per quarter (one step = 24 ticks = a 16th; column j = MIDI 24 + j):

* ``arpeggio.mid`` (4/4): C4, E4 a quarter each, then G4 a half → 16 steps.
* ``waltz.mid`` (3/4): A3 + C4 held for a dotted half → 12 steps, an A minor dyad on each beat.
* ``scale.mid`` (no time signature = 4/4): a G major scale, G B D held longer → key G major;
  1296 ticks = 54 steps = 13.5 quarter notes.
* ``bad.mid``: text, not MIDI.
"""
import json
import os
import pickle

import mido
import numpy as np
import pytest

from bach2.chord_sequence import CHORD_NAMES
from bach2.common import CorpusError
from bach2.data.prepare import PrepareConfig, load_time_series, prepare_training_data
from bach2.music.key_finding import find_key, pitch_class_histogram
from bach2.safe_io import UnsafePickleError
from midi_builders import off, on, write_midi

SHIFTS = [f'sh{k}' for k in range(12)]
BAD_FILE_TEXT = 'this is a text file, not MIDI\n'


def time_signature(numerator, denominator):
    return mido.MetaMessage('time_signature', numerator=numerator, denominator=denominator, time=0)


def melody(notes):
    """[(pitch, ticks)] played one after another."""
    messages = []
    for pitch, ticks in notes:
        messages += [on(pitch), off(pitch, ticks)]
    return messages


def write_corpus(folder, bad=True):
    folder.mkdir(parents=True, exist_ok=True)
    write_midi(folder / 'arpeggio.mid', [[time_signature(4, 4)] + melody([(60, 96), (64, 96), (67, 192)])])
    write_midi(folder / 'waltz.mid', [[time_signature(3, 4), on(57), on(60), off(57, 288), off(60)]])
    g_major = [(55, 192), (57, 48), (59, 144), (60, 48), (62, 192), (64, 48), (66, 48), (67, 192), (62, 96),
               (59, 96), (55, 192)]
    write_midi(folder / 'scale.mid', [melody(g_major)])
    if bad:
        (folder / 'bad.mid').write_text(BAD_FILE_TEXT)
    return folder


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    """The tiny corpus prepared once with the default config (transpose='all')."""
    root = tmp_path_factory.mktemp('prepare')
    data = write_corpus(root / 'data')
    out = root / 'out'
    result = prepare_training_data(data, out, progress=False)
    return data, out, result


def load(path):
    with open(path, 'rb') as handle:
        return pickle.load(handle)     # plain pickle: what a user does in IPython


def test_writes_every_file(prepared):
    _, out, result = prepared
    expected = {'time_series.p', 'manifest.json'}
    for label in SHIFTS:
        expected |= {f'pitch_matrix_24ticks_{label}.p', f'pitch_matrix_24ticks_{label}.npz',
                     f'chord_sequence_{label}.p', f'chord_sequence_{label}.npz'}
    assert set(os.listdir(out)) == expected         # and no temporary files left behind
    assert [p.name for p in result['pieces']] == ['arpeggio', 'scale', 'waltz']
    for path in result['written']:
        assert os.path.exists(path)


def test_pitch_matrix_pickle(prepared):
    _, out, _ = prepared
    data = load(out / 'pitch_matrix_24ticks_sh0.p')
    assert data['names'] == ['arpeggio', 'scale', 'waltz']
    assert data['step_ticks'] == 24 and data['lowest_pitch'] == 24
    assert data['semitones'] == [0, 0, 0]
    assert data['notes_outside'] == [0, 0, 0]
    matrices = data['pitch_matrices']
    assert [m.shape for m in matrices] == [(16, 61), (54, 61), (12, 61)]
    assert all(m.dtype == np.uint8 for m in matrices)
    expected = np.zeros((16, 61), np.uint8)
    expected[0:4, 60 - 24] = 1       # C4, a quarter = 4 steps
    expected[4:8, 64 - 24] = 1       # E4
    expected[8:16, 67 - 24] = 1      # G4, a half
    np.testing.assert_array_equal(matrices[0], expected)
    waltz = np.zeros((12, 61), np.uint8)
    waltz[:, [57 - 24, 60 - 24]] = 1
    np.testing.assert_array_equal(matrices[2], waltz)


@pytest.mark.parametrize('k', range(1, 12))
def test_shifted_matrices_are_sh0_moved_by_the_shift(prepared, k):
    _, out, _ = prepared
    base = load(out / 'pitch_matrix_24ticks_sh0.p')['pitch_matrices']
    shifted = load(out / f'pitch_matrix_24ticks_sh{k}.p')
    semitones = k if k <= 6 else k - 12       # sh7 … sh11 go down 5 … 1 instead of up
    assert shifted['semitones'] == [semitones] * 3
    for before, after in zip(base, shifted['pitch_matrices']):
        np.testing.assert_array_equal(np.roll(before, semitones, axis=1), after)   # nothing near the edges


def test_sh2_by_hand(prepared):
    _, out, _ = prepared
    arpeggio = load(out / 'pitch_matrix_24ticks_sh2.p')['pitch_matrices'][0]
    assert np.nonzero(arpeggio[0])[0].tolist() == [62 - 24]     # C4 → D4
    assert np.nonzero(arpeggio[15])[0].tolist() == [69 - 24]    # G4 → A4


def test_npz_matches_the_pickle(prepared):
    _, out, _ = prepared
    for stem, key in [('pitch_matrix_24ticks_sh5', 'pitch_matrices'), ('chord_sequence_sh5', 'chord_sequences')]:
        pickled = load(out / f'{stem}.p')
        with np.load(out / f'{stem}.npz') as arrays:
            starts = arrays['piece_starts']
            assert starts.tolist() == [0, *np.cumsum([len(s) for s in pickled[key]]).tolist()]
            assert arrays['names'].tolist() == pickled['names']
            for i, sequence in enumerate(pickled[key]):
                np.testing.assert_array_equal(arrays[key][starts[i]:starts[i + 1]], sequence)


def test_chord_sequences(prepared):
    _, out, _ = prepared
    sh0, sh2 = load(out / 'chord_sequence_sh0.p'), load(out / 'chord_sequence_sh2.p')
    assert sh0['names'] == ['arpeggio', 'scale', 'waltz']
    assert sh0['chord_names'][CHORD_NAMES.index(('A', 'minor'))] == 'A minor'
    assert [len(c) for c in sh0['chord_sequences']] == [4, 14, 3]     # one per quarter note (scale: 13.5 quarters)
    a_minor, b_minor = CHORD_NAMES.index(('A', 'minor')), CHORD_NAMES.index(('B', 'minor'))
    assert sh0['chord_sequences'][2].tolist() == [a_minor] * 3
    assert sh2['chord_sequences'][2].tolist() == [b_minor] * 3


def test_manifest(prepared):
    data, out, _ = prepared
    manifest = json.loads((out / 'manifest.json').read_text())
    assert manifest['config']['transpose'] == 'all'
    pieces = {entry['piece']: entry for entry in manifest['pieces']}
    assert set(pieces) == {'arpeggio', 'scale', 'waltz'}
    assert pieces['scale']['key'] == 'G major'
    assert pieces['waltz']['time_signatures'] == ['3/4']
    assert pieces['scale']['time_signatures'] == ['4/4']
    assert pieces['arpeggio']['notes'] == 3
    assert pieces['arpeggio']['steps'] == 16
    assert pieces['arpeggio']['quarter_notes'] == 4
    assert set(pieces['arpeggio']['notes_outside_window']) == set(SHIFTS)
    [failed] = manifest['failed_files']
    assert failed['file'] == str(data / 'bad.mid')
    assert 'not a MIDI file' in failed['reason'] and 'bad.mid' in failed['reason']


def test_bad_file_is_listed_not_fatal(prepared):
    data, _, result = prepared
    [(path, reason)] = result['failures']
    assert path == str(data / 'bad.mid')
    assert reason.startswith(str(data / 'bad.mid') + ':')
    assert '\n' not in reason


def test_time_series_round_trip(prepared):
    _, out, result = prepared
    pieces, failures, skipped = load_time_series(out)
    assert [p.name for p in pieces] == ['arpeggio', 'scale', 'waltz']
    assert [p.voices for p in pieces] == [p.voices for p in result['pieces']]
    assert failures == result['failures'] and skipped == []


def test_transpose_to_c(tmp_path):
    data = write_corpus(tmp_path / 'data', bad=False)
    result = prepare_training_data(data, tmp_path / 'out', PrepareConfig(transpose='c'), progress=False)
    assert {p.name for p in result['pieces']} == {'arpeggio', 'scale', 'waltz'}
    names = sorted(os.listdir(tmp_path / 'out'))
    assert 'pitch_matrix_24ticks_toC.p' in names and 'chord_sequence_toC.npz' in names
    assert not any('_sh' in name for name in names)
    to_c = load(tmp_path / 'out' / 'pitch_matrix_24ticks_toC.p')
    scale = to_c['names'].index('scale')
    assert to_c['semitones'][scale] == 5                       # G major: up a fourth to C
    # Column 0 is MIDI 24, a C, so the matrix's own histogram is in pitch classes from C.
    assert find_key(pitch_class_histogram(to_c['pitch_matrices'][scale])) == ('C', 'major')
    waltz = to_c['names'].index('waltz')
    manifest = json.loads((tmp_path / 'out' / 'manifest.json').read_text())
    waltz_key = next(p['key'] for p in manifest['pieces'] if p['piece'] == 'waltz')
    assert find_key(pitch_class_histogram(to_c['pitch_matrices'][waltz]))[0] == 'C', waltz_key


def test_skip_time_signature(tmp_path):
    data = write_corpus(tmp_path / 'data', bad=False)
    result = prepare_training_data(data, tmp_path / 'out', PrepareConfig(skip_time_signatures=('3/4',)),
                                   progress=False)
    assert [p.name for p in result['pieces']] == ['arpeggio', 'scale']
    assert result['skipped'] == [('waltz', 'time signature 3/4')]
    assert load(tmp_path / 'out' / 'pitch_matrix_24ticks_sh0.p')['names'] == ['arpeggio', 'scale']
    manifest = json.loads((tmp_path / 'out' / 'manifest.json').read_text())
    assert manifest['skipped'] == [{'piece': 'waltz', 'reason': 'time signature 3/4'}]


def test_skipping_four_four_also_skips_files_without_a_signature(tmp_path):
    data = write_corpus(tmp_path / 'data', bad=False)
    result = prepare_training_data(data, tmp_path / 'out', PrepareConfig(skip_time_signatures=('4/4',)),
                                   progress=False)
    assert [p.name for p in result['pieces']] == ['waltz']


def test_same_name_in_two_folders_gets_a_suffix(tmp_path):
    data = write_corpus(tmp_path / 'data', bad=False)
    write_corpus(tmp_path / 'data' / 'again', bad=False)
    result = prepare_training_data(data, tmp_path / 'out', progress=False)
    assert sorted(p.name for p in result['pieces']) == ['arpeggio', 'arpeggio_2', 'scale', 'scale_2',
                                                        'waltz', 'waltz_2']


def test_folder_without_midi(tmp_path):
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'notes.txt').write_text('no MIDI here')
    with pytest.raises(CorpusError, match='empty'):
        prepare_training_data(tmp_path / 'empty', tmp_path / 'out', progress=False)
    assert not (tmp_path / 'out').exists()


def test_missing_folder(tmp_path):
    with pytest.raises(CorpusError, match='no such folder'):
        prepare_training_data(tmp_path / 'missing', tmp_path / 'out', progress=False)


def test_folder_where_every_file_is_bad(tmp_path):
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'one.mid').write_text(BAD_FILE_TEXT)
    (tmp_path / 'bad' / 'two.midi').write_bytes(b'')
    with pytest.raises(CorpusError) as error:
        prepare_training_data(tmp_path / 'bad', tmp_path / 'out', progress=False)
    assert str(tmp_path / 'bad') in str(error.value)
    assert '2 MIDI files' in str(error.value)


def test_failed_run_leaves_old_output_alone(tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    old = out / 'pitch_matrix_24ticks_sh0.p'
    old.write_bytes(b'old training data')
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'one.mid').write_text(BAD_FILE_TEXT)
    with pytest.raises(CorpusError):
        prepare_training_data(tmp_path / 'bad', out, progress=False)
    assert old.read_bytes() == b'old training data'
    assert os.listdir(out) == ['pitch_matrix_24ticks_sh0.p']


class RemovesAFile:
    """A pickle that would delete ``path`` when loaded by plain ``pickle.load``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.remove, (self.path,)


def test_load_time_series_refuses_a_malicious_pickle(tmp_path):
    canary = tmp_path / 'canary.txt'
    canary.write_text('still here')
    with open(tmp_path / 'time_series.p', 'wb') as handle:
        pickle.dump({'pieces': [RemovesAFile(canary)], 'failed_files': [], 'skipped': []}, handle)
    with pytest.raises(UnsafePickleError, match='time_series.p'):
        load_time_series(tmp_path)
    assert canary.read_text() == 'still here'


def test_load_time_series_without_stage0(tmp_path):
    with pytest.raises(CorpusError, match='stage 0'):
        load_time_series(tmp_path)


# ---------------------------------------------------------------- the shared corpus (../shared/data)

def test_whole_bach_keyboard_corpus(bach_keyboard_files, tmp_path):
    folder = bach_keyboard_files[0].parents[1]
    result = prepare_training_data(folder, tmp_path, progress=False)
    assert result['failures'] == []
    manifest = json.loads((tmp_path / 'manifest.json').read_text())
    assert len(manifest['pieces']) == len(result['pieces']) >= len(bach_keyboard_files)
    assert all(entry['steps'] > 0 for entry in manifest['pieces'])
    notes = sum(entry['notes'] for entry in manifest['pieces'])
    outside = {label: sum(entry['notes_outside_window'][label] for entry in manifest['pieces'])
               for label in SHIFTS}
    print(f'\n{notes} notes; left outside the 61-pitch window per shift: {outside}')
    assert all(isinstance(count, int) and count >= 0 for count in outside.values())
    assert outside['sh0'] < 0.001 * notes
    sh0 = load(tmp_path / 'pitch_matrix_24ticks_sh0.p')
    assert sh0['notes_outside'] == [entry['notes_outside_window']['sh0'] for entry in manifest['pieces']]
    assert [len(m) for m in sh0['pitch_matrices']] == [entry['steps'] for entry in manifest['pieces']]
