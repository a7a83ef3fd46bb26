# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's start-up reconcile of nodes and pods, in process: a real Northbound
ovsdb-server, the informers' stores filled by hand (no API server) and the API writes recorded.

A restart over a cluster in step takes short cuts (a pod whose port already holds what it
should skips the converge, a pod already annotated skips the writers' pool, the node switches
are read once while the database does not change): these tests hold that it still writes
nothing then, and still repairs every difference otherwise."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _alloc, _ovsdb
from ovn_k8s_agents.watcher.controller import Controller
from ovn_k8s_agents.watcher.metrics import Metrics
from ovn_k8s_agents.watcher.tables import nb_tables

NS = 'ns1'


class Answer:
    def read(self):
        return b'{}'

    def release_conn(self):
        pass


def controller(nb):
    """A controller over ``nb`` whose pod PATCHes and Events are recorded in ``.writes``."""
    from kubernetes import client
    c = Controller(client.ApiClient(type.__call__(client.Configuration)), None, Metrics(), '10.128.0.0/14', 24)
    c.nb = _ovsdb.Client(_ovsdb.NB_DB, remote=nb.remote, tables=nb_tables())
    c.writes = []

    def patch(name, namespace, body, **_kw):
        c.writes.append((name, body))
        return Answer()
    c.core.patch_namespaced_pod = patch
    c.core.create_namespaced_event = lambda namespace, body, **_kw: c.writes.append(('event', body))
    return c


def node(name):
    return {'metadata': {'name': name, 'uid': 'uid-' + name}, 'status': {'addresses': [
        {'type': 'InternalIP', 'address': '192.0.2.%d' % (len(name) + 10)}]}}


def pod(name, node_name, annotations=None):
    return {'metadata': {'name': name, 'namespace': NS, 'uid': 'uid-' + name, 'annotations': annotations or {}},
            'spec': {'nodeName': node_name}, 'status': {'phase': 'Running'}}


def fill(c, nodes, pods):
    c.nodes.store = dict((n['metadata']['name'], n) for n in nodes)
    c.pods.store = dict(('%s/%s' % (NS, p['metadata']['name']), p) for p in pods)


def sync_pods(c):
    c.pod_reconciler.reconcile_batch([('pod', key) for key in sorted(c.pods.store)])


@pytest.fixture
def converged(nb):
    """Nodes n1 and n2 and three pods on n1, converged once; the pods' objects carry the
    annotations the first controller wrote, as the API server would hand them to the next."""
    c = controller(nb)
    fill(c, [node('n1'), node('n2')], [pod('p%d' % i, 'n1') for i in range(3)])
    for name in ('n1', 'n2'):
        c.node_reconciler.reconcile(name)
    sync_pods(c)
    notes = dict((name, body['metadata']['annotations']) for name, body in c.writes)
    assert sorted(notes) == ['p0', 'p1', 'p2']
    c.nb.close()
    nodes = [node('n1'), node('n2')]
    pods = [pod(name, 'n1', notes[name]) for name in sorted(notes)]
    yield nb, nodes, pods


def test_a_restart_in_step_writes_nothing(converged):
    nb, nodes, pods = converged
    txns = nb.transactions()
    c = controller(nb)
    fill(c, nodes, pods)
    for n in nodes:
        c.node_reconciler.reconcile(n['metadata']['name'])
    sync_pods(c)
    assert nb.transactions() == txns
    assert c.metrics.counter('nb_transactions_total') == 0
    assert c.writes == []
    assert c.metrics.counter('events_total', kind='pod', result='ok') == 3
    c.nb.close()


def test_a_restart_repairs_each_column_of_a_pod_port(converged):
    nb, nodes, pods = converged
    ports = nb.pod_ports()
    want = dict((name.split('_', 1)[1], port['addresses'][0]) for name, port in ports.items())
    # While no watcher ran: p0 lost its port security, p1's uid was changed and p2 was given
    # another address (free on the switch: its annotation's address is kept).
    nb.ctl('lsp-set-port-security', '%s_p0' % NS)
    nb.ctl('set', 'Logical_Switch_Port', '%s_p1' % NS, 'external_ids:pod-uid=other')
    nb.ctl('lsp-set-addresses', '%s_p2' % NS, '0a:58:0a:80:00:63 10.128.0.99')
    c = controller(nb)
    fill(c, nodes, pods)
    sync_pods(c)
    assert c.metrics.counter('nb_transactions_total') == 1, 'one batch transaction repairs the three'
    assert c.writes == []
    ports = nb.pod_ports()
    for name in ('p0', 'p1', 'p2'):
        port = ports['%s_%s' % (NS, name)]
        assert port['addresses'] == [want[name]] and port['port_security'] == [want[name]], port
        assert port['external_ids']['pod-uid'] == 'uid-' + name
        assert port['switch'] == 'n1'
    c.nb.close()


