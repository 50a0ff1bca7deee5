"""A DNS server on 127.0.0.1 standing in for a SIP domain's DNS (RFC
3263): SRV _sip._udp.DOMAIN and _sip._tcp.DOMAIN name the SIP server's
host and port, A gives that host 127.0.0.1; every other name or type
is answered with no record (NOERROR, or NXDOMAIN for names it does not
know), so nothing is ever asked of another server.

    dns = DnsServer({'example.test': herald.port})
    dns.port                        # UDP port on 127.0.0.1
    dns.queries                     # [(name, type name)] asked so far
    dns.close()

Standard library only; UDP only (every answer is small)."""

import socket
import struct
import threading

A, NAPTR, SRV, AAAA = 1, 35, 33, 28
TYPES = {A: 'A', NAPTR: 'NAPTR', SRV: 'SRV', AAAA: 'AAAA'}
NOERROR, FORMERR, NXDOMAIN = 0, 1, 3
TTL = 5


def encode_name(name):
    out = b''
    for label in name.rstrip('.').split('.'):
        out += bytes([len(label)]) + label.encode('ascii')
    return out + b'\0'


def decode_question(msg):
    """(name lower-cased, qtype, end offset) of the first question."""
    i, labels = 12, []
    while True:
        n = msg[i]
        if n == 0:
            i += 1
            break
        if n & 0xc0:
            raise ValueError('compressed name in a question')
        labels.append(msg[i + 1:i + 1 + n].decode('ascii').lower())
        i += 1 + n
    qtype, _ = struct.unpack('!HH', msg[i:i + 4])
    return '.'.join(labels), qtype, i + 4


class DnsServer:
    """domains: {SIP domain: SIP port on 127.0.0.1}; transports: those
    with an SRV record (_sip._udp, _sip._tcp)."""

    def __init__(self, domains, transports=('udp', 'tcp')):
        self.hosts = {}
        self.srv = {}
        for domain, port in domains.items():
            host = 'sip.' + domain
            self.hosts[host] = '127.0.0.1'
            for tp in transports:
                self.srv['_sip._%s.%s' % (tp, domain)] = (host, port)
        self.queries = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def known(self, name):
        return any(name == n or n.endswith('.' + name)
                   for n in list(self.hosts) + list(self.srv))

    def records(self, name, qtype):
        """RDATAs for (name, qtype), and the rcode."""
        if qtype == SRV and name in self.srv:
            host, port = self.srv[name]
            return [struct.pack('!HHH', 0, 0, port) + encode_name(host)], \
                NOERROR
        if qtype == A and name in self.hosts:
            return [socket.inet_aton(self.hosts[name])], NOERROR
        return [], NOERROR if self.known(name) else NXDOMAIN

    def answer(self, msg):
        qid, flags = struct.unpack('!HH', msg[:4])
        try:
            name, qtype, end = decode_question(msg)
        except (IndexError, ValueError, UnicodeDecodeError):
            return struct.pack('!HHHHHH', qid, 0x8000 | FORMERR, 0, 0, 0, 0)
        with self.lock:
            self.queries.append((name, TYPES.get(qtype, str(qtype))))
        rdatas, rcode = self.records(name, qtype)
        # QR, AA, the query's RD; RA
        head = struct.pack('!HHHHHH', qid,
                           0x8400 | (flags & 0x0100) | 0x0080 | rcode,
                           1, len(rdatas), 0, 0)
        body = msg[12:end]
        for rd in rdatas:
            # the name: a pointer to the question's (offset 12)
            body += struct.pack('!HHHIH', 0xc00c, qtype, 1, TTL, len(rd)) + rd
        return head + body

    def _run(self):
        while True:
            try:
                msg, addr = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(msg) < 12 or msg[2] & 0x80:
                continue
            try:
                self.sock.sendto(self.answer(msg), addr)
            except OSError:
                return

    def asked(self):
        with self.lock:
            return list(self.queries)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(2)
