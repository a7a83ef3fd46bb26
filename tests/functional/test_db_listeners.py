# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module ovn_db_listeners against real Northbound and Southbound ovsdb-servers: listeners and
SSL files in check mode (predicted, nothing written), for real, again (no change), changed,
and bad input (a clear message, nothing written). A listener it opens is really listened on."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import subprocess

import pytest

from conftest import NB_SCHEMA, SB_SCHEMA, OvsdbServer, run_module
from local_ports import free_port  # tests/lib
from ovs_pki import ca_cert, make_pki  # tests/lib
from waiting import wait_for  # tests/lib


@pytest.fixture
def dbs(tmp_path):
    """A Northbound and a Southbound server that, like ovn-ctl's, listen where their own
    global row says (``--remote=db:...``) and take their SSL files from it."""
    servers = {}
    for name, schema, table in (('nb', NB_SCHEMA, 'NB_Global'), ('sb', SB_SCHEMA, 'SB_Global')):
        (tmp_path / name).mkdir()
        server = OvsdbServer(tmp_path / name, [schema], name)
        database = 'OVN_Northbound' if name == 'nb' else 'OVN_Southbound'
        subprocess.check_call(['ovs-appctl', '-t', str(tmp_path / name / (name + '.ctl')), 'ovsdb-server/add-remote',
                               'db:%s,%s,connections' % (database, table)])
        servers[name] = server
    yield dict((k, v.remote) for k, v in servers.items())
    for server in servers.values():
        server.stop()


def ctl(remote, database, *args):
    tool = 'ovn-nbctl' if database == 'nb' else 'ovn-sbctl'
    return subprocess.check_output([tool, '--db=' + remote] + list(args), universal_newlines=True).strip()


def listening(port):
    try:
        socket.create_connection(('127.0.0.1', port), 1).close()
        return True
    except OSError:
        return False


def converge(remote, database, **args):
    """Check mode predicts and writes nothing; the real run makes that diff; a repeat changes nothing."""
    args = dict(args, database=database, remote=remote)
    before = (ctl(remote, database, 'get-connection'), ctl(remote, database, 'get-ssl'))
    check = run_module('ovn_db_listeners', args, check_mode=True)
    assert not check.get('failed'), check
    assert (ctl(remote, database, 'get-connection'), ctl(remote, database, 'get-ssl')) == before
    real = run_module('ovn_db_listeners', args)
    assert not real.get('failed'), real
    assert real['changed'] == check['changed'] and real.get('diff') == check.get('diff')
    again = run_module('ovn_db_listeners', args)
    assert not again.get('failed') and again['changed'] is False, again
    return real


def test_northbound_listeners_open_change_and_close(dbs):
    one, two = free_port(), free_port()
    out = converge(dbs['nb'], 'nb', listeners=[{'target': 'ptcp:%d:127.0.0.1' % one}])
    assert out['changed'] and out['diff']['after']['NB_Global connections'] == {'connections': ['ptcp:%d:127.0.0.1' % one]}
    assert ctl(dbs['nb'], 'nb', 'get-connection') == 'ptcp:%d:127.0.0.1' % one
    wait_for('the listener on %d' % one, lambda: listening(one))
    # Another listener instead: the first one closes.
    out = converge(dbs['nb'], 'nb', listeners=[{'target': 'ptcp:%d:127.0.0.1' % two}])
    assert out['diff']['before']['NB_Global connections'] == {'connections': ['ptcp:%d:127.0.0.1' % one]}
    wait_for('the listener on %d' % two, lambda: listening(two))
    wait_for('the listener on %d to close' % one, lambda: not listening(one))
    # Only one Connection row is left (the one that was dropped went with its reference).
    assert ctl(dbs['nb'], 'nb', '--bare', '--columns=target', 'list', 'Connection') == 'ptcp:%d:127.0.0.1' % two
    # None at all.
    converge(dbs['nb'], 'nb', listeners=[])
    assert ctl(dbs['nb'], 'nb', 'get-connection') == ''
    wait_for('the listener on %d to close' % two, lambda: not listening(two))


