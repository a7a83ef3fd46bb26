# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's runtime agents: the watcher (``ovn_k8s_agents.watcher``) and the CNI
plugin (``ovn_k8s_agents.cni``). They are not Ansible modules: they run as daemons or
executables on the hosts, and they drive OVN through the same core the modules use
(``ansible_collections.ovn_k8s.overlay.plugins.module_utils``)."""
