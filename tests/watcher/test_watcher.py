# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher against a real kube-apiserver and a real Northbound ovsdb-server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import os
import signal

import pytest

from waiting import wait_for  # tests/lib
from ovn_k8s_agents import annotation


def _check_ports(cluster, names, node_of):
    """Every named pod has exactly one port on its node's switch whose address is the one in
    its annotation (both forms); addresses are distinct. Returns {pod: ip}."""
    ports = cluster.nb.pod_ports()
    pods = dict((p.metadata.name, p) for p in cluster.core.list_namespaced_pod(cluster.ns).items)
    ips = {}
    for name in names:
        ann = pods[name].metadata.annotations or {}
        legacy = annotation.parse({annotation.LEGACY_KEY: ann[annotation.LEGACY_KEY]})
        modern = annotation.parse({annotation.MODERN_KEY: ann[annotation.MODERN_KEY]})
        assert legacy == modern, ann
        port = ports['%s_%s' % (cluster.ns, name)]
        assert port['switch'] == node_of[name], port
        want = '%s %s' % (legacy.mac, legacy.ip)
        assert port['addresses'] == [want] and port['port_security'] == [want], port
        assert port['external_ids']['pod-uid'] == pods[name].metadata.uid
        assert port['external_ids']['namespace'] == cluster.ns and port['external_ids']['pod'] == name
        # Case 7 of issue 23: the port names its node's chassis (the node name is its hostname).
        assert port['options'].get('requested-chassis') == node_of[name], port
        subnet = ipaddress.ip_network(_subnet(cluster.nb, node_of[name]))
        assert legacy.interface.ip in subnet and legacy.gateway == subnet.network_address + 1
        assert legacy.interface.ip not in (subnet.network_address + 1, subnet.network_address + 2)
        ips[name] = legacy.ip
    assert len(set(ips.values())) == len(ips), 'an address was handed out twice: %s' % ips
    return ips


def _subnet(nb, switch):
    for row in nb.rows('Logical_Switch', 'name', 'other_config'):
        if row['name'] == switch:
            return row['other_config']['subnet']
    raise AssertionError('no switch %s' % switch)


def _ns_ports(cluster):
    return dict((k, v) for k, v in cluster.nb.pod_ports().items() if k.startswith(cluster.ns + '_'))


def test_pods_get_ports_and_annotations(cluster):
    a, b = cluster.node('a'), cluster.node('b')
    w = cluster.watcher()
    w.wait_leading()
    # Both nodes got their network.
    wait_for('node switches', lambda: set([a, b]) <= set(r['name'] for r in cluster.nb.rows('Logical_Switch', 'name')))
    node_of = {}
    for i in range(6):
        node = a if i % 2 else b
        cluster.pod('p%d' % i, node)
        node_of['p%d' % i] = node
    cluster.pod('hostnet', a, host_network=True)
    cluster.pod('unbound')
    cluster.wait_annotated(list(node_of))
    ips = _check_ports(cluster, list(node_of), node_of)
    # Host-network and unbound pods get nothing.
    ports = _ns_ports(cluster)
    assert '%s_hostnet' % cluster.ns not in ports and '%s_unbound' % cluster.ns not in ports
    assert 'ovn' not in cluster.annotation('hostnet') and 'ovn' not in cluster.annotation('unbound')
    # Deleted pods lose their ports; a pod re-created under an old name gets a port again and no
    # live pod shares an address.
    cluster.delete_pod('p0')
    cluster.delete_pod('p1')
    wait_for('ports of deleted pods to go', lambda: set(_ns_ports(cluster)) == set(
        '%s_p%d' % (cluster.ns, i) for i in range(2, 6)))
    cluster.pod('p0', a)
    node_of['p0'] = a
    del node_of['p1']
    cluster.wait_annotated(['p0'])
    ips2 = _check_ports(cluster, list(node_of), node_of)
    # Address reuse (case 8 of issue 23): p1's address, freed on a, is not the next one handed
    # out there (p0 would inherit what still names p1 in policies and load balancers).
    assert ips2['p0'] != ips['p1'], (ips, ips2)
    for name in ('p2', 'p3', 'p4', 'p5'):
        assert ips2[name] == ips[name], 'pod %s was renumbered' % name
    # Health and metrics.
    assert w.get('/healthz')[0] == 200
    status, text = w.get('/metrics')
    assert status == 200 and 'ovn_k8s_watcher_events_total{kind="pod",result="ok"}' in text
    assert 'ovn_k8s_watcher_pod_annotation_latency_seconds_count' in text
    assert w.metric('pod_port_latency_seconds_count') >= 7
    assert w.metric('queue_depth') == 0
    # The API token is in the kubeconfig; it must never reach the log.
    assert w.terminate() == 0, w.tail()
    token_like = [line for line in open(cluster.kube.kubeconfig) if 'token' in line or 'client-key-data' in line]
    log = w.log_text()
    for line in token_like:
        secret = line.split(':', 1)[1].strip()
        assert secret and secret not in log
    for line in log.splitlines():
        json.loads(line)  # structured: one JSON object per line


