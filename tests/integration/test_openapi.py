#!/usr/bin/env python3
"""admin/openapi.yaml against the real admin API.

Every endpoint is called on its happy and error paths (with real
subscriptions, bindings and publications made over SIP, so lists are not
empty), and each answer is checked against the spec: its status must be
documented for the operation, its Content-Type must be one of the
documented media types, and a JSON body must validate against the
documented schema (OpenAPI 3.0 schemas turned into JSON Schema: $ref
resolved, nullable honoured). Unknown paths and methods are checked
against components.responses NotFound and MethodNotAllowed. The request
bodies sent on happy paths are validated against the spec as well.

Needs python3-yaml and python3-jsonschema (script/bootstrap); skipped
without them.
"""

import copy
import json
import os
import re
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from sse import SseClient  # noqa: E402
from watcher import (DINFO_TYPE, DOMAIN, PASSWORD, Publisher,  # noqa: E402
                     Registrant, Watcher, dinfo_doc, pidf_doc)

try:
    import jsonschema
    import yaml
except ImportError as e:       # pragma: no cover
    jsonschema = yaml = None
    MISSING = str(e)

SPEC_PATH = os.environ.get('HERALD_OPENAPI',
                           os.path.join(harness.ROOT, 'admin',
                                        'openapi.yaml'))
METHODS = ('get', 'put', 'post', 'delete', 'patch', 'head', 'options')
BOBPW = 'bobpw'
ALICE = 'alice@%s' % DOMAIN
BOB = 'bob@%s' % DOMAIN
# what needs no token: liveness, and the web console's static files
PUBLIC = ('/health', '/', '/console.css', '/console.js')


# ---------------------------------------------------------------------------
# OpenAPI 3.0 → JSON Schema

class Spec:
    def __init__(self, path):
        with open(path) as f:
            self.doc = yaml.safe_load(f)

    def ref(self, r):
        if not r.startswith('#/'):
            raise AssertionError('external $ref not supported: %s' % r)
        node = self.doc
        for part in r[2:].split('/'):
            node = node[part.replace('~1', '/').replace('~0', '~')]
        return node

    def deref(self, node):
        while isinstance(node, dict) and '$ref' in node:
            node = self.ref(node['$ref'])
        return node

    def json_schema(self, s, depth=0):
        """An OpenAPI 3.0 schema object as a draft 7 JSON Schema."""
        if depth > 50:
            raise AssertionError('$ref too deep (a cycle?)')
        if isinstance(s, list):
            return [self.json_schema(x, depth + 1) for x in s]
        if not isinstance(s, dict):
            return s
        if '$ref' in s:
            return self.json_schema(self.ref(s['$ref']), depth + 1)
        out = {}
        for k, v in s.items():
            if k in ('nullable', 'example', 'xml', 'externalDocs',
                     'discriminator', 'readOnly', 'writeOnly',
                     'deprecated'):
                continue
            if k == 'properties':
                out[k] = {n: self.json_schema(p, depth + 1)
                          for n, p in v.items()}
            elif k in ('items', 'not', 'additionalProperties'):
                out[k] = self.json_schema(v, depth + 1)
            elif k in ('allOf', 'anyOf', 'oneOf'):
                out[k] = [self.json_schema(x, depth + 1) for x in v]
            else:
                out[k] = copy.deepcopy(v)
        if s.get('nullable'):
            t = out.get('type')
            if isinstance(t, str):
                out['type'] = [t, 'null']
            if 'enum' in out and None not in out['enum']:
                out['enum'] = out['enum'] + [None]
            if 'type' not in out:
                out = {'anyOf': [out, {'type': 'null'}]}
        return out

    def operation(self, path, method):
        item = self.doc['paths'].get(path)
        if item is None:
            raise AssertionError('spec has no path %s' % path)
        op = item.get(method.lower())
        if op is None:
            raise AssertionError('spec has no %s %s' % (method, path))
        return op

    def operations(self):
        for path, item in self.doc['paths'].items():
            for m in METHODS:
                if m in item:
                    yield path, m.upper(), item[m]


def media_type(ctype):
    return (ctype or '').split(';')[0].strip().lower()


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def ctype(self):
        return self.headers.get('Content-Type')

    def json(self):
        return json.loads(self.body.decode('utf-8'))

    def __str__(self):
        return '%d %s\n%s' % (self.status, dict(self.headers),
                              self.body[:2000].decode('utf-8', 'replace'))


# ---------------------------------------------------------------------------

@unittest.skipIf(jsonschema is None, 'python3-yaml or python3-jsonschema '
                 'missing (script/bootstrap installs them)')
