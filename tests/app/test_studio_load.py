"""``bach2 studio`` under hostile load, as a real process on 127.0.0.1 (``python -m bach2.app.cli studio``).

Against one running studio: a huge subject, a key that is a path, a subject of almost a megabyte, malformed
multipart, a request that claims 10 MB, an oversized upload, a MIDI file of 100 000 notes, paths out of its
folder, unknown jobs and methods, then 20 jobs at once — each answered at once with one line and a 4xx (or
503 busy) — after which the waiting jobs are cancelled and the studio answers a normal request within a
second and writes its piece, having written nothing outside its folders. Then the first Ctrl-C (to its process
group, as a terminal sends it; a second one follows at once) stops it within seconds, with exit status 0, no
traceback, its worker ended and its upload folder removed. The numbers are printed (``pytest -s``).
"""
import concurrent.futures
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import mido
import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBJECT = 'C4:0.5 Eb4 D4 C4 B3:1 C4:0.5 D4 G3:1'


def midi_bytes(n_notes, ticks=24):
    """A MIDI file of one line of ``n_notes`` notes, each ``ticks`` long (96 a quarter note)."""
    track = mido.MidiTrack()
    for k in range(n_notes):
        pitch = 48 + k % 24
        track += [mido.Message('note_on', note=pitch, velocity=64, time=0),
                  mido.Message('note_off', note=pitch, velocity=0, time=ticks)]
    data = io.BytesIO()
    mido.MidiFile(type=0, ticks_per_beat=96, tracks=[track]).save(file=data)
    return data.getvalue()


