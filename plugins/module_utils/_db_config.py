# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""The OVN databases' own settings: where they listen and with which SSL files.

An OVN database started by ovn-ctl reads its listeners (``--remote=db:...,connections``) and
SSL files (``--private-key=db:...,SSL,private_key`` and so on) from its own ``NB_Global`` or
``SB_Global`` row, so opening a listener is a change to that row: the ``Connection`` rows it
references and its ``SSL`` row. What ``ovn-nbctl set-connection``/``set-ssl`` do, read and
compared first, planned and committed as one transaction.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _txn
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import Conflict, InvalidInput
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import DATABASES, NB_DB, SB_DB, plain

# The databases this module knows, by the short names playbooks use.
BY_NAME = {'nb': NB_DB, 'sb': SB_DB}
GLOBAL_TABLE = {NB_DB: 'NB_Global', SB_DB: 'SB_Global'}
SSL_COLUMNS = ('private_key', 'certificate', 'ca_cert')


def tables(database):
    """What a client must monitor to plan :func:`ensure_listeners`."""
    return {GLOBAL_TABLE[database]: ['connections', 'ssl'], 'Connection': None, 'SSL': None}


_LISTENER = re.compile(r'^(?:(?:ptcp|pssl):\d{1,5}(?::(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]))?'
                       r'|(?:tcp|ssl):(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}'
                       r'|p?unix:/\S+)$')


def _check_listener(database, listener):
    label = DATABASES[database]['label']
    target = listener.get('target')
    if not isinstance(target, str) or not _LISTENER.match(target):
        raise InvalidInput('the listener %r of the %s is not of the form ptcp:PORT[:ADDRESS], pssl:PORT[:ADDRESS], '
                           'punix:PATH (or an active tcp:HOST:PORT, ssl:HOST:PORT, unix:PATH)' % (target, label))
    port = re.match(r'^p(?:tcp|ssl):(\d+)', target) or re.search(r'^(?:tcp|ssl):.*:(\d+)$', target)
    if port and int(port.group(1)) > 65535:
        raise InvalidInput('the listener %s of the %s has a port out of range' % (target, label))
    role = listener.get('role')
    if role is not None and database != SB_DB:
        raise InvalidInput('the listener %s of the %s has a role (%s), but only the Southbound database has roles'
                           % (target, label, role))
    return target, (role or '') if database == SB_DB else None


def _describe(target, role):
    return target if role is None else '%s role=%s' % (target, role or '""')


def ensure_listeners(cs, client, listeners=None, ssl=None):
    """Make the database's own ``connections`` exactly ``listeners`` (a list of {target, role}),
    and, with ``ssl`` ({private_key, certificate, ca_cert}), its SSL files those. None leaves
    either alone."""
    database = client.database
    label = DATABASES[database]['label']
    table = GLOBAL_TABLE[database]
    rows = client.rows(table)
    if len(rows) > 1:
        raise Conflict('the %s holds %d %s rows, not one' % (label, len(rows), table))
    row = rows[0] if rows else None
    if row is not None:
        # Another client (another member of a cluster running the same task) changing these
        # between this read and the commit makes the run plan again.
        cs.expect_unchanged(table, row, ['connections', 'ssl'])
    if listeners is not None:
        _plan_listeners(cs, database, table, row, listeners)
    if ssl is not None:
        _plan_ssl(cs, label, table, row, ssl)


def _plan_listeners(cs, database, table, row, listeners):
    wanted = [_check_listener(database, listener) for listener in listeners]
    seen = set()
    for item in wanted:
        if item in seen:
            raise InvalidInput('the listener %s of the %s is given twice' % (_describe(*item), DATABASES[database]['label']))
        seen.add(item)
    current = {}
    for conn in (row.connections if row is not None else []):
        key = (conn.target, conn.role if database == SB_DB else None)
        if database == SB_DB and conn.read_only:
            key += ('read-only',)  # not a listener this module makes: it goes
        current.setdefault(key, []).append(conn.uuid)
    keep = [current[key][0] for key in wanted if key in current]
    create = [key for key in wanted if key not in current]
    if not create and len(keep) == sum(len(v) for v in current.values()):
        return
    before = sorted(' '.join([_describe(*k[:2])] + list(k[2:])) for k in current for _u in current[k])
    after = sorted(_describe(*k) for k in wanted)

    def run(api, txn):
        glob = _global_row(api, txn, table)
        conns = api.tables['Connection'].rows
        made = []
        for target, role in create:
            conn = txn.insert(api.tables['Connection'])
            conn.target = target
            if role is not None:
                conn.role = role
            made.append(conn)
        glob.connections = [conns[u] for u in keep if u in conns] + made
    cs.record('%s connections' % table, {'connections': before}, {'connections': after}, [_txn.command(run)])


def _plan_ssl(cs, label, table, row, ssl):
    wanted = {}
    for column in SSL_COLUMNS:
        path = ssl.get(column)
        if not path:
            raise InvalidInput('the SSL settings of the %s need %s' % (label, ', '.join(SSL_COLUMNS)))
        if not os.path.isfile(path):
            raise InvalidInput('the SSL %s %s of the %s does not exist on this host' % (column, path, label))
        wanted[column] = path
    current = row.ssl[0] if row is not None and row.ssl else None
    before = dict((c, plain(getattr(current, c))) for c in SSL_COLUMNS) if current is not None else None
    if before == wanted:
        return
    uuid = current.uuid if current is not None else None

    def run(api, txn):
        if uuid is not None and uuid in api.tables['SSL'].rows:
            target = api.tables['SSL'].rows[uuid]
        else:
            target = txn.insert(api.tables['SSL'])
            _global_row(api, txn, table).ssl = [target]
        for column, value in wanted.items():
            setattr(target, column, value)
    cs.record('%s ssl' % table, before, dict(wanted), [_txn.command(run)])


def _global_row(api, txn, table):
    """The database's one global row; inserted if the database has none yet (a database
    nothing has initialised: ovn-northd would make it too)."""
    rows = list(api.tables[table].rows.values())
    if rows:
        return rows[0]
    return txn.insert(api.tables[table])
