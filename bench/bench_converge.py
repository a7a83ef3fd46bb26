# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: how long playbooks/site.yml takes on the running lab (scripts/lab-up), no-op and
after one real change, for one or more variants side by side in one run.

Not a test. A variant is a checkout of this repository (its roles and modules) and an Ansible
strategy, for example the code before a change with the plain strategy and this checkout with
Mitogen's:

  .venv/bin/python bench/bench_converge.py \\
      --variant before:/path/to/old/checkout:linear:4 --variant after:.:mitogen_linear:6 \\
      [--repeat 2] [--change] [--markdown FILE]

For every variant (LABEL:CHECKOUT:STRATEGY:FORKS) and repeat, in turn, it runs site.yml on the
whole lab through molecule's inventory and configuration and times:

  no-op re-run   site.yml again on the converged lab (every host must report changed=0)
  gateway change (--change) site.yml with node2's gateway address moved to another address,
                 then a run that moves it back (timed too, as "gateway change back")

and prints, for each run, the wall time, the load average, each host's summed task time and the
slowest tasks (summed over hosts, and their longest host), from the callback
bench/callback_plugins/converge_times.py. Variants take turns, so that the machine's load is
shared alike. Checkouts other than this one need scripts/setup's .build/ link (or their own).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GATEWAY_HOST = 'node2'
MOVED_GATEWAY_IP = '172.31.0.51/24'


def molecule_dir():
    found = sorted(glob.glob(os.path.expanduser('~/.ansible/tmp/molecule.*.default')), key=os.path.getmtime)
    if not found or not os.path.exists(os.path.join(found[-1], 'inventory', 'ansible_inventory.yml')):
        sys.exit('bench_converge: no molecule inventory of the lab: run scripts/lab-up first')
    return found[-1]


def parse_variant(text):
    parts = text.split(':')
    if len(parts) != 4:
        raise argparse.ArgumentTypeError('a variant is LABEL:CHECKOUT:STRATEGY:FORKS, not %r' % text)
    label, checkout, strategy, forks = parts
    checkout = os.path.realpath(checkout)
    if not os.path.exists(os.path.join(checkout, 'playbooks', 'site.yml')):
        raise argparse.ArgumentTypeError('%s is not a checkout of this collection' % checkout)
    return {'label': label, 'checkout': checkout, 'strategy': strategy, 'forks': int(forks)}


