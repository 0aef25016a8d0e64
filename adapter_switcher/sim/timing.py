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
Timing of the simulation loop: sensor rates on the sim clock and pacing against the wall clock.

Sim time is kept in integer nanoseconds so that rates like 15 Hz (not a whole number of
physics steps) average exactly over a run instead of drifting.
"""

import time
from typing import Callable


class RateSchedule:
    """
    Say when a sensor of a given rate is due, on a sim clock that advances in physics steps.

    The k-th sample is due at the first step at or after ``start + k / rate``; a sample is
    never produced twice for one step, and missed ones are skipped rather than bunched.
    """

    def __init__(self, rate_hz: float, start_ns: int = 0):
        if not rate_hz > 0:
            raise ValueError(f'rate must be positive, got {rate_hz}')
        self.rate_hz = float(rate_hz)
        self._start_ns = int(start_ns)
        self._count = 1

    def _due_ns(self, count: int) -> int:
        return self._start_ns + round(count * 1e9 / self.rate_hz)

    def due(self, now_ns: int) -> bool:
        """Return whether a sample is due at ``now_ns``, and if so consume it."""
        if now_ns < self._due_ns(self._count):
            return False
        while now_ns >= self._due_ns(self._count):
            self._count += 1
        return True


class RealTimePacer:
    """
    Hold sim time to ``factor`` times wall time (``factor == 0``: as fast as possible).

    When the simulation falls behind by more than ``max_lag_s`` of wall time it re-anchors
    instead of racing to catch up, so a pause (a debugger, a loaded machine) does not become a
    burst of fast-forward afterwards.
    """

    def __init__(self, factor: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, max_lag_s: float = 0.25):
        self._clock = clock
        self._sleep = sleep
        self._max_lag_s = max_lag_s
        self._anchor = None
        self.set_factor(factor)

    def set_factor(self, factor: float):
        """Change the target factor; takes effect from the next :meth:`wait`."""
        if not factor >= 0:
            raise ValueError(f'real-time factor must be >= 0, got {factor}')
        self.factor = float(factor)
        self._anchor = None

    def wait(self, sim_time_s: float):
        """Sleep until the wall clock catches up with ``sim_time_s`` at the target factor."""
        if self.factor == 0:
            return
        now = self._clock()
        if self._anchor is None:
            self._anchor = (now, sim_time_s)
            return
        wall0, sim0 = self._anchor
        delay = wall0 + (sim_time_s - sim0) / self.factor - now
        if delay > 0:
            self._sleep(delay)
        elif delay < -self._max_lag_s:
            self._anchor = (now, sim_time_s)
