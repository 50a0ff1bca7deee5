#!/usr/bin/env python3
"""Two real baresip 1.0 instances (Debian's baresip-core, its presence
module) register with Herald and watch each other's presence through it:
one changes its presence, the other sees the change.

Each baresip is driven headless over its ctrl_tcp port
(interop/baresip.py): alice has bob as a contact and bob has alice, both
;presence=p2p, so each SUBSCRIBEs (Event: presence) to the other through
Herald, its outbound proxy, and PUBLISHes its own state (pubint).
baresip 1.0 has two states of its own: /presence_online (PIDF basic open)
and /presence_offline (basic closed); it shows a watched contact as
Unknown, Online, Offline or Busy.

libre 1.0 (under baresip 1.0) gives up at the first digest challenge
that is not MD5 ("Register: Function not implemented"), so herald offers
it only the MD5 one: baresip is in --md5-only-agents by default, as sipsak
is, and this test runs herald with the defaults.

Skips only when baresip is not installed (script/bootstrap installs
baresip-core)."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, 'interop'))
import harness  # noqa: E402
import baresip  # noqa: E402
from baresip import Baresip  # noqa: E402
from phone import PASSWORD, Phone, contacts_of  # noqa: E402

ALICE = 'sip:alice@example.test'
BOB = 'sip:bob@example.test'


class PresenceInteropTest(harness.HeraldTestCase):

    def setUp(self):
        baresip.skip_unless_available()
        super().setUp()
        self.herald.add_user('alice@example.test', PASSWORD)
        self.herald.add_user('bob@example.test', PASSWORD)

    def bindings(self, user):
        """{contact uri: expires} of user, by a query REGISTER."""
        p = Phone(self, self.udp(), user=user)
        r = p.register([])
        self.assertStatus(r, 200)
        return contacts_of(r)

    def pair(self):
        """alice and bob, each watching the other, both registered."""
        alice = Baresip(self, self.herald, 'alice', PASSWORD,
                        contacts=[BOB], pubint=60)
        bob = Baresip(self, self.herald, 'bob', PASSWORD,
                      contacts=[ALICE], pubint=60)
        alice.wait_registered()
        bob.wait_registered()
        return alice, bob

    def test_register_and_unregister(self):
        """Both register with digest (MD5); herald holds their bindings
        (at 127.0.0.1:their SIP port); /quit un-REGISTERs them."""
        alice, bob = self.pair()
        for b in (alice, bob):
            uris = list(self.bindings(b.user))
            self.assertEqual(len(uris), 1, uris)
            self.assertTrue(uris[0].endswith('@127.0.0.1:%d' % b.sip_port),
                            uris)
            self.assertEqual(list(b.contacts()), b.watch)
        for b in (alice, bob):
            self.assertEqual(b.quit(), 0, b.log_text(100))
            self.assertEqual(self.bindings(b.user), {})

    def test_presence_change_seen(self):
        """alice goes offline: bob sees her offline; back online: bob
        sees her online. And bob sees alice, alice sees bob, online to
        start with (each publishes basic open once registered)."""
        alice, bob = self.pair()
        bob.wait_contact(ALICE, 'online')
        alice.wait_contact(BOB, 'online')

        alice.presence('offline')
        bob.wait_contact(ALICE, 'offline')
        self.assertEqual(alice.contacts(), {BOB: 'online'})

        alice.presence('online')
        bob.wait_contact(ALICE, 'online')

        bob.presence('offline')
        alice.wait_contact(BOB, 'offline')
        self.assertEqual(bob.contacts(), {ALICE: 'online'})


if __name__ == '__main__':
    harness.main()
