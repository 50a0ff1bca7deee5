#!/usr/bin/env python3
"""Herald as a redirect server (RFC 3261 8.3, 21.3.3) for real SIP
clients: a Debian 12 client calls a user registered with Herald, gets
`302 Moved Temporarily` naming the callee's registered contact, ACKs it,
follows it (RFC 3261 8.1.3.4: a new INVITE whose Request-URI is the
Contact's URI, sent straight to it) and reaches the callee's own
client, which shows the incoming call; a user with no binding gets the
caller 480, an unknown one 404. Herald's /metrics counts each answer,
and no 302 went un-ACKed.

Both of Debian 12's clients follow a 3xx for an outgoing call in their
default configuration:
  - baresip 1.0 (libre 1.1): src/sipsess/connect.c invite_resp_handler,
    `else if (msg->scode < 400) { /* Redirect to first Contact */ ...
    sip_dialog_update(sess->dlg, msg); invite(sess); }`: the first
    Contact only (Herald orders them by q), sip_request_loops() bounds
    the redirects; nothing to enable.
  - linphonec 5.1 (liblinphone 5.1): src/sal/op.cpp
    SalOp::processRedirect() takes the first Contact of the 3xx and
    sends the INVITE again to it (not within a confirmed dialog);
    nothing to enable. What the user sees is the call ringing at the
    new target ("Call N to sip:... ringing.").
SIPp is no candidate here: Debian 12 does not package it.

How a caller reaches Herald matters. A client whose account names
Herald as its outbound proxy (baresip's `outbound=`, linphonec's
reg_route: what the other interop tests use, since example.test has no
DNS) follows the 302 too, but sends its new INVITE to that proxy again:
Request-URI the contact, Route Herald (RFC 3261 8.1.2). Herald is no
proxy and forwards nothing: it answers that INVITE 404 (OutboundTest),
and the call goes nowhere. A redirect server is reached the way RFC
3263 has it: by the callee's domain. So here the callers' accounts name
no outbound proxy, and example.test has DNS: interop/dnsserver.py
answers SRV _sip._udp/_sip._tcp.example.test with Herald's port. That is
the one change to each caller, an address like the ports:
  - baresip: its own default config (baresip.py DEFAULT_EDITS) with
    `dns_server 127.0.0.1:PORT` in place of the commented `#dns_server
    1.1.1.1:53` (baresip.DNS_EDIT), and an account line of identity
    and password only;
  - linphonec: its own default linphonerc plus the account without
    reg_route; linphonec has no DNS server setting, so it runs in a
    mount namespace of its own (unshare --map-root-user --mount) where
    /etc/resolv.conf names the test's server (belle-sip reads
    `nameserver [127.0.0.1]:PORT`). The machine's resolver is untouched.
    (unshare and mount: util-linux and mount, Essential in Debian.)
baresip, asking _sips._tcp, _sip._tcp then _sip._udp, talks TCP to
Herald; linphonec asks _sip._udp only.
The callees register as in test_default_clients.py (Herald as their
outbound proxy: nothing of theirs is looked up).

No call is answered: Debian's baresip closes an answered call at once
on a machine without a sound card ("audio_decoder_set error"), which
says nothing about SIP. Each call rings at the callee (180 from the
callee's address straight to the caller), is shown there, and is
cancelled by the caller (CANCEL to the callee, 487).

Herald runs with its defaults (redirect on for INVITE, no
authentication of callers). Skips only when baresip or linphonec is
not installed (script/bootstrap installs baresip-core and
linphone-cli)."""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, 'interop'))
import harness  # noqa: E402
from baresip import Baresip  # noqa: E402
from dnsserver import DnsServer  # noqa: E402
from linphonec import Linphonec  # noqa: E402
from test_default_clients import (PASSWORD, ClientCase, Trace,  # noqa: E402
                                  summary)
from harness import metric, metrics  # noqa: E402

ALICE = 'sip:alice@example.test'      # baresip callee
CAROL = 'sip:carol@example.test'      # linphonec callee
DAVE = 'sip:dave@example.test'        # a user with no binding
NOBODY = 'sip:nobody@example.test'    # no such user
WAIT = 10.0


def status(msg):
    return int(msg.start.split()[1])


