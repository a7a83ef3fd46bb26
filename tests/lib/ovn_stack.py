# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real OVN pieces for tests (plain Python, no pytest): the central part (the Northbound and
Southbound databases in one ovsdb-server, and ovn-northd between them) and an ovn-controller on
a node's Open vSwitch, from Debian's ovn-central and ovn-host packages. Never a mock.

Tests look at and change the databases the way an operator would (ovn-nbctl, ovn-sbctl); the
product code never does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import subprocess
import time

from ovsdb_server import NB_SCHEMA, OvsdbServer  # tests/lib
from ovs_lab import stop_pidfile, vsctl  # tests/lib
from processes import wait_gone  # tests/lib

SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema'


class OvnCentral:
    """OVN_Northbound and OVN_Southbound on one unix socket, and ovn-northd."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.db = OvsdbServer(self.workdir, [NB_SCHEMA, SB_SCHEMA], 'ovn')
        self.remote = self.db.remote
        self.northd_pid = os.path.join(self.workdir, 'northd.pid')
        self.northd_log = os.path.join(self.workdir, 'northd.log')
        subprocess.check_call(['ovn-northd', '--detach', '--no-chdir', '--pidfile=' + self.northd_pid,
                               '--unixctl=' + os.path.join(self.workdir, 'northd.ctl'), '--log-file=' + self.northd_log,
                               '--ovnnb-db=' + self.remote, '--ovnsb-db=' + self.remote])

    def nbctl(self, *args):
        return subprocess.check_output(['ovn-nbctl', '--db=' + self.remote] + list(args), universal_newlines=True).strip()

    def sbctl(self, *args):
        return subprocess.check_output(['ovn-sbctl', '--db=' + self.remote] + list(args), universal_newlines=True).strip()

    def stop(self):
        stop_pidfile(self.northd_pid)
        self.db.stop(wait=True)


class OvnController:
    """ovn-controller for the Open vSwitch database ``ovs_remote`` (whose ovs-vswitchd runs in
    ``netns`` with its run directory ``rundir``: br-int's OpenFlow socket is there), registered
    in ``central``'s Southbound database as chassis ``chassis``. Tunnels would go to 127.0.0.1:
    one node per central at a time here."""

    def __init__(self, central, ovs_remote, netns, rundir, chassis):
        self.central, self.ovs_remote, self.chassis = central, ovs_remote, chassis
        self.rundir = str(rundir)
        self.pidfile = os.path.join(self.rundir, 'ovn-controller.pid')
        self.log_file = os.path.join(self.rundir, 'ovn-controller.log')
        vsctl(ovs_remote, 'set', 'Open_vSwitch', '.', 'external_ids:system-id=' + chassis,
              'external_ids:ovn-remote=' + central.remote, 'external_ids:ovn-encap-type=geneve',
              'external_ids:ovn-encap-ip=127.0.0.1', 'external_ids:ovn-bridge-datapath-type=netdev')
        # ovn-controller 23.03 has no --unixctl: its control socket is OVN_RUNDIR/ovn-controller.PID.ctl,
        # and it finds br-int's OpenFlow socket in OVS_RUNDIR.
        env = dict(os.environ, OVS_RUNDIR=self.rundir, OVN_RUNDIR=self.rundir)
        subprocess.check_call(['ip', 'netns', 'exec', netns, 'ovn-controller', ovs_remote, '--detach', '--no-chdir',
                               '--pidfile=' + self.pidfile, '--log-file=' + self.log_file], env=env)
        deadline = time.monotonic() + 20
        while chassis not in central.sbctl('--bare', '--columns=name', 'list', 'Chassis').split():
            if time.monotonic() > deadline:
                raise RuntimeError('ovn-controller did not register chassis %s; its log: %s' % (chassis, self.log_file))
            time.sleep(0.05)

    def stop(self):
        """Stop it the way that removes its chassis from the Southbound database (ovn-appctl exit),
        then make sure: the chassis row goes in any case."""
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            pid = None
        ctl = glob.glob(os.path.join(self.rundir, 'ovn-controller.%s.ctl' % pid)) if pid else []
        if ctl:
            subprocess.call(['ovn-appctl', '-t', ctl[0], 'exit'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_gone(pid, 10)
        stop_pidfile(self.pidfile)
        subprocess.call(['ovn-sbctl', '--db=' + self.central.remote, '--if-exists', 'chassis-del', self.chassis],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
