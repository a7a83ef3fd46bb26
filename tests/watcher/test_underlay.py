# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher in the underlay mode (pods of Nodes that are VMs), against a real kube-apiserver
and a real Northbound ovsdb-server: container ports under the VM's port with a tag unique on
the VM, addresses from the VM network, the annotation with the tag; stable across a restart,
freed on delete; the VM network's switch carries the load balancer group and a policy's port
groups take the VM pods."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from waiting import wait_for  # tests/lib
from ovn_k8s_agents import annotation

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _underlay

VM_SUBNET = '192.168.50.0/24'


def _declare(cluster, vms):
    """The VM network and its VMs, declared as the ovn_vm_node module does ({node: port})."""
    nb = cluster.nb
    switch = 'tenant-%s' % cluster.tag
    nb.ctl('ls-add', switch, '--', 'set', 'Logical_Switch', switch, 'other_config:subnet=%s' % VM_SUBNET,
           'external_ids:%s=%s' % (_names.VM_NETWORK_KEY, _names.VM_NETWORK_YES))
    for i, (node, port) in enumerate(sorted(vms.items())):
        ip = '192.168.50.%d' % (10 + i)
        nb.ctl('lsp-add', switch, port, '--', 'lsp-set-addresses', port, '0a:00:00:00:00:%02x %s' % (10 + i, ip),
               '--', 'set', 'Logical_Switch_Port', port, 'external_ids:%s=%s' % (_names.VM_NODE_KEY, node),
               'external_ids:%s=hv%d' % (_names.VM_HYPERVISOR_KEY, i), 'options:requested-chassis=hv%d' % i)
    return switch


def _port(nb, name):
    def get(column):
        return nb.ctl('--if-exists', 'get', 'Logical_Switch_Port', name, column)
    return dict(parent=get('parent_name').strip('"'), tag=get('tag_request'), addresses=get('addresses'))


def _check(cluster, switch, names, vm_of):
    """Every named pod has a port under its VM's port with a tag unique on that VM, an address of
    the VM network that no VM holds, and the annotation with that address and tag. {pod: (ip, tag)}."""
    ports = cluster.nb.pod_ports()
    pods = dict((p.metadata.name, p) for p in cluster.core.list_namespaced_pod(cluster.ns).items)
    out, tags = {}, {}
    for name in names:
        port_name = '%s_%s' % (cluster.ns, name)
        port = ports[port_name]
        assert port['switch'] == switch, port
        detail = _port(cluster.nb, port_name)
        assert detail['parent'] == vm_of[name], detail
        tag = int(detail['tag'])
        assert 1 <= tag <= 4094
        ann = pods[name].metadata.annotations or {}
        net = annotation.parse(ann)
        assert _underlay.annotation_tag(ann) == tag, ann
        assert json.loads(ann[_names.POD_NETWORKS_ANNOTATION])['default']['vlan_id'] == tag
        want = '%s %s' % (net.mac, net.ip)
        assert port['addresses'] == [want] and port['port_security'] == [want], port
        assert 'requested-chassis' not in port['options'], 'a container port is bound with its VM'
        subnet = ipaddress.ip_network(VM_SUBNET)
        assert net.interface.ip in subnet and str(net.gateway) == '192.168.50.1'
        assert net.ip not in ('192.168.50.1', '192.168.50.2', '192.168.50.10', '192.168.50.11'), net
        assert (vm_of[name], tag) not in tags, 'tag %d twice on %s' % (tag, vm_of[name])
        tags[(vm_of[name], tag)] = name
        out[name] = (net.ip, tag)
    assert len(set(ip for ip, dummy in out.values())) == len(out)
    return out


