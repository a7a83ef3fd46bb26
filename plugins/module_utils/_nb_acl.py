# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""OVN Northbound address sets, port groups and their ACLs: the one implementation,
shared by modules and the watcher's network policy handler.

Network policies become port groups (the pods a policy selects), address sets (the
pods its rules allow) and ACLs on the port groups, never per-pod ACLs: a label change
then updates a set and leaves the ACLs alone. ACLs of a port group are converged as
a set: an ACL whose columns are unchanged is never recreated. Set columns (ports,
addresses) are converged with insert/delete mutations, so a change of one pod sends
one element, not the whole set.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _owners, _txn
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import memoised, strs
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import column_set, plain, referenced

ACL_COLUMNS = ['name', 'direction', 'priority', 'match', 'action', 'log', 'severity', 'options',
               'external_ids']
ADDRESS_SET_TABLES = {
    'Address_Set': ['name', 'addresses', 'external_ids'],
}
PORT_GROUP_TABLES = {
    'Port_Group': ['name', 'ports', 'acls', 'external_ids'],
    'ACL': ACL_COLUMNS,
    'Logical_Switch_Port': ['name'],
}

DIRECTIONS = ('from-lport', 'to-lport')
ACTIONS = ('allow', 'allow-related', 'allow-stateless', 'drop', 'reject')
SEVERITIES = ('alert', 'warning', 'notice', 'info', 'debug')
# Names that ACL matches can refer to as @name / $name.
_MATCH_NAME = re.compile(r'^[A-Za-z_.][A-Za-z0-9_.]*$')


def check_match_name(name, what):
    if not isinstance(name, str) or not _MATCH_NAME.match(name):
        raise InvalidInput('%s: %r is not a valid name (letters, digits, "_" and ".", not starting '
                           'with a digit, so that ACL matches can refer to it)' % (what, name))
    return name


# Address sets -------------------------------------------------------------
def _canonical_address(text):
    if '/' in text:
        return str(ipaddress.ip_network(text, strict=False))
    return str(ipaddress.ip_address(text))


_CANONICAL_ADDRESSES, _IP_ORDERS = {}, {}


def check_address(address, what):
    try:
        return memoised(_CANONICAL_ADDRESSES, str(address), _canonical_address)
    except ValueError:
        raise InvalidInput('%s: %r is not an IP address or CIDR' % (what, address))


def get_address_set(client, name):
    return client.find_one('Address_Set', 'name', name)


def ensure_address_set(cs, client, name, addresses, external_ids=None):
    """Create address set ``name`` or converge its addresses (exactly) and external_ids."""
    what = 'address set %s' % check_match_name(name, 'an address set')
    want = set(check_address(a, what) for a in addresses)
    ids = strs(external_ids, what + ' external_ids')
    row = get_address_set(client, name)
    label = 'Address_Set %s' % name
    if row is None:
        columns = dict(name=name, addresses=sorted(want, key=_ip_order), external_ids=ids or {})
        cs.create(label, columns, _txn.insert('Address_Set', columns), indexed=('Address_Set', 'name'))
        return
    before, after, commands = {}, {}, []
    # Compared as sets, sorted only for a change's diff (the watcher converges every address
    # set of a namespace's policies on each of its reconciles, most of them in step).
    have = column_set(row, 'addresses')
    if have != want:
        current, wanted = sorted(have, key=_ip_order), sorted(want, key=_ip_order)
        add = [a for a in wanted if a not in have]
        drop = [a for a in current if a not in want]
        before['addresses'], after['addresses'] = current, wanted
        commands.append(_txn.mutate_values('Address_Set', row.uuid, 'addresses', add=add, remove=drop))
    _external_ids(row, 'Address_Set', ids, before, after, commands)
    cs.record(label, before, after, commands)


def remove_address_set(cs, client, name):
    row = get_address_set(client, name)
    if row is not None:
        cs.delete('Address_Set %s' % name, row, ['addresses', 'external_ids'],
                  _txn.delete('Address_Set', row.uuid))


def remove_address_sets(cs, client, external_ids, keep=(), writer=_owners.WATCHER):
    """Delete every address set whose external_ids hold all of ``external_ids``, but ``keep``;
    only rows ``writer`` owns (``_owners.may_remove``)."""
    for row in client.rows('Address_Set'):
        if row.name not in keep and _owners.may_remove(writer, row.external_ids, external_ids):
            remove_address_set(cs, client, row.name)


def _parse_order(text):
    try:
        net = ipaddress.ip_network(text, strict=False)
        return (net.version, int(net.network_address), net.prefixlen)
    except ValueError:
        return (9, 0, 0)


def _ip_order(text):
    """Sort key of an address set member (memoised: the watcher sorts every policy's address
    sets on every reconcile)."""
    return memoised(_IP_ORDERS, text, _parse_order)


