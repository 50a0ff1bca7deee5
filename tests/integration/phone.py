"""The registrar tests' digest client, shared by every test that
registers a contact: Phone (one Call-ID, increasing CSeq, one 401
answered with credentials) and contacts_of (a 200's bindings)."""

import re

from harness import digest_authorization, make_request, rand_token

PASSWORD = 'secret'


class Phone:
    """A UA registering alice: one Call-ID, increasing CSeq, digest auth."""

    def __init__(self, test, client, user='alice', password=PASSWORD):
        self.test = test
        self.c = client
        self.user = user
        self.password = password
        self.callid = rand_token(12) + '@test'
        self.cseq = 0
        self.challenge = None
        self.nc = 0
        self.digest_uri = 'sip:example.test'   # what the response covers

    def request(self, contacts=(), expires=None, to_user=None, extra=(),
                cseq=None, auth=True):
        self.cseq = cseq if cseq is not None else self.cseq + 1
        r = make_request('REGISTER', self.c.host, self.c.port,
                         ruri='sip:example.test')
        to = 'sip:%s@example.test' % (to_user or self.user)
        r.set('To', '<%s>' % to)
        r.set('From', '<%s>;tag=%s' % (to, rand_token(6)))
        r.set('Call-ID', self.callid)
        r.set('CSeq', '%d REGISTER' % self.cseq)
        for ct in contacts:
            r.add('Contact', ct)
        if expires is not None:
            r.set('Expires', str(expires))
        for name, value in extra:
            r.add(name, value)
        if auth and self.challenge:
            self.nc += 1
            r.add('Authorization', digest_authorization(
                self.challenge, self.user, self.password, 'REGISTER',
                self.digest_uri, nc=self.nc))
        return r

    def register(self, contacts=(), expires=None, **kw):
        """Send, answering one 401 with credentials; return the final."""
        resp = self.c.request(self.request(contacts, expires, **kw))
        if resp is not None and resp.status == 401:
            self.challenge = resp.get_all('WWW-Authenticate')[0]
            self.nc = 0
            resp = self.c.request(self.request(contacts, expires, **kw))
        return resp


def query_bindings(test, user='alice'):
    """{contact uri: expires} of user, by a query REGISTER (no Contact)
    over UDP from test's herald."""
    r = Phone(test, test.udp(), user=user).register([])
    test.assertStatus(r, 200)
    return contacts_of(r)


def contacts_of(resp):
    """{uri: expires} from a 200's Contact headers."""
    out = {}
    for v in resp.get_all('Contact'):
        m = re.match(r'\s*<([^>]*)>(.*)', v)
        e = re.search(r';\s*expires=(\d+)', m.group(2))
        out[m.group(1)] = int(e.group(1)) if e else None
    return out
