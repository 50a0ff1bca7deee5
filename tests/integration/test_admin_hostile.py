#!/usr/bin/env python3
"""The admin API under hostile and unlucky clients (admin/http.c),
against a real herald.

A JSON body that names a key twice gets 400 saying so, and changes
nothing."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_admin import AdminCase, query  # noqa: E402


class DuplicateKeysTest(AdminCase):

    def assertDuplicate(self, r):
        j = self.assertProblem(r, 400)
        self.assertIn('duplicate', j.get('detail', ''), r)

    def test_users(self):
        """A key twice, the last naming another user, changes no one."""
        before = query(self.herald.db, 'SELECT username, ha1_md5 FROM '
                       'users ORDER BY username')
        self.assertDuplicate(self.api('POST', '/v1/users', body=(
            b'{"user": "alice@example.test", "password": "x", '
            b'"user": "bob@example.test"}')))
        self.assertDuplicate(self.api('POST', '/v1/users', body=(
            b'{"user": "carol@example.test", "password": "x", '
            b'"password": "y"}')))
        self.assertDuplicate(self.api(
            'PATCH', '/v1/users/alice@example.test',
            body=b'{"password": "x", "password": "y"}'))
        after = query(self.herald.db, 'SELECT username, ha1_md5 FROM '
                      'users ORDER BY username')
        self.assertEqual(after, before)

    def test_rules(self):
        path = '/v1/presentities/alice@example.test/rules/bob@example.test'
        self.assertDuplicate(self.api(
            'PUT', path, body=b'{"action": "allow", "action": "block"}'))
        j = self.get_json('/v1/presentities/alice@example.test/rules')
        self.assertEqual(j['items'], [], j)


if __name__ == '__main__':
    harness.main()
