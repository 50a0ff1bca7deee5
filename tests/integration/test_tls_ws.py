#!/usr/bin/env python3
"""TLS, WebSocket and secure WebSocket transports (RFC 3261 26, RFC 6455,
RFC 7118) and flows (RFC 5626): handshakes good and bad, frames good and
bad, deadlines, client certificates, SIGHUP reload, answers and NOTIFYs
over the connection a request came on, what happens when it is gone, and
a subscription made over WSS across kill -9. The test CA is made by the
test (tlsca.py)."""

import json
import os
import signal
import socket
import ssl
import struct
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tlsca  # noqa: E402
from adminapi import query  # noqa: E402
import wsclient  # noqa: E402
from phone import PASSWORD, Phone  # noqa: E402
from watcher import Endpoint, Registrant, Watcher  # noqa: E402
from wsclient import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING,  # noqa: E402
                      OP_TEXT, TlsClient, WsClient, frame)

_ca = {}


def ca():
    """One test CA for the whole run (made once: openssl takes a while)."""
    if 'ca' not in _ca:
        d = tempfile.mkdtemp(prefix='herald-ca-')
        _ca['ca'] = tlsca.make(d)
    return _ca['ca']


class SecureCase(harness.HeraldTestCase):
    """Herald with udp/tcp on its port and tls, ws, wss on ports of their
    own."""
    autostart = False
    extra_args = []

    def setUp(self):
        super().setUp()
        self.ca = ca()
        self.ports = {t: harness.free_port() for t in ('tls', 'ws', 'wss')}
        self.herald = self.start_herald(self.args())

    def args(self, cert=None, key=None):
        a = ['--tls-cert', cert or self.ca.server_cert,
             '--tls-key', key or self.ca.server_key]
        for t, p in self.ports.items():
            a += ['--sip-listen', '%s:127.0.0.1:%d' % (t, p)]
        return a + self.extra_args

    def addr(self, tp, h=None):
        return ('127.0.0.1', self.ports[tp])

    def tls(self, **kw):
        c = TlsClient(self.addr('tls'), self.ca.ca_cert, **kw)
        self.addCleanup(c.close)
        return c

    def ws(self, secure=False, **kw):
        c = WsClient(self.addr('wss' if secure else 'ws'),
                     ca=self.ca.ca_cert if secure else None, **kw)
        self.addCleanup(c.close)
        return c

    def options(self, c):
        return c.request(self.req('OPTIONS', c))


class TlsTest(SecureCase):
    extra_args = ['--handshake-timeout', '1']

    def test_options_over_tls(self):
        c = self.tls()
        r = self.options(c)
        self.assertStatus(r, 200)
        self.assertTrue(r.get('Via').startswith('SIP/2.0/TLS '), r)
        self.assertEqual(c.peer_cn(), 'herald-test-server')
        self.assertEqual(c.sock.version() in ('TLSv1.2', 'TLSv1.3'), True)

    def test_tls_1_1_refused(self):
        ctx = wsclient.tls_context(self.ca.ca_cert)
        # the client offers only TLS 1.0 and 1.1 (allowed at security
        # level 0): the server must say no
        ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        raw = socket.create_connection(self.addr('tls'), timeout=3)
        with self.assertRaises((ssl.SSLError, OSError)):
            ctx.wrap_socket(raw, server_hostname='127.0.0.1')
        raw.close()

    def test_register_over_tls(self):
        c = self.tls()
        self.herald.add_user('alice@example.test', PASSWORD)
        p = Phone(self, c)
        r = p.register(['<sip:alice@%s:%d;transport=tls>' % (c.host,
                                                           c.port)])
        self.assertStatus(r, 200)
        rows = query(self.herald.db, 'SELECT received FROM bindings')
        self.assertIn('tls:127.0.0.1:%d' % c.port, str(rows))

    def test_handshake_deadline(self):
        """A peer that opens and says nothing is closed after
        --handshake-timeout; others are served meanwhile."""
        silent = socket.create_connection(self.addr('tls'), timeout=3)
        self.addCleanup(silent.close)
        t0 = time.monotonic()
        self.assertStatus(self.options(self.tls()), 200)
        self.assertTrue(wsclient.wait_readable_closed(silent, 4))
        self.assertLess(time.monotonic() - t0, 3.5)
        self.herald.wait_log('TLS handshake with 127.0.0.1:')
        m = harness.metrics(self.herald)
        self.assertGreaterEqual(
            harness.metric(m, 'herald_sip_handshake_timeouts_total'), 1)

    def test_plain_sip_to_tls_port(self):
        """Not TLS at all: the handshake fails, said in the log, the
        connection closed."""
        s = socket.create_connection(self.addr('tls'), timeout=3)
        self.addCleanup(s.close)
        s.sendall(bytes(harness.make_request('OPTIONS', '127.0.0.1', 1,
                                             transport='TLS')))
        self.assertTrue(wsclient.wait_readable_closed(s, 3))
        self.herald.wait_log('TLS handshake with 127.0.0.1:')
        m = harness.metrics(self.herald)
        self.assertGreaterEqual(
            harness.metric(m, 'herald_sip_tls_failures_total'), 1)
        self.assertStatus(self.options(self.tls()), 200)



