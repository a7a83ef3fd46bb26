# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Services and network policies end to end, with real TCP through the userspace datapath:
`kubectl` makes pods, a ClusterIP service and policies; the watcher turns them into OVN load
balancers and ACLs; a pod on node1 reaches the service's backends on node2 and node1, scaling
changes which backends answer, a service without endpoints refuses at once, the external host
reaches a NodePort service through the gateway; a default-deny policy blocks a connection that
an allow rule by pod label (on the named port ``http``), one by namespace label and an ipBlock
rule open again, exactly for those peers."""

import ipaddress
import json

import pytest

from conftest import NODE_NAME, nbctl
from test_k8s_pods import CLIENT, fresh_namespace, get_pods, host_of, kubectl, netns
from test_k8s_pods import wait_running as wait_running_in
from waiting import wait_for  # tests/lib

NS = 'lab-svc'
# Namespaces of the namespace-selector test: one with the label a policy lets in, one without.
PEER_NS, STRANGER_NS = 'lab-svc-peer', 'lab-svc-stranger'
# node2's gateway router's address on the external network: node2's own (ovn_gateway_share_host_ip).
GATEWAY_IP = '172.31.0.12'


def manifest(name, node, labels, namespace=NS):
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'namespace': namespace, 'labels': labels},
            'spec': {'nodeSelector': {'kubernetes.io/hostname': node}, 'terminationGracePeriodSeconds': 0,
                     'containers': [{'name': 'web', 'image': 'lab/none',
                                     'ports': [{'name': 'http', 'containerPort': 8080}]}]}}


def apply(*items):
    kubectl('apply', '-f', '-', stdin=json.dumps({'apiVersion': 'v1', 'kind': 'List', 'items': list(items)}))


def pods(namespace=NS):
    return dict((p['metadata']['name'], p) for p in get_pods(namespace))


def wait_running(names, timeout=240, namespace=NS):
    """test_k8s_pods.wait_running, in this module's namespace unless told otherwise."""
    return wait_running_in(names, timeout=timeout, namespace=namespace)


def connect(lab, pod, ip, port, timeout=3, full=False):
    """(rc, stdout) of one TCP request from ``pod`` to ip:port (with ``full``, the testinfra result)."""
    client = CLIENT.replace('timeout=5', 'timeout=%d' % timeout)
    out = host_of(lab, pod).run("ip netns exec %s python3 -c '%s' %s %d" % (netns(pod), client, ip, port))
    return out if full else (out.rc, out.stdout.strip())


def cluster_ip(name):
    return json.loads(kubectl('get', 'service', '-n', NS, name, '-o', 'json').stdout)['spec']['clusterIP']


def answers(lab, pod, ip, port, tries):
    """The backends that answered ``tries`` requests from ``pod`` (failed requests count as None)."""
    seen = []
    for _i in range(tries):
        rc, out = connect(lab, pod, ip, port)
        seen.append(out.split()[0] if rc == 0 and out else None)
    return seen


def eventually(what, check, timeout=60):
    """check()'s first true value, tried once a second (each try may itself take seconds)."""
    return wait_for(what, check, timeout=timeout, interval=1)


@pytest.fixture(scope='module')
def svc(lab):
    fresh_namespace(NS)
    apply(manifest('client', NODE_NAME['node1'], {'role': 'client'}),
          manifest('other', NODE_NAME['node1'], {'role': 'other'}),
          manifest('web-1', NODE_NAME['node2'], {'app': 'web'}),
          manifest('web-2', NODE_NAME['node2'], {'app': 'web'}))
    apply({'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'web', 'namespace': NS},
           'spec': {'selector': {'app': 'web'}, 'ports': [{'port': 80, 'targetPort': 'http'}]}})
    running = wait_running(['client', 'other', 'web-1', 'web-2'])
    yield running
    for name in (NS, PEER_NS, STRANGER_NS):
        kubectl('delete', 'namespace', name, '--ignore-not-found', '--wait=true', '--timeout=240s')


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


def test_scaling_changes_which_backends_answer(svc, lab):
    vip = cluster_ip('web')
    # One more backend, on the client's own node: it joins the answers.
    apply(manifest('web-3', NODE_NAME['node1'], {'app': 'web'}))
    wait_running(['web-3'])
    seen = set()

    def three():
        seen.update(b for b in answers(lab, svc['client'], vip, 80, 3) if b)
        return seen == {'web-1', 'web-2', 'web-3'}
    eventually('backends on node1 and node2 to answer through %s:80' % vip, three, timeout=120)
    # Scaled down: the deleted backend stops answering, the others still do.
    kubectl('delete', 'pod', '-n', NS, 'web-2', '--wait=true', '--timeout=120s')
    eventually('web-2 to leave the service',
               lambda: set(answers(lab, svc['client'], vip, 80, 8)) == {'web-1', 'web-3'}, timeout=120)


def test_a_service_without_endpoints_refuses_at_once(svc, lab):
    apply({'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'empty', 'namespace': NS},
           'spec': {'selector': {'app': 'nothing'}, 'ports': [{'port': 81, 'targetPort': 8080}]}})
    vip = cluster_ip('empty')

    def refused():
        # A timeout of 20 s: a hanging connection would show as a timeout, not a refusal.
        out = connect(lab, svc['client'], vip, 81, timeout=20, full=True)
        return out.rc != 0 and 'ConnectionRefusedError' in out.stderr and out.stderr
    eventually('%s:81 to refuse connections' % vip, refused, timeout=120)


