# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""OVN Northbound operations: the one implementation of each, shared by the
modules, the roles (through the modules) and the watcher.

Every ``ensure_*``/``remove_*`` function reads the IDL copy held by a
:class:`~._ovsdb.Client`, records what it would change in a
:class:`~._txn.ChangeSet` and writes nothing itself.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import (
    check_ip,
    check_mac,
    check_network,
    check_node_name,
    merge_tables,
    purged,
    strs,
)
# The names live in _names; these two stay importable from here for existing callers.
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._names import (
    gateway_names,
    mac_from_ip,
)
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _txn
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import plain
# Join subnets, node addresses (and node subnets, pod addresses) are decided in _ipam; a sweep
# asks _owners whose rows it may remove.
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _ipam, _owners

# Tables (and columns) each kind of operation reads; modules register only these.
SWITCH_TABLES = {
    'Logical_Switch': ['name', 'ports', 'other_config', 'external_ids'],
}
LSP_TABLES = {
    'Logical_Switch': ['name', 'ports'],
    'Logical_Switch_Port': ['name', 'type', 'addresses', 'port_security', 'options',
                            'parent_name', 'tag_request', 'enabled', 'external_ids'],
}
ROUTER_TABLES = {
    'Logical_Router': ['name', 'ports', 'static_routes', 'nat', 'options', 'external_ids',
                       'enabled'],
}
LRP_TABLES = {
    'Logical_Router': ['name', 'ports'],
    'Logical_Router_Port': ['name', 'mac', 'networks', 'peer', 'options', 'external_ids',
                            'enabled'],
}
ROUTE_TABLES = {
    'Logical_Router': ['name', 'static_routes'],
    'Logical_Router_Static_Route': ['ip_prefix', 'nexthop', 'output_port', 'policy',
                                    'external_ids'],
}
NAT_TABLES = {
    'Logical_Router': ['name', 'nat'],
    'NAT': ['type', 'external_ip', 'logical_ip', 'external_mac', 'logical_port',
            'external_port_range', 'external_ids'],
}


def lsp_conditions(name, switch):
    """Fetch only the named port and switch: other ports and switches stay on the server."""
    return {'Logical_Switch_Port': [['name', '==', name]],
            'Logical_Switch': [['name', '==', switch]]}


# Validation -------------------------------------------------------------
def check_addresses(addresses, what):
    """Validate a logical switch port's ``addresses`` entries."""
    out = []
    for entry in addresses:
        words = str(entry).split()
        if not words:
            raise InvalidInput('%s: an empty entry in addresses' % what)
        if len(words) == 1 and words[0] in ('dynamic', 'router', 'unknown'):
            out.append(words[0])
            continue
        check_mac(words[0], '%s: addresses entry %r' % (what, entry))
        for word in words[1:]:
            if word == 'dynamic' and len(words) == 2:
                continue
            check_ip(word.split('/')[0], '%s: addresses entry %r' % (what, entry))
        out.append(' '.join([words[0].lower()] + words[1:]))
    return out


def check_exclude_ips(items, subnet, what):
    """``other_config:exclude_ips`` entries: IPs or ranges ``A..B`` inside ``subnet``."""
    net = ipaddress.ip_network(subnet) if subnet else None
    for item in items:
        for ip in str(item).split('..'):
            addr = ipaddress.ip_address(check_ip(ip, '%s: exclude_ips entry %r' % (what, item)))
            if net is not None and addr not in net:
                raise InvalidInput('%s: exclude_ips entry %r is outside the subnet %s'
                                   % (what, item, subnet))
    return ' '.join(str(i) for i in items)


# Finding ----------------------------------------------------------------
def get_switch(client, name):
    return client.find_one('Logical_Switch', 'name', name)


def get_router(client, name):
    return client.find_one('Logical_Router', 'name', name)


# A port and the table of the object that holds it, with their words for messages.
_LSP = ('Logical_Switch_Port', 'logical switch port', 'Logical_Switch', 'logical switch')
_LRP = ('Logical_Router_Port', 'logical router port', 'Logical_Router', 'logical router')


