"""A SIP watcher (RFC 6665 subscriber) for the integration tests, on top
of harness.py, standard library only (plus xmllint for the schema check).

    w = Watcher(test, herald)              # UDP; Watcher(..., tcp=True)
    r = w.subscribe(expires=600)           # answers one 401 with digest
    n = w.recv_notify()                    # next NOTIFY, answered 200,
                                           # checked against the dialog
    doc = n.reginfo                        # parse_reginfo() of its body
    w.refresh(600); w.unsubscribe()        # in-dialog SUBSCRIBEs

An Endpoint owns the socket. It reads everything that arrives, answers
NOTIFYs at once (200, a chosen code, or not at all) and files them and
the responses by Call-ID, so a NOTIFY that overtakes the 200 of its
SUBSCRIBE (UDP) is kept for later. A retransmitted NOTIFY (same Call-ID,
CSeq and Via branch) is answered again like the first copy and counted,
not delivered twice. Several Watchers may share one Endpoint (one Contact,
several dialogs: the replacement tests).

Every reginfo body received is validated with xmllint against the
project's copy of the RFC 3680 schema (tests/unit/xml/reginfo.xsd).

Registrant registers alice's contacts from a socket of its own, with the
registrar tests' digest client (phone.Phone).

The presence packages (test_presence.py) use the same Watcher with
event='presence' or event='presence.winfo': Accept, the expected
Content-Type and the checks follow the package. PIDF bodies are validated
against tests/unit/xml/pidf.xsd (pidf-rpid.xsd when they carry RPID),
watcherinfo bodies against watcherinfo.xsd; n.pidf and n.winfo parse them
(parse_pidf, parse_winfo). Publisher PUBLISHes (RFC 3903) from a socket of
its own with digest, keeping the entity-tag; pidf_doc() writes a document.
"""

import os
import re
import select
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (addr_tag, canon, digest_authorization,  # noqa: E402
                     hostport, new_branch, rand_token)
from phone import PASSWORD, Phone, contacts_of  # noqa: E402

DOMAIN = 'example.test'
REGINFO_TYPE = 'application/reginfo+xml'
REGINFO_NS = 'urn:ietf:params:xml:ns:reginfo'
# the project's own copy of RFC 3680's schema (tests/unit uses it too)
REGINFO_XSD = os.path.join(harness.ROOT, 'tests', 'unit', 'xml',
                           'reginfo.xsd')
WAIT = harness.RECV_TIMEOUT

PIDF_TYPE = 'application/pidf+xml'
PIDF_NS = 'urn:ietf:params:xml:ns:pidf'
RPID_NS = 'urn:ietf:params:xml:ns:pidf:rpid'
DM_NS = 'urn:ietf:params:xml:ns:pidf:data-model'
WINFO_TYPE = 'application/watcherinfo+xml'
WINFO_NS = 'urn:ietf:params:xml:ns:watcherinfo'
DINFO_TYPE = 'application/dialog-info+xml'
DINFO_NS = 'urn:ietf:params:xml:ns:dialog-info'
SMS_TYPE = 'application/simple-message-summary'
# the body type of each package's NOTIFYs (and the Accept sent)
PACKAGE_TYPES = {'reg': REGINFO_TYPE, 'presence': PIDF_TYPE,
                 'presence.winfo': WINFO_TYPE, 'dialog': DINFO_TYPE,
                 'message-summary': SMS_TYPE}


def xsd_path(name):
    """tests/unit/xml/NAME, or the shared copy when the project has none
    (yet)."""
    own = os.path.join(harness.ROOT, 'tests', 'unit', 'xml', name)
    if os.path.exists(own):
        return own
    return os.path.join('/work/shared/xsd', name)


# ---------------------------------------------------------------------------
# messages

class Message(harness.Parsed):
    """A parsed SIP request or response (headers in order, any case)."""

    def __init__(self, raw, source=None, at=None):
        super().__init__(raw)
        self.source = source
        self.at = at if at is not None else time.monotonic()
        m = re.match(r'^SIP/2\.0 (\d{3}) (.*)$', self.start)
        if m:
            self.is_request = False
            self.status = int(m.group(1))
            self.reason = m.group(2)
            self.method = None
            self.ruri = None
        else:
            m = re.match(r'^([A-Za-z]+) (\S+) SIP/2\.0$', self.start)
            if not m:
                raise ValueError('bad start line %r' % self.start)
            self.is_request = True
            self.method = m.group(1)
            self.ruri = m.group(2)
            self.status = None
            self.reason = None
        self._reginfo = None
        self._pidf = None
        self._winfo = None

    # -- convenience --

    @property
    def cseq(self):
        """(number, method) of CSeq."""
        v = self.get('CSeq') or ''
        m = re.match(r'\s*(\d+)\s+(\S+)', v)
        return (int(m.group(1)), m.group(2)) if m else (None, None)

    @property
    def call_id(self):
        return self.get('Call-ID')

    @property
    def branch(self):
        v = self.get('Via')
        return harness.via_parts(v)[2].get('branch') if v else None

    @property
    def sub_state(self):
        """Subscription-State as (state, {param: value})."""
        return header_params(self.get('Subscription-State'))

    @property
    def event(self):
        """Event as (package, {param: value})."""
        return header_params(self.get('Event'))

    @property
    def reginfo(self):
        """parse_reginfo() of the body (None without one)."""
        if self._reginfo is None and self.body:
            self._reginfo = parse_reginfo(self.body)
        return self._reginfo

    @property
    def content_type(self):
        """Content-Type without parameters, lower case ('' without)."""
        return (self.get('Content-Type') or '').split(';')[0].strip() \
            .lower()

    @property
    def pidf(self):
        """parse_pidf() of the body (None without one)."""
        if self._pidf is None and self.body:
            self._pidf = parse_pidf(self.body)
        return self._pidf

    @property
    def winfo(self):
        """parse_winfo() of the body (None without one)."""
        if self._winfo is None and self.body:
            self._winfo = parse_winfo(self.body)
        return self._winfo

    def __str__(self):
        return self.raw.decode('utf-8', 'replace')

    def __repr__(self):
        return '<%s>' % self.start


