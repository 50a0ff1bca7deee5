#!/usr/bin/env python3
"""SIPp, the load tool, registers with digest authentication against Herald
using its own REGISTER-with-[authentication] scenario
(interop/sipp_register.xml).

What SIPp signs: its [authentication] keyword always puts
uri="sip:REMOTE_IP:REMOTE_PORT" (the address it sends to; -auth_uri HOST
gives uri="sip:HOST" instead), whatever the Request-URI of its scenario
says. So with Herald's default (--digest-uri-check strict) a REGISTER to
sip:example.test, or to sip:[remote_ip] as SIPp's documentation writes it,
gets 403; --digest-uri-check loose accepts a uri naming the address the
request came in on, and registers. Each test reads SIPp's message trace to
show what went on the wire and checks the binding with a query REGISTER.

SIPp is not packaged in Debian 12: the tests skip unless `sipp` is on PATH
or SIPP names its binary."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import free_port  # noqa: E402
from phone import PASSWORD, Phone, contacts_of  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, 'interop', 'sipp_register.xml')
SIPP_TIMEOUT = 30


def sipp_bin():
    path = os.environ.get('SIPP') or shutil.which('sipp')
    if not path or not os.access(path, os.X_OK):
        raise unittest.SkipTest('sipp is not installed (Debian 12 has no '
                                'package; set SIPP=/path/to/sipp)')
    return path


def sipp_version(path):
    """(3, 7, 7) from `sipp -v`, or None."""
    out = subprocess.run([path, '-v'], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=10).stdout.decode('utf-8', 'replace')
    m = re.search(r'SIPp v(\d+)\.(\d+)\.(\d+)', out)
    return tuple(int(x) for x in m.groups()) if m else None


class SippTest(harness.HeraldTestCase):
    autostart = False

    def setUp(self):
        super().setUp()
        self.sipp = sipp_bin()
        args = list(self.mode_args)
        # SIPp before 3.7.3 knows MD5 only, and reads the first challenge
        version = sipp_version(self.sipp)
        if version is not None and version < (3, 7, 3):
            args += ['--md5-only-agents', 'SIPp']
        self.herald = self.start_herald(args)
        self.herald.add_user('alice@example.test', PASSWORD)

    mode_args = []

    def run_sipp(self, ruri, *extra):
        """One REGISTER call; returns (exit status, message trace, port
        SIPp sent from)."""
        d = tempfile.mkdtemp(prefix='herald-sipp-')
        self.addCleanup(shutil.rmtree, d, True)
        trace = os.path.join(d, 'messages.log')
        local = free_port()
        argv = [self.sipp, '127.0.0.1:%d' % self.herald.port,
                '-sf', SCENARIO, '-t', 'u1', '-i', '127.0.0.1',
                '-p', str(local), '-m', '1', '-nd', '-nostdin',
                '-recv_timeout', '5000', '-timeout', '%ds' % SIPP_TIMEOUT,
                '-key', 'ruri', ruri, '-key', 'user', 'alice',
                '-key', 'domain', 'example.test', '-au', 'alice',
                '-ap', PASSWORD, '-trace_msg', '-message_file', trace]
        argv += list(extra)
        try:
            p = subprocess.run(argv, cwd=d, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE,
                               timeout=SIPP_TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            self.fail('sipp did not finish within %d s' % SIPP_TIMEOUT)
        text = ''
        if os.path.exists(trace):
            with open(trace, encoding='utf-8', errors='replace') as f:
                text = f.read()
        if not text:
            self.fail('sipp (exit %d) wrote no message trace:\n%s'
                      % (p.returncode, p.stderr.decode('utf-8', 'replace')))
        return p.returncode, text, local

    def digest_uri(self, trace):
        m = re.search(r'(?m)^Authorization: Digest .*\buri="([^"]*)"',
                      trace)
        self.assertIsNotNone(m, 'SIPp sent no Authorization:\n' + trace)
        return m.group(1)

    def final_status(self, trace):
        """Status of the response to the authenticated REGISTER."""
        m = re.findall(r'(?m)^SIP/2\.0 (\d{3}) .*\n(?:.+\n)*?CSeq: 2 '
                       r'REGISTER', trace)
        self.assertTrue(m, 'no response to CSeq 2:\n' + trace)
        return int(m[0])

    def bindings(self):
        r = Phone(self, self.udp()).register([])
        self.assertStatus(r, 200)
        return contacts_of(r)


class StrictTest(SippTest):
    """Herald's default: the digest uri must be the Request-URI as a URI."""

    def test_sipp_target_address_is_refused(self):
        """SIPp signs sip:127.0.0.1:PORT: not the Request-URI
        sip:example.test, nor sip:127.0.0.1 (no port: RFC 3261 19.1.4
        does not match it with :PORT). 403, nothing bound."""
        for ruri in ('sip:example.test', 'sip:127.0.0.1'):
            with self.subTest(ruri=ruri):
                code, trace, _ = self.run_sipp(ruri)
                self.assertEqual(self.digest_uri(trace),
                                 'sip:127.0.0.1:%d' % self.herald.port)
                self.assertEqual(self.final_status(trace), 403, trace)
                self.assertNotEqual(code, 0, 'sipp should fail the call')
                self.herald.wait_log('digest uri "sip:127.0.0.1:%d" is not '
                                     'the Request-URI %s (strict check)'
                                     % (self.herald.port, ruri))
        self.assertEqual(self.bindings(), {})

    def test_sipp_target_as_request_uri(self):
        """A scenario whose Request-URI is SIPp's target address, as an
        operator may write it: the same URI, 200."""
        ruri = 'sip:127.0.0.1:%d' % self.herald.port
        code, trace, local = self.run_sipp(ruri)
        self.assertEqual(self.digest_uri(trace), ruri)
        self.assertEqual(self.final_status(trace), 200, trace)
        self.assertEqual(code, 0, trace)
        self.assertIn('sip:alice@127.0.0.1:%d' % local, self.bindings())

    def test_sipp_auth_uri_compared_as_uri(self):
        """SIPp's -auth_uri names the domain in another case:
        sip:Example.TEST is sip:example.test (hosts compare in any case,
        RFC 3261 19.1.4), though not byte for byte. 200."""
        code, trace, local = self.run_sipp('sip:example.test', '-auth_uri',
                                           'Example.TEST')
        self.assertEqual(self.digest_uri(trace), 'sip:Example.TEST')
        self.assertEqual(self.final_status(trace), 200, trace)
        self.assertEqual(code, 0, trace)
        self.assertIn('sip:alice@127.0.0.1:%d' % local, self.bindings())


