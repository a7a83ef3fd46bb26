# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load balancers, load balancer groups, address sets, port groups and ACLs
(_nb_lb, _nb_acl) against a real ovsdb-server with the OVN Northbound schema."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import sys

import pytest

from conftest import collection_root, nbctl

sys.path.insert(0, collection_root())

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _errors, _nb, _nb_acl, _nb_lb, _ovsdb, _txn  # noqa: E402
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import merge_tables  # noqa: E402

TABLES = merge_tables(_nb_lb.LB_GROUP_TABLES, _nb_acl.ADDRESS_SET_TABLES, _nb_acl.PORT_GROUP_TABLES,
                      _nb.SWITCH_TABLES, _nb.ROUTER_TABLES, _nb.LSP_TABLES)


def plan(remote, *steps, **kwargs):
    """One run as a module or a watcher event does it: read, plan every step, commit once."""
    check_mode = kwargs.pop('check_mode', False)
    with _ovsdb.Client(_ovsdb.NB_DB, remote=remote, tables=TABLES) as client:
        cs = _txn.ChangeSet(client)
        for step in steps:
            step[0](cs, client, *step[1:])
        cs.commit(check_mode=check_mode)
        return cs


def converge(remote, *steps):
    """Check mode predicts, the real run does it, the repeat changes nothing."""
    snapshot = dump(remote)
    check = plan(remote, *steps, check_mode=True)
    assert check.changed
    assert dump(remote) == snapshot, 'check mode wrote something'
    real = plan(remote, *steps)
    assert real.changed and real.diff == check.diff
    again = plan(remote, *steps)
    assert not again.changed and again.diff == {'before': {}, 'after': {}}, again.diff
    return real


def dump(remote):
    return nbctl(remote, '--format=json', 'list', 'Load_Balancer') + nbctl(remote, 'show') + \
        nbctl(remote, 'list', 'Port_Group') + nbctl(remote, 'list', 'ACL') + nbctl(remote, 'list', 'Address_Set') + \
        nbctl(remote, 'list', 'Load_Balancer_Group')


def lbs(remote):
    out = json.loads(nbctl(remote, '--format=json', '--columns=name,vips,_uuid', 'list', 'Load_Balancer'))
    return dict((row[0], (dict(row[1][1]), row[2][1])) for row in out['data'])


def lb(name, vips, **kw):
    kw.setdefault('options', {'reject': 'true'})
    return (lambda cs, client: _nb_lb.ensure_load_balancer(cs, client, name, vips, 'tcp', **kw),)


WEB = {'10.96.0.10:80': '10.128.1.5:8080,10.128.2.7:8080', '10.96.0.10:443': '10.128.1.5:8443'}
DNS = {'10.96.0.53:53': '10.128.1.9:53'}


