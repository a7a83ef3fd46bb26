#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_lrp
short_description: Manage an OVN logical router port
version_added: 0.1.0
description:
  - Create, converge or remove a logical router port in the OVN Northbound database, with its
    MAC, networks and optional peer. A port that exists on another router is an error.
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  router:
    description: Name of the logical router that holds the port. It must exist.
    type: str
    required: true
  name:
    description: Name of the port, for example V(rtos-node1).
    type: str
    required: true
  state:
    description: Whether the port should exist.
    type: str
    choices: [present, absent]
    default: present
  mac:
    description: The port's Ethernet address. Required with O(state=present).
    type: str
  networks:
    description:
      - The port's addresses with their prefix lengths, such as V(10.128.1.1/24). Required with O(state=present).
    type: list
    elements: str
  peer:
    description:
      - The router port at the other end, for a direct router-to-router link.
      - Omit it to leave the port's peer as it is; an empty string removes the peer.
    type: str
  options:
    description: Keys of the port's options.
    type: dict
  purge_options:
    description: Remove option keys not given in O(options).
    type: bool
    default: false
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
- name: The cluster router's port towards node1's switch
  ovn_k8s.overlay.ovn_lrp:
    remote: tcp:192.0.2.10:6641
    router: ovn_cluster_router
    name: rtos-node1
    mac: 0a:58:0a:80:01:01
    networks: [10.128.1.1/24]
'''

RETURN = r'''
diff:
  description: The port's managed columns before and after, keyed by C(Logical_Router_Port <name>).
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import EXTERNAL_IDS_SPEC, OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _nb
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import NB_DB


def main():
    module = OvsdbModule(NB_DB, dict(
        router=dict(type='str', required=True),
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        mac=dict(type='str'),
        networks=dict(type='list', elements='str'),
        peer=dict(type='str'),
        options=dict(type='dict'),
        purge_options=dict(type='bool', default=False),
        enabled=dict(type='bool'),
        **EXTERNAL_IDS_SPEC
    ), required_if=[('state', 'present', ['mac', 'networks'])])
    p = module.params

    def plan(cs, client):
        if p['state'] == 'absent':
            _nb.remove_lrp(cs, client, p['name'], p['router'])
        else:
            _nb.ensure_lrp(cs, client, p['router'], p['name'], p['mac'], p['networks'],
                           peer=p['peer'], options=p['options'], external_ids=p['external_ids'],
                           enabled=p['enabled'], purge_options=p['purge_options'],
                           purge_external_ids=p['purge_external_ids'])

    module.run(_nb.LRP_TABLES, plan)


if __name__ == '__main__':
    main()
