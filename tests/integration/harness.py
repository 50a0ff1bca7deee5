"""Integration test harness: runs the real herald binary on loopback.

Python 3 standard library only. Each test gets its own herald process
(started in setUp, stopped in a cleanup), so a crash, a leak or a sanitizer
report is pinned on the test that caused it:

    class T(harness.HeraldTestCase):
        herald_args = ['--max-message-size', '8192']

        def test_options(self):
            c = self.udp()
            r = c.request(self.req('OPTIONS', c))
            self.assertStatus(r, 200)

Stopping sends SIGTERM and requires exit status 0 and no AddressSanitizer or
UBSan report in herald's output (an ASan build exits non-zero on leaks).
The log of a failing test's herald is printed after the failure.
"""

import atexit
import hashlib
import os
import random
import re
import select
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

READY_TIMEOUT = 10.0     # seconds for herald to log "ready"
STOP_TIMEOUT = 10.0      # seconds for herald to exit after SIGTERM
RECV_TIMEOUT = 3.0       # default wait for an expected response
SILENCE = 0.5            # how long "no response" is awaited

SANITIZER_MARKERS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer',
                     'runtime error:', 'AddressSanitizer:DEADLYSIGNAL')
# Every 5xx herald sends is logged with its cause; one sent without a
# cause is a defect wherever it shows up (see server/sip/fail.c).
UNEXPLAINED_5XX = 'no cause recorded'

# Environment variables that would change herald's configuration behind
# the test's back.
ADMIN_TOKEN = 'test-admin-token-0123456789'

HERALD_ENV = ('HERALD_SIP_LISTEN', 'HERALD_DOMAIN', 'HERALD_LOG_LEVEL',
              'HERALD_MAX_MESSAGE_SIZE', 'HERALD_TCP_IDLE_TIMEOUT',
              'HERALD_DATABASE_URL', 'HERALD_AUTH', 'HERALD_MIN_EXPIRES',
              'HERALD_MAX_EXPIRES', 'HERALD_DEFAULT_EXPIRES',
              'HERALD_NONCE_LIFETIME', 'HERALD_STORE_WAIT',
              'HERALD_ADMIN_LISTEN', 'HERALD_ADMIN_TOKEN',
              'HERALD_ADMIN_TOKEN_FILE', 'HERALD_ADMIN_TOKENS',
              'HERALD_DIGEST_URI_CHECK',
              'HERALD_ADMIN_MAX_CONNECTIONS', 'HERALD_ADMIN_REQUEST_TIMEOUT',
              'HERALD_MAX_TRANSACTIONS', 'HERALD_MAX_REQUESTS_PER_SOURCE',
              'HERALD_MAX_TCP_PER_SOURCE', 'HERALD_TLS_CERT',
              'HERALD_TLS_KEY', 'HERALD_TLS_CLIENT_CA',
              'HERALD_HANDSHAKE_TIMEOUT', 'HERALD_NODE_ID', 'HERALD_NODE_LEASE')


# ---------------------------------------------------------------------------
# PostgreSQL: the server script/test started (HERALD_TEST_DATABASE_URL),
# or one this process starts with script/pg; a fresh database per herald

PG_SCRIPT = os.path.join(ROOT, 'script', 'pg')
_pg = {}


def pg_url():
    """URL of a running PostgreSQL for the tests."""
    url = os.environ.get('HERALD_TEST_DATABASE_URL')
    if url:
        return url
    if 'url' not in _pg:
        d = tempfile.mkdtemp(prefix='herald-pg-')
        out = subprocess.run([PG_SCRIPT, 'start', d], check=True,
                             stdout=subprocess.PIPE, text=True)
        _pg['url'] = out.stdout.strip().splitlines()[-1]
        atexit.register(subprocess.run, [PG_SCRIPT, 'stop', d],
                        stdout=subprocess.DEVNULL)
    return _pg['url']


def psql(url, sql):
    subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url,
                    '-c', sql], check=True, stdout=subprocess.DEVNULL)


