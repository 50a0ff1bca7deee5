#!/usr/bin/env python3
"""herald-bench's register-overload: RFC 3261 UDP clients at an offered rate.

Against Herald: a brief run at a low rate completes every op it started
(goodput about the offered rate), none failed, none left in flight.
Against a fake UDP server written here, which sees every datagram and
when it came: a request not answered is sent again on Timer E (T1, 2 T1,
4 T1, then T2 = 8 T1; T2 straight after a 100 Trying) and, never
answered, the op fails at Timer F (64 T1); the 401 is answered with a
new transaction; a 503 fails its op and is counted, Retry-After apart.
The fake server runs with a short T1 (--t1 50: Timer F is 3.2 s), and
one op with the default T1 of 500 ms."""

import os
import re
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchrun  # noqa: E402
import harness  # noqa: E402
from benchrun import counter, start_herald  # noqa: E402

USERS = 30
BENCH_TIMEOUT = 90


def run_bench(*args):
    """herald-bench --scenario register-overload ARGS -v."""
    return benchrun.run_bench('--scenario', 'register-overload', *args,
                              timeout=BENCH_TIMEOUT)


class OverloadOverHerald(harness.HeraldTestCase):
    """Herald (UDP) with users u1..uUSERS."""
    autostart = False

    def setUp(self):
        super().setUp()
        self.herald = start_herald(self, USERS)

    def test_low_rate(self):
        rc, s, err, _ = run_bench('--target', 'udp:127.0.0.1:%d'
                                  % self.herald.port, '--rate', 40,
                                  '--duration', 2, '--users', USERS)
        msg = 'summary %s\nstderr:\n%s\nherald:\n%s' % (
            s, err, self.herald.log_text(tail=3000))
        self.assertEqual(rc, 0, msg)
        self.assertEqual(s.get('transport'), 'udp', msg)
        self.assertEqual(s.get('offered/s'), '40', msg)
        started = int(s['started'])
        self.assertGreaterEqual(started, 78, msg)
        self.assertLessEqual(started, 81, msg)
        # every op started got its 200: goodput is the offered rate
        self.assertEqual(int(s['ops']), started, msg)
        self.assertGreater(float(s['goodput/s']), 40 * 0.8, msg)
        self.assertLessEqual(float(s['goodput/s']), 40 * 1.05, msg)
        for k in ('failures', '503s', 'in_flight_end'):
            self.assertEqual(s.get(k), '0', '%s: %s' % (k, msg))
        self.assertEqual(s.get('failed%'), '0.00', msg)
        self.assertEqual(s.get('window_full'), 'no', msg)
        self.assertEqual(s.get('t1'), '500ms', msg)
        self.assertEqual(counter(err, 'timeouts'), 0, msg)


# ---------------------------------------------------------------------------
# a fake UDP registrar: scripted per transaction (top Via branch)

def header(msg, name):
    m = re.search(rb'\r\n' + name.encode() + rb':[ \t]*([^\r\n]*)', msg,
                  re.I)
    return m.group(1).decode() if m else None


def response(req, code, reason, extra=()):
    lines = ['SIP/2.0 %d %s' % (code, reason)]
    for name in ('Via', 'From', 'To', 'Call-ID', 'CSeq'):
        v = header(req, name)
        if name == 'To':
            v += ';tag=fake'
        lines.append('%s: %s' % (name, v))
    lines += list(extra)
    lines += ['Content-Length: 0', '', '']
    return '\r\n'.join(lines).encode()


CHALLENGE = ('WWW-Authenticate: Digest realm="example.test", '
             'nonce="n0nce", algorithm=MD5, qop="auth"')


SO_TIMESTAMPNS = 35   # Linux, asm-generic/socket.h
TIMESPEC = struct.Struct('@qq')


