#!/usr/bin/env python3
"""The HTTP admin API (admin/routes.c, admin/http.c) against a real herald
and PostgreSQL, with urllib from the standard library.

Bearer-token authentication (401 without a token or with a wrong one,
/health open); every endpoint's happy path and error answers (RFC 7807
problems: 400, 404, 405, 413); listing subscriptions made by SIP watchers,
filters, and pagination with limit and next_cursor; DELETE of a
subscription: the SIP watcher gets NOTIFY terminated;reason=deactivated
(or noresource, rejected) and the subscription leaves the list; presence
rules through the API: a pending watcher (--presence-default-local
confirm) gets its active NOTIFY with the document, block ends an active
one with reason=rejected; the reginfo and PIDF documents of the API equal
the full-state documents NOTIFYs carry (reginfo's version aside: the
API's is 0)."""

import json
import os
import sys
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from adminapi import ALICE, BOB, AdminCase, query  # noqa: E402
from phone import Phone  # noqa: E402
from watcher import (PIDF_TYPE, REGINFO_TYPE, Publisher,  # noqa: E402
                     Registrant, pidf_doc, validate_pidf, validate_reginfo)

A = 'sip:alice@192.0.2.1:5060'
B = 'sip:alice@192.0.2.2:5060'
SLACK = 3           # seconds of expires drift tolerated


def canon_xml(text, drop_root=('version',), drop=('expires',
                                                   'duration-registered')):
    """An XML document as nested tuples (tag, attributes, text, children),
    whitespace-only text ignored; drop_root attributes of the root and
    drop attributes everywhere left out (they are compared apart)."""
    if isinstance(text, bytes):
        text = text.decode('utf-8')
    root = ET.fromstring(text)

    def walk(e, top):
        attrs = {k: v for k, v in e.attrib.items()
                 if not (top and k in drop_root) and k not in drop}
        t = (e.text or '').strip()
        return (e.tag, tuple(sorted(attrs.items())), t,
                tuple(walk(c, False) for c in e))
    return walk(root, True)


def timed_attrs(text, names=('expires', 'duration-registered')):
    """[(path of tags, name, int value)] of the attributes canon_xml
    drops."""
    if isinstance(text, bytes):
        text = text.decode('utf-8')
    out = []

    def walk(e, path):
        p = path + (e.tag,)
        for n in names:
            if n in e.attrib:
                out.append((p, n, int(e.attrib[n])))
        for c in e:
            walk(c, p)
    walk(ET.fromstring(text), ())
    return out


def pdoc(*tuples, **kw):
    body = pidf_doc(tuples, **kw)
    ok, out = validate_pidf(body)
    if not ok:
        raise AssertionError('invalid test PIDF:\n%s' % out)
    return body


# ---------------------------------------------------------------------------
# authentication

class AuthTest(AdminCase):

    ENDPOINTS = [
        ('GET', '/v1/subscriptions'),
        ('GET', '/v1/subscriptions/nosuch'),
        ('DELETE', '/v1/subscriptions/nosuch'),
        ('GET', '/v1/aors/alice@example.test/reginfo'),
        ('GET', '/v1/presentities/alice@example.test/presence'),
        ('PUT', '/v1/presentities/alice@example.test/rules/'
                'bob@example.test'),
        ('DELETE', '/v1/presentities/alice@example.test/rules/'
                   'bob@example.test'),
        ('GET', '/v1/nothing'),
    ]

    def test_health_without_token(self):
        r = self.api('GET', '/health', token=None)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.content_type, 'application/json', r)
        self.assertEqual(r.json(), {'status': 'ok'}, r)
        # with a token (even a wrong one) it answers the same
        r = self.api('GET', '/health', token='wrong')
        self.assertEqual(r.status, 200, r)

    def test_401_without_or_with_wrong_token(self):
        good = harness.ADMIN_TOKEN
        variants = [
            ('no Authorization', dict(token=None)),
            ('wrong token', dict(token='wrong-token-0123456789abcdef')),
            ('token prefix', dict(token=good[:-1])),
            ('token plus a character', dict(token=good + 'x')),
            ('empty bearer', dict(auth='Bearer ')),
            ('Basic scheme', dict(auth='Basic ' + good)),
            ('no scheme', dict(auth=good)),
        ]
        for method, path in self.ENDPOINTS:
            body = {'action': 'allow'} if method == 'PUT' else None
            for what, kw in variants:
                with self.subTest(method=method, path=path, what=what):
                    r = self.api(method, path, body=body, **kw)
                    self.assertProblem(r, 401)
                    self.assertEqual(r.headers.get('WWW-Authenticate'),
                                     'Bearer', r)
        # nothing was changed by the refused PUT
        self.assertEqual(self.list_all(), [])

    def test_right_token(self):
        j = self.get_json('/v1/subscriptions')
        self.assertEqual(j, {'items': []})


