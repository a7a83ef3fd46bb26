# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Only the watcher decides a pod's network identity, in the lab: the ovn_watcher role installed
the watcher's own identity (a service account token, not the admin's) and the admission policy
on the pod network annotations. A user who may create and patch pods in one namespace (and the
cluster admin too) cannot create a pod whose pre-written annotation claims a running pod's
address and MAC, nor change or remove a running pod's annotation: the API server refuses both
and says which annotation and who may write it; the running pod keeps its traffic."""

import json

import pytest
import yaml

from conftest import NODE_NAME, nbctl
from test_k8s_pods import fresh_namespace, kubectl, tcp, wait_running

NS = 'lab-admission'
TENANT = 'lab-tenant'
WATCHER = 'system:serviceaccount:kube-system:ovn-k8s-watcher'
KEYS = ('k8s.ovn.org/pod-networks', 'ovn')


def manifest(name, node, annotations=None):
    return {'apiVersion': 'v1', 'kind': 'Pod',
            'metadata': {'name': name, 'namespace': NS, 'annotations': annotations or {}},
            'spec': {'nodeSelector': {'kubernetes.io/hostname': node}, 'terminationGracePeriodSeconds': 0,
                     'containers': [{'name': 'web', 'image': 'lab/none', 'ports': [{'containerPort': 8080}]}]}}


def as_tenant(*args, stdin=None):
    return kubectl('--as=' + TENANT, *args, stdin=stdin, check=False)


def assert_refused(proc, keys):
    """PROC (a kubectl run) was refused by the policy, naming KEYS and the watcher."""
    assert proc.returncode != 0, proc.stdout
    said = 'the pod network annotation%s %s may be set, changed or removed only by the ovn-k8s watcher (%s)' % (
        's' if len(keys) > 1 else '', ' and '.join(keys), WATCHER)
    assert "ValidatingAdmissionPolicy 'ovn-k8s-watcher-pod-network'" in proc.stderr and said in proc.stderr, proc.stderr


@pytest.fixture(scope='module')
def victim(lab):
    """A namespace where TENANT may create, update and patch pods (and their status), a running
    pod ``victim`` on node1 and a pod ``client`` on node2, both made by TENANT."""
    fresh_namespace(NS)
    role = {'apiVersion': 'v1', 'kind': 'List', 'items': [
        {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'Role', 'metadata': {'name': 'pods', 'namespace': NS},
         'rules': [{'apiGroups': [''], 'resources': ['pods'], 'verbs': ['get', 'list', 'create', 'update', 'patch']},
                   {'apiGroups': [''], 'resources': ['pods/status'], 'verbs': ['get', 'update', 'patch']}]},
        {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'RoleBinding', 'metadata': {'name': 'pods', 'namespace': NS},
         'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'Role', 'name': 'pods'},
         'subjects': [{'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'User', 'name': TENANT}]}]}
    kubectl('apply', '-f', '-', stdin=json.dumps(role))
    for name, host in (('victim', 'node1'), ('client', 'node2')):
        made = as_tenant('create', '-f', '-', stdin=json.dumps(manifest(name, NODE_NAME[host])))
        assert made.returncode == 0, made.stderr
    pods = wait_running(['victim', 'client'], namespace=NS)
    yield pods
    kubectl('delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=240s')


def test_the_watcher_runs_with_its_own_identity(lab, victim):
    """Its kubeconfig names its service account, and the pods it served carry its annotation."""
    config = yaml.safe_load(lab['central'].check_output('cat /etc/ovn-k8s/watcher.kubeconfig'))
    assert [u['name'] for u in config['users']] == [WATCHER]
    assert set(config['users'][0]['user']) == {'token'}
    for key in KEYS:
        assert key in victim['victim']['metadata']['annotations'], key


def test_a_pod_claiming_a_running_pods_address_is_refused(lab, victim):
    stolen = dict((k, victim['victim']['metadata']['annotations'][k]) for k in KEYS)
    note = json.loads(stolen['ovn'])
    for run in (as_tenant, lambda *args, **kw: kubectl(*args, check=False, **kw)):  # the tenant, then the cluster admin
        forged = run('create', '-f', '-', stdin=json.dumps(manifest('forger', NODE_NAME['node2'], stolen)))
        assert_refused(forged, KEYS)
        forged = run('create', '-f', '-', stdin=json.dumps(manifest('forger', NODE_NAME['node2'], {'ovn': stolen['ovn']})))
        assert_refused(forged, ('ovn',))
    assert kubectl('get', 'pod', 'forger', '-n', NS, check=False).returncode != 0
    # No port claims the victim's address but the victim's own.
    ports = json.loads(nbctl(lab, '--format=json', '--columns=name,addresses', 'find', 'Logical_Switch_Port'))['data']
    holders = [name for name, addresses in ports if note['ip_address'].split('/')[0] in json.dumps(addresses)]
    assert holders == ['%s_victim' % NS], holders


def test_a_patch_of_a_running_pods_annotation_is_refused(lab, victim):
    before = dict((k, victim['victim']['metadata']['annotations'][k]) for k in KEYS)
    other = json.loads(victim['client']['metadata']['annotations']['ovn'])
    changed = as_tenant('patch', 'pod', 'victim', '-n', NS, '--type=merge',
                        '-p', json.dumps({'metadata': {'annotations': {'ovn': json.dumps(other)}}}))
    assert_refused(changed, ('ovn',))
    removed = as_tenant('annotate', 'pod', 'victim', '-n', NS, 'k8s.ovn.org/pod-networks-')
    assert_refused(removed, ('k8s.ovn.org/pod-networks',))
    status = as_tenant('patch', 'pod', 'victim', '-n', NS, '--subresource=status', '--type=merge',
                       '-p', json.dumps({'metadata': {'annotations': {'ovn': json.dumps(other)}}}))
    assert_refused(status, ('ovn',))
    now = json.loads(kubectl('get', 'pod', 'victim', '-n', NS, '-o', 'json').stdout)['metadata']['annotations']
    assert dict((k, now[k]) for k in KEYS) == before
    # The tenant may still change anything else about its pod.
    assert as_tenant('label', 'pod', 'victim', '-n', NS, 'lab=admission').returncode == 0


def test_the_running_pods_traffic_is_not_diverted(lab, victim):
    """After the forgeries, the victim's address still reaches the victim (which answers with
    its name), from a pod on the other node."""
    answer = tcp(lab, victim['client'], victim['victim']['status']['podIP'], 8080)
    assert answer.rc == 0 and answer.stdout.split() == ['victim', victim['client']['status']['podIP']], answer.stdout + answer.stderr
