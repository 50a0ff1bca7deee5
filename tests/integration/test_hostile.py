#!/usr/bin/env python3
"""Hostile and unlucky clients against the real binary: requests that
reuse a branch, floods of unauthenticated requests, one source over its
limits while others go on."""

import os
import time

import harness

TORTURE = os.path.join(harness.ROOT, 'tests', 'unit', 'sip', 'torture',
                       'rfc4475')


def torture(name):
    """An RFC 4475 message with ;rport on its Via, so that the answer
    comes back to the socket it was sent from (its sent-by is not us)."""
    with open(os.path.join(TORTURE, name + '.dat'), 'rb') as f:
        data = f.read()
    head, sep, body = data.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    for i, line in enumerate(lines):
        if line.lower().startswith(b'via:'):
            lines[i] = line + b';rport'
            break
    return b'\r\n'.join(lines) + sep + body


class BranchReuseTest(harness.HeraldTestCase):
    """RFC 4475 cparam01/cparam02 and escnull/regescrt share a branch and
    a sent-by: each is a request of its own, not a retransmission of the
    one before (RFC 3261 17.2.3 with the Call-ID and CSeq compared too)."""

    def pair(self, first, second):
        c = self.udp()
        for name in (first, second):
            c.send(torture(name))
            r = c.recv()
            self.assertIsNotNone(r, 'no answer to ' + name)
            self.assertTrue(r.get('call-id').startswith(name + '.'),
                            '%s got the answer to another request:\n%s'
                            % (name, r))

    def test_cparam01_then_cparam02(self):
        self.pair('cparam01', 'cparam02')

    def test_escnull_then_regescrt(self):
        self.pair('escnull', 'regescrt')


if __name__ == '__main__':
    harness.main()
