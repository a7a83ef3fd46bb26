# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus metrics (text format 0.0.4, written by hand) and the /healthz, /readyz and
/metrics HTTP endpoints."""

from __future__ import absolute_import, division, print_function

import bisect
import threading

try:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
except ImportError:  # pragma: no cover
    raise

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STEP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
BUCKETS = {'reconcile_duration_seconds': DURATION_BUCKETS, 'nb_plan_seconds': STEP_BUCKETS,
           'nb_commit_seconds': STEP_BUCKETS, 'api_patch_seconds': STEP_BUCKETS, 'batch_pods': SIZE_BUCKETS}


def _labels(labels):
    if not labels:
        return ''
    return '{%s}' % ','.join('%s="%s"' % (k, str(v).replace('\\', '\\\\').replace('"', '\\"'))
                             for k, v in sorted(labels))


class Histogram(object):
    def __init__(self, buckets):
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value):
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1


class Metrics(object):
    """Counters, gauges (read through callbacks) and histograms, thread-safe."""

    PREFIX = 'ovn_k8s_watcher_'
    HELP = {
        'events_total': ('counter', 'Objects handled, by kind and result (ok, failed, invalid).'),
        'nb_transactions_total': ('counter', 'Northbound transactions committed.'),
        'api_writes_total': ('counter', 'Writes to the Kubernetes API (annotations, events).'),
        'watch_restarts_total': ('counter', 'Watches reopened, by kind and reason.'),
        'relists_total': ('counter', 'Full lists of a kind (start-up, 410 Gone, takeover).'),
        'queue_depth': ('gauge', 'Keys waiting in the work queue.'),
        'retrying_keys': ('gauge', 'Keys whose last attempt failed and that wait for a retry.'),
        'leader': ('gauge', '1 while this instance holds the lease.'),
        'reconcile_duration_seconds': ('histogram', 'Time from a full list to the queue draining.'),
        'pod_port_latency_seconds': ('histogram', "A pod's creation to its port committed (second resolution of creationTimestamp)."),
        'pod_annotation_latency_seconds': ('histogram', "A pod's creation to its annotation written."),
        'nb_plan_seconds': ('histogram', 'Planning one batch of pods under the Northbound lock (reads, allocation).'),
        'nb_commit_seconds': ('histogram', 'One Northbound transaction, from sending it to its confirmed result.'),
        'api_patch_seconds': ('histogram', "One pod's annotation PATCH to the API server."),
        'queue_wait_seconds': ('histogram', 'A pod key queued until a worker takes it.'),
        'batch_pods': ('histogram', 'Pods planned in one batch.'),
        'gc_pause_seconds': ('histogram', "Python's cycle collector stopping every thread (watcher/heap.py)."),
    }

    def __init__(self):
        self._lock = threading.Lock()
        self._counters = {}
        self._gauges = {}
        self._hist = {}

    def inc(self, name, value=1, **labels):
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + value

    def gauge(self, name, read):
        self._gauges[name] = read

    def observe(self, name, value):
        buckets = BUCKETS.get(name, LATENCY_BUCKETS)
        with self._lock:
            self._hist.setdefault(name, Histogram(buckets)).observe(max(0.0, value))

    def counter(self, name, **labels):
        with self._lock:
            return self._counters.get((name, tuple(sorted(labels.items()))), 0)

    def render(self):
        out = []
        with self._lock:
            counters = dict(self._counters)
            hist = dict((k, (h.buckets, list(h.counts), h.total, h.n)) for k, h in self._hist.items())
        for name, (kind, text) in sorted(self.HELP.items()):
            full = self.PREFIX + name
            out.append('# HELP %s %s' % (full, text))
            out.append('# TYPE %s %s' % (full, kind))
            if kind == 'counter':
                for (cname, labels), value in sorted(counters.items()):
                    if cname == name:
                        out.append('%s%s %s' % (full, _labels(labels), value))
            elif kind == 'gauge':
                read = self._gauges.get(name)
                out.append('%s %s' % (full, read() if read else 0))
            else:
                empty = BUCKETS.get(name, LATENCY_BUCKETS)
                buckets, counts, total, n = hist.get(name, (empty, [0] * (len(empty) + 1), 0.0, 0))
                running = 0
                for bound, count in zip(buckets, counts):
                    running += count
                    out.append('%s_bucket{le="%s"} %d' % (full, bound, running))
                out.append('%s_bucket{le="+Inf"} %d' % (full, n))
                out.append('%s_sum %s' % (full, total))
                out.append('%s_count %d' % (full, n))
        return '\n'.join(out) + '\n'


class HealthServer(object):
    """Serves /healthz (the process runs), /readyz (``ready()`` is true) and /metrics."""

    def __init__(self, address, metrics, healthy, ready):
        host, port = address.rsplit(':', 1)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                path = self.path.split('?')[0]
                if path == '/metrics':
                    code, body, ctype = 200, outer.metrics.render(), 'text/plain; version=0.0.4; charset=utf-8'
                elif path in ('/healthz', '/readyz'):
                    ok, why = (outer.healthy if path == '/healthz' else outer.ready)()
                    code, body, ctype = (200 if ok else 503), why + '\n', 'text/plain; charset=utf-8'
                else:
                    code, body, ctype = 404, 'not found\n', 'text/plain; charset=utf-8'
                data = body.encode('utf-8')
                self.send_response(code)
                self.send_header('Content-Type', ctype)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.metrics = metrics
        self.healthy = healthy
        self.ready = ready
        self.server = ThreadingHTTPServer((host.strip('[]') or '127.0.0.1', int(port)), Handler)
        self.server.daemon_threads = True
        self.address = '%s:%d' % self.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.serve_forever, name='http', daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
