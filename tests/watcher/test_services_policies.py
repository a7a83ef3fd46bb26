# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher drives services and network policies: real kube-apiserver with the real
EndpointSlice controller, real Northbound ovsdb-server, the watcher as a subprocess."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

import pytest

import watcher_objects  # tests/lib
from waiting import wait_for  # tests/lib
from ovn_k8s_agents import annotation, policy, services

GW_IP = '172.18.0.5'


@pytest.fixture
def cluster(cluster):
    """The watcher tests' cluster, whose services and policies go at once when the test ends:
    the namespace's deletion is asynchronous, and the next test's watcher must not see them."""
    yield cluster
    from kubernetes import client
    net = client.NetworkingV1Api(cluster.kube.api_client())
    try:
        for svc in cluster.core.list_namespaced_service(cluster.ns).items:
            cluster.core.delete_namespaced_service(svc.metadata.name, cluster.ns)
        net.delete_collection_namespaced_network_policy(cluster.ns)
    except Exception:  # the namespace is going anyway
        pass


# Kubernetes objects ------------------------------------------------------------------------
def make_pod(cluster, name, node, labels, ports=()):
    """A pod with labels and named container ports [(name, number)], bound to ``node``."""
    body = {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'labels': labels},
            'spec': {'nodeName': node, 'containers': [{
                'name': 'c', 'image': 'busybox',
                'ports': [{'name': n, 'containerPort': p, 'protocol': 'TCP'} for n, p in ports]}]}}
    return cluster.core.create_namespaced_pod(cluster.ns, body)


def run_pods(cluster, names):
    """Wait for the watcher's annotations, then write what a kubelet would (Ready, podIP).
    Returns {pod: ip}."""
    pods = cluster.wait_annotated(names)
    ips = {}
    for name in names:
        ip = str(annotation.parse(pods[name].metadata.annotations).ip)
        cluster.kube.mark_pod_running((cluster.ns, name), ip)
        ips[name] = ip
    return ips


def make_service(cluster, name, spec):
    body = {'apiVersion': 'v1', 'kind': 'Service', 'metadata': {'name': name}, 'spec': spec}
    return cluster.core.create_namespaced_service(cluster.ns, body)


def raw_service(cluster, name):
    return json.loads(cluster.core.read_namespaced_service(name, cluster.ns, _preload_content=False).data)


# The Northbound database -------------------------------------------------------------------
def lbs(nb):
    """{name: row} of the load balancers."""
    columns = ('_uuid', 'name', 'vips', 'protocol', 'options', 'external_ids')
    return dict((r['name'], r) for r in nb.rows('Load_Balancer', *columns))


def ns_lbs(cluster):
    prefix = 'Service_%s/' % cluster.ns
    return dict((k, v) for k, v in lbs(cluster.nb).items() if k.startswith(prefix))


def group(nb):
    rows = [r for r in nb.rows('Load_Balancer_Group', '_uuid', 'name', 'load_balancer')
            if r['name'] == services.LB_GROUP]
    return rows[0] if rows else None


def holders_of_group(nb, table):
    g = group(nb)
    return set(r['name'] for r in nb.rows(table, 'name', 'load_balancer_group')
               if g and g['_uuid'] in _set(r['load_balancer_group']))


def _set(value):
    return value if isinstance(value, list) else [value]


def records(nb, since):
    """The database file's transaction records after the first ``since``."""
    out, count = [], 0
    with open(nb.server.dbs[0], 'rb') as f:
        lines = f.read().split(b'\n')
    for i, line in enumerate(lines):
        if line.startswith(b'OVSDB JSON'):
            count += 1
            if count > since:
                out.append(json.loads(lines[i + 1]))
    return out


def port_groups(nb):
    lsp = dict((r['_uuid'], r['name']) for r in nb.rows('Logical_Switch_Port', '_uuid', 'name'))
    out = {}
    for r in nb.rows('Port_Group', 'name', 'ports', 'acls', 'external_ids'):
        r['ports'] = sorted(lsp.get(p, p) for p in _set(r['ports']))
        r['acls'] = sorted(_set(r['acls']))
        out[r['name']] = r
    return out


