#!/usr/bin/env python3
"""Three Herald nodes on one database (issue 21): how long a change
committed by one node takes to reach a watcher of another, and what
applying the others' changes costs a node.

    cluster-delay.py --herald build/herald --database-url URL \\
        [--aors 200] [--rate 200] [--duration 20] [--moves 100]

The users u1..uAORS (password pw, domain example.test) must exist
(script/bench bulk-inserts them). Nodes n1, n2, n3 on 127.0.0.2, .3, .4:

- on n2, uK watches the reg state of its own AOR (one SUBSCRIBE each, one
  UDP socket answering every NOTIFY 200);
- n1 takes a REGISTER refresh of u1, u2, ... in turn at --rate a second
  (digest, one challenge per user kept with a growing nonce count);
- n3 has no client: it only applies the others' changes.

delay: from the 200 of a REGISTER (its commit on n1) reaching the client
to the partial NOTIFY of that change (sent by n2) reaching the watcher,
both read on one monotonic clock, loopback and this script's own
scheduling included. absorb: n3's CPU time (user + system, from
/proc/PID/stat) over the run, per change applied; 1 s / that is how many
changes a second one core of a node could apply before it did anything
of its own.

Then the moves, one at a time: a refresh (in-dialog SUBSCRIBE) of a
watcher's subscription sent to n3 rather than to its owner n2 (a
balancer that does not record-route), which moves it to n3 (n2 lets go
first), then a second refresh at n3, its owner now; each from sending it
to its 200. Two lines on stdout:

    scenario=cluster changes=N delay_p50=…ms delay_p99=…ms
    delay_max=…ms absorb_us=… absorb_max/s=… n1_cpu%=… n2_cpu%=…
    n3_cpu%=…
    scenario=cluster-move moves=N move_p50=…ms move_p99=…ms
    owner_p50=…ms owner_p99=…ms
"""

import argparse
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integration'))
import harness  # noqa: E402

DOMAIN = 'example.test'
HOSTS = ('127.0.0.2', '127.0.0.3', '127.0.0.4')
TICK = os.sysconf('SC_CLK_TCK')


