"""``bach2 studio``: Bach2.0 in the browser — a Flask app with one page (``studio.html``).

On the page: pick a model (the shipped pair, or a checkpoint of ``--checkpoints``), then continue a
primer (a piece of the built-in corpus, or an uploaded MIDI file), harmonize an uploaded melody, or
write a fugue exposition on a typed subject, with temperature, length and seed. Each request starts
a job on one worker thread (one model runs at a time); the page polls ``/api/jobs/<id>`` for its
progress, then shows the piano roll, plays the audio (FluidSynth, where installed) and links the
MIDI and MusicXML files. ``/api/pieces`` lists the pieces of the session with how each was made.

Bad input — a file that is not MIDI, an empty or unreadable subject, a value out of range, a
missing checkpoint — is answered with one line (``{"error": …}``, HTTP 400 for the request, or a
failed job), shown on the page; the app goes on serving. Uploads are written to a temporary
folder and removed after the job.

Also here: the command that serves it (:func:`cmd_studio`, :func:`add_studio_command`).
"""
# Imports of heavy modules (Flask, the models) are inside the functions, for start-up speed.
import concurrent.futures
import itertools
import pathlib
import shutil
import tempfile
import threading
import time

from bach2.app.arguments import command_parser
from bach2.common import CheckpointError, CorpusError, MIDI_SUFFIXES
from bach2.compose.fugue import Form, SubjectError, parse_subject, write_fugue
from bach2.compose.generate import GenerateConfig, generate_a_fugue
from bach2.compose.harmonize import harmonize
from bach2.compose.lines import Sampling
from bach2.data.default_corpus import KEYBOARD
from bach2.midi_to_time_series import MidiFileError
from bach2.models.checkpoints import SHIPPED_MODEL
from bach2.render.listen import renderer_available
from bach2.render.piece import Output

PAGE = pathlib.Path(__file__).with_name('studio.html')
SHIPPED = 'shipped'
LIMITS = {'temperature': (0.05, 5.0), 'steps': (16, 1024), 'voices': (2, 4), 'free_bars': (0, 16),
          'seed': (0, 2 ** 31 - 1)}
KNOWN_ERRORS = (CorpusError, MidiFileError, CheckpointError, SubjectError, ValueError)


class BadRequest(Exception):
    """A request the page can fix: the message says which field and why."""


def number(form, name, kind=float, default=None):
    """Field ``name`` of ``form`` as ``kind``, within :data:`LIMITS`; BadRequest naming it otherwise."""
    text = form.get(name, '')
    if text == '' and default is not None:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise BadRequest(f'{name}: {text!r} is not a number') from None
    low, high = LIMITS[name]
    if not low <= value <= high:
        raise BadRequest(f'{name}: {value} is out of range ({low}–{high})')
    return value


class Studio:
    """The jobs and pieces of one studio session; ``out_dir`` receives the pieces."""

    def __init__(self, out_dir, checkpoints='checkpoints', corpus=None):
        self.out_dir = pathlib.Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoints = pathlib.Path(checkpoints)
        self.corpus = pathlib.Path(corpus) if corpus else KEYBOARD
        self.jobs, self.pieces, self.lock = {}, [], threading.Lock()
        self.ids = itertools.count(1)
        self.worker = concurrent.futures.ThreadPoolExecutor(max_workers=1)

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
            raise BadRequest(f'model: {model!r} is not one of the models offered (is the checkpoint still there?)')
        return model

    def start(self, kind, describe, work, upload=None):
        """Run ``work(progress)`` → (files, report) on the worker → the job id. ``upload``: (path, name as
        uploaded) of a file to remove afterwards, called by its name in messages."""
        job = {'id': next(self.ids), 'kind': kind, 'how': describe, 'state': 'waiting', 'progress': 0.0,
               'started': time.time()}
        with self.lock:
            self.jobs[job['id']] = job

        def progress(fraction):
            job['progress'] = max(job['progress'], min(1.0, fraction))

        def run():
            job['state'] = 'running'
            try:
                files, report = work(progress)
                piece = {'name': pathlib.Path(files['mid']).stem, 'how': describe, 'report': report,
                         'files': {kind: pathlib.Path(path).name for kind, path in files.items() if kind != 'p'}}
                with self.lock:
                    self.pieces.append(piece)
                job.update(state='done', progress=1.0, piece=piece)
            except Exception as error:       # a job must never take the app down; the page says what failed
                message = str(error) if isinstance(error, KNOWN_ERRORS) else f'{type(error).__name__}: {error}'
                job.update(state='failed', error=message.replace(str(upload[0]), upload[1]) if upload else message)
            finally:
                if upload:
                    shutil.rmtree(upload[0].parent, ignore_errors=True)
        self.worker.submit(run)
        return job['id']

    def stem(self, kind):
        return f'studio_{kind}_{int(time.time() * 1000) % 10 ** 9}'


