#!/usr/bin/env python3
"""The address Herald advertises (Contact of a SUBSCRIBE's 200 and of
every NOTIFY, the NOTIFY's Via) when it listens on a wildcard address
(--sip-listen udp:0.0.0.0:PORT, the Docker default) and with
;advertise=HOST[:PORT].

Without advertise=, a socket on 0.0.0.0 or [::] names the local address
each request came to (UDP: IP_PKTINFO / IPV6_PKTINFO; TCP: the accepted
socket's address): a watcher that sent to 127.0.0.2 gets
<sip:127.0.0.2:PORT>, and NOTIFYs come from 127.0.0.2 with that Via,
after a kill -9 and restart too. A refresh and an unsubscribe sent to
that Contact work. With advertise= the advertised host and port win."""

import os
import select
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import hostport, via_parts  # noqa: E402
from watcher import (PASSWORD, Endpoint, Registrant, Watcher,  # noqa: E402
                     WatcherChecks, uri_of)

A = 'sip:alice@192.0.2.1:5060'
B = 'sip:alice@192.0.2.2:5060'


class At:
    """Stands for herald at another address (Endpoint.send uses .addr)."""

    def __init__(self, addr):
        self.addr = addr


def contact_addr(value):
    """(host, port) of a Contact value <sip:host:port;params>."""
    uri = uri_of(value)
    hp = uri.split(':', 1)[1].split(';')[0]
    if hp.startswith('['):
        host, _, port = hp[1:].partition(']:')
    else:
        host, _, port = hp.partition(':')
    return host, int(port)


class AdvertiseCase(WatcherChecks, harness.HeraldTestCase):
    autostart = False

    def serve(self, specs, host='127.0.0.1', tcp=False):
        """herald with these --sip-listen specs ({port}: its port)."""
        args = []
        for s in specs:
            args += ['--sip-listen', s]
        h = self.start_herald(args, host=host, udp=False, tcp=False)
        h.add_user('alice@example.test', PASSWORD)
        return h

    def watcher(self, h, tcp=False):
        w = Watcher(self, h, tcp=tcp)
        self.addCleanup(self.check_endpoint, w.ep)
        return w

    def assertAdvertised(self, w, r, n, want, tcp=False):
        """The 200's and the NOTIFY's Contact and the NOTIFY's Via name
        want ("host:port")."""
        tp = ';transport=tcp' if tcp else ''
        self.assertStatus(r, 200)
        self.assertEqual(uri_of(r.get('Contact')),
                         'sip:%s%s' % (want, tp), r)
        self.assertEqual(uri_of(n.get('Contact')),
                         'sip:%s%s' % (want, tp), n)
        proto, sentby, _ = via_parts(n.get('Via'))
        self.assertEqual(proto, 'SIP/2.0/' + ('TCP' if tcp else 'UDP'), n)
        self.assertEqual(sentby, want, n)

    def subscribe(self, h, want, tcp=False):
        w = self.watcher(h, tcp=tcp)
        r = w.subscribe(600)
        n = w.recv_notify(state='active', doc='full')
        self.assertAdvertised(w, r, n, want, tcp=tcp)
        return w, r, n

    def refresh_at_contact(self, w, r):
        """Refresh, then unsubscribe, sent to the 200's Contact."""
        w.ep.herald = At(contact_addr(r.get('Contact')))
        self.assertStatus(w.refresh(300), 200)
        self.assertEqual(w.granted, 300)
        w.recv_notify(state='active')
        self.assertStatus(w.unsubscribe(), 200)
        n = w.recv_notify(state='terminated')
        self.assertEqual(uri_of(n.get('Contact')), uri_of(r.get('Contact')))


class WildcardUdpTest(AdvertiseCase):
    def test_arrival_address_127_0_0_1(self):
        h = self.serve(['udp:0.0.0.0:{port}'])
        want = hostport('127.0.0.1', h.port)
        w, r, n = self.subscribe(h, want)
        self.assertEqual(n.source, ('127.0.0.1', h.port), n)
        self.refresh_at_contact(w, r)

    def test_arrival_address_127_0_0_2(self):
        # the client sends from 127.0.0.1 to 127.0.0.2: the kernel would
        # answer from 127.0.0.1; herald answers and notifies from the
        # address it was asked on, and names it
        h = self.serve(['udp:0.0.0.0:{port}'], host='127.0.0.2')
        want = hostport('127.0.0.2', h.port)
        w, r, n = self.subscribe(h, want)
        self.assertEqual(w.ep.host, '127.0.0.1')
        self.assertEqual(n.source, ('127.0.0.2', h.port), n)
        self.refresh_at_contact(w, r)

    def test_response_from_arrival_address(self):
        # RFC 3581 4: the response leaves from where the request came
        h = self.serve(['udp:0.0.0.0:{port}'], host='127.0.0.2')
        c = self.udp(h)
        c.send(self.req('OPTIONS', c))
        ready, _, _ = select.select([c.sock], [], [], harness.RECV_TIMEOUT)
        self.assertTrue(ready, 'no response')
        data, src = c.sock.recvfrom(70000)
        self.assertEqual(harness.Response(data).status, 200)
        self.assertEqual(src, ('127.0.0.2', h.port))

    def test_restart_keeps_contact_via_and_source(self):
        h = self.serve(['udp:0.0.0.0:{port}'], host='127.0.0.2')
        want = hostport('127.0.0.2', h.port)
        w, r, n = self.subscribe(h, want)
        h2 = self.restart_herald(h)
        if h2.port != h.port:
            self.skipTest('port %d not free for the restart' % h.port)
        w.ep.herald = h2
        reg = Registrant(self, h2)
        reg.add(A, 600)
        w.expect_jump = True
        n = w.recv_notify(state='active')
        self.assertEqual(uri_of(n.get('Contact')), 'sip:' + want, n)
        self.assertEqual(via_parts(n.get('Via'))[1], want, n)
        self.assertEqual(n.source, ('127.0.0.2', h.port), n)
        w.ep.drain(harness.SILENCE)
        self.refresh_at_contact(w, r)


