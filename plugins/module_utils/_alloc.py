# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""Node subnets as the Northbound database holds them: the reading half of the allocation.

:func:`existing_switches` reads every switch with a subnet; :func:`allocate` hands that to
``_ipam.node_subnets``, where the allocation itself is decided (pure, with the collection's
other address management: join subnets, node addresses and pod addresses). Nothing here
writes anything. A node keeps the subnet its switch already has, a pinned subnet is honoured,
and a new node gets the lowest free subnet of the host prefix length. Every contradiction
(overlap, outside the range, exhaustion, a pin that disagrees with the live switch) is an
InvalidInput or Conflict raised before any caller changes anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _ipam, _names
# The collection's one CIDR parser, still reachable under this name (tests/functional/test_node_network.py).
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import parse_network  # noqa: F401 pylint: disable=unused-import

# The external_ids key that names a switch's Kubernetes node when the switch's
# name is not the node name.
NODE_KEY = _names.NODE_KEY
TABLES = {'Logical_Switch': ['name', 'other_config', 'external_ids']}


def existing_switches(client, node_key=NODE_KEY):
    """[(node, switch name, subnet text)] for every switch with other_config:subnet."""
    out = []
    for row in client.rows('Logical_Switch'):
        subnet = row.other_config.get('subnet')
        if subnet:
            out.append((row.external_ids.get(node_key) or row.name, row.name, subnet))
    return sorted(out)


def allocate(cluster_subnet, host_prefix, nodes, existing):
    """Return [{'name', 'subnet', 'source'}] in the order of ``nodes`` (``_ipam.node_subnets``).

    ``nodes`` is a list of {'name': str, 'subnet': str or None};
    ``existing`` what :func:`existing_switches` returned.
    """
    return _ipam.node_subnets(cluster_subnet, host_prefix, nodes, existing)


# Shared with the gateways' join subnets, allocated from their own range (``_ipam``).
lowest_free = _ipam.lowest_free
