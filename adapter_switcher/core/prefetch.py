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
Predictive prefetch: keep the adapter the context will ask for next resident before it does.

The context policy predicts the next adapter with a confidence; :meth:`Prefetcher.retarget`
turns each prediction into background work for the engine's load worker: a confident prediction
is loaded into a resident slot (evicting the least recently used idle one) and probed in the gap
after a tick, a weaker one is only staged in host RAM. Every retarget replaces the previous
targets, so work for predictions that changed is dropped before it starts. Disk reads happen on
the worker thread without the forward lock; only the probe takes it, between ticks.
"""

from typing import Iterable, List, Tuple

from adapter_switcher.core.engine import AdapterEngine
from adapter_switcher.core.load_worker import LoadJob


class Prefetcher:
    """Maps ``(adapter, confidence)`` predictions to background loads on an engine."""

    def __init__(self, engine: AdapterEngine, slot_confidence: float = 0.5,
                 host_confidence: float = 0.2, max_targets: int = 2):
        if not 0.0 <= host_confidence <= slot_confidence <= 1.0:
            raise ValueError('need 0 <= host_confidence <= slot_confidence <= 1, got '
                             f'{host_confidence} and {slot_confidence}')
        if max_targets < 1:
            raise ValueError(f'max_targets must be >= 1, got {max_targets}')
        self.engine = engine
        self.slot_confidence = slot_confidence
        self.host_confidence = host_confidence
        self.max_targets = max_targets

    def retarget(self, predictions: Iterable[Tuple[str, float]]) -> List[LoadJob]:
        """Replace the prefetch targets with these predictions; return the jobs queued."""
        jobs = []
        ranked = sorted(predictions, key=lambda p: p[1], reverse=True)[:self.max_targets]
        for name, confidence in ranked:
            if name == self.engine.active or not self.engine.known(name):
                continue
            if confidence >= self.slot_confidence:
                if not self.engine.is_ready(name):
                    jobs.append(LoadJob(name, to_slot=True, evict=True, prefetch=True))
            elif confidence >= self.host_confidence and not self.engine.in_host(name):
                jobs.append(LoadJob(name, to_slot=False, evict=False, prefetch=True))
        self.engine.worker.retarget(jobs)
        self.engine.metrics.count('predictions')
        return jobs

    def cancel(self) -> None:
        """Drop every queued prefetch (a running copy finishes)."""
        self.engine.worker.retarget([])
