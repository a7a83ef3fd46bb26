# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ovn-k8s-watcher``: options, logging, the Northbound connection, leader election, the term
loop and a clean stop on SIGTERM."""

from __future__ import absolute_import, division, print_function

import argparse
import faulthandler
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid

from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _names
from ovn_k8s_agents.watcher import heap

LOG = logging.getLogger('ovn_k8s_watcher')

# Attributes every LogRecord has; anything else came through ``extra=`` and is a field.
_STANDARD = set(vars(logging.LogRecord('x', 0, 'x', 0, 'x', None, None))) | {'message', 'asctime'}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's fields."""

    def format(self, record):
        out = {'ts': time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(record.created)) + '.%03dZ' % record.msecs,
               'level': record.levelname.lower(), 'logger': record.name, 'msg': record.getMessage()}
        for k, v in vars(record).items():
            if k not in _STANDARD and not k.startswith('_'):
                out[k] = v if isinstance(v, (int, float, bool, type(None))) else str(v)
        if record.exc_info:
            out['exc'] = self.formatException(record.exc_info)
        return json.dumps(out, sort_keys=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog=_names.WATCHER, description=(
        'Gives Kubernetes nodes their OVN network and pods their logical switch port, address and '
        'network annotation; services become OVN load balancers, network policies port groups, '
        'address sets and ACLs.'))
    p.add_argument('--kubeconfig', default=os.environ.get('KUBECONFIG'),
                   help='kubeconfig file (default: $KUBECONFIG, else the in-cluster service account)')
    p.add_argument('--nb-remote', default=os.environ.get('OVN_NB_DB', 'unix:/var/run/ovn/ovnnb_db.sock'),
                   help='Northbound database remote(s), comma-separated (default: $OVN_NB_DB)')
    p.add_argument('--ssl-key', help='private key for ssl: remotes')
    p.add_argument('--ssl-cert', help='certificate for ssl: remotes')
    p.add_argument('--ssl-ca-cert', help='CA certificate for ssl: remotes')
    p.add_argument('--nb-timeout', type=float, default=30, help='seconds a Northbound transaction may take')
    p.add_argument('--cluster-subnet', required=True, help='the pod network, e.g. 10.128.0.0/14')
    p.add_argument('--host-prefix', type=int, default=24, help='prefix length of each node subnet')
    p.add_argument('--cluster-router', default=_names.CLUSTER_ROUTER)
    p.add_argument('--workers', type=int, default=4, help='worker threads')
    p.add_argument('--batch', type=int, default=128, help='pods committed in one transaction at most')
    p.add_argument('--api-workers', type=int, default=16,
                   help='annotation writes to the API server in flight at once (shared by the workers)')
    p.add_argument('--watch-timeout', type=int, default=300, help='server-side timeout of each watch (seconds)')
    p.add_argument('--resync-period', type=float, default=60,
                   help='seconds between looks for new gateway routers (made by a role, not announced by the API); 0: never')
    p.add_argument('--lease-namespace', default='kube-system')
    p.add_argument('--lease-name', default=_names.WATCHER,
                   help='the Lease that elects one leader; empty: no election (a single instance)')
    p.add_argument('--identity', default=None, help='this instance in the Lease (default: host name and a random tag)')
    p.add_argument('--lease-duration', type=float, default=15)
    p.add_argument('--renew-deadline', type=float, default=10)
    p.add_argument('--retry-period', type=float, default=2)
    p.add_argument('--wedged-after', type=float, default=300,
                   help='/healthz fails once a worker has spent this many seconds on one batch, or a worker died')
    p.add_argument('--metrics-address', default='127.0.0.1:9476',
                   help='host:port of /metrics, /healthz and /readyz (empty: none)')
    p.add_argument('--log-level', default='info')
    args = p.parse_args(argv)
    # The same rule as LeaderElector's, checked here too so that bad options are a usage error
    # before anything starts (importing leader here would pull the Kubernetes client into the
    # start-up path ahead of the Northbound connection).
    if args.lease_name and not 0 < args.retry_period < args.renew_deadline < args.lease_duration:
        p.error('--retry-period (%s) < --renew-deadline (%s) < --lease-duration (%s) is needed, all above 0: a '
                'leader must stop writing before another instance may take the lease over'
                % (args.retry_period, args.renew_deadline, args.lease_duration))
    if args.identity is None:
        args.identity = '%s_%s' % (socket.gethostname(), uuid.uuid4().hex[:8])
    return args


