# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 23, cases 2, 3 and 4, compiled by a real ovn-northd and walked with ovn-trace: the
load balancers ovn_k8s_agents.services asks for, in the groups and on the switches and gateway
routers the watcher puts them (services.lb_groups), over two real gateways as the
ovn_gateway role builds them (ensure_gateway_router: join and external switches, localnet
port, SNAT of the pod subnets, a source route per node subnet).

- case 2: a service whose only endpoint is serving and terminating delivers to it;
- case 3: externalTrafficPolicy Local: a node port, an external IP and a load balancer
  ingress IP reached from outside at node1's gateway reach node1's endpoint with the
  client's address (no SNAT on the way); at node2's gateway,
  where no endpoint runs, they are dropped (not rejected); from a pod they reach the endpoint
  through the pod's own switch;
- case 4: internalTrafficPolicy Local: each node switch balances the cluster IP to its own
  node's endpoints; node3, which has none, drops.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess

import pytest

from conftest import have, nbctl
import test_nb_services_northd as base
from test_nb_services_northd import NODES, PODS, TABLES, endpoint, pod_ip

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _nb, _nb_lb, _ovsdb, _txn  # noqa: E402
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import merge_tables  # noqa: E402
from ovn_k8s_agents import services  # noqa: E402

northd = base.northd  # the fixture: NB and SB ovsdb-servers and an ovn-northd between them

pytestmark = pytest.mark.skipif(not have('ovn-northd') or not have('ovn-trace'), reason='needs ovn-northd and ovn-trace')

GATEWAYS = {'node1': ('172.18.0.11', '02:00:00:00:00:01'), 'node2': ('172.18.0.12', '02:00:00:00:00:02')}
CLIENT = ('172.18.0.99', '02:00:00:00:99:99')  # a host on the external network
EXTERNAL_IP, INGRESS_IP = '192.168.50.100', '192.168.60.1'


def ready(ns, name, **conditions):
    state = dict(ready=True, serving=True, terminating=False)
    state.update(conditions)
    return {'addresses': [pod_ip(ns, name)], 'nodeName': endpoint('%s/%s' % (ns, name))['node'], 'conditions': state}


def eps(service, *endpoints):
    return [{'addressType': 'IPv4', 'metadata': {'namespace': 'x', 'name': service + '-1',
                                                 'labels': {'kubernetes.io/service-name': service}},
             'ports': [{'name': 'http', 'port': 8080, 'protocol': 'TCP'}], 'endpoints': list(endpoints)}]


def svc(name, cluster_ip, **spec):
    spec.update(clusterIP=cluster_ip, clusterIPs=[cluster_ip],
                ports=[{'name': 'http', 'port': 80, 'protocol': 'TCP', 'targetPort': 'http', 'nodePort': 30080}])
    return {'metadata': {'namespace': 'x', 'name': name}, 'spec': spec}


ETP = svc('etp', '10.96.0.20', type='LoadBalancer', externalTrafficPolicy='Local', externalIPs=[EXTERNAL_IP])
ETP['status'] = {'loadBalancer': {'ingress': [{'ip': INGRESS_IP}]}}
SERVICES = [
    # Case 2: the only endpoint is serving and terminating (a one-replica rollout).
    (svc('rollout', '10.96.0.22'), eps('rollout', ready('z', 'a', ready=False, terminating=True))),
    # Case 3: the only endpoint is x/a, on node1.
    (ETP, eps('etp', ready('x', 'a'))),
    # Case 4: endpoints on node1 and node2, none on node3.
    (svc('itp', '10.96.0.21', internalTrafficPolicy='Local'), eps('itp', ready('x', 'a'), ready('y', 'a'))),
]


def gateways(cs, client):
    # Two gateways: each takes its own node's pod subnet out (a source route per subnet).
    for node, (ip, mac) in sorted(GATEWAYS.items()):
        _nb.ensure_gateway_router(cs, client, node, 'chassis-' + node, ip + '/24', mac, '172.18.0.1',
                                  ['10.128.0.0/14'], rampout_subnets=[NODES[node]])


