#!/usr/bin/env python3
"""The web console (admin/console/, served at / by the admin server) in a
real browser: Debian's chromium, headless, driven by puppeteer-core
(interop/console/driver.js, interop/consolebrowser.py), asserting on
what a person sees (the visible text of the page, buttons found by their
label and clicked), while SIP clients change the state.

- OperatorTest: a wrong token is refused with a message; the right one
  shows alice's registered contact, her presence changing with each
  PUBLISH (no reload), bob's pending subscription whose Approve makes it
  active (his NOTIFY and the REST list say so), carol's Deny ending hers
  (rejected), expiries counting down each second; a user and a rule
  watcher named <img src=x onerror=...> are shown as that text (no
  element made, no handler run); the token is never in a URL nor in
  localStorage, and "Log out" forgets it. It passes whichever way the
  page learns of changes: the live feed (GET /v1/feed) where Herald has
  it, polling where that answers 404. A screenshot is kept in the build
  directory (test-artifacts/console.png).
- FeedClientTest: the console's Server-Sent Events client against a feed
  the test writes (a proxy in front of Herald that answers /v1/feed
  itself, everything else forwarded): Authorization on the stream, no
  polling while it is live (a change nobody announces is not shown), an
  event cut across writes and CR LF line ends makes the console read the
  AOR again, the reconnection after the stream ends carries
  Last-Event-ID, and `event: reset` makes it read everything again.
- PollingTest: /v1/feed answering 404 (a Herald without the feed): the
  console says it polls, and a registration shows within seconds.
- StaticTest (no browser): /, /console.css and /console.js without a
  token, with their media types, the Content-Security-Policy, nosniff,
  no-cache with an entity-tag and 304 for If-None-Match; any other
  method, path or asset-like name still needs the token.
- SseParserTest: the console's SSE parser under node's test runner
  (interop/console/sse_test.js): every cut of a stream, CR/LF/CR LF,
  comments, ids, retry, split UTF-8.

The browser tests skip, saying so, only where chromium (or node and npm)
is not installed; script/bootstrap installs Debian's chromium.
"""

import http.client
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, 'interop'))
import harness  # noqa: E402
import consolebrowser  # noqa: E402
import npmpkg  # noqa: E402
from adminapi import BOBPW, AdminCase  # noqa: E402
from consolebrowser import Browser  # noqa: E402
from phone import PASSWORD, Phone  # noqa: E402
from watcher import Publisher, pidf_doc  # noqa: E402

ALICE = 'alice@example.test'
BOB = 'bob@example.test'
CAROL = 'carol@example.test'
XSS = '<img src=x onerror=window.xss=1>@example.test'
CONTACT = 'sip:alice@127.0.0.1:5999'
WITHIN = 10000          # ms a change may take to show (polling: 3 s)
POLL_S = 3              # the console's polling interval
TOKEN = harness.ADMIN_TOKEN
SKIPPED = 77            # the exit status when no browser could run
ASSETS = (('/', 'text/html'), ('/console.css', 'text/css'),
          ('/console.js', 'text/javascript'))


def artifacts_dir():
    """test-artifacts/ beside the herald binary under test (the build
    directory)."""
    d = os.path.join(os.path.dirname(os.path.abspath(harness.herald_bin())),
                     'test-artifacts')
    os.makedirs(d, exist_ok=True)
    return d


def quote(name):
    return urllib.parse.quote(name, safe='@')


class ConsoleCase(AdminCase):
    """alice, bob (AdminCase) and carol exist; browser() opens the
    console in chromium (skipped, saying why, without it)."""

    def setUp(self):
        consolebrowser.ensure_available()
        super().setUp()
        self.herald.add_user(CAROL, PASSWORD)

    def browser(self, url=None):
        b = Browser(self, url or self.herald.admin_url + '/')
        b.do('open')
        return b

    def register_alice(self):
        r = Phone(self, self.udp()).register(['<%s>' % CONTACT], 600)
        self.assertStatus(r, 200)

    def assertTokenNeverInUrl(self, b):
        """No request of the page named the token in its URL; each one
        to /v1 carried it as a bearer."""
        reqs = b.do('requests')
        self.assertEqual(reqs['errors'], [], 'errors in the page')
        for r in reqs['requests']:
            self.assertNotIn(TOKEN, r['url'], r)
            self.assertNotIn(quote(TOKEN), r['url'], r)
            if urllib.parse.urlsplit(r['url']).path.startswith('/v1/'):
                self.assertIn(r['authorization'], ('Bearer ' + TOKEN,
                                                   'Bearer not-the-token'),
                              r)
        return reqs['requests']


