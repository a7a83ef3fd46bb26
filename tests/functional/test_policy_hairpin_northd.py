# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 23, case 5, in OVN's own pipeline (real ovn-northd, ovn-trace): "a pod cannot block
access to itself". A pod isolated for egress reaches itself through its own Service, and
only itself: OVN's hairpin stage (``ls_in_hairpin``) sends a connection that load balancing
sent back to its source out of the switch before the egress ACLs that apply after load
balancing (``ls_in_acl_after_lb``), so the deny group never sees it, while every other
backend of the same VIP is dropped there. If an OVN release moved the hairpin stage after those
ACLs, this test fails and the deny group needs an allowance for it.

Ingress isolation is not traced here: ovn-trace gives a hairpinned connection the VIP as its
source, where ovn-controller uses the load balancer's hairpin_snat_ip (which the ingress deny
group lets in); the lab proves both directions with real packets
(molecule/default/tests/test_policy_semantics.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from test_nb_services_northd import delivered, lflows, nbctl, program, run, topology, trace
from test_nb_services_northd import northd, pytestmark  # noqa: F401 pylint: disable=unused-import

# x/a isolated for egress only; the service's backends are x/a and y/b.
EGRESS_ONLY = [{'metadata': {'namespace': 'x', 'name': 'out'},
                'spec': {'podSelector': {'matchLabels': {'pod': 'a'}}, 'policyTypes': ['Egress']}}]
VIP = '10.96.0.10'


def stage_table(flows, stage):
    found = re.search(r'table=\s*(\d+)\s*\(%s\s*\)' % stage, flows)
    assert found, 'no stage %s in the switch pipeline' % stage
    return int(found.group(1))


def test_case5_an_egress_isolated_pod_reaches_itself_through_its_service(northd):
    run(northd['nb'], (topology,), (program, [('x', 'a'), ('y', 'b')], EGRESS_ONLY))
    nbctl(northd['nb'], '--wait=sb', '--timeout=30', 'sync')

    # The isolation holds: x/a reaches no other pod, directly or through the VIP.
    assert not delivered(northd, 'x/a', 'y/b', 8080)
    assert not delivered(northd, 'x/a', 'y/b', 80, vip=VIP)
    assert not delivered(northd, 'x/a', 'x/b', 8080)
    # Balanced back to itself, it gets through: hairpinned before the egress ACLs.
    assert delivered(northd, 'x/a', 'x/a', 80, vip=VIP)
    hairpin = trace(northd, 'x/a', 'x/a', 80, VIP)
    assert 'ls_in_hairpin' in hairpin and 'ls_in_acl_after_lb' not in hairpin, hairpin
    # Other pods are not affected: y/b reaches itself and x/a through the VIP.
    assert delivered(northd, 'y/b', 'y/b', 80, vip=VIP)
    assert delivered(northd, 'y/b', 'x/a', 80, vip=VIP)

    # Why, in the compiled flows: the hairpin stage outputs, and comes before the egress ACLs.
    flows = lflows(northd, 'node1')
    assert stage_table(flows, 'ls_in_hairpin') < stage_table(flows, 'ls_in_acl_after_lb')
    loop = [line for line in flows.splitlines() if 'ls_in_hairpin' in line and 'outport = inport' in line]
    assert loop and all(line.rstrip().endswith('output;)') for line in loop), loop
