# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as it ships: the artifact ansible-galaxy builds from the files git holds
(build_ignore leaves the development files out), the execution environment's dependencies
(only what the controller needs at run time), and the roles' documentation, which ansible-doc
renders and, where installed, antsibull-docs and ansible-builder check."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

from checkout import REPO

BIN = os.path.dirname(sys.executable)
ROLES = sorted(os.listdir(os.path.join(REPO, 'roles')))
DEVELOPMENT = ('scripts/', 'k8s/', 'molecule/', 'bench/', 'requirements.txt', 'requirements-constraints.txt', 'requirements-bench.txt',
               'changelogs/fragments/', 'tests/cni/', 'tests/functional/', 'tests/kube/', 'tests/lib/', 'tests/watcher/',
               'tests/agents/', 'tests/integration/', 'tests/conftest.py', '.venv/', '.build/', '.ci/')


def tool(name):
    """A tool from the virtualenv or PATH, or None."""
    path = os.path.join(BIN, name)
    return path if os.access(path, os.X_OK) else shutil.which(name)


@pytest.fixture(scope='module')
def artifact(tmp_path_factory):
    """The collection tarball built from a copy of the files git would commit; its member names."""
    work = tmp_path_factory.mktemp('build')
    src = work / 'src'
    files = subprocess.check_output(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=REPO)
    for rel in files.decode().split('\0'):
        path = os.path.join(REPO, rel)
        if rel and os.path.isfile(path):
            os.makedirs(str(src / os.path.dirname(rel)), exist_ok=True)
            shutil.copy2(path, str(src / rel))
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(work)], cwd=str(src),
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    tarball = [p for p in work.iterdir() if p.name.endswith('.tar.gz')][0]
    with tarfile.open(str(tarball)) as t:
        names = t.getnames()
        t.extractall(str(work / 'ansible_collections' / 'ovn_k8s' / 'overlay'))
    return names, work


def test_the_artifact_leaves_development_files_out(artifact):
    names, _work = artifact
    shipped = [n for n in names if any(n == d.rstrip('/') or n.startswith(d) for d in DEVELOPMENT)]
    assert shipped == []
    for wanted in ('meta/execution-environment.yml', 'meta/ee-requirements.txt', 'bindep.txt', 'meta/runtime.yml',
                   'playbooks/site.yml', 'playbooks/preflight.yml', 'tests/sanity/ignore-2.19.txt'):
        assert wanted in names, wanted
    for role in ROLES:
        assert 'roles/%s/meta/argument_specs.yml' % role in names
    assert not [n for n in names if '__pycache__' in n or n.endswith('.pyc')]


def _requirement_names(path):
    with open(path) as f:
        lines = [line.split('#')[0].strip() for line in f]
    return sorted(re.split(r'[<>=!~\[; ]', line)[0].lower() for line in lines if line)


def test_the_execution_environment_asks_only_for_run_time_dependencies():
    with open(os.path.join(REPO, 'meta', 'execution-environment.yml')) as f:
        ee = yaml.safe_load(f)
    assert ee['version'] == 1 and set(ee['dependencies']) == {'python', 'system'}
    python = _requirement_names(os.path.join(REPO, ee['dependencies']['python']))
    # kubernetes.core's modules on the controller (the ovn_watcher role's cluster objects).
    assert python == ['kubernetes']
    development = set(_requirement_names(os.path.join(REPO, 'requirements.txt'))) - {'kubernetes'}
    assert development and not development & set(python)
    system = _requirement_names(os.path.join(REPO, ee['dependencies']['system']))
    assert system == ['openssh-client', 'openssh-clients']


def test_ansible_builder_introspects_only_the_run_time_dependencies(artifact):
    builder = tool('ansible-builder')
    if not builder:
        pytest.skip('ansible-builder is not installed')
    _names, work = artifact
    out = subprocess.run([builder, 'introspect', str(work)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=120, check=True).stdout
    found = yaml.safe_load(out.split('\n', 1)[1])
    assert [line.split('#')[0].strip() for line in found['python']] == ['kubernetes>=24.2.0']
    system = [line.split('#')[0].strip() for line in found['system']]
    assert system == ['openssh-client [platform:dpkg]', 'openssh-clients [platform:rpm]']


@pytest.mark.parametrize('role', ROLES)
def test_ansible_doc_renders_every_role(role, artifact):
    _names, work = artifact
    proc = subprocess.run([os.path.join(BIN, 'ansible-doc'), '-t', 'role', 'ovn_k8s.overlay.' + role],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(work), ANSIBLE_NOCOLOR='1'))
    assert proc.returncode == 0 and 'ovn_k8s.overlay.' + role in proc.stdout, proc.stdout
    assert not re.search(r'\[(WARNING|ERROR)\]|^ERROR!', proc.stdout, re.M), proc.stdout
    with open(os.path.join(REPO, 'roles', role, 'meta', 'argument_specs.yml')) as f:
        main = yaml.safe_load(f)['argument_specs']['main']
    assert main['description'] and main['version_added'] and main['short_description']


def test_antsibull_docs_accepts_every_role_and_module(artifact):
    lint = tool('antsibull-docs')
    if not lint:
        pytest.skip('antsibull-docs is not installed')
    _names, work = artifact
    here = work / 'ansible_collections' / 'ovn_k8s' / 'overlay'
    import ansible_collections  # the bundled collections (kubernetes.core), where the docs tool looks for dependencies
    bundled = os.path.dirname(list(ansible_collections.__path__)[0])
    proc = subprocess.run([lint, 'lint-collection-docs', '--plugin-docs', '.'], cwd=str(here), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=600, check=False,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH='%s:%s' % (work, bundled),
                                   PATH=os.path.dirname(lint) + ':' + BIN + ':' + os.environ['PATH']))
    assert proc.returncode == 0, proc.stdout
