#!/usr/bin/env python3
"""SUBSCRIBE/NOTIFY (RFC 6665) and the reg event package (RFC 3680)
against a real PostgreSQL: alice watches her own registrations while a
phone of hers registers, refreshes, adds, removes and lets contacts
expire; full and partial reginfo documents in order; dialog and header
checks on every NOTIFY; refresh, unsubscribe, fetch, expiry, Event id,
Record-Route, retransmitted SUBSCRIBEs, merged changes, two watchers,
--notify-throttle, the subscription limits, --notify-to-source; the
error answers (489, 406, 423, 481, 500, 403, 404, 400, 401); NOTIFYs
answered 481, 603 or not at all (Timer E retransmissions, Timer F:
the one slow test, ~35 s) or not sendable at all (ended at once);
replacement of a subscription by the same watcher (same Contact, same
+sip.instance); TCP; kill -9 and restart on the same database and port;
Perl's Net::SIP as an independent watcher (interop/netsip_watch.pl).

Every reginfo body received is validated against RFC 3680's schema
(tests/unit/xml/reginfo.xsd) with xmllint. See watcher.py."""

import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import free_port, rand_token, via_parts  # noqa: E402
from watcher import (PASSWORD, REGINFO_TYPE, Endpoint, Registrant, Watcher,  # noqa
                     WatcherChecks, parse_reginfo, validate_reginfo)

HERE = os.path.dirname(os.path.abspath(__file__))
NETSIP_WATCH = os.path.join(HERE, 'interop', 'netsip_watch.pl')

ALICE = 'sip:alice@example.test'
A = 'sip:alice@192.0.2.1:5060'
B = 'sip:alice@192.0.2.2:5060'
C = 'sip:alice@192.0.2.3:5060'
D = 'sip:alice@192.0.2.4:5060'
NEW = ('registered', 'created')     # event of a contact just added
SLACK = 3                           # seconds of test run time tolerated


class EventsCase(WatcherChecks, harness.HeraldTestCase):
    """alice and bob exist; watchers' endpoints are checked after the
    test: no unparsable message, no NOTIFY outside a known dialog, no
    reginfo body that fails the schema."""

    def setUp(self):
        super().setUp()
        if self.autostart:
            self.add_users(self.herald)

    def add_users(self, h):
        h.add_user('alice@example.test', PASSWORD)
        h.add_user('bob@example.test', 'bobpw')

    def watcher(self, herald=None, **kw):
        w = Watcher(self, herald or self.herald, **kw)
        if 'endpoint' not in kw:
            self.addCleanup(self.check_endpoint, w.ep)
        return w

    def registrant(self, herald=None):
        return Registrant(self, herald or self.herald)

    # -- assertions --

    def assertExpiresClose(self, n, granted, since=None):
        """Subscription-State: active;expires=N with N <= granted and no
        further below it than the time gone since the 200 (+ slack)."""
        left = int(n.sub_state[1]['expires'])
        gone = time.monotonic() - since if since is not None else 0
        self.assertLessEqual(left, granted, n)
        self.assertGreaterEqual(left, granted - gone - SLACK, n)

    def assertNoContacts(self, doc):
        """A full document of an AOR with no bindings: no <contact>, the
        registration (when listed) in state init."""
        reg = doc.registration(ALICE)
        if reg is not None:
            self.assertEqual(reg['contacts'], [], doc)
            self.assertEqual(reg['state'], 'init', doc)
        for r in doc.registrations:
            self.assertEqual(r['aor'], ALICE, doc)

    def assertContact(self, doc, uri, state, events, cid=None):
        """uri is listed with that state and one of those events; its
        contact dict."""
        cs = doc.contacts(ALICE)
        self.assertIn(uri, cs, doc)
        c = cs[uri]
        self.assertEqual(c.get('state'), state, doc)
        if isinstance(events, str):
            events = (events,)
        self.assertIn(c.get('event'), events, doc)
        self.assertTrue(c.get('id'), doc)
        if cid is not None:
            self.assertEqual(c['id'], cid, 'contact id changed:\n%s' % doc)
        return c

    def assertContactExpires(self, c, expires, doc):
        if 'expires' in c:
            self.assertLessEqual(int(c['expires']), expires, doc)
            self.assertGreaterEqual(int(c['expires']), expires - SLACK, doc)

    def assertTerminatedTimeout(self, n):
        ss, params = n.sub_state
        self.assertEqual(ss, 'terminated', n)
        self.assertEqual(params.get('reason'), 'timeout', n)


# ---------------------------------------------------------------------------
# the reg package: what a watcher sees while alice's bindings change

