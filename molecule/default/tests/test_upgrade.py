# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Day two in the lab (issue 24, items 3 and 4): dpkg's conffiles are the packages' own, so no
upgrade asks about them; playbooks/upgrade.yml in check mode predicts nothing on a converged lab;
certificates renewed before expiry by the same CA (site.yml with ovn_cluster_cert_renew_days
larger than their validity) while a pod on node1 pings a pod on node2, the node still reaching
the Southbound database over TLS with its chassis kept; and a forced reinstall of every host's OVN and Open vSwitch packages through
upgrade.yml, in OVN's order, under the same pings: no more than 2 lost, chassis and port
bindings kept. The last two are opt-in (LAB_UPGRADE=1, scripts/lab-upgrade)."""

import os
import re
import subprocess
import time

import pytest

from conftest import CENTRALS, nbctl
from test_raft_failover import PING_LOSS_BOUND, REPO, changed_tasks, recap, site, wait_member
# A fixture: pytest finds it in this module's namespace.
from test_raft_failover import pinging  # noqa: F401 pylint: disable=unused-import

NODE_PKI = '/etc/ovn-k8s/pki/ovn-controller-%s.pem'
NODE_CA = '/etc/ovn-k8s/pki/cacert.pem'
CENTRAL_PKI = '/var/lib/ovn-k8s/pki'
# The hosts that run ovn-controller, and the packages whose conffiles must stay dpkg's.
CONTROLLER_HOSTS = ('central', 'node1', 'node2')
CONFFILE_PACKAGES = ('ovn-central', 'ovn-host', 'openvswitch-switch')


def playbook(name, *extra, timeout=1800):
    """playbooks/NAME over the whole lab, through the molecule inventory."""
    inventory = os.environ.get('MOLECULE_INVENTORY_FILE')
    assert inventory, 'run through molecule verify or scripts/lab-pytest (MOLECULE_INVENTORY_FILE)'
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build'),
               ANSIBLE_ROLES_PATH=os.path.join(REPO, 'roles'), ANSIBLE_PIPELINING='true', ANSIBLE_NOCOLOR='1',
               MOLECULE_PROJECT_DIRECTORY=REPO, CONTAINERS_CONF=os.path.join(REPO, 'scripts', 'lab-containers.conf'))
    given = ['-e', os.environ['LAB_SITE_EXTRA_VARS']] if os.environ.get('LAB_SITE_EXTRA_VARS') else []
    argv = ['ansible-playbook', '-i', os.path.dirname(inventory), os.path.join(REPO, 'playbooks', name)]
    return subprocess.run(argv + given + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False, env=env)


def sbctl(lab, *args):
    return lab['central'].check_output('ovn-sbctl --no-leader-only ' + ' '.join("'%s'" % a for a in args))


def chassis(lab):
    """{chassis name: row uuid} in the Southbound database."""
    rows = sbctl(lab, '--bare', '--columns=name,_uuid', 'list', 'Chassis').split('\n\n')
    return dict(row.split() for row in rows if row.strip())


def bindings(lab, ports):
    return dict((port, sbctl(lab, '--bare', '--columns=chassis', 'find', 'Port_Binding', 'logical_port=' + port).strip())
                for port in ports)


def pid(host, path):
    return host.check_output('cat %s' % path).strip()


def fingerprint(host, path):
    return host.check_output('openssl x509 -noout -fingerprint -in %s' % path)


def controller_connected(host):
    deadline = time.time() + 60
    while True:
        out = host.run('ovn-appctl -t ovn-controller connection-status')
        if out.rc == 0 and out.stdout.strip() == 'connected':
            return
        assert time.time() < deadline, 'ovn-controller not connected: %s' % (out.stdout + out.stderr)
        time.sleep(1)


def test_conffiles_are_the_packages_own(lab):
    """The roles write no dpkg conffile (their options go to /etc/ovn-k8s and systemd drop-ins),
    so an upgrade has nothing to ask about: each conffile is the package's or was removed."""
    for name in CENTRALS + ('node1', 'node2'):
        host = lab[name]
        for package in CONFFILE_PACKAGES:
            listed = host.run("dpkg-query -W -f='${Conffiles}\\n' %s" % package)
            if listed.rc != 0:
                continue
            for line in listed.stdout.splitlines():
                fields = line.split()
                if len(fields) < 2 or 'obsolete' in fields:
                    continue
                path, md5 = fields[0], fields[1]
                if host.file(path).exists:
                    assert host.check_output('md5sum %s' % path).split()[0] == md5, \
                        '%s: %s (of %s) differs from the package\'s' % (name, path, package)
    # Where the options are instead, and that the units read them.
    node1 = lab['node1']
    assert '--ovn-controller-ssl-cert=' in node1.file('/etc/ovn-k8s/ovn-controller.env').content_string
    assert 'EnvironmentFile=/etc/ovn-k8s/ovn-controller.env' in node1.check_output('systemctl cat ovn-controller')
    for name in CENTRALS:
        assert '--db-nb-cluster-local-addr=' in lab[name].file('/etc/ovn-k8s/ovn-central.env').content_string
        for unit in ('ovn-ovsdb-server-nb', 'ovn-ovsdb-server-sb', 'ovn-northd'):
            assert 'EnvironmentFile=/etc/ovn-k8s/ovn-central.env' in lab[name].check_output('systemctl cat %s' % unit), (name, unit)


