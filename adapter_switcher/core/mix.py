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
Checking a weighted adapter mix before it runs: names, weights and the slots it needs.

A mix is the weighted sum of resident adapters' LoRA outputs, each adapter in its own slot,
so it can name at most as many adapters as there are slots. Weights are any finite numbers
(negative ones subtract an adapter, as in task arithmetic).
"""

import math
from numbers import Real
from typing import Dict, Mapping

from adapter_switcher.core.errors import AdapterError


class InvalidMix(AdapterError):
    """The mix is empty, has a weight that is not a finite number, or needs too many slots."""


def check_mix(weights: Mapping[str, float], num_slots: int) -> Dict[str, float]:
    """Return the mix as ``{name: float}``; raise InvalidMix saying what is wrong."""
    if not isinstance(weights, Mapping) or not weights:
        raise InvalidMix('a mix needs at least one adapter and its weight, e.g. '
                         "{'navigation': 0.7, 'hazard': 0.3}")
    mix = {}
    for name, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, Real) or not math.isfinite(weight):
            raise InvalidMix(f"mix weight of '{name}' must be a finite number, got {weight!r}")
        mix[name] = float(weight)
    if len(mix) > num_slots:
        raise InvalidMix(f'the mix names {len(mix)} adapters but the engine has {num_slots} '
                         'slots: each mixed adapter needs its own')
    return mix


def mix_label(mix: Mapping[str, float]) -> str:
    """Return how a running mix is reported as the active adapter."""
    return 'mix(' + ', '.join(f'{name}={weight:g}' for name, weight in mix.items()) + ')'
