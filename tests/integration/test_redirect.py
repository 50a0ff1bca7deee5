#!/usr/bin/env python3
"""The redirect server (RFC 3261 8.3, 21.3.3): an INVITE for a user of a
served domain gets 302 with its live bindings ordered by q, 480 when it
has none, 404 for no such user or domain; the INVITE server transaction
(17.2.1) sends the 302 again until the ACK; CANCEL (9.2); --redirect
for more methods, --redirect none, --redirect-auth; the answers counted
in /metrics; the methods that need a dialog (BYE, PRACK, INFO, UPDATE)."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ack_request, digest_authorization  # noqa: E402
from harness import metric, metrics, rand_token  # noqa: E402
from phone import PASSWORD, Phone  # noqa: E402

BOB_CONTACTS = ('sip:bob@192.0.2.1:5060', 'sip:bob@192.0.2.2:5062')


def contacts(resp):
    """[(uri, params)] from a response's Contact headers, in order."""
    out = []
    for v in resp.get_all('Contact'):
        for one in re.findall(r'<[^>]*>[^,]*', v):
            m = re.match(r'<([^>]*)>(.*)', one)
            out.append((m.group(1), m.group(2)))
    return out


def param(params, name):
    m = re.search(r';\s*%s=("[^"]*"|[^;]*)' % re.escape(name), params)
    return m.group(1) if m else None


class RedirectCase(harness.HeraldTestCase):
    herald_args = ['--min-expires', '2']

    def setUp(self):
        super().setUp()
        self.herald.add_user('alice@example.test', PASSWORD)
        self.herald.add_user('bob@example.test', PASSWORD)

    def register(self, user, contacts_, expires=600, extra=()):
        p = Phone(self, self.udp(), user=user)
        r = p.register(contacts_, expires, extra=extra)
        self.assertStatus(r, 200)
        return p

    def invite(self, c, user='bob', domain='example.test', ruri=None,
               method='INVITE', **kw):
        req = self.req(method, c, ruri=ruri or 'sip:%s@%s' % (user, domain),
                       **kw)
        req.set('To', '<sip:%s@%s>' % (user, domain))
        req.add('Contact', '<sip:alice@%s:%d>' % (c.host, c.port))
        return req

    def call(self, c, **kw):
        """INVITE (or kw's method) and its final response, ACKed."""
        inv = self.invite(c, **kw)
        r = c.request(inv)
        if r is not None and r.status >= 300 and inv.method == 'INVITE':
            c.send(ack_request(inv, r))
        return r