def test_upgrade_check_mode_predicts_nothing_on_a_converged_lab(lab):
    out = playbook('upgrade.yml', '--check')
    assert out.returncode == 0, out.stdout[-6000:]
    changed = recap(out.stdout)
    assert set(changed) >= set(CENTRALS + ('node1', 'node2')), out.stdout[-3000:]
    assert set(changed.values()) == {0}, (changed_tasks(out.stdout), out.stdout[-3000:])
    # The plays in OVN's order: the nodes' ovn-controller, then the members, then ovn-northd, each
    # host in a batch of its own (a play's header is printed once per batch).
    plays = re.findall(r'^PLAY \[(.*)\]', out.stdout, re.M)
    assert plays == ['Check the central databases before anything changes'] \
        + ['Upgrade ovn-controller on the nodes, one node at a time'] * 2 \
        + ['Upgrade the central databases, one member at a time'] * 3 \
        + ['Restart ovn-northd on its new version, one member at a time'] * 3, plays


@pytest.mark.disruptive
@pytest.mark.skipif(os.environ.get('LAB_UPGRADE') != '1',
                    reason='site.yml on the members and node1 with every certificate due (minutes; not yet run to the end): '
                           'opt in with LAB_UPGRADE=1 (scripts/lab-upgrade); tests/functional/test_cert_renewal.py runs by default')
def test_certificates_renewed_before_expiry_keep_the_node_on_tls(lab, pods, pinging):
    """site.yml on the members and node1 with ovn_cluster_cert_renew_days: 4000 (ovs-pki's
    certificates last 3650 days, so all of them expire "soon"): node1's and the members' certificates
    are made again by the same CA, ovn-controller restarts gracefully and reconnects over TLS with
    the new one, the chassis and pod1's binding stay, and pods keep talking."""
    node1 = lab['node1']
    ca = lab['central'].check_output('cat %s/switchca/cacert.pem' % CENTRAL_PKI)
    before = {'node1': fingerprint(node1, NODE_PKI % 'cert')}
    for name in CENTRALS:
        before[name] = fingerprint(lab[name], CENTRAL_PKI + '/ovn-central-cert.pem')
    rows, bound = chassis(lab), bindings(lab, ['pod1', 'pod2'])
    controller = pid(node1, '/run/ovn/ovn-controller.pid')

    out = site('-e', 'ovn_cluster_cert_renew_days=4000', limit='ovn_central,node1')
    sent, received, log = pinging()
    assert out.returncode == 0, out.stdout[-6000:]
    print('pings: %d sent, %d received while the certificates were renewed' % (sent, received))
    assert sent >= 10 and sent - received <= PING_LOSS_BOUND, log

    # New certificates, from the same CA.
    for name, host, path in [('node1', node1, NODE_PKI % 'cert')] + [(c, lab[c], CENTRAL_PKI + '/ovn-central-cert.pem') for c in CENTRALS]:
        assert fingerprint(host, path) != before[name], name
        assert host.run('openssl verify -CAfile %s %s' % (NODE_CA if name == 'node1' else CENTRAL_PKI + '/switchca/cacert.pem', path)).rc == 0, name
    assert lab['central'].check_output('cat %s/switchca/cacert.pem' % CENTRAL_PKI) == ca
    # ovn-controller restarted (gracefully) and is connected over TLS with the new certificate.
    assert pid(node1, '/run/ovn/ovn-controller.pid') != controller
    controller_connected(node1)
    assert node1.check_output('ovs-vsctl get Open_vSwitch . external_ids:ovn-remote').strip('"\n').startswith('ssl:')
    assert chassis(lab) == rows and bindings(lab, ['pod1', 'pod2']) == bound
    # A new TLS session with the renewed files gets in (the members present their renewed certificates).
    listed = node1.run('ovn-sbctl --no-leader-only --db=%s -p %s -c %s -C %s --bare --columns=name list Chassis'
                       % (node1.check_output('ovs-vsctl get Open_vSwitch . external_ids:ovn-remote').strip('"\n'),
                          NODE_PKI % 'privkey', NODE_PKI % 'cert', NODE_CA))
    assert listed.rc == 0 and listed.stdout.strip(), listed.stdout + listed.stderr
    for name in CENTRALS:
        for db in ('nb', 'sb'):
            wait_member(lab, name, db)
    ping = pods['pod1'].run('ping -c 3 -i 0.2 -W 2 %s' % pods['pod2'].ip)
    assert ping.rc == 0 and ' 0% packet loss' in ping.stdout, ping.stdout