def multipart(fields, files=()):
    """(body, content type) of a multipart/form-data request: ``fields`` {name: text}, ``files`` [(field, filename,
    bytes)]."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
              f'Content-Type: audio/midi\r\n\r\n'.encode() + data + b'\r\n' for field, filename, data in files]
    return b''.join(parts) + f'--{boundary}--\r\n'.encode(), f'multipart/form-data; boundary={boundary}'


def ask(url, data=None, headers=None, method=None):
    """One request → (status, its JSON or None, seconds)."""
    request = urllib.request.Request(url, data, headers or {}, method=method)
    if isinstance(data, dict):
        request.data = urllib.parse.urlencode(data).encode()
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        found = json.loads(body)
    except ValueError:
        found = None
    return status, found, time.monotonic() - started


def children_of(pid):
    """The process ids of the children of process ``pid`` (Linux /proc), whichever of its threads started them."""
    found = set()
    for task in Path(f'/proc/{pid}/task').iterdir():
        try:
            found.update(int(child) for child in (task / 'children').read_text().split())
        except FileNotFoundError:                      # a thread that has just ended
            pass
    return found


def files_under(folder):
    return sorted(str(path.relative_to(folder)) for path in Path(folder).rglob('*'))


@pytest.fixture(scope='module')
def studio(tmp_path_factory):
    """``bach2 studio --port 0`` started in an empty folder, with a TMPDIR of its own and its own process group."""
    root = tmp_path_factory.mktemp('load')
    work, temporary = root / 'work', root / 'tmp'
    work.mkdir()
    temporary.mkdir()
    environment = {**os.environ, 'TMPDIR': str(temporary), 'PYTHONPATH': os.pathsep.join(
        filter(None, [str(ROOT / 'Source_Code'), os.environ.get('PYTHONPATH')]))}
    out, err = open(root / 'stdout', 'w+'), open(root / 'stderr', 'w+')
    process = subprocess.Popen([sys.executable, '-m', 'bach2.app.cli', 'studio', '--port', '0', '--out-dir', 'out',
                                '--job-seconds', '60'], cwd=work, env=environment, stdout=out, stderr=err,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while not (found := re.search(r'http://127\.0\.0\.1:\d+/', (root / 'stdout').read_text())):
        assert process.poll() is None and time.monotonic() < deadline, (root / 'stderr').read_text()
        time.sleep(0.1)
    yield {'url': found[0], 'process': process, 'root': root, 'work': work, 'tmp': temporary}
    if process.poll() is None:
        process.kill()
        process.wait()
    out.close()
    err.close()


def hostile_requests(url):
    """(what, status expected, message it must contain, the request's arguments to :func:`ask`)."""
    too_big, big_type = multipart({'voices': '4'}, [('melody_file', 'big.mid', b'MThd' + b'\0' * (2 << 20))])
    melody, melody_type = multipart({'voices': '4'}, [('melody_file', 'many.mid', midi_bytes(100_000))])
    not_midi, not_midi_type = multipart({'voices': '3'}, [('subject_file', 'subject.mid', b'GIF89a' * 100)])
    return [
        ('huge subject', 400, 'the subject is longer than 32 quarter notes',
         (url + 'api/fugue', {'subject': 'C4:10000000 D4'})),
        ('key that is a path', 400, "key: not a key: '../../etc/passwd'",
         (url + 'api/fugue', {'subject': SUBJECT, 'key': '../../etc/passwd'})),
        ('a subject of 900 KB', 400, 'characters; a subject here has at most 400',
         (url + 'api/fugue', {'subject': 'C4 ' * 300_000})),
        ('malformed multipart', 400, 'melody_file: choose a MIDI file',
         (url + 'api/harmonize', b'--zzz\r\nnot a part at all', {'Content-Type': 'multipart/form-data; boundary=zzz'})),
        ('multipart without a boundary', 400, 'melody_file: choose a MIDI file',
         (url + 'api/harmonize', b'junk', {'Content-Type': 'multipart/form-data'})),
        ('a request that claims 10 MB', 413, 'larger than 1 MB',
         (url + 'api/harmonize', b'x' * 100, {'Content-Type': big_type, 'Content-Length': str(10 << 20)})),
        ('an upload of 2 MB', 413, 'larger than 1 MB', (url + 'api/harmonize', too_big, {'Content-Type': big_type})),
        ('100 000 notes in 800 KB', 400, 'many.mid: 100000 notes; the studio takes at most 2000',
         (url + 'api/harmonize', melody, {'Content-Type': melody_type})),
        ('a subject file that is not MIDI', 400, 'subject.mid: not a MIDI file',
         (url + 'api/fugue', not_midi, {'Content-Type': not_midi_type})),
        ('a file outside the folder', 404, '404 Not Found', (url + 'files/../../../../etc/passwd',)),
        ('an escaped path', 404, '404 Not Found', (url + 'files/%2e%2e%2f%2e%2e%2fetc%2fpasswd',)),
        ('an unknown job', 404, 'no job 999', (url + 'api/jobs/999/cancel', b'')),
        ('a job that is not a number', 404, '404 Not Found', (url + 'api/jobs/..%2f1',)),
        ('a method not allowed', 405, '405 Method Not Allowed', (url + 'api/fugue', None, None, 'PUT')),
        ('a primer outside the corpus', 400, "primer: '../../../etc/passwd' is not a piece",
         (url + 'api/continue', {'primer': '../../../etc/passwd'})),
        ('a model outside the checkpoints', 400, 'model: \'/etc/passwd\' is not one of the models offered',
         (url + 'api/continue', {'model': '/etc/passwd'})),
    ]


def test_hostile_requests_leave_the_studio_answering_within_a_second(studio):
    url, before = studio['url'], files_under(studio['work'])
    for what, status, message, arguments in hostile_requests(url):
        answered, found, seconds = ask(*arguments)
        print(f'{what}: {answered} in {seconds:.2f} s: {found and found.get("error")}')
        assert answered == status and message in found['error'] and '\n' not in found['error'], (what, found)
        assert seconds < 5, (what, seconds)

    def one_job(seed):                       # 20 at once: each queued or refused as busy, at once
        return ask(url + 'api/fugue', {'subject': SUBJECT, 'voices': '4', 'free_bars': '16', 'seed': str(seed)})
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(one_job, range(20)))
    accepted = [found['job'] for status, found, _ in answers if status == 200]
    busy = [found['error'] for status, found, _ in answers if status == 503]
    print(f'20 jobs at once: {len(accepted)} queued, {len(busy)} refused as busy, '
          f'slowest answer {max(seconds for *_, seconds in answers):.2f} s')
    assert len(accepted) + len(busy) == 20 and 1 <= len(accepted) <= 9 and busy
    assert all(error.startswith('the studio is busy') for error in busy)
    assert max(seconds for *_, seconds in answers) < 5
    for job in accepted:
        status, found, _ = ask(url + f'api/jobs/{job}/cancel', b'')
        assert status == 200 and found['state'] in ('cancelled', 'running')
    started = time.monotonic()
    while any(ask(url + f'api/jobs/{job}')[1]['state'] != 'cancelled' for job in accepted):
        assert time.monotonic() - started < 20
        time.sleep(0.2)

    status, found, seconds = ask(url + 'api/options')
    print(f'then a normal request: {status} in {seconds:.3f} s')
    assert status == 200 and seconds < 1
    normal = {'subject': SUBJECT, 'voices': '3', 'free_bars': '0', 'seed': '100'}
    status, found, seconds = ask(url + 'api/fugue', normal)
    print(f'and a normal job: {status} in {seconds:.3f} s')
    assert status == 200 and seconds < 1
    started = time.monotonic()
    while (state := ask(url + f'api/jobs/{found["job"]}')[1])['state'] not in ('done', 'failed'):
        assert time.monotonic() - started < 120
        time.sleep(0.5)
    print(f'written in {time.monotonic() - started:.1f} s: {state.get("piece", state).get("name", state)}')
    assert state['state'] == 'done' and state['piece']['name'] == 'fugue_C4-Eb4-D4-C4_seed100'

    written = set(files_under(studio['work'])) - set(before)
    assert written and all(name == 'out' or name.startswith('out/fugue_C4-Eb4-D4-C4_seed100.') for name in written), \
        written
    folders = {name.split('/')[0] for name in files_under(studio['tmp'])}       # its folder, and only its
    assert len(folders) == 1 and folders.pop().startswith('bach2_studio_'), files_under(studio['tmp'])
    uploads = [name for name in files_under(studio['tmp']) if name.count('/') == 1 and not name.endswith('/worker')]
    assert not uploads, uploads                       # every upload is gone with its job


