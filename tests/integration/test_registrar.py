#!/usr/bin/env python3
"""The registrar (RFC 3261 10.3) with digest authentication, against a real
PostgreSQL: register, refresh, shorten, unregister, *, query, 423, stale
nonce, replayed nc, wrong password, unknown user, foreign AOR, out-of-order
CSeq, expiry, kill -9 and restart, PostgreSQL going away and coming back."""

import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Herald, UdpClient  # noqa: E402
from phone import PASSWORD, Phone, contacts_of  # noqa: E402


class RegistrarTest(harness.HeraldTestCase):
    herald_args = ['--min-expires', '2']

    def setUp(self):
        super().setUp()
        self.herald.add_user('alice@example.test', PASSWORD)
        self.herald.add_user('bob@example.test', 'bobpw')

    def phone(self, **kw):
        return Phone(self, self.udp(), **kw)

    def test_challenge_offers_sha256_then_md5(self):
        p = self.phone()
        r = p.c.request(p.request(['<sip:alice@192.0.2.1:5060>']))
        self.assertStatus(r, 401)
        ch = r.get_all('WWW-Authenticate')
        self.assertEqual(len(ch), 2, r)
        self.assertIn('algorithm=SHA-256', ch[0])
        self.assertIn('algorithm=MD5', ch[1])
        for c in ch:
            self.assertIn('qop="auth"', c)
            self.assertIn('realm="example.test"', c)
            self.assertIn('opaque=', c)

    def test_register_refresh_shorten_unregister(self):
        p = self.phone()
        r = p.register(['<sip:alice@192.0.2.1:5060>'], 600)
        self.assertStatus(r, 200)
        self.assertEqual(contacts_of(r), {'sip:alice@192.0.2.1:5060': 600})
        # a second contact
        r = p.register(['<sip:alice@192.0.2.2:5060>;expires=300'])
        self.assertStatus(r, 200)
        cs = contacts_of(r)
        self.assertEqual(set(cs), {'sip:alice@192.0.2.1:5060',
                                   'sip:alice@192.0.2.2:5060'})
        self.assertEqual(cs['sip:alice@192.0.2.2:5060'], 300)
        # shorten the first
        r = p.register(['<sip:alice@192.0.2.1:5060>;expires=100'])
        self.assertStatus(r, 200)
        self.assertLessEqual(contacts_of(r)['sip:alice@192.0.2.1:5060'], 100)
        # unregister one
        r = p.register(['<sip:alice@192.0.2.2:5060>;expires=0'])
        self.assertStatus(r, 200)
        self.assertEqual(set(contacts_of(r)), {'sip:alice@192.0.2.1:5060'})
        # a query lists what is left
        r = p.register([])
        self.assertStatus(r, 200)
        self.assertEqual(set(contacts_of(r)), {'sip:alice@192.0.2.1:5060'})

    def test_every_parameter_real_phones_send(self):
        """A REGISTER with every Contact parameter real clients send at
        once (baresip with uuid, Linphone, JsSIP: +sip.instance, reg-id,
        +sip.ice, expires, q, methods, transport, ob) and a long
        User-Agent, over digest: 200 with them all (it was a silent 500
        once), kept across the refresh and in the reginfo."""
        p = self.phone()
        inst = '"<urn:uuid:%s>"' % '1f2e3d4c-0000-1111-2222-333344445555'
        ct = ('"Alice" <sip:alice@192.0.2.1:5060;transport=udp>'
              ';+sip.instance=%s;reg-id=1;+sip.ice;expires=600;q=0.7'
              ';methods="INVITE,ACK,OPTIONS,BYE,CANCEL,SUBSCRIBE,NOTIFY,'
              'MESSAGE,REFER,INFO,PUBLISH,UPDATE";ob' % inst)
        ua = ('Linphone-Desktop/5.1.65 (debian) debian/12 Qt/5.15.8 '
              'LinphoneSDK/5.1.65 ' + 'x' * 200)
        extra = [('User-Agent', ua), ('Supported', 'path, outbound, gruu')]
        r = p.register([ct], extra=extra)
        self.assertStatus(r, 200)
        v = r.get_all('Contact')
        self.assertEqual(len(v), 1, r)
        for part in ('+sip.instance=' + inst, 'reg-id=1', '+sip.ice',
                     ';ob', 'methods="INVITE,', ';q=0.7', ';expires=600'):
            self.assertIn(part, v[0], r)
        r = p.register([ct], extra=extra)
        self.assertStatus(r, 200)
        self.assertEqual(len(r.get_all('Contact')), 1, r)
        self.assertNotIn('no cause recorded', self.herald.log_text())

    def test_star(self):
        p = self.phone()
        self.assertStatus(p.register(['<sip:alice@192.0.2.1>',
                                      '<sip:alice@192.0.2.2>'], 600), 200)
        r = p.register(['*'], 600)
        self.assertStatus(r, 400)
        r = p.register(['*', '<sip:alice@192.0.2.3>'], 0)
        self.assertStatus(r, 400)
        r = p.register(['*'], 0)
        self.assertStatus(r, 200)
        self.assertEqual(contacts_of(r), {})

    def test_interval_too_brief(self):
        p = self.phone()
        r = p.register(['<sip:alice@192.0.2.1>;expires=1'])
        self.assertStatus(r, 423)
        self.assertEqual(r.get('Min-Expires'), '2')

    def test_max_expires_clamped(self):
        p = self.phone()
        r = p.register(['<sip:alice@192.0.2.1>'], 999999999)
        self.assertStatus(r, 200)
        self.assertEqual(contacts_of(r)['sip:alice@192.0.2.1'], 86400)

    def test_out_of_order_cseq(self):
        p = self.phone()
        self.assertStatus(p.register(['<sip:alice@192.0.2.1>'], 600), 200)
        last = p.cseq
        r = p.register(['<sip:alice@192.0.2.1>'], 60, cseq=last - 1)
        self.assertStatus(r, 400)
        r = p.register([])
        self.assertEqual(contacts_of(r)['sip:alice@192.0.2.1'] > 60, True)

    def test_wrong_password_and_unknown_user_alike(self):
        bad = self.phone(password='wrong')
        r1 = bad.register(['<sip:alice@192.0.2.1>'], 600)
        self.assertStatus(r1, 403)
        ghost = self.phone(user='nobody')
        r2 = ghost.register(['<sip:nobody@192.0.2.1>'], 600)
        self.assertStatus(r2, 403)
        self.assertEqual(r1.reason, r2.reason)

    def test_foreign_aor(self):
        p = self.phone()
        r = p.register(['<sip:alice@192.0.2.1>'], 600, to_user='bob')
        self.assertStatus(r, 403)

    def test_replayed_nc(self):
        p = self.phone()
        self.assertStatus(p.register(['<sip:alice@192.0.2.1>'], 600), 200)
        # the same credentials (same nc) once more: a replay
        p.nc -= 1
        r = p.c.request(p.request(['<sip:alice@192.0.2.1>'], 600))
        self.assertStatus(r, 403)
        # a higher nc on the same nonce is fine (Linphone reuses nonces)
        r = p.c.request(p.request(['<sip:alice@192.0.2.1>'], 600))
        self.assertStatus(r, 200)

    def test_control_characters_in_user_part_400(self):
        """%0D%0A in To's user part unescapes to CR LF: no user has one."""
        for user in ('al%0d%0aice', 'al%00ice', 'al%1bice'):
            p = self.phone()
            r = p.c.request(p.request(['<sip:alice@192.0.2.1>'], 600,
                                      to_user=user))
            self.assertStatus(r, 400, 'Control Character in User Part')

    def test_unserved_domain(self):
        p = self.phone()
        req = p.request(['<sip:alice@192.0.2.1>'], 600)
        req.ruri = 'sip:elsewhere.test'
        self.assertStatus(p.c.request(req), 404)

    def test_expiry_removes_binding(self):
        p = self.phone()
        self.assertStatus(p.register(['<sip:alice@192.0.2.1>;expires=2',
                                      '<sip:alice@192.0.2.2>;expires=600']),
                          200)
        time.sleep(3.2)
        r = p.register([])
        self.assertEqual(set(contacts_of(r)), {'sip:alice@192.0.2.2'})

    def test_retransmission_absorbed(self):
        p = self.phone()
        p.register(['<sip:alice@192.0.2.1>'], 600)
        req = bytes(p.request(['<sip:alice@192.0.2.9>'], 600))
        p.c.send(req)
        a = p.c.recv()
        p.c.send(req)
        b = p.c.recv()
        self.assertEqual(a.raw, b.raw)


