"""Run a real Kamailio 5.6 (Debian 12's kamailio and
kamailio-presence-modules) as a proxy in front of Herald, for a test.

    k = Kamailio(test, herald)      # kamailio.cfg.in filled, started
    k.port                          # its UDP port on 127.0.0.1
    k.wait_log(r'PUBLISH')          # a line of its log (debug level 3)
    k.close()                       # SIGTERM, then SIGKILL; by pid

Kamailio is never a system service here: it runs in the foreground as a
child of the test (`kamailio -DD -E -f CFG`: no daemon, the log on
stderr), on 127.0.0.1 only, with its runtime directory and pid file in a
temporary directory of its own. It runs in a session of its own
(setsid): when told to stop, Kamailio's main process signals its whole
process group, which must not be the test runner's. What is left of
that group after the main process is gone (its children) is killed by
the group id, which is the main process's pid.

When the test runs as root, Kamailio drops to nobody/nogroup (-u, -g)
after binding, and the temporary directory is made theirs.

The configuration (interop/kamailio.cfg.in) says what the proxy does.
"""

import os
import pwd
import grp
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest

from clientproc import WAIT, Client, die_with_parent, free_ports, wait_line

KAMAILIO = '/usr/sbin/kamailio'
MODULE_PATH = '/usr/lib/x86_64-linux-gnu/kamailio/modules'
# the modules the configuration loads: kamailio (tm ... dialog) and
# kamailio-presence-modules (pua, pua_dialoginfo)
MODULES = ('tm', 'tmx', 'sl', 'rr', 'pv', 'maxfwd', 'siputils', 'xlog', 'textops',
           'uac_redirect', 'dialog', 'db_text', 'pua', 'pua_dialoginfo',
           'dispatcher')
# Debian's db_text tables (package kamailio): pua will not start
# without a database, even one it keeps nothing in (db_mode 0)
DBTEXT = '/usr/share/kamailio/dbtext/kamailio'
TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'kamailio.cfg.in')
DISPATCHER_TEMPLATE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), 'kamailio-dispatcher.cfg.in')


def module_path():
    """Where Debian puts Kamailio's modules (the multiarch directory)."""
    if os.path.isdir(MODULE_PATH):
        return MODULE_PATH
    out = subprocess.run([KAMAILIO, '-I'], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=10).stdout
    m = re.search(rb'MODS_DIR\s*=?\s*"?([^"\s]+)', out)
    return m.group(1).decode() if m else MODULE_PATH


def missing():
    """What is missing to run Kamailio here (empty when nothing)."""
    if not os.access(KAMAILIO, os.X_OK):
        return ['kamailio (Debian package kamailio)']
    if not all(os.path.exists(os.path.join(DBTEXT, t))
               for t in ('pua', 'version')):
        return ['%s/pua and version (Debian package kamailio)' % DBTEXT]
    mp = module_path()
    return ['module %s.so (Debian package %s)' %
            (m, 'kamailio-presence-modules' if m.startswith('pua')
             else 'kamailio')
            for m in MODULES
            if not os.path.exists(os.path.join(mp, m + '.so'))]


def skip_unless_available():
    gone = missing()
    if gone:
        raise unittest.SkipTest('Kamailio not installed: ' + ', '.join(gone))


class KamailioError(AssertionError):
    pass