class RedirectTest(RedirectCase):

    def test_302_ordered_by_q_with_expires(self):
        p = self.register('bob', ['<%s>;q=0.5' % BOB_CONTACTS[0]], 600)
        p.register(['<%s>;q=0.9;expires=300' % BOB_CONTACTS[1]])
        c = self.udp()
        inv = self.invite(c)
        r = c.request(inv)
        self.assertStatus(r, 302, 'Moved Temporarily')
        cs = contacts(r)
        self.assertEqual([u for u, _ in cs],
                         [BOB_CONTACTS[1], BOB_CONTACTS[0]], r)
        self.assertEqual(param(cs[0][1], 'q'), '0.900')
        self.assertEqual(param(cs[1][1], 'q'), '0.500')
        e0, e1 = int(param(cs[0][1], 'expires')), \
            int(param(cs[1][1], 'expires'))
        self.assertTrue(295 <= e0 <= 300 and 595 <= e1 <= 600, r)
        # Expires: the soonest binding's end
        self.assertEqual(int(r.get('Expires')), e0, r)
        self.assertIsNotNone(param(r.get('To'), 'tag'), r)
        c.send(ack_request(inv, r))

    def test_equal_q_most_recent_first(self):
        p = self.register('bob', ['<%s>' % BOB_CONTACTS[0]])
        time.sleep(1.1)   # registered_at has a one-second grain
        p.register(['<%s>' % BOB_CONTACTS[1]])
        c = self.udp()
        r = self.call(c)
        self.assertStatus(r, 302)
        self.assertEqual([u for u, _ in contacts(r)],
                         [BOB_CONTACTS[1], BOB_CONTACTS[0]], r)
        # no q was registered: offered as ranked, 1.0
        self.assertEqual(param(contacts(r)[0][1], 'q'), '1.000', r)

    def test_instance_and_path_kept_reg_id_dropped(self):
        inst = '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
        self.register('bob', ['<%s;transport=tcp>;+sip.instance=%s;reg-id=1'
                              ';ob' % (BOB_CONTACTS[0], inst)],
                      extra=[('Supported', 'path, outbound'),
                             ('Path', '<sip:edge.example.test;lr>')])
        c = self.udp()
        r = self.call(c)
        self.assertStatus(r, 302)
        (uri, params), = contacts(r)
        # RFC 3327: the binding is reached through its Path: a Route
        # header of the URI (RFC 3261 19.1.1), escaped
        self.assertEqual(uri, BOB_CONTACTS[0] + ';transport=tcp?Route='
                         '%3Csip:edge.example.test%3Blr%3E')
        self.assertEqual(param(params, '+sip.instance'), inst)
        self.assertIsNone(param(params, 'reg-id'), r)
        self.assertNotRegex(params, r';\s*ob\b')

    def test_480_404(self):
        c = self.udp()
        # a user with no binding
        r = self.call(c, user='alice')
        self.assertStatus(r, 480, 'Temporarily Unavailable')
        # no such user
        self.assertStatus(self.call(c, user='nobody'), 404)
        # another domain: Herald is no proxy
        self.assertStatus(self.call(c, domain='elsewhere.test'), 404)
        # the Request-URI names no user
        self.assertStatus(self.call(c, ruri='sip:example.test'), 404)
        self.assertSilent(c, 1.0)   # every one ACKed: none sent again
        self.assertAlive()

    def test_binding_gone_is_never_offered(self):
        p = self.register('bob', ['<%s>' % BOB_CONTACTS[0]], 600)
        p.register(['<%s>' % BOB_CONTACTS[1]], 2)
        c = self.udp()
        r = self.call(c)
        self.assertEqual(len(contacts(r)), 2, r)
        # expiry
        time.sleep(2.5)
        r = self.call(c)
        self.assertEqual([u for u, _ in contacts(r)], [BOB_CONTACTS[0]], r)
        # un-REGISTER
        self.assertStatus(p.register(['<%s>' % BOB_CONTACTS[0]], 0), 200)
        self.assertStatus(self.call(c), 480)

    def test_302_resent_until_ack(self):
        self.register('bob', ['<%s>' % BOB_CONTACTS[0]])
        c = self.udp()
        inv = self.invite(c)
        r = c.request(inv)
        self.assertStatus(r, 302)
        # no ACK: Timer G sends it again after T1 (500 ms), then 1 s
        t0 = time.monotonic()
        again = c.recv(timeout=2.0)
        self.assertIsNotNone(again, 'the 302 was not sent again')
        self.assertEqual(again.status, 302)
        self.assertGreater(time.monotonic() - t0, 0.3)
        self.assertEqual(again.get('To'), r.get('To'))
        # the INVITE again gets the same 302, and is not handled again
        c.send(inv)
        self.assertEqual(c.recv().status, 302)
        # the ACK stops it
        c.send(ack_request(inv, r))
        late = c.recv(timeout=0.2)   # one may have been on its way
        if late is not None:
            self.assertEqual(late.status, 302, late)
        self.assertSilent(c, 2.5)
        m = metrics(self.herald)
        self.assertGreaterEqual(
            metric(m, 'herald_sip_response_retransmits_total'), 1, m)
        self.assertEqual(
            metric(m, 'herald_redirect_responses_total{code="302"}'), 1, m)

    def test_tcp(self):
        self.register('bob', ['<%s>' % BOB_CONTACTS[0]])
        c = self.tcp()
        inv = self.invite(c)
        r = c.request(inv)
        self.assertStatus(r, 302)
        c.send(ack_request(inv, r))
        self.assertSilent(c, 1.0)

    def test_cancel(self):
        self.register('bob', ['<%s>' % BOB_CONTACTS[0]])
        c = self.udp()
        inv = self.invite(c)
        r = c.request(inv)
        self.assertStatus(r, 302)
        # answered already: the CANCEL has no effect but its 200 (9.2)
        cancel = harness.Request('CANCEL', inv.ruri)
        for name in ('Via', 'Max-Forwards', 'From', 'To', 'Call-ID'):
            cancel.add(name, inv.get(name))
        cancel.add('CSeq', '%s CANCEL' % inv.get('CSeq').split()[0])
        r2 = c.request(cancel)
        self.assertStatus(r2, 200)
        self.assertEqual(r2.get('CSeq').split()[1], 'CANCEL')
        c.send(ack_request(inv, r))
        # a CANCEL for no transaction: 481
        cancel.set('Call-ID', rand_token(12) + '@x')
        self.assertStatus(c.request(cancel), 481)

    def test_in_dialog_invite_481(self):
        # a re-INVITE: Herald holds no INVITE dialog (12.2.2)
        c = self.udp()
        inv = self.invite(c)
        inv.set('To', '<sip:bob@example.test>;tag=abc')
        r = c.request(inv)
        self.assertStatus(r, 481)
        c.send(ack_request(inv, r))

    def test_methods_needing_a_dialog(self):
        c = self.udp()
        for method, totag, want in (('BYE', ';tag=x', 481),
                                    ('PRACK', ';tag=x', 481),
                                    ('INFO', ';tag=x', 481),
                                    ('UPDATE', ';tag=x', 481),
                                    ('INFO', '', 405),
                                    ('UPDATE', '', 405)):
            req = self.req(method, c, ruri='sip:bob@example.test')
            req.set('To', '<sip:bob@example.test>' + totag)
            r = c.request(req)
            self.assertStatus(r, want, msg='%s %s' % (method, totag))
            if want == 405:
                self.assertIn('INVITE', r.tokens('Allow'))

    def test_message_405_by_default(self):
        self.register('bob', ['<%s>' % BOB_CONTACTS[0]])
        c = self.udp()
        r = self.call(c, method='MESSAGE')
        self.assertStatus(r, 405)
        self.assertIn('INVITE', r.tokens('Allow'))
        self.assertNotIn('MESSAGE', r.tokens('Allow'))


