# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""The collection's vocabulary: the name of every object it makes, every external_ids key and
marker it writes, and the MAC derivation.

Pure functions of their arguments and constants (standard library only), shared by the
Northbound operations, the modules, the roles (through the modules), the watcher, its pure
translations (``ovn_k8s_agents.policy``, ``.services``, ``.annotation``) and the CNI plugin, so
that a name or a key is spelled in exactly one place. Which writer owns which row, and the one
rule every stale sweep asks, are in ``_owners``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress
import re

# Writers ---------------------------------------------------------------------------------
# The writers of the rows (docs/design.md, "One owner per row"; the rule is _owners.may_remove).
ROLES = 'roles'                    # the roles and modules of the collection (Ansible)
WATCHER = 'ovn-k8s-watcher'        # the watcher daemon (also its marker key and its lease's name)
CNI_PLUGIN = 'ovn-k8s-cni-overlay'  # the CNI plugin (also its program name)

# Northbound external_ids keys and markers --------------------------------------------------
# The watcher's marker, on the rows it makes for Kubernetes objects: its value says what for.
WATCHER_KEY = WATCHER
WATCHER_NODE = 'node'              # a node's switch, router port and ports (stamped)
WATCHER_POD = 'pod'                # a pod's logical switch port
# Which writer created a row another writer also stamps (a node's network: the roles or the
# watcher may make it, the watcher stamps it with WATCHER_KEY either way). Absent: not the
# watcher (see _owners).
CREATED_BY_KEY = 'ovn-k8s-created-by'
# The Kubernetes node of a node switch when the switch's name is not the node name.
NODE_KEY = 'k8s-node'
# A pod port's pod.
POD_NAMESPACE_KEY = 'namespace'
POD_NAME_KEY = 'pod'
POD_UID_KEY = 'pod-uid'            # also on the Southbound Port_Binding (ovn-northd copies it)
# The gateway role's rows (routers, switches, ports, routes and NAT of one gateway): its node.
GATEWAY_KEY = 'ovn-k8s-gateway'
GATEWAY_PHYSICAL_IP_KEY = 'physical_ip'  # on a gateway router: its external address
# The watcher's rows for Kubernetes objects (load balancers, port groups, address sets, ACLs):
# the object ("namespace/name", a namespace for the deny groups, a node for a node's group)
# and its kind.
OWNER_KEY = 'k8s.ovn.org/owner'
KIND_KEY = 'k8s.ovn.org/kind'
KIND_SERVICE = 'Service'
KIND_POLICY = 'NetworkPolicy'
KIND_POLICY_DENY = 'NetworkPolicyDeny'
KIND_NODE_MGMT = 'NodeManagementPort'
LB_NODE_KEY = 'k8s.ovn.org/node'   # on a per-node load balancer: its node
DIRECTION_KEY = 'direction'        # a policy's ACL, address set or deny group: Ingress or Egress
RULE_KEY = 'rule'                  # a policy's ACL or address set: the rule's index
NAMED_PORT_KEY = 'port'            # a named port's address set: protocol/name/number

# The source address OVN gives a pod's connection to its own service VIP that load balancing
# sent back to it (the load balancers' options:hairpin_snat_ip), which network policies let in.
HAIRPIN_SNAT_IP = '169.254.169.5'

# The underlay mode (``_underlay``): a Kubernetes node that is a VM. Its VM's logical switch
# port (its network interface, on a switch of the VM's network with a subnet) carries the node
# and the hypervisor (the chassis that hosts it); that switch carries the marker. Pods of such a
# node are logical switch ports whose parent_name is the VM's port, told apart by a VLAN tag.
VM_NODE_KEY = 'ovn-k8s-vm-node'              # on a VM's port: the Kubernetes node it is
VM_HYPERVISOR_KEY = 'ovn-k8s-vm-hypervisor'  # on a VM's port: the chassis that hosts the VM
VM_NETWORK_KEY = 'ovn-k8s-vm-network'        # on a switch holding VM nodes' ports
VM_NETWORK_YES = 'yes'
VLAN_ID_FIELD = 'vlan_id'                    # in a VM pod's network annotation: its VLAN tag

# Kubernetes keys ---------------------------------------------------------------------------
POD_NETWORKS_ANNOTATION = 'k8s.ovn.org/pod-networks'  # the pod's network, written by the watcher
LEGACY_POD_ANNOTATION = 'ovn'                         # the same, as older ovn-kubernetes wrote it
SERVICE_NAME_LABEL = 'kubernetes.io/service-name'      # an EndpointSlice's service

