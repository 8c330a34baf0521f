"""Engraved scores (bach2.render.engrave): a real MusicXML score written by the project's writer, engraved by
Verovio into SVG pages that hold its notes, then shown in a real headless Chromium; the screenshot is kept in
``test-artifacts/engraved_score.png`` for a person to look at.
"""
import re
from pathlib import Path

import pytest

from bach2.render.engrave import PAGE_WIDTH_PX, EngraveError, engrave
from bach2.render.scores import write_musicxml
from headless_chromium import HeadlessChromium, find_chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / 'test-artifacts'
SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def two_voices(bars):
    """{'soprano', 'bass'}: a C major scale in quarter notes over half notes, ``bars`` bars of 4/4 (96 ticks a
    quarter)."""
    soprano = [(96 * k, SCALE[k % 8], 96) for k in range(4 * bars)]
    bass = [(192 * k, SCALE[k % 8] - 24, 192) for k in range(2 * bars)]
    return {'soprano': soprano, 'bass': bass}


def test_a_score_is_engraved_into_svg_pages_with_its_notes(tmp_path):
    score = write_musicxml(two_voices(4), 96, tmp_path / 'scale.musicxml', title='A scale')
    pages = engrave(score)
    assert pages == [tmp_path / 'scale.page1.svg']
    svg = pages[0].read_text()
    assert svg.startswith('<svg') and f'width="{PAGE_WIDTH_PX}px"' in svg
    assert len(re.findall(r'class="note"', svg)) == 16 + 8             # every note of both voices is drawn
    assert 'A scale' in svg                                            # the title, on the first page
    assert not list(tmp_path.glob('.*.tmp'))                           # written atomically


def test_a_long_score_has_several_pages_and_a_shorter_one_removes_the_extra_pages(tmp_path):
    long_score = write_musicxml(two_voices(120), 96, tmp_path / 'piece.musicxml')
    pages = engrave(long_score)
    assert len(pages) > 2 and [page.name for page in pages][:2] == ['piece.page1.svg', 'piece.page2.svg']
    assert len(engrave(long_score, max_pages=2)) == 2
    assert sorted(p.name for p in tmp_path.glob('*.svg')) == ['piece.page1.svg', 'piece.page2.svg']
    out = tmp_path / 'pages'
    assert engrave(write_musicxml(two_voices(2), 96, tmp_path / 'piece.musicxml'), out) == [out / 'piece.page1.svg']


def test_what_is_not_musicxml_is_one_line(tmp_path):
    junk = tmp_path / 'junk.musicxml'
    junk.write_text('not a score at all')
    with pytest.raises(EngraveError, match=r'junk\.musicxml: Verovio could not read this MusicXML file$'):
        engrave(junk)
    with pytest.raises(EngraveError, match='could not read'):
        engrave(tmp_path / 'missing.musicxml')
    assert not list(tmp_path.glob('*.svg'))


@pytest.mark.skipif(find_chromium() is None, reason='Chromium is missing (apt-get install chromium)')
def test_the_engraved_page_shows_in_headless_chromium(tmp_path):
    pages = engrave(write_musicxml(two_voices(8), 96, tmp_path / 'scale.musicxml', title='A scale'))
    page = tmp_path / 'score.html'
    page.write_text(f'<!doctype html><body style="margin:0"><img id="score" src="{pages[0].name}"></body>')
    ARTIFACTS.mkdir(exist_ok=True)
    with HeadlessChromium(width=PAGE_WIDTH_PX, height=700) as browser:
        browser.load(page.as_uri())
        shown = browser.evaluate("""(async () => { const img = document.querySelector('#score');
            if (!img.complete) await new Promise(r => { img.onload = img.onerror = r; });
            return [img.naturalWidth, img.naturalHeight]; })()""")
        screenshot = browser.screenshot(ARTIFACTS / 'engraved_score.png')
    assert shown[0] == PAGE_WIDTH_PX and shown[1] > 200, shown
    assert screenshot.stat().st_size > 10000
