#!/usr/bin/env python3
"""Memory after a burst (issue 20): Herald gives back what a burst of UDP
transactions held once they have expired.

Over UDP each completed server transaction is kept for Timer J (64*T1 =
32 s) with its response. A burst of them grows Herald's VmRSS by
about a kilobyte each; taken from malloc, they were freed into holes
among what outlived them (nonces, the journal's events), glibc kept
those pages (malloc_trim did not help: few whole pages were free) and
RSS stayed at the peak for good. Herald now keeps a transaction, its
match key and its response in a pool of blocks mapped on their own,
each unmapped when its last piece is put back (server/core/fpool.c,
server/sip/strans.c), so RSS must come back within 2 x its pre-burst
figure soon after the last transaction expires.

The burst is what script/bench's burst-mem sends, on a smaller scale:
authenticated registrations (REGISTER, 401, REGISTER with an MD5 digest,
200 committed to PostgreSQL) of USERS users in turn, a fresh Call-ID per
registration. The 200s' transactions are what Timer J keeps; the nonces
and the live feed journal's events, made among them, outlive them: in
malloc's heap they pinned its pages. (A burst of transactions alone,
with nothing else allocated among them, is freed in the order it was
made and glibc gives the heap's top back by itself: that is not what a
real burst leaves.) Measured at 4166ee7 (without the pool): VmRSS
16.7 MB before, 53.9 MB after the burst, 54.1 MB 20 s after the last
transaction expired: the test fails there; with the pool, 28.5 MB.

Under AddressSanitizer the allocator is ASan's (freed memory waits in a
quarantine before it is reused): the figures mean nothing there, so the
test skips, saying so; the Release build's ctest runs it.
"""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchrun  # noqa: E402
import harness  # noqa: E402

OPS = 20000             # registrations in the burst
USERS = 1000            # their users, in turn (u1..uUSERS, password pw)
WINDOW = 32             # registrations in flight per socket, at most
CLIENTS = 4
TIMER_J = 32.0          # 64*T1: a completed UDP transaction lives this long
SETTLE = 20.0           # after the last one expired: RSS must be back by then
SETUP = os.path.join(harness.ROOT, 'tests', 'bench', 'register-setup.sh')


def vmrss_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError('no VmRSS for %d' % pid)


def asan_build(pid):
    """True when the running herald carries AddressSanitizer."""
    with open('/proc/%d/maps' % pid) as f:
        if 'libasan' in f.read():
            return True
    with open('/proc/%d/exe' % pid, 'rb') as f:
        return b'__asan_init' in f.read()


def register(client, op, auth=None, users=USERS):
    user = 'u%d' % (op % users + 1)
    req = harness.make_request('REGISTER', client.host, client.port,
                               cseq=2 if auth else 1,
                               call_id='burst-%d-%d@x' % (client.port, op))
    aor = '<sip:%s@example.test>' % user
    req.set('From', aor + ';tag=b%d' % op)
    req.set('To', aor)
    req.add('Contact', '<sip:%s@%s>' % (user, harness.hostport(
        client.host, client.port)))
    req.add('Expires', 3600)
    if auth:
        req.add('Authorization', harness.digest_authorization(
            auth, user, 'pw', 'REGISTER', 'sip:example.test'))
    return bytes(req)


