"""``bach2 studio`` driven by headless Chromium through its real page (bach2.app.studio, studio.html).

The app serves on a free port of 127.0.0.1 with the shipped models; the browser fills the forms and
submits them as a person would. Checked end to end: a continuation of a corpus piece and of an
uploaded MIDI file, a harmonized uploaded melody and a fugue exposition — each named after what it was
made from, with its piano roll (its title whole) beside its engraved score, its MIDI and MusicXML linked and
written, its audio where FluidSynth is installed, and listed among the session's pieces; a fugue on an
uploaded subject in a chosen key; a running job cancelled from the page; a page that loads no missing
resource; a studio with a token that the page must send — then every bad input (a file that is not MIDI, by
name or by content, or with too many notes; an empty, unparsable or too long subject; a value out of range; a
checkpoint gone missing) answered by one line on the page, after which the app still writes a piece.
"""
import base64
import io
import json
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import matplotlib.image
import mido
import pytest

from bach2.models.checkpoints import SHIPPED_MODEL
from bach2.render.listen import renderer_available
from headless_chromium import HeadlessChromium, find_chromium

ROOT = Path(__file__).resolve().parents[2]
MELODY = ROOT / 'Synthesized_Fugues' / 'examples' / 'chorale_bwv66.6_soprano.mid'
ARTIFACTS = ROOT / 'test-artifacts'
READY = """new Promise(r => { const t = setInterval(() => {
    if (document.body.dataset.ready) { clearInterval(t); r(); } }, 100); })"""

pytestmark = pytest.mark.skipif(find_chromium() is None, reason='Chromium is missing (apt-get install chromium)')


