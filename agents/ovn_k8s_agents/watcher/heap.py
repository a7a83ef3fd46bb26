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
so :func:`loading` turns the collector off while a large state is read, and :func:`settled`
moves everything alive then into the permanent generation (``gc.freeze``) and turns it back
on: later collections walk only what was made since. The watcher calls :func:`settled` again
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
_LOADING = [0]
_STARTED = {}


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
    """A large state is about to be read: no cycle collection until :func:`settled`."""
    with _LOCK:
        _LOADING[0] += 1
        gc.disable()


def settled():
    """What is alive now stays: freeze it, and collect cycles among newer objects only.
    Calls pair with :func:`loading`; the collector comes back on with the last of them."""
    with _LOCK:
        _LOADING[0] = max(0, _LOADING[0] - 1)
        gc.freeze()
        if _LOADING[0] == 0:
            gc.enable()


def refreeze():
    """Collect what became garbage since the last freeze, then move what survived into the
    permanent generation (each resync). The collection walks only the objects made since the
    last freeze, not the frozen heap, so it is short."""
    with _LOCK:
        if _LOADING[0]:
            return
        gc.collect()
        gc.freeze()
