#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab tooling (not shipped): the lab control plane's certificates and kubeconfigs.

    kube_pki.py DIR --server-ip IP [--server-ip IP ...] --lab-server URL --host-server URL

writes into DIR (mode 0600 files): ca.crt, apiserver.crt/.key (for every --server-ip and the
first service address), sa.key/sa.pub (service-account signing), and kubeconfigs:
admin.kubeconfig (system:masters, for the machine that runs the lab, through --host-server),
kube-controller-manager.kubeconfig and kube-scheduler.kubeconfig (on central, through
https://127.0.0.1:6443), and lab-admin.kubeconfig (system:masters, through --lab-server, for
lab tooling on the lab hosts). A DIR that already holds them for the same arguments is kept,
so a second prepare changes nothing.
"""

import argparse
import base64
import ipaddress
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'lib'))

import kube_control_plane  # noqa: E402  pylint: disable=wrong-import-position

SERVICE_CIDR = '10.96.0.0/16'


def b64(data):
    return base64.b64encode(data).decode('ascii')


def kubeconfig(pki, path, server, name, user, groups=()):
    cert, key, _cert_path, _key_path = pki.issue(name, user, organizations=groups)
    config = {
        'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'ovn-k8s-lab',
        'clusters': [{'name': 'ovn-k8s-lab', 'cluster': {'server': server, 'certificate-authority-data': b64(pki.ca_pem)}}],
        'users': [{'name': user, 'user': {'client-certificate-data': b64(cert), 'client-key-data': b64(key)}}],
        'contexts': [{'name': 'ovn-k8s-lab', 'context': {'cluster': 'ovn-k8s-lab', 'user': user}}],
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        json.dump(config, f, indent=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dir')
    parser.add_argument('--server-ip', action='append', required=True)
    parser.add_argument('--lab-server', required=True)
    parser.add_argument('--host-server', required=True)
    args = parser.parse_args()
    stamp_path = os.path.join(args.dir, 'stamp.json')
    stamp = json.dumps(vars(args), sort_keys=True)
    if os.path.exists(stamp_path):
        with open(stamp_path) as f:
            if f.read() == stamp:
                print('kept')
                return
    pki = kube_control_plane._Pki(args.dir)  # pylint: disable=protected-access
    first_service_ip = str(next(ipaddress.ip_network(SERVICE_CIDR).hosts()))
    pki.issue('apiserver', 'kube-apiserver', server=True, ips=tuple(args.server_ip) + ('127.0.0.1', first_service_ip),
              dns_names=('localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc',
                         'kubernetes.default.svc.cluster.local'))
    kubeconfig(pki, os.path.join(args.dir, 'admin.kubeconfig'), args.host_server, 'admin', 'lab-admin', ('system:masters',))
    kubeconfig(pki, os.path.join(args.dir, 'lab-admin.kubeconfig'), args.lab_server, 'lab-admin', 'lab-admin', ('system:masters',))
    kubeconfig(pki, os.path.join(args.dir, 'kube-controller-manager.kubeconfig'), 'https://127.0.0.1:6443',
               'kube-controller-manager', 'system:kube-controller-manager')
    kubeconfig(pki, os.path.join(args.dir, 'kube-scheduler.kubeconfig'), 'https://127.0.0.1:6443',
               'kube-scheduler', 'system:kube-scheduler')
    with open(stamp_path, 'w') as f:
        f.write(stamp)
    print('written')


if __name__ == '__main__':
    main()