def copy(src, dst):
    with open(src, 'rb') as f, open(dst, 'wb') as g:
        g.write(f.read())


class ReloadTest(SecureCase):
    """SIGHUP reads --tls-cert and --tls-key again, as a renewal wants."""

    def args(self, **kw):
        d = tempfile.mkdtemp(prefix='herald-live-')
        self.live = (os.path.join(d, 'cert.pem'), os.path.join(d, 'key.pem'))
        copy(self.ca.server_cert, self.live[0])
        copy(self.ca.server_key, self.live[1])
        return super().args(cert=self.live[0], key=self.live[1])

    def hup(self, want):
        seen = self.herald.log_text().count(want)
        self.herald.proc.send_signal(signal.SIGHUP)
        self.herald.wait_log(want, seen)

    def test_sighup_reloads_the_certificate(self):
        old = self.tls()
        self.assertEqual(old.peer_cn(), 'herald-test-server')
        copy(self.ca.server2_cert, self.live[0])
        copy(self.ca.server2_key, self.live[1])
        self.hup('TLS certificate and key read again')
        self.assertEqual(self.tls().peer_cn(), 'herald-test-server-2')
        # the connection made before goes on with the old one
        self.assertStatus(self.options(old), 200)
        # a broken file: the pair read before stays, and it is said
        with open(self.live[1], 'w') as f:
            f.write('not a key\n')
        self.hup('TLS files not reloaded')
        self.assertEqual(self.tls().peer_cn(), 'herald-test-server-2')


class ClientCertTest(SecureCase):
    def args(self, **kw):
        return super().args(**kw) + ['--tls-client-ca', self.ca.ca_cert]

    def test_client_certificate_required(self):
        with self.assertRaises((ssl.SSLError, OSError, AssertionError)):
            c = TlsClient(self.addr('tls'), self.ca.ca_cert)
            # TLS 1.3: the refusal may come with the first read
            self.addCleanup(c.close)
            r = self.options(c)
            if r is None:
                raise AssertionError('refused')
        c = self.tls(cert=self.ca.client_cert, key=self.ca.client_key)
        self.assertStatus(self.options(c), 200)


class BadTlsConfigTest(harness.HeraldTestCase):
    autostart = False

    def test_missing_key_says_so(self):
        h = harness.Herald(['--sip-listen', 'tls:127.0.0.1:%d' %
                            harness.free_port()])
        h.port = harness.free_port()
        h.start = None  # not started by the harness: it must fail
        import subprocess
        r = subprocess.run(h.argv(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20,
                           env=h.environ())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b'needs --tls-cert and --tls-key', r.stdout)

    def test_key_not_matching(self):
        c = ca()
        h = harness.Herald(['--tls-cert', c.server_cert, '--tls-key',
                            c.server2_key])
        h.port = harness.free_port()
        import subprocess
        r = subprocess.run(h.argv(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20,
                           env=h.environ())
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stdout, b'--tls-key .*(does not match|key '
                         b'values mismatch)')


