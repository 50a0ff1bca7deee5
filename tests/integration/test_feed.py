#!/usr/bin/env python3
"""The admin API's live feeds (Server-Sent Events, admin/feed.c, the
core's change journal in server/control/journal.c and feed.c) against a
real herald, PostgreSQL and SIP traffic.

The firehose (GET /v1/feed) sees a REGISTER's binding added, refreshed
and removed, a SUBSCRIBE's subscription created, refreshed and
terminated, a PUBLISH's publication published, refreshed, modified and
removed, a rule set and removed, a user added, changed and removed, each
with an id above the last; its filters (kinds, aor, event) let through
exactly what they name, and bad ones get 400. The PIDF feed of a
presentity starts with the composed document and sends the new one after
a PUBLISH (not after a refresh, which changes nothing); the reginfo feed
of an AOR does the same for REGISTERs. Last-Event-ID resumes without a gap
and without repeats; an id the journal no longer holds (--feed-events 16,
overflowed), one from another run or one that is not a number gets
`event: reset` first, then live events. --admin-max-streams: one more gets
a 503 problem, other requests still answer, and a closed feed frees its
place. A client that does not read is cut off after --admin-stream-stall
while a reading one gets every event; an idle feed outlives
--admin-request-timeout and the stall, sending `: keep-alive` comments.
Without the bearer token: 401. The metrics count feeds, cuts, resets."""

import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from adminapi import ALICE, BOBPW, AdminCase  # noqa: E402
from sse import Closed, SseClient  # noqa: E402
from watcher import (PASSWORD, Publisher, Registrant,  # noqa: E402
                     parse_pidf, parse_reginfo, pidf_doc, validate_pidf,
                     validate_reginfo)

A = 'sip:alice@192.0.2.1:5060'
B = 'sip:bob@192.0.2.2:5060'


def doc(basic, tid='phone', note=None):
    return pidf_doc([(tid, basic) + ((note,) if note else ())])


class FeedCase(AdminCase):
    herald_args = ['--admin-stream-keepalive', '1']

    def feed(self, path='/v1/feed', token=harness.ADMIN_TOKEN, **kw):
        """An open feed (its head read), closed after the test."""
        c = SseClient.open(self.herald.admin_url, path, token=token, **kw)
        self.addCleanup(c.close)
        return c

    def open_ok(self, path='/v1/feed', **kw):
        c = self.feed(path, **kw)
        self.assertEqual(c.status, 200, c.body)
        self.assertEqual(c.headers.get('content-type'), 'text/event-stream')
        self.assertEqual(c.headers.get('cache-control'), 'no-store')
        return c

    def position(self, c):
        """The id a new feed opens with (no event, only the position)."""
        c.wait(lambda: c.last_id != '', what='the opening id')
        self.assertRegex(c.last_id, r'^\d+$')
        self.assertEqual(c.events, [], 'the opening id dispatched an event')
        return int(c.last_id)

    def rule(self, watcher, action='allow', resource='alice@example.test'):
        path = '/v1/presentities/%s/rules/%s' % (resource, watcher)
        if action is None:
            r = self.api('DELETE', path)
            self.assertEqual(r.status, 204, r)
        else:
            r = self.api('PUT', path, {'action': action})
            self.assertEqual(r.status, 200, r)

    def next_of(self, c, kind, op, timeout=5, **fields):
        """The next event of kind with op (others skipped); its data
        has the fields given."""
        e = c.next(timeout, lambda e: e.type == kind and
                   e.json().get('op') == op)
        j = e.json()
        self.assertEqual(j['kind'], kind, e)
        for k, v in fields.items():
            self.assertEqual(j.get(k), v, '%s: %r' % (k, e))
        return e, j

    def assertIncreasing(self, events):
        ids = [int(e.id) for e in events]
        self.assertEqual(ids, sorted(set(ids)), 'ids not increasing: %r'
                         % ids)


