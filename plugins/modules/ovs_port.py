#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovs_port
short_description: Manage a port and its interface on a bridge in the local Open vSwitch database
version_added: 0.1.0
description:
  - Create, converge or remove a port of an Open vSwitch bridge with one interface of the same
    name, as C(ovs-vsctl add-port)/C(set Interface)/C(del-port) would.
  - O(type), O(external_ids), O(mac) and O(options) are columns of the interface. The management
    port of a node is an V(internal) interface with C(external_ids:iface-id) naming its OVN
    logical switch port and the same MAC as that port.
  - The module writes the database and does not wait for C(ovs-vswitchd) to apply the change
    (like C(ovs-vsctl --no-wait)).
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  bridge:
    description: The bridge that holds the port. It must exist.
    type: str
    required: true
  name:
    description: Name of the port and of its interface. A port of that name on another bridge fails the task.
    type: str
    required: true
  state:
    description: Whether the port should exist.
    type: str
    choices: [present, absent]
    default: present
  type:
    description:
      - The interface type, such as V(internal) (a network device made by Open vSwitch),
        V(patch) (with O(options) C(peer)) or V(geneve).
      - Omitted, a new port is a system interface (an existing network device such as a NIC or
        one end of a veth pair), and the type of an existing port is left alone.
    type: str
  external_ids:
    description:
      - Keys of the interface's C(external_ids) to set, such as V(iface-id).
        Keys not given are kept unless O(purge_external_ids=true).
    type: dict
  purge_external_ids:
    description: Remove the interface's C(external_ids) keys not given in O(external_ids).
    type: bool
    default: false
  mac:
    description: The MAC address of an V(internal) interface (column C(mac)).
    type: str
  options:
    description: Keys of the interface's C(options) to set. Keys not given are kept unless O(purge_options=true).
    type: dict
  purge_options:
    description: Remove the interface's C(options) keys not given in O(options).
    type: bool
    default: false
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: The node's management port on br-int
  ovn_k8s.overlay.ovs_port:
    bridge: br-int
    name: k8s-node1
    type: internal
    mac: 0a:58:0a:80:01:02
    external_ids:
      iface-id: k8s-node1

- name: Remove it
  ovn_k8s.overlay.ovs_port:
    bridge: br-int
    name: k8s-node1
    state: absent
'''

RETURN = r'''
diff:
  description: The interface's managed columns before and after, keyed by C(Port <name>).
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _ovs
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import OVS_DB


def main():
    module = OvsdbModule(OVS_DB, dict(
        bridge=dict(type='str', required=True),
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        type=dict(type='str'),
        external_ids=dict(type='dict'),
        purge_external_ids=dict(type='bool', default=False),
        mac=dict(type='str'),
        options=dict(type='dict'),
        purge_options=dict(type='bool', default=False),
    ))
    p = module.params

    def plan(cs, client):
        if p['state'] == 'absent':
            _ovs.remove_port(cs, client, p['name'], bridge=p['bridge'])
        else:
            _ovs.ensure_port(cs, client, p['bridge'], p['name'], port_type=p['type'],
                             external_ids=p['external_ids'], mac=p['mac'], options=p['options'],
                             purge_external_ids=p['purge_external_ids'],
                             purge_options=p['purge_options'])

    module.run(_ovs.PORT_TABLES, plan)


if __name__ == '__main__':
    main()
