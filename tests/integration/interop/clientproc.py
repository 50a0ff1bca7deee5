"""What the drivers of real SIP clients (baresip.py, linphonec.py) share:
the client's process, started so that it dies with the test runner,
stopped (quit, kill, close) the same way whichever client it is, with
every instance still running stopped at exit; free ports for its
sockets; waiting for a line of its output.

A driver subclasses Client: it sets .proc when it starts the process
(and calls started()), fills .lines under .cond from a reader thread,
and defines ask_quit() (how the client is told to quit), diag() (what
a failure shows) and closed_more() (what else close() releases)."""

import atexit
import ctypes
import re
import signal
import socket
import subprocess
import threading
import time

WAIT = 10.0              # every wait is bounded by this many seconds
QUIT_WAIT = 15.0         # but quit: a client may wait for final answers

_reserved = set()        # ports handed out by this process
_reserved_lock = threading.Lock()
_live = set()            # instances whose process may still run


@atexit.register
def _close_all():
    """Stop every client this process started and did not stop (a test
    or script that died half-way)."""
    for c in list(_live):
        c.close()


def die_with_parent():
    """In the child before exec: SIGKILL when the parent goes (a
    test runner killed with SIGKILL leaves no client behind)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # noqa
    except (OSError, AttributeError):
        pass


def _free(port, udp=True):
    """True when port is free on 127.0.0.1 for TCP (and UDP)."""
    kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp else [])
    socks = []
    try:
        for k in kinds:
            s = socket.socket(socket.AF_INET, k)
            socks.append(s)
            s.bind(('127.0.0.1', port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def free_ports(count, udp=True):
    """The first of count consecutive ports free on 127.0.0.1 (TCP and,
    with udp, UDP) and not handed out before by this process."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(('127.0.0.1', 0))
        base = s.getsockname()[1]
        s.close()
        want = range(base, base + count)
        if want[-1] > 65535:
            continue
        with _reserved_lock:
            if any(p in _reserved for p in want):
                continue
            if all(_free(p, udp) for p in want):
                _reserved.update(want)
                return base
    raise RuntimeError('no %d consecutive free ports' % count)


def kill_process(proc):
    """SIGKILL proc if it still runs, and reap it."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


def stop_process(proc, grace=3):
    """SIGTERM proc if it still runs, SIGKILL it after grace seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        kill_process(proc)


def wait_line(client, reader, pattern, timeout, start=0):
    """The index of the first line of client.lines from start on that
    matches pattern, waiting on client.cond while the client's process or
    its output reader lives; None at the timeout."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    with client.cond:
        i = start
        while True:
            while i < len(client.lines):
                if rx.search(client.lines[i]):
                    return i
                i += 1
            left = deadline - time.monotonic()
            if left <= 0 or (client.proc.poll() is not None and
                             not reader.is_alive()):
                return None
            client.cond.wait(min(left, 0.2))


class Client:
    """One client process; Error is what its failures raise."""

    Error = AssertionError

    def __init__(self):
        self.proc = None
        self.lines = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.closed = False

    def started(self):
        _live.add(self)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self, tail=None):
        """The lines of output kept so far (the last tail of them)."""
        with self.lock:
            lines = list(self.lines)
        if tail and len(lines) > tail:
            lines = ['... (%d lines before)' % (len(lines) - tail)] + \
                lines[-tail:]
        return '\n'.join(lines)

    def quit(self, timeout=QUIT_WAIT):
        """Ask the client to quit (ask_quit) and wait for it, killed
        after timeout; its exit status."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.ask_quit()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise self.Error('%s: did not exit within %.0f s of quit\n%s'
                             % (self.aor, timeout, self.quit_diag()))

    def quit_diag(self):
        return self.diag()

    def kill(self):
        kill_process(self.proc)

    def close(self):
        """Stop the process this object started (SIGTERM, then SIGKILL)
        and release what else it holds (closed_more)."""
        if self.closed:
            return
        self.closed = True
        _live.discard(self)
        stop_process(self.proc)
        self.closed_more()
