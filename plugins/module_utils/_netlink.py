# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""Kernel network state through netlink (pyroute2): links, addresses and routes,
read, planned and changed.

Works with pyroute2 0.7 (Debian 12) and 0.9. Reading never changes anything:
a :class:`Plan` holds the before/after of each link and the steps that make
the change, and only :meth:`Plan.apply` runs them. No ``ip`` output is parsed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import array
import errno
import fcntl
import ipaddress
import os
import socket
import struct
import time
import traceback

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import parse_network
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import Conflict, InvalidInput, OvnK8sError

PYROUTE2_IMPORT_ERROR = None
try:
    from pyroute2 import IPRoute, NetlinkError
except ImportError:
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

MAIN_TABLE = 254
RTPROT_KERNEL = 2
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254
RT_SCOPE_NOWHERE = 255
RTN_UNICAST = 1
IFF_UP = 0x1
IFA_F_NODAD = 0x02
IFA_F_PERMANENT = 0x80      # an address without a lifetime (not from DHCP or autoconfiguration)
# ethtool's legacy transmit checksum commands (linux/ethtool.h), through the SIOCETHTOOL ioctl.
SIOCETHTOOL = 0x8946
ETHTOOL_GTXCSUM = 0x16
ETHTOOL_STXCSUM = 0x17
# The metric the kernel gives a route added without one.
DEFAULT_METRIC = {socket.AF_INET: 0, socket.AF_INET6: 1024}


class NetlinkFailed(OvnK8sError):
    """The kernel refused a change."""


def open_ipr():
    if PYROUTE2_IMPORT_ERROR:
        raise OvnK8sError('the Python library pyroute2 is required: %s'
                          % PYROUTE2_IMPORT_ERROR.strip().splitlines()[-1])
    return IPRoute()


# Values -------------------------------------------------------------------
def parse_cidr(cidr, what):
    """An interface address with its prefix, such as 10.128.1.2/24."""
    return parse_network(cidr, what, strict=False)


def _family(version):
    return socket.AF_INET if version == 4 else socket.AF_INET6


def route_key(route):
    """What the kernel tells routes of the main table apart by."""
    return (route['family'], route['dst'], route['metric'])


def normalize_route(spec, default_dev, what):
    """A route option {dst, via, dev, metric} as a comparable dict."""
    if not isinstance(spec, dict):
        raise InvalidInput('%s: %r is not a route such as {dst: 10.128.0.0/14, via: 10.128.1.1}'
                           % (what, spec))
    unknown = sorted(set(spec) - set(['dst', 'via', 'dev', 'metric']))
    if unknown:
        raise InvalidInput('%s: unknown route key(s) %s (expected dst, via, dev, metric)'
                           % (what, ', '.join(unknown)))
    dst, via = spec.get('dst'), spec.get('via')
    if not dst:
        raise InvalidInput('%s: a route needs dst (a CIDR or default)' % what)
    gateway = None
    if via not in (None, ''):
        try:
            gateway = ipaddress.ip_address(str(via))
        except ValueError:
            raise InvalidInput('%s: via %r is not an IP address' % (what, via))
    if str(dst) == 'default':
        if gateway is None:
            raise InvalidInput('%s: a default route needs via (its family comes from it)' % what)
        net = ipaddress.ip_network('0.0.0.0/0' if gateway.version == 4 else '::/0')
    else:
        try:
            net = ipaddress.ip_network(str(dst))
        except ValueError:
            raise InvalidInput('%s: dst %r is not a network such as 10.128.0.0/14 (host bits '
                               'must be zero) or default' % (what, dst))
    if gateway is not None and gateway.version != net.version:
        raise InvalidInput('%s: via %s and dst %s are of different IP versions' % (what, via, dst))
    family = _family(net.version)
    metric = spec.get('metric')
    try:
        metric = DEFAULT_METRIC[family] if metric in (None, '') else int(metric)
    except (TypeError, ValueError):
        raise InvalidInput('%s: metric %r is not a number' % (what, metric))
    return dict(family=family, dst=_dst(net), via=str(gateway) if gateway else None,
                dev=spec.get('dev') or default_dev, metric=metric)