def address_sets(nb):
    return dict((r['name'], sorted(_set(r['addresses']))) for r in nb.rows('Address_Set', 'name', 'addresses'))


def acls(nb):
    return dict((r['_uuid'], r) for r in nb.rows('ACL', '_uuid', 'direction', 'priority', 'match', 'action'))


# Services ------------------------------------------------------------------------------------
def test_services_become_load_balancers(cluster):
    a, b = cluster.node('a'), cluster.node('b')
    # A gateway router as the ovn_gateway role makes it: GR_<node>, its external port, its ids.
    gr = 'GR_%s' % a
    cluster.nb.ctl('lr-add', gr, '--', 'set', 'Logical_Router', gr, 'external_ids:ovn-k8s-gateway=%s' % a,
                   'external_ids:physical_ip=%s' % GW_IP)
    cluster.nb.ctl('lrp-add', gr, 'rtoe-%s' % gr, '0a:00:00:00:00:05', GW_IP + '/24')
    w = cluster.watcher(extra=['--resync-period', '1'])
    w.wait_leading()
    make_pod(cluster, 'web-0', a, {'app': 'web'}, [('http', 8080)])
    make_pod(cluster, 'web-1', b, {'app': 'web'}, [('http', 8080)])
    make_pod(cluster, 'other-0', a, {'app': 'other'}, [('x', 9090)])
    ips = run_pods(cluster, ['web-0', 'web-1', 'other-0'])
    make_service(cluster, 'web', {'selector': {'app': 'web'}, 'ports': [{'port': 80, 'targetPort': 'http'}]})
    make_service(cluster, 'other', {'selector': {'app': 'other'}, 'ports': [{'port': 90, 'targetPort': 9090}]})
    make_service(cluster, 'np', {'type': 'NodePort', 'selector': {'app': 'other'},
                                 'ports': [{'port': 91, 'targetPort': 9090, 'protocol': 'UDP'}]})
    make_service(cluster, 'headless', {'clusterIP': 'None', 'selector': {'app': 'web'}, 'ports': [{'port': 80}]})
    make_service(cluster, 'ext', {'type': 'ExternalName', 'externalName': 'example.invalid'})
    make_service(cluster, 'lb', {'type': 'LoadBalancer', 'selector': {'app': 'other'}, 'ports': [{'port': 92}]})
    web_ip = raw_service(cluster, 'web')['spec']['clusterIP']
    other_ip = raw_service(cluster, 'other')['spec']['clusterIP']
    np = raw_service(cluster, 'np')['spec']

    def name(svc, proto='TCP'):
        return services.load_balancer_name(cluster.ns, svc, proto)

    # A ClusterIP service: one load balancer from VIP:port to the ready endpoints' target port.
    want_web = {'%s:80' % web_ip: '%s:8080,%s:8080' % tuple(sorted([ips['web-0'], ips['web-1']], key=_ip))}
    wait_for('the web load balancer', lambda: ns_lbs(cluster).get(name('web'), {}).get('vips') == want_web, timeout=60)
    wait_for('the other load balancers', lambda: set(ns_lbs(cluster)) == set(
        [name('web'), name('other'), name('np', 'UDP'), name('lb')]), timeout=60)
    have = ns_lbs(cluster)
    assert have[name('web')]['protocol'] == 'tcp' and have[name('web')]['options']['reject'] == 'true'
    assert have[name('web')]['external_ids'] == {services.KIND_KEY: 'Service',
                                                 services.OWNER_KEY: '%s/web' % cluster.ns}
    assert have[name('other')]['vips'] == {'%s:90' % other_ip: '%s:9090' % ips['other-0']}
    # NodePort: the gateway's external address at the node port, as well as the cluster IP.
    assert have[name('np', 'UDP')]['vips'] == {'%s:91' % np['clusterIP']: '%s:9090' % ips['other-0'],
                                               '%s:%d' % (GW_IP, np['ports'][0]['nodePort']): '%s:9090' % ips['other-0']}
    # Headless and ExternalName services make nothing; every load balancer is in the group, and
    # the group sits on every node switch and the gateway router.
    g = group(cluster.nb)
    assert set(have[n]['_uuid'] for n in have) <= set(_set(g['load_balancer']))
    wait_for('the group on both switches and the gateway router',
             lambda: holders_of_group(cluster.nb, 'Logical_Switch') >= {a, b}
             and holders_of_group(cluster.nb, 'Logical_Router') == {gr}, timeout=30)
    # A type the collection does not fully support: a warning and an Event naming the service.
    ev = wait_for('an event on service lb', lambda: [e for e in cluster.events('lb')
                                                     if e.reason == 'UnsupportedServiceField'], timeout=30)
    assert ev[0].type == 'Warning' and ev[0].involved_object.kind == 'Service'
    assert 'service %s/lb' % cluster.ns in ev[0].message and 'LoadBalancer' in ev[0].message
    assert 'service not fully supported' in w.log_text()

    # An endpoint change rewrites that load balancer's VIP and nothing else.
    make_pod(cluster, 'web-2', a, {'app': 'web'}, [('http', 8080)])
    cluster.wait_annotated(['web-2'])
    wait_for('the port of web-2', lambda: w.metric('queue_depth') == 0)
    before = lbs(cluster.nb)
    txns = cluster.nb.transactions()
    ips.update(run_pods(cluster, ['web-2']))
    order = sorted(['web-0', 'web-1', 'web-2'], key=lambda p: _ip(ips[p]))
    want_web = {'%s:80' % web_ip: ','.join('%s:8080' % ips[p] for p in order)}
    wait_for('web-2 in the web load balancer', lambda: ns_lbs(cluster)[name('web')]['vips'] == want_web, timeout=60)
    touched = set()
    for rec in records(cluster.nb, txns):
        for table, rows in rec.items():
            if not table.startswith('_'):
                touched |= set((table, u) for u in rows)
    assert touched == {('Load_Balancer', before[name('web')]['_uuid'])}, touched
    after = lbs(cluster.nb)
    assert dict((k, v) for k, v in after.items() if k != name('web')) == dict(
        (k, v) for k, v in before.items() if k != name('web'))

    # Deleting a service removes its load balancer and nothing else.
    cluster.core.delete_namespaced_service('other', cluster.ns)
    wait_for('the other load balancer to go', lambda: name('other') not in ns_lbs(cluster), timeout=30)
    assert dict((k, v) for k, v in lbs(cluster.nb).items() if k != name('other')) == dict(
        (k, v) for k, v in after.items() if k != name('other'))
    assert group(cluster.nb) is not None

    # A restart in step writes nothing; a service deleted while no watcher ran goes at start-up.
    wait_for('an idle queue', lambda: w.metric('queue_depth') == 0)
    assert w.terminate() == 0, w.tail()
    txns = cluster.nb.transactions()
    w2 = cluster.watcher('second', extra=['--resync-period', '1'])
    w2.wait_leading()
    import time
    time.sleep(2.5)  # two resync passes
    assert cluster.nb.transactions() == txns, 'a reconcile in step wrote to the Northbound database'
    assert w2.metric('nb_transactions_total') == 0
    assert w2.terminate() == 0, w2.tail()
    cluster.core.delete_namespaced_service('np', cluster.ns)
    w3 = cluster.watcher('third')
    w3.wait_leading()
    wait_for('the stale np load balancer to go', lambda: name('np', 'UDP') not in ns_lbs(cluster), timeout=30)
    assert set(ns_lbs(cluster)) == {name('web'), name('lb')}


