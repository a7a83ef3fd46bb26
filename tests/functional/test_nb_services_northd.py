# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Services and network policies, translated (ovn_k8s_agents.services/.policy), written
(_nb_lb, _nb_acl) and compiled by a real ovn-northd into the Southbound database: the load
balancer group gives load balancing flows on every node switch and the gateway router, the
ACLs give ACL flows, and ovn-trace (OVN's own simulation of the logical pipeline) delivers or
drops packets between pods exactly as the policies say.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

import pytest

from conftest import NB_SCHEMA, SB_SCHEMA, OvsdbServer, collection_root, have, nbctl
from processes import wait_gone  # tests/lib

sys.path.insert(0, collection_root())
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'agents'))

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _nb, _nb_acl, _nb_lb, _ovsdb, _txn  # noqa: E402
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import merge_tables  # noqa: E402
from ovn_k8s_agents import policy, services  # noqa: E402

pytestmark = pytest.mark.skipif(not have('ovn-northd') or not have('ovn-trace'), reason='needs ovn-northd and ovn-trace')

TABLES = merge_tables(_nb_lb.LB_GROUP_TABLES, _nb_acl.ADDRESS_SET_TABLES, _nb_acl.PORT_GROUP_TABLES,
                      _nb.NODE_NETWORK_TABLES, _nb.ROUTER_TABLES)
NODES = {'node1': '10.128.1.0/24', 'node2': '10.128.2.0/24', 'node3': '10.128.3.0/24'}
NS_NODE = {'x': 'node1', 'y': 'node2', 'z': 'node3'}
GATEWAY_IP = '172.18.0.11'


@pytest.fixture
def northd(tmp_path):
    """NB and SB ovsdb-servers and an ovn-northd between them."""
    nb = OvsdbServer(tmp_path, [NB_SCHEMA], 'nb')
    sb = OvsdbServer(tmp_path, [SB_SCHEMA], 'sb')
    pidfile = str(tmp_path / 'northd.pid')
    subprocess.check_call(['ovn-northd', '--detach', '--no-chdir', '--pidfile=' + pidfile,
                           '--unixctl=' + str(tmp_path / 'northd.ctl'), '--log-file=' + str(tmp_path / 'northd.log'),
                           '--ovnnb-db=' + nb.remote, '--ovnsb-db=' + sb.remote])
    yield dict(nb=nb.remote, sb=sb.remote, log=str(tmp_path / 'northd.log'))
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, 15)
        wait_gone(pid, 5)
    except (OSError, ValueError):
        pass
    sb.stop()
    nb.stop()


def pod(ns, name, ip, ports=()):
    return {'metadata': {'namespace': ns, 'name': name, 'labels': {'pod': name}},
            'spec': {'nodeName': NS_NODE[ns], 'containers': [{'name': 'c', 'ports': list(ports)}]},
            'status': {'phase': 'Running', 'podIP': ip, 'podIPs': [{'ip': ip}]}}


def pod_ip(ns, name):
    return '10.128.%d.%d' % ('xyz'.index(ns) + 1, 10 + 'abc'.index(name))


PODS = [pod(ns, p, pod_ip(ns, p), [dict(name='http', containerPort=8080, protocol='TCP')]) for ns in 'xyz' for p in 'abc']
NAMESPACES = [{'metadata': {'name': ns, 'labels': {'ns': ns, 'kubernetes.io/metadata.name': ns}}} for ns in 'xyz']
POLICIES = [
    # x/a: in only from x/b, and from namespace y on the named port http (8080).
    {'metadata': {'namespace': 'x', 'name': 'web'},
     'spec': {'podSelector': {'matchLabels': {'pod': 'a'}},
              'ingress': [{'from': [{'podSelector': {'matchLabels': {'pod': 'b'}}}]},
                          {'from': [{'namespaceSelector': {'matchLabels': {'ns': 'y'}}}], 'ports': [{'port': 'http'}]}]}},
    # z/c: out only to 10.128.0.0/16 except x/b.
    {'metadata': {'namespace': 'z', 'name': 'egress'},
     'spec': {'podSelector': {'matchLabels': {'pod': 'c'}}, 'policyTypes': ['Egress'],
              'egress': [{'to': [{'ipBlock': {'cidr': '10.128.0.0/16', 'except': [pod_ip('x', 'b') + '/32']}}]}]}},
    # z/b: nothing in, nothing out (but its own node's management address, both ways).
    {'metadata': {'namespace': 'z', 'name': 'lockdown'},
     'spec': {'podSelector': {'matchLabels': {'pod': 'b'}}, 'policyTypes': ['Ingress', 'Egress']}},
]
SERVICE = {'metadata': {'namespace': 'x', 'name': 'web'},
           'spec': {'type': 'NodePort', 'clusterIP': '10.96.0.10', 'clusterIPs': ['10.96.0.10'],
                    'ports': [{'name': 'http', 'port': 80, 'protocol': 'TCP', 'targetPort': 'http', 'nodePort': 30080}]}}