class RegPackageTest(EventsCase):
    herald_args = ['--min-expires', '1']

    def test_registration_lifecycle(self):
        """Full document, then one partial per change, versions 0, 1, 2,
        ... and CSeq +1 (watcher.check_notify): created, refreshed,
        a second contact, unregistered, expired, the last one gone."""
        w = self.watcher()
        reg = self.registrant()
        r = w.subscribe(600)
        t200 = time.monotonic()
        self.assertSubscribed(r, 600)

        n = w.recv_notify(state='active', doc='full')
        self.assertEqual(n.reginfo.version, 0)
        self.assertEqual(n.cseq[1], 'NOTIFY')
        self.assertExpiresClose(n, 600, t200)
        self.assertNoContacts(n.reginfo)
        self.assertEqual(n.get_all('Route'), [],
                         'Route without Record-Route:\n%s' % n)

        # alice's phone registers A
        reg.add(A, 600)
        n = w.recv_notify(state='active', doc='partial')
        d = n.reginfo
        self.assertEqual(d.version, 1)
        self.assertEqual(set(d.contacts()), {A}, d)
        self.assertEqual(d.registration()['state'], 'active', d)
        a = self.assertContact(d, A, 'active', NEW)
        self.assertContactExpires(a, 600, d)
        if 'callid' in a:
            self.assertEqual(a['callid'], reg.phone.callid, d)
        if 'cseq' in a:
            self.assertEqual(int(a['cseq']), reg.phone.cseq, d)
        a_id = a['id']
        self.assertExpiresClose(n, 600, t200)

        # refreshes A
        reg.add(A, 600)
        n = w.recv_notify(state='active', doc='partial')
        d = n.reginfo
        self.assertEqual(d.version, 2)
        self.assertEqual(set(d.contacts()), {A}, d)
        self.assertContact(d, A, 'active', 'refreshed', a_id)
        self.assertEqual(d.registration()['state'], 'active', d)

        # a second contact: only B is in the partial document
        reg.add(B, 600)
        n = w.recv_notify(state='active', doc='partial')
        d = n.reginfo
        self.assertEqual(d.version, 3)
        self.assertEqual(set(d.contacts()), {B}, d)
        b = self.assertContact(d, B, 'active', NEW)
        self.assertNotEqual(b['id'], a_id, d)
        self.assertEqual(d.registration()['state'], 'active', d)

        # B unregistered
        reg.remove(B)
        n = w.recv_notify(state='active', doc='partial')
        d = n.reginfo
        self.assertEqual(d.version, 4)
        self.assertEqual(set(d.contacts()), {B}, d)
        self.assertContact(d, B, 'terminated', 'unregistered', b['id'])
        self.assertEqual(d.registration()['state'], 'active', d)

        # C for 2 s, left to expire
        reg.add(C, 2)
        n = w.recv_notify(state='active', doc='partial')
        d = n.reginfo
        self.assertEqual(d.version, 5)
        self.assertEqual(set(d.contacts()), {C}, d)
        c = self.assertContact(d, C, 'active', NEW)
        t_c = time.monotonic()
        n = w.recv_notify(timeout=2 + 4, state='active', doc='partial')
        self.assertGreaterEqual(time.monotonic() - t_c, 1.0,
                                'C expired early')
        d = n.reginfo
        self.assertEqual(d.version, 6)
        self.assertEqual(set(d.contacts()), {C}, d)
        self.assertContact(d, C, 'terminated', 'expired', c['id'])
        self.assertEqual(d.registration()['state'], 'active', d)

        # the last contact, A, unregistered: the registration terminates
        reg.remove(A)
        n = w.recv_notify(state='active', doc='partial')
        d = n.reginfo
        self.assertEqual(d.version, 7)
        self.assertEqual(set(d.contacts()), {A}, d)
        self.assertContact(d, A, 'terminated', 'unregistered', a_id)
        self.assertExpiresClose(n, 600, t200)
        self.assertEqual(len(w.notifies), 8)
        # RFC 3680 5.1: the last contact gone, the registration is
        # terminated (and then, invisibly, init again)
        self.assertEqual(d.registration()['state'], 'terminated', d)
        w.expect_no_notify()
        # the registration keeps its id in every document (RFC 3680 5.2)
        ids = {m.reginfo.registration()['id'] for m in w.notifies
               if m.reginfo.registration() is not None}
        self.assertEqual(len(ids), 1, ids)
        # a refresh now: a full document with no contact, state init
        self.assertStatus(w.refresh(600), 200)
        n = w.recv_notify(state='active', doc='full')
        self.assertNoContacts(n.reginfo)

    def test_refresh_sends_full_state(self):
        """A refresh in the dialog: 200 with the new Expires, then a full
        document with every current contact (event registered)."""
        reg = self.registrant()
        reg.add(A, 600)
        reg.add(B, 300)
        w = self.watcher()
        r = w.subscribe(600)
        self.assertSubscribed(r, 600)
        n = w.recv_notify(state='active', doc='full')
        d = n.reginfo
        self.assertEqual(set(d.contacts()), {A, B}, d)
        self.assertEqual(d.registration()['state'], 'active', d)
        self.assertContactExpires(
            self.assertContact(d, A, 'active', 'registered'), 600, d)
        self.assertContactExpires(
            self.assertContact(d, B, 'active', 'registered'), 300, d)

        r = w.refresh(300)
        t200 = time.monotonic()
        self.assertStatus(r, 200)
        self.assertEqual(r.get('Expires'), '300', r)
        self.assertEqual(harness.addr_tag(r.get('To')), w.to_tag, r)
        n = w.recv_notify(state='active', doc='full')
        d = n.reginfo
        self.assertEqual(d.version, 1)
        self.assertEqual(set(d.contacts()), {A, B}, d)
        self.assertContact(d, A, 'active', 'registered')
        self.assertContact(d, B, 'active', 'registered')
        self.assertExpiresClose(n, 300, t200)
        # a change after the refresh: partial again
        reg.add(C, 600)
        n = w.recv_notify(state='active', doc='partial')
        self.assertEqual(set(n.reginfo.contacts()), {C}, n.reginfo)

    def test_unsubscribe(self):
        """Expires: 0 in the dialog: 200, then terminated;reason=timeout
        with the full state; nothing afterwards; the dialog is gone."""
        reg = self.registrant()
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        w.recv_notify(state='active', doc='full')
        reg.add(A, 600)
        w.recv_notify(state='active', doc='partial')
        r = w.unsubscribe()
        self.assertStatus(r, 200)
        if r.get('Expires') is not None:
            self.assertEqual(r.get('Expires'), '0', r)
        n = w.recv_notify(state='terminated', doc='full')
        self.assertTerminatedTimeout(n)
        self.assertEqual(n.reginfo.version, 2)
        self.assertEqual(set(n.reginfo.contacts()), {A}, n.reginfo)
        reg.add(B, 600)
        w.expect_no_notify(1.0)
        self.assertStatus(w.refresh(600), 481)

    def test_fetch(self):
        """An out-of-dialog SUBSCRIBE with Expires: 0: 200, then one
        NOTIFY terminated;reason=timeout with the full state, version 0;
        later changes notify nobody."""
        reg = self.registrant()
        reg.add(A, 600)
        w = self.watcher()
        r = w.subscribe(0)
        self.assertStatus(r, 200)
        self.assertIsNotNone(harness.addr_tag(r.get('To')), r)
        if r.get('Expires') is not None:
            self.assertEqual(r.get('Expires'), '0', r)
        n = w.recv_notify(state='terminated', doc='full')
        self.assertTerminatedTimeout(n)
        self.assertEqual(n.reginfo.version, 0)
        self.assertEqual(set(n.reginfo.contacts()), {A}, n.reginfo)
        self.assertContact(n.reginfo, A, 'active', 'registered')
        reg.add(B, 600)
        w.expect_no_notify(1.0)

    def test_event_id_echoed(self):
        """Event: reg;id=X in the SUBSCRIBE: every NOTIFY says
        Event: reg;id=X (check_notify compares)."""
        reg = self.registrant()
        w = self.watcher(event='reg;id=w1x')
        self.assertSubscribed(w.subscribe(600), 600)
        n = w.recv_notify(state='active', doc='full')
        self.assertEqual(n.event, ('reg', {'id': 'w1x'}), n)
        reg.add(A, 600)
        n = w.recv_notify(state='active', doc='partial')
        self.assertEqual(n.event, ('reg', {'id': 'w1x'}), n)

    def test_default_and_clamped_expires(self):
        """No Expires: the default 3600; more than the maximum: 86400."""
        w = self.watcher()
        r = w.subscribe(None)
        t200 = time.monotonic()
        self.assertSubscribed(r, 3600)
        n = w.recv_notify(state='active', doc='full')
        self.assertExpiresClose(n, 3600, t200)
        r = w.refresh(999999)
        t200 = time.monotonic()
        self.assertStatus(r, 200)
        self.assertEqual(r.get('Expires'), '86400', r)
        n = w.recv_notify(state='active', doc='full')
        self.assertExpiresClose(n, 86400, t200)

    def test_record_route_becomes_route(self):
        """A SUBSCRIBE with Record-Route: the NOTIFYs carry it as Route
        (RFC 3261 12.1.1; the route points at the watcher itself)."""
        w = self.watcher()
        rr = '<sip:%s;lr>' % harness.hostport(w.ep.host, w.ep.port)
        r = w.subscribe(600, extra=[('Record-Route', rr)])
        self.assertSubscribed(r, 600)
        n = w.recv_notify(state='active', doc='full')
        self.assertEqual(n.get_all('Route'), [rr], n)

    def test_retransmitted_subscribe(self):
        """A SUBSCRIBE sent twice (same branch, as over UDP): the same
        final response again, one subscription, one NOTIFY; the same for
        a refresh."""
        w = self.watcher()
        r1 = w.subscribe(600)
        self.assertSubscribed(r1, 600)
        r2 = w.retransmit()
        self.assertStatus(r2, 200)
        self.assertEqual(harness.addr_tag(r2.get('To')), w.to_tag, r2)
        w.recv_notify(state='active', doc='full')
        w.expect_no_notify(1.0)
        self.assertStatus(w.refresh(600), 200)
        self.assertStatus(w.retransmit(), 200)
        w.recv_notify(state='active', doc='full')
        w.expect_no_notify(1.0)

    def test_changes_merged_while_notify_in_flight(self):
        """One NOTIFY in flight per subscription: two registrations while
        the first NOTIFY is unanswered come in one partial document once
        it is answered (its retransmission gets the 200)."""
        reg = self.registrant()
        w = self.watcher()
        w.answer = None
        self.assertSubscribed(w.subscribe(600), 600)
        n0 = w.next_notify()
        self.assertIsNotNone(n0, 'no NOTIFY after the 200')
        w.check_notify(n0, state='active', doc='full')
        reg.add(A, 600)
        reg.add(B, 600)
        w.answer = 200      # the next copy of n0 is answered
        n = w.recv_notify(timeout=harness.RECV_TIMEOUT + 2, state='active',
                          doc='partial')
        self.assertGreaterEqual(len(w.ep.copies_of(n0)), 2,
                                'the second NOTIFY came before the first '
                                'was answered')
        d = n.reginfo
        self.assertEqual(set(d.contacts()), {A, B}, d)
        self.assertContact(d, A, 'active', NEW)
        self.assertContact(d, B, 'active', NEW)
        w.expect_no_notify(1.0)


