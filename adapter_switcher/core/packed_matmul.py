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
A wrapped layer's base matmul on oneDNN with its weight packed once (``packed_base``).

On CPU a float32 Linear (or GPT-2's Conv1D, ``addmm``) calls MKL's sgemm, which for more than
one row repacks the whole weight into its blocked layout on every call; oneDNN's matmul reads a
weight packed ahead of time. Measured on the GPT-2 reference workload (4 rows of 64 tokens):
the wrapped layers' base matmuls cost about half. This is what ``torch.compile``'s weight
freezing emits on CPU (``mkldnn::_reorder_linear_weight``, ``mkldnn::_linear_pointwise``), and
what ``adapter_switcher.serve.packed_linear`` does for a replica's plain Linear layers; here
it runs inside the engine's slot layers, so it covers Conv1D too and leaves the model's modules
(names, parameters, types) as they are. The outputs differ from sgemm's by float rounding
(about 1e-6, tested against PEFT). The packed copy costs the layer's weight bytes once more;
a weight changed in place is packed again before its next forward; anything but float32
inference on CPU (autograd, other dtypes, int8, other devices) takes the layer's own forward.
"""

from typing import Optional

import torch
from torch import nn

# The batch size oneDNN picks the packed layout for (the serve replica measured 1 to 32 rows
# all fast with it).
BATCH_HINT = 16


def onednn_available() -> bool:
    """Return whether this PyTorch build has the oneDNN linear ops the packing uses."""
    return (torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, '_reorder_linear_weight')
            and hasattr(torch.ops.mkldnn, '_linear_pointwise'))


class PackedMatmul:
    """``layer(x)`` for a float32 Linear or Conv1D on CPU, from a weight packed for oneDNN."""

    def __init__(self, layer: nn.Module):
        self.layer = layer
        # Conv1D keeps its weight as (in, out) and computes x @ W; Linear keeps (out, in).
        self.transposed = not isinstance(layer, nn.Linear)
        self._packed: Optional[torch.Tensor] = None
        self._packed_from = None

    def usable(self, x: torch.Tensor) -> bool:
        """Return whether this input may take the packed path (else the layer's own forward)."""
        weight = self.layer.weight
        return (x.dtype == torch.float32 and weight.dtype == torch.float32
                and x.device.type == 'cpu' and weight.device.type == 'cpu'
                and not (torch.is_grad_enabled() and (weight.requires_grad or x.requires_grad)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.layer.weight
        # A weight made in inference mode has no version counter: only its replacement shows.
        source = (weight.data_ptr(), None if weight.is_inference() else weight._version)
        if source != self._packed_from:
            plain = weight.detach()
            plain = plain.t().contiguous() if self.transposed else plain
            self._packed = torch.ops.mkldnn._reorder_linear_weight(plain, BATCH_HINT)
            self._packed_from = source
        return torch.ops.mkldnn._linear_pointwise(x, self._packed, self.layer.bias, 'none', [],
                                                  '')
