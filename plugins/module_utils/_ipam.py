# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""IP address management: every address and subnet the collection hands out is decided here.

Pure functions and one small class, standard library only (``ipaddress``): the callers read
what the Northbound database holds and pass it in; nothing here reads or writes a database,
so every decision is tested without a server (tests/functional/test_ipam.py).

Four things get addresses:

Node subnets -- :func:`node_subnets`
    Each node's switch gets a /host_prefix of the cluster range: the subnet its switch already
    has, else its pinned one, else the lowest free one, in the order the nodes are given.
    Callers: the ``ovn_node_subnets`` module (central and node roles, through
    ``_alloc.allocate``) and the watcher's node reconciler (also through ``_alloc.allocate``,
    after ``_alloc.existing_switches`` read the switches).

Join subnets -- :func:`join_subnet`
    Each gateway's link between the cluster router and its gateway router gets a
    /join_prefix of the join range (``JOIN_RANGE``): the one given, else the one it has, else
    the lowest free one; never one that overlaps another port of the cluster router or the pod
    network. Caller: ``_nb.ensure_gateway_router`` (through ``_nb._pick_join_subnet``, which
    reads the cluster router's ports).

Node addresses -- :func:`node_addresses`
    Fixed by the node subnet: its first address is the cluster router's port, its second the
    management port (each with the MAC ``_names.mac_from_ip`` derives). Callers: the node
    network (``_nb.ensure_node_network``), the watcher (a node's management address in the
    policies) and the pod allocator below.

Pod addresses -- :class:`SwitchAddresses`
    A pod's address comes from its node's switch, round robin. The allocator is built from
    what the switch holds::

        view = SwitchAddresses(name, subnet, exclude_ips=None, used=None, cursors=None)

    - ``name``: the switch's name (the key of its cursor);
    - ``subnet``: its ``other_config:subnet`` (text or an ``ip_network``);
    - ``exclude_ips``: its ``other_config:exclude_ips`` text (addresses and ``lo..hi`` ranges
      separated by blanks), or None;
    - ``used``: ``{ip_address: port name}`` of every address its ports hold, or a function
      without arguments that returns that mapping (read only when first needed: a batch whose
      pods all keep their addresses never reads the switch's ports);
    - ``cursors``: ``{switch name: int}``, where each switch's next allocation starts; the
      caller keeps this dict across batches (round robin survives between batches, and
      starts after the highest address in use after a restart).

    Its interface:

    - ``used``: ``{ip_address: port}`` of every address in use, the switch's and those
      reserved since the allocator was built (a property);
    - ``reserve(ip, port)``: ``ip`` is ``port``'s from now on;
    - ``release(port)``: forget what was reserved for ``port`` since the allocator was built
      (an address still on the switch stays in use: the switch's ports are what counts until a
      removal is committed, so no address is handed out twice in one batch);
    - ``reserved(ip)``: why ``ip`` can never be a pod's (a sentence), or None;
    - ``allocate(port)``: the next free address after the last one handed out on this switch,
      wrapping around, reserved for ``port``; None when the subnet is full. A freed address is
      thus the last to be given again (a new pod would inherit what still names the old one's
      address in policies and load balancers until those catch up), as the Kubernetes API
      server's service IP allocator does.

    Also ``name``, ``subnet``, ``gateway`` (the router address), ``mgmt`` (the management
    address), ``excluded`` and ``ranges`` (what ``exclude_ips`` says, see
    :func:`parse_exclude_ips`). Caller: the watcher's pod reconciler, which builds one per
    node switch per batch.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import check_network, parse_network
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import Conflict, InvalidInput

# The range the gateways' join subnets come from, and their size.
JOIN_RANGE = '100.64.0.0/16'
JOIN_PREFIX = 29


# Free networks ------------------------------------------------------------------------------
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
    """The lowest /``prefix`` of network ``pool`` that overlaps no network in ``busy``, or None."""
    return _lowest_free(pool, prefix, sorted(busy, key=lambda b: (b.network_address, b.prefixlen)))


# Node subnets -------------------------------------------------------------------------------
_NETWORKS = {}


def _network(text):
    """``ipaddress.ip_network(text, strict=False)``, or None for what is not a network;
    remembered: the watcher allocates one node at a time against every other node's subnet,
    and parsing those again for each node made a cold start over N nodes cost N squared
    parses."""
    try:
        return _NETWORKS[text]
    except KeyError:
        pass
    if len(_NETWORKS) > 100000:
        _NETWORKS.clear()
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        net = None
    _NETWORKS[text] = net
    return net


def node_subnets(cluster_subnet, host_prefix, nodes, existing):
    """Return [{'name', 'subnet', 'source'}] in the order of ``nodes``.

    ``nodes`` is a list of {'name': str, 'subnet': str or None} (a pinned subnet or None);
    ``existing`` [(node, switch name, subnet text)] of every switch with a subnet
    (``_alloc.existing_switches``). A node keeps the subnet its switch already has, a pinned
    subnet is honoured, and a new node gets the lowest free subnet of the host prefix length
    (source ``existing``, ``pinned`` or ``allocated``). Every contradiction (overlap, outside
    the range, exhaustion, a pin that disagrees with the live switch) is an InvalidInput or a
    Conflict.
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
        for dummy, text in entries:
            net = _network(text)
            if net is None:
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


# Join subnets -------------------------------------------------------------------------------
def join_networks(ports, own_port):
    """[(network, port name, gateway node or None)] of the cluster router's ports but
    ``own_port``; ``ports`` is [(port name, networks (texts), gateway node or None)]."""
    out = []
    for name, networks, gateway in ports:
        if name == own_port:
            continue
        for text in networks:
            try:
                net = ipaddress.ip_interface(text).network
            except ValueError:
                continue  # not ours to judge
            out.append((net, name, gateway))
    return out


def join_subnet(node, wanted, current, taken, join_range=JOIN_RANGE, join_prefix=JOIN_PREFIX,
                cluster=(), cluster_router=_names.CLUSTER_ROUTER):
    """The join subnet of ``node``'s gateway (an ``ip_network``): ``wanted`` (the one given),
    else the network of ``current`` (the networks its own port on the cluster router has, as
    texts), else the lowest free /join_prefix of ``join_range``; never one that overlaps
    ``taken`` (:func:`join_networks` of the cluster router's other ports) or the cluster's pod
    subnets (``cluster``, texts)."""
    what = 'gateway router %s' % _names.gateway_router(node)
    pods = [ipaddress.ip_network(c) for c in cluster]
    if wanted:
        join = ipaddress.ip_network(check_network(wanted, what + ' join_subnet'))
        for net in pods:
            if net.version == join.version and net.overlaps(join):
                raise InvalidInput('%s: join_subnet %s overlaps the cluster subnet %s' % (what, join, net))
        for net, port, owner in taken:
            if net.version == join.version and net.overlaps(join):
                raise Conflict('%s: join_subnet %s overlaps %s of logical router port %s on the cluster '
                               'router %s%s; give each gateway its own join subnet or leave it empty to '
                               'allocate one' % (what, join, net, port, cluster_router,
                                                 ' (gateway %s)' % owner if owner else ''))
        return join
    if current:
        # Stable: a gateway keeps the join subnet it has.
        return ipaddress.ip_interface(current[0]).network
    pool = ipaddress.ip_network(check_network(join_range, what + ' join_range'))
    if pool.version != 4 or not pool.prefixlen <= join_prefix <= 30:
        raise InvalidInput('%s: join_prefix %s does not fit the IPv4 join_range %s: it must be between '
                           '%d and 30' % (what, join_prefix, pool, pool.prefixlen))
    busy = [net for net, dummy, dummy2 in taken if net.version == 4] + [n for n in pods if n.version == 4]
    chosen = lowest_free(pool, join_prefix, busy)
    if chosen is None:
        raise InvalidInput('%s: the join_range %s has no free /%d left (%d networks on the cluster '
                           'router %s)' % (what, pool, join_prefix, len(busy), cluster_router))
    return chosen


# Node addresses -----------------------------------------------------------------------------
def node_addresses(subnet, what='node subnet'):
    """Every address of a node's network, derived from its subnet (IPv4).

    The first address is the cluster router's port, the second the management port.
    """
    net = parse_network(subnet, what)
    if net.version != 4 or net.prefixlen > 30:
        raise InvalidInput('%s: %s must be an IPv4 network of /30 or larger (it holds the router '
                           'port and the management port)' % (what, subnet))
    router_ip, mgmt_ip = net.network_address + 1, net.network_address + 2
    return dict(subnet=str(net),
                router_ip=str(router_ip), router_cidr='%s/%d' % (router_ip, net.prefixlen),
                router_mac=_names.mac_from_ip(router_ip),
                mgmt_ip=str(mgmt_ip), mgmt_cidr='%s/%d' % (mgmt_ip, net.prefixlen),
                mgmt_mac=_names.mac_from_ip(mgmt_ip))


# Pod addresses ------------------------------------------------------------------------------
def parse_exclude_ips(text):
    """(set of addresses, [(low, high)]) of a switch's ``other_config:exclude_ips`` text."""
    out = set()
    ranges = []
    for item in (text or '').split():
        if '..' in item:
            lo, hi = item.split('..', 1)
            ranges.append((ipaddress.ip_address(lo), ipaddress.ip_address(hi)))
        else:
            out.add(ipaddress.ip_address(item))
    return out, ranges


class SwitchAddresses(object):
    """The pod addresses of one node switch as one batch sees them (see the module's text).

    The addresses in use are read (``used``, a mapping or a function that returns one) only
    when first asked for; what is reserved before that is kept aside and laid over them."""

    def __init__(self, name, subnet, exclude_ips=None, used=None, cursors=None):
        self.name = name
        self.subnet = ipaddress.ip_network(subnet)
        addrs = node_addresses(str(self.subnet))
        self.gateway = ipaddress.ip_address(addrs['router_ip'])
        self.mgmt = ipaddress.ip_address(addrs['mgmt_ip'])
        self.excluded, self.ranges = parse_exclude_ips(exclude_ips)
        self._source = used
        self._used = None
        self._pending = {}
        self.cursors = {} if cursors is None else cursors

    @property
    def used(self):
        """{address: port name} of every address on the switch plus those reserved here."""
        if self._used is None:
            source = self._source() if callable(self._source) else self._source
            used = dict(source or {})
            used.update(self._pending)
            self._used, self._pending, self._source = used, {}, None
        return self._used

    def reserve(self, ip, port):
        (self._pending if self._used is None else self._used)[ip] = port

    def release(self, port):
        """Forget the addresses reserved here for ``port`` (those on the switch stay in use
        until the removal is committed: never handed out twice within one batch)."""
        self._pending = dict((ip, p) for ip, p in self._pending.items() if p != port)
        if self._used is not None:
            self._used = dict((ip, p) for ip, p in self._used.items() if p != port)

    def reserved(self, ip):
        """Why ``ip`` can never be a pod's, or None."""
        if ip not in self.subnet or ip in (self.subnet.network_address, self.subnet.broadcast_address):
            return 'it is outside the usable range of %s' % self.subnet
        if ip == self.gateway:
            return 'it is the router address of %s' % self.subnet
        if ip == self.mgmt:
            return 'it is the management address of %s' % self.subnet
        if ip in self.excluded or any(lo <= ip <= hi for lo, hi in self.ranges):
            return 'it is in exclude_ips of logical switch %s' % self.name
        return None

    def allocate(self, port):
        """The next free address after the last one handed out on this switch (after the
        highest in use when none was, as after a restart), wrapping around; None when full."""
        first, last = int(self.subnet.network_address) + 1, int(self.subnet.broadcast_address) - 1
        start = self.cursors.get(self.name)
        if start is None or not first <= start <= last:
            taken = [int(ip) for ip in self.used if ip in self.subnet]
            start = max(taken) + 1 if taken else first
        for offset in range(last - first + 1):
            candidate = first + (start - first + offset) % (last - first + 1)
            ip = ipaddress.ip_address(candidate)
            if ip not in self.used and self.reserved(ip) is None:
                self.used[ip] = port
                self.cursors[self.name] = candidate + 1
                return ip
        return None
