"""``bach2 studio``: Bach2.0 in the browser — a Flask app with one page (``studio.html``).

On the page: pick a model (the shipped pair, or a checkpoint of ``--checkpoints``), then continue a
primer (a piece of the built-in corpus, or an uploaded MIDI file) as one texture or in 2–6 voices, harmonize
the given voices of an uploaded file (a melody, a bass, an inner voice, or several: one track each), rewrite
some bars of an uploaded piece (in all its voices or some), write a fugue on a typed or uploaded subject (an
exposition, or a whole fugue of about as many bars as asked), in a key of your choice, or complete an uploaded
unfinished piece, with temperature, length and seed. A lone soprano or bass in 2–4 voices is harmonized by the
LSTM-NADE (the picked model), an exposition by the shipped pair; the voice forms — any other voices given, a
rewrite, a continuation in voices, a whole fugue, a completion — by the voice model
(:mod:`bach2.compose.voice_writing`: the shipped voice models, or the studio's ``voice_checkpoint``). Each request that is accepted queues a job; the jobs run one at a time in a worker
process (so a job can be cancelled, ``POST /api/jobs/<id>/cancel``, and is stopped after
``job_seconds``). The page polls ``/api/jobs/<id>`` for its progress, then shows the piano roll beside
the engraved score (Verovio's SVG pages), plays the audio (FluidSynth, where installed) and links the
MIDI and MusicXML files. ``/api/pieces`` lists the pieces of the session with how each was made; a
piece is named after what it was made from and its seed (``chorale_harmonized_seed0``), never
overwriting an earlier one.

Every request is bounded (:data:`MAX_REQUEST_BYTES`, :data:`MAX_UPLOAD_NOTES`, :data:`MAX_UPLOAD_STEPS`,
:data:`MAX_SUBJECT_CHARACTERS`, the subject parser's :data:`~bach2.compose.fugue.MAX_SUBJECT_QUARTERS`,
:data:`LIMITS`, :data:`MAX_WAITING` jobs waiting). Bad input — a file that is not MIDI, an empty, unreadable
or too long subject, a key that is not a key, a value out of range, bars or voices that a piece does not
have, a missing checkpoint, a malformed request — is answered with one line (``{"error": …}``, HTTP 4xx,
or a failed job), shown on the page; the app goes on serving. With a ``token``, every request but the page
itself (and its icon) must carry it (header ``X-Bach2-Token``, or a ``token`` field or query parameter), else
HTTP 401. Uploads go to one temporary folder (``bach2_studio_*``),
each removed after its job, and the folder, with the temporary files of the worker, when the studio closes.

Also here: the command that serves it (:func:`cmd_studio`, :func:`add_studio_command`): the first Ctrl-C
stops accepting requests, cancels the jobs, stops the worker and removes the upload folder.
"""
# Imports of heavy modules (Flask, Werkzeug, the models) are inside the functions, for start-up speed.
import hmac
import ipaddress
import itertools
import multiprocessing.connection
import os
import pathlib
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import warnings

from bach2.app.arguments import command_parser
from bach2.common import CheckpointError, CorpusError, MIDI_SUFFIXES
from bach2.compose.fugue import Form, SubjectError, parse_subject, write_fugue
from bach2.compose.generate import GenerateConfig, generate_a_fugue
from bach2.compose.harmonize import harmonize
from bach2.compose.lines import Sampling
from bach2.compose.voice_writing import VOICE_NAMES, bar_steps, given_lines, harmonizer, read_voices, voice_index
from bach2.data.default_corpus import KEYBOARD, KEYBOARD_VOICES
from bach2.midi_to_time_series import MidiFileError, read_tune
from bach2.models.checkpoints import SHIPPED_MODEL, SHIPPED_VOICE_MODELS
from bach2.music.progressions import parse_key
from bach2.render.engrave import EngraveError, engrave
from bach2.render.listen import renderer_available
from bach2.render.piece import Output

