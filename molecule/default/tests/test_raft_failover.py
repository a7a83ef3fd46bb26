# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The central databases as a three-member RAFT cluster speaking only TLS (the lab's default):
every member is in both clusters, nothing listens on TCP for clients, the Southbound database
holds a node's certificate to its own chassis, and with the Northbound leader's ovsdb-server
killed (-9) pods keep talking while the watcher, a module run and ovn-controller go on against
the new leader; the killed member rejoins and catches up.

This file runs after the other lab tests (pytest takes the files in name order), so that they
see the cluster as site.yml left it."""

import json
import os
import re
import subprocess
import time

import pytest

from conftest import CENTRAL_IP, CENTRALS, NODE_NAME, nbctl
from test_k8s_pods import HOST_OF, fresh_namespace, kubectl, netns

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
NS = 'lab-failover'
DBS = {'nb': ('OVN_Northbound', '/var/run/ovn/ovnnb_db.ctl', 6641),
       'sb': ('OVN_Southbound', '/var/run/ovn/ovnsb_db.ctl', 6642)}
NODE_PKI = '/etc/ovn-k8s/pki/ovn-controller-%s.pem'
NODE_CA = '/etc/ovn-k8s/pki/cacert.pem'
# The bound on pings lost while the Northbound leader is killed: the datapath does not need the
# Northbound database, so none should be lost; two (0.4 s of pings) allow for a busy machine.
PING_LOSS_BOUND = 2


def remotes(port):
    return ','.join('ssl:%s:%d' % (CENTRAL_IP[c], port) for c in CENTRALS)


def cluster_status(host, db):
    name, ctl, _port = DBS[db]
    return host.run('ovn-appctl -t %s cluster/status %s' % (ctl, name))


def role_of(host, db):
    out = cluster_status(host, db)
    match = re.search(r'^Role: (\w+)', out.stdout, re.M) if out.rc == 0 else None
    return match.group(1) if match else None


def term_of(host, db):
    match = re.search(r'^Term: (\d+)', cluster_status(host, db).stdout, re.M)
    return int(match.group(1)) if match else -1


def leader(lab, db, after_term=-1, timeout=60):
    """The member that leads ``db`` in a term later than ``after_term``."""
    deadline = time.time() + timeout
    while True:
        leaders = [c for c in CENTRALS if role_of(lab[c], db) == 'leader' and term_of(lab[c], db) > after_term]
        if len(leaders) == 1:
            return leaders[0]
        assert time.time() < deadline, 'no single %s leader after term %d: %s' % (db, after_term, leaders)
        time.sleep(0.5)


def wait_member(lab, host, db, timeout=120):
    """``host`` is a voting member again, and the leader counts three servers."""
    deadline = time.time() + timeout
    while True:
        out = cluster_status(lab[host], db)
        if out.rc == 0 and 'Status: cluster member' in out.stdout and role_of(lab[host], db) in ('leader', 'follower'):
            lead = cluster_status(lab[leader(lab, db)], db).stdout
            servers = lead.split('Servers:', 1)[-1]
            if len(re.findall(r'\(\w+ at ssl:', servers)) == 3:
                return
        assert time.time() < deadline, '%s did not rejoin the %s cluster: %s' % (host, db, out.stdout + out.stderr)
        time.sleep(1)


def test_every_member_is_in_both_clusters_over_tls(lab):
    for db in DBS:
        lead = leader(lab, db)
        servers = cluster_status(lab[lead], db).stdout.split('Servers:', 1)[-1]
        for c in CENTRALS:
            assert 'Status: cluster member' in cluster_status(lab[c], db).stdout, (c, db)
            # RAFT between the members is TLS too (the lab is created with ovn_central_ssl).
            assert 'at ssl:%s:' % CENTRAL_IP[c] in servers, (db, c, servers)


def test_clients_only_have_tls_listeners_and_remotes(lab):
    for db in DBS:
        targets = nbctl(lab, '--bare', '--columns=target', 'list', 'Connection').split() if db == 'nb' else \
            lab['central'].check_output('ovn-sbctl --no-leader-only --bare --columns=target list Connection').split()
        assert targets and all(t.startswith('pssl:') for t in targets), (db, targets)
    for c in CENTRALS:
        listening = lab[c].check_output('ss -Htln')
        for port in (6641, 6642):
            assert re.search(r':%d\s' % port, listening), (c, port, listening)
        # A client without TLS gets no OVSDB answer from any member.
        plain = lab['node1'].run('timeout 10 ovsdb-client --timeout=5 list-dbs tcp:%s:6641' % CENTRAL_IP[c])
        assert plain.rc != 0, (c, plain.stdout)
    for node in ('node1', 'node2'):
        for key, port in (('ovn-remote', 6642), ('ovn-nb', 6641)):
            value = lab[node].check_output('ovs-vsctl get Open_vSwitch . external_ids:%s' % key).strip('"')
            assert value == remotes(port), (node, key, value)
        status = lab[node].check_output('ovn-appctl -t ovn-controller connection-status')
        assert status.strip() == 'connected', (node, status)
        for f in (NODE_PKI % 'privkey', NODE_PKI % 'cert', NODE_CA):
            st = lab[node].file(f)
            assert st.exists and st.user == 'root' and st.mode == 0o600, (node, f)


def test_a_node_certificate_cannot_change_another_chassis(lab):
    """Southbound RBAC for real: node1's certificate (CN = its chassis name) may change its own
    Chassis row, not node2's."""
    ssl = '--private-key=%s --certificate=%s --ca-cert=%s' % (NODE_PKI % 'privkey', NODE_PKI % 'cert', NODE_CA)
    sbctl = 'ovn-sbctl --no-leader-only --db=%s %s ' % (remotes(6642), ssl)
    own = lab['node1'].check_output('ovs-vsctl get Open_vSwitch . external_ids:system-id').strip('"')
    other = lab['node2'].check_output('ovs-vsctl get Open_vSwitch . external_ids:system-id').strip('"')
    mine = lab['node1'].run(sbctl + 'set Chassis %s external_ids:lab-rbac=own' % own)
    assert mine.rc == 0, mine.stderr
    theirs = lab['node1'].run(sbctl + 'set Chassis %s external_ids:lab-rbac=stolen' % other)
    assert theirs.rc != 0 and 'RBAC' in theirs.stderr + theirs.stdout, theirs.stdout + theirs.stderr
    assert 'lab-rbac' not in lab['central'].check_output('ovn-sbctl --no-leader-only get Chassis %s external_ids' % other)
    lab['node1'].run(sbctl + 'remove Chassis %s external_ids lab-rbac' % own)


