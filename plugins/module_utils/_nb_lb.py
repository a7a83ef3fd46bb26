# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""OVN Northbound load balancers and load balancer groups: the one implementation,
shared by the ``ovn_load_balancer`` module and the watcher's service handler.

One load balancer per Kubernetes service and protocol; every load balancer sits in a
load balancer group, and the group (not each load balancer) is attached to every node
switch and gateway router: ``ovn-northd`` then handles the group once instead of once
per switch.

Like every ``ensure_*``/``remove_*`` of the collection these functions read the IDL
copy, record in a :class:`~._txn.ChangeSet` what they would change, and write
nothing themselves. The ``vips`` map is converged key by key: a backend change
rewrites (and shows in the diff) only the VIPs whose backends changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _owners, _txn
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import purged, strs
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import plain

LB_TABLES = {
    'Load_Balancer': ['name', 'vips', 'protocol', 'options', 'selection_fields', 'external_ids'],
    'Load_Balancer_Group': ['name', 'load_balancer'],
}
# What attaching (or removing) a group reads besides LB_TABLES.
LB_GROUP_TABLES = dict(LB_TABLES, **{
    'Logical_Switch': ['name', 'load_balancer_group'],
    'Logical_Router': ['name', 'load_balancer_group'],
})

PROTOCOLS = ('tcp', 'udp', 'sctp')
SELECTION_FIELDS = ('eth_src', 'eth_dst', 'ip_src', 'ip_dst', 'tp_src', 'tp_dst')


# Validation -------------------------------------------------------------
def parse_endpoint(text, what):
    """``IP``, ``IP:port`` or ``[IPv6]:port`` -> (ip, port or None), normalised."""
    text = str(text).strip()
    host, port = text, None
    if text.startswith('['):
        host, sep, rest = text[1:].partition(']')
        if not sep or (rest and not rest.startswith(':')):
            raise InvalidInput('%s: %r is not an address such as [fd00::1]:80' % (what, text))
        port = rest[1:] if rest else None
    elif text.count(':') == 1:
        host, port = text.split(':')
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise InvalidInput('%s: %r is not an address such as 10.96.0.10:53' % (what, text))
    if ip.version == 6 and port is None and text.startswith('['):
        raise InvalidInput('%s: %r has brackets but no port' % (what, text))
    if port is not None:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise InvalidInput('%s: %r has port %r; expected 1-65535' % (what, text, port))
        port = int(port)
    return ip, port


def format_endpoint(ip, port):
    ip = ipaddress.ip_address(ip)
    if port is None:
        return str(ip)
    return ('[%s]:%d' if ip.version == 6 else '%s:%d') % (ip, int(port))


def check_vips(vips, what):
    """Validate and normalise a vips map {"VIP[:port]": "ip[:port],..."}."""
    if not isinstance(vips, dict):
        raise InvalidInput('%s: vips must be a map of "VIP:port" to "ip:port,ip:port", not %r'
                           % (what, vips))
    out = {}
    for key, value in vips.items():
        vip, vport = parse_endpoint(key, '%s: VIP' % what)
        backends = []
        for one in [b for b in str(value if value is not None else '').split(',') if b.strip()]:
            ip, port = parse_endpoint(one, '%s: backend of VIP %s' % (what, key))
            if ip.version != vip.version:
                raise InvalidInput('%s: backend %s of VIP %s is of another IP family'
                                   % (what, one.strip(), key))
            if (port is None) != (vport is None):
                raise InvalidInput('%s: backend %s of VIP %s must %s a port, as its VIP does'
                                   % (what, one.strip(), key, 'have' if vport else 'not have'))
            backends.append(format_endpoint(ip, port))
        name = format_endpoint(vip, vport)
        if name in out:
            raise InvalidInput('%s: VIP %s is given twice' % (what, name))
        out[name] = ','.join(backends)
    return out


def _check_protocol(protocol, what):
    proto = str(protocol or '').lower()
    if proto not in PROTOCOLS:
        raise InvalidInput('%s: protocol %r is not one of %s' % (what, protocol, ', '.join(PROTOCOLS)))
    return proto


def _check_name(name, what):
    if not isinstance(name, str) or not name:
        raise InvalidInput('%s: the name must be a non-empty string' % what)
    return name


# Finding ----------------------------------------------------------------
def get_load_balancer(client, name):
    return client.find_one('Load_Balancer', 'name', name)


def get_lb_group(client, name):
    return client.find_one('Load_Balancer_Group', 'name', name)


