# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's pod reconciler: a pod gets a logical switch port on its node's switch, an
address, and the annotation the CNI plugin reads.

Keys ``('pod', 'ns/name')`` come in batches: every key's port is planned into one change set
(each pod's own change set merged into the batch's, its guards and its diff kept) and
committed in one transaction under ``nb_lock``; an address is chosen from what the IDL copy
holds plus what the batch reserved, and committed before the lock is released, so no two pods
ever get one address. When the batch fails, its keys are planned again one at a time, so that
one bad pod never holds the others back. The annotation writes that follow run outside the
lock, on the context's pool of API writers (a batch's PATCHes are in flight together), and the
batch's keys stay in flight until their writes are done, so events for one pod keep their
order.

A new port joins its namespace's isolating port groups in the transaction that creates it:
the policy reconciler, given to this one's constructor, names them.

The stale sweep names the pod ports the watcher made whose pod is gone.
"""

from __future__ import absolute_import, division, print_function

import calendar
import ipaddress
import logging
import time

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _compat, _ipam, _names, _nb, _nb_acl, _ovsdb, _owners, _txn
from kubernetes.client.exceptions import ApiException
from ovn_k8s_agents import annotation

from ovn_k8s_agents.watcher.context import BadInput, NotYet

LOG = logging.getLogger('ovn_k8s_watcher')

# The watcher's pod ports: what its sweeps ask _owners.may_remove about.
POD_SELECTOR = {_names.WATCHER_KEY: _names.WATCHER_POD}


def _sweepable(ids):
    """Whether the watcher may remove a pod port with these external_ids (``_owners``)."""
    return _owners.may_remove(_names.WATCHER, ids, POD_SELECTOR)


class PodPlan(object):
    __slots__ = ('key', 'pod', 'network', 'created')

    def __init__(self, key, pod, network, created):
        self.key, self.pod, self.network, self.created = key, pod, network, created


def _created_at(obj):
    ts = (obj.get('metadata') or {}).get('creationTimestamp')
    if not ts:
        return None
    try:
        return calendar.timegm(time.strptime(ts, '%Y-%m-%dT%H:%M:%SZ'))
    except ValueError:
        return None


def wants_port(pod):
    spec = pod.get('spec') or {}
    phase = (pod.get('status') or {}).get('phase')
    return bool(spec.get('nodeName')) and not spec.get('hostNetwork') and phase not in ('Succeeded', 'Failed')


def _port_ips(row):
    out = []
    for entry in row.addresses:
        for word in str(entry).split()[1:]:
            try:
                out.append(ipaddress.ip_address(word.split('/')[0]))
            except ValueError:
                pass
    return out


_PORT_CACHE = {}


def _cached_port(row):
    """(name, addresses) of a port, remembered while the IDL holds the same ``name`` value and
    the same ``addresses`` strings, so that a batch on a switch of thousands of ports parses
    only the ports that changed: reading a column through the IDL converts it anew each time,
    and doing that for every port of a switch in every batch made a start-up over N pods cost
    N squared. The IDL puts a new value object in place for a changed scalar column but
    changes a set column's value in place, so ``addresses`` is compared by its strings."""
    if len(_PORT_CACHE) > 500000:  # ports that went away leave entries behind: start afresh
        _PORT_CACHE.clear()
    name_datum, addr_datum = _compat.raw_datum(row, 'name'), _compat.raw_datum(row, 'addresses')
    if name_datum is None or addr_datum is None:
        return row.name, _port_ips(row)
    addrs = tuple(atom.value for atom in addr_datum.values)
    hit = _PORT_CACHE.get(row.uuid)
    if hit is not None and hit[0] is name_datum and hit[1] == addrs:
        return hit[2], hit[3]
    name, ips = row.name, _port_ips(row)
    _PORT_CACHE[row.uuid] = (name_datum, addrs, name, ips)
    return name, ips


def _port_in_step(row, address, external_ids, options):
    """Whether pod port ``row`` already holds exactly what ``_nb.ensure_lsp`` would converge it
    to: ``address`` as its only addresses and port_security entry, and ``external_ids`` and
    ``options`` among its own. Read straight from the IDL's data, without the validation and
    the value conversions of a converge: a restart over a cluster in step asks this of every
    pod, and only a port that differs goes the long way (which then says what to change)."""
    wanted = {address}
    if _ovsdb.column_set(row, 'addresses') != wanted or _ovsdb.column_set(row, 'port_security') != wanted:
        return False
    for column, pairs in (('external_ids', external_ids), ('options', options)):
        have = _ovsdb.read(row, column)
        if not all(isinstance(v, str) and have.get(k) == v for k, v in pairs.items()):
            return False
    return True


