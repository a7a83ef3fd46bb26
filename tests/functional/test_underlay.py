# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The underlay mode's declaration (module ovn_vm_node) and the container port checks of
ovn_lsp, against a real Northbound ovsdb-server; the tag allocator and the annotation's tag
without a server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import sys

import pytest

from conftest import collection_root, converge_module, nbctl, run_module

sys.path.insert(0, collection_root())

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _underlay  # noqa: E402
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import InvalidInput  # noqa: E402


def _dump(remote):
    """Everything a failed run could have touched: every switch and port, all columns."""
    return (nbctl(remote, '--format=json', 'list', 'Logical_Switch'),
            nbctl(remote, '--format=json', 'list', 'Logical_Switch_Port'))


def _vm_network(remote, subnet='192.168.50.0/24'):
    nbctl(remote, 'ls-add', 'tenant')
    if subnet:
        nbctl(remote, 'set', 'Logical_Switch', 'tenant', 'other_config:subnet=%s' % subnet)
    for vm, ip in (('vm-a', '192.168.50.10'), ('vm-b', '192.168.50.11')):
        nbctl(remote, 'lsp-add', 'tenant', vm)
        nbctl(remote, 'lsp-set-addresses', vm, '0a:00:00:00:00:%s %s' % (ip.rsplit('.', 1)[1], ip))


def _ids(remote, table, name):
    return nbctl(remote, 'get', table, name, 'external_ids')


def test_vm_node_lifecycle(nb_db):
    _vm_network(nb_db)
    args = dict(remote=nb_db, node='k8s-vm-a', switch='tenant', port='vm-a', hypervisor='hv1')
    before = _dump(nb_db)

    def untouched():
        assert _dump(nb_db) == before, 'check mode wrote to the database'

    check, real, dummy = converge_module('ovn_vm_node', args, untouched=untouched)
    assert real['diff']['after']['Logical_Switch_Port vm-a'] == {
        'external_ids': {_names.VM_NODE_KEY: 'k8s-vm-a', _names.VM_HYPERVISOR_KEY: 'hv1'},
        'options': {'requested-chassis': 'hv1'}}
    assert real['diff']['after']['Logical_Switch tenant'] == {'external_ids': {_names.VM_NETWORK_KEY: 'yes'}}
    assert (real['subnet'], real['gateway'], real['port'], real['container_ports']) == (
        '192.168.50.0/24', '192.168.50.1', 'vm-a', [])
    assert check['subnet'] == real['subnet']
    assert nbctl(nb_db, 'get', 'Logical_Switch_Port', 'vm-a', 'options:requested-chassis') == 'hv1'
    assert 'ovn-k8s-vm-network=yes' in _ids(nb_db, 'Logical_Switch', 'tenant')

    # A second VM on the same network; moving a VM to another hypervisor converges the stamp.
    converge_module('ovn_vm_node', dict(args, node='k8s-vm-b', port='vm-b'))
    moved = run_module('ovn_vm_node', dict(args, hypervisor='hv2'))
    assert moved['changed'] and moved['diff']['before']['Logical_Switch_Port vm-a']['options'] == {
        'requested-chassis': 'hv1'}
    assert nbctl(nb_db, 'get', 'Logical_Switch_Port', 'vm-a', 'options:requested-chassis') == 'hv2'

    # The pods the watcher made are reported (here: a container port made by hand).
    assert not run_module('ovn_lsp', dict(remote=nb_db, switch='tenant', name='ns_p1', parent_name='vm-a',
                                          tag=7)).get('failed')
    assert run_module('ovn_vm_node', dict(args, hypervisor='hv2'))['container_ports'] == [dict(name='ns_p1', tag=7)]

    # Removal is refused while a container sits on the VM, then takes only the declaration back;
    # the network's marker stays while another VM is declared on it.
    absent = dict(remote=nb_db, node='k8s-vm-a', state='absent')
    before = _dump(nb_db)
    refused = run_module('ovn_vm_node', absent)
    assert refused['failed'] and refused['msg'] == (
        'VM node k8s-vm-a: 1 container port(s) still have its port vm-a as parent (ns_p1); remove its pods '
        'first (drain the node)')
    assert _dump(nb_db) == before
    nbctl(nb_db, 'lsp-del', 'ns_p1')
    before = _dump(nb_db)
    converge_module('ovn_vm_node', absent, untouched=lambda: _dump(nb_db) == before or pytest.fail('wrote'))
    assert _names.VM_NODE_KEY not in _ids(nb_db, 'Logical_Switch_Port', 'vm-a')
    assert 'requested-chassis' not in nbctl(nb_db, 'get', 'Logical_Switch_Port', 'vm-a', 'options')
    assert 'ovn-k8s-vm-network=yes' in _ids(nb_db, 'Logical_Switch', 'tenant')
    converge_module('ovn_vm_node', dict(absent, node='k8s-vm-b'))
    assert _names.VM_NETWORK_KEY not in _ids(nb_db, 'Logical_Switch', 'tenant')
    assert 'vm-a' in nbctl(nb_db, 'lsp-list', 'tenant'), 'the VM port is not the module\'s to remove'


