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
    The addresses and routes on the bridge are kernel state and are gone after a reboot, and the
    distribution's network configuration (ifupdown, systemd-networkd, or the container runtime)
    puts them on the NIC again. With O(persist=true) the module saves a description of the move
    (NIC, bridge, datapath, the host's MAC, the NIC's MTU, the bridge's addresses and routes after
    the run) as a root-only file in O(persist_dir), and the unit C(ovn-k8s-nic-bridge.service)
    (installed by the C(ovn_gateway) role) redoes the move from it at boot with this same code,
    after Open vSwitch and the distribution's network configuration and before
    C(network-online.target); addresses and routes the configuration did not put back are restored
    from the description.
  - O(persist=true) refuses, changing nothing, a NIC whose configuration the boot-time move would
    fight. An address with a lifetime on the NIC or the bridge (a DHCP lease, IPv6
    autoconfiguration), a NIC that NetworkManager manages, or an C(iface NIC inet dhcp) (or
    C(inet6 dhcp)/C(auto)) stanza in ifupdown's configuration. A NIC enslaved to a bond or a Linux
    bridge is refused whatever O(persist) says.
  - O(state=absent) undoes the move. The NIC gets the host's MAC back (userspace datapath) and the
    defaults of its layer-2-only settings, then the bridge's addresses and routes. Only then does
    it leave the bridge. The bridge is removed if this module created it (external_ids
    C(ovn-k8s-created-by=nic_to_bridge)) and no other port is left on it, and the description
    file is removed. A NIC that is no port of O(bridge) changes nothing in the kernel.
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
  state:
    description: V(present) moves the NIC into the bridge, V(absent) undoes the move.
    type: str
    choices: [present, absent]
    default: present
  persist:
    description:
      - V(true) makes the move survive a reboot (see the description), V(false) removes that, and
        when not given the description file is left as it is (so a task that only moves a NIC
        never undoes what another task persisted).
      - Needs O(state=present). O(state=absent) always removes the description.
    type: bool
  persist_dir:
    description: The root-only directory of the moves' descriptions (one C(<nic>.json) each).
    type: path
    default: /etc/ovn-k8s/nic-bridge
requirements:
  - pyroute2 (Debian package C(python3-pyroute2))
notes:
  - ovs-vswitchd must be running. The module waits up to O(timeout) seconds for it to create the
    bridge's network device.
  - The module works in the network namespace it runs in, which must also be the namespace of
    ovs-vswitchd.
  - Routes of tables other than the main table, and multipath routes, are not moved.
  - With the V(netdev) datapath, a veth NIC also gets its transmit checksum offload turned off
    (again after every boot, since a container's restart makes a new veth).
  - O(state=absent) leaves the NIC's transmit checksum offload and MTU as they are.
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

- name: Share eth0 and keep it shared after a reboot, without Ansible
  ovn_k8s.overlay.nic_to_bridge:
    nic: eth0
    persist: true

- name: Give eth0 its addresses back and remove breth0 (if this module made it)
  ovn_k8s.overlay.nic_to_bridge:
    nic: eth0
    state: absent
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
  description:
    - The addresses on the bridge after the run (as predicted in check mode).
    - With O(state=absent), the addresses on the NIC after the run.
  returned: success
  type: list
  elements: str
  sample: [192.0.2.21/24]
persisted:
  description: The description file the boot-time unit reads, when O(persist=true); else null.
  returned: success
  type: str
  sample: /etc/ovn-k8s/nic-bridge/eth0.json
bridge_removed:
  description: Whether the bridge was (or, in check mode, would be) removed.
  returned: O(state=absent)
  type: bool
bridge_kept:
  description: Why the bridge stays with O(state=absent) (null when it is removed or absent).
  returned: O(state=absent)
  type: str
  sample: ports patch-lnet-node2-to-br-int are still on it
diff:
  description:
    - C(Bridge <bridge>) and C(Port <nic>) in the Open vSwitch database, C(Link <bridge>) and
      C(Link <nic>) with their addresses, moved routes and up state, and C(File <path>) (the
      description's mode and content), before and after.
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import OvsdbModule, ensure_library
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _netlink, _nic_bridge
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._txn import ChangeSet
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import InvalidInput, OvnK8sError
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import OVS_DB


def main():
    module = OvsdbModule(OVS_DB, dict(
        nic=dict(type='str', required=True),
        bridge=dict(type='str'),
        datapath_type=dict(type='str', choices=['system', 'netdev']),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        persist=dict(type='bool'),
        persist_dir=dict(type='path', default=_nic_bridge.PERSIST_DIR),
    ))
    ensure_library(module, 'pyroute2', _netlink.PYROUTE2_IMPORT_ERROR, 'pyroute2')
    p = module.params
    bridge = p['bridge'] or 'br' + p['nic']
    try:
        # Not module.run(): the kernel part must follow the commit, within the same connection.
        with module.client(_nic_bridge.NIC_TO_BRIDGE_TABLES) as client:
            if p['state'] == 'absent':
                if p['persist']:
                    raise InvalidInput('NIC %s: persist=true needs state=present' % p['nic'])
                result = _nic_bridge.nic_from_bridge(client, ChangeSet(client), p['nic'], bridge,
                                                     module.check_mode, p['persist_dir'])
            else:
                result = _nic_bridge.nic_to_bridge(client, ChangeSet(client), p['nic'], bridge,
                                                   p['datapath_type'], module.check_mode, p['timeout'],
                                                   persist=p['persist'], persist_dir=p['persist_dir'])
    except OvnK8sError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop('diff')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