def test_load_balancers_in_a_group_on_switches_and_routers(nb_db):
    nbctl(nb_db, 'ls-add', 'node1', '--', 'ls-add', 'node2', '--', 'lr-add', 'GR_node1')
    steps = [(_nb_lb.ensure_lb_group, 'clusterLBGroup'),
             lb('Service_default/web_TCP', WEB, groups=['clusterLBGroup'],
                external_ids={'k8s.ovn.org/owner': 'default/web'}),
             lb('Service_kube-system/dns_TCP', DNS, groups=['clusterLBGroup'])]
    steps += [(_nb_lb.ensure_lb_group_attached, t, n, 'clusterLBGroup')
              for t, n in (('Logical_Switch', 'node1'), ('Logical_Switch', 'node2'), ('Logical_Router', 'GR_node1'))]
    real = converge(nb_db, *steps)
    assert real.diff['after']['Load_Balancer Service_default/web_TCP']['vips'] == WEB
    assert real.diff['after']['Logical_Switch node2 load_balancer_group'] == {'load_balancer_group': ['clusterLBGroup']}
    assert real.diff['after']['Load_Balancer_Group clusterLBGroup load_balancer'] == {
        'load_balancer': ['Service_default/web_TCP', 'Service_kube-system/dns_TCP']}
    assert lbs(nb_db)['Service_default/web_TCP'][0] == WEB
    members = nbctl(nb_db, '--bare', '--columns=load_balancer', 'list', 'Load_Balancer_Group').split()
    assert sorted(members) == sorted(v[1] for v in lbs(nb_db).values())
    group = nbctl(nb_db, '--bare', '--columns=_uuid', 'find', 'Load_Balancer_Group', 'name=clusterLBGroup')
    for table, name in (('Logical_Switch', 'node1'), ('Logical_Switch', 'node2'), ('Logical_Router', 'GR_node1')):
        assert nbctl(nb_db, 'get', table, name, 'load_balancer_group') == '[%s]' % group
    assert nbctl(nb_db, 'get', 'Load_Balancer', lbs(nb_db)['Service_default/web_TCP'][1], 'options:reject') == '"true"'

    # One backend moves: only that VIP is rewritten, the diff shows only it, the row stays.
    uuid = lbs(nb_db)['Service_default/web_TCP'][1]
    changed = dict(WEB, **{'10.96.0.10:80': '10.128.1.5:8080,10.128.3.3:8080'})
    real = converge(nb_db, lb('Service_default/web_TCP', changed, groups=['clusterLBGroup'],
                              external_ids={'k8s.ovn.org/owner': 'default/web'}))
    assert real.diff == {'before': {'Load_Balancer Service_default/web_TCP': {'vips': {'10.96.0.10:80': WEB['10.96.0.10:80']}}},
                         'after': {'Load_Balancer Service_default/web_TCP': {'vips': {'10.96.0.10:80': changed['10.96.0.10:80']}}}}
    assert lbs(nb_db)['Service_default/web_TCP'] == (changed, uuid)

    # A VIP goes away, another loses all its backends.
    fewer = {'10.96.0.10:80': ''}
    real = converge(nb_db, lb('Service_default/web_TCP', fewer, external_ids={'k8s.ovn.org/owner': 'default/web'}))
    assert real.diff['before']['Load_Balancer Service_default/web_TCP']['vips'] == dict(
        (k, v) for k, v in changed.items())
    assert lbs(nb_db)['Service_default/web_TCP'] == (fewer, uuid)

    # Removing one service removes its load balancer and nothing else.
    dns_before = lbs(nb_db)['Service_kube-system/dns_TCP']
    converge(nb_db, (_nb_lb.remove_load_balancer, 'Service_default/web_TCP'))
    assert lbs(nb_db) == {'Service_kube-system/dns_TCP': dns_before}
    assert nbctl(nb_db, '--bare', '--columns=load_balancer', 'list', 'Load_Balancer_Group') == dns_before[1]
    assert nbctl(nb_db, 'get', 'Logical_Switch', 'node1', 'load_balancer_group') == '[%s]' % group

    # Removing the group detaches it from the switches and routers first.
    converge(nb_db, (_nb_lb.remove_lb_group, 'clusterLBGroup'))
    assert nbctl(nb_db, 'list', 'Load_Balancer_Group') == ''
    assert nbctl(nb_db, 'get', 'Logical_Switch', 'node1', 'load_balancer_group') == '[]'
    assert list(lbs(nb_db)) == ['Service_kube-system/dns_TCP']


