# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's in-process pieces that the end-to-end tests reach only in passing: the cycle
collector's handling (watcher/heap.py), the EndpointSlice index by service (watcher/informer.py,
watcher/services.py) and
the Northbound copy's index of names (module_utils/_ovsdb.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import json
import os
import subprocess
import threading

import pytest

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _compat, _nb, _ovsdb, _txn
from ovn_k8s_agents.watcher import heap, services
from ovn_k8s_agents.watcher.context import Context
from ovn_k8s_agents.watcher.informer import Informer
from ovn_k8s_agents.watcher.metrics import Metrics
from ovn_k8s_agents.watcher.tables import nb_tables
from ovn_k8s_agents.watcher.workqueue import WorkQueue
from waiting import wait_for  # tests/lib


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


class Slices(services.ServiceReconciler):
    """The service reconciler's slice bookkeeping over a real informer store, its index and a
    real work queue; objects change through the informer's watch event handling."""

    def __init__(self):
        ctx = Context(None, None, Metrics(), WorkQueue(), threading.Event())
        ctx.add_informer('slices', Informer('endpointslice', None, lambda keys: None, Metrics(), threading.Event(),
                                            indexers={services.SERVICE_INDEX: services.slice_services}))
        services.ServiceReconciler.__init__(self, ctx)
        self.slices, self.queue = ctx.slices, ctx.queue

    def put(self, ns, name, service):
        labels = {'kubernetes.io/service-name': service} if service else {}
        self.slices._event({'type': 'MODIFIED', 'object': {'metadata': {'namespace': ns, 'name': name, 'labels': labels}}})

    def delete(self, ns, name):
        self.slices._event({'type': 'DELETED', 'object': self.slices.get('%s/%s' % (ns, name))})

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
    assert names(s.slices_of('ns1', 'a')) == ['a-1', 'a-2']
    assert names(s.slices_of('ns1', 'b')) == ['b-1']
    assert names(s.slices_of('ns2', 'a')) == ['a-1']
    assert s.slices_of('ns1', 'c') == []

    s.put('ns1', 'a-2', 'b')                   # moved to another service: both hear of it
    s.slices_changed(['ns1/a-2'])
    assert names(s.slices_of('ns1', 'a')) == ['a-1']
    assert names(s.slices_of('ns1', 'b')) == ['a-2', 'b-1']
    assert s.queued() == [('service', 'ns1/a'), ('service', 'ns1/b')]

    s.delete('ns1', 'b-1')                     # deleted: its service is told, by the owner kept
    s.slices_changed(['ns1/b-1'])
    assert names(s.slices_of('ns1', 'b')) == ['a-2']
    assert s.queued() == [('service', 'ns1/b')]

    s.put('ns1', 'a-1', None)                  # its label removed: gone from the index
    s.slices_changed(['ns1/a-1'])
    assert s.slices_of('ns1', 'a') == []
    assert s.queued() == [('service', 'ns1/a')]
    assert 'ns1/a' not in s.slices.indices[services.SERVICE_INDEX]


def test_the_index_of_names_finds_every_port_as_rows_come_and_go(nb):
    nb.ctl('ls-add', 'sw')
    names = ['p%03d' % i for i in range(0, 60, 3)] + ['Z', 'a', 'p-1', 'p_1']
    for name in names:
        nb.ctl('lsp-add', 'sw', name)
    client = _ovsdb.Client(_ovsdb.NB_DB, remote=nb.remote, tables=nb_tables())
    try:
        index = client.idl.tables['Logical_Switch_Port'].rows.indexes['name']
        assert isinstance(index, _compat.ValueIndex), 'a scalar string column: compared by value'
        assert [e.name for e in index.values] == sorted(names)
        assert not isinstance(client.idl.tables['Load_Balancer'].rows.indexes.get('name'), _compat.ValueIndex)

        def found(name):
            return [r.name for r in client._idl_lookup('Logical_Switch_Port', 'name', name)]
        for name in names:
            assert found(name) == [name]
        assert found('p001') == [] and found('') == [] and found('zz') == []
        # Another client adds and removes ports; a commit of the watcher's own adds one too.
        nb.ctl('lsp-add', 'sw', 'p001', '--', 'lsp-del', 'p003')
        wait_for('the copy to follow', lambda: found('p001') == ['p001'] and found('p003') == [])
        cs = _txn.ChangeSet(client)
        _nb.ensure_lsp(cs, client, 'sw', 'p002', addresses=['0a:58:0a:80:00:02 10.128.0.2'])
        cs.commit()
        wait_for('the commit in the copy', lambda: found('p002') == ['p002'])
        assert client.find_one('Logical_Switch_Port', 'name', 'p002').addresses == ['0a:58:0a:80:00:02 10.128.0.2']
        live = sorted(set(names + ['p001', 'p002']) - {'p003'})
        assert [e.name for e in index.values] == live
        for name in live:
            assert found(name) == [name]
    finally:
        client.close()


