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
Scripted context scenarios: deterministic feature snapshots for tests and benchmarks.

:class:`SpillScenario` is the navigation -> hazard -> navigation routine: in each episode the
spill fraction stays at ``floor`` for ``navigation_s``, rises linearly to ``peak`` over
``ramp_up_s`` (passing the hint and then the enter threshold on the way, so a predictor can see
the hazard coming), stays there for ``hazard_s`` and falls back over ``ramp_down_s``; a last
``navigation_s`` lets the policy return to navigation. The other features hold the steady values
of an open aisle (``base``). Stamps are ``start_stamp + i / rate_hz``, computed, not
accumulated, so any rate gives the same timeline; optional Gaussian noise on the spill fraction
comes from a seeded generator, so the same parameters always give the same snapshots.
"""

from dataclasses import dataclass
import math
import numbers
from types import MappingProxyType
from typing import Iterator, Mapping, Optional, Tuple

from adapter_switcher.context.checks import finite_number
from adapter_switcher.context.features import FeatureSnapshot
from adapter_switcher.context.features import FeatureValue
from adapter_switcher.context.features import SPILL_VISIBLE_FRACTION
import numpy as np

# An open aisle at cruising speed: nothing here enters any rule of config/context_rules.yaml.
OPEN_AISLE: Mapping[str, FeatureValue] = MappingProxyType({
    'front_min': 4.0, 'left_min': 1.5, 'right_min': 1.5, 'aisle_width': 3.0,
    'speed': 0.5, 'yaw_rate': 0.0,
})
# Where the spill appears in the image while it is visible: ahead, in the lower half.
SPILL_X = 0.0
SPILL_Y = 0.7
_SPILL_FEATURES = ('spill_fraction', 'spill_x', 'spill_y', 'spill_visible')


@dataclass(frozen=True)
class SpillScenario:
    """Episodes of navigation, a spill fraction ramping up, a hazard plateau and a ramp down."""

    episodes: int = 5
    rate_hz: float = 100.0
    navigation_s: float = 4.0
    ramp_up_s: float = 1.0
    hazard_s: float = 3.0
    ramp_down_s: float = 1.0
    peak: float = 0.05
    floor: float = 0.0
    noise: float = 0.0
    seed: int = 0
    start_stamp: float = 0.0
    base: Optional[Mapping[str, FeatureValue]] = None  # None: OPEN_AISLE

    def __post_init__(self):
        if isinstance(self.episodes, bool) or not isinstance(self.episodes, numbers.Integral) \
                or self.episodes < 1:
            raise ValueError(f'episodes must be a positive integer, got {self.episodes!r}')
        if finite_number('rate_hz', self.rate_hz) <= 0.0:
            raise ValueError(f'rate_hz must be positive, got {self.rate_hz!r}')
        for name in ('navigation_s', 'ramp_up_s', 'hazard_s', 'ramp_down_s', 'noise'):
            if finite_number(name, getattr(self, name)) < 0.0:
                raise ValueError(f'{name} must not be negative, got {getattr(self, name)!r}')
        if self.episode_s <= 0.0:
            raise ValueError('an episode needs a positive duration')
        if not 0.0 <= finite_number('floor', self.floor) < finite_number('peak', self.peak) <= 1:
            raise ValueError(f'need 0 <= floor < peak <= 1, got {self.floor!r} and {self.peak!r}')
        finite_number('start_stamp', self.start_stamp)
        clash = sorted(set(self.base or {}) & set(_SPILL_FEATURES))
        if clash:
            raise ValueError(f'base must not set the scripted spill features {clash}')

    @property
    def episode_s(self) -> float:
        """Return the duration of one navigation -> hazard -> navigation episode."""
        return self.navigation_s + self.ramp_up_s + self.hazard_s + self.ramp_down_s

    @property
    def duration_s(self) -> float:
        """Return the scenario's duration: the episodes and a closing navigation period."""
        return self.episodes * self.episode_s + self.navigation_s

    def __len__(self) -> int:
        """Return the number of snapshots, the first at start_stamp, the last at the end."""
        return int(math.floor(self.duration_s * self.rate_hz + 1e-9)) + 1

    def ramp_up_starts(self) -> Tuple[float, ...]:
        """Return the stamp at which each episode's spill fraction starts rising."""
        return tuple(self.start_stamp + k * self.episode_s + self.navigation_s
                     for k in range(self.episodes))

    def spill_at(self, stamp: float) -> float:
        """Return the noise-free spill fraction at ``stamp``."""
        elapsed = stamp - self.start_stamp
        if elapsed < 0.0 or elapsed >= self.episodes * self.episode_s:
            return self.floor
        phase = elapsed - math.floor(elapsed / self.episode_s) * self.episode_s
        rise = self.peak - self.floor
        phase -= self.navigation_s
        if phase < 0.0:
            return self.floor
        if phase < self.ramp_up_s:
            return self.floor + rise * phase / self.ramp_up_s
        phase -= self.ramp_up_s + self.hazard_s
        if phase < 0.0:
            return self.peak
        if phase < self.ramp_down_s:
            return self.peak - rise * phase / self.ramp_down_s
        return self.floor

    def snapshots(self) -> Iterator[FeatureSnapshot]:
        """Yield the scenario's snapshots in time order."""
        rng = np.random.default_rng(self.seed)
        base = OPEN_AISLE if self.base is None else self.base
        for index in range(len(self)):
            stamp = self.start_stamp + index / self.rate_hz
            fraction = self.spill_at(stamp)
            if self.noise > 0.0:
                fraction = min(1.0, max(0.0, fraction + rng.normal(0.0, self.noise)))
            visible = fraction > SPILL_VISIBLE_FRACTION
            values = dict(base)
            values.update(spill_fraction=fraction, spill_visible=visible,
                          spill_x=SPILL_X if visible else 0.0,
                          spill_y=SPILL_Y if visible else 0.0)
            yield FeatureSnapshot(stamp, values)

    def __iter__(self) -> Iterator[FeatureSnapshot]:
        """Iterate over :meth:`snapshots`."""
        return self.snapshots()
