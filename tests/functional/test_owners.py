# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One owner per row (_owners): who owns a row, the rule every stale sweep asks, and the sweeps
that ask it, the last ones against a real ovsdb-server with the OVN Northbound schema."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sys

import pytest

from conftest import collection_root, nbctl

sys.path.insert(0, collection_root())

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _nb, _nb_acl, _nb_lb, _ovsdb, _owners, _txn  # noqa: E402
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import merge_tables  # noqa: E402

N = _names
TABLES = merge_tables(_nb.NODE_NETWORK_TABLES, _nb.GATEWAY_TABLES, _nb_lb.LB_GROUP_TABLES, _nb_acl.PORT_GROUP_TABLES,
                      _nb_acl.ADDRESS_SET_TABLES)


def run(remote, *steps):
    """One run: read, plan every step, commit once; the change set."""
    with _ovsdb.Client(_ovsdb.NB_DB, remote=remote, tables=TABLES) as client:
        cs = _txn.ChangeSet(client)
        for step in steps:
            step[0](cs, client, *step[1:])
        cs.commit()
        return cs


def read(remote, func):
    with _ovsdb.Client(_ovsdb.NB_DB, remote=remote, tables=TABLES) as client:
        return func(client)


@pytest.mark.parametrize('ids,writer', [
    ({N.WATCHER_KEY: N.WATCHER_POD, N.POD_NAMESPACE_KEY: 'ns', N.POD_NAME_KEY: 'p'}, N.WATCHER),
    ({N.WATCHER_KEY: N.WATCHER_NODE, N.NODE_KEY: 'n1', N.CREATED_BY_KEY: N.WATCHER}, N.WATCHER),
    ({N.WATCHER_KEY: N.WATCHER_NODE, N.NODE_KEY: 'n1'}, N.ROLES),
    ({N.KIND_KEY: N.KIND_SERVICE, N.OWNER_KEY: 'ns/web'}, N.WATCHER),
    ({N.KIND_KEY: N.KIND_POLICY_DENY, N.OWNER_KEY: 'ns', N.DIRECTION_KEY: 'Ingress'}, N.WATCHER),
    ({N.OWNER_KEY: 'ns/p'}, N.WATCHER),
    ({N.GATEWAY_KEY: 'n1'}, N.ROLES),
    ({N.GATEWAY_KEY: 'n1', N.GATEWAY_PHYSICAL_IP_KEY: '192.0.2.10'}, N.ROLES),
    ({N.CNI_OWNER_KEY: N.CNI_PLUGIN, N.IFACE_ID_KEY: 'ns_p'}, N.CNI_PLUGIN),
    ({N.CNI_OWNER_KEY: 'someone-else'}, None),
    ({}, None),
    (None, None),
    ({N.CREATED_BY_KEY: 'a stranger', N.KIND_KEY: N.KIND_SERVICE}, N.WATCHER),
])
def test_owner_of_each_kind_of_row(ids, writer):
    assert _owners.owner(ids) == writer


def test_the_rule():
    pod = {N.WATCHER_KEY: N.WATCHER_POD, N.POD_NAMESPACE_KEY: 'ns', N.POD_NAME_KEY: 'p'}
    assert _owners.may_remove(N.WATCHER, pod, {N.WATCHER_KEY: N.WATCHER_POD})
    assert not _owners.may_remove(N.WATCHER, pod, {N.WATCHER_KEY: N.WATCHER_POD, N.POD_NAME_KEY: 'q'})
    assert not _owners.may_remove(N.ROLES, pod, {N.WATCHER_KEY: N.WATCHER_POD})
    assert not _owners.may_remove(N.WATCHER, pod, {}), 'a sweep names whose rows it removes'
    assert not _owners.may_remove(N.WATCHER, {}, {N.OWNER_KEY: 'ns/p'})
    assert _owners.may_remove(N.ROLES, {N.GATEWAY_KEY: 'n1'}, {N.GATEWAY_KEY: 'n1'})
    assert not _owners.may_remove(N.WATCHER, {N.GATEWAY_KEY: 'n1'}, {N.GATEWAY_KEY: 'n1'})
    with pytest.raises(ValueError, match="'kubelet' is not a writer of the collection"):
        _owners.may_remove('kubelet', pod, pod)


def test_what_the_watcher_stamps_on_a_node_network():
    assert _owners.watcher_node_ids('n1', creating=True) == {
        'ovn-k8s-watcher': 'node', 'k8s-node': 'n1', 'ovn-k8s-created-by': 'ovn-k8s-watcher'}
    assert _owners.watcher_node_ids('n1', creating=False) == {'ovn-k8s-watcher': 'node', 'k8s-node': 'n1'}


def test_the_watchers_node_sweep_on_its_input():
    switches = [('n-watcher', _owners.watcher_node_ids('n-watcher', True)),
                ('n-role', _owners.watcher_node_ids('n-role', False)),
                ('sw-x', _owners.watcher_node_ids('n-x', True)),
                ('n-alive', _owners.watcher_node_ids('n-alive', True)),
                ('by-hand', {})]
    assert _owners.stale_node_switches(switches, lambda node: node == 'n-alive') == ['n-watcher', 'n-x']