def burst(clients, ops, users=USERS):
    """ops registrations of users in turn spread over clients, at most
    WINDOW in flight on each; returns the final statuses of the second
    REGISTERs by count (and 'first' for first ones not challenged)."""
    sent = {c: 0 for c in clients}
    busy = {c: {} for c in clients}     # Call-ID -> (op, step, sent at)
    seen = {}
    total = 0
    deadline = time.monotonic() + 180
    while (total < ops or any(busy.values())) and \
            time.monotonic() < deadline:
        now = time.monotonic()
        for c in clients:
            # a lost datagram: the op is given up after 5 s
            for cid, (op, step, t) in list(busy[c].items()):
                if now - t > 5:
                    del busy[c][cid]
                    seen['lost'] = seen.get('lost', 0) + 1
            while total < ops and len(busy[c]) < WINDOW:
                op = CLIENTS * sent[c] + clients.index(c)
                c.send(register(c, op, users=users))
                busy[c]['burst-%d-%d@x' % (c.port, op)] = (op, 1, now)
                sent[c] += 1
                total += 1
        for c, data in harness.waiting(clients, 0.5):
            resp = harness.Response(data)
            if resp.status < 200:
                continue
            cid = resp.get('Call-ID')
            if cid not in busy[c]:
                continue
            op, step, _ = busy[c].pop(cid)
            if step == 1 and resp.status == 401:
                c.send(register(c, op, resp.get('WWW-Authenticate'),
                                users))
                busy[c][cid] = (op, 2, time.monotonic())
                continue
            key = resp.status if step == 2 else 'first'
            seen[key] = seen.get(key, 0) + 1
    return seen


