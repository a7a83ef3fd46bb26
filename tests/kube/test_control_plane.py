# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test control plane behaves as a real cluster does for what the watcher and the CNI
plugin rely on, seen through the official Python client: list then watch with bookmarks, 410
Gone and relist, merge patches, the status subresource, 409 conflicts, EndpointSlices made by
the real controller, and the pinned versions."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import json

import pytest
from kubernetes import client, watch

import kube_control_plane  # tests/lib, put on the path by tests/conftest.py

_names = itertools.count(1)


@pytest.fixture
def ns(kube):
    """A fresh namespace (its default ServiceAccount exists), deleted afterwards."""
    name = 'test-%d' % next(_names)
    kube.create_namespace(name)
    yield name
    kube.core().delete_namespace(name)


def _pod(name, node=None, labels=None):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        spec=client.V1PodSpec(node_name=node, containers=[client.V1Container(name='c', image='test.invalid/pause')]))


def _watch(func, *args, **kwargs):
    """Yields (type, object) from a watch that the server ends after timeout_seconds."""
    kwargs.setdefault('timeout_seconds', 20)
    kwargs.setdefault('_request_timeout', kwargs['timeout_seconds'] + 10)
    w = watch.Watch()
    try:
        for event in w.stream(func, *args, **kwargs):
            yield event['type'], event['object']
    finally:
        w.stop()


def test_versions_are_the_pinned_ones(kube):
    pins = kube_control_plane.pinned_versions()
    info = client.VersionApi(kube.core().api_client).get_code()
    assert info.git_version == pins['kubernetes']
    assert (info.major, info.minor) == tuple(pins['kubernetes'][1:].split('.')[:2])
    versions = json.loads(kube.kubectl('version', '--output=json'))
    assert versions['clientVersion']['gitVersion'] == pins['kubernetes']
    assert versions['serverVersion']['gitVersion'] == pins['kubernetes']
    assert json.loads(kube._http(kube.etcd_url + '/version'))['etcdserver'] == pins['etcd'][1:]


def test_list_then_watch_from_the_list_with_bookmarks(kube, ns):
    core = kube.core()
    core.create_namespaced_pod(ns, _pod('before'))
    listed = core.list_namespaced_pod(ns)
    assert [p.metadata.name for p in listed.items] == ['before']
    # Changes made after the list, before the watch starts: the watch from the list's
    # resourceVersion must deliver each of them, in order, and nothing from before it.
    for name in ('a', 'b', 'c'):
        core.create_namespaced_pod(ns, _pod(name))
    core.delete_namespaced_pod('a', ns)
    seen, bookmark, watches = [], None, 0
    # The API server sends bookmarks about once a minute on a quiet watch and shortly before the
    # watch's deadline, but on a loaded machine a watch may end first: as a real client does,
    # watch again from the last resourceVersion seen, a bounded number of times.
    resource_version = listed.metadata.resource_version
    while bookmark is None and watches < 4:
        watches += 1
        for kind, obj in _watch(core.list_namespaced_pod, ns, resource_version=resource_version,
                                allow_watch_bookmarks=True, timeout_seconds=80):
            if kind == 'BOOKMARK':
                # The client leaves a bookmark's object as the raw dict (it may be incomplete).
                bookmark = int(obj['metadata']['resourceVersion'] if isinstance(obj, dict) else obj.metadata.resource_version)
                break
            seen.append((kind, obj.metadata.name, int(obj.metadata.resource_version)))
            resource_version = obj.metadata.resource_version
    events = [(k, n) for k, n, _rv in seen]
    # Newer API servers also send the deletion's own update (deletionTimestamp set) first.
    assert events[:3] == [('ADDED', 'a'), ('ADDED', 'b'), ('ADDED', 'c')] and events[-1] == ('DELETED', 'a'), events
    assert all(e == ('MODIFIED', 'a') for e in events[3:-1]), events
    versions = [rv for _kind, _name, rv in seen]
    assert versions == sorted(versions) and versions[0] > int(listed.metadata.resource_version)
    assert bookmark is not None, 'no BOOKMARK in %d watches of 80 s each' % watches
    assert bookmark >= versions[-1]


def test_watch_from_an_expired_resource_version_gets_410_and_a_relist_recovers(kube, ns):
    core = kube.core()
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name='old')))
    stale = core.list_namespaced_config_map(ns).metadata.resource_version
    kube.expire_watches()
    with pytest.raises(client.ApiException) as gone:
        for _event in _watch(core.list_namespaced_config_map, ns, resource_version=stale, timeout_seconds=5):
            pass
    assert gone.value.status == 410, gone.value
    # Relist, then watch from the new list: the old object is in the list, a new one comes
    # through the watch.
    relisted = core.list_namespaced_config_map(ns)
    assert 'old' in [c.metadata.name for c in relisted.items]
    assert int(relisted.metadata.resource_version) > int(stale)
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name='new')))
    for kind, obj in _watch(core.list_namespaced_config_map, ns, resource_version=relisted.metadata.resource_version):
        assert (kind, obj.metadata.name) == ('ADDED', 'new')
        break
    else:
        pytest.fail('the watch from the relist ended without the new ConfigMap')


