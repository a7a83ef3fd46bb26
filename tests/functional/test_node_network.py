# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's network (_names, _nb.node_addresses, _nb.ensure_node_network and
_nb.remove_node_network) against a real ovsdb-server with the OVN Northbound schema."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sys

import pytest

from conftest import collection_root, nbctl

sys.path.insert(0, collection_root())

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _errors, _names, _nb, _ovsdb, _txn  # noqa: E402
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import parse_network  # noqa: E402

LONG = 'worker-node-01.rack-17.dc-west.cluster.example.com'


def plan(remote, operation, *args, **kwargs):
    """One run as a module does it: read, plan, and commit unless check mode."""
    check_mode = kwargs.pop('check_mode', False)
    with _ovsdb.Client(_ovsdb.NB_DB, remote=remote, tables=_nb.NODE_NETWORK_TABLES) as client:
        cs = _txn.ChangeSet(client)
        out = operation(cs, client, *args, **kwargs)
        cs.commit(check_mode=check_mode)
        return cs, out


def test_names():
    assert _names.node_switch('n1') == 'n1'
    assert _names.router_to_switch_port('n1') == 'rtos-n1'
    assert _names.switch_to_router_port('n1') == 'stor-n1'
    assert _names.mgmt_port('n1') == 'k8s-n1'
    assert _names.MGMT_INTERFACE == 'ovn-k8s-mp0'
    assert _names.pod_port('default', 'web-1') == 'default_web-1'
    assert _names.mac_from_ip('10.128.1.2') == '0a:58:0a:80:01:02'
    assert _names.gateway_router('n1') == 'GR_n1'
    assert _names.gateway_names('n1')['gr_ext_port'] == 'rtoe-GR_n1'
    # _nb keeps the names it always exported.
    assert _nb.mac_from_ip is _names.mac_from_ip and _nb.gateway_names is _names.gateway_names


@pytest.mark.parametrize('name', ['n1', LONG, 'a' * 63 + '.' + 'b' * 63 + '.' + 'c' * 63 + '.' + 'd' * 61])
def test_node_names_that_kubernetes_accepts(name):
    assert _names.node_name_problem(name) is None


@pytest.mark.parametrize('name,why', [
    ('', 'non-empty'), ('Node1', 'DNS subdomain'), ('node_1', 'DNS subdomain'), ('-n', 'DNS subdomain'),
    ('n.', 'DNS subdomain'), ('a' * 254, 'at most 253 characters, this one has 254'), (None, 'non-empty'),
])
def test_node_names_that_kubernetes_refuses(name, why):
    assert why in _names.node_name_problem(name)


def test_node_addresses():
    assert _nb.node_addresses('10.244.3.0/24') == dict(
        subnet='10.244.3.0/24', router_ip='10.244.3.1', router_cidr='10.244.3.1/24',
        router_mac='0a:58:0a:f4:03:01', mgmt_ip='10.244.3.2', mgmt_cidr='10.244.3.2/24',
        mgmt_mac='0a:58:0a:f4:03:02')


@pytest.mark.parametrize('subnet,message', [
    ('10.244.3.1/24', "node subnet: 10.244.3.1/24 has host bits set; did you mean 10.244.3.0/24?"),
    ('10.244.3.0', "node subnet: '10.244.3.0' has no prefix length (expected a CIDR such as 10.128.1.0/24)"),
    ('10.300.0.0/24', "node subnet: '10.300.0.0/24' is not a CIDR such as 10.128.1.0/24"),
    ('10.244.3.0/31', 'node subnet: 10.244.3.0/31 must be an IPv4 network of /30 or larger'),
    ('fd00::/64', 'node subnet: fd00::/64 must be an IPv4 network of /30 or larger'),
])
def test_node_addresses_bad_subnet(subnet, message):
    with pytest.raises(_errors.InvalidInput) as err:
        _nb.node_addresses(subnet)
    assert str(err.value).startswith(message), str(err.value)


def test_one_cidr_parser_for_the_core():
    # The allocator, the netlink code and the Northbound checks share one parser and its words.
    from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _alloc, _netlink
    assert _netlink.parse_network is parse_network and _alloc.parse_network is parse_network
    with pytest.raises(_errors.InvalidInput) as err:
        _netlink.parse_cidr('10.1.1.1', 'device eth0 address')
    assert str(err.value) == "device eth0 address: '10.1.1.1' has no prefix length (expected a CIDR such as 10.128.1.2/24)"
    assert str(_netlink.parse_cidr('10.1.1.1/24', 'x')) == '10.1.1.1/24'


