# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's metadata stays in step with its modules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

from conftest import REPO


def modules():
    folder = os.path.join(REPO, 'plugins', 'modules')
    return sorted(name[:-3] for name in os.listdir(folder)
                  if name.endswith('.py') and not name.startswith('_'))


def test_action_group_lists_every_module():
    with open(os.path.join(REPO, 'meta', 'runtime.yml')) as f:
        runtime = yaml.safe_load(f)
    group = runtime['action_groups']['ovn']
    assert sorted(group) == modules(), (
        'meta/runtime.yml action_groups.ovn must list exactly the modules in plugins/modules')


def test_requires_ansible():
    with open(os.path.join(REPO, 'meta', 'runtime.yml')) as f:
        runtime = yaml.safe_load(f)
    assert runtime['requires_ansible'] == '>=2.16.0'
