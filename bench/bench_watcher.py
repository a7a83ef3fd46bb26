# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the watcher against pods already in the API, versus the original's way.

Not a test. Starts a real control plane (tests/lib/kube_control_plane.py) and real Northbound
ovsdb-servers, creates one Node and N pods bound to it, then times, side by side:

  ceiling    what the API server allows for the watcher's writes alone, over the same pods: one
             annotation PATCH per pod shaped like the watcher's, from as many threads as the
             watcher's writers (--api-workers), the answers dropped, nothing else running; each
             watcher's pods per second is then printed as a share of it

  watcher    agents/bin/ovn-k8s-watcher started over the N pods: from its start until every
             pod has its port committed and its annotation written (read back from the API
             and the database); then a restart over the same pods, timed until it is ready,
             counting Northbound transactions and API writes (both must be zero)
             and where a pod's time went (the watcher's own step histograms: queue wait,
             planning under the Northbound lock, Northbound commits, annotation PATCHes)
  baseline   what the original ovn-k8s-watcher did per pod, sequentially: one ``ovn-nbctl``
             process for the port (lsp-add, addresses, port security) and one merge patch of
             the annotation, over the first B pods (default 500), extrapolated to N

With ``--versus-cluster`` the watcher's run over the N pods and its restart are timed twice, side
by side over the same pods: against one standalone Northbound ovsdb-server on plain TCP, and
against a three-member RAFT cluster (tests/lib/ovsdb_cluster.py) that speaks only SSL to its
clients, as a clustered TLS central does (issue 10); the ovn-nbctl baseline is then skipped.

With ``--rate R --duration D`` it measures latency instead: the watcher runs over an empty
namespace, pods are created at a steady R per second for D seconds, and for each pod the time
from its create call's answer to its port in the Northbound database (an ``ovsdb-client
monitor`` with timestamps) and to its annotation (a watch on the namespace) is recorded;
p50/p90/p99 are printed and the distributions drawn into ``--plot`` (a PNG made with matplotlib:
run ``bash bench/setup`` once to install requirements-bench.txt; scripts/setup does not).

Usage (after scripts/setup):
  .venv/bin/python bench/bench_watcher.py [--pods 5000] [--baseline-pods 500] [--workers 4]
                                          [--api-workers 16] [--python /usr/bin/python3]
  .venv/bin/python bench/bench_watcher.py --pods 5000 --versus-cluster
  .venv/bin/python bench/bench_watcher.py --rate 100 --duration 60 --plot bench/latency.png
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import calendar
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, 'tests', 'lib'), os.path.join(REPO, 'agents')]

import kube_control_plane  # noqa: E402
from local_ports import free_port  # noqa: E402
from ovsdb_cluster import OvsdbCluster  # noqa: E402
from ovs_pki import ca_cert, make_pki  # noqa: E402
from ovsdb_server import NB_SCHEMA, OvsdbServer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plots  # noqa: E402

STEPS = (('queue_wait_seconds', 'a pod key waiting in the queue'),
         ('nb_plan_seconds', 'planning a batch under the Northbound lock'),
         ('nb_commit_seconds', 'one Northbound transaction'),
         ('api_patch_seconds', 'one annotation PATCH'),
         ('batch_pods', 'pods per batch'))


def collection_root(tree=REPO):
    root = os.path.join(tree, '.build')
    link = os.path.join(root, 'ansible_collections', 'ovn_k8s', 'overlay')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(tree, link)
    return root


def create_pods(kube, ns, node, n):
    """N pods through a thread pool (the API server is the limit)."""
    from kubernetes import client
    core = kube.core()

    def one(i):
        body = client.V1Pod(metadata=client.V1ObjectMeta(name='p%05d' % i),
                            spec=client.V1PodSpec(node_name=node, containers=[client.V1Container(name='c', image='x')]))
        core.create_namespaced_pod(ns, body)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))


def annotated(core, ns):
    resp = core.list_namespaced_pod(ns, _preload_content=False)
    items = json.loads(resp.data)['items']
    return sum(1 for p in items if 'ovn' in (p['metadata'].get('annotations') or {})), len(items)


