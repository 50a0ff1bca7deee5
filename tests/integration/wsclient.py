"""TLS and WebSocket clients for the integration tests, on top of
harness.TcpClient (Python's ssl module, and the RFC 6455 client side
written here: the test must see every byte, bad ones included).

    c = TlsClient(herald_addr, ca)          # like TcpClient, over TLS
    w = WsClient(herald_addr, ca=None)      # ws:, or wss: with ca
    w.request(req)                          # one SIP message a frame
    w.send_frame(OP_PING, b'x')             # raw frames, any flags
    op, payload = w.recv_frame()

Both have transport ('TLS', 'WS', 'WSS') for the Via of the requests the
tests build, and recv_raw() giving one SIP message, as TcpClient's.
"""

import base64
import hashlib
import os
import select
import socket
import ssl
import struct
import time

import harness

OP_CONT, OP_TEXT, OP_BINARY = 0, 1, 2
OP_CLOSE, OP_PING, OP_PONG = 8, 9, 10
WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


def tls_context(ca, cert=None, key=None):
    """A client context trusting ca, with a client certificate when
    given."""
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def tls_fill(c, deadline):
    """TcpClient._fill over a socket that may be a TLS one."""
    # bytes already decrypted do not wake select()
    if isinstance(c.sock, ssl.SSLSocket) and c.sock.pending():
        c.buf += c.sock.recv(c.sock.pending())
        return True
    try:
        return harness.TcpClient._fill(c, deadline)
    except (ssl.SSLError, OSError):
        c.eof = True
        return False


class TlsClient(harness.TcpClient):
    transport = 'TLS'

    def __init__(self, server, ca, cert=None, key=None,
                 timeout=harness.RECV_TIMEOUT):
        raw = socket.create_connection(server[:2], timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = tls_context(ca, cert, key).wrap_socket(
            raw, server_hostname=server[0])
        self.family = raw.family
        self.host, self.port = self.sock.getsockname()[:2]
        self.buf = b''
        self.eof = False

    def _fill(self, deadline):
        return tls_fill(self, deadline)

    def peer_cn(self):
        """The CN of the certificate the server showed."""
        for rdn in self.sock.getpeercert()['subject']:
            for k, v in rdn:
                if k == 'commonName':
                    return v
        return None


def upgrade_request(key, protocol='sip', version='13', method='GET',
                    extra=()):
    lines = ['%s / HTTP/1.1' % method, 'Host: 127.0.0.1',
             'Upgrade: websocket', 'Connection: Upgrade',
             'Sec-WebSocket-Key: ' + key,
             'Sec-WebSocket-Version: ' + version,
             'Origin: http://127.0.0.1']
    if protocol:
        lines.append('Sec-WebSocket-Protocol: ' + protocol)
    lines += list(extra)
    return ('\r\n'.join(lines) + '\r\n\r\n').encode()


def accept_of(key):
    return base64.b64encode(hashlib.sha1(
        (key + WS_GUID).encode()).digest()).decode()


def frame(op, payload=b'', fin=True, mask=True, rsv=0, length=None):
    """A client frame; length forces the length field (lies allowed)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack('!BB', b0, mbit | n)
    elif n < 65536:
        head = struct.pack('!BBH', b0, mbit | 126, n)
    else:
        head = struct.pack('!BBQ', b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WsClient(harness.TcpClient):
    """A SIP WebSocket client (RFC 7118): ws:, or wss: with ca."""

    def __init__(self, server, ca=None, protocol='sip', upgrade=True,
                 timeout=harness.RECV_TIMEOUT):
        raw = socket.create_connection(server[:2], timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.secure = ca is not None
        self.transport = 'WSS' if self.secure else 'WS'
        self.sock = tls_context(ca).wrap_socket(
            raw, server_hostname=server[0]) if ca else raw
        self.family = raw.family
        self.host, self.port = self.sock.getsockname()[:2]
        self.buf = b''
        self.eof = False
        self.pongs = []
        self.closes = []        # (code, reason) of CLOSE frames received
        self.http = None        # the upgrade's response head
        if upgrade:
            status = self.upgrade(protocol=protocol)
            if status != 101:
                raise AssertionError('upgrade refused:\n%s' % self.http)

    def _fill(self, deadline):
        return tls_fill(self, deadline)

    def upgrade(self, **kw):
        """Send the HTTP upgrade; the status answered (None: none)."""
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(upgrade_request(key, **kw))
        deadline = time.monotonic() + harness.RECV_TIMEOUT
        while b'\r\n\r\n' not in self.buf:
            if self.eof or not self._fill(deadline):
                return None
        head, _, self.buf = self.buf.partition(b'\r\n\r\n')
        self.http = head.decode('utf-8', 'replace')
        status = int(self.http.split()[1])
        if status == 101:
            hdrs = {}
            for line in self.http.split('\r\n')[1:]:
                n, _, v = line.partition(':')
                hdrs[n.strip().lower()] = v.strip()
            assert hdrs.get('sec-websocket-accept') == accept_of(key), \
                self.http
            assert hdrs.get('sec-websocket-protocol') == 'sip', self.http
        return status

    def send(self, data):
        """A SIP message: one text frame."""
        self.sock.sendall(frame(OP_TEXT, bytes(data)))

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, op, payload=b'', **kw):
        self.sock.sendall(frame(op, payload, **kw))

    def recv_frame(self, timeout=harness.RECV_TIMEOUT):
        """(op, payload) of the next frame from the server, or None.
        Server frames are never masked (RFC 6455 5.1): asserted."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse()
            if f is not None:
                return f
            if self.eof or not self._fill(deadline):
                return None

    def _parse(self):
        b = self.buf
        if len(b) < 2:
            return None
        op, n, k = b[0] & 15, b[1] & 127, 2
        assert not b[1] & 0x80, 'a server frame is masked'
        assert b[0] & 0x80, 'a server frame is fragmented'
        if n == 126:
            if len(b) < 4:
                return None
            n, k = struct.unpack('!H', b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, k = struct.unpack('!Q', b[2:10])[0], 10
        if len(b) < k + n:
            return None
        self.buf = b[k + n:]
        return op, b[k:k + n]

    def recv_raw(self, timeout=harness.RECV_TIMEOUT):
        """The next SIP message (a text or binary message), or None;
        pongs and closes on the way are kept in pongs and closes."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0, deadline - time.monotonic()))
            if f is None:
                return None
            op, payload = f
            if op in (OP_TEXT, OP_BINARY):
                return payload
            if op == OP_PONG:
                self.pongs.append(payload)
            elif op == OP_CLOSE:
                code = struct.unpack('!H', payload[:2])[0] \
                    if len(payload) >= 2 else None
                self.closes.append((code, payload[2:]))

    def wait_close(self, timeout=harness.RECV_TIMEOUT):
        """The code of the server's CLOSE frame (None: none came), after
        the connection closed within timeout (else AssertionError)."""
        deadline = time.monotonic() + timeout
        while not self.eof and not self.closes:
            if self.recv_raw(max(0, deadline - time.monotonic())) is None \
                    and time.monotonic() >= deadline:
                break
        if not self.wait_closed(max(0.1, deadline - time.monotonic())):
            raise AssertionError('the server did not close')
        return self.closes[0][0] if self.closes else None


def wait_readable_closed(sock, timeout):
    """True when the server closes sock (EOF or reset) within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], deadline - time.monotonic())
        if not r:
            continue
        try:
            if not sock.recv(4096):
                return True
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True
    return False
