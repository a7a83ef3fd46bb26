# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the watcher programs services and network policies from a cold start.

Not a test. Starts a real control plane (tests/lib/kube_control_plane.py, with the real
EndpointSlice controller) and a real Northbound ovsdb-server, then makes, before the watcher
runs: one Node, S services (TCP, one port) spread over K namespaces, E ready pods behind each
(S x E pods, each already annotated with an address of the node's subnet and marked Running
with it, as after a restart of the whole network), and P network policies (podSelector peers,
namespaceSelector peers on every fifth, an egress ipBlock rule on every tenth). Then:

  cold start  agents/bin/ovn-k8s-watcher on an empty Northbound database: the time from its
              start to the last Northbound transaction of the converged state (every service's
              load balancer with its E backends, every policy's port group; the database then
              quiet for --quiet seconds with an empty work queue)
  restart     the watcher again over the same objects: the time until it reports it is ready
              (every key reconciled), and the Northbound transactions and API writes it made
              (both must be zero)
  baseline    (--baseline) the same VIPs the original way: one ``ovn-nbctl lb-add`` per
              service into two shared load balancers (TCP and UDP) attached to the node switch,
              in sequence; its time and the database sizes side by side

Usage (after scripts/setup):
  .venv/bin/python bench/bench_services_policies.py [--services 1000] [--endpoints 10]
      [--policies 500] [--namespaces 10] [--baseline]
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
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, 'tests', 'lib'), os.path.join(REPO, 'agents')]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kube_control_plane  # noqa: E402
from bench_watcher import CpuMeter, NbDatabase, metric, metrics_text, ready, run_watcher, transactions  # noqa: E402
from ovsdb_server import NB_SCHEMA, OvsdbServer  # noqa: E402
from ovn_k8s_agents import annotation, policy  # noqa: E402

# The first node switch of an empty database gets the first /18 of 10.128.0.0/14.
NODE_SUBNET = '10.128.0.0/18'
FIRST_POD = 16


def pod_ip(index):
    n = FIRST_POD + index
    return '10.128.%d.%d' % (n // 256, n % 256)


def nbctl(remote, *args):
    return subprocess.check_output(['ovn-nbctl', '--db=' + remote] + list(args), universal_newlines=True)


def nb_rows(remote, table, *columns):
    out = json.loads(nbctl(remote, '--format=json', '--data=json', '--columns=' + ','.join(columns), 'list', table))
    return [dict(zip(out['headings'], row)) for row in out['data']]


def pool_map(func, items, threads=8):
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(func, items))


def make_objects(kube, args):
    """Namespaces, pods (annotated, Running), services and policies; returns their counts."""
    core = kube.core()
    from kubernetes import client
    net = client.NetworkingV1Api(kube.api_client())
    namespaces = ['bench-%d' % k for k in range(args.namespaces)]
    for k, ns in enumerate(namespaces):
        kube.create_namespace(ns)
        core.patch_namespace(ns, {'metadata': {'labels': {'team': 't%d' % (k % 2)}}})
    now = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
    conditions = [{'type': t, 'status': 'True', 'lastTransitionTime': now}
                  for t in ('Initialized', 'Ready', 'ContainersReady', 'PodScheduled')]

    def one_pod(i):
        svc, ns = i // args.endpoints, namespaces[(i // args.endpoints) % args.namespaces]
        ip = pod_ip(i)
        net_ = annotation.PodNetwork(ip + '/18', '0a:58:%s' % ':'.join('%02x' % int(b) for b in ip.split('.')), '10.128.0.1')
        body = {'apiVersion': 'v1', 'kind': 'Pod',
                'metadata': {'name': 'p%05d' % i, 'labels': {'svc': 's%04d' % svc, 'app': 'a%d' % (svc % 7)},
                             'annotations': net_.annotations()},
                'spec': {'nodeName': 'bench-node', 'containers': [{'name': 'c', 'image': 'x', 'ports': [
                    {'name': 'http', 'containerPort': 8080, 'protocol': 'TCP'}]}]}}
        core.create_namespaced_pod(ns, body, _preload_content=False).read()
        status = {'status': {'phase': 'Running', 'podIP': ip, 'podIPs': [{'ip': ip}], 'startTime': now,
                             'conditions': conditions,
                             'containerStatuses': [{'name': 'c', 'image': 'x', 'imageID': '', 'ready': True,
                                                    'restartCount': 0, 'started': True,
                                                    'containerID': 'bench://p%05d' % i,
                                                    'state': {'running': {'startedAt': now}}}]}}
        core.patch_namespaced_pod_status('p%05d' % i, ns, status, _preload_content=False).read()

    def one_service(s):
        body = {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 's%04d' % s},
                'spec': {'selector': {'svc': 's%04d' % s},
                         'ports': [{'name': 'http', 'port': 80, 'targetPort': 'http', 'protocol': 'TCP'}]}}
        core.create_namespaced_service(namespaces[s % args.namespaces], body, _preload_content=False).read()

    def one_policy(i):
        ns = namespaces[i % args.namespaces]
        peer = {'podSelector': {'matchLabels': {'app': 'a%d' % ((i + 1) % 7)}}}
        if i % 5 == 0:
            peer['namespaceSelector'] = {'matchLabels': {'team': 't%d' % (i % 2)}}
        spec = {'podSelector': {'matchLabels': {'svc': 's%04d' % (i % args.services)}},
                'policyTypes': ['Ingress'],
                'ingress': [{'from': [peer], 'ports': [{'protocol': 'TCP', 'port': 'http'}]}]}
        if i % 10 == 0:
            spec['policyTypes'].append('Egress')
            spec['egress'] = [{'to': [{'ipBlock': {'cidr': '192.0.2.0/24', 'except': ['192.0.2.128/25']}}]}]
        net.create_namespaced_network_policy(ns, {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy',
                                                  'metadata': {'name': 'np%04d' % i}, 'spec': spec},
                                             _preload_content=False).read()

    t = time.time()
    pool_map(one_pod, range(args.services * args.endpoints))
    print('made %d annotated, running pods in %.1fs' % (args.services * args.endpoints, time.time() - t))
    t = time.time()
    pool_map(one_service, range(args.services))
    pool_map(one_policy, range(args.policies))
    print('made %d services and %d network policies in %.1fs' % (args.services, args.policies, time.time() - t))
    t = time.time()
    disc = client.DiscoveryV1Api(kube.api_client())
    while True:
        doc = json.loads(disc.list_endpoint_slice_for_all_namespaces(_preload_content=False).data)
        full = set()
        for item in doc['items']:
            owner = (item['metadata'].get('labels') or {}).get('kubernetes.io/service-name', '')
            ready_ = [e for e in item.get('endpoints') or [] if (e.get('conditions') or {}).get('ready')]
            if owner.startswith('s') and len(ready_) == args.endpoints:
                full.add((item['metadata']['namespace'], owner))
        if len(full) == args.services:
            break
        if time.time() - t > 600:
            raise SystemExit('the EndpointSlice controller did not fill %d slices in 600 s (%d)' % (args.services, len(full)))
        time.sleep(2)
    print('the EndpointSlice controller wrote every slice in %.1fs' % (time.time() - t))


