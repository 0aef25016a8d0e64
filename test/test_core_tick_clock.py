# Copyright 2026 The adapter_switcher Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Background work waits for the gap between ticks, and never waits when nothing ticks.

A real loop ticks on its own thread; the test records every tick's [start, end] and checks that
each slice of background work was released outside every tick.
"""

import threading
import time

from adapter_switcher.core.tick_clock import TickClock

PERIOD = 0.05
TICK = 0.012


def test_no_loop_means_no_waiting():
    clock = TickClock()
    start = time.perf_counter()
    clock.wait_for_room(10.0)
    assert time.perf_counter() - start < 1.0


def test_work_is_released_between_ticks():
    clock = TickClock()
    ticks, stop = [], threading.Event()

    def loop():
        deadline = time.perf_counter()
        while not stop.is_set():
            clock.tick_started()
            began = time.perf_counter()
            time.sleep(TICK)
            clock.tick_ended()
            ticks.append((began, time.perf_counter()))
            deadline += PERIOD
            time.sleep(max(0.0, deadline - time.perf_counter()))

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        time.sleep(5 * PERIOD)
        releases = []
        for _ in range(20):
            clock.wait_for_room(0.005)
            releases.append(time.perf_counter())
            time.sleep(0.004)
    finally:
        stop.set()
        thread.join(timeout=5)
    inside = [t for t in releases for began, ended in ticks if began <= t <= ended]
    assert not inside, f'{len(inside)} slices released during a tick'


def run_loop(clock, ticks, stop, pause_after=None, pause_s=0.0):
    """Tick at PERIOD until ``stop``; after ``pause_after`` ticks stand still ``pause_s``."""
    deadline = time.perf_counter()
    count = 0
    while not stop.is_set():
        if count == pause_after:
            time.sleep(pause_s)
            deadline = time.perf_counter() + PERIOD / 3   # resumes at another phase
            time.sleep(PERIOD / 3)
        clock.tick_started()
        began = time.perf_counter()
        time.sleep(TICK)
        clock.tick_ended()
        ticks.append((began, time.perf_counter()))
        count += 1
        deadline += PERIOD
        time.sleep(max(0.0, deadline - time.perf_counter()))


def test_work_fits_before_the_next_tick_after_the_loop_stood_still():
    # A loop that stood still (a lifecycle pause, a stall) must not be learned as a slow
    # loop: work released after it resumes must still end before the next tick starts.
    clock = TickClock()
    ticks, stop = [], threading.Event()
    thread = threading.Thread(target=run_loop, args=(clock, ticks, stop, 6, 12 * PERIOD))
    thread.start()
    work = 0.4 * (PERIOD - TICK)
    try:
        while len(ticks) < 7:       # the first tick after the pause has ended
            time.sleep(0.001)
        releases = []
        while len(ticks) < 20:
            clock.wait_for_room(work)
            releases.append(time.perf_counter())
            time.sleep(work)
    finally:
        stop.set()
        thread.join(timeout=5)
    starts = [began for began, _ in ticks]
    late = [t for t in releases
            if any(t < began < t + work for began in starts)]
    assert len(releases) >= 13
    assert not late, f'{len(late)} of {len(releases)} slices ran into the next tick'


def test_work_goes_on_while_a_loop_ticks_back_to_back():
    # A loop with no idle time (an overloaded robot, an evaluation stepping as fast as it can)
    # has no gap to give: background work must still run beside it, not wait until it stops.
    clock = TickClock()
    ticks, stop = [], threading.Event()

    def back_to_back():
        deadline = time.perf_counter() + 30.0     # bounded: a wait that never returns fails
        while not stop.is_set() and time.perf_counter() < deadline:
            clock.tick_started()
            began = time.perf_counter()
            time.sleep(TICK)
            clock.tick_ended()
            ticks.append((began, time.perf_counter()))

    thread = threading.Thread(target=back_to_back)
    thread.start()
    try:
        while len(ticks) < 5:
            time.sleep(0.001)
        for _ in range(5):
            clock.wait_for_room(0.005)
        still_ticking = thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=35)
    assert still_ticking, 'background work waited until the loop stopped'
