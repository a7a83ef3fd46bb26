#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: ovn_db_listeners
short_description: Manage where an OVN database listens, and its SSL files
version_added: 0.1.0
description:
  - Converge the listeners (the C(connections) of the C(NB_Global) or C(SB_Global) row) of the
    OVN Northbound or Southbound database, and the private key, certificate and CA certificate
    it uses for them (its C(SSL) row), as C(ovn-nbctl set-connection) and C(set-ssl) would, but
    read and compared first, in one transaction, with check mode and diff.
  - A database started by C(ovn-ctl) (as the Debian units start it) opens and closes its
    listeners as soon as they change here.
  - Unlike the other modules of the collection, it takes the database as an option and no
    environment variables for its connection; O(remote) defaults to the chosen database's local
    unix socket (or to E(OVN_NB_DB)/E(OVN_SB_DB) when set, as C(ovn-nbctl)/C(ovn-sbctl) read them).
    A member of a clustered database serves the change through its own socket and forwards it
    to the leader.
author:
  - ovn_k8s.overlay contributors (@ovn-k8s-overlay)
options:
  database:
    description: The database to configure.
    type: str
    required: true
    choices: [nb, sb]
  listeners:
    description:
      - Every listener the database should have, converged exactly (others are removed). Omit to
        leave the listeners alone.
    type: list
    elements: dict
    suboptions:
      target:
        description:
          - A passive remote such as V(ptcp:6641:192.0.2.10), V(pssl:6642:192.0.2.10) or
            V(punix:/run/ovn/extra.sock) (an active V(tcp:HOST:PORT) or V(ssl:HOST:PORT) makes
            the database connect out instead).
        type: str
        required: true
      role:
        description:
          - Southbound only. The RBAC role of clients on this listener, such as
            V(ovn-controller); an empty string or none means no role (full access).
        type: str
  ssl:
    description:
      - The SSL files of the database's V(pssl:) and V(ssl:) listeners, paths on the database's
        host (every member of a cluster). Omit to leave them alone.
    type: dict
    suboptions:
      private_key:
        description: Private key file.
        type: path
        required: true
      certificate:
        description: Certificate file.
        type: path
        required: true
      ca_cert:
        description: CA certificate that signed the clients' certificates.
        type: path
        required: true
extends_documentation_fragment:
  - ovn_k8s.overlay.ovsdb_connection
  - ovn_k8s.overlay.attributes
  - ovn_k8s.overlay.attributes.ALL
'''

EXAMPLES = r'''
- name: The Northbound database listens on the cluster address, TCP and TLS
  ovn_k8s.overlay.ovn_db_listeners:
    database: nb
    listeners:
      - target: ptcp:6641:192.0.2.10
      - target: pssl:6643:192.0.2.10
    ssl:
      private_key: /etc/ovn/pki/ovn-central-privkey.pem
      certificate: /etc/ovn/pki/ovn-central-cert.pem
      ca_cert: /etc/ovn/pki/switchca/cacert.pem

- name: The Southbound database, nodes held to their own chassis rows
  ovn_k8s.overlay.ovn_db_listeners:
    database: sb
    listeners:
      - target: pssl:6642:192.0.2.10
        role: ovn-controller
'''

RETURN = r'''
diff:
  description: Keyed by C(NB_Global connections) / C(SB_Global connections) and C(NB_Global ssl) / C(SB_Global ssl).
  returned: changed and diff mode
  type: dict
'''

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._common import OvsdbModule
from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _db_config


def main():
    module = OvsdbModule(None, dict(
        database=dict(type='str', required=True, choices=['nb', 'sb']),
        listeners=dict(type='list', elements='dict', options=dict(
            target=dict(type='str', required=True),
            role=dict(type='str'),
        )),
        ssl=dict(type='dict', options=dict(
            private_key=dict(type='path', required=True, no_log=False),
            certificate=dict(type='path', required=True),
            ca_cert=dict(type='path', required=True),
        )),
    ))
    p = module.params
    module.database = _db_config.BY_NAME[p['database']]

    def plan(cs, client):
        _db_config.ensure_listeners(cs, client, p['listeners'], p['ssl'])

    module.run(_db_config.tables(module.database), plan)


if __name__ == '__main__':
    main()
