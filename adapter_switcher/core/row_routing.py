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
Routing a mixed-adapter batch: which slot each row reads, set on the shared selector.

One forward serves rows of many adapters (and base-only rows), as Punica and S-LoRA do: each
LoRA layer gathers every row's A and B from the slot tensors by a row index. A batch that is
all one adapter, or all base, takes the ordinary single-slot path instead, so it computes
exactly what :meth:`AdapterEngine.step` computes.
"""

from contextlib import contextmanager
from typing import Iterator, List, Optional

from adapter_switcher.core.errors import MixedBatchError
from adapter_switcher.core.slot_layers import EMPTY
from adapter_switcher.core.slot_layers import ROWS
from adapter_switcher.core.slot_layers import SlotSelector

import torch


def batch_size(args: tuple, kwargs: dict) -> int:
    """Return dimension 0 of the first tensor input; raise MixedBatchError if there is none."""
    for value in list(args) + list(kwargs.values()):
        if isinstance(value, torch.Tensor) and value.dim() >= 1:
            return value.shape[0]
    raise MixedBatchError('step_batch needs a tensor input with the batch in dimension 0')


@contextmanager
def routed(selector: SlotSelector, row_slots: List[Optional[int]],
           device: torch.device) -> Iterator[None]:
    """
    Select ``row_slots`` (a slot per row, None for base rows) for the duration of the block.

    Call with the forward lock held; the selector's previous state is restored on exit.
    """
    saved = selector.active
    distinct = set(row_slots)
    if distinct == {None}:
        selector.active = EMPTY
    elif len(distinct) == 1:
        selector.active = row_slots[0]
    else:
        selector.active = ROWS
        selector.rows = torch.tensor([s or 0 for s in row_slots], dtype=torch.long,
                                     device=device)
        selector.row_mask = torch.tensor([s is not None for s in row_slots], device=device)
    try:
        yield
    finally:
        selector.active = saved
        selector.rows = selector.row_mask = None
