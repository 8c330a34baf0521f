"""bach2.default_corpus: music21's Bach scores converted once into MIDI."""
import json
import subprocess
import sys
from pathlib import Path

from bach2.default_corpus import (SCORE_SUFFIXES, SUBFOLDER, default_corpus_scores, fill_default_corpus,
                                  holds_midi, midi_name)
from bach2.midi_to_time_series import midi_to_time_series

ROOT = Path(__file__).resolve().parents[1]


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


def test_holds_midi(tmp_path):
    assert not holds_midi(tmp_path / 'missing')
    assert not holds_midi(tmp_path)
    (tmp_path / 'notes.txt').write_text('text')
    assert not holds_midi(tmp_path)
    (tmp_path / 'deep' / 'er').mkdir(parents=True)
    (tmp_path / 'deep' / 'er' / 'PIECE.MIDI').write_bytes(b'MThd')
    assert holds_midi(tmp_path)


def test_prepare_without_data_fills_the_default_corpus(tmp_path):
    out = tmp_path / 'training_data'
    result = subprocess.run([sys.executable, '-m', 'bach2.cli', 'prepare', '--out', str(out), '--limit', '3'],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert len(list((out / SUBFOLDER).glob('*.mid'))) == 3
    manifest = json.loads((out / 'manifest.json').read_text())
    assert [entry['piece'] for entry in manifest['pieces']] == [s.stem for s in default_corpus_scores()[:3]]
    assert manifest['failed_files'] == []
    assert (out / 'pitch_matrix_24ticks_sh0.npz').exists()