class FakeRegistrar:
    """Each datagram: seen[branch] gets its arrival time; answer(req,
    copy) (copy: 1 for the first) says what to send back: a list of
    datagrams, empty to drop it."""

    def __init__(self, answer):
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # arrival times from the kernel: this thread may read a datagram
        # late on a loaded machine, which would shorten the gap after it
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen = {}
        self.order = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                data, anc, _, peer = self.sock.recvmsg(
                    65536, socket.CMSG_SPACE(TIMESPEC.size))
            except socket.timeout:
                continue
            now = time.time()
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = TIMESPEC.unpack(value[:TIMESPEC.size])
                    now = sec + nsec / 1e9
            via = header(data, 'Via') or ''
            branch = re.search(r'branch=([^;\s]+)', via).group(1)
            if branch not in self.seen:
                self.seen[branch] = []
                self.order.append(branch)
            self.seen[branch].append(now)
            for out in self.answer(data, len(self.seen[branch])):
                self.sock.sendto(out, peer)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()

    def gaps_ms(self, branch):
        t = self.seen[branch]
        return [(b - a) * 1000 for a, b in zip(t, t[1:])]


def final(req):
    """401 to CSeq 1, 200 to the REGISTER with credentials."""
    if header(req, 'CSeq').startswith('1 '):
        return response(req, 401, 'Unauthorized', [CHALLENGE])
    return response(req, 200, 'OK', ['Contact: ' + header(req, 'Contact')
                                     + ';expires=3600'])


