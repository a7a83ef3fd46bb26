# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NetworkPolicy -> port groups, address sets and ACLs (ovn_k8s_agents.policy), judged by
what the produced OVN objects allow.

The cluster is the one of the upstream Kubernetes ``netpol`` e2e suite: namespaces x, y and z
(label ``ns=<name>``), pods a, b and c in each (label ``pod=<name>``) serving ports 80 and 81 over
TCP and UDP with container ports named ``serve-80-tcp`` and so on. Each case gives the policies
and the expected truth table as a predicate over (source, destination, protocol, port), written
from the Kubernetes semantics, not from the translator. A small evaluator of OVN ACL matches
(tests/lib/acl_eval.py, independent of the translator) decides every probe from the produced model:
per stage, the highest-priority matching ACL decides; no match passes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import sys

import pytest

# agents/ is not installed: the tests import it from the checkout.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'agents'))

from ovn_k8s_agents import policy as np  # noqa: E402
from ovn_k8s_agents import services  # noqa: E402
from acl_eval import Evaluator, Peer  # noqa: E402  (tests/lib)

NAMESPACES = ('x', 'y', 'z')
PODS = ('a', 'b', 'c')
MGMT_IP = '10.128.0.2'
# The one node of these pure tests: (node, management port, its address). The evaluator does not
# model logical switches; the own-node scoping is proved by ovn-trace (tests/functional).
NODES = (('n1', 'k8s-n1', MGMT_IP),)


def pod_ip(ns, pod):
    return '10.128.%d.%d' % (NAMESPACES.index(ns) + 1, 10 + PODS.index(pod))


def make_pod(ns, name, extra_ports=(), ip=None):
    ip = ip or pod_ip(ns, name)
    ports = [dict(name='serve-%d-%s' % (p, proto.lower()), containerPort=p, protocol=proto)
             for p in (80, 81) for proto in ('TCP', 'UDP')]
    ports += [dict(p) for p in extra_ports]
    return {'apiVersion': 'v1', 'kind': 'Pod',
            'metadata': {'name': name, 'namespace': ns, 'labels': {'pod': name}},
            'spec': {'nodeName': 'node1', 'containers': [{'name': 'cont-80-tcp', 'image': 'agnhost', 'ports': ports}]},
            'status': {'phase': 'Running', 'podIP': ip, 'podIPs': [{'ip': ip}]}}


def cluster(extra_ports=None):
    pods = [make_pod(ns, p, (extra_ports or {}).get('%s/%s' % (ns, p), ())) for ns in NAMESPACES for p in PODS]
    # Pods the policies must ignore: on the host network, not scheduled, finished.
    host = make_pod('x', 'host', ip='172.18.0.11')
    host['spec']['hostNetwork'] = True
    pending = make_pod('x', 'pending', ip='10.128.9.1')
    del pending['spec']['nodeName']
    done = make_pod('y', 'done', ip='10.128.9.2')
    done['status']['phase'] = 'Succeeded'
    namespaces = [{'metadata': {'name': ns, 'labels': {'ns': ns, 'kubernetes.io/metadata.name': ns}}}
                  for ns in NAMESPACES]
    return pods + [host, pending, done], namespaces


def netpol(name, pod_selector=None, ingress=None, egress=None, types=None, ns='x'):
    spec = {'podSelector': pod_selector or {}}
    if ingress is not None:
        spec['ingress'] = ingress
    if egress is not None:
        spec['egress'] = egress
    if types:
        spec['policyTypes'] = types
    return {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy',
            'metadata': {'name': name, 'namespace': ns}, 'spec': spec}


def labels(**kw):
    return {'matchLabels': kw}


def expr(key, op, *values):
    out = {'key': key, 'operator': op}
    if values:
        out['values'] = list(values)
    return {'matchExpressions': [out]}


PEERS = [Peer(pod_ip(ns, p), ns, p) for ns in NAMESPACES for p in PODS]
EXTERNAL = [Peer('192.168.1.5'), Peer('192.168.1.200'), Peer(MGMT_IP)]


