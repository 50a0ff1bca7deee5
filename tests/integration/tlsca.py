"""A throw-away test CA made with the openssl command line.

    ca = tlsca.make(tmpdir)
    ca.ca_cert        # the CA certificate (what clients trust), PEM
    ca.server_cert    # server cert for 127.0.0.1 and localhost
    ca.server_key     # its key, PEM (unencrypted)
    ca.server2_cert   # a second server cert/key (a SIGHUP reload test)
    ca.server2_key
    ca.client_cert    # a client cert signed by the same CA (clientAuth)
    ca.client_key

Keys are EC P-256 (fast to make); certificates are X.509 v3, valid
from now (openssl 3.0's x509 and req set no earlier start) for 30
days. The server certs carry subjectAltName IP:127.0.0.1,
DNS:localhost and extendedKeyUsage serverAuth, the client cert
clientAuth; the CA is a CA (basicConstraints CA:TRUE, keyCertSign).
Nothing prompts: every subject is given with -subj, `req` reads a
config of its own (not the system's openssl.cnf), and no key has a
passphrase. The two server certs differ in subject CN
(herald-test-server, herald-test-server-2) and serial, so a client can
tell which one it was shown.

Only the openssl binary (Debian's openssl, Priority important) is used.
"""

import collections
import os
import shutil
import subprocess
import tempfile

OPENSSL = 'openssl'

CA = collections.namedtuple('CA', [
    'dir', 'ca_cert', 'ca_key', 'server_cert', 'server_key',
    'server2_cert', 'server2_key', 'client_cert', 'client_key'])

CA_EXT = ('basicConstraints=critical,CA:TRUE\n'
          'keyUsage=critical,keyCertSign,cRLSign\n'
          'subjectKeyIdentifier=hash\n')
SERVER_EXT = ('basicConstraints=critical,CA:FALSE\n'
              'keyUsage=critical,digitalSignature\n'
              'extendedKeyUsage=serverAuth\n'
              'subjectAltName=IP:127.0.0.1,DNS:localhost\n'
              'subjectKeyIdentifier=hash\n'
              'authorityKeyIdentifier=keyid\n')
CLIENT_EXT = ('basicConstraints=critical,CA:FALSE\n'
              'keyUsage=critical,digitalSignature\n'
              'extendedKeyUsage=clientAuth\n'
              'subjectAltName=URI:sip:alice@example.test\n'
              'subjectKeyIdentifier=hash\n'
              'authorityKeyIdentifier=keyid\n')

DAYS = 30


def _openssl(*args):
    """Run openssl; on failure raise with its output."""
    r = subprocess.run((OPENSSL,) + args, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError('openssl %s failed (%d):\n%s' %
                           (' '.join(args), r.returncode,
                            r.stdout.decode('utf-8', 'replace')))
    return r.stdout


def _key(path):
    """A new EC P-256 private key, PEM, readable by the owner only."""
    _openssl('genpkey', '-algorithm', 'EC', '-pkeyopt',
             'ec_paramgen_curve:P-256', '-out', path)
    os.chmod(path, 0o600)
    return path


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return path


def _signed(d, name, cn, ext, ca_cert, ca_key, serial):
    """A key and a certificate for cn signed by the CA; (cert, key)."""
    key = _key(os.path.join(d, name + '.key'))
    csr = os.path.join(d, name + '.csr')
    _openssl('req', '-new', '-key', key, '-subj', '/O=Herald test/CN=' + cn,
             '-config', _req_config(d), '-out', csr)
    extfile = _write(os.path.join(d, name + '.ext'), ext)
    cert = os.path.join(d, name + '.pem')
    _openssl('x509', '-req', '-in', csr, '-CA', ca_cert, '-CAkey', ca_key,
             '-set_serial', str(serial), '-days', str(DAYS), '-sha256',
             '-extfile', extfile, '-out', cert)
    os.unlink(csr)
    os.unlink(extfile)
    return cert, key


def make(d):
    """Make the CA and its certificates in directory d (created if
    missing); return a CA of their paths."""
    os.makedirs(d, exist_ok=True)
    ca_key = _key(os.path.join(d, 'ca.key'))
    ca_cert = os.path.join(d, 'ca.pem')
    _openssl('req', '-new', '-x509', '-key', ca_key, '-sha256',
             '-subj', '/O=Herald test/CN=Herald test CA', '-days', str(DAYS),
             '-set_serial', '1', '-extensions', 'v3_ca_test',
             '-config', _req_config(d), '-out', ca_cert)
    server = _signed(d, 'server', 'herald-test-server', SERVER_EXT,
                     ca_cert, ca_key, 2)
    server2 = _signed(d, 'server2', 'herald-test-server-2', SERVER_EXT,
                      ca_cert, ca_key, 3)
    client = _signed(d, 'client', 'alice', CLIENT_EXT, ca_cert, ca_key, 4)
    return CA(d, ca_cert, ca_key, server[0], server[1], server2[0],
              server2[1], client[0], client[1])


def for_test(test, count=1):
    """count CAs made in a temporary directory that test's cleanups
    remove; a list of CA."""
    d = tempfile.mkdtemp(prefix='herald-tlsca-')
    test.addCleanup(shutil.rmtree, d, True)
    return [make(os.path.join(d, 'ca%d' % i)) for i in range(count)]


def _req_config(d):
    """A minimal openssl config for `req` (the system's openssl.cnf is
    not read: its defaults could prompt or add extensions)."""
    return _write(os.path.join(d, 'req.cnf'),
                  '[req]\n'
                  'distinguished_name = dn\n'
                  'prompt = no\n'
                  '[dn]\n'
                  'CN = unused\n'
                  '[v3_ca_test]\n' + CA_EXT)


def subject_cn(cert):
    """The subject CN of a PEM certificate file."""
    out = _openssl('x509', '-in', cert, '-noout', '-subject',
                   '-nameopt', 'multiline').decode()
    for line in out.splitlines():
        k, _, v = line.strip().partition('=')
        if k.strip() == 'commonName':
            return v.strip()
    return None


if __name__ == '__main__':
    import sys
    ca = make(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
    for f, v in ca._asdict().items():
        print('%s\t%s' % (f, v))