def transactions(db):
    """Records in a database file: a standalone file heads each with ``OVSDB JSON``, a cluster
    member's with ``OVSDB CLUSTER`` (transactions, and RAFT's own entries such as votes)."""
    with open(db, 'rb') as f:
        return sum(1 for line in f if line.startswith((b'OVSDB JSON ', b'OVSDB CLUSTER ')))


def metrics_text(port):
    try:
        return urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=5).read().decode()
    except OSError:
        return None


def metric(port, name, text=None):
    text = text if text is not None else metrics_text(port)
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith('ovn_k8s_watcher_' + name + ' '):
            return float(line.split()[-1])
    return 0.0


def profile(port):
    """Where the time went, from the watcher's step histograms: count, total and mean."""
    text = metrics_text(port)
    lines = []
    for name, what in STEPS:
        n, total = metric(port, name + '_count', text), metric(port, name + '_sum', text)
        if name == 'batch_pods':
            lines.append('  %-45s %6d batches, mean %.1f pods' % (what, n, total / n if n else 0))
        else:
            lines.append('  %-45s %6d times, total %7.1fs, mean %7.1f ms' % (what, n, total, 1000 * total / n if n else 0))
    return '\n'.join(lines)


def ready(port):
    try:
        return urllib.request.urlopen('http://127.0.0.1:%d/readyz' % port, timeout=5).read().decode().strip()
    except OSError:
        return None


class NbDatabase:
    """The watcher's Northbound database for one run: ``unix`` (one standalone ovsdb-server on
    a unix socket), ``tcp`` (the same on TCP on loopback) or ``cluster-ssl`` (three RAFT
    members, SSL listeners, certificates from ``pki``: a directory made by ovs_pki.make_pki)."""

    def __init__(self, workdir, kind='unix', pki=None):
        self.kind = kind
        self.client, self.watcher_args = [], []
        if kind == 'cluster-ssl':
            ca = ca_cert(pki)
            server = (os.path.join(pki, 'server-privkey.pem'), os.path.join(pki, 'server-cert.pem'), ca)
            self.cluster = OvsdbCluster(workdir, 3, NB_SCHEMA, ssl=server)
            self.remote = self.cluster.remote
            self.dbs = [m.db for m in self.cluster.members]
            key, cert = os.path.join(pki, 'client-privkey.pem'), os.path.join(pki, 'client-cert.pem')
            self.client = ['--private-key=' + key, '--certificate=' + cert, '--ca-cert=' + ca]
            self.watcher_args = ['--ssl-key', key, '--ssl-cert', cert, '--ssl-ca-cert', ca]
            return
        self.server = OvsdbServer(workdir, [NB_SCHEMA], 'nb')
        self.remote, self.dbs = self.server.remote, self.server.dbs
        if kind == 'tcp':
            port = free_port()
            subprocess.check_call(['ovs-appctl', '-t', os.path.join(self.server.workdir, 'nb.ctl'),
                                   'ovsdb-server/add-remote', 'ptcp:%d:127.0.0.1' % port])
            self.remote = 'tcp:127.0.0.1:%d' % port

    def nbctl(self, *args):
        return subprocess.check_output(['ovn-nbctl', '--db=' + self.remote] + self.client + list(args))

    def pids(self):
        if self.kind == 'cluster-ssl':
            return dict(('ovsdb-server m%d' % m.index, m.pid()) for m in self.cluster.members)
        with open(self.server.pidfile, encoding='ascii') as f:
            return {'ovsdb-server': int(f.read().strip())}

    def transactions(self):
        """Transactions written to the database (a cluster member's log holds every entry)."""
        return transactions(self.dbs[0])

    def stop(self):
        (self.cluster if self.kind == 'cluster-ssl' else self.server).stop()


