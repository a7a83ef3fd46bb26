# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark tooling (bench/bench_converge.py), not part of the collection: an Ansible callback
that writes, for every task result of a playbook run, the host, the task, how long it took on
that host and whether it changed, as JSON lines into the file named by CONVERGE_TIMES_FILE."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = '''
    name: converge_times
    type: aggregate
    short_description: Writes each task's time on each host as JSON lines
    description:
      - Benchmark tooling of ovn_k8s.overlay (bench/bench_converge.py).
    options: {}
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'converge_times'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._started = {}
        path = os.environ.get('CONVERGE_TIMES_FILE')
        self._out = open(path, 'a') if path else None

    def _key(self, host, task):
        return (host.get_name(), task._uuid)

    def v2_runner_on_start(self, host, task):
        self._started[self._key(host, task)] = time.time()

    def _record(self, result, status):
        if self._out is None:
            return
        host, task = result._host, result._task
        started = self._started.pop(self._key(host, task), None)
        if started is None:
            return
        path = task.get_path() or ''
        self._out.write(json.dumps({
            'host': host.get_name(), 'task': task.get_name(), 'path': os.path.basename(path.split(':')[0]),
            'seconds': round(time.time() - started, 4), 'status': status,
            'changed': bool(result._result.get('changed')),
        }) + '\n')
        self._out.flush()

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')
