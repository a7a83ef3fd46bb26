# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNI plugin configures only what OVN holds for the pod (issue 18): a pod's annotation may
be written by whoever creates the pod, so ADD waits for ovn-controller to install the pod's own
logical port on this node and checks the address OVN holds for it and the pod's UID, and a
forged annotation leaves nothing behind. Real ovn-northd and ovn-controller (conftest.py), the
real API server, cnitool; the test plays the watcher (cni_node.Node.add_port, annotate)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from cni_node import SYSTEM_PYTHON, failed, ok, pod_network, pod_side

# The longer tests run under the Python the ovn_node role runs the plugin with (Debian's
# /usr/bin/python3 and its ovs, ovsdbapp and kubernetes); the first test runs under both.
SYSTEM_ONLY = pytest.mark.parametrize('python', [pytest.param(SYSTEM_PYTHON, id='system')], indirect=True)


def inet(pod):
    """The pod's IPv4 addresses (on any interface but lo)."""
    link = pod_side(pod)
    return [] if link is None else ['%s/%s' % (a['local'], a['prefixlen']) for a in link['addr_info'] if a['family'] == 'inet']


def nothing_left(node, pod, keep=()):
    """No veth, no OVS port and no interface of ``pod`` on the node; only ``keep`` remain."""
    assert node.veths() == sorted(keep) and node.ports() == sorted(keep), (node.veths(), node.ports())
    assert pod_side(pod) is None


def test_add_answers_only_once_ovn_installed_the_port(node, k8s_namespace):
    """The annotation is there, the logical port not yet: ADD has made the veth and the interface
    (ovn-controller binds by it) but gives the pod no address until the port is installed."""
    pod = node.pod(k8s_namespace, 'late', pod_network('10.128.1.80/24', '0a:58:0a:80:01:50', '10.128.1.1'), port=False)
    adding = node.start_cnitool('add', pod)
    try:
        node.wait(lambda: len(node.ports()) == 1, 'ADD to plug the interface into br-int', timeout=30)
        host = node.ports()[0]
        assert node.installed(host) is None and inet(pod) == []
        assert adding.poll() is None, adding.communicate()
        node.add_port(pod)
        out, err = adding.communicate(timeout=60)
    finally:
        if adding.poll() is None:
            adding.kill()
            adding.wait()
    assert adding.returncode == 0, err
    assert json.loads(out)['ips'][0]['address'] == '10.128.1.80/24'
    assert node.installed(host) == 'true' and inet(pod) == ['10.128.1.80/24']
    assert 'OVN installed %s_late with this address on chassis %s' % (k8s_namespace, node.name) in node.log()
    ok(pod.cni('del'))
    nothing_left(node, pod)


