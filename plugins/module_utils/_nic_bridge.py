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

import errno
import hashlib
import json
import os
import re
import socket
import sys

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _netlink, _ovs
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import merge_tables, one
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._netlink import (
    NetlinkFailed,
    Plan,
    add_address,
    announce,
    del_address,
    del_route,
    read_link,
    replace_route,
    route_key,
    set_mac,
    set_mtu,
    set_tx_checksum,
    set_up,
    sorted_routes,
    tx_checksum,
)
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import Conflict, InvalidInput, OvnK8sError
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import plain

NIC_TO_BRIDGE_TABLES = merge_tables(_ovs.BRIDGE_TABLES, _ovs.PORT_TABLES)
DATAPATH_TYPES = ('system', 'netdev')
# Stamped on a bridge this module creates, so that state=absent removes only such a bridge.
CREATED_BY = {'ovn-k8s-created-by': 'nic_to_bridge'}
# Where persist=true keeps each move's description (<NIC>.json, root-only), which the boot-time
# unit ovn-k8s-nic-bridge.service (agents/bin/ovn-k8s-nic-bridge) redoes before the network is
# declared online.
PERSIST_DIR = '/etc/ovn-k8s/nic-bridge'

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


def host_mac_of(nic, br_row, nic_in_bridge, saved_mac=None):
    """The host's MAC: the NIC's, or, once the NIC is in the bridge, the one the bridge keeps
    (or, at boot on a bridge the database lost, the one the move's description saved)."""
    if nic_in_bridge and br_row is not None:
        kept = plain(br_row.other_config).get('hwaddr')
        if kept:
            return kept.lower()
    if saved_mac:
        return saved_mac.lower()
    return nic.mac


def _by_gateway(routes):
    """Gateway-less routes first, so that each gateway is on-link when its route moves."""
    return sorted(routes, key=lambda r: r['via'] is not None)


def plan_nic_to_bridge(cs, client, ipr, nic_name, bridge, datapath_type=None, saved=None):
    """Fill ``cs`` (the OVSDB part) and return ``(plan, host_mac, datapath)``.

    ``datapath_type`` None means: a new bridge is ``system``, an existing one keeps its own.
    ``saved`` is a move's description (:func:`load_description`), given at boot: its addresses,
    routes and MTU are put back even when the network configuration did not put them on the NIC.

    Order, so that the host stays reachable: the bridge and its port are committed first;
    then the bridge device comes up and gets the NIC's addresses (so both hold them for a
    moment); then each route is replaced onto the bridge (same destination and metric,
    one atomic change each, the default route included); then the addresses leave the NIC,
    any moved route still left on it goes, and, with the userspace datapath, the NIC
    becomes a layer-2 port with a MAC of its own.
    """
    nic, br_row, nic_in_bridge = _check(client, ipr, nic_name, bridge, datapath_type)
    host_mac = host_mac_of(nic, br_row, nic_in_bridge, (saved or {}).get('mac'))
    current = _ovs.datapath_of(br_row) if br_row is not None else None
    datapath = datapath_type or current or 'system'

    _ovs.ensure_bridge(cs, client, bridge, datapath_type=datapath_type,
                       other_config={'hwaddr': host_mac},
                       external_ids=dict(CREATED_BY) if br_row is None else None)
    _ovs.ensure_port(cs, client, bridge, nic_name)

    plan = Plan()
    br = read_link(ipr, bridge)
    moving = nic.global_addresses
    routes = _moved_routes(nic)
    on_bridge = br.global_addresses if br is not None else []
    br_routes = br.static_routes if br is not None else []
    br_keys = set(route_key(r) for r in br_routes)
    # At boot: what the description saved and neither the NIC nor the bridge has now.
    nic_keys = set(route_key(r) for r in routes)
    restored = [a for a in (saved or {}).get('addresses', []) if a not in moving and a not in on_bridge]
    restored_routes = [r for r in (saved or {}).get('routes', [])
                       if route_key(r) not in br_keys and route_key(r) not in nic_keys]

    nic_steps = []
    if not nic.up:
        nic_steps.append(set_up(nic_name))
    br_steps = [set_up(bridge)] if br is None or not br.up else []
    add = [a for a in moving if a not in on_bridge] + restored
    br_steps += [add_address(bridge, a, nodad=True) for a in add]
    for route in _by_gateway(routes + restored_routes):
        br_steps.append(replace_route(route, bridge))
    nic_steps += [del_address(nic_name, a) for a in moving]
    nic_steps += [del_route(r, nic_name) for r in routes]

    nic_before = dict(addresses=sorted(moving), routes=sorted_routes(routes), up=nic.up)
    nic_after = dict(addresses=[], routes=[], up=True)
    mtu = (saved or {}).get('mtu') or nic.mtu
    if mtu != nic.mtu:
        nic_before['mtu'], nic_after['mtu'] = nic.mtu, mtu
        nic_steps.insert(0, set_mtu(nic_name, mtu))
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
        if nic.kind == 'veth':
            # A veth hands the userspace datapath packets whose checksum is left to the
            # hardware: TCP through the bridge then fails silently (shared/LAB.md). A new veth
            # (a container's restart) has it on again, so every run and every boot checks it.
            offload = tx_checksum(nic_name)
            if offload is not None:
                nic_before['tx_checksum'], nic_after['tx_checksum'] = offload, False
                if offload:
                    nic_steps.append(set_tx_checksum(nic_name, False))

    # One label per device; the bridge's steps are recorded (and run) before the NIC's.
    plan.bridge_addresses = sorted(set(on_bridge) | set(moving) | set(restored))
    moved_routes = [dict(r, dev=bridge) for r in routes + restored_routes if route_key(r) not in br_keys]
    plan.bridge_routes = br_routes + moved_routes
    plan.mtu = mtu
    br_before = None if br is None else dict(
        addresses=sorted(on_bridge), routes=sorted_routes(br_routes), up=br.up)
    plan.record('Link %s' % bridge, br_before, dict(
        mac=host_mac, up=True, addresses=plan.bridge_addresses,
        routes=sorted_routes(plan.bridge_routes)), br_steps)
    plan.record('Link %s' % nic_name, nic_before, nic_after, nic_steps)
    # Last, once the NIC has let them go: neighbours that learned an address on the NIC's MAC
    # (a new NIC's, at boot) hear that it is at the host's MAC now. Not state, so not in the diff.
    plan.steps.extend(announce(bridge, a, host_mac) for a in add if ':' not in a)
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


