# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NetworkPolicy semantics with real packets (issue 23): "a pod cannot block access to itself".
A pod that is the only backend of its Service reaches itself through the Service's cluster IP
(the load balancer sends it back to itself: hairpin) while policies isolate it for egress, and
then for ingress and egress; the isolation is in force meanwhile (it reaches no other pod, and
no other pod reaches it)."""

import json

import pytest

from conftest import NODE_NAME, nbctl
from test_k8s_pods import fresh_namespace, kubectl
from test_k8s_services import apply, connect, eventually, manifest, wait_running

NS = 'lab-self'
# The source a pod sees on its own connection balanced back to it (services.HAIRPIN_SNAT_IP).
HAIRPIN_SOURCE = '169.254.169.5'


@pytest.fixture(scope='module')
def alone(lab):
    fresh_namespace(NS)
    apply(manifest('self', NODE_NAME['node1'], {'app': 'self'}, namespace=NS),
          manifest('peer', NODE_NAME['node2'], {'app': 'peer'}, namespace=NS))
    apply({'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'self', 'namespace': NS},
           'spec': {'selector': {'app': 'self'}, 'ports': [{'port': 80, 'targetPort': 'http'}]}})
    running = wait_running(['self', 'peer'], namespace=NS)
    running['vip'] = json.loads(kubectl('get', 'service', '-n', NS, 'self', '-o', 'json').stdout)['spec']['clusterIP']
    yield running
    kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=240s')
    # Leave no port behind for the tests after this one (their hand-made pods take fixed addresses).
    eventually('the ports of %s to go' % NS, lambda: not [
        n for n in nbctl(lab, '--bare', '--columns=name', 'find', 'Logical_Switch_Port').split() if n.startswith(NS + '_')])


def isolate(types):
    apply({'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'alone', 'namespace': NS},
           'spec': {'podSelector': {'matchLabels': {'app': 'self'}}, 'policyTypes': types}})


def reaches_itself(lab, alone):
    """Three requests from the pod to its own Service, each answered by the pod itself, which
    sees the hairpin source address."""
    for _try in range(3):
        rc, out = connect(lab, alone['self'], alone['vip'], 80)
        assert rc == 0 and out == 'self %s' % HAIRPIN_SOURCE, (rc, out)


def test_case5_an_isolated_pod_reaches_itself_through_its_service(alone, lab):
    self_ip, peer_ip = alone['self']['status']['podIP'], alone['peer']['status']['podIP']
    eventually('the pod to reach itself through its service',
               lambda: connect(lab, alone['self'], alone['vip'], 80)[0] == 0, timeout=120)
    reaches_itself(lab, alone)
    assert connect(lab, alone['self'], peer_ip, 8080)[0] == 0

    # Isolated for egress: it reaches no other pod, and still itself through the Service.
    isolate(['Egress'])
    eventually('egress isolation to hold', lambda: connect(lab, alone['self'], peer_ip, 8080, timeout=2)[0] != 0)
    reaches_itself(lab, alone)
    assert connect(lab, alone['peer'], self_ip, 8080)[0] == 0  # not isolated for ingress yet

    # Isolated both ways: no other pod reaches it either; it still reaches itself.
    isolate(['Ingress', 'Egress'])
    eventually('ingress isolation to hold', lambda: connect(lab, alone['peer'], self_ip, 8080, timeout=2)[0] != 0)
    reaches_itself(lab, alone)
    assert connect(lab, alone['self'], peer_ip, 8080, timeout=2)[0] != 0