def test_a_pod_that_lost_its_annotation_gets_its_ports_address_again(converged):
    nb, nodes, pods = converged
    before = json.loads(pods[1]['metadata']['annotations']['ovn'])
    pods[1]['metadata']['annotations'] = {}
    c = controller(nb)
    fill(c, nodes, pods)
    sync_pods(c)
    assert c.metrics.counter('nb_transactions_total') == 0
    assert [name for name, body in c.writes] == ['p1'], 'only the pod without its annotation is written'
    written = json.loads(c.writes[0][1]['metadata']['annotations']['ovn'])
    assert written == before
    c.nb.close()


def test_node_switches_are_read_once_while_the_database_does_not_change(converged, monkeypatch):
    nb, nodes, pods = converged
    calls = []
    real = _alloc.existing_switches

    def counted(client):
        calls.append(1)
        return real(client)
    monkeypatch.setattr(_alloc, 'existing_switches', counted)
    c = controller(nb)
    fill(c, nodes + [node('n3'), node('n4')], pods)
    c.node_reconciler.reconcile('n1')
    c.node_reconciler.reconcile('n2')
    assert len(calls) == 1, 'nodes in step share one reading'
    c.node_reconciler.reconcile('n3')                # still the same database: the same reading
    assert len(calls) == 1
    c.node_reconciler.reconcile('n4')                # n3's switch is new: read again, n4 must see n3's subnet
    assert len(calls) == 2
    subnets = dict((r['name'], r['other_config'].get('subnet')) for r in nb.rows('Logical_Switch', 'name', 'other_config'))
    assert len(set(subnets[n] for n in ('n1', 'n2', 'n3', 'n4'))) == 4, subnets
    c.nb.close()


def test_a_term_whose_lease_lapsed_writes_nothing(nb):
    """The fence (LeaderElector.still_leading): while it says no, neither the Northbound
    database nor the API gets a write, and the keys wait for a retry; once it says yes, the
    same keys converge."""
    from ovn_k8s_agents.watcher.context import NotLeading
    c = controller(nb)
    leading = [False]
    c.fence = lambda: leading[0]
    fill(c, [node('n1')], [pod('p0', 'n1')])
    with pytest.raises(NotLeading):
        c.node_reconciler.reconcile('n1')
    before = nb.transactions()
    sync_pods(c)
    assert c.writes == [] and nb.transactions() == before and nb.rows('Logical_Switch', 'name') == []
    leading[0] = True
    c.node_reconciler.reconcile('n1')
    sync_pods(c)
    assert [write[0] for write in c.writes] == ['p0'] and list(nb.pod_ports()) == ['%s_p0' % NS]


def test_a_wedged_worker_fails_the_health_check(nb):
    """Controller.wedged (what /healthz reports): a worker held inside a handler is named once
    it has been on its batch longer than the limit, and is not once it finished."""
    import threading
    from ovn_k8s_agents.watcher.cli import Watcher, parse_args
    from waiting import wait_for
    c = controller(nb)
    fill(c, [node('n1')], [])
    release = threading.Event()
    entered = threading.Event()
    sync_node = c.node_reconciler.reconcile

    def held(name):
        entered.set()
        release.wait(60)
        return sync_node(name)
    c.node_reconciler.reconcile = held
    w = Watcher(parse_args(['--nb-remote', nb.remote, '--cluster-subnet', '10.128.0.0/14', '--wedged-after', '0.2',
                            '--metrics-address', '']))
    w.controller = c
    assert w.healthy() == (True, 'ok')
    c.n_workers = 1
    c.informers = []        # no API server here: the stores were filled by hand
    c._t0 = 0.0             # and listed (Controller.list_all)
    c.resync_period = 0
    try:
        c.start()
        assert entered.wait(30)

        def unhealthy():
            answer = w.healthy()
            return None if answer[0] else answer
        why = wait_for('the held worker to count as wedged', unhealthy)[1]
        assert 'worker-0 on one batch' in why, why
        release.set()
        wait_for('the worker to finish its batch', lambda: w.healthy() == (True, 'ok'))
        assert [r['name'] for r in nb.rows('Logical_Switch', 'name')] == ['n1']
    finally:
        release.set()
        c.stop()


