# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A work queue keyed by object, in the manner of client-go's workqueue.

- A key is in flight in at most one worker at a time: a key added while it is being
  processed is queued again when that worker calls :meth:`WorkQueue.done`.
- Adding a key that is already waiting does nothing (events for one object coalesce: the
  handler reads the object's current state anyway).
- :meth:`WorkQueue.retry` puts a failed key back after a per-key exponential backoff while
  every other key goes on; :meth:`WorkQueue.forget` resets that backoff after a success.
"""

from __future__ import absolute_import, division, print_function

import collections
import heapq
import threading
import time


class WorkQueue(object):

    def __init__(self, base_delay=0.05, max_delay=30.0):
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._cond = threading.Condition()
        self._queue = collections.deque()
        self._dirty = set()
        self._processing = set()
        self._failures = {}
        self._since = {}        # key -> when it was queued (for the wait a key spends queued)
        self._later = []        # heap of (due, seq, key)
        self._seq = 0
        self._shutdown = False

    # Adding ----------------------------------------------------------------------------------
    def add(self, key):
        with self._cond:
            self._add(key)

    def add_many(self, keys):
        with self._cond:
            for key in keys:
                self._add(key)

    def _add(self, key):
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        self._since.setdefault(key, time.monotonic())
        if key not in self._processing:
            self._queue.append(key)
            self._cond.notify()

    def add_after(self, key, delay):
        with self._cond:
            self._seq += 1
            heapq.heappush(self._later, (time.monotonic() + delay, self._seq, key))
            self._cond.notify()

    def retry(self, key):
        """Queue ``key`` again after its backoff; returns the delay."""
        with self._cond:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
        delay = min(self.base_delay * (2 ** n), self.max_delay)
        self.add_after(key, delay)
        return delay

    def forget(self, key):
        with self._cond:
            self._failures.pop(key, None)

    # Taking ----------------------------------------------------------------------------------
    def _promote(self):
        now = time.monotonic()
        while self._later and self._later[0][0] <= now:
            self._add(heapq.heappop(self._later)[2])

    def get_batch(self, limit, timeout=None, waits=None):
        """Up to ``limit`` keys (waits for the first one); [] on timeout or shutdown.
        ``waits``, a list, receives how long each key was queued (seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                self._promote()
                if self._shutdown:
                    return []
                if self._queue:
                    break
                wait = None if deadline is None else deadline - time.monotonic()
                if self._later:
                    due = self._later[0][0] - time.monotonic()
                    wait = due if wait is None else min(wait, due)
                if wait is not None and wait <= 0:
                    if deadline is not None and time.monotonic() >= deadline:
                        return []
                    continue
                self._cond.wait(wait)
            keys = []
            now = time.monotonic()
            while self._queue and len(keys) < limit:
                key = self._queue.popleft()
                self._dirty.discard(key)
                since = self._since.pop(key, now)
                if waits is not None:
                    waits.append(now - since)
                self._processing.add(key)
                keys.append(key)
            return keys

    def done(self, key):
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._cond.notify()

    def shutdown(self):
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    # Looking ---------------------------------------------------------------------------------
    def depth(self):
        with self._cond:
            return len(self._queue)

    def retrying(self):
        with self._cond:
            return len(self._failures)

    def idle(self):
        """Nothing waiting, nothing in flight and nothing scheduled for later."""
        with self._cond:
            return not self._queue and not self._processing and not self._later