# ---------------------------------------------------------------------------
# routing and request errors

class UsersTest(AdminCase):

    def test_pages_of_users(self):
        """Pages of one user each, across domains and names that sort
        apart as strings ('bob-x' and 'bob', 'zed@a' and 'alice@b'), give
        every user once, in the order of the whole list."""
        for aor in ('bob-x@example.test', 'zed@a.test', 'alice@b.test'):
            harness.add_user(self.herald.db, aor, 'pw')
        whole = [u['user'] for u in self.get_json('/v1/users')['items']]
        self.assertEqual(len(whole), 5, whole)
        seen, cursor = [], None
        for _ in range(10):
            q = '?limit=1' + ('&cursor=' + urllib.parse.quote(cursor)
                              if cursor else '')
            j = self.get_json('/v1/users' + q)
            seen += [u['user'] for u in j['items']]
            cursor = j.get('next_cursor')
            if not cursor:
                break
        self.assertEqual(seen, whole)
        self.assertProblem(self.api('GET', '/v1/users?cursor=nobody'), 400)

    def test_api_user_is_the_cli_user(self):
        """POST /v1/users stores what `herald user add` stores (the same
        HA1s for the same password), and the user can register at once."""
        r = self.api('POST', '/v1/users', body={
            'user': 'dave@example.test', 'password': 's3cret'})
        self.assertEqual(r.status, 201, r)
        harness.add_user(self.herald.db, 'erin@example.test', 's3cret')
        rows = query(self.herald.db, "SELECT username, ha1_md5, "
                            "ha1_sha256 FROM users WHERE username IN "
                            "('dave', 'erin') ORDER BY username")
        self.assertEqual(len(rows), 2, rows)
        # HA1 = H(user:realm:password): equal for equal input, so compute
        # dave's the CLI way and compare
        harness.add_user(self.herald.db, 'dave@example.test', 's3cret')
        again = query(self.herald.db, "SELECT username, ha1_md5, "
                             "ha1_sha256 FROM users WHERE username = "
                             "'dave'")
        self.assertEqual(again[0], rows[0])
        # the running server learned of dave: he registers
        deadline = time.monotonic() + 5
        while 'user dave@example.test changed' not in \
                self.herald.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        phone = Phone(self, self.udp(), user='dave', password='s3cret')
        resp = phone.register(['<sip:dave@192.0.2.1>'], 600)
        self.assertEqual(resp.status, 200, resp)
        # and the list shows him, never a password or HA1
        j = self.api('GET', '/v1/users').json()
        self.assertIn({'user': 'dave@example.test', 'role': 'user'},
                      j['items'])
        self.assertNotIn('s3cret', json.dumps(j))
        self.assertNotIn(rows[0][1], json.dumps(j))

    def test_user_of_a_domain_not_served_refused(self):
        """Users are made in the served domains only (any case): 400 for
        another, nothing stored."""
        r = self.api('POST', '/v1/users', body={
            'user': 'frank@elsewhere.test', 'password': 's3cret'})
        self.assertProblem(r, 400)
        self.assertIn('not a domain this server serves',
                      r.json().get('detail', ''), r)
        self.assertEqual(query(self.herald.db, "SELECT username FROM users "
                               "WHERE username = 'frank'"), [])
        r = self.api('POST', '/v1/users', body={
            'user': 'frank@EXAMPLE.Test', 'password': 's3cret'})
        self.assertEqual(r.status, 201, r)

    def test_control_characters_in_a_name_refused(self):
        """A name with CR/LF could forge a line of the log or of `herald
        user list`: 400, nothing stored, nothing logged but escaped."""
        forged = '2030-01-01T00:00:00.000Z info  admin     root added'
        for name in ('eve\r\n%s@example.test' % forged,
                     'eve\x1b[2J@example.test', 'eve@example.test\n',
                     'eve\t@example.test'):
            r = self.api('POST', '/v1/users', body={
                'user': name, 'password': 's3cret'})
            self.assertProblem(r, 400)
            self.assertIn('control characters', r.json().get('detail', ''),
                          r)
        self.assertEqual(query(self.herald.db, "SELECT username FROM users "
                               "WHERE username LIKE 'eve%'"), [])
        for line in self.herald.log_text().splitlines():
            self.assertFalse(line.startswith(forged[:20]), line)


