# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""The OVSDB core every module, role and the watcher stands on.

It connects to one database (the OVN Northbound database or the local Open
vSwitch database) through ovsdbapp, registers only the tables a caller asks
for, and offers read-compare-commit in one place: callers read rows from the
local IDL copy, describe what they want in a :class:`ChangeSet`, and the
change set computes ``changed`` and a before/after diff from what was read and
commits every command in one checked transaction.

A remote may name every member of a clustered (RAFT) database, comma-separated
as OVS writes it (``ssl:a:6641,ssl:b:6641,ssl:c:6641``). The IDL then talks
only to the cluster's leader and moves to the new one when the leader changes.
A transaction cut off by such a move is never replayed as it was: the
connection loss surfaces as :class:`ConnectionLost`, and
:func:`plan_and_commit` reads the new leader's copy and plans again, so a
change that did land before the reply was lost is found done and is not made
twice (see :func:`plan_and_commit`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import inspect
import os
import ssl
import time
import traceback

OVSDBAPP_IMPORT_ERROR = None
try:
    import ovs.db.data
    import ovs.db.idl
    import ovs.db.types
    from ovs.db import custom_index
    import ovs.jsonrpc
    import ovs.poller
    import ovs.stream
    from ovsdbapp.backend.ovs_idl import command as ovsdbapp_command
    from ovsdbapp.backend.ovs_idl import connection as ovsdbapp_connection
    from ovsdbapp.backend.ovs_idl import idlutils
    from ovsdbapp import exceptions as ovsdbapp_exceptions
except ImportError:
    OVSDBAPP_IMPORT_ERROR = traceback.format_exc()

NB_DB = 'OVN_Northbound'
SB_DB = 'OVN_Southbound'
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


class OvnK8sError(Exception):
    """Base of every error the collection reports; its text is the message."""


class OvsdbConnectionError(OvnK8sError):
    """The database could not be reached or did not answer in time."""


class InvalidInput(OvnK8sError):
    """A parameter is malformed or contradicts itself."""


class Conflict(OvnK8sError):
    """The database holds something that contradicts the request."""


class TransactionFailed(OvnK8sError):
    """The database refused or failed a transaction."""


class ConnectionLost(OvsdbConnectionError):
    """The connection dropped (or the leader changed) while a transaction was on its way.

    ``in_doubt`` is True when the request had been sent: the server may have applied it.
    Plan again once the client has caught up with its new server (:meth:`Client.settle`).
    """

    def __init__(self, message, in_doubt):
        super(ConnectionLost, self).__init__(message)
        self.in_doubt = in_doubt


class StaleRead(OvnK8sError):
    """Something a plan was computed from changed before the plan committed.

    Nothing was written; :func:`plan_and_commit` plans again from the new state.
    """


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
        _index_names(idl)
        self.connection = ovsdbapp_connection.Connection(idl, timeout)
        try:
            self.connection.start()
        except Exception as exc:
            raise OvsdbConnectionError('cannot read the %s at %s: %s'
                                       % (self.label, self.remote, _describe(exc, timeout)))
        self.api = _api_class(database)(self.connection)
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
            if not found:
                # Not there, or renamed by another client (ovs 3.1's IDL keeps such a row under
                # its old value): the scan says for sure.
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
        datum = _unchanged_datum(holder, column)
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
        idl = self.idl
        session = idl._session  # pylint: disable=protected-access
        # _last_seqno: the IDL has seen the latest (re)connection and restarted its fetch.
        return (session.is_connected() and getattr(idl, '_last_seqno', session.get_seqno()) == session.get_seqno()
                and idl.state == idl.IDL_S_MONITORING)

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
            raise TransactionFailed('the %s at %s refused the change: %s'
                                    % (self.label, self.remote, exc))


def _unchanged_datum(row, column):
    """The IDL's own datum of ``column`` of ``row`` when the row has no change pending, else None.

    The IDL's attribute access rebuilds the value on every read (ovs 3.1: a whole set is
    converted, atom by atom); an index over thousands of rows, rebuilt after each commit, pays
    that for every row.
    """
    own = row.__dict__
    data = own.get('_data')
    if data is None or column not in data or own.get('_changes') or own.get('_mutations'):
        return None
    return data[column]


def _scalar(row, column):
    """The value of a scalar (exactly one value) column, as ``getattr(row, column)`` gives it."""
    datum = _unchanged_datum(row, column)
    if datum is not None and datum.type.is_scalar() and len(datum.values) == 1 and not datum.type.key.ref_table_name:
        return next(iter(datum.values)).value
    return getattr(row, column)


def referenced(row, column):
    """The UUIDs in reference set ``column`` of ``row`` (a group of a thousand load balancers
    read through the IDL's attribute access converted a thousand references per index rebuild)."""
    datum = _unchanged_datum(row, column)
    if datum is not None and datum.type.is_set():
        return [atom.value for atom in datum.values]
    return [child.uuid for child in getattr(row, column)]


def read(row, column):
    """``getattr(row, column)``: the same value, built straight from the IDL's datum when the
    row has no change pending and the column holds no references. (ovs 3.1's attribute access
    turns a set or map datum into a list, back into a datum and then into the value, atom by
    atom, on every read; a restart reads every pod port's columns once.)"""
    datum = _unchanged_datum(row, column)
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
    datum = _unchanged_datum(row, column)
    if datum is not None and datum.type.is_set() and not datum.type.key.ref_table_name:
        return set(atom.value for atom in datum.values)
    return set(getattr(row, column))


def _index_names(idl):
    """Index every table's schema index column (``name``) before the first read.

    ovsdbapp creates these itself only for an API built before its connection starts, and
    without them every ``lsp_add``/``lookup`` by name scans the whole table: one port in a
    transaction of thousands then costs a scan each (the watcher's batches). A scalar string
    column gets a :class:`_ValueIndex`.
    """
    get_column = getattr(idlutils, 'get_index_column', None)
    index_name = getattr(idlutils, 'index_name', None)
    if get_column is None or index_name is None:
        return
    for table in idl.tables.values():
        column = get_column(table)
        rows = table.rows
        if column and index_name(column) not in getattr(rows, 'indexes', {'': None}):
            try:
                kind = table.columns[column].type
                if kind.is_scalar() and kind.key.type == ovs.db.types.StringType:
                    index = rows.indexes[index_name(column)] = _ValueIndex(index_name(column))
                else:
                    index = rows.index_create(index_name(column))
                index.add_column(column)
            except (AttributeError, KeyError, ValueError):
                pass


if not OVSDBAPP_IMPORT_ERROR:
    class _ValueIndex(custom_index.MultiColumnIndex):
        """An index of one scalar string column, ascending, kept sorted by the column's values.

        ovs's own index sorts its entries through ``functools.cmp_to_key`` of a Python method,
        so that each step of every insertion and look-up calls it: a sixth of the time the
        watcher took to load its copy of 5,000 ports, and half of each look-up by name. Here
        the value is taken once per entry and compared natively: for strings the same order."""

        def clear(self):
            self.values = custom_index.sortedcontainers.SortedListWithKey(key=self._value)

        def _value(self, entry):
            return getattr(entry, self.columns[0].column)


def _api_class(database):
    """A fresh API class for each client.

    ovsdbapp keeps the connection in a class attribute that is set only once, so a second
    client in the same process (a test, the watcher, ``other_view``) would talk through the
    first client's (perhaps stopped) connection; a subclass per client gives each its own.
    """
    if database == NB_DB:
        from ovsdbapp.schema.ovn_northbound import impl_idl as nb_impl_idl
        return _following_api(nb_impl_idl.OvnNbApiIdlImpl)
    if database == SB_DB:
        from ovsdbapp.schema.ovn_southbound import impl_idl as sb_impl_idl
        return _following_api(sb_impl_idl.OvnSbApiIdlImpl)
    return _no_wait_ovs_api()  # a new class on every call already


def _following_api(base):
    """A subclass of ovsdbapp's API class ``base`` whose transactions follow a lost connection
    (see _transaction_class)."""
    class Api(base):
        def create_transaction(self, check_error=False, log_errors=True, **kwargs):
            return _transaction_class()(self, self.ovsdb_connection, self.ovsdb_connection.timeout,
                                        check_error, log_errors)
    return Api


_TRANSACTION_CLASS = []


def _transaction_class():
    """ovsdbapp's transaction, whose IDL transactions report a lost connection (see _FollowingTxn)."""
    if not _TRANSACTION_CLASS:
        from ovsdbapp.backend.ovs_idl import transaction

        class Transaction(transaction.Transaction):
            def pre_commit(self, txn):
                txn.__class__ = _FollowingTxn
        _TRANSACTION_CLASS.append(Transaction)
    return _TRANSACTION_CLASS[0]


def _no_wait_ovs_api():
    """ovsdbapp's Open_vSwitch API, committing like ``ovs-vsctl --no-wait``.

    The stock API bumps ``next_cfg`` and then waits for ovs-vswitchd to
    reconfigure, so without a running ovs-vswitchd every commit would time out
    after it was written. Callers that need ovs-vswitchd's work (a bridge's
    netdev) wait for that very thing instead (see ``_netlink.wait_link``).
    """
    from ovsdbapp.schema.open_vswitch import impl_idl

    class NoWaitTransaction(_transaction_class()):
        def pre_commit(self, txn):
            super(NoWaitTransaction, self).pre_commit(txn)
            # add_port records the interfaces it inserts here; nobody waits for them.
            txn.expected_ifaces = set()

    class NoWaitApi(impl_idl.OvsdbIdl):
        def create_transaction(self, check_error=False, log_errors=True, **kwargs):
            return NoWaitTransaction(self, self.ovsdb_connection, self.ovsdb_connection.timeout,
                                     check_error, log_errors)

    return NoWaitApi


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


def _same(current, wanted):
    if isinstance(wanted, (list, tuple, set)):
        return plain(current) == plain(list(wanted))
    return plain(current) == plain(wanted)


class ChangeSet:
    """What one module run (or one watcher event) changes, and how.

    Entries are keyed by a label such as ``Logical_Switch_Port pod1``; the
    diff is built from the rows that were read, before anything is written.
    """

    def __init__(self, client):
        self.client = client
        self.before = {}
        self.after = {}
        self.commands = []
        # Checks that make what was read hold at commit time (see expect_unchanged/expect_unique).
        self.checks_before = []
        self.checks_after = []

    @property
    def changed(self):
        return bool(self.commands)

    @property
    def diff(self):
        return {'before': self.before, 'after': self.after}

    def record(self, label, before, after, commands):
        if not commands:
            return
        if label in self.before or label in self.after:
            # Two steps of one run touch one object: keep the first before and the last after.
            self.before.setdefault(label, before)
        else:
            self.before[label] = before
        self.after[label] = after
        self.commands.extend(commands)

    def will_create(self, label):
        return label in self.after and self.before.get(label) is None

    def create(self, label, after, command, unique=None):
        """Record the creation of ``label``; ``unique`` = (table, name) of a row found by name.

        With ``unique`` the commit fails with :class:`StaleRead` (and the run plans again)
        when another client created a row of that name since it was read, instead of
        leaving two rows of one name.
        """
        self.record(label, None, after, [command])
        if unique:
            self.expect_unique(*unique)

    def expect_unchanged(self, table, row, columns):
        """Commit only if ``columns`` of ``row`` still hold what was read (OVSDB ``verify``).

        For reads the plan depends on, such as the routes of a shared router: when another
        client changed them before this change set commits, it raises :class:`StaleRead`.
        """
        snapshot = dict((c, plain(getattr(row, c))) for c in columns)
        self.checks_before.append(lambda api: _Unchanged(api, table, row.uuid, snapshot))

    def expect_unique(self, table, name, column='name'):
        """Commit only if no other row of ``table`` has ``column`` == ``name`` (OVSDB ``wait``)."""
        # Before the commands: the local copy (ovsdbapp's own "exists" errors would come first);
        # after them: the server, excluding the row this transaction inserts.
        self.checks_before.append(lambda api: _OnlyOurs(api, table, column, name, wait=False))
        self.checks_after.append(lambda api: _OnlyOurs(api, table, column, name))

    def delete(self, label, row, columns, command):
        before = dict((c, plain(getattr(row, c))) for c in columns)
        self.record(label, before, None, [command])

    def converge(self, label, table, row, wanted, purge=()):
        """Converge existing ``row`` towards ``wanted`` {column: value}.

        Map columns keep keys not named in ``wanted`` unless the column is in
        ``purge``, and a key whose wanted value is None is removed; other
        columns are replaced. Returns True when it changes.
        """
        before, after, commands = {}, {}, []
        for column, value in wanted.items():
            current = read(row, column)
            if isinstance(current, dict):
                target = dict(value) if column in purge else dict(current, **value)
                target = dict((k, v) for k, v in target.items() if v is not None)
                if plain(current) == plain(target):
                    continue
                stale = [k for k in current if k not in target]
                update = dict((k, v) for k, v in target.items() if current.get(k) != v)
                if stale:
                    commands.append(remove_keys(table, row.uuid, column, stale))
                if update:
                    commands.append(_set_column(table, row.uuid, column, update))
                before[column], after[column] = plain(current), plain(target)
            elif not _same(current, value):
                commands.append(_set_column(table, row.uuid, column, value))
                before[column], after[column] = plain(current), plain(value)
        self.record(label, before, after, commands)
        return bool(commands)

    def commit(self, check_mode=False):
        if not check_mode and self.commands:
            # Verify before writing (the IDL ignores a verify of a column already written);
            # name checks after the inserts they must tell apart from other clients' rows.
            self.client.commit(self.checks_before + self.commands + self.checks_after)

    def result(self, **extra):
        out = dict(changed=self.changed, diff=self.diff)
        out.update(extra)
        return out


def plan_and_commit(client, plan, check_mode=False, attempts=5):
    """Fill a :class:`ChangeSet` with ``plan(cs, client)`` and commit it.

    When another client changed what the plan read before it committed (a
    :class:`StaleRead`; nothing was written), plan again from the database's new
    state, so that concurrent runs converge instead of stepping on each other.
    Returns the committed change set and what ``plan`` returned.

    A lost connection (a cluster member went away, the leader changed, a reply never came)
    is handled the same way: wait until the client holds the contents of the (new) leader
    and plan again; the commands of the lost transaction are never sent again as they were.
    That is what keeps a change from being made twice: a plan only writes what differs
    between the copy it read and what is wanted, and every write sets a value or adds/removes
    set members, which is a no-op when repeated. If the lost transaction landed, the new plan
    is empty and the run reports the change it made (the in-doubt plan); if it did not, the
    new plan makes it. Inserts also carry a guard the server checks (a schema name index,
    :meth:`ChangeSet.expect_unique`, or :meth:`ChangeSet.expect_unchanged` on the parent's
    reference column), for the case where a new leader shows its copy before it has applied
    the lost transaction from its log: the new insert then fails its guard, and the run plans
    once more.
    """
    in_doubt = None
    for attempt in range(1, attempts + 1):
        cs = ChangeSet(client)
        more = plan(cs, client) or {}
        try:
            cs.commit(check_mode=check_mode)
        except StaleRead as exc:
            if attempt == attempts:
                raise TransactionFailed('the %s at %s kept changing under this run (%d attempts, last: %s); '
                                        'nothing was written, run again'
                                        % (client.label, client.remote, attempts, exc))
            continue
        except ConnectionLost as exc:
            if attempt == attempts:
                raise
            if exc.in_doubt and in_doubt is None:
                in_doubt = (cs, more)
            client.wait_synced()
            continue
        if in_doubt is not None and not cs.changed:
            return in_doubt
        return cs, more
    return None, None  # not reached


def _uuid_ref(row):
    """How an operation of the same transaction refers to ``row`` (maybe inserted by it)."""
    if getattr(row, '_data', True) is None and not getattr(row, '_persist_uuid', False):
        # The IDL names the rows it inserts "row<uuid with underscores>" (ovs.db.idl).
        return ['named-uuid', 'row' + str(row.uuid).replace('-', '_')]
    return ['uuid', str(row.uuid)]


def _add_op(txn, op):
    """Add a raw OVSDB operation to the IDL transaction ``txn`` (it runs after the others)."""
    if hasattr(txn, 'add_op'):
        txn.add_op(op)
        return
    # ovs before 3.2 (Debian 12's python3-openvswitch) has no add_op: append at send time.
    if not isinstance(txn, _TxnWithOps):
        txn.__class__ = _TxnWithOps  # a _FollowingTxn too
        txn.extra_ops = []
    txn.extra_ops.append(op)


if OVSDBAPP_IMPORT_ERROR is None:
    class _FollowingTxn(ovs.db.idl.Transaction):
        """An IDL transaction that raises :class:`ConnectionLost` instead of a silent TRY_AGAIN.

        The IDL answers TRY_AGAIN both when the server refused a ``verify``/``wait`` (nothing was
        written: ovsdbapp runs the commands again on the new contents, as before) and when the
        connection dropped or moved to a new cluster leader. In the second case the request may
        have been applied and the IDL's copy is being replaced, so running the same commands again
        is not safe (an insert would be made twice): the caller plans again from the new copy.
        """

        def commit_block(self):
            session = self.idl._session  # pylint: disable=protected-access
            seqno = session.get_seqno()
            sent = False
            while True:
                status = self.commit()
                if status != self.INCOMPLETE:
                    break
                sent = True
                self.idl.run()
                poller = ovs.poller.Poller()
                self.idl.wait(poller)
                self.wait(poller)
                poller.block()
            if status == self.TRY_AGAIN and (session.get_seqno() != seqno or not session.is_connected()
                                             or self.idl.state != self.idl.IDL_S_MONITORING):
                raise ConnectionLost('the connection dropped during a transaction', sent)
            return status

    class _TxnWithOps(_FollowingTxn):
        """An IDL transaction that sends ``extra_ops`` after its own operations."""

        def commit(self):
            session = self.idl._session  # pylint: disable=protected-access

            def send(msg, _send=session.send):
                if msg.type == ovs.jsonrpc.Message.T_REQUEST and msg.method == 'transact':
                    msg.params.extend(self.extra_ops)
                return _send(msg)

            session.send = send
            try:
                return super(_TxnWithOps, self).commit()
            finally:
                del session.send

    class _Unchanged(ovsdbapp_command.BaseCommand):
        """Fail the transaction unless columns of a row still hold what the plan read."""

        def __init__(self, api, table, uuid, snapshot):
            super(_Unchanged, self).__init__(api)
            self.table, self.uuid, self.snapshot = table, uuid, snapshot

        def run_idl(self, txn):
            row = self.api.idl.tables[self.table].rows.get(self.uuid)
            if row is None:
                raise StaleRead('%s %s was removed by another client' % (self.table, self.uuid))
            for column, value in self.snapshot.items():
                if plain(getattr(row, column)) != value:
                    raise StaleRead('another client changed %s of %s %s'
                                    % (column, self.table, plain(getattr(row, 'name', self.uuid))))
            # The server checks it again when it commits: a change in between means TRY_AGAIN,
            # and ovsdbapp's retry runs this command again on the new state.
            for column in self.snapshot:
                row.verify(column)

    class _OnlyOurs(ovsdbapp_command.BaseCommand):
        """Fail the transaction if a row of that name exists that this transaction did not insert."""

        def __init__(self, api, table, column, name, wait=True):
            super(_OnlyOurs, self).__init__(api)
            self.table, self.column, self.name, self.wait = table, column, name, wait

        def run_idl(self, txn):
            rows = [r for r in self.api.idl.tables[self.table].rows.values()
                    if getattr(r, self.column) == self.name]
            ours = [r for r in rows if getattr(r, '_data', True) is None]
            if len(ours) != len(rows):
                raise StaleRead('another client created %s %s' % (self.table, self.name))
            if not self.wait:
                return
            where = [[self.column, '==', self.name]] + [['_uuid', '!=', _uuid_ref(r)] for r in ours]
            _add_op(txn, {'op': 'wait', 'table': self.table, 'timeout': 0, 'where': where,
                          'columns': ['_uuid'], 'until': '==', 'rows': []})


def _set_column(table, uuid, column, value):
    def make(api):
        # ovsdbapp 3 skips a missing row unless told otherwise; ovsdbapp 2 (Debian 12) always fails.
        if 'if_exists' in inspect.signature(api.db_set).parameters:
            return api.db_set(table, uuid, (column, value), if_exists=False)
        return api.db_set(table, uuid, (column, value))
    return make


def remove_keys(table, uuid, column, keys):
    return lambda api: api.db_remove(table, uuid, column, *keys, if_exists=False)
