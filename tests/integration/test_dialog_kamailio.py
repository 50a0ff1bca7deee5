#!/usr/bin/env python3
"""Busy lamps with real parts (issue 17): Kamailio 5.6 (Debian 12's
kamailio and kamailio-presence-modules) as a proxy in front of Herald
tracks a call between two baresip instances with its dialog module, and
its pua_dialoginfo PUBLISHes the dialog state (Event: dialog,
application/dialog-info+xml, RFC 4235) to Herald; a third client
watching bob's `Event: dialog` at Herald sees the call early (ringing),
confirmed (answered), then terminated (hung up).

The parts (interop/kamailio.cfg.in says what the proxy does):
  - Herald: the registrar (digest) and a redirect server (an INVITE for
    a registered user gets 302 with the user's contact). Kamailio's pua
    sends its PUBLISHes unauthenticated and answers no challenge: the
    proxy is a trusted publisher (`--trusted-publisher 127.0.0.1`), whose
    PUBLISHes for any user are taken without credentials.
  - Kamailio (interop/kamailio.py: a child process in the foreground,
    loopback, its runtime directory in a temporary one): the UAs'
    outbound proxy. REGISTER goes on to Herald; an INVITE goes to
    Herald, whose 302 Kamailio follows itself (uac_redirect's
    get_redirects() in a failure_route) to the callee's contact,
    record-routing, so the ACK and BYE come through it too. The dialog
    module tracks the call; pua_dialoginfo publishes the caller's
    (alice, entity From) and the callee's (bob, entity To) states to
    Herald through pua's outbound_proxy.
  - baresip alice and bob: baresip's own default config
    (baresip.edited_default_config) with Kamailio as the account's
    outbound proxy, and aubridge for audio (baresip.AUDIO_EDITS): there
    is no sound card, and alsa failing makes baresip close an answered
    call at once.
  - the watcher: watcher.Watcher as carol (digest), SUBSCRIBE Event:
    dialog to sip:bob@example.test (and one to alice) straight at
    Herald, Accept: application/dialog-info+xml; its NOTIFYs are checked
    here (Lamp), against RFC 4235's schema.

What Kamailio 5.6 publishes, with its defaults (seen on the wire): one
PUBLISH per state change of one side, the first of a dialog without
SIP-If-Match, the next ones with the entity-tag Herald gave (Expires the
dialog's lifetime, override_lifetime + 1; the terminated one Expires:
11); each body a dialog-info document with state="full", version="0"
every time (pua's dlginfo_increase_version is off by default), entity
the side's AOR, one <dialog> (id "padi-...", call-id, local-tag and
remote-tag once known, direction) with <state> "Trying" (capitalized:
the caller's, at the INVITE), then "early", "confirmed", "terminated";
then <remote> before <local> (identity, target), an order RFC 4235's
schema does not allow (include_localremote, Kamailio() localremote).

Skips only when Kamailio, its modules or baresip are not installed
(script/bootstrap installs kamailio, kamailio-presence-modules and
baresip-core)."""

import os
import sys
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, 'interop'))
import harness  # noqa: E402
import baresip  # noqa: E402
import kamailio  # noqa: E402
from baresip import Baresip  # noqa: E402
from kamailio import Kamailio  # noqa: E402
from test_default_clients import Trace  # noqa: E402
from watcher import Watcher, uri_of, xmllint, xsd_path  # noqa: E402

PASSWORD = 'secret'
ALICE = 'sip:alice@example.test'
BOB = 'sip:bob@example.test'
DIALOG_TYPE = 'application/dialog-info+xml'
DIALOG_NS = '{urn:ietf:params:xml:ns:dialog-info}'
WAIT = 10.0


class DialogInfo:
    """An RFC 4235 dialog-info document: version, state ('full' or
    'partial'), entity, and its dialogs as {id: {'state', 'direction',
    'call-id', 'remote'}} (remote: the remote identity's URI or None)."""

    def __init__(self, body):
        root = ET.fromstring(body)
        if root.tag != DIALOG_NS + 'dialog-info':
            raise ValueError('not a dialog-info document: %s' % root.tag)
        self.version = int(root.get('version'))
        self.state = root.get('state')
        self.entity = root.get('entity')
        self.dialogs = {}
        for d in root.findall(DIALOG_NS + 'dialog'):
            st = d.find(DIALOG_NS + 'state')
            ident = d.find('%sremote/%sidentity' % (DIALOG_NS, DIALOG_NS))
            self.dialogs[d.get('id')] = {
                'state': (st.text or '').strip() if st is not None else None,
                'direction': d.get('direction'),
                'call-id': d.get('call-id'),
                'remote': (ident.text or '').strip() if ident is not None
                else None}

    def __repr__(self):
        return 'DialogInfo(%d, %s, %s, %r)' % (self.version, self.state,
                                               self.entity, self.dialogs)


