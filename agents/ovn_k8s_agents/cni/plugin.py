# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovn-k8s-cni-overlay: the CNI plugin that wires a pod into ``br-int``.

One function per verb (:func:`cmd_add`, :func:`cmd_del`, :func:`cmd_check`, :func:`cmd_status`,
:func:`cmd_gc`; VERSION is answered by :mod:`.skel`). The pod's address comes from its network
annotation (:mod:`ovn_k8s_agents.annotation`, written by the watcher); the Open vSwitch port is
made by the collection's ``_ovs`` core in one checked transaction, like the ovs_bridge_port
module does.

The annotation alone is never trusted (a pod's creator may write it): ADD configures the address
only once the pod read from the API server has the runtime's K8S_POD_UID (when the runtime gives
one; without it, the UID the API server has now is the one checked below) and OVN holds exactly
that MAC and address in the logical port made for that pod UID, bound to this node
(ovn-installed on the pod's interface, and its Southbound Port_Binding: :mod:`.ovn`). Otherwise
ADD fails naming the pod and the reason, and removes the veth and the interface it made. CHECK
verifies the same things.

Network configuration keys beyond the spec's (``cniVersion``, ``name``, ``type``):

``kubeconfig``           the node's kubeconfig (root-only), needed by ADD
``ovs_remote``           the Open vSwitch database (default unix:/var/run/openvswitch/db.sock)
``ovs_timeout``          seconds for the database (default 10)
``bridge``               the integration bridge (default br-int)
``mtu``                  the pod interface's MTU (default 1400: room for the geneve header)
``datapath_type``        system or netdev; netdev turns transmit checksum offload off
``tx_checksum_offload``  true/false, overrides what datapath_type (or the bridge) implies
``annotation_timeout``   seconds ADD waits for the annotation (default 30)
``port_timeout``         seconds ADD waits for OVN to install the pod's logical port on this node
                         with the annotated address (default 30)
``sb_remote``            the Southbound database (default: what ovn-controller uses, the Open vSwitch
                         database's external_ids:ovn-remote); any member of a cluster will do
``sb_ssl_key``, ``sb_ssl_cert``, ``sb_ssl_ca_cert``
                         SSL files for an ssl: Southbound remote (ovn-controller's; the ovn_node
                         role writes them)
``ovn_controller_pidfile`` ovn-controller's pidfile, which STATUS checks (default
                         /var/run/ovn/ovn-controller.pid)
``log_file``             where to log (default /var/log/ovn-k8s/cni.log); ``log_level`` (info)
"""

from __future__ import absolute_import, division, print_function

import ipaddress
import json
import logging
import os
import sys
import time

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _checks, _errors, _names, _ovs, _ovsdb, _owners, _txn
from ovn_k8s_agents.cni import netns, ovn, skel
from ovn_k8s_agents.cni.skel import (
    INVALID_CONFIG,
    INVALID_ENVIRONMENT,
    NOT_AVAILABLE,
    PLUGIN_ERROR,
    TRY_AGAIN_LATER,
    UNKNOWN_CONTAINER,
    CniError,
    Result,
    prev_result_of,
)

log = logging.getLogger('ovn_k8s_cni')

PLUGIN = _names.CNI_PLUGIN
DEFAULT_LOG_FILE = '/var/log/ovn-k8s/cni.log'
DEFAULT_OVN_CONTROLLER_PIDFILE = '/var/run/ovn/ovn-controller.pid'
DEFAULT_OVS_REMOTE = 'unix:/var/run/openvswitch/db.sock'
# What the plugin reads of the Open vSwitch database (the root row: this node's chassis name and
# Southbound remote).
OVS_TABLES = _checks.merge_tables(_ovs.PORT_TABLES, {'Bridge': ['name', 'ports', 'datapath_type'],
                                                     'Open_vSwitch': ['external_ids']})

# external_ids keys on the pod's Interface row (iface-id is what ovn-controller binds by; it
# refuses a port whose options:iface-id-ver is set and differs from iface-id-ver).
IFACE_ID = _names.IFACE_ID_KEY
IFACE_ID_VER = _names.IFACE_ID_VER_KEY
SANDBOX = _names.CNI_SANDBOX_KEY
IFNAME = _names.CNI_IFNAME_KEY
OWNER = _names.CNI_OWNER_KEY
POD_UID = _names.CNI_POD_UID_KEY


class Config(object):
    """The network configuration, checked; a bad value is INVALID_CONFIG naming the key."""

    def __init__(self, data):
        self.name = data.get('name') or '(unnamed)'
        self.kubeconfig = self._str(data, 'kubeconfig', None)
        self.ovs_remote = self._str(data, 'ovs_remote', DEFAULT_OVS_REMOTE)
        self.ovs_timeout = self._number(data, 'ovs_timeout', 10, 1, 300)
        self.bridge = self._str(data, 'bridge', _names.INTEGRATION_BRIDGE)
        if len(self.bridge.encode('utf-8')) > 15 or not self.bridge.strip() or '/' in self.bridge:
            raise self._bad('bridge', self.bridge, 'a bridge name (1 to 15 bytes, no slash)')
        self.mtu = int(self._number(data, 'mtu', 1400, 576, 65535, integer=True))
        self.datapath_type = self._str(data, 'datapath_type', None)
        if self.datapath_type not in (None, 'system', 'netdev'):
            raise self._bad('datapath_type', self.datapath_type, 'system or netdev')
        self.tx_checksum_offload = data.get('tx_checksum_offload')
        if self.tx_checksum_offload not in (None, True, False):
            raise self._bad('tx_checksum_offload', self.tx_checksum_offload, 'true or false')
        self.annotation_timeout = self._number(data, 'annotation_timeout', 30, 0, 3600)
        self.port_timeout = self._number(data, 'port_timeout', 30, 0, 3600)
        self.sb_remote = self._str(data, 'sb_remote', None)
        self.sb_ssl_key = self._str(data, 'sb_ssl_key', None)
        self.sb_ssl_cert = self._str(data, 'sb_ssl_cert', None)
        self.sb_ssl_ca_cert = self._str(data, 'sb_ssl_ca_cert', None)
        self.ovn_controller_pidfile = self._str(data, 'ovn_controller_pidfile', DEFAULT_OVN_CONTROLLER_PIDFILE)
        self.log_file = self._str(data, 'log_file', DEFAULT_LOG_FILE)
        self.log_level = self._str(data, 'log_level', 'info').upper()
        if self.log_level not in ('DEBUG', 'INFO', 'WARNING', 'ERROR'):
            raise self._bad('log_level', self.log_level.lower(), 'debug, info, warning or error')

    def _bad(self, key, value, expected):
        return CniError(INVALID_CONFIG, 'network %s: %s is %r; expected %s' % (self.name, key, value, expected))

    def _str(self, data, key, default):
        value = data.get(key, default)
        if value is not None and (not isinstance(value, str) or not value):
            raise self._bad(key, value, 'a non-empty string')
        return value

    def _number(self, data, key, default, low, high, integer=False):
        value = data.get(key, default)
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
            raise self._bad(key, value, '%s from %s to %s' % ('an integer' if integer else 'a number', low, high))
        return value

    def tx_offload_off(self, bridge_datapath):
        """Whether the pod side's transmit checksum offload must go off: asked explicitly, or
        the userspace datapath (the configured one, else the bridge's own)."""
        if self.tx_checksum_offload is not None:
            return not self.tx_checksum_offload
        return (self.datapath_type or bridge_datapath) == 'netdev'


# The logical switch port (and iface-id) of a pod: one name for the watcher and the plugin.
pod_port = _names.pod_port


def _pod_of(request, needed=True):
    namespace, name = request.pod
    if needed and not (namespace and name):
        raise CniError(INVALID_ENVIRONMENT, 'CNI_ARGS must give K8S_POD_NAMESPACE and K8S_POD_NAME '
                       '(container %s)' % request.container_id)
    return namespace, name


def _ovs_client(cfg):
    try:
        return _ovsdb.Client(_ovsdb.OVS_DB, remote=cfg.ovs_remote, timeout=cfg.ovs_timeout, tables=OVS_TABLES)
    except _errors.OvnK8sError as exc:
        raise CniError(TRY_AGAIN_LATER, str(exc))


def _cni_error(exc):
    """The CNI error a failed commit becomes: the runtime retries what may pass later."""
    if isinstance(exc, _errors.OvsdbConnectionError):
        return CniError(TRY_AGAIN_LATER, str(exc))
    if isinstance(exc, _errors.OvnK8sError):
        return CniError(PLUGIN_ERROR, str(exc))
    return None


def _commit(cs):
    _txn.commit(cs, on_error=_cni_error)


def _ours(client, request):
    """Names of the ports whose interface carries this attachment's sandbox and ifname."""
    return sorted(set(row.name for row in _ovs.interfaces_with(
        client, **{SANDBOX: request.container_id, IFNAME: request.ifname})))


# ADD -----------------------------------------------------------------------------------------
def cmd_add(request):
    """Wire the pod in only with what OVN holds for it, or leave nothing behind.

    The order is forced by ovn-controller: it claims a logical port only for an Open vSwitch
    interface whose ``iface-id`` names it, so the veth (without an address) and the interface
    come first; then the plugin waits for ovn-installed and checks the Southbound binding; only
    then does the pod's side get its address and route. Any failure after the veth exists
    removes the interface and the veth (with it the pod's side) before the error goes up.
    """
    from ovn_k8s_agents.cni import kube
    cfg = Config(request.config)
    namespace, name = _pod_of(request)
    who = '%s/%s' % (namespace, name)
    if not netns.exists(request.netns):
        raise CniError(PLUGIN_ERROR, 'pod %s: the network namespace %s does not exist' % (who, request.netns))
    core = kube.core_api(cfg.kubeconfig)
    runtime_uid = request.args.get('K8S_POD_UID') or None
    network, uid = kube.wait_pod_network(core, namespace, name, cfg.annotation_timeout, uid=runtime_uid)
    if runtime_uid is None:
        log.warning('ADD pod %s: the runtime gave no K8S_POD_UID; checking OVN against the UID %s the API '
                    'server has for the pod now', who, uid)
    log.info('ADD pod %s (uid %s) container %s: annotated %s mac %s gateway %s', who, uid, request.container_id,
             network.cidr, network.mac, network.gateway)

    host = netns.host_ifname(request.container_id, request.ifname)
    iface_id = pod_port(namespace, name)
    deadline = time.monotonic() + cfg.port_timeout
    with _ovs_client(cfg) as client:
        bridge = _ovs.get_bridge(client, cfg.bridge)
        if bridge is None:
            raise CniError(PLUGIN_ERROR, 'pod %s: the bridge %s does not exist in the Open vSwitch database at %s'
                           % (who, cfg.bridge, cfg.ovs_remote))
        chassis, sb_remote = ovn.node_identity(client)
        sb_remote = cfg.sb_remote or sb_remote
        if not chassis or not sb_remote:
            raise CniError(PLUGIN_ERROR, 'pod %s: the Open vSwitch database at %s has no %s: is ovn-controller '
                           'configured on this node?' % (who, cfg.ovs_remote, 'system-id' if not chassis else
                                                         'ovn-remote (nor does the configuration give sb_remote)'))
        ids = {IFACE_ID: iface_id, IFACE_ID_VER: uid, _names.ATTACHED_MAC_KEY: network.mac, _names.IP_ADDRESS_KEY: network.cidr,
               SANDBOX: request.container_id, IFNAME: request.ifname, OWNER: PLUGIN, POD_UID: uid}
        # A pod has one sandbox at a time: ports left by an older sandbox of the same pod (whose
        # DEL never came) would make ovn-controller bind the logical port twice. A port of this
        # very attachment goes too: the veth is made again, and so is its interface, so that
        # ovn-installed is ovn-controller's word on this one.
        stale = set(row.name for row in _ovs.interfaces_with(client, **{IFACE_ID: iface_id}))
        stale |= set(_ours(client, request)) | set([host])
        cs = _txn.ChangeSet(client)
        for old in sorted(stale):
            if old != host:
                log.info('ADD pod %s: removing the stale port %s of the same pod', who, old)
            _ovs.remove_port(cs, client, old)
        _commit(cs)
        tx_off = cfg.tx_offload_off(_ovs.datapath_of(bridge))
        with netns.ipr_in() as ipr:
            netns.delete_link(ipr, host)       # a half-made pair from an earlier ADD of this container
        try:
            host_mac = netns.plug(request.netns, host, request.ifname, network.mac, cfg.mtu, tx_off)
        except (netns.KernelError, netns.NetnsGone) as exc:
            raise CniError(PLUGIN_ERROR, 'pod %s: %s' % (who, exc))
        try:
            cs = _txn.ChangeSet(client)
            try:
                _ovs.ensure_port(cs, client, cfg.bridge, host, external_ids=ids, purge_external_ids=True)
            except _errors.OvnK8sError as exc:
                raise CniError(PLUGIN_ERROR, 'pod %s: %s' % (who, exc))
            _commit(cs)
            waited = _wait_for_ovn(cfg, client, who, host, iface_id, network, uid, chassis, sb_remote, deadline)
            try:
                netns.configure_ip(request.netns, request.ifname, network.cidr, network.gateway)
            except (netns.KernelError, netns.NetnsGone) as exc:
                raise CniError(PLUGIN_ERROR, 'pod %s: %s' % (who, exc))
        except BaseException:
            _undo(client, who, host)
            raise
    log.info('ADD pod %s: %s in %s, host end %s on %s (tx checksum offload %s); OVN installed %s with this '
             'address on chassis %s after %.2f s', who, request.ifname, request.netns, host, cfg.bridge,
             'off' if tx_off else 'unchanged', iface_id, chassis, waited)
    default = '0.0.0.0/0' if network.interface.version == 4 else '::/0'
    return Result(
        interfaces=[{'name': host, 'mac': host_mac, 'mtu': cfg.mtu},
                    {'name': request.ifname, 'mac': network.mac, 'sandbox': request.netns, 'mtu': cfg.mtu}],
        ips=[{'address': network.cidr, 'gateway': str(network.gateway), 'interface': 1}],
        routes=[{'dst': default, 'gw': str(network.gateway)}])


def _sb_client(cfg, what, port, chassis, sb_remote, deadline):
    """The Southbound reader for ``port`` (``what``: whom an error names)."""
    timeout = max(1, min(cfg.ovs_timeout, deadline - time.monotonic()))
    try:
        return ovn.sb_client(sb_remote, timeout, port, chassis, ssl_key=cfg.sb_ssl_key, ssl_cert=cfg.sb_ssl_cert,
                             ssl_ca_cert=cfg.sb_ssl_ca_cert)
    except _errors.InvalidInput as exc:
        raise CniError(INVALID_CONFIG, '%s: %s (the keys sb_ssl_key, sb_ssl_cert, sb_ssl_ca_cert)' % (what, exc))
    except _errors.OvnK8sError as exc:
        raise CniError(TRY_AGAIN_LATER, '%s: %s' % (what, exc))


def _wait_for_ovn(cfg, client, who, host, port, network, uid, chassis, sb_remote, deadline):
    """Seconds until OVN vouches for the pod's address on this node; a CniError naming the pod
    and every reason when it does not within port_timeout."""
    with _sb_client(cfg, 'pod ' + who, port, chassis, sb_remote, deadline) as sb:
        try:
            return ovn.wait(client, sb, host, port, network.mac, network.ip, uid, chassis, deadline)
        except ovn.NotOurs as exc:
            when = 'refusing to configure it' if exc.definite else 'gave up after %s seconds' % cfg.port_timeout
            raise CniError(PLUGIN_ERROR if exc.definite else TRY_AGAIN_LATER,
                           'pod %s: its annotation gives it %s with MAC %s, but %s; %s (nothing was left on the node)'
                           % (who, network.cidr, network.mac, exc, when))


def _undo(client, who, host):
    """Remove the interface and the veth of a failed ADD; errors here are logged, not raised."""
    try:
        cs = _txn.ChangeSet(client)
        _ovs.remove_port(cs, client, host)
        cs.commit()
    except Exception:  # pylint: disable=broad-except
        log.exception('ADD pod %s failed, and removing its port %s failed too', who, host)
    try:
        with netns.ipr_in() as ipr:
            netns.delete_link(ipr, host)
    except Exception:  # pylint: disable=broad-except
        log.exception('ADD pod %s failed, and removing its veth %s failed too', who, host)


# DEL -----------------------------------------------------------------------------------------
def cmd_del(request):
    """Remove the port and the veth; whatever is already gone is fine. No API server needed.

    With the Open vSwitch database unreachable, DEL still removes the veth (by its name) and
    succeeds, as the spec asks of DEL (a pod must not hang in Terminating, say during a node
    drain); the port left in the database goes with the runtime's next GC."""
    cfg = Config(request.config)
    host = netns.host_ifname(request.container_id, request.ifname)
    cs = None
    try:
        with _ovs_client(cfg) as client:
            cs = _txn.ChangeSet(client)
            for name in sorted(set(_ours(client, request)) | set([host])):
                try:
                    _ovs.remove_port(cs, client, name)
                except _errors.OvnK8sError as exc:
                    raise CniError(PLUGIN_ERROR, 'container %s: %s' % (request.container_id, exc))
            _commit(cs)
    except CniError as exc:
        if exc.code != TRY_AGAIN_LATER:
            raise
        log.warning('DEL container %s (%s): the Open vSwitch database cannot be reached (%s); removing the '
                    'veth only, its port goes with the next GC', request.container_id, request.ifname, exc.msg)
        cs = None
    with netns.ipr_in() as ipr:
        removed = netns.delete_link(ipr, host)
    if not removed and netns.exists(request.netns):
        # The host end is gone but the pod side may not be (a veth moved by hand, say).
        try:
            with netns.ipr_in(request.netns) as ipr:
                if netns.link_kind(ipr, request.ifname) == 'veth':
                    netns.delete_link(ipr, request.ifname)
        except netns.NetnsGone:
            pass
    log.info('DEL container %s (%s): port %s %s', request.container_id, request.ifname, host,
             'removed' if (cs is not None and cs.changed) or removed else 'already gone')
    return None


# CHECK ---------------------------------------------------------------------------------------
def cmd_check(request):
    """Compare the interface, its addresses, routes, MTU and the OVS port with prevResult, and
    check what ADD checked: the pod's UID and annotation in the API server (with a kubeconfig),
    ovn-installed on the interface and the port's Southbound binding (:func:`_ovn_faults`)."""
    cfg = Config(request.config)
    prev, index = prev_result_of(request)
    mac = (prev.interfaces[index].get('mac') or '').lower()
    ips = [ip for ip in prev.ips if ip.get('interface') in (None, index)]
    namespace, name = _pod_of(request, needed=False)
    who = 'pod %s/%s' % (namespace, name) if name else 'container %s' % request.container_id
    faults = []
    try:
        found = netns.read(request.netns, request.ifname)
    except netns.NetnsGone as exc:
        raise CniError(UNKNOWN_CONTAINER, 'CHECK of %s: %s' % (who, exc))
    if found is None:
        raise CniError(PLUGIN_ERROR, 'CHECK of %s: there is no interface %s in %s' % (who, request.ifname, request.netns))
    if found['mac'] != mac:
        faults.append('%s has MAC %s, not %s' % (request.ifname, found['mac'], mac))
    if found['mtu'] != cfg.mtu:
        faults.append('%s has MTU %s, not %s' % (request.ifname, found['mtu'], cfg.mtu))
    if not found['up']:
        faults.append('%s is down' % request.ifname)
    for ip in ips:
        if str(ipaddress.ip_interface(ip['address'])) not in found['addresses']:
            have = ', '.join(found['addresses']) or 'none'
            faults.append('%s lacks the address %s (it has %s)' % (request.ifname, ip['address'], have))
    for route in prev.routes:
        dst = ipaddress.ip_network(route['dst'])
        want = dict(dst='default' if dst.prefixlen == 0 else str(dst), via=route.get('gw') or _gateway(ips, dst))
        if not any(r['dst'] == want['dst'] and (want['via'] is None or r['via'] == want['via']) for r in found['routes']):
            faults.append('%s lacks the route to %s via %s' % (request.ifname, route['dst'], want['via']))

    host = netns.host_ifname(request.container_id, request.ifname)
    host_link = netns.read_host(host)
    if host_link is None:
        faults.append('the host end %s does not exist' % host)
    elif not host_link['up']:
        faults.append('the host end %s is down' % host)
    with _ovs_client(cfg) as client:
        port = _ovs.get_port(client, host)
        bridge = _ovs.bridge_of_port(client, port) if port is not None else None
        if port is None or bridge is None or bridge.name != cfg.bridge:
            faults.append('the host end %s is not a port of bridge %s' % (host, cfg.bridge))
        else:
            if cfg.tx_offload_off(_ovs.datapath_of(bridge)) and found['tx_checksum']:
                faults.append('%s has transmit checksum offload on (the %s datapath needs it off)'
                              % (request.ifname, _ovs.datapath_of(bridge)))
            ids = dict(port.interfaces[0].external_ids)
            wanted = {_names.ATTACHED_MAC_KEY: mac, SANDBOX: request.container_id}
            if name:
                wanted[IFACE_ID] = pod_port(namespace, name)
            if ips:
                wanted[_names.IP_ADDRESS_KEY] = str(ipaddress.ip_interface(ips[0]['address']))
            for key, value in sorted(wanted.items()):
                if ids.get(key) != value:
                    faults.append('port %s has external_ids:%s=%s, not %s' % (host, key, ids.get(key, '(none)'), value))
            if name and ips:
                faults.extend(_ovn_faults(cfg, request, client, who, host, pod_port(namespace, name), mac,
                                          ipaddress.ip_interface(ips[0]['address'])))
    if faults:
        raise CniError(PLUGIN_ERROR, 'CHECK of %s failed: %s' % (who, '; '.join(faults)))
    return None


def _ovn_faults(cfg, request, client, who, host, port, mac, address):
    """What CHECK finds wrong with OVN's word on the pod: the pod in the API server (its UID and
    annotation, when the configuration has a kubeconfig), ovn-installed and the Port_Binding."""
    found = []
    uid = request.args.get('K8S_POD_UID') or None
    if cfg.kubeconfig:
        from ovn_k8s_agents.cni import kube
        namespace, name = request.pod
        try:
            network, uid = kube.read_pod(kube.core_api(cfg.kubeconfig), namespace, name, uid=uid)
        except CniError as exc:
            return [exc.msg]
        if network is None or (network.mac, network.interface) != (mac, address):
            found.append('the pod\'s annotation gives %s, not %s with MAC %s' % (
                '%s with MAC %s' % (network.cidr, network.mac) if network else 'no address', address, mac))
    chassis, sb_remote = ovn.node_identity(client)
    sb_remote = cfg.sb_remote or sb_remote
    if not chassis or not sb_remote:
        return found + ['the Open vSwitch database has no system-id or ovn-remote: is ovn-controller configured?']
    deadline = time.monotonic() + cfg.ovs_timeout
    with _sb_client(cfg, who, port, chassis, sb_remote, deadline) as sb:
        try:
            ovn.faults(client, sb, host, port, mac, str(address.ip), uid, chassis)
        except ovn.NotOurs as exc:
            found.extend(exc.faults)
    return found


def _gateway(ips, dst):
    for ip in ips:
        if ip.get('gateway') and ipaddress.ip_address(ip['gateway']).version == dst.version:
            return ip['gateway']
    return None


# STATUS and GC -------------------------------------------------------------------------------
def cmd_status(request):
    """Ready when what ADD needs is there: the Open vSwitch database answers and holds the
    bridge, ovn-controller runs (it installs the pods' ports), and the API server answers (with
    a kubeconfig: ADD reads the pod from it)."""
    cfg = Config(request.config)
    try:
        client = _ovsdb.Client(_ovsdb.OVS_DB, remote=cfg.ovs_remote, timeout=cfg.ovs_timeout, tables=OVS_TABLES)
    except _errors.OvnK8sError as exc:
        raise CniError(NOT_AVAILABLE, str(exc))
    with client:
        if _ovs.get_bridge(client, cfg.bridge) is None:
            raise CniError(NOT_AVAILABLE, 'the bridge %s does not exist in the Open vSwitch database at %s'
                           % (cfg.bridge, cfg.ovs_remote))
    why = _not_running(cfg.ovn_controller_pidfile)
    if why:
        raise CniError(NOT_AVAILABLE, 'ovn-controller is not running: %s' % why)
    if cfg.kubeconfig:
        from kubernetes import client as kube_client
        from ovn_k8s_agents.cni import kube  # imported where needed: DEL and GC start faster
        core = kube.core_api(cfg.kubeconfig)
        try:
            kube_client.VersionApi(core.api_client).get_code(_request_timeout=(5, 5))
        except Exception as exc:  # the client raises urllib3, SSL and API errors alike
            raise CniError(NOT_AVAILABLE, 'the API server of %s does not answer: %s' % (cfg.kubeconfig, str(exc)[:300]))
    return None


def _not_running(pidfile):
    """Why the process of ``pidfile`` is not running, or None when it is."""
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError) as exc:
        return 'no usable pidfile %s (%s)' % (pidfile, exc)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return 'process %d of %s is gone' % (pid, pidfile)
    except PermissionError:
        pass  # it exists, as another user's
    return None


def cmd_gc(request):
    """Remove this plugin's ports (and their host ends) whose attachment the runtime no longer
    lists in ``cni.dev/valid-attachments``; without that list, nothing."""
    cfg = Config(request.config)
    valid = request.config.get('cni.dev/valid-attachments')
    if valid is None:
        return None
    if not isinstance(valid, list) or not all(isinstance(a, dict) for a in valid):
        raise CniError(INVALID_CONFIG, 'cni.dev/valid-attachments is not a list of {containerID, ifname}')
    keep = set((a.get('containerID'), a.get('ifname')) for a in valid)
    with _ovs_client(cfg) as client:
        cs = _txn.ChangeSet(client)
        gone = []
        for iface in _ovs.interfaces_with(client, **{OWNER: PLUGIN}):
            # The one rule of every stale sweep (_owners): only this plugin's own ports.
            mine = _owners.may_remove(PLUGIN, iface.external_ids, {OWNER: PLUGIN})
            if mine and (iface.external_ids.get(SANDBOX), iface.external_ids.get(IFNAME)) not in keep:
                port = _ovs.port_of_interface(client, iface)
                if port is not None:
                    _ovs.remove_port(cs, client, port.name)
                    gone.append(port.name)
        _commit(cs)
    with netns.ipr_in() as ipr:
        for name in gone:
            netns.delete_link(ipr, name)
    if gone:
        log.info('GC removed the ports of attachments the runtime no longer has: %s', ', '.join(sorted(gone)))
    return None


HANDLERS = {'ADD': cmd_add, 'DEL': cmd_del, 'CHECK': cmd_check, 'STATUS': cmd_status, 'GC': cmd_gc}


def _handlers(stdin):
    """The verbs' handlers: the underlay mode's (cni/underlay.py, inside a VM) when the network
    configuration says ``"mode": "underlay"``, else this file's."""
    try:
        data = json.loads(stdin.decode('utf-8', 'replace')) if stdin.strip() else {}
    except ValueError:
        data = {}   # skel reports the decoding failure
    if isinstance(data, dict) and data.get('mode') == 'underlay':
        from ovn_k8s_agents.cni import underlay
        return underlay.HANDLERS
    return HANDLERS


# Entry point ----------------------------------------------------------------------------------
def _setup_logging(stdin):
    """Log to the configured file (or stderr when it cannot be opened); libraries stay quiet."""
    try:
        data = json.loads(stdin.decode('utf-8', 'replace')) if stdin.strip() else {}
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    path = data.get('log_file') if isinstance(data.get('log_file'), str) else DEFAULT_LOG_FILE
    level = str(data.get('log_level', 'info')).upper()
    handler = None
    try:
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, 0o750)
        handler = logging.FileHandler(path)
    except OSError:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter('%(asctime)s %(process)d %(levelname)s %(message)s'))
    log.addHandler(handler)
    log.setLevel(getattr(logging, level, logging.INFO))
    log.propagate = False
    # The API client and urllib3 could log requests; never their headers or credentials.
    for name in ('kubernetes', 'urllib3'):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(environ=None, stdin=None, stdout=None):
    """The executable: reads stdin, answers on stdout, returns the exit status."""
    environ = os.environ if environ is None else environ
    stdin = sys.stdin.buffer.read() if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    _setup_logging(stdin)
    command = environ.get('CNI_COMMAND', '?')
    try:
        status, text = skel.dispatch(_handlers(stdin), environ, stdin)
    except Exception:   # a bug: still an error object for the runtime, the traceback in the log
        log.exception('%s failed unexpectedly', command)
        status, text = 1, json.dumps(CniError(PLUGIN_ERROR, '%s: unexpected failure: %s' % (
            PLUGIN, sys.exc_info()[1])).encode(None))
    if status:
        log.error('%s container %s: %s', command, environ.get('CNI_CONTAINERID', '-'), text)
    if text:
        stdout.write(text + '\n')
        stdout.flush()
    return status
