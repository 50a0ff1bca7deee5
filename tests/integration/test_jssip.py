#!/usr/bin/env python3
"""JsSIP, the browsers' SIP library (npm jssip 3.x, in Node over
jssip-node-websocket), registers, publishes and subscribes through
Herald over WebSocket (RFC 7118): WSS with a test CA, and plain WS.

Each user is one interop/jssip/driver.js process (interop/jssipua.py):
JsSIP's default configuration plus what a user must give it (its URI,
its password, the socket, and, for wss:, the test CA as the one trusted:
the websocket package's tlsOptions `ca`, nothing else). JsSIP registers
on start, as it does by default; it subscribes with its own Subscriber
(ua.subscribe, Event: presence, Accept: application/pidf+xml). JsSIP
3.13 has no publisher: driver.js sends PUBLISH (RFC 3903, SIP-ETag /
SIP-If-Match) through JsSIP's own OutgoingRequest and RequestSender,
which answer the digest challenge as for any request. JsSIP knows MD5
digest only and answers the MD5 challenge of the two Herald offers: it
needs no --md5-only-agents entry.

Found on the way, in the clients, not Herald: the websocket package
(1.0.35, under jssip-node-websocket 3.0.0) deletes tlsOptions from the
config it is given, and jssip-node-websocket gives it the same object
on every connect(): JsSIP's reconnection after any disconnect loses the
CA and refuses the server. driver.js hands it a fresh config each time.
And JsSIP sends no keep-alives (it ignores Flow-Timer): Herald keeps its
registered flow open and pings it when idle (IdleTest); after kill -9 and
a restart JsSIP connects and registers again and its NOTIFYs follow the
new flow (RestartTest).

The node packages are installed with `npm ci` (package-lock.json) when
node_modules is missing or is not what the lock says; once there, the
test needs no network. Skips only when node or npm is not installed
(script/bootstrap installs Debian's nodejs and npm where they are not
on PATH)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, 'interop'))
import harness  # noqa: E402
import jssipua  # noqa: E402
import tlsca  # noqa: E402
from jssipua import JsSIPUA  # noqa: E402
from phone import PASSWORD, query_bindings  # noqa: E402
from watcher import PIDF_TYPE, parse_pidf, validate_pidf  # noqa: E402

ALICE = 'sip:alice@example.test'
BOB = 'sip:bob@example.test'
CAROL = 'sip:carol@example.test'


class JsSIPCase(harness.HeraldTestCase):
    """Herald with udp:, tcp: (the harness's), wss: and ws: sockets,
    herald_args added."""

    autostart = False
    source_limits = True      # a real client's test: the default limits

    def setUp(self):
        jssipua.ensure_installed()
        super().setUp()
        self.ca, self.other_ca = tlsca.for_test(self, 2)
        self.wss_port = harness.free_port()
        self.ws_port = harness.free_port()
        self.herald = self.start_herald(list(self.herald_args) + [
            '--sip-listen', 'wss:127.0.0.1:%d' % self.wss_port,
            '--sip-listen', 'ws:127.0.0.1:%d' % self.ws_port,
            '--tls-cert', self.ca.server_cert,
            '--tls-key', self.ca.server_key])
        for user in ('alice', 'bob', 'carol'):
            self.herald.add_user('%s@example.test' % user, PASSWORD)

    @property
    def wss(self):
        return 'wss://127.0.0.1:%d' % self.wss_port

    @property
    def ws(self):
        return 'ws://127.0.0.1:%d' % self.ws_port

    def ua(self, user, secure=True, password=PASSWORD, ca=None):
        if secure:
            return JsSIPUA(self, self.wss, user, password,
                           ca=ca or self.ca.ca_cert)
        return JsSIPUA(self, self.ws, user, password)

    def registered(self, user, secure=True):
        """A JsSIP UA of user, registered."""
        u = self.ua(user, secure)
        u.do({'do': 'register'})
        return u

    def notify_pidf(self, ua, note):
        """The PIDF of the next NOTIFY ua gets whose body has note;
        checked against RFC 3863's schema."""
        ev = ua.wait_event('notify', contains=note)
        self.assertEqual(ev['content_type'].split(';')[0].strip().lower(),
                         PIDF_TYPE, ev)
        ok, out = validate_pidf(ev['body'])
        self.assertTrue(ok, '%s\n%s' % (out, ev['body']))
        return parse_pidf(ev['body'])

    def assertSees(self, watcher, note, basic):
        """watcher is told of a tuple with basic and note."""
        doc = self.notify_pidf(watcher, note)
        self.assertIn((basic, [note]),
                      [(t['basic'], t['notes']) for t in doc.tuples], doc)



class JsSIPTest(JsSIPCase):

    def test_register_wss(self):
        """alice registers over WSS (digest): Herald holds her binding,
        JsSIP's Contact with transport=ws; ua.stop() un-REGISTERs."""
        alice = self.registered('alice')
        uris = list(query_bindings(self, 'alice'))
        self.assertEqual(len(uris), 1, uris)
        self.assertIn('transport=ws', uris[0].lower(), uris)
        self.assertEqual(alice.stop(), 0, alice.diag())
        self.assertEqual(query_bindings(self, 'alice'), {})

    def test_presence_over_wss(self):
        """bob watches alice, both over WSS: alice publishes open, then
        closed, each with a note; bob is told of both (NOTIFY back on
        his WebSocket connection); alice un-PUBLISHes, bob
        un-SUBSCRIBEs, both stop cleanly."""
        alice = self.registered('alice')
        bob = self.registered('bob')
        bob.do({'do': 'subscribe', 'target': ALICE})
        bob.wait_event('accepted')
        bob.wait_event('active')

        r = alice.do({'do': 'publish', 'basic': 'open',
                      'note': 'at the desk'})
        self.assertTrue(any(e.get('event') == 'publish' and e.get('etag')
                            for e in r), r)
        self.assertSees(bob, 'at the desk', 'open')
        alice.do({'do': 'publish', 'basic': 'closed',
                  'note': 'gone home'})
        self.assertSees(bob, 'gone home', 'closed')

        alice.do({'do': 'unpublish'})
        bob.do({'do': 'unsubscribe'})
        ev = bob.wait_event('terminated')
        self.assertEqual(ev['code'], 6, ev)    # FINAL_NOTIFY_RECEIVED
        for u in (alice, bob):
            self.assertEqual(u.stop(), 0, u.diag())

    def test_presence_over_ws(self):
        """carol over plain WS and alice over WSS watch each other: each
        sees what the other publishes."""
        alice = self.registered('alice')
        carol = self.registered('carol', secure=False)
        carol.do({'do': 'subscribe', 'target': ALICE})
        alice.do({'do': 'subscribe', 'target': CAROL})
        for u in (alice, carol):
            u.wait_event('active')
        alice.do({'do': 'publish', 'basic': 'open', 'note': 'alice here'})
        self.assertSees(carol, 'alice here', 'open')
        carol.do({'do': 'publish', 'basic': 'closed', 'note': 'carol away'})
        self.assertSees(alice, 'carol away', 'closed')
        for u in (alice, carol):
            self.assertEqual(u.stop(), 0, u.diag())

    def test_wrong_password(self):
        """A wrong password: JsSIP reports the registration failed with
        Herald's 403."""
        u = self.ua('bob', password='not-' + PASSWORD)
        u.send({'do': 'register'})
        ev = u.wait_event('registrationFailed')
        self.assertEqual(ev['status'], 403, u.diag())

    def test_untrusted_server(self):
        """JsSIP trusting another CA does not connect: the certificate
        is checked (so the other tests' trust is real)."""
        u = self.ua('alice', ca=self.other_ca.ca_cert)
        ev = u.wait_event('disconnected')
        self.assertEqual(ev['code'], 1006, u.diag())
        self.assertFalse([e for e in u.event_list()
                          if e['event'] in ('connected', 'registered')],
                         u.diag())
        self.assertEqual(query_bindings(self, 'alice'), {})


class IdleTest(JsSIPCase):
    """JsSIP sends no keep-alives of its own (it ignores Flow-Timer, and
    re-REGISTERs at half its 600 s or later), and Herald's idle timeout
    is 300 s (3 s here): Herald keeps a registered flow open while its
    binding lives, and pings an idle WebSocket connection, so the
    browser's connection stays and its NOTIFYs arrive."""

    herald_args = ['--tcp-idle-timeout', '3']

    def test_idle_browser_stays_connected(self):
        alice = self.registered('alice')
        bob = self.registered('bob')
        bob.do({'do': 'subscribe', 'target': ALICE})
        bob.wait_event('active')
        # three idle timeouts go by
        with self.assertRaises(AssertionError):
            bob.wait_event('disconnected', timeout=10)
        alice.do({'do': 'publish', 'basic': 'open', 'note': 'still here'})
        self.assertSees(bob, 'still here', 'open')
        self.assertFalse([e for u in (alice, bob) for e in u.event_list()
                          if e['event'] in ('disconnected', 'terminated')],
                         bob.diag())
        for u in (alice, bob):
            self.assertEqual(u.stop(), 0, u.diag())


class RestartTest(JsSIPCase):
    """kill -9 and a restart: JsSIP connects and registers again (its
    connection recovery) with the same +sip.instance and reg-id; the
    subscription bob made before, back from PostgreSQL, gets its NOTIFYs
    over his new flow (RFC 5626)."""

    def test_notify_over_new_flow(self):
        alice = self.registered('alice')
        bob = self.registered('bob')
        bob.do({'do': 'subscribe', 'target': ALICE})
        bob.wait_event('active')
        self.herald = self.restart_herald(self.herald)
        for u in (alice, bob):
            u.wait_event('disconnected', timeout=15)
            u.wait_event('registered', timeout=15)
        for user in ('alice', 'bob'):
            self.assertEqual(len(query_bindings(self, user)), 1, user)
        alice.do({'do': 'publish', 'basic': 'open', 'note': 'back again'})
        self.assertSees(bob, 'back again', 'open')
        self.assertFalse([e for e in bob.event_list()
                          if e['event'] == 'terminated'], bob.diag())
        for u in (alice, bob):
            self.assertEqual(u.stop(), 0, u.diag())


if __name__ == '__main__':
    harness.main()