class RedirectCase(ClientCase):
    """alice, bob, carol and dave exist; example.test's DNS names
    Herald."""

    def setUp(self):
        super().setUp()
        self.herald.add_user('dave@example.test', PASSWORD)
        self.dns = DnsServer({'example.test': self.herald.port})
        self.addCleanup(self.dns.close)

    # -- the parties --

    def baresip_callee(self):
        b = Baresip(self, self.herald, 'alice', PASSWORD, pubint=0,
                    default_config=True)
        b.wait_registered()
        return b

    def linphonec_callee(self):
        lc = Linphonec(self, self.herald, 'carol', PASSWORD)
        lc.wait_registered()
        return lc

    def baresip_caller(self):
        b = Baresip(self, self.herald, 'bob', PASSWORD, pubint=0,
                    default_config=True, dns_port=self.dns.port)
        b.wait_registered()
        return b

    def linphonec_caller(self):
        lc = Linphonec(self, self.herald, 'bob', PASSWORD,
                       dns_port=self.dns.port)
        lc.wait_registered()
        return lc

    def contact_of(self, aor):
        """The one binding's URI Herald holds for aor."""
        bs = self.bindings(aor)
        self.assertEqual(len(bs), 1, bs)
        return bs[0]['uri']

    # -- baresip's events --

    def wait_event(self, b, kind, start=0, timeout=WAIT):
        """The first ctrl_tcp event of type kind from index start on."""
        return b.wait_event(kind, start, timeout)

    # -- checks on the caller's trace --

    def first_final(self, trace, callee):
        """The caller's last INVITE to the AOR callee, its final
        response, and the trace's messages after that response."""
        sent = [r for r in trace.requests('INVITE')
                if r.start.split()[1] == callee]
        self.assertTrue(sent, 'no INVITE to %s' % callee)
        final = trace.final(sent[-1])
        self.assertIsNotNone(final, 'no final response to the INVITE to %s'
                             % callee)
        at = [i for i, (d, m) in enumerate(trace.msgs) if m is final][0]
        return sent[-1], final, [m for d, m in trace.msgs[at + 1:]
                                 if d == 'out']

    def assertRedirected(self, caller_msgs, callee, contact):
        """The caller's INVITE to callee got a 302 naming contact alone
        (its expires given, a q if any, and Expires), then the caller
        sent a new INVITE to contact (RFC 3261 8.1.3.4: the Contact's
        URI as its Request-URI; the same To, From and Call-ID
        RECOMMENDED, a new Call-ID allowed: baresip keeps all three, so
        its CSeq goes up; linphonec makes a new Call-ID and puts the
        contact, without its port, in To); its INVITE."""
        trace = Trace(caller_msgs)
        what = summary(caller_msgs)
        first, r302, later = self.first_final(trace, callee)
        self.assertEqual(r302.start, 'SIP/2.0 302 Moved Temporarily', what)
        cts = r302.get_all('Contact')
        self.assertEqual(len(cts), 1, cts)
        m = re.match(r'\s*<([^>]*)>(.*)$', cts[0])
        self.assertIsNotNone(m, cts)
        self.assertEqual(m.group(1), contact, cts)
        self.assertRegex(m.group(2), r';\s*expires=\d+')
        self.assertRegex(m.group(2), r';\s*q=(0(\.\d{0,3})?|1(\.0{0,3})?)'
                         r'(;|$)')
        self.assertRegex(r302.get('Expires') or '', r'^\d+$')
        again = [r for r in later if r.start.startswith('INVITE ')]
        self.assertTrue(again, 'no INVITE after the 302:\n' + what)
        again = again[0]
        self.assertEqual(again.start, 'INVITE %s SIP/2.0' % contact, what)
        self.assertEqual(addr_uri(again.get('From')),
                         addr_uri(first.get('From')))
        if again.get('Call-ID') == first.get('Call-ID'):
            self.assertEqual(addr_uri(again.get('To')), callee)
            self.assertEqual(tag_of(again.get('From')),
                             tag_of(first.get('From')))
            self.assertGreater(int(again.get('CSeq').split()[0]),
                               int(first.get('CSeq').split()[0]))
        return again

    def assertReached(self, callee_msgs, invite):
        """The callee received that very INVITE (Call-ID, CSeq) with the
        caller's Via alone: it came from the caller, through nothing."""
        got = [m for m in Trace(callee_msgs).requests('INVITE', 'in')
               if m.get('Call-ID') == invite.get('Call-ID')]
        self.assertTrue(got, 'the callee got no INVITE of call %s:\n%s' %
                        (invite.get('Call-ID'), summary(callee_msgs)))
        self.assertEqual(got[0].start, invite.start)
        self.assertEqual(got[0].get('CSeq'), invite.get('CSeq'))
        self.assertEqual(got[0].get_all('Via'), invite.get_all('Via'))

    def assertCancelled(self, caller, invite, contact):
        """The caller cancelled its INVITE to contact there (RFC 3261
        9.1: the CANCEL's Request-URI is the INVITE's) and got 487."""
        final = self.poll_true('the final response to the INVITE to %s'
                               % contact, lambda: Trace(
                                   caller.sip_messages()).final(invite))
        msgs = caller.sip_messages()
        self.assertEqual(status(final), 487, summary(msgs))
        cancel = [r.start for r in Trace(msgs).requests('CANCEL')
                  if r.get('Call-ID') == invite.get('Call-ID')]
        self.assertEqual(cancel, ['CANCEL %s SIP/2.0' % contact],
                         summary(msgs))

    def assertCounted(self, before, code):
        """Herald's /metrics counted one more answer code of its
        redirect server since the text before, and every final
        response it sent to an INVITE was ACKed (no Timer H)."""
        after = metrics(self.herald)
        name = 'herald_redirect_responses_total{code="%d"}' % code
        self.assertIsNotNone(metric(before, name), before)
        self.assertEqual(metric(after, name), metric(before, name) + 1,
                         after)
        self.assertEqual(metric(after, 'herald_sip_acks_missing_total'), 0,
                         after)

    def assertRefused(self, caller_msgs, callee, code):
        """The caller's INVITE to callee got code and the caller sent no
        INVITE after it."""
        trace = Trace(caller_msgs)
        what = summary(caller_msgs)
        _, final, later = self.first_final(trace, callee)
        self.assertEqual(status(final), code, what)
        self.assertEqual([r.start for r in later
                          if r.start.startswith('INVITE ')], [], what)