def _dst(net):
    return 'default' if net.prefixlen == 0 else str(net)


def show_route(route):
    """A route as the diff shows it."""
    return dict((k, route[k]) for k in ('dst', 'via', 'dev', 'metric'))


def sorted_routes(routes):
    return sorted((show_route(r) for r in routes),
                  key=lambda r: (r['dst'], r['metric'], r['via'] or '', r['dev']))


# Reading ------------------------------------------------------------------
class Link:
    """What one read of a network device found."""

    def __init__(self, ipr, msg):
        self.index = msg['index']
        self.name = msg.get_attr('IFLA_IFNAME')
        self.mac = (msg.get_attr('IFLA_ADDRESS') or '').lower()
        self.up = bool(msg['flags'] & IFF_UP)
        self.mtu = msg.get_attr('IFLA_MTU')
        self.master_index = msg.get_attr('IFLA_MASTER')
        self.master, self.master_kind = None, None
        if self.master_index:
            master = _get_link(ipr, self.master_index)
            if master is not None:
                self.master = master.get_attr('IFLA_IFNAME')
                self.master_kind = _kind(master)
        self.kind = _kind(msg)
        self.addresses = []   # every address, as dicts
        for addr in ipr.get_addr(index=self.index):
            flags = addr.get_attr('IFA_FLAGS')
            self.addresses.append(dict(
                family=addr['family'], scope=addr['scope'],
                flags=addr['flags'] if flags is None else flags,
                cidr=str(ipaddress.ip_interface('%s/%s' % (addr.get_attr('IFA_ADDRESS'),
                                                           addr['prefixlen'])))))
        self.routes = []      # routes of the main table through this device
        for family in (socket.AF_INET, socket.AF_INET6):
            for msg_route in ipr.get_routes(family=family):
                route = _route(msg_route, family)
                if route is not None and route['oif'] == self.index:
                    route['dev'] = self.name
                    self.routes.append(route)

    @property
    def global_addresses(self):
        """Addresses a host is reached at: not link-local, not host scope."""
        return [a['cidr'] for a in self.addresses if a['scope'] not in (RT_SCOPE_LINK, RT_SCOPE_HOST)]

    @property
    def leased_addresses(self):
        """Global addresses with a lifetime: leased by a DHCP client or autoconfigured."""
        return [a['cidr'] for a in self.addresses if a['scope'] not in (RT_SCOPE_LINK, RT_SCOPE_HOST)
                and not a['flags'] & IFA_F_PERMANENT]

    @property
    def static_routes(self):
        """Main-table unicast routes not made by the kernel for an address."""
        return [r for r in self.routes if r['proto'] != RTPROT_KERNEL and r['type'] == RTN_UNICAST]


def _kind(msg):
    info = msg.get_attr('IFLA_LINKINFO')
    return info.get_attr('IFLA_INFO_KIND') if info is not None else None


def _get_link(ipr, index):
    try:
        found = list(ipr.get_links(index))
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            return None
        raise
    return found[0] if found else None


def _route(msg, family):
    table = msg.get_attr('RTA_TABLE') or msg['table']
    if table != MAIN_TABLE or msg.get_attr('RTA_MULTIPATH') is not None:
        return None
    dst = msg.get_attr('RTA_DST')
    net = ipaddress.ip_network('%s/%s' % (dst or ('0.0.0.0' if family == socket.AF_INET else '::'),
                                          msg['dst_len']), strict=False)
    metric = msg.get_attr('RTA_PRIORITY')
    return dict(family=family, dst=_dst(net), via=msg.get_attr('RTA_GATEWAY'),
                metric=DEFAULT_METRIC[socket.AF_INET] if metric is None else metric,
                oif=msg.get_attr('RTA_OIF'), proto=msg['proto'], scope=msg['scope'],
                type=msg['type'], prefsrc=msg.get_attr('RTA_PREFSRC'))


