# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real Kubernetes control plane for tests and benchmarks: etcd, kube-apiserver and
kube-controller-manager (optionally kube-scheduler) built by scripts/build-k8s, started on
loopback ports in a temporary directory.

Plain Python (no pytest): tests/conftest.py wraps it in the session fixture ``kube``, and a
script can use it directly::

    cp = ControlPlane(bin_dir())
    cp.start()
    api = cp.core()              # kubernetes.client.CoreV1Api with the admin identity
    ...
    cp.stop()

Nothing is mocked: every request goes to the real API server, EndpointSlices are made by the
real controller. There is no kubelet: ``create_node`` and ``mark_pod_running`` write what a
kubelet would write, through the same API (the ``status`` subresource).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import ctypes
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from local_ports import free_port  # tests/lib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The controllers that the project's tests rely on. Not the node lifecycle controller: without
# kubelets it would mark every Node NotReady and taint it.
CONTROLLERS = (
    'endpointslice-controller',
    'endpointslice-mirroring-controller',
    'namespace-controller',
    'garbage-collector-controller',
    'serviceaccount-controller',
    'serviceaccount-token-controller',
    'root-ca-certificate-publisher-controller',
    'clusterrole-aggregation-controller',
    'service-cidr-controller',
)
SERVICE_CIDR = '10.96.0.0/16'


class ControlPlaneError(Exception):
    """A component did not start, did not become healthy, or a helper failed."""


