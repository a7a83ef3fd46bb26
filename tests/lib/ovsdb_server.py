# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real ovsdb-server for tests (tests/functional and tests/watcher): one or more databases
on a unix socket in a temporary directory, started in milliseconds. Never a mock."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import time

from processes import wait_gone  # tests/lib

NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema'


class OvsdbServer:
    """A real ovsdb-server serving one or more databases on a unix socket."""

    def __init__(self, workdir, schemas, name='db'):
        self.workdir = str(workdir)
        self.name = name
        self.sock = os.path.join(self.workdir, name + '.sock')
        self.remote = 'unix:' + self.sock
        self.pidfile = os.path.join(self.workdir, name + '.pid')
        self.dbs = []
        for schema in schemas:
            db = os.path.join(self.workdir, '%s-%s.db' % (name, os.path.basename(schema).split('.')[0]))
            subprocess.check_call(['ovsdb-tool', 'create', db, schema])
            self.dbs.append(db)
        self.start()

    def start(self):
        """Start (or start again, on the same files) the server."""
        name = self.name
        dbs = self.dbs
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        subprocess.check_call(
            ['ovsdb-server', '--detach', '--no-chdir', '--pidfile=' + self.pidfile,
             '--unixctl=' + os.path.join(self.workdir, name + '.ctl'),
             '--remote=punix:' + self.sock,
             '--log-file=' + os.path.join(self.workdir, name + '.log')] + dbs)
        deadline = time.time() + 10
        while not os.path.exists(self.sock):
            if time.time() > deadline:
                raise RuntimeError('ovsdb-server did not create %s' % self.sock)
            time.sleep(0.02)

    def stop(self, wait=False):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
            os.kill(pid, 15)
        except (OSError, ValueError):
            return
        if wait:
            wait_gone(pid, 10)