# ACLs ---------------------------------------------------------------------
def check_acl(acl, what):
    """An ACL as a dict of its columns, validated, defaults filled in, ready to compare."""
    if not isinstance(acl, dict):
        raise InvalidInput('%s: an ACL must be a dict of direction, priority, match, action, not %r'
                           % (what, acl))
    unknown = sorted(set(acl) - set(ACL_COLUMNS))
    if unknown:
        raise InvalidInput('%s: ACL keys %s are not among %s' % (what, ', '.join(unknown), ', '.join(ACL_COLUMNS)))
    desc = '%s: ACL %r' % (what, acl.get('name') or acl.get('match'))
    for key in ('direction', 'priority', 'match', 'action'):
        if acl.get(key) in (None, ''):
            raise InvalidInput('%s lacks %s' % (desc, key))
    if acl['direction'] not in DIRECTIONS:
        raise InvalidInput('%s: direction %r is not one of %s' % (desc, acl['direction'], ', '.join(DIRECTIONS)))
    if acl['action'] not in ACTIONS:
        raise InvalidInput('%s: action %r is not one of %s' % (desc, acl['action'], ', '.join(ACTIONS)))
    try:
        priority = int(acl['priority'])
    except (TypeError, ValueError):
        priority = -1
    if not 0 <= priority <= 32767:
        raise InvalidInput('%s: priority %r is outside 0-32767' % (desc, acl['priority']))
    name = acl.get('name')
    if name is not None and (not isinstance(name, str) or len(name) > 63):
        raise InvalidInput('%s: name must be a string of at most 63 characters' % desc)
    severity = acl.get('severity')
    if severity is not None and severity not in SEVERITIES:
        raise InvalidInput('%s: severity %r is not one of %s' % (desc, severity, ', '.join(SEVERITIES)))
    return dict(name=[name] if name else [], direction=acl['direction'], priority=priority,
                match=str(acl['match']), action=acl['action'], log=bool(acl.get('log', False)),
                severity=[severity] if severity else [],
                options=strs(acl.get('options'), desc + ' options') or {},
                external_ids=strs(acl.get('external_ids'), desc + ' external_ids') or {})


def acl_key(columns):
    """A hashable identity of an ACL (all compared columns; maps in key order)."""
    def frozen(value):
        value = plain(value)
        return tuple(sorted(value.items())) if isinstance(value, dict) else repr(value)
    return tuple((c, frozen(columns[c])) for c in ACL_COLUMNS)


def acl_text(columns):
    """One line naming an ACL in a diff."""
    name = plain(columns['name'])
    words = [columns['direction'], str(columns['priority']), columns['action'], columns['match']]
    if columns['log']:
        words.append('log')
    if name:
        words.append('(%s)' % name[0])
    return ' '.join(words)


def _row_acl(row):
    return dict((c, plain(getattr(row, c))) for c in ACL_COLUMNS)


# Port groups --------------------------------------------------------------
def get_port_group(client, name):
    return client.find_one('Port_Group', 'name', name)


def ensure_port_group(cs, client, name, ports, acls, external_ids=None, missing_ports='fail'):
    """Create port group ``name`` or converge its ports and ACLs exactly.

    ``ports`` are logical switch port names; ``acls`` a list of dicts with
    direction, priority, match, action and optionally log, name, severity, options
    and external_ids. ACLs are compared as a set: unchanged ones are kept as they
    are, others added or removed. ``missing_ports``: ``fail`` (a Conflict naming
    them) or ``skip`` (left out; the watcher adds them when their pods get ports).
    Returns the names of the ports left out.
    """
    what = 'port group %s' % check_match_name(name, 'a port group')
    wanted_acls = {}
    for acl in acls or []:
        columns = check_acl(acl, what)
        wanted_acls.setdefault(acl_key(columns), columns)
    ids = strs(external_ids, what + ' external_ids')
    wanted_ports = sorted(set(ports or []))
    # One lookup per wanted port (the client's find is indexed on a long-lived client).
    lsps = dict((p, client.find_one('Logical_Switch_Port', 'name', p)) for p in wanted_ports)
    lsps = dict((p, r) for p, r in lsps.items() if r is not None)
    missing = [p for p in wanted_ports if p not in lsps and not cs.will_create('Logical_Switch_Port %s' % p)]
    if missing and missing_ports != 'skip':
        raise Conflict('%s: logical switch port%s %s do%s not exist'
                       % (what, 's' if len(missing) > 1 else '', ', '.join(missing), '' if len(missing) > 1 else 'es'))
    wanted_ports = [p for p in wanted_ports if p not in missing]
    row = get_port_group(client, name)
    label = 'Port_Group %s' % name
    port_refs = [('Logical_Switch_Port', lsps[p].uuid if p in lsps else p) for p in wanted_ports]
    if row is None:
        after = dict(name=name, ports=wanted_ports, external_ids=ids or {},
                     acls=sorted(acl_text(a) for a in wanted_acls.values()))
        cs.create(label, after, _create_port_group(name, ids or {}, port_refs, list(wanted_acls.values())),
                  indexed=('Port_Group', 'name'))
        return missing
    before, after, commands = {}, {}, []
    # Compared by UUID first: reading every member's name through the IDL is what costs.
    same = len(lsps) == len(wanted_ports) and set(referenced(row, 'ports')) == set(r.uuid for r in lsps.values())
    current_ports = wanted_ports if same else sorted(p.name for p in row.ports)
    if current_ports != wanted_ports:
        add = [ref for p, ref in zip(wanted_ports, port_refs) if p not in current_ports]
        drop = [('Logical_Switch_Port', p.uuid) for p in row.ports if p.name not in wanted_ports]
        before['ports'], after['ports'] = current_ports, wanted_ports
        commands.append(_txn.mutate('Port_Group', row.uuid, 'ports', add=add, remove=drop))
    current = {}
    extra = []
    for acl in row.acls:
        key = acl_key(_row_acl(acl))
        if key in current or key not in wanted_acls:
            extra.append(acl)  # unwanted, or a duplicate of a wanted one
        else:
            current[key] = acl
    new = [columns for key, columns in wanted_acls.items() if key not in current]
    if new or extra:
        before['acls'] = sorted(acl_text(_row_acl(a)) for a in extra)
        after['acls'] = sorted(acl_text(a) for a in new)
        commands.append(_change_acls(row.uuid, new, [a.uuid for a in extra]))
    _external_ids(row, 'Port_Group', ids, before, after, commands)
    cs.record(label, before, after, commands)
    return missing


