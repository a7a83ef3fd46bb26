# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes Services and EndpointSlices -> the OVN load balancers they want.

Pure functions, no I/O: the watcher reads the objects, calls :func:`service_load_balancers`
and hands each wanted load balancer to ``_nb_lb.ensure_load_balancer``.

Objects are plain dicts in the Kubernetes API's own JSON form (camelCase, as the API
server sends them and ``kubectl get -o json`` prints them), not the Python client's
snake_case ``to_dict()`` form.

One load balancer per service and protocol, named ``Service_<namespace>/<name>_<PROTO>``:

- every cluster IP (``spec.clusterIPs``) at every service port, to the ready endpoints
  of the EndpointSlices of the same address family; a port's target (a number or a
  container port name) is resolved per endpoint, by the EndpointSlice port that carries
  the service port's name (the EndpointSlice controller writes one slice per resolved
  port set);
- NodePort (and LoadBalancer) services: every gateway's external IP at the node port;
  with ``externalTrafficPolicy: Local`` a gateway's VIP goes only to endpoints on that
  gateway's node;
- ``spec.externalIPs`` and the IPs in ``status.loadBalancer.ingress`` at the service port;
- ``sessionAffinity: ClientIP`` -> ``options:affinity_timeout``;
- ``options:reject=true`` always, so a VIP without ready endpoints refuses connections at
  once (TCP reset, ICMP unreachable) instead of letting them hang;
- ``options:hairpin_snat_ip``: a pod's connection to its own service that comes back to it
  has this fixed source address (not the VIP), which network policies let in.

Headless (``clusterIP: None``) and ExternalName services want nothing. Anything the
collection does not implement is returned as a warning naming the service and the field.
"""

from __future__ import absolute_import, division, print_function

import ipaddress

LB_GROUP = 'clusterLBGroup'
OWNER_KEY = 'k8s.ovn.org/owner'
KIND_KEY = 'k8s.ovn.org/kind'
SERVICE_NAME_LABEL = 'kubernetes.io/service-name'
PROTOCOLS = ('TCP', 'UDP', 'SCTP')
DEFAULT_AFFINITY_TIMEOUT = 10800
MAX_AFFINITY_TIMEOUT = 65535  # what OVN accepts
# The source of a pod's connection to its own service VIP that came back to it (hairpin):
# a fixed link-local address, so network policies can let it in (policy.HAIRPIN_SOURCE).
HAIRPIN_SNAT_IP = '169.254.169.5'


def load_balancer_name(namespace, name, protocol):
    """The load balancer of one service and protocol (TCP, UDP or SCTP)."""
    return 'Service_%s/%s_%s' % (namespace, name, protocol.upper())


def owner(namespace, name):
    return '%s/%s' % (namespace, name)


def _meta(obj):
    return obj.get('metadata') or {}


def _endpoint(ip, port):
    ip = ipaddress.ip_address(ip)
    return ('[%s]:%d' if ip.version == 6 else '%s:%d') % (ip, port)


def _ready(endpoint):
    # Per the EndpointSlice API, an unset ready condition means ready.
    return (endpoint.get('conditions') or {}).get('ready') is not False


def _slice_backends(slices, port_name, protocol, family, node=None):
    """Sorted "ip:port" of ready endpoints of ``family`` for the service port named ``port_name``."""
    out = set()
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
            if not _ready(ep) or (node is not None and ep.get('nodeName') != node):
                continue
            for addr in ep.get('addresses') or []:
                try:
                    if ipaddress.ip_address(addr).version == family:
                        out.add(_endpoint(addr, int(number)))
                except ValueError:
                    continue
    return sorted(out, key=_order)


def _order(text):
    host, port = text.rsplit(':', 1)
    ip = ipaddress.ip_address(host.strip('[]'))
    return (ip.version, int(ip), int(port))


def _family(ip):
    try:
        return ipaddress.ip_address(ip).version
    except ValueError:
        return None


def service_load_balancers(service, endpoint_slices, gateways=None):
    """The load balancers ``service`` wants, and warnings about what is not supported.

    ``endpoint_slices``: the service's EndpointSlices (others, by their
    ``kubernetes.io/service-name`` label, are ignored). ``gateways``: {node name:
    [external IPs of that node's gateway router]}, for NodePort services.

    Returns ``{'load_balancers': [dict(name, protocol, vips, options, external_ids)],
    'warnings': [sentences]}``; ``protocol`` is lower case, as ``ensure_load_balancer``
    takes it.
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
    local = spec.get('externalTrafficPolicy') == 'Local'
    if svc_type == 'LoadBalancer':
        warnings.append('%s: type LoadBalancer: the collection allocates no load balancer address; '
                        'the service is served at its cluster IPs, node ports and the addresses in its status' % what)
    if spec.get('internalTrafficPolicy') == 'Local':
        warnings.append('%s: internalTrafficPolicy Local is not supported; cluster IPs go to all ready endpoints' % what)
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
    by_proto = {}
    for port in spec.get('ports') or []:
        proto = (port.get('protocol') or 'TCP').upper()
        pname = port.get('name') or ''
        if proto not in PROTOCOLS:
            warnings.append('%s: port %s has protocol %s, which is not supported'
                            % (what, pname or port.get('port'), proto))
            continue
        vips = by_proto.setdefault(proto, {})
        for ip in cluster_ips + extra_ips:
            family = _family(ip)
            if family is None:
                warnings.append('%s: %r is not an IP address; skipped' % (what, ip))
                continue
            vips[_endpoint(ip, int(port['port']))] = ','.join(_slice_backends(slices, pname, proto, family))
        if port.get('nodePort') and svc_type in ('NodePort', 'LoadBalancer'):
            for node, ips in sorted((gateways or {}).items()):
                for ip in ips:
                    family = _family(ip)
                    if family is None:
                        warnings.append('%s: gateway address %r of node %s is not an IP address; skipped'
                                        % (what, ip, node))
                        continue
                    backends = _slice_backends(slices, pname, proto, family, node=node if local else None)
                    vips[_endpoint(ip, int(port['nodePort']))] = ','.join(backends)
    lbs = []
    for proto, vips in sorted(by_proto.items()):
        lbs.append(dict(name=load_balancer_name(ns, name, proto), protocol=proto.lower(), vips=vips,
                        options=dict(options),
                        external_ids={KIND_KEY: 'Service', OWNER_KEY: owner(ns, name)}))
    return dict(load_balancers=lbs, warnings=warnings)
