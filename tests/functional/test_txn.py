# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_txn, the transaction layer, against a real ovsdb-server with the OVN Northbound schema:
change sets compose with their guards, every creation carries one, and a row another client
created meanwhile makes the plan start again instead of leaving two."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sys

import pytest

from conftest import collection_root, nbctl

sys.path.insert(0, collection_root())

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _errors, _nb, _ovsdb, _txn  # noqa: E402
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import merge_tables  # noqa: E402

TABLES = merge_tables(_nb.SWITCH_TABLES, _nb.LSP_TABLES)


def names(remote, table):
    out = nbctl(remote, '--bare', '--columns=name', 'list', table)
    return sorted(line for line in out.splitlines() if line)


def client(remote, **kw):
    return _ovsdb.Client(_ovsdb.NB_DB, remote=remote, tables=TABLES, **kw)


def test_a_merged_change_set_keeps_each_part_s_guard(nb_db):
    """Logical_Switch has no name index: only the guard keeps two switches of one name apart.
    A batch merged from per-object change sets must still fail when another client created one
    of its names after the batch read the database."""
    with client(nb_db) as c:
        batch = _txn.ChangeSet(c)
        for name in ('sw-a', 'sw-b'):
            part = _txn.ChangeSet(c)
            _nb.ensure_switch(part, c, name)
            batch.merge(part)
        assert sorted(batch.after) == ['Logical_Switch sw-a', 'Logical_Switch sw-b'], 'the diff travels too'
        nbctl(nb_db, 'ls-add', 'sw-b')  # another client, after the plan read the database
        with pytest.raises(_errors.StaleRead, match='another client created Logical_Switch sw-b'):
            batch.commit()
    assert names(nb_db, 'Logical_Switch') == ['sw-b'], 'nothing of the batch was written'


def test_commands_cannot_be_taken_without_their_guards(nb_db):
    with client(nb_db) as c:
        cs = _txn.ChangeSet(c)
        _nb.ensure_switch(cs, c, 'sw')
        assert cs.changed and len(cs.commands) == 1
        with pytest.raises(AttributeError):
            cs.commands.extend([])  # a tuple: the guards stay with the change set


def test_every_creation_names_one_guard(nb_db):
    with client(nb_db) as c:
        cs = _txn.ChangeSet(c)
        insert = _txn.insert('Logical_Switch', {'name': 'x'})
        with pytest.raises(ValueError, match='needs exactly one guard'):
            cs.create('Logical_Switch x', {'name': 'x'}, insert)
        with pytest.raises(ValueError, match='needs exactly one guard'):
            cs.create('Logical_Switch x', {'name': 'x'}, insert, unique=('Logical_Switch', 'x'),
                      indexed=('Logical_Switch_Port', 'name'))
        with pytest.raises(ValueError, match='table Logical_Switch has no index on name'):
            cs.create('Logical_Switch x', {'name': 'x'}, insert, indexed=('Logical_Switch', 'name'))
        assert not cs.changed


def test_a_row_the_schema_index_refuses_makes_the_plan_start_again(nb_db):
    """A client whose copy does not show the port (here: a narrow condition) plans to create it;
    the server's index refuses the second row, the client reports a StaleRead (nothing written),
    and plan_and_commit plans again instead of failing on the first refusal."""
    nbctl(nb_db, 'ls-add', 'sw')
    nbctl(nb_db, 'lsp-add', 'sw', 'p1')
    with client(nb_db, conditions={'Logical_Switch_Port': [['name', '==', 'none']]}) as blind:
        cs = _txn.ChangeSet(blind)
        _nb.ensure_lsp(cs, blind, 'sw', 'p1', addresses=['0a:58:0a:80:01:05 10.128.1.5'])
        assert cs.changed, 'the blind client plans the port'
        with pytest.raises(_errors.StaleRead, match='holds a row created meanwhile'):
            cs.commit()
        attempts = []

        def plan(cs_, c):
            attempts.append(1)
            _nb.ensure_lsp(cs_, c, 'sw', 'p1', addresses=['0a:58:0a:80:01:05 10.128.1.5'])

        with pytest.raises(_errors.TransactionFailed, match='kept changing under this run'):
            _txn.plan_and_commit(blind, plan, attempts=3)
        assert len(attempts) == 3, 'planned again after each refusal'
    assert names(nb_db, 'Logical_Switch_Port') == ['p1']


def test_settling_waits_for_earlier_transactions_after_a_connection_error(nb_db):
    with client(nb_db, timeout=3) as c:
        settling = _txn.Settling(c)
        settling.settle()  # nothing pending: no round trip needed
        assert not settling.unsettled
        cs = _txn.ChangeSet(c)
        _nb.ensure_switch(cs, c, 'sw1')
        settling.commit(cs)
        assert names(nb_db, 'Logical_Switch') == ['sw1'] and not settling.unsettled


def test_commit_maps_errors_for_its_caller(nb_db):
    nbctl(nb_db, 'ls-add', 'taken')
    with client(nb_db, timeout=2, conditions={'Logical_Switch': [['name', '==', 'none']]}) as blind:
        cs = _txn.ChangeSet(blind)
        _nb.ensure_switch(cs, blind, 'taken')

        class Mapped(Exception):
            pass

        with pytest.raises(Mapped):
            _txn.commit(cs, on_error=lambda exc: Mapped(str(exc)) if isinstance(exc, _errors.OvnK8sError) else None)
    assert names(nb_db, 'Logical_Switch') == ['taken']
