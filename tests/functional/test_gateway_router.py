# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovn_gateway_router against real Northbound/Southbound databases and a real ovn-northd."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys
import time

import pytest

from conftest import NB_SCHEMA, SB_SCHEMA, OvsdbServer, collection_root, nbctl, run_module

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
    (dict(join_subnet='10.129.0.0/29'), 'join_subnet 10.129.0.0/29 overlaps the cluster subnet 10.128.0.0/14'),
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


def _other(nb_db, node, n, **extra):
    args = dict(GW, remote=nb_db, node=node, chassis='c-' + node, physical_ip='172.16.0.%d/24' % n,
                physical_mac='0a:58:ac:10:00:%02x' % n)
    args.update(extra)
    return args


def test_join_subnet_overlap_is_refused(nb_db):
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    nbctl(nb_db, 'lrp-add', 'ovn_cluster_router', 'rtos-node1', '0a:58:0a:80:01:01', '10.128.1.1/24')
    assert run_module('ovn_gateway_router', dict(GW, remote=nb_db))['changed']
    before = nbctl(nb_db, 'show')
    # The same join subnet as node2's gateway: an error naming both, and nothing written.
    same = _other(nb_db, 'node3', 30, rampout_subnets=['10.128.3.0/24'], join_subnet='100.64.0.8/30')
    bad = run_module('ovn_gateway_router', same)
    assert bad['failed'] and bad['msg'] == (
        'gateway router GR_node3: join_subnet 100.64.0.8/30 overlaps 100.64.0.8/29 of logical router port '
        'rtoj-node2 on the cluster router ovn_cluster_router (gateway node2); give each gateway its own '
        'join subnet or leave it empty to allocate one'), bad
    assert run_module('ovn_gateway_router', same, check_mode=True)['failed']
    # Any other network on the cluster router is just as taken, and the pod range is never a join subnet.
    nbctl(nb_db, 'lrp-add', 'ovn_cluster_router', 'lrp-extra', '0a:58:64:40:04:01', '100.64.4.1/24')
    before = nbctl(nb_db, 'show')
    other = run_module('ovn_gateway_router', dict(same, join_subnet='100.64.4.8/29'))
    assert other['failed'] and other['msg'].startswith(
        'gateway router GR_node3: join_subnet 100.64.4.8/29 overlaps 100.64.4.0/24 of logical router port '
        'lrp-extra on the cluster router ovn_cluster_router; give'), other
    pods = run_module('ovn_gateway_router', dict(same, join_subnet='10.128.1.8/29'))
    assert pods['failed'] and 'overlaps the cluster subnet 10.128.0.0/14' in pods['msg'], pods
    assert nbctl(nb_db, 'show') == before
    # Node2's own subnet given again is no overlap with itself.
    assert run_module('ovn_gateway_router', dict(GW, remote=nb_db))['changed'] is False


def test_join_subnets_are_allocated_stably(nb_db):
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    auto = dict(GW, remote=nb_db)
    auto.pop('join_subnet')
    check = run_module('ovn_gateway_router', auto, check_mode=True)
    assert check['changed'] and check['join_subnet'] == '100.64.0.0/29', check
    first = run_module('ovn_gateway_router', auto)
    assert first['join_subnet'] == '100.64.0.0/29' and first['join_ip'] == '100.64.0.2', first
    assert first['diff'] == check['diff']
    assert nbctl(nb_db, 'get', 'Logical_Router_Port', 'rtoj-node2', 'networks') == '["100.64.0.1/29"]'
    # Others get the next free ones; a /30 on request.
    node3 = _other(nb_db, 'node3', 30, rampout_subnets=['10.128.3.0/24'])
    node3.pop('join_subnet')
    assert run_module('ovn_gateway_router', node3)['join_subnet'] == '100.64.0.8/29'
    node4 = dict(_other(nb_db, 'node4', 40, rampout_subnets=['10.128.4.0/24'], join_prefix=30))
    node4.pop('join_subnet')
    assert run_module('ovn_gateway_router', node4)['join_subnet'] == '100.64.0.16/30'
    # Stable: a re-run keeps each one, also when another gateway goes away.
    assert run_module('ovn_gateway_router', dict(remote=nb_db, node='node2', state='absent'))['changed']
    again = run_module('ovn_gateway_router', node3)
    assert again['changed'] is False and again['join_subnet'] == '100.64.0.8/29', again
    # A new gateway takes the lowest free subnet again.
    node5 = _other(nb_db, 'node5', 50, rampout_subnets=['10.128.5.0/24'])
    node5.pop('join_subnet')
    assert run_module('ovn_gateway_router', node5)['join_subnet'] == '100.64.0.0/29'
    # An exhausted range says so.
    node6 = _other(nb_db, 'node6', 60, rampout_subnets=['10.128.6.0/24'], join_range='100.64.0.0/28')
    node6.pop('join_subnet')
    full = run_module('ovn_gateway_router', node6)
    assert full['failed'] and 'the join_range 100.64.0.0/28 has no free /29 left' in full['msg'], full