# Persistence ------------------------------------------------------------------
# What the description of a move holds: enough to redo it at boot from this same code.
ROUTE_KEYS = ('dst', 'via', 'metric', 'proto', 'scope', 'prefsrc')
NM_DEVICES_DIR = '/run/NetworkManager/devices'
IFUPDOWN_FILES = ('/etc/network/interfaces', '/etc/network/interfaces.d')


def description_path(persist_dir, nic_name):
    return os.path.join(persist_dir or PERSIST_DIR, nic_name + '.json')


def describe(nic_name, bridge, datapath, host_mac, plan):
    """The move as a plain dict (what the file holds): routes without devices, families as 4/6."""
    routes = []
    for r in plan.bridge_routes:
        if r['family'] == socket.AF_INET6 and r['dst'].startswith(('fe80:', 'ff00:')):
            continue
        route = dict((k, r[k]) for k in ROUTE_KEYS if r.get(k) is not None)
        route['family'] = 4 if r['family'] == socket.AF_INET else 6
        routes.append(route)
    routes.sort(key=lambda r: (r['family'], r['dst'], r['metric'], r.get('via') or ''))
    return dict(nic=nic_name, bridge=bridge, datapath_type=datapath, mac=host_mac, mtu=plan.mtu,
                addresses=list(plan.bridge_addresses), routes=routes)


def load_description(path):
    """A move's description read back for :func:`plan_nic_to_bridge` (``saved``)."""
    try:
        with open(path) as f:
            desc = json.load(f)
    except (IOError, OSError) as exc:
        raise Conflict('the move description %s cannot be read: %s' % (path, _netlink.os_error(exc.errno)))
    except ValueError as exc:
        raise InvalidInput('the move description %s is not JSON: %s' % (path, exc))
    if not isinstance(desc, dict) or not all(isinstance(desc.get(k), str) for k in ('nic', 'bridge', 'datapath_type')):
        raise InvalidInput('the move description %s lacks nic, bridge or datapath_type' % path)
    for cidr in desc.get('addresses') or []:
        _netlink.parse_cidr(cidr, '%s: address' % path)
    routes = []
    for r in desc.get('routes') or []:
        if not isinstance(r, dict) or r.get('family') not in (4, 6) or not isinstance(r.get('dst'), str):
            raise InvalidInput('the move description %s has a route it cannot read: %r' % (path, r))
        spec = dict(dst=r['dst'] if r['dst'] != 'default' else ('0.0.0.0/0' if r['family'] == 4 else '::/0'),
                    via=r.get('via'), metric=r.get('metric'))
        route = _netlink.normalize_route(spec, None, '%s: route' % path)
        route.update((k, r[k]) for k in ('proto', 'scope', 'prefsrc') if r.get(k) is not None)
        routes.append(route)
    desc['addresses'] = list(desc.get('addresses') or [])
    desc['routes'] = routes
    return desc


