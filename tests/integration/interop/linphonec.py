"""Drive a real linphonec 5.1 (Debian 12's linphone-cli) headless from a
test, in its default set-up plus the account a user would enter.

    l = Linphonec(test, herald, 'carol', 'secret')
    l.wait_registered()               # REGISTER with digest went through
    l.friend_add('sip:bob@example.test')   # `friend add`: SUBSCRIBE
    l.wait_friend('sip:bob@example.test', 'Online')
    l.quit()                          # un-PUBLISH, un-REGISTER, exit

Set-up, as a new user gets it:

- a throw-away HOME with ~/.local/share/linphone made (linphonec 5.1
  never registers without it: it keeps its friends and call logs there);
- linphonec is run once with `quit` on stdin so that it writes its own
  default ~/.linphonerc (its uuid, codecs, NAT policy...), exactly as a
  first start does;
- then what a user enters for an account (the Linphone apps' "SIP
  account" form, or `proxy add` in linphonec), appended as the [proxy_0]
  and [auth_info_0] sections: identity, server, password, publish=1
  ("publish presence information", off by default) and reg_route =
  the server ("outbound proxy": example.test has no DNS, so requests
  are routed to the server by address, not by the domain), unless the
  test serves example.test's DNS (dns_port: no reg_route, and
  linphonec's /etc/resolv.conf, in a mount namespace of its own, names
  the test's DNS server);
- the only change to what linphonec wrote: [sip] sip_port, sip_tcp_port
  (free ports, tests run in parallel; the default is 5060) and
  bind_address=127.0.0.1 (loopback only; the default listens on every
  interface).

linphonec reads commands from stdin (a pipe here) and prints its
events on stdout: "Friend \"bob\" <sip:bob@example.test> is Online"
when a NOTIFY arrives (the friend's state as liblinphone reads the PIDF:
Online, Busy, Away, On the phone, Offline...). `friend list` shows a
friend's name and address only, not its presence: these status lines
are what the user sees. With -d 6 -l FILE it logs every SIP message
sent and received (belle-sip), which sip_messages() reads.

What linphonec 5.1 cannot do headless: set its own presence. liblinphone
publishes "open" (with the <pidfonline:online/> extension) once
registered and removes its publication on quit, but linphonec has no
command for away/busy/offline (its `status` command is about
registration, `param` only edits the config file; the older
`online`/`away`/`busy` commands are gone, and linphone-daemon has none
either). So a linphonec's presence is open while it runs and gone when
it quits.

Cleanup kills only the process this object started.
"""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from clientproc import (WAIT, Client, die_with_parent,
                        free_ports, wait_line)

LINPHONEC = '/usr/bin/linphonec'
UNSHARE = '/usr/bin/unshare'


def available():
    return os.access(LINPHONEC, os.X_OK)


def skip_unless_available():
    if not available():
        raise unittest.SkipTest('linphonec (Debian package linphone-cli) '
                                'not installed')


class LinphonecError(AssertionError):
    pass


# a line of belle-sip's log that introduces a message:
#   ... channel [0x..]: message sent to [UDP://127.0.0.1:5060], size: [N] bytes
#   ... channel [0x..]: received [N] new bytes from [UDP://127.0.0.1:5060]:
_SENT = re.compile(r'message sent to \[([A-Z]+)://([^\]]+)\], size: '
                   r'\[(\d+)\] bytes')
_RECV = re.compile(r'received \[(\d+)\] new bytes from \[([A-Z]+)://'
                   r'([^\]]+)\]:')
_STAMP = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3} ')


