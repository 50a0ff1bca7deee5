#!/usr/bin/env python3
"""The admin API under hostile and unlucky clients (admin/conn.c,
admin/http.c), against a real herald.

Clients that send their request one byte a second, more of them than the
admin takes connections: /health still answers, promptly (its latency is
measured and bounded), and each slow connection is closed once its
request has not arrived within --admin-request-timeout, however steadily
it trickles. A request with a body announced large and no token (or a
wrong one) gets 401 at once, before its body is read; with the token, a
body announced above the limit gets 413 as promptly, and no 100
Continue. A JSON body that names a key twice gets 400 saying so, and
changes nothing."""

import os
import select
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from adminapi import AdminCase, query  # noqa: E402

DEADLINE = 3        # --admin-request-timeout in these tests, seconds
SLACK = 2.0         # the reaper's delay, a loaded machine, ASan
HEALTH_BOUND = 1.5  # seconds /health may take while slow clients wait
PROMPT = 2.0        # seconds an early answer may take


def admin_addr(herald):
    u = urllib.parse.urlsplit(herald.admin_url)
    return u.hostname, u.port


class Trickle:
    """n connections, each sending one more byte of a request that never
    ends every `every` seconds; closed[i] is the monotonic time the server
    closed connection i (None while open)."""

    HEAD = b'GET /v1/subscriptions HTTP/1.1\r\nHost: x\r\nX-Slow: '

    def __init__(self, addr, n, every=1.0):
        self.every = every
        self.socks = []
        self.opened = []
        for _ in range(n):
            s = socket.create_connection(addr, timeout=5)
            s.setblocking(False)
            self.socks.append(s)
            self.opened.append(time.monotonic())
        self.closed = [None] * n
        self.sent = [0] * n
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _byte(self, i):
        k = self.sent[i]
        return self.HEAD[k:k + 1] if k < len(self.HEAD) else b'a'

    def _send(self, i):
        try:
            self.socks[i].send(self._byte(i))
            self.sent[i] += 1
        except BlockingIOError:
            pass
        except OSError:
            self._closed(i)

    def _closed(self, i):
        if self.closed[i] is None:
            self.closed[i] = time.monotonic()

    def _watch(self, timeout):
        """Note the connections the server closed (EOF or reset)."""
        live = [s for i, s in enumerate(self.socks)
                if self.closed[i] is None]
        if not live:
            time.sleep(timeout)
            return
        ready, _, _ = select.select(live, [], [], timeout)
        for s in ready:
            i = self.socks.index(s)
            try:
                if s.recv(4096) == b'':
                    self._closed(i)
            except BlockingIOError:
                pass
            except OSError:
                self._closed(i)

    def _run(self):
        next_drip = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_drip:
                for i in range(len(self.socks)):
                    if self.closed[i] is None:
                        self._send(i)
                next_drip = now + self.every
            self._watch(min(0.05, max(0.0, next_drip - now)))

    def all_closed(self):
        return all(t is not None for t in self.closed)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


