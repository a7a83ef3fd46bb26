# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hypervisor for the underlay mode's packet tests (plain Python, no pytest): ovn-northd, an
ovn-controller and a userspace ovs-vswitchd in a namespace, "VMs" as namespaces whose eth0 is an
interface of br-int bound to their logical port, and a raw packet socket that plays a pod inside
a VM (it sends and reads 802.1Q frames on the VM's eth0 itself: the CI machines' kernel has no
VLAN devices). Used by tests/functional/test_underlay_packets.py and
tests/watcher/test_underlay_packets.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import ovs_lab  # tests/lib
from ovn_stack import OvnCentral, OvnController  # tests/lib
from ovsdb_server import OvsdbServer  # tests/lib

SWITCH, ROUTER = 'tenant', 'tenant-router'
POD_IP, POD_MAC, TAG = '192.168.50.5', '0a:58:c0:a8:32:05', 101
VM_IP, VM_MAC = '192.168.50.10', '0a:00:00:00:00:0a'
VM_B_IP, VM_B_MAC = '192.168.50.11', '0a:00:00:00:00:0b'
PLAIN_IP, PLAIN_MAC = '192.168.50.20', '0a:00:00:00:00:14'
ROUTER_MAC = '0a:00:00:00:00:01'
VIP, VIP_PORT, BACKEND_PORT = '10.96.0.10', 53, 5353

# Sends one frame on IFACE (802.1Q-tagged with TAG unless 0) and prints, as JSON, the first
# frame that comes back on IFACE with that tag and IPv4 protocol PROTO from SRC to the sender's
# address within WAIT seconds (or null). The kernel hands a received tag over out of band
# (PACKET_AUXDATA) or leaves it in the frame; both are read.
RAW = r'''
import json, socket, struct, sys, time
iface, tag, src_mac, dst_mac, src_ip, dst_ip, proto, dport, want_src, wait = sys.argv[1:11]
tag, dport, wait = int(tag), int(dport), float(wait)
def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xffff)
    return (~(s + (s >> 16))) & 0xffff
mac = lambda m: bytes(int(x, 16) for x in m.split(':'))
if proto == 'icmp':
    body = struct.pack('!BBHHH', 8, 0, 0, 0x4242, 1) + b'underlay'
    body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
    number = 1
elif proto == 'tcp':
    # A SYN with its checksum over the pseudo-header: the answer to look for is the SYN-ACK.
    body = struct.pack('!HHIIBBHHH', 40000, dport, 1000, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = socket.inet_aton(src_ip) + socket.inet_aton(dst_ip) + struct.pack('!BBH', 0, 6, len(body))
    body = body[:16] + struct.pack('!H', csum(pseudo + body)) + body[18:]
    number = 6
else:
    payload = b'hello'
    body = struct.pack('!HHHH', 40000, dport, 8 + len(payload), 0) + payload
    number = 17
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(body), 1, 0x4000, 64, number, 0,
                 socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
frame = mac(dst_mac) + mac(src_mac)
if tag:
    frame += struct.pack('!HH', 0x8100, tag)
frame += struct.pack('!H', 0x0800) + ip + body
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((iface, 0))
s.setsockopt(263, 8, 1)   # SOL_PACKET, PACKET_AUXDATA
s.settimeout(0.2)
deadline = time.time() + wait
sent_at = 0
found = None
while time.time() < deadline and found is None:
    if time.time() - sent_at > 1:
        s.send(frame)
        sent_at = time.time()
    try:
        data, ancdata, flags, addr = s.recvmsg(65535, socket.CMSG_SPACE(32))
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    vlan = 0
    for level, kind, value in ancdata:
        if level == 263 and kind == 8:
            status, length, snap, mac_off, net_off, tci = struct.unpack('IIIHHH', value[:18])
            if status & 0x10:
                vlan = tci & 0xfff
    etype = struct.unpack('!H', data[12:14])[0]
    rest = data[14:]
    if etype == 0x8100:
        vlan = struct.unpack('!H', rest[:2])[0] & 0xfff
        etype = struct.unpack('!H', rest[2:4])[0]
        rest = rest[4:]
    if etype != 0x0800 or vlan != tag or rest[9] != number:
        continue
    got_src, got_dst = socket.inet_ntoa(rest[12:16]), socket.inet_ntoa(rest[16:20])
    if got_src != want_src or got_dst != src_ip:
        continue
    l4 = rest[(rest[0] & 15) * 4:]
    found = dict(vlan=vlan, src=got_src, dst=got_dst, dst_mac=':'.join('%02x' % b for b in data[:6]))
    if number == 1:
        found['icmp_type'] = l4[0]
    elif number == 6:
        found['sport'], found['flags'] = struct.unpack('!H', l4[:2])[0], l4[13]
    else:
        found['sport'] = struct.unpack('!H', l4[:2])[0]
        found['payload'] = l4[8:].decode('ascii', 'replace')
print(json.dumps(found))
'''

