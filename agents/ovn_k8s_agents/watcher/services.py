# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's service reconciler: Services and EndpointSlices -> OVN load balancers.

A key ``('service', 'ns/name')`` says which service to look at. Its reconcile reads the
Service and its EndpointSlices from the informers' stores and the gateway routers from the
Northbound copy, computes the wanted load balancers with :mod:`ovn_k8s_agents.services`
and converges them with ``_nb_lb`` in one change set: one load balancer per service and
protocol, a member of the load balancer group ``clusterLBGroup``, and for the traffic
policies ``Local`` per-node load balancers in per-node groups (``services.lb_groups``). The
groups (not each load balancer) are attached to the node switches and gateway routers by the
``('gateways', '')`` key, which a node change and a periodic resync queue: gateway routers
are made by the ovn_gateway role, not by a Kubernetes object, so no event announces them.
That key also removes the per-node groups and load balancers of nodes and gateways that are
gone, and queues the services whose load balancers depend on the set of nodes or gateways.

A gateway's external address, where NodePort services answer, is the first address of the
gateway router's external port ``rtoe-GR_<node>`` (the port that answers ARP on the
external network), else the router's ``external_ids:physical_ip``.

The EndpointSlices informer indexes its slices by service (:func:`slice_services`, the index
``SERVICE_INDEX``); a slice's change queues the service it belongs to and, when it moved or
went, the one it belonged to. The stale sweep names the services whose load balancers are in
the database but which are gone.
"""

from __future__ import absolute_import, division, print_function

import ipaddress
import logging

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _nb_lb, _ovsdb, _owners, _txn
from ovn_k8s_agents import services

LOG = logging.getLogger('ovn_k8s_watcher')

SERVICE_INDEX = 'service'
# A service's load balancers: what the sweeps ask _owners.may_remove about.
SERVICE_SELECTOR = {_names.KIND_KEY: _names.KIND_SERVICE}

TABLES = dict(_nb_lb.LB_GROUP_TABLES, **{
    'Logical_Router': ['name', 'ports', 'external_ids', 'load_balancer_group'],
    'Logical_Router_Port': ['name', 'networks'],
})


def gateways(nb):
    """{node: [external IPs]} of every gateway router the collection made (``GR_<node>``)."""
    out = {}
    for router in nb.rows('Logical_Router'):
        node = router.external_ids.get(_names.GATEWAY_KEY)
        if not node or router.name != _names.gateway_router(node):
            continue
        ext = _names.gateway_names(node)['gr_ext_port']
        ips = []
        for port in router.ports:
            if port.name == ext:
                ips = [str(n).split('/', 1)[0] for n in port.networks]
        if not ips and router.external_ids.get(_names.GATEWAY_PHYSICAL_IP_KEY):
            ips = [router.external_ids[_names.GATEWAY_PHYSICAL_IP_KEY].split('/', 1)[0]]
        good = []
        for ip in ips:
            try:
                good.append(str(ipaddress.ip_address(ip)))
            except ValueError:
                LOG.warning('gateway address is not an IP address',
                            extra=dict(kind='gateway', object=router.name, address=ip))
        if good:
            out[node] = sorted(good)
    return out


def slice_services(obj):
    """The index function of EndpointSlices by service: ``['ns/service']``, or none."""
    meta = obj.get('metadata') or {}
    name = (meta.get('labels') or {}).get(_names.SERVICE_NAME_LABEL)
    return ['%s/%s' % (meta.get('namespace'), name)] if name else []


class ServiceReconciler(object):
    """Keys ``('service', 'ns/name')`` (:meth:`reconcile`) and ``('gateways', '')``
    (:meth:`reconcile_gateways`)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self._gateways_seen = None
        self._gateways_seen_all = None
        # EndpointSlice key -> the service it was last seen to belong to: a deleted slice's
        # object is gone by then, and still names its service through this.
        self._slice_owner = {}
        # Services with per-node load balancers in the database (their owners' keys), read by
        # the start-up sweep: only their reconciles look for per-node names (None: not known, look).
        self._node_lb_owners = None
        self._node_names_read = (None, ())

    def initial_keys(self):
        """Every service's key, then those of the services whose load balancers are stale."""
        self._remember_slice_owners()
        return [('service', k) for k in self.ctx.services.keys()] + self.stale_keys()

    def slices_changed(self, keys):
        """EndpointSlice keys -> the keys of their services."""
        out = set()
        for key in keys:
            ns = key.split('/', 1)[0]
            obj = self.ctx.slices.get(key)
            name = (((obj or {}).get('metadata') or {}).get('labels') or {}).get(_names.SERVICE_NAME_LABEL)
            if name is None:
                name = self._slice_owner.pop(key, None)
            elif obj is not None:
                old = self._slice_owner.get(key)
                if old is not None and old != name:
                    out.add(('service', '%s/%s' % (ns, old)))  # it lost this slice's endpoints
                self._slice_owner[key] = name
            if name:
                out.add(('service', '%s/%s' % (ns, name)))
        self.ctx.queue.add_many(sorted(out))

    def _remember_slice_owners(self):
        """After the start-up list: which service each EndpointSlice belongs to, so that the
        deletion of a slice (its object is gone by then) still names its service."""
        for key, obj in self.ctx.slices.items():
            name = ((obj.get('metadata') or {}).get('labels') or {}).get(_names.SERVICE_NAME_LABEL)
            if name:
                self._slice_owner[key] = name

    def slices_of(self, namespace, name):
        """The service's EndpointSlices, through the informer's index by service (scanning
        every slice of the cluster for each service made a restart's service work quadratic)."""
        return self.ctx.slices.by_index(SERVICE_INDEX, '%s/%s' % (namespace, name))

    def _node_names(self):
        """The nodes whose switches the watcher made (under nb_lock), read again only after
        the Northbound copy changed."""
        nb = self.ctx.nb
        seqno = nb.idl.change_seqno
        if self._node_names_read[0] != seqno:
            self._node_names_read = (seqno, tuple(sorted(
                sw.name for sw in nb.rows('Logical_Switch')
                if sw.external_ids.get(_names.WATCHER_KEY) == _names.WATCHER_NODE)))
        return list(self._node_names_read[1])

    def stale_keys(self):
        """Keys of services whose load balancers are in the database but which are gone."""
        ctx = self.ctx
        out, per_node = set(), set()
        with ctx.nb_lock:
            for row in ctx.nb.rows('Load_Balancer'):
                ids = _ovsdb.read(row, 'external_ids')
                owner = ids.get(_names.OWNER_KEY)
                if owner and _owners.may_remove(_names.WATCHER, ids, SERVICE_SELECTOR):
                    if ctx.services.get(owner) is None:
                        out.add(('service', owner))
                    if ids.get(_names.LB_NODE_KEY):
                        per_node.add(owner)
            self._node_lb_owners = per_node
        return sorted(out)

    def reconcile(self, key):
        ctx = self.ctx
        namespace, name = key.split('/', 1)
        svc = ctx.services.get(key)
        slices = self.slices_of(namespace, name) if svc is not None else []
        with ctx.nb_lock:
            ctx.settle()
            gws = gateways(ctx.nb)
            # The node switches matter only to internalTrafficPolicy Local, and to finding the
            # per-node load balancers a service may still have.
            looked = self._node_lb_owners is None or key in self._node_lb_owners
            internal_local = ((svc or {}).get('spec') or {}).get('internalTrafficPolicy') == 'Local'
            nodes = self._node_names() if internal_local or looked else []
            wanted, warnings = [], []
            if svc is not None:
                out = services.service_load_balancers(svc, slices, gws, nodes)
                wanted, warnings = out['load_balancers'], out['warnings']
            per_node = any(_names.LB_NODE_KEY in lb['external_ids'] for lb in wanted)
            attach = services.lb_groups(nodes, gws)
            cs = _txn.ChangeSet(ctx.nb)
            for group in sorted(set(g for lb in wanted for g in lb['groups'])):
                new = _nb_lb.get_lb_group(ctx.nb, group) is None
                _nb_lb.ensure_lb_group(cs, ctx.nb, group)
                if group != services.LB_GROUP and (new or group != services.SWITCH_LB_GROUP):
                    # The groups other than clusterLBGroup are made when a service first needs
                    # them, and attached here then; a node's own group (one switch or router)
                    # every time, cheaply. reconcile_gateways attaches the existing ones to new nodes.
                    for table, holder in attach.get(group, ()):
                        _nb_lb.ensure_lb_group_attached(cs, ctx.nb, table, holder, group)
            for lb in wanted:
                _nb_lb.ensure_load_balancer(cs, ctx.nb, lb['name'], lb['vips'], lb['protocol'], options=lb['options'],
                                            external_ids=lb['external_ids'], groups=lb['groups'])
            names = None
            if svc is not None:
                looked = looked or per_node
                names = services.load_balancer_names(namespace, name, nodes if looked else (), gws if looked else ())
            mine = dict(SERVICE_SELECTOR, **{_names.OWNER_KEY: _names.object_owner(namespace, name)})
            _nb_lb.remove_load_balancers(cs, ctx.nb, mine, keep=[lb['name'] for lb in wanted], names=names)
            if cs.changed:
                ctx.commit(cs)
                LOG.info('service removed' if svc is None else 'service converged',
                         extra=dict(kind='service', object=key, changes=sorted(cs.after)))
            if self._node_lb_owners is not None:
                if per_node:
                    self._node_lb_owners.add(key)
                else:
                    self._node_lb_owners.discard(key)
        for text in warnings:
            LOG.warning('service not fully supported', extra=dict(kind='service', object=key, reason=text))
            ctx.object_event('v1', 'Service', svc, 'UnsupportedServiceField', text)

    def reconcile_gateways(self, _key):
        """The groups on every gateway router and node switch; the per-node groups and load
        balancers of nodes and gateways that are gone removed; the services that depend on
        the nodes or the gateways' addresses again when those changed."""
        ctx = self.ctx
        with ctx.nb_lock:
            ctx.settle()
            gws = gateways(ctx.nb)
            nodes = self._node_names()
            cs = _txn.ChangeSet(ctx.nb)
            for group, holders in sorted(services.lb_groups(nodes, gws).items()):
                if group == services.LB_GROUP:
                    _nb_lb.ensure_lb_group(cs, ctx.nb, group)
                elif _nb_lb.get_lb_group(ctx.nb, group) is None:
                    continue  # no service has needed it yet
                for table, holder in holders:
                    _nb_lb.ensure_lb_group_attached(cs, ctx.nb, table, holder, group)
            seen = (gws, nodes)
            if seen != self._gateways_seen_all:
                self._remove_gone_nodes(cs, nodes, gws)
            if cs.changed:
                ctx.commit(cs)
                LOG.info('load balancer groups attached', extra=dict(kind='gateways', changes=sorted(cs.after)))
        if seen != self._gateways_seen_all:
            if self._gateways_seen_all is not None:
                LOG.info('gateways or nodes changed', extra=dict(kind='gateways', gateways=gws, nodes=nodes))
                ctx.queue.add_many([('service', k) for k, s in ctx.services.items() if _depends_on_nodes(s)])
            self._gateways_seen_all = seen
        self._gateways_seen = gws

    def _remove_gone_nodes(self, cs, nodes, gws):
        """Per-node groups and load balancers of nodes (switches) and gateways that are gone."""
        nb = self.ctx.nb
        for row in nb.rows('Load_Balancer'):
            ids = _ovsdb.read(row, 'external_ids')
            node, owner_key = ids.get(_names.LB_NODE_KEY), ids.get(_names.OWNER_KEY)
            if not node or not owner_key or not _owners.may_remove(_names.WATCHER, ids, SERVICE_SELECTOR):
                continue
            ns, name = owner_key.split('/', 1)
            if node not in gws and any(row.name == services.node_router_load_balancer_name(ns, name, p, node)
                                       for p in services.PROTOCOLS):
                _nb_lb.remove_load_balancer(cs, nb, row.name)
            elif node not in nodes and any(row.name == services.node_switch_load_balancer_name(ns, name, p, node)
                                           for p in services.PROTOCOLS):
                _nb_lb.remove_load_balancer(cs, nb, row.name)
        keep = set(services.lb_groups(nodes, gws))
        for group in nb.rows('Load_Balancer_Group'):
            if group.name not in keep and group.name.startswith(
                    (services.node_switch_lb_group(''), services.node_router_lb_group(''))):
                _nb_lb.remove_lb_group(cs, nb, group.name)


def _depends_on_nodes(svc):
    """Does this service's translation read the gateways or the nodes?"""
    spec = svc.get('spec') or {}
    return (spec.get('type') in ('NodePort', 'LoadBalancer') or spec.get('internalTrafficPolicy') == 'Local'
            or spec.get('externalTrafficPolicy') == 'Local')