def test_southbound_listeners_with_roles_and_ssl(dbs, tmp_path):
    pki = make_pki(tmp_path / 'pki', ['sb'])
    ssl = dict(private_key='%s/sb-privkey.pem' % pki, certificate='%s/sb-cert.pem' % pki, ca_cert=ca_cert(pki))
    tcp, tls = free_port(), free_port()
    wanted = [{'target': 'ptcp:%d:127.0.0.1' % tcp, 'role': ''},
              {'target': 'pssl:%d:127.0.0.1' % tls, 'role': 'ovn-controller'}]
    out = converge(dbs['sb'], 'sb', listeners=wanted, ssl=ssl)
    assert out['diff']['after']['SB_Global ssl'] == ssl and out['diff']['before']['SB_Global ssl'] is None
    assert sorted(ctl(dbs['sb'], 'sb', 'get-connection').splitlines()) == sorted(
        ['read-write role="" ptcp:%d:127.0.0.1' % tcp, 'read-write role="ovn-controller" pssl:%d:127.0.0.1' % tls])
    assert ctl(dbs['sb'], 'sb', 'get-ssl').splitlines()[:3] == [
        'Private key: ' + ssl['private_key'], 'Certificate: ' + ssl['certificate'], 'CA Certificate: ' + ssl['ca_cert']]
    wait_for('the TLS listener', lambda: listening(tls))
    # The role of one listener changes: that listener is replaced, the other stays as it was.
    uuid_tcp = ctl(dbs['sb'], 'sb', '--bare', '--columns=_uuid', 'find', 'Connection', 'target="ptcp:%d:127.0.0.1"' % tcp)
    wanted[1]['role'] = ''
    out = converge(dbs['sb'], 'sb', listeners=wanted)
    assert 'pssl:%d:127.0.0.1 role=""' % tls in out['diff']['after']['SB_Global connections']['connections']
    assert ctl(dbs['sb'], 'sb', '--bare', '--columns=_uuid', 'find', 'Connection', 'target="ptcp:%d:127.0.0.1"' % tcp) == uuid_tcp
    assert 'SB_Global ssl' not in out['diff']['after'], 'ssl not given: left alone'
    # A listener made read-only by hand is not one the module makes: it is replaced.
    ctl(dbs['sb'], 'sb', 'set', 'Connection', uuid_tcp, 'read_only=true')
    out = converge(dbs['sb'], 'sb', listeners=wanted)
    assert 'ptcp:%d:127.0.0.1 role="" read-only' % tcp in out['diff']['before']['SB_Global connections']['connections']
    assert ctl(dbs['sb'], 'sb', '--bare', '--columns=read_only', 'list', 'Connection').split() == ['false', 'false']


def global_rows(remote, database, table):
    """The global rows as ovsdb-client sees them (ovn-nbctl/ovn-sbctl would make one)."""
    out = subprocess.check_output(['ovsdb-client', '--format=json', 'dump', remote, database, table, 'ssl'],
                                  universal_newlines=True)
    return json.loads(out)['data']


def test_a_database_without_its_global_row_gets_one(dbs, tmp_path):
    pki = make_pki(tmp_path / 'pki', ['nb'])
    ssl = dict(private_key='%s/nb-privkey.pem' % pki, certificate='%s/nb-cert.pem' % pki, ca_cert=ca_cert(pki))
    assert global_rows(dbs['nb'], 'OVN_Northbound', 'NB_Global') == []
    args = dict(database='nb', remote=dbs['nb'], ssl=ssl, listeners=[{'target': 'pssl:%d:127.0.0.1' % free_port()}])
    check = run_module('ovn_db_listeners', args, check_mode=True)
    assert check['changed'] and global_rows(dbs['nb'], 'OVN_Northbound', 'NB_Global') == []
    real = run_module('ovn_db_listeners', args)
    assert real['changed'] and real['diff'] == check['diff']
    rows = global_rows(dbs['nb'], 'OVN_Northbound', 'NB_Global')
    assert len(rows) == 1 and rows[0][0][0] == 'uuid', rows
    assert run_module('ovn_db_listeners', args)['changed'] is False


@pytest.mark.parametrize('database, args, why', [
    ('nb', {'listeners': [{'target': '6641'}]}, "the listener '6641' of the OVN Northbound database is not of the form"),
    ('nb', {'listeners': [{'target': 'ptcp:70000'}]}, 'ptcp:70000 of the OVN Northbound database has a port out of range'),
    ('nb', {'listeners': [{'target': 'ptcp:6641', 'role': 'ovn-controller'}]}, 'only the Southbound database has roles'),
    ('sb', {'listeners': [{'target': 'ptcp:6642'}, {'target': 'ptcp:6642', 'role': ''}]}, 'is given twice'),
    ('sb', {'ssl': {'private_key': '/nonexistent/key.pem', 'certificate': '/etc/hostname', 'ca_cert': '/etc/hostname'}},
     'the SSL private_key /nonexistent/key.pem of the OVN Southbound database does not exist on this host'),
])
def test_bad_input_changes_nothing(dbs, database, args, why):
    before = ctl(dbs[database], database, 'get-connection')
    out = run_module('ovn_db_listeners', dict(args, database=database, remote=dbs[database]))
    assert out.get('failed') and why in out['msg'], out
    assert ctl(dbs[database], database, 'get-connection') == before


def test_an_unreachable_database_is_named(tmp_path):
    out = run_module('ovn_db_listeners', dict(database='sb', remote='unix:%s/none.sock' % tmp_path, timeout=2, listeners=[]))
    assert out.get('failed') and 'OVN Southbound database' in out['msg'] and 'none.sock' in out['msg'], out
