#!/usr/bin/env python3
"""Transports: size limits, hostile TCP peers, idle timeout, IPv6, rport
and where responses go."""

import os
import random
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import UdpClient, make_request, via_parts  # noqa: E402

# An OPTIONS from a well-behaved client must be answered within this while
# another client misbehaves. Generous for a sanitizer build on 2 cores; a
# server blocked by the bad client would take a second or more.
PROMPT = 0.5


def sized_options(client, size, transport='UDP'):
    """An OPTIONS of exactly size bytes (the body fills it up)."""
    req = make_request('OPTIONS', client.host, client.port,
                       transport=transport)
    req.add('Content-Type', 'text/plain')
    base = len(bytes(req))      # with Content-Length: 0
    body = size - base
    for _ in range(3):          # Content-Length's digits change the size
        req.body = b'x' * body
        body -= len(bytes(req)) - size
    req.body = b'x' * body
    data = bytes(req)
    assert len(data) == size, (len(data), size)
    return data


class PromptMixin:
    def assertPrompt(self, herald=None):
        """A fresh UDP and a fresh TCP client each get 200 promptly."""
        h = herald or self.herald
        u = self.udp(h)
        t0 = time.monotonic()
        r = u.request(self.req('OPTIONS', u))
        self.assertStatus(r, 200)
        self.assertLess(time.monotonic() - t0, PROMPT, 'UDP answer slow')
        t0 = time.monotonic()
        t = self.tcp(h)
        r = t.request(self.req('OPTIONS', t))
        self.assertStatus(r, 200)
        self.assertLess(time.monotonic() - t0, PROMPT, 'TCP answer slow')


