#!/usr/bin/env python3
"""herald-bench over TLS, WS and WSS (its tls:, ws: and wss: targets).

Against Herald: brief register and presence-fanout runs at a low rate
complete with ops counted and none failed, over connections Herald saw
as TLS, WS and WSS; a certificate --ca does not vouch for is refused.
Against a fake server written here, which sees every byte: the
WebSocket client asks for the sip subprotocol, masks every frame, answers
a PING with its PONG, puts a response together from two fragments split
across reads, and says goodbye with a CLOSE; Via says TLS, WS or WSS.
The test CA is made by the test (tlsca.py)."""

import atexit
import base64
import hashlib
import os
import re
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchrun  # noqa: E402
import harness  # noqa: E402
import tlsca  # noqa: E402
from adminapi import query  # noqa: E402
from benchrun import counter, start_herald  # noqa: E402

USERS = 30          # u1..u30, password pw
WATCHERS = 10       # presence-fanout: w1..w10 as u2..u11 watch u1
RUN_S = '1.5'       # each run's --duration
BENCH_TIMEOUT = 60  # seconds for one herald-bench run, set-up included

_ca = {}


def cas():
    """Two test CAs for the whole run: Herald's, and another."""
    if 'cas' not in _ca:
        d = tempfile.mkdtemp(prefix='herald-bench-ca-')
        atexit.register(shutil.rmtree, d, True)
        _ca['cas'] = (tlsca.make(os.path.join(d, 'a')),
                      tlsca.make(os.path.join(d, 'b')))
    return _ca['cas']


def run_bench(*args):
    """herald-bench ARGS -v: (exit status, summary as a dict, stderr)."""
    return benchrun.run_bench(*args, timeout=BENCH_TIMEOUT)[:3]


class BenchOverHerald(harness.HeraldTestCase):
    """Herald with tls, ws and wss listeners and users u1..uUSERS."""
    autostart = False

    def setUp(self):
        super().setUp()
        self.ca, self.other_ca = cas()
        self.ports = {t: harness.free_port() for t in ('tls', 'ws', 'wss')}
        args = ['--tls-cert', self.ca.server_cert,
                '--tls-key', self.ca.server_key]
        for t, p in self.ports.items():
            args += ['--sip-listen', '%s:127.0.0.1:%d' % (t, p)]
        self.herald = start_herald(self, USERS, args)

    def bench(self, scenario, tp, *extra, ca=None):
        target = '%s:127.0.0.1:%d' % (tp, self.ports[tp])
        args = ['--scenario', scenario, '--target', target,
                '--duration', RUN_S, '--users', USERS] + list(extra)
        if tp in ('tls', 'wss'):
            args += ['--ca', ca or self.ca.ca_cert]
        return run_bench(*args)

    def assertRan(self, rc, summary, err, count):
        """Exit 0, count above 0, no failure, no timeout, nothing
        unexpected or unreadable."""
        msg = 'summary %s\nstderr:\n%s\nherald:\n%s' % (
            summary, err, self.herald.log_text(tail=3000))
        self.assertEqual(rc, 0, msg)
        self.assertGreater(int(summary.get(count, 0)), 0, msg)
        self.assertEqual(summary.get('failures'), '0', msg)
        for name in ('timeouts', 'bad_status', 'send_fail', 'junk'):
            self.assertEqual(counter(err, name), 0, '%s: %s' % (name, msg))

    def test_register(self):
        for tp in ('tls', 'ws', 'wss'):
            with self.subTest(tp=tp):
                rc, s, err = self.bench('register', tp, '--rate', 40)
                self.assertRan(rc, s, err, 'ops')
                self.assertEqual(s.get('transport'), tp)
                # Herald saw them on that transport's socket
                rows = query(self.herald.db,
                             "SELECT count(*) FROM bindings WHERE "
                             "received LIKE '%s:127.0.0.1:%%'" % tp)
                self.assertGreater(int(rows[0][0]), 0, rows)

    def test_presence_fanout(self):
        for tp in ('tls', 'ws', 'wss'):
            with self.subTest(tp=tp):
                rc, s, err = self.bench('presence-fanout', tp, '--rate', 10,
                                        '--watchers', WATCHERS)
                self.assertRan(rc, s, err, 'notifies')
                self.assertGreater(int(s.get('publishes', 0)), 0, s)
                # every watcher got its NOTIFYs over its connection
                self.assertEqual(s.get('notified'), str(WATCHERS), s)

    def test_certificate_not_vouched_for(self):
        for tp in ('tls', 'wss'):
            with self.subTest(tp=tp):
                rc, s, err = self.bench('options', tp,
                                        ca=self.other_ca.ca_cert)
                self.assertEqual(rc, 1, err)
                self.assertEqual(s, {}, 'no summary expected')
                self.assertIn('certificate not accepted', err)


# ---------------------------------------------------------------------------
# a fake server: one connection, one OPTIONS, scripted answers

WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


