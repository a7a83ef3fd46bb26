# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ovn_central role's underlay tasks (ovn_central_vm_nodes) through ansible-playbook against
a real Northbound ovsdb-server: check mode predicts and writes nothing, the run declares every
VM node, a repeat changes nothing, a bad entry fails naming it, state absent takes one back."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from conftest import NB_SCHEMA, REPO, OvsdbServer, collection_root, nbctl
from test_integration_targets import ansible_playbook

PLAY = '''---
- name: The ovn_central role's underlay tasks
  hosts: all
  gather_facts: false
  tasks:
    - name: Run them
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_central
        tasks_from: underlay
'''


@pytest.fixture
def nb(tmp_path):
    server = OvsdbServer(tmp_path, [NB_SCHEMA], 'nb')
    nbctl(server.remote, 'ls-add', 'tenant', '--', 'set', 'Logical_Switch', 'tenant', 'other_config:subnet=192.168.50.0/24')
    for vm in ('vm-a', 'vm-b'):
        nbctl(server.remote, 'lsp-add', 'tenant', vm)
    yield server.remote
    server.stop()


def run(tmp_path, remote, vm_nodes, check=False, expect_ok=True):
    inventory = {'all': {'hosts': {'central': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}},
                         'vars': {'ovn_central_vm_nodes_remote': remote, 'ovn_central_vm_nodes': vm_nodes}}}
    (tmp_path / 'inventory.json').write_text(json.dumps(inventory))
    (tmp_path / 'play.yml').write_text(PLAY)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
               ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'al'), ANSIBLE_HOME=str(tmp_path / 'ah'),
               ANSIBLE_STDOUT_CALLBACK='json', ANSIBLE_CALLBACK_RESULT_FORMAT='json')
    cmd = [ansible_playbook(), '-i', str(tmp_path / 'inventory.json'), str(tmp_path / 'play.yml')]
    proc = subprocess.run(cmd + (['--check', '--diff'] if check else []), cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=600, check=False)
    assert (proc.returncode == 0) == expect_ok, '%s\n%s' % (proc.stdout[-6000:], proc.stderr[-3000:])
    out = json.loads(proc.stdout)
    return out['stats']['central'], out


def _ids(remote, port):
    return nbctl(remote, 'get', 'Logical_Switch_Port', port, 'external_ids')


def test_vm_nodes_from_the_inventory(nb, tmp_path):
    vms = [dict(node='k8s-vm-a', switch='tenant', port='vm-a', hypervisor='hv1'),
           dict(node='k8s-vm-b', switch='tenant', port='vm-b', hypervisor='hv2')]
    stats, dummy = run(tmp_path, nb, vms, check=True)
    assert stats['changed'] == 1 and 'ovn-k8s-vm-node' not in _ids(nb, 'vm-a'), stats
    stats, dummy = run(tmp_path, nb, vms)
    assert stats['changed'] == 1 and stats['failures'] == 0, stats
    assert 'ovn-k8s-vm-node=k8s-vm-a' in _ids(nb, 'vm-a') and 'ovn-k8s-vm-node=k8s-vm-b' in _ids(nb, 'vm-b')
    stats, dummy = run(tmp_path, nb, vms)
    assert stats['changed'] == 0, stats
    # A bad entry fails naming what was wrong; state absent takes one back.
    stats, out = run(tmp_path, nb, [dict(node='k8s-vm-c', switch='tenant', port='vm-c', hypervisor='hv1')],
                     expect_ok=False)
    assert 'logical switch port vm-c' in json.dumps(out)
    stats, dummy = run(tmp_path, nb, [dict(node='k8s-vm-b', state='absent')])
    assert stats['changed'] == 1 and 'ovn-k8s-vm-node' not in _ids(nb, 'vm-b') and 'k8s-vm-a' in _ids(nb, 'vm-a')
