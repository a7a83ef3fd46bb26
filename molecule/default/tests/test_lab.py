# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What site.yml built in the lab, proved with the database contents and real packets."""

import ipaddress
import json
import os
import re
import subprocess

from conftest import CLUSTER_SUBNET, HOSTS, NODE_NAME, NODES, ansible_ping, mac_of, nbctl, serve

CLUSTER = ipaddress.ip_network(CLUSTER_SUBNET)
# The management port's interface on every node: a fixed name, whatever the node's name.
MGMT_INTERFACE = 'ovn-k8s-mp0'
# node2's gateway router shares node2's own address on the lab network (and its MAC);
# node1's dedicated-NIC gateway router has its own on ovnlab2 and carries node1's pods.
GATEWAY_IP = '172.31.0.12'
NODE1_GATEWAY_IP = '172.31.1.51'
# Each host's address on the lab network (the hosts' "physical" network).
LAB_IP = {'central': '172.31.0.10', 'central2': '172.31.0.13', 'central3': '172.31.0.14', 'node1': '172.31.0.11',
          'node2': '172.31.0.12', 'external': '172.31.0.100'}
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def subnets(lab):
    """{host: its node's subnet}, read from the node switches (named by the node names)."""
    return dict((n, ipaddress.ip_network(nbctl(lab, 'get', 'Logical_Switch', NODE_NAME[n],
                                               'other_config:subnet').strip('"')))
                for n in NODES)


def get(lab, table, record, column):
    """One column or key, without ovn-nbctl's quotes (it quotes only some strings)."""
    value = nbctl(lab, 'get', table, record, column)
    return value[1:-1] if value.startswith('"') and value.endswith('"') else value


def system_id(host):
    return host.check_output('ovs-vsctl get Open_vSwitch . external_ids:system-id').strip('"')


# --- The Northbound and Southbound databases ------------------------------------------
def test_node_switches_have_distinct_subnets_in_the_cluster_range(lab):
    nets = subnets(lab)
    assert all(n.subnet_of(CLUSTER) and n.prefixlen == 24 for n in nets.values()), nets
    assert len(set(nets.values())) == len(nets)


def test_cluster_router_ports_and_management_ports(lab):
    nets = subnets(lab)
    for host, net in nets.items():
        node = NODE_NAME[host]
        router_ip = str(net.network_address + 1)
        mgmt_ip = str(net.network_address + 2)
        assert nbctl(lab, 'get', 'Logical_Router_Port', 'rtos-' + node, 'networks') == \
            '["%s/24"]' % router_ip
        assert get(lab, 'Logical_Router_Port', 'rtos-' + node, 'mac') == mac_of(router_ip)
        assert get(lab, 'Logical_Switch_Port', 'stor-' + node, 'options:router-port') == \
            'rtos-' + node
        wanted = '%s %s' % (mac_of(mgmt_ip), mgmt_ip)
        assert nbctl(lab, 'lsp-get-addresses', 'k8s-' + node) == wanted
        assert 'rtos-' + node in nbctl(lab, 'lrp-list', 'ovn_cluster_router')


def test_gateway_router_on_the_gateway_chassis(lab):
    chassis = system_id(lab['node2'])
    assert get(lab, 'Logical_Router', 'GR_node2', 'options:chassis') == chassis
    assert get(lab, 'Logical_Switch_Port', 'lnet-node2', 'options:network_name') == 'physnet'
    networks = nbctl(lab, 'get', 'Logical_Router_Port', 'rtoe-GR_node2', 'networks')
    assert '%s/24' % GATEWAY_IP in networks
    # The host's own MAC too, the one its address lives on (breth1 keeps the NIC's MAC).
    assert get(lab, 'Logical_Router_Port', 'rtoe-GR_node2', 'mac') == \
        lab['node2'].file('/sys/class/net/breth1/address').content_string.strip()
    nat = nbctl(lab, 'lr-nat-list', 'GR_node2')
    assert 'snat' in nat and GATEWAY_IP in nat and CLUSTER_SUBNET in nat
    routes = nbctl(lab, 'lr-route-list', 'ovn_cluster_router')
    assert '0.0.0.0/0' in routes
    assert lab['node2'].check_output('ovs-vsctl get Open_vSwitch . '
                                     'external_ids:ovn-bridge-mappings') == '"physnet:breth1"'