def truth_table_check(policies, expect, ports=(80, 81), protos=('TCP', 'UDP'), extra_ports=None, mgmt=NODES):
    pods, namespaces = cluster(extra_ports)
    model = np.network_policy_model(policies, pods, namespaces, nodes=mgmt)
    ev = Evaluator(model)
    wrong = []
    for src in PEERS + EXTERNAL:
        for dst in PEERS:
            for proto in protos:
                for port in ports:
                    got, want = ev.allowed(src, dst, proto, port), bool(expect(src, dst, proto, port))
                    if got != want:
                        wrong.append('%s -> %s %s/%d: got %s, want %s' % (src, dst, proto, port, got, want))
    assert not wrong, '%d probes wrong:\n%s' % (len(wrong), '\n'.join(wrong[:40]))
    return model


# The cases -----------------------------------------------------------------------------------
CASES = [
    ('default deny ingress',
     [netpol('deny', ingress=[], types=['Ingress'])],
     lambda s, d, proto, port: d.ns != 'x' or s == MGMT_IP),
    ('default deny ingress and egress',
     [netpol('deny-all', types=['Ingress', 'Egress'])],
     lambda s, d, proto, port: (d.ns != 'x' or s == MGMT_IP) and s.ns != 'x'),
    ('allow all ingress with the empty rule',
     [netpol('allow-all', ingress=[{}])],
     lambda s, d, proto, port: True),
    ('podSelector: x/a from x/b',
     [netpol('allow-b', labels(pod='a'), ingress=[{'from': [{'podSelector': labels(pod='b')}]}])],
     lambda s, d, proto, port: d != 'x/a' or s in ('x/b', MGMT_IP)),
    ('empty podSelector peer: x/a from its own namespace',
     [netpol('same-ns', labels(pod='a'), ingress=[{'from': [{'podSelector': {}}]}])],
     lambda s, d, proto, port: d != 'x/a' or s.ns == 'x' or s == MGMT_IP),
    ('namespaceSelector with matchExpressions In',
     [netpol('ns-in', labels(pod='a'), ingress=[{'from': [{'namespaceSelector': expr('ns', 'In', 'y')}]}])],
     lambda s, d, proto, port: d != 'x/a' or s.ns == 'y' or s == MGMT_IP),
    ('empty namespaceSelector: every pod of every namespace, nothing outside',
     [netpol('all-ns', labels(pod='a'), ingress=[{'from': [{'namespaceSelector': {}}]}])],
     lambda s, d, proto, port: d != 'x/a' or s.pod is not None or s == MGMT_IP),
    ('podSelector AND namespaceSelector',
     [netpol('and', labels(pod='a'), ingress=[{'from': [{'namespaceSelector': expr('ns', 'NotIn', 'x'),
                                                         'podSelector': labels(pod='b')}]}])],
     lambda s, d, proto, port: d != 'x/a' or (s.ns in ('y', 'z') and s.pod == 'b') or s == MGMT_IP),
    ('podSelector OR namespaceSelector',
     [netpol('or', labels(pod='a'), ingress=[{'from': [{'namespaceSelector': labels(ns='y')},
                                                       {'podSelector': labels(pod='b')}]}])],
     lambda s, d, proto, port: d != 'x/a' or s.ns == 'y' or s == 'x/b' or s == MGMT_IP),
    ('matchExpressions Exists and DoesNotExist',
     [netpol('exists', expr('pod', 'Exists'), ingress=[{'from': [{'podSelector': expr('pod', 'In', 'a', 'b')}]}]),
      netpol('none', expr('pod', 'DoesNotExist'), ingress=[])],
     lambda s, d, proto, port: d.ns != 'x' or (s.ns == 'x' and s.pod in ('a', 'b')) or s == MGMT_IP),
    ('ports by number: TCP 81 only, from anywhere',
     [netpol('port-81', labels(pod='a'), ingress=[{'ports': [{'protocol': 'TCP', 'port': 81}]}])],
     lambda s, d, proto, port: d != 'x/a' or (proto, port) == ('TCP', 81) or s == MGMT_IP),
    ('any port of one protocol',
     [netpol('udp', labels(pod='a'), ingress=[{'ports': [{'protocol': 'UDP'}]}])],
     lambda s, d, proto, port: d != 'x/a' or proto == 'UDP' or s == MGMT_IP),
    ('named port serve-81-tcp',
     [netpol('named', labels(pod='a'), ingress=[{'from': [{'namespaceSelector': {}}], 'ports': [{'port': 'serve-81-tcp'}]}])],
     lambda s, d, proto, port: d != 'x/a' or ((proto, port) == ('TCP', 81) and s.pod) or s == MGMT_IP),
    ('named port serve-80-udp needs its protocol',
     [netpol('named-udp', labels(pod='a'), ingress=[{'ports': [{'port': 'serve-80-udp', 'protocol': 'UDP'}]}])],
     lambda s, d, proto, port: d != 'x/a' or (proto, port) == ('UDP', 80) or s == MGMT_IP),
    ('named port of another protocol opens nothing',
     [netpol('named-wrong-proto', labels(pod='a'), ingress=[{'ports': [{'port': 'serve-80-udp'}]}])],
     lambda s, d, proto, port: d != 'x/a' or s == MGMT_IP),
    ('two policies: the union of their rules',
     [netpol('from-b', labels(pod='a'), ingress=[{'from': [{'podSelector': labels(pod='b')}]}]),
      netpol('from-y-c', labels(pod='a'), ingress=[{'from': [{'namespaceSelector': labels(ns='y'), 'podSelector': labels(pod='c')}],
                                                    'ports': [{'port': 80}]}])],
     lambda s, d, proto, port: d != 'x/a' or s in ('x/b', MGMT_IP) or (s == 'y/c' and port == 80 and proto == 'TCP')),
    ('egress deny all from x/a',
     [netpol('no-egress', labels(pod='a'), egress=[], types=['Egress'])],
     lambda s, d, proto, port: s != 'x/a'),
    ('egress by podSelector and namespaceSelector on a named port',
     [netpol('egress-named', labels(pod='a'), types=['Egress'],
             egress=[{'to': [{'namespaceSelector': labels(ns='y'), 'podSelector': labels(pod='b')}],
                      'ports': [{'port': 'serve-80-tcp'}]}])],
     lambda s, d, proto, port: s != 'x/a' or (d == 'y/b' and (proto, port) == ('TCP', 80))),
    ('egress named port without peers: every pod that has the port',
     [netpol('egress-any-named', labels(pod='a'), types=['Egress'], egress=[{'ports': [{'port': 'serve-81-udp', 'protocol': 'UDP'}]}])],
     lambda s, d, proto, port: s != 'x/a' or (proto, port) == ('UDP', 81)),
    ('egress to every namespace on port 80',
     [netpol('egress-80', labels(pod='a'), types=['Egress'], egress=[{'to': [{'namespaceSelector': {}}], 'ports': [{'port': 80, 'protocol': 'TCP'}]}])],
     lambda s, d, proto, port: s != 'x/a' or (proto, port) == ('TCP', 80)),
    ('egress ipBlock with except',
     [netpol('egress-cidr', labels(pod='a'), types=['Egress'],
             egress=[{'to': [{'ipBlock': {'cidr': '10.128.0.0/16', 'except': [pod_ip('y', 'b') + '/32']}}]}])],
     lambda s, d, proto, port: s != 'x/a' or d != 'y/b'),
    ('ingress ipBlock with except, from outside the cluster',
     [netpol('ingress-cidr', labels(pod='a'), ingress=[{'from': [{'ipBlock': {'cidr': '192.168.1.0/24', 'except': ['192.168.1.128/25']}}]}])],
     lambda s, d, proto, port: d != 'x/a' or s in ('192.168.1.5', MGMT_IP)),
    ('ingress ipBlock of pod addresses and a podSelector, one rule',
     [netpol('mixed', labels(pod='a'), ingress=[{'from': [{'ipBlock': {'cidr': '10.128.3.0/24', 'except': ['10.128.3.12/32']}},
                                                          {'podSelector': labels(pod='c')}]}])],
     lambda s, d, proto, port: d != 'x/a' or s in ('z/a', 'z/b', 'x/c', MGMT_IP)),
]


