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
    # The role's own constants (the conntrack marks) as the role renders them.
    values = dict({k: v for k, v in role_vars.items() if isinstance(v, str) and '{' not in v}, **values)
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
    again = run_long('ovs_openflow', args, tmp_path)
    assert again['changed'] is False, again  # the NodePort cookie is not its business

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


ECHO = r'''
import socket, sys, threading
proto, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if proto == 'udp':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print('ready', flush=True)
    while True:
        data, peer = s.recvfrom(200)
        s.sendto(b'echo %s from %d' % (data.strip(), peer[1]), peer)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(8)
print('ready', flush=True)


def serve(c, peer):
    f = c.makefile('rb')
    for line in f:
        c.sendall(b'echo %s from %d' % (line.strip(), peer[1]))


while True:
    c, peer = s.accept()
    threading.Thread(target=serve, args=(c, peer), daemon=True).start()
'''

# A client that keeps one connection (or UDP flow) open and, for each line on stdin, sends the
# line and prints the answer (or what went wrong). The first line it prints is its own port.
KEEP = r'''
import socket, sys
proto, addr, port, bind_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if proto == 'udp' else socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('', bind_port))
s.settimeout(4)
try:
    s.connect((addr, port))
    print(s.getsockname()[1], flush=True)
except OSError as exc:
    print('connect failed: %s' % exc.__class__.__name__, flush=True)
    sys.exit(0)
for line in sys.stdin:
    try:
        s.send(line.strip().encode() + b'\n')
        print(s.recv(200).decode().strip() or 'closed', flush=True)
    except OSError as exc:
        print('failed: %s' % exc.__class__.__name__, flush=True)
'''


class Kept:
    """A KEEP client in a namespace."""

    def __init__(self, ns, proto, addr, port, bind_port=0):
        self.proc = subprocess.Popen(['ip', 'netns', 'exec', ns, sys.executable, '-c', KEEP, proto, addr, str(port),
                                      str(bind_port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     universal_newlines=True)
        self.first = self.proc.stdout.readline().strip()

    def ask(self, word):
        self.proc.stdin.write(word + '\n')
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self):
        self.proc.kill()
        self.proc.wait()


@pytest.mark.parametrize('proto', ['tcp', 'udp'])
@pytest.mark.parametrize('owner', ['host', 'gr'])
def test_a_connection_stays_with_whoever_made_it(shared, tmp_path, proto, owner):
    """The security of the shared address (issue 21). The owner (the host, or the gateway router
    for a pod's connection) holds a connection or UDP flow to a remote address and port; the
    other side then uses the same source port to the same remote address and port, as a pod can
    whose traffic the gateway router SNATs to the host's address. The remote's packets must keep
    going to the owner, and the intruder gets nothing. With the flows of before (only OVN's
    traffic committed to the zone) the host lost its connection to the gateway router both ways;
    with marks but without the look-up before the commit, a TCP one."""
    host, peer, gr, servers = shared['host'], shared['peer'], shared['gr'], shared['servers']
    flows, role_vars = role_flows(_ovn_gateway_patch_ofport=shared['patch'], _ovn_gateway_nic_ofport=shared['nic'],
                                  _ovn_gateway_host_ip='192.168.77.2', ovn_gateway_conntrack_zone=ZONE)
    real = run_long('ovs_openflow', dict(bridge='breth0', cookie=role_vars['_ovn_gateway_flow_cookie'], flows=flows,
                                         rundir=str(tmp_path)), tmp_path)
    assert real['changed'] and not real.get('failed'), real
    proc = subprocess.Popen(['ip', 'netns', 'exec', peer, sys.executable, '-c', ECHO, proto, '192.168.77.1', '18095'],
                            stdout=subprocess.PIPE, universal_newlines=True)
    servers.procs.append(proc)
    assert proc.stdout.readline().strip() == 'ready'
    intruder_ns = gr if owner == 'host' else host
    owners = Kept(host if owner == 'host' else gr, proto, '192.168.77.1', 18095)
    intruder = None
    try:
        port = int(owners.first)
        assert owners.ask('one') == 'echo one from %d' % port
        intruder = Kept(intruder_ns, proto, '192.168.77.1', 18095, bind_port=port)
        if proto == 'tcp':
            assert intruder.first == 'connect failed: TimeoutError'
        else:
            assert intruder.first == str(port)
            assert intruder.ask('two') == 'failed: TimeoutError'
        for word in ('three', 'four'):
            assert owners.ask(word) == 'echo %s from %d' % (word, port)
        if proto == 'udp':  # the owner's answers did not go to the intruder either
            assert intruder.ask('five') == 'failed: TimeoutError'
            assert owners.ask('six') == 'echo six from %d' % port
    finally:
        owners.close()
        if intruder is not None:
            intruder.close()
