#!/usr/bin/env python3
"""Real SIP clients in their default configuration against Herald in
its default configuration: Debian 12's baresip 1.0 and linphonec 5.1
each register with digest, publish their presence, watch a buddy's
presence change, and un-register; and both go on unaware across a
`kill -9` and restart of Herald.

"When a client needs a setting to work with Herald, that is a finding
to fix or to document, not a test fixture." So:

baresip: the config is the one baresip writes itself on its first start
(interop/baresip.py default_config(): `baresip -f EMPTYDIR`), with only
these changes (baresip.DEFAULT_EDITS):
  - sip_listen 127.0.0.1:PORT and ctrl_tcp_listen 127.0.0.1:PORT:
    addresses and ports (loopback, free ports);
  - module_app presence.so: baresip's default config does not load it,
    and without it baresip neither PUBLISHes nor SUBSCRIBEs. A user who
    wants presence enables it (the README's quick start says so);
  - module_app ctrl_tcp.so: the test's remote control (no terminal).
uuid stays loaded (+sip.instance on the Contact, and a User-Agent);
stdio stays in the list (it fails to load on a stdin of /dev/null,
"module stdio.so: Operation not permitted", and baresip carries on).
The accounts line is what a user writes: identity, auth_pass,
outbound=sip:127.0.0.1:PORT (example.test has no DNS) and pubint=30
(baresip's default is 0: no PUBLISH at all); regint stays at its
default. The contacts file names the buddy with ;presence=p2p.

linphonec: a throw-away HOME, the ~/.linphonerc linphonec writes on its
first start, then an account as a user enters it ([proxy_0]: identity,
server, outbound route, publish=1; [auth_info_0]: user, password,
domain) and, in [sip], the ports and bind_address=127.0.0.1 (loopback,
free ports). Buddies are added with linphonec's own `friend add`.

Not headless-drivable: linphonec 5.1 has no command to change its own
presence (no online/away/busy commands; `status` is about registration;
linphone-daemon has none either): it publishes "open" once registered
and removes the publication on quit. So the buddy whose changes the
clients watch is a scripted PUBLISHer (watcher.Publisher: open, busy
with <rpid:on-the-phone/>, closed, removed), and in the pair test the
baresip's own /presence_offline and /presence_online.

Known, not changed here: baresip's first PUBLISH goes out before its
REGISTER is answered and carries <basic>unknown</basic> (its presence
module starts Unknown); Herald answers "400 Bad PIDF: basic is neither
open nor closed" (RFC 3863's schema allows open and closed only).
baresip logs the error and PUBLISHes "open" once registered, so its
presence is right a moment later. The tests allow exactly that 400.

Herald runs with its defaults (the harness adds ports, the domain, the
log level and an admin token), except in the restart test, which
shortens Herald's granted expiries (REGISTER and SUBSCRIBE 20 s, PUBLISH
30 s) so that each client refreshes within the test: that is
server policy, the clients are unchanged.

Skips only when baresip or linphonec is not installed (script/bootstrap
installs baresip-core and linphone-cli)."""

import json
import os
import re
import sys
import time
import unittest
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, 'interop'))
import harness  # noqa: E402
import baresip  # noqa: E402
import linphonec  # noqa: E402
from baresip import Baresip  # noqa: E402
from linphonec import Linphonec  # noqa: E402
from watcher import (DM_NS, RPID_NS, Publisher, parse_pidf,  # noqa: E402
                     pidf_doc)

PASSWORD = 'secret'
ALICE = 'sip:alice@example.test'      # baresip
BOB = 'sip:bob@example.test'          # the scripted buddy
CAROL = 'sip:carol@example.test'      # linphonec
WAIT = 10.0

ON_THE_PHONE = ('<dm:person id="p1"><rpid:activities><rpid:on-the-phone/>'
                '</rpid:activities></dm:person>')
RPID_XMLNS = 'xmlns:dm="%s" xmlns:rpid="%s"' % (DM_NS, RPID_NS)


