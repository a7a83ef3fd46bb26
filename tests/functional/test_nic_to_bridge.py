# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nic_to_bridge with a real userspace ovs-vswitchd and a "host" whose NIC is a veth to a "peer"
namespace: after the move, the peer must still reach the host over TCP, also from an address that
only the (moved) default route leads back to."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import re
import subprocess
import sys
import time

from conftest import collection_root, ip_json, run_module, vsctl


def nic_bridge():
    """The collection's _nic_bridge, imported from the checkout (for nic_mac)."""
    if collection_root() not in sys.path:
        sys.path.insert(0, collection_root())
    return importlib.import_module('ansible_collections.ovn_k8s.overlay.plugins.module_utils._nic_bridge')


TCP = r'''
import socket, sys
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ':' in addr else socket.AF_INET
if mode == 'serve':
    s = socket.socket(family)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(15)
    print('ready', flush=True)
    c, _ = s.accept()
    c.sendall(c.recv(100).upper())
    c.close()
else:
    c = socket.socket(family)
    c.settimeout(5)
    if len(sys.argv) > 4:
        c.bind((sys.argv[4], 0))
    c.connect((addr, port))
    c.sendall(b'hello')
    print(c.recv(100).decode())
'''


def tcp_reaches(server_ns, addr, client_ns, port, source=None):
    """A TCP server in server_ns on addr answers a client in client_ns (optionally from source)."""
    server = subprocess.Popen(['ip', 'netns', 'exec', server_ns, sys.executable, '-c', TCP, 'serve', addr, str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        assert server.stdout.readline().strip() == 'ready', server.stderr.read()
        client = subprocess.run(['ip', 'netns', 'exec', client_ns, sys.executable, '-c', TCP, 'conn', addr, str(port)]
                                + ([source] if source else []),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=30, check=False)
        return client.stdout.strip() == 'HELLO'
    finally:
        server.kill()
        server.wait()


def link(ns, dev):
    found = [i for i in ip_json(ns, 'addr') if i['ifname'] == dev]
    return found[0] if found else None


def global_addresses(ns, dev):
    return sorted('%s/%s' % (a['local'], a['prefixlen']) for a in link(ns, dev)['addr_info'] if a['scope'] == 'global')


def kernel_state(ns):
    """Links with their MAC, up flag and addresses, and the routes (counters and timers left out)."""
    links = sorted((i['ifname'], i.get('address'), 'UP' in i['flags'],
                    sorted('%s/%s' % (a['local'], a['prefixlen']) for a in i['addr_info']))
                   for i in ip_json(ns, 'addr'))
    routes = sorted((r['dst'], r.get('gateway'), r.get('dev'), r.get('metric', 0))
                    for r in ip_json(ns, 'route') + ip_json(ns, '-6', 'route'))
    return links, routes


def test_nic_to_bridge(vswitchd):
    host, peer, remote = vswitchd['host'], vswitchd['peer'], vswitchd['remote']
    mac = link(host, 'eth0')['address']
    args = dict(remote=remote, nic='eth0', datapath_type='netdev')
    nic_mac = nic_bridge().nic_mac(mac)
    assert nic_mac != mac
    assert tcp_reaches(host, '192.168.77.2', peer, 18080)

    # Check mode: the whole move predicted, nothing touched.
    arp_ignore = sysctl(host, 'net.ipv4.conf.eth0.arp_ignore')
    before = kernel_state(host)
    check = run_module('nic_to_bridge', args, check_mode=True, netns=host)
    assert not check.get('failed') and check['changed'], check
    assert kernel_state(host) == before and vsctl(remote, 'list-br') == ''
    moved_routes = [{'dst': '10.99.0.0/16', 'via': '192.168.77.1', 'metric': 0},
                    {'dst': 'default', 'via': '192.168.77.1', 'metric': 100},
                    {'dst': 'default', 'via': 'fd00:77::1', 'metric': 1024}]
    assert check['diff'] == {
        'before': {'Bridge breth0': None, 'Port eth0': None, 'Link breth0': None,
                   'Link eth0': {'addresses': ['192.168.77.2/24', 'fd00:77::2/64'],
                                 'routes': [dict(r, dev='eth0') for r in moved_routes], 'up': True, 'mac': mac,
                                 'net/ipv4/conf/eth0/arp_ignore': arp_ignore, 'net/ipv6/conf/eth0/disable_ipv6': '0'}},
        'after': {'Bridge breth0': {'name': 'breth0', 'datapath_type': 'netdev', 'other_config': {'hwaddr': mac},
                                    'external_ids': {}},
                  'Port eth0': {'name': 'eth0', 'bridge': 'breth0', 'type': '', 'external_ids': {}, 'options': {}},
                  'Link breth0': {'mac': mac, 'up': True, 'addresses': ['192.168.77.2/24', 'fd00:77::2/64'],
                                  'routes': [dict(r, dev='breth0') for r in moved_routes]},
                  'Link eth0': {'addresses': [], 'routes': [], 'up': True, 'mac': nic_mac,
                                'net/ipv4/conf/eth0/arp_ignore': '8', 'net/ipv6/conf/eth0/disable_ipv6': '1'}}}
    assert check['addresses'] == ['192.168.77.2/24', 'fd00:77::2/64'] and check['mac'] == mac
    assert check['datapath_type'] == 'netdev'

    # The real move.
    real = run_module('nic_to_bridge', args, netns=host)
    assert not real.get('failed') and real['changed'], real
    assert real['diff'] == check['diff']
    # With the userspace datapath the NIC is a layer-2 port: a MAC of its own, no ARP, no IPv6.
    assert link(host, 'eth0')['address'] == nic_mac
    assert sysctl(host, 'net.ipv4.conf.eth0.arp_ignore') == '8'
    assert sysctl(host, 'net.ipv6.conf.eth0.disable_ipv6') == '1'
    assert vsctl(remote, 'port-to-br', 'eth0') == 'breth0'
    assert vsctl(remote, 'get', 'Bridge', 'breth0', 'datapath_type') == 'netdev'
    assert vsctl(remote, 'get', 'Bridge', 'breth0', 'other_config:hwaddr') == '"%s"' % mac
    assert link(host, 'breth0')['address'] == mac
    assert global_addresses(host, 'breth0') == ['192.168.77.2/24', 'fd00:77::2/64']
    assert global_addresses(host, 'eth0') == []
    v4 = ip_json(host, 'route', 'show', 'default')
    v6 = ip_json(host, '-6', 'route', 'show', 'default')
    assert [(r['gateway'], r['dev'], r['metric']) for r in v4] == [('192.168.77.1', 'breth0', 100)]
    assert [(r['gateway'], r['dev']) for r in v6] == [('fd00:77::1', 'breth0')]
    assert not [r for r in ip_json(host, 'route') + ip_json(host, '-6', 'route')
                if r['dev'] == 'eth0' and not r['dst'].startswith('fe80')]

    # The host is still reachable through the bridge: on its subnet, from an address that only
    # the moved default route leads back to, and over IPv6.
    assert tcp_reaches(host, '192.168.77.2', peer, 18081)
    assert tcp_reaches(host, '192.168.77.2', peer, 18082, source='10.99.0.1')
    assert tcp_reaches(host, 'fd00:77::2', peer, 18083)

    # Each frame is taken in once: no duplicate ping replies, and only the bridge answers ARP
    # for the host (with the host's MAC), never the NIC.
    subprocess.check_call(['ip', '-n', peer, 'neigh', 'flush', 'all'])
    assert ping_duplicates(peer, '192.168.77.2') == 0
    assert neighbour_mac(peer, '192.168.77.2') == mac

    # Again: the moved state is recognised.
    repeat = run_module('nic_to_bridge', args, netns=host)
    assert repeat['changed'] is False and repeat['diff'] == {'before': {}, 'after': {}}, repeat
    assert repeat['addresses'] == ['192.168.77.2/24', 'fd00:77::2/64']

    # As after a reboot: the network configuration put an address and the default route back on
    # the NIC (the OVS database kept the bridge). A run moves them again.
    subprocess.check_call(['ip', '-n', host, 'addr', 'flush', 'dev', 'breth0', 'scope', 'global'])
    subprocess.check_call(['ip', '-n', host, 'addr', 'add', '192.168.77.2/24', 'dev', 'eth0'])
    subprocess.check_call(['ip', '-n', host, 'route', 'add', 'default', 'via', '192.168.77.1', 'metric', '100'])
    again = run_module('nic_to_bridge', args, netns=host)
    assert again['changed'] and 'Bridge breth0' not in again['diff']['after'], again
    assert again['diff']['after']['Link breth0']['addresses'] == ['192.168.77.2/24']
    assert global_addresses(host, 'breth0') == ['192.168.77.2/24'] and global_addresses(host, 'eth0') == []
    assert [r['dev'] for r in ip_json(host, 'route', 'show', 'default')] == ['breth0']
    assert tcp_reaches(host, '192.168.77.2', peer, 18084, source='10.99.0.1')
    assert run_module('nic_to_bridge', args, netns=host)['changed'] is False


def ping_duplicates(ns, addr, count=4):
    """How many duplicate replies ``count`` pings from ``ns`` to ``addr`` got (all must be answered)."""
    out = subprocess.run(['ip', 'netns', 'exec', ns, 'ping', '-n', '-c', str(count), '-i', '0.2', '-W', '2', addr],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False).stdout
    assert ' %d received' % count in out, out
    found = re.search(r'\+(\d+) duplicates', out)
    return int(found.group(1)) if found else 0


def neighbour_mac(ns, addr):
    found = [n for n in ip_json(ns, 'neigh', 'show', addr) if n.get('lladdr')]
    return found[0]['lladdr'] if found else None


def sysctl(ns, name):
    return subprocess.check_output(['ip', 'netns', 'exec', ns, 'sysctl', '-n', name], universal_newlines=True).strip()


def test_kernel_datapath_and_existing_bridges_are_not_converted(vswitchd):
    """datapath_type not given: an existing bridge keeps its datapath (here netdev, so the NIC
    becomes a layer-2 port), never silently switched to the kernel datapath."""
    host, peer, remote = vswitchd['host'], vswitchd['peer'], vswitchd['remote']
    vsctl(remote, 'add-br', 'breth0', '--', 'set', 'Bridge', 'breth0', 'datapath_type=netdev')
    real = run_module('nic_to_bridge', dict(remote=remote, nic='eth0'), netns=host)
    assert real['changed'] and not real.get('failed'), real
    assert vsctl(remote, 'get', 'Bridge', 'breth0', 'datapath_type') == 'netdev'
    assert real['datapath_type'] == 'netdev' and 'datapath_type' not in real['diff']['after'].get('Bridge breth0', {})
    assert link(host, 'eth0')['address'] == nic_bridge().nic_mac(real['mac'])
    assert tcp_reaches(host, '192.168.77.2', peer, 18086)
    assert run_module('nic_to_bridge', dict(remote=remote, nic='eth0'), netns=host)['changed'] is False
    bad = run_module('nic_to_bridge', dict(remote=remote, nic='eth0', datapath_type='kernel'), netns=host)
    assert bad['failed'] and 'datapath_type' in bad['msg'], bad


def test_nic_mac_is_stable_local_unicast_and_distinct():
    for host_mac in ('52:54:00:12:34:56', '02:00:00:00:00:01', 'fe:ff:ff:ff:ff:ff'):
        nic = nic_bridge().nic_mac(host_mac)
        first = int(nic[:2], 16)
        assert nic == nic_bridge().nic_mac(host_mac.upper()) and nic != host_mac
        assert first & 0x02 and not first & 0x01


def test_refusals_change_nothing(vswitchd):
    host, remote = vswitchd['host'], vswitchd['remote']
    # A second NIC already on another bridge.
    subprocess.check_call(['ip', '-n', host, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1p'])
    vsctl(remote, 'add-br', 'br-other', '--', 'set', 'Bridge', 'br-other', 'datapath_type=netdev',
          '--', 'add-port', 'br-other', 'eth1')
    deadline = time.time() + 10
    while link(host, 'br-other') is None and time.time() < deadline:  # let ovs-vswitchd settle first
        time.sleep(0.05)
    for args, msg in [
        (dict(nic='nope0'), 'NIC nope0 does not exist on this host'),
        (dict(nic='eth1'), 'NIC eth1 is already a port of the Open vSwitch bridge br-other, not of breth1'),
        (dict(nic='eth0', bridge='eth0'), 'NIC eth0: the bridge must have another name than the NIC'),
        (dict(nic='eth0', bridge='br-other-too-long-name'), "is not a valid interface name"),
    ]:
        db, kernel = vsctl(remote, 'show'), kernel_state(host)
        bad = run_module('nic_to_bridge', dict(args, remote=remote, datapath_type='netdev'), netns=host)
        assert bad['failed'] and msg in bad['msg'], bad
        assert vsctl(remote, 'show') == db and kernel_state(host) == kernel


def test_no_vswitchd(ovs_db, host_and_peer):
    """Without ovs-vswitchd the bridge's device never appears: a clear error after the timeout."""
    # The module gives up after its own 2 seconds; still running after 30 it would have hung.
    bad = run_module('nic_to_bridge', dict(remote=ovs_db, nic='eth0', datapath_type='netdev', timeout=2),
                     netns=host_and_peer.host, timeout=30)
    assert bad['failed'] and 'network device breth0 did not appear within 2 seconds: is ovs-vswitchd running?' in bad['msg']
    # The addresses stayed on the NIC: the host was never cut off.
    assert global_addresses(host_and_peer.host, 'eth0') == ['192.168.77.2/24', 'fd00:77::2/64']


def test_system_python(vswitchd, system_python):
    """Debian 12's ovsdbapp 2.1 and pyroute2 0.7."""
    host, peer = vswitchd['host'], vswitchd['peer']
    args = dict(remote=vswitchd['remote'], nic='eth0', datapath_type='netdev')
    real = run_module('nic_to_bridge', args, netns=host, **system_python)
    assert real['changed'] and not real.get('failed'), real
    assert global_addresses(host, 'breth0') == ['192.168.77.2/24', 'fd00:77::2/64']
    assert tcp_reaches(host, '192.168.77.2', peer, 18085, source='10.99.0.1')
    assert run_module('nic_to_bridge', args, netns=host, **system_python)['changed'] is False