def _topology(nb):
    return dict(
        switches=nbctl(nb, '--bare', '--columns=name', 'list', 'Logical_Switch').split(),
        lsps=sorted(nbctl(nb, '--bare', '--columns=name', 'list', 'Logical_Switch_Port').split()),
        lrps=sorted(nbctl(nb, '--bare', '--columns=name', 'list', 'Logical_Router_Port').split()))


@pytest.mark.parametrize('node', ['node1', LONG])
def test_ensure_node_network_check_real_repeat_remove(nb_db, node):
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    check, predicted = plan(nb_db, _nb.ensure_node_network, node, '10.244.3.0/24', check_mode=True)
    assert check.changed
    assert _topology(nb_db) == dict(switches=[], lsps=[], lrps=[]), 'check mode must not write'
    assert sorted(check.diff['after']) == sorted([
        'Logical_Switch %s' % node, 'Logical_Router_Port rtos-%s' % node,
        'Logical_Switch_Port stor-%s' % node, 'Logical_Switch_Port k8s-%s' % node])
    assert all(v is None for v in check.diff['before'].values())

    real, out = plan(nb_db, _nb.ensure_node_network, node, '10.244.3.0/24')
    assert real.changed and real.diff == check.diff, 'check mode must predict the real diff'
    assert out == predicted
    assert out['mgmt_port'] == 'k8s-' + node and out['mgmt_interface'] == 'ovn-k8s-mp0'
    assert out['router_port'] == 'rtos-' + node and out['switch_port'] == 'stor-' + node
    assert out['mgmt_cidr'] == '10.244.3.2/24' and out['router_ip'] == '10.244.3.1'
    assert nbctl(nb_db, 'get', 'Logical_Switch', node, 'other_config:subnet') == '"10.244.3.0/24"'
    assert nbctl(nb_db, 'get', 'Logical_Switch', node, 'other_config:exclude_ips') == '"10.244.3.2"'
    assert nbctl(nb_db, 'lrp-list', 'ovn_cluster_router') .split()[-1] == '(rtos-%s)' % node
    assert nbctl(nb_db, 'get', 'Logical_Router_Port', 'rtos-' + node, 'mac') == '"0a:58:0a:f4:03:01"'
    assert nbctl(nb_db, 'get', 'Logical_Router_Port', 'rtos-' + node, 'networks') == '["10.244.3.1/24"]'
    assert nbctl(nb_db, 'lsp-get-type', 'stor-' + node) == 'router'
    assert nbctl(nb_db, 'lsp-get-options', 'stor-' + node) == 'router-port=rtos-%s' % node
    assert nbctl(nb_db, 'lsp-get-addresses', 'k8s-' + node) == '0a:58:0a:f4:03:02 10.244.3.2'
    assert sorted(nbctl(nb_db, 'lsp-list', node).split()[1::2]) == sorted(
        ['(stor-%s)' % node, '(k8s-%s)' % node])

    repeat, again = plan(nb_db, _nb.ensure_node_network, node, '10.244.3.0/24')
    assert not repeat.changed and repeat.diff == {'before': {}, 'after': {}}
    assert again == out

    # A pod port on the switch goes with it; the router and other nodes stay.
    nbctl(nb_db, 'lsp-add', node, 'default_web-1')
    plan(nb_db, _nb.ensure_node_network, 'other', '10.244.4.0/24')
    check_rm = plan(nb_db, _nb.remove_node_network, node, check_mode=True)[0]
    assert check_rm.changed and all(v is None for v in check_rm.diff['after'].values())
    assert node in _topology(nb_db)['switches']
    gone = plan(nb_db, _nb.remove_node_network, node)[0]
    assert gone.diff == check_rm.diff
    assert _topology(nb_db) == dict(switches=['other'], lsps=['k8s-other', 'stor-other'], lrps=['rtos-other'])
    assert nbctl(nb_db, 'lr-list').split()[-1] == '(ovn_cluster_router)'
    again_rm = plan(nb_db, _nb.remove_node_network, node)[0]
    assert not again_rm.changed


def test_renumbering_a_node_converges_every_address(nb_db):
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    plan(nb_db, _nb.ensure_node_network, 'n1', '10.244.3.0/24')
    cs = plan(nb_db, _nb.ensure_node_network, 'n1', '10.244.9.0/24', check_mode=True)[0]
    assert cs.diff['after']['Logical_Router_Port rtos-n1'] == dict(mac='0a:58:0a:f4:09:01', networks=['10.244.9.1/24'])
    assert cs.diff['after']['Logical_Switch_Port k8s-n1'] == dict(addresses=['0a:58:0a:f4:09:02 10.244.9.2'])
    real = plan(nb_db, _nb.ensure_node_network, 'n1', '10.244.9.0/24')[0]
    assert real.diff == cs.diff
    assert nbctl(nb_db, 'lsp-get-addresses', 'k8s-n1') == '0a:58:0a:f4:09:02 10.244.9.2'


