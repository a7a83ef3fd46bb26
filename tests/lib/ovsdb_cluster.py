# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real clustered (RAFT) OVSDB database on loopback for tests: ``ovsdb-tool create-cluster`` on
the first member, ``join-cluster`` on the others, one ``ovsdb-server`` per member with a TCP
listener for clients (or, given ``ssl``, an SSL one; the members' RAFT links stay on TCP, as
the central role keeps them). Members can be killed (``kill -9``) and started again on their
files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import signal
import socket
import subprocess
import time
from local_ports import free_port  # tests/lib

NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema'


def schema_name(schema):
    with open(schema) as f:
        return json.load(f)['name']


class Member:
    """One member: its database file, RAFT port, client port and control socket."""

    def __init__(self, workdir, index, scheme='tcp'):
        self.index = index
        self.dir = os.path.join(workdir, 'm%d' % index)
        os.makedirs(self.dir, exist_ok=True)
        self.db = os.path.join(self.dir, 'db')
        self.raft = 'tcp:127.0.0.1:%d' % free_port()
        self.port = free_port()
        self.remote = '%s:127.0.0.1:%d' % (scheme, self.port)
        self.sock = os.path.join(self.dir, 'db.sock')
        self.ctl = os.path.join(self.dir, 'db.ctl')
        self.pidfile = os.path.join(self.dir, 'pid')
        self.log = os.path.join(self.dir, 'log')

    def pid(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None


class OvsdbCluster:
    """A RAFT cluster of ``size`` ovsdb-server processes serving ``schema`` on loopback.

    ``ssl``: (private key, certificate, CA certificate) of the servers; clients then connect
    with ``ssl:`` remotes and must present a certificate signed by that CA."""

    def __init__(self, workdir, size=3, schema=NB_SCHEMA, ssl=None):
        self.schema = schema
        self.name = schema_name(schema)
        self.ssl = ssl
        self.members = [Member(str(workdir), i, 'ssl' if ssl else 'tcp') for i in range(size)]
        first = self.members[0]
        subprocess.check_call(['ovsdb-tool', 'create-cluster', first.db, schema, first.raft])
        for m in self.members[1:]:
            subprocess.check_call(['ovsdb-tool', 'join-cluster', m.db, self.name, m.raft, first.raft])
        for m in self.members:
            self.start(m)
        self.wait_leader()

    @property
    def remote(self):
        """Every member's client remote, comma-separated (what clients are given)."""
        return ','.join(m.remote for m in self.members)

    def start(self, member):
        """Start (or start again, on the same files) one member."""
        for path in (member.sock, member.pidfile):
            if os.path.exists(path):
                os.unlink(path)
        if self.ssl:
            key, cert, ca = self.ssl
            listen = ['--remote=pssl:%d:127.0.0.1' % member.port, '--private-key=' + key,
                      '--certificate=' + cert, '--ca-cert=' + ca]
        else:
            listen = ['--remote=ptcp:%d:127.0.0.1' % member.port]
        subprocess.check_call(
            ['ovsdb-server', '--detach', '--no-chdir', '--pidfile=' + member.pidfile,
             '--unixctl=' + member.ctl, '--log-file=' + member.log,
             '--remote=punix:' + member.sock] + listen + [member.db])
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(('127.0.0.1', member.port), 1).close()
                return
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError('member %d did not listen on %s; log:\n%s'
                                       % (member.index, member.remote, self.log_of(member)))
                time.sleep(0.02)

    def log_of(self, member):
        try:
            with open(member.log) as f:
                return f.read()[-4000:]
        except OSError:
            return ''

    def status(self, member):
        """``cluster/status`` of one member as {field: value} (Role, Status, Term, ...)."""
        out = subprocess.check_output(['ovs-appctl', '-t', member.ctl, 'cluster/status', self.name],
                                      universal_newlines=True, timeout=10)
        fields = {}
        for line in out.splitlines():
            m = re.match(r'^([A-Za-z ]+):\s*(.*)$', line)
            if m:
                fields.setdefault(m.group(1).strip(), m.group(2).strip())
        fields['text'] = out
        return fields

    def leader(self):
        for m in self.members:
            if m.pid() is None:
                continue
            try:
                if self.status(m).get('Role') == 'leader':
                    return m
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                continue
        return None

    def wait_leader(self, timeout=30, other_than=None):
        """The leader, once one is elected (and, with ``other_than``, once it is another member)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.leader()
            if m is not None and m is not other_than:
                return m
            time.sleep(0.1)
        raise RuntimeError('no leader elected within %s s' % timeout)

    def kill(self, member):
        """``kill -9``: no goodbye to the other members, no clean close for clients."""
        pid = member.pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.02)

    def wait_member(self, member, timeout=30):
        """Wait until ``member`` is back in the cluster as a follower or leader with an up-to-date log."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                st = self.status(member)
                if st.get('Status') == 'cluster member' and st.get('Role') in ('follower', 'leader'):
                    return st
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.1)
        raise RuntimeError('member %d did not rejoin:\n%s' % (member.index, self.log_of(member)))

    def stop(self):
        for m in self.members:
            pid = m.pid()
            if pid is not None:
                os.kill(pid, signal.SIGTERM)


class ReplyCutter:
    """A TCP relay on loopback in front of a real ovsdb-server that, once armed, lets the next
    ``transact`` request through, waits for the server's reply to it (so the server has applied
    the transaction), drops that reply and closes the client's connection: the reply was lost.

    The server is real; only the wire between client and server is cut, as a dead leader or a
    broken network would cut it.
    """

    def __init__(self, upstream):
        import threading
        self.upstream = upstream                      # 'unix:PATH' or 'tcp:HOST:PORT'
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(16)
        self.remote = 'tcp:127.0.0.1:%d' % self.listener.getsockname()[1]
        self.armed = threading.Event()
        self.cuts = 0
        self._threading = threading
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _connect_upstream(self):
        kind, where = self.upstream.split(':', 1)
        if kind == 'unix':
            s = socket.socket(socket.AF_UNIX)
            s.connect(where)
            return s
        host, port = where.rsplit(':', 1)
        return socket.create_connection((host, int(port)))

    def _accept(self):
        while not self._stopped:
            try:
                client = self.listener.accept()[0]
            except OSError:
                return
            server = self._connect_upstream()
            state = dict(cut_id=None)
            self._threading.Thread(target=self._up, args=(client, server, state), daemon=True).start()
            self._threading.Thread(target=self._down, args=(client, server, state), daemon=True).start()

    def _up(self, client, server, state):
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b''
            if not data:
                _close(client, server)
                return
            if self.armed.is_set() and b'"transact"' in data:
                found = re.search(br'"id":\s*(\d+)', data)
                if found:
                    self.armed.clear()
                    state['cut_id'] = found.group(1)
            try:
                server.sendall(data)
            except OSError:
                _close(client, server)
                return

    def _down(self, client, server, state):
        while True:
            try:
                data = server.recv(65536)
            except OSError:
                data = b''
            if not data:
                _close(client, server)
                return
            cut = state['cut_id']
            if cut is not None:
                # Hold back everything from the request on; once its reply has come, hang up.
                if re.search(br'"id":\s*' + cut + br'\b', data) and b'"result"' in data:
                    self.cuts += 1
                    _close(client, server)
                    return
                continue
            try:
                client.sendall(data)
            except OSError:
                _close(client, server)
                return

    def close(self):
        self._stopped = True
        self.listener.close()


def _close(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
