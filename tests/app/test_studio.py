"""``bach2 studio`` driven by headless Chromium through its real page (bach2.app.studio, studio.html).

The app serves on a free port of 127.0.0.1 with the shipped models; the browser fills the forms and
submits them as a person would. Checked end to end: a continuation of a corpus piece and of an
uploaded MIDI file, a harmonized uploaded melody and a fugue exposition — each with its piano roll loaded, its MIDI and MusicXML
linked and written, its audio where FluidSynth is installed, and listed among the session's
pieces — then every bad input (a file that is not MIDI, by name or by content; an empty or
unparsable subject; a value out of range; a checkpoint gone missing) answered by one line on the
page, after which the app still writes a piece.
"""
import base64
import shutil
import threading
from pathlib import Path

import pytest

from bach2.models.checkpoints import SHIPPED_MODEL
from bach2.render.listen import renderer_available
from headless_chromium import HeadlessChromium, find_chromium

ROOT = Path(__file__).resolve().parents[2]
MELODY = ROOT / 'Synthesized_Fugues' / 'examples' / 'chorale_bwv66.6_soprano.mid'
ARTIFACTS = ROOT / 'test-artifacts'

pytestmark = pytest.mark.skipif(find_chromium() is None, reason='Chromium is missing (apt-get install chromium)')


@pytest.fixture(scope='module')
def studio(tmp_path_factory):
    from werkzeug.serving import make_server
    from bach2.app.studio import Studio, create_app
    root = tmp_path_factory.mktemp('studio')
    (root / 'checkpoints').mkdir()
    shutil.copy(SHIPPED_MODEL, root / 'checkpoints' / 'gone_soon.npz')
    server = make_server('127.0.0.1', 0, create_app(Studio(root / 'out', root / 'checkpoints')), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {'url': f'http://127.0.0.1:{server.server_port}/', 'root': root}
    server.shutdown()


@pytest.fixture(scope='module')
def browser(studio):
    with HeadlessChromium(timeout=240) as chromium:
        chromium.load(studio['url'])
        chromium.evaluate("""new Promise(r => { const t = setInterval(() => {
            if (document.body.dataset.ready) { clearInterval(t); r(); } }, 100); })""")
        yield chromium


def submit(browser, form, fields=None, upload=None):
    """Fill ``form`` (its id without '-form'), submit it, wait → {'error': text, 'name': the piece shown}."""
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
        if (roll && !roll.complete) await new Promise(r => {{ roll.onload = roll.onerror = r; }});
        const links = [...document.querySelectorAll('#result a')].map(a => a.getAttribute('href'));
        const player = document.querySelector('#player');
        return {{error: document.querySelector('#error').textContent, name: name && name.textContent,
                 roll: roll ? roll.naturalWidth : 0, links, audio: !!player,
                 pieces: document.querySelectorAll('#pieces li').length}};
    }})()""")


def upload_of(path, field, filename=None):
    return field, filename or Path(path).name, base64.b64encode(Path(path).read_bytes()).decode()


def written(studio, shown, kind):
    return (studio['root'] / 'out' / f'{shown["name"]}.{kind}').is_file()


def test_the_studio_continues_harmonizes_and_writes_a_fugue(studio, browser):
    shown = submit(browser, 'continue', {'primer': 'mutopia/bwv772_invention_bach-invention-01.mid', 'steps': '32'})
    assert shown['error'] == '' and shown['name'].startswith('studio_continue') and shown['roll'] > 0
    assert shown['audio'] == renderer_available() and shown['pieces'] == 1
    assert written(studio, shown, 'mid') and written(studio, shown, 'musicxml')
    assert any(link.endswith('.musicxml') for link in shown['links'])
    shown = submit(browser, 'harmonize', {'voices': '3'}, upload_of(MELODY, 'melody_file'))
    assert shown['error'] == '' and shown['name'].startswith('studio_harmonize') and shown['roll'] > 0
    assert written(studio, shown, 'mid') and written(studio, shown, 'musicxml') and shown['pieces'] == 2
    shown = submit(browser, 'fugue', {'voices': '3', 'free_bars': '1'})
    assert shown['error'] == '' and shown['name'].startswith('studio_fugue') and shown['roll'] > 0
    assert written(studio, shown, 'musicxml') and shown['pieces'] == 3
    assert 'fugue exposition on' in browser.evaluate("document.querySelector('#pieces').textContent")
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.screenshot(ARTIFACTS / 'studio.png').stat().st_size > 10000      # the page, for a person to look at
    shown = submit(browser, 'continue', {'steps': '16'}, upload_of(MELODY, 'primer_file', 'my primer.mid'))
    assert shown['error'] == '' and shown['roll'] > 0 and shown['pieces'] == 4
    assert 'continued my primer.mid' in browser.evaluate("document.querySelector('#pieces').textContent")


@pytest.mark.parametrize('form, fields, upload, message', [
    ('harmonize', {}, ('melody_file', 'notes.txt', base64.b64encode(b'C D E').decode()),
     'notes.txt: not a MIDI file (expected .mid, .midi)'),
    ('harmonize', {}, ('melody_file', 'junk.mid', base64.b64encode(b'not MIDI at all').decode()),
     'junk.mid: not a MIDI file (it does not start with the MThd header)'),
    ('harmonize', {}, None, 'melody_file: choose a MIDI file to upload'),
    ('fugue', {'subject': '   '}, None, 'subject: the subject is empty'),
    ('fugue', {'subject': 'C4 H4'}, None, "subject: subject token 'H4' is not a note"),
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
    browser.evaluate("""new Promise(r => { const t = setInterval(() => {
        if (document.body.dataset.ready) { clearInterval(t); r(); } }, 100); })""")
    gone = str(studio['root'] / 'checkpoints' / 'gone_soon.npz')
    assert browser.evaluate(f"[...document.querySelector('#model').options].some(o => o.value === {gone!r})")
    browser.evaluate(f"document.querySelector('#model').value = {gone!r}")
    Path(gone).unlink()                                                         # … and removed before it is used
    shown = submit(browser, 'continue', {'steps': '16'})
    assert 'is not one of the models offered' in shown['error']
    browser.evaluate("document.querySelector('#model').value = 'shipped'")
    shown = submit(browser, 'continue', {'steps': '16', 'seed': '3'})
    assert shown['error'] == '' and shown['roll'] > 0