def header_params(value):
    """'active;expires=597' -> ('active', {'expires': '597'});
    None -> (None, {})."""
    if value is None:
        return None, {}
    parts = [p.strip() for p in value.split(';')]
    params = {}
    for p in parts[1:]:
        k, eq, v = p.partition('=')
        params[k.strip().lower()] = v.strip().strip('"') if eq else None
    return parts[0].lower(), params


def uri_of(value):
    """The URI of a name-addr (<...>) or addr-spec header value."""
    m = re.search(r'<([^>]*)>', value or '')
    if m:
        return m.group(1)
    return (value or '').split(';')[0].strip()


def response_to(req, code, reason=None, to_tag=None):
    """A response to a received request: Via, From, To, Call-ID and CSeq
    copied (RFC 3261 8.2.6.2)."""
    reasons = {200: 'OK', 481: 'Call/Transaction Does Not Exist',
               500: 'Server Internal Error', 489: 'Bad Event',
               404: 'Not Found', 603: 'Decline'}
    lines = ['SIP/2.0 %d %s' % (code, reason or reasons.get(code, 'Other'))]
    for n, v in req.headers:
        c = canon(n)
        if c == 'to' and to_tag and addr_tag(v) is None:
            v += ';tag=' + to_tag
        if c in ('via', 'from', 'to', 'call-id', 'cseq'):
            lines.append('%s: %s' % (n, v))
    lines.append('Content-Length: 0')
    return ('\r\n'.join(lines) + '\r\n\r\n').encode()


# ---------------------------------------------------------------------------
# reginfo (RFC 3680 5)

class Reginfo:
    """A parsed reginfo document: version, state and registrations
    (dicts: aor, id, state, contacts: list of dicts with the contact's
    attributes plus 'uri')."""

    def __init__(self, version, state, registrations, text):
        self.version = version
        self.state = state
        self.registrations = registrations
        self.text = text

    def registration(self, aor='sip:alice@%s' % DOMAIN):
        """The <registration> of aor, or None."""
        for r in self.registrations:
            if r['aor'] == aor:
                return r
        return None

    def contacts(self, aor='sip:alice@%s' % DOMAIN):
        """{uri: contact dict} of aor's registration."""
        r = self.registration(aor)
        return {c['uri']: c for c in r['contacts']} if r else {}

    def __repr__(self):
        return self.text


def parse_reginfo(body):
    """Parse an application/reginfo+xml body with xml.etree."""
    text = body.decode('utf-8') if isinstance(body, bytes) else body
    root = ET.fromstring(text)
    ns = '{%s}' % REGINFO_NS
    if root.tag != ns + 'reginfo':
        raise ValueError('root element %s, not reginfo' % root.tag)
    regs = []
    for r in root.findall(ns + 'registration'):
        contacts = []
        for c in r.findall(ns + 'contact'):
            d = dict(c.attrib)
            u = c.find(ns + 'uri')
            d['uri'] = (u.text or '').strip() if u is not None else None
            dn = c.find(ns + 'display-name')
            if dn is not None:
                d['display-name'] = dn.text
            d['unknown-params'] = {
                p.get('name'): p.text
                for p in c.findall(ns + 'unknown-param')}
            contacts.append(d)
        regs.append({'aor': r.get('aor'), 'id': r.get('id'),
                     'state': r.get('state'), 'contacts': contacts})
    return Reginfo(int(root.get('version')), root.get('state'), regs, text)


