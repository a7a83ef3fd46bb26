# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""What every module of the collection shares: the connection options, the
import checks with a respawn into the system Python, and the one failure path.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.common import respawn

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _compat, _errors, _ovsdb, _txn

# The environment variables of the connection options start with the database's own prefix,
# so that one shell can point the Northbound and the Open vSwitch modules at different servers.
ENV_PREFIXES = {
    _ovsdb.NB_DB: 'OVN_K8S_NB_',
    _ovsdb.OVS_DB: 'OVN_K8S_OVS_',
}


def connection_spec(database):
    """The connection options of a module of ``database``.

    Mirrored by the doc fragment ovn_k8s.overlay.ovsdb_connection. ``database`` None: a module
    that is told which database by an option of its own; its options have no environment
    fallback (the remote's default is then the chosen database's own, see _ovsdb.DATABASES).
    """
    if database is None:
        spec = connection_spec(_ovsdb.NB_DB)
        for option in spec.values():
            option.pop('fallback')
        return spec
    prefix = ENV_PREFIXES[database]
    return dict(
        remote=dict(type='str', fallback=(env_fallback, [prefix + 'REMOTE'])),
        timeout=dict(type='int', default=10, fallback=(env_fallback, [prefix + 'TIMEOUT'])),
        ssl_key=dict(type='path', no_log=False, fallback=(env_fallback, [prefix + 'SSL_KEY'])),
        ssl_cert=dict(type='path', fallback=(env_fallback, [prefix + 'SSL_CERT'])),
        ssl_ca_cert=dict(type='path', fallback=(env_fallback, [prefix + 'SSL_CA_CERT'])),
    )


# Mirrored by the doc fragment ovn_k8s.overlay.external_ids.
EXTERNAL_IDS_SPEC = dict(
    external_ids=dict(type='dict'),
    purge_external_ids=dict(type='bool', default=False),
)

# Interpreters that may carry ovs/ovsdbapp as distribution packages.
SYSTEM_PYTHONS = ['/usr/bin/python3', '/usr/libexec/platform-python', '/usr/bin/python']


def ensure_library(module, name, import_error, probe_module):
    """Fail with missing_required_lib, after trying the system Python once."""
    if import_error is None:
        return
    if not respawn.has_respawned():
        interpreter = respawn.probe_interpreters_for_module(SYSTEM_PYTHONS, probe_module)
        if interpreter:
            respawn.respawn_module(interpreter)  # does not return
    module.fail_json(msg=missing_required_lib(name), exception=import_error)


class OvsdbModule(AnsibleModule):
    """An AnsibleModule that talks to one OVSDB database (``database`` None: the module sets
    ``self.database`` from its own options before it connects)."""

    def __init__(self, database, argument_spec, **kwargs):
        spec = connection_spec(database)
        spec.update(copy.deepcopy(argument_spec))
        kwargs.setdefault('supports_check_mode', True)
        super(OvsdbModule, self).__init__(argument_spec=spec, **kwargs)
        self.database = database
        ensure_library(self, 'ovsdbapp (and ovs)', _compat.OVSDBAPP_IMPORT_ERROR, 'ovsdbapp')

    def client(self, tables, conditions=None):
        return _ovsdb.Client(self.database, remote=self.params['remote'],
                             timeout=self.params['timeout'], tables=tables, conditions=conditions,
                             ssl_key=self.params['ssl_key'], ssl_cert=self.params['ssl_cert'],
                             ssl_ca_cert=self.params['ssl_ca_cert'])

    def run(self, tables, plan, conditions=None, **extra):
        """Connect, let ``plan(cs, client)`` fill a change set, commit unless in check mode.

        ``plan`` may return a dict merged into the result. Every collection
        error becomes one fail_json with its sentence as the message.
        """
        try:
            with self.client(tables, conditions) as client:
                cs, more = _txn.plan_and_commit(client, plan, check_mode=self.check_mode)
        except _errors.OvnK8sError as exc:
            self.fail_json(msg=str(exc))
        result = cs.result(**extra)
        result.update(more)
        if not self._diff:
            result.pop('diff')
        self.exit_json(**result)
