# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OVN Northbound modules against a real ovsdb-server with the real schema."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from conftest import nbctl, run_module


def converge(name, args, before_check=None):
    """Check mode, real run, repeat: returns (check, real, repeat) results."""
    check = run_module(name, args, check_mode=True)
    assert not check.get('failed'), check
    if before_check:
        before_check()
    real = run_module(name, args)
    assert not real.get('failed'), real
    repeat = run_module(name, args)
    assert not repeat.get('failed'), repeat
    assert check['changed'] and real['changed'], (check, real)
    assert check['diff'] == real['diff'], 'check mode must predict the real diff'
    assert repeat['changed'] is False and repeat['diff'] == {'before': {}, 'after': {}}, repeat
    return check, real, repeat


def ls_json(remote, table, name):
    out = nbctl(remote, '--format=json', '--columns=_uuid,name,other_config,external_ids',
                'find', table, 'name=%s' % name)
    return json.loads(out)['data']


def test_switch_lifecycle(nb_db):
    args = dict(remote=nb_db, name='node1', subnet='10.128.1.0/24', exclude_ips=['10.128.1.2'],
                external_ids={'k8s-node': 'node1'})

    def untouched():
        assert nbctl(nb_db, 'ls-list') == '', 'check mode wrote to the database'

    converge('ovn_logical_switch', args, before_check=untouched)
    assert nbctl(nb_db, 'get', 'Logical_Switch', 'node1', 'other_config:subnet') == '"10.128.1.0/24"'
    assert nbctl(nb_db, 'get', 'Logical_Switch', 'node1', 'other_config:exclude_ips') == '"10.128.1.2"'

    # A foreign key survives without purge and goes with it.
    nbctl(nb_db, 'set', 'Logical_Switch', 'node1', 'external_ids:stale=yes')
    assert run_module('ovn_logical_switch', args)['changed'] is False
    purge = dict(args, purge_external_ids=True)
    check = run_module('ovn_logical_switch', purge, check_mode=True)
    assert check['changed'] and 'stale' in nbctl(nb_db, 'get', 'Logical_Switch', 'node1', 'external_ids')
    assert check['diff']['before']['Logical_Switch node1']['external_ids'] == {'k8s-node': 'node1', 'stale': 'yes'}
    assert check['diff']['after']['Logical_Switch node1']['external_ids'] == {'k8s-node': 'node1'}
    assert run_module('ovn_logical_switch', purge)['changed']
    assert 'stale' not in nbctl(nb_db, 'get', 'Logical_Switch', 'node1', 'external_ids')

    # Changing the subnet converges the column; an empty exclude_ips removes the key.
    changed = run_module('ovn_logical_switch', dict(args, subnet='10.128.2.0/24', exclude_ips=[]))
    assert changed['changed']
    other = nbctl(nb_db, 'get', 'Logical_Switch', 'node1', 'other_config')
    assert other == '{subnet="10.128.2.0/24"}'

    check = run_module('ovn_logical_switch', dict(remote=nb_db, name='node1', state='absent'), check_mode=True)
    assert check['changed'] and nbctl(nb_db, 'ls-list')
    assert run_module('ovn_logical_switch', dict(remote=nb_db, name='node1', state='absent'))['changed']
    assert nbctl(nb_db, 'ls-list') == ''
    assert run_module('ovn_logical_switch', dict(remote=nb_db, name='node1', state='absent'))['changed'] is False


def test_switch_bad_input(nb_db):
    bad = run_module('ovn_logical_switch', dict(remote=nb_db, name='node1', subnet='10.128.1.5/24'))
    assert bad['failed'] and 'logical switch node1 subnet: 10.128.1.5/24 has host bits set; did you mean 10.128.1.0/24?' in bad['msg']
    bad = run_module('ovn_logical_switch', dict(remote=nb_db, name='node1', subnet='10.300.1.0/24'))
    assert bad['failed'] and "'10.300.1.0/24' is not a CIDR" in bad['msg']
    bad = run_module('ovn_logical_switch', dict(remote=nb_db, name='node1', subnet='10.128.1.0/24',
                                                exclude_ips=['10.129.0.1']))
    assert bad['failed'] and 'outside the subnet 10.128.1.0/24' in bad['msg']
    assert nbctl(nb_db, 'ls-list') == ''


