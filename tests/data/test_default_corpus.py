"""bach2.data.default_corpus: the built-in keyboard corpus, and music21's Bach scores converted once into MIDI."""
import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from bach2.data.default_corpus import (KEYBOARD, KEYBOARD_VOICES, SCORE_SUFFIXES, SUBFOLDER, default_corpus_scores,
                                       fill_default_corpus, midi_name)
from bach2.midi_to_time_series import midi_to_time_series

ROOT = Path(__file__).resolve().parents[2]


def test_default_corpus_scores():
    scores = default_corpus_scores()
    assert len(scores) > 400
    stems = [path.stem for path in scores]
    assert stems == sorted(stems)
    assert len(set(stems)) == len(stems)                          # one file per piece
    assert all(path.suffix in SCORE_SUFFIXES for path in scores)
    assert not any(path.suffix == '.rntxt' for path in scores)    # Roman-numeral analyses are not scores
    by_stem = {path.stem: path for path in scores}
    assert by_stem['bwv277'].suffix == '.mxl'                     # also shipped as .krn: .mxl comes first
    assert 'bwv846' in by_stem                                    # WTC I prelude 1


def test_midi_name():
    assert midi_name('/x/bach/bwv10.7.mxl') == 'bwv10.7.mid'


def test_fill_default_corpus(tmp_path):
    present, failed = fill_default_corpus(tmp_path, limit=3, progress=False)
    expected = [tmp_path / SUBFOLDER / midi_name(score) for score in default_corpus_scores()[:3]]
    assert present == expected
    assert failed == []
    for path in present:
        piece = midi_to_time_series(path)
        assert piece.n_notes > 0
        assert len(piece.voices) >= 4                             # chorales: four voices at least
    assert sorted(p.name for p in (tmp_path / SUBFOLDER).iterdir()) == sorted(p.name for p in present)

    mtimes = [path.stat().st_mtime_ns for path in present]
    present[1].unlink()
    again, failed = fill_default_corpus(tmp_path, limit=3, progress=False)
    assert again == present and failed == []
    assert present[1].exists()                                    # the missing one is converted again …
    assert [present[0].stat().st_mtime_ns, present[2].stat().st_mtime_ns] == [mtimes[0], mtimes[2]]  # … only it

    mtimes = [path.stat().st_mtime_ns for path in present]
    fill_default_corpus(tmp_path, limit=3, progress=False)        # nothing to do
    assert [path.stat().st_mtime_ns for path in present] == mtimes


def test_the_keyboard_corpus_ships_with_its_manifest_and_licences():
    """Every shipped MIDI file is a row of the manifest with its checksum; the licence notes are there."""
    assert KEYBOARD == ROOT / 'training_data' / 'bach_keyboard'
    with open(KEYBOARD / 'manifest.tsv', newline='') as handle:
        rows = list(csv.DictReader(handle, delimiter='\t'))
    files = sorted(p.relative_to(KEYBOARD).as_posix() for p in KEYBOARD.rglob('*.mid'))
    assert len(files) == 132 and sorted(row['file'] for row in rows) == files     # one row per file
    for name in files:
        digest = hashlib.sha256((KEYBOARD / name).read_bytes()).hexdigest()
        assert digest in {row['sha256'] for row in rows if row['file'] == name}, name
    licence = (KEYBOARD / 'LICENSE.md').read_text()
    for row in rows:
        assert 'Creative Commons' not in row['license'] or f'`{row["file"]}`' in licence
    assert 'https://creativecommons.org/licenses/by-sa/4.0/' in licence
    assert (KEYBOARD / 'PROVENANCE_mutopia.txt').is_file() and (KEYBOARD / 'PROVENANCE_buschke.txt').is_file()


def manifest_rows(folder):
    with open(folder / 'manifest.tsv', newline='') as handle:
        return list(csv.DictReader(handle, delimiter='\t'))


