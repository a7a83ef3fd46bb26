# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Services and network policies end to end, with real TCP through the userspace datapath:
`kubectl` makes pods, a ClusterIP service and policies; the watcher turns them into OVN load
balancers and ACLs; a pod on node1 reaches the service's backends on node2, and a default-deny
policy blocks a connection that an allow rule by pod label opens again."""

import json
import time

import pytest

from conftest import NODE_NAME
from test_k8s_pods import CLIENT, kubectl, netns, host_of

NS = 'lab-svc'


def manifest(name, node, labels):
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'namespace': NS, 'labels': labels},
            'spec': {'nodeSelector': {'kubernetes.io/hostname': node}, 'terminationGracePeriodSeconds': 0,
                     'containers': [{'name': 'web', 'image': 'lab/none',
                                     'ports': [{'name': 'http', 'containerPort': 8080}]}]}}


def apply(*items):
    kubectl('apply', '-f', '-', stdin=json.dumps({'apiVersion': 'v1', 'kind': 'List', 'items': list(items)}))


def pods():
    return dict((p['metadata']['name'], p) for p in json.loads(kubectl('get', 'pods', '-n', NS, '-o', 'json').stdout)['items'])


def wait_running(names, timeout=240):
    deadline = time.time() + timeout
    while True:
        have = pods()
        if all(have.get(n, {}).get('status', {}).get('phase') == 'Running' and have[n]['status'].get('podIP')
               for n in names):
            return have
        assert time.time() < deadline, 'pods not running after %ds: %s' % (timeout, names)
        time.sleep(1)


def connect(lab, pod, ip, port, timeout=3):
    """(rc, stdout) of one TCP request from ``pod`` to ip:port."""
    client = CLIENT.replace('timeout=5', 'timeout=%d' % timeout)
    out = host_of(lab, pod).run("ip netns exec %s python3 -c '%s' %s %d" % (netns(pod), client, ip, port))
    return out.rc, out.stdout.strip()


def eventually(what, check, timeout=60):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(1)
    raise AssertionError('timed out waiting for %s (last: %r)' % (what, last))


@pytest.fixture(scope='module')
def svc(lab):
    kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s')
    kubectl('create', 'namespace', NS)
    for _attempt in range(60):
        if kubectl('get', 'serviceaccount', 'default', '-n', NS, check=False).returncode == 0:
            break
        time.sleep(1)
    apply(manifest('client', NODE_NAME['node1'], {'role': 'client'}),
          manifest('other', NODE_NAME['node1'], {'role': 'other'}),
          manifest('web-1', NODE_NAME['node2'], {'app': 'web'}),
          manifest('web-2', NODE_NAME['node2'], {'app': 'web'}))
    apply({'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'web', 'namespace': NS},
           'spec': {'selector': {'app': 'web'}, 'ports': [{'port': 80, 'targetPort': 'http'}]}})
    running = wait_running(['client', 'other', 'web-1', 'web-2'])
    yield running
    kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=240s')


def test_a_pod_on_node1_reaches_a_cluster_ip_service_backed_on_node2(svc, lab):
    vip = json.loads(kubectl('get', 'service', '-n', NS, 'web', '-o', 'json').stdout)['spec']['clusterIP']
    seen = set()

    def answered():
        rc, out = connect(lab, svc['client'], vip, 80)
        if rc == 0 and out:
            seen.add(out.split()[0])
        return seen == {'web-1', 'web-2'}
    eventually('both backends to answer through %s:80' % vip, answered, timeout=120)
    # The backend sees the client pod's own address (DNAT only, no SNAT inside the cluster).
    rc, out = connect(lab, svc['client'], vip, 80)
    assert rc == 0 and out.split()[1] == svc['client']['status']['podIP'], out


def test_default_deny_blocks_and_an_allow_by_pod_label_reopens(svc, lab):
    web = svc['web-1']['status']['podIP']
    assert connect(lab, svc['client'], web, 8080)[0] == 0
    apply({'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'deny', 'namespace': NS},
           'spec': {'podSelector': {'matchLabels': {'app': 'web'}}, 'policyTypes': ['Ingress']}})
    eventually('the deny policy to block', lambda: connect(lab, svc['client'], web, 8080, timeout=2)[0] != 0)
    # The node still reaches its pods (the management port's address is let in).
    node = host_of(lab, svc['web-1'])
    out = node.run("python3 -c '%s' %s 8080" % (CLIENT, web))
    assert out.rc == 0, out.stderr
    apply({'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'allow', 'namespace': NS},
           'spec': {'podSelector': {'matchLabels': {'app': 'web'}}, 'policyTypes': ['Ingress'],
                    'ingress': [{'from': [{'podSelector': {'matchLabels': {'role': 'client'}}}],
                                 'ports': [{'port': 'http'}]}]}})
    eventually('the allow policy to let the client in', lambda: connect(lab, svc['client'], web, 8080)[0] == 0)
    assert connect(lab, svc['other'], web, 8080, timeout=2)[0] != 0, 'a pod without the label got in'
    # A label change lets the other pod in too.
    kubectl('label', 'pod', '-n', NS, 'other', 'role=client', '--overwrite')
    eventually('the relabelled pod to get in', lambda: connect(lab, svc['other'], web, 8080)[0] == 0)