class ErrorsTest(AdminCase):

    def test_unknown_paths(self):
        for path in ('/index.html', '/v1', '/v2/subscriptions', '/v1/nothing',
                     '/v1/aors/alice@example.test',
                     '/v1/aors/alice@example.test/presence',
                     '/v1/presentities/alice@example.test',
                     '/v1/presentities/alice@example.test/reginfo',
                     '/v1/subscriptions/a/b',
                     '/v1/presentities/alice@example.test/rules/a/b',
                     '/healthz'):
            with self.subTest(path=path):
                self.assertProblem(self.api('GET', path), 404)

    def test_wrong_methods(self):
        cases = [
            ('POST', '/health'), ('DELETE', '/health'),
            ('POST', '/v1/subscriptions'),
            ('DELETE', '/v1/subscriptions'),
            ('PUT', '/v1/subscriptions/x'),
            ('POST', '/v1/subscriptions/x'),
            ('DELETE', '/v1/aors/alice@example.test/reginfo'),
            ('POST', '/v1/aors/alice@example.test/reginfo'),
            ('PUT', '/v1/presentities/alice@example.test/presence'),
            ('GET', '/v1/presentities/alice@example.test/rules/'
                    'bob@example.test'),
            ('POST', '/v1/presentities/alice@example.test/rules/'
                     'bob@example.test'),
        ]
        for method, path in cases:
            with self.subTest(method=method, path=path):
                body = b'{}' if method in ('POST', 'PUT') else None
                tok = None if path == '/health' else harness.ADMIN_TOKEN
                r = self.api(method, path, body=body, token=tok)
                self.assertProblem(r, 405)
                # RFC 9110 15.5.6: what the path allows
                allow = [m.strip() for m in
                         (r.headers.get('Allow') or '').split(',')]
                self.assertNotIn(method, allow, r)
                self.assertTrue(set(allow) & {'GET', 'PUT', 'DELETE',
                                              'POST'}, r)

    def test_bad_limit(self):
        for lim in ('0', '1001', '-1', 'abc', '2x', '',
                    '99999999999999999999'):
            with self.subTest(limit=lim):
                r = self.api('GET', '/v1/subscriptions?limit=' + lim)
                self.assertProblem(r, 400)
        for lim in ('1', '1000'):
            with self.subTest(limit=lim):
                self.assertEqual(self.get_json(
                    '/v1/subscriptions?limit=' + lim), {'items': []})

    def test_unknown_subscription(self):
        self.assertProblem(self.api('GET', '/v1/subscriptions/nosuch'), 404)
        self.assertProblem(self.api('DELETE', '/v1/subscriptions/nosuch'),
                           404)
        self.assertProblem(self.api(
            'DELETE', '/v1/subscriptions/nosuch?reason=noresource'), 404)

    def test_bad_rule_bodies(self):
        path = '/v1/presentities/alice@example.test/rules/bob@example.test'
        for what, body in [
                ('not JSON', b'{"action": '),
                ('garbage', b'hello'),
                ('empty', b''),
                ('an array', b'["allow"]'),
                ('a string', b'"allow"'),
                ('unknown field', {'action': 'allow', 'extra': 1}),
                ('only an unknown field', {'actions': 'allow'}),
                ('no action', {}),
                ('bad action', {'action': 'permit'}),
                ('action not a string', {'action': 1}),
                ('action null', {'action': None}),
                ('action in upper case', {'action': 'ALLOW'})]:
            with self.subTest(what=what):
                self.assertProblem(self.api('PUT', path, body=body), 400)

    def test_body_too_large(self):
        path = '/v1/presentities/alice@example.test/rules/bob@example.test'
        big = json.dumps({'action': 'allow',
                          'x': 'a' * (64 * 1024)}).encode()
        self.assertGreater(len(big), 64 * 1024)
        self.assertProblem(self.api('PUT', path, body=big), 413)
        # exactly 64 KiB is not too large (an unknown field: 400)
        pad = 64 * 1024 - len(json.dumps({'action': 'allow', 'x': ''}))
        body = json.dumps({'action': 'allow', 'x': 'a' * pad}).encode()
        self.assertEqual(len(body), 64 * 1024)
        self.assertProblem(self.api('PUT', path, body=body), 400)
        # and the server is still well
        self.assertEqual(self.api('GET', '/health').status, 200)

    def test_bad_delete_reason(self):
        w = self.reg_watcher()
        self.subscribed(w)
        w.recv_notify(state='active')
        sid = self.item_of(w)['id']
        for reason in ('timeout', 'giveup', 'probation', 'bogus', ''):
            with self.subTest(reason=reason):
                r = self.api('DELETE', '/v1/subscriptions/%s?reason=%s'
                             % (sid, reason))
                self.assertProblem(r, 400)
        w.expect_no_notify()
        self.assertEqual(self.get_json('/v1/subscriptions/' + sid)['id'],
                         sid)

    def test_document_not_an_aor(self):
        for path in ('/v1/aors/alice/reginfo',
                     '/v1/presentities/alice/presence'):
            with self.subTest(path=path):
                self.assertProblem(self.api('GET', path), 400)


