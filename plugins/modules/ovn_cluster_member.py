#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_cluster_member
short_description: Take a member out of a clustered OVN database, or wait until it is one
version_added: 0.1.0
description:
  - Works on the clustered (RAFT) OVN Northbound or Southbound database served on this host,
    through the database server's control socket (C(ovs-appctl cluster/status) and
    C(cluster/leave)), since RAFT membership is the server's own state, not a table.
  - O(state=absent) makes this host's server leave the cluster and waits until the other members
    no longer count it (a leave is committed by a majority of the members). The server keeps
    running without the database; stop it and move its database file away afterwards (the
    C(ovn_central) role does both for a host given C(ovn_central_cluster_leave)).
  - O(state=present) changes nothing. It waits until this host's server is a cluster member (it
    may still be joining) and fails when it is not one within O(timeout).
  - Refuses to take out the only member of a cluster, and fails with the server named when its
    control socket is missing (a stopped member cannot leave; remove it from a running member
    with C(cluster/kick)).
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  database:
    description: The database.
    type: str
    required: true
    choices: [nb, sb]
  state:
    description: V(absent) to leave the cluster, V(present) to wait for membership.
    type: str
    default: present
    choices: [present, absent]
  ctl:
    description:
      - The database server's control socket. Defaults to the one C(ovn-ctl) makes,
        V(/var/run/ovn/ovnnb_db.ctl) or V(/var/run/ovn/ovnsb_db.ctl).
    type: path
  timeout:
    description: Seconds to wait for the leave to be committed, or for membership.
    type: int
    default: 60
extends_documentation_fragment:
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
requirements:
  - C(ovs-appctl) (package openvswitch-common)
'''

EXAMPLES = r'''
- name: This host's Northbound server leaves its cluster
  ovn_k8s.overlay.ovn_cluster_member:
    database: nb
    state: absent

- name: Wait until the Southbound server has joined
  ovn_k8s.overlay.ovn_cluster_member:
    database: sb
    timeout: 120
'''

RETURN = r'''
cluster:
  description:
    - The server's view before the task (its view after a leave has no cluster); none when it
      was not a member.
  returned: always
  type: dict
  sample:
    server_id: 72f7
    cluster_id: d97a
    address: ssl:192.0.2.12:6643
    status: cluster member
    role: follower
    leader: 74f4
    term: "3"
    servers: [{id: 74f4, address: "ssl:192.0.2.10:6643", self: false}]
diff:
  description: Keyed by C(OVN_Northbound cluster member) or C(OVN_Southbound cluster member).
  returned: changed and diff mode
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _raft


def main():
    module = AnsibleModule(argument_spec=dict(
        database=dict(type='str', required=True, choices=['nb', 'sb']),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        ctl=dict(type='path'),
        timeout=dict(type='int', default=60),
    ), supports_check_mode=True)
    p = module.params
    db = _raft.DATABASES[p['database']]
    ctl = p['ctl'] or db['ctl']

    def run(argv):
        return module.run_command(argv)

    try:
        if p['state'] == 'present':
            # Reads only; in check mode it does not wait.
            now = _raft.wait_member(run, ctl, db['name'], 0 if module.check_mode else p['timeout'])
            module.exit_json(changed=False, cluster=now)
        before = _raft.status(run, ctl, db['name'])
        if before is None:
            module.exit_json(changed=False, cluster=None)
        label = '%s cluster member' % db['name']
        diff = dict(before={label: before['server_id']}, after={})
        _raft.check_can_leave(before, db['name'])
        if not module.check_mode:
            _raft.leave(run, ctl, db['name'], before, p['timeout'])
        module.exit_json(changed=True, cluster=before, diff=diff)
    except _raft.RaftError as e:
        module.fail_json(msg=str(e))


if __name__ == '__main__':
    main()
