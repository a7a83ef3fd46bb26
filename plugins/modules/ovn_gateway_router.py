#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_gateway_router
short_description: Create or remove a node's OVN gateway router for north-south traffic
version_added: 0.1.0
description:
  - One call creates or converges everything a gateway node needs in the OVN Northbound database,
    as C(ovn-k8s-overlay gateway-init) did, in one transaction
  - The gateway router C(GR_<node>) bound to the gateway chassis (C(options:chassis)).
  - A join switch C(join_<node>) linking it to the cluster router through C(rtoj-<node>) (first
    address of the join subnet) and C(rtoj-GR_<node>) (second address). The join subnet is
    O(join_subnet) when given, else the one the gateway already has, else the lowest free
    C(/join_prefix) of O(join_range).
  - An external switch C(ext_<node>) with a localnet port C(lnet-<node>) (C(options:network_name))
    and the router's external port C(rtoe-GR_<node>) with the physical IP and MAC.
  - On the gateway router, a default route via O(default_gateway) and routes back to each cluster
    subnet via the cluster router; SNAT of the cluster subnets (or only O(rampout_subnets)) to the
    physical IP.
  - On the cluster router, a default route to this gateway, or with O(rampout_subnets) one
    source-IP route per rampout subnet, so that several gateways can share the cluster.
  - A re-run never adds a second route or NAT rule; stale routes and NAT rules that this gateway
    made are removed. O(state=absent) removes all of the above and nothing else.
  - The cluster router must exist. Objects are tagged with C(external_ids:ovn-k8s-gateway=<node>).
  - What the run read of the shared cluster router (its routes and ports) and the names it creates
    are checked again when it commits, so two gateways converging at the same time cannot both take
    the default route or one join subnet; the run that loses plans again from the new state.
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  node:
    description: Name of the gateway node; it names every object made.
    type: str
    required: true
  state:
    description: Whether the gateway should exist.
    type: str
    choices: [present, absent]
    default: present
  chassis:
    description:
      - The gateway chassis name, the node's C(external_ids:system-id) in its Open vSwitch database.
      - Required with O(state=present).
    type: str
  physical_ip:
    description:
      - The gateway router's address on the external network, with its prefix length, such as
        V(172.16.0.10/24). External hosts see pod traffic with this source address.
      - Required with O(state=present).
    type: str
  physical_mac:
    description: MAC address of the gateway router's external port. Required with O(state=present).
    type: str
  default_gateway:
    description: The next hop for traffic leaving the cluster, inside the external network. Required with O(state=present).
    type: str
  cluster_router:
    description: Name of the cluster-wide logical router.
    type: str
    default: ovn_cluster_router
  cluster_subnets:
    description: The cluster's pod networks, such as V(10.128.0.0/14). Required with O(state=present).
    type: list
    elements: str
  rampout_subnets:
    description:
      - Pod subnets (inside O(cluster_subnets)) that leave through this gateway. When given, only
        they are SNATed and the cluster router gets source-IP routes for them instead of a default route.
    type: list
    elements: str
    default: []
  join_subnet:
    description:
      - A small IPv4 network (/30 or larger) of this gateway's own for the link between the cluster
        router and the gateway router, such as V(100.64.0.8/29).
      - A subnet that overlaps a network of another port of the cluster router (another gateway's join
        subnet, a node subnet) is an error naming that port.
      - Omit it to keep the gateway's current join subnet or, for a new gateway, to allocate the lowest
        free one from O(join_range).
    type: str
  join_range:
    description: The IPv4 range join subnets are allocated from when O(join_subnet) is omitted.
    type: str
    default: 100.64.0.0/16
  join_prefix:
    description: Prefix length of an allocated join subnet (between the length of O(join_range) and 30).
    type: int
    default: 29
  network_name:
    description: The localnet network name; each chassis maps it to a bridge with C(ovn-bridge-mappings).
    type: str
    default: physnet
  snat_port_range:
    description:
      - The source ports the SNAT of the pods picks from (C(NAT.external_port_range)), for a gateway router
        that shares the host's own address (the C(ovn_gateway) role's shared-IP mode), so that it never
        takes a port of one of the host's own connections.
      - V(auto) is the larger part of 1024-65535 outside the ephemeral ports of the host the module runs
        on (C(/proc/sys/net/ipv4/ip_local_port_range); 1024-32767 with Linux's default 32768-60999).
      - A range V(LO-HI) that overlaps the host's ephemeral ports is refused, and so is V(auto) when they
        leave fewer than 1024 ports.
      - Empty (the default) for none, as a gateway router with an address of its own needs.
    type: str
    default: ''
    version_added: 0.1.0
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: Gateway router on node2, sharing its NIC breth0 (bridge mapping physnet:breth0)
  ovn_k8s.overlay.ovn_gateway_router:
    remote: tcp:192.0.2.10:6641
    node: node2
    chassis: 1c0f4ba2-5b1f-4b6e-9a31-6e7e3f5d9a10
    physical_ip: 172.16.0.20/24
    physical_mac: 0a:58:ac:10:00:14
    default_gateway: 172.16.0.1
    cluster_subnets: [10.128.0.0/14]
    join_subnet: 100.64.0.8/29

- name: A second gateway that carries only one node's pods
  ovn_k8s.overlay.ovn_gateway_router:
    node: node3
    chassis: 7d2c9e31-0a4f-4c55-8b1e-2f6a9d8c3b27
    physical_ip: 172.16.0.30/24
    physical_mac: 0a:58:ac:10:00:1e
    default_gateway: 172.16.0.1
    cluster_subnets: [10.128.0.0/14]
    rampout_subnets: [10.128.3.0/24]

- name: Remove node3's gateway
  ovn_k8s.overlay.ovn_gateway_router:
    node: node3
    state: absent
'''

RETURN = r'''
router:
  description: Name of the gateway router.
  returned: state is present
  type: str
  sample: GR_node2
join_ip:
  description: The gateway router's address on the join network.
  returned: state is present
  type: str
  sample: 100.64.0.10
join_subnet:
  description: The join subnet in use (given, kept or allocated).
  returned: state is present
  type: str
  sample: 100.64.0.8/29
snat_port_range:
  description: The SNAT's port range set on the gateway router's NAT rules (empty for none).
  returned: state is present
  type: str
  sample: 1024-32767
cluster_router_join_ip:
  description: The cluster router's address on the join network.
  returned: state is present
  type: str
  sample: 100.64.0.9
join_switch:
  description: Name of the join switch.
  returned: state is present
  type: str
  sample: join_node2
external_switch:
  description: Name of the external switch.
  returned: state is present
  type: str
  sample: ext_node2
diff:
  description: Every object changed, before and after, keyed by table and name.
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _nb
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import NB_DB

LOCAL_PORT_RANGE = '/proc/sys/net/ipv4/ip_local_port_range'


def host_port_range(path=LOCAL_PORT_RANGE):
    """(first, last) ephemeral port of this host, None when it cannot be read."""
    try:
        with open(path) as f:
            first, last = (int(word) for word in f.read().split())
        return first, last
    except (OSError, ValueError):
        return None


def main():
    module = OvsdbModule(NB_DB, dict(
        node=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        chassis=dict(type='str'),
        physical_ip=dict(type='str'),
        physical_mac=dict(type='str'),
        default_gateway=dict(type='str'),
        cluster_router=dict(type='str', default=_names.CLUSTER_ROUTER),
        cluster_subnets=dict(type='list', elements='str'),
        rampout_subnets=dict(type='list', elements='str', default=[]),
        join_subnet=dict(type='str'),
        join_range=dict(type='str', default=_nb.JOIN_RANGE),
        join_prefix=dict(type='int', default=_nb.JOIN_PREFIX),
        network_name=dict(type='str', default='physnet'),
        snat_port_range=dict(type='str', default=''),
    ), required_if=[('state', 'present', ['chassis', 'physical_ip', 'physical_mac',
                                          'default_gateway', 'cluster_subnets'])])
    p = module.params

    def plan(cs, client):
        if p['state'] == 'absent':
            _nb.remove_gateway_router(cs, client, p['node'], cluster_router=p['cluster_router'])
            return {}
        port_range = _nb.snat_port_range(p['snat_port_range'], host_port_range(),
                                         'gateway router GR_%s' % p['node'])
        return dict(_nb.ensure_gateway_router(
            cs, client, p['node'], p['chassis'], p['physical_ip'], p['physical_mac'],
            p['default_gateway'], p['cluster_subnets'], join_subnet=p['join_subnet'] or None,
            cluster_router=p['cluster_router'], rampout_subnets=p['rampout_subnets'],
            network_name=p['network_name'], join_range=p['join_range'],
            join_prefix=p['join_prefix'], snat_port_range=port_range), snat_port_range=port_range)

    module.run(_nb.GATEWAY_TABLES, plan)


if __name__ == '__main__':
    main()