def test_the_external_host_reaches_a_node_port_service_through_the_gateway(svc, lab):
    apply({'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'web-np', 'namespace': NS},
           'spec': {'type': 'NodePort', 'selector': {'app': 'web'}, 'ports': [{'port': 80, 'targetPort': 'http'}]}})
    port = json.loads(kubectl('get', 'service', '-n', NS, 'web-np', '-o', 'json').stdout)['spec']['ports'][0]['nodePort']
    backends = set(p for p in pods() if p.startswith('web-'))

    def answered():
        out = lab['external'].run("python3 -c '%s' %s %d" % (CLIENT.replace('timeout=5', 'timeout=3'), GATEWAY_IP, port))
        return out.rc == 0 and out.stdout.split() and out.stdout.split()[0] in backends and out.stdout
    eventually('the external host to reach %s:%d' % (GATEWAY_IP, port), answered, timeout=120)


def test_default_deny_blocks_and_an_allow_by_pod_label_reopens(svc, lab):
    web = svc['web-1']['status']['podIP']
    assert connect(lab, svc['client'], web, 8080)[0] == 0
    apply({'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'deny', 'namespace': NS},
           'spec': {'podSelector': {'matchLabels': {'app': 'web'}}, 'policyTypes': ['Ingress']}})
    eventually('the deny policy to block', lambda: connect(lab, svc['client'], web, 8080, timeout=2)[0] != 0)
    # The node still reaches its pods (its own management port's address is let in); another
    # node's management address is not.
    node = host_of(lab, svc['web-1'])
    out = node.run("python3 -c '%s' %s 8080" % (CLIENT, web))
    assert out.rc == 0, out.stderr
    other = [lab[h] for h in ('node1', 'node2') if lab[h] is not node][0]
    out = other.run("python3 -c '%s' %s 8080" % (CLIENT.replace('timeout=5', 'timeout=2'), web))
    assert out.rc != 0, 'another node reached an isolated pod: %s' % out.stdout
    apply({'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'allow', 'namespace': NS},
           'spec': {'podSelector': {'matchLabels': {'app': 'web'}}, 'policyTypes': ['Ingress'],
                    'ingress': [{'from': [{'podSelector': {'matchLabels': {'role': 'client'}}}],
                                 'ports': [{'port': 'http'}]}]}})
    eventually('the allow policy to let the client in', lambda: connect(lab, svc['client'], web, 8080)[0] == 0)
    assert connect(lab, svc['other'], web, 8080, timeout=2)[0] != 0, 'a pod without the label got in'
    # A label change lets the other pod in too.
    kubectl('label', 'pod', '-n', NS, 'other', 'role=client', '--overwrite')
    eventually('the relabelled pod to get in', lambda: connect(lab, svc['other'], web, 8080)[0] == 0)


def test_an_allow_by_namespace_label_reopens_exactly_that_namespace(svc, lab):
    fresh_namespace(PEER_NS, {'team': 'peer'})
    fresh_namespace(STRANGER_NS, {'team': 'other'})
    apply(manifest('visitor', NODE_NAME['node1'], {}, namespace=PEER_NS))
    apply(manifest('stranger', NODE_NAME['node1'], {}, namespace=STRANGER_NS))
    visitor = wait_running(['visitor'], namespace=PEER_NS)['visitor']
    stranger = wait_running(['stranger'], namespace=STRANGER_NS)['stranger']
    web = svc['web-1']['status']['podIP']
    # The deny policy of the test before still holds web-1.
    assert connect(lab, visitor, web, 8080, timeout=2)[0] != 0, 'the deny policy let a pod of another namespace in'
    apply({'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'allow-peers', 'namespace': NS},
           'spec': {'podSelector': {'matchLabels': {'app': 'web'}}, 'policyTypes': ['Ingress'],
                    'ingress': [{'from': [{'namespaceSelector': {'matchLabels': {'team': 'peer'}}}]}]}})
    eventually('the peer namespace to get in', lambda: connect(lab, visitor, web, 8080)[0] == 0)
    assert connect(lab, stranger, web, 8080, timeout=2)[0] != 0, 'a namespace without the label got in'


def test_an_ip_block_rule_is_honoured(svc, lab):
    stranger = pods(STRANGER_NS)['stranger']
    ip = stranger['status']['podIP']
    block = str(ipaddress.ip_network(ip + '/30', strict=False))
    web = svc['web-1']['status']['podIP']
    # The stranger's address is in the block's range but excepted: still out.
    apply({'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'allow-block', 'namespace': NS},
           'spec': {'podSelector': {'matchLabels': {'app': 'web'}}, 'policyTypes': ['Ingress'],
                    'ingress': [{'from': [{'ipBlock': {'cidr': block, 'except': [ip + '/32']}}]}]}})
    # Once the rule is in the Northbound database, the stranger must still be out.
    eventually('the ipBlock rule in OVN', lambda: block in nbctl(lab, '--bare', '--columns=match', 'list', 'ACL'))
    assert connect(lab, stranger, web, 8080, timeout=2)[0] != 0, 'an excepted address got in'
    apply({'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'allow-block', 'namespace': NS},
           'spec': {'podSelector': {'matchLabels': {'app': 'web'}}, 'policyTypes': ['Ingress'],
                    'ingress': [{'from': [{'ipBlock': {'cidr': ip + '/32'}}]}]}})
    eventually('the ipBlock to let the stranger in', lambda: connect(lab, stranger, web, 8080)[0] == 0)
