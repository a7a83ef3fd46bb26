# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clients of a clustered Northbound database follow its leader, and a change is never made twice.

A real three-member RAFT cluster of ovsdb-server processes with Debian's Northbound schema runs on
loopback (tests/lib/ovsdb_cluster.py). Its leader is killed with SIGKILL under module runs and
under a long-lived client such as the watcher's. A lost reply is made for real by a relay that
hangs up after the server answered (ReplyCutter).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess
import sys
import threading

import pytest

from conftest import collection_root, nbctl, run_module
from ovsdb_cluster import ReplyCutter


def core():
    if collection_root() not in sys.path:
        sys.path.insert(0, collection_root())
    from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _nb, _ovsdb, _txn
    return _nb, _ovsdb, _txn


def names(remote, table):
    """Every ``name`` of ``table``, duplicates kept (a doubled insert shows as two)."""
    out = nbctl(remote, '--bare', '--columns=name', 'list', table)
    return sorted(line for line in out.splitlines() if line)


def test_cluster_helper_elects_one_leader(cluster):
    leader = cluster.wait_leader()
    roles = sorted(cluster.status(m)['Role'] for m in cluster.members)
    assert roles == ['follower', 'follower', 'leader'], [cluster.status(m)['text'] for m in cluster.members]
    assert leader.pid() is not None


def test_module_runs_follow_the_leader_and_the_killed_member_rejoins(cluster):
    res = run_module('ovn_logical_switch', dict(remote=cluster.remote, name='before-kill'))
    assert not res.get('failed') and res['changed'], res
    old = cluster.wait_leader()
    cluster.kill(old)
    # The next run is given the same list, with the dead member in it.
    res = run_module('ovn_logical_switch', dict(remote=cluster.remote, name='after-kill'))
    assert not res.get('failed') and res['changed'], res
    new = cluster.wait_leader(other_than=old)
    assert new is not old
    again = run_module('ovn_logical_switch', dict(remote=cluster.remote, name='after-kill'))
    assert not again.get('failed') and again['changed'] is False, again
    assert names(cluster.remote, 'Logical_Switch') == ['after-kill', 'before-kill']
    # The killed member starts again on its own files and catches up with what it missed.
    cluster.start(old)
    status = cluster.wait_member(old)
    assert status['Role'] == 'follower', status['text']
    own, seen, error = 'unix:' + old.sock, None, None
    for _attempt in range(100):
        try:
            seen = sorted(nbctl(own, '--no-leader-only', '--bare', '--columns=name', 'list', 'Logical_Switch').split())
        except subprocess.CalledProcessError as e:
            error = e
        if seen == ['after-kill', 'before-kill']:
            break
        threading.Event().wait(0.1)
    assert seen == ['after-kill', 'before-kill'], (seen, error, cluster.log_of(old))


def test_long_lived_client_follows_the_leader_without_doubling(cluster):
    """As the watcher does: one client for many transactions; the leader dies in the middle."""
    _nb, _ovsdb, _txn = core()
    client = _ovsdb.Client(_ovsdb.NB_DB, remote=cluster.remote, timeout=20, tables=_nb.SWITCH_TABLES)
    killed = []
    try:
        for i in range(30):
            if i == 10:
                # Kill the leader from another thread while transactions keep coming.
                leader = cluster.wait_leader()
                killed.append(leader)
                threading.Thread(target=cluster.kill, args=(leader,)).start()

            def plan(cs, c, name='s%02d' % i):
                _nb.ensure_switch(cs, c, name, external_ids={'n': name})
            cs = _txn.plan_and_commit(client, plan)[0]
            assert cs.changed, i
        # The watcher's own path: a change set committed directly; on a lost connection it
        # settles (waits for the new leader's contents) and plans again.
        cs = _txn.ChangeSet(client)
        _nb.ensure_switch(cs, client, 's00', external_ids={'n': 'changed'})
        cs.commit()
        client.settle()
        assert client.find_one('Logical_Switch', 'name', 's00').external_ids == {'n': 'changed'}
    finally:
        client.close()
    assert cluster.wait_leader(other_than=killed[0]) is not killed[0]
    assert names(cluster.remote, 'Logical_Switch') == ['s%02d' % i for i in range(30)]


@pytest.mark.parametrize('kind', ['switch', 'load_balancer'])
def test_lost_reply_is_planned_again_not_applied_twice(nb_db, kind):
    """The server applies a transaction and its reply never arrives: the run reports the change
    once, and the database holds one row. A load balancer has no name index in the schema, so
    only the re-plan keeps it from being inserted twice."""
    cutter = ReplyCutter(nb_db)
    try:
        cutter.armed.set()
        if kind == 'switch':
            args, table = dict(name='lost-reply', external_ids={'k': 'v'}), 'Logical_Switch'
            res = run_module('ovn_logical_switch', dict(args, remote=cutter.remote))
        else:
            args, table = dict(name='lost-reply', vips={'10.96.0.10:80': '10.128.1.5:8080'}), 'Load_Balancer'
            res = run_module('ovn_load_balancer', dict(args, remote=cutter.remote))
        assert cutter.cuts == 1, 'the relay did not cut a reply: the test proved nothing'
        assert not res.get('failed'), res
        assert res['changed'] and res['diff']['before'] == {table + ' lost-reply': None}, res
        assert names(nb_db, table) == ['lost-reply']
        repeat = run_module('ovn_logical_switch' if kind == 'switch' else 'ovn_load_balancer',
                            dict(args, remote=cutter.remote))
        assert not repeat.get('failed') and repeat['changed'] is False, repeat
    finally:
        cutter.close()


