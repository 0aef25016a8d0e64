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
A robot's forward offloaded to the policy server, with a bounded fall-back when it fails.

The on-board engine still decides which adapter runs (requests, overrides and rollbacks apply
between ticks exactly as on board); only the forward goes to the server, through
``engine.run``, with the adapter the engine has active. When the server does not answer within
the timeout or refuses, the tick either runs on the on-board model (``fallback_local``) or
raises :class:`ServeUnavailable`, which the node turns into zero velocity and an ERROR status,
as with a sensor timeout. After a failure the server is left alone for ``retry_s``, so a dead
server costs one timeout, not one per tick. Prefetch hints go to the server on a background
thread (latest wins), so a slow server never delays a tick.
"""

from dataclasses import dataclass
import threading
import time
from typing import Any, Callable, Optional

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import StepResult
from adapter_switcher.serve.client import PolicyClient
from adapter_switcher.serve.client import ServeError

import torch

SERVED = 'serve'
LOCAL = 'local'
STOPPED = 'stopped'
_COUNTERS = {SERVED: 'served', LOCAL: 'local', STOPPED: 'stopped'}


class ServeUnavailable(RuntimeError):
    """The server failed this tick and no on-board fallback is configured: stop the robot."""


@dataclass
class OffloadStatus:
    """What the offload did: ticks per source, the last error, and the replica serving."""

    source: str = SERVED
    served: int = 0
    local: int = 0
    stopped: int = 0
    warmed: int = 0
    last_error: str = ''
    replica: str = ''


class Offload:
    """Runs ticks on the server through the engine; see the module docstring."""

    def __init__(self, url: str, timeout_s: float, fallback_local: bool, retry_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.client = PolicyClient(url, timeout_s)
        self._hint_client = PolicyClient(url, max(timeout_s, 5.0))
        self.fallback_local = fallback_local
        self.retry_s = retry_s
        self._clock = clock
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self._status = OffloadStatus()
        self._hint: Optional[str] = None
        self._hint_ready = threading.Condition(self._lock)
        self._closed = False
        self._hinter = threading.Thread(target=self._send_hints, name='serve-hints', daemon=True)
        self._hinter.start()

    def step(self, engine: AdapterEngine, inputs: torch.Tensor) -> StepResult:
        """Run one tick: the engine's active adapter, forward on the server (or the fallback)."""
        result = engine.run(lambda model, adapter: self._forward(model, adapter, inputs),
                            inputs=((inputs,), {}))
        if result.output is None:
            raise ServeUnavailable(f'policy server failed and no on-board fallback: '
                                   f'{self.status().last_error}')
        return result

    def _forward(self, model: torch.nn.Module, adapter: Optional[str],
                 inputs: torch.Tensor) -> Any:
        if self._clock() >= self._retry_at:
            try:
                served = self.client.act(inputs, adapter)
            except ServeError as error:
                self._retry_at = self._clock() + self.retry_s
                self._record(error=str(error))
            else:
                self._record(SERVED, replica=served.replica)
                return served.output
        if self.fallback_local:
            self._record(LOCAL)
            return model(inputs)
        self._record(STOPPED)
        return None

    def _record(self, source: Optional[str] = None, error: str = '', replica: str = '') -> None:
        with self._lock:
            status = self._status
            if error:
                status.last_error = error
            if replica:
                status.replica = replica
            if source is not None:
                status.source = source
                counter = _COUNTERS[source]
                setattr(status, counter, getattr(status, counter) + 1)

    def status(self) -> OffloadStatus:
        """Return a copy of the counters and the current source."""
        with self._lock:
            return OffloadStatus(**vars(self._status))

    # --------------------------------------------------------------------------- prefetch
    def hint(self, adapter: str) -> None:
        """Warm ``adapter`` on the replica that will serve it (background; latest wins)."""
        with self._lock:
            self._hint = adapter
            self._hint_ready.notify()

    def _send_hints(self) -> None:
        while True:
            with self._lock:
                while self._hint is None and not self._closed:
                    self._hint_ready.wait()
                if self._closed:
                    return
                adapter, self._hint = self._hint, None
            try:
                self._hint_client.warm(adapter)
            except ServeError as error:
                self._record(error=f'warm {adapter}: {error}')
            else:
                with self._lock:
                    self._status.warmed += 1

    def close(self) -> None:
        """Stop the hint thread and close the connections."""
        with self._lock:
            self._closed = True
            self._hint_ready.notify()
        self._hinter.join(timeout=10.0)
        self.client.close()
        self._hint_client.close()
