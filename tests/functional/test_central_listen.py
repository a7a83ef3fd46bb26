# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovn_central's listeners (tasks/remotes.yml) through ansible-playbook on real databases.

The Northbound and Southbound databases must listen on the cluster address only, not on every
address of the central host. The role's tasks run on localhost with ovn-nbctl/ovn-sbctl pointed
at ovsdb-servers in a temporary directory (OVN_NB_DB, OVN_SB_DB), so the machine's own
databases, if any, are not touched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

import pytest

from conftest import NB_SCHEMA, SB_SCHEMA, OvsdbServer, collection_root
from test_integration_targets import ansible_playbook

PLAYBOOK = '''---
- name: The central databases' listeners
  hosts: localhost
  gather_facts: false
  vars: {vars}
  tasks:
    - name: Run the role's listener tasks
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_central
        tasks_from: remotes
'''


@pytest.fixture
def dbs(tmp_path):
    nb = OvsdbServer(tmp_path, [NB_SCHEMA], 'nb')
    sb = OvsdbServer(tmp_path, [SB_SCHEMA], 'sb')
    yield nb.remote, sb.remote
    nb.stop()
    sb.stop()


def play(tmp_path, dbs, variables, *extra, tls=False):
    """One ansible-playbook run of the tasks (on TCP unless ``tls``: TLS is the role's default);
    returns its output."""
    if not tls:
        extra = ('-e', '{"ovn_cluster_tls": false}') + extra
    playbook = tmp_path / 'play.yml'
    playbook.write_text(PLAYBOOK.format(vars=variables))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'),
               ANSIBLE_HOME=str(tmp_path / 'ansible-home'), OVN_NB_DB=dbs[0], OVN_SB_DB=dbs[1])
    proc = subprocess.run([ansible_playbook(), '-i', 'localhost,', '-c', 'local',
                           '-e', 'ansible_python_interpreter=' + sys.executable, str(playbook)] + list(extra),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          env=env, cwd=str(tmp_path), timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


def listeners_of(dbs):
    return [subprocess.check_output([tool, '--db=' + db, 'get-connection'], universal_newlines=True).split()[-1]
            for tool, db in (('ovn-nbctl', dbs[0]), ('ovn-sbctl', dbs[1]))]


def converge(tmp_path, dbs, variables):
    """Run the tasks twice; return the listeners then (NB, SB) and the two outputs."""
    outputs = [play(tmp_path, dbs, variables) for dummy in range(2)]
    return listeners_of(dbs), outputs


@pytest.mark.parametrize('variables, wanted', [
    ('{ovn_central_listen_address: 192.0.2.10}', ['ptcp:6641:192.0.2.10', 'ptcp:6642:192.0.2.10']),
    ('{ovn_node_central_address: 192.0.2.11}', ['ptcp:6641:192.0.2.11', 'ptcp:6642:192.0.2.11']),
    ('{ovn_central_listen_address: "fd00::10", ovn_central_nb_port: 16641}', ['ptcp:16641:[fd00::10]', 'ptcp:6642:[fd00::10]']),
])
def test_databases_listen_on_the_cluster_address(tmp_path, dbs, variables, wanted):
    listeners, outputs = converge(tmp_path, dbs, variables)
    assert listeners == wanted, listeners
    assert 'changed=0' not in outputs[0] and 'changed=0' in outputs[1], outputs[1]


def test_default_is_the_hosts_default_address_not_every_address(tmp_path, dbs):
    listeners, dummy = converge(tmp_path, dbs, '{}')
    for listener in listeners:
        assert listener.count(':') >= 2, 'a listener on every address: %s' % listener
        address = listener.split(':', 2)[2]
        assert address not in ('', '0.0.0.0', '[::]'), listener


def test_check_mode_predicts_a_change_of_listeners_and_writes_nothing(tmp_path, dbs):
    converge(tmp_path, dbs, '{ovn_central_listen_address: 192.0.2.10}')
    out = play(tmp_path, dbs, '{ovn_central_listen_address: 192.0.2.20}', '--check', '--diff')
    assert 'changed=1' in out, out
    diff = [line.split() for line in out.splitlines() if line.startswith(('+ ', '- '))]
    assert ['-', '"ptcp:6641:192.0.2.10"'] in diff and ['+', '"ptcp:6641:192.0.2.20"'] in diff, out
    assert ['-', '"ptcp:6642:192.0.2.10', 'role=\\"\\""'] in diff, out
    assert listeners_of(dbs) == ['ptcp:6641:192.0.2.10', 'ptcp:6642:192.0.2.10']
    # The real run then makes what check mode said.
    listeners, outputs = converge(tmp_path, dbs, '{ovn_central_listen_address: 192.0.2.20}')
    assert listeners == ['ptcp:6641:192.0.2.20', 'ptcp:6642:192.0.2.20']
    assert 'changed=1' in outputs[0] and 'changed=0' in outputs[1], outputs


def test_tls_is_the_default_with_a_pki_made_for_it(tmp_path, dbs):
    """Nothing said about TLS: the role makes a CA and the databases' certificate and listens
    with pssl only, the Southbound listener holding nodes to their chassis (role ovn-controller)."""
    pki = tmp_path / 'pki'
    variables = '{ovn_central_listen_address: 192.0.2.10, ovn_central_pki_dir: "%s"}' % pki
    outputs = [play(tmp_path, dbs, variables, tls=True) for dummy in range(2)]
    assert 'changed=0' not in outputs[0] and 'changed=0' in outputs[1], outputs[1]
    assert listeners_of(dbs) == ['pssl:6641:192.0.2.10', 'pssl:6642:192.0.2.10']
    role = subprocess.check_output(['ovn-sbctl', '--db=' + dbs[1], '--bare', '--columns=role', 'list', 'Connection'],
                                   universal_newlines=True).strip()
    assert role == 'ovn-controller', role
    for name in ('switchca/cacert.pem', 'ovn-central-cert.pem', 'ovn-central-privkey.pem'):
        assert (pki / name).exists(), name
    ssl = subprocess.check_output(['ovn-nbctl', '--db=' + dbs[0], '--bare', '--columns=certificate', 'list', 'SSL'],
                                  universal_newlines=True).strip()
    assert ssl == str(pki / 'ovn-central-cert.pem'), ssl