def test_lost_reply_of_a_long_lived_client(nb_db):
    """In one process (the watcher's case): the next transaction after a lost reply is planned on
    what the server holds, so a port added to a switch is not added twice."""
    _nb, _ovsdb, _txn = core()
    cutter = ReplyCutter(nb_db)
    client = _ovsdb.Client(_ovsdb.NB_DB, remote=cutter.remote, timeout=10,
                           tables=dict(_nb.LSP_TABLES, **_nb.SWITCH_TABLES))
    try:
        _txn.plan_and_commit(client, lambda cs, c: _nb.ensure_switch(cs, c, 'sw'))
        cutter.armed.set()
        cs = _txn.plan_and_commit(client, lambda cs, c: _nb.ensure_lsp(cs, c, 'sw', 'p1', addresses=['dynamic']))[0]
        assert cutter.cuts == 1
        assert cs.changed and cs.diff['before'] == {'Logical_Switch_Port p1': None}, cs.diff
        client.settle()
        assert [p.name for p in client.find_one('Logical_Switch', 'name', 'sw').ports] == ['p1']
    finally:
        client.close()
        cutter.close()
    assert names(nb_db, 'Logical_Switch_Port') == ['p1']


def test_bad_member_in_the_list_is_named(cluster):
    res = run_module('ovn_logical_switch', dict(remote=cluster.remote + ',127.0.0.1:6641', name='x'))
    assert res.get('failed')
    assert res['msg'] == ('the remote 127.0.0.1:6641 of the OVN Northbound database is not of the form '
                          'tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH'), res
    assert names(cluster.remote, 'Logical_Switch') == []


def test_ovn_nbctl_agrees_with_the_cluster(cluster):
    """The member list works for OVN's own tools too (what the roles hand to ovn-northd and friends)."""
    run_module('ovn_logical_switch', dict(remote=cluster.remote, name='seen'))
    assert subprocess.check_output(['ovn-nbctl', '--db=' + cluster.remote, 'ls-list'],
                                   universal_newlines=True).count('seen') == 1


def test_one_remote_may_be_a_follower(cluster):
    """A single remote (the local unix socket of any member, as the role's own tasks use) is used
    even when it is a follower: it serves reads and forwards the change to the leader."""
    leader = cluster.wait_leader()
    follower = [m for m in cluster.members if m is not leader][0]
    res = run_module('ovn_logical_switch', dict(remote='unix:' + follower.sock, name='via-follower', timeout=10))
    assert not res.get('failed') and res['changed'], res
    assert names('unix:' + leader.sock, 'Logical_Switch') == ['via-follower']
    again = run_module('ovn_logical_switch', dict(remote='unix:' + follower.sock, name='via-follower'))
    assert not again.get('failed') and again['changed'] is False, again


def test_silent_member_does_not_take_all_the_time(cluster):
    """A member whose host accepts but never answers (hung, or half down) is given its share of the
    timeout, and the live members are still tried."""
    import socket
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(8)
    try:
        remote = 'tcp:127.0.0.1:%d,%s' % (srv.getsockname()[1], cluster.remote)
        # Had the silent member been given the whole timeout, the module would fail: no clock
        # is read here (timed assertions are flaky on shared machines).
        res = run_module('ovn_logical_switch', dict(remote=remote, name='past-the-silent-one', timeout=20))
        assert not res.get('failed') and res['changed'], res
    finally:
        srv.close()
    assert names(cluster.remote, 'Logical_Switch') == ['past-the-silent-one']


def test_no_leader_is_a_clear_error_not_a_traceback(cluster):
    """With two of three members killed the last one cannot elect a leader: a module given every
    member fails within its timeout and says so (ovsdbapp's timeout cannot print itself)."""
    for member in cluster.members[1:]:
        cluster.kill(member)
    res = run_module('ovn_logical_switch', dict(remote=cluster.remote, name='no-leader', timeout=3))
    assert res.get('failed'), res
    # The last member may still believe it leads when the module connects (its election timer
    # has not run out): the copy is then fetched and the wait for a leader is what fails.
    msg = res['msg']
    assert (msg.startswith('cannot read the OVN Northbound database at %s: no complete copy' % cluster.remote)
            and 'no leader answered' in msg
            or msg.startswith('cannot reach the leader of the OVN Northbound database at %s within 3 seconds'
                              % cluster.remote)), msg
    assert 'Traceback' not in msg and 'exception' not in res, res
