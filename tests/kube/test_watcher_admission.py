# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ovn_watcher role's cluster objects (roles/ovn_watcher/tasks/k8s_objects.yml) through
ansible-playbook on this machine, against a real control plane of this test's own (the admission
policy is cluster-wide: the session's control plane serves tests that write the annotations as
admin): check mode predicts and changes nothing, a run installs the watcher's service account,
token, least-privilege RBAC, Lease and admission policy and hands out the watcher's kubeconfig
(its token never in the output), a second run changes nothing, ovn_watcher_k8s_admission: false
removes the policy, bad input fails with a sentence.

Then real identities against the real API server: a user who may only create, update and patch
pods (their status, ephemeral containers and bindings too) in one namespace is refused every
write that sets, changes or removes a pod network annotation (create, patch, update, status,
both binding endpoints), and is told which annotation and who may set it; the watcher's own
identity (the token the role minted) may; the user's pods without the annotations are created as
ever; the watcher's identity leads through the Lease the role made (no holder) with rights to
that one Lease only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import subprocess
import sys

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

import kube_control_plane  # tests/lib, put on the path by tests/conftest.py
from checkout import REPO, collection_root  # tests/lib
from local_ports import free_port  # tests/lib
from waiting import wait_for  # tests/lib

sys.path.insert(0, os.path.join(REPO, 'agents'))
from ovn_k8s_agents import annotation  # noqa: E402 (the path is set just above)
from ovn_k8s_agents.watcher import leader  # noqa: E402

WATCHER = 'system:serviceaccount:kube-system:ovn-k8s-watcher'
TENANT = 'tenant'
FORGED = {annotation.LEGACY_KEY: json.dumps({'ip_address': '10.128.1.5/24', 'mac_address': '0a:58:0a:80:01:05',
                                             'gateway_ip': '10.128.1.1'}),
          annotation.MODERN_KEY: json.dumps({'default': {'ip_addresses': ['10.128.1.5/24'], 'mac_address': '0a:58:0a:80:01:05',
                                                         'gateway_ips': ['10.128.1.1'], 'ip_address': '10.128.1.5/24',
                                                         'gateway_ip': '10.128.1.1', 'role': 'primary'}})}

PLAY = '''
- hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - name: The ovn_watcher role's cluster objects
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_watcher
        tasks_from: k8s_objects.yml
    - name: Keep the watcher's kubeconfig for the test
      ansible.builtin.copy:
        content: "{{ _ovn_watcher_k8s_kubeconfig }}"
        dest: "{{ test_kubeconfig_out }}"
        mode: "0600"
      no_log: true
'''


@pytest.fixture
def cp():
    """A control plane of this module's own (the admission policy is cluster-wide)."""
    try:
        plane = kube_control_plane.ControlPlane(kube_control_plane.bin_dir())
        plane.start()
    except kube_control_plane.ControlPlaneError as e:
        pytest.fail(str(e), pytrace=False)
    plane.admin = plane.api_client()
    yield plane
    plane.admin.close()
    plane.stop()


def run_role(work, admin_kubeconfig, check=False, extra=None, expect_ok=True):
    """ansible-playbook of PLAY with --diff (and --check); returns (output, changed count)."""
    play = work / 'play.yml'
    play.write_text(PLAY)
    variables = {'ovn_watcher_k8s_admin_kubeconfig': admin_kubeconfig, 'test_kubeconfig_out': str(work / 'watcher.kubeconfig')}
    variables.update(extra or {})
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING='0',
               # As the lab runs the role: Mitogen's strategy keeps one Python for the whole
               # run instead of a new one (and a new import of the Kubernetes client) per object.
               ANSIBLE_STRATEGY='mitogen_linear', ANSIBLE_STRATEGY_PLUGINS=os.path.join(collection_root(), 'mitogen', 'strategy'))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '--diff',
                           str(play), '-e', json.dumps(variables)] + (['--check'] if check else []),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env,
                          timeout=300, check=False)
    if not expect_ok:
        assert proc.returncode != 0, proc.stdout
        return proc.stdout, None
    assert proc.returncode == 0, proc.stdout
    recap = [line for line in proc.stdout.splitlines() if line.startswith('localhost')][-1]
    return proc.stdout, int(recap.split('changed=')[1].split()[0])


