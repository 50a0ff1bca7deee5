#!/usr/bin/env python3
"""Registration monitoring: who may watch whose registration state (the reg
package, RFC 3680 section 6), against a real herald and PostgreSQL.

The AOR's own user always; per-AOR rules for a watcher or a whole domain
(allow, block; a user's own rule before its domain's), set and removed
through PUT/DELETE /v1/aors/{aor}/rules/{watcher}, stored in PostgreSQL
and in force after a restart; the monitor role (herald user add --role
monitor, POST /v1/users, PATCH /v1/users/{user}) that may watch every AOR
of its domain; everyone else 403. A rule or a role taken away ends the
subscriptions it allowed with terminated;reason=rejected. GET
/v1/aors/{aor}/watchers lists who watches an AOR, with state and
expiry; GET /v1/aors/{aor}/rules its rules."""

import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from adminapi import AdminCase  # noqa: E402
from watcher import PASSWORD, Registrant  # noqa: E402

ALICE = 'sip:alice@example.test'
BOB = 'sip:bob@example.test'
CAROL = 'sip:carol@example.test'
APP = 'app@example.test'
APPPW = 'apppw'
PASSWORDS = {'alice': PASSWORD, 'bob': 'bobpw', 'carol': 'carolpw',
             'dave': 'davepw', 'app': APPPW}


def q(s):
    return urllib.parse.quote(s, safe='@:')


class RegMonCase(AdminCase):

    def rule(self, aor, watcher, action):
        """PUT (action) or DELETE (None) aor's rule for watcher."""
        path = '/v1/aors/%s/rules/%s' % (q(aor), q(watcher))
        if action is None:
            r = self.api('DELETE', path)
            self.assertEqual(r.status, 204, r)
            return
        r = self.api('PUT', path, {'action': action})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['action'], action, r)

    def watch(self, user, resource, password=None, **kw):
        """A reg watcher; active() or refused() next."""
        return self.watcher(user=user, event='reg', resource=resource,
                            password=password or PASSWORDS[user], **kw)

    def active(self, w):
        self.subscribed(w)
        return w.recv_notify(state='active', doc='full')

    def refused(self, w):
        self.assertStatus(w.subscribe(600), 403)
        w.expect_no_notify()

    def rejected(self, w):
        n = w.recv_notify(state='terminated')
        self.assertEqual(n.sub_state[1].get('reason'), 'rejected', n)
        # RFC 6665 4.2.2: rejected: no Retry-After, and no document
        self.assertNotIn('retry-after', n.sub_state[1], n)
        return n

    def add_app(self, role='monitor'):
        """app@example.test with --role, through the CLI; wait until the
        running herald has heard of it."""
        want = 'user %s changed (%s)' % (APP, role)
        seen = self.herald.log_text().count(want)
        subprocess.run([harness.herald_bin(), 'user', 'add', APP,
                        '--password', APPPW, '--role', role,
                        '--database-url', self.herald.db], check=True,
                       stdout=subprocess.DEVNULL)
        self.herald.wait_log(want, seen)

    def patch_app(self, body, role):
        """PATCH app; wait until the running herald has heard of it."""
        want = 'user %s changed (%s)' % (APP, role)
        seen = self.herald.log_text().count(want)
        r = self.api('PATCH', '/v1/users/' + APP, body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {'user': APP, 'role': role})
        self.herald.wait_log(want, seen)