def owner_of(client, kind, port):
    """The name of the switch or router whose ``ports`` hold ``port``, or None."""
    parent = client.holder(kind[2], port)
    if parent is not None:
        return parent.name
    if kind[2] in client.conditions:
        # A narrow read fetched only the wanted parent: ask the server for the real one.
        with client.other_view({kind[2]: ['name', 'ports']},
                               {kind[2]: [['ports', 'includes', ['uuid', str(port.uuid)]]]}) as view:
            for parent in view.rows(kind[2]):
                return parent.name
    return None


def _port_on(cs, client, kind, name, parent, removing=False):
    """The port row named ``name`` if it sits on ``parent``; a Conflict if it sits elsewhere.

    When the port does not exist yet, its parent must exist or be created earlier in ``cs``.
    """
    table, word, parent_table, parent_word = kind
    row = client.find_one(table, 'name', name)
    if row is not None:
        # Where it should be, asked of that parent's own ports (no index of every parent's).
        expected = client.find_one(parent_table, 'name', parent)
        owner = parent if expected is not None and client.holds(expected, 'ports', row) else owner_of(client, kind, row)
        if owner != parent:
            raise Conflict('%s %s exists on %s %s, not on %s; %s'
                           % (word, name, parent_word, owner or '(none)', parent,
                              'refusing to remove it' if removing else 'remove it there first'))
    elif not removing and client.find_one(parent_table, 'name', parent) is None \
            and not cs.will_create('%s %s' % (parent_table, parent)):
        raise Conflict('%s %s: %s %s does not exist' % (word, name, parent_word, parent))
    return row


def _columns(row, columns):
    return dict((c, plain(getattr(row, c))) for c in columns)


def _wanted(**columns):
    return dict((k, v) for k, v in columns.items() if v is not None)


# Logical switches -------------------------------------------------------
def ensure_switch(cs, client, name, subnet=None, exclude_ips=None, other_config=None,
                  external_ids=None, purge_other_config=False, purge_external_ids=False):
    what = 'logical switch %s' % name
    other = dict(strs(other_config, what + ' other_config') or {})
    if subnet is not None:
        other['subnet'] = check_network(subnet, what + ' subnet')
    if exclude_ips is not None:
        # An empty list removes the key.
        other['exclude_ips'] = (check_exclude_ips(exclude_ips, other.get('subnet'), what)
                                if exclude_ips else None)
    wanted = _wanted(external_ids=strs(external_ids, what + ' external_ids'))
    if other or purge_other_config:
        wanted['other_config'] = other
    row = get_switch(client, name)
    label = 'Logical_Switch %s' % name
    if row is None:
        wanted['other_config'] = dict((k, v) for k, v in other.items() if v is not None)
        wanted.setdefault('external_ids', {})
        cs.create(label, dict(wanted, name=name),
                  lambda api: api.ls_add(name, may_exist=False, **wanted),
                  unique=('Logical_Switch', name))
        return
    cs.converge(label, 'Logical_Switch', row, wanted,
                purge=purged(other_config=purge_other_config, external_ids=purge_external_ids))


def remove_switch(cs, client, name):
    row = get_switch(client, name)
    if row is not None:
        cs.delete('Logical_Switch %s' % name, row, ['other_config', 'external_ids'],
                  lambda api: api.ls_del(row.uuid, if_exists=False))


