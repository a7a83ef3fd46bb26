# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Switching a running central from TCP to TLS in place (ovn_central_transport tcp -> tcp+ssl -> ssl).

The role's listener tasks (tasks/remotes.yml, with the PKI of tasks/pki.yml) run through
ansible-playbook against standalone Northbound and Southbound ovsdb-servers started as ovn-ctl
starts them (listeners and SSL files read from the database: --remote=db:..., --private-key=db:...),
listening on 127.0.0.1 only. A client that connected over TCP before the switch keeps its session
through phase 1 (it sees a change made then), a new client gets in over TLS, the data written
before is still there after each phase, and after phase 2 no TCP listener is left.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys
import time

import pytest

from conftest import NB_SCHEMA, SB_SCHEMA, collection_root
from local_ports import free_port  # tests/lib
from ovs_pki import make_pki  # tests/lib
import test_central_cluster_ovnctl as ovnctl
from test_integration_targets import ansible_playbook

PLAYBOOK = '''---
- name: The central databases' listeners
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run the role's listener tasks
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_central
        tasks_from: remotes
'''


class Db:
    """A standalone database served the way ovn-ctl serves it (remotes and SSL from its own rows)."""

    def __init__(self, base, schema, name, table):
        self.base, self.name = base, name
        self.db = os.path.join(base, name + '.db')
        self.sock = os.path.join(base, name + '.sock')
        self.pidfile = os.path.join(base, name + '.pid')
        subprocess.check_call(['ovsdb-tool', 'create', self.db, schema])
        dbname = 'OVN_Northbound' if name == 'nb' else 'OVN_Southbound'
        subprocess.check_call(['ovsdb-server', '--detach', '--no-chdir', '--pidfile=' + self.pidfile,
                               '--unixctl=' + os.path.join(base, name + '.ctl'), '--log-file=' + os.path.join(base, name + '.log'),
                               '--remote=punix:' + self.sock, '--remote=db:%s,%s,connections' % (dbname, table),
                               '--private-key=db:%s,SSL,private_key' % dbname, '--certificate=db:%s,SSL,certificate' % dbname,
                               '--ca-cert=db:%s,SSL,ca_cert' % dbname, self.db])

    def pid(self):
        with open(self.pidfile) as f:
            return int(f.read().strip())

    def stop(self):
        try:
            os.kill(self.pid(), 15)
        except (OSError, ValueError):
            pass


@pytest.fixture
def central(tmp_path):
    base = str(tmp_path)
    dbs = Db(base, NB_SCHEMA, 'nb', 'NB_Global'), Db(base, SB_SCHEMA, 'sb', 'SB_Global')
    yield dbs
    for db in dbs:
        db.stop()