@pytest.mark.disruptive
@pytest.mark.skipif(os.environ.get('LAB_UPGRADE') != '1',
                    reason='apt-get install --reinstall on every lab host, one after the other (several minutes): '
                           'opt in with LAB_UPGRADE=1 (scripts/lab-upgrade)')
def test_forced_reinstall_through_upgrade_yml_keeps_pods_talking(lab, pods, pinging):
    rows, bound = chassis(lab), bindings(lab, ['pod1', 'pod2'])
    controllers = dict((h, pid(lab[h], '/run/ovn/ovn-controller.pid')) for h in CONTROLLER_HOSTS)
    servers = dict((c, (pid(lab[c], '/var/run/ovn/ovnnb_db.pid'), pid(lab[c], '/var/run/ovn/ovnsb_db.pid'),
                        pid(lab[c], '/var/run/ovn/ovn-northd.pid'))) for c in CENTRALS)
    reinstalls = dict((h, lab[h].run("grep -c ' upgrade ovn-' /var/log/dpkg.log").stdout.strip() or '0')
                      for h in CENTRALS + ('node1', 'node2'))

    started = time.time()
    out = playbook('upgrade.yml', '-e', 'ovn_upgrade_reinstall=true')
    took = time.time() - started
    sent, received, log = pinging()
    assert out.returncode == 0, out.stdout[-8000:]
    print('upgrade.yml (forced reinstall) took %.0f s; pings: %d sent, %d received' % (took, sent, received))
    assert sent >= 10 and sent - received <= PING_LOSS_BOUND, log

    # Every host's packages went through dpkg again; nothing is left forbidding restarts.
    for name in CENTRALS + ('node1', 'node2'):
        now = lab[name].run("grep -c ' upgrade ovn-' /var/log/dpkg.log").stdout.strip()
        assert int(now) > int(reinstalls[name]), name
        assert not lab[name].file('/usr/sbin/policy-rc.d').exists, name
    # Each ovn-controller restarted gracefully: new process, same chassis row, same bindings.
    for name in CONTROLLER_HOSTS:
        assert pid(lab[name], '/run/ovn/ovn-controller.pid') != controllers[name], name
        controller_connected(lab[name])
    assert chassis(lab) == rows, (rows, chassis(lab))
    assert bindings(lab, ['pod1', 'pod2']) == bound
    # Every member's databases and ovn-northd restarted, and the cluster serves with all three.
    for name in CENTRALS:
        now = (pid(lab[name], '/var/run/ovn/ovnnb_db.pid'), pid(lab[name], '/var/run/ovn/ovnsb_db.pid'),
               pid(lab[name], '/var/run/ovn/ovn-northd.pid'))
        assert all(a != b for a, b in zip(now, servers[name])), (name, servers[name], now)
        for db in ('nb', 'sb'):
            wait_member(lab, name, db)
    # The order: the nodes' ovn-controller first, then the members, then ovn-northd.
    plays = re.findall(r'^PLAY \[(.*)\]', out.stdout, re.M)
    assert plays == ['Check the central databases before anything changes'] \
        + ['Upgrade ovn-controller on the nodes, one node at a time'] * 2 \
        + ['Upgrade the central databases, one member at a time'] * 3 \
        + ['Restart ovn-northd on its new version, one member at a time'] * 3, plays
    # A change made now reaches the nodes: northd and the controllers work on.
    assert nbctl(lab, '--wait=hv', 'sync') == ''
    ping = pods['pod1'].run('ping -c 3 -i 0.2 -W 2 %s' % pods['pod2'].ip)
    assert ping.rc == 0 and ' 0% packet loss' in ping.stdout, ping.stdout
