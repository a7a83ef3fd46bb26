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


def test_action_group_ovn_lists_every_module():
    assert sorted(runtime()['action_groups']['ovn']) == modules(), (
        'meta/runtime.yml action_groups.ovn must list exactly the modules in plugins/modules')


def test_database_groups_match_what_modules_connect_to():
    groups = runtime()['action_groups']
    assert sorted(groups['ovn_nb']) == [m for m in modules() if database_of(m) == 'NB_DB']
    assert sorted(groups['ovs']) == [m for m in modules() if database_of(m) == 'OVS_DB']


def test_requires_ansible():
    assert runtime()['requires_ansible'] == '>=2.16.0'
