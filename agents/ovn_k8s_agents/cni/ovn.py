# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What OVN holds for a pod, as the node sees it: the CNI plugin configures a pod only with the
address of the logical port OVN has for that pod, bound on this node.

Two witnesses, both read through the collection's OVSDB core (never a command-line tool):

- the local Open vSwitch database: ovn-controller sets ``external_ids:ovn-installed="true"`` on
  the pod's Interface once it has claimed the logical port named by ``iface-id`` for this
  chassis and installed its flows (and it refuses to claim a port whose
  ``options:iface-id-ver`` differs from the Interface's ``external_ids:iface-id-ver``);
- the Southbound database ovn-controller uses (``Open_vSwitch external_ids:ovn-remote``, with
  its SSL files): the port's ``Port_Binding`` row, read under a condition on its name, holds the
  port's addresses (``mac``: "MAC IP", what the Northbound port's ``addresses`` say), the chassis
  it is bound to, and the Northbound port's ``external_ids`` (ovn-northd 23.03 copies them all,
  so ``pod-uid``, which the watcher writes, is there).
"""

from __future__ import absolute_import, division, print_function

import ipaddress
import time

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _ovsdb

# The key of the Northbound port's external_ids (copied into the Port_Binding) where the
# watcher keeps the UID of the pod it made the port for (watcher/controller.py, POD_IDS).
POD_UID = _names.POD_UID_KEY
INSTALLED = _names.OVN_INSTALLED_KEY
# What the plugin reads of the Southbound database: one port and one chassis, by condition.
SB_TABLES = {'Port_Binding': ['logical_port', 'mac', 'chassis', 'external_ids'], 'Chassis': ['name']}
POLL = 0.02


class NotOurs(Exception):
    """OVN holds something else for this pod; ``definite`` when waiting will not change it."""

    def __init__(self, faults, definite):
        Exception.__init__(self, '; '.join(faults))
        self.faults = faults
        self.definite = definite


def node_identity(ovs):
    """(system-id, ovn-remote) of this node from the Open vSwitch database ``ovs``."""
    rows = ovs.rows('Open_vSwitch')
    ids = dict(rows[0].external_ids) if rows else {}
    return ids.get(_names.SYSTEM_ID_KEY), ids.get(_names.OVN_REMOTE_KEY)


def sb_client(remote, timeout, port, chassis, ssl_key=None, ssl_cert=None, ssl_ca_cert=None):
    """A reader of the Southbound database holding only ``port``'s Port_Binding and the Chassis
    ``chassis``. Any member of a cluster will do: nothing is written."""
    return _ovsdb.Client(_ovsdb.SB_DB, remote=remote, timeout=timeout, tables=SB_TABLES,
                         conditions={'Port_Binding': [['logical_port', '==', port]],
                                     'Chassis': [['name', '==', chassis]]},
                         ssl_key=ssl_key, ssl_cert=ssl_cert, ssl_ca_cert=ssl_ca_cert, leader_only=False)


def _addresses(entry):
    """(mac, set of IPs) of one "MAC IP..." entry of a port's addresses."""
    words = entry.split()
    if not words:
        return None, set()
    ips = set()
    for word in words[1:]:
        try:
            ips.add(ipaddress.ip_address(word))
        except ValueError:
            ips.add(word)
    return words[0].lower(), ips


def faults(ovs, sb, iface_name, port, mac, ip, uid, chassis):
    """What stops OVN's state from vouching for a pod with ``mac`` and ``ip`` on this node's
    ``chassis``: raises NotOurs (with every reason), returns None when all holds.

    ``iface_name`` is the pod's Interface in Open vSwitch (None: not checked), ``port`` its
    logical port, ``uid`` the pod's UID (None: not checked).
    """
    found, definite = [], False
    if iface_name is not None:
        iface = ovs.find_one('Interface', 'name', iface_name)
        if iface is None:
            found.append('the Open vSwitch interface %s is gone' % iface_name)
            definite = True
        elif iface.external_ids.get(INSTALLED) != 'true':
            found.append('ovn-controller has not installed the logical port %s on this node (no %s on '
                         'interface %s)' % (port, INSTALLED, iface_name))
    rows = [r for r in sb.rows('Port_Binding') if r.logical_port == port]
    if not rows:
        found.append('OVN has no logical port %s' % port)
        raise NotOurs(found, definite)
    binding = rows[0]
    held = list(binding.mac)
    made_for = binding.external_ids.get(POD_UID)
    ours = uid is None or made_for == uid
    if uid is not None and not ours:
        found.append('the logical port %s was made for the pod with UID %s, not %s' % (port, made_for or '(none)', uid))
    if [_addresses(h) for h in held] != [(mac.lower(), set([ipaddress.ip_address(ip)]))]:
        have = ', '.join('"%s"' % h for h in held) or 'no address'
        found.append('the logical port %s holds %s, not "%s %s"' % (port, have, mac, ip))
        # The port made for this very pod holds another address: the annotation is not the one
        # the watcher wrote with it. Waiting will not change that.
        definite = definite or (uid is not None and ours)
    if chassis not in [c.name for c in binding.chassis]:
        found.append('the logical port %s is not bound to this node (chassis %s)' % (port, chassis))
    if found:
        raise NotOurs(found, definite)
    return None


def wait(ovs, sb, iface_name, port, mac, ip, uid, chassis, deadline):
    """Wait until :func:`faults` finds none (returns the seconds waited) or ``deadline``
    (time.monotonic()) passes, or a definite fault is seen: then raises NotOurs."""
    start = time.monotonic()
    while True:
        try:
            faults(ovs, sb, iface_name, port, mac, ip, uid, chassis)
            return time.monotonic() - start
        except NotOurs as exc:
            if exc.definite or time.monotonic() >= deadline:
                raise
        except RuntimeError:   # a row set changed under a read by the IDL's thread: read again
            pass
        time.sleep(POLL)
