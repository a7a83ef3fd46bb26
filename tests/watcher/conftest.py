# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the watcher's tests: a real Northbound ovsdb-server per test, the session's real
Kubernetes control plane (``kube``), and the watcher itself as a subprocess
(agents/bin/ovn-k8s-watcher), exactly as it runs on a host.

Every test works in its own namespace, on its own Nodes and its own Lease, and removes them
afterwards (pods with grace period 0: there is no kubelet to finish a graceful deletion).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import pytest

from ovsdb_server import NB_SCHEMA, OvsdbServer  # tests/lib
from waiting import wait_for  # tests/lib

from checkout import REPO, collection_root  # tests/lib
from local_ports import free_port  # tests/lib
WATCHER = os.path.join(REPO, 'agents', 'bin', 'ovn-k8s-watcher')
CLUSTER_SUBNET = '10.128.0.0/14'


# The watcher's package and the collection core, importable in the test process too.
for _path in (collection_root(), os.path.join(REPO, 'agents')):
    if _path not in sys.path:
        sys.path.insert(0, _path)


class Nb:
    """The test's Northbound database, read the way an operator would (ovn-nbctl)."""

    def __init__(self, tmp_path, max_rows=None):
        schema = NB_SCHEMA
        if max_rows:
            # The real schema with a row limit on some tables ({table: rows}): a database that
            # refuses a transaction the watcher cannot foresee ("constraint violation").
            with open(NB_SCHEMA) as f:
                doc = json.load(f)
            for table, rows in max_rows.items():
                doc['tables'][table]['maxRows'] = rows
            schema = os.path.join(str(tmp_path), 'nb-limited.ovsschema')
            with open(schema, 'w') as f:
                json.dump(doc, f)
        self.server = OvsdbServer(tmp_path, [schema], 'nb')
        self.remote = self.server.remote
        self.ctl('lr-add', 'ovn_cluster_router')

    def ctl(self, *args):
        return subprocess.check_output(['ovn-nbctl', '--db=' + self.remote] + list(args),
                                       universal_newlines=True).strip()

    def rows(self, table, *columns):
        out = json.loads(self.ctl('--format=json', '--data=json', '--columns=' + ','.join(columns), 'list', table))
        return [dict(zip(out['headings'], [_plain(v) for v in row])) for row in out['data']]

    def pod_ports(self):
        """{port name: {'addresses': [...], 'external_ids': {...}, 'port_security': [...]}} of the
        watcher's pod ports, and the switch each sits on."""
        owners = {}
        for sw in self.rows('Logical_Switch', '_uuid', 'name', 'ports'):
            for p in _set(sw['ports']):
                owners[p] = sw['name']
        out = {}
        for p in self.rows('Logical_Switch_Port', '_uuid', 'name', 'addresses', 'port_security', 'external_ids', 'options'):
            if p['external_ids'].get('ovn-k8s-watcher') == 'pod':
                p['switch'] = owners.get(p['_uuid'])
                p['addresses'], p['port_security'] = _set(p['addresses']), _set(p['port_security'])
                out[p['name']] = p
        return out

    def transactions(self):
        """How many records the database file holds: every committed transaction appends one."""
        with open(self.server.dbs[0], 'rb') as f:
            return sum(1 for line in f if line.startswith(b'OVSDB JSON'))


def _plain(value):
    if isinstance(value, list) and len(value) == 2 and value[0] in ('set', 'map', 'uuid'):
        kind, inner = value
        if kind == 'uuid':
            return inner
        if kind == 'set':
            return [_plain(v) for v in inner]
        return dict((_plain(k), _plain(v)) for k, v in inner)
    return value


def _set(value):
    return value if isinstance(value, list) else [value]


@pytest.fixture
def nb(tmp_path, request):
    """The Northbound database; parametrize indirectly with {table: maxRows} for a limited one."""
    db = Nb(tmp_path, getattr(request, 'param', None))
    yield db
    db.server.stop()


