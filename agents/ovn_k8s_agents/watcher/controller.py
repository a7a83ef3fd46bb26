# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's wiring for one leadership term: the shared context, the informers, one
reconciler per kind, the workers that route work keys to them, and the term's life.

Level-driven: a key only says which object to look at; its reconciler reads the object's
current state from the informer's store and the Northbound rows from the long-lived IDL copy,
computes what OVN should hold for it, and converges through the collection's operations.
Nothing that is already right is written, so a reconcile of a cluster in step makes no
Northbound and no API write.

====================  ============================================  ===================
key                   reconciler                                    module
====================  ============================================  ===================
``('node', name)``    :class:`NodeReconciler` ``.reconcile_batch``  watcher/nodes.py
``('pod', 'ns/n')``   :class:`PodReconciler` ``.reconcile_batch``   watcher/pods.py
``('service', k)``    :class:`ServiceReconciler` ``.reconcile``     watcher/services.py
``('gateways', '')``  ``ServiceReconciler.reconcile_gateways``      watcher/services.py
``('netpol', ns)``    :class:`PolicyReconciler` ``.reconcile``      watcher/policies.py
``('mgmt', '')``      ``PolicyReconciler.reconcile_mgmt``           watcher/policies.py
``('underlay', '')``  ``UnderlayReconciler.reconcile``              watcher/underlay.py
====================  ============================================  ===================

