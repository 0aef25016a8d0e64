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
Background work cut into slices that each fit the idle gap before the next control tick.

A slice is a small, bounded piece of work (copying or hashing a megabyte, checking one
tensor) announced with its amount: ``with pacer.in_gap('hash', nbytes): ...``. The pacer
starts it only when the :class:`TickClock` says twice its expected time fits before the next
tick, and learns each kind's throughput from the slices it timed. Twice, because a slice slowed
down by a busy machine must still end before the tick: otherwise the tick waits for a CPU (two
cores) or for the GIL the background thread takes back after a C call.

Loading adapters into slots, validating a new adapter and extracting a bundle all go through
one pacer, so there is one notion of "the gap" and one set of measured rates. Work run with
:func:`unpaced` (scans at start-up, command-line tools) starts at once.
"""

from contextlib import contextmanager
from contextlib import nullcontext
import threading
import time
from typing import Callable, ContextManager, Dict, Iterable, Iterator, List, Tuple, TypeVar

from adapter_switcher.core.tick_clock import TickClock

HEADROOM = 2.0
# Throughput assumed for a kind of work until its first slice was timed (amount per second),
# on the slow side, so the first slice waits for a larger gap rather than overrunning one:
# bytes for copies, hashes and checks; modules for building slot layers ('wrap') and for
# planning a load's copies ('plan').
FIRST_RATES = {'copy': 1e9, 'wrap': 100.0, 'plan': 1000.0}
FIRST_RATE = 3e8
MIN_TIMED_S = 0.001
# The amount of reading, hashing or checking one slice takes on: about a millisecond of work.
SLICE_BYTES = 1 << 20
_EMA = 0.3

Slices = Callable[[str, float], ContextManager[None]]
T = TypeVar('T')


def in_groups(items: Iterable[T], size: Callable[[T], int],
              limit: int) -> Iterator[Tuple[List[T], int]]:
    """
    Yield runs of consecutive items of at most ``limit`` total size, and that size.

    An item larger than ``limit`` is a run of its own. Many small pieces of work (the tensors
    of a rank-4 adapter) go as one slice: each slice costs a wake-up and a wait for a gap, and
    a rate timed on a tiny slice is mostly that overhead.
    """
    group: List[T] = []
    total = 0
    for item in items:
        nbytes = size(item)
        if group and total + nbytes > limit:
            yield group, total
            group, total = [], 0
        group.append(item)
        total += nbytes
    if group:
        yield group, total


def unpaced(kind: str, amount: float) -> ContextManager[None]:
    """Run a slice at once (no control loop to make room for)."""
    return nullcontext()


class GapPacer:
    """Starts each slice of background work only in an idle gap big enough for it."""

    def __init__(self, clock: TickClock):
        self._clock = clock
        self._rates: Dict[str, float] = {}
        self._lock = threading.Lock()

    def rate(self, kind: str) -> float:
        """Return the throughput measured for ``kind`` (amount per second), else the guess."""
        with self._lock:
            return self._rates.get(kind, FIRST_RATES.get(kind, FIRST_RATE))

    def wait_for_forward(self) -> None:
        """Return when a forward as long as a typical tick fits, with headroom (a probe)."""
        self._clock.wait_for_room(HEADROOM * self._clock.duration)

    def wait_for_gap(self, kind: str, amount: float) -> None:
        """Return when ``amount`` of ``kind`` work fits before the next tick (nothing timed)."""
        self._clock.wait_for_room(HEADROOM * amount / self.rate(kind))

    @contextmanager
    def in_gap(self, kind: str, amount: float) -> Iterator[None]:
        """Wait until ``amount`` of ``kind`` work fits before the next tick, then run it."""
        self.wait_for_gap(kind, amount)
        began = time.perf_counter()
        yield
        elapsed = time.perf_counter() - began
        if elapsed < MIN_TIMED_S:
            return      # mostly overhead: it would make the rate look lower than it is
        measured = amount / elapsed
        with self._lock:
            known = self._rates.get(kind)
            self._rates[kind] = measured if known is None else (1 - _EMA) * known + _EMA * measured