def setup_logging(level):
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # The client's own debug logs would print request headers (the token): never below WARNING.
    for name in ('kubernetes', 'urllib3'):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


# Every API request without a timeout of its own gets this one (connect, read; seconds): a
# request that hangs must not hold a worker, nor a leader that can no longer renew its lease.
API_TIMEOUT = (10, 30)


def api_client(kubeconfig, pool=16, timeout=API_TIMEOUT):
    """An API client whose connection pool keeps ``pool`` connections besides the watches' and
    the lease's, so that concurrent writers reuse connections instead of opening new ones, and
    whose every request without a ``_request_timeout`` of its own gets ``timeout``."""
    from kubernetes import client, config
    cfg = type.__call__(client.Configuration)  # not a copy of the process-wide default
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    else:
        config.load_incluster_config(client_configuration=cfg)
    cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize, pool + 8)
    api = client.ApiClient(cfg)
    # Every generated API method, in the client versions we run (Debian's 22.6 and PyPI's 37),
    # ends in rest_client.request(..., _request_timeout=...), by keyword.
    request = api.rest_client.request

    def timed_request(*args, **kwargs):
        if kwargs.get('_request_timeout') is None:
            kwargs['_request_timeout'] = timeout
        return request(*args, **kwargs)
    api.rest_client.request = timed_request
    return api


def connect_nb(args, stop, tables):
    """The long-lived Northbound client; retries with backoff until it connects or ``stop``."""
    from ansible_collections.ovn_k8s.overlay.plugins.module_utils import _compat, _errors, _ovsdb
    if not _compat.OVSDBAPP_IMPORT_ERROR:
        _compat.install_quick_datum()  # the copy's every value goes through it: see _compat
    delay = 0.5
    while not stop.is_set():
        try:
            return _ovsdb.Client(_ovsdb.NB_DB, remote=args.nb_remote, timeout=args.nb_timeout, tables=tables,
                                 ssl_key=args.ssl_key, ssl_cert=args.ssl_cert, ssl_ca_cert=args.ssl_ca_cert)
        except _errors.InvalidInput:
            raise
        except _errors.OvnK8sError as e:
            LOG.warning('Northbound database not reachable: retrying', extra=dict(reason=str(e), retry_in=delay))
            stop.wait(delay)
            delay = min(delay * 2, 30)
    return None


