# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNI plugin in the underlay mode ("mode": "underlay"), driven through cnitool (libcni)
inside a "VM": a network namespace whose eth0 is a veth to a "wire" namespace, with no Open
vSwitch at all. The wire plays OVN's part: on VLAN ``TAG`` it holds the pods' gateway, so a
ping from the pod proves its interface sends tagged frames on the VM's NIC; a pod on another
tag reaches nothing there. The real kube-apiserver holds the pods and their annotations."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import subprocess
import sys
import urllib.parse
import uuid

import pytest

import ovs_lab  # tests/lib
from cni_node import CNI_CACHE, PLUGIN, cnitool, collection_root, failed, ip_json, ok  # tests/lib

sys.path.insert(0, collection_root())
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _underlay  # noqa: E402
from ovn_k8s_agents import annotation  # noqa: E402

NETWORK = 'ovn-k8s-underlay'
TAG, OTHER_TAG = 101, 102
GATEWAY = '192.168.50.1'


def sh(*args):
    subprocess.check_call(list(args))


_VLAN = []


def vlan_devices():
    """Whether this kernel makes 802.1Q VLAN devices (module 8021q; the CI machines' kernel has
    none): tried once, in a scratch namespace."""
    if not _VLAN:
        ns = 'ovkvlanprobe-%d' % os.getpid()
        subprocess.call(['ip', 'netns', 'del', ns], stderr=subprocess.DEVNULL)
        sh('ip', 'netns', 'add', ns)
        try:
            sh('ip', '-n', ns, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1')
            _VLAN.append(subprocess.call(['ip', '-n', ns, 'link', 'add', 'link', 'probe0', 'name', 'probe0.5', 'type',
                                          'vlan', 'id', '5'], stderr=subprocess.DEVNULL) == 0)
        finally:
            subprocess.call(['ip', 'netns', 'del', ns])
    return _VLAN[0]


needs_vlan = pytest.mark.skipif('not vlan_devices()', reason='this kernel has no 802.1Q VLAN devices (8021q)')


class Vm:
    """The VM (a namespace with eth0, the plugin and its configuration) and the wire behind it."""

    def __init__(self, tmp, kube, tag):
        self.tmp, self.kube = str(tmp), kube
        self.vm, self.wire = 'ovkvm-' + tag, 'ovkwire-' + tag
        self.pods, self.netnses = [], [self.vm, self.wire]
        for ns in (self.vm, self.wire):
            subprocess.call(['ip', 'netns', 'del', ns], stderr=subprocess.DEVNULL)
            sh('ip', 'netns', 'add', ns)
            sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
        sh('ip', 'link', 'add', 'ovkv' + tag, 'netns', self.vm, 'type', 'veth', 'peer', 'name', 'ovkw' + tag,
           'netns', self.wire)
        for ns, dev in ((self.vm, 'ovkv' + tag), (self.wire, 'ovkw' + tag)):
            sh('ip', '-n', ns, 'link', 'set', dev, 'name', 'eth0')
            sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
        if vlan_devices():
            # OVN's side of the pods' VLAN: their gateway, on tag TAG only.
            sh('ip', '-n', self.wire, 'link', 'add', 'link', 'eth0', 'name', 'eth0.%d' % TAG, 'type', 'vlan', 'id',
               str(TAG))
            sh('ip', '-n', self.wire, 'addr', 'add', GATEWAY + '/24', 'dev', 'eth0.%d' % TAG)
            sh('ip', '-n', self.wire, 'link', 'set', 'eth0.%d' % TAG, 'up')
        self.forwarder = ovs_lab.LoopbackForwarder(self.vm, urllib.parse.urlsplit(kube.server).port)
        self.cni_path = os.path.join(self.tmp, 'cni-bin')
        os.makedirs(self.cni_path)
        wrapper = os.path.join(self.cni_path, 'ovn-k8s-cni-overlay')
        with open(wrapper, 'w') as f:
            f.write('#!/bin/sh\nexec %s %s "$@"\n' % (sys.executable, PLUGIN))
        os.chmod(wrapper, 0o755)
        self.log_file = os.path.join(self.tmp, 'cni.log')
        self.netconf = os.path.join(self.tmp, 'net.d')
        os.makedirs(self.netconf)
        self.configure()

    def configure(self, **overrides):
        conf = {'type': 'ovn-k8s-cni-overlay', 'mode': 'underlay', 'kubeconfig': self.kube.kubeconfig,
                'vm_interface': 'eth0', 'annotation_timeout': 5, 'log_file': self.log_file}
        conf.update(overrides)
        conf = dict((k, v) for k, v in conf.items() if v is not None)
        with open(os.path.join(self.netconf, '10-underlay.conflist'), 'w') as f:
            json.dump({'cniVersion': '1.0.0', 'name': NETWORK, 'plugins': [conf]}, f)

    def pod(self, namespace, name, ip, tag):
        """A pod in the API with the watcher's annotation (``tag`` None: an overlay one), and an
        empty network namespace."""
        from kubernetes import client
        net = annotation.PodNetwork('%s/24' % ip, '0a:58:c0:a8:32:%02x' % int(ip.rsplit('.', 1)[1]), GATEWAY)
        notes = net.annotations() if tag is None else _underlay.annotations_with_tag(net.annotations(), tag)
        created = self.kube.core().create_namespaced_pod(namespace, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, annotations=notes),
            spec=client.V1PodSpec(node_name='vm', containers=[client.V1Container(name='c', image='pause')])))
        netns = 'ovkvp-%s' % uuid.uuid4().hex[:8]
        sh('ip', 'netns', 'add', netns)
        self.netnses.append(netns)
        pod = dict(namespace=namespace, name=name, uid=created.metadata.uid, netns=netns,
                   path='/var/run/netns/' + netns, network=net)
        self.pods.append(pod)
        return pod

    def cni(self, verb, pod, **env):
        run_env = dict(os.environ, CNI_PATH=self.cni_path, NETCONFPATH=self.netconf, CNI_IFNAME='eth0',
                       CNI_ARGS='K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_UID=%s'
                       % (pod['namespace'], pod['name'], pod['uid']))
        run_env.update(env)
        return subprocess.run(['ip', 'netns', 'exec', self.vm, cnitool(), verb, NETWORK, pod['path']],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=run_env,
                              timeout=120, check=False)

    def links(self, netns=None):
        return dict((i['ifname'], i) for i in ip_json(netns or self.vm, '-d', 'link'))

    def in_pod(self, pod, *args):
        return subprocess.run(['ip', 'netns', 'exec', pod['netns']] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, check=False)

    def close(self):
        self.forwarder.stop()
        for pod in self.pods:
            container = 'cnitool-' + hashlib.sha512(pod['path'].encode()).hexdigest()[:20]
            cached = os.path.join(CNI_CACHE, '%s-%s-eth0' % (NETWORK, container))
            if os.path.exists(cached):
                os.unlink(cached)
        for ns in self.netnses:
            subprocess.call(['ip', 'netns', 'del', ns], stderr=subprocess.DEVNULL)

    def log(self):
        try:
            with open(self.log_file) as f:
                return f.read()
        except OSError:
            return ''