EMPTY = {'metadata': {'namespace': 'x', 'name': 'empty'},
         'spec': {'clusterIP': '10.96.0.11', 'clusterIPs': ['10.96.0.11'], 'ports': [{'port': 80, 'protocol': 'TCP'}]}}


def slices(*backends):
    return [{'addressType': 'IPv4', 'metadata': {'namespace': 'x', 'name': 'web-1', 'labels': {'kubernetes.io/service-name': 'web'}},
             'ports': [{'name': 'http', 'port': 8080, 'protocol': 'TCP'}],
             'endpoints': [{'addresses': [pod_ip(ns, p)], 'nodeName': NS_NODE[ns], 'conditions': {'ready': True}}
                           for ns, p in backends]}]


def topology(cs, client):
    _nb.ensure_router(cs, client, 'ovn_cluster_router')
    for node, subnet in sorted(NODES.items()):
        _nb.ensure_node_network(cs, client, node, subnet)
    for p in PODS:
        ns, name = p['metadata']['namespace'], p['metadata']['name']
        ip = p['status']['podIP']
        _nb.ensure_lsp(cs, client, NS_NODE[ns], _names.pod_port(ns, name),
                       addresses=['%s %s' % (_names.mac_from_ip(ip), ip)])
    _nb.ensure_router(cs, client, _names.gateway_router('node1'), options={'chassis': 'chassis-1'})


def program(cs, client, backends, policies=None):
    """What the watcher does for the services and the policies: translate, then ensure."""
    _nb_lb.ensure_lb_group(cs, client, services.LB_GROUP)
    for svc, eps in ((SERVICE, slices(*backends)), (EMPTY, [])):
        out = services.service_load_balancers(svc, eps, {'node1': [GATEWAY_IP]})
        assert out['warnings'] == []
        for lb in out['load_balancers']:
            _nb_lb.ensure_load_balancer(cs, client, lb['name'], lb['vips'], lb['protocol'], options=lb['options'],
                                        external_ids=lb['external_ids'], groups=[services.LB_GROUP])
    for node in NODES:
        _nb_lb.ensure_lb_group_attached(cs, client, 'Logical_Switch', node, services.LB_GROUP)
    _nb_lb.ensure_lb_group_attached(cs, client, 'Logical_Router', _names.gateway_router('node1'), services.LB_GROUP)
    nodes = [(node, _names.mgmt_port(node), _nb.node_addresses(subnet)['mgmt_ip']) for node, subnet in sorted(NODES.items())]
    model = policy.network_policy_model(policies or POLICIES, PODS, NAMESPACES, nodes=nodes)
    assert model['errors'] == [] and model['warnings'] == []
    for aset in model['address_sets']:
        _nb_acl.ensure_address_set(cs, client, aset['name'], aset['addresses'], aset['external_ids'])
    for pg in model['port_groups']:
        _nb_acl.ensure_port_group(cs, client, pg['name'], pg['ports'], pg['acls'], pg['external_ids'])


def run(remote, *steps):
    with _ovsdb.Client(_ovsdb.NB_DB, remote=remote, tables=TABLES) as client:
        cs = _txn.ChangeSet(client)
        for step in steps:
            step[0](cs, client, *step[1:])
        cs.commit()
        return cs


def lflows(db, datapath):
    return subprocess.check_output(['ovn-sbctl', '--db=' + db['sb'], 'lflow-list', datapath], universal_newlines=True)


def endpoint(name):
    """A pod ("x/a") or a node's management port ("mgmt/node1"): its port, node, IP and MAC."""
    kind, rest = name.split('/')
    if kind == 'mgmt':
        addrs = _nb.node_addresses(NODES[rest])
        return dict(lsp=_names.mgmt_port(rest), node=rest, ip=addrs['mgmt_ip'], mac=addrs['mgmt_mac'])
    ip = pod_ip(kind, rest)
    return dict(lsp=_names.pod_port(kind, rest), node=NS_NODE[kind], ip=ip, mac=_names.mac_from_ip(ip))


