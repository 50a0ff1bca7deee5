#!/usr/bin/env python3
"""Presence (RFC 3856) with publication (RFC 3903) and watcher
information (RFC 3857/3858) against a real PostgreSQL.

alice publishes from two devices (two PUBLISH flows with tuples of their
own); bob, of alice's domain (allowed by default), watches alice and gets
the composed document after every publish, modify and remove, in order;
the same tuple id in two publications: the newest wins; the entity-tag
lifecycle (initial, refresh, modify, remove) and 412 for a stale or
unknown one; a refresh notifies nobody; a publication that expires is
dropped from the document (basic closed once none is left); the error
answers (412, 423, 415, 400 for bad PIDF and XML attacks, 403, 404, 489,
406); --presence-default-local confirm (pending, no body), block (403)
and polite-block (a neutral closed document); presence.winfo: only alice
may watch her watchers, and sees bob come (active or pending) and go
(terminated, timeout); --presence-from-registrar; kill -9 and restart
keep publications (their entity-tags) and subscriptions (their CSeq).

Every PIDF body received is validated against tests/unit/xml/pidf.xsd
(pidf-rpid.xsd when it carries RPID), every watcherinfo body against
watcherinfo.xsd, with xmllint --nonet (watcher.py); so is every valid
document the tests publish."""

import errno
import os
import re
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from watcher import (DM_NS, PASSWORD, PIDF_TYPE, RPID_NS,  # noqa: E402
                     WINFO_TYPE, Message, Publisher, Registrant, Watcher,
                     response_to,
                     WatcherChecks, pidf_doc, rand_token, validate_pidf)

ALICE = 'sip:alice@example.test'
BOB = 'sip:bob@example.test'
BOBPW = 'bobpw'
ALICE_PRES = 'pres:alice@example.test'
SLACK = 3                       # seconds of test run time tolerated
A = 'sip:alice@192.0.2.1:5060'
B = 'sip:alice@192.0.2.2:5060'

RPID_XMLNS = ('xmlns:dm="%s" xmlns:rpid="%s"' % (DM_NS, RPID_NS))
ON_THE_PHONE = ('<dm:person id="p1"><rpid:activities><rpid:on-the-phone/>'
                '</rpid:activities></dm:person>')


def doc(*tuples, **kw):
    """pidf_doc() of alice (entity pres:alice@example.test unless given),
    checked against the schema first: the tests publish only valid
    documents where they mean to."""
    body = pidf_doc(tuples, **kw)
    ok, out = validate_pidf(body)
    if not ok:
        raise AssertionError('the test publishes an invalid PIDF:\n%s\n%s'
                             % (out, body.decode()))
    return body


class PresenceCase(WatcherChecks, harness.HeraldTestCase):
    """alice (secret) and bob (bobpw) exist; watchers' endpoints are
    checked after the test: no unparsable message, no NOTIFY outside a
    known dialog, no body that fails its schema."""

    def setUp(self):
        super().setUp()
        if self.autostart:
            self.add_users(self.herald)

    def add_users(self, h):
        h.add_user('alice@example.test', PASSWORD)
        h.add_user('bob@example.test', BOBPW)

    # -- parties --

    def watcher(self, herald=None, user='bob', event='presence', **kw):
        """A watcher of alice's presence, bob's by default."""
        kw.setdefault('password', BOBPW if user == 'bob' else PASSWORD)
        w = Watcher(self, herald or self.herald, user=user, event=event,
                    resource=kw.pop('resource', ALICE), **kw)
        if 'endpoint' not in kw:
            self.addCleanup(self.check_endpoint, w.ep)
        return w

    def winfo_watcher(self, herald=None, user='alice', **kw):
        """A watcher of alice's watchers, alice's by default."""
        return self.watcher(herald, user=user, event='presence.winfo', **kw)

    def publisher(self, herald=None, **kw):
        """A device of alice's that publishes."""
        return Publisher(self, herald or self.herald, **kw)

    # -- assertions --

    def assertPublished(self, r, expires, p=None, before=()):
        """200 to a PUBLISH: SIP-ETag of 20 characters, new (not among
        before), and Expires; the entity-tag."""
        self.assertStatus(r, 200)
        etag = r.get('SIP-ETag')
        self.assertIsNotNone(etag, '200 without SIP-ETag:\n%s' % r)
        self.assertRegex(etag, r'^\S{20}$', 'SIP-ETag not 20 characters:'
                         '\n%s' % r)
        self.assertNotIn(etag, list(before), 'SIP-ETag not new:\n%s' % r)
        self.assertEqual(r.get('Expires'), str(expires), r)
        if p is not None:
            self.assertEqual(p.etag, etag)
        return etag

    def presence(self, w, state='active'):
        """The next NOTIFY of w, with a PIDF body: (NOTIFY, document)."""
        n = w.recv_notify(state=state, doc=True)
        return n, n.pidf

    def assertTuples(self, d, basics, n=None):
        """The document's tuples are exactly basics ({id: basic})."""
        self.assertEqual(d.basics(), basics, n or d)

    def assertClosedOnly(self, d, n=None):
        """The document of a presentity with nothing published: one
        tuple, basic closed."""
        self.assertEqual(len(d.tuples), 1, n or d)
        self.assertEqual(d.tuples[0]['basic'], 'closed', n or d)

    def assertNeutral(self, d, n=None):
        """polite-block's document: one tuple basic closed, nothing else
        (no note, no contact, no extension of any namespace)."""
        self.assertClosedOnly(d, n)
        t = d.tuples[0]
        self.assertEqual(t['children'], ['{urn:ietf:params:xml:ns:pidf}'
                                         'status'], n or d)
        self.assertEqual(t['status'], ['{urn:ietf:params:xml:ns:pidf}'
                                       'basic'], n or d)
        self.assertEqual(d.notes, [], n or d)
        self.assertEqual(d.others, [], n or d)