@pytest.mark.parametrize('name,policies,expect', CASES, ids=[c[0] for c in CASES])
def test_truth_table(name, policies, expect):
    model = truth_table_check(policies, expect)
    assert model['errors'] == []


def test_end_port_ranges():
    policies = [netpol('range', labels(pod='a'), ingress=[{'ports': [{'protocol': 'TCP', 'port': 81, 'endPort': 82},
                                                                     {'protocol': 'UDP', 'port': 80, 'endPort': 80}]}])]
    truth_table_check(policies, lambda s, d, proto, port: d != 'x/a' or s == MGMT_IP or
                      (proto == 'TCP' and 81 <= port <= 82) or (proto == 'UDP' and port == 80),
                      ports=(79, 80, 81, 82, 83))


def test_named_port_resolved_per_pod():
    # One port name, a different number in each pod (and none in x/c).
    extra = {'x/a': [dict(name='web', containerPort=80, protocol='TCP')],
             'x/b': [dict(name='web', containerPort=81, protocol='TCP')]}
    policies = [netpol('web', ingress=[{'ports': [{'port': 'web'}]}])]
    truth_table_check(policies, lambda s, d, proto, port: d.ns != 'x' or s == MGMT_IP or
                      (d == 'x/a' and (proto, port) == ('TCP', 80)) or (d == 'x/b' and (proto, port) == ('TCP', 81)),
                      extra_ports=extra)