def run_watcher(kube, remote, workdir, port, args, name, tree=REPO, profile_to=None, db_args=()):
    env = dict(os.environ, OVN_K8S_COLLECTIONS_PATH=collection_root(tree))
    log = open(os.path.join(workdir, 'watcher-%s.log' % name), 'ab')
    extra = (['--api-workers', str(args.api_workers)] if args.api_workers is not None else []) + list(db_args)
    python = [args.python] + (['-m', 'cProfile', '-o', profile_to] if profile_to else [])
    argv = python + [os.path.join(tree, 'agents', 'bin', 'ovn-k8s-watcher'),
                     '--kubeconfig', kube.kubeconfig, '--nb-remote', remote,
                     '--cluster-subnet', getattr(args, 'cluster_subnet', '10.128.0.0/14'), '--host-prefix', str(args.host_prefix),
                     '--workers', str(args.workers)] + extra
    return subprocess.Popen(argv + ['--lease-name', '', '--metrics-address', '127.0.0.1:%d' % port, '--log-level', 'warning'],
                            stdout=log, stderr=subprocess.STDOUT, env=env)


def cpu_seconds(pid):
    """User plus system CPU seconds a process has used so far (0 when it is gone)."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii') as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (OSError, ValueError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class CpuMeter:
    """CPU seconds of the processes that share the machine's cores during one phase."""

    def __init__(self, kube, nb, watcher):
        self.pids = dict((name, p.proc.pid) for name, p in kube._procs.items() if p.proc is not None)
        self.pids.update(nb.pids())
        self.pids['watcher'] = watcher.pid
        self.pids['bench (this process)'] = os.getpid()
        self.start = dict((k, cpu_seconds(v)) for k, v in self.pids.items())
        self.t0 = time.time()

    def report(self):
        took = time.time() - self.t0
        used = sorted(((cpu_seconds(v) - self.start[k], k) for k, v in self.pids.items()), reverse=True)
        load = os.getloadavg()[0]
        return ('  CPU seconds over %.1fs of wall time (2 cores: %.0f available; load average %.1f, other sessions '
                'included): %s' % (took, 2 * took, load, ', '.join('%s %.1f' % (k, v) for v, k in used)))


def percentile(values, q):
    values = sorted(values)
    if not values:
        return float('nan')
    return values[min(len(values) - 1, int(round(q / 100.0 * (len(values) - 1))))]


class RawWatch(threading.Thread):
    """A list, then a watch from its resourceVersion, on raw JSON (no client models, so the bench
    spends little of the shared CPU on it); 410 Gone lists again. Subclasses give ``list_call``
    (the client's list method, with its fixed arguments) and ``on_object(obj, event type or
    None for a listed object, when)``."""

    def __init__(self):
        threading.Thread.__init__(self, daemon=True)
        self.stop = threading.Event()
        self.rv = self.relist()

    def list_call(self, **kwargs):
        raise NotImplementedError

    def on_object(self, obj, kind, now):
        raise NotImplementedError

    def relist(self):
        doc = json.loads(self.list_call(_preload_content=False).data)
        now = time.time()
        for obj in doc['items']:
            self.on_object(obj, None, now)
        return doc['metadata']['resourceVersion']

    def run(self):
        while not self.stop.is_set():
            resp = self.list_call(watch=True, resource_version=self.rv, timeout_seconds=30, allow_watch_bookmarks=True,
                                  _preload_content=False)
            buf = b''
            for chunk in resp.stream(65536, decode_content=False):
                buf += chunk
                while b'\n' in buf:
                    line, buf = buf.split(b'\n', 1)
                    now = time.time()
                    event = json.loads(line)
                    if event.get('type') == 'ERROR':  # 410 Gone: list again
                        self.rv = self.relist()
                        continue
                    self.rv = event['object']['metadata'].get('resourceVersion', self.rv)
                    if event.get('type') in ('ADDED', 'MODIFIED', 'DELETED'):
                        self.on_object(event['object'], event['type'], now)
                if self.stop.is_set():
                    break


class PodWatch(RawWatch):
    """Records when each pod of ``ns`` is first seen with its ``ovn`` annotation."""

    def __init__(self, core, ns):
        self.core, self.ns = core, ns
        self.seen = {}
        RawWatch.__init__(self)

    def list_call(self, **kwargs):
        return self.core.list_namespaced_pod(self.ns, **kwargs)

    def on_object(self, obj, kind, now):
        meta = obj['metadata']
        if kind != 'DELETED' and 'ovn' in (meta.get('annotations') or {}):
            self.seen.setdefault(meta['name'], now)


