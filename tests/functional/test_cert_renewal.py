# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates over time (issue 24, item 4): a host's certificate is renewed by the same CA
when it expires within ovn_cluster_cert_renew_days (role ovn_cluster, tasks client_cert.yml, as
ovn_node and ovn_watcher use it), the CA survives a backup, its loss and a restore (a renewal
then signs with the same CA; without the CA, or with another one, nothing is signed and the
message says what to do), a central's own certificate is renewed by tasks/pki.yml, and an
ovsdb-server serving TLS presents a renewed certificate to new clients without a restart.

ovs-pki makes certificates for 3650 days: ovn_cluster_cert_renew_days: 4000 is a certificate
that expires "soon", so renewal happens for real, through ansible-playbook and a real ovs-pki CA."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys
import tarfile

from conftest import NB_SCHEMA, collection_root
from local_ports import free_port  # tests/lib
from ovs_pki import ca_cert, make_pki  # tests/lib
from test_client_cert import PLAY, openssl
from test_integration_targets import ansible_playbook
from waiting import wait_for  # tests/lib

SOON = 4000  # days: more than ovs-pki's 3650, so every certificate it made expires "soon"

PKI_PLAY = '''---
- name: A central's PKI
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The role's PKI tasks
      ansible.builtin.include_role:
        name: ovn_k8s.overlay.ovn_central
        tasks_from: pki.yml
'''


def playbook(tmp_path, text, variables, *extra):
    (tmp_path / 'play.yml').write_text(text)
    variables = dict(variables, ansible_python_interpreter=sys.executable)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_root(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'al'),
               ANSIBLE_HOME=str(tmp_path / 'ah'))
    return subprocess.run([ansible_playbook(), '-i', 'localhost,', '-c', 'local', '-e', json.dumps(variables),
                           str(tmp_path / 'play.yml')] + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=env, cwd=str(tmp_path), timeout=300, check=False)


def client(tmp_path, out, *extra, renew_days=30):
    return playbook(tmp_path, PLAY, {'cn': 'node-a', 'out': str(out), 'ca_host': 'localhost',
                                     'ca_dir': str(tmp_path / 'ca' / 'pki'), 'ovn_cluster_cert_renew_days': renew_days}, *extra)


def fingerprint(path):
    return openssl('x509', '-in', str(path), '-noout', '-fingerprint')


def verifies(ca, cert):
    return openssl('verify', '-CAfile', str(ca), str(cert)).strip().endswith('OK')


def test_renewal_before_expiry_by_the_same_ca(tmp_path):
    make_pki(tmp_path / 'ca', names=())
    out = tmp_path / 'client'
    key, cert, ca = (out / n for n in ('client-privkey.pem', 'client-cert.pem', 'cacert.pem'))
    first = client(tmp_path, out)
    assert first.returncode == 0, first.stdout
    old_cert, old_key, old_ca = fingerprint(cert), key.read_text(), ca.read_text()

    # Valid for ten years: left alone.
    calm = client(tmp_path, out)
    assert calm.returncode == 0 and 'changed=0' in calm.stdout, calm.stdout
    assert fingerprint(cert) == old_cert

    # Check mode says it would renew and changes nothing.
    check = client(tmp_path, out, '--check', renew_days=SOON)
    assert check.returncode == 0 and 'changed=1' in check.stdout, check.stdout
    assert 'expires within %d days' % SOON in check.stdout, check.stdout
    assert fingerprint(cert) == old_cert and key.read_text() == old_key

    renewed = client(tmp_path, out, renew_days=SOON)
    assert renewed.returncode == 0 and 'changed=0' not in renewed.stdout, renewed.stdout
    # A new certificate and a new key, for each other, from the same CA.
    assert fingerprint(cert) != old_cert and key.read_text() != old_key
    assert openssl('x509', '-in', str(cert), '-noout', '-pubkey') == openssl('pkey', '-in', str(key), '-pubout')
    assert ca.read_text() == old_ca and verifies(ca, cert)
    assert 'CN = node-a' in openssl('x509', '-in', str(cert), '-noout', '-subject')
    assert sorted(p.name for p in out.iterdir()) == ['cacert.pem', 'client-cert.pem', 'client-privkey.pem', 'client-privkey.pem.req']
    assert os.stat(str(key)).st_mode & 0o777 == 0o600 and os.stat(str(cert)).st_mode & 0o777 == 0o600
    # And a run that does not ask for it leaves the new one alone.
    again = client(tmp_path, out)
    assert again.returncode == 0 and 'changed=0' in again.stdout, again.stdout


def test_ca_backup_loss_and_restore(tmp_path):
    make_pki(tmp_path / 'ca', names=())
    ca_dir = tmp_path / 'ca' / 'pki'
    out = tmp_path / 'client'
    cert = out / 'client-cert.pem'
    assert client(tmp_path, out).returncode == 0
    original_ca = (out / 'cacert.pem').read_text()

    # The backup the README describes: the whole directory, as a tar archive.
    backup = tmp_path / 'pki-backup.tar.gz'
    with tarfile.open(str(backup), 'w:gz') as tar:
        tar.add(str(ca_dir), arcname='pki')
    shutil.rmtree(str(ca_dir))

    # The CA is gone: nothing is signed, nothing changes on the host, the message says what to do.
    before = fingerprint(cert)
    lost = client(tmp_path, out, renew_days=SOON)
    assert lost.returncode != 0, lost.stdout
    assert 'there is no CA in %s on localhost' % ca_dir in lost.stdout and 'Restore the CA' in lost.stdout, lost.stdout
    assert fingerprint(cert) == before and not ca_dir.exists()

    # Another CA in its place (what a silent re-init would make) is refused the same way.
    make_pki(tmp_path / 'ca', names=())
    other = client(tmp_path, out, renew_days=SOON)
    assert other.returncode != 0, other.stdout
    assert 'is not the one that signed' in other.stdout, other.stdout
    assert fingerprint(cert) == before
    shutil.rmtree(str(ca_dir))

    # Restored from the backup: the renewal signs with the same CA.
    with tarfile.open(str(backup), 'r:gz') as tar:
        tar.extractall(str(tmp_path / 'ca'))
    restored = client(tmp_path, out, renew_days=SOON)
    assert restored.returncode == 0, restored.stdout
    assert fingerprint(cert) != before
    assert (out / 'cacert.pem').read_text() == original_ca
    with open(str(tmp_path / 'original-ca.pem'), 'w') as f:
        f.write(original_ca)
    assert verifies(tmp_path / 'original-ca.pem', cert)


