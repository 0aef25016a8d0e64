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
A multi-threaded executor that never lets its dispatcher run ahead of its worker threads.

rclpy's MultiThreadedExecutor hands each ready callback to a thread pool and goes straight back
to waiting; a callback still queued in the pool counts as ready work, so the dispatcher yields it
again at once and spins, holding the GIL. Once that starts, the workers get the GIL less often,
callbacks queue longer, and the spin feeds itself: measured here, an inference node at 20 Hz with
three 20 Hz sensors went from 13 % CPU to a saturated core, /cmd_vel from 20 to ~1.3 messages/s,
and sensor callbacks from 50 ms apart to seconds apart (tripping the sensor timeout).

This executor dispatches a callback only when a worker is free and waits until that callback
has started before it looks for more work, so nothing is ever queued and nothing is re-yielded.
Callback groups keep their meaning: with the control timer in its own group, services,
parameters and sensors run on another worker while the model runs.
"""

from concurrent.futures import ThreadPoolExecutor
import threading
import time
from typing import Optional

from rclpy.executors import ConditionReachedException
from rclpy.executors import Executor
from rclpy.executors import ExternalShutdownException
from rclpy.executors import ShutdownException
from rclpy.executors import TimeoutException


class BoundedThreadsExecutor(Executor):
    """Run callbacks on ``num_threads`` workers, dispatching only to a free one."""

    def __init__(self, num_threads: int = 2, *, context=None):
        super().__init__(context=context)
        self._pool = ThreadPoolExecutor(num_threads, thread_name_prefix='ros-callback')
        self._free = threading.Semaphore(num_threads)
        self._error: Optional[BaseException] = None

    def spin_once(self, timeout_sec: Optional[float] = None) -> None:
        """Wait for a free worker, then for one ready callback, and start it there."""
        if self._error is not None:
            error, self._error = self._error, None
            raise error  # a callback failed: stop spinning, as rclpy's executors do
        if not self._free.acquire(timeout=timeout_sec):
            return
        try:
            handler, _entity, _node = self.wait_for_ready_callbacks(timeout_sec=timeout_sec)
        except (ShutdownException, ExternalShutdownException, TimeoutException,
                ConditionReachedException):
            self._free.release()
            return
        started = threading.Event()
        self._pool.submit(self._run, handler, started)
        started.wait()
        # The task marks itself executing as its first step: wait for that (microseconds),
        # or the next wait would find it pending and hand it out again.
        while not (handler.executing() or handler.done()):
            time.sleep(0)

    def _run(self, handler, started: threading.Event) -> None:
        started.set()
        try:
            handler()
            if handler.exception() is not None:
                self._error = handler.exception()
                self.wake()
        finally:
            self._free.release()

    def shutdown(self, timeout_sec: Optional[float] = None) -> bool:
        done = super().shutdown(timeout_sec)
        self._pool.shutdown(wait=True)
        return done