def read_persisted(path):
    """What the file holds now, as the diff shows it: None, or dict(mode, content)."""
    try:
        with open(path) as f:
            text = f.read()
        mode = '%04o' % (os.stat(path).st_mode & 0o7777)
    except (IOError, OSError):
        return None
    try:
        content = json.loads(text)
    except ValueError:
        content = '(not JSON)'
    return dict(mode=mode, content=content)


def write_file_step(path, content):
    """A plan step writing ``content`` as JSON, root-only, atomically (a rename)."""
    def step(ipr):
        directory = os.path.dirname(path)
        tmp = path + '.tmp'
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o700)
            if os.path.exists(tmp):
                os.unlink(tmp)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'w') as f:
                json.dump(content, f, indent=2, sort_keys=True)
                f.write('\n')
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.rename(tmp, path)
        except (IOError, OSError) as exc:
            raise NetlinkFailed('writing %s: %s' % (path, _netlink.os_error(exc.errno)))
    return step


def remove_file_step(path):
    def step(ipr):
        try:
            os.unlink(path)
        except (IOError, OSError) as exc:
            if exc.errno != errno.ENOENT:
                raise NetlinkFailed('removing %s: %s' % (path, _netlink.os_error(exc.errno)))
    return step


def plan_persist(plan, path, content):
    """The description file: written when ``content`` is a dict, removed when None."""
    current = read_persisted(path)
    wanted = None if content is None else dict(mode='0600', content=content)
    if current == wanted:
        return
    plan.record('File %s' % path, current, wanted,
                [write_file_step(path, content) if content is not None else remove_file_step(path)])


