# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run every integration target under tests/integration/targets/ through ansible-playbook.

Each target is a role whose tasks/main.yml exercises one module the way a playbook would
(check mode, real run, repeat, bad input, cleanup). For each one this starts a real
ovsdb-server with the OVN Northbound schema and another with the Open vSwitch schema, on
unix sockets in a temporary directory, and applies the target to localhost with
``-e nb_remote=unix:... -e ovs_remote=unix:...``. The collection is found through
ANSIBLE_COLLECTIONS_PATH=.build (see conftest.collection_root).

Run one target: ``pytest tests/functional/test_integration_targets.py -k ovn_lsp``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess
import sys

import pytest

from conftest import NB_SCHEMA, OVS_SCHEMA, REPO, OvsdbServer, collection_root

TARGETS_DIR = os.path.join(REPO, 'tests', 'integration', 'targets')
TARGETS = sorted(
    name for name in (os.listdir(TARGETS_DIR) if os.path.isdir(TARGETS_DIR) else [])
    if os.path.isfile(os.path.join(TARGETS_DIR, name, 'tasks', 'main.yml')))

PLAYBOOK = '''---
- name: Integration target {target}
  hosts: localhost
  gather_facts: false
  roles:
    - role: {target}
'''


def ansible_playbook():
    """The ansible-playbook beside the Python running the tests (the project venv)."""
    beside = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    return beside if os.path.exists(beside) else shutil.which('ansible-playbook')


def test_targets_exist():
    """An empty target directory must not pass as 'all targets passed'."""
    assert TARGETS, 'no integration targets found under %s' % TARGETS_DIR


@pytest.mark.parametrize('target', TARGETS)
def test_integration_target(target, tmp_path):
    nb = OvsdbServer(tmp_path, [NB_SCHEMA], 'nb')
    ovs = OvsdbServer(tmp_path, [OVS_SCHEMA], 'ovs')
    try:
        subprocess.check_call(['ovs-vsctl', '--db=' + ovs.remote, '--no-wait', 'init'])
        playbook = tmp_path / 'play.yml'
        playbook.write_text(PLAYBOOK.format(target=target))
        env = dict(
            os.environ,
            ANSIBLE_COLLECTIONS_PATH=collection_root(),
            ANSIBLE_ROLES_PATH=TARGETS_DIR,
            ANSIBLE_NOCOLOR='1',
            ANSIBLE_FORCE_COLOR='0',
            ANSIBLE_RETRY_FILES_ENABLED='0',
            ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local'),
            ANSIBLE_HOME=str(tmp_path / 'ansible-home'),
            # Targets' own tools (ovn-nbctl, ovs-vsctl) must not touch the system databases.
            OVN_NB_DB=nb.remote,
            OVS_DB=ovs.remote,
        )
        # The interpreter as an inventory variable, not an extra variable, so that a target may
        # override it for some tasks (netlink_address and nic_to_bridge run theirs in a namespace).
        inventory = tmp_path / 'inventory'
        inventory.write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
        cmd = [ansible_playbook(), '-i', str(inventory),
               '-e', 'nb_remote=' + nb.remote,
               '-e', 'ovs_remote=' + ovs.remote,
               '-e', 'integration_tmp=' + str(tmp_path),
               str(playbook)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, env=env, cwd=str(tmp_path),
                              timeout=900, check=False)
        # Keep the play's output in the log of a failing test.
        print(proc.stdout)
        assert proc.returncode == 0, 'target %s failed (rc=%s); the play output is above' % (
            target, proc.returncode)
        assert 'failed=0' in proc.stdout
    finally:
        nb.stop()
        ovs.stop()