def cpu_s(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start_node(herald, url, i, logdir):
    host = HOSTS[i]
    port = harness.free_port(host)
    log = open(os.path.join(logdir, 'n%d.log' % (i + 1)), 'w+')
    p = subprocess.Popen(
        [herald, 'serve', '--node-id', 'n%d' % (i + 1), '--database-url', url,
         '--domain', DOMAIN, '--sip-listen', 'udp:%s:%d' % (host, port),
         '--admin-listen', '127.0.0.1:0', '--min-expires', '60',
         '--max-requests-per-source', '0', '--log-level', 'info'],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        log.seek(0)
        if re.search(r' ready$', log.read(), re.M):
            return p, (host, port), log
        if p.poll() is not None:
            break
        time.sleep(0.05)
    log.seek(0)
    sys.exit('cluster-delay: n%d did not start:\n%s' % (i + 1, log.read()))


def request(method, sock, dst, ruri, user, callid, cseq, extra=()):
    host, port = sock.getsockname()
    lines = ['%s %s SIP/2.0' % (method, ruri),
             'Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport'
             % (host, port, harness.rand_token(16)),
             'Max-Forwards: 70',
             'From: <sip:%s@%s>;tag=%s' % (user, DOMAIN,
                                          harness.rand_token(8)),
             'To: <sip:%s@%s>' % (user, DOMAIN),
             'Call-ID: %s' % callid, 'CSeq: %d %s' % (cseq, method)]
    lines += list(extra)
    lines += ['Content-Length: 0', '', '']
    sock.sendto('\r\n'.join(lines).encode(), dst)


def first_line_and_headers(data):
    text = data.decode('utf-8', 'replace')
    head = text.split('\r\n\r\n', 1)[0].split('\r\n')
    hdrs = {}
    for line in head[1:]:
        k, _, v = line.partition(':')
        hdrs.setdefault(k.strip().lower(), v.strip())
    return head[0], hdrs, text


def reply_200(sock, src, data):
    first, hdrs, _ = first_line_and_headers(data)
    lines = ['SIP/2.0 200 OK']
    for k in ('via', 'from', 'to', 'call-id', 'cseq'):
        lines.append('%s: %s' % (k, hdrs.get(k, '')))
    lines += ['Content-Length: 0', '', '']
    sock.sendto('\r\n'.join(lines).encode(), src)


class User:
    def __init__(self, n):
        self.name = 'u%d' % n
        self.callid = harness.rand_token(16) + '@reg'
        self.cseq = 0
        self.challenge = None
        self.nc = 0
        self.ok_at = None      # when the 200 of the timed REGISTER came
        self.notified_at = None  # ...or its NOTIFY, when that came first
        self.timed = False     # a timed REGISTER is out
        self.waiting = False   # its REGISTER is out


def register(sock, dst, u):
    u.cseq += 1
    extra = ['Contact: <sip:%s@192.0.2.9:5060>;expires=3600' % u.name]
    if u.challenge:
        u.nc += 1
        extra.append('Authorization: ' + harness.digest_authorization(
            u.challenge, u.name, 'pw', 'REGISTER', 'sip:' + DOMAIN,
            nc=u.nc))
    request('REGISTER', sock, dst, 'sip:' + DOMAIN, u.name, u.callid,
            u.cseq, extra)
    u.waiting = True


def subscribe_all(sock, dst, users):
    """Each user watches its own AOR's reg state on dst: 401, then 200."""
    byid = {}
    for u in users:
        u.wcallid = harness.rand_token(16) + '@watch'
        byid[u.wcallid] = u
    pending = {u.wcallid: [u, None, 1] for u in users}
    host, port = sock.getsockname()

    def send(u, ch, cseq):
        extra = ['Event: reg', 'Accept: application/reginfo+xml',
                 'Expires: 3600',
                 'Contact: <sip:watch@%s:%d>' % (host, port)]
        if ch:
            extra.append('Authorization: ' + harness.digest_authorization(
                ch, u.name, 'pw', 'SUBSCRIBE',
                'sip:%s@%s' % (u.name, DOMAIN)))
        request('SUBSCRIBE', sock, dst, 'sip:%s@%s' % (u.name, DOMAIN),
                u.name, u.wcallid, cseq, extra)

    for cid, (u, ch, cseq) in pending.items():
        send(u, ch, cseq)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], 1)
        if not r:
            for cid, (u, ch, cseq) in pending.items():
                send(u, ch, cseq)
            continue
        data, src = sock.recvfrom(65536)
        first, hdrs, _ = first_line_and_headers(data)
        cid = hdrs.get('call-id')
        if first.startswith('NOTIFY'):
            reply_200(sock, src, data)
            continue
        if cid not in pending:
            continue
        code = int(first.split()[1])
        if code == 401:
            p = pending[cid]
            p[1] = hdrs.get('www-authenticate')
            p[2] += 1
            send(*p)
        elif code == 200:
            # the dialog, for the refreshes of the moves
            u, _, cseq = pending[cid]
            u.wfrom, u.wto, u.wcseq = hdrs['from'], hdrs['to'], cseq
            del pending[cid]
        elif code >= 300:
            sys.exit('cluster-delay: SUBSCRIBE %s: %s' % (cid, first))
    if pending:
        sys.exit('cluster-delay: %d SUBSCRIBEs unanswered' % len(pending))
    return byid


def refresh(sock, dst, u):
    """An in-dialog SUBSCRIBE of u's watcher, to dst."""
    host, port = sock.getsockname()
    u.wcseq += 1
    lines = ['SUBSCRIBE sip:%s@%s SIP/2.0' % (u.name, DOMAIN),
             'Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport'
             % (host, port, harness.rand_token(16)),
             'Max-Forwards: 70', 'From: ' + u.wfrom, 'To: ' + u.wto,
             'Call-ID: ' + u.wcallid, 'CSeq: %d SUBSCRIBE' % u.wcseq,
             'Event: reg', 'Accept: application/reginfo+xml',
             'Expires: 3600', 'Contact: <sip:watch@%s:%d>' % (host, port),
             'Content-Length: 0', '', '']
    sock.sendto('\r\n'.join(lines).encode(), dst)


def timed_refresh(sock, dst, u):
    """Seconds from sending a refresh to its 200 (NOTIFYs answered)."""
    t = time.monotonic()
    refresh(sock, dst, u)
    deadline = t + 10
    while time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], 0.5)
        if not r:
            continue
        data, src = sock.recvfrom(65536)
        at = time.monotonic()
        first, hdrs, _ = first_line_and_headers(data)
        if first.startswith('NOTIFY'):
            reply_200(sock, src, data)
        elif hdrs.get('call-id') == u.wcallid and \
                hdrs.get('cseq', '').startswith('%d ' % u.wcseq):
            if not first.startswith('SIP/2.0 200'):
                sys.exit('cluster-delay: refresh of %s: %s'
                         % (u.name, first))
            return at - t
    sys.exit('cluster-delay: refresh of %s unanswered' % u.name)


