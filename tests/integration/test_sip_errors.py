#!/usr/bin/env python3
"""Methods herald does not serve and malformed messages."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class MethodTest(harness.HeraldTestCase):

    def test_invite_405_with_allow(self):
        # INVITE is redirected unless --redirect none (test_redirect)
        c = self.udp(self.start_herald(['--redirect', 'none']))
        req = self.req('INVITE', c, ruri='sip:bob@example.test')
        req.add('Contact', '<sip:alice@127.0.0.1:%d>' % c.port)
        r = c.request(req)
        self.assertStatus(r, 405, 'Method Not Allowed')
        allow = r.tokens('Allow')
        self.assertIn('OPTIONS', allow)
        self.assertNotIn('INVITE', allow)

    def test_ack_gets_no_response(self):
        # RFC 3261 17: ACK is never answered
        c = self.udp()
        c.send(self.req('ACK', c, ruri='sip:bob@example.test'))
        self.assertSilent(c)
        self.assertAlive()

    def test_cancel_without_transaction_481(self):
        # RFC 3261 9.2
        c = self.udp()
        r = c.request(self.req('CANCEL', c, ruri='sip:bob@example.test'))
        self.assertStatus(r, 481)

    def test_unknown_method_501(self):
        c = self.udp()
        r = c.request(self.req('FOO', c))
        self.assertStatus(r, 501, 'Not Implemented')

    def test_unknown_method_501_tcp(self):
        c = self.tcp()
        r = c.request(self.req('FOO', c))
        self.assertStatus(r, 501, 'Not Implemented')

    def test_require_unknown_extension_420(self):
        # RFC 3261 8.2.2.3
        c = self.udp()
        req = self.req('OPTIONS', c).add('Require', 'foo')
        r = c.request(req)
        self.assertStatus(r, 420, 'Bad Extension')
        self.assertEqual(r.tokens('Unsupported'), ['foo'])

    def test_register_max_forwards_zero_483(self):
        c = self.udp()
        req = self.req('REGISTER', c).set('Max-Forwards', 0)
        req.set('To', '<sip:alice@example.test>')
        r = c.request(req)
        self.assertStatus(r, 483, 'Too Many Hops')


class ServerErrorLogTest(harness.HeraldTestCase):
    """Every 5xx herald sends is logged at warn with its cause (where it
    arose, errno or words) and counted in /metrics by that cause."""

    def wait_log(self, pattern):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            m = re.search(pattern, self.herald.log_text())
            if m:
                return m
            time.sleep(0.05)
        self.fail('no log line %r in:\n%s' % (pattern,
                                                self.herald.log_text()))

    def test_5xx_logged_with_cause_and_counted(self):
        c = self.udp()
        for i in range(3):
            r = c.request(self.req('FOO', c))
            self.assertStatus(r, 501, 'Not Implemented')
        req = self.req('OPTIONS', c, call_id='v3-call')
        req.version = 'SIP/3.0'
        c.send(req)
        self.assertStatus(c.recv(), 505)
        self.wait_log(r'warn +sip +501 Not Implemented to FOO from '
                      r'127\.0\.0\.1:%d over UDP, Call-ID \S+: sip: router: '
                      r'a method Herald does not know' % c.port)
        self.wait_log(r'warn +sip +505 Version Not Supported to OPTIONS '
                      r'from 127\.0\.0\.1:%d over UDP, Call-ID v3-call: '
                      r'sip: parser: not SIP/2\.0' % c.port)
        # a limit's 4xx is logged and counted too
        req = self.req('OPTIONS', c, call_id='many-headers')
        for i in range(300):
            req.add('X-H%d' % i, str(i))
        c.send(req)
        self.assertStatus(c.recv(), 400, 'Too Many Headers')
        self.wait_log(r'warn +sip +400 Too Many Headers to OPTIONS from '
                      r'127\.0\.0\.1:%d over UDP, Call-ID many-headers: '
                      r'sip: parser: more than 256 header values' % c.port)
        m = harness.metrics(self.herald)
        self.assertIn('herald_sip_errors_total{code="400",'
                      'reason="Too Many Headers",where="sip: parser",'
                      'errno=""} 1\n', m)
        self.assertIn('herald_sip_errors_total{code="501",'
                      'reason="Not Implemented",where="sip: router",'
                      'errno=""} 3\n', m)
        self.assertIn('herald_sip_errors_total{code="505",'
                      'reason="Version Not Supported",where="sip: parser",'
                      'errno=""} 1\n', m)
        # and by the few causes a dashboard tells apart
        self.assertIn('herald_sip_server_errors_total{code="501",'
                      'reason="not_implemented"} 3\n', m)
        self.assertIn('herald_sip_server_errors_total{code="505",'
                      'reason="protocol"} 1\n', m)
        self.assertIn('herald_sip_server_errors_total{code="500",'
                      'reason="internal"} 0\n', m)


class BadRequestTest(harness.HeraldTestCase):
    """Every malformed request gets a 400 whose reason says why."""

    def send(self, req, code=400, reason=None):
        c = self.udp()
        r = c.request(req(c) if callable(req) else req)
        self.assertStatus(r, code, reason)
        return r

    def test_bad_cseq_number(self):
        self.send(lambda c: self.req('OPTIONS', c).set('CSeq', 'abc OPTIONS'),
                  400, 'Bad CSeq')

    def test_cseq_method_mismatch(self):
        self.send(lambda c: self.req('OPTIONS', c).set('CSeq', '1 REGISTER'),
                  400, 'CSeq Method Mismatch')

    def test_missing_call_id(self):
        self.send(lambda c: self.req('OPTIONS', c).remove('Call-ID'),
                  400, 'Missing Call-ID')

    def test_multiple_from(self):
        self.send(lambda c: self.req('OPTIONS', c).add(
            'From', '<sip:mallory@example.test>;tag=2'), 400, 'Multiple From')

    def test_udp_body_shorter_than_content_length(self):
        def build(c):
            req = self.req('OPTIONS', c).add('Content-Type', 'text/plain')
            req.add('Content-Length', 100)
            req.body = b'only twenty bytes...'
            return req
        self.send(build, 400, 'Bad Content-Length')

    def test_udp_bytes_after_body_are_discarded(self):
        # RFC 3261 18.3: extra bytes in the datagram are discarded
        def build(c):
            req = self.req('OPTIONS', c).add('Content-Length', 0)
            req.body = b'trailing garbage'
            return req
        self.send(build, 200)

    def test_udp_without_content_length_and_body_200(self):
        # Linphone's un-PUBLISH does this; RFC 3261 18.3 allows it on UDP
        def build(c):
            req = self.req('OPTIONS', c)
            req.content_length = False
            return req
        self.send(build, 200)

    def test_sip_version_3_505(self):
        def build(c):
            req = self.req('OPTIONS', c)
            req.version = 'SIP/3.0'
            return req
        self.send(build, 505, 'Version Not Supported')

    def test_tcp_bad_request_keeps_connection(self):
        # a well-framed but invalid message costs only its own 400
        c = self.tcp()
        r = c.request(self.req('OPTIONS', c).set('CSeq', 'abc OPTIONS'))
        self.assertStatus(r, 400, 'Bad CSeq')
        r = c.request(self.req('OPTIONS', c, cseq=2))
        self.assertStatus(r, 200)

    def test_tcp_without_content_length_400_and_close(self):
        # RFC 3261 18.3: a stream needs Content-Length
        c = self.tcp()
        req = self.req('OPTIONS', c)
        req.content_length = False
        r = c.request(req)
        self.assertStatus(r, 400, 'Missing Content-Length')
        self.assertTrue(c.wait_closed(3), 'connection left open')
        self.assertAlive()


class DroppedTest(harness.HeraldTestCase):
    """Messages that RFC 3261 says to drop: no answer, server alive."""

    def test_request_without_via_dropped(self):
        c = self.udp()
        c.send(self.req('OPTIONS', c).remove('Via'))
        self.assertSilent(c)
        self.assertAlive()

    def test_malformed_response_dropped(self):
        c = self.udp()
        junk = [
            b'SIP/2.0 abc OK\r\nContent-Length: 0\r\n\r\n',
            b'SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n',
            b'SIP/2.0 200\r\n\r\n',
            ('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n'
             'CSeq: x\r\nContent-Length: 0\r\n\r\n'
             % (c.port, harness.new_branch())).encode(),
        ]
        for data in junk:
            c.send(data)
        self.assertSilent(c)
        self.assertAlive()

    def test_stray_response_dropped(self):
        # a well-formed response matching no client transaction
        c = self.udp()
        resp = ('SIP/2.0 200 OK\r\n'
                'Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n'
                'From: <sip:alice@example.test>;tag=1\r\n'
                'To: <sip:bob@example.test>;tag=2\r\n'
                'Call-ID: stray@127.0.0.1\r\n'
                'CSeq: 1 NOTIFY\r\n'
                'Content-Length: 0\r\n\r\n'
                % (self.herald.port, harness.new_branch())).encode()
        c.send(resp)
        self.assertSilent(c)
        self.assertAlive()

    def test_garbage_datagrams_dropped(self):
        c = self.udp()
        for data in (b'', b'\r\n\r\n', b'\x00' * 100, b'hello world',
                     b'OPTIONS\r\n\r\n', b'OPTIONS sip:x SIP/2.0\r\n',
                     os.urandom(1400)):
            c.send(data)
        self.assertSilent(c)
        self.assertAlive()


if __name__ == '__main__':
    harness.main()
