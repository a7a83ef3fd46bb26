# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Leader election through a ``coordination.k8s.io/v1`` Lease, as client-go does it.

The holder renews ``renewTime`` every ``retry_period``. A candidate never compares the holder's
clock with its own: it notes, on its own monotonic clock, when it first saw the lease record as
it is, and takes the lease over only once the record has not changed for
``leaseDurationSeconds`` of that clock (or at once when no one holds it). Every write is a
replace carrying the resourceVersion that was read, so two candidates cannot both win: the API
server refuses the second with 409 Conflict. Every request has a timeout shorter than
``renew_deadline``.

A leader counts its term from the moment it *sent* its last successful renewal and stops
leading ``renew_deadline`` after it (``still_leading``), and at once when it reads another
holder or its renewal is refused. Since ``renew_deadline < lease_duration``, and a candidate
starts counting only once it has read that renewal, the old leader has stopped before any
candidate may take over, whatever the two machines' clocks say (their rates aside).
"""

from __future__ import absolute_import, division, print_function

import datetime
import logging
import time

from kubernetes import client
from kubernetes.client.exceptions import ApiException

LOG = logging.getLogger('ovn_k8s_watcher.leader')


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _micro(ts):
    return ts.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


class LeaderElector(object):

    def __init__(self, api_client, namespace, name, identity, lease_duration=15, renew_deadline=10,
                 retry_period=2, clock=time.monotonic):
        if not 0 < retry_period < renew_deadline < lease_duration:
            raise ValueError('leader election needs 0 < retry period (%s s) < renew deadline (%s s) < lease duration '
                             '(%s s): a leader must stop before another instance may take its lease over'
                             % (retry_period, renew_deadline, lease_duration))
        self.api = client.CoordinationV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock = clock
        # No lease request may hang longer than half the renew deadline. (Safety does not rest on
        # it: a term is counted from when its renewal was sent.)
        self.request_timeout = renew_deadline / 2.0
        self.last_renew = None   # our clock when the last successful renewal was sent
        self.observed = None     # the lease record as last read
        self.observed_at = None  # our clock when it was first read as it is

    def _observe(self, spec):
        record = (spec.holder_identity, str(spec.acquire_time), str(spec.renew_time), spec.lease_transitions,
                  spec.lease_duration_seconds)
        if record != self.observed:
            self.observed = record
            self.observed_at = self.clock()

    def try_acquire_or_renew(self):
        """One attempt; returns True when this instance holds the lease afterwards."""
        sent = self.clock()
        now = _now()  # written into the record for people and other implementations; never compared
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=self.request_timeout)
        except ApiException as e:
            if e.status != 404:
                raise
            body = {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
                    'metadata': {'name': self.name, 'namespace': self.namespace},
                    'spec': self._spec(now, now, 0)}
            try:
                self.api.create_namespaced_lease(self.namespace, body, _request_timeout=self.request_timeout)
            except ApiException as e2:
                if e2.status == 409:
                    return False
                raise
            self.last_renew = sent
            return True
        spec = lease.spec
        self._observe(spec)
        holder = spec.holder_identity
        transitions = spec.lease_transitions or 0
        if holder and holder != self.identity:
            if self.last_renew is not None:
                LOG.error('another instance holds the lease: stopping work',
                          extra=dict(lease='%s/%s' % (self.namespace, self.name), holder=holder))
                self.last_renew = None
            duration = spec.lease_duration_seconds or self.lease_duration
            if self.clock() - self.observed_at < duration:
                return False  # held, and not yet seen unchanged for a whole lease duration
        acquire = spec.acquire_time if holder == self.identity and spec.acquire_time else now
        if holder != self.identity:
            transitions += 1
            acquire = now
        body = {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
                'metadata': {'name': self.name, 'namespace': self.namespace,
                             'resourceVersion': lease.metadata.resource_version},
                'spec': self._spec(acquire, now, transitions)}
        try:
            self.api.replace_namespaced_lease(self.name, self.namespace, body, _request_timeout=self.request_timeout)
        except ApiException as e:
            if e.status == 409:
                self.last_renew = None  # someone else wrote it first: not ours any more
                return False
            raise
        if holder != self.identity:
            LOG.info('took the lease over', extra=dict(lease='%s/%s' % (self.namespace, self.name),
                                                       previous=holder or '(none)'))
        self.last_renew = sent
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
            self.last_renew = None
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=self.request_timeout)
            if lease.spec.holder_identity != self.identity:
                return
            body = {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
                    'metadata': {'name': self.name, 'namespace': self.namespace,
                                 'resourceVersion': lease.metadata.resource_version},
                    'spec': {'holderIdentity': None, 'leaseDurationSeconds': 1,
                             'renewTime': _micro(_now() - datetime.timedelta(seconds=3600)),
                             'leaseTransitions': lease.spec.lease_transitions or 0}}
            self.api.replace_namespaced_lease(self.name, self.namespace, body, _request_timeout=self.request_timeout)
        except Exception as e:  # best effort: the lease expires anyway
            LOG.warning('could not release the lease', extra=dict(reason=str(e)[:200]))

    def still_leading(self):
        """True while the last successful renewal was sent less than ``renew_deadline`` ago (on
        this instance's monotonic clock): the fence every write of a term checks."""
        if self.last_renew is None:
            return False
        return self.clock() - self.last_renew < self.renew_deadline
