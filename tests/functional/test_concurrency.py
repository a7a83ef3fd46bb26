# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two runs converging at the same time against one real Northbound database.

Each run is its own process with its own connection. Both read the database, then wait for
each other (a barrier), then commit: every iteration is a real race in which both plans were
made from the same state. What the collection promises: never two rows of one name, never two
default routes on the cluster router, never one join subnet for two gateways; the run that
loses the race plans again from the new state (and converges or fails with a clear message).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import multiprocessing
import sys
import traceback

from conftest import collection_root, nbctl

ITERATIONS = 15


def _worker(remote, barrier, queue, job):
    """Run one plan through plan_and_commit in a fresh process; put (name, result or error)."""
    try:
        if collection_root() not in sys.path:
            sys.path.insert(0, collection_root())
        from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _nb, _ovsdb

        kind, args = job
        tables = _nb.GATEWAY_TABLES if kind == 'gateway' else _nb.SWITCH_TABLES
        attempts = []

        def plan(cs, client):
            if kind == 'gateway':
                out = _nb.ensure_gateway_router(cs, client, **args)
            else:
                out = _nb.ensure_switch(cs, client, **args)
            attempts.append(cs.changed)
            if len(attempts) == 1:
                barrier.wait(timeout=30)  # both planned from the same state: now race
            return out

        with _ovsdb.Client(_ovsdb.NB_DB, remote=remote, timeout=20, tables=tables) as client:
            cs, more = _ovsdb.plan_and_commit(client, plan)
        queue.put((args.get('node') or args['external_ids']['by'],
                   dict(ok=True, changed=cs.changed, attempts=len(attempts), more=more)))
    except Exception as exc:  # reported to the test, which decides
        if not barrier.broken:
            try:
                barrier.abort()
            except Exception:
                pass
        queue.put((job[1].get('node') or job[1]['external_ids']['by'],
                   dict(ok=False, error=str(exc), type=type(exc).__name__,
                        tb=traceback.format_exc())))


def race(remote, jobs):
    """Run ``jobs`` (kind, kwargs) in parallel processes; return {who: result}."""
    ctx = multiprocessing.get_context('fork')
    barrier = ctx.Barrier(len(jobs))
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(remote, barrier, queue, job)) for job in jobs]
    for proc in procs:
        proc.start()
    results = dict(queue.get(timeout=120) for _ in jobs)
    for proc in procs:
        proc.join(timeout=30)
    return results


def rows(remote, table, *conditions):
    out = nbctl(remote, '--format=json', '--columns=_uuid', 'find', table, *conditions)
    return json.loads(out)['data']


def test_two_creates_of_one_switch_leave_one_row(nb_db):
    for i in range(ITERATIONS):
        name = 'race-%d' % i
        results = race(nb_db, [('switch', dict(name=name, external_ids={'by': who}))
                               for who in ('a', 'b')])
        assert all(r['ok'] for r in results.values()), results
        assert len(rows(nb_db, 'Logical_Switch', 'name=%s' % name)) == 1, (name, results)
        # The loser saw the winner's switch when it planned again and converged it.
        assert sorted(r['attempts'] for r in results.values()) == [1, 2], results
        assert all(r['changed'] for r in results.values()), results


def _gateway(node, cluster_router, index, **extra):
    return dict(node=node, chassis='chassis-' + node,
                physical_ip='172.16.%d.%d/16' % (index // 200, 10 + index % 200),
                physical_mac='0a:58:ac:10:%02x:%02x' % (index // 200, 10 + index % 200),
                default_gateway='172.16.255.1', cluster_subnets=['10.128.0.0/14'],
                cluster_router=cluster_router, **extra)


def test_two_gateways_never_both_take_the_default_route(nb_db):
    for i in range(ITERATIONS):
        cr = 'cr-%d' % i
        nbctl(nb_db, 'lr-add', cr)
        jobs = [('gateway', _gateway('gw%d-%s' % (i, who), cr, 2 * i + n))
                for n, who in enumerate('ab')]
        results = race(nb_db, jobs)
        routes = [line for line in nbctl(nb_db, 'lr-route-list', cr).splitlines() if '0.0.0.0/0' in line]
        assert len(routes) == 1, (routes, results)
        won = [who for who, r in results.items() if r['ok']]
        lost = [r for r in results.values() if not r['ok']]
        assert len(won) == 1 and len(lost) == 1, results
        assert lost[0]['type'] == 'Conflict' and (
            'already sends 0.0.0.0/0 (dst-ip) to gateway %s' % won[0]) in lost[0]['error'], lost
        # The loser wrote nothing: no gateway router of its own.
        routers = [line.split()[1] for line in nbctl(nb_db, 'lr-list').splitlines()]
        assert [r for r in routers if r.startswith('(GR_gw%d-' % i)] == ['(GR_%s)' % won[0]], routers


def test_two_gateways_never_share_a_join_subnet(nb_db):
    """Two rampout gateways may coexist; their join subnets are allocated concurrently."""
    for i in range(ITERATIONS):
        cr = 'cr-%d' % i
        nbctl(nb_db, 'lr-add', cr)
        jobs = [('gateway', _gateway('gw%d-%s' % (i, who), cr, 2 * i + n,
                                     rampout_subnets=['10.128.%d.0/24' % n]))
                for n, who in enumerate('ab')]
        results = race(nb_db, jobs)
        assert all(r['ok'] for r in results.values()), results
        joins = sorted(r['more']['join_subnet'] for r in results.values())
        assert joins == ['100.64.0.0/29', '100.64.0.8/29'], results
        nets = [ipaddress.ip_interface(nbctl(nb_db, 'get', 'Logical_Router_Port', 'rtoj-gw%d-%s' % (i, who),
                                             'networks').strip('[]"')).network for who in 'ab']
        assert not nets[0].overlaps(nets[1]), nets
        routes = nbctl(nb_db, 'lr-route-list', cr)
        assert routes.count('src-ip') == 2 and '0.0.0.0/0' not in routes, routes