@pytest.mark.parametrize('args, msg', [
    (dict(port='vm-x'), 'VM node k8s-vm-a: logical switch port vm-x (the VM\'s network interface) does not exist; '
                        'create the VM\'s port first'),
    (dict(switch='nowhere'), 'VM node k8s-vm-a: logical switch nowhere (the VM\'s network) does not exist'),
    (dict(switch='other'), 'VM node k8s-vm-a: logical switch port vm-a is on logical switch tenant, not on other'),
    (dict(port='ctr'), 'VM node k8s-vm-a: logical switch port ctr is itself a container port (parent_name vm-b), '
                       'not a VM\'s network interface'),
    (dict(node='Bad_Name'), 'VM node Bad_Name: a node name is a DNS subdomain'),
    (dict(hypervisor=' hv1'), 'VM node k8s-vm-a: hypervisor must be the chassis name'),
    (dict(port='vm-b'), 'VM node k8s-vm-a: logical switch port vm-b is already the interface of VM node k8s-vm-b; '
                        'remove that node first (state=absent)'),
    (dict(node='k8s-vm-b', port='vm-a'), 'VM node k8s-vm-b: the node is already declared on logical switch port '
                                         'vm-b; a node has one VM port'),
])
def test_vm_node_refuses(nb_db, args, msg):
    _vm_network(nb_db)
    nbctl(nb_db, 'ls-add', 'other')
    nbctl(nb_db, 'set', 'Logical_Switch', 'other', 'other_config:subnet=192.168.60.0/24')
    nbctl(nb_db, 'lsp-add', 'tenant', 'ctr', 'vm-b', '7')
    good = dict(remote=nb_db, node='k8s-vm-a', switch='tenant', port='vm-a', hypervisor='hv1')
    assert not run_module('ovn_vm_node', dict(good, node='k8s-vm-b', port='vm-b')).get('failed')
    before = _dump(nb_db)
    for check_mode in (True, False):
        bad = run_module('ovn_vm_node', dict(good, **args), check_mode=check_mode)
        assert bad.get('failed') and bad['msg'].startswith(msg), bad
    assert _dump(nb_db) == before


def test_vm_on_a_switch_without_subnet(nb_db):
    _vm_network(nb_db, subnet=None)
    before = _dump(nb_db)
    bad = run_module('ovn_vm_node', dict(remote=nb_db, node='k8s-vm-a', switch='tenant', port='vm-a', hypervisor='hv1'))
    assert bad['failed'] and bad['msg'] == (
        'VM node k8s-vm-a: logical switch tenant has no other_config:subnet; the pods of a VM take their addresses '
        'from its network\'s subnet, so give the switch one first')
    nbctl(nb_db, 'set', 'Logical_Switch', 'tenant', 'other_config:subnet=192.168.50.0/31')
    bad = run_module('ovn_vm_node', dict(remote=nb_db, node='k8s-vm-a', switch='tenant', port='vm-a', hypervisor='hv1'))
    assert bad['failed'] and 'must be an IPv4 network of /30 or larger' in bad['msg'], bad
    assert _dump(nb_db)[1] == before[1]