def addr_uri(value):
    """The URI of a name-addr header field value."""
    m = re.search(r'<([^>]*)>', value)
    return m.group(1) if m else value.split(';')[0].strip()


def tag_of(value):
    m = re.search(r';\s*tag=([^;\s]+)', value)
    return m.group(1) if m else None


class BaresipCallerTest(RedirectCase):

    def test_call_follows_302_to_linphonec(self):
        """baresip bob dials carol@example.test (found through DNS):
        Herald answers 302 with carol's binding, baresip ACKs it and
        INVITEs carol's linphonec directly; linphonec shows the
        incoming call from bob and rings (baresip: CALL_RINGING); bob
        hangs up (CANCEL to carol, 487) and carol's call ends."""
        carol = self.linphonec_callee()
        bob = self.baresip_caller()
        contact = self.contact_of(CAROL)
        before = metrics(self.herald)
        mark = carol.mark()
        start = len(bob.event_list())
        bob.ok('dial', CAROL)
        carol.wait_out(r'^(linphonec> )?Receiving new incoming call from '
                       r'"?bob"? <sip:bob@example\.test>', start=mark)
        ringing = self.wait_event(bob, 'CALL_RINGING', start)
        self.assertEqual(ringing.get('peeruri'), CAROL)
        invite = self.assertRedirected(bob.sip_messages(), CAROL, contact)
        self.assertReached(carol.sip_messages(), invite)
        self.assertCounted(before, 302)

        bob.ok('hangup')
        carol.wait_out(r'^(linphonec> )?Call \d+ with .*bob@example\.test'
                       r'.* ended', start=mark)
        closed = self.wait_event(bob, 'CALL_CLOSED', start)
        self.assertEqual(closed.get('peeruri'), CAROL)
        self.assertCancelled(bob, invite, contact)

    def test_no_binding_480_unknown_user_404(self):
        """baresip bob dials dave (a user with no binding): Herald's 480
        ends the call, baresip shows "session closed: 480 Temporarily
        Unavailable"; then nobody (no such user): 404."""
        bob = self.baresip_caller()
        for uri, code, text in ((DAVE, 480, 'Temporarily Unavailable'),
                                (NOBODY, 404, None)):
            with self.subTest(callee=uri):
                start = len(bob.event_list())
                mark = len(bob.lines)
                before = metrics(self.herald)
                bob.ok('dial', uri)
                closed = self.wait_event(bob, 'CALL_CLOSED', start)
                self.assertEqual(closed.get('peeruri'), uri)
                self.assertRegex(closed.get('param', ''), r'^%d\b' % code)
                if text:
                    self.assertEqual(closed['param'], '%d %s' % (code, text))
                bob.wait_log(r'^%s: session closed: %d\b' %
                             (re.escape(uri), code), start=mark)
                self.assertRefused(bob.sip_messages(), uri, code)
                self.assertCounted(before, code)


