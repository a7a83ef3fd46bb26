# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service semantics as kube-proxy defines them (issue 23), with real TCP through the
userspace datapath:

- case 2: a one-replica rollout is served throughout: the old pod, deleted with a grace period
  during which it still serves (the lab agent's ``drain`` annotation), keeps answering through
  the service while it is the only endpoint (serving and terminating), and the new pod takes
  over once it is ready;
- case 3: a NodePort service with ``externalTrafficPolicy: Local``, seen from the external host
  through the gateway (node2): while its only endpoint runs on node1, node2 drops the connection
  (no answer, not a refusal, as an external load balancer's health check expects); once an
  endpoint runs on node2 only that one answers, and it sees the external host's own address;
- case 4: a service with ``internalTrafficPolicy: Local`` answers a pod only from an endpoint
  on the pod's own node, and a pod on a node without one gets no answer (dropped).
"""

import json

import pytest

from conftest import NODE_NAME, nbctl
from test_k8s_pods import CLIENT, fresh_namespace, host_of, kubectl, netns
from test_k8s_pods import wait_running as wait_running_in
from test_k8s_services import apply, eventually

NS = 'lab-svc-semantics'
GATEWAY_IP = '172.31.0.12'  # node2's gateway router on the external network: node2's own address
EXTERNAL_IP = '172.31.0.100'  # the external host
DRAIN = 'lab.ovn-k8s.example/drain'  # the lab agent serves such a pod until its grace period ends
WATCHER_METRICS = 'http://127.0.0.1:9476/metrics'  # the watcher on central (ovn_watcher_metrics_address)


def manifest(name, node, labels, grace=0, annotations=None):
    return {'apiVersion': 'v1', 'kind': 'Pod',
            'metadata': {'name': name, 'namespace': NS, 'labels': labels, 'annotations': annotations or {}},
            'spec': {'nodeSelector': {'kubernetes.io/hostname': node}, 'terminationGracePeriodSeconds': grace,
                     'containers': [{'name': 'web', 'image': 'lab/none',
                                     'ports': [{'name': 'http', 'containerPort': 8080}]}]}}


def service(name, selector, **spec):
    spec.update(selector=selector, ports=[{'port': 80, 'targetPort': 'http'}])
    return {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': name, 'namespace': NS}, 'spec': spec}


def get_service(name):
    return json.loads(kubectl('get', 'service', '-n', NS, name, '-o', 'json').stdout)


def wait_running(names):
    return wait_running_in(names, timeout=240, namespace=NS)


def from_pod(lab, pod, ip, port, timeout=3):
    """One TCP request from ``pod``: the testinfra result (stdout "<answering pod> <peer>")."""
    client = CLIENT.replace('timeout=5', 'timeout=%d' % timeout)
    return host_of(lab, pod).run("ip netns exec %s python3 -c '%s' %s %d" % (netns(pod), client, ip, port))


def from_outside(lab, ip, port, timeout=3):
    client = CLIENT.replace('timeout=5', 'timeout=%d' % timeout)
    return lab['external'].run("python3 -c '%s' %s %d" % (client, ip, port))


def answer(out):
    """(answering pod, the address it saw) of a request, or None when it failed."""
    words = out.stdout.split()
    return tuple(words[:2]) if out.rc == 0 and len(words) >= 2 else None


def watcher_metric(lab, name, **labels):
    text = lab['central'].check_output(
        "python3 -c 'import urllib.request; print(urllib.request.urlopen(\"%s\", timeout=10).read().decode())'"
        % WATCHER_METRICS)
    want = 'ovn_k8s_watcher_' + name + ('{%s}' % ','.join('%s="%s"' % kv for kv in sorted(labels.items())) if labels else '')
    for line in text.splitlines():
        if line.startswith(want + ' '):
            return float(line.split()[-1])
    return 0.0


def endpoint_conditions(service_name, ip):
    slices = json.loads(kubectl('get', 'endpointslices', '-n', NS, '-l', 'kubernetes.io/service-name=%s' % service_name,
                                '-o', 'json').stdout)['items']
    for eps in slices:
        for ep in eps.get('endpoints') or []:
            if ip in ep.get('addresses', []):
                return ep.get('conditions') or {}
    return None


@pytest.fixture(scope='module')
def sem(lab):
    fresh_namespace(NS)
    apply(manifest('client', NODE_NAME['node1'], {'role': 'client'}),
          manifest('client-2', NODE_NAME['node2'], {'role': 'client'}))
    yield wait_running(['client', 'client-2'])
    # A draining pod would hold the namespace's deletion for its whole grace period.
    kubectl('delete', 'pods', '-n', NS, '--all', '--grace-period=0', '--force', '--wait=true', '--timeout=120s', check=False)
    kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=240s')


def test_case2_a_one_replica_rollout_is_served_throughout(sem, lab):
    client = sem['client']
    apply(manifest('roll-old', NODE_NAME['node2'], {'app': 'roll'}, grace=600, annotations={DRAIN: 'true'}),
          service('roll', {'app': 'roll'}))
    old = wait_running(['roll-old'])['roll-old']
    vip = get_service('roll')['spec']['clusterIP']
    eventually('roll-old to answer through %s:80' % vip,
               lambda: (answer(from_pod(lab, client, vip, 80)) or (None,))[0] == 'roll-old', timeout=120)
    eventually('an idle watcher', lambda: watcher_metric(lab, 'queue_depth') == 0, timeout=60)
    synced = watcher_metric(lab, 'events_total', kind='service', result='ok')
    # The rollout's first step: the old pod terminates, and goes on serving for its grace period.
    kubectl('delete', 'pod', '-n', NS, 'roll-old', '--wait=false')
    eventually('roll-old serving and terminating in the EndpointSlice', lambda: endpoint_conditions(
        'roll', old['status']['podIP']) == {'ready': False, 'serving': True, 'terminating': True}, timeout=60)
    eventually('the watcher to reconcile the service since', lambda: watcher_metric(
        lab, 'events_total', kind='service', result='ok') > synced and watcher_metric(lab, 'queue_depth') == 0, timeout=60)
    # It is the only endpoint: it still answers (kube-proxy's behaviour since Kubernetes 1.28;
    # the service refused connections here before).
    for _i in range(5):
        out = from_pod(lab, client, vip, 80)
        assert answer(out) is not None and answer(out)[0] == 'roll-old', (out.stdout, out.stderr)
    # The new pod: once ready, it alone answers.
    apply(manifest('roll-new', NODE_NAME['node1'], {'app': 'roll'}))
    wait_running(['roll-new'])

    def new_only():
        seen = [answer(from_pod(lab, client, vip, 80)) for _i in range(4)]
        return all(s is not None and s[0] == 'roll-new' for s in seen)
    eventually('roll-new alone to answer', new_only, timeout=120)
    kubectl('delete', 'pod', '-n', NS, 'roll-old', '--grace-period=0', '--force', '--wait=true', '--timeout=120s')


def test_case3_a_node_port_with_external_traffic_policy_local(sem, lab):
    client = sem['client']
    apply(manifest('local-1', NODE_NAME['node1'], {'app': 'local'}),
          service('local', {'app': 'local'}, type='NodePort', externalTrafficPolicy='Local'))
    wait_running(['local-1'])
    spec = get_service('local')['spec']
    port = spec['ports'][0]['nodePort']
    # The gateway's own load balancer has the node port with no backend (its node, node2, runs
    # no endpoint); pods reach the node port through their switch, to every endpoint.
    lb = 'Service_%s/local_TCP_node_router_%s' % (NS, NODE_NAME['node2'])
    eventually('node2\'s gateway load balancer', lambda: '%s:%d=' % (GATEWAY_IP, port) in nbctl(
        lab, '--bare', '--columns=vips', 'find', 'Load_Balancer', 'name="%s"' % lb).split(), timeout=120)
    # The load balancer in the database is not yet the flows on the client's node: wait for those.
    eventually('the client to reach local-1 at the node port', lambda: (
        answer(from_pod(lab, client, GATEWAY_IP, port)) or (None,))[0] == 'local-1', timeout=120)
    eventually('the client to reach local-1 at the cluster IP', lambda: (
        answer(from_pod(lab, client, spec['clusterIP'], 80)) or (None,))[0] == 'local-1', timeout=120)
    # From outside, node2 has no local endpoint: the connection is dropped, not refused.
    out = from_outside(lab, GATEWAY_IP, port)
    assert out.rc != 0 and 'ConnectionRefusedError' not in out.stderr and 'timed out' in out.stderr, \
        (out.stdout, out.stderr)
    # An endpoint on node2: it alone answers from outside, and it sees the external host's address.
    apply(manifest('local-2', NODE_NAME['node2'], {'app': 'local'}))
    wait_running(['local-2'])
    eventually('local-2 to answer at %s:%d' % (GATEWAY_IP, port),
               lambda: answer(from_outside(lab, GATEWAY_IP, port)) is not None, timeout=120)
    for _i in range(6):
        out = from_outside(lab, GATEWAY_IP, port)
        assert answer(out) == ('local-2', EXTERNAL_IP), (out.stdout, out.stderr)


def test_case4_internal_traffic_policy_local_answers_from_the_own_node(sem, lab):
    apply(manifest('itp-1', NODE_NAME['node1'], {'app': 'itp'}), manifest('itp-2', NODE_NAME['node2'], {'app': 'itp'}),
          service('itp', {'app': 'itp'}, internalTrafficPolicy='Local'))
    wait_running(['itp-1', 'itp-2'])
    vip = get_service('itp')['spec']['clusterIP']
    for client, local in (('client', 'itp-1'), ('client-2', 'itp-2')):
        eventually('%s to reach %s through %s:80' % (client, local, vip),
                   lambda pod=sem[client], want=local: (answer(from_pod(lab, pod, vip, 80)) or (None,))[0] == want,
                   timeout=120)
        seen = set((answer(from_pod(lab, sem[client], vip, 80)) or (None,))[0] for _i in range(6))
        assert seen == {local}, 'a pod on %s reached %s' % (sem[client]['spec']['nodeName'], seen)
    # node2's endpoint goes: its pods get no answer (dropped, not refused: the service has an
    # endpoint, on another node), node1's still do.
    kubectl('delete', 'pod', '-n', NS, 'itp-2', '--wait=true', '--timeout=120s')
    lb = 'Service_%s/itp_TCP_node_switch_%s' % (NS, NODE_NAME['node2'])
    eventually('node2\'s switch load balancer without backend', lambda: '%s:80=' % vip in nbctl(
        lab, '--bare', '--columns=vips', 'find', 'Load_Balancer', 'name="%s"' % lb).split(), timeout=120)
    out = from_pod(lab, sem['client-2'], vip, 80)
    assert out.rc != 0 and 'ConnectionRefusedError' not in out.stderr and 'timed out' in out.stderr, \
        (out.stdout, out.stderr)
    assert (answer(from_pod(lab, sem['client'], vip, 80)) or (None,))[0] == 'itp-1'
