# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One place for the cluster's CA (issue 24, item 4, in part): ovn_central makes the CA on the
first member of ovn_central_cluster_members, and the nodes' and the watcher's signing requests go
to ovn_cluster_pki_ca_host, which is that member, not the first host of the ovn_central group
(after a lost member was replaced the two differ). The roles' defaults, resolved by
ansible-playbook for hosts of a made-up inventory (nothing is contacted)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

from checkout import REPO

PLAY = '''
- hosts: node1:watcher
  gather_facts: false
  connection: local
  tasks:
    - name: The roles' defaults
      ansible.builtin.include_vars:
        file: "{{ item }}"
      loop: %s
    - name: Where the signing requests go
      ansible.builtin.debug:
        msg: "CA {{ ovn_cluster_pki_ca_host }} node {{ ovn_node_pki_ca_host }} watcher {{ ovn_watcher_pki_ca_host }}"
''' % json.dumps([os.path.join(REPO, 'roles', r, 'defaults', 'main.yml') for r in ('ovn_cluster', 'ovn_node', 'ovn_watcher')])


def resolve(tmp_path, members):
    inventory = {'all': {'children': {
        'ovn_central': {'hosts': {'central-a': {}, 'central-b': {}, 'central-c': {}},
                        'vars': {'ovn_central_cluster_members': members} if members else {}},
        'ovn_nodes': {'hosts': {'node1': {}}},
        'ovn_watchers': {'hosts': {'watcher': {}}}}}}
    (tmp_path / 'inventory.json').write_text(json.dumps(inventory))
    (tmp_path / 'play.yml').write_text(PLAY)
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(tmp_path / 'inventory.json'),
                           str(tmp_path / 'play.yml'), '-e', 'ansible_python_interpreter=' + sys.executable],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300, check=False,
                          env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
    assert proc.returncode == 0, proc.stdout
    return sorted(set(line.strip().split('"msg": "')[-1].rstrip('"') for line in proc.stdout.splitlines() if '"msg": "CA ' in line))


def test_signing_requests_go_where_the_ca_is(tmp_path):
    # A cluster whose member list no longer starts with the group's first host.
    assert resolve(tmp_path, ['central-b', 'central-a', 'central-c']) == ['CA central-b node central-b watcher central-b']
    # One central host, no cluster: the group's first host.
    assert resolve(tmp_path, []) == ['CA central-a node central-a watcher central-a']
