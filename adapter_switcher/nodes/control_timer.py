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
A node's periodic tick that costs no wake-up of its own under sim time.

An rclpy timer on a node following /clock fires in a second executor event after the /clock
callback that moved the clock past its deadline: the /clock message wakes the executor, the
callback sets the time, rclpy's timers thread sees the deadline pass and queues the timer, and
the executor wakes again to call it. At the simulator's 20 Hz /clock and a 20 Hz control tick
that second wake-up is about 0.12 ms of CPU per tick (bench/sim_time.py: ``raw_override`` and
``raw_override_timer``), a quarter of a percent of a core for nothing.

A :class:`ControlTimer` is an rclpy timer while the node runs on wall time. While it follows
/clock (``use_sim_time``, at start or changed at runtime), the rclpy timer is cancelled and the
tick runs inside the /clock callback that reaches its deadline (:class:`RawClockTimeSource`
calls :meth:`ControlTimer.clock_advanced` after setting the time), on the same grid a timer
keeps: first deadline one period after the clock's time when it starts, ticks missed by a jump
ahead skipped, a jump back starting the grid afresh from there.
"""

from typing import Callable, Optional

from adapter_switcher.nodes.timer_callback import NoArgumentCallback
from rclpy.node import Node


class ControlTimer:
    """Calls ``callback()`` every ``period_s`` of the node's clock (see the module doc)."""

    def __init__(self, node: Node, source, period_s: float, callback: Callable[[], object],
                 callback_group=None):
        if not period_s > 0:
            raise ValueError(f'timer period must be positive, got {period_s}')
        self._node = node
        self._source = source
        self._callback = callback
        self._period_ns = max(1, round(period_s * 1e9))
        self._next_ns: Optional[int] = None
        self._follow_clock = False
        self._cancelled = False
        self.timer = node.create_timer(period_s, NoArgumentCallback(callback),
                                       callback_group=callback_group)
        source.add_control_timer(self)
        self.sim_time_changed(source.ros_time_is_active)

    @property
    def follows_clock(self) -> bool:
        """Tell whether the tick runs from the /clock callback instead of the rclpy timer."""
        return self._follow_clock and not self._cancelled

    def sim_time_changed(self, active: bool) -> None:
        """Tick from /clock (``active``) or from the rclpy timer; called by the time source."""
        if active == self._follow_clock:
            return
        self._follow_clock = active
        self._next_ns = None
        if active:
            now = self._node.get_clock().now().nanoseconds
            self._next_ns = now + self._period_ns if now > 0 else None
        if self._cancelled:
            return
        if active:
            self.timer.cancel()
        else:
            self.timer.reset()

    def clock_advanced(self, now_ns: int) -> None:
        """Run the tick if ``now_ns`` (the clock's new time) reached its deadline."""
        if not self.follows_clock:
            return
        if self._next_ns is None or now_ns < self._next_ns - self._period_ns:
            self._next_ns = now_ns + self._period_ns   # the first time, or time went back
            return
        if now_ns < self._next_ns:
            return
        missed = (now_ns - self._next_ns) // self._period_ns
        self._next_ns += (missed + 1) * self._period_ns
        self._callback()

    def cancel(self) -> None:
        """Stop ticking, on either path (as ``Timer.cancel``)."""
        self._cancelled = True
        self.timer.cancel()

    def destroy(self) -> None:
        """Cancel, detach from the time source and destroy the rclpy timer."""
        self.cancel()
        self._source.remove_control_timer(self)
        self._node.destroy_timer(self.timer)
