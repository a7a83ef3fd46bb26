# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures that start real OVSDB servers and run the collection's modules for real.

Nothing here mocks OVSDB: every database is a real ovsdb-server loaded with the
schema Debian ships, on a unix socket in a temporary directory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys

import pytest

# tests/lib; the tests import them from here.
from checkout import REPO, collection_root, ip_json  # noqa: E402,F401 pylint: disable=unused-import
NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema'
SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema'
OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'


from ovsdb_server import OvsdbServer  # noqa: E402,F401 (tests/lib, on the path through tests/conftest.py)
from processes import wait_gone  # noqa: E402 (tests/lib too)


@pytest.fixture
def nb_db(tmp_path):
    """A fresh OVN Northbound database; yields its remote."""
    server = OvsdbServer(tmp_path, [NB_SCHEMA], 'nb')
    yield server.remote
    server.stop()


@pytest.fixture
def ovs_db(tmp_path):
    """A fresh Open vSwitch database (no ovs-vswitchd); yields its remote."""
    server = OvsdbServer(tmp_path, [OVS_SCHEMA], 'ovs')
    subprocess.check_call(['ovs-vsctl', '--db=' + server.remote, '--no-wait', 'init'])
    yield server.remote
    server.stop()


def nbctl(remote, *args):
    """Look at a database the way an operator would (tests only)."""
    return subprocess.check_output(['ovn-nbctl', '--db=' + remote] + list(args),
                                   universal_newlines=True).strip()


def vsctl(remote, *args):
    return subprocess.check_output(['ovs-vsctl', '--db=' + remote, '--no-wait'] + list(args),
                                   universal_newlines=True).strip()


def _module_python():
    """The interpreter modules run under, and extra import paths for it.

    OVN_K8S_MODULE_PYTHON=system runs them under /usr/bin/python3 with Debian's
    python3-ovsdbapp/python3-openvswitch/python3-pyroute2, as on a target host;
    only ansible itself is borrowed from the test virtualenv.
    """
    if os.environ.get('OVN_K8S_MODULE_PYTHON') != 'system':
        return sys.executable, []
    return '/usr/bin/python3', [_ansible_only_shim()]


def _ansible_only_shim():
    """.build/ansible-only, holding only a link to the ansible package of the test virtualenv.

    Safe when several test processes (pytest-xdist workers) make it at once."""
    import ansible
    shim = os.path.join(REPO, '.build', 'ansible-only')
    link = os.path.join(shim, 'ansible')
    target = os.path.dirname(ansible.__file__)
    os.makedirs(shim, exist_ok=True)
    if os.path.realpath(link) != os.path.realpath(target):
        tmp = '%s.%d' % (link, os.getpid())
        os.symlink(target, tmp)
        os.replace(tmp, link)  # atomic: another process sees the old link or the new one
    return shim


