# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""Southbound operations of the roles: a removed node's chassis.

ovn-controller registers its chassis itself (``Chassis`` with its ``Encap`` rows, and
``Chassis_Private``) and deletes them when it exits for good; a node that is removed while
it cannot reach the Southbound database (or whose ovn-controller was killed) leaves them
behind, and every other node keeps a tunnel to it. :func:`remove_chassis` removes them,
through the collection's transaction layer (``_txn``), as one change set with its diff.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _txn

# Encap rows are not a root table: they go with the chassis that holds them.
CHASSIS_TABLES = {
    'Chassis': ['name', 'hostname', 'encaps', 'external_ids', 'other_config'],
    'Chassis_Private': ['name', 'chassis', 'external_ids'],
    'Encap': ['type', 'ip', 'chassis_name'],
}


def get_chassis(client, name):
    return client.find_one('Chassis', 'name', name)


def get_chassis_private(client, name):
    return client.find_one('Chassis_Private', 'name', name)


def chassis_view(client, name):
    """What the Southbound database holds of chassis ``name``: None, or a dict of its
    hostname, encapsulations and whether it has a Chassis_Private row."""
    row = get_chassis(client, name)
    private = get_chassis_private(client, name)
    if row is None and private is None:
        return None
    view = dict(name=name, private=private is not None)
    if row is not None:
        view.update(hostname=row.hostname,
                    encaps=sorted('%s:%s' % (e.type, e.ip) for e in row.encaps))
    return view


def remove_chassis(cs, client, name):
    """Remove chassis ``name``: its Chassis row (with its Encap rows) and its Chassis_Private
    row. Nothing else: port bindings and gateway assignments are ovn-northd's, which drops
    them once the Northbound rows that asked for them are gone."""
    row = get_chassis(client, name)
    private = get_chassis_private(client, name)
    if row is not None:
        cs.delete('Chassis %s' % name, row, ['hostname', 'external_ids'],
                  _txn.delete('Chassis', row.uuid))
    if private is not None:
        cs.delete('Chassis_Private %s' % name, private, ['external_ids'],
                  _txn.delete('Chassis_Private', private.uuid))
