# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a daemon the tests started has exited (plain Python, no pytest).

The OVS and OVN daemons run with ``--detach``: their parent is PID 1, not the test, so once one
exits it stays a zombie until PID 1 reaps it, which some machines' init does only every second
or two. A zombie has exited (its sockets, files and pidfile are gone), so it counts as gone
here: waiting for /proc/PID to disappear, or for kill(PID, 0) to fail, waits on PID 1 instead.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time


def alive(pid):
    """True while process ``pid`` exists and has not exited (a zombie has exited)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
    except (OSError, ValueError):
        return False
    # "PID (COMM) STATE ...": COMM may hold spaces and parentheses; the state follows the last ')'.
    return stat[stat.rindex(')') + 1:].split()[0] not in ('Z', 'X')


def wait_gone(pid, timeout=10, interval=0.02):
    """Waits until ``pid`` has exited or ``timeout`` seconds passed; True if it has exited."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