def test_the_events_remembered_as_reported_are_bounded(nb, monkeypatch):
    """Case 11 of issue 23: the watcher remembers which Events it recorded (so that one object,
    reason and message is reported once), at most REPORTED_MAX of them, the oldest forgotten
    first: a cluster churning through bad objects does not grow it for ever."""
    from ovn_k8s_agents.watcher import context
    monkeypatch.setattr(context, 'REPORTED_MAX', 3)
    c = controller(nb)
    obj = pod('p', 'n1')
    for i in range(5):
        c.ctx.object_event('v1', 'Pod', obj, 'Reason', 'message %d' % i)
    assert len(c.writes) == 5 and len(c.ctx.reported) == 3
    c.ctx.object_event('v1', 'Pod', obj, 'Reason', 'message 4')  # remembered: not again
    assert len(c.writes) == 5
    c.ctx.object_event('v1', 'Pod', obj, 'Reason', 'message 0')  # forgotten: reported again
    assert len(c.writes) == 6


def test_a_batch_of_nodes_is_one_transaction_with_the_subnets_one_at_a_time_gives(nb, tmp_path):
    """NodeReconciler.reconcile_batch: the node networks of a batch in one transaction, each
    node's subnet allocated as if the nodes before it had been committed on their own (the
    same subnets as one reconcile per node, against a second database); a node that cannot be
    served (a name the database refuses) is reported and takes no subnet from the others; a
    removed node's network goes in the same transaction and frees its subnet for the next."""
    from conftest import Nb
    from ovn_k8s_agents.watcher.context import BadInput
    names = ['n%d' % i for i in range(1, 9)]
    (tmp_path / 'one').mkdir()
    one = Nb(tmp_path / 'one')
    try:
        c1 = controller(one)
        fill(c1, [node(n) for n in names], [])
        for name in names:
            c1.node_reconciler.reconcile(name)
        by_one = sorted(one.rows('Logical_Switch', 'name', 'other_config'), key=lambda r: r['name'])
        one_txns = one.transactions()
    finally:
        one.server.stop()
    c = controller(nb)
    fill(c, [node(n) for n in names], [])
    before = nb.transactions()
    c.node_reconciler.reconcile_batch([('node', n) for n in names])
    assert nb.transactions() == before + 1 < one_txns
    assert sorted(nb.rows('Logical_Switch', 'name', 'other_config'), key=lambda r: r['name']) == by_one
    assert len(set(r['other_config']['subnet'] for r in by_one)) == len(names)
    # Again: in step, nothing written.
    c.node_reconciler.reconcile_batch([('node', n) for n in names])
    assert nb.transactions() == before + 1
    # n2 goes, a bad node and a new one come: the bad one is reported and retried, the new one
    # takes the subnet n2 left.
    subnet = dict((r['name'], r['other_config']['subnet']) for r in by_one)
    reported = []
    c.ctx.bad_input = lambda key, e: reported.append((key, e.reason))
    c.node_reconciler._plan_real = c.node_reconciler._plan

    def plan(name, cs, existing):
        if name == 'bad':
            raise BadInput('InvalidNodeName', 'node bad: refused here')
        return c.node_reconciler._plan_real(name, cs, existing)
    c.node_reconciler._plan = plan
    fill(c, [node(n) for n in names if n != 'n2'] + [node('bad'), node('n9')], [])
    c.node_reconciler.reconcile_batch([('node', 'n2'), ('node', 'bad'), ('node', 'n9')])
    assert reported == [(('node', 'bad'), 'InvalidNodeName')]
    assert nb.transactions() == before + 2
    now = dict((r['name'], r['other_config']['subnet']) for r in nb.rows('Logical_Switch', 'name', 'other_config'))
    assert 'n2' not in now and 'bad' not in now and now['n9'] == subnet['n2']