def test_the_first_ctrl_c_stops_the_studio_cleanly(studio):
    url, process = studio['url'], studio['process']
    status, found, _ = ask(url + 'api/fugue', {'subject': SUBJECT, 'voices': '4', 'free_bars': '16', 'seed': '9'})
    assert status == 200
    while ask(url + f'api/jobs/{found["job"]}')[1]['state'] != 'running':
        time.sleep(0.1)
    body, kind = multipart({'voices': '3'}, [('melody_file', 'tune.mid', midi_bytes(32, ticks=96))])
    status, waiting, _ = ask(url + 'api/harmonize', body, {'Content-Type': kind})
    assert status == 200 and ask(url + f'api/jobs/{waiting["job"]}')[1]['state'] == 'waiting'
    children = children_of(process.pid)
    assert children                                   # the worker, running the first job
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)             # as a terminal sends Ctrl-C, and a second one at once
    time.sleep(0.2)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
    status = process.wait(timeout=30)
    seconds = time.monotonic() - started
    stdout, stderr = (studio['root'] / 'stdout').read_text(), (studio['root'] / 'stderr').read_text()
    print(f'stopped {seconds:.1f} s after Ctrl-C, exit status {status}')
    assert status == 0 and seconds < 15 and 'stopping' in stdout
    assert 'Traceback' not in stderr and 'terminate called' not in stderr, stderr[-2000:]
    assert not any(Path(f'/proc/{pid}').exists() for pid in children)
    assert not files_under(studio['tmp'])             # its folder is gone, with what its worker left there


def test_the_help_says_there_is_no_login_and_offers_a_token():
    result = subprocess.run([sys.executable, '-m', 'bach2.app.cli', 'studio', '--help'], capture_output=True, text=True,
                            timeout=120, env={**os.environ, 'PYTHONPATH': str(ROOT / 'Source_Code')})
    text = ' '.join(result.stdout.split())
    assert result.returncode == 0 and 'it has no login, so give it a --token there' in text
    assert '--token TOKEN' in text and '$BACH2_STUDIO_TOKEN' in text and '--job-seconds' in text


def test_a_job_is_stopped_at_the_time_limit_of_a_job(tmp_path):
    from werkzeug.serving import make_server
    from bach2.app.studio import Studio, create_app
    studio = Studio(tmp_path / 'out', tmp_path / 'checkpoints', job_seconds=2)
    server = make_server('127.0.0.1', 0, create_app(studio), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f'http://127.0.0.1:{server.server_port}/'
    try:
        status, found, _ = ask(url + 'api/fugue', {'subject': SUBJECT, 'voices': '4', 'free_bars': '16'})
        started = time.monotonic()
        while (state := ask(url + f'api/jobs/{found["job"]}')[1])['state'] in ('waiting', 'running'):
            assert time.monotonic() - started < 30
            time.sleep(0.1)
        print(f'stopped after {time.monotonic() - started:.1f} s: {state}')
        assert state['state'] == 'failed' and state['error'] == 'stopped after 2 s, the most a job may take here'
        assert studio.process is None and not list((tmp_path / 'out').glob('*.mid'))
        assert ask(url + 'api/options')[0] == 200
    finally:
        server.shutdown()
        studio.close()
