# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_bridge and ovs_port against a real ovsdb-server with the vswitch schema (no ovs-vswitchd)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


import pytest

from conftest import converge_module, run_module, vsctl


def get(remote, table, record, column):
    return vsctl(remote, 'get', table, record, column)


def test_bridge_lifecycle(ovs_db):
    args = dict(remote=ovs_db, name='br-int', datapath_type='netdev', fail_mode='secure',
                other_config={'disable-in-band': True, 'hwaddr': '02:00:00:AA:00:01'},
                external_ids={'owner': 'ovn-k8s'})

    def untouched():
        assert vsctl(ovs_db, 'list-br') == ''

    # No ovs-vswitchd runs here: the module must not wait for one (ovs-vsctl --no-wait); a run
    # that waited would still be waiting at the 20 s cut.
    check, real, dummy = converge_module('ovs_bridge', args, untouched, timeout=20)
    assert check['diff']['before'] == {'Bridge br-int': None}
    assert check['diff']['after']['Bridge br-int'] == {
        'name': 'br-int', 'datapath_type': 'netdev', 'fail_mode': 'secure',
        'other_config': {'disable-in-band': 'true', 'hwaddr': '02:00:00:aa:00:01'},
        'external_ids': {'owner': 'ovn-k8s'}}
    assert vsctl(ovs_db, 'list-br') == 'br-int'
    assert get(ovs_db, 'Bridge', 'br-int', 'datapath_type') == 'netdev'
    assert get(ovs_db, 'Bridge', 'br-int', 'fail_mode') == 'secure'
    assert get(ovs_db, 'Bridge', 'br-int', 'other_config') == '{disable-in-band="true", hwaddr="02:00:00:aa:00:01"}'
    assert get(ovs_db, 'Interface', 'br-int', 'type') == 'internal'  # the local port, as add-br makes it

    # Converge: datapath type and fail mode replaced, maps merged unless purged.
    vsctl(ovs_db, 'set', 'Bridge', 'br-int', 'other_config:stale=1')
    changed = dict(remote=ovs_db, name='br-int', datapath_type='system', fail_mode='standalone',
                   other_config={'hwaddr': '02:00:00:aa:00:02'}, purge_other_config=True)
    check = run_module('ovs_bridge', changed, check_mode=True)
    assert check['changed'] and get(ovs_db, 'Bridge', 'br-int', 'datapath_type') == 'netdev'
    assert check['diff'] == {
        'before': {'Bridge br-int': {'datapath_type': 'netdev', 'fail_mode': ['secure'],
                                     'other_config': {'disable-in-band': 'true', 'hwaddr': '02:00:00:aa:00:01', 'stale': '1'}}},
        'after': {'Bridge br-int': {'datapath_type': 'system', 'fail_mode': ['standalone'],
                                    'other_config': {'hwaddr': '02:00:00:aa:00:02'}}}}
    real = run_module('ovs_bridge', changed)
    assert real['changed'] and real['diff'] == check['diff']
    assert get(ovs_db, 'Bridge', 'br-int', 'other_config') == '{hwaddr="02:00:00:aa:00:02"}'
    assert get(ovs_db, 'Bridge', 'br-int', 'external_ids') == '{owner=ovn-k8s}'
    assert run_module('ovs_bridge', changed)['changed'] is False

    # A bridge made by ovs-vsctl has an empty datapath_type: that is "system", not a change.
    vsctl(ovs_db, 'add-br', 'br-plain')
    assert run_module('ovs_bridge', dict(remote=ovs_db, name='br-plain'))['changed'] is False

    gone = dict(remote=ovs_db, name='br-int', state='absent')
    check = run_module('ovs_bridge', gone, check_mode=True)
    assert check['changed'] and check['diff']['after'] == {'Bridge br-int': None}
    assert check['diff']['before']['Bridge br-int']['ports'] == ['br-int']
    assert 'br-int' in vsctl(ovs_db, 'list-br')
    assert run_module('ovs_bridge', gone)['changed']
    assert vsctl(ovs_db, 'list-br') == 'br-plain'
    assert run_module('ovs_bridge', gone)['changed'] is False