def validate_reginfo(body):
    """(ok, xmllint's output) for body against RFC 3680's schema."""
    if isinstance(body, str):
        body = body.encode()
    p = subprocess.run(['xmllint', '--nonet', '--noout', '--schema',
                        REGINFO_XSD, '-'], input=body,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode == 0, p.stdout.decode('utf-8', 'replace')


# ---------------------------------------------------------------------------
# PIDF (RFC 3863) and watcherinfo (RFC 3858)

def xmllint(body, xsd):
    """(ok, xmllint's output) for body against the schema file xsd."""
    if isinstance(body, str):
        body = body.encode()
    p = subprocess.run(['xmllint', '--nonet', '--noout', '--schema', xsd,
                        '-'], input=body, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    return p.returncode == 0, p.stdout.decode('utf-8', 'replace')


def pidf_xsd(body):
    """The schema a PIDF body is checked against: pidf-rpid.xsd when it
    carries RPID elements, else pidf.xsd."""
    if isinstance(body, str):
        body = body.encode()
    return xsd_path('pidf-rpid.xsd' if RPID_NS.encode() in body
                    else 'pidf.xsd')


def validate_pidf(body):
    """(ok, xmllint's output) for body against RFC 3863's schema (with
    RFC 4480's when it uses RPID)."""
    return xmllint(body, pidf_xsd(body))


def validate_winfo(body):
    """(ok, xmllint's output) for body against RFC 3858's schema."""
    return xmllint(body, xsd_path('watcherinfo.xsd'))


def validate_dinfo(body):
    """(ok, xmllint's output) for body against RFC 4235's schema."""
    return xmllint(body, xsd_path('dialog-info.xsd'))


VALIDATORS = {REGINFO_TYPE: validate_reginfo, PIDF_TYPE: validate_pidf,
              WINFO_TYPE: validate_winfo, DINFO_TYPE: validate_dinfo}


class Pidf:
    """A parsed PIDF document: entity, tuples (dicts: id, basic, notes,
    contact, timestamp, children: the tags of the tuple's children,
    status: the tags of <status>'s children, elem), notes (of
    <presence>), others (the elements of <presence> that are neither
    tuple nor note), root (the ElementTree element) and text."""

    def __init__(self, root, text):
        ns = '{%s}' % PIDF_NS
        self.root = root
        self.text = text
        self.entity = root.get('entity')
        self.tuples = []
        self.notes = [n.text for n in root.findall(ns + 'note')]
        self.others = [c for c in root
                       if c.tag not in (ns + 'tuple', ns + 'note')]
        for t in root.findall(ns + 'tuple'):
            st = t.find(ns + 'status')
            basic = st.find(ns + 'basic') if st is not None else None
            contact = t.find(ns + 'contact')
            ts = t.find(ns + 'timestamp')
            self.tuples.append({
                'id': t.get('id'),
                'basic': (basic.text or '').strip()
                if basic is not None else None,
                'notes': [n.text for n in t.findall(ns + 'note')],
                'contact': (contact.text or '').strip()
                if contact is not None else None,
                'timestamp': ts.text if ts is not None else None,
                'children': [c.tag for c in t],
                'status': [c.tag for c in st] if st is not None else [],
                'elem': t})

    def basics(self):
        """{tuple id: basic}."""
        return {t['id']: t['basic'] for t in self.tuples}

    def tuple(self, tid):
        for t in self.tuples:
            if t['id'] == tid:
                return t
        return None

    def find_all(self, ns, name=None):
        """Every element of namespace ns (named name) anywhere."""
        want = '{%s}%s' % (ns, name) if name else None
        return [e for e in self.root.iter()
                if (e.tag == want if want else
                    e.tag.startswith('{%s}' % ns))]

    def __repr__(self):
        return self.text


def parse_pidf(body):
    """Parse an application/pidf+xml body with xml.etree."""
    text = body.decode('utf-8') if isinstance(body, bytes) else body
    root = ET.fromstring(text)
    if root.tag != '{%s}presence' % PIDF_NS:
        raise ValueError('root element %s, not presence' % root.tag)
    return Pidf(root, text)


def pidf_doc(tuples=(), entity='pres:alice@%s' % DOMAIN, notes=(),
             extra='', xmlns=''):
    """A PIDF document (bytes). tuples: (id, basic) or (id, basic, note)
    or (id, basic, note, contact); extra: XML text put after the tuples
    (a <dm:person>, say); xmlns: further namespace declarations
    ('xmlns:dm="..."')."""
    def esc(v):
        return (v.replace('&', '&amp;').replace('<', '&lt;')
                .replace('>', '&gt;').replace('"', '&quot;'))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<presence xmlns="%s"%s entity="%s">'
           % (PIDF_NS, (' ' + xmlns) if xmlns else '', esc(entity))]
    for t in tuples:
        tid, basic = t[0], t[1]
        note = t[2] if len(t) > 2 else None
        contact = t[3] if len(t) > 3 else None
        out.append('<tuple id="%s"><status><basic>%s</basic></status>'
                   % (esc(tid), basic))
        if contact:
            out.append('<contact>%s</contact>' % esc(contact))
        if note is not None:
            out.append('<note>%s</note>' % esc(note))
        out.append('</tuple>')
    for n in notes:
        out.append('<note>%s</note>' % esc(n))
    out.append(extra)
    out.append('</presence>')
    return '\n'.join(out).encode()


class Winfo:
    """A parsed watcherinfo document: version, state, lists (dicts:
    resource, package, watchers: list of dicts with the watcher's
    attributes plus 'uri')."""

    def __init__(self, version, state, lists, text):
        self.version = version
        self.state = state
        self.lists = lists
        self.text = text

    def watchers(self, resource='sip:alice@%s' % DOMAIN,
                 package='presence'):
        """The <watcher>s of that watcher-list (every one of them)."""
        out = []
        for wl in self.lists:
            if wl['resource'] == resource and wl['package'] == package:
                out += wl['watchers']
        return out

    def watcher(self, uri, **kw):
        """The <watcher>s naming uri (a list: one per subscription)."""
        return [w for w in self.watchers(**kw) if w['uri'] == uri]

    def __repr__(self):
        return self.text


def parse_winfo(body):
    """Parse an application/watcherinfo+xml body with xml.etree."""
    text = body.decode('utf-8') if isinstance(body, bytes) else body
    root = ET.fromstring(text)
    ns = '{%s}' % WINFO_NS
    if root.tag != ns + 'watcherinfo':
        raise ValueError('root element %s, not watcherinfo' % root.tag)
    lists = []
    for wl in root.findall(ns + 'watcher-list'):
        ws = []
        for w in wl.findall(ns + 'watcher'):
            d = dict(w.attrib)
            d['uri'] = (w.text or '').strip()
            ws.append(d)
        lists.append({'resource': wl.get('resource'),
                      'package': wl.get('package'), 'watchers': ws})
    return Winfo(int(root.get('version')), root.get('state'), lists, text)


class Dinfo:
    """A dialog-info document: version, state, entity, and dialogs, each
    a dict of its attributes with 'state' (the <state> text), 'event'
    (its event attribute) and 'children' (the tags of its elements)."""

    def __init__(self, root, text):
        ns = '{%s}' % DINFO_NS
        self.text = text
        self.version = int(root.get('version'))
        self.state = root.get('state')
        self.entity = root.get('entity')
        self.dialogs = []
        for d in root.findall(ns + 'dialog'):
            one = dict(d.attrib)
            st = d.find(ns + 'state')
            one['state'] = (st.text or '').strip()
            one['event'] = st.get('event')
            one['children'] = [c.tag for c in d]
            self.dialogs.append(one)

    def states(self):
        """{dialog id: state}."""
        return {d['id']: d['state'] for d in self.dialogs}

    def __repr__(self):
        return self.text


def parse_dinfo(body):
    """Parse an application/dialog-info+xml body with xml.etree."""
    text = body.decode('utf-8') if isinstance(body, bytes) else body
    root = ET.fromstring(text)
    if root.tag != '{%s}dialog-info' % DINFO_NS:
        raise ValueError('root element %s, not dialog-info' % root.tag)
    return Dinfo(root, text)


def dinfo_doc(dialogs, entity='sip:alice@%s' % DOMAIN, version=0,
              state='full'):
    """A dialog-info body: dialogs as (id, state) or (id, state, extra
    XML inside <dialog> after <state>)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<dialog-info '
           'xmlns="%s" version="%d" state="%s" entity="%s">'
           % (DINFO_NS, version, state, entity)]
    for d in dialogs:
        extra = d[2] if len(d) > 2 else ''
        out.append('<dialog id="%s" direction="recipient"><state>%s</state>'
                   '%s</dialog>' % (d[0], d[1], extra))
    out.append('</dialog-info>')
    return '\n'.join(out).encode()


# ---------------------------------------------------------------------------
# publishing (RFC 3903)

class Publisher:
    """PUBLISHes for a user (Event: presence) from a UDP socket of its
    own: one Call-ID, increasing CSeq, digest credentials (the challenge
    kept and used again with a growing nonce count; a new 401 is
    answered once). etag: the last SIP-ETag received."""

    def __init__(self, test, herald, user='alice', password=PASSWORD,
                 resource=None):
        self.test = test
        self.c = test.udp(herald)
        self.user = user
        self.password = password
        self.resource = resource or 'sip:alice@%s' % DOMAIN
        self.from_uri = 'sip:%s@%s' % (user, DOMAIN)
        self.call_id = '%s@publisher.test' % rand_token(16)
        self.from_tag = rand_token(10)
        self.cseq = 0
        self.challenge = None
        self.nc = 0
        self.etag = None
        self.etags = []         # every SIP-ETag received, in order

    def retarget(self, herald):
        """Talk to another herald (after a restart)."""
        self.c = self.test.udp(herald)

    def build(self, body=None, expires=None, etag=None,
              content_type=PIDF_TYPE, event='presence', extra=(),
              auth=True):
        """A PUBLISH (not sent). body None: no body and no Content-Type
        (b'' with a content_type: an empty body that has one)."""
        self.cseq += 1
        req = harness.Request('PUBLISH', self.resource)
        req.add('Via', 'SIP/2.0/UDP %s;branch=%s;rport'
                % (hostport(self.c.host, self.c.port), new_branch()))
        req.add('Max-Forwards', 70)
        req.add('From', '<%s>;tag=%s' % (self.from_uri, self.from_tag))
        req.add('To', '<%s>' % self.resource)
        req.add('Call-ID', self.call_id)
        req.add('CSeq', '%d PUBLISH' % self.cseq)
        if event:
            req.add('Event', event)
        if expires is not None:
            req.add('Expires', expires)
        if etag:
            req.add('SIP-If-Match', etag)
        for n, v in extra:
            req.add(n, v)
        if body is not None:
            if content_type:
                req.add('Content-Type', content_type)
            req.body = body
        if auth and self.challenge:
            self.nc += 1
            req.add('Authorization', digest_authorization(
                self.challenge, self.user, self.password, 'PUBLISH',
                self.resource, nc=self.nc))
        return req

    def send(self, timeout=WAIT, auth=True, **kw):
        """Build and send a PUBLISH, answering a 401 once; the final
        response. A 2xx with SIP-ETag sets etag."""
        r = self.c.request(self.build(auth=auth, **kw), timeout)
        if r is not None and r.status == 401 and auth:
            self.challenge = r.get_all('WWW-Authenticate')[0]
            self.nc = 0
            r = self.c.request(self.build(auth=auth, **kw), timeout)
        if r is not None and 200 <= r.status < 300:
            e = r.get('SIP-ETag')
            if e is not None:
                self.etag = e
                self.etags.append(e)
        return r

    # the four kinds of RFC 3903 4

    def publish(self, body, expires=None, **kw):
        """Initial publication: body, no SIP-If-Match."""
        return self.send(body=body, expires=expires, **kw)

    def refresh(self, expires=None, etag=None, **kw):
        """SIP-If-Match, no body."""
        return self.send(expires=expires, etag=etag or self.etag, **kw)

    def modify(self, body, expires=None, etag=None, **kw):
        """SIP-If-Match and a body."""
        return self.send(body=body, expires=expires, etag=etag or self.etag,
                         **kw)

    def remove(self, etag=None, **kw):
        """SIP-If-Match, Expires: 0."""
        return self.send(expires=0, etag=etag or self.etag, **kw)


# ---------------------------------------------------------------------------
# the socket side

class Endpoint:
    """One UDP socket or TCP connection of a watcher: reads, answers
    NOTIFYs, files messages by Call-ID."""

    def __init__(self, test, herald, tcp=False, client=None):
        self.test = test
        self.herald = herald
        self.tcp = tcp
        if client is None:
            client = test.tcp(herald) if tcp else test.udp(herald)
        self.c = client
        self.host, self.port = client.host, client.port
        # TLS and WebSocket clients (wsclient.py) say their own
        self.transport = getattr(client, 'transport',
                                 'TCP' if tcp else 'UDP')
        self.dialogs = {}       # Call-ID -> Watcher
        self.responses = {}     # Call-ID -> [Message]
        self.seen = {}          # (Call-ID, CSeq, branch) -> [answer code]
        self.copies = {}        # (Call-ID, CSeq, branch) -> [Message]
        self.stray = []         # NOTIFYs of no known dialog
        self.bad = []           # what could not be parsed
        self.schema_errors = []  # (body, xmllint output)

    # -- sending --

    def send(self, data, dest=None):
        data = bytes(data)
        if self.tcp:
            self.c.send(data)
        else:
            self.c.sock.sendto(data, dest or self.herald.addr)

    # -- receiving --

    def _recv_one(self, timeout):
        """(raw, source) of the next message, or None."""
        if self.tcp:
            raw = self.c.recv_raw(timeout)
            return (raw, None) if raw is not None else None
        r, _, _ = select.select([self.c.sock], [], [], max(0, timeout))
        if not r:
            return None
        data, src = self.c.sock.recvfrom(70000)
        return data, src

    def pump(self, timeout):
        """Read and file one message; False when none came in time."""
        got = self._recv_one(timeout)
        if got is None:
            return False
        raw, src = got
        try:
            m = Message(raw, src)
        except ValueError as e:
            self.bad.append((raw, str(e)))
            return True
        if m.is_request:
            self._on_request(m)
        else:
            self.responses.setdefault(m.call_id, []).append(m)
        return True

    def pump_until(self, cond, timeout):
        """Pump until cond() is true or timeout; cond()'s last value."""
        deadline = time.monotonic() + timeout
        while True:
            v = cond()
            if v:
                return v
            left = deadline - time.monotonic()
            if left <= 0:
                return v
            self.pump(left)

    def drain(self, duration):
        """Pump everything arriving within duration."""
        deadline = time.monotonic() + duration
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.pump(left)

    def _answer(self, m, code, src):
        if code is not None:
            self.send(response_to(m, code), src)

    def _on_request(self, m):
        key = (m.call_id, m.cseq[0], m.branch)
        w = self.dialogs.get(m.call_id)
        if key in self.seen:
            # a retransmission: answer like the first copy (or now, when
            # the first copy was left unanswered and the policy changed)
            self.copies[key].append(m)
            prior = self.seen[key]
            if prior[0] is None and w is not None and m.method == 'NOTIFY':
                prior[0] = w.answer_code()
            self._answer(m, prior[0], m.source)
            return
        self.copies[key] = [m]
        if m.method != 'NOTIFY':
            self.seen[key] = [405]
            self._answer(m, 405, m.source)
            self.stray.append(m)
            return
        check = VALIDATORS.get(m.content_type)
        if m.body and check is not None:
            ok, out = check(m.body)
            if not ok:
                self.schema_errors.append((m.body, out))
        if w is None:
            self.stray.append(m)
            self.seen[key] = [481]
            self._answer(m, 481, m.source)
            return
        code = w.answer_code()
        self.seen[key] = [code]
        self._answer(m, code, m.source)
        w.inbox.append(m)

    def copies_of(self, notify):
        """Every copy received of this NOTIFY (the first one included)."""
        return self.copies.get((notify.call_id, notify.cseq[0],
                                notify.branch), [])


# ---------------------------------------------------------------------------
# the watcher: one subscription dialog

class Watcher:
    """One subscription (dialog) of a watcher to a resource's reg event
    (or, with event='presence' or 'presence.winfo', to that package).

    answer: the code each new NOTIFY of this dialog is answered with
    (200 by default, None for no answer); answers: a list of codes used
    first, one per NOTIFY, before falling back to answer.
    """

    def __init__(self, test, herald, user='alice', password=PASSWORD,
                 resource=None, tcp=False, endpoint=None, contact=None,
                 event='reg'):
        self.test = test
        self.herald = herald
        self.ep = endpoint or Endpoint(test, herald, tcp=tcp)
        self.user = user
        self.password = password
        self.resource = resource or 'sip:alice@%s' % DOMAIN
        self.event = event
        # the package (reg when the test sends no or a broken Event)
        self.package = (header_params(event)[0] if event else None) \
            or 'reg'
        self.body_type = PACKAGE_TYPES.get(self.package, REGINFO_TYPE)
        self.from_uri = 'sip:%s@%s' % (user, DOMAIN)
        tp = ';transport=tcp' if self.ep.tcp else ''
        self.contact = contact or '<sip:%s-watch@%s%s>' % (
            user, hostport(self.ep.host, self.ep.port), tp)
        self.answer = 200
        self.answers = []
        self.dinfo_partial = False   # dialog-info: partial documents too
        self.inbox = []         # NOTIFYs not yet taken by recv_notify
        self.notifies = []      # every NOTIFY taken, in order
        self.new_dialog()

    # -- dialog state --

    def new_dialog(self, call_id=None):
        """Forget the dialog: the next subscribe() starts a new one."""
        if getattr(self, 'call_id', None) in self.ep.dialogs:
            del self.ep.dialogs[self.call_id]
        self.call_id = call_id or '%s@watcher.test' % rand_token(16)
        self.from_tag = rand_token(10)
        self.to_tag = None
        self.remote_target = None
        self.route = []
        self.cseq = 0
        self.granted = None
        self.last_cseq = None       # of the last NOTIFY taken
        self.last_version = None    # of the last reginfo taken
        self.expect_jump = False    # after a restart: CSeq/version jump
        self.ep.dialogs[self.call_id] = self

    def answer_code(self):
        if self.answers:
            return self.answers.pop(0)
        return self.answer

    # -- requests --

    @property
    def c(self):
        return self.ep.c

    def build(self, expires=None, in_dialog=False, event=None, accept=True,
              contact=True, cseq=None, extra=(), ruri=None):
        """A SUBSCRIBE of this dialog (not sent)."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        if in_dialog:
            ruri = ruri or self.remote_target or self.resource
        else:
            ruri = ruri or self.resource
        req = harness.Request('SUBSCRIBE', ruri)
        via = 'SIP/2.0/%s %s;branch=%s;rport' % (
            self.ep.transport, hostport(self.ep.host, self.ep.port),
            new_branch())
        req.add('Via', via)
        req.add('Max-Forwards', 70)
        if in_dialog:
            for r in self.route:
                req.add('Route', r)
        req.add('From', '<%s>;tag=%s' % (self.from_uri, self.from_tag))
        to = '<%s>' % self.resource
        if in_dialog and self.to_tag:
            to += ';tag=' + self.to_tag
        req.add('To', to)
        req.add('Call-ID', self.call_id)
        req.add('CSeq', '%d SUBSCRIBE' % cseq)
        if contact:
            req.add('Contact', self.contact if contact is True else contact)
        ev = self.event if event is None else event
        if ev is not False and ev is not None:
            req.add('Event', ev)
        if accept is True:
            req.add('Accept', self.body_type)
        elif accept:
            req.add('Accept', accept)
        if expires is not None:
            req.add('Expires', expires)
        for n, v in extra:
            req.add(n, v)
        return req

    def send_request(self, req, timeout=WAIT):
        """Send a request of this dialog; its final response or None."""
        num = int(req.get('CSeq').split()[0])
        self.last_sent = req
        self.ep.send(req)
        box = self.ep.responses.setdefault(self.call_id, [])

        def final():
            for i, r in enumerate(box):
                if r.cseq == (num, req.method) and r.status >= 200:
                    del box[i]
                    return r
            return None
        return self.ep.pump_until(final, timeout)

    def retransmit(self, timeout=WAIT):
        """Send the last request again, byte for byte (a UDP
        retransmission: same branch); its final response or None."""
        return self.send_request(self.last_sent, timeout)

    def subscribe(self, expires=600, auth=True, algorithm=None,
                  timeout=WAIT, **kw):
        """Out-of-dialog SUBSCRIBE, answering one 401 with digest
        credentials (the first challenge, SHA-256, unless algorithm names
        another). On 2xx the dialog is set up. Returns the final."""
        req = self.build(expires, **kw)
        r = self.send_request(req, timeout)
        if r is not None and r.status == 401 and auth:
            chs = r.get_all('WWW-Authenticate')
            ch = chs[0]
            if algorithm:
                ch = next(c for c in chs
                          if 'algorithm=%s' % algorithm in c)
            req = self.build(expires, **kw)
            req.add('Authorization', digest_authorization(
                ch, self.user, self.password, 'SUBSCRIBE', req.ruri))
            r = self.send_request(req, timeout)
        if r is not None and 200 <= r.status < 300:
            self.to_tag = addr_tag(r.get('To'))
            ct = r.get('Contact')
            self.remote_target = uri_of(ct) if ct else None
            self.route = list(reversed(r.get_all('Record-Route')))
            e = r.get('Expires')
            self.granted = int(e) if e is not None and e.isdigit() else None
        return r

    def refresh(self, expires=600, timeout=WAIT, **kw):
        """In-dialog SUBSCRIBE (no credentials: in-dialog requests are
        not challenged). Returns the final response."""
        r = self.send_request(self.build(expires, in_dialog=True, **kw),
                              timeout)
        if r is not None and r.status == 200:
            e = r.get('Expires')
            self.granted = int(e) if e is not None and e.isdigit() else None
        return r

    def unsubscribe(self, timeout=WAIT, **kw):
        return self.refresh(0, timeout, **kw)

    # -- NOTIFYs --

    def next_notify(self, timeout=WAIT):
        """The next NOTIFY of this dialog (already answered), unchecked,
        or None."""
        self.ep.pump_until(lambda: self.inbox, timeout)
        if not self.inbox:
            return None
        n = self.inbox.pop(0)
        self.notifies.append(n)
        return n

    def recv_notify(self, timeout=WAIT, state=None, doc=None):
        """The next NOTIFY, checked against the dialog (check_notify);
        state: the Subscription-State value expected ('active',
        'terminated'); doc: 'full' or 'partial' expected."""
        n = self.next_notify(timeout)
        self.test.assertIsNotNone(
            n, 'no NOTIFY within %.1f s on dialog %s' % (timeout,
                                                        self.call_id))
        self.check_notify(n, state=state, doc=doc)
        return n

    def expect_no_notify(self, timeout=harness.SILENCE):
        n = self.next_notify(timeout)
        self.test.assertIsNone(n, 'unexpected NOTIFY:\n%s' % n)

    def check_notify(self, n, state=None, doc=None):
        """RFC 6665 / the wire spec: the NOTIFY belongs to the dialog, CSeq
        goes up by one (or jumps up after a restart), Event names the
        package, Subscription-State is well-formed; a reginfo or
        watcherinfo body is schema-valid and its version goes up by one; a
        PIDF body is schema-valid and names the resource as its entity.
        doc: for reg and presence.winfo the document's state ('full',
        'partial'); for presence any true value requires a body."""
        t = self.test
        t.assertEqual(n.method, 'NOTIFY', n)
        t.assertEqual(n.ruri, uri_of(self.contact),
                      'NOTIFY Request-URI is not our Contact:\n%s' % n)
        t.assertTrue((n.branch or '').startswith('z9hG4bK'), n)
        t.assertEqual(n.call_id, self.call_id, n)
        t.assertEqual(uri_of(n.get('From')), self.resource, n)
        t.assertEqual(uri_of(n.get('To')), self.from_uri, n)
        t.assertEqual(addr_tag(n.get('To')), self.from_tag,
                      'NOTIFY To-tag is not our From-tag:\n%s' % n)
        if self.to_tag is not None:
            t.assertEqual(addr_tag(n.get('From')), self.to_tag,
                          "NOTIFY From-tag is not the 200's To-tag:\n%s" % n)
        t.assertIsNotNone(n.get('Contact'), 'NOTIFY without Contact:\n%s'
                          % n)
        num, method = n.cseq
        t.assertEqual(method, 'NOTIFY', n)
        if self.last_cseq is not None:
            if self.expect_jump:
                t.assertGreater(num, self.last_cseq,
                                'NOTIFY CSeq not above the %d sent before '
                                'the restart:\n%s' % (self.last_cseq, n))
            else:
                t.assertEqual(num, self.last_cseq + 1,
                              'NOTIFY CSeq does not go up by one:\n%s' % n)
        self.last_cseq = num
        pkg, params = n.event
        t.assertEqual(pkg, self.package, n)
        ev_id = header_params(self.event)[1].get('id') \
            if self.event else None
        t.assertEqual(params.get('id'), ev_id, 'Event id:\n%s' % n)
        ss, ssp = n.sub_state
        t.assertIn(ss, ('active', 'pending', 'terminated'), n)
        if state is not None:
            t.assertEqual(ss, state, n)
        if ss in ('active', 'pending'):
            t.assertIn('expires', ssp, n)
            t.assertRegex(ssp['expires'], r'^\d+$', n)
        if ss == 'terminated':
            t.assertNotIn('expires', ssp, n)
        if n.body and self.package == 'presence':
            self._check_pidf(n)
        elif n.body and self.package == 'dialog':
            self._check_dinfo(n)
        elif n.body and self.package == 'message-summary':
            t.assertEqual(n.content_type, SMS_TYPE, n)
        elif n.body and self.package == 'presence.winfo':
            self._check_winfo(n, doc)
        elif n.body:
            t.assertEqual((n.get('Content-Type') or '').split(';')[0]
                          .strip().lower(), REGINFO_TYPE, n)
            ok, out = validate_reginfo(n.body)
            t.assertTrue(ok, 'reginfo body not valid against %s:\n%s\n%s'
                         % (REGINFO_XSD, out, n))
            d = n.reginfo
            self._check_version(n, d.version, 'reginfo')
            if doc is not None:
                t.assertEqual(d.state, doc, n)
            reg = d.registration(self.resource)
            if reg is not None:
                t.assertIn(reg['state'], ('init', 'active', 'terminated'),
                           n)
                for c in reg['contacts']:
                    t.assertIn(c.get('state'), ('active', 'terminated'), n)
                    t.assertIn(c.get('event'), (
                        'registered', 'created', 'refreshed', 'shortened',
                        'expired', 'deactivated', 'probation',
                        'unregistered', 'rejected'), n)
                if d.state == 'full':
                    for c in reg['contacts']:
                        t.assertEqual(c.get('state'), 'active',
                                      'a full document lists only current '
                                      'contacts:\n%s' % n)
        elif doc is not None:
            t.fail('NOTIFY without a body (expected %s state):\n%s'
                   % (doc, n))
        self.expect_jump = False
        return n

    def _check_version(self, n, version, what):
        """0 first, then +1 (or above the last after a restart)."""
        t = self.test
        if self.last_version is None:
            if not self.expect_jump:
                t.assertEqual(version, 0, 'first version:\n%s' % n)
        elif self.expect_jump:
            t.assertGreater(version, self.last_version,
                            '%s version not above the %d sent before the '
                            'restart:\n%s' % (what, self.last_version, n))
        else:
            t.assertEqual(version, self.last_version + 1,
                          '%s version does not go up by one:\n%s'
                          % (what, n))
        self.last_version = version

    def _check_pidf(self, n):
        """application/pidf+xml, schema-valid (pidf.xsd, or
        pidf-rpid.xsd with RPID), entity the resource, tuples with ids
        and a basic status each."""
        t = self.test
        t.assertEqual(n.content_type, PIDF_TYPE, n)
        ok, out = validate_pidf(n.body)
        t.assertTrue(ok, 'PIDF body not valid against %s:\n%s\n%s'
                     % (pidf_xsd(n.body), out, n))
        d = n.pidf
        t.assertEqual(d.entity, self.resource, n)
        t.assertTrue(d.tuples, 'PIDF without a tuple:\n%s' % n)
        ids = [x['id'] for x in d.tuples]
        t.assertEqual(len(ids), len(set(ids)), 'tuple ids repeat:\n%s' % n)
        for x in d.tuples:
            t.assertIn(x['basic'], ('open', 'closed'), n)

    def _check_dinfo(self, n):
        """application/dialog-info+xml, schema-valid, version 0 then +1,
        full state first (then full or partial), entity the resource."""
        t = self.test
        t.assertEqual(n.content_type, DINFO_TYPE, n)
        ok, out = validate_dinfo(n.body)
        t.assertTrue(ok, 'dialog-info body not valid against %s:\n%s\n%s'
                     % (xsd_path('dialog-info.xsd'), out, n))
        d = parse_dinfo(n.body)
        first = self.last_version is None
        self._check_version(n, d.version, 'dialog-info')
        t.assertIn(d.state, ('full',) if first or not self.dinfo_partial
                   else ('full', 'partial'), n)
        t.assertEqual(d.entity, self.resource, n)

    def _check_winfo(self, n, doc):
        """application/watcherinfo+xml, schema-valid, version 0 then +1,
        one watcher-list: the resource's presence; watchers with an id,
        a status and an event from RFC 3857's lists."""
        t = self.test
        t.assertEqual(n.content_type, WINFO_TYPE, n)
        ok, out = validate_winfo(n.body)
        t.assertTrue(ok, 'watcherinfo body not valid against %s:\n%s\n%s'
                     % (xsd_path('watcherinfo.xsd'), out, n))
        d = n.winfo
        self._check_version(n, d.version, 'watcherinfo')
        if doc is not None:
            t.assertEqual(d.state, doc, n)
        for wl in d.lists:
            t.assertEqual(wl['resource'], self.resource, n)
            t.assertEqual(wl['package'], 'presence', n)
            for w in wl['watchers']:
                t.assertTrue(w.get('id'), n)
                t.assertIn(w.get('status'), ('pending', 'active', 'waiting',
                                             'terminated'), n)
                t.assertIn(w.get('event'), (
                    'subscribe', 'approved', 'deactivated', 'probation',
                    'rejected', 'timeout', 'giveup', 'noresource'), n)
                if d.state == 'full':
                    t.assertNotEqual(w.get('status'), 'terminated',
                                     'a full document lists only current '
                                     'watchers:\n%s' % n)

    def expires_left(self, n):
        """Subscription-State expires of an active NOTIFY, as int."""
        return int(n.sub_state[1]['expires'])


