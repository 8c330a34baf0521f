"""Stage 1 (writing): time series → MIDI file, the inverse of ``midi_to_time_series``.

Format 1: track 0 holds tempi, time and key signatures and markers; track
``i + 1`` holds voice ``i`` on its own channel. Reading the written file back
gives the same (time, pitch, duration) per voice, resolution, tempi and time
signatures. Files are written atomically (temporary file, then rename).
"""
import mido

from bach2.midi_to_time_series import Piece, Voice
from bach2.safe_io import atomic_path

VELOCITY = 80


def _track(events, name=''):
    """[(tick, order, message)] → mido track with delta times (ties keep ``order``)."""
    track = mido.MidiTrack()
    if name:
        track.append(mido.MetaMessage('track_name', name=name, time=0))
    events.sort(key=lambda event: (event[0], event[1]))
    tick = 0
    for event_tick, _, message in events:
        track.append(message.copy(time=event_tick - tick))
        tick = event_tick
    return track


def piece_to_midi_file(piece):
    """:class:`Piece` → ``mido.MidiFile`` (nothing written to disk)."""
    midi = mido.MidiFile(type=1, ticks_per_beat=piece.resolution)
    meta = [(tick, 0, mido.MetaMessage('set_tempo', tempo=tempo)) for tick, tempo in piece.tempi]
    meta += [(tick, 0, mido.MetaMessage('time_signature', numerator=num, denominator=den))
             for tick, num, den in piece.time_signatures]
    meta += [(tick, 0, mido.MetaMessage('key_signature', key=key)) for tick, key in piece.key_signatures]
    meta += [(tick, 0, mido.MetaMessage('marker', text=text)) for tick, text in piece.markers]
    midi.tracks.append(_track(meta, piece.name))
    for voice in piece.voices:
        channel = voice.channel
        events = []
        for time, pitch, duration in voice.notes:
            # At one tick: NoteOffs of ending notes (order 0) before NoteOns (order 1).
            events.append((time, 1, mido.Message('note_on', channel=channel, note=pitch, velocity=VELOCITY)))
            events.append((time + duration, 0, mido.Message('note_off', channel=channel, note=pitch, velocity=0)))
        midi.tracks.append(_track(events, voice.name))
    return midi


def time_series_to_midi(piece, path):
    """Write ``piece`` to the MIDI file ``path`` atomically; returns ``path``."""
    midi = piece_to_midi_file(piece)
    with atomic_path(path) as temporary:
        midi.save(temporary)
    return path


def notes_to_piece(notes, resolution, name='piece', tempo=500000, time_signature=(4, 4)):
    """[(time, pitch, duration)] in ticks → a one-voice :class:`Piece`, ready for :func:`time_series_to_midi`."""
    end = max((time + duration for time, _, duration in notes), default=0)
    return Piece(name=name, resolution=resolution, tempi=[(0, tempo)],
                 time_signatures=[(0, *time_signature)], key_signatures=[], markers=[],
                 voices=[Voice(track=1, channel=0, name=name, notes=sorted(notes))], end_tick=end)
