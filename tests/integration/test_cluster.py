#!/usr/bin/env python3
"""Several Herald nodes on one PostgreSQL (issue 21): three nodes on
127.0.0.2, .3 and .4 with --node-id, one database.

- A REGISTER on one node reaches a reg watcher served by another: the
  partial reginfo NOTIFYs of RFC 3680 come from the watcher's node.
- A PUBLISH on one node reaches presence watchers on the others; a refresh
  (a new entity-tag, the same document) is no change to them.
- The change log: only with nodes; a node reads only the others' changes;
  a node id held by a live node is refused.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from phone import Phone  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'interop'))
import kamailio  # noqa: E402
from kamailio import Kamailio  # noqa: E402
from watcher import (PASSWORD, Publisher, Registrant, Watcher,  # noqa: E402
                     WatcherChecks, pidf_doc)

DOMAIN = 'example.test'
ALICE = 'sip:alice@%s' % DOMAIN
A = 'sip:alice@192.0.2.1:5060'
BOB = 'sip:bob@%s' % DOMAIN
B = 'sip:alice@192.0.2.2:5060'
NODES = ('127.0.0.2', '127.0.0.3', '127.0.0.4')


def query(url, sql):
    """psql -At: the rows as lists of text."""
    out = subprocess.run(['psql', '-X', '-At', '-F', '|', '-d', url, '-c',
                          sql], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return [line.split('|') for line in out.splitlines() if line]


class ClusterCase(WatcherChecks, harness.HeraldTestCase):
    autostart = False
    node_args = []

    def setUp(self):
        super().setUp()
        self.db = harness.fresh_database()
        self.nodes = []
        for i, host in enumerate(NODES):
            h = self.start_herald(['--node-id', 'n%d' % (i + 1),
                                   '--min-expires', '1'] + self.node_args,
                                  host=host, db=self.db)
            self.nodes.append(h)
            if i == 0:
                h.add_user('alice@%s' % DOMAIN, PASSWORD)

    def watcher(self, herald, **kw):
        w = Watcher(self, herald, **kw)
        self.addCleanup(self.check_endpoint, w.ep)
        return w

    def contacts(self, n):
        return n.reginfo.contacts(ALICE)


class ClusterTest(ClusterCase):
    def test_nodes_joined(self):
        """Each node joined (epoch 1), holds a lease and says how far it
        has read the change log."""
        rows = query(self.db, "SELECT id, epoch, lease_until > now() "
                     "FROM nodes ORDER BY id")
        self.assertEqual(rows, [['n1', '1', 't'], ['n2', '1', 't'],
                                ['n3', '1', 't']])
        for h in self.nodes:
            self.assertIn('joined as node', h.log_text())
        # the admin API of any node lists them all
        req = urllib.request.Request(
            self.nodes[1].admin_url + '/v1/cluster',
            headers={'Authorization': 'Bearer ' + harness.ADMIN_TOKEN})
        with urllib.request.urlopen(req, timeout=5) as r:
            a = json.loads(r.read())
        self.assertEqual(a['node'], 'n2')
        self.assertEqual([(n['id'], n['epoch'], n['live'])
                          for n in a['nodes']],
                         [('n1', 1, True), ('n2', 1, True), ('n3', 1, True)])
        self.assertEqual(a['nodes'][0]['advertise'],
                         'udp:%s:%d' % (NODES[0], self.nodes[0].port))

    def test_register_reaches_reg_watcher_on_another_node(self):
        """alice registers on n1; her reg watcher on n3 hears of each
        change from n3: registered, refreshed, a second contact,
        unregistered."""
        w = self.watcher(self.nodes[2])
        reg = Registrant(self, self.nodes[0])
        self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
        n = w.recv_notify(state='active', doc='full')
        self.assertEqual(self.contacts(n), {})

        t0 = time.monotonic()
        reg.add(A, 600)
        n = w.recv_notify(state='active', doc='partial')
        took = time.monotonic() - t0
        c = self.contacts(n)[A]
        self.assertEqual(c['state'], 'active', n)
        self.assertIn(c['event'], ('registered', 'created'), n)
        # the NOTIFY comes from the watcher's node
        self.assertIn(NODES[2], n.get('Contact'), n)
        self.assertLess(took, 2.0, 'the change took %.3f s' % took)

        reg.add(A, 300)
        n = w.recv_notify(state='active', doc='partial')
        self.assertEqual(self.contacts(n)[A]['event'], 'shortened', n)

        reg.add(B, 600)
        n = w.recv_notify(state='active', doc='partial')
        self.assertEqual(self.contacts(n)[B]['state'], 'active', n)

        reg.remove(A)
        n = w.recv_notify(state='active', doc='partial')
        c = self.contacts(n)[A]
        self.assertEqual((c['state'], c['event']),
                         ('terminated', 'unregistered'), n)
        w.expect_no_notify()
        # n3 applied n1's four changes (its /metrics says so)
        m = harness.metrics(self.nodes[2])
        self.assertGreaterEqual(harness.metric(
            m, 'herald_cluster_changes_applied_total'), 4)
        self.assertEqual(harness.metric(m, 'herald_cluster_fenced'), 0)
        self.assertGreaterEqual(harness.metric(
            m, 'herald_cluster_log_mark'), 4)

    def test_expiry_on_every_node(self):
        """A binding of n2 expires: the watcher on n1 is told expired
        once, whichever node removes the row first."""
        w = self.watcher(self.nodes[0])
        reg = Registrant(self, self.nodes[1])
        self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
        w.recv_notify(state='active', doc='full')
        reg.add(A, 2)
        n = w.recv_notify(state='active', doc='partial')
        self.assertEqual(self.contacts(n)[A]['state'], 'active', n)
        n = w.recv_notify(state='active', doc='partial', timeout=6)
        c = self.contacts(n)[A]
        self.assertEqual((c['state'], c['event']), ('terminated', 'expired'),
                         n)
        w.expect_no_notify()
        self.assertEqual(query(self.db, "SELECT count(*) FROM bindings"),
                         [['0']])

    def test_publish_reaches_presence_watchers_on_other_nodes(self):
        """alice publishes on n1; her presence watchers on n2 and n3 get
        the document; a refresh (new entity-tag, same document) sends
        them nothing; a modification and a removal do."""
        ws = [self.watcher(h, event='presence') for h in self.nodes[1:]]
        for w in ws:
            self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
            n = w.recv_notify(state='active', doc=True)
            self.assertEqual(n.pidf.tuples[0]['basic'], 'closed', n)
        p = Publisher(self, self.nodes[0])
        r = p.publish(pidf_doc([('t1', 'open', 'at work')]), expires=600)
        self.assertStatus(r, 200)
        for w in ws:
            n = w.recv_notify(state='active', doc=True)
            self.assertEqual(n.pidf.basics(), {'t1': 'open'}, n)

        r = p.refresh(expires=600)
        self.assertStatus(r, 200)
        for w in ws:
            w.expect_no_notify()

        r = p.modify(pidf_doc([('t1', 'closed', 'gone home')]), expires=600)
        self.assertStatus(r, 200)
        for w in ws:
            n = w.recv_notify(state='active', doc=True)
            self.assertEqual(n.pidf.basics(), {'t1': 'closed'}, n)
            self.assertIn('gone home', n.pidf.text)

        r = p.remove()
        self.assertStatus(r, 200)
        for w in ws:
            n = w.recv_notify(state='active', doc=True)
            self.assertEqual(len(n.pidf.tuples), 1, n)
            self.assertNotIn('gone home', n.pidf.text)

    def test_entity_tag_of_another_node_not_read_yet(self):
        """RFC 3903's entity-tags across nodes: a PUBLISH refresh naming
        an entity-tag this node has not read yet (the row written behind
        its back, as if another node had just issued it) is answered
        from the row, not 412; one nobody issued still gets 412."""
        body = pidf_doc([('t1', 'open')]).decode().replace("'", "''")
        harness.psql(self.db, "SET session_replication_role = replica; "
                     "INSERT INTO publications (etag, presentity, event, "
                     "ctype, body, expires_at, published_at) VALUES "
                     "('aaaaaaaaaaaaaaaaaaaa', 'alice@example.test', "
                     "'presence', 'application/pidf+xml', '%s', "
                     "now() + interval '10 minutes', 1)" % body)
        p = Publisher(self, self.nodes[1])
        r = p.refresh(expires=600, etag='aaaaaaaaaaaaaaaaaaaa')
        self.assertStatus(r, 200)
        self.assertNotEqual(r.get('SIP-ETag'), 'aaaaaaaaaaaaaaaaaaaa', r)
        r = p.refresh(expires=600, etag='bbbbbbbbbbbbbbbbbbbb')
        self.assertStatus(r, 412)

    def test_publications_of_two_nodes_compose(self):
        """Two devices of alice publish on two nodes: a watcher on the
        third sees both tuples."""
        w = self.watcher(self.nodes[2], event='presence')
        self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
        w.recv_notify(state='active', doc=True)
        p1 = Publisher(self, self.nodes[0])
        p2 = Publisher(self, self.nodes[1])
        self.assertStatus(p1.publish(pidf_doc([('desk', 'open')]),
                                     expires=600), 200)
        w.recv_notify(state='active', doc=True)
        self.assertStatus(p2.publish(pidf_doc([('mobile', 'open')]),
                                     expires=600), 200)
        n = w.recv_notify(state='active', doc=True)
        self.assertEqual(n.pidf.basics(), {'desk': 'open', 'mobile': 'open'},
                         n)

    def test_rule_set_on_one_node_holds_on_the_others(self):
        """A presence rule put through n1's admin API (block bob) ends
        bob's subscription to alice on n2; removing it lets him in
        again there."""
        self.nodes[0].add_user('bob@%s' % DOMAIN, 'bobpw')
        w = self.watcher(self.nodes[1], user='bob', password='bobpw',
                         event='presence')
        self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
        w.recv_notify(state='active', doc=True)
        path = '/v1/presentities/alice@%s/rules/bob@%s' % (DOMAIN, DOMAIN)
        self.admin(self.nodes[0], 'PUT', path, {'action': 'block'})
        n = w.recv_notify(state='terminated')
        self.assertEqual(n.sub_state[1].get('reason'), 'rejected', n)
        self.assertEqual(query(self.db, "SELECT node, kind FROM changes "
                               "WHERE kind LIKE 'rule:%'"),
                         [['n1', 'rule:presence']])
        self.admin(self.nodes[0], 'DELETE', path)
        self.nodes[1].wait_log('presence rule of alice@%s for bob@%s: '
                               'gone' % (DOMAIN, DOMAIN))
        w2 = self.watcher(self.nodes[1], user='bob', password='bobpw',
                          event='presence')
        self.assertSubscribed(w2.subscribe(600), 600, herald=w2.herald)
        w2.recv_notify(state='active', doc=True)

    def test_role_set_on_one_node_holds_on_the_others(self):
        """A monitor made through n1's admin API watches alice's
        registrations on n2; its role taken away through n3's ends that
        subscription on n2 (rejected)."""
        code, _ = self.admin(self.nodes[0], 'POST', '/v1/users',
                             {'user': 'app@%s' % DOMAIN,
                              'password': 'apppw', 'role': 'monitor'})
        self.assertEqual(code, 201)
        self.nodes[1].wait_log('user app@%s changed' % DOMAIN)
        w = self.watcher(self.nodes[1], user='app', password='apppw')
        self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
        w.recv_notify(state='active', doc='full')
        code, _ = self.admin(self.nodes[2], 'PATCH',
                             '/v1/users/app@%s' % DOMAIN, {'role': 'user'})
        self.assertEqual(code, 200)
        n = w.recv_notify(state='terminated')
        self.assertEqual(n.sub_state[1].get('reason'), 'rejected', n)

    def test_watcher_info_spans_the_nodes(self):
        """alice's watcher list (presence.winfo) on n1 tells of bob's
        presence subscription on n2; a new list on n3 has him in its full
        state; his subscription moving to n3 (a refresh there) is no news
        to either; his un-SUBSCRIBE is news to both."""
        self.nodes[0].add_user('bob@%s' % DOMAIN, 'bobpw')
        wi = self.watcher(self.nodes[0], event='presence.winfo')
        self.assertSubscribed(wi.subscribe(600), 600, herald=wi.herald)
        n = wi.recv_notify(state='active', doc='full')
        self.assertEqual(n.winfo.watcher(BOB), [], n)
        bob = self.watcher(self.nodes[1], user='bob', password='bobpw',
                           event='presence')
        self.assertSubscribed(bob.subscribe(600), 600, herald=bob.herald)
        bob.recv_notify(state='active', doc=True)
        n = wi.recv_notify(state='active', doc='partial')
        [w] = n.winfo.watcher(BOB)
        self.assertEqual((w['status'], w['event']), ('active', 'subscribe'),
                         n)
        wid = w['id']
        wi3 = self.watcher(self.nodes[2], event='presence.winfo')
        self.assertSubscribed(wi3.subscribe(600), 600, herald=wi3.herald)
        n = wi3.recv_notify(state='active', doc='full')
        [w] = n.winfo.watcher(BOB)
        self.assertEqual((w['id'], w['status']), (wid, 'active'), n)

        n3 = self.nodes[2]
        bob.herald = bob.ep.herald = Front(n3.port, n3.host)
        self.assertStatus(bob.refresh(600), 200)
        bob.expect_jump = True
        bob.recv_notify(state='active', doc=True)
        bob.expect_jump = False
        wi.expect_no_notify(1.0)
        wi3.expect_no_notify()

        self.assertStatus(bob.unsubscribe(), 200)
        bob.recv_notify(state='terminated')
        for lst in (wi, wi3):
            n = lst.recv_notify(state='active', doc='partial')
            [w] = n.winfo.watcher(BOB)
            self.assertEqual((w['id'], w['status'], w['event']),
                             (wid, 'terminated', 'timeout'), n)

    def admin(self, h, method, path, body=None):
        """The status of an admin API request, and its JSON (or None)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            h.admin_url + path, data=data, method=method,
            headers={'Authorization': 'Bearer ' + harness.ADMIN_TOKEN,
                     'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                text = r.read()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b'null')

    def test_refresh_at_another_node_moves_the_subscription(self):
        """A refresh of n1's subscription reaches n2 (a balancer that
        does not record-route): n2 takes it over in one transaction and
        answers it, its NOTIFYs (CSeq past n1's) come from n2, n1 drops
        it; an un-SUBSCRIBE there ends it, and a refresh after that gets
        481."""
        w = self.watcher(self.nodes[0])
        self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
        w.recv_notify(state='active', doc='full')
        n2 = self.nodes[1]
        w.herald = w.ep.herald = Front(n2.port, n2.host)
        self.assertStatus(w.refresh(600), 200)
        w.expect_jump = True
        n = w.recv_notify(state='active', doc='full')
        w.expect_jump = False
        self.assertIn(n2.host, n.get('Contact'), n)
        self.nodes[0].wait_log('which has it now: dropped here')
        self.assertEqual(query(self.db, "SELECT owner FROM subscriptions"),
                         [['n2']])
        Registrant(self, self.nodes[2]).add(A, 600)
        n = w.recv_notify(state='active', doc='partial')
        self.assertIn(A, self.contacts(n), n)
        w.expect_no_notify()
        r = w.unsubscribe()
        self.assertStatus(r, 200)
        w.recv_notify(state='terminated')
        self.assertStatus(w.refresh(600), 481)

    def test_row_moved_behind_the_owners_back(self):
        """n1's subscription row moves to n2 behind n1's back (psql: a
        move whose log entry n1 has not read): n1's refresh cannot store
        it (its owner epoch is old), so n1 claims it back, in the next
        epoch, and answers it; an un-SUBSCRIBE after the same ends it
        there. Nothing is answered 5xx."""
        w = self.watcher(self.nodes[0])
        self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
        w.recv_notify(state='active', doc='full')
        move = ("UPDATE subscriptions SET owner = 'n2', "
                "owner_epoch = owner_epoch + 1")
        harness.psql(self.db, move)
        self.assertStatus(w.refresh(600), 200)
        self.assertEqual(query(self.db, "SELECT owner, owner_epoch FROM "
                               "subscriptions"), [['n1', '2']])
        self.assertIn('taken back', self.nodes[0].log_text())
        w.expect_jump = True
        w.recv_notify(state='active', doc='full')
        w.expect_jump = False
        harness.psql(self.db, move)
        self.assertStatus(w.unsubscribe(), 200)
        w.expect_jump = True
        w.recv_notify(state='terminated')
        self.assertEqual(query(self.db, "SELECT count(*) FROM "
                               "subscriptions"), [['0']])

    def test_admin_ends_a_subscription_through_its_owner(self):
        """Any node's admin API lists a subscription of n1; n2's answers
        409 to ending it (n1 owns it), n1's ends it."""
        w = self.watcher(self.nodes[0])
        self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
        w.recv_notify(state='active', doc='full')
        code, page = self.admin(self.nodes[1], 'GET', '/v1/subscriptions')
        self.assertEqual(code, 200)
        [sub] = page['items']
        path = '/v1/subscriptions/' + sub['id']
        code, problem = self.admin(self.nodes[1], 'DELETE', path)
        self.assertEqual(code, 409, problem)
        self.assertIn('another node', problem['detail'])
        self.assertEqual(self.admin(self.nodes[0], 'DELETE', path)[0], 204)
        n = w.recv_notify(state='terminated')
        self.assertEqual(n.sub_state[1].get('reason'), 'deactivated', n)

    def test_change_log_names_the_writer(self):
        """Each change is logged with its node; a change made outside
        Herald (psql) with none, and the nodes apply it too."""
        w = self.watcher(self.nodes[1])
        reg = Registrant(self, self.nodes[0])
        self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
        w.recv_notify(state='active', doc='full')
        reg.add(A, 600)
        w.recv_notify(state='active', doc='partial')
        rows = query(self.db, "SELECT node, kind, res, key FROM changes "
                     "ORDER BY id")
        self.assertIn(['n1', 'binding', 'alice@example.test', A], rows)
        # an operator removes the binding by hand
        harness.psql(self.db, "DELETE FROM bindings")
        n = w.recv_notify(state='active', doc='partial')
        c = self.contacts(n)[A]
        self.assertEqual(c['state'], 'terminated', n)
        rows = query(self.db, "SELECT coalesce(node, '-') FROM changes "
                     "ORDER BY id DESC LIMIT 1")
        self.assertEqual(rows, [['-']])

    def test_nonce_of_another_node_is_stale(self):
        """Credentials for n1's nonce sent to n2: 401 stale=true (its nc
        table is not n1's: no replay across nodes), and the client's
        answer to n2's challenge registers."""
        ph = Phone(self, self.udp(self.nodes[0]))
        self.assertStatus(ph.register(['<%s>' % A], 600), 200)
        # the same credentials (nonce, nc 1 again) on n1: a replay
        ph.nc = 0
        r = ph.c.request(ph.request(['<%s>' % A], 600))
        self.assertStatus(r, 403)
        # ...and on n2, which never counted that nonce
        ph.nc = 0
        ph.c = self.udp(self.nodes[1])
        r = ph.c.request(ph.request(['<%s>' % A], 600))
        self.assertStatus(r, 401)
        www = r.get_all('WWW-Authenticate')
        self.assertTrue(any('stale=true' in v.replace(' ', '').lower()
                            for v in www), r)
        self.assertStatus(ph.register(['<%s>' % A], 600), 200)

    def test_register_order_holds_across_nodes(self):
        """RFC 3261 10.3 step 7 across nodes: a node whose copy of a
        binding is behind (a later REGISTER of its Call-ID stored
        meanwhile, here written by psql without telling anyone) answers
        an older CSeq 400, the database having refused it."""
        ph = Phone(self, self.udp(self.nodes[0]))
        self.assertStatus(ph.register(['<%s>' % A], 600), 200)
        self.nodes[1].wait_log("another writer's binding %s of "
                               "alice@example.test: changed" % A)
        harness.psql(self.db, "SET session_replication_role = replica; "
                     "UPDATE bindings SET cseq = 100")
        ph.c = self.udp(self.nodes[1])
        ph.cseq = 50
        r = ph.register(['<%s>' % A], 600)
        self.assertStatus(r, 400, 'Out-Of-Order CSeq')
        self.assertEqual(query(self.db, "SELECT cseq FROM bindings"),
                         [['100']])
        ph.cseq = 100
        self.assertStatus(ph.register(['<%s>' % A], 600), 200)

    def test_node_id_in_use_is_refused(self):
        """A second process with a live node's id waits for the lease,
        then gives up with a clear error."""
        h = harness.Herald(['--node-id', 'n1'], host='127.0.0.5',
                           db=self.db)
        h.port = harness.free_port(h.host)
        t0 = time.monotonic()
        out = subprocess.run(h.argv(), env=h.environ(), timeout=60,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True).stdout
        self.assertGreater(time.monotonic() - t0, 9, out)
        self.assertIn('is held by another connection: waiting', out)
        self.assertIn('node n1 is alive', out)
        self.assertNotIn(' ready', out)


class RestartTest(ClusterCase):
    def test_restarted_node_keeps_its_own_subscriptions(self):
        """kill -9 of n1 and a restart: it joins at once (epoch 2, its id
        freed with its connection), loads its own subscriptions only and
        goes on notifying them; n2's watcher hears from n2 alone."""
        w1 = self.watcher(self.nodes[0])
        w2 = self.watcher(self.nodes[1])
        for w in (w1, w2):
            self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
            w.recv_notify(state='active', doc='full')
        self.assertEqual(query(self.db, "SELECT owner FROM subscriptions "
                               "ORDER BY owner"), [['n1'], ['n2']])
        t0 = time.monotonic()
        h = self.restart_herald(self.nodes[0])
        self.assertLess(time.monotonic() - t0, 8, h.log_text())
        self.assertIn('1 subscriptions loaded', h.log_text())
        self.assertEqual(query(self.db, "SELECT epoch FROM nodes "
                               "WHERE id = 'n1'"), [['2']])
        reg = Registrant(self, self.nodes[2])
        reg.add(A, 600)
        n = w2.recv_notify(state='active', doc='partial')
        self.assertEqual(self.contacts(n)[A]['state'], 'active', n)
        # n1 goes on past the CSeq it reserved (and may have sent the
        # full state on its start first)
        w1.expect_jump = True
        n = w1.recv_notify(state='active')
        w1.expect_jump = False
        if A not in self.contacts(n):
            self.assertEqual(n.reginfo.state, 'full', n)
            n = w1.recv_notify(state='active', doc='partial')
        self.assertEqual(self.contacts(n)[A]['state'], 'active', n)
        for w in (w1, w2):
            w.expect_no_notify()


class FailoverTest(ClusterCase):
    """kill -9 of a node: the others take over its subscriptions once its
    lease (3 s here) has run out."""
    node_args = ['--node-lease', '3']

    def test_dead_nodes_watchers_carried_on(self):
        """n1 owns two subscriptions (reg and presence) and dies: within
        the lease and a beat, a survivor sends each a full-state NOTIFY
        with its own Contact and a CSeq past n1's; the next change is
        told by the survivor; a refresh sent to the new Contact is
        answered there; n1 restarted owns nothing and sends nothing."""
        wr = self.watcher(self.nodes[0])
        wp = self.watcher(self.nodes[0], event='presence')
        w3 = self.watcher(self.nodes[1])
        for w in (wr, wp, w3):
            self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
            w.recv_notify(state='active',
                          doc=True if w is wp else 'full')
        reg = Registrant(self, self.nodes[2])
        reg.add(A, 600)
        for w in (wr, w3):
            w.recv_notify(state='active', doc='partial')
        # bob refreshes a binding on n1 as fast as it answers, until it
        # dies: the last CSeq it acknowledged must be in the database
        bob = Phone(self, self.udp(self.nodes[0]), user='bob',
                    password='bobpw')
        self.nodes[0].add_user('bob@%s' % DOMAIN, 'bobpw')
        acked = []
        stop = threading.Event()

        def load():
            while not stop.is_set():
                r = bob.register(['<sip:bob@192.0.2.7:5060>'], 600)
                if r is None:
                    break
                if r.status == 200:
                    acked.append(bob.cseq)
        t = threading.Thread(target=load, daemon=True)
        t.start()
        time.sleep(1.0)
        self.nodes[0].kill()
        t0 = time.monotonic()
        stop.set()
        t.join(10)
        self.assertTrue(acked, 'no REGISTER answered before the kill')
        self.assertGreaterEqual(int(query(self.db, "SELECT cseq FROM "
                                          "bindings WHERE aor = "
                                          "'bob@example.test'")[0][0]),
                                acked[-1])
        survivors = {'%s:%d' % h.addr: h for h in self.nodes[1:]}
        for w in (wr, wp):
            w.expect_jump = True
            n = w.recv_notify(state='active', timeout=10)
            w.expect_jump = False
            contact = harness.squeeze(n.get('Contact'))
            host = re.search(r'sip:([\d.]+:\d+)', contact).group(1)
            self.assertIn(host, survivors, n)
            if w is wr:
                self.assertEqual(n.reginfo.state, 'full', n)
                self.assertIn(A, self.contacts(n), n)
            # its refreshes go to the new owner now
            w.herald = w.ep.herald = Front(survivors[host].port,
                                           survivors[host].host)
        took = time.monotonic() - t0
        self.assertLess(took, 3 + 0.6 + 3, 'taken over after %.1f s' % took)
        self.assertEqual(sum(harness.metric(harness.metrics(h),
                                            'herald_cluster_subscriptions_'
                                            'taken_over_total')
                             for h in self.nodes[1:]), 2)
        self.assertEqual(query(self.db, "SELECT count(*) FROM subscriptions "
                               "WHERE owner = 'n1'"), [['0']])
        reg.add(B, 600)
        for w in (wr, w3):
            n = w.recv_notify(state='active', doc='partial')
            self.assertEqual(self.contacts(n)[B]['state'], 'active', n)
        for w in (wr, wp):
            self.assertStatus(w.refresh(600), 200)
            w.recv_notify(state='active')
        # n1 comes back: it owns nothing any more, and says nothing
        h = self.restart_herald(self.nodes[0])
        self.assertIn('0 subscriptions loaded', h.log_text())
        reg.remove(A)
        for w in (wr, w3):
            w.recv_notify(state='active', doc='partial')
            w.expect_no_notify()


class FenceTest(ClusterCase):
    """A node cut off from PostgreSQL past its lease (3 s here) while its
    process lives."""
    node_args = ['--node-lease', '3']

    def test_cut_off_node_fences_itself(self):
        """n1 is stopped (SIGSTOP) and PostgreSQL drops its connections:
        a survivor takes over its subscription and notifies it; n1,
        resumed, sends nothing (its lease ran out: fenced), learns the
        subscription is no longer its own and drops it; the watcher
        hears from the survivor alone."""
        w = self.watcher(self.nodes[0])
        self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
        w.recv_notify(state='active', doc='full')
        n1 = self.nodes[0]
        n1.proc.send_signal(signal.SIGSTOP)
        try:
            harness.psql(self.db, "SELECT pg_terminate_backend(pid) FROM "
                         "pg_stat_activity WHERE application_name = "
                         "'herald/n1'")
            w.expect_jump = True
            n = w.recv_notify(state='active', timeout=10)
            w.expect_jump = False
            self.assertEqual(n.reginfo.state, 'full', n)
            self.assertNotIn(NODES[0], n.get('Contact'), n)
            reg = Registrant(self, self.nodes[2])
            reg.add(A, 600)
            n = w.recv_notify(state='active', doc='partial')
            self.assertIn(A, self.contacts(n), n)
        finally:
            n1.proc.send_signal(signal.SIGCONT)
        n1.wait_log('taken over by another node while this one was cut '
                    'off: dropped here', timeout=10)
        self.assertIn('no NOTIFY until it has', n1.log_text())
        w.expect_no_notify(1.0)
        reg.remove(A)
        n = w.recv_notify(state='active', doc='partial')
        self.assertNotIn(NODES[0], n.get('Contact'), n)
        w.expect_no_notify()


class WinfoConfirmTest(ClusterCase):
    """Watchers of another domain wait for alice's decision."""
    node_args = ['--presence-default-local', 'confirm']

    def test_pending_watcher_approved_on_another_node(self):
        """bob's presence subscription on n2 waits (pending); alice's
        watcher list on n1 shows him pending, then, once a rule put
        through n3 lets him in, active (approved); the list's full state
        on n1 after that has him active."""
        self.nodes[0].add_user('bob@%s' % DOMAIN, 'bobpw')
        wi = self.watcher(self.nodes[0], event='presence.winfo')
        self.assertSubscribed(wi.subscribe(600), 600, herald=wi.herald)
        wi.recv_notify(state='active', doc='full')
        bob = self.watcher(self.nodes[1], user='bob', password='bobpw',
                           event='presence')
        self.assertSubscribed(bob.subscribe(600), 600, herald=bob.herald)
        bob.recv_notify(state='pending')
        n = wi.recv_notify(state='active', doc='partial')
        [w] = n.winfo.watcher(BOB)
        self.assertEqual((w['status'], w['event']), ('pending', 'subscribe'),
                         n)
        path = '/v1/presentities/alice@%s/rules/bob@%s' % (DOMAIN, DOMAIN)
        ClusterTest.admin(self, self.nodes[2], 'PUT', path,
                          {'action': 'allow'})
        bob.recv_notify(state='active', doc=True)
        n = wi.recv_notify(state='active', doc='partial')
        [w] = n.winfo.watcher(BOB)
        self.assertEqual((w['status'], w['event']), ('active', 'approved'),
                         n)
        self.assertStatus(wi.refresh(600), 200)
        n = wi.recv_notify(state='active', doc='full')
        [w] = n.winfo.watcher(BOB)
        self.assertEqual(w['status'], 'active', n)


class MoveTest(ClusterCase):
    """A subscription moving to the node its refresh reached: never two
    nodes notifying it (a lease of 3 s here)."""
    node_args = ['--node-lease', '3']

    def test_move_waits_for_the_old_owner(self):
        """n1 is stopped (SIGSTOP) when a refresh of its subscription
        reaches n2: n2 takes the row at once (a new owner epoch) but
        answers, and notifies, only once n1 can notify no more: here
        when n1's lease has run out, n1 being unable to let go. n1,
        resumed, drops it and sends nothing."""
        w = self.watcher(self.nodes[0])
        self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
        w.recv_notify(state='active', doc='full')
        n1, n2 = self.nodes[0], self.nodes[1]
        n1.proc.send_signal(signal.SIGSTOP)
        try:
            stopped = time.monotonic()
            w.herald = w.ep.herald = Front(n2.port, n2.host)
            r = w.refresh(600, timeout=10)
            waited = time.monotonic() - stopped
            self.assertStatus(r, 200)
            # n1's lease (3 s, renewed every 0.6 s) ran out first
            self.assertGreater(waited, 1.5)
            self.assertEqual(query(self.db, "SELECT owner, owner_epoch "
                                   "FROM subscriptions"), [['n2', '1']])
            self.assertEqual(query(self.db, "SELECT lease_until < now() "
                                   "FROM nodes WHERE id = 'n1'"), [['t']])
            w.expect_jump = True
            n = w.recv_notify(state='active', doc='full')
            w.expect_jump = False
            self.assertIn(n2.host, n.get('Contact'), n)
        finally:
            n1.proc.send_signal(signal.SIGCONT)
        n1.wait_log('dropped here', timeout=10)
        w.expect_no_notify(1.0)
        Registrant(self, self.nodes[2]).add(A, 600)
        n = w.recv_notify(state='active', doc='partial')
        self.assertIn(n2.host, n.get('Contact'), n)
        w.expect_no_notify()

    def test_moves_under_load_one_sender_at_a_time(self):
        """alice's bindings change every few milliseconds (on n3) while
        her reg watcher's refreshes go to n2 and n1 in turn (8 moves): the
        watcher hears from one node at a time (once the new owner has
        spoken, never again from the old one), its CSeqs only go up,
        and each refresh is answered by the node it reached."""
        w = self.watcher(self.nodes[0])
        self.assertSubscribed(w.subscribe(600), 600, herald=w.herald)
        w.recv_notify(state='active', doc='full')
        stop = threading.Event()
        errors = []

        def churn():
            reg = Registrant(self, self.nodes[2])
            try:
                while not stop.is_set():
                    reg.add(A, 600)
                    time.sleep(0.005)
                    reg.remove(A)
                    time.sleep(0.005)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        t = threading.Thread(target=churn)
        t.start()
        try:
            w.ep.drain(0.3)
            owners = [0]
            for k in (1, 0) * 4:
                h = self.nodes[k]
                w.herald = w.ep.herald = Front(h.port, h.host)
                r = w.refresh(600, timeout=10)
                self.assertStatus(r, 200)
                self.assertEqual(r.source[0], h.host, r)
                owners.append(k)
                w.ep.drain(0.4)
        finally:
            stop.set()
            t.join(10)
        self.assertEqual(errors, [])
        w.ep.drain(1.0)
        notifies = list(w.inbox)
        self.assertGreater(len(notifies), 20)
        cseqs = [n.cseq[0] for n in notifies]
        for a, b in zip(cseqs, cseqs[1:]):
            self.assertGreater(b, a, cseqs)
        # the senders, in runs: one run per owner in turn
        runs = []
        for n in notifies:
            src = n.source[0]
            if not runs or runs[-1] != src:
                runs.append(src)
        self.assertEqual(runs, [NODES[k] for k in owners], runs)
        self.assertEqual(w.ep.stray, [])
        for h in self.nodes[:2]:
            self.assertNotIn('has not let go', h.log_text())


class Front:
    """The phones' only address: Kamailio's (what harness clients and
    the Watcher need of a server)."""

    def __init__(self, port, host='127.0.0.1'):
        self.host = host
        self.port = port
        self.addr = (self.host, port)
        self.family = socket.AF_INET


class DispatcherTest(ClusterCase):
    """Kamailio's dispatcher in front of the three nodes
    (interop/kamailio-dispatcher.cfg.in): the phones talk to it only."""

    def setUp(self):
        kamailio.skip_unless_available()
        super().setUp()
        self.k = Kamailio(self, None, dispatch=[h.addr for h in self.nodes])
        self.front = Front(self.k.port)
        # its workers up and a node behind it: an OPTIONS goes through
        c = self.udp(self.front)
        deadline = time.monotonic() + 15
        while True:
            r = c.request(harness.make_request('OPTIONS', c.host, c.port),
                          timeout=1)
            if r is not None and r.status == 200:
                break
            self.assertLess(time.monotonic(), deadline,
                            'no OPTIONS through Kamailio\n' + self.k.diag())

    def node_of(self, callid):
        """The node Kamailio sent the Call-ID's last request to."""
        for line in reversed(self.k.log_text(400).splitlines()):
            m = re.search(r'(?:to|next) node sip:([\d.]+):\d+: \w+ (\S+)',
                          line)
            if m and m.group(2) == callid:
                return m.group(1)
        return None

    def test_phones_through_the_dispatcher(self):
        """Watchers and a registrant with the dispatcher as their only
        address: REGISTER, SUBSCRIBE and its refresh, NOTIFYs; then a
        node is killed (-9): a REGISTER hashed to it goes on to the next
        node, and watchers on the living nodes hear of it."""
        ws = []
        for i in range(6):
            w = self.watcher(self.front)
            self.assertStatus(w.subscribe(600), 200, msg=self.k.diag())
            w.recv_notify(state='active', doc='full')
            ws.append(w)
        nodes = {self.node_of(w.call_id) for w in ws}
        # six Call-IDs over three nodes by their hash: more than one node
        self.assertGreater(len(nodes), 1, nodes)
        reg = Registrant(self, self.front)
        reg.add(A, 600)
        for w in ws:
            n = w.recv_notify(state='active', doc='partial')
            self.assertEqual(self.contacts(n)[A]['state'], 'active', n)
        # a refresh reaches the subscription's owner (record-routed)
        for w in ws:
            self.assertStatus(w.refresh(600), 200)
            w.recv_notify(state='active')
        # the registrant's node dies
        dead = self.node_of(reg.phone.callid)
        victim = next(h for h in self.nodes if h.host == dead)
        victim.kill()
        t0 = time.monotonic()
        reg.add(B, 600)
        took = time.monotonic() - t0
        self.assertNotEqual(self.node_of(reg.phone.callid), dead)
        for w in ws:
            if self.node_of(w.call_id) == dead:
                continue  # not carried on yet (README)
            n = w.recv_notify(state='active', doc='partial')
            self.assertEqual(self.contacts(n)[B]['state'], 'active', n)
        self.assertLess(took, 10, 'the REGISTER took %.1f s' % took)


TRIGGERS = ("SELECT count(*) FROM pg_trigger WHERE tgname IN "
            "('bindings_change', 'publications_change', 'rules_change')")


class SingleNodeTest(harness.HeraldTestCase):
    def test_no_change_log_without_nodes(self):
        """A single node (no --node-id) keeps no change log: not even its
        triggers."""
        self.herald.add_user('alice@%s' % DOMAIN, PASSWORD)
        reg = Registrant(self, self.herald)
        reg.add(A, 600)
        db = self.herald.db
        self.assertEqual(query(db, "SELECT count(*) FROM changes"), [['0']])
        self.assertEqual(query(db, "SELECT count(*) FROM nodes"), [['0']])
        self.assertEqual(query(db, TRIGGERS), [['0']])


class BackToSingleTest(WatcherChecks, harness.HeraldTestCase):
    autostart = False

    def test_single_node_after_the_cluster(self):
        """A node joins (the triggers are made), stops, its lease runs
        out: a single node started on the database removes the change
        log and its triggers, and owns the node's subscription."""
        db = harness.fresh_database()
        h = self.start_herald(['--node-id', 'n1', '--node-lease', '2'],
                              db=db)
        self.assertEqual(query(db, TRIGGERS), [['3']])
        h.add_user('alice@%s' % DOMAIN, PASSWORD)
        w = Watcher(self, h)
        self.assertSubscribed(w.subscribe(600), 600, herald=h)
        w.recv_notify(state='active', doc='full')
        Registrant(self, h).add(A, 600)
        w.recv_notify(state='active', doc='partial')
        self.assertNotEqual(query(db, "SELECT count(*) FROM changes"),
                            [['0']])
        h.check_stop()
        time.sleep(2.5)
        h2 = self.start_herald([], db=db)
        self.assertIn('a single node\'s now', h2.log_text())
        self.assertEqual(query(db, TRIGGERS), [['0']])
        self.assertEqual(query(db, "SELECT count(*) FROM nodes"), [['0']])
        self.assertEqual(query(db, "SELECT count(*) FROM changes"),
                         [['0']])
        self.assertIn('1 subscriptions loaded', h2.log_text())


if __name__ == '__main__':
    harness.main()
