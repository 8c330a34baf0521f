"""``bach2 studio``'s voice forms (bach2.app.studio, studio.html) with a real worker and real files.

A tiny voice model is trained here on three two-voice inventions (the shipped voice models are too large to
be the point of these tests) and given to the studio as its ``voice_checkpoint``: the worker is a process of
its own, which a monkeypatch would not reach. Checked: an uploaded line harmonized as the alto of three voices
keeps the alto note for note; a rewrite of some bars of one voice keeps every note outside them; a continuation
of a corpus piece in two voices reads it from the corpus in voices; the page offers the voices of the number
chosen and rewrites through its form; bad bars, unknown or absent voice names, a file with fewer tracks than
voices given, an LSTM-NADE checkpoint picked for a voice job — each one line and HTTP 400.
"""
import io
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid

import mido
import numpy as np
import pytest

from bach2.midi_to_time_series import midi_to_time_series
from bach2.models.checkpoints import SHIPPED_MODEL, best_checkpoint_path

ALTO = [60, 62, 64, 65, 67, 65, 64, 62]                      # quarter notes: two bars of 4/4
SOPRANO = [72, 74, 76, 77, 79, 77, 76, 74, 72, 71, 72, 74, 76, 74, 72, 71]   # four bars of quarters
BASS = [48, 55, 53, 52, 50, 55, 48, 48]                      # four bars of half notes
STEP = 24                                                    # ticks of a 16th at 96 a quarter


@pytest.fixture(scope='module')
def voice_model(inventions_in_voices, tmp_path_factory):
    """A tiny voice model of three inventions (a few seconds: two batches) → its best checkpoint's path."""
    from bach2.models.voice_model import VoiceConfig
    from bach2.models.voice_training import VoiceTrainingConfig, train_voice_model
    folder = tmp_path_factory.mktemp('voice_model')
    out = folder / 'voices.npz'
    train_voice_model(VoiceConfig(channels=8, n_blocks=2, dilations=(1, 2), window=16, batch_size=2),
                      VoiceTrainingConfig(data_dir=inventions_in_voices, out_path=out, batches=2, valid_every=2,
                                          valid_windows=2), progress=False, log=lambda line: None)
    return best_checkpoint_path(out)