class MoreMethodsTest(RedirectCase):
    herald_args = ['--redirect', 'INVITE', '--redirect', 'message',
                   '--redirect', 'OPTIONS']

    def test_message_and_options_redirected(self):
        self.register('bob', ['<%s>' % BOB_CONTACTS[0]])
        c = self.udp()
        for method in ('MESSAGE', 'OPTIONS'):
            r = self.call(c, method=method)
            self.assertStatus(r, 302, msg=method)
            self.assertEqual([u for u, _ in contacts(r)],
                             [BOB_CONTACTS[0]])
        # OPTIONS for the server itself: its capabilities
        r = c.request(self.req('OPTIONS', c, ruri='sip:example.test'))
        self.assertStatus(r, 200)
        self.assertIn('MESSAGE', r.tokens('Allow'))


class NoRedirectTest(RedirectCase):
    herald_args = ['--redirect', 'none']

    def test_invite_405(self):
        self.register('bob', ['<%s>' % BOB_CONTACTS[0]])
        c = self.udp()
        r = self.call(c)
        self.assertStatus(r, 405)
        self.assertNotIn('INVITE', r.tokens('Allow'))


class RedirectAuthTest(RedirectCase):
    herald_args = ['--redirect-auth']

    def test_401_then_302(self):
        self.register('bob', ['<%s>' % BOB_CONTACTS[0]])
        c = self.udp()
        inv = self.invite(c)
        r = c.request(inv)
        # RFC 3261 22.3: a redirect server is a UAS: 401, not 407
        self.assertStatus(r, 401)
        ch = r.get_all('WWW-Authenticate')[0]
        self.assertIn('realm="example.test"', ch)
        c.send(ack_request(inv, r))
        inv2 = self.invite(c, cseq=2, call_id=inv.get('Call-ID'))
        inv2.set('From', inv.get('From'))
        inv2.add('Authorization', digest_authorization(
            ch, 'alice', PASSWORD, 'INVITE', 'sip:bob@example.test'))
        r = c.request(inv2)
        self.assertStatus(r, 302)
        self.assertEqual([u for u, _ in contacts(r)], [BOB_CONTACTS[0]])
        c.send(ack_request(inv2, r))
        # an unknown user is not told apart before the credentials
        self.assertStatus(self.call(c, user='nobody'), 401)


if __name__ == '__main__':
    harness.main()
