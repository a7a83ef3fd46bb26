# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the watcher's reconcilers share (one per leadership term): the Northbound client and
its lock, the informers (stores and their indexes), the work queue, the event recorder, the
metrics, the leadership fence, and the error policy every key's reconcile runs under.

The reconcilers (watcher/nodes.py, pods.py, services.py, policies.py) each hold this context
and nothing of each other's but what their constructors are given; controller.py builds them.

The error policy:

- :class:`BadInput`: the object cannot be served as it is; reported as a Warning Event on it
  and forgotten, or retried with backoff when it may come right by itself.
- :class:`NotYet`: something it needs is not there yet; retried with backoff.
- anything else: retried with backoff; a refused pod transaction is reported on the pod.
- :meth:`Context.commit`: written only while the term leads (the fence), under the
  transaction layer's policy for a long-lived client (``_txn.Settling``): a commit whose
  answer was lost may still land, so the next plan (:meth:`Context.settle`, under the lock)
  waits until the Northbound copy holds whatever it did; the key is requeued.
"""

from __future__ import absolute_import, division, print_function

import collections
import logging
import threading
import time

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _errors, _names, _txn

LOG = logging.getLogger('ovn_k8s_watcher')

# How many (object, reason, message) the watcher remembers having reported as Events.
REPORTED_MAX = 10000


class BadInput(Exception):
    """An object the watcher cannot serve as it is; reported on the object, not retried
    unless ``retry`` (it may come right by itself, e.g. a full subnet)."""

    def __init__(self, reason, message, retry=False):
        Exception.__init__(self, message)
        self.reason = reason
        self.retry = retry


class NotYet(Exception):
    """Something the object needs is not there yet (its node's switch): retry later."""


class NotLeading(Exception):
    """The term's lease was not renewed in time: no write may go out (another instance may
    lead soon); the term ends at the next renewal check."""


class Context(object):
    """One leadership term's shared state. ``informers``: {kind: Informer}, also reachable as
    attributes (``ctx.pods``, ``ctx.nodes``, ...)."""

    def __init__(self, core, nb, metrics, queue, stop_event, nb_lock=None, fence=None, merge_patch=None):
        self.core = core                    # CoreV1Api: pod annotations and Events
        self.merge_patch = merge_patch or {}
        self._settling = None
        self.nb = nb
        self.nb_lock = nb_lock or threading.Lock()
        self.metrics = metrics
        self.queue = queue
        self.stop_event = stop_event
        # True while this term may write (LeaderElector.still_leading); None: always.
        self.fence = fence
        self.writers = None                 # the pool of API writers (annotations), once started
        self.informers = {}
        # (uid, reason, message) of the Events recorded, oldest first, at most REPORTED_MAX: a
        # cluster that churns through bad objects must not grow it for ever.
        self.reported = collections.OrderedDict()

    def add_informer(self, name, informer):
        self.informers[name] = informer
        setattr(self, name, informer)
        return informer

    # The Northbound database -----------------------------------------------------------------
    def _policy(self):
        """The commit policy of the current client (``nb``, which the daemon sets once its copy
        is loaded; a plain attribute, read at every step of a plan)."""
        if self._settling is None or self._settling.client is not self.nb:
            self._settling = _txn.Settling(self.nb)
        return self._settling

    def settle(self):
        """Under nb_lock, before planning: make sure no earlier commit can still land unseen."""
        self._policy().settle()

    def fenced(self):
        if self.fence is not None and not self.fence():
            raise NotLeading('the lease was not renewed within the renew deadline: not writing')

    def commit(self, cs):
        self.fenced()
        t0 = time.monotonic()
        try:
            self._policy().commit(cs)
        finally:
            self.metrics.observe('nb_commit_seconds', time.monotonic() - t0)
        self.metrics.inc('nb_transactions_total')

    # The error policy -------------------------------------------------------------------------
    def guard(self, key, func, *args, **kw):
        """Run one key's reconcile ``func(key[1], *args)``; on failure retry it with backoff
        and report bad input. ``count=False``: a success is neither forgotten nor counted
        (the caller does it once the key's work is committed). True when it succeeded."""
        try:
            func(key[1], *args)
        except BadInput as e:
            self.bad_input(key, e)
            return False
        except NotYet as e:
            delay = self.queue.retry(key)
            self.metrics.inc('events_total', kind=key[0], result='waiting')
            LOG.info('waiting', extra=dict(kind=key[0], object=key[1], reason=str(e), retry_in=round(delay, 2)))
            return False
        except Exception as e:
            self.failed(key, e)
            return False
        if kw.get('count', True):
            self.succeeded(key)
        return True

    def succeeded(self, key):
        self.queue.forget(key)
        self.metrics.inc('events_total', kind=key[0], result='ok')

    def failed(self, key, e):
        delay = self.queue.retry(key)
        self.metrics.inc('events_total', kind=key[0], result='failed')
        LOG.warning('failed', extra=dict(kind=key[0], object=key[1], reason=text(e), retry_in=round(delay, 2)))
        if key[0] == 'pod' and isinstance(e, _errors.TransactionFailed):
            self.pod_event(key[1], 'NorthboundRefused', _refused(key[1], e))

    def bad_input(self, key, e):
        self.metrics.inc('events_total', kind=key[0], result='invalid')
        LOG.warning('bad input', extra=dict(kind=key[0], object=key[1], reason=e.reason, detail=str(e)))
        if key[0] == 'pod':
            self.pod_event(key[1], e.reason, str(e))
        if e.retry:
            self.queue.retry(key)
        else:
            self.queue.forget(key)

    # The event recorder -----------------------------------------------------------------------
    def pod_event(self, key, reason, message):
        self.object_event('v1', 'Pod', self.informers['pods'].get(key), reason, message)

    def object_event(self, api_version, kind, obj, reason, message):
        """A Warning Event on ``obj`` (a namespaced object as the API sent it), once per
        object, reason and message."""
        if obj is None:
            return
        meta = obj['metadata']
        key = '%s/%s' % (meta.get('namespace'), meta.get('name'))
        seen = (meta.get('uid'), reason, message)
        if seen in self.reported:
            self.reported.move_to_end(seen)
            return
        self.reported[seen] = True
        while len(self.reported) > REPORTED_MAX:
            self.reported.popitem(last=False)
        now = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
        body = {'apiVersion': 'v1', 'kind': 'Event',
                'metadata': {'generateName': '%s.' % meta['name'], 'namespace': meta['namespace']},
                'involvedObject': {'apiVersion': api_version, 'kind': kind, 'name': meta['name'],
                                   'namespace': meta['namespace'], 'uid': meta.get('uid')},
                'reason': reason, 'message': message[:1024], 'type': 'Warning',
                'source': {'component': _names.WATCHER}, 'reportingComponent': _names.WATCHER,
                'firstTimestamp': now, 'lastTimestamp': now, 'count': 1}
        try:
            self.core.create_namespaced_event(meta['namespace'], body)
            self.metrics.inc('api_writes_total', kind='event')
        except Exception as e:
            LOG.warning('could not record an event', extra=dict(object=key, reason=text(e)))


def _refused(key, exc):
    return ('pod %s: %s; the pod is not annotated until its port is committed, and is retried with backoff'
            % (key, exc))


def text(exc):
    """A failure as one short line for the logs."""
    from kubernetes.client.exceptions import ApiException
    if isinstance(exc, ApiException):
        return 'HTTP %s %s' % (exc.status, exc.reason)
    return str(exc)[:500] or type(exc).__name__
