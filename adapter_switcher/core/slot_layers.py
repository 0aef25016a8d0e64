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

Like vLLM's and S-LoRA's LoRA layers, each wrapped layer keeps its adapters' weights in
fixed-size per-slot buffers, zero-padded to ``max_rank`` as PEFT's
``prepare_model_for_compiled_hotswap`` does, so loading an adapter of any rank never changes a
tensor shape. All layers read the active slot from one shared :class:`SlotSelector`, so a
switch writes a single integer no matter how many layers the model has, where PEFT's
``set_adapter`` walks every module.

Each layer type computes PEFT's own unmerged LoRA forward, ``base(x) + B(A(x)) * scaling``, in
the same order, so outputs match ``PeftModel`` (test_core_peft_equality.py):

- Linear and GPT-2's Conv1D: A ``[max_rank, in]``, B ``[out, max_rank]``, two linear maps;
- ``nn.Conv1d/2d/3d``: A is a conv with the layer's kernel, stride and padding (and, as in
  PEFT, no dilation and one group), B a 1x1 conv with the layer's groups;
- ``nn.Embedding``: PEFT's lookup of the input ids in ``lora_embedding_A`` (stored transposed,
  ``[num, max_rank]``, so the lookup reads contiguous rows) times ``lora_embedding_B``.
"""

import math
from typing import List, Optional, Tuple

from adapter_switcher.core.lora_plan import is_int8_dynamic
from adapter_switcher.core.lora_plan import layer_features
from adapter_switcher.core.lora_plan import slot_options
from adapter_switcher.core.packed_matmul import onednn_available
from adapter_switcher.core.packed_matmul import PackedMatmul

import torch
from torch import nn
from torch.nn import functional

EMPTY = -1
ROWS = -2
MIX = -3
Copies = Tuple[List[torch.Tensor], List[torch.Tensor], List[torch.Tensor]]


class BatchLayoutError(RuntimeError):
    """A layer saw a batch dimension other than the per-row adapters' (rows must stay dim 0)."""


class SlotSelector:
    """
    What every wrapped layer runs: one slot, the base alone (``EMPTY``) or one slot per row.

    In ``ROWS`` mode (a mixed-adapter batch) ``rows`` holds each row's slot and ``row_mask``
    is True for adapter rows and False for base rows, like the index tensors of Punica's and
    S-LoRA's gathered LoRA kernels (a bool mask keeps every layer in its own dtype). In ``MIX``
    mode every row gets the weighted sum of several slots' LoRA outputs, ``mix`` listing
    ``(slot, weight)`` with 0-d float32 weights (which never change a layer's dtype).
    """

    __slots__ = ('active', 'rows', 'row_mask', 'mix')

    def __init__(self):
        self.active = EMPTY
        self.rows: Optional[torch.Tensor] = None
        self.row_mask: Optional[torch.Tensor] = None
        self.mix: List[Tuple[int, torch.Tensor]] = []


