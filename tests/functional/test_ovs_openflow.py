# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_openflow against a real userspace ovs-vswitchd: flows are read with ovs-ofctl, compared in
ovs-ofctl's spelling, and only what differs is replaced; other owners' flows are never touched."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import subprocess
import time

import pytest

from conftest import converge_module, run_module, vsctl

COOKIE = '0x6b38'


def ofctl(rundir, *args):
    return subprocess.check_output(['ovs-ofctl'] + list(args), universal_newlines=True,
                                   env=dict(os.environ, OVS_RUNDIR=rundir))


def flows(rundir, bridge='br0'):
    """The bridge's flows as (cookie, rest) pairs, without statistics, sorted."""
    return sorted(line.strip() for line in ofctl(rundir, '--no-stats', '--no-names', 'dump-flows', bridge).splitlines())


@pytest.fixture
def bridge(vswitchd, tmp_path):
    """br0 (userspace) with the internal ports p1 (port 5) and p2 (port 6); yields the module's
    base arguments and the run directory."""
    remote, rundir = vswitchd['remote'], str(tmp_path)
    vsctl(remote, 'add-br', 'br0', '--', 'set', 'Bridge', 'br0', 'datapath_type=netdev',
          '--', 'add-port', 'br0', 'p1', '--', 'set', 'Interface', 'p1', 'type=internal', 'ofport_request=5',
          '--', 'add-port', 'br0', 'p2', '--', 'set', 'Interface', 'p2', 'type=internal', 'ofport_request=6')
    deadline = time.time() + 20
    while time.time() < deadline:  # ovs-vswitchd takes the bridge and its ports in
        if os.path.exists(os.path.join(rundir, 'br0.mgmt')) and \
                subprocess.run(['ovs-ofctl', 'dump-ports-desc', 'br0'], env=dict(os.environ, OVS_RUNDIR=rundir),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               universal_newlines=True, check=False).stdout.count('(p') == 2:
            break
        time.sleep(0.05)
    yield dict(args=dict(bridge='br0', cookie=COOKIE, rundir=rundir), rundir=rundir, host=vswitchd['host'])


FLOWS = [
    'priority=100,in_port=p1,ip,actions=ct(commit,zone=64000),output:p2',
    'priority=50,in_port=p2,ip,actions=ct(zone=64000,table=1)',
    'table=1,priority=100,ct_state=+trk+est,ip,actions=output:p1',
    'table=1,priority=0,actions=NORMAL',
]


def test_converge_compare_and_replace_only_what_differs(bridge):
    rundir, args = bridge['rundir'], dict(bridge['args'], flows=FLOWS)
    default = flows(rundir)
    assert default == ['priority=0 actions=NORMAL']
    # Someone else's flow, with a cookie of its own: never touched.
    ofctl(rundir, 'add-flow', 'br0', 'cookie=0x5,priority=10,arp,actions=NORMAL')
    foreign = flows(rundir)

    check, real, repeat = converge_module('ovs_openflow', args, untouched=lambda: flows(rundir) == foreign)
    after = real['diff']['after']['Flows br0 cookie 0x6b38']
    assert real['diff']['before'] == {'Flows br0 cookie 0x6b38': []}
    assert after == sorted(real['flows']) and len(after) == 4
    # In ovs-ofctl's spelling: ports as numbers, ct() arguments in its order.
    assert 'priority=100,ip,in_port=5 cookie=0x6b38 actions=ct(commit,zone=64000),output:6' in after, after
    assert 'priority=50,ip,in_port=6 cookie=0x6b38 actions=ct(table=1,zone=64000)' in after, after
    dumped = flows(rundir)
    assert 'priority=0 actions=NORMAL' in dumped and 'cookie=0x5, priority=10,arp actions=NORMAL' in dumped
    assert len(dumped) == 6, dumped
    assert repeat['commands'] == []

    # The same flows spelled otherwise: fields reordered, ports by number, LOCAL-style output.
    respelled = ['ip,priority=100,in_port=5,actions=ct(zone=64000,commit),6',
                 'in_port=p2,ip,priority=50,actions=ct(table=1,zone=64000)',
                 'ct_state=+est+trk,ip,priority=100,table=1,actions=output:5',
                 'priority=0,table=1,actions=normal']
    same = run_module('ovs_openflow', dict(args, flows=respelled))
    assert same['changed'] is False and same['commands'] == [], same

    # One flow's actions changed, one flow dropped, one new: exactly three commands; the two
    # others are not replaced (their age shows it: a delete and re-add would make them new).
    time.sleep(1.1)
    changed = [FLOWS[0].replace('output:p2', 'output:p1'), FLOWS[2], FLOWS[3],
               'priority=40,in_port=p2,arp,actions=NORMAL']
    check = run_module('ovs_openflow', dict(args, flows=changed), check_mode=True)
    assert check['changed'] and flows(rundir) == dumped
    assert sorted(c.split(' ', 1)[0] for c in check['commands']) == ['add', 'add', 'delete_strict'], check
    real = run_module('ovs_openflow', dict(args, flows=changed))
    assert real['diff'] == check['diff'] and real['commands'] == check['commands']
    ages = {}
    for line in ofctl(rundir, '--no-names', 'dump-flows', 'br0', 'cookie=%s/-1' % COOKIE).splitlines()[1:]:
        table = re.search(r'table=(\d+)', line).group(1)
        match = re.search(r'priority=(\S+) actions=', line).group(1)
        ages[(table, match)] = float(re.search(r'duration=([0-9.]+)s', line).group(1))
    kept = [ages.pop(('1', '0')), ages.pop(('1', '100,ct_state=+est+trk,ip'))]
    fresh = [ages.pop(('0', '100,ip,in_port=5')), ages.pop(('0', '40,arp,in_port=6'))]
    assert not ages and min(kept) > max(fresh), (kept, fresh, ages)
    assert run_module('ovs_openflow', dict(args, flows=changed))['changed'] is False

    # state=absent takes exactly this cookie's flows away.
    gone = run_module('ovs_openflow', dict(args, state='absent'))
    assert gone['changed'] and gone['diff']['after'] == {'Flows br0 cookie 0x6b38': []}
    assert flows(rundir) == foreign
    assert run_module('ovs_openflow', dict(args, state='absent'))['changed'] is False