# Logical switch ports ---------------------------------------------------
def ensure_lsp(cs, client, switch, name, addresses=None, port_security=None, port_type=None,
               options=None, parent_name=None, tag=None, enabled=None, external_ids=None,
               purge_options=False, purge_external_ids=False):
    what = 'logical switch port %s' % name
    if (parent_name is None) != (tag is None):
        raise InvalidInput('%s: parent_name and tag go together (a container port inside a '
                           'VM needs both)' % what)
    if tag is not None and not 0 <= int(tag) <= 4095:
        raise InvalidInput('%s: tag %s is outside 0-4095' % (what, tag))
    wanted = _wanted(
        type=port_type,
        addresses=check_addresses(addresses, what) if addresses is not None else None,
        port_security=check_addresses(port_security, what + ' port_security')
        if port_security is not None else None,
        options=strs(options, what + ' options'),
        external_ids=strs(external_ids, what + ' external_ids'),
        enabled=[bool(enabled)] if enabled is not None else None,
        parent_name=[parent_name] if parent_name is not None else None,
        tag_request=[int(tag)] if tag is not None else None,
    )
    row = _port_on(cs, client, _LSP, name, switch)
    label = 'Logical_Switch_Port %s' % name
    if row is None:
        columns = dict(wanted)
        parent = columns.pop('parent_name', [None])[0]
        tag_req = columns.pop('tag_request', [None])[0]
        cs.create(label, dict(wanted, name=name, switch=switch),
                  lambda api: api.lsp_add(switch, name, parent_name=parent, tag=tag_req,
                                          may_exist=False, **columns),
                  indexed=('Logical_Switch_Port', 'name'))
        return
    cs.converge(label, 'Logical_Switch_Port', row, wanted,
                purge=purged(options=purge_options, external_ids=purge_external_ids))


def remove_lsp(cs, client, name, switch):
    row = _port_on(cs, client, _LSP, name, switch, removing=True)
    if row is None:
        return
    cs.delete('Logical_Switch_Port %s' % name, row, ['type', 'addresses', 'external_ids'],
              lambda api: api.lsp_del(row.uuid, if_exists=False))


# Logical routers --------------------------------------------------------
def ensure_router(cs, client, name, options=None, external_ids=None, enabled=None,
                  purge_options=False, purge_external_ids=False):
    what = 'logical router %s' % name
    wanted = _wanted(options=strs(options, what + ' options'),
                     external_ids=strs(external_ids, what + ' external_ids'),
                     enabled=[bool(enabled)] if enabled is not None else None)
    row = get_router(client, name)
    label = 'Logical_Router %s' % name
    if row is None:
        cs.create(label, dict(wanted, name=name),
                  lambda api: api.lr_add(name, may_exist=False, **wanted),
                  unique=('Logical_Router', name))
        return
    cs.converge(label, 'Logical_Router', row, wanted,
                purge=purged(options=purge_options, external_ids=purge_external_ids))


def remove_router(cs, client, name):
    row = get_router(client, name)
    if row is not None:
        cs.delete('Logical_Router %s' % name, row, ['options', 'external_ids'],
                  lambda api: api.lr_del(row.uuid, if_exists=False))


# Logical router ports ---------------------------------------------------
def ensure_lrp(cs, client, router, name, mac, networks, peer=None, options=None,
               external_ids=None, enabled=None, purge_options=False, purge_external_ids=False):
    what = 'logical router port %s' % name
    if not networks:
        raise InvalidInput('%s: networks must hold at least one CIDR such as 10.128.1.1/24'
                           % what)
    wanted = _wanted(
        mac=check_mac(mac, what + ' mac'),
        networks=[check_network(n, what + ' networks', strict=False) for n in networks],
        # Not given (None) leaves the peer alone; '' removes it.
        peer=[peer] if peer else ([] if peer == '' else None),
        options=strs(options, what + ' options'),
        external_ids=strs(external_ids, what + ' external_ids'),
        enabled=[bool(enabled)] if enabled is not None else None,
    )
    row = _port_on(cs, client, _LRP, name, router)
    label = 'Logical_Router_Port %s' % name
    if row is None:
        columns = dict(wanted)
        mac_, nets = columns.pop('mac'), columns.pop('networks')
        peer_ = (columns.pop('peer', None) or [None])[0]
        cs.create(label, dict(wanted, name=name, router=router),
                  lambda api: api.lrp_add(router, name, mac_, nets, peer=peer_,
                                          may_exist=False, **columns),
                  indexed=('Logical_Router_Port', 'name'))
        return
    cs.converge(label, 'Logical_Router_Port', row, wanted,
                purge=purged(options=purge_options, external_ids=purge_external_ids))


def remove_lrp(cs, client, name, router):
    row = _port_on(cs, client, _LRP, name, router, removing=True)
    if row is None:
        return
    cs.delete('Logical_Router_Port %s' % name, row, ['mac', 'networks'],
              lambda api: api.lrp_del(row.uuid, if_exists=False))