def exists(call, *args):
    try:
        call(*args)
    except ApiException as e:
        if e.status == 404:
            return False
        raise
    return True


def install(cp, work):
    """The role run in check mode (predicts a change, makes none), then for real; returns the
    path of the watcher's kubeconfig."""
    core = cp.core()
    admission = client.AdmissionregistrationV1Api(cp.admin)
    out, changed = run_role(work, cp.kubeconfig, check=True)
    assert changed > 0, out
    assert not exists(core.read_namespaced_service_account, 'ovn-k8s-watcher', 'kube-system'), out
    assert not exists(admission.read_validating_admission_policy, 'ovn-k8s-watcher-pod-network'), out
    assert not (work / 'watcher.kubeconfig').exists()

    out, changed = run_role(work, cp.kubeconfig)
    assert changed > 0, out
    token = core.read_namespaced_secret('ovn-k8s-watcher-token', 'kube-system').data['token']
    assert base64.b64decode(token).decode() not in out and token not in out, 'the token is in the output'
    return str(work / 'watcher.kubeconfig')


def make_tenant(cp):
    """A user who may only create, update and patch pods (their status and bindings too) in the
    namespace ``tenant``; returns a CoreV1Api with that identity."""
    cp.create_namespace('tenant')
    rbac = client.RbacAuthorizationV1Api(cp.admin)
    rbac.create_namespaced_role('tenant', {
        'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'Role', 'metadata': {'name': 'pods'},
        'rules': [{'apiGroups': [''], 'resources': ['pods'], 'verbs': ['get', 'create', 'update', 'patch']},
                  {'apiGroups': [''], 'resources': ['pods/status', 'pods/ephemeralcontainers'], 'verbs': ['update', 'patch']},
                  {'apiGroups': [''], 'resources': ['pods/binding', 'bindings'], 'verbs': ['create']}]})
    rbac.create_namespaced_role_binding('tenant', {
        'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'RoleBinding', 'metadata': {'name': 'pods'},
        'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'Role', 'name': 'pods'},
        'subjects': [{'kind': 'User', 'name': TENANT, 'apiGroup': 'rbac.authorization.k8s.io'}]})
    return client.CoreV1Api(config.new_client_from_config(config_file=cp.kubeconfig_for(TENANT)))


def pod(name, annotations=None, node='node-a'):
    body = {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name},
            'spec': {'containers': [{'name': 'c', 'image': 'test.invalid/pause'}]}}
    if node:
        body['spec']['nodeName'] = node
    if annotations:
        body['metadata']['annotations'] = annotations
    return body


def refused(call, *args, **kwargs):
    """The API server's refusal message of CALL (which must be refused with 403)."""
    with pytest.raises(ApiException) as info:
        call(*args, **kwargs)
    assert info.value.status == 403, info.value.body
    return json.loads(info.value.body)['message']


def assert_names(message, keys):
    """MESSAGE is the policy's refusal, naming exactly KEYS (in the policy's order) and the watcher."""
    keys = [k for k in (annotation.MODERN_KEY, annotation.LEGACY_KEY) if k in keys]
    assert 'ValidatingAdmissionPolicy \'ovn-k8s-watcher-pod-network\'' in message, message
    said = 'the pod network annotation%s %s may be set, changed or removed only by the ovn-k8s watcher (%s), not by %s' % (
        's' if len(keys) > 1 else '', ' and '.join(keys), WATCHER, TENANT)
    assert said in message, message


