# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's policy reconciler: NetworkPolicies, pods and namespaces -> OVN port
groups, address sets and ACLs.

A key ``('netpol', namespace)`` says which namespace's policies to look at. Its reconcile
reads the namespace's policies, every pod and every namespace's labels from the informers'
stores, computes the wanted port groups and address sets with
:func:`ovn_k8s_agents.policy.namespace_model` and converges them with ``_nb_acl`` in one
change set; port groups and address sets of the namespace that no policy wants any more go.
A label change moves addresses between address sets and ports between port groups; ACLs
whose columns did not change are never recreated.

A pod's address is the one its logical switch port holds (the ``pod_port_ips`` function this
reconciler is given, ``pods.port_ips``),
never its annotation or ``status.podIPs`` as the pod object gives them: those can be written
by the pod's creator. A pod without a port has no address in any set.

A new pod's port joins the port groups of its namespace's policies that select it (at least
the deny groups) in the transaction that creates it (:meth:`PolicyReconciler.isolating_groups`,
which the pod reconciler asks): it is
isolated before its annotation is written, so before it can start. A pod change queues its
own namespace (when it has policies) and every namespace with a policy that has a
namespaceSelector peer or an egress rule without peers that names a port (the port is
allowed on every pod of the cluster that names it): a peer without a namespaceSelector selects
pods of its policy's namespace only, and ipBlock peers select no pods. A namespace change (its labels) queues the namespaces with
namespaceSelector peers and itself. A committed new pod port queues the same namespaces as
a pod change (its address is new to their address sets; a pod that was annotated before
brings no event of its own once its port is there). A policy
whose peers cannot be read counts as one with a namespaceSelector (when unsure, queue).
The nodes' management port groups (each node's own management address to and from its
pods) are the key ``('mgmt', '')``.

