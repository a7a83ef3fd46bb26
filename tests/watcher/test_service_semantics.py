# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 23, cases 2, 3 and 4, through the watcher: Services with the EndpointSlices the real
controller writes (a terminating pod included), the traffic policies' per-node load balancers
and groups in a real Northbound database, and their removal with their node."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from waiting import wait_for  # tests/lib
from ovn_k8s_agents import services
import test_services_policies
from test_services_policies import GW_IP, _set, lbs, make_pod, make_service, ns_lbs, raw_service, run_pods

cluster = test_services_policies.cluster  # the fixture that removes the test's services at its end


def add_gateway(cluster, node):
    """A gateway router as the ovn_gateway role makes it: GR_<node>, its external port, its ids."""
    gr = 'GR_%s' % node
    cluster.nb.ctl('lr-add', gr, '--', 'set', 'Logical_Router', gr, 'external_ids:ovn-k8s-gateway=%s' % node,
                   'external_ids:physical_ip=%s' % GW_IP)
    cluster.nb.ctl('lrp-add', gr, 'rtoe-%s' % gr, '0a:00:00:00:00:05', GW_IP + '/24')
    return gr


def holders(nb, table, group_name):
    """Names of the switches or routers that carry group ``group_name``."""
    groups = [r for r in nb.rows('Load_Balancer_Group', '_uuid', 'name') if r['name'] == group_name]
    if not groups:
        return set()
    return set(r['name'] for r in nb.rows(table, 'name', 'load_balancer_group')
               if groups[0]['_uuid'] in _set(r['load_balancer_group']))


def group_names(nb):
    return set(r['name'] for r in nb.rows('Load_Balancer_Group', 'name'))


def idle(w):
    return w.metric('queue_depth') == 0


def endpoint_conditions(cluster, service, pod_ip):
    from kubernetes import client
    slices = client.DiscoveryV1Api(cluster.kube.api_client()).list_namespaced_endpoint_slice(
        cluster.ns, label_selector='kubernetes.io/service-name=%s' % service).items
    for eps in slices:
        for ep in eps.endpoints or []:
            if pod_ip in (ep.addresses or []):
                return ep.conditions
    return None


def serving_terminating(conditions):
    """``conditions`` when they say serving, terminating and not ready, else None."""
    if conditions is not None and conditions.terminating and conditions.serving and not conditions.ready:
        return conditions
    return None


def test_case2_a_one_replica_rollout_is_served_by_the_terminating_pod(cluster):
    """The old pod is terminating (still serving), the new one not ready yet: the EndpointSlice
    controller marks the old endpoint serving and terminating, and the service keeps sending
    to it (kube-proxy since Kubernetes 1.28) instead of rejecting, until the new one is ready."""
    a = cluster.node('a')
    w = cluster.watcher()
    w.wait_leading()
    make_pod(cluster, 'web-0', a, {'app': 'web'}, [('http', 8080)])
    ips = run_pods(cluster, ['web-0'])
    make_service(cluster, 'web', {'selector': {'app': 'web'}, 'ports': [{'port': 80, 'targetPort': 'http'}]})
    vip = '%s:80' % raw_service(cluster, 'web')['spec']['clusterIP']
    lb = services.load_balancer_name(cluster.ns, 'web', 'TCP')

    def backends():
        return ns_lbs(cluster).get(lb, {}).get('vips', {}).get(vip)

    wait_for('web-0 behind the service', lambda: backends() == '%s:8080' % ips['web-0'], timeout=60)
    # The rollout: the new pod exists (its port made, not running yet), the old one is deleted
    # with a grace period, so it terminates while it still serves.
    make_pod(cluster, 'web-1', a, {'app': 'web'}, [('http', 8080)])
    cluster.wait_annotated(['web-1'])
    wait_for('an idle watcher', lambda: idle(w), timeout=30)
    synced = w.metric('events_total', kind='service', result='ok')
    cluster.core.delete_namespaced_pod('web-0', cluster.ns, grace_period_seconds=600)
    conditions = wait_for('web-0 serving and terminating in the EndpointSlice', lambda: serving_terminating(
        endpoint_conditions(cluster, 'web', ips['web-0'])), timeout=60)
    assert conditions.ready is False
    # The watcher has reconciled the service since (it read that slice) and is idle.
    wait_for('the service reconciled after the slice changed', lambda: w.metric(
        'events_total', kind='service', result='ok') > synced and idle(w), timeout=60)
    assert backends() == '%s:8080' % ips['web-0'], 'the service lost its serving, terminating endpoint'
    # The new pod ready: it alone serves.
    ips.update(run_pods(cluster, ['web-1']))
    wait_for('web-1 alone behind the service', lambda: backends() == '%s:8080' % ips['web-1'], timeout=60)


