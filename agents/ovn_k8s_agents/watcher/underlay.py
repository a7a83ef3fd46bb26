# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher in the underlay mode: pods of Kubernetes nodes that are VMs.

Which nodes are VMs is read from the Northbound database, never from the API: the roles
declare a VM node there (module ``ovn_vm_node``: the VM's logical switch port carries the
node, the VM network's switch carries a marker; ``_underlay.vm_nodes``), so neither a pod nor
a VM's kubelet can make itself one.

A pod on such a node gets, instead of a port on a node switch:

- a logical switch port ``<namespace>_<pod>`` on the VM network's switch, whose
  ``parent_name`` is the VM's port and whose ``tag_request`` is a VLAN tag unique on that VM
  (``_underlay.VmTags``, from the tags the VM's other container ports hold in the Northbound:
  a pod keeps its port's tag across restarts; a tag is free again once its port is removed,
  and handed out again last);
- an address from the VM network's subnet (``_ipam.SwitchAddresses``: its first address is
  the router's and is the pod's gateway, its second is kept back, and the addresses the VMs'
  own ports hold are never given), its MAC derived from it, and port security;
- the same annotation as an overlay pod's, plus ``vlan_id`` (``_underlay.annotations_with_tag``),
  which the CNI plugin inside the VM reads.

The port carries the watcher's pod marker and the pod's keys, so everything else that serves
pods serves it unchanged: the pod reconciler removes it when its pod goes (and the stale
sweep when the watcher missed that), the policy reconciler puts it in the port groups and its
address in the address sets. Its services: the VM networks' switches carry the cluster's load
balancer groups (``clusterLBGroup``, ``clusterSwitchLBGroup``; key ``('underlay', '')`` and
each batch). A VM node gets no node network of its own (``is_vm_node``).

