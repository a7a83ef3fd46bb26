# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel half of the CNI plugin: the veth pair, the pod's interface inside its network
namespace, and its transmit checksum offload.

Works with pyroute2 0.7 (Debian 12) and 0.9. The calling thread enters the pod's namespace with
setns(2) only around the netlink socket it opens there (:func:`entered`), so the same code runs
with either pyroute2 and no helper process. Transmit checksum offload is switched with the
SIOCETHTOOL ioctl, as ``ethtool -K IFACE tx off`` does.
"""

from __future__ import absolute_import, division, print_function

import array
import contextlib
import ctypes
import errno
import fcntl
import hashlib
import ipaddress
import os
import socket
import struct

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _netlink

CLONE_NEWNET = 0x40000000
SIOCETHTOOL = 0x8946
ETHTOOL_GTXCSUM = 0x16
ETHTOOL_STXCSUM = 0x17
IFA_F_NODAD = 0x02

_LIBC = ctypes.CDLL(None, use_errno=True)


class NetnsGone(Exception):
    """The network namespace path does not exist (or is not a network namespace)."""


class KernelError(Exception):
    """The kernel refused a change; the text says which."""


def host_ifname(container_id, ifname):
    """The host end of a container's veth: 15 bytes derived from the container ID and ifname.

    A hash, not a prefix of the ID: runtimes and cnitool give IDs with long common prefixes.
    """
    digest = hashlib.sha256(('%s/%s' % (container_id, ifname)).encode('utf-8')).hexdigest()
    return 'veth' + digest[:11]


def _temp_ifname(host):
    # The container end's name while it is still in the host namespace.
    return 'tmp' + host[4:]


def _setns(fd, what):
    if _LIBC.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsGone('cannot enter the network namespace %s: %s' % (what, os.strerror(err).lower()))


@contextlib.contextmanager
def entered(path):
    """Run the block with this thread in the network namespace at ``path``."""
    try:
        target = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise NetnsGone('the network namespace %s does not exist (%s)' % (path, exc.strerror.lower()))
    home = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
    try:
        _setns(target, path)
        try:
            yield
        finally:
            _setns(home, 'of the plugin (going back)')
    finally:
        os.close(target)
        os.close(home)


def exists(path):
    return bool(path) and os.path.exists(path)


@contextlib.contextmanager
def ipr_in(path=None):
    """An IPRoute of the namespace at ``path`` (the current one when None), closed after."""
    if path is None:
        ipr = _netlink.open_ipr()
        try:
            yield ipr
        finally:
            ipr.close()
        return
    with entered(path):
        ipr = _netlink.open_ipr()
        try:
            yield ipr
        finally:
            ipr.close()


def _lookup(ipr, name):
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def _kernel(what, fn):
    try:
        return fn()
    except _netlink.NetlinkError as exc:
        raise KernelError('%s: the kernel refused: %s' % (what, _netlink.os_error(exc.code)))


# Transmit checksum offload ---------------------------------------------------------------
def _ethtool_value(ifname, cmd, data=0):
    buf = array.array('I', [cmd, data])
    ifreq = struct.pack('16sP', ifname.encode('utf-8'), buf.buffer_info()[0])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    except OSError as exc:
        raise KernelError('ethtool on %s: %s' % (ifname, os.strerror(exc.errno).lower()))
    finally:
        sock.close()
    return buf[1]


def tx_checksum(ifname):
    """Whether transmit checksum offload is on for ``ifname`` (current namespace)."""
    return bool(_ethtool_value(ifname, ETHTOOL_GTXCSUM))


def set_tx_checksum(ifname, on):
    _ethtool_value(ifname, ETHTOOL_STXCSUM, 1 if on else 0)


# Creating and removing -------------------------------------------------------------------
def delete_link(ipr, name):
    """Delete device ``name`` if it exists (a veth takes its peer with it); True if it did."""
    index = _lookup(ipr, name)
    if index is None:
        return False
    try:
        ipr.link('del', index=index)
    except _netlink.NetlinkError as exc:
        if exc.code != errno.ENODEV:
            raise KernelError('removing %s: the kernel refused: %s' % (name, _netlink.os_error(exc.code)))
    return True


def link_kind(ipr, name):
    index = _lookup(ipr, name)
    if index is None:
        return None
    msg = ipr.get_links(index)[0]
    info = msg.get_attr('IFLA_LINKINFO')
    return info.get_attr('IFLA_INFO_KIND') if info is not None else None


def plug(netns, host, ifname, mac, mtu, tx_offload_off):
    """Create the veth pair: ``host`` stays here, its peer becomes ``ifname`` in ``netns`` with
    ``mac`` and ``mtu``, and no address yet (:func:`configure_ip` adds it once OVN has the pod's
    port). Both ends are up.

    Returns the host end's MAC. On failure the pair is removed again (and with it anything set
    inside the namespace) before the error goes up.
    """
    temp = _temp_ifname(host)
    with ipr_in(netns) as pod:
        if _lookup(pod, ifname) is not None:
            raise KernelError('the network namespace %s already has an interface %s' % (netns, ifname))
    with ipr_in() as ipr:
        delete_link(ipr, temp)          # left by a run that died half way
        _kernel('creating the veth pair %s/%s' % (host, temp),
                lambda: ipr.link('add', ifname=host, kind='veth', peer=temp))
        try:
            index = _lookup(ipr, temp)
            _kernel('setting the MTU of %s' % host, lambda: ipr.link('set', index=_lookup(ipr, host), mtu=mtu))
            fd = os.open(netns, os.O_RDONLY)
            try:
                _kernel('moving %s into %s' % (temp, netns), lambda: ipr.link('set', index=index, net_ns_fd=fd))
            finally:
                os.close(fd)
            with ipr_in(netns) as pod:
                _configure_pod_link(pod, temp, ifname, mac, mtu, tx_offload_off)
            _kernel('setting %s up' % host, lambda: ipr.link('set', index=_lookup(ipr, host), state='up'))
            return ipr.get_links(_lookup(ipr, host))[0].get_attr('IFLA_ADDRESS')
        except BaseException:
            delete_link(ipr, host)
            raise


def _configure_pod_link(ipr, temp, ifname, mac, mtu, tx_offload_off):
    index = _lookup(ipr, temp)
    if index is None:
        raise KernelError('%s did not arrive in the network namespace' % temp)
    _kernel('renaming %s to %s with MAC %s and MTU %s' % (temp, ifname, mac, mtu),
            lambda: ipr.link('set', index=index, ifname=ifname, address=mac, mtu=mtu))
    if tx_offload_off:
        set_tx_checksum(ifname, False)
    _kernel('setting %s up' % ifname, lambda: ipr.link('set', index=index, state='up'))


def configure_ip(netns, ifname, cidr, gateway):
    """Give ``ifname`` in ``netns`` the address ``cidr`` and a default route via ``gateway``."""
    with ipr_in(netns) as ipr:
        index = _lookup(ipr, ifname)
        if index is None:
            raise KernelError('the network namespace %s has no interface %s any more' % (netns, ifname))
        iface = ipaddress.ip_interface(cidr)
        kw = dict(index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen)
        if iface.version == 4:
            kw['broadcast'] = str(iface.network.broadcast_address)
        else:
            kw['IFA_FLAGS'] = IFA_F_NODAD   # the address is the watcher's, unique by construction
        _kernel('adding %s to %s' % (cidr, ifname), lambda: ipr.addr('add', **kw))
        family = socket.AF_INET if iface.version == 4 else socket.AF_INET6
        _kernel('adding the default route via %s' % gateway,
                lambda: ipr.route('add', family=family, dst='0.0.0.0' if family == socket.AF_INET else '::',
                                  dst_len=0, gateway=str(gateway), oif=index))


# Reading --------------------------------------------------------------------------------
def read(netns, ifname):
    """What ``ifname`` in ``netns`` has: mac, mtu, up, addresses, routes, tx_checksum;
    None when it does not exist."""
    with ipr_in(netns) as ipr:
        link = _netlink.read_link(ipr, ifname)
        if link is None:
            return None
        msg = ipr.get_links(link.index)[0]
        return dict(mac=link.mac, mtu=msg.get_attr('IFLA_MTU'), up=link.up, kind=link.kind,
                    addresses=link.global_addresses,
                    routes=[dict(dst=r['dst'], via=r['via']) for r in link.routes],
                    tx_checksum=tx_checksum(ifname))


def read_host(ifname):
    """The host end: mac, up, kind; None when it does not exist."""
    with ipr_in() as ipr:
        link = _netlink.read_link(ipr, ifname)
        if link is None:
            return None
        return dict(mac=link.mac, up=link.up, kind=link.kind)
