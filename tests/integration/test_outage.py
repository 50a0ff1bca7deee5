#!/usr/bin/env python3
"""PostgreSQL goes away during a run: a REGISTER that cannot be stored gets
503 with Retry-After after --store-wait, herald stays up and answers
OPTIONS, registers again once PostgreSQL is back, keeps what it
acknowledged and nothing it refused, across a kill -9 as well.

Runs its own PostgreSQL cluster (script/pg in a temporary directory), never
the shared one, since it stops and starts it."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from phone import PASSWORD, Phone, contacts_of  # noqa: E402

STORE_WAIT_MS = 1500
A = 'sip:alice@192.0.2.1:5060'      # acknowledged before the outage
B = 'sip:alice@192.0.2.2:5060'      # refused with 503 during it
C = 'sip:alice@192.0.2.3:5060'      # acknowledged after it


class Cluster:
    """A private PostgreSQL cluster managed with script/pg."""

    def __init__(self):
        # under /tmp: the server runs as postgres when we are root
        self.dir = tempfile.mkdtemp(prefix='herald-outage-pg-', dir='/tmp')
        self.url = None

    def start(self):
        out = subprocess.run([harness.PG_SCRIPT, 'start', self.dir],
                             check=True, stdout=subprocess.PIPE, text=True)
        self.url = out.stdout.strip().splitlines()[-1]
        return self.url

    def stop(self):
        subprocess.run([harness.PG_SCRIPT, 'stop', self.dir], check=True,
                       stdout=subprocess.DEVNULL)

    def port(self):
        with open(os.path.join(self.dir, 'herald.port')) as f:
            return f.read().strip()

    def destroy(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class OutageTest(harness.HeraldTestCase):
    autostart = False

    def setUp(self):
        super().setUp()
        self.pg = Cluster()
        # registered before herald's own cleanup: runs after herald stopped
        self.addCleanup(self.pg.destroy)
        url = self.pg.start()
        harness.psql(url, 'CREATE DATABASE herald_outage')
        self.db = harness.db_url(url, 'herald_outage')

    def phone(self, h):
        return Phone(self, self.udp(h))

    def register(self, p, contacts, expires=600, timeout=5.0):
        """One authenticated REGISTER (the phone holds a challenge);
        return (response, seconds it took)."""
        req = p.request(contacts, expires)
        t0 = time.monotonic()
        r = p.c.request(req, timeout=timeout)
        return r, time.monotonic() - t0

    def query(self, h):
        p = self.phone(h)
        r = p.register([])
        self.assertStatus(r, 200)
        return contacts_of(r)

    def call_alice(self, h):
        """An INVITE for alice, ACKed: (status, first Contact's URI)."""
        c = self.udp(h)
        inv = self.req('INVITE', c, ruri='sip:alice@example.test')
        inv.set('To', '<sip:alice@example.test>')
        r = c.request(inv)
        self.assertIsNotNone(r, 'no answer to the INVITE')
        c.send(harness.ack_request(inv, r))
        m = re.match(r'\s*<([^>]*)>', r.get('Contact') or '')
        return r.status, m.group(1) if m else None

    def test_outage_and_recovery(self):
        h = self.start_herald(['--store-wait', str(STORE_WAIT_MS)],
                              db=self.db)
        h.add_user('alice@example.test', PASSWORD)
        p = self.phone(h)
        r = p.register(['<%s>' % A], 600)
        self.assertStatus(r, 200)
        self.assertEqual(set(contacts_of(r)), {A})

        # PostgreSQL goes away
        port = self.pg.port()
        self.pg.stop()
        # the redirect server answers from memory: a call still finds
        # alice where she registered
        self.assertEqual(self.call_alice(h), (302, A))
        r, took = self.register(p, ['<%s>' % B])
        self.assertStatus(r, 503)
        retry = r.get('Retry-After')
        self.assertIsNotNone(retry, 'no Retry-After in the 503:\n%s' % r)
        self.assertRegex(retry, r'^\d+', r)
        self.assertGreater(int(re.match(r'\d+', retry).group(0)), 0, r)
        self.assertGreaterEqual(took, STORE_WAIT_MS / 1000.0 - 0.3,
                                '503 came before --store-wait:\n%s' % r)
        self.assertLess(took, STORE_WAIT_MS / 1000.0 + 2.0,
                        '503 came long after --store-wait')
        # the 503 is logged with its cause (herald writes the line before
        # the 503; the harness reads its output a moment later)
        h.wait_log('registrar: storing the change: ')
        self.assertRegex(h.log_text(), r'warn +sip +503 Service Unavailable '
                         r'to REGISTER from .*: registrar: storing the '
                         r'change: .*\(ETIMEDOUT\)')
        # every reconnect attempt fails alike: said once an interval
        # (10 s), with libpq's reason, not at every attempt
        self.assertEqual(h.log_text().count('PostgreSQL still away after'),
                         1, h.log_text())
        self.assertRegex(h.log_text(), r'warn +store +PostgreSQL still '
                         r'away after \d+ ms: .*127\.0\.0\.1')
        self.assertAlive(h)

        # PostgreSQL comes back, on the same port
        self.pg.start()
        self.assertEqual(self.pg.port(), port,
                         'PostgreSQL restarted on another port')
        deadline = time.monotonic() + 10
        answers = []
        while True:
            r, _ = self.register(p, ['<%s>' % C])
            self.assertIsNotNone(r, 'no response while PostgreSQL is back')
            answers.append(r.status)
            if r.status == 200:
                break
            self.assertEqual(r.status, 503, r)
            self.assertLess(time.monotonic(), deadline,
                            'no 200 within 10 s of PostgreSQL being back: '
                            '%r' % answers)
            time.sleep(0.5)
        self.assertEqual(set(contacts_of(r)), {A, C},
                         'acknowledged bindings kept, the refused one not')
        self.assertAlive(h)
        # nothing refused shows up later either
        time.sleep(1)
        self.assertEqual(set(self.query(h)), {A, C})
        # herald listens for user changes again on its new connection
        h.add_user('bob@example.test', 'bobpw')
        bob = Phone(self, self.udp(h), user='bob', password='bobpw')
        self.assertStatus(bob.register(['<sip:bob@192.0.2.9>'], 600), 200)

        # kill -9 and restart on the same database
        h.kill()
        h2 = self.start_herald(db=self.db)
        b = self.query(h2)
        self.assertEqual(set(b), {A, C})
        bob = Phone(self, self.udp(h2), user='bob', password='bobpw')
        r = bob.register([])
        self.assertStatus(r, 200)
        self.assertEqual(set(contacts_of(r)), {'sip:bob@192.0.2.9'})
        for uri in (A, C):
            self.assertTrue(500 < b[uri] <= 600, b)

    def test_outage_without_traffic(self):
        """PostgreSQL restarts while herald is idle: the next REGISTER
        works (herald reconnects by itself, at most after one 503)."""
        h = self.start_herald(['--store-wait', str(STORE_WAIT_MS)],
                              db=self.db)
        h.add_user('alice@example.test', PASSWORD)
        p = self.phone(h)
        self.assertStatus(p.register(['<%s>' % A], 600), 200)
        self.assertEqual(self.store_connected(h), 1)
        self.pg.stop()
        # the writer sees its connection close: /metrics says so
        deadline = time.monotonic() + 10
        while self.store_connected(h) != 0:
            self.assertLess(time.monotonic(), deadline,
                            'herald_store_connected never 0')
            time.sleep(0.1)
        self.pg.start()
        deadline = time.monotonic() + 10
        while True:
            r, _ = self.register(p, ['<%s>' % C])
            self.assertIsNotNone(r)
            if r.status == 200:
                break
            self.assertEqual(r.status, 503, r)
            self.assertLess(time.monotonic(), deadline, 'no 200 in 10 s')
            time.sleep(0.5)
        self.assertEqual(set(contacts_of(r)), {A, C})
        self.assertEqual(self.store_connected(h), 1)
        self.assertEqual(harness.metric(harness.metrics(h),
                                        'herald_store_outages_total'), 1)
        self.assertAlive(h)

    def store_connected(self, h):
        return harness.metric(harness.metrics(h), 'herald_store_connected')

    def test_users_changed_while_disconnected(self):
        """Users added and deleted while herald's connection was down are
        right once it is back: the notifications were lost, so herald
        reads every user again (added ones register, deleted ones not)."""
        h = self.start_herald(['--store-wait', str(STORE_WAIT_MS)],
                              db=self.db)
        h.add_user('alice@example.test', PASSWORD)
        h.add_user('bob@example.test', 'bobpw')
        self.pg.stop()
        time.sleep(0.5)
        self.pg.start()
        # quickly, before herald reconnects (its back-off has grown while
        # PostgreSQL was away): these notifications reach nobody
        harness.add_user(self.db, 'carol@example.test', 'carolpw')
        subprocess.run([harness.herald_bin(), 'user', 'del',
                        'bob@example.test', '--database-url', self.db],
                       check=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            # a REGISTER gives herald work, so it reconnects promptly
            r = self.phone(h).register(['<sip:alice@192.0.2.1>'], 600)
            if r is not None and r.status == 200:
                break
            self.assertLess(time.monotonic(), deadline,
                            'not back in 15 s\n' + h.log_text())
            time.sleep(0.3)
        carol = Phone(self, self.udp(h), user='carol', password='carolpw')
        self.assertStatus(carol.register(['<sip:carol@192.0.2.5>'], 600),
                          200)
        bob = Phone(self, self.udp(h), user='bob', password='bobpw')
        self.assertStatus(bob.register(['<sip:bob@192.0.2.6>'], 600), 403)

    def test_sigterm_with_commits_in_flight(self):
        """SIGTERM while a REGISTER waits for a stopped PostgreSQL: herald
        lets the commit fail (--store-wait), answers nothing more, and
        exits 0 with no sanitizer report (the cleanup checks that)."""
        h = self.start_herald(['--store-wait', str(STORE_WAIT_MS)],
                              db=self.db)
        h.add_user('alice@example.test', PASSWORD)
        p = self.phone(h)
        self.assertStatus(p.register(['<%s>' % A], 600), 200)
        self.pg.stop()
        p.c.send(bytes(p.request(['<%s>' % B], 600)))
        time.sleep(0.2)     # the commit is queued, waiting
        t0 = time.monotonic()
        h.check_stop()
        self.assertLess(time.monotonic() - t0, STORE_WAIT_MS / 1000 + 3)

    def test_sigterm_with_an_admin_change_in_flight(self):
        """SIGTERM while an admin rule change waits for a stopped
        PostgreSQL: the change fails (503), herald exits 0 in time (its
        admin thread, waiting for the change, does not hold the stop)."""
        h = self.start_herald(['--store-wait', str(STORE_WAIT_MS)],
                              db=self.db)
        self.pg.stop()
        answer = {}

        def put():
            req = urllib.request.Request(
                h.admin_url + '/v1/aors/alice@example.test/rules/'
                'bob@example.test', data=b'{"action":"allow"}', method='PUT',
                headers={'Authorization': 'Bearer ' + harness.ADMIN_TOKEN,
                         'Content-Type': 'application/json'})
            try:
                with urllib.request.urlopen(req, timeout=20) as r:
                    answer['status'] = r.status
            except urllib.error.HTTPError as e:
                answer['status'] = e.code
            except OSError as e:
                answer['error'] = e
        t = threading.Thread(target=put)
        t.start()
        time.sleep(0.3)     # the change is queued, the handler waits
        t0 = time.monotonic()
        h.check_stop()
        self.assertLess(time.monotonic() - t0, STORE_WAIT_MS / 1000 + 3)
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertEqual(answer.get('status'), 503, answer)

    def test_long_line_behind_a_stopped_database(self):
        """Many REGISTERs for one AOR while PostgreSQL is away wait in
        line, each failing after --store-wait (503), until the 32 s
        transaction guard answers the late ones (500). A request that
        waited is not authenticated again on its turn (that would see
        its own nonce-count as a replay: 403). Every one gets an answer
        and herald stays up."""
        n = 24
        h = self.start_herald(['--store-wait', str(STORE_WAIT_MS)],
                              db=self.db)
        h.add_user('alice@example.test', PASSWORD)
        p = self.phone(h)
        self.assertStatus(p.register(['<%s>' % A], 600), 200)
        self.pg.stop()
        for i in range(n):
            p.c.send(bytes(p.request(['<sip:alice@192.0.2.%d>' % (10 + i)],
                                     600)))
        got = {}
        deadline = time.monotonic() + n * STORE_WAIT_MS / 1000 + 15
        while len(got) < n and time.monotonic() < deadline:
            r = p.c.recv(1.0)
            if r is not None:
                got[r.get('CSeq')] = r.status
        self.assertEqual(len(got), n, got)
        self.assertTrue(set(got.values()) <= {503, 500}, got)
        self.assertIn(500, got.values())     # the guard did answer some
        self.assertAlive(h)



if __name__ == '__main__':
    harness.main()