def test_datapath_type_not_given_leaves_an_existing_bridge_alone(ovs_db):
    """A task that only sets external_ids must never switch a netdev bridge to the kernel datapath."""
    vsctl(ovs_db, 'add-br', 'br-user', '--', 'set', 'Bridge', 'br-user', 'datapath_type=netdev')
    args = dict(remote=ovs_db, name='br-user', external_ids={'owner': 'lab'})
    check = run_module('ovs_bridge', args, check_mode=True)
    assert check['changed'] and check['diff']['after']['Bridge br-user'] == {'external_ids': {'owner': 'lab'}}, check
    assert run_module('ovs_bridge', args)['changed']
    assert get(ovs_db, 'Bridge', 'br-user', 'datapath_type') == 'netdev'
    assert run_module('ovs_bridge', args)['changed'] is False
    # A new bridge without a datapath type is a kernel-datapath bridge.
    assert run_module('ovs_bridge', dict(remote=ovs_db, name='br-new'))['changed']
    assert get(ovs_db, 'Bridge', 'br-new', 'datapath_type') == 'system'
    bad = run_module('ovs_bridge', dict(remote=ovs_db, name='br-user', datapath_type='dpdk'))
    assert bad['failed'] and 'datapath_type' in bad['msg'] and 'dpdk' in bad['msg'], bad


def test_bridge_bad_input(ovs_db):
    vsctl(ovs_db, 'add-br', 'br0', '--', 'add-port', 'br0', 'eth9')
    for args, msg in [
        (dict(name='br0', other_config={'hwaddr': 'zz'}), "bridge br0 other_config hwaddr: 'zz' is not a MAC address"),
        (dict(name='a-very-long-bridge-name'), "bridge a-very-long-bridge-name: 'a-very-long-bridge-name' is not a valid interface name"),
        (dict(name='eth9'), 'bridge eth9: a port named eth9 already exists on bridge br0'),
        (dict(name='br1', external_ids={'k': ['list']}), "bridge br1 external_ids: the value of key 'k' must be a string"),
    ]:
        before = vsctl(ovs_db, 'show')
        bad = run_module('ovs_bridge', dict(args, remote=ovs_db))
        assert bad['failed'] and bad['msg'].startswith(msg), bad
        assert vsctl(ovs_db, 'show') == before


