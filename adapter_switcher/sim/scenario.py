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
The scenario (config/scenario.yaml): start pose, route, spill and per-episode randomization.

:func:`load_scenario` validates the whole file and raises :class:`ScenarioError` naming the key
and the problem, so a typo fails at start-up instead of producing a strange episode.
:func:`sample_episode` turns a scenario and a seed into one concrete episode, deterministically.
"""

import colorsys
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Tuple

import numpy as np
import yaml

DEFAULT_SCENARIO = 'config/scenario.yaml'  # relative to the package share directory
SPILL_SHAPES = {'cylinder': 1, 'box': 2}  # shape -> number of size values


class ScenarioError(ValueError):
    """The scenario file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class SpillConfig:
    """
    The spill: shape, nominal placement, colour and the HSV range that segments it.

    ``size`` is ``(radius,)`` for a cylinder and ``(length, width)`` for a box; ``hsv_lower``
    and ``hsv_upper`` are in OpenCV units (H 0..179, S and V 0..255, RGB input).
    """

    enabled: bool
    shape: str
    position: Tuple[float, float]
    size: Tuple[float, ...]
    yaw: float
    rgba: Tuple[float, float, float, float]
    hsv_lower: Tuple[int, int, int]
    hsv_upper: Tuple[int, int, int]


@dataclass(frozen=True)
class Randomization:
    """Half-widths of the uniform perturbations drawn for each episode."""

    start_position: Tuple[float, float] = (0.0, 0.0)
    start_yaw: float = 0.0
    spill_position: Tuple[float, float] = (0.0, 0.0)
    spill_scale: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """A validated scenario."""

    start: Tuple[float, float, float]
    waypoints: Tuple[Tuple[float, float], ...]
    tolerance: float
    spill: SpillConfig
    randomization: Randomization = field(default_factory=Randomization)

    def nominal(self) -> 'Scenario':
        """Return this scenario without randomization: every seed gives the nominal episode."""
        return replace(self, randomization=Randomization())

    def without_spill(self) -> 'Scenario':
        """Return this scenario with the spill disabled."""
        return replace(self, spill=replace(self.spill, enabled=False))


@dataclass(frozen=True)
class SpillPlacement:
    """Where the spill lies in one episode."""

    shape: str
    position: Tuple[float, float]
    size: Tuple[float, ...]
    yaw: float


@dataclass(frozen=True)
class Episode:
    """One concrete episode: the seed it came from, the start pose and the spill (or None)."""

    seed: int
    start: Tuple[float, float, float]
    spill: Optional[SpillPlacement]


def load_scenario(path) -> Scenario:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f'cannot read scenario file {path}: {exc.strerror}') from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f'{path}: not valid YAML: {exc}') from exc
    return parse_scenario(data, str(path))


def parse_scenario(data: Any, source: str = '<scenario>') -> Scenario:
    """Validate a scenario given as parsed YAML (nested dicts and lists)."""
    check = _Checker(source)
    root = check.mapping(data, '', required=('start', 'route', 'spill'),
                         optional=('randomization',))
    start = check.mapping(root['start'], 'start', required=('pose',))
    route = check.mapping(root['route'], 'route', required=('waypoints', 'tolerance'))
    waypoints = route['waypoints']
    if not isinstance(waypoints, list) or not waypoints:
        check.fail('route.waypoints', 'expected a non-empty list of [x, y] points')
    spill = _spill(check, root['spill'])
    randomization = check.mapping(root.get('randomization') or {}, 'randomization',
                                  optional=('start_position', 'start_yaw', 'spill_position',
                                            'spill_scale'))
    rnd = Randomization(
        start_position=check.numbers(randomization.get('start_position', [0, 0]),
                                     'randomization.start_position', 2, minimum=0.0),
        start_yaw=check.number(randomization.get('start_yaw', 0), 'randomization.start_yaw',
                               minimum=0.0),
        spill_position=check.numbers(randomization.get('spill_position', [0, 0]),
                                     'randomization.spill_position', 2, minimum=0.0),
        spill_scale=check.number(randomization.get('spill_scale', 0),
                                 'randomization.spill_scale', minimum=0.0))
    if rnd.spill_scale >= 1.0:
        check.fail('randomization.spill_scale', f'must be below 1 (sizes stay positive), got '
                   f'{rnd.spill_scale}')
    return Scenario(
        start=check.numbers(start['pose'], 'start.pose', 3),
        waypoints=tuple(check.numbers(p, f'route.waypoints[{i}]', 2)
                        for i, p in enumerate(waypoints)),
        tolerance=check.number(route['tolerance'], 'route.tolerance', minimum=1e-3),
        spill=spill,
        randomization=rnd)


