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
  endpoints   (--latency-changes N) with the restarted watcher still running, endpoint changes
              as a kubelet makes them: the Ready condition of backend pods (one per service in
              turn) to False, later back to True, through the pod status subresource at
              --latency-rate per second; for each change the time its PATCH was answered, the
              time a watch on the EndpointSlices saw it (the real EndpointSlice controller, which
              may fold changes together: the output says how many slice updates carried them)
              and the time an ``ovsdb-client monitor --timestamp`` of Load_Balancer name,vips saw
              the service's backends change; p50/p90/p99/max and the changes that never arrived,
              the distributions drawn into --plot (a PNG made with matplotlib: run
              `bash bench/setup` once; scripts/setup does not install it)
  baseline    (--baseline) the same VIPs the original way: one ``ovn-nbctl lb-add`` per
              service into two shared load balancers (TCP and UDP) attached to the node switch,
              in sequence; its time and the database sizes side by side
  ovn-northd  (--northd) a copy of the cold start's Northbound database under a real ovn-northd
              and a fresh Southbound database, twice: as the watcher made it (the load balancers
              in the group clusterLBGroup, the group on every node switch) and with the same load
              balancers on every switch's own load_balancer column and no group (converted in one
              OVSDB transaction); for each, the time from northd's start to the first
              ``ovn-nbctl --wait=sb sync``, --northd-repeats forced recomputes
              (``inc-engine/recompute`` then a sync), northd's CPU seconds, its stopwatches, the
              logical flows and the compacted Southbound size, side by side with the ratio. Runs
              after the control plane is stopped. --nodes K makes K Node objects (so K node
              switches; the pods stay on the first), at most as many /--host-prefix subnets as
              --cluster-subnet holds (16 in the default 10.128.0.0/14; 10.128.0.0/10 holds 256)

Usage (after scripts/setup):
  .venv/bin/python bench/bench_services_policies.py [--services 1000] [--endpoints 10]
      [--policies 500] [--namespaces 10] [--baseline]
      [--latency-changes 1000 --latency-rate 20 --plot bench/endpoint-latency.png]
      [--nodes 50 --cluster-subnet 10.128.0.0/10 --northd [--northd-repeats 3]]
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import csv
import io
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, 'tests', 'lib'), os.path.join(REPO, 'agents')]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kube_control_plane  # noqa: E402
import plots  # noqa: E402
from bench_watcher import CpuMeter, NbDatabase, OvsdbMonitor, RawWatch, monitor_stamp, cpu_seconds, metric, metrics_text, percentile, ready, run_watcher, transactions  # noqa: E402
from ovsdb_server import NB_SCHEMA, OvsdbServer  # noqa: E402
from ovn_k8s_agents import annotation, policy  # noqa: E402

# The first node switch of an empty database gets the first /18 of 10.128.0.0/14.
NODE_SUBNET = '10.128.0.0/18'
FIRST_POD = 16
SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema'


def pod_ip(index):
    n = FIRST_POD + index
    return '10.128.%d.%d' % (n // 256, n % 256)


def nbctl(remote, *args):
    return subprocess.check_output(['ovn-nbctl', '--db=' + remote] + list(args), universal_newlines=True)


def nb_rows(remote, table, *columns):
    out = json.loads(nbctl(remote, '--format=json', '--data=json', '--columns=' + ','.join(columns), 'list', table))
    return [dict(zip(out['headings'], row)) for row in out['data']]


def container_status(i, now, ready_):
    """The one container's status of pod ``i`` as a kubelet writes it (ready or not)."""
    return {'name': 'c', 'image': 'x', 'imageID': '', 'ready': ready_, 'restartCount': 0, 'started': True,
            'containerID': 'bench://p%05d' % i, 'state': {'running': {'startedAt': now}}}


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
                             'conditions': conditions, 'containerStatuses': [container_status(i, now, True)]}}
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
    """Every service's load balancer with its backends, every policy's port group and the node
    switches that hold a load balancer group."""
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
    attached = sum(1 for r in nb_rows(remote, 'Logical_Switch', 'name', 'load_balancer_group') if cell_uuids(r['load_balancer_group']))
    return full, filled, attached