def moves(a, nodes, wsock, users):
    moved, owner = [], []
    for u in users[:a.moves]:
        moved.append(timed_refresh(wsock, nodes[2][1], u))
        owner.append(timed_refresh(wsock, nodes[2][1], u))
    print('scenario=cluster-move moves=%d move_p50=%.1fms move_p99=%.1fms '
          'owner_p50=%.1fms owner_p99=%.1fms'
          % (len(moved), pct(moved, 0.5) * 1e3, pct(moved, 0.99) * 1e3,
             pct(owner, 0.5) * 1e3, pct(owner, 0.99) * 1e3))


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float('nan')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--herald', required=True)
    ap.add_argument('--database-url', required=True)
    ap.add_argument('--aors', type=int, default=200)
    ap.add_argument('--rate', type=float, default=200)
    ap.add_argument('--duration', type=float, default=20)
    ap.add_argument('--moves', type=int, default=100)
    a = ap.parse_args()

    logdir = tempfile.mkdtemp(prefix='herald-cluster-')
    nodes = [start_node(a.herald, a.database_url, i, logdir)
             for i in range(3)]
    try:
        run(a, nodes)
    finally:
        for p, _, _ in nodes:
            p.send_signal(signal.SIGTERM)
        for p, _, _ in nodes:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def run(a, nodes):
    users = [User(i) for i in range(1, a.aors + 1)]
    wsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    wsock.bind(('127.0.0.1', 0))
    wsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    rsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rsock.bind(('127.0.0.1', 0))
    rsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    byid = subscribe_all(wsock, nodes[1][1], users)
    n1 = nodes[0][1]
    bycall = {u.callid: u for u in users}

    # one REGISTER per user first: its challenge, and its binding made
    for u in users:
        register(rsock, n1, u)
    delays = []
    interval = 1.0 / a.rate
    t0 = time.monotonic()
    cpu0 = [cpu_s(p.pid) for p, _, _ in nodes]
    end = t0 + a.duration
    nxt = t0 + 1.0       # the first round's challenges and bindings
    turn = 0
    changes = 0
    while True:
        now = time.monotonic()
        if now >= end + 2.0:
            break
        if now < end and now >= nxt:
            u = users[turn % len(users)]
            turn += 1
            nxt += interval
            if not u.waiting and u.challenge:
                register(rsock, n1, u)
                u.timed = True
                u.ok_at = u.notified_at = None
                changes += 1
        r, _, _ = select.select([rsock, wsock], [], [],
                                max(0.0, min(nxt - now, 0.05)))
        for s in r:
            data, src = s.recvfrom(65536)
            at = time.monotonic()
            first, hdrs, text = first_line_and_headers(data)
            if s is wsock:
                if first.startswith('NOTIFY'):
                    reply_200(s, src, data)
                    u = byid.get(hdrs.get('call-id'))
                    if not u or not u.timed or \
                            'state="partial"' not in text:
                        continue
                    if u.ok_at is not None:
                        delays.append(at - u.ok_at)
                        u.timed = False
                    else:  # before the 200 reached the client
                        u.notified_at = at
                continue
            u = bycall.get(hdrs.get('call-id'))
            if not u or not first.startswith('SIP/2.0'):
                continue
            code = int(first.split()[1])
            if code == 401:
                u.challenge = hdrs.get('www-authenticate')
                u.nc = 0
                register(rsock, n1, u)
            elif code == 200:
                u.waiting = False
                if u.timed and u.notified_at is not None:
                    delays.append(u.notified_at - at)
                    u.timed = False
                elif u.timed:
                    u.ok_at = at
    wall = time.monotonic() - t0
    cpu1 = [cpu_s(p.pid) for p, _, _ in nodes]
    used = [c1 - c0 for c0, c1 in zip(cpu0, cpu1)]
    applied = max(changes, 1)
    absorb_us = used[2] / applied * 1e6
    print('scenario=cluster changes=%d notified=%d delay_p50=%.1fms '
          'delay_p99=%.1fms delay_max=%.1fms absorb_us=%.1f '
          'absorb_max/s=%d n1_cpu%%=%.1f n2_cpu%%=%.1f n3_cpu%%=%.1f'
          % (changes, len(delays), pct(delays, 0.5) * 1e3,
             pct(delays, 0.99) * 1e3, max(delays or [0]) * 1e3, absorb_us,
             1e6 / absorb_us if absorb_us else 0,
             100 * used[0] / wall, 100 * used[1] / wall,
             100 * used[2] / wall))
    moves(a, nodes, wsock, users)


if __name__ == '__main__':
    main()
