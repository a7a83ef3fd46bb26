# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client certificate signed by the cluster's CA (role ovn_cluster, tasks client_cert.yml, as
ovn_node and ovn_watcher use it), through ansible-playbook against a real ovs-pki CA."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import subprocess
import sys

from conftest import collection_root
from ovs_pki import make_pki  # tests/lib
from test_integration_targets import ansible_playbook

PLAY = '''---
- name: A client certificate
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The role's certificate tasks
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_cluster
        tasks_from: client_cert.yml
      vars:
        ovn_cluster_cert_cn: "{{ cn }}"
        ovn_cluster_cert_key: "{{ out }}/client-privkey.pem"
        ovn_cluster_cert_file: "{{ out }}/client-cert.pem"
        ovn_cluster_cert_ca_file: "{{ out }}/cacert.pem"
        ovn_cluster_cert_ca_host: "{{ ca_host }}"
        ovn_cluster_cert_ca_dir: "{{ ca_dir }}"
'''


def run(tmp_path, out, *extra, cn='0c9a4a6e-chassis', ca_host='localhost'):
    (tmp_path / 'play.yml').write_text(PLAY)
    variables = {'cn': cn, 'out': str(out), 'ca_host': ca_host, 'ca_dir': str(tmp_path / 'ca' / 'pki'),
                 'ansible_python_interpreter': sys.executable}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'al'),
               ANSIBLE_HOME=str(tmp_path / 'ah'))
    return subprocess.run([ansible_playbook(), '-i', 'localhost,', '-c', 'local', '-e', json.dumps(variables),
                           str(tmp_path / 'play.yml')] + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=env, cwd=str(tmp_path), timeout=300, check=False)


def openssl(*args):
    return subprocess.check_output(['openssl'] + list(args), universal_newlines=True)


def test_a_key_made_here_and_a_certificate_signed_by_the_ca_once(tmp_path):
    make_pki(tmp_path / 'ca', names=())
    out = tmp_path / 'client'
    # Check mode says what would happen and makes nothing.
    check = run(tmp_path, out, '--check')
    assert check.returncode == 0 and 'changed=1' in check.stdout, check.stdout
    assert 'CN=0c9a4a6e-chassis' in check.stdout and not out.exists(), check.stdout
    first = run(tmp_path, out)
    assert first.returncode == 0 and 'changed=0' not in first.stdout, first.stdout
    key, cert, ca = (str(out / n) for n in ('client-privkey.pem', 'client-cert.pem', 'cacert.pem'))
    assert openssl('verify', '-CAfile', ca, cert).strip().endswith('OK')
    assert openssl('verify', '-CAfile', str(tmp_path / 'ca' / 'pki' / 'switchca' / 'cacert.pem'), cert).strip().endswith('OK')
    assert 'CN = 0c9a4a6e-chassis' in openssl('x509', '-in', cert, '-noout', '-subject')
    # The certificate is for this host's own key.
    assert openssl('x509', '-in', cert, '-noout', '-pubkey') == openssl('pkey', '-in', key, '-pubout')
    for path in (key, cert, ca):
        mode = os.stat(path)
        assert stat.S_IMODE(mode.st_mode) == 0o600 and mode.st_uid == os.getuid(), path
    assert stat.S_IMODE(os.stat(str(out)).st_mode) == 0o700
    # The key never went to the CA: only the request and the certificate are there.
    issued = sorted(os.listdir(str(tmp_path / 'ca' / 'pki' / 'issued')))
    assert issued == ['0c9a4a6e-chassis-cert.pem', '0c9a4a6e-chassis-req.pem'], issued
    # A second run leaves it alone.
    second = run(tmp_path, out)
    assert second.returncode == 0 and 'changed=0' in second.stdout, second.stdout
    # A host that lost its files gets a new key and a new certificate for it.
    old = openssl('x509', '-in', cert, '-noout', '-fingerprint')
    for path in (key, cert, key + '.req'):
        os.unlink(path)
    third = run(tmp_path, out)
    assert third.returncode == 0, third.stdout
    assert openssl('x509', '-in', cert, '-noout', '-fingerprint') != old
    assert openssl('x509', '-in', cert, '-noout', '-pubkey') == openssl('pkey', '-in', key, '-pubout')


def test_no_ca_host_is_a_clear_error_and_makes_nothing(tmp_path):
    out = tmp_path / 'client'
    proc = run(tmp_path, out, ca_host='')
    assert proc.returncode != 0, proc.stdout
    assert 'there is no CA host to sign it' in proc.stdout and 'client-cert.pem does not exist' in proc.stdout, proc.stdout
    assert not out.exists()