def add_port_group_ports(cs, client, name, ports):
    """Add logical switch ports ``ports`` (names) to port group ``name``, keeping its other
    ports: a new pod's port joins the groups that isolate it in the transaction that creates it
    (a port this change set creates is found inside that transaction). The port group must
    exist (a Conflict names it); ports it holds already are left alone."""
    row = get_port_group(client, name)
    if row is None:
        raise Conflict('port group %s does not exist' % name)
    have = set(referenced(row, 'ports'))
    add, names = [], []
    for port in sorted(set(ports)):
        lsp = client.find_one('Logical_Switch_Port', 'name', port)
        if lsp is not None:
            if lsp.uuid not in have:
                add.append(('Logical_Switch_Port', lsp.uuid))
                names.append(port)
        elif cs.will_create('Logical_Switch_Port %s' % port):
            add.append(('Logical_Switch_Port', port))
            names.append(port)
        else:
            raise Conflict('port group %s: logical switch port %s does not exist' % (name, port))
    if add:
        cs.record('Port_Group %s ports' % name, {'ports_added': []}, {'ports_added': names},
                  [_txn.mutate('Port_Group', row.uuid, 'ports', add=add)])


def remove_port_group(cs, client, name):
    """Delete port group ``name``; its ACLs go with it (nothing else refers to them)."""
    row = get_port_group(client, name)
    if row is not None:
        cs.delete('Port_Group %s' % name, row, ['ports', 'external_ids'],
                  _txn.delete('Port_Group', row.uuid))


def remove_port_groups(cs, client, external_ids, keep=(), writer=_owners.WATCHER):
    """Delete every port group whose external_ids hold all of ``external_ids``, but ``keep``;
    only rows ``writer`` owns (``_owners.may_remove``)."""
    for row in client.rows('Port_Group'):
        if row.name not in keep and _owners.may_remove(writer, row.external_ids, external_ids):
            remove_port_group(cs, client, row.name)


def _external_ids(row, table, ids, before, after, commands):
    """Converge external_ids exactly when given (the caller owns the row)."""
    if ids is not None:
        more = _txn.converge_row(table, row, {'external_ids': ids}, exact={'external_ids'})
        before.update(more[0])
        after.update(more[1])
        commands.extend(more[2])


def _set_acl_columns(row, columns):
    for col, val in columns.items():
        setattr(row, col, val)


def _create_port_group(name, external_ids, port_refs, acls):
    def run(api, txn):
        pg = txn.insert(api.tables['Port_Group'])
        pg.name = name
        pg.external_ids = external_ids
        pg.ports = [_txn.find_in_txn(api, t, k) for t, k in port_refs]
        rows = []
        for columns in acls:
            acl = txn.insert(api.tables['ACL'])
            _set_acl_columns(acl, columns)
            rows.append(acl)
        pg.acls = rows
        return pg.uuid
    return _txn.command(run)


def _change_acls(pg_uuid, new, stale):
    def run(api, txn):
        pg = _txn.find_in_txn(api, 'Port_Group', pg_uuid)
        for uuid in stale:
            # ACL is not a root table: the row goes once no port group or switch holds it.
            pg.delvalue('acls', _txn.find_in_txn(api, 'ACL', uuid))
        for columns in new:
            acl = txn.insert(api.tables['ACL'])
            _set_acl_columns(acl, columns)
            pg.addvalue('acls', acl)
    return _txn.command(run)