UDP_ECHO = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', int(sys.argv[1])))
print('ready', flush=True)
while True:
    data, peer = s.recvfrom(1500)
    s.sendto(data.upper(), peer)
'''


def sh(*args):
    subprocess.check_call(list(args))


class Hypervisor:
    """One hypervisor (OVS + ovn-controller in a namespace) with VMs plugged into br-int."""

    def __init__(self, tmp, tag, central=None, tunnel=None):
        """``central``: another hypervisor's OVN central part (else one of its own);
        ``tunnel``: (interface, address/prefix) of a link to other hypervisors already in this
        hypervisor's namespace (see :func:`link`): the geneve endpoint, on a netdev bridge."""
        self.tmp, self.tag = str(tmp), tag
        self.netns = 'ovkhv-' + tag
        self.netnses, self.stops = [self.netns], []
        if tunnel is None:  # else link() made the namespace, with the link in it
            subprocess.call(['ip', 'netns', 'del', self.netns], stderr=subprocess.DEVNULL)
            sh('ip', 'netns', 'add', self.netns)
        sh('ip', '-n', self.netns, 'link', 'set', 'lo', 'up')
        if central is None:
            os.makedirs(os.path.join(self.tmp, 'central'))
            central = OvnCentral(os.path.join(self.tmp, 'central'))
            self.stops.append(central.stop)
        self.central = central
        db = OvsdbServer(self.tmp, [ovs_lab.OVS_SCHEMA], 'ovs')
        self.stops.append(lambda: db.stop(wait=True))
        self.ovs = db.remote
        ovs_lab.vsctl(self.ovs, 'init')
        pidfile = ovs_lab.start_vswitchd(self.ovs, self.netns, self.tmp)
        self.stops.append(lambda: ovs_lab.stop_pidfile(pidfile))
        ovs_lab.vsctl(self.ovs, 'add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev')
        self.chassis = 'hv-' + tag
        if tunnel is not None:
            # The tunnel endpoint on a netdev bridge holding the link (userspace tunnels need it).
            nic, address = tunnel
            ovs_lab.vsctl(self.ovs, 'add-br', 'br-phy', '--', 'set', 'Bridge', 'br-phy', 'datapath_type=netdev',
                          '--', 'add-port', 'br-phy', nic)
            for dummy in range(100):
                if subprocess.call(['ip', '-n', self.netns, 'link', 'show', 'br-phy'], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL) == 0:
                    break
                subprocess.call(['sleep', '0.05'])
            sh('ip', '-n', self.netns, 'addr', 'add', address, 'dev', 'br-phy')
            sh('ip', '-n', self.netns, 'link', 'set', 'br-phy', 'up')
        controller = OvnController(self.central, self.ovs, self.netns, self.tmp, self.chassis)
        self.stops.append(controller.stop)
        self.controller_log = controller.log_file
        if tunnel is not None:
            ip = tunnel[1].split('/')[0]
            ovs_lab.vsctl(self.ovs, 'set', 'Open_vSwitch', '.', 'external_ids:ovn-encap-ip=' + ip)
            for dummy in range(200):
                if ip in self.central.sbctl('--bare', '--columns=ip', 'find', 'Encap',
                                            'chassis_name=%s' % self.chassis).split():
                    break
                subprocess.call(['sleep', '0.05'])
            else:
                raise RuntimeError('chassis %s never took its tunnel address %s' % (self.chassis, ip))

    def vm(self, name, port, mac, ip):
        """A VM: a namespace whose eth0 (``mac``, ``ip``/24) is an interface of br-int bound to ``port``."""
        netns = 'ovkul-%s-%s' % (name, self.tag)
        self.netnses.append(netns)
        subprocess.call(['ip', 'netns', 'del', netns], stderr=subprocess.DEVNULL)
        sh('ip', 'netns', 'add', netns)
        host = 'ul%s%s' % (name[:3], self.tag)[:15]
        sh('ip', 'link', 'add', host, 'netns', self.netns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns)
        for ns, dev in ((netns, 'eth0'), (self.netns, host)):
            sh('ip', 'netns', 'exec', ns, 'ethtool', '-K', dev, 'tx', 'off')
            sh('ip', '-n', ns, 'link', 'set', dev, 'up')
        sh('ip', '-n', netns, 'link', 'set', 'eth0', 'address', mac)
        sh('ip', '-n', netns, 'addr', 'add', ip + '/24', 'dev', 'eth0')
        sh('ip', '-n', netns, 'link', 'set', 'lo', 'up')
        sh('ip', '-n', netns, 'route', 'add', 'default', 'via', '192.168.50.1')
        ovs_lab.vsctl(self.ovs, 'add-port', 'br-int', host, '--', 'set', 'Interface', host,
                      'external_ids:iface-id=%s' % port)
        return netns

    def raw(self, netns, tag, dst_mac, dst_ip, proto='icmp', src_ip=POD_IP, src_mac=POD_MAC, dport=0,
            want_src=None, wait=6):
        out = subprocess.run(['ip', 'netns', 'exec', netns, sys.executable, '-c', RAW, 'eth0', str(tag), src_mac,
                              dst_mac, src_ip, dst_ip, proto, str(dport), want_src or dst_ip, str(wait)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
                             check=False)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def wait_up(self, port):
        """Until ovn-controller bound ``port`` here (its Port_Binding names this chassis)."""
        for dummy in range(200):
            chassis = self.central.sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding',
                                         'logical_port=%s' % port)
            if chassis:
                return
            subprocess.call(['sleep', '0.1'])
        raise AssertionError('port %s was never bound; ovn-controller log: %s' % (port, self.controller_log))

    def close(self):
        for stop in reversed(self.stops):
            try:
                stop()
            except Exception:  # keep tearing down
                pass
        for ns in self.netnses:
            subprocess.call(['ip', 'netns', 'del', ns], stderr=subprocess.DEVNULL)


def link(tag, hypervisors):
    """A veth between the namespaces of two hypervisors to be (made before them): returns their
    ``tunnel`` arguments, 172.31.0.1/24 and .2/24 on eth1 of each."""
    names = ['ovkhv-%s' % t for t in hypervisors]
    for ns in names:
        subprocess.call(['ip', 'netns', 'del', ns], stderr=subprocess.DEVNULL)
        sh('ip', 'netns', 'add', ns)
    sh('ip', 'link', 'add', 'ulk%sa' % tag, 'netns', names[0], 'type', 'veth', 'peer', 'name', 'ulk%sb' % tag,
       'netns', names[1])
    for ns, dev in ((names[0], 'ulk%sa' % tag), (names[1], 'ulk%sb' % tag)):
        sh('ip', '-n', ns, 'link', 'set', dev, 'name', 'eth1')
        sh('ip', 'netns', 'exec', ns, 'ethtool', '-K', 'eth1', 'tx', 'off')
        sh('ip', '-n', ns, 'link', 'set', 'eth1', 'up')
    return [('eth1', '172.31.0.1/24'), ('eth1', '172.31.0.2/24')]


def vm_network(central):
    """The VM network (switch SWITCH, 192.168.50.0/24) with the VMs vm-a and vm-b and the plain VM's
    port, and its router ROUTER on the first address."""
    c = central
    c.nbctl('ls-add', SWITCH, '--', 'set', 'Logical_Switch', SWITCH, 'other_config:subnet=192.168.50.0/24')
    for port, mac, ip in (('vm-a', VM_MAC, VM_IP), ('vm-b', VM_B_MAC, VM_B_IP), ('plain', PLAIN_MAC, PLAIN_IP)):
        c.nbctl('lsp-add', SWITCH, port, '--', 'lsp-set-addresses', port, '%s %s' % (mac, ip))
    c.nbctl('lr-add', ROUTER, '--', 'lrp-add', ROUTER, 'rtr-tenant', ROUTER_MAC, '192.168.50.1/24',
            '--', 'lsp-add', SWITCH, 'tenant-rtr', '--', 'lsp-set-type', 'tenant-rtr', 'router',
            '--', 'lsp-set-addresses', 'tenant-rtr', 'router', '--', 'lsp-set-options', 'tenant-rtr',
            'router-port=rtr-tenant')


# A pod inside a VM that answers: on IFACE, frames with tag TAG to IP (MAC) get an ICMP echo
# reply, or for UDP the payload in capitals and " from NAME", tagged again, from the same port.
RESPONDER = r'''
import socket, struct, sys
iface, tag, mac_text, ip, name = sys.argv[1:6]
tag = int(tag)
mac = bytes(int(x, 16) for x in mac_text.split(':'))
def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xffff)
    return (~(s + (s >> 16))) & 0xffff
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((iface, 0))
s.setsockopt(263, 8, 1)
print('ready', flush=True)
while True:
    data, ancdata, flags, addr = s.recvmsg(65535, socket.CMSG_SPACE(32))
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    vlan = 0
    for level, kind, value in ancdata:
        if level == 263 and kind == 8:
            status, length, snap, mac_off, net_off, tci = struct.unpack('IIIHHH', value[:18])
            if status & 0x10:
                vlan = tci & 0xfff
    etype, rest = struct.unpack('!H', data[12:14])[0], data[14:]
    if etype == 0x8100:
        vlan, etype, rest = struct.unpack('!H', rest[:2])[0] & 0xfff, struct.unpack('!H', rest[2:4])[0], rest[4:]
    if vlan != tag or etype != 0x0800 or data[:6] != mac or socket.inet_ntoa(rest[16:20]) != ip:
        continue
    hlen = (rest[0] & 15) * 4
    proto, l4 = rest[9], rest[hlen:struct.unpack('!H', rest[2:4])[0]]
    if proto == 1 and l4[0] == 8:
        body = b'\0\0\0\0' + l4[4:]
        body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
    elif proto == 17:
        sport, dport = struct.unpack('!HH', l4[:4])
        payload = l4[8:].upper() + (' from %s' % name).encode()
        body = struct.pack('!HHHH', dport, sport, 8 + len(payload), 0) + payload
    else:
        continue
    head = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(body), 7, 0x4000, 64, proto, 0, rest[16:20], rest[12:16])
    head = head[:10] + struct.pack('!H', csum(head)) + head[12:]
    s.send(data[6:12] + mac + struct.pack('!HHH', 0x8100, tag, 0x0800) + head + body)
