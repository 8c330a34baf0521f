"""The gallery: ``index.html`` of the generated pieces in a folder, to open from disk (file://).

A piece is a ``<stem>.mid`` as ``bach2 generate`` writes it
(``fugue_N<hidden>epoch<epoch>[_seed<k>]``), with whichever of ``<stem>.png``
(piano roll; drawn from the MIDI when missing), ``<stem>.wav`` / ``.ogg``
(audio player), ``<stem>.musicxml`` (score; written from the MIDI when missing) and
``<stem>.p`` (how it was made) sit beside it. Per piece the page shows the roll beside
the engraved score (:mod:`bach2.render.engrave`, SVG pages drawn anew from the
MusicXML), the player, statistics computed from the MIDI file, and a link to it;
above them, the training curves of the models (``train``'s PNG beside each
checkpoint) and ``pitch_classes.png``, the pieces' pitch classes against the corpus.
Every link is relative, so the folder can be moved.
"""
import html
import os
import pathlib
import re
import urllib.parse

import mido
import numpy as np

from bach2.common import CorpusError
from bach2.midi_to_time_series import MidiFileError, midi_to_time_series
from bach2.music.pitch_names import PITCH_CLASS_NAMES
from bach2.render.engrave import EngraveError, engrave
from bach2.render.look import look
from bach2.render.pitch_class_plot import corpus_matrices, pitch_class_distribution, plot_pitch_class_histograms
from bach2.render.scores import write_musicxml
from bach2.safe_io import UnsafePickleError, atomic_path, load_pickle
from bach2.time_series_to_pitch_matrix import LOWEST_PITCH, full_roll, pitch_span, ticks_per_step

AUDIO_SUFFIXES = {'.ogg': 'audio/ogg', '.wav': 'audio/wav'}   # the first found is played
SCORE_PAGES = 12                                              # engraved pages shown per piece
HISTOGRAM_NAME = 'pitch_classes.png'


def midi_statistics(path):
    """MIDI file → {'notes', 'distinct_pitches', 'seconds', 'polyphony_mean', 'polyphony_max', 'range'}.

    Polyphony: notes sounding at once, per 16th-note step, over the steps where something sounds.
    """
    piece = midi_to_time_series(path)
    roll = full_roll(piece, ticks_per_step(piece.resolution))           # T × 128 bool
    sounding = roll.sum(axis=1)
    span = pitch_span(piece)
    return {'notes': piece.n_notes,
            'distinct_pitches': int(roll.any(axis=0).sum()),
            'seconds': float(mido.MidiFile(path).length),
            'polyphony_mean': float(sounding[sounding > 0].mean()) if sounding.any() else 0.0,
            'polyphony_max': int(sounding.max()) if len(sounding) else 0,
            'range': f'{scientific_name(span[0])} – {scientific_name(span[1])}' if span else '–'}


def scientific_name(pitch):
    """MIDI pitch → 'C4' (middle C = 60), as the piano rolls label it."""
    return f'{PITCH_CLASS_NAMES[pitch % 12]}{pitch // 12 - 1}'


def _natural_key(path):
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', path.stem)]


def find_pieces(folder):
    """Folder → [dict(stem, mid, png, audio, record)] sorted by name (numbers in order); paths or None."""
    folder = pathlib.Path(folder)
    pieces = []
    for midi in sorted(folder.glob('*.mid'), key=_natural_key):
        audio = next((midi.with_suffix(s) for s in AUDIO_SUFFIXES if midi.with_suffix(s).is_file()), None)
        png, record = midi.with_suffix('.png'), midi.with_suffix('.p')
        pieces.append({'stem': midi.stem, 'mid': midi, 'png': png if png.is_file() else None, 'audio': audio,
                       'record': record if record.is_file() else None})
    return pieces


def _load_record(path):
    """The generate record of a piece (dict), or {} when absent or unreadable."""
    try:
        record = load_pickle(path) if path else {}
    except UnsafePickleError:
        return {}
    return record if isinstance(record, dict) else {}


