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
    assert check['external_ids'] == {}, 'only the named keys are returned'
    assert check['diff'] == {'before': {'Open_vSwitch .': {'external_ids': {'ovn-encap-type': '(removed; value not shown)'}}},
                             'after': {'Open_vSwitch .': {'external_ids': {}}}}
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


TOKEN = 'eyJhbGciOi.secret-token-value.x9'


def test_only_managed_keys_are_returned_and_diffed(ovs_db):
    """A secret in another key of the map never reaches the result or the diff."""
    vsctl(ovs_db, 'set', 'Open_vSwitch', '.', 'external_ids:k8s-api-token=' + TOKEN,
          'external_ids:system-id=node1')
    for check_mode in (True, False):
        out = run_module('ovs_external_ids', dict(remote=ovs_db, external_ids={'ovn-encap-type': 'geneve'}),
                         check_mode=check_mode)
        assert out['changed'] and TOKEN not in str(out), out
        assert out['external_ids'] == {'ovn-encap-type': 'geneve'}, out
        assert out['diff'] == {'before': {'Open_vSwitch .': {'external_ids': {}}},
                               'after': {'Open_vSwitch .': {'external_ids': {'ovn-encap-type': 'geneve'}}}}, out
    repeat = run_module('ovs_external_ids', dict(remote=ovs_db, external_ids={'ovn-encap-type': 'geneve'}))
    assert repeat['changed'] is False and repeat['external_ids'] == {'ovn-encap-type': 'geneve'}, repeat
    # Purging shows the names of the keys it drops, not their values.
    purge = run_module('ovs_external_ids', dict(remote=ovs_db, external_ids={'system-id': 'node1'}, purge=True))
    assert purge['changed'] and TOKEN not in str(purge), purge
    assert purge['diff']['before']['Open_vSwitch .']['external_ids'] == {
        'system-id': 'node1', 'k8s-api-token': '(removed; value not shown)', 'ovn-encap-type': '(removed; value not shown)'}
    assert purge['external_ids'] == {'system-id': 'node1'}
    # Removing the old token key shows no value either.
    vsctl(ovs_db, 'set', 'Open_vSwitch', '.', 'external_ids:k8s-api-token=' + TOKEN)
    gone = run_module('ovs_external_ids', dict(remote=ovs_db, external_ids={'k8s-api-token': ''}, state='absent'))
    assert gone['changed'] and TOKEN not in str(gone), gone
    assert 'k8s-api-token' not in ids(ovs_db)