def test_port_lifecycle(ovs_db):
    vsctl(ovs_db, 'add-br', 'br-int')
    args = dict(remote=ovs_db, bridge='br-int', name='k8s-node1', type='internal',
                mac='0A:58:0A:80:01:02', external_ids={'iface-id': 'k8s-node1'})

    def untouched():
        assert vsctl(ovs_db, 'list-ports', 'br-int') == ''

    check = converge_module('ovs_port', args, untouched)[0]
    assert check['diff'] == {'before': {'Port k8s-node1': None}, 'after': {'Port k8s-node1': {
        'name': 'k8s-node1', 'bridge': 'br-int', 'type': 'internal', 'mac': ['0a:58:0a:80:01:02'],
        'external_ids': {'iface-id': 'k8s-node1'}, 'options': {}}}}
    assert vsctl(ovs_db, 'list-ports', 'br-int') == 'k8s-node1'
    assert get(ovs_db, 'Interface', 'k8s-node1', 'type') == 'internal'
    assert get(ovs_db, 'Interface', 'k8s-node1', 'mac') == '"0a:58:0a:80:01:02"'
    assert get(ovs_db, 'Interface', 'k8s-node1', 'external_ids') == '{iface-id=k8s-node1}'

    # Converge the interface: new iface-id and MAC, a stale key purged.
    vsctl(ovs_db, 'set', 'Interface', 'k8s-node1', 'external_ids:stale=1')
    changed = dict(args, mac='0a:58:0a:80:01:03', external_ids={'iface-id': 'k8s-node1b'}, purge_external_ids=True)
    check = run_module('ovs_port', changed, check_mode=True)
    assert check['changed'] and get(ovs_db, 'Interface', 'k8s-node1', 'mac') == '"0a:58:0a:80:01:02"'
    assert check['diff']['before'] == {'Port k8s-node1': {'mac': ['0a:58:0a:80:01:02'],
                                                          'external_ids': {'iface-id': 'k8s-node1', 'stale': '1'}}}
    assert run_module('ovs_port', changed)['diff'] == check['diff']
    assert get(ovs_db, 'Interface', 'k8s-node1', 'external_ids') == '{iface-id=k8s-node1b}'
    assert run_module('ovs_port', changed)['changed'] is False

    # A system port (no type) and patch ports with options.
    converge_module('ovs_port', dict(remote=ovs_db, bridge='br-int', name='veth-a'))
    assert get(ovs_db, 'Interface', 'veth-a', 'type') == '""'
    vsctl(ovs_db, 'add-br', 'br-ex')
    converge_module('ovs_port', dict(remote=ovs_db, bridge='br-int', name='patch-int', type='patch',
                                     options={'peer': 'patch-ex'}))
    assert get(ovs_db, 'Interface', 'patch-int', 'options') == '{peer=patch-ex}'

    gone = dict(remote=ovs_db, bridge='br-int', name='k8s-node1', state='absent')
    check = run_module('ovs_port', gone, check_mode=True)
    assert check['changed'] and 'k8s-node1' in vsctl(ovs_db, 'list-ports', 'br-int')
    assert run_module('ovs_port', gone)['changed']
    assert vsctl(ovs_db, 'list-ports', 'br-int').split() == ['patch-int', 'veth-a']
    assert run_module('ovs_port', gone)['changed'] is False


def test_port_bad_input(ovs_db):
    vsctl(ovs_db, 'add-br', 'br0', '--', 'add-port', 'br0', 'eth9', '--', 'add-br', 'br1')
    for args, msg in [
        (dict(bridge='br-none', name='p1'), 'port p1 on bridge br-none: bridge br-none does not exist'),
        (dict(bridge='br1', name='eth9'), 'port eth9 on bridge br1: the port exists on bridge br0; remove it there first'),
        (dict(bridge='br0', name='p1', mac='0a:58'), "port p1 on bridge br0 mac: '0a:58' is not a MAC address"),
        (dict(bridge='br1', name='eth9', state='absent'), 'port eth9 exists on bridge br0, not on br1; refusing to remove it'),
        (dict(bridge='br0', name='br0', state='absent'), 'port br0 is the local port of bridge br0; remove the bridge instead'),
    ]:
        before = vsctl(ovs_db, 'show')
        bad = run_module('ovs_port', dict(args, remote=ovs_db))
        assert bad['failed'] and bad['msg'].startswith(msg), bad
        assert vsctl(ovs_db, 'show') == before


@pytest.mark.parametrize('module', ['ovs_bridge', 'ovs_port'])
def test_system_python(ovs_db, system_python, module):
    """Debian 12's ovsdbapp 2.1: add_port without interface columns, db_set without if_exists."""
    vsctl(ovs_db, 'add-br', 'br-base')
    args = dict(remote=ovs_db, name='br-sys', datapath_type='netdev', other_config={'hwaddr': '02:00:00:00:00:09'})
    if module == 'ovs_port':
        args = dict(remote=ovs_db, bridge='br-base', name='mgmt0', type='internal', mac='0a:58:0a:80:01:02',
                    external_ids={'iface-id': 'mgmt0'})
    converge_module(module, args, **system_python)
    gone = dict(args, state='absent')
    assert run_module(module, gone, **system_python)['changed']
    assert vsctl(ovs_db, 'list-br') == 'br-base' and vsctl(ovs_db, 'list-ports', 'br-base') == ''
