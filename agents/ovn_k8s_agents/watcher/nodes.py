# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's node reconciler: a Node gets its network (a logical switch with a subnet of
the cluster network, joined to the cluster router); a Node that is gone loses it, its pods'
ports first.

A key ``('node', name)`` says which node to look at. The stale sweep names the node switches
whose Node is gone and which the watcher owns (``_owners.stale_node_switches``): a network the
watcher created. A network a role made is the roles' to remove; when its Node goes, the
watcher removes only its pods' ports, which are the watcher's.
"""

from __future__ import absolute_import, division, print_function

import logging

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _alloc, _errors, _names, _nb, _ovsdb, _owners, _txn

from ovn_k8s_agents.watcher.context import BadInput
from ovn_k8s_agents.watcher import underlay

LOG = logging.getLogger('ovn_k8s_watcher')

NODE_SELECTOR = {_names.WATCHER_KEY: _names.WATCHER_NODE}
POD_SELECTOR = {_names.WATCHER_KEY: _names.WATCHER_POD}


class NodeReconciler(object):

    def __init__(self, ctx, cluster_subnet, host_prefix, cluster_router=_names.CLUSTER_ROUTER):
        self.ctx = ctx
        self.cluster_subnet = cluster_subnet
        self.host_prefix = int(host_prefix)
        self.cluster_router = cluster_router
        self._switches = (None, [])  # (change_seqno, _alloc.existing_switches): _existing_switches

    def initial_keys(self):
        """Every Node's key, then those of the node switches whose Node is gone."""
        return [('node', k) for k in self.ctx.nodes.keys()] + self.stale_keys()

    def stale_keys(self):
        ctx = self.ctx
        with ctx.nb_lock:
            switches = [(row.name, _ovsdb.read(row, 'external_ids')) for row in ctx.nb.rows('Logical_Switch')]
        return [('node', node) for node in _owners.stale_node_switches(switches, lambda n: ctx.nodes.get(n) is not None)]

    def _existing_switches(self):
        """``_alloc.existing_switches`` of the IDL copy, read again only when the copy changed
        (under nb_lock): a restart in step asks it for every node, and each answer reads every
        node switch."""
        seqno = self.ctx.nb.idl.change_seqno
        if self._switches[0] != seqno:
            self._switches = (seqno, _alloc.existing_switches(self.ctx.nb))
        return self._switches[1]

    def reconcile(self, name):
        self.reconcile_batch([('node', name)], guarded=False)

    def reconcile_batch(self, keys, guarded=True):
        """Plan every key's node network into one transaction, under one read of the node
        subnets (each node's allocation sees the subnets of the nodes planned before it, as if
        each had been committed on its own); when that transaction fails, each key alone.
        ``guarded``: run under the context's error policy (False: :meth:`reconcile`, which a
        caller runs under it, raises)."""
        ctx = self.ctx
        planned, failed_batch = [], False
        with ctx.nb_lock:
            if guarded:
                try:
                    ctx.settle()
                except Exception as e:
                    for key in keys:
                        ctx.failed(key, e)
                    return
            else:
                ctx.settle()
            nb = ctx.nb
            existing = list(self._existing_switches())
            batch = _txn.ChangeSet(nb)
            for key in keys:
                cs = _txn.ChangeSet(nb)
                if not guarded:
                    self._plan(key[1], cs, existing)
                elif not ctx.guard(key, self._plan, cs, existing, count=False):
                    continue
                batch.merge(cs)
                planned.append((key, cs))
            if batch.changed:
                try:
                    ctx.commit(batch)
                except Exception as e:
                    if not guarded:
                        raise
                    if len(planned) == 1:
                        ctx.failed(planned[0][0], e)
                        return
                    failed_batch = True
                if not failed_batch:
                    for key, cs in planned:
                        if cs.changed:
                            LOG.info('node network converged' if ctx.nodes.get(key[1]) is not None
                                     else 'node network removed',
                                     extra=dict(kind='node', object=key[1], changes=sorted(cs.after)))
        if failed_batch:
            LOG.warning('batch transaction failed: one node at a time', extra=dict(nodes=len(planned)))
            for key, cs in planned:
                ctx.guard(key, self.reconcile)
            return
        if guarded:
            for key, cs in planned:
                ctx.succeeded(key)
        changed = set(key[1] for key, cs in planned if cs.changed)
        if changed:
            # The load balancer group on its switch, its management address in the policies' set.
            ctx.queue.add_many([('gateways', ''), ('mgmt', '')])
            # Pods that waited for these switches (one pass over the pods for the whole batch).
            present = set(name for name in changed if ctx.nodes.get(name) is not None)
            if present:
                ctx.queue.add_many([('pod', k) for k, p in ctx.pods.items()
                                    if (p.get('spec') or {}).get('nodeName') in present])

    def _plan(self, name, cs, existing):
        """Plan node ``name``'s network into ``cs``; ``existing``: the node subnets
        (``_alloc.existing_switches``) as the nodes planned before it in the batch leave them."""
        ctx = self.ctx
        node = ctx.nodes.get(name)
        nb = ctx.nb
        switch = _nb.get_switch(nb, _names.node_switch(name))
        if node is not None and underlay.is_vm_node(nb, name):
            return  # a VM (the underlay mode): its pods sit on its network's switch, it has no node network
        if node is None:
            if switch is None:
                return
            # Its pods' ports first, then the node's own network if the watcher made it.
            for port in list(switch.ports):
                if _owners.may_remove(_names.WATCHER, port.external_ids, POD_SELECTOR):
                    _nb.remove_lsp(cs, nb, port.name, switch.name)
            if _owners.may_remove(_names.WATCHER, switch.external_ids, NODE_SELECTOR):
                _nb.remove_node_network(cs, nb, name, cluster_router=self.cluster_router)
                existing[:] = [entry for entry in existing if entry[1] != switch.name]
            return
        problem = _names.node_name_problem(name) if hasattr(_names, 'node_name_problem') else None
        if problem:
            raise BadInput('InvalidNodeName', 'node %s: %s' % (name, problem))
        try:
            subnet = _alloc.allocate(self.cluster_subnet, self.host_prefix, [{'name': name, 'subnet': None}],
                                     existing)[0]['subnet']
        except (_errors.InvalidInput, _errors.Conflict) as e:
            raise BadInput('NodeSubnet', 'node %s: %s' % (name, e), retry=True)
        _nb.ensure_node_network(cs, nb, name, subnet, cluster_router=self.cluster_router,
                                external_ids=_owners.watcher_node_ids(name, creating=switch is None))
        if switch is None or not switch.other_config.get('subnet'):
            # The next node of the batch sees this one's subnet as taken.
            existing.append((name, _names.node_switch(name), subnet))