# ---------------------------------------------------------------------------
# composition: what bob sees while alice's devices publish

class ComposeTest(PresenceCase):

    def test_two_devices(self):
        """bob watches alice: closed first (nothing published); phone
        publishes, laptop publishes (RPID in a dm:person, entity in
        sip: form), phone modifies, laptop removes, phone removes: after
        each, exactly one NOTIFY with the composed document. A second
        watcher arriving midway gets the current document first."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        n, d = self.presence(w)
        self.assertClosedOnly(d, n)

        phone = self.publisher()
        laptop = self.publisher()
        r = phone.publish(doc(('phone', 'open', 'on the move', A)), 600)
        self.assertPublished(r, 600, phone)
        n, d = self.presence(w)
        self.assertTuples(d, {'phone': 'open'}, n)
        self.assertEqual(d.tuple('phone')['contact'], A, n)
        self.assertEqual(d.tuple('phone')['notes'], ['on the move'], n)

        r = laptop.publish(doc(('laptop', 'closed'), entity=ALICE,
                               xmlns=RPID_XMLNS, extra=ON_THE_PHONE), 600)
        self.assertPublished(r, 600, laptop, phone.etags)
        n, d = self.presence(w)
        self.assertTuples(d, {'phone': 'open', 'laptop': 'closed'}, n)
        self.assertEqual(d.tuple('phone')['notes'], ['on the move'], n)
        self.assertTrue(d.find_all(RPID_NS, 'on-the-phone'),
                        'RPID did not pass through:\n%s' % n)
        self.assertTrue(d.find_all(DM_NS, 'person'),
                        'dm:person did not pass through:\n%s' % n)

        # a second watcher of bob's (another Contact): the current state
        w2 = self.watcher()
        self.assertSubscribed(w2.subscribe(300), 300)
        n2, d2 = self.presence(w2)
        self.assertTuples(d2, {'phone': 'open', 'laptop': 'closed'}, n2)
        self.assertTrue(d2.find_all(RPID_NS, 'on-the-phone'), n2)
        w.expect_no_notify()

        r = phone.modify(doc(('phone', 'closed', 'in a meeting', A)))
        self.assertStatus(r, 200)
        for x in (w, w2):
            n, d = self.presence(x)
            self.assertTuples(d, {'phone': 'closed', 'laptop': 'closed'},
                              n)
            self.assertEqual(d.tuple('phone')['notes'], ['in a meeting'],
                             n)

        r = laptop.remove()
        self.assertStatus(r, 200)
        for x in (w, w2):
            n, d = self.presence(x)
            self.assertTuples(d, {'phone': 'closed'}, n)
            self.assertEqual(d.find_all(RPID_NS), [],
                             'RPID of the removed publication stayed:\n%s'
                             % n)

        self.assertStatus(phone.remove(), 200)
        for x in (w, w2):
            n, d = self.presence(x)
            self.assertClosedOnly(d, n)
            self.assertNotIn('in a meeting', d.text, n)
        w.expect_no_notify()
        w2.expect_no_notify(0)
        self.assertEqual(len(w.notifies), 6)
        # never the same document twice in a row
        bodies = [m.body for m in w.notifies]
        for a, b in zip(bodies, bodies[1:]):
            self.assertNotEqual(a, b, 'the same document twice:\n%s'
                                % a.decode())

    def test_same_tuple_id_newest_wins(self):
        """Two publications with tuple t1: the newer one's t1 is in the
        document (once); a modify makes the other one newest; removing
        the newest brings the older one's back."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.presence(w)
        a = self.publisher()
        b = self.publisher()
        self.assertStatus(a.publish(doc(('t1', 'open', 'from a')), 600),
                          200)
        n, d = self.presence(w)
        self.assertTuples(d, {'t1': 'open'}, n)
        self.assertEqual(d.tuple('t1')['notes'], ['from a'], n)

        self.assertStatus(b.publish(doc(('t1', 'closed', 'from b'),
                                        ('t2', 'open')), 600), 200)
        n, d = self.presence(w)
        self.assertTuples(d, {'t1': 'closed', 't2': 'open'}, n)
        self.assertEqual(d.tuple('t1')['notes'], ['from b'], n)

        self.assertStatus(a.modify(doc(('t1', 'open', 'from a again'))),
                          200)
        n, d = self.presence(w)
        self.assertTuples(d, {'t1': 'open', 't2': 'open'}, n)
        self.assertEqual(d.tuple('t1')['notes'], ['from a again'], n)

        self.assertStatus(b.modify(doc(('t1', 'closed', 'from b again'))),
                          200)
        n, d = self.presence(w)
        self.assertTuples(d, {'t1': 'closed'}, n)
        self.assertEqual(d.tuple('t1')['notes'], ['from b again'], n)

        self.assertStatus(b.remove(), 200)
        n, d = self.presence(w)
        self.assertTuples(d, {'t1': 'open'}, n)
        self.assertEqual(d.tuple('t1')['notes'], ['from a again'], n)
        w.expect_no_notify()

    def test_publish_again_after_removal(self):
        """Everything removed (basic closed), then a new publication: bob
        is told again, each time."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.presence(w)
        for i in range(3):
            p = self.publisher()
            self.assertStatus(p.publish(doc(('phone', 'open', 'round %d'
                                             % i)), 600), 200)
            n, d = self.presence(w)
            self.assertTuples(d, {'phone': 'open'}, n)
            self.assertEqual(d.tuple('phone')['notes'], ['round %d' % i], n)
            self.assertStatus(p.remove(), 200)
            n, d = self.presence(w)
            self.assertClosedOnly(d, n)
        w.expect_no_notify()

    def test_self_watch(self):
        """alice may watch her own presence (the document, active)."""
        p = self.publisher()
        self.assertStatus(p.publish(doc(('phone', 'open')), 600), 200)
        w = self.watcher(user='alice')
        self.assertSubscribed(w.subscribe(600), 600)
        n, d = self.presence(w)
        self.assertTuples(d, {'phone': 'open'}, n)

    def test_unsubscribe(self):
        """Expires: 0 in the dialog: 200, NOTIFY terminated;reason=timeout;
        later publications notify nobody; the dialog is gone (481)."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.presence(w)
        self.assertStatus(w.unsubscribe(), 200)
        n = w.recv_notify(state='terminated')
        self.assertEqual(n.sub_state[1].get('reason'), 'timeout', n)
        p = self.publisher()
        self.assertStatus(p.publish(doc(('phone', 'open')), 600), 200)
        w.expect_no_notify(1.0)
        self.assertStatus(w.refresh(600), 481)


