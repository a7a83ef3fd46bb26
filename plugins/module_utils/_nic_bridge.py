# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""Moving a NIC into an Open vSwitch bridge: the one operation that needs both the
local Open vSwitch database (:mod:`._ovs`) and the kernel (:mod:`._netlink`).

The bridge takes the NIC's MAC, addresses and routes, so that the host keeps its
identity on the network and a bridge's flows can share the NIC with OVN.

With the userspace datapath (``netdev``) Open vSwitch reads the NIC through a packet
socket and the kernel still receives every frame that arrives on it. If the NIC kept
the host's MAC, frames for the host would be taken in twice (once on the NIC, once
through the bridge's tap device) and the kernel could answer ARP for the host's
addresses on the NIC itself. So with ``netdev`` the NIC is made a pure layer-2 port:
it gets a MAC of its own (derived from the host's, locally administered), never
answers ARP (``arp_ignore=8``) and carries no IPv6. The kernel datapath takes the
NIC's frames away from the kernel, so it needs none of this.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import socket

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _netlink, _ovs
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import merge_tables, one
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._netlink import (
    NetlinkFailed,
    Plan,
    add_address,
    del_address,
    del_route,
    read_link,
    replace_route,
    route_key,
    set_mac,
    set_up,
    sorted_routes,
)
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import plain

NIC_TO_BRIDGE_TABLES = merge_tables(_ovs.BRIDGE_TABLES, _ovs.PORT_TABLES)
DATAPATH_TYPES = ('system', 'netdev')

# What a NIC inside a userspace bridge must say, as /proc/sys paths and values.
# arp_ignore 8: never answer ARP on this device, whatever address is asked for.
L2_ONLY_SYSCTLS = (
    ('net/ipv4/conf/{nic}/arp_ignore', '8'),
    ('net/ipv6/conf/{nic}/disable_ipv6', '1'),
)


def nic_mac(host_mac):
    """The NIC's own MAC once the host's MAC moved to the bridge.

    Stable (the same host MAC always gives the same NIC MAC, so a re-run changes
    nothing), unicast, locally administered, and never equal to ``host_mac``.
    """
    digest = bytearray(hashlib.sha256(('ovn-k8s nic ' + host_mac.lower()).encode('ascii')).digest()[:6])
    digest[0] = (digest[0] & 0xfc) | 0x02
    mac = ':'.join('%02x' % b for b in digest)
    if mac == host_mac.lower():
        digest[5] ^= 0x01
        mac = ':'.join('%02x' % b for b in digest)
    return mac


def _sysctl_path(relative):
    return os.path.join('/proc/sys', relative)


def read_sysctls(nic):
    """The L2-only settings as they are now: {relative path: value or None if absent}."""
    found = {}
    for template, _wanted in L2_ONLY_SYSCTLS:
        path = _sysctl_path(template.format(nic=nic))
        try:
            with open(path) as f:
                found[template.format(nic=nic)] = f.read().strip()
        except (IOError, OSError):
            found[template.format(nic=nic)] = None
    return found


def set_sysctl(relative, value):
    """A :class:`~._netlink.Plan` step writing one /proc/sys setting."""
    def step(ipr):
        try:
            with open(_sysctl_path(relative), 'w') as f:
                f.write(value)
        except (IOError, OSError) as exc:
            raise NetlinkFailed('setting %s to %s: %s' % (relative.replace('/', '.'), value,
                                                          _netlink.os_error(exc.errno)))
    return step


def _moved_routes(nic):
    """The NIC's routes that move with it (not the kernel's, not IPv6 link-local ones)."""
    return [r for r in nic.static_routes
            if not (r['family'] == socket.AF_INET6 and r['dst'].startswith(('fe80:', 'ff00:')))]


def _check(client, ipr, nic_name, bridge, datapath_type):
    """Refuse what cannot be done; return (nic Link, bridge row or None)."""
    what = 'NIC %s' % nic_name
    _ovs.check_ifname(nic_name, what)
    _ovs.check_ifname(bridge, 'bridge %s' % bridge)
    if datapath_type is not None and datapath_type not in DATAPATH_TYPES:
        raise InvalidInput('bridge %s: datapath_type %r is not one of %s'
                           % (bridge, datapath_type, ', '.join(DATAPATH_TYPES)))
    if nic_name == bridge:
        raise InvalidInput('%s: the bridge must have another name than the NIC' % what)
    nic = read_link(ipr, nic_name)
    if nic is None:
        raise Conflict('%s does not exist on this host' % what)
    if nic.master is not None and nic.master_kind != 'openvswitch':
        raise Conflict('%s is already part of %s %s; take it out first'
                       % (what, nic.master_kind or 'device', nic.master))
    port = _ovs.get_port(client, nic_name)
    if port is not None:
        owner = _ovs.bridge_of_port(client, port)
        if owner is None or owner.name != bridge:
            raise Conflict('%s is already a port of the Open vSwitch bridge %s, not of %s'
                           % (what, owner.name if owner is not None else '(none)', bridge))
    if _ovs.get_bridge(client, nic_name) is not None:
        raise Conflict('%s is itself an Open vSwitch bridge' % what)
    br_port = _ovs.get_port(client, bridge)
    if br_port is not None and _ovs.get_bridge(client, bridge) is None:
        raise Conflict('bridge %s: a port of that name exists on bridge %s'
                       % (bridge, _ovs.bridge_of_port(client, br_port).name))
    return nic, _ovs.get_bridge(client, bridge), port is not None


def host_mac_of(nic, br_row, nic_in_bridge):
    """The host's MAC: the NIC's, or, once the NIC is in the bridge, the one the bridge keeps."""
    if nic_in_bridge and br_row is not None:
        kept = plain(br_row.other_config).get('hwaddr')
        if kept:
            return kept.lower()
    return nic.mac


def plan_nic_to_bridge(cs, client, ipr, nic_name, bridge, datapath_type=None):
    """Fill ``cs`` (the OVSDB part) and return ``(plan, host_mac, datapath)``.

    ``datapath_type`` None means: a new bridge is ``system``, an existing one keeps its own.

    Order, so that the host stays reachable: the bridge and its port are committed first;
    then the bridge device comes up and gets the NIC's addresses (so both hold them for a
    moment); then each route is replaced onto the bridge (same destination and metric,
    one atomic change each, the default route included); then the addresses leave the NIC,
    any moved route still left on it goes, and, with the userspace datapath, the NIC
    becomes a layer-2 port with a MAC of its own.
    """
    nic, br_row, nic_in_bridge = _check(client, ipr, nic_name, bridge, datapath_type)
    host_mac = host_mac_of(nic, br_row, nic_in_bridge)
    current = _ovs.datapath_of(br_row) if br_row is not None else None
    datapath = datapath_type or current or 'system'

    _ovs.ensure_bridge(cs, client, bridge, datapath_type=datapath_type,
                       other_config={'hwaddr': host_mac})
    _ovs.ensure_port(cs, client, bridge, nic_name)

    plan = Plan()
    br = read_link(ipr, bridge)
    moving = nic.global_addresses
    routes = _moved_routes(nic)
    on_bridge = br.global_addresses if br is not None else []
    br_routes = br.static_routes if br is not None else []
    br_keys = set(route_key(r) for r in br_routes)

    nic_steps = []
    if not nic.up:
        nic_steps.append(set_up(nic_name))
    br_steps = [set_up(bridge)] if br is None or not br.up else []
    add = [a for a in moving if a not in on_bridge]
    br_steps += [add_address(bridge, a, nodad=True) for a in add]
    # Gateway-less routes first, so that each gateway is on-link when its route moves.
    for route in sorted(routes, key=lambda r: r['via'] is not None):
        br_steps.append(replace_route(route, bridge))
    nic_steps += [del_address(nic_name, a) for a in moving]
    nic_steps += [del_route(r, nic_name) for r in routes]

    nic_before = dict(addresses=sorted(moving), routes=sorted_routes(routes), up=nic.up)
    nic_after = dict(addresses=[], routes=[], up=True)
    if datapath == 'netdev':
        # The NIC stops being the host: a MAC of its own, no ARP answers, no IPv6.
        own_mac = nic_mac(host_mac)
        nic_before['mac'], nic_after['mac'] = nic.mac, own_mac
        if nic.mac != own_mac:
            nic_steps.append(set_mac(nic_name, own_mac))
        sysctls = read_sysctls(nic_name)
        for template, wanted in L2_ONLY_SYSCTLS:
            relative = template.format(nic=nic_name)
            if sysctls[relative] is None:
                continue    # e.g. IPv6 disabled on the whole host: nothing to turn off
            nic_before[relative], nic_after[relative] = sysctls[relative], wanted
            if sysctls[relative] != wanted:
                nic_steps.append(set_sysctl(relative, wanted))

    # One label per device; the bridge's steps are recorded (and run) before the NIC's.
    plan.bridge_addresses = sorted(set(on_bridge) | set(moving))
    moved_routes = [dict(r, dev=bridge) for r in routes if route_key(r) not in br_keys]
    br_before = None if br is None else dict(
        addresses=sorted(on_bridge), routes=sorted_routes(br_routes), up=br.up)
    plan.record('Link %s' % bridge, br_before, dict(
        mac=host_mac, up=True, addresses=plan.bridge_addresses,
        routes=sorted_routes(br_routes + moved_routes)), br_steps)
    plan.record('Link %s' % nic_name, nic_before, nic_after, nic_steps)
    return plan, host_mac, datapath


def ovs_interface_error(client, name):
    """ovs-vswitchd's word on an interface (its error column), for failure messages."""
    row = client.find_one('Interface', 'name', name)
    if row is None:
        return 'the Interface %s is not in the database' % name
    error = one(plain(row.error)) if hasattr(row, 'error') else None
    if error:
        return 'ovs-vswitchd says: %s' % error
    return 'ovs-vswitchd recorded no error on it'


def nic_to_bridge(client, cs, nic_name, bridge, datapath_type, check_mode, timeout):
    """The whole of the nic_to_bridge module; returns its result dict."""
    with _netlink.open_ipr() as ipr:
        plan, host_mac, datapath = plan_nic_to_bridge(cs, client, ipr, nic_name, bridge, datapath_type)
        if not check_mode:
            cs.commit()
            if plan.changed or cs.changed:
                _netlink.wait_link(ipr, bridge, timeout, mac=host_mac,
                                   why=lambda: ovs_interface_error(client, bridge))
                plan.apply(ipr)
    diff = dict(before=dict(cs.before, **plan.before), after=dict(cs.after, **plan.after))
    return dict(changed=cs.changed or plan.changed, diff=diff, bridge=bridge, nic=nic_name,
                mac=host_mac, datapath_type=datapath, addresses=plan.bridge_addresses)