class Lamp:
    """What a watcher of one entity knows from its NOTIFYs: the dialogs
    of the last full document with every partial one applied after it
    (RFC 4235 4.1: a partial document carries the dialogs that changed),
    and the history of each dialog's states."""

    def __init__(self, test, watcher, diag=None):
        self.test = test
        self.w = watcher
        self.diag = diag or (lambda: '')
        self.docs = []
        self.dialogs = {}
        self.history = {}       # dialog id: [states, no repeats]

    def take(self, timeout=WAIT):
        """The next NOTIFY, checked (check()), applied; None without."""
        n = self.w.next_notify(timeout)
        if n is None:
            return None
        doc = self.check(n)
        self.docs.append((n, doc))
        if doc is None:
            return n
        if doc.state == 'full':
            self.dialogs = {}
        for did, d in doc.dialogs.items():
            self.dialogs[did] = d
            h = self.history.setdefault(did, [])
            if not h or h[-1] != d['state'].lower():
                h.append(d['state'].lower())
        return n

    def check(self, n):
        """RFC 6665 and RFC 4235 on one NOTIFY of the watcher's dialog:
        CSeq up by one, Event dialog, Subscription-State active with
        expires; a body is application/dialog-info+xml, valid against
        RFC 4235's schema, of the watched entity, its version 0 at
        first then up by one (4.1: per subscription), state full in the
        first (4.1: the first NOTIFY carries the full state), each
        dialog's state one of RFC 4235 3.7.1's."""
        t, w = self.test, self.w
        t.assertEqual(n.method, 'NOTIFY', n)
        t.assertEqual(n.call_id, w.call_id, n)
        t.assertEqual(uri_of(n.get('From')), w.resource, n)
        num, method = n.cseq
        if w.last_cseq is not None:
            t.assertEqual(num, w.last_cseq + 1,
                          'NOTIFY CSeq does not go up by one:\n%s' % n)
        w.last_cseq = num
        t.assertEqual(n.event[0], 'dialog', n)
        ss, ssp = n.sub_state
        t.assertEqual(ss, 'active', n)
        t.assertRegex(ssp.get('expires', ''), r'^\d+$', n)
        if not n.body:
            t.assertTrue(self.docs, 'the first NOTIFY has no body:\n%s' % n)
            return None
        t.assertEqual(n.content_type, DIALOG_TYPE, n)
        ok, out = xmllint(n.body, xsd_path('dialog-info.xsd'))
        t.assertTrue(ok, 'dialog-info body not valid against %s:\n%s\n%s'
                     % (xsd_path('dialog-info.xsd'), out, n))
        doc = DialogInfo(n.body)
        t.assertEqual(doc.entity, w.resource, n)
        want = 0 if w.last_version is None else w.last_version + 1
        t.assertEqual(doc.version, want, 'dialog-info version:\n%s' % n)
        w.last_version = doc.version
        if want == 0:
            t.assertEqual(doc.state, 'full', n)
        t.assertIn(doc.state, ('full', 'partial'), n)
        for d in doc.dialogs.values():
            # RFC 4235 4.1.2: one of the FSM's states (3.7.1 names them
            # capitalized, the examples lower case; Kamailio 5.6
            # publishes the caller's first state as "Trying")
            t.assertIn(d['state'].lower(), ('trying', 'proceeding',
                                            'early', 'confirmed',
                                            'terminated'), n)
        return doc

    def wait_state(self, call_id, state, timeout=WAIT):
        """Take NOTIFYs until the dialog of call call_id shows state;
        that dialog."""
        deadline = time.monotonic() + timeout
        while True:
            for d in self.dialogs.values():
                if d['call-id'] == call_id and d['state'].lower() == state:
                    return d
            left = deadline - time.monotonic()
            if left <= 0 or self.take(left) is None:
                self.test.fail('%s: no NOTIFY shows call %s %s within '
                               '%.0f s; seen:\n%s\n%s' % (
                                   self.w.resource, call_id, state, timeout,
                                   '\n'.join(str(n) for n, _ in self.docs),
                                   self.diag()))


