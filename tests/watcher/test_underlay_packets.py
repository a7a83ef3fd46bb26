# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The underlay mode end to end with real packets, the watcher in charge: a real kube-apiserver,
the watcher writing to the Northbound database of a real OVN (ovn-northd, an ovn-controller and a
userspace ovs-vswitchd on a "hypervisor" namespace, tests/lib/underlay_lab.py). A Node declared a
VM gets a pod; the pod (played by a raw 802.1Q socket on the VM's NIC, with the address, MAC and
tag of its annotation: the CI kernel has no VLAN devices) reaches a plain VM and its own VM; a
NetworkPolicy denies its egress and then admits the plain VM; a ClusterIP service whose
EndpointSlice names the plain VM answers it from the service's address."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

import pytest

from waiting import wait_for  # tests/lib
from underlay_lab import (  # tests/lib
    PLAIN_IP, PLAIN_MAC, ROUTER_MAC, SWITCH, UDP_ECHO, VM_B_IP, VM_B_MAC, VM_IP, VM_MAC, Hypervisor, Responder,
    udp_answers, vm_network,
)

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _underlay
from ovn_k8s_agents import annotation


class CentralNb(object):
    """The watcher tests' ``nb`` for this file: the Northbound database of the hypervisor's OVN."""

    def __init__(self, hv):
        self.hv, self.remote = hv, hv.central.remote
        self.ctl('lr-add', 'ovn_cluster_router')

    def ctl(self, *args):
        return self.hv.central.nbctl(*args)


@pytest.fixture
def nb(tmp_path):
    """Overrides the watcher tests' own: the Northbound database is the one ovn-northd serves."""
    os.makedirs(str(tmp_path / 'hv'))
    hv = Hypervisor(tmp_path / 'hv', '%d' % (os.getpid() % 100000))
    yield CentralNb(hv)
    hv.close()


def _declare(hv, vms):
    """The VM network, and each VM ({node: port}) declared as ovn_vm_node does."""
    c = hv.central
    vm_network(c)
    c.nbctl('set', 'Logical_Switch', SWITCH, 'external_ids:%s=%s' % (_names.VM_NETWORK_KEY, _names.VM_NETWORK_YES))
    for node, port in vms.items():
        c.nbctl('set', 'Logical_Switch_Port', port, 'external_ids:%s=%s' % (_names.VM_NODE_KEY, node),
                'external_ids:%s=%s' % (_names.VM_HYPERVISOR_KEY, hv.chassis),
                'options:requested-chassis=%s' % hv.chassis)


def _pod(cluster, name):
    notes = cluster.annotation(name)
    return annotation.parse(notes), _underlay.annotation_tag(notes)


