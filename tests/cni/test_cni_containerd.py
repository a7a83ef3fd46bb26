# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ovn_node role's CNI install under a real container runtime: Debian's containerd (1.6, the
CRI plugin, runc) asked through CRI by crictl to run a pod sandbox, as a kubelet asks it; no
kubelet runs.

The role (credentials, node name check and CNI tasks, through ansible-playbook) installs the
plugin with loopback and portmap and writes the node's kubeconfig with a per-node client
certificate (CN system:node:<node>, group system:nodes: the node authorizer's rights, as the
kubelet's own certificate has). containerd reads the plugins from the directory Debian's
/etc/containerd/config.toml names (/usr/lib/cni, here its temporary stand-in) and the role's
configuration from the configuration directory; it runs inside the test node's network namespace
(tests/lib/cni_node.py: Open vSwitch, br-int, ovn-controller), so the plugin plugs the sandbox
into that br-int. The test plays the watcher (the pod's logical port and annotation). RunPodSandbox
gives the sandbox the annotated address through the chain ovn-k8s-cni-overlay + portmap (the
hostPort's DNAT rule names the pod's address, which portmap takes from our result);
StopPodSandbox runs DEL, which removes the port.

The pause image is built here (a small static Go program in an OCI archive imported with ctr): no
image registry is reachable. containerd runs with restrict_oom_score_adj, because this machine may
not lower a process's OOM score (runc fails otherwise); a real host does not need it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time

import pytest

from cni_node import REPO, SYSTEM_PYTHON, Node, collection_root, pod_network
from test_cni_role_install import BIN_DIRS, REFERENCE, ansible_env, ansible_playbook

PAUSE_IMAGE = 'localhost/ovn-k8s-test/pause:1'
PAUSE_GO = '''package main

import (
\t"os"
\t"os/signal"
\t"syscall"
)

func main() {
\tc := make(chan os.Signal, 1)
\tsignal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
\t<-c
}
'''

PLAY = '''
- hosts: localhost
  gather_facts: false
  connection: local
  module_defaults:
    group/ovn_k8s.overlay.ovs:
      remote: "{remote}"
  tasks:
    - name: The node agents' credentials (and the node name check)
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_node
        tasks_from: credentials.yml
    - name: The CNI part of ovn_node
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_node
        tasks_from: cni.yml
'''

NODE = 'cni-node'   # the node every cni_node.Node pod is bound to


def tools():
    """containerd, ctr and crictl, or the reason they cannot be had."""
    found = dict((name, shutil.which(name)) for name in ('containerd', 'ctr', 'crictl', 'runc', 'go'))
    if not found['crictl']:
        # scripts/setup builds it into the cache (scripts/build-crictl), off PATH
        built = subprocess.run([os.path.join(REPO, 'scripts', 'build-crictl'), '--print'],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, check=False)
        found['crictl'] = built.stdout.strip() if built.returncode == 0 else None
    if not found['go'] and os.access('/usr/local/go/bin/go', os.X_OK):
        found['go'] = '/usr/local/go/bin/go'
    missing = sorted(name for name, path in found.items() if not path)
    if missing:
        pytest.skip('not installed: %s (scripts/setup: Debian\'s containerd and runc; crictl from '
                    'scripts/build-crictl)' % ', '.join(missing))
    return found


def _blob(tar, data):
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo('blobs/sha256/' + digest)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return {'digest': 'sha256:' + digest, 'size': len(data)}


def pause_image(tmp, go):
    """An OCI image archive whose one layer is a static program that waits for a signal."""
    src = os.path.join(tmp, 'pause-src')
    os.makedirs(src)
    with open(os.path.join(src, 'main.go'), 'w') as f:
        f.write(PAUSE_GO)
    with open(os.path.join(src, 'go.mod'), 'w') as f:
        f.write('module pause\n\ngo 1.21\n')
    binary = os.path.join(src, 'pause')
    subprocess.run([go, 'build', '-o', binary, '.'], cwd=src, check=True, timeout=300,
                   env=dict(os.environ, CGO_ENABLED='0', GOFLAGS='-mod=mod', GOWORK='off'))
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode='w') as t, open(binary, 'rb') as f:
        data = f.read()
        info = tarfile.TarInfo('pause')
        info.size, info.mode = len(data), 0o755
        t.addfile(info, io.BytesIO(data))
    archive = os.path.join(tmp, 'pause.tar')
    with tarfile.open(archive, 'w') as tar:
        lay = dict(_blob(tar, layer.getvalue()), mediaType='application/vnd.oci.image.layer.v1.tar')
        config = dict(_blob(tar, json.dumps({
            'architecture': 'amd64', 'os': 'linux', 'config': {'Entrypoint': ['/pause']},
            'rootfs': {'type': 'layers', 'diff_ids': [lay['digest']]}}).encode()),
            mediaType='application/vnd.oci.image.config.v1+json')
        manifest = dict(_blob(tar, json.dumps({
            'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
            'config': config, 'layers': [lay]}).encode()),
            mediaType='application/vnd.oci.image.manifest.v1+json',
            annotations={'io.containerd.image.name': PAUSE_IMAGE, 'org.opencontainers.image.ref.name': '1'})
        for name, data in (('index.json', json.dumps({'schemaVersion': 2, 'manifests': [manifest]}).encode()),
                           ('oci-layout', b'{"imageLayoutVersion": "1.0.0"}')):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


class Containerd:
    """containerd with its root, state and socket in ``tmp``, inside network namespace ``netns``
    (entered with nsenter, which leaves the mounts alone: ip netns exec would hide the cgroup
    mounts from runc)."""

    def __init__(self, tmp, netns, bin_dir, conf_dir, found):
        self.tmp, self.found = tmp, found
        os.makedirs(tmp)
        # Unix socket paths are limited to 104 bytes and containerd adds '.ttrpc' (and its shims
        # their own names) under the state directory: both go in a short directory of their own.
        self.short = tempfile.mkdtemp(prefix='ctd', dir='/tmp')
        self.sock = os.path.join(self.short, 'c.sock')
        self.config = os.path.join(tmp, 'containerd.toml')
        # Debian's /etc/containerd/config.toml sets bin_dir and conf_dir the same way.
        with open(self.config, 'w') as f:
            f.write('version = 2\nroot = "%s"\nstate = "%s"\n[grpc]\n  address = "%s"\n'
                    '[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    sandbox_image = "%s"\n'
                    '    restrict_oom_score_adj = true\n'
                    '    [plugins."io.containerd.grpc.v1.cri".containerd]\n      snapshotter = "native"\n'
                    '    [plugins."io.containerd.grpc.v1.cri".cni]\n      bin_dir = "%s"\n      conf_dir = "%s"\n'
                    % (os.path.join(tmp, 'root'), os.path.join(self.short, 'state'), self.sock, PAUSE_IMAGE, bin_dir, conf_dir))
        self.log_file = os.path.join(tmp, 'containerd.log')
        with open(self.log_file, 'w') as log:
            self.proc = subprocess.Popen(['nsenter', '--net=/var/run/netns/' + netns, found['containerd'], '--config', self.config],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while self.ctr('version').returncode != 0:
            assert self.proc.poll() is None and time.time() < deadline, self.log()
            time.sleep(0.1)

    def ctr(self, *args):
        return subprocess.run([self.found['ctr'], '--address', self.sock, '--namespace', 'k8s.io'] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False)

    def crictl(self, *args):
        return subprocess.run([self.found['crictl'], '--runtime-endpoint', 'unix://' + self.sock, '--timeout', '120s'] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=180, check=False)

    def log(self):
        with open(self.log_file) as f:
            return f.read()[-6000:]

    def stop(self):
        for pod in self.crictl('pods', '-q').stdout.split():
            self.crictl('stopp', pod)
            self.crictl('rmp', '--force', pod)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.short, ignore_errors=True)


@pytest.fixture
def node(kube, tmp_path, ovn_central):
    """The test node, its plugin under /usr/bin/python3 (as the role installs it)."""
    collection_root()
    n = Node(tmp_path, kube, SYSTEM_PYTHON, '%d' % (os.getpid() % 100000), ovn_central)
    yield n
    n.close()


def install(tmp_path, kube, node, **more):
    """The role's credentials and CNI tasks with a client certificate for system:node:<the node's name>."""
    name = more.get('ovn_node_name', NODE)
    _cert, _key, cert, key = kube.pki.issue('node-' + name, 'system:node:' + name, organizations=('system:nodes',))
    extra = {
        'ovn_node_name': NODE,
        'ovn_node_k8s_api_server': kube.server,
        'ovn_node_k8s_client_cert': cert,
        'ovn_node_k8s_client_key': key,
        'ovn_node_k8s_ca_cert': str(tmp_path / 'k8s-ca.crt'),
        'ovn_node_k8s_ca_cert_content': kube.pki.ca_pem.decode(),
        'ovn_node_kubeconfig': str(tmp_path / 'etc-ovn-k8s' / 'node.kubeconfig'),
        'ovn_node_cni_packages': ['python3-kubernetes', 'containernetworking-plugins'],
        'ovn_node_cni_lib_dir': str(tmp_path / 'lib'),
        'ovn_node_cni_bin_dirs': [str(tmp_path / d) for d in BIN_DIRS],
        'ovn_node_cni_reference_dir': REFERENCE,
        'ovn_node_cni_conf_dir': str(tmp_path / 'role-net.d'),
        'ovn_node_cni_log_file': node.log_file,
        'ovn_node_datapath_type': 'netdev',
        'ovn_node_tls': False,
    }
    extra.update(more)
    play = tmp_path / 'play.yml'
    play.write_text(PLAY.format(remote=node.remote))
    return subprocess.run([ansible_playbook(), '-i', 'localhost,', str(play), '-e', json.dumps(extra)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          env=ansible_env(tmp_path), timeout=300, check=False)


def test_containerd_runs_a_pod_sandbox_through_the_installed_plugin(kube, node, k8s_namespace, tmp_path):
    found = tools()
    try:
        kube.create_node(NODE)
    except Exception as e:  # pylint: disable=broad-except
        if 'AlreadyExists' not in str(e) and 'already exists' not in str(e):
            raise
    proc = install(tmp_path, kube, node)
    assert proc.returncode == 0, proc.stdout
    config = json.loads((tmp_path / 'etc-ovn-k8s' / 'node.kubeconfig').read_text())
    assert 'token' not in config['users'][0]['user'] and config['users'][0]['user']['client-certificate'].endswith('.crt')
    assert (tmp_path / 'k8s-ca.crt').read_bytes().strip() == kube.pki.ca_pem.strip()

    # The test node's Open vSwitch and ovn-controller are not at the default paths: the one
    # change made to the role's configuration (a real node has them where the plugin looks).
    conf = tmp_path / 'role-net.d' / '00-ovn-k8s.conflist'
    conflist = json.loads(conf.read_text())
    conflist['plugins'][0].update(ovs_remote=node.remote, ovn_controller_pidfile=node.controller_pidfile,
                                  annotation_timeout=20, port_timeout=30)
    conf.write_text(json.dumps(conflist))

    image = pause_image(str(tmp_path), found['go'])
    runtime = Containerd(str(tmp_path / 'containerd'), node.netns, str(tmp_path / BIN_DIRS[0]), str(tmp_path / 'role-net.d'), found)
    try:
        imported = runtime.ctr('images', 'import', image)
        assert imported.returncode == 0, imported.stdout

        pod = node.pod(k8s_namespace, 'web', pod_network('10.128.1.7/24', '0a:58:0a:80:01:07', '10.128.1.1'))
        spec = tmp_path / 'pod.json'
        spec.write_text(json.dumps({
            'metadata': {'name': 'web', 'namespace': k8s_namespace, 'uid': pod.uid, 'attempt': 0},
            'log_directory': str(tmp_path / 'pod-logs'), 'linux': {},
            'port_mappings': [{'protocol': 0, 'container_port': 8080, 'host_port': 18080}]}))
        run = runtime.crictl('runp', str(spec))
        assert run.returncode == 0, '%s\n%s\n--- containerd\n%s\n--- plugin\n%s' % (run.stdout, run.stderr, runtime.log(), node.log())
        sandbox = run.stdout.strip()
        status = json.loads(runtime.crictl('inspectp', sandbox).stdout)
        assert status['status']['state'] == 'SANDBOX_READY'
        assert status['status']['network']['ip'] == '10.128.1.7', status['status']['network']

        # The sandbox's port on br-int, bound by ovn-controller; portmap's DNAT for the hostPort.
        host = [p for p in node.ports() if p.startswith('veth')]
        assert len(host) == 1 and node.installed(host[0]) == 'true', node.ports()
        assert node.vsctl('get', 'Interface', host[0], 'external_ids:iface-id').strip('"') == '%s_web' % k8s_namespace
        nat = subprocess.run(['ip', 'netns', 'exec', node.netns, 'iptables', '-t', 'nat', '-S'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, universal_newlines=True, check=False).stdout
        assert '--dport 18080 -j DNAT --to-destination 10.128.1.7:8080' in nat, nat
        log = node.log()
        assert 'ADD pod %s/web' % k8s_namespace in log, log

        # StopPodSandbox: DEL through the chain; the port and the host end are gone.
        stop = runtime.crictl('stopp', sandbox)
        assert stop.returncode == 0, stop.stderr
        assert node.ports() == [] and node.veths() == []
        assert '10.128.1.7:8080' not in subprocess.run(['ip', 'netns', 'exec', node.netns, 'iptables', '-t', 'nat', '-S'],
                                                       stdout=subprocess.PIPE, universal_newlines=True, check=False).stdout
        assert runtime.crictl('rmp', sandbox).returncode == 0
    finally:
        runtime.stop()


def test_a_node_name_kubernetes_does_not_know_is_refused(kube, node, tmp_path):
    """ovn_node_name must be the kubelet's Node name: asked with the node's own identity, the API
    server has no such Node, and the role stops before writing a CNI configuration."""
    proc = install(tmp_path, kube, node, ovn_node_name='cni-node-unknown-%d' % os.getpid())
    assert proc.returncode == 2, proc.stdout
    assert 'Kubernetes has no Node named cni-node-unknown-%d' % os.getpid() in proc.stdout, proc.stdout
    assert 'set ovn_node_name to it' in proc.stdout
    assert not (tmp_path / 'role-net.d').exists()