def _href(path, folder):
    """A relative, URL-quoted link from ``folder`` to ``path``."""
    return urllib.parse.quote(pathlib.Path(os.path.relpath(path, folder)).as_posix())


def _piece_html(piece, folder):
    stem, esc = piece['stem'], html.escape
    parts = [f'<section class="piece" id="{esc(stem)}">', f'<h2>{esc(stem)}</h2>', '<div class="views">']
    if piece['png']:
        parts.append(f'<figure><img src="{_href(piece["png"], folder)}" alt="piano roll of {esc(stem)}">'
                     '<figcaption>piano roll</figcaption></figure>')
    pages = ''.join(f'<img class="page" src="{_href(page, folder)}" alt="score of {esc(stem)}, page {k}">'
                    for k, page in enumerate(piece['score'], 1))
    parts.append(f'<figure><div class="score">{pages or esc(piece["score_note"])}</div>'
                 '<figcaption>score (engraved by Verovio)</figcaption></figure></div>')
    if piece['audio']:
        kind = AUDIO_SUFFIXES[piece['audio'].suffix]
        parts.append(f'<audio controls preload="metadata"><source src="{_href(piece["audio"], folder)}" '
                     f'type="{kind}"></audio>')
    else:
        parts.append('<p class="note">no audio (render it with <code>bach2 listen</code>)</p>')
    rows = piece['stats_rows']
    parts.append('<table>' + ''.join(f'<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>' for k, v in rows) + '</table>')
    parts.append(f'<p><a href="{_href(piece["mid"], folder)}" download>{esc(piece["mid"].name)}</a></p></section>')
    return '\n'.join(parts)


def _stats_rows(piece):
    """Rows (label, text) for one piece: statistics of its MIDI, then how it was made (from ``.p``)."""
    try:
        stats = midi_statistics(piece['mid'])
    except MidiFileError as error:
        return [('unreadable', str(error))]
    rows = [('notes', f'{stats["notes"]}'), ('distinct pitches', f'{stats["distinct_pitches"]}'),
            ('duration', f'{stats["seconds"]:.1f} s'), ('range', stats['range']),
            ('polyphony', f'{stats["polyphony_mean"]:.2f} mean, {stats["polyphony_max"]} max')]
    record = piece['record_data']
    report, config = record.get('report') or {}, record.get('generate_config') or {}
    if 'key_written' in report:
        rows.append(('key', str(report['key_written'])))
    if record.get('primer_name'):
        rows.append(('primer', str(record['primer_name'])))
    if config:
        rows.append(('sampling', f'{config.get("rule")}, T = {config.get("temperature")}, seed {config.get("seed")}'))
    return rows


def _musicxml(midi):
    """The score of the piece ``midi`` (a path): ``<stem>.musicxml`` beside it, written from the MIDI when missing
    (one part per track, a single track on a piano grand staff, in the file's first time signature) → its path."""
    score = midi.with_suffix('.musicxml')
    if not score.is_file():
        piece = midi_to_time_series(midi)
        voices = [voice for voice in piece.voices if voice.notes]
        names = []
        for k, voice in enumerate(voices, 1):
            name = voice.name or f'voice {k}'
            names.append(f'{name} {k}' if name in names else name)
        names = ['piano'] if len(voices) == 1 else names
        time_signature = tuple(piece.time_signatures[0][1:]) if piece.time_signatures else (4, 4)
        write_musicxml({name: voice.notes for name, voice in zip(names, voices)}, piece.resolution, score,
                       time_signature=time_signature)
    return score


