#!/usr/bin/env python3
"""Independent SIP clients register with Herald using digest authentication:
sipsak (C, Debian's build: MD5 only, reads only the first WWW-Authenticate)
and Perl's Net::SIP (skips the SHA-256 challenge, answers the MD5 one).
Each registration is checked afterwards with a query REGISTER (no Contact)
from the harness's own digest client.

Skips only when the client is not installed (script/bootstrap installs
both: sipsak, libnet-sip-perl)."""

import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import free_port  # noqa: E402
from phone import PASSWORD, Phone, contacts_of  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NETSIP_SCRIPT = os.path.join(HERE, 'interop', 'netsip_register.pl')
CLIENT_TIMEOUT = 30


def have_sipsak():
    return shutil.which('sipsak') is not None


def have_netsip():
    if shutil.which('perl') is None:
        return False
    return subprocess.run(['perl', '-MNet::SIP', '-e', '1'],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def run_client(argv):
    """Run a client; return (exit status, combined output)."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'').decode('utf-8', 'replace')
        return None, out + '\n(killed after %d s)' % CLIENT_TIMEOUT
    return p.returncode, p.stdout.decode('utf-8', 'replace')


class Md5OnlyRelay:
    """A UDP relay on 127.0.0.1 in front of herald that drops every
    WWW-Authenticate offering SHA-256 from responses, so that a client that
    reads only the first challenge sees the MD5 one. Used only to show the
    rest of a client's exchange works; it is not a substitute for talking
    to herald directly."""

    SHA_CHALLENGE = re.compile(rb'(?im)^WWW-Authenticate:[^\r\n]*SHA-256'
                               rb'[^\r\n]*\r\n')

    def __init__(self, server):
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        self.upstream = {}          # client address -> socket towards herald
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            socks = [self.sock] + list(self.upstream.values())
            r, _, _ = select.select(socks, [], [], 0.1)
            for s in r:
                try:
                    data, addr = s.recvfrom(70000)
                except OSError:
                    continue
                if s is self.sock:
                    up = self.upstream.get(addr)
                    if up is None:
                        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        up.bind(('127.0.0.1', 0))
                        self.upstream[addr] = up
                    up.sendto(data, self.server)
                else:
                    client = next(a for a, u in self.upstream.items()
                                  if u is s)
                    self.sock.sendto(self.SHA_CHALLENGE.sub(b'', data),
                                     client)

    def close(self):
        self.stopping = True
        self.thread.join(2)
        for s in [self.sock] + list(self.upstream.values()):
            s.close()


class InteropTest(harness.HeraldTestCase):

    def setUp(self):
        super().setUp()
        self.herald.add_user('alice@example.test', PASSWORD)

    def bindings(self):
        """{contact uri: expires} of alice, by a query REGISTER."""
        p = Phone(self, self.udp())
        r = p.register([])
        self.assertStatus(r, 200)
        return contacts_of(r)

    def assertBound(self, uri, output):
        b = self.bindings()
        self.assertIn(uri, b, 'no binding for %s after the client said it '
                      'registered; bindings: %r\nclient output:\n%s'
                      % (uri, b, output))
        self.assertTrue(0 < b[uri] <= 60, b)

    # -- sipsak --

    def sipsak(self, port, local, user='alice'):
        argv = ['sipsak', '-U', '-C', 'sip:alice@127.0.0.1:%d' % local,
                '-x', '60', '-a', PASSWORD]
        if user is not None:
            argv += ['-u', user]
        argv += ['-p', '127.0.0.1:%d' % port, '-s', 'sip:alice@example.test',
                 '-l', str(local), '-vv', '-i']
        return run_client(argv)

    def test_sipsak_register(self):
        """sipsak against herald's own challenge (SHA-256, then MD5)."""
        if not have_sipsak():
            raise unittest.SkipTest('sipsak not installed')
        local = free_port()
        code, out = self.sipsak(self.herald.port, local)
        self.assertEqual(code, 0, 'sipsak failed (exit %s):\n%s'
                         % (code, out))
        self.assertIn('successful', out)
        self.assertBound('sip:alice@127.0.0.1:%d' % local, out)

    def test_sipsak_register_md5_challenge_only(self):
        """sipsak's Authorization (MD5, its parameter order and spacing) is
        accepted when it sees only the MD5 challenge (a relay drops the
        SHA-256 one): isolates the challenge ordering from the rest."""
        if not have_sipsak():
            raise unittest.SkipTest('sipsak not installed')
        relay = Md5OnlyRelay(self.herald.addr)
        self.addCleanup(relay.close)
        local = free_port()
        code, out = self.sipsak(relay.port, local)
        self.assertEqual(code, 0, 'sipsak failed (exit %s):\n%s'
                         % (code, out))
        self.assertIn('successful', out)
        self.assertBound('sip:alice@127.0.0.1:%d' % local, out)

    # -- Perl Net::SIP --

    def netsip(self, port, local, *extra):
        return run_client(['perl', NETSIP_SCRIPT, '--port', str(port),
                           '--local-port', str(local)] + list(extra))

    def test_netsip_register(self):
        """Net::SIP::Simple, Request-URI sip:example.test, herald as the
        outgoing proxy."""
        if not have_netsip():
            raise unittest.SkipTest('perl Net::SIP not installed')
        local = free_port()
        code, out = self.netsip(self.herald.port, local)
        self.assertEqual(code, 0, 'Net::SIP register failed (exit %s):\n%s'
                         % (code, out))
        self.assertIn('status: 200', out)
        uri = 'sip:alice@127.0.0.1:%d' % local
        self.assertIn('contact: <%s>' % uri, out)
        self.assertBound(uri, out)

    def test_netsip_register_registrar_address(self):
        """Net::SIP::Simple's plain registrar => "127.0.0.1:PORT": the
        Request-URI is herald's own address, the domain is in To."""
        if not have_netsip():
            raise unittest.SkipTest('perl Net::SIP not installed')
        local = free_port()
        code, out = self.netsip(self.herald.port, local, '--registrar',
                                'sip:127.0.0.1:%d' % self.herald.port)
        self.assertEqual(code, 0, 'Net::SIP register failed (exit %s):\n%s'
                         % (code, out))
        self.assertIn('status: 200', out)
        self.assertBound('sip:alice@127.0.0.1:%d' % local, out)


if __name__ == '__main__':
    harness.main()
