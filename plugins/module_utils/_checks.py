# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""Input checks and small value helpers shared by the Northbound, Open vSwitch
and netlink operations. Each check returns the normalised value or raises
InvalidInput with a sentence that starts with ``what`` (the object at fault).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._names import node_name_problem
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import InvalidInput

_MAC = re.compile(r'^([0-9a-f]{2}:){5}[0-9a-f]{2}$')
_IFNAME = re.compile(r'^[^\s/]{1,15}$')


def check_mac(mac, what):
    if not isinstance(mac, str) or not _MAC.match(mac.lower()):
        raise InvalidInput('%s: %r is not a MAC address (expected six hex pairs such as '
                           '0a:58:0a:80:01:02)' % (what, mac))
    return mac.lower()


def memoised(cache, key, compute, limit=65536):
    """``compute(key)``, remembered in ``cache`` (a dict, emptied when it reaches ``limit``).
    For pure parses of text the watcher sees again on every reconcile (every pod's address,
    every address set's members); an exception is not remembered."""
    try:
        return cache[key]
    except KeyError:
        pass
    value = compute(key)
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value


_CANONICAL_IPS = {}


def _canonical_ip(text):
    return str(ipaddress.ip_address(text))


def check_ip(ip, what):
    try:
        if isinstance(ip, str):
            return memoised(_CANONICAL_IPS, ip, _canonical_ip)
        return str(ipaddress.ip_address(ip))
    except ValueError:
        raise InvalidInput('%s: %r is not an IP address' % (what, ip))


def parse_network(cidr, what, strict=True, example=None):
    """The one CIDR parser of the collection.

    ``strict``: a network (host bits must be zero), returned as an ``ip_network``; otherwise an
    address with its prefix length (an interface address), returned as an ``ip_interface``.
    ``example`` is the value shown in the message when the input is not a CIDR.
    """
    example = example or ('10.128.1.0/24' if strict else '10.128.1.2/24')
    text = str(cidr)
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise InvalidInput('%s: %r is not a CIDR such as %s' % (what, cidr, example))
    if '/' not in text:
        raise InvalidInput('%s: %r has no prefix length (expected a CIDR such as %s)'
                           % (what, cidr, example))
    if not strict:
        return iface
    if iface.ip != iface.network.network_address:
        raise InvalidInput('%s: %s has host bits set; did you mean %s?'
                           % (what, cidr, iface.network))
    return iface.network


def check_network(cidr, what, strict=True):
    """A CIDR as text; strict means host bits must be zero (a subnet, not an interface address)."""
    return str(parse_network(cidr, what, strict=strict))


def check_node_name(node, what=None):
    """A Kubernetes node name (a DNS subdomain of at most 253 characters)."""
    problem = node_name_problem(node)
    if problem:
        raise InvalidInput('%s: %r is not a valid node name (%s)' % (what or 'node', node, problem))
    return node


def check_ifname(name, what):
    """A name that can also be a Linux network device (bridges and internal ports are)."""
    if not isinstance(name, str) or not _IFNAME.match(name):
        raise InvalidInput('%s: %r is not a valid interface name (1 to 15 characters, no '
                           'blanks or slashes)' % (what, name))
    return name


def strs(d, what):
    """A dict of strings as OVSDB maps want them (booleans become true/false)."""
    if d is None:
        return None
    out = {}
    for k, v in d.items():
        if v is None or isinstance(v, (dict, list)):
            raise InvalidInput('%s: the value of key %r must be a string, not %r' % (what, k, v))
        out[str(k)] = str(v).lower() if isinstance(v, bool) else str(v)
    return out


def purged(**flags):
    """The map columns whose purge flag is set: purged(options=True) == {'options'}."""
    return set(column for column, flag in flags.items() if flag)


def merge_tables(*specs):
    """Union of {table: [columns]} registrations."""
    merged = {}
    for spec in specs:
        for table, columns in spec.items():
            merged[table] = sorted(set(merged.get(table, [])) | set(columns))
    return merged


def one(value):
    """An optional OVSDB column (a 0-or-1 set) as a plain value or None."""
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value
