# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""The underlay mode: Kubernetes nodes that are VMs on hypervisors that run OVN.

A VM node is declared in the Northbound database, the one source of truth (a pod or a VM's
kubelet cannot write there): the VM's logical switch port (its network interface, made by
whoever runs the VMs) carries ``_names.VM_NODE_KEY`` = the node and ``VM_HYPERVISOR_KEY`` = the
chassis that hosts it (also its ``options:requested-chassis``), and the switch of the VM's
network, which must have an ``other_config:subnet``, carries ``VM_NETWORK_KEY``. The roles write
the declaration (module ``ovn_vm_node``, :func:`ensure_vm_node`, :func:`remove_vm_node`); the
watcher reads it (:func:`vm_nodes`) and gives each pod of such a node a logical switch port
whose ``parent_name`` is the VM's port and whose ``tag_request`` is a VLAN tag unique on that
VM (:class:`VmTags`, from what the Northbound holds: stable across restarts, freed with the
port). The pod's address comes from the VM network's subnet, as a node switch's would
(``_ipam.SwitchAddresses``: the first address is the router's, the second is kept back).

Also here: the VLAN tag in the pod's network annotation (:func:`annotations_with_tag`,
:func:`annotation_tag`), the contract between the watcher and the CNI plugin inside the VM, and
the checks of a container port that ``ovn_lsp`` asks (:func:`check_container_port`: its parent
exists and its tag is free on it).

Tags are read from ``tag_request`` (what the collection writes); a tag ovn-northd picks for a
port with ``tag_request=0`` is not seen here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import weakref

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _ipam, _names
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import read

# What the declaration reads and writes.
TABLES = {
    'Logical_Switch': ['name', 'ports', 'other_config', 'external_ids'],
    'Logical_Switch_Port': ['name', 'type', 'addresses', 'parent_name', 'tag_request', 'options',
                            'external_ids'],
}
# The VLAN tags a pod may get (0 is "untagged" and 4095 is reserved by 802.1Q).
TAG_FIRST, TAG_LAST = 1, 4094
# The option that binds the VM's port to its hypervisor only.
REQUESTED_CHASSIS = 'requested-chassis'


# Reading ----------------------------------------------------------------------------------
def parent_of(row):
    """A port's parent_name, or None."""
    value = read(row, 'parent_name')
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value or None


def tag_of(row):
    """A port's tag_request, or None."""
    value = read(row, 'tag_request')
    if isinstance(value, (list, tuple)):
        return int(value[0]) if value else None
    return int(value) if value is not None else None


# client -> (change_seqno, {parent: [(name, tag)]}): one pass over the ports per state of the
# client's copy (the watcher asks for every pod of a VM in a batch).
_CHILDREN = weakref.WeakKeyDictionary()


def container_ports(client, parent):
    """[(name, tag)] of the ports whose parent_name is ``parent``, sorted."""
    seqno = client.idl.change_seqno
    hit = _CHILDREN.get(client)
    if hit is None or hit[0] != seqno:
        children = {}
        for row in client.rows('Logical_Switch_Port'):
            mother = parent_of(row)
            if mother is not None:
                children.setdefault(mother, []).append((row.name, tag_of(row)))
        hit = _CHILDREN[client] = (seqno, children)
    return sorted(hit[1].get(parent, ()))


class VmNode(object):
    """One declared VM node: ``node``, ``port`` (the VM's port row), ``switch`` (its network's
    switch row, or None when no switch holds the port), ``hypervisor``."""

    __slots__ = ('node', 'port', 'switch', 'hypervisor')

    def __init__(self, node, port, switch, hypervisor):
        self.node, self.port, self.switch, self.hypervisor = node, port, switch, hypervisor

    @property
    def port_name(self):
        return self.port.name

    @property
    def subnet(self):
        return read(self.switch, 'other_config').get('subnet') if self.switch is not None else None


def vm_nodes(client):
    """{node: VmNode} of every VM node declared on a switch marked as a VM network (the switches
    are few: an overlay-only cluster pays one pass over them). Two ports declaring one node is a
    Conflict naming both."""
    out = {}
    for switch in client.rows('Logical_Switch'):
        if read(switch, 'external_ids').get(_names.VM_NETWORK_KEY) != _names.VM_NETWORK_YES:
            continue
        for port in switch.ports:
            ids = read(port, 'external_ids')
            node = ids.get(_names.VM_NODE_KEY)
            if not node:
                continue
            if node in out:
                raise Conflict('node %s is declared as the VM of two logical switch ports, %s and %s; a node '
                               'has one VM port' % (node, out[node].port_name, port.name))
            out[node] = VmNode(node, port, switch, ids.get(_names.VM_HYPERVISOR_KEY))
    return out


def _declared(client, node):
    """The VM ports (rows) anywhere in the database that declare ``node``."""
    return [row for row in client.rows('Logical_Switch_Port')
            if read(row, 'external_ids').get(_names.VM_NODE_KEY) == node]


