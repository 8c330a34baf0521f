"""The journal's filters: time signatures to skip, files holding several movements, key changes.

Movement boundaries are guessed from the MIDI itself, since files rarely say:
a tick ``t > 0`` splits a file when no note sounds across ``t`` and either a
text marker starts there, or the time or key signature changes there after a
general rest (no voice sounding) of at least one quarter note or together with
a tempo change. LilyPond's notation markers (``scripts.ufermata``) are not
movement titles and are ignored.
"""
import dataclasses

import numpy as np

from bach2.midi_to_time_series import Voice
from bach2.time_series_to_pitch_matrix import note_arrays


def time_signature_names(piece):
    """Distinct time signatures of a piece as strings, e.g. {'3/4'}; {'4/4'} when the file has none."""
    return {f'{num}/{den}' for _, num, den in piece.time_signatures} or {'4/4'}


def skipped_for_time_signature(piece, skip):
    """The first time signature of ``piece`` listed in ``skip`` (strings like '3/4'), or None."""
    return next((name for name in sorted(time_signature_names(piece)) if name in set(skip)), None)


_MAJOR_ACCIDENTALS = dict(zip('Cb Gb Db Ab Eb Bb F C G D A E B F# C#'.split(), range(-7, 8)))
_MINOR_ACCIDENTALS = dict(zip('Ab Eb Bb F C G D A E B F# C# G# D# A#'.split(), range(-7, 8)))


def accidentals(key):
    """mido key name → sharps (> 0) or flats (< 0) of its signature: 'D' → 2, 'Bm' → 2, 'Eb' → −3."""
    return _MINOR_ACCIDENTALS[key[:-1]] if key.endswith('m') else _MAJOR_ACCIDENTALS[key]


def _changes(events):
    """[(tick, value…)] → ticks > 0 where the values differ from those before.

    Events on one tick (one per track, say) are taken together as one value.
    """
    by_tick = {}
    for tick, *value in events:
        by_tick.setdefault(tick, set()).add(tuple(value))
    ticks, previous = set(), None
    for tick in sorted(by_tick):
        if previous is not None and by_tick[tick] != previous:
            ticks.add(tick)
        previous = by_tick[tick]
    return ticks


def _from_start(events, default):
    """Events with ``default`` in force at tick 0 when the file sets nothing there."""
    return events if events and events[0][0] == 0 else [(0, *default)] + list(events)


def key_changes(piece):
    """Key-signature changes (a different number of sharps or flats) after the start: [(tick, key)].

    A first key signature after tick 0 counts as a change from C major (no accidentals).
    """
    signatures = _from_start([(tick, accidentals(key)) for tick, key in piece.key_signatures], (0,))
    changed = _changes(signatures)
    return sorted({(tick, key) for tick, key in piece.key_signatures if tick in changed})


def movement_boundaries(piece):
    """Ticks where a new movement starts (see the module docstring), sorted."""
    start, _, end = note_arrays(piece)
    if not len(start):
        return []
    signature_changes = (_changes(_from_start(piece.time_signatures, (4, 4)))   # MIDI's default meter
                         | {tick for tick, _ in key_changes(piece)})
    tempo_changes = _changes(piece.tempi)
    titles = {tick for tick, text in piece.markers if tick > 0 and not text.startswith('scripts.')}
    boundaries = []
    for tick in sorted(signature_changes | titles):
        if tick >= end.max() or np.any((start < tick) & (end > tick)):
            continue                                   # a note sounds across: same movement
        resting = not np.any((start < tick) & (end > tick - piece.resolution))
        if tick in titles or resting or tick in tempo_changes:
            boundaries.append(tick)
    return boundaries


def _slice_events(events, begin, stop):
    """Events in [begin, stop) moved to start at 0, with the one in force at ``begin`` placed at 0."""
    before = [event for event in events if event[0] <= begin]
    inside = [(event[0] - begin, *event[1:]) for event in events if begin < event[0] < stop]
    return ([(0, *before[-1][1:])] if before else []) + inside


def split_movements(piece):
    """One :class:`Piece` per movement (the piece itself when it has one), named ``<name>_movement<i>``."""
    boundaries = movement_boundaries(piece)
    if not boundaries:
        return [piece]
    edges = [0] + boundaries + [piece.end_tick + 1]
    movements = []
    for i, (begin, stop) in enumerate(zip(edges, edges[1:]), start=1):
        voices = [Voice(v.track, v.channel, v.name,
                        [(t - begin, p, d) for t, p, d in v.notes if begin <= t < stop]) for v in piece.voices]
        movements.append(dataclasses.replace(
            piece, name=f'{piece.name}_movement{i}', voices=[v for v in voices if v.notes],
            tempi=_slice_events(piece.tempi, begin, stop),
            time_signatures=_slice_events(piece.time_signatures, begin, stop),
            key_signatures=_slice_events(piece.key_signatures, begin, stop),
            markers=[(tick - begin, text) for tick, text in piece.markers if begin <= tick < stop],
            end_tick=min(stop, piece.end_tick) - begin))
    return movements
