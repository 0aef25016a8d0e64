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
Where a control tick's time went: on the CPU, waiting for a CPU, waiting for the GIL, or GC.

On a shared machine a slow tick can be the process's own fault (a background thread holding
the GIL, a garbage collection, our own loader competing for a core) or someone else's (another
process on the core). Linux keeps, per thread, the time spent runnable but waiting for a CPU
(``/proc/<pid>/task/<tid>/schedstat``), and a CPU clock per thread (``thread_time``,
``pthread_getcpuclockid``). For each tick the loop reads both for the ticking thread and for
the background loader, and records the GC pauses (``gc.callbacks``) that overlap it.

CPU time comes from the thread CPU clocks, not from schedstat's first field: the kernel updates
that one only at a scheduler tick or a context switch, so for a running thread it lags by up to
a scheduler tick (4 ms at 250 Hz), and the difference showed up as milliseconds of "GIL wait"
in ticks where no other thread ran at all.

- ``runq``: the tick thread was ready but had no CPU. Up to the CPU time our loader used while
  the tick was due (``loader_cpu_in_tick``) this counts as inside (our own competition); the
  rest is outside. (The loader's CPU in the gap before does not count: the tick thread was
  not asking for a CPU then.)
- ``blocked``: neither running nor runnable, beyond the requested sleep: waiting for the GIL
  or a lock (the forward lock, during a probe that overran the gap).
- ``gc``: a garbage collection paused the interpreter during the tick.
- ``loader_cpu`` and ``loader_runq``: what the loader thread did meanwhile. A loader that was
  preempted by the OS while holding the GIL or an engine lock shows as ``blocked`` in the tick
  and ``loader_runq`` in the loader (a convoy: ours, triggered from outside).
- ``loader_cpu_in_tick``: the loader's CPU time from shortly before the tick's scheduled start
  (``LOOK_AHEAD_S``, the margin the engine keeps) to its output: background work that should
  have gone into the idle gap.

``in_process_s`` is the tick latency minus the outside part and minus any lateness inherited
from the previous tick: what the tick would have taken on a machine of its own. A tick that
starts more than a period late skips the slots it missed, as a ROS timer does, so one long
stall is one slow tick, not a run of them. Only Linux has schedstat; elsewhere both waits read
as zero.
"""

from dataclasses import dataclass
import gc
import random
import threading
import time
from typing import Callable, List, Optional, Sequence, Tuple

from adapter_switcher.core.metrics import percentile

_SCHED = '/proc/self/task/{}/schedstat'
# How long before a tick's scheduled start the loader's CPU is read (the engine's MARGIN_S).
LOOK_AHEAD_S = 0.002


def schedstat(tid: int) -> Tuple[float, float]:
    """Return ``(on_cpu_s, runqueue_wait_s)`` of a thread of this process, (0, 0) if unknown."""
    try:
        with open(_SCHED.format(tid)) as stream:
            on_cpu, waited, _ = stream.read().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(on_cpu) * 1e-9, int(waited) * 1e-9


def thread_cpu(native_id: int) -> Callable[[], float]:
    """
    Return a function that reads the CPU time of this process's thread ``native_id``.

    Precise to the nanosecond for a running thread (schedstat's CPU field is not); reads 0
    for a thread that is gone or unknown.
    """
    thread = next((t for t in threading.enumerate() if t.native_id == native_id), None)
    if thread is None or thread.ident is None:
        return lambda: 0.0
    try:
        clock = time.pthread_getcpuclockid(thread.ident)
    except (AttributeError, OSError):
        return lambda: schedstat(native_id)[0]

    def read() -> float:
        try:
            return time.clock_gettime(clock)
        except OSError:     # the thread has ended
            return 0.0
    return read


def p99_ratio_interval(busy: Sequence[float], idle: Sequence[float],
                       resamples: int = 1000) -> Tuple[float, float]:
    """
    Return the 5th and 95th percentiles of the p99 ratio over bootstrap resamples.

    A p99 of a few hundred ticks rests on its few largest samples, so one run's ratio moves
    with machine noise; the interval says how far (seeded, so a rerun of the same samples
    gives the same interval).
    """
    rng = random.Random(0)
    ratios = sorted(percentile(rng.choices(busy, k=len(busy)), 99)
                    / percentile(rng.choices(idle, k=len(idle)), 99)
                    for _ in range(resamples))
    return percentile(ratios, 5), percentile(ratios, 95)


class GcPauses:
    """Records every garbage collection's start and stop, for overlap with ticks."""

    def __init__(self):
        self.pauses: List[Tuple[float, float, int]] = []
        self._started = 0.0

    def _callback(self, phase, info):
        now = time.perf_counter()
        if phase == 'start':
            self._started = now
        else:
            self.pauses.append((self._started, now, info.get('generation', -1)))

    def __enter__(self):
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self._callback)

    def overlap(self, start: float, end: float) -> float:
        """Return the seconds of GC pause within ``[start, end]`` (recent pauses only)."""
        total = 0.0
        for began, ended, _ in reversed(self.pauses[-16:]):
            if ended < start:
                break
            total += max(0.0, min(end, ended) - max(start, began))
        return total


