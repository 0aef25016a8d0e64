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
LoRA layers with K resident slots and one shared selector: the O(1) switch.

Like vLLM's and S-LoRA's LoRA layers, each wrapped Linear/Conv1D keeps its adapters' weights in
fixed-size per-slot buffers (A: ``[K, max_rank, in]``, B: ``[K, out, max_rank]``), zero-padded to
``max_rank`` as PEFT's ``prepare_model_for_compiled_hotswap`` does, so loading an adapter of any
rank never changes a tensor shape. All layers read the active slot from one shared
:class:`SlotSelector`, so a switch writes a single integer no matter how many layers the model
has, where PEFT's ``set_adapter`` walks every module.

The forward is PEFT's unmerged LoRA forward, ``base(x) + B(A(x)) * scaling``, computed in the
same order so outputs match ``PeftModel`` (test_core_peft_equality.py).
"""

from typing import List, Tuple

from adapter_switcher.core.lora_plan import layer_features

import torch
from torch import nn
from torch.nn import functional

EMPTY = -1


class SlotSelector:
    """The slot every wrapped layer reads; ``EMPTY`` runs the base model alone."""

    __slots__ = ('active',)

    def __init__(self):
        self.active = EMPTY


class SlotLoraLayer(nn.Module):
    """A base Linear/Conv1D plus K LoRA slots, of which the shared selector picks one."""

    def __init__(self, base_layer: nn.Module, selector: SlotSelector, num_slots: int,
                 max_rank: int):
        super().__init__()
        self.base_layer = base_layer
        self.selector = selector
        self.in_features, self.out_features = layer_features(base_layer)
        weight = base_layer.weight
        self.register_buffer('lora_A', torch.zeros(
            num_slots, max_rank, self.in_features, dtype=weight.dtype, device=weight.device),
            persistent=False)
        self.register_buffer('lora_B', torch.zeros(
            num_slots, self.out_features, max_rank, dtype=weight.dtype, device=weight.device),
            persistent=False)
        self.register_buffer('scaling', torch.zeros(num_slots, dtype=weight.dtype,
                                                    device=weight.device), persistent=False)
        # Python-side per-slot views: indexing a list costs nanoseconds, where indexing the
        # buffers would dispatch a tensor op per layer per forward. Scalings stay tensors, so a
        # compiled model sees new values after a load instead of recompiling for them.
        self._a: List[torch.Tensor] = list(self.lora_A.unbind(0))
        self._b: List[torch.Tensor] = list(self.lora_B.unbind(0))
        self._scaling: List[torch.Tensor] = list(self.scaling.unbind(0))
        self._targeted: List[bool] = [False] * num_slots

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base_layer(x)
        slot = self.selector.active
        if slot < 0 or not self._targeted[slot]:
            return result
        return result + functional.linear(functional.linear(x, self._a[slot]),
                                          self._b[slot]) * self._scaling[slot]

    def slot_views(self, slot: int, rank: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        Return the slot's A ``[rank, in]`` and B ``[out, rank]`` regions, ready for a copy.

        Rows and columns beyond ``rank`` are zeroed here, so the caller copies an adapter of
        rank ``rank`` into the returned views and the padding adds exactly nothing.
        """
        a, b = self._a[slot], self._b[slot]
        if rank == a.shape[0]:
            return a, b
        a[rank:].zero_()
        b[:, rank:].zero_()
        return a[:rank], b[:, :rank]

    def set_scaling(self, slot: int, scaling: float) -> None:
        """Enable the slot for this layer with its scaling (after its weights are copied)."""
        self._scaling[slot].fill_(scaling)
        self._targeted[slot] = True

    def clear_slot(self, slot: int) -> None:
        """Make the slot a no-op for this layer (the adapter in it does not target it)."""
        self._targeted[slot] = False

    def slot_bytes(self) -> int:
        """Return the bytes one slot of this layer occupies."""
        return self._a[0].nbytes + self._b[0].nbytes

    def extra_repr(self) -> str:
        slots, rank = self.lora_A.shape[:2]
        return f'in={self.in_features}, out={self.out_features}, slots={slots}, max_rank={rank}'


def wrap_module(model: nn.Module, name: str, selector: SlotSelector, num_slots: int,
                max_rank: int) -> SlotLoraLayer:
    """Replace ``model.<name>`` by a SlotLoraLayer around it and return the new layer."""
    parent_name, _, child = name.rpartition('.')
    parent = model.get_submodule(parent_name) if parent_name else model
    layer = SlotLoraLayer(getattr(parent, child), selector, num_slots, max_rank)
    setattr(parent, child, layer)
    return layer