class WatchersTest(EventsCase):

    def test_two_watchers(self):
        """Two subscriptions of alice's (two Contacts): each gets its own
        dialog's NOTIFYs, versions and CSeqs counted per subscription."""
        reg = self.registrant()
        w1 = self.watcher()
        w2 = self.watcher()
        self.assertSubscribed(w1.subscribe(600), 600)
        w1.recv_notify(state='active', doc='full')
        self.assertSubscribed(w2.subscribe(300), 300)
        w2.recv_notify(state='active', doc='full')
        reg.add(A, 600)
        for w in (w1, w2):
            n = w.recv_notify(state='active', doc='partial')
            self.assertEqual(n.reginfo.version, 1)
            self.assertContact(n.reginfo, A, 'active', NEW)
        self.assertStatus(w1.unsubscribe(), 200)
        w1.recv_notify(state='terminated', doc='full')
        reg.remove(A)
        n = w2.recv_notify(state='active', doc='partial')
        self.assertContact(n.reginfo, A, 'terminated', 'unregistered')
        w1.expect_no_notify()


class ThrottleTest(EventsCase):
    herald_args = ['--notify-throttle', '1000']

    def test_notify_throttle(self):
        """--notify-throttle 1000: at least 1 s between two NOTIFYs of a
        subscription; changes meanwhile merged into one."""
        reg = self.registrant()
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        n0 = w.recv_notify(state='active', doc='full')
        reg.add(A, 600)
        n1 = w.recv_notify(timeout=4, state='active', doc='partial')
        self.assertGreaterEqual(n1.at - n0.at, 0.9,
                                'NOTIFYs %.3f s apart' % (n1.at - n0.at))
        self.assertEqual(set(n1.reginfo.contacts()), {A}, n1.reginfo)
        reg.add(B, 600)
        reg.add(C, 600)
        n2 = w.recv_notify(timeout=4, state='active', doc='partial')
        self.assertGreaterEqual(n2.at - n1.at, 0.9,
                                'NOTIFYs %.3f s apart' % (n2.at - n1.at))
        self.assertEqual(set(n2.reginfo.contacts()), {B, C}, n2.reginfo)
        w.expect_no_notify(1.5)