def test_load_balancer_options_and_group_membership(nb_db):
    converge(nb_db, lb('svc_UDP', {'10.96.0.20:53': '10.128.1.2:53'}, options={'affinity_timeout': '60'},
                       selection_fields=['ip_src']))
    got = json.loads(nbctl(nb_db, '--format=json', '--columns=options,selection_fields,protocol', 'list', 'Load_Balancer'))
    assert got['data'][0][0] == ['map', [['affinity_timeout', '60']]]
    # Options are converged exactly: affinity goes when ClientIP affinity goes.
    real = converge(nb_db, lb('svc_UDP', {'10.96.0.20:53': '10.128.1.2:53'}, options={'reject': 'true'}))
    assert real.diff['before']['Load_Balancer svc_UDP'] == {'options': {'affinity_timeout': '60'}}
    converge(nb_db, (_nb_lb.ensure_lb_group, 'g', ['svc_UDP']))
    converge(nb_db, (_nb_lb.ensure_lb_group, 'g', []))
    assert nbctl(nb_db, '--bare', '--columns=load_balancer', 'list', 'Load_Balancer_Group') == ''
    # An existing load balancer joins an existing group; the other member stays.
    converge(nb_db, lb('other_TCP', {'10.96.0.21:80': ''}, groups=['g']))
    real = converge(nb_db, lb('svc_UDP', {'10.96.0.20:53': '10.128.1.2:53'}, options={'reject': 'true'}, groups=['g']))
    assert real.diff == {'before': {'Load_Balancer_Group g load_balancer': {'load_balancer': ['other_TCP']}},
                         'after': {'Load_Balancer_Group g load_balancer': {'load_balancer': ['other_TCP', 'svc_UDP']}}}
    assert len(nbctl(nb_db, '--bare', '--columns=load_balancer', 'list', 'Load_Balancer_Group').split()) == 2


@pytest.mark.parametrize('vips,why', [
    ({'10.96.0.1:80': '10.1.1.1'}, 'must have a port'),
    ({'10.96.0.1': '10.1.1.1:80'}, 'must not have a port'),
    ({'10.96.0.1:80': 'fd00::1:80'}, 'another IP family'),
    ({'[fd00::1]': ''}, 'brackets but no port'),
    ({'10.96.0.1:80': '[fd00::1]:80'}, 'another IP family'),
    ({'10.96.0.1:99999': ''}, 'expected 1-65535'),
    ({'web:80': ''}, 'is not an address'),
])
def test_bad_vips_change_nothing(nb_db, vips, why):
    with pytest.raises(_errors.InvalidInput) as err:
        plan(nb_db, lb('bad', vips))
    assert 'load balancer bad' in str(err.value) and why in str(err.value)
    assert nbctl(nb_db, 'list', 'Load_Balancer') == ''


def test_group_of_unknown_load_balancer_is_refused(nb_db):
    with pytest.raises(_errors.Conflict, match='load balancer group g: load balancer nope does not exist'):
        plan(nb_db, (_nb_lb.ensure_lb_group, 'g', ['nope']))
    with pytest.raises(_errors.Conflict, match='logical switch node9 does not exist'):
        plan(nb_db, (_nb_lb.ensure_lb_group, 'g'), (_nb_lb.ensure_lb_group_attached, 'Logical_Switch', 'node9', 'g'))
    assert nbctl(nb_db, 'list', 'Load_Balancer_Group') == ''


def acl(direction, priority, match, action, **kw):
    return dict(kw, direction=direction, priority=priority, match=match, action=action)


POLICY_ACLS = [
    acl('to-lport', 1001, 'outport == @pg_web && ip4.src == $as_web && tcp && tcp.dst == 80', 'allow-related',
        name='default/web ingress 0', external_ids={'policy': 'default/web', 'kind': 'NetworkPolicy', 'a': 'b'}),
    acl('to-lport', 1000, 'outport == @pg_web && ip', 'drop', log=True, severity='info'),
]


