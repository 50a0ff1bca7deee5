#!/usr/bin/env python3
"""What an operator watches Herald with: --log-format json, log levels
per module changed at run time (/v1/log-levels), /v1/status, /metrics as
promtool checks it, and the Grafana dashboard and Prometheus alert rules
under docker/, checked against a real scrape."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from adminapi import AdminCase  # noqa: E402
from phone import Phone  # noqa: E402
from watcher import PASSWORD, Registrant  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
RFC3339_MS = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
LEVELS = {'debug', 'info', 'warn', 'error'}


def promtool():
    """promtool's path (Debian's prometheus package, script/bootstrap)."""
    return os.environ.get('PROMTOOL') or shutil.which('promtool')


def need_promtool(test):
    if not promtool():
        test.skipTest('promtool not found: script/bootstrap installs '
                      'Debian\'s prometheus package, or set PROMTOOL')


def log_modules():
    """Every HR_LOG_MODULE the sources define."""
    names = set()
    for top in ('server', 'admin'):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if not f.endswith(('.c', '.h')):
                    continue
                with open(os.path.join(d, f), encoding='utf-8') as fh:
                    names.update(re.findall(
                        r'^#define HR_LOG_MODULE "([^"]+)"', fh.read(),
                        re.M))
    return names


def stray_response(c):
    """A 200 matching no transaction: the sip module's debug line
    "dropped response matching no transaction"."""
    return ('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch='
            'z9hG4bK%s\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: '
            '<sip:b@example.test>;tag=2\r\nCall-ID: %s\r\nCSeq: 1 NOTIFY\r\n'
            'Content-Length: 0\r\n\r\n' % (c.port, harness.rand_token(),
                                          harness.rand_token())).encode()


# ---------------------------------------------------------------------------

class LogFormatTest(harness.HeraldTestCase):
    """--log-format json: every line one JSON object (RFC 8259) with
    time (RFC 3339, UTC, ms), level, module and message."""

    herald_args = ['--log-format', 'json']

    def check_json_log(self, text):
        lines = [ln for ln in text.split('\n') if ln]
        self.assertTrue(lines)
        objs = []
        for ln in lines:
            try:
                o = json.loads(ln)
            except ValueError as e:
                self.fail('not a JSON line (%s): %r' % (e, ln))
            self.assertIsInstance(o, dict, ln)
            self.assertLessEqual({'time', 'level', 'module', 'message'},
                                 set(o), ln)
            self.assertLessEqual(set(o), {'time', 'level', 'module',
                                          'message', 'suppressed'}, ln)
            self.assertRegex(o['time'], RFC3339_MS, ln)
            self.assertIn(o['level'], LEVELS, ln)
            objs.append(o)
        return objs

    def test_every_line_is_json(self):
        c = self.udp()
        # RFC 3261 25.1: a Call-ID's word may hold '"' and '\'; the 501's
        # warn line carries it
        req = self.req('FOO', c, call_id='q"uo\\te')
        self.assertStatus(c.request(req), 501)
        self.herald.wait_log('Not Implemented to FOO')
        code, text = self.herald.stop()
        self.assertEqual(code, 0, text)
        objs = self.check_json_log(text)
        msgs = [(o['module'], o['level'], o['message']) for o in objs]
        self.assertIn(('serve', 'info', 'ready'), msgs)
        warn = [o for o in objs if 'to FOO from' in o['message']]
        self.assertEqual(len(warn), 1, text)
        self.assertEqual(warn[0]['level'], 'warn')
        self.assertEqual(warn[0]['module'], 'sip')
        self.assertIn('Call-ID q"uo\\te: sip: router', warn[0]['message'])

    def test_from_environment(self):
        h = self.start_herald(env={'HERALD_LOG_FORMAT': 'json'})
        code, text = h.stop()
        self.assertEqual(code, 0, text)
        self.check_json_log(text)

    def test_text_is_default(self):
        h = self.start_herald()
        self.assertRegex(h.log_text(), r'(?m)^\d{4}-\d\d-\d\dT\S+Z info  '
                         r'serve +ready$')

    def test_bad_format_is_a_usage_error(self):
        p = subprocess.run([harness.herald_bin(), 'serve', '--domain',
                            'example.test', '--log-format', 'xml'],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn('--log-format is text or json', p.stderr)


# ---------------------------------------------------------------------------

class LogLevelTest(AdminCase):
    """/v1/log-levels: a module's level raised and dropped at run time."""

    herald_args = ['--log-level', 'info']

    def put_level(self, module, level, status=200):
        r = self.api('PUT', '/v1/log-levels/' + module, {'level': level})
        self.assertEqual(r.status, status, r)
        return r

    def debug_lines(self, module):
        return len(re.findall(r'(?m)^\S+ debug %s ' % re.escape(module),
                              self.herald.log_text()))

    def sync(self, c):
        """An OPTIONS answered on c: what c sent before is handled."""
        self.assertStatus(c.request(self.req('OPTIONS', c)), 200)

    def test_list(self):
        j = self.get_json('/v1/log-levels')
        self.assertEqual(j['default'], 'info')
        self.assertEqual(j['overrides'], {})
        self.assertEqual(set(j['modules'].values()), {'info'})
        # every module a source file names can be set
        missing = log_modules() - set(j['modules'])
        self.assertEqual(missing, set(), 'HR_LOG_MODULEs the log does not '
                         'know (server/core/log.c modules[])')

    def test_one_module_to_debug_and_back(self):
        c = self.udp()
        reg = Registrant(self, self.herald)
        reg.add('sip:alice@127.0.0.1:5999')
        c.send(stray_response(c))
        self.sync(c)
        self.assertEqual(self.debug_lines('registrar'), 0)
        self.assertEqual(self.debug_lines('sip'), 0)

        r = self.put_level('registrar', 'debug')
        self.assertEqual(r.json(), {'module': 'registrar', 'level': 'debug'})
        j = self.get_json('/v1/log-levels')
        self.assertEqual(j['overrides'], {'registrar': 'debug'})
        self.assertEqual(j['modules']['registrar'], 'debug')
        self.assertEqual(j['modules']['sip'], 'info')
        self.assertEqual(j['default'], 'info')
        self.herald.wait_log('admin API: log-level of registrar debug')

        # the registrar's debug lines appear, sip's do not
        reg.add('sip:alice@127.0.0.1:5998')
        self.herald.wait_log('alice@example.test sip:alice@127.0.0.1:5998')
        self.assertGreater(self.debug_lines('registrar'), 0)
        c.send(stray_response(c))
        self.sync(c)
        self.assertEqual(self.debug_lines('sip'), 0, self.herald.log_text())

        # sip's too, once asked for
        self.put_level('sip', 'debug')
        c.send(stray_response(c))
        self.sync(c)
        self.herald.wait_log('dropped response matching no transaction')
        self.assertEqual(self.debug_lines('sip'), 1)

        # dropped: the registrar is back at the default
        r = self.api('DELETE', '/v1/log-levels/registrar')
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.get_json('/v1/log-levels')['overrides'],
                         {'sip': 'debug'})
        seen = self.debug_lines('registrar')
        reg.add('sip:alice@127.0.0.1:5997')
        time.sleep(0.3)
        self.assertEqual(self.debug_lines('registrar'), seen)
        self.assertNotIn('sip:alice@127.0.0.1:5997',
                         self.herald.log_text())

    def test_default_level(self):
        c = self.udp()
        r = self.api('PUT', '/v1/log-levels', {'default': 'debug'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()['default'], 'debug')
        self.assertEqual(set(r.json()['modules'].values()), {'debug'})
        c.send(stray_response(c))
        self.sync(c)
        self.herald.wait_log('dropped response matching no transaction')
        # a module quieter than the default
        self.put_level('sip', 'error')
        seen = self.debug_lines('sip')
        c.send(stray_response(c))
        self.sync(c)
        self.assertEqual(self.debug_lines('sip'), seen)
        self.herald.wait_log('admin API: log-level debug, was info')

    def test_bad_requests(self):
        j = self.assertProblem(self.put_level('nosuch', 'debug', 400), 400)
        self.assertIn('no such log module', j['detail'])
        self.assertProblem(self.put_level('sip', 'loud', 400), 400)
        self.assertProblem(self.put_level('sip', 3, 400), 400)
        self.assertProblem(self.api('PUT', '/v1/log-levels/sip',
                                    {'level': 'debug', 'x': 1}), 400)
        self.assertProblem(self.api('PUT', '/v1/log-levels/sip', b'{'), 400)
        self.assertProblem(self.api('DELETE', '/v1/log-levels/nosuch'), 400)
        self.assertProblem(self.api('PUT', '/v1/log-levels',
                                    {'default': 'verbose'}), 400)
        self.assertProblem(self.api('PUT', '/v1/log-levels',
                                    {'level': 'debug'}), 400)
        self.assertProblem(self.api('GET', '/v1/log-levels', token=None),
                           401)
        # nothing changed
        j = self.get_json('/v1/log-levels')
        self.assertEqual((j['default'], j['overrides']), ('info', {}))


# ---------------------------------------------------------------------------

class StatusTest(AdminCase):
    """/v1/status: version, build, uptime, listeners, the store."""

    def setUp(self):
        self.ws_port = harness.free_port()
        self.herald_args = ['--sip-listen', 'ws:127.0.0.1:%d;advertise='
                            'ws.example.test:8443' % self.ws_port]
        self.t0 = time.time()
        super().setUp()

    def test_status(self):
        j = self.get_json('/v1/status')
        v = subprocess.run([harness.herald_bin(), 'version'],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual('herald %s\n' % j['version'], v.stdout)
        b = j['build']
        self.assertRegex(b['commit'], r'^[0-9A-Za-z._+-]+$')
        self.assertRegex(b['compiler'], r'^(GNU|Clang) \d+\.')
        self.assertIn(b['type'], ('Debug', 'Release', 'RelWithDebInfo',
                                  'MinSizeRel'))
        self.assertRegex(j['started_at'],
                         r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
        self.assertGreaterEqual(j['uptime_s'], 0)
        self.assertLessEqual(j['uptime_s'], time.time() - self.t0 + 2)
        port = self.herald.port
        sip = j['listeners']['sip']
        self.assertIn({'transport': 'udp', 'address': '127.0.0.1:%d' % port},
                      sip)
        self.assertIn({'transport': 'tcp', 'address': '127.0.0.1:%d' % port},
                      sip)
        self.assertIn({'transport': 'ws',
                       'address': '127.0.0.1:%d' % self.ws_port,
                       'advertise': 'ws.example.test:8443'}, sip)
        self.assertEqual(len(sip), 3)
        self.assertEqual('http://' + j['listeners']['admin'],
                         self.herald.admin_url)
        self.assertEqual(j['store'], {'connected': True, 'queue_depth': 0,
                                      'outages': 0})
        time.sleep(1.1)
        self.assertGreater(self.get_json('/v1/status')['uptime_s'],
                           j['uptime_s'] - 1)


# ---------------------------------------------------------------------------

class MetricsTest(AdminCase):
    """/metrics after some traffic: the new families count what
    happened, and promtool finds nothing to say."""

    def traffic(self):
        Registrant(self, self.herald).add('sip:alice@127.0.0.1:5999')
        # a wrong password, an unknown user
        r = Phone(self, self.udp(), user='bob', password='wrong').register()
        self.assertStatus(r, 403)
        r = Phone(self, self.udp(), user='carol',
                  password=PASSWORD).register()
        self.assertStatus(r, 403)
        # alice's credentials for bob's AOR
        ph = Phone(self, self.udp())
        r = ph.register(to_user='bob')
        self.assertStatus(r, 403)
        c = self.udp()
        self.assertStatus(c.request(self.req('FOO', c)), 501)

    def test_counts(self):
        self.traffic()
        tcp = self.tcp()
        self.assertStatus(tcp.request(self.req('OPTIONS', tcp)), 200)
        m = harness.metrics(self.herald)
        get = lambda name: harness.metric(m, name)  # noqa: E731
        self.assertEqual(get('herald_auth_failures_total'
                             '{reason="wrong_password"}'), 1, m)
        self.assertEqual(get('herald_auth_failures_total'
                             '{reason="unknown_user"}'), 1)
        self.assertEqual(get('herald_auth_failures_total'
                             '{reason="wrong_identity"}'), 1)
        self.assertEqual(get('herald_auth_failures_total{reason="replay"}'),
                         0)
        self.assertEqual(get('herald_sip_server_errors_total{code="501",'
                             'reason="not_implemented"}'), 1)
        self.assertEqual(get('herald_sip_server_errors_total{code="503",'
                             'reason="store"}'), 0)
        self.assertEqual(get('herald_sip_connections{transport="tcp"}'), 1)
        self.assertEqual(get('herald_sip_connections{transport="wss"}'), 0)
        self.assertEqual(get('herald_store_connected'), 1)
        self.assertIsNotNone(get('herald_sip_client_transactions'))
        bi = re.search(r'^herald_build_info\{version="([^"]+)",'
                       r'commit="([^"]+)"\} 1$', m, re.M)
        self.assertIsNotNone(bi, m)
        self.assertEqual(bi.group(1), self.get_json('/v1/status')['version'])
        rss = get('process_resident_memory_bytes')
        self.assertGreater(rss, 1 << 20)
        self.assertGreater(get('process_open_fds'), 3)
        self.assertGreater(get('process_max_fds'), get('process_open_fds'))
        cpu = float(re.search(r'^process_cpu_seconds_total (\S+)$', m,
                              re.M).group(1))
        self.assertGreater(cpu, 0)
        start = float(re.search(r'^process_start_time_seconds (\S+)$', m,
                                re.M).group(1))
        self.assertLess(abs(start - (time.time() - self.get_json(
            '/v1/status')['uptime_s'])), 3)
        self.assertIsNotNone(re.search(
            r'^herald_store_commit_seconds_bucket\{le="0\.001"\} \d+$', m,
            re.M), m)
        self.assertNotIn('_ms', m)

    def test_promtool_check_metrics(self):
        need_promtool(self)
        self.traffic()
        m = harness.metrics(self.herald)
        p = subprocess.run([promtool(), 'check', 'metrics'], input=m,
                           capture_output=True, text=True, timeout=30)
        # any warning (a unit not in the name, a counter without _total)
        # is a failure, not only an error
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ''), m)


# ---------------------------------------------------------------------------

def metric_names(expr):
    """Herald's and the process's metric names a PromQL expression
    uses."""
    return set(re.findall(r'\b((?:herald|process)_[a-z0-9_]+)\b', expr))


def exported(text):
    """Every series name a scrape has (histograms' _bucket, _sum and
    _count included)."""
    return set(re.findall(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )', text,
                          re.M))


