#!/usr/bin/env python3
"""Live-feed load for script/bench (BENCH_FEEDS=N): N open Server-Sent
Events streams on Herald's admin API while a scenario runs.

--feeds N streams are opened (GET /v1/feed, the firehose, and --pidf of
them the PIDF feed of --presentity), each read on one selector thread.
Reading is cheap on purpose (the generator shares this CPU): bytes are
counted, and events by their "\\nevent: " lines. Once all are open it
prints "feed-load: N open" to stderr and writes --ready; on SIGTERM or
SIGINT it prints one line: feeds, how many are still open, events
received, of them resets, and the server's own counters from /metrics
(herald_admin_feed_events_sent_total, _cut_total, _resets_total).
The admin token comes from HERALD_ADMIN_TOKEN."""

import argparse
import os
import re
import selectors
import signal
import socket
import sys
import time
import urllib.request

stop = False


def on_signal(signo, frame):
    global stop
    stop = True


class Stream:
    def __init__(self, host, port, path, token):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.sendall(('GET %s HTTP/1.1\r\nHost: %s:%d\r\n'
                           'Accept: text/event-stream\r\n'
                           'Authorization: Bearer %s\r\n\r\n'
                           % (path, host, port, token)).encode())
        head = b''
        while b'\r\n\r\n' not in head:
            b = self.sock.recv(4096)
            if not b:
                raise RuntimeError('closed before its head')
            head += b
        status = head.split(b' ', 2)[1]
        if status != b'200':
            raise RuntimeError('%s: %s' % (path, head[:200]))
        self.tail = head.split(b'\r\n\r\n', 1)[1]
        self.sock.setblocking(False)
        self.events = 0
        self.resets = 0
        self.bytes = 0
        self.open = True

    def read(self):
        try:
            b = self.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            b = b''
        if not b:
            self.open = False
            return
        self.bytes += len(b)
        # count whole lines only: keep what follows the last newline
        text = self.tail + b
        cut = text.rfind(b'\n') + 1
        done, self.tail = text[:cut], text[cut:]
        self.events += done.count(b'\nevent: ') + \
            (1 if done.startswith(b'event: ') else 0)
        self.resets += done.count(b'event: reset')


def metric(url, token, name):
    req = urllib.request.Request(url + '/metrics', headers={
        'Authorization': 'Bearer ' + token})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()
    m = re.search(r'^%s (\d+)$' % re.escape(name), text, re.M)
    return int(m.group(1)) if m else -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--admin', required=True, help='HOST:PORT')
    ap.add_argument('--feeds', type=int, default=1000)
    ap.add_argument('--pidf', type=int, default=200,
                    help='of them, PIDF feeds of --presentity')
    ap.add_argument('--presentity', default='u1@bench.test')
    ap.add_argument('--ready', help='a file written once all are open')
    a = ap.parse_args()
    token = os.environ['HERALD_ADMIN_TOKEN']
    host, port = a.admin.rsplit(':', 1)
    port = int(port)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sel = selectors.DefaultSelector()
    streams = []
    for i in range(a.feeds):
        path = ('/v1/presentities/%s/presence/feed' % a.presentity
                if i < a.pidf else '/v1/feed')
        s = Stream(host, port, path, token)
        streams.append(s)
        sel.register(s.sock, selectors.EVENT_READ, s)
    sys.stderr.write('feed-load: %d open\n' % len(streams))
    if a.ready:
        with open(a.ready, 'w') as f:
            f.write('%d\n' % len(streams))
    t0 = time.monotonic()
    while not stop:
        for key, _ in sel.select(0.5):
            s = key.data
            s.read()
            if not s.open:
                sel.unregister(s.sock)
    secs = time.monotonic() - t0
    url = 'http://%s:%d' % (host, port)
    pidf = streams[:a.pidf]
    fire = streams[a.pidf:]
    print('feed-load feeds=%d open=%d seconds=%.1f events=%d events/s=%.0f '
          'firehose_events=%d pidf_events=%d resets=%d MB=%.1f '
          'server_sent=%d server_cut=%d server_resets=%d' % (
              len(streams), sum(s.open for s in streams), secs,
              sum(s.events for s in streams),
              sum(s.events for s in streams) / secs if secs else 0,
              sum(s.events for s in fire), sum(s.events for s in pidf),
              sum(s.resets for s in streams),
              sum(s.bytes for s in streams) / 1e6,
              metric(url, token, 'herald_admin_feed_events_sent_total'),
              metric(url, token, 'herald_admin_feeds_cut_total'),
              metric(url, token, 'herald_admin_feeds_resets_total')))
    for s in streams:
        s.sock.close()


if __name__ == '__main__':
    main()
