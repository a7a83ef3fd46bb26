# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/preflight.yml through ansible-playbook against three hosts that are network
namespaces of this machine (central, node1, node2 on one bridge, 10.250.9.0/24): every command of
a host runs inside its namespace (its shell is ``ip netns exec NS sh``). Nothing listens on the
OVN ports there, so the playbook's own listeners answer.

A clean run passes; a firewall rule that rejects the Southbound port on central and one that
drops geneve on node2 fail the run naming the connection, the port and the way out, and the
override lets it pass; an underlay MTU too small for the pod MTU and the geneve header, and a
clock an hour off (the probe of node1 runs with time shifted, through ovn_preflight_python), fail
with what to set; duplicate node names stop the run before anything is probed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import subprocess
import sys

import pytest

from checkout import REPO

HOSTS = {'central': '10.250.9.1', 'node1': '10.250.9.2', 'node2': '10.250.9.3'}
SHIFT = '''import time
_real = time.time
time.time = lambda: _real() + 3600
'''


def sh(*args):
    subprocess.check_call(list(args))


@pytest.fixture
def lan(tmp_path):
    """The three namespaces on a bridge in a fourth; yields the namespace names by host."""
    tag = '%d' % (os.getpid() % 100000)
    names = dict((host, 'ovkpf-%s-%s' % (host, tag)) for host in HOSTS)
    bridge_ns = 'ovkpf-lan-' + tag
    for ns in list(names.values()) + [bridge_ns]:
        subprocess.call(['ip', 'netns', 'del', ns], stderr=subprocess.DEVNULL)
        sh('ip', 'netns', 'add', ns)
        sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
    sh('ip', '-n', bridge_ns, 'link', 'add', 'br0', 'type', 'bridge')
    sh('ip', '-n', bridge_ns, 'link', 'set', 'br0', 'up')
    for i, (host, address) in enumerate(sorted(HOSTS.items())):
        sh('ip', 'link', 'add', 'ovkpf%d-%s' % (i, tag), 'netns', names[host], 'type', 'veth', 'peer', 'name', 'p%d' % i,
           'netns', bridge_ns)
        sh('ip', '-n', names[host], 'link', 'set', 'ovkpf%d-%s' % (i, tag), 'name', 'eth0')
        sh('ip', '-n', names[host], 'addr', 'add', address + '/24', 'dev', 'eth0')
        sh('ip', '-n', names[host], 'link', 'set', 'eth0', 'up')
        sh('ip', '-n', names[host], 'route', 'add', 'default', 'via', '10.250.9.254')
        sh('ip', '-n', bridge_ns, 'link', 'set', 'p%d' % i, 'master', 'br0', 'up')
    yield names
    for ns in list(names.values()) + [bridge_ns]:
        subprocess.call(['ip', 'netns', 'del', ns])


def preflight(tmp_path, names, **extra):
    inventory = {'all': {'children': {
        'ovn_central': {'hosts': {'central': {'ovn_central_cluster_address': HOSTS['central']}}},
        'ovn_nodes': {'hosts': dict((h, {'ovn_node_encap_ip': HOSTS[h]}) for h in ('node1', 'node2'))}}}}
    hostvars = inventory['all']['children']
    for host, ns in names.items():
        shell = tmp_path / ('shell-' + host)
        shell.write_text('#!/bin/sh\nexec ip netns exec %s /bin/sh "$@"\n' % ns)
        shell.chmod(0o755)
        group = 'ovn_central' if host == 'central' else 'ovn_nodes'
        hostvars[group]['hosts'][host].update(ansible_connection='local', ansible_shell_executable=str(shell),
                                              ansible_python_interpreter=sys.executable,
                                              ovn_preflight_dir=str(tmp_path / ('run-' + host)),
                                              # other tests' ovn-controllers are not this host's
                                              ovn_preflight_ovn_controller_pidfile=str(tmp_path / 'no-ovn-controller.pid'))
    for host, overrides in extra.pop('hosts', {}).items():
        group = 'ovn_central' if host == 'central' else 'ovn_nodes'
        hostvars[group]['hosts'][host].update(overrides)
    path = tmp_path / 'inventory.json'
    path.write_text(json.dumps(inventory))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(path),
                           os.path.join(REPO, 'playbooks', 'preflight.yml'), '-e', json.dumps(extra)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600, check=False,
                          env=dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_FORKS='5'))
    return proc