Not built: per-node load balancers (``internalTrafficPolicy: Local``) for VM nodes, the VM's
own address in the node management port groups (a policy that isolates a VM's pod also drops
its kubelet's probes), and a VM moving between networks while its pods run.
"""

from __future__ import absolute_import, division, print_function

import ipaddress
import json
import logging
import weakref

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _errors, _ipam, _names, _nb, _nb_acl, _nb_lb, _ovsdb, _owners, _txn, _underlay
from ovn_k8s_agents import annotation
from ovn_k8s_agents.watcher.context import BadInput, NotYet
from ovn_k8s_agents.watcher.pods import wants_port

LOG = logging.getLogger('ovn_k8s_watcher')

POD_SELECTOR = {_names.WATCHER_KEY: _names.WATCHER_POD}
# The groups the VM networks' switches carry, as the node switches do.
LB_GROUPS = (_names.LB_GROUP, _names.SWITCH_LB_GROUP)

# client -> (change_seqno, {node: _underlay.VmNode}): read again only when the copy changed.
_VMS = weakref.WeakKeyDictionary()


def vm_nodes(nb):
    """The declared VM nodes (under nb_lock). A declaration that contradicts itself (one node on
    two ports) counts as no VM: it is logged, and the roles' module refuses to make it."""
    seqno = nb.idl.change_seqno
    hit = _VMS.get(nb)
    if hit is None or hit[0] != seqno:
        try:
            found = _underlay.vm_nodes(nb)
        except _errors.Conflict as e:
            LOG.warning('VM node declarations contradict each other', extra=dict(kind='underlay', reason=str(e)))
            found = {}
        hit = _VMS[nb] = (seqno, found)
    return hit[1]


def is_vm_node(nb, name):
    """Whether node ``name`` is a declared VM (under nb_lock): it gets no node network."""
    return name in vm_nodes(nb)


def _sweepable(ids):
    return _owners.may_remove(_names.WATCHER, ids, POD_SELECTOR)


class TaggedNetwork(object):
    """A pod's network (``annotation.PodNetwork``) with its VLAN tag."""

    __slots__ = ('network', 'tag')

    def __init__(self, network, tag):
        self.network, self.tag = network, tag

    def annotations(self):
        return _underlay.annotations_with_tag(self.network.annotations(), self.tag)


class Plan(object):
    __slots__ = ('key', 'pod', 'network', 'created')

    def __init__(self, key, pod, network, created):
        self.key, self.pod, self.network, self.created = key, pod, network, created


class UnderlayReconciler(object):
    """The pods of VM nodes (:meth:`take` from each worker's batch of pod keys), and the load
    balancer groups on the VM networks' switches (:meth:`reconcile`, key ``('underlay', '')``).
    ``policies``: the policy reconciler (``isolating_groups``, ``pod_ports_created``)."""

    def __init__(self, ctx, policies):
        self.ctx = ctx
        self.policies = policies
        self._cursors = {}      # switch -> next address (_ipam.SwitchAddresses), across batches
        self._tag_cursors = {}  # VM port -> next tag (_underlay.VmTags), across batches

    # Routing ---------------------------------------------------------------------------------
    def take(self, keys):
        """Reconcile the keys of ``keys`` whose pod wants a port on a VM node; return the others
        (for the pod reconciler: the overlay pods, and every pod that is gone, whose port the
        pod reconciler removes wherever it is)."""
        ctx = self.ctx
        with ctx.nb_lock:
            vms = vm_nodes(ctx.nb)
        if not vms:
            return keys
        mine, rest = [], []
        for key in keys:
            pod = ctx.pods.get(key[1])
            node = ((pod or {}).get('spec') or {}).get('nodeName')
            (mine if pod is not None and wants_port(pod) and node in vms else rest).append(key)
        if mine:
            self.reconcile_batch(mine)
        return rest

    # The load balancer groups -----------------------------------------------------------------
    def reconcile(self, _key):
        """Every VM network's switch carries the cluster's load balancer groups (the one every
        service has is made here if the services' key has not made it yet)."""
        ctx = self.ctx
        with ctx.nb_lock:
            ctx.settle()
            cs = _txn.ChangeSet(ctx.nb)
            switches = sorted(set(vm.switch.name for vm in vm_nodes(ctx.nb).values()))
            if switches:
                _nb_lb.ensure_lb_group(cs, ctx.nb, _names.LB_GROUP)
            self._attach(cs, switches)
            if cs.changed:
                ctx.commit(cs)
                LOG.info('VM networks\' load balancer groups attached',
                         extra=dict(kind='underlay', changes=sorted(cs.after)))

    def _attach(self, cs, switches):
        nb = self.ctx.nb
        for group in LB_GROUPS:
            if _nb_lb.get_lb_group(nb, group) is None and not cs.will_create('Load_Balancer_Group %s' % group):
                continue  # no service needed it yet: the services' reconciler makes it
            for name in switches:
                _nb_lb.ensure_lb_group_attached(cs, nb, 'Logical_Switch', name, group)

    # Pods ------------------------------------------------------------------------------------
    def reconcile_batch(self, keys):
        """Plan every key's port into one transaction (one key at a time when it fails), then
        annotate the pods."""
        ctx = self.ctx
        plans, failed_batch, ok = {}, False, []
        with ctx.nb_lock:
            try:
                ctx.settle()
            except Exception as e:
                for key in keys:
                    ctx.failed(key, e)
                return
            vms = vm_nodes(ctx.nb)
            batch = _txn.ChangeSet(ctx.nb)
            views, tags, ns_policies = {}, {}, {}
            for key in keys:
                sub = _txn.ChangeSet(ctx.nb)
                if ctx.guard(key, self._plan, sub, vms, views, tags, plans, ns_policies, count=False):
                    batch.merge(sub)
                    ok.append(key)
            self._attach(batch, sorted(set(vm.switch.name for vm in vms.values())))
            if batch.changed:
                try:
                    ctx.commit(batch)
                except Exception as e:
                    if len(ok) == 1:
                        ctx.failed(ok[0], e)
                        return
                    failed_batch = True
        if failed_batch:
            LOG.warning('batch transaction failed: one VM pod at a time', extra=dict(pods=len(ok)))
            for key in ok:
                self.reconcile_batch([key])
            return
        for key in ok:
            ctx.succeeded(key)
        self.policies.pod_ports_created(set(k.split('/', 1)[0] for k, plan in plans.items() if plan.created))
        for plan in plans.values():
            self._annotate(plan)

    def _view(self, vm, views):
        """The addresses of the VM network's switch as this batch sees them."""
        switch = vm.switch
        view = views.get(switch.name)
        if view is None:
            def used():
                out = {}
                for port in switch.ports:
                    for entry in _ovsdb.read(port, 'addresses'):
                        for word in str(entry).split()[1:]:
                            try:
                                out[ipaddress.ip_address(word.split('/')[0])] = port.name
                            except ValueError:
                                pass
                return out
            other = _ovsdb.read(switch, 'other_config')
            view = views[switch.name] = _ipam.SwitchAddresses(switch.name, other['subnet'], other.get('exclude_ips'),
                                                              used=used, cursors=self._cursors)
        return view

    def _tags(self, vm, tags):
        """The VLAN tags of the VM as this batch sees them."""
        view = tags.get(vm.port_name)
        if view is None:
            held = dict((tag, name) for name, tag in _underlay.container_ports(self.ctx.nb, vm.port_name) if tag)
            view = tags[vm.port_name] = _underlay.VmTags(vm.port_name, held, self._tag_cursors)
        return view

    def _plan(self, key, cs, vms, views, tags, plans, ns_policies):
        ctx = self.ctx
        namespace, name = key.split('/', 1)
        pod = ctx.pods.get(key)
        node = ((pod or {}).get('spec') or {}).get('nodeName')
        if pod is None or not wants_port(pod) or node not in vms:
            ctx.queue.add(('pod', key))  # changed meanwhile: the pod reconciler's, or ours again
            return
        vm = vms[node]
        if not vm.subnet:
            raise NotYet('the VM network %s of node %s has no other_config:subnet (ovn_vm_node refuses such a '
                         'declaration; it was made otherwise)' % (vm.switch.name, node))
        port_name = _names.pod_port(namespace, name)
        row = ctx.nb.find_one('Logical_Switch_Port', 'name', port_name)
        switch = vm.switch
        in_switch = row is not None and ctx.nb.holds(switch, 'ports', row)
        if row is not None and not in_switch:
            owner = ctx.nb.holder('Logical_Switch', row)
            if not _sweepable(_ovsdb.read(row, 'external_ids')):
                raise BadInput('PortConflict', 'pod %s: logical switch port %s exists on %s and was not made '
                               'by the watcher' % (key, port_name, owner.name if owner else '(no switch)'))
            _nb.remove_lsp(cs, ctx.nb, port_name, owner.name if owner else None)
            ctx.queue.add(('pod', key))  # comes back once the old port is gone
            return
        if row is not None and not _sweepable(_ovsdb.read(row, 'external_ids')):
            raise BadInput('PortConflict', 'pod %s: logical switch port %s on the VM network %s was not made by '
                           'the watcher' % (key, port_name, switch.name))
        view = self._view(vm, views)
        vtags = self._tags(vm, tags)
        try:
            current = annotation.parse((pod.get('metadata') or {}).get('annotations'), pod=key)
        except annotation.AnnotationError as e:
            raise BadInput('MalformedAnnotation', '%s; the watcher leaves this pod alone until the annotation '
                           'is removed or corrected' % e)
        own_ips = []
        if row is not None:
            for entry in _ovsdb.read(row, 'addresses'):
                own_ips.extend(str(entry).split()[1:])
        network = None
        if current is not None:
            ip = current.interface.ip
            why = view.reserved(ip)
            holder = port_name if current.ip in own_ips else view.used.get(ip)
            if why is None and current.interface.network != view.subnet:
                why = 'its prefix is not that of %s' % view.subnet
            if why is None and current.gateway != view.gateway:
                why = 'its gateway is not %s' % view.gateway
            if why is None and current.mac != _names.mac_from_ip(ip):
                why = 'its MAC %s is not %s, the one its address gives' % (current.mac, _names.mac_from_ip(ip))
            if why is None and holder not in (None, port_name):
                why = 'logical switch port %s already has it' % holder
            if why:
                raise BadInput('AnnotationConflict', 'pod %s: its annotation gives it %s, which it cannot keep on the '
                               'VM network %s: %s' % (key, current.cidr, switch.name, why))
            network = current
        elif own_ips:
            ip = ipaddress.ip_address(own_ips[0])
            if ip in view.subnet and view.reserved(ip) is None:
                network = annotation.PodNetwork('%s/%d' % (ip, view.subnet.prefixlen), _names.mac_from_ip(ip),
                                                view.gateway)
        if network is None:
            ip = view.allocate(port_name)
            if ip is None:
                raise BadInput('SubnetExhausted', 'pod %s: the subnet %s of the VM network %s has no free address'
                               % (key, view.subnet, switch.name), retry=True)
            network = annotation.PodNetwork('%s/%d' % (ip, view.subnet.prefixlen), _names.mac_from_ip(ip),
                                            view.gateway)
        # The tag: the one its port has on this VM, else a new one.
        tag = None
        if row is not None and _underlay.parent_of(row) == vm.port_name:
            tag = _underlay.tag_of(row)
            if tag is not None and vtags.holder(tag) not in (None, port_name):
                tag = None
        if tag:
            vtags.reserve(tag, port_name)
        else:
            tag = vtags.allocate(port_name)
            if tag is None:
                raise BadInput('VlanTagsExhausted', 'pod %s: the VM port %s of node %s has no free VLAN tag (%d-%d)'
                               % (key, vm.port_name, node, _underlay.TAG_FIRST, _underlay.TAG_LAST), retry=True)
        joins = self.policies.isolating_groups(pod, namespace, ns_policies) if row is None else ()
        view.reserve(network.interface.ip, port_name)
        ids = {_names.WATCHER_KEY: _names.WATCHER_POD, _names.POD_NAMESPACE_KEY: namespace,
               _names.POD_NAME_KEY: name, _names.POD_UID_KEY: pod['metadata'].get('uid')}
        address = '%s %s' % (network.mac, network.ip)
        _nb.ensure_lsp(cs, ctx.nb, switch.name, port_name, addresses=[address], port_security=[address],
                       external_ids=ids, parent_name=vm.port_name, tag=tag)
        for group in joins:
            _nb_acl.add_port_group_ports(cs, ctx.nb, group, [port_name])
        plans[key] = Plan(key, pod, TaggedNetwork(network, tag), row is None)

    def _annotate(self, plan):
        """The pod's annotation with its VLAN tag, unless it has it already."""
        ctx = self.ctx
        wanted = plan.network.annotations()
        meta = plan.pod.get('metadata') or {}
        have = meta.get('annotations') or {}
        if all(_same_json(have.get(k), v) for k, v in wanted.items()):
            return
        try:
            ctx.fenced()
            resp = ctx.core.patch_namespaced_pod(meta['name'], meta['namespace'],
                                                 {'metadata': {'uid': meta.get('uid'), 'annotations': wanted}},
                                                 _preload_content=False, **ctx.merge_patch)
            resp.read()
            resp.release_conn()
        except Exception as e:  # the client raises API, urllib3 and SSL errors alike
            if getattr(e, 'status', None) == 404:
                return  # gone: its DELETED event brings the key back
            ctx.failed(('pod', plan.key), e)
            return
        ctx.metrics.inc('api_writes_total', kind='annotation')
        LOG.info('VM pod annotated', extra=dict(kind='pod', object=plan.key, ip=plan.network.network.cidr,
                                                mac=plan.network.network.mac, vlan=plan.network.tag))


def _same_json(have, want):
    if have == want:
        return True
    try:
        return have is not None and json.loads(have) == json.loads(want)
    except ValueError:
        return False