def read_link(ipr, name):
    """The :class:`Link` called ``name``, or None."""
    found = ipr.link_lookup(ifname=name)
    if not found:
        return None
    msg = _get_link(ipr, found[0])
    return Link(ipr, msg) if msg is not None else None


def wait_link(ipr, name, timeout, mac=None, why=None):
    """Wait until device ``name`` exists (with ``mac``, if given); returns its Link."""
    deadline = time.time() + timeout
    while True:
        link = read_link(ipr, name)
        if link is not None and (mac is None or link.mac == mac):
            return link
        if time.time() > deadline:
            extra = ' (%s)' % why() if why else ''
            if link is None:
                raise NetlinkFailed('network device %s did not appear within %s seconds: is '
                                    'ovs-vswitchd running?%s' % (name, timeout, extra))
            raise NetlinkFailed('network device %s still has MAC %s, not %s, after %s seconds%s'
                                % (name, link.mac, mac, timeout, extra))
        time.sleep(0.05)


# Changing -----------------------------------------------------------------
class Plan:
    """Before/after per label and the ordered steps (callables taking an IPRoute)."""

    def __init__(self):
        self.before, self.after, self.steps = {}, {}, []

    @property
    def changed(self):
        return bool(self.steps)

    def record(self, label, before, after, steps):
        if not steps:
            return
        self.before.setdefault(label, before)
        self.after[label] = after
        self.steps.extend(steps)

    def apply(self, ipr):
        """Run the steps in order; a failure says how far it got.

        Each step is read again from the kernel on the next run, so a re-run
        finishes what a failed one left half done.
        """
        for done, step in enumerate(self.steps):
            try:
                step(ipr)
            except OvnK8sError as exc:
                raise NetlinkFailed('%s; stopped after %d of %d kernel steps, so the host is '
                                    'half configured: fix the cause and re-run to finish'
                                    % (exc, done, len(self.steps)))


def _index(ipr, name):
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise NetlinkFailed('network device %s disappeared during the change' % name)
    return found[0]


def _call(what, fn, ignore=()):
    try:
        return fn()
    except NetlinkError as exc:
        if exc.code in ignore:
            return None
        raise NetlinkFailed('%s: the kernel refused: %s' % (what, os_error(exc.code)))


def os_error(code):
    try:
        return os.strerror(code).lower()
    except (TypeError, ValueError):
        return str(code)


def add_address(dev, cidr, nodad=False):
    iface = ipaddress.ip_interface(cidr)

    def step(ipr):
        kw = dict(index=_index(ipr, dev), address=str(iface.ip), prefixlen=iface.network.prefixlen)
        if iface.version == 6 and nodad:
            # Already validated on the NIC it comes from: no second duplicate detection.
            kw['IFA_FLAGS'] = IFA_F_NODAD
        elif iface.version == 4:
            kw['broadcast'] = str(iface.network.broadcast_address)
        _call('adding %s to %s' % (cidr, dev), lambda: ipr.addr('add', **kw), ignore=(errno.EEXIST,))
    return step


def del_address(dev, cidr):
    iface = ipaddress.ip_interface(cidr)

    def step(ipr):
        _call('removing %s from %s' % (cidr, dev),
              lambda: ipr.addr('del', index=_index(ipr, dev), address=str(iface.ip),
                               prefixlen=iface.network.prefixlen),
              ignore=(errno.EADDRNOTAVAIL, errno.ENODEV))
    return step


