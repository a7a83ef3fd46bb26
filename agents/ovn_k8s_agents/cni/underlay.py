# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNI plugin in the underlay mode: inside a VM that is a Kubernetes node, with no Open
vSwitch. Chosen by ``"mode": "underlay"`` in the network configuration (plugin.py dispatches
here).

Each pod's interface is a VLAN sub-interface of the VM's network interface, with the pod's VLAN
tag: OVN on the hypervisor (the VM's logical port is the parent of the pod's, told apart by that
tag) delivers the pod's traffic on that VLAN and takes it from there. ADD reads the pod's
annotation (the watcher's: address, MAC, gateway, ``vlan_id``), creates the sub-interface in the
VM's namespace under a temporary name, moves it into the pod's namespace, renames it to
``CNI_IFNAME`` and gives it the MAC, MTU, address and default route; any failure removes it
again. DEL removes it (and a half-made one), whatever is already gone. CHECK re-reads it and
compares with ``prevResult`` (and, with a kubeconfig, with the pod's annotation, tag
included). STATUS: the VM's interface is there and up, and the API server answers. GC has
nothing to collect: a pod's interface lives in its namespace and goes with it.

What vouches for the address is OVN, not this plugin: the VM cannot reach the Southbound
database (it is the tenant's side), so ADD cannot wait for the port's binding as the overlay
plugin does; the pod's port on the hypervisor has port security with the annotated MAC and
address on exactly this tag, so a forged annotation gives a pod nothing it could send.

Network configuration keys beyond the spec's:

``mode``                 ``underlay``
``kubeconfig``           the VM node's kubeconfig, needed by ADD
``vm_interface``         the VM's network interface, the sub-interfaces' parent (default eth0)
``mtu``                  the pod interface's MTU (default: the VM interface's own; no tunnel
                         header inside the VM)
``tx_checksum_offload``  true/false: leave or turn off transmit checksum offload on the pod's
                         interface (a VM whose NIC is a port of a userspace datapath needs it off)
``annotation_timeout``   seconds ADD waits for the annotation (default 30)
``log_file``, ``log_level`` as the overlay plugin's
"""

from __future__ import absolute_import, division, print_function

import errno
import hashlib
import ipaddress
import logging
import os

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _errors, _names, _netlink, _underlay
from ovn_k8s_agents import annotation
from ovn_k8s_agents.cni import netns
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

MODE = 'underlay'
DEFAULT_VM_INTERFACE = 'eth0'


class Config(object):
    """The underlay mode's network configuration, checked; a bad value is INVALID_CONFIG."""

    def __init__(self, data):
        self.name = data.get('name') or '(unnamed)'
        self.kubeconfig = self._str(data, 'kubeconfig', None)
        self.vm_interface = self._str(data, 'vm_interface', DEFAULT_VM_INTERFACE)
        if len(self.vm_interface.encode('utf-8')) > 15 or '/' in self.vm_interface or not self.vm_interface.strip():
            raise self._bad('vm_interface', self.vm_interface, 'an interface name (1 to 15 bytes, no slash)')
        self.mtu = data.get('mtu')
        if self.mtu is not None and (isinstance(self.mtu, bool) or not isinstance(self.mtu, int)
                                     or not 576 <= self.mtu <= 65535):
            raise self._bad('mtu', self.mtu, 'an integer from 576 to 65535')
        self.tx_checksum_offload = data.get('tx_checksum_offload')
        if self.tx_checksum_offload not in (None, True, False):
            raise self._bad('tx_checksum_offload', self.tx_checksum_offload, 'true or false')
        timeout = data.get('annotation_timeout', 30)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 <= timeout <= 3600:
            raise self._bad('annotation_timeout', timeout, 'a number from 0 to 3600')
        self.annotation_timeout = timeout

    def _bad(self, key, value, expected):
        return CniError(INVALID_CONFIG, 'network %s: %s is %r; expected %s' % (self.name, key, value, expected))

    def _str(self, data, key, default):
        value = data.get(key, default)
        if value is not None and (not isinstance(value, str) or not value):
            raise self._bad(key, value, 'a non-empty string')
        return value


def temp_ifname(container_id, ifname):
    """The sub-interface's name while it is still in the VM's namespace (15 bytes)."""
    digest = hashlib.sha256(('%s/%s' % (container_id, ifname)).encode('utf-8')).hexdigest()
    return 'vlan' + digest[:11]


def _pod(request):
    namespace, name = request.pod
    if not (namespace and name):
        raise CniError(INVALID_ENVIRONMENT, 'CNI_ARGS must give K8S_POD_NAMESPACE and K8S_POD_NAME '
                       '(container %s)' % request.container_id)
    return namespace, name


def _kernel(what, fn):
    try:
        return fn()
    except _netlink.NetlinkError as exc:
        raise netns.KernelError('%s: the kernel refused: %s' % (what, _netlink.os_error(exc.code)))


def _vm_link(ipr, cfg):
    index = ipr.link_lookup(ifname=cfg.vm_interface)
    if not index:
        raise CniError(PLUGIN_ERROR, 'the VM has no network interface %s (vm_interface in network %s)'
                       % (cfg.vm_interface, cfg.name))
    return index[0], ipr.get_links(index[0])[0]


def vlan_of(msg):
    """The VLAN id of a link message of a VLAN device, else None."""
    info = msg.get_attr('IFLA_LINKINFO')
    if info is None or info.get_attr('IFLA_INFO_KIND') != 'vlan':
        return None
    data = info.get_attr('IFLA_INFO_DATA')
    return data.get_attr('IFLA_VLAN_ID') if data is not None else None


def _tagged_network(core, namespace, name, timeout, uid):
    """(PodNetwork, tag, UID) from the watcher's annotation: the address is waited for as the
    overlay plugin does, then the pod is read once more for the tag (one object for both)."""
    from ovn_k8s_agents.cni import kube
    who = '%s/%s' % (namespace, name)
    kube.wait_pod_network(core, namespace, name, timeout, uid=uid)
    try:
        pod = core.read_namespaced_pod(name, namespace, _request_timeout=(kube.CONNECT_TIMEOUT, kube.READ_TIMEOUT))
    except Exception as exc:  # API, urllib3 and SSL errors alike: the runtime tries again
        raise CniError(TRY_AGAIN_LATER, 'pod %s: reading it again failed: %s' % (who, str(exc)[:300]))
    found = pod.metadata.uid
    if uid and found != uid:
        raise CniError(PLUGIN_ERROR, 'pod %s in the API server has UID %s, not %s (K8S_POD_UID from the runtime): '
                       'it was deleted and created again; refusing to configure it' % (who, found, uid))
    annotations = pod.metadata.annotations or {}
    try:
        network = annotation.parse(annotations, who)
        tag = _underlay.annotation_tag(annotations, who)
    except (annotation.AnnotationError, _errors.InvalidInput) as exc:
        raise CniError(PLUGIN_ERROR, str(exc))
    if network is None:
        raise CniError(TRY_AGAIN_LATER, 'pod %s lost its network annotation while being set up' % who)
    if tag is None:
        raise CniError(PLUGIN_ERROR, 'pod %s: its network annotation has no %s: its node is not declared a VM in '
                       'the Northbound database (module ovn_vm_node), so the watcher gave it an overlay address; '
                       'this node\'s CNI configuration says underlay' % (who, _names.VLAN_ID_FIELD))
    return network, tag, found


# ADD -----------------------------------------------------------------------------------------
def cmd_add(request):
    from ovn_k8s_agents.cni import kube
    cfg = Config(request.config)
    namespace, name = _pod(request)
    who = '%s/%s' % (namespace, name)
    if not netns.exists(request.netns):
        raise CniError(PLUGIN_ERROR, 'pod %s: the network namespace %s does not exist' % (who, request.netns))
    core = kube.core_api(cfg.kubeconfig)
    network, tag, uid = _tagged_network(core, namespace, name, cfg.annotation_timeout,
                                        request.args.get('K8S_POD_UID') or None)
    temp = temp_ifname(request.container_id, request.ifname)
    with netns.ipr_in(request.netns) as pod:
        if pod.link_lookup(ifname=request.ifname):
            old = pod.get_links(pod.link_lookup(ifname=request.ifname)[0])[0]
            if vlan_of(old) is None:
                raise CniError(PLUGIN_ERROR, 'pod %s: the network namespace %s already has an interface %s that '
                               'is not this plugin\'s' % (who, request.netns, request.ifname))
            netns.delete_link(pod, request.ifname)  # an earlier ADD of this container: made again
    with netns.ipr_in() as ipr:
        parent, parent_msg = _vm_link(ipr, cfg)
        mtu = cfg.mtu or parent_msg.get_attr('IFLA_MTU')
        netns.delete_link(ipr, temp)  # left by a run that died half way
        try:
            ipr.link('add', ifname=temp, kind='vlan', link=parent, vlan_id=tag)
        except _netlink.NetlinkError as err:
            if err.code == errno.EOPNOTSUPP:
                raise CniError(PLUGIN_ERROR, 'pod %s: this kernel has no 802.1Q VLAN devices (module 8021q), which '
                               'the underlay mode needs inside the VM' % who)
            what = 'pod %s: creating the VLAN %d sub-interface of %s: the kernel refused: %s' % (
                who, tag, cfg.vm_interface, _netlink.os_error(err.code))
            users = [m.get_attr('IFLA_IFNAME') for m in ipr.get_links()
                     if vlan_of(m) == tag and m.get_attr('IFLA_LINK') == parent]
            if users or err.code == errno.EEXIST:
                # An earlier pod's interface on this tag is not removed yet (its DEL will come).
                raise CniError(TRY_AGAIN_LATER, '%s; %s already has VLAN %d (%s): an earlier pod\'s interface '
                               'was not removed yet' % (what, cfg.vm_interface, tag,
                                                        ', '.join(users) or 'in another namespace'))
            raise CniError(PLUGIN_ERROR, what)
        try:
            index = ipr.link_lookup(ifname=temp)[0]
            _kernel('setting the MTU of %s to %s' % (temp, mtu), lambda: ipr.link('set', index=index, mtu=mtu))
            fd = os.open(request.netns, os.O_RDONLY)
            try:
                _kernel('moving %s into %s' % (temp, request.netns), lambda: ipr.link('set', index=index, net_ns_fd=fd))
            finally:
                os.close(fd)
        except (netns.KernelError, CniError) as exc:
            netns.delete_link(ipr, temp)
            raise CniError(PLUGIN_ERROR, 'pod %s: %s' % (who, exc))
    try:
        with netns.ipr_in(request.netns) as pod:
            index = pod.link_lookup(ifname=temp)
            if not index:
                raise netns.KernelError('%s did not arrive in the network namespace' % temp)
            _kernel('renaming %s to %s with MAC %s' % (temp, request.ifname, network.mac),
                    lambda: pod.link('set', index=index[0], ifname=request.ifname, address=network.mac))
            if cfg.tx_checksum_offload is False:
                netns.set_tx_checksum(request.ifname, False)
            _kernel('setting %s up' % request.ifname, lambda: pod.link('set', index=index[0], state='up'))
        netns.configure_ip(request.netns, request.ifname, network.cidr, network.gateway)
    except (netns.KernelError, netns.NetnsGone) as exc:
        _undo(request, temp)
        raise CniError(PLUGIN_ERROR, 'pod %s: %s' % (who, exc))
    except BaseException:
        _undo(request, temp)
        raise
    log.info('ADD pod %s (uid %s) container %s: %s in %s, VLAN %d of %s, %s mac %s gateway %s mtu %s', who, uid,
             request.container_id, request.ifname, request.netns, tag, cfg.vm_interface, network.cidr, network.mac,
             network.gateway, mtu)
    default = '0.0.0.0/0' if network.interface.version == 4 else '::/0'
    return Result(
        interfaces=[{'name': request.ifname, 'mac': network.mac, 'sandbox': request.netns, 'mtu': mtu}],
        ips=[{'address': network.cidr, 'gateway': str(network.gateway), 'interface': 0}],
        routes=[{'dst': default, 'gw': str(network.gateway)}])


def _undo(request, temp):
    """Remove what a failed ADD made; errors here are logged, not raised."""
    for where, names in ((request.netns, (request.ifname, temp)), (None, (temp,))):
        try:
            with netns.ipr_in(where) as ipr:
                for link in names:
                    index = ipr.link_lookup(ifname=link)
                    if index and vlan_of(ipr.get_links(index[0])[0]) is not None:
                        netns.delete_link(ipr, link)
        except Exception:  # pylint: disable=broad-except
            log.exception('ADD of container %s failed, and removing its interface failed too', request.container_id)


# DEL -----------------------------------------------------------------------------------------
def cmd_del(request):
    """Remove the pod's VLAN sub-interface (and one a dead ADD left in the VM's namespace);
    whatever is already gone is fine, and no API server is needed."""
    Config(request.config)
    temp = temp_ifname(request.container_id, request.ifname)
    removed = []
    with netns.ipr_in() as ipr:
        if netns.delete_link(ipr, temp):
            removed.append(temp)
    if netns.exists(request.netns):
        try:
            with netns.ipr_in(request.netns) as pod:
                index = pod.link_lookup(ifname=request.ifname)
                if index and vlan_of(pod.get_links(index[0])[0]) is not None:
                    netns.delete_link(pod, request.ifname)
                    removed.append(request.ifname)
        except netns.NetnsGone:
            pass
    log.info('DEL container %s (%s): %s', request.container_id, request.ifname,
             'removed %s' % ', '.join(removed) if removed else 'already gone')
    return None


# CHECK ---------------------------------------------------------------------------------------
def cmd_check(request):
    """Compare the pod's interface with prevResult (MAC, MTU, up, addresses, routes, a VLAN
    device) and, with a kubeconfig, with the pod's annotation (address, MAC, tag)."""
    cfg = Config(request.config)
    prev, index = prev_result_of(request)
    mac = (prev.interfaces[index].get('mac') or '').lower()
    mtu = prev.interfaces[index].get('mtu')
    ips = [ip for ip in prev.ips if ip.get('interface') in (None, index)]
    namespace, name = request.pod
    who = 'pod %s/%s' % (namespace, name) if name else 'container %s' % request.container_id
    try:
        found = netns.read(request.netns, request.ifname)
        with netns.ipr_in(request.netns) as pod:
            link = pod.link_lookup(ifname=request.ifname)
            tag = vlan_of(pod.get_links(link[0])[0]) if link else None
    except netns.NetnsGone as exc:
        raise CniError(UNKNOWN_CONTAINER, 'CHECK of %s: %s' % (who, exc))
    if found is None:
        raise CniError(PLUGIN_ERROR, 'CHECK of %s: there is no interface %s in %s' % (who, request.ifname, request.netns))
    faults = []
    if tag is None:
        faults.append('%s is a %s device, not a VLAN sub-interface' % (request.ifname, found['kind'] or 'plain'))
    if found['mac'] != mac:
        faults.append('%s has MAC %s, not %s' % (request.ifname, found['mac'], mac))
    if mtu is not None and found['mtu'] != mtu:
        faults.append('%s has MTU %s, not %s' % (request.ifname, found['mtu'], mtu))
    if not found['up']:
        faults.append('%s is down' % request.ifname)
    for ip in ips:
        if str(ipaddress.ip_interface(ip['address'])) not in found['addresses']:
            have = ', '.join(found['addresses']) or 'none'
            faults.append('%s lacks the address %s (it has %s)' % (request.ifname, ip['address'], have))
    for route in prev.routes:
        dst = ipaddress.ip_network(route['dst'])
        want = dict(dst='default' if dst.prefixlen == 0 else str(dst), via=route.get('gw'))
        if not any(r['dst'] == want['dst'] and (want['via'] is None or r['via'] == want['via']) for r in found['routes']):
            faults.append('%s lacks the route to %s via %s' % (request.ifname, route['dst'], want['via']))
    if cfg.tx_checksum_offload is False and found['tx_checksum']:
        faults.append('%s has transmit checksum offload on (the configuration turns it off)' % request.ifname)
    if cfg.kubeconfig and name:
        from ovn_k8s_agents.cni import kube
        try:
            network, want_tag, dummy = _tagged_network(kube.core_api(cfg.kubeconfig), namespace, name, 0,
                                                       request.args.get('K8S_POD_UID') or None)
        except CniError as exc:
            faults.append(exc.msg)
        else:
            want = str(ipaddress.ip_interface(ips[0]['address'])) if ips else None
            if (network.mac, network.cidr) != (mac, want):
                faults.append('the pod\'s annotation gives %s with MAC %s' % (network.cidr, network.mac))
            if tag is not None and want_tag != tag:
                faults.append('%s is on VLAN %s, the pod\'s annotation says %s' % (request.ifname, tag, want_tag))
    if faults:
        raise CniError(PLUGIN_ERROR, 'CHECK of %s failed: %s' % (who, '; '.join(faults)))
    return None


# STATUS and GC -------------------------------------------------------------------------------
def cmd_status(request):
    cfg = Config(request.config)
    with netns.ipr_in() as ipr:
        try:
            dummy, msg = _vm_link(ipr, cfg)
        except CniError as exc:
            raise CniError(NOT_AVAILABLE, exc.msg)
        if msg.get_attr('IFLA_OPERSTATE') not in ('UP', 'UNKNOWN'):
            raise CniError(NOT_AVAILABLE, 'the VM\'s network interface %s is %s'
                           % (cfg.vm_interface, str(msg.get_attr('IFLA_OPERSTATE')).lower()))
    if cfg.kubeconfig:
        from kubernetes import client as kube_client
        from ovn_k8s_agents.cni import kube
        core = kube.core_api(cfg.kubeconfig)
        try:
            kube_client.VersionApi(core.api_client).get_code(_request_timeout=(5, 5))
        except Exception as exc:  # the client raises urllib3, SSL and API errors alike
            raise CniError(NOT_AVAILABLE, 'the API server of %s does not answer: %s' % (cfg.kubeconfig, str(exc)[:300]))
    return None


def cmd_gc(request):
    """Nothing to collect: a pod's interface lives in its network namespace and goes with it."""
    Config(request.config)
    return None


HANDLERS = {'ADD': cmd_add, 'DEL': cmd_del, 'CHECK': cmd_check, 'STATUS': cmd_status, 'GC': cmd_gc}