# ---------------------------------------------------------------------------
# listing subscriptions

class SubscriptionsTest(AdminCase):

    def test_list_get_and_filters(self):
        """A reg watcher (alice) and a presence watcher (bob, with an
        Event id): both listed with their dialogs; GET of one adds
        version and notifies; the filters select."""
        rw = self.reg_watcher()
        r = self.subscribed(rw, 600)
        rw.recv_notify(state='active')
        pw = self.watcher(event='presence;id=e1', tcp=True)
        r2 = self.subscribed(pw, 300)
        pw.recv_notify(state='active')

        ri = self.item_of(rw)
        pi = self.item_of(pw)
        self.assertEqual(ri['event'], 'reg', ri)
        self.assertEqual(ri['state'], 'active', ri)
        self.assertNotIn('event_id', ri)
        self.assertNotIn('reason', ri)
        self.assertIn(ri['resource'], ('alice@example.test', ALICE), ri)
        self.assertIn('alice@example.test', ri['watcher'], ri)
        self.assertTrue(0 < ri['expires_in'] <= 600, ri)
        self.assertGreater(ri['expires_in'], 600 - 10, ri)
        d = ri['dialog']
        self.assertEqual(d['call_id'], rw.call_id, ri)
        self.assertEqual(d['remote_tag'], rw.from_tag, ri)
        self.assertEqual(d['local_tag'], harness.addr_tag(r.get('To')), ri)
        self.assertEqual(d['remote_target'], 'sip:alice-watch@%s'
                         % harness.hostport(rw.ep.host, rw.ep.port), ri)
        self.assertEqual(d['transport'].lower(), 'udp', ri)

        self.assertEqual(pi['event'], 'presence', pi)
        self.assertEqual(pi['event_id'], 'e1', pi)
        self.assertEqual(pi['state'], 'active', pi)
        self.assertIn('bob@example.test', pi['watcher'], pi)
        self.assertTrue(300 - 10 < pi['expires_in'] <= 300, pi)
        self.assertEqual(pi['dialog']['call_id'], pw.call_id, pi)
        self.assertEqual(pi['dialog']['local_tag'],
                         harness.addr_tag(r2.get('To')), pi)
        self.assertEqual(pi['dialog']['transport'].lower(), 'tcp', pi)
        self.assertNotEqual(ri['id'], pi['id'])

        # one subscription: the list's object plus version and notifies
        for it, w in ((ri, rw), (pi, pw)):
            j = self.get_json('/v1/subscriptions/' +
                              urllib.parse.quote(it['id'], safe=''))
            self.assertEqual(j['id'], it['id'], j)
            self.assertEqual(j['dialog'], it['dialog'], j)
            for k in ('event', 'state', 'resource', 'watcher'):
                self.assertEqual(j[k], it[k], j)
            self.assertEqual(j.get('event_id'), it.get('event_id'), j)
            self.assertIn('version', j, j)
            self.assertIn('notifies', j, j)
            self.assertEqual(j['notifies'], len(w.notifies), j)
        # reg: version is the next NOTIFY's body version (events.h): one
        # above the last document's
        self.assertEqual(self.get_json('/v1/subscriptions/' +
                                       ri['id'])['version'],
                         rw.notifies[-1].reginfo.version + 1, ri)

        # filters
        def ids(q):
            return sorted(i['id'] for i in self.list_all(q))
        both = sorted([ri['id'], pi['id']])
        self.assertEqual(ids(''), both)
        self.assertEqual(ids('event=reg'), [ri['id']])
        self.assertEqual(ids('event=presence'), [pi['id']])
        self.assertEqual(ids('event=presence.winfo'), [])
        self.assertEqual(ids('state=active'), both)
        self.assertEqual(ids('state=pending'), [])
        self.assertEqual(ids('watcher=' + urllib.parse.quote(
            pi['watcher'])), [pi['id']])
        self.assertEqual(ids('resource=' + urllib.parse.quote(
            ri['resource'])), both)
        for res in ('alice@example.test', ALICE):
            with self.subTest(resource=res):
                self.assertEqual(ids('resource=' + urllib.parse.quote(res)),
                                 both)
        self.assertEqual(ids('resource=bob%40example.test'), [])
        self.assertEqual(ids('event=reg&state=active'), [ri['id']])

    def test_unsubscribed_leaves_the_list(self):
        w = self.reg_watcher()
        self.subscribed(w)
        w.recv_notify(state='active')
        sid = self.item_of(w)['id']
        self.assertStatus(w.unsubscribe(), 200)
        w.recv_notify(state='terminated')
        self.wait_items(lambda it: all(i['id'] != sid for i in it))
        self.assertProblem(self.api('GET', '/v1/subscriptions/' + sid), 404)


