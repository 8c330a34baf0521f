"""One writer of a piece in every format, for every composing command (``generate``, ``lines``, ``chain``,
``harmonize``, ``fugue``).

:func:`write_piece` writes a :class:`Composition` where an :class:`Output` says, as ``<out_dir>/<name>.<suffix>``:

* ``.mid``: one track per voice, each on its own channel (a single voice called 'piano': one track named after
  the piece), at ``Output.tempo_bpm`` quarter notes per minute, in the composition's time signature; a pickup
  is a short first bar with its own signature (a quarter before 4/4: 1/4 at tick 0, 4/4 at tick 96), as
  :mod:`bach2.music.metre` reads bars and MuseScore's MIDI import finds a pickup measure; its key signature
  where the composition has a key;
* ``.musicxml`` (``Output.musicxml``): the score in the composition's key, one part per voice, a single 'piano'
  voice on a grand staff, a pickup an anacrusis (:mod:`bach2.render.scores`);
* ``.p``: the pickled record, a plain dict: ``pitch_matrix``, ``onsets``, ``lowest_pitch``, ``step_ticks``,
  ``resolution``, then the composition's own keys;
* ``.png``: the piano roll (:mod:`bach2.render.piano_roll`), a line at each bar of the piece's bar positions,
  its chords spelled in the composition's key;
* ``.wav`` or ``.ogg`` (``Output.audio``): the MIDI rendered by FluidSynth (:mod:`bach2.render.listen`); where
  it is not installed, one line says why and the other files are written all the same.
"""
import dataclasses
import os
import pathlib

import numpy as np

from bach2.midi_to_time_series import Piece, Voice
from bach2.music.key_finding import midi_key_name
from bach2.music.metre import bar_positions
from bach2.render.listen import RendererMissing, render_midi
from bach2.render.piano_roll import RollLabels, plot_piano_roll
from bach2.render.scores import time_signature_of, write_musicxml
from bach2.safe_io import save_pickle
from bach2.time_series_to_midi import time_series_to_midi
from bach2.time_series_to_pitch_matrix import JOURNAL_RESOLUTION, JOURNAL_STEP_TICKS


@dataclasses.dataclass(frozen=True)
class Output:
    """Where and how a piece is written: ``<out_dir>/<name>.mid`` and its siblings."""
    out_dir: str | os.PathLike = 'Synthesized_Fugues'
    name: str = ''              # the file stem; '' = the command's own (e.g. fugue_exposition_3v_seed0)
    audio: str = ''             # 'wav' or 'ogg': render the MIDI too (needs FluidSynth); '' = no audio
    musicxml: bool = False      # write a MusicXML score too (bach2.render.scores)
    tempo_bpm: float = 100.0    # quarter notes per minute (100: 600000 µs per quarter note in the MIDI)

    def named(self, default):
        """This output with the name ``default`` where it has none."""
        return self if self.name else dataclasses.replace(self, name=default)

    def path(self, suffix):
        """``<out_dir>/<name>.<suffix>``."""
        return pathlib.Path(self.out_dir) / f'{self.name}.{suffix}'


