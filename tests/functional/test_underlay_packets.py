# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The underlay mode's OVN side with real packets: ovn-northd, ovn-controller and a userspace
ovs-vswitchd on a "hypervisor" namespace; two "VMs" (namespaces whose eth0 is a port of br-int
bound to their logical ports), one of them declared a Kubernetes node with ovn_vm_node and
holding a pod (a container port made as the watcher makes it: parent the VM's port, a VLAN tag,
"MAC IP" with port security).

The CI machines' kernel has no 802.1Q devices, so the pod's side is played by a raw packet
socket on the VM's eth0 that sends and reads 802.1Q frames itself (what the VLAN sub-interface
of the CNI plugin would do). ICMP to the plain VM and to the pod's own VM come back on the
pod's tag; another tag, a spoofed source, and an ACL of a port group holding the pod's port
(denying, then admitting) are told apart; a UDP service whose load balancer sits on the VM
network's switch answers from its VIP."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

import pytest

from conftest import collection_root, run_module
from underlay_lab import (  # tests/lib
    PLAIN_IP, PLAIN_MAC, POD_IP, POD_MAC, ROUTER_MAC, SWITCH, TAG, UDP_ECHO, VIP, VIP_PORT, VM_IP, VM_MAC,
    BACKEND_PORT, VM_B_IP, VM_B_MAC, Hypervisor, Responder, link, vm_network,
)

TCP_LISTEN = r'''
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1])))
s.listen(8)
print('ready', flush=True)
time.sleep(600)
'''

sys.path.insert(0, collection_root())
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._names import mac_from_ip as mac_of  # noqa: E402


@pytest.fixture
def hv(tmp_path):
    collection_root()
    h = Hypervisor(tmp_path, '%d' % (os.getpid() % 100000))
    yield h
    h.close()


