#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_load_balancer
short_description: Manage an OVN load balancer
version_added: 0.1.0
description:
  - Create, converge or remove a load balancer in the OVN Northbound database, with its VIPs and
    their backends, protocol, options and C(external_ids), and the load balancer groups it
    belongs to.
  - The VIPs are converged exactly and key by key, so a changed backend list rewrites (and
    shows in the diff) only the VIPs whose backends changed.
  - The watcher programs Kubernetes services through the same code (one load balancer per
    service and protocol, in a group attached to every node switch and gateway router).
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  name:
    description: Name of the load balancer, such as V(Service_default/web_TCP).
    type: str
    required: true
  state:
    description: Whether the load balancer should exist. V(absent) removes it; groups, switches and routers drop it.
    type: str
    choices: [present, absent]
    default: present
  vips:
    description:
      - Map of VIP (V(IP:port), V([IPv6]:port) or a bare IP) to its backends, a comma-separated
        list such as V(10.128.1.5:8080,10.128.2.7:8080) (empty for none).
      - Converged exactly; VIPs not given are removed. Required with O(state=present).
    type: dict
  protocol:
    description: Transport protocol of the VIPs with ports.
    type: str
    choices: [tcp, udp, sctp]
    default: tcp
  options:
    description:
      - Keys of C(options) to set, such as C(reject=true) (refuse connections when a VIP has no
        backend) or C(affinity_timeout).
    type: dict
  purge_options:
    description: Remove C(options) keys not given in O(options).
    type: bool
    default: false
  selection_fields:
    description: Packet fields hashed to pick a backend; converged exactly when given.
    type: list
    elements: str
    choices: [eth_src, eth_dst, ip_src, ip_dst, tp_src, tp_dst]
  groups:
    description:
      - Load balancer groups (see M(ovn_k8s.overlay.ovn_load_balancer_group)) this load balancer
        must belong to. It is added to them; their other members stay.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.external_ids
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: A service with two backends that refuses connections when it has none
  ovn_k8s.overlay.ovn_load_balancer:
    remote: tcp:192.0.2.10:6641
    name: Service_default/web_TCP
    vips:
      "10.96.0.10:80": "10.128.1.5:8080,10.128.2.7:8080"
    options:
      reject: "true"
    groups: [clusterLBGroup]

- name: Remove it
  ovn_k8s.overlay.ovn_load_balancer:
    name: Service_default/web_TCP
    state: absent
'''

RETURN = r'''
diff:
  description:
    - Keyed by C(Load_Balancer <name>) (only the VIPs and columns that change) and
      C(Load_Balancer_Group <group> load_balancer) (the group's members).
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import EXTERNAL_IDS_SPEC, OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _nb_lb
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import NB_DB


def main():
    module = OvsdbModule(NB_DB, dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        vips=dict(type='dict'),
        protocol=dict(type='str', default='tcp', choices=list(_nb_lb.PROTOCOLS)),
        options=dict(type='dict'),
        purge_options=dict(type='bool', default=False),
        selection_fields=dict(type='list', elements='str', choices=list(_nb_lb.SELECTION_FIELDS)),
        groups=dict(type='list', elements='str', default=[]),
        **EXTERNAL_IDS_SPEC
    ), required_if=[('state', 'present', ['vips'])])
    p = module.params

    def plan(cs, client):
        if p['state'] == 'absent':
            _nb_lb.remove_load_balancer(cs, client, p['name'])
        else:
            _nb_lb.ensure_load_balancer(cs, client, p['name'], p['vips'], p['protocol'], options=p['options'],
                                        selection_fields=p['selection_fields'], external_ids=p['external_ids'],
                                        groups=p['groups'], purge_options=p['purge_options'],
                                        purge_external_ids=p['purge_external_ids'])

    module.run(_nb_lb.LB_TABLES, plan)


if __name__ == '__main__':
    main()
