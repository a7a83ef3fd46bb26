# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""The errors the collection reports, in one place (standard library only).

Every error's text is a whole sentence for the operator: modules turn it into ``fail_json``'s
message, the watcher into a log line and an Event, the CNI plugin into its error's ``msg``.
Each caller maps the classes to its own policy (see ``_txn``: plan again, settle and requeue,
or a CNI error code).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class OvnK8sError(Exception):
    """Base of every error the collection reports; its text is the message."""


class OvsdbConnectionError(OvnK8sError):
    """The database could not be reached or did not answer in time."""


class InvalidInput(OvnK8sError):
    """A parameter is malformed or contradicts itself."""


class Conflict(OvnK8sError):
    """The database holds something that contradicts the request."""


class TransactionFailed(OvnK8sError):
    """The database refused or failed a transaction."""


class ConnectionLost(OvsdbConnectionError):
    """The connection dropped (or the leader changed) while a transaction was on its way.

    ``in_doubt`` is True when the request had been sent: the server may have applied it.
    Plan again once the client has caught up with its new server (``Client.settle``).
    """

    def __init__(self, message, in_doubt):
        super(ConnectionLost, self).__init__(message)
        self.in_doubt = in_doubt


class StaleRead(OvnK8sError):
    """Something a plan was computed from changed before the plan committed.

    Nothing was written; ``_txn.plan_and_commit`` plans again from the new state.
    """