PAGE = pathlib.Path(__file__).with_name('studio.html')
SHIPPED = 'shipped'
MAX_REQUEST_BYTES = 1 << 20          # a whole request, uploads included
MAX_UPLOAD_NOTES = 2000              # notes in an uploaded MIDI file (the MusicXML writer takes ~7 ms a note)
MAX_UPLOAD_STEPS = 4096              # its length in 16ths: 256 bars of 4/4
LIMITS = {'temperature': (0.05, 5.0), 'steps': (16, 1024), 'bars': (8, 120), 'add_bars': (1, 64),
          'voices': (min(VOICE_NAMES), max(VOICE_NAMES)),
          'free_bars': (0, 16), 'seed': (0, 2 ** 31 - 1), 'first_bar': (0, MAX_UPLOAD_STEPS // 4),
          'last_bar': (0, MAX_UPLOAD_STEPS // 4)}   # bars: at most one a quarter note long; a whole fugue of 120
                                                     # bars in 4 voices is written in about 160 s, within JOB_SECONDS
ALL_VOICE_NAMES = tuple(dict.fromkeys(name for names in VOICE_NAMES.values() for name in names))
MAX_SUBJECT_CHARACTERS = 400
MAX_KEY_CHARACTERS = 20
MAX_WAITING = 8                      # jobs waiting for the worker; more are refused (HTTP 503)
MAX_SCORE_PAGES = 12                 # engraved pages shown per piece
JOB_SECONDS = 300                    # default time a job may run before it is stopped
TOKEN_HEADER = 'X-Bach2-Token'
TOKEN_VARIABLE = 'BACH2_STUDIO_TOKEN'
KNOWN_ERRORS = (CorpusError, MidiFileError, CheckpointError, SubjectError, EngraveError, ValueError)
VOICE_MODEL_KINDS = {'harmonize': 'chorales', 'rewrite': 'voices', 'continue': 'voices', 'fugue': 'voices',
                     'complete': 'voices'}   # the shipped one of each


class BadRequest(Exception):
    """A request the page can fix: the message says which field and why (HTTP 400, or ``status``)."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def number(form, name, kind=float, default=None):
    """Field ``name`` of ``form`` as ``kind``, within :data:`LIMITS`; BadRequest naming it otherwise."""
    text = form.get(name, '')
    if text == '' and default is not None:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise BadRequest(f'{name}: {text[:40]!r} is not a number') from None
    low, high = LIMITS[name]
    if not low <= value <= high:
        raise BadRequest(f'{name}: {value} is out of range ({low}–{high})')
    return value


def readable(text, limit=24):
    """``text`` as part of a file name: runs of anything but letters, digits, '.', '_' and '-' become one '-'
    (a sharp is written 's'), at most ``limit`` characters; 'piece' when nothing is left."""
    stem = re.sub(r'[^A-Za-z0-9._-]+', '-', text.replace('#', 's')).strip('-.')[:limit].strip('-.')
    return stem or 'piece'


class Studio:
    """The jobs and pieces of one studio session; ``out_dir`` receives the pieces, ``job_seconds`` bounds a job,
    ``token`` (when not '') is asked of every request but the page. ``voice_checkpoint``: the voice model
    (``bach2 voices train``) that writes every voice job (None: the shipped voice models — chorales to harmonize,
    keyboard voices to rewrite and continue). :meth:`close` ends it."""

    def __init__(self, out_dir, checkpoints='checkpoints', corpus=None, job_seconds=JOB_SECONDS, token='',
                 voice_checkpoint=None):
        self.out_dir = pathlib.Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoints = pathlib.Path(checkpoints)
        self.corpus = pathlib.Path(corpus) if corpus else KEYBOARD
        self.voice_corpus = KEYBOARD_VOICES if self.corpus == KEYBOARD else None   # the same pieces, a voice a track
        self.voice_checkpoint = str(voice_checkpoint) if voice_checkpoint else None
        self.job_seconds, self.token = job_seconds, token
        self.uploads = pathlib.Path(tempfile.mkdtemp(prefix='bach2_studio_'))
        (self.uploads / 'worker').mkdir()               # the worker's TMPDIR: what its libraries leave goes with it
        self.jobs, self.pieces, self.names, self.lock = {}, [], set(), threading.Lock()
        self.ids = itertools.count(1)
        self.waiting, self.closed = queue.Queue(), False
        self.process = self.connection = None
        self.runner = threading.Thread(target=self._run_jobs, name='bach2 studio jobs', daemon=True)
        self.runner.start()

    def models(self):
        """{'id': label} of the models to pick: the shipped pair, then the checkpoints found."""
        found = sorted(self.checkpoints.glob('*.npz')) if self.checkpoints.is_dir() else []
        return {SHIPPED: 'shipped (LSTM-NADE trained on the built-in corpus, both drawing orders)',
                **{str(path): path.name for path in found}}

    def primers(self):
        """The built-in corpus's MIDI files, by name relative to it."""
        return sorted(str(path.relative_to(self.corpus)) for path in self.corpus.rglob('*')
                      if path.suffix.lower() in MIDI_SUFFIXES)

    def checkpoint(self, model):
        """The picked model → its checkpoint path, None for the shipped one; BadRequest if unknown."""
        if model in ('', SHIPPED):
            return None
        if model not in self.models():
            raise BadRequest(f'model: {model[:80]!r} is not one of the models offered '
                             '(is the checkpoint still there?)')
        return model

    def voice_model(self, job, picked):
        """The voice model's checkpoint for a voice ``job`` ('harmonize', 'rewrite', 'continue'; ``picked``: the
        checkpoint picked in the model menu, None for the shipped model) → the studio's ``voice_checkpoint``, None
        for the shipped voice model; BadRequest when a checkpoint is picked (the menu's models are LSTM-NADEs) or
        the shipped voice model is not installed."""
        if picked is not None:
            raise BadRequest(f'model: {job} in voices is written by the voice model, not by an LSTM-NADE '
                             'checkpoint; pick the shipped model')
        shipped = SHIPPED_VOICE_MODELS[VOICE_MODEL_KINDS[job]]
        if self.voice_checkpoint is None and not shipped.is_file():
            raise BadRequest(f'the shipped voice model is not installed here ({shipped.parent.name}/{shipped.name}); '
                             'train one with `bach2 voices train` and start the studio with --voice-checkpoint')
        return self.voice_checkpoint

    def _free_name(self, stem):
        """A piece name from ``stem``: itself, else ``stem_2``, ``stem_3`` …, the first that neither this session
        nor an earlier piece in ``out_dir`` has taken (so no piece is overwritten); called with the lock held."""
        for k in itertools.count(1):
            name = stem if k == 1 else f'{stem}_{k}'
            if name not in self.names and not (self.out_dir / f'{name}.mid').exists():
                self.names.add(name)
                return name

    def start(self, kind, how, params, stem, upload=None):
        """Queue a job: :func:`perform` ``kind`` with ``params`` in the worker, its piece named after ``stem``
        (:meth:`_free_name`) → the job id. ``upload``: (path, name as uploaded) of a file to remove afterwards,
        called by its name in messages. BadRequest (503) when :data:`MAX_WAITING` jobs wait already or the studio
        is closing (the upload is removed then)."""
        with self.lock:
            waiting = sum(job['state'] == 'waiting' for job in self.jobs.values())
            if self.closed or waiting >= MAX_WAITING:
                discard(upload)
                raise BadRequest('the studio is stopping' if self.closed else
                                 f'the studio is busy: {waiting} pieces are waiting; try again when one is done', 503)
            params = {**params, 'out_dir': str(self.out_dir), 'name': self._free_name(stem)}
            job = {'id': next(self.ids), 'kind': kind, 'how': how, 'state': 'waiting', 'progress': 0.0}
            self.jobs[job['id']] = job
        self.waiting.put((job, kind, params, upload))
        return job['id']

    def cancel(self, job_id):
        """Cancel job ``job_id``: a waiting job is dropped, a running one stopped (its worker killed) → its state;
        BadRequest if there is no such job."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise BadRequest(f'no job {job_id}', 404)
            if job['state'] == 'waiting':
                job['state'] = 'cancelled'
            elif job['state'] == 'running':
                job['cancel'] = True
            return job['state']

    def close(self):
        """Stop: refuse new jobs, cancel the waiting ones, stop the running one and the worker, remove the uploads."""
        with self.lock:
            self.closed = True
            for job in self.jobs.values():
                if job['state'] == 'waiting':
                    job['state'] = 'cancelled'
        self.waiting.put(None)
        self.runner.join(timeout=15)
        self._stop_worker()
        shutil.rmtree(self.uploads, ignore_errors=True)

    def _run_jobs(self):
        """The runner thread: the queued jobs, one at a time, until :meth:`close`."""
        while (item := self.waiting.get()) is not None:
            job, kind, params, upload = item
            try:
                with self.lock:
                    if job['state'] != 'waiting':
                        continue
                    job['state'] = 'running'
                self._run(job, kind, params, upload)
            finally:
                discard(upload)

    def _run(self, job, kind, params, upload):
        """Run one job in the worker, following its progress until it ends, is cancelled or runs out of time."""
        connection = self._worker()
        connection.send((kind, params))
        deadline = time.monotonic() + self.job_seconds
        while True:
            if job.get('cancel') or self.closed:
                self._stop_worker()
                job['state'] = 'cancelled'
                return
            if time.monotonic() > deadline:
                self._stop_worker()
                job.update(state='failed', error=f'stopped after {self.job_seconds:g} s, the most a job may take here')
                return
            try:
                if not connection.poll(0.1):
                    if self.process.poll() is None:
                        continue
                    raise EOFError
                message = connection.recv()
            except (EOFError, OSError):
                status = self._stop_worker()
                job.update(state='failed', error=f'the worker stopped (exit status {status}); try again')
                return
            if message[0] == 'progress':
                job['progress'] = max(job['progress'], min(1.0, message[1]))
                continue
            if message[0] == 'done':
                _, files, report = message
                piece = {'name': pathlib.Path(files['mid']).stem, 'how': job['how'], 'report': report,
                         'files': {kind_: [p.name for p in path] if isinstance(path, list) else pathlib.Path(path).name
                                   for kind_, path in files.items()}}
                with self.lock:
                    self.pieces.append(piece)
                job.update(state='done', progress=1.0, piece=piece)
            else:
                error = message[1].replace(str(upload[0]), upload[1]) if upload else message[1]
                job.update(state='failed', error=error)
            return

    def _worker(self):
        """The connection to the worker process (:func:`serve_jobs`), started if it is not running. It runs in a
        session of its own, so a Ctrl-C in the terminal reaches the studio, which stops it; its temporary files go
        to the studio's folder."""
        if self.process is not None and self.process.poll() is not None:
            self._stop_worker()
        if self.process is None:
            ours, theirs = socket.socketpair()
            package_root = pathlib.Path(__file__).resolve().parents[2]
            environment = {**os.environ, 'TMPDIR': str(self.uploads / 'worker'), 'PYTHONPATH': os.pathsep.join(
                filter(None, [str(package_root), os.environ.get('PYTHONPATH')]))}
            self.process = subprocess.Popen(
                [sys.executable, '-c', f'from bach2.app.studio import serve_jobs; serve_jobs({theirs.fileno()})'],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=environment, start_new_session=True)
            theirs.close()
            self.connection = multiprocessing.connection.Connection(ours.detach())
        return self.connection

    def _stop_worker(self):
        """Stop the worker process (SIGTERM, then SIGKILL after 5 s) → its exit status, None if none ran."""
        process, self.process = self.process, None
        if process is None:
            return None
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.connection.close()
        return process.returncode


def discard(upload):
    """Remove the folder of an uploaded file ((path, name) or None)."""
    if upload:
        shutil.rmtree(upload[0].parent, ignore_errors=True)


def serve_jobs(fd):
    """The worker process: for each (kind, params) received on the connection of file descriptor ``fd``,
    :func:`perform` it, sending ('progress', fraction) as it goes, then ('done', files, report) or ('failed',
    one-line message); returns when the studio closes the connection."""
    connection = multiprocessing.connection.Connection(fd)
    warnings.simplefilter('ignore')                  # JAX's dtype notes, music21's beams: not for the studio's terminal
    while True:
        try:
            kind, params = connection.recv()
        except EOFError:
            return
        try:
            connection.send(('done', *perform(kind, params, lambda fraction: connection.send(('progress', fraction)))))
        except Exception as error:       # a job must never take the worker down; the page says what failed
            message = str(error) if isinstance(error, KNOWN_ERRORS) else f'{type(error).__name__}: {error}'
            connection.send(('failed', ' '.join(message.split())))


def perform(kind, params, progress):
    """Write the piece of one job ('continue', 'harmonize', 'rewrite' or 'fugue', as :func:`start_continuation` …
    set up its ``params``), with its engraved score → (files {kind: path, 'score': [SVG page paths]}, report). The
    voice model's ``on_round`` reports its progress (``sampling.progress``)."""
    output = Output(params['out_dir'], name=params['name'], audio=audio(), musicxml=True)
    sampling = Sampling(temperature=params['temperature'], seed=params['seed'], progress=progress)
    if kind == 'continue' and params.get('voices'):
        from bach2.compose.voice_writing import continue_file
        files, _ = continue_file(params['primer'], params['voices'], params['steps'],
                                 checkpoint=params['voice_checkpoint'], sampling=sampling, output=output)
        report = {'voices': params['voices'], 'model': 'voices'}
    elif kind == 'continue':
        config = GenerateConfig(checkpoint=params['checkpoint'] or str(SHIPPED_MODEL), out_dir=output.out_dir,
                                primer=params['primer'], n_steps=params['steps'], seed=params['seed'],
                                temperature=params['temperature'], name=output.name, audio=output.audio, musicxml=True)
        result = generate_a_fugue(config, log=lambda *_: None)
        files, report = result['files'], result['report']
    elif kind == 'harmonize' and params['model'] == 'lstm-nade':
        files, _ = harmonize(params['melody'], params['voice'][0], params['voices'], params['checkpoint'], sampling,
                             output)
        report = {'voice': params['voice'], 'voices': params['voices'], 'model': 'lstm-nade'}
    elif kind == 'harmonize':
        from bach2.compose.voice_writing import harmonize_file
        files, _ = harmonize_file(params['melody'], tuple(params['voice']), params['voices'],
                                  params['voice_checkpoint'], sampling, output)
        report = {'voice': params['voice'], 'voices': params['voices'], 'model': 'voices'}
    elif kind == 'rewrite':
        from bach2.compose.voice_writing import rewrite_file
        bars = tuple(params['bars'])
        files, written, free = rewrite_file(params['piece'], bars, params['rewrite'] or None,
                                            params['voice_checkpoint'], sampling, output)
        report = {'bars': list(bars), 'voices': [name for name, row in zip(written.names, free) if row.any()],
                  'cells_rewritten': int(free.sum()), 'model': 'voices'}
    elif kind == 'complete':
        from bach2.compose.fugue_form import complete_file
        files, report = complete_file(params['piece'], params['bars'], None, params['voice_checkpoint'], sampling,
                                      output)
    elif params.get('form') == 'whole':
        from bach2.compose.fugue_form import WholeForm, write_whole_fugue
        files, report = write_whole_fugue(params['subject'], WholeForm(params['voices'], params['answer'],
                                                                       params['key'], bars=params['bars']),
                                          checkpoint=params['voice_checkpoint'], sampling=sampling, output=output)
    else:
        files, report = write_fugue(params['subject'], Form(params['voices'], params['answer'], params['key'],
                                                            params['free_bars']), None, sampling, output)
    files = {kind_: path for kind_, path in files.items() if kind_ != 'p'}
    try:
        files['score'] = engrave(files['musicxml'], max_pages=MAX_SCORE_PAGES)
    except EngraveError as error:
        files['score'], report = [], {**report, 'score': str(error)}
    return files, report


def saved_upload(studio, files, field, check=None):
    """The uploaded MIDI file of ``field`` → (its path in a new folder of the studio's uploads, its name as
    uploaded), read once (:func:`checked_midi`) and, where given, passed with its name to ``check(piece, name)``;
    BadRequest if there is none, its name is not a MIDI name or its contents are refused (the file is removed
    then)."""
    upload = files.get(field)
    if upload is None or not upload.filename:
        raise BadRequest(f'{field}: choose a MIDI file to upload')
    shown = upload.filename[-80:]
    suffix = pathlib.Path(upload.filename).suffix.lower()
    if suffix not in MIDI_SUFFIXES:
        raise BadRequest(f'{shown}: not a MIDI file (expected {", ".join(sorted(MIDI_SUFFIXES))})')
    folder = pathlib.Path(tempfile.mkdtemp(dir=studio.uploads))
    path = folder / f'{readable(pathlib.Path(upload.filename).stem)}{suffix}'
    upload.save(path)
    try:
        piece = checked_midi(path, shown)
        if check:
            check(piece, shown)
    except BadRequest:
        discard((path, shown))
        raise
    return path, shown


def checked_midi(path, name):
    """Read the MIDI file at ``path`` (``name``: as uploaded) as every command reads music to write around
    (:func:`~bach2.midi_to_time_series.read_tune`) → the piece; BadRequest naming it if it cannot be read, has no
    pitched note, more than :data:`MAX_UPLOAD_NOTES`, or lasts more than :data:`MAX_UPLOAD_STEPS` 16ths."""
    try:
        piece = read_tune(path)
    except MidiFileError as error:
        raise BadRequest(str(error).replace(str(path), name)) from None
    if piece.n_notes > MAX_UPLOAD_NOTES:
        raise BadRequest(f'{name}: {piece.n_notes} notes; the studio takes at most {MAX_UPLOAD_NOTES} '
                         '(write longer pieces with the bach2 command)')
    steps = piece.end_tick * 4 // piece.resolution
    if steps > MAX_UPLOAD_STEPS:
        raise BadRequest(f'{name}: {steps // 16} bars of 4/4 long; the studio takes at most {MAX_UPLOAD_STEPS // 16} '
                         '(write longer pieces with the bach2 command)')
    return piece


def create_app(studio):
    """The Flask app of ``studio`` (:class:`Studio`)."""
    from flask import Flask
    app = Flask('bach2.app.studio', static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES, MAX_FORM_PARTS=40)
    add_error_handlers(app)
    add_token_check(app, studio)
    add_page_routes(app, studio)
    add_job_routes(app, studio)
    return app


def add_error_handlers(app):
    """A BadRequest, an HTTP error (413 too large, 400 malformed, 404 …) or any other exception → one line
    ``{"error": …}`` with its HTTP status."""
    from flask import jsonify
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(BadRequest)
    def bad_request(error):
        return jsonify(error=str(error)), error.status

    @app.errorhandler(HTTPException)
    def http_error(error):
        if error.code == 413:
            return jsonify(error=f'the request is larger than {MAX_REQUEST_BYTES >> 20} MB, or has too many '
                                 'fields'), 413
        return jsonify(error=f'{error.code} {error.name}: {" ".join(str(error.description).split())}'), error.code

    @app.errorhandler(Exception)
    def unexpected(error):
        return jsonify(error=f'{type(error).__name__}: {" ".join(str(error).split())}'), 500


def add_token_check(app, studio):
    """With ``studio.token``: every request but the page and its icon needs it (header, query or form field), else
    401."""
    from flask import jsonify, request

    @app.before_request
    def check_token():
        if not studio.token or request.endpoint in ('page', 'icon'):
            return None
        given = request.headers.get(TOKEN_HEADER) or request.args.get('token')
        if given is None and request.method == 'POST':
            given = request.form.get('token')
        if hmac.compare_digest((given or '').encode(), studio.token.encode()):
            return None
        return jsonify(error='this studio asks for its token: open the address that `bach2 studio` printed '
                             '(…/?token=…) or type the token on the page'), 401


def add_page_routes(app, studio):
    """What the page reads: itself, its icon (none), the options to pick from, a job's progress, the pieces and
    their files."""
    from flask import jsonify, send_from_directory

    @app.get('/')
    def page():
        return PAGE.read_text(encoding='utf-8')

    @app.get('/favicon.ico')
    def icon():                                     # browsers ask for it: no icon, but no missing resource either
        return '', 204

    @app.get('/api/options')
    def options():
        return jsonify(models=list(studio.models().items()), primers=studio.primers(),     # a list keeps the order
                       voice_names={str(n): names for n, names in VOICE_NAMES.items()})

    @app.get('/api/jobs/<int:job_id>')
    def job(job_id):
        found = studio.jobs.get(job_id)
        if found is None:
            raise BadRequest(f'no job {job_id}', 404)
        return jsonify({key: value for key, value in dict(found).items() if key != 'cancel'})

    @app.get('/api/pieces')
    def pieces():
        return jsonify(pieces=list(studio.pieces))

    @app.get('/files/<path:name>')
    def files(name):
        return send_from_directory(studio.out_dir.resolve(), name)


def add_job_routes(app, studio):
    """The forms of the page, each starting a job → ``{"job": id}``; cancelling one → ``{"state": …}``."""
    from flask import jsonify, request

    @app.post('/api/continue')
    def continue_primer():
        return jsonify(job=start_continuation(studio, request.form, request.files))

    @app.post('/api/harmonize')
    def harmonize_melody():
        return jsonify(job=start_harmonization(studio, request.form, request.files))

    @app.post('/api/rewrite')
    def rewrite():
        return jsonify(job=start_rewrite(studio, request.form, request.files))

    @app.post('/api/fugue')
    def fugue():
        return jsonify(job=start_fugue(studio, request.form, request.files))

    @app.post('/api/complete')
    def complete():
        return jsonify(job=start_completion(studio, request.form, request.files))

    @app.post('/api/jobs/<int:job_id>/cancel')
    def cancel(job_id):
        return jsonify(state=studio.cancel(job_id))


def sampling_fields(studio, form):
    """The fields every form has → {'checkpoint', 'seed', 'temperature'}."""
    return {'checkpoint': studio.checkpoint(form.get('model', '')), 'seed': number(form, 'seed', int, 0),
            'temperature': number(form, 'temperature', float, 1.0)}


def start_continuation(studio, form, uploads):
    """The continue form (``form`` its fields, ``uploads`` its files): a corpus piece (``primer``) or an uploaded
    MIDI file (``primer_file``) continued by the picked model, or, with ``voices`` (2–6; '' = none), its first
    bars continued in that many voices by the voice model (a corpus piece read from the corpus in voices where it
    is there) → the job id."""
    params = {**sampling_fields(studio, form), 'steps': number(form, 'steps', int, 256),
              'voices': number(form, 'voices', int) if form.get('voices', '') != '' else None}
    if params['voices']:
        params['voice_checkpoint'] = studio.voice_model('continue', params['checkpoint'])
    upload = None
    if uploads.get('primer_file') and uploads['primer_file'].filename:
        upload = saved_upload(studio, uploads, 'primer_file')
        primer, label = upload
    else:
        label = form.get('primer', '')
        if label not in studio.primers():
            raise BadRequest(f'primer: {label[:80]!r} is not a piece of the built-in corpus')
        primer = studio.corpus / label
        if params['voices'] and studio.voice_corpus and (studio.voice_corpus / label).is_file():
            primer = studio.voice_corpus / label
    params['primer'] = str(primer)
    if params['voices']:
        how = (f'continued the first bars of {label} in {params["voices"]} voices for {params["steps"]} steps, '
               f'the voice model, T={params["temperature"]:g}, seed {params["seed"]}')
        stem = f'{readable(pathlib.Path(label).stem)}_continued_{params["voices"]}voices_seed{params["seed"]}'
    else:
        how = (f'continued {label} for {params["steps"]} steps, {model_name(params["checkpoint"])}, '
               f'T={params["temperature"]:g}, seed {params["seed"]}')
        stem = f'{readable(pathlib.Path(label).stem)}_continued_seed{params["seed"]}'
    return studio.start('continue', how, params, stem, upload)


def voice_names(form, field):
    """The voice names of ``field`` (checkboxes, or names parted by commas or spaces), each once, in the order
    given; BadRequest naming one that no number of voices has."""
    names = list(dict.fromkeys(name for value in form.getlist(field) for name in re.split(r'[\s,]+', value) if name))
    unknown = [name for name in names if name not in ALL_VOICE_NAMES]
    if unknown:
        raise BadRequest(f'{field}: {unknown[0][:40]!r} is not a voice; voices are named {", ".join(ALL_VOICE_NAMES)}')
    return names


def voice_rows(field, names, n_voices):
    """``names`` among ``n_voices`` voices → their rows, highest first; BadRequest naming one that is not there."""
    try:
        return sorted(voice_index(name, n_voices) for name in names)
    except CorpusError as error:
        raise BadRequest(f'{field}: {error}') from None


def start_harmonization(studio, form, uploads):
    """The harmonize form: the voices of ``n_voices`` (2–6) that an uploaded file gives (``voice``: soprano by
    default; several: one track each), the others written — around a lone soprano or bass in 2–4 voices by the
    picked LSTM-NADE, else by the voice model (:func:`~bach2.compose.voice_writing.harmonizer`) → the job id."""
    params = sampling_fields(studio, form)
    n_voices = number(form, 'voices', int, 4)
    given = voice_names(form, 'voice') or ['soprano']
    given = [VOICE_NAMES[n_voices][row] for row in voice_rows('voice', given, n_voices)]
    if len(given) == n_voices:
        raise BadRequest(f'voice: all {n_voices} voices are given; leave at least one to write')
    model = harmonizer(given, n_voices, 'auto')
    if model == 'voices':
        params['voice_checkpoint'] = studio.voice_model('harmonize', params['checkpoint'])

    def one_track_per_voice(piece, name):
        if model == 'voices':
            try:
                given_lines(piece, len(given))
            except CorpusError as error:               # '<piece>: 1 voices, but 2 are to be given (one track …)'
                raise BadRequest(f'{name}: {str(error).split(": ", 1)[-1]}') from None
    melody, shown = upload = saved_upload(studio, uploads, 'melody_file', one_track_per_voice)
    params.update(voice=given, voices=n_voices, model=model, melody=str(melody))
    by = model_name(params['checkpoint']) if model == 'lstm-nade' else 'the voice model'
    how = (f'harmonized the {" and ".join(given)} of {shown} in {n_voices} voices, {by}, '
           f'T={params["temperature"]:g}, seed {params["seed"]}')
    what = '' if given == ['soprano'] else '_' + '-'.join(given)
    stem = f'{readable(pathlib.Path(shown).stem)}{what}_harmonized_seed{params["seed"]}'
    return studio.start('harmonize', how, params, stem, upload)


def start_rewrite(studio, form, uploads):
    """The rewrite form: bars ``first_bar`` … ``last_bar`` (counted from 1; a pickup is bar 0) of an uploaded
    piece written again by the voice model, in the voices named in ``rewrite`` (default: all), everything else
    kept → the job id. The bars and voices are checked against the piece (read in voices) before it is queued."""
    params = sampling_fields(studio, form)
    params['voice_checkpoint'] = studio.voice_model('rewrite', params['checkpoint'])
    bars = number(form, 'first_bar', int, 1), number(form, 'last_bar', int, 1)
    if bars[0] > bars[1]:
        raise BadRequest(f'bars: the first bar ({bars[0]}) is after the last ({bars[1]})')
    names = voice_names(form, 'rewrite')

    def fits(piece, name):
        try:
            voices = read_voices(piece)
            bar_steps(voices.positions, *bars)
        except CorpusError as error:
            raise BadRequest(f'{name}: {error}') from None
        if names:
            voice_rows('rewrite', names, len(voices.names))
    path, shown = upload = saved_upload(studio, uploads, 'piece_file', fits)
    params.update(piece=str(path), bars=list(bars), rewrite=names)
    which = f'the {" and ".join(names)}' if names else 'all voices'
    how = (f'rewrote bars {bars[0]}–{bars[1]} of {shown}, {which}, the voice model, T={params["temperature"]:g}, '
           f'seed {params["seed"]}')
    stem = f'{readable(pathlib.Path(shown).stem)}_rewritten_bars{bars[0]}-{bars[1]}_seed{params["seed"]}'
    return studio.start('rewrite', how, params, stem, upload)


def start_fugue(studio, form, uploads):
    """The fugue form: an exposition (``form`` 'exposition', by the shipped pair) or a whole fugue ('whole', by the
    voice model; about ``bars`` bars, blank: as planned) on a typed subject, or on the top line of an uploaded
    MIDI file (``subject_file``), in the given ``key`` or the subject's → the job id."""
    params = sampling_fields(studio, form)
    checkpoint = params.pop('checkpoint')
    params['form'] = form.get('form', 'exposition')
    if params['form'] not in ('exposition', 'whole'):
        raise BadRequest(f"form: {params['form'][:40]!r} is neither 'exposition' nor 'whole'")
    if params['form'] == 'whole':
        params['voice_checkpoint'] = studio.voice_model('fugue', checkpoint)
        params['bars'] = number(form, 'bars', int) if form.get('bars', '') != '' else None
    elif checkpoint is not None:
        raise BadRequest('model: a fugue needs a pair of models drawn up and down; pick the shipped pair')
    params.update(voices=number(form, 'voices', int, 3), free_bars=number(form, 'free_bars', int, 4),
                  answer=form.get('answer', 'tonal'), key=checked_key(form.get('key', '')))
    if params['voices'] not in (3, 4):
        raise BadRequest(f'voices: a fugue here has 3 or 4 voices, not {params["voices"]}')
    if params['answer'] not in ('tonal', 'real'):
        raise BadRequest(f"answer: {params['answer'][:40]!r} is neither 'tonal' nor 'real'")
    upload = None
    if uploads.get('subject_file') and uploads['subject_file'].filename:
        upload = saved_upload(studio, uploads, 'subject_file')
        subject, shown = str(upload[0]), upload[1]
        stem = f'fugue_on_{readable(pathlib.Path(shown).stem)}'
    else:
        subject = shown = checked_subject(form.get('subject', ''))
        stem = f'fugue_{readable(" ".join(token.split(":")[0] for token in subject.split()[:4]))}'
    params['subject'] = subject
    if params['form'] == 'whole':
        how = (f'whole fugue on "{shown}", {params["voices"]} voices, {params["answer"]} answer, '
               f'{params["bars"] or "planned"} bars, {params["key"] or "key of the subject"}, the voice model, '
               f'T={params["temperature"]:g}, seed {params["seed"]}')
        stem += '_whole'
    else:
        how = (f'fugue exposition on "{shown}", {params["voices"]} voices, {params["answer"]} answer, '
               f'{params["free_bars"]} free bars, {params["key"] or "key of the subject"}, '
               f'T={params["temperature"]:g}, seed {params["seed"]}')
    return studio.start('fugue', how, params, f'{stem}_seed{params["seed"]}', upload)


def start_completion(studio, form, uploads):
    """The complete form: an uploaded unfinished piece continued in its voices for ``add_bars`` bars to a cadence
    on its tonic by the voice model → the job id."""
    params = sampling_fields(studio, form)
    params['voice_checkpoint'] = studio.voice_model('complete', params['checkpoint'])
    params['bars'] = number(form, 'add_bars', int, 8)

    def in_voices(piece, name):
        try:
            read_voices(piece)
        except CorpusError as error:
            raise BadRequest(f'{name}: {error}') from None
    path, shown = upload = saved_upload(studio, uploads, 'complete_file', in_voices)
    params['piece'] = str(path)
    how = (f'completed {shown} with {params["bars"]} bars to a cadence, the voice model, '
           f'T={params["temperature"]:g}, seed {params["seed"]}')
    return studio.start('complete', how, params, f'{readable(pathlib.Path(shown).stem)}_completed_seed'
                        f'{params["seed"]}', upload)


def checked_key(text):
    """The fugue form's key ('' = the subject's; else e.g. 'C minor', 'Bb major') → the text; BadRequest unless
    it names a key."""
    text = text.strip()
    if not text:
        return ''
    if len(text) > MAX_KEY_CHARACTERS:
        raise BadRequest(f'key: {len(text)} characters is not a key (expected e.g. "D minor" or "Bb major")')
    try:
        parse_key(text)
    except ValueError as error:
        raise BadRequest(f'key: {error}') from None
    return text


def checked_subject(text):
    """Subject text → itself, stripped; BadRequest if it is longer than :data:`MAX_SUBJECT_CHARACTERS` or does not
    parse (:func:`~bach2.compose.fugue.parse_subject`, which refuses a subject longer than
    :data:`~bach2.compose.fugue.MAX_SUBJECT_QUARTERS` before it builds anything)."""
    text = text.strip()
    if len(text) > MAX_SUBJECT_CHARACTERS:
        raise BadRequest(f'subject: {len(text)} characters; a subject here has at most {MAX_SUBJECT_CHARACTERS}')
    try:
        parse_subject(text)                        # a typo is answered at once, not by a failed job
    except SubjectError as error:
        raise BadRequest(f'subject: {error}') from None
    return text


def model_name(checkpoint):
    return 'the shipped model' if checkpoint is None else pathlib.Path(checkpoint).name


def audio():
    """'wav' where FluidSynth and a soundfont are installed, else '' (the page then offers no player)."""
    return 'wav' if renderer_available() else ''


def this_machine_only(host):
    """Whether ``host`` (an address or 'localhost') serves this machine only."""
    try:
        return host == 'localhost' or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def cmd_studio(args):
    """Serve the studio, a page to try Bach2.0 without a terminal: pick a model, continue a primer (in voices
    too), harmonize the given voices of an uploaded file, rewrite some bars of a piece or write a fugue
    exposition; see the piano roll and the score, listen, download MIDI and
    MusicXML. The first Ctrl-C stops it: the jobs are cancelled and the uploads removed."""
    from werkzeug.serving import make_server
    if not 0 <= args.port <= 65535:
        raise CorpusError(f'--port {args.port}: not a port (0–65535)')
    if not 10 <= args.job_seconds <= 24 * 3600:
        raise CorpusError(f'--job-seconds {args.job_seconds:g}: out of range (10–86400)')
    token = args.token or os.environ.get(TOKEN_VARIABLE, '')
    if args.voice_checkpoint and not os.path.isfile(args.voice_checkpoint):
        raise CheckpointError(f'--voice-checkpoint {args.voice_checkpoint}: no such file')
    studio = Studio(args.out_dir, args.checkpoints, job_seconds=args.job_seconds, token=token,
                    voice_checkpoint=args.voice_checkpoint)
    try:
        server = make_server(args.host, args.port, create_app(studio), threaded=True)
        address = f'http://{args.host}:{server.server_port}/' + (f'?token={urllib.parse.quote(token)}' if token else '')
        print(f'Bach2.0 studio: {address}  (Ctrl-C stops it; pieces go to {args.out_dir})', flush=True)
        if not token and not this_machine_only(args.host):
            print(f'bach2 studio: {args.host} lets every machine that reaches this one in, and the studio has no '
                  f'login; give it a --token (or {TOKEN_VARIABLE}) to ask for one', flush=True)
        for stop in (signal.SIGINT, signal.SIGTERM):     # SIGINT too: started where it was ignored (a shell's
            signal.signal(stop, _interrupt)             # background job), the studio still stops on Ctrl-C
        server.serve_forever()                     # returns on Ctrl-C (Werkzeug catches the KeyboardInterrupt)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while stopping changes nothing
        print('bach2 studio: stopping (jobs cancelled, uploads removed)', flush=True)
        studio.close()
    return 0


def add_studio_command(commands):
    studio = command_parser(commands, 'studio', cmd_studio,
                            'Bach2.0 in the browser: continue, harmonize, rewrite, write a fugue')
    studio.add_argument('--host', default='127.0.0.1', help='address to serve on (default: %(default)s, this machine '
                        'only; 0.0.0.0 opens the studio to every machine that can reach this one — it has no login, '
                        'so give it a --token there)')
    studio.add_argument('--port', type=int, default=7860, help='default: %(default)s; 0 = any free port')
    studio.add_argument('--token', default='', help='a shared secret every request must carry (the page sends it '
                        f'when opened as …/?token=TOKEN); default: ${TOKEN_VARIABLE}, else none')
    studio.add_argument('--job-seconds', type=float, default=JOB_SECONDS, help='a job running longer is stopped '
                        '(default: %(default)s)')
    studio.add_argument('--out-dir', default='Synthesized_Fugues/studio', help='where the pieces go '
                        '(default: %(default)s)')
    studio.add_argument('--checkpoints', default='checkpoints', help='its .npz files are offered as models beside '
                        'the shipped one (default: %(default)s)')
    studio.add_argument('--voice-checkpoint', help='a voice model of bach2 voices train that writes the voice jobs: '
                        'harmonizing other voices than a lone soprano or bass, rewriting, continuing in voices '
                        '(default: the shipped voice models)')
