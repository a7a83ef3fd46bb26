# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: one ovn_lsp run on a Northbound database of 10,000 ports versus an empty one.

Not a test. For each database (an "empty" one holding only the target switch, and a "large"
one holding N logical switch ports spread over S switches, the target switch among them),
this times, several times each, adding one new port with its addresses:

  playbook   ``ansible-playbook`` running a one-task play with ovn_k8s.overlay.ovn_lsp
             (what a user waits for: Ansible's start-up, the module's transfer and run)
  module     the module alone, run in its own process as Ansible runs it (AnsiballZ aside)
  nbctl      ``ovn-nbctl --may-exist lsp-add SW P -- lsp-set-addresses P "MAC IP"``

and prints medians and the large/empty ratios side by side. Each run adds a port with a new
name, so every timed run is a real change (a create), not a no-op re-run; the no-change
re-run of the module is timed too ("module, no change").

Usage (after scripts/setup):
  .venv/bin/python bench/bench_lsp.py [--ports 10000] [--switches 100] [--repeat 7]
                                      [--markdown FILE]
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema'
TARGET_SWITCH = 'bench-node0'


class NbServer:
    """A real ovsdb-server with the OVN Northbound schema on a unix socket."""

    def __init__(self, workdir, name):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        db = os.path.join(self.dir, 'nb.db')
        subprocess.check_call(['ovsdb-tool', 'create', db, NB_SCHEMA])
        self.sock = os.path.join(self.dir, 'nb.sock')
        self.remote = 'unix:' + self.sock
        self.pidfile = os.path.join(self.dir, 'nb.pid')
        subprocess.check_call(['ovsdb-server', '--detach', '--no-chdir', '--pidfile=' + self.pidfile,
                               '--unixctl=' + os.path.join(self.dir, 'nb.ctl'),
                               '--remote=punix:' + self.sock,
                               '--log-file=' + os.path.join(self.dir, 'nb.log'), db],
                              stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not os.path.exists(self.sock):
            if time.time() > deadline:
                raise RuntimeError('ovsdb-server did not start in ' + self.dir)
            time.sleep(0.02)

    def transact(self, ops):
        out = subprocess.run(['ovsdb-client', 'transact', self.remote,
                              json.dumps(['OVN_Northbound'] + ops)],
                             stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout
        for result in json.loads(out):
            if isinstance(result, dict) and 'error' in result:
                raise RuntimeError('transaction failed: %s' % result)

    def stop(self):
        with open(self.pidfile) as f:
            os.kill(int(f.read()), 15)


def mac_ip(n):
    """A pod-like MAC/IP pair for port number n (10.128.0.0/14 space, 0a:58 MAC prefix)."""
    a, b = divmod(n + 2, 250)
    return '0a:58:0a:%02x:%02x:%02x' % (128 + a // 256, a % 256, b + 2), '10.%d.%d.%d' % (128 + a // 256, a % 256, b + 2)


def populate(server, ports, switches, chunk=250):
    """Fill a database with `switches` switches holding `ports` ports in all.

    Ports go in by chunks (one ovsdb-client argument must stay under the kernel's limit).
    """
    server.transact([{'op': 'insert', 'table': 'Logical_Switch',
                      'row': {'name': 'bench-node%d' % s,
                              'other_config': ['map', [['subnet', '10.%d.%d.0/24' % (128 + s // 256, s % 256)]]]}}
                     for s in range(switches)])
    for first in range(0, ports, chunk):
        ops, per_switch = [], {}
        for n in range(first, min(first + chunk, ports)):
            mac, ip = mac_ip(n)
            uuid_name = 'p%d' % n
            ops.append({'op': 'insert', 'table': 'Logical_Switch_Port', 'uuid-name': uuid_name,
                        'row': {'name': 'default_pod%d' % n, 'addresses': '%s %s' % (mac, ip),
                                'external_ids': ['map', [['namespace', 'default'], ['pod', 'pod%d' % n]]]}})
            per_switch.setdefault(n % switches, []).append(['named-uuid', uuid_name])
        for s, refs in per_switch.items():
            ops.append({'op': 'mutate', 'table': 'Logical_Switch', 'where': [['name', '==', 'bench-node%d' % s]],
                        'mutations': [['ports', 'insert', ['set', refs]]]})
        server.transact(ops)


PLAY = '''---
- name: One ovn_lsp run
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Add one port
      ovn_k8s.overlay.ovn_lsp:
        remote: "{{ remote }}"
        switch: "{{ switch }}"
        name: "{{ port_name }}"
        addresses: ["{{ addresses }}"]
'''


class Runner:
    def __init__(self, workdir, python):
        self.workdir = workdir
        self.python = python
        # The module process imports ansible.module_utils from the controller's ansible-core,
        # and everything else (ovsdbapp, ovs) from the chosen interpreter's own site-packages.
        self.module_path = os.path.join(workdir, 'module-path')
        os.makedirs(self.module_path)
        import ansible  # pylint: disable=import-outside-toplevel
        os.symlink(os.path.dirname(ansible.__file__), os.path.join(self.module_path, 'ansible'))
        self.play = os.path.join(workdir, 'play.yml')
        with open(self.play, 'w') as f:
            f.write(PLAY)
        bindir = os.path.dirname(sys.executable)
        self.ansible_playbook = os.path.join(bindir, 'ansible-playbook')
        if not os.path.exists(self.ansible_playbook):
            self.ansible_playbook = shutil.which('ansible-playbook')
        self.collections = os.path.join(REPO, '.build')
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_NOCOLOR='1',
                        ANSIBLE_LOCAL_TEMP=os.path.join(workdir, 'tmp'),
                        ANSIBLE_PYTHON_INTERPRETER=python)
        self.counter = 0

    def new_port(self):
        self.counter += 1
        # New ports take addresses in 10.131.0.0/16, outside those populate() hands out
        # (ovn-nbctl refuses a duplicate address on one switch).
        hi, lo = divmod(self.counter, 250)
        mac, ip = '0a:58:0a:83:%02x:%02x' % (hi, lo + 2), '10.131.%d.%d' % (hi, lo + 2)
        return 'bench_new%d' % self.counter, '%s %s' % (mac, ip)

    @staticmethod
    def timed(cmd, env=None):
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                              universal_newlines=True, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError('command failed (%s): %s\n%s' % (proc.returncode, ' '.join(cmd), proc.stdout))
        return elapsed, proc.stdout

    def playbook(self, remote):
        port, addresses = self.new_port()
        elapsed, out = self.timed(
            [self.ansible_playbook, '-i', 'localhost,', '-c', 'local', self.play,
             '-e', 'remote=' + remote, '-e', 'switch=' + TARGET_SWITCH, '-e', 'port_name=' + port,
             '-e', 'addresses=' + addresses], env=self.env)
        if 'changed=1' not in out:
            raise RuntimeError('the play did not report one change:\n' + out)
        return elapsed

    def module_args(self, remote, port, addresses):
        return json.dumps({'ANSIBLE_MODULE_ARGS': {
            'remote': remote, 'switch': TARGET_SWITCH, 'name': port, 'addresses': [addresses]}})

    def module(self, remote, port=None, addresses=None, expect_changed=True):
        if port is None:
            port, addresses = self.new_port()
        env = dict(os.environ, PYTHONPATH=self.collections + ':' + self.module_path)
        elapsed, out = self.timed(
            [self.python, '-m', 'ansible_collections.ovn_k8s.overlay.plugins.modules.ovn_lsp',
             self.module_args(remote, port, addresses)], env=env)
        result = json.loads(out.strip().splitlines()[-1])
        if result.get('failed') or bool(result.get('changed')) != expect_changed:
            raise RuntimeError('unexpected module result: %s' % result)
        return elapsed

    def module_no_change(self, remote):
        port, addresses = self.new_port()
        self.module(remote, port, addresses)
        return self.module(remote, port, addresses, expect_changed=False)

    def nbctl(self, remote):
        port, addresses = self.new_port()
        cmd = ['ovn-nbctl', '--db=' + remote, '--may-exist', 'lsp-add', TARGET_SWITCH, port,
               '--', 'lsp-set-addresses', port, addresses]
        return self.timed(cmd)[0]


def library_versions(python):
    """Python, ovsdbapp and ovs versions of an interpreter, and whether ovs has its C JSON parser."""
    probe = ('import sys, importlib.metadata as m\n'
             'try:\n    import ovs._json\n    c = "C JSON parser"\n'
             'except ImportError:\n    c = "pure-Python JSON parser"\n'
             'v = lambda n: m.version(n) if n in [d.metadata["Name"] for d in m.distributions()] else "?"\n'
             'print("Python %d.%d.%d, ovsdbapp %s, ovs %s with its %s" % (sys.version_info[:3] + '
             '(v("ovsdbapp"), v("ovs"), c)))')
    return subprocess.run([python, '-c', probe], stdout=subprocess.PIPE, check=True,
                          universal_newlines=True).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--ports', type=int, default=10000)
    parser.add_argument('--switches', type=int, default=100)
    parser.add_argument('--repeat', type=int, default=7)
    parser.add_argument('--python', default=sys.executable,
                        help='the interpreter the module runs under (the target side); default: this one. '
                             '/usr/bin/python3 runs it on Debian\'s python3-ovsdbapp and python3-openvswitch')
    parser.add_argument('--markdown', help='write the result table (markdown) to this file')
    args = parser.parse_args()
    args.python = os.path.abspath(args.python) if os.sep in args.python else shutil.which(args.python)

    workdir = tempfile.mkdtemp(prefix='ovn_k8s-bench-')
    servers = []
    try:
        empty = NbServer(workdir, 'empty')
        servers.append(empty)
        populate(empty, 0, 1)
        large = NbServer(workdir, 'large')
        servers.append(large)
        start = time.perf_counter()
        populate(large, args.ports, args.switches)
        print('loaded %d ports on %d switches in %.1fs' % (args.ports, args.switches, time.perf_counter() - start))
        count = subprocess.run(['ovn-nbctl', '--db=' + large.remote, '--bare', '--columns=_uuid', 'list',
                                'Logical_Switch_Port'], stdout=subprocess.PIPE, check=True,
                               universal_newlines=True).stdout.split()
        assert len(count) == args.ports, 'expected %d ports, found %d' % (args.ports, len(count))

        runner = Runner(workdir, args.python)
        kinds = [('playbook', 'ansible-playbook, one ovn_lsp task', runner.playbook),
                 ('module', 'ovn_lsp module process', runner.module),
                 ('module-noop', 'ovn_lsp module process, no change', runner.module_no_change),
                 ('nbctl', 'ovn-nbctl --may-exist lsp-add + lsp-set-addresses', runner.nbctl)]
        # One warm-up of each kind on each database (page cache, Python bytecode).
        for kind in kinds:
            fn = kind[2]
            fn(empty.remote)
            fn(large.remote)
        results = {}
        for rep in range(args.repeat):
            # Alternate the databases within each repetition so drift hits both alike.
            for key, _title, fn in kinds:
                for label, server in (('empty', empty), ('large', large)):
                    results.setdefault((key, label), []).append(fn(server.remote))
            sys.stdout.write('.')
            sys.stdout.flush()
        print()

        lines = ['| what is timed (median of %d, seconds) | empty database | %d ports, %d switches | ratio |'
                 % (args.repeat, args.ports, args.switches),
                 '| --- | ---: | ---: | ---: |']
        for key, title, _fn in kinds:
            e = statistics.median(results[(key, 'empty')])
            big = statistics.median(results[(key, 'large')])
            lines.append('| %s | %.3f | %.3f | %.2fx |' % (title, e, big, big / e))
        table = '\n'.join(lines)
        about = ('module run by %s (%s); %s, %d CPUs; %s; %s' % (
            args.python, library_versions(args.python), platform.platform(), os.cpu_count(),
            subprocess.run(['ovsdb-server', '--version'], stdout=subprocess.PIPE, check=True,
                           universal_newlines=True).stdout.splitlines()[0],
            subprocess.run(['ovn-nbctl', '--version'], stdout=subprocess.PIPE, check=True,
                           universal_newlines=True).stdout.splitlines()[0]))
        print(table)
        print(about)
        if args.markdown:
            with open(args.markdown, 'w') as f:
                f.write(table + '\n\n' + about + '\n')
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    main()