@pytest.fixture(scope='module')
def studio(tmp_path_factory, voice_model):
    """A studio on a free port of 127.0.0.1 writing voice jobs with the tiny model; an LSTM-NADE checkpoint
    offered in its menu."""
    from werkzeug.serving import make_server
    from bach2.app.studio import Studio, create_app
    root = tmp_path_factory.mktemp('studio_voices')
    (root / 'checkpoints').mkdir()
    shutil.copy(SHIPPED_MODEL, root / 'checkpoints' / 'lstm.npz')
    running = Studio(root / 'out', root / 'checkpoints', voice_checkpoint=voice_model)
    server = make_server('127.0.0.1', 0, create_app(running), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {'url': f'http://127.0.0.1:{server.server_port}/', 'root': root, 'studio': running}
    server.shutdown()
    running.close()
    assert not running.uploads.exists()


def midi_bytes(*lines):
    """A MIDI file of one track per line, each [(pitch, ticks)] (96 ticks a quarter note)."""
    tracks = []
    for line in lines:
        track = mido.MidiTrack()
        for pitch, ticks in line:
            track += [mido.Message('note_on', note=pitch, velocity=64, time=0),
                      mido.Message('note_off', note=pitch, velocity=0, time=ticks)]
        tracks.append(track)
    data = io.BytesIO()
    mido.MidiFile(type=1 if len(tracks) > 1 else 0, ticks_per_beat=96, tracks=tracks).save(file=data)
    return data.getvalue()


ALTO_FILE = midi_bytes([(pitch, 96) for pitch in ALTO])
PIECE_FILE = midi_bytes([(pitch, 96) for pitch in SOPRANO], [(pitch, 192) for pitch in BASS])


def post(url, fields, files=()):
    """A multipart POST of ``fields`` ({name: text or [texts]}) and ``files`` [(field, filename, bytes)] →
    (status, JSON answer)."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, values in fields.items() for value in ([values] if isinstance(values, str) else values)]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
              f'Content-Type: audio/midi\r\n\r\n'.encode() + data + b'\r\n' for field, filename, data in files]
    request = urllib.request.Request(url, b''.join(parts) + f'--{boundary}--\r\n'.encode(),
                                     {'Content-Type': f'multipart/form-data; boundary={boundary}'})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def finished(studio, fields, files, form):
    """Ask for a piece with form ``form``, wait for its job → the job (done, with its piece)."""
    status, answer = post(studio['url'] + f'api/{form}', fields, files)
    assert status == 200, answer
    started = time.monotonic()
    while (job := json.loads(urllib.request.urlopen(studio['url'] + f'api/jobs/{answer["job"]}').read()))['state'] \
            in ('waiting', 'running'):
        assert time.monotonic() - started < 120
        time.sleep(0.2)
    assert job['state'] == 'done', job
    return job


def grid(notes, resolution, n_steps):
    """Notes [(tick, pitch, ticks)] → ``n_steps`` cells of the 16th grid: the pitch where a note starts, -1 where
    it holds, 0 where none sounds."""
    step = resolution // 4
    cells = np.zeros(n_steps, int)
    for onset, pitch, duration in notes:
        first = round(onset / step)
        cells[first] = pitch
        cells[first + 1:round((onset + duration) / step)] = -1
    return cells


def written_voices(studio, job):
    """The MIDI file of a finished job, read back → {track name: notes}, ticks a quarter note."""
    piece = midi_to_time_series(studio['root'] / 'out' / job['piece']['files']['mid'])
    return {voice.name: voice.notes for voice in piece.voices if voice.notes}, piece.resolution


def test_an_alto_given_is_kept_note_for_note(studio):
    job = finished(studio, {'voice': 'alto', 'voices': '3', 'seed': '1'}, [('melody_file', 'my line.mid', ALTO_FILE)],
                   'harmonize')
    piece = job['piece']
    assert piece['name'] == 'my-line_alto_harmonized_seed1' and piece['report']['model'] == 'voices'
    assert piece['files']['musicxml'] and piece['files']['score']
    assert 'harmonized the alto of my line.mid' in piece['how']
    voices, resolution = written_voices(studio, job)
    assert sorted(voices) == ['alto', 'bass', 'soprano'], voices.keys()
    given = grid([(k * 96, pitch, 96) for k, pitch in enumerate(ALTO)], 96, 32)
    assert (grid(voices['alto'], resolution, 32) == given).all()


def test_a_rewrite_keeps_every_note_outside_its_bars_and_voices(studio):
    job = finished(studio, {'first_bar': '2', 'last_bar': '3', 'rewrite': 'soprano', 'seed': '2'},
                   [('piece_file', 'duet.mid', PIECE_FILE)], 'rewrite')
    piece = job['piece']
    assert piece['name'] == 'duet_rewritten_bars2-3_seed2' and piece['report']['voices'] == ['soprano']
    assert piece['report']['bars'] == [2, 3] and piece['report']['cells_rewritten'] >= 32 and piece['files']['score']
    voices, resolution = written_voices(studio, job)
    soprano = grid([(k * 96, pitch, 96) for k, pitch in enumerate(SOPRANO)], 96, 64)
    bass = grid([(k * 192, pitch, 192) for k, pitch in enumerate(BASS)], 96, 64)
    assert (grid(voices['bass'], resolution, 64) == bass).all()
    kept = np.r_[0:16, 48:64]                                     # bars 1 and 4
    assert (grid(voices['soprano'], resolution, 64)[kept] == soprano[kept]).all()


def test_a_corpus_piece_is_continued_in_voices_from_the_corpus_in_voices(studio):
    primer = 'mutopia/bwv772_invention_bach-invention-01.mid'
    job = finished(studio, {'primer': primer, 'voices': '2', 'steps': '16'}, [], 'continue')
    piece = job['piece']
    assert piece['name'] == 'bwv772_invention_bach-in_continued_2voices_seed0' and piece['report']['voices'] == 2
    assert 'in 2 voices' in piece['how'] and piece['files']['score']
    voices, _ = written_voices(studio, job)
    assert sorted(voices) == ['bass', 'soprano']


def test_a_whole_fugue_and_a_completion(studio):
    job = finished(studio, {'form': 'whole', 'subject': 'C4:0.5 Eb4 D4 C4 B3:1 C4:0.5 D4 G3:1', 'voices': '3',
                            'bars': '14'}, [], 'fugue')
    piece = job['piece']
    assert piece['name'] == 'fugue_C4-Eb4-D4-C4_whole_seed0' and 'whole fugue on' in piece['how']
    assert piece['report']['entries_intact'] == 1.0 and piece['report']['ends_on_tonic']
    assert abs(piece['report']['bars'] - 14) <= 3 and piece['files']['score']
    assert sorted(written_voices(studio, job)[0]) == ['alto', 'bass', 'soprano']
    job = finished(studio, {'add_bars': '2', 'seed': '1'}, [('complete_file', 'duet.mid', PIECE_FILE)], 'complete')
    piece = job['piece']
    assert piece['name'] == 'duet_completed_seed1' and piece['report']['ends_on_tonic']
    voices, resolution = written_voices(studio, job)
    assert grid(voices['soprano'], resolution, 96)[:64].tolist() == \
        grid([(k * 96, pitch, 96) for k, pitch in enumerate(SOPRANO)], 96, 96)[:64].tolist()   # the piece kept
    assert max(o + d for o, _, d in voices['soprano']) == 6 * 4 * resolution                # two bars more


@pytest.mark.parametrize('form, fields, files, message', [
    ('fugue', {'form': 'sonata'}, [], "form: 'sonata' is neither 'exposition' nor 'whole'"),
    ('fugue', {'form': 'whole', 'bars': '3'}, [], 'bars: 3 is out of range (8–120)'),
    ('complete', {'add_bars': '0'}, [('complete_file', 'duet.mid', PIECE_FILE)],
     'add_bars: 0 is out of range (1–64)'),
    ('complete', {'add_bars': '4'}, [], 'complete_file: choose a MIDI file to upload'),
    ('rewrite', {'first_bar': '3', 'last_bar': '2'}, [('piece_file', 'duet.mid', PIECE_FILE)],
     'bars: the first bar (3) is after the last (2)'),
    ('rewrite', {'first_bar': 'two', 'last_bar': '3'}, [('piece_file', 'duet.mid', PIECE_FILE)],
     "first_bar: 'two' is not a number"),
    ('rewrite', {'first_bar': '1', 'last_bar': '99999'}, [('piece_file', 'duet.mid', PIECE_FILE)],
     'last_bar: 99999 is out of range (0–1024)'),
    ('rewrite', {'first_bar': '7', 'last_bar': '9'}, [('piece_file', 'duet.mid', PIECE_FILE)],
     'duet.mid: bars 7-9: the piece has bars 1-4'),
    ('rewrite', {'first_bar': '1', 'last_bar': '2', 'rewrite': 'soprano, descant'},
     [('piece_file', 'duet.mid', PIECE_FILE)], "rewrite: 'descant' is not a voice; voices are named soprano,"),
    ('rewrite', {'first_bar': '1', 'last_bar': '2', 'rewrite': 'alto'}, [('piece_file', 'duet.mid', PIECE_FILE)],
     "rewrite: no 'alto' among 2 voices: choose from soprano, bass"),
    ('rewrite', {'first_bar': '1', 'last_bar': '2'}, [], 'piece_file: choose a MIDI file to upload'),
    ('rewrite', {'first_bar': '1', 'last_bar': '2', 'model': 'CHECKPOINT'}, [('piece_file', 'duet.mid', PIECE_FILE)],
     'model: rewrite in voices is written by the voice model, not by an LSTM-NADE checkpoint'),
    ('harmonize', {'voice': 'tenor', 'voices': '3'}, [('melody_file', 'line.mid', ALTO_FILE)],
     "voice: no 'tenor' among 3 voices: choose from soprano, alto, bass"),
    ('harmonize', {'voice': ['soprano', 'bass'], 'voices': '4'}, [('melody_file', 'line.mid', ALTO_FILE)],
     'line.mid: 1 voices, but 2 are to be given (one track per voice)'),
    ('harmonize', {'voice': ['soprano', 'bass'], 'voices': '2'}, [('melody_file', 'duet.mid', PIECE_FILE)],
     'voice: all 2 voices are given; leave at least one to write'),
    ('harmonize', {'voice': 'alto', 'voices': '7'}, [('melody_file', 'line.mid', ALTO_FILE)],
     'voices: 7 is out of range (2–6)'),
    ('harmonize', {'voice': 'alto', 'model': 'CHECKPOINT'}, [('melody_file', 'line.mid', ALTO_FILE)],
     'model: harmonize in voices is written by the voice model'),
    ('continue', {'voices': '1'}, [], 'voices: 1 is out of range (2–6)'),
])
def test_bad_voice_requests_are_one_line(studio, form, fields, files, message):
    fields = {name: str(studio['root'] / 'checkpoints' / 'lstm.npz') if value == 'CHECKPOINT' else value
              for name, value in fields.items()}
    status, answer = post(studio['url'] + f'api/{form}', fields, files)
    assert status == 400 and message in answer['error'] and '\n' not in answer['error'], answer


def test_the_page_offers_the_voices_and_rewrites(studio):
    from headless_chromium import HeadlessChromium, find_chromium
    if find_chromium() is None:
        pytest.skip('Chromium is missing (apt-get install chromium)')
    import base64
    with HeadlessChromium(timeout=120) as browser:
        browser.load(studio['url'])
        browser.evaluate("""new Promise(r => { const t = setInterval(() => {
            if (document.body.dataset.ready) { clearInterval(t); r(); } }, 100); })""")
        shown = browser.evaluate("""(() => {
            const names = () => [...document.querySelectorAll('#given-voices input')]
                .map(b => b.value + (b.checked ? '*' : ''));
            const select = document.querySelector('#harmonize-voices'), before = names();
            select.value = '6'; select.dispatchEvent(new Event('change'));
            const six = names();
            select.value = '3'; select.dispatchEvent(new Event('change'));
            const continued = [...document.querySelector('#continue-voices').options].map(o => o.value);
            return {before, six, three: names(), continued};
        })()""")
        assert shown['before'] == ['soprano*', 'alto', 'tenor', 'bass']
        assert shown['six'] == ['soprano1*', 'soprano2', 'alto1', 'alto2', 'tenor', 'bass']
        assert shown['three'] == ['soprano*', 'alto', 'bass']
        assert shown['continued'] == ['', '2', '3', '4', '5', '6']
        data = base64.b64encode(PIECE_FILE).decode()
        result = browser.evaluate(f"""(async () => {{
            const form = document.querySelector('#rewrite-form');
            form.elements['first_bar'].value = '3'; form.elements['last_bar'].value = '4';
            form.elements['rewrite'].value = 'bass'; form.elements['seed'].value = '5';
            const dt = new DataTransfer();
            dt.items.add(new File([Uint8Array.from(atob({data!r}), c => c.charCodeAt(0))], 'duet.mid'));
            form.elements['piece_file'].files = dt.files;
            form.dispatchEvent(new Event('submit', {{cancelable: true}}));
            await new Promise(r => setTimeout(r, 50));
            while (document.body.dataset.busy) await new Promise(r => setTimeout(r, 200));
            const name = document.querySelector('#result-name');
            return {{error: document.querySelector('#error').textContent, name: name && name.textContent,
                     pages: document.querySelectorAll('#score img').length}};
        }})()""")
        assert result == {'error': '', 'name': 'duet_rewritten_bars3-4_seed5', 'pages': 1}
