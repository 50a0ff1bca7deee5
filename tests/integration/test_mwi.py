#!/usr/bin/env python3
"""The message-summary package (RFC 3842) over real sockets, against a
real PostgreSQL: a voicemail system PUBLISHes
application/simple-message-summary for alice's account; alice's phone
SUBSCRIBEs and gets the summary, then each change; two publications (a
voicemail and a fax system) are summed; bob may not watch alice's
mailbox; a bad body gets 400; kill -9 and restart keep the lamp."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from watcher import (PASSWORD, Publisher, Watcher,  # noqa: E402
                     WatcherChecks)

ALICE = 'sip:alice@example.test'
SMS = 'application/simple-message-summary'


def summary(text):
    """{header: value} of a summary body, lower-case names."""
    out = {}
    for line in text.decode().split('\r\n'):
        m = re.match(r'([A-Za-z-]+)\s*:\s*(.*)$', line)
        if m:
            out[m.group(1).lower()] = m.group(2).strip()
    return out


class MwiCase(WatcherChecks, harness.HeraldTestCase):

    def setUp(self):
        super().setUp()
        self.herald.add_user('alice@example.test', PASSWORD)
        self.herald.add_user('bob@example.test', 'bobpw')

    def phone(self, user='alice', password=PASSWORD):
        w = Watcher(self, self.herald, user=user, password=password,
                    event='message-summary', resource=ALICE)
        self.addCleanup(self.check_endpoint, w.ep)
        return w

    def voicemail(self):
        return Publisher(self, self.herald)

    def publish(self, p, body, modify=False):
        send = p.modify if modify else p.publish
        r = send(body, 600, event='message-summary', content_type=SMS)
        self.assertStatus(r, 200)

    def lamp(self, w):
        n = w.recv_notify(state='active')
        self.assertEqual(n.content_type, SMS, n)
        return summary(n.body)


class SummaryTest(MwiCase):

    def test_lamp_follows_the_mailbox(self):
        w = self.phone()
        self.assertSubscribed(w.subscribe(600), 600)
        s = self.lamp(w)
        self.assertEqual(s['messages-waiting'], 'no', s)
        self.assertEqual(s['message-account'], ALICE, s)
        vm = self.voicemail()
        self.publish(vm, b'Messages-Waiting: yes\r\n'
                         b'Message-Account: sip:*97@example.test\r\n'
                         b'Voice-Message: 2/8 (0/2)\r\n')
        s = self.lamp(w)
        self.assertEqual(s['messages-waiting'], 'yes', s)
        self.assertEqual(s['voice-message'], '2/8 (0/2)', s)
        self.assertEqual(s['message-account'], 'sip:*97@example.test', s)
        # a fax system publishes too: the lamp shows both
        fax = self.voicemail()
        self.publish(fax, b'Messages-Waiting: yes\r\nVoice-Message: 1/0\r\n'
                          b'Fax-Message: 1/0\r\n')
        s = self.lamp(w)
        self.assertEqual(s['voice-message'], '3/8 (0/2)', s)
        self.assertEqual(s['fax-message'], '1/0', s)
        # messages heard: the lamp goes off once none are new
        self.publish(vm, b'Messages-Waiting: no\r\nVoice-Message: 0/10\r\n',
                     modify=True)
        self.publish(fax, b'Messages-Waiting: no\r\nFax-Message: 0/1\r\n',
                     modify=True)
        s = self.lamp(w)
        if s['messages-waiting'] != 'no':
            s = self.lamp(w)
        self.assertEqual(s['messages-waiting'], 'no', s)
        # the same summary again tells nobody anything
        self.assertStatus(vm.refresh(600, event='message-summary'), 200)
        w.expect_no_notify()

    def test_only_the_owner_watches(self):
        w = self.phone(user='bob', password='bobpw')
        self.assertStatus(w.subscribe(600), 403)

    def test_bad_body(self):
        vm = self.voicemail()
        r = vm.publish(b'Voice-Message: 2/8\r\n', 600,
                       event='message-summary', content_type=SMS)
        self.assertStatus(r, 400)
        self.assertTrue(r.reason.startswith('Bad message-summary'), r)

    def test_allow_events(self):
        c = self.udp()
        r = c.request(self.req('OPTIONS', c))
        self.assertIn('message-summary', r.tokens('Allow-Events'))

    def test_kill_and_restart(self):
        vm = self.voicemail()
        self.publish(vm, b'Messages-Waiting: yes\r\nVoice-Message: 1/0\r\n')
        w = self.phone()
        self.assertSubscribed(w.subscribe(600), 600)
        self.assertEqual(self.lamp(w)['voice-message'], '1/0')
        h2 = self.restart_herald(self.herald)
        w.expect_jump = True
        vm.retarget(h2)
        self.publish(vm, b'Messages-Waiting: yes\r\nVoice-Message: 2/0\r\n',
                     modify=True)
        self.assertEqual(self.lamp(w)['voice-message'], '2/0')


if __name__ == '__main__':
    harness.main()