# Load balancers ---------------------------------------------------------
def ensure_load_balancer(cs, client, name, vips, protocol, options=None, selection_fields=None,
                         external_ids=None, groups=(), purge_options=True, purge_external_ids=True):
    """Create or converge load balancer ``name``.

    ``vips`` is converged exactly (VIPs not given are removed); ``options``,
    ``selection_fields`` and ``external_ids`` are converged when given and left alone
    when None: exactly, unless ``purge_options``/``purge_external_ids`` is False (then
    keys not given stay). ``groups`` names load balancer groups this load balancer
    must be a member of (it is added; other members stay).
    """
    what = 'load balancer %s' % _check_name(name, 'a load balancer')
    wanted_vips = check_vips(vips, what)
    wanted = dict(protocol=[_check_protocol(protocol, what)])
    if options is not None:
        wanted['options'] = strs(options, what + ' options')
    if external_ids is not None:
        wanted['external_ids'] = strs(external_ids, what + ' external_ids')
    if selection_fields is not None:
        bad = [f for f in selection_fields if f not in SELECTION_FIELDS]
        if bad:
            raise InvalidInput('%s: selection_fields %s not among %s'
                               % (what, ', '.join(bad), ', '.join(SELECTION_FIELDS)))
        wanted['selection_fields'] = sorted(set(selection_fields))
    group_rows = [_group_for_member(cs, client, g, what) for g in groups]
    row = get_load_balancer(client, name)
    label = 'Load_Balancer %s' % name
    if row is None:
        columns = dict(wanted, vips=wanted_vips, name=name)
        # The new row joins its groups in the same command: no lookup by name needed.
        joins = [('Load_Balancer_Group', _txn.key_of(g_row, g), 'load_balancer') for g, g_row in zip(groups, group_rows)]
        # Load_Balancer has no name index: the guard keeps a second client (or a retried,
        # lost transaction) from leaving two of one name.
        cs.create(label, plain(columns), _txn.insert('Load_Balancer', columns, parents=joins),
                  unique=('Load_Balancer', name))
    else:
        before, after, commands = {}, {}, []
        _converge_vips(row, wanted_vips, before, after, commands)
        # Map columns are converged exactly unless their purge is off: then other keys stay.
        exact = purged(options=purge_options, external_ids=purge_external_ids)
        more = _txn.converge_row('Load_Balancer', row, wanted, exact=exact)
        before.update(more[0])
        after.update(more[1])
        cs.record(label, before, after, commands + more[2])
    for group, group_row in zip(groups, group_rows):
        glabel = 'Load_Balancer_Group %s load_balancer' % group
        if (row is not None and group_row is not None and cs.memo(('Load_Balancer_Group members', group)) is None
                and any(h.uuid == group_row.uuid for h in client.holders('Load_Balancer_Group', row, 'load_balancer'))):
            # Already a member, and this change set changed nothing of the group: found through
            # the client's index, without reading the whole group (a restart over a thousand
            # services read a thousand members a thousand times).
            continue
        read, members = _group_members(cs, group, group_row)
        if name in members:
            continue
        members.add(name)
        if row is None:
            # The insert above already joins the group; only the diff is recorded here.
            cs.note(glabel, {'load_balancer': read}, {'load_balancer': sorted(members)})
        else:
            cs.record(glabel, {'load_balancer': read}, {'load_balancer': sorted(members)},
                      [_txn.mutate('Load_Balancer_Group', _txn.key_of(group_row, group), 'load_balancer',
                                   add=[('Load_Balancer', row.uuid)])])


def _group_members(cs, group, group_row):
    """The members of ``group`` as read, and as this change set leaves them: a thousand
    services joining one group must not each re-read the whole group from the IDL."""
    def first_read():
        read = plain(group_row.load_balancer) if group_row is not None else []
        return read, set(read)
    return cs.memo(('Load_Balancer_Group members', group), first_read)


def _group_for_member(cs, client, group, what):
    row = get_lb_group(client, group)
    if row is None and not cs.will_create('Load_Balancer_Group %s' % group):
        raise Conflict('%s: load balancer group %s does not exist' % (what, group))
    return row


def _converge_vips(row, wanted, before, after, commands):
    """Only the VIPs whose backends changed are written and shown."""
    current = dict(row.vips)
    stale = sorted(k for k in current if k not in wanted)
    update = dict((k, v) for k, v in wanted.items() if current.get(k) != v)
    if not stale and not update:
        return
    before['vips'] = dict((k, current[k]) for k in stale + sorted(update) if k in current)
    after['vips'] = update
    commands.append(_txn.set_keys('Load_Balancer', row.uuid, 'vips', update, stale))


def remove_load_balancer(cs, client, name):
    """Delete load balancer ``name``; groups, switches and routers drop it (weak references)."""
    row = get_load_balancer(client, name)
    if row is not None:
        cs.delete('Load_Balancer %s' % name, row, ['vips', 'protocol', 'external_ids'],
                  _txn.delete('Load_Balancer', row.uuid))


