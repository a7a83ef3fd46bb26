# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovn_chassis (a removed node's chassis) against a real ovsdb-server with the OVN Southbound
schema: check mode predicts, the real run removes the chassis, its encapsulations and its
Chassis_Private row and nothing of another chassis, the repeat changes nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess

import pytest

from conftest import SB_SCHEMA, OvsdbServer, converge_module, run_module


def sbctl(remote, *args):
    return subprocess.check_output(['ovn-sbctl', '--db=' + remote] + list(args), universal_newlines=True).strip()


@pytest.fixture
def sb_db(tmp_path):
    server = OvsdbServer(tmp_path, [SB_SCHEMA], 'sb')
    yield server.remote
    server.stop()


def add_chassis(remote, name, ip, hostname):
    sbctl(remote, 'chassis-add', name, 'geneve', ip)
    sbctl(remote, 'set', 'Chassis', name, 'hostname=' + hostname)
    sbctl(remote, 'create', 'Chassis_Private', 'name=' + name,
          'chassis=' + sbctl(remote, '--bare', '--columns=_uuid', 'find', 'Chassis', 'name=' + name))


def names(remote, table):
    return sorted(sbctl(remote, '--bare', '--columns=name', 'list', table).split())


def test_removes_the_chassis_and_nothing_else(sb_db):
    add_chassis(sb_db, 'ch-gone', '192.0.2.11', 'node1')
    add_chassis(sb_db, 'ch-stays', '192.0.2.12', 'node2')

    def untouched():
        assert names(sb_db, 'Chassis') == ['ch-gone', 'ch-stays']
        assert names(sb_db, 'Chassis_Private') == ['ch-gone', 'ch-stays']

    check, real, repeat = converge_module('ovn_chassis', dict(remote=sb_db, name='ch-gone'), untouched=untouched)
    assert check['chassis'] == dict(name='ch-gone', hostname='node1', encaps=['geneve:192.0.2.11'], private=True)
    assert sorted(real['diff']['before']) == ['Chassis ch-gone', 'Chassis_Private ch-gone']
    assert real['diff']['after'] == {'Chassis ch-gone': None, 'Chassis_Private ch-gone': None}
    assert repeat['chassis'] is None
    assert names(sb_db, 'Chassis') == ['ch-stays']
    assert names(sb_db, 'Chassis_Private') == ['ch-stays']
    # Its encapsulation went with it; the other chassis keeps its own.
    assert sbctl(sb_db, '--bare', '--columns=ip', 'list', 'Encap') == '192.0.2.12'


def test_a_chassis_private_row_alone_is_removed_too(sb_db):
    """ovn-controller may have deleted the Chassis but not its Chassis_Private row."""
    sbctl(sb_db, 'create', 'Chassis_Private', 'name=ch-half')
    check, real, dummy = converge_module('ovn_chassis', dict(remote=sb_db, name='ch-half'))
    assert check['chassis'] == dict(name='ch-half', private=True)
    assert list(real['diff']['after']) == ['Chassis_Private ch-half']
    assert names(sb_db, 'Chassis_Private') == []


def test_bad_input_changes_nothing(sb_db):
    add_chassis(sb_db, 'ch-a', '192.0.2.11', 'node1')
    result = run_module('ovn_chassis', dict(remote=sb_db, name='  '))
    assert result['failed'] and 'name is empty' in result['msg']
    result = run_module('ovn_chassis', dict(remote=sb_db, name='ch-a', state='present'))
    assert result['failed'] and 'state' in result['msg']
    assert names(sb_db, 'Chassis') == ['ch-a']