class LimitCase(EventsCase):
    """Base of the two limit tests (no test of its own)."""

    def check_limit(self):
        """A second subscription (another Contact, so no replacement) is
        refused with 403 Too Many Subscriptions; the first goes on; once
        it is gone (unsubscribed) the slot is free again."""
        w1 = self.watcher()
        self.assertSubscribed(w1.subscribe(600), 600)
        w1.recv_notify(state='active', doc='full')
        w2 = self.watcher()
        r = w2.subscribe(600)
        self.assertStatus(r, 403, 'Too Many Subscriptions')
        w2.expect_no_notify()
        self.assertStatus(w1.refresh(600), 200)
        w1.recv_notify(state='active', doc='full')
        self.assertStatus(w1.unsubscribe(), 200)
        w1.recv_notify(state='terminated', doc='full')
        # when the slot frees is not specified: give it a moment
        deadline = time.monotonic() + 2
        while True:
            w2.new_dialog()
            r = w2.subscribe(600)
            if r is None or r.status != 403 or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertSubscribed(r, 600)
        w2.recv_notify(state='active', doc='full')


class WatcherLimitTest(LimitCase):
    herald_args = ['--max-subscriptions-per-watcher', '1']

    def test_per_watcher(self):
        self.check_limit()


class WatcherIdentityTest(EventsCase):
    """The watcher is who its digest credentials say, whatever its From:
    alice (authenticated) varying her From in scheme and case is one
    watcher against --max-subscriptions-per-watcher, and a From naming
    bob gets 403 From Is Not the Authenticated User."""
    herald_args = ['--max-subscriptions-per-watcher', '2']

    def test_varying_from(self):
        froms = ['sip:alice@example.test', 'sips:alice@example.test',
                 'sip:alice@EXAMPLE.TEST']
        ws = []
        for f in froms:
            w = self.watcher()
            w.from_uri = f
            ws.append(w)
        for w in ws[:2]:
            self.assertSubscribed(w.subscribe(600), 600)
            w.recv_notify(state='active', doc='full')
        r = ws[2].subscribe(600)
        self.assertStatus(r, 403, 'Too Many Subscriptions')
        ws[2].expect_no_notify()
        self.herald.wait_log('403 Too Many Subscriptions')
        # another user's From: refused before it is counted
        w = self.watcher()
        w.from_uri = 'sip:bob@example.test'
        r = w.subscribe(600)
        self.assertStatus(r, 403, 'From Is Not the Authenticated User')
        w.expect_no_notify()
        # a slot freed: alice again, in yet another From
        self.assertStatus(ws[0].unsubscribe(), 200)
        ws[0].recv_notify(state='terminated')
        deadline = time.monotonic() + 2
        while True:
            ws[2].new_dialog()
            r = ws[2].subscribe(600)
            if r is None or r.status != 403 or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertSubscribed(r, 600)
        ws[2].recv_notify(state='active', doc='full')