class PaginationTest(AdminCase):

    def make(self, n):
        ws = []
        for i in range(n):
            w = self.reg_watcher()
            self.subscribed(w)
            w.recv_notify(state='active')
            ws.append(w)
        calls = {w.call_id for w in ws}
        items = self.wait_items(
            lambda it: calls <= {i['dialog']['call_id'] for i in it})
        self.assertEqual(len(items), n, items)
        return items

    def walk(self, limit):
        """Follow next_cursor from the first page; the pages' items."""
        pages = []
        cursor = None
        for _ in range(50):
            q = '/v1/subscriptions?limit=%d' % limit
            if cursor is not None:
                q += '&cursor=' + urllib.parse.quote(cursor, safe='')
            j = self.get_json(q)
            self.assertLessEqual(len(j['items']), limit, j)
            pages.append(j['items'])
            if len(j['items']) < limit:
                self.assertNotIn('next_cursor', j,
                                 'next_cursor on a short page: %s' % j)
            cursor = j.get('next_cursor')
            if cursor is None:
                return pages
        self.fail('next_cursor never ended')

    def test_five_by_two(self):
        items = self.make(5)
        pages = self.walk(2)
        self.assertEqual([len(p) for p in pages], [2, 2, 1])
        seen = [i['id'] for p in pages for i in p]
        self.assertEqual(len(seen), len(set(seen)), seen)
        self.assertEqual(set(seen), {i['id'] for i in items})
        self.assertEqual(seen, sorted(seen), 'pages not in id order')
        self.assertEqual(seen, [i['id'] for i in items],
                         'pages differ from the single list')

    def test_exact_pages_and_filter(self):
        """4 by 2: two full pages, the last without a next_cursor (nothing
        follows); a filter applies on every page."""
        self.make(4)
        pages = self.walk(2)
        self.assertEqual([len(p) for p in pages], [2, 2])
        pw = self.watcher()
        self.subscribed(pw)
        pw.recv_notify(state='active')
        self.item_of(pw)
        seen = []
        cursor = None
        while True:
            q = '/v1/subscriptions?event=reg&limit=3'
            if cursor:
                q += '&cursor=' + urllib.parse.quote(cursor, safe='')
            j = self.get_json(q)
            seen += [i['id'] for i in j['items']]
            self.assertTrue(all(i['event'] == 'reg' for i in j['items']), j)
            cursor = j.get('next_cursor')
            if not cursor:
                break
        self.assertEqual(len(seen), 4)
        self.assertEqual(len(set(seen)), 4)


# ---------------------------------------------------------------------------
# ending subscriptions