def test_gateway_added_later_gets_the_group_and_node_ports(cluster):
    a = cluster.node('a')
    w = cluster.watcher(extra=['--resync-period', '1'])
    w.wait_leading()
    make_pod(cluster, 'web-0', a, {'app': 'web'}, [('http', 8080)])
    ips = run_pods(cluster, ['web-0'])
    make_service(cluster, 'np', {'type': 'NodePort', 'selector': {'app': 'web'},
                                 'ports': [{'port': 80, 'targetPort': 8080}]})
    spec = raw_service(cluster, 'np')['spec']
    lb = services.load_balancer_name(cluster.ns, 'np', 'TCP')
    wait_for('the np load balancer', lambda: ns_lbs(cluster).get(lb, {}).get('vips') == {
        '%s:80' % spec['clusterIP']: '%s:8080' % ips['web-0']}, timeout=60)
    gr = 'GR_%s' % a
    cluster.nb.ctl('lr-add', gr, '--', 'set', 'Logical_Router', gr, 'external_ids:ovn-k8s-gateway=%s' % a)
    cluster.nb.ctl('lrp-add', gr, 'rtoe-%s' % gr, '0a:00:00:00:00:05', GW_IP + '/24')
    node_vip = '%s:%d' % (GW_IP, spec['ports'][0]['nodePort'])
    wait_for('the gateway address at the node port', lambda: ns_lbs(cluster)[lb]['vips'].get(node_vip)
             == '%s:8080' % ips['web-0'], timeout=30)
    assert holders_of_group(cluster.nb, 'Logical_Router') == {gr}


