# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ovn_central role's cluster bookkeeping, run by ansible-playbook on three inventory hosts.

The tasks of roles/ovn_central/tasks/cluster.yml that check the members and work out the remotes
are taken from the file itself (up to the PKI and the services, which need real hosts) and run
on three local inventory hosts, so the published remotes and the refusals are the role's own;
so is the guard of tasks/member_start.yml that stops the rolling restart after a member failed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess

import yaml

from conftest import REPO

UNTIL = 'One PKI for every member (made on the bootstrap member)'


def run(tmp_path, members, addresses, ssl=False, extra=None):
    with open(os.path.join(REPO, 'roles/ovn_central/tasks/cluster.yml')) as f:
        tasks = yaml.safe_load(f)
    names = [t['name'] for t in tasks]
    tasks = [t for t in tasks[:names.index(UNTIL)] if 'ansible.builtin.setup' not in t]
    tasks.append({'name': 'Show', 'ansible.builtin.copy': {
        'dest': str(tmp_path / '{{ inventory_hostname }}.json'),
        'content': '{{ {"nb": ovn_central_nb_remote, "sb": ovn_central_sb_remote, '
                   '"northd_sb": _ovn_central_northd_sb_remote, "bootstrap": _ovn_central_bootstrap} | to_json }}'}})
    (tmp_path / 'tasks.yml').write_text(yaml.safe_dump(tasks))
    inventory = {'all': {'hosts': dict((h, {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}',
                                            'ovn_central_cluster_address': a}) for h, a in addresses.items())}}
    (tmp_path / 'inventory.yml').write_text(yaml.safe_dump(inventory))
    play = [{'hosts': 'all', 'gather_facts': False,
             'vars': {'ovn_central_cluster_members': members, 'ovn_central_ssl': ssl, 'ovn_central_listen_address': '',
                      'ovn_central_nb_port': 6641, 'ovn_central_sb_port': 6642, 'ovn_central_ssl_create_pki': False,
                      'ovn_central_sb_rbac': True, 'ovn_central_sb_northd_port': 16642,
                      # Defaults that include_tasks of a bare file does not load (vars/main.yml below).
                      'ovn_central_nb_ssl_port': 6641, 'ovn_central_sb_ssl_port': 6642,
                      'ovn_central_transport': 'ssl' if ssl else 'tcp'},
             'vars_files': [os.path.join(REPO, 'roles/ovn_central/vars/main.yml')],
             'tasks': [{'ansible.builtin.include_tasks': str(tmp_path / 'tasks.yml')}]}]
    play[0]['vars'].update(extra or {})
    (tmp_path / 'play.yml').write_text(yaml.safe_dump(play))
    proc = subprocess.run(['ansible-playbook', '-i', str(tmp_path / 'inventory.yml'), str(tmp_path / 'play.yml')],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False,
                          env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
    facts = {}
    for host in addresses:
        path = tmp_path / ('%s.json' % host)
        if path.exists():
            facts[host] = json.loads(path.read_text())
    return proc, facts


def test_members_remotes_are_published_in_list_order(tmp_path):
    addresses = {'c1': '192.0.2.11', 'c2': 'fd00::12', 'c3': '192.0.2.13'}
    proc, facts = run(tmp_path, ['c1', 'c2', 'c3'], addresses, ssl=True)
    assert proc.returncode == 0, proc.stdout
    want_nb = 'ssl:192.0.2.11:6641,ssl:[fd00::12]:6641,ssl:192.0.2.13:6641'
    want_sb = 'ssl:192.0.2.11:6642,ssl:[fd00::12]:6642,ssl:192.0.2.13:6642'
    # ovn-northd writes every Southbound table: with SSL (RBAC on the nodes' listener) it gets the
    # members' listener without a role.
    northd_sb = 'ssl:192.0.2.11:16642,ssl:[fd00::12]:16642,ssl:192.0.2.13:16642'
    assert facts == {'c1': {'nb': want_nb, 'sb': want_sb, 'northd_sb': northd_sb, 'bootstrap': True},
                     'c2': {'nb': want_nb, 'sb': want_sb, 'northd_sb': northd_sb, 'bootstrap': False},
                     'c3': {'nb': want_nb, 'sb': want_sb, 'northd_sb': northd_sb, 'bootstrap': False}}, proc.stdout


def test_without_ssl_northd_uses_the_nodes_listener(tmp_path):
    addresses = {'c1': '192.0.2.11', 'c2': '192.0.2.12', 'c3': '192.0.2.13'}
    proc, facts = run(tmp_path, ['c1', 'c2', 'c3'], addresses)
    assert proc.returncode == 0, proc.stdout
    assert facts['c2']['northd_sb'] == facts['c2']['sb'] == 'tcp:192.0.2.11:6642,tcp:192.0.2.12:6642,tcp:192.0.2.13:6642', facts


def test_tls_transition_publishes_the_tls_listeners(tmp_path):
    # Switching a TCP cluster to TLS: RAFT stays on TCP (ovn_central_ssl false), clients get ssl: on the TLS ports.
    addresses = {'c1': '192.0.2.11', 'c2': '192.0.2.12', 'c3': '192.0.2.13'}
    proc, facts = run(tmp_path, ['c1', 'c2', 'c3'], addresses,
                      extra={'ovn_central_transport': 'tcp+ssl', 'ovn_central_nb_ssl_port': 6651, 'ovn_central_sb_ssl_port': 6652})
    assert proc.returncode == 0, proc.stdout
    assert facts['c2'] == {'nb': 'ssl:192.0.2.11:6651,ssl:192.0.2.12:6651,ssl:192.0.2.13:6651',
                           'sb': 'ssl:192.0.2.11:6652,ssl:192.0.2.12:6652,ssl:192.0.2.13:6652',
                           # ovn-northd: the TLS listener without a role (RBAC holds on the nodes' one).
                           'northd_sb': 'ssl:192.0.2.11:16642,ssl:192.0.2.12:16642,ssl:192.0.2.13:16642',
                           'bootstrap': False}, facts


def test_even_member_count_is_refused(tmp_path):
    addresses = {'c1': '192.0.2.11', 'c2': '192.0.2.12'}
    proc, facts = run(tmp_path, ['c1', 'c2'], addresses)
    assert proc.returncode != 0 and facts == {}
    assert 'must name this host, name each member once, have an odd number of members' in proc.stdout, proc.stdout


def test_member_not_running_the_role_is_refused(tmp_path):
    addresses = {'c1': '192.0.2.11', 'c2': '192.0.2.12', 'c3': '192.0.2.13'}
    proc, facts = run(tmp_path, ['c1', 'c2', 'elsewhere'], addresses)
    assert proc.returncode != 0 and facts == {}, proc.stdout
    assert 'every member must run the role in this play' in proc.stdout, proc.stdout


def test_two_members_with_one_address_are_refused(tmp_path):
    addresses = {'c1': '192.0.2.11', 'c2': '192.0.2.11', 'c3': '192.0.2.13'}
    proc, facts = run(tmp_path, ['c1', 'c2', 'c3'], addresses)
    assert proc.returncode != 0 and facts == {}, proc.stdout
    assert 'each with its own address' in proc.stdout, proc.stdout


def run_member_start(tmp_path, members, failing=None):
    """The guard of roles/ovn_central/tasks/member_start.yml (the tasks before the restart itself),
    included as cluster.yml includes it, after ``failing`` failed earlier in the play."""
    with open(os.path.join(REPO, 'roles/ovn_central/tasks/member_start.yml')) as f:
        tasks = yaml.safe_load(f)
    names = [t['name'] for t in tasks]
    guard = tasks[:names.index('Start this member with them (it joins through the members already running)')]
    (tmp_path / 'member_start.yml').write_text(yaml.safe_dump(guard))
    inventory = {'all': {'hosts': dict((h, {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}'})
                                       for h in members)}}
    (tmp_path / 'inventory.yml').write_text(yaml.safe_dump(inventory))
    play = [{'hosts': 'all', 'gather_facts': False, 'vars': {'ovn_central_cluster_members': members}, 'tasks': [
        # As if every member's cluster options had just changed (a restart is due everywhere).
        {'name': 'Options changed', 'ansible.builtin.debug': {'msg': 'new options'}, 'changed_when': True,
         'register': '_ovn_central_options'},
        {'name': 'A member that did not come back', 'ansible.builtin.fail': {'msg': 'did not come back'},
         'when': 'inventory_hostname == %r' % failing},
        {'ansible.builtin.include_tasks': str(tmp_path / 'member_start.yml'),
         'loop': '{{ ovn_central_cluster_members[1:] }}', 'loop_control': {'loop_var': '_ovn_central_starting'}},
        {'name': 'Went on', 'ansible.builtin.copy': {'dest': str(tmp_path / '{{ inventory_hostname }}.went-on'), 'content': ''}},
    ]}]
    (tmp_path / 'play.yml').write_text(yaml.safe_dump(play))
    proc = subprocess.run(['ansible-playbook', '-i', str(tmp_path / 'inventory.yml'), str(tmp_path / 'play.yml')],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False,
                          env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
    return proc, sorted(h for h in members if (tmp_path / ('%s.went-on' % h)).exists())


def test_members_restart_when_all_are_still_in_the_play(tmp_path):
    proc, went_on = run_member_start(tmp_path, ['c1', 'c2', 'c3'])
    assert proc.returncode == 0, proc.stdout
    assert went_on == ['c1', 'c2', 'c3'], proc.stdout


def test_no_member_restarts_after_one_failed(tmp_path):
    # c2 failed earlier in the play (its restart did not bring it back): restarting c3 now would
    # leave c1 alone, without a majority. c3 is refused and says why; c1 (not due) goes on.
    proc, went_on = run_member_start(tmp_path, ['c1', 'c2', 'c3'], failing='c2')
    assert proc.returncode != 0
    assert ('ovn_central on c3: not restarting it for its new options, because c2 failed earlier in this play'
            in ' '.join(proc.stdout.split())), proc.stdout
    assert went_on == ['c1'], proc.stdout
