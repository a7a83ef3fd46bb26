# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovn_node_subnets against a real ovsdb-server with the OVN Northbound schema."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from conftest import nbctl, run_module


def alloc(nb_db, nodes, cluster='10.128.0.0/14', prefix=24, check_mode=False):
    return run_module('ovn_node_subnets', dict(remote=nb_db, cluster_subnet=cluster,
                                               host_prefix=prefix, nodes=nodes),
                      check_mode=check_mode)


def switch(nb_db, name, subnet, node=None):
    nbctl(nb_db, 'ls-add', name)
    nbctl(nb_db, 'set', 'Logical_Switch', name, 'other_config:subnet=%s' % subnet)
    if node:
        nbctl(nb_db, 'set', 'Logical_Switch', name, 'external_ids:k8s-node=%s' % node)


def test_new_nodes_get_the_lowest_free_subnets_in_order(nb_db):
    r = alloc(nb_db, ['master', {'name': 'node1'}, 'node2'])
    assert not r.get('failed'), r
    assert r['changed'] is False
    assert r['subnets'] == {'master': '10.128.0.0/24', 'node1': '10.128.1.0/24',
                            'node2': '10.128.2.0/24'}
    assert [n['source'] for n in r['nodes']] == ['allocated'] * 3
    assert nbctl(nb_db, 'ls-list') == ''  # it only reads


def test_existing_switches_keep_their_subnets_and_holes_are_reused(nb_db):
    switch(nb_db, 'node1', '10.128.5.0/24')
    switch(nb_db, 'sw-b', '10.128.0.0/24', node='node2')  # named by external_ids
    switch(nb_db, 'gone', '10.128.1.0/24')  # a node not asked about still holds its subnet
    switch(nb_db, 'join', '100.64.0.0/16')  # outside the range: not a node switch
    r = alloc(nb_db, ['node3', 'node1', 'node2', 'node4'])
    assert not r.get('failed'), r
    assert r['subnets'] == {'node1': '10.128.5.0/24', 'node2': '10.128.0.0/24',
                            'node3': '10.128.2.0/24', 'node4': '10.128.3.0/24'}
    assert dict((n['name'], n['source']) for n in r['nodes']) == {
        'node1': 'existing', 'node2': 'existing', 'node3': 'allocated', 'node4': 'allocated'}


def test_stable_when_nodes_are_added_or_removed(nb_db):
    first = alloc(nb_db, ['a', 'b', 'c'])['subnets']
    for name, subnet in first.items():
        switch(nb_db, name, subnet)
    nbctl(nb_db, 'ls-del', 'a')
    again = alloc(nb_db, ['z', 'c', 'b'])['subnets']
    assert again['b'] == first['b'] and again['c'] == first['c']
    assert again['z'] == first['a']  # the freed subnet is the lowest free one


def test_pinned_subnets_are_honoured_and_skipped_by_allocation(nb_db):
    r = alloc(nb_db, ['n1', {'name': 'n2', 'subnet': '10.128.0.0/24'}, 'n3'])
    assert r['subnets'] == {'n1': '10.128.1.0/24', 'n2': '10.128.0.0/24', 'n3': '10.128.2.0/24'}
    assert r['nodes'][1]['source'] == 'pinned'


def test_check_mode_gives_the_same_answer(nb_db):
    switch(nb_db, 'n1', '10.128.0.0/24')
    assert alloc(nb_db, ['n1', 'n2'], check_mode=True)['subnets'] == \
        alloc(nb_db, ['n1', 'n2'])['subnets']


def test_large_cluster_allocates_quickly_and_fills_gaps(nb_db):
    # A /16 of /26 subnets (1024) with every other one taken.
    nbctl(nb_db, *sum([['--', 'ls-add', 'x%d' % i, '--', 'set', 'Logical_Switch', 'x%d' % i,
                        'other_config:subnet=10.1.%d.0/26' % i] for i in range(256)], []))
    r = alloc(nb_db, ['new1', 'new2'], cluster='10.1.0.0/16', prefix=26)
    assert r['subnets'] == {'new1': '10.1.0.64/26', 'new2': '10.1.0.128/26'}


@pytest.mark.parametrize('nodes,existing,cluster,prefix,words', [
    # two pins overlap
    ([{'name': 'a', 'subnet': '10.128.0.0/23'}, {'name': 'b', 'subnet': '10.128.1.0/24'}],
     [], '10.128.0.0/14', 24, ['node a', '10.128.0.0/23', 'node b', '10.128.1.0/24', 'overlaps']),
    # a pin overlaps another node's existing switch
    ([{'name': 'b', 'subnet': '10.128.3.0/24'}], [('a', '10.128.3.0/24')], '10.128.0.0/14', 24,
     ['node b', 'node a', '10.128.3.0/24', 'overlaps']),
    # a pin outside the range
    ([{'name': 'a', 'subnet': '192.168.1.0/24'}], [], '10.128.0.0/14', 24,
     ['node a', '192.168.1.0/24', 'outside the cluster range 10.128.0.0/14']),
    # a node's switch outside the range
    (['a'], [('a', '10.200.0.0/24')], '10.128.0.0/14', 24,
     ['node a', '10.200.0.0/24', 'outside the cluster range']),
    # a pin that contradicts the live switch
    ([{'name': 'a', 'subnet': '10.128.7.0/24'}], [('a', '10.128.3.0/24')], '10.128.0.0/14', 24,
     ['node a', 'pinned to subnet 10.128.7.0/24', '10.128.3.0/24']),
    # exhausted range
    (['a', 'b', 'c'], [], '10.128.0.0/23', 24, ['node c', '10.128.0.0/23', 'no free /24']),
    # host bits
    ([{'name': 'a', 'subnet': '10.128.0.5/24'}], [], '10.128.0.0/14', 24,
     ['subnet of node a', 'host bits', '10.128.0.0/24']),
    # host prefix shorter than the cluster prefix
    (['a'], [], '10.128.0.0/14', 12, ['host_prefix 12', '10.128.0.0/14']),
    # duplicates
    (['a', 'a'], [], '10.128.0.0/14', 24, ['node a is listed more than once']),
])
def test_bad_input_is_a_clear_error_and_changes_nothing(
        nb_db, nodes, existing, cluster, prefix, words):
    for name, subnet in existing:
        switch(nb_db, name, subnet)
    before = nbctl(nb_db, 'show')
    r = alloc(nb_db, nodes, cluster=cluster, prefix=prefix)
    assert r.get('failed'), r
    for word in words:
        assert word in r['msg'], (word, r['msg'])
    assert 'Traceback' not in r['msg']
    assert nbctl(nb_db, 'show') == before


def test_unreachable_database_is_one_sentence(tmp_path):
    r = alloc('unix:%s/none.sock' % tmp_path, ['a'])
    assert r.get('failed') and 'Northbound' in r['msg'], r