def monitor_stamp(text):
    """Seconds since the epoch of a line ``ovsdb-client monitor --timestamp`` writes before each
    update (UTC, milliseconds), else None."""
    if text[:2] != '20' or text[4:5] != '-' or ',' in text:
        return None
    day, clock = text.split()
    hms, _dot, frac = clock.partition('.')
    return calendar.timegm(time.strptime(day + ' ' + hms, '%Y-%m-%d %H:%M:%S')) + float('0.' + (frac or '0'))


class OvsdbMonitor:
    """``ovsdb-client monitor --timestamp --format=csv`` of ``columns`` of a Northbound ``table``
    into a file: when each change was committed, as a separate client of the database is told."""

    def __init__(self, remote, workdir, table, columns, filename):
        self.path = os.path.join(workdir, filename)
        self.out = open(self.path, 'wb')
        self.proc = subprocess.Popen(['ovsdb-client', 'monitor', '--timestamp', '--format=csv', remote, 'OVN_Northbound',
                                      table, columns], stdout=self.out, stderr=subprocess.DEVNULL)

    def end(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.out.close()


class PortMonitor(OvsdbMonitor):
    """When each Logical_Switch_Port was inserted, by name."""

    def __init__(self, remote, workdir):
        OvsdbMonitor.__init__(self, remote, workdir, 'Logical_Switch_Port', 'name', 'monitor.csv')

    def stop(self):
        self.end()
        seen, when = {}, None
        with open(self.path, encoding='utf-8') as f:
            for line in f:
                line = line.strip()
                stamp = monitor_stamp(line)
                if stamp is not None:
                    when = stamp
                elif ',insert,' in line and when is not None:
                    name = line.rsplit(',', 1)[1].strip('"')
                    seen.setdefault(name, when)
        return seen


def steady_rate(args, kube, work):
    """Pods created at ``args.rate`` per second for ``args.duration`` seconds into a namespace
    the watcher already serves; latency from each create call's answer to its port and to its
    annotation."""
    from kubernetes import client
    core = kube.core()
    nb = NbDatabase(os.path.join(work, 'w'))
    nb.nbctl('lr-add', 'ovn_cluster_router')
    port = kube_control_plane.free_port()
    proc = run_watcher(kube, nb.remote, work, port, args, 'rate')
    while ready(port) != 'leading':
        if proc.poll() is not None:
            raise SystemExit('the watcher exited: see %s' % work)
        time.sleep(0.1)
    monitor = PortMonitor(nb.remote, work)
    watch = PodWatch(core, 'bench')
    watch.start()
    time.sleep(1)
    cpu = CpuMeter(kube, nb, proc)
    n = int(args.rate * args.duration)
    created, late = {}, [0]

    def one(i, due):
        name = 'p%05d' % i
        body = client.V1Pod(metadata=client.V1ObjectMeta(name=name),
                            spec=client.V1PodSpec(node_name='bench-node', containers=[client.V1Container(name='c', image='x')]))
        sent = time.time()
        if sent - due > 0.05:
            late[0] += 1
        core.create_namespaced_pod('bench', body, _preload_content=False).read()
        created[name] = (sent, time.time())
    t0 = time.time()
    with ThreadPoolExecutor(32) as pool:
        futures = []
        for i in range(n):
            due = t0 + i / args.rate
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            futures.append(pool.submit(one, i, due))
        for f in futures:
            f.result()
    took = time.time() - t0
    print('created %d pods in %.1fs (%.1f per second asked, %.1f achieved; %d sent more than 50 ms late)'
          % (n, took, args.rate, n / took, late[0]))
    deadline = time.time() + 120
    while len(watch.seen) < n and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    watch.stop.set()
    ports = monitor.stop()
    text = metrics_text(port)
    print('profile of the watcher during the run:')
    print(profile(port))
    print(cpu.report())
    proc.terminate()
    proc.wait(30)
    nb.stop()
    port_ms, annot_ms, port_sent_ms, annot_sent_ms = [], [], [], []
    for name, (sent, answered) in created.items():
        if 'bench_' + name in ports:
            port_ms.append(1000 * max(0.0, ports['bench_' + name] - answered))
            port_sent_ms.append(1000 * (ports['bench_' + name] - sent))
        if name in watch.seen:
            annot_ms.append(1000 * max(0.0, watch.seen[name] - answered))
            annot_sent_ms.append(1000 * (watch.seen[name] - sent))
    print('%d of %d pods got a port, %d an annotation (within 120 s of the last creation)' % (len(port_ms), n, len(annot_ms)))
    for label, vals in (('create answered -> port committed', port_ms), ('create answered -> annotation seen', annot_ms),
                        ('create sent -> port committed', port_sent_ms), ('create sent -> annotation seen', annot_sent_ms)):
        print('  %-36s p50 %7.1f ms  p90 %7.1f ms  p99 %7.1f ms  max %7.1f ms'
              % (label, percentile(vals, 50), percentile(vals, 90), percentile(vals, 99), max(vals) if vals else float('nan')))
    if args.plot:
        x_max = max(percentile(annot_ms, 99.5) * 1.1, 10.0)
        plots.latency_cdf(
            args.plot, 'Watcher latency at a steady %g pods/s for %g s (%d pods created, %.1f/s achieved)'
            % (args.rate, args.duration, n, n / took),
            [('create answered -> port committed in Northbound', port_ms),
             ('create answered -> annotation seen on a watch', annot_ms)],
            subtitle='bench/bench_watcher.py --rate %g --duration %g; load average at the end %.2f'
            % (args.rate, args.duration, os.getloadavg()[0]), x_max=x_max)
        print('plot: %s (x clipped at %.0f ms)' % (args.plot, x_max))
    with open(os.path.join(work, 'latency.json'), 'w', encoding='utf-8') as f:
        json.dump({'created': created, 'ports': ports, 'annotated': watch.seen, 'metrics': text}, f)


def first_and_restart(args, kube, work, label, tree, last=True, db_kind='unix', pki=None):
    """The watcher of ``tree`` over the pods already in the API (its own Northbound database,
    of ``db_kind``: see NbDatabase), then a restart over the same pods; returns pods per second
    of the first run and leaves the pods' annotations removed again for whatever runs next."""
    core = kube.core()
    os.makedirs(os.path.join(work, label))
    nb = NbDatabase(os.path.join(work, label), db_kind, pki)
    nb.nbctl('lr-add', 'ovn_cluster_router')
    port = kube_control_plane.free_port()
    watch = PodWatch(core, 'bench')
    watch.start()
    total = annotated(core, 'bench')[1]
    t0 = time.time()
    proc = run_watcher(kube, nb.remote, work, port, args, label + '-first', tree, db_args=nb.watcher_args)
    cpu = CpuMeter(kube, nb, proc)
    progress = (0, time.time())
    while len(watch.seen) < total:
        if proc.poll() is not None:
            raise SystemExit('the watcher exited: see %s' % work)
        if len(watch.seen) != progress[0]:
            progress = (len(watch.seen), time.time())
        elif time.time() - progress[1] > 180:
            raise SystemExit('no pod annotated for 180 s (%d of %d): see %s' % (progress[0], total, work))
        time.sleep(0.1)
    took = max(watch.seen.values()) - t0
    watch.stop.set()
    done, total = annotated(core, 'bench')
    ports = len(nb.nbctl('--bare', '--columns=_uuid', 'find', 'Logical_Switch_Port', 'external_ids:ovn-k8s-watcher=pod').split())
    print('%s (%s, Northbound: %s): %d of %d pods annotated, %d ports, in %.1fs (start-up included): %.0f pods/s'
          % (label, tree, nb.kind, done, total, ports, took, total / took))
    print('profile of the first run:')
    print(profile(port))
    print(cpu.report())
    proc.terminate()
    proc.wait(30)
    before = nb.transactions()
    t1 = time.time()
    proc = run_watcher(kube, nb.remote, work, port, args, label + '-second', tree,
                       profile_to=args.profile_restart if label == 'watcher' else None, db_args=nb.watcher_args)
    cpu = CpuMeter(kube, nb, proc)
    while ready(port) != 'leading':
        if proc.poll() is not None:
            raise SystemExit('the watcher exited: see %s' % work)
        time.sleep(0.05)
    restart = time.time() - t1
    text = metrics_text(port)
    writes = metric(port, 'api_writes_total{kind="annotation"}', text)
    events = metric(port, 'api_writes_total{kind="event"}', text)
    reconcile = metric(port, 'reconcile_duration_seconds_sum', text)
    print('%s: restart over %d pods in step: ready in %.1fs after the process started (reconcile %.1fs after the '
          'lists began), %d Northbound transactions, %d annotation writes, %d event writes'
          % (label, total, restart, reconcile, nb.transactions() - before, int(writes or 0), int(events or 0)))
    print(cpu.report())
    proc.terminate()
    proc.wait(30)
    nb.stop()
    if not last:
        unannotate(core, 'bench')
    return total / took


def api_ceiling(core, ns, threads):
    """What the API server allows for the watcher's writes alone: one JSON merge patch per pod of
    an annotation shaped like the watcher's (both keys, the uid precondition), from ``threads``
    threads as the watcher's writers, the answers read and dropped, nothing else running. Returns
    pods per second; the annotations are taken off again."""
    items = json.loads(core.list_namespaced_pod(ns, _preload_content=False).data)['items']

    def one(item):
        meta = item['metadata']
        i = int(meta['name'][1:]) + 3
        ip, mac = '10.128.%d.%d' % (i // 256, i % 256), '0a:58:0a:80:%02x:%02x' % (i // 256, i % 256)
        network = {'ip_address': ip + '/18', 'mac_address': mac, 'gateway_ip': '10.128.0.1'}
        body = {'metadata': {'uid': meta['uid'], 'annotations': {
            'ovn': json.dumps(network, sort_keys=True),
            'k8s.ovn.org/pod-networks': json.dumps({'default': {
                'ip_addresses': [network['ip_address']], 'mac_address': mac, 'gateway_ips': ['10.128.0.1'],
                'routes': [], 'ip_address': network['ip_address'], 'gateway_ip': '10.128.0.1'}}, sort_keys=True)}}}
        core.patch_namespaced_pod(meta['name'], ns, body, _content_type='application/merge-patch+json',
                                  _preload_content=False).read()
    t = time.time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, items))
    took = time.time() - t
    rate = len(items) / took
    print('API ceiling: %d annotation PATCHes from %d threads, nothing else running, in %.1fs: %.0f pods/s '
          '(load average %s)' % (len(items), threads, took, rate, ' '.join('%.1f' % x for x in os.getloadavg())))
    unannotate(core, ns)
    return rate


