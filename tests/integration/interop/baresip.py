"""Drive a real baresip 1.0 (Debian 12's baresip-core) headless from a test.

    b = Baresip(test, herald, 'alice', 'secret',
                contacts=['sip:bob@example.test'], pubint=60)
    b.wait_registered()            # REGISTER with digest went through
    b.presence('offline')          # /presence_offline: PUBLISH basic=closed
    b.contacts()                   # {'sip:bob@example.test': 'online', ...}
    b.wait_contact('sip:bob@example.test', 'offline')
    b.quit()                       # /quit: un-PUBLISH, un-REGISTER, exit

Each instance gets a config directory of its own (config, accounts,
contacts) and runs `baresip -f DIR -s -v` with no audio, video or UI
module loaded (so no sound hardware is touched and stdin is not read):

- modules: account.so (reads accounts), contact.so (reads contacts, the
  `contacts` command), menu.so (`reginfo`, `quit`...), presence.so
  (PUBLISH every pubint s, SUBSCRIBE to every contact marked
  ;presence=p2p, `presence_online` / `presence_offline`), ctrl_tcp.so.
- SIP on UDP/TCP 127.0.0.1:PORT (baresip also binds PORT+1 for TLS, so
  each instance reserves two ports); herald is the outbound proxy
  (;outbound=sip:127.0.0.1:HERALDPORT, a loose Route).
- ctrl_tcp on 127.0.0.1:CTRLPORT: commands are netstrings
  (`LEN:JSON,`) of {"command": C, "params": P, "token": T}; each gets
  {"response": true, "ok": bool, "data": TEXT, "token": T}; UA events
  come as {"event": true, "class": ..., "type": ..., ...}.
- dns_server 127.0.0.1:53: nothing is ever resolved (every request goes
  to the outbound proxy's address) but no query could leave the machine.

baresip 1.0's presence module knows two states of its own: the commands
`presence_online` (basic open) and `presence_offline` (basic closed);
there is no away or busy. It starts Unknown and turns Online when its
REGISTER succeeds: a PUBLISH sent before that (registration failing or
slow) carries `<basic>unknown</basic>`. Watched contacts are shown as
Unknown, Online, Offline or Busy (busy when a NOTIFY has <rpid:busy/> or
<rpid:on-the-phone/>; <rpid:away/> is shown as Offline; an empty NOTIFY
and a terminated subscription as Unknown).

libre 1.0 answers MD5 digest only and gives up at the first challenge
it cannot answer ("Register: Function not implemented"): herald must
offer it MD5 alone (baresip is in --md5-only-agents by default).

Everything baresip prints (its SIP trace, -s, includes every request and
response it sends or receives) is kept in .lines; log_text() returns it.
Cleanup kills only the process this object started.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from clientproc import WAIT, Client, die_with_parent, free_ports, wait_line

BARESIP = '/usr/bin/baresip'
MODULE_PATH = '/usr/lib/baresip/modules'

ANSI = re.compile(r'\x1b\[[0-9;]*m')
# contact_presence_str() and the contacts listing, lower-cased
STATES = ('unknown', 'online', 'offline', 'busy')


def available():
    """True when baresip and its presence and ctrl_tcp modules are
    installed (Debian package baresip-core)."""
    return (os.access(BARESIP, os.X_OK) and
            all(os.path.exists(os.path.join(MODULE_PATH, m + '.so'))
                for m in ('account', 'contact', 'menu', 'presence',
                          'ctrl_tcp')))


def skip_unless_available():
    if not available():
        raise unittest.SkipTest('baresip (Debian package baresip-core) '
                                'not installed')


def netstring(data):
    return b'%d:%s,' % (len(data), data)



class BaresipError(AssertionError):
    pass


_default = {}


def default_config():
    """The config file baresip writes on its first start into an empty
    directory (`baresip -f DIR`), as a new user gets it. -n lo: it
    writes the file before it looks at the network, and binds nothing
    but loopback (on a machine where lo has no address baresip stops
    right after writing the file); -t 1: it quits after a second if it
    does get going."""
    if 'text' not in _default:
        d = tempfile.mkdtemp(prefix='herald-baresip-default-')
        try:
            subprocess.run([BARESIP, '-f', d, '-4', '-n', 'lo', '-t', '1'],
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.STDOUT, timeout=20,
                           preexec_fn=die_with_parent)
            with open(os.path.join(d, 'config')) as f:
                _default['text'] = f.read()
        finally:
            shutil.rmtree(d, True)
    return _default['text']


# Every change the tests make to baresip's default config: (pattern of
# the default line, the line instead, why). Each pattern must match
# exactly one line of the default (a new baresip with another template
# fails the test instead of drifting). Only addresses and ports, plus
# two modules: presence (a finding for users: baresip's default
# config does not load it, so a default baresip neither PUBLISHes nor
# SUBSCRIBEs; the README's quick start says to enable it) and ctrl_tcp
# (the test's remote control; a user has stdio or another UI instead).
# Everything else stays as baresip wrote it: uuid (so +sip.instance on
# every Contact), stdio (which fails to load with stdin on /dev/null,
# "module stdio.so: Operation not permitted", and baresip carries on),
# alsa, g711, stun/turn/ice, auloop, vidloop, debug_cmd, no dns_server
# (every request goes to the outbound proxy's address: nothing is
# resolved).
DEFAULT_EDITS = (
    (r'^#sip_listen\t+0\.0\.0\.0:5060$', 'sip_listen\t\t127.0.0.1:{sip_port}',
     'address: loopback and a free port (default: every interface, '
     'port 5060)'),
    (r'^#module_app\t+presence\.so$', 'module_app\t\tpresence.so',
     'not loaded by default: without it baresip neither publishes nor '
     'subscribes (presence=p2p contacts are ignored)'),
    (r'^#module_app\t+ctrl_tcp\.so$', 'module_app\t\tctrl_tcp.so',
     'the test drives baresip through it (no terminal)'),
    (r'^ctrl_tcp_listen\t+0\.0\.0\.0:4444.*$',
     'ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}',
     'address: loopback and a free port'),
)


# With a DNS server given (dns_port): the domain's DNS (RFC 3263 SRV
# records naming Herald) is a test server, interop/dnsserver.py, in
# place of the machine's resolver.
DNS_EDIT = (r'^#dns_server\t+1\.1\.1\.1:53$',
            'dns_server\t\t127.0.0.1:{dns_port}',
            'address: the test\'s DNS server, which serves example.test '
            '(default: the system\'s resolver)')


# For a call that is answered: no sound card here, and alsa's player
# failing makes baresip close an answered call at once ("audio_decoder_set
# error"). aubridge (in baresip-core) is source and player both: the
# player's audio goes to the source of the same device name, no device
# is opened.
AUDIO_EDITS = (
    (r'^#module\t+aubridge\.so$', 'module\t\t\taubridge.so',
     'not loaded by default: the player and source below'),
    (r'^audio_player\t+alsa,default$', 'audio_player\t\taubridge,call',
     'no sound card: aubridge, not alsa'),
    (r'^audio_source\t+alsa,default$', 'audio_source\t\taubridge,call',
     'no sound card: aubridge, not alsa'),
)


def edited_default_config(sip_port, ctrl_port, dns_port=None,
                          more_edits=()):
    """default_config() with DEFAULT_EDITS (and DNS_EDIT with a
    dns_port, and more_edits, e.g. AUDIO_EDITS) applied."""
    lines = default_config().split('\n')
    edits = DEFAULT_EDITS + ((DNS_EDIT,) if dns_port else ()) + \
        tuple(more_edits)
    for pattern, repl, why in edits:
        rx = re.compile(pattern)
        hits = [i for i, l in enumerate(lines) if rx.match(l)]
        if len(hits) != 1:
            raise BaresipError('baresip\'s default config has %d lines '
                               'matching %r (want 1: %s)' %
                               (len(hits), pattern, why))
        lines[hits[0]] = repl.format(sip_port=sip_port, ctrl_port=ctrl_port,
                                     dns_port=dns_port)
    if not any(re.match(r'^module_tmp\s+uuid\.so', l) for l in lines):
        raise BaresipError('baresip\'s default config does not load uuid')
    return '\n'.join(lines)


class Baresip(Client):
    """One baresip process with one account, driven over ctrl_tcp."""

    Error = BaresipError

    def __init__(self, test_or_tmpdir, herald, user, password,
                 contacts=(), pubint=60, regint=600, domain='example.test',
                 transport='udp', display=None, start=True,
                 default_config=False, dns_port=None, more_edits=()):
        """test_or_tmpdir: a unittest.TestCase (a temporary directory is
        made, and the process is killed and the directory removed in
        its cleanups), or a directory to create the config directory in
        (then call close()). herald: a harness.Herald (or anything with
        .host and .port). contacts: AoRs to watch (;presence=p2p).
        pubint: PUBLISH expiry and refresh interval (0: no PUBLISH);
        regint: REGISTER expiry (baresip refreshes at half of it).
        default_config: baresip's own default config (edited_default_
        config()) instead of the minimal one below, and an account line
        without regint (baresip's default, 3600). dns_port (with
        default_config): the domain is found through the DNS server on
        127.0.0.1:dns_port (DNS_EDIT), and the account names no
        outbound proxy: every request goes where the domain's DNS
        says, as RFC 3263 has it. more_edits (with default_config):
        further edits of the default config, as DEFAULT_EDITS
        (AUDIO_EDITS: a call can be answered)."""
        super().__init__()
        self.user = user
        self.password = password
        self.domain = domain
        self.aor = 'sip:%s@%s' % (user, domain)
        self.herald = herald
        self.watch = list(contacts)
        self.pubint = pubint
        self.regint = regint
        self.transport = transport
        self.display = display or user
        self.default_config = default_config
        self.dns_port = dns_port
        self.more_edits = more_edits
        self.events = []
        self.responses = {}
        self.sock = None
        self.sock_reader = None
        self.out_reader = None
        self.token_n = 0

        if isinstance(test_or_tmpdir, unittest.TestCase):
            base = tempfile.mkdtemp(prefix='herald-baresip-')
            test_or_tmpdir.addCleanup(shutil.rmtree, base, True)
            test_or_tmpdir.addCleanup(self.close)
        else:
            base = test_or_tmpdir
        self.dir = os.path.join(base, 'baresip-%s' % user)
        os.makedirs(self.dir, exist_ok=True)
        self.sip_port = free_ports(2)          # PORT, PORT+1 (TLS)
        self.ctrl_port = free_ports(1, udp=False)
        self.write_config()
        if start:
            self.start()

    # -- configuration --

    def write_config(self):
        cfg = [
            'poll_method\t\tepoll',
            'sip_listen\t\t127.0.0.1:%d' % self.sip_port,
            'dns_server\t\t127.0.0.1:53',
            'call_max_calls\t\t1',
            # no audio, video or UI module is loaded: no sound device is
            # ever opened (only a call would need one) and stdin is unread
            'module_path\t\t%s' % MODULE_PATH,
            'module_tmp\t\taccount.so',
            'module_app\t\tcontact.so',
            'module_app\t\tmenu.so',
            'module_app\t\tpresence.so',
            'module_app\t\tctrl_tcp.so',
            'ctrl_tcp_listen\t\t127.0.0.1:%d' % self.ctrl_port,
        ]
        proxy = 'sip:127.0.0.1:%d' % self.herald.port
        if self.transport != 'udp':
            proxy += ';transport=%s' % self.transport
        acc = ('"%s" <%s>;auth_pass=%s;outbound="%s";regint=%d;pubint=%d'
               % (self.display, self.aor, self.password, proxy, self.regint,
                  self.pubint))
        if self.default_config:
            cfg = edited_default_config(self.sip_port, self.ctrl_port,
                                        self.dns_port,
                                        self.more_edits).split('\n')
            # what a user writes: identity, password, the server
            # (outbound: example.test has no DNS) and pubint (0, no
            # PUBLISH, unless given)
            acc = ('"%s" <%s>;auth_pass=%s;outbound="%s";pubint=%d'
                   % (self.display, self.aor, self.password, proxy,
                      self.pubint))
            if self.dns_port:
                acc = ('"%s" <%s>;auth_pass=%s;pubint=%d'
                       % (self.display, self.aor, self.password,
                          self.pubint))
        contacts = ['"%s" <%s>;presence=p2p' % (uri.split(':', 1)[1]
                                                .split('@')[0], uri)
                    for uri in self.watch]
        for name, lines in (('config', cfg), ('accounts', [acc]),
                            ('contacts', contacts)):
            with open(os.path.join(self.dir, name), 'w') as f:
                f.write('\n'.join(lines) + '\n')

    # -- process --

    def start(self):
        """Start baresip and connect to its ctrl_tcp port."""
        self.proc = subprocess.Popen(
            [BARESIP, '-f', self.dir, '-s', '-v'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, cwd=self.dir,
            preexec_fn=die_with_parent)        # PR_SET_PDEATHSIG
        self.started()
        self.out_reader = threading.Thread(target=self._drain, daemon=True)
        self.out_reader.start()
        self.wait_log(r'ctrl_tcp: TCP socket listening|baresip is ready',
                      what='baresip to start')
        deadline = time.monotonic() + WAIT
        while True:
            try:
                self.sock = socket.create_connection(
                    ('127.0.0.1', self.ctrl_port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or not self.alive():
                    raise BaresipError('cannot connect to ctrl_tcp port %d'
                                       '\n%s' % (self.ctrl_port,
                                                 self.log_text()))
                time.sleep(0.05)
        self.sock.settimeout(None)
        self.sock_reader = threading.Thread(target=self._read_ctrl,
                                            daemon=True)
        self.sock_reader.start()
        return self

    def _drain(self):
        for raw in iter(self.proc.stdout.readline, b''):
            line = ANSI.sub('', raw.decode('utf-8', 'replace').rstrip('\n'))
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        self.proc.stdout.close()
        with self.cond:
            self.cond.notify_all()

    def _read_ctrl(self):
        buf = b''
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b''
            if not chunk:
                break
            buf += chunk
            while True:
                colon = buf.find(b':')
                if colon < 0 or not buf[:colon].isdigit():
                    break
                n = int(buf[:colon])
                if len(buf) < colon + 1 + n + 1:
                    break
                data = buf[colon + 1:colon + 1 + n]
                buf = buf[colon + 1 + n + 1:]
                try:
                    msg = json.loads(data.decode('utf-8', 'replace'))
                except ValueError:
                    msg = {'unparsed': data.decode('utf-8', 'replace')}
                with self.cond:
                    if msg.get('response'):
                        self.responses[msg.get('token')] = msg
                    else:
                        self.events.append(msg)
                    self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_log(self, pattern, timeout=WAIT, what=None, start=0):
        """Wait for a line of baresip's output (from line index start on)
        matching pattern; return its index."""
        i = wait_line(self, self.out_reader, pattern, timeout, start)
        if i is None:
            raise BaresipError('%s: no %s within %.0f s\n%s' %
                               (self.aor, what or repr(pattern), timeout,
                                self.log_text(200)))
        return i

    # -- ctrl_tcp --

    def command(self, command, params=None, timeout=WAIT):
        """Run a command (a long command name, as the UI's '/NAME');
        return its response {'ok': bool, 'data': text}."""
        if self.sock is None:
            raise BaresipError('%s: not started' % self.aor)
        self.token_n += 1
        token = 't%d' % self.token_n
        msg = {'command': command, 'token': token}
        if params is not None:
            msg['params'] = params
        self.sock.sendall(netstring(json.dumps(msg).encode()))
        deadline = time.monotonic() + timeout
        with self.cond:
            while token not in self.responses:
                left = deadline - time.monotonic()
                if left <= 0 or not self.sock_reader.is_alive():
                    raise BaresipError('%s: no response to %r within %.0f s'
                                       '\n%s' % (self.aor, command, timeout,
                                                 self.log_text(200)))
                self.cond.wait(min(left, 0.2))
            r = self.responses.pop(token)
        r['data'] = ANSI.sub('', r.get('data') or '')
        return r

    def ok(self, command, params=None):
        r = self.command(command, params)
        if not r.get('ok'):
            raise BaresipError('%s: command %r failed: %r\n%s' %
                               (self.aor, command, r, self.log_text(200)))
        return r['data']

    def event_list(self):
        with self.lock:
            return list(self.events)

    def wait_event(self, kind, start=0, timeout=WAIT, diag=None):
        """The first ctrl_tcp event of type kind from index start on;
        diag: a function giving more to show when none comes."""
        deadline = time.monotonic() + timeout
        while True:
            evs = self.event_list()
            for e in evs[start:]:
                if e.get('type') == kind:
                    return e
            if time.monotonic() > deadline or not self.alive():
                raise BaresipError('%s: no %s event within %.0f s: %r\n%s%s'
                                   % (self.aor, kind, timeout, evs,
                                      self.log_text(200),
                                      '\n' + diag() if diag else ''))
            time.sleep(0.1)

    # -- registration --

    def registered(self):
        """True when `reginfo` shows the account registered ("OK")."""
        data = self.ok('reginfo')
        for line in data.splitlines():
            if self.aor in line or ('%s@' % self.user) in line:
                return re.search(r'\bOK\b', line) is not None
        return False

    def wait_registered(self, timeout=WAIT):
        """Wait until the account is registered (digest included)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.registered():
                return
            if 'Register: Function not implemented' in self.log_text():
                raise BaresipError(
                    '%s: baresip 1.0 (libre) gave up at a digest challenge '
                    'that is not MD5 (it stops at the first one it cannot '
                    'answer): herald needs baresip in --md5-only-agents\n%s'
                    % (self.aor, self.log_text(60)))
            if time.monotonic() > deadline:
                raise BaresipError('%s: not registered within %.0f s\n'
                                   'reginfo: %s\nevents: %r\n%s' %
                                   (self.aor, timeout, self.ok('reginfo'),
                                    self.event_list(), self.log_text(300)))
            time.sleep(0.25)

    # -- presence --

    def presence(self, status):
        """Set our own presence: 'online' (/presence_online, PIDF basic
        open) or 'offline' (/presence_offline, basic closed). baresip
        1.0 has no away or busy of its own (only its contacts can be
        shown busy)."""
        cmd = {'online': 'presence_online', 'open': 'presence_online',
               'offline': 'presence_offline', 'closed': 'presence_offline'}
        if status not in cmd:
            raise ValueError('baresip 1.0 publishes online or offline only, '
                             'not %r' % status)
        return self.ok(cmd[status])

    def contacts(self):
        """{contact AoR: presence as baresip shows it}, lower-cased:
        'unknown', 'online', 'offline' or 'busy'. From the `contacts`
        command, whose lines are '%20s %H': the state then the contact
        ('"bob" <sip:bob@example.test>;presence=p2p')."""
        out = {}
        for line in self.ok('contacts').splitlines():
            m = re.match(r"^[>\s]*(\w+)\s+.*<(sips?:[^>]+)>", line)
            if m and m.group(1).lower() in STATES:
                out[m.group(2)] = m.group(1).lower()
        return out

    def wait_contact(self, uri, state, timeout=WAIT):
        """Wait until contact uri is shown in the given state."""
        deadline = time.monotonic() + timeout
        seen = None
        while True:
            seen = self.contacts()
            if seen.get(uri) == state:
                return
            if time.monotonic() > deadline:
                raise BaresipError('%s: contact %s not %r within %.0f s '
                                   '(contacts: %r)\n%s' %
                                   (self.aor, uri, state, timeout, seen,
                                    self.log_text(300)))
            time.sleep(0.2)

    # -- SIP trace --

    def sip_messages(self):
        """The SIP messages of baresip's trace (-s), as (direction, text)
        with direction 'out' or 'in' and text the message's lines joined
        with CRLF. The trace heads each message with
        'UDP SRC -> DST', whichever way it goes. A TCP connection that
        baresip opened is from a port of its own, not its SIP port: the
        first message seen between two addresses neither of which is
        the SIP port is baresip's (it opened the connection to send)."""
        msgs = []
        lines = self.log_text().split('\n')
        i = 0
        head = re.compile(r'^(UDP|TCP|TLS) (\S+) -> (\S+)$')
        me = '127.0.0.1:%d' % self.sip_port
        opened = set()          # (baresip's port, peer) of its connections
        while i < len(lines):
            m = head.match(lines[i])
            if not m:
                i += 1
                continue
            src, dst = m.group(2), m.group(3)
            if src != me and dst != me and (dst, src) not in opened:
                opened.add((src, dst))
            out = src == me or (src, dst) in opened
            direction = 'out' if out else 'in'
            j = i + 1
            body = []
            # a message ends at the trace's closing colour reset, which
            # ANSI removal leaves as an empty line after the body, or at
            # the next trace header
            while j < len(lines) and not head.match(lines[j]) and \
                    lines[j] != '#':
                body.append(lines[j])
                j += 1
            while body and body[-1] == '':
                body.pop()
            msgs.append((direction, '\r\n'.join(body)))
            i = j
        return msgs

    # -- stopping --

    def ask_quit(self):
        """/quit: baresip un-PUBLISHes (Expires: 0), un-SUBSCRIBEs
        (Expires: 0, in dialog), un-REGISTERs and exits. baresip waits
        about 10 s for the terminated NOTIFY after each un-SUBSCRIBE
        before it exits when none comes (QUIT_WAIT allows for it)."""
        try:
            self.command('quit', timeout=2)
        except (BaresipError, OSError):
            pass

    def quit_diag(self):
        return self.log_text(100)

    def closed_more(self):
        """The control connection and the readers."""
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        if self.out_reader is not None:
            self.out_reader.join(2)
        if self.sock_reader is not None:
            self.sock_reader.join(2)
