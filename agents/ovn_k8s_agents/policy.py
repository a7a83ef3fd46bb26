# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes NetworkPolicies (with the pods and namespaces they select) -> the OVN port
groups, address sets and ACLs they want.

Pure functions, no I/O. Objects are plain dicts in the Kubernetes API's JSON form
(camelCase, as the API server sends them), not the Python client's snake_case form.
The watcher hands each wanted port group to ``_nb_acl.ensure_port_group`` and each
address set to ``_nb_acl.ensure_address_set``.

The model (ovn-kubernetes' shape, with OVN 23.03's ACLs, which have no tiers):

- For each namespace and direction, a *deny* port group holds every pod that a policy
  of the namespace selects for that direction (the pod is isolated). Its ACLs drop IP
  traffic at priority 1000, and (ingress) allow traffic from the hairpin source address at
  1001, so a pod reaches itself through its own service ("a pod cannot block access to
  itself"). Egress needs no such allowance: OVN's hairpin stage sends a connection that load
  balancing sent back to its source out of the switch before the egress ACLs (which apply
  after load balancing) are looked at (tests/functional/test_policy_hairpin_northd.py, and
  with real packets molecule/default/tests/test_policy_semantics.py).
- For each node, a port group of its management port alone (:func:`node_port_group`): a port
  group's ACLs apply on the logical switches that hold its ports, so its two ACLs (1001,
  ``allow-related``) apply on that node's switch only, and let that node's management address
  reach every pod of the node and every pod of the node reach it, isolated or not (kubelet
  probes; a pod reaching its node). Other nodes' management addresses get no such pass.
- For each policy, a port group of the pods it selects, with one ``allow-related``
  ACL at priority 1001 per rule (plus one per resolved named port), so the union of the
  rules of every policy is allowed and replies to allowed connections pass.
- A rule's pod and namespace selector peers become one address set of the matched pods'
  IPv4 addresses; ipBlocks are written into the match (``cidr`` minus ``except``). A
  label change moves addresses and ports between sets and groups; the ACLs stay.
- Egress ACLs carry ``options:apply-after-lb=true``: they see the backend a service VIP
  was balanced to, not the VIP.
- Named ports are resolved per pod: on the selected pods for ingress (the ACL names their
  ports inline), on the peer pods for egress (an address set per port number of the peers
  that have it; without ``to``, the peers are every pod of the cluster).
- A policy that cannot be translated is reported in ``errors`` with its name and the part
  that failed; it adds no allow ACL, and the pods it selects stay isolated (if even its
  pod selector is broken, every pod of its namespace is isolated): fail closed.

