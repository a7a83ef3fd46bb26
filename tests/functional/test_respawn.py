# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module run by an interpreter without ovsdbapp re-runs itself under the system Python.

On real targets ovsdbapp and ovs often exist only as Debian packages
(python3-ovsdbapp, python3-openvswitch) while Ansible may use another
interpreter. The test makes such an interpreter (a bare venv that sees only
ansible) and runs a module through ansible-playbook, so the real AnsiballZ
wrapper and ansible-core's respawn do the work.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from conftest import collection_root, nbctl

SYSTEM_HAS_OVSDBAPP = subprocess.call(['/usr/bin/python3', '-c', 'import ovsdbapp, ovs'],
                                      stderr=subprocess.DEVNULL) == 0

PLAY = '''---
- hosts: localhost
  gather_facts: false
  tasks:
    - name: A switch made by a module that must respawn
      ovn_k8s.overlay.ovn_logical_switch:
        remote: "{remote}"
        name: respawned
        subnet: 10.128.9.0/24
      register: result
    - name: Show where it ran
      ansible.builtin.debug:
        var: result
'''


@pytest.mark.skipif(not SYSTEM_HAS_OVSDBAPP, reason='needs python3-ovsdbapp and python3-openvswitch (scripts/setup installs them)')
def test_respawn_into_system_python(nb_db, tmp_path):
    import ansible
    bare = tmp_path / 'bare'
    subprocess.check_call([sys.executable, '-m', 'venv', '--without-pip', str(bare)])
    site = subprocess.check_output([str(bare / 'bin' / 'python'), '-c',
                                    'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                                   universal_newlines=True).strip()
    shim = tmp_path / 'ansible-only'
    shim.mkdir()
    os.symlink(os.path.dirname(ansible.__file__), str(shim / 'ansible'))
    with open(os.path.join(site, 'ansible_only.pth'), 'w') as f:
        f.write(str(shim) + '\n')
    # The bare interpreter really lacks the library.
    assert subprocess.call([str(bare / 'bin' / 'python'), '-c', 'import ovsdbapp'], stderr=subprocess.DEVNULL) != 0

    play = tmp_path / 'play.yml'
    play.write_text(PLAY.format(remote=nb_db))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_STDOUT_CALLBACK='json',
               ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), str(play),
                           # Implicit localhost would use the controller's Python; extra vars win.
                           '-e', 'ansible_python_interpreter=%s' % (bare / 'bin' / 'python')],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    task = json.loads(proc.stdout)['plays'][0]['tasks'][0]['hosts']['localhost']
    assert task['changed'] is True, task
    assert nbctl(nb_db, 'get', 'Logical_Switch', 'respawned', 'other_config:subnet') == '"10.128.9.0/24"'