class LinphonecCallerTest(RedirectCase):

    def test_call_follows_302_to_baresip(self):
        """linphonec bob calls alice@example.test (found through DNS):
        Herald answers 302 with alice's binding, linphonec ACKs it and
        INVITEs alice's baresip directly; baresip shows "Incoming call
        from: bob" (CALL_INCOMING), linphonec "Call N to
        sip:alice@example.test ringing."; bob terminates (CANCEL to
        alice, 487), alice's call closes."""
        alice = self.baresip_callee()
        bob = self.linphonec_caller()
        contact = self.contact_of(ALICE)
        before = metrics(self.herald)
        start = len(alice.event_list())
        mark = bob.mark()
        bob.command('call %s' % ALICE)
        incoming = self.wait_event(alice, 'CALL_INCOMING', start)
        self.assertEqual(incoming.get('peeruri'), 'sip:bob@example.test')
        alice.wait_log(r'Incoming call from: .*sip:bob@example\.test')
        bob.wait_out(r'^(linphonec> )?Call \d+ to sip:alice@example\.test '
                     r'ringing\.',
                     start=mark)
        invite = self.assertRedirected(bob.sip_messages(), ALICE, contact)
        self.assertReached(alice.sip_messages(), invite)
        self.assertCounted(before, 302)

        bob.command('terminate')
        bob.wait_out(r'^(linphonec> )?Call \d+ with sip:alice@example\.test '
                     r'ended',
                     start=mark)
        closed = self.wait_event(alice, 'CALL_CLOSED', start)
        self.assertEqual(closed.get('peeruri'), 'sip:bob@example.test')
        self.assertCancelled(bob, invite, contact)

    def test_no_binding_480_unknown_user_404(self):
        """linphonec bob calls dave (no binding): Herald's 480 ends the
        call; linphonec shows only "Call N with sip:dave@example.test
        error." (not the status: its trace has the 480). Then nobody
        (no such user): 404, the same line."""
        bob = self.linphonec_caller()
        for uri, code in ((DAVE, 480), (NOBODY, 404)):
            with self.subTest(callee=uri):
                mark = bob.mark()
                before = metrics(self.herald)
                bob.command('call %s' % uri)
                bob.wait_out(r'^(linphonec> )?Call \d+ with %s error\.'
                             % re.escape(uri),
                             start=mark)
                self.assertRefused(bob.sip_messages(), uri, code)
                self.assertCounted(before, code)


class OutboundTest(RedirectCase):

    def test_outbound_proxy_caller_cannot_follow(self):
        """baresip bob with Herald as its outbound proxy (the account of
        test_default_clients.py) dials carol: it follows Herald's 302 as
        well, but its new INVITE, Request-URI carol's contact, goes to
        Herald again with Route: Herald (RFC 3261 8.1.2). Herald is no
        proxy: it answers 404 itself (the contact's host is no domain of
        its own), carol's linphonec never hears of the call, and baresip
        shows the call closed: "404 Not Found"."""
        carol = self.linphonec_callee()
        bob = Baresip(self, self.herald, 'bob', PASSWORD, pubint=0,
                      default_config=True)
        bob.wait_registered()
        contact = self.contact_of(CAROL)
        start = len(bob.event_list())
        bob.ok('dial', CAROL)
        closed = self.wait_event(bob, 'CALL_CLOSED', start)
        msgs = bob.sip_messages()
        again = self.assertRedirected(msgs, CAROL, contact)
        route = '<sip:127.0.0.1:%d;lr>' % self.herald.port
        self.assertEqual(again.get('Route'), route, summary(msgs))
        final = Trace(msgs).final(again)
        self.assertIsNotNone(final, summary(msgs))
        # RFC 3261 8.2.2.1: a Request-URI it does not accept requests
        # for (host 127.0.0.1, not a served domain): 404
        self.assertEqual(status(final), 404, summary(msgs))
        self.assertEqual(closed.get('param'), final.start.split(' ', 1)[1])
        self.assertEqual(Trace(carol.sip_messages()).requests(
            'INVITE', 'in'), [], summary(carol.sip_messages()))


if __name__ == '__main__':
    harness.main()