def test_vm_pod_packets_policies_and_services(cluster):
    from kubernetes import client
    hv = cluster.nb.hv
    vm_node = cluster.node('vma')
    _declare(hv, {vm_node: 'vm-a'})
    vm = hv.vm('vma', 'vm-a', VM_MAC, VM_IP)
    plain = hv.vm('plain', 'plain', PLAIN_MAC, PLAIN_IP)
    cluster.watcher().wait_leading()
    cluster.pod('web', vm_node)
    cluster.wait_annotated(['web'])
    notes = cluster.annotation('web')
    net, tag = annotation.parse(notes), _underlay.annotation_tag(notes)
    port = '%s_web' % cluster.ns
    hv.wait_up(port)

    def ping(dst_mac, dst_ip, wait=6):
        return hv.raw(vm, tag, dst_mac, dst_ip, src_ip=net.ip, src_mac=net.mac, wait=wait)

    # The pod reaches the plain VM and its own VM; the replies come back on its tag.
    reply = ping(PLAIN_MAC, PLAIN_IP)
    assert reply and reply['vlan'] == tag and reply['dst'] == net.ip and reply['icmp_type'] == 0, reply
    assert ping(VM_MAC, VM_IP)['icmp_type'] == 0

    # A policy that isolates the pod's egress drops it; one that admits the plain VM lets it through.
    net_api = client.NetworkingV1Api(cluster.kube.api_client())
    policy = client.V1NetworkPolicy(metadata=client.V1ObjectMeta(name='egress'),
                                    spec=client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector(),
                                                                    policy_types=['Egress']))
    net_api.create_namespaced_network_policy(cluster.ns, policy)
    wait_for('the pod isolated', lambda: ping(PLAIN_MAC, PLAIN_IP, wait=2) is None, 60)
    policy.spec.egress = [client.V1NetworkPolicyEgressRule(
        to=[client.V1NetworkPolicyPeer(ip_block=client.V1IPBlock(cidr=PLAIN_IP + '/32'))])]
    net_api.replace_namespaced_network_policy('egress', cluster.ns, policy)
    wait_for('the plain VM admitted', lambda: ping(PLAIN_MAC, PLAIN_IP, wait=2), 60)

    # A ClusterIP service whose endpoint is the plain VM: the VM network's switch carries its load
    # balancer (clusterLBGroup), and the answer comes from the service's address.
    echo = subprocess.Popen(['ip', 'netns', 'exec', plain, sys.executable, '-c', UDP_ECHO, '5353'],
                            stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert echo.stdout.readline().strip() == 'ready'
        svc = cluster.core.create_namespaced_service(cluster.ns, client.V1Service(
            metadata=client.V1ObjectMeta(name='dns'),
            spec=client.V1ServiceSpec(ports=[client.V1ServicePort(name='dns', port=53, target_port=5353,
                                                                  protocol='UDP')])))
        client.DiscoveryV1Api(cluster.kube.api_client()).create_namespaced_endpoint_slice(
            cluster.ns, client.V1EndpointSlice(
                metadata=client.V1ObjectMeta(name='dns-1', labels={_names.SERVICE_NAME_LABEL: 'dns'}),
                address_type='IPv4', endpoints=[client.V1Endpoint(addresses=[PLAIN_IP])],
                ports=[client.DiscoveryV1EndpointPort(name='dns', port=5353, protocol='UDP')]))
        vip = svc.spec.cluster_ip

        def answer():
            return hv.raw(vm, tag, ROUTER_MAC, vip, proto='udp', dport=53, src_ip=net.ip, src_mac=net.mac, wait=2)

        reply = wait_for('the service answering', answer, 60)
        assert reply['vlan'] == tag and reply['src'] == vip and reply['sport'] == 53 and reply['payload'] == 'HELLO'
    finally:
        echo.kill()
        echo.wait()
        cluster.core.delete_namespaced_service('dns', cluster.ns)
        net_api.delete_collection_namespaced_network_policy(cluster.ns)


def test_pods_in_two_vms(cluster):
    """Pod to pod across two VMs, and a ClusterIP service with a backend in each VM, asked by a
    plain VM of the same network."""
    from kubernetes import client
    hv = cluster.nb.hv
    node_a, node_b = cluster.node('vma'), cluster.node('vmb')
    _declare(hv, {node_a: 'vm-a', node_b: 'vm-b'})
    vm_a = hv.vm('vma', 'vm-a', VM_MAC, VM_IP)
    vm_b = hv.vm('vmb', 'vm-b', VM_B_MAC, VM_B_IP)
    plain = hv.vm('plain', 'plain', PLAIN_MAC, PLAIN_IP)
    cluster.watcher().wait_leading()
    cluster.pod('a', node_a)
    cluster.pod('b', node_b)
    cluster.wait_annotated(['a', 'b'])
    (net_a, tag_a), (net_b, tag_b) = _pod(cluster, 'a'), _pod(cluster, 'b')
    for name in ('a', 'b'):
        hv.wait_up('%s_%s' % (cluster.ns, name))
    responders = [Responder(vm_a, tag_a, net_a.mac, net_a.ip, 'a'), Responder(vm_b, tag_b, net_b.mac, net_b.ip, 'b')]
    try:
        reply = hv.raw(vm_a, tag_a, net_b.mac, net_b.ip, src_ip=net_a.ip, src_mac=net_a.mac)
        assert reply and reply['vlan'] == tag_a and reply['src'] == net_b.ip and reply['icmp_type'] == 0, reply
        svc = cluster.core.create_namespaced_service(cluster.ns, client.V1Service(
            metadata=client.V1ObjectMeta(name='both'),
            spec=client.V1ServiceSpec(ports=[client.V1ServicePort(name='u', port=53, target_port=5353,
                                                                  protocol='UDP')])))
        client.DiscoveryV1Api(cluster.kube.api_client()).create_namespaced_endpoint_slice(
            cluster.ns, client.V1EndpointSlice(
                metadata=client.V1ObjectMeta(name='both-1', labels={_names.SERVICE_NAME_LABEL: 'both'}),
                address_type='IPv4', endpoints=[client.V1Endpoint(addresses=[net_a.ip]),
                                                client.V1Endpoint(addresses=[net_b.ip])],
                ports=[client.DiscoveryV1EndpointPort(name='u', port=5353, protocol='UDP')]))
        both = set(['HELLO from a', 'HELLO from b'])
        wait_for('both backends answering', lambda: udp_answers(plain, svc.spec.cluster_ip, 53, 12) >= both, 90)
    finally:
        for r in responders:
            r.stop()
        for svc_item in cluster.core.list_namespaced_service(cluster.ns).items:
            cluster.core.delete_namespaced_service(svc_item.metadata.name, cluster.ns)
