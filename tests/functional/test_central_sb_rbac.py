# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Southbound database's RBAC (role ovn-controller), as ovn_central sets it up, for real.

The role's own listener and PKI tasks (tasks/remotes.yml, tasks/pki.yml) run through
ansible-playbook against a real Southbound ovsdb-server that reads its listeners and SSL files
from its own database, as ovn-ctl starts it. They make a CA and a client certificate per node
with ovs-pki in a temporary directory and open an SSL listener with role=ovn-controller on
loopback. A real ovn-northd fills RBAC_Role and RBAC_Permission. Then ovn-sbctl, holding one
node's certificate, registers and changes its own chassis and is refused when it touches
another node's chassis.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys
import time

import pytest
import yaml

from conftest import NB_SCHEMA, REPO, SB_SCHEMA, OvsdbServer, have
from local_ports import free_port  # tests/lib
from test_central_listen import converge
from test_integration_targets import ansible_playbook

pytestmark = pytest.mark.skipif(not have('ovn-northd') or not have('ovs-pki'), reason='needs ovn-northd and ovs-pki')

CHASSIS = ['chassis-a', 'chassis-b']


class SslSouthbound:
    """A Southbound ovsdb-server started as ovn-ctl starts it: listeners and SSL files from the database."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.db = os.path.join(self.workdir, 'sb.db')
        self.sock = os.path.join(self.workdir, 'sb.sock')
        self.remote = 'unix:' + self.sock
        self.pidfile = os.path.join(self.workdir, 'sb.pid')
        subprocess.check_call(['ovsdb-tool', 'create', self.db, SB_SCHEMA])
        subprocess.check_call(
            ['ovsdb-server', '--detach', '--no-chdir', '--pidfile=' + self.pidfile,
             '--unixctl=' + os.path.join(self.workdir, 'sb.ctl'), '--log-file=' + os.path.join(self.workdir, 'sb.log'),
             '--remote=punix:' + self.sock, '--remote=db:OVN_Southbound,SB_Global,connections',
             '--private-key=db:OVN_Southbound,SSL,private_key', '--certificate=db:OVN_Southbound,SSL,certificate',
             '--ca-cert=db:OVN_Southbound,SSL,ca_cert', self.db])

    def stop(self):
        with open(self.pidfile) as f:
            os.kill(int(f.read().strip()), 15)


@pytest.fixture
def central(tmp_path):
    """NB and SB databases with the role's listener tasks run on them (SSL, a PKI, RBAC)."""
    nb = OvsdbServer(tmp_path, [NB_SCHEMA], 'nb')
    sb = SslSouthbound(tmp_path)
    port = free_port()
    pki = tmp_path / 'pki'
    variables = ('{ovn_central_ssl: true, ovn_central_ssl_create_pki: true, ovn_central_pki_dir: "%s", '
                 'ovn_central_pki_clients: %s, ovn_central_listen_address: 127.0.0.1, '
                 'ovn_central_nb_port: %d, ovn_central_sb_port: %d}' % (pki, CHASSIS, free_port(), port))
    try:
        dummy, outputs = converge(tmp_path, (nb.remote, sb.remote), variables)
        yield dict(nb=nb.remote, sb=sb.remote, port=port, pki=str(pki), outputs=outputs, tmp=tmp_path)
    finally:
        sb.stop()
        nb.stop()


def sbctl(central, name, *args):
    """ovn-sbctl over the role's SSL listener with the client certificate of NAME."""
    pki = central['pki']
    return subprocess.run(['ovn-sbctl', '--timeout=20', '--db=ssl:127.0.0.1:%d' % central['port'],
                           '--private-key=%s/%s-privkey.pem' % (pki, name), '--certificate=%s/%s-cert.pem' % (pki, name),
                           '--ca-cert=%s/switchca/cacert.pem' % pki] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)