def test_container_port_checks(nb_db):
    _vm_network(nb_db)
    base = dict(remote=nb_db, switch='tenant')
    converge_module('ovn_lsp', dict(base, name='ns_p1', parent_name='vm-a', tag=7))
    before = _dump(nb_db)
    bad = run_module('ovn_lsp', dict(base, name='ns_p2', parent_name='vm-a', tag=7))
    assert bad['failed'] and bad['msg'] == ('logical switch port ns_p2: tag 7 is already in use on VM port vm-a by '
                                            'logical switch port ns_p1')
    bad = run_module('ovn_lsp', dict(base, name='ns_p2', parent_name='vm-z', tag=8))
    assert bad['failed'] and bad['msg'] == ('logical switch port ns_p2: its parent_name vm-z is not a logical switch '
                                            'port (no VM port of that name)')
    bad = run_module('ovn_lsp', dict(base, name='ns_p2', parent_name='ns_p1', tag=8))
    assert bad['failed'] and 'is itself a container port (of vm-a); containers do not nest' in bad['msg']
    # Moving ns_p1 onto a tag another container of the VM holds is refused too.
    nbctl(nb_db, 'lsp-add', 'tenant', 'ns_p3', 'vm-a', '9')
    before = _dump(nb_db)
    bad = run_module('ovn_lsp', dict(base, name='ns_p1', parent_name='vm-a', tag=9))
    assert bad['failed'] and 'tag 9 is already in use on VM port vm-a by logical switch port ns_p3' in bad['msg']
    assert _dump(nb_db) == before
    # The same tag on another VM is fine; so is ns_p1 keeping its own.
    converge_module('ovn_lsp', dict(base, name='ns_p2', parent_name='vm-b', tag=7))
    assert run_module('ovn_lsp', dict(base, name='ns_p1', parent_name='vm-a', tag=7))['changed'] is False


def test_tags_round_robin():
    tags = _underlay.VmTags('vm-a', {1: 'a', 2: 'b', 5: 'c'}, cursors={})
    assert tags.allocate('d') == 6, 'after the highest in use after a restart'
    tags.release('b')
    assert tags.allocate('e') == 7, 'a freed tag is the last to be given again'
    cursors = {'vm-a': _underlay.TAG_LAST}
    tags = _underlay.VmTags('vm-a', {_underlay.TAG_LAST: 'x', 1: 'y'}, cursors=cursors)
    assert tags.allocate('z') == 2, 'wraps around past 4094 and skips 0'
    full = _underlay.VmTags('vm-a', dict((t, 'p') for t in range(1, 4095)))
    assert full.allocate('q') is None


def test_annotation_tag_round_trip():
    legacy = {'ip_address': '192.168.50.5/24', 'mac_address': '0a:58:c0:a8:32:05', 'gateway_ip': '192.168.50.1'}
    notes = {_names.LEGACY_POD_ANNOTATION: json.dumps(legacy),
             _names.POD_NETWORKS_ANNOTATION: json.dumps({'default': {'ip_addresses': ['192.168.50.5/24']}})}
    tagged = _underlay.annotations_with_tag(notes, 12)
    assert json.loads(tagged[_names.POD_NETWORKS_ANNOTATION])['default']['vlan_id'] == 12
    assert _underlay.annotation_tag(tagged) == 12
    assert _underlay.annotation_tag({_names.POD_NETWORKS_ANNOTATION: tagged[_names.POD_NETWORKS_ANNOTATION]}) == 12
    assert _underlay.annotation_tag(notes) is None
    for bad in (0, 4095, '12', True):
        legacy = dict(json.loads(notes[_names.LEGACY_POD_ANNOTATION]), vlan_id=bad)
        with pytest.raises(InvalidInput, match='expected an integer from 1 to 4094'):
            _underlay.annotation_tag({_names.LEGACY_POD_ANNOTATION: json.dumps(legacy)}, pod='ns/p')
