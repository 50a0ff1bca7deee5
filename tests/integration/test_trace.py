#!/usr/bin/env python3
"""SIP traces for operators (POST /v1/traces, server/control/trace.c,
server/sip/trace.c), streamed over the live feed (GET /v1/feed?kinds=trace)
against a real herald, PostgreSQL and SIP traffic.

A trace of alice's AOR sees her REGISTER, its 401, the REGISTER with
credentials and its 200, each as received or sent with its transport and
peer, and the Authorization value replaced by "[redacted]" (no digest
response, nonce or username in any event); bob's REGISTER is not in it. A
feed without kinds=trace has no trace event. A trace of a source address
sees every message from and to it. GET /v1/traces lists the traces with
their counts; DELETE ends one ('stopped', then nothing more), 404 after;
a trace of 1 s ends by itself ('expired'). Bad requests get 400; a ninth
trace 409."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from adminapi import BOBPW, AdminCase  # noqa: E402
from sse import SseClient  # noqa: E402
from watcher import Registrant  # noqa: E402

A = 'sip:alice@192.0.2.1:5060'
B = 'sip:bob@192.0.2.2:5060'


class TraceTest(AdminCase):

    def feed(self, path='/v1/feed?kinds=trace'):
        c = SseClient.open(self.herald.admin_url, path,
                           token=harness.ADMIN_TOKEN)
        self.addCleanup(c.close)
        self.assertEqual(c.status, 200, c.body)
        return c

    def start(self, body, status=201):
        r = self.api('POST', '/v1/traces', body)
        self.assertEqual(r.status, status, r)
        return r.json()

    def trace_events(self, c, tid, n, timeout=5):
        """The next n events of trace tid."""
        return [c.next(timeout, lambda e: e.type == 'trace' and
                       e.json()['trace'] == tid).json() for _ in range(n)]

    def test_aor_trace(self):
        c = self.feed()
        changes = self.feed('/v1/feed')
        t = self.start({'aor': 'sip:alice@EXAMPLE.test', 'duration': 60})
        self.assertEqual(t['aor'], 'alice@example.test')
        self.assertTrue(55 <= t['expires_in'] <= 60, t)
        started = self.trace_events(c, t['id'], 1)[0]
        self.assertEqual(started['op'], 'started')
        Registrant(self, self.herald, user='bob', password=BOBPW).add(B)
        Registrant(self, self.herald).add(A)
        ev = self.trace_events(c, t['id'], 4)
        self.assertEqual([(e['op'], e['message'].split(' ')[0])
                          for e in ev],
                         [('received', 'REGISTER'), ('sent', 'SIP/2.0'),
                          ('received', 'REGISTER'), ('sent', 'SIP/2.0')])
        self.assertTrue(ev[1]['message'].startswith('SIP/2.0 401'), ev[1])
        self.assertTrue(ev[3]['message'].startswith('SIP/2.0 200'), ev[3])
        for e in ev:
            self.assertEqual(e['transport'], 'udp', e)
            self.assertRegex(e['peer'], r'^127\.0\.0\.1:\d+$')
            self.assertEqual(e['aor'], 'alice@example.test')
            self.assertNotIn('bob@', e['message'])
        creds = ev[2]['message']
        self.assertIn('\r\nAuthorization: Digest [redacted]\r\n', creds)
        for secret in ('response=', 'nonce=', 'username='):
            self.assertNotIn(secret, creds)
        # a feed of changes has the bindings, not the trace
        got = changes.quiet(0.5)
        self.assertTrue(got, 'no change on the firehose')
        self.assertNotIn('trace', [e.type for e in got])
        # listed with its count; ended; nothing after
        r = self.api('GET', '/v1/traces')
        self.assertEqual(r.status, 200, r)
        items = r.json()['items']
        self.assertEqual([i['id'] for i in items], [t['id']])
        self.assertGreaterEqual(items[0]['messages'], 4)
        self.assertEqual(self.api('DELETE', '/v1/traces/' + t['id']).status,
                         204)
        self.assertEqual(self.trace_events(c, t['id'], 1)[0]['op'],
                         'stopped')
        Registrant(self, self.herald).add(A)
        self.assertEqual([e for e in c.quiet(0.5) if e.type == 'trace'], [])
        self.assertEqual(self.api('DELETE', '/v1/traces/' + t['id']).status,
                         404)
        self.assertEqual(self.api('GET', '/v1/traces').json()['items'], [])

    def test_source_trace(self):
        c = self.feed()
        t = self.start({'source': '127.0.0.1'})
        self.assertEqual(t['source'], '127.0.0.1')
        self.assertEqual(self.trace_events(c, t['id'], 1)[0]['op'],
                         'started')
        Registrant(self, self.herald, user='bob', password=BOBPW).add(B)
        ev = self.trace_events(c, t['id'], 4)
        self.assertIn('bob@example.test', ev[0]['message'])
        self.assertNotIn('aor', ev[0])
        # another port of that address: nothing
        other = self.start({'source': '127.0.0.1:9'})
        Registrant(self, self.herald).add(A)
        self.trace_events(c, t['id'], 4)
        c.quiet(0.5)
        self.assertEqual([e.json()['op'] for e in c.events
                          if e.json().get('trace') == other['id']],
                         ['started'])

    def test_expires(self):
        c = self.feed()
        t = self.start({'aor': 'alice@example.test', 'duration': 1})
        ops = [e['op'] for e in self.trace_events(c, t['id'], 2)]
        self.assertEqual(ops, ['started', 'expired'])
        self.assertEqual(self.api('GET', '/v1/traces').json()['items'], [])

    def test_bad_requests(self):
        for body in ({}, {'duration': 5}, {'aor': ''},
                     {'aor': 'not an aor'}, {'source': 'example.test'},
                     {'aor': 'alice@example.test', 'duration': 0},
                     {'aor': 'alice@example.test', 'duration': 3601},
                     {'aor': 'alice@example.test', 'duration': '5'},
                     {'aor': 'alice@example.test', 'other': 1}):
            with self.subTest(body=body):
                self.start(body, 400)
        r = self.api('GET', '/v1/feed?kinds=trace,nothing')
        self.assertEqual(r.status, 400, r)
        ids = [self.start({'aor': 'u%d@example.test' % i})['id']
               for i in range(8)]
        self.start({'aor': 'u9@example.test'}, 409)
        self.assertEqual(len(self.api('GET', '/v1/traces').json()['items']),
                         8)
        for i in ids:
            self.assertEqual(self.api('DELETE', '/v1/traces/' + i).status,
                             204)
        r = self.api('POST', '/v1/traces', {'aor': 'alice@example.test'},
                     token=None)
        self.assertEqual(r.status, 401, r)


if __name__ == '__main__':
    harness.main()