# The declaration (module ovn_vm_node) -----------------------------------------------------
def ensure_vm_node(cs, client, node, switch, port, hypervisor):
    """Declare ``node`` a VM whose network interface is logical switch port ``port`` on
    ``switch`` (a switch with a subnet), hosted by chassis ``hypervisor``. Returns what the
    node is then (see :func:`describe`)."""
    what = 'VM node %s' % node
    problem = _names.node_name_problem(node)
    if problem:
        raise InvalidInput('%s: %s' % (what, problem))
    if not isinstance(hypervisor, str) or not hypervisor.strip() or hypervisor != hypervisor.strip():
        raise InvalidInput('%s: hypervisor must be the chassis name (system-id) of the host that runs the VM, '
                           'without blanks; got %r' % (what, hypervisor))
    sw = client.find_one('Logical_Switch', 'name', switch)
    if sw is None:
        raise InvalidInput('%s: logical switch %s (the VM\'s network) does not exist' % (what, switch))
    subnet = read(sw, 'other_config').get('subnet')
    if not subnet:
        raise InvalidInput('%s: logical switch %s has no other_config:subnet; the pods of a VM take their '
                           'addresses from its network\'s subnet, so give the switch one first' % (what, switch))
    _ipam.node_addresses(subnet, '%s: the subnet of logical switch %s' % (what, switch))
    row = client.find_one('Logical_Switch_Port', 'name', port)
    if row is None:
        raise InvalidInput('%s: logical switch port %s (the VM\'s network interface) does not exist; create the '
                           'VM\'s port first' % (what, port))
    if not client.holds(sw, 'ports', row):
        holder = client.holder('Logical_Switch', row)
        raise InvalidInput('%s: logical switch port %s is on logical switch %s, not on %s'
                           % (what, port, holder.name if holder is not None else '(none)', switch))
    if parent_of(row) is not None:
        raise InvalidInput('%s: logical switch port %s is itself a container port (parent_name %s), not a VM\'s '
                           'network interface' % (what, port, parent_of(row)))
    if read(row, 'type'):
        raise InvalidInput('%s: logical switch port %s has type %s; a VM\'s network interface is a plain VIF port '
                           '(type "")' % (what, port, read(row, 'type')))
    ids = read(row, 'external_ids')
    other = ids.get(_names.VM_NODE_KEY)
    if other not in (None, node):
        raise Conflict('%s: logical switch port %s is already the interface of VM node %s; remove that node first '
                       '(state=absent)' % (what, port, other))
    for elsewhere in _declared(client, node):
        if elsewhere.uuid != row.uuid:
            raise Conflict('%s: the node is already declared on logical switch port %s; a node has one VM port, '
                           'remove that declaration first (state=absent)' % (what, elsewhere.name))
    cs.converge('Logical_Switch_Port %s' % port, 'Logical_Switch_Port', row, {
        'external_ids': {_names.VM_NODE_KEY: node, _names.VM_HYPERVISOR_KEY: hypervisor},
        'options': {REQUESTED_CHASSIS: hypervisor}})
    cs.converge('Logical_Switch %s' % switch, 'Logical_Switch', sw,
                {'external_ids': {_names.VM_NETWORK_KEY: _names.VM_NETWORK_YES}})
    return describe(client, node, sw, row, hypervisor)


def describe(client, node, sw, row, hypervisor):
    addrs = _ipam.node_addresses(read(sw, 'other_config').get('subnet'))
    return dict(node=node, switch=sw.name, port=row.name, hypervisor=hypervisor, subnet=addrs['subnet'],
                gateway=addrs['router_ip'],
                container_ports=[dict(name=n, tag=t) for n, t in container_ports(client, row.name)])


def remove_vm_node(cs, client, node):
    """Take back the declaration of ``node`` (the VM's port stays: it is not ours). Refused while
    container ports still sit on the VM: their pods would lose their network."""
    rows = _declared(client, node)
    for row in rows:
        children = container_ports(client, row.name)
        if children:
            raise Conflict('VM node %s: %d container port(s) still have its port %s as parent (%s); remove its pods '
                           'first (drain the node)' % (node, len(children), row.name,
                                                       ', '.join(n for n, dummy in children[:5])))
    for row in rows:
        ids = read(row, 'external_ids')
        options = {}
        if read(row, 'options').get(REQUESTED_CHASSIS) == ids.get(_names.VM_HYPERVISOR_KEY):
            options[REQUESTED_CHASSIS] = None
        wanted = {'external_ids': {_names.VM_NODE_KEY: None, _names.VM_HYPERVISOR_KEY: None}}
        if options:
            wanted['options'] = options
        cs.converge('Logical_Switch_Port %s' % row.name, 'Logical_Switch_Port', row, wanted)
        sw = client.holder('Logical_Switch', row)
        if sw is None:
            continue
        others = [p for p in sw.ports if p.uuid != row.uuid and read(p, 'external_ids').get(_names.VM_NODE_KEY)]
        if not others:
            cs.converge('Logical_Switch %s' % sw.name, 'Logical_Switch', sw,
                        {'external_ids': {_names.VM_NETWORK_KEY: None}})


