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
from dataclasses import field
import importlib
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple

from adapter_switcher.demo import policy_model
from adapter_switcher.demo import visuomotor
from adapter_switcher.demo.adapters import Augment
from adapter_switcher.demo.adapters import Decode
from adapter_switcher.demo.observations import Encoder
from adapter_switcher.demo.observations import feature_observation
from adapter_switcher.demo.observations import visuomotor_observation

import torch
from torch import nn


@dataclass(frozen=True)
class PolicyKind:
    """
    A policy network: its factory ('module:function'), encoder and LoRA target layers.

    ``batch`` is the training minibatch: smaller for the CNN, whose steps cost more.
    ``augmentations`` are the training-time jitters its observations allow, by name
    (``train-demo --augment``; none for the feature MLP, whose inputs are computed features).
    What the network outputs: ``target(tick, adapter)`` is what a learner of that adapter
    imitates at a closed-loop tick, ``decode_batch`` maps raw outputs to it (to train), and
    ``command(tick, output)`` turns one output into the velocity the robot drives.
    ``anneal``: its fits decay the learning rate to 0 (cosine) instead of keeping it constant.
    """

    factory: str
    encoder: Encoder
    target_modules: Tuple[str, ...]
    obs_dim: int
    batch: int
    target: Callable[[Any, str], Tuple[float, float]]
    decode_batch: Decode
    command: Callable[[Any, torch.Tensor], Tuple[float, float]]
    augmentations: Mapping[str, Augment] = field(default_factory=dict)
    anneal: bool = False

    def augmentation(self, names: Sequence[str]) -> Optional[Augment]:
        """
        Return the jitter that applies the named augmentations (None for no names).

        They apply in the order of ``augmentations``, whatever the order of ``names``, so the
        same set gives the same fit. An unknown name raises ValueError naming the known ones.
        """
        unknown = [name for name in names if name not in self.augmentations]
        if unknown:
            known = ', '.join(self.augmentations) or 'none'
            raise ValueError(f'{self.factory} has no training augmentation {unknown[0]!r} '
                             f'(it has: {known})')
        chosen = [jitter for name, jitter in self.augmentations.items() if name in names]
        if not chosen:
            return None

        def augment(obs, generator):
            for jitter in chosen:
                obs = jitter(obs, generator)
            return obs
        return augment

    def build(self) -> nn.Module:
        """Return a freshly initialised network (the factory's fixed seed)."""
        module, function = self.factory.split(':')
        return getattr(importlib.import_module(module), function)()


def _velocity_target(tick, name: str) -> Tuple[float, float]:
    """Return the expert's velocity (the hazard expert's planned detour, ``Tick.target``)."""
    return tick.target(name)


def _velocity_command(tick, output: torch.Tensor) -> Tuple[float, float]:
    """Return the output as the velocity."""
    return policy_model.decode_action(output)


def _offset_target(tick, name: str) -> Tuple[float, float]:
    """Return the expert's speed and offset from the route (``Tick.offsets``)."""
    return tick.offsets[name]


def _offset_command(tick, output: torch.Tensor) -> Tuple[float, float]:
    """
    Return the velocity that tracks the output's speed and offset along the tick's route.

    The offset goes through the episode's detour memory first (``Tick.hold``), as the node's
    goes through its plan's (:class:`~adapter_switcher.nodes.route_plan.PlanFollower`).
    """
    speed, offset = visuomotor.decode_offset_action(output)
    return visuomotor.held_offset_command(tick.route, tick.pose, speed, offset, tick.hold)


FEATURE_MLP = PolicyKind('adapter_switcher.demo.policy_model:build_policy', feature_observation,
                         policy_model.TARGET_MODULES, policy_model.OBS_DIM, 256,
                         _velocity_target, policy_model.decode_batch, _velocity_command)
VISUOMOTOR = PolicyKind('adapter_switcher.demo.visuomotor:build_visuomotor',
                        visuomotor_observation, visuomotor.TARGET_MODULES, visuomotor.OBS_DIM,
                        64, _offset_target, visuomotor.decode_offset_batch, _offset_command,
                        visuomotor.AUGMENTATIONS, anneal=True)