# Static routes ----------------------------------------------------------
def ensure_route(cs, client, router, prefix, nexthop, output_port=None, policy='dst-ip',
                 external_ids=None):
    """One route per (router, prefix, policy): converges its nexthop and output port."""
    what = 'route %s on logical router %s' % (prefix, router)
    prefix = check_network(prefix, what) if '/' in prefix else check_ip(prefix, what)
    nexthop = check_ip(nexthop, what + ' nexthop')
    label = _route_label(router, prefix, policy)
    lr = get_router(client, router)
    existing = [r for r in lr.static_routes if r.ip_prefix == prefix and
                (r.policy or ['dst-ip'])[0] == policy] if lr is not None else []
    wanted = dict(ip_prefix=prefix, nexthop=nexthop, policy=[policy],
                  output_port=[output_port] if output_port else [],
                  external_ids=strs(external_ids, what + ' external_ids') or {})
    if not existing:
        # Another client adding the same route in the meantime must not make two.
        cs.create(label, plain(wanted), _txn.add_child('Logical_Router_Static_Route', 'Logical_Router',
                                                       _txn.key_of(lr, router), 'static_routes', wanted),
                  under=('Logical_Router', lr, ['static_routes']))
        return
    # Duplicates left by other tools: keep the first, drop the rest.
    for extra in existing[1:]:
        cs.record(label + ' (duplicate %s)' % extra.uuid, _columns(extra, ['nexthop']), None,
                  [_txn.unlink('Logical_Router', lr.uuid, 'static_routes', extra.uuid)])
    cs.converge(label, 'Logical_Router_Static_Route', existing[0], wanted)


def remove_routes(cs, client, router, keep=None, match=None, owner=None, writer=_owners.ROLES):
    """Remove routes of ``router`` that ``match(route)`` and are not in ``keep`` prefixes.

    With ``owner`` (external_ids that name whose routes these are, on a router others write
    to too), only the routes ``writer`` owns that carry them (``_owners.may_remove``)."""
    lr = get_router(client, router)
    if lr is None:
        return
    for route in lr.static_routes:
        if match is not None and not match(route):
            continue
        if owner is not None and not _owners.may_remove(writer, route.external_ids, owner):
            continue
        if keep and route.ip_prefix in keep:
            continue
        label = _unused_label(cs, _route_label(router, route.ip_prefix,
                                               (route.policy or ['dst-ip'])[0]), route)
        cs.record(label, _columns(route, ['nexthop', 'external_ids']), None,
                  [_txn.unlink('Logical_Router', lr.uuid, 'static_routes', route.uuid)])


def _route_label(router, prefix, policy):
    # A dst-ip and a src-ip route may share a prefix: the policy tells them apart.
    label = 'Logical_Router_Static_Route %s %s' % (router, prefix)
    return label if policy == 'dst-ip' else '%s %s' % (label, policy)


def _unused_label(cs, label, row):
    """``label``, or ``label`` and the row's UUID when another row of this run already has it."""
    if label in cs.before or label in cs.after:
        return '%s %s' % (label, row.uuid)
    return label


# NAT --------------------------------------------------------------------
def nat_key(nat_type, external_ip, logical_ip):
    """The identity of a NAT rule, as ovn-nbctl lr-nat-add understands it."""
    return (nat_type, logical_ip if nat_type == 'snat' else external_ip)