class RulesTest(RegMonCase):

    def test_own_aor_and_stranger(self):
        """alice watches her own AOR; bob, with no rule, gets 403."""
        self.active(self.watch('alice', ALICE))
        self.refused(self.watch('bob', ALICE))

    def test_domain_rule(self):
        """A domain rule lets every user of the domain in; the watchers
        list shows them; removing it ends bob's subscription (rejected)
        but not alice's own."""
        self.herald.add_user('carol@example.test', 'carolpw')
        a = self.watch('alice', ALICE)
        self.active(a)
        self.rule(ALICE, 'example.test', 'allow')
        b = self.watch('bob', ALICE)
        self.active(b)
        c = self.watch('carol', ALICE)
        self.active(c)

        # who watches alice's registrations
        items = self.wait_watchers(ALICE, 3)
        self.assertEqual(sorted(i['watcher'] for i in items),
                         [ALICE, BOB, CAROL])
        for i in items:
            self.assertEqual(i['event'], 'reg')
            self.assertEqual(i['state'], 'active')
            self.assertEqual(i['resource'], 'alice@example.test')
            self.assertTrue(590 <= i['expires_in'] <= 600, i)
        j = self.get_json('/v1/aors/%s/watchers?watcher=%s' %
                          (q(ALICE), q(BOB)))
        self.assertEqual([i['dialog']['call_id'] for i in j['items']],
                         [b.call_id])
        j = self.get_json('/v1/aors/alice@example.test/watchers?limit=2')
        self.assertEqual(len(j['items']), 2)
        self.assertIn('next_cursor', j)
        self.assertEqual(self.get_json('/v1/aors/%s/watchers' % q(BOB))[
            'items'], [])

        # everyone is told of a registration
        Registrant(self, self.herald).add('sip:alice@192.0.2.1:5060')
        for w in (a, b, c):
            w.recv_notify(state='active', doc='partial')

        # a user's own block comes before the domain's allow
        self.rule(ALICE, BOB, 'block')
        self.rejected(b)
        c.expect_no_notify(0.3)
        self.refused(self.watch('bob', ALICE))

        # the domain rule goes: carol's subscription ends, alice's stays
        self.rule(ALICE, 'example.test', None)
        self.rejected(c)
        a.expect_no_notify(0.3)
        self.refused(self.watch('carol', ALICE))
        self.wait_watchers(ALICE, 1)

    def test_user_rule_survives_restart(self):
        """Rules are in PostgreSQL: after a restart bob (allowed by name)
        still may watch alice, carol (blocked by name, though her domain
        is allowed) still may not."""
        self.herald.add_user('carol@example.test', 'carolpw')
        self.rule(ALICE, BOB, 'allow')
        self.rule(ALICE, 'example.test', 'allow')
        self.rule(ALICE, 'carol@example.test', 'block')
        self.herald = self.restart_herald(self.herald)
        self.assertEqual(self.get_json('/v1/aors/%s/rules' % q(ALICE)),
                         {'aor': 'alice@example.test', 'items': [
                             {'watcher': 'bob@example.test',
                              'action': 'allow'},
                             {'watcher': 'carol@example.test',
                              'action': 'block'},
                             {'watcher': 'example.test',
                              'action': 'allow'}]})
        self.active(self.watch('bob', ALICE))
        self.refused(self.watch('carol', ALICE))
        # and a rule removed is removed for good
        self.rule(ALICE, BOB, None)
        self.rule(ALICE, 'example.test', None)
        self.herald = self.restart_herald(self.herald)
        self.refused(self.watch('bob', ALICE))
        self.assertEqual(self.get_json('/v1/aors/%s/rules' % q(ALICE))[
            'items'], [{'watcher': 'carol@example.test', 'action': 'block'}])

    def test_names_as_the_core_keys_them(self):
        """A domain in any case and a sips: or no scheme name the same
        AOR and watcher as SIP does (domains compare without case, user
        parts with it)."""
        self.rule('sips:alice@EXAMPLE.test', 'bob@Example.TEST', 'allow')
        self.rule(ALICE, 'EXAMPLE.TEST', 'block')
        j = self.get_json('/v1/aors/alice@Example.Test/rules')
        self.assertEqual(j, {'aor': 'alice@example.test', 'items': [
            {'watcher': 'bob@example.test', 'action': 'allow'},
            {'watcher': 'example.test', 'action': 'block'}]})
        self.assertEqual(self.get_json('/v1/aors/ALICE@example.test/rules')[
            'items'], [])
        self.active(self.watch('bob', ALICE))
        Registrant(self, self.herald).add('sip:alice@192.0.2.1:5060')
        j = self.get_json('/v1/aors/alice@Example.TEST/bindings')
        self.assertEqual([b['uri'] for b in j['bindings']],
                         ['sip:alice@192.0.2.1:5060'])

    def test_rule_changed_while_down(self):
        """A rule that changed while herald was down (a crash between a
        rule's commit and the end it brings, or an operator's SQL) takes
        effect at start: the subscription it no longer allows ends with
        rejected."""
        self.rule(ALICE, BOB, 'allow')
        b = self.watch('bob', ALICE)
        self.active(b)
        harness.psql(self.herald.db, "UPDATE rules SET action = 'block' "
                     "WHERE package = 'reg' AND watcher = 'bob@example.test'")
        h = self.restart_herald(self.herald)
        if h.port != self.herald.port:
            self.skipTest('port %d not free for the restart' %
                          self.herald.port)
        self.herald = h
        b.ep.herald = h
        b.expect_jump = True
        self.rejected(b)
        self.wait_watchers(ALICE, 0)

    def test_bad_rules(self):
        """reg rules are allow or block; presence's other actions are
        400 here."""
        for action in ('confirm', 'polite-block', 'yes'):
            r = self.api('PUT', '/v1/aors/%s/rules/%s' % (q(ALICE), q(BOB)),
                         {'action': action})
            self.assertProblem(r, 400)
        r = self.api('PUT', '/v1/aors/alice/rules/%s' % q(BOB),
                     {'action': 'allow'})
        self.assertProblem(r, 400)
        self.refused(self.watch('bob', ALICE))

    def wait_watchers(self, aor, n):
        """The AOR's watchers once there are n (the list is read from
        PostgreSQL, written just after the SIP answer)."""
        deadline = time.monotonic() + 5
        while True:
            items = self.get_json('/v1/aors/%s/watchers' % q(aor))['items']
            if len(items) == n:
                return items
            if time.monotonic() > deadline:
                self.fail('%d watchers of %s, want %d: %s' %
                          (len(items), aor, n, items))
            time.sleep(0.05)


