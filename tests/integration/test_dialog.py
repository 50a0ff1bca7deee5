#!/usr/bin/env python3
"""The dialog package (RFC 4235) over real sockets, against a real
PostgreSQL: a proxy PUBLISHes application/dialog-info+xml for alice's
line, bob (of alice's domain) watches it.

Publications are merged: two calls at once both show; each dialog once,
in the furthest state any publication gives it; a state never goes back
(an "early" arriving after "terminated" leaves the lamp off); a
terminated dialog is shown once, then dropped; a dialog whose
publication goes is gone. Bad bodies get 400; watchers are authorized by
presence's rules and defaults; kill -9 and restart keep the lamps.

Every dialog-info body received is validated against RFC 4235's schema
with xmllint --nonet (watcher.py)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from phone import Phone  # noqa: E402
from watcher import (DINFO_TYPE, PASSWORD, Publisher, Watcher,  # noqa: E402
                     WatcherChecks, dinfo_doc, parse_dinfo, validate_dinfo)

ALICE = 'sip:alice@example.test'
BOBPW = 'bobpw'
REMOTE = ('<remote><identity>sip:carol@example.test</identity>'
          '<target uri="sip:carol@192.0.2.7"/></remote>')


def doc(*dialogs, **kw):
    """dinfo_doc() checked against the schema first: the tests publish
    only valid documents where they mean to."""
    body = dinfo_doc(dialogs, **kw)
    ok, out = validate_dinfo(body)
    if not ok:
        raise AssertionError('the test publishes an invalid dialog-info:'
                             '\n%s\n%s' % (out, body.decode()))
    return body


class DialogCase(WatcherChecks, harness.HeraldTestCase):

    def setUp(self):
        super().setUp()
        if self.autostart:
            self.add_users(self.herald)

    def add_users(self, h):
        h.add_user('alice@example.test', PASSWORD)
        h.add_user('bob@example.test', BOBPW)

    def watcher(self, herald=None, user='bob', **kw):
        kw.setdefault('password', BOBPW if user == 'bob' else PASSWORD)
        w = Watcher(self, herald or self.herald, user=user, event='dialog',
                    resource=ALICE, **kw)
        if 'endpoint' not in kw:
            self.addCleanup(self.check_endpoint, w.ep)
        return w

    def publisher(self, herald=None):
        """The proxy publishing for alice's line (as alice)."""
        return Publisher(self, herald or self.herald)

    def publish(self, p, body, expires=600, modify=False):
        send = p.modify if modify else p.publish
        r = send(body, expires, event='dialog', content_type=DINFO_TYPE)
        self.assertStatus(r, 200)
        return r

    def lamp(self, w):
        """The next NOTIFY's dialogs: {id: state}."""
        n = w.recv_notify(state='active', doc=True)
        return parse_dinfo(n.body).states(), n


class MergeTest(DialogCase):

    def test_two_calls_at_once(self):
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.assertEqual(self.lamp(w)[0], {})    # idle
        call1, call2 = self.publisher(), self.publisher()
        self.publish(call1, doc(('d1', 'early', REMOTE)))
        self.assertEqual(self.lamp(w)[0], {'d1': 'early'})
        self.publish(call2, doc(('d2', 'confirmed')))
        self.assertEqual(self.lamp(w)[0], {'d1': 'early', 'd2': 'confirmed'})
        self.publish(call1, doc(('d1', 'confirmed', REMOTE)), modify=True)
        states, n = self.lamp(w)
        self.assertEqual(states, {'d1': 'confirmed', 'd2': 'confirmed'})
        # the publisher's content passes through (who the other party is)
        self.assertIn('sip:carol@example.test', n.body.decode())

    def test_state_never_goes_back(self):
        """early, then terminated, then a late early of the same dialog:
        the lamp stays off; the terminated dialog shows once."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.lamp(w)
        p = self.publisher()
        self.publish(p, doc(('d1', 'early')))
        self.assertEqual(self.lamp(w)[0], {'d1': 'early'})
        self.publish(p, doc(('d1', 'terminated')), modify=True)
        self.assertEqual(self.lamp(w)[0], {'d1': 'terminated'})
        # overtaken on the way: the earlier state arrives last
        self.publish(p, doc(('d1', 'early')), modify=True)
        w.expect_no_notify()
        # another call: d1 is not shown again, neither early nor ended
        p2 = self.publisher()
        self.publish(p2, doc(('d2', 'trying')))
        self.assertEqual(self.lamp(w)[0], {'d2': 'trying'})
        # a new watcher sees the same
        w2 = self.watcher()
        self.assertSubscribed(w2.subscribe(600), 600)
        self.assertEqual(self.lamp(w2)[0], {'d2': 'trying'})

    def test_furthest_state_of_two_publications(self):
        """The caller's and the callee's side publish one dialog: the
        furthest state shows, once."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.lamp(w)
        a, b = self.publisher(), self.publisher()
        self.publish(a, doc(('d1', 'confirmed')))
        self.assertEqual(self.lamp(w)[0], {'d1': 'confirmed'})
        self.publish(b, doc(('d1', 'proceeding')))
        w.expect_no_notify()

    def test_publication_gone(self):
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.lamp(w)
        p = self.publisher()
        self.publish(p, doc(('d1', 'confirmed')))
        self.assertEqual(self.lamp(w)[0], {'d1': 'confirmed'})
        self.assertStatus(p.remove(event='dialog'), 200)
        self.assertEqual(self.lamp(w)[0], {})


