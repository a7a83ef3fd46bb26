#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_chassis
short_description: Remove a node's chassis from the OVN Southbound database
version_added: 0.2.0
description:
  - Removes the C(Chassis) row of a chassis (with its C(Encap) rows) and its C(Chassis_Private) row
    from the OVN Southbound database, as the last step of removing a node.
  - C(ovn-controller) registers its chassis itself and deletes it when it exits for good; a node removed
    while it could not reach the Southbound database, or whose C(ovn-controller) was killed, leaves
    them behind, and every other node keeps a tunnel to it. Stop C(ovn-controller) on the node first,
    or it registers the chassis again.
  - Only O(state=absent) exists; the chassis is C(ovn-controller)'s to create.
  - O(remote) has no environment fallback; by default it is V(unix:/var/run/ovn/ovnsb_db.sock). Over an
    V(ssl:) remote held to the C(ovn-controller) role (the Southbound RBAC of the role ovn_central), a
    node may remove its own chassis only (the certificate's CN is the chassis name).
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  name:
    description: The chassis name (the node's C(external_ids:system-id) in Open vSwitch).
    type: str
    required: true
  state:
    description: V(absent), the only state.
    type: str
    choices: [absent]
    default: absent
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: Stop ovn-controller on the node that goes
  ansible.builtin.systemd_service:
    name: ovn-controller
    state: stopped
    enabled: false

- name: Its chassis, if ovn-controller could not remove it
  ovn_k8s.overlay.ovn_chassis:
    remote: unix:/var/run/ovn/ovnsb_db.sock
    name: 4c7e9a4e-5f1e-4a57-9c4a-7d1b0e6f2a11
    state: absent
'''

RETURN = r'''
chassis:
  description: What the Southbound database held of the chassis before the run, or null.
  returned: success
  type: dict
  sample: {name: 4c7e9a4e-5f1e-4a57-9c4a-7d1b0e6f2a11, hostname: node1, encaps: ["geneve:192.0.2.11"], private: true}
diff:
  description: The rows removed, keyed by C(Chassis <name>) and C(Chassis_Private <name>).
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _sb
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._compat import SB_DB


def main():
    module = OvsdbModule(None, dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='absent', choices=['absent']),
    ))
    module.database = SB_DB
    p = module.params
    if not p['name'].strip():
        module.fail_json(msg='ovn_chassis: name is empty; give the chassis name (the system-id)')

    def plan(cs, client):
        found = _sb.chassis_view(client, p['name'])
        _sb.remove_chassis(cs, client, p['name'])
        return dict(chassis=found)

    module.run(_sb.CHASSIS_TABLES, plan)


if __name__ == '__main__':
    main()
