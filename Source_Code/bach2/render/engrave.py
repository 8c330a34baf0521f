"""Engraved scores: a MusicXML file → SVG pages drawn by Verovio (the ``verovio`` pip package), to show beside
a piece's piano roll (the studio, the gallery).

:func:`engrave` writes ``<stem>.page1.svg``, ``<stem>.page2.svg`` … beside the score (or in ``out_dir``), each
atomically, and removes the pages of an earlier, longer engraving of the same stem. A page is
:data:`PAGE_WIDTH_PX` pixels wide, as tall as its systems, with the score's title and composer on the first.
"""
import glob
import pathlib
import re

from bach2.safe_io import atomic_path

PAGE_WIDTH_PX = 840
_SCALE = 40                                          # percent; Verovio's page units are 1/10 mm at 100 %
_OPTIONS = {'pageWidth': PAGE_WIDTH_PX * 100 // _SCALE, 'pageHeight': 2970, 'scale': _SCALE,
            'adjustPageHeight': True, 'footer': 'none', 'header': 'auto', 'breaks': 'auto'}


class EngraveError(Exception):
    """A score that could not be engraved: Verovio is missing, or it could not read the file."""


def _pages_on_disk(stem, folder):
    """The SVG pages of ``stem`` in ``folder``, in page order (paths)."""
    pattern = re.compile(re.escape(stem) + r'\.page(\d+)\.svg')
    found = [(int(match[1]), path) for path in pathlib.Path(folder).glob(f'{glob.escape(stem)}.page*.svg')
             if (match := pattern.fullmatch(path.name))]
    return [path for _, path in sorted(found)]


def engrave(musicxml, out_dir=None, max_pages=20):
    """Engrave the MusicXML file ``musicxml`` → the paths of its SVG pages (at most ``max_pages``, the first ones),
    ``<stem>.page<k>.svg`` in ``out_dir`` (default: beside it). EngraveError if Verovio is missing or cannot
    read it."""
    try:
        import verovio                               # lazy: only pages that show scores need it
    except ImportError:
        raise EngraveError('no engraved score: Verovio is not installed (pip install verovio)') from None
    musicxml = pathlib.Path(musicxml)
    folder = pathlib.Path(out_dir) if out_dir else musicxml.parent
    verovio.enableLog(verovio.LOG_OFF)               # its warnings (beams, ties) would flood the terminal
    toolkit = verovio.toolkit()
    toolkit.setOptions(_OPTIONS)
    if not musicxml.is_file() or not toolkit.loadData(musicxml.read_text(encoding='utf-8', errors='replace')):
        raise EngraveError(f'{musicxml}: Verovio could not read this MusicXML file')
    count = min(toolkit.getPageCount(), max_pages)
    old = _pages_on_disk(musicxml.stem, folder)
    pages = []
    for number in range(1, count + 1):
        path = folder / f'{musicxml.stem}.page{number}.svg'
        with atomic_path(path) as temporary:
            pathlib.Path(temporary).write_text(toolkit.renderToSVG(number), encoding='utf-8')
        pages.append(path)
    for stale in old[count:]:
        stale.unlink(missing_ok=True)
    return pages
