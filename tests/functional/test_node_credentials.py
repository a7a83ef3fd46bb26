# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ovn_node role's credentials tasks through ansible-playbook --diff -vvv.

The Kubernetes API token must reach the root-only kubeconfig and nothing else: not the Open
vSwitch database, not the play's output (even at -vvv with --diff). The tasks run on localhost
against a real ovsdb-server in a temporary directory, with the kubeconfig in that directory too,
so the machine itself is not touched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import subprocess

from conftest import collection_root, vsctl
from test_integration_targets import ansible_playbook

TOKEN = 'kube-token-5f1d9c0e8b7a4c2d9e3f'

PLAYBOOK = '''---
- name: The ovn_node role's credentials
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/ovn_k8s.overlay.ovs:
      remote: "{remote}"
  vars:
    ovn_node_name: node1.example.com
    ovn_node_k8s_api_server: https://192.0.2.10:6443
    ovn_node_k8s_token: {token}
    ovn_node_k8s_ca_cert: /etc/kubernetes/ca.crt
    ovn_node_kubeconfig: {kubeconfig}
  tasks:
    - name: Run the role's credentials tasks
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_node
        tasks_from: credentials
'''


def play(tmp_path, remote, kubeconfig):
    playbook = tmp_path / 'play.yml'
    playbook.write_text(PLAYBOOK.format(remote=remote, token=TOKEN, kubeconfig=kubeconfig))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'),
               ANSIBLE_HOME=str(tmp_path / 'ansible-home'))
    proc = subprocess.run([ansible_playbook(), '-i', 'localhost,', '-c', 'local', '--diff', '-vvv',
                           '-e', 'ansible_python_interpreter=' + __import__('sys').executable, str(playbook)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          env=env, cwd=str(tmp_path), timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout
    assert TOKEN not in proc.stdout, 'the token was printed:\n' + '\n'.join(
        line for line in proc.stdout.splitlines() if TOKEN in line)
    return proc.stdout


def test_token_only_in_the_root_only_kubeconfig(ovs_db, tmp_path):
    # An earlier version left the token in the Open vSwitch database.
    vsctl(ovs_db, 'set', 'Open_vSwitch', '.', 'external_ids:k8s-api-token=' + TOKEN,
          'external_ids:system-id=node1')
    kubeconfig = str(tmp_path / 'etc-ovn-k8s' / 'node.kubeconfig')
    first = play(tmp_path, ovs_db, kubeconfig)
    assert 'changed=' in first and 'changed=0' not in first

    ids = vsctl(ovs_db, 'get', 'Open_vSwitch', '.', 'external_ids')
    assert TOKEN not in ids and 'k8s-api-token' not in ids, ids
    assert 'k8s-api-server="https://192.0.2.10:6443"' in ids and 'system-id=node1' in ids, ids

    info = os.stat(kubeconfig)
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == 0, oct(info.st_mode)
    assert stat.S_IMODE(os.stat(os.path.dirname(kubeconfig)).st_mode) == 0o700
    with open(kubeconfig) as f:
        config = json.load(f)
    assert config['users'][0]['user']['token'] == TOKEN
    assert config['clusters'][0]['cluster'] == {
        'server': 'https://192.0.2.10:6443', 'certificate-authority': '/etc/kubernetes/ca.crt'}
    assert config['current-context'] == 'node'

    again = play(tmp_path, ovs_db, kubeconfig)
    assert 'changed=0' in again, again