def test_unreachable_database(tmp_path):
    bad = run_module('ovn_logical_switch', dict(remote='unix:%s/none.sock' % tmp_path, name='x'))
    assert bad['failed']
    assert bad['msg'].startswith('cannot reach the OVN Northbound database at unix:%s/none.sock' % tmp_path), bad['msg']
    assert 'no such file or directory' in bad['msg']
    bad = run_module('ovn_logical_switch', dict(remote='tcp:127.0.0.1:1', name='x', timeout=2))
    assert bad['failed'] and bad['msg'] == 'cannot reach the OVN Northbound database at tcp:127.0.0.1:1: connection refused', bad['msg']


def test_ssl_needs_files(tmp_path):
    bad = run_module('ovn_logical_switch', dict(remote='ssl:127.0.0.1:1', name='x'))
    assert bad['failed'] and bad['msg'] == 'the remote ssl:127.0.0.1:1 uses SSL but ssl_key, ssl_cert, ssl_ca_cert are not given'


def test_lsp_lifecycle(nb_db):
    nbctl(nb_db, 'ls-add', 'node1')
    args = dict(remote=nb_db, switch='node1', name='default_web-0',
                addresses=['0A:58:0a:80:01:05 10.128.1.5'], port_security=['0a:58:0a:80:01:05 10.128.1.5'],
                external_ids={'namespace': 'default', 'pod': 'web-0'})
    real = converge('ovn_lsp', args)[1]
    assert real['diff']['after']['Logical_Switch_Port default_web-0']['addresses'] == ['0a:58:0a:80:01:05 10.128.1.5']
    assert nbctl(nb_db, 'lsp-get-addresses', 'default_web-0') == '0a:58:0a:80:01:05 10.128.1.5'
    assert nbctl(nb_db, 'lsp-get-ls', 'default_web-0').endswith('(node1)')

    moved = dict(args, addresses=['0a:58:0a:80:01:06 10.128.1.6'], enabled=False)
    check = run_module('ovn_lsp', moved, check_mode=True)
    assert check['diff']['before']['Logical_Switch_Port default_web-0'] == {
        'addresses': ['0a:58:0a:80:01:05 10.128.1.5'], 'enabled': []}
    assert nbctl(nb_db, 'lsp-get-addresses', 'default_web-0') == '0a:58:0a:80:01:05 10.128.1.5'
    assert run_module('ovn_lsp', moved)['changed']
    assert nbctl(nb_db, 'lsp-get-enabled', 'default_web-0') == 'disabled'

    # Router-type and localnet ports with options.
    converge('ovn_lsp', dict(remote=nb_db, switch='node1', name='stor-node1', type='router',
                             addresses=['router'], options={'router-port': 'rtos-node1'}))
    assert nbctl(nb_db, 'lsp-get-type', 'stor-node1') == 'router'
    converge('ovn_lsp', dict(remote=nb_db, switch='node1', name='lnet', type='localnet',
                             addresses=['unknown'], options={'network_name': 'physnet'}))

    # A container inside a VM: parent and tag.
    converge('ovn_lsp', dict(remote=nb_db, switch='node1', name='vm7', addresses=['dynamic']))
    converge('ovn_lsp', dict(remote=nb_db, switch='node1', name='ctr', parent_name='vm7', tag=42,
                             addresses=['dynamic']))
    assert nbctl(nb_db, 'get', 'Logical_Switch_Port', 'ctr', 'parent_name') == 'vm7'
    assert nbctl(nb_db, 'get', 'Logical_Switch_Port', 'ctr', 'tag_request') == '42'

    absent = dict(remote=nb_db, switch='node1', name='default_web-0', state='absent')
    assert run_module('ovn_lsp', absent, check_mode=True)['changed']
    assert 'default_web-0' in nbctl(nb_db, 'lsp-list', 'node1')
    assert run_module('ovn_lsp', absent)['changed']
    assert 'default_web-0' not in nbctl(nb_db, 'lsp-list', 'node1')
    assert run_module('ovn_lsp', absent)['changed'] is False