class MonitorTest(RegMonCase):

    def test_monitor_across_the_domain(self):
        """A monitor (herald user add --role monitor) watches every AOR of
        its domain, one SUBSCRIBE each, and hears their registrations;
        a block rule on one AOR keeps it out of that one; PATCH to role
        user ends the subscriptions only the role allowed (rejected) and
        refuses new ones; PATCH back to monitor lets it in again."""
        self.add_app('user')
        self.refused(self.watch('app', ALICE))
        self.patch_app({'role': 'monitor'}, 'monitor')
        mb = self.watch('app', BOB)
        ma = self.watch('app', ALICE)
        self.active(ma)
        self.active(mb)
        Registrant(self, self.herald).add('sip:alice@192.0.2.1:5060')
        n = ma.recv_notify(state='active', doc='partial')
        self.assertEqual(list(n.reginfo.contacts()),
                         ['sip:alice@192.0.2.1:5060'])
        Registrant(self, self.herald, user='bob', password='bobpw').add(
            'sip:bob@192.0.2.2:5060')
        n = mb.recv_notify(state='active', doc='partial')
        self.assertEqual(list(n.reginfo.contacts(BOB)),
                         ['sip:bob@192.0.2.2:5060'])

        # the AOR's own rule comes before the role
        self.rule(BOB, APP, 'block')
        self.rejected(mb)
        self.refused(self.watch('app', BOB))
        self.rule(BOB, APP, None)
        mb = self.watch('app', BOB)
        self.active(mb)

        # a rule keeps what the role loses: alice allows app by name
        self.rule(ALICE, APP, 'allow')
        self.patch_app({'role': 'user'}, 'user')
        self.rejected(mb)
        ma.expect_no_notify(0.3)
        self.refused(self.watch('app', BOB))
        self.patch_app({'role': 'monitor', 'password': 'newpw'}, 'monitor')
        self.active(self.watch('app', BOB, password='newpw'))

    def test_monitor_by_api_and_deleted(self):
        """POST /v1/users with role monitor makes one; deleting the user
        ends its subscriptions (rejected)."""
        r = self.api('POST', '/v1/users', {'user': APP, 'password': APPPW,
                                           'role': 'monitor'})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json(), {'user': APP, 'role': 'monitor'})
        self.herald.wait_log('user %s changed (monitor)' % APP)
        m = self.watch('app', ALICE)
        self.active(m)
        j = self.get_json('/v1/users')
        self.assertIn({'user': APP, 'role': 'monitor'}, j['items'])
        r = self.api('DELETE', '/v1/users/' + APP)
        self.assertEqual(r.status, 204, r)
        self.rejected(m)

    def test_user_deleted(self):
        """A deleted user's subscriptions end: those to its AOR with
        noresource, its own (as the watcher) with rejected."""
        self.add_app('monitor')
        self.rule(ALICE, BOB, 'allow')
        b = self.watch('bob', ALICE)
        self.active(b)
        m = self.watch('app', BOB)
        self.active(m)
        a = self.watch('alice', ALICE)
        self.active(a)
        r = self.api('DELETE', '/v1/users/bob@example.test')
        self.assertEqual(r.status, 204, r)
        self.rejected(b)
        n = m.recv_notify(state='terminated')
        self.assertEqual(n.sub_state[1].get('reason'), 'noresource', n)
        a.expect_no_notify(0.3)
        self.refused_gone(self.watch('app', BOB))

    def refused_gone(self, w):
        self.assertStatus(w.subscribe(600), 404)
        w.expect_no_notify()

    def test_monitor_role_survives_restart(self):
        """The role is in PostgreSQL: after a restart the monitor still
        may watch any AOR of the domain."""
        self.add_app('monitor')
        self.herald = self.restart_herald(self.herald)
        self.active(self.watch('app', BOB))


class MonitorLimitTest(RegMonCase):
    """A monitor holds many more subscriptions than a watcher may."""

    herald_args = ['--max-subscriptions-per-watcher', '2',
                   '--max-subscriptions-per-monitor', '3']

    def test_monitor_limit(self):
        self.herald.add_user('carol@example.test', 'carolpw')
        self.herald.add_user('dave@example.test', 'davepw')
        self.add_app('monitor')
        for aor in (ALICE, BOB, CAROL):
            self.active(self.watch('app', aor))
        self.refused_many(self.watch('app', 'sip:dave@example.test'))
        # an ordinary user allowed by a domain rule: the watcher limit
        for aor in (ALICE, BOB, CAROL):
            self.rule(aor, 'example.test', 'allow')
        for aor in (ALICE, BOB):
            self.active(self.watch('dave', aor))
        self.refused_many(self.watch('dave', CAROL))

    def refused_many(self, w):
        self.assertStatus(w.subscribe(600), 403, 'Too Many Subscriptions')
        w.expect_no_notify()


if __name__ == '__main__':
    harness.main()
