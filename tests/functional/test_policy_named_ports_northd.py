# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 23, case 1, in OVN's own pipeline (real ovn-northd, ovn-trace): an egress rule with a
named port and no ``to`` allows that port on every pod of the cluster that names it, through
an address set per port number; ovn-northd compiles it and ovn-trace delivers exactly that."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from test_nb_services_northd import PODS, delivered, nbctl, program, run, topology
from test_nb_services_northd import northd, pytestmark  # noqa: F401 pylint: disable=unused-import
from ovn_k8s_agents import policy

# z/c may send only to the port named http (8080 on every pod of PODS), in any namespace.
NAMED_OUT = [{'metadata': {'namespace': 'z', 'name': 'named-out'},
              'spec': {'podSelector': {'matchLabels': {'pod': 'c'}}, 'policyTypes': ['Egress'],
                       'egress': [{'ports': [{'protocol': 'TCP', 'port': 'http'}]}]}}]


def test_case1_egress_named_port_without_peers_reaches_that_port_everywhere(northd):
    run(northd['nb'], (topology,), (program, [('x', 'a'), ('y', 'b')], NAMED_OUT))
    nbctl(northd['nb'], '--wait=sb', '--timeout=30', 'sync')
    aset = policy.named_port_address_set('z', 'named-out', 0, 'TCP', 'http', 8080)
    addresses = nbctl(northd['nb'], 'get', 'Address_Set', aset, 'addresses')
    assert all(p['status']['podIP'] in addresses for p in PODS), addresses
    for dst in ('x/a', 'y/b', 'z/a'):
        assert delivered(northd, 'z/c', dst, 8080), dst
        assert not delivered(northd, 'z/c', dst, 80), dst
    # Through a service VIP, to the backend's named port: allowed after load balancing.
    assert delivered(northd, 'z/c', 'y/b', 80, vip='10.96.0.10')
    assert delivered(northd, 'z/a', 'z/c', 80)  # z/c is not isolated for ingress