class UsersTestCase(harness.HeraldTestCase):
    """A Herald started with users u1..u<users> (password pw)."""

    autostart = False
    users = USERS
    herald_args = ()

    def setUp(self):
        super().setUp()
        # the users before Herald starts: it loads them at start
        db = harness.fresh_database()
        subprocess.run([harness.herald_bin(), 'migrate', '--database-url',
                        db], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([SETUP, db, str(self.users), 'example.test', 'pw'],
                       check=True, stdout=subprocess.DEVNULL)
        self.herald = self.start_herald(db=db, args=self.herald_args)

    def live_transactions(self):
        return harness.metric(harness.metrics(self.herald),
                              'herald_sip_server_transactions')

    def rss_before(self):
        """VmRSS before a run of live items. The admin API answers once
        first (the metrics, as settled_rss reads them): its first
        answers take memory of their own, which is not the items'."""
        self.live_transactions()
        return vmrss_kb(self.herald.proc.pid)

    def settled_rss(self, t_end):
        """VmRSS once every transaction of a run that ended at t_end has
        expired (Timer J) and the heap trim has run."""
        live = self.live_transactions()
        while live and time.monotonic() < t_end + TIMER_J + 10:
            time.sleep(1)
            live = self.live_transactions()
        self.assertEqual(live, 0, 'transactions still live after Timer J')
        time.sleep(TRIM + 2)
        return vmrss_kb(self.herald.proc.pid)

    def assert_per_item(self, what, n, before, after, most):
        """RSS grew by at most most bytes for each of n items."""
        per = (after - before) * 1024.0 / n
        print('\n%d %ss: VmRSS %d kB before, %d kB after their '
              'transactions expired: %.0f B a %s'
              % (n, what, before, after, per, what))
        self.assertLessEqual(per, most)
        self.assertAlive()


class BurstMemoryTest(UsersTestCase):

    def test_rss_back_after_burst(self):
        pid = self.herald.proc.pid
        if asan_build(pid):
            self.skipTest('AddressSanitizer build: its allocator and '
                          'quarantine make RSS meaningless here; the '
                          'Release build runs this test')
        clients = [self.udp() for _ in range(CLIENTS)]
        for c in clients:
            c.big_rcvbuf()
        before = vmrss_kb(pid)
        t0 = time.monotonic()
        seen = burst(clients, OPS)
        t_end = time.monotonic()
        peak = vmrss_kb(pid)
        live = self.live_transactions()
        print('\n%d registrations in %.1f s: %s; VmRSS %d kB before, '
              '%d kB after the burst, %s transactions live'
              % (OPS, t_end - t0, seen, before, peak, live))
        self.assertGreater(seen.get(200, 0), OPS * 0.9, seen)
        self.assertNotIn(503, seen)
        # the burst must weigh: else the check below could not fail
        self.assertGreater(peak, 2 * before,
                           'the burst did not double VmRSS: %d -> %d kB'
                           % (before, peak))

        # Timer J: the last transaction expires 32 s after its response
        deadline = t_end + TIMER_J + 10
        while live and time.monotonic() < deadline:
            time.sleep(1)
            live = self.live_transactions()
        self.assertEqual(live, 0, 'transactions still live after Timer J')
        t_gone = time.monotonic()
        after = vmrss_kb(pid)
        while after > 2 * before and time.monotonic() < t_gone + SETTLE:
            time.sleep(1)
            after = vmrss_kb(pid)
        print('transactions gone %.1f s after the burst; VmRSS %d kB '
              '%.1f s later (2 x before: %d kB)'
              % (t_gone - t_end, after, time.monotonic() - t_gone,
                 2 * before))
        self.assertLessEqual(after, 2 * before,
                             'VmRSS %d kB after the burst expired, over 2 x '
                             'the %d kB before it (peak %d kB)'
                             % (after, before, peak))
        self.assertAlive()


# Live bindings (issue 20): LIVE users register one binding each over UDP;
# once their transactions have expired and the heap trim has run, RSS has
# grown by at most PER_BINDING_MAX bytes a binding (the bindings, their
# AORs, the digest nonce records, and what the traffic left): the issue's
# goal, at the size. Here 974 B at 147da5f (the transaction and
# AOR tables' 65,536 buckets as lists, touched by the first entries) and
# 565 B at 8b7b2d5 (one run each, Release builds).
LIVE = 10000
PER_BINDING_MAX = 600
TRIM = 10.0             # serve.c: the heap trim's period


class LiveBindingsMemoryTest(UsersTestCase):

    users = LIVE
    # the live feeds' journal holds its last 10,000 changes whatever the
    # population: a fixed cost, left out here
    herald_args = ('--feed-events', '100')

    def test_rss_per_live_binding(self):
        pid = self.herald.proc.pid
        if asan_build(pid):
            self.skipTest('AddressSanitizer build: RSS means nothing here')
        clients = [self.udp() for _ in range(CLIENTS)]
        for c in clients:
            c.big_rcvbuf()
        before = self.rss_before()
        seen = burst(clients, LIVE, users=LIVE)
        t_end = time.monotonic()
        self.assertGreater(seen.get(200, 0), LIVE * 0.99, seen)
        after = self.settled_rss(t_end)
        self.assert_per_item('binding', seen[200], before, after,
                             PER_BINDING_MAX)


# Live subscriptions (issue 20): LIVE users each subscribe to their own
# reg state over UDP (herald-bench's subscribe-hold, as script/bench
# subscribe-mem:udp: SUBSCRIBE, 401, SUBSCRIBE with a digest, 200 and a
# NOTIFY answered, kept); once the transactions have expired and the heap
# trim has run, RSS has grown by at most PER_SUB_MAX bytes a subscription
# (the subscription, its dialog, resource and watcher records, the nonce
# record, and what the traffic left): the goal, at its size.
# script/bench gave 969 B at 8b7b2d5 and 1,466 B at 147da5f. 1 KB is
# read as 1,024 B, as the README does.
PER_SUB_MAX = 1024


class LiveSubscriptionsMemoryTest(UsersTestCase):

    users = LIVE
    # as script/bench runs it; the journal left out, as for bindings
    herald_args = ('--feed-events', '100',
                   '--max-subscriptions-per-resource', '1000000',
                   '--max-subscriptions-per-watcher', '1000000')

    def test_rss_per_live_subscription(self):
        pid = self.herald.proc.pid
        if asan_build(pid):
            self.skipTest('AddressSanitizer build: RSS means nothing here')
        before = self.rss_before()
        rc, summary, err, _ = benchrun.run_bench(
            '--scenario', 'subscribe-hold',
            '--target', 'udp:127.0.0.1:%d' % self.herald.port,
            '--users', LIVE, '--ops', LIVE, '--duration', 300, timeout=330)
        self.assertEqual(rc, 0, err[-2000:])
        self.assertEqual(summary.get('failures'), '0', summary)
        after = self.settled_rss(time.monotonic())
        self.assert_per_item('subscription', LIVE, before, after,
                             PER_SUB_MAX)


if __name__ == '__main__':
    unittest.main()
