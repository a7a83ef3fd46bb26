# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NetworkPolicy semantics that depend on what the watcher reconciles when (issue 23): the
watcher as a subprocess against the real API server and a real Northbound ovsdb-server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from waiting import wait_for  # tests/lib
from ovn_k8s_agents import annotation, policy
from ovn_k8s_agents.watcher import policies as netpol
from test_services_policies import acls, address_sets, cluster, make_pod, port_groups, run_pods  # noqa: F401 pylint: disable=unused-import

NAMED_ACL = re.compile(r'ip4\.dst == \$(\w+) && tcp && tcp\.dst == (\d+)')


def serve_in(c, namespace, name, node, port):
    """A pod of ``namespace`` on ``node`` serving the named port ``c1-srv`` on ``port``, running
    with the address the watcher gave it; returns that address."""
    c.core.create_namespaced_pod(namespace, {
        'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'labels': {'app': 'server'}},
        'spec': {'nodeName': node, 'containers': [{'name': 'c', 'image': 'busybox', 'ports': [
            {'name': 'c1-srv', 'containerPort': port, 'protocol': 'TCP'}]}]}})

    def annotated():
        notes = c.core.read_namespaced_pod(name, namespace).metadata.annotations or {}
        return 'ovn' in notes and notes
    ip = str(annotation.parse(wait_for('%s/%s annotated' % (namespace, name), annotated, timeout=60)).ip)
    c.kube.mark_pod_running((namespace, name), ip)
    return ip


def named_port_allowances(nb, group):
    """{address: port} that the ACLs of port group ``group`` allow through resolved named ports
    (an address set per port number)."""
    rules, sets = acls(nb), address_sets(nb)
    out = {}
    for uuid in port_groups(nb).get(group, {}).get('acls', []):
        found = NAMED_ACL.search(rules[uuid]['match'])
        if found:
            for ip in sets[found.group(1)]:
                out[ip] = int(found.group(2))
    return out


def test_case1_egress_to_a_named_port_without_peers_follows_pods_of_every_namespace(cluster):
    """Issue 23, case 1: an egress rule with a named port and no ``to`` allows that port on every
    pod of the cluster that names it, so the policy depends on pods of every namespace: a
    server pod deleted in another namespace leaves its ACL (its address could go to the next
    pod), and one created there later is added."""
    from kubernetes import client
    net = client.NetworkingV1Api(cluster.kube.api_client())
    a = cluster.node('a')
    x, y = cluster.ns, 'y-%s' % cluster.tag
    cluster.kube.create_namespace(y)
    try:
        w = cluster.watcher()
        w.wait_leading()
        make_pod(cluster, 'client', a, {'role': 'client'})
        run_pods(cluster, ['client'])
        old = serve_in(cluster, y, 'old', a, 8080)
        net.create_namespaced_network_policy(x, {
            'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'out'},
            'spec': {'podSelector': {'matchLabels': {'role': 'client'}}, 'policyTypes': ['Egress'],
                     'egress': [{'ports': [{'protocol': 'TCP', 'port': 'c1-srv'}]}]}})
        group = policy.policy_port_group(x, 'out')
        wait_for('the server of the other namespace allowed',
                 lambda: named_port_allowances(cluster.nb, group) == {old: 8080}, timeout=60)

        cluster.core.delete_namespaced_pod('old', y, grace_period_seconds=0)
        wait_for('the deleted server\'s address out of the ACL',
                 lambda: named_port_allowances(cluster.nb, group) == {}, timeout=30)
        new = serve_in(cluster, y, 'new', a, 8081)
        wait_for('a server created later in the other namespace allowed',
                 lambda: named_port_allowances(cluster.nb, group) == {new: 8081}, timeout=30)
    finally:
        # Pods first, at once (no kubelet confirms a graceful deletion): a pod left terminating in
        # a terminating namespace is an object the next test's watcher cannot record events on.
        for pod in cluster.core.list_namespaced_pod(y).items:
            cluster.core.delete_namespaced_pod(pod.metadata.name, y, grace_period_seconds=0)
        cluster.core.delete_namespace(y)


def test_case1_which_policies_reach_other_namespaces():
    """The rule behind case 1, case by case: only an egress rule without peers that names a port
    depends on pods of other namespaces (an ingress named port resolves on the policy's own pods)."""
    def pol(**spec):
        return {'spec': dict(podSelector={}, **spec)}
    named, number = [{'port': 'c1-srv'}], [{'port': 8080}, {'port': '8081'}]
    assert netpol.reaches_other_namespaces(pol(egress=[{'ports': named}]))
    assert netpol.reaches_other_namespaces(pol(egress=[{'to': [], 'ports': named}]))
    assert netpol.reaches_other_namespaces(pol(egress=[{'ports': 'c1-srv'}]))  # unreadable: queue
    assert not netpol.reaches_other_namespaces(pol(egress=[{'ports': number}]))
    assert not netpol.reaches_other_namespaces(pol(egress=[{'to': [{'podSelector': {}}], 'ports': named}]))
    assert not netpol.reaches_other_namespaces(pol(ingress=[{'ports': named}]))
    assert netpol.reaches_other_namespaces(pol(ingress=[{'from': [{'namespaceSelector': {}}]}]))