class ResourceLimitTest(LimitCase):
    herald_args = ['--max-subscriptions-per-resource', '1']

    def test_per_resource(self):
        self.check_limit()


class ShortSubscriptionTest(EventsCase):
    herald_args = ['--subscribe-min-expires', '1']

    def test_subscription_expires(self):
        """Expires: 2 (allowed by --subscribe-min-expires 1): when it runs
        out, NOTIFY terminated;reason=timeout; the dialog is gone."""
        w = self.watcher()
        r = w.subscribe(2)
        t200 = time.monotonic()
        self.assertSubscribed(r, 2)
        n = w.recv_notify(state='active', doc='full')
        self.assertExpiresClose(n, 2, t200)
        n = w.recv_notify(timeout=2 + 4, state='terminated')
        self.assertGreaterEqual(time.monotonic() - t200, 1.5,
                                'terminated before the subscription ran '
                                'out:\n%s' % n)
        self.assertTerminatedTimeout(n)
        if n.body:
            self.assertEqual(n.reginfo.state, 'full', n)
        self.assertStatus(w.refresh(600), 481)
        w.expect_no_notify()


# ---------------------------------------------------------------------------
# refusals

class ErrorsTest(EventsCase):

    def assertBadEvent(self, r):
        self.assertStatus(r, 489)
        self.assertIn('reg', [t.lower().split(';')[0]
                              for t in r.tokens('Allow-Events')],
                      'Allow-Events does not list reg:\n%s' % r)

    def test_no_event(self):
        w = self.watcher(event=False)
        self.assertBadEvent(w.subscribe(600))
        w.expect_no_notify()

    def test_unknown_event(self):
        w = self.watcher(event='foo')
        self.assertBadEvent(w.subscribe(600))
        w.expect_no_notify()

    def test_not_acceptable(self):
        w = self.watcher()
        r = w.subscribe(600, accept='text/plain')
        self.assertStatus(r, 406)
        self.assertIn(REGINFO_TYPE, [t.lower().split(';')[0]
                                     for t in r.tokens('Accept')],
                      '406 without Accept naming %s:\n%s'
                      % (REGINFO_TYPE, r))
        w.expect_no_notify()
        # reginfo among other types, or no Accept at all: fine
        w2 = self.watcher()
        self.assertSubscribed(w2.subscribe(
            600, accept='text/plain, application/reginfo+xml'), 600)
        w2.recv_notify(state='active', doc='full')
        w3 = self.watcher()
        self.assertSubscribed(w3.subscribe(600, accept=False), 600)
        w3.recv_notify(state='active', doc='full')

    def test_interval_too_brief(self):
        w = self.watcher()
        r = w.subscribe(30)
        self.assertStatus(r, 423)
        self.assertEqual(r.get('Min-Expires'), '60', r)
        w.expect_no_notify()

    def test_refresh_too_brief(self):
        """An in-dialog refresh below the minimum: 423 with Min-Expires;
        the subscription goes on."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        w.recv_notify(state='active', doc='full')
        r = w.refresh(30)
        self.assertStatus(r, 423)
        self.assertEqual(r.get('Min-Expires'), '60', r)
        w.expect_no_notify()
        self.assertStatus(w.refresh(600), 200)
        w.recv_notify(state='active', doc='full')

    def test_unknown_dialog(self):
        """In-dialog SUBSCRIBEs naming no subscription: 481; a wrong
        To-tag on a live dialog too, which is left alone."""
        w = self.watcher()
        w.to_tag = rand_token(12)
        self.assertStatus(w.refresh(600), 481)
        w.expect_no_notify()
        w2 = self.watcher()
        self.assertSubscribed(w2.subscribe(600), 600)
        w2.recv_notify(state='active', doc='full')
        real = w2.to_tag
        w2.to_tag = real + 'x'
        self.assertStatus(w2.refresh(600), 481)
        w2.to_tag = real
        self.assertStatus(w2.refresh(600), 200)
        w2.recv_notify(state='active', doc='full')

    def test_old_cseq(self):
        """An in-dialog SUBSCRIBE with a lower or equal CSeq: 500; the
        subscription goes on."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        w.recv_notify(state='active', doc='full')
        last = w.cseq
        r = w.send_request(w.build(600, in_dialog=True, cseq=last - 1))
        self.assertStatus(r, 500)
        r = w.send_request(w.build(600, in_dialog=True, cseq=last))
        self.assertStatus(r, 500)
        w.expect_no_notify()
        self.assertStatus(w.refresh(600), 200)
        w.recv_notify(state='active', doc='full')

    def test_other_user_forbidden(self):
        """bob (authenticated as bob) may not watch alice's reg."""
        w = self.watcher(user='bob', password='bobpw', resource=ALICE)
        self.assertStatus(w.subscribe(600), 403)
        w.expect_no_notify()

    def test_unknown_resource(self):
        w = self.watcher(resource='sip:nobody@example.test')
        self.assertStatus(w.subscribe(600), 404)
        w.expect_no_notify()
        w2 = self.watcher(resource='sip:alice@elsewhere.test')
        self.assertStatus(w2.subscribe(600), 404)
        w2.expect_no_notify()

    def test_no_contact(self):
        w = self.watcher()
        self.assertStatus(w.subscribe(600, contact=False), 400)
        w.expect_no_notify()

    def test_challenge(self):
        """401 with a SHA-256 then an MD5 challenge (realm the domain);
        credentials for either are accepted; a wrong password is not."""
        w = self.watcher()
        r = w.subscribe(600, auth=False)
        self.assertStatus(r, 401)
        ch = r.get_all('WWW-Authenticate')
        self.assertEqual(len(ch), 2, r)
        self.assertIn('algorithm=SHA-256', ch[0])
        self.assertIn('algorithm=MD5', ch[1])
        for c in ch:
            self.assertIn('realm="example.test"', c)
        w.expect_no_notify()
        w2 = self.watcher()
        self.assertSubscribed(w2.subscribe(600, algorithm='MD5'), 600)
        w2.recv_notify(state='active', doc='full')
        w3 = self.watcher(password='wrong')
        self.assertStatus(w3.subscribe(600), 403)
        w3.expect_no_notify()