class SizeLimitTest(PromptMixin, harness.HeraldTestCase):
    herald_args = ['--max-message-size', '8192']

    def test_udp_under_limit_200(self):
        c = self.udp()
        self.assertStatus(c.request(sized_options(c, 8000)), 200)

    def test_udp_65507_bytes_513_or_dropped(self):
        # 65507 is the largest IPv4 UDP payload
        c = self.udp()
        c.send(sized_options(c, 65507))
        r = c.recv(1.0)
        if r is not None:
            self.assertStatus(r, 513)
        self.assertPrompt()

    def test_udp_just_over_limit_513_or_dropped(self):
        c = self.udp()
        c.send(sized_options(c, 8193))
        r = c.recv(1.0)
        if r is not None:
            self.assertStatus(r, 513)
        self.assertPrompt()

    def test_tcp_100k_message_closes_connection(self):
        c = self.tcp()
        data = sized_options(c, 100 * 1024, transport='TCP')
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass            # herald closed while we were still sending
        self.assertPrompt()
        self.assertTrue(c.wait_closed(5), 'oversized TCP message: '
                        'connection left open')
        if c.buf:           # a 513 may come first (maybe cut by a RST)
            self.assertTrue(c.buf.startswith(b'SIP/2.0 513 '),
                            'expected 513 or nothing before the close, '
                            'got %r' % c.buf[:200])

    def test_tcp_garbage_stream_closes_connection(self):
        c = self.tcp()
        rng = random.Random(1234)
        junk = bytes(rng.randrange(256) for _ in range(20000))
        while b'\r\n\r\n' in junk:
            junk = junk.replace(b'\r\n\r\n', b'\r\nxx')
        try:
            c.send(junk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertTrue(c.wait_closed(5), 'garbage stream: connection '
                        'left open')
        self.assertPrompt()

    def test_tcp_garbage_headers_closes_connection(self):
        # printable, CRLF-separated, but never ends its headers
        c = self.tcp()
        line = b'X-Junk: ' + b'a' * 70 + b'\r\n'
        try:
            c.send(b'OPTIONS sip:example.test SIP/2.0\r\n' + line * 200)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertTrue(c.wait_closed(5), 'endless headers: connection '
                        'left open')
        self.assertPrompt()


class DefaultLimitTest(harness.HeraldTestCase):

    def test_udp_20k_under_default_limit_200(self):
        # the default limit is 65535 bytes
        c = self.udp()
        self.assertStatus(c.request(sized_options(c, 20000)), 200)

    def test_tcp_40k_under_default_limit_200(self):
        c = self.tcp()
        r = c.request(sized_options(c, 40000, transport='TCP'))
        self.assertStatus(r, 200)


class SlowClientTest(PromptMixin, harness.HeraldTestCase):

    def test_one_byte_per_second_does_not_block_others(self):
        slow = self.tcp()
        data = bytes(self.req('OPTIONS', slow))
        for i in range(3):
            try:
                slow.send(data[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break       # herald may cut a slow sender; that is fine
            t0 = time.monotonic()
            self.assertPrompt()
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))

    def test_many_idle_connections_do_not_block_others(self):
        conns = [self.tcp() for _ in range(50)]
        for i, c in enumerate(conns):
            c.send(b'OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/TCP '
                   + str(i).encode())
        self.assertPrompt()

    def test_client_that_never_reads(self):
        # a peer that never reads its responses: herald must not block
        c = self.tcp()
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        req = bytes(self.req('OPTIONS', c))
        stop = threading.Event()

        def flood():
            try:
                c.sock.settimeout(0.2)
                for _ in range(20000):
                    if stop.is_set():
                        return
                    c.sock.sendall(req)
            except OSError:
                pass
        th = threading.Thread(target=flood, daemon=True)
        th.start()
        try:
            time.sleep(0.5)
            self.assertPrompt()
        finally:
            stop.set()
            th.join(5)


class IdleTimeoutTest(harness.HeraldTestCase):
    herald_args = ['--tcp-idle-timeout', '1']

    def test_idle_connection_closed(self):
        c = self.tcp()
        t0 = time.monotonic()
        self.assertTrue(c.wait_closed(4), 'idle connection not closed')
        took = time.monotonic() - t0
        self.assertGreater(took, 0.5, 'closed too early: %.2f s' % took)
        self.assertLess(took, 3.0)

    def test_busy_connection_kept_then_closed(self):
        c = self.tcp()
        for n in range(1, 5):
            r = c.request(self.req('OPTIONS', c, cseq=n))
            self.assertStatus(r, 200, msg='request %d on a busy '
                              'connection: %r' % (n, r))
            time.sleep(0.5)
        t0 = time.monotonic()
        self.assertTrue(c.wait_closed(4), 'idle connection not closed')
        self.assertLess(time.monotonic() - t0, 3.0)


@unittest.skipUnless(harness.ipv6_available(), '::1 not available')
class Ipv6Test(harness.HeraldTestCase):
    autostart = False

    def test_options_udp_and_tcp_on_ipv6(self):
        h = self.start_herald(host='::1')
        u = self.udp(h)
        self.assertEqual(u.family, socket.AF_INET6)
        r = u.request(self.req('OPTIONS', u))
        self.assertStatus(r, 200)
        params = via_parts(r.get('Via'))[2]
        self.assertEqual(params.get('rport'), str(u.port))
        self.assertEqual(params.get('received'), '::1')
        t = self.tcp(h)
        self.assertStatus(t.request(self.req('OPTIONS', t)), 200)

    def test_ipv4_and_ipv6_on_one_server(self):
        h = self.start_herald(host='::1', args=[
            '--sip-listen', 'udp:127.0.0.1:{port}',
            '--sip-listen', 'tcp:127.0.0.1:{port}'])
        u6 = self.udp(h)
        self.assertStatus(u6.request(self.req('OPTIONS', u6)), 200)
        u4 = UdpClient(('127.0.0.1', h.port))
        self.addCleanup(u4.close)
        self.assertStatus(u4.request(self.req('OPTIONS', u4)), 200)
        t4 = harness.TcpClient(('127.0.0.1', h.port))
        self.addCleanup(t4.close)
        self.assertStatus(t4.request(self.req('OPTIONS', t4)), 200)


class ResponseRoutingTest(harness.HeraldTestCase):
    """RFC 3261 18.2.1/18.2.2 and RFC 3581: received, rport, and where a
    UDP response is sent."""

    def catcher(self):
        """A second socket on 127.0.0.1 to catch misdirected responses."""
        return self.udp()

    def test_rport_same_host_received_anyway(self):
        # RFC 3581 4: with rport, received MUST be added "even if it is
        # identical to the value of the sent-by component"
        c = self.udp()
        r = c.request(self.req('OPTIONS', c))
        self.assertStatus(r, 200)
        params = via_parts(r.get('Via'))[2]
        self.assertEqual(params.get('rport'), str(c.port))
        self.assertEqual(params.get('received'), '127.0.0.1')

    def test_no_rport_same_host_no_received(self):
        # RFC 3261 18.2.1: received only when sent-by differs from the
        # source address
        c = self.udp()
        r = c.request(self.req('OPTIONS', c, rport=False))
        self.assertStatus(r, 200)
        params = via_parts(r.get('Via'))[2]
        self.assertNotIn('received', params)
        self.assertNotIn('rport', params)

    def test_rport_other_host_gets_received(self):
        # Via names another host (127.0.0.2): received= says where it
        # really came from, and the response still goes to the source
        c = self.udp()
        req = make_request('OPTIONS', '127.0.0.2', c.port)
        r = c.request(req)
        self.assertStatus(r, 200)
        params = via_parts(r.get('Via'))[2]
        self.assertEqual(params.get('received'), '127.0.0.1')
        self.assertEqual(params.get('rport'), str(c.port))

    def test_rport_response_to_source_port_not_via_port(self):
        c = self.udp()
        other = self.catcher()
        req = make_request('OPTIONS', '127.0.0.1', other.port, rport=True)
        r = c.request(req)
        self.assertStatus(r, 200, msg='no response at the source port '
                          '(RFC 3581 4)')
        params = via_parts(r.get('Via'))[2]
        self.assertEqual(params.get('rport'), str(c.port))
        self.assertSilent(other, 0.2)

    def test_no_rport_response_to_via_port(self):
        # RFC 3261 18.2.2: without rport, to the sent-by port
        c = self.udp()
        other = self.catcher()
        req = make_request('OPTIONS', '127.0.0.1', other.port, rport=False)
        c.send(req)
        r = other.recv()
        self.assertStatus(r, 200, msg='no response at the Via port')
        params = via_parts(r.get('Via'))[2]
        self.assertNotIn('rport', params)
        self.assertNotIn('received', params)
        self.assertSilent(c, 0.2)

    def test_no_rport_other_host_to_received_and_via_port(self):
        # sent-by host differs: received=source, response to source IP at
        # the sent-by port
        c = self.udp()
        other = self.catcher()
        req = make_request('OPTIONS', '127.0.0.2', other.port, rport=False)
        c.send(req)
        r = other.recv()
        self.assertStatus(r, 200, msg='no response at received:Via port')
        params = via_parts(r.get('Via'))[2]
        self.assertEqual(params.get('received'), '127.0.0.1')
        self.assertSilent(c, 0.2)

    def test_tcp_response_on_same_connection(self):
        # whatever the Via says, a TCP response uses the connection
        c = self.tcp()
        other = harness.free_port()
        req = make_request('OPTIONS', '127.0.0.1', other, transport='TCP',
                           rport=False)
        self.assertStatus(c.request(req), 200)


if __name__ == '__main__':
    harness.main()