def test_case3_and_case4_traffic_policies_local_per_node_load_balancers(cluster):
    """externalTrafficPolicy Local: the gateway router of node a gets its own load balancer of
    the node port and the external IP, to a's endpoints, dropping (no reject) without one; pods see those addresses through every switch with every
    endpoint. internalTrafficPolicy Local: one load balancer of the cluster IP per node switch,
    to that node's endpoints. A node that goes takes its load balancer and group along; back to
    Cluster, the per-node load balancers go; a restart in step writes nothing."""
    a, b = cluster.node('a'), cluster.node('b')
    gr = add_gateway(cluster, a)
    w = cluster.watcher(extra=['--resync-period', '1'])
    w.wait_leading()
    make_pod(cluster, 'web-0', a, {'app': 'web'}, [('http', 8080)])
    ips = run_pods(cluster, ['web-0'])
    make_service(cluster, 'etp', {'type': 'NodePort', 'externalTrafficPolicy': 'Local', 'selector': {'app': 'web'},
                                  'externalIPs': ['192.168.50.100'], 'ports': [{'port': 80, 'targetPort': 'http'}]})
    make_service(cluster, 'itp', {'internalTrafficPolicy': 'Local', 'selector': {'app': 'web'},
                                  'ports': [{'port': 81, 'targetPort': 'http'}]})
    etp, itp = raw_service(cluster, 'etp')['spec'], raw_service(cluster, 'itp')['spec']
    web0 = '%s:8080' % ips['web-0']
    node_port = '%s:%d' % (GW_IP, etp['ports'][0]['nodePort'])
    ns = cluster.ns
    want = {
        services.load_balancer_name(ns, 'etp', 'TCP'): {'%s:80' % etp['clusterIP']: web0},
        services.switch_load_balancer_name(ns, 'etp', 'TCP'): {'192.168.50.100:80': web0, node_port: web0},
        services.node_router_load_balancer_name(ns, 'etp', 'TCP', a): {'192.168.50.100:80': web0, node_port: web0},
        services.node_switch_load_balancer_name(ns, 'itp', 'TCP', a): {'%s:81' % itp['clusterIP']: web0},
        services.node_switch_load_balancer_name(ns, 'itp', 'TCP', b): {'%s:81' % itp['clusterIP']: ''},
    }
    wait_for('the per-node load balancers', lambda: dict(
        (k, v['vips']) for k, v in ns_lbs(cluster).items() if k in want or cluster.ns in k) == want, timeout=60)
    have = ns_lbs(cluster)
    router_lb = have[services.node_router_load_balancer_name(ns, 'etp', 'TCP', a)]
    # skip_snat: the client's address kept even behind a gateway router's lb_force_snat_ip (issue 21).
    assert router_lb['options'] == {'hairpin_snat_ip': services.HAIRPIN_SNAT_IP, 'skip_snat': 'true'}
    assert router_lb['external_ids'][services.NODE_KEY] == a
    empty = have[services.node_switch_load_balancer_name(ns, 'itp', 'TCP', b)]
    assert 'reject' not in empty['options'], 'a node without a local endpoint must drop, not reject'
    # Each group where it belongs: a node's own on its one switch or router; the switch group on
    # the node switches and no gateway router.
    wait_for('the groups attached', lambda: holders(cluster.nb, 'Logical_Router', services.node_router_lb_group(a)) == {gr}
             and holders(cluster.nb, 'Logical_Switch', services.node_switch_lb_group(b)) == {b}
             and holders(cluster.nb, 'Logical_Switch', services.SWITCH_LB_GROUP) >= {a, b}, timeout=30)
    assert holders(cluster.nb, 'Logical_Router', services.SWITCH_LB_GROUP) == set()
    assert holders(cluster.nb, 'Logical_Switch', services.node_router_lb_group(a)) == set()
    assert holders(cluster.nb, 'Logical_Router', services.LB_GROUP) == {gr}

    # Node b goes: its switch, its per-node load balancer and its group go with it.
    cluster.core.delete_node(b)
    gone = services.node_switch_load_balancer_name(ns, 'itp', 'TCP', b)
    wait_for('node b\'s load balancer and group to go', lambda: gone not in lbs(cluster.nb)
             and services.node_switch_lb_group(b) not in group_names(cluster.nb), timeout=60)
    assert services.node_switch_load_balancer_name(ns, 'itp', 'TCP', a) in lbs(cluster.nb)

    # Back to Cluster: the per-node and switch load balancers go, the cluster-wide ones hold all.
    cluster.core.patch_namespaced_service('itp', ns, {'spec': {'internalTrafficPolicy': 'Cluster'}})
    cluster.core.patch_namespaced_service('etp', ns, {'spec': {'externalTrafficPolicy': 'Cluster'}})
    want = {
        services.load_balancer_name(ns, 'etp', 'TCP'): {'%s:80' % etp['clusterIP']: web0, '192.168.50.100:80': web0,
                                                        node_port: web0},
        services.load_balancer_name(ns, 'itp', 'TCP'): {'%s:81' % itp['clusterIP']: web0},
    }
    wait_for('only the cluster-wide load balancers', lambda: dict(
        (k, v['vips']) for k, v in ns_lbs(cluster).items()) == want, timeout=60)
    # A restart in step writes nothing.
    wait_for('an idle watcher', lambda: idle(w), timeout=30)
    assert w.terminate() == 0, w.tail()
    txns = cluster.nb.transactions()
    w2 = cluster.watcher('second', extra=['--resync-period', '1'])
    w2.wait_leading()
    wait_for('the second watcher through its services and gateways', lambda: idle(w2) and w2.metric(
        'events_total', kind='service', result='ok') >= 2 and w2.metric('events_total', kind='gateways', result='ok') >= 2,
        timeout=60)
    assert cluster.nb.transactions() == txns, 'a reconcile in step wrote to the Northbound database'
    assert w2.metric('nb_transactions_total') == 0