# ---------------------------------------------------------------------------
# NOTIFYs that fail

class NotifyFailureTest(EventsCase):

    def test_notify_answered_481_ends_subscription(self):
        reg = self.registrant()
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        w.recv_notify(state='active', doc='full')
        w.answer = 481
        reg.add(A, 600)
        w.recv_notify(state='active', doc='partial')
        w.answer = 200
        reg.add(B, 600)
        w.expect_no_notify(1.5)
        self.assertStatus(w.refresh(600), 481)
        w.expect_no_notify()

    def test_notify_answered_603_ends_subscription(self):
        """Any other non-2xx final answer ends it as well."""
        reg = self.registrant()
        w = self.watcher()
        w.answer = 603
        self.assertSubscribed(w.subscribe(600), 600)
        w.recv_notify(state='active', doc='full')
        w.answer = 200
        reg.add(A, 600)
        w.expect_no_notify(1.5)
        self.assertStatus(w.refresh(600), 481)

    def test_unreachable_watcher_ends_at_once(self):
        """RFC 3261 8.1.3.1: a NOTIFY the transport cannot send fails at
        once, not at Timer F (32 s), though it leaves in a batch after
        the send returned: a Contact in 192.0.2.0/24, which Herald's
        socket on 127.0.0.1 cannot reach (the kernel refuses it), ends
        the subscription within a second; a refresh gets 481."""
        w = self.watcher(contact='<sip:alice-watch@192.0.2.99:5060>')
        seen = self.herald.log_text().count('NOTIFY failed (')
        t0 = time.monotonic()
        self.assertSubscribed(w.subscribe(600), 600)
        self.herald.wait_log('NOTIFY failed (', seen, timeout=3)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertStatus(w.refresh(600), 481)
        w.expect_no_notify()

    def test_unanswered_notify_timer_f(self):
        """Slow (~35 s). A NOTIFY never answered over UDP is retransmitted
        (Timer E: 0.5 s, doubling to 4 s) as the same request, until
        Timer F (32 s); the subscription is then gone (481) and a change
        meanwhile produced no second NOTIFY."""
        reg = self.registrant()
        w = self.watcher()
        w.answer = None
        self.assertSubscribed(w.subscribe(600), 600)
        n = w.next_notify()
        self.assertIsNotNone(n, 'no NOTIFY after the 200')
        w.check_notify(n, state='active', doc='full')
        t0 = n.at
        reg.add(A, 600)     # merged into a NOTIFY that never goes out
        w.ep.drain(t0 + 35 - time.monotonic())
        copies = w.ep.copies_of(n)
        times = [round(m.at - t0, 2) for m in copies]
        self.assertGreaterEqual(len(copies), 3, 'copies at %r' % times)
        for m in copies:
            self.assertEqual(m.raw, n.raw, 'a retransmission differs from '
                             'the first copy:\n%s' % m)
        self.assertGreaterEqual(times[1], 0.3, times)
        self.assertLessEqual(times[1], 1.5, times)
        self.assertGreaterEqual(times[-1], 15, 'gave up long before Timer '
                                'F: copies at %r' % times)
        self.assertLess(times[-1], 33, 'retransmitted after Timer F: %r'
                        % times)
        self.assertEqual(w.inbox, [], 'a second NOTIFY while the first was '
                         'unanswered')
        w.answer = 200
        self.assertStatus(w.refresh(600), 481)
        w.expect_no_notify()


