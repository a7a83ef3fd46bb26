# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Northbound tables and columns the watcher reads. Importable without the Kubernetes
client (which takes a good part of a second to import): the watcher starts loading its
Northbound copy first and imports the client meanwhile."""

from __future__ import absolute_import, division, print_function

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _alloc, _nb
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import merge_tables
from ovn_k8s_agents.watcher import policies, services


def nb_tables():
    """The Northbound tables and columns the watcher reads."""
    return merge_tables(_nb.NODE_NETWORK_TABLES, _nb.LSP_TABLES, _alloc.TABLES, services.TABLES, policies.TABLES,
                        {'Logical_Switch': ['name', 'ports', 'other_config', 'external_ids']})
