# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service + EndpointSlices -> wanted load balancers (ovn_k8s_agents.services), on objects in
the API's JSON form as the kube-apiserver and the EndpointSlice controller write them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

# agents/ is not installed: the tests import it from the checkout.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'agents'))

from ovn_k8s_agents import services  # noqa: E402


def service(name='web', ns='default', **spec):
    spec.setdefault('type', 'ClusterIP')
    spec.setdefault('clusterIP', '10.96.0.10')
    spec.setdefault('clusterIPs', [spec['clusterIP']])
    spec.setdefault('ports', [{'name': 'http', 'port': 80, 'protocol': 'TCP', 'targetPort': 'web'}])
    return {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': name, 'namespace': ns}, 'spec': spec}


def ep(ip, node='node1', ready=True, serving=None, terminating=False):
    out = {'addresses': [ip], 'nodeName': node,
           'conditions': {'ready': ready, 'serving': ready if serving is None else serving, 'terminating': terminating}}
    if ready is None:
        del out['conditions']['ready']
    return out


def by_name(out):
    return dict((lb['name'], lb) for lb in out['load_balancers'])


def eps(name, ports, endpoints, svc='web', ns='default', family='IPv4'):
    return {'apiVersion': 'discovery.k8s.io/v1', 'kind': 'EndpointSlice', 'addressType': family,
            'metadata': {'name': name, 'namespace': ns, 'labels': {'kubernetes.io/service-name': svc}},
            'ports': [dict(name=n, port=p, protocol=proto) for n, p, proto in ports], 'endpoints': endpoints}


def test_cluster_ip_named_target_port_resolved_per_endpoint():
    # Two deployments behind one service whose named target port has different numbers:
    # the EndpointSlice controller writes one slice per resolved port.
    slices = [eps('web-a', [('http', 8080, 'TCP')], [ep('10.128.1.5'), ep('10.128.2.9', ready=False)]),
              eps('web-b', [('http', 9090, 'TCP')], [ep('10.128.2.7', 'node2'), ep('10.128.1.4', ready=None)]),
              eps('other', [('http', 1, 'TCP')], [ep('10.128.9.9')], svc='other')]
    out = services.service_load_balancers(service(), slices)
    assert out == {'warnings': [], 'load_balancers': [{
        'name': 'Service_default/web_TCP', 'protocol': 'tcp',
        'vips': {'10.96.0.10:80': '10.128.1.4:9090,10.128.1.5:8080,10.128.2.7:9090'},
        'options': {'reject': 'true', 'hairpin_snat_ip': '169.254.169.5'}, 'groups': ['clusterLBGroup'],
        'external_ids': {'k8s.ovn.org/kind': 'Service', 'k8s.ovn.org/owner': 'default/web'}}]}


def test_one_load_balancer_per_protocol_and_multiple_ports():
    svc = service('dns', 'kube-system', clusterIP='10.96.0.53', ports=[
        {'name': 'dns', 'port': 53, 'protocol': 'UDP', 'targetPort': 53},
        {'name': 'dns-tcp', 'port': 53, 'protocol': 'TCP', 'targetPort': 53},
        {'name': 'metrics', 'port': 9153, 'protocol': 'TCP', 'targetPort': 9153},
        {'name': 'assoc', 'port': 3868, 'protocol': 'SCTP', 'targetPort': 3868}])
    slices = [eps('dns-1', [('dns', 53, 'UDP'), ('dns-tcp', 53, 'TCP'), ('metrics', 9153, 'TCP'), ('assoc', 3868, 'SCTP')],
                  [ep('10.128.1.9'), ep('10.128.2.9', 'node2')], svc='dns', ns='kube-system')]
    lbs = dict((lb['name'], lb) for lb in services.service_load_balancers(svc, slices)['load_balancers'])
    assert sorted(lbs) == ['Service_kube-system/dns_SCTP', 'Service_kube-system/dns_TCP', 'Service_kube-system/dns_UDP']
    assert lbs['Service_kube-system/dns_UDP']['vips'] == {'10.96.0.53:53': '10.128.1.9:53,10.128.2.9:53'}
    assert lbs['Service_kube-system/dns_UDP']['protocol'] == 'udp'
    assert lbs['Service_kube-system/dns_TCP']['vips'] == {'10.96.0.53:53': '10.128.1.9:53,10.128.2.9:53',
                                                          '10.96.0.53:9153': '10.128.1.9:9153,10.128.2.9:9153'}
    assert lbs['Service_kube-system/dns_SCTP']['vips'] == {'10.96.0.53:3868': '10.128.1.9:3868,10.128.2.9:3868'}


def test_no_ready_endpoint_rejects_at_once():
    out = services.service_load_balancers(service(), [eps('web-a', [('http', 8080, 'TCP')], [ep('10.128.1.5', ready=False)])])
    lb = out['load_balancers'][0]
    assert lb['vips'] == {'10.96.0.10:80': ''} and lb['options']['reject'] == 'true'
    assert services.service_load_balancers(service(), [])['load_balancers'][0]['vips'] == {'10.96.0.10:80': ''}


def test_node_port_on_every_gateway_and_external_ips_and_affinity():
    svc = service(type='NodePort', externalIPs=['192.168.50.100'], sessionAffinity='ClientIP',
                  ports=[{'name': 'http', 'port': 80, 'protocol': 'TCP', 'targetPort': 8080, 'nodePort': 30080}])
    slices = [eps('web-a', [('http', 8080, 'TCP')], [ep('10.128.1.5'), ep('10.128.2.7', 'node2')])]
    gateways = {'node1': ['172.18.0.11'], 'node2': ['172.18.0.12']}
    lb = services.service_load_balancers(svc, slices, gateways)['load_balancers'][0]
    both = '10.128.1.5:8080,10.128.2.7:8080'
    assert lb['vips'] == {'10.96.0.10:80': both, '192.168.50.100:80': both,
                          '172.18.0.11:30080': both, '172.18.0.12:30080': both}
    assert lb['options'] == {'reject': 'true', 'hairpin_snat_ip': '169.254.169.5', 'affinity_timeout': '10800'}
    svc['spec']['sessionAffinityConfig'] = {'clientIP': {'timeoutSeconds': 30}}
    lb = services.service_load_balancers(svc, slices, gateways)['load_balancers'][0]
    assert lb['options']['affinity_timeout'] == '30'


def test_dual_stack_backends_follow_the_vip_family():
    svc = service(clusterIP='10.96.0.10', clusterIPs=['10.96.0.10', 'fd00:96::10'])
    slices = [eps('v4', [('http', 8080, 'TCP')], [ep('10.128.1.5')]),
              eps('v6', [('http', 8080, 'TCP')], [ep('fd00:128::5')], family='IPv6')]
    lb = services.service_load_balancers(svc, slices)['load_balancers'][0]
    assert lb['vips'] == {'10.96.0.10:80': '10.128.1.5:8080', '[fd00:96::10]:80': '[fd00:128::5]:8080'}


def test_headless_and_external_name_want_nothing():
    assert services.service_load_balancers(service(clusterIP='None', clusterIPs=['None']), []) == \
        {'load_balancers': [], 'warnings': []}
    assert services.service_load_balancers(
        {'metadata': {'name': 'x', 'namespace': 'default'}, 'spec': {'type': 'ExternalName', 'externalName': 'example.org'}},
        []) == {'load_balancers': [], 'warnings': []}


def test_unsupported_fields_are_warnings_naming_the_service():
    svc = service(type='LoadBalancer', internalTrafficPolicy='Local', loadBalancerSourceRanges=['10.0.0.0/8'],
                  ports=[{'name': 'http', 'port': 80, 'protocol': 'TCP', 'targetPort': 80, 'nodePort': 30001}])
    svc['status'] = {'loadBalancer': {'ingress': [{'ip': '192.168.60.1'}, {'hostname': 'lb.example.org'}]}}
    out = services.service_load_balancers(svc, [], {'node1': ['172.18.0.11']})
    assert set(out['load_balancers'][0]['vips']) == {'10.96.0.10:80', '192.168.60.1:80', '172.18.0.11:30001'}
    text = '\n'.join(out['warnings'])
    assert all(w.startswith('service default/web: ') for w in out['warnings'])
    for word in ('type LoadBalancer', 'internalTrafficPolicy Local', 'loadBalancerSourceRanges', 'lb.example.org'):
        assert word in text


def test_case2_serving_and_terminating_endpoints_serve_when_none_is_ready():
    """Issue 23, case 2: a one-replica rollout. The old pod is terminating but still serving,
    the new one is not ready yet: kube-proxy (Kubernetes 1.28) sends to the old one."""
    old = ep('10.128.1.5', 'node1', ready=False, serving=True, terminating=True)
    new = ep('10.128.2.7', 'node2', ready=False, serving=False)
    slices = [eps('web-a', [('http', 8080, 'TCP')], [old, new])]
    lb = services.service_load_balancers(service(), slices)['load_balancers'][0]
    assert lb['vips'] == {'10.96.0.10:80': '10.128.1.5:8080'}
    # The new pod ready: only it (a terminating endpoint is a fallback, not a peer).
    new['conditions'].update(ready=True, serving=True)
    lb = services.service_load_balancers(service(), slices)['load_balancers'][0]
    assert lb['vips'] == {'10.96.0.10:80': '10.128.2.7:8080'}
    # Terminating and no longer serving, nothing else: the service rejects.
    new['conditions'].update(ready=False, serving=False)
    old['conditions'].update(serving=False)
    lb = services.service_load_balancers(service(), slices)['load_balancers'][0]
    assert lb['vips'] == {'10.96.0.10:80': ''} and lb['options']['reject'] == 'true'
    # An unset serving condition means serving (the API's rule, kube-proxy's reading).
    del old['conditions']['serving']
    lb = services.service_load_balancers(service(), slices)['load_balancers'][0]
    assert lb['vips'] == {'10.96.0.10:80': '10.128.1.5:8080'}
    # With externalTrafficPolicy Local the fallback is per node: node1 has a ready endpoint,
    # node2 only a serving, terminating one; each gateway serves its own.
    svc = service(type='NodePort', externalTrafficPolicy='Local',
                  ports=[{'name': 'http', 'port': 80, 'protocol': 'TCP', 'targetPort': 8080, 'nodePort': 30080}])
    slices = [eps('web-a', [('http', 8080, 'TCP')], [
        ep('10.128.1.5', 'node1'), ep('10.128.2.7', 'node2', ready=False, serving=True, terminating=True)])]
    lbs = by_name(services.service_load_balancers(svc, slices, {'node1': ['172.18.0.11'], 'node2': ['172.18.0.12']}))
    assert lbs['Service_default/web_TCP']['vips'] == {'10.96.0.10:80': '10.128.1.5:8080'}
    assert lbs['Service_default/web_TCP_node_router_node1']['vips'] == {'172.18.0.11:30080': '10.128.1.5:8080'}
    assert lbs['Service_default/web_TCP_node_router_node2']['vips'] == {'172.18.0.12:30080': '10.128.2.7:8080'}


def test_case3_external_traffic_policy_local_on_every_external_address():
    """Issue 23, case 3: externalTrafficPolicy Local covers node ports, external IPs and load
    balancer ingress IPs. Each gateway router serves them from its own node's endpoints
    and drops (no reject) where it has none; pods and
    nodes reaching the same addresses through their switch get every endpoint, as kube-proxy
    short-circuits that traffic; the cluster IP stays cluster-wide."""
    svc = service(type='LoadBalancer', externalTrafficPolicy='Local', externalIPs=['192.168.50.100'],
                  ports=[{'name': 'http', 'port': 80, 'protocol': 'TCP', 'targetPort': 8080, 'nodePort': 30080}])
    svc['status'] = {'loadBalancer': {'ingress': [{'ip': '192.168.60.1'}]}}
    slices = [eps('web-a', [('http', 8080, 'TCP')], [ep('10.128.1.5', 'node1'), ep('10.128.1.6', 'node1')])]
    gateways = {'node1': ['172.18.0.11'], 'node2': ['172.18.0.12']}
    out = services.service_load_balancers(svc, slices, gateways)
    lbs = by_name(out)
    both = '10.128.1.5:8080,10.128.1.6:8080'
    ids = {'k8s.ovn.org/kind': 'Service', 'k8s.ovn.org/owner': 'default/web'}
    assert lbs == {
        'Service_default/web_TCP': dict(
            name='Service_default/web_TCP', protocol='tcp', groups=['clusterLBGroup'], external_ids=ids,
            vips={'10.96.0.10:80': both}, options={'reject': 'true', 'hairpin_snat_ip': '169.254.169.5'}),
        'Service_default/web_TCP_switch': dict(
            name='Service_default/web_TCP_switch', protocol='tcp', groups=['clusterSwitchLBGroup'], external_ids=ids,
            vips={'192.168.50.100:80': both, '192.168.60.1:80': both, '172.18.0.11:30080': both,
                  '172.18.0.12:30080': both},
            options={'reject': 'true', 'hairpin_snat_ip': '169.254.169.5'}),
        'Service_default/web_TCP_node_router_node1': dict(
            name='Service_default/web_TCP_node_router_node1', protocol='tcp', groups=['nodeRouterLBGroup_node1'],
            external_ids=dict(ids, **{'k8s.ovn.org/node': 'node1'}),
            vips={'192.168.50.100:80': both, '192.168.60.1:80': both, '172.18.0.11:30080': both},
            # The client's address kept even behind the gateway router's lb_force_snat_ip.
            options={'hairpin_snat_ip': '169.254.169.5', 'skip_snat': 'true'}),
        'Service_default/web_TCP_node_router_node2': dict(
            name='Service_default/web_TCP_node_router_node2', protocol='tcp', groups=['nodeRouterLBGroup_node2'],
            external_ids=dict(ids, **{'k8s.ovn.org/node': 'node2'}),
            vips={'192.168.50.100:80': '', '192.168.60.1:80': '', '172.18.0.12:30080': ''},
            options={'hairpin_snat_ip': '169.254.169.5'})}
    # No endpoint anywhere: every address rejects, as kube-proxy rejects a service without endpoints.
    lbs = by_name(services.service_load_balancers(svc, [], gateways))
    assert lbs['Service_default/web_TCP_node_router_node1']['options']['reject'] == 'true'
    assert lbs['Service_default/web_TCP_node_router_node2']['vips']['172.18.0.12:30080'] == ''
    # Every group named is one lb_groups attaches, gateway routers and switches as said.
    groups = services.lb_groups(['node1', 'node2'], gateways)
    assert groups['nodeRouterLBGroup_node2'] == [('Logical_Router', 'GR_node2')]
    assert groups['clusterSwitchLBGroup'] == [('Logical_Switch', 'node1'), ('Logical_Switch', 'node2')]
    assert set(lbs) <= set(services.load_balancer_names('default', 'web', ['node1', 'node2'], gateways))


def test_case4_internal_traffic_policy_local_per_node_switch():
    """Issue 23, case 4: internalTrafficPolicy Local. Each node switch has its own load balancer
    of the cluster IP, to that node's endpoints only; a node without one drops (endpoints exist
    elsewhere); external addresses follow externalTrafficPolicy (Cluster here)."""
    svc = service(type='NodePort', internalTrafficPolicy='Local',
                  ports=[{'name': 'dns', 'port': 53, 'protocol': 'UDP', 'targetPort': 53, 'nodePort': 30053}])
    slices = [eps('dns-a', [('dns', 53, 'UDP')], [ep('10.128.1.5', 'node1'), ep('10.128.2.7', 'node2')])]
    out = services.service_load_balancers(svc, slices, {'node2': ['172.18.0.12']}, nodes=['node1', 'node2', 'node3'])
    assert out['warnings'] == []
    lbs = by_name(out)
    assert sorted(lbs) == ['Service_default/web_UDP', 'Service_default/web_UDP_node_switch_node1',
                           'Service_default/web_UDP_node_switch_node2', 'Service_default/web_UDP_node_switch_node3']
    assert lbs['Service_default/web_UDP']['vips'] == {'172.18.0.12:30053': '10.128.1.5:53,10.128.2.7:53'}
    for node, backends in (('node1', '10.128.1.5:53'), ('node2', '10.128.2.7:53'), ('node3', '')):
        lb = lbs['Service_default/web_UDP_node_switch_%s' % node]
        assert lb['vips'] == {'10.96.0.10:53': backends}
        assert lb['groups'] == ['nodeSwitchLBGroup_%s' % node]
        assert lb['external_ids']['k8s.ovn.org/node'] == node
        assert lb['options'] == {'hairpin_snat_ip': '169.254.169.5'}
    # Without any endpoint: reject everywhere.
    lbs = by_name(services.service_load_balancers(svc, [], {}, nodes=['node1']))
    assert lbs['Service_default/web_UDP_node_switch_node1']['options']['reject'] == 'true'