class Watcher(object):
    """The daemon: waits for the lease, runs one Controller per leadership term."""

    def __init__(self, args):
        from ovn_k8s_agents.watcher.metrics import Metrics
        self.args = args
        self.stop_event = threading.Event()
        self.metrics = Metrics()
        heap.watch_pauses(self.metrics)
        self.controller = None
        self.leading = False
        self.fence = None                  # the term's elector.still_leading (None: no election)
        self.nb = None
        self.nb_done = threading.Event()   # the Northbound copy loaded (or failed: nb_error)
        self.nb_error = None
        self.nb_lock = threading.Lock()
        self.metrics.gauge('queue_depth', lambda: self.controller.queue.depth() if self.controller else 0)
        self.metrics.gauge('retrying_keys', lambda: self.controller.queue.retrying() if self.controller else 0)
        self.metrics.gauge('leader', lambda: 1 if self.is_leading() else 0)

    def is_leading(self):
        """Leading, by the fence the term's writes check (a renewal that hangs past the renew
        deadline ends the lead here at once, not when the hanging request gives up)."""
        return self.leading and (self.fence is None or self.fence())

    def healthy(self):
        controller = self.controller
        why = controller.wedged(self.args.wedged_after) if controller is not None else None
        if why:
            return False, 'workers wedged: %s' % why
        return True, 'ok'

    def ready(self):
        if self.nb is None:
            return False, 'not connected to the Northbound database'
        if not self.is_leading():
            return True, 'standby'
        if self.controller is None or not self.controller.ready.is_set():
            return False, 'leading, reconciling'
        return True, 'leading'

    def run(self):
        from ovn_k8s_agents.watcher.metrics import HealthServer
        from ovn_k8s_agents.watcher.tables import nb_tables
        args = self.args
        server = None
        if args.metrics_address:
            server = HealthServer(args.metrics_address, self.metrics, self.healthy, self.ready)
            server.start()
            LOG.info('serving /metrics, /healthz, /readyz', extra=dict(address=server.address))
        # The Northbound copy loads in the background while the Kubernetes client is imported,
        # the lease is taken and the API's start-up lists are read (Controller.list_all); the
        # controller waits for it after them.
        threading.Thread(target=self._connect_nb, args=(nb_tables(),), name='nb-connect', daemon=True).start()
        from ovn_k8s_agents.watcher.controller import Controller
        from ovn_k8s_agents.watcher.leader import LeaderElector
        client = api_client(args.kubeconfig, args.api_workers)
        LOG.info('starting', extra=dict(identity=args.identity, nb_remote=args.nb_remote,
                                        api=client.configuration.host))
        elector = None
        if args.lease_name:
            elector = LeaderElector(client, args.lease_namespace, args.lease_name, args.identity,
                                    args.lease_duration, args.renew_deadline, args.retry_period)
            self.fence = elector.still_leading
        try:
            while not self.stop_event.is_set():
                if self.nb_error is not None:   # a standby learns of bad settings too
                    raise self.nb_error
                if elector is not None and not self._acquire(elector):
                    continue
                self.leading = True
                self._term(elector, client, Controller)
                if self.stop_event.is_set() and elector is not None:
                    elector.release()  # a clean stop: a standby takes over at once
                self.leading = False
        finally:
            if self.controller is not None:
                self.controller.stop()
            if self.nb is not None:
                self.nb.close()
            if server is not None:
                server.stop()
            LOG.info('stopped')

    def _connect_nb(self, tables):
        heap.loading()  # the Northbound copy: see watcher/heap.py
        try:
            self.nb = connect_nb(self.args, self.stop_event, tables)
        except BaseException as e:  # bad SSL files or remote: the term reports it
            self.nb_error = e
        finally:
            heap.settled()
            self.nb_done.set()

    def _wait_nb(self, elector):
        """Wait for the Northbound copy, renewing the lease meanwhile. False: stop, or the
        lease was lost while waiting."""
        while not self.nb_done.wait(self.args.retry_period if elector else 1.0):
            if self.stop_event.is_set() or (elector is not None and not self._renew(elector)):
                return False
        if self.nb_error is not None:
            raise self.nb_error
        return self.nb is not None

    def _acquire(self, elector):
        try:
            if elector.try_acquire_or_renew():
                LOG.info('leading', extra=dict(identity=self.args.identity))
                return True
        except Exception as e:
            LOG.warning('lease not readable', extra=dict(reason=str(e)[:300]))
        self.stop_event.wait(self.args.retry_period)
        return False

    def _term(self, elector, client, controller_class):
        args = self.args
        delay = 0.5
        while not self.stop_event.is_set():
            self.controller = controller_class(client, self.nb, self.metrics, args.cluster_subnet, args.host_prefix,
                                               cluster_router=args.cluster_router, workers=args.workers,
                                               batch=args.batch, watch_timeout=args.watch_timeout,
                                               nb_lock=self.nb_lock, resync_period=args.resync_period,
                                               api_workers=args.api_workers,
                                               fence=elector.still_leading if elector is not None else None)
            failure = None
            try:
                self.controller.list_all()
            except Exception as e:
                failure = e
            if failure is None:
                try:
                    connected = self._wait_nb(elector)  # raises what made the copy impossible
                except BaseException:
                    self._drop_controller()
                    raise
                if not connected:
                    self._drop_controller()
                    return
                self.controller.nb = self.nb
                try:
                    self.controller.start()
                    break
                except Exception as e:
                    failure = e
            LOG.warning('start-up failed: retrying', extra=dict(reason=str(failure)[:300], retry_in=delay))
            self._drop_controller()
            self.stop_event.wait(delay)
            delay = min(delay * 2, 30)
            if elector is not None and not self._renew(elector):
                return
        while not self.stop_event.wait(args.retry_period if elector else 1.0):
            if elector is not None and not self._renew(elector):
                break
        self._drop_controller()

    def _drop_controller(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def _renew(self, elector):
        try:
            if elector.try_acquire_or_renew():
                return True
        except Exception as e:
            LOG.warning('lease renewal failed', extra=dict(reason=str(e)[:300]))
        if elector.still_leading():
            return True
        LOG.error('lost the lease: stopping work', extra=dict(identity=self.args.identity))
        return False

    def stop(self):
        self.stop_event.set()


def main(argv=None):
    args = parse_args(argv)
    setup_logging(args.log_level)
    watcher = Watcher(args)

    def on_signal(signum, _frame):
        LOG.info('signal: stopping', extra=dict(signal=signum))
        watcher.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # SIGUSR1: every thread's stack to stderr
    try:
        watcher.run()
    except Exception as e:  # noqa: BLE001 (the last word of the daemon)
        LOG.error('fatal', extra=dict(reason=str(e)[:500]))
        return 1
    return 0
