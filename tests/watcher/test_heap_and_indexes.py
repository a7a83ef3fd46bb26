# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's in-process pieces that the end-to-end tests reach only in passing: the cycle
collector's handling (watcher/heap.py) and the EndpointSlice index by service (watcher/lb.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import threading

import pytest

from ovn_k8s_agents.watcher import heap
from ovn_k8s_agents.watcher.informer import Informer
from ovn_k8s_agents.watcher.lb import ServiceHandler
from ovn_k8s_agents.watcher.metrics import Metrics
from ovn_k8s_agents.watcher.workqueue import WorkQueue


@pytest.fixture
def collector():
    """Leave the interpreter's collector as it was found."""
    was = gc.isenabled()
    yield
    gc.unfreeze()
    if was:
        gc.enable()
    else:
        gc.disable()


def test_collector_off_while_loading_and_frozen_after(collector):
    gc.enable()
    gc.unfreeze()
    heap.loading()
    heap.loading()                      # a controller's start-up inside the Northbound load
    assert not gc.isenabled()
    kept = [[i] for i in range(1000)]        # lists: always tracked by the collector
    heap.settled()
    assert not gc.isenabled(), 'the outer load is still going'
    heap.settled()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(kept), 'what was alive at the end of the load is frozen'
    before = gc.get_freeze_count()
    newer = [[i] for i in range(1000)]
    garbage = [[i] for i in range(500)]
    for a in garbage:
        a.append(a)                     # each its own cycle: only the collector frees them
    del garbage, a
    heap.refreeze()
    frozen = gc.get_freeze_count() - before
    assert frozen >= len(newer), 'what is alive since the last freeze is frozen'
    assert frozen < len(newer) + 500, 'cyclic garbage is collected, not frozen'


def test_a_load_that_does_not_end_gets_the_collector_back(collector, monkeypatch):
    """The watcher waiting for an unreachable Northbound database must not go without the
    collector for as long as that lasts."""
    import time
    monkeypatch.setattr(heap, 'LOADING_MAX', 0.2)
    gc.enable()
    heap.loading()
    assert not gc.isenabled()
    deadline = time.monotonic() + 5
    while not gc.isenabled() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gc.isenabled(), 'still off after LOADING_MAX'
    heap.loading()                      # a load joining the expired one leaves it on
    assert gc.isenabled()
    heap.settled()
    heap.settled()
    assert gc.isenabled()
    heap.loading()                      # a new load, after all ended, turns it off again
    assert not gc.isenabled()
    heap.settled()
    assert gc.isenabled()


def test_pauses_are_observed(collector):
    metrics = Metrics()
    callback = heap.watch_pauses(metrics)
    try:
        gc.collect()
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    text = metrics.render()
    counts = [line for line in text.splitlines() if line.startswith('ovn_k8s_watcher_gc_pause_seconds_count')]
    assert counts and float(counts[0].split()[-1]) >= 2


class Slices(ServiceHandler):
    """The service handler's slice bookkeeping over a real informer store and work queue."""

    def __init__(self):
        self.slices = Informer('endpointslice', None, None, Metrics(), threading.Event())
        self.queue = WorkQueue()
        self._slice_owner = {}
        self._slices_by_service = {}

    def put(self, ns, name, service):
        labels = {'kubernetes.io/service-name': service} if service else {}
        self.slices.store['%s/%s' % (ns, name)] = {'metadata': {'namespace': ns, 'name': name, 'labels': labels}}

    def queued(self):
        out = []
        while True:
            keys = self.queue.get_batch(100, timeout=0.01)
            if not keys:
                return sorted(out)
            out.extend(keys)
            for key in keys:
                self.queue.done(key)


def names(objs):
    return sorted(o['metadata']['name'] for o in objs)


def test_slices_are_found_by_service_and_follow_relabels_and_deletions():
    s = Slices()
    s.put('ns1', 'a-1', 'a')
    s.put('ns1', 'a-2', 'a')
    s.put('ns1', 'b-1', 'b')
    s.put('ns2', 'a-1', 'a')                   # same service name, other namespace
    s._remember_slice_owners()
    assert names(s._slices_of('ns1', 'a')) == ['a-1', 'a-2']
    assert names(s._slices_of('ns1', 'b')) == ['b-1']
    assert names(s._slices_of('ns2', 'a')) == ['a-1']
    assert s._slices_of('ns1', 'c') == []

    s.put('ns1', 'a-2', 'b')                   # moved to another service: both hear of it
    s._service_slices_changed(['ns1/a-2'])
    assert names(s._slices_of('ns1', 'a')) == ['a-1']
    assert names(s._slices_of('ns1', 'b')) == ['a-2', 'b-1']
    assert s.queued() == [('service', 'ns1/a'), ('service', 'ns1/b')]

    del s.slices.store['ns1/b-1']              # deleted: its service is told, by the owner kept
    s._service_slices_changed(['ns1/b-1'])
    assert names(s._slices_of('ns1', 'b')) == ['a-2']
    assert s.queued() == [('service', 'ns1/b')]

    s.put('ns1', 'a-1', None)                  # its label removed: gone from the index
    s._service_slices_changed(['ns1/a-1'])
    assert s._slices_of('ns1', 'a') == []
    assert s.queued() == [('service', 'ns1/a')]
    assert 'ns1/a' not in s._slices_by_service
