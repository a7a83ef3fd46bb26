# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""A clustered (RAFT) OVSDB server's own view of its membership, through its control socket.

RAFT membership is not in the database: ``ovs-appctl -t CTL cluster/status DB`` and
``cluster/leave DB`` are the server's interface to it (ovsdbapp has none), so this talks to the
server's unixctl socket with ``ovs-appctl``. ``run`` is a function like
``AnsibleModule.run_command``: ``run(argv) -> (rc, stdout, stderr)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

DATABASES = {
    'nb': dict(name='OVN_Northbound', ctl='/var/run/ovn/ovnnb_db.ctl'),
    'sb': dict(name='OVN_Southbound', ctl='/var/run/ovn/ovnsb_db.ctl'),
}

_FIELD = re.compile(r'^([A-Za-z][A-Za-z ]*):\s*(.*)$')
_SERVER = re.compile(r'^\s+([0-9a-f]{4}) \(([0-9a-f]{4}) at ([^)]+)\)(.*)$')


class RaftError(Exception):
    """The server cannot be asked, or did not do what was asked; the text says which server."""


def parse_status(text):
    """``cluster/status`` output -> dict: ``server_id``, ``cluster_id``, ``address``, ``status``,
    ``role``, ``leader``, ``term`` and ``servers`` ([{id, address, self}])."""
    fields, servers = {}, []
    for line in text.splitlines():
        server = _SERVER.match(line)
        if server:
            servers.append(dict(id=server.group(1), address=server.group(3), self='(self)' in server.group(4)))
            continue
        m = _FIELD.match(line)
        if m:
            fields.setdefault(m.group(1).strip(), m.group(2).strip())
    return dict(server_id=fields.get('Server ID', '').split(' ')[0] or None,
                cluster_id=fields.get('Cluster ID', '').split(' ')[0] or None,
                address=fields.get('Address'), status=fields.get('Status'), role=fields.get('Role'),
                leader=fields.get('Leader'), term=fields.get('Term'), servers=servers)


def status(run, ctl, db_name):
    """The server's view of its membership of ``db_name``, or None when it serves no cluster of
    that name (it left, or the database is not clustered there). Raises RaftError when the
    server cannot be asked (no control socket: it is not running)."""
    if not os.path.exists(ctl):
        raise RaftError('%s: no control socket %s; is the database server running? (a stopped '
                        'member cannot leave: remove it from another member with cluster/kick)'
                        % (db_name, ctl))
    rc, out, err = run(['ovs-appctl', '-t', ctl, 'cluster/status', db_name])
    if rc == 0:
        return parse_status(out)
    text = (err or out or '').strip()
    if 'unknown cluster' in text or 'unknown database' in text or 'not clustered' in text:
        return None
    raise RaftError('%s: cluster/status through %s failed: %s' % (db_name, ctl, text or 'rc %d' % rc))


def check_can_leave(view, db_name):
    """Raise RaftError when the server of ``view`` (its status) may not leave: it is still
    joining, or it is the last member. (A server already leaving may: the leave is waited for.)"""
    if view.get('status') == 'leaving cluster':
        return
    if view.get('status') != 'cluster member':
        raise RaftError('%s: server %s is %r, not a cluster member yet; it can leave once it has joined'
                        % (db_name, view['server_id'], view.get('status')))
    if len(view['servers']) <= 1:
        raise RaftError('%s: server %s is the only member of its cluster; it cannot leave (stop it, '
                        'or convert the database with ovsdb-tool cluster-to-standalone)'
                        % (db_name, view['server_id']))


def _wait(run, ctl, db_name, timeout, done, sleep, clock):
    """Poll the server's status until ``done(status)`` or ``timeout`` seconds: (done, last status)."""
    deadline = clock() + timeout
    while True:
        now = status(run, ctl, db_name)
        if done(now):
            return True, now
        if clock() >= deadline:
            return False, now
        sleep(0.2)


def wait_member(run, ctl, db_name, timeout, sleep=time.sleep, clock=time.monotonic):
    """The server's status once it is a cluster member; RaftError naming its state when it is
    not one within ``timeout`` seconds."""
    ok, now = _wait(run, ctl, db_name, timeout, lambda st: st is not None and st.get('status') == 'cluster member',
                    sleep, clock)
    if not ok:
        raise RaftError('%s: the server at %s is %s' % (
            db_name, ctl, 'not in a cluster' if now is None
            else '%r, not a cluster member, after %ss' % (now.get('status'), timeout)))
    return now


def leave(run, ctl, db_name, view, timeout, sleep=time.sleep, clock=time.monotonic):
    """Make the server whose status is ``view`` leave the cluster of ``db_name`` and wait until
    it has (the others no longer count it). Refuses to take out the last member."""
    check_can_leave(view, db_name)
    if view.get('status') != 'leaving cluster':
        rc, out, err = run(['ovs-appctl', '-t', ctl, 'cluster/leave', db_name])
        if rc != 0:
            raise RaftError('%s: cluster/leave of server %s failed: %s'
                            % (db_name, view['server_id'], (err or out or '').strip() or 'rc %d' % rc))
    ok, now = _wait(run, ctl, db_name, timeout, lambda st: st is None or st.get('status') == 'left cluster',
                    sleep, clock)
    if not ok:
        raise RaftError('%s: server %s is still %r %ss after cluster/leave (a leave needs the '
                        "votes of a majority of the cluster's members: are enough of them up?)"
                        % (db_name, view['server_id'], now.get('status'), timeout))