# ---------------------------------------------------------------------------
# the entity-tag (RFC 3903 4)

class ETagTest(PresenceCase):

    def test_lifecycle(self):
        """initial (200, SIP-ETag, Expires) -> refresh without a body (a
        new SIP-ETag, no NOTIFY) -> refresh with an empty body that has a
        Content-Type (the same) -> modify (new SIP-ETag, NOTIFY; the
        entity-tag before it: 412) -> remove (Expires: 0, NOTIFY; its
        entity-tag: 412)."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.presence(w)
        p = self.publisher()

        e1 = self.assertPublished(p.publish(doc(('t', 'open')), 600), 600,
                                  p)
        n, d = self.presence(w)
        self.assertTuples(d, {'t': 'open'}, n)

        e2 = self.assertPublished(p.refresh(600), 600, p, [e1])
        w.expect_no_notify()

        e3 = self.assertPublished(
            p.send(body=b'', content_type=PIDF_TYPE, etag=e2, expires=300),
            300, p, [e1, e2])
        w.expect_no_notify()

        e4 = self.assertPublished(p.modify(doc(('t', 'closed', 'away')),
                                           600), 600, p, [e1, e2, e3])
        n, d = self.presence(w)
        self.assertTuples(d, {'t': 'closed'}, n)
        self.assertEqual(d.tuple('t')['notes'], ['away'], n)

        self.assertStatus(p.refresh(600, etag=e3), 412,
                          'Conditional Request Failed')
        self.assertStatus(p.modify(doc(('t', 'open')), etag=e3), 412)
        w.expect_no_notify()

        r = p.remove(etag=e4)
        self.assertStatus(r, 200)
        self.assertEqual(r.get('Expires'), '0', r)
        n, d = self.presence(w)
        self.assertClosedOnly(d, n)
        self.assertNotIn('away', d.text, n)
        self.assertStatus(p.refresh(600, etag=e4), 412)
        self.assertStatus(p.remove(etag=e4), 412)
        w.expect_no_notify()

    def test_default_and_clamped_expires(self):
        """No Expires: 3600; more than --publish-max-expires: cut to it."""
        p = self.publisher()
        self.assertPublished(p.publish(doc(('t', 'open'))), 3600, p)
        self.assertPublished(p.refresh(999999), 86400, p)

    def test_unknown_etag(self):
        """An entity-tag herald never gave: 412, for a refresh, a modify
        and a remove."""
        p = self.publisher()
        self.assertStatus(p.publish(doc(('t', 'open')), 600), 200)
        bogus = rand_token(20)
        self.assertStatus(p.refresh(600, etag=bogus), 412,
                          'Conditional Request Failed')
        self.assertStatus(p.modify(doc(('t', 'closed')), etag=bogus), 412)
        self.assertStatus(p.remove(etag=bogus), 412)
        # the real one still works
        self.assertStatus(p.refresh(600), 200)


# ---------------------------------------------------------------------------
# refusals of PUBLISH

XXE = b'''<?xml version="1.0"?>
<!DOCTYPE presence [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:alice@example.test">
<tuple id="t"><status><basic>open</basic></status><note>&xxe;</note></tuple>
</presence>'''

LAUGHS = b'''<?xml version="1.0"?>
<!DOCTYPE presence [
<!ENTITY a "lollollollollollollollollollol">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
]>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:alice@example.test">
<tuple id="t"><status><basic>open</basic></status><note>&f;</note></tuple>
</presence>'''

PLAIN_DOCTYPE = b'''<?xml version="1.0"?>
<!DOCTYPE presence>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="pres:alice@example.test">
<tuple id="t"><status><basic>open</basic></status></tuple>
</presence>'''


class PublishErrorsTest(PresenceCase):

    def assertNothingChanged(self, w):
        """bob heard nothing; a valid publication still works and is
        the only one in the document."""
        w.expect_no_notify()
        p = self.publisher()
        self.assertStatus(p.publish(doc(('good', 'open')), 600), 200)
        n, d = self.presence(w)
        self.assertTuples(d, {'good': 'open'}, n)

    def watching(self):
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        n, d = self.presence(w)
        self.assertClosedOnly(d, n)
        return w

    def test_bad_pidf(self):
        """Not XML, another root, another namespace, no entity, a DOCTYPE
        (with an external entity, with nested entities, bare): 400 with a
        reason starting "Bad PIDF"; nothing published."""
        w = self.watching()
        p = self.publisher()
        bad = {
            'not xml': b'this is not xml <presence',
            'unclosed': doc(('t', 'open'))[:-12],
            'other root': b'<?xml version="1.0"?><presenc xmlns="urn:ietf:'
                          b'params:xml:ns:pidf" entity="pres:alice@'
                          b'example.test"/>',
            'other namespace': doc(('t', 'open')).replace(
                b'urn:ietf:params:xml:ns:pidf', b'urn:example:pidf'),
            'no namespace': doc(('t', 'open')).replace(
                b' xmlns="urn:ietf:params:xml:ns:pidf"', b''),
            'no entity': doc(('t', 'open')).replace(
                b' entity="pres:alice@example.test"', b''),
            'external entity': XXE,
            'nested entities': LAUGHS,
            'doctype': PLAIN_DOCTYPE,
        }
        for what, body in bad.items():
            with self.subTest(what):
                r = p.publish(body, 600)
                self.assertStatus(r, 400)
                self.assertTrue(r.reason.startswith('Bad PIDF'),
                                '%s: reason %r:\n%s' % (what, r.reason, r))
        self.assertNothingChanged(w)

    def test_entity_not_alice(self):
        """entity naming bob, or alice of another domain: 400; both
        forms of alice (pres: and sip:) are accepted."""
        w = self.watching()
        p = self.publisher()
        for entity in ('pres:bob@example.test', BOB,
                       'pres:alice@elsewhere.test'):
            with self.subTest(entity):
                self.assertStatus(p.publish(doc(('t', 'open'),
                                                entity=entity), 600), 400)
        w.expect_no_notify()
        for i, entity in enumerate((ALICE_PRES, ALICE)):
            with self.subTest(entity):
                q = self.publisher()
                self.assertStatus(q.publish(doc(('t%d' % i, 'open'),
                                                entity=entity), 600), 200)
                self.presence(w)

    def test_no_body_no_etag(self):
        """Neither a body nor SIP-If-Match: 400; Expires: 0 without
        SIP-If-Match: 400 (with a body or without)."""
        w = self.watching()
        p = self.publisher()
        self.assertStatus(p.send(expires=600), 400)
        self.assertStatus(p.send(expires=0), 400)
        self.assertStatus(p.send(body=doc(('t', 'open')), expires=0), 400)
        self.assertNothingChanged(w)

    def test_interval_too_brief(self):
        """Expires below --publish-min-expires (10): 423 with
        Min-Expires: 10; for a refresh as well. baresip's pubint=30 is
        accepted."""
        p = self.publisher()
        r = p.publish(doc(('t', 'open')), 9)
        self.assertStatus(r, 423)
        self.assertEqual(r.get('Min-Expires'), '10', r)
        self.assertStatus(p.publish(doc(('t', 'open')), 30), 200)
        r = p.refresh(5)
        self.assertStatus(r, 423)
        self.assertEqual(r.get('Min-Expires'), '10', r)

    def test_unsupported_media_type(self):
        """A body that is not application/pidf+xml: 415 with Accept:
        application/pidf+xml."""
        w = self.watching()
        p = self.publisher()
        for ct in ('text/plain', 'application/xpidf+xml',
                   'application/watcherinfo+xml'):
            with self.subTest(ct):
                r = p.publish(doc(('t', 'open')), 600, content_type=ct)
                self.assertStatus(r, 415)
                self.assertIn(PIDF_TYPE, [t.lower().split(';')[0].strip()
                                          for t in r.tokens('Accept')],
                              '415 without Accept: %s:\n%s'
                              % (PIDF_TYPE, r))
        self.assertNothingChanged(w)

    def test_bob_publishes_for_alice(self):
        """bob, authenticated as bob, publishing alice's presence: 403."""
        w = self.watching()
        p = self.publisher(user='bob', password=BOBPW)
        self.assertStatus(p.publish(doc(('t', 'open')), 600), 403)
        self.assertNothingChanged(w)

    def test_wrong_password(self):
        """alice's name with a wrong password: not accepted (403)."""
        p = self.publisher(password='wrong')
        r = p.publish(doc(('t', 'open')), 600)
        self.assertIsNotNone(r)
        self.assertIn(r.status, (401, 403), r)

    def test_bad_event(self):
        """No Event, or not presence: 489 with Allow-Events: presence."""
        w = self.watching()
        p = self.publisher()
        for ev in (None, 'foo', 'reg'):
            with self.subTest(ev):
                r = p.publish(doc(('t', 'open')), 600, event=ev)
                self.assertStatus(r, 489)
                self.assertIn('presence', [t.lower().split(';')[0]
                                           for t in r.tokens('Allow-Events')],
                              'Allow-Events does not list presence:\n%s'
                              % r)
        self.assertNothingChanged(w)

    def test_unknown_presentity(self):
        """A user that does not exist, a domain not served: 404."""
        for res in ('sip:nobody@example.test', 'sip:alice@elsewhere.test'):
            with self.subTest(res):
                p = self.publisher(resource=res)
                self.assertStatus(p.publish(doc(('t', 'open'),
                                                entity=res), 600), 404)


