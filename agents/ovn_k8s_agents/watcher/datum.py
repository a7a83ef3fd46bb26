# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A quicker ``ovs.db.data.Datum.from_json`` for the watcher's Northbound copy.

The IDL turns every column of every row it receives into a Datum through
``Datum.from_json``, which checks each atom's type and constraints one call at a time:
loading the copy of a Northbound database of 5,000 pod ports spent about a quarter of its time
there (measured; ovs 3.1 and 4.0 have the same code). :func:`from_json` builds the same Datum
directly for the atoms most columns hold (strings, integers, booleans and UUIDs, with their
constraints checked the same way), and hands everything else to the original: other atom
types, values not in the expected shape, named UUIDs, and every value the original would
refuse, so that it decides, and words the error, as before.

:func:`install` puts it in place for the whole process (the IDL calls it through the class);
the watcher calls it before it reads its copy.
"""

from __future__ import absolute_import, division, print_function

import threading
import uuid

from ovs import ovsuuid
from ovs.db import data, types

_PLAN = '_ovn_k8s_datum_plan'   # cached on each column Type: (key builder, value builder) or False
_LOCK = threading.Lock()
_ORIGINAL = {}  # what install() replaced: 'from_json'


def _string_atom(base):
    allowed = None
    if base.enum is not None:
        allowed = frozenset(atom.value for atom in base.enum.values)
    lo, hi = base.min_length, base.max_length
    string = types.StringType

    def build(json):
        if not isinstance(json, str) or (allowed is not None and json not in allowed):
            return None
        if (lo and len(json) < lo) or len(json) > hi:
            return None
        return data.Atom(string, json)
    return build


def _integer_atom(base):
    if base.enum is not None:
        return None
    lo, hi = base.min, base.max
    integer = types.IntegerType

    def build(json):
        if not isinstance(json, int) or isinstance(json, bool) or (lo is not None and json < lo) or (hi is not None and json > hi):
            return None
        return data.Atom(integer, json)
    return build


def _boolean_atom(base):
    if base.enum is not None:
        return None
    boolean = types.BooleanType

    def build(json):
        return data.Atom(boolean, json) if isinstance(json, bool) else None
    return build


def _uuid_atom(base):
    if base.enum is not None:
        return None
    pattern, kind = ovsuuid.uuidRE, types.UuidType

    def build(json):
        if not isinstance(json, list) or len(json) != 2 or json[0] != 'uuid' or not isinstance(json[1], str) \
                or not pattern.match(json[1]):
            return None
        return data.Atom(kind, uuid.UUID(json[1]))
    return build


_BUILDERS = {types.StringType: _string_atom, types.IntegerType: _integer_atom,
             types.BooleanType: _boolean_atom, types.UuidType: _uuid_atom}


def _builder(base):
    make = _BUILDERS.get(base.type) if base is not None else None
    return make(base) if make is not None else None


def _plan(type_):
    key = _builder(type_.key)
    value = _builder(type_.value) if type_.value is not None else None
    if key is None or (type_.value is not None and value is None):
        return False
    return key, value


def from_json(type_, json, symtab=None):
    """``Datum.from_json(type_, json, symtab)``: the same Datum, or the original's answer."""
    plan = type_.__dict__.get(_PLAN)
    if plan is None:
        plan = type_.__dict__[_PLAN] = _plan(type_)
    if plan is not False and symtab is None:
        datum = _quick(type_, json, plan[0], plan[1])
        if datum is not None:
            return datum
    return _ORIGINAL['from_json'](type_, json, symtab)


def _quick(type_, json, key, value):
    """The Datum, or None where the original must decide."""
    if value is not None:
        if not isinstance(json, list) or len(json) != 2 or json[0] != 'map' or not isinstance(json[1], list):
            return None
        inner = json[1]
        if not type_.n_min <= len(inner) <= type_.n_max:
            return None
        values = {}
        for pair in inner:
            if not isinstance(pair, list) or len(pair) != 2:
                return None
            k, v = key(pair[0]), value(pair[1])
            if k is None or v is None:
                return None
            values[k] = v
    elif isinstance(json, list) and json and json[0] == 'set':
        if len(json) != 2 or not isinstance(json[1], list):
            return None
        inner = json[1]
        if not type_.n_min <= len(inner) <= type_.n_max:
            return None
        values = {}
        for element in inner:
            k = key(element)
            if k is None:
                return None
            values[k] = None
    else:
        k = key(json)
        return None if k is None else data.Datum(type_, {k: None})
    if len(values) != len(inner):   # a duplicate: the original says so
        return None
    return data.Datum(type_, values)


def install():
    """Put :func:`from_json` in place of ``Datum.from_json`` (once per process)."""
    with _LOCK:
        if not _ORIGINAL:
            _ORIGINAL['from_json'] = data.Datum.from_json
            data.Datum.from_json = staticmethod(from_json)
