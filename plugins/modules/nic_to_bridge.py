#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: nic_to_bridge
short_description: Put a host's NIC into an Open vSwitch bridge and move its addresses onto the bridge
version_added: 0.1.0
description:
  - What C(ovn-k8s-util nics-to-bridge) does, so that one NIC serves both the host and OVN's
    north-south traffic (the gateway's shared interface) and, with the userspace datapath, the
    tunnel endpoint.
  - Creates the bridge O(bridge) with the NIC's MAC address pinned as C(other_config:hwaddr),
    adds the NIC as a port, waits for ovs-vswitchd to create the bridge's network device with
    that MAC, sets it up, and moves the NIC's IPv4 and IPv6 addresses (link-local ones excepted)
    and its main-table routes (the default route included) onto it.
  - The order keeps the host reachable. The bridge gets the addresses while the NIC still has them;
    each route is then replaced onto the bridge in one atomic change (same destination and
    metric); only then do the addresses and the routes leave the NIC.
  - A second run changes nothing. It recognises the moved state (the NIC is a port of the bridge, its
    addresses are on the bridge), and it finishes a move that was cut short, or that
    was undone by the network configuration at boot (the NIC has its addresses again).
  - A NIC that does not exist, that is a port of another Open vSwitch bridge, or that belongs to a
    Linux bridge or bond fails the task before anything changes.
  - B(What survives a reboot.) The bridge and its port are Open vSwitch database state and stay.
    The addresses and routes on the bridge are kernel state and are gone after a reboot. The
    distribution's network configuration (ifupdown, NetworkManager, systemd-networkd, netplan)
    then puts them on the NIC again, unless it is changed to configure the bridge instead.
    Either persist that change in the network configuration, or run this module again after every
    boot (it moves them again). A DHCP client must be pointed at the bridge too; addresses move
    without their DHCP lifetimes, as permanent ones.
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  nic:
    description: The NIC, such as V(eth0).
    type: str
    required: true
  bridge:
    description: The bridge. Defaults to V(br) followed by the NIC's name, such as V(breth0).
    type: str
  datapath_type:
    description:
      - The bridge's datapath. V(system) is the kernel datapath. V(netdev) is the userspace datapath,
        for hosts without the Open vSwitch kernel module.
      - When not given, a new bridge is made V(system) and an existing bridge keeps the datapath
        it has (a task that only moves a NIC never converts a bridge).
      - With V(netdev) on a virtual NIC (veth), turn off its transmit checksum offload
        (C(ethtool -K NIC tx off)), or TCP through the bridge fails silently.
      - With V(netdev) the NIC also becomes a pure layer-2 port. Open vSwitch reads it through a
        packet socket and the kernel still receives every frame that arrives on it, so the NIC gets
        a MAC of its own (stable, locally administered, derived from the host's MAC, which stays on
        the bridge), never answers ARP (C(arp_ignore=8)) and has IPv6 turned off. Otherwise the
        host takes in its own frames twice and can answer ARP on the NIC with the wrong MAC.
    type: str
    choices: [system, netdev]
requirements:
  - pyroute2 (Debian package C(python3-pyroute2))
notes:
  - ovs-vswitchd must be running. The module waits up to O(timeout) seconds for it to create the
    bridge's network device.
  - The module works in the network namespace it runs in, which must also be the namespace of
    ovs-vswitchd.
  - Routes of tables other than the main table, and multipath routes, are not moved.
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: Share eth0 with OVN through breth0 (kernel datapath)
  ovn_k8s.overlay.nic_to_bridge:
    nic: eth0

- name: The same in a lab without the Open vSwitch kernel module
  ovn_k8s.overlay.nic_to_bridge:
    nic: eth0
    bridge: breth0
    datapath_type: netdev
'''

RETURN = r'''
bridge:
  description: The bridge's name.
  returned: success
  type: str
  sample: breth0
nic:
  description: The NIC's name.
  returned: success
  type: str
  sample: eth0
mac:
  description:
    - The host's MAC address, which the bridge carries (the NIC's own MAC before the move).
    - With the V(netdev) datapath the NIC itself then has another MAC, shown in the diff.
  returned: success
  type: str
  sample: 52:54:00:12:34:56
datapath_type:
  description: The bridge's datapath type after the run.
  returned: success
  type: str
  sample: netdev
addresses:
  description: The addresses on the bridge after the run (as predicted in check mode).
  returned: success
  type: list
  elements: str
  sample: [192.0.2.21/24]
diff:
  description:
    - C(Bridge <bridge>) and C(Port <nic>) in the Open vSwitch database, and C(Link <bridge>) and
      C(Link <nic>) with their addresses, moved routes and up state, before and after.
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import OvsdbModule, ensure_library
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _netlink, _nic_bridge
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._txn import ChangeSet
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import OvnK8sError
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import OVS_DB


def main():
    module = OvsdbModule(OVS_DB, dict(
        nic=dict(type='str', required=True),
        bridge=dict(type='str'),
        datapath_type=dict(type='str', choices=['system', 'netdev']),
    ))
    ensure_library(module, 'pyroute2', _netlink.PYROUTE2_IMPORT_ERROR, 'pyroute2')
    p = module.params
    bridge = p['bridge'] or 'br' + p['nic']
    try:
        # Not module.run(): the kernel part must follow the commit, within the same connection.
        with module.client(_nic_bridge.NIC_TO_BRIDGE_TABLES) as client:
            result = _nic_bridge.nic_to_bridge(client, ChangeSet(client), p['nic'], bridge,
                                               p['datapath_type'], module.check_mode, p['timeout'])
    except OvnK8sError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop('diff')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