A policy that cannot be translated is logged as an error and reported as a Warning Event on
the policy, and the pods it selects stay isolated (``namespace_model`` fails closed).
"""

from __future__ import absolute_import, division, print_function

import logging

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _nb, _nb_acl, _ovsdb, _owners, _txn
from ovn_k8s_agents import annotation, policy

from ovn_k8s_agents.watcher.context import NotYet

LOG = logging.getLogger('ovn_k8s_watcher')

TABLES = dict(_nb_acl.PORT_GROUP_TABLES, **_nb_acl.ADDRESS_SET_TABLES)
POLICY_KINDS = (_names.KIND_POLICY, _names.KIND_POLICY_DENY)


def policy_facts(pod):
    """What the translation of policies reads of a pod (policy.Cluster, PodInfo): a change of
    anything else (its readiness, a condition, a container's state) cannot change a port group
    or an address set."""
    if pod is None:
        return None
    meta, spec, status = pod.get('metadata') or {}, pod.get('spec') or {}, pod.get('status') or {}
    notes = meta.get('annotations') or {}
    # The annotation is not read as an address (the port's is): it changing says the pod's
    # port was committed (the watcher writes it after), so its address may be new.
    return (tuple(sorted((meta.get('labels') or {}).items())), bool(spec.get('hostNetwork')), spec.get('nodeName'),
            status.get('phase') in ('Succeeded', 'Failed'), notes.get(annotation.LEGACY_KEY),
            notes.get(annotation.MODERN_KEY))


def _names_a_port(rule):
    """Whether an egress rule's ports name a port (resolved on the peer pods), or cannot be read."""
    ports = rule.get('ports') or []
    if not isinstance(ports, list):
        return True
    for port in ports:
        if not isinstance(port, dict):
            return True
        number = port.get('port')
        if isinstance(number, str) and not number.isdigit():
            return True
    return False


def reaches_other_namespaces(pol):
    """Whether ``pol`` may pick pods of other namespaces as peers: a namespaceSelector in
    any rule, an egress rule without peers that names a port (it allows that port on every pod
    of the cluster that names it: ``policy.translate_policy`` lists their addresses), or a rule
    or peer whose shape is not what the API validates (when unsure, yes)."""
    spec = pol.get('spec') if isinstance(pol, dict) else None
    if not isinstance(spec, dict):
        return True
    for key, peers_key in (('ingress', 'from'), ('egress', 'to')):
        rules = spec.get(key) or []
        if not isinstance(rules, list):
            return True
        for rule in rules:
            if rule is None:
                continue
            peers = rule.get(peers_key) if isinstance(rule, dict) else None
            if not isinstance(rule, dict) or not isinstance(peers or [], list):
                return True
            if key == 'egress' and not peers and _names_a_port(rule):
                return True
            for peer in peers or []:
                if not isinstance(peer, dict) or peer.get('namespaceSelector') is not None:
                    return True
    return False


def _owned_by(ids, namespace):
    """Whether a port group or address set with ``ids`` is one of ``namespace``'s policies'
    that the watcher may remove (``_owners.may_remove``)."""
    if _owners.may_remove(_names.WATCHER, ids, {_names.KIND_KEY: _names.KIND_POLICY}):
        return (ids.get(_names.OWNER_KEY) or '').split('/', 1)[0] == namespace
    deny = {_names.KIND_KEY: _names.KIND_POLICY_DENY, _names.OWNER_KEY: namespace}
    return _owners.may_remove(_names.WATCHER, ids, deny)


class PolicyReconciler(object):
    """Keys ``('netpol', namespace)`` (:meth:`reconcile`) and ``('mgmt', '')``
    (:meth:`reconcile_mgmt`). ``pod_port_ips(nb, pod)``: the addresses the watcher's port of a
    pod holds (``pods.port_ips``)."""

    def __init__(self, ctx, pod_port_ips):
        self.ctx = ctx
        self.pod_port_ips = pod_port_ips
        self._policy_ns_in_nb = set()
        self._pod_info_cache = {}     # pod key -> (pod object, port addresses, policy.PodInfo or None): _pod_infos
        self._pod_policy_facts = None  # pod key -> policy_facts as last seen (the pod informer's thread)

    def initial_keys(self):
        """Every namespace with policies, then those with policy rows in the database."""
        ctx = self.ctx
        keys = [('netpol', ns) for ns in sorted(set(k.split('/', 1)[0] for k in ctx.policies.keys()))]
        return keys + self.stale_keys()

    def _policy_namespaces(self):
        ctx = self.ctx
        return set(k.split('/', 1)[0] for k in ctx.policies.keys()) | self._policy_ns_in_nb

    def _cross_namespace_policies(self):
        """The namespaces with a policy that may pick pods of other namespaces as peers."""
        ctx = self.ctx
        return set(k.split('/', 1)[0] for k, p in ctx.policies.items() if reaches_other_namespaces(p))

    def pods_changed(self, keys):
        """Pods ``keys`` changed: queue the namespaces whose policies may select them, if what
        the policies read of a pod changed (a readiness flip, the most frequent pod update, does
        not; before this filter it made every endpoint change recompute its namespace's
        policies over every pod of the cluster)."""
        ctx = self.ctx
        seen = self._pod_policy_facts
        if seen is None:
            # The first pod change once the policies are listed: what every other pod looked
            # like then is the reference (the start-up reconcile of each namespace read it).
            changed = set(keys)
            seen = self._pod_policy_facts = dict((k, policy_facts(p)) for k, p in ctx.pods.items() if k not in changed)
        namespaces = set()
        for key in keys:
            facts = policy_facts(ctx.pods.get(key))
            if key not in seen or seen[key] != facts:
                namespaces.add(key.split('/', 1)[0])
            if facts is None:
                seen.pop(key, None)
            else:
                seen[key] = facts
        if namespaces:
            self._pod_namespaces_changed(namespaces)

    def _pod_namespaces_changed(self, namespaces):
        """Pods of ``namespaces`` changed: queue the namespaces whose policies may select them."""
        ctx = self.ctx
        own = set(namespaces) & self._policy_namespaces()
        ctx.queue.add_many([('netpol', ns) for ns in sorted(own | self._cross_namespace_policies())])

    def isolating_groups(self, pod, namespace, ns_policies):
        """The port groups a new port of ``pod`` joins in the transaction that creates it
        (``policy.isolating_groups``), those that exist: the deny groups must (until the
        namespace's policy sync has made them, the pod waits); a policy's own group that is
        not there yet takes the port when that sync makes it. ``ns_policies``: the batch's
        index of policies by namespace, filled here on first use (a batch of pods whose ports
        all exist, as in a restart in step, never reads the policies)."""
        ctx = self.ctx
        if not ns_policies:
            ns_policies[None] = []  # indexed, even when there is no policy at all
            for pkey, pol in ctx.policies.items():
                ns_policies.setdefault(pkey.split('/', 1)[0], []).append(pol)
        policies = ns_policies.get(namespace)
        if not policies:
            return []
        deny, own = policy.isolating_groups(pod, policies)
        if any(_nb_acl.get_port_group(ctx.nb, group) is None for group in deny):
            ctx.queue.add(('netpol', namespace))
            raise NotYet('namespace %s has network policies whose port groups are not in the Northbound '
                         'database yet' % namespace)
        return deny + [group for group in own if _nb_acl.get_port_group(ctx.nb, group) is not None]

    def pod_ports_created(self, namespaces):
        """Ports of pods of ``namespaces`` were committed: their addresses are now what the
        address sets of policies that select them hold (a pod whose annotation was already
        out, as after the loss of the database, brings no API event once its port is there)."""
        if namespaces:
            self._pod_namespaces_changed(namespaces)

    def namespaces_changed(self, keys):
        """Namespaces changed (labels, creation, deletion): queue those whose policies have
        namespaceSelectors, and the changed ones that have policies."""
        ctx = self.ctx
        if not ctx.policies.synced.is_set():
            return
        own = set(keys) & self._policy_namespaces()
        ctx.queue.add_many([('netpol', ns) for ns in sorted(own | self._cross_namespace_policies())])

    def policies_changed(self, keys):
        ctx = self.ctx
        ctx.queue.add_many(sorted(set(('netpol', k.split('/', 1)[0]) for k in keys)))

    def stale_keys(self):
        """Namespaces with policy rows in the database: each is reconciled at start-up."""
        ctx = self.ctx
        out = set()
        with ctx.nb_lock:
            for table in ('Port_Group', 'Address_Set'):
                for row in ctx.nb.rows(table):
                    ids = _ovsdb.read(row, 'external_ids')
                    owner = ids.get(_names.OWNER_KEY)
                    if owner and any(_owners.may_remove(_names.WATCHER, ids, {_names.KIND_KEY: kind})
                                     for kind in POLICY_KINDS):
                        out.add(owner.split('/', 1)[0])
        self._policy_ns_in_nb |= out
        return [('netpol', ns) for ns in sorted(out)]

    def _pod_infos(self):
        """Every pod on the pod network as a ``policy.PodInfo`` whose addresses are those its
        logical switch port holds (a pod without a port has none: an annotation or a
        ``status.podIP`` the pod's creator wrote never reaches an address set). Each is read once
        per version of the pod and of its port's addresses: the informer's store replaces a
        pod's object on every change, so an entry whose object is the one in the store, with
        the same addresses, is still right. (A restart reconciles every namespace with
        policies, each over every pod: reading 10,000 pods ten times over was most of its policy
        work.) Workers may call this at once: the worst is a pod read twice."""
        ctx = self.ctx
        old, new, infos = self._pod_info_cache, {}, []
        with ctx.nb_lock:
            for key, pod in ctx.pods.items():
                entry = old.get(key)
                if not policy.on_pod_network(pod):
                    new[key] = (pod, None, None)
                    continue
                ips = self.pod_port_ips(ctx.nb, pod)
                if entry is None or entry[0] is not pod or entry[1] != ips:
                    entry = (pod, ips, policy.PodInfo(pod, ips=ips))
                new[key] = entry
                infos.append(entry[2])
        self._pod_info_cache = new
        return infos

    def reconcile(self, namespace):
        ctx = self.ctx
        prefix = namespace + '/'
        policies = [p for k, p in ctx.policies.items() if k.startswith(prefix)]
        model = dict(port_groups=[], address_sets=[], errors=[], warnings=[])
        if policies:
            cluster = policy.Cluster(None, [n for dummy, n in ctx.namespaces.items()], infos=self._pod_infos())
            model = policy.namespace_model(namespace, policies, cluster)
        with ctx.nb_lock:
            ctx.settle()
            cs = _txn.ChangeSet(ctx.nb)
            for aset in model['address_sets']:
                _nb_acl.ensure_address_set(cs, ctx.nb, aset['name'], aset['addresses'],
                                           external_ids=aset['external_ids'])
            for pg in model['port_groups']:
                _nb_acl.ensure_port_group(cs, ctx.nb, pg['name'], pg['ports'], pg['acls'],
                                          external_ids=pg['external_ids'], missing_ports='skip')
            keep_pg = set(pg['name'] for pg in model['port_groups'])
            keep_as = set(a['name'] for a in model['address_sets'])
            for row in ctx.nb.rows('Port_Group'):
                if row.name not in keep_pg and _owned_by(_ovsdb.read(row, 'external_ids'), namespace):
                    _nb_acl.remove_port_group(cs, ctx.nb, row.name)
            for row in ctx.nb.rows('Address_Set'):
                if row.name not in keep_as and _owned_by(_ovsdb.read(row, 'external_ids'), namespace):
                    _nb_acl.remove_address_set(cs, ctx.nb, row.name)
            if cs.changed:
                ctx.commit(cs)
                LOG.info('network policies converged' if policies else 'network policies removed',
                         extra=dict(kind='netpol', object=namespace, changes=sorted(cs.after)))
        if not policies:
            self._policy_ns_in_nb.discard(namespace)
        for text in model['errors']:
            LOG.error('network policy not translated', extra=dict(kind='netpol', object=namespace, reason=text))
            self._policy_event(namespace, policies, text, 'NetworkPolicyNotTranslated')
        for text in model['warnings']:
            LOG.warning('network policy partly applied', extra=dict(kind='netpol', object=namespace, reason=text))
            self._policy_event(namespace, policies, text, 'NetworkPolicyPartlyApplied')

    def _policy_event(self, namespace, policies, text, reason):
        ctx = self.ctx
        for pol in policies:
            name = (pol.get('metadata') or {}).get('name')
            if text.startswith('network policy %s/%s:' % (namespace, name)):
                ctx.object_event('networking.k8s.io/v1', 'NetworkPolicy', pol, reason, text)
                return

    def reconcile_mgmt(self, _key):
        """Each node's management port group (``policy.node_port_group_model``): the node's own
        management address to and from its pods, on its switch alone. Groups of nodes that are
        gone go, and so does the cluster-wide address set an older release made instead."""
        ctx = self.ctx
        with ctx.nb_lock:
            ctx.settle()
            cs = _txn.ChangeSet(ctx.nb)
            keep = set()
            for switch in ctx.nb.rows('Logical_Switch'):
                ids = _ovsdb.read(switch, 'external_ids')
                subnet = switch.other_config.get('subnet')
                if ids.get(_names.WATCHER_KEY) != _names.WATCHER_NODE or not subnet or not ids.get(_names.NODE_KEY):
                    continue
                node = ids[_names.NODE_KEY]
                wanted = policy.node_port_group_model(node, _names.mgmt_port(node), _nb.node_addresses(subnet)['mgmt_ip'])
                keep.add(wanted['name'])
                _nb_acl.ensure_port_group(cs, ctx.nb, wanted['name'], wanted['ports'], wanted['acls'],
                                          external_ids=wanted['external_ids'], missing_ports='skip')
            for row in ctx.nb.rows('Port_Group'):
                if row.name not in keep and _owners.may_remove(_names.WATCHER, _ovsdb.read(row, 'external_ids'),
                                                               {_names.KIND_KEY: _names.KIND_NODE_MGMT}):
                    _nb_acl.remove_port_group(cs, ctx.nb, row.name)
            if _nb_acl.get_address_set(ctx.nb, _names.MGMT_ADDRESS_SET) is not None:
                _nb_acl.remove_address_set(cs, ctx.nb, _names.MGMT_ADDRESS_SET)
            if cs.changed:
                ctx.commit(cs)
                LOG.info('node management port groups converged', extra=dict(kind='mgmt', nodes=len(keep)))
