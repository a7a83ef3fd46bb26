# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher: follows Kubernetes Nodes and Pods and gives them their OVN network.

Run it as ``ovn-k8s-watcher`` (agents/bin) or ``python -m ovn_k8s_agents.watcher``; the
collection core (``ansible_collections.ovn_k8s.overlay``) must be importable.
"""

from __future__ import absolute_import, division, print_function


def main(argv=None):
    from ovn_k8s_agents.watcher.cli import main as run
    return run(argv)
