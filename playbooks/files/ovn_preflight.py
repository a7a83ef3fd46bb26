# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host side of playbooks/preflight.yml (standard library only, Python 3.5+), one mode per run:

probe PIDFILE         this host's clock, addresses with their interface's MTU, the default
                      route's interface, the TCP and UDP ports something listens on, whether
                      ovn-controller runs (its PIDFILE names a live process) and whether the
                      clock is NTP-synchronised: one JSON line
listen DIR SECS tcp=PORTS udp=PORTS
                      daemon: listens on the comma-separated TCP ports (accepts and closes) and
                      UDP ports (records each datagram's text in DIR/udp) until DIR/stop exists or
                      SECS pass; prints "ready" once bound (ports it cannot bind are reported)
connect NAME SECS HOST:PORT/PROTO...
                      connects to each TCP target and sends NAME to each UDP target (three times),
                      all at once, each within SECS: one JSON line of results
collect DIR           stops the listener of DIR and prints what it received over UDP
"""

from __future__ import absolute_import, division, print_function

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time


def _run(*argv):
    try:
        return subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True,
                              timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ''


def _listening(flag):
    """Ports something listens on (``ss -H -l -n`` with -t or -u)."""
    ports = set()
    for line in _run('ss', '-H', '-l', '-n', flag).splitlines():
        fields = line.split()
        if len(fields) >= 4 and ':' in fields[3]:
            port = fields[3].rsplit(':', 1)[1]
            if port.isdigit():
                ports.add(int(port))
    return sorted(ports)


def _alive(pidfile):
    try:
        with open(pidfile) as f:
            os.kill(int(f.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def probe(pidfile):
    now = time.time()
    links = json.loads(_run('ip', '-j', 'addr') or '[]')
    addresses = [{'ifname': link.get('ifname'), 'mtu': link.get('mtu'), 'address': a.get('local')}
                 for link in links for a in link.get('addr_info', []) if a.get('family') in ('inet', 'inet6')]
    default = json.loads(_run('ip', '-j', 'route', 'show', 'default') or '[]')
    ntp = _run('timedatectl', 'show', '-p', 'NTPSynchronized', '--value').strip()
    return {'time': now, 'addresses': addresses, 'default_dev': default[0].get('dev') if default else None,
            'tcp': _listening('-t'), 'udp': _listening('-u'), 'ntp_synchronized': ntp or 'unknown',
            'ovn_controller': _alive(pidfile)}


def listen(directory, seconds, tcp, udp):
    os.makedirs(directory, exist_ok=True)
    for stale in ('stop', 'udp', 'refused'):    # an earlier run's
        if os.path.exists(os.path.join(directory, stale)):
            os.unlink(os.path.join(directory, stale))
    socks, refused = [], []
    for port, kind in [(p, socket.SOCK_STREAM) for p in tcp] + [(p, socket.SOCK_DGRAM) for p in udp]:
        try:   # both families on one socket where the host has IPv6
            s = socket.socket(socket.AF_INET6, kind)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            anywhere = '::'
        except OSError:
            s = socket.socket(socket.AF_INET, kind)
            anywhere = '0.0.0.0'
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((anywhere, port))
        except OSError as e:
            refused.append('%d/%s: %s' % (port, 'tcp' if kind == socket.SOCK_STREAM else 'udp', e.strerror))
            s.close()
            continue
        if kind == socket.SOCK_STREAM:
            s.listen(16)
        socks.append(s)
    with open(os.path.join(directory, 'refused'), 'w') as f:
        f.write('\n'.join(refused))
    if os.fork():       # the parent answers; the child serves
        print('ready')
        return
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):   # let the caller's pipes close
        os.dup2(null, fd)
    deadline = time.time() + seconds
    with open(os.path.join(directory, 'udp'), 'a') as record:
        while time.time() < deadline and not os.path.exists(os.path.join(directory, 'stop')):
            ready, _w, _x = select.select(socks, [], [], 0.2)
            for s in ready:
                if s.type == socket.SOCK_STREAM:
                    conn, _peer = s.accept()
                    conn.close()
                else:
                    data, _peer = s.recvfrom(512)
                    record.write('%d %s\n' % (s.getsockname()[1], data.decode('utf-8', 'replace').strip()))
                    record.flush()
    os._exit(0)


def connect(name, seconds, targets):
    results = {}

    def one(target):
        hostport, proto = target.rsplit('/', 1)
        host, port = hostport.rsplit(':', 1)
        host = host.strip('[]')
        try:
            if proto == 'tcp':
                socket.create_connection((host, int(port)), timeout=seconds).close()
            else:
                family = socket.AF_INET6 if ':' in host else socket.AF_INET
                s = socket.socket(family, socket.SOCK_DGRAM)
                for _i in range(3):
                    s.sendto(name.encode(), (host, int(port)))
                    time.sleep(0.05)
                s.close()
            results[target] = 'ok'
        except (OSError, ValueError) as e:
            results[target] = str(e) or e.__class__.__name__

    threads = [threading.Thread(target=one, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 5)
    return dict((t, results.get(t, 'no answer within %s s' % seconds)) for t in targets)


def collect(directory):
    open(os.path.join(directory, 'stop'), 'w').close()
    out = {'udp': [], 'refused': []}
    for key in out:
        try:
            with open(os.path.join(directory, key)) as f:
                out[key] = sorted(set(line.strip() for line in f if line.strip()))
        except OSError:
            pass
    return out


def main(argv):
    mode = argv[1]
    if mode == 'probe':
        print(json.dumps(probe(argv[2])))
    elif mode == 'listen':
        ports = dict(arg.split('=', 1) for arg in argv[4:6])
        listen(argv[2], float(argv[3]), [int(p) for p in ports['tcp'].split(',') if p],
               [int(p) for p in ports['udp'].split(',') if p])
    elif mode == 'connect':
        print(json.dumps(connect(argv[2], float(argv[3]), argv[4:])))
    elif mode == 'collect':
        print(json.dumps(collect(argv[2])))
    else:
        sys.exit('unknown mode %r' % mode)


if __name__ == '__main__':
    main(sys.argv)
