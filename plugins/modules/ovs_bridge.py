#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovs_bridge
short_description: Manage a bridge in the local Open vSwitch database
version_added: 0.1.0
description:
  - Create, converge or remove an Open vSwitch bridge with its datapath type, C(other_config),
    C(external_ids) and fail mode, as C(ovs-vsctl add-br)/C(set)/C(del-br) would.
  - A new bridge gets its local port (an internal interface of the same name), as with C(ovs-vsctl).
  - The module writes the database and does not wait for C(ovs-vswitchd) to apply the change
    (like C(ovs-vsctl --no-wait)).
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  name:
    description: Name of the bridge, such as V(br-int) or V(breth0).
    type: str
    required: true
  state:
    description: Whether the bridge should exist. V(absent) removes it with all its ports.
    type: str
    choices: [present, absent]
    default: present
  datapath_type:
    description:
      - The datapath. V(system) is the kernel datapath; V(netdev) is the userspace datapath, for
        hosts without the Open vSwitch kernel module.
      - When not given, a new bridge is made V(system) and an existing bridge keeps the datapath it
        has, so a task that only sets O(external_ids) never converts a bridge.
      - An existing bridge whose datapath type is empty counts as V(system).
    type: str
    choices: [system, netdev]
  other_config:
    description:
      - Keys of C(other_config) to set, such as V(hwaddr) to pin the bridge's MAC address.
        Keys not given are kept unless O(purge_other_config=true).
    type: dict
  purge_other_config:
    description: Remove C(other_config) keys not given in O(other_config).
    type: bool
    default: false
  fail_mode:
    description: What the bridge does without a reachable controller. Not given leaves it alone.
    type: str
    choices: [standalone, secure]
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.external_ids
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: The integration bridge on a host without the OVS kernel module
  ovn_k8s.overlay.ovs_bridge:
    name: br-int
    datapath_type: netdev
    fail_mode: secure
    other_config:
      disable-in-band: 'true'

- name: Remove a bridge
  ovn_k8s.overlay.ovs_bridge:
    name: br-test
    state: absent
'''

RETURN = r'''
diff:
  description: The bridge's managed columns before and after, keyed by C(Bridge <name>).
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import EXTERNAL_IDS_SPEC, OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _ovs
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import OVS_DB


def main():
    module = OvsdbModule(OVS_DB, dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        datapath_type=dict(type='str', choices=['system', 'netdev']),
        other_config=dict(type='dict'),
        purge_other_config=dict(type='bool', default=False),
        fail_mode=dict(type='str', choices=['standalone', 'secure']),
        **EXTERNAL_IDS_SPEC
    ))
    p = module.params

    def plan(cs, client):
        if p['state'] == 'absent':
            _ovs.remove_bridge(cs, client, p['name'])
        else:
            _ovs.ensure_bridge(cs, client, p['name'], datapath_type=p['datapath_type'],
                               other_config=p['other_config'], external_ids=p['external_ids'],
                               fail_mode=p['fail_mode'],
                               purge_other_config=p['purge_other_config'],
                               purge_external_ids=p['purge_external_ids'])

    module.run(_ovs.BRIDGE_TABLES, plan)


if __name__ == '__main__':
    main()
