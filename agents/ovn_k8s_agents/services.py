# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes Services and EndpointSlices -> the OVN load balancers they want.

Pure functions, no I/O: the watcher reads the objects, calls :func:`service_load_balancers`
and hands each wanted load balancer to ``_nb_lb.ensure_load_balancer``.

Objects are plain dicts in the Kubernetes API's own JSON form (camelCase, as the API
server sends them and ``kubectl get -o json`` prints them), not the Python client's
snake_case ``to_dict()`` form.

One load balancer per service and protocol, named ``Service_<namespace>/<name>_<PROTO>``, in
the group ``clusterLBGroup`` (every node switch and every gateway router):

- every cluster IP (``spec.clusterIPs``) at every service port, to the usable endpoints
  of the EndpointSlices of the same address family; a port's target (a number or a
  container port name) is resolved per endpoint, by the EndpointSlice port that carries
  the service port's name (the EndpointSlice controller writes one slice per resolved
  port set). Usable, as kube-proxy has it since Kubernetes 1.28: the ready endpoints,
  or, when none is ready, those that are serving and terminating (a one-replica rollout
  keeps being served by the old pod until the new one is ready);
- NodePort (and LoadBalancer) services: every gateway's external IP at the node port;
- ``spec.externalIPs`` and the IPs in ``status.loadBalancer.ingress`` at the service port;
- ``sessionAffinity: ClientIP`` -> ``options:affinity_timeout``;
- ``options:reject=true``, so a VIP without usable endpoints refuses connections at
  once (TCP reset, ICMP unreachable) instead of letting them hang;
- ``options:hairpin_snat_ip``: a pod's connection to its own service that comes back to it
  has this fixed source address (not the VIP), which network policies let in.

The traffic policies, as kube-proxy implements them, need per-node load balancers (as
ovn-kubernetes builds them, ``services/lb_config.go``); each node's are in that node's own
group, attached to that node's switch or gateway router only:

