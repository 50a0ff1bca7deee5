#!/usr/bin/env python3
"""Named admin tokens and the audit log (admin/tokens.c, admin/audit.c,
schema/007_audit.sql) against a real herald and PostgreSQL.

Two named tokens of --admin-tokens FILE (and the harness's --admin-token,
named admin) make changes: a user added and changed, a rule set, a
subscription deleted (its watcher hears it), failing changes (400, 404,
413, JSON that does not parse). GET /v1/audit lists each once, newest
first, with its token's name, method, path, query, status and detail,
and the body with the password redacted; no password is anywhere in the
table (read with psql) nor in the log. Reads and 401s make no record
(401s are counted in /metrics). Pagination with limit and next_cursor,
and the token, since and path filters. SIGHUP reads the tokens file
again (a token dropped gets 401, a new one works; a file others may read
is refused and the tokens stay). A start with a bad tokens file fails
and says why; named tokens alone make no "admin" token. When PostgreSQL
does not take a record, the change is still made and answered, and the
whole record is logged at warn and counted.
"""

import datetime
import json
import os
import re
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from adminapi import ALICE, AdminCase, query  # noqa: E402
from test_cli import run  # noqa: E402

OPS = 'ops-token-0123456789abcdef'
CI = 'ci-token-abcdefghij012345'
NEW = 'new-token-zyxwvutsrq987654'
TOKENS = '# the operators\nalice-ops %s\n\n   ci\t%s  \n' % (OPS, CI)
# passwords sent in bodies: none may be stored
PW1 = 'Carol-First-Pa55word'
PW2 = 'Carol-Second-Pa55word'
PW3 = 'Broken-Json-Pa55word'
PW4 = 'Bad-Role-Pa55word'
PW5 = 'Outage-Pa55word'
PASSWORDS = (PW1, PW2, PW3, PW4, PW5)
RFC3339 = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$')


def write_tokens(path, text, mode=0o600):
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)


