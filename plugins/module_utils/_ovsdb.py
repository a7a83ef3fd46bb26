# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""The connection to one OVSDB database, and reads from its local copy.

It connects to one database (the OVN Northbound or Southbound database, or the local Open
vSwitch database) through ovsdbapp and registers only the tables a caller asks for
(:class:`Client`). Callers read rows from the IDL's local copy (:meth:`Client.find`,
:func:`read`, :func:`plain`, ...) and describe what they want in a ``_txn.ChangeSet``,
which the client commits in one checked transaction (:meth:`Client.commit`).

A remote may name every member of a clustered (RAFT) database, comma-separated
as OVS writes it (``ssl:a:6641,ssl:b:6641,ssl:c:6641``). The IDL then talks
only to the cluster's leader and moves to the new one when the leader changes.
A transaction cut off by such a move is never replayed as it was: the
connection loss surfaces as ``ConnectionLost``, and ``_txn.plan_and_commit``
reads the new leader's copy and plans again, so a change that did land before
the reply was lost is found done and is not made twice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import ssl
import time

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _compat
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._compat import NB_DB, OVSDBAPP_IMPORT_ERROR, SB_DB
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import (
    Conflict,
    ConnectionLost,
    InvalidInput,
    OvnK8sError,
    OvsdbConnectionError,
    StaleRead,
    TransactionFailed,
)

if OVSDBAPP_IMPORT_ERROR is None:
    import ovs.db.data
    import ovs.jsonrpc
    import ovs.poller
    import ovs.stream
    import ovs.timeval
    from ovsdbapp.backend.ovs_idl import connection as ovsdbapp_connection
    from ovsdbapp.backend.ovs_idl import idlutils
    from ovsdbapp import exceptions as ovsdbapp_exceptions

OVS_DB = 'Open_vSwitch'

DATABASES = {
    NB_DB: {
        'label': 'OVN Northbound database',
        'env': 'OVN_NB_DB',
        'default': 'unix:/var/run/ovn/ovnnb_db.sock',
    },
    SB_DB: {
        'label': 'OVN Southbound database',
        'env': 'OVN_SB_DB',
        'default': 'unix:/var/run/ovn/ovnsb_db.sock',
    },
    OVS_DB: {
        'label': 'Open vSwitch database',
        'env': 'OVS_DB',
        'default': 'unix:/var/run/openvswitch/db.sock',
    },
}


def default_remote(database):
    info = DATABASES[database]
    return os.environ.get(info['env']) or info['default']


REMOTE_TYPES = ('tcp:', 'ssl:', 'unix:')


def join_remotes(remote, database):
    """``remote`` (a comma-separated string or a list of members) as one OVS remote string.

    Every member must be an active remote (``tcp:``, ``ssl:`` or ``unix:``).
    """
    members = remote if isinstance(remote, (list, tuple)) else str(remote).split(',')
    members = [str(m).strip() for m in members if str(m).strip()]
    label = DATABASES[database]['label']
    if not members:
        raise InvalidInput('the remote of the %s is empty' % label)
    for member in members:
        if not member.startswith(REMOTE_TYPES) or member.endswith(':'):
            raise InvalidInput('the remote %s of the %s is not of the form tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH'
                               % (member, label))
    return ','.join(members)


def _strerror(err):
    if isinstance(err, int):
        return os.strerror(err).lower()
    return str(err)


def _configure_ssl(ssl_key, ssl_cert, ssl_ca_cert, remote):
    wants_ssl = any(r.strip().startswith(('ssl:', 'pssl:')) for r in remote.split(','))
    if not wants_ssl:
        return
    missing = [name for name, value in (('ssl_key', ssl_key), ('ssl_cert', ssl_cert),
                                        ('ssl_ca_cert', ssl_ca_cert)) if not value]
    if missing:
        raise InvalidInput('the remote %s uses SSL but %s %s not given'
                           % (remote, ', '.join(missing), 'is' if len(missing) == 1 else 'are'))
    for name, path in (('ssl_key', ssl_key), ('ssl_cert', ssl_cert), ('ssl_ca_cert', ssl_ca_cert)):
        if not os.path.isfile(path):
            raise InvalidInput('%s file %s does not exist' % (name, path))
    ovs.stream.Stream.ssl_set_private_key_file(ssl_key)
    ovs.stream.Stream.ssl_set_certificate_file(ssl_cert)
    ovs.stream.Stream.ssl_set_ca_cert_file(ssl_ca_cert)


