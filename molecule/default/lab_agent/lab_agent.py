#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab tooling, never shipped: the network half of a kubelet for one lab node.

No kubelet can run on the lab's machines, so this agent does for each pod bound to its node
what a kubelet and its container runtime do for the pod's network, and nothing more:

- a pod appears: make a network namespace (``ip netns add lab-<uid>``), call the CNI plugin
  through ``cnitool add`` (libcni, as container runtimes do, with ``K8S_POD_NAMESPACE``,
  ``K8S_POD_NAME``, ``K8S_POD_UID`` in ``CNI_ARGS``), start a small TCP/HTTP server inside the
  namespace on every TCP container port (8080 when none is declared) that answers with the
  pod's name and the client address it sees, and write phase Running, the pod IP and the
  Ready conditions to the pod's ``status`` as a kubelet would;
- a pod is deleted (or marked for deletion): stop its server, ``cnitool del``, remove the
  namespace, and confirm the deletion (grace period 0) as a kubelet does once the containers
  are gone. A pod annotated ``lab.ovn-k8s.example/drain: "true"`` stands for a container that
  goes on serving after SIGTERM until its grace period ends: the agent keeps its network and
  server (and its Ready condition) until the pod's deletionTimestamp, then does the above.

It lists, then watches from the list's resourceVersion; 410 Gone means list again, and so
does the end of each watch (--resync seconds), which retries pods whose network failed. What it
made for a pod is kept under /run/lab-agent/<uid>.json so that a restarted agent cleans up
after pods deleted while it was away.
"""

import argparse
import concurrent.futures
import datetime
import json
import logging
import os
import subprocess
import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

LOG = logging.getLogger('lab-agent')
STATE_DIR = '/run/lab-agent'
SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lab_pod_server.py')
DRAIN_ANNOTATION = 'lab.ovn-k8s.example/drain'


def run(argv, env=None, check=True, stdin=None):
    proc = subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError('%s failed (exit %d): %s %s'
                           % (' '.join(argv), proc.returncode, proc.stdout.strip(), proc.stderr.strip()))
    return proc


class Agent:
    def __init__(self, args):
        self.node = args.node
        self.network = args.network
        self.cni_path = args.cni_path
        self.netconf_dir = args.netconf_dir
        self.host_ip = args.host_ip
        self.resync = args.resync
        config.load_kube_config(args.kubeconfig)
        self.core = client.CoreV1Api()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.workers)
        self.locks = {}
        self.locks_lock = threading.Lock()
        self.stopping = threading.Event()
        os.makedirs(STATE_DIR, exist_ok=True)

    # --- one pod ---------------------------------------------------------------------------
    def lock(self, uid):
        with self.locks_lock:
            return self.locks.setdefault(uid, threading.Lock())

    @staticmethod
    def netns(uid):
        return 'lab-' + uid[:23]

    @staticmethod
    def unit(uid):
        return 'lab-pod-' + uid[:23]

    @staticmethod
    def state_path(uid):
        return os.path.join(STATE_DIR, uid + '.json')

    def cni(self, verb, state):
        env = dict(os.environ, CNI_PATH=self.cni_path, NETCONFPATH=self.netconf_dir, CNI_IFNAME='eth0',
                   CNI_ARGS='IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_UID=%s'
                   % (state['namespace'], state['name'], state['uid']))
        return run(['cnitool', verb, self.network, '/var/run/netns/' + state['netns']], env=env)

    def handle(self, pod, deleted=False):
        uid = pod.metadata.uid
        with self.lock(uid):
            try:
                if not deleted and self.draining(pod):
                    return
                if deleted or pod.metadata.deletion_timestamp is not None:
                    self.teardown(uid)
                    if not deleted:
                        self.confirm_deletion(pod)
                elif pod.spec.host_network:
                    if pod.status.phase != 'Running':
                        self.mark_running(pod, self.host_ip)
                elif pod.status.phase in ('Succeeded', 'Failed'):
                    self.teardown(uid)
                else:
                    self.setup(pod)
            except Exception as e:  # pylint: disable=broad-except
                LOG.error('pod %s/%s: %s', pod.metadata.namespace, pod.metadata.name, e)

    def draining(self, pod):
        """A pod marked for deletion that serves until its grace period ends: come back then."""
        if pod.metadata.deletion_timestamp is None or \
                (pod.metadata.annotations or {}).get(DRAIN_ANNOTATION) != 'true':
            return False
        left = (pod.metadata.deletion_timestamp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        if left <= 0:
            return False
        timer = threading.Timer(left + 0.5, self.pool.submit, (self.handle, pod))
        timer.daemon = True
        timer.start()
        LOG.info('pod %s/%s: serving for %.0f s more (draining)', pod.metadata.namespace, pod.metadata.name, left)
        return True

    def setup(self, pod):
        uid = pod.metadata.uid
        state = {'uid': uid, 'namespace': pod.metadata.namespace, 'name': pod.metadata.name,
                 'netns': self.netns(uid), 'unit': self.unit(uid)}
        path = self.state_path(uid)
        if os.path.exists(path):
            with open(path) as f:
                state = json.load(f)
        if not state.get('ip'):
            if not os.path.exists('/var/run/netns/' + state['netns']):
                run(['ip', 'netns', 'add', state['netns']])
                run(['ip', '-n', state['netns'], 'link', 'set', 'lo', 'up'])
            with open(path, 'w') as f:  # written first: a crash from here on is cleaned up
                json.dump(state, f)
            result = json.loads(self.cni('add', state).stdout)
            state['ip'] = result['ips'][0]['address'].split('/')[0]
            with open(path, 'w') as f:
                json.dump(state, f)
            LOG.info('pod %s/%s: network ready, %s', state['namespace'], state['name'], state['ip'])
        ports = sorted(set(p.container_port for c in pod.spec.containers for p in (c.ports or [])
                           if (p.protocol or 'TCP') == 'TCP')) or [8080]
        if run(['systemctl', 'is-active', '--quiet', state['unit']], check=False).returncode != 0:
            run(['systemctl', 'reset-failed', state['unit']], check=False)
            run(['systemd-run', '--unit', state['unit'], '--collect', '--quiet',
                 'ip', 'netns', 'exec', state['netns'], sys.executable, SERVER,
                 '--name', state['name']] + ['--port=%d' % p for p in ports])
        ready = pod.status.phase == 'Running' and pod.status.pod_ip == state['ip'] and any(
            c.type == 'Ready' and c.status == 'True' for c in pod.status.conditions or [])
        if not ready:
            self.mark_running(pod, state['ip'])

    def teardown(self, uid):
        path = self.state_path(uid)
        if not os.path.exists(path):
            return
        with open(path) as f:
            state = json.load(f)
        run(['systemctl', 'stop', state['unit']], check=False)
        if os.path.exists('/var/run/netns/' + state['netns']):
            self.cni('del', state)
            run(['ip', 'netns', 'del', state['netns']])
        os.unlink(path)
        LOG.info('pod %s/%s: network removed', state['namespace'], state['name'])

    def mark_running(self, pod, ip):
        now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        conditions = [{'type': t, 'status': 'True', 'lastTransitionTime': now}
                      for t in ('PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled')]
        containers = [{'name': c.name, 'image': c.image, 'imageID': '', 'containerID': 'lab://%s' % pod.metadata.uid,
                       'ready': True, 'started': True, 'restartCount': 0, 'state': {'running': {'startedAt': now}}}
                      for c in pod.spec.containers]
        status = {'phase': 'Running', 'conditions': conditions, 'podIP': ip, 'podIPs': [{'ip': ip}],
                  'hostIP': self.host_ip, 'hostIPs': [{'ip': self.host_ip}], 'startTime': now,
                  'containerStatuses': containers}
        self.core.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace, {'status': status})

    def confirm_deletion(self, pod):
        try:
            self.core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0,
                                            body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=pod.metadata.uid)))
        except ApiException as e:
            if e.status not in (404, 409):
                raise

    # --- the loop ----------------------------------------------------------------------------
    def relist(self):
        pods = self.core.list_pod_for_all_namespaces(field_selector='spec.nodeName=' + self.node)
        alive = set()
        for pod in pods.items:
            alive.add(pod.metadata.uid)
            self.pool.submit(self.handle, pod)
        for name in os.listdir(STATE_DIR):
            uid = name[:-len('.json')]
            if name.endswith('.json') and uid not in alive:
                self.pool.submit(self.teardown, uid)
        return pods.metadata.resource_version

    def loop(self):
        version = None
        while not self.stopping.is_set():
            try:
                if version is None:
                    version = self.relist()
                stream = watch.Watch().stream(
                    self.core.list_pod_for_all_namespaces, field_selector='spec.nodeName=' + self.node,
                    resource_version=version, allow_watch_bookmarks=True, timeout_seconds=self.resync,
                    _request_timeout=(10, self.resync + 30))
                for event in stream:
                    obj = event['object']
                    if event['type'] == 'ERROR':
                        version = None
                        break
                    version = obj.metadata.resource_version
                    if event['type'] != 'BOOKMARK':
                        self.pool.submit(self.handle, obj, event['type'] == 'DELETED')
                else:
                    # The watch ended on its timeout: list again, which also retries every pod
                    # whose network failed (say, before the CNI plugin was installed).
                    version = None
            except ApiException as e:
                if e.status == 410:
                    version = None
                    continue
                LOG.warning('watch: %s; again in 2s', e)
                time.sleep(2)
            except Exception as e:  # pylint: disable=broad-except
                LOG.warning('watch: %s; again in 2s', e)
                version = None
                time.sleep(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--node', required=True)
    parser.add_argument('--host-ip', required=True)
    parser.add_argument('--kubeconfig', required=True)
    parser.add_argument('--network', default='ovn-k8s')
    parser.add_argument('--cni-path', default='/opt/cni/bin')
    parser.add_argument('--netconf-dir', default='/etc/cni/net.d')
    parser.add_argument('--workers', type=int, default=8)
    parser.add_argument('--resync', type=int, default=20, help='seconds between full lists (failed pods are retried then)')
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    Agent(args).loop()


if __name__ == '__main__':
    main()