def run_module(name, args, check_mode=False, diff=True, python=None, env=None, netns=None, timeout=120):
    """Run plugins/modules/<name>.py as Ansible would, in its own process.

    Returns the module's JSON result (``failed`` is set when it failed). With ``netns``, the
    module runs inside that network namespace (``ip netns exec``). A module still running after
    ``timeout`` seconds fails the test (subprocess.TimeoutExpired): it hung.
    """
    root = collection_root()
    payload = dict(args)
    payload.update(_ansible_check_mode=check_mode, _ansible_diff=diff)
    default_python, extra_path = _module_python()
    python = python or default_python
    run_env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + extra_path))
    run_env.update(env or {})
    prefix = ['ip', 'netns', 'exec', netns] if netns else []
    proc = subprocess.run(
        prefix + [python, '-m', 'ansible_collections.ovn_k8s.overlay.plugins.modules.' + name,
                  json.dumps({'ANSIBLE_MODULE_ARGS': payload})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=run_env,
        timeout=timeout, check=False)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError('module %s printed no JSON (rc=%s)\nstdout:%s\nstderr:%s'
                             % (name, proc.returncode, proc.stdout, proc.stderr))
    if proc.returncode != 0:
        result.setdefault('failed', True)
    return result


@pytest.fixture
def module():
    return run_module


def have(binary):
    return shutil.which(binary) is not None


# Added for the Open vSwitch and netlink modules ----------------------------------------------
SYSTEM_PYTHON = '/usr/bin/python3'


@pytest.fixture
def system_python():
    """Run a module under the target hosts' Python (Debian 12: ovsdbapp 2.1, pyroute2 0.7).

    Yields ``dict(python=..., env=...)`` for run_module. ansible-core is taken from the
    interpreter running the tests (module_utils only); ovs, ovsdbapp and pyroute2 must come from
    the system's own packages, else the test is skipped.
    """
    probe = subprocess.run([SYSTEM_PYTHON, '-c', 'import ovs, ovsdbapp, pyroute2'], check=False,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE) if os.path.exists(SYSTEM_PYTHON) else None
    if probe is None or probe.returncode != 0:
        pytest.skip('%s lacks python3-openvswitch, python3-ovsdbapp or python3-pyroute2' % SYSTEM_PYTHON)
    shim = _ansible_only_shim()
    yield dict(python=SYSTEM_PYTHON, env=dict(PYTHONPATH=collection_root() + os.pathsep + shim))


def converge_module(name, args, untouched=None, **run_kw):
    """Check mode, real run, repeat: asserts the Ansible contract and returns the three results.

    ``untouched()`` is called right after check mode and must assert that nothing changed.
    """
    check = run_module(name, args, check_mode=True, **run_kw)
    assert not check.get('failed'), check
    assert check['changed'], check
    if untouched:
        untouched()
    real = run_module(name, args, **run_kw)
    assert not real.get('failed'), real
    assert real['changed'], real
    assert check['diff'] == real['diff'], 'check mode must predict the real diff: %s / %s' % (check['diff'], real['diff'])
    repeat = run_module(name, args, **run_kw)
    assert not repeat.get('failed'), repeat
    assert repeat['changed'] is False and repeat['diff'] == {'before': {}, 'after': {}}, repeat
    return check, real, repeat


def _sh(*args, **kw):
    subprocess.check_call(list(args), **kw)


class HostAndPeer:
    """Two network namespaces joined by a veth pair, both ends called eth0.

    ``host`` has 192.168.77.2/24 and fd00:77::2/64 with default routes through ``peer``
    (192.168.77.1, fd00:77::1), plus a route to 10.99.0.0/16; ``peer`` also has 10.99.0.1/32,
    a source off the host's subnet that only the default route reaches. Transmit checksum
    offload is off on both ends (the userspace datapath needs it: see shared/LAB.md).
    """

    def __init__(self, tag):
        self.host, self.peer = 'ovk-host-' + tag, 'ovk-peer-' + tag
        self.remove()
        for ns in (self.host, self.peer):
            _sh('ip', 'netns', 'add', ns)
            _sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
        _sh('ip', 'link', 'add', 'ovkh' + tag, 'netns', self.host, 'type', 'veth',
            'peer', 'name', 'ovkp' + tag, 'netns', self.peer)
        for ns, dev, v4, v6 in ((self.host, 'ovkh' + tag, '192.168.77.2/24', 'fd00:77::2/64'),
                                (self.peer, 'ovkp' + tag, '192.168.77.1/24', 'fd00:77::1/64')):
            _sh('ip', '-n', ns, 'link', 'set', dev, 'name', 'eth0')
            _sh('ip', 'netns', 'exec', ns, 'ethtool', '-K', 'eth0', 'tx', 'off', stdout=subprocess.DEVNULL)
            _sh('ip', '-n', ns, 'addr', 'add', v4, 'dev', 'eth0')
            _sh('ip', '-n', ns, '-6', 'addr', 'add', v6, 'dev', 'eth0', 'nodad')
            _sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
        _sh('ip', '-n', self.peer, 'addr', 'add', '10.99.0.1/32', 'dev', 'lo')
        _sh('ip', '-n', self.host, 'route', 'add', 'default', 'via', '192.168.77.1', 'metric', '100')
        _sh('ip', '-n', self.host, 'route', 'add', '10.99.0.0/16', 'via', '192.168.77.1')
        _sh('ip', '-n', self.host, '-6', 'route', 'add', 'default', 'via', 'fd00:77::1')

    def remove(self):
        for ns in (self.host, self.peer):
            subprocess.call(['ip', 'netns', 'del', ns], stderr=subprocess.DEVNULL)


@pytest.fixture
def host_and_peer():
    net = HostAndPeer('%d' % (os.getpid() % 100000))
    yield net
    net.remove()


@pytest.fixture
def vswitchd(ovs_db, tmp_path, host_and_peer):
    """A userspace ovs-vswitchd (no kernel module) on the ovs_db database, inside the host
    namespace, with its run directory in the test's temporary directory."""
    rundir = str(tmp_path)
    env = dict(os.environ, OVS_RUNDIR=rundir, OVS_LOGDIR=rundir, OVS_DBDIR=rundir, OVS_SYSCONFDIR=rundir)
    pidfile = os.path.join(rundir, 'vswitchd.pid')
    _sh('ip', 'netns', 'exec', host_and_peer.host, 'ovs-vswitchd', ovs_db, '--disable-system',
        '--detach', '--no-chdir', '--pidfile=' + pidfile,
        '--unixctl=' + os.path.join(rundir, 'vswitchd.ctl'),
        '--log-file=' + os.path.join(rundir, 'vswitchd.log'), env=env)
    yield dict(remote=ovs_db, log=os.path.join(rundir, 'vswitchd.log'), **vars(host_and_peer))
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, 15)
        wait_gone(pid, 10)
    except (OSError, ValueError):
        pass


@pytest.fixture
def cluster(tmp_path):
    """A three-member RAFT cluster of the Northbound database on loopback (tests/lib/ovsdb_cluster.py)."""
    from ovsdb_cluster import OvsdbCluster
    c = OvsdbCluster(tmp_path, 3)
    for member in c.members:
        c.wait_member(member)  # a member may still be joining when the first leader is elected
    yield c
    c.stop()
