#!/usr/bin/env python3
"""Out of file descriptors: herald under a low RLIMIT_NOFILE with more TCP
clients than it can hold backs off instead of spinning on accept(),
sheds what it cannot take with a clean close, keeps its log small, still
answers over UDP, and takes TCP again once the clients are gone. At
start it sizes --tcp-max-connections from the limit and says so."""

import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NOFILE = 256          # herald's descriptor limit at start
SPARE = 16            # descriptors left to it once it runs
CLIENTS = 300         # TCP connections the test opens: far more than that
PERIOD = 3.0          # seconds over which CPU and log growth are measured
MAX_CPU = 0.20        # of one core over PERIOD
MAX_LOG = 100 * 1024  # bytes the log may grow over PERIOD
LOG_TAIL = 256 * 1024  # bytes of the log file read back for reports


def raise_own_nofile(need):
    """The test's own soft limit up to the hard one if it needs more."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        raise unittest.SkipTest('need %d descriptors, hard limit %d' %
                                (need, soft))


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    # fields[0] is the state (field 3): utime and stime are 14 and 15
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf('SC_CLK_TCK')


def open_fds(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


class LimitedHerald(harness.Herald):
    """herald with RLIMIT_NOFILE set before exec and its log in a file
    (an unbounded flood must not go through the harness's memory)."""

    def __init__(self, nofile, *a, **kw):
        super().__init__(*a, **kw)
        self.nofile = nofile
        fd, self.log_path = tempfile.mkstemp(prefix='herald-fdlimit-',
                                             suffix='.log')
        os.close(fd)

    def argv(self):
        return super().argv() + ['--log-file', self.log_path]

    def _limit(self):
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile,
                                                    self.nofile))

    def _start_once(self):
        with self.lock:
            self.lines = []
        open(self.log_path, 'w').close()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     env=self.environ(),
                                     preexec_fn=self._limit)
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + harness.READY_TIMEOUT
        while time.monotonic() < deadline:
            if re.search(r'\bready\b', self.file_text()):
                return True
            if self.proc.poll() is not None:
                self.reader.join(2)
                return False
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        self.reader.join(2)
        return False

    def file_text(self):
        with open(self.log_path, 'rb') as f:
            f.seek(max(0, self.log_size() - LOG_TAIL))
            return f.read().decode('utf-8', 'replace')

    def log_size(self):
        return os.path.getsize(self.log_path)

    def log_text(self, tail=None):
        # stdout has what is not a log line: sanitizer reports
        return super().log_text(tail) + '\n' + self.file_text()

    def remove_log(self):
        try:
            os.unlink(self.log_path)
        except OSError:
            pass


def connect_many(addr, n):
    """n TCP connections to addr, as many as complete: those the server
    does not accept wait in its backlog."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(addr)
        except BlockingIOError:
            pass
        socks.append(s)
    return socks


def count_closed(socks, timeout):
    """How many of socks the server closed (EOF or reset) within
    timeout."""
    closed = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(closed) < len(socks):
        for i, s in enumerate(socks):
            if i in closed:
                continue
            try:
                if s.recv(1) == b'':
                    closed.add(i)
            except BlockingIOError:
                pass
            except OSError:
                closed.add(i)
        time.sleep(0.05)
    return len(closed)


class FdLimitTest(harness.HeraldTestCase):
    autostart = False

    def setUp(self):
        super().setUp()
        raise_own_nofile(CLIENTS + 256)
        h = LimitedHerald(NOFILE)
        self.addCleanup(h.remove_log)
        self.servers.append(h)
        h.start()
        self.addCleanup(h.check_stop)
        self.herald = h

    def test_tcp_max_connections_sized_from_limit(self):
        text = self.herald.file_text()
        m = re.search(r'--tcp-max-connections (\d+) lowered to (\d+): '
                      r'the descriptor limit is (\d+)', text)
        self.assertIsNotNone(m, 'no line about --tcp-max-connections')
        self.assertEqual(int(m.group(1)), 4096)
        self.assertEqual(int(m.group(3)), NOFILE)
        self.assertLess(int(m.group(2)), NOFILE)
        self.assertGreater(int(m.group(2)), 0)

    def test_out_of_descriptors_backs_off(self):
        h = self.herald
        pid = h.proc.pid
        # fewer descriptors than it has already: the next accepts fail
        # with EMFILE while the connection limit is far off
        lim = open_fds(pid) + SPARE
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (lim, lim))
        socks = connect_many(h.addr, CLIENTS)
        self.addCleanup(lambda: [s.close() for s in socks])
        time.sleep(1.0)
        cpu0, size0, t0 = cpu_seconds(pid), h.log_size(), time.monotonic()
        time.sleep(PERIOD)
        cpu1, size1, t1 = cpu_seconds(pid), h.log_size(), time.monotonic()
        cpu = (cpu1 - cpu0) / (t1 - t0)
        grown = size1 - size0
        sys.stderr.write('\n  under EMFILE: CPU %.1f%% of a core, log %d '
                         'bytes in %.1f s\n' % (cpu * 100, grown, t1 - t0))
        self.assertIn('Too many open files', h.file_text())
        self.assertLess(cpu, MAX_CPU, 'herald spins under EMFILE')
        self.assertLess(grown, MAX_LOG, 'herald floods its log')
        self.assertAlive(h)
        # what it could not take was closed, not left in the backlog
        self.assertGreater(count_closed(socks, 3.0), CLIENTS // 2)
        for s in socks:
            s.close()
        # its descriptors come back: TCP is taken again after the back-off
        time.sleep(1.5)
        c = self.tcp(h)
        self.assertStatus(c.request(self.req('OPTIONS', c)), 200)


if __name__ == '__main__':
    harness.main()
