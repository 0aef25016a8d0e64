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
Smooth hand-over: blend from what ran before to a newly requested adapter over N ticks.

Instead of jumping between two policies at a context change, the robot runs, for N ticks, the
weighted sum of the LoRA outputs of the old adapter(s) and the new one, the new one's weight
rising linearly, ``t = i / (N + 1)`` at the i-th tick, and then the new adapter alone. Nothing
is written into the slots: every tick only sets the shared selector's mix weights, so the
hand-over costs no copies and the weighted sum is the one :meth:`AdapterEngine.activate_mix`
computes (PEFT's ``add_weighted_adapter(..., combination_type='cat')``).
"""

from typing import List, Optional, Tuple

Weights = List[Tuple[int, float]]


class HandOver:
    """The per-tick weights of one hand-over from ``start`` (slot weights) to ``target``."""

    def __init__(self, start: Weights, target: int, ticks: int):
        if ticks < 1:
            raise ValueError(f'a hand-over needs at least 1 tick, got {ticks}')
        self.start = list(start)
        self.target = target
        self.ticks = ticks
        self._tick = 0

    def slots(self) -> List[int]:
        """Return every slot the hand-over reads (they must stay resident until it ends)."""
        return sorted({slot for slot, _ in self.start} | {self.target})

    def next_weights(self) -> Optional[Weights]:
        """Return the next tick's slot weights, or None once the target runs alone."""
        self._tick += 1
        if self._tick > self.ticks:
            return None
        t = self._tick / (self.ticks + 1)
        return [(slot, weight * (1.0 - t)) for slot, weight in self.start] + [(self.target, t)]
