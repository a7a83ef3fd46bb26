# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway flows agent (agents/bin/ovn-k8s-gateway-flows) against real daemons: a
Northbound ovsdb-server holding the gateway router's load balancers, a userspace ovs-vswitchd
whose breth0 the host shares with a "gateway router" namespace (test_gateway_shared_ip_flows),
and real TCP from a peer on the NIC's network.

- the NodePorts of GR_gw's load balancers (its own and its group's) reach the gateway router on
  the host's address, the host keeps its own services on that address;
- a NodePort whose load balancer goes is the host's port again;
- after ovs-vswitchd restarts (it starts without any of the flows) the agent puts them back;
- /healthz, /readyz and /metrics say so; SIGTERM stops it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from conftest import REPO, collection_root, nbctl
from local_ports import free_port  # tests/lib
from test_gateway_shared_ip_flows import NODEPORT, ZONE, answer, role_flows, shared  # noqa: F401 pylint: disable=unused-import
from waiting import wait_for  # tests/lib

AGENT = os.path.join(REPO, 'agents', 'bin', 'ovn-k8s-gateway-flows')
GROUP_NODEPORT = NODEPORT + 1


def http(port, path):
    try:
        with urllib.request.urlopen('http://127.0.0.1:%d%s' % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ''


def flow_counts(rundir):
    """(demultiplexing flows, NodePort flows) on breth0 now (None while ovs-vswitchd does not answer)."""
    proc = subprocess.run(['ovs-ofctl', '--no-stats', 'dump-flows', 'breth0'], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, universal_newlines=True, env=dict(os.environ, OVS_RUNDIR=rundir),
                          check=False)
    if proc.returncode:
        return None
    return proc.stdout.count('cookie=0x4f564e47'), proc.stdout.count('cookie=0x4f564e50')


def restart_vswitchd(shared, rundir):
    """Stop ovs-vswitchd as a service stop would (SIGTERM) and start it again, same database."""
    pidfile = os.path.join(rundir, 'vswitchd.pid')
    with open(pidfile) as f:
        pid = int(f.read().strip())
    os.kill(pid, signal.SIGTERM)
    wait_for('ovs-vswitchd to stop', lambda: not os.path.exists('/proc/%d' % pid), timeout=20)
    env = dict(os.environ, OVS_RUNDIR=rundir, OVS_LOGDIR=rundir, OVS_DBDIR=rundir, OVS_SYSCONFDIR=rundir)
    subprocess.check_call(['ip', 'netns', 'exec', shared['host'], 'ovs-vswitchd', shared['remote'],
                           '--disable-system', '--detach', '--no-chdir', '--pidfile=' + pidfile,
                           '--unixctl=' + os.path.join(rundir, 'vswitchd.ctl'),
                           '--log-file=' + os.path.join(rundir, 'vswitchd.log')], env=env)


SYSTEM_PYTHON = '/usr/bin/python3'


def _system_python_has_libraries():
    return os.path.exists(SYSTEM_PYTHON) and subprocess.run(
        [SYSTEM_PYTHON, '-c', 'import ovs, ovsdbapp'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        check=False).returncode == 0


@pytest.fixture(params=['venv', 'system'])
def python(request):
    """The test's own Python, and the hosts' (Debian's python3-ovsdbapp and python3-openvswitch),
    which the role's unit runs the agent under."""
    if request.param == 'venv':
        return sys.executable
    if not _system_python_has_libraries():
        pytest.skip('%s lacks python3-openvswitch or python3-ovsdbapp' % SYSTEM_PYTHON)
    return SYSTEM_PYTHON


@pytest.fixture
def agent(shared, nb_db, tmp_path, python):
    """GR_gw with a TCP NodePort load balancer of its own and one in a group, and the agent."""
    nbctl(nb_db, 'lr-add', 'GR_gw')
    nbctl(nb_db, 'lb-add', 'np1', '192.168.77.2:%d' % NODEPORT, '10.0.0.5:80', 'tcp')
    nbctl(nb_db, 'lr-lb-add', 'GR_gw', 'np1')
    nbctl(nb_db, 'lb-add', 'np2', '192.168.77.2:%d' % GROUP_NODEPORT, '10.0.0.6:80', 'tcp')
    # A VIP on another address: not a NodePort of this host.
    nbctl(nb_db, 'lb-add', 'other', '192.168.77.9:%d' % (NODEPORT + 2), '10.0.0.7:80', 'tcp')
    group = nbctl(nb_db, 'create', 'Load_Balancer_Group', 'name=g1')
    for lb in ('np2', 'other'):
        nbctl(nb_db, 'add', 'Load_Balancer_Group', group, 'load_balancer', nbctl(nb_db, 'get', 'Load_Balancer', lb, '_uuid'))
    nbctl(nb_db, 'add', 'Logical_Router', 'GR_gw', 'load_balancer_group', group)

    templates, role_vars = role_flows(_ovn_gateway_patch_ofport='{patch}', _ovn_gateway_nic_ofport='{nic}',
                                      _ovn_gateway_host_ip='192.168.77.2', ovn_gateway_conntrack_zone=ZONE)
    port = free_port()
    config = dict(node='gw', bridge='breth0', nic='eth0', patch_port='grp', host_ip='192.168.77.2',
                  flow_cookie=role_vars['_ovn_gateway_flow_cookie'], flows=templates,
                  nodeport_cookie=role_vars['_ovn_gateway_nodeport_cookie'], nb_remote=nb_db,
                  ovs_rundir=str(tmp_path), ovs_db=shared['remote'], interval=1,
                  metrics_address='127.0.0.1:%d' % port)
    path = tmp_path / 'gateway-flows.json'
    path.write_text(json.dumps(config))
    log = open(str(tmp_path / 'agent.log'), 'w')
    proc = subprocess.Popen([python, AGENT, '--config', str(path)], stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, OVN_K8S_COLLECTIONS_PATH=collection_root()))
    yield dict(shared, proc=proc, port=port, nb=nb_db, rundir=str(tmp_path), log=str(tmp_path / 'agent.log'),
               static=len(templates))
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()
    with open(str(tmp_path / 'agent.log')) as f:
        print(f.read()[-5000:])


def test_node_ports_follow_the_load_balancers_and_survive_a_vswitchd_restart(agent):
    host, peer, gr, servers = agent['host'], agent['peer'], agent['gr'], agent['servers']
    for port in (18090, NODEPORT, GROUP_NODEPORT):
        servers.serve(host, '192.168.77.2', port, 'host')
        servers.serve(gr, '192.168.77.2', port, 'gr')
    servers.serve(peer, '192.168.77.1', 18091, 'peer')

    def serves(port, who):
        return lambda: answer(peer, '192.168.77.2', port) == '%s saw 192.168.77.1' % who

    # Ready once a pass made every flow right (before that the bridge is a plain NORMAL switch,
    # and the host's MAC, which the gateway router shares, may be learned on either side).
    wait_for('the agent to be ready', lambda: http(agent['port'], '/readyz')[0] == 200, timeout=60)
    for _attempt in range(2):
        assert answer(peer, '192.168.77.2', NODEPORT) == 'gr saw 192.168.77.1'
        assert answer(peer, '192.168.77.2', GROUP_NODEPORT) == 'gr saw 192.168.77.1'
        assert answer(peer, '192.168.77.2', 18090) == 'host saw 192.168.77.1'
        assert answer(gr, '192.168.77.1', 18091) == 'peer saw 192.168.77.2'
    assert http(agent['port'], '/healthz')[0] == 200 and http(agent['port'], '/readyz')[0] == 200
    metrics = http(agent['port'], '/metrics')[1]
    assert 'ovn_k8s_gateway_flows_node_ports 2' in metrics, metrics
    assert 'ovn_k8s_gateway_flows_passes_total{result="ok"}' in metrics, metrics

    # The load balancer goes: its NodePort is the host's port again; the other stays OVN's.
    nbctl(agent['nb'], 'lr-lb-del', 'GR_gw', 'np1')
    wait_for('the removed NodePort to be the host\'s again', serves(NODEPORT, 'host'), timeout=30)
    assert answer(peer, '192.168.77.2', GROUP_NODEPORT) == 'gr saw 192.168.77.1'

    # ovs-vswitchd restarts with none of the flows: the agent puts them back.
    restart_vswitchd(agent, agent['rundir'])
    wait_for('the flows to be back after the restart', lambda: flow_counts(agent['rundir']) == (agent['static'], 1),
             timeout=60)
    for _attempt in range(2):
        assert answer(peer, '192.168.77.2', GROUP_NODEPORT) == 'gr saw 192.168.77.1'
        assert answer(peer, '192.168.77.2', 18090) == 'host saw 192.168.77.1'
        assert answer(gr, '192.168.77.1', 18091) == 'peer saw 192.168.77.2'
    with open(agent['log']) as f:
        assert 'flows converged' in f.read()

    agent['proc'].send_signal(signal.SIGTERM)
    assert agent['proc'].wait(timeout=30) == 0


def test_bad_configuration_is_refused(tmp_path):
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps(dict(node='gw', bridge='breth0')))
    proc = subprocess.run([sys.executable, AGENT, '--config', str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=60,
                          env=dict(os.environ, OVN_K8S_COLLECTIONS_PATH=collection_root()), check=False)
    assert proc.returncode == 2 and 'missing nic, patch_port, host_ip' in proc.stdout, proc.stdout