def cell_uuids(cell):
    """The UUIDs in one cell of ovn-nbctl's JSON output (a single reference or a set)."""
    if cell[0] == 'uuid':
        return [cell[1]]
    if cell[0] == 'set':
        return [c[1] for c in cell[1]]
    return []


def add_nodes(kube, nb, args, t0):
    """The other ``--nodes`` - 1 Node objects, made once the watcher has given bench-node its switch
    (so that bench-node gets the first subnet, where the pods' annotations are): their switches
    are part of the cold start."""
    while True:
        rows = [r for r in nb_rows(nb.remote, 'Logical_Switch', 'name', 'other_config') if r['name'] == 'bench-node']
        if rows and dict(rows[0]['other_config'][1]).get('subnet'):
            break
        if time.time() - t0 > args.timeout:
            raise SystemExit('the watcher made no switch for bench-node in %d s' % args.timeout)
        time.sleep(0.1)
    pool_map(lambda k: kube.create_node('bench-node-%03d' % k, internal_ip='100.64.%d.%d' % (k // 250, k % 250 + 1)),
             range(1, args.nodes))


def cold_start(args, kube, work, nb):
    port = kube_control_plane.free_port()
    t0 = time.time()
    proc = run_watcher(kube, nb.remote, work, port, args, 'first')
    cpu = CpuMeter(kube, nb, proc)
    if args.nodes > 1:
        add_nodes(kube, nb, args, t0)
    last_count, last_change, state = transactions(nb.dbs[0]), time.time(), (0, 0)
    while True:
        if proc.poll() is not None:
            raise SystemExit('the watcher exited: see %s' % work)
        count = transactions(nb.dbs[0])
        if count != last_count:
            last_count, last_change = count, time.time()
        elif time.time() - last_change >= args.quiet and metric(port, 'queue_depth') == 0:
            state = converged(nb.remote, args)
            if (state[0] >= args.services and state[1] >= args.policies and (args.nodes == 1 or state[2] >= args.nodes)
                    and transactions(nb.dbs[0]) == last_count):
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
    if args.nodes > 1:
        print('  %d node switches hold the load balancer group' % state[2])
    print(cpu.report())
    proc.terminate()
    proc.wait(30)
    snapshot = None
    if args.northd:
        # The converged database, quiet now that its only writer has stopped, for ovn-northd later.
        snapshot = os.path.join(work, 'nb-cold.db')
        shutil.copyfile(nb.dbs[0], snapshot)

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
    try:
        if args.latency_changes:
            endpoint_latency(args, kube, work, nb, proc)
    finally:
        proc.terminate()
        proc.wait(30)
    return took, snapshot


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


# Endpoint changes --------------------------------------------------------------------------
def _backend_ips(vips):
    """The backend addresses in a ``vips`` map as ovsdb-client's CSV prints it: {"vip"="ip:port,..."}."""
    out = set()
    for _vip, backends in re.findall(r'"([^"]*)"="([^"]*)"', vips):
        out.update(b.rsplit(':', 1)[0].strip('[]') for b in backends.split(',') if b)
    return out


class LbMonitor(OvsdbMonitor):
    """When each load balancer's backends changed (its names and vips)."""

    def __init__(self, remote, workdir):
        OvsdbMonitor.__init__(self, remote, workdir, 'Load_Balancer', 'name,vips', 'lb-monitor.csv')

    def history(self):
        """{load balancer name: [(when, backend IPs after the update)]} from what was written so far."""
        with open(self.path, encoding='utf-8') as f:
            text = f.read()
        out, names, when, pending = {}, {}, None, None
        for row in csv.reader(io.StringIO(text[:text.rfind('\n') + 1])):
            if len(row) == 1:
                when = monitor_stamp(row[0])
            elif len(row) >= 4 and row[:2] != ['row', 'action'] and when is not None:
                uuid, action, name, vips = row[:4]
                if action == 'old':  # a modification: the old values, then a 'new' line without the row
                    pending = uuid
                    continue
                uuid = pending if action == 'new' else uuid
                if name.startswith('"'):  # a string that is not a plain word comes quoted (the name has a /)
                    name = json.loads(name)
                names[uuid] = name or names.get(uuid)
                out.setdefault(names[uuid], []).append((when, set() if action == 'delete' else _backend_ips(vips)))
        return out

    def stop(self):
        self.end()


class SliceWatch(RawWatch):
    """A watch on the EndpointSlices of the bench namespaces (``discovery.k8s.io/v1``): after each
    event, the ready addresses of its service, {(ns, service): [(when, IPs)]}."""

    def __init__(self, api_client):
        from kubernetes import client
        self.disc = client.DiscoveryV1Api(api_client)
        self.slices, self.history, self.events = {}, {}, 0
        RawWatch.__init__(self)

    def list_call(self, **kwargs):
        return self.disc.list_endpoint_slice_for_all_namespaces(**kwargs)

    def on_object(self, obj, kind, now):
        self._record(obj, kind == 'DELETED', now)

    def _record(self, obj, deleted, now):
        meta = obj['metadata']
        svc = (meta.get('labels') or {}).get('kubernetes.io/service-name')
        if not meta.get('namespace', '').startswith('bench-') or not svc:
            return
        key = (meta['namespace'], svc)
        per_service = self.slices.setdefault(key, {})
        if deleted:
            per_service.pop(meta['name'], None)
        else:
            per_service[meta['name']] = set(e['addresses'][0] for e in obj.get('endpoints') or []
                                            if e.get('addresses') and (e.get('conditions') or {}).get('ready') is not False)
        self.history.setdefault(key, []).append((now, set().union(*per_service.values())))
        self.events += 1


def _first(history, since, ip, ready_):
    """The first entry of ``history`` at or after ``since`` where ``ip`` is (or is not) ready."""
    for when, ips in history or ():
        if when >= since and (ip in ips) == ready_:
            return when
    return None


def _quantiles(label, vals):
    return ('  %-40s p50 %7.1f ms  p90 %7.1f ms  p99 %7.1f ms  max %7.1f ms  (%d)'
            % (label, percentile(vals, 50), percentile(vals, 90), percentile(vals, 99), max(vals) if vals else float('nan'),
               len(vals)))


def endpoint_latency(args, kube, work, nb, proc):
    """Endpoint changes as a kubelet makes them, with the restarted watcher running: the Ready
    condition of backend pods (one per service in turn) to False, then back to True, through the
    pod status subresource at ``--latency-rate`` per second; for each change, when the PATCH was
    answered, when the EndpointSlice showed it and when the service's load balancer did."""
    core = kube.core()
    namespaces = ['bench-%d' % k for k in range(args.namespaces)]
    n_pods = (args.latency_changes + 1) // 2
    pods = []
    for k in range(n_pods):
        s, e = k % args.services, (k // args.services) % args.endpoints
        i = s * args.endpoints + e
        pods.append((i, namespaces[s % args.namespaces], 's%04d' % s))
    changes = [(p, False) for p in pods] + [(p, True) for p in pods[:args.latency_changes - n_pods]]
    monitor = LbMonitor(nb.remote, work)
    watch = SliceWatch(kube.api_client())
    watch.start()
    time.sleep(1)
    cpu = CpuMeter(kube, nb, proc)
    done, late = [None] * len(changes), [0]

    def one(c, due):
        (i, ns, _svc), ready_ = changes[c]
        now = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
        flag = 'True' if ready_ else 'False'
        body = {'status': {'conditions': [{'type': t, 'status': flag, 'lastTransitionTime': now} for t in ('Ready', 'ContainersReady')],
                           'containerStatuses': [container_status(i, now, ready_)]}}
        sent = time.time()
        if sent - due > 0.05:
            late[0] += 1
        core.patch_namespaced_pod_status('p%05d' % i, ns, body, _preload_content=False).read()
        done[c] = (sent, time.time())
    t0 = time.time()
    with ThreadPoolExecutor(16) as pool:
        futures = []
        for c in range(len(changes)):
            due = t0 + c / args.latency_rate
            if due > time.time():
                time.sleep(due - time.time())
            futures.append(pool.submit(one, c, due))
        for f in futures:
            f.result()
    took = time.time() - t0

    def match():
        lbs = monitor.history()
        out = []
        for c, ((i, ns, svc), ready_) in enumerate(changes):
            sent, answered = done[c]
            seen = _first(watch.history.get((ns, svc)), sent, pod_ip(i), ready_)
            lb = _first(lbs.get('Service_%s/%s_TCP' % (ns, svc)), sent, pod_ip(i), ready_)
            out.append((ns, svc, sent, answered, seen, lb))
        return out
    deadline = time.time() + 60
    while True:
        result = match()
        if all(r[4] is not None and r[5] is not None for r in result) or time.time() > deadline:
            break
        time.sleep(1)
    watch.stop.set()
    monitor.stop()
    slice_ms = [1000 * max(0.0, r[4] - r[3]) for r in result if r[4] is not None]
    lb_ms = [1000 * max(0.0, r[5] - r[3]) for r in result if r[5] is not None]
    between_ms = [1000 * max(0.0, r[5] - r[4]) for r in result if r[4] is not None and r[5] is not None]
    # The watch can hear of a change before the patching thread has read its answer: the times
    # from the answer are clamped at 0, so the time from the request's start is printed too.
    sent_ms = [1000 * (r[5] - r[2]) for r in result if r[5] is not None]
    print('endpoint changes: %d Ready flips of %d backend pods over %d services (to False, then back to True), in %.1fs '
          '(%.1f per second asked, %.1f achieved; %d sent more than 50 ms late)'
          % (len(changes), n_pods, len(set((p[1], p[2]) for p in pods)), took, args.latency_rate, len(changes) / took, late[0]))
    print(_quantiles('patch answered -> EndpointSlice seen', slice_ms))
    print(_quantiles('EndpointSlice seen -> load balancer', between_ms))
    print(_quantiles('patch answered -> load balancer', lb_ms))
    print(_quantiles('patch sent -> load balancer', sent_ms))
    # The EndpointSlice controller may fold several pod changes into one slice update.
    slice_updates = len(set((r[0], r[1], r[4]) for r in result if r[4] is not None))
    lb_updates = len(set((r[0], r[1], r[5]) for r in result if r[5] is not None))
    print('  never arrived (within 60 s of the last change): EndpointSlice %d, load balancer %d of %d changes; '
          '%d changes came in %d EndpointSlice updates and %d load balancer updates (%d slice events seen in all, the first list included)'
          % (len(changes) - len(slice_ms), len(changes) - len(lb_ms), len(changes), len(slice_ms), slice_updates,
             lb_updates, watch.events))
    print(cpu.report())
    if args.plot:
        x_max = max(percentile(lb_ms or slice_ms or [0.0], 99.5) * 1.1, 10.0)
        plots.latency_cdf(
            args.plot, 'Endpoint changes to OVN load balancers: %d Ready flips at %g/s asked (%.1f/s achieved), %d services'
            % (len(changes), args.latency_rate, len(changes) / took, args.services),
            [('pod status patch answered -> EndpointSlice seen', slice_ms),
             ('EndpointSlice seen -> load balancer backends in Northbound', between_ms),
             ('pod status patch answered -> load balancer backends in Northbound', lb_ms)],
            subtitle='bench/bench_services_policies.py --latency-changes %d --latency-rate %g; load average at the end %.2f'
            % (args.latency_changes, args.latency_rate, os.getloadavg()[0]), x_max=x_max)
        print('plot: %s (x clipped at %.0f ms)' % (args.plot, x_max))
    with open(os.path.join(work, 'endpoint-latency.json'), 'w', encoding='utf-8') as f:
        json.dump({'changes': [[p[0], p[1], p[2], r] for (p, r) in changes], 'results': result}, f)


# ovn-northd --------------------------------------------------------------------------------
def ovsdb_transact(sock, db, ops):
    """One OVSDB transaction over a unix socket (JSON-RPC, RFC 7047), checked: ``ovsdb-client
    transact`` takes it as one argument, and the per-switch layout's is larger than an argument
    may be (128 KiB)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(sock)
    try:
        conn.sendall(json.dumps({'method': 'transact', 'params': [db] + ops, 'id': 1}).encode())
        buf, decoder, msg = b'', json.JSONDecoder(), {}
        while msg.get('id') != 1:
            chunk = conn.recv(1 << 20)
            if not chunk:
                raise SystemExit('ovsdb-server closed the connection during the transaction')
            buf += chunk
            while buf.strip():
                try:
                    text = buf.decode('utf-8').lstrip()
                    msg, end = decoder.raw_decode(text)
                except ValueError:  # an incomplete message (or character) so far
                    break
                buf = text[end:].encode('utf-8')
                if msg.get('method') == 'echo':
                    conn.sendall(json.dumps({'result': msg.get('params'), 'error': None, 'id': msg.get('id')}).encode())
                if msg.get('id') == 1:
                    break
    finally:
        conn.close()
    errors = [r for r in msg.get('result') or [] if r and r.get('error')]
    if msg.get('error') or errors:
        raise SystemExit('the transaction failed: %s' % (msg.get('error') or errors))
    return msg['result']


def per_switch_layout(nb):
    """Turn the watcher's layout into the per-switch one in one transaction: every holder of the
    group gets the group's load balancers in its own ``load_balancer`` column, and the group goes."""
    groups = [g for g in nb_rows(nb.remote, 'Load_Balancer_Group', '_uuid', 'name', 'load_balancer') if g['name'] == 'clusterLBGroup']
    if not groups:
        raise SystemExit('the watcher\'s database has no load balancer group clusterLBGroup')
    gid, lbs = groups[0]['_uuid'][1], cell_uuids(groups[0]['load_balancer'])
    ops, holders = [], 0
    for table in ('Logical_Switch', 'Logical_Router'):
        for row in nb_rows(nb.remote, table, '_uuid', 'load_balancer_group'):
            if gid in cell_uuids(row['load_balancer_group']):
                ops.append({'op': 'mutate', 'table': table, 'where': [['_uuid', '==', ['uuid', row['_uuid'][1]]]],
                            'mutations': [['load_balancer', 'insert', ['set', [['uuid', u] for u in lbs]]],
                                          ['load_balancer_group', 'delete', ['set', [['uuid', gid]]]]]})
                holders += 1
    ops.append({'op': 'delete', 'table': 'Load_Balancer_Group', 'where': [['_uuid', '==', ['uuid', gid]]]})
    ovsdb_transact(nb.sock, 'OVN_Northbound', ops)
    return len(lbs), holders


def stopwatches(text):
    """``stopwatch/show`` -> {name: {'Total samples': n, 'Maximum': ms, ...}}."""
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith("Statistics for '"):
            name = line.split("'")[1]
            out[name] = {}
        elif name and ':' in line:
            key, value = line.strip().split(':', 1)
            try:
                out[name][key.strip()] = float(value.split()[0])
            except (IndexError, ValueError):
                pass
    return out


def row_count(remote, db, table):
    out = subprocess.check_output(['ovsdb-client', 'transact', remote, json.dumps(
        [db, {'op': 'select', 'table': table, 'where': [], 'columns': ['_uuid']}])])
    return len(json.loads(out)[0]['rows'])


def original_layout(nb):
    """Turn the watcher's layout into the original's, for the same services: all VIPs in two
    shared load balancers (TCP, UDP) attached to every switch and router that held the group;
    the group and the per-service load balancers go. One transaction."""
    groups = [g for g in nb_rows(nb.remote, 'Load_Balancer_Group', '_uuid', 'name', 'load_balancer') if g['name'] == 'clusterLBGroup']
    if not groups:
        raise SystemExit('the watcher\'s database has no load balancer group clusterLBGroup')
    gid, members = groups[0]['_uuid'][1], set(cell_uuids(groups[0]['load_balancer']))
    vips = {'tcp': [], 'udp': []}
    ops = []
    for lb in nb_rows(nb.remote, 'Load_Balancer', '_uuid', 'vips', 'protocol'):
        if lb['_uuid'][1] not in members:
            continue
        protocol = lb['protocol'] if isinstance(lb['protocol'], str) else 'tcp'
        vips.setdefault(protocol, []).extend(lb['vips'][1])
        ops.append({'op': 'delete', 'table': 'Load_Balancer', 'where': [['_uuid', '==', ['uuid', lb['_uuid'][1]]]]})
    for protocol in ('tcp', 'udp'):
        ops.insert(0, {'op': 'insert', 'table': 'Load_Balancer', 'uuid-name': 'shared_' + protocol,
                       'row': {'name': 'k8s-cluster-lb-' + protocol, 'protocol': protocol, 'vips': ['map', vips[protocol]]}})
    holders = 0
    for table in ('Logical_Switch', 'Logical_Router'):
        for row in nb_rows(nb.remote, table, '_uuid', 'load_balancer_group'):
            if gid in cell_uuids(row['load_balancer_group']):
                ops.insert(2, {'op': 'mutate', 'table': table, 'where': [['_uuid', '==', ['uuid', row['_uuid'][1]]]],
                               'mutations': [['load_balancer', 'insert', ['set', [['named-uuid', 'shared_tcp'],
                                                                                  ['named-uuid', 'shared_udp']]]],
                                             ['load_balancer_group', 'delete', ['set', [['uuid', gid]]]]]})
                holders += 1
    ops.append({'op': 'delete', 'table': 'Load_Balancer_Group', 'where': [['_uuid', '==', ['uuid', gid]]]})
    ovsdb_transact(nb.sock, 'OVN_Northbound', ops)
    return sum(len(v) for v in vips.values()), holders


def run_northd(args, work, label, snapshot, layout):
    """A real ovn-northd against a copy of ``snapshot`` and a fresh Southbound database."""
    d = os.path.join(work, 'northd-' + label)
    os.makedirs(d)
    nb = OvsdbServer(d, [NB_SCHEMA], 'nb')
    nb.stop(wait=True)
    shutil.copyfile(snapshot, nb.dbs[0])
    subprocess.check_call(['ovsdb-tool', 'compact', nb.dbs[0]])
    nb.start()
    sb = OvsdbServer(d, [SB_SCHEMA], 'sb')
    out = {}
    if layout == 'per-switch':
        out['moved'] = per_switch_layout(nb)
    elif layout == 'original':
        out['moved'] = original_layout(nb)
    nbctl(nb.remote, 'init')
    ctl = os.path.join(d, 'northd.ctl')
    wait = ['--timeout=%d' % args.timeout, '--wait=sb', 'sync']

    def appctl(*cmd):
        return subprocess.check_output(['ovn-appctl', '-t', ctl] + list(cmd), universal_newlines=True)
    t0 = time.time()
    proc = subprocess.Popen(['ovn-northd', '--ovnnb-db=' + nb.remote, '--ovnsb-db=' + sb.remote, '--unixctl=' + ctl,
                             '--pidfile=' + os.path.join(d, 'northd.pid'), '--log-file=' + os.path.join(d, 'northd.log')],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        nbctl(nb.remote, *wait)
        out['first'] = time.time() - t0
        out['cpu_first'] = cpu_seconds(proc.pid)
        appctl('stopwatch/reset')
        t = time.time()
        nbctl(nb.remote, *wait)
        out['sync'] = time.time() - t
        out['recompute'] = []
        for _i in range(args.northd_repeats):
            t = time.time()
            appctl('inc-engine/recompute')
            nbctl(nb.remote, *wait)
            out['recompute'].append(time.time() - t)
        out['cpu'] = cpu_seconds(proc.pid)
        out['stopwatch'] = stopwatches(appctl('stopwatch/show'))
        out['lflows'] = row_count(sb.remote, 'OVN_Southbound', 'Logical_Flow')
        out['dp_groups'] = row_count(sb.remote, 'OVN_Southbound', 'Logical_DP_Group')
        out['sb_lbs'] = row_count(sb.remote, 'OVN_Southbound', 'Load_Balancer')
    finally:
        proc.terminate()
        proc.wait(30)
        sb.stop(wait=True)
        nb.stop(wait=True)
    out['sb_size'] = compact_size(sb.dbs[0])
    out['nb_size'] = compact_size(nb.dbs[0])
    return out


def northd_compare(args, work, snapshot):
    """ovn-northd on the cold start's database as the watcher made it (load balancers in a group,
    the group on every switch), with the same load balancers on every switch directly, and with
    the same VIPs the original's way (two shared load balancers on every switch)."""
    print('ovn-northd (%s) on the cold start\'s Northbound database, three layouts of the same services:'
          % subprocess.check_output(['ovn-northd', '--version'], universal_newlines=True).splitlines()[0])
    group = run_northd(args, work, 'group', snapshot, 'group')
    flat = run_northd(args, work, 'per-switch', snapshot, 'per-switch')
    orig = run_northd(args, work, 'original', snapshot, 'original')
    print('  per switch: %d load balancers put on each of %d switches and routers directly, the group removed' % flat['moved'])
    print('  original: %d VIPs in two shared load balancers on each of %d switches and routers' % orig['moved'])

    def median(vals):
        return sorted(vals)[len(vals) // 2]
    rows = [('start -> first --wait=sb sync (s)', lambda r: r['first'], '%.2f'),
            ('northd CPU until then (s)', lambda r: r['cpu_first'], '%.2f'),
            ('--wait=sb sync, no recompute forced (s)', lambda r: r['sync'], '%.3f'),
            ('recompute + sync, median of %d (s)' % args.northd_repeats, lambda r: median(r['recompute']), '%.3f'),
            ('recompute + sync, max (s)', lambda r: max(r['recompute']), '%.3f'),
            ('northd CPU, start to end (s)', lambda r: r['cpu'], '%.2f')]
    for watch in ('ovnnb_db_run', 'build_lflows', 'lflows_lbs', 'lflows_to_sb'):
        rows.append(('stopwatch %s max (ms)' % watch, lambda r, w=watch: r['stopwatch'].get(w, {}).get('Maximum', float('nan')), '%.0f'))
    rows += [('logical flows', lambda r: r['lflows'], '%d'),
             ('logical datapath groups', lambda r: r['dp_groups'], '%d'),
             ('Southbound load balancers', lambda r: r['sb_lbs'], '%d'),
             ('Southbound compacted (MB)', lambda r: r['sb_size'] / 1e6, '%.2f'),
             ('Northbound compacted (MB)', lambda r: r['nb_size'] / 1e6, '%.2f')]
    print('  %-44s %12s %12s %8s %12s %8s' % ('', 'group', 'per switch', 'ratio', 'original', 'ratio'))
    for name, get, fmt in rows:
        a, b, c = get(group), get(flat), get(orig)
        print('  %-44s %12s %12s %8s %12s %8s' % (name, fmt % a, fmt % b, '%.2fx' % (b / a) if a else '-',
                                                  fmt % c, '%.2fx' % (c / a) if a else '-'))
    print('  (stopwatches since the first sync: one plain sync and the %d forced recomputes)' % args.northd_repeats)


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
    p.add_argument('--nodes', type=int, default=1, help='Node objects, so node switches (the pods stay on the first)')
    p.add_argument('--cluster-subnet', default='10.128.0.0/14',
                   help="the watcher's --cluster-subnet; must begin at 10.128.0.0 (more nodes: e.g. 10.128.0.0/10)")
    p.add_argument('--latency-changes', type=int, default=0,
                   help='endpoint changes (pod Ready flips) timed with the restarted watcher running (0: none)')
    p.add_argument('--latency-rate', type=float, default=20.0, help='endpoint changes per second')
    p.add_argument('--plot', default=None, help='PNG of the endpoint-change latency distributions (needs: bash bench/setup)')
    p.add_argument('--northd', action='store_true',
                   help='ovn-northd on the cold start\'s database: the load balancer group versus per-switch attachment')
    p.add_argument('--northd-repeats', type=int, default=3, help='forced recomputes timed per layout')
    args = p.parse_args()
    if args.plot:
        plots.require()  # before minutes of work, not after
    if args.services * args.endpoints + FIRST_POD > 16000:
        raise SystemExit('at most about 16,000 pods fit the node subnet %s' % NODE_SUBNET)
    cluster = ipaddress.ip_network(args.cluster_subnet)
    if cluster.network_address != ipaddress.ip_address('10.128.0.0') or cluster.prefixlen > 18:
        raise SystemExit('--cluster-subnet %s must begin at 10.128.0.0 and hold %s (the pods\' addresses)'
                         % (args.cluster_subnet, NODE_SUBNET))
    if not 1 <= args.nodes <= 2 ** (args.host_prefix - cluster.prefixlen):
        raise SystemExit('--nodes %d: between 1 and %d node subnets of /%d fit %s'
                         % (args.nodes, 2 ** (args.host_prefix - cluster.prefixlen), args.host_prefix, cluster))
    if not 0 <= (args.latency_changes + 1) // 2 <= args.services * args.endpoints or args.latency_rate <= 0:
        raise SystemExit('--latency-changes %d: each change flips one of the %d pods, two changes per pod at most; '
                         '--latency-rate must be above 0' % (args.latency_changes, args.services * args.endpoints))
    work = tempfile.mkdtemp(prefix='bench-svc-pol-')
    nb = None
    try:
        kube = kube_control_plane.ControlPlane(kube_control_plane.bin_dir())
        kube.start()
        try:
            kube.create_node('bench-node')
            make_objects(kube, args)
            nb = NbDatabase(work)
            nbctl(nb.remote, 'lr-add', 'ovn_cluster_router')
            took, snapshot = cold_start(args, kube, work, nb)
            switch = nb_rows(nb.remote, 'Logical_Switch', 'name', 'other_config')
            subnets = dict((r['name'], dict(r['other_config'][1]).get('subnet')) for r in switch)
            if subnets.get('bench-node') != NODE_SUBNET:
                print('WARNING: the node switch has %s, not %s: the pods\' annotations did not fit it'
                      % (subnets.get('bench-node'), NODE_SUBNET))
            nb.stop()
            size = compact_size(nb.dbs[0])
            print('Northbound database of the watcher, compacted: %.1f MB' % (size / 1e6))
            if args.baseline:
                baseline(args, kube, work, took, size)
        finally:
            if nb is not None:
                nb.stop()  # again after a failure: a second stop does nothing
            kube.stop()
        if args.northd:
            # With the control plane stopped: ovn-northd has the cores to itself (but for other sessions).
            northd_compare(args, work, snapshot)
    finally:
        if args.keep:
            print('kept %s' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