class WatcherProcess:
    def __init__(self, kube, nb, workdir, lease, extra=(), name='w'):
        self.kube, self.nb, self.workdir = kube, nb, str(workdir)
        self.lease = lease
        self.extra = list(extra)
        self.name = name
        self.port = free_port()
        self.log_path = os.path.join(self.workdir, 'watcher-%s.log' % name)
        self.proc = None

    def start(self):
        env = dict(os.environ, OVN_K8S_COLLECTIONS_PATH=collection_root(), PYTHONUNBUFFERED='1')
        # OVN_K8S_WATCHER_PYTHON=system runs it as a Debian host does: /usr/bin/python3 with
        # python3-kubernetes, python3-ovsdbapp and python3-openvswitch.
        python = os.environ.get('OVN_K8S_WATCHER_PYTHON') or sys.executable
        python = '/usr/bin/python3' if python == 'system' else python
        argv = [python, WATCHER, '--kubeconfig', self.kube.kubeconfig, '--nb-remote', self.nb.remote,
                '--cluster-subnet', CLUSTER_SUBNET, '--host-prefix', '24', '--workers', '3',
                '--lease-namespace', 'default', '--lease-name', self.lease, '--identity', self.name,
                '--lease-duration', '4', '--renew-deadline', '3', '--retry-period', '1',
                '--watch-timeout', '20', '--metrics-address', '127.0.0.1:%d' % self.port] + self.extra
        self.log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        return self

    def get(self, path):
        try:
            with urllib.request.urlopen('http://127.0.0.1:%d%s' % (self.port, path), timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except (OSError, urllib.error.URLError):
            return None, ''

    def wait_leading(self, timeout=60):
        return wait_for('watcher %s to lead and be reconciled' % self.name,
                        lambda: self.get('/readyz') == (200, 'leading\n') or self._dead(), timeout)

    def _dead(self):
        if self.proc.poll() is not None:
            raise AssertionError('watcher %s exited with %s:\n%s' % (self.name, self.proc.returncode, self.tail()))
        return False

    def metric(self, name, **labels):
        text = self.get('/metrics')[1]
        want = 'ovn_k8s_watcher_' + name
        if labels:
            want += '{%s}' % ','.join('%s="%s"' % kv for kv in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith(want + ' '):
                return float(line.split()[-1])
        return 0.0

    def terminate(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            finally:
                self.kill()
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def tail(self, n=60):
        try:
            with open(self.log_path, errors='replace') as f:
                return ''.join(f.readlines()[-n:])
        except OSError:
            return ''

    def log_text(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()


class Cluster:
    """The test's corner of the session's control plane: one namespace, its Nodes, a Lease."""

    def __init__(self, kube, nb, tmp_path, request):
        from kubernetes import client
        self.client = client
        self.kube, self.nb, self.tmp_path = kube, nb, tmp_path
        self.core = kube.core()
        tag = uuid.uuid4().hex[:6]
        self.ns = 'w-%s' % tag
        self.tag = tag
        self.lease = 'ovn-k8s-watcher-%s' % tag
        self.nodes = []
        self.watchers = []
        kube.create_namespace(self.ns)

    def node(self, name):
        full = '%s-%s' % (name, self.tag)
        self.kube.create_node(full)
        self.nodes.append(full)
        return full

    def watcher(self, name='w', extra=()):
        w = WatcherProcess(self.kube, self.nb, self.tmp_path, self.lease, extra, name)
        self.watchers.append(w)
        return w.start()

    def pod(self, name, node=None, host_network=False, annotations=None):
        c = self.client
        body = c.V1Pod(metadata=c.V1ObjectMeta(name=name, annotations=annotations),
                       spec=c.V1PodSpec(node_name=node, host_network=host_network or None,
                                        containers=[c.V1Container(name='c', image='busybox')]))
        return self.core.create_namespaced_pod(self.ns, body)

    def delete_pod(self, name):
        self.core.delete_namespaced_pod(name, self.ns, grace_period_seconds=0)

    def read(self, name):
        return self.core.read_namespaced_pod(name, self.ns)

    def annotation(self, name):
        return (self.read(name).metadata.annotations or {})

    def wait_annotated(self, names, timeout=60):
        def done():
            pods = dict((p.metadata.name, p) for p in self.core.list_namespaced_pod(self.ns).items)
            ready = [n for n in names if n in pods and 'ovn' in (pods[n].metadata.annotations or {})]
            return len(ready) == len(names) and pods
        return wait_for('pods %s to be annotated' % ', '.join(names), done, timeout)

    def events(self, name=None):
        out = self.core.list_namespaced_event(self.ns).items
        return [e for e in out if name is None or e.involved_object.name == name]

    def cleanup(self):
        for w in self.watchers:
            w.kill()
        try:
            for p in self.core.list_namespaced_pod(self.ns).items:
                self.core.delete_namespaced_pod(p.metadata.name, self.ns, grace_period_seconds=0)
            self.core.delete_namespace(self.ns)
        except Exception:
            pass
        for n in self.nodes:
            try:
                self.core.delete_node(n)
            except Exception:
                pass


@pytest.fixture
def cluster(kube, nb, tmp_path, request):
    c = Cluster(kube, nb, tmp_path, request)
    yield c
    failed = getattr(request.node, 'rep_call', None)
    if failed is not None and failed.failed:
        for w in c.watchers:
            sys.stderr.write('--- watcher %s log (last lines)\n%s\n' % (w.name, w.tail(80)))
    c.cleanup()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, 'rep_' + report.when, report)
    if report.when == 'call' and report.failed and 'cluster' in item.funcargs:
        for w in item.funcargs['cluster'].watchers:
            report.sections.append(('watcher %s log (last lines)' % w.name, w.tail(80)))
    return report