def db_url(url, name):
    """url with its database replaced by name."""
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(u._replace(path='/' + name))


def fresh_database():
    """Create an empty database; return its URL."""
    name = 'herald_t_' + ''.join(random.choice(string.ascii_lowercase)
                                 for _ in range(12))
    psql(pg_url(), 'CREATE DATABASE ' + name)
    return db_url(pg_url(), name)


def add_user(url, aor, password):
    """herald user add AOR --password PASSWORD against url."""
    subprocess.run([herald_bin(), 'user', 'add', aor, '--password', password,
                    '--database-url', url], check=True,
                   stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------------------
# digest authentication (RFC 7616, RFC 8760) as a client computes it

def parse_auth_params(value):
    """'Digest a="b", c=d' -> ('Digest', {'a': 'b', 'c': 'd'})."""
    scheme, _, rest = value.strip().partition(' ')
    params = {}
    for m in re.finditer(r'\s*([\w-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]+)'
                         r'\s*,?', rest):
        params[m.group(1).lower()] = (m.group(3) if m.group(3) is not None
                                      else m.group(2))
    return scheme, params


def digest_authorization(challenge, user, password, method, uri, nc=1,
                         cnonce=None, username=None):
    """The Authorization value answering a WWW-Authenticate value."""
    _, c = parse_auth_params(challenge)
    alg = c.get('algorithm', 'MD5')
    hf = hashlib.sha256 if alg.upper() == 'SHA-256' else hashlib.md5

    def h(text):
        return hf(text.encode()).hexdigest()
    cnonce = cnonce or rand_token(16)
    ncs = '%08x' % nc
    ha1 = h('%s:%s:%s' % (user, c['realm'], password))
    ha2 = h('%s:%s' % (method, uri))
    resp = h('%s:%s:%s:%s:auth:%s' % (ha1, c['nonce'], ncs, cnonce, ha2))
    v = ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
         'response="%s", algorithm=%s, qop=auth, nc=%s, cnonce="%s"' %
         (username or user, c['realm'], c['nonce'], uri, resp, alg, ncs,
          cnonce))
    if 'opaque' in c:
        v += ', opaque="%s"' % c['opaque']
    return v


# ---------------------------------------------------------------------------
# the binary and ports

def herald_bin():
    """HERALD_BIN, or the first herald found in the usual build dirs."""
    path = os.environ.get('HERALD_BIN')
    if path:
        return path
    for d in ('build-asan', 'build', 'build-int'):
        cand = os.path.join(ROOT, d, 'herald')
        if os.access(cand, os.X_OK):
            return cand
    raise unittest.SkipTest('no herald binary: set HERALD_BIN')


def free_port(host='127.0.0.1', family=socket.AF_INET):
    """A port that is free for both UDP and TCP on host right now."""
    for _ in range(100):
        t = socket.socket(family, socket.SOCK_STREAM)
        u = socket.socket(family, socket.SOCK_DGRAM)
        try:
            t.bind((host, 0))
            port = t.getsockname()[1]
            try:
                u.bind((host, port))
            except OSError:
                continue
            return port
        finally:
            t.close()
            u.close()
    raise RuntimeError('no free port for UDP and TCP')


