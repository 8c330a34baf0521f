"""bach2.render.listen and ``bach2 listen``: real FluidSynth renders are audible, as long as the MIDI (plus the
release tail), atomic; without FluidSynth one line says what to install.

Tests that render skip when FluidSynth or a soundfont is missing (``bash setup.sh``
as root installs them; CI has them).
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import mido
import pytest

from bach2.midi_to_time_series import MidiFileError
from bach2.render.listen import (INSTALL_HINT, RenderError, RendererMissing, audio_levels, find_renderer,
                                 find_soundfont, render_midi, renderer_available)
from midi_builders import off, on, write_midi

needs_fluidsynth = pytest.mark.skipif(not renderer_available(),
                                      reason=f'FluidSynth or a GM soundfont is missing ({INSTALL_HINT})')
RELEASE_TAIL_S = 4.0     # FluidSynth renders until the last voice has died away: ≈ 3 s for a piano note
SILENCE_RMS = 10 ** (-50 / 20)   # −50 dBFS
ENV = {**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2] /
                                                                     'Source_Code'), os.environ.get('PYTHONPATH')]))}


def bach2(*args, env=ENV):
    return subprocess.run([sys.executable, '-m', 'bach2.app.cli', *args], capture_output=True, text=True,
                          timeout=300, env=env)


def write_scale(path, tempo_bpm=90):
    """Two voices, 4 bars of quarter notes at ``tempo_bpm`` → path; the MIDI lasts 16 beats."""
    tempo = [mido.MetaMessage('set_tempo', tempo=mido.bpm2tempo(tempo_bpm), time=0)]
    upper = [m for pitch in [60, 62, 64, 65, 67, 69, 71, 72] * 2 for m in (on(pitch, 0), off(pitch, 96))]
    lower = [m for pitch in [48, 43] * 4 for m in (on(pitch, 0, 1), off(pitch, 192, 1))]
    return write_midi(path, [tempo, upper, lower])


def check_rendering(midi_path, wav_path):
    """Assert the WAV is audible, not clipped and as long as the MIDI (+ tail) → its levels."""
    levels = audio_levels(wav_path)
    midi_seconds = mido.MidiFile(midi_path).length
    assert levels['rms'] > SILENCE_RMS, levels
    assert 0.5 < levels['peak'] < 0.99, levels
    assert midi_seconds - 0.5 <= levels['seconds'] <= midi_seconds + 0.5 + RELEASE_TAIL_S, (levels, midi_seconds)
    return levels, midi_seconds


@needs_fluidsynth
def test_a_test_made_piece_renders_audible_and_as_long_as_the_midi(tmp_path):
    midi = write_scale(tmp_path / 'scale.mid')
    start = time.perf_counter()
    result = render_midi(midi)
    seconds = time.perf_counter() - start
    assert result['path'] == str(tmp_path / 'scale.wav')
    levels, midi_seconds = check_rendering(midi, result['path'])
    assert abs(midi_seconds - 16 * 60 / 90) < 1e-3     # tempo is stored in whole microseconds
    print(f'scale: {midi_seconds:.2f} s MIDI → {levels["seconds"]:.2f} s WAV, peak {levels["peak"]:.3f}, '
          f'RMS {levels["rms"]:.4f}, gain {result["gain"]:.2f}, rendered in {seconds:.2f} s')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['scale.mid', 'scale.wav']   # no temporary left


@needs_fluidsynth
def test_a_real_bach_fugue_renders_audible_and_as_long_as_the_midi(bach_keyboard_files, tmp_path):
    midi = bach_keyboard_files[0]
    start = time.perf_counter()
    result = render_midi(midi, tmp_path / f'{midi.stem}.wav')
    seconds = time.perf_counter() - start
    levels, midi_seconds = check_rendering(midi, result['path'])
    print(f'{midi.name}: {midi_seconds:.1f} s MIDI → {levels["seconds"]:.1f} s WAV, peak {levels["peak"]:.3f}, '
          f'RMS {levels["rms"]:.4f}, gain {result["gain"]:.2f}, rendered in {seconds:.2f} s')


@needs_fluidsynth
def test_ogg_output_is_ogg_vorbis(tmp_path):
    midi = write_scale(tmp_path / 'scale.mid')
    path = render_midi(midi, tmp_path / 'out' / 'scale.ogg')['path']
    assert Path(path).read_bytes()[:4] == b'OggS' and Path(path).stat().st_size > 1000


@needs_fluidsynth
def test_gain_puts_the_peak_at_minus_1_dbfs_for_sparse_and_dense_music(tmp_path):
    solo = write_midi(tmp_path / 'solo.mid', [[on(72), off(72, 384)]])
    dense = write_midi(tmp_path / 'dense.mid', [[*(on(p) for p in range(40, 88, 3)),
                                                 *(off(p, 384 if p == 40 else 0) for p in range(40, 88, 3))]])
    solo_peak = audio_levels(render_midi(solo)['path'])['peak']      # needs more than FluidSynth's gain 10
    dense_peak = audio_levels(render_midi(dense)['path'])['peak']
    assert 0.5 < solo_peak < 0.93 and 0.85 < dense_peak < 0.93, (solo_peak, dense_peak)


@needs_fluidsynth
def test_a_failed_render_keeps_the_old_file(tmp_path):
    old = tmp_path / 'piece.wav'
    old.write_bytes(b'old audio')
    (tmp_path / 'piece.mid').write_text('not MIDI')
    with pytest.raises(MidiFileError, match='piece.mid: not a MIDI file'):
        render_midi(tmp_path / 'piece.mid')
    assert old.read_bytes() == b'old audio' and sorted(p.name for p in tmp_path.iterdir()) == ['piece.mid',
                                                                                                 'piece.wav']


def test_unknown_audio_type_and_missing_soundfont_are_one_line_errors(tmp_path):
    with pytest.raises(RenderError, match=r"x\.mp3: unknown audio type '\.mp3'"):
        render_midi(tmp_path / 'x.mid', tmp_path / 'x.mp3')
    with pytest.raises(RendererMissing) as error:
        find_renderer(soundfont=str(tmp_path / 'none.sf2'))
    assert len(str(error.value).splitlines()) == 1
    assert find_soundfont([str(tmp_path / 'none.sf2')]) is None


def test_listen_without_fluidsynth_says_what_to_install_in_one_line(tmp_path):
    midi = write_scale(tmp_path / 'scale.mid')
    empty = tmp_path / 'bin'
    empty.mkdir()
    run = bach2('listen', str(midi), env={**ENV, 'PATH': str(empty)})
    assert run.returncode != 0
    assert run.stderr.strip() == f'bach2: error: fluidsynth is not installed; to listen, run: {INSTALL_HINT}'
    assert run.stdout == '' and sorted(p.name for p in tmp_path.iterdir()) == ['bin', 'scale.mid']


def test_listen_help():
    run = bach2('listen', '--help')
    assert run.returncode == 0 and '--output' in run.stdout and '--soundfont' in run.stdout


@needs_fluidsynth
def test_listen_command_writes_the_wav_and_reports_levels(tmp_path):
    midi = write_scale(tmp_path / 'scale.mid')
    run = bach2('listen', str(midi), '-o', str(tmp_path / 'heard.wav'))
    assert run.returncode == 0, run.stderr
    assert str(tmp_path / 'heard.wav') in run.stdout and 'peak -1.0 dBFS' in run.stdout
    check_rendering(midi, tmp_path / 'heard.wav')