class SubscribeErrorsTest(PresenceCase):

    def test_not_acceptable(self):
        """Accept without application/pidf+xml: 406 naming it; with it
        among others, or no Accept: fine."""
        w = self.watcher()
        r = w.subscribe(600, accept='application/reginfo+xml')
        self.assertStatus(r, 406)
        self.assertIn(PIDF_TYPE, [t.lower().split(';')[0].strip()
                                  for t in r.tokens('Accept')], r)
        w.expect_no_notify()
        w2 = self.watcher()
        self.assertSubscribed(w2.subscribe(
            600, accept='text/plain, application/pidf+xml'), 600)
        self.presence(w2)
        w3 = self.watcher()
        self.assertSubscribed(w3.subscribe(600, accept=False), 600)
        self.presence(w3)

    def test_unknown_presentity(self):
        w = self.watcher(resource='sip:nobody@example.test')
        self.assertStatus(w.subscribe(600), 404)
        w.expect_no_notify()


# ---------------------------------------------------------------------------
# expiry

class PublicationExpiryTest(PresenceCase):
    herald_args = ['--publish-min-expires', '1']

    def test_publication_expires(self):
        """laptop publishes for 2 s, phone for 60: when laptop's runs out,
        a NOTIFY without its tuple; phone refreshes for 2 s (no NOTIFY),
        runs out: basic closed. The expired entity-tags: 412."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.presence(w)
        phone = self.publisher()
        laptop = self.publisher()
        self.assertPublished(phone.publish(doc(('phone', 'open')), 60), 60,
                             phone)
        self.presence(w)
        self.assertPublished(laptop.publish(doc(('laptop', 'open')), 2), 2,
                             laptop)
        t0 = time.monotonic()
        n, d = self.presence(w)
        self.assertTuples(d, {'phone': 'open', 'laptop': 'open'}, n)

        n = w.recv_notify(timeout=2 + SLACK, state='active', doc=True)
        d = n.pidf
        self.assertGreaterEqual(time.monotonic() - t0, 1.0,
                                'expired early:\n%s' % n)
        self.assertTuples(d, {'phone': 'open'}, n)
        self.assertStatus(laptop.refresh(60), 412)

        self.assertPublished(phone.refresh(2), 2, phone)
        t0 = time.monotonic()
        w.expect_no_notify()
        n = w.recv_notify(timeout=2 + SLACK, state='active', doc=True)
        self.assertGreaterEqual(time.monotonic() - t0, 1.0,
                                'expired early:\n%s' % n)
        self.assertClosedOnly(n.pidf, n)
        self.assertStatus(phone.refresh(60), 412)
        w.expect_no_notify()


# ---------------------------------------------------------------------------
# who may watch: --presence-default-local (bob is of alice's domain)

class ConfirmTest(PresenceCase):
    herald_args = ['--presence-default-local', 'confirm']

    def test_pending_without_body(self):
        """bob: 200, then NOTIFY pending;expires=N without a body; alice's
        publications tell him nothing; a refresh: pending again; alice
        herself is active."""
        p = self.publisher()
        self.assertStatus(p.publish(doc(('phone', 'open', 'secret')), 600),
                          200)
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        n = w.recv_notify(state='pending')
        self.assertEqual(n.body, b'', 'a pending NOTIFY with a body:\n%s'
                         % n)
        self.assertLessEqual(w.expires_left(n), 600, n)
        self.assertStatus(p.modify(doc(('phone', 'closed'))), 200)
        w.expect_no_notify()
        self.assertStatus(w.refresh(300), 200)
        n = w.recv_notify(state='pending')
        self.assertEqual(n.body, b'', n)
        self.assertLessEqual(w.expires_left(n), 300, n)

        a = self.watcher(user='alice')
        self.assertSubscribed(a.subscribe(600), 600)
        n, d = self.presence(a)
        self.assertTuples(d, {'phone': 'closed'}, n)

        self.assertStatus(w.unsubscribe(), 200)
        n = w.recv_notify(state='terminated')
        self.assertNotIn(b'phone', n.body,
                         'a pending watcher saw the document:\n%s' % n)
        w.expect_no_notify()

    def test_winfo_shows_pending(self):
        """alice's watcherinfo shows bob pending."""
        wi = self.winfo_watcher()
        self.assertSubscribed(wi.subscribe(600), 600)
        wi.recv_notify(state='active', doc='full')
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        w.recv_notify(state='pending')
        n = wi.recv_notify(state='active', doc='partial')
        ws = n.winfo.watcher(BOB)
        self.assertEqual(len(ws), 1, n)
        self.assertEqual(ws[0]['status'], 'pending', n)
        self.assertEqual(ws[0]['event'], 'subscribe', n)