def ensure_nat(cs, client, router, nat_type, external_ip, logical_ip, external_ids=None,
               external_port_range=None):
    """``external_port_range`` ('LO-HI', '' for none, None: left as it is) is the ports an
    SNAT picks from."""
    what = '%s rule %s -> %s on logical router %s' % (nat_type, logical_ip, external_ip, router)
    external_ip = check_ip(external_ip, what + ' external_ip')
    logical_ip = (check_network(logical_ip, what + ' logical_ip') if '/' in logical_ip
                  else check_ip(logical_ip, what + ' logical_ip'))
    key = nat_key(nat_type, external_ip, logical_ip)
    label = 'NAT %s %s %s' % (router, nat_type, key[1])
    lr = get_router(client, router)
    existing = [n for n in lr.nat if nat_key(n.type, n.external_ip, n.logical_ip) == key] \
        if lr is not None else []
    wanted = dict(type=nat_type, external_ip=external_ip, logical_ip=logical_ip,
                  external_ids=strs(external_ids, what + ' external_ids') or {})
    if external_port_range is not None:
        wanted['external_port_range'] = external_port_range
    if not existing:
        cs.create(label, plain(wanted), _txn.add_child('NAT', 'Logical_Router', _txn.key_of(lr, router), 'nat', wanted),
                  under=('Logical_Router', lr, ['nat']))
        return
    for extra in existing[1:]:
        cs.record(label + ' (duplicate %s)' % extra.uuid,
                  _columns(extra, ['external_ip', 'logical_ip']), None,
                  [_txn.unlink('Logical_Router', lr.uuid, 'nat', extra.uuid)])
    cs.converge(label, 'NAT', existing[0], wanted)


def remove_nats(cs, client, router, keep=(), match=None, owner=None, writer=_owners.ROLES):
    """Remove the NAT rules of ``router`` that ``match(nat)`` and whose :func:`nat_key` is
    not in ``keep``; with ``owner``, only those ``writer`` owns that carry it (as
    :func:`remove_routes`)."""
    lr = get_router(client, router)
    if lr is None:
        return
    for nat in lr.nat:
        key = nat_key(nat.type, nat.external_ip, nat.logical_ip)
        if key in keep or (match is not None and not match(nat)):
            continue
        if owner is not None and not _owners.may_remove(writer, nat.external_ids, owner):
            continue
        cs.record(_unused_label(cs, 'NAT %s %s %s' % (router, key[0], key[1]), nat),
                  _columns(nat, ['external_ip', 'logical_ip']), None,
                  [_txn.unlink('Logical_Router', lr.uuid, 'nat', nat.uuid)])


# Gateway router (what ovn-k8s-overlay gateway-init did) --------------------
GATEWAY_TABLES = merge_tables(SWITCH_TABLES, LSP_TABLES, ROUTER_TABLES, LRP_TABLES, ROUTE_TABLES,
                              NAT_TABLES)
GATEWAY_ID_KEY = _names.GATEWAY_KEY


def _gateway_addresses(node, physical_ip, default_gateway, join_subnet):
    what = 'gateway router GR_%s' % node
    ext = ipaddress.ip_interface(check_network(physical_ip, what + ' physical_ip', strict=False))
    if ext.version != 4:
        raise InvalidInput('%s: physical_ip %s must be IPv4' % (what, physical_ip))
    if ext.ip in (ext.network.network_address, ext.network.broadcast_address):
        raise InvalidInput('%s: physical_ip %s is the network or broadcast address of %s'
                           % (what, physical_ip, ext.network))
    gw = ipaddress.ip_address(check_ip(default_gateway, what + ' default_gateway'))
    if gw not in ext.network:
        raise InvalidInput('%s: default_gateway %s is not in the external network %s'
                           % (what, gw, ext.network))
    join = ipaddress.ip_network(check_network(str(join_subnet), what + ' join_subnet'))
    if join.version != 4 or join.prefixlen > 30:
        raise InvalidInput('%s: join_subnet %s must be an IPv4 network of /30 or larger'
                           % (what, join_subnet))
    return ext, gw, join, join.network_address + 1, join.network_address + 2


JOIN_RANGE = _ipam.JOIN_RANGE
JOIN_PREFIX = _ipam.JOIN_PREFIX
# What the gateway router's SNAT port range may be: none, or the ports outside the host's own
# ephemeral range (a shared-IP gateway: the SNAT must never pick a port the host's connections use).
SNAT_PORT_RANGE_AUTO = 'auto'
_PORT_RANGE = re.compile(r'^([0-9]{1,5})-([0-9]{1,5})$')


