# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ovn_node role's CNI tasks (roles/ovn_node/tasks/cni.yml) through ansible-playbook on this
machine, every path in a temporary directory: the plugin's code laid out as the collection (one
archive unpacked into a release named by its digest, ansible_collections a link to it), the
executable linked into the CNI bin directory and runnable from there under /usr/bin/python3, the
network configuration pointing at the node's kubeconfig, a second run with nothing changed, check
mode that predicts a change and makes none, and a change of the code that replaces the release
(a removed file is gone, the old release too).

The binaries and configuration are laid out as Debian's containerd, upstream containerd and
CRI-O read them: every runtime is given the same two bin directories here (Debian's
/usr/lib/cni, upstream /opt/cni/bin), each with ovn-k8s-cni-overlay, loopback and portmap; the
role refuses a network configuration without its kubeconfig and one that another configuration
would precede in name order (the runtimes load the first)."""

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


BIN_DIRS = ('usr-lib-cni', 'opt-cni-bin')
REFERENCE = '/usr/lib/cni'   # Debian's containernetworking-plugins (scripts/setup installs it)


def ansible_playbook():
    return os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')


def ansible_env(tmp_path, collections=None):
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections or collection_root(), ANSIBLE_NOCOLOR='1',
                ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING='0',
                XDG_CACHE_HOME=str(tmp_path / 'cache'))  # the controller's archive cache


def kubeconfig(tmp_path):
    path = tmp_path / 'etc-ovn-k8s' / 'node.kubeconfig'
    if not path.exists():
        path.parent.mkdir(mode=0o700)
        path.write_text('{}\n')
    return path


def run_play(tmp_path, collections=None, check=False, fails=False, **more):
    play = tmp_path / 'play.yml'
    play.write_text(PLAY)
    extra = {
        'ovn_node_cni_packages': ['python3-kubernetes', 'containernetworking-plugins'],
        'ovn_node_cni_lib_dir': str(tmp_path / 'lib'),
        'ovn_node_cni_bin_dirs': [str(tmp_path / d) for d in BIN_DIRS],
        'ovn_node_cni_reference_dir': REFERENCE,
        'ovn_node_cni_conf_dir': str(tmp_path / 'net.d'),
        'ovn_node_kubeconfig': str(tmp_path / 'etc-ovn-k8s' / 'node.kubeconfig'),
        'ovn_node_cni_log_file': str(tmp_path / 'cni.log'),
        'ovn_node_datapath_type': 'netdev',
    }
    extra.update(more)
    proc = subprocess.run([ansible_playbook(), '-i', 'localhost,', str(play), '-e', json.dumps(extra)] + (['--check'] if check else []),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          env=ansible_env(tmp_path, collections), timeout=300, check=False)
    if fails:
        assert proc.returncode == 2, proc.stdout
        return proc.stdout, None
    assert proc.returncode == 0, proc.stdout
    recap = [line for line in proc.stdout.splitlines() if line.startswith('localhost')][-1]
    return proc.stdout, int(recap.split('changed=')[1].split()[0])


def releases(tmp_path):
    top = tmp_path / 'lib' / 'releases'
    return sorted(p.name for p in top.iterdir()) if top.is_dir() else []


def test_role_installs_the_plugin(tmp_path):
    kubeconfig(tmp_path)
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
    for bin_dir in BIN_DIRS:
        plugin = tmp_path / bin_dir / 'ovn-k8s-cni-overlay'
        assert os.path.realpath(str(plugin)) == os.path.realpath(str(root / 'agents' / 'bin' / 'ovn-k8s-cni-overlay'))
        for companion in ('loopback', 'portmap'):  # what every runtime calls, and hostPort
            assert os.path.realpath(str(tmp_path / bin_dir / companion)) == os.path.join(REFERENCE, companion), bin_dir
            assert os.access(str(tmp_path / bin_dir / companion), os.X_OK)

    # With TLS (the default) the plugin reads the Southbound database with ovn-controller's files;
    # portmap follows it in the chain; the name sorts before every other installer's.
    assert sorted(os.listdir(str(tmp_path / 'net.d'))) == ['00-ovn-k8s.conflist']
    conflist = json.loads((tmp_path / 'net.d' / '00-ovn-k8s.conflist').read_text())
    assert conflist == {'cniVersion': '1.0.0', 'name': 'ovn-k8s', 'plugins': [{
        'type': 'ovn-k8s-cni-overlay', 'kubeconfig': str(tmp_path / 'etc-ovn-k8s' / 'node.kubeconfig'), 'bridge': 'br-int',
        'mtu': 1400, 'datapath_type': 'netdev', 'annotation_timeout': 30, 'port_timeout': 30, 'log_file': str(tmp_path / 'cni.log'),
        'sb_ssl_key': '/etc/ovn-k8s/pki/ovn-controller-privkey.pem', 'sb_ssl_cert': '/etc/ovn-k8s/pki/ovn-controller-cert.pem',
        'sb_ssl_ca_cert': '/etc/ovn-k8s/pki/cacert.pem'}, {'type': 'portmap', 'capabilities': {'portMappings': True}, 'snat': True}]}

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
    kubeconfig(tmp_path)

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


def test_no_configuration_without_its_kubeconfig(tmp_path):
    """Without the node's kubeconfig every ADD would fail: the role says so and writes nothing."""
    out, dummy = run_play(tmp_path, fails=True)
    assert 'the CNI plugin needs the node\'s kubeconfig %s, which does not exist' % (tmp_path / 'etc-ovn-k8s' / 'node.kubeconfig') in out, out
    assert 'No CNI configuration was written' in out
    assert not (tmp_path / 'net.d').exists() and not (tmp_path / 'lib').exists()


