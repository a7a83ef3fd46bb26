# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CNI plugin ``ovn-k8s-cni-overlay`` (executable: ``agents/bin/ovn-k8s-cni-overlay``).

:mod:`.skel` speaks the CNI protocol (spec 0.4.0, 1.0.0, 1.1.0), :mod:`.plugin` has one function
per verb, :mod:`.netns` does the kernel work and :mod:`.kube` reads the pod's annotation.
"""

from __future__ import absolute_import, division, print_function


def main():
    from ovn_k8s_agents.cni.plugin import main as run
    return run()