def _route_args(ipr, route, dev):
    kw = dict(family=route['family'], dst_len=0, table=MAIN_TABLE, priority=route['metric'])
    if route['dst'] != 'default':
        net = ipaddress.ip_network(route['dst'])
        kw.update(dst=str(net.network_address), dst_len=net.prefixlen)
    if dev is not None:
        kw['oif'] = _index(ipr, dev)
    if route.get('via'):
        kw['gateway'] = route['via']
    if route.get('prefsrc'):
        kw['prefsrc'] = route['prefsrc']
    if route.get('proto') is not None:
        kw['proto'] = route['proto']
    if route.get('scope') is not None:
        kw['scope'] = route['scope']
    elif not route.get('via'):
        kw['scope'] = RT_SCOPE_LINK if route['family'] == socket.AF_INET else 0
    return kw


def replace_route(route, dev):
    """Make the main-table route with this dst and metric go ``via`` through ``dev``."""
    def step(ipr):
        _call('setting route %s via %s dev %s' % (route['dst'], route.get('via') or '(on-link)', dev),
              lambda: ipr.route('replace', **_route_args(ipr, route, dev)))
    return step


def del_route(route, dev):
    def step(ipr):
        kw = _route_args(ipr, route, dev)
        kw.pop('prefsrc', None)
        kw['proto'] = route.get('proto') or 0          # 0: any protocol
        if route['family'] == socket.AF_INET:
            kw['scope'] = RT_SCOPE_NOWHERE              # any scope, as "ip route del" asks
        _call('removing route %s dev %s' % (route['dst'], dev), lambda: ipr.route('del', **kw),
              ignore=(errno.ESRCH, errno.ENODEV))
    return step


def set_up(dev):
    def step(ipr):
        _call('setting %s up' % dev, lambda: ipr.link('set', index=_index(ipr, dev), state='up'))
    return step


def set_mac(dev, mac):
    """Give ``dev`` the MAC ``mac``; a device that refuses a change while up goes down for it."""
    def step(ipr):
        index = _index(ipr, dev)
        try:
            ipr.link('set', index=index, address=mac)
        except NetlinkError as exc:
            if exc.code != errno.EBUSY:
                raise NetlinkFailed('setting MAC %s on %s: the kernel refused: %s' % (mac, dev, os_error(exc.code)))
            _call('setting %s down to change its MAC' % dev, lambda: ipr.link('set', index=index, state='down'))
            _call('setting MAC %s on %s' % (mac, dev), lambda: ipr.link('set', index=index, address=mac))
            _call('setting %s up' % dev, lambda: ipr.link('set', index=index, state='up'))
    return step


def announce(dev, cidr, mac):
    """A step sending a gratuitous ARP for an IPv4 address now on ``dev`` with ``mac``, so that
    neighbours which learned the address on another MAC (the NIC's, before a move) forget it."""
    def step(ipr):
        ip = socket.inet_aton(str(ipaddress.ip_interface(cidr).ip))
        hw = bytes(bytearray(int(x, 16) for x in mac.split(':')))
        frame = (b'\xff' * 6 + hw + b'\x08\x06'                       # Ethernet, ARP
                 + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1)            # request, IPv4 over Ethernet
                 + hw + ip + b'\x00' * 6 + ip)                          # sender = target address
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            try:
                sock.bind((dev, 0))
                sock.send(frame)
            finally:
                sock.close()
        except (IOError, OSError) as exc:
            raise NetlinkFailed('announcing %s on %s: %s' % (cidr, dev, os_error(exc.errno)))
    return step


def set_mtu(dev, mtu):
    def step(ipr):
        _call('setting MTU %s on %s' % (mtu, dev), lambda: ipr.link('set', index=_index(ipr, dev), mtu=mtu))
    return step


def _ethtool(name, cmd, data=0):
    """One legacy ethtool command on device ``name``: returns its data word."""
    value = array.array('I', [cmd, data])          # struct ethtool_value {u32 cmd; u32 data;}
    request = struct.pack('16sP16x', name.encode('ascii'), value.buffer_info()[0])  # struct ifreq
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, request)
    finally:
        sock.close()
    return value[1]


def tx_checksum(name):
    """Whether transmit checksum offload is on for ``name`` (None: the driver cannot say)."""
    try:
        return bool(_ethtool(name, ETHTOOL_GTXCSUM))
    except (IOError, OSError):
        return None