def test_every_node_is_a_chassis_with_its_kept_system_id_and_geneve(lab):
    sb = json.loads(lab['central'].check_output(
        'ovn-sbctl --no-leader-only --format=json --columns=name,hostname list Chassis'))
    names = dict((row[1], row[0]) for row in sb['data'])
    for node in NODES:
        host = lab[node]
        sid = system_id(host)
        assert host.file('/etc/openvswitch/system-id.conf').content_string.strip() == sid
        assert names.get(NODE_NAME[node]) == sid
        ids = host.check_output('ovs-vsctl get Open_vSwitch . external_ids')
        assert 'ovn-encap-type=geneve' in ids and 'ovn-bridge-datapath-type=netdev' in ids
        assert re.search(r'ovn-ofctrl-wait-before-clear="?0"?[,}]', ids), ids
        assert host.service('ovn-controller').is_running


def test_pods_are_bound_on_their_own_nodes(lab, pods):
    for pod in pods.values():
        chassis = lab['central'].check_output(
            'ovn-sbctl --no-leader-only --bare --columns=chassis find Port_Binding logical_port=%s' % pod.name)
        assert chassis, pod.name
        assert lab['central'].check_output('ovn-sbctl --no-leader-only --bare --columns=name list Chassis %s'
                                           % chassis) == system_id(lab[pod.node])


# --- Packets --------------------------------------------------------------------------
def ping(pod_or_host, ip, netns=None):
    runner = pod_or_host.run
    runner('ping -c 1 -W 2 %s' % ip)  # ARP and flow set-up
    return runner('ping -c 3 -i 0.2 -W 2 %s' % ip)


def tcp_peer(runner, ip, port):
    r = runner('timeout 10 nc -w 5 %s %d' % (ip, port))
    return r.stdout.strip()


def test_pod_to_pod_icmp_over_geneve(pods):
    r = ping(pods['pod1'], pods['pod2'].ip)
    assert r.rc == 0 and ' 0% packet loss' in r.stdout, r.stdout + r.stderr
    r = ping(pods['pod2'], pods['pod1'].ip)
    assert r.rc == 0 and ' 0% packet loss' in r.stdout, r.stdout + r.stderr


def test_pod_to_pod_tcp_over_geneve(pods):
    p1, p2 = pods['pod1'], pods['pod2']
    assert tcp_peer(p1.run, p2.ip, 8080) == 'peer %s' % p1.ip
    assert tcp_peer(p2.run, p1.ip, 8080) == 'peer %s' % p2.ip


def test_tunnel_ports_between_the_nodes(lab):
    for node, peer in (('node1', '172.31.0.12'), ('node2', '172.31.0.11')):
        ifaces = lab[node].check_output('ovs-vsctl --bare --columns=type,options find Interface '
                                        'type=geneve')
        assert 'remote_ip=%s' % peer in ifaces.replace('"', '')


def test_node_reaches_a_pod_through_its_management_port(lab, pods):
    nets = subnets(lab)
    for node in ('node1', 'node2', 'central'):
        mgmt_ip = str(nets[node].network_address + 2)
        route = lab[node].check_output('ip route get %s' % pods['pod2'].ip)
        assert 'dev %s' % MGMT_INTERFACE in route, route
        assert tcp_peer(lab[node].run, pods['pod2'].ip, 8080) == 'peer %s' % mgmt_ip
    r = lab['node1'].run('ping -c 2 -W 2 %s' % pods['pod1'].ip)
    assert r.rc == 0, r.stdout


def test_pods_reach_the_external_host_through_their_gateway_with_snat(lab, pods,
                                                                      external_service):
    ip, port = external_service
    # pod2 (node2) leaves through node2's gateway router with node2's own address; pod1 lives
    # on node1, whose subnet node1's own gateway carries out of its dedicated NIC.
    assert tcp_peer(pods['pod2'].run, ip, port) == 'peer %s' % GATEWAY_IP
    assert tcp_peer(pods['pod1'].run, ip, port) == 'peer %s' % NODE1_GATEWAY_IP
    r = ping(pods['pod1'], ip)
    assert r.rc == 0, r.stdout


def test_gateway_host_keeps_its_own_traffic_on_the_shared_nic(lab, external_service):
    node2 = lab['node2']
    # The NIC is a port of breth1 and the host's address moved onto the bridge.
    assert node2.check_output('ovs-vsctl port-to-br eth1') == 'breth1'
    assert '172.31.0.12/24' in node2.check_output('ip -br addr show breth1')
    assert '172.31.0.12' not in node2.check_output('ip -br addr show eth1')
    # The host still talks over it, in both directions, with its own address.
    ip, port = external_service
    assert tcp_peer(node2.run, ip, port) == 'peer 172.31.0.12'

    serve(node2, 'lab-echo-peer', 9191)
    try:
        assert tcp_peer(lab['external'].run, '172.31.0.12', 9191) == 'peer 172.31.0.100'
    finally:
        node2.run('systemctl stop lab-echo-peer.service')
    # And Ansible still reaches the gateway.
    rc, out = ansible_ping('node2')
    assert rc == 0 and 'pong' in out, out


