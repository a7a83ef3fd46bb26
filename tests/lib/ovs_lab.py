# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real Open vSwitch pieces for tests (plain Python, no pytest; the ovsdb-server itself is
ovsdb_server.py): a userspace ovs-vswitchd inside a network namespace, and a TCP forwarder that
lets a process inside a namespace reach a loopback port of the test machine (the test
kube-apiserver listens on 127.0.0.1 only).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import sys

from processes import wait_gone  # tests/lib

OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'


def stop_pidfile(pidfile, timeout=10):
    """SIGTERM the daemon of ``pidfile`` and wait for it to go."""
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, 15)
    except (OSError, ValueError):
        return
    wait_gone(pid, timeout)


def vsctl(remote, *args):
    """Look at an Open vSwitch database the way an operator would (tests only)."""
    return subprocess.check_output(['ovs-vsctl', '--db=' + remote, '--no-wait'] + list(args),
                                   universal_newlines=True).strip()


def start_vswitchd(remote, netns, rundir):
    """A userspace ovs-vswitchd (no kernel module) on database ``remote``, inside ``netns``;
    returns its pidfile (give it to stop_pidfile)."""
    rundir = str(rundir)
    env = dict(os.environ, OVS_RUNDIR=rundir, OVS_LOGDIR=rundir, OVS_DBDIR=rundir, OVS_SYSCONFDIR=rundir)
    pidfile = os.path.join(rundir, 'vswitchd.pid')
    subprocess.check_call(['ip', 'netns', 'exec', netns, 'ovs-vswitchd', remote, '--disable-system',
                           '--detach', '--no-chdir', '--pidfile=' + pidfile,
                           '--unixctl=' + os.path.join(rundir, 'vswitchd.ctl'),
                           '--log-file=' + os.path.join(rundir, 'vswitchd.log')], env=env)
    return pidfile


# A forwarder: listens on 127.0.0.1:PORT inside a namespace, connects to 127.0.0.1:PORT of the
# namespace it was started in. The listening socket is made after setns(2) into the target, the
# outgoing ones after going back, so each belongs to its own namespace.
_FORWARDER = r'''
import ctypes, os, socket, sys, threading
netns, port = sys.argv[1], int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL: gone with the test process, even a killed one
home = os.open('/proc/self/ns/net', os.O_RDONLY)
target = os.open('/var/run/netns/' + netns, os.O_RDONLY)
assert libc.setns(target, 0x40000000) == 0
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(('127.0.0.1', port))
listener.listen(64)
assert libc.setns(home, 0x40000000) == 0
print('ready', flush=True)

def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

while True:
    conn, _ = listener.accept()
    try:
        out = socket.create_connection(('127.0.0.1', port))
    except OSError:
        conn.close()
        continue
    for a, b in ((conn, out), (out, conn)):
        threading.Thread(target=pump, args=(a, b), daemon=True).start()
'''


class LoopbackForwarder:
    """Makes 127.0.0.1:``port`` of this machine reachable as 127.0.0.1:``port`` inside ``netns``."""

    def __init__(self, netns, port):
        self.proc = subprocess.Popen([sys.executable, '-c', _FORWARDER, netns, str(port)],
                                     stdout=subprocess.PIPE, universal_newlines=True)
        line = self.proc.stdout.readline().strip()
        if line != 'ready':
            self.stop()
            raise RuntimeError('the loopback forwarder into %s did not start' % netns)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
