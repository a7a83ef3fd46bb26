# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNI plugin's one conversation with Kubernetes: read a pod's network annotation with the
node's kubeconfig, waiting a bounded time for the watcher to write it, and check that the pod
read is the one the runtime asks for (its UID).

Works with the official client as Debian 12 ships it (python3-kubernetes 22.6) and with current
releases. One GET; when the annotation is not there yet, a watch on that one pod (field selector,
from the GET's resourceVersion, with server and client timeouts) until it appears or the time is
up. Nothing here logs the kubeconfig's contents.
"""

from __future__ import absolute_import, division, print_function

import logging
import os
import time

from ovn_k8s_agents import annotation
from ovn_k8s_agents.cni.skel import INVALID_CONFIG, PLUGIN_ERROR, TRY_AGAIN_LATER, CniError

log = logging.getLogger('ovn_k8s_cni')

# Seconds for one request: to connect, and to read an answer.
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 10


def core_api(kubeconfig):
    """A CoreV1Api authenticated by the kubeconfig file ``kubeconfig``."""
    try:
        from kubernetes import client, config
    except ImportError as exc:
        raise CniError(PLUGIN_ERROR, 'the Python library kubernetes is required to read pod annotations '
                       '(Debian: python3-kubernetes): %s' % exc)
    if not kubeconfig:
        raise CniError(INVALID_CONFIG, 'the network configuration has no kubeconfig (the path of the '
                       "node's kubeconfig file)")
    if not os.access(kubeconfig, os.R_OK):
        raise CniError(INVALID_CONFIG, 'the kubeconfig %s does not exist or is not readable by the plugin'
                       % kubeconfig)
    try:
        api_client = config.new_client_from_config(config_file=kubeconfig)
    except Exception as exc:   # the loader raises ConfigException, ValueError, yaml errors...
        raise CniError(INVALID_CONFIG, 'the kubeconfig %s cannot be used: %s' % (kubeconfig, exc))
    return client.CoreV1Api(api_client)


def _server(core):
    return core.api_client.configuration.host


def _get(core, namespace, name, remaining):
    from kubernetes.client.rest import ApiException
    who = 'pod %s/%s' % (namespace, name)
    try:
        return core.read_namespaced_pod(name, namespace, _request_timeout=(
            CONNECT_TIMEOUT, max(1.0, min(READ_TIMEOUT, remaining))))
    except ApiException as exc:
        if exc.status == 404:
            raise CniError(PLUGIN_ERROR, '%s does not exist in the API server at %s' % (who, _server(core)))
        if exc.status in (401, 403):
            raise CniError(PLUGIN_ERROR, "the API server at %s refused the node's credentials reading %s: "
                           '%s %s' % (_server(core), who, exc.status, exc.reason))
        raise _Transient('the API server at %s answered %s %s reading %s' % (_server(core), exc.status, exc.reason, who))
    except Exception as exc:  # urllib3 connection errors and timeouts
        raise _Transient('cannot reach the API server at %s to read %s: %s'
                         % (_server(core), who, type(exc).__name__))


class _Transient(Exception):
    """An error worth retrying until the deadline."""


def _check_uid(pod, who, uid):
    """The pod read must be the one the runtime named (K8S_POD_UID), not a successor of the same
    name: its address would be another pod's."""
    found = pod.metadata.uid
    if uid and found != uid:
        raise CniError(PLUGIN_ERROR, 'pod %s in the API server has UID %s, not %s (K8S_POD_UID from the '
                       'runtime): it was deleted and created again; refusing to configure it' % (who, found, uid))
    return found


def _network(pod, who):
    try:
        return annotation.parse(pod.metadata.annotations, who)
    except annotation.AnnotationError as exc:
        raise CniError(PLUGIN_ERROR, str(exc))


def read_pod(core, namespace, name, uid=None):
    """(PodNetwork or None, UID) of the pod as the API server has it now; one GET."""
    who = '%s/%s' % (namespace, name)
    try:
        pod = _get(core, namespace, name, READ_TIMEOUT)
    except _Transient as exc:
        raise CniError(TRY_AGAIN_LATER, 'pod %s: %s' % (who, exc))
    return _network(pod, who), _check_uid(pod, who, uid)


def wait_pod_network(core, namespace, name, timeout, uid=None):
    """(PodNetwork, UID) of the pod; waits up to ``timeout`` seconds for its annotation.

    ``uid``, when given (the runtime's K8S_POD_UID), must be the UID of the pod read.
    Raises CniError: TRY_AGAIN_LATER when the time is up (annotation missing, or the API
    server unreachable), PLUGIN_ERROR for a pod that does not exist or has another UID,
    refused credentials or a malformed annotation.
    """
    from kubernetes import watch
    who = '%s/%s' % (namespace, name)
    deadline = time.time() + timeout
    last_error = None
    while True:
        remaining = deadline - time.time()
        try:
            pod = _get(core, namespace, name, remaining)
        except _Transient as exc:
            last_error, pod = str(exc), None
            log.warning('%s; retrying', exc)
        if pod is not None:
            found = _network(pod, who)
            uid = _check_uid(pod, who, uid)
            if found is not None:
                return found, uid
            last_error = None
            remaining = deadline - time.time()
            if remaining > 0:
                found = _watch(core, watch, namespace, name, pod.metadata.resource_version, remaining, who, uid)
                if found is not None:
                    return found, uid
        remaining = deadline - time.time()
        if remaining <= 0:
            break
        time.sleep(min(0.5 if pod is None else 0.1, remaining))
    if last_error:
        raise CniError(TRY_AGAIN_LATER, 'pod %s: %s (gave up after %s seconds)' % (who, last_error, timeout))
    raise CniError(TRY_AGAIN_LATER, 'pod %s has no network annotation (%s) after %s seconds: is the '
                   'ovn_k8s watcher running and does it know the node?'
                   % (who, annotation.LEGACY_KEY, timeout))


def _watch(core, watch, namespace, name, resource_version, remaining, who, uid):
    """Watch one pod until its annotation appears (the PodNetwork), or None when the watch ended."""
    w = watch.Watch()
    try:
        for event in w.stream(core.list_namespaced_pod, namespace, field_selector='metadata.name=' + name,
                              resource_version=resource_version, timeout_seconds=max(1, int(remaining)),
                              _request_timeout=(CONNECT_TIMEOUT, remaining + 2)):
            kind, pod = event.get('type'), event.get('object')
            if kind == 'DELETED':
                raise CniError(PLUGIN_ERROR, 'pod %s was deleted while waiting for its network annotation' % who)
            if kind in ('ADDED', 'MODIFIED') and hasattr(pod, 'metadata'):
                _check_uid(pod, who, uid)
                found = _network(pod, who)
                if found is not None:
                    return found
            if kind == 'ERROR':
                return None          # 410 Gone and friends: GET again
    except CniError:
        raise
    except Exception as exc:  # a broken or expired watch: GET again
        log.info('watch on pod %s ended: %s', who, type(exc).__name__)
    finally:
        w.stop()
    return None