# --- The lab's layer 2 -----------------------------------------------------------------
def lab_nic(host):
    """The device that carries a host's lab address: breth1 once eth1 moved into it."""
    for dev in ('breth1', 'eth1', 'eth0'):
        if host.run('ip -4 -o addr show dev %s 2>/dev/null | grep -q 172.31.0.' % dev).rc == 0:
            return dev
    raise AssertionError('no lab address on %s' % host.backend.hostname)


def test_no_port_of_the_lab_network_reflects_frames_back():
    """podman's CNI bridge defaults to hairpin on: a host's own broadcasts would come back into
    its NIC and its OVS bridge would learn its own MAC on the uplink (docs/lab.md)."""
    check = subprocess.run([os.path.join(REPO, 'scripts', 'lab-network'), 'check', 'ovnlab'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert check.returncode == 0, check.stdout


def test_nics_in_userspace_bridges_are_layer2_ports(lab):
    for node in NODES:
        host = lab[node]
        bridge_mac = host.file('/sys/class/net/breth1/address').content_string.strip()
        nic_mac = host.file('/sys/class/net/eth1/address').content_string.strip()
        assert nic_mac != bridge_mac, node
        assert host.check_output('ovs-vsctl get Bridge breth1 other_config:hwaddr').strip('"') == bridge_mac
        assert host.check_output('sysctl -n net.ipv4.conf.eth1.arp_ignore') == '8', node


def test_the_lab_layer2_is_clean_every_frame_taken_in_once(lab):
    """Every host pings every other on the lab network (the gateway router's address too):
    each request gets exactly one reply, and ARP is answered with the MAC the host's address
    lives on, never by a NIC inside an OVS bridge."""
    macs = dict((name, lab[name].file('/sys/class/net/%s/address' % lab_nic(lab[name])).content_string.strip())
                for name in HOSTS)
    targets = dict(LAB_IP)  # node2's gateway router answers on node2's own address
    for src in HOSTS:
        for dst, ip in sorted(targets.items()):
            if dst == src:
                continue
            lab[src].run('ip neigh flush to %s' % ip)
            r = lab[src].run('ping -n -c 3 -i 0.2 -W 2 %s' % ip)
            assert r.rc == 0 and ' 3 received' in r.stdout, '%s -> %s: %s' % (src, dst, r.stdout + r.stderr)
            assert 'duplicates' not in r.stdout and 'DUP!' not in r.stdout, '%s -> %s: %s' % (src, dst, r.stdout)
            if dst in macs:
                neigh = json.loads(lab[src].check_output('ip -j neigh show to %s' % ip) or '[]')
                assert [n.get('lladdr') for n in neigh if n.get('lladdr')] == [macs[dst]], (src, dst, neigh)


def test_management_port_is_ovn_k8s_mp0_named_after_the_node_in_ovn(lab):
    """A fixed interface name (15 bytes at most) and the node's own name for the logical port,
    even for node1.lab.ovn-k8s.example; the management port unit follows it."""
    nets = subnets(lab)
    for host in NODES:
        node = NODE_NAME[host]
        h = lab[host]
        assert h.check_output('ovs-vsctl port-to-br %s' % MGMT_INTERFACE) == 'br-int'
        assert h.check_output('ovs-vsctl get Interface %s external_ids:iface-id' % MGMT_INTERFACE).strip('"') == 'k8s-' + node
        mgmt_ip = str(nets[host].network_address + 2)
        assert h.file('/sys/class/net/%s/address' % MGMT_INTERFACE).content_string.strip() == mac_of(mgmt_ip)
        assert '%s/24' % mgmt_ip in h.check_output('ip -br addr show %s' % MGMT_INTERFACE)
        assert 'via %s' % (nets[host].network_address + 1) in h.check_output('ip route show %s' % CLUSTER_SUBNET)
        assert h.run('ip link show k8s-%s' % node[:11]).rc != 0, 'no interface named after the node'
        assert h.service('ovn-k8s-management-port').is_enabled
    assert len(NODE_NAME['node1']) > 15
