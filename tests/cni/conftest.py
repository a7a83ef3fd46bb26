# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the CNI plugin's tests; the node and pods themselves are tests/lib/cni_node.py
(test modules import from there, never from this conftest).

``python``: the plugin runs under the virtualenv's Python and under Debian's /usr/bin/python3.
``ovn_central``: the Northbound and Southbound databases and ovn-northd, one per test module.
``node``: a cni_node.Node (with its own ovn-controller) on the session's real kube-apiserver and
that central part. ``k8s_namespace``: a fresh namespace.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys
import time

import pytest

from cni_node import SYSTEM_PYTHON, Node, cnitool, collection_root  # tests/lib, on the path from tests/conftest.py
from ovn_stack import OvnCentral  # tests/lib


def _pythons():
    return [pytest.param(sys.executable, id='venv'), pytest.param(SYSTEM_PYTHON, id='system')]


@pytest.fixture(params=_pythons())
def python(request):
    """The interpreter the plugin runs under; the system one needs Debian's python3-kubernetes,
    python3-pyroute2, python3-ovsdbapp and python3-openvswitch."""
    if request.param == SYSTEM_PYTHON:
        probe = subprocess.run([SYSTEM_PYTHON, '-c', 'import kubernetes, pyroute2, ovsdbapp, ovs'],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        if probe.returncode != 0:
            pytest.fail('%s cannot run the plugin (scripts/setup installs its Debian packages): %s'
                        % (SYSTEM_PYTHON, probe.stdout.strip().splitlines()[-1]), pytrace=False)
    return request.param


@pytest.fixture
def k8s_namespace(kube):
    """A fresh Kubernetes namespace, deleted afterwards."""
    name = 'cni-%d-%d' % (os.getpid() % 100000, int(time.time() * 1000) % 1000000)
    kube.create_namespace(name)
    yield name
    kube.core().delete_namespace(name)


@pytest.fixture(scope='module')
def ovn_central(tmp_path_factory):
    """OVN's central part for the module's nodes (each node has its own chassis and switch)."""
    central = OvnCentral(tmp_path_factory.mktemp('ovn'))
    yield central
    central.stop()


@pytest.fixture
def node(kube, python, tmp_path, ovn_central):
    """The Node, torn down afterwards (its plugin and ovn-controller logs are added to a failed
    test's report)."""
    collection_root()
    cnitool()
    n = Node(tmp_path, kube, python, '%d' % (os.getpid() % 100000), ovn_central)
    yield n
    n.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    node = item.funcargs.get('node') if hasattr(item, 'funcargs') else None
    if report.failed and isinstance(node, Node):
        report.sections.append(('CNI plugin log', node.log()[-6000:]))
        try:
            with open(node.controller_log) as f:
                report.sections.append(('ovn-controller log', f.read()[-4000:]))
        except OSError:
            pass
    return report
