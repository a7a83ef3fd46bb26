# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared connection options: TCP and SSL remotes of a real ovsdb-server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import subprocess
import time

import pytest

from conftest import NB_SCHEMA, run_module
from local_ports import free_port  # tests/lib
from ovs_pki import make_pki  # tests/lib


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    """A small PKI made with ovs-pki, as the central role does when asked."""
    return make_pki(tmp_path_factory.mktemp('pki'))


@pytest.fixture
def nb_ssl(tmp_path, pki):
    db = str(tmp_path / 'nb.db')
    subprocess.check_call(['ovsdb-tool', 'create', db, NB_SCHEMA])
    tcp, ssl = free_port(), free_port()
    pid = str(tmp_path / 'pid')
    subprocess.check_call([
        'ovsdb-server', '--detach', '--no-chdir', '--pidfile=' + pid, '--unixctl=%s/ctl' % tmp_path,
        '--log-file=%s/log' % tmp_path,
        '--private-key=%s/server-privkey.pem' % pki, '--certificate=%s/server-cert.pem' % pki,
        '--ca-cert=%s/pki/switchca/cacert.pem' % pki,
        '--remote=ptcp:%d:127.0.0.1' % tcp, '--remote=pssl:%d:127.0.0.1' % ssl, db])
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(('127.0.0.1', ssl), 1).close()
            break
        except OSError:
            time.sleep(0.05)
    yield tcp, ssl
    with open(pid) as f:
        os.kill(int(f.read()), 15)


def test_tcp_and_ssl(nb_ssl, pki):
    tcp, ssl = nb_ssl
    assert run_module('ovn_logical_switch', dict(remote='tcp:127.0.0.1:%d' % tcp, name='a'))['changed']
    creds = dict(ssl_key='%s/client-privkey.pem' % pki, ssl_cert='%s/client-cert.pem' % pki,
                 ssl_ca_cert='%s/pki/switchca/cacert.pem' % pki)
    res = run_module('ovn_logical_switch', dict(creds, remote='ssl:127.0.0.1:%d' % ssl, name='b'))
    assert res['changed'] and not res.get('failed'), res
    # Both land in the same database, seen over either remote.
    res = run_module('ovn_logical_switch', dict(creds, remote='ssl:127.0.0.1:%d' % ssl, name='a'))
    assert res['changed'] is False, res
    # The same options from the environment, as module_defaults-free playbooks may use.
    env = dict(OVN_K8S_NB_REMOTE='ssl:127.0.0.1:%d' % ssl, OVN_K8S_NB_SSL_KEY=creds['ssl_key'],
               OVN_K8S_NB_SSL_CERT=creds['ssl_cert'], OVN_K8S_NB_SSL_CA_CERT=creds['ssl_ca_cert'])
    res = run_module('ovn_logical_switch', dict(name='b'), env=env)
    assert res['changed'] is False and not res.get('failed'), res


def test_ssl_with_wrong_ca_fails_clearly(nb_ssl, pki):
    ssl = nb_ssl[1]
    res = run_module('ovn_logical_switch', dict(
        remote='ssl:127.0.0.1:%d' % ssl, name='c', timeout=3, ssl_key='%s/client-privkey.pem' % pki,
        ssl_cert='%s/client-cert.pem' % pki, ssl_ca_cert='%s/pki/controllerca/cacert.pem' % pki))
    assert res['failed'] and res['msg'].startswith(
        'cannot reach the OVN Northbound database at ssl:127.0.0.1:%d' % ssl), res['msg']
    assert 'the SSL handshake failed: check that ssl_ca_cert signed' in res['msg'], res['msg']


def test_missing_ssl_file(nb_ssl, pki, tmp_path):
    ssl = nb_ssl[1]
    res = run_module('ovn_logical_switch', dict(
        remote='ssl:127.0.0.1:%d' % ssl, name='c', ssl_key='%s/nope.pem' % tmp_path,
        ssl_cert='%s/client-cert.pem' % pki, ssl_ca_cert='%s/pki/switchca/cacert.pem' % pki))
    assert res['failed'] and res['msg'] == 'ssl_key file %s/nope.pem does not exist' % tmp_path


def test_silent_peer_times_out(tmp_path):
    """A remote that accepts but never answers must not hang the task."""
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        res = run_module('ovn_logical_switch', dict(remote='tcp:127.0.0.1:%d' % port, name='x', timeout=2))
        assert res['failed'] and res['msg'] == (
            'cannot reach the OVN Northbound database at tcp:127.0.0.1:%d: connection timed out' % port), res['msg']
    finally:
        srv.close()


def test_environment_names_its_database(nb_db, ovs_db, tmp_path):
    """OVN_K8S_NB_* serve the Northbound modules, OVN_K8S_OVS_* the Open vSwitch ones."""
    from conftest import nbctl, vsctl
    nowhere = 'unix:%s/nowhere.sock' % tmp_path
    env = dict(OVN_K8S_NB_REMOTE=nb_db, OVN_K8S_OVS_REMOTE=ovs_db, OVN_NB_DB=nowhere, OVS_DB=nowhere)
    res = run_module('ovn_logical_switch', dict(name='from-env'), env=env)
    assert res['changed'] and not res.get('failed'), res
    res = run_module('ovs_external_ids', dict(external_ids={'from-env': 'yes'}), env=env)
    assert res['changed'] and not res.get('failed'), res
    assert 'from-env' in nbctl(nb_db, 'ls-list')
    assert vsctl(ovs_db, 'get', 'Open_vSwitch', '.', 'external_ids:from-env') == 'yes'
    # Each module reads only its own database's variable.
    res = run_module('ovs_external_ids', dict(external_ids={'x': 'y'}), env=dict(env, OVN_K8S_OVS_REMOTE=''))
    assert res['failed'] and nowhere in res['msg'], res