def saved_upload(files, field):
    """The uploaded MIDI file of ``field`` → (its path in a new temporary folder, its name as uploaded);
    BadRequest if there is none or its name is not a MIDI name (its contents are checked when it is read)."""
    upload = files.get(field)
    if upload is None or not upload.filename:
        raise BadRequest(f'{field}: choose a MIDI file to upload')
    suffix = pathlib.Path(upload.filename).suffix.lower()
    if suffix not in MIDI_SUFFIXES:
        raise BadRequest(f'{upload.filename}: not a MIDI file (expected {", ".join(sorted(MIDI_SUFFIXES))})')
    folder = tempfile.mkdtemp(prefix='bach2_studio_')
    path = pathlib.Path(folder) / f'{pathlib.Path(upload.filename).stem[:60] or "upload"}{suffix}'
    upload.save(path)
    return path, upload.filename


def create_app(studio):
    """The Flask app of ``studio`` (:class:`Studio`)."""
    from flask import Flask
    app = Flask('bach2.app.studio')
    app.config['MAX_CONTENT_LENGTH'] = 8 << 20               # uploads up to 8 MB
    add_error_handlers(app)
    add_page_routes(app, studio)
    add_job_routes(app, studio)
    return app


def add_error_handlers(app):
    """A BadRequest and an upload over the limit → ``{"error": …}`` with HTTP 400 or 413."""
    from flask import jsonify

    @app.errorhandler(BadRequest)
    def bad_request(error):
        return jsonify(error=str(error)), 400

    @app.errorhandler(413)
    def too_large(error):
        return jsonify(error='the upload is larger than 8 MB'), 413


def add_page_routes(app, studio):
    """What the page reads: itself, the options to pick from, a job's progress, the pieces and their files."""
    from flask import jsonify, send_from_directory

    @app.get('/')
    def page():
        return PAGE.read_text(encoding='utf-8')

    @app.get('/api/options')
    def options():
        return jsonify(models=list(studio.models().items()), primers=studio.primers())     # a list keeps the order

    @app.get('/api/jobs/<int:job_id>')
    def job(job_id):
        found = studio.jobs.get(job_id)
        if found is None:
            raise BadRequest(f'no job {job_id}')
        return jsonify({key: value for key, value in found.items() if key != 'started'})

    @app.get('/api/pieces')
    def pieces():
        return jsonify(pieces=studio.pieces)

    @app.get('/files/<path:name>')
    def files(name):
        return send_from_directory(studio.out_dir.resolve(), name)


def add_job_routes(app, studio):
    """The forms of the page, each starting a job → ``{"job": id}``."""
    from flask import jsonify, request

    @app.post('/api/continue')
    def continue_primer():
        return jsonify(job=start_continuation(studio, request.form, request.files))

    @app.post('/api/harmonize')
    def harmonize_melody():
        return jsonify(job=start_harmonization(studio, request.form, request.files))

    @app.post('/api/fugue')
    def fugue():
        return jsonify(job=start_fugue(studio, request.form))


def start_continuation(studio, form, uploads):
    """The continue form (``form`` its fields, ``uploads`` its files): a corpus piece (``primer``) or an uploaded
    MIDI file (``primer_file``) continued by the picked model → the job id."""
    checkpoint = studio.checkpoint(form.get('model', ''))
    steps, seed = number(form, 'steps', int, 256), number(form, 'seed', int, 0)
    temperature = number(form, 'temperature', float, 1.0)
    upload = None
    if uploads.get('primer_file') and uploads['primer_file'].filename:
        upload = saved_upload(uploads, 'primer_file')
        primer, label = upload
    else:
        label = form.get('primer', '')
        if label not in studio.primers():
            raise BadRequest(f'primer: {label!r} is not a piece of the built-in corpus')
        primer = studio.corpus / label
    config = GenerateConfig(checkpoint=checkpoint or str(SHIPPED_MODEL), out_dir=str(studio.out_dir),
                            primer=str(primer), n_steps=steps, seed=seed, temperature=temperature,
                            name=studio.stem('continue'), audio=audio(), musicxml=True)

    def work(progress):
        result = generate_a_fugue(config, log=lambda *_: None)
        return result['files'], result['report']
    how = f'continued {label} for {steps} steps, {model_name(checkpoint)}, T={temperature:g}, seed {seed}'
    return studio.start('continue', how, work, upload)