class WildcardTcpTest(AdvertiseCase):
    def test_arrival_address_127_0_0_2(self):
        h = self.serve(['tcp:0.0.0.0:{port}'], host='127.0.0.2')
        want = hostport('127.0.0.2', h.port)
        w, r, n = self.subscribe(h, want, tcp=True)
        # a new connection to the Contact carries the refresh
        w.ep.c = self.tcp(At(contact_addr(r.get('Contact'))))
        self.assertStatus(w.refresh(300), 200)
        w.recv_notify(state='active')
        self.assertStatus(w.unsubscribe(), 200)
        n = w.recv_notify(state='terminated')
        self.assertEqual(via_parts(n.get('Via'))[1], want, n)


    def test_restart_new_connection_keeps_via(self):
        # after a restart the SUBSCRIBE's connection is gone: herald
        # connects to the watcher's Contact, and its Via still names the
        # address the dialog was made on (not the listener's 0.0.0.0)
        h = self.serve(['tcp:0.0.0.0:{port}', 'udp:0.0.0.0:{port}'],
                       host='127.0.0.2')
        want = hostport('127.0.0.2', h.port)
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(lsock.close)
        lsock.bind(('127.0.0.1', 0))
        lsock.listen(1)
        ep = Endpoint(self, h, tcp=True)
        self.addCleanup(self.check_endpoint, ep)
        w = Watcher(self, h, tcp=True, endpoint=ep,
                    contact='<sip:w@%s;transport=tcp>'
                    % hostport(*lsock.getsockname()))
        r = w.subscribe(600)
        self.assertAdvertised(w, r, w.recv_notify(state='active'), want,
                              tcp=True)
        h2 = self.restart_herald(h)
        if h2.port != h.port:
            self.skipTest('port %d not free for the restart' % h.port)
        Registrant(self, h2).add(A, 600)
        lsock.settimeout(harness.RECV_TIMEOUT)
        conn, _ = lsock.accept()
        c = harness.TcpClient.__new__(harness.TcpClient)
        c.sock, c.family, c.buf, c.eof = conn, socket.AF_INET, b'', False
        c.host, c.port = conn.getsockname()[:2]
        self.addCleanup(c.close)
        ep.c = c
        w.expect_jump = True
        n = w.recv_notify(state='active')
        self.assertEqual(uri_of(n.get('Contact')),
                         'sip:%s;transport=tcp' % want, n)
        self.assertEqual(via_parts(n.get('Via')), ('SIP/2.0/TCP', want,
                         via_parts(n.get('Via'))[2]), n)
        ep.drain(harness.SILENCE)


@unittest.skipUnless(harness.ipv6_available(), 'no IPv6 loopback')
class WildcardIpv6Test(AdvertiseCase):
    def test_udp_and_tcp_on_any6(self):
        h = self.serve(['udp:[::]:{port}', 'tcp:[::]:{port}'], host='::1')
        want = hostport('::1', h.port)
        w, r, n = self.subscribe(h, want)
        self.assertEqual(n.source[:2], ('::1', h.port), n)
        self.refresh_at_contact(w, r)
        self.subscribe(h, want, tcp=True)


class AdvertiseTest(AdvertiseCase):
    def test_udp_name_and_port(self):
        h = self.serve(['udp:0.0.0.0:{port};advertise=sip.example.com:5099'])
        self.subscribe(h, 'sip.example.com:5099')

    def test_tcp_name_without_port_takes_the_sockets(self):
        h = self.serve(['tcp:0.0.0.0:{port};advertise=sip.example.com'])
        self.subscribe(h, 'sip.example.com:%d' % h.port, tcp=True)

    def test_advertised_address_is_used_not_the_arrival_one(self):
        # asked on 127.0.0.1, advertising 127.0.0.2: the Contact names
        # 127.0.0.2, and a refresh sent there reaches the dialog
        h = self.serve(['udp:0.0.0.0:{port};advertise=127.0.0.2'])
        w, r, n = self.subscribe(h, hostport('127.0.0.2', h.port))
        self.refresh_at_contact(w, r)

    def test_specific_address_without_advertise(self):
        h = self.serve(['udp:127.0.0.1:{port}'])
        self.subscribe(h, hostport('127.0.0.1', h.port))

    def test_bad_advertise_refused(self):
        h = harness.Herald(['--sip-listen',
                            'udp:0.0.0.0:{port};advertise=a b'],
                           udp=False, tcp=False)
        h.port = harness.free_port()
        self.assertFalse(h._start_once())
        code, log = h.stop()
        self.assertNotEqual(code, 0)
        self.assertIn("bad --sip-listen", log)
        self.assertIn(";advertise=HOST[:PORT]", log)


if __name__ == '__main__':
    harness.main()
