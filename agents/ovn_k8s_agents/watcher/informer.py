# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""List, then watch from the list's resourceVersion, into a local store of plain dicts.

One :class:`Informer` per kind. Objects are kept as the JSON the API server sent (no model
classes: 5,000 pods deserialize in a fraction of the time), keyed by ``namespace/name`` (or
``name``). Every change only says *which* key to look at: the handler reads the store.

- The watch starts from the list's resourceVersion with bookmarks, so nothing between the
  list and the watch is lost, and a reconnect resumes from the last version seen.
- 410 Gone (history compacted) means: list again, replace the store, and hand every key that
  appeared, changed or vanished to the handler (a full reconcile of that kind).
- Each watch has a server-side ``timeout_seconds`` and a client-side ``_request_timeout``;
  a dropped connection or an API server restart reopens it after a backoff.
- Indexes live with the store, in the manner of client-go's ``Indexer``: each named index
  function gives an object's index values, and :meth:`Informer.by_index` answers the objects
  under one value. The store and its indexes change together, under the informer's lock.
"""

from __future__ import absolute_import, division, print_function

import json
import logging
import random
import threading

from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

LOG = logging.getLogger('ovn_k8s_watcher.informer')


class Gone(Exception):
    """The resourceVersion is too old (HTTP 410): relist."""


def object_key(obj):
    meta = obj.get('metadata') or {}
    ns = meta.get('namespace')
    return '%s/%s' % (ns, meta['name']) if ns else meta['name']


class Informer(object):

    def __init__(self, kind, list_func, on_change, metrics, stop, watch_timeout=300,
                 backoff_max=30.0, on_relist=None, indexers=None):
        self.kind = kind
        self.list_func = list_func          # e.g. CoreV1Api.list_pod_for_all_namespaces
        self.on_change = on_change          # on_change([keys])
        self.on_relist = on_relist
        self.metrics = metrics
        self.stop_event = stop
        self.watch_timeout = watch_timeout
        self.backoff_max = backoff_max
        self.lock = threading.Lock()
        self.store = {}
        # name -> function(obj) -> the object's index values; name -> {value: (keys,)}. The
        # entries are tuples, replaced rather than changed: a reader never sees one change.
        self.indexers = dict(indexers or {})
        self.indices = dict((name, {}) for name in self.indexers)
        self.resource_version = None
        self.synced = threading.Event()
        self.thread = None

    # Store -------------------------------------------------------------------------------------
    def get(self, key):
        with self.lock:
            return self.store.get(key)

    def keys(self):
        with self.lock:
            return list(self.store)

    def items(self):
        with self.lock:
            return list(self.store.items())

    def by_index(self, name, value):
        """The objects whose index function ``name`` gives ``value``."""
        with self.lock:
            return [self.store[k] for k in self.indices[name].get(value, ()) if k in self.store]

    def _index(self, key, old, new):
        """Move ``key`` in every index from the values of object ``old`` to those of ``new``
        (either None). Under the lock."""
        for name, func in self.indexers.items():
            before = set(func(old)) if old is not None else set()
            after = set(func(new)) if new is not None else set()
            if before == after:
                continue
            index = self.indices[name]
            for value in before - after:
                rest = tuple(k for k in index.get(value, ()) if k != key)
                if rest:
                    index[value] = rest
                else:
                    index.pop(value, None)
            for value in after - before:
                index[value] = index.get(value, ()) + (key,)

    def _reindex(self):
        """Every index built anew from the store. Under the lock."""
        self.indices = dict((name, {}) for name in self.indexers)
        for key, obj in self.store.items():
            self._index(key, None, obj)

    # List --------------------------------------------------------------------------------------
    def relist(self):
        """Replace the store with a fresh list; returns the keys that need a look."""
        resp = self.list_func(_preload_content=False, _request_timeout=(10, 120))
        body = json.loads(resp.data)
        objects = {}
        for item in body.get('items') or []:
            objects[object_key(item)] = item
        with self.lock:
            old = self.store
            self.store = objects
            self._reindex()
            self.resource_version = body['metadata']['resourceVersion']
        self.metrics.inc('relists_total', kind=self.kind)
        LOG.info('listed', extra=dict(kind=self.kind, count=len(objects), resource_version=self.resource_version))
        return sorted(set(old) | set(objects))

    # Watch -------------------------------------------------------------------------------------
    def start(self):
        self.thread = threading.Thread(target=self.run, name='watch-%s' % self.kind, daemon=True)
        self.thread.start()

    def run(self):
        failures = 0
        while not self.stop_event.is_set():
            try:
                if not self.synced.is_set() or self.resource_version is None:
                    keys = self.relist()
                    self.synced.set()
                    if self.on_relist:
                        self.on_relist(self.kind)
                    self.on_change(keys)
                self.watch_once()
                failures = 0
            except Gone as e:
                LOG.warning('watch expired: listing again', extra=dict(kind=self.kind, reason=str(e)))
                self.metrics.inc('watch_restarts_total', kind=self.kind, reason='gone')
                self.resource_version = None
                self.synced.clear()
                failures = 0
            except Exception as e:  # a broken connection, an API server restart, a 5xx
                failures += 1
                delay = min(self.backoff_max, 0.2 * (2 ** min(failures, 8))) * (0.5 + random.random() / 2)
                LOG.warning('watch failed: reconnecting', extra=dict(kind=self.kind, reason=_reason(e),
                                                                     retry_in=round(delay, 2)))
                self.metrics.inc('watch_restarts_total', kind=self.kind, reason='error')
                self.stop_event.wait(delay)

    def watch_once(self):
        timeout = self.watch_timeout
        try:
            resp = self.list_func(watch=True, resource_version=self.resource_version,
                                  allow_watch_bookmarks=True, timeout_seconds=timeout,
                                  _preload_content=False, _request_timeout=(10, timeout + 30))
        except ApiException as e:
            if e.status == 410:
                raise Gone(e.reason)
            raise
        try:
            for line in iter_resp_lines(resp):
                if self.stop_event.is_set():
                    return
                event = json.loads(line)
                self._event(event)
        except AttributeError as e:
            # urllib3 2 reading a chunked body that the server has just ended (the watch's
            # timeout) can fail this way instead of ending the iteration: a normal end.
            if 'readline' not in str(e) and 'read' not in str(e):
                raise
        finally:
            resp.release_conn()

    def stop(self):
        """Nothing to close by hand: closing an SSL response that another thread is reading
        blocks on its lock. The thread ends at its next event or at the watch's timeout, or
        with the process (it is a daemon thread); what it hands over after the stop goes to a
        queue that was shut down."""

    def _event(self, event):
        kind, obj = event.get('type'), event.get('object') or {}
        if kind == 'ERROR':
            if obj.get('code') == 410:
                raise Gone(obj.get('message'))
            raise RuntimeError('watch error %s: %s' % (obj.get('code'), obj.get('message')))
        version = (obj.get('metadata') or {}).get('resourceVersion')
        if kind == 'BOOKMARK':
            self.resource_version = version
            return
        key = object_key(obj)
        with self.lock:
            if kind == 'DELETED':
                self._index(key, self.store.pop(key, None), None)
            else:
                self._index(key, self.store.get(key), obj)
                self.store[key] = obj
            if version:
                self.resource_version = version
        self.on_change([key])


def _reason(exc):
    if isinstance(exc, ApiException):
        return 'HTTP %s %s' % (exc.status, exc.reason)
    return '%s: %s' % (type(exc).__name__, str(exc)[:300])