class FirehoseTest(FeedCase):

    def test_every_kind_of_change(self):
        c = self.open_ok()
        start = self.position(c)
        # a binding: added, refreshed, removed
        reg = Registrant(self, self.herald)
        reg.add(A, 600)
        e, j = self.next_of(c, 'binding', 'added', aor='alice@example.test',
                            contact=A)
        self.assertGreater(int(e.id), start)
        self.assertTrue(590 <= j['expires_in'] <= 600, j)
        self.assertIsInstance(j['id'], str)
        reg.add(A, 300)
        self.next_of(c, 'binding', 'refreshed', contact=A)
        reg.remove(A)
        self.next_of(c, 'binding', 'removed', contact=A, expires_in=0)
        # a subscription: created, refreshed, terminated
        w = self.watcher()
        self.assertSubscribed(w.subscribe(600), 600)
        e, j = self.next_of(c, 'subscription', 'created', event='presence',
                            resource='alice@example.test', state='active')
        self.assertIn('bob@example.test', j['watcher'])
        sid = j['id']
        w.recv_notify()
        self.assertEqual(w.refresh(300).status, 200)
        self.next_of(c, 'subscription', 'updated', id=sid, state='active')
        self.assertEqual(w.unsubscribe().status, 200)
        self.next_of(c, 'subscription', 'terminated', id=sid,
                     state='terminated', reason='timeout', expires_in=0)
        # a publication: published, refreshed, modified, removed
        p = Publisher(self, self.herald)
        self.assertStatus(p.publish(doc('open'), 600), 200)
        e, j = self.next_of(c, 'publication', 'published', event='presence',
                            presentity='alice@example.test', etag=p.etag)
        self.assertStatus(p.refresh(600), 200)
        self.next_of(c, 'publication', 'refreshed', etag=p.etag)
        self.assertStatus(p.modify(doc('closed'), 600), 200)
        self.next_of(c, 'publication', 'modified', etag=p.etag)
        etag = p.etag
        self.assertStatus(p.remove(), 200)
        self.next_of(c, 'publication', 'removed', etag=etag)
        # a rule: set and removed
        self.rule('carol@example.test', 'block')
        self.next_of(c, 'rule', 'set', event='presence',
                     resource='alice@example.test',
                     watcher='carol@example.test', action='block')
        self.rule('carol@example.test', None)
        e, j = self.next_of(c, 'rule', 'removed', watcher='carol@example.test')
        self.assertNotIn('action', j)
        # a user: added, changed, removed (heard by the core from the
        # database)
        r = self.api('POST', '/v1/users', {'user': 'dave@example.test',
                                           'password': 'pw1'})
        self.assertEqual(r.status, 201, r)
        self.next_of(c, 'user', 'added', user='dave@example.test')
        r = self.api('PATCH', '/v1/users/dave@example.test',
                     {'role': 'monitor'})
        self.assertEqual(r.status, 200, r)
        self.next_of(c, 'user', 'changed', user='dave@example.test')
        r = self.api('DELETE', '/v1/users/dave@example.test')
        self.assertEqual(r.status, 204, r)
        self.next_of(c, 'user', 'removed', user='dave@example.test')
        self.assertIncreasing(c.events)
        for e in c.events:
            self.assertEqual(e.json()['kind'], e.type, e)

    def test_binding_expired(self):
        self.herald.stop()
        self.herald = self.start_herald(self.herald_args +
                                        ['--min-expires', '1'])
        self.herald.add_user('alice@example.test', PASSWORD)
        c = self.open_ok()
        Registrant(self, self.herald).add(A, 1)
        self.next_of(c, 'binding', 'added', contact=A)
        self.next_of(c, 'binding', 'expired', timeout=5, contact=A,
                     expires_in=0)

    def test_filters(self):
        kinds = self.open_ok('/v1/feed?kinds=binding,rule')
        bob = self.open_ok('/v1/feed?aor=' + urllib.parse.quote(
            'sip:bob@EXAMPLE.test'))
        reg = self.open_ok('/v1/feed?event=reg')
        everything = self.open_ok()
        # alice and bob register; rules of presence (on alice) and of reg
        # (on bob); a PUBLISH of alice's
        Registrant(self, self.herald).add(A)
        Registrant(self, self.herald, user='bob', password=BOBPW).add(B)
        self.rule('bob@example.test', 'allow')
        r = self.api('PUT', '/v1/aors/bob@example.test/rules/'
                     'alice@example.test', {'action': 'allow'})
        self.assertEqual(r.status, 200, r)
        p = Publisher(self, self.herald)
        self.assertStatus(p.publish(doc('open'), 600), 200)
        last = self.next_of(everything, 'publication', 'published')[0]
        got = {}
        for name, c in (('kinds', kinds), ('bob', bob), ('reg', reg)):
            c.quiet(1.0)
            got[name] = [(e.type, e.json()['op'], e.json().get('aor') or
                          e.json().get('resource') or
                          e.json().get('presentity')) for e in c.events]
        self.assertEqual(got['kinds'], [
            ('binding', 'added', 'alice@example.test'),
            ('binding', 'added', 'bob@example.test'),
            ('rule', 'set', 'alice@example.test'),
            ('rule', 'set', 'bob@example.test')])
        self.assertEqual(got['bob'], [
            ('binding', 'added', 'bob@example.test'),
            ('rule', 'set', 'bob@example.test')])
        self.assertEqual(got['reg'], [('rule', 'set', 'bob@example.test')])
        self.assertEqual(len(everything.events), 5, everything.events)

    def test_bad_filters(self):
        for q in ('kinds=binding,bogus', 'kinds=', 'event=bogus',
                  'aor=not-an-aor'):
            c = self.feed('/v1/feed?' + q)
            self.assertEqual(c.status, 400, q)
            self.assertEqual(c.headers.get('content-type'),
                             'application/problem+json')
            self.assertEqual(c.json()['status'], 400)

    def test_token_required(self):
        for path in ('/v1/feed', '/v1/presentities/alice@example.test/'
                     'presence/feed', '/v1/aors/alice@example.test/reginfo/'
                     'feed'):
            for token in (None, 'wrong-token-0123456789'):
                c = self.feed(path, token=token)
                self.assertEqual(c.status, 401, path)
                self.assertEqual(c.headers.get('www-authenticate'),
                                 'Bearer')


