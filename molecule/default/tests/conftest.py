# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab fixtures: the four containers, pods made as a CNI plugin would make them, and TCP
services that answer with the address they see. On a failure the report carries the
Northbound/Southbound topology, each host's OVS state and ovn-controller's journal.
Traffic goes only to addresses inside the lab's containers and namespaces.
"""

import json
import os
import subprocess
import sys
import time

import pytest
import testinfra
import testinfra.backend.base
import testinfra.host

# The repository's test helpers (tests/lib: waiting.wait_for) serve the lab's tests too.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'tests', 'lib'))

HOSTS = ('central', 'central2', 'central3', 'node1', 'node2', 'external')
# The members of the clustered central databases (central is also the master node).
CENTRALS = ('central', 'central2', 'central3')
CENTRAL_IP = {'central': '172.31.0.10', 'central2': '172.31.0.13', 'central3': '172.31.0.14'}
NODES = ('central', 'node1', 'node2')
# Each node's name in OVN and Kubernetes (ovn_node_name in molecule.yml): node1 has an FQDN
# longer than an interface name may be.
NODE_NAME = {'central': 'central', 'node1': 'node1.lab.ovn-k8s.example', 'node2': 'node2'}
# The cluster's pod range (ovn_cluster_subnet in molecule.yml, not the default one).
CLUSTER_SUBNET = '10.244.0.0/16'

# A TCP service that tells each client the source address it sees, then closes.
ECHO_PEER = '''
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
while True:
    c, a = s.accept()
    c.sendall(("peer %s\\n" % a[0]).encode())
    c.close()
'''


class NsenterBackend(testinfra.backend.base.BaseBackend):
    """testinfra's podman backend, without podman exec's cost: each command runs through
    ``nsenter`` in all the namespaces of the container's init (mount, UTS, IPC, network, PID,
    cgroup), as root with a clean environment, which is what ``podman exec`` gives a privileged
    container, in about 20 ms instead of 200 (conmon and the runtime are not involved). The
    container's PID is read with ``podman inspect`` and read again when the container restarted."""

    NAME = 'nsenter'
    ENV = 'env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root container=podman'

    def __init__(self, name, *args, **kwargs):
        self.name = name
        self._pid = None
        super().__init__(name, *args, **kwargs)

    def pid(self):
        if self._pid is None or not os.path.exists('/proc/%d/ns/mnt' % self._pid):
            out = subprocess.run(['podman', 'inspect', '--format', '{{.State.Pid}}', self.name], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, universal_newlines=True, timeout=60, check=True)
            self._pid = int(out.stdout.strip())
            assert self._pid > 0, 'container %s is not running' % self.name
        return self._pid

    def run(self, command, *args, **kwargs):
        cmd = self.get_command(command, *args)
        out = self.run_local('nsenter -t %s -a -- ' + self.ENV + ' /bin/sh -c %s', str(self.pid()), cmd)
        out.command = self.encode(cmd)
        return out


@pytest.fixture(scope='session')
def lab():
    return dict((name, testinfra.host.Host(NsenterBackend(name))) for name in HOSTS)


def nbctl(lab, *args):
    return lab['central'].check_output('ovn-nbctl --no-leader-only ' + ' '.join("'%s'" % a for a in args))


def mac_of(ip):
    return '0a:58:' + ':'.join('%02x' % int(b) for b in ip.split('.'))


class Pod:
    """A network namespace plugged into br-int the way a CNI plugin does it."""

    def __init__(self, lab, node, name, index):
        self.lab, self.node, self.name = lab, node, name
        self.host = lab[node]
        self.switch = NODE_NAME[node]
        subnet = nbctl(lab, 'get', 'Logical_Switch', self.switch, 'other_config:subnet').strip('"')
        base, self.prefix = subnet.split('/')
        octets = base.split('.')
        self.gateway = '.'.join(octets[:3] + [str(int(octets[3]) + 1)])
        self.ip = '.'.join(octets[:3] + [str(int(octets[3]) + index)])
        self.mac = mac_of(self.ip)
        self.veth = (name + '-h')[:15]

    def create(self):
        nbctl(self.lab, '--may-exist', 'lsp-add', self.switch, self.name, '--',
              'lsp-set-addresses', self.name, '%s %s' % (self.mac, self.ip))
        ns = 'ip netns exec %s ' % self.name
        self.host.check_output(' && '.join([
            'ip netns add %s' % self.name,
            'ip link add %s type veth peer name eth0 netns %s' % (self.veth, self.name),
            ns + 'ip link set eth0 address %s' % self.mac,
            ns + 'ip addr add %s/%s dev eth0' % (self.ip, self.prefix),
            ns + 'ip link set lo up',
            ns + 'ip link set eth0 up',
            ns + 'ip route add default via %s' % self.gateway,
            # Userspace datapath: TCP needs the pod to fill in its own checksums.
            ns + 'ethtool -K eth0 tx off',
            'ip link set %s up' % self.veth,
            'ovs-vsctl add-port br-int %s -- set Interface %s external_ids:iface-id=%s'
            % (self.veth, self.veth, self.name),
        ]))

    def run(self, cmd):
        return self.host.run('ip netns exec %s %s' % (self.name, cmd))

    def serve(self, port):
        serve(self.host, 'pod-%s-%d' % (self.name, port), port, netns=self.name)

    def delete(self):
        self.host.run('systemctl stop pod-%s-*.service' % self.name)
        self.host.run('ovs-vsctl --if-exists del-port br-int %s' % self.veth)
        self.host.run('ip netns del %s' % self.name)
        self.lab['central'].run('ovn-nbctl --no-leader-only --if-exists lsp-del %s' % self.name)


