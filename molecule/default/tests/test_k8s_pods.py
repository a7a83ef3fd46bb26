# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pods made through Kubernetes, end to end: `kubectl` creates them, the real scheduler binds
them, the watcher (role ovn_watcher on central) gives each a logical port and an address and
writes the annotation, and the lab agent on each node (molecule/default/lab_agent, the
kubelet's network half) calls the CNI plugin through cnitool. Then real packets: ICMP and TCP
between pods on different nodes over geneve, node to pod through the management port, pod to
the external host through the gateway; a deleted pod's port goes and its address is used
again; the watcher killed (-9) during a burst of pod creations leaves every pod exactly one
port and a distinct address."""

import ipaddress
import json
import os
import subprocess
import time

import pytest

from conftest import NODE_NAME, nbctl

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
KUBECTL = [os.path.join(REPO, '.build', 'bin', 'kubectl'), '--kubeconfig',
           os.path.join(REPO, '.build', 'lab', 'kube', 'admin.kubeconfig')]
NS = 'lab-e2e'
EXTERNAL = ('172.31.0.100', 9090)
HOST_OF = dict((name, host) for host, name in NODE_NAME.items())

# A client run inside a pod's namespace: connect, send a request, print the answer.
CLIENT = ('import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); '
          's.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n"); print(s.makefile().read().splitlines()[-1])')


# The external host's service speaks first and closes: a client that only reads.
READER = ('import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); '
          'print(s.makefile().read().strip())')


def kubectl(*args, stdin=None, check=True):
    proc = subprocess.run(KUBECTL + list(args), input=stdin, capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError('kubectl %s: %s' % (' '.join(args), proc.stderr))
    return proc


def pod_manifest(name, node):
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'namespace': NS, 'labels': {'app': 'lab-e2e'}},
            'spec': {'nodeSelector': {'kubernetes.io/hostname': node}, 'terminationGracePeriodSeconds': 0,
                     'containers': [{'name': 'web', 'image': 'lab/none', 'ports': [{'containerPort': 8080}]}]}}


def create_pods(names_nodes):
    items = [pod_manifest(n, node) for n, node in names_nodes]
    kubectl('apply', '-f', '-', stdin=json.dumps({'apiVersion': 'v1', 'kind': 'List', 'items': items}))


def get_pods(namespace=NS):
    return json.loads(kubectl('get', 'pods', '-n', namespace, '-o', 'json').stdout)['items']


def wait_running(names, timeout=240, namespace=NS):
    """{name: pod} once every pod of ``names`` is Running with its address."""
    deadline = time.time() + timeout
    while True:
        pods = dict((p['metadata']['name'], p) for p in get_pods(namespace))
        ready = [n for n in names if pods.get(n, {}).get('status', {}).get('podIP')
                 and pods[n]['status'].get('phase') == 'Running']
        if len(ready) == len(names):
            return dict((n, pods[n]) for n in names)
        if time.time() > deadline:
            raise AssertionError('pods not running after %ds: %s' % (timeout, sorted(set(names) - set(ready))))
        time.sleep(1)


def wait_gone(names, timeout=120):
    deadline = time.time() + timeout
    while set(p['metadata']['name'] for p in get_pods()) & set(names):
        assert time.time() < deadline, 'pods not deleted after %ds: %s' % (timeout, names)
        time.sleep(1)


def netns(pod):
    return 'lab-' + pod['metadata']['uid'][:23]


def host_of(lab, pod):
    return lab[HOST_OF[pod['spec']['nodeName']]]


def in_pod(lab, pod, cmd):
    return host_of(lab, pod).run('ip netns exec %s %s' % (netns(pod), cmd))


def tcp(lab, pod, ip, port):
    return in_pod(lab, pod, "python3 -c '%s' %s %d" % (CLIENT, ip, port))


def pod_ports():
    """Every pod port the watcher made in the lab's namespace: name -> addresses."""
    out = nbctl_lab('--format=json', '--columns=name,addresses', 'find', 'Logical_Switch_Port')
    rows = json.loads(out)['data']
    ports = {}
    for name, addresses in rows:
        if name.startswith(NS + '_'):
            ports[name] = addresses if isinstance(addresses, str) else ' '.join(a for a in addresses[1])
    return ports


_LAB = {}


def nbctl_lab(*args):
    return nbctl(_LAB['lab'], *args)


def fresh_namespace(name, labels=None):
    """The namespace ``name``, deleted first if a run before left it, with ``labels``; returns
    once the controller manager gave it its default service account (pods are refused before)."""
    kubectl('delete', 'namespace', name, '--ignore-not-found', '--wait=true', '--timeout=120s')
    kubectl('apply', '-f', '-', stdin=json.dumps({'apiVersion': 'v1', 'kind': 'Namespace',
                                                 'metadata': {'name': name, 'labels': labels or {}}}))
    for _attempt in range(60):
        if kubectl('get', 'serviceaccount', 'default', '-n', name, check=False).returncode == 0:
            return
        time.sleep(1)
    raise AssertionError('namespace %s has no default service account' % name)


@pytest.fixture(scope='module')
def e2e(lab, external_service):
    _LAB['lab'] = lab
    fresh_namespace(NS)
    create_pods([('a1', NODE_NAME['node1']), ('a2', NODE_NAME['node1']), ('b1', NODE_NAME['node2'])])
    yield wait_running(['a1', 'a2', 'b1'])
    # Leave nothing behind for the other verify tests (their hand-made pods take fixed addresses).
    kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=240s')
    deadline = time.time() + 120
    while pod_ports():
        assert time.time() < deadline, 'ports of deleted pods are still there: %s' % sorted(pod_ports())
        time.sleep(1)


def test_kubectl_get_nodes_lists_every_lab_node():
    """Every host of the cluster (central, node1 with its FQDN name, node2) is a Node object,
    Ready as the lab's prepare step wrote it."""
    nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
    assert sorted(n['metadata']['name'] for n in nodes) == sorted(NODE_NAME.values())
    for node in nodes:
        ready = [c for c in node['status']['conditions'] if c['type'] == 'Ready']
        assert ready and ready[0]['status'] == 'True', node['metadata']['name']


def test_pods_are_bound_to_their_nodes_by_the_real_scheduler(e2e):
    """The manifests name no node (only a nodeSelector): kube-scheduler bound each pod, which
    the Scheduled event from default-scheduler shows (the lab agent, as a kubelet, writes the
    PodScheduled condition itself, so the condition proves nothing here)."""
    events = json.loads(kubectl('get', 'events', '-n', NS, '-o', 'json').stdout)['items']
    for name, pod in e2e.items():
        bound = [e for e in events if e['involvedObject']['name'] == name and e['reason'] == 'Scheduled']
        assert bound, (name, 'no Scheduled event')
        source = bound[0].get('reportingComponent') or bound[0].get('source', {}).get('component')
        assert source == 'default-scheduler', (name, bound[0])
        assert pod['spec']['nodeName'] in bound[0]['message'], (name, bound[0]['message'])


def test_pods_get_an_address_in_their_node_subnet_and_an_annotation(e2e, lab):
    for name, pod in e2e.items():
        node = pod['spec']['nodeName']
        subnet = ipaddress.ip_network(nbctl(lab, 'get', 'Logical_Switch', node, 'other_config:subnet').strip('"'))
        ip = ipaddress.ip_address(pod['status']['podIP'])
        assert ip in subnet, (name, ip, subnet)
        note = json.loads(pod['metadata']['annotations']['ovn'])
        assert note['ip_address'].split('/')[0] == str(ip)
        assert 'k8s.ovn.org/pod-networks' in pod['metadata']['annotations']
        addresses = nbctl(lab, 'get', 'Logical_Switch_Port', '%s_%s' % (NS, name), 'addresses')
        assert str(ip) in addresses and note['mac_address'] in addresses


def test_pods_on_two_nodes_exchange_icmp_and_tcp(e2e, lab):
    a1, b1 = e2e['a1'], e2e['b1']
    # ovn-controller binds a new port and installs its flows asynchronously: the first packets
    # may find no flow yet. Once one answer came back, none may be lost or duplicated.
    for _attempt in range(20):
        if in_pod(lab, a1, 'ping -c 1 -W 1 %s' % b1['status']['podIP']).rc == 0:
            break
    ping = in_pod(lab, a1, 'ping -c 3 -i 0.2 -W 2 %s' % b1['status']['podIP'])
    assert ping.rc == 0 and ' 0% packet loss' in ping.stdout and 'DUP' not in ping.stdout, ping.stdout + ping.stderr
    answer = tcp(lab, a1, b1['status']['podIP'], 8080)
    assert answer.rc == 0, answer.stderr
    assert answer.stdout.split() == ['b1', a1['status']['podIP']]
    back = tcp(lab, b1, a1['status']['podIP'], 8080)
    assert back.rc == 0 and back.stdout.split() == ['a1', b1['status']['podIP']], back.stdout + back.stderr


def test_pods_on_one_node_talk(e2e, lab):
    answer = tcp(lab, e2e['a1'], e2e['a2']['status']['podIP'], 8080)
    assert answer.rc == 0 and answer.stdout.split()[0] == 'a2', answer.stdout + answer.stderr


def test_each_node_reaches_its_pods_through_the_management_port(e2e, lab):
    for name in ('a1', 'b1'):
        pod = e2e[name]
        host = host_of(lab, pod)
        out = host.run("python3 -c '%s' %s 8080" % (CLIENT, pod['status']['podIP']))
        assert out.rc == 0, out.stderr
        seen = ipaddress.ip_address(out.stdout.split()[1])
        assert seen in ipaddress.ip_network(pod['status']['podIP'] + '/24', strict=False), out.stdout


def test_a_pod_reaches_the_external_host_through_the_gateway(e2e, lab):
    out = in_pod(lab, e2e['a1'], "python3 -c '%s' %s %d" % (READER, EXTERNAL[0], EXTERNAL[1]))
    assert out.rc == 0, out.stderr
    assert out.stdout.startswith('peer '), out.stdout
    assert out.stdout.split()[1] != e2e['a1']['status']['podIP']  # SNAT: the gateway's address


def test_a_deleted_pods_port_goes_and_its_address_is_not_the_next_one_given(e2e, lab):
    """A deleted pod's port goes; its address is free, but the next pod gets another one
    (round robin: a freed address is the last to be given again, so a new pod cannot inherit
    what still names the old one in policies and load balancers)."""
    create_pods([('c1', NODE_NAME['node2'])])
    c1 = wait_running(['c1'])['c1']
    old_ip = c1['status']['podIP']
    kubectl('delete', 'pod', '-n', NS, 'c1', '--wait=true', '--timeout=120s')
    wait_gone(['c1'])
    deadline = time.time() + 60
    while '%s_c1' % NS in pod_ports():
        assert time.time() < deadline, 'the port of the deleted pod c1 is still there'
        time.sleep(0.5)
    while host_of(lab, c1).run('ip netns list | grep -q %s' % netns(c1)).rc == 0:
        assert time.time() < deadline, 'the network namespace of the deleted pod c1 is still there'
        time.sleep(0.5)
    create_pods([('c2', NODE_NAME['node2'])])
    c2 = wait_running(['c2'])['c2']
    assert c2['status']['podIP'] != old_ip, 'the freed address %s went to the next pod at once' % old_ip
    assert not [p for p in pod_ports().values() if old_ip in p.split()], 'a port still holds the freed address %s' % old_ip


def test_a_watcher_killed_during_a_burst_leaves_one_port_and_a_distinct_address_per_pod(e2e, lab):
    names = ['burst-%02d' % i for i in range(50)]
    nodes = [NODE_NAME['node1'], NODE_NAME['node2']]
    create_pods([(n, nodes[i % 2]) for i, n in enumerate(names)])
    time.sleep(1.0)
    lab['central'].check_output('systemctl kill -s KILL ovn-k8s-watcher.service')
    pods = wait_running(names, timeout=360)
    ips = [p['status']['podIP'] for p in pods.values()]
    assert len(set(ips)) == len(ips), 'an address handed out twice: %s' % sorted(ips)
    ports = pod_ports()
    for name, pod in pods.items():
        assert '%s_%s' % (NS, name) in ports, name
        assert pod['status']['podIP'] in ports['%s_%s' % (NS, name)]
    all_ips = [a.split()[1] for a in ports.values() if len(a.split()) > 1]
    assert len(set(all_ips)) == len(all_ips), 'two ports with one address: %s' % sorted(all_ips)
    kubectl('delete', 'pods', '-n', NS, '-l', 'app=lab-e2e', '--wait=false')
