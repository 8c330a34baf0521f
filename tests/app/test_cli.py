"""The ``bach2`` command and the stage scripts, run for real in a subprocess.

Exit status: 0 all good; 1 the run finished but some files could not be read;
2 bad input (one ``bach2: error:`` line on stderr) or a bad option (argparse).
"""
import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from midi_builders import off, on, write_midi

ROOT = Path(__file__).resolve().parents[2]
STAGES = ['Source_Code/stage0_midi_to_time_series.py', 'Source_Code/stage1_time_series_to_pitch_matrix.py',
          'Source_Code/stage2_chord_sequence.py']
BAD_REASON = 'not a MIDI file (it does not start with the MThd header)'


def bach2(*args):
    return subprocess.run([sys.executable, '-m', 'bach2.app.cli', *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def stage(number, *args):
    return subprocess.run([sys.executable, STAGES[number], *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def write_good_files(folder):
    folder.mkdir(parents=True, exist_ok=True)
    time_signature = mido.MetaMessage('time_signature', numerator=3, denominator=4, time=0)
    write_midi(folder / 'one.mid', [[on(60), off(60, 96), on(64), off(64, 96), on(67), off(67, 192)]])
    write_midi(folder / 'two.midi', [[time_signature, on(57), on(60), off(57, 288), off(60)],
                                     [on(45, 96), off(45, 192)]])
    return folder


def write_folder(folder):
    """Two good files and one bad one."""
    write_good_files(folder)
    (folder / 'broken.mid').write_text('not MIDI at all')
    return folder


@pytest.mark.parametrize('command', [['--help'], ['prepare', '--help'], ['inspect', '--help'], ['harmonize', '--help'],
                                     ['fugue', '--help'], ['studio', '--help']])
def test_bach2_help(command):
    result = bach2(*command)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('usage: bach2')


def test_the_parser_loads_no_heavy_module():
    """Every command group imports PyTensor, JAX, Matplotlib, Flask, music21, scikit-learn and SciPy inside its
    commands, so building the parser (``bach2 --help``) stays quick."""
    code = ('import sys; from bach2.app.cli import build_parser; build_parser(); '
            "print(sorted({name.split('.')[0] for name in sys.modules} & "
            "{'pytensor', 'jax', 'matplotlib', 'flask', 'music21', 'sklearn', 'scipy'}))")
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'


def test_bach2_prepare_help_lists_its_options():
    out = bach2('prepare', '--help').stdout
    for option in ['--data', '--out', '--limit', '--jobs', '--skip-time-signature', '--no-split-movements',
                   '--step-ticks', '--lowest-pitch', '--n-pitches', '--transpose']:
        assert option in out


@pytest.mark.parametrize('number', range(3))
def test_stage_help(number):
    result = stage(number, '--help')
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('usage: ')
    assert '--out' in result.stdout


def test_prepare_with_a_bad_file(tmp_path):
    data = write_folder(tmp_path / 'data')
    out = tmp_path / 'out'
    result = bach2('prepare', '--data', data, '--out', out)
    assert result.returncode == 1, result.stderr
    last = result.stderr.rstrip('\n').splitlines()[-1]          # after the progress bars
    assert last == f'bach2: error: {data / "broken.mid"}: {BAD_REASON}'
    assert '2 pieces, 6 notes' in result.stdout
    assert (out / 'manifest.json').exists()
    assert (out / 'pitch_matrix_24ticks_sh11.npz').exists()
    with open(out / 'pitch_matrix_24ticks_sh0.p', 'rb') as handle:
        assert pickle.load(handle)['names'] == ['one', 'two']


def test_prepare_with_good_files_only(tmp_path):
    data = write_good_files(tmp_path / 'data')
    result = bach2('prepare', '--data', data, '--out', tmp_path / 'out', '--transpose', 'c')
    assert result.returncode == 0, result.stderr
    assert 'could not be read' not in result.stderr
    assert (tmp_path / 'out' / 'pitch_matrix_24ticks_toC.p').exists()
    assert str(tmp_path / 'out' / 'pitch_matrix_24ticks_toC.p') in result.stdout


def test_prepare_skip_time_signature_prints_the_skipped_piece(tmp_path):
    data = write_good_files(tmp_path / 'data')
    result = bach2('prepare', '--data', data, '--out', tmp_path / 'out', '--skip-time-signature', '3/4')
    assert result.returncode == 0, result.stderr
    assert 'skipped two: time signature 3/4' in result.stdout
    assert '1 pieces' in result.stdout


@pytest.mark.parametrize('make_folder, problem', [
    (lambda path: path.mkdir(), 'no .mid or .midi files in this folder'),
    (lambda path: None, 'no such folder'),
])
def test_prepare_without_midi(tmp_path, make_folder, problem):
    data = tmp_path / 'data'
    make_folder(data)
    out = tmp_path / 'out'
    result = bach2('prepare', '--data', data, '--out', out)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f'bach2: error: {data}: {problem}']
    assert result.stdout == ''
    assert not out.exists()


def test_prepare_every_file_bad(tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    (data / 'a.mid').write_text('nope')
    result = bach2('prepare', '--data', data, '--out', tmp_path / 'out')
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (f'bach2: error: {data}: none of its 1 MIDI files gave a usable '
                                              f'piece (1 unreadable, 0 skipped; first: {data / "a.mid"}: {BAD_REASON})')
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('args', [['prepare', '--frobnicate'], ['frobnicate'], [],
                                  ['prepare', '--transpose', 'd'], ['prepare', '--limit', '0']])
def test_bad_options_are_one_line_argparse_errors(args):
    result = bach2(*args)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert re.fullmatch(r'(bach2|bach2 prepare): error: .+ \(see \1 --help\)', lines[0]), lines[0]


def test_version():
    result = bach2('--version')
    assert result.returncode == 0
    assert result.stdout.startswith('bach2 ')


def test_inspect(tmp_path):
    data = write_folder(tmp_path / 'data')
    result = bach2('inspect', data / 'one.mid', data / 'broken.mid')
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f'{data / "one.mid"}: 1 voices, 3 notes, 96 ticks/quarter, 4/4, key C major; repairs: no repairs']
    assert result.stderr.splitlines() == [f'bach2: error: {data / "broken.mid"}: {BAD_REASON}']


def test_inspect_a_folder_reports_repairs(tmp_path):
    # A NoteOff with nothing open, and D4 never closed (closed at the track's end, tick 96).
    path = write_midi(tmp_path / 'messy.mid', [[off(50), on(60), on(62), off(60, 96)]])
    result = bach2('inspect', tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith('repairs: 1 unmatched note offs, 1 unclosed note ons')
    assert result.stdout.startswith(f'{path}: 1 voices, 2 notes, ')


def test_stages_in_order_equal_prepare(tmp_path):
    data = write_folder(tmp_path / 'data')
    staged, whole = tmp_path / 'staged', tmp_path / 'whole'
    assert stage(0, '--data', data, '--out', staged).returncode == 1      # the bad file is reported
    for number in (1, 2):
        result = stage(number, '--out', staged)
        assert result.returncode == 0, result.stderr
    assert bach2('prepare', '--data', data, '--out', whole).returncode == 1
    assert sorted(os.listdir(staged)) == sorted(os.listdir(whole))
    for name in ['pitch_matrix_24ticks_sh0.p', 'pitch_matrix_24ticks_sh7.p', 'chord_sequence_sh3.p']:
        with open(staged / name, 'rb') as a, open(whole / name, 'rb') as b:
            a, b = pickle.load(a), pickle.load(b)
        assert a['names'] == b['names'] == ['one', 'two']
        key = 'pitch_matrices' if 'pitch' in name else 'chord_sequences'
        for x, y in zip(a[key], b[key], strict=True):
            np.testing.assert_array_equal(x, y)
    staged_manifest = json.loads((staged / 'manifest.json').read_text())
    whole_manifest = json.loads((whole / 'manifest.json').read_text())
    assert staged_manifest['pieces'] == whole_manifest['pieces']
    assert staged_manifest['failed_files'] == whole_manifest['failed_files'] != []


def test_stage1_without_stage0(tmp_path):
    for number in (1, 2):
        result = stage(number, '--out', tmp_path / 'nothing')
        assert result.returncode == 2
        [line] = result.stderr.splitlines()
        assert line.startswith('bach2: error: ') and 'time_series.p' in line and 'stage 0' in line


def test_stage0_with_every_file_bad_keeps_the_old_time_series(tmp_path):
    good, bad, out = write_good_files(tmp_path / 'good'), tmp_path / 'bad', tmp_path / 'out'
    bad.mkdir()
    (bad / 'broken.mid').write_text('not MIDI at all')
    assert stage(0, '--data', good, '--out', out).returncode == 0
    before = (out / 'time_series.p').read_bytes()
    result = stage(0, '--data', bad, '--out', out)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(f'bach2: error: {bad}')
    assert (out / 'time_series.p').read_bytes() == before


# --------------------------------------------------------------------------- compose commands: one spelling, checked
# options (issue 29: seeds, names, limits)

@pytest.mark.parametrize('args', [['generate', '--seed', '-1'], ['harmonize', 'tune.mid', '--seed', '-1'],
                                  ['fugue', 'C4 D4 E4', '--seed', '-1'], ['fugue', 'C4 D4 E4', '--name', '../escaped'],
                                  ['harmonize', 'tune.mid', '--name', 'a/b'], ['generate', '--name', '..'],
                                  ['fugue', 'C4 D4 E4', '--free-bars', '100000']])
def test_compose_options_are_checked_by_the_parser(args):
    result = bach2(*args)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    command, option = args[0], args[-2]
    assert re.fullmatch(rf'bach2 {command}: error: argument {option}: must be .+ \(see bach2 {command} --help\)', line)


def test_a_huge_subject_is_refused_at_once(tmp_path):
    result = bach2('fugue', 'C4:10000000 D4', '--out-dir', tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["bach2: error: subject token 'C4:10000000': the subject is longer than 32 "
                                          'quarter notes (8 bars of 4/4), the longest read here']
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.parametrize('command', ['generate', 'harmonize', 'fugue'])
def test_compose_commands_spell_their_output_options_alike(command):
    out = bach2(command, '--help').stdout
    assert '--out-dir' in out and '--wav' in out and '--no-wav' in out and '--name' in out
    assert not re.search(r'--out\b(?!-)', out)
