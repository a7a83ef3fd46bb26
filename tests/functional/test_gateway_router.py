# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovn_gateway_router against real Northbound/Southbound databases and a real ovn-northd."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import time

import pytest

from conftest import NB_SCHEMA, SB_SCHEMA, OvsdbServer, nbctl, run_module

GW = dict(node='node2', chassis='chassis-node2', physical_ip='172.16.0.20/24',
          physical_mac='0a:58:ac:10:00:14', default_gateway='172.16.0.1',
          cluster_subnets=['10.128.0.0/14'], join_subnet='100.64.0.8/29')


@pytest.fixture
def northd(tmp_path):
    """Real NB and SB databases with ovn-northd translating between them."""
    nb = OvsdbServer(tmp_path, [NB_SCHEMA], 'nb')
    sb = OvsdbServer(tmp_path, [SB_SCHEMA], 'sb')
    pidfile = os.path.join(str(tmp_path), 'northd.pid')
    subprocess.check_call(['ovn-northd', '--detach', '--no-chdir', '--pidfile=' + pidfile,
                           '--unixctl=' + os.path.join(str(tmp_path), 'northd.ctl'),
                           '--log-file=' + os.path.join(str(tmp_path), 'northd.log'),
                           '--ovnnb-db=' + nb.remote, '--ovnsb-db=' + sb.remote])
    yield nb.remote, sb.remote
    with open(pidfile) as f:
        os.kill(int(f.read()), 15)
    nb.stop()
    sb.stop()


def sb_flows(sb, datapath, wanted, timeout=20):
    """Logical flows of ``datapath`` once every string in ``wanted`` appears in them."""
    deadline = time.time() + timeout
    while True:
        out = subprocess.check_output(['ovn-sbctl', '--db=' + sb, 'lflow-list', datapath],
                                      universal_newlines=True)
        if all(w in out for w in wanted) or time.time() > deadline:
            return out
        time.sleep(0.2)


def test_gateway_router_end_to_end(northd):
    nb, sb = northd
    nbctl(nb, 'lr-add', 'ovn_cluster_router')
    args = dict(GW, remote=nb)
    check = run_module('ovn_gateway_router', args, check_mode=True)
    assert check['changed'] and not check.get('failed'), check
    assert nbctl(nb, 'lr-list').count('GR_node2') == 0, 'check mode must not write'
    assert check['diff']['before']['Logical_Router GR_node2'] is None
    real = run_module('ovn_gateway_router', args)
    assert real['changed'] and real['diff'] == check['diff']
    assert real['router'] == 'GR_node2' and real['join_ip'] == '100.64.0.10'
    repeat = run_module('ovn_gateway_router', args)
    assert repeat['changed'] is False, repeat['diff']

    assert nbctl(nb, 'get', 'Logical_Router', 'GR_node2', 'options:chassis') == 'chassis-node2'
    nat = nbctl(nb, 'lr-nat-list', 'GR_node2').splitlines()
    assert len(nat) == 2 and nat[1].split()[:3] == ['snat', '172.16.0.20', '10.128.0.0/14'], nat
    routes = nbctl(nb, 'lr-route-list', 'GR_node2')
    assert '0.0.0.0/0' in routes and '172.16.0.1' in routes and '10.128.0.0/14' in routes
    assert routes.count('0.0.0.0/0') == 1
    cr_routes = nbctl(nb, 'lr-route-list', 'ovn_cluster_router')
    assert '0.0.0.0/0' in cr_routes and '100.64.0.10' in cr_routes
    assert nbctl(nb, 'lsp-get-type', 'lnet-node2') == 'localnet'
    assert nbctl(nb, 'get', 'Logical_Switch_Port', 'lnet-node2', 'options:network_name') == 'physnet'

    # ovn-northd turns it into logical flows: SNAT and the default route.
    flows = sb_flows(sb, 'GR_node2', ['ct_snat(172.16.0.20)', 'ip4.dst == 0.0.0.0/0'])
    snat = [l for l in flows.splitlines() if 'ct_snat(172.16.0.20)' in l]
    assert snat and 'ip4.src == 10.128.0.0/14' in snat[0], flows
    default = [l for l in flows.splitlines() if 'lr_in_ip_routing' in l and '0.0.0.0/0' in l]
    assert default and '172.16.0.1' in default[0], flows
    cluster = sb_flows(sb, 'ovn_cluster_router', ['100.64.0.10'])
    assert '100.64.0.10' in cluster

    # Something drifted by hand is converged back; a stale NAT rule of this router goes.
    nbctl(nb, 'lr-nat-add', 'GR_node2', 'snat', '172.16.0.99', '10.200.0.0/16')
    nbctl(nb, 'set', 'Logical_Router', 'GR_node2', 'options:chassis=elsewhere')
    again = run_module('ovn_gateway_router', args)
    assert again['changed']
    assert nbctl(nb, 'get', 'Logical_Router', 'GR_node2', 'options:chassis') == 'chassis-node2'
    assert '172.16.0.99' not in nbctl(nb, 'lr-nat-list', 'GR_node2')

    # Rampout: only that subnet is SNATed, source-ip route on the cluster router.
    ramp = run_module('ovn_gateway_router', dict(args, rampout_subnets=['10.128.3.0/24']))
    assert ramp['changed']
    nat = nbctl(nb, 'lr-nat-list', 'GR_node2').splitlines()
    assert len(nat) == 2 and '10.128.3.0/24' in nat[1]
    cr_routes = nbctl(nb, 'lr-route-list', 'ovn_cluster_router')
    assert 'src-ip' in cr_routes and '10.128.3.0/24' in cr_routes and '0.0.0.0/0' not in cr_routes

    # Absent removes all of it and nothing else.
    nbctl(nb, 'ls-add', 'node1')
    nbctl(nb, 'lr-route-add', 'ovn_cluster_router', '10.99.0.0/16', '100.64.0.1')
    absent = dict(remote=nb, node='node2', state='absent')
    assert run_module('ovn_gateway_router', absent, check_mode=True)['changed']
    assert 'GR_node2' in nbctl(nb, 'lr-list')
    assert run_module('ovn_gateway_router', absent)['changed']
    assert nbctl(nb, 'lr-list').split() == ['ovn_cluster_router'] or 'GR_node2' not in nbctl(nb, 'lr-list')
    assert 'GR_node2' not in nbctl(nb, 'lr-list')
    assert nbctl(nb, 'ls-list').split()[1:] == ['(node1)']
    assert nbctl(nb, 'lrp-list', 'ovn_cluster_router') == ''
    cr_routes = nbctl(nb, 'lr-route-list', 'ovn_cluster_router')
    assert '10.99.0.0/16' in cr_routes and '100.64.0.10' not in cr_routes
    assert run_module('ovn_gateway_router', absent)['changed'] is False


