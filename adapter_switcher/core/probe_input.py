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
The smallest input the base model accepts, remembered per model, for the probe forward.

The probe forward is on the critical path of every synchronous activation, so it should cost
as little as possible while still exercising every adapted layer. One row (and, for token ids,
one token) goes through every LoRA matrix in full: a NaN anywhere in A or B, or an overflow
of the adapted path, still shows in the output. The candidate inputs are, in order: the probe
inputs the user gave, shrunk; the inputs of the last step, shrunk; an input read off the model
itself (a transformers model's ``dummy_inputs``, or the first Linear or Embedding layer). Each
candidate is tried once on the base model alone; the first that runs is remembered. Where
none can be formed the error says what to give.
"""

from typing import Any, Callable, Iterator, Optional, Tuple

import torch
from torch import nn

ProbeInputs = Tuple[tuple, dict]
PLAIN = (type(None), bool, int, float, str)
NO_PROBE_INPUT = ('cannot form a probe input for this model: pass probe_inputs=(args, kwargs) '
                  'to AdapterEngine, run one step() first, or give the adapter a manifest probe')


def shrink(inputs: ProbeInputs) -> Optional[ProbeInputs]:
    """
    Return ``inputs`` cut to one row, and integer (token) tensors also to one position.

    None if they hold anything but tensors and plain values: a probe must never run on a
    caller's stateful object (a KV cache would be advanced by it).
    """
    args, kwargs = inputs
    values = list(args) + list(kwargs.values())
    if not all(isinstance(v, (torch.Tensor,) + PLAIN) for v in values):
        return None
    small_kwargs = {k: _shrink_tensor(v) for k, v in kwargs.items()}
    return tuple(_shrink_tensor(a) for a in args), small_kwargs


def _shrink_tensor(value: Any) -> Any:
    if not isinstance(value, torch.Tensor) or value.dim() == 0:
        return value
    value = value[:1]
    if value.dim() >= 2 and not value.is_floating_point() and not value.is_complex():
        value = value[:, :1]
    return value.clone()


def from_model(model: nn.Module) -> Optional[ProbeInputs]:
    """Return a one-row input read off the model's own description, or None."""
    dummy = getattr(model, 'dummy_inputs', None)
    if isinstance(dummy, dict) and dummy:
        return shrink(((), dict(dummy)))
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            return (torch.zeros(1, 1, dtype=torch.long),), {}
        if isinstance(module, nn.Linear):
            weight = module.weight
            return (torch.randn(1, module.in_features, generator=generator)
                    .to(weight.dtype if weight.is_floating_point() else torch.float32),), {}
    return None


class ProbeInputSource:
    """
    Finds and remembers the minimal probe input of one model.

    ``run_base(args, kwargs)`` runs the base model alone (no adapter selected); a candidate is
    accepted when it runs there without raising.
    """

    def __init__(self, model: nn.Module, given: Optional[ProbeInputs],
                 run_base: Callable[[tuple, dict], Any]):
        self._model = model
        self._given = given
        self._run_base = run_base
        self._last: Optional[ProbeInputs] = None
        self._remembered: Optional[ProbeInputs] = None

    def observe(self, inputs: ProbeInputs) -> None:
        """Keep the inputs of the latest step as a source (cheap: a reference)."""
        self._last = inputs

    def get(self) -> ProbeInputs:
        """Return the remembered minimal input, finding it on first use; raise TypeError."""
        if self._remembered is None:
            self._remembered = self._find()
        return self._remembered

    def _find(self) -> ProbeInputs:
        for candidate in self._candidates():
            if candidate is self._given:
                return candidate
            try:
                self._run_base(*candidate)
            except Exception:  # noqa: B902 - any failure means this candidate does not fit
                continue
            return candidate
        raise TypeError(NO_PROBE_INPUT)

    def _candidates(self) -> Iterator[ProbeInputs]:
        if self._given is not None:
            small = shrink(self._given)
            if small is not None:
                yield small
            yield self._given
        if self._last is not None:
            small = shrink(self._last)
            if small is not None:
                yield small
        derived = from_model(self._model)
        if derived is not None:
            yield derived
