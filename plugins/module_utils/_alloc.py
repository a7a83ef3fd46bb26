# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""Stable allocation of node subnets from the cluster range.

Pure functions over what the Northbound database already holds: the caller
reads the node switches and passes them in; nothing here writes anything.
A node keeps the subnet its switch already has, a pinned subnet is honoured,
and a new node gets the lowest free subnet of the host prefix length. Every
contradiction (overlap, outside the range, exhaustion, a pin that disagrees
with the live switch) is an :class:`InvalidInput` or :class:`Conflict` raised
before any caller changes anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import parse_network
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import (
    Conflict,
    InvalidInput,
)

# The external_ids key that names a switch's Kubernetes node when the switch's
# name is not the node name.
NODE_KEY = 'k8s-node'
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
    """Return [{'name', 'subnet', 'source'}] in the order of ``nodes``.

    ``nodes`` is a list of {'name': str, 'subnet': str or None};
    ``existing`` what :func:`existing_switches` returned.
    """
    cluster = parse_network(cluster_subnet, 'cluster_subnet')
    limit = cluster.max_prefixlen - 2  # room for the router port, management port and a pod
    if not cluster.prefixlen <= host_prefix <= limit:
        raise InvalidInput('host_prefix %d does not fit the cluster range %s: it must be between '
                           '%d and %d' % (host_prefix, cluster, cluster.prefixlen, limit))

    names = [n['name'] for n in nodes]
    dupes = sorted(set(x for x in names if names.count(x) > 1))
    if dupes:
        raise InvalidInput('node %s is listed more than once' % ', '.join(dupes))

    live = {}
    for node, switch, text in existing:
        live.setdefault(node, []).append((switch, text))

    taken = []   # (network, node, why) already spoken for
    result = {}
    # 1. Nodes whose switch already exists keep its subnet.
    for n in nodes:
        name, pinned = n['name'], n.get('subnet')
        if name not in live:
            continue
        if len(live[name]) > 1:
            raise Conflict('node %s has %d logical switches with a subnet (%s); expected one'
                           % (name, len(live[name]), ', '.join(entry[0] for entry in live[name])))
        switch, text = live[name][0]
        net = parse_network(text, 'the subnet of logical switch %s (node %s)' % (switch, name))
        if net.version != cluster.version or not net.subnet_of(cluster):
            raise InvalidInput('node %s has subnet %s on its logical switch %s, outside the cluster '
                               'range %s' % (name, net, switch, cluster))
        if pinned and parse_network(pinned, 'subnet of node %s' % name) != net:
            raise Conflict('node %s is pinned to subnet %s but its logical switch %s already has '
                           '%s; remove the switch first to renumber the node'
                           % (name, pinned, switch, net))
        result[name] = (net, 'existing')
    # 2. Pinned subnets of nodes without a switch.
    for n in nodes:
        name, pinned = n['name'], n.get('subnet')
        if name in result or not pinned:
            continue
        net = parse_network(pinned, 'subnet of node %s' % name)
        if net.version != cluster.version or not net.subnet_of(cluster):
            raise InvalidInput('node %s: subnet %s is outside the cluster range %s'
                               % (name, net, cluster))
        result[name] = (net, 'pinned')
    for name in names:
        if name in result:
            taken.append((result[name][0], name, result[name][1]))
    # Switches of nodes not asked about still hold their subnets.
    for node, entries in sorted(live.items()):
        if node in result:
            continue
        for switch, text in entries:
            try:
                net = ipaddress.ip_network(text, strict=False)
            except ValueError:
                continue  # not ours to judge
            if net.version == cluster.version and net.overlaps(cluster):
                taken.append((net, node, 'existing'))
    # 3. No two of them may overlap.
    ordered = sorted(taken, key=lambda t: (t[0].network_address, t[0].prefixlen, t[1]))
    for i, (net, node, why) in enumerate(ordered):
        for other, other_node, other_why in ordered[i + 1:]:
            if other.network_address > net.broadcast_address:
                break
            if net.overlaps(other):
                raise Conflict('node %s (%s subnet %s) overlaps node %s (%s subnet %s)'
                               % (node, why, net, other_node, other_why, other))
    # 4. New nodes get the lowest free subnet, in the order given.
    busy = [t[0] for t in ordered]
    for n in nodes:
        name = n['name']
        if name in result:
            continue
        chosen = _lowest_free(cluster, host_prefix, busy)
        if chosen is None:
            raise InvalidInput('node %s: the cluster range %s has no free /%d subnet left (%d in '
                               'use)' % (name, cluster, host_prefix, len(busy)))
        result[name] = (chosen, 'allocated')
        busy.append(chosen)
        busy.sort(key=lambda b: (b.network_address, b.prefixlen))
    return [dict(name=name, subnet=str(result[name][0]), source=result[name][1])
            for name in names]


def _lowest_free(cluster, host_prefix, busy):
    """The lowest /host_prefix of ``cluster`` overlapping nothing in ``busy`` (sorted)."""
    size = 2 ** (cluster.max_prefixlen - host_prefix)
    start = int(cluster.network_address)
    end = int(cluster.broadcast_address)
    candidate = start
    for b in busy:
        b_start, b_end = int(b.network_address), int(b.broadcast_address)
        if b_end < candidate:
            continue
        if b_start > candidate + size - 1:
            break
        # Overlaps the candidate: move past it, aligned to the host prefix.
        candidate = ((b_end + 1 + size - 1) // size) * size
    if candidate + size - 1 > end:
        return None
    return ipaddress.ip_network((candidate, host_prefix)) if cluster.version == 4 else \
        ipaddress.IPv6Network((candidate, host_prefix))


def lowest_free(pool, prefix, busy):
    """The lowest /``prefix`` of network ``pool`` that overlaps no network in ``busy``, or None.

    Shared with the gateways' join subnets (``_nb``), allocated from their own range.
    """
    return _lowest_free(pool, prefix, sorted(busy, key=lambda b: (b.network_address, b.prefixlen)))
