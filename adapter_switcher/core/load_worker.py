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
The one background thread that moves adapters between tiers.

Three kinds of work reach it: the engine's pending request (at most one; a newer request
replaces it), the prefetcher's targets (a list that every retarget replaces, so stale predictions
are dropped before they cost anything) and, last, probes ahead of newly registered adapters (a
queue). The request always goes first. One thread for both keeps
slot reservations race-free and bounds the background CPU load to one core.
"""

from dataclasses import dataclass
import logging
import threading
from typing import Callable, List, Optional

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadJob:
    """Bring ``name`` into a slot (``to_slot``) or only into host RAM, or probe it (``vet``)."""

    name: str
    to_slot: bool
    evict: bool
    prefetch: bool
    vet: bool = False


class LoadWorker:
    """Runs LoadJobs on a daemon thread: request first, prefetch targets, then vetting."""

    def __init__(self, run_job: Callable[[LoadJob], None]):
        self._run_job = run_job
        self._cond = threading.Condition()
        self._request: Optional[LoadJob] = None
        self._targets: List[LoadJob] = []
        self._vetting: List[LoadJob] = []
        self._running: Optional[LoadJob] = None
        self._stopped = False
        self._thread: Optional[threading.Thread] = None

    def submit_request(self, job: LoadJob) -> None:
        """Queue the job for a pending request, replacing an older one."""
        with self._cond:
            self._request = job
            self._start_locked()

    def retarget(self, jobs: List[LoadJob]) -> None:
        """
        Replace the prefetch targets; jobs no longer wanted are dropped unstarted.

        The same targets again (a follower retargets every tick) wake nobody: a woken loader
        would take the GIL from the tick that is running.
        """
        with self._cond:
            if list(jobs) == self._targets:
                return
            self._targets = list(jobs)
            self._start_locked()

    def submit_vetting(self, jobs: List[LoadJob]) -> None:
        """Queue probes ahead (after everything else); a name already queued is not added."""
        with self._cond:
            queued = {job.name for job in self._vetting}
            self._vetting.extend(job for job in jobs if job.name not in queued)
            self._start_locked()

    def busy(self) -> bool:
        """Return whether a job is queued or running."""
        with self._cond:
            return bool(self._request or self._targets or self._vetting or self._running)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or running; return False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not (self._request or self._targets or self._vetting or self._running),
                timeout)

    def stop(self) -> None:
        """Stop after the running job; queued jobs are dropped."""
        with self._cond:
            self._stopped = True
            self._request, self._targets, self._vetting = None, [], []
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=30.0)

    def _start_locked(self) -> None:
        if self._stopped:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name='adapter-loader',
                                            daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._running = None
                self._cond.notify_all()
                self._cond.wait_for(
                    lambda: self._stopped or self._request or self._targets or self._vetting)
                if self._stopped:
                    return
                if self._request is not None:
                    job, self._request = self._request, None
                else:
                    job = (self._targets or self._vetting).pop(0)
                self._running = job
            try:
                self._run_job(job)
            except Exception:  # noqa: B902 - the loader thread must survive any job failure
                _LOG.exception('background load of adapter %r failed', job.name)
