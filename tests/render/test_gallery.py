"""The gallery (``bach2 gallery``, Synthesized_Fugues/index.html): statistics, relative links, each piece's
engraved score beside its piano roll, and a real headless Chromium that loads the page from file://, checks
every image and audio element, and keeps screenshots in ``test-artifacts/gallery.png`` and
``test-artifacts/gallery_scores.png``.

The pieces are written as ``bach2 generate`` writes them (MIDI, pickled record,
piano roll, audio), from fixed random pitch matrices, with the real writers.
"""
import html.parser
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bach2.render.gallery import find_pieces, midi_statistics, write_gallery
from bach2.render.listen import INSTALL_HINT, render_midi, renderer_available
from bach2.render.piano_roll import RollLabels, plot_piano_roll
from bach2.safe_io import save_pickle
from bach2.time_series_to_midi import notes_to_piece, time_series_to_midi
from bach2.time_series_to_pitch_matrix import pitch_matrix_to_time_series
from headless_chromium import HeadlessChromium, find_chromium
from midi_builders import off, on, write_midi

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / 'test-artifacts'
ENV = {**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [str(ROOT / 'Source_Code'),
                                                                 os.environ.get('PYTHONPATH')]))}


def write_piece(folder, stem, seed, audio=None, png=True):
    """One piece as ``bach2 generate`` leaves it: ``stem``.mid, .p, .png (optional), .wav/.ogg (optional)."""
    rng = np.random.default_rng(seed)
    matrix = np.zeros((96, 61), np.uint8)
    for voice, low in enumerate((24, 36, 43)):                    # three voices, a new note every 4 steps
        pitches = low + rng.integers(0, 12, 24)
        matrix[np.arange(96), np.repeat(pitches, 4)] = 1
    primer = matrix[:16].copy()
    notes = pitch_matrix_to_time_series(matrix, step=24, lowest_pitch=24)
    time_series_to_midi(notes_to_piece(notes, 96, name=stem), folder / f'{stem}.mid')
    save_pickle({'pitch_matrix': matrix, 'lowest_pitch': 24, 'primer': primer, 'primer_name': 'bwv1.6',
                 'step_ticks': 24, 'checkpoint': str(folder / 'ck' / 'lstm_polyphonic_N8_2layers.npz'),
                 'report': {'key_written': 'C major', 'notes': len(notes)},
                 'generate_config': {'rule': 'sample', 'temperature': 1.0, 'seed': seed}}, folder / f'{stem}.p')
    if png:
        plot_piano_roll(np.concatenate([primer, matrix]), folder / f'{stem}.png',
                        labels=RollLabels(primer_steps=16, chords='auto'))
    if audio:
        render_midi(folder / f'{stem}.mid', folder / f'{stem}.{audio}')
    return len(notes)


def gallery_folder(folder, with_audio):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'ck').mkdir()
    plot_piano_roll(np.eye(8, 61), folder / 'ck' / 'lstm_polyphonic_N8_2layers.png')   # stands for train's curve
    write_piece(folder, 'fugue_N8epoch10', 0, audio='wav' if with_audio else None)
    write_piece(folder, 'fugue_N8epoch10_seed2', 2, audio='ogg' if with_audio else None)
    write_piece(folder, 'fugue_N8epoch10_seed10', 10, png=False)    # roll drawn by the gallery
    return folder


class Links(html.parser.HTMLParser):
    """Every src and href of a page."""

    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.links += [(tag, value) for name, value in attrs if name in ('src', 'href')]


def test_midi_statistics_of_a_known_file(tmp_path):
    chord = (48, 60, 64, 67)
    path = write_midi(tmp_path / 'c.mid', [[*(on(p) for p in chord), *(off(p, 192 if i == 0 else 0)
                                                                        for i, p in enumerate(chord)),
                                            on(72, 192), off(72, 96)]])
    stats = midi_statistics(path)
    assert stats['notes'] == 5 and stats['distinct_pitches'] == 5
    assert stats['seconds'] == pytest.approx(2.5)                 # 5 quarter notes at 120 bpm
    assert stats['polyphony_max'] == 4 and stats['polyphony_mean'] == pytest.approx((8 * 4 + 4) / 12)
    assert stats['range'] == 'C3 – C5'