def test_removed_routes_and_nat_rules_sharing_a_prefix_keep_their_own_diff(nb_db):
    nbctl(nb_db, 'lr-add', 'ovn_cluster_router')
    assert run_module('ovn_gateway_router', dict(GW, remote=nb_db))['changed']
    # Two stale ECMP routes of one prefix, and two stale SNAT rules of one logical network.
    nbctl(nb_db, '--ecmp', 'lr-route-add', 'GR_node2', '10.200.0.0/16', '172.16.0.5')
    nbctl(nb_db, '--ecmp', 'lr-route-add', 'GR_node2', '10.200.0.0/16', '172.16.0.6')
    for ip in ('172.16.0.98', '172.16.0.99'):
        nbctl(nb_db, '--', '--id=@n', 'create', 'NAT', 'type=snat', 'external_ip=' + ip,
              'logical_ip=10.201.0.0/16', '--', 'add', 'Logical_Router', 'GR_node2', 'nat', '@n')
    check = run_module('ovn_gateway_router', dict(GW, remote=nb_db), check_mode=True)
    routes = [k for k in check['diff']['before'] if '10.200.0.0/16' in k]
    nats = [k for k in check['diff']['before'] if '10.201.0.0/16' in k]
    assert len(routes) == 2 and len(nats) == 2, check['diff']['before']
    assert sorted(check['diff']['before'][k]['nexthop'] for k in routes) == ['172.16.0.5', '172.16.0.6']
    assert sorted(check['diff']['before'][k]['external_ip'] for k in nats) == ['172.16.0.98', '172.16.0.99']
    real = run_module('ovn_gateway_router', dict(GW, remote=nb_db))
    assert real['diff'] == check['diff']
    assert '10.200.0.0/16' not in nbctl(nb_db, 'lr-route-list', 'GR_node2')
    assert '10.201.0.0/16' not in nbctl(nb_db, 'lr-nat-list', 'GR_node2')


def _nb():
    """The collection's _nb (module_utils), importable from the checkout."""
    if collection_root() not in sys.path:
        sys.path.insert(0, collection_root())
    from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _nb as nb
    return nb


def _host_range():
    with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
        return tuple(int(word) for word in f.read().split())


def test_snat_port_range_stays_out_of_the_hosts_ephemeral_ports(northd):
    """A shared-IP gateway's SNAT picks ports the host's own connections never use (issue 21)."""
    nb, sb = northd
    nbctl(nb, 'lr-add', 'ovn_cluster_router')
    first, last = _host_range()
    wanted = _nb().snat_port_range('auto', (first, last), 'test')
    lo, hi = (int(p) for p in wanted.split('-'))
    assert hi < first or lo > last, (wanted, first, last)
    args = dict(GW, remote=nb, snat_port_range='auto')
    check = run_module('ovn_gateway_router', args, check_mode=True)
    real = run_module('ovn_gateway_router', args)
    assert real['changed'] and real['diff'] == check['diff'] and real['snat_port_range'] == wanted
    assert run_module('ovn_gateway_router', args)['changed'] is False
    nat = nbctl(nb, '--bare', '--columns=external_port_range', 'find', 'NAT', 'type=snat')
    assert nat == wanted
    # ovn-northd puts the range into the SNAT's logical flow.
    snat = [line for line in sb_flows(sb, 'GR_node2', [wanted]).splitlines() if 'ct_snat(' in line]
    assert snat and all(wanted in line for line in snat), snat
    # Given explicitly: kept when outside the host's ports, refused (and nothing written) when not.
    outside = '%d-%d' % (last + 1, 65535) if last < 65000 else '1024-%d' % (first - 1)
    assert run_module('ovn_gateway_router', dict(args, snat_port_range=outside))['changed']
    assert nbctl(nb, '--bare', '--columns=external_port_range', 'find', 'NAT', 'type=snat') == outside
    overlapping = '%d-%d' % (first, first + 10)
    bad = run_module('ovn_gateway_router', dict(args, snat_port_range=overlapping))
    assert bad['failed'] and bad['msg'] == (
        "gateway router GR_node2: snat_port_range %s overlaps the host's ephemeral ports %d-%d "
        "(net.ipv4.ip_local_port_range): the gateway router would pick ports of the host's own connections; "
        "give a range outside them or auto" % (overlapping, first, last)), bad['msg']
    assert nbctl(nb, '--bare', '--columns=external_port_range', 'find', 'NAT', 'type=snat') == outside
    # Back to none (a gateway router with an address of its own).
    assert run_module('ovn_gateway_router', dict(args, snat_port_range=''))['changed']
    assert nbctl(nb, '--bare', '--columns=external_port_range', 'find', 'NAT', 'type=snat') == ''


@pytest.mark.parametrize('value, host, message', [
    ('30000', (32768, 60999), "snat_port_range '30000' is not auto nor a port range LO-HI within 1-65535"),
    ('2000-1000', (32768, 60999), "snat_port_range '2000-1000' is not auto nor a port range"),
    ('1-70000', (32768, 60999), "snat_port_range '1-70000' is not auto nor a port range"),
    ('60000-61000', (32768, 60999), "snat_port_range 60000-61000 overlaps the host's ephemeral ports 32768-60999"),
    ('auto', (1024, 65000), "the host's ephemeral ports 1024-65000 leave fewer than 1024 ports"),
    ('auto', None, "needs the host's ephemeral port range"),
])
def test_snat_port_range_refuses(value, host, message):
    nb = _nb()
    with pytest.raises(nb.InvalidInput) as err:
        nb.snat_port_range(value, host, 'gateway router GR_x')
    assert message in str(err.value)


@pytest.mark.parametrize('value, host, wanted', [
    ('auto', (32768, 60999), '1024-32767'),
    ('auto', (1024, 30000), '30001-65535'),
    ('', (32768, 60999), ''),
    (' 61000-65535 ', (32768, 60999), '61000-65535'),
])
def test_snat_port_range_picks(value, host, wanted):
    assert _nb().snat_port_range(value, host, 'gateway router GR_x') == wanted