def set_tx_checksum(dev, on):
    """A step turning transmit checksum offload on or off (as ``ethtool -K DEV tx on|off``)."""
    def step(ipr):
        try:
            _ethtool(dev, ETHTOOL_STXCSUM, 1 if on else 0)
        except (IOError, OSError) as exc:
            raise NetlinkFailed('turning transmit checksum offload %s on %s: %s'
                                % ('on' if on else 'off', dev, os_error(exc.errno)))
    return step


# Addresses and routes of one device -----------------------------------------
def plan_device(plan, link, addresses=None, purge=False, routes=None, state='present', up=True):
    """Addresses and routes on ``link`` (a :class:`Link`), as the netlink_address module wants."""
    label = 'Link %s' % link.name
    what = 'network device %s' % link.name
    wanted = [str(parse_cidr(a, what + ' address')) for a in (addresses or [])]
    wanted_routes = [normalize_route(r, link.name, what + ' route') for r in (routes or [])]
    for route in wanted_routes:
        if route['dev'] not in link.names.values():
            raise Conflict('%s: route %s names network device %s, which does not exist'
                           % (what, route['dst'], route['dev']))
    current = link.global_addresses
    before, after, steps = {}, {}, []

    if state == 'present' and up and not link.up:
        before['up'], after['up'] = False, True
        steps.append(set_up(link.name))

    if state == 'present':
        target = [a for a in current if a in wanted or not purge]
        target += [a for a in wanted if a not in target]
        add = [a for a in target if a not in current]
        drop = [a for a in current if a not in target]
    else:
        add, drop = [], [a for a in current if a in wanted]
        target = [a for a in current if a not in drop]
    if add or drop:
        before['addresses'], after['addresses'] = sorted(current), sorted(target)
        steps += [add_address(link.name, a) for a in add]
        steps += [del_address(link.name, a) for a in drop]

    if wanted_routes:
        rbefore, rafter, rsteps = _plan_routes(link, wanted_routes, state)
        if rsteps:
            before['routes'], after['routes'] = rbefore, rafter
            steps += rsteps
    plan.record(label, before, after, steps)


def _plan_routes(link, wanted, state):
    by_key = {}
    for route in link.all_routes:
        by_key.setdefault(route_key(route), []).append(route)
    before, after, steps = [], [], []
    # Routes without a gateway first, so that a gateway is reachable when its route goes in.
    for route in sorted(wanted, key=lambda r: r['via'] is not None):
        existing = by_key.get(route_key(route), [])
        before += existing
        if state == 'present':
            after.append(route)
            if not any(r['via'] == route['via'] and r['dev'] == route['dev'] for r in existing):
                steps.append(replace_route(route, route['dev']))
        else:
            matching = [r for r in existing if route['via'] in (None, r['via'])
                        and r['dev'] == route['dev']]
            after += [r for r in existing if r not in matching]
            steps += [del_route(r, r['dev']) for r in matching]
    return sorted_routes(before), sorted_routes(after), steps


def read_all_routes(ipr, names):
    """Main-table routes by (family, dst, metric) over all devices; devices named by index."""
    out = []
    for family in (socket.AF_INET, socket.AF_INET6):
        for msg in ipr.get_routes(family=family):
            route = _route(msg, family)
            if route is not None and route['oif'] is not None:
                route['dev'] = names.get(route['oif'], str(route['oif']))
                out.append(route)
    return out


def link_names(ipr):
    return dict((msg['index'], msg.get_attr('IFLA_IFNAME')) for msg in ipr.get_links())


def read_device(ipr, name):
    """read_link plus ``all_routes``: the main table's routes on every device (for route keys)."""
    link = read_link(ipr, name)
    if link is None:
        raise Conflict('network device %s does not exist' % name)
    link.names = link_names(ipr)
    link.all_routes = read_all_routes(ipr, link.names)
    return link
