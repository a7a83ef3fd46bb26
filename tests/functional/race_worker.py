# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One side of a race (tests/functional/test_concurrency.py), run as its own process.

Usage: race_worker.py REMOTE BARRIER_DIR WHO PARTIES JOB_JSON. It connects, plans the job
through ``_txn.plan_and_commit``, and after its first plan waits until all PARTIES workers
have planned (files in BARRIER_DIR), so that every plan is made from the same state before
anyone commits. It prints one JSON object: ok, changed, attempts and what the plan returned,
or the error and its type.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys
import time


def barrier(directory, who, parties, timeout=30):
    open(os.path.join(directory, who), 'w').close()
    deadline = time.time() + timeout
    while len(os.listdir(directory)) < parties:
        if time.time() > deadline:
            raise RuntimeError('the other workers never planned')
        time.sleep(0.005)


def main(remote, directory, who, parties, job):
    from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _errors, _nb, _ovsdb, _txn

    kind, args = job
    attempts = []

    def plan(cs, client):
        if kind == 'gateway':
            out = _nb.ensure_gateway_router(cs, client, **args)
        else:
            out = _nb.ensure_switch(cs, client, **args)
        attempts.append(cs.changed)
        if len(attempts) == 1:
            barrier(directory, who, parties)
        return out

    tables = _nb.GATEWAY_TABLES if kind == 'gateway' else _nb.SWITCH_TABLES
    try:
        with _ovsdb.Client(_ovsdb.NB_DB, remote=remote, timeout=20, tables=tables) as client:
            cs, more = _txn.plan_and_commit(client, plan)
    except _errors.OvnK8sError as exc:
        if not attempts:
            barrier(directory, who, parties)  # do not leave the others waiting
        return dict(ok=False, error=str(exc), type=type(exc).__name__, attempts=len(attempts))
    return dict(ok=True, changed=cs.changed, attempts=len(attempts), more=more)


if __name__ == '__main__':
    print(json.dumps(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5]))))
