# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the watcher's own CPU per pod, without an API server.

The watcher's pod reconciler in this process (``PodReconciler.reconcile_batch``, as a worker
calls it) against a real Northbound ovsdb-server: N pods on one node, in batches of B keys,
the annotation PATCHes recorded instead of sent; then a second controller over the same pods,
now annotated, as after a restart in step (it must write nothing). Prints the CPU seconds of
this process (the worker and the IDL's thread) per pod for each, and the Northbound
transactions. What the API server costs is left out: this is the part of a cold start or a
steady rate that the watcher's code decides, and it is far less disturbed by other work on
the machine than the wall time of ``bench_watcher.py``.

``--before TREE`` runs the same in another checkout (its own code, this bench's driver), in
turns with this one, ``--repeat`` times, starting with the other tree every second time.
Each measurement runs under ``--python`` (default: the system one, as the role runs the
watcher: Debian's ovs 3.1 with its C JSON parser; the virtualenv's ovs 4.0 parses JSON in
Python, which the IDL's thread then spends much of its time on).

    .venv/bin/python bench/bench_plan.py --pods 5000 --batch 20 --before /work/before --repeat 2
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_here(tree, pods, batch, host_prefix):
    """One measurement in this process, with ``tree``'s code; returns a dict of figures."""
    sys.path[:0] = [os.path.join(tree, 'tests', 'lib'), os.path.join(tree, 'agents')]
    link = os.path.join(tree, '.build', 'ansible_collections', 'ovn_k8s', 'overlay')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(tree, link)
    sys.path.insert(0, os.path.join(tree, '.build'))
    from kubernetes import client as kc
    from ovsdb_server import NB_SCHEMA, OvsdbServer  # tests/lib
    from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _ovsdb
    from ovn_k8s_agents.watcher.controller import Controller
    from ovn_k8s_agents.watcher.metrics import Metrics
    from ovn_k8s_agents.watcher.tables import nb_tables
    logging.getLogger('ovn_k8s_watcher').setLevel(logging.ERROR)

    class Answer(object):
        def read(self):
            return b'{}'

        def release_conn(self):
            pass

    work = tempfile.mkdtemp(prefix='bench-plan-')
    server = OvsdbServer(work, [NB_SCHEMA], 'nb')
    subprocess.check_call(['ovn-nbctl', '--db=' + server.remote, 'lr-add', 'ovn_cluster_router'])
    api = kc.ApiClient(type.__call__(kc.Configuration))

    def controller(annotated):
        c = Controller(api, None, Metrics(), '10.128.0.0/14', host_prefix)
        c.nb = _ovsdb.Client(_ovsdb.NB_DB, remote=server.remote, tables=nb_tables())
        c.ctx.writers = None        # PATCHes in the worker's thread, recorded
        c.writes = []

        def patch(name, namespace, body, **kw):
            c.writes.append((name, body['metadata']['annotations']))
            return Answer()
        c.core.patch_namespaced_pod = patch
        c.core.create_namespaced_event = lambda namespace, body, **kw: c.writes.append(('event', body))
        c.nodes.store = {'n1': {'metadata': {'name': 'n1', 'uid': 'uid-n1'}}}
        c.pods.store = dict(('bench/p%05d' % i, {
            'metadata': {'name': 'p%05d' % i, 'namespace': 'bench', 'uid': 'uid-%d' % i,
                         'creationTimestamp': '2026-01-01T00:00:00Z',
                         'annotations': dict(annotated.get('p%05d' % i, {}))},
            'spec': {'nodeName': 'n1'}, 'status': {'phase': 'Running'}}) for i in range(pods))
        return c

    def transactions():
        with open(server.dbs[0], 'rb') as f:
            return sum(1 for line in f if line.startswith(b'OVSDB JSON'))

    out = {'tree': tree, 'pods': pods, 'batch': batch}
    try:
        c = controller({})
        c.node_reconciler.reconcile('n1')
        keys = sorted(('pod', k) for k in c.pods.store)
        t0, w0, n0 = time.process_time(), time.time(), transactions()
        for i in range(0, pods, batch):
            c.pod_reconciler.reconcile_batch(keys[i:i + batch])
        out['cold_cpu'], out['cold_wall'] = time.process_time() - t0, time.time() - w0
        out['cold_transactions'] = transactions() - n0
        annotated = dict((name, notes) for name, notes in c.writes if name != 'event')
        out['annotated'] = len(annotated)
        c.nb.close()
        # A restart in step: a new controller (a new copy of the database) over annotated pods.
        r = controller(annotated)
        keys = sorted(('pod', k) for k in r.pods.store)
        n0 = transactions()
        t0, w0 = time.process_time(), time.time()
        r.node_reconciler.reconcile('n1')
        for i in range(0, pods, 120):
            r.pod_reconciler.reconcile_batch(keys[i:i + 120])
        out['restart_cpu'], out['restart_wall'] = time.process_time() - t0, time.time() - w0
        out['restart_transactions'] = transactions() - n0
        out['restart_writes'] = len(r.writes)
        r.nb.close()
    finally:
        server.stop()
    return out


def show(r, label):
    print('%-8s %s: %d pods in batches of %d: %.2f CPU s (%.3f ms per pod), %d transactions; '
          'in step again: %.2f CPU s (%.3f ms per pod), %d transactions, %d writes'
          % (label, r['tree'], r['pods'], r['batch'], r['cold_cpu'], 1000 * r['cold_cpu'] / r['pods'],
             r['cold_transactions'], r['restart_cpu'], 1000 * r['restart_cpu'] / r['pods'],
             r['restart_transactions'], r['restart_writes']))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    p.add_argument('--pods', type=int, default=5000)
    p.add_argument('--batch', type=int, default=20, help='keys per batch (a cold start makes about 120, '
                   'a steady 100 pods/s a few)')
    p.add_argument('--host-prefix', type=int, default=18)
    p.add_argument('--before', default=None, help='another checkout, measured in turns with this one')
    p.add_argument('--repeat', type=int, default=1)
    p.add_argument('--python', default='/usr/bin/python3', help='the interpreter of the measurements')
    p.add_argument('--one', default=None, help=argparse.SUPPRESS)   # internal: measure TREE here
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_here(args.one, args.pods, args.batch, args.host_prefix)))
        return
    trees = [('after', REPO)] + ([('before', os.path.abspath(args.before))] if args.before else [])
    print('load average at start: %.1f %.1f %.1f; measured under %s' % (os.getloadavg() + (args.python,)))
    for i in range(args.repeat):
        order = trees if i % 2 == 0 else list(reversed(trees))
        for label, tree in order:
            answer = subprocess.run([args.python, os.path.abspath(__file__), '--one', tree, '--pods', str(args.pods),
                                     '--batch', str(args.batch), '--host-prefix', str(args.host_prefix)],
                                    stdout=subprocess.PIPE, universal_newlines=True, check=True)
            show(json.loads(answer.stdout.strip().splitlines()[-1]), label)
    print('load average at the end: %.1f %.1f %.1f' % os.getloadavg())


if __name__ == '__main__':
    main()