def start_harmonization(studio, form, uploads):
    """The harmonize form: the other voices around the soprano or bass of an uploaded melody → the job id."""
    checkpoint = studio.checkpoint(form.get('model', ''))
    voice = form.get('voice', 'soprano')
    if voice not in ('soprano', 'bass'):
        raise BadRequest(f"voice: {voice!r} is neither 'soprano' nor 'bass'")
    voices, seed = number(form, 'voices', int, 4), number(form, 'seed', int, 0)
    temperature = number(form, 'temperature', float, 1.0)
    upload = saved_upload(uploads, 'melody_file')
    melody, name = upload[0], studio.stem('harmonize')

    def work(progress):
        files, _ = harmonize(melody, voice, voices, checkpoint, Sampling(temperature=temperature, seed=seed),
                             Output(studio.out_dir, name=name, audio=audio(), musicxml=True))
        return files, {'voice': voice, 'voices': voices}
    how = (f'harmonized the {voice} of {upload[1]} in {voices} voices, {model_name(checkpoint)}, '
           f'T={temperature:g}, seed {seed}')
    return studio.start('harmonize', how, work, upload)


def start_fugue(studio, form):
    """The fugue form: an exposition on a typed subject by the shipped pair → the job id."""
    if studio.checkpoint(form.get('model', '')) is not None:
        raise BadRequest('model: a fugue needs a pair of models drawn up and down; pick the shipped pair')
    subject = form.get('subject', '').strip()
    try:
        parse_subject(subject)                         # a typo is answered at once, not by a failed job
    except SubjectError as error:
        raise BadRequest(f'subject: {error}') from None
    voices, seed = number(form, 'voices', int, 3), number(form, 'seed', int, 0)
    if voices not in (3, 4):
        raise BadRequest(f'voices: a fugue here has 3 or 4 voices, not {voices}')
    free_bars = number(form, 'free_bars', int, 4)
    temperature = number(form, 'temperature', float, 1.0)
    answer = form.get('answer', 'tonal')
    if answer not in ('tonal', 'real'):
        raise BadRequest(f"answer: {answer!r} is neither 'tonal' nor 'real'")
    name = studio.stem('fugue')

    def work(progress):
        return write_fugue(subject, Form(voices, answer, form.get('key', ''), free_bars), None,
                           Sampling(temperature=temperature, seed=seed, progress=progress),
                           Output(studio.out_dir, name=name, audio=audio(), musicxml=True))
    how = (f'fugue exposition on "{subject}", {voices} voices, {answer} answer, {free_bars} free bars, '
           f'T={temperature:g}, seed {seed}')
    return studio.start('fugue', how, work)


def model_name(checkpoint):
    return 'the shipped model' if checkpoint is None else pathlib.Path(checkpoint).name


def audio():
    """'wav' where FluidSynth and a soundfont are installed, else '' (the page then offers no player)."""
    return 'wav' if renderer_available() else ''


def cmd_studio(args):
    """Serve the studio, a page to try Bach2.0 without a terminal: pick a model, continue a primer, harmonize
    an uploaded melody or write a fugue exposition; see the piano roll, listen, download MIDI and MusicXML."""
    if not 0 <= args.port <= 65535:
        raise CorpusError(f'--port {args.port}: not a port (0–65535)')
    app = create_app(Studio(args.out_dir, args.checkpoints))
    print(f'Bach2.0 studio: http://{args.host}:{args.port}/  (Ctrl-C stops it; pieces go to {args.out_dir})')
    app.run(host=args.host, port=args.port, threaded=True)
    return 0


def add_studio_command(commands):
    studio = command_parser(commands, 'studio', cmd_studio,
                            'Bach2.0 in the browser: continue, harmonize, write a fugue')
    studio.add_argument('--host', default='127.0.0.1', help='address to serve on (default: %(default)s, this machine '
                        'only; 0.0.0.0 opens the studio to every machine that can reach this one — it has no login)')
    studio.add_argument('--port', type=int, default=7860, help='default: %(default)s')
    studio.add_argument('--out-dir', default='Synthesized_Fugues/studio', help='where the pieces go '
                        '(default: %(default)s)')
    studio.add_argument('--checkpoints', default='checkpoints', help='its .npz files are offered as models beside '
                        'the shipped one (default: %(default)s)')
