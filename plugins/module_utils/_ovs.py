# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""Local Open vSwitch database operations: bridges, ports with their
interface, and ``external_ids`` of any record.

Like :mod:`._nb`, every ``ensure_*``/``remove_*``/``set_*`` function reads the
IDL copy held by a :class:`~._ovsdb.Client` of the ``Open_vSwitch`` database,
records what it would change in a :class:`~._txn.ChangeSet` and writes
nothing itself.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import (
    check_ifname,
    check_mac,
    one,
    purged,
    strs,
)
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _txn
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import plain

# Tables (and columns) each kind of operation reads; modules register only these.
# Open_vSwitch.bridges is needed by add_br/del_br, which link the bridge from the root row.
BRIDGE_TABLES = {
    'Open_vSwitch': ['bridges'],
    'Bridge': ['name', 'ports', 'datapath_type', 'other_config', 'external_ids', 'fail_mode'],
    'Port': ['name', 'interfaces'],
    'Interface': ['name', 'type'],
}
PORT_TABLES = {
    'Bridge': ['name', 'ports'],
    'Port': ['name', 'interfaces'],
    'Interface': ['name', 'type', 'external_ids', 'mac', 'options', 'error', 'ofport'],
}
RECORD_TABLES = ('Open_vSwitch', 'Bridge', 'Port', 'Interface')


def external_ids_tables(table):
    if table not in RECORD_TABLES:
        raise InvalidInput('table %r is not one of %s' % (table, ', '.join(RECORD_TABLES)))
    if table == 'Open_vSwitch':
        return {table: ['external_ids']}
    return {table: ['name', 'external_ids']}


# Finding ----------------------------------------------------------------
def get_bridge(client, name):
    return client.find_one('Bridge', 'name', name)


def get_port(client, name):
    return client.find_one('Port', 'name', name)


def bridge_of_port(client, port):
    return client.holder('Bridge', port)


def get_record(client, table, record):
    """The row of ``table`` named ``record`` (the single row for Open_vSwitch), or None."""
    if table == 'Open_vSwitch':
        rows = client.rows(table)
        return rows[0] if rows else None
    return client.find_one(table, 'name', record)


# Bridges ----------------------------------------------------------------
def _datapath(value):
    # An empty datapath_type is what ovs-vsctl leaves, and it means "system".
    return value or 'system'


def datapath_of(row):
    """A bridge row's datapath type, empty counting as system."""
    return _datapath(row.datapath_type)


def ensure_bridge(cs, client, name, datapath_type=None, other_config=None, external_ids=None,
                  fail_mode=None, purge_other_config=False, purge_external_ids=False):
    what = 'bridge %s' % name
    check_ifname(name, what)
    other = strs(other_config, what + ' other_config')
    if other and 'hwaddr' in other:
        other['hwaddr'] = check_mac(other['hwaddr'], what + ' other_config hwaddr')
    ids = strs(external_ids, what + ' external_ids')
    if fail_mode not in (None, 'standalone', 'secure'):
        raise InvalidInput('%s: fail_mode %r is not standalone or secure' % (what, fail_mode))
    label = 'Bridge %s' % name
    row = get_bridge(client, name)
    if row is None:
        port = get_port(client, name)
        if port is not None:
            owner = bridge_of_port(client, port)
            raise Conflict('%s: a port named %s already exists on bridge %s'
                           % (what, name, owner.name if owner is not None else '(none)'))
        columns = dict(other_config=other or {}, external_ids=ids or {})
        if fail_mode:
            columns['fail_mode'] = fail_mode
        after = dict(columns, name=name, datapath_type=_datapath(datapath_type))
        cs.create(label, after, [
            lambda api: api.add_br(name, may_exist=False, datapath_type=datapath_type or 'system')
        ] + [_txn.assign('Bridge', name, col, val) for col, val in columns.items() if val],
            indexed=('Bridge', 'name'))
        return
    wanted = {}
    if other is not None or purge_other_config:
        wanted['other_config'] = other or {}
    if ids is not None or purge_external_ids:
        wanted['external_ids'] = ids or {}
    if fail_mode and one(row.fail_mode) != fail_mode:
        wanted['fail_mode'] = [fail_mode]
    if datapath_type and _datapath(row.datapath_type) != datapath_type:
        wanted['datapath_type'] = datapath_type
    cs.converge(label, 'Bridge', row, wanted,
                purge=purged(other_config=purge_other_config, external_ids=purge_external_ids))


def remove_bridge(cs, client, name):
    row = get_bridge(client, name)
    if row is None:
        return
    before = dict((c, plain(getattr(row, c))) for c in ('datapath_type', 'other_config', 'external_ids'))
    before['ports'] = sorted(p.name for p in row.ports)
    cs.record('Bridge %s' % name, before, None,
              [lambda api: api.del_br(name, if_exists=False)])