def test_restart_in_step_writes_nothing_and_kill_mid_burst(cluster):
    a, b = cluster.node('a'), cluster.node('b')
    w = cluster.watcher('first')
    w.wait_leading()
    node_of = {}
    for i in range(8):
        node_of['p%d' % i] = a if i % 2 else b
        cluster.pod('p%d' % i, node_of['p%d' % i])
    cluster.wait_annotated(list(node_of))
    ips = _check_ports(cluster, list(node_of), node_of)
    assert w.terminate() == 0, 'SIGTERM must stop the watcher cleanly:\n' + w.tail()

    # A restart over a cluster in step: zero Northbound transactions and zero API writes.
    txns = cluster.nb.transactions()
    versions = dict((p.metadata.name, p.metadata.resource_version) for p in cluster.core.list_namespaced_pod(cluster.ns).items)
    nodes_rv = dict((n, cluster.core.read_node(n).metadata.resource_version) for n in (a, b))
    w2 = cluster.watcher('second')
    w2.wait_leading()
    assert cluster.nb.transactions() == txns, 'a reconcile in step wrote to the Northbound database'
    assert w2.metric('nb_transactions_total') == 0
    assert w2.metric('api_writes_total', kind='annotation') == 0
    assert w2.metric('reconcile_duration_seconds_count') == 1
    assert versions == dict((p.metadata.name, p.metadata.resource_version)
                            for p in cluster.core.list_namespaced_pod(cluster.ns).items)
    assert nodes_rv == dict((n, cluster.core.read_node(n).metadata.resource_version) for n in (a, b))

    # kill -9 during a burst of creations, then a third instance finishes the job: every pod has
    # exactly one port, addresses are distinct and nobody was renumbered.
    for i in range(8, 40):
        node_of['p%d' % i] = a if i % 2 else b
        cluster.pod('p%d' % i, node_of['p%d' % i])
        if i == 12:
            w2.proc.send_signal(signal.SIGKILL)
    w2.proc.wait()
    # A stale port of a pod deleted while no watcher ran must go at start-up.
    cluster.delete_pod('p3')
    del node_of['p3']
    w3 = cluster.watcher('third')
    w3.wait_leading(timeout=90)
    cluster.wait_annotated(list(node_of))
    ips3 = _check_ports(cluster, list(node_of), node_of)
    assert set(_ns_ports(cluster)) == set('%s_%s' % (cluster.ns, n) for n in node_of)
    for name in ips:
        if name in ips3:
            assert ips3[name] == ips[name], 'pod %s was renumbered' % name