def bob_doc(basic, busy=False):
    return pidf_doc([('bob-phone', basic, None, BOB)],
                    entity='pres:bob@example.test',
                    extra=ON_THE_PHONE if busy else '',
                    xmlns=RPID_XMLNS if busy else '')


def parse(text):
    """A message of a client's trace (CRLF lines) as harness.Parsed."""
    lines = [l.rstrip('\r') for l in text.split('\r\n')]
    head = []
    for i, l in enumerate(lines):
        if l == '':
            break
        head.append(l)
    raw = ('\r\n'.join(head) + '\r\n\r\n' +
           '\r\n'.join(lines[len(head) + 1:])).encode()
    if b'\r\n\r\n' not in raw:
        raw += b'\r\n\r\n'
    return harness.Parsed(raw)


def summary(messages):
    """One line a message: direction, start line, CSeq, Call-ID."""
    out = []
    for d, text in messages:
        m = parse(text)
        out.append('%s %s | %s | %s | %s' % (
            '>>' if d == 'out' else '<<', m.start, m.get('CSeq'),
            m.get('Call-ID'), m.get('SIP-If-Match') or m.get('SIP-ETag')
            or ''))
    return '\n'.join(out)


def cseq(m):
    n, method = m.get('CSeq').split()
    return int(n), method.upper()


class Trace:
    """A client's SIP trace: [(direction, Parsed)], with requests paired
    with the final responses to them."""

    def __init__(self, messages):
        self.msgs = [(d, parse(t)) for d, t in messages]

    def requests(self, method, direction='out'):
        return [m for d, m in self.msgs
                if d == direction and m.start.startswith(method + ' ')]

    def final(self, req, direction='in'):
        """The last final response (status >= 200) to req."""
        key = (req.get('Call-ID'), req.get('CSeq'))
        out = None
        for d, m in self.msgs:
            if d == direction and m.start.startswith('SIP/2.0 ') and \
                    (m.get('Call-ID'), m.get('CSeq')) == key:
                code = int(m.start.split()[1])
                if code >= 200:
                    out = m
        return out

    def statuses(self, direction='in'):
        """[(status line, CSeq)] of every response in that direction."""
        return [(m.start, m.get('CSeq')) for d, m in self.msgs
                if d == direction and m.start.startswith('SIP/2.0 ')]

    def notifies(self, call_id=None):
        return [m for m in self.requests('NOTIFY', 'in')
                if call_id is None or m.get('Call-ID') == call_id]