class BlockTest(PresenceCase):
    herald_args = ['--presence-default-local', 'block']

    def test_blocked(self):
        """bob: 403, no NOTIFY; alice herself may still watch."""
        w = self.watcher()
        self.assertStatus(w.subscribe(600), 403)
        w.expect_no_notify()
        a = self.watcher(user='alice')
        self.assertSubscribed(a.subscribe(600), 600)
        n, d = self.presence(a)
        self.assertClosedOnly(d, n)


class PoliteBlockTest(PresenceCase):
    herald_args = ['--presence-default-local', 'polite-block']

    def test_neutral_document(self):
        """bob: 200, active NOTIFYs with a neutral document (one tuple,
        basic closed, nothing else) while alice publishes open (with a
        note and RPID), also after she changes it, after bob's refresh
        and for a subscription of his made while she is open; alice
        herself sees the real document."""
        a = self.watcher(user='alice')
        self.assertSubscribed(a.subscribe(600), 600)
        n, d = self.presence(a)
        self.assertClosedOnly(d, n)
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        n, d = self.presence(w)
        self.assertNeutral(d, n)

        p = self.publisher()
        body = doc(('phone', 'open', 'a secret note', A),
                   xmlns=RPID_XMLNS, extra=ON_THE_PHONE)
        self.assertStatus(p.publish(body, 600), 200)
        n, d = self.presence(a)
        self.assertTuples(d, {'phone': 'open'}, n)
        self.assertStatus(p.modify(doc(('phone', 'open', 'another note'),
                                       ('laptop', 'open'))), 200)
        n, d = self.presence(a)
        self.assertTuples(d, {'phone': 'open', 'laptop': 'open'}, n)

        # bob is told nothing new (or, if anything, the neutral document)
        w.ep.drain(0.5)
        while w.inbox:
            n, d = self.presence(w)
            self.assertNeutral(d, n)
        self.assertStatus(w.refresh(600), 200)
        n, d = self.presence(w)
        self.assertNeutral(d, n)
        self.assertNotIn('note', d.text, n)

        w2 = self.watcher()
        self.assertSubscribed(w2.subscribe(600), 600)
        n, d = self.presence(w2)
        self.assertNeutral(d, n)
        self.assertNotIn('note', d.text, n)
        a.expect_no_notify()


