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
The lock-step handshake between the simulator and its controller (ROS-free).

As in CARLA's synchronous mode or Gazebo's lockstep: each control period the simulator
publishes the sensors and the clock for tick time t, then waits for the controller's command
for t before it steps on. Sim time therefore stands still while the controller thinks, and a
run's result does not depend on how fast the machine is. A command stamped with a tick time
(TwistStamped) answers exactly that tick; an unstamped one (Twist) answers whatever tick is
awaited. The wait is bounded: a controller that never answers is an error, not a hang.

Until the controller has answered once, the clock does not stand still: a tick left unanswered
for ``startup_tick_s`` goes on with a zero command, so nodes that start after the simulator
(and missed the first /clock) still see time move and can join. From the first answer on, or
once :meth:`lock` is called (an episode reset: a controller is expected now), every later tick
waits. The tick awaited when :meth:`lock` comes may be one a lagging controller skipped while
time was still moving on its own: it gets ``lock_grace_s`` to be answered, then goes on.
"""

import threading
import time
from typing import Optional, Tuple


class LockstepTimeout(RuntimeError):
    """The controller did not answer a tick in time."""


class LockstepGate:
    """One awaited tick at a time: :meth:`expect`, then :meth:`wait` for :meth:`answer`."""

    def __init__(self, timeout_s: float, first_timeout_s: float, startup_tick_s: float = 0.1,
                 lock_grace_s: float = 5.0):
        self._timeout_s = timeout_s
        self._lock_grace_s = lock_grace_s
        self._first_deadline = time.monotonic() + first_timeout_s
        self._first_timeout_s = first_timeout_s
        self._startup_tick_s = startup_tick_s
        self._condition = threading.Condition()
        self._awaited: Optional[int] = None
        self._command: Optional[Tuple[float, float]] = None
        self._locked = False
        self._strict = False     # the awaited tick came after the lock: it must be answered

    def expect(self, tick_ns: int) -> None:
        """Start waiting for the command of tick ``tick_ns`` (drops any earlier answer)."""
        with self._condition:
            self._awaited, self._command = tick_ns, None
            self._strict = self._locked

    def answer(self, linear: float, angular: float, stamp_ns: Optional[int] = None) -> bool:
        """Offer a command; return whether it answered the awaited tick."""
        with self._condition:
            if self._awaited is None or (stamp_ns is not None and stamp_ns != self._awaited):
                return False
            self._command = (linear, angular)
            self._awaited = None
            self._locked = True
            self._condition.notify_all()
            return True

    def lock(self) -> None:
        """End the start-up phase: every later tick waits for its command."""
        with self._condition:
            self._locked = True
            self._condition.notify_all()

    def wait(self, stop: threading.Event) -> Optional[Tuple[float, float]]:
        """Return the awaited tick's command; None if ``stop`` was set; raise on timeout."""
        with self._condition:
            tick, began = self._awaited, time.monotonic()
            while self._command is None and not stop.is_set():
                starting = not self._locked
                limit = self._timeout_s if self._strict else (
                    self._startup_tick_s if starting else self._lock_grace_s)
                remaining = began + limit - time.monotonic()
                if remaining > 0:
                    self._condition.wait(remaining)
                    continue
                if not self._strict and (not starting or time.monotonic() < self._first_deadline):
                    self._awaited = None
                    return (0.0, 0.0)
                limit = self._first_timeout_s if starting else self._timeout_s
                what = 'the first' if starting else 'a'
                raise LockstepTimeout(
                    f'lock-step: no /cmd_vel for tick {tick * 1e-9:.3f} s within {limit:g} s '
                    f'(waiting for {what} command): is a controller running on this clock?')
            return None if self._command is None else self._command

    def stop(self) -> None:
        """Wake a waiting :meth:`wait` (it returns None once the caller's stop event is set)."""
        with self._condition:
            self._condition.notify_all()
