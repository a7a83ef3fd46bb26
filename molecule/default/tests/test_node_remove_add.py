# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Adding and removing a node (issue 24, item 2), through the inventory and the playbooks:

- ``site.yml --limit node1`` on the converged lab changes nothing: the node play reads node
  subnets from the Northbound database (on central) when the central play did not run;
- (``LAB_NODE_REMOVE=1``, scripts/lab-node-remove) node1, a node and the dedicated-NIC gateway
  with a rampout subnet, is drained (its Kubernetes Node deleted) and removed with
  ``playbooks/remove-node.yml``: everything it had is gone from the Northbound and Southbound
  databases and from node1, a second removal changes nothing, and pods on node2 and central
  keep talking (ICMP through it all, TCP after each step); then node1 is registered again and
  added back with ``site.yml --limit node1``: its pods talk again, leave through its own gateway,
  and a second ``--limit node1`` run changes nothing. The lab is left converged.
"""

import json
import os
import re
import subprocess

import pytest

from conftest import NODE_NAME, Pod, nbctl
from test_k8s_pods import kubectl
from test_lab import ping, tcp_peer
from waiting import wait_for  # tests/lib

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
NODE1 = NODE_NAME['node1']
NODE1_GATEWAY_IP = '172.31.1.51'
NODE1_LAB_IP = '172.31.0.11'
EXTERNAL = ('172.31.0.100', 9090)
ECHO_PORT = 8080


def playbook(name, *extra, limit=None, timeout=1500):
    """playbooks/<name> through the molecule inventory, as an operator runs it."""
    inventory = os.environ.get('MOLECULE_INVENTORY_FILE')
    assert inventory, 'run through molecule verify or scripts/lab-pytest (MOLECULE_INVENTORY_FILE)'
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build'),
               ANSIBLE_ROLES_PATH=os.path.join(REPO, 'roles'), ANSIBLE_PIPELINING='true', ANSIBLE_NOCOLOR='1',
               ANSIBLE_FORCE_COLOR='0', MOLECULE_PROJECT_DIRECTORY=REPO,
               CONTAINERS_CONF=os.path.join(REPO, 'scripts', 'lab-containers.conf'), ANSIBLE_FORKS='6',
               # As molecule runs the lab's converge (molecule.yml): Mitogen's strategy, unless told otherwise.
               ANSIBLE_STRATEGY=os.environ.get('OVN_K8S_LAB_STRATEGY', 'mitogen_linear'),
               ANSIBLE_STRATEGY_PLUGINS=os.path.join(REPO, '.build', 'mitogen', 'strategy'))
    given = ['-e', os.environ['LAB_SITE_EXTRA_VARS']] if os.environ.get('LAB_SITE_EXTRA_VARS') else []
    argv = ['ansible-playbook', '-i', os.path.dirname(inventory), os.path.join(REPO, 'playbooks', name)]
    if limit:
        argv += ['--limit', limit]
    return subprocess.run(argv + given + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False, env=env)


def recap(output):
    """{host: (changed, failed)} from a playbook's recap."""
    return dict((m.group(1), (int(m.group(2)), int(m.group(3))))
                for m in re.finditer(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)', output, re.M))


def changed_tasks(output):
    found, task = [], None
    for line in output.splitlines():
        if line.startswith('TASK ['):
            task = line.rstrip(' *')
        elif line.startswith('changed: ['):
            found.append('%s: %s' % (task, line.split(']', 1)[0] + ']'))
    return found


def assert_unchanged(run):
    assert run.returncode == 0, run.stdout[-6000:]
    counts = recap(run.stdout)
    assert counts and all(changed == 0 for changed, dummy in counts.values()), (counts, changed_tasks(run.stdout))


def test_a_limit_node1_converge_of_the_converged_lab_changes_nothing(lab):
    """An existing node, alone: the node play takes its subnet from the Northbound database."""
    run = playbook('site.yml', limit='node1')
    assert_unchanged(run)
    assert 'Their subnets, from the Northbound database on the central host' in run.stdout
    assert set(recap(run.stdout)) == {'node1'}


# --- Removing node1 and adding it back (opt-in) ------------------------------------------
def sb(lab, *args):
    return lab['central'].check_output('ovn-sbctl --no-leader-only ' + ' '.join("'%s'" % a for a in args))


def register_node(name, address):
    """What the lab's prepare step does for a node (molecule/default/kubernetes.yml), as a kubelet would."""
    kubectl('apply', '-f', '-', stdin=json.dumps({
        'apiVersion': 'v1', 'kind': 'Node',
        'metadata': {'name': name, 'labels': {'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux'}}}))
    room = {'cpu': '2', 'memory': '4Gi', 'pods': '110'}
    kubectl('patch', 'node', name, '--subresource=status', '--type=merge', '-p', json.dumps({'status': {
        'addresses': [{'type': 'InternalIP', 'address': address}, {'type': 'Hostname', 'address': name}],
        'capacity': room, 'allocatable': room,
        'conditions': [{'type': 'Ready', 'status': 'True', 'reason': 'LabNodeReady',
                        'message': 'written by the lab test; no kubelet runs in the lab'}]}}))
    kubectl('taint', 'nodes', name, 'node.kubernetes.io/not-ready-', check=False)


def node1_in_the_databases(lab, chassis):
    """What the Northbound and Southbound databases hold of node1, as {what: found}."""
    found = {}
    switches = nbctl(lab, '--bare', '--columns=name', 'list', 'Logical_Switch').split()
    found['switches'] = [s for s in switches if s in (NODE1, 'join_' + NODE1, 'ext_' + NODE1)]
    found['routers'] = [r for r in nbctl(lab, '--bare', '--columns=name', 'list', 'Logical_Router').split()
                        if r == 'GR_' + NODE1]
    found['router ports'] = [p for p in nbctl(lab, '--bare', '--columns=name', 'list', 'Logical_Router_Port').split()
                             if NODE1 in p]
    found['cluster routes'] = nbctl(lab, '--bare', '--columns=_uuid', 'find', 'Logical_Router_Static_Route',
                                    'external_ids:ovn-k8s-gateway="%s"' % NODE1).split()
    found['chassis'] = sb(lab, '--bare', '--columns=name', 'find', 'Chassis', 'name="%s"' % chassis).split() \
        + sb(lab, '--bare', '--columns=name', 'find', 'Chassis', 'hostname="%s"' % NODE1).split()
    found['chassis private'] = sb(lab, '--bare', '--columns=name', 'find', 'Chassis_Private', 'name="%s"' % chassis).split()
    found['encaps'] = sb(lab, '--bare', '--columns=ip', 'find', 'Encap', 'ip="%s"' % NODE1_LAB_IP).split()
    uuids = sb(lab, '--bare', '--columns=_uuid', 'find', 'Chassis', 'name="%s"' % chassis).split()
    found['port bindings'] = sb(lab, '--bare', '--columns=logical_port', 'find', 'Port_Binding',
                                'chassis=%s' % uuids[0]).split() if uuids else []
    return dict((k, v) for k, v in found.items() if v)


def node1_on_the_host(host):
    """What node1 itself still has of the cluster network, as {what: found}."""
    found = {}
    for unit in ('ovn-controller', 'ovn-host', 'ovn-k8s-management-port', 'ovn-k8s-gateway-flows'):
        # ovn-controller's unit is static (ovn-host's wants it): is-enabled says 'static', not 'enabled'.
        state = [host.run('systemctl is-active %s' % unit).stdout.strip(), host.run('systemctl is-enabled %s' % unit).stdout.strip()]
        if 'active' in state or 'enabled' in state:
            found[unit] = state
    bridges = host.check_output('ovs-vsctl list-br').split()
    found['bridges'] = [b for b in bridges if b in ('br-int', 'breth2')]
    found['devices'] = [d for d in ('ovn-k8s-mp0', 'br-int', 'breth2') if host.file('/sys/class/net/' + d).exists]
    ids = host.check_output('ovs-vsctl --if-exists get Open_vSwitch . external_ids')
    found['external_ids'] = [k for k in ('ovn-remote', 'ovn-encap-ip', 'ovn-bridge-mappings', 'k8s-api-server') if k + '=' in ids]
    found['files'] = [f for f in ('/etc/cni/net.d/00-ovn-k8s.conflist', '/usr/lib/cni/ovn-k8s-cni-overlay',
                                  '/opt/cni/bin/ovn-k8s-cni-overlay', '/etc/ovn-k8s/node.kubeconfig',
                                  '/etc/systemd/system/ovn-k8s-management-port.service', '/usr/lib/ovn-k8s')
                      if host.file(f).exists]
    return dict((k, v) for k, v in found.items() if v)


class Pinger:
    """ICMP from a pod to another, every 0.2 s, for as long as the removal and addition take."""

    def __init__(self, pod, ip):
        self.pod, self.unit = pod, 'lab-pinger-%s' % pod.name
        pod.host.run('systemctl stop %s.service' % self.unit)
        pod.host.check_output('systemd-run --unit %s -p NetworkNamespacePath=/run/netns/%s '
                              '/bin/sh -c "exec ping -i 0.2 %s > /run/%s.log 2>&1"' % (self.unit, pod.name, ip, self.unit))

    def stop(self):
        """(sent, received)."""
        self.pod.host.run('systemctl kill -s INT %s.service' % self.unit)
        out = wait_for('ping\'s summary', lambda: self.pod.host.run(
            'grep "packets transmitted" /run/%s.log' % self.unit).stdout, timeout=30, interval=0.5)
        m = re.search(r'(\d+) packets transmitted, (\d+) received', out)
        return int(m.group(1)), int(m.group(2))


def talks(a, b):
    """Pod a reaches pod b: ICMP without loss and TCP to its echo service."""
    r = ping(a, b.ip)
    assert r.rc == 0 and ' 0% packet loss' in r.stdout, '%s -> %s: %s' % (a.name, b.name, r.stdout + r.stderr)
    assert tcp_peer(a.run, b.ip, ECHO_PORT) == 'peer %s' % a.ip, '%s -> %s over TCP' % (a.name, b.name)


@pytest.fixture
def bystanders(lab):
    """A pod on central and one on node2, which must not notice node1 going and coming back."""
    made = [Pod(lab, 'central', 'rmpodc', 21), Pod(lab, 'node2', 'rmpod2', 21)]
    for pod in made:
        pod.delete()
        pod.create()
        pod.serve(ECHO_PORT)
    nbctl(lab, '--wait=hv', 'sync')
    yield made
    for pod in made:
        pod.delete()


@pytest.mark.disruptive
@pytest.mark.skipif(os.environ.get('LAB_NODE_REMOVE') != '1',
                    reason='removes node1 and adds it back (about 6 min in the lab): opt in with LAB_NODE_REMOVE=1 '
                           '(scripts/lab-node-remove)')
def test_node1_is_removed_and_added_back(lab, pods, bystanders):
    podc, pod2 = bystanders
    node1 = lab['node1']
    talks(podc, pod2)
    talks(pod2, podc)
    chassis = node1.check_output('ovs-vsctl get Open_vSwitch . external_ids:system-id').strip('"')
    assert node1_in_the_databases(lab, chassis).keys() >= {'switches', 'routers', 'chassis', 'cluster routes'}
    pinger = Pinger(pod2, podc.ip)
    try:
        # Drained: its pods gone (the session's pod1 is made again below), its Node deleted.
        pods['pod1'].delete()
        kubectl('delete', 'node', NODE1, '--wait=true', '--timeout=120s')
        removed = playbook('remove-node.yml', '-e', 'ovn_remove=node1')
        assert removed.returncode == 0, removed.stdout[-8000:]
        assert recap(removed.stdout)['node1'][0] > 0
        assert node1_in_the_databases(lab, chassis) == {}
        assert node1_on_the_host(node1) == {}
        # The tunnel NIC's move is undone: node1's lab address is on eth1 again.
        assert '%s/24' % NODE1_LAB_IP in node1.check_output('ip -br -4 addr show eth1')
        talks(podc, pod2)
        # Nothing left to remove.
        again = playbook('remove-node.yml', '-e', 'ovn_remove=node1')
        assert_unchanged(again)

        # Back: the Node registered as a kubelet would, then site.yml for node1 alone.
        register_node(NODE1, NODE1_LAB_IP)
        added = playbook('site.yml', limit='node1')
        assert added.returncode == 0, added.stdout[-8000:]
        talks(podc, pod2)
    finally:
        sent, received = pinger.stop()
    assert sent > 0 and sent - received <= 2, 'node2 -> central lost %d of %d pings while node1 went and came back' \
        % (sent - received, sent)

    assert node1_in_the_databases(lab, chassis).keys() >= {'switches', 'routers', 'chassis', 'cluster routes'}
    # The session's pod on node1 again, and one of this test's.
    pods['pod1'].create()
    pods['pod1'].serve(ECHO_PORT)
    pod1 = Pod(lab, 'node1', 'rmpod1', 21)
    pod1.delete()
    pod1.create()
    pod1.serve(ECHO_PORT)
    try:
        nbctl(lab, '--wait=hv', 'sync')
        for a, b in ((pod1, pod2), (pod2, pod1), (pod1, podc), (podc, pod1), (pods['pod1'], pod2)):
            talks(a, b)
        # node1's pods leave through node1's own gateway again (its rampout subnet), SNATed to its
        # address, once ovn-controller has bound the gateway router there.
        wait_for('node1\'s pod to leave through node1\'s gateway',
                 lambda: tcp_peer(pod1.run, *EXTERNAL) == 'peer %s' % NODE1_GATEWAY_IP, timeout=120, interval=1)
        assert tcp_peer(pod1.run, *EXTERNAL) == 'peer %s' % NODE1_GATEWAY_IP
        assert tcp_peer(pods['pod1'].run, *EXTERNAL) == 'peer %s' % NODE1_GATEWAY_IP
        # And the central members' view: node1's tunnel endpoint is back in the Southbound database.
        assert NODE1_LAB_IP in sb(lab, '--bare', '--columns=ip', 'list', 'Encap')
        assert_unchanged(playbook('site.yml', limit='node1'))
    finally:
        pod1.delete()