class DeleteTest(AdminCase):

    def end(self, w, reason=None):
        sid = self.item_of(w)['id']
        path = '/v1/subscriptions/' + urllib.parse.quote(sid, safe='')
        if reason:
            path += '?reason=' + reason
        r = self.api('DELETE', path)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b'', r)
        # the final NOTIFY was sent before the answer
        n = w.recv_notify(state='terminated', timeout=1.0)
        self.assertEqual(n.sub_state[1].get('reason'),
                         reason or 'deactivated', n)
        w.expect_no_notify()
        self.wait_items(lambda it: all(i['id'] != sid for i in it))
        self.assertProblem(self.api('GET', path.split('?')[0]), 404)
        self.assertProblem(self.api('DELETE', path.split('?')[0]), 404)
        # the dialog is gone for SIP too
        r = w.refresh(600)
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 481, r)
        return sid

    def test_deactivated_default(self):
        w = self.reg_watcher()
        other = self.reg_watcher()
        self.subscribed(w)
        w.recv_notify(state='active')
        self.subscribed(other)
        other.recv_notify(state='active')
        self.end(w)
        # the other one is untouched
        other.expect_no_notify()
        self.item_of(other)

    def test_deactivated_explicit(self):
        w = self.watcher()
        self.subscribed(w)
        w.recv_notify(state='active')
        self.end(w, 'deactivated')

    def test_noresource(self):
        w = self.watcher()
        self.subscribed(w)
        w.recv_notify(state='active')
        self.end(w, 'noresource')

    def test_rejected(self):
        w = self.reg_watcher()
        self.subscribed(w)
        w.recv_notify(state='active')
        self.end(w, 'rejected')


# ---------------------------------------------------------------------------
# presence rules