def test_merge_patch_of_a_pod_annotation(kube, ns):
    core = kube.core()
    created = core.create_namespaced_pod(ns, _pod('p', labels={'app': 'x'}))
    created = core.patch_namespaced_pod('p', ns, {'metadata': {'annotations': {'k8s.ovn.org/pod-networks': '{"default":{}}', 'keep': 'me'}}})
    patched = core.patch_namespaced_pod('p', ns, {'metadata': {'annotations': {'keep': None, 'other': 'v'}}})
    assert patched.metadata.annotations == {'k8s.ovn.org/pod-networks': '{"default":{}}', 'other': 'v'}
    assert patched.metadata.labels == {'app': 'x'}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)


def test_status_update_and_conflict_on_a_stale_update(kube, ns):
    core = kube.core()
    kube.create_node('node-status')
    try:
        pod = core.create_namespaced_pod(ns, _pod('p', node='node-status'))
        assert pod.status.phase == 'Pending' and pod.status.pod_ip is None
        running = kube.mark_pod_running(pod, ['10.128.1.5', 'fd00:10:128:1::5'], host_ip='192.0.2.10')
        assert running.status.phase == 'Running'
        assert running.status.pod_ip == '10.128.1.5'
        assert [i.ip for i in running.status.pod_ips] == ['10.128.1.5', 'fd00:10:128:1::5']
        assert {c.type: c.status for c in running.status.conditions}['Ready'] == 'True'
        # The status subresource leaves the spec alone; a write to the main resource leaves
        # the status alone.
        assert running.spec.node_name == 'node-status'
        pod.status.phase = 'Failed'
        with pytest.raises(client.ApiException) as conflict:
            core.replace_namespaced_pod_status('p', ns, pod)  # carries the resourceVersion read before the status write
        assert conflict.value.status == 409, conflict.value
        assert json.loads(conflict.value.body)['reason'] == 'Conflict'
        current = core.read_namespaced_pod('p', ns)
        current.metadata.labels = {'updated': 'yes'}
        current.status.phase = 'Failed'
        replaced = core.replace_namespaced_pod('p', ns, current)
        assert replaced.metadata.labels == {'updated': 'yes'} and replaced.status.phase == 'Running'
        # A stale update of the main resource is refused the same way.
        current.metadata.labels = {'updated': 'twice'}
        with pytest.raises(client.ApiException) as conflict:
            core.replace_namespaced_pod('p', ns, current)
        assert conflict.value.status == 409, conflict.value
    finally:
        core.delete_node('node-status')


def test_endpointslice_appears_once_a_pod_is_ready(kube, ns):
    core = kube.core()
    discovery = client.DiscoveryV1Api(core.api_client)
    node = kube.create_node('node-eps', internal_ip='192.0.2.11')
    assert {c.type: c.status for c in node.status.conditions}['Ready'] == 'True'
    try:
        core.create_namespaced_service(ns, client.V1Service(
            metadata=client.V1ObjectMeta(name='web'),
            spec=client.V1ServiceSpec(selector={'app': 'web'}, ports=[client.V1ServicePort(port=80, target_port=8080, protocol='TCP')])))
        pod = core.create_namespaced_pod(ns, _pod('web-1', node='node-eps', labels={'app': 'web'}))
        selector = 'kubernetes.io/service-name=web'
        listed = discovery.list_namespaced_endpoint_slice(ns, label_selector=selector)
        # Before the pod is Ready its address is not a ready endpoint of the Service.
        for eps in listed.items:
            assert not [e for e in eps.endpoints or [] if e.conditions.ready], eps
        kube.mark_pod_running(pod, '10.128.2.7', host_ip='192.0.2.11')
        ready = None
        for kind, eps in _watch(discovery.list_namespaced_endpoint_slice, ns, label_selector=selector,
                                resource_version=listed.metadata.resource_version, timeout_seconds=60):
            endpoints = [e for e in eps.endpoints or [] if e.conditions.ready]
            if kind != 'DELETED' and endpoints:
                ready = eps
                break
        assert ready is not None, 'no EndpointSlice with a ready endpoint for service web within the watch'
        (endpoint,) = ready.endpoints
        assert endpoint.addresses == ['10.128.2.7']
        assert endpoint.node_name == 'node-eps'
        assert endpoint.target_ref.name == 'web-1'
        assert ready.address_type == 'IPv4'
        assert [(p.port, p.protocol) for p in ready.ports] == [(8080, 'TCP')]
        assert ready.metadata.labels['endpointslice.kubernetes.io/managed-by'] == 'endpointslice-controller.k8s.io'
    finally:
        core.delete_node('node-eps')


def test_restarted_apiserver_keeps_the_data(kube, ns):
    core = kube.core()
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name='kept'), data={'a': 'b'}))
    kube.restart_apiserver()
    assert core.read_namespaced_config_map('kept', ns).data == {'a': 'b'}