class WsHandshakeTest(SecureCase):
    extra_args = ['--handshake-timeout', '1']

    def raw(self, tp='ws'):
        s = socket.create_connection(self.addr(tp), timeout=3)
        self.addCleanup(s.close)
        return s

    def answer(self, s, data):
        s.sendall(data)
        buf = b''
        while b'\r\n\r\n' not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.decode('utf-8', 'replace')

    def test_ws_and_wss_upgrade(self):
        for secure in (False, True):
            c = self.ws(secure=secure)
            self.assertIn('Sec-WebSocket-Protocol: sip', c.http)
            r = self.options(c)
            self.assertStatus(r, 200)
            via = r.get('Via')
            self.assertTrue(via.startswith('SIP/2.0/%s ' % c.transport),
                            via)

    def test_without_sip_subprotocol_400(self):
        key = 'dGhlIHNhbXBsZSBub25jZQ=='
        for proto in (None, 'chat'):
            s = self.raw()
            a = self.answer(s, wsclient.upgrade_request(key,
                                                        protocol=proto))
            self.assertTrue(a.startswith('HTTP/1.1 400'), a)
            self.assertTrue(wsclient.wait_readable_closed(s, 3))

    def test_wrong_version_426(self):
        s = self.raw()
        a = self.answer(s, wsclient.upgrade_request(
            'dGhlIHNhbXBsZSBub25jZQ==', version='8'))
        self.assertTrue(a.startswith('HTTP/1.1 426'), a)
        self.assertIn('Sec-WebSocket-Version: 13', a)

    def test_post_405(self):
        s = self.raw()
        a = self.answer(s, wsclient.upgrade_request(
            'dGhlIHNhbXBsZSBub25jZQ==', method='POST'))
        self.assertTrue(a.startswith('HTTP/1.1 405'), a)

    def test_sip_before_upgrade(self):
        """SIP bytes where the upgrade belongs: refused, closed."""
        s = self.raw()
        a = self.answer(s, bytes(harness.make_request('OPTIONS', 'x', 1)))
        self.assertTrue(a.startswith('HTTP/1.1 4'), a)
        self.assertTrue(wsclient.wait_readable_closed(s, 3))

    def test_upgrade_deadline(self):
        s = self.raw('wss')
        t0 = time.monotonic()
        self.assertTrue(wsclient.wait_readable_closed(s, 4))
        self.assertLess(time.monotonic() - t0, 3.5)
        s = self.raw('ws')
        s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n')   # never ends
        self.assertTrue(wsclient.wait_readable_closed(s, 4))
        self.assertStatus(self.options(self.ws()), 200)


class WsFrameTest(SecureCase):
    extra_args = ['--max-message-size', '4096']

    def test_fragmented_message(self):
        c = self.ws()
        data = bytes(self.req('OPTIONS', c))
        a, b, rest = data[:10], data[10:50], data[50:]
        c.send_frame(OP_TEXT, a, fin=False)
        c.send_frame(OP_CONT, b, fin=False)
        c.send_frame(OP_PING, b'mid')        # control frames may come
        c.send_frame(OP_CONT, rest)
        r = c.recv()
        self.assertStatus(r, 200)
        self.assertEqual(c.pongs, [b'mid'])

    def test_binary_message(self):
        c = self.ws(secure=True)
        c.send_frame(OP_BINARY, bytes(self.req('OPTIONS', c)))
        self.assertStatus(c.recv(), 200)

    def test_ping_pong(self):
        c = self.ws(secure=True)
        c.send_frame(OP_PING, b'hello')
        self.assertEqual(c.recv_frame(), (wsclient.OP_PONG, b'hello'))
        self.assertStatus(self.options(c), 200)

    def test_crlf_keepalive(self):
        c = self.ws()
        c.send(b'\r\n\r\n')
        self.assertEqual(c.recv_frame(), (OP_TEXT, b'\r\n'))

    def test_oversize_frame_1009(self):
        c = self.ws()
        c.send_raw(frame(OP_TEXT, b'x' * 5000))
        self.assertEqual(c.wait_close(), 1009)
        self.assertStatus(self.options(self.ws()), 200)

    def test_oversize_fragments_1009(self):
        c = self.ws()
        for _ in range(3):
            c.send_frame(OP_TEXT if _ == 0 else OP_CONT, b'x' * 2000,
                         fin=False)
        self.assertEqual(c.wait_close(), 1009)

    def test_unmasked_1002(self):
        c = self.ws()
        c.send_raw(frame(OP_TEXT, bytes(self.req('OPTIONS', c)),
                         mask=False))
        self.assertEqual(c.wait_close(), 1002)

    def test_bad_utf8_1007(self):
        c = self.ws()
        c.send_frame(OP_TEXT, b'OPTIONS \xff\xfe')
        self.assertEqual(c.wait_close(), 1007)

    def test_close_echoed(self):
        c = self.ws(secure=True)
        c.send_frame(OP_CLOSE, struct.pack('!H', 1001) + b'bye')
        self.assertEqual(c.wait_close(), 1001)

    def test_bad_sip_in_a_good_frame(self):
        """A SIP error is answered in SIP; the connection stays."""
        c = self.ws()
        req = self.req('OPTIONS', c)
        req.set('CSeq', 'x OPTIONS')
        r = c.request(req)
        self.assertStatus(r, 400)
        self.assertStatus(self.options(c), 200)


