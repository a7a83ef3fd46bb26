# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Mirrors connection_spec() in plugins/module_utils/_common.py.
    DOCUMENTATION = r'''
options:
  remote:
    description:
      - How to reach the database, as an OVSDB remote such as V(unix:/var/run/ovn/ovnnb_db.sock),
        V(tcp:192.0.2.10:6641) or V(ssl:192.0.2.10:6641).
      - For a clustered (RAFT) database give every member, separated by commas as OVS writes it
        (V(ssl:192.0.2.10:6641,ssl:192.0.2.11:6641,ssl:192.0.2.12:6641)). The module then reads
        from and writes to the cluster's leader only, moves to another member when one goes away,
        and after a lost connection plans its change again from the new leader's contents, so a
        change whose reply was lost is not made twice.
      - If not set, for a module of the OVN Northbound database the environment variable
        E(OVN_K8S_NB_REMOTE) is used, then E(OVN_NB_DB) (as C(ovn-nbctl) does), then
        V(unix:/var/run/ovn/ovnnb_db.sock); for a module of the local Open vSwitch database
        E(OVN_K8S_OVS_REMOTE), then E(OVS_DB), then V(unix:/var/run/openvswitch/db.sock).
    type: str
  timeout:
    description:
      - Seconds to wait for the database to answer when connecting and when committing.
      - If not set, the environment variable E(OVN_K8S_NB_TIMEOUT) is used for a module of the OVN
        Northbound database, E(OVN_K8S_OVS_TIMEOUT) for a module of the Open vSwitch database.
    type: int
    default: 10
  ssl_key:
    description:
      - Private key file for an V(ssl:) remote.
      - If not set, the environment variable E(OVN_K8S_NB_SSL_KEY) is used for a module of the OVN
        Northbound database, E(OVN_K8S_OVS_SSL_KEY) for a module of the Open vSwitch database.
    type: path
  ssl_cert:
    description:
      - Certificate file for an V(ssl:) remote.
      - If not set, the environment variable E(OVN_K8S_NB_SSL_CERT) is used for a module of the OVN
        Northbound database, E(OVN_K8S_OVS_SSL_CERT) for a module of the Open vSwitch database.
    type: path
  ssl_ca_cert:
    description:
      - CA certificate file that signed the server's certificate, for an V(ssl:) remote.
      - If not set, the environment variable E(OVN_K8S_NB_SSL_CA_CERT) is used for a module of the OVN
        Northbound database, E(OVN_K8S_OVS_SSL_CA_CERT) for a module of the Open vSwitch database.
    type: path
requirements:
  - ovsdbapp (Debian package C(python3-ovsdbapp))
  - ovs (Debian package C(python3-openvswitch))
notes:
  - The action group C(ovn_k8s.overlay.ovn_nb) holds the modules of the OVN Northbound database and
    C(ovn_k8s.overlay.ovs) those of the local Open vSwitch database, so that C(module_defaults) can
    give each its own connection options.
  - When the Python that runs the module lacks C(ovsdbapp) or C(ovs), the module re-runs itself
    under the system Python (C(/usr/bin/python3)) if that one has them.
  - Each run reads the database once, computes the change and the diff from what it read, and
    commits every change in one transaction, whose errors fail the task.
'''
