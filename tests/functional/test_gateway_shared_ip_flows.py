# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ovn_gateway role's shared-IP flows (roles/ovn_gateway/vars/main.yml, written by
ovs_openflow) with real packets on a real userspace ovs-vswitchd, without OVN.

The host's NIC eth0 is moved into breth0 by nic_to_bridge. The gateway router is played by a
namespace ``gr`` behind a veth whose bridge end stands for OVN's patch port, with the host's
own address and MAC, as GR_<node> has them in the shared-IP mode. A peer on the NIC's network
must then reach the host's services and, on the same address, the "gateway router"'s NodePort;
connections the "gateway router" opens must get their replies.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import jinja2
import pytest
import yaml

from conftest import REPO, collection_root, run_module

ZONE = 64000
NODEPORT = 30080

SERVE = r'''
import socket, sys
addr, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(8)
print('ready', flush=True)
while True:
    c, peer = s.accept()
    c.sendall(('%s saw %s' % (name, peer[0])).encode())
    c.close()
'''

CONNECT = r'''
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(c.recv(100).decode())
'''


def role_flows(**values):
    """The role's demultiplexing flows, rendered with ``values``."""
    with open(os.path.join(REPO, 'roles', 'ovn_gateway', 'vars', 'main.yml')) as f:
        role_vars = yaml.safe_load(f)
    return [jinja2.Template(flow, undefined=jinja2.StrictUndefined).render(**values)
            for flow in role_vars['_ovn_gateway_demux_flows']], role_vars