def test_lsp_errors(nb_db):
    nbctl(nb_db, 'ls-add', 'node1')
    nbctl(nb_db, 'ls-add', 'node2')
    nbctl(nb_db, 'lsp-add', 'node2', 'p1')
    bad = run_module('ovn_lsp', dict(remote=nb_db, switch='node1', name='p1'))
    assert bad['failed'] and bad['msg'] == ('logical switch port p1 exists on logical switch node2, not on node1; '
                                            'remove it there first')
    bad = run_module('ovn_lsp', dict(remote=nb_db, switch='node1', name='p1', state='absent'))
    assert bad['failed'] and 'exists on logical switch node2, not on node1' in bad['msg']
    bad = run_module('ovn_lsp', dict(remote=nb_db, switch='nowhere', name='p2'))
    assert bad['failed'] and bad['msg'] == 'logical switch port p2: logical switch nowhere does not exist'
    bad = run_module('ovn_lsp', dict(remote=nb_db, switch='node1', name='p2', addresses=['0a:58:zz:00:00:01 10.0.0.1']))
    assert bad['failed'] and "is not a MAC address" in bad['msg'] and 'p2' in bad['msg']
    bad = run_module('ovn_lsp', dict(remote=nb_db, switch='node1', name='p2', addresses=['0a:58:0a:00:00:01 10.0.0.300']))
    assert bad['failed'] and "'10.0.0.300' is not an IP address" in bad['msg']
    bad = run_module('ovn_lsp', dict(remote=nb_db, switch='node1', name='p2', parent_name='vm', tag=5000))
    assert bad['failed'] and 'tag 5000 is outside 0-4095' in bad['msg']
    assert nbctl(nb_db, 'lsp-list', 'node1') == ''


def test_router_and_ports(nb_db):
    converge('ovn_logical_router', dict(remote=nb_db, name='ovn_cluster_router',
                                        external_ids={'k8s-cluster-router': 'yes'}))
    args = dict(remote=nb_db, router='ovn_cluster_router', name='rtos-node1', mac='0a:58:0a:80:01:01',
                networks=['10.128.1.1/24'])
    converge('ovn_lrp', args)
    assert nbctl(nb_db, 'get', 'Logical_Router_Port', 'rtos-node1', 'networks') == '["10.128.1.1/24"]'
    changed = run_module('ovn_lrp', dict(args, networks=['10.128.1.1/24', 'fd00::1/64']))
    assert changed['changed']
    assert changed['diff']['after']['Logical_Router_Port rtos-node1']['networks'] == ['10.128.1.1/24', 'fd00::1/64']
    bad = run_module('ovn_lrp', dict(args, router='other'))
    assert bad['failed'] and 'exists on logical router ovn_cluster_router, not on other' in bad['msg']
    bad = run_module('ovn_lrp', dict(args, name='x', networks=['10.128.1.1']))
    assert bad['failed'] and "'10.128.1.1' has no prefix length" in bad['msg']
    gr = dict(remote=nb_db, name='GR_node1', options={'chassis': 'abc'})
    converge('ovn_logical_router', gr)
    assert run_module('ovn_logical_router', dict(gr, options={'chassis': 'def'}))['changed']
    assert nbctl(nb_db, 'get', 'Logical_Router', 'GR_node1', 'options:chassis') == 'def'
    assert run_module('ovn_logical_router', dict(remote=nb_db, name='GR_node1', state='absent'))['changed']
    assert 'GR_node1' not in nbctl(nb_db, 'lr-list')
    assert run_module('ovn_lrp', dict(args, state='absent'))['changed']
    assert nbctl(nb_db, 'lrp-list', 'ovn_cluster_router') == ''


