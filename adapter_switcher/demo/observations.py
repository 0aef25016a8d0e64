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
What a demo policy sees at a control tick, and how each network's observation is built from it.

Shared by the closed loop (training, validation, the benchmark) and the inference node, so that
both encode exactly the same tensor. It lives apart from :mod:`adapter_switcher.demo.closed_loop`
because that module brings the simulator (MuJoCo) with it, which a node on the robot must not
import (issue 14's footprint: the node imports only what its configured model needs).
"""

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from adapter_switcher.context.features import FeatureSnapshot
from adapter_switcher.demo.policy_model import encode_observation
from adapter_switcher.demo.visuomotor import encode_visuomotor

import numpy as np
import torch

CARROT_DISTANCE = 1.5  # metres ahead on the route: the visuomotor policy's route input


@dataclass(frozen=True)
class Sensing:
    """The latest sensor data at a control tick, from which an observation is encoded."""

    snapshot: FeatureSnapshot
    image: Optional[np.ndarray]
    ranges: np.ndarray
    range_max: float
    linear: float
    angular: float
    carrot: Tuple[float, float]  # the route point CARROT_DISTANCE ahead, robot frame


Encoder = Callable[[Sensing], torch.Tensor]


def feature_observation(sensing: Sensing) -> torch.Tensor:
    """Return the feature MLP's observation (``policy_model.encode_observation``)."""
    return encode_observation(sensing.snapshot.values, sensing.ranges, sensing.range_max)


def visuomotor_observation(sensing: Sensing) -> torch.Tensor:
    """Return the visuomotor policy's observation: image, lidar, velocities, route carrot."""
    return encode_visuomotor(sensing.image, sensing.ranges, sensing.range_max, sensing.linear,
                             sensing.angular, sensing.carrot)