class RulesTest(AdminCase):
    herald_args = ['--presence-default-local', 'confirm']
    RULE = '/v1/presentities/%s/rules/%s'

    def test_allow_pending_then_block(self):
        """bob is pending (confirm by default); alice has published.
        PUT allow: 200 with the rule; bob's NOTIFY active with alice's
        document at once, equal to the API's; PUT block: NOTIFY
        terminated;reason=rejected, and a new SUBSCRIBE of bob's 403;
        DELETE of the rule: 204, bob pending again."""
        p = Publisher(self, self.herald)
        self.assertStatus(p.publish(pdoc(('phone', 'open', 'hello', A)),
                                    600), 200)
        w = self.watcher()
        self.subscribed(w)
        n = w.recv_notify(state='pending')
        self.assertEqual(n.body, b'', n)
        self.assertEqual(self.item_of(w)['state'], 'pending')

        r = self.api('PUT', self.RULE % ('alice@example.test',
                                         'bob@example.test'),
                     body={'action': 'allow'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.content_type, 'application/json', r)
        self.assertEqual(r.json(), {'presentity': 'alice@example.test',
                                    'watcher': 'bob@example.test',
                                    'action': 'allow'}, r)
        n = w.recv_notify(state='active', doc=True, timeout=1.0)
        self.assertEqual(n.pidf.basics(), {'phone': 'open'}, n)
        self.assertEqual(n.pidf.tuple('phone')['notes'], ['hello'], n)
        api = self.api('GET', '/v1/presentities/alice@example.test/presence')
        self.assertEqual(api.status, 200, api)
        self.assertEqual(canon_xml(api.body), canon_xml(n.body),
                         '%s\n--- NOTIFY ---\n%s' % (api, n))
        self.wait_items(lambda it: any(
            i['dialog']['call_id'] == w.call_id and i['state'] == 'active'
            for i in it))
        w.expect_no_notify()

        r = self.api('PUT', self.RULE % (ALICE, BOB),
                     body={'action': 'block'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {'presentity': 'alice@example.test',
                                    'watcher': 'bob@example.test',
                                    'action': 'block'}, r)
        n = w.recv_notify(state='terminated', timeout=1.0)
        self.assertEqual(n.sub_state[1].get('reason'), 'rejected', n)
        w.expect_no_notify()
        w2 = self.watcher()
        self.assertStatus(w2.subscribe(600), 403)

        r = self.api('DELETE', self.RULE % ('alice@example.test',
                                            'bob@example.test'))
        self.assertEqual(r.status, 204, r)
        w3 = self.watcher()
        self.subscribed(w3)
        w3.recv_notify(state='pending')

    def test_polite_block_and_confirm(self):
        """polite-block: an active pending watcher gets the neutral
        document; confirm: PUT answers with it; rules of a watcher
        without a subscription are stored (applied at the next
        SUBSCRIBE)."""
        p = Publisher(self, self.herald)
        self.assertStatus(p.publish(pdoc(('phone', 'open', 'secret', A)),
                                    600), 200)
        r = self.api('PUT', self.RULE % ('alice@example.test',
                                         'bob@example.test'),
                     body={'action': 'polite-block'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['action'], 'polite-block', r)
        w = self.watcher()
        self.subscribed(w)
        n = w.recv_notify(state='active', doc=True)
        self.assertEqual(n.pidf.basics(), {n.pidf.tuples[0]['id']: 'closed'},
                         n)
        self.assertNotIn('secret', n.pidf.text, n)
        r = self.api('PUT', self.RULE % ('alice@example.test',
                                         'bob@example.test'),
                     body={'action': 'confirm'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['action'], 'confirm', r)

    def test_delete_rule_without_one(self):
        r = self.api('DELETE', self.RULE % ('alice@example.test',
                                            'carol@example.test'))
        self.assertIn(r.status, (204, 404), r)
        if r.status == 404:
            self.assertProblem(r, 404)


# ---------------------------------------------------------------------------
# documents

class DocumentsTest(AdminCase):

    def test_reginfo_equals_notify(self):
        reg = Registrant(self, self.herald)
        reg.add(A, 600)
        reg.add(B, 300)
        w = self.reg_watcher()
        self.subscribed(w)
        n = w.recv_notify(state='active', doc='full')
        self.assertEqual(len(n.reginfo.contacts()), 2, n)
        for name in ('alice@example.test', ALICE,
                     urllib.parse.quote(ALICE, safe='')):
            with self.subTest(name=name):
                r = self.api('GET', '/v1/aors/%s/reginfo' % name)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.content_type, REGINFO_TYPE, r)
                ok, out = validate_reginfo(r.body)
                self.assertTrue(ok, '%s\n%s' % (out, r))
                root = ET.fromstring(r.body)
                self.assertEqual(root.get('version'), '0', r)
                self.assertEqual(root.get('state'), 'full', r)
                self.assertEqual(canon_xml(r.body), canon_xml(n.body),
                                 '%s\n--- NOTIFY ---\n%s' % (r, n))
                api_t = timed_attrs(r.body)
                sip_t = timed_attrs(n.body)
                self.assertEqual([x[:2] for x in api_t],
                                 [x[:2] for x in sip_t])
                for a, s in zip(api_t, sip_t):
                    self.assertLessEqual(abs(a[2] - s[2]), SLACK,
                                         (a, s))

    def test_reginfo_nobody_registered(self):
        w = self.reg_watcher()
        self.subscribed(w)
        n = w.recv_notify(state='active', doc='full')
        r = self.api('GET', '/v1/aors/alice@example.test/reginfo')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(canon_xml(r.body), canon_xml(n.body),
                         '%s\n--- NOTIFY ---\n%s' % (r, n))

    def test_pidf_equals_notify(self):
        p = Publisher(self, self.herald)
        self.assertStatus(p.publish(pdoc(('phone', 'open', 'on the move',
                                          A)), 600), 200)
        w = self.watcher()
        self.subscribed(w)
        n = w.recv_notify(state='active', doc=True)
        self.assertEqual(n.pidf.basics(), {'phone': 'open'}, n)
        for name in ('alice@example.test', ALICE):
            with self.subTest(name=name):
                r = self.api('GET', '/v1/presentities/%s/presence' % name)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.content_type, PIDF_TYPE, r)
                ok, out = validate_pidf(r.body)
                self.assertTrue(ok, '%s\n%s' % (out, r))
                self.assertEqual(canon_xml(r.body, drop_root=(), drop=()),
                                 canon_xml(n.body, drop_root=(), drop=()),
                                 '%s\n--- NOTIFY ---\n%s' % (r, n))
                j = self.get_json('/v1/presentities/%s/presence' % name,
                                  headers={'Accept': 'application/json'})
                self.assertEqual(set(j), {'presentity', 'pidf'}, j)
                self.assertEqual(j['presentity'], 'alice@example.test', j)
                self.assertEqual(j['pidf'].encode(), r.body, j)

    def test_pidf_nothing_published(self):
        w = self.watcher()
        self.subscribed(w)
        n = w.recv_notify(state='active', doc=True)
        r = self.api('GET', '/v1/presentities/alice@example.test/presence')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(canon_xml(r.body, drop_root=(), drop=()),
                         canon_xml(n.body, drop_root=(), drop=()),
                         '%s\n--- NOTIFY ---\n%s' % (r, n))


if __name__ == '__main__':
    harness.main()