class SlotLoraLayer(nn.Module):
    """
    A base layer plus K LoRA slots, of which the shared selector picks one.

    Subclasses give the per-slot shapes of A and B, the LoRA forward ``_delta`` and how an
    adapter's A and B land in the padded slot (``slot_copies``).
    """

    def __init__(self, base_layer: nn.Module, selector: SlotSelector, num_slots: int,
                 a_shape: Tuple[int, ...], b_shape: Tuple[int, ...]):
        super().__init__()
        self.base_layer = base_layer
        self.selector = selector
        self.in_features, self.out_features = layer_features(base_layer)
        options = slot_options(base_layer)
        self.register_buffer('lora_A', torch.zeros(num_slots, *a_shape, **options),
                             persistent=False)
        self.register_buffer('lora_B', torch.zeros(num_slots, *b_shape, **options),
                             persistent=False)
        self.register_buffer('scaling', torch.zeros(num_slots, **options), persistent=False)
        # Python-side per-slot views: indexing a list costs nanoseconds, where indexing the
        # buffers would dispatch a tensor op per layer per forward. Scalings stay tensors, so a
        # compiled model sees new values after a load instead of recompiling for them.
        self._a: List[torch.Tensor] = list(self.lora_A.unbind(0))
        self._b: List[torch.Tensor] = list(self.lora_B.unbind(0))
        self._scaling: List[torch.Tensor] = list(self.scaling.unbind(0))
        self._targeted: List[bool] = [False] * num_slots
        self._packed: Optional[PackedMatmul] = None     # LinearSlots with packed_base

    @property
    def weight(self) -> torch.Tensor:
        """Return the base layer weight, for models that read it (PEFT LoRA layers expose it)."""
        return self.base_layer.weight

    @property
    def bias(self):
        """Return the base layer bias, as PEFT LoRA layers expose it."""
        return self.base_layer.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        packed = self._packed
        result = (packed(x) if packed is not None and packed.usable(x)
                  else self.base_layer(x))
        slot = self.selector.active
        if slot < 0:
            if slot == EMPTY:
                return result
            if slot == MIX:
                return self._mixed(x, result)
            return self._per_row(x, result)
        if not self._targeted[slot]:
            return result
        return result + self._delta(x, self._a[slot], self._b[slot]) * self._scaling[slot]

    def _delta(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _mixed(self, x: torch.Tensor, result: torch.Tensor) -> torch.Tensor:
        """Add the weighted sum of the mixed slots' LoRA outputs (PEFT's 'cat' combination)."""
        for slot, weight in self.selector.mix:
            if self._targeted[slot]:
                delta = self._delta(x, self._a[slot], self._b[slot])
                result = result + delta * (self._scaling[slot] * weight)
        return result

    def _per_row(self, x: torch.Tensor, result: torch.Tensor) -> torch.Tensor:
        """Return ``result`` plus each row's LoRA output, with its own slot's A, B, scaling."""
        rows = self.selector.rows
        if x.shape[0] != rows.shape[0]:
            raise BatchLayoutError(
                f'a LoRA layer ({type(self.base_layer).__name__}) saw a batch of {x.shape[0]} '
                f'rows, not the {rows.shape[0]} rows that have adapters: per-row adapters need '
                'the batch in dimension 0 through the model')
        scale = self.scaling[rows] * self.selector.row_mask
        return self._add_gathered(x, result, rows, scale)

    def _add_gathered(self, x: torch.Tensor, result: torch.Tensor, rows: torch.Tensor,
                      scale: torch.Tensor) -> torch.Tensor:
        delta = self._gathered_delta(x, rows)
        return result + delta * scale.view((-1,) + (1,) * (delta.dim() - 1))

    def _gathered_delta(self, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def slot_copies(self, slot: int, rank: int, a: torch.Tensor, b: torch.Tensor) -> Copies:
        """
        Return ``(targets, sources, padding)`` that put an adapter's A and B into the slot.

        The caller copies the sources (A and B as saved) into the targets and zeroes the
        padding beyond ``rank``, so the padding adds exactly nothing; it does both for every
        layer in one batched call each, since a small adapter's load is mostly per-call cost.
        """
        a_slot, b_slot = self._a[slot], self._b[slot]
        return [a_slot[:rank], b_slot[:, :rank]], [a, b], [a_slot[rank:], b_slot[:, rank:]]

    def set_scaling(self, slot: int, scaling: float) -> None:
        """Enable the slot for this layer with its scaling (after its weights are copied)."""
        self._scaling[slot].fill_(scaling)
        self._targeted[slot] = True

    def clear_slot(self, slot: int) -> List[torch.Tensor]:
        """
        Make the slot a no-op for this layer (the adapter in it does not target it).

        Its scaling is zeroed here; the caller zeroes the returned weights too (with the
        padding of the other layers, in slices between ticks for a background load), so
        gathered per-row forwards, which do not branch per slot, add exactly zero for it.
        """
        self._targeted[slot] = False
        self._scaling[slot].zero_()
        return [self._a[slot], self._b[slot]]

    def slot_bytes(self) -> int:
        """Return the bytes one slot of this layer occupies."""
        return self._a[0].nbytes + self._b[0].nbytes

    def extra_repr(self) -> str:
        slots = self.lora_A.shape[0]
        return (f'in={self.in_features}, out={self.out_features}, slots={slots}, '
                f'a={list(self.lora_A.shape[1:])}, b={list(self.lora_B.shape[1:])}')


class LinearSlots(SlotLoraLayer):
    """
    LoRA on ``nn.Linear`` and GPT-2's Conv1D: ``B(A(x))`` as two linear maps.

    With ``packed_base`` the base matmul runs on oneDNN from a packed weight
    (:mod:`packed_matmul`) where this PyTorch has it and the layer is a float one.
    """

    def __init__(self, base_layer: nn.Module, selector: SlotSelector, num_slots: int,
                 max_rank: int, packed_base: bool = False):
        in_features, out_features = layer_features(base_layer)
        super().__init__(base_layer, selector, num_slots, (max_rank, in_features),
                         (out_features, max_rank))
        if packed_base and not is_int8_dynamic(base_layer) and onednn_available():
            self._packed = PackedMatmul(base_layer)

    def _delta(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return functional.linear(functional.linear(x, a), b)

    def _add_gathered(self, x: torch.Tensor, result: torch.Tensor, rows: torch.Tensor,
                      scale: torch.Tensor) -> torch.Tensor:
        """
        Add every row's LoRA output into ``result`` with two batched matmuls and no other pass.

        Each row's scaling goes into its gathered B (``[rows, out, rank]``: a few KB) instead
        of into the ``[rows, tokens, out]`` output, and the second matmul accumulates into the
        base output in place (``baddbmm_``): no delta tensor, no extra pass over the
        activations. ``result`` is the base layer's fresh output, computed in this forward (a
        base output of another dtype, or not contiguous, gets the sum out of place).
        """
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        hidden = torch.bmm(flat, self.lora_A[rows].transpose(1, 2))
        b = self.lora_B[rows] * scale.view(-1, 1, 1)
        if result.dtype != hidden.dtype or not result.is_contiguous():
            out = torch.bmm(hidden, b.transpose(1, 2))
            return result + out.view(x.shape[:-1] + out.shape[-1:])
        result.view(hidden.shape[:2] + result.shape[-1:]).baddbmm_(hidden, b.transpose(1, 2))
        return result


class ConvSlots(SlotLoraLayer):
    """
    LoRA on ``nn.Conv1d/2d/3d`` as PEFT's ``_ConvNd`` computes it.

    With ``groups > 1`` the B conv is grouped, so each group reads its own block of the rank
    channels: the padded rank is split into equal blocks (``groups`` times
    ``ceil(max_rank / groups)``) and an adapter's rank ``r`` fills the first ``r / groups``
    channels of each block, which keeps every group wired as in PEFT.
    """

    _CONV = {1: functional.conv1d, 2: functional.conv2d, 3: functional.conv3d}

    def __init__(self, base_layer: nn.Module, selector: SlotSelector, num_slots: int,
                 max_rank: int):
        in_channels, out_channels = layer_features(base_layer)
        self.groups = base_layer.groups
        self.block = math.ceil(max_rank / self.groups)
        kernel = tuple(base_layer.kernel_size)
        super().__init__(base_layer, selector, num_slots,
                         (self.block * self.groups, in_channels) + kernel,
                         (out_channels, self.block) + (1,) * len(kernel))
        self.conv = self._CONV[len(kernel)]
        self.stride = base_layer.stride
        self.padding = base_layer.padding

    def _delta(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        hidden = self.conv(x, a, None, self.stride, self.padding)
        return self.conv(hidden, b, None, 1, 0, 1, self.groups)

    def _gathered_delta(self, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        # Rows become conv groups: one grouped conv runs every row with its own A (and B).
        n = x.shape[0]
        a = self.lora_A[rows].flatten(0, 1)
        b = self.lora_B[rows].flatten(0, 1)
        hidden = self.conv(x.reshape((1, -1) + x.shape[2:]), a, None, self.stride,
                           self.padding, 1, n)
        out = self.conv(hidden, b, None, 1, 0, 1, n * self.groups)
        return out.view((n, -1) + out.shape[2:])

    def slot_copies(self, slot: int, rank: int, a: torch.Tensor, b: torch.Tensor) -> Copies:
        per_group = rank // self.groups
        a_blocks = self._a[slot].view(self.groups, self.block, *self._a[slot].shape[1:])
        b_slot = self._b[slot]
        return ([a_blocks[:, :per_group], b_slot[:, :per_group]],
                [a.view(self.groups, per_group, *a.shape[1:]), b],
                [a_blocks[:, per_group:], b_slot[:, per_group:]])


class EmbeddingSlots(SlotLoraLayer):
    """
    LoRA on ``nn.Embedding``: PEFT's lookup ``embedding(x, A.T) @ B.T * scaling``.

    A is kept transposed, ``[num_embeddings, max_rank]``; a base layer that scales its output
    (``embed_scale``, as Gemma's embeddings do) scales the LoRA output too, as in PEFT.
    """

    def __init__(self, base_layer: nn.Embedding, selector: SlotSelector, num_slots: int,
                 max_rank: int):
        super().__init__(base_layer, selector, num_slots,
                         (base_layer.num_embeddings, max_rank),
                         (base_layer.embedding_dim, max_rank))
        self.embed_scale = getattr(base_layer, 'embed_scale', None)

    def _delta(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out = functional.embedding(x, a, padding_idx=self.base_layer.padding_idx) @ b.T
        return out if self.embed_scale is None else out * self.embed_scale

    def _gathered_delta(self, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        # One lookup in all slots' A tables at once: row n reads slot rows[n]'s table.
        num, rank = self.lora_A.shape[1:]
        offsets = (rows * num).view((-1,) + (1,) * (x.dim() - 1))
        hidden = functional.embedding(x + offsets, self.lora_A.view(-1, rank))
        flat = hidden.reshape(x.shape[0], -1, rank)
        out = torch.bmm(flat, self.lora_B[rows].transpose(1, 2)).view(x.shape + (-1,))
        return out if self.embed_scale is None else out * self.embed_scale

    def slot_copies(self, slot: int, rank: int, a: torch.Tensor, b: torch.Tensor) -> Copies:
        a_slot, b_slot = self._a[slot], self._b[slot]
        return ([a_slot[:, :rank], b_slot[:, :rank]], [a.T, b],
                [a_slot[:, rank:], b_slot[:, rank:]])


def slot_layer_type(base_layer: nn.Module) -> type:
    """Return the slot layer class for a base layer lora_plan accepted."""
    if isinstance(base_layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return ConvSlots
    if isinstance(base_layer, nn.Embedding):
        return EmbeddingSlots
    return LinearSlots


def slot_layer_for(model: nn.Module, name: str, selector: SlotSelector, num_slots: int,
                   max_rank: int, packed_base: bool = False) -> SlotLoraLayer:
    """
    Return the slot layer for ``model.<name>`` without installing it (see :func:`wrap_module`).

    Building allocates the slots, which takes milliseconds for a large layer; the model is
    untouched, so this may run while forwards run, and only the install needs the model alone.
    ``packed_base`` runs a Linear or Conv1D base matmul on oneDNN (:class:`LinearSlots`).
    """
    base_layer = model.get_submodule(name)
    layer_type = slot_layer_type(base_layer)
    if layer_type is LinearSlots:
        return LinearSlots(base_layer, selector, num_slots, max_rank, packed_base)
    return layer_type(base_layer, selector, num_slots, max_rank)


def wrap_module(model: nn.Module, name: str, layer: SlotLoraLayer) -> SlotLoraLayer:
    """Replace ``model.<name>`` by ``layer`` (built by :func:`slot_layer_for`); return it."""
    parent_name, _, child = name.rpartition('.')
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, layer)
    return layer
