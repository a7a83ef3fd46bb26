# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's node sweeps ask the one owner rule (``_owners``; docs/design.md, "One owner
per row"): a node network the watcher made goes with its Node; one a role made stays (it is
the roles' to remove), and only its pods' ports, which are the watcher's, go.

Real ovsdb-server, the controller in process (see test_restart_plan.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names, _nb, _txn
from test_restart_plan import NS, controller, fill, node, pod


def switches(nb):
    return dict((r['name'], r['external_ids']) for r in nb.rows('Logical_Switch', 'name', 'external_ids'))


def test_a_node_network_a_role_made_survives_its_node(nb):
    c = controller(nb)
    # The roles make n-role's network (ovn_node_network: no stamp of the watcher's).
    cs = _txn.ChangeSet(c.nb)
    _nb.ensure_node_network(cs, c.nb, 'n-role', '10.128.5.0/24', cluster_router='ovn_cluster_router')
    cs.commit()
    fill(c, [node('n-role'), node('n-watcher')], [pod('p0', 'n-role'), pod('p1', 'n-watcher')])
    for name in ('n-role', 'n-watcher'):
        c.node_reconciler.reconcile(name)
    c.pod_reconciler.reconcile_batch([('pod', '%s/p0' % NS), ('pod', '%s/p1' % NS)])
    have = switches(nb)
    assert have['n-role'].get('ovn-k8s-watcher') == 'node', 'stamped'
    assert 'ovn-k8s-created-by' not in have['n-role'] and have['n-watcher']['ovn-k8s-created-by'] == 'ovn-k8s-watcher'
    assert sorted(nb.pod_ports()) == ['%s_p0' % NS, '%s_p1' % NS]
    # Both Nodes and their pods are gone: the start-up sweep names the watcher's network only,
    # and each Node's reconcile removes the pods' ports, and the network only if the watcher's.
    fill(c, [], [])
    assert c.node_reconciler.stale_keys() == [('node', 'n-watcher')]
    for name in ('n-role', 'n-watcher'):
        c.node_reconciler.reconcile(name)
    have = switches(nb)
    assert 'n-role' in have and 'n-watcher' not in have, sorted(have)
    assert nb.pod_ports() == {}
    assert sorted(r['name'] for r in nb.rows('Logical_Switch_Port', 'name')) == sorted(
        [_names.switch_to_router_port('n-role'), _names.mgmt_port('n-role')]), 'the role\'s own ports stay'
    c.nb.close()
