#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovs_external_ids
short_description: Manage external_ids keys of a record in the local Open vSwitch database
version_added: 0.1.0
description:
  - Set or remove keys of the C(external_ids) column of one record of the local Open vSwitch
    database, as C(ovs-vsctl set/remove TABLE RECORD external_ids ...) would.
  - The usual use is the node's OVN settings on the C(Open_vSwitch) record, such as
    C(ovn-remote), C(ovn-encap-type), C(ovn-encap-ip), C(system-id) and C(ovn-bridge-datapath-type).
  - The result and the diff hold only the keys named in O(external_ids) (and the names of keys
    removed, without their old values); the record's other keys are never returned.
  - Every local user who can reach the socket of the Open vSwitch database can read it, so keep
    secrets such as API tokens out of it.
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  table:
    description: The table of the record.
    type: str
    choices: [Open_vSwitch, Bridge, Port, Interface]
    default: Open_vSwitch
  record:
    description:
      - The name of the record. The C(Open_vSwitch) table has a single record, written V(.).
      - A record that does not exist fails the task; this module never creates records.
    type: str
    default: .
  external_ids:
    description:
      - With O(state=present), the keys to set and their values (booleans become V(true)/V(false)).
      - With O(state=absent), the keys to remove; their values are ignored.
    type: dict
    required: true
  state:
    description:
      - V(present) sets the keys of O(external_ids); V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  purge:
    description:
      - With O(state=present), also remove every key not named in O(external_ids).
      - Think twice on the C(Open_vSwitch) record, where C(system-id) and OVN's keys live.
    type: bool
    default: false
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: Point ovn-controller at the Southbound database, userspace datapath
  ovn_k8s.overlay.ovs_external_ids:
    external_ids:
      ovn-remote: tcp:192.0.2.10:6642
      ovn-encap-type: geneve
      ovn-encap-ip: 192.0.2.21
      system-id: node1
      ovn-bridge-datapath-type: netdev

- name: Tell ovn-controller which logical port an interface is
  ovn_k8s.overlay.ovs_external_ids:
    table: Interface
    record: k8s-node1
    external_ids:
      iface-id: k8s-node1

- name: Forget a key
  ovn_k8s.overlay.ovs_external_ids:
    external_ids:
      ovn-bridge-mappings: ''
    state: absent
'''

RETURN = r'''
external_ids:
  description:
    - The keys named in O(external_ids) that the record has after the run (as predicted in check mode),
      with their values; other keys of the record are not returned.
  returned: success
  type: dict
  sample: {"ovn-encap-type": "geneve", "system-id": "node1"}
diff:
  description:
    - The named keys before and after, keyed by C(<table> <record>); keys removed (by O(state=absent)
      or O(purge)) appear before with their old values hidden.
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _ovs
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import OVS_DB, plain


def main():
    module = OvsdbModule(OVS_DB, dict(
        table=dict(type='str', default='Open_vSwitch', choices=list(_ovs.RECORD_TABLES)),
        record=dict(type='str', default='.'),
        external_ids=dict(type='dict', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        purge=dict(type='bool', default=False),
    ))
    p = module.params

    def plan(cs, client):
        if p['state'] == 'absent':
            _ovs.remove_external_ids(cs, client, p['table'], p['record'], p['external_ids'])
        else:
            _ovs.set_external_ids(cs, client, p['table'], p['record'], p['external_ids'],
                                  purge=p['purge'])
        label = '%s %s' % (p['table'], '.' if p['table'] == 'Open_vSwitch' else p['record'])
        if label in cs.after:
            return dict(external_ids=cs.after[label]['external_ids'])
        current = plain(_ovs.get_record(client, p['table'], p['record']).external_ids)
        return dict(external_ids=_ovs.managed_external_ids(current, [str(k) for k in p['external_ids']]))

    module.run(_ovs.external_ids_tables(p['table']), plan)


if __name__ == '__main__':
    main()