def _ip(text):
    return tuple(int(x) for x in text.split('.'))


# Network policies ----------------------------------------------------------------------------
def test_network_policy_becomes_port_groups_address_sets_and_acls(cluster):
    a = cluster.node('a')
    w = cluster.watcher()
    w.wait_leading()
    make_pod(cluster, 'db', a, {'app': 'db'}, [('pg', 5432)])
    make_pod(cluster, 'client', a, {'role': 'client'})
    make_pod(cluster, 'other', a, {'role': 'none'})
    ips = run_pods(cluster, ['db', 'client', 'other'])
    ns = cluster.ns
    body = {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'db-in'},
            'spec': {'podSelector': {'matchLabels': {'app': 'db'}}, 'policyTypes': ['Ingress'],
                     'ingress': [{'from': [{'podSelector': {'matchLabels': {'role': 'client'}}}],
                                  'ports': [{'protocol': 'TCP', 'port': 'pg'}, {'protocol': 'TCP', 'port': 6000,
                                                                                'endPort': 6010}]}]}}
    from kubernetes import client
    net = client.NetworkingV1Api(cluster.kube.api_client())
    net.create_namespaced_network_policy(ns, body)
    pg = policy.policy_port_group(ns, 'db-in')
    deny = policy.deny_port_group(ns, 'Ingress')
    aset = policy.rule_address_set(ns, 'db-in', 'Ingress', 0)
    db_port = '%s_db' % ns
    wait_for('the policy port groups', lambda: port_groups(cluster.nb).get(pg, {}).get('ports') == [db_port]
             and port_groups(cluster.nb).get(deny, {}).get('ports') == [db_port], timeout=60)
    assert address_sets(cluster.nb)[aset] == [ips['client']]
    # The node's own management address is let in (kubelet health checks), on its switch alone
    # (a port group of its management port: ovn-trace proves the scoping, tests/functional).
    mgmt = [r for r in cluster.nb.rows('Logical_Switch', 'name', 'other_config') if r['name'] == a][0]
    mgmt_ip = str(__import__('ipaddress').ip_network(mgmt['other_config']['subnet']).network_address + 2)
    node_pg = port_groups(cluster.nb)[policy.node_port_group(a)]
    assert node_pg['ports'] == ['k8s-%s' % a]
    assert sorted(acls(cluster.nb)[u]['match'] for u in node_pg['acls']) == ['ip4.dst == ' + mgmt_ip, 'ip4.src == ' + mgmt_ip]
    assert policy.MGMT_ADDRESS_SET not in address_sets(cluster.nb)
    groups = port_groups(cluster.nb)
    rules = acls(cluster.nb)
    allow = [rules[u] for u in groups[pg]['acls']]
    matches = sorted(r['match'] for r in allow)
    assert all(r['action'] == 'allow-related' and r['direction'] == 'to-lport' for r in allow)
    assert any('$%s' % aset in m and 'tcp.dst >= 6000 && tcp.dst <= 6010' in m for m in matches), matches
    assert any('"%s"' % db_port in m and 'tcp.dst == 5432' in m for m in matches), matches
    deny_acls = [rules[u] for u in groups[deny]['acls']]
    assert any(r['action'] == 'drop' and r['priority'] == policy.DENY_PRIORITY for r in deny_acls)
    acl_uuids = (groups[pg]['acls'], groups[deny]['acls'])

    # A label change moves addresses and ports; the ACLs stay as they are.
    cluster.core.patch_namespaced_pod('other', ns, {'metadata': {'labels': {'role': 'client'}}})
    wait_for('other in the address set', lambda: address_sets(cluster.nb)[aset] == sorted(
        [ips['client'], ips['other']]), timeout=30)
    assert (port_groups(cluster.nb)[pg]['acls'], port_groups(cluster.nb)[deny]['acls']) == acl_uuids
    make_pod(cluster, 'db2', a, {'app': 'db'}, [('pg', 5432)])
    run_pods(cluster, ['db2'])
    wait_for('db2 in the port groups', lambda: port_groups(cluster.nb)[pg]['ports'] == sorted([db_port, '%s_db2' % ns])
             and port_groups(cluster.nb)[deny]['ports'] == sorted([db_port, '%s_db2' % ns]), timeout=30)
    groups = port_groups(cluster.nb)
    # db2's named port resolves to the same number: the ingress ACL names both pods.
    assert groups[deny]['acls'] == acl_uuids[1]
    cluster.core.patch_namespaced_pod('client', ns, {'metadata': {'labels': {'role': 'gone'}}})
    wait_for('client out of the address set', lambda: address_sets(cluster.nb)[aset] == [ips['other']], timeout=30)
    numeric = [u for u in acl_uuids[0] if 'tcp.dst >= 6000' in rules[u]['match']]
    assert set(numeric) <= set(port_groups(cluster.nb)[pg]['acls'])
    assert port_groups(cluster.nb)[deny]['acls'] == acl_uuids[1]

    # A policy the collection can only partly apply: a warning Event naming it.
    net.create_namespaced_network_policy(ns, {
        'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'partial'},
        'spec': {'podSelector': {}, 'policyTypes': ['Egress'],
                 'egress': [{'to': [{'ipBlock': {'cidr': '192.0.2.0/24'}}], 'ports': [{'port': 'pg'}]}]}})
    ev = wait_for('an event on policy partial', lambda: [e for e in cluster.events('partial')
                                                         if e.reason == 'NetworkPolicyPartlyApplied'], timeout=30)
    assert ev[0].involved_object.kind == 'NetworkPolicy' and 'network policy %s/partial' % ns in ev[0].message
    egress = policy.deny_port_group(ns, 'Egress')
    wait_for('every pod isolated for egress', lambda: len(port_groups(cluster.nb).get(egress, {}).get('ports', [])) == 4)

    # A restart in step writes nothing.
    wait_for('an idle queue', lambda: w.metric('queue_depth') == 0)
    assert w.terminate() == 0, w.tail()
    txns = cluster.nb.transactions()
    w2 = cluster.watcher('second')
    w2.wait_leading()
    assert cluster.nb.transactions() == txns, 'a reconcile in step wrote to the Northbound database'
    assert w2.metric('nb_transactions_total') == 0

    # Deleting the policies removes their port groups and address sets, and nothing else.
    net.delete_namespaced_network_policy('db-in', ns)
    net.delete_namespaced_network_policy('partial', ns)
    wait_for('the namespace\'s policy rows to go', lambda: not [n for n in port_groups(cluster.nb) if n in (pg, deny, egress)]
             and aset not in address_sets(cluster.nb), timeout=30)
    assert policy.node_port_group(a) in port_groups(cluster.nb)