def test_address_sets_and_port_groups(nb_db):
    nbctl(nb_db, 'ls-add', 'node1', '--', 'lsp-add', 'node1', 'default_a', '--', 'lsp-add', 'node1', 'default_b',
          '--', 'lsp-add', 'node1', 'default_c')
    steps = [(_nb_acl.ensure_address_set, 'as_web', ['10.128.1.5', '10.128.1.4']),
             (_nb_acl.ensure_port_group, 'pg_web', ['default_a', 'default_b'], POLICY_ACLS)]
    real = converge(nb_db, *steps)
    assert real.diff['after']['Address_Set as_web']['addresses'] == ['10.128.1.4', '10.128.1.5']
    assert len(real.diff['after']['Port_Group pg_web']['acls']) == 2
    acl_uuids = sorted(nbctl(nb_db, '--bare', '--columns=_uuid', 'list', 'ACL').split())
    assert len(acl_uuids) == 2
    assert nbctl(nb_db, '--bare', '--columns=log,severity', 'find', 'ACL', 'action=drop').split() == ['true', 'info']

    # A pod label changes: the set and the group move, the ACLs are not recreated.
    real = converge(nb_db, (_nb_acl.ensure_address_set, 'as_web', ['10.128.1.4', '10.128.1.6']),
                    (_nb_acl.ensure_port_group, 'pg_web', ['default_b', 'default_c'], list(reversed(POLICY_ACLS))))
    assert real.diff == {
        'before': {'Address_Set as_web': {'addresses': ['10.128.1.4', '10.128.1.5']},
                   'Port_Group pg_web': {'ports': ['default_a', 'default_b']}},
        'after': {'Address_Set as_web': {'addresses': ['10.128.1.4', '10.128.1.6']},
                  'Port_Group pg_web': {'ports': ['default_b', 'default_c']}}}
    assert sorted(nbctl(nb_db, '--bare', '--columns=_uuid', 'list', 'ACL').split()) == acl_uuids

    # One ACL changes: only it is replaced.
    stricter = [POLICY_ACLS[0], acl('to-lport', 1000, 'outport == @pg_web && ip', 'reject')]
    real = converge(nb_db, (_nb_acl.ensure_port_group, 'pg_web', ['default_b', 'default_c'], stricter))
    assert real.diff['before']['Port_Group pg_web']['acls'] == ['to-lport 1000 drop outport == @pg_web && ip log']
    assert real.diff['after']['Port_Group pg_web']['acls'] == ['to-lport 1000 reject outport == @pg_web && ip']
    now = nbctl(nb_db, '--bare', '--columns=_uuid', 'list', 'ACL').split()
    assert len(now) == 2 and len(set(now) & set(acl_uuids)) == 1

    # A pod whose port is gone: refused, or skipped when asked.
    with pytest.raises(_errors.Conflict, match='port group pg_web: logical switch port default_z does not exist'):
        plan(nb_db, (_nb_acl.ensure_port_group, 'pg_web', ['default_b', 'default_z'], stricter))
    converge(nb_db, (_nb_acl.ensure_port_group, 'pg_web', ['default_b', 'default_z'], stricter, None, 'skip'))
    assert nbctl(nb_db, '--bare', '--columns=name', 'list', 'Logical_Switch_Port', nbctl(
        nb_db, '--bare', '--columns=ports', 'list', 'Port_Group')) == 'default_b'

    # Removal takes the group and its ACLs, and the set, and nothing else.
    converge(nb_db, (_nb_acl.remove_port_group, 'pg_web'), (_nb_acl.remove_address_set, 'as_web'))
    assert nbctl(nb_db, 'list', 'ACL') == '' and nbctl(nb_db, 'list', 'Address_Set') == ''
    assert len(nbctl(nb_db, '--bare', '--columns=name', 'list', 'Logical_Switch_Port').split()) == 3


