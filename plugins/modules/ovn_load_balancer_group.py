#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_load_balancer_group
short_description: Manage an OVN load balancer group and where it is attached
version_added: 0.1.0
description:
  - Create or remove a load balancer group in the OVN Northbound database, converge its
    members, and attach it to logical switches and routers.
  - One group attached to every node switch and gateway router costs ovn-northd far less than
    attaching each load balancer to each switch.
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  name:
    description: Name of the group, such as V(clusterLBGroup).
    type: str
    required: true
  state:
    description: Whether the group should exist. V(absent) detaches it from every switch and router and removes it.
    type: str
    choices: [present, absent]
    default: present
  load_balancers:
    description:
      - Names of the load balancers the group holds, converged exactly. Omit to leave the
        members alone (load balancers join with the O(ovn_k8s.overlay.ovn_load_balancer#module:groups) option).
    type: list
    elements: str
  switches:
    description: Logical switches the group is attached to (other attached groups stay).
    type: list
    elements: str
    default: []
  routers:
    description: Logical routers the group is attached to (other attached groups stay).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: The cluster's group on every node switch and gateway router
  ovn_k8s.overlay.ovn_load_balancer_group:
    remote: tcp:192.0.2.10:6641
    name: clusterLBGroup
    switches: [node1, node2]
    routers: [GR_node1, GR_node2]
'''

RETURN = r'''
diff:
  description:
    - Keyed by C(Load_Balancer_Group <name>) and C(Logical_Switch <name> load_balancer_group) /
      C(Logical_Router <name> load_balancer_group).
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _nb_lb
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import NB_DB


def main():
    module = OvsdbModule(NB_DB, dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        load_balancers=dict(type='list', elements='str'),
        switches=dict(type='list', elements='str', default=[]),
        routers=dict(type='list', elements='str', default=[]),
    ))
    p = module.params

    def plan(cs, client):
        if p['state'] == 'absent':
            _nb_lb.remove_lb_group(cs, client, p['name'])
            return
        _nb_lb.ensure_lb_group(cs, client, p['name'], p['load_balancers'])
        for table, names in (('Logical_Switch', p['switches']), ('Logical_Router', p['routers'])):
            for name in names:
                _nb_lb.ensure_lb_group_attached(cs, client, table, name, p['name'])

    module.run(_nb_lb.LB_GROUP_TABLES, plan)


if __name__ == '__main__':
    main()