def pod(name, node):
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'namespace': NS},
            'spec': {'nodeSelector': {'kubernetes.io/hostname': node}, 'terminationGracePeriodSeconds': 0,
                     'containers': [{'name': 'web', 'image': 'lab/none'}]}}


def wait_pod(name, timeout=240):
    deadline = time.time() + timeout
    while True:
        got = kubectl('get', 'pod', '-n', NS, name, '-o', 'json', check=False)
        if got.returncode == 0:
            p = json.loads(got.stdout)
            if p.get('status', {}).get('phase') == 'Running' and p['status'].get('podIP'):
                return p
        assert time.time() < deadline, 'pod %s not running after %ds' % (name, timeout)
        time.sleep(1)


def module(host, name, args):
    """One task of the collection's module ``name`` on ``host``, as a playbook would run it."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build'))
    inventory = os.environ.get('MOLECULE_INVENTORY_FILE')
    argv = ['ansible', host, '-m', 'ovn_k8s.overlay.' + name, '-a', json.dumps(args), '-o']
    if inventory:
        argv[1:1] = ['-i', inventory]
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=300, check=False, env=env)


@pytest.fixture
def pinging(lab, pods):
    """pod1 (node1) pings pod2 (node2) five times a second in the background; yields a function
    that stops it and returns (sent, received)."""
    host = lab['node1']
    host.run('systemctl stop lab-failover-ping.service')
    host.check_output("systemd-run --unit lab-failover-ping --collect sh -c "
                      "'ip netns exec pod1 ping -n -i 0.2 -W 1 %s > /tmp/lab-failover-ping.log 2>&1'" % pods['pod2'].ip)

    def stop():
        host.run('pkill -INT -f "ping -n -i 0.2 -W 1 %s"' % pods['pod2'].ip)
        time.sleep(1)
        log = host.check_output('cat /tmp/lab-failover-ping.log')
        m = re.search(r'(\d+) packets transmitted, (\d+) received', log)
        assert m, log
        return int(m.group(1)), int(m.group(2)), log

    yield stop
    host.run('systemctl stop lab-failover-ping.service')


def test_killing_the_nb_leader_keeps_pods_talking_and_every_client_follows(lab, pods, pinging):
    # The datapath first: pods on two nodes answer each other.
    first = pods['pod1'].run('ping -c 3 -i 0.2 -W 2 %s' % pods['pod2'].ip)
    assert first.rc == 0, first.stdout
    fresh_namespace(NS)
    old = leader(lab, 'nb')
    term = term_of(lab[old], 'nb')
    time.sleep(3)
    pid = lab[old].check_output('cat /var/run/ovn/ovnnb_db.pid').strip()
    lab[old].check_output('kill -9 %s' % pid)
    killed_at = time.time()
    try:
        # A new election (systemd restarts the killed server at once; it may even win it).
        new = leader(lab, 'nb', after_term=term)

        # A module run against all three members goes to the new leader, once.
        args = {'name': 'lab-failover-ls', 'remote': remotes(6641), 'timeout': 30, 'ssl_key': NODE_PKI % 'privkey',
                'ssl_cert': NODE_PKI % 'cert', 'ssl_ca_cert': NODE_CA}
        made = module('node1', 'ovn_logical_switch', args)
        assert made.returncode == 0 and '"changed": true' in made.stdout, made.stdout
        again = module('node1', 'ovn_logical_switch', args)
        assert again.returncode == 0 and '"changed": false' in again.stdout, again.stdout
        assert len(nbctl(lab, '--bare', '--columns=_uuid', 'find', 'Logical_Switch', 'name=lab-failover-ls').split()) == 1

        # The watcher gives a new pod its port and address, the lab agent plugs it through the
        # CNI plugin, ovn-controller binds it: it answers pod2 across the nodes.
        kubectl('apply', '-f', '-', stdin=json.dumps(pod('f1', NODE_NAME['node1'])))
        f1 = wait_pod('f1')
        host = lab[HOST_OF[f1['spec']['nodeName']]]
        for _attempt in range(30):
            if host.run('ip netns exec %s ping -c 1 -W 1 %s' % (netns(f1), pods['pod2'].ip)).rc == 0:
                break
        reply = host.run('ip netns exec %s ping -c 3 -i 0.2 -W 2 %s' % (netns(f1), pods['pod2'].ip))
        assert reply.rc == 0 and ' 0% packet loss' in reply.stdout, reply.stdout
        print('Northbound leader %s killed (term %d); %s leads; module run, watcher and ovn-controller went on within %.1f s'
              % (old, term, new, time.time() - killed_at))
    finally:
        sent, received, log = pinging()
        # The killed member comes back (systemd restarts it or we do) and catches up.
        if lab[old].run('test -S /var/run/ovn/ovnnb_db.ctl && ovn-appctl -t /var/run/ovn/ovnnb_db.ctl version').rc != 0:
            lab[old].run('systemctl restart ovn-ovsdb-server-nb.service')
        wait_member(lab, old, 'nb')
    print('pings: %d sent, %d received while the Northbound leader was killed' % (sent, received))
    assert sent >= 10, log
    assert sent - received <= PING_LOSS_BOUND, log
    # The rejoined member has what was written while it was away.
    local = lab[old].run('ovn-nbctl --no-leader-only --db=unix:/var/run/ovn/ovnnb_db.sock --bare --columns=name '
                         'find Logical_Switch name=lab-failover-ls')
    deadline = time.time() + 60
    while local.stdout.strip() != 'lab-failover-ls':
        assert time.time() < deadline, local.stdout + local.stderr
        time.sleep(1)
        local = lab[old].run('ovn-nbctl --no-leader-only --db=unix:/var/run/ovn/ovnnb_db.sock --bare --columns=name '
                             'find Logical_Switch name=lab-failover-ls')
    gone = module('node1', 'ovn_logical_switch', dict(args, state='absent'))
    assert gone.returncode == 0, gone.stdout
    kubectl('delete', 'namespace', NS, '--wait=true', '--timeout=240s')


def site(*extra, limit='ovn_central', inventories=(), timeout=1200):
    """playbooks/site.yml on the central members only (as an operator re-runs it; ``limit=None``:
    the whole lab), through the molecule inventory and any further ``inventories``."""
    inventory = os.environ.get('MOLECULE_INVENTORY_FILE')
    assert inventory, 'run through molecule verify (MOLECULE_INVENTORY_FILE)'
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build'),
               ANSIBLE_ROLES_PATH=os.path.join(REPO, 'roles'), ANSIBLE_PIPELINING='true', ANSIBLE_NOCOLOR='1',
               MOLECULE_PROJECT_DIRECTORY=REPO, CONTAINERS_CONF=os.path.join(REPO, 'scripts', 'lab-containers.conf'))
    # LAB_SITE_EXTRA_VARS: the variables the lab was last converged with, when they are not the
    # defaults (scripts/lab-tls-switch runs this file on the lab it switched to TLS).
    given = ['-e', os.environ['LAB_SITE_EXTRA_VARS']] if os.environ.get('LAB_SITE_EXTRA_VARS') else []
    argv = ['ansible-playbook', '-i', os.path.dirname(inventory)]
    for source in inventories:
        argv += ['-i', source]
    argv.append(os.path.join(REPO, 'playbooks', 'site.yml'))
    if limit:
        argv += ['--limit', limit]
    return subprocess.run(argv + given + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False, env=env)


def recap(output):
    """{host: changed count} from a playbook's recap."""
    return dict((m.group(1), int(m.group(2))) for m in re.finditer(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)', output, re.M))


def changed_tasks(output):
    """The tasks that reported a change, with their hosts: what a failed idempotence check shows."""
    found, task = [], None
    for line in output.splitlines():
        if line.startswith('TASK ['):
            task = line.rstrip(' *')
        elif line.startswith('changed: ['):
            found.append('%s: %s' % (task, line.split(']', 1)[0] + ']'))
    return found


def servers(lab, db):
    return re.findall(r'\(\w+ at ssl:([\d.]+):', cluster_status(lab[leader(lab, db)], db).stdout.split('Servers:', 1)[-1])


@pytest.mark.skipif(os.environ.get('LAB_MEMBER_LEAVE') != '1',
                    reason='three more site.yml runs (21 min in the lab): opt in with LAB_MEMBER_LEAVE=1 (scripts/lab-member-leave)')
def test_a_member_leaves_through_the_inventory_and_joins_again(lab, pods):
    leave = ['-e', json.dumps({'ovn_central_cluster_members': ['central', 'central2'], 'ovn_central_cluster_allow_even': True,
                               'ovn_central_cluster_leave': "{{ inventory_hostname == 'central3' }}"})]
    out = site(*leave)
    assert out.returncode == 0, out.stdout[-6000:]
    for db in DBS:
        assert sorted(servers(lab, db)) == [CENTRAL_IP['central'], CENTRAL_IP['central2']], (db, servers(lab, db))
    for unit in ('ovn-ovsdb-server-nb', 'ovn-ovsdb-server-sb', 'ovn-northd'):
        assert lab['central3'].run('systemctl is-active %s' % unit).stdout.strip() != 'active', unit
    assert lab['central3'].file('/var/lib/ovn/ovnnb_db.db.left-cluster').exists
    assert not lab['central3'].file('/etc/ovn-k8s/ovn-central.env').exists
    # The cluster of two serves every client; pods still talk.
    ping = pods['pod1'].run('ping -c 3 -i 0.2 -W 2 %s' % pods['pod2'].ip)
    assert ping.rc == 0 and ' 0% packet loss' in ping.stdout, ping.stdout
    again = site(*leave)
    assert again.returncode == 0 and set(recap(again.stdout).values()) == {0}, (changed_tasks(again.stdout), again.stdout[-3000:])

    # Listed again: it joins afresh (no database file) and copies the data from the leader.
    back = site()
    assert back.returncode == 0, back.stdout[-6000:]
    for db in DBS:
        wait_member(lab, 'central3', db)
    local = lab['central3'].check_output('ovn-nbctl --no-leader-only --db=unix:/var/run/ovn/ovnnb_db.sock '
                                         '--bare --columns=name find Logical_Router name=ovn_cluster_router')
    assert local.strip() == 'ovn_cluster_router'
