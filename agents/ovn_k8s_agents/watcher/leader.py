# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Leader election through a ``coordination.k8s.io/v1`` Lease, as client-go does it.

The holder renews ``renewTime`` every ``retry_period``; a candidate takes the lease over when
its ``renewTime`` is older than ``leaseDurationSeconds``. Every write is a replace carrying the
resourceVersion that was read, so two candidates cannot both win: the API server refuses the
second with 409 Conflict. A leader that cannot renew within ``renew_deadline`` stops leading.
"""

from __future__ import absolute_import, division, print_function

import datetime
import logging

from kubernetes import client
from kubernetes.client.exceptions import ApiException

LOG = logging.getLogger('ovn_k8s_watcher.leader')


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _micro(ts):
    return ts.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


class LeaderElector(object):

    def __init__(self, api_client, namespace, name, identity, lease_duration=15, renew_deadline=10,
                 retry_period=2):
        self.api = client.CoordinationV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.last_renew = None

    def try_acquire_or_renew(self):
        """One attempt; returns True when this instance holds the lease afterwards."""
        now = _now()
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise
            body = {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
                    'metadata': {'name': self.name, 'namespace': self.namespace},
                    'spec': self._spec(now, now, 0)}
            try:
                self.api.create_namespaced_lease(self.namespace, body)
            except ApiException as e2:
                if e2.status == 409:
                    return False
                raise
            self.last_renew = now
            return True
        spec = lease.spec
        holder = spec.holder_identity
        transitions = spec.lease_transitions or 0
        if holder and holder != self.identity:
            renewed = spec.renew_time or spec.acquire_time
            duration = spec.lease_duration_seconds or self.lease_duration
            if renewed is not None and renewed.tzinfo is None:
                renewed = renewed.replace(tzinfo=datetime.timezone.utc)
            if renewed is not None and (now - renewed).total_seconds() < duration:
                return False  # held by a live leader
        acquire = spec.acquire_time if holder == self.identity and spec.acquire_time else now
        if holder != self.identity:
            transitions += 1
            acquire = now
        body = {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
                'metadata': {'name': self.name, 'namespace': self.namespace,
                             'resourceVersion': lease.metadata.resource_version},
                'spec': self._spec(acquire, now, transitions)}
        try:
            self.api.replace_namespaced_lease(self.name, self.namespace, body)
        except ApiException as e:
            if e.status == 409:
                return False  # someone else wrote it first
            raise
        if holder != self.identity:
            LOG.info('took the lease over', extra=dict(lease='%s/%s' % (self.namespace, self.name),
                                                       previous=holder or '(none)'))
        self.last_renew = now
        return True

    def _spec(self, acquire, renew, transitions):
        acquire = acquire if isinstance(acquire, datetime.datetime) else renew
        if acquire.tzinfo is None:
            acquire = acquire.replace(tzinfo=datetime.timezone.utc)
        return {'holderIdentity': self.identity, 'leaseDurationSeconds': int(self.lease_duration),
                'acquireTime': _micro(acquire), 'renewTime': _micro(renew),
                'leaseTransitions': transitions}

    def release(self):
        """Give the lease up at a clean stop, so that a standby takes over at once."""
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
            if lease.spec.holder_identity != self.identity:
                return
            body = {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
                    'metadata': {'name': self.name, 'namespace': self.namespace,
                                 'resourceVersion': lease.metadata.resource_version},
                    'spec': {'holderIdentity': None, 'leaseDurationSeconds': 1,
                             'renewTime': _micro(_now() - datetime.timedelta(seconds=3600)),
                             'leaseTransitions': lease.spec.lease_transitions or 0}}
            self.api.replace_namespaced_lease(self.name, self.namespace, body)
        except Exception as e:  # best effort: the lease expires anyway
            LOG.warning('could not release the lease', extra=dict(reason=str(e)[:200]))

    def still_leading(self):
        if self.last_renew is None:
            return False
        return (_now() - self.last_renew).total_seconds() < self.renew_deadline
