#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab tooling, never shipped: the "container" of a lab pod. Listens on the given TCP ports
inside the pod's network namespace and answers every HTTP request (or any line of text) with
``<pod name> <client address>``, so that a test sees which pod answered and what source
address reached it (a SNAT or a load balancer shows up there)."""

import argparse
import socketserver
import threading


class Handler(socketserver.StreamRequestHandler):
    name = 'pod'

    def handle(self):
        self.request.settimeout(5)
        try:
            first = self.rfile.readline(4096)
            while first.startswith(b'GET') or first.startswith(b'HEAD'):
                line = self.rfile.readline(4096)
                if line in (b'\r\n', b'\n', b''):
                    break
        except OSError:
            first = b''
        body = ('%s %s\n' % (self.name, self.client_address[0])).encode()
        if first.startswith(b'GET') or first.startswith(b'HEAD'):
            self.wfile.write(b'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n' % len(body))
        self.wfile.write(body)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--name', required=True)
    parser.add_argument('--port', type=int, action='append', default=[])
    args = parser.parse_args()
    Handler.name = args.name
    servers = [Server(('0.0.0.0', port), Handler) for port in args.port or [8080]]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == '__main__':
    main()
