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
The two demo policy networks, each with what training and driving need to know about it.

A :class:`PolicyKind` names the base-model factory (as ``BaseModelSpec.factory`` takes it), the
observation encoder the closed loop feeds it, and the layers its LoRA adapters target, so the
training, the closed loop and the benchmark handle either network the same way.
"""

from dataclasses import dataclass
import importlib
from typing import Tuple

from adapter_switcher.demo import policy_model
from adapter_switcher.demo import visuomotor
from adapter_switcher.demo.observations import Encoder
from adapter_switcher.demo.observations import feature_observation
from adapter_switcher.demo.observations import visuomotor_observation

from torch import nn


@dataclass(frozen=True)
class PolicyKind:
    """
    A policy network: its factory ('module:function'), encoder and LoRA target layers.

    ``batch`` is the training minibatch: smaller for the CNN, whose steps cost more.
    """

    factory: str
    encoder: Encoder
    target_modules: Tuple[str, ...]
    obs_dim: int
    batch: int

    def build(self) -> nn.Module:
        """Return a freshly initialised network (the factory's fixed seed)."""
        module, function = self.factory.split(':')
        return getattr(importlib.import_module(module), function)()


FEATURE_MLP = PolicyKind('adapter_switcher.demo.policy_model:build_policy', feature_observation,
                         policy_model.TARGET_MODULES, policy_model.OBS_DIM, 256)
VISUOMOTOR = PolicyKind('adapter_switcher.demo.visuomotor:build_visuomotor',
                        visuomotor_observation, visuomotor.TARGET_MODULES, visuomotor.OBS_DIM,
                        64)