- ``externalTrafficPolicy: Local``: the external addresses (a gateway's node port,
  external IPs, load balancer ingress IPs) are served, on each gateway router, by
  ``Service_<ns>/<name>_<PROTO>_node_router_<node>`` in ``nodeRouterLBGroup_<node>``, to
  the endpoints on that node only, with the client's address kept: a load balancer with a
  local endpoint sets ``options:skip_snat``, which exempts it from a gateway router's
  ``lb_force_snat_ip`` (the ovn_gateway role's ``ovn_gateway_lb_force_snat_ip``). Not one
  without: OVN 23.03 compiles ``skip_snat`` on a VIP without backends into
  ``flags.skip_snat_for_lb = 1; drop;``, an action ovn-controller cannot parse, so that VIP's
  flow would be lost (it does the same with ``force_snat_for_lb`` on a gateway router with
  ``lb_force_snat_ip``: there such a VIP's flow is lost whatever the load balancer says). A
  node without a local endpoint drops (no ``reject``: OVN then compiles the VIP to
  ``drop``), so an external load balancer's health check sees no answer, as with
  kube-proxy. Traffic to those addresses from pods and nodes (through the
  node switches) goes to every usable endpoint, as kube-proxy short-circuits it, through
  ``Service_<ns>/<name>_<PROTO>_switch`` in ``clusterSwitchLBGroup`` (every node switch,
  no gateway router: a gateway router must see only its own node's VIP);
- ``internalTrafficPolicy: Local``: the cluster IPs are served, on each node switch, by
  ``Service_<ns>/<name>_<PROTO>_node_switch_<node>`` in ``nodeSwitchLBGroup_<node>``, to
  the endpoints on that node only; a node without one drops.

A per-node load balancer rejects only when the service has no usable endpoint at all (as
kube-proxy rejects a service without endpoints and drops where only the local ones are
missing); reject is an option of the whole load balancer, so a service whose ports of one
protocol differ (one without endpoints, one with endpoints elsewhere) drops on both.

Headless (``clusterIP: None``) and ExternalName services want nothing. Anything the
collection does not implement is returned as a warning naming the service and the field.
"""

from __future__ import absolute_import, division, print_function

import ipaddress

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names
# The names and keys, spelled in _names; kept here under the names the watcher and the tests use.
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._names import (  # noqa: F401 pylint: disable=unused-import
    LB_GROUP,
    SWITCH_LB_GROUP,
    OWNER_KEY,
    KIND_KEY,
    SERVICE_NAME_LABEL,
    load_balancer_name,
    switch_load_balancer_name,
    node_switch_load_balancer_name,
    node_router_load_balancer_name,
    node_switch_lb_group,
    node_router_lb_group,
)

NODE_KEY = _names.LB_NODE_KEY  # on a per-node load balancer: its node
PROTOCOLS = ('TCP', 'UDP', 'SCTP')
DEFAULT_AFFINITY_TIMEOUT = 10800
MAX_AFFINITY_TIMEOUT = 65535  # what OVN accepts
# The source of a pod's connection to its own service VIP that came back to it (hairpin):
# a fixed link-local address, so network policies can let it in (policy.HAIRPIN_SOURCE).
HAIRPIN_SNAT_IP = _names.HAIRPIN_SNAT_IP


def load_balancer_names(namespace, name, nodes=(), gateways=()):
    """Every name a load balancer of this service can have with these nodes and gateways."""
    out = []
    for proto in PROTOCOLS:
        out += [load_balancer_name(namespace, name, proto), switch_load_balancer_name(namespace, name, proto)]
        out += [node_switch_load_balancer_name(namespace, name, proto, n) for n in nodes]
        out += [node_router_load_balancer_name(namespace, name, proto, n) for n in gateways]
    return out


def lb_groups(nodes, gateways):
    """{group: [(table, name)]}: every group and what it is attached to, for the node
    switches ``nodes`` and the gateway routers of the nodes ``gateways``. Only the watcher's
    node switches carry the cluster groups (as before: the gateway routers come from the
    ovn_gateway role and get ``clusterLBGroup`` too)."""
    from_gr = [_names.gateway_router(n) for n in sorted(gateways)]
    switches = [_names.node_switch(n) for n in sorted(nodes)]
    out = {LB_GROUP: [('Logical_Switch', n) for n in switches] + [('Logical_Router', r) for r in from_gr],
           SWITCH_LB_GROUP: [('Logical_Switch', n) for n in switches]}
    for node in nodes:
        out[node_switch_lb_group(node)] = [('Logical_Switch', _names.node_switch(node))]
    for node in gateways:
        out[node_router_lb_group(node)] = [('Logical_Router', _names.gateway_router(node))]
    return out


# The OWNER_KEY value of a service's rows.
owner = _names.object_owner


def _meta(obj):
    return obj.get('metadata') or {}


def _endpoint(ip, port):
    ip = ipaddress.ip_address(ip)
    return ('[%s]:%d' if ip.version == 6 else '%s:%d') % (ip, port)


def _ready(endpoint):
    # Per the EndpointSlice API (and kube-proxy), unset ready and serving conditions mean
    # true, an unset terminating one false.
    return (endpoint.get('conditions') or {}).get('ready') is not False


def _serving_terminating(endpoint):
    conditions = endpoint.get('conditions') or {}
    return conditions.get('serving') is not False and conditions.get('terminating') is True


def usable(candidates, node=None):
    """Sorted "ip:port" that kube-proxy sends to, of ``candidates`` {"ip:port": (node, ready,
    serving and terminating)}, on ``node``'s endpoints alone when given: the ready ones, else
    (Kubernetes 1.28, ``ProxyTerminatingEndpoints``) those that are serving and terminating.
    kube-proxy falls back per node for its local endpoints, as here."""
    mine = dict((k, v) for k, v in candidates.items() if node is None or v[0] == node)
    ready = [k for k, v in mine.items() if v[1]]
    return sorted(ready or [k for k, v in mine.items() if v[2]], key=_order)


def _slice_backends(slices, port_name, protocol, family, node=None):
    """Sorted "ip:port" of the usable endpoints of ``family`` for the service port named
    ``port_name`` (on ``node`` alone when given)."""
    return usable(_candidates(slices, port_name, protocol, family), node)


def _candidates(slices, port_name, protocol, family):
    """{"ip:port": (node, ready, serving and terminating)} of the endpoints of ``family`` for
    the service port named ``port_name``."""
    out = {}
    for eps in slices:
        if eps.get('addressType', 'IPv4') != ('IPv4' if family == 4 else 'IPv6'):
            continue
        number = None
        for port in eps.get('ports') or []:
            if (port.get('name') or '') == (port_name or '') and (port.get('protocol') or 'TCP') == protocol:
                number = port.get('port')
        if number is None:
            continue
        for ep in eps.get('endpoints') or []:
            state = (ep.get('nodeName'), _ready(ep), _serving_terminating(ep))
            for addr in ep.get('addresses') or []:
                try:
                    if ipaddress.ip_address(addr).version == family:
                        text = _endpoint(addr, int(number))
                        old = out.get(text)
                        # One address in two slices (a slice being replaced): the better state wins.
                        out[text] = state if old is None else (old[0] or state[0], old[1] or state[1], old[2] or state[2])
                except ValueError:
                    continue
    return out


class _PortBackends(object):
    """The backends of one service port, per address family and node, each family's
    endpoints read from the slices once."""

    def __init__(self, slices, port_name, protocol):
        self.slices, self.port_name, self.protocol = slices, port_name, protocol
        self.candidates = {}

    def get(self, family, node=None):
        """"ip:port,..." that kube-proxy sends to (on ``node`` alone when given)."""
        if family not in self.candidates:
            self.candidates[family] = _candidates(self.slices, self.port_name, self.protocol, family)
        return ','.join(usable(self.candidates[family], node))

    def any(self):
        """Does any family looked at have a usable endpoint anywhere?"""
        return any(self.get(family) for family in list(self.candidates))


def _external(lbs, vip, backends, family, gateway_nodes, local):
    """An address reached from outside: in the cluster-wide load balancer; or, with
    externalTrafficPolicy Local, to every endpoint from the node switches and to the node's
    own endpoints on each of ``gateway_nodes``' gateway routers."""
    if not local:
        lbs.setdefault('cluster', {})[vip] = backends.get(family)
        return
    lbs.setdefault('switch', {})[vip] = backends.get(family)
    for node in gateway_nodes:
        lbs.setdefault(('router', node), {})[vip] = backends.get(family, node)


def _kind_order(item):
    """The cluster-wide load balancer first, then the switches', then the per-node ones."""
    kind = item[0]
    return (0, '', '') if kind == 'cluster' else (1, '', '') if kind == 'switch' else (2,) + tuple(kind)


def _order(text):
    host, port = text.rsplit(':', 1)
    ip = ipaddress.ip_address(host.strip('[]'))
    return (ip.version, int(ip), int(port))


def _family(ip):
    try:
        return ipaddress.ip_address(ip).version
    except ValueError:
        return None


def service_load_balancers(service, endpoint_slices, gateways=None, nodes=None):
    """The load balancers ``service`` wants, and warnings about what is not supported.

    ``endpoint_slices``: the service's EndpointSlices (others, by their
    ``kubernetes.io/service-name`` label, are ignored). ``gateways``: {node name:
    [external IPs of that node's gateway router]}, for NodePort services and
    ``externalTrafficPolicy: Local``. ``nodes``: the names of the nodes whose switches
    exist, for ``internalTrafficPolicy: Local`` (without it that policy is not applied,
    and said so in a warning).

    Returns ``{'load_balancers': [dict(name, protocol, vips, options, external_ids,
    groups)], 'warnings': [sentences]}``; ``protocol`` is lower case, as
    ``ensure_load_balancer`` takes it; ``groups`` are the load balancer groups it belongs
    in (see :func:`lb_groups` for where they are attached).
    """
    meta = _meta(service)
    ns, name = meta.get('namespace') or 'default', meta.get('name')
    spec = service.get('spec') or {}
    what = 'service %s/%s' % (ns, name)
    warnings = []
    svc_type = spec.get('type') or 'ClusterIP'
    if svc_type == 'ExternalName':
        return dict(load_balancers=[], warnings=[])
    if svc_type not in ('ClusterIP', 'NodePort', 'LoadBalancer'):
        return dict(load_balancers=[], warnings=['%s: type %s is not supported; it gets no load balancer'
                                                 % (what, svc_type)])
    cluster_ips = [ip for ip in (spec.get('clusterIPs') or [spec.get('clusterIP')]) if ip and ip != 'None']
    if not cluster_ips:
        # Headless: DNS answers with the pods themselves.
        return dict(load_balancers=[], warnings=[])
    slices = [s for s in endpoint_slices or []
              if (_meta(s).get('labels') or {}).get(SERVICE_NAME_LABEL, name) == name
              and (_meta(s).get('namespace') or ns) == ns]
    gateways = gateways or {}
    external_local = spec.get('externalTrafficPolicy') == 'Local'
    internal_local = spec.get('internalTrafficPolicy') == 'Local'
    if svc_type == 'LoadBalancer':
        warnings.append('%s: type LoadBalancer: the collection allocates no load balancer address; '
                        'the service is served at its cluster IPs, node ports and the addresses in its status' % what)
    if internal_local and nodes is None:
        warnings.append('%s: internalTrafficPolicy Local needs the list of nodes; cluster IPs go to all usable '
                        'endpoints' % what)
        internal_local = False
    if spec.get('loadBalancerSourceRanges'):
        warnings.append('%s: loadBalancerSourceRanges is not supported; the ranges are not enforced' % what)
    if spec.get('trafficDistribution'):
        warnings.append('%s: trafficDistribution is not supported; endpoints are chosen without topology' % what)
    options = {'reject': 'true', 'hairpin_snat_ip': HAIRPIN_SNAT_IP}
    if spec.get('sessionAffinity') == 'ClientIP':
        timeout = ((spec.get('sessionAffinityConfig') or {}).get('clientIP') or {}).get(
            'timeoutSeconds') or DEFAULT_AFFINITY_TIMEOUT
        if int(timeout) > MAX_AFFINITY_TIMEOUT:
            warnings.append('%s: session affinity timeout %s s is above what OVN supports; using %d s'
                            % (what, timeout, MAX_AFFINITY_TIMEOUT))
            timeout = MAX_AFFINITY_TIMEOUT
        options['affinity_timeout'] = str(int(timeout))
    extra_ips = list(spec.get('externalIPs') or [])
    extra_ips += [i.get('ip') for i in ((service.get('status') or {}).get('loadBalancer') or {}).get('ingress') or []
                  if i.get('ip')]
    for ing in ((service.get('status') or {}).get('loadBalancer') or {}).get('ingress') or []:
        if ing.get('hostname') and not ing.get('ip'):
            warnings.append('%s: load balancer ingress hostname %s is not supported' % (what, ing['hostname']))
    # Per protocol: {load balancer kind or (kind, node): {VIP: backends}}; any usable endpoint?
    by_proto, has_endpoints = {}, {}
    for port in spec.get('ports') or []:
        proto = (port.get('protocol') or 'TCP').upper()
        pname = port.get('name') or ''
        if proto not in PROTOCOLS:
            warnings.append('%s: port %s has protocol %s, which is not supported'
                            % (what, pname or port.get('port'), proto))
            continue
        lbs = by_proto.setdefault(proto, {})
        backends = _PortBackends(slices, pname, proto)
        for i, ip in enumerate(cluster_ips + extra_ips):
            family = _family(ip)
            if family is None:
                warnings.append('%s: %r is not an IP address; skipped' % (what, ip))
                continue
            vip = _endpoint(ip, int(port['port']))
            if i >= len(cluster_ips):
                _external(lbs, vip, backends, family, sorted(gateways), external_local)
            elif internal_local:
                for node in sorted(nodes):
                    lbs.setdefault(('switch', node), {})[vip] = backends.get(family, node)
            else:
                lbs.setdefault('cluster', {})[vip] = backends.get(family)
        if port.get('nodePort') and svc_type in ('NodePort', 'LoadBalancer'):
            for node, ips in sorted(gateways.items()):
                for ip in ips:
                    family = _family(ip)
                    if family is None:
                        warnings.append('%s: gateway address %r of node %s is not an IP address; skipped'
                                        % (what, ip, node))
                        continue
                    _external(lbs, _endpoint(ip, int(port['nodePort'])), backends, family, [node], external_local)
        has_endpoints[proto] = has_endpoints.get(proto, False) or backends.any()
    out = []
    for proto, lbs in sorted(by_proto.items()):
        ids = {KIND_KEY: _names.KIND_SERVICE, OWNER_KEY: owner(ns, name)}
        for kind, vips in sorted(lbs.items(), key=_kind_order):
            lb = dict(protocol=proto.lower(), vips=vips, options=dict(options), external_ids=dict(ids))
            if kind == 'cluster':
                lb.update(name=load_balancer_name(ns, name, proto), groups=[LB_GROUP])
            elif kind == 'switch':
                lb.update(name=switch_load_balancer_name(ns, name, proto), groups=[SWITCH_LB_GROUP])
            else:
                where, node = kind
                lb['external_ids'][NODE_KEY] = node
                if has_endpoints[proto]:
                    # Endpoints elsewhere but none here: drop, as kube-proxy does.
                    del lb['options']['reject']
                if where == 'router' and any(vips.values()):
                    # externalTrafficPolicy Local: the client's address kept, also behind lb_force_snat_ip.
                    lb['options']['skip_snat'] = 'true'
                if where == 'router':
                    lb.update(name=node_router_load_balancer_name(ns, name, proto, node),
                              groups=[node_router_lb_group(node)])
                else:
                    lb.update(name=node_switch_load_balancer_name(ns, name, proto, node),
                              groups=[node_switch_lb_group(node)])
            out.append(lb)
    return dict(load_balancers=out, warnings=warnings)