class DialogKamailioTest(harness.HeraldTestCase):
    """alice, bob and carol exist; Kamailio in front of Herald; alice and
    bob on baresip behind Kamailio."""

    # Kamailio's pua sends its PUBLISHes without credentials and answers
    # no challenge: PUBLISH is not challenged
    herald_args = ['--trusted-publisher', '127.0.0.1']

    def setUp(self):
        kamailio.skip_unless_available()
        baresip.skip_unless_available()
        super().setUp()
        for u in ('alice', 'bob', 'carol'):
            self.herald.add_user('%s@example.test' % u, PASSWORD)
        self.kam = Kamailio(self, self.herald)

    def phone(self, user):
        """baresip for user, its outbound proxy Kamailio, registered (at
        Herald, through Kamailio)."""
        b = Baresip(self, self.kam, user, PASSWORD, pubint=0,
                    default_config=True, more_edits=baresip.AUDIO_EDITS)
        b.wait_registered()
        return b

    def watch(self, resource):
        """carol's subscription to resource's dialog state at Herald
        (digest), and the first NOTIFY taken."""
        w = Watcher(self, self.herald, user='carol', resource=resource,
                    event='dialog')
        w.body_type = DIALOG_TYPE        # Accept
        r = w.subscribe(600)
        self.assertIsNotNone(r, 'no answer to SUBSCRIBE Event: dialog')
        if r.status == 489:
            self.fail('Herald has no dialog package: 489 Bad Event to '
                      'SUBSCRIBE Event: dialog (Allow-Events: %s)'
                      % r.get('Allow-Events'))
        self.assertIn(r.status, (200, 202), '%s\n%s' % (
            r, self.herald.log_text(40)))
        lamp = Lamp(self, w, self.kam.diag)
        self.assertIsNotNone(lamp.take(), 'no NOTIFY after the SUBSCRIBE')
        return lamp

    def call_id(self, caller):
        """The Call-ID of the caller's last INVITE."""
        invites = Trace(caller.sip_messages()).requests('INVITE')
        self.assertTrue(invites, 'the caller sent no INVITE')
        return invites[-1].get('Call-ID')

    def assertThroughKamailio(self, callee, call_id):
        """The callee got the call's INVITE from Kamailio (its Via on
        top, its Record-Route), not from the caller or Herald."""
        got = [m for m in Trace(callee.sip_messages()).requests('INVITE',
                                                                'in')
               if m.get('Call-ID') == call_id]
        self.assertTrue(got, 'the callee got no INVITE of call %s' % call_id)
        vias = got[0].get_all('Via')
        self.assertEqual(len(vias), 2, vias)
        self.assertIn('127.0.0.1:%d;' % self.kam.port, vias[0])
        self.assertIn('127.0.0.1:%d;' % self.kam.port,
                      got[0].get('Record-Route') or '')

    def test_bob_early_confirmed_terminated(self):
        """alice calls bob through Kamailio (Herald's 302 followed by
        Kamailio); carol, watching bob's dialog state at Herald, sees the
        call early while bob's phone rings, confirmed once bob answered,
        terminated once alice hung up: one dialog, bob the recipient,
        its call-id the call's. carol watching alice sees the same call
        (alice the initiator) go early (or trying then early), confirmed,
        terminated."""
        alice = self.phone('alice')
        bob = self.phone('bob')
        lamp = self.watch(BOB)
        self.assertEqual(lamp.dialogs, {}, 'bob is idle at first')
        lamp_a = self.watch(ALICE)
        self.assertEqual(lamp_a.dialogs, {}, 'alice is idle at first')

        a0, b0 = len(alice.event_list()), len(bob.event_list())
        alice.ok('dial', BOB)
        bob.wait_event('CALL_INCOMING', b0, diag=self.kam.diag)
        alice.wait_event('CALL_RINGING', a0, diag=self.kam.diag)
        cid = self.call_id(alice)
        self.assertThroughKamailio(bob, cid)
        d = lamp.wait_state(cid, 'early')
        self.assertEqual(d['direction'], 'recipient')
        if d['remote'] is not None:      # the watcher may see who calls
            self.assertEqual(d['remote'], ALICE)

        d = lamp_a.wait_state(cid, 'early')
        self.assertEqual(d['direction'], 'initiator')
        if d['remote'] is not None:
            self.assertEqual(d['remote'], BOB)

        bob.ok('accept')
        alice.wait_event('CALL_ESTABLISHED', a0, diag=self.kam.diag)
        bob.wait_event('CALL_ESTABLISHED', b0, diag=self.kam.diag)
        lamp.wait_state(cid, 'confirmed')
        lamp_a.wait_state(cid, 'confirmed')
        self.assertTrue(bob.alive() and alice.alive())
        self.assertEqual([e.get('type') for e in bob.event_list()[b0:]
                          if e.get('type') == 'CALL_CLOSED'], [],
                         'bob closed the answered call by itself:\n%s'
                         % bob.log_text(100))

        alice.ok('hangup')
        bob.wait_event('CALL_CLOSED', b0, diag=self.kam.diag)
        lamp.wait_state(cid, 'terminated')
        lamp_a.wait_state(cid, 'terminated')
        self.assertEqual(self.history(lamp, cid),
                         ['early', 'confirmed', 'terminated'],
                         '\n'.join(str(n) for n, _ in lamp.docs))
        # the caller's side may start trying (Kamailio publishes the
        # caller's dialog at the INVITE, before the callee rings)
        seen = self.history(lamp_a, cid)
        self.assertIn(seen, (['early', 'confirmed', 'terminated'],
                             ['trying', 'early', 'confirmed', 'terminated']),
                      '\n'.join(str(n) for n, _ in lamp_a.docs))

    def history(self, lamp, call_id):
        """The states the one dialog of call call_id went through."""
        ids = [i for i, d in lamp.dialogs.items() if d['call-id'] == call_id]
        self.assertEqual(len(ids), 1, lamp.dialogs)
        return lamp.history[ids[0]]


if __name__ == '__main__':
    unittest.main()
