# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's leader election (agents/ovn_k8s_agents/watcher/leader.py) against the real API
server: a held lease expires by how long this instance has seen its record unchanged, never by
comparing the holder's clock with ours; a leader whose API traffic is blocked (a TCP relay on
loopback that stops passing bytes) has its lease requests time out and stops leading before
another instance can take the lease over; bad timings are refused."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import socket
import threading
import uuid

import pytest

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from ovn_k8s_agents.watcher.cli import api_client
from ovn_k8s_agents.watcher.leader import LeaderElector
from waiting import wait_for  # tests/lib

NS = 'default'


class Clock:
    """A monotonic clock the test moves by hand (the API server and its records stay real)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Relay:
    """A TCP relay on loopback to the API server; ``block()`` makes it hold every byte, so that a
    client's established connections and new ones alike get no answer."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.blocked = threading.Event()
        self.closed = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed.is_set():
            try:
                conn = self.sock.accept()[0]
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=10)
            for src, dst in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src, dst):
        src.settimeout(None)
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self.blocked.is_set() and not self.closed.is_set():
                    self.closed.wait(0.05)
                if self.closed.is_set():
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def block(self):
        self.blocked.set()

    def close(self):
        self.closed.set()
        self.sock.close()


def outcome_of(call, what, guard=120):
    """call()'s result, or the exception it raised (what the daemon's loops catch), run in a
    thread; the test fails if ``what`` is still running after ``guard`` seconds (a bound on the
    test run that only a missing timeout reaches, not a measurement)."""
    outcome = []

    def run():
        try:
            outcome.append(call())
        except Exception as e:  # noqa: BLE001
            outcome.append(e)
    attempt = threading.Thread(target=run, daemon=True)
    attempt.start()
    attempt.join(guard)
    assert not attempt.is_alive(), '%s did not time out' % what
    return outcome[0]


@pytest.fixture
def lease(kube):
    name = 'leader-test-%s' % uuid.uuid4().hex[:6]
    api = client.CoordinationV1Api(kube.api_client())
    yield api, name
    try:
        api.delete_namespaced_lease(name, NS)
    except ApiException:
        pass


def _stamp(delta_seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta_seconds)
    return t.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def _hold(api, name, holder, renew_delta, duration=3):
    """Create or renew the lease for ``holder`` with a renewTime ``renew_delta`` seconds from
    now by this machine's clock (what a holder with a skewed clock writes)."""
    spec = {'holderIdentity': holder, 'leaseDurationSeconds': duration, 'acquireTime': _stamp(renew_delta),
            'renewTime': _stamp(renew_delta), 'leaseTransitions': 0}
    try:
        current = api.read_namespaced_lease(name, NS)
    except ApiException:
        api.create_namespaced_lease(NS, {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
                                         'metadata': {'name': name, 'namespace': NS}, 'spec': spec})
        return
    api.replace_namespaced_lease(name, NS, {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
                                            'metadata': {'name': name, 'namespace': NS,
                                                         'resourceVersion': current.metadata.resource_version},
                                            'spec': spec})


@pytest.mark.parametrize('skew', [-3600, 3600], ids=['holder-clock-behind', 'holder-clock-ahead'])
def test_a_held_lease_expires_by_our_clock_not_the_holders(kube, lease, skew):
    api, name = lease
    _hold(api, name, 'ghost', skew)
    clock = Clock()
    me = LeaderElector(kube.api_client(), NS, name, 'me', lease_duration=3, renew_deadline=2, retry_period=1,
                       clock=clock)
    # A renewTime an hour old is no proof that the holder is gone: its clock may be behind ours.
    assert not me.try_acquire_or_renew()
    clock.now += 2.9
    assert not me.try_acquire_or_renew()
    # The holder renews: the record changed, so the count starts again from this read.
    _hold(api, name, 'ghost', skew)
    assert not me.try_acquire_or_renew()
    clock.now += 2.9
    assert not me.try_acquire_or_renew() and not me.still_leading()
    # Unchanged for a whole lease duration of our clock (a renewTime an hour ahead included).
    clock.now += 0.2
    assert me.try_acquire_or_renew() and me.still_leading()
    spec = api.read_namespaced_lease(name, NS).spec
    assert spec.holder_identity == 'me' and spec.lease_transitions == 1


def test_a_released_lease_is_taken_at_once(kube, lease):
    api, name = lease
    clock = Clock()
    one = LeaderElector(kube.api_client(), NS, name, 'one', 3, 2, 1, clock=clock)
    two = LeaderElector(kube.api_client(), NS, name, 'two', 3, 2, 1, clock=clock)
    assert one.try_acquire_or_renew()
    assert not two.try_acquire_or_renew()
    one.release()
    assert not one.still_leading()
    assert two.try_acquire_or_renew()
    # The old holder reads the new one: it is not leading, and does not take the lease back.
    assert not one.try_acquire_or_renew() and not one.still_leading()