def _spill(check: '_Checker', data: Any) -> SpillConfig:
    spill = check.mapping(data, 'spill',
                          required=('enabled', 'shape', 'position', 'size', 'rgba', 'hsv_lower',
                                    'hsv_upper'),
                          optional=('yaw',))
    if not isinstance(spill['enabled'], bool):
        check.fail('spill.enabled', f'expected true or false, got {spill["enabled"]!r}')
    shape = spill['shape']
    if shape not in SPILL_SHAPES:
        check.fail('spill.shape', f'expected one of {sorted(SPILL_SHAPES)}, got {shape!r}')
    config = SpillConfig(
        enabled=spill['enabled'],
        shape=shape,
        position=check.numbers(spill['position'], 'spill.position', 2),
        size=check.numbers(spill['size'], 'spill.size', SPILL_SHAPES[shape], minimum=1e-3),
        yaw=check.number(spill.get('yaw', 0.0), 'spill.yaw'),
        rgba=check.numbers(spill['rgba'], 'spill.rgba', 4, minimum=0.0, maximum=1.0),
        hsv_lower=_hsv(check, spill['hsv_lower'], 'spill.hsv_lower'),
        hsv_upper=_hsv(check, spill['hsv_upper'], 'spill.hsv_upper'))
    if any(lo > hi for lo, hi in zip(config.hsv_lower, config.hsv_upper)):
        check.fail('spill.hsv_lower', f'must not exceed hsv_upper {list(config.hsv_upper)} '
                   f'in any channel, got {list(config.hsv_lower)}')
    hsv = rgb_to_opencv_hsv(config.rgba[:3])
    if not all(lo <= v <= hi for v, lo, hi in zip(hsv, config.hsv_lower, config.hsv_upper)):
        check.fail('spill.rgba', f'the colour is HSV {[round(v) for v in hsv]} in OpenCV units, '
                   f'outside hsv_lower..hsv_upper: the spill could not be segmented')
    return config


def _hsv(check: '_Checker', value: Any, key: str) -> Tuple[int, int, int]:
    numbers = check.numbers(value, key, 3, minimum=0.0, maximum=255.0)
    if numbers[0] > 179:
        check.fail(key, f'hue is 0..179 in OpenCV units, got {numbers[0]}')
    if any(n != int(n) for n in numbers):
        check.fail(key, f'expected whole numbers, got {list(numbers)}')
    return tuple(int(n) for n in numbers)


def rgb_to_opencv_hsv(rgb: Sequence[float]) -> Tuple[float, float, float]:
    """Return an RGB colour (0..1 each) as HSV in OpenCV's units (H 0..179, S, V 0..255)."""
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    return h * 180.0, s * 255.0, v * 255.0


class _Checker:
    """Type and range checks that raise ScenarioError naming the offending key."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, problem: str):
        raise ScenarioError(f'{self.source}: {key or "top level"}: {problem}')

    def mapping(self, value: Any, key: str, required: Sequence[str] = (),
                optional: Sequence[str] = ()) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, f'expected a mapping, got {type(value).__name__}')
        unknown = sorted(set(value) - set(required) - set(optional))
        if unknown:
            self.fail(key, f'unknown key(s) {unknown}; allowed: {sorted(required + optional)}')
        missing = [k for k in required if k not in value]
        if missing:
            self.fail(key, f'missing key(s) {missing}')
        return value

    def number(self, value: Any, key: str, minimum: float = -math.inf,
               maximum: float = math.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, f'expected a number, got {value!r}')
        if not math.isfinite(value) or not minimum <= value <= maximum:
            self.fail(key, f'expected a finite number in [{minimum}, {maximum}], got {value}')
        return float(value)

    def numbers(self, value: Any, key: str, count: int, minimum: float = -math.inf,
                maximum: float = math.inf) -> Tuple[float, ...]:
        if not isinstance(value, (list, tuple)) or len(value) != count:
            self.fail(key, f'expected a list of {count} numbers, got {value!r}')
        return tuple(self.number(v, f'{key}[{i}]', minimum, maximum)
                     for i, v in enumerate(value))


def sample_episode(scenario: Scenario, seed: int) -> Episode:
    """
    Draw one episode: the start pose and spill perturbed within the randomization ranges.

    The same scenario and seed always give the same episode (numpy's PCG64 generator, a fixed
    order of draws); every draw is made even when its range is zero, so enabling one range does
    not change the others' values.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')
    rng = np.random.default_rng(int(seed))
    rnd = scenario.randomization
    dx, dy = (rng.uniform(-r, r) for r in rnd.start_position)
    dyaw = rng.uniform(-rnd.start_yaw, rnd.start_yaw)
    sx, sy = (rng.uniform(-r, r) for r in rnd.spill_position)
    scale = rng.uniform(1.0 - rnd.spill_scale, 1.0 + rnd.spill_scale)
    x, y, yaw = scenario.start
    start = (x + dx, y + dy, math.remainder(yaw + dyaw, 2 * math.pi))
    config = scenario.spill
    spill = None
    if config.enabled:
        spill = SpillPlacement(config.shape, (config.position[0] + sx, config.position[1] + sy),
                               tuple(s * scale for s in config.size), config.yaw)
    return Episode(int(seed), start, spill)