class DocumentFeedTest(FeedCase):

    def test_pidf_feed(self):
        c = self.open_ok('/v1/presentities/' + urllib.parse.quote(
            'pres:alice@example.test') + '/presence/feed')
        e = c.next()
        self.assertEqual(e.type, 'presence')
        j = e.json()
        self.assertEqual(j['presentity'], 'alice@example.test')
        self.assertEqual(list(parse_pidf(j['pidf']).basics().values()),
                         ['closed'])
        # a PUBLISH: the composed document, as the API reads it
        p = Publisher(self, self.herald)
        self.assertStatus(p.publish(doc('open', note='at my desk'), 600),
                          200)
        e2 = c.next()
        self.assertGreater(int(e2.id), int(e.id))
        body = e2.json()['pidf']
        ok, out = validate_pidf(body.encode())
        self.assertTrue(ok, out)
        self.assertEqual(parse_pidf(body).basics(), {'phone': 'open'})
        self.assertIn('at my desk', body)
        api = self.api('GET', '/v1/presentities/alice@example.test/presence')
        self.assertEqual(api.body.decode(), body)
        # a refresh changes nothing: nothing sent
        self.assertStatus(p.refresh(600), 200)
        self.assertEqual([x for x in c.quiet(1.0) if x.type == 'presence'],
                         [])
        # a modify: sent; a change of another presentity: not
        self.assertStatus(Publisher(self, self.herald, user='bob',
                                    password=BOBPW,
                                    resource='sip:bob@example.test')
                          .publish(pidf_doc([('b', 'open')],
                                   entity='pres:bob@example.test'), 600),
                          200)
        self.assertStatus(p.modify(doc('closed', note='gone home'), 600),
                          200)
        e3 = c.next()
        self.assertIn('gone home', e3.json()['pidf'])
        self.assertEqual([x for x in c.quiet(0.5)], [])

    def test_feeds_of_one_presentity(self):
        # feeds of one presentity resumed by one change share one read of
        # its document; a reginfo feed of the same name is another
        # document
        path = '/v1/presentities/alice@example.test/presence/feed'
        feeds = [self.open_ok(path) for _ in range(3)]
        ri = self.open_ok('/v1/aors/alice@example.test/reginfo/feed')
        first = [c.next().json()['pidf'] for c in feeds]
        self.assertEqual(len(set(first)), 1)
        self.assertEqual(ri.next().type, 'reginfo')
        p = Publisher(self, self.herald)
        for note in ('one', 'two'):
            self.assertStatus(p.publish(doc('open', note=note), 600)
                              if note == 'one' else
                              p.modify(doc('open', note=note), 600), 200)
            got = [c.next().json()['pidf'] for c in feeds]
            self.assertEqual(len(set(got)), 1, got)
            self.assertIn(note, got[0])
        self.assertEqual(ri.quiet(0.5), [])

    def test_reginfo_feed(self):
        c = self.open_ok('/v1/aors/sip:alice@example.test/reginfo/feed')
        e = c.next()
        self.assertEqual(e.type, 'reginfo')
        j = e.json()
        self.assertEqual(j['aor'], 'alice@example.test')
        self.assertEqual(parse_reginfo(j['reginfo']).contacts(), {})
        reg = Registrant(self, self.herald)
        reg.add(A, 600)
        e2 = c.next()
        body = e2.json()['reginfo']
        ok, out = validate_reginfo(body.encode())
        self.assertTrue(ok, out)
        ri = parse_reginfo(body)
        self.assertEqual(list(ri.contacts()), [A])
        self.assertEqual(ri.registration()['state'], 'active')
        reg.remove(A)
        e3 = c.next()
        # the full state again: no contact left
        self.assertEqual(parse_reginfo(e3.json()['reginfo']).contacts(), {})
        # bob's REGISTER is not alice's
        Registrant(self, self.herald, user='bob', password=BOBPW).add(B)
        self.assertEqual(c.quiet(0.5), [])

    def test_doc_feed_bad_uri(self):
        c = self.feed('/v1/aors/nobody/reginfo/feed')
        self.assertEqual(c.status, 400)