def snat_port_range(value, host_range, what):
    """The gateway router's SNAT port range, 'LO-HI' or '' for none (OVN then keeps a pod's
    source port where it can).

    ``value`` is '' (none), ``auto`` (the larger part of 1024-65535 outside ``host_range``) or
    'LO-HI', which must not overlap ``host_range``; ``host_range`` is the host's
    (first, last) ephemeral port (net.ipv4.ip_local_port_range), None when unknown.
    """
    value = (value or '').strip()
    if not value:
        return ''
    if host_range is None:
        raise InvalidInput('%s: snat_port_range %s needs the host\'s ephemeral port range '
                           '(/proc/sys/net/ipv4/ip_local_port_range), which could not be read'
                           % (what, value))
    first, last = host_range
    if value == SNAT_PORT_RANGE_AUTO:
        below, above = (1024, first - 1), (last + 1, 65535)
        best = max(below, above, key=lambda r: r[1] - r[0])
        if best[1] - best[0] < 1023:
            raise InvalidInput('%s: the host\'s ephemeral ports %d-%d leave fewer than 1024 ports '
                               'for the gateway router\'s SNAT: narrow net.ipv4.ip_local_port_range '
                               'or give snat_port_range' % (what, first, last))
        return '%d-%d' % best
    found = _PORT_RANGE.match(value)
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)) <= 65535:
        raise InvalidInput('%s: snat_port_range %r is not auto nor a port range LO-HI within '
                           '1-65535, such as 1024-32767' % (what, value))
    lo, hi = int(found.group(1)), int(found.group(2))
    if lo <= last and first <= hi:
        raise InvalidInput('%s: snat_port_range %s overlaps the host\'s ephemeral ports %d-%d '
                           '(net.ipv4.ip_local_port_range): the gateway router would pick ports of '
                           'the host\'s own connections; give a range outside them or auto'
                           % (what, value, first, last))
    return '%d-%d' % (lo, hi)


def _join_networks(client, cluster_router, own_port):
    """[(network, port name, gateway node or None)] of every port on the cluster router but ``own_port``."""
    cr = get_router(client, cluster_router)
    return _ipam.join_networks([(port.name, port.networks, port.external_ids.get(GATEWAY_ID_KEY))
                                for port in (cr.ports if cr is not None else [])], own_port)


def _pick_join_subnet(client, node, cluster_router, join_subnet, join_range, join_prefix, cluster=()):
    """The join subnet of ``node``'s gateway (``_ipam.join_subnet``): the one given, else the
    one it has, else the lowest free /join_prefix of ``join_range``; never one that overlaps
    another port of the cluster router or the cluster's pod subnets (``cluster``)."""
    own_port = gateway_names(node)['cr_port']
    taken = _join_networks(client, cluster_router, own_port)
    current = None
    if not join_subnet:
        own = client.find_one('Logical_Router_Port', 'name', own_port)
        current = list(own.networks) if own is not None else None
    return _ipam.join_subnet(node, join_subnet, current, taken, join_range, join_prefix, cluster,
                             cluster_router)