class _Ports(object):
    """The addresses the ports of one switch hold: {port uuid: (name, addresses)} and, for
    each address, its holders {port uuid: name}; ``used`` names, for each address, the holder
    with the highest UUID (the last one a read of the switch's ports, which come sorted by
    UUID, would see). ``atoms``: the switch's ``ports`` as last compared (the IDL's own atoms,
    whose hashes the sets keep: comparing thousands costs no Python call)."""
    __slots__ = ('ports', 'holders', 'used', 'atoms')

    def __init__(self):
        self.ports, self.holders, self.used, self.atoms = {}, {}, {}, set()

    def add(self, uuid, row):
        name, ips = row.name, _port_ips(row)
        self.ports[uuid] = (name, ips)
        for ip in ips:
            holders = self.holders.setdefault(ip, {})
            holders[uuid] = name
            self.used[ip] = holders[max(holders)]

    def drop(self, uuid):
        if uuid not in self.ports:
            return
        for ip in self.ports.pop(uuid)[1]:
            holders = self.holders[ip]
            holders.pop(uuid, None)
            if holders:
                self.used[ip] = holders[max(holders)]
            else:
                del self.holders[ip], self.used[ip]


class SwitchPorts(object):
    """{address: port name} of each node switch's ports, kept in step with the IDL copy.

    Reading every port of a switch for every batch that allocates (as a batch did before)
    made a cold start over N pods on one node cost N squared, and a steady rate cost the
    switch's size per batch. Here a switch's ports are read once; then each call compares
    the switch's set of ports with the one it holds (ports added or removed) and reads again
    the ports the IDL says changed (``_compat.RowChanges``). The answer is what reading every
    port would give."""

    TABLE = 'Logical_Switch_Port'

    def __init__(self):
        self._client = None
        self._changes = None
        self._switches = {}     # switch uuid -> _Ports

    def used(self, client, switch):
        """{ip_address: port name} of every address the ports of ``switch`` hold (its own
        dict: ``_ipam.SwitchAddresses`` copies it, and nothing may change it)."""
        if client is not self._client:
            if self._changes is not None:
                self._changes.close()
            self._client, self._switches = client, {}
            self._changes = _compat.RowChanges(client.idl, [self.TABLE])
        rows = client.idl.tables[self.TABLE].rows
        changed = self._changes.take(self.TABLE)
        if changed:
            for ports in self._switches.values():
                for uuid in [u for u in changed if u in ports.ports]:
                    ports.drop(uuid)
                    row = rows.get(uuid)
                    if row is not None:
                        ports.add(uuid, row)  # dropped below if it left the switch
            switches = client.idl.tables['Logical_Switch'].rows
            for uuid in [u for u in self._switches if u not in switches]:
                del self._switches[uuid]
        ports = self._switches.get(switch.uuid)
        if ports is None:
            ports = self._switches[switch.uuid] = _Ports()
        datum = _compat.unchanged_datum(switch, 'ports')
        if datum is None:   # a change of this client's pending: read every port
            ports = self._switches[switch.uuid] = _Ports()
            for row in switch.ports:
                ports.add(row.uuid, row)
            return ports.used
        atoms = set(datum.values)
        for atom in ports.atoms - atoms:
            ports.drop(atom.value)
        missing = set()
        for atom in atoms - ports.atoms:
            row = rows.get(atom.value)
            if row is None:
                # The IDL's thread is applying an update (the switch before its new port):
                # compared again next time.
                missing.add(atom)
            else:
                ports.add(atom.value, row)
        ports.atoms = atoms - missing if missing else atoms
        return ports.used


def _switch_addresses(row, cursors, switch_ports, client):
    """The pod addresses of node switch ``row`` as one batch sees them (``_ipam.SwitchAddresses``):
    the addresses its ports hold are read only when first asked for (a batch of pods that are
    all in step never needs them), through ``switch_ports`` (:class:`SwitchPorts`)."""
    return _ipam.SwitchAddresses(row.name, row.other_config['subnet'], row.other_config.get('exclude_ips'),
                                 used=lambda: switch_ports.used(client, row), cursors=cursors)