def serve(root, **options):
    """A studio on a free port of 127.0.0.1, pieces in ``root``/out → (its URL, the Studio, the server)."""
    from werkzeug.serving import make_server
    from bach2.app.studio import Studio, create_app
    studio = Studio(root / 'out', root / 'checkpoints', **options)
    server = make_server('127.0.0.1', 0, create_app(studio), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f'http://127.0.0.1:{server.server_port}/', studio, server


@pytest.fixture(scope='module')
def studio(tmp_path_factory):
    root = tmp_path_factory.mktemp('studio')
    (root / 'checkpoints').mkdir()
    shutil.copy(SHIPPED_MODEL, root / 'checkpoints' / 'gone_soon.npz')
    url, running, server = serve(root)
    yield {'url': url, 'root': root, 'studio': running}
    server.shutdown()
    running.close()
    assert not running.uploads.exists()


@pytest.fixture(scope='module')
def browser(studio):
    with HeadlessChromium(timeout=240) as chromium:
        chromium.load(studio['url'])
        chromium.evaluate(READY)
        yield chromium


def submit(browser, form, fields=None, upload=None):
    """Fill ``form`` (its id without '-form'), submit it, wait → {'error': text, 'name': the piece shown, …}."""
    fields = fields or {}
    setup = ''.join(f"form.elements[{name!r}].value = {value!r};" for name, value in fields.items())
    if upload:
        name, filename, data = upload
        setup += (f"const dt = new DataTransfer(); dt.items.add(new File([Uint8Array.from(atob({data!r}), c => "
                  f"c.charCodeAt(0))], {filename!r})); form.elements[{name!r}].files = dt.files;")
    return browser.evaluate(f"""(async () => {{
        const form = document.querySelector('#{form}-form');
        document.querySelector('#result').innerHTML = ''; document.querySelector('#error').textContent = '';
        {setup}
        form.dispatchEvent(new Event('submit', {{cancelable: true}}));   // as a click, past the browser's own checks
        await new Promise(r => setTimeout(r, 50));
        while (document.body.dataset.busy) await new Promise(r => setTimeout(r, 200));
        const name = document.querySelector('#result-name'), roll = document.querySelector('#roll');
        const pages = [...document.querySelectorAll('#score img')];
        await Promise.all([roll, ...pages].filter(i => i && !i.complete).map(i => new Promise(r => {{
            i.onload = i.onerror = r; }})));
        const links = [...document.querySelectorAll('#result a')].map(a => a.getAttribute('href'));
        const player = document.querySelector('#player');
        const box = (element) => element ? element.getBoundingClientRect() : null;
        return {{error: document.querySelector('#error').textContent, name: name && name.textContent,
                 status: document.querySelector('#status').textContent,
                 roll: roll ? roll.naturalWidth : 0, pages: pages.map(page => page.naturalWidth),
                 beside: !!(roll && pages.length && box(pages[0]).left >= box(roll).right),
                 links, audio: !!player, pieces: document.querySelectorAll('#pieces li').length}};
    }})()""")


def upload_of(path, field, filename=None):
    return field, filename or Path(path).name, base64.b64encode(Path(path).read_bytes()).decode()


def midi_upload(field, filename, pitches, ticks=96, channel=0):
    """An upload of a MIDI file of one line: ``pitches`` each ``ticks`` long (96 a quarter note) on ``channel``."""
    track = mido.MidiTrack()
    for pitch in pitches:
        track += [mido.Message('note_on', note=pitch, velocity=64, time=0, channel=channel),
                  mido.Message('note_off', note=pitch, velocity=0, time=ticks, channel=channel)]
    data = io.BytesIO()
    mido.MidiFile(type=0, ticks_per_beat=96, tracks=[track]).save(file=data)
    return field, filename, base64.b64encode(data.getvalue()).decode()


def written(studio, shown, kind):
    return (studio['root'] / 'out' / f'{shown["name"]}.{kind}').is_file()


def test_the_studio_continues_harmonizes_and_writes_a_fugue(studio, browser):
    assert browser.evaluate("document.querySelector('#token-row').offsetParent === null")   # no token asked here
    shown = submit(browser, 'continue', {'primer': 'mutopia/bwv772_invention_bach-invention-01.mid', 'steps': '32'})
    assert shown['error'] == '' and shown['name'] == 'bwv772_invention_bach-in_continued_seed0' and shown['roll'] > 0
    assert shown['pages'] and all(shown['pages']) and shown['beside']          # the score, beside the roll
    assert shown['audio'] == renderer_available() and shown['pieces'] == 1
    assert written(studio, shown, 'mid') and written(studio, shown, 'musicxml') and written(studio, shown, 'page1.svg')
    assert any(link.endswith('.musicxml') for link in shown['links'])
    shown = submit(browser, 'harmonize', {'voices': '3'}, upload_of(MELODY, 'melody_file'))
    assert shown['error'] == '' and shown['name'] == 'chorale_bwv66.6_soprano_harmonized_seed0' and shown['roll'] > 0
    assert shown['pages'] and all(shown['pages']) and shown['beside']
    assert written(studio, shown, 'mid') and written(studio, shown, 'musicxml') and shown['pieces'] == 2
    shown = submit(browser, 'fugue', {'voices': '3', 'free_bars': '1'})
    assert shown['error'] == '' and shown['name'] == 'fugue_C4-Eb4-D4-C4_seed0' and shown['roll'] > 0
    assert shown['pages'] and all(shown['pages']) and shown['beside']
    assert written(studio, shown, 'musicxml') and shown['pieces'] == 3
    assert 'fugue exposition on' in browser.evaluate("document.querySelector('#pieces').textContent")
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.screenshot(ARTIFACTS / 'studio.png').stat().st_size > 10000      # the page, for a person to look at
    shown = submit(browser, 'continue', {'steps': '16'}, upload_of(MELODY, 'primer_file', 'my primer.mid'))
    assert shown['error'] == '' and shown['roll'] > 0 and shown['pieces'] == 4
    assert shown['name'] == 'my-primer_continued_seed0'
    assert 'continued my primer.mid' in browser.evaluate("document.querySelector('#pieces').textContent")
    shown = submit(browser, 'fugue', {'voices': '3', 'free_bars': '0'})                  # the same again: a new name
    assert shown['name'] == 'fugue_C4-Eb4-D4-C4_seed0_2' and written(studio, shown, 'mid')


def test_every_piano_roll_title_is_whole(studio):
    rolls = sorted((studio['root'] / 'out').glob('*.png'))
    assert len(rolls) >= 4
    for roll in rolls:                                 # a title cut off runs into the picture's left and right edges
        top = matplotlib.image.imread(roll)[:30, :, :3].mean(axis=2)
        assert top[:, :3].min() > 0.5 and top[:, -3:].min() > 0.5, f'{roll.name}: its title is cut off'


def test_the_page_loads_no_missing_resource(studio, browser):
    browser.load('about:blank')                               # nothing of the page before is still loading
    browser.send('Network.enable', session=True)
    browser.load(studio['url'])
    browser.evaluate(READY)
    browser.evaluate('new Promise(r => setTimeout(r, 500))')
    answers = [event['params']['response'] for event in browser.events
               if event.get('method') == 'Network.responseReceived']
    failed = [event['params'] for event in browser.events if event.get('method') == 'Network.loadingFailed']
    browser.send('Network.disable', session=True)
    assert answers and not failed and all(answer['status'] < 400 for answer in answers), \
        [(answer['url'], answer['status']) for answer in answers if answer['status'] >= 400] or failed
    with urllib.request.urlopen(studio['url'] + 'favicon.ico') as icon:     # what browsers ask of every site
        assert icon.status < 400


def test_a_running_job_is_cancelled_from_the_page(studio, browser):
    state = browser.evaluate("""(async () => {
        const form = document.querySelector('#fugue-form');
        form.elements['voices'].value = '4'; form.elements['free_bars'].value = '16'; form.elements['seed'].value = '7';
        form.dispatchEvent(new Event('submit', {cancelable: true}));
        const status = document.querySelector('#status');
        while (!status.textContent.startsWith('writing')) await new Promise(r => setTimeout(r, 100));
        const button = document.querySelector('#cancel'), visible = !button.hidden;
        button.click();
        while (document.body.dataset.busy) await new Promise(r => setTimeout(r, 100));
        form.reset();
        return {visible, status: document.querySelector('#status').textContent,
                error: document.querySelector('#error').textContent, hidden: button.hidden};
    })()""")
    assert state == {'visible': True, 'status': 'cancelled', 'error': '', 'hidden': True}
    assert not (studio['root'] / 'out' / 'fugue_C4-Eb4-D4-C4_seed7.mid').exists()


def test_a_fugue_on_an_uploaded_subject_in_a_chosen_key(studio, browser):
    keys = browser.evaluate("[...document.querySelector('#key').options].map(o => o.value)")
    assert keys[0] == '' and len(keys) == 25 and 'Bb major' in keys and 'F# minor' in keys
    subject = midi_upload('subject_file', 'royal theme.mid', [62, 69, 65, 62, 61, 62, 64, 65])
    shown = submit(browser, 'fugue', {'voices': '3', 'free_bars': '0', 'key': 'D minor'}, subject)
    assert shown['error'] == '' and shown['name'] == 'fugue_on_royal-theme_seed0' and all(shown['pages'])
    piece = json.loads(urllib.request.urlopen(studio['url'] + 'api/pieces').read())['pieces'][-1]
    assert piece['report']['key'] == 'D minor' and 'on "royal theme.mid"' in piece['how'] and 'D minor' in piece['how']
    browser.evaluate("document.querySelectorAll('form').forEach(f => f.reset())")


def test_a_studio_with_a_token_asks_every_request_for_it(tmp_path):
    url, studio, server = serve(tmp_path, token='s3cret')
    try:
        def status(path, data=None, headers=None):
            try:
                with urllib.request.urlopen(urllib.request.Request(url + path, data, headers or {})) as answer:
                    return answer.status, answer.read()
            except urllib.error.HTTPError as error:
                return error.code, error.read()
        assert status('')[0] == 200 and status('favicon.ico')[0] == 204               # the page itself is free
        code, body = status('api/options')
        assert code == 401 and 'asks for its token' in json.loads(body)['error'] and body.count(b'\n') <= 1
        assert status('api/options', headers={'X-Bach2-Token': 'wrong'})[0] == 401
        assert status('api/options', headers={'X-Bach2-Token': 's3cret'})[0] == 200
        assert status('api/pieces?token=s3cret')[0] == 200
        code, body = status('api/fugue', urllib.parse.urlencode({'token': 's3cret', 'key': 'H major'}).encode())
        assert code == 400 and json.loads(body)['error'].startswith('key: not a key')       # past the token
        with HeadlessChromium() as browser:
            browser.load(url)
            browser.evaluate('new Promise(r => setTimeout(r, 500))')
            assert browser.evaluate("!document.querySelector('#token-row').hidden && !document.body.dataset.ready")
            assert 'asks for its token' in browser.evaluate("document.querySelector('#error').textContent")
            browser.load(url + '?token=s3cret')
            browser.evaluate(READY)
            assert browser.evaluate("document.querySelector('#model').options.length") == 1
    finally:
        server.shutdown()
        studio.close()


@pytest.mark.parametrize('form, fields, upload, message', [
    ('harmonize', {}, ('melody_file', 'notes.txt', base64.b64encode(b'C D E').decode()),
     'notes.txt: not a MIDI file (expected .mid, .midi)'),
    ('harmonize', {}, ('melody_file', 'junk.mid', base64.b64encode(b'not MIDI at all').decode()),
     'junk.mid: not a MIDI file (it does not start with the MThd header)'),
    ('harmonize', {}, midi_upload('melody_file', 'long.mid', [60, 62, 64, 65] * 600, ticks=24),
     'long.mid: 2400 notes; the studio takes at most 2000'),
    ('harmonize', {}, midi_upload('melody_file', 'drums.mid', [36, 38, 42], channel=9),
     'drums.mid: no pitched notes: its 3 notes are drums (MIDI channel 10)'),
    ('harmonize', {}, None, 'melody_file: choose a MIDI file to upload'),
    ('fugue', {'subject': '   '}, None, 'subject: the subject is empty'),
    ('fugue', {'subject': 'C4 H4'}, None, "subject: subject token 'H4' is not a note"),
    ('fugue', {'subject': 'C4:10000000 D4'}, None,
     "subject: subject token 'C4:10000000': the subject is longer than 32 quarter notes"),
    ('fugue', {'subject': 'C4 ' * 200}, None, 'subject: 599 characters; a subject here has at most 400'),
    ('fugue', {'subject': 'C2 D7'}, None, "wider than the model's 24–84"),
    ('continue', {'temperature': '9'}, None, 'temperature: 9.0 is out of range (0.05–5.0)'),
    ('continue', {'steps': '5000'}, None, 'steps: 5000 is out of range (16–1024)'),
    ('fugue', {'voices': '3', 'free_bars': '99'}, None, 'free_bars: 99 is out of range (0–16)'),
])
def test_bad_input_is_one_line_on_the_page(studio, browser, form, fields, upload, message):
    shown = submit(browser, form, fields, upload)
    assert message in shown['error'] and shown['error'].count('\n') == 0 and shown['name'] is None
    browser.evaluate("document.querySelectorAll('form').forEach(f => f.reset())")


def test_a_checkpoint_gone_missing_is_one_line_and_the_studio_goes_on(studio, browser):
    browser.load(studio['url'])                                                 # the checkpoint is offered …
    browser.evaluate(READY)
    gone = str(studio['root'] / 'checkpoints' / 'gone_soon.npz')
    assert browser.evaluate(f"[...document.querySelector('#model').options].some(o => o.value === {gone!r})")
    browser.evaluate(f"document.querySelector('#model').value = {gone!r}")
    Path(gone).unlink()                                                         # … and removed before it is used
    shown = submit(browser, 'continue', {'steps': '16'})
    assert 'is not one of the models offered' in shown['error']
    browser.evaluate("document.querySelector('#model').value = 'shipped'")
    shown = submit(browser, 'continue', {'steps': '16', 'seed': '3'})
    assert shown['error'] == '' and shown['roll'] > 0