def test_the_switch_ports_view_follows_every_change_as_a_full_read_would(nb):
    """watcher/pods.py SwitchPorts: each switch's {address: port} read once, then kept in step
    through the IDL's changed rows and the switch's set of ports. After each change, made by
    another client or committed by the view's own client, it answers what reading every port
    of the switch answers, and a second client (a new leadership term) starts afresh."""
    from ovn_k8s_agents.watcher import pods

    def mac(i):
        return '0a:58:0a:80:00:%02x' % i
    nb.ctl('ls-add', 'sw1', '--', 'ls-add', 'sw2')
    for i in range(2, 12):
        nb.ctl('lsp-add', 'sw1', 'a%d' % i, '--', 'lsp-set-addresses', 'a%d' % i, '%s 10.128.0.%d' % (mac(i), i))
    nb.ctl('lsp-add', 'sw2', 'b2', '--', 'lsp-set-addresses', 'b2', '%s 10.128.1.2' % mac(2))
    client = _ovsdb.Client(_ovsdb.NB_DB, remote=nb.remote, tables=nb_tables())
    view = pods.SwitchPorts()

    def full(switch):
        out = {}
        for port in client.find_one('Logical_Switch', 'name', switch).ports:   # sorted by UUID
            for ip in pods._port_ips(port):
                out[ip] = port.name
        return out

    def check(what):
        for switch in ('sw1', 'sw2'):
            row = client.find_one('Logical_Switch', 'name', switch)
            assert view.used(client, row) == full(switch), '%s: %s' % (what, switch)

    def after(what, *args):
        before = client.idl.change_seqno
        nb.ctl(*args)
        wait_for(what, lambda: client.idl.change_seqno != before)
        check(what)
    try:
        check('first read')
        assert len(view.used(client, client.find_one('Logical_Switch', 'name', 'sw1'))) == 10
        after('a port added', 'lsp-add', 'sw1', 'a12', '--', 'lsp-set-addresses', 'a12', '%s 10.128.0.12' % mac(12))
        after('a port removed', 'lsp-del', 'a3')
        after('addresses changed in place', 'lsp-set-addresses', 'a4', '%s 10.128.0.40' % mac(40))
        after('a port renamed', 'set', 'Logical_Switch_Port', 'a5', 'name=a5-renamed')
        # ovn-nbctl refuses a duplicate through lsp-set-addresses; another client may still write one.
        after('an address held twice', 'set', 'Logical_Switch_Port', 'a6', 'addresses="%s 10.128.0.7"' % mac(7))
        after('one of the two let go', 'lsp-set-addresses', 'a7', '%s 10.128.0.70' % mac(70))
        after('a port moved to another switch', 'lsp-del', 'a8', '--', 'lsp-add', 'sw2', 'a8', '--',
              'lsp-set-addresses', 'a8', '%s 10.128.0.8' % mac(8))
        after('a switch removed with its ports', 'ls-del', 'sw2', '--', 'ls-add', 'sw2')
        cs = _txn.ChangeSet(client)
        _nb.ensure_lsp(cs, client, 'sw1', 'a20', addresses=['%s 10.128.0.20' % mac(20)])
        cs.commit()
        wait_for('the commit in the copy', lambda: client.find_one('Logical_Switch_Port', 'name', 'a20') is not None)
        check('its own commit')
        assert full('sw1')[__import__('ipaddress').ip_address('10.128.0.20')] == 'a20'
    finally:
        client.close()
    # A new client: the view reads its switches again from that client's copy.
    other = _ovsdb.Client(_ovsdb.NB_DB, remote=nb.remote, tables=nb_tables())
    try:
        client = other
        check('a new client')
    finally:
        other.close()


