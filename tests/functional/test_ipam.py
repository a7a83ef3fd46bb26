# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_ipam, the collection's address management, without any server: node subnets, join subnets,
node addresses and pod addresses (the allocator the watcher builds per node switch)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import subprocess
import sys

import pytest

from conftest import collection_root

sys.path.insert(0, collection_root())

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _alloc, _ipam, _nb  # noqa: E402
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import Conflict, InvalidInput  # noqa: E402

IP = ipaddress.ip_address


def test_pure_standard_library_only():
    """Importing the address management, the vocabulary and the owner rule loads neither the
    ovs nor the ovsdbapp library (the watcher's pure translations and the tests import them)."""
    code = ('import sys; sys.path.insert(0, %r)\n'
            'from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _ipam, _names, _owners\n'
            'bad = sorted(m for m in sys.modules if m.split(".")[0] in ("ovs", "ovsdbapp"))\n'
            'print(",".join(bad))\n' % collection_root())
    out = subprocess.check_output([sys.executable, '-c', code], universal_newlines=True)
    assert out.strip() == ''


def test_old_call_sites_are_the_new_ones():
    assert _nb.node_addresses is _ipam.node_addresses
    assert _alloc.lowest_free is _ipam.lowest_free
    assert (_nb.JOIN_RANGE, _nb.JOIN_PREFIX) == (_ipam.JOIN_RANGE, _ipam.JOIN_PREFIX) == ('100.64.0.0/16', 29)


# Node subnets ---------------------------------------------------------------------------------
def test_node_subnets_keep_pin_and_fill_the_lowest_holes():
    existing = [('n1', 'n1', '10.128.5.0/24'), ('n2', 'sw-b', '10.128.0.0/24'), ('gone', 'gone', '10.128.1.0/24'),
                ('join', 'join', '100.64.0.0/16')]
    nodes = [{'name': 'n3', 'subnet': None}, {'name': 'n1', 'subnet': None}, {'name': 'n2', 'subnet': None},
             {'name': 'n4', 'subnet': '10.128.2.0/24'}, {'name': 'n5', 'subnet': None}]
    assert _ipam.node_subnets('10.128.0.0/14', 24, nodes, existing) == [
        dict(name='n3', subnet='10.128.3.0/24', source='allocated'),
        dict(name='n1', subnet='10.128.5.0/24', source='existing'),
        dict(name='n2', subnet='10.128.0.0/24', source='existing'),
        dict(name='n4', subnet='10.128.2.0/24', source='pinned'),
        dict(name='n5', subnet='10.128.4.0/24', source='allocated')]
    assert _alloc.allocate('10.128.0.0/14', 24, nodes, existing) == _ipam.node_subnets('10.128.0.0/14', 24, nodes, existing)


@pytest.mark.parametrize('nodes,existing,error,text', [
    ([{'name': 'a'}], [], InvalidInput, 'host_prefix 31 does not fit the cluster range 10.128.0.0/14'),
    ([{'name': 'a'}, {'name': 'a'}], [], InvalidInput, 'node a is listed more than once'),
    ([{'name': 'a'}], [('a', 'a', '10.128.0.0/24'), ('a', 'a2', '10.128.1.0/24')], Conflict,
     'node a has 2 logical switches with a subnet (a, a2); expected one'),
    ([{'name': 'a', 'subnet': '10.128.9.0/24'}], [('a', 'a', '10.128.0.0/24')], Conflict,
     'node a is pinned to subnet 10.128.9.0/24 but its logical switch a already has 10.128.0.0/24'),
    ([{'name': 'a'}], [('a', 'a', '10.200.0.0/24')], InvalidInput, 'node a has subnet 10.200.0.0/24 on its logical switch a, outside'),
    ([{'name': 'a', 'subnet': '10.200.0.0/24'}], [], InvalidInput, 'node a: subnet 10.200.0.0/24 is outside the cluster range'),
    ([{'name': 'a', 'subnet': '10.128.0.0/23'}, {'name': 'b', 'subnet': '10.128.1.0/24'}], [], Conflict,
     'node a (pinned subnet 10.128.0.0/23) overlaps node b (pinned subnet 10.128.1.0/24)'),
])
def test_node_subnets_refuse_contradictions(nodes, existing, error, text):
    prefix = 31 if 'host_prefix' in text else 24
    with pytest.raises(error) as err:
        _ipam.node_subnets('10.128.0.0/14', prefix, nodes, existing)
    assert str(err.value).startswith(text), str(err.value)


def test_node_subnets_exhausted():
    with pytest.raises(InvalidInput, match=r'node c: the cluster range 10.1.0.0/23 has no free /24 subnet left \(2 in use\)'):
        _ipam.node_subnets('10.1.0.0/23', 24, [{'name': n} for n in 'abc'], [])