@pytest.mark.parametrize('bad,why', [
    (acl('in', 1, 'ip', 'drop'), "direction 'in' is not one of"),
    (acl('to-lport', 40000, 'ip', 'drop'), 'priority 40000 is outside 0-32767'),
    (acl('to-lport', 1, 'ip', 'deny'), "action 'deny' is not one of"),
    (dict(direction='to-lport', priority=1, action='drop'), 'lacks match'),
    (acl('to-lport', 1, 'ip', 'drop', name='x' * 64), 'at most 63 characters'),
])
def test_bad_acls_change_nothing(nb_db, bad, why):
    with pytest.raises(_errors.InvalidInput) as err:
        plan(nb_db, (_nb_acl.ensure_port_group, 'pg_x', [], [bad]))
    assert str(err.value).startswith('port group pg_x: ') and why in str(err.value)
    assert nbctl(nb_db, 'list', 'Port_Group') == ''


def test_removal_by_owner_keeps_the_rest(nb_db):
    """What a service that lost a protocol, a deleted policy, and a repair pass remove."""
    mine = {'k8s.ovn.org/kind': 'Service', 'k8s.ovn.org/owner': 'default/web'}
    other = {'k8s.ovn.org/kind': 'Service', 'k8s.ovn.org/owner': 'default/dns'}
    converge(nb_db, lb('Service_default/web_TCP', {'10.96.0.10:80': ''}, external_ids=mine),
             lb('Service_default/web_UDP', {'10.96.0.10:80': ''}, external_ids=mine),
             lb('Service_default/dns_UDP', {'10.96.0.53:53': ''}, external_ids=other),
             lb('by-hand', {'10.96.9.9:80': ''}),
             (_nb_acl.ensure_address_set, 'as_mine', [], {'k8s.ovn.org/owner': 'default/p'}),
             (_nb_acl.ensure_address_set, 'as_other', [], {'k8s.ovn.org/owner': 'default/q'}),
             (_nb_acl.ensure_port_group, 'pg_mine', [], POLICY_ACLS, {'k8s.ovn.org/owner': 'default/p'}),
             (_nb_acl.ensure_port_group, 'pg_other', [], [], {'k8s.ovn.org/owner': 'default/q'}))
    # Limited to names (what the watcher knows a service's rows can be called): another
    # owner's row of a named name stays, and so does the owner's row of a name not named.
    assert not plan(nb_db, (_nb_lb.remove_load_balancers, mine, ['Service_default/web_TCP'],
                            ['Service_default/dns_UDP', 'Service_default/web_SCTP', 'Service_default/web_UDP_'])).changed
    assert sorted(lbs(nb_db)) == ['Service_default/dns_UDP', 'Service_default/web_TCP', 'Service_default/web_UDP', 'by-hand']
    gone = converge(nb_db, (_nb_lb.remove_load_balancers, mine, ['Service_default/web_TCP'],
                            ['Service_default/web_%s' % p for p in ('TCP', 'UDP', 'SCTP')]))
    assert list(gone.diff['before']) == ['Load_Balancer Service_default/web_UDP']
    converge(nb_db, (_nb_lb.remove_load_balancers, {'k8s.ovn.org/kind': 'Service'}, ['Service_default/web_TCP']))
    assert sorted(lbs(nb_db)) == ['Service_default/web_TCP', 'by-hand']
    converge(nb_db, (_nb_acl.remove_port_groups, {'k8s.ovn.org/owner': 'default/p'}),
             (_nb_acl.remove_address_sets, {'k8s.ovn.org/owner': 'default/p'}))
    assert nbctl(nb_db, '--bare', '--columns=name', 'list', 'Port_Group') == 'pg_other'
    assert nbctl(nb_db, '--bare', '--columns=name', 'list', 'Address_Set') == 'as_other'
    assert nbctl(nb_db, 'list', 'ACL') == ''


def test_bad_names_and_addresses(nb_db):
    with pytest.raises(_errors.InvalidInput, match="an address set: 'as-web' is not a valid name"):
        plan(nb_db, (_nb_acl.ensure_address_set, 'as-web', []))
    with pytest.raises(_errors.InvalidInput, match="address set as_web: '10.1.1.300' is not an IP address"):
        plan(nb_db, (_nb_acl.ensure_address_set, 'as_web', ['10.1.1.300']))