def delivered(db, src, dst, dport, vip=None):
    """ovn-trace: does a new TCP connection from src to pod dst (or to service address vip,
    balanced to dst:8080) reach dst?"""
    return 'output("%s")' % endpoint(dst)['lsp'] in trace(db, src, dst, dport, vip, '--minimal')


def trace(db, src, dst, dport, vip=None, *options):
    s, d = endpoint(src), endpoint(dst)
    dip = vip or d['ip']
    dmac = d['mac'] if s['node'] == d['node'] and not vip else _nb.node_addresses(NODES[s['node']])['router_mac']
    flow = ('inport == "%s" && eth.src == %s && eth.dst == %s && ip4.src == %s && ip4.dst == %s && ip.ttl == 64 '
            '&& tcp.src == 40000 && tcp.dst == %d' % (s['lsp'], s['mac'], dmac, s['ip'], dip, dport))
    # Every connection tracking lookup sees a new connection; a VIP goes to dst.
    extra = ['--ct=new'] * 4 + (['--lb-dst=%s:8080' % d['ip']] if vip else [])
    return subprocess.check_output(['ovn-trace', '--db=' + db['sb']] + list(options) + extra + [s['node'], flow],
                                   universal_newlines=True, stderr=subprocess.STDOUT)


def expected(src, dst, dport):
    """POLICIES by the Kubernetes semantics (not by the translator); an isolated pod's own node
    (its management address) reaches it, no other node does."""
    if 'z/b' in (src, dst):
        return src == 'mgmt/node3'  # z/b's lockdown; z is on node3
    if src == 'z/c' and dst == 'x/b':
        return False  # z/c's egress: 10.128.0.0/16 except x/b
    if dst == 'x/a':
        return src in ('x/b', 'mgmt/node1') or (src.startswith('y/') and dport == 8080)
    return True


