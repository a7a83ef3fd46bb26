# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upgrades (issue 24, item 3) without a lab: role ovn_cluster's tasks/packages.yml against this
machine's real dpkg database and its installed Open vSwitch and OVN packages (a host that has
everything is left alone without apt; the installed version asked for is no change; another
version is refused outside playbooks/upgrade.yml with a message that says so, and nothing is
written; a reinstall is predicted in check mode and nothing is written), and the plays of
playbooks/upgrade.yml and site.yml's gateways in the order and batches they run, resolved by
ansible-playbook for a made-up inventory (nothing is contacted). The real reinstall under load is
the lab's (molecule/default/tests/test_upgrade.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from checkout import REPO, collection_root
from test_integration_targets import ansible_playbook

PACKAGES = ['ovn-host', 'openvswitch-switch', 'python3-openvswitch']

PLAY = '''---
- name: The packages
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The role's package tasks
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_cluster
        tasks_from: packages.yml
      vars:
        ovn_cluster_packages_names: %s
    - name: Say what changed
      ansible.builtin.debug:
        msg: "RESULT {{ {'upgraded': ovn_cluster_packages_upgraded, 'reinstalled': ovn_cluster_packages_reinstalled} | to_json }}"
''' % json.dumps(PACKAGES)


def installed(package):
    proc = subprocess.run(['dpkg-query', '-W', '-f', '${Version} ${db:Status-Abbrev}', package], stdout=subprocess.PIPE,
                          universal_newlines=True, check=False)
    fields = proc.stdout.split()
    return fields[0] if proc.returncode == 0 and len(fields) > 1 and fields[1] == 'ii' else None


needs_packages = pytest.mark.skipif(not all(installed(p) for p in PACKAGES) or os.geteuid() != 0,
                                    reason='needs root and Debian\'s ovn-host, openvswitch-switch and python3-openvswitch installed')


def run(tmp_path, variables, *extra):
    (tmp_path / 'play.yml').write_text(PLAY)
    variables = dict(variables, ansible_python_interpreter=sys.executable)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'al'), ANSIBLE_HOME=str(tmp_path / 'ah'))
    return subprocess.run([ansible_playbook(), '-i', 'localhost,', '-c', 'local', '-e', json.dumps(variables),
                           str(tmp_path / 'play.yml')] + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=env, cwd=str(tmp_path), timeout=300, check=False)


def result(out):
    found = re.findall(r'"msg": "RESULT (.*)"', out)
    assert found, out
    return json.loads(found[-1].replace('\\"', '"'))


def policy_state():
    path = '/usr/sbin/policy-rc.d'
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read(), os.stat(path).st_mtime


@needs_packages
def test_installed_packages_are_left_alone_and_other_versions_refused(tmp_path):
    policy = policy_state()
    # Everything installed, no version asked for: no apt run, nothing changed.
    calm = run(tmp_path, {})
    assert calm.returncode == 0 and 'changed=0' in calm.stdout, calm.stdout
    assert re.search(r'Install the packages \(the versions asked for\)\] \**\nskipping: \[localhost\]', calm.stdout), calm.stdout
    assert result(calm.stdout) == {'upgraded': [], 'reinstalled': []}
    # The installed version asked for: the same.
    same = run(tmp_path, {'ovn_cluster_ovn_version': installed('ovn-host'), 'ovn_cluster_ovs_version': installed('openvswitch-switch')})
    assert same.returncode == 0 and 'changed=0' in same.stdout, same.stdout
    # Another version: refused outside upgrade.yml, naming both versions and the way.
    other = run(tmp_path, {'ovn_cluster_ovn_version': '99.99.0-1'})
    assert other.returncode != 0, other.stdout
    assert 'ovn-host=99.99.0-1' in other.stdout and 'ovn-host=%s' % installed('ovn-host') in other.stdout, other.stdout
    assert 'ovn-common=99.99.0-1' in other.stdout, other.stdout  # pinned with it
    assert 'through playbooks/upgrade.yml' in other.stdout, other.stdout
    # A reinstall in check mode: predicted, nothing written (no policy-rc.d of ours, none removed).
    check = run(tmp_path, {'ovn_cluster_packages_upgrade': True, 'ovn_cluster_packages_reinstall': True}, '--check')
    assert check.returncode == 0 and 'changed=1' in check.stdout, check.stdout
    assert 'a real run reinstalls ovn-host, openvswitch-switch, python3-openvswitch' in check.stdout, check.stdout
    assert policy_state() == policy


def hosts_of_plays(tmp_path, playbook, *extra):
    inventory = {'all': {'children': {
        'ovn_central': {'hosts': {'c1': {}, 'c2': {}, 'c3': {}}, 'vars': {'ovn_central_cluster_members': ['c1', 'c2', 'c3']}},
        'ovn_nodes': {'hosts': {'n1': {}, 'n2': {}, 'n3': {}}},
        'ovn_gateways': {'hosts': {'n1': {}, 'n2': {}, 'n3': {}}},
        'ovn_watchers': {'hosts': {'c1': {}}}}}}
    (tmp_path / 'inventory.json').write_text(json.dumps(inventory))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_NOCOLOR='1', ANSIBLE_HOME=str(tmp_path / 'ah'))
    proc = subprocess.run([ansible_playbook(), '-i', str(tmp_path / 'inventory.json'), '--list-hosts',
                           os.path.join(REPO, 'playbooks', playbook)] + list(extra),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout
    plays = []
    for line in proc.stdout.splitlines():
        play = re.match(r'\s*play #\d+ \([^)]*\): (.*?)\tTAGS', line)
        if play:
            plays.append((play.group(1), []))
        elif plays and re.match(r'\s{6}\S+$', line):
            plays[-1][1].append(line.strip())
    return [(name, sorted(hosts)) for name, hosts in plays]


def test_upgrade_runs_the_nodes_first_then_the_members_then_northd(tmp_path):
    assert hosts_of_plays(tmp_path, 'upgrade.yml') == [
        ('Check the central databases before anything changes', ['c1', 'c2', 'c3']),
        ('Upgrade ovn-controller on the nodes, one node at a time', ['n1', 'n2', 'n3']),
        ('Upgrade the central databases, one member at a time', ['c1', 'c2', 'c3']),
        ('Restart ovn-northd on its new version, one member at a time', ['c1', 'c2', 'c3'])]
    with open(os.path.join(REPO, 'playbooks', 'upgrade.yml')) as f:
        plays = yaml.safe_load(f)
    # One member at a time, in both central plays; the nodes in batches of ovn_upgrade_node_serial (1).
    assert [p.get('serial') for p in plays] == [None, '{{ ovn_upgrade_node_serial | default(1) }}', 1, 1]


def test_site_moves_one_gateway_at_a_time_by_default(tmp_path):
    with open(os.path.join(REPO, 'playbooks', 'site.yml')) as f:
        plays = yaml.safe_load(f)
    gateways = [p for p in plays if p.get('hosts') == 'ovn_gateways']
    assert len(gateways) == 1 and gateways[0]['serial'] == '{{ ovn_site_gateway_serial | default(1) }}'
    # Every gateway is still in the play (serial splits it into batches).
    listed = dict(hosts_of_plays(tmp_path, 'site.yml'))
    assert listed['OVN gateways'] == ['n1', 'n2', 'n3']
