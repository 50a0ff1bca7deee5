"""herald-bench from the integration tests: where it is, one run and its
summary, a counter of its -v lines, and a Herald with the benchmark's
users u1..uN (password pw) made before it starts (it reads its users when
it starts)."""

import os
import re
import subprocess
import time
import unittest

import harness


def bench_bin():
    """HERALD_BENCH, or herald-bench next to the herald under test."""
    path = os.environ.get('HERALD_BENCH')
    if not path:
        path = os.path.join(os.path.dirname(harness.herald_bin()),
                            'herald-bench')
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest('no herald-bench at %s: set HERALD_BENCH'
                                % path)
    return path


def run_bench(*args, timeout=60):
    """herald-bench -v ARGS: (exit status, summary as a dict, stderr,
    wall seconds)."""
    t0 = time.monotonic()
    r = subprocess.run([bench_bin(), '-v'] + [str(a) for a in args],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    summary = dict(w.split('=', 1) for w in r.stdout.split() if '=' in w)
    return r.returncode, summary, r.stderr, time.monotonic() - t0


def counter(text, name):
    """The first name=N in herald-bench's -v lines, as an int."""
    m = re.search(r'\b%s=(\d+)' % re.escape(name), text)
    return int(m.group(1)) if m else None


def start_herald(test, users, args=()):
    """A started Herald (stopped after test) whose database has users
    u1..u<users> of example.test, password pw."""
    h = harness.Herald(list(args))
    subprocess.run([harness.herald_bin(), 'migrate', '--database-url',
                    h.db], check=True, capture_output=True)
    subprocess.run([os.path.join(harness.ROOT, 'tests', 'bench',
                                 'register-setup.sh'), h.db, str(users),
                    'example.test', 'pw'], check=True,
                   stdout=subprocess.DEVNULL)
    test.servers.append(h)
    h.start()
    test.addCleanup(h.check_stop)
    return h