# ---------------------------------------------------------------------------
# replacement: the same watcher subscribing again

class ReplacementTest(EventsCase):

    def check_replaced(self, w1, w2):
        reg = self.registrant()
        self.assertSubscribed(w1.subscribe(600), 600)
        w1.recv_notify(state='active', doc='full')
        self.assertSubscribed(w2.subscribe(600), 600)
        self.assertNotEqual(w1.call_id, w2.call_id)
        w2.recv_notify(state='active', doc='full')
        w1.expect_no_notify()
        self.assertStatus(w1.refresh(600), 481)
        reg.add(A, 600)
        n = w2.recv_notify(state='active', doc='partial')
        self.assertEqual(set(n.reginfo.contacts()), {A}, n.reginfo)
        w1.expect_no_notify(1.0)
        self.assertStatus(w2.refresh(600), 200)
        w2.recv_notify(state='active', doc='full')

    def test_same_contact_new_call_id(self):
        w1 = self.watcher()
        w2 = self.watcher(endpoint=w1.ep, contact=w1.contact)
        self.check_replaced(w1, w2)

    def test_same_instance_id(self):
        """Same +sip.instance, different Contact URIs (a phone that moved
        to another port)."""
        inst = ';+sip.instance="<urn:uuid:%s>"' % uuid.uuid4()
        w1 = self.watcher()
        w1.contact += inst
        w2 = self.watcher()
        w2.contact += inst
        self.check_replaced(w1, w2)


# ---------------------------------------------------------------------------
# TCP and where NOTIFYs go

class TcpTest(EventsCase):

    def test_subscribe_over_tcp(self):
        """The NOTIFYs come back on the SUBSCRIBE's connection."""
        reg = self.registrant()
        w = self.watcher(tcp=True)
        r = w.subscribe(600)
        self.assertSubscribed(r, 600, tcp=True)
        n = w.recv_notify(state='active', doc='full')
        self.assertEqual(via_parts(n.get('Via'))[0].upper(), 'SIP/2.0/TCP',
                         n)
        reg.add(A, 600)
        n = w.recv_notify(state='active', doc='partial')
        self.assertEqual(set(n.reginfo.contacts()), {A}, n.reginfo)
        self.assertStatus(w.refresh(600), 200)
        w.recv_notify(state='active', doc='full')
        self.assertStatus(w.unsubscribe(), 200)
        self.assertTerminatedTimeout(w.recv_notify(state='terminated',
                                                   doc='full'))


class NotifyToSourceTest(EventsCase):
    herald_args = ['--notify-to-source']

    def test_notify_to_source(self):
        """--notify-to-source: NOTIFYs go where the SUBSCRIBE came from,
        not to the Contact (a socket that must see nothing)."""
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.bind(('127.0.0.1', 0))
        self.addCleanup(other.close)
        w = self.watcher(contact='<sip:alice-watch@127.0.0.1:%d>'
                         % other.getsockname()[1])
        reg = self.registrant()
        self.assertSubscribed(w.subscribe(600), 600)
        w.recv_notify(state='active', doc='full')
        reg.add(A, 600)
        w.recv_notify(state='active', doc='partial')
        other.setblocking(False)
        try:
            data = other.recv(70000)
        except BlockingIOError:
            data = None
        self.assertIsNone(data, 'the Contact got a message:\n%r' % data)


class HostNameContactTest(EventsCase):

    def test_contact_host_name(self):
        """A Contact naming a host (localhost, from /etc/hosts) is looked
        up before the NOTIFY goes; it reaches the watcher."""
        ep = Endpoint(self, self.herald)
        self.addCleanup(self.check_endpoint, ep)
        w = self.watcher(endpoint=ep, contact='<sip:alice-watch@localhost:%d>'
                         % ep.port)
        reg = self.registrant()
        self.assertSubscribed(w.subscribe(600), 600)
        w.recv_notify(state='active', doc='full')
        reg.add(A, 600)
        w.recv_notify(state='active', doc='partial')


# ---------------------------------------------------------------------------
# kill -9 and restart

