# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_external_ids against a real ovsdb-server with the vswitch schema."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from conftest import converge_module, run_module, vsctl


def ids(remote, table='Open_vSwitch', record='.'):
    return vsctl(remote, 'get', table, record, 'external_ids')


def test_root_record_lifecycle(ovs_db):
    args = dict(remote=ovs_db, external_ids={'system-id': 'node1', 'ovn-encap-type': 'geneve',
                                             'ovn-bridge-datapath-type': 'netdev'})

    def untouched():
        assert ids(ovs_db) == '{}'

    check, real, dummy = converge_module('ovs_external_ids', args, untouched)
    assert check['diff'] == {'before': {'Open_vSwitch .': {'external_ids': {}}},
                             'after': {'Open_vSwitch .': {'external_ids': args['external_ids']}}}
    assert real['external_ids'] == args['external_ids']
    assert ids(ovs_db) == '{ovn-bridge-datapath-type=netdev, ovn-encap-type=geneve, system-id=node1}'

    # A key set by someone else survives without purge, and goes with it.
    vsctl(ovs_db, 'set', 'Open_vSwitch', '.', 'external_ids:hostname=h1')
    assert run_module('ovs_external_ids', args)['changed'] is False
    purge = dict(args, purge=True)
    check = run_module('ovs_external_ids', purge, check_mode=True)
    assert check['changed'] and 'hostname=h1' in ids(ovs_db)
    assert check['diff']['after']['Open_vSwitch .']['external_ids'] == args['external_ids']
    assert run_module('ovs_external_ids', purge)['changed']
    assert 'hostname' not in ids(ovs_db)

    # A changed value is one change.
    changed = run_module('ovs_external_ids', dict(remote=ovs_db, external_ids={'system-id': 'node2'}))
    assert changed['changed'] and changed['diff']['before']['Open_vSwitch .']['external_ids']['system-id'] == 'node1'
    assert vsctl(ovs_db, 'get', 'Open_vSwitch', '.', 'external_ids:system-id') == 'node2'

    # absent removes the named keys only (values ignored); again is no change.
    gone = dict(remote=ovs_db, external_ids={'ovn-encap-type': 'whatever', 'never-set': ''}, state='absent')
    check = run_module('ovs_external_ids', gone, check_mode=True)
    assert check['changed'] and 'ovn-encap-type' in ids(ovs_db)
    assert check['external_ids'] == {'system-id': 'node2', 'ovn-bridge-datapath-type': 'netdev'}
    real = run_module('ovs_external_ids', gone)
    assert real['changed'] and real['diff'] == check['diff']
    assert ids(ovs_db) == '{ovn-bridge-datapath-type=netdev, system-id=node2}'
    assert run_module('ovs_external_ids', gone)['changed'] is False


def test_interface_record(ovs_db):
    vsctl(ovs_db, 'add-br', 'br-int', '--', 'add-port', 'br-int', 'k8s-node1',
          '--', 'set', 'Interface', 'k8s-node1', 'type=internal')
    args = dict(remote=ovs_db, table='Interface', record='k8s-node1', external_ids={'iface-id': 'k8s-node1'})
    converge_module('ovs_external_ids', args,
                    lambda: vsctl(ovs_db, 'get', 'Interface', 'k8s-node1', 'external_ids') == '{}' or 1 / 0)
    assert vsctl(ovs_db, 'get', 'Interface', 'k8s-node1', 'external_ids:iface-id') == 'k8s-node1'
    assert vsctl(ovs_db, 'get', 'Bridge', 'br-int', 'external_ids') == '{}'


def test_missing_record_and_bad_input(ovs_db):
    before = vsctl(ovs_db, 'show')
    bad = run_module('ovs_external_ids', dict(remote=ovs_db, table='Bridge', record='br-nope',
                                              external_ids={'a': 'b'}))
    assert bad['failed'] and bad['msg'] == 'Bridge record br-nope does not exist in the Open vSwitch database'
    bad = run_module('ovs_external_ids', dict(remote=ovs_db, table='Logical_Switch', record='x',
                                              external_ids={'a': 'b'}))
    assert bad['failed'] and 'table' in bad['msg']
    bad = run_module('ovs_external_ids', dict(remote=ovs_db, external_ids={'a': {'nested': 1}}))
    assert bad['failed'] and bad['msg'] == "Open_vSwitch . external_ids: the value of key 'a' must be a string, not {'nested': 1}"
    assert vsctl(ovs_db, 'show') == before and ids(ovs_db) == '{}'


def test_unreachable_database(tmp_path):
    bad = run_module('ovs_external_ids', dict(remote='unix:%s/none.sock' % tmp_path, timeout=2,
                                              external_ids={'a': 'b'}))
    assert bad['failed'] and bad['msg'].startswith('cannot reach the Open vSwitch database at unix:')


def test_system_python(ovs_db, system_python):
    """The same module under Debian 12's ovsdbapp 2.1 (db_set without if_exists)."""
    args = dict(remote=ovs_db, external_ids={'system-id': 'node1'})
    converge_module('ovs_external_ids', args, **system_python)
    gone = dict(args, state='absent')
    assert run_module('ovs_external_ids', gone, **system_python)['changed']
    assert ids(ovs_db) == '{}'
