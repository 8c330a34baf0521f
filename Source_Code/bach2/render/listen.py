"""Listen: render a MIDI file to WAV or OGG with FluidSynth and a General MIDI soundfont.

FluidSynth's output is linear in its gain (``-g``), so :func:`render_midi`
renders twice: once at :data:`REFERENCE_GAIN` into a temporary WAV to measure
the peak, then at the gain that puts the peak at :data:`TARGET_PEAK` (−1 dBFS),
so a solo line and a dense five-voice fugue are equally loud and never clip
(up to FluidSynth's largest gain, 10: a lone soft note may peak lower).
FluidSynth's default gain (0.2) leaves a Bach fugue at a peak of 0.07 (−23 dBFS).

Needs the Debian packages ``fluidsynth`` and ``timgm6mb-soundfont`` (or
``fluid-soundfont-gm``); without them :class:`RendererMissing` says what to install.
"""
import os
import shutil
import subprocess
import tempfile
import wave

import numpy as np

from bach2.midi_to_time_series import midi_to_time_series
from bach2.safe_io import atomic_path

#: Where Debian's General MIDI soundfonts live, the small one first.
SOUNDFONT_PATHS = ('/usr/share/sounds/sf2/TimGM6mb.sf2', '/usr/share/sounds/sf2/FluidR3_GM.sf2',
                   '/usr/share/sounds/sf2/default-GM.sf2', '/usr/share/soundfonts/default.sf2')
INSTALL_HINT = 'apt-get install fluidsynth timgm6mb-soundfont'
AUDIO_TYPES = {'.wav': 'wav', '.ogg': 'oga', '.oga': 'oga'}   # file suffix → FluidSynth's -T
SAMPLE_RATE = 44100
REFERENCE_GAIN = 1.0     # the measuring pass: no clipping below ~30 simultaneous notes
TARGET_PEAK = 0.89       # −1 dBFS
MAX_GAIN = 10.0          # FluidSynth's largest: a lone soft note may stay below TARGET_PEAK
RENDER_TIMEOUT_S = 600


class RendererMissing(Exception):
    """FluidSynth or a soundfont is not installed; ``str()`` is one line saying what to install."""


class RenderError(Exception):
    """FluidSynth failed on a file; ``str()`` is one line ``'<path>: <problem>'``."""


def find_soundfont(paths=SOUNDFONT_PATHS):
    """The first existing ``.sf2`` of ``paths``, or None."""
    return next((path for path in paths if os.path.isfile(path)), None)


def find_renderer(soundfont=None):
    """→ (fluidsynth executable, soundfont path); :class:`RendererMissing` (one line) when either is absent."""
    executable = shutil.which('fluidsynth')
    font = soundfont if soundfont else find_soundfont()
    if executable is None:
        raise RendererMissing(f'fluidsynth is not installed; to listen, run: {INSTALL_HINT}')
    if soundfont and not os.path.isfile(soundfont):
        raise RendererMissing(f'{soundfont}: no such soundfont')
    if font is None:
        raise RendererMissing(f'no General MIDI soundfont in /usr/share/sounds/sf2; to listen, run: {INSTALL_HINT}')
    return executable, font


def renderer_available():
    """True when :func:`find_renderer` would succeed."""
    try:
        find_renderer()
        return True
    except RendererMissing:
        return False


def audio_path_for(midi_path, audio='wav'):
    """``piece.mid`` → ``piece.wav`` (or ``.ogg``): where the audio of a MIDI file goes by default."""
    return os.path.splitext(os.fspath(midi_path))[0] + '.' + audio


def _fluidsynth(executable, soundfont, midi_path, out_path, gain, file_type):
    command = [executable, '-q', '-ni', '-g', f'{gain:.4f}', '-r', str(SAMPLE_RATE), '-T', file_type,
               '-F', out_path, soundfont, os.fspath(midi_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=RENDER_TIMEOUT_S)
    if result.returncode != 0 or not os.path.getsize(out_path):
        lines = (result.stderr or result.stdout).strip().splitlines() or [f'exit status {result.returncode}']
        raise RenderError(f'{midi_path}: fluidsynth could not render it ({lines[0]})')


def render_midi(midi_path, out_path=None, soundfont=None, target_peak=TARGET_PEAK):
    """Render ``midi_path`` → ``out_path`` (``.wav`` or ``.ogg``; default: beside it, ``.wav``), atomically.

    Returns ``{'path', 'gain', 'soundfont'}``. The MIDI file is read first, so a
    bad one fails with the project's one-line :class:`~bach2.midi_to_time_series.MidiFileError`.
    """
    out_path = os.fspath(out_path or audio_path_for(midi_path))
    suffix = os.path.splitext(out_path)[1].lower()
    if suffix not in AUDIO_TYPES:
        raise RenderError(f'{out_path}: unknown audio type {suffix!r} (use .wav or .ogg)')
    executable, font = find_renderer(soundfont)
    midi_to_time_series(midi_path)
    with tempfile.TemporaryDirectory(prefix='bach2_listen_') as folder:
        probe = os.path.join(folder, 'probe.wav')
        _fluidsynth(executable, font, midi_path, probe, REFERENCE_GAIN, 'wav')
        peak = audio_levels(probe)['peak']
    gain = min(MAX_GAIN, REFERENCE_GAIN * target_peak / peak) if peak > 0 else REFERENCE_GAIN
    with atomic_path(out_path) as temporary:
        _fluidsynth(executable, font, midi_path, temporary, gain, AUDIO_TYPES[suffix])
    return {'path': out_path, 'gain': gain, 'soundfont': font}


def audio_levels(wav_path):
    """16-bit PCM WAV → {'seconds', 'peak', 'rms'} (peak and RMS as fractions of full scale, all channels)."""
    with wave.open(os.fspath(wav_path), 'rb') as handle:
        if handle.getsampwidth() != 2:
            raise RenderError(f'{wav_path}: {8 * handle.getsampwidth()}-bit samples; expected 16-bit PCM')
        rate, frames = handle.getframerate(), handle.getnframes()
        samples = np.frombuffer(handle.readframes(frames), np.int16).astype(np.float64) / 32768.0
    return {'seconds': frames / rate,
            'peak': float(np.abs(samples).max()) if samples.size else 0.0,
            'rms': float(np.sqrt(np.mean(samples ** 2))) if samples.size else 0.0}