class SlowClientsTest(AdminCase):

    herald_args = ['--admin-request-timeout', str(DEADLINE)]

    def trickle(self, n):
        t = Trickle(admin_addr(self.herald), n)
        self.addCleanup(t.close)
        return t

    def health_latency(self):
        t0 = time.monotonic()
        r = self.api('GET', '/health', token=None)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        return took

    def test_health_answers_while_slow_clients_hold_every_place(self):
        """80 clients trickling one byte a second, more than the 64
        places: /health answers within HEALTH_BOUND all along, and every
        slow connection is closed, the last one within the deadline of
        its acceptance (plus slack)."""
        t = self.trickle(80)
        lat = []
        until = time.monotonic() + DEADLINE - 0.5
        while time.monotonic() < until:
            lat.append(self.health_latency())
            time.sleep(0.2)
        print('\n/health under 80 slow clients: %d probes, max %.3f s, '
              'median %.3f s' % (len(lat), max(lat),
                                 sorted(lat)[len(lat) // 2]),
              file=sys.stderr)
        self.assertLess(max(lat), HEALTH_BOUND, lat)
        # none of them lasts: each is cut within the deadline of its
        # acceptance, the last accepted by the time the others left
        end = t.opened[-1] + DEADLINE + SLACK
        while not t.all_closed() and time.monotonic() < end:
            time.sleep(0.1)
        self.assertTrue(t.all_closed(), '%d slow connections still open' %
                        sum(c is None for c in t.closed))
        self.assertEqual(self.api('GET', '/health').status, 200)

    def test_a_trickle_is_cut_at_the_deadline(self):
        """A few slow clients, well below the limit: each is closed once
        its request has not arrived within the deadline, not before, and
        not later than SLACK after, though it never stops sending (an
        idle timeout alone would never fire)."""
        t = self.trickle(4)
        end = t.opened[-1] + DEADLINE + SLACK
        while not t.all_closed() and time.monotonic() < end:
            time.sleep(0.1)
        self.assertTrue(t.all_closed(), t.closed)
        for opened, closed in zip(t.opened, t.closed):
            self.assertGreaterEqual(closed - opened, DEADLINE - 0.1)
            self.assertLess(closed - opened, DEADLINE + SLACK)
        # each had sent more than one byte: it was never idle
        self.assertTrue(all(n >= DEADLINE for n in t.sent), t.sent)

    def test_an_idle_keep_alive_is_cut_too(self):
        """A connection kept alive after an answer has the deadline for
        its next request afresh."""
        s = socket.create_connection(admin_addr(self.herald), timeout=5)
        self.addCleanup(s.close)
        s.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
        got = recv_answer(s)
        self.assertTrue(got.startswith(b'HTTP/1.1 200'), got)
        t0 = time.monotonic()
        s.settimeout(DEADLINE + SLACK)
        try:
            rest = s.recv(4096)
        except ConnectionResetError:
            rest = b''
        self.assertEqual(rest, b'')
        self.assertGreaterEqual(time.monotonic() - t0, DEADLINE - 0.1)


def recv_answer(s, timeout=PROMPT):
    """Bytes of one HTTP answer (headers and a Content-Length body) read
    within timeout; what came by then."""
    s.settimeout(timeout)
    data = b''
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        head, sep, body = data.partition(b'\r\n\r\n')
        if sep:
            n = 0
            for line in head.split(b'\r\n')[1:]:
                k, _, v = line.partition(b':')
                if k.strip().lower() == b'content-length':
                    n = int(v)
            if len(body) >= n:
                return data
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


class EarlyAnswerTest(AdminCase):

    def raw(self, head, body=b''):
        """Send head (and a little body); the answer and the seconds it
        took."""
        s = socket.create_connection(admin_addr(self.herald), timeout=5)
        self.addCleanup(s.close)
        t0 = time.monotonic()
        s.sendall(head + body)
        got = recv_answer(s)
        return got, time.monotonic() - t0

    def big_post(self, auth=None, expect=False):
        h = (b'POST /v1/users HTTP/1.1\r\nHost: x\r\n'
             b'Content-Type: application/json\r\n'
             b'Content-Length: 10000000\r\n')
        if auth:
            h += b'Authorization: ' + auth.encode() + b'\r\n'
        if expect:
            h += b'Expect: 100-continue\r\n'
        return h + b'\r\n'

    def test_401_before_the_body(self):
        for what, auth in [('no token', None),
                           ('wrong token', 'Bearer wrong-token-0123456789'),
                           ('Basic', 'Basic ' + harness.ADMIN_TOKEN)]:
            with self.subTest(what=what):
                got, took = self.raw(self.big_post(auth), b'{"user": "a')
                self.assertTrue(got.startswith(b'HTTP/1.1 401 '), got)
                self.assertIn(b'WWW-Authenticate: Bearer', got)
                self.assertIn(b'application/problem+json', got)
                self.assertLess(took, PROMPT)
        # with Expect: 100-continue, no 100 and the same 401
        got, took = self.raw(self.big_post(expect=True))
        self.assertTrue(got.startswith(b'HTTP/1.1 401 '), got)
        self.assertNotIn(b'100 Continue', got)

    def test_413_before_the_body(self):
        auth = 'Bearer ' + harness.ADMIN_TOKEN
        for expect in (False, True):
            with self.subTest(expect=expect):
                got, took = self.raw(self.big_post(auth, expect),
                                     b'' if expect else b'{"user": "a')
                self.assertTrue(got.startswith(b'HTTP/1.1 413 '), got)
                self.assertNotIn(b'100 Continue', got)
                self.assertLess(took, PROMPT)
        self.assertEqual(self.api('GET', '/health').status, 200)


class DuplicateKeysTest(AdminCase):

    def assertDuplicate(self, r):
        j = self.assertProblem(r, 400)
        self.assertIn('duplicate', j.get('detail', ''), r)

    def test_users(self):
        """A key twice, the last naming another user, changes no one."""
        before = query(self.herald.db, 'SELECT username, ha1_md5 FROM '
                       'users ORDER BY username')
        self.assertDuplicate(self.api('POST', '/v1/users', body=(
            b'{"user": "alice@example.test", "password": "x", '
            b'"user": "bob@example.test"}')))
        self.assertDuplicate(self.api('POST', '/v1/users', body=(
            b'{"user": "carol@example.test", "password": "x", '
            b'"password": "y"}')))
        self.assertDuplicate(self.api(
            'PATCH', '/v1/users/alice@example.test',
            body=b'{"password": "x", "password": "y"}'))
        after = query(self.herald.db, 'SELECT username, ha1_md5 FROM '
                      'users ORDER BY username')
        self.assertEqual(after, before)

    def test_rules(self):
        path = '/v1/presentities/alice@example.test/rules/bob@example.test'
        self.assertDuplicate(self.api(
            'PUT', path, body=b'{"action": "allow", "action": "block"}'))
        j = self.get_json('/v1/presentities/alice@example.test/rules')
        self.assertEqual(j['items'], [], j)


if __name__ == '__main__':
    harness.main()