def unannotate(core, ns):
    """Take the watcher's annotations off again, so that the next watcher starts from scratch."""
    items = json.loads(core.list_namespaced_pod(ns, _preload_content=False).data)['items']
    gone = {'metadata': {'annotations': {'ovn': None, 'k8s.ovn.org/pod-networks': None}}}

    def one(pod):
        core.patch_namespaced_pod(pod['metadata']['name'], ns, gone, _content_type='application/merge-patch+json',
                                  _preload_content=False).read()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, [p for p in items if 'ovn' in (p['metadata'].get('annotations') or {})]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--pods', type=int, default=5000)
    p.add_argument('--baseline-pods', type=int, default=500)
    p.add_argument('--workers', type=int, default=4)
    p.add_argument('--api-workers', type=int, default=None, help="the watcher's --api-workers (default: its own)")
    p.add_argument('--host-prefix', type=int, default=18, help='the node subnet prefix (18: 16,382 addresses)')
    p.add_argument('--rate', type=float, default=None, help='steady-rate latency run: pods created per second')
    p.add_argument('--duration', type=float, default=60, help='seconds of the steady-rate run')
    p.add_argument('--plot', default=None, help='PNG of the latency distributions (steady-rate run; needs: bash bench/setup)')
    p.add_argument('--keep', action='store_true', help='keep the work directory (logs, raw latencies)')
    p.add_argument('--profile-restart', default=None, help='run the restarted watcher under cProfile, stats to this file')
    p.add_argument('--before', default=None,
                   help='a checkout of an earlier watcher (e.g. from git archive) timed first over the same pods')
    p.add_argument('--versus-cluster', action='store_true',
                   help='one TCP database versus a three-member SSL cluster, side by side (no ovn-nbctl baseline)')
    p.add_argument('--python', default='/usr/bin/python3',
                   help='the interpreter of the watcher (default: the system one, as the role runs it)')
    args = p.parse_args()
    if args.plot:
        plots.require()  # before minutes of work, not after
    work = tempfile.mkdtemp(prefix='bench-watcher-')
    kube = kube_control_plane.ControlPlane(kube_control_plane.bin_dir())
    kube.start()
    try:
        core = kube.core()
        kube.create_namespace('bench')
        kube.create_node('bench-node')
        if args.rate:
            os.makedirs(os.path.join(work, 'w'))
            steady_rate(args, kube, work)
            return
        t = time.time()
        create_pods(kube, 'bench', 'bench-node', args.pods)
        print('created %d pods in %.1fs' % (args.pods, time.time() - t))

        if args.versus_cluster:
            pki = make_pki(os.path.join(work, 'pki'))
            one = first_and_restart(args, kube, work, 'one-tcp', REPO, last=False, db_kind='tcp')
            three = first_and_restart(args, kube, work, 'cluster-ssl', REPO, db_kind='cluster-ssl', pki=pki)
            print('ratio three-member SSL cluster / one TCP database (pods per second): %.2fx' % (three / one))
            return

        ceiling = api_ceiling(core, 'bench', args.api_workers or 16)
        rates = {}
        for label, tree in ([('before', os.path.abspath(args.before))] if args.before else []) + [('watcher', REPO)]:
            rates[label] = first_and_restart(args, kube, work, label, tree, last=label == 'watcher')
        for label, value in sorted(rates.items()):
            print('share of the API ceiling, %s: %.0f pods/s of %.0f = %.0f %%' % (label, value, ceiling, 100 * value / ceiling))

        # The baseline: one ovn-nbctl and one patch per pod, in sequence, like the original.
        os.makedirs(os.path.join(work, 'b'))
        nb2 = OvsdbServer(os.path.join(work, 'b'), [NB_SCHEMA], 'nb')  # the baseline drives it with ovn-nbctl
        subprocess.check_call(['ovn-nbctl', '--db=' + nb2.remote, 'ls-add', 'bench-node', '--', 'set',
                               'Logical_Switch', 'bench-node', 'other_config:subnet=10.128.0.0/18'])
        n = min(args.baseline_pods, args.pods)
        t2 = time.time()
        for i in range(n):
            ip = '10.128.%d.%d' % ((i + 3) // 256, (i + 3) % 256)
            mac = '0a:58:0a:80:%02x:%02x' % ((i + 3) // 256, (i + 3) % 256)
            name = 'bench_p%05d' % i
            subprocess.check_call(['ovn-nbctl', '--db=' + nb2.remote, '--', '--may-exist', 'lsp-add', 'bench-node', name,
                                   '--', 'lsp-set-addresses', name, '%s %s' % (mac, ip),
                                   '--', 'lsp-set-port-security', name, '%s %s' % (mac, ip)])
            core.patch_namespaced_pod('p%05d' % i, 'bench', {'metadata': {'annotations': {
                'baseline': json.dumps({'ip_address': ip + '/18', 'mac_address': mac, 'gateway_ip': '10.128.0.1'})}}},
                _content_type='application/merge-patch+json')
        base = time.time() - t2
        rate = n / base
        print('baseline: %d pods in %.1fs: %.0f pods/s (%d pods would take %.0fs)' % (n, base, rate, args.pods, args.pods / rate))
        for label, value in sorted(rates.items()):
            print('ratio %s/baseline: %.1fx' % (label, value / rate))
        nb2.stop()
    finally:
        kube.stop()
        if args.keep:
            print('kept %s' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