def test_lowest_free_aligns_past_busy_networks():
    pool = ipaddress.ip_network('100.64.0.0/16')
    busy = [ipaddress.ip_network('100.64.0.8/30'), ipaddress.ip_network('100.64.0.0/29')]
    assert _ipam.lowest_free(pool, 29, busy) == ipaddress.ip_network('100.64.0.16/29')
    assert _ipam.lowest_free(ipaddress.ip_network('100.64.0.0/29'), 29, busy) is None


# Join subnets ---------------------------------------------------------------------------------
def test_join_subnet_kept_given_or_lowest_free():
    taken = _ipam.join_networks([('rtoj-a', ['100.64.0.1/29'], 'a'), ('rtos-n1', ['10.128.0.1/24', 'bad'], None),
                                 ('rtoj-me', ['100.64.0.9/29'], 'me')], 'rtoj-me')
    assert taken == [(ipaddress.ip_network('100.64.0.0/29'), 'rtoj-a', 'a'),
                     (ipaddress.ip_network('10.128.0.0/24'), 'rtos-n1', None)]
    # Kept: the one its own port has.
    assert _ipam.join_subnet('me', None, ['100.64.0.9/29'], taken) == ipaddress.ip_network('100.64.0.8/29')
    # New: the lowest free one, past the other gateways' and the pod network.
    assert _ipam.join_subnet('me', None, None, taken, cluster=['100.64.0.8/29']) == ipaddress.ip_network('100.64.0.16/29')
    # Given.
    assert _ipam.join_subnet('me', '100.64.1.0/30', ['100.64.0.9/29'], taken) == ipaddress.ip_network('100.64.1.0/30')


@pytest.mark.parametrize('args,error,text', [
    (dict(wanted='100.64.0.0/30'), Conflict, 'gateway router GR_me: join_subnet 100.64.0.0/30 overlaps 100.64.0.0/29 of '
     'logical router port rtoj-a on the cluster router ovn_cluster_router (gateway a); give each gateway'),
    (dict(wanted='10.128.0.0/30', cluster=['10.128.0.0/14']), InvalidInput,
     'gateway router GR_me: join_subnet 10.128.0.0/30 overlaps the cluster subnet 10.128.0.0/14'),
    (dict(wanted='100.64.9.1/30'), InvalidInput, 'gateway router GR_me join_subnet: 100.64.9.1/30 has host bits set'),
    (dict(join_prefix=31), InvalidInput, 'gateway router GR_me: join_prefix 31 does not fit the IPv4 join_range 100.64.0.0/16'),
    (dict(join_range='100.64.0.0/29'), InvalidInput, 'gateway router GR_me: the join_range 100.64.0.0/29 has no free /29 '
     'left (1 networks on the cluster router ovn_cluster_router)'),
])
def test_join_subnet_refusals(args, error, text):
    taken = [(ipaddress.ip_network('100.64.0.0/29'), 'rtoj-a', 'a')]
    wanted = args.pop('wanted', None)
    with pytest.raises(error) as err:
        _ipam.join_subnet('me', wanted, None, taken, **args)
    assert str(err.value).startswith(text), str(err.value)


# Node addresses -------------------------------------------------------------------------------
def test_node_addresses():
    assert _ipam.node_addresses('10.244.3.0/24') == dict(
        subnet='10.244.3.0/24', router_ip='10.244.3.1', router_cidr='10.244.3.1/24', router_mac='0a:58:0a:f4:03:01',
        mgmt_ip='10.244.3.2', mgmt_cidr='10.244.3.2/24', mgmt_mac='0a:58:0a:f4:03:02')
    with pytest.raises(InvalidInput, match='node n1 subnet: 10.244.3.0/31 must be an IPv4 network of /30 or larger'):
        _ipam.node_addresses('10.244.3.0/31', 'node n1 subnet')


# Pod addresses --------------------------------------------------------------------------------
def view(used=None, cursors=None, exclude_ips=None, subnet='10.128.1.0/29', name='n1'):
    return _ipam.SwitchAddresses(name, subnet, exclude_ips, used, cursors)


