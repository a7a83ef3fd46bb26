# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""The transaction layer every OVSDB operation of the collection stands on.

``_nb``, ``_nb_lb``, ``_nb_acl``, ``_db_config`` and ``_ovs`` read rows through an
``_ovsdb.Client`` and describe what they want here, as peers:

- **Commands** (:func:`insert`, :func:`add_child`, :func:`assign`, :func:`set_keys`,
  :func:`mutate`, :func:`mutate_values`, :func:`delete`, :func:`unlink`): each is a callable
  ``make(api)`` that gives one ovsdbapp command. A row is named by its UUID when it was read,
  by its name when the same transaction creates it.
- **A change set** (:class:`ChangeSet`): the commands of one task (a module run, a watcher
  batch, a CNI call), the guards that make what the plan read still hold when the server
  applies it, and the before/after diff. Change sets compose: :meth:`ChangeSet.merge` takes
  another's commands, guards and diff together. Every creation names its guard
  (:meth:`ChangeSet.create`), so an insert can never travel without it.
- **One converge** (:func:`converge_row`): the commands and diff that bring a row's columns
  to what is wanted.
- **One commit policy** with three variants: modules plan again when the database moved
  under them (:func:`plan_and_commit`), the watcher settles its connection before the next
  plan and requeues (:class:`Settling`), the CNI plugin maps errors to its codes
  (:func:`commit`'s ``on_error``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _compat
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import (
    ConnectionLost,
    OvsdbConnectionError,
    StaleRead,
    TransactionFailed,
)
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._ovsdb import plain, read

try:
    from ovsdbapp.backend.ovs_idl import command as ovsdbapp_command
except ImportError:  # reported by the client when it connects
    ovsdbapp_command = None


# Commands ---------------------------------------------------------------
if ovsdbapp_command is not None:
    class IdlCommand(ovsdbapp_command.BaseCommand):
        """An ovsdbapp command running ``fn(api, txn)`` inside the transaction."""

        def __init__(self, api, fn):
            super(IdlCommand, self).__init__(api)
            self.fn = fn

        def run_idl(self, txn):
            self.result = self.fn(self.api, txn)
else:
    IdlCommand = None


def command(fn):
    """A command (``make(api)``) running ``fn(api, txn)`` inside the transaction."""
    return lambda api: IdlCommand(api, fn)


def key_of(row, name):
    """How a command names a row: its UUID when it was read (``row``), else ``name`` (a row
    the same transaction creates, looked up inside it)."""
    return row.uuid if row is not None else name


def find_in_txn(api, table, key, txn=None):
    """The row of ``table`` with UUID ``key``, or named ``key`` (a string). Given the IDL
    transaction ``txn``, a name is first looked for among the rows that transaction inserts
    (a port created in it, referenced by the next command), not over the whole table."""
    rows = api.tables[table].rows
    if not isinstance(key, str):
        row = rows.get(key)
        if row is None:
            raise RuntimeError('%s row %s was deleted meanwhile' % (table, key))
        return row
    if txn is not None:
        inserted = [r for r in _compat.rows_inserted(txn, table) if getattr(r, 'name', None) == key]
        if len(inserted) == 1:
            return inserted[0]
    found = [r for r in rows.values() if getattr(r, 'name', None) == key]
    if len(found) != 1:
        raise RuntimeError('%s %s: expected one row by that name, found %d' % (table, key, len(found)))
    return found[0]


def insert(table, columns, refs=None, parents=()):
    """Insert a root-table row with plain ``columns`` and reference sets ``refs``
    {column: [(table, key)]}, and add it to the reference set of each of ``parents``
    [(table, key, column)]."""
    def run(api, txn):
        row = txn.insert(api.tables[table])
        for col, val in columns.items():
            setattr(row, col, val)
        for col, targets in (refs or {}).items():
            setattr(row, col, [find_in_txn(api, t, k, txn) for t, k in targets])
        for t, k, col in parents:
            find_in_txn(api, t, k, txn).addvalue(col, row)
        return row.uuid
    return command(run)


def add_child(table, parent_table, parent, column, values):
    """Insert a row of a non-root table with plain ``values`` and link it from reference set
    ``column`` of its parent (a key: see :func:`key_of`)."""
    def run(api, txn):
        owner = find_in_txn(api, parent_table, parent, txn)
        row = txn.insert(api.tables[table])
        for col, val in values.items():
            setattr(row, col, val)
        owner.addvalue(column, row)
        return row.uuid
    return command(run)


def assign(table, key, column, value):
    """Replace the whole value of ``column``."""
    def run(api, txn):
        setattr(find_in_txn(api, table, key, txn), column, value)
    return command(run)


def set_keys(table, key, column, update=None, stale=()):
    """Set some keys of a map column and delete others, as mutations (other keys stay)."""
    def run(api, txn):
        row = find_in_txn(api, table, key, txn)
        for k in stale:
            row.delkey(column, k)
        for k, v in sorted((update or {}).items()):
            row.setkey(column, k, v)
    return command(run)


def mutate(table, key, column, add=(), remove=()):
    """Insert into and delete from a reference set column ([(table, key)] each)."""
    def run(api, txn):
        row = find_in_txn(api, table, key, txn)
        for t, k in remove:
            row.delvalue(column, find_in_txn(api, t, k, txn))
        for t, k in add:
            row.addvalue(column, find_in_txn(api, t, k, txn))
    return command(run)


def mutate_values(table, key, column, add=(), remove=()):
    """Insert plain values into and delete them from a set column."""
    def run(api, txn):
        row = find_in_txn(api, table, key, txn)
        for v in remove:
            row.delvalue(column, v)
        for v in add:
            row.addvalue(column, v)
    return command(run)


def delete(table, key):
    """Delete a row (rows of non-root tables go with their last parent: see :func:`unlink`)."""
    def run(api, txn):
        find_in_txn(api, table, key, txn).delete()
    return command(run)


def unlink(parent_table, parent_key, column, child_uuid):
    """Take a child out of its parent's reference set; a row of a non-root table vanishes once
    no parent refers to it."""
    def run(api, txn):
        find_in_txn(api, parent_table, parent_key, txn).delvalue(column, child_uuid)
    return command(run)


# Guards -----------------------------------------------------------------
if ovsdbapp_command is not None:
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
            others = [r for r in _rows_with(self.api.idl.tables[self.table].rows, self.column, self.name)
                      if not _compat.inserted_here(r)]
            if others:
                raise StaleRead('another client created %s %s' % (self.table, self.name))
            if not self.wait:
                return
            ours = _compat.inserted_with(txn, self.table, self.column, self.name)
            where = [[self.column, '==', self.name]] + [['_uuid', '!=', _compat.uuid_ref(r)] for r in ours]
            _compat.add_op(txn, {'op': 'wait', 'table': self.table, 'timeout': 0, 'where': where,
                                 'columns': ['_uuid'], 'until': '==', 'rows': []})


def _rows_with(rows, column, value):
    """The rows of an IDL table whose ``column`` is ``value``: through the IDL's own index of
    the column when there is one (see _compat.index_names), so that a batch of a thousand new
    ports checks a thousand names without scanning the table each time."""
    index = getattr(rows, 'indexes', {}).get(column)
    if index is not None and [c.column for c in index.columns] == [column]:
        entry = rows.IndexEntry(**{column: value})
        try:
            return [r for r in index.irange(entry, entry) if getattr(r, column) == value]
        except KeyError:  # an entry of a row that is gone: scan
            pass
    return [r for r in rows.values() if getattr(r, column) == value]


# Change sets ------------------------------------------------------------
def _same(current, wanted):
    if isinstance(wanted, (list, tuple, set)):
        return plain(current) == plain(list(wanted))
    return plain(current) == plain(wanted)


def converge_row(table, row, wanted, exact=()):
    """(before, after, commands) that bring existing ``row`` to ``wanted`` {column: value}.

    Map columns keep keys not named in ``wanted`` unless the column is in ``exact``, and a key
    whose wanted value is None is removed; they are written as key mutations, so that keys
    another writer sets meanwhile stay. Other columns are replaced when they differ.
    """
    before, after, commands = {}, {}, []
    for column, value in wanted.items():
        current = read(row, column)
        if isinstance(current, dict):
            target = dict(value) if column in exact else dict(current, **value)
            target = dict((k, v) for k, v in target.items() if v is not None)
            if plain(current) == plain(target):
                continue
            stale = [k for k in current if k not in target]
            update = dict((k, v) for k, v in target.items() if current.get(k) != v)
            commands.append(set_keys(table, row.uuid, column, update, stale))
            before[column], after[column] = plain(current), plain(target)
        elif not _same(current, value):
            commands.append(assign(table, row.uuid, column, value))
            before[column], after[column] = plain(current), plain(value)
    return before, after, commands


class ChangeSet:
    """What one task (a module run, a watcher batch, a CNI call) changes, and how.

    Entries are keyed by a label such as ``Logical_Switch_Port pod1``; the diff is built from
    the rows that were read, before anything is written. The commands travel with their
    guards: only :meth:`commit` sends them, and :meth:`merge` is the one way to take another
    change set's work, guards and diff included.
    """

    def __init__(self, client):
        self.client = client
        self.before = {}
        self.after = {}
        # Planning state of the functions that fill this change set (what they read once and
        # keep up to date as they add commands): see memo().
        self._memo = {}
        self._commands = []
        # Checks that make what was read hold at commit time (see expect_unchanged/expect_unique).
        self._checks_before = []
        self._checks_after = []

    @property
    def changed(self):
        return bool(self._commands)

    @property
    def commands(self):
        """The commands so far, read-only: a caller that took them alone would leave their
        guards behind (use :meth:`merge`)."""
        return tuple(self._commands)

    @property
    def diff(self):
        return {'before': self.before, 'after': self.after}

    def memo(self, key, make=None):
        """What ``make()`` returned the first time ``key`` was asked of this change set (without
        ``make``: that, or None when it was never asked)."""
        if key not in self._memo:
            if make is None:
                return None
            self._memo[key] = make()
        return self._memo[key]

    def record(self, label, before, after, commands):
        if not commands:
            return
        self.note(label, before, after)
        self._commands.extend(commands)

    def note(self, label, before, after):
        """Show ``label`` in the diff without a command of its own (another command makes the
        change, such as an insert that also joins its group). Two steps of one task that touch
        one object keep the first before and the last after."""
        self.before.setdefault(label, before)
        self.after[label] = after

    def will_create(self, label):
        return label in self.after and self.before.get(label) is None

    def create(self, label, after, commands, unique=None, indexed=None, under=None):
        """Record the creation of ``label`` by ``commands`` (one command or a list), with the
        server-side guard that keeps another client (or a lost transaction planned again) from
        leaving two rows where one is meant. Exactly one is given:

        - ``unique`` = (table, name[, column]): the server checks that no other row has it
          (:meth:`expect_unique`), for tables whose schema has no such index;
        - ``indexed`` = (table, column): the schema's own unique index on that column, which the
          server enforces without scanning the table (checked here against the schema the
          client fetched; ``after`` holds the new row's value of the column);
        - ``under`` = (table, row, columns): the parent's reference columns must still hold what
          was read (:meth:`expect_unchanged`), for rows of non-root tables; ``row`` None when the
          parent is created by this change set, whose own guard then covers the child.
        """
        guards = [g for g in (unique, indexed, under) if g is not None]
        if len(guards) != 1:
            raise ValueError('creating %s needs exactly one guard (unique, indexed or under)' % label)
        if unique is not None:
            self.expect_unique(*unique)
        elif indexed is not None:
            table, column = indexed
            schema = self.client.idl.tables[table]
            if not any([c.name for c in index] == [column] for index in schema.indexes):
                raise ValueError('creating %s: table %s has no index on %s; guard it with unique='
                                 % (label, table, column))
            # The server refuses a second row of that name (the client reports it as StaleRead);
            # the local copy is checked first, before ovsdbapp's own "exists" errors.
            name = after.get(column) if isinstance(after, dict) else None
            if name is not None:
                self._checks_before.append(lambda api: _OnlyOurs(api, table, column, name, wait=False))
        else:
            table, row, columns = under
            if row is not None:
                self.expect_unchanged(table, row, columns)
            # else: the parent is created by this change set, and its own guard covers the child.
        if not isinstance(commands, (list, tuple)):
            commands = [commands]
        self.record(label, None, after, list(commands))

    def expect_unchanged(self, table, row, columns):
        """Commit only if ``columns`` of ``row`` still hold what was read (OVSDB ``verify``).

        For reads the plan depends on, such as the routes of a shared router: when another
        client changed them before this change set commits, it raises :class:`StaleRead`.
        """
        snapshot = dict((c, plain(getattr(row, c))) for c in columns)
        self._checks_before.append(lambda api: _Unchanged(api, table, row.uuid, snapshot))

    def expect_unique(self, table, name, column='name'):
        """Commit only if no other row of ``table`` has ``column`` == ``name`` (OVSDB ``wait``)."""
        # Before the commands: the local copy (ovsdbapp's own "exists" errors would come first);
        # after them: the server, excluding the row this transaction inserts.
        self._checks_before.append(lambda api: _OnlyOurs(api, table, column, name, wait=False))
        self._checks_after.append(lambda api: _OnlyOurs(api, table, column, name))

    def delete(self, label, row, columns, command_):
        before = dict((c, plain(getattr(row, c))) for c in columns)
        self.record(label, before, None, [command_])

    def converge(self, label, table, row, wanted, purge=()):
        """Converge existing ``row`` towards ``wanted`` (:func:`converge_row`; map columns in
        ``purge`` are converged exactly). Returns True when it changes."""
        before, after, commands = converge_row(table, row, wanted, exact=purge)
        self.record(label, before, after, commands)
        return bool(commands)

    def merge(self, other):
        """Take ``other``'s commands, guards and diff into this change set (a watcher batch
        gathers each pod's change set this way: each keeps its guards)."""
        if other.client is not self.client:
            raise ValueError('change sets of two clients cannot be merged')
        for label, before in other.before.items():
            self.before.setdefault(label, before)
        self.after.update(other.after)
        self._commands.extend(other._commands)  # pylint: disable=protected-access
        self._checks_before.extend(other._checks_before)  # pylint: disable=protected-access
        self._checks_after.extend(other._checks_after)  # pylint: disable=protected-access

    def commit(self, check_mode=False):
        """Send the commands, in one checked transaction, between their guards."""
        if not check_mode and self._commands:
            # Verify before writing (the IDL ignores a verify of a column already written);
            # name checks after the inserts they must tell apart from other clients' rows.
            self.client.commit(self._checks_before + self._commands + self._checks_after)

    def result(self, **extra):
        out = dict(changed=self.changed, diff=self.diff)
        out.update(extra)
        return out


# Commit policies --------------------------------------------------------
def commit(cs, check_mode=False, on_error=None):
    """Commit ``cs``; with ``on_error``, an error of the collection is passed to it and what it
    returns is raised instead (the CNI plugin's error codes)."""
    try:
        cs.commit(check_mode=check_mode)
    except Exception as exc:
        replacement = on_error(exc) if on_error is not None else None
        if replacement is None:
            raise
        raise replacement


def plan_and_commit(client, plan, check_mode=False, attempts=5):
    """Fill a :class:`ChangeSet` with ``plan(cs, client)`` and commit it (the modules' policy).

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
    new plan makes it. Inserts also carry a guard the server checks (see
    :meth:`ChangeSet.create`), for the case where a new leader shows its copy before it has
    applied the lost transaction from its log: the new insert then fails its guard, and the
    run plans once more.
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


class Settling:
    """The watcher's policy for its long-lived client: a commit that failed on the connection
    may still land later, so the next plan first waits until every earlier transaction has
    finished (:meth:`settle`, under the caller's lock); the caller requeues the work."""

    def __init__(self, client):
        self.client = client
        self.unsettled = False

    def settle(self):
        if self.unsettled:
            self.client.settle()
            self.unsettled = False

    def commit(self, cs):
        try:
            cs.commit()
        except OvsdbConnectionError:
            self.unsettled = True
            raise