# ---------------------------------------------------------------------------
# the notify interval

class NotifyIntervalTest(PresenceCase):
    herald_args = ['--presence-notify-interval', '500']

    def test_burst_one_notify(self):
        """Three changes within the interval: one NOTIFY, the last
        document."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.presence(w)
        p = self.publisher()
        q = self.publisher()
        t0 = time.monotonic()
        self.assertStatus(p.publish(doc(('phone', 'open')), 600), 200)
        self.assertStatus(q.publish(doc(('laptop', 'open')), 600), 200)
        self.assertStatus(p.modify(doc(('phone', 'closed'))), 200)
        sent = time.monotonic() - t0
        if sent > 0.4:
            self.skipTest('three PUBLISHes took %.2f s' % sent)
        n, d = self.presence(w)
        self.assertTuples(d, {'phone': 'closed', 'laptop': 'open'}, n)
        w.expect_no_notify(1.0)

    def test_subscribe_during_burst(self):
        """bob subscribes right after a PUBLISH, within the interval: his
        first NOTIFY has the new document, and the end of the interval
        does not send it to him a second time (never the same document
        twice in a row); the next change: one NOTIFY."""
        p = self.publisher()
        self.assertStatus(p.publish(doc(('phone', 'open')), 600), 200)
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        n, d = self.presence(w)
        self.assertTuples(d, {'phone': 'open'}, n)
        w.expect_no_notify(1.0)
        self.assertStatus(p.modify(doc(('phone', 'closed'))), 200)
        n, d = self.presence(w)
        self.assertTuples(d, {'phone': 'closed'}, n)
        w.expect_no_notify()


# ---------------------------------------------------------------------------
# presence.winfo

class PublishRaceTest(PresenceCase):
    """A removal of a presentity's only publication and a new initial
    PUBLISH of it sent back to back, each commit made slow by a trigger
    (so they commit apart and the removal's notification round runs in
    between, with --presence-notify-interval 0), 100 times: every entity-
    tag a 200 gave out is honoured by the next modify, and the watcher
    ends on the last document. (The presentity was once unlinked under the
    waiting PUBLISH: its entity-tag then got 412, 5 times out of 5.)"""

    herald_args = ['--presence-notify-interval', '0']
    ROUNDS = 100

    def slow_commits(self):
        harness.psql(self.herald.db, """
            CREATE FUNCTION slow_pub() RETURNS trigger AS $$
            BEGIN PERFORM pg_sleep(0.005); RETURN NULL; END
            $$ LANGUAGE plpgsql;
            CREATE TRIGGER slow_pub AFTER INSERT OR UPDATE OR DELETE
            ON publications FOR EACH ROW EXECUTE FUNCTION slow_pub();""")

    def test_removal_and_initial_in_flight(self):
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.presence(w)
        self.slow_commits()
        p1 = self.publisher()
        p2 = self.publisher()
        # a challenge each first: then one round trip per PUBLISH
        self.assertStatus(p2.publish(doc(('t2', 'open')), 600), 200)
        self.assertStatus(p2.remove(), 200)
        for i in range(self.ROUNDS):
            self.assertStatus(p1.publish(doc(('t1', 'open')), 600), 200)
            gone = p1.build(expires=0, etag=p1.etag)
            new = p2.build(body=doc(('t2', 'open')), expires=600)
            p1.c.send(gone)
            p2.c.send(new)
            r1, r2 = p1.c.recv(), p2.c.recv()
            self.assertStatus(r1, 200, msg='round %d: %s' % (i, r1))
            etag = self.assertPublished(r2, 600)
            r = p2.modify(doc(('t2', 'closed')), etag=etag)
            self.assertStatus(r, 200, msg='round %d: the entity-tag %s of '
                              'a 200 was refused:\n%s' % (i, etag, r))
            if i + 1 < self.ROUNDS:
                self.assertStatus(p2.remove(), 200)
            w.ep.drain(0.01)
        # the watcher ends on the last document: t2 closed alone
        deadline = time.monotonic() + 10
        while True:
            n, d = self.presence(w)
            if d.basics() == {'t2': 'closed'} or \
                    time.monotonic() > deadline:
                break
        self.assertTuples(d, {'t2': 'closed'}, n)


class WinfoTest(PresenceCase):

    def test_only_alice(self):
        """bob may not watch alice's watchers: 403."""
        w = self.winfo_watcher(user='bob', password=BOBPW)
        self.assertStatus(w.subscribe(600), 403)
        w.expect_no_notify()

    def test_watcher_comes_and_goes(self):
        """alice watches her watchers: version 0 (full, no bob); bob
        subscribes: version 1 (partial) shows him active; bob unsubscribes:
        version 2 (partial) shows him terminated, event timeout, the same
        watcher id; a refresh: a full document without him."""
        wi = self.winfo_watcher()
        r = wi.subscribe(600)
        self.assertSubscribed(r, 600)
        n = wi.recv_notify(state='active', doc='full')
        self.assertEqual(n.winfo.version, 0)
        self.assertEqual(n.winfo.watcher(BOB), [], n)
        self.assertEqual(n.event, ('presence.winfo', {}), n)

        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.presence(w)
        n = wi.recv_notify(state='active', doc='partial')
        self.assertEqual(n.winfo.version, 1)
        ws = n.winfo.watcher(BOB)
        self.assertEqual(len(ws), 1, n)
        self.assertEqual(ws[0]['status'], 'active', n)
        self.assertIn(ws[0]['event'], ('subscribe', 'approved'), n)
        wid = ws[0]['id']

        self.assertStatus(w.unsubscribe(), 200)
        w.recv_notify(state='terminated')
        n = wi.recv_notify(state='active', doc='partial')
        self.assertEqual(n.winfo.version, 2)
        ws = n.winfo.watcher(BOB)
        self.assertEqual(len(ws), 1, n)
        self.assertEqual(ws[0]['status'], 'terminated', n)
        self.assertEqual(ws[0]['event'], 'timeout', n)
        self.assertEqual(ws[0]['id'], wid, n)
        wi.expect_no_notify()

        self.assertStatus(wi.refresh(600), 200)
        n = wi.recv_notify(state='active', doc='full')
        self.assertEqual(n.winfo.watcher(BOB), [], n)

    def test_accept(self):
        """No Accept, or Accept: application/watcherinfo+xml: fine."""
        wi = self.winfo_watcher()
        self.assertSubscribed(wi.subscribe(600, accept=False), 600)
        n = wi.recv_notify(state='active', doc='full')
        self.assertEqual(n.content_type, WINFO_TYPE, n)


