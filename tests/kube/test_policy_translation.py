# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovn_k8s_agents.policy on NetworkPolicies, Pods and Namespaces as a real kube-apiserver
stores and serves them (its defaulting of policyTypes and protocols, its field names), read
as raw API JSON as the watcher reads them, judged on upstream netpol cases by the ACL
evaluator in tests/lib/acl_eval.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

import pytest
from kubernetes import client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'agents'))

from ovn_k8s_agents import policy  # noqa: E402
from acl_eval import Evaluator, Peer  # noqa: E402  (tests/lib)
from waiting import wait_for  # noqa: E402  (tests/lib)

NS = {'x': 'np-x', 'y': 'np-y', 'z': 'np-z'}
MGMT_IP = '10.128.0.2'


def pod_ip(ns, pod):
    return '10.128.%d.%d' % ('xyz'.index(ns) + 1, 10 + 'abc'.index(pod))


def raw(call, *args, **kwargs):
    return json.loads(call(*args, _preload_content=False, **kwargs).data)


@pytest.fixture(scope='module')
def netpol_cluster(kube):
    """The upstream netpol cluster: namespaces x, y, z (label ns=<x>), pods a, b, c in each."""
    core = kube.core()
    for short, name in NS.items():
        kube.create_namespace(name)
        core.patch_namespace(name, {'metadata': {'labels': {'ns': short}}})
        for p in 'abc':
            ports = [client.V1ContainerPort(name='serve-%d-%s' % (n, proto.lower()), container_port=n, protocol=proto)
                     for n in (80, 81) for proto in ('TCP', 'UDP')]
            created = core.create_namespaced_pod(name, client.V1Pod(
                metadata=client.V1ObjectMeta(name=p, labels={'pod': p}),
                spec=client.V1PodSpec(node_name='np-node', containers=[client.V1Container(
                    name='cont', image='test.invalid/agnhost', ports=ports)])))
            kube.mark_pod_running(created, pod_ip(short, p))
    yield kube
    # Gone before this returns: pytest-xdist may set the fixture up again on the same worker
    # (its tests and another module's interleaved), and a namespace still terminating would
    # refuse the new one. The pods first, at once: no kubelet confirms their end here.
    for name in NS.values():
        core.delete_collection_namespaced_pod(name, grace_period_seconds=0)
        core.delete_namespace(name)

    def gone():
        names = set(n.metadata.name for n in core.list_namespace().items)
        return not names & set(NS.values())
    wait_for('the netpol namespaces to be gone', gone, timeout=120)


def check(kube, policies, expect, ports=(80, 81, 82)):
    """Create ``policies`` (namespace short name, body), read everything back as raw JSON,
    translate, and compare every probe with ``expect(src, dst, proto, port)``."""
    core = kube.core()
    net = client.NetworkingV1Api(core.api_client)
    try:
        for short, body in policies:
            net.create_namespaced_network_policy(NS[short], body)
        pods = [p for name in NS.values() for p in raw(core.list_namespaced_pod, name)['items']]
        namespaces = [n for n in raw(core.list_namespace)['items'] if n['metadata']['name'] in NS.values()]
        stored = [p for name in NS.values() for p in raw(net.list_namespaced_network_policy, name)['items']]
        model = policy.network_policy_model(stored, pods, namespaces, [('n1', 'k8s-n1', MGMT_IP)])
        assert model['errors'] == [] and model['warnings'] == []
        ev = Evaluator(model)
        peers = [Peer(pod_ip(s, p), NS[s], p) for s in 'xyz' for p in 'abc']
        wrong = ['%s -> %s %s/%d' % (s, d, proto, port) for s in peers + [Peer(MGMT_IP), Peer('192.168.1.5')]
                 for d in peers for proto in ('TCP', 'UDP') for port in ports
                 if ev.allowed(s, d, proto, port) != bool(expect(s, d, proto, port))]
        assert not wrong, '%d probes wrong: %s' % (len(wrong), ', '.join(wrong[:30]))
        return stored
    finally:
        for short, body in policies:
            net.delete_namespaced_network_policy(body['metadata']['name'], NS[short])


def test_pod_and_namespace_selectors_with_match_expressions(netpol_cluster):
    body = {'metadata': {'name': 'and'}, 'spec': {
        'podSelector': {'matchLabels': {'pod': 'a'}},
        'ingress': [{'from': [{'namespaceSelector': {'matchExpressions': [{'key': 'ns', 'operator': 'NotIn', 'values': ['x']}]},
                               'podSelector': {'matchLabels': {'pod': 'b'}}}]}]}}
    stored = check(netpol_cluster, [('x', body)],
                   lambda s, d, proto, port: d != 'np-x/a' or s in ('np-y/b', 'np-z/b', MGMT_IP))
    assert stored[0]['spec']['policyTypes'] == ['Ingress']  # defaulted by the API server