def converge(tmp_path, central, variables):
    """The role's tasks twice with these variables: the first run changes, the second does not."""
    (tmp_path / 'play.yml').write_text(PLAYBOOK)
    (tmp_path / 'vars.yml').write_text('\n'.join('%s: %s' % kv for kv in sorted(variables.items())) + '\n')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'),
               ANSIBLE_HOME=str(tmp_path / 'ansible-home'), OVN_NB_DB='unix:' + central[0].sock,
               OVN_SB_DB='unix:' + central[1].sock)
    for run in range(2):
        proc = subprocess.run([ansible_playbook(), '-i', 'localhost,', '-c', 'local', '-e', '@' + str(tmp_path / 'vars.yml'),
                               '-e', 'ansible_python_interpreter=' + sys.executable, str(tmp_path / 'play.yml')],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              env=env, cwd=str(tmp_path), timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout
        assert ('changed=0' in proc.stdout) == (run == 1), proc.stdout


def listeners(central):
    return [sorted(line.split()[-1] for line in subprocess.check_output(
        [tool, '--db=unix:' + db.sock, 'get-connection'], universal_newlines=True).splitlines())
        for tool, db in (('ovn-nbctl', central[0]), ('ovn-sbctl', central[1]))]


def tcp_listening(pids):
    """The TCP ports the given processes listen on (ss -ltnp), TLS or not."""
    out = subprocess.check_output(['ss', '-Hltnp'], universal_newlines=True)
    ports = set()
    for line in out.splitlines():
        if any('pid=%d,' % pid in line for pid in pids):
            ports.add(int(line.split()[3].rsplit(':', 1)[1]))
    return ports


def nbctl(db, *args, **kw):
    cmd = ['ovn-nbctl', '--db=' + db, '--timeout=10'] + kw.get('ssl', []) + list(args)
    return subprocess.check_output(cmd, universal_newlines=True)


def wait(what, check, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError('timed out waiting for ' + what)


def test_switch_from_tcp_to_tls_in_place(tmp_path, central):
    pki = str(tmp_path / 'pki')
    nb, sb, nb_ssl, sb_ssl = free_port(), free_port(), free_port(), free_port()
    variables = {'ovn_central_listen_address': '127.0.0.1', 'ovn_central_nb_port': nb, 'ovn_central_sb_port': sb,
                 'ovn_central_nb_ssl_port': nb_ssl, 'ovn_central_sb_ssl_port': sb_ssl,
                 'ovn_central_ssl_create_pki': 'true', 'ovn_central_pki_dir': pki, 'ovn_central_pki_clients': '[watcher]',
                 # A central made before TLS was the default, on TCP.
                 'ovn_central_ssl': 'false'}
    pids = [db.pid() for db in central]
    tcp = 'tcp:127.0.0.1:%d' % nb
    ssl = 'ssl:127.0.0.1:%d' % nb_ssl

    # Today: TCP only.
    converge(tmp_path, central, dict(variables, ovn_central_transport='tcp'))
    assert listeners(central) == [['ptcp:%d:127.0.0.1' % nb], ['ptcp:%d:127.0.0.1' % sb]]
    assert not os.path.exists(pki), 'a PKI made for TCP'
    nbctl(tcp, 'ls-add', 'before-the-switch')
    # A client connected over TCP (as ovn-controller or the watcher is) for the whole switch.
    out = open(str(tmp_path / 'monitor.out'), 'w')
    monitor = subprocess.Popen(['ovsdb-client', 'monitor', tcp, 'OVN_Northbound', 'Logical_Switch', 'name'],
                               stdout=out, stderr=subprocess.STDOUT)
    try:
        def seen(name):
            with open(str(tmp_path / 'monitor.out')) as f:
                return name in f.read()
        wait('the TCP client to see the switch', lambda: seen('before-the-switch'))

        # Phase 1: TLS listeners beside the TCP ones (and the PKI).
        converge(tmp_path, central, dict(variables, ovn_central_transport='tcp+ssl'))
        assert listeners(central) == [sorted(['ptcp:%d:127.0.0.1' % nb, 'pssl:%d:127.0.0.1' % nb_ssl]),
                                      sorted(['ptcp:%d:127.0.0.1' % sb, 'pssl:%d:127.0.0.1' % sb_ssl])]
        assert tcp_listening(pids) == {nb, sb, nb_ssl, sb_ssl}
        client = ['--private-key=%s/watcher-privkey.pem' % pki, '--certificate=%s/watcher-cert.pem' % pki,
                  '--ca-cert=%s/switchca/cacert.pem' % pki]
        # The TCP session is the same one and still live: it sees a change made over TLS.
        nbctl(ssl, 'ls-add', 'during-the-switch', ssl=client)
        wait('the TCP client to see a change made during phase 1', lambda: seen('during-the-switch'))
        assert monitor.poll() is None
        assert nbctl(ssl, 'ls-list', ssl=client).count('before-the-switch') == 1
        assert 'during-the-switch' in nbctl(tcp, 'ls-list')

        # Phase 2: TCP goes.
        converge(tmp_path, central, dict(variables, ovn_central_transport='ssl'))
        assert listeners(central) == [['pssl:%d:127.0.0.1' % nb_ssl], ['pssl:%d:127.0.0.1' % sb_ssl]]
        assert tcp_listening(pids) == {nb_ssl, sb_ssl}
        # The TCP session was closed with its listener; the client comes back over TLS.
        wait('the TCP session to end', lambda: monitor.poll() is not None)
        with pytest.raises(subprocess.CalledProcessError):
            subprocess.check_output(['ovn-nbctl', '--db=' + tcp, '--timeout=3', 'ls-list'], stderr=subprocess.STDOUT)
        names = nbctl(ssl, 'ls-list', ssl=client)
        assert 'before-the-switch' in names and 'during-the-switch' in names, names
        # Without a certificate signed by the CA nothing gets in.
        with pytest.raises(subprocess.CalledProcessError):
            subprocess.check_output(['ovn-nbctl', '--db=' + ssl, '--timeout=3', 'ls-list'], stderr=subprocess.STDOUT)
    finally:
        if monitor.poll() is None:
            monitor.kill()
        monitor.wait()
        out.close()


def test_cluster_members_take_tls_options_and_keep_raft_and_data(tmp_path):
    """Phase 1 in a cluster: ovn-ctl's options gain the SSL files; members restart one by one,
    keep their data, and RAFT keeps its TCP addresses (ovsdb-server cannot change them)."""
    if not os.path.exists(ovnctl.OVN_CTL):
        pytest.skip('no ovn-ctl (Debian package ovn-central)')
    base = str(tmp_path)
    pki = os.path.join(base, 'pki')
    make_pki(base, ['member%d' % i for i in range(3)])
    addresses = ['127.0.0.%d' % (i + 1) for i in range(3)]
    nb_port, sb_port = free_port(), free_port()
    socks = [os.path.join(base, 'c%d' % j, 'run', '%s.sock') for j in range(3)]

    def options(i, transport):
        variables = {
            # What tasks/cluster.yml and vars/main.yml work out with ovn_central_ssl false.
            'ovn_central_cluster_members': ['c0', 'c1', 'c2'], '_ovn_central_proto': 'tcp', 'ovn_central_ssl': False,
            '_ovn_central_ssl': transport != 'tcp', '_ovn_central_member_address': addresses[i],
            '_ovn_central_addresses': addresses, 'ovn_central_nb_cluster_port': nb_port,
            'ovn_central_sb_cluster_port': sb_port, '_ovn_central_bootstrap': i == 0,
            '_ovn_central_ssl_files': ['%s/member%d-privkey.pem' % (base, i), '%s/member%d-cert.pem' % (base, i),
                                       '%s/switchca/cacert.pem' % pki],
            'ovn_central_nb_remote': ','.join('unix:' + s % 'ovnnb_db' for s in socks),
            'ovn_central_sb_remote': ','.join('unix:' + s % 'ovnsb_db' for s in socks),
            '_ovn_central_northd_sb_remote': ','.join('unix:' + s % 'ovnsb_db' for s in socks),
        }
        return ovnctl.render(os.path.join(base, 'ovn-central.%d.%s' % (i, transport)), variables)

    members = [ovnctl.CtlMember(base, i, options(i, 'tcp')) for i in range(3)]
    assert not any('ssl' in opt for m in members for opt in m.opts)
    everyone = ','.join('unix:' + m.path('ovnnb_db.sock') for m in members)

    def up(m):
        for db in ('nb', 'sb'):
            m.run_db(db)
        for db in ('nb', 'sb'):
            ovnctl.wait('member %d in %s' % (m.index, db),
                        lambda db=db: 'Status: cluster member' in m.status(db) and 'Role: ' in m.status(db))
    try:
        for m in members:
            up(m)
        nbctl(everyone, 'ls-add', 'before-the-switch')
        # Phase 1: new options, one member at a time (as the role restarts them).
        for i, old in enumerate(list(members)):
            opts = options(i, 'tcp+ssl')
            assert '--ovn-nb-db-ssl-key=%s/member%d-privkey.pem' % (base, i) in opts
            assert '--ovn-northd-ssl-ca-cert=%s/switchca/cacert.pem' % pki in opts
            assert '--db-nb-cluster-local-proto=tcp' in opts
            old.stop()
            members[i] = ovnctl.CtlMember(base, i, opts)
            up(members[i])
            # A client retries while the cluster elects a new leader (the restarted member may have led).
            ovnctl.wait('a write after member %d restarted' % i, lambda i=i: subprocess.run(
                ['ovn-nbctl', '--db=' + everyone, '--timeout=5', '--may-exist', 'ls-add', 'after-member-%d' % i],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode == 0)
        names = nbctl(everyone, 'ls-list')
        for name in ['before-the-switch'] + ['after-member-%d' % i for i in range(3)]:
            assert names.count(name) == 1, names
        for m in members:
            local = subprocess.check_output(['ovsdb-tool', 'db-local-address', os.path.join(m.dir, 'db', 'ovnnb_db.db')],
                                            universal_newlines=True).strip()
            assert local == 'tcp:127.0.0.%d:%d' % (m.index + 1, nb_port), local
    finally:
        for m in members:
            m.stop()