# Container ports (ovn_lsp with parent_name) ------------------------------------------------
def lsp_conditions(parent):
    """The extra rows a container port's checks read: its parent and the parent's children."""
    return [['name', '==', parent], ['parent_name', '==', parent]]


def check_container_port(client, name, parent, tag):
    """A container port ``name`` may sit on VM port ``parent`` with VLAN ``tag``: the parent is a
    logical switch port that is not itself a container port, and no other port uses the tag on
    it (tag 0 asks ovn-northd to choose one)."""
    what = 'logical switch port %s' % name
    row = client.find_one('Logical_Switch_Port', 'name', parent)
    if row is None:
        raise InvalidInput('%s: its parent_name %s is not a logical switch port (no VM port of that name)'
                           % (what, parent))
    if parent_of(row) is not None:
        raise InvalidInput('%s: its parent_name %s is itself a container port (of %s); containers do not nest'
                           % (what, parent, parent_of(row)))
    if parent == name:
        raise InvalidInput('%s: a port cannot be its own parent' % what)
    if not tag:
        return
    for other, other_tag in container_ports(client, parent):
        if other != name and other_tag == int(tag):
            raise Conflict('%s: tag %d is already in use on VM port %s by logical switch port %s'
                           % (what, int(tag), parent, other))


# Tags of one VM (the watcher) --------------------------------------------------------------
class VmTags(object):
    """The VLAN tags on one VM port as one plan sees them: ``used`` {tag: port name} (what the
    Northbound holds plus what was reserved since), ``cursors`` {VM port: next tag} kept by the
    caller across plans. :meth:`allocate` hands out the next free tag after the last one given
    on this VM (after the highest in use after a restart), wrapping around: a freed tag is the
    last to be given again, as a freed address is (``_ipam.SwitchAddresses``)."""

    def __init__(self, port, used, cursors=None):
        self.port = port
        self.used = dict(used)
        self.cursors = {} if cursors is None else cursors

    def holder(self, tag):
        return self.used.get(tag)

    def reserve(self, tag, name):
        self.used[tag] = name

    def release(self, name):
        self.used = dict((t, n) for t, n in self.used.items() if n != name)

    def allocate(self, name):
        start = self.cursors.get(self.port)
        if start is None or not TAG_FIRST <= start <= TAG_LAST:
            start = max(self.used) + 1 if self.used else TAG_FIRST
        size = TAG_LAST - TAG_FIRST + 1
        for offset in range(size):
            tag = TAG_FIRST + (start - TAG_FIRST + offset) % size
            if tag not in self.used:
                self.used[tag] = name
                self.cursors[self.port] = tag + 1
                return tag
        return None


# The VLAN tag in the pod's network annotation -------------------------------------------------
def annotations_with_tag(notes, tag):
    """The pod annotation values ``notes`` ({key: JSON text}, both forms) with the VLAN tag added
    (``vlan_id`` in the legacy form and in the default network's entry of the modern one)."""
    out = {}
    for key, text in notes.items():
        value = json.loads(text)
        if key == _names.POD_NETWORKS_ANNOTATION:
            for entry in value.values():
                entry[_names.VLAN_ID_FIELD] = int(tag)
        else:
            value[_names.VLAN_ID_FIELD] = int(tag)
        out[key] = json.dumps(value, sort_keys=True, separators=(',', ':'))
    return out


def annotation_tag(annotations, pod='pod'):
    """The VLAN tag in a pod's annotations (the legacy form first, as for the address), or None
    when the annotation carries none; a tag outside 1-4094 is an InvalidInput naming the pod."""
    annotations = annotations or {}
    for key in (_names.LEGACY_POD_ANNOTATION, _names.POD_NETWORKS_ANNOTATION):
        if key not in annotations:
            continue
        try:
            value = json.loads(annotations[key])
            if key == _names.POD_NETWORKS_ANNOTATION:
                value = value['default']
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput('pod %s: annotation %s is malformed: %s' % (pod, key, exc))
        if not isinstance(value, dict):
            raise InvalidInput('pod %s: annotation %s is not an object' % (pod, key))
        tag = value.get(_names.VLAN_ID_FIELD)
        if tag is None:
            return None
        if isinstance(tag, bool) or not isinstance(tag, int) or not TAG_FIRST <= tag <= TAG_LAST:
            raise InvalidInput('pod %s: annotation %s has %s %r; expected an integer from %d to %d'
                               % (pod, key, _names.VLAN_ID_FIELD, tag, TAG_FIRST, TAG_LAST))
        return tag
    return None
