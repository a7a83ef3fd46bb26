# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nic_to_bridge with a real userspace ovs-vswitchd and a "host" whose NIC is a veth to a "peer"
namespace: after the move, the peer must still reach the host over TCP, also from an address that
only the (moved) default route leads back to."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import json
import os
import re
import subprocess
import sys
import time

from conftest import REPO, collection_root, converge_module, ip_json, run_module, vsctl, wait_gone


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
                                 'net/ipv4/conf/eth0/arp_ignore': arp_ignore, 'net/ipv6/conf/eth0/disable_ipv6': '0',
                                 'tx_checksum': False}},
        'after': {'Bridge breth0': {'name': 'breth0', 'datapath_type': 'netdev', 'other_config': {'hwaddr': mac},
                                    'external_ids': {'ovn-k8s-created-by': 'nic_to_bridge'}},
                  'Port eth0': {'name': 'eth0', 'bridge': 'breth0', 'type': '', 'external_ids': {}, 'options': {}},
                  'Link breth0': {'mac': mac, 'up': True, 'addresses': ['192.168.77.2/24', 'fd00:77::2/64'],
                                  'routes': [dict(r, dev='breth0') for r in moved_routes]},
                  'Link eth0': {'addresses': [], 'routes': [], 'up': True, 'mac': nic_mac,
                                'net/ipv4/conf/eth0/arp_ignore': '8', 'net/ipv6/conf/eth0/disable_ipv6': '1',
                                'tx_checksum': False}}}
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


# Persistence (persist=true and the boot-time redo) and state=absent (issue 21, step 5) ------------
BOOT = os.path.join(REPO, 'agents', 'bin', 'ovn-k8s-nic-bridge')


def restart_vswitchd(vswitchd, tmp_path, between=None):
    """Stop the fixture's ovs-vswitchd, run ``between()``, start it again as the fixture did."""
    rundir = str(tmp_path)
    pidfile = os.path.join(rundir, 'vswitchd.pid')
    with open(pidfile) as f:
        pid = int(f.read().strip())
    os.kill(pid, 15)
    wait_gone(pid, 10)
    if between:
        between()
    env = dict(os.environ, OVS_RUNDIR=rundir, OVS_LOGDIR=rundir, OVS_DBDIR=rundir, OVS_SYSCONFDIR=rundir)
    subprocess.check_call(['ip', 'netns', 'exec', vswitchd['host'], 'ovs-vswitchd', vswitchd['remote'],
                           '--disable-system', '--detach', '--no-chdir', '--pidfile=' + pidfile,
                           '--unixctl=' + os.path.join(rundir, 'vswitchd.ctl'),
                           '--log-file=' + vswitchd['log']], env=env)


def new_veth(host, peer):
    """As a container's restart (or a reboot) does: the NIC is made anew (another MAC, transmit
    checksum offload on, IPv6 and ARP settings at their defaults) and the runtime puts the host's
    IPv4 address back on it, not its IPv6 address nor its routes; the peer's side as before."""
    subprocess.call(['ip', '-n', host, 'link', 'del', 'eth0'])
    subprocess.check_call(['ip', '-n', host, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p',
                           'netns', peer])
    subprocess.check_call(['ip', '-n', peer, 'link', 'set', 'eth0p', 'name', 'eth0'])
    subprocess.check_call(['ip', 'netns', 'exec', peer, 'ethtool', '-K', 'eth0', 'tx', 'off'], stdout=subprocess.DEVNULL)
    subprocess.check_call(['ip', '-n', peer, 'addr', 'add', '192.168.77.1/24', 'dev', 'eth0'])
    subprocess.check_call(['ip', '-n', peer, 'addr', 'add', 'fd00:77::1/64', 'dev', 'eth0', 'nodad'])
    subprocess.check_call(['ip', '-n', peer, 'link', 'set', 'eth0', 'up'])
    subprocess.check_call(['ip', '-n', host, 'addr', 'add', '192.168.77.2/24', 'dev', 'eth0'])
    subprocess.check_call(['ip', '-n', host, 'link', 'set', 'eth0', 'up'])