class OperatorTest(ConsoleCase):
    herald_args = ['--presence-default-local', 'confirm']

    def test_operator_console(self):
        b = self.browser()

        # a wrong token: refused, said so, nothing kept
        b.do('login', token='not-the-token')
        b.do('wait_text', within='#login-view', text='Wrong token')
        st = b.do('state')
        self.assertEqual((st['session'], st['local']), ({}, {}), st)
        b.do('wait_text', within='body', text='Pending watchers',
             absent=True)

        # the right one: the console
        b.do('login', token=TOKEN)
        b.do('wait_text', within='#users', text=ALICE)
        b.do('wait_text', within='#login-view', text='Admin token',
             absent=True)
        st = b.do('state')
        self.assertEqual(st['session'], {'herald.admin.token': TOKEN})
        self.assertEqual(st['local'], {})
        live = b.do('text', within='#live')['text']
        sys.stderr.write('console: the page says "%s"\n' % live)
        self.assertRegex(live, r'^(Live|Polling every \d+ s)')

        # alice registers over SIP: her contact shows
        b.do('wait_text', within='#registrations', text='0 of 3 users')
        self.register_alice()
        b.do('wait_text', within='#registrations', text=CONTACT,
             timeout=WITHIN)
        b.do('wait_text', within='#registrations', text='1 of 3 users')

        # she publishes, then changes it: the page follows, no reload
        p = Publisher(self, self.herald)
        self.assertStatus(p.publish(pidf_doc([('t1', 'open',
                                               'at the desk')]), 600), 200)
        b.do('wait_text', within='#presence', text='at the desk',
             timeout=WITHIN)
        b.do('wait_text', within='#presence', text=ALICE + ' Open')
        self.assertStatus(p.modify(pidf_doc([('t1', 'closed',
                                              'gone home')])), 200)
        b.do('wait_text', within='#presence', text='gone home',
             timeout=WITHIN)
        b.do('wait_text', within='#presence', text='at the desk',
             absent=True)
        b.do('wait_text', within='#presence', text=ALICE + ' Closed')

        # bob asks to watch her (confirm: pending); the console shows him
        w = self.watcher('bob', password=BOBPW)
        self.assertSubscribed(w.subscribe(600), 600)
        w.recv_notify(state='pending')
        b.do('wait_text', within='#pending', text=BOB, timeout=WITHIN)
        b.do('wait_text', within='#subscriptions', text='pending')

        # its expiry counts down, second by second, in the page
        first = self.expires_in(b, BOB)
        time.sleep(2.2)
        second = self.expires_in(b, BOB)
        self.assertLess(second, first)
        self.assertGreaterEqual(second, first - 4)

        # Approve: a rule allows him, his subscription becomes active
        b.do('click', label='Approve %s for %s' % (BOB, ALICE))
        n = w.recv_notify(state='active')
        self.assertIn(b'gone home', n.body, n)
        b.do('wait_text', within='#pending', text=BOB, absent=True,
             timeout=WITHIN)
        b.do('wait_text', within='#notice', text='%s may now see' % BOB)
        item = self.wait_items(lambda it: any(
            i['watcher_user'] == BOB and i['state'] == 'active'
            for i in it), 'event=presence')
        self.assertTrue(item)
        rows = b.do('rows', within='#rules', row=BOB)['rows']
        self.assertEqual([(r['resource'], r['event'], r['rule'])
                          for r in rows], [(ALICE, 'presence', 'allow')])
        b.do('wait_text', within='#subscriptions', text='active',
             timeout=WITHIN)

        # carol too; Deny: a rule blocks her, her subscription ends
        c = self.watcher('carol', password=PASSWORD)
        self.assertSubscribed(c.subscribe(600), 600)
        c.recv_notify(state='pending')
        b.do('wait_text', within='#pending', text=CAROL, timeout=WITHIN)
        b.do('click', label='Deny %s for %s' % (CAROL, ALICE))
        n = c.recv_notify(state='terminated')
        self.assertEqual(n.sub_state[1].get('reason'), 'rejected', n)
        b.do('wait_text', within='#pending', text='No watcher is waiting',
             timeout=WITHIN)
        r = self.get_json('/v1/presentities/%s/rules' % ALICE)
        self.assertIn({'watcher': CAROL, 'action': 'block'}, r['items'])

        # names that are markup are shown as text
        r = self.api('POST', '/v1/users', {'user': XSS, 'password': 'x'})
        self.assertEqual(r.status, 201, r)
        r = self.api('PUT', '/v1/presentities/%s/rules/%s' %
                     (ALICE, quote(XSS)), {'action': 'polite-block'})
        self.assertEqual(r.status, 200, r)
        b.do('wait_text', within='#users', text=XSS, timeout=WITHIN)
        b.do('wait_text', within='#rules', text=XSS, timeout=WITHIN)
        b.do('wait_text', within='#presence', text=XSS, timeout=WITHIN)
        st = b.do('state')
        self.assertEqual(st['images'], 0, 'an <img> was made of a name')
        self.assertIsNone(st['xss'], 'a name\'s onerror ran')
        self.assertTrue(st['mark'], 'the page was loaded again')
        self.assertEqual(urllib.parse.urlsplit(st['href']).path, '/')

        shot = os.path.join(artifacts_dir(), 'console.png')
        b.do('screenshot', path=shot)
        sys.stderr.write('console: screenshot in %s\n' % shot)
        self.assertTokenNeverInUrl(b)

        # Log out: the token is forgotten, the data gone from the page
        b.do('click', label='Log out')
        b.do('wait_text', within='#login-view', text='Admin token')
        b.do('wait_text', within='body', text=ALICE, absent=True)
        st = b.do('state')
        self.assertEqual((st['session'], st['local']), ({}, {}), st)

    def expires_in(self, b, who):
        """Seconds shown in the Expires in cell of who's subscription."""
        rows = b.do('rows', within='#subscriptions', row=who)['rows']
        self.assertEqual(len(rows), 1, rows)
        m = re.match(r'^(\d+):(\d\d)$', rows[0]['expires in'])
        self.assertIsNotNone(m, rows)
        return int(m.group(1)) * 60 + int(m.group(2))