def test_case6_named_port_on_a_sidecar_container_is_resolved():
    """Issue 23, case 6: a port named on a sidecar (an init container with restartPolicy Always,
    which keeps running beside the containers) is resolved, as Kubernetes resolves it since 1.29;
    one on an ordinary init container (it has exited before the pod serves) is not."""
    pods, namespaces = cluster()
    by_name = dict(('%s/%s' % (p['metadata']['namespace'], p['metadata']['name']), p) for p in pods)
    by_name['x/a']['spec']['initContainers'] = [
        {'name': 'proxy', 'image': 'proxy', 'restartPolicy': 'Always',
         'ports': [{'name': 'metrics', 'containerPort': 81, 'protocol': 'TCP'}]}]
    by_name['x/b']['spec']['initContainers'] = [
        {'name': 'setup', 'image': 'setup', 'ports': [{'name': 'metrics', 'containerPort': 81, 'protocol': 'TCP'}]}]
    assert np.named_port(by_name['x/a'], 'metrics', 'TCP') == 81
    assert np.named_port(by_name['x/a'], 'metrics', 'UDP') is None
    assert np.named_port(by_name['x/b'], 'metrics', 'TCP') is None
    # A container's port of that name comes first, as in Kubernetes' FindPort.
    by_name['x/a']['spec']['containers'][0]['ports'].append({'name': 'metrics', 'containerPort': 80, 'protocol': 'TCP'})
    assert np.named_port(by_name['x/a'], 'metrics', 'TCP') == 80
    by_name['x/a']['spec']['containers'][0]['ports'].pop()
    # Ingress (resolved on the selected pods) and egress (on the peers): x/a's sidecar port only.
    policies = [netpol('in', ingress=[{'ports': [{'port': 'metrics'}]}]),
                netpol('out', labels(pod='c'), egress=[{'ports': [{'port': 'metrics'}]}], types=['Egress'], ns='y')]
    ev = Evaluator(np.network_policy_model(policies, pods, namespaces, nodes=NODES))
    for src in PEERS + EXTERNAL:
        for dst in PEERS:
            for port in (80, 81):
                want = ((dst.ns != 'x' or src == MGMT_IP or (dst == 'x/a' and port == 81))
                        and (src != 'y/c' or (dst == 'x/a' and port == 81)))
                assert ev.allowed(src, dst, 'TCP', port) == want, (src, dst, port)