def reboot_links(host, peer):
    """What a reboot does to the links while ovs-vswitchd is away: its devices are gone (the
    userspace datapath's tap devices outlive it otherwise) and the NIC is made anew."""
    for dev in ('breth0', 'ovs-netdev'):
        subprocess.call(['ip', '-n', host, 'link', 'del', dev], stderr=subprocess.DEVNULL)
    new_veth(host, peer)


def boot(host, remote, persist_dir, *extra):
    """The boot-time redo, under the interpreter the modules run under (OVN_K8S_MODULE_PYTHON=system:
    the hosts' own, as the unit runs it)."""
    python = '/usr/bin/python3' if os.environ.get('OVN_K8S_MODULE_PYTHON') == 'system' else sys.executable
    return subprocess.run(['ip', 'netns', 'exec', host, python, BOOT, '--dir', persist_dir,
                           '--remote', remote, '--timeout', '10'] + list(extra),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)


def tx_offload(ns, dev):
    out = subprocess.check_output(['ip', 'netns', 'exec', ns, 'ethtool', '-k', dev], universal_newlines=True)
    return re.search(r'^tx-checksumming: (\w+)', out, re.M).group(1)


def test_persisted_move_comes_back_after_a_reboot_without_ansible(vswitchd, tmp_path):
    host, peer, remote = vswitchd['host'], vswitchd['peer'], vswitchd['remote']
    persist_dir = str(tmp_path / 'nic-bridge')
    path = os.path.join(persist_dir, 'eth0.json')
    mac = link(host, 'eth0')['address']
    args = dict(remote=remote, nic='eth0', datapath_type='netdev', persist=True, persist_dir=persist_dir)
    check, real, _repeat = converge_module('nic_to_bridge', args, netns=host)
    described = {'nic': 'eth0', 'bridge': 'breth0', 'datapath_type': 'netdev', 'mac': mac, 'mtu': 1500,
                 'addresses': ['192.168.77.2/24', 'fd00:77::2/64'],
                 'routes': [{'family': 4, 'dst': '10.99.0.0/16', 'via': '192.168.77.1', 'metric': 0, 'proto': 3, 'scope': 0},
                            {'family': 4, 'dst': 'default', 'via': '192.168.77.1', 'metric': 100, 'proto': 3, 'scope': 0},
                            {'family': 6, 'dst': 'default', 'via': 'fd00:77::1', 'metric': 1024, 'proto': 3, 'scope': 0}]}
    assert check['diff']['before']['File %s' % path] is None
    assert check['diff']['after']['File %s' % path] == {'mode': '0600', 'content': described}
    assert real['persisted'] == path
    with open(path) as f:
        assert json.load(f) == described
    assert os.stat(path).st_mode & 0o777 == 0o600 and os.stat(persist_dir).st_mode & 0o777 == 0o700
    # The boot-time redo on a host where everything is in place changes nothing.
    quiet = boot(host, remote, persist_dir)
    assert quiet.returncode == 0 and 'already in place' in quiet.stdout, quiet.stdout

    # "Reboot": ovs-vswitchd stops; the NIC is made anew and gets only its IPv4 address back; the
    # bridge's device comes back from the database without addresses or routes.
    restart_vswitchd(vswitchd, tmp_path, between=lambda: reboot_links(host, peer))
    new_mac = link(host, 'eth0')['address']
    assert new_mac != mac and tx_offload(host, 'eth0') == 'on'
    assert global_addresses(host, 'eth0') == ['192.168.77.2/24']
    assert not tcp_reaches(host, '192.168.77.2', peer, 18090, source='10.99.0.1')

    predicted = boot(host, remote, persist_dir, '--check')
    assert predicted.returncode == 0 and 'would move eth0 into breth0' in predicted.stdout, predicted.stdout
    assert global_addresses(host, 'eth0') == ['192.168.77.2/24'] and tx_offload(host, 'eth0') == 'on'
    redo = boot(host, remote, persist_dir)
    assert redo.returncode == 0 and 'moved eth0 into breth0' in redo.stdout, redo.stdout
    # Everything as after the first move, restored from the description where nothing put it back.
    assert global_addresses(host, 'breth0') == ['192.168.77.2/24', 'fd00:77::2/64']
    assert global_addresses(host, 'eth0') == []
    assert link(host, 'breth0')['address'] == mac
    assert link(host, 'eth0')['address'] == nic_bridge().nic_mac(mac)
    assert tx_offload(host, 'eth0') == 'off'
    assert sysctl(host, 'net.ipv4.conf.eth0.arp_ignore') == '8'
    assert sorted((r['dst'], r['dev'], r.get('metric', 0)) for r in ip_json(host, 'route') if r.get('gateway')) == [
        ('10.99.0.0/16', 'breth0', 0), ('default', 'breth0', 100)]
    assert [r['dev'] for r in ip_json(host, '-6', 'route', 'show', 'default')] == ['breth0']
    assert tcp_reaches(host, '192.168.77.2', peer, 18091, source='10.99.0.1')
    assert tcp_reaches(host, 'fd00:77::2', peer, 18092)
    again = boot(host, remote, persist_dir)
    assert again.returncode == 0 and 'already in place' in again.stdout, again.stdout
    # Ansible agrees: nothing to change, the description included.
    after = run_module('nic_to_bridge', args, netns=host)
    assert after['changed'] is False, after

    # persist=false removes the description (the move stays); omitted, persist leaves it alone.
    kept = run_module('nic_to_bridge', dict(args, persist=None), netns=host)
    assert kept['changed'] is False and os.path.exists(path)
    dropped = converge_module('nic_to_bridge', dict(args, persist=False), netns=host)[1]
    assert dropped['diff']['after'] == {'File %s' % path: None} and not os.path.exists(path)


