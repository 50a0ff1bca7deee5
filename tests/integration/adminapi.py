"""The admin API's test case, shared by the tests of the HTTP admin API
(test_admin, test_admin_hostile, test_regmon): AdminCase (alice and
bob exist; api() talks to the API with the harness's token, and the SIP
parties a test needs) and query() (rows of SQL through psql)."""

import json
import subprocess
import time
import urllib.error
import urllib.request

import harness
from watcher import PASSWORD, Watcher, WatcherChecks

ALICE = 'sip:alice@example.test'
BOB = 'sip:bob@example.test'
BOBPW = 'bobpw'
PROBLEM_TYPE = 'application/problem+json'
POLL = 5.0          # seconds to wait for the store to catch up


class HttpResult:
    """status, headers (an email.message.Message), body bytes."""

    def __init__(self, status, headers, body, method, url):
        self.status = status
        self.headers = headers
        self.body = body
        self.method = method
        self.url = url

    @property
    def content_type(self):
        return (self.headers.get('Content-Type') or '').split(';')[0] \
            .strip().lower()

    def json(self):
        return json.loads(self.body.decode('utf-8'))

    def __str__(self):
        return '%s %s -> %d %s\n%s' % (
            self.method, self.url, self.status, self.content_type,
            self.body.decode('utf-8', 'replace')[:2000])


class AdminCase(WatcherChecks, harness.HeraldTestCase):
    """alice (secret) and bob (bobpw) exist; api() talks to the admin
    API with the harness's token."""

    def setUp(self):
        super().setUp()
        if self.autostart:
            self.herald.add_user('alice@example.test', PASSWORD)
            self.herald.add_user('bob@example.test', BOBPW)
            self.assertIsNotNone(self.herald.admin_url,
                                 'no "admin listening on" in the log')

    # -- HTTP --

    def api(self, method, path, body=None, token=harness.ADMIN_TOKEN,
            headers=None, auth=None):
        """One request; an HttpResult (errors included, never raised).
        body: bytes sent as is, anything else as JSON."""
        url = self.herald.admin_url + path
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            if isinstance(body, bytes):
                data = body
            else:
                data = json.dumps(body).encode()
            hdrs.setdefault('Content-Type', 'application/json')
        if auth is not None:
            hdrs['Authorization'] = auth
        elif token is not None:
            hdrs['Authorization'] = 'Bearer ' + token
        req = urllib.request.Request(url, data=data, method=method,
                                     headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=15) as resp:
                return HttpResult(resp.status, resp.headers, resp.read(),
                                  method, path)
        except urllib.error.HTTPError as e:
            try:
                b = e.read()
            finally:
                e.close()
            return HttpResult(e.code, e.headers, b, method, path)

    def get_json(self, path, status=200, **kw):
        r = self.api('GET', path, **kw)
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.content_type, 'application/json', r)
        return r.json()

    def assertProblem(self, r, status):
        """An RFC 7807 problem: that status, application/problem+json,
        a JSON object with title and the same status."""
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.content_type, PROBLEM_TYPE, r)
        j = r.json()
        self.assertIsInstance(j, dict, r)
        self.assertEqual(j.get('status'), status, r)
        self.assertIsInstance(j.get('title'), str, r)
        return j

    def list_all(self, query=''):
        """Every item of /v1/subscriptions?query (one page of 1000)."""
        sep = '&' if query else ''
        j = self.get_json('/v1/subscriptions?%s%slimit=1000' % (query, sep))
        return j['items']

    def wait_items(self, cond, query='', timeout=POLL):
        """Poll the list until cond(items) is true; the items."""
        deadline = time.monotonic() + timeout
        while True:
            items = self.list_all(query)
            if cond(items):
                return items
            if time.monotonic() > deadline:
                self.fail('the subscription list never satisfied the '
                          'condition:\n%s' % json.dumps(items, indent=1))
            time.sleep(0.05)

    def item_of(self, w, query=''):
        """The list item of watcher w's dialog (waits for it)."""
        items = self.wait_items(
            lambda it: any(i['dialog']['call_id'] == w.call_id
                           for i in it), query)
        return next(i for i in items if i['dialog']['call_id'] == w.call_id)

    # -- SIP parties --

    def watcher(self, user='bob', event='presence', resource=ALICE, **kw):
        kw.setdefault('password', BOBPW if user == 'bob' else PASSWORD)
        w = Watcher(self, self.herald, user=user, event=event,
                    resource=resource, **kw)
        self.addCleanup(self.check_endpoint, w.ep)
        return w

    def reg_watcher(self, **kw):
        return self.watcher(user='alice', event='reg', **kw)

    def subscribed(self, w, expires=600):
        r = w.subscribe(expires)
        self.assertStatus(r, 200)
        return r


def query(url, sql):
    """Rows of a query, each a tuple of text columns."""
    out = subprocess.run(['psql', '-X', '-A', '-t', '-q', '-d', url, '-c',
                          sql], check=True, capture_output=True,
                         text=True).stdout
    return [tuple(line.split('|')) for line in out.splitlines() if line]
