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
The host-RAM tier: validated adapter weights kept in memory under a byte budget.

Filled by prefetch and preload, it turns a later slot load into a RAM copy. Least recently used
entries go first when the budget is exceeded; pinned entries (an adapter being copied into a
slot right now) are never evicted. An entry larger than the whole budget is not cached at all.
"""

from collections import OrderedDict
from dataclasses import dataclass
import threading
from typing import Dict, List, Optional, Tuple

import torch

ModuleWeights = Dict[str, Tuple[torch.Tensor, torch.Tensor]]


@dataclass
class HostEntry:
    """One adapter's weights by module name: ``{module: (A, B)}``, and their size."""

    weights: ModuleWeights
    nbytes: int
    pins: int = 0


class HostCache:
    """A thread-safe LRU of adapter weights with a byte budget and pinning."""

    def __init__(self, budget_bytes: int):
        if budget_bytes < 0:
            raise ValueError(f'host cache budget must be >= 0 bytes, got {budget_bytes}')
        self.budget_bytes = budget_bytes
        self._entries: 'OrderedDict[str, HostEntry]' = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __contains__(self, name: str) -> bool:
        with self._lock:
            return name in self._entries

    def put(self, name: str, weights: ModuleWeights) -> bool:
        """Cache weights, evicting unpinned LRU entries; return False if they cannot fit."""
        nbytes = sum(a.nbytes + b.nbytes for a, b in weights.values())
        with self._lock:
            old = self._entries.pop(name, None)
            pinned = sum(e.nbytes for e in self._entries.values() if e.pins)
            if nbytes + pinned > self.budget_bytes:
                if old is not None:
                    self._entries[name] = old
                return False
            while self._bytes_locked() + nbytes > self.budget_bytes:
                victim = next(k for k, e in self._entries.items() if not e.pins)
                del self._entries[victim]
                self.evictions += 1
            self._entries[name] = HostEntry(weights, nbytes, old.pins if old else 0)
            return True

    def pin(self, name: str) -> Optional[ModuleWeights]:
        """Return the weights, kept from eviction until unpinned; None if absent (a miss)."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                self.misses += 1
                return None
            self.hits += 1
            entry.pins += 1
            self._entries.move_to_end(name)
            return entry.weights

    def unpin(self, name: str) -> None:
        """Release one pin()."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None and entry.pins:
                entry.pins -= 1

    def discard(self, name: str) -> None:
        """Drop an entry whose files changed; a pinned entry stays until its copy finishes."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None and not entry.pins:
                del self._entries[name]

    def names(self) -> List[str]:
        """Return the cached names, least recently used first."""
        with self._lock:
            return list(self._entries)

    def nbytes(self) -> int:
        """Return the bytes held."""
        with self._lock:
            return self._bytes_locked()

    def _bytes_locked(self) -> int:
        return sum(e.nbytes for e in self._entries.values())
