# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the whole cluster at several sizes, and how each measure grows with it.

Not a test. For each size in --nodes (default 100,250,500) it starts a real control plane
(tests/lib/kube_control_plane.py), makes in it, before the watcher runs:

  - N Node objects (Ready, one InternalIP each);
  - N x --pods-per-node pods (default 100: 50,000 at 500 nodes), as many on every node in a fixed
    shuffled order, spread over --namespaces namespaces, labelled app=a0..a19 within each namespace; no
    annotation (the watcher gives each its address);
  - --services services (default 5,000; ClusterIP, one TCP port) without a selector, each with
    an EndpointSlice of --endpoints ready addresses written by the bench (so no kubelet is
    needed to make pods Ready);
  - --policies network policies (default 1,000): each selects one app of its namespace and lets
    in another app on TCP 8080; every tenth also has an egress ipBlock rule;

all but the Nodes multiplied by --scale (0.02 makes a run of a few minutes). Then a real
Northbound ovsdb-server, a real Southbound one and a real ovn-northd between them (no chassis),
and agents/bin/ovn-k8s-watcher over all of it:

  cold start   from the watcher's start to its last Northbound transaction of the converged state
               (every pod annotated, every service's load balancer, every policy's port group;
               the database quiet for --quiet seconds with an empty work queue), and then how
               long ovn-northd needed to catch up (``ovn-nbctl --wait=sb sync``)
  recompute    northd's full recompute: ``ovn-appctl inc-engine/recompute`` then a
               ``--wait=sb sync``, --recomputes times (median and max), and northd's own
               stopwatch of build_lflows (the most expensive recompute step) over them
  sizes        rows per table in both databases, both files' sizes after an online compaction,
               the logical flows
  memory       the watcher's resident memory (VmRSS) and its peak (VmHWM) after the cold start
               and after the restart
  restart      the watcher again over the same objects: the time until it reports it is ready,
               and the Northbound transactions and annotation writes it made (both should be 0)

Every measure is printed per size with its ratio to the smallest size, beside the ratio of the
sizes themselves: a measure whose ratio is well above the cluster's grows faster than the cluster
(marked ``FASTER``). --plot draws the ratios (matplotlib: run `bash bench/setup` first).

Usage (after scripts/setup):
  .venv/bin/python bench/bench_scale.py [--nodes 100,250,500] [--pods-per-node 100]
      [--services 5000] [--policies 1000] [--scale 1.0] [--plot bench/scale.png]
  .venv/bin/python bench/bench_scale.py --nodes 10,25,50 --scale 0.02 --plot bench/scale-small.png
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import ipaddress
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, 'tests', 'lib'), os.path.join(REPO, 'agents')]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kube_control_plane  # noqa: E402
import plots  # noqa: E402
from bench_services_policies import SB_SCHEMA, nb_rows, pool_map, stopwatches  # noqa: E402
from bench_watcher import CpuMeter, NbDatabase, cpu_seconds, metric, metrics_text, ready, run_watcher, transactions  # noqa: E402
from ovsdb_server import OvsdbServer  # noqa: E402
from ovn_k8s_agents import policy  # noqa: E402

APPS = 20  # app labels per namespace
RECONCILE_KINDS = ('node', 'pod', 'service', 'netpol', 'gateways', 'mgmt')  # the watcher's work keys, counted
BACKEND_NET = ipaddress.ip_network('10.131.0.0/16')  # the endpoints' addresses: in the cluster subnet, above the nodes'
NB_TABLES = ('Logical_Switch', 'Logical_Switch_Port', 'Logical_Router', 'Logical_Router_Port', 'Load_Balancer',
             'Load_Balancer_Group', 'Port_Group', 'Address_Set', 'ACL')
SB_TABLES = ('Logical_Flow', 'Logical_DP_Group', 'Datapath_Binding', 'Port_Binding', 'Load_Balancer',
             'Multicast_Group', 'Address_Set', 'Port_Group')


class Sizes:
    """The object counts of one run."""

    def __init__(self, args, nodes):
        self.nodes = nodes
        self.pods_per_node = max(1, int(round(args.pods_per_node * args.scale)))
        self.pods = nodes * self.pods_per_node
        self.services = max(1, int(round(args.services * args.scale)))
        self.policies = max(1, int(round(args.policies * args.scale)))
        self.namespaces = args.namespaces
        self.endpoints = args.endpoints

    def __str__(self):
        return ('%d nodes, %d pods (%d per node), %d services (%d endpoints each), %d network policies, %d namespaces'
                % (self.nodes, self.pods, self.pods_per_node, self.services, self.endpoints, self.policies, self.namespaces))