class StaleNonceTest(harness.HeraldTestCase):
    herald_args = ['--nonce-lifetime', '10']

    def test_stale(self):
        self.herald.add_user('alice@example.test', PASSWORD)
        p = Phone(self, self.udp())
        self.assertStatus(p.register(['<sip:alice@192.0.2.1>'], 600), 200)
        time.sleep(10.5)
        r = p.c.request(p.request(['<sip:alice@192.0.2.1>'], 600))
        self.assertStatus(r, 401)
        self.assertTrue(any('stale=true' in v
                            for v in r.get_all('WWW-Authenticate')), r)


class RestartTest(harness.HeraldTestCase):
    autostart = False

    def test_kill9_keeps_bindings(self):
        h = self.start_herald()
        h.add_user('alice@example.test', PASSWORD)
        p = Phone(self, self.udp(h))
        r = p.register(['<sip:alice@192.0.2.1>;expires=600'])
        self.assertStatus(r, 200)
        # kill -9 right after the 200: the binding was committed before
        h.kill()
        h2 = self.start_herald(db=h.db)
        p.c = self.udp(h2)
        r = p.register([])
        self.assertStatus(r, 200)
        left = contacts_of(r)['sip:alice@192.0.2.1']
        self.assertTrue(590 <= left <= 600, left)


