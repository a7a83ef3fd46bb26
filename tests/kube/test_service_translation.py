# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovn_k8s_agents.services on the objects a real kube-apiserver and kube-controller-manager
write: a Service with a named target port that two pods resolve to different numbers, the
EndpointSlices the EndpointSlice controller makes for it (one per resolved port), read as raw
API JSON as the watcher reads them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import json
import os
import sys
import time

import pytest
from kubernetes import client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'agents'))

from ovn_k8s_agents import services  # noqa: E402

_names = itertools.count(1)
GATEWAYS = {'svc-node1': ['172.18.0.11'], 'svc-node2': ['172.18.0.12']}


@pytest.fixture
def ns(kube):
    name = 'svc-%d' % next(_names)
    kube.create_namespace(name)
    yield name
    kube.core().delete_namespace(name)


@pytest.fixture
def nodes(kube):
    for i, name in enumerate(sorted(GATEWAYS)):
        kube.create_node(name, internal_ip='192.0.2.%d' % (21 + i))
    yield sorted(GATEWAYS)
    for name in GATEWAYS:
        kube.core().delete_node(name)


def raw(call, *args, **kwargs):
    """The API's own JSON (camelCase), as the watcher reads it."""
    return json.loads(call(*args, _preload_content=False, **kwargs).data)


def pod(name, node, port):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={'app': 'web'}),
        spec=client.V1PodSpec(node_name=node, containers=[client.V1Container(
            name='c', image='test.invalid/agnhost', ports=[client.V1ContainerPort(name='http', container_port=port)])]))


def wanted(kube, ns, ready_count, timeout=60):
    """The translation once the EndpointSlices hold ``ready_count`` ready endpoints."""
    core = kube.core()
    discovery = client.DiscoveryV1Api(core.api_client)
    deadline = time.time() + timeout
    while True:
        svc = raw(core.read_namespaced_service, 'web', ns)
        slices = raw(discovery.list_namespaced_endpoint_slice, ns, label_selector='kubernetes.io/service-name=web')['items']
        ready = [e for s in slices for e in s.get('endpoints') or [] if (e.get('conditions') or {}).get('ready')]
        if len(ready) == ready_count:
            return services.service_load_balancers(svc, slices, GATEWAYS)
        assert time.time() < deadline, 'the EndpointSlices did not reach %d ready endpoints: %s' % (ready_count, slices)
        time.sleep(0.2)


def test_named_target_port_nodeport_and_local_policy_from_real_endpointslices(kube, ns, nodes):
    core = kube.core()
    core.create_namespaced_service(ns, client.V1Service(
        metadata=client.V1ObjectMeta(name='web'),
        spec=client.V1ServiceSpec(type='NodePort', selector={'app': 'web'}, session_affinity='ClientIP',
                                  ports=[client.V1ServicePort(name='web', port=80, target_port='http', protocol='TCP')])))
    # Two pods resolve the port name "http" to different numbers; a third is never ready.
    for name, node, port, ip in (('web-a', nodes[0], 8080, '10.128.1.5'), ('web-b', nodes[1], 9090, '10.128.2.7'),
                                 ('web-c', nodes[1], 8080, None)):
        created = core.create_namespaced_pod(ns, pod(name, node, port))
        if ip:
            kube.mark_pod_running(created, ip)
    out = wanted(kube, ns, 2)
    svc = core.read_namespaced_service('web', ns)
    cluster_ip, node_port = svc.spec.cluster_ip, svc.spec.ports[0].node_port
    (lb,) = out['load_balancers']
    both = '10.128.1.5:8080,10.128.2.7:9090'
    assert lb['name'] == 'Service_%s/web_TCP' % ns and lb['protocol'] == 'tcp'
    assert lb['vips'] == {'%s:80' % cluster_ip: both, '172.18.0.11:%d' % node_port: both, '172.18.0.12:%d' % node_port: both}
    assert lb['options'] == {'reject': 'true', 'hairpin_snat_ip': '169.254.169.5', 'affinity_timeout': '10800'}
    assert out['warnings'] == []

    # externalTrafficPolicy Local: each gateway's own load balancer sends only to its own
    # node's endpoints; the cluster IP, and the node ports as pods reach them, to both.
    core.patch_namespaced_service('web', ns, {'spec': {'externalTrafficPolicy': 'Local'}})
    lbs = dict((lb['name'], lb) for lb in wanted(kube, ns, 2)['load_balancers'])
    name = 'Service_%s/web_TCP' % ns
    assert lbs[name + '_node_router_svc-node1']['vips'] == {'172.18.0.11:%d' % node_port: '10.128.1.5:8080'}
    assert lbs[name + '_node_router_svc-node2']['vips'] == {'172.18.0.12:%d' % node_port: '10.128.2.7:9090'}
    assert lbs[name + '_switch']['vips'] == {'172.18.0.11:%d' % node_port: both, '172.18.0.12:%d' % node_port: both}
    assert lbs[name]['vips'] == {'%s:80' % cluster_ip: both}
    core.patch_namespaced_service('web', ns, {'spec': {'externalTrafficPolicy': 'Cluster'}})

    # The pods go: the VIPs stay, empty, and reject.
    for name in ('web-a', 'web-b', 'web-c'):
        core.delete_namespaced_pod(name, ns, grace_period_seconds=0)
    lb = wanted(kube, ns, 0)['load_balancers'][0]
    assert set(lb['vips'].values()) == {''} and lb['options']['reject'] == 'true'


def test_case2_serving_terminating_endpoints_from_the_real_endpointslice_controller(kube, ns, nodes):
    """Issue 23, case 2, on what the EndpointSlice controller writes for a pod that is deleted
    with a grace period (no kubelet finishes it here, so it stays terminating, still Ready):
    serving and terminating, not ready. The service falls back to it when nothing is ready."""
    core = kube.core()
    discovery = client.DiscoveryV1Api(core.api_client)
    core.create_namespaced_service(ns, client.V1Service(
        metadata=client.V1ObjectMeta(name='web'),
        spec=client.V1ServiceSpec(selector={'app': 'web'},
                                  ports=[client.V1ServicePort(name='web', port=80, target_port='http', protocol='TCP')])))
    kube.mark_pod_running(core.create_namespaced_pod(ns, pod('web-old', nodes[0], 8080)), '10.128.1.5')
    wanted(kube, ns, 1)
    core.delete_namespaced_pod('web-old', ns, grace_period_seconds=600)
    try:
        deadline = time.time() + 60
        while True:
            svc = raw(core.read_namespaced_service, 'web', ns)
            slices = raw(discovery.list_namespaced_endpoint_slice, ns, label_selector='kubernetes.io/service-name=web')['items']
            conditions = [e.get('conditions') for s in slices for e in s.get('endpoints') or []]
            if conditions == [{'ready': False, 'serving': True, 'terminating': True}]:
                break
            assert time.time() < deadline, 'web-old never showed as serving and terminating: %s' % slices
            time.sleep(0.2)
        cluster_ip = svc['spec']['clusterIP']
        (lb,) = services.service_load_balancers(svc, slices, GATEWAYS)['load_balancers']
        assert lb['vips'] == {'%s:80' % cluster_ip: '10.128.1.5:8080'}
        # A new pod ready: it alone.
        kube.mark_pod_running(core.create_namespaced_pod(ns, pod('web-new', nodes[1], 8080)), '10.128.2.7')
        (lb,) = wanted(kube, ns, 1)['load_balancers']
        assert lb['vips'] == {'%s:80' % cluster_ip: '10.128.2.7:8080'}
    finally:
        core.delete_namespaced_pod('web-old', ns, grace_period_seconds=0)