def test_vm_pods(cluster):
    vma, vmb, plain = cluster.node('vma'), cluster.node('vmb'), cluster.node('plain')
    switch = _declare(cluster, {vma: 'vm-a-' + cluster.tag, vmb: 'vm-b-' + cluster.tag})
    port_of = {vma: 'vm-a-' + cluster.tag, vmb: 'vm-b-' + cluster.tag}
    w = cluster.watcher()
    w.wait_leading()
    vm_of = {}
    for i in range(5):
        node = vma if i % 2 == 0 else vmb
        cluster.pod('p%d' % i, node)
        vm_of['p%d' % i] = port_of[node]
    cluster.pod('overlay', plain)
    cluster.wait_annotated(list(vm_of) + ['overlay'])
    first = _check(cluster, switch, list(vm_of), vm_of)
    # The overlay pod beside them is served as before, and carries no tag.
    assert cluster.nb.pod_ports()['%s_overlay' % cluster.ns]['switch'] == plain
    assert _underlay.annotation_tag(cluster.annotation('overlay')) is None
    # VM nodes get no node network of their own.
    names = set(r['name'] for r in cluster.nb.rows('Logical_Switch', 'name'))
    assert plain in names and vma not in names and vmb not in names
    # The VM network's switch carries the cluster's load balancer group.
    wait_for('clusterLBGroup on the VM network', lambda: _names.LB_GROUP in cluster.nb.ctl(
        '--columns=name', 'list', 'Load_Balancer_Group') and cluster.nb.ctl(
        'get', 'Logical_Switch', switch, 'load_balancer_group') != '[]')

    # A restart keeps every address and tag.
    w.terminate()
    before = cluster.nb.transactions()
    w2 = cluster.watcher('w2')
    w2.wait_leading()
    assert _check(cluster, switch, list(vm_of), vm_of) == first
    assert cluster.nb.transactions() == before, 'a restart in step wrote to the Northbound'

    # A deleted pod's port and tag go; a new pod on that VM does not get the freed tag back first.
    cluster.delete_pod('p0')
    wait_for('p0 port removed', lambda: '%s_p0' % cluster.ns not in cluster.nb.pod_ports())
    cluster.pod('p5', vma)
    vm_of['p5'] = port_of[vma]
    del vm_of['p0']
    cluster.wait_annotated(['p5'])
    now = _check(cluster, switch, list(vm_of), vm_of)
    assert now['p5'][1] != first['p0'][1], (now, first)
    assert all(now[n] == first[n] for n in vm_of if n != 'p5')


def test_vm_pods_join_policies(cluster):
    from kubernetes import client
    vma = cluster.node('vma')
    _declare(cluster, {vma: 'vm-a-' + cluster.tag})
    cluster.watcher().wait_leading()
    cluster.pod('a', vma)
    cluster.wait_annotated(['a'])
    net = client.NetworkingV1Api(cluster.kube.api_client())
    body = client.V1NetworkPolicy(metadata=client.V1ObjectMeta(name='deny'),
                                  spec=client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector(),
                                                                  policy_types=['Ingress']))
    net.create_namespaced_network_policy(cluster.ns, body)
    try:
        uuid = cluster.nb.ctl('--bare', '--columns=_uuid', 'find', 'Logical_Switch_Port',
                              'name=%s_a' % cluster.ns)
        deny = _names.deny_port_group(cluster.ns, 'Ingress')
        wait_for('the VM pod in its namespace\'s deny group', lambda: uuid in cluster.nb.ctl(
            '--if-exists', 'get', 'Port_Group', deny, 'ports'))
    finally:
        net.delete_collection_namespaced_network_policy(cluster.ns)


def test_vm_pod_annotation_tag_is_the_watchers(cluster):
    """A pod created with a tag of its own in its annotation gets the VM's tag written over it:
    the annotation is the watcher's word, never the pod's."""
    vma = cluster.node('vma')
    _declare(cluster, {vma: 'vm-a-' + cluster.tag})
    cluster.watcher().wait_leading()
    cluster.pod('first', vma)
    cluster.wait_annotated(['first'])
    taken = _underlay.annotation_tag(cluster.annotation('first'))
    forged = {'ovn': json.dumps({'ip_address': '192.168.50.200/24', 'mac_address': _names.mac_from_ip('192.168.50.200'),
                                 'gateway_ip': '192.168.50.1', 'vlan_id': taken})}
    cluster.pod('second', vma, annotations=forged)
    wait_for('second annotated by the watcher', lambda: _names.POD_NETWORKS_ANNOTATION in cluster.annotation('second'))
    tag = _underlay.annotation_tag(cluster.annotation('second'))
    assert tag != taken and int(_port(cluster.nb, '%s_second' % cluster.ns)['tag']) == tag