class ResumeTest(FeedCase):
    herald_args = FeedCase.herald_args + ['--feed-events', '16']

    def test_resume_without_gap(self):
        c = self.open_ok('/v1/feed?kinds=rule')
        self.position(c)
        for i in range(3):
            self.rule('w%d.test' % i)
        first = c.next()
        c.next()
        c.next()
        c.close()
        self.rule('w3.test')
        self.rule('w4.test')
        # resumed after the first: the second, third, fourth and fifth,
        # each once, no reset
        c2 = self.open_ok('/v1/feed?kinds=rule', last_event_id=first.id)
        got = [c2.next() for _ in range(4)]
        self.assertEqual([e.json()['watcher'] for e in got],
                         ['w1.test', 'w2.test', 'w3.test', 'w4.test'])
        self.assertIncreasing([first] + got)
        self.assertEqual(c2.quiet(0.5), [])
        # resumed at the newest: only what comes next
        c3 = self.open_ok('/v1/feed?kinds=rule', last_event_id=got[-1].id)
        self.rule('w5.test')
        self.assertEqual(c3.next().json()['watcher'], 'w5.test')

    def test_resume_from_the_opening_id(self):
        # a client that saw no event resumes from the position it opened
        # with: nothing is lost between its two connections
        c = self.open_ok('/v1/feed?kinds=rule')
        pos = self.position(c)
        c.close()
        self.rule('x.test')
        c2 = self.open_ok('/v1/feed?kinds=rule', last_event_id=str(pos))
        self.assertEqual(c2.next().json()['watcher'], 'x.test')

    def test_reset_when_overflowed(self):
        c = self.open_ok()
        pos = self.position(c)
        c.close()
        for i in range(20):     # more than --feed-events 16
            self.rule('o%d.test' % i)
        c2 = self.open_ok(last_event_id=str(pos))
        e = c2.next()
        self.assertEqual(e.type, 'reset')
        self.assertEqual(e.json(), {'reason': 'gap'})
        self.assertGreaterEqual(int(e.id), pos + 20)
        # then live events
        self.rule('after.test')
        e2 = c2.next()
        self.assertEqual((e2.type, e2.json()['watcher']),
                         ('rule', 'after.test'))
        self.assertEqual(int(e2.id), int(e.id) + 1)
        # and a client resuming from the reset's id has no gap
        c3 = self.open_ok(last_event_id=e.id)
        self.assertEqual(c3.next().json()['watcher'], 'after.test')
        m = harness.metrics(self.herald)
        self.assertGreaterEqual(harness.metric(
            m, 'herald_admin_feeds_resets_total'), 1)
        self.assertEqual(harness.metric(m, 'herald_feed_journal_held'), 16)

    def test_reset_for_ids_not_ours(self):
        pos = self.position(self.open_ok())
        # an earlier run's ids are below this run's first; one from the
        # future or garbage is not ours either
        for bad in ('5', str(pos + 1000), 'abc', ''):
            c = self.open_ok(last_event_id=bad)
            e = c.next()
            self.assertEqual((e.type, e.json()), ('reset', {'reason': 'gap'}),
                             bad)


