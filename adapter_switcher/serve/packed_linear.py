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
Linear layers run through oneDNN with their weights packed once: what makes CPU batches pay.

On CPU, ``torch.nn.functional.linear`` in float32 calls MKL's sgemm, which for a batch of more
than one row repacks the whole weight into its blocked layout on every call: a 4096 x 4096
layer costs about twice as much for 2 rows as for 1 (measured on this machine's AMD EPYC), so
a server's batch buys little. oneDNN's matmul reads a weight packed once, ahead of time, in
its blocked layout; then 16 rows cost about 1.7 times one row, and one row costs no more than
sgemm's one row. This is what ``torch.compile``'s weight freezing and Intel's extension do
for CPU inference; the replica does it directly, with the same two ATen ops Inductor emits
(``mkldnn::_reorder_linear_weight`` and ``mkldnn::_linear_pointwise``), so it works for any
model without compiling it.

:func:`pack_linear_layers` swaps every ``nn.Linear`` of a model for a :class:`PackedLinear`
that shares its parameters: names, ``weight`` and ``bias``, the modules' types as PEFT and the
engine see them, and the outputs (to float rounding, about 1e-6) stay as they were. A weight
changed in place is packed again before its next forward; training (autograd on), other
dtypes and other devices take ``nn.Linear``'s own forward.
"""

from adapter_switcher.core.packed_matmul import onednn_available
from adapter_switcher.core.packed_matmul import PackedMatmul

import torch
from torch import nn
from torch.nn import functional


class PackedLinear(nn.Linear):
    """An ``nn.Linear`` (sharing the original's parameters) whose inference runs on oneDNN."""

    def __init__(self, linear: nn.Linear):
        nn.Module.__init__(self)
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.weight = linear.weight
        self.bias = linear.bias
        self._matmul = PackedMatmul(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._matmul.usable(x):
            return self._matmul(x)
        return functional.linear(x, self.weight, self.bias)


def pack_linear_layers(model: nn.Module) -> int:
    """
    Swap every plain ``nn.Linear`` in ``model`` for a :class:`PackedLinear`; return how many.

    Subclasses of ``nn.Linear`` are left alone (their forward may differ); nothing is swapped
    where the oneDNN ops are missing. Weights are packed now, not on the first request.
    """
    if not onednn_available():
        return 0
    swaps = [(parent, name, child) for parent in model.modules()
             for name, child in parent.named_children() if type(child) is nn.Linear]
    for parent, name, child in swaps:
        packed = PackedLinear(child)
        setattr(parent, name, packed)
        if child.weight.device.type == 'cpu' and child.weight.dtype == torch.float32:
            with torch.no_grad():
                packed(torch.zeros(1, child.in_features))
    return len(swaps)
