"""What several ``bach2`` commands write and print: a JSON record, unreadable files (and the exit status they
give), the refreshed gallery, and why there is no audio.

Imports of heavy modules are inside the functions, for start-up speed (``bach2 --help`` loads no plotting).
"""
import json
import pathlib
import sys

from bach2.render.gallery import write_gallery
from bach2.render.listen import RendererMissing, find_renderer
from bach2.safe_io import atomic_path


def write_json(path, record):
    """Write ``record`` to ``path`` as indented JSON, whole or not at all; returns ``path``."""
    with atomic_path(path) as temporary:
        pathlib.Path(temporary).write_text(json.dumps(record, indent=1))
    return path


def report_failures(failures, skipped):
    """Print bad files and skipped pieces at the end of a folder run; returns the exit status."""
    for name, reason in skipped:
        print(f'skipped {name}: {reason}')
    for _, reason in failures:                  # one line per unreadable file: 'path: problem'
        print(f'bach2: error: {reason}', file=sys.stderr)
    return 1 if failures else 0


def renderer_or_say_so():
    """True when FluidSynth and a soundfont are installed; else print once what to install."""
    try:
        find_renderer()
        return True
    except RendererMissing as error:
        print(f'no audio: {error}')
        return False


def refresh_gallery(folder, corpus_dir):
    """Rewrite ``folder/index.html`` and say where it is."""
    print(f'gallery: {write_gallery(folder, corpus_dir)}')