def test_the_role_gives_the_watcher_alone_the_pod_network_annotations(cp, tmp_path):
    """One test, in sections, on one control plane: the role's runs are most of its time."""
    kubeconfig = install(cp, tmp_path)
    check_second_run_and_least_privilege(cp, tmp_path, kubeconfig)
    api = config.new_client_from_config(config_file=kubeconfig)
    check_the_watcher_leads_through_the_lease_the_role_made(cp, api)
    tenant = make_tenant(cp)
    check_a_forged_annotation_is_refused_at_creation(cp, tenant)
    check_only_the_watcher_writes_the_annotation_of_an_existing_pod(cp, tenant, client.CoreV1Api(api))
    check_a_binding_carrying_the_annotation_is_refused(cp, tenant)
    check_the_policy_goes_with_the_switch(cp, tmp_path, tenant)


def check_second_run_and_least_privilege(cp, work, kubeconfig):
    with open(kubeconfig) as f:
        written = f.read()
    out, changed = run_role(work, cp.kubeconfig)
    assert changed == 0, out
    with open(kubeconfig) as f:
        assert f.read() == written

    rbac = client.RbacAuthorizationV1Api(cp.admin)
    rules = rbac.read_cluster_role('ovn-k8s-watcher').rules
    assert not [r for r in rules if 'leases' in r.resources], 'the ClusterRole names leases'
    assert {tuple(r.resources): sorted(r.verbs) for r in rules}[('pods',)] == ['get', 'list', 'patch', 'watch']
    lease_role = rbac.read_namespaced_role('ovn-k8s-watcher-lease', 'kube-system')
    assert [(r.resources, r.resource_names, sorted(r.verbs)) for r in lease_role.rules] == \
        [(['leases'], ['ovn-k8s-watcher'], ['get', 'update'])]