@pytest.mark.parametrize('node,subnet,message', [
    ('n1', '10.244.3.1/24', 'node n1 subnet: 10.244.3.1/24 has host bits set'),
    ('n1', 'x', "node n1 subnet: 'x' is not a CIDR"),
    ('Node_1', '10.244.3.0/24', "node 'Node_1': 'Node_1' is not a valid node name (a node name is a DNS subdomain"),
    ('a' * 254, '10.244.3.0/24', 'at most 253 characters'),
])
def test_bad_input_changes_nothing(nb_db, node, subnet, message):
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    with pytest.raises(_errors.InvalidInput) as err:
        plan(nb_db, _nb.ensure_node_network, node, subnet)
    assert message in str(err.value)
    assert _topology(nb_db) == dict(switches=[], lsps=[], lrps=[])


def test_missing_cluster_router_is_one_sentence(nb_db):
    with pytest.raises(_errors.Conflict) as err:
        plan(nb_db, _nb.ensure_node_network, 'n1', '10.244.3.0/24', cluster_router='cr')
    assert str(err.value) == 'node n1: the cluster router cr does not exist; run the central setup first'
    assert _topology(nb_db) == dict(switches=[], lsps=[], lrps=[])


def test_port_of_another_switch_is_a_conflict(nb_db):
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    nbctl(nb_db, 'ls-add', 'elsewhere')
    nbctl(nb_db, 'lsp-add', 'elsewhere', 'k8s-n1')
    with pytest.raises(_errors.Conflict) as err:
        plan(nb_db, _nb.ensure_node_network, 'n1', '10.244.3.0/24')
    assert 'logical switch port k8s-n1 exists on logical switch elsewhere, not on n1' in str(err.value)
    assert _topology(nb_db)['switches'] == ['elsewhere']


# The module ------------------------------------------------------------------------------
def test_module_check_real_repeat_absent_with_a_long_fqdn_node_name(nb_db):
    from conftest import converge_module, run_module
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    args = dict(remote=nb_db, node=LONG, subnet='10.244.7.0/24')

    def untouched():
        assert _topology(nb_db) == dict(switches=[], lsps=[], lrps=[])

    check, real, repeat = converge_module('ovn_node_network', args, untouched=untouched)
    for result in (check, real, repeat):
        assert result['mgmt_interface'] == 'ovn-k8s-mp0' and result['mgmt_port'] == 'k8s-' + LONG
        assert result['mgmt_cidr'] == '10.244.7.2/24' and result['mgmt_mac'] == '0a:58:0a:f4:07:02'
        assert result['router_ip'] == '10.244.7.1' and result['subnet'] == '10.244.7.0/24'
    assert nbctl(nb_db, 'lsp-get-addresses', 'k8s-' + LONG) == '0a:58:0a:f4:07:02 10.244.7.2'

    absent = dict(remote=nb_db, node=LONG, state='absent')
    gone_check = run_module('ovn_node_network', absent, check_mode=True)
    assert gone_check['changed'] and LONG in _topology(nb_db)['switches']
    gone = run_module('ovn_node_network', absent)
    assert gone['changed'] and gone['diff'] == gone_check['diff']
    assert _topology(nb_db) == dict(switches=[], lsps=[], lrps=[])
    assert run_module('ovn_node_network', absent)['changed'] is False


@pytest.mark.parametrize('args,message', [
    (dict(node='node1', subnet='10.244.7.5/24'), 'node node1 subnet: 10.244.7.5/24 has host bits set; did you mean 10.244.7.0/24?'),
    (dict(node='node1', subnet='10.244.7.0'), "node node1 subnet: '10.244.7.0' has no prefix length"),
    (dict(node='Worker_1', subnet='10.244.7.0/24'), "node 'Worker_1': 'Worker_1' is not a valid node name"),
    # (A name over 253 characters is tested in the integration target: this harness passes the
    # arguments on the command line, where such a long word is taken for a file name.)
    (dict(node='node1'), 'state is present but all of the following are missing: subnet'),
    (dict(node='node1', subnet='10.244.7.0/24', cluster_router='nope'), 'node node1: the cluster router nope does not exist'),
])
def test_module_bad_input_changes_nothing(nb_db, args, message):
    from conftest import run_module
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    bad = run_module('ovn_node_network', dict(args, remote=nb_db))
    assert bad['failed'] and message in bad['msg'], bad
    assert _topology(nb_db) == dict(switches=[], lsps=[], lrps=[])
