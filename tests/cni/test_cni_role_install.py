# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ovn_node role's CNI tasks (roles/ovn_node/tasks/cni.yml) through ansible-playbook on this
machine, every path in a temporary directory: the plugin's code laid out as the collection (one
archive unpacked into a release named by its digest, ansible_collections a link to it), the
executable linked into the CNI bin directory and runnable from there under /usr/bin/python3, the
network configuration pointing at the node's kubeconfig, a second run with nothing changed, check
mode that predicts a change and makes none, and a change of the code that replaces the release
(a removed file is gone, the old release too)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys

from checkout import REPO
from cni_node import SYSTEM_PYTHON, collection_root

PLAY = '''
- hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - name: The CNI part of ovn_node
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_node
        tasks_from: cni.yml
'''


def run_play(tmp_path, collections=None, check=False):
    play = tmp_path / 'play.yml'
    play.write_text(PLAY)
    extra = {
        'ovn_node_cni_packages': ['python3-kubernetes'],
        'ovn_node_cni_lib_dir': str(tmp_path / 'lib'),
        'ovn_node_cni_bin_dir': str(tmp_path / 'opt-cni-bin'),
        'ovn_node_cni_conf_dir': str(tmp_path / 'net.d'),
        'ovn_node_kubeconfig': str(tmp_path / 'etc-ovn-k8s' / 'node.kubeconfig'),
        'ovn_node_cni_log_file': str(tmp_path / 'cni.log'),
        'ovn_node_datapath_type': 'netdev',
    }
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections or collection_root(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING='0',
               XDG_CACHE_HOME=str(tmp_path / 'cache'))  # the controller's archive cache
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,',
                           str(play), '-e', json.dumps(extra)] + (['--check'] if check else []),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout
    recap = [line for line in proc.stdout.splitlines() if line.startswith('localhost')][-1]
    return proc.stdout, int(recap.split('changed=')[1].split()[0])


def releases(tmp_path):
    top = tmp_path / 'lib' / 'releases'
    return sorted(p.name for p in top.iterdir()) if top.is_dir() else []


def test_role_installs_the_plugin(tmp_path):
    # Check mode on a host without the plugin: a change predicted, nothing written.
    out, changed = run_play(tmp_path, check=True)
    assert changed > 0 and 'a real run installs the runtime code' in out, out
    assert not (tmp_path / 'lib').exists() and not (tmp_path / 'opt-cni-bin').exists()

    out, changed = run_play(tmp_path)
    assert changed > 0, out
    link = tmp_path / 'lib' / 'ansible_collections'
    assert link.is_symlink() and releases(tmp_path) == [os.readlink(str(link)).split('/')[1]], out
    root = link / 'ovn_k8s' / 'overlay'
    for rel in ('agents/bin/ovn-k8s-cni-overlay', 'agents/ovn_k8s_agents/annotation.py', 'agents/ovn_k8s_agents/cni/plugin.py',
                'plugins/module_utils/_ovs.py', 'plugins/module_utils/_netlink.py'):
        assert (root / rel).is_file(), rel
    assert os.stat(str(root / 'agents/bin/ovn-k8s-cni-overlay')).st_mode & 0o777 == 0o755
    assert not list(root.rglob('__pycache__'))
    plugin = tmp_path / 'opt-cni-bin' / 'ovn-k8s-cni-overlay'
    assert os.path.realpath(str(plugin)) == os.path.realpath(str(root / 'agents' / 'bin' / 'ovn-k8s-cni-overlay'))

    # With TLS (the default) the plugin reads the Southbound database with ovn-controller's files.
    conflist = json.loads((tmp_path / 'net.d' / '10-ovn-k8s.conflist').read_text())
    assert conflist == {'cniVersion': '1.0.0', 'name': 'ovn-k8s', 'plugins': [{
        'type': 'ovn-k8s-cni-overlay', 'kubeconfig': str(tmp_path / 'etc-ovn-k8s' / 'node.kubeconfig'), 'bridge': 'br-int',
        'mtu': 1400, 'datapath_type': 'netdev', 'annotation_timeout': 30, 'port_timeout': 30, 'log_file': str(tmp_path / 'cni.log'),
        'sb_ssl_key': '/etc/ovn-k8s/pki/ovn-controller-privkey.pem', 'sb_ssl_cert': '/etc/ovn-k8s/pki/ovn-controller-cert.pem',
        'sb_ssl_ca_cert': '/etc/ovn-k8s/pki/cacert.pem'}]}

    # The installed plugin runs from the CNI bin directory under the system Python.
    version = subprocess.run([str(plugin)], input=json.dumps({'cniVersion': '1.0.0'}), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, check=False,
                             env=dict(PATH='/usr/bin:/bin', CNI_COMMAND='VERSION', OVN_K8S_CNI_PYTHON=SYSTEM_PYTHON))
    assert version.returncode == 0 and json.loads(version.stdout)['supportedVersions'] == ['0.4.0', '1.0.0', '1.1.0'], version.stderr

    out, changed = run_play(tmp_path)
    assert changed == 0, out
    out, changed = run_play(tmp_path, check=True)
    assert changed == 0, out


