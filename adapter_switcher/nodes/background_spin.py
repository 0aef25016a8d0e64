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
Spin an executor on a background thread that stops, and is joined, before the executor shuts down.

``threading.Thread(target=executor.spin)`` followed by ``executor.shutdown()`` and
``destroy_node()`` on the main thread races rclpy (ros2/rclpy#1142, #1355): shutdown and
destroy_node release handles that the spinning thread may be waiting on at that moment, and
the thread dies with ``InvalidHandle: cannot use Destroyable because destruction was
requested``. Spinning in short ``spin_once`` steps under a flag lets ``stop`` end the loop and
join the thread first, so shutdown and destroy_node meet an executor nobody spins.
"""

import threading

from rclpy.executors import Executor
from rclpy.executors import ExternalShutdownException
from rclpy.executors import ShutdownException

SPIN_STEP_S = 0.1


class BackgroundSpin:
    """Spin ``executor`` on a daemon thread from ``start`` until ``stop``."""

    def __init__(self, executor: Executor, step_s: float = SPIN_STEP_S):
        self._executor = executor
        self._step_s = step_s
        self._spinning = threading.Event()
        self._thread = threading.Thread(target=self._spin, name='background_spin', daemon=True)

    def start(self) -> 'BackgroundSpin':
        """Start spinning; return self."""
        self._spinning.set()
        self._thread.start()
        return self

    def _spin(self) -> None:
        try:
            while self._spinning.is_set() and self._executor.context.ok():
                self._executor.spin_once(timeout_sec=self._step_s)
        except (ExternalShutdownException, ShutdownException):
            pass   # the context or the executor was shut down elsewhere: nothing left to spin

    def stop(self, timeout_s: float = 5.0) -> bool:
        """
        End the loop, join the thread, then shut the executor down.

        Return False if a callback held the thread past ``timeout_s``; the executor is shut
        down either way, as ``Executor.shutdown`` would.
        """
        self._spinning.clear()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout_s)
        joined = not self._thread.is_alive()
        return self._executor.shutdown(timeout_sec=timeout_s) and joined