# ---------------------------------------------------------------------------
# --presence-from-registrar

class FromRegistrarTest(PresenceCase):
    herald_args = ['--presence-from-registrar']

    def test_open_while_registered(self):
        """Nothing published: closed; alice registers a contact: one open
        tuple for it; a second contact: two; she publishes: the
        publication's document alone; she removes it: the registrar's
        open tuples again; one contact unregistered: one tuple."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        n, d = self.presence(w)
        self.assertClosedOnly(d, n)
        reg = Registrant(self, self.herald)

        def contacts(n, d):
            for t in d.tuples:
                self.assertEqual(t['basic'], 'open', n)
            return sorted(t['contact'] for t in d.tuples)
        reg.add(A, 600)
        n, d = self.presence(w)
        self.assertEqual(contacts(n, d), [A], n)
        reg.add(B, 600)
        n, d = self.presence(w)
        self.assertEqual(contacts(n, d), [A, B], n)
        p = self.publisher()
        self.assertStatus(p.publish(doc(('phone', 'closed')), 600), 200)
        n, d = self.presence(w)
        self.assertTuples(d, {'phone': 'closed'}, n)
        self.assertStatus(p.remove(), 200)
        n, d = self.presence(w)
        self.assertEqual(contacts(n, d), [A, B], n)
        reg.remove(A)
        n, d = self.presence(w)
        self.assertEqual(contacts(n, d), [B], n)
        w.expect_no_notify()


# ---------------------------------------------------------------------------
# kill -9 and restart

# ---------------------------------------------------------------------------
# bounds: big documents, many publications

BIG = 41 * 1024                 # two of these make no UDP datagram


def big(tid):
    """alice's document with tuple tid and a 41 KB note."""
    return doc((tid, 'open', 'x' * BIG))


def read_sip(conn, timeout):
    """One SIP message from a stream (headers, then Content-Length
    bytes): its bytes, or None."""
    data = b''
    deadline = time.monotonic() + timeout
    while True:
        head, sep, rest = data.partition(b'\r\n\r\n')
        if sep:
            m = re.search(rb'(?im)^(?:content-length|l)\s*:\s*(\d+)', head)
            want = int(m.group(1)) if m else 0
            if len(rest) >= want:
                return head + sep + rest[:want]
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([conn], [], [], left)[0]:
            return None
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk


class DocumentBoundTest(PresenceCase):
    """The defaults: --max-presence-document 61440 keeps every NOTIFY
    within one UDP datagram."""

    def test_second_big_publication_refused(self):
        """A 41 KB publication is taken and bob gets it over UDP; a second
        one, which would make an 82 KB document, gets 413 Presence
        Document Too Large and changes nothing: bob hears nothing more."""
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        self.presence(w)
        p1, p2 = self.publisher(), self.publisher()
        self.assertPublished(p1.publish(big('one'), 600), 600, p1)
        n, d = self.presence(w)
        self.assertTuples(d, {'one': 'open'}, n)
        r = p2.publish(big('two'), 600)
        self.assertStatus(r, 413, 'Presence Document Too Large')
        w.expect_no_notify()
        self.herald.wait_log('413 Presence Document Too Large')


class PublicationBoundTest(PresenceCase):
    herald_args = ['--max-publications-per-presentity', '2']

    def test_third_device_refused(self):
        """Two devices publish; a third gets 403 Too Many Publications
        until one of the two removes its publication."""
        p = [self.publisher() for _ in range(3)]
        for i in range(2):
            self.assertPublished(p[i].publish(doc(('d%d' % i, 'open')),
                                              600), 600)
        self.assertStatus(p[2].publish(doc(('d2', 'open')), 600), 403,
                          'Too Many Publications')
        self.assertStatus(p[0].remove(), 200)
        self.assertPublished(p[2].publish(doc(('d2', 'open')), 600), 600)