def run_site(variant, mdir, extra_vars=None):
    checkout = variant['checkout']
    fd, times = tempfile.mkstemp(prefix='converge-times-', suffix='.jsonl')
    os.close(fd)
    env = dict(os.environ)
    env.update({
        'ANSIBLE_CONFIG': os.path.join(mdir, 'ansible.cfg'),
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(checkout, '.build'),
        'ANSIBLE_ROLES_PATH': os.path.join(checkout, 'roles'),
        'ANSIBLE_CALLBACK_PLUGINS': os.path.join(REPO, 'bench', 'callback_plugins'),
        'ANSIBLE_CALLBACKS_ENABLED': 'converge_times',
        'ANSIBLE_STRATEGY': variant['strategy'],
        'ANSIBLE_STRATEGY_PLUGINS': os.path.join(REPO, '.build', 'mitogen', 'strategy'),
        'ANSIBLE_FORKS': str(variant['forks']),
        'ANSIBLE_PIPELINING': 'true',
        'ANSIBLE_NOCOLOR': '1',
        'CONVERGE_TIMES_FILE': times,
        'MOLECULE_PROJECT_DIRECTORY': checkout,
        'CONTAINERS_CONF': os.path.join(REPO, 'scripts', 'lab-containers.conf'),
    })
    argv = ['ansible-playbook', '-i', os.path.join(mdir, 'inventory'), os.path.join(checkout, 'playbooks', 'site.yml')]
    if extra_vars:
        argv += ['-e', json.dumps(extra_vars)]
    t0 = time.time()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          env=env, check=False)
    wall = time.time() - t0
    load = os.getloadavg()[0]
    with open(times) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    os.unlink(times)
    recap = dict((m.group(1), int(m.group(2)))
                 for m in re.finditer(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)', proc.stdout, re.M))
    failed = proc.returncode != 0
    if failed:
        sys.stderr.write(proc.stdout[-6000:])
    return {'wall': wall, 'load': load, 'rows': rows, 'recap': recap, 'failed': failed,
            'tasks': len(set((r['path'], r['task']) for r in rows))}


def summarize(name, variant, res, top):
    per_host = collections.Counter()
    per_task = collections.defaultdict(list)
    for r in res['rows']:
        per_host[r['host']] += r['seconds']
        per_task[(r['path'], r['task'])].append((r['seconds'], r['host']))
    print('\n== %s, %s (%s, forks %d): %.1f s wall, load %.1f, %d task results, changed %s%s' % (
        name, variant['label'], variant['strategy'], variant['forks'], res['wall'], res['load'], len(res['rows']),
        ', '.join('%s=%d' % kv for kv in sorted(res['recap'].items())), ' FAILED' if res['failed'] else ''))
    print('   per host (sum of its task times): ' + ', '.join('%s %.1f s' % (h, s) for h, s in sorted(per_host.items())))
    print('   slowest tasks (summed over hosts; longest host):')
    ranked = sorted(per_task.items(), key=lambda kv: -sum(run[0] for run in kv[1]))
    for (path, task), runs in ranked[:top]:
        worst = max(runs)
        print('   %7.1f s  %-70s %s (%d hosts, longest %s %.1f s)' % (
            sum(run[0] for run in runs), task[:70], path, len(runs), worst[1], worst[0]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    ap.add_argument('--variant', action='append', type=parse_variant,
                    help='LABEL:CHECKOUT:STRATEGY:FORKS (default: this checkout, mitogen_linear, 6 forks)')
    ap.add_argument('--repeat', type=int, default=1)
    ap.add_argument('--change', action='store_true', help='also time a change of the gateway address and back')
    ap.add_argument('--top', type=int, default=12)
    ap.add_argument('--markdown', help='append a table of the results to this file')
    args = ap.parse_args()
    variants = args.variant or [parse_variant('this:%s:mitogen_linear:6' % REPO)]
    mdir = molecule_dir()
    results = collections.defaultdict(list)
    for i in range(args.repeat):
        for v in variants:
            res = run_site(v, mdir)
            summarize('no-op re-run #%d' % (i + 1), v, res, args.top)
            results[(v['label'], 'no-op re-run')].append(res)
            if args.change:
                res = run_site(v, mdir, {'ovn_gateway_physical_ip': MOVED_GATEWAY_IP})
                summarize('gateway change #%d' % (i + 1), v, res, args.top)
                results[(v['label'], 'gateway change')].append(res)
                res = run_site(v, mdir)
                summarize('gateway change back #%d' % (i + 1), v, res, args.top)
                results[(v['label'], 'gateway change back')].append(res)
    lines = ['| variant | strategy, forks | run | changed (hosts) | load | seconds |', '|---|---|---|---|---|---|']
    for (label, run), rs in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        v = [x for x in variants if x['label'] == label][0]
        for r in rs:
            lines.append('| %s | %s, %d | %s | %s | %.1f | %.1f |' % (
                label, v['strategy'], v['forks'], run,
                'FAILED' if r['failed'] else ', '.join('%s=%d' % kv for kv in sorted(r['recap'].items()) if kv[1]) or 'none',
                r['load'], r['wall']))
    print('\n' + '\n'.join(lines))
    if args.markdown:
        with open(args.markdown, 'a') as f:
            f.write('\n'.join(lines) + '\n')
    return 1 if any(r['failed'] for rs in results.values() for r in rs) else 0


if __name__ == '__main__':
    sys.exit(main())