def test_a_files_name_says_its_kind_and_bwv_as_the_manifest_does():
    """'bwv536_prelude_….mid' is the manifest's BWV 536, kind prelude (issue 30: three files named fugue were not)."""
    rows = manifest_rows(KEYBOARD)
    for row in rows:
        assert Path(row['file']).name.split('_')[:2] == [f'bwv{row["bwv"]}', row['kind']], row['file']
    kinds = {row['file']: row['kind'] for row in rows}
    assert kinds['mutopia/bwv536_prelude_prelude-et-fugue-en-la-majeur.mid'] == 'prelude'
    assert kinds['mutopia/bwv895_prelude_bwv895.mid'] == 'prelude'
    assert kinds['mutopia/bwv903_fantasia_bwv903fan.mid'] == 'fantasia'
    mirror = {row['file']: row['title'] for row in rows if row['file'].endswith(('-rectus.mid', '-inversus.mid'))}
    assert len(mirror) == 6 and len(set(mirror.values())) == 3       # Contrapunctus XVI, XVII, XVIII: each twice
    for name, title in mirror.items():
        assert f'Contrapunctus {name.split("contrapunctus")[1].split("-")[0].upper()} ' in title, name


def test_the_voices_corpus_ships_file_for_file_with_the_keyboard_corpus():
    """One row per file with its checksum; each names its piano twin, of the same name, kind and licence."""
    assert KEYBOARD_VOICES == ROOT / 'training_data' / 'bach_keyboard_voices'
    rows, piano = manifest_rows(KEYBOARD_VOICES), {row['file']: row for row in manifest_rows(KEYBOARD)}
    files = sorted(p.relative_to(KEYBOARD_VOICES).as_posix() for p in KEYBOARD_VOICES.rglob('*.mid'))
    assert sorted(row['file'] for row in rows) == files == sorted(piano)
    licence = (KEYBOARD_VOICES / 'LICENSE.md').read_text()
    for row in rows:
        assert hashlib.sha256((KEYBOARD_VOICES / row['file']).read_bytes()).hexdigest() == row['sha256'], row['file']
        twin = piano[row['piano_file']]
        assert row['piano_file'] == row['file'] and (row['kind'], row['licence']) == (twin['kind'], twin['license'])
        assert 'Creative Commons' not in row['licence'] or f'`{row["file"]}`' in licence
    for name in ('README.md', 'PROVENANCE.txt', 'tools/build_map.tsv', 'tools/sources.tsv', 'tools/voices.ily'):
        assert (KEYBOARD_VOICES / name).is_file(), name


def test_prepare_reads_the_keyboard_corpus_by_default(tmp_path):
    """Without --data, stage 0 reads the shipped keyboard works (checked on the parsed arguments: the
    full preparation is the main job's); --data and --chorales exclude each other."""
    from bach2.app.cli import build_parser
    from bach2.app.data_commands import resolve_data
    args = build_parser().parse_args(['prepare', '--out', str(tmp_path)])
    assert resolve_data(args) == KEYBOARD and not list(tmp_path.iterdir())
    result = subprocess.run([sys.executable, '-m', 'bach2.app.cli', 'prepare', '--data', 'x', '--chorales'],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and 'not allowed with argument' in result.stderr


def test_prepare_with_chorales_fills_the_music21_corpus(tmp_path):
    out = tmp_path / 'training_data'
    result = subprocess.run([sys.executable, '-m', 'bach2.app.cli', 'prepare', '--out', str(out), '--chorales',
                             '--limit', '3'], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert len(list((out / SUBFOLDER).glob('*.mid'))) == 3
    manifest = json.loads((out / 'manifest.json').read_text())
    assert [entry['piece'] for entry in manifest['pieces']] == [s.stem for s in default_corpus_scores()[:3]]
    assert manifest['failed_files'] == []
    assert (out / 'pitch_matrix_24ticks_sh0.npz').exists()
