# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's metadata stays in step with its modules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import yaml

from conftest import REPO

MODULES_DIR = os.path.join(REPO, 'plugins', 'modules')


def modules():
    return sorted(name[:-3] for name in os.listdir(MODULES_DIR)
                  if name.endswith('.py') and not name.startswith('_'))


def database_of(module):
    """Which OVSDB database a module connects to, from the constant it passes to the core."""
    with open(os.path.join(MODULES_DIR, module + '.py')) as f:
        found = set(re.findall(r'\b(NB_DB|OVS_DB)\b', f.read()))
    assert len(found) <= 1, '%s names both databases' % module
    return found.pop() if found else None


def runtime():
    with open(os.path.join(REPO, 'meta', 'runtime.yml')) as f:
        return yaml.safe_load(f)


def test_database_groups_match_what_modules_connect_to():
    groups = runtime()['action_groups']
    assert sorted(groups) == ['ovn_nb', 'ovs'], 'one action group per database, no mixed group'
    assert sorted(groups['ovn_nb']) == [m for m in modules() if database_of(m) == 'NB_DB']
    assert sorted(groups['ovs']) == [m for m in modules() if database_of(m) == 'OVS_DB']


def test_connection_environment_is_per_database():
    """One environment variable must not serve both the Northbound and the Open vSwitch database."""
    import sys
    from conftest import collection_root
    if collection_root() not in sys.path:
        sys.path.insert(0, collection_root())
    from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _common, _ovsdb

    names = {}
    for database in (_ovsdb.NB_DB, _ovsdb.OVS_DB):
        for option, spec in _common.connection_spec(database).items():
            names[(database, option)] = spec['fallback'][1]
    for option in ('remote', 'timeout', 'ssl_key', 'ssl_cert', 'ssl_ca_cert'):
        nb, ovs = names[(_ovsdb.NB_DB, option)], names[(_ovsdb.OVS_DB, option)]
        assert not set(nb) & set(ovs), (option, nb, ovs)
        assert nb == ['OVN_K8S_NB_' + option.upper()] and ovs == ['OVN_K8S_OVS_' + option.upper()]
    with open(os.path.join(REPO, 'plugins', 'doc_fragments', 'ovsdb_connection.py')) as f:
        fragment = f.read()
    for database, option in names:
        assert 'E(%s)' % names[(database, option)][0] in fragment, 'the doc fragment must name ' + names[(database, option)][0]
    assert 'OVN_K8S_OVSDB_' not in fragment


def test_roles_use_only_declared_collections():
    """Roles and playbooks may use only ansible.builtin, this collection and what galaxy.yml declares."""
    with open(os.path.join(REPO, 'galaxy.yml')) as f:
        declared = set((yaml.safe_load(f).get('dependencies') or {}).keys())
    allowed = {'ansible.builtin', 'ovn_k8s.overlay'} | declared
    used = {}
    for top in ('roles', 'playbooks'):
        for dirpath, dummy, files in os.walk(os.path.join(REPO, top)):
            for name in files:
                if not name.endswith(('.yml', '.yaml', '.j2')):
                    continue
                path = os.path.join(dirpath, name)
                with open(path) as f:
                    for namespace, collection in re.findall(r'\b([a-z_]+)\.([a-z_]+)\.[a-z_]+\b', f.read()):
                        fqcn = '%s.%s' % (namespace, collection)
                        if namespace in ('ansible', 'community', 'containers', 'kubernetes') and fqcn not in allowed:
                            used.setdefault(fqcn, set()).add(os.path.relpath(path, REPO))
    assert not used, 'collections used but not declared in galaxy.yml: %s' % used


def test_requires_ansible():
    assert runtime()['requires_ansible'] == '>=2.16.0'