def bin_dir():
    """The directory holding the binaries that scripts/build-k8s made for the pinned versions.

    OVN_K8S_KUBE_BIN overrides it. Raises ControlPlaneError (saying to run scripts/setup) when
    they are not built.
    """
    path = os.environ.get('OVN_K8S_KUBE_BIN')
    if not path:
        proc = subprocess.run([os.path.join(REPO, 'scripts', 'build-k8s'), '--print-bin-dir'],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
        if proc.returncode != 0:
            raise ControlPlaneError('the Kubernetes binaries for the pinned versions are not built: run scripts/setup, which runs'
                                    ' scripts/build-k8s (it said: %s)' % proc.stderr.strip())
        path = proc.stdout.strip()
    missing = [b for b in ('etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl')
               if not os.access(os.path.join(path, b), os.X_OK)]
    if missing:
        raise ControlPlaneError('%s lacks %s: run scripts/setup (it runs scripts/build-k8s)' % (path, ', '.join(missing)))
    return path


def pinned_versions():
    """{'kubernetes': 'v1.37.2', 'etcd': 'v3.6.16', 'cni': 'v1.3.1'} from the wrapper modules' go.mod."""
    wanted = {'kubernetes': ('kubernetes', 'k8s.io/kubernetes'),
              'etcd': ('etcd', 'go.etcd.io/etcd/server/v3'),
              'cni': ('cni', 'github.com/containernetworking/cni')}
    found = {}
    for key, (module_dir, module) in wanted.items():
        with open(os.path.join(REPO, 'k8s', module_dir, 'go.mod')) as f:
            for line in f:
                words = line.split()
                if words[:1] == ['require']:
                    words = words[1:]
                if len(words) >= 2 and words[0] == module and words[1].startswith('v'):
                    found[key] = words[1]
                    break
    return found


def _die_with_parent():
    """In the child before exec: get SIGTERM when the thread that started it ends, so that a
    killed test run leaves no component behind on a shared machine (Linux prctl)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _b64(data):
    return base64.b64encode(data).decode('ascii')


class _Pki:
    """A CA, the API server's serving certificate, client certificates and the service-account key."""

    def __init__(self, directory):
        # Imported here so that the module imports without cryptography (it is in the venv).
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        self._x509, self._hashes, self._ser, self._ec, self._oid = x509, hashes, serialization, ec, NameOID
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self._ca_key = self._key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'ovn-k8s-test-ca')])
        now = datetime.datetime.now(datetime.timezone.utc)
        self._ca_cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                         .public_key(self._ca_key.public_key()).serial_number(x509.random_serial_number())
                         .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
                         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                         .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
                         .sign(self._ca_key, hashes.SHA256()))
        self.ca_pem = self._ca_cert.public_bytes(serialization.Encoding.PEM)
        self.ca_file = self._write('ca.crt', self.ca_pem)
        sa_key = self._key()
        self.sa_key_file = self._write('sa.key', self._key_pem(sa_key))
        self.sa_pub_file = self._write('sa.pub', sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def _key(self):
        return self._ec.generate_private_key(self._ec.SECP256R1())

    def _key_pem(self, key):
        return key.private_bytes(self._ser.Encoding.PEM, self._ser.PrivateFormat.PKCS8, self._ser.NoEncryption())

    def _write(self, name, data):
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        return path

    def issue(self, name, common_name, organizations=(), dns_names=(), ips=(), server=False):
        """Writes NAME.crt and NAME.key; returns (cert PEM, key PEM, cert path, key path)."""
        x509, oid = self._x509, self._oid
        key = self._key()
        attrs = [x509.NameAttribute(oid.ORGANIZATION_NAME, o) for o in organizations]
        attrs.append(x509.NameAttribute(oid.COMMON_NAME, common_name))
        now = datetime.datetime.now(datetime.timezone.utc)
        usage = x509.oid.ExtendedKeyUsageOID.SERVER_AUTH if server else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(self._ca_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if dns_names or ips:
            sans = [x509.DNSName(d) for d in dns_names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert_pem = builder.sign(self._ca_key, self._hashes.SHA256()).public_bytes(self._ser.Encoding.PEM)
        key_pem = self._key_pem(key)
        return cert_pem, key_pem, self._write(name + '.crt', cert_pem), self._write(name + '.key', key_pem)


class _Process:
    """One component: its command line, its log file, its process."""

    def __init__(self, name, argv, log_path):
        self.name, self.argv, self.log_path = name, argv, log_path
        self.proc = None

    def start(self):
        log = open(self.log_path, 'ab')
        try:
            # A session of its own: a Ctrl-C meant for pytest does not kill the component
            # before the fixture's teardown stops it in order.
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            log.close()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30, done=None):
        """SIGTERM, then SIGKILL if it has not exited after ``timeout`` seconds, or as soon as
        ``done()`` is true (the caller's sign that the component did what matters of its
        shutdown and is only draining)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.proc.poll() is None and time.monotonic() < deadline:
                if done is not None and done():
                    break
                try:
                    self.proc.wait(0.05)
                except subprocess.TimeoutExpired:
                    pass
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
        self.proc = None

    def tail(self, lines=40):
        try:
            with open(self.log_path, 'rb') as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 64 * 1024))
                text = f.read().decode('utf-8', 'replace')
        except OSError as e:
            return '(no log: %s)' % e
        return '\n'.join(text.splitlines()[-lines:])


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager (+ kube-scheduler if asked) on loopback.

    Attributes after start(): ``kubeconfig`` (admin identity, group system:masters),
    ``server`` (https://127.0.0.1:PORT), ``etcd_url``, ``startup_seconds``, ``log_dir``.
    """

    def __init__(self, bin_path, workdir=None, scheduler=False, controllers=CONTROLLERS, timeout=120):
        self.bin = bin_path
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix='ovn_k8s-kube-')
        self.log_dir = os.path.join(self.workdir, 'logs')
        self.timeout = timeout
        self.controllers = tuple(controllers)
        self.with_scheduler = scheduler
        self.startup_seconds = None
        self.apiserver_restart_seconds = []
        self._procs = {}
        self._api_client = None

    # --- life -----------------------------------------------------------------------------
    def start(self):
        t0 = time.monotonic()
        os.makedirs(self.log_dir, exist_ok=True)
        try:
            self._prepare()
            self._start_etcd()
            self._start_apiserver()
            self._start_controller_manager()
            if self.with_scheduler:
                self._start_scheduler()
            # The API server makes the "default" namespace, the controller manager its
            # ServiceAccount: both at work, and pods can be created there.
            self.wait_default_service_account('default', self.timeout)
        except BaseException as e:
            self.stop(remove=False)
            if isinstance(e, ControlPlaneError):
                raise ControlPlaneError('the Kubernetes control plane did not start (files kept in %s): %s' % (self.workdir, e))
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self, remove=True):
        """Stops every component (newest first); removes the work directory if it made it."""
        if self._api_client is not None:
            self._api_client.close()
            self._api_client = None
        for name in ('kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'):
            proc = self._procs.get(name)
            if proc is not None:
                proc.stop()
        if remove and self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restart_apiserver(self):
        """Stops kube-apiserver and starts it again on the same port and etcd (its watch cache
        starts empty, as after a real restart); returns when /readyz answers ok."""
        t0 = time.monotonic()
        proc = self._procs['kube-apiserver']
        # On SIGTERM kube-apiserver removes its lease, stops listening at once and then waits up
        # to its request timeout (60 s) for open watches, which only end when it is killed: the
        # clients see the same thing (new connections refused, open ones cut) whether that is
        # 30 s later or now. So it is killed once its port refuses connections (or after 30 s).
        proc.stop(done=self._apiserver_refuses)
        with open(proc.log_path, 'ab') as f:
            f.write(b'\n===== restarted by ControlPlane.restart_apiserver =====\n')
        proc.start()
        self._wait_apiserver()
        self.apiserver_restart_seconds.append(time.monotonic() - t0)

    def logs(self, lines=40):
        """The last lines of every component's log, one block each."""
        return '\n'.join('----- %s (%s) -----\n%s' % (name, p.log_path, p.tail(lines)) for name, p in self._procs.items())

    # --- setup ----------------------------------------------------------------------------
    def _prepare(self):
        self.pki = _Pki(os.path.join(self.workdir, 'pki'))
        self.etcd_port, self.etcd_peer_port = free_port(), free_port()
        self.etcd_url = 'http://127.0.0.1:%d' % self.etcd_port
        self.apiserver_port = free_port()
        self.server = 'https://127.0.0.1:%d' % self.apiserver_port
        first_service_ip = str(next(ipaddress.ip_network(SERVICE_CIDR).hosts()))
        self.pki.issue('apiserver', 'kube-apiserver', server=True, ips=('127.0.0.1', first_service_ip),
                       dns_names=('localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc',
                                  'kubernetes.default.svc.cluster.local'))
        self.kubeconfig = self._kubeconfig('admin', 'kubernetes-admin', ('system:masters',))
        self._cm_kubeconfig = self._kubeconfig('kube-controller-manager', 'system:kube-controller-manager')
        self._sched_kubeconfig = self._kubeconfig('kube-scheduler', 'system:kube-scheduler')
        self._admin_cert = os.path.join(self.pki.dir, 'admin.crt')
        self._admin_key = os.path.join(self.pki.dir, 'admin.key')

    def kubeconfig_for(self, user, groups=()):
        """A kubeconfig of a client-certificate identity ``user`` (in ``groups``), for a test that
        runs something with only the rights an RBAC manifest gives it; returns its path."""
        return self._kubeconfig('user-' + user.replace(':', '-'), user, groups)

    def _kubeconfig(self, name, user, groups=()):
        cert, key, _cert_path, _key_path = self.pki.issue(name, user, organizations=groups)
        config = {
            'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'test',
            'clusters': [{'name': 'test', 'cluster': {'server': self.server, 'certificate-authority-data': _b64(self.pki.ca_pem)}}],
            'users': [{'name': user, 'user': {'client-certificate-data': _b64(cert), 'client-key-data': _b64(key)}}],
            'contexts': [{'name': 'test', 'context': {'cluster': 'test', 'user': user}}],
        }
        path = os.path.join(self.workdir, name + '.kubeconfig')
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            json.dump(config, f, indent=1)  # JSON is YAML: every kubeconfig reader takes it
        return path

    def _add(self, name, argv):
        proc = _Process(name, [os.path.join(self.bin, name)] + argv, os.path.join(self.log_dir, name + '.log'))
        self._procs[name] = proc
        proc.start()
        return proc

    def _start_etcd(self):
        peer = 'http://127.0.0.1:%d' % self.etcd_peer_port
        self._add('etcd', [
            '--name=test', '--data-dir=' + os.path.join(self.workdir, 'etcd'),
            '--listen-client-urls=' + self.etcd_url, '--advertise-client-urls=' + self.etcd_url,
            '--listen-peer-urls=' + peer, '--initial-advertise-peer-urls=' + peer,
            '--initial-cluster=test=' + peer, '--initial-cluster-state=new',
            # Test data: no fsync. No auto-compaction: expire_watches() compacts when asked.
            '--unsafe-no-fsync', '--log-level=warn',
        ])
        self._wait('etcd', lambda: json.loads(self._http(self.etcd_url + '/health')).get('health') == 'true')

    def _start_apiserver(self):
        pki = self.pki.dir
        self._add('kube-apiserver', [
            '--etcd-servers=' + self.etcd_url,
            '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', '--secure-port=%d' % self.apiserver_port,
            '--tls-cert-file=%s/apiserver.crt' % pki, '--tls-private-key-file=%s/apiserver.key' % pki,
            '--client-ca-file=' + self.pki.ca_file,
            '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
            '--service-account-key-file=' + self.pki.sa_pub_file,
            '--service-account-signing-key-file=' + self.pki.sa_key_file,
            '--service-cluster-ip-range=' + SERVICE_CIDR,
            '--authorization-mode=Node,RBAC',
            '--allow-privileged=true',
            # The endpoints of the "kubernetes" service would be 127.0.0.1, which Endpoints and
            # EndpointSlices refuse (loopback): do not reconcile them.
            '--endpoint-reconciler-type=none',
            '--cert-dir=' + os.path.join(self.workdir, 'apiserver-certs'),
        ])
        self._wait_apiserver()

    def _wait_apiserver(self):
        self._wait('kube-apiserver', self._apiserver_ready)
        self._wait('kube-apiserver', self._watch_caches_ready)

    def _start_controller_manager(self):
        port = free_port()
        self._add('kube-controller-manager', [
            '--kubeconfig=' + self._cm_kubeconfig,
            '--bind-address=127.0.0.1', '--secure-port=%d' % port,
            '--cert-dir=' + os.path.join(self.workdir, 'kcm-certs'),
            '--controllers=' + ','.join(self.controllers),
            '--use-service-account-credentials=true',
            '--service-account-private-key-file=' + self.pki.sa_key_file,
            '--root-ca-file=' + self.pki.ca_file,
            # No leader election: restart_apiserver() would make it lose its lease and exit.
            '--leader-elect=false',
        ])
        self._wait('kube-controller-manager', lambda: self._http('https://127.0.0.1:%d/healthz' % port, insecure=True) == 'ok')

    def _start_scheduler(self):
        port = free_port()
        self._add('kube-scheduler', [
            '--kubeconfig=' + self._sched_kubeconfig,
            '--bind-address=127.0.0.1', '--secure-port=%d' % port, '--leader-elect=false',
        ])
        self._wait('kube-scheduler', lambda: self._http('https://127.0.0.1:%d/healthz' % port, insecure=True) == 'ok')

    # --- waiting --------------------------------------------------------------------------
    def _http(self, url, insecure=False, data=None, client_cert=False, head_only=False):
        if url.startswith('https:'):
            if insecure:
                ctx = ssl._create_unverified_context()  # a self-signed serving certificate made by the component
            else:
                ctx = ssl.create_default_context(cafile=self.pki.ca_file)
            if client_cert:
                ctx.load_cert_chain(self._admin_cert, self._admin_key)
        else:
            ctx = None
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(url, data=body, headers={'Content-Type': 'application/json'} if body else {})
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            return '' if head_only else resp.read().decode()

    def _apiserver_refuses(self):
        """True once nothing accepts connections on the API server's port."""
        try:
            socket.create_connection(('127.0.0.1', self.apiserver_port), 1).close()
        except ConnectionRefusedError:
            return True
        except OSError:
            return False
        return False

    def _apiserver_ready(self):
        return self._http(self.server + '/readyz', client_cert=True) == 'ok'

    # The resources whose watches the tests and the watcher use.
    WATCHED = ('/api/v1/pods', '/api/v1/services', '/api/v1/configmaps', '/api/v1/nodes', '/api/v1/namespaces',
               '/apis/discovery.k8s.io/v1/endpointslices')

    def _watch_caches_ready(self):
        """True once a watch of each WATCHED resource is accepted. Right after a start the API
        server's watch cache of a resource may still be filling; meanwhile it answers a watch
        with 429 (retry later), which a test must not mistake for a result."""
        for path in self.WATCHED:
            rv = json.loads(self._http(self.server + path + '?limit=1', client_cert=True))['metadata']['resourceVersion']
            try:
                self._http(self.server + path + '?watch=1&timeoutSeconds=1&resourceVersion=' + rv, client_cert=True, head_only=True)
            except urllib.error.HTTPError as e:
                if e.code == 429:
                    return False
                raise
        return True

    def _wait(self, name, ready):
        proc = self._procs[name]
        deadline = time.monotonic() + self.timeout
        last = None
        while time.monotonic() < deadline:
            if not proc.running():
                raise ControlPlaneError('%s exited with status %s before it was ready; last lines of %s:\n%s'
                                        % (name, proc.proc.returncode if proc.proc else '?', proc.log_path, proc.tail()))
            try:
                if ready():
                    return
            except (OSError, ValueError, urllib.error.URLError) as e:
                last = e
            time.sleep(0.2)
        raise ControlPlaneError('%s was not ready after %ss (last error: %s); last lines of %s:\n%s'
                                % (name, self.timeout, last, proc.log_path, proc.tail()))

    # --- clients --------------------------------------------------------------------------
    def api_client(self):
        """A new kubernetes.client.ApiClient with the admin identity (close it when done)."""
        from kubernetes import config
        return config.new_client_from_config(config_file=self.kubeconfig)

    def _client(self):
        if self._api_client is None:
            self._api_client = self.api_client()
        return self._api_client

    def core(self):
        """kubernetes.client.CoreV1Api on a shared admin ApiClient."""
        from kubernetes import client
        return client.CoreV1Api(self._client())

    def kubectl(self, *args):
        """Runs the built kubectl with the admin kubeconfig; returns its stdout (raises on failure)."""
        proc = subprocess.run([os.path.join(self.bin, 'kubectl'), '--kubeconfig', self.kubeconfig] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise ControlPlaneError('kubectl %s failed (exit %d): %s' % (' '.join(args), proc.returncode, proc.stderr.strip()))
        return proc.stdout

    # --- what a kubelet or a real cluster would do ----------------------------------------
    def create_namespace(self, name, timeout=60):
        """Creates a namespace and waits until the service-account controller made its
        ``default`` ServiceAccount (pods are refused before that)."""
        from kubernetes import client
        self.core().create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        self.wait_default_service_account(name, timeout)

    def wait_default_service_account(self, namespace, timeout=60):
        """Waits (list, then watch) until NAMESPACE holds its ``default`` ServiceAccount."""
        from kubernetes import watch
        core = self.core()
        deadline = time.monotonic() + timeout
        while True:
            listed = core.list_namespaced_service_account(namespace, field_selector='metadata.name=default')
            if listed.items:
                return
            left = int(deadline - time.monotonic())
            if left <= 0:
                raise ControlPlaneError('namespace %s: no default ServiceAccount after %ss' % (namespace, timeout))
            w = watch.Watch()
            for _event in w.stream(core.list_namespaced_service_account, namespace, field_selector='metadata.name=default',
                                   resource_version=listed.metadata.resource_version, timeout_seconds=left, _request_timeout=left + 10):
                w.stop()
                return

    def create_node(self, name, internal_ip='192.0.2.10', pod_cidr=None, labels=None, ready=True):
        """Creates a Node object and writes the status a kubelet would (addresses, Ready)."""
        core = self.core()
        # A plain body: the model's attribute for podCIDRs is spelled differently across client
        # versions (pod_cid_rs before 37, pod_cidrs after).
        spec = {'podCIDR': pod_cidr, 'podCIDRs': [pod_cidr]} if pod_cidr else {}
        all_labels = {'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux'}
        all_labels.update(labels or {})
        node = core.create_node({'apiVersion': 'v1', 'kind': 'Node', 'metadata': {'name': name, 'labels': all_labels},
                                 'spec': spec})
        now = datetime.datetime.now(datetime.timezone.utc)
        status = {'status': {
            'addresses': [{'type': 'InternalIP', 'address': internal_ip}, {'type': 'Hostname', 'address': name}],
            'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False', 'reason': 'KubeletReady',
                            'message': 'written by the test control plane', 'lastHeartbeatTime': now.isoformat(),
                            'lastTransitionTime': now.isoformat()}],
        }}
        return core.patch_node_status(node.metadata.name, status) or node

    def mark_pod_running(self, pod, ip, host_ip=None):
        """Writes what a kubelet writes once a pod's containers run and are ready: phase
        Running, the Ready conditions, podIP/podIPs, container statuses (``status`` subresource).

        ``pod`` is a V1Pod or a (namespace, name) pair; ``ip`` one address or a list (the first
        is podIP). Returns the updated pod.
        """
        core = self.core()
        if isinstance(pod, tuple):
            namespace, name = pod
            pod = core.read_namespaced_pod(name, namespace)
        ips = [ip] if isinstance(ip, str) else list(ip)
        now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        conditions = [{'type': t, 'status': 'True', 'lastTransitionTime': now}
                      for t in ('PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled')]
        containers = [{'name': c.name, 'image': c.image, 'imageID': '', 'containerID': 'test://%s-%s' % (pod.metadata.name, c.name),
                       'ready': True, 'started': True, 'restartCount': 0, 'state': {'running': {'startedAt': now}}}
                      for c in pod.spec.containers]
        status = {'phase': 'Running', 'conditions': conditions, 'podIP': ips[0], 'podIPs': [{'ip': i} for i in ips],
                  'startTime': now, 'containerStatuses': containers}
        if host_ip:
            status.update(hostIP=host_ip, hostIPs=[{'ip': host_ip}])
        return core.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace, {'status': status})

    # --- expiring watches -----------------------------------------------------------------
    def etcd_revision(self):
        """etcd's current revision (what the API server calls a resourceVersion)."""
        reply = json.loads(self._http(self.etcd_url + '/v3/kv/range', data={'key': _b64(b'\0'), 'count_only': True}))
        return int(reply['header']['revision'])

    def compact_etcd(self, revision=None):
        """Compacts etcd's history up to REVISION (default: the current one), through etcd's own
        API (its gRPC gateway); returns the revision."""
        revision = revision or self.etcd_revision()
        self._http(self.etcd_url + '/v3/kv/compaction', data={'revision': str(revision), 'physical': True})
        return revision

    def expire_watches(self):
        """Makes every resourceVersion handed out so far too old to watch from, for real: a
        write moves etcd's revision on, etcd is compacted to it, and the API server restarts so
        that its watch cache starts at that revision. A watch from an older resourceVersion then
        gets 410 Gone ("too old resource version") from the API server, as in a cluster whose
        history moved on while a client was away. Returns the compacted revision."""
        from kubernetes import client
        core = self.core()
        name = 'ovn-k8s-expire-watches'
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={'at': str(time.time())})
        try:
            core.replace_namespaced_config_map(name, 'default', body)
        except client.ApiException as e:
            if e.status != 404:
                raise
            core.create_namespaced_config_map('default', body)
        revision = self.compact_etcd()
        self.restart_apiserver()
        return revision
