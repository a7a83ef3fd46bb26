# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Removing a node's network with ovn_node_network state=absent respects one owner per row:
a network a role made goes (with its subnet, which ovn_node_subnets hands out again), a network
the watcher created stays for the watcher, against a real Northbound ovsdb-server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sys

from conftest import collection_root, nbctl, run_module

sys.path.insert(0, collection_root())

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _nb, _ovsdb, _owners, _txn  # noqa: E402


def make(remote, node, subnet, external_ids=None):
    with _ovsdb.Client(_ovsdb.NB_DB, remote=remote, tables=_nb.NODE_NETWORK_TABLES) as client:
        cs = _txn.ChangeSet(client)
        _nb.ensure_node_network(cs, client, node, subnet, external_ids=external_ids)
        cs.commit()


def test_a_role_made_network_goes_and_frees_its_subnet(nb_db):
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    make(nb_db, 'node1', '10.244.1.0/24', external_ids=_owners.watcher_node_ids('node1', creating=False))
    make(nb_db, 'node2', '10.244.2.0/24')
    absent = dict(remote=nb_db, node='node1', state='absent')
    check = run_module('ovn_node_network', absent, check_mode=True)
    assert check['changed'] and 'Logical_Switch node1' in check['diff']['before'], check
    assert 'node1' in nbctl(nb_db, 'ls-list')
    real = run_module('ovn_node_network', absent)
    assert real['changed'] and real['diff'] == check['diff']
    assert 'owner' not in real
    assert 'node1' not in nbctl(nb_db, 'ls-list') and 'rtos-node1' not in nbctl(nb_db, 'lrp-list', 'ovn_cluster_router')
    assert 'rtos-node2' in nbctl(nb_db, 'lrp-list', 'ovn_cluster_router')
    assert run_module('ovn_node_network', absent)['changed'] is False
    # Its subnet is free again: a new node gets it (the lowest free one).
    alloc = run_module('ovn_node_subnets', dict(remote=nb_db, cluster_subnet='10.244.0.0/16', host_prefix=24,
                                                nodes=['node3', 'node2']))
    assert alloc['subnets'] == {'node3': '10.244.0.0/24', 'node2': '10.244.2.0/24'}
    alloc = run_module('ovn_node_subnets', dict(remote=nb_db, cluster_subnet='10.244.0.0/16', host_prefix=24,
                                                nodes=[{'name': 'node3', 'subnet': '10.244.0.0/24'}, 'node1']))
    assert alloc['subnets']['node1'] == '10.244.1.0/24'


def test_a_network_the_watcher_created_is_left_to_it(nb_db):
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    make(nb_db, 'node1', '10.244.1.0/24', external_ids=_owners.watcher_node_ids('node1', creating=True))
    for check_mode in (True, False):
        result = run_module('ovn_node_network', dict(remote=nb_db, node='node1', state='absent'), check_mode=check_mode)
        assert not result.get('failed') and result['changed'] is False, result
        assert result['owner'] == _names.WATCHER
        # ansible-core 2.19 returns warnings as summaries, older ones as strings.
        assert 'made by ovn-k8s-watcher' in str(result.get('warnings')), result
    assert 'node1' in nbctl(nb_db, 'ls-list')
    assert 'rtos-node1' in nbctl(nb_db, 'lrp-list', 'ovn_cluster_router')
