# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Kubernetes node as the CNI plugin sees it, for tests (plain Python, no pytest; the fixtures
are in tests/cni/conftest.py).

``Node``: a network namespace standing for the node, with a real ovsdb-server, a userspace
ovs-vswitchd whose ``br-int`` is a ``netdev`` bridge, and a real ovn-controller registered as the
node's chassis in an OVN central part (tests/lib/ovn_stack.py, one per test module) that holds
the node's logical switch; the test kube-apiserver reachable inside it on its loopback address,
and the plugin driven through ``cnitool`` (libcni, as a runtime drives it) under a chosen Python.
``Pod``: a network namespace and a Pod object in the real API server; the test plays the watcher:
the pod's logical switch port (addresses, port security, its pod-uid) and then its annotation,
written with a merge patch.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.parse

import kube_control_plane  # tests/lib, put on the path by tests/conftest.py
import ovs_lab  # tests/lib too
from ovn_stack import OvnController  # tests/lib too
from ovsdb_server import OvsdbServer  # tests/lib too

# tests/lib too; re-exported for the CNI tests.
from checkout import REPO, collection_root, ip_json  # noqa: F401 pylint: disable=unused-import
AGENTS = os.path.join(REPO, 'agents')
PLUGIN = os.path.join(AGENTS, 'bin', 'ovn-k8s-cni-overlay')
NETWORK = 'ovn-k8s'
SYSTEM_PYTHON = '/usr/bin/python3'
CNI_CACHE = '/var/lib/cni/results'   # libcni's default cache, where cnitool keeps ADD results

sys.path.insert(0, AGENTS)
from ovn_k8s_agents import annotation  # noqa: E402 (found through the path set just above)


def cnitool():
    path = os.path.join(kube_control_plane.bin_dir(), 'cnitool')
    if not os.access(path, os.X_OK):
        raise kube_control_plane.ControlPlaneError('cnitool is not built in %s: run scripts/setup' % os.path.dirname(path))
    return path


def sh(*args, **kw):
    subprocess.check_call(list(args), **kw)


class Pod:
    """A pod: its namespace and name in the API, its network namespace, its address."""

    def __init__(self, node, namespace, name, network, netns):
        self.node, self.namespace, self.name, self.network, self.netns = node, namespace, name, network, netns
        self.netns_path = '/var/run/netns/' + netns
        self.uid = None

    @property
    def iface_id(self):
        return '%s_%s' % (self.namespace, self.name)

    def cni(self, verb, ifname='eth0', network=NETWORK, timeout=120, **env):
        return self.node.cnitool(verb, self, ifname=ifname, network=network, timeout=timeout, **env)

    def exec(self, *args, **kw):
        return subprocess.run(['ip', 'netns', 'exec', self.netns] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, check=False, **kw)