class OpenApiCase(harness.HeraldTestCase):
    autostart = False

    def setUp(self):
        super().setUp()
        self.spec = Spec(SPEC_PATH)
        self.called = set()     # (path template, METHOD)

    # -- HTTP --

    def http(self, method, path, body=None, token=True, headers=None,
             raw=None):
        h = dict(headers or {})
        if token is True:
            h['Authorization'] = 'Bearer ' + harness.ADMIN_TOKEN
        elif token:
            h['Authorization'] = 'Bearer ' + token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault('Content-Type', 'application/json')
        req = urllib.request.Request(self.herald.admin_url + path,
                                     data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                return Answer(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Answer(e.code, e.headers, e.read())

    # -- the check --

    def check_content(self, what, a, responses_obj):
        """a against one response object (status already matched)."""
        resp = self.spec.deref(responses_obj)
        content = resp.get('content')
        if not content:
            self.assertEqual(a.body, b'', '%s: no content documented, '
                             'got a body:\n%s' % (what, a))
            return
        mt = media_type(a.ctype)
        documented = {media_type(k): v for k, v in content.items()}
        self.assertIn(mt, documented, '%s: Content-Type %r not documented '
                      '(%s):\n%s' % (what, a.ctype, sorted(documented), a))
        for name, hdr in (resp.get('headers') or {}).items():
            hdr = self.spec.deref(hdr)
            v = a.headers.get(name)
            if hdr.get('required'):
                self.assertIsNotNone(v, '%s: header %s missing:\n%s' %
                                     (what, name, a))
            if v is not None and 'schema' in hdr:
                self.validate(what + ' header ' + name, v, hdr['schema'])
        schema = documented[mt].get('schema')
        if schema is None:
            return
        if mt == 'application/json' or mt.endswith('+json'):
            try:
                body = a.json()
            except ValueError as e:
                self.fail('%s: body is not JSON (%s):\n%s' % (what, e, a))
            self.validate(what, body, schema)
        else:
            self.validate(what, a.body.decode('utf-8'), schema)
        return mt

    def validate(self, what, value, schema):
        js = self.spec.json_schema(schema)
        errors = sorted(jsonschema.Draft7Validator(js).iter_errors(value),
                        key=lambda e: list(e.path))
        self.assertEqual(errors, [], '%s: does not match the spec:\n%s\n'
                         'value: %s' % (what, '\n'.join(
                             '  %s: %s' % ('/'.join(map(str, e.path)),
                                           e.message) for e in errors),
                             json.dumps(value)[:2000]))

    def call(self, method, template, params=None, query=None, expect=None,
             **kw):
        """Call an operation of the spec (template with {params}), check
        the answer against it; expect: the status the test wants."""
        op = self.spec.operation(template, method)
        path = template
        for k, v in (params or {}).items():
            path = path.replace('{%s}' % k, urllib.parse.quote(v, safe='@:'))
        self.assertNotIn('{', path, 'unfilled parameter in %s' % path)
        if query:
            path += '?' + urllib.parse.urlencode(query)
        if kw.get('body') is not None and expect and expect < 300:
            rb = self.spec.deref(op.get('requestBody'))
            self.assertIsNotNone(rb, 'no requestBody for %s %s' %
                                 (method, template))
            self.validate('request of %s %s' % (method, template),
                          kw['body'], rb['content']['application/json']
                          ['schema'])
        a = self.http(method, path, **kw)
        what = '%s %s → %d' % (method, path, a.status)
        if expect is not None:
            self.assertEqual(a.status, expect, '%s: wanted %d:\n%s' %
                             (what, expect, a))
        responses = op['responses']
        key = str(a.status)
        if key not in responses:
            key = '%dXX' % (a.status // 100)
        if key not in responses:
            key = 'default'
        self.assertIn(key, responses, '%s: status not documented for the '
                      'operation (%s):\n%s' % (what, sorted(responses), a))
        self.check_content(what, a, responses[key])
        self.called.add((template, method))
        return a

    def call_outside(self, method, path, component, expect):
        """A path or method the spec does not have: the answer must be
        components.responses[component]."""
        a = self.http(method, path)
        what = '%s %s → %d' % (method, path, a.status)
        self.assertEqual(a.status, expect, '%s:\n%s' % (what, a))
        self.check_content(what, a, {'$ref': '#/components/responses/' +
                                     component})
        return a

    # -- SIP state --

    def wait_for(self, fn, what, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail('timed out waiting for ' + what)
            time.sleep(0.05)

    def populate(self):
        h = self.herald
        h.add_user(ALICE, PASSWORD)
        h.add_user(BOB, BOBPW)
        Registrant(self, h).add('sip:alice@127.0.0.1:5999', 600)
        p = Publisher(self, h)
        r = p.publish(pidf_doc([('t1', 'open', 'at the desk')]), 600)
        self.assertIsNotNone(r, 'no answer to PUBLISH')
        self.assertEqual(r.status, 200, str(r))
        self.watchers = []
        for user, pw, event in (('bob', BOBPW, 'presence'),
                                ('alice', PASSWORD, 'reg'),
                                ('alice', PASSWORD, 'presence.winfo')):
            w = Watcher(self, h, user=user, password=pw, event=event,
                        resource='sip:' + ALICE)
            r = w.subscribe(600)
            self.assertIsNotNone(r, 'no answer to SUBSCRIBE')
            self.assertTrue(200 <= r.status < 300, str(r))
            w.recv_notify()
            self.watchers.append(w)

    # -- tests --

    def test_spec_shape(self):
        """The spec is OpenAPI 3.0.3; everything but /health and the
        console's files is authenticated and documents 401; request
        bodies are closed."""
        d = self.spec.doc
        self.assertEqual(d['openapi'], '3.0.3')
        self.assertEqual(d['components']['securitySchemes']['bearer'],
                         dict(d['components']['securitySchemes']['bearer'],
                              type='http', scheme='bearer'))
        self.assertEqual(d['security'], [{'bearer': []}])
        for path, method, op in self.spec.operations():
            if path in PUBLIC:
                self.assertEqual(op.get('security'), [], path)
            else:
                self.assertNotIn('security', op, path)
                self.assertIn('401', op['responses'], '%s %s' %
                              (method, path))
            rb = self.spec.deref(op.get('requestBody'))
            if rb:
                s = self.spec.json_schema(
                    rb['content']['application/json']['schema'])
                self.assertIs(s.get('additionalProperties'), False,
                              '%s %s' % (method, path))
            # every schema converts and is itself valid
            for code, resp in op['responses'].items():
                for mt, c in (self.spec.deref(resp).get('content')
                              or {}).items():
                    jsonschema.Draft7Validator.check_schema(
                        self.spec.json_schema(c.get('schema', {})))

    def test_every_endpoint(self):
        self.herald = self.start_herald()
        self.populate()
        C = self.call

        # /health, without and with a token
        a = C('GET', '/health', token=None, expect=200)
        self.assertEqual(a.json(), {'status': 'ok'})
        C('GET', '/health', expect=200)

        # the web console's files, without a token; 304 when unchanged
        for path in PUBLIC[1:]:
            a = C('GET', path, token=None, expect=200)
            C('GET', path, token=None, expect=304,
              headers={'If-None-Match': a.headers['ETag']})

        # /metrics
        a = C('GET', '/metrics', expect=200)
        self.assertRegex(a.body.decode(), r'(?m)^herald_publications 1$')
        self.assertRegex(a.body.decode(), r'(?m)^herald_bindings 1$')
        for event in ('reg', 'presence', 'presence.winfo'):
            self.assertRegex(a.body.decode(), r'(?m)^herald_subscriptions'
                             r'\{event="%s",state="active"\} 1$' %
                             re.escape(event))
            self.assertRegex(a.body.decode(), r'(?m)^herald_subscriptions'
                             r'\{event="%s",state="pending"\} 0$' %
                             re.escape(event))

        # 401 everywhere but /health, no token and a wrong one
        for method, template in (('GET', '/metrics'),
                                 ('GET', '/v1/subscriptions'),
                                 ('GET', '/v1/subscriptions/{id}'),
                                 ('DELETE', '/v1/subscriptions/{id}'),
                                 ('GET', '/v1/users'),
                                 ('POST', '/v1/users'),
                                 ('PATCH', '/v1/users/{user}'),
                                 ('DELETE', '/v1/users/{user}'),
                                 ('GET', '/v1/aors/{aor}/watchers'),
                                 ('GET', '/v1/aors/{aor}/rules'),
                                 ('GET', '/v1/presentities/{presentity}/'
                                  'rules'),
                                 ('PUT', '/v1/aors/{aor}/rules/{watcher}'),
                                 ('DELETE', '/v1/aors/{aor}/rules/'
                                  '{watcher}'),
                                 ('GET', '/v1/aors/{aor}/bindings'),
                                 ('DELETE', '/v1/aors/{aor}/bindings/{id}'),
                                 ('GET', '/v1/aors/{aor}/reginfo'),
                                 ('GET', '/v1/presentities/{presentity}/'
                                  'watchers'),
                                 ('GET', '/v1/presentities/{presentity}/'
                                  'presence'),
                                 ('PUT', '/v1/presentities/{presentity}/'
                                  'rules/{watcher}'),
                                 ('DELETE', '/v1/presentities/{presentity}/'
                                  'rules/{watcher}')):
            params = {'id': 'x', 'user': ALICE, 'aor': ALICE,
                      'presentity': ALICE, 'watcher': BOB}
            for tok in (None, 'wrong-token-0123456789'):
                a = C(method, template, params, token=tok, expect=401,
                      body={'action': 'allow'} if method in
                      ('PUT', 'POST', 'PATCH') else None)
                self.assertEqual(a.headers.get('WWW-Authenticate'),
                                 'Bearer', str(a))

        # subscriptions: the list (once the store has written them)
        L = '/v1/subscriptions'
        items = self.wait_for(
            lambda: len(C('GET', L, expect=200).json()['items']) >= 3 and
            C('GET', L, expect=200).json()['items'], 'three subscriptions '
            'in PostgreSQL')
        ids = [s['id'] for s in items]
        a = C('GET', L, query={'limit': 1}, expect=200).json()
        self.assertEqual(len(a['items']), 1)
        self.assertIn('next_cursor', a)
        b = C('GET', L, query={'limit': 1000, 'cursor': a['next_cursor']},
              expect=200).json()
        self.assertEqual(len(b['items']), len(ids) - 1)
        a = C('GET', L, query={'event': 'presence', 'state': 'active',
                               'resource': 'sip:' + ALICE}, expect=200)
        self.assertEqual([s['event'] for s in a.json()['items']],
                         ['presence'])
        pres = a.json()['items'][0]
        a = C('GET', L, query={'watcher': pres['watcher']}, expect=200)
        self.assertIn(pres['id'], [s['id'] for s in a.json()['items']])
        for bad in ('0', '1001', 'abc', '-1', ''):
            C('GET', L, query={'limit': bad}, expect=400)

        # one subscription
        S = '/v1/subscriptions/{id}'
        for i in ids:
            a = C('GET', S, {'id': i}, expect=200).json()
            self.assertIn('version', a)
            self.assertIn('notifies', a)
        C('GET', S, {'id': 'no-such-subscription'}, expect=404)
        C('DELETE', S, {'id': 'no-such-subscription'}, expect=404)
        C('DELETE', S, {'id': ids[0]}, query={'reason': 'bogus'},
          expect=400)
        C('DELETE', S, {'id': ids[0]}, query={'reason': 'timeout'},
          expect=400)
        reg = next(s for s in items if s['event'] == 'reg')
        C('DELETE', S, {'id': reg['id']}, query={'reason': 'noresource'},
          expect=204)
        C('DELETE', S, {'id': reg['id']}, expect=404)
        a = C('GET', S, {'id': reg['id']})      # 200 (terminated) or 404
        self.assertIn(a.status, (200, 404), str(a))

        # watchers of a presentity
        W = '/v1/presentities/{presentity}/watchers'
        a = C('GET', W, {'presentity': ALICE}, expect=200).json()
        self.assertEqual([s['event'] for s in a['items']], ['presence'])
        C('GET', W, {'presentity': 'sip:' + ALICE},
          query={'limit': 1, 'state': 'active',
                 'watcher': pres['watcher']}, expect=200)
        C('GET', W, {'presentity': 'nobody@' + DOMAIN}, expect=200)
        C('GET', W, {'presentity': ALICE}, query={'limit': 0}, expect=400)

        # users
        U = '/v1/users'
        a = C('POST', U, body={'user': 'carol@' + DOMAIN,
                               'password': 'pw'}, expect=201)
        self.assertEqual(a.json(), {'user': 'carol@' + DOMAIN,
                                    'role': 'user'})
        # the same user again: its password replaced, its role set, then
        # kept when not given
        a = C('POST', U, body={'user': 'carol@' + DOMAIN, 'password': 'pw2',
                               'role': 'monitor'}, expect=200)
        self.assertEqual(a.json()['role'], 'monitor')
        a = C('POST', U, body={'user': 'carol@' + DOMAIN, 'password': 'pw3'},
              expect=200)
        self.assertEqual(a.json()['role'], 'monitor')
        for body in ({'user': 'dave@' + DOMAIN},
                     {'user': 'dave@' + DOMAIN, 'password': ''},
                     {'user': 'dave', 'password': 'pw'},
                     {'user': 'dave@elsewhere.test', 'password': 'pw'},
                     {'user': 'dave@' + DOMAIN, 'password': 'pw',
                      'admin': True},
                     {'user': 5, 'password': 'pw'},
                     {'user': 'dave@' + DOMAIN, 'password': 'pw',
                      'role': 'admin'},
                     {'user': 'dave@' + DOMAIN, 'password': 'pw',
                      'role': None},
                     [], 'text'):
            C('POST', U, body=body, expect=400)
        C('POST', U, raw=b'{not json', expect=400,
          headers={'Content-Type': 'application/json'})
        C('POST', U, raw=b'', expect=400)
        C('POST', U, raw=b'{"user":"' + b'x' * 70000 + b'"}', expect=413,
          headers={'Content-Type': 'application/json'})
        a = C('GET', U, expect=200).json()
        names = [u['user'] for u in a['items']]
        self.assertEqual(sorted(names), sorted([ALICE, BOB,
                                                'carol@' + DOMAIN]))
        a = C('GET', U, query={'limit': 2}, expect=200).json()
        self.assertEqual(len(a['items']), 2)
        b = C('GET', U, query={'cursor': a['next_cursor']},
              expect=200).json()
        self.assertEqual(len(b['items']), 1)
        self.assertNotIn('next_cursor', b)
        for bad in ('0', '5000', 'x'):
            C('GET', U, query={'limit': bad}, expect=400)
        self.assertEqual({u['user']: u['role'] for u in
                          C('GET', U, expect=200).json()['items']},
                         {ALICE: 'user', BOB: 'user',
                          'carol@' + DOMAIN: 'monitor'})
        D = '/v1/users/{user}'
        a = C('PATCH', D, {'user': 'carol@' + DOMAIN},
              body={'role': 'user'}, expect=200)
        self.assertEqual(a.json(), {'user': 'carol@' + DOMAIN,
                                    'role': 'user'})
        a = C('PATCH', D, {'user': 'carol@' + DOMAIN},
              body={'password': 'pw4'}, expect=200)
        self.assertEqual(a.json()['role'], 'user')
        C('PATCH', D, {'user': 'carol@' + DOMAIN},
          body={'password': 'pw5', 'role': 'monitor'}, expect=200)
        C('PATCH', D, {'user': 'nobody@' + DOMAIN}, body={'role': 'user'},
          expect=404)
        for body in ({}, {'role': 'root'}, {'password': ''},
                     {'password': 5}, {'role': 'user', 'user': 'x@y'}, []):
            C('PATCH', D, {'user': 'carol@' + DOMAIN}, body=body,
              expect=400)
        C('PATCH', D, {'user': 'carol'}, body={'role': 'user'}, expect=400)
        C('DELETE', D, {'user': 'carol@' + DOMAIN}, expect=204)
        C('DELETE', D, {'user': 'carol@' + DOMAIN}, expect=404)
        C('DELETE', D, {'user': 'carol'}, expect=400)

        # bindings and reginfo
        B = '/v1/aors/{aor}/bindings'
        a = C('GET', B, {'aor': ALICE}, expect=200).json()
        self.assertEqual(len(a['bindings']), 1, a)
        C('GET', B, {'aor': 'sip:' + ALICE}, expect=200)
        a = C('GET', B, {'aor': 'nobody@' + DOMAIN}, expect=200).json()
        self.assertEqual(a['bindings'], [])
        R = '/v1/aors/{aor}/reginfo'
        a = C('GET', R, {'aor': ALICE}, expect=200)
        self.assertIn(b'urn:ietf:params:xml:ns:reginfo', a.body)
        C('GET', R, {'aor': 'sip:' + ALICE}, expect=200)
        C('GET', R, {'aor': 'alice'}, expect=400)
        C('GET', B, {'aor': 'alice'}, expect=400)

        # a binding taken away by the admin
        X = '/v1/aors/{aor}/bindings/{id}'
        bid = C('GET', B, {'aor': ALICE}, expect=200).json()[
            'bindings'][0]['id']
        C('DELETE', X, {'aor': 'alice', 'id': bid}, expect=400)
        C('DELETE', X, {'aor': ALICE, 'id': 'nosuch'}, expect=404)
        C('DELETE', X, {'aor': ALICE, 'id': bid}, expect=204)
        C('DELETE', X, {'aor': ALICE, 'id': bid}, expect=404)
        a = C('GET', B, {'aor': ALICE}, expect=200).json()
        self.assertEqual(a['bindings'], [])

        # presence document
        P = '/v1/presentities/{presentity}/presence'
        a = C('GET', P, {'presentity': ALICE}, expect=200)
        self.assertEqual(media_type(a.ctype), 'application/pidf+xml')
        self.assertIn(b'at the desk', a.body)
        a = C('GET', P, {'presentity': 'pres:' + ALICE}, expect=200,
              headers={'Accept': 'application/json'})
        self.assertEqual(media_type(a.ctype), 'application/json')
        self.assertIn('at the desk', a.json()['pidf'])
        C('GET', P, {'presentity': 'alice'}, expect=400)

        # rules
        X = '/v1/presentities/{presentity}/rules/{watcher}'
        pw = {'presentity': ALICE, 'watcher': BOB}
        for action in ('allow', 'block', 'polite-block', 'confirm'):
            a = C('PUT', X, pw, body={'action': action}, expect=200)
            self.assertEqual(a.json(), {'presentity': ALICE,
                                        'watcher': BOB, 'action': action})
        for body in ({'action': 'maybe'}, {}, {'action': 1},
                     {'action': 'allow', 'note': 'x'}, []):
            C('PUT', X, pw, body=body, expect=400)
        C('PUT', X, pw, raw=b'nope', expect=400)
        XL = '/v1/presentities/{presentity}/rules'
        C('PUT', X, {'presentity': ALICE, 'watcher': DOMAIN},
          body={'action': 'block'}, expect=200)
        a = C('GET', XL, {'presentity': ALICE}, expect=200).json()
        self.assertEqual(a, {'presentity': ALICE, 'items': [
            {'watcher': BOB, 'action': 'confirm'},
            {'watcher': DOMAIN, 'action': 'block'}]})
        a = C('GET', XL, {'presentity': ALICE}, query={'limit': 1},
              expect=200).json()
        self.assertEqual(len(a['items']), 1)
        a = C('GET', XL, {'presentity': ALICE},
              query={'cursor': a['next_cursor']}, expect=200).json()
        self.assertEqual(a['items'], [{'watcher': DOMAIN,
                                       'action': 'block'}])
        C('GET', XL, {'presentity': 'alice'}, expect=400)
        C('GET', XL, {'presentity': ALICE}, query={'limit': 0}, expect=400)
        C('DELETE', X, {'presentity': ALICE, 'watcher': DOMAIN},
          expect=204)
        C('DELETE', X, pw, expect=204)
        C('DELETE', X, pw, expect=204)

        # who watches an AOR's registrations, and its rules
        RW = '/v1/aors/{aor}/watchers'
        C('GET', RW, {'aor': ALICE}, expect=200)
        C('GET', RW, {'aor': 'sip:' + ALICE}, query={'limit': 1,
          'state': 'active'}, expect=200)
        C('GET', RW, {'aor': 'alice'}, expect=400)
        RX = '/v1/aors/{aor}/rules/{watcher}'
        for watcher in (BOB, DOMAIN, 'sip:' + BOB):
            for action in ('allow', 'block'):
                a = C('PUT', RX, {'aor': ALICE, 'watcher': watcher},
                      body={'action': action}, expect=200)
                self.assertEqual(a.json(), {'aor': ALICE,
                                            'watcher': watcher.replace(
                                                'sip:', ''),
                                            'action': action})
            C('DELETE', RX, {'aor': ALICE, 'watcher': watcher}, expect=204)
        RL = '/v1/aors/{aor}/rules'
        C('PUT', RX, {'aor': ALICE, 'watcher': BOB}, body={'action': 'block'},
          expect=200)
        a = C('GET', RL, {'aor': 'sip:' + ALICE}, expect=200).json()
        self.assertEqual(a, {'aor': ALICE, 'items': [
            {'watcher': BOB, 'action': 'block'}]})
        C('GET', RL, {'aor': ALICE}, query={'limit': 5000}, expect=400)
        C('GET', RL, {'aor': 'alice'}, expect=400)
        for body in ({'action': 'confirm'}, {'action': 'polite-block'}, {},
                     {'action': 'allow', 'x': 1}, []):
            C('PUT', RX, {'aor': ALICE, 'watcher': BOB}, body=body,
              expect=400)
        C('PUT', RX, {'aor': 'alice', 'watcher': BOB},
          body={'action': 'allow'}, expect=400)
        C('PUT', RX, {'aor': ALICE, 'watcher': '@x'},
          body={'action': 'allow'}, expect=400)
        C('DELETE', RX, {'aor': ALICE, 'watcher': BOB}, expect=204)

        self.lamps()
        self.audit_log()
        self.feeds()
        self.traces()

        # outside the spec: unknown paths and methods
        for path in ('/nothing', '/v1', '/v1/nothing', '/index.html',
                     '/v1/subscriptions/a/b', '/v1/users/a/b',
                     '/v1/aors/%s/other' % ALICE):
            self.call_outside('GET', path, 'NotFound', 404)
        for method, path in (('POST', '/health'), ('DELETE', '/metrics'),
                             ('POST', '/'), ('PUT', '/console.js'),
                             ('PUT', '/v1/subscriptions'),
                             ('POST', '/v1/subscriptions/x'),
                             ('PUT', '/v1/users'),
                             ('GET', '/v1/users/' + ALICE),
                             ('POST', '/v1/aors/%s/bindings' % ALICE),
                             ('DELETE', '/v1/aors/%s/reginfo' % ALICE),
                             ('POST', '/v1/presentities/%s/watchers' % ALICE),
                             ('PUT', '/v1/presentities/%s/presence' % ALICE),
                             ('GET', '/v1/presentities/%s/rules/%s' %
                              (ALICE, BOB)),
                             ('POST', '/v1/aors/%s/watchers' % ALICE),
                             ('GET', '/v1/aors/%s/rules/%s' % (ALICE, BOB)),
                             ('PUT', '/v1/aors/%s/rules' % ALICE)):
            tpl = self.template_of(path)
            self.assertIsNotNone(tpl, path)
            self.assertNotIn(method.lower(), self.spec.doc['paths'][tpl],
                             '%s %s is in the spec' % (method, tpl))
            self.call_outside(method, path, 'MethodNotAllowed', 405)

        # the status and the log's levels
        a = C('GET', '/v1/status', expect=200).json()
        self.assertTrue(a['store']['connected'], a)
        # a single node: no id, no nodes (test_cluster has a cluster's)
        a = C('GET', '/v1/cluster', expect=200).json()
        self.assertEqual(a, {'node': None, 'nodes': []})
        LL = '/v1/log-levels'
        a = C('GET', LL, expect=200).json()
        self.assertEqual(a['overrides'], {})
        a = C('PUT', LL + '/{module}', {'module': 'store'},
              body={'level': 'debug'}, expect=200).json()
        self.assertEqual(a, {'module': 'store', 'level': 'debug'})
        C('PUT', LL + '/{module}', {'module': 'nosuch'},
          body={'level': 'debug'}, expect=400)
        C('PUT', LL + '/{module}', {'module': 'store'},
          body={'level': 'loud'}, expect=400)
        C('DELETE', LL + '/{module}', {'module': 'store'}, expect=204)
        C('DELETE', LL + '/{module}', {'module': 'nosuch'}, expect=400)
        a = C('PUT', LL, body={'default': 'debug'}, expect=200).json()
        self.assertEqual(a['default'], 'debug')
        C('PUT', LL, body={'default': 'x'}, expect=400)

        # every operation of the spec was called
        every = {(p, m) for p, m, _ in self.spec.operations()}
        self.assertEqual(every - self.called, set(), 'never called')

    def audit_log(self):
        """GET /v1/audit: the changes made above, newest first, each
        under the harness token's name (admin)."""
        C, A = self.call, '/v1/audit'
        a = C('GET', A, expect=200).json()
        self.assertTrue(a['items'])
        self.assertEqual({i['token'] for i in a['items']}, {'admin'})
        a = C('GET', A, query={'limit': 1, 'token': 'admin',
                               'path': '/v1/users',
                               'since': '2000-01-01T00:00:00Z'},
              expect=200).json()
        self.assertEqual(len(a['items']), 1)
        b = C('GET', A, query={'cursor': a['next_cursor'],
                               'path': '/v1/users'}, expect=200).json()
        self.assertLess(b['items'][0]['id'], a['items'][0]['id'])
        C('GET', A, query={'since': 'yesterday'}, expect=400)
        C('GET', A, token=None, expect=401)

    def traces(self):
        """POST, GET and DELETE /v1/traces."""
        C, T = self.call, '/v1/traces'
        t = C('POST', T, body={'aor': 'alice@example.test', 'duration': 60},
              expect=201).json()
        C('POST', T, body={'source': '127.0.0.1:5060'}, expect=201)
        C('POST', T, body={'duration': 5}, expect=400)
        items = C('GET', T, expect=200).json()['items']
        self.assertEqual(len(items), 2)
        for i in items:
            C('DELETE', T + '/{id}', {'id': i['id']}, expect=204)
        C('DELETE', T + '/{id}', {'id': t['id']}, expect=404)

    def lamps(self):
        """The dialog and message-summary endpoints, with a line that has
        a dialog and watchers of both packages."""
        h, C = self.herald, self.call
        r = Publisher(self, h).publish(dinfo_doc([('d1', 'confirmed')]),
                                       600, event='dialog',
                                       content_type=DINFO_TYPE)
        self.assertEqual(getattr(r, 'status', None), 200, str(r))
        for user, pw, event in (('bob', BOBPW, 'dialog'),
                                ('alice', PASSWORD, 'message-summary')):
            w = Watcher(self, h, user=user, password=pw, event=event,
                        resource='sip:' + ALICE)
            r = w.subscribe(600)
            self.assertTrue(r and 200 <= r.status < 300, str(r))
            w.recv_notify()
            self.watchers.append(w)
        a = C('GET', '/metrics', expect=200).body.decode()
        self.assertRegex(a, r'(?m)^herald_event_publications'
                         r'\{event="dialog"\} 1$')
        self.assertRegex(a, r'(?m)^herald_event_publications'
                         r'\{event="message-summary"\} 0$')

        D = '/v1/presentities/{presentity}/dialog'
        a = C('GET', D, {'presentity': 'sip:' + ALICE}, expect=200)
        self.assertEqual(media_type(a.ctype), 'application/dialog-info+xml')
        self.assertIn(b'id="d1"', a.body)
        C('GET', D, {'presentity': 'alice'}, expect=400)

        DW = '/v1/presentities/{presentity}/dialog-watchers'
        self.wait_for(lambda: C('GET', DW, {'presentity': ALICE},
                                expect=200).json()['items'],
                      'the dialog watcher in PostgreSQL')
        a = C('GET', DW, {'presentity': ALICE}, query={'limit': 1,
              'state': 'active'}, expect=200).json()
        self.assertEqual([s['event'] for s in a['items']], ['dialog'])
        C('GET', DW, {'presentity': 'alice'}, expect=400)

        DL = '/v1/presentities/{presentity}/dialog-rules'
        a = C('GET', DL, {'presentity': ALICE}, expect=200).json()
        self.assertEqual(a, {'presentity': ALICE, 'items': []})
        C('GET', DL, {'presentity': ALICE}, query={'limit': 0}, expect=400)
        C('GET', DL, {'presentity': 'alice'}, expect=400)
        DX = '/v1/presentities/{presentity}/dialog-rules/{watcher}'
        for privacy in ('identity', 'state'):
            a = C('PUT', DX, {'presentity': ALICE, 'watcher': BOB},
                  body={'privacy': privacy}, expect=200)
            self.assertEqual(a.json(), {'presentity': ALICE,
                                        'watcher': BOB, 'privacy': privacy})
        for body in ({'privacy': 'maybe'}, {}, {'action': 'allow'}, []):
            C('PUT', DX, {'presentity': ALICE, 'watcher': BOB}, body=body,
              expect=400)
        C('PUT', DX, {'presentity': 'alice', 'watcher': BOB},
          body={'privacy': 'state'}, expect=400)
        a = C('GET', DL, {'presentity': ALICE}, expect=200).json()
        self.assertEqual(a['items'], [{'watcher': BOB, 'privacy': 'state'}])
        C('DELETE', DX, {'presentity': ALICE, 'watcher': BOB}, expect=204)
        C('DELETE', DX, {'presentity': ALICE, 'watcher': DOMAIN},
          expect=204)
        C('DELETE', DX, {'presentity': ALICE, 'watcher': '@x'}, expect=400)

        M = '/v1/mailboxes/{aor}'
        a = C('GET', M, {'aor': 'sip:' + ALICE}, expect=200).json()
        self.assertEqual(a['waiting'], False, a)
        C('GET', M, {'aor': 'alice'}, expect=400)
        a = C('PUT', M, {'aor': ALICE}, body={'new': 2, 'old': 5},
              expect=200).json()
        self.assertEqual((a['waiting'], a['voice']['new']), (True, 2), a)
        a = C('PUT', M, {'aor': ALICE}, body={
            'new': 1, 'old': 0, 'new_urgent': 1, 'old_urgent': 0,
            'waiting': True, 'account': 'sip:*97@' + DOMAIN,
            'fax': {'new': 0, 'old': 1}, 'text': {'new': 1}},
            expect=200).json()
        self.assertEqual(sorted(a), ['account', 'aor', 'fax', 'text',
                                     'voice', 'waiting'])
        C('PUT', M, {'aor': ALICE}, body={'voice': {'new': 1}}, expect=200)
        for body in ({'new': -1}, {'old': 2 ** 32}, {'fax': 1},
                     {'x': 1}, []):
            C('PUT', M, {'aor': ALICE}, body=body, expect=400)
        C('PUT', M, {'aor': 'alice'}, body={'new': 1}, expect=400)
        MW = '/v1/mailboxes/{aor}/watchers'
        self.wait_for(lambda: C('GET', MW, {'aor': ALICE},
                                expect=200).json()['items'],
                      'the message-summary watcher in PostgreSQL')
        a = C('GET', MW, {'aor': ALICE}, expect=200).json()
        self.assertEqual([s['event'] for s in a['items']],
                         ['message-summary'])
        C('GET', MW, {'aor': 'alice'}, expect=400)

    def open_feed(self, template, params=None, query=None, **kw):
        """Open a live feed (Server-Sent Events) of the spec: its head
        checked against the operation; the client, to read events."""
        op = self.spec.operation(template, 'GET')
        path = template
        for k, v in (params or {}).items():
            path = path.replace('{%s}' % k, urllib.parse.quote(v, safe='@:'))
        if query:
            path += '?' + urllib.parse.urlencode(query)
        c = SseClient.open(self.herald.admin_url, path,
                           token=harness.ADMIN_TOKEN, **kw)
        self.addCleanup(c.close)
        self.assertEqual(c.status, 200, c.body)
        content = self.spec.deref(op['responses']['200'])['content']
        self.assertEqual(list(content), ['text/event-stream'])
        self.assertEqual(media_type(c.headers.get('content-type')),
                         'text/event-stream')
        self.called.add((template, 'GET'))
        return c

    def check_event(self, e, schema):
        self.validate('event %s %s' % (e.type, e.id), e.json(),
                      {'$ref': '#/components/schemas/' + schema})

    def feeds(self):
        """The live feeds: each event's data against its schema."""
        C = self.call
        F = '/v1/feed'
        c = self.open_feed(F)
        Registrant(self, self.herald).add('sip:alice@127.0.0.1:5998', 600)
        C('PUT', '/v1/presentities/{presentity}/rules/{watcher}',
          {'presentity': ALICE, 'watcher': BOB}, body={'action': 'block'},
          expect=200)
        c.wait(lambda: any(e.type == 'rule' for e in c.events),
               what='the rule event')
        # bob blocked: his presence subscription ends (rejected) as the
        # rule is applied, before the rule is told
        self.assertEqual([e.type for e in c.events],
                         ['binding', 'subscription', 'rule'])
        self.assertEqual(c.events[1].json()['reason'], 'rejected')
        for e in c.events:
            self.check_event(e, 'FeedChange')
        r = self.open_feed(F, last_event_id='5').next()
        self.assertEqual(r.type, 'reset')
        self.check_event(r, 'FeedReset')
        f = self.open_feed(F, query={'kinds': 'rule,user', 'event': 'reg',
                                     'aor': 'sip:' + ALICE})
        self.assertEqual(f.quiet(0.2), [])
        for q in ({'kinds': 'bogus'}, {'event': 'bogus'}, {'aor': 'alice'}):
            C('GET', F, query=q, expect=400)
        P = '/v1/presentities/{presentity}/presence/feed'
        e = self.open_feed(P, {'presentity': 'sip:' + ALICE}).next()
        self.assertEqual(e.type, 'presence')
        self.check_event(e, 'PresenceDocument')
        C('GET', P, {'presentity': 'alice'}, expect=400)
        R = '/v1/aors/{aor}/reginfo/feed'
        e = self.open_feed(R, {'aor': ALICE}).next()
        self.assertEqual(e.type, 'reginfo')
        self.check_event(e, 'ReginfoDocument')
        C('GET', R, {'aor': 'alice'}, expect=400)

    def template_of(self, path):
        for tpl in self.spec.doc['paths']:
            rx = '^' + re.sub(r'\\\{[^}]+\\\}', '[^/]+', re.escape(tpl)) + '$'
            if re.match(rx, path):
                return tpl
        return None


if __name__ == '__main__':
    harness.main()
