#!/usr/bin/env python3
"""Overload (RFC 6357) against the real binary: requests that waited in
the UDP socket's queue longer than --overload-lag. Herald is stopped
(SIGSTOP) while they arrive, so their lag is the stall: past twice the
lag every new request gets a stateless 503 with Retry-After at once
(between once and twice, a share rising with the lag), while what
finishes work already started goes ahead (a copy of an answered request, the
second half of a challenge, an in-dialog request, an OPTIONS answered
without a transaction)."""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import metric, metrics  # noqa: E402
from phone import PASSWORD, Phone  # noqa: E402

LAG_MS = 200


class Stalled:
    """Herald stopped for secs around the block's sends: every datagram
    sent inside waits that long in the socket's queue."""

    def __init__(self, herald, secs):
        self.pid = herald.proc.pid
        self.secs = secs

    def __enter__(self):
        os.kill(self.pid, signal.SIGSTOP)
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        left = self.secs - (time.monotonic() - self.t0)
        if left > 0:
            time.sleep(left)
        os.kill(self.pid, signal.SIGCONT)
        return False


def lag_count(text, le=None):
    """The lag histogram's count, or its bucket at le seconds."""
    if le is None:
        return metric(text, 'herald_sip_udp_lag_seconds_count')
    return metric(text, 'herald_sip_udp_lag_seconds_bucket{le="%s"}' % le)


def timestamps_on(test):
    """The kernel turns receive timestamps on a moment after the first
    socket asks for them (deferred work); until then a datagram is
    stamped when it is read, with no lag."""
    c = test.udp()
    test.assertStatus(c.request(test.req('OPTIONS', c)), 200)
    time.sleep(0.2)