def test_new_pods_are_isolated_as_their_ports_are_made_and_only_port_addresses_are_allowed(cluster):
    """A new pod's port joins its deny and policy port groups in the very transaction that
    creates it (read in the database file: one record per transaction), so it is isolated
    before its annotation is out. A peer's address in a policy's address set is the one its
    port holds: a pod whose creator wrote a foreign address into its annotation and its
    status gets no port, and its address goes into no set."""
    a = cluster.node('a')
    w = cluster.watcher()
    w.wait_leading()
    ns = cluster.ns
    from kubernetes import client
    net = client.NetworkingV1Api(cluster.kube.api_client())
    net.create_namespaced_network_policy(ns, {
        'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'web-in'},
        'spec': {'podSelector': {'matchLabels': {'app': 'web'}}, 'policyTypes': ['Ingress', 'Egress'],
                 'ingress': [{'from': [{'podSelector': {'matchLabels': {'role': 'client'}}}]}]}})
    pg = policy.policy_port_group(ns, 'web-in')
    deny_in, deny_out = policy.deny_port_group(ns, 'Ingress'), policy.deny_port_group(ns, 'Egress')
    aset = policy.rule_address_set(ns, 'web-in', 'Ingress', 0)
    wait_for('the policy\'s port groups', lambda: set([pg, deny_in, deny_out]) <= set(port_groups(cluster.nb)))
    since = cluster.nb.transactions()
    make_pod(cluster, 'web', a, {'app': 'web'})
    make_pod(cluster, 'client', a, {'role': 'client'})
    # A client whose creator claims an address of its own choosing (outside every node subnet),
    # in its annotation and, as a kubelet fooled by it would report, in its status.
    forged = annotation.PodNetwork('192.0.2.7/24', '0a:58:c0:00:02:07', '192.0.2.1').annotations()
    cluster.core.create_namespaced_pod(ns, {
        'apiVersion': 'v1', 'kind': 'Pod',
        'metadata': {'name': 'forger', 'labels': {'role': 'client'}, 'annotations': forged},
        'spec': {'nodeName': a, 'containers': [{'name': 'c', 'image': 'busybox'}]}})
    cluster.kube.mark_pod_running((ns, 'forger'), '192.0.2.7')
    ips = run_pods(cluster, ['web', 'client'])
    web_port, client_port = '%s_web' % ns, '%s_client' % ns
    wait_for('web in its groups and the client in the address set',
             lambda: port_groups(cluster.nb)[pg]['ports'] == [web_port]
             and address_sets(cluster.nb)[aset] == [ips['client']], timeout=30)
    wait_for('an event on the forger', lambda: [e for e in cluster.events('forger') if e.reason == 'AnnotationConflict'])

    # Every transaction that created a pod port put it into its groups.
    uuids = dict((r['name'], r['_uuid']) for r in cluster.nb.rows('Logical_Switch_Port', '_uuid', 'name'))
    groups = dict((r['name'], r['_uuid']) for r in cluster.nb.rows('Port_Group', '_uuid', 'name')
                  if r['name'] in (pg, deny_in, deny_out))
    created = {}
    for rec in records(cluster.nb, since):
        for row_uuid, row in rec.get('Logical_Switch_Port', {}).items():
            if row is not None and row.get('name') in (web_port, client_port):
                created[row['name']] = rec
    assert set(created) == {web_port, client_port}, created.keys()
    web_rec = created[web_port]
    for name, pg_uuid in groups.items():
        change = web_rec.get('Port_Group', {}).get(pg_uuid)
        assert change is not None and uuids[web_port] in json.dumps(change.get('ports')), (
            'the transaction that created the web pod\'s port did not put it into %s: %s' % (name, web_rec))
    # The client is selected by no policy: it joins no group (its transaction may be web's too,
    # when both pods were planned in one batch).
    assert uuids[client_port] not in json.dumps(created[client_port].get('Port_Group', {})), created[client_port]
    assert port_groups(cluster.nb)[deny_in]['ports'] == [web_port]

    # The forged address is in no address set; the forger has no port.
    assert '%s_forger' % ns not in cluster.nb.pod_ports()
    assert all('192.0.2.7' not in addrs for addrs in address_sets(cluster.nb).values())
    wait_for('an idle queue', lambda: w.metric('queue_depth') == 0)
    assert address_sets(cluster.nb)[aset] == [ips['client']]