def iptables(ns, *rule):
    sh('ip', 'netns', 'exec', ns, 'iptables', *rule)


def test_preflight_passes_then_names_a_closed_port(lan, tmp_path):
    proc = preflight(tmp_path, lan)
    assert proc.returncode == 0, proc.stdout
    assert 'failed=0' in proc.stdout

    iptables(lan['central'], '-A', 'INPUT', '-p', 'tcp', '--dport', '6642', '-j', 'REJECT', '--reject-with', 'tcp-reset')
    iptables(lan['node2'], '-A', 'INPUT', '-p', 'udp', '--dport', '6081', '-j', 'DROP')
    proc = preflight(tmp_path, lan)
    assert proc.returncode == 2, proc.stdout
    for host in ('node1', 'node2'):
        assert 'preflight on %s: cannot reach 10.250.9.1:6642/tcp (' % host in proc.stdout, proc.stdout
    assert ('preflight on node2: cannot reach 10.250.9.1:6642/tcp ([Errno 111] Connection refused). no 6081/udp datagram arrived'
            ' at 10.250.9.3 from central, node1 (the tunnels need UDP 6081 open both ways).') in proc.stdout, proc.stdout
    assert 'set ovn_preflight_check_ports to false' in proc.stdout
    assert '6641/tcp (' not in proc.stdout   # the Northbound port is open

    proc = preflight(tmp_path, lan, ovn_preflight_check_ports=False)
    assert proc.returncode == 0, proc.stdout


def test_preflight_names_a_small_mtu_and_a_clock_off(lan, tmp_path):
    shifted = tmp_path / 'shifted'
    shifted.mkdir()
    (shifted / 'sitecustomize.py').write_text(SHIFT)
    python = tmp_path / 'python-shifted'
    python.write_text('#!/bin/sh\nPYTHONPATH=%s exec python3 "$@"\n' % shifted)
    python.chmod(0o755)
    sh('ip', '-n', lan['node2'], 'link', 'set', 'eth0', 'mtu', '1450')
    proc = preflight(tmp_path, lan, hosts={'node1': {'ovn_preflight_python': str(python)}})
    assert proc.returncode == 2, proc.stdout
    assert re.search(r'preflight on node1: its clock is about 3[56]\d\d(\.\d)? s off the controller', proc.stdout), proc.stdout
    assert 'Run chrony or systemd-timesyncd on every host, or set ovn_preflight_check_time to false' in proc.stdout
    assert ('preflight on node2: pods get MTU 1400 and the geneve header takes 58 bytes more, but eth0 (10.250.9.3) has MTU 1450:'
            ' set ovn_node_cni_mtu to at most 1392, or set ovn_preflight_check_mtu to false') in proc.stdout, proc.stdout
    assert 'preflight on central' not in proc.stdout

    proc = preflight(tmp_path, lan, hosts={'node1': {'ovn_preflight_python': str(python)}}, ovn_preflight_check_time=False,
                     ovn_node_cni_mtu=1392)
    assert proc.returncode == 0, proc.stdout


def test_duplicate_node_names_stop_the_run_first(lan, tmp_path):
    proc = preflight(tmp_path, lan, hosts={'node1': {'ovn_node_name': 'worker-a'}, 'node2': {'ovn_node_name': 'worker-a'}})
    assert proc.returncode == 2, proc.stdout
    assert 'preflight: ovn_node_name worker-a is given to several hosts;' in proc.stdout, proc.stdout
    assert 'Probe the host' not in proc.stdout
    proc = preflight(tmp_path, lan, hosts={'node1': {'ovn_node_name': 'Worker_A'}})
    assert proc.returncode == 2, proc.stdout
    assert 'not valid Kubernetes node names (lowercase letters, digits, - and ., at most 253 characters): Worker_A' in proc.stdout