def test_lsp_keeps_neighbours(nb_db):
    """ovn_lsp fetches only its own port; the switch's other ports must survive add and remove."""
    nbctl(nb_db, 'ls-add', 'node1')
    for i in range(20):
        nbctl(nb_db, 'lsp-add', 'node1', 'other%d' % i)
    assert run_module('ovn_lsp', dict(remote=nb_db, switch='node1', name='mine', addresses=['dynamic']))['changed']
    ports = nbctl(nb_db, 'lsp-list', 'node1')
    assert ports.count('other') == 20 and '(mine)' in ports
    assert run_module('ovn_lsp', dict(remote=nb_db, switch='node1', name='mine', state='absent'))['changed']
    ports = nbctl(nb_db, 'lsp-list', 'node1')
    assert ports.count('other') == 20 and '(mine)' not in ports
    assert run_module('ovn_lsp', dict(remote=nb_db, switch='node1', name='other3', state='absent'))['changed']
    assert nbctl(nb_db, 'lsp-list', 'node1').count('other') == 19


def test_lrp_peer_left_alone_when_not_given(nb_db):
    nbctl(nb_db, 'lr-add', 'r1')
    nbctl(nb_db, 'lr-add', 'r2')
    nbctl(nb_db, 'lrp-add', 'r2', 'r2-to-r1', '0a:58:0a:00:00:02', '10.0.0.2/30')
    args = dict(remote=nb_db, router='r1', name='r1-to-r2', mac='0a:58:0a:00:00:01',
                networks=['10.0.0.1/30'], peer='r2-to-r1')
    converge('ovn_lrp', args)
    assert nbctl(nb_db, 'get', 'Logical_Router_Port', 'r1-to-r2', 'peer') == 'r2-to-r1'
    # Not given: leave it alone, as every other option does.
    no_peer = dict(args)
    no_peer.pop('peer')
    assert run_module('ovn_lrp', no_peer)['changed'] is False
    assert nbctl(nb_db, 'get', 'Logical_Router_Port', 'r1-to-r2', 'peer') == 'r2-to-r1'
    # An empty string removes it.
    cleared = run_module('ovn_lrp', dict(args, peer=''))
    assert cleared['changed'] and cleared['diff']['after']['Logical_Router_Port r1-to-r2']['peer'] == []
    assert nbctl(nb_db, 'get', 'Logical_Router_Port', 'r1-to-r2', 'peer') == '[]'


def test_commit_timeout_says_it_may_have_landed(nb_db, tmp_path):
    """A server that stops answering after the read: the change may or may not have landed."""
    import os
    import signal
    import sys

    from conftest import collection_root
    if collection_root() not in sys.path:
        sys.path.insert(0, collection_root())
    from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _errors, _nb, _ovsdb, _txn

    with open(str(tmp_path / 'nb.pid')) as f:
        pid = int(f.read().strip())
    message = None
    with _ovsdb.Client(_ovsdb.NB_DB, remote=nb_db, timeout=2, tables=_nb.SWITCH_TABLES) as client:
        cs = _txn.ChangeSet(client)
        _nb.ensure_switch(cs, client, 'slow')
        os.kill(pid, signal.SIGSTOP)
        try:
            cs.commit()
        except _errors.OvsdbConnectionError as exc:
            message = str(exc)
        finally:
            os.kill(pid, signal.SIGCONT)
    assert message is not None, 'the commit did not time out'
    assert 'did not confirm the change within 2 seconds, so it may or may not have been applied' in message, message