class ErrorsTest(DialogCase):

    def test_bad_bodies(self):
        p = self.publisher()
        for body, why in ((b'<dialog-info', 'Bad dialog-info'),
                          (doc(('d1', 'early'),
                               entity='sip:bob@example.test'),
                           'Bad dialog-info: entity is not the line'),
                          (dinfo_doc([('d1', 'ringing')]),
                           'Bad dialog-info')):
            r = p.publish(body, 600, event='dialog',
                          content_type=DINFO_TYPE)
            self.assertStatus(r, 400, msg=body)
            self.assertTrue(r.reason.startswith(why), r)
        r = p.publish(doc(('d1', 'early')), 600, event='dialog',
                      content_type='application/pidf+xml')
        self.assertStatus(r, 415)
        self.assertEqual(r.get('Accept'), DINFO_TYPE, r)
        # no --trusted-publisher: the proxy's PUBLISH is challenged
        r = self.publisher().publish(doc(('d1', 'early')), 600,
                                     event='dialog', content_type=DINFO_TYPE,
                                     auth=False)
        self.assertStatus(r, 401)

    def test_allow_events(self):
        c = self.udp()
        r = c.request(self.req('OPTIONS', c))
        self.assertIn('dialog', r.tokens('Allow-Events'))


class AuthorizationTest(DialogCase):
    herald_args = ['--presence-default-local', 'block']

    def test_presence_rules_decide(self):
        w = self.watcher()
        self.assertStatus(w.subscribe(600), 403)
        # alice watches her own line
        w2 = self.watcher(user='alice')
        self.assertSubscribed(w2.subscribe(600), 600)
        self.assertEqual(self.lamp(w2)[0], {})


class TrustedPublisherTest(DialogCase):
    herald_args = ['--trusted-publisher', '127.0.0.0/8']

    def test_proxy_publishes_without_credentials(self):
        """The proxy that sees the calls publishes for any user."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.lamp(w)
        proxy = self.publisher()
        r = proxy.publish(doc(('d1', 'early')), 600, event='dialog',
                          content_type=DINFO_TYPE, auth=False)
        self.assertStatus(r, 200)
        self.assertEqual(self.lamp(w)[0], {'d1': 'early'})
        # a SUBSCRIBE from there is still challenged
        w2 = self.watcher()
        self.assertStatus(w2.subscribe(600, auth=False), 401)


class UnregisteredTest(DialogCase):
    herald_args = ['--dialog-unregistered', '--min-expires', '2']

    def unavailable(self, w, timeout=3):
        n = w.recv_notify(timeout, state='active', doc=True)
        d = parse_dinfo(n.body)
        self.assertEqual(d.states(), {'unregistered': 'terminated'}, n)
        self.assertEqual(d.dialogs[0]['event'], 'rejected', n)
        return n

    def test_unregistered_line_is_not_idle(self):
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.unavailable(w)
        # alice's phone registers: idle
        phone = Phone(self, self.udp())
        self.assertStatus(phone.register(['<sip:alice@192.0.2.1>'], 600),
                          200)
        self.assertEqual(self.lamp(w)[0], {})
        # a call: its dialog, then idle again
        p = self.publisher()
        self.publish(p, doc(('d1', 'confirmed')))
        self.assertEqual(self.lamp(w)[0], {'d1': 'confirmed'})
        self.assertStatus(p.remove(event='dialog'), 200)
        self.assertEqual(self.lamp(w)[0], {})
        # a refresh changes nothing
        self.assertStatus(phone.register(['<sip:alice@192.0.2.1>'], 600),
                          200)
        w.expect_no_notify()
        # un-REGISTER: unavailable again
        self.assertStatus(phone.register(['<sip:alice@192.0.2.1>'], 0),
                          200)
        self.unavailable(w)
        # so after expiry
        self.assertStatus(phone.register(['<sip:alice@192.0.2.1>'], 2),
                          200)
        self.assertEqual(self.lamp(w)[0], {})
        self.unavailable(w, timeout=6)


class PartialTest(DialogCase):
    herald_args = ['--dialog-partial']

    def test_partial_after_full(self):
        w = self.watcher()
        w.dinfo_partial = True
        self.assertSubscribed(w.subscribe(600), 600)
        n = w.recv_notify(state='active', doc=True)
        self.assertEqual(parse_dinfo(n.body).state, 'full', n)
        call1, call2 = self.publisher(), self.publisher()

        def doc_of():
            n = w.recv_notify(state='active', doc=True)
            d = parse_dinfo(n.body)
            return d.state, d.states()

        self.publish(call1, doc(('d1', 'early')))
        self.assertEqual(doc_of(), ('partial', {'d1': 'early'}))
        self.publish(call2, doc(('d2', 'confirmed')))
        self.assertEqual(doc_of(), ('partial', {'d2': 'confirmed'}))
        self.publish(call1, doc(('d1', 'confirmed')), modify=True)
        self.assertEqual(doc_of(), ('partial', {'d1': 'confirmed'}))
        self.publish(call1, doc(('d1', 'terminated')), modify=True)
        self.assertEqual(doc_of(), ('partial', {'d1': 'terminated'}))
        # d2 goes without ending: only the whole state can say so
        self.assertStatus(call2.remove(event='dialog'), 200)
        self.assertEqual(doc_of(), ('full', {}))


class RestartTest(DialogCase):

    def test_kill_and_restart(self):
        p = self.publisher()
        self.publish(p, doc(('d1', 'confirmed')))
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.assertEqual(self.lamp(w)[0], {'d1': 'confirmed'})
        h2 = self.restart_herald(self.herald)
        w.expect_jump = True
        p.retarget(h2)
        # the publication came back: its entity-tag still works
        self.publish(p, doc(('d1', 'terminated')), modify=True)
        states, n = self.lamp(w)
        self.assertEqual(states, {'d1': 'terminated'})


if __name__ == '__main__':
    harness.main()
