# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure translations and the CNI plugin spell no name or key of their own: each comes from
the collection's vocabulary (plugins/module_utils/_names.py), and the values are those the
cluster already holds (a changed spelling would orphan every row of a running cluster)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

# agents/ is not installed: the tests import it from the checkout (it finds the collection core).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'agents'))

from ovn_k8s_agents import annotation, policy, services  # noqa: E402
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names  # noqa: E402


def test_translations_take_their_names_from_the_vocabulary():
    assert policy.OWNER_KEY is _names.OWNER_KEY and services.OWNER_KEY is _names.OWNER_KEY
    assert policy.KIND_KEY is _names.KIND_KEY and services.KIND_KEY is _names.KIND_KEY
    assert services.NODE_KEY is _names.LB_NODE_KEY
    assert policy.HAIRPIN_SOURCE is services.HAIRPIN_SNAT_IP is _names.HAIRPIN_SNAT_IP
    for name in ('policy_port_group', 'deny_port_group', 'node_port_group', 'rule_address_set',
                 'named_port_address_set', 'pod_port'):
        assert getattr(policy, name) is getattr(_names, name), name
    for name in ('load_balancer_name', 'switch_load_balancer_name', 'node_switch_load_balancer_name',
                 'node_router_load_balancer_name', 'node_switch_lb_group', 'node_router_lb_group'):
        assert getattr(services, name) is getattr(_names, name), name
    assert (annotation.LEGACY_KEY, annotation.MODERN_KEY) == (_names.LEGACY_POD_ANNOTATION, _names.POD_NETWORKS_ANNOTATION)


def test_the_spellings_a_running_cluster_holds():
    assert (_names.WATCHER_KEY, _names.WATCHER_NODE, _names.WATCHER_POD) == ('ovn-k8s-watcher', 'node', 'pod')
    assert (_names.NODE_KEY, _names.GATEWAY_KEY) == ('k8s-node', 'ovn-k8s-gateway')
    assert (_names.OWNER_KEY, _names.KIND_KEY, _names.LB_NODE_KEY) == (
        'k8s.ovn.org/owner', 'k8s.ovn.org/kind', 'k8s.ovn.org/node')
    assert (_names.POD_NAMESPACE_KEY, _names.POD_NAME_KEY, _names.POD_UID_KEY) == ('namespace', 'pod', 'pod-uid')
    assert (_names.CNI_OWNER_KEY, _names.CNI_PLUGIN, _names.CNI_SANDBOX_KEY, _names.CNI_IFNAME_KEY,
            _names.CNI_POD_UID_KEY) == ('owner', 'ovn-k8s-cni-overlay', 'sandbox', 'cni_ifname', 'k8s_pod_uid')
    assert _names.load_balancer_name('ns', 'web', 'tcp') == 'Service_ns/web_TCP'
    assert _names.node_router_load_balancer_name('ns', 'web', 'UDP', 'n1') == 'Service_ns/web_UDP_node_router_n1'
    assert (_names.LB_GROUP, _names.SWITCH_LB_GROUP) == ('clusterLBGroup', 'clusterSwitchLBGroup')
    assert _names.node_switch_lb_group('n1') == 'nodeSwitchLBGroup_n1'
    assert _names.policy_port_group('default', 'web') == 'np_' + _names._digest('default', 'web')
    assert _names.deny_port_group('default', 'Ingress').startswith('npdeny_ingress_')
    assert len(_names.node_port_group('n1')) == len('npnode_') + 20
    assert _names.MGMT_ADDRESS_SET == 'ovnk8s_mgmt_port_ips'
    assert services.lb_groups(['n1'], ['n2']) == {
        'clusterLBGroup': [('Logical_Switch', 'n1'), ('Logical_Router', 'GR_n2')],
        'clusterSwitchLBGroup': [('Logical_Switch', 'n1')],
        'nodeSwitchLBGroup_n1': [('Logical_Switch', 'n1')],
        'nodeRouterLBGroup_n2': [('Logical_Router', 'GR_n2')]}