Workers drain up to ``batch`` ready keys; the node keys among them go to the node reconciler
together (one transaction, first), the pod keys to the pod reconciler together (one
transaction, last), every other key on its own, under the context's error policy
(watcher/context.py). The informers' events become keys the same way: the pod informer's also
go to the policy reconciler (which namespaces' policies may select the pods), the
EndpointSlice informer's to the service reconciler (which services they belong to).
"""

from __future__ import absolute_import, division, print_function

import inspect
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names
from ovn_k8s_agents.watcher import heap, pods, policies, services, underlay
from ovn_k8s_agents.watcher.context import Context
from ovn_k8s_agents.watcher.informer import Informer
from ovn_k8s_agents.watcher.nodes import NodeReconciler
from ovn_k8s_agents.watcher.workqueue import WorkQueue

LOG = logging.getLogger('ovn_k8s_watcher')


class Controller(object):
    """One leadership term: the context, informers, reconcilers, a work queue and workers
    over one NB client."""

    def __init__(self, api_client, nb, metrics, cluster_subnet, host_prefix,
                 cluster_router=_names.CLUSTER_ROUTER, workers=4, batch=64, watch_timeout=300,
                 nb_lock=None, resync_period=60, api_workers=16, fence=None):
        from kubernetes import client
        core = client.CoreV1Api(api_client)
        # A dict body is sent as a strategic merge patch by older clients (Debian's 22.6) and
        # must be named a JSON merge patch by newer ones, which would pick a JSON patch.
        merge_patch = {}
        if '_content_type' in inspect.signature(core.patch_namespaced_pod).parameters:
            merge_patch = {'_content_type': 'application/merge-patch+json'}
        self.metrics = metrics
        self.stop_event = threading.Event()
        self.queue = WorkQueue()
        self.ctx = ctx = Context(core, nb, metrics, self.queue, self.stop_event, nb_lock=nb_lock, fence=fence,
                                 merge_patch=merge_patch)
        self.core = core
        self.n_workers = int(workers)
        self.batch = int(batch)
        self.n_api_workers = int(api_workers)
        self.busy_since = {}        # worker name -> monotonic time it took its current batch
        self.ready = threading.Event()
        self.resync_period = float(resync_period)

        # The reconcilers read the informers through the context when they run.
        self.node_reconciler = NodeReconciler(ctx, cluster_subnet, host_prefix, cluster_router)
        self.policy_reconciler = policies.PolicyReconciler(ctx, pods.port_ips)
        self.pod_reconciler = pods.PodReconciler(ctx, self.policy_reconciler)
        # The pods of VM nodes (the underlay mode) go to it first: watcher/underlay.py.
        self.underlay = underlay.UnderlayReconciler(ctx, self.policy_reconciler)
        self.service_reconciler = services.ServiceReconciler(ctx)

        def informer(name, kind, list_func, on_change, **kw):
            return ctx.add_informer(name, Informer(kind, list_func, on_change, metrics, self.stop_event,
                                                   watch_timeout, **kw))
        self.nodes = informer('nodes', 'node', core.list_node, self._queue('node'))
        self.pods = informer('pods', 'pod', core.list_pod_for_all_namespaces, self._pods_changed)
        self.services = informer('services', 'service', core.list_service_for_all_namespaces,
                                 self._queue('service'))
        self.slices = informer('slices', 'endpointslice',
                               client.DiscoveryV1Api(api_client).list_endpoint_slice_for_all_namespaces,
                               self.service_reconciler.slices_changed,
                               indexers={services.SERVICE_INDEX: services.slice_services})
        self.policies = informer('policies', 'networkpolicy',
                                 client.NetworkingV1Api(api_client).list_network_policy_for_all_namespaces,
                                 self.policy_reconciler.policies_changed)
        self.namespaces = informer('namespaces', 'namespace', core.list_namespace,
                                   self.policy_reconciler.namespaces_changed)
        self.informers = [self.nodes, self.pods, self.services, self.slices, self.policies, self.namespaces]
        # Work key kind -> (reconciler, method), looked up for each key. The pod keys go to
        # PodReconciler.reconcile_batch together.
        self._routes = {'node': (self.node_reconciler, 'reconcile'),
                        'service': (self.service_reconciler, 'reconcile'),
                        'gateways': (self.service_reconciler, 'reconcile_gateways'),
                        'netpol': (self.policy_reconciler, 'reconcile'),
                        'mgmt': (self.policy_reconciler, 'reconcile_mgmt'),
                        'underlay': (self.underlay, 'reconcile')}
        self.threads = []
        self._heap_lock = threading.Lock()
        self._t0 = None                  # when list_all began
        self._heap_loading = False

    # The context's Northbound client and fence, which the daemon sets once the copy is loaded.
    @property
    def nb(self):
        return self.ctx.nb

    @nb.setter
    def nb(self, value):
        self.ctx.nb = value

    @property
    def fence(self):
        return self.ctx.fence

    @fence.setter
    def fence(self, value):
        self.ctx.fence = value

    def _queue(self, kind):
        return lambda keys: self.queue.add_many([(kind, k) for k in keys])

    def _pods_changed(self, keys):
        self.queue.add_many([('pod', k) for k in keys])
        if self.policies.synced.is_set():
            self.policy_reconciler.pods_changed(keys)

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
        keys = self.node_reconciler.initial_keys() + self.pod_reconciler.initial_keys()
        keys += [('gateways', ''), ('mgmt', ''), ('underlay', '')]
        keys += self.service_reconciler.initial_keys() + self.policy_reconciler.initial_keys()
        self.queue.add_many(keys)
        if self.n_api_workers > 1:
            self.ctx.writers = ThreadPoolExecutor(self.n_api_workers, thread_name_prefix='api-writer')
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
        if self.ctx.writers is not None:
            self.ctx.writers.shutdown(wait=True)

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
                pods = [key for key in keys if key[0] == 'pod']
                nodes = [key for key in keys if key[0] == 'node']
                if len(nodes) > 1:
                    self.node_reconciler.reconcile_batch(nodes)
                for key in keys:
                    if key[0] == 'pod' or (key[0] == 'node' and len(nodes) > 1):
                        continue
                    route = self._routes.get(key[0])
                    if route is not None:
                        self.ctx.guard(key, getattr(*route))
                if pods:
                    pods = self.underlay.take(pods)
                if pods:
                    self.pod_reconciler.reconcile_batch(pods)
            except Exception:  # a bug: keep the worker alive and the keys coming back
                LOG.exception('worker error', extra=dict(keys=len(keys)))
                for key in keys:
                    self.queue.retry(key)
            finally:
                self.busy_since.pop(me, None)
                for key in keys:
                    self.queue.done(key)