def test_boot_reports_a_description_it_cannot_use(vswitchd, tmp_path):
    host, remote = vswitchd['host'], vswitchd['remote']
    persist_dir = tmp_path / 'nic-bridge'
    persist_dir.mkdir()
    (persist_dir / 'eth0.json').write_text('{"nic": "eth0", "bridge": "breth0"')
    (persist_dir / 'eth9.json').write_text(json.dumps({'nic': 'eth9', 'bridge': 'breth9', 'datapath_type': 'netdev'}))
    before = kernel_state(host), vsctl(remote, 'show')
    out = boot(host, remote, str(persist_dir))
    assert out.returncode == 1, out.stdout
    assert 'eth0.json: FAILED: the move description' in out.stdout and 'is not JSON' in out.stdout
    assert 'eth9.json: FAILED: NIC eth9 does not exist on this host' in out.stdout
    assert (kernel_state(host), vsctl(remote, 'show')) == before


PROBLEMS = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _netlink, _nic_bridge
ipr = _netlink.open_ipr()
nic = _netlink.read_link(ipr, 'eth0')
print(json.dumps(_nic_bridge.persist_problems(nic, None, sys.argv[2], sys.argv[3:])))
'''


def persist_problems(host, nm_dir, *ifupdown):
    out = subprocess.check_output(['ip', 'netns', 'exec', host, sys.executable, '-c', PROBLEMS,
                                   os.path.join(REPO, '.build'), nm_dir] + list(ifupdown), universal_newlines=True)
    return json.loads(out)


def test_persist_refuses_what_the_boot_time_move_would_fight(vswitchd, tmp_path):
    host, remote = vswitchd['host'], vswitchd['remote']
    persist_dir = str(tmp_path / 'nic-bridge')
    args = dict(remote=remote, nic='eth0', datapath_type='netdev', persist=True, persist_dir=persist_dir)
    # A leased address (as a DHCP client adds it: with a lifetime).
    subprocess.check_call(['ip', '-n', host, 'addr', 'add', '192.168.77.9/24', 'dev', 'eth0',
                           'valid_lft', '600', 'preferred_lft', '600'])
    before = kernel_state(host), vsctl(remote, 'show')
    bad = run_module('nic_to_bridge', args, netns=host)
    assert bad['failed'] and bad['msg'].startswith('NIC eth0: the move cannot be made persistent: eth0 has '
                                                   '192.168.77.9/24 with a lifetime (a DHCP lease'), bad
    assert bad['msg'].endswith('Nothing was changed')
    assert (kernel_state(host), vsctl(remote, 'show')) == before and not os.path.exists(persist_dir)
    subprocess.check_call(['ip', '-n', host, 'addr', 'del', '192.168.77.9/24', 'dev', 'eth0'])

    # NetworkManager's record of the device, and ifupdown's stanzas (files as those programs write them).
    index = str(link(host, 'eth0')['ifindex'])
    nm_dir, etc = tmp_path / 'nm', tmp_path / 'interfaces.d'
    nm_dir.mkdir()
    etc.mkdir()
    assert persist_problems(host, str(nm_dir), str(etc)) == []
    (nm_dir / index).write_text('[device]\nmanaged=false\n')
    (etc / 'eth0').write_text('auto eth0\niface eth0 inet static\n    address 192.168.77.2/24\n')
    assert persist_problems(host, str(nm_dir), str(etc)) == []
    (nm_dir / index).write_text('[device]\nmanaged=true\nperm-hw-address-fake=false\n')
    (etc / 'eth0').write_text('auto eth0\niface eth0 inet static\n    address 192.168.77.2/24\niface eth0 inet6 auto\n')
    problems = persist_problems(host, str(nm_dir), str(etc))
    assert len(problems) == 2, problems
    assert problems[0].startswith('NetworkManager manages eth0')
    assert problems[1].startswith('ifupdown configures eth0 with "iface eth0 inet6 auto"')

    # A NIC enslaved to a bond is refused, persist or not (a Linux bridge where the kernel has no
    # bonding driver: the same master check).
    kind = 'bond' if subprocess.call(['ip', '-n', host, 'link', 'add', 'agg0', 'type', 'bond'],
                                     stderr=subprocess.DEVNULL) == 0 else 'bridge'
    if kind == 'bridge':
        subprocess.check_call(['ip', '-n', host, 'link', 'add', 'agg0', 'type', 'bridge'])
    subprocess.check_call(['ip', '-n', host, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1p'])
    subprocess.check_call(['ip', '-n', host, 'link', 'set', 'eth1', 'master', 'agg0'])
    before = kernel_state(host), vsctl(remote, 'show')
    bad = run_module('nic_to_bridge', dict(args, nic='eth1'), netns=host)
    assert bad['failed'] and 'NIC eth1 is already part of %s agg0; take it out first' % kind in bad['msg'], bad
    assert (kernel_state(host), vsctl(remote, 'show')) == before and not os.path.exists(persist_dir)
    bad = run_module('nic_to_bridge', dict(args, state='absent'), netns=host)
    assert bad['failed'] and bad['msg'] == 'NIC eth0: persist=true needs state=present', bad


def test_absent_undoes_the_move(vswitchd, tmp_path):
    host, peer, remote = vswitchd['host'], vswitchd['peer'], vswitchd['remote']
    persist_dir = str(tmp_path / 'nic-bridge')
    path = os.path.join(persist_dir, 'eth0.json')
    original = kernel_state(host)
    mac = link(host, 'eth0')['address']
    arp_ignore = sysctl(host, 'net.ipv4.conf.eth0.arp_ignore')
    moved = run_module('nic_to_bridge', dict(remote=remote, nic='eth0', datapath_type='netdev', persist=True,
                                             persist_dir=persist_dir), netns=host)
    assert moved['changed'] and os.path.exists(path), moved
    args = dict(remote=remote, nic='eth0', state='absent', persist_dir=persist_dir)
    moved_state = kernel_state(host), vsctl(remote, 'show')

    def untouched():
        assert (kernel_state(host), vsctl(remote, 'show')) == moved_state and os.path.exists(path)
    check, real, repeat = converge_module('nic_to_bridge', args, untouched=untouched, netns=host)
    routes = [{'dst': '10.99.0.0/16', 'via': '192.168.77.1', 'metric': 0},
              {'dst': 'default', 'via': '192.168.77.1', 'metric': 100},
              {'dst': 'default', 'via': 'fd00:77::1', 'metric': 1024}]
    assert check['diff']['before']['Link eth0'] == {
        'addresses': [], 'routes': [], 'up': True, 'mac': nic_bridge().nic_mac(mac),
        'net/ipv4/conf/eth0/arp_ignore': '8', 'net/ipv6/conf/eth0/disable_ipv6': '1'}
    assert check['diff']['after']['Link eth0'] == {
        'addresses': ['192.168.77.2/24', 'fd00:77::2/64'], 'routes': [dict(r, dev='eth0') for r in routes],
        'up': True, 'mac': mac, 'net/ipv4/conf/eth0/arp_ignore': arp_ignore, 'net/ipv6/conf/eth0/disable_ipv6': '0'}
    assert check['diff']['after']['Link breth0'] == {'addresses': [], 'routes': []}
    for label in ('Port eth0', 'Bridge breth0', 'File %s' % path):
        assert check['diff']['before'][label] is not None and check['diff']['after'][label] is None, label
    assert real['bridge_removed'] is True and real['bridge_kept'] is None
    assert real['addresses'] == ['192.168.77.2/24', 'fd00:77::2/64'] and repeat['bridge_removed'] is False
    # The host as it was before the move (the NIC keeps its transmit checksum offload setting).
    assert kernel_state(host) == original
    assert vsctl(remote, 'list-br') == '' and not os.path.exists(path)
    assert tcp_reaches(host, '192.168.77.2', peer, 18093, source='10.99.0.1')
    assert tcp_reaches(host, 'fd00:77::2', peer, 18094)


def test_absent_keeps_a_bridge_it_did_not_make_or_that_has_other_ports(vswitchd):
    host, peer, remote = vswitchd['host'], vswitchd['peer'], vswitchd['remote']
    vsctl(remote, 'add-br', 'breth0', '--', 'set', 'Bridge', 'breth0', 'datapath_type=netdev')
    assert run_module('nic_to_bridge', dict(remote=remote, nic='eth0'), netns=host)['changed']
    gone = converge_module('nic_to_bridge', dict(remote=remote, nic='eth0', state='absent'), netns=host)[1]
    assert gone['bridge_removed'] is False and gone['bridge_kept'] == 'nic_to_bridge did not create it'
    assert 'Bridge breth0' not in gone['diff']['after'] and vsctl(remote, 'list-br') == 'breth0'
    assert vsctl(remote, 'list-ports', 'breth0') == ''
    assert global_addresses(host, 'eth0') == ['192.168.77.2/24', 'fd00:77::2/64']
    assert tcp_reaches(host, '192.168.77.2', peer, 18095, source='10.99.0.1')

    # A bridge the module made, with another port left on it: the bridge stays, and says why.
    vsctl(remote, 'del-br', 'breth0')
    assert run_module('nic_to_bridge', dict(remote=remote, nic='eth0', datapath_type='netdev'), netns=host)['changed']
    vsctl(remote, 'add-port', 'breth0', 'patch-x', '--', 'set', 'Interface', 'patch-x', 'type=internal')
    kept = converge_module('nic_to_bridge', dict(remote=remote, nic='eth0', state='absent'), netns=host)[1]
    assert kept['bridge_removed'] is False and kept['bridge_kept'] == 'ports patch-x are still on it'
    assert vsctl(remote, 'list-ports', 'breth0') == 'patch-x'
    # A NIC on another bridge is refused; a NIC on no bridge at all is left alone.
    assert run_module('nic_to_bridge', dict(remote=remote, nic='eth0', bridge='brx', state='absent'),
                      netns=host)['changed'] is False
    vsctl(remote, 'add-port', 'breth0', 'eth0')
    before = kernel_state(host), vsctl(remote, 'show')
    bad = run_module('nic_to_bridge', dict(remote=remote, nic='eth0', bridge='brx', state='absent'), netns=host)
    assert bad['failed'] and bad['msg'] == ('NIC eth0 is a port of the Open vSwitch bridge breth0, not of brx; '
                                            'refusing to take it out'), bad
    assert (kernel_state(host), vsctl(remote, 'show')) == before