class DigestUriTest(harness.HeraldTestCase):
    """The digest uri against the Request-URI sip:example.test, through
    --digest-uri-check (tests/integration/test_sipp.py runs SIPp itself)."""
    autostart = False

    def status(self, h, uri):
        p = Phone(self, self.udp(h))
        p.digest_uri = uri
        return p.register(['<sip:alice@192.0.2.1>;expires=600']).status

    def herald(self, *args):
        h = self.start_herald(list(args))
        h.add_user('alice@example.test', PASSWORD)
        return h

    def test_strict(self):
        h = self.herald()
        ours = 'sip:127.0.0.1:%d' % h.port
        for uri, want in (('sip:example.test', 200),
                          ('SIP:EXAMPLE.TEST;newparam=5', 200),
                          ('sip:example.test:5060', 403),
                          ('sip:example.test;transport=udp', 403),
                          (ours, 403), ('*', 403)):
            with self.subTest(uri=uri):
                self.assertEqual(self.status(h, uri), want)
        h.wait_log('digest uri "%s" is not the Request-URI '
                   'sip:example.test (strict check): 403' % ours)

    def test_loose(self):
        h = self.herald('--digest-uri-check', 'loose', '--domain',
                        'example.org')
        for uri, want in (('sip:example.test', 200),
                          ('sip:127.0.0.1:%d' % h.port, 200),
                          ('sip:127.0.0.1', 200),
                          ('sip:example.test:5060;transport=tcp', 200),
                          ('sip:example.org', 200),
                          ('sip:alice@example.test', 403),
                          ('sip:127.0.0.1:%d' % (h.port ^ 1), 403),
                          ('sip:192.0.2.1:%d' % h.port, 403),
                          ('sip:other.test', 403), ('*', 403)):
            with self.subTest(uri=uri):
                self.assertEqual(self.status(h, uri), want)

    def test_bad_mode(self):
        h = Herald(['--digest-uri-check', 'lax'])
        self.addCleanup(h.stop)
        with self.assertRaises(AssertionError):
            h.start()
        self.assertIn('--digest-uri-check takes strict or loose',
                      h.log_text())


if __name__ == '__main__':
    harness.main()
