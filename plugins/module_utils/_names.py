# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""The names of everything the collection makes for a node, and the MAC derivation.

Pure functions of their arguments (standard library only), shared by the Northbound
operations, the modules, the roles (through the modules) and the watcher, so that a name
is spelled in exactly one place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

# The OVS internal interface (and kernel device) of a node's management port. Fixed,
# because interface names are limited to 15 bytes and node names are not; the
# logical port stays named after the node (external_ids:iface-id=k8s-<node>).
MGMT_INTERFACE = 'ovn-k8s-mp0'

# Kubernetes node names are DNS subdomains (RFC 1123): at most 253 characters,
# lowercase letters, digits, '-' and '.', each dot-separated label starting and
# ending with a letter or digit.
NODE_NAME_MAX = 253
_LABEL = r'[a-z0-9]([-a-z0-9]*[a-z0-9])?'
_NODE_NAME = re.compile(r'^%s(\.%s)*$' % (_LABEL, _LABEL))


def node_name_problem(node):
    """Why ``node`` is not a Kubernetes node name, or None when it is one."""
    if not isinstance(node, str) or not node:
        return 'a node name must be a non-empty string'
    if len(node) > NODE_NAME_MAX:
        return 'a node name has at most %d characters, this one has %d' % (NODE_NAME_MAX, len(node))
    if not _NODE_NAME.match(node):
        return ('a node name is a DNS subdomain: lowercase letters, digits, "-" and ".", '
                'starting and ending with a letter or digit')
    return None


# A node's network ------------------------------------------------------------
def node_switch(node):
    """The node's logical switch."""
    return node


def router_to_switch_port(node):
    """The cluster router's port to the node's switch."""
    return 'rtos-%s' % node


def switch_to_router_port(node):
    """The node switch's port to the cluster router (type router)."""
    return 'stor-%s' % node


def mgmt_port(node):
    """The logical switch port of the node's management port (its OVS iface-id)."""
    return 'k8s-%s' % node


def pod_port(namespace, pod):
    """The logical switch port of a pod."""
    return '%s_%s' % (namespace, pod)


def mac_from_ip(ip):
    """The MAC ovn-kubernetes derives from an IPv4 address: 0a:58 and the four bytes."""
    packed = ipaddress.IPv4Address(str(ip)).packed
    return '0a:58:' + ':'.join('%02x' % b for b in bytearray(packed))


# A gateway node ----------------------------------------------------------------
def gateway_router(node):
    return 'GR_%s' % node


def gateway_names(node):
    """Every name of a gateway node's objects, keyed by role."""
    gr = gateway_router(node)
    return dict(router=gr, join='join_%s' % node, ext='ext_%s' % node,
                cr_port='rtoj-%s' % node, cr_peer='jtor-%s' % node,
                gr_join_port='rtoj-%s' % gr, gr_join_peer='jtor-%s' % gr,
                gr_ext_port='rtoe-%s' % gr, gr_ext_peer='etor-%s' % gr,
                localnet='lnet-%s' % node)