# ---------------------------------------------------------------------------
# a feed the test writes: a proxy in front of the admin server

class FeedProxy:
    """http://127.0.0.1:PORT/: /v1/feed answered by the test (mode
    'stream': one stream per request, written by send() and ended by
    end(); mode '404': Not Found), anything else forwarded to Herald's
    admin server."""

    def __init__(self, test, upstream, mode='stream'):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.mode = mode
        self.streams = []       # each: {'path', 'headers', 'q'}
        self.cond = threading.Condition()
        self.stopping = False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_GET(self):
                if urllib.parse.urlsplit(self.path).path == '/v1/feed':
                    proxy.feed(self)
                else:
                    proxy.forward(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()
        test.addCleanup(self.close)
        self.url = 'http://127.0.0.1:%d/' % self.server.server_address[1]

    def close(self):
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()

    def forward(self, h):
        n = int(h.headers.get('Content-Length') or 0)
        body = h.rfile.read(n) if n else None
        headers = {k: v for k, v in h.headers.items() if k.lower() not in
                   ('host', 'connection', 'keep-alive')}
        c = http.client.HTTPConnection(self.upstream.hostname,
                                       self.upstream.port, timeout=15)
        try:
            c.request(h.command, h.path, body, headers)
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
        h.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in ('connection', 'transfer-encoding',
                                 'content-length', 'date', 'server'):
                h.send_header(k, v)
        h.send_header('Content-Length', str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def feed(self, h):
        s = {'path': h.path, 'q': queue.Queue(),
             'headers': {k.lower(): v for k, v in h.headers.items()}}
        with self.cond:
            self.streams.append(s)
            self.cond.notify_all()
        h.close_connection = True
        if self.mode == '404':
            body = b'{"type":"about:blank","title":"Not Found","status":404}'
            h.send_response(404)
            h.send_header('Content-Type', 'application/problem+json')
            h.send_header('Content-Length', str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        h.send_response(200)
        h.send_header('Content-Type', 'text/event-stream')
        h.send_header('Cache-Control', 'no-store')
        h.send_header('Connection', 'close')
        h.end_headers()
        while not self.stopping:
            try:
                item = s['q'].get(timeout=0.2)
            except queue.Empty:
                continue
            if item is None:
                return
            try:
                h.wfile.write(item)
                h.wfile.flush()
            except OSError:
                return

    def wait_stream(self, n, timeout=15):
        """The nth request of /v1/feed (1 is the first)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.streams) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError('no request %d of /v1/feed within '
                                         '%d s' % (n, timeout))
                self.cond.wait(left)
            return self.streams[n - 1]

    def send(self, s, *pieces):
        """Write each piece on stream s, a moment apart (the browser
        reads them as separate chunks)."""
        for p in pieces:
            s['q'].put(p.encode() if isinstance(p, str) else p)
            time.sleep(0.15)

    def end(self, s):
        s['q'].put(None)


class FeedClientTest(ConsoleCase):

    def test_feed_client(self):
        proxy = FeedProxy(self, self.herald.admin_url)
        b = self.browser(proxy.url)
        b.do('login', token=TOKEN)
        s1 = proxy.wait_stream(1)
        self.assertEqual(s1['headers'].get('authorization'),
                         'Bearer ' + TOKEN)
        self.assertEqual(s1['headers'].get('accept'), 'text/event-stream')
        self.assertNotIn('last-event-id', s1['headers'])
        self.assertNotIn(TOKEN, s1['path'])
        b.do('wait_text', within='#live', text='Live')
        b.do('wait_text', within='#users', text=ALICE)

        # live: no polling, so a change nobody announces is not shown
        self.register_alice()
        time.sleep(POLL_S + 1.5)
        b.do('wait_text', within='#registrations', text=CONTACT,
             absent=True, timeout=100)

        # announced, cut across writes, CR LF line ends, a comment first
        data = json.dumps({'kind': 'binding', 'op': 'added', 'aor': ALICE,
                           'contact': CONTACT, 'expires_in': 600})
        proxy.send(s1, ': keep-alive\r\n\r\n', 'id: 41\r\nevent: bin',
                   'ding\r\ndata: ' + data[:20], data[20:] + '\r',
                   '\n\r\n')
        b.do('wait_text', within='#registrations', text=CONTACT,
             timeout=3000)

        # the stream ends: the console comes back after event 41
        proxy.end(s1)
        s2 = proxy.wait_stream(2)
        self.assertEqual(s2['headers'].get('last-event-id'), '41')
        self.assertEqual(s2['headers'].get('authorization'),
                         'Bearer ' + TOKEN)
        b.do('wait_text', within='#live', text='Live', timeout=WITHIN)

        # a publication nobody announces; then "reset": all read again
        p = Publisher(self, self.herald)
        self.assertStatus(p.publish(pidf_doc([('t1', 'open',
                                               'back from lunch')]), 600),
                          200)
        time.sleep(POLL_S + 1.5)
        b.do('wait_text', within='#presence', text='back from lunch',
             absent=True, timeout=100)
        proxy.send(s2, 'id: 90\nevent: reset\ndata: {"reason":"gap"}\n\n')
        b.do('wait_text', within='#presence', text='back from lunch',
             timeout=3000)
        self.assertTokenNeverInUrl(b)


class PollingTest(ConsoleCase):

    def test_polling_when_no_feed(self):
        proxy = FeedProxy(self, self.herald.admin_url, mode='404')
        b = self.browser(proxy.url)
        b.do('login', token=TOKEN)
        b.do('wait_text', within='#live', text='Polling every %d s' %
             POLL_S)
        s1 = proxy.wait_stream(1)
        self.assertEqual(s1['headers'].get('authorization'),
                         'Bearer ' + TOKEN)
        b.do('wait_text', within='#users', text=ALICE)
        self.register_alice()
        b.do('wait_text', within='#registrations', text=CONTACT,
             timeout=WITHIN)
        self.assertTokenNeverInUrl(b)


# ---------------------------------------------------------------------------
# no browser

class StaticTest(AdminCase):

    CSP_WANT = ("default-src 'none'", "script-src 'self'",
                "style-src 'self'", "connect-src 'self'",
                "frame-ancestors 'none'", "form-action 'none'")

    def test_assets(self):
        """Each file without a token: its media type, the policy,
        nosniff, no-cache and an entity-tag; 304 for If-None-Match."""
        for path, mt in ASSETS:
            r = self.api('GET', path, token=None)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.content_type, mt, r)
            self.assertIn('charset=utf-8', r.headers['Content-Type'])
            csp = [d.strip() for d in
                   r.headers['Content-Security-Policy'].split(';')]
            for d in self.CSP_WANT:
                self.assertIn(d, csp, path)
            self.assertEqual(r.headers['X-Content-Type-Options'], 'nosniff')
            self.assertEqual(r.headers['Cache-Control'], 'no-cache')
            etag = r.headers['ETag']
            self.assertRegex(etag, r'^"[0-9a-f]{16}"$')
            self.assertGreater(len(r.body), 100)
            for inm in (etag, 'W/' + etag, '"x", ' + etag, '*'):
                r2 = self.api('GET', path, token=None,
                              headers={'If-None-Match': inm})
                self.assertEqual(r2.status, 304, inm)
                self.assertEqual(r2.body, b'')
                self.assertEqual(r2.headers['ETag'], etag)
            r2 = self.api('GET', path, token=None,
                          headers={'If-None-Match': '"0000000000000000"'})
            self.assertEqual(r2.status, 200)
            self.assertEqual(r2.body, r.body)
        html = self.api('GET', '/', token=None).body.decode()
        self.assertIn('src="console.js"', html)
        self.assertIn('href="console.css"', html)
        # nothing from elsewhere, nothing inline
        self.assertNotRegex(html, r'(src|href)="(https?:)?//')
        self.assertNotRegex(html, r'<script>|<style|\son[a-z]+=')

    def test_everything_else_needs_the_token(self):
        """Only GET of the three files is open; other methods there, and
        every other path (one that looks like a file too), say 401."""
        for method, path in (('POST', '/'), ('PUT', '/console.js'),
                             ('DELETE', '/console.css'),
                             ('GET', '/index.html'), ('GET', '/console'),
                             ('GET', '/console.js/x'),
                             ('GET', '/v1/console.js'),
                             ('GET', '/favicon.ico'), ('GET', '/v1/users')):
            r = self.api(method, path, token=None,
                         body=b'x' if method in ('POST', 'PUT') else None)
            self.assertProblem(r, 401)
        # with it: the files allow GET only
        r = self.api('POST', '/', body=b'x')
        self.assertProblem(r, 405)
        self.assertEqual(r.headers['Allow'], 'GET')
        self.assertProblem(self.api('GET', '/index.html'), 404)

    def test_no_markup_written_from_strings(self):
        """console.js builds the page with elements and text nodes only:
        no HTML parsed from a string anywhere in it."""
        js = self.api('GET', '/console.js', token=None).body.decode()
        for bad in ('innerHTML', 'outerHTML', 'insertAdjacentHTML',
                    'document.write', 'eval(', 'new Function',
                    'createContextualFragment', 'localStorage'):
            self.assertNotIn(bad, js)


class SseParserTest(unittest.TestCase):

    def test_sse_parser(self):
        npmpkg.skip_unless_available()
        r = subprocess.run(['node', '--test', os.path.join(
            HERE, 'interop', 'console', 'sse_test.js')],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out = r.stdout.decode('utf-8', 'replace')
        self.assertEqual(r.returncode, 0, out)
        self.assertRegex(out, r'(?m)^# pass [1-9]')
        self.assertRegex(out, r'(?m)^# fail 0$')


def main():
    """harness.main(), but exit 77 (CTest's SKIP_RETURN_CODE for
    integration.console) when every test that ran passed and the browser
    tests were skipped for want of a browser: ctest then lists the test
    as not run instead of passed."""
    runner = unittest.TextTestRunner(resultclass=harness.LogResult,
                                     verbosity=2, stream=sys.stderr)
    result = unittest.main(testRunner=runner, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    if any(consolebrowser.NO_BROWSER in why for _, why in result.skipped):
        sys.exit(SKIPPED)


if __name__ == '__main__':
    main()
