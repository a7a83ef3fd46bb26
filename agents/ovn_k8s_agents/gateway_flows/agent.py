# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keeps a shared-IP gateway's flows on its bridge (the ovn_gateway role's
``ovn_gateway_share_host_ip``): the demultiplexing flows the role writes, and one flow per
NodePort that sends the node ports of the gateway router's load balancers to OVN's patch port.

Where the NodePorts come from: the Northbound load balancers of ``GR_<node>`` (its own and
those of its load balancer groups), the VIPs on the host's address. They are what the gateway
router will answer, whoever wrote them (the watcher from the Kubernetes API), and the node
already holds Northbound credentials (ovn_node's), so the agent needs no Kubernetes identity.

Level-driven: each pass computes every wanted flow from the database copy and the bridge's
ports and converges the bridge with ``_openflow`` (read, compare, replace what differs).
A pass runs when the Northbound copy changes and every ``interval`` seconds anyway, which
puts the flows back after ovs-vswitchd restarted (it starts with none of them).

The configuration is one JSON file (the role writes it, see roles/ovn_gateway): ``node``,
``bridge``, ``nic``, ``patch_port``, ``host_ip``, ``flow_cookie`` and ``flows`` (the
demultiplexing flows with ``{patch}`` and ``{nic}`` in place of the ports' OpenFlow numbers),
``nodeport_cookie``, ``nb_remote`` and the TLS files, ``interval``, ``metrics_address``,
and for tests ``ovs_rundir`` and ``ovs_db``.
"""

from __future__ import absolute_import, division, print_function

import argparse
import ipaddress
import json
import logging
import os
import signal
import sys
import threading
import time

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _openflow
from ovn_k8s_agents.watcher.metrics import HealthServer, Metrics

LOG = logging.getLogger('ovn_k8s_gateway_flows')

TABLES = {
    'Logical_Router': ['name', 'load_balancer', 'load_balancer_group'],
    'Load_Balancer_Group': ['name', 'load_balancer'],
    'Load_Balancer': ['name', 'vips', 'protocol'],
}
# The interfaces' OpenFlow numbers (ovs-vswitchd writes them; they change when it restarts).
OVS_TABLES = {'Interface': ['name', 'ofport']}
NODEPORT_PRIORITY = 90
PROTOCOLS = ('tcp', 'udp', 'sctp')


class AgentMetrics(Metrics):
    PREFIX = 'ovn_k8s_gateway_flows_'
    HELP = {
        'passes_total': ('counter', 'Passes over the flows, by result (ok, failed).'),
        'flow_commands_total': ('counter', 'Flows added, replaced or deleted on the bridge, by cookie.'),
        'node_ports': ('gauge', 'NodePorts on the host address that have a flow.'),
        'seconds_since_last_ok_pass': ('gauge', 'Seconds since the flows were last found or made right.'),
        'pass_seconds': ('histogram', 'One pass: reading the database copy and the bridge, and writing.'),
    }


def node_ports(router, host_ip):
    """Sorted [(protocol, port)] of the VIPs on ``host_ip`` of ``router``'s load balancers."""
    lbs = list(router.load_balancer)
    for group in router.load_balancer_group:
        lbs.extend(group.load_balancer)
    found = set()
    for lb in lbs:
        protocol = (list(lb.protocol) or ['tcp'])[0]
        if protocol not in PROTOCOLS:
            continue
        for vip in lb.vips:
            ip, sep, port = vip.rpartition(':')
            if not sep or not port.isdigit():
                continue
            try:
                if ipaddress.ip_address(ip.strip('[]')) != ipaddress.ip_address(host_ip):
                    continue
            except ValueError:
                continue
            found.add((protocol, int(port)))
    return sorted(found)


def nodeport_flows(ports, host_ip, patch):
    """Table 1's flows that send each NodePort to the patch port (OpenFlow number ``patch``)."""
    return ['table=1,priority=%d,%s,nw_dst=%s,tp_dst=%d,actions=output:%s'
            % (NODEPORT_PRIORITY, protocol, host_ip, port, patch) for protocol, port in ports]


class Agent(object):
    def __init__(self, config):
        self.config = config
        self.stop_event = threading.Event()
        self.metrics = AgentMetrics()
        self.ofctl = _openflow.Ofctl(config['bridge'], config.get('ovs_rundir'))
        self.nb = None
        self.ovs = None
        self.last_ok = None
        self.last_error = 'no pass yet'
        self.ports = []
        self.metrics.gauge('node_ports', lambda: len(self.ports))
        self.metrics.gauge('seconds_since_last_ok_pass',
                           lambda: round(time.time() - self.last_ok, 3) if self.last_ok else -1)

    # Health ----------------------------------------------------------------------------------
    def healthy(self):
        limit = max(10.0, 3 * float(self.config.get('interval', 2)))
        if self.last_ok is not None and time.time() - self.last_ok <= limit:
            return True, 'ok'
        return False, 'the flows were not made right in the last %d seconds: %s' % (limit, self.last_error)

    def ready(self):
        return (True, 'ok') if self.last_ok is not None else (False, self.last_error)

    # One pass ----------------------------------------------------------------------------------
    def ofport(self, name):
        """The OpenFlow number of interface ``name``, from the Open vSwitch database copy."""
        if not self.ovs.synced():
            raise _openflow.OvnK8sError('the Open vSwitch database copy is not in step yet (reconnecting)')
        rows = self.ovs.find('Interface', 'name', name)
        value = list(rows[0].ofport) if rows else []
        if not value or value[0] <= 0:
            raise _openflow.OvnK8sError('the port %s has no OpenFlow number on %s yet'
                                        % (name, self.config['bridge']))
        return str(value[0])

    def connect(self):
        from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _ovsdb
        c = self.config
        if self.ovs is None:
            self.ovs = _ovsdb.Client(_ovsdb.OVS_DB, remote=c.get('ovs_db') or None, tables=OVS_TABLES)
        if self.nb is None:
            self.nb = _ovsdb.Client(_ovsdb.NB_DB, remote=c['nb_remote'], timeout=c.get('nb_timeout', 10),
                                    tables=TABLES, ssl_key=c.get('ssl_key') or None, ssl_cert=c.get('ssl_cert') or None,
                                    ssl_ca_cert=c.get('ssl_ca_cert') or None)

    def read_node_ports(self):
        router_name = _names.gateway_router(self.config['node'])
        for _attempt in range(3):  # the IDL's thread may change the copy while we read it
            try:
                router = self.nb.find('Logical_Router', 'name', router_name)
                if not router:
                    raise _openflow.OvnK8sError('the gateway router %s is not in the Northbound database' % router_name)
                return node_ports(router[0], self.config['host_ip'])
            except RuntimeError:
                time.sleep(0.01)
        raise _openflow.OvnK8sError('the Northbound copy kept changing while it was read')

    def run_pass(self):
        started = time.time()
        try:
            if self.nb is None or self.ovs is None:
                self.connect()
            patch, nic = self.ofport(self.config['patch_port']), self.ofport(self.config['nic'])
            static = [flow.format(patch=patch, nic=nic) for flow in self.config['flows']]
            ports = self.read_node_ports()
            changed = 0
            for cookie, flows in ((self.config['flow_cookie'], static),
                                  (self.config['nodeport_cookie'], nodeport_flows(ports, self.config['host_ip'], patch))):
                result = _openflow.converge_flows(self.ofctl, cookie, flows)
                if result['changed']:
                    changed += len(result['commands'])
                    self.metrics.inc('flow_commands_total', len(result['commands']), cookie=cookie)
                    LOG.info('flows converged: cookie %s, %s', cookie, '; '.join(result['commands']))
            if ports != self.ports:
                LOG.info('node ports on %s: %s', self.config['host_ip'],
                         ', '.join('%s/%d' % p for p in ports) or 'none')
            self.ports = ports
            self.last_ok, self.last_error = time.time(), ''
            self.metrics.inc('passes_total', result='ok')
        except _openflow.OvnK8sError as exc:
            self.last_error = str(exc)
            self.metrics.inc('passes_total', result='failed')
            LOG.warning('pass failed: %s', exc)
        finally:
            self.metrics.observe('pass_seconds', time.time() - started)

    def run(self):
        interval = float(self.config.get('interval', 2))
        seen, next_pass = None, 0.0
        while not self.stop_event.is_set():
            seqno = tuple(c.idl.change_seqno if c is not None else None for c in (self.nb, self.ovs))
            if seqno != seen or time.time() >= next_pass:
                seen = seqno
                self.run_pass()
                next_pass = time.time() + interval
            self.stop_event.wait(0.2)
        for client in (self.nb, self.ovs):
            if client is not None:
                client.close()


def load_config(path):
    with open(path) as f:
        config = json.load(f)
    missing = [k for k in ('node', 'bridge', 'nic', 'patch_port', 'host_ip', 'flow_cookie', 'flows',
                           'nodeport_cookie', 'nb_remote') if not config.get(k) and config.get(k) != []]
    if missing:
        raise ValueError('%s: missing %s' % (path, ', '.join(missing)))
    ipaddress.IPv4Address(config['host_ip'])
    for cookie in (config['flow_cookie'], config['nodeport_cookie']):
        _openflow.parse_cookie(cookie)
    return config


def main(argv=None):
    parser = argparse.ArgumentParser(prog='ovn-k8s-gateway-flows', description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--config', default='/etc/ovn-k8s/gateway-flows.json', help='the JSON configuration')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    try:
        config = load_config(args.config)
    except (OSError, ValueError, _openflow.OvnK8sError) as exc:
        LOG.error('bad configuration: %s', exc)
        return 2
    agent = Agent(config)
    server = None
    if config.get('metrics_address'):
        server = HealthServer(config['metrics_address'], agent.metrics, agent.healthy, agent.ready)
        server.start()
        LOG.info('serving /metrics, /healthz, /readyz on %s', server.address)

    def stop(_signum, _frame):
        agent.stop_event.set()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    LOG.info('starting: bridge %s, node %s, host address %s (pid %d)', config['bridge'], config['node'],
             config['host_ip'], os.getpid())
    agent.run()
    if server is not None:
        server.stop()
    LOG.info('stopped')
    return 0
