# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: not a public API of the collection; it may change without notice.
"""OpenFlow flows of one Open vSwitch bridge, converged with ``ovs-ofctl``.

The OVSDB client cannot program flows: they live in ovs-vswitchd only, so they are read with
``ovs-ofctl dump-flows`` and written with ``ovs-ofctl --bundle add-flows`` (one atomic
OpenFlow bundle per run).

A set of flows is owned by a cookie: the flows of the bridge that carry that cookie are
exactly the wanted ones after a converge, and no flow of another cookie is touched. A flow is
told apart by its table, priority and match; its actions are its value.

Comparing needs one spelling for each flow. Both sides are put through ovs-ofctl's own parser
and printer (``ovs-ofctl diff-flows FILE /dev/null`` prints the flows of FILE as ovs-ofctl
reads them, and reads nothing from a switch), so ``tcp,tp_dst=80`` and ``tp_dst=80,tcp``, or
``output:LOCAL`` and ``LOCAL``, compare equal, without a parser of our own. Port names are
turned into port numbers first, from the bridge's own port list, because a flow file read
offline cannot know them.

Also used by the node agent (agents/ovn_k8s_agents/gateway_flows), which converges the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import subprocess
import tempfile

from ansible_collections.ovn_k8s.overlay.plugins.module_utils._checks import check_ifname
from ansible_collections.ovn_k8s.overlay.plugins.module_utils._errors import Conflict, InvalidInput, OvnK8sError

# Port names OpenFlow itself reserves; never looked up on the bridge.
RESERVED_PORTS = frozenset(['LOCAL', 'IN_PORT', 'NORMAL', 'FLOOD', 'ALL', 'CONTROLLER', 'NONE', 'ANY',
                            'TABLE', 'local', 'in_port', 'normal', 'flood', 'all', 'controller',
                            'none', 'any', 'table'])
# A port named by name in a flow: after in_port= or output: (the two places flows name ports).
_PORT_REF = re.compile(r'(\bin_port=|\boutput:)([A-Za-z_][A-Za-z0-9_.-]*)')
_PORT_DESC = re.compile(r'^\s*(\d+|LOCAL)\((.+)\): addr:')
# Words that make a line of a flow file a command rather than a flow (ovs-ofctl add-flows).
_COMMANDS = ('add', 'modify', 'modify_strict', 'delete', 'delete_strict')
# Fields that a flow must not set: the cookie is the owner's, and flows that expire or count
# towards a timeout could never be compared idempotently.
_REFUSED_FIELDS = ('cookie', 'idle_timeout', 'hard_timeout', 'out_port', 'out_group')
_COOKIE = re.compile(r'(^|[ ,])cookie=(0x[0-9a-fA-F]+|\d+)(?:/[^ ,]*)?,? ?')
MAX_COOKIE = (1 << 64) - 1


class OfctlFailed(OvnK8sError):
    """ovs-ofctl failed (the bridge is missing, ovs-vswitchd does not answer, ...)."""


def _subprocess_run(args, env):
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          universal_newlines=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


class Ofctl:
    """Runs ovs-ofctl against one bridge; ``rundir`` is where ovs-vswitchd keeps its sockets
    (None: Open vSwitch's default, /var/run/openvswitch)."""

    def __init__(self, bridge, rundir=None, binary='ovs-ofctl', run=None):
        # Checked: ovs-ofctl would take a name such as tcp:192.0.2.1:6653 as a switch to dial.
        self.bridge = check_ifname(bridge, 'bridge %s' % bridge)
        if bridge.startswith('-') or ':' in bridge:
            raise InvalidInput('bridge %r: not a bridge name (ovs-ofctl would read it as an option or '
                               'a connection)' % bridge)
        self.binary = binary
        self.env = dict(os.environ)
        if rundir:
            self.env['OVS_RUNDIR'] = rundir
        self._run = run or _subprocess_run

    def __call__(self, *args, **kw):
        ok_codes = kw.get('ok_codes', (0,))
        try:
            rc, out, err = self._run([self.binary] + list(args), self.env)
        except OSError as exc:
            raise OfctlFailed('bridge %s: cannot run %s: %s' % (self.bridge, self.binary, exc.strerror))
        if rc not in ok_codes:
            raise OfctlFailed('bridge %s: ovs-ofctl %s failed: %s'
                              % (self.bridge, args[0], (err or out).strip() or 'exit status %d' % rc))
        return out

    def port_numbers(self):
        """{port name: OpenFlow port number (str)} of the bridge."""
        ports = {}
        for line in self('dump-ports-desc', self.bridge).splitlines():
            found = _PORT_DESC.match(line)
            if found:
                ports[found.group(2)] = found.group(1)
        return ports

    def dump(self):
        """The bridge's flows as ovs-ofctl prints them (no statistics, ports as numbers)."""
        return [line.strip() for line in
                self('--no-stats', '--no-names', 'dump-flows', self.bridge).splitlines()
                if line.strip() and not line.startswith(('NXST_', 'OFPST_'))]

    def canonical(self, lines, what):
        """``lines`` in ovs-ofctl's own spelling, in ovs-ofctl's order (see the module's docstring).

        ``what(index)`` names line ``index`` for an error message.
        """
        if not lines:
            return []
        with tempfile.NamedTemporaryFile('w', suffix='.flows', prefix='ovn-k8s-') as f:
            f.write(''.join(line + '\n' for line in lines))
            f.flush()
            try:
                out = self('diff-flows', f.name, os.devnull, ok_codes=(0, 2))
            except OfctlFailed as exc:
                found = re.search(r':(\d+): (.*)$', str(exc))
                if found and 0 < int(found.group(1)) <= len(lines):
                    raise InvalidInput('bridge %s: %s: %s' % (self.bridge, what(int(found.group(1)) - 1),
                                                              found.group(2)))
                raise
        return [line[1:] for line in out.splitlines() if line.startswith('-')]

    def apply(self, commands):
        """Runs ``commands`` (lines of an add-flows file) in one OpenFlow bundle: all or nothing."""
        with tempfile.NamedTemporaryFile('w', suffix='.flows', prefix='ovn-k8s-') as f:
            f.write(''.join(line + '\n' for line in commands))
            f.flush()
            self('--bundle', 'add-flows', self.bridge, f.name)


def parse_cookie(value):
    """A cookie given as an int or a decimal or 0x string; refuses 0 (every unowned flow has it)."""
    try:
        cookie = value if isinstance(value, int) else int(str(value), 0)
    except ValueError:
        raise InvalidInput('cookie %r is not a number (such as 0x1f or 31)' % (value,))
    if not 0 < cookie <= MAX_COOKIE:
        raise InvalidInput('cookie %r is out of range: it must be between 1 and 2^64-1 (0 is the cookie of '
                           'every flow without an owner)' % (value,))
    return cookie


def split_flow(line):
    """(key, cookie or None, actions) of a canonical flow line: key is table, priority and match."""
    head, sep, actions = line.partition(' actions=')
    if not sep:
        head, sep, actions = line.partition('actions=')
    cookie = None
    found = _COOKIE.search(head)
    if found:
        cookie = int(found.group(2), 0)
        head = head[:found.start()] + found.group(1) + head[found.end():]
    key = re.sub(r'[ ,]+', ',', head).strip(',')
    return key, cookie, actions.strip()


def check_flow(text, index, bridge):
    """Refuses what a flow in the ``flows`` option may not say."""
    where = 'bridge %s: flow %d (%r)' % (bridge, index + 1, text)
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput('%s is empty' % where)
    if any(ch in text for ch in '\n\r\0'):
        raise InvalidInput('%s spans several lines: give one flow per list item' % where)
    stripped = text.strip()
    first = re.split(r'[ ,]', stripped, 1)[0]
    if first in _COMMANDS:
        raise InvalidInput('%s starts with the command %r: give the flow alone (the module adds and '
                           'deletes by itself)' % (where, first))
    if 'actions=' not in stripped:
        raise InvalidInput('%s has no actions= (a flow without actions would drop its packets '
                           'silently: write actions=drop to mean that)' % where)
    match = stripped.split('actions=', 1)[0]
    for field in _REFUSED_FIELDS:
        if re.search(r'(^|[ ,])%s=' % field, match):
            raise InvalidInput('%s sets %s, which the module does not allow (the cookie is the '
                               'option cookie; timeouts would make flows vanish between runs)' % (where, field))


def resolve_ports(text, ports, where):
    """``text`` with every port named in in_port= or output: replaced by its number."""
    def number(found):
        name = found.group(2)
        if name in RESERVED_PORTS or name.isdigit():
            return found.group(0)
        if name not in ports:
            if len(name) > 15:
                raise InvalidInput('%s names the port %s: OpenFlow carries port names of up to 15 characters '
                                   'only, give its number (ovs-vsctl get Interface NAME ofport)' % (where, name))
            raise Conflict('%s names the port %s, which the bridge does not have' % (where, name))
        return found.group(1) + ports[name]
    return _PORT_REF.sub(number, text)


def plan_flows(ofctl, cookie, flows, state='present'):
    """Reads the bridge and compares; returns a dict with ``commands`` (the add-flows lines
    that make the bridge's flows of ``cookie`` exactly ``flows``, empty when nothing differs),
    ``before`` and ``after`` (sorted canonical flows of that cookie) and ``flows`` (after).

    Reads only: nothing is written to the bridge.
    """
    cookie = parse_cookie(cookie)
    flows = list(flows or [])
    if state not in ('present', 'absent'):
        raise InvalidInput('state %r is not present or absent' % (state,))
    for index, text in enumerate(flows):
        check_flow(text, index, ofctl.bridge)
    if state == 'absent':
        flows = []
    named = [m.group(2) for text in flows for m in _PORT_REF.finditer(text)
             if m.group(2) not in RESERVED_PORTS and not m.group(2).isdigit()]
    ports = ofctl.port_numbers() if named else {}  # one ovs-ofctl call less when flows name no port
    wanted_lines = []
    for index, text in enumerate(flows):
        where = 'bridge %s: flow %d (%r)' % (ofctl.bridge, index + 1, text)
        wanted_lines.append('cookie=%#x,%s' % (cookie, resolve_ports(text.strip(), ports, where)))
    wanted = ofctl.canonical(wanted_lines, lambda i: 'flow %d (%r)' % (i + 1, flows[i]))
    current = ofctl.canonical(ofctl.dump(), lambda i: 'the flow dumped at line %d' % (i + 1))

    ours, others = {}, {}
    for line in current:
        key, owner = split_flow(line)[:2]
        (ours if owner == cookie else others)[key] = (line, owner)
    if len(wanted) != len(flows):
        raise InvalidInput('bridge %s: ovs-ofctl read %d flows out of the %d given: some of them have the '
                           'same table, priority and match (a bridge holds one flow per match)'
                           % (ofctl.bridge, len(wanted), len(flows)))
    want = {}
    for line in wanted:  # ovs-ofctl prints them in its own order, not the given one
        key = split_flow(line)[0]
        if key in want:
            raise InvalidInput('bridge %s: two flows have the same table, priority and match (%s): a '
                               'bridge holds one flow per match' % (ofctl.bridge, key))
        if key in others:
            raise Conflict('bridge %s: the flow %r would replace a flow of cookie %#x (%r), which this task '
                           'does not own' % (ofctl.bridge, line, others[key][1] or 0, others[key][0]))
        want[key] = line

    commands = []
    for key in sorted(ours):
        if key not in want:
            commands.append('delete_strict cookie=%#x/-1,%s' % (cookie, key))
    for key in sorted(want):
        line = want[key]
        if key not in ours or ours[key][0] != line:
            commands.append('add ' + line)
    before = sorted(line for line, _owner in ours.values())
    after = sorted(want.values())
    return dict(commands=commands, before=before, after=after, flows=after)


def converge_flows(ofctl, cookie, flows, state='present', check_mode=False):
    """The whole of the ovs_openflow module: plan, then (unless check mode) apply in one bundle.

    Returns ``changed``, ``diff`` (before/after of ``Flows <bridge> cookie <cookie>``, empty when
    unchanged), ``flows`` and ``commands``.
    """
    plan = plan_flows(ofctl, cookie, flows, state)
    if plan['commands'] and not check_mode:
        ofctl.apply(plan['commands'])
    label = 'Flows %s cookie %#x' % (ofctl.bridge, parse_cookie(cookie))
    changed = bool(plan['commands'])
    diff = dict(before={label: plan['before']}, after={label: plan['after']}) if changed else \
        dict(before={}, after={})
    return dict(changed=changed, diff=diff, flows=plan['flows'], commands=plan['commands'])
