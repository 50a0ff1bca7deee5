#!/usr/bin/env python3
"""The admin API of the busy and voicemail lamps (admin/routes.c,
admin/mailbox.c) against a real herald and PostgreSQL: a line's composed
dialog-info (RFC 4235) as its watchers get it, schema-valid; who watches
a line (event dialog) and a mailbox (event message-summary); an
account's message summary (RFC 3842) as JSON; the publications of each
package in /metrics."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from adminapi import ALICE, AdminCase  # noqa: E402
from watcher import (DINFO_TYPE, PASSWORD, Publisher,  # noqa: E402
                     dinfo_doc, parse_dinfo, validate_dinfo)

SMS = 'application/simple-message-summary'
REMOTE = ('<remote><identity>sip:carol@example.test</identity>'
          '<target uri="sip:carol@192.0.2.7"/></remote>')
LINE = '/v1/presentities/alice@example.test'
BOX = '/v1/mailboxes/alice@example.test'


class LampsCase(AdminCase):

    def publish(self, body, event, ctype, p=None, modify=False):
        p = p or Publisher(self, self.herald)
        send = p.modify if modify else p.publish
        self.assertStatus(send(body, 600, event=event, content_type=ctype),
                          200)
        return p

    def publish_dialog(self, *dialogs, **kw):
        return self.publish(dinfo_doc(dialogs), 'dialog', DINFO_TYPE, **kw)

    def publish_summary(self, body, **kw):
        return self.publish(body, 'message-summary', SMS, **kw)

    def dialog_doc(self):
        r = self.api('GET', LINE + '/dialog')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.content_type, DINFO_TYPE, r)
        ok, out = validate_dinfo(r.body)
        self.assertTrue(ok, '%s\n%s' % (out, r))
        return parse_dinfo(r.body)

    def dialog_states(self, want, timeout=5.0):
        """The API's document once its dialogs are want ({id: state}):
        publications are merged a moment (the package's interval) after
        their 200."""
        deadline = time.monotonic() + timeout
        while True:
            d = self.dialog_doc()
            if d.states() == want or time.monotonic() > deadline:
                self.assertEqual(d.states(), want, d)
                return d
            time.sleep(0.02)

    def metric(self, name):
        r = self.api('GET', '/metrics')
        self.assertEqual(r.status, 200, r)
        m = re.search(r'(?m)^%s (\d+)$' % re.escape(name), r.body.decode())
        self.assertIsNotNone(m, '%s not in\n%s' % (name, r))
        return int(m.group(1))


class DialogTest(LampsCase):

    def test_document_is_what_watchers_get(self):
        """The API's document has the line's dialogs as a watcher seeing
        identities gets them (remote party included); its version is 0."""
        d = self.dialog_doc()
        self.assertEqual((d.version, d.state, d.states()), (0, 'full', {}))
        self.assertEqual(d.entity, ALICE)
        self.publish_dialog(('d1', 'early', REMOTE))
        self.publish_dialog(('d2', 'confirmed'))
        d = self.dialog_states({'d1': 'early', 'd2': 'confirmed'})
        self.assertIn('sip:carol@example.test', d.text)
        w = self.watcher(event='dialog')
        self.assertSubscribed(w.subscribe(600), 600)
        n = parse_dinfo(w.recv_notify(state='active', doc=True).body)
        self.assertEqual(n.states(), d.states())
        self.assertEqual(n.text.replace('version="%d"' % n.version,
                                        'version="0"'), d.text)

    def test_bad_line(self):
        self.assertProblem(self.api('GET', '/v1/presentities/alice/dialog'),
                           400)
        self.assertProblem(self.api('PATCH', LINE + '/dialog'), 405)

    def test_watchers(self):
        """dialog-watchers lists the line's dialog subscriptions only;
        /watchers keeps to presence."""
        w = self.watcher(event='dialog')
        self.assertSubscribed(w.subscribe(600), 600)
        w.recv_notify(state='active')
        p = self.watcher(event='presence')
        self.assertSubscribed(p.subscribe(600), 600)
        self.item_of(w)
        self.item_of(p)
        items = self.get_json(LINE + '/dialog-watchers')['items']
        self.assertEqual([(i['event'], i['dialog']['call_id'])
                          for i in items], [('dialog', w.call_id)])
        self.assertEqual(items[0]['watcher'], 'sip:bob@example.test')
        items = self.get_json(LINE + '/watchers')['items']
        self.assertEqual([i['event'] for i in items], ['presence'])
        j = self.get_json(LINE + '/dialog-watchers?state=pending')
        self.assertEqual(j['items'], [])

    def test_metrics(self):
        self.assertEqual(self.metric(
            'herald_event_publications{event="dialog"}'), 0)
        p = self.publish_dialog(('d1', 'trying'))
        self.publish_dialog(('d2', 'trying'))
        self.assertEqual(self.metric(
            'herald_event_publications{event="dialog"}'), 2)
        self.assertEqual(self.metric('herald_publications'), 0)
        self.assertStatus(p.remove(event='dialog'), 200)
        self.assertEqual(self.metric(
            'herald_event_publications{event="dialog"}'), 1)


class MailboxTest(LampsCase):

    def test_summary(self):
        """The sum of the account's publications, classes present only."""
        j = self.get_json(BOX)
        self.assertEqual(j, {'aor': 'alice@example.test', 'waiting': False,
                             'account': ALICE})
        self.publish_summary(b'Messages-Waiting: yes\r\n'
                             b'Message-Account: sip:*97@example.test\r\n'
                             b'Voice-Message: 2/8 (0/2)\r\n')
        self.publish_summary(b'Messages-Waiting: no\r\nFax-Message: 0/1\r\n')
        j = self.get_json('/v1/mailboxes/sip:alice@EXAMPLE.test')
        self.assertEqual(j, {
            'aor': 'alice@example.test', 'waiting': True,
            'account': 'sip:*97@example.test',
            'voice': {'new': 2, 'old': 8, 'new_urgent': 0, 'old_urgent': 2},
            'fax': {'new': 0, 'old': 1, 'new_urgent': 0, 'old_urgent': 0}})
        self.assertEqual(self.metric(
            'herald_event_publications{event="message-summary"}'), 2)

    def test_watchers(self):
        w = self.watcher(user='alice', event='message-summary')
        self.assertSubscribed(w.subscribe(600), 600)
        w.recv_notify(state='active')
        self.item_of(w)
        items = self.get_json(BOX + '/watchers')['items']
        self.assertEqual([(i['event'], i['dialog']['call_id'])
                          for i in items], [('message-summary', w.call_id)])
        self.assertEqual(self.get_json(
            '/v1/mailboxes/bob@example.test/watchers')['items'], [])

    def test_bad_account(self):
        self.assertProblem(self.api('GET', '/v1/mailboxes/alice'), 400)
        self.assertProblem(self.api('GET', '/v1/mailboxes/alice/watchers'),
                           400)
        self.assertProblem(self.api('DELETE', BOX), 405)


if __name__ == '__main__':
    harness.main()
