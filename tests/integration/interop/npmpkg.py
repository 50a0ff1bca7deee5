"""The node packages of an interop folder (jssip/, console/): each
folder's package.json and package-lock.json say what it needs, `npm ci`
installs exactly that, once, and a test then runs without network.

    npmpkg.ensure_installed(os.path.join(HERE, 'jssip'))
"""

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import unittest

NPM_TIMEOUT = 300


def skip_unless_available():
    """Skip when node or npm is not on PATH (script/bootstrap installs
    Debian's nodejs and npm when neither is there)."""
    missing = [t for t in ('node', 'npm') if shutil.which(t) is None]
    if missing:
        raise unittest.SkipTest('%s not on PATH (script/bootstrap installs '
                                'Debian\'s nodejs and npm)' %
                                ' and '.join(missing))


def installed(pkg):
    """True when pkg/node_modules holds every package of its
    package-lock.json at its locked version (what `npm ci` would
    install)."""
    with open(os.path.join(pkg, 'package-lock.json')) as f:
        lock = json.load(f)
    for path, meta in lock.get('packages', {}).items():
        if not path:
            continue
        try:
            with open(os.path.join(pkg, path, 'package.json')) as f:
                if json.load(f).get('version') != meta.get('version'):
                    return False
        except (OSError, ValueError):
            if not meta.get('optional'):
                return False
    return True


def ensure_installed(pkg):
    """`npm ci` in pkg unless node_modules already matches the lock
    (then nothing is fetched). A lock file per folder serialises test
    processes (ctest -j) that would install at once."""
    skip_unless_available()
    name = os.path.basename(os.path.normpath(pkg))
    with open(os.path.join(tempfile.gettempdir(),
                           'herald-%s-npm.lock' % name), 'w') as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if installed(pkg):
            return
        r = subprocess.run(['npm', 'ci', '--no-audit', '--no-fund'],
                           cwd=pkg, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=NPM_TIMEOUT)
        if r.returncode != 0 or not installed(pkg):
            raise AssertionError('npm ci in %s failed (%d):\n%s' %
                                 (pkg, r.returncode,
                                  r.stdout.decode('utf-8', 'replace')))
