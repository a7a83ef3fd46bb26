#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_node_subnets
short_description: Allocate stable node subnets from the cluster range
version_added: 0.1.0
description:
  - Reads the node switches in the OVN Northbound database (C(other_config:subnet); the node is
    C(external_ids:k8s-node) or else the switch name) and returns a subnet for each given node.
  - A node whose switch exists keeps its subnet; a pinned subnet is honoured; every other node gets
    the lowest free subnet of O(host_prefix) in O(cluster_subnet), in the order the nodes are given.
    Re-running, adding or removing other nodes never renumbers a node.
  - Overlapping subnets, a subnet outside the cluster range, a pin that contradicts the node's switch
    and an exhausted range are errors naming the node and subnet.
  - It only reads (it never reports a change); create the switches afterwards, for example with
    M(ovn_k8s.overlay.ovn_logical_switch). Run it once for all nodes (on one host) so that two nodes
    configured in parallel cannot pick the same subnet.
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  cluster_subnet:
    description: The cluster's pod range, such as V(10.128.0.0/14).
    type: str
    required: true
  host_prefix:
    description: Prefix length of each node's subnet, such as V(24).
    type: int
    required: true
  nodes:
    description:
      - The nodes to allocate for. A node is a name, or a dict with C(name) and an optional pinned C(subnet).
    type: list
    elements: raw
    required: true
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
    details: The module never changes anything, so there is nothing to diff.
  idempotent:
    support: full
'''

EXAMPLES = r'''
- name: Subnets for every node, allocated once on the central host
  ovn_k8s.overlay.ovn_node_subnets:
    remote: unix:/var/run/ovn/ovnnb_db.sock
    cluster_subnet: 10.128.0.0/14
    host_prefix: 24
    nodes:
      - master
      - name: node1
      - name: node2
        subnet: 10.128.9.0/24
  register: alloc

- name: Use node1's subnet
  ansible.builtin.debug:
    msg: "{{ alloc.subnets.node1 }}"
'''

RETURN = r'''
subnets:
  description: Node name to subnet.
  returned: success
  type: dict
  sample: {master: 10.128.0.0/24, node1: 10.128.1.0/24, node2: 10.128.9.0/24}
nodes:
  description: One entry per node, in the order given, with where its subnet came from.
  returned: success
  type: list
  elements: dict
  sample: [{name: node1, subnet: 10.128.1.0/24, source: allocated}]
  contains:
    name:
      description: The node.
      type: str
    subnet:
      description: Its subnet.
      type: str
    source:
      description: V(existing) (its switch has it), V(pinned) (given) or V(allocated) (new).
      type: str
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _alloc
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import InvalidInput
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import NB_DB


def _nodes(raw):
    out = []
    for item in raw:
        if isinstance(item, str):
            out.append(dict(name=item, subnet=None))
        elif isinstance(item, dict) and isinstance(item.get('name'), str) and item['name']:
            unknown = sorted(set(item) - set(['name', 'subnet']))
            if unknown:
                raise InvalidInput('node %s: unknown key %s (expected name and subnet)'
                                   % (item['name'], ', '.join(unknown)))
            out.append(dict(name=item['name'], subnet=item.get('subnet') or None))
        else:
            raise InvalidInput('nodes: %r is neither a node name nor a dict with a name' % (item,))
    return out


def main():
    module = OvsdbModule(NB_DB, dict(
        cluster_subnet=dict(type='str', required=True),
        host_prefix=dict(type='int', required=True),
        nodes=dict(type='list', elements='raw', required=True),
    ))
    p = module.params

    def plan(cs, client):
        nodes = _nodes(p['nodes'])
        allocated = _alloc.allocate(p['cluster_subnet'], p['host_prefix'], nodes,
                                    _alloc.existing_switches(client))
        return dict(nodes=allocated, subnets=dict((n['name'], n['subnet']) for n in allocated))

    module.run(_alloc.TABLES, plan)


if __name__ == '__main__':
    main()