def converged(remote, args):
    """Every service's load balancer with its backends and every policy's port group."""
    lbs = [r for r in nb_rows(remote, 'Load_Balancer', 'name', 'vips') if r['name'].startswith('Service_bench-')]
    full = 0
    for row in lbs:
        vips = dict(row['vips'][1])
        if vips and all(len(v.split(',')) == args.endpoints for v in vips.values()):
            full += 1
    groups = [r for r in nb_rows(remote, 'Port_Group', 'name', 'ports', 'external_ids')
              if dict(r['external_ids'][1]).get(policy.KIND_KEY) == 'NetworkPolicy']
    # Every policy selects one service's pods: its port group holds their ports.
    filled = sum(1 for r in groups if len(r['ports'][1] if r['ports'][0] == 'set' else [r['ports']]) == args.endpoints)
    return full, filled


def cold_start(args, kube, work, nb):
    port = kube_control_plane.free_port()
    t0 = time.time()
    proc = run_watcher(kube, nb.remote, work, port, args, 'first')
    cpu = CpuMeter(kube, nb, proc)
    last_count, last_change, state = transactions(nb.dbs[0]), time.time(), (0, 0)
    while True:
        if proc.poll() is not None:
            raise SystemExit('the watcher exited: see %s' % work)
        count = transactions(nb.dbs[0])
        if count != last_count:
            last_count, last_change = count, time.time()
        elif time.time() - last_change >= args.quiet and metric(port, 'queue_depth') == 0:
            state = converged(nb.remote, args)
            if state[0] >= args.services and state[1] >= args.policies and transactions(nb.dbs[0]) == last_count:
                break
        if time.time() - t0 > args.timeout:
            raise SystemExit('not converged in %d s (%s): see %s' % (args.timeout, converged(nb.remote, args), work))
        time.sleep(0.2)
    took = last_change - t0
    text = metrics_text(port)
    print('cold start: %d load balancers with %d backends each, %d policy port groups with their ports, in %.1fs from the '
          'watcher\'s start to its last Northbound transaction (%d transactions)'
          % (state[0], args.endpoints, state[1], took, last_count))
    print('  netpol reconciles %d, service reconciles %d, annotation writes %d'
          % (metric(port, 'events_total{kind="netpol",result="ok"}', text) or 0,
             metric(port, 'events_total{kind="service",result="ok"}', text) or 0,
             metric(port, 'api_writes_total{kind="annotation"}', text) or 0))
    print(cpu.report())
    proc.terminate()
    proc.wait(30)

    before = transactions(nb.dbs[0])
    t1 = time.time()
    proc = run_watcher(kube, nb.remote, work, port, args, 'second', profile_to=args.profile_restart)
    cpu = CpuMeter(kube, nb, proc)
    while ready(port) != 'leading':
        if proc.poll() is not None:
            raise SystemExit('the watcher exited: see %s' % work)
        if time.time() - t1 > args.timeout:
            raise SystemExit('the restart was not ready in %d s: see %s' % (args.timeout, work))
        time.sleep(0.05)
    restart = time.time() - t1
    time.sleep(args.quiet)
    text = metrics_text(port)
    print('restart in step: ready in %.1fs after the process started (reconcile %.1fs after the lists began); '
          '%d Northbound transactions (%.0f by its own count) and %d annotation and %d event writes, over the '
          'following %.0f s too'
          % (restart, metric(port, 'reconcile_duration_seconds_sum', text), transactions(nb.dbs[0]) - before,
             metric(port, 'nb_transactions_total', text), metric(port, 'api_writes_total{kind="annotation"}', text) or 0,
             metric(port, 'api_writes_total{kind="event"}', text) or 0, args.quiet))
    print(cpu.report())
    proc.terminate()
    proc.wait(30)
    return took


