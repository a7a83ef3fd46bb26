# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ovn_node role's topology tasks through ansible-playbook, with several inventory hosts
(all on localhost) against a real Northbound ovsdb-server and a real Open vSwitch database.

- every mix of pinned and unpinned subnets (the first host pinned or not) allocates once and
  gives every host its subnet; a repeat changes nothing;
- check mode on a fresh node (no br-int yet, nothing in the Northbound database) predicts
  instead of failing or waiting for br-int.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import NB_SCHEMA, OVS_SCHEMA, REPO, OvsdbServer, collection_root, nbctl
from test_integration_targets import ansible_playbook

LONG = 'worker-node-01.rack-7.dc-west.example.com'

PLAY = '''---
- name: The ovn_node role's {tasks} tasks
  hosts: all
  gather_facts: false
  tasks:
    - name: Run them
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_node
        tasks_from: {tasks}
'''


@pytest.fixture
def dbs(tmp_path):
    nb = OvsdbServer(tmp_path, [NB_SCHEMA], 'nb')
    # Named db.sock in its own directory: ovs-vsctl finds it through OVS_RUNDIR.
    ovs_dir = tmp_path / 'ovs'
    ovs_dir.mkdir()
    ovs = OvsdbServer(ovs_dir, [OVS_SCHEMA], 'db')
    subprocess.check_call(['ovs-vsctl', '--db=' + ovs.remote, '--no-wait', 'init'])
    nbctl(nb.remote, 'lr-add', 'ovn_cluster_router')
    yield dict(nb=nb.remote, ovs=ovs.remote, ovs_dir=str(ovs_dir), tmp=tmp_path)
    nb.stop()
    ovs.stop()


def run_role(dbs, hosts, tasks='node_network', check=False):
    """Apply the role's ``tasks`` file to ``hosts`` ({inventory name: host vars})."""
    tmp = dbs['tmp']
    inventory = {'all': {'hosts': dict((h, dict(v, ansible_connection='local', ansible_python_interpreter=sys.executable))
                                       for h, v in hosts.items()),
                         'vars': {'ovn_node_nb_remote': dbs['nb'], 'ovn_node_cluster_subnet': '10.244.0.0/16',
                                  'ovn_node_host_prefix': 24}}}
    (tmp / 'inventory.json').write_text(json.dumps(inventory))
    (tmp / 'play.yml').write_text(PLAY.format(tasks=tasks))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_FORCE_COLOR='0', ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp / 'al'),
               ANSIBLE_HOME=str(tmp / 'ah'), ANSIBLE_STDOUT_CALLBACK='json', ANSIBLE_CALLBACK_RESULT_FORMAT='json',
               OVS_RUNDIR=dbs['ovs_dir'], OVN_NB_DB=dbs['nb'])
    cmd = [ansible_playbook(), '-i', str(tmp / 'inventory.json'), str(tmp / 'play.yml')] + (['--check', '--diff'] if check else [])
    started = time.time()
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=600, check=False)
    assert proc.returncode == 0, 'ansible-playbook failed:\n%s\n%s' % (proc.stdout[-6000:], proc.stderr[-3000:])
    out = json.loads(proc.stdout)
    out['seconds'] = time.time() - started
    return out


def subnets(nb):
    out = {}
    for line in nbctl(nb, '--format=csv', '--data=bare', '--no-headings', '--columns=name,other_config',
                      'list', 'Logical_Switch').splitlines():
        name, other = line.split(',', 1)
        out[name] = dict(kv.split('=', 1) for kv in other.split())['subnet']
    return out


def task_results(out, name):
    """{host: result} of the task called ``name`` in a json-callback run."""
    for play in out['plays']:
        for task in play['tasks']:
            if task['task']['name'].split(' : ')[-1] == name:
                return task['hosts']
    raise AssertionError('no task %r in the run' % name)


MIXES = {
    # inventory order matters: the allocation runs once, on the first host
    'first pinned, others not': ({'a': '10.244.9.0/24', 'b': '', 'c': ''},
                                 {'a': '10.244.9.0/24', 'b': '10.244.0.0/24', 'c': '10.244.1.0/24'}),
    'first not, last pinned': ({'a': '', 'b': '', 'c': '10.244.0.0/24'},
                               {'a': '10.244.1.0/24', 'b': '10.244.2.0/24', 'c': '10.244.0.0/24'}),
    'all pinned': ({'a': '10.244.5.0/24', 'b': '10.244.6.0/24', 'c': '10.244.7.0/24'},
                   {'a': '10.244.5.0/24', 'b': '10.244.6.0/24', 'c': '10.244.7.0/24'}),
    'none pinned': ({'a': '', 'b': '', 'c': ''},
                    {'a': '10.244.0.0/24', 'b': '10.244.1.0/24', 'c': '10.244.2.0/24'}),
}


@pytest.mark.parametrize('mix', sorted(MIXES))
def test_every_mix_of_pinned_and_unpinned_subnets(dbs, mix):
    pins, wanted = MIXES[mix]
    # Host c is a Kubernetes node with a long FQDN name.
    names = {'a': 'a', 'b': 'b', 'c': LONG}
    hosts = dict((h, {'ovn_node_name': names[h], 'ovn_node_subnet': pins[h]}) for h in pins)
    first = run_role(dbs, hosts)
    assert subnets(dbs['nb']) == dict((names[h], s) for h, s in wanted.items())
    net = task_results(first, "The node's switch, router port and management port in the Northbound database")
    for h in hosts:
        assert net[h]['changed'] and net[h]['mgmt_interface'] == 'ovn-k8s-mp0', net[h]
        assert net[h]['mgmt_port'] == 'k8s-' + names[h] and net[h]['subnet'] == wanted[h]
    again = run_role(dbs, hosts)
    assert all(s['changed'] == 0 and s['failures'] == 0 for s in again['stats'].values()), again['stats']


