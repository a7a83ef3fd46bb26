# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small PKI made with ``ovs-pki``, as the central role makes one, for tests and benchmarks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess


def make_pki(directory, names=('server', 'client')):
    """``ovs-pki init`` in DIRECTORY/pki, then a key and a certificate signed by its switch CA
    for each of ``names``: DIRECTORY/NAME-privkey.pem and DIRECTORY/NAME-cert.pem. The CA
    certificate is ``ca_cert(DIRECTORY)``. Returns DIRECTORY."""
    directory = str(directory)
    os.makedirs(directory, exist_ok=True)
    pki = ['ovs-pki', '--dir=%s/pki' % directory, '--log=%s/pki.log' % directory]
    quiet = dict(cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.check_call(pki + ['init'], **quiet)
    for name in names:
        subprocess.check_call(pki + ['req+sign', name, 'switch'], **quiet)
    return directory


def ca_cert(directory):
    return os.path.join(str(directory), 'pki', 'switchca', 'cacert.pem')
