#!/usr/bin/env python3
"""The herald command line and SIGHUP.

SIGHUP never ends herald: it reopens --log-file (logrotate's way: move the
file, HUP, a new file appears) and applies --config's log-level. Every
command answers --help with its usage; contradictory options, unknown
options and a database URL that is not one exit 2 with a message; a
database that does not answer is reported in libpq's words; without a URL
the one script/server leaves in var/database-url is used.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import Herald

REFUSED_URL = 'postgresql://postgres@127.0.0.1:1/herald'

# a response no transaction of herald's waits for: dropped, with a line at
# debug level
STRAY_RESPONSE = (b'SIP/2.0 200 OK\r\n'
                  b'Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKstray1\r\n'
                  b'From: <sip:a@example.test>;tag=1\r\n'
                  b'To: <sip:b@example.test>;tag=2\r\n'
                  b'Call-ID: stray@127.0.0.1\r\n'
                  b'CSeq: 1 NOTIFY\r\n'
                  b'Content-Length: 0\r\n\r\n')
STRAY_LOG = 'dropped response matching no transaction'


def run(args, cwd=None, env=None, stdin=subprocess.DEVNULL):
    """herald ARGS; returns (status, stdout, stderr) as text."""
    e = Herald(db='unused').environ()
    e.update(env or {})
    p = subprocess.run([os.path.abspath(harness.herald_bin())] + args,
                       stdin=stdin, capture_output=True, timeout=30,
                       cwd=cwd, env=e)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class FileHerald(Herald):
    """A herald that logs to a file: "ready" and the log come from there
    (and from the files it was moved to), sanitizer reports from stderr."""

    def __init__(self, log_path, **kw):
        super().__init__(**kw)
        self.log_path = log_path
        self.moved = []

    def _start_once(self):
        self.ready.clear()
        threading.Thread(target=self._watch, daemon=True).start()
        return super()._start_once()

    def _watch(self):
        deadline = time.monotonic() + harness.READY_TIMEOUT + 1
        while time.monotonic() < deadline and not self.ready.is_set():
            if 'serve     ready' in self.file_text():
                self.ready.set()
            time.sleep(0.02)

    def file_text(self, path=None):
        out = []
        for p in [path] if path else self.moved + [self.log_path]:
            try:
                with open(p, encoding='utf-8', errors='replace') as f:
                    out.append(f.read())
            except FileNotFoundError:
                pass
        return ''.join(out)

    def log_text(self, tail=None):
        return super().log_text(tail) + '\n' + self.file_text()

    def move_log(self):
        """logrotate: rename the file; herald writes on into it."""
        dst = '%s.%d' % (self.log_path, len(self.moved) + 1)
        os.rename(self.log_path, dst)
        self.moved.insert(0, dst)
        return dst


class SighupTest(harness.HeraldTestCase):
    autostart = False

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix='herald-cli-')
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        with open(self.path(name), 'w') as f:
            f.write(text)
        return self.path(name)

    def own_args(self, *extra):
        """serve's arguments without the harness's --log-level debug."""
        return ['--sip-listen', 'udp:127.0.0.1:{port}', '--domain',
                'example.test', '--admin-listen', 'off'] + list(extra)

    def start_file_herald(self, args):
        h = FileHerald(self.path('herald.log'), args=args, listen=False)
        self.servers.append(h)
        h.start()
        self.addCleanup(h.check_stop)
        return h

    def stray(self, h):
        c = self.udp(h)
        c.send(STRAY_RESPONSE)

    def test_hup_keeps_running(self):
        h = self.start_herald()
        for n in range(3):
            h.proc.send_signal(signal.SIGHUP)
            h.wait_log('SIGHUP: log on stderr, log level debug', seen=n)
        self.assertAlive(h)
        # the harness's final SIGTERM still exits 0
        h.check_stop(signal.SIGTERM)

    def test_hup_reopens_moved_log_file(self):
        h = self.start_file_herald(self.own_args(
            '--log-file', self.path('herald.log')))
        self.assertNotIn('ready', h.log_text().split('\n')[0])
        moved = h.move_log()
        self.assertAlive(h)
        h.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while 'SIGHUP' not in h.file_text(self.path('herald.log')):
            self.assertLess(time.monotonic(), deadline, h.log_text())
            time.sleep(0.02)
        new = h.file_text(self.path('herald.log'))
        self.assertIn('info  serve     SIGHUP: log reopened, log level '
                      'info\n', new)
        self.assertNotIn('ready', new)
        old = h.file_text(moved)
        self.assertIn('serve     ready', old)
        self.assertNotIn('SIGHUP', old)
        h.check_stop(signal.SIGTERM)
        self.assertIn('stopped', h.file_text(self.path('herald.log')))

    def test_hup_applies_config_log_level(self):
        conf = self.write('herald.conf', '# test\nlog-level = info\n')
        h = self.start_herald(args=self.own_args('--config', conf),
                              listen=False)
        self.stray(h)
        self.assertAlive(h)
        self.assertNotIn(STRAY_LOG, h.log_text())
        self.write('herald.conf', 'log-level = debug\n')
        h.proc.send_signal(signal.SIGHUP)
        h.wait_log('SIGHUP: log on stderr, log level debug')
        self.assertIn('SIGHUP: log-level debug, was info', h.log_text())
        self.stray(h)
        h.wait_log(STRAY_LOG)
        # and back: debug lines stop
        self.write('herald.conf', 'log-level = warn\n')
        h.proc.send_signal(signal.SIGHUP)
        h.wait_log('SIGHUP: log on stderr, log level warn')
        self.stray(h)
        self.assertAlive(h)
        self.assertEqual(h.log_text().count(STRAY_LOG), 1)

    def test_hup_bad_config_keeps_old_values(self):
        conf = self.write('herald.conf', 'log-level = debug\n')
        h = self.start_herald(args=self.own_args('--config', conf),
                              listen=False)
        self.write('herald.conf', 'log-level = info\nmax-contacts = 0\n')
        h.proc.send_signal(signal.SIGHUP)
        h.wait_log('SIGHUP: log on stderr, log level debug')
        self.assertIn('SIGHUP: %s: line 2: --max-contacts wants a number '
                      'from 1 to 1000, not \'0\'; the options stay as they '
                      'were' % conf, h.log_text())
        os.unlink(conf)
        h.proc.send_signal(signal.SIGHUP)
        h.wait_log('SIGHUP: log on stderr, log level debug', seen=1)
        self.assertIn('No such file or directory; the options stay',
                      h.log_text())
        self.stray(h)
        h.wait_log(STRAY_LOG)

    def test_hup_reports_what_it_does_not_apply(self):
        conf = self.write('herald.conf', 'log-level = debug\n'
                          'max-contacts = 5\n')
        h = self.start_herald(args=self.own_args('--config', conf,
                                                 '--log-level', 'info'),
                              listen=False)
        self.write('herald.conf', 'log-level = debug\nmax-contacts = 6\n')
        h.proc.send_signal(signal.SIGHUP)
        h.wait_log('SIGHUP: log on stderr, log level info')
        log = h.log_text()
        self.assertIn('SIGHUP: max-contacts changed in %s; it applies at '
                      'the next start' % conf, log)
        self.assertIn('SIGHUP: log-level in %s does not apply: --log-level '
                      'or its environment variable overrides it' % conf, log)

    def test_hup_moves_log_to_config_log_file(self):
        conf = self.write('herald.conf', 'log-level = info\n')
        h = self.start_herald(args=self.own_args('--config', conf),
                              listen=False)
        self.write('herald.conf', 'log-file = %s\n' % self.path('new.log'))
        h.proc.send_signal(signal.SIGHUP)
        h.wait_log('SIGHUP: the log goes to %s from now on' %
                   self.path('new.log'))
        deadline = time.monotonic() + 5
        while 'SIGHUP: log reopened' not in self.read('new.log'):
            self.assertLess(time.monotonic(), deadline, h.log_text())
            time.sleep(0.02)
        self.assertAlive(h)

    def read(self, name):
        try:
            with open(self.path(name)) as f:
                return f.read()
        except FileNotFoundError:
            return ''


class ConfigStartTest(harness.HeraldTestCase):
    autostart = False

    def test_config_under_flags_and_environment(self):
        d = tempfile.mkdtemp(prefix='herald-cli-')
        self.addCleanup(shutil.rmtree, d, True)
        conf = os.path.join(d, 'herald.conf')
        with open(conf, 'w') as f:
            f.write('domain = other.test\nlog-level = debug\n'
                    'min-expires = 120\n')
        h = self.start_herald(args=[
            '--sip-listen', 'udp:127.0.0.1:{port}', '--admin-listen', 'off',
            '--config', conf], listen=False,
            env={'HERALD_DOMAIN': 'example.test'})
        log = h.log_text()
        # the environment's domain, the file's log level
        self.assertIn('serving domain example.test', log)
        self.assertNotIn('other.test', log)
        c = self.udp(h)
        c.send(STRAY_RESPONSE)
        h.wait_log(STRAY_LOG)
        # the file's min-expires
        r = c.request(self.req('REGISTER', c).set('Expires', 60))
        self.assertIn(r.status, (401, 423))

    def test_bad_config_at_start_exits_2(self):
        d = tempfile.mkdtemp(prefix='herald-cli-')
        self.addCleanup(shutil.rmtree, d, True)
        conf = os.path.join(d, 'herald.conf')
        for text, why in (('log-level debug\n', "line 1: not 'name = "
                           "value'"),
                          ('\nnope = 1\n', "line 2: unknown option 'nope'"),
                          ('log-level = loud\n', "--log-level is debug, "
                           "info, warn or error, not 'loud'")):
            with open(conf, 'w') as f:
                f.write(text)
            code, out, err = run(['serve', '--domain', 'example.test',
                                  '--database-url', REFUSED_URL,
                                  '--config', conf])
            self.assertEqual(code, 2, err)
            self.assertIn(why, err)
        code, out, err = run(['serve', '--domain', 'example.test',
                              '--database-url', REFUSED_URL, '--config',
                              os.path.join(d, 'missing.conf')])
        self.assertEqual(code, 2, err)
        self.assertIn('missing.conf: No such file or directory', err)


COMMANDS = (['serve'], ['migrate'], ['user', 'add', 'a@example.test'],
            ['user', 'del', 'a@example.test'], ['user', 'list'])


def needed(args):
    """What a command needs besides a database to get that far."""
    if args == ['serve']:
        return ['--domain', 'example.test', '--admin-listen', 'off']
    if args[:2] == ['user', 'add']:
        return ['--password', 'pw']
    return []


class CliTest(unittest.TestCase):

    def test_help_on_every_command(self):
        for args in (['--help'], ['-h'], ['serve', '--help'],
                     ['serve', '-h'], ['migrate', '--help'],
                     ['user', '--help'], ['user', 'add', '--help'],
                     ['user', 'add', 'a@example.test', '--help'],
                     ['user', 'del', '--help'], ['user', 'list', '--help'],
                     ['user', 'list', '-h'], ['version', '--help']):
            code, out, err = run(args)
            self.assertEqual(code, 0, '%s: %s' % (args, err))
            self.assertIn('usage', out.lower(), args)
            self.assertEqual(err, '', args)
        code, out, err = run(['user', 'add', '--help'])
        for flag in ('--password', '--role', '--database-url',
                     'var/database-url'):
            self.assertIn(flag, out)
        code, out, err = run(['serve', '--help'])
        for flag in ('--log-file', '--config', 'HERALD_LOG_FILE',
                     'HERALD_CONFIG', 'SIGHUP'):
            self.assertIn(flag, out)

    def test_unknown_options_exit_2(self):
        for args in COMMANDS + (['version'],):
            code, out, err = run(args + ['--no-such-option'])
            self.assertEqual(code, 2, '%s: %s' % (args, err))
            self.assertIn("'--no-such-option'", err, args)
        for args in (['user'], ['user', 'frob'], ['user', 'add'],
                     ['frob']):
            code, out, err = run(args)
            self.assertEqual(code, 2, '%s: %s' % (args, err))
            self.assertIn('usage', err.lower(), args)

    def test_user_name_with_control_characters_exit_2(self):
        """Refused before the database is tried: a CR/LF in a name could
        forge a line of the log or of `herald user list`."""
        for aor in ('a\r\nb@example.test', 'a\x1b[2J@example.test',
                    'a@example.test\n', 'a\t@example.test'):
            code, out, err = run(['user', 'add', aor, '--password', 'x',
                                  '--database-url', REFUSED_URL])
            self.assertEqual(code, 2, '%r: %s' % (aor, err))
            self.assertIn('control characters', err, aor)
            self.assertNotIn('\x1b', err)

    def test_contradictory_expiries_exit_2(self):
        for prefix in ('', 'subscribe-', 'publish-'):
            mn, df, mx = ('--%smin-expires' % prefix,
                          '--%sdefault-expires' % prefix,
                          '--%smax-expires' % prefix)
            for args, a, b in (([mn, '100', mx, '50'], mn, mx),
                               ([mn, '100', df, '50'], mn, df),
                               ([df, '5000', mx, '4000'], df, mx),
                               ([mn, '200', df, '100', mx, '150'], mn, mx)):
                code, out, err = run(['serve', '--domain', 'example.test',
                                      '--database-url', REFUSED_URL] + args)
                self.assertEqual(code, 2, '%s: %s' % (args, err))
                self.assertRegex(err, r'herald: %s \d+ is above %s \d+\n' %
                                 (a, b))
                self.assertNotIn('PostgreSQL', err)

    def test_other_contradictions_exit_2(self):
        for args, why in ((['--auth', 'none', '--auth', 'REGISTER'],
                           '--auth none cannot go with --auth REGISTER'),
                          (['--presence-default-local', 'maybe'],
                           '--presence-default-local'),
                          (['--log-level', 'loud'], "not 'loud'"),
                          (['--redirect', 'none', '--redirect', 'INVITE'],
                           '--redirect none cannot go with --redirect '
                           'INVITE'),
                          (['--redirect', 'SUBSCRIBE'],
                           '--redirect takes INVITE, MESSAGE, OPTIONS, '
                           'REFER or none'),
                          (['--redirect', 'FOO'], '--redirect takes')):
            code, out, err = run(['serve', '--domain', 'example.test',
                                  '--database-url', REFUSED_URL] + args)
            self.assertEqual(code, 2, '%s: %s' % (args, err))
            self.assertIn(why, err)

    def test_bad_url_refused_first(self):
        for url in ('foo', 'garbage here', 'postgresql://[bad',
                    'postgresql://h:99999/db', 'postgresql://h:x/db'):
            for args in COMMANDS:
                code, out, err = run(args + needed(args) +
                                     ['--database-url', url])
                self.assertEqual(code, 2, '%s %s: %s' % (args, url, err))
                self.assertIn('herald: --database-url is not a PostgreSQL '
                              'URL', err)
                self.assertNotIn('cannot connect', err)
        code, out, err = run(['migrate', '--database-url', 'foo'])
        self.assertIn('missing "=" after "foo" in connection info string',
                      err)

    def test_connection_refused_in_libpq_words(self):
        for args in COMMANDS:
            code, out, err = run(args + needed(args) +
                                 ['--database-url', REFUSED_URL])
            self.assertEqual(code, 1, '%s: %s' % (args, err))
            self.assertRegex(err, r'connection to server at "?127\.0\.0\.1'
                             r'"?, port 1 failed: Connection refused')
            self.assertEqual(err.count('port 1 failed'), 1, err)

    def test_no_url_says_how_to_give_one(self):
        d = tempfile.mkdtemp(prefix='herald-cli-')
        self.addCleanup(shutil.rmtree, d, True)
        for args in COMMANDS:
            code, out, err = run(args + needed(args), cwd=d)
            self.assertEqual(code, 2, '%s: %s' % (args, err))
            for want in ('--database-url', 'HERALD_DATABASE_URL',
                         'var/database-url'):
                self.assertIn(want, err, args)

    def test_url_from_var_database_url(self):
        # what script/server leaves for herald run from the same directory
        d = tempfile.mkdtemp(prefix='herald-cli-')
        self.addCleanup(shutil.rmtree, d, True)
        os.mkdir(os.path.join(d, 'var'))
        url = harness.fresh_database()
        with open(os.path.join(d, 'var', 'database-url'), 'w') as f:
            f.write(url + '\n')
        code, out, err = run(['user', 'add', 'alice@localhost',
                              '--password', 'pw'], cwd=d)
        self.assertEqual(code, 0, err)
        self.assertIn('added alice@localhost', out)
        db = url.rsplit('/', 1)[1]
        self.assertRegex(err, r'herald: database \S+/%s \(from '
                         r'var/database-url\)' % db)
        code, out, err = run(['user', 'list'], cwd=d)
        self.assertEqual((code, out), (0, 'alice@localhost user\n'), err)
        # the command line and the environment still win
        code, out, err = run(['user', 'list', '--database-url',
                              REFUSED_URL], cwd=d)
        self.assertEqual(code, 1, err)
        code, out, err = run(['user', 'list'], cwd=d,
                             env={'HERALD_DATABASE_URL': REFUSED_URL})
        self.assertEqual(code, 1, err)
        code, out, err = run(['user', 'del', 'alice@localhost'], cwd=d)
        self.assertEqual(code, 0, err)


if __name__ == '__main__':
    harness.main()