def test_flows_come_back_after_vswitchd_loses_them(bridge):
    rundir, args = bridge['rundir'], dict(bridge['args'], flows=FLOWS)
    assert run_module('ovs_openflow', args)['changed']
    ofctl(rundir, 'del-flows', 'br0')  # what a restart of ovs-vswitchd does to them
    again = run_module('ovs_openflow', args)
    assert again['changed'] and len(again['commands']) == 4
    assert len([f for f in flows(rundir) if 'cookie=0x6b38' in f]) == 4


@pytest.mark.parametrize('change,message', [
    (dict(cookie='0'), 'cookie \'0\' is out of range'),
    (dict(cookie='cafe'), "cookie 'cafe' is not a number"),
    (dict(flows=['cookie=0x1,priority=1,actions=drop']), 'sets cookie, which the module does not allow'),
    (dict(flows=['priority=1,idle_timeout=5,actions=drop']), 'sets idle_timeout'),
    (dict(flows=['priority=1,ip']), 'has no actions='),
    (dict(flows=['delete priority=1,actions=drop']), "starts with the command 'delete'"),
    (dict(flows=['priority=1,actions=drop\ndelete']), 'spans several lines'),
    (dict(flows=['priority=1,actions=bogus']), 'unknown action bogus'),
    (dict(flows=['priority=1,in_port=nope,actions=drop']), 'names the port nope, which the bridge does not have'),
    (dict(flows=['priority=1,in_port=patch-lnet-node2-to-br-int,actions=drop']), 'give its number'),
    (dict(flows=['priority=1,ip,actions=drop', 'ip,priority=1,actions=NORMAL']), 'same table, priority and match'),
    (dict(flows=['priority=10,arp,actions=drop']), 'would replace a flow of cookie 0x5'),
    (dict(bridge='tcp:127.0.0.1:1'), 'not a bridge name'),
    (dict(bridge='nobr'), 'nobr is not a bridge or a socket'),
])
def test_bad_input_is_refused_and_changes_nothing(bridge, change, message):
    rundir = bridge['rundir']
    ofctl(rundir, 'add-flow', 'br0', 'cookie=0x5,priority=10,arp,actions=NORMAL')
    assert run_module('ovs_openflow', dict(bridge['args'], flows=FLOWS[:2]))['changed']
    before = flows(rundir)
    bad = run_module('ovs_openflow', dict(dict(bridge['args'], flows=FLOWS[2:]), **change))
    assert bad.get('failed') and message in bad['msg'], bad
    assert flows(rundir) == before