def test_hairpin_source_always_gets_in():
    """A pod's connection to its own service comes back from the load balancers' hairpin_snat_ip."""
    assert np.HAIRPIN_SOURCE == services.HAIRPIN_SNAT_IP
    pods, namespaces = cluster()
    ev = Evaluator(np.network_policy_model([netpol('deny', ingress=[], egress=[], types=['Ingress', 'Egress'])],
                                           pods, namespaces, NODES))
    hairpin, other = Peer(np.HAIRPIN_SOURCE), Peer('169.254.169.6')
    for dst in PEERS:
        assert ev.allowed(hairpin, dst, 'TCP', 80)
        assert ev.allowed(other, dst, 'TCP', 80) == (dst.ns != 'x')


def test_management_ports_come_from_the_caller():
    policies = [netpol('deny', ingress=[])]
    truth_table_check(policies, lambda s, d, proto, port: d.ns != 'x', mgmt=())


def test_untranslatable_rule_fails_closed_and_names_the_policy_and_part():
    policies = [netpol('bad', labels(pod='a'), ingress=[{'from': [{'podSelector': expr('pod', 'Near', 'b')}]}]),
                netpol('good', labels(pod='b'), ingress=[{}])]
    model = truth_table_check(policies, lambda s, d, proto, port: d != 'x/a' or s == MGMT_IP)
    assert model['errors'] == ["network policy x/bad: ingress rule 0 from 0 podSelector: operator 'Near' on key pod is not "
                               "one of In, NotIn, Exists, DoesNotExist; the pods it selects stay isolated"]


def test_broken_pod_selector_isolates_the_whole_namespace():
    policies = [netpol('bad', expr('pod', 'In'), ingress=[{}])]
    model = truth_table_check(policies, lambda s, d, proto, port: d.ns != 'x' or s == MGMT_IP)
    assert model['errors'] == ['network policy x/bad: podSelector: operator In on key pod needs values; '
                               'the pods it selects stay isolated']


@pytest.mark.parametrize('rule,part', [
    ({'from': [{'ipBlock': {'cidr': '10.0.0.0/33'}}]}, "ingress rule 0 from 0: ipBlock cidr '10.0.0.0/33' is not a CIDR"),
    ({'from': [{'ipBlock': {'cidr': '10.0.0.0/16', 'except': ['10.1.0.0/24']}}]}, 'except 10.1.0.0/24 is not inside cidr 10.0.0.0/16'),
    ({'from': [{'ipBlock': {'cidr': '10.0.0.0/16'}, 'podSelector': {}}]}, 'ipBlock cannot be combined with a selector'),
    ({'ports': [{'protocol': 'ICMP'}]}, 'ingress rule 0 port 0: protocol ICMP is not one of TCP, UDP, SCTP'),
    ({'ports': [{'port': 90, 'endPort': 80}]}, 'endPort 80 must be between port 90 and 65535'),
    ({'ports': [{'port': 'web', 'endPort': 80}]}, 'endPort 80 needs a numeric port'),
    ({'from': [{}]}, 'a peer needs podSelector, namespaceSelector or ipBlock'),
])
def test_bad_rules_are_errors_and_fail_closed(rule, part):
    model = truth_table_check([netpol('bad', labels(pod='a'), ingress=[rule])],
                              lambda s, d, proto, port: d != 'x/a' or s == MGMT_IP)
    assert len(model['errors']) == 1 and model['errors'][0].startswith('network policy x/bad: ')
    assert part in model['errors'][0]


def test_label_change_moves_sets_not_acls():
    policies = [netpol('allow-b', labels(pod='a'), ingress=[{'from': [{'podSelector': labels(pod='b')}]}])]
    pods, namespaces = cluster()
    before = np.network_policy_model(policies, pods, namespaces, NODES)
    for pod in pods:
        if pod['metadata']['namespace'] == 'x' and pod['metadata']['name'] == 'c':
            pod['metadata']['labels'] = {'pod': 'b'}
    after = np.network_policy_model(policies, pods, namespaces, NODES)
    assert [pg['acls'] for pg in before['port_groups']] == [pg['acls'] for pg in after['port_groups']]
    sets = dict((a['name'], a['addresses']) for a in after['address_sets'])
    rule_set = np.rule_address_set('x', 'allow-b', 'Ingress', 0)
    assert sets[rule_set] == [pod_ip('x', 'b'), pod_ip('x', 'c')]
    assert np.node_port_group('n1') in [pg['name'] for pg in after['port_groups']]


