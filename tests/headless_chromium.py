"""Drive Debian's headless Chromium from the tests: load a page, run JavaScript, take a screenshot.

Speaks the Chrome DevTools Protocol over ``--remote-debugging-pipe`` (JSON
messages ending in NUL on file descriptors 3 and 4), so it needs nothing but
the ``chromium`` package: no driver, no pip package, no network port.
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM_NAMES = ('chromium', 'chromium-browser', 'google-chrome')
FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run', '--mute-audio',
         '--disable-dev-shm-usage', '--remote-debugging-pipe', '--allow-file-access-from-files')


def find_chromium():
    """Path of a Chromium executable, or None."""
    return next((shutil.which(name) for name in CHROMIUM_NAMES if shutil.which(name)), None)


def _above_4(fd):
    """Move ``fd`` to a number ≥ 10, so redirecting onto 3 and 4 cannot clobber it."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class ChromiumError(Exception):
    """Chromium failed to start, answered with an error, or timed out."""


class HeadlessChromium:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, executable=None, width=1280, height=900, timeout=60):
        self.executable = executable or find_chromium()
        self.width, self.height, self.timeout = width, height, timeout
        self._next_id, self._buffer, self.events = 0, b'', []

    def __enter__(self):
        self._profile = tempfile.mkdtemp(prefix='bach2_chromium_')
        to_child, self._to_chromium = os.pipe()      # Chromium reads commands on fd 3
        self._from_chromium, from_child = os.pipe()  # and writes replies on fd 4
        to_child, from_child = _above_4(to_child), _above_4(from_child)

        # bash (dash takes one-digit fds only) puts the pipe ends on fds 3 and 4, whatever numbers they have here, then becomes Chromium
        redirect = f'exec "$@" 3<&{to_child} 4>&{from_child} {to_child}<&- {from_child}>&-'
        self.process = subprocess.Popen(['bash', '-c', redirect, 'bash', self.executable, *FLAGS,
                                         f'--user-data-dir={self._profile}',
                                         f'--window-size={self.width},{self.height}', 'about:blank'],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, pass_fds=(to_child, from_child))
        os.close(to_child)
        os.close(from_child)
        target = self.send('Target.createTarget', url='about:blank')['targetId']
        self.session = self.send('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
        self.send('Page.enable', session=True)
        self.send('Emulation.setDeviceMetricsOverride', session=True, width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *exc):
        try:
            self.send('Browser.close')
        except (ChromiumError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chromium)
        os.close(self._from_chromium)
        shutil.rmtree(self._profile, ignore_errors=True)

    def send(self, method, session=False, **params):
        """Send one command and wait for its result (dict); events that arrive meanwhile go to ``self.events``."""
        self._next_id += 1
        message = {'id': self._next_id, 'method': method, 'params': params}
        if session:
            message['sessionId'] = self.session
        os.write(self._to_chromium, json.dumps(message).encode() + b'\0')
        while True:
            reply = self._read()
            if reply.get('id') == self._next_id:
                if 'error' in reply:
                    raise ChromiumError(f'{method}: {reply["error"]}')
                return reply.get('result', {})
            self.events.append(reply)

    def _read(self):
        deadline = time.monotonic() + self.timeout
        while b'\0' not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_chromium], [], [], max(0.0, left))
            if not ready:
                raise ChromiumError(f'no answer from Chromium in {self.timeout} s')
            chunk = os.read(self._from_chromium, 1 << 20)
            if not chunk:
                raise ChromiumError(f'Chromium exited (status {self.process.poll()})')
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b'\0', 1)
        return json.loads(message)

    def load(self, url):
        """Navigate and wait for the load event."""
        self.events.clear()
        self.send('Page.navigate', session=True, url=url)
        while not any(event.get('method') == 'Page.loadEventFired' for event in self.events):
            self.events.append(self._read())

    def evaluate(self, expression):
        """Run JavaScript in the page (promises awaited) → its value, returned by value (JSON)."""
        result = self.send('Runtime.evaluate', session=True, expression=expression, awaitPromise=True,
                           returnByValue=True)
        if 'exceptionDetails' in result:
            raise ChromiumError(f'JavaScript failed: {result["exceptionDetails"].get("text")} '
                                f'{result["exceptionDetails"].get("exception", {}).get("description", "")}')
        return result['result'].get('value')

    def screenshot(self, path):
        """Save the whole page (beyond the window) as PNG at ``path``."""
        data = self.send('Page.captureScreenshot', session=True, format='png', captureBeyondViewport=True)['data']
        with open(path, 'wb') as handle:
            handle.write(base64.b64decode(data))
        return path
