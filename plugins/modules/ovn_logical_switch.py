#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_logical_switch
short_description: Manage an OVN logical switch
version_added: 0.1.0
description:
  - Create, converge or remove a logical switch in the OVN Northbound database, with its subnet
    (C(other_config:subnet)), excluded addresses, C(other_config) and C(external_ids).
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  name:
    description: Name of the logical switch, such as the Kubernetes node name.
    type: str
    required: true
  state:
    description: Whether the switch should exist. V(absent) removes it with all its ports.
    type: str
    choices: [present, absent]
    default: present
  subnet:
    description:
      - The switch's subnet, stored as C(other_config:subnet); OVN assigns V(dynamic) addresses from it.
      - Must be a network address with its prefix length, such as V(10.128.1.0/24).
    type: str
  exclude_ips:
    description:
      - Addresses or ranges (V(10.128.1.1..10.128.1.9)) inside O(subnet) that OVN must not hand out,
        stored as C(other_config:exclude_ips). An empty list removes the key.
    type: list
    elements: str
  other_config:
    description: Keys of C(other_config) to set. Keys not given are kept unless O(purge_other_config=true).
    type: dict
  purge_other_config:
    description:
      - Remove C(other_config) keys not given in O(other_config) (O(subnet) and O(exclude_ips) count as given).
    type: bool
    default: false
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.external_ids
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: The node's switch with its pod subnet
  ovn_k8s.overlay.ovn_logical_switch:
    remote: tcp:192.0.2.10:6641
    name: node1
    subnet: 10.128.1.0/24
    exclude_ips: [10.128.1.2]
    external_ids:
      k8s-node: node1

- name: Remove it
  ovn_k8s.overlay.ovn_logical_switch:
    name: node1
    state: absent
'''

RETURN = r'''
diff:
  description: The switch's managed columns before and after, keyed by C(Logical_Switch <name>).
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import EXTERNAL_IDS_SPEC, OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _nb
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import NB_DB


def main():
    module = OvsdbModule(NB_DB, dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        subnet=dict(type='str'),
        exclude_ips=dict(type='list', elements='str'),
        other_config=dict(type='dict'),
        purge_other_config=dict(type='bool', default=False),
        **EXTERNAL_IDS_SPEC
    ))
    p = module.params

    def plan(cs, client):
        if p['state'] == 'absent':
            _nb.remove_switch(cs, client, p['name'])
        else:
            _nb.ensure_switch(cs, client, p['name'], subnet=p['subnet'],
                              exclude_ips=p['exclude_ips'], other_config=p['other_config'],
                              external_ids=p['external_ids'],
                              purge_other_config=p['purge_other_config'],
                              purge_external_ids=p['purge_external_ids'])

    module.run(_nb.SWITCH_TABLES, plan)


if __name__ == '__main__':
    main()
