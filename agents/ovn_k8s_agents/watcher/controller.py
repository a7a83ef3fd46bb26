# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's controllers: Nodes get their network, pods get a port, an address and the
annotation the CNI plugin reads.

Level-driven: a key (``('pod', 'ns/name')`` or ``('node', name)``) only says which object to
look at; the handler reads the object's current state from the informer's store and the
Northbound rows from the long-lived IDL copy, computes what OVN should hold for it, and
converges through the collection's ``_nb`` operations. Nothing that is already right is
written, so a reconcile of a cluster in step makes no Northbound and no API write.

Every Northbound change is planned and committed under one lock (``nb_lock``): an address is
chosen from what the IDL copy holds plus what the current batch reserved, and committed before
the lock is released, so no two pods ever get one address. Workers drain up to ``batch`` ready
pod keys and commit their ports in one transaction; the annotation writes that follow run
outside the lock, on a pool of API writers shared by the workers (a batch's PATCHes are in
flight together), and the batch's keys stay in flight until their writes are done, so events
for one pod keep their order.
"""

from __future__ import absolute_import, division, print_function

import calendar
import collections
import inspect
import ipaddress
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _alloc, _names, _nb, _nb_acl, _ovsdb
from kubernetes.client.exceptions import ApiException
from ovn_k8s_agents import annotation, policy

from ovn_k8s_agents.watcher import heap, lb, netpol
from ovn_k8s_agents.watcher.informer import Informer
from ovn_k8s_agents.watcher.workqueue import WorkQueue

LOG = logging.getLogger('ovn_k8s_watcher')

# external_ids of what the watcher made: the marker key and its value says which kind.
MARKER = 'ovn-k8s-watcher'
POD_IDS = ('namespace', 'pod', 'pod-uid')
COMPONENT = 'ovn-k8s-watcher'
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
    data = getattr(row, '_data', None) or {}
    name_datum, addr_datum = data.get('name'), data.get('addresses')
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


def _excluded(text):
    out = set()
    ranges = []
    for item in (text or '').split():
        if '..' in item:
            lo, hi = item.split('..', 1)
            ranges.append((ipaddress.ip_address(lo), ipaddress.ip_address(hi)))
        else:
            out.add(ipaddress.ip_address(item))
    return out, ranges


class SwitchView(object):
    """A node switch as one batch sees it: subnet, fixed addresses and every address in use.

    The addresses in use are read from the switch's ports only when first asked for (a batch
    of pods that are all in step never needs them); what the batch reserves before that is
    kept aside and laid over them."""

    def __init__(self, row, cursors=None):
        self.row = row
        self.name = row.name
        self.subnet = ipaddress.ip_network(row.other_config['subnet'])
        addrs = _nb.node_addresses(str(self.subnet))
        self.gateway = ipaddress.ip_address(addrs['router_ip'])
        self.mgmt = ipaddress.ip_address(addrs['mgmt_ip'])
        self.excluded, self.ranges = _excluded(row.other_config.get('exclude_ips'))
        self._used = None
        self._pending = {}
        # Where the next allocation looks first, per switch, kept by the controller across
        # batches: after the last address handed out, so that a freed address is the last to
        # be given again (a new pod would inherit what still names the old one's address, in
        # policies and load balancers, until those catch up), as the API server's service IP
        # allocator does.
        self.cursors = {} if cursors is None else cursors

    @property
    def used(self):
        """{address: port name} of every address on the switch plus those the batch reserved."""
        if self._used is None:
            used = {}
            for port in self.row.ports:
                name, ips = _cached_port(port)
                for ip in ips:
                    used[ip] = name
            used.update(self._pending)
            self._used, self._pending = used, {}
        return self._used

    def reserve(self, ip, port):
        (self._pending if self._used is None else self._used)[ip] = port

    def release(self, port):
        """Forget the addresses the batch gave ``port`` (those on the switch stay in use until
        the removal is committed: never handed out twice within one batch)."""
        self._pending = dict((ip, p) for ip, p in self._pending.items() if p != port)
        if self._used is not None:
            self._used = dict((ip, p) for ip, p in self._used.items() if p != port)

    def reserved(self, ip):
        """Why ``ip`` can never be a pod's, or None."""
        if ip not in self.subnet or ip in (self.subnet.network_address, self.subnet.broadcast_address):
            return 'it is outside the usable range of %s' % self.subnet
        if ip == self.gateway:
            return 'it is the router address of %s' % self.subnet
        if ip == self.mgmt:
            return 'it is the management address of %s' % self.subnet
        if ip in self.excluded or any(lo <= ip <= hi for lo, hi in self.ranges):
            return 'it is in exclude_ips of logical switch %s' % self.name
        return None

    def allocate(self, port):
        """The next free address after the last one handed out on this switch (after the
        highest in use when none was, as after a restart), wrapping around; None when full."""
        first, last = int(self.subnet.network_address) + 1, int(self.subnet.broadcast_address) - 1
        start = self.cursors.get(self.name)
        if start is None or not first <= start <= last:
            taken = [int(ip) for ip in self.used if ip in self.subnet]
            start = max(taken) + 1 if taken else first
        for offset in range(last - first + 1):
            candidate = first + (start - first + offset) % (last - first + 1)
            ip = ipaddress.ip_address(candidate)
            if ip not in self.used and self.reserved(ip) is None:
                self.used[ip] = port
                self.cursors[self.name] = candidate + 1
                return ip
        return None


