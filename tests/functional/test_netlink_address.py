# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netlink_address on real network devices in a network namespace made for the test."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess

from conftest import converge_module, ip_json, run_module


def addresses(ns, dev='eth0'):
    return sorted('%s/%s' % (a['local'], a['prefixlen']) for link in ip_json(ns, 'addr', 'show', 'dev', dev)
                  for a in link['addr_info'] if a.get('scope') == 'global')


def routes(ns, *args):
    return [(r['dst'], r.get('gateway'), r['dev'], r.get('metric', 0)) for r in ip_json(ns, *args)
            if r.get('protocol') != 'kernel']


def test_management_port_address_and_route(host_and_peer):
    ns = host_and_peer.host
    args = dict(device='eth0', addresses=['10.128.1.2/24', 'fd00:10:128:1::2/64'],
                routes=[{'dst': '10.128.0.0/14', 'via': '10.128.1.1'},
                        {'dst': '10.200.0.0/16', 'metric': 20},
                        {'dst': 'fd00:10:128::/48', 'via': 'fd00:10:128:1::1'}])
    v4_before, v6_before = routes(ns, 'route'), routes(ns, '-6', 'route')

    def untouched():
        assert addresses(ns) == ['192.168.77.2/24', 'fd00:77::2/64']
        assert routes(ns, 'route') == v4_before and routes(ns, '-6', 'route') == v6_before

    check, real, dummy = converge_module('netlink_address', args, untouched, netns=ns)
    assert check['diff'] == {'before': {'Link eth0': {'addresses': ['192.168.77.2/24', 'fd00:77::2/64'], 'routes': []}},
                             'after': {'Link eth0': {
                                 'addresses': ['10.128.1.2/24', '192.168.77.2/24', 'fd00:10:128:1::2/64', 'fd00:77::2/64'],
                                 'routes': [{'dst': '10.128.0.0/14', 'via': '10.128.1.1', 'dev': 'eth0', 'metric': 0},
                                            {'dst': '10.200.0.0/16', 'via': None, 'dev': 'eth0', 'metric': 20},
                                            {'dst': 'fd00:10:128::/48', 'via': 'fd00:10:128:1::1', 'dev': 'eth0', 'metric': 1024}]}}}
    assert real['addresses'] == check['diff']['after']['Link eth0']['addresses']
    assert addresses(ns) == ['10.128.1.2/24', '192.168.77.2/24', 'fd00:10:128:1::2/64', 'fd00:77::2/64']
    v4 = routes(ns, 'route')
    assert ('10.128.0.0/14', '10.128.1.1', 'eth0', 0) in v4 and ('10.200.0.0/16', None, 'eth0', 20) in v4
    assert ('fd00:10:128::/48', 'fd00:10:128:1::1', 'eth0', 1024) in routes(ns, '-6', 'route')

    # A route with the same destination and metric through another gateway is replaced, not added.
    moved = dict(device='eth0', routes=[{'dst': '10.128.0.0/14', 'via': '192.168.77.1'}])
    check = run_module('netlink_address', moved, check_mode=True, netns=ns)
    assert check['changed'] and check['diff']['before']['Link eth0']['routes'] == [
        {'dst': '10.128.0.0/14', 'via': '10.128.1.1', 'dev': 'eth0', 'metric': 0}]
    assert run_module('netlink_address', moved, netns=ns)['changed']
    assert [r for r in routes(ns, 'route') if r[0] == '10.128.0.0/14'] == [('10.128.0.0/14', '192.168.77.1', 'eth0', 0)]

    # purge keeps only the given addresses (never link-local ones).
    purge = dict(device='eth0', addresses=['192.168.77.2/24'], purge=True)
    check = run_module('netlink_address', purge, check_mode=True, netns=ns)
    assert check['changed'] and len(addresses(ns)) == 4
    assert run_module('netlink_address', purge, netns=ns)['diff'] == check['diff']
    assert addresses(ns) == ['192.168.77.2/24']
    assert any(a['scope'] == 'link' for link in ip_json(ns, 'addr', 'show', 'dev', 'eth0') for a in link['addr_info'])

    # absent removes what is named; again is no change.
    gone = dict(device='eth0', routes=[{'dst': '10.200.0.0/16', 'metric': 20}, {'dst': '10.128.0.0/14'}], state='absent')
    check = run_module('netlink_address', gone, check_mode=True, netns=ns)
    assert check['changed'] and check['diff']['after']['Link eth0']['routes'] == []
    assert run_module('netlink_address', gone, netns=ns)['changed']
    assert not [r for r in routes(ns, 'route') if r[0] in ('10.200.0.0/16', '10.128.0.0/14')]
    assert run_module('netlink_address', gone, netns=ns)['changed'] is False