def fetch_schema(remote, database, timeout):
    """Fetch the schema of ``database`` from the first remote that answers.

    ovsdbapp's own helper waits forever on a silent peer; this one honours
    ``timeout`` (seconds) and says which remote failed and why.
    """
    label = DATABASES[database]['label']
    failures = []
    members = idlutils.parse_connection(remote)
    # A member whose host is down answers nothing: it may take its share of the time, not all
    # of it, so that the next member is still tried.
    timeout = max(timeout / float(len(members)), min(timeout, 2)) if members else timeout
    for one in members:
        try:
            error, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(one),
                                                         int(timeout * 1000))
        except (ssl.SSLError, OSError) as exc:
            # Older ovs (Debian 12's 3.1) raises a failed SSL handshake instead of returning it.
            reason = getattr(exc, 'verify_message', None) or getattr(exc, 'reason', None) or exc
            failures.append('%s: %s%s' % (one, str(reason).lower(), _ssl_hint(one, errno.EPROTO)))
            continue
        if error:
            failures.append('%s: %s%s' % (one, _strerror(error), _ssl_hint(one, error)))
            continue
        rpc = ovs.jsonrpc.Connection(stream)
        try:
            request = ovs.jsonrpc.Message.create_request('get_schema', [database])
            error = rpc.send(request)
            reply = None
            if not error:
                error, reply = _recv_block(rpc, timeout)
        finally:
            rpc.close()
        if error:
            failures.append('%s: %s%s' % (one, _strerror(error), _ssl_hint(one, error)))
        elif reply.error:
            failures.append('%s: the server does not serve the %s (%s)'
                            % (one, database, reply.error))
        else:
            return reply.result
    raise OvsdbConnectionError('cannot reach the %s at %s'
                               % (label, '; '.join(failures) or remote))


def _describe(exc, timeout):
    """What went wrong, in words: some ovsdbapp exceptions (its TimeoutException) cannot even
    print themselves, and older ovsdbapp (Debian 12's 2.1) raises a bare ``Exception('Timeout')``
    where newer ones raise TimeoutException: both mean the same."""
    if type(exc).__name__ == 'TimeoutException' or exc.args == ('Timeout',):
        return 'no complete copy of the database within %s seconds (with several members: no leader answered)' % timeout
    try:
        text = str(exc)
    except Exception:  # pylint: disable=broad-except
        text = ''
    return text or type(exc).__name__


def _ssl_hint(remote, error):
    network = (errno.ECONNREFUSED, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENOENT)
    if remote.startswith('ssl:') and error not in network:
        return (' (the SSL handshake failed: check that ssl_ca_cert signed the server\'s certificate '
                'and that the server trusts the CA of ssl_cert)')
    return ''


def _recv_block(rpc, timeout):
    deadline = ovs.timeval.msec() + int(timeout * 1000)
    while True:
        error, msg = rpc.recv()
        if error != errno.EAGAIN:
            return error, msg
        if ovs.timeval.msec() > deadline:
            return errno.ETIMEDOUT, None
        rpc.run()
        poller = ovs.poller.Poller()
        rpc.wait(poller)
        rpc.recv_wait(poller)
        poller.timer_wait_until(deadline)
        poller.block()