# Ports and their interface -----------------------------------------------
def ensure_port(cs, client, bridge, name, port_type=None, external_ids=None, mac=None,
                options=None, purge_external_ids=False, purge_options=False):
    """A port of ``bridge`` with one interface of the same name.

    ``external_ids``, ``mac`` and ``options`` are the interface's columns (where
    ovn-controller looks for C(iface-id)). ``port_type`` None leaves the type
    of an existing interface alone and creates a system interface.
    """
    what = 'port %s on bridge %s' % (name, bridge)
    check_ifname(name, what)
    ids = strs(external_ids, what + ' external_ids')
    opts = strs(options, what + ' options')
    if mac is not None:
        mac = check_mac(mac, what + ' mac')
    label = 'Port %s' % name
    port = get_port(client, name)
    if port is None:
        if get_bridge(client, bridge) is None and not cs.will_create('Bridge %s' % bridge):
            raise Conflict('%s: bridge %s does not exist' % (what, bridge))
        columns = dict(type=port_type or '', external_ids=ids or {}, options=opts or {})
        if mac is not None:
            columns['mac'] = [mac]
        after = dict(plain(columns), name=name, bridge=bridge)
        cs.create(label, after, [lambda api: api.add_port(bridge, name, may_exist=False)] +
                  [_txn.assign('Interface', name, col, val) for col, val in columns.items() if val],
                  indexed=('Port', 'name'))
        return
    owner = bridge_of_port(client, port)
    if owner is None or owner.name != bridge:
        raise Conflict('%s: the port exists on bridge %s; remove it there first'
                       % (what, owner.name if owner is not None else '(none)'))
    iface = _interface(port, what)
    wanted = {}
    if port_type is not None:
        wanted['type'] = port_type
    if ids is not None or purge_external_ids:
        wanted['external_ids'] = ids or {}
    if opts is not None or purge_options:
        wanted['options'] = opts or {}
    if mac is not None:
        wanted['mac'] = [mac]
    cs.converge(label, 'Interface', iface, wanted,
                purge=purged(external_ids=purge_external_ids, options=purge_options))


def _interface(port, what):
    ifaces = [i for i in port.interfaces if i.name == port.name]
    if len(port.interfaces) != 1 or not ifaces:
        raise Conflict('%s: the port is a bond or its interface has another name (%s); '
                       'this module manages single-interface ports only'
                       % (what, ', '.join(sorted(i.name for i in port.interfaces)) or 'none'))
    return ifaces[0]


def interfaces_with(client, **external_ids):
    """The Interface rows whose external_ids hold every given key with the given value.

    Keys with dashes (C(iface-id)) are passed as a dict: ``interfaces_with(client, **{'iface-id': x})``.
    """
    wanted = strs(external_ids, 'interface external_ids')
    return [row for row in client.rows('Interface')
            if all(row.external_ids.get(k) == v for k, v in wanted.items())]


def port_of_interface(client, iface):
    """The Port row holding Interface row ``iface``, or None."""
    return client.holder('Port', iface, column='interfaces')


def remove_port(cs, client, name, bridge=None):
    port = get_port(client, name)
    if port is None:
        return
    owner = bridge_of_port(client, port)
    if bridge is not None and (owner is None or owner.name != bridge):
        raise Conflict('port %s exists on bridge %s, not on %s; refusing to remove it'
                       % (name, owner.name if owner is not None else '(none)', bridge))
    if owner is not None and owner.name == name:
        raise Conflict('port %s is the local port of bridge %s; remove the bridge instead'
                       % (name, owner.name))
    before = dict(bridge=owner.name if owner is not None else None,
                  interfaces=sorted(i.name for i in port.interfaces))
    cs.record('Port %s' % name, before, None,
              [lambda api: api.del_port(name, bridge=owner.name if owner else None,
                                        if_exists=False)])


# external_ids of any record -------------------------------------------------
def _record_row(client, table, record):
    external_ids_tables(table)
    row = get_record(client, table, record)
    if row is None:
        if table == 'Open_vSwitch':
            raise Conflict('the Open vSwitch database at %s has no Open_vSwitch record: '
                           'was it initialised (ovs-vsctl init)?' % client.remote)
        raise Conflict('%s record %s does not exist in the Open vSwitch database'
                       % (table, record))
    return row


def _label(table, record):
    return '%s %s' % (table, '.' if table == 'Open_vSwitch' else record)


# What the diff shows of a removed key's old value, which may be a secret (an old API token).
REMOVED_VALUE = '(removed; value not shown)'


def set_external_ids(cs, client, table, record, external_ids, purge=False):
    """Set the given keys of a record's external_ids; purge drops the others.

    The diff holds only the keys named (and, with purge, the names of the keys dropped, without
    their values): other keys of the map may hold what this task has no business printing.
    """
    row = _record_row(client, table, record)
    ids = strs(external_ids or {}, '%s %s external_ids' % (table, record))
    label = _label(table, record)
    if cs.converge(label, table, row, {'external_ids': ids}, purge={'external_ids'} if purge else ()):
        _only_keys(cs, label, ids)


def remove_external_ids(cs, client, table, record, keys):
    """Remove the given keys (a dict's values are ignored) from a record's external_ids."""
    row = _record_row(client, table, record)
    label = _label(table, record)
    if cs.converge(label, table, row, {'external_ids': dict((str(k), None) for k in keys)}):
        _only_keys(cs, label, [])


def managed_external_ids(current, keys):
    """The entries of ``current`` (a plain map) whose keys are in ``keys``."""
    return dict((k, v) for k, v in current.items() if k in keys)


def _only_keys(cs, label, keys):
    """Narrow the diff of ``label``'s external_ids to the keys set (``keys``) and the keys removed,
    whose old values are not shown."""
    before, after = cs.before[label]['external_ids'], cs.after[label]['external_ids']
    cs.before[label]['external_ids'] = dict(
        (k, v if k in keys else REMOVED_VALUE) for k, v in before.items() if k in keys or k not in after)
    cs.after[label]['external_ids'] = managed_external_ids(after, keys)