class LooseTest(SippTest):
    """--digest-uri-check loose: a uri naming this server is accepted."""

    mode_args = ['--digest-uri-check', 'loose']

    def test_sipp_target_address_registers(self):
        """The same SIPp runs as StrictTest's refused ones: uri
        sip:127.0.0.1:PORT is the address the REGISTER came in on. 200,
        bound."""
        for ruri in ('sip:example.test', 'sip:127.0.0.1'):
            with self.subTest(ruri=ruri):
                code, trace, local = self.run_sipp(ruri)
                self.assertEqual(self.digest_uri(trace),
                                 'sip:127.0.0.1:%d' % self.herald.port)
                self.assertEqual(self.final_status(trace), 200, trace)
                self.assertEqual(code, 0, trace)
                self.assertIn('sip:alice@127.0.0.1:%d' % local,
                              self.bindings())

    def test_other_address_still_refused(self):
        """-auth_uri naming an address Herald is not on: 403."""
        code, trace, _ = self.run_sipp('sip:example.test', '-auth_uri',
                                       '192.0.2.1:5060')
        self.assertEqual(self.digest_uri(trace), 'sip:192.0.2.1:5060')
        self.assertEqual(self.final_status(trace), 403, trace)
        self.assertNotEqual(code, 0)
        self.assertEqual(self.bindings(), {})


if __name__ == '__main__':
    harness.main()
