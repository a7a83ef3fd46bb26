# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A batch of pods keeps each pod's guard and diff (issue 19).

The pod reconciler plans every pod of a batch into its own change set and merges them into
one transaction (``ChangeSet.merge``). Each new port's creation carries its guard
(``_nb.ensure_lsp``: the schema's unique index on the port name, checked by the server, and
the same check on the local copy before anything is sent) and its diff. A batch that took
only the pods' commands would leave both behind: then only the server's index would refuse
the batch, after sending it, and the batch would say nothing of what it changes.

Real ovsdb-server, the controller in process (no API server: the informers' stores are
filled by hand, the API writes recorded; see test_restart_plan.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from test_restart_plan import NS, controller, fill, node, pod
from waiting import wait_for  # tests/lib

PODS = ['p0', 'p1', 'p2']


def port_names(nb):
    return sorted(r['name'] for r in nb.rows('Logical_Switch_Port', 'name'))


def test_a_batch_of_pods_keeps_each_pods_guard(nb):
    """Another client makes ports of the batch's names between its plan and its commit: the
    batch is refused by the pods' own guards before anything is sent, no name gets two rows,
    and the keys are planned again one at a time (then they find those ports and converge
    them)."""
    c = controller(nb)
    fill(c, [node('n1')], [pod(name, 'n1') for name in PODS])
    c.node_reconciler.reconcile('n1')
    before = port_names(nb)
    ours = ['%s_%s' % (NS, name) for name in PODS]
    commit = c.ctx.commit
    outcomes, diffs = [], []

    def raced(cs):
        if not outcomes:
            diffs.append(sorted(cs.after))
            for name in ours:
                nb.ctl('lsp-add', 'n1', name)
            # The watcher's copy holds them before the batch goes: its own checks must refuse it.
            wait_for('the copy to hold the other ports',
                     lambda: all(c.nb.find_one('Logical_Switch_Port', 'name', n) for n in ours))
        try:
            commit(cs)
        except Exception as e:
            outcomes.append(str(e))
            raise
        outcomes.append('committed')
    c.ctx.commit = raced
    c.pod_reconciler.reconcile_batch([('pod', '%s/%s' % (NS, name)) for name in PODS])
    assert diffs[0] == ['Logical_Switch_Port %s' % name for name in ours], 'the batch carries each pod\'s diff'
    assert outcomes[0] != 'committed', 'the batch must be refused: %s' % outcomes
    assert 'another client created Logical_Switch_Port %s_' % NS in outcomes[0], \
        'refused by a pod\'s own guard before it was sent, not by the server: %s' % outcomes[0]
    assert outcomes[1:] == ['committed'] * len(PODS), 'then one pod at a time: %s' % outcomes
    assert port_names(nb) == sorted(before + ours), 'one row per port name, never two'
    ports = nb.pod_ports()
    assert sorted(ports) == ours and len(set(p['addresses'][0] for p in ports.values())) == len(PODS), ports
    assert sorted(write[0] for write in c.writes) == PODS
    c.nb.close()