def program(cs, client):
    """What the watcher's service handler does: translate, then the groups where
    services.lb_groups puts them, then the load balancers."""
    gws = dict((node, [ip]) for node, (ip, _mac) in GATEWAYS.items())
    nodes = sorted(NODES)
    for group, holders in sorted(services.lb_groups(nodes, gws).items()):
        _nb_lb.ensure_lb_group(cs, client, group)
        for table, holder in holders:
            _nb_lb.ensure_lb_group_attached(cs, client, table, holder, group)
    for service, slices in SERVICES:
        out = services.service_load_balancers(service, slices, gws, nodes)
        assert out['warnings'] == [w for w in out['warnings'] if 'type LoadBalancer' in w]
        for lb in out['load_balancers']:
            _nb_lb.ensure_load_balancer(cs, client, lb['name'], lb['vips'], lb['protocol'], options=lb['options'],
                                        external_ids=lb['external_ids'], groups=lb['groups'])


def run(remote, *steps):
    with _ovsdb.Client(_ovsdb.NB_DB, remote=remote, tables=merge_tables(TABLES, _nb.GATEWAY_TABLES)) as client:
        cs = _txn.ChangeSet(client)
        for step in steps:
            step(cs, client)
        cs.commit()
        return cs


def ovn_trace(db, datapath, flow):
    """Every connection tracking lookup sees a new connection. No ``--lb-dst``: ovn-trace
    would apply it at the first ``ct_lb_mark`` without backends (the switch's pre-stateful
    stage), before and whatever the load balancer decides; every VIP here has at most one
    backend, which ovn-trace then picks itself."""
    text = subprocess.check_output(['ovn-trace', '--db=' + db['sb']] + ['--ct=new'] * 4 + [datapath, flow],
                                   universal_newlines=True, stderr=subprocess.STDOUT)
    # Every logical flow parses (ovn-controller would skip one that does not, and its VIP
    # would be lost: OVN 23.03 with skip_snat on a VIP without backends did that).
    assert 'parsing actions failed' not in text and 'Syntax error' not in text, text
    return text


def from_outside(db, node, dst, dport):
    """A new TCP connection from the external client, through node's gateway (its localnet port)."""
    gw_ip, gw_mac = GATEWAYS[node]
    flow = ('inport == "%s" && eth.src == %s && eth.dst == %s && ip4.src == %s && ip4.dst == %s && ip.ttl == 64 '
            '&& tcp.src == 40000 && tcp.dst == %d'
            % (_names.gateway_names(node)['localnet'], CLIENT[1], gw_mac, CLIENT[0], dst, dport))
    return ovn_trace(db, _names.gateway_names(node)['ext'], flow)


def from_pod(db, src, dst, dport):
    s = endpoint(src)
    flow = ('inport == "%s" && eth.src == %s && eth.dst == %s && ip4.src == %s && ip4.dst == %s && ip.ttl == 64 '
            '&& tcp.src == 40000 && tcp.dst == %d'
            % (s['lsp'], s['mac'], _nb.node_addresses(NODES[s['node']])['router_mac'], s['ip'], dst, dport))
    return ovn_trace(db, s['node'], flow)


def delivered_to(text):
    """The pods (logical ports) a trace outputs to."""
    pods = set(_names.pod_port(p['metadata']['namespace'], p['metadata']['name']) for p in PODS)
    return sorted(p for p in pods if 'output("%s")' % p in text or '/* output to "%s"' % p in text)


def dropped(text):
    """The trace ends in a plain drop: no pod gets it and nothing is sent back (no reject)."""
    return not delivered_to(text) and 'drop;' in text and 'tcp_reset' not in text and 'reject' not in text


def balanced_to(text):
    """The backends of the first ct_lb_mark action with backends in a trace."""
    for line in text.splitlines():
        if 'ct_lb_mark(backends=' in line:
            return sorted(b.split(':')[0] for b in line.split('backends=', 1)[1].split(')')[0].split(';')[0].split(','))
    return None