def _stays(what, check, seconds=3.0):
    """Asserts that ``check()`` holds the whole time (a handler queued with the change that
    was awaited runs within milliseconds of it)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert check(), what
        time.sleep(0.1)


def test_pod_and_namespace_changes_reach_only_the_policies_that_can_select_them(cluster):
    """A pod in X changes: namespace Y, whose policy has no namespaceSelector, is not
    reconciled; namespace Z, whose policy selects X by its labels, is. Y's address set is
    tampered with in the database beforehand: a reconcile of Y would put it right, so it
    staying as it was shows that Y was not looked at."""
    from kubernetes import client
    net = client.NetworkingV1Api(cluster.kube.api_client())
    a = cluster.node('a')
    x = cluster.ns
    y, z = 'y-%s' % cluster.tag, 'z-%s' % cluster.tag
    team = 't-%s' % cluster.tag
    try:
        for name in (y, z):
            cluster.kube.create_namespace(name)
        cluster.core.patch_namespace(x, {'metadata': {'labels': {'team': team}}})
        w = cluster.watcher()
        w.wait_leading()
        net.create_namespaced_network_policy(y, {
            'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'local'},
            'spec': {'podSelector': {}, 'policyTypes': ['Ingress'],
                     'ingress': [{'from': [{'podSelector': {'matchLabels': {'app': 'web'}}}]}]}})
        # X's own policy (no namespaceSelector): only pod changes in X can queue X.
        net.create_namespaced_network_policy(x, {
            'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'own'},
            'spec': {'podSelector': {}, 'policyTypes': ['Ingress'],
                     'ingress': [{'from': [{'podSelector': {'matchLabels': {'app': 'web'}}}]}]}})
        net.create_namespaced_network_policy(z, {
            'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'cross'},
            'spec': {'podSelector': {}, 'policyTypes': ['Ingress'],
                     'ingress': [{'from': [{'namespaceSelector': {'matchLabels': {'team': team}},
                                            'podSelector': {'matchLabels': {'app': 'web'}}}]}]}})
        make_pod(cluster, 'web', a, {'app': 'web'})
        ip = run_pods(cluster, ['web'])['web']
        y_set = policy.rule_address_set(y, 'local', 'Ingress', 0)
        z_set = policy.rule_address_set(z, 'cross', 'Ingress', 0)
        x_set = policy.rule_address_set(x, 'own', 'Ingress', 0)
        wait_for('the cross-namespace peer in Z\'s address set',
                 lambda: address_sets(cluster.nb).get(z_set) == [ip] and address_sets(cluster.nb).get(y_set) == []
                 and address_sets(cluster.nb).get(x_set) == [ip], timeout=60)
        wait_for('an idle queue', lambda: w.metric('queue_depth') == 0)
        _stays('Z\'s address set', lambda: address_sets(cluster.nb).get(z_set) == [ip], 1.0)
        cluster.nb.ctl('add', 'Address_Set', y_set, 'addresses', '192.0.2.99')
        tampered = ['192.0.2.99']
        assert address_sets(cluster.nb)[y_set] == tampered

        # A readiness flip of the pod in X (an endpoint change, the most frequent pod update)
        # changes nothing a policy reads: X, tampered with too, is not reconciled for it. (X, not
        # Z: Z's namespaceSelector makes any pod change anywhere queue it, and earlier tests'
        # namespaces may still be going away.)
        cluster.nb.ctl('add', 'Address_Set', x_set, 'addresses', '192.0.2.98')
        cluster.core.patch_namespaced_pod_status('web', x, {'status': {'conditions': [
            {'type': 'Ready', 'status': 'False'}, {'type': 'ContainersReady', 'status': 'False'}]}})
        _stays('X was reconciled for a readiness change',
               lambda: sorted(address_sets(cluster.nb)[x_set]) == sorted([ip, '192.0.2.98']), 2.0)

        # A pod label change in X: Z's peer set follows it, Y is not reconciled.
        cluster.core.patch_namespaced_pod('web', x, {'metadata': {'labels': {'app': 'other'}}})
        wait_for('web out of Z\'s address set', lambda: address_sets(cluster.nb)[z_set] == [], timeout=30)
        _stays('Y was reconciled for a pod it cannot select', lambda: address_sets(cluster.nb)[y_set] == tampered)
        cluster.core.patch_namespaced_pod('web', x, {'metadata': {'labels': {'app': 'web'}}})
        wait_for('web back in Z\'s address set', lambda: address_sets(cluster.nb)[z_set] == [ip], timeout=30)
        _stays('Y was reconciled for a pod it cannot select', lambda: address_sets(cluster.nb)[y_set] == tampered)

        # A namespace label change: Z (a namespaceSelector) follows it, Y is not reconciled.
        cluster.core.patch_namespace(x, {'metadata': {'labels': {'team': 'elsewhere'}}})
        wait_for('X\'s pods out of Z\'s address set', lambda: address_sets(cluster.nb)[z_set] == [], timeout=30)
        _stays('Y was reconciled for a namespace label it does not select on',
               lambda: address_sets(cluster.nb)[y_set] == tampered)

        # A change to Y's own policy does reconcile Y (the tampering is put right).
        net.patch_namespaced_network_policy('local', y, {'metadata': {'labels': {'touched': 'yes'}}})
        wait_for('Y reconciled', lambda: address_sets(cluster.nb)[y_set] == [], timeout=30)
    finally:
        for name in (y, z):
            try:
                net.delete_collection_namespaced_network_policy(name)
                cluster.core.delete_namespace(name)
            except Exception:  # the test failed before it was made
                pass


# The role's RBAC -----------------------------------------------------------------------------
def test_watcher_works_with_only_the_roles_rbac(cluster, tmp_path):
    """The identity the ovn_watcher role makes (roles/ovn_watcher/templates/k8s_identity.yml.j2:
    a service account, its ClusterRole, and a Role on its one Lease, which the role creates) is
    all the watcher needs: it runs here with a token of that service account and nothing else."""
    kube = cluster.kube
    account = 'ovn-k8s-watcher-%s' % cluster.tag
    objects = watcher_objects.render('k8s_identity.yml.j2', service_account=account, namespace=cluster.ns,
                                     lease_name=cluster.lease, lease_namespace='default')
    manifest = tmp_path / 'identity.json'
    manifest.write_text(watcher_objects.as_list(objects))
    kube.kubectl('apply', '-f', str(manifest))
    try:
        token = kube.kubectl('create', 'token', account, '-n', cluster.ns).strip()
        with open(kube.kubeconfig) as f:
            config = json.load(f)
        config['users'] = [{'name': account, 'user': {'token': token}}]
        config['contexts'][0]['context']['user'] = account
        kubeconfig = tmp_path / 'watcher.kubeconfig'
        kubeconfig.write_text(json.dumps(config))
        a = cluster.node('a')
        w = cluster.watcher(extra=['--kubeconfig', str(kubeconfig)])
        w.wait_leading()
        make_pod(cluster, 'web-0', a, {'app': 'web'}, [('http', 8080)])
        ips = run_pods(cluster, ['web-0'])
        make_service(cluster, 'lb', {'type': 'LoadBalancer', 'selector': {'app': 'web'},
                                     'ports': [{'port': 80, 'targetPort': 'http'}]})
        from kubernetes import client
        client.NetworkingV1Api(kube.api_client()).create_namespaced_network_policy(cluster.ns, {
            'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'deny'},
            'spec': {'podSelector': {}}})
        lb = services.load_balancer_name(cluster.ns, 'lb', 'TCP')
        cip = raw_service(cluster, 'lb')['spec']['clusterIP']
        wait_for('the load balancer', lambda: ns_lbs(cluster).get(lb, {}).get('vips', {}).get('%s:80' % cip)
                 == '%s:8080' % ips['web-0'], timeout=60)
        deny = policy.deny_port_group(cluster.ns, 'Ingress')
        wait_for('the deny port group', lambda: port_groups(cluster.nb).get(deny, {}).get('ports')
                 == ['%s_web-0' % cluster.ns], timeout=60)
        wait_for('an event on service lb', lambda: [e for e in cluster.events('lb')
                                                    if e.reason == 'UnsupportedServiceField'], timeout=30)
        assert 'Forbidden' not in w.log_text() and '(403)' not in w.log_text(), w.tail()
    finally:
        kube.kubectl('delete', 'clusterrolebinding,clusterrole', account)