class BigNotifyTest(PresenceCase):
    """--max-presence-document raised to 128 KB: two 41 KB publications
    make a document no UDP datagram carries. A watcher that took its
    subscription over UDP gets that NOTIFY over TCP when it listens on
    TCP at its Contact's address, else a final NOTIFY terminated;
    reason=probation that fits; never silence."""
    herald_args = ['--max-presence-document', '131072']

    def publish_two(self, w):
        """bob is subscribed (initial NOTIFY taken); the first 41 KB
        document reaches him over UDP; the second is published."""
        self.assertSubscribed(w.subscribe(600), 600)
        self.presence(w)
        p1, p2 = self.publisher(), self.publisher()
        self.assertPublished(p1.publish(big('one'), 600), 600, p1)
        n, d = self.presence(w)
        self.assertTuples(d, {'one': 'open'}, n)
        self.assertPublished(p2.publish(big('two'), 600), 600, p2)
        return p1, p2

    def watcher_and_listener(self):
        """A watcher, and a TCP listener on its UDP port number (where
        herald's NOTIFY over TCP goes). The system picks the UDP port;
        another TCP socket may hold that number: then another watcher."""
        for _ in range(20):
            w = self.watcher()
            lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                lsn.bind((w.ep.host, w.ep.port))
            except OSError as e:
                lsn.close()
                if e.errno != errno.EADDRINUSE:
                    raise
                continue
            self.addCleanup(lsn.close)
            return w, lsn
        self.fail('no UDP port whose number was free for TCP too')

    def test_over_tcp(self):
        w, lsn = self.watcher_and_listener()
        lsn.listen(4)
        p1, p2 = self.publish_two(w)
        self.assertTrue(select.select([lsn], [], [], harness.RECV_TIMEOUT)
                        [0], 'herald opened no TCP connection:\n%s'
                        % self.herald.log_text(20))
        conn, _ = lsn.accept()
        self.addCleanup(conn.close)
        raw = read_sip(conn, harness.RECV_TIMEOUT)
        self.assertIsNotNone(raw, 'no NOTIFY on the TCP connection')
        m = Message(raw)
        conn.sendall(bytes(response_to(m, 200)))
        self.assertGreater(len(raw), 65507, m.start)
        self.assertRegex(m.get('Via'), r'^SIP/2\.0/TCP ', m.start)
        w.inbox.append(m)
        n, d = self.presence(w)
        self.assertTuples(d, {'one': 'open', 'two': 'open'}, n)
        # the subscription goes on: a small document by UDP again
        self.assertStatus(p2.remove(), 200)
        n, d = self.presence(w)
        self.assertTuples(d, {'one': 'open'}, n)
        w.expect_no_notify()

    def test_no_tcp_probation(self):
        w = self.watcher()
        self.publish_two(w)
        # the CSeq of the NOTIFY that TCP did not take is skipped
        w.expect_jump = True
        n = w.recv_notify(state='terminated')
        self.assertEqual(n.sub_state[1].get('reason'), 'probation', n)
        self.assertEqual(n.sub_state[1].get('retry-after'), '600', n)
        self.assertEqual(n.body, b'', n)
        self.herald.wait_log('ended with probation')
        w.expect_no_notify()



class RestartTest(PresenceCase):
    autostart = False

    def test_kill9_keeps_publications_and_subscriptions(self):
        """After kill -9 and a restart on the same database and port:
        the publication is still there (a refresh with its entity-tag:
        200), bob's refresh is accepted and his NOTIFYs go on in the
        dialog (CSeq higher) with the document; a modify still notifies
        him."""
        h = self.start_herald()
        self.add_users(h)
        w = self.watcher(h)
        self.assertSubscribed(w.subscribe(600), 600, herald=h)
        self.presence(w)
        p = self.publisher(h)
        laptop = self.publisher(h)
        e1 = self.assertPublished(p.publish(doc(('phone', 'open')), 600),
                                  600, p)
        self.presence(w)
        self.assertStatus(laptop.publish(doc(('laptop', 'closed')), 600),
                          200)
        self.presence(w)
        before = w.last_cseq

        h2 = self.restart_herald(h)
        if h2.port != h.port:
            self.skipTest('port %d not free for the restart' % h.port)
        w.ep.herald = h2
        p.retarget(h2)
        laptop.retarget(h2)

        self.assertPublished(p.refresh(600), 600, p, [e1])
        self.assertStatus(w.refresh(600), 200)
        w.expect_jump = True
        n, d = self.presence(w)
        self.assertGreater(n.cseq[0], before, n)
        # herald may have sent a NOTIFY of its own on start before the
        # refresh's one: every further one goes on by one
        while True:
            m = w.next_notify(harness.SILENCE)
            if m is None:
                break
            w.check_notify(m, state='active', doc=True)
            n, d = m, m.pidf
        self.assertTuples(d, {'phone': 'open', 'laptop': 'closed'}, n)

        self.assertStatus(p.modify(doc(('phone', 'closed'))), 200)
        n, d = self.presence(w)
        self.assertTuples(d, {'phone': 'closed', 'laptop': 'closed'}, n)
        self.assertStatus(laptop.remove(), 200)
        n, d = self.presence(w)
        self.assertTuples(d, {'phone': 'closed'}, n)
        w.expect_no_notify()


if __name__ == '__main__':
    harness.main()