def test_a_pin_outside_the_cluster_range_fails_with_one_sentence(dbs):
    hosts = {'a': {'ovn_node_subnet': ''}, 'b': {'ovn_node_subnet': '10.99.0.0/24'}}
    with pytest.raises(AssertionError) as err:
        run_role(dbs, hosts)
    assert 'node b: subnet 10.99.0.0/24 is outside the cluster range 10.244.0.0/16' in str(err.value)
    assert subnets(dbs['nb']) == {}


def test_check_mode_on_a_fresh_node_predicts(dbs):
    hosts = {'n1': {'ovn_node_name': LONG, 'ovn_node_subnet': ''}}
    out = run_role(dbs, hosts, tasks='topology', check=True)
    assert out['seconds'] < 50, 'check mode must not wait for br-int'
    assert subnets(dbs['nb']) == {}, 'check mode must not write'
    net = task_results(out, "The node's switch, router port and management port in the Northbound database")['n1']
    assert net['changed'] and net['mgmt_cidr'] == '10.244.0.2/24'
    assert net['diff']['after']['Logical_Switch_Port k8s-' + LONG]['addresses'] == ['0a:58:0a:f4:00:02 10.244.0.2']
    told = task_results(out, 'Check mode before ovn-controller made br-int')['n1']
    assert told['changed'] and 'ovn-k8s-mp0' in told['msg'] and '10.244.0.2/24' in told['msg']
    assert out['stats']['n1']['failures'] == 0


ROLE_PLAY = '''---
- name: The whole {role} role
  hosts: all
  gather_facts: false
  roles:
    - role: ovn_k8s.overlay.{role}
'''


def run_whole_role(tmp_path, host_vars, ovs_rundir, role='ovn_node'):
    """The whole ovn_node role (main entry point, argument specs, the ovn_cluster dependency) in
    check mode on localhost, with Open vSwitch looked for in ``ovs_rundir``."""
    inventory = {'all': {'hosts': {'n1': dict(host_vars, ansible_connection='local',
                                              ansible_python_interpreter=sys.executable)}}}
    (tmp_path / 'inventory.json').write_text(json.dumps(inventory))
    (tmp_path / 'play.yml').write_text(ROLE_PLAY.format(role=role))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'al'),
               ANSIBLE_HOME=str(tmp_path / 'ah'), OVS_RUNDIR=ovs_rundir)
    return subprocess.run([ansible_playbook(), '-i', str(tmp_path / 'inventory.json'), str(tmp_path / 'play.yml'),
                           '--check', '--diff'], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=600, check=False)


@pytest.mark.skipif(not os.path.exists('/usr/bin/ovs-vsctl') or not os.path.exists('/usr/bin/apt-get'),
                    reason='needs Debian with openvswitch-switch installed')
def test_check_mode_on_a_host_without_running_open_vswitch_predicts(tmp_path):
    empty = tmp_path / 'no-ovs'
    empty.mkdir()
    proc = run_whole_role(tmp_path, {'ovn_node_central_address': '127.0.0.1', 'ovn_node_name': LONG,
                                     'ovn_cluster_subnet': '10.244.0.0/16'}, str(empty))
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert 'Open vSwitch does not run here yet' in proc.stdout and 'k8s-' + LONG in proc.stdout, proc.stdout[-5000:]
    assert 'failed=0' in proc.stdout


@pytest.mark.parametrize('settings,message', [
    ({'ovn_cluster_subnet': '10.244.0.0'}, 'ovn_cluster_subnet (10.244.0.0) and'),
    ({'ovn_cluster_host_prefix': 12}, 'ovn_cluster_host_prefix (12) must be between'),
    ({'ovn_cluster_datapath_type': 'dpdk'}, 'ovn_cluster_datapath_type'),
])
def test_cluster_settings_are_checked_once_for_every_role(tmp_path, settings, message):
    proc = run_whole_role(tmp_path, dict(settings, ovn_node_central_address='127.0.0.1'), str(tmp_path))
    assert proc.returncode != 0 and message in proc.stdout, proc.stdout[-5000:]
    assert 'Install Open vSwitch' not in proc.stdout, 'nothing may run after a bad setting'


def test_gateway_check_mode_on_a_host_without_running_open_vswitch_predicts(tmp_path):
    empty = tmp_path / 'no-ovs'
    empty.mkdir()
    proc = run_whole_role(tmp_path, {'ovn_gateway_nic': 'eth9', 'ovn_gateway_physical_ip': '192.0.2.50/24',
                                     'ovn_gateway_default_gateway': '192.0.2.1', 'ovn_gateway_join_subnet': '100.64.0.0/29',
                                     'ovn_gateway_nb_remote': 'tcp:127.0.0.1:6641'}, str(empty), role='ovn_gateway')
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert 'Open vSwitch does not run here yet' in proc.stdout and 'GR_n1' in proc.stdout, proc.stdout[-5000:]
    assert 'failed=0' in proc.stdout
