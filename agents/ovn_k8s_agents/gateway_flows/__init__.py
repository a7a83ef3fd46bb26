# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway flows agent: keeps a shared-IP gateway's OpenFlow flows on its bridge.

What ovn-k8s-gateway-helper was in the original overlay: a small daemon on the gateway node.
Run it as ``ovn-k8s-gateway-flows`` (agents/bin) or ``python -m ovn_k8s_agents.gateway_flows``;
the collection core (``ansible_collections.ovn_k8s.overlay``) must be importable.
"""

from __future__ import absolute_import, division, print_function


def main(argv=None):
    from ovn_k8s_agents.gateway_flows.agent import main as run
    return run(argv)
