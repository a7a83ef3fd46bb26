# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Python's cycle collector and a process that holds the whole cluster in memory.

The watcher keeps every pod, service, slice, policy and namespace as parsed JSON, and the
Northbound copy as IDL rows: a million objects and more at 10,000 pods. CPython's cycle
collector walks every tracked object in a full collection, and starts one each time the
number of objects grows by a quarter, so:

- while the start-up lists and the Northbound copy are read, the collector runs again and
  again over a growing heap (reading 10,000 pods with it on took six times as long as with
  it off, measured);
- afterwards every full collection stops all threads for as long as the walk takes (about a
  second over 10,000 pods on a busy machine): the tail of the endpoint-change latency.

None of that memory is cyclic garbage (JSON and IDL rows are freed by reference counting),
so :func:`loading` turns the collector off while a large state is read (for at most
:data:`LOADING_MAX` seconds), and :func:`settled` moves everything alive then into the permanent
generation (``gc.freeze``) and turns it back on: later collections walk only what was made since. The watcher freezes again
at every resync (:func:`refreeze`), after a collection of what was made since the last freeze,
so objects replaced since then (a pod's new version) do not pile up in the walked generations
and cyclic garbage is not frozen with them. Each collection's pause is observed in the
``gc_pause_seconds`` histogram.
"""

from __future__ import absolute_import, division, print_function

import gc
import threading
import time

_LOCK = threading.Lock()
# count: loads under way; generation: which run of overlapping loads; expired: that run outlived
# LOADING_MAX and has its collector back.
_STATE = dict(count=0, generation=0, expired=False)
_STARTED = {}

# The longest the collector stays off, however long a load lasts: the watcher waiting for an
# unreachable Northbound database, or a cold start of a large cluster, keeps collecting cycles.
LOADING_MAX = 120.0


def watch_pauses(metrics):
    """Observe every collection's pause (by generation) in ``metrics``."""
    def callback(phase, info):
        if phase == 'start':
            _STARTED['t'] = time.monotonic()
        elif 't' in _STARTED:
            metrics.observe('gc_pause_seconds', time.monotonic() - _STARTED.pop('t'))
    gc.callbacks.append(callback)
    return callback


def loading():
    """A large state is about to be read: no cycle collection until :func:`settled` (or until
    the loads that overlap with this one have lasted :data:`LOADING_MAX` seconds)."""
    with _LOCK:
        if _STATE['count'] == 0:
            _STATE['generation'] += 1
            _STATE['expired'] = False
            timer = threading.Timer(LOADING_MAX, _expire, args=(_STATE['generation'],))
            timer.daemon = True
            timer.start()
        _STATE['count'] += 1
        if not _STATE['expired']:
            gc.disable()


def _expire(generation):
    with _LOCK:
        if _STATE['count'] and _STATE['generation'] == generation:
            _STATE['expired'] = True
            gc.enable()


def settled():
    """What is alive now stays: freeze it, and collect cycles among newer objects only.
    Calls pair with :func:`loading`; the collector comes back on with the last of them."""
    with _LOCK:
        _STATE['count'] = max(0, _STATE['count'] - 1)
        gc.freeze()
        if _STATE['count'] == 0:
            gc.enable()


def refreeze():
    """Collect what became garbage since the last freeze, then move what survived into the
    permanent generation (each resync). The collection walks only the objects made since the
    last freeze, not the frozen heap, so it is short."""
    with _LOCK:
        if _STATE['count'] and not _STATE['expired']:
            return
        gc.collect()
        gc.freeze()