def test_case1_egress_named_port_peers_change_sets_not_acls():
    """Issue 23, case 1: an egress named port without ``to`` allows that port on every pod of the
    cluster that names it; pods coming and going change an address set, not the ACL. Two port
    names that resolve to one number get a set each."""
    extra = {'y/a': [dict(name='web', containerPort=82, protocol='TCP')],
             'z/a': [dict(name='www', containerPort=82, protocol='TCP')]}
    policies = [netpol('out', labels(pod='c'), types=['Egress'], egress=[{'ports': [{'port': 'web'}, {'port': 'www'}]}])]
    pods, namespaces = cluster(extra)
    before = np.network_policy_model(policies, pods, namespaces, NODES)
    web, www = (np.named_port_address_set('x', 'out', 0, 'TCP', n, 82) for n in ('web', 'www'))
    sets = dict((a['name'], a['addresses']) for a in before['address_sets'])
    assert sets[web] == [pod_ip('y', 'a')] and sets[www] == [pod_ip('z', 'a')]
    ev = Evaluator(before)
    assert [d for d in PEERS if ev.allowed(Peer(pod_ip('x', 'c'), 'x', 'c'), d, 'TCP', 82)] == ['y/a', 'z/a']
    # Another server appears in y, the one in z goes.
    pods.append(make_pod('y', 'd', [dict(name='web', containerPort=82, protocol='TCP')], ip='10.128.2.13'))
    pods = [p for p in pods if (p['metadata']['namespace'], p['metadata']['name']) != ('z', 'a')]
    after = np.network_policy_model(policies, pods, namespaces, NODES)
    sets = dict((a['name'], a['addresses']) for a in after['address_sets'])
    assert sets[web] == [pod_ip('y', 'a'), '10.128.2.13'] and www not in sets
    acls_of = dict((pg['name'], pg['acls']) for pg in before['port_groups'])
    after_acls = dict((pg['name'], pg['acls']) for pg in after['port_groups'])
    out = np.policy_port_group('x', 'out')
    assert [a for a in acls_of[out] if web in a['match']] == [a for a in after_acls[out] if web in a['match']]
    assert [a for a in after_acls[out] if www in a['match']] == []


def test_names_are_valid_ovn_names_and_stable():
    pods, namespaces = cluster()
    model = np.network_policy_model([netpol('a-b.c', ingress=[{}], egress=[{}], types=['Ingress', 'Egress'])], pods, namespaces)
    names = [pg['name'] for pg in model['port_groups']] + [a['name'] for a in model['address_sets']]
    assert all(re.match(r'^[A-Za-z_.][A-Za-z0-9_.]*$', n) for n in names), names
    assert np.policy_port_group('x', 'a-b.c') == np.policy_port_group('x', 'a-b.c') != np.policy_port_group('x', 'a-b-c')
    deny = [pg for pg in model['port_groups'] if pg['name'] == np.deny_port_group('x', 'Egress')][0]
    assert deny['ports'] == ['x_a', 'x_b', 'x_c']
    assert all(len(acl['name']) <= 63 for pg in model['port_groups'] for acl in pg['acls'])


@pytest.mark.parametrize('selector,labels_,want', [
    ({}, {}, True),
    (labels(a='1'), {'a': '1', 'b': '2'}, True),
    (labels(a='1'), {'a': '2'}, False),
    (expr('a', 'In', '1', '2'), {'a': '2'}, True),
    (expr('a', 'In', '1'), {}, False),
    (expr('a', 'NotIn', '1'), {}, True),
    (expr('a', 'NotIn', '1'), {'a': '1'}, False),
    (expr('a', 'Exists'), {'a': ''}, True),
    (expr('a', 'DoesNotExist'), {'a': ''}, False),
    (dict(labels(a='1'), **expr('b', 'Exists')), {'a': '1'}, False),
])
def test_selector_matches(selector, labels_, want):
    assert np.selector_matches(selector, labels_) is want


