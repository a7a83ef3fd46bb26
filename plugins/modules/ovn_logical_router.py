#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_logical_router
short_description: Manage an OVN logical router
version_added: 0.1.0
description:
  - Create, converge or remove a logical router in the OVN Northbound database, such as the
    cluster-wide router that joins every node's switch.
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  name:
    description: Name of the router, for example V(ovn_cluster_router).
    type: str
    required: true
  state:
    description: Whether the router should exist. V(absent) removes it with its ports, routes and NAT rules.
    type: str
    choices: [present, absent]
    default: present
  options:
    description: Keys of the router's options, such as C(chassis) for a gateway router.
    type: dict
  purge_options:
    description: Remove option keys not given in O(options).
    type: bool
    default: false
  enabled:
    description: Administrative state of the router.
    type: bool
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.external_ids
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: The cluster router
  ovn_k8s.overlay.ovn_logical_router:
    remote: tcp:192.0.2.10:6641
    name: ovn_cluster_router
    external_ids:
      k8s-cluster-router: "yes"
'''

RETURN = r'''
diff:
  description: The router's managed columns before and after, keyed by C(Logical_Router <name>).
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
        options=dict(type='dict'),
        purge_options=dict(type='bool', default=False),
        enabled=dict(type='bool'),
        **EXTERNAL_IDS_SPEC
    ))
    p = module.params

    def plan(cs, client):
        if p['state'] == 'absent':
            _nb.remove_router(cs, client, p['name'])
        else:
            _nb.ensure_router(cs, client, p['name'], options=p['options'],
                              external_ids=p['external_ids'], enabled=p['enabled'],
                              purge_options=p['purge_options'],
                              purge_external_ids=p['purge_external_ids'])

    module.run(_nb.ROUTER_TABLES, plan)


if __name__ == '__main__':
    main()