class RestartTest(EventsCase):
    autostart = False

    def test_kill9_mid_subscription(self):
        h = self.start_herald()
        self.add_users(h)
        reg = self.registrant(h)
        w = self.watcher(h)
        self.assertSubscribed(w.subscribe(600), 600, herald=h)
        w.recv_notify(state='active', doc='full')
        reg.add(A, 600)
        w.recv_notify(state='active', doc='partial')
        reg.add(B, 600)
        w.recv_notify(state='active', doc='partial')
        before_cseq, before_version = w.last_cseq, w.last_version

        h2 = self.restart_herald(h)
        w.ep.herald = h2
        reg.retarget(h2)
        if h2.port != h.port:
            # the port was taken meanwhile: the dialog's remote target
            # names the old one, which cannot be helped
            self.skipTest('port %d not free for the restart' % h.port)

        r = w.refresh(600)
        t200 = time.monotonic()
        self.assertStatus(r, 200)
        self.assertEqual(r.get('Expires'), '600', r)
        w.expect_jump = True
        n = w.recv_notify(state='active')
        self.assertGreater(n.cseq[0], before_cseq, n)
        self.assertGreater(n.reginfo.version, before_version, n)
        # herald may have sent a NOTIFY of its own on start before the
        # refresh's one: every further one goes on by one
        while True:
            m = w.next_notify(harness.SILENCE)
            if m is None:
                break
            w.check_notify(m, state='active')
            n = m
        self.assertEqual(n.reginfo.state, 'full', n)
        self.assertEqual(set(n.reginfo.contacts()), {A, B}, n.reginfo)
        self.assertExpiresClose(n, 600, t200)

        reg.add(C, 600)
        n = w.recv_notify(state='active', doc='partial')
        self.assertEqual(set(n.reginfo.contacts()), {C}, n.reginfo)
        self.assertContact(n.reginfo, C, 'active', NEW)
        reg.remove(A)
        n = w.recv_notify(state='active', doc='partial')
        self.assertContact(n.reginfo, A, 'terminated', 'unregistered')
        self.assertStatus(w.unsubscribe(), 200)
        self.assertTerminatedTimeout(w.recv_notify(state='terminated',
                                                   doc='full'))


# ---------------------------------------------------------------------------
# Perl's Net::SIP as the watcher

def have_netsip():
    if shutil.which('perl') is None:
        return False
    return subprocess.run(['perl', '-MNet::SIP', '-e', '1'],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


class NetSipTest(EventsCase):

    def test_netsip_watcher(self):
        """Net::SIP subscribes to alice's reg (digest: it answers the MD5
        challenge), gets version 0 (full), alice registers, version 1
        (partial), then it unsubscribes: version 2, terminated."""
        if not have_netsip():
            raise unittest.SkipTest('perl Net::SIP not installed')
        local = free_port()
        proc = subprocess.Popen(
            ['perl', NETSIP_WATCH, '--port', str(self.herald.port),
             '--local-port', str(local), '--count', '2', '--unsubscribe',
             '--timeout', '20'],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        lines = queue.Queue()
        out = []

        def read():
            for line in proc.stdout:
                lines.put(line.rstrip('\n'))
            lines.put(None)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()

        def cleanup():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            reader.join(5)
        self.addCleanup(cleanup)

        def wait_line(prefix, timeout):
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                try:
                    line = lines.get(timeout=left)
                except queue.Empty:
                    return None
                if line is None:
                    return None
                out.append(line)
                if line.startswith(prefix):
                    return line

        first = wait_line('notify:', 15)
        self.assertIsNotNone(first, 'Net::SIP saw no NOTIFY:\n%s'
                             % '\n'.join(out))
        self.registrant().add(A, 600)
        try:
            code = proc.wait(25)
        except subprocess.TimeoutExpired:
            code = None
        reader.join(5)
        while True:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                out.append(line)
        text = '\n'.join(out)
        self.assertEqual(code, 0, 'Net::SIP watcher failed (exit %s):\n%s'
                         % (code, text))
        self.assertIn('subscribe: 200 expires=600', text)
        self.assertIn('unsubscribe: 200', text)
        notes = [dict(kv.split('=', 1) for kv in line.split()[1:]
                      if '=' in kv)
                 for line in out if line.startswith('notify:')]
        bodies = [bytes.fromhex(line.split(' ', 1)[1].strip())
                  for line in out if line.startswith('body:')]
        self.assertEqual([x['version'] for x in notes], ['0', '1', '2'],
                         text)
        self.assertEqual([x['state'] for x in notes],
                         ['full', 'partial', 'full'], text)
        self.assertEqual([x['event'] for x in notes], ['reg'] * 3, text)
        self.assertTrue(notes[0]['subscription-state'].startswith(
            'active;expires='), text)
        self.assertTrue(notes[1]['subscription-state'].startswith(
            'active;expires='), text)
        self.assertEqual(notes[2]['subscription-state'],
                         'terminated;reason=timeout', text)
        cseqs = [int(x['cseq']) for x in notes]
        self.assertEqual(cseqs, list(range(cseqs[0], cseqs[0] + 3)), text)
        self.assertEqual(len(bodies), 3, text)
        for body in bodies:
            ok, msg = validate_reginfo(body)
            self.assertTrue(ok, '%s\n%s' % (msg, body))
        self.assertEqual(parse_reginfo(bodies[0]).contacts(), {})
        self.assertEqual(len(parse_reginfo(bodies[1]).contacts()), 1)


if __name__ == '__main__':
    harness.main()