def _pitch_class_figure(pieces, folder, corpus_dir):
    """Draw ``pitch_classes.png`` (pieces with a ``.p`` against the corpus); its path, or None."""
    generated = [(np.asarray(p['record_data']['pitch_matrix']), int(p['record_data'].get('lowest_pitch', LOWEST_PITCH)))
                 for p in pieces if 'pitch_matrix' in p['record_data']]
    if not generated:
        return None
    distributions = {f'generated ({len(generated)} pieces)':
                     sum((pitch_class_distribution([m], low, to_c=True) for m, low in generated)) / len(generated)}
    corpus, lowest = corpus_matrices(corpus_dir) if corpus_dir else ([], None)
    if corpus:
        distributions[f'corpus ({len(corpus)} pieces)'] = pitch_class_distribution(corpus, lowest, to_c=True)
    return plot_pitch_class_histograms(distributions, pathlib.Path(folder) / HISTOGRAM_NAME,
                                       title='pitch classes, each piece moved to C')


def write_gallery(folder='Synthesized_Fugues', corpus_dir='training_data', out=None):
    """Write ``index.html`` in ``folder`` (see module docstring) → its path. Missing rolls are drawn first."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise CorpusError(f'{folder}: {"not a folder" if folder.exists() else "no such folder"}')
    out = pathlib.Path(out) if out else folder / 'index.html'
    pieces = find_pieces(folder)
    if not pieces:
        raise CorpusError(f'{folder}: no generated pieces (.mid) in this folder; write some with `bach2 generate`')
    for piece in pieces:
        piece['record_data'] = _load_record(piece['record'])
        piece['stats_rows'] = _stats_rows(piece)
        piece['score'], piece['score_note'] = [], 'no score: the MIDI file is unreadable'
        if piece['stats_rows'][0][0] != 'unreadable':
            if piece['png'] is None:
                piece['png'] = pathlib.Path(look(piece['mid'], piece['mid'].with_suffix('.png')))
            try:
                piece['score'] = engrave(_musicxml(piece['mid']), max_pages=SCORE_PAGES)
            except EngraveError as error:
                piece['score_note'] = str(error)
    histogram = _pitch_class_figure(pieces, folder, corpus_dir)
    curves = sorted({pathlib.Path(p['record_data']['checkpoint']).with_suffix('.png') for p in pieces
                     if p['record_data'].get('checkpoint')})
    curves = [curve for curve in curves if curve.is_file()]
    with atomic_path(out) as temporary:
        pathlib.Path(temporary).write_text(_page(pieces, out.parent, histogram, curves), encoding='utf-8')
    return out


STYLE = """body{font-family:sans-serif;margin:1.5em;max-width:1400px;color:#222}
section.piece{border-top:1px solid #ccc;padding:0.5em 0}
img{max-width:100%;height:auto;display:block;margin:0.3em 0}
.views{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}.views figure{margin:0;flex:1 1 40em;min-width:0}
figcaption{color:#666;font-size:0.85em}
.score{max-height:46em;overflow-y:auto;border:1px solid #ddd;background:#fff}.score img.page{width:100%;margin:0}
audio{width:100%;max-width:600px}
table{border-collapse:collapse;font-size:0.9em}th{text-align:left;padding-right:1em;font-weight:normal;color:#666}
.figures{display:flex;flex-wrap:wrap;gap:1em}.figures img{max-width:620px}.note{color:#888}"""


def _page(pieces, folder, histogram, curves):
    """The whole HTML document (str)."""
    figures = [f'<img src="{_href(path, folder)}" alt="training curve {html.escape(path.stem)}">' for path in curves]
    if histogram:
        figures.append(f'<img src="{_href(histogram, folder)}" alt="pitch classes against the corpus">')
    body = '\n'.join(_piece_html(piece, folder) for piece in pieces) or '<p>No pieces yet: run <code>bach2 generate</code>.</p>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Bach2.0 — generated pieces</title>
<style>{STYLE}</style></head>
<body><h1>Bach2.0 — generated pieces ({len(pieces)})</h1>
<div class="figures">{''.join(figures)}</div>
{body}
</body></html>
"""
