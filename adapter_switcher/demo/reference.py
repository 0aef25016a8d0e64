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
The demo policy's command for given sensor data, computed with plain PEFT, outside the engine.

Tests and benchmarks compare what the inference node publishes against this: the same features
(FeatureExtractor with the rules' settings), the same observation encoding, and the adapter
applied by ``PeftModel.from_pretrained`` rather than by the engine's slot layers, so a match
shows that the node ran that adapter, unmodified.
"""

import copy
from pathlib import Path
from typing import Dict, Optional, Tuple

from adapter_switcher.context.features import FeatureConfig
from adapter_switcher.context.features import FeatureExtractor
from adapter_switcher.core import BaseModelSpec
from adapter_switcher.core import load_base_model
from adapter_switcher.demo.adapters import ADAPTERS_SUBDIR
from adapter_switcher.demo.adapters import BASE_WEIGHTS
from adapter_switcher.demo.policy_model import decode_action
from adapter_switcher.demo.policy_model import encode_observation

import numpy as np
from peft import PeftModel
import torch

FACTORY = 'adapter_switcher.demo.policy_model:build_policy'


class ReferencePolicy:
    """The demo base and adapters of a ``make_demo_adapters`` directory, run with PEFT."""

    def __init__(self, demo_dir, features: Optional[FeatureConfig] = None):
        self.demo_dir = Path(demo_dir)
        self._features = features
        self._base = load_base_model(BaseModelSpec(
            factory=FACTORY, weights=str(self.demo_dir / BASE_WEIGHTS)))
        self._models: Dict[Optional[str], torch.nn.Module] = {None: self._base}

    def model(self, adapter: Optional[str]) -> torch.nn.Module:
        """Return the base with ``adapter`` applied by PEFT (None: the base alone)."""
        if adapter not in self._models:
            path = self.demo_dir / ADAPTERS_SUBDIR / adapter
            self._models[adapter] = PeftModel.from_pretrained(
                copy.deepcopy(self._base), str(path)).eval()
        return self._models[adapter]

    def command(self, adapter: Optional[str], ranges: np.ndarray, angle_min: float,
                angle_increment: float, range_min: float, range_max: float,
                image: np.ndarray, encoding: str,
                twist: Tuple[float, float, float]) -> Tuple[float, float]:
        """Return ``(linear_x, angular_z)`` the policy gives for this sensor data."""
        extractor = FeatureExtractor(self._features)
        extractor.update_scan(ranges, angle_min, angle_increment, range_min, range_max, 0.0)
        extractor.update_image(image, encoding, 0.0)
        extractor.update_odom(*twist, 0.0)
        obs = encode_observation(extractor.snapshot(0.0).values, ranges, range_max)
        with torch.inference_mode():
            return decode_action(self.model(adapter)(obs))