class AuditCase(AdminCase):
    """herald with --admin-tokens (alice-ops, ci) besides the harness's
    admin token."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='herald-audit-')
        self.tokens = os.path.join(self.dir, 'tokens')
        write_tokens(self.tokens, TOKENS)
        self.herald_args = ['--admin-tokens', self.tokens]
        super().setUp()

    def audit(self, query_string='', token=OPS):
        return self.get_json('/v1/audit' + query_string, token=token)

    def rows(self, sql):
        return query(self.herald.db, sql)

    def metric(self, name):
        return harness.metric(harness.metrics(self.herald), name)


class AuditTest(AuditCase):

    def test_changes_recorded_with_names(self):
        t0 = datetime.datetime.now(datetime.timezone.utc)
        w = self.reg_watcher()
        self.subscribed(w)
        w.recv_notify(state='active')
        sid = self.item_of(w)['id']
        carol = '/v1/users/carol@example.test'
        rule = '/v1/presentities/%s/rules/bob@example.test' % ALICE
        done = []     # (token name, method, path, status) in order

        def change(name, token, method, path, status, body=None, **kw):
            r = self.api(method, path, body=body, token=token, **kw)
            self.assertEqual(r.status, status, r)
            done.append((name, method, path.split('?')[0], status))
            return r

        change('alice-ops', OPS, 'POST', '/v1/users', 201,
               {'user': 'carol@example.test', 'password': PW1})
        change('ci', CI, 'PUT', rule, 200, {'action': 'block'})
        change('ci', CI, 'DELETE', '/v1/subscriptions/%s?reason=rejected'
               % sid, 204)
        n = w.recv_notify(state='terminated')
        self.assertIn('reason=rejected', n.get('Subscription-State'))
        change('alice-ops', OPS, 'PATCH', carol, 200, {'password': PW2})
        change('alice-ops', OPS, 'POST', '/v1/users', 400,
               {'user': 'dave@example.test', 'password': PW4,
                'role': 'root'})
        broken = ('{"user":"erin@example.test","password":"%s",}' %
                  PW3).encode()
        change('ci', CI, 'POST', '/v1/users', 400, broken)
        change('ci', CI, 'DELETE', '/v1/users/nobody@example.test', 404)
        change('admin', harness.ADMIN_TOKEN, 'PUT', rule, 413,
               json.dumps({'action': 'allow',
                           'x': 'a' * (70 * 1024)}).encode())
        change('alice-ops', OPS, 'DELETE', '/v1/nothing/here', 404)
        # reads and refusals make no record
        for token in (OPS, CI):
            self.get_json('/v1/users', token=token)
            self.get_json('/v1/subscriptions', token=token)
        for auth in ('Bearer wrong-token-0123456789', 'Bearer ', 'Basic x',
                     'Bearer ' + OPS + 'x', 'Bearer ' + OPS[:-1]):
            r = self.api('DELETE', carol, auth=auth)
            self.assertProblem(r, 401)
        self.assertEqual(self.api('DELETE', carol, token=None).status, 401)
        self.assertGreaterEqual(self.metric(
            'herald_admin_unauthorized_total'), 6)

        items = self.audit('?limit=1000')['items']
        got = [(i['token'], i['method'], i['path'], i['status'])
               for i in items]
        self.assertEqual(got, list(reversed(done)))
        ids = [i['id'] for i in items]
        self.assertEqual(ids, sorted(ids, reverse=True))
        now = datetime.datetime.now(datetime.timezone.utc)
        for i in items:
            self.assertRegex(i['at'], RFC3339)
            at = datetime.datetime.strptime(i['at'], '%Y-%m-%dT%H:%M:%S.%fZ'
                                            ).replace(
                tzinfo=datetime.timezone.utc)
            self.assertTrue(t0 - datetime.timedelta(seconds=1) <= at <= now,
                            i)
        by = list(reversed(items))
        self.assertEqual(by[0]['body'], {'user': 'carol@example.test',
                                         'password': '[redacted]'})
        self.assertNotIn('detail', by[0])
        self.assertEqual(by[1]['body'], {'action': 'block'})
        self.assertEqual(by[2]['query'], {'reason': 'rejected'})
        self.assertEqual(by[2]['path'], '/v1/subscriptions/' + sid)
        self.assertNotIn('body', by[2])
        self.assertEqual(by[3]['body'], {'password': '[redacted]'})
        self.assertEqual(by[4]['body'], {'user': 'dave@example.test',
                                         'password': '[redacted]',
                                         'role': 'root'})
        self.assertEqual(by[4]['detail'], 'role must be user or monitor')
        # JSON that does not parse may hold anything: its size only
        self.assertEqual(by[5]['body'], {'unparsed': 'not JSON',
                                         'bytes': len(broken)})
        self.assertEqual(by[6]['detail'], 'no such user')
        self.assertEqual(by[7]['body'], {'unparsed': 'too large'})
        self.assertEqual(by[8]['detail'], 'Not Found')
        self.assertEqual(self.metric('herald_admin_audit_records_total'),
                         len(done))
        self.assertEqual(self.metric('herald_admin_audit_failures_total'),
                         0)

        # the table itself, read with psql: the same rows, no password
        rows = self.rows('SELECT token, method, path, status FROM '
                         'audit_log ORDER BY id')
        self.assertEqual([(t, m, p, int(s)) for t, m, p, s in rows], done)
        dump = '\n'.join(r[0] for r in self.rows(
            'SELECT audit_log::text FROM audit_log'))
        whole = json.dumps(items) + dump + self.herald.log_text()
        for pw in PASSWORDS:
            self.assertNotIn(pw, whole)
        self.assertIn('[redacted]', dump)

    def test_pages_and_filters(self):
        rule = '/v1/aors/%s/rules/w%d@example.test'
        done = []
        for n in range(7):
            token, name = (OPS, 'alice-ops') if n % 2 else (CI, 'ci')
            r = self.api('PUT', rule % (ALICE, n), body={'action': 'allow'},
                         token=token)
            self.assertEqual(r.status, 200, r)
            done.append((name, rule % (ALICE, n)))
        self.assertEqual(self.api('DELETE', '/v1/users/nobody@example.test',
                                  token=CI).status, 404)
        every = self.audit('?limit=1000')['items']
        self.assertEqual(len(every), 8)

        # pages of 3 by cursor: every record once, newest first
        seen, cursor = [], None
        while True:
            q = '?limit=3' + ('&cursor=' + cursor if cursor else '')
            page = self.audit(q)
            self.assertLessEqual(len(page['items']), 3)
            seen += page['items']
            cursor = page.get('next_cursor')
            if not cursor:
                break
            self.assertEqual(len(page['items']), 3)
        self.assertEqual(seen, every)
        self.assertEqual(len(self.audit('?limit=8')['items']), 8)
        self.assertNotIn('next_cursor', self.audit('?limit=8'))
        self.assertIn('next_cursor', self.audit('?limit=7'))

        # by token: only that name's, and the cursor keeps the filter
        ci = self.audit('?token=ci&limit=2')
        self.assertEqual([i['token'] for i in ci['items']], ['ci', 'ci'])
        rest = self.audit('?token=ci&cursor=' + ci['next_cursor'])['items']
        self.assertEqual({i['token'] for i in rest}, {'ci'})
        self.assertEqual(len(ci['items']) + len(rest), 5)
        self.assertEqual(self.audit('?token=nobody')['items'], [])
        # by path prefix, taken as text (no LIKE patterns)
        rules = self.audit('?path=/v1/aors/')['items']
        self.assertEqual([(i['token'], i['path']) for i in rules],
                         list(reversed(done)))
        self.assertEqual(len(self.audit('?path=/v1/users')['items']), 1)
        for p in ('/v1/%25', '/v1/_sers', '/v1/aors/%25'):
            self.assertEqual(self.audit('?path=' + p)['items'], [], p)
        # since: at or after, any RFC 3339 offset
        third = every[-3]['at']
        since = self.audit('?since=' + third)['items']
        self.assertEqual(since, every[:-2])
        t = datetime.datetime.strptime(third, '%Y-%m-%dT%H:%M:%S.%fZ')
        shifted = (t + datetime.timedelta(hours=2)).strftime(
            '%Y-%m-%dT%H:%M:%S.%f') + '%2B02:00'
        self.assertEqual(self.audit('?since=' + shifted)['items'], since)
        self.assertEqual(self.audit('?since=2999-01-01T00:00:00Z')['items'],
                         [])
        self.assertEqual(len(self.audit('?since=2000-01-01t00:00:00z')
                             ['items']), 8)
        # the filters together
        both = self.audit('?token=alice-ops&path=/v1/aors/&since=' +
                          third)['items']
        self.assertEqual({i['token'] for i in both}, {'alice-ops'})
        # bad values
        for q in ('since=yesterday', 'since=2024-13-01T00:00:00Z',
                  'since=2024-02-30T00:00:00Z', 'since=2024-01-01',
                  'since=2024-01-01T00:00:00', 'cursor=abc', 'cursor=0',
                  'cursor=-5', 'limit=0', 'limit=1001'):
            self.assertProblem(self.api('GET', '/v1/audit?' + q), 400)
        # reading the log is no change
        self.assertEqual(len(self.audit('?limit=1000')['items']), 8)

    def test_record_not_written(self):
        """PostgreSQL does not take the record (its table is away): the
        change is made and answered all the same, the record logged at
        warn, whole, and counted."""
        harness.psql(self.herald.db,
                     'ALTER TABLE audit_log RENAME TO audit_log_away')
        r = self.api('POST', '/v1/users', token=CI,
                     body={'user': 'olga@example.test', 'password': PW5})
        self.assertEqual(r.status, 201, r)
        self.herald.wait_log('audit record not written')
        line = next(ln for ln in self.herald.log_text().splitlines()
                    if 'audit record not written' in ln)
        self.assertIn(' warn ', line)
        rec = json.loads(line[line.index('{'):])
        self.assertEqual({k: rec[k] for k in ('token', 'method', 'path',
                                              'status', 'body')},
                         {'token': 'ci', 'method': 'POST',
                          'path': '/v1/users', 'status': 201,
                          'body': {'user': 'olga@example.test',
                                   'password': '[redacted]'}})
        self.assertRegex(rec['at'], RFC3339)
        self.assertNotIn(PW5, self.herald.log_text())
        self.assertEqual(self.metric('herald_admin_audit_failures_total'), 1)
        self.assertEqual(self.rows("SELECT role FROM users WHERE username = "
                                   "'olga'"), [('user',)])
        harness.psql(self.herald.db,
                     'ALTER TABLE audit_log_away RENAME TO audit_log')
        r = self.api('DELETE', '/v1/users/olga@example.test', token=CI)
        self.assertEqual(r.status, 204, r)
        self.assertEqual([(i['method'], i['status']) for i in
                          self.audit()['items']], [('DELETE', 204)])


class ReloadTest(AuditCase):

    def hup(self):
        seen = self.herald.log_text().count('SIGHUP: log')
        self.herald.proc.send_signal(signal.SIGHUP)
        self.herald.wait_log('SIGHUP: log', seen)

    def test_sighup_reads_the_tokens_again(self):
        path = '/v1/presentities/%s/rules/bob@example.test' % ALICE
        write_tokens(self.tokens, 'alice-ops %s\nnew-ops %s\n' % (OPS, NEW))
        self.hup()
        self.herald.wait_log('SIGHUP: admin tokens: admin, alice-ops, '
                             'new-ops')
        self.assertProblem(self.api('PUT', path, body={'action': 'allow'},
                                    token=CI), 401)
        for token in (NEW, OPS, harness.ADMIN_TOKEN):
            r = self.api('PUT', path, body={'action': 'allow'}, token=token)
            self.assertEqual(r.status, 200, r)
        self.assertEqual([i['token'] for i in self.audit()['items']],
                         ['admin', 'alice-ops', 'new-ops'])

        # a file others may read, or one that does not parse: refused,
        # the tokens stay as they were
        for text, mode, why in (
                ('x %s\n' % CI, 0o644, 'group or others may access it '
                 '(mode 0644)'),
                ('x %s extra\n' % CI, 0o600, 'line 1: a line is NAME '
                 'TOKEN'),
                ('x short\n', 0o600, 'line 1: a token is 16 to 256'),
                ('a/b %s\n' % CI, 0o600, 'line 1: a name is'),
                ('x %s\ny %s\n' % (CI, CI), 0o600, 'x and y have the same '
                 'token'),
                ('x %s\nx %s\n' % (CI, NEW), 0o600, 'the name x is given '
                 'twice'),
                ('admin %s\n' % CI, 0o600, 'the name admin is given twice')):
            write_tokens(self.tokens, text, mode)
            self.hup()
            self.herald.wait_log(why)
            self.assertIn('the tokens stay as they were',
                          self.herald.log_text())
            self.assertEqual(self.api('GET', '/v1/users',
                                      token=NEW).status, 200, text)
            self.assertEqual(self.api('GET', '/v1/users',
                                      token=CI).status, 401, text)
        os.unlink(self.tokens)
        self.hup()
        self.herald.wait_log('No such file or directory; the tokens stay')
        self.assertEqual(self.api('GET', '/v1/users', token=NEW).status, 200)
        # a file of no tokens takes every named one away; --admin-token's
        # stays
        write_tokens(self.tokens, '# none for now\n')
        said = 'SIGHUP: admin tokens: admin'
        seen = self.herald.log_text().count(said)
        self.hup()
        self.herald.wait_log(said, seen)
        self.assertRegex(self.herald.log_text(),
                         '(?m)' + re.escape(said) + '$')
        self.assertEqual(self.api('GET', '/v1/users', token=NEW).status, 401)
        self.assertEqual(self.api('GET', '/v1/users').status, 200)


class StartTest(AdminCase):
    autostart = False

    def serve(self, tokens_text, mode=0o600, extra=()):
        d = tempfile.mkdtemp(prefix='herald-audit-')
        path = os.path.join(d, 'tokens')
        write_tokens(path, tokens_text, mode)
        return run(['serve', '--database-url', harness.fresh_database(),
                    '--sip-listen', 'udp:127.0.0.1:%d' %
                    harness.free_port(), '--domain', 'example.test',
                    '--admin-listen', '127.0.0.1:0', '--admin-tokens', path]
                   + list(extra))

    def test_bad_tokens_file_refused(self):
        for text, mode, why in (
                ('x %s\n' % OPS, 0o640, 'group or others may access it '
                 '(mode 0640): chmod 600 it'),
                ('x\n', 0o600, 'line 1: a line is NAME TOKEN'),
                ('# c\nx %s\nx %s\n' % (OPS, CI), 0o600,
                 'the name x is given twice'),
                ('', 0o600, 'no token in it, and no --admin-token')):
            code, out, err = self.serve(text, mode, ['--admin-token-file',
                                                     '/nonexistent/t'])
            self.assertNotEqual(code, 0, out + err)
            self.assertIn(why, out + err)
        code, out, err = self.serve('admin %s\n' % OPS, 0o600,
                                    ['--admin-token', harness.ADMIN_TOKEN])
        self.assertNotEqual(code, 0)
        self.assertIn('the name admin is given twice', out + err)

    def test_named_tokens_alone(self):
        """With --admin-tokens and no --admin-token, no token is made up
        (no admin-token file written): only the file's names work."""
        d = tempfile.mkdtemp(prefix='herald-audit-')
        tokens = os.path.join(d, 'tokens')
        kept = os.path.join(d, 'admin-token')
        write_tokens(tokens, 'ops %s\n' % OPS)
        self.herald = self.start_herald(
            ['--sip-listen', 'udp:127.0.0.1:{port}', '--domain',
             'example.test', '--admin-listen', '127.0.0.1:0',
             '--admin-tokens', tokens, '--admin-token-file', kept],
            listen=False)
        self.herald.wait_log('admin tokens: ops')
        self.assertFalse(os.path.exists(kept))
        self.assertEqual(self.api('GET', '/v1/users').status, 401)
        r = self.api('DELETE', '/v1/users/x@example.test', token=OPS)
        self.assertEqual(r.status, 404, r)
        items = self.get_json('/v1/audit', token=OPS)['items']
        self.assertEqual([(i['token'], i['status']) for i in items],
                         [('ops', 404)])


if __name__ == '__main__':
    harness.main()
