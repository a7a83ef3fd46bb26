# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovn_cluster_member: a member leaves a real RAFT cluster (ovsdb-server, Debian's Northbound
schema, on loopback: tests/lib/ovsdb_cluster.py), with check mode, idempotence and the refusals."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import signal
import subprocess

from conftest import NB_SCHEMA, nbctl, run_module
from local_ports import free_port  # tests/lib
from ovsdb_cluster import OvsdbCluster, schema_name


def servers_seen_by(cluster, member):
    return sorted(line.split()[0] for line in cluster.status(member)['text'].split('Servers:')[1].splitlines()
                  if line.strip())


def leave(member, check_mode=False):
    return run_module('ovn_cluster_member', dict(database='nb', state='absent', ctl=member.ctl, timeout=30),
                      check_mode=check_mode)


def test_a_follower_leaves_check_mode_first_then_for_real_then_nothing(cluster):
    leader = cluster.wait_leader()
    follower = [m for m in cluster.members if m is not leader][0]
    own_id = cluster.status(follower)['Server ID'].split()[0]
    assert len(servers_seen_by(cluster, leader)) == 3

    res = leave(follower, check_mode=True)
    assert not res.get('failed') and res['changed'], res
    assert res['diff']['before'] == {'OVN_Northbound cluster member': own_id}
    assert cluster.status(follower)['Status'] == 'cluster member'   # check mode changed nothing
    assert len(servers_seen_by(cluster, leader)) == 3

    res = leave(follower)
    assert not res.get('failed') and res['changed'], res
    assert res['cluster']['server_id'] == own_id and res['cluster']['status'] == 'cluster member'
    assert own_id not in servers_seen_by(cluster, leader)
    assert len(servers_seen_by(cluster, leader)) == 2

    again = leave(follower)
    assert not again.get('failed') and not again['changed'], again

    # The two left go on: a change through them is committed.
    rest = ','.join(m.remote for m in cluster.members if m is not follower)
    res = run_module('ovn_logical_switch', dict(remote=rest, name='after-leave'))
    assert not res.get('failed') and res['changed'], res
    assert 'after-leave' in nbctl(rest, 'ls-list')


def test_the_leader_leaves_and_the_others_keep_the_data(cluster):
    res = run_module('ovn_logical_switch', dict(remote=cluster.remote, name='before-leave'))
    assert not res.get('failed') and res['changed'], res
    old = cluster.wait_leader()
    res = leave(old)
    assert not res.get('failed') and res['changed'], res
    assert res['cluster']['role'] == 'leader'
    new = cluster.wait_leader(other_than=old)
    assert len(servers_seen_by(cluster, new)) == 2
    rest = ','.join(m.remote for m in cluster.members if m is not old)
    assert 'before-leave' in nbctl(rest, 'ls-list')


def test_membership_is_waited_for_and_its_absence_named(cluster):
    member = cluster.members[1]
    res = run_module('ovn_cluster_member', dict(database='nb', ctl=member.ctl, timeout=10))
    assert not res.get('failed') and not res['changed'], res
    assert res['cluster']['status'] == 'cluster member' and len(res['cluster']['servers']) == 3
    assert leave(member)['changed']
    res = run_module('ovn_cluster_member', dict(database='nb', ctl=member.ctl, timeout=1))
    assert res.get('failed') and 'OVN_Northbound' in res['msg'] and 'not in a cluster' in res['msg'], res


def test_refusals_change_nothing_and_name_the_server(tmp_path):
    single = OvsdbCluster(tmp_path / 'one', 1)
    try:
        for check_mode in (True, False):
            res = leave(single.members[0], check_mode=check_mode)
            assert res.get('failed') and 'only member' in res['msg'] and 'OVN_Northbound' in res['msg'], res
        assert single.status(single.members[0])['Status'] == 'cluster member'
    finally:
        single.stop()
    res = run_module('ovn_cluster_member', dict(database='nb', state='absent', ctl=str(tmp_path / 'nothing.ctl')))
    assert res.get('failed') and 'no control socket' in res['msg'] and 'nothing.ctl' in res['msg'], res


def test_a_member_still_joining_is_named_not_taken_out(tmp_path):
    """A server whose cluster never answers stays 'joining cluster': it cannot leave yet, and
    waiting for its membership ends with its state named."""
    db, ctl, pidfile = str(tmp_path / 'db'), str(tmp_path / 'db.ctl'), str(tmp_path / 'pid')
    lonely = 'tcp:127.0.0.1:%d' % free_port()
    nobody = 'tcp:127.0.0.1:%d' % free_port()       # no server there: the join never completes
    subprocess.check_call(['ovsdb-tool', 'join-cluster', db, schema_name(NB_SCHEMA), lonely, nobody])
    subprocess.check_call(['ovsdb-server', '--detach', '--no-chdir', '--pidfile=' + pidfile, '--unixctl=' + ctl,
                           '--log-file=' + str(tmp_path / 'log'), db])
    try:
        for check_mode in (True, False):
            res = run_module('ovn_cluster_member', dict(database='nb', state='absent', ctl=ctl), check_mode=check_mode)
            assert res.get('failed') and 'joining cluster' in res['msg'] and 'not a cluster member yet' in res['msg'], res
        res = run_module('ovn_cluster_member', dict(database='nb', ctl=ctl, timeout=1))
        assert res.get('failed') and 'joining cluster' in res['msg'] and 'after 1s' in res['msg'], res
    finally:
        with open(pidfile) as f:
            os.kill(int(f.read()), signal.SIGTERM)