class Client:
    """One connection to one OVSDB database, limited to the given tables.

    ``tables`` maps a table name to a list of columns, or to ``None`` for all
    columns of that table. ``conditions`` maps a table name to an OVSDB
    condition (``[['name', '==', 'p1']]``): only matching rows of that table are
    fetched, which keeps a one-object task fast on a database of thousands.
    References to rows outside the condition are invisible, so code must only
    add to or remove from such reference sets (addvalue/delvalue), never
    rewrite them. ``leader_only`` False lets a reader of a clustered database
    stay on whichever member it reached (a follower's copy may lag by a moment);
    by default a client of several members talks to the leader only.
    """

    def __init__(self, database, remote=None, timeout=10, tables=None, conditions=None,
                 ssl_key=None, ssl_cert=None, ssl_ca_cert=None, leader_only=None):
        if OVSDBAPP_IMPORT_ERROR:
            raise OvnK8sError('the Python libraries ovs and ovsdbapp are required: %s'
                              % OVSDBAPP_IMPORT_ERROR.strip().splitlines()[-1])
        self.database = database
        self.label = DATABASES[database]['label']
        self.remote = join_remotes(remote or default_remote(database), database)
        self.timeout = timeout
        _configure_ssl(ssl_key, ssl_cert, ssl_ca_cert, self.remote)
        schema = fetch_schema(self.remote, database, timeout)
        helper = idlutils.create_schema_helper(schema)
        for table, columns in (tables or {}).items():
            if table not in schema['tables']:
                raise OvsdbConnectionError('the %s at %s has no table %s: is its schema too old?'
                                           % (self.label, self.remote, table))
            if columns is None:
                helper.register_table(table)
            else:
                helper.register_columns(table, list(columns))
        if not tables:
            helper.register_all()
        # With several members the IDL talks to the cluster's leader only and moves to the new
        # one when it changes. With one remote there is nowhere else to go: a follower (the local
        # unix socket of any member) serves reads and forwards writes to the leader, and the
        # server checks the plan's guards at commit time, so a stale read fails, never corrupts.
        members = len(self.remote.split(','))
        # A member that accepts but never answers is dropped after two silent probe intervals
        # (5 s each by default): with several members, short enough to leave time for the others.
        probe = max(1000, min(5000, int(timeout * 1000 / (2 * members)))) if members > 1 else None
        if leader_only is None:
            leader_only = members > 1
        idl = ovs.db.idl.Idl(self.remote, helper, probe_interval=probe, leader_only=leader_only)
        for table, condition in (conditions or {}).items():
            idl.cond_change(table, condition)
        _compat.index_names(idl)
        self.connection = ovsdbapp_connection.Connection(idl, timeout)
        try:
            self.connection.start()
        except Exception as exc:
            raise OvsdbConnectionError('cannot read the %s at %s: %s'
                                       % (self.label, self.remote, _describe(exc, timeout)))
        self.api = _compat.api_class(database)(self.connection)
        self.idl = idl
        self.conditions = dict(conditions or {})
        self._indexes = {}
        self._found = (None, {})  # (change_seqno, {(table, column, value): rows}): find()

    def other_view(self, tables, conditions):
        """A second, read-only client of the same database with other tables/conditions.

        For the rare case where a narrow read needs one more row it did not fetch.
        The SSL files, if any, are process-wide and already set.
        """
        return Client(self.database, remote=self.remote, timeout=self.timeout, tables=tables,
                      conditions=conditions)

    def close(self):
        try:
            self.connection.stop(timeout=self.timeout)
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # Reading -------------------------------------------------------------
    def rows(self, table):
        return list(self.idl.tables[table].rows.values())

    def find(self, table, column, value):
        """All rows of ``table`` whose ``column`` equals ``value``. Answers are remembered until
        the IDL copy changes: planning one pod's port asks for the same port and switch three
        times, and a restart in step plans thousands without a change in between."""
        if not isinstance(value, str):
            return [r for r in self.idl.tables[table].rows.values() if getattr(r, column) == value]
        seqno = self.idl.change_seqno
        if self._found[0] != seqno:
            self._found = (seqno, {})
        key = (table, column, value)
        found = self._found[1].get(key)
        if found is None:
            found = self._idl_lookup(table, column, value)
            if found is None:
                # No IDL index on that column: a scan. Where there is one its answer, empty
                # included, is the answer (_compat moves a row another client renamed, which
                # ovs 3.1's IDL leaves under its old value).
                found = list(self._index(table, column, False).get(value, ()))
            self._found[1][key] = found = tuple(found)
        return list(found)

    def _idl_lookup(self, table, column, value):
        """The rows the IDL's own index of ``column`` (see _index_names) holds for ``value``, or
        None without such an index. The IDL keeps it as rows come and go, so finding a row costs
        no scan even right after a commit; an entry is checked against the row's current value
        (ovs 3.1's IDL does not move a row whose indexed column another client changed)."""
        rows = self.idl.tables[table].rows
        index = getattr(rows, 'indexes', {}).get(column)
        if index is None or [c.column for c in index.columns] != [column]:
            return None
        entry = rows.IndexEntry(**{column: value})
        try:
            return [r for r in index.irange(entry, entry) if getattr(r, column) == value]
        except KeyError:  # an entry of a row that is gone: fall back to a scan
            return None

    def holder(self, table, row, column='ports'):
        """The row of ``table`` whose reference set ``column`` holds ``row``, or None."""
        found = self._index(table, column, True).get(row.uuid)
        return found[0] if found else None

    def holds(self, holder, column, row):
        """True if reference set ``column`` of row ``holder`` holds ``row``: one look-up in the
        IDL's own copy of the set, where :meth:`holder` indexes every row of the table (after each
        commit, thousands of ports over the node switches)."""
        datum = _compat.unchanged_datum(holder, column)
        if datum is not None and datum.type.is_set():
            return ovs.db.data.Atom(datum.type.key.type, row.uuid) in datum.values
        return any(child.uuid == row.uuid for child in getattr(holder, column))

    def holders(self, table, row, column):
        """Every row of ``table`` whose reference set ``column`` holds ``row``."""
        return list(self._index(table, column, True).get(row.uuid, ()))

    def _index(self, table, column, children):
        """{value: [rows]} (or {child uuid: [parent]}) over the IDL copy, rebuilt whenever the
        copy changed. A one-shot module pays one scan as before; a long-lived client (the
        watcher) that looks up thousands of rows between two changes pays one scan in all.
        """
        seqno = self.idl.change_seqno
        key = (table, column, children)
        cached = self._indexes.get(key)
        if cached is not None and cached[0] == seqno:
            return cached[1]
        index = {}
        for row in list(self.idl.tables[table].rows.values()):
            if children:
                for uuid in referenced(row, column):
                    index.setdefault(uuid, []).append(row)
            else:
                index.setdefault(_scalar(row, column), []).append(row)
        self._indexes[key] = (seqno, index)
        return index

    def find_one(self, table, column, value):
        """The row whose ``column`` is ``value``, None, or a Conflict if several."""
        found = self.find(table, column, value)
        if len(found) > 1:
            raise Conflict('the %s holds %d %s rows with %s %s; expected at most one'
                           % (self.label, len(found), table, column, value))
        return found[0] if found else None

    def settle(self):
        """Wait until every transaction queued earlier on this connection has finished.

        For a long-lived client (the watcher): a commit that timed out may still be applied
        later by the connection's thread, and a read made before that would not see it. An
        empty transaction is served after all earlier ones, so once it returns the local copy
        holds their outcome.
        """
        try:
            self.api.create_transaction(check_error=True).commit()
        except ovsdbapp_exceptions.TimeoutException as exc:
            raise OvsdbConnectionError('the %s at %s did not answer in %s seconds: %s'
                                       % (self.label, self.remote, self.timeout, _describe(exc, self.timeout)))
        self.wait_synced()

    def synced(self):
        """True while the IDL is connected (to the leader, for a cluster) and holds its contents."""
        return _compat.synced(self.idl)

    def wait_synced(self):
        """Wait (up to ``timeout``) until :meth:`synced`: after a lost connection or a leader
        change, the IDL reconnects and fetches the new server's contents in its own thread."""
        deadline = time.time() + self.timeout
        while not self.synced():
            if time.time() > deadline:
                raise OvsdbConnectionError('cannot reach the leader of the %s at %s within %s seconds'
                                           % (self.label, self.remote, self.timeout))
            time.sleep(0.02)

    def commit(self, commands):
        """Run ``commands`` (callables taking the API) in one checked transaction."""
        if not commands:
            return
        try:
            # Errors are reported by the caller; ovsdbapp's own logging would only add noise.
            with self.api.transaction(check_error=True, log_errors=False) as txn:
                for make in commands:
                    txn.add(make(self.api))
        except ConnectionLost as exc:
            if exc.in_doubt:
                raise ConnectionLost('the connection to the %s at %s dropped before the server confirmed the change, '
                                     'so it may or may not have been applied' % (self.label, self.remote), True)
            raise ConnectionLost('the connection to the %s at %s dropped before the change was sent'
                                 % (self.label, self.remote), False)
        except OvnK8sError:
            raise
        except ovsdbapp_exceptions.TimeoutException:
            # The request may have reached the server: the change may have landed.
            raise OvsdbConnectionError('the %s at %s did not confirm the change within %s seconds, so it may '
                                       'or may not have been applied; run again to see where it stands'
                                       % (self.label, self.remote, self.timeout))
        except Exception as exc:
            if 'to have identical values' in str(exc):
                # A schema index refused a second row of one name: another client created it
                # since it was read (nothing was written). Plan again, as for a failed guard.
                raise StaleRead('the %s at %s holds a row created meanwhile: %s' % (self.label, self.remote, exc))
            raise TransactionFailed('the %s at %s refused the change: %s'
                                    % (self.label, self.remote, exc))