@pytest.fixture
def vm(kube, tmp_path):
    collection_root()
    cnitool()
    v = Vm(tmp_path, kube, '%d' % (os.getpid() % 100000))
    yield v
    v.close()


def _vlans(vm):
    """The VLAN devices left in the VM's namespace (the sub-interfaces of a failed ADD)."""
    return sorted(n for n, i in vm.links().items() if (i.get('linkinfo') or {}).get('info_kind') == 'vlan')


@needs_vlan
def test_add_check_del(vm, k8s_namespace):
    pod = vm.pod(k8s_namespace, 'web', '192.168.50.5', TAG)
    result = ok(vm.cni('add', pod))
    assert result['interfaces'] == [{'name': 'eth0', 'mac': pod['network'].mac, 'sandbox': pod['path'], 'mtu': 1500}]
    assert result['ips'] == [{'address': '192.168.50.5/24', 'gateway': GATEWAY, 'interface': 0}]
    assert result['routes'] == [{'dst': '0.0.0.0/0', 'gw': GATEWAY}]
    link = vm.links(pod['netns'])['eth0']
    assert link['linkinfo']['info_kind'] == 'vlan' and link['linkinfo']['info_data']['id'] == TAG, link
    assert link['address'] == pod['network'].mac and link['mtu'] == 1500
    assert _vlans(vm) == [], 'the sub-interface moved into the pod'
    addrs = [a['local'] for i in ip_json(pod['netns'], 'addr') if i['ifname'] == 'eth0' for a in i['addr_info']]
    assert addrs == ['192.168.50.5']
    # Tagged frames on the VM's NIC: the gateway on VLAN TAG answers (ICMP and TCP).
    ping = vm.in_pod(pod, 'ping', '-c', '1', '-W', '5', GATEWAY)
    assert ping.returncode == 0, ping.stdout
    ok(vm.cni('check', pod))

    # CHECK notices what changed; DEL removes, twice is fine; CHECK then fails.
    sh('ip', '-n', pod['netns'], 'link', 'set', 'eth0', 'mtu', '1400')
    assert 'eth0 has MTU 1400, not 1500' in failed(vm.cni('check', pod))
    ok(vm.cni('del', pod))
    assert 'eth0' not in vm.links(pod['netns'])
    ok(vm.cni('del', pod))
    assert vm.in_pod(pod, 'ping', '-c', '1', '-W', '1', GATEWAY).returncode != 0