def local(central, *args):
    """ovn-sbctl over the unix socket (no role): what the database really holds."""
    return subprocess.check_output(['ovn-sbctl', '--db=' + central['sb']] + list(args), universal_newlines=True).strip()


def test_role_listens_with_role_ovn_controller_and_names_certificates_after_the_chassis(central):
    assert local(central, 'get-connection').splitlines() == ['read-write role="ovn-controller" pssl:%d:127.0.0.1' % central['port']]
    assert 'changed=0' in central['outputs'][1] and 'failed=0' in central['outputs'][1], central['outputs'][1]
    for name in CHASSIS:
        subject = subprocess.check_output(['openssl', 'x509', '-noout', '-subject', '-nameopt', 'multiline',
                                           '-in', '%s/%s-cert.pem' % (central['pki'], name)], universal_newlines=True)
        cns = [line.split('=', 1)[1].strip() for line in subject.splitlines() if line.strip().startswith('commonName')]
        assert cns == [name], subject


def test_without_ssl_the_listener_has_no_role(tmp_path):
    nb = OvsdbServer(tmp_path, [NB_SCHEMA], 'nb')
    sb = OvsdbServer(tmp_path, [SB_SCHEMA], 'sb')
    try:
        dummy, outputs = converge(tmp_path, (nb.remote, sb.remote), '{ovn_central_listen_address: 192.0.2.10}')
        lines = subprocess.check_output(['ovn-sbctl', '--db=' + sb.remote, 'get-connection'], universal_newlines=True).splitlines()
        assert lines == ['read-write role="" ptcp:6642:192.0.2.10'], lines
        assert 'changed=0' in outputs[1], outputs[1]
    finally:
        sb.stop()
        nb.stop()


def test_a_node_changes_its_own_chassis_only(central):
    tmp = central['tmp']
    subprocess.check_call(['ovn-northd', '--detach', '--no-chdir', '--pidfile=' + str(tmp / 'northd.pid'),
                           '--unixctl=' + str(tmp / 'northd.ctl'), '--log-file=' + str(tmp / 'northd.log'),
                           '--ovnnb-db=' + central['nb'], '--ovnsb-db=' + central['sb']])
    try:
        deadline = time.time() + 30
        while 'ovn-controller' not in local(central, '--columns=name', 'list', 'RBAC_Role'):
            assert time.time() < deadline, 'ovn-northd did not fill RBAC_Role'
            time.sleep(0.2)

        # Each node registers its own chassis and tunnel endpoint, and changes its own row.
        for name, ip in (('chassis-a', '127.0.0.2'), ('chassis-b', '127.0.0.3')):
            proc = sbctl(central, name, 'chassis-add', name, 'geneve', ip)
            assert proc.returncode == 0, proc.stderr
        proc = sbctl(central, 'chassis-a', 'set', 'Chassis', 'chassis-a', 'external_ids:mine=yes')
        assert proc.returncode == 0, proc.stderr
        assert local(central, 'get', 'Chassis', 'chassis-a', 'external_ids:mine') == 'yes'
        encap_a = local(central, '--bare', '--columns=_uuid', 'find', 'Encap', 'chassis_name=chassis-a')
        proc = sbctl(central, 'chassis-a', 'set', 'Encap', encap_a, 'options:csum=true')
        assert proc.returncode == 0, proc.stderr

        before = local(central, 'list', 'Chassis', 'chassis-b') + local(central, 'list', 'Encap')
        encap_b = local(central, '--bare', '--columns=_uuid', 'find', 'Encap', 'chassis_name=chassis-b')
        # chassis-a's certificate on chassis-b's rows, or on a chassis that is not its own: refused.
        for args in (['set', 'Chassis', 'chassis-b', 'external_ids:mine=no'],
                     ['set', 'Chassis', 'chassis-b', 'hostname=evil'],
                     ['set', 'Encap', encap_b, 'ip=127.0.0.66'],
                     ['chassis-del', 'chassis-b'],
                     ['chassis-add', 'chassis-c', 'geneve', '127.0.0.4']):
            proc = sbctl(central, 'chassis-a', *args)
            assert proc.returncode != 0, 'chassis-a was allowed to %s' % ' '.join(args)
            assert 'RBAC' in proc.stderr or 'prohibit' in proc.stderr, proc.stderr
        assert local(central, 'list', 'Chassis', 'chassis-b') + local(central, 'list', 'Encap') == before
        assert local(central, '--bare', '--columns=name', 'find', 'Chassis', 'name=chassis-c') == ''
        # ... and the role allows nothing outside the node's own rows either.
        proc = sbctl(central, 'chassis-a', 'set', 'SB_Global', '.', 'options:evil=yes')
        assert proc.returncode != 0, 'chassis-a was allowed to change SB_Global'
    finally:
        with open(str(tmp / 'northd.pid')) as f:
            os.kill(int(f.read().strip()), 15)