def run_long(name, args, tmp_path):
    """run_module for arguments longer than a file name may be (Ansible takes them from a file then)."""
    path = tmp_path / ('%s-args.json' % name)
    path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': dict(args, _ansible_check_mode=False, _ansible_diff=True)}))
    proc = subprocess.run([sys.executable, '-m', 'ansible_collections.ovn_k8s.overlay.plugins.modules.' + name,
                           str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          env=dict(os.environ, PYTHONPATH=collection_root()), timeout=120, check=False)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if proc.returncode:
        result.setdefault('failed', True)
    return result


def sh(*args):
    subprocess.check_call(list(args), stdout=subprocess.DEVNULL)


def ofport(remote, name):
    return subprocess.check_output(['ovs-vsctl', '--db=' + remote, '--timeout=10', 'wait-until', 'Interface',
                                    name, '--', 'get', 'Interface', name, 'ofport'],
                                   universal_newlines=True).strip()


class Servers:
    def __init__(self):
        self.procs = []

    def serve(self, ns, addr, port, name):
        proc = subprocess.Popen(['ip', 'netns', 'exec', ns, sys.executable, '-c', SERVE, addr, str(port), name],
                                stdout=subprocess.PIPE, universal_newlines=True)
        self.procs.append(proc)
        assert proc.stdout.readline().strip() == 'ready'

    def stop(self):
        for proc in self.procs:
            proc.kill()
            proc.wait()


def answer(ns, addr, port):
    """What the server at addr:port says to a client in ``ns`` (empty when nothing answers)."""
    proc = subprocess.run(['ip', 'netns', 'exec', ns, sys.executable, '-c', CONNECT, addr, str(port)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=30, check=False)
    return proc.stdout.strip()


@pytest.fixture
def shared(vswitchd):
    host, peer, remote = vswitchd['host'], vswitchd['peer'], vswitchd['remote']
    gr = host.replace('ovk-host-', 'ovk-gr-')
    subprocess.call(['ip', 'netns', 'del', gr], stderr=subprocess.DEVNULL)
    moved = run_module('nic_to_bridge', dict(remote=remote, nic='eth0', datapath_type='netdev'), netns=host)
    assert moved['changed'] and not moved.get('failed'), moved
    # The "gateway router": the host's address and MAC behind a veth whose bridge end (grp) is
    # the patch port. grp is a layer-2 port only, as nic_to_bridge makes a netdev bridge's NIC.
    sh('ip', 'netns', 'add', gr)
    sh('ip', '-n', host, 'link', 'add', 'grp', 'type', 'veth', 'peer', 'name', 'grv', 'netns', gr)
    sh('ip', 'netns', 'exec', host, 'sysctl', '-qw', 'net.ipv4.conf.grp.arp_ignore=8')
    sh('ip', 'netns', 'exec', host, 'sysctl', '-qw', 'net.ipv6.conf.grp.disable_ipv6=1')
    for ns, dev in ((host, 'grp'), (gr, 'grv')):
        sh('ip', 'netns', 'exec', ns, 'ethtool', '-K', dev, 'tx', 'off')
        sh('ip', '-n', ns, 'link', 'set', dev, 'up')
    sh('ip', '-n', gr, 'link', 'set', 'lo', 'up')
    sh('ip', '-n', gr, 'link', 'set', 'grv', 'address', moved['mac'])
    sh('ip', '-n', gr, 'addr', 'add', '192.168.77.2/24', 'dev', 'grv')
    sh('ip', '-n', gr, 'route', 'add', 'default', 'via', '192.168.77.1')
    sh('ovs-vsctl', '--db=' + remote, 'add-port', 'breth0', 'grp')
    servers = Servers()
    yield dict(vswitchd, gr=gr, servers=servers, patch=ofport(remote, 'grp'), nic=ofport(remote, 'eth0'))
    servers.stop()
    subprocess.call(['ip', 'netns', 'del', gr])


def test_host_and_gateway_router_share_one_address(shared, tmp_path):
    host, peer, gr, servers = shared['host'], shared['peer'], shared['gr'], shared['servers']
    flows, role_vars = role_flows(_ovn_gateway_patch_ofport=shared['patch'], _ovn_gateway_nic_ofport=shared['nic'],
                                  _ovn_gateway_host_ip='192.168.77.2', ovn_gateway_conntrack_zone=ZONE)
    args = dict(bridge='breth0', cookie=role_vars['_ovn_gateway_flow_cookie'], flows=flows, rundir=str(tmp_path))
    # The same port on both sides: who answers tells which side the flows chose.
    servers.serve(host, '192.168.77.2', 18090, 'host')
    servers.serve(gr, '192.168.77.2', 18090, 'gr')
    servers.serve(host, '192.168.77.2', NODEPORT, 'host')
    servers.serve(gr, '192.168.77.2', NODEPORT, 'gr')
    servers.serve(peer, '192.168.77.1', 18091, 'peer')

    real = run_long('ovs_openflow', args, tmp_path)
    assert real['changed'] and not real.get('failed'), real
    nodeport = run_module('ovs_openflow', dict(
        bridge='breth0', cookie=role_vars['_ovn_gateway_nodeport_cookie'], rundir=str(tmp_path),
        flows=['table=1,priority=90,tcp,tp_dst=%d,actions=output:%s' % (NODEPORT, shared['patch'])]))
    assert nodeport['changed'] and not nodeport.get('failed'), nodeport
    assert run_long('ovs_openflow', args, tmp_path)['changed'] is False  # the NodePort cookie is not its business

    # The external peer reaches the host's own service, and, on the same address, the NodePort
    # of the gateway router (the host listens there too and must not get it).
    for _attempt in range(3):
        assert answer(peer, '192.168.77.2', 18090) == 'host saw 192.168.77.1'
        assert answer(peer, '192.168.77.2', NODEPORT) == 'gr saw 192.168.77.1'
    # The gateway router's own connections out (pods' SNATed traffic) get their replies; so do the host's.
    for _attempt in range(3):
        assert answer(gr, '192.168.77.1', 18091) == 'peer saw 192.168.77.2'
        assert answer(host, '192.168.77.1', 18091) == 'peer saw 192.168.77.2'

    # Without the NodePort flow, the port is the host's again.
    gone = run_module('ovs_openflow', dict(bridge='breth0', cookie=role_vars['_ovn_gateway_nodeport_cookie'],
                                           rundir=str(tmp_path), state='absent'))
    assert gone['changed']
    assert answer(peer, '192.168.77.2', NODEPORT) == 'host saw 192.168.77.1'