def test_watch_expiry_apiserver_and_nb_restart(cluster):
    a = cluster.node('a')
    w = cluster.watcher()
    w.wait_leading()
    cluster.pod('before', a)
    cluster.wait_annotated(['before'])
    # 410 Gone: the watcher lists again and goes on.
    cluster.kube.expire_watches()
    cluster.pod('after-expiry', a)
    cluster.wait_annotated(['after-expiry'], timeout=90)
    wait_for('a relist after 410', lambda: w.metric('relists_total', kind='pod') >= 2, timeout=60)
    # The API server restarts.
    cluster.kube.restart_apiserver()
    cluster.pod('after-restart', a)
    cluster.wait_annotated(['after-restart'], timeout=90)
    # The Northbound database goes away for a while and comes back.
    cluster.nb.server.stop(wait=True)
    cluster.pod('during-nb-outage', a)
    cluster.delete_pod('before')
    import time
    time.sleep(2)
    cluster.nb.server.start()
    cluster.wait_annotated(['during-nb-outage'], timeout=90)
    names = ['after-expiry', 'after-restart', 'during-nb-outage']
    wait_for('the deleted pod\'s port to go', lambda: '%s_before' % cluster.ns not in _ns_ports(cluster), timeout=60)
    _check_ports(cluster, names, dict((n, a) for n in names))
    assert w.proc.poll() is None


def test_leader_failover(cluster):
    a = cluster.node('a')
    one = cluster.watcher('one')
    one.wait_leading()
    two = cluster.watcher('two')
    wait_for('the second instance to stand by', lambda: two.get('/readyz') == (200, 'standby\n'), timeout=60)
    cluster.pod('p1', a)
    cluster.wait_annotated(['p1'])
    assert two.metric('leader') == 0 and one.metric('leader') == 1
    one.proc.send_signal(signal.SIGKILL)
    one.proc.wait()
    cluster.pod('p2', a)
    two.wait_leading(timeout=60)
    cluster.wait_annotated(['p2'])
    _check_ports(cluster, ['p1', 'p2'], {'p1': a, 'p2': a})
    lease = cluster.kube.api_client()
    from kubernetes import client
    spec = client.CoordinationV1Api(lease).read_namespaced_lease(cluster.lease, 'default').spec
    assert spec.holder_identity == 'two' and spec.lease_transitions >= 1
    # A clean stop hands the lease over at once.
    three = cluster.watcher('three')
    wait_for('standby', lambda: three.get('/readyz') == (200, 'standby\n'), timeout=60)
    assert two.terminate() == 0
    three.wait_leading(timeout=20)