class LimitTest(FeedCase):
    herald_args = FeedCase.herald_args + ['--admin-max-streams', '2']

    def test_stream_limit(self):
        a = self.open_ok()
        self.open_ok('/v1/aors/alice@example.test/reginfo/feed')
        c = self.feed()
        self.assertEqual(c.status, 503)
        self.assertEqual(c.headers.get('content-type'),
                         'application/problem+json')
        self.assertEqual(c.json()['status'], 503)
        # the rest of the API answers meanwhile
        self.assertEqual(self.api('GET', '/health').status, 200)
        self.assertEqual(harness.metric(harness.metrics(self.herald),
                                        'herald_admin_feeds_refused_total'),
                         1)
        # a feed whose client left frees its place (noticed within a
        # second while it is idle)
        a.close()
        deadline = time.monotonic() + 5
        while True:
            d = self.feed()
            if d.status == 200:
                break
            self.assertLess(time.monotonic(), deadline, 'no place freed')
            d.close()
            time.sleep(0.2)
        self.assertEqual(harness.metric(harness.metrics(self.herald),
                                        'herald_admin_feeds'), 2)


class SlowClientTest(FeedCase):
    herald_args = FeedCase.herald_args + [
        '--admin-stream-buffer', '4096', '--admin-stream-stall', '2',
        '--admin-request-timeout', '2']

    def test_slow_client_cut_others_continue(self):
        fast = self.open_ok('/v1/feed?kinds=rule')
        slow = self.open_ok('/v1/feed?kinds=rule', rcvbuf=2048)
        start = self.position(fast)
        # changes with long watchers (domains) until the slow one is cut;
        # it reads nothing meanwhile
        watcher = 'x' * 180 + '%d.test'
        n = 0
        deadline = time.monotonic() + 60
        while harness.metric(harness.metrics(self.herald),
                             'herald_admin_feeds_cut_total') < 1:
            self.assertLess(time.monotonic(), deadline, 'never cut off')
            for _ in range(20):
                self.rule(watcher % n, 'allow' if n % 2 else 'block')
                n += 1
            fast.wait(lambda: len(fast.events) == n, what='%d events' % n)
            time.sleep(0.2)
        # the fast one got every change, in order, no reset
        self.assertEqual([e.json()['watcher'] for e in fast.events],
                         [watcher % i for i in range(n)])
        ids = [int(e.id) for e in fast.events]
        self.assertEqual(ids, list(range(start + 1, start + n + 1)))
        # the slow one: what it was sent, then the end of its stream
        with self.assertRaises(Closed):
            slow.wait(lambda: False, timeout=10, what='the cut')
        got = [e.json()['watcher'] for e in slow.events]
        sys.stderr.write('\n  %d changes; the slow client had %d of them '
                         'when cut\n' % (n, len(got)))
        self.assertLess(len(got), n)
        self.assertEqual(got, [watcher % i for i in range(len(got))])
        # others go on: a new change reaches the fast one
        self.rule('later.test')
        self.assertEqual(fast.next(match=lambda e: True).json()['watcher'],
                         watcher % 0)
        fast.wait(lambda: fast.events[-1].json()['watcher'] == 'later.test',
                  what='the later change')

    def test_idle_feed_outlives_deadlines(self):
        c = self.open_ok()
        self.position(c)
        # quiet for longer than --admin-request-timeout and the stall:
        # keep-alive comments every second, the feed stays
        c.quiet(4.5)
        self.assertGreaterEqual(c.comments.count('keep-alive'), 3,
                                c.comments)
        self.rule('late.test')
        self.assertEqual(c.next().json()['watcher'], 'late.test')
        self.assertEqual(harness.metric(harness.metrics(self.herald),
                                        'herald_admin_feeds_cut_total'), 0)


if __name__ == '__main__':
    harness.main()
