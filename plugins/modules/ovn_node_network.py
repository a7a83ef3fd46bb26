#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_node_network
short_description: Create or remove a Kubernetes node's network in OVN
version_added: 0.1.0
description:
  - One call creates or converges, in one transaction, what a node needs in the OVN Northbound
    database (what C(ovn-k8s-overlay minion-init) did).
  - The node's logical switch C(<node>) with C(other_config:subnet=<subnet>) and the management
    address excluded from dynamic addressing.
  - The cluster router's port C(rtos-<node>) with the first address of the subnet and its MAC
    (C(0a:58:) and the address's four bytes), and the switch's port C(stor-<node>) to it.
  - The management port's logical switch port C(k8s-<node>) with the second address of the subnet.
    On the host, the OVS internal interface with C(external_ids:iface-id=k8s-<node>) has the fixed
    name RV(mgmt_interface) (C(ovn-k8s-mp0)), since interface names are limited to 15 bytes and
    node names are not.
  - It returns the node's addresses, so that the host side (the internal interface, its address and
    the route to the cluster range) needs no computation of its own.
  - With O(state=absent) it removes the switch (with every port on it) and the router port, which
    also frees the node's subnet for M(ovn_k8s.overlay.ovn_node_subnets). A network the watcher
    created (C(external_ids:ovn-k8s-created-by=ovn-k8s-watcher), for a Node without a switch) is the
    watcher's to remove when its Node is deleted (one owner per row, docs/design.md); the module leaves
    it, warns, and returns RV(owner).
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  node:
    description:
      - The Kubernetes node name (a DNS subdomain of at most 253 characters, such as
        V(worker-01.dc1.example.com)).
    type: str
    required: true
  subnet:
    description:
      - The node's pod subnet, an IPv4 network of V(/30) or larger such as V(10.244.1.0/24).
        Required with O(state=present). See M(ovn_k8s.overlay.ovn_node_subnets) to allocate it.
      - Giving another subnet renumbers the node's switch and ports.
    type: str
  cluster_router:
    description: The cluster router, which must already exist.
    type: str
    default: ovn_cluster_router
  state:
    description: Whether the node's network should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: The network of node worker-01.dc1.example.com
  ovn_k8s.overlay.ovn_node_network:
    remote: tcp:192.0.2.10:6641
    node: worker-01.dc1.example.com
    subnet: 10.244.1.0/24
  register: node_net

- name: The management port on the node (the fixed interface name, the logical port by node)
  ovn_k8s.overlay.ovs_port:
    bridge: br-int
    name: "{{ node_net.mgmt_interface }}"
    type: internal
    mac: "{{ node_net.mgmt_mac }}"
    external_ids:
      iface-id: "{{ node_net.mgmt_port }}"

- name: Remove the node's network
  ovn_k8s.overlay.ovn_node_network:
    node: worker-01.dc1.example.com
    state: absent
'''

RETURN = r'''
subnet:
  description: The node's subnet.
  returned: state is present
  type: str
  sample: 10.244.1.0/24
router_ip:
  description: The cluster router's address on the node's subnet (the first one).
  returned: state is present
  type: str
  sample: 10.244.1.1
router_cidr:
  description: RV(router_ip) with the subnet's prefix length.
  returned: state is present
  type: str
  sample: 10.244.1.1/24
router_mac:
  description: The MAC of the cluster router's port.
  returned: state is present
  type: str
  sample: 0a:58:0a:f4:01:01
mgmt_ip:
  description: The management port's address (the second one of the subnet).
  returned: state is present
  type: str
  sample: 10.244.1.2
mgmt_cidr:
  description: RV(mgmt_ip) with the subnet's prefix length, for the host's interface.
  returned: state is present
  type: str
  sample: 10.244.1.2/24
mgmt_mac:
  description: The management port's MAC, for the host's interface.
  returned: state is present
  type: str
  sample: 0a:58:0a:f4:01:02
switch:
  description: The node's logical switch.
  returned: state is present
  type: str
  sample: worker-01.dc1.example.com
router_port:
  description: The cluster router's port to the node's switch.
  returned: state is present
  type: str
  sample: rtos-worker-01.dc1.example.com
switch_port:
  description: The switch's port to the cluster router.
  returned: state is present
  type: str
  sample: stor-worker-01.dc1.example.com
mgmt_port:
  description: The management port's logical switch port, the C(iface-id) of its OVS interface.
  returned: state is present
  type: str
  sample: k8s-worker-01.dc1.example.com
mgmt_interface:
  description: The fixed name of the management port's OVS internal interface on the host.
  returned: state is present
  type: str
  sample: ovn-k8s-mp0
owner:
  description: With O(state=absent), the writer that owns the node's switch when it is not the roles' (it was left alone).
  returned: state is absent and the switch is another writer's
  type: str
  sample: ovn-k8s-watcher
diff:
  description: Every object changed, before and after, keyed by table and name.
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _nb, _owners
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import check_node_name
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import InvalidInput
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import NB_DB


def main():
    module = OvsdbModule(NB_DB, dict(
        node=dict(type='str', required=True),
        subnet=dict(type='str'),
        cluster_router=dict(type='str', default=_names.CLUSTER_ROUTER),
        state=dict(type='str', default='present', choices=['present', 'absent']),
    ), required_if=[('state', 'present', ['subnet'])])
    p = module.params
    try:  # before connecting: a bad name is the user's to fix whatever the database holds
        check_node_name(p['node'], 'node %r' % (p['node'],))
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))

    def plan(cs, client):
        if p['state'] == 'absent':
            switch = _nb.get_switch(client, _names.node_switch(p['node']))
            owner = _owners.owner(switch.external_ids) if switch is not None else None
            if owner not in (None, _names.ROLES):
                module.warn('the network of node %s was made by %s, which removes it when the node goes '
                            '(delete its Kubernetes Node); left alone' % (p['node'], owner))
                return dict(owner=owner)
            _nb.remove_node_network(cs, client, p['node'], cluster_router=p['cluster_router'])
            return {}
        return _nb.ensure_node_network(cs, client, p['node'], p['subnet'],
                                       cluster_router=p['cluster_router'])

    module.run(_nb.NODE_NETWORK_TABLES, plan)


if __name__ == '__main__':
    main()