def compact_size(db):
    """Bytes of a compacted copy of a database file (the live file also holds its history)."""
    copy = db + '.compact'
    shutil.copyfile(db, copy)
    subprocess.check_call(['ovsdb-tool', 'compact', copy])
    return os.path.getsize(copy)


def baseline(args, kube, work, took, size):
    """The original way: every VIP into one of two shared load balancers, one ovn-nbctl per service."""
    core = kube.core()
    os.makedirs(os.path.join(work, 'b'))
    nb2 = OvsdbServer(os.path.join(work, 'b'), [NB_SCHEMA], 'nb')
    nbctl(nb2.remote, 'ls-add', 'bench-node', '--', 'lb-add', 'k8s-cluster-lb-tcp', '192.0.2.1:1', '192.0.2.2:1', 'tcp',
          '--', 'lb-add', 'k8s-cluster-lb-udp', '192.0.2.1:1', '192.0.2.2:1', 'udp',
          '--', 'ls-lb-add', 'bench-node', 'k8s-cluster-lb-tcp', '--', 'ls-lb-add', 'bench-node', 'k8s-cluster-lb-udp')
    services = []
    for ns in ['bench-%d' % k for k in range(args.namespaces)]:
        services += json.loads(core.list_namespaced_service(ns, _preload_content=False).data)['items']
    t = time.time()
    for i, svc in enumerate(services):
        backends = ','.join('%s:8080' % pod_ip(int(svc['metadata']['name'][1:]) * args.endpoints + e)
                            for e in range(args.endpoints))
        nbctl(nb2.remote, '--may-exist', 'lb-add', 'k8s-cluster-lb-tcp', '%s:80' % svc['spec']['clusterIP'], backends, 'tcp')
    base = time.time() - t
    print('baseline (services only, no policies): %d VIPs into two shared load balancers, one ovn-nbctl each, '
          'in %.1fs' % (len(services), base))
    print('ratio baseline/watcher time: %.2f (the watcher also programmed %d policies)' % (base / took, args.policies))
    nb2.stop()
    print('Northbound database, compacted: watcher %.1f MB (services and policies), baseline %.1f MB (services only)'
          % (size / 1e6, compact_size(nb2.dbs[0]) / 1e6))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--services', type=int, default=1000)
    p.add_argument('--endpoints', type=int, default=10, help='ready pods behind each service')
    p.add_argument('--policies', type=int, default=500)
    p.add_argument('--namespaces', type=int, default=10)
    p.add_argument('--workers', type=int, default=4)
    p.add_argument('--api-workers', type=int, default=None)
    p.add_argument('--host-prefix', type=int, default=18)
    p.add_argument('--quiet', type=float, default=5.0, help='seconds without a transaction that count as converged')
    p.add_argument('--timeout', type=float, default=1800)
    p.add_argument('--baseline', action='store_true')
    p.add_argument('--keep', action='store_true')
    p.add_argument('--profile-restart', default=None, help='run the restarted watcher under cProfile, stats to this file')
    p.add_argument('--python', default='/usr/bin/python3')
    args = p.parse_args()
    if args.services * args.endpoints + FIRST_POD > 16000:
        raise SystemExit('at most about 16,000 pods fit the node subnet %s' % NODE_SUBNET)
    work = tempfile.mkdtemp(prefix='bench-svc-pol-')
    kube = kube_control_plane.ControlPlane(kube_control_plane.bin_dir())
    kube.start()
    try:
        kube.create_node('bench-node')
        make_objects(kube, args)
        nb = NbDatabase(work)
        nbctl(nb.remote, 'lr-add', 'ovn_cluster_router')
        took = cold_start(args, kube, work, nb)
        switch = nb_rows(nb.remote, 'Logical_Switch', 'name', 'other_config')
        subnets = [dict(r['other_config'][1]).get('subnet') for r in switch]
        if NODE_SUBNET not in subnets:
            print('WARNING: the node switch has %s, not %s: the pods\' annotations did not fit it' % (subnets, NODE_SUBNET))
        nb.stop()
        size = compact_size(nb.dbs[0])
        print('Northbound database of the watcher, compacted: %.1f MB' % (size / 1e6))
        if args.baseline:
            baseline(args, kube, work, took, size)
    finally:
        kube.stop()
        if args.keep:
            print('kept %s' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
