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
The demo driving policy: a small MLP from sensor features to a velocity command.

One frozen :class:`PolicyNet` is the base model; each situation (open aisle, spill on the floor,
...) gets a LoRA adapter that changes how it drives. The observation is built from the context
features (so the adapters see what the context manager sees) plus a coarse lidar profile, and the
two outputs are squashed into the robot's velocity limits by :func:`decode_action`.

Everything here is ROS-free: the inference node calls :func:`encode_observation` and
:func:`decode_action` through its ``observation_encoder`` / ``action_decoder`` parameters, and
the engine builds the model with ``BaseModelSpec(factory='adapter_switcher.demo.policy_model:
build_policy', weights=...)``.
"""

import functools
import math
from typing import Any, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

# Context features in the observation, each divided by its scale so the inputs are about 0..1.
OBS_FEATURES: Tuple[Tuple[str, float], ...] = (
    ('front_min', 10.0),
    ('left_min', 10.0),
    ('right_min', 10.0),
    ('aisle_width', 10.0),
    ('spill_fraction', 1.0),
    ('spill_x', 1.0),
    ('spill_y', 1.0),
    ('spill_visible', 1.0),
    ('speed', 2.0),
    ('yaw_rate', 2.0),
)
# A missing feature (its sensor not seen yet) reads as this, in scaled units: free space, no
# spill, standing still.
_MISSING = {'front_min': 1.0, 'left_min': 1.0, 'right_min': 1.0, 'aisle_width': 1.0}
LIDAR_BINS = 36
OBS_DIM = len(OBS_FEATURES) + LIDAR_BINS
HIDDEN = 128
MAX_LINEAR = 1.0   # m/s
MAX_ANGULAR = 1.5  # rad/s
# The LoRA target modules of PolicyNet.
TARGET_MODULES = ('fc1', 'fc2', 'head')


class PolicyNet(nn.Module):
    """obs (N, OBS_DIM) -> raw action (N, 2); :func:`decode_action` maps it to velocities."""

    def __init__(self, obs_dim: int = OBS_DIM, hidden: int = HIDDEN):
        super().__init__()
        self.fc1 = nn.Linear(obs_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, 2)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.fc1(obs))
        hidden = torch.relu(self.fc2(hidden))
        return self.head(hidden)


def build_policy(seed: int = 0) -> PolicyNet:
    """
    Return a PolicyNet with a fixed initialisation, for ``BaseModelSpec.factory``.

    The seed makes the untrained base reproducible, so a process that builds it without a weights
    file still agrees with adapters made against the same build; the global RNG is left alone.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return PolicyNet()


def lidar_profile(ranges: Optional[np.ndarray], range_max: float,
                  bins: int = LIDAR_BINS) -> np.ndarray:
    """
    Min-pool a scan into ``bins`` sectors of normalised range (0 = contact, 1 = free).

    NaN readings are ignored, +inf and readings past range_max count as free, negative values
    as contact; a sector without a valid reading (or no scan) is free.
    """
    if ranges is None or len(ranges) == 0 or not math.isfinite(range_max) or range_max <= 0:
        return np.ones(bins, dtype=np.float32)
    values = np.asarray(ranges)
    if values.dtype.kind != 'f':
        values = np.asarray(ranges, dtype=np.float64)
    if len(values) >= bins:
        # One reduction over array_split's sectors (the first len % bins hold one more), on
        # the raw readings in their own precision (a minimum is exact): scaling by a positive
        # range_max and clipping are monotonic, so the scaled minimum is the minimum of the
        # scaled readings. fmin skips NaN; a sector of only NaN stays NaN and is free.
        minima = np.fmin.reduceat(values, _sector_starts(len(values), bins))
        scaled = np.minimum(np.maximum(minima.astype(np.float64) / range_max, 0.0), 1.0)
        scaled[np.isnan(scaled)] = 1.0
        return scaled.astype(np.float32)
    values = values.astype(np.float64, copy=False)
    profile = np.ones(bins, dtype=np.float32)
    scaled = np.clip(values / range_max, 0.0, 1.0)  # NaN stays NaN; +inf -> 1
    for index, sector in enumerate(np.array_split(scaled, bins)):
        valid = sector[~np.isnan(sector)]
        if valid.size:
            profile[index] = valid.min()
    return profile


@functools.lru_cache(maxsize=8)
def _sector_starts(length: int, bins: int) -> np.ndarray:
    """Return where each of ``np.array_split(range(length), bins)``'s sectors starts."""
    size, extra = divmod(length, bins)
    starts = np.arange(bins) * size + np.minimum(np.arange(bins), extra)
    starts.setflags(write=False)
    return starts


def encode_observation(features: Mapping[str, Any], ranges: Optional[np.ndarray] = None,
                       range_max: float = 10.0) -> torch.Tensor:
    """
    Return the (1, OBS_DIM) float32 observation for the given features and scan.

    Non-finite feature values are replaced by their missing-value default, so a bad reading can
    never put NaN into the model.
    """
    values = []
    for name, scale in OBS_FEATURES:
        raw = features.get(name)
        value = float(raw) / scale if raw is not None else _MISSING.get(name, 0.0)
        if not math.isfinite(value):
            value = _MISSING.get(name, 0.0)
        values.append(min(max(value, -5.0), 5.0))
    obs = np.concatenate([np.asarray(values, dtype=np.float32), lidar_profile(ranges, range_max)])
    return torch.from_numpy(obs.reshape(1, -1))


def decode_action(output: torch.Tensor) -> Tuple[float, float]:
    """
    Map a raw (1, 2) model output to ``(linear_x, angular_z)`` within the velocity limits.

    The first two values in row-major order are squashed as Python floats (double precision,
    as before): one ``tolist`` costs a tenth of the tensor operations (reshape, slice, tanh,
    indexing) that did this per tick.
    """
    flat = output.tolist()
    while flat and isinstance(flat[0], list):
        flat = [value for row in flat for value in row]
    linear, angular = flat[:2]
    return math.tanh(linear) * MAX_LINEAR, math.tanh(angular) * MAX_ANGULAR


def decode_batch(output: torch.Tensor) -> torch.Tensor:
    """Differentiable :func:`decode_action` for a batch, (N, 2) -> (N, 2) velocities, to train."""
    limits = torch.tensor([MAX_LINEAR, MAX_ANGULAR], dtype=output.dtype)
    return torch.tanh(output) * limits


def feature_columns(names: Sequence[str]) -> Tuple[int, ...]:
    """Return the observation columns of the named features, for behaviours that read them."""
    index = {name: i for i, (name, _) in enumerate(OBS_FEATURES)}
    return tuple(index[name] for name in names)