def serve(host, unit, port, netns=None):
    """Start ECHO_PEER as a transient systemd unit (in a pod's namespace if given)."""
    prop = '-p NetworkNamespacePath=/run/netns/%s ' % netns if netns else ''
    host.run('systemctl stop %s.service' % unit)
    host.check_output("systemd-run --unit %s --collect %spython3 -c '%s' %d"
                      % (unit, prop, ECHO_PEER, port))
    for _attempt in range(50):
        if host.run('ss -Htln sport = :%d' % port).stdout.strip() or netns:
            break
        time.sleep(0.1)
    time.sleep(0.3)


@pytest.fixture(scope='session')
def pods(lab):
    made = {'pod1': Pod(lab, 'node1', 'pod1', 10), 'pod2': Pod(lab, 'node2', 'pod2', 10)}
    for pod in made.values():
        pod.delete()  # leftovers of an earlier verify
        pod.create()
    for pod in made.values():
        pod.serve(8080)
    # ovn-controller binds the ports and installs flows asynchronously.
    nbctl(lab, '--wait=hv', 'sync')
    yield made
    for pod in made.values():
        pod.delete()


@pytest.fixture(scope='session')
def external_service(lab):
    serve(lab['external'], 'lab-echo-peer', 9090)
    yield ('172.31.0.100', 9090)
    lab['external'].run('systemctl stop lab-echo-peer.service')


def _diagnostics():
    out = []

    def run(name, cmd):
        proc = subprocess.run(['podman', 'exec', name, 'sh', '-c', cmd], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, timeout=60,
                              check=False)
        out.append('--- %s: %s\n%s' % (name, cmd, proc.stdout))

    run('central', 'ovn-nbctl --no-leader-only show; ovn-sbctl --no-leader-only show')
    for name in CENTRALS:
        run(name, 'ovn-appctl -t /var/run/ovn/ovnnb_db.ctl cluster/status OVN_Northbound; '
                  'ovn-appctl -t /var/run/ovn/ovnsb_db.ctl cluster/status OVN_Southbound')
    for name in NODES:
        run(name, 'ovs-vsctl show; ip -br addr; ip route')
        run(name, 'journalctl -u ovn-controller -u ovn-k8s-management-port --no-pager -n 25')
    return '\n'.join(out)


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'disruptive: restarts, removes or reinstalls part of the lab (and puts it back); '
                   'runs after every other lab test, in the order of the files')


def pytest_collection_modifyitems(items):
    """Disruptive tests (a gateway's container restarted, a node removed and added again, packages
    reinstalled) run last, so that every other test sees the lab as converged."""
    items.sort(key=lambda item: item.get_closest_marker('disruptive') is not None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == 'call' and report.failed:
        try:
            report.sections.append(('lab state', _diagnostics()))
        except Exception as exc:  # the report must not hide the failure
            report.sections.append(('lab state', 'could not collect: %s' % exc))


def ansible_ping(host):
    """The molecule inventory's connection to ``host`` still works (as Ansible uses it)."""
    inventory = os.environ.get('MOLECULE_INVENTORY_FILE')
    args = ['ansible', host, '-m', 'ansible.builtin.ping', '-o']
    if inventory:
        args[1:1] = ['-i', inventory]
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120, check=False)
    return proc.returncode, proc.stdout


def jsonout(host, cmd):
    return json.loads(host.check_output(cmd))