def test_bad_input(cluster):
    a = cluster.node('a')
    w = cluster.watcher(extra=['--host-prefix', '29'])
    w.wait_leading()
    # A pod on a node that does not exist: an Event, nothing in the database.
    cluster.pod('lost', 'no-such-node-%s' % cluster.tag)
    ev = wait_for('an UnknownNode event', lambda: [e for e in cluster.events('lost') if e.reason == 'UnknownNode'])
    assert 'no-such-node' in ev[0].message and ev[0].type == 'Warning'
    # A malformed annotation left by someone else: reported, left as it is, no port.
    cluster.pod('garbled', a, annotations={'ovn': '{"ip_address": "not an ip"'})
    ev = wait_for('a MalformedAnnotation event', lambda: [e for e in cluster.events('garbled') if e.reason == 'MalformedAnnotation'])
    assert 'garbled' in ev[0].message
    assert cluster.annotation('garbled')['ovn'] == '{"ip_address": "not an ip"'
    # An annotation that names an address outside the node's subnet.
    cluster.pod('foreign', a, annotations=annotation.PodNetwork('10.200.0.5/24', '0a:58:0a:c8:00:05', '10.200.0.1').annotations())
    wait_for('an AnnotationConflict event', lambda: [e for e in cluster.events('foreign') if e.reason == 'AnnotationConflict'])
    # An address of the node's subnet with a MAC that is not the one the watcher derives from it.
    base = cluster.nb.ctl('get', 'Logical_Switch', a, 'other_config:subnet').strip('"').split('/')[0].rsplit('.', 1)
    ip, gateway = '%s.%d' % (base[0], int(base[1]) + 3), '%s.%d' % (base[0], int(base[1]) + 1)
    cluster.pod('other-mac', a, annotations=annotation.PodNetwork(ip + '/29', '0a:58:0a:c8:00:05', gateway).annotations())
    ev = wait_for('an AnnotationConflict event for another MAC',
                  lambda: [e for e in cluster.events('other-mac') if e.reason == 'AnnotationConflict'])
    assert '0a:58:0a:c8:00:05' in ev[0].message, ev[0].message
    assert '%s_other-mac' % cluster.ns not in cluster.nb.pod_ports()
    # A port of the pod's name that someone else made on another switch: reported, left alone.
    cluster.nb.ctl('ls-add', 'squat-%s' % cluster.tag, '--', 'lsp-add', 'squat-%s' % cluster.tag, '%s_squatter' % cluster.ns)
    cluster.pod('squatter', a)
    ev = wait_for('a PortConflict event', lambda: [e for e in cluster.events('squatter') if e.reason == 'PortConflict'])
    assert 'squat-%s' % cluster.tag in ev[0].message, ev[0].message
    assert 'ovn' not in cluster.annotation('squatter')
    # A /29 holds four pods (network, router, management and broadcast addresses are taken).
    names = ['p%d' % i for i in range(5)]
    for n in names:
        cluster.pod(n, a)
    ev = wait_for('a SubnetExhausted event', lambda: [e for e in cluster.events() if e.reason == 'SubnetExhausted'])
    full = ev[0].involved_object.name
    served = [n for n in names if n != full]
    cluster.wait_annotated(served)
    _check_ports(cluster, served, dict((n, a) for n in served))
    assert set(_ns_ports(cluster)) == set('%s_%s' % (cluster.ns, n) for n in served)
    # Freeing an address lets the waiting pod in (it is retried with backoff).
    cluster.delete_pod(served[0])
    cluster.wait_annotated([full], timeout=60)
    # The watcher went on through all of it.
    assert w.proc.poll() is None
    assert w.metric('events_total', kind='pod', result='invalid') >= 3
    logs = w.log_text()
    assert 'UnknownNode' in logs and 'lost' in logs
    assert os.path.exists(w.log_path)


def test_node_deleted_and_added(cluster):
    a = cluster.node('a')
    w = cluster.watcher()
    w.wait_leading()
    cluster.pod('p1', a)
    cluster.wait_annotated(['p1'])
    subnet = _subnet(cluster.nb, a)
    assert '%s_p1' % cluster.ns in _ns_ports(cluster)
    # The Node goes: its pods' ports, its switch, its router port and management port go.
    cluster.core.delete_node(a)
    cluster.nodes.remove(a)

    def gone():
        switches = set(r['name'] for r in cluster.nb.rows('Logical_Switch', 'name'))
        lrps = set(r['name'] for r in cluster.nb.rows('Logical_Router_Port', 'name'))
        lsps = set(r['name'] for r in cluster.nb.rows('Logical_Switch_Port', 'name'))
        return (a not in switches and 'rtos-' + a not in lrps and 'k8s-' + a not in lsps
                and '%s_p1' % cluster.ns not in lsps)
    wait_for('node %s network to go' % a, gone)
    # A Node that appears gets a network, and its subnet is the lowest free one again.
    c = cluster.node('c')
    wait_for('node %s switch' % c, lambda: c in set(r['name'] for r in cluster.nb.rows('Logical_Switch', 'name')))
    assert _subnet(cluster.nb, c) == subnet
    cluster.pod('p2', c)
    cluster.wait_annotated(['p2'])
    _check_ports(cluster, ['p2'], {'p2': c})