class Linphonec(Client):
    """One linphonec process with one account, driven through stdin."""

    Error = LinphonecError

    def __init__(self, test, herald, user, password, domain='example.test',
                 start=True, dns_port=None):
        """dns_port: the account has no outbound route (reg_route), so
        that calls go where the domain's DNS says (RFC 3263), and the
        DNS is the test's server on 127.0.0.1:dns_port: linphonec runs
        in a mount namespace of its own (unshare) whose
        /etc/resolv.conf names that server. linphonec has no setting
        for its DNS server; the machine's resolver is not touched."""
        super().__init__()
        self.dns_port = dns_port
        self.test = test
        self.herald = herald
        self.user = user
        self.password = password
        self.domain = domain
        self.aor = 'sip:%s@%s' % (user, domain)
        self.reader = None
        self.home = tempfile.mkdtemp(prefix='herald-linphonec-')
        test.addCleanup(shutil.rmtree, self.home, True)
        test.addCleanup(self.close)
        os.makedirs(os.path.join(self.home, '.local', 'share', 'linphone'))
        self.rc = os.path.join(self.home, '.linphonerc')
        self.log = os.path.join(self.home, 'linphonec.log')
        self.sip_port = free_ports(2)
        self.first_run()
        self.write_account()
        if start:
            self.start()

    def env(self):
        env = dict(os.environ)
        env['HOME'] = self.home
        # no sound server to find: it would only print more errors
        env.pop('PULSE_SERVER', None)
        return env

    # -- configuration --

    def first_run(self):
        """linphonec writes its default ~/.linphonerc on its first start:
        start it, quit at once."""
        r = subprocess.run([LINPHONEC], input=b'quit\n', env=self.env(),
                           cwd=self.home, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30,
                           preexec_fn=die_with_parent)
        if not os.path.exists(self.rc):
            raise LinphonecError('linphonec wrote no %s:\n%s' %
                                 (self.rc, r.stdout.decode('utf-8',
                                                           'replace')))
        with open(self.rc) as f:
            self.default_rc = f.read()

    # what differs from linphonec's own default file, and why (the
    # test's docstring and the report list these)
    SIP_CHANGES = ('sip_port', 'sip_tcp_port', 'bind_address')

    def write_account(self):
        text = self.default_rc
        if '\n[sip]\n' not in '\n' + text:
            raise LinphonecError('no [sip] section in the default '
                                 'linphonerc:\n' + text)
        sip = ('[sip]\nsip_port=%d\nsip_tcp_port=%d\nbind_address=127.0.0.1\n'
               % (self.sip_port, self.sip_port))
        text = text.replace('[sip]\n', sip, 1)
        server = '<sip:127.0.0.1:%d>' % self.herald.port
        text = text.rstrip('\n') + '\n' + self.account_text(server)
        with open(self.rc, 'w') as f:
            f.write(text)

    def account_text(self, server):
        """The [proxy_0] and [auth_info_0] a user's account makes."""
        return ('\n[proxy_0]\n'
                'reg_proxy=%s\n'
                '%s'
                'reg_identity="%s" <%s>\n'
                'reg_sendregister=1\n'
                'publish=1\n'
                '\n[auth_info_0]\n'
                'username=%s\n'
                'passwd=%s\n'
                'domain=%s\n'
                % (server, self.route(server), self.user, self.aor,
                   self.user, self.password, self.domain))

    def route(self, server):
        """reg_route: the server, unless the domain's DNS is used."""
        if self.dns_port:
            return ''
        return 'reg_route=%s\n' % server.replace('>', ';lr>')

    # -- process --

    def argv(self):
        argv = [LINPHONEC, '-d', '6', '-l', self.log]
        if not self.dns_port:
            return argv
        # belle-sip reads /etc/resolv.conf, and takes nameserver
        # [ADDRESS]:PORT there
        resolv = os.path.join(self.home, 'resolv.conf')
        with open(resolv, 'w') as f:
            f.write('nameserver [127.0.0.1]:%d\n' % self.dns_port)
        return [UNSHARE, '--map-root-user', '--mount', 'sh', '-c',
                'mount --bind "$0" /etc/resolv.conf && exec "$@"',
                resolv] + argv

    def start(self):
        self.proc = subprocess.Popen(
            self.argv(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=self.env(), cwd=self.home,
            preexec_fn=die_with_parent)
        self.started()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        self.wait_out(r'linphonec> ', what='the linphonec prompt')
        return self

    def _drain(self):
        # prompts are not followed by a newline: read in chunks
        buf = b''
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                break
            buf += chunk
            parts = buf.split(b'\n')
            buf = parts.pop()
            with self.cond:
                for p in parts:
                    self.lines.append(p.decode('utf-8', 'replace'))
                if buf.endswith(b'linphonec> '):
                    self.lines.append(buf.decode('utf-8', 'replace'))
                    buf = b''
                self.cond.notify_all()
        with self.cond:
            if buf:
                self.lines.append(buf.decode('utf-8', 'replace'))
            self.cond.notify_all()

    def out_text(self, tail=None):
        with self.lock:
            lines = [l for l in self.lines if 'soundcard' not in l]
        if tail and len(lines) > tail:
            lines = lines[-tail:]
        return '\n'.join(lines)

    def log_text(self):
        try:
            with open(self.log, encoding='utf-8', errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def diag(self):
        return ('--- linphonec output ---\n%s\n--- SIP seen by linphonec '
                '---\n%s' % (self.out_text(60), self.sip_summary()))

    def wait_out(self, pattern, timeout=WAIT, what=None, start=0):
        """Wait for a line of linphonec's output (from index start on)
        matching pattern; its index."""
        i = wait_line(self, self.reader, pattern, timeout, start)
        if i is None:
            raise LinphonecError('%s: no %s within %.0f s\n%s' %
                                 (self.aor, what or repr(pattern), timeout,
                                  self.diag()))
        return i

    def mark(self):
        with self.lock:
            return len(self.lines)

    def send(self, line):
        self.proc.stdin.write(line.encode() + b'\n')
        self.proc.stdin.flush()

    def command(self, line, timeout=WAIT):
        """Send one command; the output lines up to the next prompt."""
        start = self.mark()
        self.send(line)
        end = self.wait_out(r'linphonec> ', timeout=timeout, start=start,
                            what='the prompt after %r' % line)
        with self.lock:
            return self.lines[start:end + 1]

    # -- registration --

    def wait_registered(self, timeout=WAIT):
        """Wait until `proxy list` shows the account registered. (The
        `status register` command looks at the default account only,
        and an account read from linphonerc is not made the default
        unless [sip] default_proxy names it: it registers all the
        same.)"""
        deadline = time.monotonic() + timeout
        while True:
            out = '\n'.join(self.command('proxy list'))
            if re.search(r'^(linphonec> )?registered: yes', out, re.M):
                return
            if time.monotonic() > deadline:
                raise LinphonecError('%s: not registered within %.0f s: %s'
                                     '\n%s' % (self.aor, timeout, out,
                                               self.diag()))
            time.sleep(0.25)

    # -- friends --

    def friend_add(self, uri, name=None):
        """`friend add NAME URI`: liblinphone SUBSCRIBEs to it."""
        name = name or uri.split(':', 1)[1].split('@')[0]
        self.command('friend add "%s" %s' % (name, uri))

    def friend_list(self):
        """The addresses `friend list` shows."""
        return [m.group(1) for m in
                (re.match(r'^(?:linphonec> )?address: (\S+)', l)
                 for l in self.command('friend list')) if m]

    STATUS = re.compile(r'Friend "?[^"<]*"? ?<(sips?:[^>]+)> is (.+)$')

    def friend_states(self):
        """[(uri, state)] of every "Friend ... is STATE" line so far."""
        with self.lock:
            lines = list(self.lines)
        out = []
        for l in lines:
            m = self.STATUS.search(l)
            if m:
                out.append((m.group(1), m.group(2).strip()))
        return out

    def friend_state(self, uri):
        """The last state linphonec printed for uri, or None."""
        states = [s for u, s in self.friend_states() if u == uri]
        return states[-1] if states else None

    def wait_friend(self, uri, state, timeout=WAIT):
        """Wait until linphonec's last line about uri says state."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.friend_state(uri)
            if seen == state:
                return
            if time.monotonic() > deadline or not self.alive():
                raise LinphonecError('%s: friend %s not %r within %.0f s '
                                     '(last: %r)\n%s' % (self.aor, uri, state,
                                                         timeout, seen,
                                                         self.diag()))
            time.sleep(0.1)

    # -- SIP trace (belle-sip's log) --

    def sip_messages(self):
        """[(direction, text)]: every SIP message linphonec sent ('out')
        or received ('in'), from its log, in order."""
        msgs = []
        lines = self.log_text().split('\n')
        i = 0
        while i < len(lines):
            line = lines[i]
            m1 = _SENT.search(line)
            m2 = _RECV.search(line) if not m1 else None
            i += 1
            if not (m1 or m2):
                continue
            body = []
            while i < len(lines) and not _STAMP.match(lines[i]):
                body.append(lines[i])
                i += 1
            while body and body[-1] == '':
                body.pop()
            if body and re.match(r'^(SIP/2\.0 \d{3}|[A-Z]+ \S+ SIP/2\.0)',
                                 body[0]):
                msgs.append(('out' if m1 else 'in', '\r\n'.join(body)))
        return msgs

    def sip_summary(self):
        return '\n'.join('%s %s' % ('>>' if d == 'out' else '<<',
                                    t.split('\r\n', 1)[0])
                         for d, t in self.sip_messages())

    # -- stopping --

    def ask_quit(self):
        """`quit`: linphonec un-PUBLISHes, un-REGISTERs and exits."""
        try:
            self.send('quit')
            self.proc.stdin.close()
        except OSError:
            pass

    def closed_more(self):
        if self.reader is not None:
            self.reader.join(2)
