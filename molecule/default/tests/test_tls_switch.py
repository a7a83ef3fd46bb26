# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab started on TCP (ovn_cluster_tls false: three members with RAFT and clients on TCP) is
switched to TLS in place by two variable changes and re-runs of site.yml, as the ovn_central
README says, while a pod on node1 pings a pod on node2 five times a second: first both listeners
(clients move to TLS), then TLS only with ovn_cluster_tls back on (the TCP listeners go, and the
members' RAFT links move to TLS one member at a time, tasks/raft_proto.yml).

Not part of the lab's normal verify (that lab is TLS from the start): scripts/lab-tls-switch
makes a TCP lab and runs this file with LAB_TLS_SWITCH=1."""

import json
import os
import re
import time

import pytest

from conftest import CENTRAL_IP, CENTRALS, nbctl
from test_raft_failover import site

# Pings lost during the whole switch that the lab accepts: the datapath keeps its flows while
# ovn-controller moves to its new remotes and the members restart once, so none should be lost.
PING_LOSS_BOUND = 2

pytestmark = pytest.mark.skipif(os.environ.get('LAB_TLS_SWITCH') != '1',
                                reason='run by scripts/lab-tls-switch on a lab converged on TCP')


def members(port):
    return ','.join('ssl:%s:%d' % (CENTRAL_IP[c], port) for c in CENTRALS)


# The central's variables (extra vars: they are the same for every host). The nodes' remotes go
# to the nodes' group as an operator would set them (group_vars): as extra vars they would also
# override the local socket that ovn_central gives the master node's own ovn_node run.
PHASE1 = {'ovn_cluster_tls': False, 'ovn_central_transport': 'tcp+ssl',
          'ovn_central_nb_ssl_port': 6651, 'ovn_central_sb_ssl_port': 6652}
# The clients move to the TLS listeners, each with its own certificate.
NODES_TLS = {'ovn_node_tls': True, 'ovn_node_nb_remote': members(6651), 'ovn_node_sb_remote': members(6652)}
# TLS only, and ovn_cluster_tls (the default) again: RAFT's links move to TLS too.
PHASE2 = dict(PHASE1, ovn_cluster_tls=True, ovn_central_transport='ssl')
RAFT = {'OVN_Northbound': '/var/run/ovn/ovnnb_db.ctl', 'OVN_Southbound': '/var/run/ovn/ovnsb_db.ctl'}


def raft_addresses(lab):
    """{(member, database): [the addresses its cluster/status lists for every server]}."""
    found = {}
    for c in CENTRALS:
        for name, ctl in RAFT.items():
            out = lab[c].check_output('ovn-appctl -t %s cluster/status %s' % (ctl, name))
            found[(c, name)] = sorted(re.findall(r'\(\w+ at (\w+:[^)\s]+)', out.split('Servers:', 1)[-1]))
    return found


def contents(lab):
    """What must survive the switch: the Northbound switches and routers, the Southbound chassis."""
    nb = nbctl(lab, '--bare', '--columns=name', 'list', 'Logical_Switch').split()
    routers = nbctl(lab, '--bare', '--columns=name', 'list', 'Logical_Router').split()
    chassis = lab['central'].check_output('ovn-sbctl --no-leader-only --bare --columns=name list Chassis').split()
    return sorted(nb), sorted(routers), sorted(chassis)


def converge(variables):
    """playbooks/site.yml on the whole lab through molecule's inventory, with the nodes' group
    variables NODES_TLS in a second inventory source."""
    inventory = os.environ.get('MOLECULE_INVENTORY_FILE')
    assert inventory, 'run by scripts/lab-tls-switch (MOLECULE_INVENTORY_FILE)'
    nodes = os.path.join(os.path.dirname(inventory), '..', 'tls-switch-nodes.yml')
    with open(nodes, 'w') as f:
        json.dump({'ovn_nodes': {'vars': NODES_TLS}}, f)  # JSON is YAML
    proc = site('-e', json.dumps(variables), limit=None, inventories=[nodes], timeout=2400)
    assert proc.returncode == 0, proc.stdout[-8000:]
    return proc.stdout


def targets(lab):
    nb = nbctl(lab, '--bare', '--columns=target', 'list', 'Connection').split()
    sb = lab['central'].check_output('ovn-sbctl --no-leader-only --bare --columns=target list Connection').split()
    return sorted(nb), sorted(sb)


def clients_connected(lab):
    for node in ('node1', 'node2'):
        deadline = time.time() + 60
        while lab[node].check_output('ovn-appctl -t ovn-controller connection-status').strip() != 'connected':
            assert time.time() < deadline, node
            time.sleep(1)


def test_switch_a_running_tcp_lab_to_tls_while_pods_ping(lab, pods):
    nb, sb = targets(lab)
    assert all(t.startswith('ptcp:') for t in nb + sb), (nb, sb)
    raft = raft_addresses(lab)
    assert all(len(a) == 3 and all(x.startswith('tcp:') for x in a) for a in raft.values()), raft
    before = contents(lab)
    node1 = lab['node1']
    node1.run('systemctl stop lab-switch-ping.service')
    node1.check_output("systemd-run --unit lab-switch-ping --collect sh -c "
                       "'ip netns exec pod1 ping -n -i 0.2 %s > /tmp/lab-switch-ping.log 2>&1'" % pods['pod2'].ip)
    started = time.time()
    try:
        time.sleep(3)
        converge(PHASE1)
        nb, sb = targets(lab)
        assert [t.split(':')[0] for t in nb] == ['pssl', 'ptcp'], nb
        for node in ('node1', 'node2'):
            remote = lab[node].check_output('ovs-vsctl get Open_vSwitch . external_ids:ovn-remote').strip('"')
            assert remote == members(6652), (node, remote)
        clients_connected(lab)
        converge(PHASE2)
        nb, sb = targets(lab)
        assert all(t.startswith('pssl:') for t in nb + sb), (nb, sb)
        clients_connected(lab)
        time.sleep(3)
    finally:
        node1.run('pkill -INT -f "ping -n -i 0.2 %s"' % pods['pod2'].ip)
        time.sleep(1)
        log = node1.check_output('cat /tmp/lab-switch-ping.log')
        node1.run('systemctl stop lab-switch-ping.service')
    # Counted from the first reply (the first request may wait for ARP) to the last one sent.
    seqs = sorted(int(n) for n in re.findall(r'icmp_seq=(\d+) ', log))
    m = re.search(r'(\d+) packets transmitted, (\d+) received', log)
    assert m and seqs, log
    sent = int(m.group(1)) - seqs[0] + 1
    received = len(set(seqs))
    gaps = ['%d-%d' % (a + 1, b - 1) for a, b in zip(seqs, seqs[1:]) if b - a > 1]
    print('TLS switch: %.0f s, pings %d sent, %d received, %d lost (bound %d), gaps %s'
          % (time.time() - started, sent, received, sent - received, PING_LOSS_BOUND, gaps))
    assert sent - received <= PING_LOSS_BOUND, (sent, received, gaps, log[-2000:])
    # Nothing was lost, and every member's RAFT links are TLS ones, as every member sees them.
    assert contents(lab) == before
    raft = raft_addresses(lab)
    assert all(len(a) == 3 and all(x.startswith('ssl:') for x in a) for a in raft.values()), raft
    for c in CENTRALS:
        for name in RAFT:
            assert lab[c].run('test -e /var/lib/ovn/ovn%s_db.db.raft-tcp' % ('nb' if 'North' in name else 'sb')).rc == 0, c
    # No TCP listener is left for clients: only the TLS ports (RAFT's ports now speak TLS).
    for c in CENTRALS:
        listening = lab[c].check_output('ss -Htln')
        for port in (6641, 6642):
            assert not re.search(r':%d\s' % port, listening), (c, port, listening)
        for port in (6651, 6652):
            assert re.search(r':%d\s' % port, listening), (c, port, listening)
    # A pod made after the switch still gets its flows (ovn-controller on TLS).
    ping = pods['pod2'].run('ping -c 3 -i 0.2 -W 2 %s' % pods['pod1'].ip)
    assert ping.rc == 0 and ' 0% packet loss' in ping.stdout, ping.stdout