class Controller(lb.ServiceHandler, netpol.PolicyHandler):
    """One leadership term: informers, a work queue and workers over one NB client."""

    def __init__(self, api_client, nb, metrics, cluster_subnet, host_prefix,
                 cluster_router='ovn_cluster_router', workers=4, batch=64, watch_timeout=300,
                 nb_lock=None, resync_period=60, api_workers=16, fence=None):
        from kubernetes import client
        self.core = client.CoreV1Api(api_client)
        # A dict body is sent as a strategic merge patch by older clients (Debian's 22.6) and
        # must be named a JSON merge patch by newer ones, which would pick a JSON patch.
        self.merge_patch = {}
        if '_content_type' in inspect.signature(self.core.patch_namespaced_pod).parameters:
            self.merge_patch = {'_content_type': 'application/merge-patch+json'}
        self.nb = nb
        self.metrics = metrics
        # True while this term may write (LeaderElector.still_leading); None: always.
        self.fence = fence
        self.cluster_subnet = cluster_subnet
        self.host_prefix = int(host_prefix)
        self.cluster_router = cluster_router
        self.n_workers = int(workers)
        self.batch = int(batch)
        self.n_api_workers = int(api_workers)
        self.writers = None
        # Switch views of the last batch that changed nothing, reused while the IDL copy is the same.
        self._views = (None, {})
        self._cursors = {}  # switch name -> where its next allocation starts: SwitchView.allocate
        self._switches = (None, [])  # (change_seqno, _alloc.existing_switches): _existing_switches
        self.nb_lock = nb_lock or threading.Lock()
        self.unsettled = False      # a commit timed out: it may still land
        self.stop_event = threading.Event()
        self.queue = WorkQueue()
        self.busy_since = {}        # worker name -> monotonic time it took its current batch
        # (uid, reason, message) of the Events recorded, oldest first, at most REPORTED_MAX: a
        # cluster that churns through bad objects must not grow it for ever.
        self.reported = collections.OrderedDict()
        self.ready = threading.Event()
        self.nodes = Informer('node', self.core.list_node, self._changed('node'), metrics,
                              self.stop_event, watch_timeout)
        self.pods = Informer('pod', self.core.list_pod_for_all_namespaces, self._pods_changed,
                             metrics, self.stop_event, watch_timeout)
        # Services and network policies (watcher/lb.py, watcher/netpol.py).
        self.resync_period = float(resync_period)
        self._gateways_seen = None
        self._slice_owner = {}
        self._slices_by_service = {}  # 'ns/service' -> (EndpointSlice keys,): lb._index_slice
        self._policy_ns_in_nb = set()
        self._pod_info_cache = {}     # pod key -> (pod object, port addresses, policy.PodInfo or None): netpol._pod_infos
        self._pod_policy_facts = None  # pod key -> netpol.policy_facts as last seen (the pod informer's thread)
        self.services = Informer('service', self.core.list_service_for_all_namespaces, self._changed('service'),
                                 metrics, self.stop_event, watch_timeout)
        self.slices = Informer('endpointslice', client.DiscoveryV1Api(api_client).list_endpoint_slice_for_all_namespaces,
                               self._service_slices_changed, metrics, self.stop_event, watch_timeout)
        self.policies = Informer('networkpolicy',
                                 client.NetworkingV1Api(api_client).list_network_policy_for_all_namespaces,
                                 self._policies_changed, metrics, self.stop_event, watch_timeout)
        self.namespaces = Informer('namespace', self.core.list_namespace, self._namespaces_changed,
                                   metrics, self.stop_event, watch_timeout)
        self.informers = [self.nodes, self.pods, self.services, self.slices, self.policies, self.namespaces]
        self.threads = []
        self._heap_lock = threading.Lock()
        self._t0 = None                  # when list_all began
        self._heap_loading = False

    def _changed(self, kind):
        return lambda keys: self.queue.add_many([(kind, k) for k in keys])

    def _pods_changed(self, keys):
        self.queue.add_many([('pod', k) for k in keys])
        if self.policies.synced.is_set():
            self._pods_changed_for_policies(keys)

    # Life ----------------------------------------------------------------------------------
    def list_all(self):
        """The start-up lists of every kind (no Northbound access: the watcher runs them while
        its Northbound copy loads). The watches resume from these lists' resourceVersions."""
        self._t0 = time.monotonic()
        heap.loading()  # until reconciled: see watcher/heap.py
        self._heap_loading = True
        # All kinds at once: the API server prepares the small lists while the pods' is read.
        with ThreadPoolExecutor(len(self.informers), thread_name_prefix='list') as pool:
            for done in [pool.submit(informer.relist) for informer in self.informers]:
                done.result()
        for informer in self.informers:
            informer.synced.set()

    def start(self):
        """List every kind (unless :meth:`list_all` did), queue every key and every stale row,
        start workers and watches. ``self.nb`` must be connected by now."""
        if self._t0 is None:
            self.list_all()
        t0 = self._t0
        keys = [('node', k) for k in self.nodes.keys()] + self._stale_nodes()
        keys += [('pod', k) for k in self.pods.keys()] + self._stale_pods()
        keys += [('gateways', ''), ('mgmt', '')]
        self._remember_slice_owners()
        keys += [('service', k) for k in self.services.keys()] + self._stale_services()
        keys += [('netpol', ns) for ns in sorted(set(k.split('/', 1)[0] for k in self.policies.keys()))]
        keys += self._stale_policy_namespaces()
        self.queue.add_many(keys)
        if self.n_api_workers > 1:
            self.writers = ThreadPoolExecutor(self.n_api_workers, thread_name_prefix='api-writer')
        for i in range(self.n_workers):
            t = threading.Thread(target=self._work, name='worker-%d' % i, daemon=True)
            t.start()
            self.threads.append(t)
        for informer in self.informers:
            informer.start()
        if self.resync_period > 0:
            threading.Thread(target=self._resync, name='resync', daemon=True).start()
        threading.Thread(target=self._wait_reconciled, args=(t0,), name='reconcile', daemon=True).start()

    def _wait_reconciled(self, t0):
        while not self.stop_event.is_set():
            if self.queue.idle():
                took = time.monotonic() - t0
                self._heap_settled()
                self.metrics.observe('reconcile_duration_seconds', took)
                LOG.info('reconciled', extra=dict(seconds=round(took, 3), pods=len(self.pods.keys()),
                                                  nodes=len(self.nodes.keys())))
                self.ready.set()
                return
            time.sleep(0.02)

    def _heap_settled(self):
        with self._heap_lock:
            if self._heap_loading:
                self._heap_loading = False
                heap.settled()

    def _resync(self):
        """Gateway routers are made by a role, not announced by the API: look again now and then."""
        while not self.stop_event.wait(self.resync_period):
            self.queue.add(('gateways', ''))
            if not self._heap_loading:
                heap.refreeze()

    def stop(self):
        self.stop_event.set()
        self._heap_settled()
        self.queue.shutdown()
        for informer in self.informers:
            informer.stop()
        for t in self.threads:
            t.join(timeout=30)
        if self.writers is not None:
            self.writers.shutdown(wait=True)

    def _stale_nodes(self):
        with self.nb_lock:
            out = []
            for row in self.nb.rows('Logical_Switch'):
                ids = _ovsdb.read(row, 'external_ids')
                node = ids.get(_alloc.NODE_KEY) or row.name
                if ids.get(MARKER) == 'node' and self.nodes.get(node) is None:
                    out.append(('node', node))
            return out

    def _stale_pods(self):
        out = []
        with self.nb_lock:
            for row in self.nb.rows('Logical_Switch_Port'):
                ids = _ovsdb.read(row, 'external_ids')
                if ids.get(MARKER) == 'pod' and ids.get('namespace') and ids.get('pod'):
                    key = '%s/%s' % (ids['namespace'], ids['pod'])
                    if self.pods.get(key) is None:
                        out.append(('pod', key))
        return out

    # Workers -------------------------------------------------------------------------------
    def wedged(self, limit):
        """Why the workers cannot be trusted to make progress (for /healthz), or None: a worker
        thread died, or one has been on its batch for more than ``limit`` seconds."""
        if self.stop_event.is_set():
            return None
        dead = [t.name for t in self.threads if not t.is_alive()]
        if dead:
            return 'worker threads ended: %s' % ', '.join(dead)
        now = time.monotonic()
        stuck = sorted(name for name, since in list(self.busy_since.items()) if now - since > limit)
        if stuck:
            return '%s on one batch for more than %ss' % (', '.join(stuck), limit)
        return None

    def _work(self):
        me = threading.current_thread().name
        while not self.stop_event.is_set():
            waits = []
            keys = self.queue.get_batch(self.batch, timeout=0.5, waits=waits)
            if not keys:
                continue
            self.busy_since[me] = time.monotonic()
            for key, wait in zip(keys, waits):
                if key[0] == 'pod':
                    self.metrics.observe('queue_wait_seconds', wait)
            try:
                pods = []
                for key in keys:
                    handler = self._handlers.get(key[0])
                    if handler is not None:
                        self._guard(key, getattr(self, handler))
                    else:
                        pods.append(key)
                if pods:
                    self._sync_pods(pods)
            except Exception:  # a bug: keep the worker alive and the keys coming back
                LOG.exception('worker error', extra=dict(keys=len(keys)))
                for key in keys:
                    self.queue.retry(key)
            finally:
                self.busy_since.pop(me, None)
                for key in keys:
                    self.queue.done(key)

    _handlers = {'node': '_sync_node', 'service': '_sync_service', 'gateways': '_sync_gateways',
                 'netpol': '_sync_policies', 'mgmt': '_sync_mgmt'}

    def _guard(self, key, func, *args, **kw):
        """Run one key's handler; on failure retry it with backoff and report bad input."""
        try:
            func(key[1], *args)
        except BadInput as e:
            self._bad_input(key, e)
            return False
        except NotYet as e:
            delay = self.queue.retry(key)
            self.metrics.inc('events_total', kind=key[0], result='waiting')
            LOG.info('waiting', extra=dict(kind=key[0], object=key[1], reason=str(e), retry_in=round(delay, 2)))
            return False
        except Exception as e:
            delay = self.queue.retry(key)
            self.metrics.inc('events_total', kind=key[0], result='failed')
            LOG.warning('failed', extra=dict(kind=key[0], object=key[1], reason=_text(e), retry_in=round(delay, 2)))
            if key[0] == 'pod' and isinstance(e, _ovsdb.TransactionFailed):
                self._event(key[1], 'NorthboundRefused', _refused(key[1], e))
            return False
        if kw.get('count', True):
            self.queue.forget(key)
            self.metrics.inc('events_total', kind=key[0], result='ok')
        return True

    def _bad_input(self, key, e):
        self.metrics.inc('events_total', kind=key[0], result='invalid')
        LOG.warning('bad input', extra=dict(kind=key[0], object=key[1], reason=e.reason, detail=str(e)))
        if key[0] == 'pod':
            self._event(key[1], e.reason, str(e))
        if e.retry:
            self.queue.retry(key)
        else:
            self.queue.forget(key)

    # Nodes ---------------------------------------------------------------------------------
    def _settle(self):
        """Under nb_lock, before planning: make sure no earlier commit can still land unseen."""
        if self.unsettled:
            self.nb.settle()
            self.unsettled = False

    def _fenced(self):
        if self.fence is not None and not self.fence():
            raise NotLeading('the lease was not renewed within the renew deadline: not writing')

    def _commit(self, cs):
        self._fenced()
        t0 = time.monotonic()
        try:
            cs.commit()
        except _ovsdb.OvsdbConnectionError:
            self.unsettled = True
            raise
        finally:
            self.metrics.observe('nb_commit_seconds', time.monotonic() - t0)
        self.metrics.inc('nb_transactions_total')

    def _existing_switches(self):
        """``_alloc.existing_switches`` of the IDL copy, read again only when the copy changed
        (under nb_lock): a restart in step asks it for every node, and each answer reads every
        node switch."""
        seqno = self.nb.idl.change_seqno
        if self._switches[0] != seqno:
            self._switches = (seqno, _alloc.existing_switches(self.nb))
        return self._switches[1]

    def _sync_node(self, name):
        node = self.nodes.get(name)
        with self.nb_lock:
            self._settle()
            cs = _ovsdb.ChangeSet(self.nb)
            switch = _nb.get_switch(self.nb, _names.node_switch(name))
            if node is None:
                if switch is None:
                    return
                # Its pods' ports first, then the node's own network.
                for port in list(switch.ports):
                    if port.external_ids.get(MARKER) == 'pod':
                        _nb.remove_lsp(cs, self.nb, port.name, switch.name)
                _nb.remove_node_network(cs, self.nb, name, cluster_router=self.cluster_router)
            else:
                problem = _names.node_name_problem(name) if hasattr(_names, 'node_name_problem') else None
                if problem:
                    raise BadInput('InvalidNodeName', 'node %s: %s' % (name, problem))
                try:
                    subnet = _alloc.allocate(self.cluster_subnet, self.host_prefix, [{'name': name, 'subnet': None}],
                                             self._existing_switches())[0]['subnet']
                except (_ovsdb.InvalidInput, _ovsdb.Conflict) as e:
                    raise BadInput('NodeSubnet', 'node %s: %s' % (name, e), retry=True)
                _nb.ensure_node_network(cs, self.nb, name, subnet, cluster_router=self.cluster_router,
                                        external_ids={MARKER: 'node', _alloc.NODE_KEY: name})
            if cs.changed:
                self._commit(cs)
                LOG.info('node network removed' if node is None else 'node network converged',
                         extra=dict(kind='node', object=name, changes=sorted(cs.after)))
        if cs.changed:
            # The load balancer group on its switch, its management address in the policies' set.
            self.queue.add_many([('gateways', ''), ('mgmt', '')])
        if node is not None and cs.changed:
            # Pods that waited for this switch.
            self.queue.add_many([('pod', k) for k, p in self.pods.items()
                                 if (p.get('spec') or {}).get('nodeName') == name])

    # Pods ----------------------------------------------------------------------------------
    def _sync_pods(self, keys):
        """Plan every key's port into one transaction; fall back to one key at a time when the
        batch fails, so that one bad pod never holds the others back."""
        plans, failed_batch = {}, False
        with self.nb_lock:
            try:
                self._settle()
            except Exception as e:
                for key in keys:
                    self._failed(key, e)
                return
            t0 = time.monotonic()
            seqno = self.nb.idl.change_seqno
            views = dict(self._views[1]) if self._views[0] == seqno else {}
            self._views = (None, {})
            batch = _ovsdb.ChangeSet(self.nb)
            ok_keys = []
            ns_policies = {}  # namespace -> its policies, indexed by the batch's first new port
            for key in keys:
                sub = _ovsdb.ChangeSet(self.nb)
                if self._guard(key, self._plan_pod, sub, views, plans, ns_policies, count=False):
                    batch.merge(sub)
                    ok_keys.append(key)
            self.metrics.observe('nb_plan_seconds', time.monotonic() - t0)
            self.metrics.observe('batch_pods', len(keys))
            if not batch.commands:
                # Nothing reserved or released in the views: the next batch may start from them.
                self._views = (seqno, views)
            else:
                try:
                    self._commit(batch)
                except Exception as e:
                    if len(ok_keys) == 1:
                        self._failed(ok_keys[0], e)
                        return
                    failed_batch = True
        if failed_batch:
            LOG.warning('batch transaction failed: one pod at a time', extra=dict(pods=len(ok_keys)))
            for key in ok_keys:
                self._sync_pods([key])
            return
        for key in ok_keys:
            self.queue.forget(key)
            self.metrics.inc('events_total', kind=key[0], result='ok')
        # A new port joins its namespace's policy port groups (a pod annotated before, as after
        # the loss of the database, brings no API event once its port is there).
        self._pod_ports_created(set(k.split('/', 1)[0] for k, plan in plans.items() if plan.created))
        now = time.time()
        for plan in plans.values():
            if plan.created:
                created = _created_at(plan.pod)
                if created is not None:
                    self.metrics.observe('pod_port_latency_seconds', now - created)
        # Most pods of a batch (all of them in a restart in step) are annotated already: only
        # the others go to the writers' pool.
        writes = [plan for plan in plans.values() if not self._annotated(plan)]
        if self.writers is None or len(writes) < 2:
            for plan in writes:
                self._annotate(plan)
        else:
            for future in [self.writers.submit(self._annotate, plan) for plan in writes]:
                future.result()

    def _failed(self, key, e):
        delay = self.queue.retry(key)
        self.metrics.inc('events_total', kind=key[0], result='failed')
        LOG.warning('failed', extra=dict(kind=key[0], object=key[1], reason=_text(e), retry_in=round(delay, 2)))
        if key[0] == 'pod' and isinstance(e, _ovsdb.TransactionFailed):
            self._event(key[1], 'NorthboundRefused', _refused(key[1], e))

    def _plan_pod(self, key, cs, views, plans, ns_policies):
        namespace, name = key.split('/', 1)
        pod = self.pods.get(key)
        port_name = _names.pod_port(namespace, name)
        row = self.nb.find_one('Logical_Switch_Port', 'name', port_name)
        if pod is None or not wants_port(pod):
            if row is not None and row.external_ids.get(MARKER) == 'pod':
                owner = self.nb.holder('Logical_Switch', row)
                _nb.remove_lsp(cs, self.nb, port_name, owner.name if owner else None)
                for view in views.values():
                    view.release(port_name)
            return
        node = pod['spec']['nodeName']
        switch_name = _names.node_switch(node)
        view = views.get(switch_name)
        if view is None:
            switch = _nb.get_switch(self.nb, switch_name)
            if switch is None or not switch.other_config.get('subnet'):
                if self.nodes.get(node) is None:
                    raise BadInput('UnknownNode', 'pod %s is bound to node %s, which is not a Node of this '
                                   'cluster' % (key, node))
                raise NotYet('node %s has no logical switch with a subnet yet' % node)
            view = views[switch_name] = SwitchView(switch, self._cursors)
        uid = pod['metadata'].get('uid')
        try:
            current = annotation.parse((pod.get('metadata') or {}).get('annotations'), pod=key)
        except annotation.AnnotationError as e:
            raise BadInput('MalformedAnnotation', '%s; the watcher leaves this pod alone until the annotation '
                           'is removed or corrected' % e)
        # Its own node's switch holding the port is the usual case, answered without indexing
        # every switch's ports.
        in_switch = row is not None and self.nb.holds(view.row, 'ports', row)
        if row is not None and not in_switch:
            owner = self.nb.holder('Logical_Switch', row)
            if row.external_ids.get(MARKER) != 'pod':
                raise BadInput('PortConflict', 'pod %s: logical switch port %s exists on %s and was not made '
                               'by the watcher' % (key, port_name, owner.name if owner else '(no switch)'))
            # It moved (a pod of the same name on another node): the old port goes first, and the
            # key comes back once that is committed.
            _nb.remove_lsp(cs, self.nb, port_name, owner.name if owner else None)
            self.queue.add(('pod', key))
            return
        network = None
        ids = {MARKER: 'pod', 'namespace': namespace, 'pod': name, 'pod-uid': uid}
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
        joins = self._isolating_groups(pod, namespace, ns_policies) if row is None else ()
        view.reserve(network.interface.ip, port_name)
        if not in_step:
            address = '%s %s' % (network.mac, network.ip)
            _nb.ensure_lsp(cs, self.nb, switch_name, port_name, addresses=[address], port_security=[address],
                           external_ids=ids, options=options)
        for group in joins:
            _nb_acl.add_port_group_ports(cs, self.nb, group, [port_name])
        plans[key] = PodPlan(key, pod, network, row is None)

    def _stale_pod_port(self, name):
        """Whether logical switch port ``name`` is a pod port of the watcher's whose pod is gone."""
        row = self.nb.find_one('Logical_Switch_Port', 'name', name)
        ids = _ovsdb.read(row, 'external_ids') if row is not None else {}
        return ids.get(MARKER) == 'pod' and self.pods.get('%s/%s' % (ids.get('namespace'), ids.get('pod'))) is None

    def _isolating_groups(self, pod, namespace, ns_policies):
        """The port groups a new port of ``pod`` joins in the transaction that creates it
        (``policy.isolating_groups``), those that exist: the deny groups must (until the
        namespace's policy sync has made them, the pod waits); a policy's own group that is
        not there yet takes the port when that sync makes it. ``ns_policies``: the batch's
        index of policies by namespace, filled here on first use (a batch of pods whose ports
        all exist, as in a restart in step, never reads the policies)."""
        if not ns_policies:
            ns_policies[None] = []  # indexed, even when there is no policy at all
            for pkey, pol in self.policies.items():
                ns_policies.setdefault(pkey.split('/', 1)[0], []).append(pol)
        policies = ns_policies.get(namespace)
        if not policies:
            return []
        deny, own = policy.isolating_groups(pod, policies)
        if any(_nb_acl.get_port_group(self.nb, group) is None for group in deny):
            self.queue.add(('netpol', namespace))
            raise NotYet('namespace %s has network policies whose port groups are not in the Northbound '
                         'database yet' % namespace)
        return deny + [group for group in own if _nb_acl.get_port_group(self.nb, group) is not None]

    def _pod_port_ips(self, pod):
        """The addresses (strings) the watcher's logical switch port of ``pod`` holds: what the
        policies' address sets and ACLs use, never what the pod object claims. Under nb_lock."""
        meta = pod.get('metadata') or {}
        row = self.nb.find_one('Logical_Switch_Port', 'name', _names.pod_port(meta.get('namespace'), meta.get('name')))
        if row is None or _ovsdb.read(row, 'external_ids').get(MARKER) != 'pod':
            return ()
        return tuple(str(ip) for ip in _cached_port(row)[1])

    def _annotated(self, plan):
        """True (and the key forgotten) when the pod already carries the plan's annotation."""
        have = (plan.pod.get('metadata') or {}).get('annotations') or {}
        if all(have.get(k) == v for k, v in plan.network.annotations().items()):
            self.queue.forget(('pod', plan.key))
            return True
        return False

    def _annotate(self, plan):
        """Write the plan's annotation on its pod (which :meth:`_annotated` found without it)."""
        wanted = plan.network.annotations()
        meta = plan.pod.get('metadata') or {}
        t0 = time.monotonic()
        try:
            self._fenced()
            # A JSON merge patch of the two keys only; the uid makes it fail on a successor pod
            # of the same name instead of annotating it with this one's address.
            # The answer (the whole pod) is read but not turned into client models: nothing
            # uses it, and that conversion costs more than the request.
            resp = self.core.patch_namespaced_pod(meta['name'], meta['namespace'],
                                                  {'metadata': {'uid': meta.get('uid'), 'annotations': wanted}},
                                                  _preload_content=False, **self.merge_patch)
            resp.read()
            resp.release_conn()
        except ApiException as e:
            if e.status == 404:
                return  # gone: its DELETED event brings the key back
            self._failed(('pod', plan.key), e)
            return
        except Exception as e:
            self._failed(('pod', plan.key), e)
            return
        finally:
            self.metrics.observe('api_patch_seconds', time.monotonic() - t0)
        self.metrics.inc('api_writes_total', kind='annotation')
        created = _created_at(plan.pod)
        if created is not None:
            self.metrics.observe('pod_annotation_latency_seconds', time.time() - created)
        LOG.info('pod annotated', extra=dict(kind='pod', object=plan.key, ip=plan.network.cidr,
                                             mac=plan.network.mac))

    # Events --------------------------------------------------------------------------------
    def _event(self, key, reason, message):
        self._object_event('v1', 'Pod', self.pods.get(key), reason, message)

    def _object_event(self, api_version, kind, obj, reason, message):
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
                'source': {'component': COMPONENT}, 'reportingComponent': COMPONENT,
                'firstTimestamp': now, 'lastTimestamp': now, 'count': 1}
        try:
            self.core.create_namespaced_event(meta['namespace'], body)
            self.metrics.inc('api_writes_total', kind='event')
        except Exception as e:
            LOG.warning('could not record an event', extra=dict(object=key, reason=_text(e)))


def _refused(key, exc):
    return ('pod %s: %s; the pod is not annotated until its port is committed, and is retried with backoff'
            % (key, exc))


def _text(exc):
    if isinstance(exc, ApiException):
        return 'HTTP %s %s' % (exc.status, exc.reason)
    return str(exc)[:500] or type(exc).__name__
