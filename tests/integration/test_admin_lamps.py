#!/usr/bin/env python3
"""The admin API of the busy and voicemail lamps (admin/routes.c,
admin/mailbox.c) against a real herald and PostgreSQL: a line's composed
dialog-info (RFC 4235) as its watchers get it, schema-valid; who watches
a line (event dialog) and a mailbox (event message-summary); per-watcher
privacy rules (a watcher with "state" gets no <remote> in its next
NOTIFY); an account's message summary (RFC 3842) as JSON, and set by PUT
as a voicemail system speaking HTTP would (the account's phone gets the
counts in a NOTIFY; PUBLISHed summaries add up with it); bad bodies get
400 problems; the publications of each package in /metrics."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from adminapi import ALICE, BOB, AdminCase  # noqa: E402
from test_mwi import summary  # noqa: E402
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


class PrivacyTest(LampsCase):

    RULE = LINE + '/dialog-rules/bob@example.test'

    def put_rule(self, privacy, path=None):
        r = self.api('PUT', path or self.RULE, {'privacy': privacy})
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_state_hides_the_other_party(self):
        """identity: bob sees carol; state: bob's next NOTIFY has the
        states only, no <remote>; the rule is listed, then removed."""
        self.assertEqual(self.put_rule('identity'), {
            'presentity': 'alice@example.test',
            'watcher': 'bob@example.test', 'privacy': 'identity'})
        w = self.watcher(event='dialog')
        self.assertSubscribed(w.subscribe(600), 600)
        w.recv_notify(state='active')
        p = self.publish_dialog(('d1', 'confirmed', REMOTE))
        n = parse_dinfo(w.recv_notify(state='active', doc=True).body)
        self.assertEqual(n.states(), {'d1': 'confirmed'})
        self.assertIn('sip:carol@example.test', n.text)
        self.put_rule('state')
        self.publish_dialog(('d1', 'confirmed', REMOTE), ('d2', 'early',
                                                         REMOTE),
                            p=p, modify=True)
        while True:
            n = parse_dinfo(w.recv_notify(state='active', doc=True).body)
            self.assertNotIn('<remote', n.text)
            self.assertNotIn('carol', n.text)
            self.assertTrue(all('{urn:ietf:params:xml:ns:dialog-info}'
                                'remote' not in d['children']
                                for d in n.dialogs), n)
            if n.states() == {'d1': 'confirmed', 'd2': 'early'}:
                break
        # the API's document is the identity view whatever the rules
        self.assertIn('carol', self.dialog_doc().text)
        j = self.get_json(LINE + '/dialog-rules')
        self.assertEqual(j, {'presentity': 'alice@example.test', 'items': [
            {'watcher': 'bob@example.test', 'privacy': 'state'}]})
        # presence's rules are apart
        self.assertEqual(self.get_json(LINE + '/rules')['items'], [])
        r = self.api('DELETE', self.RULE)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.get_json(LINE + '/dialog-rules')['items'], [])

    def test_domain_rules_and_paging(self):
        self.put_rule('state', LINE + '/dialog-rules/example.test')
        self.put_rule('identity', LINE + '/dialog-rules/' + BOB)
        j = self.get_json(LINE + '/dialog-rules?limit=1')
        self.assertEqual(j['items'], [{'watcher': 'bob@example.test',
                                       'privacy': 'identity'}])
        j = self.get_json(LINE + '/dialog-rules?cursor=' + j['next_cursor'])
        self.assertEqual(j['items'], [{'watcher': 'example.test',
                                       'privacy': 'state'}])
        self.assertNotIn('next_cursor', j)

    def test_bad_rules(self):
        for body in ({'privacy': 'maybe'}, {'privacy': 'allow'},
                     {'action': 'state'}, {}, {'privacy': 1},
                     {'privacy': 'state', 'x': 1}, [], b'{'):
            self.assertProblem(self.api('PUT', self.RULE, body), 400)
        self.assertProblem(self.api('PUT', '/v1/presentities/alice/'
                                    'dialog-rules/' + BOB,
                                    {'privacy': 'state'}), 400)
        self.assertProblem(self.api('PUT', LINE + '/dialog-rules/@x',
                                    {'privacy': 'state'}), 400)
        self.assertProblem(self.api('GET', self.RULE), 405)
        self.assertEqual(self.get_json(LINE + '/dialog-rules')['items'], [])


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

    def test_put_lights_the_lamp(self):
        """PUT as a voicemail system: the phone gets the counts; GET
        shows them; a PUBLISHed summary adds up; a later PUT replaces
        the earlier one only."""
        w = self.watcher(user='alice', event='message-summary')
        self.assertSubscribed(w.subscribe(600), 600)
        self.assertEqual(summary(w.recv_notify(state='active').body)
                         ['messages-waiting'], 'no')
        r = self.api('PUT', BOX, {'new': 2, 'old': 5})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {
            'aor': 'alice@example.test', 'waiting': True, 'account': ALICE,
            'voice': {'new': 2, 'old': 5, 'new_urgent': 0,
                      'old_urgent': 0}})
        n = w.recv_notify(state='active')
        self.assertEqual(n.content_type, SMS, n)
        s = summary(n.body)
        self.assertEqual((s['messages-waiting'], s['voice-message']),
                         ('yes', '2/5'), s)
        self.assertEqual(self.get_json(BOX), r.json())
        # urgent counts, another class, the account named
        r = self.api('PUT', BOX, {'new': 1, 'old': 0, 'new_urgent': 1,
                                  'old_urgent': 0,
                                  'fax': {'new': 0, 'old': 3},
                                  'account': 'sip:*97@example.test'})
        self.assertEqual(r.status, 200, r)
        s = summary(w.recv_notify(state='active').body)
        self.assertEqual((s['voice-message'], s['fax-message'],
                          s['message-account']),
                         ('1/0 (1/0)', '0/3', 'sip:*97@example.test'), s)
        # a voicemail system's PUBLISH adds up with the PUT
        self.publish_summary(b'Messages-Waiting: yes\r\n'
                             b'Voice-Message: 3/4\r\n')
        s = summary(w.recv_notify(state='active').body)
        self.assertEqual(s['voice-message'], '4/4 (1/0)', s)
        # all heard: only what was PUBLISHed is left
        r = self.api('PUT', BOX, {'waiting': False})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['voice'], {'new': 3, 'old': 4,
                                             'new_urgent': 0,
                                             'old_urgent': 0})
        self.assertNotIn('fax', r.json())
        s = summary(w.recv_notify(state='active').body)
        self.assertEqual(s['voice-message'], '3/4', s)

    def test_waiting_derived(self):
        r = self.api('PUT', BOX, {'fax': {'new': 1, 'old': 0}})
        self.assertEqual(r.json()['waiting'], True, r)
        r = self.api('PUT', BOX, {'new': 0, 'old': 7})
        self.assertEqual(r.json()['waiting'], False, r)
        r = self.api('PUT', BOX, {'new': 0, 'old': 7, 'waiting': True})
        self.assertEqual(r.json()['waiting'], True, r)
        r = self.api('PUT', BOX, {'voice': {'new': 4294967295}})
        self.assertEqual(r.json()['voice']['new'], 4294967295, r)

    def test_bad_bodies(self):
        self.assertEqual(self.api('PUT', BOX, {'new': 1}).status, 200)
        for body in ({'new': -1}, {'old': 4294967296}, {'new': 1.5},
                     {'new': '2'}, {'new': None}, {'new': True},
                     {'fax': 3}, {'fax': {'new': 1, 'x': 1}},
                     {'fax': {'new': -2}}, {'waiting': 'yes'},
                     {'account': ''}, {'account': 7},
                     {'account': 'sip:a\u0000b@example.test'},
                     {'bogus': 1}, {'new': 1, 'voice': {'new': 1}},
                     {'new': 10 ** 30}, [], 'text', b'{', b''):
            self.assertProblem(self.api('PUT', BOX, body), 400)
        self.assertProblem(self.api('PUT', '/v1/mailboxes/alice',
                                    {'new': 1}), 400)
        # nothing was changed by a refused PUT
        self.assertEqual(self.get_json(BOX)['voice']['new'], 1)

    def test_bad_account(self):
        self.assertProblem(self.api('GET', '/v1/mailboxes/alice'), 400)
        self.assertProblem(self.api('GET', '/v1/mailboxes/alice/watchers'),
                           400)
        self.assertProblem(self.api('DELETE', BOX), 405)
        self.assertProblem(self.api('PUT', BOX + '/watchers', {}), 405)


if __name__ == '__main__':
    harness.main()
