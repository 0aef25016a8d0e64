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
Book-keeping for the K resident slots: which adapter each holds and which one may be evicted.

Loading happens outside the forward lock, so a slot goes EMPTY -> LOADING -> READY; only READY
slots can be activated, and a LOADING slot is never handed out twice. The victim for a new load
is a free slot, else the least recently used READY slot that is not active and not pinned
(pinned = in use by an activation or a probe right now). Not thread-safe by itself: the engine
calls it under its state lock.
"""

from dataclasses import dataclass
import enum
from typing import List, Optional

from adapter_switcher.core.errors import SlotsBusy


class SlotState(enum.Enum):
    EMPTY = 'empty'
    LOADING = 'loading'
    READY = 'ready'


@dataclass
class Slot:
    """One resident slot."""

    adapter: Optional[str] = None
    state: SlotState = SlotState.EMPTY
    probed: bool = False
    last_used: int = 0
    pins: int = 0
    prefetched: bool = False
    used: bool = False


@dataclass(frozen=True)
class Reservation:
    """A slot handed out for loading, and the adapter it held before (now evicted)."""

    index: int
    evicted: Optional[str]
    evicted_unused_prefetch: bool


class SlotTable:
    """The state of every slot, and the LRU choice of where the next adapter goes."""

    def __init__(self, num_slots: int):
        if num_slots < 1:
            raise ValueError(f'num_slots must be >= 1, got {num_slots}')
        self.slots: List[Slot] = [Slot() for _ in range(num_slots)]
        self._clock = 0

    def find(self, adapter: str) -> Optional[int]:
        """Return the slot holding (or loading) ``adapter``, or None."""
        for index, slot in enumerate(self.slots):
            if slot.adapter == adapter and slot.state is not SlotState.EMPTY:
                return index
        return None

    def ready(self, adapter: str) -> Optional[int]:
        """Return the slot where ``adapter`` is READY, or None."""
        index = self.find(adapter)
        if index is not None and self.slots[index].state is SlotState.READY:
            return index
        return None

    def touch(self, index: int) -> None:
        """Mark a slot most recently used."""
        self._clock += 1
        self.slots[index].last_used = self._clock

    def reserve(self, adapter: str, active: Optional[int], prefetch: bool = False,
                evict: bool = True, requested: Optional[int] = None) -> Reservation:
        """
        Hand out a slot for loading ``adapter``: a free one, else the LRU evictable one.

        ``evict=False`` only takes free slots (a low-confidence prefetch must not push out a
        resident adapter). Neither the ``active`` slot nor the ``requested`` one (the engine
        names it for a prefetch: it holds the adapter a request waits to switch to) is
        evicted: a prefetch that pushed out the requested adapter left the request waiting for
        a load nobody would make again. Raise SlotsBusy when no slot qualifies.
        """
        candidates = [i for i, s in enumerate(self.slots) if s.state is SlotState.EMPTY]
        if not candidates and evict:
            candidates = sorted(
                (i for i, s in enumerate(self.slots)
                 if s.state is SlotState.READY and i not in (active, requested)
                 and not s.pins),
                key=lambda i: self.slots[i].last_used)
        if not candidates:
            raise SlotsBusy(
                f"no slot free for adapter '{adapter}': all {len(self.slots)} slots are active, "
                'requested, loading or in use')
        index = candidates[0]
        old = self.slots[index]
        unused = old.state is SlotState.READY and old.prefetched and not old.used
        evicted = old.adapter if old.state is SlotState.READY else None
        self.slots[index] = Slot(adapter=adapter, state=SlotState.LOADING, prefetched=prefetch)
        self.touch(index)
        return Reservation(index, evicted, unused)

    def mark_ready(self, index: int) -> None:
        self.slots[index].state = SlotState.READY

    def release(self, index: int) -> None:
        """Empty a slot (its load or probe failed, or its files changed)."""
        self.slots[index] = Slot()

    def resident(self) -> List[str]:
        """Return the adapters in READY slots."""
        return [s.adapter for s in self.slots if s.state is SlotState.READY]