def test_a_leader_cut_off_from_the_api_stops_before_another_takes_over(kube, lease):
    name = lease[1]
    host, port = kube.server.split('//', 1)[1].rsplit(':', 1)
    relay = Relay(host, int(port))
    try:
        cut_off = kube.api_client()
        cut_off.configuration.host = 'https://127.0.0.1:%d' % relay.port
        leader = LeaderElector(cut_off, NS, name, 'leader', lease_duration=3, renew_deadline=2, retry_period=0.5)
        other = LeaderElector(kube.api_client(), NS, name, 'other', lease_duration=3, renew_deadline=2,
                              retry_period=0.5)
        assert leader.try_acquire_or_renew() and leader.still_leading()
        assert not other.try_acquire_or_renew()

        relay.block()
        # A renewal through the blocked relay ends with an error after its request timeout
        # (renew_deadline / 2) instead of hanging.
        outcome = outcome_of(leader.try_acquire_or_renew, 'a lease request through the blocked relay')
        assert isinstance(outcome, Exception), outcome

        # The other instance tries until it wins; each time, the cut-off leader is asked first
        # whether it still leads (what its writes check). When the other wins, it must not.
        leader_said = []
        deadline = threading.Event()
        for _attempt in range(200):
            leader_said.append(leader.still_leading())
            if other.try_acquire_or_renew():
                break
            deadline.wait(0.1)
        else:
            pytest.fail('the other instance never took the lease over')
        assert leader_said[-1] is False, leader_said
    finally:
        relay.close()


@pytest.mark.parametrize('timings', [(10, 10, 2), (15, 16, 2), (15, 10, 10), (15, 10, 0)])
def test_timings_that_allow_two_leaders_are_refused(kube, timings):
    with pytest.raises(ValueError, match='renew deadline'):
        LeaderElector(kube.api_client(), NS, 'unused', 'me', *timings)


def test_every_api_request_of_the_watcher_has_a_timeout(kube, tmp_path):
    """The watcher's API client (cli.api_client) through a relay that stops passing bytes: a
    request with no timeout of its own ends with an error instead of hanging."""
    host, port = kube.server.split('//', 1)[1].rsplit(':', 1)
    relay = Relay(host, int(port))
    try:
        api = api_client(kube.kubeconfig, timeout=(2, 2))
        api.configuration.host = 'https://127.0.0.1:%d' % relay.port
        core = client.CoreV1Api(api)
        assert core.read_namespace(NS).metadata.name == NS
        relay.block()
        outcome = outcome_of(lambda: core.read_namespace(NS), 'an API request through the blocked relay')
        assert isinstance(outcome, Exception), outcome
    finally:
        relay.close()


def _log_lines(watcher):
    out = []
    for line in watcher.log_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def test_two_watchers_the_leader_cut_off_from_the_api_yields_and_the_other_serves(cluster, kube):
    """Two watcher processes; the leader's API traffic goes through a relay that is then made
    to hold every byte (its process keeps running, its Northbound connection stays up). It stops
    leading (standby, 'lost the lease'), the other takes the lease over and serves new pods,
    and the cut-off one writes nothing after the cut: no Northbound transaction, no annotation."""
    a = cluster.node('a')
    host, port = kube.server.split('//', 1)[1].rsplit(':', 1)
    relay = Relay(host, int(port))
    try:
        with open(kube.kubeconfig) as f:
            config = json.load(f)
        config['clusters'][0]['cluster']['server'] = 'https://127.0.0.1:%d' % relay.port
        relayed = cluster.tmp_path / 'relayed.kubeconfig'
        relayed.write_text(json.dumps(config))
        one = cluster.watcher('one', extra=['--kubeconfig', str(relayed)])
        one.wait_leading()
        two = cluster.watcher('two')
        cluster.pod('before', a)
        cluster.wait_annotated(['before'])
        wait_for('the second watcher on standby', lambda: two.get('/readyz') == (200, 'standby\n'))

        relay.block()
        writes_at_cut = one.metric('nb_transactions_total'), one.metric('api_writes_total', kind='annotation')
        two.wait_leading(timeout=60)
        assert one.get('/readyz') == (200, 'standby\n') and one.metric('leader') == 0
        wait_for('the cut-off watcher to say it lost the lease',
                 lambda: [r for r in _log_lines(one) if r.get('msg') == 'lost the lease: stopping work'])
        cluster.pod('after', a)
        cluster.wait_annotated(['after'])
        assert [r for r in _log_lines(two) if r.get('msg') == 'pod annotated' and r.get('object', '').endswith('/after')]
        assert (one.metric('nb_transactions_total'), one.metric('api_writes_total', kind='annotation')) == writes_at_cut
        assert not [r for r in _log_lines(one) if r.get('object', '').endswith('/after')]
    finally:
        relay.close()
