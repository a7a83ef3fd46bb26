# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""One owner per row: which writer owns a row, and the one rule every stale sweep asks.

Standard library only (the vocabulary is ``_names``). Three writers make rows: the roles and
their modules (``_names.ROLES``), the watcher (``_names.WATCHER``) and the CNI plugin
(``_names.CNI_PLUGIN``). A row says who owns it through the keys its writer stamps on it;
:func:`owner` reads them. The table of who writes what, and what becomes of a row whose
owner is gone, is in docs/design.md ("One owner per row").

The rule (:func:`may_remove`): a stale sweep deletes a row only when the row carries every key
of the sweep's selector with its value (the object the sweep cleans up after) *and* the
sweeping writer owns the row. A row whose owner cannot be told is nobody's to sweep: it was
made by hand, by another tool, or by an older release, and stays until its maker removes it.

The node network is the one kind two writers make: the roles (``ovn_node_network``) and the
watcher (a Node without a switch) both may create a node's switch, router port and
management port, and the watcher stamps them (``WATCHER_KEY=node``) either way, because its
services and policies attach to the node switches it has stamped. The creator owns them: the
watcher writes ``CREATED_BY_KEY=ovn-k8s-watcher`` only on the rows it creates
(:func:`watcher_node_ids`), so its sweep removes those and never a network a role made; such
a network is the roles' to remove (``ovn_node_network state=absent``), and its pods' ports,
which are the watcher's, still go when their pods do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names

ROLES, WATCHER, CNI_PLUGIN = _names.ROLES, _names.WATCHER, _names.CNI_PLUGIN
WRITERS = (ROLES, WATCHER, CNI_PLUGIN)


def owner(external_ids):
    """The writer that owns a row with these ``external_ids`` (a dict), or None when no writer
    of the collection can be told from them."""
    ids = external_ids or {}
    created_by = ids.get(_names.CREATED_BY_KEY)
    if created_by in WRITERS:
        return created_by
    marker = ids.get(_names.WATCHER_KEY)
    if marker == _names.WATCHER_NODE:
        # Stamped by the watcher, not created by it: a role's node network (or an older
        # watcher's, which cannot be told from it: left alone, never deleted by mistake).
        return _names.ROLES
    if marker == _names.WATCHER_POD or _names.OWNER_KEY in ids or _names.KIND_KEY in ids:
        return _names.WATCHER
    if _names.GATEWAY_KEY in ids:
        return _names.ROLES
    if ids.get(_names.CNI_OWNER_KEY) == _names.CNI_PLUGIN:
        return _names.CNI_PLUGIN
    return None


def may_remove(writer, external_ids, selector):
    """Whether ``writer``'s stale sweep may delete a row with ``external_ids``: the row holds
    every key of ``selector`` (a non-empty dict) with its value, and ``writer`` owns it.

    Every sweep that deletes rows it selects by their external_ids asks this: the Northbound
    operations' ``remove_load_balancers``, ``remove_address_sets``, ``remove_port_groups``,
    ``remove_routes`` and ``remove_nats`` (with ``owner=``), and the watcher's sweeps of node
    networks and pod ports (:func:`stale_node_switches`)."""
    if writer not in WRITERS:
        raise ValueError('%r is not a writer of the collection (%s)' % (writer, ', '.join(WRITERS)))
    if not selector:
        return False  # a sweep names whose rows it removes
    ids = external_ids or {}
    for key, value in selector.items():
        if ids.get(key) != value:
            return False
    return owner(ids) == writer


def watcher_node_ids(node, creating):
    """The external_ids the watcher writes on a node's network (switch, router port,
    management port): its marker and the node, and, only when ``creating`` it, that it
    created it. Stamping a network that exists never claims it: ``ensure_*`` merges
    external_ids, so a network the watcher created keeps saying so."""
    ids = {_names.WATCHER_KEY: _names.WATCHER_NODE, _names.NODE_KEY: node}
    if creating:
        ids[_names.CREATED_BY_KEY] = _names.WATCHER
    return ids


def switch_node(name, external_ids):
    """The Kubernetes node of a node switch: its NODE_KEY, else its name."""
    return (external_ids or {}).get(_names.NODE_KEY) or name


def stale_node_switches(switches, alive):
    """The watcher's sweep of node networks: the nodes of ``switches`` ([(name,
    external_ids)]) that the watcher may remove (:func:`may_remove`) and whose node is not
    ``alive(node)``, sorted."""
    out = set()
    selector = {_names.WATCHER_KEY: _names.WATCHER_NODE}
    for name, ids in switches:
        node = switch_node(name, ids)
        if may_remove(_names.WATCHER, ids, selector) and not alive(node):
            out.add(node)
    return sorted(out)
