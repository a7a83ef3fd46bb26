# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ovn_central role's cluster options, run by Debian's own ovn-ctl as its systemd units do.

The role's template (roles/ovn_central/templates/ovn-central.default.j2) is rendered by Ansible for
three members on 127.0.0.1, .2 and .3, with RAFT over SSL and one CA (ovs-pki). Each member is
started with ``ovn-ctl run_nb_ovsdb/run_sb_ovsdb $OVN_CTL_OPTS`` (the ExecStart of Debian's
ovn-ovsdb-server-nb/-sb units) in its own run and database directories, and ovn-northd with
``ovn-ctl start_northd --ovn-manage-ovsdb=no $OVN_CTL_OPTS``. The bootstrap member starts on a
standalone database that already holds a switch: the cluster keeps it. Nothing is mocked; only
the molecule lab (containers) runs the whole role.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import NB_SCHEMA, REPO, nbctl, run_module
from local_ports import free_port  # tests/lib
from ovs_pki import make_pki  # tests/lib
from processes import alive  # tests/lib

OVN_CTL = '/usr/share/ovn/scripts/ovn-ctl'
pytestmark = pytest.mark.skipif(not os.path.exists(OVN_CTL), reason='no ovn-ctl (Debian package ovn-central)')


def render(dest, variables):
    """Render the role's template with Ansible itself (ansible_managed, its filters)."""
    varfile = dest + '.json'
    with open(varfile, 'w') as f:
        json.dump(variables, f)
    subprocess.run(['ansible', 'localhost', '-c', 'local', '-m', 'ansible.builtin.template', '-a',
                    'src=%s dest=%s' % (os.path.join(REPO, 'roles/ovn_central/templates/ovn-central.default.j2'), dest),
                    '-e', '@' + varfile], check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false'))
    with open(dest) as f:
        for line in f:
            if line.startswith('OVN_CTL_OPTS='):
                return line.split('=', 1)[1].strip().strip('"').split()
    raise AssertionError('no OVN_CTL_OPTS in %s' % dest)


class CtlMember:
    def __init__(self, base, index, opts):
        self.index, self.opts = index, opts
        self.dir = os.path.join(base, 'c%d' % index)
        self.env = dict(os.environ)
        for name in ('run', 'db', 'log'):
            os.makedirs(os.path.join(self.dir, name), exist_ok=True)
        self.env.update(OVN_RUNDIR=os.path.join(self.dir, 'run'), OVN_DBDIR=os.path.join(self.dir, 'db'),
                        OVN_LOGDIR=os.path.join(self.dir, 'log'))
        self.procs = {}

    def path(self, name):
        return os.path.join(self.dir, 'run', name)

    def run_db(self, db):
        """What systemd does for ovn-ovsdb-server-<db>.service (Type=simple: ovn-ctl in the foreground)."""
        self.procs[db] = subprocess.Popen([OVN_CTL, 'run_%s_ovsdb' % db] + self.opts, env=self.env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_northd(self):
        subprocess.run([OVN_CTL, 'start_northd', '--ovn-manage-ovsdb=no', '--no-monitor'] + self.opts,
                       env=self.env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def status(self, db):
        ctl, name = ('ovnnb_db.ctl', 'OVN_Northbound') if db == 'nb' else ('ovnsb_db.ctl', 'OVN_Southbound')
        proc = subprocess.run(['ovn-appctl', '-t', self.path(ctl), 'cluster/status', name], check=False,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=10)
        return proc.stdout if proc.returncode == 0 else ''

    def pid(self, name):
        try:
            with open(self.path(name)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        for name in ('ovn-northd.pid', 'ovnnb_db.pid', 'ovnsb_db.pid'):
            pid = self.pid(name)
            if pid:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait(what, check, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError('timed out waiting for ' + what)


@pytest.fixture
def ctl_cluster(tmp_path):
    base = str(tmp_path)
    pki = os.path.join(base, 'pki')
    make_pki(base, ['member%d' % i for i in range(3)])
    addresses = ['127.0.0.%d' % (i + 1) for i in range(3)]
    nb_port, sb_port = free_port(), free_port()
    members = []
    for i, address in enumerate(addresses):
        socks = [os.path.join(base, 'c%d' % j, 'run', '%s.sock') for j in range(3)]
        variables = {
            'ovn_central_cluster_members': ['c0', 'c1', 'c2'], '_ovn_central_proto': 'ssl',
            '_ovn_central_member_address': address, '_ovn_central_addresses': addresses,
            'ovn_central_nb_cluster_port': nb_port, 'ovn_central_sb_cluster_port': sb_port,
            '_ovn_central_bootstrap': i == 0, 'ovn_central_ssl': True, '_ovn_central_ssl': True,
            '_ovn_central_ssl_files': ['%s/member%d-privkey.pem' % (base, i), '%s/member%d-cert.pem' % (base, i),
                                       '%s/switchca/cacert.pem' % pki],
            # The role gives northd the members' ssl: listeners; here their unix sockets, so that
            # nothing listens beyond the cluster ports on loopback.
            'ovn_central_nb_remote': ','.join('unix:' + s % 'ovnnb_db' for s in socks),
            '_ovn_central_northd_sb_remote': ','.join('unix:' + s % 'ovnsb_db' for s in socks),
        }
        members.append(CtlMember(base, i, render(os.path.join(base, 'ovn-central.%d' % i), variables)))
    yield members
    for m in members:
        m.stop()


def standalone_with_a_switch(member):
    """The bootstrap member's existing standalone Northbound database, holding one switch."""
    db = os.path.join(member.dir, 'db', 'ovnnb_db.db')
    subprocess.check_call(['ovsdb-tool', 'create', db, NB_SCHEMA])
    sock = os.path.join(member.dir, 'standalone.sock')
    pidfile = os.path.join(member.dir, 'standalone.pid')
    subprocess.check_call(['ovsdb-server', '--detach', '--no-chdir', '--pidfile=' + pidfile, '--remote=punix:' + sock,
                           '--unixctl=' + os.path.join(member.dir, 'standalone.ctl'), db])
    nbctl('unix:' + sock, 'init')
    nbctl('unix:' + sock, 'ls-add', 'kept-from-standalone')
    with open(pidfile) as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGTERM)
    wait('the standalone server to stop', lambda: not alive(pid), 10)


def test_role_options_bootstrap_join_convert_and_fail_over(ctl_cluster):
    first, others = ctl_cluster[0], ctl_cluster[1:]
    standalone_with_a_switch(first)
    for db in ('nb', 'sb'):
        first.run_db(db)
    for db in ('nb', 'sb'):
        wait('the bootstrap member to lead %s' % db, lambda db=db: 'Role: leader' in first.status(db))
    for m in others:
        for db in ('nb', 'sb'):
            m.run_db(db)
    for m in ctl_cluster:
        for db in ('nb', 'sb'):
            wait('member %d to join %s' % (m.index, db),
                 lambda m=m, db=db: 'Status: cluster member' in m.status(db) and 'Role: ' in m.status(db))
    status = first.status('nb')
    # Three servers over SSL.
    assert status.count('ssl:127.0.0.') >= 3, status
    members = ','.join('unix:' + m.path('ovnnb_db.sock') for m in ctl_cluster)
    # The standalone database's contents became the cluster's.
    assert nbctl(members, 'ls-list').count('kept-from-standalone') == 1

    # ovn-northd on every member; one holds the lock.
    for m in ctl_cluster:
        m.start_northd()

    def northd_states():
        states = []
        for m in ctl_cluster:
            out = subprocess.run(['ovn-appctl', '-t', m.path('ovn-northd.%d.ctl' % m.pid('ovn-northd.pid')), 'status'],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True,
                                 check=False).stdout
            states.append(out.strip())
        return sorted(states) if sorted(states) == ['Status: active', 'Status: standby', 'Status: standby'] else None
    wait('one active ovn-northd', northd_states)

    # Kill -9 the Northbound leader: a module run given every member goes on.
    leader = [m for m in ctl_cluster if 'Role: leader' in m.status('nb')][0]
    os.kill(leader.pid('ovnnb_db.pid'), signal.SIGKILL)
    leader.procs['nb'].wait(10)
    # A generous timeout: the election takes its time on a loaded machine (speed is not the point).
    res = run_module('ovn_logical_switch', dict(remote=members, name='after-failover', timeout=30))
    assert not res.get('failed') and res['changed'], res
    # The killed member starts again as systemd would and catches up.
    leader.run_db('nb')
    wait('the killed member to rejoin', lambda: 'Status: cluster member' in leader.status('nb')
         and 'Role: follower' in leader.status('nb'))
    own = ['ovn-nbctl', '--db=unix:' + leader.path('ovnnb_db.sock'), '--no-leader-only', 'ls-list']
    wait('the killed member to hold the new switch',
         lambda: 'after-failover' in subprocess.run(own, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                                    universal_newlines=True, check=False).stdout)
