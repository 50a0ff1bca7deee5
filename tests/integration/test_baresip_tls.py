#!/usr/bin/env python3
"""baresip 1.0 (Debian 12's baresip-core, libre 1.1) over SIP/TLS to
Herald (`--sip-listen tls:...` with a certificate of a test CA): both
register with digest over TLS, watch each other's presence and see it
change, un-REGISTER on /quit.

baresip's own default config (interop/baresip.py default_config(), with
baresip.DEFAULT_EDITS: loopback ports, presence.so, ctrl_tcp.so) and
what a user sets for TLS:
  - the account's outbound proxy with `;transport=tls`
    (`outbound="sip:127.0.0.1:PORT;transport=tls"`): baresip then opens
    a TLS connection to Herald and sends everything over it;
  - `sip_cafile` (commented out in the default, pointing at the
    system's bundle) set to the test CA: TRUST_EDIT below.
Nothing else is needed: baresip's default config loads TLS (the SIP
TLS transport listens on sip_listen's port + 1) and needs no
certificate of its own as a client. Herald's NOTIFYs come back over
the connection baresip opened (baresip as a TLS server would need a
sip_certificate, which a user does not have).

A finding about baresip, not Herald: baresip 1.0 with libre 1.1 does
not verify the server's certificate at all. sip_cafile is loaded
(tls_add_ca) but libre 1.1's SIP transport never asks OpenSSL to verify
the peer (tls_set_verify_server came with libre 2.0, and baresip's
`sip_verify_server` with baresip 1.1), so a baresip trusting another CA
registers just the same. The test sets sip_cafile as a user would; it
cannot show that the trust is checked.

Herald runs with its defaults (the harness's ports, domain, log level
and admin token) plus the TLS socket and its certificate. Skips only
when baresip is not installed (script/bootstrap installs baresip-core).
"""

import os
import re
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, 'interop'))
import harness  # noqa: E402
import baresip  # noqa: E402
import tlsca  # noqa: E402
from baresip import Baresip  # noqa: E402
from phone import PASSWORD, query_bindings  # noqa: E402

ALICE = 'sip:alice@example.test'
BOB = 'sip:bob@example.test'


def trust_edit(cafile):
    """The edit of baresip's default config that trusts cafile."""
    return (r'^#sip_cafile\t+/etc/ssl/certs/ca-certificates\.crt$',
            'sip_cafile\t\t' + cafile.replace('{', '{{').replace('}', '}}'),
            'trust the test CA (default: commented out, the system\'s '
            'bundle)')


class BaresipTlsTest(harness.HeraldTestCase):

    autostart = False
    source_limits = True      # a real client's test: the default limits

    def setUp(self):
        baresip.skip_unless_available()
        super().setUp()
        [self.ca] = tlsca.for_test(self)
        self.tls_port = harness.free_port()
        self.herald = self.start_herald([
            '--sip-listen', 'tls:127.0.0.1:%d' % self.tls_port,
            '--tls-cert', self.ca.server_cert,
            '--tls-key', self.ca.server_key])
        self.herald.add_user('alice@example.test', PASSWORD)
        self.herald.add_user('bob@example.test', PASSWORD)
        # what baresip is told of Herald: its TLS socket
        self.tls = types.SimpleNamespace(host='127.0.0.1',
                                         port=self.tls_port)

    def baresip(self, user, contacts):
        return Baresip(self, self.tls, user, PASSWORD, contacts=contacts,
                       pubint=60, transport='tls', default_config=True,
                       more_edits=(trust_edit(self.ca.ca_cert),))

    def assertAllTls(self, b):
        """Every SIP message baresip sent or received went over TLS."""
        heads = [m.group(1) for m in
                 re.finditer(r'^(UDP|TCP|TLS) \S+ -> \S+$', b.log_text(),
                             re.M)]
        self.assertTrue(heads, b.log_text(100))
        self.assertEqual(set(heads), {'TLS'}, b.log_text(300))

    def test_register_over_tls(self):
        """alice registers over TLS: Herald holds her binding (a
        transport=tls Contact); /quit un-REGISTERs her."""
        alice = self.baresip('alice', [])
        alice.wait_registered()
        uris = list(query_bindings(self, 'alice'))
        self.assertEqual(len(uris), 1, uris)
        self.assertIn('transport=tls', uris[0].lower(), uris)
        self.assertEqual(alice.quit(), 0, alice.log_text(100))
        self.assertEqual(query_bindings(self, 'alice'), {})
        self.assertAllTls(alice)

    def test_presence_change_seen_over_tls(self):
        """alice and bob watch each other over TLS; alice goes offline
        and online again, bob sees each change (Herald's NOTIFYs come
        over bob's own TLS connection)."""
        alice = self.baresip('alice', [BOB])
        bob = self.baresip('bob', [ALICE])
        alice.wait_registered()
        bob.wait_registered()
        bob.wait_contact(ALICE, 'online')
        alice.wait_contact(BOB, 'online')

        alice.presence('offline')
        bob.wait_contact(ALICE, 'offline')
        alice.presence('online')
        bob.wait_contact(ALICE, 'online')

        for b in (alice, bob):
            self.assertEqual(b.quit(), 0, b.log_text(100))
            self.assertAllTls(b)


if __name__ == '__main__':
    harness.main()