def test_a_configuration_that_sorts_first_is_refused_then_allowed(tmp_path):
    """containerd and CRI-O load the first configuration in name order: one that sorts before ours
    stops the role, naming it, until it is allowed (a runtime told the network by name)."""
    kubeconfig(tmp_path)
    (tmp_path / 'net.d').mkdir()
    (tmp_path / 'net.d' / '00-bridge.conf').write_text('{"cniVersion": "1.0.0", "name": "bridge", "type": "bridge"}\n')
    (tmp_path / 'net.d' / '87-podman.conflist').write_text('{}\n')   # sorts after ours: no matter
    out, dummy = run_play(tmp_path, fails=True)
    assert '00-bridge.conf in %s sort before 00-ovn-k8s.conflist' % (tmp_path / 'net.d') in out, out
    assert sorted(os.listdir(str(tmp_path / 'net.d'))) == ['00-bridge.conf', '87-podman.conflist']
    out, changed = run_play(tmp_path, ovn_node_cni_conf_allow_earlier=True)
    assert changed > 0 and (tmp_path / 'net.d' / '00-ovn-k8s.conflist').is_file(), out


def test_an_own_loopback_is_kept_and_portmap_can_be_left_out(tmp_path):
    """A bin directory with its own loopback (the upstream plugins' archive) keeps it; without
    portmap the chain is the plugin alone and no portmap is linked."""
    kubeconfig(tmp_path)
    own = tmp_path / 'opt-cni-bin' / 'loopback'
    own.parent.mkdir()
    own.write_text('#!/bin/sh\n')
    out, changed = run_play(tmp_path, ovn_node_cni_portmap=False)
    assert changed > 0, out
    assert not own.is_symlink() and own.read_text() == '#!/bin/sh\n'
    assert not (tmp_path / 'opt-cni-bin' / 'portmap').exists() and not (tmp_path / 'usr-lib-cni' / 'portmap').exists()
    conflist = json.loads((tmp_path / 'net.d' / '00-ovn-k8s.conflist').read_text())
    assert [p['type'] for p in conflist['plugins']] == ['ovn-k8s-cni-overlay']
