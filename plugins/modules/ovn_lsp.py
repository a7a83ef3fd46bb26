#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_lsp
short_description: Manage an OVN logical switch port
version_added: 0.1.0
description:
  - Create, converge or remove a logical switch port in the OVN Northbound database.
  - Only the columns given are managed; a port that exists on another switch is an error.
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  switch:
    description: Name of the logical switch that holds the port. It must exist.
    type: str
    required: true
  name:
    description:
      - Name of the port. For a pod this is what the CNI plugin writes into the OVS interface's
        C(external_ids:iface-id); by convention C(<namespace>_<pod>).
    type: str
    required: true
  state:
    description: Whether the port should exist.
    type: str
    choices: [present, absent]
    default: present
  addresses:
    description:
      - The port's addresses column. Each entry is V(MAC IP [IP...]), V(MAC dynamic), V(dynamic),
        V(router) or V(unknown).
    type: list
    elements: str
  port_security:
    description: Addresses the port may send from, each V(MAC [IP...]). An empty list turns port security off.
    type: list
    elements: str
  type:
    description:
      - The port type, such as V("") (a VIF), V(router), V(localnet), V(localport) or V(internal).
    type: str
  options:
    description: Keys of the port's options, such as C(router-port) or C(network_name).
    type: dict
  purge_options:
    description: Remove option keys not given in O(options).
    type: bool
    default: false
  parent_name:
    description:
      - For a container inside a VM (the "underlay" mode), the name of the VM's port. Requires O(tag).
      - The parent must be an existing logical switch port that is not itself a container port.
    type: str
  tag:
    description:
      - VLAN tag (0-4095) that separates this container's traffic on the parent port. A tag another
        port already uses on the same parent is refused; V(0) lets ovn-northd choose one.
    type: int
  enabled:
    description: Administrative state of the port.
    type: bool
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.external_ids
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: A pod's port with a fixed address and port security
  ovn_k8s.overlay.ovn_lsp:
    remote: tcp:192.0.2.10:6641
    switch: node1
    name: default_web-0
    addresses: ["0a:58:0a:80:01:05 10.128.1.5"]
    port_security: ["0a:58:0a:80:01:05 10.128.1.5"]
    external_ids:
      namespace: default
      pod: web-0

- name: The switch side of the link to the cluster router
  ovn_k8s.overlay.ovn_lsp:
    switch: node1
    name: stor-node1
    type: router
    addresses: [router]
    options:
      router-port: rtos-node1

- name: A localnet port for north-south traffic
  ovn_k8s.overlay.ovn_lsp:
    switch: ext_node1
    name: lnet-node1
    type: localnet
    addresses: [unknown]
    options:
      network_name: physnet

- name: A container inside a VM
  ovn_k8s.overlay.ovn_lsp:
    switch: node1
    name: default_db-0
    parent_name: vm7
    tag: 42
    addresses: [dynamic]
'''

RETURN = r'''
diff:
  description: The port's managed columns before and after, keyed by C(Logical_Switch_Port <name>).
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import EXTERNAL_IDS_SPEC, OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _nb, _underlay
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import NB_DB


def main():
    module = OvsdbModule(NB_DB, dict(
        switch=dict(type='str', required=True),
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        addresses=dict(type='list', elements='str'),
        port_security=dict(type='list', elements='str'),
        type=dict(type='str'),
        options=dict(type='dict'),
        purge_options=dict(type='bool', default=False),
        parent_name=dict(type='str'),
        tag=dict(type='int'),
        enabled=dict(type='bool'),
        **EXTERNAL_IDS_SPEC
    ), required_together=[('parent_name', 'tag')])
    p = module.params

    def plan(cs, client):
        if p['state'] == 'absent':
            _nb.remove_lsp(cs, client, p['name'], p['switch'])
        else:
            _nb.ensure_lsp(cs, client, p['switch'], p['name'], addresses=p['addresses'],
                           port_security=p['port_security'], port_type=p['type'],
                           options=p['options'], parent_name=p['parent_name'], tag=p['tag'],
                           enabled=p['enabled'], external_ids=p['external_ids'],
                           purge_options=p['purge_options'],
                           purge_external_ids=p['purge_external_ids'])
            if p['parent_name'] is not None:
                # A container port (the underlay mode): its parent exists, its tag is free there.
                _underlay.check_container_port(client, p['name'], p['parent_name'], p['tag'])

    conditions = _nb.lsp_conditions(p['name'], p['switch'])
    if p['parent_name']:
        conditions['Logical_Switch_Port'] = conditions['Logical_Switch_Port'] + _underlay.lsp_conditions(p['parent_name'])
    module.run(_nb.LSP_TABLES, plan, conditions=conditions)


if __name__ == '__main__':
    main()
