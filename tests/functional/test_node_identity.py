# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One Kubernetes identity per node: the ovn_node role's credentials tasks on two hosts of one
play (both this machine, each with its own kubeconfig path) against a real ovsdb-server.

A token given to both hosts is refused before anything is changed when ovn_node_k8s_shared_token
is fail (the message names the other host, never the token), reported as a warning by default;
a token together with a client certificate is refused; a client certificate (the kubelet's file
holds the key too) gives a kubeconfig without a token, and the CA given as PEM lands on the node.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

from conftest import collection_root, vsctl
from test_integration_targets import ansible_playbook

TOKEN = 'shared-token-7c1e2a9d4b'
CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----'

PLAYBOOK = '''---
- name: The ovn_node role's credentials on two nodes
  hosts: all
  gather_facts: false
  module_defaults:
    group/ovn_k8s.overlay.ovs:
      remote: "{remote}"
  tasks:
    - name: Run the role's credentials tasks
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_node
        tasks_from: credentials
'''


def play(tmp_path, remote, **extra):
    playbook = tmp_path / 'play.yml'
    playbook.write_text(PLAYBOOK.format(remote=remote))
    inventory = tmp_path / 'inventory.json'
    hosts = dict((name, {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                         'ovn_node_kubeconfig': str(tmp_path / name / 'node.kubeconfig')}) for name in ('node-a', 'node-b'))
    inventory.write_text(json.dumps({'all': {'hosts': hosts}}))
    base = {'ovn_node_k8s_api_server': 'https://127.0.0.1:6443', 'ovn_node_k8s_ca_cert': str(tmp_path / 'k8s' / 'ca.crt')}
    base.update(extra)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'),
               ANSIBLE_HOME=str(tmp_path / 'ansible-home'))
    proc = subprocess.run([ansible_playbook(), '-i', str(inventory), '-e', json.dumps(base), str(playbook)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          env=env, cwd=str(tmp_path), timeout=300, check=False)
    assert TOKEN not in proc.stdout, 'the token was printed'
    return proc


def test_a_shared_token_is_refused_or_reported(ovs_db, tmp_path):
    proc = play(tmp_path, ovs_db, ovn_node_k8s_token=TOKEN, ovn_node_k8s_shared_token='fail')
    assert proc.returncode == 2, proc.stdout
    assert "ovn_node on node-a: the node agents' token (ovn_node_k8s_token) is also given to node-b" in proc.stdout
    assert "ovn_node on node-b: the node agents' token (ovn_node_k8s_token) is also given to node-a" in proc.stdout
    assert not (tmp_path / 'node-a').exists() and 'k8s-api-server' not in vsctl(ovs_db, 'get', 'Open_vSwitch', '.', 'external_ids')

    # The default reports it and goes on.
    proc = play(tmp_path, ovs_db, ovn_node_k8s_token=TOKEN)
    assert proc.returncode == 0, proc.stdout
    assert "WARNING: ovn_node on node-a: the node agents' token (ovn_node_k8s_token) is also given to node-b" in proc.stdout
    assert (tmp_path / 'node-b' / 'node.kubeconfig').is_file()


def test_a_client_certificate_per_node_and_the_ca(ovs_db, tmp_path):
    both = play(tmp_path, ovs_db, ovn_node_k8s_token=TOKEN, ovn_node_k8s_client_cert='/var/lib/kubelet/pki/kubelet-client-current.pem')
    assert both.returncode == 2 and 'a token (ovn_node_k8s_token) or a client certificate (ovn_node_k8s_client_cert), not both' in both.stdout

    proc = play(tmp_path, ovs_db, ovn_node_k8s_client_cert='/var/lib/kubelet/pki/kubelet-client-current.pem',
                ovn_node_k8s_ca_cert_content=CA_PEM)
    assert proc.returncode == 0, proc.stdout
    for name in ('node-a', 'node-b'):
        with open(str(tmp_path / name / 'node.kubeconfig')) as f:
            config = json.load(f)
        assert config['users'] == [{'name': name, 'user': {
            'client-certificate': '/var/lib/kubelet/pki/kubelet-client-current.pem',
            'client-key': '/var/lib/kubelet/pki/kubelet-client-current.pem'}}]
        assert config['clusters'][0]['cluster'] == {'server': 'https://127.0.0.1:6443', 'certificate-authority': str(tmp_path / 'k8s' / 'ca.crt')}
    assert (tmp_path / 'k8s' / 'ca.crt').read_text() == CA_PEM + '\n'
    assert 'WARNING' not in proc.stdout
