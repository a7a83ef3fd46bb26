# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNI plugin on its own refuses a forged annotation, in the lab (issue 18, item 2): with the
admission policy on the pod network annotations taken away for the test (as if an operator had
removed it), a pod created with an annotation that claims a running pod's address and MAC, and
one that claims an address outside every node subnet, are refused by the plugin on their node
(no port in OVN for them: ovn-controller never installs one), so they never become Running with
that address, nothing of them stays on the node, and the victim keeps its traffic."""

import json
import os
import sys
import time

import pytest

from conftest import NODE_NAME
from test_k8s_pods import REPO, fresh_namespace, get_pods, kubectl, tcp, wait_running

sys.path.insert(0, os.path.join(REPO, 'agents'))
from ovn_k8s_agents import annotation  # noqa: E402 (the watcher's annotation forms)

NS = 'lab-cni-trust'
BINDING = 'ovn-k8s-watcher-pod-network'   # the ovn_watcher role's ValidatingAdmissionPolicyBinding
KEYS = ('k8s.ovn.org/pod-networks', 'ovn')
CNI_LOG = '/var/log/ovn-k8s/cni.log'


def manifest(name, node, annotations=None):
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'namespace': NS, 'annotations': annotations or {}},
            'spec': {'nodeSelector': {'kubernetes.io/hostname': node}, 'terminationGracePeriodSeconds': 0,
                     'containers': [{'name': 'web', 'image': 'lab/none', 'ports': [{'containerPort': 8080}]}]}}


@pytest.fixture(scope='module')
def no_admission_policy(lab):
    """The policy binding removed for the module and put back afterwards (if the lab has one)."""
    found = kubectl('get', 'validatingadmissionpolicybinding', BINDING, '-o', 'json', check=False)
    saved = json.loads(found.stdout) if found.returncode == 0 else None
    if saved:
        kubectl('delete', 'validatingadmissionpolicybinding', BINDING)
    yield
    if saved:
        meta = saved['metadata']
        saved['metadata'] = dict((k, meta[k]) for k in ('name', 'labels', 'annotations') if k in meta)
        kubectl('create', '-f', '-', stdin=json.dumps(saved))   # as it was: no last-applied annotation


def create(pod, timeout=60):
    """Create POD, retrying while the API server still applies a binding just deleted."""
    deadline = time.time() + timeout
    while True:
        made = kubectl('create', '-f', '-', stdin=json.dumps(pod), check=False)
        if made.returncode == 0:
            return
        assert 'ValidatingAdmissionPolicy' in made.stderr and time.time() < deadline, made.stderr
        time.sleep(1)


def log_lines(host):
    """How many lines the plugin's log on HOST has now."""
    return int(host.run('cat %s 2>/dev/null | wc -l' % CNI_LOG).stdout.strip() or 0)


def wait_refused(host, name, after, timeout=180):
    """The line of the plugin's log on HOST, past its first AFTER lines, where ADD refused pod NAME."""
    deadline = time.time() + timeout
    needle = 'pod %s/%s: its annotation gives it' % (NS, name)
    while True:
        lines = host.run("tail -n +%d %s | grep -F '%s' || true" % (after + 1, CNI_LOG, needle)).stdout.splitlines()
        if lines:
            return lines[-1]
        assert time.time() < deadline, 'no ADD of %s/%s was refused in %s after %ds' % (NS, name, CNI_LOG, timeout)
        time.sleep(2)


def test_the_plugin_refuses_forged_annotations_without_the_admission_policy(lab, no_admission_policy):
    fresh_namespace(NS)
    try:
        create(manifest('victim', NODE_NAME['node1']))
        create(manifest('client', NODE_NAME['node2']))
        pods = wait_running(['victim', 'client'], namespace=NS)
        victim = json.loads(pods['victim']['metadata']['annotations']['ovn'])
        victim_ip = victim['ip_address'].split('/')[0]
        assert 'victim' in tcp(lab, pods['client'], victim_ip, 8080).stdout

        # On node2, beside the client: the victim's address and MAC, then a foreign address.
        node2 = lab['node2']
        seen = log_lines(node2)   # earlier runs' lines say nothing about these pods
        stolen = dict((k, pods['victim']['metadata']['annotations'][k]) for k in KEYS)
        create(manifest('thief', NODE_NAME['node2'], stolen))
        create(manifest('foreign', NODE_NAME['node2'],
                        annotation.PodNetwork('192.0.2.7/24', '0a:58:c0:00:02:07', '192.0.2.1').annotations()))
        for name, address in (('thief', victim['ip_address']), ('foreign', '192.0.2.7/24')):
            line = wait_refused(node2, name, seen)
            assert 'its annotation gives it %s' % address in line and 'OVN has no logical port %s_%s' % (NS, name) in line, line
            pod = [p for p in get_pods(NS) if p['metadata']['name'] == name][0]
            assert pod['status'].get('phase') != 'Running' and not pod['status'].get('podIP'), pod['status']
            # Never installed by OVN, its address nowhere on the node. (The lab agent retries ADD as
            # a kubelet does, and each attempt plugs an interface without an address while it
            # waits for ovn-installed: that an attempt leaves nothing behind when it gives up is
            # proved in tests/cni/test_cni_ovn_trust.py, where attempts do not overlap.)
            ifaces = node2.check_output('ovs-vsctl --bare --columns=external_ids find Interface '
                                        'external_ids:iface-id=%s_%s', NS, name)
            assert 'ovn-installed' not in ifaces, ifaces
            assert address.split('/')[0] not in node2.check_output('ip -o addr show'), name
        # The victim still answers at its address, the one the client reaches.
        assert 'victim' in tcp(lab, pods['client'], victim_ip, 8080).stdout
    finally:
        kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=240s')