def check_the_watcher_leads_through_the_lease_the_role_made(cp, api):
    """The Lease exists with no holder; the watcher's identity takes it with get and update
    only, and may neither create another Lease nor read one of another name, nor Secrets."""
    coordination = client.CoordinationV1Api(cp.admin)
    assert coordination.read_namespaced_lease('ovn-k8s-watcher', 'kube-system').spec.holder_identity is None
    elector = leader.LeaderElector(api, 'kube-system', 'ovn-k8s-watcher', 'w1')
    assert elector.try_acquire_or_renew() and elector.try_acquire_or_renew()
    assert coordination.read_namespaced_lease('ovn-k8s-watcher', 'kube-system').spec.holder_identity == 'w1'
    elector.release()
    other = leader.LeaderElector(api, 'kube-system', 'ovn-k8s-watcher', 'w2')
    assert other.try_acquire_or_renew()
    other.release()
    mine = client.CoordinationV1Api(api)
    lease = {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease', 'metadata': {'name': 'another'}, 'spec': {}}
    refused(mine.create_namespaced_lease, 'kube-system', lease)
    coordination.create_namespaced_lease('kube-system', lease)
    refused(mine.read_namespaced_lease, 'another', 'kube-system')
    refused(client.CoreV1Api(api).list_secret_for_all_namespaces)


def check_a_forged_annotation_is_refused_at_creation(cp, tenant):
    for keys in ([annotation.LEGACY_KEY], [annotation.MODERN_KEY], sorted(FORGED)):
        message = refused(tenant.create_namespaced_pod, 'tenant', pod('forged', dict((k, FORGED[k]) for k in keys)))
        assert_names(message, keys)
    # The same user's pods without the annotations are created as ever; other annotations too.
    made = tenant.create_namespaced_pod('tenant', pod('plain', {'example.com/note': 'mine'}))
    assert made.metadata.name == 'plain'
    assert not exists(cp.core().read_namespaced_pod, 'forged', 'tenant')


def check_only_the_watcher_writes_the_annotation_of_an_existing_pod(cp, tenant, watcher):
    tenant.create_namespaced_pod('tenant', pod('web'))
    # Adding one by patch, or through the status subresource.
    assert_names(refused(tenant.patch_namespaced_pod, 'web', 'tenant',
                         {'metadata': {'annotations': {annotation.LEGACY_KEY: FORGED[annotation.LEGACY_KEY]}}}),
                 [annotation.LEGACY_KEY])
    assert_names(refused(tenant.patch_namespaced_pod_status, 'web', 'tenant',
                         {'metadata': {'annotations': {annotation.MODERN_KEY: FORGED[annotation.MODERN_KEY]}}}),
                 [annotation.MODERN_KEY])

    # The watcher's identity writes them.
    real = dict((k, v.replace('10.128.1.5', '10.128.1.6').replace(':05', ':06')) for k, v in FORGED.items())
    watcher.patch_namespaced_pod('web', 'tenant', {'metadata': {'annotations': real}})
    assert cp.core().read_namespaced_pod('web', 'tenant').metadata.annotations == real

    # Changing one (patch, update with the whole pod, status), removing one or both: refused.
    assert_names(refused(tenant.patch_namespaced_pod, 'web', 'tenant',
                         {'metadata': {'annotations': {annotation.MODERN_KEY: FORGED[annotation.MODERN_KEY]}}}),
                 [annotation.MODERN_KEY])
    current = tenant.read_namespaced_pod('web', 'tenant')
    current.metadata.annotations[annotation.LEGACY_KEY] = FORGED[annotation.LEGACY_KEY]
    assert_names(refused(tenant.replace_namespaced_pod, 'web', 'tenant', current), [annotation.LEGACY_KEY])
    assert_names(refused(tenant.patch_namespaced_pod_status, 'web', 'tenant',
                         {'metadata': {'annotations': {annotation.LEGACY_KEY: FORGED[annotation.LEGACY_KEY]}}}),
                 [annotation.LEGACY_KEY])
    assert_names(refused(tenant.patch_namespaced_pod, 'web', 'tenant',
                         {'metadata': {'annotations': {annotation.LEGACY_KEY: None}}}), [annotation.LEGACY_KEY])
    assert_names(refused(tenant.patch_namespaced_pod, 'web', 'tenant',
                         {'metadata': {'annotations': {annotation.LEGACY_KEY: None, annotation.MODERN_KEY: None}}}),
                 sorted(FORGED))
    assert cp.core().read_namespaced_pod('web', 'tenant').metadata.annotations == real

    # Anything else about the pod: as before (labels, other annotations, its status).
    tenant.patch_namespaced_pod('web', 'tenant', {'metadata': {'labels': {'app': 'web'}, 'annotations': {'example.com/x': 'y'}}})
    tenant.patch_namespaced_pod_status('web', 'tenant', {'status': {'phase': 'Running'}})
    after = cp.core().read_namespaced_pod('web', 'tenant')
    assert after.metadata.labels == {'app': 'web'} and after.metadata.annotations == dict(real, **{'example.com/x': 'y'})

    # A subresource the policy does not judge cannot carry an annotation change: the API server
    # keeps the stored pod's metadata for pods/ephemeralcontainers (and pods/resize).
    tenant.patch_namespaced_pod_ephemeralcontainers('web', 'tenant', {
        'metadata': {'annotations': {annotation.LEGACY_KEY: FORGED[annotation.LEGACY_KEY]}},
        'spec': {'ephemeralContainers': [{'name': 'debug', 'image': 'test.invalid/debug'}]}})
    after = cp.core().read_namespaced_pod('web', 'tenant')
    assert [c.name for c in after.spec.ephemeral_containers] == ['debug']
    assert after.metadata.annotations[annotation.LEGACY_KEY] == real[annotation.LEGACY_KEY]

    # The watcher changes and removes them.
    watcher.patch_namespaced_pod('web', 'tenant', {'metadata': {'annotations': {annotation.LEGACY_KEY: None}}})
    assert annotation.LEGACY_KEY not in cp.core().read_namespaced_pod('web', 'tenant').metadata.annotations


def check_a_binding_carrying_the_annotation_is_refused(cp, tenant):
    """The API server copies a Binding's annotations onto the pod it binds, through either
    endpoint (pods/NAME/binding, or the namespace's bindings)."""
    def binding(name, annotations):
        return {'apiVersion': 'v1', 'kind': 'Binding', 'metadata': {'name': name, 'annotations': annotations},
                'target': {'apiVersion': 'v1', 'kind': 'Node', 'name': 'node-a'}}

    # The client cannot read the Status a binding answers with into its model: no preload.
    endpoints = {'pods/binding': lambda name, body: tenant.create_namespaced_pod_binding(name, 'tenant', body, _preload_content=False),
                 'bindings': lambda name, body: tenant.create_namespaced_binding('tenant', body, _preload_content=False)}
    for endpoint, bind in sorted(endpoints.items()):
        name = 'unbound-' + endpoint.replace('/', '-')
        tenant.create_namespaced_pod('tenant', pod(name, node=None))
        assert_names(refused(bind, name, binding(name, {annotation.MODERN_KEY: FORGED[annotation.MODERN_KEY]})),
                     [annotation.MODERN_KEY])
        assert cp.core().read_namespaced_pod(name, 'tenant').spec.node_name is None, endpoint
        bind(name, binding(name, {'example.com/bound-by': 'tenant'}))
        bound = cp.core().read_namespaced_pod(name, 'tenant')
        assert bound.spec.node_name == 'node-a' and bound.metadata.annotations == {'example.com/bound-by': 'tenant'}, endpoint


def check_the_policy_goes_with_the_switch(cp, work, tenant):
    """ovn_watcher_k8s_admission: false removes the policy and its binding (and only them)."""
    out, changed = run_role(work, cp.kubeconfig, extra={'ovn_watcher_k8s_admission': False})
    assert changed == 1, out  # the one task of the policy and its binding
    admission = client.AdmissionregistrationV1Api(cp.admin)
    assert not exists(admission.read_validating_admission_policy, 'ovn-k8s-watcher-pod-network')
    assert not exists(admission.read_validating_admission_policy_binding, 'ovn-k8s-watcher-pod-network')
    assert exists(cp.core().read_namespaced_service_account, 'ovn-k8s-watcher', 'kube-system')
    # Nothing but the policy stood in the way (the API server drops a removed policy from its
    # view asynchronously: wait for it, no timing asserted).
    wait_for('a forged pod accepted without the policy', lambda: created(tenant, pod('forged-unguarded', FORGED)), timeout=60)


def created(api, body):
    try:
        api.create_namespaced_pod('tenant', body)
    except ApiException as e:
        if e.status == 403 and 'ValidatingAdmissionPolicy' in e.body:
            return False
        raise
    return True


def test_bad_input_fails_with_a_sentence(tmp_path):
    """Names that are not Kubernetes names, a kubeconfig given beside the role-made identity,
    an admin kubeconfig whose API server does not answer: each fails with a sentence, before
    anything is written (no control plane needed)."""
    admin = tmp_path / 'unreachable.kubeconfig'
    admin.write_text(json.dumps({
        'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'x',
        'clusters': [{'name': 'x', 'cluster': {'server': 'https://127.0.0.1:%d' % free_port(), 'insecure-skip-tls-verify': True}}],
        'users': [{'name': 'x', 'user': {'token': 'none'}}], 'contexts': [{'name': 'x', 'context': {'cluster': 'x', 'user': 'x'}}]}))
    out, dummy = run_role(tmp_path, str(admin), expect_ok=False, extra={
        'ovn_watcher_lease_name': 'Not_A_Name', 'ovn_watcher_kubeconfig': 'apiVersion: v1',
        'ovn_watcher_k8s_namespace': 'kube.system'})
    assert 'ovn_watcher_lease_name "Not_A_Name" is not a Lease name' in out, out
    assert 'ovn_watcher_kubeconfig is given, but with ovn_watcher_k8s_objects the watcher runs with its own identity' in out, out
    assert 'ovn_watcher_k8s_namespace "kube.system" is not a namespace name' in out, out
    out, dummy = run_role(tmp_path, str(admin), expect_ok=False)
    assert 'ovn_watcher: the Kubernetes API server could not be reached with ovn_watcher_k8s_admin_kubeconfig (%s)' % admin in out, out
    assert not (tmp_path / 'watcher.kubeconfig').exists()
