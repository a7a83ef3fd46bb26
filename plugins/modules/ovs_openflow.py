#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovs_openflow
short_description: Converge the OpenFlow flows of one owner on an Open vSwitch bridge
version_added: 0.1.0
description:
  - Makes the flows of an Open vSwitch bridge that carry O(cookie) exactly O(flows), through
    C(ovs-ofctl). Flows of other cookies (such as the bridge's default C(NORMAL) flow, cookie 0)
    are never touched. The OVSDB client cannot do this, flows live in ovs-vswitchd only.
  - Reads the bridge's flows with C(ovs-ofctl dump-flows) and compares them with O(flows) in
    ovs-ofctl's own spelling (both sides are put through ovs-ofctl's parser, so the order of
    match fields, or V(output:LOCAL) against V(LOCAL), makes no difference). A flow is told apart
    by its table, priority and match. Only the flows that differ are added, replaced or deleted,
    all in one OpenFlow bundle (C(ovs-ofctl --bundle add-flows)), so a failure changes nothing.
  - Flows are ovs-vswitchd state. They are gone when ovs-vswitchd restarts; a run puts them back.
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  bridge:
    description: The bridge, such as V(breth0). A bridge that does not exist fails the task.
    type: str
    required: true
  cookie:
    description:
      - The owner of the flows, an OpenFlow cookie such as V(0x6b38) or V(27448). Every flow the
        module writes carries it; flows with this cookie that are not in O(flows) are deleted.
      - Not V(0), the cookie of every flow without an owner.
    type: str
    required: true
  flows:
    description:
      - The flows, one per item, in C(ovs-ofctl add-flow) syntax, such as
        V(table=0,priority=100,in_port=patch-breth0,ip,actions=ct(commit,zone=64000\),output:eth0).
      - Ports may be named in C(in_port=) and C(output:); the module looks their numbers up on
        the bridge. Elsewhere give port numbers, and for ports whose names are longer than the 15
        characters OpenFlow carries (such as ovn-controller's patch ports), read the number with
        C(ovs-vsctl get Interface NAME ofport).
      - A flow may not set C(cookie), C(idle_timeout) or C(hard_timeout), nor start with a command
        such as C(delete); it must have C(actions=) (write V(actions=drop) to drop).
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) makes the flows of O(cookie) exactly O(flows).
      - V(absent) deletes every flow of O(cookie) (O(flows) is then ignored).
    type: str
    choices: [present, absent]
    default: present
  rundir:
    description:
      - The directory where ovs-vswitchd keeps its per-bridge sockets (C(BRIDGE.mgmt)), as
        C(OVS_RUNDIR). Defaults to Open vSwitch's own, C(/var/run/openvswitch).
    type: path
requirements:
  - C(ovs-ofctl) (Debian package C(openvswitch-common)), and ovs-vswitchd running.
extends_documentation_fragment:
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: Demultiplex breth0 between the host and OVN's patch port
  ovn_k8s.overlay.ovs_openflow:
    bridge: breth0
    cookie: "0x6b38"
    flows:
      - priority=100,in_port=patch-breth0_node2-to-br-int,ip,actions=ct(commit,zone=64000),output:eth0
      - priority=50,in_port=eth0,ip,actions=ct(zone=64000,table=1)
      - table=1,priority=100,ct_state=+trk+est,ip,actions=output:patch-breth0_node2-to-br-int
      - table=1,priority=0,actions=NORMAL

- name: Remove them
  ovn_k8s.overlay.ovs_openflow:
    bridge: breth0
    cookie: "0x6b38"
    state: absent
'''

RETURN = r'''
flows:
  description: The flows of O(cookie) after the run, as ovs-ofctl spells them (as predicted in check mode).
  returned: success
  type: list
  elements: str
  sample: ["priority=50,ip,in_port=1 cookie=0x6b38 actions=ct(table=1,zone=64000)"]
commands:
  description: The C(ovs-ofctl add-flows) lines the run sent (or would send in check mode).
  returned: success
  type: list
  elements: str
diff:
  description: C(Flows <bridge> cookie <cookie>), the sorted flows of the cookie before and after.
  returned: changed and diff mode
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _openflow


def main():
    module = AnsibleModule(argument_spec=dict(
        bridge=dict(type='str', required=True),
        cookie=dict(type='str', required=True),
        flows=dict(type='list', elements='str', default=[]),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        rundir=dict(type='path'),
    ), supports_check_mode=True)
    p = module.params
    binary = module.get_bin_path('ovs-ofctl', required=True)
    try:
        result = _openflow.converge_flows(_openflow.Ofctl(p['bridge'], p['rundir'], binary), p['cookie'],
                                          p['flows'], p['state'], module.check_mode)
    except _openflow.OvnK8sError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop('diff')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
