# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A gateway survives a reboot without Ansible (issue 21, step 5).

node2, the shared-IP gateway, is restarted as a whole (``podman restart node2``): podman makes
its NICs anew and puts the host's address 172.31.0.12 back on eth1, as a distribution's network
configuration would after a reboot, while Open vSwitch's database still has eth1 in breth1.
Without any play, ovn-k8s-nic-bridge.service must redo the move from what nic_to_bridge saved
(persist), so that the host answers on its address again, a NodePort on that address answers,
pods leave SNATed to it again, and Ansible reaches node2.

node2's own pods are gone after the restart (the lab agent plays the kubelet), so the client pod
and the NodePort's endpoint are one pod on central, whose pods leave through node2's gateway
router. The host service is an enabled unit, so that it comes back with the restart like a real
one.
"""

import os
import subprocess
import time

import pytest

from conftest import Pod, ansible_ping
from test_k8s_pods import READER, fresh_namespace, kubectl
from test_k8s_services import apply
from test_shared_gateway import EXTERNAL_IP, NODE2_IP, from_outside
from waiting import wait_for  # tests/lib

pytestmark = pytest.mark.disruptive

NS = 'lab-reboot'
HOST_PORT = 9193
HOST_UNIT = 'lab-reboot-echo'
DESCRIPTION = '/etc/ovn-k8s/nic-bridge/eth1.json'
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
ECHO = ('import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); '
        's.bind(("0.0.0.0", %d)); s.listen(16)\n'
        'while True:\n    c, a = s.accept(); c.sendall(("peer %%s\\n" %% a[0]).encode()); c.close()\n' % HOST_PORT)


def host_service(node2):
    """An enabled echo service on node2's host (port HOST_PORT), which a restart brings back."""
    node2.check_output("printf '%%s' '%s' > /usr/local/lib/%s.py" % (ECHO, HOST_UNIT))
    node2.check_output("printf '[Unit]\\nDescription=lab echo (test_gateway_reboot)\\n[Service]\\n"
                       "ExecStart=/usr/bin/python3 /usr/local/lib/%s.py\\n[Install]\\nWantedBy=multi-user.target\\n'"
                       " > /etc/systemd/system/%s.service" % (HOST_UNIT, HOST_UNIT))
    node2.check_output('systemctl daemon-reload && systemctl enable --now %s.service' % HOST_UNIT)


def remove_host_service(node2):
    node2.run('systemctl disable --now %s.service' % HOST_UNIT)
    node2.run('rm -f /etc/systemd/system/%s.service /usr/local/lib/%s.py && systemctl daemon-reload'
              % (HOST_UNIT, HOST_UNIT))


def snat_seen(pod):
    """The address the external host sees a connection from ``pod`` come from, or None."""
    out = pod.run("python3 -c '%s' %s 9090" % (READER, EXTERNAL_IP))
    words = out.stdout.split()
    return words[1] if out.rc == 0 and len(words) == 2 and words[0] == 'peer' else None


@pytest.fixture(scope='module')
def reboot(lab, external_service):
    node2 = lab['node2']
    # One pod on central (made as a CNI plugin makes it, no kubelet needed): the client whose
    # SNAT is checked, and the NodePort's endpoint (a service without selector and its
    # EndpointSlice, as for any endpoint a controller names).
    pod = Pod(lab, 'central', 'rbpod', 23)
    pod.delete()
    pod.create()
    pod.serve(8080)
    fresh_namespace(NS)
    apply({'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': 'rb-web', 'namespace': NS},
           'spec': {'type': 'NodePort', 'ports': [{'port': 80, 'targetPort': 8080, 'protocol': 'TCP'}]}},
          {'apiVersion': 'discovery.k8s.io/v1', 'kind': 'EndpointSlice',
           'metadata': {'name': 'rb-web-1', 'namespace': NS, 'labels': {'kubernetes.io/service-name': 'rb-web'}},
           'addressType': 'IPv4', 'ports': [{'port': 8080, 'protocol': 'TCP'}],
           'endpoints': [{'addresses': [pod.ip], 'conditions': {'ready': True}}]})
    port = int(kubectl('get', 'service', '-n', NS, 'rb-web', '-o', 'jsonpath={.spec.ports[0].nodePort}').stdout)
    host_service(node2)
    # pod2 (test_lab's session pod on node2), if made, is made again after the restart.
    had_pod2 = node2.run('ip netns list').stdout.split().count('pod2') > 0
    yield dict(port=port, client=pod)
    remove_host_service(node2)
    pod.delete()
    kubectl('delete', 'namespace', NS, '--wait=false')
    if had_pod2 and 'pod2' not in node2.run('ip netns list').stdout.split():
        pod2 = Pod(lab, 'node2', 'pod2', 10)
        pod2.delete()
        pod2.create()
        pod2.serve(8080)


def all_back(lab, reboot):
    """What must work on node2's address, each a reason when it does not."""
    missing = []
    if from_outside(lab, NODE2_IP, HOST_PORT, timeout=2, reader=True) != ('peer', EXTERNAL_IP):
        missing.append('host service')
    if (from_outside(lab, NODE2_IP, reboot['port'], timeout=2, reader=True) or ('',))[0] != 'peer':
        missing.append('node port')
    if snat_seen(reboot['client']) != NODE2_IP:
        missing.append('pod SNAT')
    return missing


def test_node2_comes_back_after_its_container_restarts_without_a_play(lab, reboot):
    node2 = lab['node2']
    # The move is saved (root-only) and the unit that redoes it at boot is enabled.
    assert node2.file(DESCRIPTION).mode == 0o600 and node2.file(DESCRIPTION).user == 'root'
    assert '"%s/24"' % NODE2_IP in node2.file(DESCRIPTION).content_string
    assert node2.service('ovn-k8s-nic-bridge').is_enabled
    # Before: everything answers on node2's address (so that the test can tell a failure after).
    wait_for('the node port, the host service and the pod SNAT before the restart',
             lambda: not all_back(lab, reboot), timeout=120, interval=1)

    started = time.monotonic()
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, 'scripts', 'lab-containers.conf'))
    subprocess.run(['podman', 'restart', 'node2'], env=env, check=True, timeout=300,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    restarted = time.monotonic()

    # podman gave eth1 the host's address again; the unit moved it (its journal says so).
    wait_for('ovn-k8s-nic-bridge to finish at boot',
             lambda: node2.run('systemctl is-active ovn-k8s-nic-bridge').stdout.strip() in ('active', 'failed'),
             timeout=120, interval=0.5)
    journal = node2.check_output('journalctl -b -u ovn-k8s-nic-bridge --no-pager -o cat')
    assert node2.run('systemctl is-active ovn-k8s-nic-bridge').stdout.strip() == 'active', journal
    assert '%s: moved eth1 into breth1' % DESCRIPTION in journal, journal
    assert '%s/24' % NODE2_IP in node2.check_output('ip -br addr show breth1')
    assert NODE2_IP not in node2.check_output('ip -br addr show eth1')
    assert node2.check_output('ovs-vsctl port-to-br eth1') == 'breth1'

    wait_for('the host service, the node port and the pods\' SNAT on node2\'s address',
             lambda: not all_back(lab, reboot), timeout=240, interval=1)
    back = time.monotonic()
    # Reported, not asserted (the machine's load varies).
    print('podman restart took %.1f s; everything answered on %s %.1f s after the restart began'
          % (restarted - started, NODE2_IP, back - started))
    for _attempt in range(3):
        assert all_back(lab, reboot) == []
    rc, out = ansible_ping('node2')
    assert rc == 0, out