def _ifupdown_stanzas(nic_name, paths):
    """The ``iface NIC <family> <method>`` lines of ifupdown's configuration."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(os.path.join(path, n) for n in os.listdir(path)
                            if re.match(r'^[a-zA-Z0-9_-]+$', n))
        elif os.path.isfile(path):
            files.append(path)
    found = []
    for name in files:
        try:
            with open(name) as f:
                for line in f:
                    words = line.split()
                    if len(words) >= 4 and words[0] == 'iface' and words[1] == nic_name:
                        found.append((name, words[2], words[3]))
        except (IOError, OSError):
            continue
    return found


def persist_problems(nic, br, nm_devices_dir=NM_DEVICES_DIR, ifupdown_files=IFUPDOWN_FILES):
    """Why a boot-time redo of the move would fight the host's network configuration
    (a list of sentences; empty when it would not)."""
    problems = []
    for link in (nic, br):
        if link is not None and link.leased_addresses:
            problems.append('%s has %s with a lifetime (a DHCP lease or IPv6 autoconfiguration): its '
                            'client renews it on %s, while the boot-time move would make it permanent '
                            'on the bridge' % (link.name, ', '.join(sorted(link.leased_addresses)), link.name))
    state = os.path.join(nm_devices_dir, str(nic.index))
    try:
        with open(state) as f:
            managed = re.search(r'^managed=(\w+)', f.read(), re.M)
    except (IOError, OSError):
        managed = None
    if managed and managed.group(1) == 'true':
        problems.append('NetworkManager manages %s (%s says managed=true) and would put its '
                        'connection back on it; mark it unmanaged (unmanaged-devices=interface-name:%s '
                        'in NetworkManager.conf) first' % (nic.name, state, nic.name))
    for path, family, method in _ifupdown_stanzas(nic.name, ifupdown_files):
        if method in ('dhcp', 'auto'):
            stanza = 'iface %s %s %s' % (nic.name, family, method)
            problems.append('ifupdown configures %s with "%s" (%s): a DHCP or autoconfiguration '
                            'client would run on %s' % (nic.name, stanza, path, nic.name))
    return problems


def nic_to_bridge(client, cs, nic_name, bridge, datapath_type, check_mode, timeout,
                  persist=None, persist_dir=None, saved=None):
    """The whole of the nic_to_bridge module (state present); returns its result dict.

    ``persist`` True writes the move's description for the boot-time unit, False removes
    it, None leaves it as it is. ``saved`` is given at boot (:func:`boot`).
    """
    path = description_path(persist_dir, nic_name)
    with _netlink.open_ipr() as ipr:
        plan, host_mac, datapath = plan_nic_to_bridge(cs, client, ipr, nic_name, bridge, datapath_type, saved)
        if persist:
            problems = persist_problems(read_link(ipr, nic_name), read_link(ipr, bridge))
            if problems:
                raise Conflict('NIC %s: the move cannot be made persistent: %s. Nothing was changed'
                               % (nic_name, '; '.join(problems)))
            plan_persist(plan, path, describe(nic_name, bridge, datapath, host_mac, plan))
        elif persist is False:
            plan_persist(plan, path, None)
        if not check_mode:
            cs.commit()
            if plan.changed or cs.changed:
                _netlink.wait_link(ipr, bridge, timeout, mac=host_mac,
                                   why=lambda: ovs_interface_error(client, bridge))
                plan.apply(ipr)
    diff = dict(before=dict(cs.before, **plan.before), after=dict(cs.after, **plan.after))
    return dict(changed=cs.changed or plan.changed, diff=diff, bridge=bridge, nic=nic_name,
                mac=host_mac, datapath_type=datapath, addresses=plan.bridge_addresses,
                persisted=path if persist else None)


# Undoing the move (state absent) --------------------------------------------------
def plan_nic_from_bridge(cs, client, ipr, nic_name, bridge):
    """Fill ``cs`` and return ``(plan, host_mac, bridge_removed)``: the move undone.

    The kernel steps come first, while the NIC is still a port (so the host stays reachable,
    and a run cut short is finished by the next one, which still sees the port): the NIC gets
    the host's MAC back (userspace datapath) and the defaults of the layer-2-only settings,
    then the bridge's addresses and routes (each route replaced, same destination and metric),
    and they leave the bridge. Only then does the port leave the bridge (one transaction), and
    the bridge goes with it if this module created it and no other port is left on it.
    """
    what = 'NIC %s' % nic_name
    _ovs.check_ifname(nic_name, what)
    _ovs.check_ifname(bridge, 'bridge %s' % bridge)
    if nic_name == bridge:
        raise InvalidInput('%s: the bridge must have another name than the NIC' % what)
    port = _ovs.get_port(client, nic_name)
    if port is not None:
        owner = _ovs.bridge_of_port(client, port)
        if owner is None or owner.name != bridge:
            raise Conflict('%s is a port of the Open vSwitch bridge %s, not of %s; refusing to take '
                           'it out' % (what, owner.name if owner is not None else '(none)', bridge))
    br_row = _ovs.get_bridge(client, bridge)
    nic = read_link(ipr, nic_name)
    br = read_link(ipr, bridge)
    host_mac = None
    if br_row is not None:
        host_mac = (plain(br_row.other_config).get('hwaddr') or '').lower() or None
    plan = Plan()
    if port is not None and nic is not None:
        back = br.global_addresses if br is not None else []
        routes = _moved_routes(br) if br is not None else []
        nic_steps = [set_up(nic_name)] if not nic.up else []
        nic_before = dict(addresses=sorted(nic.global_addresses), routes=sorted_routes(_moved_routes(nic)),
                          up=nic.up)
        nic_after = dict(addresses=sorted(set(nic.global_addresses) | set(back)),
                         routes=sorted_routes(_moved_routes(nic) + [dict(r, dev=nic_name) for r in routes]),
                         up=True)
        if host_mac and nic.mac != host_mac:
            nic_before['mac'], nic_after['mac'] = nic.mac, host_mac
            nic_steps.append(set_mac(nic_name, host_mac))
        if br_row is not None and _ovs.datapath_of(br_row) == 'netdev':
            sysctls = read_sysctls(nic_name)
            for template, l2_value in L2_ONLY_SYSCTLS:
                relative = template.format(nic=nic_name)
                default = read_sysctl(template.format(nic='default'))
                if sysctls[relative] == l2_value and default is not None and default != l2_value:
                    nic_before[relative], nic_after[relative] = l2_value, default
                    nic_steps.append(set_sysctl(relative, default))
        nic_steps += [add_address(nic_name, a, nodad=True) for a in back if a not in nic.global_addresses]
        nic_steps += [replace_route(r, nic_name) for r in _by_gateway(routes)]
        br_steps = [del_address(bridge, a) for a in back] + [del_route(r, bridge) for r in routes]
        plan.record('Link %s' % nic_name, nic_before, nic_after, nic_steps)
        if br is not None:
            plan.record('Link %s' % bridge, dict(addresses=sorted(back), routes=sorted_routes(routes)),
                        dict(addresses=[], routes=[]), br_steps)
    if port is not None:
        _ovs.remove_port(cs, client, nic_name, bridge)
    removed = False
    if br_row is not None and all(plain(br_row.external_ids).get(k) == v for k, v in CREATED_BY.items()):
        others = sorted(p.name for p in br_row.ports if p.name not in (nic_name, bridge))
        if not others:
            _ovs.remove_bridge(cs, client, bridge)
            removed = True
        plan.kept_because = ('ports %s are still on it' % ', '.join(others)) if others else None
    else:
        plan.kept_because = None if br_row is None else 'nic_to_bridge did not create it'
    return plan, host_mac, removed


def read_sysctl(relative):
    try:
        with open(_sysctl_path(relative)) as f:
            return f.read().strip()
    except (IOError, OSError):
        return None


def nic_from_bridge(client, cs, nic_name, bridge, check_mode, persist_dir=None):
    """The whole of the nic_to_bridge module with state absent; returns its result dict."""
    path = description_path(persist_dir, nic_name)
    with _netlink.open_ipr() as ipr:
        plan, host_mac, removed = plan_nic_from_bridge(cs, client, ipr, nic_name, bridge)
        plan_persist(plan, path, None)
        if not check_mode:
            plan.apply(ipr)
            cs.commit()
        nic = read_link(ipr, nic_name)
    diff = dict(before=dict(cs.before, **plan.before), after=dict(cs.after, **plan.after))
    after_nic = plan.after.get('Link %s' % nic_name)
    addresses = after_nic['addresses'] if after_nic else (sorted(nic.global_addresses) if nic else [])
    return dict(changed=cs.changed or plan.changed, diff=diff, bridge=bridge, nic=nic_name,
                mac=host_mac, addresses=addresses, bridge_removed=removed,
                bridge_kept=plan.kept_because if not removed else None, persisted=None)


# At boot -------------------------------------------------------------------------
def _print(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def boot(persist_dir=None, remote=None, timeout=30, check_mode=False, log=_print):
    """Redo every saved move (``<persist_dir>/*.json``) from this same code; the boot-time
    unit's whole work. Returns the number of moves that failed (each is logged)."""
    from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import Client, OVS_DB
    from ansible_collections.ovn_k8s.overlay.plugins.module_utils._txn import ChangeSet
    directory = persist_dir or PERSIST_DIR
    names = sorted(n for n in os.listdir(directory) if n.endswith('.json')) if os.path.isdir(directory) else []
    failed = 0
    for name in names:
        path = os.path.join(directory, name)
        try:
            desc = load_description(path)
            if desc['nic'] + '.json' != name:
                raise InvalidInput('the move description %s is about NIC %s' % (path, desc['nic']))
            with Client(OVS_DB, remote=remote, timeout=timeout, tables=NIC_TO_BRIDGE_TABLES) as client:
                result = nic_to_bridge(client, ChangeSet(client), desc['nic'], desc['bridge'],
                                       desc['datapath_type'], check_mode, timeout, saved=desc)
        except OvnK8sError as exc:
            failed += 1
            log('%s: FAILED: %s' % (path, exc))
            continue
        log('%s: %s %s into %s%s' % (
            path, 'would move' if check_mode and result['changed'] else 'moved' if result['changed'] else 'already in place:',
            desc['nic'], desc['bridge'],
            (' ' + json.dumps(result['diff'], sort_keys=True)) if result['changed'] else ''))
    return failed


def boot_main(argv=None):
    """``ovn-k8s-nic-bridge [--dir DIR] [--remote REMOTE] [--timeout S] [--check]``."""
    import argparse
    parser = argparse.ArgumentParser(description='Redo the saved NIC-to-bridge moves (at boot).')
    parser.add_argument('--dir', default=PERSIST_DIR)
    parser.add_argument('--remote', default=None, help='the Open vSwitch database (default: its unix socket)')
    parser.add_argument('--timeout', type=float, default=30)
    parser.add_argument('--check', action='store_true', help='only say what would change')
    args = parser.parse_args(argv)
    return 1 if boot(args.dir, args.remote, args.timeout, args.check) else 0