def test_cluster_gives_ovn_northd_a_listener_without_role(tmp_path):
    # Databases without db: listeners: only what the role writes into them is looked at.
    nb = OvsdbServer(tmp_path, [NB_SCHEMA], 'nb')
    sb = OvsdbServer(tmp_path, [SB_SCHEMA], 'sb')
    # The SSL files must exist (ovn_db_listeners checks them); their contents are not read here.
    for name in ('k', 'c', 'ca'):
        (tmp_path / (name + '.pem')).write_text('not read\n')
    variables = ('{ovn_central_ssl: true, ovn_central_ssl_key: %(d)s/k.pem, ovn_central_ssl_cert: %(d)s/c.pem, '
                 'ovn_central_ssl_ca_cert: %(d)s/ca.pem, ovn_central_cluster_members: [localhost, c2, c3], '
                 'ovn_central_listen_address: 127.0.0.1}' % {'d': tmp_path})
    try:
        dummy, outputs = converge(tmp_path, (nb.remote, sb.remote), variables)
        lines = subprocess.check_output(['ovn-sbctl', '--db=' + sb.remote, 'get-connection'], universal_newlines=True).splitlines()
        assert lines == ['read-write role="" pssl:16642:0.0.0.0', 'read-write role="ovn-controller" pssl:6642:0.0.0.0'], lines
        assert 'changed=0' in outputs[1], outputs[1]
    finally:
        sb.stop()
        nb.stop()


def test_node_takes_the_chassis_name_it_is_given(tmp_path):
    """ovn_node's system_id.yml: ovn_node_system_id replaces the kept name; empty keeps it."""
    idfile = tmp_path / 'system-id.conf'
    idfile.write_text('old-id\n')

    def run(name):
        play = [{'hosts': 'localhost', 'gather_facts': False,
                 'vars': {'ovn_node_system_id': name, 'ovn_node_system_id_file': str(idfile), 'ovn_node_name': 'node1'},
                 'tasks': [{'ansible.builtin.include_tasks': os.path.join(REPO, 'roles/ovn_node/tasks/system_id.yml')},
                           {'ansible.builtin.copy': {'dest': str(tmp_path / 'fact'), 'content': '{{ _ovn_node_system_id }}'}}]}]
        (tmp_path / 'play.yml').write_text(yaml.safe_dump(play))
        proc = subprocess.run([ansible_playbook(), '-i', 'localhost,', '-c', 'local', '-e', 'ansible_python_interpreter=' + sys.executable,
                               str(tmp_path / 'play.yml')], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              check=False, env=dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_HOME=str(tmp_path / 'ansible-home')))
        assert proc.returncode == 0, proc.stdout
        return (tmp_path / 'fact').read_text(), idfile.read_text(), proc.stdout

    fact, kept, dummy = run('')
    assert (fact, kept) == ('old-id', 'old-id\n')
    fact, kept, dummy = run('node1')
    assert (fact, kept) == ('node1', 'node1\n')
    fact, kept, out = run('node1')
    assert (fact, kept) == ('node1', 'node1\n') and 'changed=0' in out, out
