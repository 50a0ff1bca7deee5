#!/usr/bin/env python3
"""The admin API under hostile and unlucky clients (admin/http.c),
against a real herald.

A request with a body announced large and no token (or a wrong one) gets
401 at once, before its body is read; with the token, a body announced
above the limit gets 413 as promptly, and no 100 Continue. A JSON body
that names a key twice gets 400 saying so, and changes nothing."""

import os
import socket
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_admin import AdminCase, query  # noqa: E402

PROMPT = 2.0        # seconds an early answer may take


def admin_addr(herald):
    u = urllib.parse.urlsplit(herald.admin_url)
    return u.hostname, u.port


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