def test_label_index_picks_exactly_what_a_full_scan_picks():
    """Cluster.matching looks only at the pods that hold one of matchLabels' pairs once a
    namespace has more than a few pods (and with labels only, tests only the other pairs): on
    hundreds of pods and selectors of every shape it must pick what testing every pod picks,
    and fail on the same bad selectors."""
    import random
    rnd = random.Random(7)
    keys, values = ('app', 'tier', 'role', 'zone'), ('a', 'b', 'c', '')
    pods = []
    for i in range(300):
        pod = make_pod('x' if i % 3 else 'y', 'p%d' % i, ip='10.129.%d.%d' % (i // 200, i % 200 + 1))
        pod['metadata']['labels'] = dict((k, rnd.choice(values)) for k in keys if rnd.random() < 0.6)
        pods.append(pod)
    c = np.Cluster(pods, [])
    for trial in range(400):
        sel = {}
        if rnd.random() < 0.8:
            sel['matchLabels'] = dict((k, rnd.choice(values)) for k in rnd.sample(keys, rnd.randint(1, 3)))
        if rnd.random() < 0.5:
            op = rnd.choice(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Bogus'])
            expr = {'key': rnd.choice(keys), 'operator': op}
            if op in ('In', 'NotIn'):
                expr['values'] = rnd.sample(values, 2)
            sel['matchExpressions'] = [expr]
        elif rnd.random() < 0.2:
            sel['matchExpressions'] = rnd.choice([[], None])   # labels only, however written
        for ns in ('x', 'y', 'nowhere'):
            try:
                want = [p.lsp for p in c.in_namespace(ns) if np.selector_matches(sel, p.labels, 'sel')]
            except np.PolicyError as e:
                with pytest.raises(np.PolicyError) as got:
                    c.matching(ns, sel, 'sel')
                assert str(got.value) == str(e)
                continue
            assert [p.lsp for p in c.matching(ns, sel, 'sel')] == want, sel
    # A matchLabels value that is not a string (the API would refuse it) matches nothing, as before.
    assert c.matching('x', {'matchLabels': {'app': ['a']}}, 'sel') == []


@pytest.mark.parametrize('policies', [
    [netpol('in', labels(pod='a'), ingress=[{}])],
    [netpol('both', {}, ingress=[], egress=[], types=['Ingress', 'Egress']), netpol('b', labels(pod='b'), ingress=[{}])],
    [netpol('bad-types', labels(pod='a'), ingress=[{}], types=['Sideways'])],
    [netpol('bad-selector', expr('pod', 'In'), ingress=[{}])],
    [netpol('bad-rule', labels(pod='c'), ingress=[{'from': [{}]}], egress=[{}], types=['Egress'])],
])
def test_a_new_pods_groups_are_those_the_namespace_model_gives_it(policies):
    """What a new port joins as it is created (isolating_groups) is what the namespace's
    reconcile then wants for it: the reconcile never takes it out of a deny group again, and a
    deny group the model puts it in is never missed."""
    pods, namespaces = cluster()
    model = np.namespace_model('x', policies, np.Cluster(pods, namespaces))
    members = dict((pg['name'], set(pg['ports'])) for pg in model['port_groups'])
    for pod in pods:
        if pod['metadata']['namespace'] != 'x' or not np.on_pod_network(pod):
            continue  # the watcher makes no port for a host-network pod
        port = np.pod_port('x', pod['metadata']['name'])
        deny, own = np.isolating_groups(pod, policies)
        assert set(deny) == set(g for g in members if g.startswith('npdeny_') and port in members[g]), port
        # A policy's own group: the model's when it translates (else it has none, and the
        # watcher joins only groups that exist).
        assert set(g for g in own if g in members) == set(g for g in members if g.startswith('np_') and port in members[g])
