# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two runs converging at the same time against one real Northbound database.

Each run is its own process (tests/functional/race_worker.py) with its own connection, under
this interpreter and under the system's (Debian 12's older ovs). Both read the database, then
wait for each other (a barrier), then commit: every iteration is a real race in which both plans were
made from the same state. What the collection promises: never two rows of one name, never two
default routes on the cluster router, never one join subnet for two gateways; the run that
loses the race plans again from the new state (and converges or fails with a clear message).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import os
import subprocess
import sys
import tempfile

import pytest

from conftest import REPO, SYSTEM_PYTHON, collection_root, nbctl

ITERATIONS = 10
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'race_worker.py')


def _system_python_ready():
    return os.path.exists(SYSTEM_PYTHON) and subprocess.call(
        [SYSTEM_PYTHON, '-c', 'import ovs, ovsdbapp'], stderr=subprocess.DEVNULL) == 0


@pytest.fixture(params=['test', 'system'])
def python(request):
    """The interpreter of the racing runs: this one (ovs 4, ovsdbapp 3) or the system's
    (Debian 12: ovs 3.1 without Transaction.add_op, ovsdbapp 2.1)."""
    if request.param == 'test':
        return dict(python=sys.executable, env={}, iterations=ITERATIONS)
    if not _system_python_ready():
        pytest.skip('%s lacks python3-openvswitch or python3-ovsdbapp' % SYSTEM_PYTHON)
    import ansible
    shim = os.path.join(REPO, '.build', 'ansible-only')
    link = os.path.join(shim, 'ansible')
    os.makedirs(shim, exist_ok=True)
    if not os.path.islink(link):
        os.symlink(os.path.dirname(ansible.__file__), link)
    return dict(python=SYSTEM_PYTHON, env=dict(PYTHONPATH=shim), iterations=ITERATIONS // 2)


def race(remote, jobs, python):
    """Run ``jobs`` {who: (kind, kwargs)} as parallel processes; return {who: result}."""
    directory = tempfile.mkdtemp(prefix='ovn-k8s-race-')
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (collection_root(), python['env'].get('PYTHONPATH')) if p)
    procs = dict((who, subprocess.Popen([python['python'], WORKER, remote, directory, who, str(len(jobs)), json.dumps(job)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env))
                 for who, job in jobs.items())
    results = {}
    for who, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (who, out, err)
        results[who] = json.loads(out.strip().splitlines()[-1])
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    os.rmdir(directory)
    return results


def rows(remote, table, *conditions):
    out = nbctl(remote, '--format=json', '--columns=_uuid', 'find', table, *conditions)
    return json.loads(out)['data']


def test_two_creates_of_one_switch_leave_one_row(nb_db, python):
    for i in range(python['iterations']):
        name = 'race-%d' % i
        results = race(nb_db, dict((who, ('switch', dict(name=name, external_ids={'by': who})))
                                   for who in ('a', 'b')), python)
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


def test_two_gateways_never_both_take_the_default_route(nb_db, python):
    for i in range(python['iterations']):
        cr = 'cr-%d' % i
        nbctl(nb_db, 'lr-add', cr)
        jobs = dict(('gw%d-%s' % (i, who), ('gateway', _gateway('gw%d-%s' % (i, who), cr, 2 * i + n)))
                    for n, who in enumerate('ab'))
        results = race(nb_db, jobs, python)
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


def test_two_gateways_never_share_a_join_subnet(nb_db, python):
    """Two rampout gateways may coexist; their join subnets are allocated concurrently."""
    for i in range(python['iterations']):
        cr = 'cr-%d' % i
        nbctl(nb_db, 'lr-add', cr)
        jobs = {}
        for n, who in enumerate('ab'):
            node = 'gw%d-%s' % (i, who)
            jobs[node] = ('gateway', _gateway(node, cr, 2 * i + n, rampout_subnets=['10.128.%d.0/24' % n]))
        results = race(nb_db, jobs, python)
        assert all(r['ok'] for r in results.values()), results
        joins = sorted(r['more']['join_subnet'] for r in results.values())
        assert joins == ['100.64.0.0/29', '100.64.0.8/29'], results
        nets = [ipaddress.ip_interface(nbctl(nb_db, 'get', 'Logical_Router_Port', 'rtoj-gw%d-%s' % (i, who),
                                             'networks').strip('[]"')).network for who in 'ab']
        assert not nets[0].overlaps(nets[1]), nets
        routes = nbctl(nb_db, 'lr-route-list', cr)
        assert routes.count('src-ip') == 2 and '0.0.0.0/0' not in routes, routes


LOOKUP = '''
import json, subprocess, sys
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _ovsdb
remote = sys.argv[1]
with _ovsdb.Client(_ovsdb.NB_DB, remote=remote) as client:
    def names(value):
        return [r.name for r in client.find('Logical_Switch_Port', 'name', value)]
    seen = {'before': [names('p1'), names('p2')]}
    # Another client renames p2 and deletes p1 while this one holds its copy.
    subprocess.check_call(['ovn-nbctl', '--db=' + remote, 'set', 'Logical_Switch_Port', 'p2', 'name=p9',
                           '--', 'lsp-del', 'p1'])
    client.settle()
    seen['after'] = [names('p1'), names('p2'), names('p9')]
print(json.dumps(seen))
'''


def test_lookups_by_name_follow_other_clients_renames_and_deletes(nb_db, python):
    """Client.find answers from the IDL's own name index: a row another client renamed is found
    under its new name only (ovs 3.1's IDL keeps it indexed under the old one), a deleted row
    not at all."""
    nbctl(nb_db, 'ls-add', 's1', '--', 'lsp-add', 's1', 'p1', '--', 'lsp-add', 's1', 'p2')
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(p for p in (collection_root(), python['env'].get('PYTHONPATH')) if p)
    out = subprocess.check_output([python['python'], '-c', LOOKUP, nb_db], env=env, universal_newlines=True)
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen == {'before': [['p1'], ['p2']], 'after': [[], [], ['p9']]}, seen
