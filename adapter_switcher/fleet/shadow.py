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
Shadow evaluation: a candidate version runs on the active version's inputs, off the tick.

The control loop only hands over its latest (inputs, output) pair, which costs a reference
copy; a worker thread runs the candidate on those inputs through
:meth:`AdapterEngine.side_forward`, which waits for an idle gap between ticks, and compares.
The candidate's output is never returned to anyone. Per compared tick the divergence is the
largest absolute difference between the two outputs; reported are its mean, its 99th
percentile, and the share of ticks above the policy's threshold. A tick arriving while the
previous one is still being compared replaces it, and a tick is not compared when the loop
leaves no gap as long as a forward (both counted as skipped).
"""

from collections import deque
import logging
import threading
from typing import Any, Callable, Deque, Dict, Optional, Tuple

from adapter_switcher.core import AdapterEngine
from adapter_switcher.core import AdapterError
from adapter_switcher.core.probe import output_tensors

import numpy as np
import torch

HISTORY = 10000
_LOG = logging.getLogger(__name__)


def flat_output(output: Any) -> torch.Tensor:
    """Return every floating-point value of a model output (any structure) as one vector."""
    tensors = [t.detach().reshape(-1).float() for t in output_tensors(output).values()
               if t.is_floating_point()]
    return torch.cat(tensors) if tensors else torch.zeros(0)


class ShadowEvaluator:
    """Compares one candidate with the active version on the same inputs; see module doc."""

    def __init__(self, engine: AdapterEngine, candidate: str, threshold: float,
                 on_nonfinite: Callable[[str], None] = lambda ref: None,
                 on_compared: Callable[[int], None] = lambda count: None):
        self.engine = engine
        self.candidate = candidate
        self.threshold = threshold
        self.on_nonfinite = on_nonfinite
        self.on_compared = on_compared
        self.skipped = 0
        self._compared = 0
        self._divergences: Deque[float] = deque(maxlen=HISTORY)
        self._cond = threading.Condition()
        self._sample: Optional[Tuple[tuple, dict, torch.Tensor]] = None
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name='shadow-' + candidate,
                                        daemon=True)
        self._thread.start()

    def offer(self, inputs: Tuple[tuple, dict], output: Any) -> None:
        """Hand over one tick (called by the control loop: never blocks on a forward)."""
        with self._cond:
            if self._sample is not None:
                self.skipped += 1
            self._sample = (inputs[0], inputs[1], flat_output(output))
            self._cond.notify_all()

    def wait_compared(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` ticks were compared; return False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._compared >= count, timeout)

    def divergences(self) -> list:
        with self._cond:
            return list(self._divergences)

    def summary(self) -> Dict[str, float]:
        """Return ticks compared, mean and p99 divergence, share above the threshold."""
        values = np.asarray(self.divergences(), dtype=np.float64)
        if not values.size:
            return {'ticks': 0, 'mean': 0.0, 'p99': 0.0, 'share_above': 0.0,
                    'skipped': self.skipped}
        return {'ticks': int(values.size), 'mean': float(values.mean()),
                'p99': float(np.percentile(values, 99)),
                'share_above': float((values > self.threshold).mean()),
                'skipped': self.skipped}

    @property
    def native_id(self) -> int:
        """Return the worker thread's OS id (to attribute its CPU time in benchmarks)."""
        return self._thread.native_id

    def stop(self) -> None:
        """Stop comparing (from any thread, the worker's own included)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10.0)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopped or self._sample is not None)
                if self._stopped:
                    return
                (args, kwargs, reference), self._sample = self._sample, None
            try:
                output = self.engine.side_forward(
                    self.candidate, lambda model: flat_output(model(*args, **kwargs)))
            except AdapterError as error:
                _LOG.warning('shadow %s: %s; loading it', self.candidate, error)
                self._reload()
                continue
            if output is None:      # no idle gap long enough: never delay a tick for this
                with self._cond:
                    self.skipped += 1
                continue
            if not bool(torch.isfinite(output).all()):
                self.on_nonfinite(self.candidate)
                continue
            difference = (output - reference).abs()
            divergence = float(difference.max()) if difference.numel() else 0.0
            with self._cond:
                self._divergences.append(divergence)
                self._compared += 1
                count = self._compared
                self._cond.notify_all()
            self.on_compared(count)

    def _reload(self) -> None:
        try:
            index = self.engine.load_to_slot(self.candidate, background=True)
            self.engine.probe_when_idle(index, self.candidate)
        except AdapterError as error:
            _LOG.warning('shadow %s cannot be loaded: %s', self.candidate, error)
            with self._cond:
                self._cond.wait_for(lambda: self._stopped, timeout=1.0)
