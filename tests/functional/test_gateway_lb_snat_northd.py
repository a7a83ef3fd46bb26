# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NodePorts with several gateways (issue 21, item 3), compiled by a real ovn-northd and walked
with ovn-trace: both gateway routers have ``lb_force_snat_ip=router_ip``, as the ovn_gateway
role now sets on every gateway router, and the watcher's per-node load balancers of
``externalTrafficPolicy: Local`` services carry ``skip_snat``.

- a NodePort (cluster policy) reached at node1's gateway whose endpoint runs on node2 (whose
  pods leave through node2's gateway) is SNATed to GR_node1's join address, so the reply comes
  back through node1;
- an ``externalTrafficPolicy: Local`` NodePort keeps the client's address at the gateway whose
  node runs the endpoint (skip_snat).

OVN 23.03 compiles a VIP without backends on a gateway router with lb_force_snat_ip into
``flags.force_snat_for_lb = 1; drop;``, which its own parser refuses (node2's Local VIPs here):
the traces tolerate that one warning and no other.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess

import pytest

from conftest import have, nbctl
import test_service_semantics_northd as semantics
from test_service_semantics_northd import CLIENT, GATEWAYS, delivered_to, ready
from test_nb_services_northd import pod_ip

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _nb, _nb_lb  # noqa: E402
from ovn_k8s_agents import services  # noqa: E402

pytestmark = pytest.mark.skipif(not have('ovn-northd') or not have('ovn-trace'), reason='needs ovn-northd and ovn-trace')
northd = semantics.northd

# A NodePort service of cluster policy whose only endpoint, y/a, runs on node2.
CLUSTER_NP = ({'metadata': {'namespace': 'y', 'name': 'np'},
               'spec': {'type': 'NodePort', 'clusterIP': '10.96.0.30', 'clusterIPs': ['10.96.0.30'],
                        'ports': [{'name': 'http', 'port': 80, 'protocol': 'TCP', 'targetPort': 'http',
                                   'nodePort': 30090}]}},
              [{'addressType': 'IPv4', 'metadata': {'namespace': 'y', 'name': 'np-1',
                                                    'labels': {'kubernetes.io/service-name': 'np'}},
                'ports': [{'name': 'http', 'port': 8080, 'protocol': 'TCP'}], 'endpoints': [ready('y', 'a')]}])


KNOWN = 'flags.force_snat_for_lb = 1; drop;: parsing actions failed'


def from_outside(db, node, dst, dport):
    """ovn-trace of a new TCP connection from the external client through node's gateway;
    every logical flow parses but the known one."""
    gw_ip, gw_mac = GATEWAYS[node]
    flow = ('inport == "%s" && eth.src == %s && eth.dst == %s && ip4.src == %s && ip4.dst == %s && ip.ttl == 64 '
            '&& tcp.src == 40000 && tcp.dst == %d'
            % (_names.gateway_names(node)['localnet'], CLIENT[1], gw_mac, CLIENT[0], dst, dport))
    text = subprocess.check_output(['ovn-trace', '--db=' + db['sb']] + ['--ct=new'] * 4
                                   + [_names.gateway_names(node)['ext'], flow],
                                   universal_newlines=True, stderr=subprocess.STDOUT)
    failed = [line for line in text.splitlines() if 'parsing actions failed' in line or 'Syntax error' in line]
    assert all(KNOWN in line for line in failed), failed
    return '\n'.join(line for line in text.splitlines() if line not in failed)


def cluster_nodeport(cs, client):
    gws = dict((node, [ip]) for node, (ip, _mac) in GATEWAYS.items())
    service, slices = CLUSTER_NP
    for lb in services.service_load_balancers(service, slices, gws, sorted(semantics.NODES))['load_balancers']:
        _nb_lb.ensure_load_balancer(cs, client, lb['name'], lb['vips'], lb['protocol'], options=lb['options'],
                                    external_ids=lb['external_ids'], groups=lb['groups'])


@pytest.fixture
def forced(northd):
    semantics.run(northd['nb'], semantics.base.topology)
    semantics.run(northd['nb'], semantics.gateways)
    semantics.run(northd['nb'], semantics.program, cluster_nodeport)
    for node in GATEWAYS:
        nbctl(northd['nb'], 'set', 'Logical_Router', 'GR_' + node, 'options:lb_force_snat_ip=router_ip')
    nbctl(northd['nb'], '--wait=sb', '--timeout=30', 'sync')
    with open(northd['log']) as f:
        log = f.read()
    assert 'error' not in log.lower() and 'syntax' not in log.lower(), log
    return northd


def test_a_node_port_is_snated_to_the_join_address_of_the_gateway_that_received_it(forced):
    names = _nb.gateway_names('node1')
    gr_join = nbctl(forced['nb'], 'get', 'Logical_Router_Port', names['gr_join_port'], 'networks')
    address = gr_join.strip('[]"').split('/', maxsplit=1)[0]
    node1_ip = GATEWAYS['node1'][0]
    text = from_outside(forced, 'node1', node1_ip, 30090)
    assert delivered_to(text) == ['y_a'], text
    assert 'ct_lb_mark(backends=%s:8080; force_snat)' % pod_ip('y', 'a') in text, text
    # The SNAT itself happens in the router's egress (ovn-trace does not carry the flag that far):
    # to the join address on the way to the cluster router.
    flows = subprocess.check_output(['ovn-sbctl', '--db=' + forced['sb'], 'lflow-list', 'GR_node1'],
                                    universal_newlines=True)
    assert ('match=(flags.force_snat_for_lb == 1 && ip4 && outport == "%s"), action=(ct_snat(%s);)'
            % (names['gr_join_port'], address)) in flows, flows
    assert ('ip4.dst == %s && tcp && tcp.dst == 30090), action=(flags.force_snat_for_lb = 1; ct_lb_mark(' % node1_ip
            in flows), flows


def test_external_traffic_policy_local_keeps_the_client_despite_lb_force_snat_ip(forced):
    text = from_outside(forced, 'node1', GATEWAYS['node1'][0], 30080)
    assert delivered_to(text) == ['x_a'], text
    assert 'flags.skip_snat_for_lb = 1' in text, text
    assert 'ct_snat' not in text and 'force_snat_for_lb = 1' not in text, text