class DockerTest(AdminCase):
    """docker/grafana/herald.json and docker/prometheus/: valid, and
    naming only metrics a real scrape has."""

    def scrape(self):
        Registrant(self, self.herald).add('sip:alice@127.0.0.1:5999')
        return exported(harness.metrics(self.herald))

    def test_alert_rules(self):
        need_promtool(self)
        path = os.path.join(ROOT, 'docker', 'prometheus', 'alerts.yml')
        p = subprocess.run([promtool(), 'check', 'rules', path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        import yaml
        with open(path, encoding='utf-8') as f:
            rules = [r for g in yaml.safe_load(f)['groups']
                     for r in g['rules']]
        self.assertIn('SUCCESS: %d rules found' % len(rules), p.stdout)
        names = {r['alert'] for r in rules}
        self.assertLessEqual({'HeraldDown', 'HeraldStoreDisconnected',
                              'HeraldServerErrors', 'HeraldAuthFailureSpike',
                              'HeraldMemoryGrowth', 'HeraldNodeFenced'},
                             names)
        have = self.scrape()
        for r in rules:
            used = metric_names(r['expr'])
            self.assertTrue(used or 'up{' in r['expr'], r)
            self.assertEqual(used - have, set(), r['alert'])

    def test_prometheus_config(self):
        need_promtool(self)
        with tempfile.TemporaryDirectory() as d:
            # the token file it names must exist for promtool
            with open(os.path.join(d, 'token'), 'w') as f:
                f.write(harness.ADMIN_TOKEN)
            src = os.path.join(ROOT, 'docker', 'prometheus')
            with open(os.path.join(src, 'prometheus.yml')) as f:
                conf = f.read()
            self.assertIn('/etc/prometheus/herald-token', conf)
            with open(os.path.join(d, 'prometheus.yml'), 'w') as f:
                f.write(conf.replace('/etc/prometheus/herald-token',
                                     os.path.join(d, 'token')))
            shutil.copy(os.path.join(src, 'alerts.yml'), d)
            p = subprocess.run([promtool(), 'check', 'config',
                                os.path.join(d, 'prometheus.yml')],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_dashboard(self):
        path = os.path.join(ROOT, 'docker', 'grafana', 'herald.json')
        with open(path, encoding='utf-8') as f:
            dash = json.load(f)
        self.assertEqual(dash['uid'], 'herald')
        exprs = [t['expr'] for p in dash['panels']
                 for t in p.get('targets', [])]
        exprs += [v['query'] for v in dash['templating']['list']
                  if v['type'] == 'query']
        self.assertGreater(len(exprs), 10)
        have = self.scrape()
        used = set()
        for e in exprs:
            names = metric_names(e)
            self.assertTrue(names or e.startswith('up{'), e)
            self.assertEqual(names - have, set(), e)
            used |= names
        # what the dashboard is for
        self.assertLessEqual({
            'herald_sip_requests_total', 'herald_notifies_total',
            'herald_sip_server_errors_total', 'herald_auth_failures_total',
            'herald_sip_connections', 'process_resident_memory_bytes',
            'process_cpu_seconds_total', 'herald_store_queue_depth'}, used)
        ids = [p['id'] for p in dash['panels']]
        self.assertEqual(len(ids), len(set(ids)))


if __name__ == '__main__':
    unittest.main()