# Open vSwitch external_ids keys ------------------------------------------------------------
SYSTEM_ID_KEY = 'system-id'        # Open_vSwitch: the chassis name
OVN_REMOTE_KEY = 'ovn-remote'      # Open_vSwitch: the Southbound remote ovn-controller uses
IFACE_ID_KEY = 'iface-id'          # Interface: the logical port ovn-controller binds it to
IFACE_ID_VER_KEY = 'iface-id-ver'  # Interface: which port of that name (the pod's uid)
OVN_INSTALLED_KEY = 'ovn-installed'  # Interface: set by ovn-controller once its flows are in
CNI_OWNER_KEY = 'owner'            # Interface: CNI_PLUGIN on the ports the CNI plugin made
CNI_SANDBOX_KEY = 'sandbox'        # Interface: the container (sandbox) id
CNI_IFNAME_KEY = 'cni_ifname'      # Interface: the interface name inside the pod
CNI_POD_UID_KEY = 'k8s_pod_uid'    # Interface: the pod's uid
ATTACHED_MAC_KEY = 'attached_mac'  # Interface: the pod's MAC (as ovn-kubernetes writes it)
IP_ADDRESS_KEY = 'ip_address'      # Interface: the pod's address with its prefix
INTEGRATION_BRIDGE = 'br-int'      # the bridge ovn-controller makes and binds ports on

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


# The cluster --------------------------------------------------------------------------------
CLUSTER_ROUTER = 'ovn_cluster_router'  # the default name of the cluster router


# Load balancers (ovn_k8s_agents.services) ---------------------------------------------------
LB_GROUP = 'clusterLBGroup'  # every node switch and every gateway router
SWITCH_LB_GROUP = 'clusterSwitchLBGroup'  # every node switch, no gateway router


def load_balancer_name(namespace, name, protocol):
    """The load balancer of one service and protocol (TCP, UDP or SCTP)."""
    return 'Service_%s/%s_%s' % (namespace, name, protocol.upper())


def switch_load_balancer_name(namespace, name, protocol):
    """The load balancer of the addresses pods see otherwise than gateways (on every node switch)."""
    return load_balancer_name(namespace, name, protocol) + '_switch'


def node_switch_load_balancer_name(namespace, name, protocol, node):
    return '%s_node_switch_%s' % (load_balancer_name(namespace, name, protocol), node)


def node_router_load_balancer_name(namespace, name, protocol, node):
    return '%s_node_router_%s' % (load_balancer_name(namespace, name, protocol), node)


def node_switch_lb_group(node):
    """The group on ``node``'s switch alone."""
    return 'nodeSwitchLBGroup_%s' % node


def node_router_lb_group(node):
    """The group on ``node``'s gateway router alone."""
    return 'nodeRouterLBGroup_%s' % node


def object_owner(namespace, name):
    """The OWNER_KEY value of the rows made for a namespaced object (a service, a policy)."""
    return '%s/%s' % (namespace, name)


# Port groups and address sets (ovn_k8s_agents.policy) ----------------------------------------
# What an older release made instead of the nodes' port groups: removed when seen.
MGMT_ADDRESS_SET = 'ovnk8s_mgmt_port_ips'


def _digest(*parts):
    return hashlib.sha256('\0'.join(parts).encode('utf-8')).hexdigest()[:20]


def policy_port_group(namespace, name):
    """Port group of the pods policy ``namespace/name`` selects (OVN names allow no '-' or '/')."""
    return 'np_' + _digest(namespace, name)


def deny_port_group(namespace, direction):
    """Port group of the pods of ``namespace`` isolated for ``direction`` (Ingress/Egress)."""
    return 'npdeny_%s_%s' % (direction.lower(), _digest(namespace))


def node_port_group(node):
    """Port group of a node's management port (its ACLs apply on that node's switch alone)."""
    return 'npnode_' + _digest(node)


def rule_address_set(namespace, name, direction, index):
    """Address set of the pods rule ``index`` of ``direction`` of a policy allows."""
    return 'npas_' + _digest(namespace, name, direction, str(index))


def named_port_address_set(namespace, name, index, protocol, port_name, number):
    """Address set of the peer pods of egress rule ``index`` of a policy whose named port
    ``port_name`` (``protocol``) is ``number``."""
    return 'npas_' + _digest(namespace, name, 'Egress', str(index), protocol, port_name, str(number))