@needs_vlan
def test_tags_keep_pods_apart_and_mtu(vm, k8s_namespace):
    vm.configure(mtu=1400, tx_checksum_offload=False)
    mine = vm.pod(k8s_namespace, 'a', '192.168.50.6', TAG)
    other = vm.pod(k8s_namespace, 'b', '192.168.50.7', OTHER_TAG)
    ok(vm.cni('add', mine))
    ok(vm.cni('add', other))
    assert vm.links(other['netns'])['eth0']['linkinfo']['info_data']['id'] == OTHER_TAG
    assert vm.links(mine['netns'])['eth0']['mtu'] == 1400
    offload = vm.in_pod(mine, 'ethtool', '-k', 'eth0').stdout
    assert 'tx-checksumming: off' in offload, offload
    assert vm.in_pod(mine, 'ping', '-c', '1', '-W', '5', GATEWAY).returncode == 0
    # Nothing answers on VLAN OTHER_TAG: the other pod's frames never reach tag TAG's gateway.
    assert vm.in_pod(other, 'ping', '-c', '1', '-W', '2', GATEWAY).returncode != 0
    ok(vm.cni('check', other))
    ok(vm.cni('del', mine))
    ok(vm.cni('del', other))


def test_refusals_leave_nothing(vm, k8s_namespace):
    overlay = vm.pod(k8s_namespace, 'overlay', '192.168.50.8', None)
    err = vm.cni('add', overlay)
    assert err.returncode != 0
    assert 'its network annotation has no vlan_id: its node is not declared a VM' in err.stdout + err.stderr
    assert 'eth0' not in vm.links(overlay['netns']) and _vlans(vm) == []

    busy = vm.pod(k8s_namespace, 'busy', '192.168.50.9', TAG)
    # A VM interface that is not there, a bad MTU: clear errors, nothing made.
    vm.configure(vm_interface='ens9')
    out = vm.cni('add', busy)
    assert out.returncode != 0 and 'the VM has no network interface ens9' in out.stdout + out.stderr
    vm.configure(mtu='big')
    out = vm.cni('add', busy)
    assert out.returncode != 0 and "mtu is 'big'; expected an integer from 576 to 65535" in out.stdout + out.stderr
    assert 'eth0' not in vm.links(busy['netns']) and _vlans(vm) == []


@needs_vlan
def test_tag_in_use_on_the_vm(vm, k8s_namespace):
    """A tag the VM already uses (an earlier pod's interface not yet removed): try again later."""
    busy = vm.pod(k8s_namespace, 'busy', '192.168.50.9', TAG)
    sh('ip', '-n', vm.vm, 'link', 'add', 'link', 'eth0', 'name', 'stale', 'type', 'vlan', 'id', str(TAG))
    out = vm.cni('add', busy)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and 'eth0 already has VLAN %d (stale)' % TAG in text and '"code": 11' in text, text
    assert 'eth0' not in vm.links(busy['netns']) and _vlans(vm) == ['stale']


@pytest.mark.skipif('vlan_devices()', reason='this kernel makes VLAN devices: the tests above run instead')
def test_kernel_without_vlan_devices(vm, k8s_namespace):
    """Where the kernel has no 802.1Q devices, ADD says so and leaves nothing; DEL of it is fine
    and CHECK names the missing interface."""
    pod = vm.pod(k8s_namespace, 'novlan', '192.168.50.5', TAG)
    out = vm.cni('add', pod)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and 'this kernel has no 802.1Q VLAN devices (module 8021q)' in text, text
    assert 'eth0' not in vm.links(pod['netns']) and _vlans(vm) == [] and sorted(vm.links()) == ['eth0', 'lo']
    ok(vm.cni('del', pod))
