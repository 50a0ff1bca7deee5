"""Debian's chromium, headless, driven by puppeteer-core through
interop/console/driver.js: a person at Herald's web console.

    consolebrowser.ensure_available()   # skips, saying why, without
                                        # chromium or node; npm ci once
    b = Browser(test, herald.admin_url + '/')
    b.do('open')
    b.do('login', token=harness.ADMIN_TOKEN)
    b.do('wait_text', within='#registrations', text='sip:alice@…')
    b.do('click', label='Approve bob@example.test for alice@example.test')

Each action is one JSON line to driver.js and one JSON line back; a
failed action raises with what the page logged (its console messages,
errors and failed requests, kept in .lines). Cleanup closes the browser
and kills only the process this object started.
"""

import json
import os
import queue
import shutil
import subprocess
import threading
import unittest

import npmpkg
from clientproc import Client, die_with_parent

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, 'console')
DRIVER = os.path.join(PKG, 'driver.js')
NO_BROWSER = 'no chromium'


def chromium():
    """The browser: $CHROMIUM, or Debian's chromium on PATH; None."""
    path = os.environ.get('CHROMIUM') or shutil.which('chromium')
    return path if path and os.access(path, os.X_OK) else None


def ensure_available():
    """Skip (unittest.SkipTest, with the reason) when chromium, node or
    npm is missing; else `npm ci` in interop/console once."""
    if chromium() is None:
        raise unittest.SkipTest(NO_BROWSER + ': the web console\'s browser '
                                'test needs Debian\'s chromium '
                                '(script/bootstrap installs it; or set '
                                'CHROMIUM)')
    npmpkg.ensure_installed(PKG)


class BrowserError(AssertionError):
    pass


class Browser(Client):
    """One driver.js process: one headless chromium with one page."""

    Error = BrowserError

    def __init__(self, test, url):
        super().__init__()
        self.aor = url          # what Client's messages name
        self.replies = queue.Queue()
        cfg = {'chromium': chromium(), 'url': url}
        test.addCleanup(self.close)
        self.proc = subprocess.Popen(
            ['node', DRIVER, json.dumps(cfg)], cwd=PKG,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, preexec_fn=die_with_parent)
        self.started()
        self.readers = [threading.Thread(target=self._replies, daemon=True),
                        threading.Thread(target=self._log, daemon=True)]
        for t in self.readers:
            t.start()

    def _replies(self):
        for raw in iter(self.proc.stdout.readline, b''):
            self.replies.put(raw.decode('utf-8', 'replace'))
        self.proc.stdout.close()
        self.replies.put(None)

    def _log(self):
        for raw in iter(self.proc.stderr.readline, b''):
            with self.cond:
                self.lines.append(raw.decode('utf-8', 'replace')
                                  .rstrip('\n'))
        self.proc.stderr.close()

    def diag(self, tail=200):
        return 'the browser (%s):\n%s' % (self.aor, self.log_text(tail))

    def do(self, action, timeout=60, **kw):
        """Do one action; its answer (a dict). Raises when it failed."""
        self.proc.stdin.write((json.dumps(dict(kw, do=action)) +
                               '\n').encode())
        self.proc.stdin.flush()
        try:
            line = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise BrowserError('%s %r: no answer within %d s\n%s' %
                               (action, kw, timeout, self.diag()))
        if line is None:
            raise BrowserError('%s %r: driver.js exited (%s)\n%s' %
                               (action, kw, self.proc.poll(), self.diag()))
        reply = json.loads(line)
        if not reply.get('ok'):
            raise BrowserError('%s %r failed: %s\n%s' %
                               (action, kw, reply.get('error'),
                                self.diag()))
        return reply

    def ask_quit(self):
        try:
            self.proc.stdin.write(b'{"do": "quit"}\n')
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass

    def close(self):
        """Close the browser (quit), then the process as Client does."""
        if self.closed:
            return
        if self.alive():
            try:
                self.quit(15)
            except BrowserError:
                pass
        super().close()

    def closed_more(self):
        try:
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        for t in self.readers:
            t.join(2)
