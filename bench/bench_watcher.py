# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the watcher against pods already in the API, versus the original's way.

Not a test. Starts a real control plane (tests/lib/kube_control_plane.py) and real Northbound
ovsdb-servers, creates one Node and N pods bound to it, then times, side by side:

  watcher    agents/bin/ovn-k8s-watcher started over the N pods: from its start until every
             pod has its port committed and its annotation written (read back from the API
             and the database); then a restart over the same pods, timed until it is ready,
             counting Northbound transactions and API writes (both must be zero)
  baseline   what the original ovn-k8s-watcher did per pod, sequentially: one ``ovn-nbctl``
             process for the port (lsp-add, addresses, port security) and one merge patch of
             the annotation, over the first B pods (default 500), extrapolated to N

Usage (after scripts/setup):
  .venv/bin/python bench/bench_watcher.py [--pods 5000] [--baseline-pods 500] [--workers 4]
                                          [--python /usr/bin/python3]
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, 'tests', 'lib'), os.path.join(REPO, 'agents')]

import kube_control_plane  # noqa: E402
from ovsdb_server import NB_SCHEMA, OvsdbServer  # noqa: E402


def collection_root():
    root = os.path.join(REPO, '.build')
    link = os.path.join(root, 'ansible_collections', 'ovn_k8s', 'overlay')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    return root


def create_pods(kube, ns, node, n):
    """N pods through a thread pool (the API server is the limit)."""
    from concurrent.futures import ThreadPoolExecutor
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
    with open(db, 'rb') as f:
        return sum(1 for line in f if line.startswith(b'OVSDB JSON'))


def metric(port, name):
    try:
        text = urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=5).read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith('ovn_k8s_watcher_' + name + ' '):
            return float(line.split()[-1])
    return 0.0


def ready(port):
    try:
        return urllib.request.urlopen('http://127.0.0.1:%d/readyz' % port, timeout=5).read().decode().strip()
    except OSError:
        return None


def run_watcher(kube, remote, workdir, port, workers, name, python):
    env = dict(os.environ, OVN_K8S_COLLECTIONS_PATH=collection_root())
    log = open(os.path.join(workdir, 'watcher-%s.log' % name), 'ab')
    return subprocess.Popen([python, os.path.join(REPO, 'agents', 'bin', 'ovn-k8s-watcher'),
                             '--kubeconfig', kube.kubeconfig, '--nb-remote', remote,
                             '--cluster-subnet', '10.128.0.0/14', '--host-prefix', '18', '--workers', str(workers),
                             '--lease-name', '', '--metrics-address', '127.0.0.1:%d' % port, '--log-level', 'warning'],
                            stdout=log, stderr=subprocess.STDOUT, env=env)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--pods', type=int, default=5000)
    p.add_argument('--baseline-pods', type=int, default=500)
    p.add_argument('--workers', type=int, default=4)
    p.add_argument('--python', default='/usr/bin/python3',
                   help='the interpreter of the watcher (default: the system one, as the role runs it)')
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix='bench-watcher-')
    kube = kube_control_plane.ControlPlane(kube_control_plane.bin_dir())
    kube.start()
    try:
        core = kube.core()
        kube.create_namespace('bench')
        kube.create_node('bench-node')
        t = time.time()
        create_pods(kube, 'bench', 'bench-node', args.pods)
        print('created %d pods in %.1fs' % (args.pods, time.time() - t))

        # The watcher.
        os.makedirs(os.path.join(work, 'w'))
        nb = OvsdbServer(os.path.join(work, 'w'), [NB_SCHEMA], 'nb')
        subprocess.check_call(['ovn-nbctl', '--db=' + nb.remote, 'lr-add', 'ovn_cluster_router'])
        port = kube_control_plane.free_port()
        t0 = time.time()
        proc = run_watcher(kube, nb.remote, work, port, args.workers, 'first', args.python)
        while True:
            done, total = annotated(core, 'bench')
            if done == total:
                break
            if proc.poll() is not None:
                raise SystemExit('the watcher exited: see %s' % work)
            time.sleep(0.5)
        took = time.time() - t0
        ports = int(subprocess.check_output(['ovn-nbctl', '--db=' + nb.remote, '--bare', '--columns=_uuid', 'find',
                                             'Logical_Switch_Port', 'external_ids:ovn-k8s-watcher=pod']).decode().split().__len__())
        print('watcher: %d pods with ports (%d) and annotations in %.1fs (start-up included): %.0f pods/s'
              % (total, ports, took, total / took))
        proc.terminate()
        proc.wait(30)
        before = transactions(nb.dbs[0])
        t1 = time.time()
        proc = run_watcher(kube, nb.remote, work, port, args.workers, 'second', args.python)
        while ready(port) != 'leading':
            time.sleep(0.1)
        restart = time.time() - t1
        writes = metric(port, 'api_writes_total{kind="annotation"}')
        print('restart over %d pods in step: ready in %.1fs, %d Northbound transactions, %s annotation writes'
              % (total, restart, transactions(nb.dbs[0]) - before, int(writes or 0)))
        proc.terminate()
        proc.wait(30)
        nb.stop()

        # The baseline: one ovn-nbctl and one patch per pod, in sequence, like the original.
        os.makedirs(os.path.join(work, 'b'))
        nb2 = OvsdbServer(os.path.join(work, 'b'), [NB_SCHEMA], 'nb')
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
        print('ratio watcher/baseline: %.1fx' % ((total / took) / rate))
        nb2.stop()
    finally:
        kube.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
