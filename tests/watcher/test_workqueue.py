# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ovn_k8s.overlay contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watcher's work queue: one key in flight, coalescing, per-key backoff."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time

from ovn_k8s_agents.watcher.workqueue import WorkQueue


def test_same_key_coalesces_and_is_never_in_flight_twice():
    q = WorkQueue()
    q.add_many(['a', 'b', 'a', 'a'])
    assert q.depth() == 2
    first = q.get_batch(1)
    assert first == ['a']
    q.add('a')                       # changed again while a worker holds it
    assert q.get_batch(10, timeout=0.05) == ['b']
    assert q.get_batch(10, timeout=0.05) == []   # 'a' waits for done()
    q.done('a')
    assert q.get_batch(10, timeout=0.05) == ['a']
    q.done('a')
    q.done('b')
    assert q.idle()


def test_retry_backs_off_per_key_while_others_go_on():
    q = WorkQueue(base_delay=0.2, max_delay=1.0)
    q.add('bad')
    assert q.get_batch(1) == ['bad']
    assert q.retry('bad') == 0.2
    q.done('bad')
    q.add('good')
    t0 = time.monotonic()
    assert q.get_batch(1, timeout=0) == ['good']  # ready at once: not held back by 'bad'
    q.done('good')
    assert q.get_batch(1, timeout=2) == ['bad']  # comes back after its delay
    assert time.monotonic() - t0 >= 0.19
    assert q.retry('bad') == 0.4 and q.retrying() == 1
    q.done('bad')
    q.forget('bad')
    assert q.retrying() == 0


def test_workers_never_share_a_key():
    q = WorkQueue()
    in_flight, clashes, seen = set(), [], []
    lock = threading.Lock()

    def worker():
        while True:
            keys = q.get_batch(3, timeout=0.3)
            if not keys:
                return
            with lock:
                clashes.extend(k for k in keys if k in in_flight)
                in_flight.update(keys)
            time.sleep(0.001)
            with lock:
                in_flight.difference_update(keys)
                seen.extend(keys)
            for k in keys:
                q.done(k)

    threads = [threading.Thread(target=worker) for dummy in range(4)]
    for t in threads:
        t.start()
    for i in range(2000):
        q.add('k%d' % (i % 37))
    for t in threads:
        t.join()
    assert not clashes
    assert set(seen) == set('k%d' % i for i in range(37))