def test_services_and_policies_compile_and_behave(northd):
    nb = northd['nb']
    run(nb, (topology,), (program, [('x', 'a'), ('y', 'b')]))
    nbctl(nb, '--wait=sb', '--timeout=30', 'sync')

    # The group puts the service on every node switch and on the gateway router.
    for node in NODES:
        flows = lflows(northd, node)
        assert 'ip4.dst == 10.96.0.10 && tcp.dst == 80' in flows
        assert 'ct_lb_mark(backends=10.128.1.10:8080,10.128.2.11:8080)' in flows
        # No ready endpoint: the VIP rejects at once.
        empty = [line for line in flows.splitlines() if 'ls_in_lb ' in line and 'ip4.dst == 10.96.0.11' in line]
        assert empty and all('reject' in line for line in empty), empty
    gw = lflows(northd, _names.gateway_router('node1'))
    assert 'ip4.dst == %s && tcp && tcp.dst == 30080' % GATEWAY_IP in gw and 'ct_lb_mark(backends=10.128.1.10:8080' in gw
    # ACLs: allow-related ingress at 1001 (2001 in the pipeline), egress after load balancing.
    x1 = lflows(northd, 'node1')
    web_pg = policy.policy_port_group('x', 'web')
    assert 'ls_out_acl' in x1 and 'outport == @%s' % web_pg in x1
    assert '$%s' % policy.rule_address_set('x', 'web', 'Ingress', 0) in x1
    z3 = lflows(northd, 'node3')
    assert [line for line in z3.splitlines() if 'ls_in_acl_after_lb' in line and '@%s' % policy.policy_port_group('z', 'egress') in line]
    with open(northd['log']) as f:
        log = f.read()
    assert 'error' not in log.lower() and 'syntax' not in log.lower(), log

    # OVN's own pipeline, the whole matrix: every source (pods, management ports) to every pod.
    sources = ['%s/%s' % (ns, p) for ns in 'xyz' for p in 'abc'] + ['mgmt/node1', 'mgmt/node2', 'mgmt/node3']
    wrong = ['%s -> %s:%d' % (s, d, port) for s in sources for d in sources[:9] for port in (80, 8080)
             if s != d and delivered(northd, s, d, port) != expected(s, d, port)]
    assert not wrong, 'ovn-trace disagrees with the policies for: %s' % ', '.join(wrong)
    # The same, spelled out: x/a is reachable from x/b on any port, from namespace y only on 8080.
    assert delivered(northd, 'x/b', 'x/a', 80)
    assert not delivered(northd, 'x/c', 'x/a', 80)
    assert delivered(northd, 'y/c', 'x/a', 8080)
    assert not delivered(northd, 'y/c', 'x/a', 80)
    assert not delivered(northd, 'z/a', 'x/a', 8080)
    assert delivered(northd, 'z/a', 'x/b', 80)  # x/b is selected by no policy
    # An isolated pod and the management addresses: its own node's both ways, no other node's.
    assert delivered(northd, 'mgmt/node1', 'x/a', 80) and not delivered(northd, 'mgmt/node2', 'x/a', 80)
    assert delivered(northd, 'z/b', 'mgmt/node3', 80) and not delivered(northd, 'z/b', 'mgmt/node1', 80)
    assert delivered(northd, 'z/a', 'mgmt/node1', 80)  # z/a is not isolated
    # z/c may send anywhere in 10.128.0.0/16 but x/b.
    assert delivered(northd, 'z/c', 'x/c', 80)
    assert not delivered(northd, 'z/c', 'x/b', 80)
    assert delivered(northd, 'z/c', 'y/a', 80)
    # Through the service VIP to x/a's 8080: y/a is allowed (named port http), z/a is not.
    assert delivered(northd, 'y/a', 'x/a', 80, vip='10.96.0.10')
    assert not delivered(northd, 'z/a', 'x/a', 80, vip='10.96.0.10')
    assert delivered(northd, 'z/a', 'y/b', 80, vip='10.96.0.10')
    # z/c's egress (10.128.0.0/16 but x/b) lets it reach a backend through the VIP. (ovn-trace
    # applies --lb-dst at the first ct_lb_mark, before any ACL stage, so that the egress ACLs sit
    # after load balancing is asserted on the flows above, not here.)
    assert delivered(northd, 'z/c', 'y/b', 80, vip='10.96.0.10')
    # Hairpin: a pod balanced back to itself gets in. The source ovn-controller gives it is the
    # load balancer's hairpin_snat_ip (which the policies' deny groups let in); ovn-trace does not
    # simulate that address, so here: the Southbound load balancer carries it.
    assert delivered(northd, 'y/b', 'y/b', 80, vip='10.96.0.10')
    sb_options = subprocess.check_output(['ovn-sbctl', '--db=' + northd['sb'], '--bare', '--columns=options', 'find',
                                          'Load_Balancer', 'name="%s"' % services.load_balancer_name('x', 'web', 'TCP')],
                                         universal_newlines=True)
    assert 'hairpin_snat_ip=%s' % services.HAIRPIN_SNAT_IP in sb_options, sb_options

    # A restart converges with zero writes.
    again = run(nb, (topology,), (program, [('x', 'a'), ('y', 'b')]))
    assert not again.changed, again.diff

    # An endpoint change rewrites only the VIPs of that service whose backends changed.
    moved = run(nb, (topology,), (program, [('x', 'a'), ('z', 'b')]))
    lb_name = services.load_balancer_name('x', 'web', 'TCP')
    assert set(moved.diff['after']) == {'Load_Balancer %s' % lb_name}
    assert moved.diff['after']['Load_Balancer %s' % lb_name]['vips'] == {
        '10.96.0.10:80': '10.128.1.10:8080,10.128.3.11:8080', '%s:30080' % GATEWAY_IP: '10.128.1.10:8080,10.128.3.11:8080'}

    # Deleting the policies and the service removes exactly their objects; northd drops the flows.
    def remove(cs, client):
        _nb_lb.remove_load_balancer(cs, client, lb_name)
        for name in (policy.policy_port_group('x', 'web'), policy.policy_port_group('z', 'egress'),
                     policy.policy_port_group('z', 'lockdown'),
                     policy.deny_port_group('x', 'Ingress'), policy.deny_port_group('x', 'Egress'),
                     policy.deny_port_group('z', 'Ingress'), policy.deny_port_group('z', 'Egress')):
            _nb_acl.remove_port_group(cs, client, name)
        for node in NODES:
            _nb_acl.remove_port_group(cs, client, policy.node_port_group(node))
    gone = run(nb, (remove,))
    assert len(gone.diff['before']) == 8 + len(NODES)
    nbctl(nb, '--wait=sb', '--timeout=30', 'sync')
    assert 'ip4.dst == 10.96.0.10' not in lflows(northd, 'node1')
    assert 'ip4.dst == 10.96.0.11' in lflows(northd, 'node1')
    assert delivered(northd, 'x/c', 'x/a', 80)
    assert nbctl(nb, 'list', 'ACL') == ''