class Node:
    """The node: a network namespace with Open vSwitch, br-int, ovn-controller (chassis and logical
    switch named ``self.name``, unique in the central part) and the plugin's configuration."""

    _made = [0]

    def __init__(self, tmp, kube, python, tag, central):
        self.tmp, self.kube, self.python, self.tag, self.central = str(tmp), kube, python, tag, central
        Node._made[0] += 1
        self.name = 'cni-node-%s-%d' % (tag, Node._made[0])
        self.netns = 'ovkcni-node-' + tag
        self.pods, self._stops = [], []
        subprocess.call(['ip', 'netns', 'del', self.netns], stderr=subprocess.DEVNULL)
        sh('ip', 'netns', 'add', self.netns)
        self._stops.append(lambda: subprocess.call(['ip', 'netns', 'del', self.netns]))
        sh('ip', '-n', self.netns, 'link', 'set', 'lo', 'up')
        db = OvsdbServer(self.tmp, [ovs_lab.OVS_SCHEMA], 'ovs')
        self._stops.append(lambda: db.stop(wait=True))
        self.remote = db.remote
        ovs_lab.vsctl(self.remote, 'init')
        pidfile = ovs_lab.start_vswitchd(self.remote, self.netns, self.tmp)
        self._stops.append(lambda: ovs_lab.stop_pidfile(pidfile))
        self.vsctl('add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev')
        self.wait(lambda: self.link('br-int') is not None, 'br-int to appear in %s' % self.netns)
        central.nbctl('ls-add', self.name)
        self._stops.append(lambda: central.nbctl('--if-exists', 'ls-del', self.name))
        controller = OvnController(central, self.remote, self.netns, self.tmp, self.name)
        self._stops.append(controller.stop)
        self.controller_log = controller.log_file
        self.controller_pidfile = controller.pidfile
        port = urllib.parse.urlsplit(kube.server).port
        forwarder = ovs_lab.LoopbackForwarder(self.netns, port)
        self._stops.append(forwarder.stop)
        # CNI_PATH: the plugin under the chosen interpreter, as /opt/cni/bin would hold it.
        self.cni_path = os.path.join(self.tmp, 'cni-bin')
        os.makedirs(self.cni_path)
        wrapper = os.path.join(self.cni_path, 'ovn-k8s-cni-overlay')
        with open(wrapper, 'w') as f:
            f.write('#!/bin/sh\nexec %s %s "$@"\n' % (python, PLUGIN))
        os.chmod(wrapper, 0o755)
        self.log_file = os.path.join(self.tmp, 'cni.log')
        self.netconf = os.path.join(self.tmp, 'net.d')
        os.makedirs(self.netconf)
        self.write_conflist()

    def plugin_config(self, **overrides):
        conf = {'type': 'ovn-k8s-cni-overlay', 'kubeconfig': self.kube.kubeconfig, 'ovs_remote': self.remote,
                'bridge': 'br-int', 'mtu': 1400, 'annotation_timeout': 10, 'port_timeout': 20, 'log_file': self.log_file,
                'ovn_controller_pidfile': self.controller_pidfile}
        conf.update(overrides)
        return dict((k, v) for k, v in conf.items() if v is not None)

    def write_conflist(self, version='1.0.0', network=NETWORK, **overrides):
        path = os.path.join(self.netconf, '10-%s.conflist' % network)
        with open(path, 'w') as f:
            json.dump({'cniVersion': version, 'name': network, 'plugins': [self.plugin_config(**overrides)]}, f, indent=1)
        return path

    def vsctl(self, *args):
        return ovs_lab.vsctl(self.remote, *args)

    def link(self, name, netns=None):
        found = [i for i in ip_json(netns or self.netns, 'addr') if i['ifname'] == name]
        return found[0] if found else None

    @staticmethod
    def wait(ready, what, timeout=10):
        deadline = time.time() + timeout
        while not ready():
            if time.time() > deadline:
                raise AssertionError('timed out waiting for ' + what)
            time.sleep(0.05)

    def pod(self, namespace, name, network=None, annotate=True, port=True):
        """A Pod object bound to this node and an empty network namespace for it; with a
        ``network``, its logical switch port (unless ``port`` is false: no port, as the watcher
        leaves a pod whose annotation it refuses) and then its annotation (unless ``annotate``
        is false), in the watcher's order."""
        from kubernetes import client
        core = self.kube.core()
        created = core.create_namespaced_pod(namespace, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(node_name='cni-node', containers=[client.V1Container(name='c', image='pause')])))
        netns = 'ovkcni-%s-%s' % (self.tag, name)
        subprocess.call(['ip', 'netns', 'del', netns], stderr=subprocess.DEVNULL)
        sh('ip', 'netns', 'add', netns)
        pod = Pod(self, namespace, name, network, netns)
        pod.uid = created.metadata.uid
        self.pods.append(pod)
        if network is not None and port:
            self.add_port(pod)
        if network is not None and annotate:
            self.annotate(pod)
        return pod

    def add_port(self, pod, network=None, uid=None):
        """The pod's logical switch port on this node's switch, as the watcher makes it: "MAC IP"
        as addresses and port security, external_ids with the pod's namespace, name and UID."""
        network = network or pod.network
        address = '%s %s' % (network.mac, network.ip)
        self.central.nbctl('lsp-add', self.name, pod.iface_id, '--', 'lsp-set-addresses', pod.iface_id, address,
                           '--', 'lsp-set-port-security', pod.iface_id, address,
                           '--', 'set', 'Logical_Switch_Port', pod.iface_id, 'external_ids:ovn-k8s-watcher=pod',
                           'external_ids:namespace=' + pod.namespace, 'external_ids:pod=' + pod.name,
                           'external_ids:pod-uid=' + (uid or pod.uid))

    def installed(self, port):
        """external_ids:ovn-installed of OVS port ``port`` (None when not set)."""
        out = self.vsctl('--if-exists', 'get', 'Interface', port, 'external_ids:ovn-installed')
        return out.strip('"') or None

    def annotate(self, pod):
        """Write the pod's annotation as the watcher does: a merge patch of both forms."""
        self.kube.core().patch_namespaced_pod(pod.name, pod.namespace, {'metadata': {'annotations': pod.network.annotations()}},
                                              _content_type='application/merge-patch+json')

    def _cnitool_args(self, verb, pod, ifname, network, env):
        run_env = dict(os.environ, CNI_PATH=self.cni_path, NETCONFPATH=self.netconf, CNI_IFNAME=ifname,
                       CNI_ARGS='K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_UID=%s' % (pod.namespace, pod.name, pod.uid))
        run_env.update(env)
        return ['ip', 'netns', 'exec', self.netns, cnitool(), verb, network, pod.netns_path], run_env

    def cnitool(self, verb, pod, ifname='eth0', network=NETWORK, timeout=120, **env):
        """cnitool VERB NETWORK NETNS inside the node namespace, with the runtime's CNI_ARGS
        (subprocess.TimeoutExpired after ``timeout`` seconds: the plugin hung)."""
        args, run_env = self._cnitool_args(verb, pod, ifname, network, env)
        return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=run_env,
                              timeout=timeout, check=False)

    def start_cnitool(self, verb, pod, ifname='eth0', network=NETWORK, **env):
        """The same, started in the background: the Popen (read it with communicate())."""
        args, run_env = self._cnitool_args(verb, pod, ifname, network, env)
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=run_env)

    def plugin(self, command, config, **env):
        """The plugin itself, as libcni runs it (for what cnitool cannot ask: VERSION)."""
        run_env = dict(os.environ, CNI_COMMAND=command, CNI_PATH=self.cni_path)
        run_env.update(env)
        return subprocess.run(['ip', 'netns', 'exec', self.netns, os.path.join(self.cni_path, 'ovn-k8s-cni-overlay')],
                              input=config if isinstance(config, str) else json.dumps(config),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=run_env,
                              timeout=120, check=False)

    def veths(self):
        """The plugin's host ends present in the node namespace."""
        return sorted(i['ifname'] for i in ip_json(self.netns, 'link') if i['ifname'].startswith('veth'))

    def ports(self):
        return sorted(self.vsctl('list-ports', 'br-int').split())

    def log(self):
        try:
            with open(self.log_file) as f:
                return f.read()
        except OSError:
            return ''

    def close(self):
        for pod in self.pods:
            subprocess.call(['ip', 'netns', 'del', pod.netns], stderr=subprocess.DEVNULL)
            # What libcni cached for a pod whose DEL never came (a failed test): cnitool names the
            # container after a hash of the netns path.
            container_id = 'cnitool-' + hashlib.sha512(pod.netns_path.encode()).hexdigest()[:20]
            for name in os.listdir(self.netconf):
                with open(os.path.join(self.netconf, name)) as f:
                    network = json.load(f).get('name', NETWORK)
                cached = os.path.join(CNI_CACHE, '%s-%s-eth0' % (network, container_id))
                if os.path.exists(cached):
                    os.unlink(cached)
        for stop in reversed(self._stops):  # ovn-controller exits (its chassis goes), then the switch
            try:
                stop()
            except Exception:  # keep tearing down
                pass


def pod_network(cidr, mac, gateway):
    return annotation.PodNetwork(cidr, mac, gateway)


def ok(proc):
    """The result of a plugin run that must have succeeded."""
    assert proc.returncode == 0, 'exit %s\nstdout: %s\nstderr: %s' % (proc.returncode, proc.stdout, proc.stderr)
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def failed(proc):
    """The error text of a plugin run that must have failed."""
    assert proc.returncode != 0, 'expected a failure, got: %s %s' % (proc.stdout, proc.stderr)
    return proc.stderr.strip()


def pod_side(pod, ifname='eth0'):
    """The pod's interface as ``ip -j addr`` shows it, or None."""
    found = [i for i in ip_json(pod.netns, 'addr') if i['ifname'] == ifname]
    return found[0] if found else None
