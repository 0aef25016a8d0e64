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
Soak and swap storm on a real AdapterEngine, shared by the tests and bench/reliability.py.

* Soak: thousands of swaps mixing switches between resident adapters, cold loads from disk and
  the evictions they cause, with a forward between each; the process's threads and file
  descriptors are sampled so a leak shows as growth.
* Storm: several threads request random adapters (``engine.request``), ``request_hz`` in all,
  while a loop steps at ``tick_hz``, both on deadline schedules (:class:`Paced`); every output
  must equal exactly one adapter's reference output, namely the adapter the step reports.
  Every wait is bounded, so a deadlock shows as a stalled thread, never as a hung test.
"""

from dataclasses import dataclass
from dataclasses import field
import os
import random
import threading
import time
from typing import Dict, List, Optional

import torch


def outputs_of(engine, names: List[Optional[str]], x) -> Dict[Optional[str], torch.Tensor]:
    """Return each adapter's (None: the base's) logits for ``x``, one adapter at a time."""
    references = {}
    for name in names:
        engine.activate(name) if name else engine.deactivate()
        references[name] = engine.step(x).output.logits.clone()
    return references


def matching(output: torch.Tensor, references: Dict[Optional[str], torch.Tensor]) -> list:
    """Return the adapters whose reference ``output`` equals exactly."""
    return [name for name, ref in references.items() if torch.equal(output, ref)]


def open_fds() -> int:
    return len(os.listdir('/proc/self/fd'))


@dataclass
class SoakReport:
    swaps: int
    cold_loads: int
    wrong_outputs: int
    samples: List[Dict[str, int]]   # {'swaps', 'threads', 'fds', 'rss'} after warm-up


def soak(engine, names: List[Optional[str]], x, references, swaps: int, seed: int = 0,
         sample_every: int = 500, rss=None) -> SoakReport:
    """Swap ``swaps`` times at random among ``names`` with a checked forward after each."""
    rng = random.Random(seed)
    cold = wrong = 0
    samples = []
    for index in range(1, swaps + 1):
        name = rng.choice(names)
        report = engine.activate(name) if name else engine.deactivate()
        cold += bool(report.cold)
        result = engine.step(x)
        if result.adapter != name or not torch.equal(result.output.logits, references[name]):
            wrong += 1
        if index % sample_every == 0:
            samples.append({'swaps': index, 'threads': threading.active_count(),
                            'fds': open_fds(), 'rss': rss() if rss else 0})
    return SoakReport(swaps, cold, wrong, samples)


@dataclass
class StormReport:
    ticks: int
    requests: int
    torn: int            # outputs equal to no reference, to several, or to another adapter's
    deadlocks: int       # threads still running after the bounded join
    errors: List[str]
    seconds: float = 0.0                                 # from the start to the stop
    late_ticks: int = 0   # ticks that started more than a period after their deadline
    tick_work_s: List[float] = field(default_factory=list)   # step + check, per tick


class Paced:
    """
    A deadline schedule: the n-th event is due at ``start + n * period`` (next = next + period).

    Sleeping for a fixed period after each event would drift by the event's own time and by
    every oversleep; a deadline does not. A loop that fell more than one period behind (a
    stall, a busy machine) starts again from now instead of bursting through the backlog, and
    counts the event as late.
    """

    def __init__(self, period: float, offset: float = 0.0):
        self.period = period
        self.next = time.monotonic() + offset
        self.late = 0

    def wait(self, stop: threading.Event) -> None:
        """Wait for the next deadline (or ``stop``)."""
        self.next += self.period
        delay = self.next - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        elif -delay > self.period:
            self.late += 1
            self.next = time.monotonic()


def storm(engine, names: List[Optional[str]], x, references, seconds: float,
          threads: int = 4, request_hz: float = 1000.0, tick_hz: float = 100.0,
          join_timeout_s: float = 30.0, seed: int = 0) -> StormReport:
    """
    Run the storm for ``seconds``; see the module docstring.

    ``request_hz`` is the requests per second of all ``threads`` together, spread evenly
    (each thread at ``request_hz / threads``, their deadlines staggered); the loop ticks on
    its own deadline schedule at ``tick_hz``.
    """
    stop = threading.Event()
    counts = {'ticks': 0, 'requests': 0, 'torn': 0}
    errors: List[str] = []
    work: List[float] = []
    lock = threading.Lock()
    requestable = [n for n in names if n]
    loop_pace = Paced(1.0 / tick_hz)

    def requester(index: int) -> None:
        rng = random.Random(seed * 100 + index)
        pace = Paced(threads / request_hz, offset=index / request_hz)
        while not stop.is_set():
            engine.request(rng.choice(requestable))
            with lock:
                counts['requests'] += 1
            pace.wait(stop)

    def loop() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            result = engine.step(x)
            found = matching(result.output.logits, references)
            work.append(time.perf_counter() - started)
            with lock:
                counts['ticks'] += 1
                if found != [result.adapter]:
                    counts['torn'] += 1
                    errors.append(f'tick {counts["ticks"]}: ran {result.adapter!r}, output '
                                  f'matches {found}')
            loop_pace.wait(stop)

    workers = [threading.Thread(target=requester, args=(i,), daemon=True)
               for i in range(threads)] + [threading.Thread(target=loop, daemon=True)]
    began = time.monotonic()
    for worker in workers:
        worker.start()
    stop.wait(seconds)
    stop.set()
    elapsed = time.monotonic() - began
    end = time.monotonic() + join_timeout_s
    for worker in workers:
        worker.join(timeout=max(0.0, end - time.monotonic()))
    stalled = sum(worker.is_alive() for worker in workers)
    return StormReport(counts['ticks'], counts['requests'], counts['torn'], stalled, errors,
                       elapsed, loop_pace.late, work)
