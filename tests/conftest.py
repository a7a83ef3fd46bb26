# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by every test directory.

``kube``: a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) built
by scripts/build-k8s, started once per session the first time a test asks for it, and stopped
at the end of the session (tests/lib/kube_control_plane.py). A test that does not ask for it
starts nothing. When a test that uses it fails, the last lines of every component's log are
added to its report.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))

import kube_control_plane  # noqa: E402 (found through the path set just above)

_STARTED = []


@pytest.fixture(scope='session')
def kube(request):
    """The session's ControlPlane; kube.kubeconfig is the admin identity's kubeconfig."""
    error = None
    try:
        cp = kube_control_plane.ControlPlane(kube_control_plane.bin_dir())
        cp.start()
    except kube_control_plane.ControlPlaneError as e:
        error = str(e)
    if error:  # failed outside the except block: one message, no chained traceback
        pytest.fail(error, pytrace=False)
    _STARTED.append(cp)
    yield cp
    # Keep the logs when a test failed (the terminal summary says where), or when asked to.
    keep = bool(request.session.testsfailed) or bool(os.environ.get('OVN_K8S_KEEP_KUBE'))
    cp.stop(remove=not keep)
    cp.kept = keep


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _STARTED and 'kube' in getattr(item, 'fixturenames', ()):
        report.sections.append(('Kubernetes control plane logs (last lines)', _STARTED[-1].logs()))
    return report


def _summaries():
    out = []
    for cp in _STARTED:
        restarts = ', '.join('%.1fs' % s for s in cp.apiserver_restart_seconds) or 'none'
        out.append('Kubernetes control plane: started in %.1fs (API server restarts: %s)%s'
                   % (cp.startup_seconds, restarts, '; files kept in %s' % cp.workdir if getattr(cp, 'kept', False) else ''))
    return out


# Under pytest-xdist each worker has its own control plane; a worker hands its summary line to
# the controlling process, which prints them all.
_FROM_WORKERS = []


@pytest.hookimpl(trylast=True)  # after the session fixtures' teardown
def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, 'workeroutput', None)
    if workeroutput is not None:
        worker = getattr(session.config, 'workerinput', {}).get('workerid', 'worker')
        workeroutput['ovn_k8s_kube'] = ['%s: %s' % (worker, line) for line in _summaries()]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _FROM_WORKERS.extend(getattr(node, 'workeroutput', {}).get('ovn_k8s_kube', []))


def pytest_terminal_summary(terminalreporter):
    for line in _summaries() + sorted(_FROM_WORKERS):
        terminalreporter.write_line(line)