class FakeServerTest(unittest.TestCase):

    def serve(self, answer):
        srv = FakeRegistrar(answer)
        self.addCleanup(srv.close)
        return srv

    def bench(self, srv, *extra):
        """herald-bench against srv: rc, summary, stderr, wall time and
        a message for the assertions that shows them with what srv saw."""
        rc, s, err, wall = run_bench('--target',
                                     'udp:127.0.0.1:%d' % srv.port,
                                     '--users', 3, *extra)
        msg = 'summary %s\nstderr:\n%s\nseen %s' % (s, err, srv.seen)
        return rc, s, err, wall, msg

    def assertGaps(self, gaps, want, msg):
        """Each gap about its wanted interval: not early by more than
        a fifth and 15 ms, and late by at most 60 ms plus a fifth (a
        loaded machine, a sanitizer build). The arrival times are the
        kernel's; the generator arms Timer E when it makes a request and
        sends it at the end of its loop's turn, which a loaded machine
        can delay by some ms (seen: 14), shortening the gap after it."""
        self.assertEqual(len(gaps), len(want), msg)
        for g, w in zip(gaps, want):
            self.assertGreaterEqual(g, w * 0.8 - 15, msg)
            self.assertLessEqual(g, w * 1.2 + 60, msg)

    def test_retransmit_until_answered(self):
        # the first two copies of each request are dropped
        srv = self.serve(lambda req, n: [final(req)] if n >= 3 else [])
        rc, s, err, _, msg = self.bench(srv, '--t1', 50, '--rate', 5,
                                        '--duration', 1)
        self.assertEqual(rc, 0, msg)
        ops = int(s['ops'])
        self.assertGreaterEqual(ops, 4, msg)
        self.assertEqual(int(s['started']), ops, msg)
        self.assertEqual(s.get('failures'), '0', msg)
        self.assertEqual(s.get('in_flight_end'), '0', msg)
        # two transactions per op (REGISTER, then with credentials),
        # each sent three times: T1 and 2 T1 apart
        self.assertEqual(len(srv.seen), 2 * ops, msg)
        self.assertEqual(int(s['retransmits']), 4 * ops, msg)
        for branch in srv.order:
            self.assertGaps(srv.gaps_ms(branch), [50, 100],
                            '%s: %s' % (branch, msg))
        # 150 ms after the first copy at least, twice over (less the
        # histogram's 1/128)
        self.assertGreaterEqual(float(s['p50'].rstrip('ms')), 295, msg)

    def test_default_t1(self):
        # T1 500 ms: copies 500 ms, then 1 s apart
        srv = self.serve(lambda req, n: [final(req)] if n >= 3 else [])
        rc, s, err, _, msg = self.bench(srv, '--rate', 1, '--ops', 1,
                                        '--duration', 1)
        self.assertEqual(rc, 0, msg)
        self.assertEqual(s.get('ops'), '1', msg)
        self.assertEqual(s.get('retransmits'), '4', msg)
        self.assertEqual(len(srv.order), 2, msg)
        for branch in srv.order:
            self.assertGaps(srv.gaps_ms(branch), [500, 1000],
                            '%s: %s' % (branch, msg))

    def test_never_answered_fails_at_timer_f(self):
        srv = self.serve(lambda req, n: [])
        rc, s, err, wall, msg = self.bench(srv, '--t1', 50, '--rate', 1,
                                           '--ops', 1, '--duration', 1)
        self.assertEqual(rc, 1, msg)       # nothing succeeded
        self.assertEqual(s.get('ops'), '0', msg)
        self.assertEqual(s.get('failures'), '1', msg)
        self.assertEqual(s.get('failed%'), '100.00', msg)
        self.assertEqual(s.get('in_flight_end'), '0', msg)
        self.assertEqual(counter(err, 'timeouts'), 1, msg)
        self.assertEqual(len(srv.order), 1, msg)
        t = srv.seen[srv.order[0]]
        # Timer E: 50, 100, 200, then T2 = 400 ms, until Timer F at
        # 3.2 s: copies at 0, 50, 150, 350, 750, 1150 ... 3150 ms
        gaps = srv.gaps_ms(srv.order[0])
        self.assertGreaterEqual(len(gaps), 8, msg)
        self.assertLessEqual(len(gaps), 10, msg)
        self.assertEqual(int(s['retransmits']), len(gaps), msg)
        self.assertGaps(gaps[:4], [50, 100, 200, 400], msg)
        for g in gaps[4:]:
            self.assertGaps([g], [400], msg)
        self.assertLess(t[-1] - t[0], 3.2, msg)
        # the op ends at Timer F, not before
        self.assertGreaterEqual(wall, 3.2, msg)
        self.assertLess(wall, 3.2 + 3, msg)

    def test_provisional_then_t2(self):
        # a 100 to the first copy: Timer E fires once more at T1, then
        # at T2 (RFC 3261 17.1.2.2); the third copy is answered
        def answer(req, n):
            if n == 1:
                return [response(req, 100, 'Trying')]
            return [final(req)] if n >= 3 else []
        srv = self.serve(answer)
        rc, s, err, _, msg = self.bench(srv, '--t1', 50, '--rate', 1,
                                        '--ops', 1, '--duration', 1)
        self.assertEqual(rc, 0, msg)
        self.assertEqual(s.get('ops'), '1', msg)
        for branch in srv.order:
            self.assertGaps(srv.gaps_ms(branch), [50, 400],
                            '%s: %s' % (branch, msg))

    def test_503_fails(self):
        # even ops get Retry-After, odd ones none; nothing is sent again
        def answer(req, n):
            k = int(re.search(r'<sip:u(\d+)@', header(req, 'Contact'))
                    .group(1))
            extra = ['Retry-After: 5'] if k % 2 == 0 else []
            return [response(req, 503, 'Service Unavailable', extra)]
        srv = self.serve(answer)
        rc, s, err, _, msg = self.bench(srv, '--t1', 50, '--rate', 20,
                                        '--ops', 4, '--duration', 1,
                                        '--users', 4)
        self.assertEqual(rc, 1, msg)
        self.assertEqual(s.get('ops'), '0', msg)
        self.assertEqual(s.get('failures'), '4', msg)
        self.assertEqual(s.get('503s'), '4', msg)
        self.assertEqual(s.get('503s_retry_after'), '2', msg)
        self.assertEqual(s.get('retransmits'), '0', msg)
        self.assertEqual(len(srv.order), 4, msg)


if __name__ == '__main__':
    harness.main()