def remove_load_balancers(cs, client, external_ids, keep=(), names=None, writer=_owners.WATCHER):
    """Delete every load balancer whose external_ids hold all of ``external_ids`` and whose
    name is not in ``keep``: a service's load balancers it no longer wants (a protocol gone),
    or (with only the kind key) the repair pass's leftovers of deleted services. Only rows
    ``writer`` owns go (``_owners.may_remove``).

    With ``names``, only the load balancers of those names are looked at (through the name
    index): a caller that knows every name its rows can have does not read the whole table,
    whose external_ids are converted anew on each read (a thousand services reading a
    thousand load balancers each made a restart quadratic)."""
    if names is None:
        rows = client.rows('Load_Balancer')
    else:
        rows = [row for name in sorted(set(names) - set(keep)) for row in client.find('Load_Balancer', 'name', name)]
    for row in rows:
        if row.name not in keep and _owners.may_remove(writer, row.external_ids, external_ids):
            remove_load_balancer(cs, client, row.name)


# Load balancer groups ---------------------------------------------------
def ensure_lb_group(cs, client, name, load_balancers=None):
    """Create group ``name``; with ``load_balancers`` (names), converge its members exactly."""
    what = 'load balancer group %s' % _check_name(name, 'a load balancer group')
    wanted = None
    if load_balancers is not None:
        wanted = sorted(set(load_balancers))
        for lb in wanted:
            if get_load_balancer(client, lb) is None and not cs.will_create('Load_Balancer %s' % lb):
                raise Conflict('%s: load balancer %s does not exist' % (what, lb))
    row = get_lb_group(client, name)
    label = 'Load_Balancer_Group %s' % name
    if row is None:
        members = [('Load_Balancer', _txn.key_of(get_load_balancer(client, lb), lb)) for lb in wanted or []]
        cs.create(label, dict(name=name, load_balancer=wanted or []),
                  _txn.insert('Load_Balancer_Group', dict(name=name), refs={'load_balancer': members}),
                  indexed=('Load_Balancer_Group', 'name'))
        return
    if wanted is None:
        return
    current = plain(row.load_balancer)
    if current == wanted:
        return
    by_name = dict((plain(lb), lb) for lb in row.load_balancer)
    add = [('Load_Balancer', _txn.key_of(get_load_balancer(client, lb), lb)) for lb in wanted if lb not in current]
    drop = [('Load_Balancer', by_name[lb].uuid) for lb in current if lb not in wanted]
    cs.record(label, {'load_balancer': current}, {'load_balancer': wanted},
              [_txn.mutate('Load_Balancer_Group', row.uuid, 'load_balancer', add=add, remove=drop)])


def remove_lb_group(cs, client, name):
    """Detach group ``name`` from every switch and router, then delete it."""
    row = get_lb_group(client, name)
    if row is None:
        return
    for table in ('Logical_Switch', 'Logical_Router'):
        for holder in client.rows(table):
            if any(g.uuid == row.uuid for g in holder.load_balancer_group):
                _detach(cs, table, holder, name, row)
    cs.delete('Load_Balancer_Group %s' % name, row, ['load_balancer'],
              _txn.delete('Load_Balancer_Group', row.uuid))


def ensure_lb_group_attached(cs, client, table, name, group):
    """Make switch or router ``name`` (``table`` Logical_Switch or Logical_Router) use ``group``.

    Other groups already attached stay.
    """
    holder = _holder(client, table, name)
    label = '%s %s load_balancer_group' % (table, name)
    if holder is None and not cs.will_create('%s %s' % (table, name)):
        raise Conflict('load balancer group %s: %s %s does not exist' % (group, _word(table), name))
    grow = get_lb_group(client, group)
    if grow is None and not cs.will_create('Load_Balancer_Group %s' % group):
        raise Conflict('%s %s: load balancer group %s does not exist' % (_word(table), name, group))
    current = plain(holder.load_balancer_group) if holder is not None else []
    if group in current:
        return
    cs.record(label, {'load_balancer_group': current},
              {'load_balancer_group': sorted(current + [group])},
              [_txn.mutate(table, _txn.key_of(holder, name), 'load_balancer_group',
                           add=[('Load_Balancer_Group', _txn.key_of(grow, group))])])


def detach_lb_group(cs, client, table, name, group):
    """Take ``group`` off switch or router ``name``; a missing switch/router/group is fine."""
    holder = _holder(client, table, name)
    grow = get_lb_group(client, group)
    if holder is not None and grow is not None and any(g.uuid == grow.uuid for g in holder.load_balancer_group):
        _detach(cs, table, holder, group, grow)


def _detach(cs, table, holder, group, grow):
    current = plain(holder.load_balancer_group)
    cs.record('%s %s load_balancer_group' % (table, holder.name), {'load_balancer_group': current},
              {'load_balancer_group': [g for g in current if g != group]},
              [_txn.mutate(table, holder.uuid, 'load_balancer_group',
                           remove=[('Load_Balancer_Group', grow.uuid)])])


def _holder(client, table, name):
    if table not in ('Logical_Switch', 'Logical_Router'):
        raise InvalidInput('a load balancer group attaches to a Logical_Switch or a Logical_Router, not %s' % table)
    return client.find_one(table, 'name', name)


def _word(table):
    return 'logical switch' if table == 'Logical_Switch' else 'logical router'