def test_link_up(host_and_peer):
    ns = host_and_peer.host
    subprocess.check_call(['ip', '-n', ns, 'link', 'set', 'eth0', 'down'])
    check = converge_module('netlink_address', dict(device='eth0'),
                            lambda: 'UP' not in ip_json(ns, 'link', 'show', 'eth0')[0]['flags'], netns=ns)[0]
    assert check['diff'] == {'before': {'Link eth0': {'up': False}}, 'after': {'Link eth0': {'up': True}}}
    assert 'UP' in ip_json(ns, 'link', 'show', 'eth0')[0]['flags']


def test_bad_input(host_and_peer):
    ns = host_and_peer.host
    before = (addresses(ns), routes(ns, 'route'), routes(ns, '-6', 'route'))
    for args, msg in [
        (dict(device='nope0', addresses=['10.0.0.1/24']), 'network device nope0 does not exist'),
        (dict(device='eth0', addresses=['10.0.0.1']), "network device eth0 address: '10.0.0.1' has no prefix length"),
        (dict(device='eth0', addresses=['10.0.0.300/24']), "network device eth0 address: '10.0.0.300/24' is not a CIDR such as 10.128.1.2/24"),
        (dict(device='eth0', routes=[{'dst': '10.1.0.1/16'}]), "network device eth0 route: dst '10.1.0.1/16' is not a network"),
        (dict(device='eth0', routes=[{'dst': 'default'}]), 'network device eth0 route: a default route needs via'),
        (dict(device='eth0', routes=[{'dst': '10.1.0.0/16', 'via': 'fd00::1'}]), 'are of different IP versions'),
        (dict(device='eth0', routes=[{'dst': '10.1.0.0/16', 'dev': 'nope0'}]),
         'network device eth0: route 10.1.0.0/16 names network device nope0, which does not exist'),
        # Everything is checked before anything changes: the good address is not added either.
        (dict(device='eth0', addresses=['10.0.0.1/24'], routes=[{'dst': 'x'}]), "dst 'x' is not a network"),
    ]:
        bad = run_module('netlink_address', args, netns=ns)
        assert bad['failed'] and msg in bad['msg'], bad
        assert (addresses(ns), routes(ns, 'route'), routes(ns, '-6', 'route')) == before


def test_system_python(host_and_peer, system_python):
    """Debian 12's pyroute2 0.7."""
    args = dict(device='eth0', addresses=['10.128.1.2/24'], routes=[{'dst': '10.128.0.0/14', 'via': '10.128.1.1'}])
    converge_module('netlink_address', args, netns=host_and_peer.host, **system_python)


def test_failure_mid_way_says_how_far_it_got(host_and_peer):
    """The kernel refuses the second step: the message names it and the half-done state."""
    ns = host_and_peer.host
    args = dict(device='eth0', addresses=['10.128.1.2/24'],
                routes=[{'dst': '10.77.0.0/16', 'via': '10.250.0.1'}])  # gateway not on any link
    res = run_module('netlink_address', args, netns=ns)
    assert res['failed'], res
    assert 'network is unreachable' in res['msg'], res['msg']
    assert 'stopped after 1 of 2 kernel steps, so the host is half configured' in res['msg'], res['msg']
    assert '10.128.1.2/24' in addresses(ns)
