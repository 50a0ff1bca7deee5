"""Drive a real JsSIP user agent (npm jssip 3.x in Node, over
jssip-node-websocket) from a test, through interop/jssip/driver.js.

    ensure_installed()                 # npm ci once, when node_modules
                                       # is missing or not the lock's
    a = JsSIPUA(test, 'wss://127.0.0.1:5061', 'alice', 'secret',
                ca=ca.ca_cert)
    a.do({'do': 'register'})           # the registration JsSIP made
    a.do({'do': 'subscribe', 'target': 'sip:bob@example.test'})
    a.wait_event('notify', contains='open')
    a.do({'do': 'publish', 'basic': 'closed', 'note': 'gone'})
    a.stop()                           # ua.stop(), process exits 0

driver.js prints one JSON object a line on stdout for every event
(registered, registrationFailed, publish, accepted, active, notify,
terminated, disconnected, done...); they are kept in .events. Actions
are JSON lines on its stdin. JsSIP's own debug log (DEBUG=JsSIP:*: every
SIP message it sends and receives) goes to stderr and is kept in .lines
for failure messages. Cleanup kills only the process this object
started.
"""

import json
import os
import subprocess
import threading
import time

import npmpkg
from clientproc import WAIT, Client, die_with_parent

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.join(HERE, 'jssip')
DRIVER = os.path.join(PKG, 'driver.js')


def ensure_installed():
    """`npm ci` in interop/jssip unless node_modules already matches the
    lock (npmpkg.py); skips without node or npm."""
    npmpkg.ensure_installed(PKG)


class JsSIPError(AssertionError):
    pass


class JsSIPUA(Client):
    """One driver.js process: one JsSIP UA of one user."""

    Error = JsSIPError

    def __init__(self, test, ws, user, password, domain='example.test',
                 ca=None, cert=None, key=None, timeout=60, extra=None):
        """test: a unittest.TestCase (the process is closed in its
        cleanups). ws: the WebSocket URL (ws:// or wss://). ca: the CA
        file a wss: server is verified against; cert, key: a client
        certificate. timeout: driver.js exits by itself after that many
        seconds. extra: more configuration keys for driver.js."""
        super().__init__()
        self.user = user
        self.aor = 'sip:%s@%s' % (user, domain)
        self.events = []
        self.taken = 0
        cfg = {'ws': ws, 'uri': self.aor, 'password': password,
               'timeout': timeout}
        for k, v in (('ca', ca), ('cert', cert), ('key', key)):
            if v:
                cfg[k] = v
        cfg.update(extra or {})
        env = dict(os.environ, DEBUG='JsSIP:*,jssip-node-websocket*',
                   DEBUG_COLORS='0')
        test.addCleanup(self.close)
        self.proc = subprocess.Popen(
            ['node', DRIVER, json.dumps(cfg)], cwd=PKG, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, preexec_fn=die_with_parent)
        self.started()
        self.out_reader = threading.Thread(target=self._read_events,
                                           daemon=True)
        self.err_reader = threading.Thread(target=self._drain, daemon=True)
        self.out_reader.start()
        self.err_reader.start()

    # -- process output --

    def _read_events(self):
        for raw in iter(self.proc.stdout.readline, b''):
            text = raw.decode('utf-8', 'replace').strip()
            try:
                ev = json.loads(text)
            except ValueError:
                ev = {'event': 'unparsed', 'text': text}
            with self.cond:
                self.events.append(ev)
                self.lines.append('EVENT ' + text)
                self.cond.notify_all()
        self.proc.stdout.close()
        with self.cond:
            self.cond.notify_all()

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b''):
            with self.cond:
                self.lines.append(raw.decode('utf-8', 'replace')
                                  .rstrip('\n'))
        self.proc.stderr.close()

    def diag(self, tail=300):
        return '%s: events %r\n--- JsSIP log ---\n%s' % (
            self.aor, self.event_list(), self.log_text(tail))

    def event_list(self):
        with self.lock:
            return list(self.events)

    # -- actions and events --

    def send(self, action):
        self.proc.stdin.write((json.dumps(action) + '\n').encode())
        self.proc.stdin.flush()

    def wait_event(self, name, contains=None, timeout=WAIT, test=None):
        """The first event called name (whose JSON contains the text,
        and that test accepts) after the last one a wait took."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(self.taken, len(self.events)):
                    ev = self.events[i]
                    if ev.get('event') != name:
                        continue
                    if contains is not None and \
                            contains not in json.dumps(ev):
                        continue
                    if test is not None and not test(ev):
                        continue
                    self.taken = i + 1
                    return ev
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 not self.out_reader.is_alive()):
                    break
                self.cond.wait(min(left, 0.2))
        raise JsSIPError('%s: no %s event%s within %.0f s\n%s' %
                         (self.aor, name, ' with %r' % contains
                          if contains else '', timeout, self.diag()))

    def do(self, action, timeout=WAIT):
        """Send one action and wait until driver.js has done it; the
        events it printed meanwhile. Fails when the action failed."""
        start = len(self.event_list())
        self.send(action)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                evs = self.events[start:]
                end = [ev for ev in evs if ev.get('event') in
                       ('error', 'failed', 'timeout') or
                       (ev.get('event') == 'done' and
                        ev.get('do') == action['do'])]
                left = deadline - time.monotonic()
                if end or left <= 0 or (self.proc.poll() is not None and
                                        not self.out_reader.is_alive()):
                    break
                self.cond.wait(min(left, 0.2))
        if end and end[0].get('event') == 'done' and end[0].get('ok'):
            return evs
        raise JsSIPError('%s: action %r failed or not done within %.0f s'
                         '\n%s' % (self.aor, action, timeout, self.diag()))

    # -- stopping --

    def stop(self, timeout=WAIT):
        """The stop action (un-REGISTER, close the socket); the exit
        status of driver.js."""
        self.do({'do': 'stop'}, timeout)
        self.proc.stdin.close()
        return self.proc.wait(timeout)

    def ask_quit(self):
        try:
            self.send({'do': 'stop'})
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass

    def closed_more(self):
        for f in (self.proc.stdin,):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        self.out_reader.join(2)
        self.err_reader.join(2)