class Conn:
    """A server-side connection's bytes, read as needed."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError('the client closed')
        self.buf += data

    def until(self, sep):
        while sep not in self.buf:
            self.fill()
        head, _, self.buf = self.buf.partition(sep)
        return head

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        """(fin, op, masked, payload unmasked) of a client frame."""
        b0, b1 = self.take(2)
        n = b1 & 127
        if n == 126:
            n = struct.unpack('!H', self.take(2))[0]
        elif n == 127:
            n = struct.unpack('!Q', self.take(8))[0]
        key = self.take(4) if b1 & 0x80 else b'\0\0\0\0'
        payload = bytes(c ^ key[i % 4] for i, c in
                        enumerate(self.take(n)))
        return bool(b0 & 0x80), b0 & 15, bool(b1 & 0x80), payload


def server_frame(op, payload, fin=True):
    """A server frame: never masked (RFC 6455 5.1)."""
    b0 = (0x80 if fin else 0) | op
    n = len(payload)
    if n < 126:
        return struct.pack('!BB', b0, n) + payload
    return struct.pack('!BBH', b0, 126, n) + payload


def ok_for(req):
    """A 200 OK to the SIP request req (bytes), with a To-tag."""
    lines = req.decode().split('\r\n')
    keep = [l for l in lines[1:] if l.split(':')[0].strip().lower() in
            ('via', 'from', 'call-id', 'cseq')]
    to = [l + ';tag=fake' for l in lines if l.lower().startswith('to:')]
    return ('\r\n'.join(['SIP/2.0 200 OK'] + keep + to +
                        ['Content-Length: 0', '', ''])).encode()


class FakeServerTest(unittest.TestCase):
    """herald-bench --scenario options --ops 1 against a script."""

    def setUp(self):
        self.ca = cas()[0]
        self.seen = {}
        self.error = None

    def serve(self, script, secure):
        lsock = socket.socket()
        lsock.bind(('127.0.0.1', 0))
        lsock.listen(1)
        self.addCleanup(lsock.close)
        ctx = None
        if secure:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.ca.server_cert, self.ca.server_key)

        def run():
            try:
                s, _ = lsock.accept()
                s.settimeout(10)
                if ctx:
                    s = ctx.wrap_socket(s, server_side=True)
                with s:
                    script(Conn(s))
            except Exception as e:  # told to the test thread
                self.error = e
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.addCleanup(t.join, 10)
        return lsock.getsockname()[1], t

    def ws_script(self, c):
        head = c.until(b'\r\n\r\n').decode()
        self.seen['upgrade'] = head + '\r\n'
        key = re.search(r'(?im)^Sec-WebSocket-Key:\s*(\S+)', head).group(1)
        accept = base64.b64encode(hashlib.sha1(
            (key + WS_GUID).encode()).digest()).decode()
        c.sock.sendall(('HTTP/1.1 101 Switching Protocols\r\n'
                        'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                        'Sec-WebSocket-Accept: %s\r\n'
                        'Sec-WebSocket-Protocol: sip\r\n\r\n' %
                        accept).encode())
        self.seen['request'] = req = c.frame()
        c.sock.sendall(server_frame(9, b'are you there'))
        self.seen['pong'] = c.frame()
        resp = ok_for(req[3])
        half = len(resp) // 2
        # the first fragment's header split across two reads, the
        # message across two frames
        first = server_frame(1, resp[:half], fin=False)
        c.sock.sendall(first[:1])
        time.sleep(0.1)
        c.sock.sendall(first[1:])
        time.sleep(0.1)
        c.sock.sendall(server_frame(0, resp[half:]))
        self.seen['bye'] = c.frame()

    def tls_script(self, c):
        req = c.until(b'\r\n\r\n') + b'\r\n\r\n'
        self.seen['request'] = req
        resp = ok_for(req)
        c.sock.sendall(resp[:20])
        time.sleep(0.1)
        c.sock.sendall(resp[20:])
        try:
            c.fill()
        except (EOFError, OSError):
            pass

    def run_against(self, tp, script, secure):
        port, t = self.serve(script, secure)
        args = ['--scenario', 'options', '--ops', 1, '--duration', 5,
                '--target', '%s:127.0.0.1:%d' % (tp, port)]
        if secure:
            args += ['--ca', self.ca.ca_cert]
        rc, s, err = run_bench(*args)
        t.join(10)
        self.assertIsNone(self.error, 'fake server: %r' % self.error)
        self.assertEqual(rc, 0, err)
        self.assertEqual(s.get('ops'), '1', err)
        return err

    def check_ws(self, via):
        up = self.seen['upgrade']
        self.assertRegex(up, r'^GET / HTTP/1\.1\r\n')
        self.assertRegex(up, r'(?i)\r\nSec-WebSocket-Protocol:[ \t]*sip\r\n')
        self.assertRegex(up, r'(?i)\r\nSec-WebSocket-Version:[ \t]*13\r\n')
        fin, op, masked, payload = self.seen['request']
        self.assertEqual((fin, op, masked), (True, 1, True))
        self.assertIn(b'\r\nVia: SIP/2.0/%s 127.0.0.1:' % via, payload)
        # RFC 6455 5.5.3: the PONG carries the PING's payload, masked
        self.assertEqual(self.seen['pong'], (True, 10, True,
                                             b'are you there'))
        fin, op, masked, payload = self.seen['bye']
        self.assertEqual((fin, op, masked, payload[:2]),
                         (True, 8, True, b'\x03\xe8'))

    def test_ws(self):
        self.run_against('ws', self.ws_script, False)
        self.check_ws(b'WS')

    def test_wss(self):
        self.run_against('wss', self.ws_script, True)
        self.check_ws(b'WSS')

    def test_tls(self):
        self.run_against('tls', self.tls_script, True)
        self.assertIn(b'\r\nVia: SIP/2.0/TLS 127.0.0.1:',
                      self.seen['request'])


if __name__ == '__main__':
    harness.main()