def ipv6_available():
    """True when ::1 can be bound."""
    if not socket.has_ipv6:
        return False
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    except OSError:
        return False
    try:
        s.bind(('::1', 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def hostport(host, port):
    """host:port with IPv6 brackets."""
    if ':' in host:
        return '[%s]:%d' % (host, port)
    return '%s:%d' % (host, port)


# ---------------------------------------------------------------------------
# the server process

class Herald:
    """One herald process with its output collected by a thread."""

    def __init__(self, args=(), host='127.0.0.1', udp=True, tcp=True,
                 env=None, listen=True, db=None, source_limits=False):
        self.db = db or fresh_database()
        self.source_limits = source_limits
        self.host = host
        self.family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.extra = list(args)
        self.udp = udp
        self.tcp = tcp
        self.listen = listen
        self.env_extra = dict(env or {})
        self.port = None
        self.proc = None
        self.lines = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.reader = None
        self.stopped = False

    # -- lifecycle --

    def argv(self):
        argv = [herald_bin(), 'serve']
        if self.listen:
            if self.udp:
                argv += ['--sip-listen',
                         'udp:' + hostport(self.host, self.port)]
            if self.tcp:
                argv += ['--sip-listen',
                         'tcp:' + hostport(self.host, self.port)]
            argv += ['--domain', 'example.test', '--log-level', 'debug']
            # the admin API on a port of its own choosing (tests run in
            # parallel), with a known token
            argv += ['--admin-listen', '127.0.0.1:0', '--admin-token',
                     ADMIN_TOKEN]
        # every client of a test is on 127.0.0.1: one source address for
        # the per-source limits, off unless a test keeps the defaults
        # (source_limits: the real clients' tests do) or sets its own
        if not self.source_limits:
            argv += ['--max-requests-per-source', '0',
                     '--max-tcp-per-source', '0']
        # no overload shedding unless a test asks (test_overload.py) or
        # keeps the defaults (the real clients' tests, as with the
        # per-source limits): a sanitizer build on a loaded machine may
        # stall past the lag limit, and a 503 then is not what the other
        # tests are about
        if not self.source_limits and \
                not any(a.startswith('--overload-lag') for a in self.extra):
            argv += ['--overload-lag', '0']
        argv += ['--database-url', self.db]
        # extra arguments may name the chosen port: 'udp:127.0.0.1:{port}'
        return argv + [a.format(port=self.port) for a in self.extra]

    def environ(self):
        env = dict(os.environ)
        for k in HERALD_ENV:
            env.pop(k, None)
        env.setdefault('ASAN_OPTIONS', 'detect_leaks=1:halt_on_error=1')
        env.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1:halt_on_error=1')
        # values may name the chosen port: {'HERALD_SIP_LISTEN':
        # 'udp:127.0.0.1:{port}'}
        env.update({k: v.format(port=self.port)
                    for k, v in self.env_extra.items()})
        return env

    def start(self):
        """Start herald and wait for "ready"; retries on a port clash."""
        for attempt in range(3):
            if self.port is None or attempt:
                self.port = free_port(self.host, self.family)
            if self._start_once():
                return self
            if not self._port_clash():
                break
        raise AssertionError('herald did not become ready within %.0f s\n'
                             'argv: %s\n%s' % (READY_TIMEOUT,
                                               ' '.join(self.argv()),
                                               self.log_text()))

    def _start_once(self):
        with self.lock:
            self.lines = []
        self.ready.clear()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     env=self.environ())
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.ready.wait(0.05):
                return True
            if self.proc.poll() is not None:
                self.reader.join(2)
                return False
        self.proc.kill()
        self.proc.wait()
        self.reader.join(2)
        return False

    @property
    def admin_url(self):
        """http://127.0.0.1:PORT of the admin API, from the log."""
        # (a JSON log line closes the message with a quote)
        m = re.search(r'admin listening on (http://[^\s"]+)',
                      self.log_text())
        return m.group(1) if m else None

    def _port_clash(self):
        text = self.log_text().lower()
        return 'in use' in text or 'eaddrinuse' in text

    def _drain(self):
        ready_re = re.compile(r'\bready\b')
        # HERALD_TEST_LOG_DIR: every herald's whole log kept there too
        # (herald-PID.log), to read after a run that passed
        keep = os.environ.get('HERALD_TEST_LOG_DIR')
        out = open(os.path.join(keep, 'herald-%d.log' % self.proc.pid),
                   'w') if keep else None
        for raw in iter(self.proc.stdout.readline, b''):
            line = raw.decode('utf-8', 'replace').rstrip('\n')
            with self.lock:
                self.lines.append(line)
            if out:
                out.write(line + '\n')
            if ready_re.search(line):
                self.ready.set()
        if out:
            out.close()
        self.proc.stdout.close()

    def stop(self, sig=signal.SIGTERM):
        """Signal herald, wait; return (exit status, log text)."""
        if self.stopped:
            return self.proc.returncode, self.log_text()
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.reader.join(2)
                raise AssertionError('herald did not exit within %.0f s of '
                                     '%s\n%s' % (STOP_TIMEOUT, sig.name,
                                                 self.log_text()))
        self.reader.join(5)
        return self.proc.returncode, self.log_text()

    def check_stop(self, sig=signal.SIGTERM):
        """Stop and assert a clean exit: status 0, no sanitizer report."""
        if getattr(self, 'killed', False):
            return
        crashed = self.proc.poll() is not None and not self.stopped
        code, log = self.stop(sig)
        if crashed:
            raise AssertionError('herald exited by itself with status %s '
                                 'during the test\n%s' % (code, log))
        if code != 0:
            raise AssertionError('herald exited with status %s after %s '
                                 '(sanitizer report or unclean shutdown)\n%s'
                                 % (code, sig.name, log))
        for m in SANITIZER_MARKERS:
            if m in log:
                raise AssertionError('sanitizer report in herald output: '
                                     '%r\n%s' % (m, log))
        if UNEXPLAINED_5XX in log:
            raise AssertionError('herald sent a 5xx without a cause\n%s'
                                 % log)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def add_user(self, aor, password):
        """Add a user; a running herald learns of it through the
        database's notification: wait until it says so."""
        add_user(self.db, aor, password)
        if not self.alive():
            return
        want = 'user %s changed' % aor
        deadline = time.monotonic() + 5
        while want not in self.log_text():
            if time.monotonic() > deadline:
                raise AssertionError('herald did not learn of %s\n%s' %
                                     (aor, self.log_text()))
            time.sleep(0.02)

    def wait_log(self, want, seen=0, timeout=5):
        """Wait until want is in the log more than seen times."""
        deadline = time.monotonic() + timeout
        while self.log_text().count(want) <= seen:
            if time.monotonic() > deadline:
                raise AssertionError('herald never logged %r\n%s' %
                                     (want, self.log_text(tail=4000)))
            time.sleep(0.02)

    def kill(self):
        """kill -9: the test wants an unclean stop (no exit checks)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.reader.join(5)
        self.stopped = True
        self.killed = True

    def log_text(self, tail=None):
        with self.lock:
            lines = list(self.lines)
        if tail and len(lines) > tail:
            lines = ['... (%d lines before)' % (len(lines) - tail)] + \
                lines[-tail:]
        return '\n'.join(lines)

    @property
    def addr(self):
        return (self.host, self.port)


# ---------------------------------------------------------------------------
# SIP messages

COMPACT = {'v': 'via', 'f': 'from', 't': 'to', 'i': 'call-id',
           'm': 'contact', 'l': 'content-length', 'c': 'content-type',
           'k': 'supported', 's': 'subject', 'e': 'content-encoding',
           'o': 'event', 'u': 'allow-events', 'r': 'refer-to',
           'b': 'referred-by', 'x': 'session-expires'}


def canon(name):
    """Lower-case long form of a header name."""
    n = name.strip().lower()
    return COMPACT.get(n, n)


def rand_token(n=10):
    return ''.join(random.choice(string.ascii_lowercase + string.digits)
                   for _ in range(n))


def new_branch():
    return 'z9hG4bK' + rand_token(16)


class Request:
    """A SIP request as an ordered list of header lines; bytes() prints it.

    Headers may be changed freely (set/add/remove) to build broken
    requests. Content-Length is added by bytes() unless already present or
    content_length=False.
    """

    def __init__(self, method, ruri='sip:example.test', version='SIP/2.0'):
        self.method = method
        self.ruri = ruri
        self.version = version
        self.headers = []
        self.body = b''
        self.content_length = True

    def add(self, name, value):
        self.headers.append((name, str(value)))
        return self

    def set(self, name, value):
        """Replace every header of that name (any form) by one value."""
        key = canon(name)
        for i, (n, _) in enumerate(self.headers):
            if canon(n) == key:
                self.headers[i] = (name, str(value))
                self.headers = [h for j, h in enumerate(self.headers)
                                if j <= i or canon(h[0]) != key]
                return self
        return self.add(name, value)

    def remove(self, name):
        key = canon(name)
        self.headers = [h for h in self.headers if canon(h[0]) != key]
        return self

    def get(self, name):
        key = canon(name)
        for n, v in self.headers:
            if canon(n) == key:
                return v
        return None

    def rename(self, old, new):
        """Rename headers (to test lower case or compact names)."""
        key = canon(old)
        self.headers = [(new if canon(n) == key else n, v)
                        for n, v in self.headers]
        return self

    def __bytes__(self):
        lines = ['%s %s %s' % (self.method, self.ruri, self.version)]
        lines += ['%s: %s' % h for h in self.headers]
        body = self.body if isinstance(self.body, bytes) else \
            self.body.encode()
        if self.content_length and self.get('content-length') is None:
            lines.append('Content-Length: %d' % len(body))
        return ('\r\n'.join(lines) + '\r\n\r\n').encode() + body


def make_request(method, via_host, via_port, transport='UDP', rport=True,
                 cseq=1, call_id=None, ruri='sip:example.test',
                 branch=None):
    """A minimal valid out-of-dialog request."""
    req = Request(method, ruri)
    via = 'SIP/2.0/%s %s;branch=%s' % (transport, hostport(via_host, via_port),
                                       branch or new_branch())
    if rport:
        via += ';rport'
    req.add('Via', via)
    req.add('Max-Forwards', 70)
    req.add('From', '<sip:alice@example.test>;tag=%s' % rand_token())
    req.add('To', '<sip:bob@example.test>')
    req.add('Call-ID', call_id or '%s@%s' % (rand_token(16), via_host))
    req.add('CSeq', '%d %s' % (cseq, method))
    return req


def metrics(herald):
    """The admin API's /metrics text of a herald."""
    req = urllib.request.Request(
        herald.admin_url + '/metrics',
        headers={'Authorization': 'Bearer ' + ADMIN_TOKEN})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read().decode()


def metric(text, name):
    """One sample of /metrics text by its name and labels, or None."""
    m = re.search(r'^%s (\d+)$' % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


def ack_request(inv, resp):
    """RFC 3261 17.1.1.3: the ACK of a 3xx-6xx to INVITE inv: its Via,
    From, Call-ID and CSeq number, and the To of the response."""
    ack = Request('ACK', inv.ruri)
    for name in ('Via', 'Max-Forwards', 'From', 'Call-ID'):
        ack.add(name, inv.get(name))
    ack.add('To', resp.get('To'))
    ack.add('CSeq', '%s ACK' % inv.get('CSeq').split()[0])
    return ack


class Parsed:
    """A received SIP message: its start line, headers in order (folded
    lines joined; looked up by long or compact name, any case), body."""

    def __init__(self, raw):
        self.raw = raw
        head, sep, body = raw.partition(b'\r\n\r\n')
        if not sep:
            raise ValueError('no end of headers in %r' % raw[:200])
        self.body = body
        lines = head.decode('utf-8', 'replace').split('\r\n')
        self.start = lines[0]
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (' ', '\t') and self.headers:
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + ' ' + line.strip())
                continue
            name, colon, value = line.partition(':')
            if not colon:
                raise ValueError('bad header line %r' % line)
            self.headers.append((name.strip(), value.strip()))

    def get(self, name):
        """First value of a header (long or compact name, any case)."""
        key = canon(name)
        for n, v in self.headers:
            if canon(n) == key:
                return v
        return None

    def get_all(self, name):
        key = canon(name)
        return [v for n, v in self.headers if canon(n) == key]

    def tokens(self, name):
        """Comma-separated elements of every header of that name."""
        out = []
        for v in self.get_all(name):
            out += [t.strip() for t in v.split(',') if t.strip()]
        return out


class Response(Parsed):
    """A parsed response: status, reason, headers (any case), body."""

    def __init__(self, raw):
        super().__init__(raw)
        m = re.match(r'^(SIP/\d+\.\d+) (\d{3}) (.*)$', self.start)
        if not m:
            raise ValueError('bad status line %r' % self.start)
        self.version = m.group(1)
        self.status = int(m.group(2))
        self.reason = m.group(3)

    def __repr__(self):
        return '<Response %d %s>' % (self.status, self.reason)

    def __str__(self):
        return self.raw.decode('utf-8', 'replace')


def via_parts(value):
    """Split a Via value: (protocol, sent-by, {param: value or None})."""
    first = value.split(',')[0].strip()
    proto, _, rest = first.partition(' ')
    parts = rest.strip().split(';')
    params = {}
    for p in parts[1:]:
        k, eq, v = p.partition('=')
        params[k.strip().lower()] = v.strip() if eq else None
    return proto.strip(), parts[0].strip(), params


def addr_tag(value):
    """The tag parameter of a From/To value, or None."""
    m = re.search(r';\s*tag\s*=\s*([^;,\s]+)', value.split('>')[-1])
    return m.group(1) if m else None


def squeeze(s):
    return ' '.join(s.split())


# ---------------------------------------------------------------------------
# clients

class UdpClient:
    def __init__(self, server, host=None, family=None):
        self.server = server
        self.family = family or (socket.AF_INET6 if ':' in server[0]
                                 else socket.AF_INET)
        host = host or ('::1' if self.family == socket.AF_INET6
                        else '127.0.0.1')
        self.sock = socket.socket(self.family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host = host
        self.port = self.sock.getsockname()[1]

    def big_rcvbuf(self, size=4 << 20):
        """Room for a burst of answers: the default (208 kB) holds about
        a hundred small responses, and a flood's were lost there."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUFFORCE,
                                 size)
        except (OSError, AttributeError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)

    def send(self, data):
        self.sock.sendto(bytes(data), self.server[:2])

    def recv_raw(self, timeout=RECV_TIMEOUT):
        """Next datagram, or None on timeout."""
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return None
        data, _ = self.sock.recvfrom(70000)
        return data

    def recv(self, timeout=RECV_TIMEOUT):
        data = self.recv_raw(timeout)
        return Response(data) if data is not None else None

    def request(self, req, timeout=RECV_TIMEOUT):
        """Send and wait for a final response (1xx are skipped)."""
        self.send(req)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r = self.recv(left)
            if r is None or r.status >= 200:
                return r

    def close(self):
        self.sock.close()


def waiting(clients, timeout):
    """Every datagram waiting on any of the UDP clients, after up to
    timeout seconds for the first: a list of (client, bytes)."""
    r, _, _ = select.select([c.sock for c in clients], [], [], timeout)
    out = []
    for c in clients:
        if c.sock not in r:
            continue
        while True:
            data = c.recv_raw(0)
            if data is None:
                break
            out.append((c, data))
    return out


class TcpClient:
    def __init__(self, server, timeout=RECV_TIMEOUT):
        family = socket.AF_INET6 if ':' in server[0] else socket.AF_INET
        self.sock = socket.create_connection(server[:2], timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.family = family
        self.host, self.port = self.sock.getsockname()[:2]
        self.buf = b''
        self.eof = False

    def send(self, data):
        self.sock.sendall(bytes(data))

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return False
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            chunk = b''
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def recv_raw(self, timeout=RECV_TIMEOUT):
        """One message framed by Content-Length, or None."""
        deadline = time.monotonic() + timeout
        while True:
            while self.buf.startswith(b'\r\n'):   # keep-alive pongs
                self.buf = self.buf[2:]
            end = self.buf.find(b'\r\n\r\n')
            if end >= 0:
                head = self.buf[:end].decode('utf-8', 'replace')
                clen = 0
                for line in head.split('\r\n')[1:]:
                    n, _, v = line.partition(':')
                    if canon(n) == 'content-length':
                        clen = int(v.strip())
                total = end + 4 + clen
                if len(self.buf) >= total:
                    msg, self.buf = self.buf[:total], self.buf[total:]
                    return msg
            if self.eof or not self._fill(deadline):
                return None

    def recv(self, timeout=RECV_TIMEOUT):
        data = self.recv_raw(timeout)
        return Response(data) if data is not None else None

    def request(self, req, timeout=RECV_TIMEOUT):
        self.send(req)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r = self.recv(left)
            if r is None or r.status >= 200:
                return r

    def wait_closed(self, timeout):
        """True when the server closes (FIN or RST) within timeout.
        Bytes received before the close are left in self.buf."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            if not self._fill(deadline) and not self.eof:
                if time.monotonic() >= deadline:
                    return False
        return True

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------------------
# the test case

class HeraldTestCase(unittest.TestCase):
    """Starts herald before each test (unless autostart is False) and
    checks its clean exit after it."""

    herald_args = []
    autostart = True
    source_limits = False   # True: herald's default per-source limits
    maxDiff = None

    def setUp(self):
        self.servers = []
        if self.autostart:
            self.herald = self.start_herald(self.herald_args)

    def start_herald(self, args=(), **kw):
        kw.setdefault('source_limits', self.source_limits)
        h = Herald(args, **kw)
        self.servers.append(h)
        h.start()
        self.addCleanup(h.check_stop)
        return h

    def restart_herald(self, h):
        """kill -9, then herald again on the same database, arguments
        and port (dialogs name the port: a watcher can go on)."""
        h.kill()
        h2 = Herald(h.extra, db=h.db, host=h.host, udp=h.udp, tcp=h.tcp,
                    listen=h.listen, env=h.env_extra,
                    source_limits=h.source_limits)
        h2.port = h.port
        self.servers.append(h2)
        h2.start()
        self.addCleanup(h2.check_stop)
        return h2

    # -- clients, closed after the test --

    def udp(self, herald=None, host=None):
        h = herald or self.herald
        c = UdpClient(h.addr, host=host, family=h.family)
        self.addCleanup(c.close)
        return c

    def tcp(self, herald=None):
        h = herald or self.herald
        c = TcpClient(h.addr)
        self.addCleanup(c.close)
        return c

    def req(self, method, client, **kw):
        """A valid request whose Via names the client's own address."""
        transport = getattr(client, 'transport', 'TCP' if isinstance(
            client, TcpClient) else 'UDP')
        return make_request(method, client.host, client.port,
                            transport=transport, **kw)

    # -- assertions --

    def assertStatus(self, resp, code, reason=None, msg=None):
        self.assertIsNotNone(resp, msg or 'no response (expected %d%s)' %
                             (code, ' ' + reason if reason else ''))
        self.assertEqual(resp.status, code,
                         msg or 'unexpected response:\n%s' % resp)
        if reason is not None:
            self.assertEqual(resp.reason, reason,
                             msg or 'unexpected reason:\n%s' % resp)

    def assertSilent(self, client, timeout=SILENCE):
        data = client.recv_raw(timeout)
        self.assertIsNone(data, 'expected no response, got:\n%s' %
                          (data or b'').decode('utf-8', 'replace'))

    def assertAlive(self, herald=None):
        """herald still answers an OPTIONS over UDP with 200."""
        h = herald or self.herald
        self.assertTrue(h.alive(), 'herald died:\n' + h.log_text())
        c = UdpClient(h.addr, family=h.family)
        try:
            r = c.request(make_request('OPTIONS', c.host, c.port))
        finally:
            c.close()
        self.assertStatus(r, 200)


class LogResult(unittest.TextTestResult):
    """Prints the herald log of a test that failed."""

    def _dump(self, test):
        for i, h in enumerate(getattr(test, 'servers', [])):
            self.stream.write('\n----- herald log (%s, server %d, port %s) '
                              '-----\n%s\n----- end of herald log -----\n'
                              % (test.id(), i, h.port, h.log_text(400)))
            self.stream.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump(test)

    def addError(self, test, err):
        super().addError(test, err)
        self._dump(test)


def main():
    runner = unittest.TextTestRunner(resultclass=LogResult, verbosity=2,
                                     stream=sys.stderr)
    unittest.main(testRunner=runner)