def _scalar(row, column):
    """The value of a scalar (exactly one value) column, as ``getattr(row, column)`` gives it."""
    datum = _compat.unchanged_datum(row, column)
    if datum is not None and datum.type.is_scalar() and len(datum.values) == 1 and not datum.type.key.ref_table_name:
        return next(iter(datum.values)).value
    return getattr(row, column)


def referenced(row, column):
    """The UUIDs in reference set ``column`` of ``row`` (a group of a thousand load balancers
    read through the IDL's attribute access converted a thousand references per index rebuild)."""
    datum = _compat.unchanged_datum(row, column)
    if datum is not None and datum.type.is_set():
        return [atom.value for atom in datum.values]
    return [child.uuid for child in getattr(row, column)]


def read(row, column):
    """``getattr(row, column)``: the same value, built straight from the IDL's datum when the
    row has no change pending and the column holds no references. (ovs 3.1's attribute access
    turns a set or map datum into a list, back into a datum and then into the value, atom by
    atom, on every read; a restart reads every pod port's columns once.)"""
    datum = _compat.unchanged_datum(row, column)
    if datum is None:
        return getattr(row, column)
    kind = datum.type
    if kind.is_scalar() or kind.key.ref_table_name or (kind.value is not None and kind.value.ref_table_name):
        return getattr(row, column)
    if kind.is_map():
        return dict((k.value, v.value) for k, v in datum.values.items())
    return sorted(set(atom.value for atom in datum.values))


def column_set(row, column):
    """The values of set column ``column`` of ``row`` (atoms, not references) as a Python set,
    read from the IDL's datum without building the list the attribute access would."""
    datum = _compat.unchanged_datum(row, column)
    if datum is not None and datum.type.is_set() and not datum.type.key.ref_table_name:
        return set(atom.value for atom in datum.values)
    return set(getattr(row, column))


# Values -----------------------------------------------------------------
def plain(value):
    """An IDL value as plain data: rows become their names or UUID strings."""
    if isinstance(value, dict):
        return dict((plain(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return sorted((plain(v) for v in value), key=str)
    if hasattr(value, 'uuid') and not isinstance(value, (str, bytes)):
        name = getattr(value, 'name', None)
        return name if isinstance(name, str) and name else str(value.uuid)
    return value