def port_ips(nb, pod):
    """The addresses (strings) the watcher's logical switch port of ``pod`` holds: what the
    policies' address sets and ACLs use, never what the pod object claims. Under nb_lock."""
    meta = pod.get('metadata') or {}
    row = nb.find_one('Logical_Switch_Port', 'name', _names.pod_port(meta.get('namespace'), meta.get('name')))
    if row is None or _ovsdb.read(row, 'external_ids').get(_names.WATCHER_KEY) != _names.WATCHER_POD:
        return ()
    return tuple(str(ip) for ip in _cached_port(row)[1])


class PodReconciler(object):
    """``policies``: the policy reconciler (``isolating_groups``, ``pod_ports_created``)."""

    def __init__(self, ctx, policies):
        self.ctx = ctx
        self.policies = policies
        # {switch name: (switch row, _ipam.SwitchAddresses)} of the last batch that changed
        # nothing, reused while the IDL copy is the same.
        self._views = (None, {})
        # switch name -> where its next allocation starts (_ipam.SwitchAddresses.allocate), kept
        # across batches: a freed address is the last to be given again.
        self._cursors = {}
        # The addresses each node switch's ports hold, kept in step with the IDL copy.
        self._switch_ports = SwitchPorts()

    def initial_keys(self):
        """Every pod's key, then those of the pod ports whose pod is gone."""
        return [('pod', k) for k in self.ctx.pods.keys()] + self.stale_keys()

    def stale_keys(self):
        ctx = self.ctx
        out = []
        with ctx.nb_lock:
            for row in ctx.nb.rows('Logical_Switch_Port'):
                ids = _ovsdb.read(row, 'external_ids')
                namespace, name = ids.get(_names.POD_NAMESPACE_KEY), ids.get(_names.POD_NAME_KEY)
                if namespace and name and _sweepable(ids):
                    key = '%s/%s' % (namespace, name)
                    if ctx.pods.get(key) is None:
                        out.append(('pod', key))
        return out

    def reconcile_batch(self, keys):
        """Plan every key's port into one transaction; fall back to one key at a time when the
        batch fails, so that one bad pod never holds the others back."""
        ctx = self.ctx
        plans, failed_batch = {}, False
        with ctx.nb_lock:
            try:
                ctx.settle()
            except Exception as e:
                for key in keys:
                    ctx.failed(key, e)
                return
            t0 = time.monotonic()
            seqno = ctx.nb.idl.change_seqno
            views = dict(self._views[1]) if self._views[0] == seqno else {}
            self._views = (None, {})
            batch = _txn.ChangeSet(ctx.nb)
            ok_keys = []
            ns_policies = {}  # namespace -> its policies, indexed by the batch's first new port
            for key in keys:
                sub = _txn.ChangeSet(ctx.nb)
                if ctx.guard(key, self._plan_pod, sub, views, plans, ns_policies, count=False):
                    batch.merge(sub)  # its commands with their guards: each new port's name check
                    ok_keys.append(key)
            ctx.metrics.observe('nb_plan_seconds', time.monotonic() - t0)
            ctx.metrics.observe('batch_pods', len(keys))
            if not batch.changed:
                # Nothing reserved or released in the views: the next batch may start from them.
                self._views = (seqno, views)
            else:
                try:
                    ctx.commit(batch)
                except Exception as e:
                    if len(ok_keys) == 1:
                        ctx.failed(ok_keys[0], e)
                        return
                    failed_batch = True
        if failed_batch:
            LOG.warning('batch transaction failed: one pod at a time', extra=dict(pods=len(ok_keys)))
            for key in ok_keys:
                self.reconcile_batch([key])
            return
        for key in ok_keys:
            ctx.queue.forget(key)
            ctx.metrics.inc('events_total', kind=key[0], result='ok')
        # A new port joins its namespace's policy port groups (a pod annotated before, as after
        # the loss of the database, brings no API event once its port is there).
        self.policies.pod_ports_created(set(k.split('/', 1)[0] for k, plan in plans.items() if plan.created))
        now = time.time()
        for plan in plans.values():
            if plan.created:
                created = _created_at(plan.pod)
                if created is not None:
                    ctx.metrics.observe('pod_port_latency_seconds', now - created)
        # Most pods of a batch (all of them in a restart in step) are annotated already: only
        # the others go to the writers' pool.
        writes = [plan for plan in plans.values() if not self._annotated(plan)]
        if ctx.writers is None or len(writes) < 2:
            for plan in writes:
                self._annotate(plan)
        else:
            for future in [ctx.writers.submit(self._annotate, plan) for plan in writes]:
                future.result()

    def _plan_pod(self, key, cs, views, plans, ns_policies):
        ctx = self.ctx
        namespace, name = key.split('/', 1)
        pod = ctx.pods.get(key)
        port_name = _names.pod_port(namespace, name)
        row = ctx.nb.find_one('Logical_Switch_Port', 'name', port_name)
        if pod is None or not wants_port(pod):
            if row is not None and _sweepable(row.external_ids):
                owner = ctx.nb.holder('Logical_Switch', row)
                _nb.remove_lsp(cs, ctx.nb, port_name, owner.name if owner else None)
                for dummy, addresses in views.values():
                    addresses.release(port_name)
            return
        node = pod['spec']['nodeName']
        switch_name = _names.node_switch(node)
        view = views.get(switch_name)
        if view is None:
            switch = _nb.get_switch(ctx.nb, switch_name)
            if switch is None or not switch.other_config.get('subnet'):
                if ctx.nodes.get(node) is None:
                    raise BadInput('UnknownNode', 'pod %s is bound to node %s, which is not a Node of this '
                                   'cluster' % (key, node))
                raise NotYet('node %s has no logical switch with a subnet yet' % node)
            view = views[switch_name] = (switch, _switch_addresses(switch, self._cursors, self._switch_ports, ctx.nb))
        switch, view = view
        uid = pod['metadata'].get('uid')
        try:
            current = annotation.parse((pod.get('metadata') or {}).get('annotations'), pod=key)
        except annotation.AnnotationError as e:
            raise BadInput('MalformedAnnotation', '%s; the watcher leaves this pod alone until the annotation '
                           'is removed or corrected' % e)
        # Its own node's switch holding the port is the usual case, answered without indexing
        # every switch's ports.
        in_switch = row is not None and ctx.nb.holds(switch, 'ports', row)
        if row is not None and not in_switch:
            owner = ctx.nb.holder('Logical_Switch', row)
            if not _sweepable(row.external_ids):
                raise BadInput('PortConflict', 'pod %s: logical switch port %s exists on %s and was not made '
                               'by the watcher' % (key, port_name, owner.name if owner else '(no switch)'))
            # It moved (a pod of the same name on another node): the old port goes first, and the
            # key comes back once that is committed.
            _nb.remove_lsp(cs, ctx.nb, port_name, owner.name if owner else None)
            ctx.queue.add(('pod', key))
            return
        network = None
        ids = {_names.WATCHER_KEY: _names.WATCHER_POD, _names.POD_NAMESPACE_KEY: namespace, _names.POD_NAME_KEY: name,
               _names.POD_UID_KEY: uid}
        # The port names its node: a stale OVS port of an earlier pod of this name on another
        # node (not yet cleaned up there) can never take the binding over.
        options = {'requested-chassis': node}
        in_step = False
        if current is not None:
            ip = current.interface.ip
            why = view.reserved(ip)
            in_step = in_switch and _port_in_step(row, '%s %s' % (current.mac, current.ip), ids, options)
            # Its own port holding it settles who holds it without reading the whole switch.
            own = in_step or (in_switch and ip in _cached_port(row)[1])
            holder = port_name if own else view.used.get(ip)
            if why is None and current.interface.network != view.subnet:
                why = 'its prefix is not that of %s' % view.subnet
            if why is None and current.gateway != view.gateway:
                why = 'its gateway is not %s' % view.gateway
            derived = _names.mac_from_ip(ip)
            if why is None and current.mac != derived:
                # The watcher derives every MAC from its address: another one was not written by it.
                why = 'its MAC %s is not %s, the one its address gives' % (current.mac, derived)
            if why is None and holder not in (None, port_name):
                why = 'logical switch port %s already has it' % holder
                if self._stale_pod_port(holder):
                    # Its pod is gone and the port goes with the key queued for it: try again
                    # then rather than wait for this pod's next event.
                    raise BadInput('AnnotationConflict', 'pod %s: its annotation gives it %s, which %s; that port\'s '
                                   'pod is gone: retrying once it is removed' % (key, current.cidr, why), retry=True)
            if why:
                raise BadInput('AnnotationConflict', 'pod %s: its annotation gives it %s, which it cannot keep: %s'
                               % (key, current.cidr, why))
            network = current
        elif row is not None:
            ips = [ip for ip in _port_ips(row) if ip in view.subnet and view.reserved(ip) is None]
            if ips:
                network = annotation.PodNetwork('%s/%d' % (ips[0], view.subnet.prefixlen),
                                                _names.mac_from_ip(ips[0]), view.gateway)
        if network is None:
            ip = view.allocate(port_name)
            if ip is None:
                raise BadInput('SubnetExhausted', 'pod %s: the subnet %s of node %s has no free address'
                               % (key, view.subnet, node), retry=True)
            network = annotation.PodNetwork('%s/%d' % (ip, view.subnet.prefixlen), _names.mac_from_ip(ip),
                                            view.gateway)
        # A new port is isolated as it is created: no moment with the port there, its annotation
        # out and its policies not yet applying to it.
        joins = self.policies.isolating_groups(pod, namespace, ns_policies) if row is None else ()
        view.reserve(network.interface.ip, port_name)
        if not in_step:
            address = '%s %s' % (network.mac, network.ip)
            _nb.ensure_lsp(cs, ctx.nb, switch_name, port_name, addresses=[address], port_security=[address],
                           external_ids=ids, options=options)
        for group in joins:
            _nb_acl.add_port_group_ports(cs, ctx.nb, group, [port_name])
        plans[key] = PodPlan(key, pod, network, row is None)

    def _stale_pod_port(self, name):
        """Whether logical switch port ``name`` is a pod port of the watcher's whose pod is gone."""
        ctx = self.ctx
        row = ctx.nb.find_one('Logical_Switch_Port', 'name', name)
        ids = _ovsdb.read(row, 'external_ids') if row is not None else {}
        key = '%s/%s' % (ids.get(_names.POD_NAMESPACE_KEY), ids.get(_names.POD_NAME_KEY))
        return _sweepable(ids) and ctx.pods.get(key) is None

    def _annotated(self, plan):
        """True (and the key forgotten) when the pod already carries the plan's annotation."""
        ctx = self.ctx
        have = (plan.pod.get('metadata') or {}).get('annotations') or {}
        if all(have.get(k) == v for k, v in plan.network.annotations().items()):
            ctx.queue.forget(('pod', plan.key))
            return True
        return False

    def _annotate(self, plan):
        """Write the plan's annotation on its pod (which :meth:`_annotated` found without it)."""
        ctx = self.ctx
        wanted = plan.network.annotations()
        meta = plan.pod.get('metadata') or {}
        t0 = time.monotonic()
        try:
            ctx.fenced()
            # A JSON merge patch of the two keys only; the uid makes it fail on a successor pod
            # of the same name instead of annotating it with this one's address.
            # The answer (the whole pod) is read but not turned into client models: nothing
            # uses it, and that conversion costs more than the request.
            resp = ctx.core.patch_namespaced_pod(meta['name'], meta['namespace'],
                                                 {'metadata': {'uid': meta.get('uid'), 'annotations': wanted}},
                                                 _preload_content=False, **ctx.merge_patch)
            resp.read()
            resp.release_conn()
        except ApiException as e:
            if e.status == 404:
                return  # gone: its DELETED event brings the key back
            ctx.failed(('pod', plan.key), e)
            return
        except Exception as e:
            ctx.failed(('pod', plan.key), e)
            return
        finally:
            ctx.metrics.observe('api_patch_seconds', time.monotonic() - t0)
        ctx.metrics.inc('api_writes_total', kind='annotation')
        created = _created_at(plan.pod)
        if created is not None:
            ctx.metrics.observe('pod_annotation_latency_seconds', time.time() - created)
        LOG.info('pod annotated', extra=dict(kind='pod', object=plan.key, ip=plan.network.cidr,
                                             mac=plan.network.mac))