def test_gallery_lists_every_piece_with_relative_links(tmp_path):
    folder = gallery_folder(tmp_path / 'Synthesized_Fugues', with_audio=False)
    page = write_gallery(folder, corpus_dir=None)
    text = page.read_text()
    assert [p['stem'] for p in find_pieces(folder)] == ['fugue_N8epoch10', 'fugue_N8epoch10_seed2',
                                                         'fugue_N8epoch10_seed10']
    assert (folder / 'fugue_N8epoch10_seed10.png').is_file() and (folder / 'pitch_classes.png').is_file()
    parser = Links()
    parser.feed(text)
    for tag, link in parser.links:
        assert not link.startswith(('/', 'file:')) and (folder / link).is_file(), link
    assert ('img', 'ck/lstm_polyphonic_N8_2layers.png') in parser.links             # the training curve
    assert text.count('<audio') == 0 and text.count('bach2 listen') == 3
    assert f'<th>notes</th><td>{midi_statistics(folder / "fugue_N8epoch10.mid")["notes"]}</td>' in text
    for stem in ('fugue_N8epoch10', 'fugue_N8epoch10_seed2', 'fugue_N8epoch10_seed10'):   # a score each, engraved
        assert (folder / f'{stem}.musicxml').is_file() and ('img', f'{stem}.page1.svg') in parser.links
        assert 'class="note"' in (folder / f'{stem}.page1.svg').read_text()
    assert not list(folder.glob('.*.tmp'))


@pytest.mark.skipif(find_chromium() is None, reason='Chromium is missing (apt-get install chromium)')
@pytest.mark.skipif(not renderer_available(), reason=f'FluidSynth or a soundfont is missing ({INSTALL_HINT})')
def test_gallery_loads_in_headless_chromium_with_images_and_audio(tmp_path):
    folder = gallery_folder(tmp_path / 'Synthesized_Fugues', with_audio=True)
    page = write_gallery(folder, corpus_dir=None)
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / 'gallery.png'
    with HeadlessChromium() as browser:
        browser.load(page.resolve().as_uri())
        found = browser.evaluate("""(async () => {
          const images = [...document.images];
          await Promise.all(images.map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
          const players = [...document.querySelectorAll('audio')];
          await Promise.all(players.map(a => a.readyState >= 1 ? 0 : new Promise(r => {
            a.addEventListener('loadedmetadata', r); a.addEventListener('error', r, true); setTimeout(r, 15000); })));
          return {images: images.map(i => [i.getAttribute('src'), i.naturalWidth]),
                  audio: players.map(a => [a.currentSrc, a.readyState, a.duration, a.error && a.error.code])};
        })()""")
        browser.screenshot(screenshot)
    print(f'gallery screenshot: {screenshot}')
    assert len(found['images']) == 8                      # training curve, pitch classes, 3 rolls, 3 score pages
    assert all(width > 0 for _, width in found['images']), found['images']
    assert len(found['audio']) == 2
    for source, ready, duration, error in found['audio']:
        assert error is None and ready >= 1 and duration > 5, (source, ready, duration, error)
    assert screenshot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.skipif(find_chromium() is None, reason='Chromium is missing (apt-get install chromium)')
def test_gallery_shows_each_engraved_score_beside_its_roll(tmp_path):
    folder = gallery_folder(tmp_path / 'Synthesized_Fugues', with_audio=False)
    page = write_gallery(folder, corpus_dir=None)
    ARTIFACTS.mkdir(exist_ok=True)
    with HeadlessChromium(width=1400, height=900) as browser:
        browser.load(page.resolve().as_uri())
        found = browser.evaluate("""(async () => {
          await Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => {
            i.onload = i.onerror = r; })));
          return [...document.querySelectorAll('section.piece')].map(section => {
            const roll = section.querySelector('img[alt^="piano roll"]').getBoundingClientRect();
            const page = section.querySelector('.score img.page');
            const box = page.getBoundingClientRect();
            return {width: page.naturalWidth, shown: [box.width, box.height], beside: box.left >= roll.right,
                    level: Math.abs(box.top - roll.top) < 5};
          });
        })()""")
        screenshot = browser.screenshot(ARTIFACTS / 'gallery_scores.png')
    print(f'gallery screenshot: {screenshot}')
    assert len(found) == 3
    for piece in found:
        assert piece['width'] > 0 and min(piece['shown']) > 100 and piece['beside'] and piece['level'], piece


def test_gallery_command(tmp_path):
    folder = gallery_folder(tmp_path / 'out', with_audio=False)
    run = subprocess.run([sys.executable, '-m', 'bach2.app.cli', 'gallery', str(folder), '--corpus', str(tmp_path)],
                         capture_output=True, text=True, timeout=120, env=ENV)
    assert run.returncode == 0 and run.stdout.strip() == f'gallery: {folder / "index.html"}', run.stderr
    run = subprocess.run([sys.executable, '-m', 'bach2.app.cli', 'gallery', str(tmp_path / 'none')],
                         capture_output=True, text=True, timeout=120, env=ENV)
    assert run.returncode == 2 and run.stderr.strip() == f'bach2: error: {tmp_path / "none"}: no such folder'