def make_objects(kube, size):
    """Namespaces, Nodes, services with their EndpointSlices, policies, then the pods."""
    core = kube.core()
    from kubernetes import client
    net = client.NetworkingV1Api(kube.api_client())
    disc = client.DiscoveryV1Api(kube.api_client())
    namespaces = ['scale-%02d' % k for k in range(size.namespaces)]
    t = time.time()
    for ns in namespaces:
        kube.create_namespace(ns)
    pool_map(lambda k: kube.create_node('node-%04d' % k, internal_ip='100.64.%d.%d' % (k // 250, k % 250 + 1)),
             range(size.nodes))
    print('  made %d namespaces and %d Nodes in %.1fs' % (size.namespaces, size.nodes, time.time() - t))

    def one_service(s):
        ns, name = namespaces[s % size.namespaces], 's%05d' % s
        core.create_namespaced_service(ns, {
            'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': name},
            'spec': {'ports': [{'name': 'http', 'port': 80, 'targetPort': 8080, 'protocol': 'TCP'}]}},
            _preload_content=False).read()
        first = s * size.endpoints
        addresses = [str(BACKEND_NET[2 + (first + e) % (BACKEND_NET.num_addresses - 4)]) for e in range(size.endpoints)]
        disc.create_namespaced_endpoint_slice(ns, {
            'apiVersion': 'discovery.k8s.io/v1', 'kind': 'EndpointSlice', 'addressType': 'IPv4',
            'metadata': {'name': name + '-bench', 'labels': {'kubernetes.io/service-name': name,
                                                             'endpointslice.kubernetes.io/managed-by': 'bench'}},
            'endpoints': [{'addresses': [a], 'conditions': {'ready': True, 'serving': True, 'terminating': False}}
                          for a in addresses],
            'ports': [{'name': 'http', 'port': 8080, 'protocol': 'TCP'}]}, _preload_content=False).read()

    def one_policy(i):
        ns, app = namespaces[i % size.namespaces], (i // size.namespaces) % APPS
        spec = {'podSelector': {'matchLabels': {'app': 'a%d' % app}}, 'policyTypes': ['Ingress'],
                'ingress': [{'from': [{'podSelector': {'matchLabels': {'app': 'a%d' % ((app + 1) % APPS)}}}],
                             'ports': [{'protocol': 'TCP', 'port': 8080}]}]}
        if i % 10 == 0:
            spec['policyTypes'].append('Egress')
            spec['egress'] = [{'to': [{'ipBlock': {'cidr': '192.0.2.0/24', 'except': ['192.0.2.128/25']}}]}]
        net.create_namespaced_network_policy(ns, {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy',
                                                  'metadata': {'name': 'np%05d' % i}, 'spec': spec},
                                             _preload_content=False).read()

    # Every node gets exactly pods_per_node pods, in a fixed shuffled order: placed in turn, the
    # pods of one namespace would land on a few nodes only whenever the node and namespace
    # counts share a factor (the policies' port groups would then span few switches at some
    # sizes and many at others, a growth that is the layout's, not the cluster's).
    placement = [k % size.nodes for k in range(size.pods)]
    random.Random(20).shuffle(placement)

    def one_pod(i):
        ns = namespaces[i % size.namespaces]
        body = {'apiVersion': 'v1', 'kind': 'Pod',
                'metadata': {'name': 'p%06d' % i, 'labels': {'app': 'a%d' % ((i // size.namespaces) % APPS)}},
                'spec': {'nodeName': 'node-%04d' % placement[i], 'containers': [{'name': 'c', 'image': 'x'}]}}
        core.create_namespaced_pod(ns, body, _preload_content=False).read()

    t = time.time()
    pool_map(one_service, range(size.services))
    pool_map(one_policy, range(size.policies))
    print('  made %d services with their EndpointSlices and %d network policies in %.1fs'
          % (size.services, size.policies, time.time() - t))
    t = time.time()
    pool_map(one_pod, range(size.pods))
    print('  made %d pods in %.1fs' % (size.pods, time.time() - t))
    return namespaces


def annotated(core):
    doc = json.loads(core.list_pod_for_all_namespaces(_preload_content=False).data)
    return sum(1 for p in doc['items'] if p['metadata']['namespace'].startswith('scale-')
               and 'k8s.ovn.org/pod-networks' in (p['metadata'].get('annotations') or {}))


def converged(remote, core, size):
    """(pods annotated, service load balancers, policy port groups, node switches)."""
    lbs = sum(1 for r in nb_rows(remote, 'Load_Balancer', 'name', 'vips')
              if r['name'].startswith('Service_scale-') and r['vips'][1])
    groups = sum(1 for r in nb_rows(remote, 'Port_Group', 'external_ids')
                 if dict(r['external_ids'][1]).get(policy.KIND_KEY) == 'NetworkPolicy')
    switches = sum(1 for r in nb_rows(remote, 'Logical_Switch', 'name') if r['name'].startswith('node-'))
    return annotated(core), lbs, groups, switches


def row_counts(remote, db, tables):
    ops = [db] + [{'op': 'select', 'table': t, 'where': [], 'columns': ['_uuid']} for t in tables]
    out = json.loads(subprocess.check_output(['ovsdb-client', 'transact', remote, json.dumps(ops)]))
    return dict((t, len(r['rows'])) for t, r in zip(tables, out))


def compacted_size(server):
    """Compact the live database in place (the server keeps serving) and give its file's size."""
    subprocess.check_call(['ovs-appctl', '-t', os.path.join(server.workdir, server.name + '.ctl'), 'ovsdb-server/compact'],
                          stdout=subprocess.DEVNULL)
    return os.path.getsize(server.dbs[0])


def memory(pid):
    """(VmRSS, VmHWM) of a process in MB."""
    out = {}
    with open('/proc/%d/status' % pid, encoding='ascii') as f:
        for line in f:
            key, _sep, value = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                out[key] = int(value.split()[0]) / 1024.0
    return out.get('VmRSS', 0.0), out.get('VmHWM', 0.0)


def py_spy():
    path = os.path.join(os.path.dirname(sys.executable), 'py-spy')
    if not os.path.exists(path):
        raise SystemExit('--py-spy: %s is missing: run "bash bench/setup"' % path)
    return path


# The innermost frames of a thread that waits rather than works.
IDLE = ('wait (threading', 'select (', 'recv_into (', 'recv (', 'acquire', 'sleep', 'poll (', 'accept (', '_recv (')


def spy_summary(path, top=25):
    """The functions with most busy samples (a thread not waiting), counted once per stack."""
    busy, inclusive = 0, {}
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            stack, _sep, count = line.rstrip('\n').rpartition(' ')
            frames = stack.split(';')
            if not frames or not count.isdigit() or any(k in frames[-1] for k in IDLE):
                continue
            busy += int(count)
            for name in set(fr.split(':')[0] for fr in frames):
                inclusive[name + ')'] = inclusive.get(name + ')', 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]
    return '\n'.join('    %5.1f %%  %s' % (100.0 * n / busy, name) for name, n in ranked if busy)


def median(vals):
    return sorted(vals)[len(vals) // 2]


def run_size(args, size, work):
    """One cluster size from nothing to its restart; a dict of measures."""
    d = os.path.join(work, 'n%d' % size.nodes)
    os.makedirs(os.path.join(d, 'kube'))
    out = {}
    kube = kube_control_plane.ControlPlane(kube_control_plane.bin_dir(), workdir=os.path.join(d, 'kube'))
    kube.start()
    nb = sb = northd = proc = spy = None
    try:
        core = kube.core()
        t = time.time()
        make_objects(kube, size)
        out['objects made (s)'] = time.time() - t
        os.makedirs(os.path.join(d, 'nb'))
        os.makedirs(os.path.join(d, 'sb'))
        nb = NbDatabase(os.path.join(d, 'nb'))
        sb = OvsdbServer(os.path.join(d, 'sb'), [SB_SCHEMA], 'sb')
        nb.nbctl('init')
        nb.nbctl('lr-add', 'ovn_cluster_router')
        ctl = os.path.join(d, 'northd.ctl')
        northd = subprocess.Popen(['ovn-northd', '--ovnnb-db=' + nb.remote, '--ovnsb-db=' + sb.remote, '--unixctl=' + ctl,
                                   '--pidfile=' + os.path.join(d, 'northd.pid'), '--log-file=' + os.path.join(d, 'northd.log')],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait = ['--timeout=%d' % args.timeout, '--wait=sb', 'sync']

        def appctl(*cmd):
            return subprocess.check_output(['ovn-appctl', '-t', ctl] + list(cmd), universal_newlines=True)
        nb.nbctl(*wait)

        # Cold start.
        port = kube_control_plane.free_port()
        t0 = time.time()
        proc = run_watcher(kube, nb.remote, d, port, args, 'first')
        if args.py_spy:
            # Every thread of the watcher sampled (cProfile would see only its main thread).
            spy_out = '%s.%d.txt' % (args.py_spy, size.nodes)
            spy = subprocess.Popen([py_spy(), 'record', '-p', str(proc.pid), '-r', '40', '--nonblocking', '-f', 'raw',
                                    '-o', spy_out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu = CpuMeter(kube, nb, proc)
        cpu.pids['ovn-northd'] = northd.pid
        cpu.start['ovn-northd'] = cpu_seconds(northd.pid)
        last_count, last_change, state = transactions(nb.dbs[0]), time.time(), None
        want = (size.pods, size.services, size.policies, size.nodes)
        while True:
            if proc.poll() is not None:
                raise SystemExit('the watcher exited: see %s' % d)
            count = transactions(nb.dbs[0])
            if count != last_count:
                last_count, last_change = count, time.time()
            elif time.time() - last_change >= args.quiet and metric(port, 'queue_depth') == 0:
                state = converged(nb.remote, core, size)
                if all(a >= b for a, b in zip(state, want)) and transactions(nb.dbs[0]) == last_count:
                    break
            if time.time() - t0 > args.timeout:
                raise SystemExit('not converged in %d s (have %s, want %s): see %s'
                                 % (args.timeout, converged(nb.remote, core, size), want, d))
            time.sleep(0.5)
        out['cold start (s)'] = last_change - t0
        out['NB transactions, cold start'] = last_count
        out['watcher CPU, cold start (s)'] = cpu_seconds(proc.pid)
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it has so far
            spy.wait(60)
            print('  py-spy of the cold start\'s watcher: %s; where its busy samples were:' % spy_out)
            print(spy_summary(spy_out))
        text = metrics_text(port)
        for kind in RECONCILE_KINDS:
            out['watcher reconciles: %s' % kind] = int(metric(port, 'events_total{kind="%s",result="ok"}' % kind, text) or 0)
        rss, hwm = memory(proc.pid)
        out['watcher RSS after cold start (MB)'], out['watcher peak RSS, cold start (MB)'] = rss, hwm
        print('  cold start: %d pods annotated, %d load balancers, %d policy port groups, %d node switches in %.1fs '
              '(%d Northbound transactions); watcher RSS %.0f MB (peak %.0f)'
              % (state + (out['cold start (s)'], last_count, rss, hwm)))
        print(cpu.report())
        t = time.time()
        nb.nbctl(*wait)
        out['northd catch-up after the cold start (s)'] = time.time() - t
        out['northd CPU, start to caught up (s)'] = cpu_seconds(northd.pid)

        # Full recomputes.
        appctl('stopwatch/reset')
        times = []
        for _i in range(args.recomputes):
            t = time.time()
            appctl('inc-engine/recompute')
            nb.nbctl(*wait)
            times.append(time.time() - t)
        out['northd recompute + sync, median (s)'] = median(times)
        out['northd recompute + sync, max (s)'] = max(times)
        watches = stopwatches(appctl('stopwatch/show'))
        out['northd build_lflows, max (ms)'] = watches.get('build_lflows', {}).get('Maximum', float('nan'))
        out['northd lflows_to_sb, max (ms)'] = watches.get('lflows_to_sb', {}).get('Maximum', float('nan'))

        # Sizes.
        nb_rows_ = row_counts(nb.remote, 'OVN_Northbound', NB_TABLES)
        sb_rows = row_counts(sb.remote, 'OVN_Southbound', SB_TABLES)
        for table in NB_TABLES:
            out['NB rows %s' % table] = nb_rows_[table]
        for table in SB_TABLES:
            out['SB rows %s' % table] = sb_rows[table]
        out['NB file, compacted (MB)'] = compacted_size(nb.server) / 1e6
        out['SB file, compacted (MB)'] = compacted_size(sb) / 1e6

        # Restart.
        proc.terminate()
        proc.wait(30)
        before = transactions(nb.dbs[0])
        t1 = time.time()
        proc = run_watcher(kube, nb.remote, d, port, args, 'second')
        while ready(port) != 'leading':
            if proc.poll() is not None:
                raise SystemExit('the watcher exited: see %s' % d)
            if time.time() - t1 > args.timeout:
                raise SystemExit('the restart was not ready in %d s: see %s' % (args.timeout, d))
            time.sleep(0.05)
        out['restart, ready (s)'] = time.time() - t1
        time.sleep(args.quiet)
        text = metrics_text(port)
        out['restart: NB transactions'] = transactions(nb.dbs[0]) - before
        out['restart: annotation writes'] = metric(port, 'api_writes_total{kind="annotation"}', text) or 0
        out['watcher RSS after restart (MB)'], out['watcher peak RSS, restart (MB)'] = memory(proc.pid)
        print('  restart: ready in %.1fs, %d Northbound transactions, %d annotation writes; RSS %.0f MB'
              % (out['restart, ready (s)'], out['restart: NB transactions'], out['restart: annotation writes'],
                 out['watcher RSS after restart (MB)']))
        out['load average (1 min) at the end'] = os.getloadavg()[0]
    finally:
        if spy is not None and spy.poll() is None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        if northd is not None:
            northd.terminate()
            northd.wait(30)
        for server in (sb, nb):
            if server is not None:
                server.stop()
        kube.stop()
    return out


# Measures that are not expected to follow the cluster's size (the inputs that stay fixed, and
# the ones that should stay at zero); they get no FASTER mark.
NOT_GROWTH = ('restart: NB transactions', 'restart: annotation writes', 'load average (1 min) at the end',
              'NB rows Logical_Router', 'NB rows Load_Balancer_Group')


def report(sizes, results, slack):
    """The table: each measure per size, then its ratio to the smallest size's; FASTER where that
    ratio exceeds the cluster's by more than ``slack`` (a share, 0.25 = 25 %)."""
    base = sizes[0]
    head = '  %-46s' % 'measure' + ''.join('%12s' % ('%d nodes' % s.nodes) for s in sizes)
    head += ''.join('%10s' % ('x %d/%d' % (s.nodes, base.nodes)) for s in sizes[1:])
    print(head)
    print('  %-46s' % 'cluster (nodes and pods)' + ''.join('%12d' % s.pods for s in sizes)
          + ''.join('%10s' % ('%.2fx' % (s.pods / base.pods)) for s in sizes[1:]))
    faster = []
    for key in results[0]:
        vals = [r.get(key) for r in results]
        fmt = '%12d' if all(isinstance(v, int) for v in vals) else '%12.2f'
        line = '  %-46s' % key + ''.join(fmt % v for v in vals)
        marks = []
        for s, v in zip(sizes[1:], vals[1:]):
            if vals[0]:
                ratio = v / vals[0]
                line += '%10s' % ('%.2fx' % ratio)
                marks.append(ratio > (s.pods / base.pods) * (1 + slack))
            else:
                line += '%10s' % '-'
        if any(marks) and key not in NOT_GROWTH:
            line += '  FASTER'
            faster.append(key)
        print(line)
    return faster


class _Saved:
    """A size read back from a --json file."""

    def __init__(self, fields):
        self.__dict__.update(fields)


def replot(args):
    with open(args.replot, encoding='utf-8') as f:
        doc = json.load(f)
    sizes, results = [_Saved(s) for s in doc['sizes']], doc['results']
    report(sizes, results, args.slack)
    if args.plot:
        draw(args.plot, doc.get('nodes', ','.join(str(s.nodes) for s in sizes)), doc.get('scale', float('nan')), sizes, results)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    p.add_argument('--nodes', default='100,250,500', help='cluster sizes, comma-separated Node counts')
    p.add_argument('--pods-per-node', type=int, default=100)
    p.add_argument('--services', type=int, default=5000)
    p.add_argument('--endpoints', type=int, default=3, help='ready addresses in each service\'s EndpointSlice')
    p.add_argument('--policies', type=int, default=1000)
    p.add_argument('--namespaces', type=int, default=20)
    p.add_argument('--scale', type=float, default=1.0, help='multiplies pods per node, services and policies (not the Nodes)')
    p.add_argument('--workers', type=int, default=4)
    p.add_argument('--api-workers', type=int, default=None)
    p.add_argument('--cluster-subnet', default='10.128.0.0/14')
    p.add_argument('--host-prefix', type=int, default=24)
    p.add_argument('--quiet', type=float, default=5.0, help='seconds without a transaction that count as converged')
    p.add_argument('--recomputes', type=int, default=3, help='northd full recomputes timed per size')
    p.add_argument('--timeout', type=float, default=3600)
    p.add_argument('--slack', type=float, default=0.25, help='how far above the cluster\'s ratio counts as FASTER')
    p.add_argument('--plot', default=None, help='PNG of each measure\'s growth (needs: bash bench/setup)')
    p.add_argument('--json', default=None, help='write the measures to this file')
    p.add_argument('--keep', action='store_true', help='keep the work directory (logs, databases)')
    p.add_argument('--py-spy', default=None, metavar='PATH',
                   help='sample the cold start\'s watcher with py-spy (bash bench/setup installs it): raw stacks to '
                        'PATH.NODES.txt, and the functions holding most busy samples printed')
    p.add_argument('--replot', default=None, help='print the table and draw --plot from a --json file of an earlier run; run nothing')
    p.add_argument('--python', default='/usr/bin/python3', help='the interpreter of the watcher')
    args = p.parse_args()
    if args.plot:
        plots.require()  # before minutes of work, not after
    if args.replot:
        replot(args)
        return
    try:
        node_counts = sorted(int(n) for n in args.nodes.split(','))
    except ValueError:
        raise SystemExit('--nodes %r: a comma-separated list of Node counts' % args.nodes)
    cluster = ipaddress.ip_network(args.cluster_subnet)
    # Node subnets are given from the bottom of the cluster subnet; the endpoints' /16 must stay above them.
    room = (int(BACKEND_NET.network_address) - int(cluster.network_address)) >> (32 - args.host_prefix)
    sizes = [Sizes(args, n) for n in node_counts]
    if not node_counts or node_counts[0] < 1 or node_counts[-1] > room:
        raise SystemExit('--nodes: between 1 and %d node subnets of /%d fit %s below %s'
                         % (room, args.host_prefix, cluster, BACKEND_NET))
    if sizes[-1].pods_per_node > 2 ** (32 - args.host_prefix) - 4:
        raise SystemExit('--pods-per-node x --scale: %d pods do not fit a /%d' % (sizes[-1].pods_per_node, args.host_prefix))
    if not BACKEND_NET.subnet_of(cluster):
        raise SystemExit('--cluster-subnet %s must hold %s (the endpoints\' addresses)' % (cluster, BACKEND_NET))
    work = tempfile.mkdtemp(prefix='bench-scale-')
    print('ovn-northd %s, load average before: %s' % (
        subprocess.check_output(['ovn-northd', '--version'], universal_newlines=True).splitlines()[0].split()[-1],
        ' '.join('%.2f' % v for v in os.getloadavg())))
    results = []
    try:
        for size in sizes:
            print('size: %s' % size)
            results.append(run_size(args, size, work))
    finally:
        if args.keep:
            print('kept %s' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print('growth (each ratio to the smallest size; the cluster row is the pods\' ratio, equal to the nodes\'):')
    faster = report(sizes, results, args.slack)
    print('load average after: %s' % ' '.join('%.2f' % v for v in os.getloadavg()))
    if faster:
        print('grows faster than the cluster (by more than %d %%): %s' % (100 * args.slack, ', '.join(faster)))
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump({'nodes': args.nodes, 'scale': args.scale, 'sizes': [vars(s) for s in sizes], 'results': results,
                       'faster': faster}, f, indent=1)
    if args.plot:
        draw(args.plot, args.nodes, args.scale, sizes, results)


def draw(path, nodes_arg, scale, sizes, results):
    keys = ['cold start (s)', 'restart, ready (s)', 'northd recompute + sync, median (s)',
            'SB rows Logical_Flow', 'NB file, compacted (MB)', 'SB file, compacted (MB)',
            'watcher RSS after cold start (MB)', 'watcher CPU, cold start (s)', 'NB rows ACL', 'NB rows Logical_Switch_Port']
    first, last = sizes[0], sizes[-1]
    plots.growth(path, 'Growth with the cluster: %d to %d nodes, %d to %d pods; %d services, %d policies at every size'
                 % (first.nodes, last.nodes, first.pods, last.pods, first.services, first.policies),
                 [s.nodes for s in sizes], 'nodes', [(k, [r.get(k) for r in results]) for k in keys],
                 subtitle='bench/bench_scale.py --nodes %s --scale %g (%d pods per node, %d endpoints per service); '
                 'load average at the end %.2f' % (nodes_arg, scale, first.pods_per_node, first.endpoints,
                                                   results[-1].get('load average (1 min) at the end', float('nan'))))
    print('plot: %s' % path)


if __name__ == '__main__':
    main()