def _switch_ids(client):
    return [(row.name, dict(row.external_ids)) for row in client.rows('Logical_Switch')]


def test_a_role_made_node_switch_survives_the_watchers_sweep(nb_db):
    """The roles make n-role's network (ovn_node_network); the watcher, serving its Node, stamps
    it. The watcher makes n-watcher's network itself. Both Nodes are then gone: the watcher's
    sweep names n-watcher's network only; n-role's is the roles' to remove."""
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    run(nb_db, (_nb.ensure_node_network, 'n-role', '10.128.0.0/24'))                 # the role
    run(nb_db, (_nb.ensure_node_network, 'n-role', '10.128.0.0/24', 'ovn_cluster_router',
                _owners.watcher_node_ids('n-role', creating=False)))                  # the watcher stamps it
    run(nb_db, (_nb.ensure_node_network, 'n-watcher', '10.128.1.0/24', 'ovn_cluster_router',
                _owners.watcher_node_ids('n-watcher', creating=True)))                # the watcher makes it
    # The role runs again over the watcher's network: it stays the watcher's.
    assert not run(nb_db, (_nb.ensure_node_network, 'n-watcher', '10.128.1.0/24')).changed
    switches = read(nb_db, _switch_ids)
    assert dict(switches)['n-role'] == {'ovn-k8s-watcher': 'node', 'k8s-node': 'n-role'}
    assert _owners.stale_node_switches(switches, lambda node: False) == ['n-watcher']
    # What the sweep names goes; the role's switch and its ports stay.
    run(nb_db, (_nb.remove_node_network, 'n-watcher'))
    assert nbctl(nb_db, '--bare', '--columns=name', 'list', 'Logical_Switch') == 'n-role'
    assert _owners.stale_node_switches(read(nb_db, _switch_ids), lambda node: False) == []


def test_module_sweeps_remove_only_their_writers_rows(nb_db):
    """remove_port_groups, remove_address_sets and remove_load_balancers select by external_ids
    and remove only the watcher's rows; remove_routes and remove_nats with owner= only the
    gateway role's rows that name that gateway."""
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router', '--', 'lr-add', 'GR_n1')
    stamped = {N.WATCHER_KEY: N.WATCHER_NODE}
    policy = {N.OWNER_KEY: 'ns/p'}
    run(nb_db, (_nb_acl.ensure_port_group, 'pg_roles', [], [], dict(policy, **{N.CREATED_BY_KEY: N.ROLES})),
        (_nb_acl.ensure_port_group, 'pg_watcher', [], [], dict(policy, **{N.KIND_KEY: N.KIND_POLICY})),
        (_nb_acl.ensure_address_set, 'as_stamped', [], stamped),
        (_nb_lb.ensure_load_balancer, 'lb_stamped', {'10.96.0.1:80': ''}, 'tcp', None, None, stamped),
        (_nb.ensure_route, 'ovn_cluster_router', '0.0.0.0/0', '100.64.0.2', None, 'dst-ip', {N.GATEWAY_KEY: 'n1'}),
        (_nb.ensure_route, 'ovn_cluster_router', '10.0.0.0/8', '100.64.0.3', None, 'dst-ip', {N.GATEWAY_KEY: 'n2'}),
        (_nb.ensure_route, 'ovn_cluster_router', '192.168.0.0/16', '100.64.0.4'),
        (_nb.ensure_nat, 'GR_n1', 'snat', '192.0.2.10', '10.128.0.0/14', {N.GATEWAY_KEY: 'n1'}),
        (_nb.ensure_nat, 'GR_n1', 'snat', '192.0.2.10', '10.200.0.0/16'))
    cs = run(nb_db, (_nb_acl.remove_port_groups, policy), (_nb_acl.remove_address_sets, stamped),
             (_nb_lb.remove_load_balancers, stamped),
             (_nb.remove_routes, 'ovn_cluster_router', None, None, {N.GATEWAY_KEY: 'n1'}),
             (_nb.remove_nats, 'GR_n1', (), None, {N.GATEWAY_KEY: 'n1'}))
    assert sorted(cs.before) == ['Logical_Router_Static_Route ovn_cluster_router 0.0.0.0/0',
                                 'NAT GR_n1 snat 10.128.0.0/14', 'Port_Group pg_watcher']
    assert nbctl(nb_db, '--bare', '--columns=name', 'list', 'Port_Group') == 'pg_roles'
    assert nbctl(nb_db, '--bare', '--columns=name', 'list', 'Address_Set') == 'as_stamped'
    assert nbctl(nb_db, '--bare', '--columns=name', 'list', 'Load_Balancer') == 'lb_stamped'
    assert sorted(nbctl(nb_db, '--bare', '--columns=ip_prefix', 'list', 'Logical_Router_Static_Route').split()) == \
        ['10.0.0.0/8', '192.168.0.0/16']
    assert nbctl(nb_db, '--bare', '--columns=logical_ip', 'list', 'NAT') == '10.200.0.0/16'