@dataclass(frozen=True)
class TickSample:
    """One tick: latency from its scheduled start to its output, and where the time went."""

    latency_s: float
    inherited_s: float
    on_cpu_s: float
    runq_s: float
    blocked_s: float
    gc_s: float
    loader_cpu_s: float
    loader_runq_s: float
    loader_cpu_in_tick_s: float = 0.0

    @property
    def inside_runq_s(self) -> float:
        return min(self.runq_s, self.loader_cpu_in_tick_s)

    @property
    def outside_s(self) -> float:
        return max(0.0, self.runq_s - self.inside_runq_s)

    @property
    def in_process_s(self) -> float:
        return max(0.0, self.latency_s - self.inherited_s - self.outside_s)


class TickLoop:
    """Calls ``tick()`` at a fixed rate and records a :class:`TickSample` per tick."""

    def __init__(self, period: float, gc_pauses: GcPauses):
        self.period = period
        self.gc_pauses = gc_pauses
        self.overruns = 0
        self._tid = threading.get_native_id()
        self._next = time.perf_counter()
        self._loader_tid: Optional[int] = None
        self._loader_cpu: Callable[[], float] = lambda: 0.0

    @property
    def loader_tid(self) -> Optional[int]:
        """Return the native id of the background thread whose time is recorded, if any."""
        return self._loader_tid

    @loader_tid.setter
    def loader_tid(self, tid: Optional[int]) -> None:
        self._loader_tid = tid
        self._loader_cpu = thread_cpu(tid) if tid else (lambda: 0.0)

    def resync(self) -> None:
        """Start the schedule afresh (after the loop was held up on purpose)."""
        self._next = time.perf_counter()

    def run(self, ticks: int, tick) -> List[TickSample]:
        return [self.tick(tick) for _ in range(ticks)]

    def tick(self, tick) -> TickSample:
        before = time.perf_counter()
        self._next += self.period
        if before - self._next > self.period:
            self._next += (before - self._next) // self.period * self.period
            self.overruns += 1
        cpu0, runq0 = time.thread_time(), schedstat(self._tid)[1]
        loader0 = self._loader_state()
        # The loader's CPU is read again LOOK_AHEAD_S before the scheduled start (the engine
        # ends background slices at least that early), so what it does from there on, while
        # the tick is due, is told apart from its work in the gap.
        loader_due = self._sleep_until(self._next - LOOK_AHEAD_S) or loader0[0]
        self._sleep_until(self._next)
        tick()
        end = time.perf_counter()
        # The loader first: reading our own schedstat is file I/O that releases the GIL, and a
        # loader woken by the tick's end would run in it and count as inside a tick that has
        # already given its output.
        loader1 = self._loader_state()
        cpu1, runq1 = time.thread_time(), schedstat(self._tid)[1]
        on_cpu, runq = cpu1 - cpu0, runq1 - runq0
        slept = max(0.0, self._next - before)
        blocked = max(0.0, end - before - slept - on_cpu - runq)
        return TickSample(end - self._next, max(0.0, before - self._next), on_cpu, runq,
                          blocked, self.gc_pauses.overlap(self._next, end),
                          *_since(loader0, loader1), max(0.0, loader1[0] - loader_due))

    def _sleep_until(self, deadline: float) -> Optional[float]:
        """Sleep until ``deadline``; return the loader's CPU then (None if it had passed)."""
        delay = deadline - time.perf_counter()
        if delay <= 0:
            return None
        time.sleep(delay)
        return self._loader_cpu()

    def _loader_state(self) -> Tuple[float, float]:
        """Return the loader's (CPU, run-queue wait) seconds, (0, 0) without a loader."""
        if not self._loader_tid:
            return 0.0, 0.0
        return self._loader_cpu(), schedstat(self._loader_tid)[1]


def _since(before: tuple, after: tuple) -> list:
    """Return the increase of each schedstat reading (0 once the thread has ended)."""
    return [max(0.0, b - a) for a, b in zip(before, after)]
