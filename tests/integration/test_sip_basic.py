#!/usr/bin/env python3
"""OPTIONS, retransmissions, pipelining, header spellings, shutdown."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Herald, addr_tag, squeeze, via_parts  # noqa: E402


class OptionsTest(harness.HeraldTestCase):

    def check_options_200(self, req, r, client, transport):
        self.assertStatus(r, 200, 'OK')
        self.assertIn('OPTIONS', r.tokens('Allow'))
        self.assertIsNotNone(r.get('Accept'), 'no Accept:\n%s' % r)
        self.assertIsNotNone(r.get('Supported'), 'no Supported:\n%s' % r)
        self.assertIsNotNone(r.get('Server'), 'no Server:\n%s' % r)
        self.assertEqual(r.get('Content-Length'), '0')
        self.assertEqual(r.body, b'')
        # copied from the request (RFC 3261 8.2.6.2)
        self.assertEqual(r.get('From'), req.get('From'))
        self.assertEqual(r.get('Call-ID'), req.get('Call-ID'))
        self.assertEqual(squeeze(r.get('CSeq')), squeeze(req.get('CSeq')))
        # To gets a tag, the URI stays
        to = r.get('To')
        self.assertTrue(to.startswith(req.get('To')), to)
        self.assertTrue(addr_tag(to), 'no To tag: %s' % to)
        # the top Via is ours, with rport filled in and received added
        # even though it equals sent-by (RFC 3581 4)
        self.assertEqual(len(r.get_all('Via')), 1, str(r))
        proto, sentby, params = via_parts(r.get('Via'))
        rproto, rsentby, rparams = via_parts(req.get('Via'))
        self.assertEqual(proto, 'SIP/2.0/' + transport)
        self.assertEqual(sentby, rsentby)
        self.assertEqual(params['branch'], rparams['branch'])
        self.assertEqual(params.get('rport'), str(client.port))
        self.assertEqual(params.get('received'), client.host)

    def test_options_udp(self):
        c = self.udp()
        req = self.req('OPTIONS', c)
        r = c.request(req)
        self.check_options_200(req, r, c, 'UDP')

    def test_options_tcp(self):
        c = self.tcp()
        req = self.req('OPTIONS', c)
        r = c.request(req)
        self.check_options_200(req, r, c, 'TCP')

    def test_options_tcp_several_on_one_connection(self):
        c = self.tcp()
        for n in range(1, 4):
            req = self.req('OPTIONS', c, cseq=n)
            r = c.request(req)
            self.assertStatus(r, 200)
            self.assertEqual(squeeze(r.get('CSeq')), '%d OPTIONS' % n)

    def test_options_tcp_in_pieces(self):
        # a message split across several segments is reassembled
        c = self.tcp()
        data = bytes(self.req('OPTIONS', c))
        for i in range(0, len(data), 37):
            c.send(data[i:i + 37])
            time.sleep(0.01)
        self.assertStatus(c.recv(), 200)

    def test_options_tcp_after_keepalive_crlf(self):
        # RFC 5626 4.4.1: CRLFCRLF pings between messages are not messages
        c = self.tcp()
        c.send(b'\r\n\r\n')
        r = c.request(self.req('OPTIONS', c))
        self.assertStatus(r, 200)

    def test_all_vias_copied_in_order(self):
        # RFC 3261 8.2.6.2: every Via, in order; only the top one changes
        c = self.udp()
        req = self.req('OPTIONS', c)
        top = req.get('Via')
        req.add('Via', 'SIP/2.0/UDP proxy1.example.test:5070;'
                'branch=z9hG4bKp1;received=192.0.2.7')
        req.add('Via', 'SIP/2.0/TCP proxy2.example.test;branch=z9hG4bKp2, '
                'SIP/2.0/UDP ua.example.test;branch=z9hG4bKua')
        r = c.request(req)
        self.assertStatus(r, 200)
        vias = [v.strip() for v in ','.join(r.get_all('Via')).split(',')]
        self.assertEqual(len(vias), 4, str(r))
        self.assertEqual(via_parts(vias[0])[2]['branch'],
                         via_parts(top)[2]['branch'])
        self.assertEqual(vias[1:], [
            'SIP/2.0/UDP proxy1.example.test:5070;branch=z9hG4bKp1;'
            'received=192.0.2.7',
            'SIP/2.0/TCP proxy2.example.test;branch=z9hG4bKp2',
            'SIP/2.0/UDP ua.example.test;branch=z9hG4bKua'])

    def test_options_max_forwards_zero_is_200(self):
        # the server is the final recipient (RFC 3261 16.3 item 2, 11)
        c = self.udp()
        req = self.req('OPTIONS', c).set('Max-Forwards', 0)
        self.assertStatus(c.request(req), 200)

    def test_options_other_domain_uri(self):
        # OPTIONS to a user of a served domain is answered too
        c = self.udp()
        req = self.req('OPTIONS', c, ruri='sip:bob@example.test')
        self.assertStatus(c.request(req), 200)


class RetransmissionTest(harness.HeraldTestCase):

    def test_options_retransmission_identical(self):
        c = self.udp()
        data = bytes(self.req('OPTIONS', c))
        c.send(data)
        r1 = c.recv_raw()
        self.assertIsNotNone(r1, 'no response')
        c.send(data)
        r2 = c.recv_raw()
        self.assertIsNotNone(r2, 'no response to the retransmission')
        self.assertEqual(r1, r2)
        self.assertSilent(c, 0.2)

    def test_subscribe_retransmission_identical_489(self):
        c = self.udp()
        req = self.req('SUBSCRIBE', c, ruri='sip:bob@example.test')
        req.add('Event', 'no-such-package')
        req.add('Contact', '<sip:alice@127.0.0.1:%d>' % c.port)
        data = bytes(req)
        c.send(data)
        r1 = c.recv_raw()
        self.assertIsNotNone(r1, 'no response')
        self.assertStatus(harness.Response(r1), 489, 'Bad Event')
        c.send(data)
        r2 = c.recv_raw()
        self.assertIsNotNone(r2, 'no response to the retransmission')
        self.assertEqual(r1, r2)

    def test_register_retransmission_challenged_again(self):
        """The registrar's challenge keeps no transaction (RFC 3261
        8.2.7): a retransmission is challenged again, with the same
        To-tag and a fresh nonce, either of which the client may use."""
        c = self.udp()
        req = self.req('REGISTER', c)
        req.set('To', '<sip:alice@example.test>')
        req.add('Contact', '<sip:alice@127.0.0.1:%d>' % c.port)
        data = bytes(req)
        c.send(data)
        r1 = c.recv_raw()
        self.assertIsNotNone(r1, 'no response')
        self.assertStatus(harness.Response(r1), 401, 'Unauthorized')
        c.send(data)
        r2 = c.recv_raw()
        self.assertIsNotNone(r2, 'no response to the retransmission')
        r1, r2 = harness.Response(r1), harness.Response(r2)
        self.assertStatus(r2, 401, 'Unauthorized')
        for h in ('via', 'from', 'to', 'call-id', 'cseq'):
            self.assertEqual(r1.get(h), r2.get(h), h)
        self.assertTrue(r2.get('www-authenticate').startswith('Digest '))

    def test_event_methods_501(self):
        # Herald subscribes to nothing, so it takes no NOTIFY
        for meth in ('NOTIFY',):
            with self.subTest(method=meth):
                c = self.udp()
                req = self.req(meth, c, ruri='sip:bob@example.test')
                req.add('Event', 'presence')
                req.add('Contact', '<sip:alice@127.0.0.1:%d>' % c.port)
                self.assertStatus(c.request(req), 501, 'Not Implemented')


class PipelineTest(harness.HeraldTestCase):

    def test_100_pipelined_options_tcp(self):
        c = self.tcp()
        callid = harness.rand_token(16) + '@127.0.0.1'
        data = b''.join(bytes(self.req('OPTIONS', c, cseq=n, call_id=callid))
                        for n in range(1, 101))
        c.send(data)
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 100 and time.monotonic() < deadline:
            r = c.recv(deadline - time.monotonic())
            if r is None:
                break
            self.assertEqual(r.status, 200, str(r))
            got.append(int(r.get('CSeq').split()[0]))
        self.assertEqual(got, list(range(1, 101)))


class HeaderSpellingTest(harness.HeraldTestCase):

    def test_net_sip_lower_case_names(self):
        # Net::SIP writes Call-id and Cseq (INTEROP.md)
        c = self.udp()
        req = self.req('OPTIONS', c)
        req.rename('Call-ID', 'Call-id').rename('CSeq', 'Cseq')
        req.rename('Max-Forwards', 'max-forwards').rename('Via', 'via')
        req.rename('From', 'from').rename('To', 'TO')
        req.add('content-length', 0)
        r = c.request(req)
        self.assertStatus(r, 200)
        self.assertEqual(r.get('Call-ID'), req.get('Call-ID'))
        self.assertEqual(squeeze(r.get('CSeq')), squeeze(req.get('CSeq')))

    def test_compact_forms(self):
        c = self.udp()
        req = self.req('OPTIONS', c)
        for long, short in (('Via', 'v'), ('From', 'f'), ('To', 't'),
                            ('Call-ID', 'i')):
            req.rename(long, short)
        req.add('l', 0)
        r = c.request(req)
        self.assertStatus(r, 200)
        self.assertEqual(r.get('Call-ID'), req.get('Call-ID'))
        self.assertEqual(r.get('From'), req.get('From'))
        self.assertEqual(via_parts(r.get('Via'))[2]['branch'],
                         via_parts(req.get('Via'))[2]['branch'])

    def test_compact_forms_tcp(self):
        c = self.tcp()
        req = self.req('OPTIONS', c)
        for long, short in (('Via', 'v'), ('From', 'f'), ('To', 't'),
                            ('Call-ID', 'i')):
            req.rename(long, short)
        req.add('l', 0)
        self.assertStatus(c.request(req), 200)

    def test_extra_whitespace_and_folding(self):
        # RFC 3261 7.3.1: any amount of whitespace around the colon,
        # header values may be folded onto continuation lines
        c = self.udp()
        req = self.req('OPTIONS', c)
        callid = req.get('Call-ID')
        req.remove('Call-ID').add('Call-ID  ', '   ' + callid)
        req.set('Subject', 'a folded\r\n  subject line')
        r = c.request(req)
        self.assertStatus(r, 200)
        self.assertEqual(r.get('Call-ID'), callid)


class ShutdownTest(harness.HeraldTestCase):
    autostart = False

    def test_sigterm_exit_zero(self):
        h = self.start_herald()
        c = self.udp(h)
        self.assertStatus(c.request(self.req('OPTIONS', c)), 200)
        t = self.tcp(h)
        self.assertStatus(t.request(self.req('OPTIONS', t)), 200)
        # an open TCP connection must not keep herald from exiting
        h.check_stop(signal.SIGTERM)

    def test_sigint_exit_zero(self):
        h = self.start_herald()
        c = self.udp(h)
        self.assertStatus(c.request(self.req('OPTIONS', c)), 200)
        h.check_stop(signal.SIGINT)

    def test_sigterm_with_partial_tcp_message(self):
        h = self.start_herald()
        t = self.tcp(h)
        t.send(bytes(self.req('OPTIONS', t))[:40])
        time.sleep(0.1)
        h.check_stop(signal.SIGTERM)

    def test_env_vars_instead_of_flags(self):
        # every flag has an environment variable of the same name
        h = self.start_herald(listen=False, env={
            'HERALD_SIP_LISTEN': 'udp:127.0.0.1:{port}',
            'HERALD_DOMAIN': 'example.test',
            'HERALD_LOG_LEVEL': 'debug',
            'HERALD_ADMIN_LISTEN': '127.0.0.1:0',
            'HERALD_ADMIN_TOKEN': harness.ADMIN_TOKEN,
        })
        c = self.udp(h)
        self.assertStatus(c.request(self.req('OPTIONS', c)), 200)

    def test_help_lists_flags(self):
        # `herald --help` lists the commands, `herald serve --help` the
        # flags of serve
        env = Herald().environ()
        p = subprocess.run([harness.herald_bin(), '--help'],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10, env=env)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn('serve', (p.stdout + p.stderr).decode())
        p = subprocess.run([harness.herald_bin(), 'serve', '--help'],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10, env=env)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        out = (p.stdout + p.stderr).decode()
        for flag in ('--sip-listen', '--domain', '--log-level',
                     '--max-message-size', '--tcp-idle-timeout',
                     'HERALD_SIP_LISTEN', 'HERALD_MAX_MESSAGE_SIZE'):
            self.assertIn(flag, out)


if __name__ == '__main__':
    harness.main()
