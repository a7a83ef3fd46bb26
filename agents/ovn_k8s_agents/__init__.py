# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's runtime agents: the watcher (``ovn_k8s_agents.watcher``) and the CNI
plugin (``ovn_k8s_agents.cni``). They are not Ansible modules: they run as daemons or
executables on the hosts, and they drive OVN through the same core the modules use
(``ansible_collections.ovn_k8s.overlay.plugins.module_utils``)."""

import os
import sys


def _find_core():
    """Make the collection core importable when whoever imported this package did not (a test
    or a benchmark that put only agents/ on the path): the pure translations (``policy``,
    ``services``, ``annotation``) take their names from its ``_names``. Where the entry points
    (agents/bin/) look: OVN_K8S_COLLECTIONS_PATH, the installed collection this package sits
    in (.../ansible_collections/ovn_k8s/overlay/agents), the checkout's .build/."""
    try:
        from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names  # noqa: F401 pylint: disable=unused-import
        return
    except ImportError:
        pass
    collection = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    roots = [p for p in os.environ.get('OVN_K8S_COLLECTIONS_PATH', '').split(os.pathsep) if p]
    if collection.split(os.sep)[-3:] == ['ansible_collections', 'ovn_k8s', 'overlay']:
        roots.append(os.path.dirname(os.path.dirname(os.path.dirname(collection))))
    roots.append(os.path.join(collection, '.build'))
    for root in roots:
        if os.path.isdir(os.path.join(root, 'ansible_collections', 'ovn_k8s', 'overlay')):
            sys.path.append(root)
            return


_find_core()