'''


class Responder:
    """RESPONDER running in a VM's namespace for one pod (``tag``, ``mac``, ``ip``)."""

    def __init__(self, netns, tag, mac, ip, name):
        self.proc = subprocess.Popen(['ip', 'netns', 'exec', netns, sys.executable, '-c', RESPONDER, 'eth0', str(tag),
                                      mac, ip, name], stdout=subprocess.PIPE, universal_newlines=True)
        if self.proc.stdout.readline().strip() != 'ready':
            self.stop()
            raise RuntimeError('the responder of %s did not start' % name)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


UDP_ASK = r'''
import socket, sys
addr, port, times = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = set()
for i in range(times):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(b'hello', (addr, port))
    try:
        seen.add(s.recvfrom(1500)[0].decode())
    except socket.timeout:
        pass
    s.close()
print('\n'.join(sorted(seen)))
'''


def udp_answers(netns, addr, port, times):
    """The distinct answers ``times`` UDP requests from ``netns`` (each from a new port) got."""
    out = subprocess.run(['ip', 'netns', 'exec', netns, sys.executable, '-c', UDP_ASK, addr, str(port), str(times)],
                         stdout=subprocess.PIPE, universal_newlines=True, timeout=120, check=True)
    return set(line for line in out.stdout.splitlines() if line)
