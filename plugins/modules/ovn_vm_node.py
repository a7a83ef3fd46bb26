#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_vm_node
short_description: Declare that a Kubernetes node is a VM on OVN (the underlay mode)
version_added: 0.1.0
description:
  - In the underlay mode the Kubernetes nodes are virtual machines; Open vSwitch and ovn-controller
    run on the hypervisors, not in the VMs. Each pod of such a node is a logical switch port whose
    C(parent_name) is the VM's own port, told apart by a VLAN tag. The watcher makes those ports.
  - This module declares one VM node in the OVN Northbound database, which the watcher reads (a pod
    or the VM itself cannot claim to be one). It stamps the VM's logical switch port (its network
    interface) with C(external_ids:ovn-k8s-vm-node) = O(node) and C(external_ids:ovn-k8s-vm-hypervisor)
    = O(hypervisor), binds it to that chassis (C(options:requested-chassis)), and marks the VM
    network's switch with C(external_ids:ovn-k8s-vm-network=yes).
  - The VM's port and its switch are not made here (they belong to whoever runs the VMs); the switch
    must have an C(other_config:subnet), from which the VM's pods take their addresses (its first
    address is the router's, its second is kept back, as on a node switch).
  - With O(state=absent) the declaration is taken back (the port and the switch stay); refused while
    container ports still have the VM's port as parent.
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  node:
    description: The Kubernetes node name of the VM.
    type: str
    required: true
  state:
    description: Whether the node is declared a VM.
    type: str
    choices: [present, absent]
    default: present
  switch:
    description: The logical switch of the VM's network (it must exist and have a subnet). Required when O(state=present).
    type: str
  port:
    description: The VM's logical switch port (its network interface) on O(switch). Required when O(state=present).
    type: str
  hypervisor:
    description:
      - The chassis name (the Open vSwitch C(external_ids:system-id)) of the hypervisor that hosts the VM.
        Required when O(state=present).
    type: str
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: The VM vm-a, hosted by hypervisor hv1, is the Kubernetes node k8s-vm-a
  ovn_k8s.overlay.ovn_vm_node:
    remote: tcp:192.0.2.10:6641
    node: k8s-vm-a
    switch: tenant-net
    port: vm-a-eth0
    hypervisor: hv1

- name: Take the declaration back (after the node was drained)
  ovn_k8s.overlay.ovn_vm_node:
    node: k8s-vm-a
    state: absent
'''

RETURN = r'''
node:
  description: The node.
  returned: always
  type: str
switch:
  description: The VM network's switch.
  returned: O(state=present)
  type: str
port:
  description: The VM's port.
  returned: O(state=present)
  type: str
hypervisor:
  description: The chassis that hosts the VM.
  returned: O(state=present)
  type: str
subnet:
  description: The VM network's subnet, where the VM's pods take their addresses.
  returned: O(state=present)
  type: str
gateway:
  description: The first address of that subnet, the pods' default gateway.
  returned: O(state=present)
  type: str
container_ports:
  description: The container ports on the VM's port now (C(name), C(tag)), the pods the watcher made.
  returned: O(state=present)
  type: list
  elements: dict
diff:
  description: The stamped columns before and after, keyed by C(Logical_Switch_Port <port>) and C(Logical_Switch <switch>).
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _underlay
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import NB_DB


def main():
    module = OvsdbModule(NB_DB, dict(
        node=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        switch=dict(type='str'),
        port=dict(type='str'),
        hypervisor=dict(type='str'),
    ), required_if=[('state', 'present', ('switch', 'port', 'hypervisor'))])
    p = module.params

    def plan(cs, client):
        if p['state'] == 'absent':
            _underlay.remove_vm_node(cs, client, p['node'])
            return dict(node=p['node'])
        return _underlay.ensure_vm_node(cs, client, p['node'], p['switch'], p['port'], p['hypervisor'])

    module.run(_underlay.TABLES, plan)


if __name__ == '__main__':
    main()
