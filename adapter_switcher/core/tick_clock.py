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
The inference loop's rhythm, learned from its ticks, so background work fits between them.

A robot's control loop ticks at a fixed rate; between ticks the CPU idles. The prefetch worker
asks :meth:`TickClock.wait_for_room` before each slice of work (a few megabytes of copying, or a
probe forward) and is held back until the slice fits before the next tick is due, so loading a
large adapter never steals time from a tick. When no loop is ticking, nothing waits.

The next tick is predicted from the loop's phase, not from the last start: a fixed-rate loop
(a ROS timer) that started one tick late starts the next one on schedule, so predicting
"last start + period" would let background work run into it. The phase anchor follows the
earliest starts at once and later ones only slowly, so one late tick does not move it.
Only the loop's rate is learned as its period: a start after skipped slots counts as that
many periods, and a loop that stood still (three periods or more without a tick) resumes at
a new phase with the period it had. Learned as one long period, a pause of a few seconds
made the clock expect every tick tens of milliseconds late for the next twenty ticks, and
background work ran into them.

A loop that leaves no idle time (ticks back to back: an overloaded robot, an evaluation that
steps as fast as it can) has no gap to give. There work that does not fit its gap waits at most
STARVED_TICKS ticks for room and then runs beside the ticks: otherwise a requested adapter
would never load, and the loop would run the old one for good (it did, for 30 s, in a test
that stepped back to back on a loaded machine). Work that fits the gap keeps waiting for it,
however busy the machine: a waiter descheduled past a few gaps must not run into a tick.
"""

import threading
import time

MARGIN_S = 0.002
# Background work starts no sooner than this after a tick ended: the tick's caller is still
# handling its output (publishing the command), and a loader waking at the very end of the
# tick took the GIL from it (a 1.5 ms slice plan released before the caller's tick was done).
SETTLE_S = 0.002
# How many ticks background work waits for room before it runs anyway (see above). A loop with
# idle time gives room within a tick or two, so this only binds where there is none.
STARVED_TICKS = 10
_EMA = 0.2
_LATE_DRIFT = 0.1


class TickClock:
    """Tracks tick start, end, period and duration; gates background work into idle gaps."""

    def __init__(self):
        self._cond = threading.Condition()
        self._start = 0.0
        self._anchor = 0.0
        self._end = 0.0
        self._period = 0.0
        self._duration = 0.0
        self._ticks = 0
        self._in_tick = False

    def tick_started(self) -> None:
        now = time.perf_counter()
        with self._cond:
            if self._start and (not self._period or self._ticking(now)):
                self._period = _smooth(self._period, self._one_period(now - self._start))
                self._anchor = self._follow_phase(now)
            else:
                self._anchor = now      # the first tick, or the loop resumed: a new phase
            self._start = now
            self._in_tick = True

    def tick_ended(self) -> None:
        now = time.perf_counter()
        with self._cond:
            self._duration = _smooth(self._duration, now - self._start)
            self._end = now
            self._in_tick = False
            self._ticks += 1
            self._cond.notify_all()

    @property
    def duration(self) -> float:
        """Return the typical tick duration in seconds (0 before the first tick)."""
        return self._duration

    def _one_period(self, interval: float) -> float:
        """
        Return the period an interval between two tick starts shows (lock held).

        A fixed-rate loop that overran skips the slots it missed, so two periods or more
        between starts are that many periods, not a slower loop. Learning them as one
        period would predict the next ticks too late and let work run into them.
        """
        if not self._period:
            return interval
        return interval / max(1, round(interval / self._period))

    def _follow_phase(self, start: float) -> float:
        """Return the phase anchor after a tick started at ``start`` (lock held)."""
        if not self._anchor or not self._period:
            return start
        projected = self._anchor + round((start - self._anchor) / self._period) * self._period
        if start <= projected:
            return start
        return projected + _LATE_DRIFT * (start - projected)

    def _next_start(self) -> float:
        """Return when the next tick is expected to start (lock held, loop ticking)."""
        after_last = self._anchor + (round((self._start - self._anchor) / self._period) + 1) \
            * self._period
        return min(after_last, self._start + self._period)

    def _ticking(self, now: float) -> bool:
        return bool(self._period) and now - self._start < 3 * self._period

    def fits_in_gap(self, seconds: float) -> bool:
        """Return whether ``seconds`` of work fit between two ticks (always, if none tick)."""
        with self._cond:
            return not self._ticking(time.perf_counter()) or seconds <= self._gap()

    def _gap(self) -> float:
        """Return the room for work between two ticks (lock held, loop ticking)."""
        return self._period - self._duration - SETTLE_S - MARGIN_S

    def wait_for_room(self, seconds: float) -> None:
        """
        Return when ``seconds`` of work fit before the next tick is due.

        Nothing starts within SETTLE_S of a tick's end. Work that can never fit in a gap runs
        right after that (best effort), and after STARVED_TICKS ticks without that chance
        even during a tick; when no loop is ticking, return at once.
        """
        with self._cond:
            first = self._ticks
            while True:
                now = time.perf_counter()
                if not self._ticking(now):
                    return
                if seconds > self._gap() and self._ticks - first >= STARVED_TICKS:
                    return
                if not self._in_tick:
                    settling = self._end + SETTLE_S - now
                    if settling > 0:
                        self._cond.wait(settling)
                        continue
                    room = self._next_start() - now - MARGIN_S
                    if room >= seconds:
                        return
                    if seconds > self._gap() and now - self._end < SETTLE_S + MARGIN_S:
                        return
                seen = self._ticks
                self._cond.wait_for(lambda: self._ticks != seen, timeout=2 * self._period)


def _smooth(average: float, sample: float) -> float:
    return sample if not average else (1 - _EMA) * average + _EMA * sample