@dataclasses.dataclass
class Composition:
    """A piece ready to write.

    ``voices``: {name: [(tick, pitch, duration)]} at JOURNAL_RESOLUTION (96) ticks per quarter note, one MIDI
    track and one score part each. ``matrix``: ``T × P`` uint8 of all voices, column j = MIDI
    ``lowest_pitch + j``, a row ``step_ticks`` long; ``onsets``: its ``T × P`` onset plane (1 where a note is
    struck) or None; ``record``: the other keys of the ``.p``. ``time_signature``: (numerator, denominator) of
    the MIDI and the score; ``lead_steps``: steps of the first bar before the first row (> 0: the piece starts
    with a pickup, the rest of that bar); ``key``: the key it is written in, e.g. ('C', 'minor'), of the score
    and the chord labels, None = found from the notes.

    The piano roll shows ``primer`` (``L × P``, None = none) shaded before the matrix, with a line at each bar
    of ``positions`` (``(L + T) × 2`` bar positions of its rows, :mod:`bach2.music.metre`; None = bars of
    :meth:`time_signatures` from its first row), the ``title`` ('' = the file's name), ``chords`` and ``marks``
    (:class:`~bach2.render.piano_roll.RollLabels`).
    """
    voices: dict
    matrix: np.ndarray
    lowest_pitch: int
    record: dict = dataclasses.field(default_factory=dict)
    step_ticks: int = JOURNAL_STEP_TICKS
    onsets: np.ndarray = None
    time_signature: tuple = (4, 4)
    lead_steps: int = 0
    key: tuple = None
    primer: np.ndarray = None
    positions: np.ndarray = None
    title: str = ''
    chords: object = 'auto'
    marks: tuple = ()

    @property
    def steps_per_quarter(self):
        return JOURNAL_RESOLUTION // self.step_ticks

    @property
    def pickup_ticks(self):
        """Ticks (at JOURNAL_RESOLUTION) of the pickup, the short first bar; 0 = the first bar is whole."""
        numerator, denominator = self.time_signature
        bar = numerator * 4 * JOURNAL_RESOLUTION // denominator
        return (bar - self.lead_steps * self.step_ticks) % bar

    def time_signatures(self):
        """[(tick, numerator, denominator)] of the MIDI: ``time_signature`` from tick 0, or after a pickup the
        pickup's own signature (:func:`~bach2.render.scores.time_signature_of` of its steps) at tick 0 first."""
        if not self.pickup_ticks:
            return [(0, *self.time_signature)]
        pickup = time_signature_of(self.pickup_ticks // self.step_ticks, self.steps_per_quarter)
        return [(0, *pickup), (self.pickup_ticks, *self.time_signature)]


def write_piece(piece, output, log=print):
    """Write the :class:`Composition` ``piece`` where ``output`` (an :class:`Output` with a name) says →
    {kind: path}, in the order written: 'mid', 'musicxml' (when asked), 'p', 'png', then 'wav' or 'ogg' (when
    asked and FluidSynth is installed; otherwise ``log`` gets one line saying why)."""
    if not output.name:
        raise ValueError('the output needs a name (Output.named)')
    files = {'mid': time_series_to_midi(midi_piece(piece, output), output.path('mid'))}
    if output.musicxml:
        files['musicxml'] = write_musicxml(piece.voices, JOURNAL_RESOLUTION, output.path('musicxml'),
                                           time_signature=piece.time_signature, key=piece.key,
                                           pickup_ticks=piece.pickup_ticks)
    files['p'] = output.path('p')
    save_pickle({'pitch_matrix': piece.matrix, 'onsets': piece.onsets, 'lowest_pitch': piece.lowest_pitch,
                 'step_ticks': piece.step_ticks, 'resolution': JOURNAL_RESOLUTION, **piece.record}, files['p'])
    primer = np.zeros((0, piece.matrix.shape[1]), np.uint8) if piece.primer is None else piece.primer
    files['png'] = plot_piano_roll(np.concatenate([primer, piece.matrix]), output.path('png'), piece.lowest_pitch,
                                   roll_positions(piece), piece.steps_per_quarter,
                                   RollLabels(piece.title or output.name, len(primer), piece.chords, piece.marks,
                                              piece.key))
    if output.audio:
        try:
            files[output.audio] = render_midi(files['mid'], output.path(output.audio))['path']
        except RendererMissing as error:
            log(f'no audio: {error}')
    return files


def midi_piece(piece, output):
    """The :class:`~bach2.midi_to_time_series.Piece` of the MIDI file: the tempo of ``output`` and the time
    signatures (and the key signature of its key, if any) in track 0, then voice k on track k + 1, channel k (a single
    'piano' voice named after the piece)."""
    names = [output.name] if list(piece.voices) == ['piano'] else list(piece.voices)
    voices = [Voice(track=k + 1, channel=k, name=name, notes=notes)
              for k, (name, notes) in enumerate(zip(names, piece.voices.values()))]
    end = max((time + duration for notes in piece.voices.values() for time, _, duration in notes), default=0)
    return Piece(name=output.name, resolution=JOURNAL_RESOLUTION, tempi=[(0, int(round(60e6 / output.tempo_bpm)))],
                 time_signatures=piece.time_signatures(), key_signatures=midi_key_signatures(piece.key),
                 markers=[], voices=voices,
                 end_tick=end)


def midi_key_signatures(key):
    """('Bb', 'minor') → [(0, 'Bbm')], the key as a MIDI key signature at tick 0 (spelled with at most seven
    accidentals); None → []."""
    return [] if key is None else [(0, midi_key_name(key))]


def roll_positions(piece):
    """The ``(L + T) × 2`` bar positions of the piano roll's rows (primer, then matrix): the piece's
    ``positions``, else bars of its time signatures (a pickup first) from the first row."""
    if piece.positions is not None:
        return piece.positions
    n_rows = len(piece.matrix) + (0 if piece.primer is None else len(piece.primer))
    return bar_positions(piece.time_signatures(), JOURNAL_RESOLUTION, piece.step_ticks, n_rows)