class FlowTest(SecureCase):
    """Subscriptions over a connection: NOTIFYs come back over it; once it
    is gone they fail and the subscription ends, unless the same instance
    registered a new flow since (RFC 5626)."""

    INSTANCE = '"<urn:uuid:6f1e2f8c-2d7b-4a5e-9d2e-123456789abc>"'

    def setUp(self):
        super().setUp()
        self.herald.add_user('alice@example.test', PASSWORD)
        self.reg = Registrant(self, self.herald)

    def watcher(self, c, host='q8zfx2ab.invalid'):
        ep = Endpoint(self, self.herald, tcp=True, client=c)
        tp = c.transport.lower()
        tp = 'ws' if tp == 'wss' else tp
        return Watcher(self, self.herald, endpoint=ep,
                       contact='<sip:w7k2@%s;transport=%s>;+sip.instance=%s'
                       % (host, tp, self.INSTANCE))

    def register_flow(self, c, host='q8zfx2ab.invalid'):
        """REGISTER as JsSIP does, over c (its Call-ID kept across
        connections, as a UA's is)."""
        if not hasattr(self, 'phone'):
            self.phone = Phone(self, c)
        p = self.phone
        p.c = c
        r = p.register(['<sip:w7k2@%s;transport=ws>;reg-id=1;'
                        '+sip.instance=%s' % (host, self.INSTANCE)],
                       extra=[('Supported', 'path, outbound')])
        self.assertStatus(r, 200)
        return r

    def test_notify_over_the_connection(self):
        for tp in ('tls', 'ws', 'wss'):
            c = self.tls() if tp == 'tls' else self.ws(secure=tp == 'wss')
            w = self.watcher(c)
            r = w.subscribe()
            self.assertStatus(r, 200)
            ct = r.get('Contact')
            self.assertIn(';transport=%s' % tp, ct)
            self.assertIn(':%d' % self.ports[tp], ct)
            n = w.recv_notify()
            self.assertTrue(n.get('Via').startswith(
                'SIP/2.0/%s ' % tp.upper()), n)
            self.reg.add('sip:alice@192.0.2.7:5060')
            n = w.recv_notify()
            self.assertIn('sip:alice@192.0.2.7:5060', n.body.decode())
            w.unsubscribe()

    def test_outbound_register(self):
        c = self.ws(secure=True)
        r = self.register_flow(c)
        self.assertIn('outbound', r.tokens('Require'))
        self.assertEqual(r.get('Flow-Timer'), '120')

    def test_flow_gone_ends_the_subscription(self):
        c = self.ws()
        w = self.watcher(c)
        self.assertStatus(w.subscribe(), 200)
        w.recv_notify()
        c.close()
        seen = self.herald.log_text().count('NOTIFY failed (')
        self.reg.add('sip:alice@192.0.2.8:5060')
        self.herald.wait_log('NOTIFY failed (', seen)
        deadline = time.monotonic() + 5
        while query(self.herald.db, 'SELECT count(*) FROM subscriptions')[
                0][0] != '0':
            self.assertLess(time.monotonic(), deadline, 'still stored')
            time.sleep(0.05)

    def test_new_flow_of_the_instance_carries_it(self):
        c = self.ws(secure=True)
        self.register_flow(c)
        w = self.watcher(c)
        self.assertStatus(w.subscribe(), 200)
        w.recv_notify()
        c.close()
        # the browser comes back on a new connection and registers again:
        # the NOTIFY of that refresh comes over it already
        c2 = self.ws(secure=True)
        w.ep.c = c2
        self.register_flow(c2)
        n = w.recv_notify()
        self.assertIn('event="refreshed"', n.body.decode())
        self.reg.add('sip:alice@192.0.2.9:5060')
        n = w.recv_notify()
        self.assertIn('sip:alice@192.0.2.9:5060', n.body.decode())