def test_a_code_change_replaces_the_release(tmp_path):
    """A copy of the collection whose runtime code changes between two runs: the second run
    installs a new release, a file the new code no longer has is gone, the old release too."""
    copy = tmp_path / 'collections' / 'ansible_collections' / 'ovn_k8s' / 'overlay'
    for part in ('agents', 'plugins', 'roles', 'meta'):
        shutil.copytree(os.path.join(REPO, part), str(copy / part), ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copy(os.path.join(REPO, 'galaxy.yml'), str(copy / 'galaxy.yml'))
    extra = copy / 'agents' / 'ovn_k8s_agents' / 'extra_for_test.py'
    extra.write_text('# only in the first release\n')
    collections = str(tmp_path / 'collections')

    out, changed = run_play(tmp_path, collections)
    assert changed > 0, out
    first = releases(tmp_path)
    root = tmp_path / 'lib' / 'ansible_collections' / 'ovn_k8s' / 'overlay'
    assert len(first) == 1 and (root / 'agents' / 'ovn_k8s_agents' / 'extra_for_test.py').is_file(), out

    extra.unlink()
    with open(str(copy / 'agents' / 'ovn_k8s_agents' / 'annotation.py'), 'a') as f:
        f.write('# a change\n')
    out, changed = run_play(tmp_path, collections, check=True)
    assert changed > 0 and releases(tmp_path) == first, out
    out, changed = run_play(tmp_path, collections)
    second = releases(tmp_path)
    assert changed > 0 and len(second) == 1 and second != first, out
    assert not (root / 'agents' / 'ovn_k8s_agents' / 'extra_for_test.py').exists()
    assert (root / 'agents' / 'ovn_k8s_agents' / 'annotation.py').read_text().endswith('# a change\n')
    out, changed = run_play(tmp_path, collections)
    assert changed == 0, out


def test_an_archive_cache_others_may_write_is_refused(tmp_path):
    """What the cache holds goes to every host as root's code: a cache directory that others may
    write into (or that is not this user's) is refused with the reason, and nothing is built."""
    script = os.path.join(REPO, 'roles', 'ovn_cluster', 'files', 'runtime_archive.py')
    cache = tmp_path / 'shared'
    cache.mkdir()
    os.chmod(str(cache), 0o777)
    proc = subprocess.run([sys.executable, script, REPO, str(cache)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60, check=False)
    assert proc.returncode == 1 and 'others may write into it (mode 777)' in proc.stderr, proc.stderr
    assert list(cache.iterdir()) == []
    os.chmod(str(cache), 0o700)
    proc = subprocess.run([sys.executable, script, REPO, str(cache)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert os.path.exists(json.loads(proc.stdout)['archive'])
