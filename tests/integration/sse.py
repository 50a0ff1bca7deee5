"""A Server-Sent Events client for the admin API's live feeds, on a raw
socket so that a test decides when (and whether) it reads: one GET with
the bearer token (and Last-Event-ID when resuming), the response head,
chunked transfer decoding, and the WHATWG HTML "Server-sent events"
parsing rules (9.2.6): fields id, event, data; a line starting with ':'
is a comment; a blank line dispatches the event, and one without data
only sets the last event id."""

import json
import socket
import time


class Event:
    def __init__(self, id, type, data):
        self.id = id
        self.type = type
        self.data = data

    def json(self):
        return json.loads(self.data)

    def __repr__(self):
        return 'Event(id=%r, type=%r, data=%r)' % (self.id, self.type,
                                                    self.data[:300])


class Closed(Exception):
    """The server ended the stream."""


class SseClient:
    """GET path on host:port; status and headers once the head is read.
    rcvbuf: a small receive buffer (a slow client's)."""

    def __init__(self, host, port, path, token=None, last_event_id=None,
                 rcvbuf=None, headers=(), connect_timeout=5):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                 rcvbuf)
        self.sock.settimeout(connect_timeout)
        self.sock.connect((host, port))
        lines = ['GET %s HTTP/1.1' % path, 'Host: %s:%d' % (host, port),
                 'Accept: text/event-stream']
        if token is not None:
            lines.append('Authorization: Bearer %s' % token)
        if last_event_id is not None:
            lines.append('Last-Event-ID: %s' % last_event_id)
        lines += ['%s: %s' % h for h in headers]
        self.sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())
        self.raw = b''          # bytes received, not yet de-chunked
        self.text = b''         # the body, de-chunked, not yet parsed
        self.status = None
        self.headers = {}
        self.body = b''         # the body of a response that is not a feed
        self.chunked = False
        self.closed = False
        self.last_id = ''       # WHATWG: the last event ID buffer
        self.comments = []
        self.events = []        # every event dispatched, in order
        self.taken = 0          # of them, how many next() gave
        self._type = ''
        self._data = []
        self._body_done = False

    @classmethod
    def open(cls, url, path, **kw):
        """From the admin URL "http://127.0.0.1:PORT"."""
        hostport = url.split('//', 1)[1]
        host, port = hostport.rsplit(':', 1)
        c = cls(host, int(port), path, **kw)
        c.read_head()
        return c

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    # -- bytes --

    def _recv(self, timeout):
        """Read what comes within timeout: False when nothing came."""
        if self.closed:
            raise Closed()
        self.sock.settimeout(max(timeout, 0.001))
        try:
            b = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            b = b''
        if not b:
            self.closed = True
            raise Closed()
        self.raw += b
        return True

    def read_head(self, timeout=10):
        deadline = time.monotonic() + timeout
        while b'\r\n\r\n' not in self.raw:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('no response head within %.0f s'
                                     % timeout)
            self._recv(left)
        head, self.raw = self.raw.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        self.status = int(lines[0].split()[1])
        for ln in lines[1:]:
            k, v = ln.split(':', 1)
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = 'chunked' in self.headers.get('transfer-encoding',
                                                     '').lower()
        if self.status != 200:
            self._read_plain_body(deadline)
        return self.status

    def _read_plain_body(self, deadline):
        n = int(self.headers.get('content-length', '0'))
        while len(self.raw) < n and time.monotonic() < deadline:
            self._recv(deadline - time.monotonic())
        self.body, self.raw = self.raw[:n], self.raw[n:]

    def json(self):
        return json.loads(self.body.decode())

    def _dechunk(self):
        """Move whole chunks from raw to text."""
        if not self.chunked:
            self.text += self.raw
            self.raw = b''
            return
        while True:
            i = self.raw.find(b'\r\n')
            if i < 0:
                return
            size = int(self.raw[:i].split(b';')[0], 16)
            if len(self.raw) < i + 2 + size + 2:
                return
            self.text += self.raw[i + 2:i + 2 + size]
            self.raw = self.raw[i + 2 + size + 2:]
            if size == 0:
                self._body_done = True
                return

    # -- events --

    def _parse(self):
        """Dispatch every complete line of text (WHATWG 9.2.6)."""
        while True:
            i = self.text.find(b'\n')
            if i < 0:
                return
            line = self.text[:i].decode('utf-8').rstrip('\r')
            self.text = self.text[i + 1:]
            if line == '':
                if self._data:
                    self.events.append(Event(self.last_id,
                                             self._type or 'message',
                                             '\n'.join(self._data)))
                self._type, self._data = '', []
            elif line.startswith(':'):
                self.comments.append(line[1:].strip())
            else:
                name, _, value = line.partition(':')
                if value.startswith(' '):
                    value = value[1:]
                if name == 'id' and '\0' not in value:
                    self.last_id = value
                elif name == 'event':
                    self._type = value
                elif name == 'data':
                    self._data.append(value)

    def pump(self, timeout):
        """Read and parse for up to timeout; Closed when the stream ends."""
        got = self._recv(timeout)
        self._dechunk()
        self._parse()
        if self._body_done:
            self.closed = True
            raise Closed()
        return got

    def wait(self, cond, timeout=5, what='the condition'):
        """Pump until cond() is true."""
        deadline = time.monotonic() + timeout
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('feed: %s not met within %.1f s; '
                                     'events: %r' % (what, timeout,
                                                     self.events[-10:]))
            self.pump(left)

    def next(self, timeout=5, match=None):
        """The next event not yet taken (that match(event) accepts, the
        others skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            while self.taken < len(self.events):
                e = self.events[self.taken]
                self.taken += 1
                if match is None or match(e):
                    return e
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('feed: no event within %.1f s; last: '
                                     '%r' % (timeout, self.events[-5:]))
            self.pump(left)

    def quiet(self, duration):
        """Events that came within duration (none taken)."""
        n = len(self.events)
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            self.pump(deadline - time.monotonic())
        return self.events[n:]