def ensure_gateway_router(cs, client, node, chassis, physical_ip, physical_mac, default_gateway,
                          cluster_subnets, join_subnet=None, cluster_router=_names.CLUSTER_ROUTER,
                          rampout_subnets=None, network_name='physnet', join_range=JOIN_RANGE,
                          join_prefix=JOIN_PREFIX, snat_port_range=''):
    """Create or converge everything north-south traffic of ``node`` needs, as
    gateway-init did, without ever duplicating a route or a NAT rule.

    Without ``join_subnet`` the gateway keeps the join subnet it has, or gets the lowest
    free /``join_prefix`` of ``join_range``. What it reads of the shared cluster router
    (its routes and ports) is verified when it commits, so gateways converging in
    parallel cannot both take the default route or one join subnet.

    ``snat_port_range`` ('LO-HI' or '' for none, see :func:`snat_port_range`) is the ports the
    SNAT of the pods picks from."""
    what = 'gateway router GR_%s' % node
    n = gateway_names(node)
    _gateway_addresses(node, physical_ip, default_gateway, join_subnet or '100.64.0.0/29')
    if get_router(client, cluster_router) is None:
        raise Conflict('%s: the cluster router %s does not exist; run the central setup first'
                       % (what, cluster_router))
    if not cluster_subnets:
        raise InvalidInput('%s: cluster_subnets must name at least one CIDR' % what)
    cluster = [check_network(s, what + ' cluster_subnets') for s in cluster_subnets]
    join_subnet = _pick_join_subnet(client, node, cluster_router, join_subnet, join_range,
                                    join_prefix, cluster)
    ext, gw, join, cr_ip, gr_ip = _gateway_addresses(node, physical_ip, default_gateway,
                                                     join_subnet)
    physical_mac = check_mac(physical_mac, what + ' physical_mac')
    rampout = [check_network(s, what + ' rampout_subnets') for s in (rampout_subnets or [])]
    for sub in rampout:
        if not any(ipaddress.ip_network(sub).subnet_of(ipaddress.ip_network(c)) for c in cluster):
            raise InvalidInput('%s: rampout subnet %s is not inside the cluster subnets %s'
                               % (what, sub, ', '.join(cluster)))
    tag = {GATEWAY_ID_KEY: node}
    prefix = '%d' % join.prefixlen

    # The cluster router's default (or source-ip) routes must not fight another gateway's.
    cr = get_router(client, cluster_router)
    # Checked again when committing: another gateway may be converging at the same time.
    cs.expect_unchanged('Logical_Router', cr, ['static_routes', 'ports'])
    wanted_cr_routes = ([(s, 'src-ip') for s in rampout] if rampout else [('0.0.0.0/0', 'dst-ip')])
    for route in cr.static_routes:
        owner = route.external_ids.get(GATEWAY_ID_KEY)
        policy = (route.policy or ['dst-ip'])[0]
        if (route.ip_prefix, policy) in wanted_cr_routes and owner not in (None, node):
            raise Conflict('%s: the cluster router %s already sends %s (%s) to gateway %s; give '
                           'this gateway other rampout_subnets or remove that gateway first'
                           % (what, cluster_router, route.ip_prefix, policy, owner))

    ensure_router(cs, client, n['router'], options={'chassis': chassis},
                  external_ids=dict(tag, **{_names.GATEWAY_PHYSICAL_IP_KEY: str(ext.ip)}))
    # Join network between the cluster router and the gateway router.
    ensure_switch(cs, client, n['join'], external_ids=tag)
    ensure_lrp(cs, client, cluster_router, n['cr_port'], mac_from_ip(cr_ip),
               ['%s/%s' % (cr_ip, prefix)], external_ids=tag)
    ensure_lsp(cs, client, n['join'], n['cr_peer'], port_type='router', addresses=['router'],
               options={'router-port': n['cr_port']}, purge_options=True)
    ensure_lrp(cs, client, n['router'], n['gr_join_port'], mac_from_ip(gr_ip),
               ['%s/%s' % (gr_ip, prefix)], external_ids=tag)
    ensure_lsp(cs, client, n['join'], n['gr_join_peer'], port_type='router', addresses=['router'],
               options={'router-port': n['gr_join_port']}, purge_options=True)
    # External network: a localnet port and the router's port with the physical IP.
    ensure_switch(cs, client, n['ext'], external_ids=tag)
    ensure_lsp(cs, client, n['ext'], n['localnet'], port_type='localnet', addresses=['unknown'],
               options={'network_name': network_name}, purge_options=True)
    ensure_lrp(cs, client, n['router'], n['gr_ext_port'], physical_mac, [str(ext)],
               external_ids=tag)
    ensure_lsp(cs, client, n['ext'], n['gr_ext_peer'], port_type='router', addresses=['router'],
               options={'router-port': n['gr_ext_port']}, purge_options=True)
    # Routes: out via the external gateway, back into the cluster via the cluster router.
    gr_routes = [('0.0.0.0/0', str(gw), n['gr_ext_port'])]
    gr_routes += [(c, str(cr_ip), None) for c in cluster]
    for pfx, nexthop, port in gr_routes:
        ensure_route(cs, client, n['router'], pfx, nexthop, output_port=port, external_ids=tag)
    remove_routes(cs, client, n['router'], keep=[route[0] for route in gr_routes])
    for pfx, policy in wanted_cr_routes:
        ensure_route(cs, client, cluster_router, pfx, str(gr_ip), policy=policy, external_ids=tag)
    remove_routes(cs, client, cluster_router, owner=tag,
                  match=lambda r: (r.ip_prefix, (r.policy or ['dst-ip'])[0]) not in wanted_cr_routes)
    # SNAT of the pod subnets (or only the rampout ones) to the physical IP.
    snat = rampout or cluster
    for sub in snat:
        ensure_nat(cs, client, n['router'], 'snat', str(ext.ip), sub, external_ids=tag,
                   external_port_range=snat_port_range)
    remove_nats(cs, client, n['router'], keep=[nat_key('snat', str(ext.ip), s) for s in snat])
    return dict(router=n['router'], join_switch=n['join'], external_switch=n['ext'],
                join_ip=str(gr_ip), cluster_router_join_ip=str(cr_ip), join_subnet=str(join))