def test_what_a_switch_reserves():
    v = view(exclude_ips='10.128.1.3 10.128.1.5..10.128.1.5')
    assert (v.gateway, v.mgmt) == (IP('10.128.1.1'), IP('10.128.1.2'))
    assert v.reserved(IP('10.128.1.0')) == 'it is outside the usable range of 10.128.1.0/29'
    assert v.reserved(IP('10.128.1.7')) == 'it is outside the usable range of 10.128.1.0/29'
    assert v.reserved(IP('10.128.2.4')) == 'it is outside the usable range of 10.128.1.0/29'
    assert v.reserved(IP('10.128.1.1')) == 'it is the router address of 10.128.1.0/29'
    assert v.reserved(IP('10.128.1.2')) == 'it is the management address of 10.128.1.0/29'
    assert v.reserved(IP('10.128.1.3')) == 'it is in exclude_ips of logical switch n1'
    assert v.reserved(IP('10.128.1.5')) == 'it is in exclude_ips of logical switch n1'
    assert v.reserved(IP('10.128.1.4')) is None and v.reserved(IP('10.128.1.6')) is None
    assert v.excluded == {IP('10.128.1.3')} and v.ranges == [(IP('10.128.1.5'), IP('10.128.1.5'))]


def test_round_robin_from_after_the_highest_in_use_wrapping_around():
    cursors = {}
    v = view({IP('10.128.1.4'): 'ns_a'}, cursors)
    # No cursor yet (a restart): after the highest address in use.
    assert v.allocate('ns_b') == IP('10.128.1.5')
    assert v.allocate('ns_c') == IP('10.128.1.6')
    # Wraps around, past the router and management addresses and what is in use.
    assert v.allocate('ns_d') == IP('10.128.1.3')
    assert v.allocate('ns_e') is None
    assert v.used == {IP('10.128.1.4'): 'ns_a', IP('10.128.1.5'): 'ns_b', IP('10.128.1.6'): 'ns_c',
                      IP('10.128.1.3'): 'ns_d'}
    assert cursors == {'n1': int(IP('10.128.1.4'))}


def test_a_freed_address_is_the_last_given_again_in_the_next_batch():
    cursors = {}
    first = view({}, cursors, subnet='10.128.1.0/28')
    assert [first.allocate('p%d' % i) for i in range(3)] == [IP('10.128.1.3'), IP('10.128.1.4'), IP('10.128.1.5')]
    # The next batch: p0 is gone from the switch; the cursor, kept by the caller, goes on.
    second = view({IP('10.128.1.4'): 'p1', IP('10.128.1.5'): 'p2'}, cursors, subnet='10.128.1.0/28')
    got = [second.allocate('q%d' % i) for i in range(10)]
    assert got[:9] == [IP('10.128.1.%d' % i) for i in range(6, 15)]
    assert got[9] == IP('10.128.1.3'), 'the freed address comes back last'
    # Another switch has a cursor of its own.
    other = view({}, cursors, subnet='10.128.2.0/28', name='n2')
    assert other.allocate('r') == IP('10.128.2.3')
    assert cursors['n1'] == int(IP('10.128.1.4')) and cursors['n2'] == int(IP('10.128.2.4'))


def test_a_cursor_outside_the_subnet_starts_again_after_the_highest_in_use():
    v = view({IP('10.128.1.3'): 'a'}, {'n1': int(IP('10.128.9.9'))})
    assert v.allocate('b') == IP('10.128.1.4')


def test_used_is_read_once_and_only_when_needed():
    reads = []

    def used():
        reads.append(1)
        return {IP('10.128.1.3'): 'ns_a'}
    v = view(used)
    # Reserving and judging addresses needs no reading of the switch's ports.
    v.reserve(IP('10.128.1.4'), 'ns_b')
    assert v.reserved(IP('10.128.1.4')) is None
    v.release('ns_b')
    v.reserve(IP('10.128.1.5'), 'ns_c')
    assert reads == []
    # The first look at what is in use reads them, with what was reserved laid over.
    assert v.used == {IP('10.128.1.3'): 'ns_a', IP('10.128.1.5'): 'ns_c'}
    assert v.allocate('ns_d') == IP('10.128.1.6')
    assert v.used[IP('10.128.1.6')] == 'ns_d'
    assert reads == [1]


def test_release_forgets_what_the_batch_gave_a_port():
    switch = {IP('10.128.1.3'): 'ns_a'}
    v = view(switch)
    assert v.allocate('ns_b') == IP('10.128.1.4')
    v.reserve(IP('10.128.1.6'), 'ns_b')
    v.release('ns_b')
    assert v.used == {IP('10.128.1.3'): 'ns_a'}
    assert switch == {IP('10.128.1.3'): 'ns_a'}, 'the mapping given is not changed'
    v.reserve(IP('10.128.1.4'), 'ns_c')
    assert v.used[IP('10.128.1.4')] == 'ns_c'


def test_an_exclude_range_and_a_full_switch():
    v = view({}, exclude_ips='10.128.1.3..10.128.1.6')
    assert v.allocate('a') is None
    v = view({}, exclude_ips='10.128.1.3..10.128.1.5')
    assert v.allocate('a') == IP('10.128.1.6') and v.allocate('b') is None