class Kamailio(Client):
    """One Kamailio process, proxy in front of herald."""

    Error = KamailioError

    def __init__(self, test, herald, lifetime=300, debug=2, localremote=True,
                 start=True, dispatch=None):
        """test: a unittest.TestCase (the process is stopped and the
        temporary directory removed in its cleanups). herald: a
        harness.Herald (or anything with .host and .port). lifetime:
        the Expires of the dialog PUBLISHes (pua_dialoginfo
        override_lifetime). debug: Kamailio's log level (3:
        debug). localremote: pua_dialoginfo's include_localremote (each
        dialog's <local> and <remote>; Kamailio's default, on)."""
        super().__init__()
        self.aor = 'kamailio'            # for Client's messages
        self.herald = herald
        self.host = '127.0.0.1'
        self.reader = None
        self.dir = tempfile.mkdtemp(prefix='herald-kamailio-')
        test.addCleanup(shutil.rmtree, self.dir, True)
        test.addCleanup(self.close)
        self.port = free_ports(1)
        self.cfg = os.path.join(self.dir, 'kamailio.cfg')
        if dispatch:
            self.write_dispatcher(dispatch, debug)
        else:
            self.write_proxy(herald, lifetime, debug, localremote)
        if start:
            self.start()

    def write_proxy(self, herald, lifetime, debug, localremote):
        dbdir = os.path.join(self.dir, 'db')
        os.mkdir(dbdir)
        for t in ('pua', 'version'):
            shutil.copy(os.path.join(DBTEXT, t), dbdir)
        with open(TEMPLATE) as f:
            text = f.read()
        with open(self.cfg, 'w') as f:
            f.write(text.format(port=self.port, herald_port=herald.port,
                                mpath=module_path(), dbdir=dbdir,
                                lifetime=lifetime, debug=debug,
                                localremote=int(bool(localremote))))

    def write_dispatcher(self, nodes, debug):
        """The load balancer of a cluster: nodes, (host, port) each, in
        dispatcher set 1 (interop/kamailio-dispatcher.cfg.in)."""
        dslist = os.path.join(self.dir, 'dispatcher.list')
        with open(dslist, 'w') as f:
            for host, port in nodes:
                f.write('1 sip:%s:%d\n' % (host, port))
        with open(DISPATCHER_TEMPLATE) as f:
            text = f.read()
        with open(self.cfg, 'w') as f:
            f.write(text.format(port=self.port, mpath=module_path(),
                                dslist=dslist, debug=debug))

    def user_args(self):
        """-u nobody -g nogroup when root (the directory theirs)."""
        if os.geteuid() != 0:
            return []
        try:
            uid = pwd.getpwnam('nobody').pw_uid
            gid = grp.getgrnam('nogroup').gr_gid
        except KeyError:
            return []
        for d, _, files in os.walk(self.dir):
            os.chown(d, uid, gid)
            for f in files:
                os.chown(os.path.join(d, f), uid, gid)
        return ['-u', 'nobody', '-g', 'nogroup']

    def argv(self):
        return [KAMAILIO, '-DD', '-E', '-f', self.cfg,
                '-P', os.path.join(self.dir, 'kamailio.pid'),
                '-Y', self.dir, '-w', self.dir,
                '-m', '32', '-M', '8'] + self.user_args()

    def start(self):
        check = subprocess.run([KAMAILIO, '-c', '-f', self.cfg, '-Y', self.dir],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
        if check.returncode != 0:
            raise KamailioError('kamailio -c refuses %s:\n%s' % (
                self.cfg, check.stdout.decode('utf-8', 'replace')))
        self.proc = subprocess.Popen(
            self.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True,
            preexec_fn=die_with_parent)
        self.started()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        # its UDP socket is bound (and sized): datagrams wait there
        # until the children read them
        self.wait_log(r'SO_RCVBUF is finally', what='Kamailio to start')
        return self

    def _drain(self):
        for raw in iter(self.proc.stdout.readline, b''):
            with self.cond:
                self.lines.append(raw.decode('utf-8', 'replace')
                                  .rstrip('\n'))
                self.cond.notify_all()
        self.proc.stdout.close()
        with self.cond:
            self.cond.notify_all()

    def diag(self):
        return '--- kamailio log ---\n' + self.log_text(200)

    def wait_log(self, pattern, timeout=WAIT, what=None, start=0):
        """The index of the first line of the log (from start on)
        matching pattern."""
        i = wait_line(self, self.reader, pattern, timeout, start)
        if i is None:
            raise KamailioError('kamailio: no %s within %.0f s\n%s' %
                                (what or repr(pattern), timeout,
                                 self.diag()))
        return i

    # -- stopping --

    def ask_quit(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)

    def close(self):
        """SIGTERM to the main process (it stops its children), SIGKILL
        after a grace; then whatever of its process group remains."""
        if self.closed:
            return
        pid = self.proc.pid if self.proc is not None else None
        super().close()
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass

    def closed_more(self):
        if self.reader is not None:
            self.reader.join(2)