class ClientCase(harness.HeraldTestCase):
    """alice, bob and carol exist (password secret)."""

    # Herald as shipped: its default per-source limits too
    source_limits = True

    def setUp(self):
        baresip.skip_unless_available()
        linphonec.skip_unless_available()
        super().setUp()
        if self.autostart:
            self.add_users(self.herald)

    def add_users(self, h):
        for u in ('alice', 'bob', 'carol'):
            h.add_user('%s@example.test' % u, PASSWORD)

    # -- the admin API: what Herald stored --

    def admin(self, path, accept=None, herald=None):
        h = herald or self.herald
        hdrs = {'Authorization': 'Bearer ' + harness.ADMIN_TOKEN}
        if accept:
            hdrs['Accept'] = accept
        req = urllib.request.Request(h.admin_url + path, headers=hdrs)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode())

    def bindings(self, aor, herald=None):
        return self.admin('/v1/aors/%s/bindings' % urllib.parse.quote(aor),
                          herald=herald)['bindings']

    def basics(self, aor, herald=None):
        """{tuple id: basic} of aor's composed PIDF (as a NOTIFY would
        carry it)."""
        j = self.admin('/v1/presentities/%s/presence'
                       % urllib.parse.quote(aor),
                       accept='application/json', herald=herald)
        return parse_pidf(j['pidf'].encode()).basics()

    def watchers(self, aor, herald=None):
        """{watcher uri: state} of aor's presence subscriptions."""
        items = self.admin('/v1/presentities/%s/watchers'
                           % urllib.parse.quote(aor),
                           herald=herald)['items']
        return {i['watcher']: i['state'] for i in items}

    def poll(self, what, fn, want, timeout=WAIT):
        """Poll fn() until it returns want; fail with the last value."""
        deadline = time.monotonic() + timeout
        while True:
            got = fn()
            if got == want:
                return got
            if time.monotonic() > deadline:
                self.fail('%s: want %r, got %r' % (what, want, got))
            time.sleep(0.1)

    def poll_true(self, what, fn, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            got = fn()
            if got:
                return got
            if time.monotonic() > deadline:
                self.fail('%s: not within %.0f s' % (what, timeout))
            time.sleep(0.1)

    # -- the parties --

    def baresip(self, user='alice', contacts=(BOB,)):
        b = Baresip(self, self.herald, user, PASSWORD, contacts=contacts,
                    pubint=30, default_config=True)
        return b

    def linphonec(self, user='carol', friends=(BOB,)):
        l = Linphonec(self, self.herald, user, PASSWORD)
        return l

    def bob(self, herald=None):
        return Publisher(self, herald or self.herald, user='bob',
                         password=PASSWORD, resource=BOB)

    def bob_changes(self, wait, shown):
        """bob publishes open, then busy, then closed, and after each
        wait(BOB, state) for the state the client shows it as (shown:
        the client's names for open, busy and closed); bob."""
        bob = self.bob()
        self.assertStatus(bob.publish(bob_doc('open'), 600), 200)
        wait(BOB, shown[0])
        self.assertStatus(bob.modify(bob_doc('open', busy=True)), 200)
        wait(BOB, shown[1])
        self.assertStatus(bob.modify(bob_doc('closed')), 200)
        wait(BOB, shown[2])
        return bob

    # -- checks on the traces --

    def assertNoErrors(self, trace, who, allowed=()):
        """Every response the client got is 1xx, 200 or 401, but those
        allowed (regular expressions on the status line); and every
        NOTIFY it got was answered 200 (or 481 to a terminated one)."""
        bad = []
        for line, cs in trace.statuses('in'):
            code = int(line.split()[1])
            if code < 200 or code in (200, 202, 401):
                continue
            if any(re.search(a, line) for a in allowed):
                continue
            bad.append('%s (%s)' % (line, cs))
        for n in trace.notifies():
            r = trace.final(n, direction='out')
            # Linphone answers the final NOTIFY of its own
            # un-SUBSCRIBE with 481 (INTEROP.md): the dialog is over
            # for it already, and for Herald too
            if r is not None and r.start.startswith('SIP/2.0 481') and \
                    (n.get('Subscription-State') or '').startswith(
                        'terminated'):
                continue
            if r is None or not r.start.startswith('SIP/2.0 200'):
                bad.append('NOTIFY CSeq %s answered %s' %
                           (n.get('CSeq'), r.start if r else 'nothing'))
        self.assertEqual(bad, [], '%s got or sent unexpected responses'
                         % who)

    def assertBinding(self, aor, client_port, agent, instance):
        """One binding of aor, at 127.0.0.1:client_port, with the
        client's +sip.instance and User-Agent."""
        bs = self.bindings(aor)
        self.assertEqual(len(bs), 1, bs)
        b = bs[0]
        self.assertIn('@127.0.0.1:%d' % client_port, b['uri'], b)
        self.assertTrue(b.get('user_agent', '').startswith(agent), b)
        # the instance as the phone means it, without the quotes of
        # its quoted-string on the wire
        self.assertEqual(b.get('instance'), '<urn:uuid:%s>' % instance, b)
        return b


BARESIP_ALLOWED = (r'^SIP/2\.0 400 Bad PIDF: basic is neither open nor '
                   r'closed$',)


class BaresipTest(ClientCase):

    def test_register_publish_watch_unregister(self):
        """baresip (default config) registers with digest: one binding
        with its uuid as +sip.instance and its User-Agent; it publishes
        open (Herald's composed PIDF for alice: open) and
        /presence_offline, /presence_online move it; it watches bob
        (Herald: alice an active watcher of bob) and shows bob Offline,
        Online, Busy, Offline as bob publishes nothing, open, busy
        (rpid on-the-phone), closed, and Offline when bob's publication
        is removed; /quit removes its binding, its publication and its
        subscription. Every response baresip got is 200 or 401 (and the
        known 400 to its first <basic>unknown</basic> PUBLISH); every
        NOTIFY it answered 200."""
        alice = self.baresip()
        alice.wait_registered()
        with open(os.path.join(alice.dir, 'uuid')) as f:
            uuid = f.read().strip()
        self.assertBinding(ALICE, alice.sip_port, 'baresip', uuid)

        self.poll('alice published open', lambda: set(
            self.basics(ALICE).values()), {'open'})
        self.poll('alice watches bob', lambda: self.watchers(BOB),
                  {ALICE: 'active'})
        # nothing published by bob: a closed tuple
        alice.wait_contact(BOB, 'offline')

        bob = self.bob_changes(alice.wait_contact,
                               ('online', 'busy', 'offline'))
        self.assertStatus(bob.modify(bob_doc('open')), 200)
        alice.wait_contact(BOB, 'online')
        self.assertStatus(bob.remove(), 200)
        alice.wait_contact(BOB, 'offline')

        alice.presence('offline')
        self.poll('alice published closed', lambda: set(
            self.basics(ALICE).values()), {'closed'})
        alice.presence('online')
        self.poll('alice published open', lambda: set(
            self.basics(ALICE).values()), {'open'})

        self.assertEqual(alice.quit(), 0, alice.log_text(100))
        self.assertEqual(self.bindings(ALICE), [])
        self.poll('alice no longer watches bob', lambda: self.watchers(BOB),
                  {})
        trace = Trace(alice.sip_messages())
        self.assertNoErrors(trace, 'baresip', BARESIP_ALLOWED)
        # its last publication removed (200 to the un-PUBLISH)
        unpub = [r for r in trace.requests('PUBLISH')
                 if r.get('Expires') == '0']
        self.assertTrue(unpub, summary(alice.sip_messages()))
        self.assertTrue(trace.final(unpub[-1]).start.startswith(
            'SIP/2.0 200'), summary(alice.sip_messages()))
        # no publication left, the neutral document, unless baresip made
        # two: its start-up PUBLISH and the one on REGISTER OK race, and
        # when both carry "open" (the REGISTER was answered first) both
        # get 200 and baresip keeps only the second's entity-tag: the
        # first is left to expire (pubint, 30 s), and alice looks online
        # meanwhile. A baresip 1.0 bug; when its first PUBLISH is sent
        # before the REGISTER's 200 it carries "unknown" and gets 400
        # instead, and nothing is left.
        initial = [r for r in trace.requests('PUBLISH')
                   if r.get('SIP-If-Match') is None and
                   trace.final(r).start.startswith('SIP/2.0 200')]
        self.assertIn(len(initial), (1, 2), summary(alice.sip_messages()))
        self.assertEqual(set(self.basics(ALICE).values()),
                         {'closed'} if len(initial) == 1 else {'open'},
                         summary(alice.sip_messages()))


class LinphonecTest(ClientCase):

    def test_register_publish_watch_unregister(self):
        """linphonec (default linphonerc plus an account) registers with
        digest (SHA-256): one binding with its uuid as +sip.instance and
        its User-Agent; it publishes open (Herald's PIDF for carol keeps
        linphone's <pidfonline:online/>); `friend add` subscribes to bob
        (Herald: carol an active watcher) and linphonec prints bob
        Offline, Online, On the phone, Offline as bob publishes nothing,
        open, busy, closed; quit removes its binding and publication.
        Every response it got is 200 or 401; every NOTIFY answered
        200."""
        carol = self.linphonec()
        carol.wait_registered()
        m = re.search(r'^uuid=(\S+)$', carol.default_rc, re.M)
        self.assertIsNotNone(m, 'no uuid in linphonec\'s default rc')
        b = self.assertBinding(CAROL, carol.sip_port, 'Linphonec', m.group(1))
        trace = Trace(carol.sip_messages())
        reg = trace.requests('REGISTER')[-1]
        self.assertIn('algorithm=SHA-256', reg.get('Authorization'))
        self.assertEqual(b['callid'], reg.get('Call-ID'))

        self.poll('carol published open', lambda: set(
            self.basics(CAROL).values()), {'open'})
        j = self.admin('/v1/presentities/%s/presence' % CAROL,
                       accept='application/json')
        self.assertIn('pidfonline:online', j['pidf'])

        carol.friend_add(BOB)
        self.assertEqual(carol.friend_list(), [BOB])
        self.poll('carol watches bob', lambda: self.watchers(BOB),
                  {CAROL: 'active'})
        carol.wait_friend(BOB, 'Offline')
        self.bob_changes(carol.wait_friend,
                         ('Online', 'On the phone', 'Offline'))

        self.assertEqual(carol.quit(), 0, carol.diag())
        self.assertEqual(self.bindings(CAROL), [])
        self.assertEqual(set(self.basics(CAROL).values()), {'closed'})
        self.assertNoErrors(Trace(carol.sip_messages()), 'linphonec')


class PairTest(ClientCase):

    def test_baresip_and_linphonec_watch_each_other(self):
        """baresip alice has carol as a contact, linphonec carol adds
        alice as a friend: each sees the other online; alice's
        /presence_offline and /presence_online reach carol (Offline,
        Online); carol quits (un-PUBLISH): alice sees her Offline."""
        alice = self.baresip(contacts=(CAROL,))
        carol = self.linphonec()
        alice.wait_registered()
        carol.wait_registered()
        carol.friend_add(ALICE)
        carol.wait_friend(ALICE, 'Online')
        alice.wait_contact(CAROL, 'online')
        self.poll('watchers', lambda: (self.watchers(ALICE),
                                       self.watchers(CAROL)),
                  ({CAROL: 'active'}, {ALICE: 'active'}))

        alice.presence('offline')
        carol.wait_friend(ALICE, 'Offline')
        alice.presence('online')
        carol.wait_friend(ALICE, 'Online')

        self.assertEqual(carol.quit(), 0, carol.diag())
        alice.wait_contact(CAROL, 'offline')
        self.assertNoErrors(Trace(carol.sip_messages()), 'linphonec')
        self.assertEqual(alice.quit(), 0, alice.log_text(100))
        self.assertNoErrors(Trace(alice.sip_messages()), 'baresip',
                            BARESIP_ALLOWED)


class RestartTest(ClientCase):
    """kill -9 and restart: the phones notice nothing."""

    autostart = False
    # server policy (the clients are unchanged): Herald grants 20 s to
    # REGISTER and SUBSCRIBE and 30 s to PUBLISH, so that each client
    # refreshes each within the test. Not less for PUBLISH: baresip
    # 1.0 refreshes every pubint (30 s here; at about 90 % of it)
    # whatever Expires the 200 grants, so a shorter grant lets its
    # publication expire first (412 to its refresh). linphonec asks
    # 3600 and refreshes as granted.
    SHORT = ['--max-expires', '20', '--min-expires', '10',
             '--default-expires', '20',
             '--subscribe-max-expires', '20', '--subscribe-min-expires',
             '10', '--subscribe-default-expires', '20',
             '--publish-max-expires', '30', '--publish-default-expires',
             '30']

    def test_kill9_restart_unnoticed(self):
        """baresip alice and linphonec carol watch bob (scripted) and
        are registered and published; Herald is killed with SIGKILL and
        restarted on the same database and port. Then: each client's
        next in-dialog SUBSCRIBE refresh gets 200 (no 481), its next
        REGISTER and PUBLISH refreshes get 200 (no 412), the first NOTIFY
        after the restart has a CSeq above every one before it in that
        dialog, bob's changes after the restart reach both (Busy/On the
        phone, then Offline), and neither client got any error."""
        self.herald = self.start_herald(self.SHORT)
        self.add_users(self.herald)
        alice = self.baresip()
        carol = self.linphonec()
        alice.wait_registered()
        carol.wait_registered()
        carol.friend_add(BOB)
        bob = self.bob()
        self.assertStatus(bob.publish(bob_doc('open'), 600), 200)
        alice.wait_contact(BOB, 'online')
        carol.wait_friend(BOB, 'Online')
        self.poll('watchers', lambda: self.watchers(BOB),
                  {ALICE: 'active', CAROL: 'active'})

        def dialog_of(trace):
            """Call-ID of the client's SUBSCRIBE to bob."""
            subs = [s for s in trace.requests('SUBSCRIBE')
                    if BOB in s.start]
            self.assertTrue(subs, 'no SUBSCRIBE to bob')
            return subs[-1].get('Call-ID')

        before = {}
        for name, c in (('alice', alice), ('carol', carol)):
            t = Trace(c.sip_messages())
            cid = dialog_of(t)
            before[name] = (cid, max(cseq(n)[0] for n in t.notifies(cid)),
                            len(t.msgs))

        h2 = self.restart_herald(self.herald)
        if h2.port != self.herald.port:
            self.skipTest('port %d not free for the restart'
                          % self.herald.port)
        self.herald = h2
        bob.retarget(h2)

        def after(c, name):
            return Trace(c.sip_messages()).msgs[before[name][2]:]

        def refreshed(c, name, method, match=None):
            """The first request of method sent after the restart (that
            matches) and its final response other than a 401, or None
            yet."""
            t = Trace([])
            full = Trace(c.sip_messages())
            t.msgs = full.msgs[before[name][2]:]
            for r in t.requests(method):
                if match and not match(r):
                    continue
                f = full.final(r)
                # a challenge is answered with the same request again
                if f is not None and not f.start.startswith('SIP/2.0 401'):
                    return r, f
            return None

        for name, c in (('alice', alice), ('carol', carol)):
            cid = before[name][0]
            r, f = self.poll_true(
                '%s refreshes its subscription' % name,
                lambda: refreshed(c, name, 'SUBSCRIBE',
                                  lambda r: r.get('Call-ID') == cid),
                timeout=30)
            self.assertTrue(f.start.startswith('SIP/2.0 200'),
                            '%s: refresh SUBSCRIBE answered %s' %
                            (name, f.start))
            for method in ('REGISTER', 'PUBLISH'):
                r, f = self.poll_true(
                    '%s refreshes its %s' % (name, method),
                    lambda: refreshed(c, name, method), timeout=35)
                self.assertTrue(f.start.startswith('SIP/2.0 200'),
                                '%s: %s after the restart answered %s' %
                                (name, method, f.start))

        # bob's own publication may have expired meanwhile (30 s): he
        # publishes anew
        self.assertStatus(bob.publish(bob_doc('open', busy=True), 600), 200)
        alice.wait_contact(BOB, 'busy')
        carol.wait_friend(BOB, 'On the phone')
        self.assertStatus(bob.modify(bob_doc('closed')), 200)
        alice.wait_contact(BOB, 'offline')
        carol.wait_friend(BOB, 'Offline')

        for name, c in (('alice', alice), ('carol', carol)):
            cid, last, _ = before[name]
            t = Trace(c.sip_messages())
            later = [cseq(n)[0] for n in t.notifies(cid)][-3:]
            first_after = [cseq(n)[0] for _, n in
                           [(d, m) for d, m in
                            t.msgs[before[name][2]:]
                            if d == 'in' and m.start.startswith('NOTIFY ')
                            and m.get('Call-ID') == cid]]
            self.assertTrue(first_after, '%s: no NOTIFY after the restart'
                            % name)
            self.assertGreater(first_after[0], last, name)
            self.assertEqual(later, sorted(later), name)
        self.assertNoErrors(Trace(alice.sip_messages()), 'baresip',
                            BARESIP_ALLOWED)
        self.assertNoErrors(Trace(carol.sip_messages()), 'linphonec')
        self.assertEqual(self.watchers(BOB), {ALICE: 'active',
                                              CAROL: 'active'})


if __name__ == '__main__':
    harness.main()