Pod addresses are IPv4 only (the collection's pod networks are IPv4); ipBlocks may be
IPv4 or IPv6.
"""

from __future__ import absolute_import, division, print_function

import functools
import ipaddress

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names
# The names and keys, spelled in _names; kept here under the names the watcher and the tests use.
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._names import (  # noqa: F401 pylint: disable=unused-import
    DIRECTION_KEY,
    KIND_KEY,
    MGMT_ADDRESS_SET,
    NAMED_PORT_KEY,
    OWNER_KEY,
    RULE_KEY,
    deny_port_group,
    named_port_address_set,
    node_port_group,
    policy_port_group,
    pod_port,
    rule_address_set,
)

ALLOW_PRIORITY = 1001
DENY_PRIORITY = 1000
NODE_KIND = _names.KIND_NODE_MGMT
# The source address OVN gives a pod's connection to its own service VIP that load balancing
# sent back to it (the load balancers' options:hairpin_snat_ip, set by services.py).
HAIRPIN_SOURCE = _names.HAIRPIN_SNAT_IP
PROTOCOLS = ('TCP', 'UDP', 'SCTP')
DIRECTIONS = ('Ingress', 'Egress')


class PolicyError(ValueError):
    """A part of a policy cannot be translated; the text names the policy and the part."""


# Label selectors --------------------------------------------------------------
def selector_matches(selector, labels, what='a label selector'):
    """Whether ``labels`` match a LabelSelector (matchLabels and matchExpressions).

    An empty selector matches everything. Raises PolicyError (naming ``what``) for an
    operator or values the API would refuse.
    """
    labels = labels or {}
    selector = selector or {}
    for key, value in (selector.get('matchLabels') or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get('matchExpressions') or []:
        key, op, values = expr.get('key'), expr.get('operator'), expr.get('values') or []
        if not key:
            raise PolicyError('%s: a match expression has no key' % what)
        if op in ('In', 'NotIn'):
            if not values:
                raise PolicyError('%s: operator %s on key %s needs values' % (what, op, key))
            found = key in labels and labels[key] in values
            if found != (op == 'In'):
                return False
        elif op in ('Exists', 'DoesNotExist'):
            if values:
                raise PolicyError('%s: operator %s on key %s takes no values' % (what, op, key))
            if (key in labels) != (op == 'Exists'):
                return False
        else:
            raise PolicyError('%s: operator %r on key %s is not one of In, NotIn, Exists, DoesNotExist'
                              % (what, op, key))
    return True


# Pods -------------------------------------------------------------------------
def _meta(obj):
    return obj.get('metadata') or {}


def on_pod_network(pod):
    """A scheduled, live pod that is not on the host network (it has a logical switch port)."""
    spec, status = pod.get('spec') or {}, pod.get('status') or {}
    return (not spec.get('hostNetwork') and bool(spec.get('nodeName'))
            and status.get('phase') not in ('Succeeded', 'Failed'))


@functools.lru_cache(maxsize=131072)
def ipv4_int(ip):
    """``ip`` as an integer if it is an IPv4 address, else None. Cached: every translation looks
    at every pod's addresses, and parsing them was most of a policy sync over thousands of pods."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return int(address) if address.version == 4 else None


def pod_ipv4(pod):
    status = pod.get('status') or {}
    ips = [p.get('ip') for p in status.get('podIPs') or []] or [status.get('podIP')]
    return [ip for ip in ips if isinstance(ip, str) and ip and ipv4_int(ip) is not None]


def _serving_containers(pod):
    """The containers whose ports a name may resolve to, in Kubernetes' order (its ``FindPort``):
    the containers, then the sidecars (init containers with ``restartPolicy: Always``, which
    keep running beside them; Kubernetes resolves their named ports since 1.29)."""
    spec = pod.get('spec') or {}
    return (list(spec.get('containers') or [])
            + [c for c in spec.get('initContainers') or [] if (c or {}).get('restartPolicy') == 'Always'])


def named_port(pod, name, protocol):
    """The container port number called ``name`` with ``protocol`` in ``pod`` (its containers,
    then its sidecars), or None."""
    for container in _serving_containers(pod):
        for port in (container or {}).get('ports') or []:
            if port.get('name') == name and (port.get('protocol') or 'TCP') == protocol:
                return int(port['containerPort'])
    return None


class PodInfo:
    """What the translation reads of one pod, worked out once. ``ips``: the pod's addresses
    as the network holds them (the watcher gives those of the pod's logical switch port, never
    what the pod object claims); without it, the pod's ``status.podIPs``."""

    __slots__ = ('obj', 'namespace', 'labels', 'lsp', 'ipv4')

    def __init__(self, pod, ips=None):
        meta = _meta(pod)
        self.obj, self.namespace, self.labels = pod, meta.get('namespace'), meta.get('labels') or {}
        self.lsp = pod_port(self.namespace, meta.get('name'))
        if ips is None:
            ips = pod_ipv4(pod)
        self.ipv4 = [(ipv4_int(ip), ip) for ip in ips if ipv4_int(ip) is not None]


class Cluster:
    """The pods (on the pod network) and namespace labels the translation looks at."""

    def __init__(self, pods, namespaces, infos=None):
        """``infos``: the pods already read as :class:`PodInfo` (those on the pod network),
        instead of ``pods``; a caller that keeps them between translations saves the parse."""
        self.ns_labels = dict((_meta(n).get('name'), _meta(n).get('labels') or {}) for n in namespaces or [])
        self.pods = list(infos) if infos is not None else [PodInfo(p) for p in pods or [] if on_pod_network(p)]
        self.by_ns = {}
        self._label_index = {}  # namespace -> {(label, value): [PodInfo]}: matching()
        for pod in self.pods:
            self.by_ns.setdefault(pod.namespace, []).append(pod)

    def in_namespace(self, ns):
        return self.by_ns.get(ns, [])

    def matching(self, ns, selector, what):
        """The pods of ``ns`` that ``selector`` picks, in their usual order. With matchLabels,
        only the pods that hold the rarest of those labels are tested (an index per namespace,
        built on first use): a namespaceSelector peer looks at every namespace's pods, for
        every policy that has one."""
        pods = self.in_namespace(ns)
        wanted = (selector or {}).get('matchLabels') or {}
        if wanted and len(pods) > 16:
            index = self._label_index.get(ns)
            if index is None:
                index = self._label_index[ns] = {}
                for pod in pods:
                    for pair in pod.labels.items():
                        index.setdefault(pair, []).append(pod)
            try:
                rarest = min(wanted.items(), key=lambda pair: len(index.get(pair, ())))
            except TypeError:  # a value that is not a string: let the full test say what is wrong
                rarest = None
            if rarest is not None:
                pods = index.get(rarest, ())
                if not (selector or {}).get('matchExpressions'):
                    # Labels only: the index's pods hold the rarest pair; test the others alone
                    # (a namespaceSelector peer over every namespace's pods made this the
                    # policies' largest cost at a restart).
                    rest = [pair for pair in wanted.items() if pair != rarest]
                    return [p for p in pods if all(p.labels.get(k) == v for k, v in rest)]
        return [p for p in pods if selector_matches(selector, p.labels, what)]

    def namespaces_matching(self, selector, what):
        names = set(self.ns_labels) | set(self.by_ns)
        return sorted(n for n in names if selector_matches(selector, self.ns_labels.get(n, {}), what))


def _lsps(pods):
    return sorted(set(p.lsp for p in pods))


def _sorted_ips(pods):
    return [ip for dummy, ip in sorted(set(entry for p in pods for entry in p.ipv4))]


# One policy ---------------------------------------------------------------------
def policy_types(policy):
    spec = policy.get('spec') or {}
    types = spec.get('policyTypes')
    if types:
        bad = [t for t in types if t not in DIRECTIONS]
        if bad:
            raise PolicyError('policyTypes %s: expected Ingress and/or Egress' % ', '.join(map(str, bad)))
        return [d for d in DIRECTIONS if d in types]
    return ['Ingress'] + (['Egress'] if spec.get('egress') else [])


def selected_pods(policy, cluster):
    ns = _meta(policy).get('namespace')
    selector = (policy.get('spec') or {}).get('podSelector') or {}
    return cluster.matching(ns, selector, 'podSelector')


def _peer_pods(peer, ns, cluster, part):
    pod_sel, ns_sel = peer.get('podSelector'), peer.get('namespaceSelector')
    if ns_sel is None:
        namespaces = [ns]
    else:
        namespaces = cluster.namespaces_matching(ns_sel, part + ' namespaceSelector')
    out = []
    for name in namespaces:
        if pod_sel is None:
            out.extend(cluster.in_namespace(name))
        else:
            out.extend(cluster.matching(name, pod_sel, part + ' podSelector'))
    return out


def _ip_block(block, field, part):
    cidr = block.get('cidr')
    try:
        net = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        raise PolicyError('%s: ipBlock cidr %r is not a CIDR' % (part, cidr))
    fam = 'ip%d.%s' % (net.version, field)
    excepts = []
    for item in block.get('except') or []:
        try:
            sub = ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            raise PolicyError('%s: ipBlock except %r is not a CIDR' % (part, item))
        if sub.version != net.version or not sub.subnet_of(net):
            raise PolicyError('%s: ipBlock except %s is not inside cidr %s' % (part, item, net))
        excepts.append(str(sub))
    if not excepts:
        return '%s == %s' % (fam, net)
    return '(%s == %s && %s != {%s})' % (fam, net, fam, ', '.join(excepts))


def _port_specs(ports, part):
    """[(protocol, number or name or None, end or None)] of a rule's ports (empty: any)."""
    out = []
    for i, port in enumerate(ports or []):
        what = '%s port %d' % (part, i)
        proto = (port.get('protocol') or 'TCP').upper()
        if proto not in PROTOCOLS:
            raise PolicyError('%s: protocol %s is not one of %s' % (what, proto, ', '.join(PROTOCOLS)))
        number, end = port.get('port'), port.get('endPort')
        if isinstance(number, str) and number.isdigit():
            number = int(number)
        if isinstance(number, int) and not 1 <= number <= 65535:
            raise PolicyError('%s: port %d is outside 1-65535' % (what, number))
        if end is not None:
            if not isinstance(number, int):
                raise PolicyError('%s: endPort %s needs a numeric port' % (what, end))
            if not isinstance(end, int) or not number <= end <= 65535:
                raise PolicyError('%s: endPort %r must be between port %d and 65535' % (what, end, number))
        if number is not None and not isinstance(number, (int, str)):
            raise PolicyError('%s: port %r is neither a number nor a name' % (what, number))
        out.append((proto, number, end))
    return out


def _port_match(proto, number, end):
    p = proto.lower()
    if number is None:
        return p
    if end is not None and end != number:
        return '%s && %s.dst >= %d && %s.dst <= %d' % (p, p, number, p, end)
    return '%s && %s.dst == %d' % (p, p, number)


def _either(terms):
    if len(terms) == 1:
        return terms[0]
    return '(%s)' % ' || '.join('(%s)' % t if ' && ' in t and not t.startswith('(') else t for t in terms)


def _acl(direction, match, owner, index, name_hint):
    acl = dict(direction='to-lport' if direction == 'Ingress' else 'from-lport', priority=ALLOW_PRIORITY,
               match=match, action='allow-related', name=name_hint[:63],
               external_ids={KIND_KEY: _names.KIND_POLICY, OWNER_KEY: owner, DIRECTION_KEY: direction,
                             RULE_KEY: str(index)})
    if direction == 'Egress':
        acl['options'] = {'apply-after-lb': 'true'}
    return acl


def translate_policy(policy, cluster):
    """One policy -> its port group, address sets, isolated directions and warnings.

    Raises PolicyError naming the part that cannot be translated (the caller names the
    policy and keeps its pods isolated).
    """
    meta = _meta(policy)
    ns, name = meta.get('namespace'), meta.get('name')
    owner = _names.object_owner(ns, name)
    spec = policy.get('spec') or {}
    types = policy_types(policy)
    selected = selected_pods(policy, cluster)
    pg = policy_port_group(ns, name)
    acls, sets, warnings = [], [], []
    for direction in types:
        key, peers_key = ('ingress', 'from') if direction == 'Ingress' else ('egress', 'to')
        field = 'src' if direction == 'Ingress' else 'dst'
        port_dir = 'outport' if direction == 'Ingress' else 'inport'
        for index, rule in enumerate(spec.get(key) or []):
            part = '%s rule %d' % (key, index)
            rule = rule or {}
            peers = rule.get(peers_key) or []
            selector_pods, blocks = None, []
            for j, peer in enumerate(peers):
                ppart = '%s %s %d' % (part, peers_key, j)
                if 'ipBlock' in peer:
                    if peer.get('podSelector') is not None or peer.get('namespaceSelector') is not None:
                        raise PolicyError('%s: ipBlock cannot be combined with a selector' % ppart)
                    blocks.append(_ip_block(peer['ipBlock'] or {}, field, ppart))
                elif peer.get('podSelector') is None and peer.get('namespaceSelector') is None:
                    raise PolicyError('%s: a peer needs podSelector, namespaceSelector or ipBlock' % ppart)
                else:
                    selector_pods = (selector_pods or []) + _peer_pods(peer, ns, cluster, ppart)
            terms = list(blocks)
            if selector_pods is not None:
                aset = rule_address_set(ns, name, direction, index)
                addresses = _sorted_ips(selector_pods)
                sets.append(dict(name=aset, addresses=addresses,
                                 external_ids={KIND_KEY: _names.KIND_POLICY, OWNER_KEY: owner,
                                               DIRECTION_KEY: direction, RULE_KEY: str(index)}))
                terms.insert(0, 'ip4.%s == $%s' % (field, aset))
            peer_term = _either(terms) if terms else None
            specs = _port_specs(rule.get('ports'), part)
            numeric = [s for s in specs if not isinstance(s[1], str)]
            named = [s for s in specs if isinstance(s[1], str)]
            hint = '%s:%s:%d' % (owner, key, index)
            base = '%s == @%s' % (port_dir, pg)
            if not specs or numeric:
                match = [base]
                if peer_term:
                    match.append(peer_term)
                if numeric:
                    match.append(_either([_port_match(*s) for s in numeric]))
                acls.append(_acl(direction, ' && '.join(match), owner, index, hint))
            for proto, pname, dummy in named:
                groups = {}
                if direction == 'Ingress':
                    for pod in selected:
                        number = named_port(pod.obj, pname, proto)
                        if number is not None:
                            groups.setdefault(number, []).append('"%s"' % pod.lsp)
                    for number, lsps in sorted(groups.items()):
                        match = ['outport == {%s}' % ', '.join(sorted(lsps))]
                        if peer_term:
                            match.append(peer_term)
                        match.append(_port_match(proto, number, None))
                        acls.append(_acl(direction, ' && '.join(match), owner, index, hint))
                else:
                    if blocks:
                        warnings.append('%s: named port %s matches only pods; it does not open the ipBlock peers'
                                        % (part, pname))
                    targets = selector_pods if selector_pods is not None else (cluster.pods if not peers else [])
                    for pod in targets:
                        number = named_port(pod.obj, pname, proto)
                        if number is not None:
                            groups.setdefault(number, []).append(pod)
                    for number, pods in sorted(groups.items()):
                        ips = _sorted_ips(pods)
                        if not ips:
                            continue
                        # An address set, not the addresses in the match: without peers these
                        # are the pods of the whole cluster that name the port, and pods come
                        # and go; the ACL stays as long as one of them has that number.
                        aset = named_port_address_set(ns, name, index, proto, pname, number)
                        sets.append(dict(name=aset, addresses=ips,
                                         external_ids={KIND_KEY: _names.KIND_POLICY, OWNER_KEY: owner,
                                                       DIRECTION_KEY: direction, RULE_KEY: str(index),
                                                       NAMED_PORT_KEY: '%s/%s/%d' % (proto, pname, number)}))
                        match = [base, 'ip4.dst == $%s' % aset, _port_match(proto, number, None)]
                        acls.append(_acl(direction, ' && '.join(match), owner, index, hint))
    port_group = dict(name=pg, ports=_lsps(selected), acls=acls,
                      external_ids={KIND_KEY: _names.KIND_POLICY, OWNER_KEY: owner})
    return dict(port_group=port_group, address_sets=sets, directions=types, selected=_lsps(selected),
                warnings=warnings)


# A namespace's isolation ---------------------------------------------------------------
def _selector_readable(selector):
    """Whether every match expression of ``selector`` is one the API accepts (checked on its
    own: :func:`selector_matches` stops at the first label that does not match)."""
    for expr in (selector or {}).get('matchExpressions') or []:
        try:
            selector_matches({'matchExpressions': [expr]}, {expr.get('key'): None} if expr.get('key') else {})
        except PolicyError:
            return False
    return True


def isolating_groups(pod, policies):
    """The port groups a new pod's port joins in the transaction that creates it, from the
    policies of its namespace: ``(deny, own)``, the deny groups of every direction that a policy
    selecting it isolates, and those policies' own port groups. What :func:`namespace_model`
    then wants agrees: a policy whose types or pod selector cannot be read isolates the pod in
    both directions or as if it selected it (it keeps such pods isolated)."""
    meta = _meta(pod)
    ns, labels = meta.get('namespace'), meta.get('labels') or {}
    deny, own = set(), set()
    for pol in policies:
        try:
            types = policy_types(pol)
        except PolicyError:
            types = list(DIRECTIONS)
        selector = (pol.get('spec') or {}).get('podSelector') or {}
        try:
            selected = not _selector_readable(selector) or selector_matches(selector, labels)
        except PolicyError:
            selected = True
        if selected:
            deny.update(deny_port_group(ns, d) for d in types)
            own.add(policy_port_group(ns, _meta(pol).get('name') or ''))
    return sorted(deny), sorted(own)


def deny_port_groups(namespace, isolated):
    """The two deny port groups of ``namespace``; ``isolated`` = {direction: [lsp names]}."""
    out = []
    for direction in DIRECTIONS:
        pg = deny_port_group(namespace, direction)
        ids = {KIND_KEY: _names.KIND_POLICY_DENY, OWNER_KEY: namespace, DIRECTION_KEY: direction}
        if direction == 'Ingress':
            acls = [dict(direction='to-lport', priority=DENY_PRIORITY, match='outport == @%s && ip' % pg,
                         action='drop', name=('%s:ingress:deny' % namespace)[:63], external_ids=ids),
                    dict(direction='to-lport', priority=ALLOW_PRIORITY,
                         match='outport == @%s && ip4.src == %s' % (pg, HAIRPIN_SOURCE),
                         action='allow-related', name=('%s:ingress:hairpin' % namespace)[:63], external_ids=ids)]
        else:
            acls = [dict(direction='from-lport', priority=DENY_PRIORITY, match='inport == @%s && ip' % pg,
                         action='drop', name=('%s:egress:deny' % namespace)[:63], external_ids=ids,
                         options={'apply-after-lb': 'true'})]
        out.append(dict(name=pg, ports=sorted(set(isolated.get(direction, []))), acls=acls, external_ids=ids))
    return out


def node_port_group_model(node, mgmt_port, mgmt_ip):
    """The port group of ``node``'s management port ``mgmt_port`` (its logical switch port)
    with address ``mgmt_ip``: on that node's switch, the management address reaches every pod
    and every pod reaches it (both ``allow-related``, above the deny groups' drops)."""
    ip = str(ipaddress.ip_address(str(mgmt_ip).split('/', maxsplit=1)[0]))
    ids = {KIND_KEY: NODE_KIND, OWNER_KEY: node}
    return dict(name=node_port_group(node), ports=[mgmt_port], external_ids=ids, acls=[
        dict(direction='to-lport', priority=ALLOW_PRIORITY, match='ip4.src == %s' % ip, action='allow-related',
             name=('%s:node:in' % node)[:63], external_ids=dict(ids, **{DIRECTION_KEY: 'Ingress'})),
        dict(direction='from-lport', priority=ALLOW_PRIORITY, match='ip4.dst == %s' % ip, action='allow-related',
             name=('%s:node:out' % node)[:63], external_ids=dict(ids, **{DIRECTION_KEY: 'Egress'}),
             options={'apply-after-lb': 'true'})])


def namespace_model(namespace, policies, cluster):
    """Everything the policies of one namespace want: port groups, address sets, errors."""
    port_groups, address_sets, errors, warnings = [], [], [], []
    isolated = {}
    for policy in sorted(policies, key=lambda p: _meta(p).get('name') or ''):
        what = 'network policy %s/%s' % (namespace, _meta(policy).get('name'))
        try:
            out = translate_policy(policy, cluster)
        except PolicyError as exc:
            errors.append('%s: %s; the pods it selects stay isolated' % (what, exc))
            try:
                types = policy_types(policy)
            except PolicyError:
                types = list(DIRECTIONS)
            try:
                pods = _lsps(selected_pods(policy, cluster))
            except PolicyError:
                pods = _lsps(cluster.in_namespace(namespace))
            for direction in types:
                isolated.setdefault(direction, []).extend(pods)
            continue
        warnings.extend('%s: %s' % (what, w) for w in out['warnings'])
        for direction in out['directions']:
            isolated.setdefault(direction, []).extend(out['selected'])
        port_groups.append(out['port_group'])
        address_sets.extend(out['address_sets'])
    port_groups.extend(deny_port_groups(namespace, isolated))
    return dict(port_groups=port_groups, address_sets=address_sets, errors=errors, warnings=warnings)


def network_policy_model(policies, pods, namespaces, nodes=()):
    """The whole cluster's wanted port groups, address sets, errors and warnings.

    ``policies``: NetworkPolicy objects; ``pods``: Pod objects (host-network, unscheduled
    and finished pods are left out); ``namespaces``: Namespace objects (for their
    labels); ``nodes``: (node, management port, management address) of each node, whose
    port groups let each node's own management address to and from its pods.
    Deny port groups are made only for namespaces that have policies.
    """
    cluster = Cluster(pods, namespaces)
    by_ns = {}
    for policy in policies or []:
        by_ns.setdefault(_meta(policy).get('namespace'), []).append(policy)
    model = dict(port_groups=[node_port_group_model(*node) for node in nodes or ()], address_sets=[],
                 errors=[], warnings=[])
    for ns in sorted(by_ns):
        part = namespace_model(ns, by_ns[ns], cluster)
        for key in model:
            model[key].extend(part[key])
    return model