def test_two_gateways_do_not_fight(nb_db):
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    assert run_module('ovn_gateway_router', dict(GW, remote=nb_db))['changed']
    other = dict(GW, remote=nb_db, node='node3', chassis='c3', physical_ip='172.16.0.30/24',
                 physical_mac='0a:58:ac:10:00:1e', join_subnet='100.64.0.16/29')
    bad = run_module('ovn_gateway_router', other)
    assert bad['failed'] and bad['msg'] == (
        'gateway router GR_node3: the cluster router ovn_cluster_router already sends 0.0.0.0/0 '
        '(dst-ip) to gateway node2; give this gateway other rampout_subnets or remove that gateway first')
    assert 'GR_node3' not in nbctl(nb_db, 'lr-list')
    ok = run_module('ovn_gateway_router', dict(other, rampout_subnets=['10.128.3.0/24']))
    assert ok['changed'] and not ok.get('failed')
    assert run_module('ovn_gateway_router', dict(other, rampout_subnets=['10.128.3.0/24']))['changed'] is False
    assert run_module('ovn_gateway_router', dict(GW, remote=nb_db))['changed'] is False


@pytest.mark.parametrize('change, message', [
    (dict(physical_ip='172.16.0.20'), "physical_ip: '172.16.0.20' has no prefix length"),
    (dict(default_gateway='172.17.0.1'), 'default_gateway 172.17.0.1 is not in the external network 172.16.0.0/24'),
    (dict(join_subnet='100.64.0.8/31'), 'join_subnet 100.64.0.8/31 must be an IPv4 network of /30 or larger'),
    (dict(cluster_subnets=['10.128.0.1/14']), 'has host bits set'),
    (dict(rampout_subnets=['10.200.0.0/24']), 'rampout subnet 10.200.0.0/24 is not inside the cluster subnets 10.128.0.0/14'),
    (dict(physical_mac='nope'), "physical_mac: 'nope' is not a MAC address"),
])
def test_gateway_bad_input_changes_nothing(nb_db, change, message):
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    bad = run_module('ovn_gateway_router', dict(GW, remote=nb_db, **change))
    assert bad['failed'] and message in bad['msg'], bad['msg']
    assert bad['msg'].startswith('gateway router GR_node2')
    assert nbctl(nb_db, 'lr-list').split()[1:] == ['(ovn_cluster_router)']
    assert nbctl(nb_db, 'ls-list') == ''


def test_gateway_needs_cluster_router(nb_db):
    bad = run_module('ovn_gateway_router', dict(GW, remote=nb_db))
    assert bad['failed'] and 'the cluster router ovn_cluster_router does not exist' in bad['msg']