def test_egress_ipblock_with_except_also_isolates_ingress(netpol_cluster):
    # No policyTypes: the API server makes it [Ingress, Egress], so x/a is isolated both ways.
    body = {'metadata': {'name': 'egress-cidr'}, 'spec': {
        'podSelector': {'matchLabels': {'pod': 'a'}},
        'egress': [{'to': [{'ipBlock': {'cidr': '10.128.0.0/16', 'except': [pod_ip('y', 'b') + '/32']}}]}]}}
    stored = check(netpol_cluster, [('x', body)],
                   lambda s, d, proto, port: (s != 'np-x/a' or d != 'np-y/b') and (d != 'np-x/a' or s == MGMT_IP))
    assert stored[0]['spec']['policyTypes'] == ['Ingress', 'Egress']


def test_named_port_and_end_port(netpol_cluster):
    body = {'metadata': {'name': 'ports'}, 'spec': {
        'podSelector': {'matchLabels': {'pod': 'a'}}, 'policyTypes': ['Ingress'],
        'ingress': [{'ports': [{'port': 'serve-81-udp', 'protocol': 'UDP'}, {'port': 81, 'endPort': 82}]}]}}
    stored = check(netpol_cluster, [('x', body)],
                   lambda s, d, proto, port: d != 'np-x/a' or s == MGMT_IP or (proto, port) in (('UDP', 81), ('TCP', 81), ('TCP', 82)))
    assert stored[0]['spec']['ingress'][0]['ports'][1]['protocol'] == 'TCP'  # defaulted


def test_default_deny_and_allow_from_namespace_union(netpol_cluster):
    deny = {'metadata': {'name': 'deny'}, 'spec': {'podSelector': {}, 'policyTypes': ['Ingress']}}
    allow = {'metadata': {'name': 'from-z'}, 'spec': {
        'podSelector': {'matchLabels': {'pod': 'c'}},
        'ingress': [{'from': [{'namespaceSelector': {'matchLabels': {'ns': 'z'}}}], 'ports': [{'port': 80}]}]}}
    check(netpol_cluster, [('y', deny), ('y', allow)],
          lambda s, d, proto, port: d.ns != 'np-y' or s == MGMT_IP or (d == 'np-y/c' and s.ns == 'np-z' and (proto, port) == ('TCP', 80)))


def test_case6_named_port_on_a_sidecar_as_the_api_server_stores_it(kube):
    """Issue 23, case 6: a sidecar (an init container with restartPolicy Always) as the API
    server stores it, with its named port; the port resolves on the pod that runs it as a
    sidecar, not on one where that port is on an ordinary init container."""
    core = kube.core()
    name = 'np-sidecar'
    kube.create_namespace(name)
    try:
        for pod, ip, policy_ in (('proxied', '10.128.5.10', 'Always'), ('plain', '10.128.5.11', None)):
            init = {'name': 'proxy', 'image': 'test.invalid/proxy',
                    'ports': [{'name': 'metrics', 'containerPort': 9090}]}
            if policy_:
                init['restartPolicy'] = policy_
            created = core.create_namespaced_pod(name, {
                'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': pod, 'labels': {'app': 'web'}},
                'spec': {'nodeName': 'np-node', 'initContainers': [init],
                         'containers': [{'name': 'web', 'image': 'test.invalid/web'}]}})
            kube.mark_pod_running(created, ip)
        pods = raw(core.list_namespaced_pod, name)['items']
        stored = dict((p['metadata']['name'], p) for p in pods)
        assert stored['proxied']['spec']['initContainers'][0]['restartPolicy'] == 'Always'
        assert stored['proxied']['spec']['initContainers'][0]['ports'][0]['protocol'] == 'TCP'  # defaulted
        body = {'metadata': {'name': 'metrics', 'namespace': name}, 'spec': {
            'podSelector': {'matchLabels': {'app': 'web'}}, 'policyTypes': ['Ingress'],
            'ingress': [{'ports': [{'port': 'metrics'}]}]}}
        model = policy.network_policy_model([body], pods, raw(core.list_namespace)['items'])
        assert model['errors'] == [] and model['warnings'] == []
        ev = Evaluator(model)
        client_ = Peer('10.128.6.20', 'elsewhere', 'client')
        assert ev.allowed(client_, Peer('10.128.5.10', name, 'proxied'), 'TCP', 9090)
        assert not ev.allowed(client_, Peer('10.128.5.11', name, 'plain'), 'TCP', 9090)
    finally:
        core.delete_namespace(name)