@SYSTEM_ONLY
def test_forged_annotations_are_refused_and_leave_nothing(node, k8s_namespace):
    node.write_conflist(port_timeout=1)
    victim = node.pod(k8s_namespace, 'victim', pod_network('10.128.1.90/24', '0a:58:0a:80:01:5a', '10.128.1.1'))
    ok(victim.cni('add'))
    kept = node.ports()
    who = '%s/' % k8s_namespace

    # Another pod's IP and MAC: the watcher made no port for this pod, so none is ever installed.
    thief = node.pod(k8s_namespace, 'thief', victim.network, port=False)
    err = failed(thief.cni('add'))
    assert ('pod %sthief: its annotation gives it 10.128.1.90/24 with MAC 0a:58:0a:80:01:5a, but ' % who in err
            and 'OVN has no logical port %s_thief' % k8s_namespace in err and 'gave up after 1 seconds' in err), err
    nothing_left(node, thief, kept)

    # An address outside every subnet.
    foreign = node.pod(k8s_namespace, 'foreign', pod_network('192.0.2.7/24', '0a:58:c0:00:02:07', '192.0.2.1'), port=False)
    err = failed(foreign.cni('add'))
    assert 'pod %sforeign: its annotation gives it 192.0.2.7/24' % who in err and 'OVN has no logical port' in err, err
    nothing_left(node, foreign, kept)

    # The runtime's pod is not the one the API server has under that name (K8S_POD_UID).
    other = node.pod(k8s_namespace, 'other', pod_network('10.128.1.91/24', '0a:58:0a:80:01:5b', '10.128.1.1'))
    err = failed(other.cni('add', CNI_ARGS='K8S_POD_NAMESPACE=%s;K8S_POD_NAME=other;K8S_POD_UID=0000-not-it' % k8s_namespace))
    assert 'pod %sother in the API server has UID %s, not 0000-not-it' % (who, other.uid) in err, err
    nothing_left(node, other, kept)

    # A pod created again under a name whose logical port was made for the earlier pod (the
    # watcher has not caught up), its annotation copied from it.
    node.kube.core().delete_namespaced_pod('other', k8s_namespace, grace_period_seconds=0)
    node.wait(lambda: not [p for p in node.kube.core().list_namespaced_pod(k8s_namespace).items
                           if p.metadata.name == 'other'], 'the pod to be gone')
    again = node.pod(k8s_namespace, 'other', other.network, port=False)
    err = failed(again.cni('add'))
    assert 'the logical port %s_other was made for the pod with UID %s, not %s' % (k8s_namespace, other.uid, again.uid) in err, err
    nothing_left(node, again, kept)

    # The pod's own port holds another address than its annotation: refused at once.
    moved = node.pod(k8s_namespace, 'moved', pod_network('10.128.1.93/24', '0a:58:0a:80:01:5d', '10.128.1.1'), port=False)
    node.add_port(moved, network=pod_network('10.128.1.92/24', '0a:58:0a:80:01:5c', '10.128.1.1'))
    err = failed(moved.cni('add'))
    assert ('the logical port %s_moved holds "0a:58:0a:80:01:5c 10.128.1.92", not "0a:58:0a:80:01:5d 10.128.1.93"'
            % k8s_namespace in err and 'refusing to configure it' in err), err
    nothing_left(node, moved, kept)

    # The victim kept its port, its binding and its address.
    assert node.installed(kept[0]) == 'true' and inet(victim) == ['10.128.1.90/24']
    ok(victim.cni('check'))
    ok(victim.cni('del'))
    nothing_left(node, victim)


@SYSTEM_ONLY
def test_check_finds_what_ovn_and_the_api_server_no_longer_hold(node, k8s_namespace):
    pod = node.pod(k8s_namespace, 'checked', pod_network('10.128.1.95/24', '0a:58:0a:80:01:5f', '10.128.1.1'))
    ok(pod.cni('add'))
    ok(pod.cni('check'))
    port = pod.iface_id

    def sb_mac():
        return node.central.sbctl('--bare', '--columns=mac', 'find', 'Port_Binding', 'logical_port=' + port)

    # OVN's port now holds another address.
    node.central.nbctl('lsp-set-addresses', port, '0a:58:0a:80:01:60 10.128.1.96')
    node.wait(lambda: '10.128.1.96' in sb_mac(), 'the Southbound database to hold the new address')
    err = failed(pod.cni('check'))
    assert ('CHECK of pod %s/checked failed' % k8s_namespace in err
            and 'the logical port %s holds "0a:58:0a:80:01:60 10.128.1.96", not "0a:58:0a:80:01:5f 10.128.1.95"' % port in err), err
    node.central.nbctl('lsp-set-addresses', port, '0a:58:0a:80:01:5f 10.128.1.95')
    node.wait(lambda: '10.128.1.95' in sb_mac(), 'the Southbound database to hold the address again')
    ok(pod.cni('check'))

    # The annotation changed under the pod; and a runtime asking about another pod of that name.
    pod.network, first = pod_network('10.128.1.97/24', '0a:58:0a:80:01:61', '10.128.1.1'), pod.network
    node.annotate(pod)
    err = failed(pod.cni('check'))
    assert "the pod's annotation gives 10.128.1.97/24 with MAC 0a:58:0a:80:01:61, not 10.128.1.95/24 with MAC 0a:58:0a:80:01:5f" in err, err
    pod.network = first
    node.annotate(pod)
    err = failed(pod.cni('check', CNI_ARGS='K8S_POD_NAMESPACE=%s;K8S_POD_NAME=checked;K8S_POD_UID=0000-not-it' % k8s_namespace))
    assert 'has UID %s, not 0000-not-it' % pod.uid in err, err

    # The logical port gone: ovn-controller takes ovn-installed away, and CHECK says so.
    host = node.ports()[0]
    node.central.nbctl('lsp-del', port)
    node.wait(lambda: node.installed(host) is None, 'ovn-controller to release the port')
    err = failed(pod.cni('check'))
    assert 'ovn-controller has not installed the logical port %s on this node' % port in err and \
        'OVN has no logical port %s' % port in err, err
    ok(pod.cni('del'))
    ok(pod.cni('del'))
    nothing_left(node, pod)
