# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pod network annotation: the one contract between the watcher (writes it) and the CNI
plugin (reads it).

Two forms are written side by side so that tools made for either can read them:

- ``ovn`` (the original ovn-kubernetes overlay form)::

    {"ip_address": "10.128.1.5/24", "mac_address": "0a:58:0a:80:01:05", "gateway_ip": "10.128.1.1"}

- ``k8s.ovn.org/pod-networks`` (the modern form, keyed by network name)::

    {"default": {"ip_addresses": ["10.128.1.5/24"], "mac_address": "0a:58:0a:80:01:05",
                 "gateway_ips": ["10.128.1.1"], "ip_address": "10.128.1.5/24",
                 "gateway_ip": "10.128.1.1", "role": "primary"}}
"""

from __future__ import absolute_import, division, print_function

import ipaddress
import json
import re

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names

LEGACY_KEY = _names.LEGACY_POD_ANNOTATION
MODERN_KEY = _names.POD_NETWORKS_ANNOTATION
DEFAULT_NETWORK = 'default'

_MAC = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')


class AnnotationError(ValueError):
    """A pod's network annotation is missing or malformed; the text names the pod and the fault."""


class PodNetwork(object):
    """A pod's address on the default network: ``ip`` with prefix, ``mac``, ``gateway``."""

    __slots__ = ('interface', 'mac', 'gateway', '_notes')

    def __init__(self, ip_cidr, mac, gateway):
        self._notes = None
        self.interface = ipaddress.ip_interface(str(ip_cidr))
        self.mac = str(mac).lower()
        self.gateway = ipaddress.ip_address(str(gateway))
        if not _MAC.match(self.mac):
            raise ValueError('%r is not a MAC address' % (mac,))
        if self.gateway not in self.interface.network:
            raise ValueError('gateway %s is outside %s' % (self.gateway, self.interface.network))

    @property
    def ip(self):
        return str(self.interface.ip)

    @property
    def cidr(self):
        return str(self.interface)

    @property
    def prefixlen(self):
        return self.interface.network.prefixlen

    def __eq__(self, other):
        return isinstance(other, PodNetwork) and (self.interface, self.mac, self.gateway) == (
            other.interface, other.mac, other.gateway)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.interface, self.mac, self.gateway))

    def __repr__(self):
        return 'PodNetwork(%r, %r, %r)' % (self.cidr, self.mac, str(self.gateway))

    def annotations(self):
        """The two annotation values (JSON strings) that describe this address."""
        if self._notes is None:
            self._notes = self._annotations()
        return dict(self._notes)

    def _annotations(self):
        legacy = {'ip_address': self.cidr, 'mac_address': self.mac, 'gateway_ip': str(self.gateway)}
        modern = {DEFAULT_NETWORK: {
            'ip_addresses': [self.cidr], 'mac_address': self.mac,
            'gateway_ips': [str(self.gateway)], 'ip_address': self.cidr,
            'gateway_ip': str(self.gateway), 'role': 'primary'}}
        return {LEGACY_KEY: json.dumps(legacy, sort_keys=True, separators=(',', ':')),
                MODERN_KEY: json.dumps(modern, sort_keys=True, separators=(',', ':'))}


def parse(annotations, pod='pod'):
    """The PodNetwork in a pod's ``metadata.annotations``, or None when it has none.

    The legacy ``ovn`` form wins when both are present (it is the one this collection's CNI
    plugin was first written against); a malformed value raises AnnotationError naming ``pod``.
    """
    annotations = annotations or {}
    if LEGACY_KEY in annotations:
        key, raw = LEGACY_KEY, annotations[LEGACY_KEY]
    elif MODERN_KEY in annotations:
        key, raw = MODERN_KEY, annotations[MODERN_KEY]
    else:
        return None
    hit = _PARSED.get((key, raw)) if isinstance(raw, str) else None
    if hit is not None:
        return hit
    try:
        value = json.loads(raw)
        if key == MODERN_KEY:
            value = value[DEFAULT_NETWORK]
            ip_cidr = value.get('ip_address') or value['ip_addresses'][0]
            gateway = value.get('gateway_ip') or value['gateway_ips'][0]
        else:
            ip_cidr, gateway = value['ip_address'], value['gateway_ip']
        net = PodNetwork(ip_cidr, value['mac_address'], gateway)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise AnnotationError('pod %s: annotation %s is malformed (%s): %r'
                              % (pod, key, e if not isinstance(e, KeyError) else 'no %s' % e, raw))
    if len(_PARSED) >= 65536:
        _PARSED.clear()
    _PARSED[(key, raw)] = net
    return net


# (annotation key, value) -> PodNetwork: the watcher reads every pod's annotation on each of its
# reconciles, and a pod's annotation rarely changes. PodNetwork values are never changed in place.
_PARSED = {}