def test_a_row_renamed_by_another_client_moves_in_the_index_of_names(nb):
    """ovs's IDL moves a row in its index only when this client renames it; _compat moves the
    rows other clients rename, so that a look-up by the new name finds the row (and by the old
    one does not) without a scan of the table. (Nothing in the collection renames a row.)"""
    nb.ctl('ls-add', 'sw')
    for name in ('a', 'b', 'c'):
        nb.ctl('lsp-add', 'sw', name)
    client = _ovsdb.Client(_ovsdb.NB_DB, remote=nb.remote, tables=nb_tables())
    try:
        index = client.idl.tables['Logical_Switch_Port'].rows.indexes['name']

        def found(name):
            return [r.name for r in client._idl_lookup('Logical_Switch_Port', 'name', name)]
        nb.ctl('set', 'Logical_Switch_Port', 'b', 'name=renamed')
        wait_for('the rename in the copy', lambda: found('renamed') == ['renamed'])
        assert found('b') == []
        assert [e.name for e in index.values] == ['a', 'c', 'renamed']
        # A swap of two names by another client in one transaction.
        a, c = [client._idl_lookup('Logical_Switch_Port', 'name', name)[0].uuid for name in ('a', 'c')]
        nb.ctl('set', 'Logical_Switch_Port', 'a', 'name=tmp', '--', 'set', 'Logical_Switch_Port', 'c', 'name=a',
               '--', 'set', 'Logical_Switch_Port', 'tmp', 'name=c')
        wait_for('the swap in the copy', lambda: [r.uuid for r in client._idl_lookup('Logical_Switch_Port', 'name', 'a')] == [c])
        assert [r.uuid for r in client._idl_lookup('Logical_Switch_Port', 'name', 'c')] == [a]
        assert [e.name for e in index.values] == ['a', 'c', 'renamed']
    finally:
        client.close()
    # The virtualenv's ovs 4.0 moves such a row itself; Debian's 3.1 (the watcher's, under the
    # system Python) does not, and there only _compat's hook moves it.
    system = '/usr/bin/python3'
    probe = subprocess.run([system, '-c', 'import ovs.db.idl, ovsdbapp'], capture_output=True, check=False)
    if probe.returncode:
        pytest.skip('no ovs/ovsdbapp under %s: %s' % (system, probe.stderr.decode()[-200:]))
    nb.ctl('set', 'Logical_Switch_Port', 'renamed', 'name=b')
    program = '''
import json, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _ovsdb
from ovn_k8s_agents.watcher.tables import nb_tables
import ovs.version
client = _ovsdb.Client(_ovsdb.NB_DB, remote=sys.argv[3], tables=nb_tables())
rows = client.idl.tables['Logical_Switch_Port'].rows
found = lambda name: [r.name for r in client._idl_lookup('Logical_Switch_Port', 'name', name)]
import subprocess
subprocess.check_call(['ovn-nbctl', '--db=' + sys.argv[3], 'set', 'Logical_Switch_Port', 'b', 'name=again'])
deadline = time.time() + 10
while found('again') != ['again'] and time.time() < deadline:
    time.sleep(0.05)
print(json.dumps([ovs.version.VERSION, found('again'), found('b'), sorted(e.name for e in rows.indexes['name'].values)]))
client.close()
'''
    from checkout import REPO, collection_root
    out = subprocess.run([system, '-c', program, collection_root(), os.path.join(REPO, 'agents'), nb.remote],
                         capture_output=True, universal_newlines=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    version, again, old, names = json.loads(out.stdout.strip().splitlines()[-1])
    assert (again, old, names) == (['again'], [], ['a', 'again', 'c']), version