@pytest.fixture
def compiled(northd):
    run(northd['nb'], base.topology)  # the nodes' networks and the pods; a bare GR_node1 that gateways() completes
    run(northd['nb'], gateways)
    run(northd['nb'], program)
    nbctl(northd['nb'], '--wait=sb', '--timeout=30', 'sync')
    with open(northd['log']) as f:
        log = f.read()
    assert 'error' not in log.lower() and 'syntax' not in log.lower(), log
    return northd


def test_case2_serving_terminating_endpoint_receives_new_connections(compiled):
    text = from_pod(compiled, 'z/b', '10.96.0.22', 80)
    assert balanced_to(text) == [pod_ip('z', 'a')], text
    assert delivered_to(text) == ['z_a'], text


def test_case3_external_traffic_policy_local_keeps_the_client_and_drops_without_endpoint(compiled):
    x_a = '%s:8080' % pod_ip('x', 'a')
    node1_ip, node2_ip = GATEWAYS['node1'][0], GATEWAYS['node2'][0]
    for dst, dport in ((node1_ip, 30080), (EXTERNAL_IP, 80), (INGRESS_IP, 80)):
        # node1 runs the endpoint: delivered, the client's address kept (no SNAT anywhere on the
        # way: only the destination is rewritten, by the load balancer).
        text = from_outside(compiled, 'node1', dst, dport)
        assert delivered_to(text) == ['x_a'], (dst, text)
        assert 'ct_snat' not in text and 'ip4.src =' not in text and 'force_snat' not in text, (dst, text)
    for dst, dport in ((node2_ip, 30080), (EXTERNAL_IP, 80), (INGRESS_IP, 80)):
        # node2 does not: dropped, not rejected (an external load balancer's health check then
        # sees no answer from node2, as with kube-proxy).
        text = from_outside(compiled, 'node2', dst, dport)
        assert dropped(text), (dst, text)
    # From pods (on node1, and on node2 without a local endpoint) the same addresses reach the
    # endpoint through the pod's own switch, as kube-proxy short-circuits in-cluster traffic.
    for src in ('x/b', 'y/b'):
        for dst, dport in ((node1_ip, 30080), (node2_ip, 30080), (EXTERNAL_IP, 80), (INGRESS_IP, 80), ('10.96.0.20', 80)):
            text = from_pod(compiled, src, dst, dport)
            assert delivered_to(text) == ['x_a'], (src, dst, text)
    # The flows as compiled: each gateway router has only its own node's node port, to the
    # local endpoint on node1 and a plain drop on node2.
    gr1 = subprocess.check_output(['ovn-sbctl', '--db=' + compiled['sb'], 'lflow-list', 'GR_node1'], universal_newlines=True)
    gr2 = subprocess.check_output(['ovn-sbctl', '--db=' + compiled['sb'], 'lflow-list', 'GR_node2'], universal_newlines=True)
    # (skip_snat: the client's address is kept even where the gateway router has lb_force_snat_ip.)
    assert ('ip4.dst == %s && tcp && tcp.dst == 30080), action=(flags.skip_snat_for_lb = 1; '
            'ct_lb_mark(backends=%s; skip_snat);)' % (node1_ip, x_a)) in gr1, gr1
    assert 'ip4.dst == %s && tcp && tcp.dst == 30080), action=(drop;)' % node2_ip in gr2, gr2
    assert 'ip4.dst == %s && tcp && tcp.dst == 30080' % node2_ip not in gr1
    assert 'ip4.dst == %s && tcp && tcp.dst == 30080' % node1_ip not in gr2


def test_case4_internal_traffic_policy_local_stays_on_the_node(compiled):
    for src, local in (('x/b', 'x/a'), ('y/b', 'y/a')):
        text = from_pod(compiled, src, '10.96.0.21', 80)
        assert balanced_to(text) == [pod_ip(*local.split('/'))], (src, text)
        assert delivered_to(text) == [_names.pod_port(*local.split('/'))], (src, text)
    # node3 runs no endpoint (but the service has some): dropped, not rejected.
    text = from_pod(compiled, 'z/b', '10.96.0.21', 80)
    assert dropped(text), text
    # A node's management port (the node itself) is on its switch too: the same rule.
    text = from_pod(compiled, 'mgmt/node2', '10.96.0.21', 80)
    assert delivered_to(text) == ['y_a'], text