class IdleTest(SecureCase):
    """--tcp-idle-timeout: an idle WebSocket connection gets a PING and is
    kept while it answers; a registered flow is kept while its binding
    lives; anything else idle is closed."""
    extra_args = ['--tcp-idle-timeout', '1']

    def test_ws_ping_when_idle(self):
        quiet = self.ws()         # answers nothing
        live = self.ws(secure=True)
        self.assertEqual(quiet.recv_frame(timeout=3), (OP_PING, b''))
        self.assertEqual(live.recv_frame(timeout=3), (OP_PING, b''))
        live.send_frame(wsclient.OP_PONG, b'')
        self.assertTrue(quiet.wait_closed(3))
        # the live one is pinged again and again, never closed
        for _ in range(2):
            self.assertEqual(live.recv_frame(timeout=3), (OP_PING, b''))
            live.send_frame(wsclient.OP_PONG, b'')
        self.assertStatus(self.options(live), 200)

    def test_registered_flow_kept(self):
        self.herald.add_user('alice@example.test', PASSWORD)
        flow, other = self.tls(), self.tls()
        r = Phone(self, flow).register(['<sip:alice@%s:%d;transport=tls>'
                                        % (flow.host, flow.port)],
                                       expires=60)
        self.assertStatus(r, 200)
        self.assertStatus(self.options(other), 200)
        self.assertTrue(other.wait_closed(3), 'idle, not a flow: closed')
        time.sleep(1.5)
        self.assertStatus(self.options(flow), 200)


class WssRestartTest(SecureCase):
    def test_subscription_over_wss_survives_kill9(self):
        self.herald.add_user('alice@example.test', PASSWORD)
        c = self.ws(secure=True)
        ep = Endpoint(self, self.herald, tcp=True, client=c)
        w = Watcher(self, self.herald, endpoint=ep,
                    contact='<sip:b9x@r4nd0m.invalid;transport=ws>')
        self.assertStatus(w.subscribe(), 200)
        w.recv_notify()
        h2 = self.restart_herald(self.herald)
        self.herald = h2
        # stored with its transport, and so shown by the admin API
        req = urllib.request.Request(
            h2.admin_url + '/v1/subscriptions',
            headers={'Authorization': 'Bearer ' + harness.ADMIN_TOKEN})
        with urllib.request.urlopen(req, timeout=10) as resp:
            items = json.loads(resp.read())['items']
        self.assertEqual([i['dialog']['transport'] for i in items],
                         ['wss'])
        # the browser re-connects and refreshes in its dialog
        c2 = WsClient(self.addr('wss'), ca=self.ca.ca_cert)
        self.addCleanup(c2.close)
        ep.c = c2
        w.expect_jump = True
        r = w.refresh(600)
        self.assertStatus(r, 200)
        w.recv_notify()
        reg = Registrant(self, h2)
        reg.add('sip:alice@192.0.2.10:5060')
        n = w.recv_notify()
        self.assertIn('sip:alice@192.0.2.10:5060', n.body.decode())


if __name__ == '__main__':
    unittest.main()
