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
        ctx = self.ctx
        node = ctx.nodes.get(name)
        with ctx.nb_lock:
            ctx.settle()
            nb = ctx.nb
            cs = _txn.ChangeSet(nb)
            switch = _nb.get_switch(nb, _names.node_switch(name))
            if node is None:
                if switch is None:
                    return
                # Its pods' ports first, then the node's own network if the watcher made it.
                for port in list(switch.ports):
                    if _owners.may_remove(_names.WATCHER, port.external_ids, POD_SELECTOR):
                        _nb.remove_lsp(cs, nb, port.name, switch.name)
                if _owners.may_remove(_names.WATCHER, switch.external_ids, NODE_SELECTOR):
                    _nb.remove_node_network(cs, nb, name, cluster_router=self.cluster_router)
            else:
                problem = _names.node_name_problem(name) if hasattr(_names, 'node_name_problem') else None
                if problem:
                    raise BadInput('InvalidNodeName', 'node %s: %s' % (name, problem))
                try:
                    subnet = _alloc.allocate(self.cluster_subnet, self.host_prefix, [{'name': name, 'subnet': None}],
                                             self._existing_switches())[0]['subnet']
                except (_errors.InvalidInput, _errors.Conflict) as e:
                    raise BadInput('NodeSubnet', 'node %s: %s' % (name, e), retry=True)
                _nb.ensure_node_network(cs, nb, name, subnet, cluster_router=self.cluster_router,
                                        external_ids=_owners.watcher_node_ids(name, creating=switch is None))
            if cs.changed:
                ctx.commit(cs)
                LOG.info('node network removed' if node is None else 'node network converged',
                         extra=dict(kind='node', object=name, changes=sorted(cs.after)))
        if cs.changed:
            # The load balancer group on its switch, its management address in the policies' set.
            ctx.queue.add_many([('gateways', ''), ('mgmt', '')])
        if node is not None and cs.changed:
            # Pods that waited for this switch.
            ctx.queue.add_many([('pod', k) for k, p in ctx.pods.items()
                                if (p.get('spec') or {}).get('nodeName') == name])