def test_central_certificate_renewed_and_no_second_ca(tmp_path):
    pki = tmp_path / 'central'
    variables = {'ovn_central_pki_dir': str(pki), 'ovn_central_pki_clients': []}
    made = playbook(tmp_path, PKI_PLAY, variables)
    assert made.returncode == 0, made.stdout
    cert = pki / 'ovn-central-cert.pem'
    before, ca = fingerprint(cert), (pki / 'switchca' / 'cacert.pem').read_text()
    calm = playbook(tmp_path, PKI_PLAY, variables)
    assert calm.returncode == 0 and 'changed=0' in calm.stdout, calm.stdout
    renewed = playbook(tmp_path, PKI_PLAY, dict(variables, ovn_cluster_cert_renew_days=SOON))
    assert renewed.returncode == 0, renewed.stdout
    assert fingerprint(cert) != before and (pki / 'switchca' / 'cacert.pem').read_text() == ca
    assert verifies(pki / 'switchca' / 'cacert.pem', cert)
    # The CA lost while its certificate is still here: no second CA, a message instead.
    shutil.rmtree(str(pki / 'switchca'))
    lost = playbook(tmp_path, PKI_PLAY, variables)
    assert lost.returncode != 0 and 'there is no CA in %s/switchca' % pki in lost.stdout, lost.stdout
    assert not (pki / 'switchca').exists()


def presented(port, ca):
    """The serial of the certificate a TLS server on 127.0.0.1:port presents to a new client."""
    proc = subprocess.run(['openssl', 's_client', '-connect', '127.0.0.1:%d' % port, '-CAfile', str(ca), '-showcerts'],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          universal_newlines=True, timeout=30, check=False)
    if 'BEGIN CERTIFICATE' not in proc.stdout:
        return None
    pem = proc.stdout[proc.stdout.index('-----BEGIN CERTIFICATE'):proc.stdout.index('-----END CERTIFICATE-----') + 25]
    return subprocess.run(['openssl', 'x509', '-noout', '-serial'], input=pem, stdout=subprocess.PIPE,
                          universal_newlines=True, check=True).stdout.strip()


def test_ovsdb_server_presents_a_renewed_certificate_without_a_restart(tmp_path):
    make_pki(tmp_path, names=('server', 'client'))
    db = str(tmp_path / 'nb.db')
    subprocess.check_call(['ovsdb-tool', 'create', db, NB_SCHEMA])
    port = free_port()
    pidfile = str(tmp_path / 'nb.pid')
    # As ovn-ctl starts it with --ovn-nb-db-ssl-key/-cert/-ca-cert: files given on the command line.
    subprocess.check_call(['ovsdb-server', '--detach', '--no-chdir', '--pidfile=' + pidfile,
                           '--unixctl=' + str(tmp_path / 'nb.ctl'), '--log-file=' + str(tmp_path / 'nb.log'),
                           '--remote=pssl:%d:127.0.0.1' % port, '--private-key=' + str(tmp_path / 'server-privkey.pem'),
                           '--certificate=' + str(tmp_path / 'server-cert.pem'), '--ca-cert=' + ca_cert(tmp_path), db])
    try:
        with open(pidfile) as f:
            pid = int(f.read())
        old = wait_for('the TLS listener', lambda: presented(port, ca_cert(tmp_path)), timeout=30)
        # Renewed as the role renews a central's certificate: ovs-pki makes the pair again in place.
        subprocess.check_call(['ovs-pki', '--dir=%s/pki' % tmp_path, '--log=%s/pki.log' % tmp_path, '--force',
                               'req+sign', 'server', 'switch'], cwd=str(tmp_path),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        new = subprocess.check_output(['openssl', 'x509', '-noout', '-serial', '-in', str(tmp_path / 'server-cert.pem')],
                                      universal_newlines=True).strip()
        assert new != old
        # New clients get the new certificate (the server re-reads changed files in its main loop).
        wait_for('the renewed certificate', lambda: presented(port, ca_cert(tmp_path)) == new, timeout=30)
        # The same process, and a client still gets in with its own certificate.
        with open(pidfile) as f:
            assert int(f.read()) == pid
        listed = subprocess.run(['ovsdb-client', '--timeout=10', '-p', str(tmp_path / 'client-privkey.pem'),
                                 '-c', str(tmp_path / 'client-cert.pem'), '-C', ca_cert(tmp_path),
                                 'list-dbs', 'ssl:127.0.0.1:%d' % port],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=30, check=False)
        assert listed.returncode == 0 and 'OVN_Northbound' in listed.stdout, listed.stdout
    finally:
        subprocess.run(['ovs-appctl', '-t', str(tmp_path / 'nb.ctl'), 'exit'], timeout=30, check=False)
