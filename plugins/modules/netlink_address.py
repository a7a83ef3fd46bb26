#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: netlink_address
short_description: Manage IP addresses and routes of a network device through netlink
version_added: 0.1.0
description:
  - Add or remove IP addresses and main-table routes of one network device, and set it up, through
    netlink (pyroute2), as C(ip addr)/C(ip route replace)/C(ip link set up) would. Nothing is
    parsed from command output.
  - The usual use is the node's management port, such as V(k8s-node1), with its address and the
    route to the cluster subnet through the node's router port.
  - The changes are kernel state. They do not survive a reboot unless the distribution's network
    configuration says the same, or the play runs again.
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  device:
    description: The network device, such as V(k8s-node1). A device that does not exist fails the task.
    type: str
    required: true
  addresses:
    description:
      - Addresses with their prefix length, such as V(10.128.1.2/24) or V(fd00:10:128:1::2/64).
      - With O(state=absent), the addresses to remove.
    type: list
    elements: str
    default: []
  purge:
    description:
      - With O(state=present), remove the device's other addresses (link-local and host-scope
        addresses are never touched).
    type: bool
    default: false
  routes:
    description:
      - Routes of the main table. A route is told apart by its destination and metric, as the
        kernel does, so a route with the same O(routes[].dst) and O(routes[].metric) through
        another gateway or device is replaced.
      - With O(state=absent), the routes to remove; without O(routes[].via), any gateway matches.
    type: list
    elements: dict
    default: []
    suboptions:
      dst:
        description: The destination network such as V(10.128.0.0/14), or V(default).
        type: str
        required: true
      via:
        description: The gateway. Omitted, the route is on-link. Required for V(default).
        type: str
      dev:
        description: The device of the route. Defaults to O(device).
        type: str
      metric:
        description: The route's metric. Defaults to the kernel's (V(0) for IPv4, V(1024) for IPv6).
        type: int
  state:
    description: Whether the given addresses and routes should be there.
    type: str
    choices: [present, absent]
    default: present
  up:
    description: With O(state=present), set the device administratively up.
    type: bool
    default: true
requirements:
  - pyroute2 (Debian package C(python3-pyroute2))
notes:
  - When the Python that runs the module lacks C(pyroute2), the module re-runs itself under the
    system Python (C(/usr/bin/python3)) if that one has it.
  - The module changes the network namespace it runs in.
extends_documentation_fragment:
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: The management port's address and the route to the cluster subnet
  ovn_k8s.overlay.netlink_address:
    device: k8s-node1
    addresses: [10.128.1.2/24]
    routes:
      - dst: 10.128.0.0/14
        via: 10.128.1.1

- name: Only these addresses on the device
  ovn_k8s.overlay.netlink_address:
    device: k8s-node1
    addresses: [10.128.1.2/24]
    purge: true

- name: Remove the route
  ovn_k8s.overlay.netlink_address:
    device: k8s-node1
    routes:
      - dst: 10.128.0.0/14
    state: absent
'''

RETURN = r'''
addresses:
  description: The device's addresses after the run (as predicted in check mode), link-local ones left out.
  returned: success
  type: list
  elements: str
  sample: [10.128.1.2/24]
diff:
  description: The device's addresses, managed routes and up state before and after, keyed by C(Link <device>).
  returned: changed and diff mode
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import ensure_library
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _netlink
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import OvnK8sError


def main():
    module = AnsibleModule(argument_spec=dict(
        device=dict(type='str', required=True),
        addresses=dict(type='list', elements='str', default=[]),
        purge=dict(type='bool', default=False),
        routes=dict(type='list', elements='dict', default=[], options=dict(
            dst=dict(type='str', required=True),
            via=dict(type='str'),
            dev=dict(type='str'),
            metric=dict(type='int'),
        )),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        up=dict(type='bool', default=True),
    ), supports_check_mode=True)
    ensure_library(module, 'pyroute2', _netlink.PYROUTE2_IMPORT_ERROR, 'pyroute2')
    p = module.params
    try:
        with _netlink.open_ipr() as ipr:
            link = _netlink.read_device(ipr, p['device'])
            plan = _netlink.Plan()
            _netlink.plan_device(plan, link, addresses=p['addresses'], purge=p['purge'],
                                 routes=p['routes'], state=p['state'], up=p['up'])
            if not module.check_mode:
                plan.apply(ipr)
    except OvnK8sError as exc:
        module.fail_json(msg=str(exc))
    label = 'Link %s' % p['device']
    addresses = plan.after.get(label, {}).get('addresses', sorted(link.global_addresses))
    result = dict(changed=plan.changed, addresses=addresses)
    if module._diff:
        result['diff'] = dict(before=plan.before, after=plan.after)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