class OverloadTest(harness.HeraldTestCase):
    herald_args = ['--overload-lag', str(LAG_MS)]

    def setUp(self):
        super().setUp()
        self.herald.add_user('alice@example.test', PASSWORD)
        self.herald.add_user('bob@example.test', PASSWORD)
        timestamps_on(self)

    def registered(self, user):
        """A phone whose registration is done: its challenge known."""
        p = Phone(self, self.udp(), user=user)
        self.assertStatus(p.register(['<sip:%s@192.0.2.1>' % user], 600),
                          200)
        return p

    def assertShed(self, r):
        self.assertStatus(r, 503)
        ra = r.get('Retry-After')
        self.assertIsNotNone(ra, r)
        self.assertTrue(2 <= int(ra) <= 9, r)

    def test_new_shed_started_kept(self):
        alice = self.registered('alice')
        # an answered request, to send again during the stall
        copy = bytes(alice.request(['<sip:alice@192.0.2.2>'], 600))
        alice.c.send(copy)
        first = alice.c.recv()
        self.assertStatus(first, 200)
        fresh = Phone(self, self.udp(), user='alice')
        dialog = self.udp()
        in_dialog = self.req('SUBSCRIBE', dialog)
        in_dialog.set('To', '<sip:bob@example.test>;tag=gone')
        in_dialog.add('Event', 'presence')
        in_dialog.add('Expires', 600)
        in_dialog.add('Contact', '<sip:alice@192.0.2.1>')
        ping = self.udp()
        # past twice the lag every new request is shed
        with Stalled(self.herald, 2.5 * LAG_MS / 1000):
            fresh.c.send(bytes(fresh.request(['<sip:alice@192.0.2.3>'],
                                             600)))
            alice.c.send(copy)
            dialog.send(bytes(in_dialog))
            ping.send(bytes(self.req('OPTIONS', ping)))
        # new work: shed at once
        self.assertShed(fresh.c.recv())
        # a copy of an answered request: its answer again
        again = alice.c.recv()
        self.assertIsNotNone(again)
        self.assertEqual(again.raw, first.raw)
        # in a dialog (one Herald does not know: 481, not 503)
        self.assertStatus(dialog.recv(), 481)
        # answered without a transaction: as cheap as a 503, and true
        self.assertStatus(ping.recv(), 200)
        m = metrics(self.herald)
        self.assertEqual(metric(m, 'herald_sip_overload_shed_total'), 1)
        # the four sent in the stall waited longer than the lag
        self.assertGreaterEqual(lag_count(m) - lag_count(m, '0.2'), 4, m)
        self.herald.wait_log("sip: overload: waited ")
        self.assertRegex(self.herald.log_text(),
                         r'503 Service Unavailable to REGISTER .*sip: '
                         r'overload: waited \d+ ms in the socket\'s queue, '
                         r'over --overload-lag %d ms' % LAG_MS)
        # the stall over, new work is served again
        self.assertStatus(fresh.register(['<sip:alice@192.0.2.3>'], 600),
                          200)

    def test_credentials_kept_under_twice_the_lag(self):
        bob = self.registered('bob')
        with Stalled(self.herald, 1.5 * LAG_MS / 1000):
            bob.c.send(bytes(bob.request(['<sip:bob@192.0.2.4>'], 600)))
        # the challenge's second half
        self.assertStatus(bob.c.recv(), 200)
        m = metrics(self.herald)
        self.assertEqual(metric(m, 'herald_sip_overload_shed_total'), 0)

    def test_credentials_shed_past_three_times_the_lag(self):
        bob = self.registered('bob')
        with Stalled(self.herald, 4 * LAG_MS / 1000):
            bob.c.send(bytes(bob.request(['<sip:bob@192.0.2.4>'], 600)))
        self.assertShed(bob.c.recv())
        m = metrics(self.herald)
        self.assertEqual(metric(m, 'herald_sip_overload_shed_total'), 1)

    def test_share_rises_with_the_lag(self):
        # at 1.5 times the lag about half of the new requests are shed,
        # not all of them: the queue is not emptied in one sweep
        c = self.udp()
        n = 20
        with Stalled(self.herald, 1.5 * LAG_MS / 1000):
            for _ in range(n):
                c.send(bytes(Phone(self, c).request(['<sip:a@192.0.2.1>'])))
        got = [c.recv() for _ in range(n)]
        codes = sorted(r.status for r in got if r is not None)
        self.assertEqual(len(codes), n, codes)
        self.assertEqual(set(codes), {401, 503}, codes)
        self.assertTrue(n // 4 <= codes.count(503) <= 3 * n // 4, codes)


def udp_drops(port):
    """The kernel's count of datagrams dropped for 127.0.0.1:port's full
    receive queue (/proc/net/udp)."""
    with open('/proc/net/udp') as f:
        next(f)
        for line in f:
            v = line.split()
            if v[1] == '0100007F:%04X' % port:
                return int(v[-1])
    raise AssertionError('no UDP socket on 127.0.0.1:%d' % port)


class QueueFullTest(harness.HeraldTestCase):
    """A socket's queue over half full: new requests are shed whatever
    their lag (a small net.core.rmem_max, a high rate: the kernel would
    drop them first). The lag limit is set far out of reach."""
    herald_args = ['--overload-lag', '10000']

    def test_shed_while_queue_over_half_full(self):
        c = self.udp()
        # OPTIONS is never shed: padded, they fill the queue behind the
        # REGISTER until the kernel drops some
        pad = self.req('OPTIONS', c)
        pad.add('X-Pad', 'x' * 1200)
        pad = bytes(pad)
        with Stalled(self.herald, 0):
            drops = udp_drops(self.herald.port)
            c.send(bytes(Phone(self, c).request(['<sip:a@192.0.2.1>'])))
            for _ in range(40):
                for _ in range(250):
                    c.send(pad)
                if udp_drops(self.herald.port) > drops:
                    break
            self.assertGreater(udp_drops(self.herald.port), drops,
                               'the queue never filled')
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = c.recv()
            self.assertIsNotNone(r, 'no answer to the REGISTER')
            if r.get('CSeq').endswith('REGISTER'):
                break
        self.assertShed503(r)
        self.herald.wait_log("sip: overload: the socket's queue over half "
                             "full (waited ")
        m = metrics(self.herald)
        self.assertEqual(metric(m, 'herald_sip_overload_shed_total'), 1)

    def assertShed503(self, r):
        self.assertStatus(r, 503)
        self.assertIsNotNone(r.get('Retry-After'), r)


class OverloadOffTest(harness.HeraldTestCase):
    herald_args = ['--overload-lag', '0']

    def test_off(self):
        timestamps_on(self)
        c = self.udp()
        with Stalled(self.herald, 0.4):
            c.send(bytes(Phone(self, c).request(['<sip:a@192.0.2.1>'])))
        self.assertStatus(c.recv(), 401)
        m = metrics(self.herald)
        self.assertEqual(metric(m, 'herald_sip_overload_shed_total'), 0)
        # the lag is still measured
        self.assertGreaterEqual(lag_count(m) - lag_count(m, '0.2'), 1, m)


if __name__ == '__main__':
    unittest.main()