# Two logical switch ports per node (router port, management port) and room for one pod.
@pytest.mark.parametrize('nb', [{'Logical_Switch_Port': 3}], indirect=True, ids=['three-ports'])
def test_nb_refuses_a_transaction(cluster):
    """The database refuses a pod's port (a constraint violation the watcher cannot foresee):
    the pod is reported by name and retried with backoff, gets no annotation meanwhile, and
    the other pods go on; once the database accepts it, it is served."""
    a = cluster.node('a')
    w = cluster.watcher()
    w.wait_leading()
    wait_for('the node network', lambda: a in [r['name'] for r in cluster.nb.rows('Logical_Switch', 'name')])
    cluster.pod('first', a)
    cluster.wait_annotated(['first'])
    cluster.pod('second', a)
    ev = wait_for('a NorthboundRefused event', lambda: [e for e in cluster.events('second') if e.reason == 'NorthboundRefused'])
    assert ev[0].type == 'Warning'
    assert ('pod %s/second' % cluster.ns) in ev[0].message and 'constraint violation' in ev[0].message, ev[0].message
    # Retried with backoff: several failures, each logged with the pod's name and a growing delay.
    wait_for('three failed attempts', lambda: w.metric('events_total', kind='pod', result='failed') >= 3, timeout=30)
    lines = [json.loads(line) for line in w.log_text().splitlines() if line.startswith('{')]
    tries = [t for t in lines if t['msg'] == 'failed' and t.get('object') == '%s/second' % cluster.ns]
    assert len(tries) >= 3, tries
    assert all('constraint violation' in t['reason'] for t in tries), tries
    delays = [t['retry_in'] for t in tries]
    assert delays == sorted(delays) and delays[-1] > delays[0], delays
    # Never annotated with an address that was not committed, and no port for it.
    assert 'ovn' not in cluster.annotation('second')
    assert annotation.MODERN_KEY not in cluster.annotation('second')
    assert set(_ns_ports(cluster)) == set(['%s_first' % cluster.ns])
    first = _check_ports(cluster, ['first'], {'first': a})
    # A freed row lets it in on a later retry; the first pod's freed address is not the one it
    # gets (round robin: case 8 of issue 23).
    cluster.delete_pod('first')
    cluster.wait_annotated(['second'], timeout=60)
    second = _check_ports(cluster, ['second'], {'second': a})
    assert set(_ns_ports(cluster)) == set(['%s_second' % cluster.ns])
    assert second['second'] != first['first']
    assert w.proc.poll() is None


def test_transient_conflict_with_a_stale_port_is_retried(cluster):
    """Case 9 of issue 23: at start-up, a pod's annotation names the address of a port whose pod
    is gone (the sweep removes it in the same pass). The pod is retried once that port is gone
    and keeps its address, instead of waiting for its next event."""
    a = cluster.node('a')
    w = cluster.watcher()
    w.wait_leading()
    wait_for('the node switch', lambda: a in [r['name'] for r in cluster.nb.rows('Logical_Switch', 'name')])
    assert w.terminate() == 0, w.tail()
    subnet = ipaddress.ip_network(_subnet(cluster.nb, a))
    ip = subnet.network_address + 7
    mac = '0a:58:' + ':'.join('%02x' % b for b in ip.packed)
    stale = '%s_gone' % cluster.ns
    cluster.nb.ctl('lsp-add', a, stale, '--', 'lsp-set-addresses', stale, '%s %s' % (mac, ip),
                   '--', 'set', 'Logical_Switch_Port', stale, 'external_ids:ovn-k8s-watcher=pod',
                   'external_ids:namespace=%s' % cluster.ns, 'external_ids:pod=gone')
    notes = annotation.PodNetwork('%s/%d' % (ip, subnet.prefixlen), mac, subnet.network_address + 1).annotations()
    cluster.pod('heir', a, annotations=notes)
    cluster.watcher('second')
    wait_for('the heir to get its port with its address',
             lambda: cluster.nb.pod_ports().get('%s_heir' % cluster.ns, {}).get('addresses') == ['%s %s' % (mac, ip)]
             and stale not in cluster.nb.pod_ports(), timeout=60)
