# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_compat.install_quick_datum: the quicker ``Datum.from_json`` gives what the original gives, for every
column type of the Northbound schema and for values of every shape, good and bad, and a whole
copy loaded through it holds the same rows."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import json

from ovs.db import data, schema, types

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _compat, _ovsdb
from ovsdb_server import NB_SCHEMA  # tests/lib

U1, U2 = '2b4f6c1e-0b7a-4d59-9d8e-1f2a3b4c5d6e', 'a0000000-0000-4000-8000-000000000001'


def original(type_, value, symtab=None):
    return _compat._DATUM_ORIGINAL.get('from_json', data.Datum.from_json)(type_, value, symtab)


def atoms(base):
    """JSON atoms for a column's key or value type: right ones, wrong ones, edge ones."""
    out = [1, 0, -1, 4095, 4096, 2 ** 40, 3.0, 2.5, True, False, 'x', '', 'tcp', 'a' * 300,
           ['uuid', U1], ['uuid', 'not-a-uuid'], ['named-uuid', 'row1'], None, {}]
    if base.enum is not None:
        out += sorted(atom.value for atom in base.enum.values)
    return out


def shapes(type_):
    keys = atoms(type_.key)
    values = atoms(type_.value) if type_.value is not None else [None]
    for k in keys:
        yield k
        yield ['set', [k]]
        yield ['set', [k, k]]                      # a duplicate
        for v in values[:4] + values[-2:]:
            yield ['map', [[k, v]]]
            yield ['map', [[k, v], [k, v]]]
    for k1, k2 in itertools.combinations(keys[:8], 2):
        yield ['set', [k1, k2]]
        yield ['map', [[k1, values[0]], [k2, values[-1]]]]
    yield ['set', []]
    yield ['map', []]
    yield ['set', [['uuid', U1], ['uuid', U2]]]
    yield ['map', [['a', 'b'], ['c', 'd']]]
    yield ['map', ['a', 'b']]                      # pairs that are not pairs
    yield ['map', [['a']]]
    yield ['set']
    yield ['map', ('a', 'b')]
    yield 'plain'


def outcome(func, type_, value, symtab=None):
    try:
        d = func(type_, value, symtab)
    except Exception as e:  # the same error, in the same words
        return ('error', type(e).__name__, str(e))
    assert isinstance(d, data.Datum) and d.type is type_
    return ('datum', sorted((k.type.name, type(k.value).__name__, k.value,
                             None if v is None else (v.type.name, type(v.value).__name__, v.value))
                            for k, v in d.values.items()))


def test_quick_datums_are_the_originals_for_every_northbound_column():
    _compat.install_quick_datum()
    assert data.Datum.from_json is _compat.datum_from_json, 'installed'
    first = dict(_compat._DATUM_ORIGINAL)
    _compat.install_quick_datum()  # a second install keeps the originals
    assert _compat._DATUM_ORIGINAL == first and first['from_json'] is not _compat.datum_from_json
    with open(NB_SCHEMA) as f:
        nb = schema.DbSchema.from_json(json.load(f))
    kinds, quick = set(), 0
    for table in nb.tables.values():
        for column in table.columns.values():
            t = column.type
            kind = json.dumps(t.to_json(), sort_keys=True)
            if kind in kinds:
                continue                           # the same type as a column already tried
            kinds.add(kind)
            plan = _compat._plan(t)
            for value in shapes(t):
                want = outcome(original, t, value)
                assert outcome(_compat.datum_from_json, t, value) == want, (table.name, column.name, value)
                if plan and _compat._quick(t, value, *plan) is not None:
                    quick += 1
    assert len(kinds) > 20 and quick > 200, 'the schema was walked and most good values took the quick way'


def test_named_uuids_and_real_numbers_go_to_the_original():
    ref = types.Type(types.BaseType(types.UuidType), n_min=0, n_max=types.Type.DEFAULT_MAX)
    symtab = {}
    assert outcome(_compat.datum_from_json, ref, ['named-uuid', 'row1'], symtab) == outcome(original, ref, ['named-uuid', 'row1'], symtab)
    real = types.Type(types.BaseType(types.RealType))
    assert _compat._plan(real) is False
    assert outcome(_compat.datum_from_json, real, 2.5) == outcome(original, real, 2.5)


def copy(nb):
    """Every row of every table as plain values, column by column (defaults included)."""
    client = _ovsdb.Client(_ovsdb.NB_DB, remote=nb.remote)
    try:
        out = {}
        for name, table in client.idl.tables.items():
            for row in table.rows.values():
                out[(name, str(row.uuid))] = dict((c, _ovsdb.plain(getattr(row, c))) for c in table.columns)
        return out
    finally:
        client.close()


def test_a_copy_loaded_the_quick_way_holds_the_same_rows(nb, monkeypatch):
    nb.ctl('ls-add', 'sw', '--', 'set', 'Logical_Switch', 'sw', 'other_config:subnet=10.128.0.0/24')
    nb.ctl('lsp-add', 'sw', 'plain')                   # every other column at its default
    nb.ctl('lsp-add', 'sw', 'full', '--', 'lsp-set-addresses', 'full', '0a:58:0a:80:00:05 10.128.0.5',
           '--', 'lsp-set-type', 'full', 'router', '--', 'lsp-set-options', 'full', 'router-port=rp',
           '--', 'lsp-set-enabled', 'full', 'disabled', '--', 'set', 'Logical_Switch_Port', 'full', 'tag_request=7')
    nb.ctl('lb-add', 'lb1', '10.96.0.1:80', '10.128.0.5:8080,10.128.0.6:8080', 'tcp')
    nb.ctl('pg-add', 'pg1', 'full', 'plain', '--', 'acl-add', 'pg1', 'to-lport', '1001', 'ip4', 'allow-related')
    _compat.install_quick_datum()
    quick = copy(nb)
    monkeypatch.setattr(data.Datum, 'from_json', staticmethod(_compat._DATUM_ORIGINAL['from_json']))
    assert copy(nb) == quick
    assert len(quick) > 7 and quick[[k for k in quick if k[0] == 'ACL'][0]]['priority'] == 1001