def remove_gateway_router(cs, client, node, cluster_router=_names.CLUSTER_ROUTER):
    """Remove what ensure_gateway_router made for ``node`` and nothing else."""
    n = gateway_names(node)
    remove_routes(cs, client, cluster_router, owner={GATEWAY_ID_KEY: node})
    remove_lrp(cs, client, n['cr_port'], cluster_router)
    remove_switch(cs, client, n['join'])
    remove_switch(cs, client, n['ext'])
    remove_router(cs, client, n['router'])


# A node's network (what minion-init did) --------------------------------------
NODE_NETWORK_TABLES = merge_tables(SWITCH_TABLES, LSP_TABLES, LRP_TABLES)


# Every address of a node's network, derived from its subnet (the router port's, the management port's).
node_addresses = _ipam.node_addresses


def node_network_names(node):
    return dict(switch=_names.node_switch(node),
                router_port=_names.router_to_switch_port(node),
                switch_port=_names.switch_to_router_port(node),
                mgmt_port=_names.mgmt_port(node),
                mgmt_interface=_names.MGMT_INTERFACE)


def ensure_node_network(cs, client, node, subnet, cluster_router=_names.CLUSTER_ROUTER,
                        external_ids=None):
    """The node's switch with its subnet (the management address excluded from dynamic
    addressing), the cluster router's port to it, the switch's router port and the
    management port's logical port. Returns the addresses and names (see node_addresses)."""
    check_node_name(node, 'node %r' % (node,))
    addrs = node_addresses(subnet, 'node %s subnet' % node)
    names = node_network_names(node)
    if get_router(client, cluster_router) is None \
            and not cs.will_create('Logical_Router %s' % cluster_router):
        raise Conflict('node %s: the cluster router %s does not exist; run the central setup first'
                       % (node, cluster_router))
    ensure_switch(cs, client, names['switch'], subnet=addrs['subnet'],
                  exclude_ips=[addrs['mgmt_ip']], external_ids=external_ids)
    ensure_lrp(cs, client, cluster_router, names['router_port'], addrs['router_mac'],
               [addrs['router_cidr']], external_ids=external_ids)
    ensure_lsp(cs, client, names['switch'], names['switch_port'], port_type='router',
               addresses=['router'], options={'router-port': names['router_port']},
               external_ids=external_ids)
    ensure_lsp(cs, client, names['switch'], names['mgmt_port'],
               addresses=['%s %s' % (addrs['mgmt_mac'], addrs['mgmt_ip'])],
               external_ids=external_ids)
    return dict(addrs, **names)


def remove_node_network(cs, client, node, cluster_router=_names.CLUSTER_ROUTER):
    """Remove what ensure_node_network made for ``node``: its switch (with every port on it,
    pods' included) and the cluster router's port to it."""
    names = node_network_names(node)
    if get_switch(client, names['switch']) is not None:
        remove_lsp(cs, client, names['mgmt_port'], names['switch'])
        remove_lsp(cs, client, names['switch_port'], names['switch'])
        remove_switch(cs, client, names['switch'])
    remove_lrp(cs, client, names['router_port'], cluster_router)