# ---------------------------------------------------------------------------
# registering alice's contacts from another socket

class Registrant:
    """REGISTERs for a user from a UDP socket of its own (digest through
    phone.Phone): one Call-ID, increasing CSeq."""

    def __init__(self, test, herald, user='alice', password=PASSWORD):
        self.test = test
        self.phone = Phone(test, test.udp(herald), user=user,
                           password=password)

    def register(self, contacts, expires=None):
        """contacts: URIs or (uri, expires) pairs; 200 asserted; returns
        {uri: expires} of the 200."""
        cts = []
        for c in contacts:
            if isinstance(c, tuple):
                cts.append('<%s>;expires=%d' % c)
            else:
                cts.append('<%s>' % c)
        r = self.phone.register(cts, expires)
        self.test.assertStatus(r, 200)
        return contacts_of(r)

    def add(self, uri, expires=600):
        return self.register([(uri, expires)])

    def remove(self, uri):
        return self.register([(uri, 0)])

    def bindings(self):
        return self.register([])

    def retarget(self, herald):
        """Talk to another herald (after a restart)."""
        self.phone.c = self.test.udp(herald)


class WatcherChecks:
    """For test cases whose SIP watchers' endpoints are checked after the
    test (addCleanup(self.check_endpoint, ep)), and that check the 200s to
    their SUBSCRIBEs."""

    def check_endpoint(self, ep):
        self.assertEqual(ep.bad, [], 'unparsable messages')
        self.assertEqual([str(m) for m in ep.stray], [],
                         'NOTIFYs (or other requests) outside any dialog')
        self.assertEqual(ep.schema_errors, [],
                         'bodies failing their schema')

    def assertSubscribed(self, r, expires=None, tcp=False, herald=None):
        """A 200 to an out-of-dialog SUBSCRIBE: To-tag, Expires (the
        granted value when given), Contact naming herald (with
        ;transport=tcp over TCP only)."""
        h = herald or self.herald
        self.assertStatus(r, 200)
        self.assertIsNotNone(harness.addr_tag(r.get('To')),
                             '200 without To-tag:\n%s' % r)
        e = r.get('Expires')
        self.assertIsNotNone(e, '200 without Expires:\n%s' % r)
        self.assertRegex(e, r'^\d+$', r)
        if expires is not None:
            self.assertEqual(int(e), expires, r)
        ct = r.get('Contact')
        self.assertIsNotNone(ct, '200 without Contact:\n%s' % r)
        uri = uri_of(ct)
        self.assertTrue(uri.startswith('sip:'), r)
        self.assertIn(harness.hostport(h.host, h.port), uri, r)
        if tcp:
            self.assertIn(';transport=tcp', uri.lower(), r)
        else:
            self.assertNotIn('transport=', uri.lower(), r)