def test_pod_in_a_vm_reaches_its_network(hv):
    c = hv.central
    nb = c.remote
    vm_network(c)
    declared = run_module('ovn_vm_node', dict(remote=nb, node='k8s-vm-a', switch=SWITCH, port='vm-a',
                                              hypervisor=hv.chassis))
    assert declared['changed'] and not declared.get('failed'), declared
    # The pod's port as the watcher makes it.
    address = '%s %s' % (POD_MAC, POD_IP)
    made = run_module('ovn_lsp', dict(remote=nb, switch=SWITCH, name='ns_pod', parent_name='vm-a', tag=TAG,
                                      addresses=[address], port_security=[address],
                                      external_ids={'ovn-k8s-watcher': 'pod', 'namespace': 'ns', 'pod': 'pod'}))
    assert made['changed'], made
    vm = hv.vm('vma', 'vm-a', VM_MAC, VM_IP)
    plain = hv.vm('plain', 'plain', PLAIN_MAC, PLAIN_IP)
    for port in ('vm-a', 'plain', 'ns_pod'):
        hv.wait_up(port)

    # Pod -> plain VM and pod -> its own VM: echo replies come back on the pod's tag.
    reply = hv.raw(vm, TAG, PLAIN_MAC, PLAIN_IP)
    assert reply == dict(vlan=TAG, src=PLAIN_IP, dst=POD_IP, dst_mac=POD_MAC, icmp_type=0), reply
    reply = hv.raw(vm, TAG, VM_MAC, VM_IP)
    assert reply and reply['vlan'] == TAG and reply['icmp_type'] == 0, reply
    # Another tag is no port; a spoofed source fails the pod's port security.
    assert hv.raw(vm, TAG + 1, PLAIN_MAC, PLAIN_IP, wait=3) is None
    assert hv.raw(vm, TAG, PLAIN_MAC, PLAIN_IP, src_ip='192.168.50.99', wait=3) is None
    # The VM's own untagged traffic is the VM's, as before.
    ping = subprocess.run(['ip', 'netns', 'exec', vm, 'ping', '-c', '1', '-W', '5', PLAIN_IP], check=False,
                          stdout=subprocess.PIPE, universal_newlines=True)
    assert ping.returncode == 0, ping.stdout

    # A policy's port group holding the pod's port: its drop applies to the pod's tagged traffic
    # (and not to its VM's), then an allow above it admits it again.
    c.nbctl('pg-add', 'np_test', 'ns_pod')
    c.nbctl('acl-add', 'np_test', 'from-lport', '1000', 'inport == @np_test && ip4', 'drop')
    c.nbctl('--wait=hv', 'sync')
    assert hv.raw(vm, TAG, PLAIN_MAC, PLAIN_IP, wait=3) is None
    assert subprocess.call(['ip', 'netns', 'exec', vm, 'ping', '-c', '1', '-W', '5', PLAIN_IP],
                           stdout=subprocess.DEVNULL) == 0
    c.nbctl('acl-add', 'np_test', 'from-lport', '1001', 'inport == @np_test && ip4.dst == %s' % PLAIN_IP,
            'allow-related')
    c.nbctl('--wait=hv', 'sync')
    assert hv.raw(vm, TAG, PLAIN_MAC, PLAIN_IP)['icmp_type'] == 0
    # TCP through the stateful ACLs: the plain VM's listening socket answers the pod's SYN with a
    # SYN-ACK on the pod's tag (the raw pod goes no further than the handshake's second step).
    listener = subprocess.Popen(['ip', 'netns', 'exec', plain, sys.executable, '-c', TCP_LISTEN, '8080'],
                                stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert listener.stdout.readline().strip() == 'ready'
        reply = hv.raw(vm, TAG, PLAIN_MAC, PLAIN_IP, proto='tcp', dport=8080)
        assert reply and reply['vlan'] == TAG and reply['sport'] == 8080 and reply['flags'] & 0x12 == 0x12, reply
        assert hv.raw(vm, TAG, PLAIN_MAC, PLAIN_IP, proto='tcp', dport=8080, src_ip='192.168.50.99', wait=3) is None
    finally:
        listener.kill()
        listener.wait()

    # A service: a UDP load balancer on the VM network's switch, its backend on the plain VM.
    echo = subprocess.Popen(['ip', 'netns', 'exec', plain, sys.executable, '-c', UDP_ECHO, str(BACKEND_PORT)],
                            stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert echo.stdout.readline().strip() == 'ready'
        c.nbctl('lb-add', 'Service_ns/dns_UDP', '%s:%d' % (VIP, VIP_PORT), '%s:%d' % (PLAIN_IP, BACKEND_PORT), 'udp')
        c.nbctl('ls-lb-add', SWITCH, 'Service_ns/dns_UDP')
        c.nbctl('acl-add', 'np_test', 'from-lport', '1001', 'inport == @np_test && ip4.dst == %s' % VIP,
                'allow-related')
        c.nbctl('--wait=hv', 'sync')
        reply = hv.raw(vm, TAG, ROUTER_MAC, VIP, proto='udp', dport=VIP_PORT)
        assert reply and reply['vlan'] == TAG and reply['src'] == VIP and reply['sport'] == VIP_PORT, reply
        assert reply['payload'] == 'HELLO'
    finally:
        echo.kill()
        echo.wait()


@pytest.fixture
def two_hypervisors(tmp_path):
    tag = '%d' % (os.getpid() % 100000)
    tunnels = link(tag, [tag + 'a', tag + 'b'])
    made = []
    try:
        os.makedirs(str(tmp_path / 'a'))
        os.makedirs(str(tmp_path / 'b'))
        made.append(Hypervisor(tmp_path / 'a', tag + 'a', tunnel=tunnels[0]))
        made.append(Hypervisor(tmp_path / 'b', tag + 'b', central=made[0].central, tunnel=tunnels[1]))
        yield made
    finally:
        for hv in reversed(made):
            hv.close()
        for t in ('a', 'b'):
            subprocess.call(['ip', 'netns', 'del', 'ovkhv-%s%s' % (tag, t)], stderr=subprocess.DEVNULL)


def test_pods_in_vms_on_two_hypervisors(two_hypervisors):
    """A pod in a VM on one hypervisor and a pod in a VM on another reach each other through
    geneve between the hypervisors (the replies on each pod's own tag)."""
    hv1, hv2 = two_hypervisors
    c = hv1.central
    vm_network(c)
    for node, port, hv in (('k8s-vm-a', 'vm-a', hv1), ('k8s-vm-b', 'vm-b', hv2)):
        declared = run_module('ovn_vm_node', dict(remote=c.remote, node=node, switch=SWITCH, port=port,
                                                  hypervisor=hv.chassis))
        assert not declared.get('failed'), declared
    pods = {'a': ('vm-a', 11, '192.168.50.31'), 'b': ('vm-b', 12, '192.168.50.32')}
    for name, (parent, tag, ip) in pods.items():
        address = '%s %s' % (mac_of(ip), ip)
        made = run_module('ovn_lsp', dict(remote=c.remote, switch=SWITCH, name='ns_' + name, parent_name=parent,
                                          tag=tag, addresses=[address], port_security=[address]))
        assert made['changed'], made
    vm_a = hv1.vm('vma', 'vm-a', VM_MAC, VM_IP)
    vm_b = hv2.vm('vmb', 'vm-b', VM_B_MAC, VM_B_IP)
    hv1.wait_up('ns_a')
    hv2.wait_up('ns_b')
    responder = Responder(vm_b, 12, mac_of('192.168.50.32'), '192.168.50.32', 'b')
    try:
        reply = hv1.raw(vm_a, 11, mac_of('192.168.50.32'), '192.168.50.32', src_ip='192.168.50.31',
                        src_mac=mac_of('192.168.50.31'), wait=10)
        assert reply == dict(vlan=11, src='192.168.50.32', dst='192.168.50.31', dst_mac=mac_of('192.168.50.31'),
                             icmp_type=0), reply
        # And the VM on the other hypervisor itself, untagged, from the pod.
        reply = hv1.raw(vm_a, 11, VM_B_MAC, VM_B_IP, src_ip='192.168.50.31', src_mac=mac_of('192.168.50.31'))
        assert reply and reply['icmp_type'] == 0, reply
    finally:
        responder.stop()
