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
The scenario (config/scenario.yaml): start pose, route, spills, slow zone and randomization.

:func:`load_scenario` validates the whole file and raises :class:`ScenarioError` naming the key
and the problem, so a typo fails at start-up instead of producing a strange episode.
:func:`sample_episode` turns a scenario and a seed into one concrete episode, deterministically.

Two ways to place spills: around the configured ``spill.position`` (one spill, the demo's
straight aisle), or, with ``randomization.spill_count``, anywhere along the route (turns
included) with a random count. The optional slow zone is a floor marking of its own colour where
the robot must not exceed ``slow_zone.speed_limit``.
"""

import colorsys
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
import math
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import yaml

DEFAULT_SCENARIO = 'config/scenario.yaml'  # relative to the package share directory
SPILL_SHAPES = {'cylinder': 1, 'box': 2}  # shape -> number of size values
_PLACEMENT_TRIES = 50


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
class SlowZoneConfig:
    """
    A rectangle marked on the floor where the speed must stay at or below ``speed_limit``.

    ``size`` is ``(length, width)``, length along the route where it is placed; ``hsv_lower``
    and ``hsv_upper`` segment its colour (OpenCV units), which nothing else in the world has.
    """

    enabled: bool
    position: Tuple[float, float]
    size: Tuple[float, float]
    yaw: float
    rgba: Tuple[float, float, float, float]
    hsv_lower: Tuple[int, int, int]
    hsv_upper: Tuple[int, int, int]
    speed_limit: float


@dataclass(frozen=True)
class Randomization:
    """
    Half-widths of the uniform perturbations drawn for each episode, and the route placement.

    ``spill_count`` (min, max), when set, places that many spills at uniform distances along
    the route, ``spill_position[1]`` off it sideways, at least ``hazard_gap`` apart along the
    route (from each other, the slow zone and the start). ``spill_colour`` jitters each spill's
    colour by +- (H, S, V) in OpenCV units, clipped into the spill's HSV range.
    ``slow_zone_probability`` is the chance that an episode has the slow zone, then placed along
    the route too (only with ``spill_count``; otherwise the zone stays where configured).
    """

    start_position: Tuple[float, float] = (0.0, 0.0)
    start_yaw: float = 0.0
    spill_position: Tuple[float, float] = (0.0, 0.0)
    spill_scale: float = 0.0
    spill_count: Optional[Tuple[int, int]] = None
    spill_colour: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    slow_zone_probability: float = 1.0
    hazard_gap: float = 3.0


@dataclass(frozen=True)
class Scenario:
    """A validated scenario."""

    start: Tuple[float, float, float]
    waypoints: Tuple[Tuple[float, float], ...]
    tolerance: float
    spill: SpillConfig
    randomization: Randomization = field(default_factory=Randomization)
    slow_zone: Optional[SlowZoneConfig] = None
    # Where the route's first segment starts (None: where the robot starts). A situation
    # segment starts the robot beside its stretch of the route, which still runs along the
    # aisle's centreline (:func:`situation_segment`).
    route_origin: Optional[Tuple[float, float]] = None

    def nominal(self) -> 'Scenario':
        """Return this scenario without randomization: every seed gives the nominal episode."""
        return replace(self, randomization=Randomization())

    def without_spill(self) -> 'Scenario':
        """Return this scenario with the spill disabled."""
        return replace(self, spill=replace(self.spill, enabled=False))

    @property
    def max_spills(self) -> int:
        """Return the most spills an episode can have (the simulator builds that many)."""
        if not self.spill.enabled:
            return 0
        count = self.randomization.spill_count
        return count[1] if count is not None else 1

    @property
    def has_slow_zone(self) -> bool:
        """Whether episodes can have the slow zone."""
        return self.slow_zone is not None and self.slow_zone.enabled


@dataclass(frozen=True)
class SpillPlacement:
    """Where a spill lies in one episode, and its colour (None: the configured one)."""

    shape: str
    position: Tuple[float, float]
    size: Tuple[float, ...]
    yaw: float
    rgba: Optional[Tuple[float, float, float, float]] = None


@dataclass(frozen=True)
class ZonePlacement:
    """Where the slow zone lies in one episode: centre, (length, width) and yaw."""

    position: Tuple[float, float]
    size: Tuple[float, float]
    yaw: float
    speed_limit: float


@dataclass(frozen=True)
class Episode:
    """One concrete episode: the seed, the start pose, the spills and the slow zone (or None)."""

    seed: int
    start: Tuple[float, float, float]
    spills: Tuple[SpillPlacement, ...]
    slow_zone: Optional[ZonePlacement] = None

    @property
    def spill(self) -> Optional[SpillPlacement]:
        """Return the first spill, or None: the one spill of single-spill scenarios."""
        return self.spills[0] if self.spills else None


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
                         optional=('randomization', 'slow_zone'))
    start = check.mapping(root['start'], 'start', required=('pose',))
    route = check.mapping(root['route'], 'route', required=('waypoints', 'tolerance'))
    waypoints = route['waypoints']
    if not isinstance(waypoints, list) or not waypoints:
        check.fail('route.waypoints', 'expected a non-empty list of [x, y] points')
    spill = _spill(check, root['spill'])
    randomization = check.mapping(root.get('randomization') or {}, 'randomization',
                                  optional=('start_position', 'start_yaw', 'spill_position',
                                            'spill_scale', 'spill_count', 'spill_colour',
                                            'slow_zone_probability', 'hazard_gap'))
    rnd = Randomization(
        start_position=check.numbers(randomization.get('start_position', [0, 0]),
                                     'randomization.start_position', 2, minimum=0.0),
        start_yaw=check.number(randomization.get('start_yaw', 0), 'randomization.start_yaw',
                               minimum=0.0),
        spill_position=check.numbers(randomization.get('spill_position', [0, 0]),
                                     'randomization.spill_position', 2, minimum=0.0),
        spill_scale=check.number(randomization.get('spill_scale', 0),
                                 'randomization.spill_scale', minimum=0.0),
        spill_count=_count(check, randomization.get('spill_count')),
        spill_colour=check.numbers(randomization.get('spill_colour', [0, 0, 0]),
                                   'randomization.spill_colour', 3, minimum=0.0),
        slow_zone_probability=check.number(randomization.get('slow_zone_probability', 1.0),
                                           'randomization.slow_zone_probability', 0.0, 1.0),
        hazard_gap=check.number(randomization.get('hazard_gap', 3.0),
                                'randomization.hazard_gap', minimum=0.0))
    if rnd.spill_scale >= 1.0:
        check.fail('randomization.spill_scale', f'must be below 1 (sizes stay positive), got '
                   f'{rnd.spill_scale}')
    slow_zone = _slow_zone(check, root['slow_zone']) if 'slow_zone' in root else None
    return Scenario(
        start=check.numbers(start['pose'], 'start.pose', 3),
        waypoints=tuple(check.numbers(p, f'route.waypoints[{i}]', 2)
                        for i, p in enumerate(waypoints)),
        tolerance=check.number(route['tolerance'], 'route.tolerance', minimum=1e-3),
        spill=spill,
        randomization=rnd,
        slow_zone=slow_zone)


def _count(check: '_Checker', value: Any) -> Optional[Tuple[int, int]]:
    if value is None:
        return None
    low, high = check.numbers(value, 'randomization.spill_count', 2, minimum=0.0, maximum=16.0)
    if low != int(low) or high != int(high) or low > high:
        check.fail('randomization.spill_count', f'expected whole numbers [min, max] with '
                   f'min <= max, got {list(value)}')
    return int(low), int(high)


def _slow_zone(check: '_Checker', data: Any) -> SlowZoneConfig:
    zone = check.mapping(data, 'slow_zone',
                         required=('enabled', 'position', 'size', 'rgba', 'hsv_lower',
                                   'hsv_upper', 'speed_limit'),
                         optional=('yaw',))
    if not isinstance(zone['enabled'], bool):
        check.fail('slow_zone.enabled', f'expected true or false, got {zone["enabled"]!r}')
    config = SlowZoneConfig(
        enabled=zone['enabled'],
        position=check.numbers(zone['position'], 'slow_zone.position', 2),
        size=check.numbers(zone['size'], 'slow_zone.size', 2, minimum=1e-3),
        yaw=check.number(zone.get('yaw', 0.0), 'slow_zone.yaw'),
        rgba=check.numbers(zone['rgba'], 'slow_zone.rgba', 4, minimum=0.0, maximum=1.0),
        hsv_lower=_hsv(check, zone['hsv_lower'], 'slow_zone.hsv_lower'),
        hsv_upper=_hsv(check, zone['hsv_upper'], 'slow_zone.hsv_upper'),
        speed_limit=check.number(zone['speed_limit'], 'slow_zone.speed_limit', minimum=1e-3))
    _check_colour(check, 'slow_zone', config.rgba, config.hsv_lower, config.hsv_upper)
    return config


def _check_colour(check: '_Checker', key: str, rgba, lower, upper) -> None:
    if any(lo > hi for lo, hi in zip(lower, upper)):
        check.fail(f'{key}.hsv_lower', f'must not exceed hsv_upper {list(upper)} '
                   f'in any channel, got {list(lower)}')
    hsv = rgb_to_opencv_hsv(rgba[:3])
    if not all(lo <= v <= hi for v, lo, hi in zip(hsv, lower, upper)):
        check.fail(f'{key}.rgba', f'the colour is HSV {[round(v) for v in hsv]} in OpenCV units, '
                   f'outside hsv_lower..hsv_upper: it could not be segmented')


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
    _check_colour(check, 'spill', config.rgba, config.hsv_lower, config.hsv_upper)
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


def opencv_hsv_to_rgb(hsv: Sequence[float]) -> Tuple[float, float, float]:
    """Inverse of :func:`rgb_to_opencv_hsv`."""
    return colorsys.hsv_to_rgb(hsv[0] / 180.0, hsv[1] / 255.0, hsv[2] / 255.0)


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
    Draw one episode: the start pose, spills and slow zone within the randomization ranges.

    The same scenario and seed always give the same episode (numpy's PCG64 generator, a fixed
    order of draws); every draw of the single-spill placement is made even when its range is
    zero, so enabling one range does not change the others' values.
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
    if rnd.spill_count is not None:
        return _route_episode(scenario, int(seed), start, rng)
    config = scenario.spill
    zone = _nominal_zone(scenario)
    spills = ()
    if config.enabled:
        spills = (SpillPlacement(config.shape, (config.position[0] + sx, config.position[1] + sy),
                                 tuple(s * scale for s in config.size), config.yaw,
                                 _jittered_colour(config, rnd.spill_colour, rng)),)
    return Episode(int(seed), start, spills, zone)


def _nominal_zone(scenario: Scenario) -> Optional[ZonePlacement]:
    zone = scenario.slow_zone
    if not scenario.has_slow_zone:
        return None
    return ZonePlacement(zone.position, zone.size, zone.yaw, zone.speed_limit)


def _jittered_colour(config: SpillConfig, jitter: Sequence[float], rng: np.random.Generator
                     ) -> Tuple[float, float, float, float]:
    """
    Return the spill colour moved by up to +- ``jitter`` (H, S, V), kept inside its HSV range.

    Two units of margin at each end of the range keep rendering's rounding from pushing a
    jittered colour out of what the context manager segments.
    """
    draws = rng.uniform(-1.0, 1.0, size=3)
    if not any(jitter):
        return config.rgba
    hsv = []
    for value, draw, amount, lo, hi in zip(rgb_to_opencv_hsv(config.rgba[:3]), draws, jitter,
                                           config.hsv_lower, config.hsv_upper):
        lo, hi = min(lo + 2.0, value), max(hi - 2.0, value)
        hsv.append(min(max(value + draw * amount, lo), hi))
    return (*(float(c) for c in opencv_hsv_to_rgb(hsv)), config.rgba[3])


def _route_episode(scenario: Scenario, seed: int, start: Tuple[float, float, float],
                   rng: np.random.Generator) -> Episode:
    """
    Place the slow zone and the spills at uniform distances along the route from the start.

    Each new item is drawn until it lies ``hazard_gap`` from the start, the goal and every item
    placed before it (a bounded number of tries; an item that does not fit is left out).
    """
    rnd = scenario.randomization
    vertices, cumulative = route_length([start[:2], *scenario.waypoints])
    total = float(cumulative[-1])
    gap = rnd.hazard_gap
    placed: List[Tuple[float, float]] = []  # (distance along the route, half length)

    def draw(half: float) -> Optional[float]:
        for _ in range(_PLACEMENT_TRIES):
            s = rng.uniform(gap + half, total - gap / 2 - half)
            if all(abs(s - other) >= gap + half + other_half for other, other_half in placed):
                placed.append((s, half))
                return s
        return None

    zone = None
    config = scenario.slow_zone
    if scenario.has_slow_zone and rng.uniform() < rnd.slow_zone_probability:
        s = draw(config.size[0] / 2)
        if s is not None:
            point, heading = point_on_route(vertices, cumulative, s)
            zone = ZonePlacement((float(point[0]), float(point[1])), config.size,
                                 float(heading), config.speed_limit)
    spills = []
    spill = scenario.spill
    count = int(rng.integers(rnd.spill_count[0], rnd.spill_count[1] + 1)) if spill.enabled else 0
    for _ in range(count):
        lateral = rng.uniform(-rnd.spill_position[1], rnd.spill_position[1])
        scale = rng.uniform(1.0 - rnd.spill_scale, 1.0 + rnd.spill_scale)
        rgba = _jittered_colour(spill, rnd.spill_colour, rng)
        size = tuple(v * scale for v in spill.size)
        s = draw(max(size) / 2)
        if s is None:
            continue
        point, heading = point_on_route(vertices, cumulative, s)
        position = point + lateral * np.array([-math.sin(heading), math.cos(heading)])
        spills.append(SpillPlacement(spill.shape, (float(position[0]), float(position[1])),
                                     size, float(spill.yaw + heading), rgba))
    return Episode(seed, start, tuple(spills), zone)


# A situation segment starts this far (metres along the route) before its hazard's centre and
# ends this far after it: the hazard rule enters 2-3 m before a spill, the detour's ramps are
# 2 m long and the adapter stays 12 s (3.6 m at the detour's speed) after it last saw it.
SEGMENT_BEFORE = (3.0, 4.5)
SEGMENT_AFTER = (4.0, 6.0)
SEGMENT_START_JITTER = (0.6, 0.15)   # +- metres across the route, +- radians
SEGMENT_ZONE_WEIGHT = 0.5   # the zone is drawn half as often as a spill (learners fail on spills)
_START_CLEARANCE = 0.5  # a spill closer to the start than its radius plus this is left out


def situation_segment(scenario: Scenario, seed: int) -> Tuple[Scenario, Episode]:
    """
    Return a short route around one hazard of the seed's full-route episode, and its episode.

    The situations (a spill, on a turn or not; the slow zone) are what the learned policy must
    get right, and a full route meets one every 20-50 m: a segment meets one within 10 m. The
    episode is the seed's :func:`sample_episode` (same spills, colours, zone); one of its
    hazards is drawn, the start moves SEGMENT_BEFORE before it on the route (heading along
    the route, jittered) and the goal SEGMENT_AFTER after it, or after the next hazard if
    that one is close; the waypoints are the route's between them, the zone drawn half as
    often as a spill. An episode without hazards gives a stretch of plain route. A spill
    under the new start is left out. The same scenario and seed give the same segment.
    """
    full = sample_episode(scenario, seed)
    rng = np.random.default_rng([int(seed), 1])   # a stream of its own: full is unchanged
    vertices, cumulative = route_length([full.start[:2], *scenario.waypoints])
    total = float(cumulative[-1])
    hazards = [spill.position for spill in full.spills]
    if full.slow_zone is not None:
        hazards.append(full.slow_zone.position)
    weights = np.array([1.0] * len(full.spills) +
                       [SEGMENT_ZONE_WEIGHT] * (len(hazards) - len(full.spills)))
    pick = int(rng.choice(len(hazards), p=weights / weights.sum())) if hazards else -1
    centre = (distance_along_route(vertices, cumulative, hazards[pick]) if hazards
              else rng.uniform(SEGMENT_BEFORE[1], total))
    start_s = max(centre - rng.uniform(*SEGMENT_BEFORE), 0.0)
    end_s = centre + rng.uniform(*SEGMENT_AFTER)
    # A goal next to the next hazard would end the segment in it: then it includes that one.
    for other in sorted(distance_along_route(vertices, cumulative, h) for h in hazards):
        if centre < other < end_s + SEGMENT_AFTER[0]:
            end_s = max(end_s, other + SEGMENT_AFTER[0])
    end_s = min(end_s, total)
    point, heading = point_on_route(vertices, cumulative, start_s)
    across = rng.uniform(-SEGMENT_START_JITTER[0], SEGMENT_START_JITTER[0])
    start = (float(point[0] - across * math.sin(heading)),
             float(point[1] + across * math.cos(heading)),
             math.remainder(heading + rng.uniform(-SEGMENT_START_JITTER[1],
                                                  SEGMENT_START_JITTER[1]), 2 * math.pi))
    inside = [tuple(float(v) for v in vertices[i]) for i in range(len(vertices))
              if start_s < cumulative[i] < end_s]
    goal = tuple(float(v) for v in point_on_route(vertices, cumulative, end_s)[0])
    spills = tuple(spill for spill in full.spills
                   if math.dist(spill.position, start[:2]) >= max(spill.size) + _START_CLEARANCE)
    origin = (float(point[0]), float(point[1]))
    return (replace(scenario, start=start, waypoints=(*inside, goal), route_origin=origin),
            replace(full, start=start, spills=spills))


def distance_along_route(vertices: np.ndarray, cumulative: np.ndarray,
                         point: Sequence[float]) -> float:
    """Return the distance along the polyline of its point nearest to ``point``."""
    if len(vertices) < 2:
        return 0.0
    index, t = nearest_route_segment(vertices, point)
    return float(cumulative[index]) + t * float(np.linalg.norm(vertices[index + 1] -
                                                               vertices[index]))


def nearest_route_segment(vertices: np.ndarray, point: Sequence[float]) -> Tuple[int, float]:
    """
    Return the polyline's segment nearest to ``point``, and where on it (0..1) that lies.

    The earliest of equally near segments; segments of zero length are passed over (a
    neighbour reaches the same point). Index 0 where every segment has zero length.
    """
    best, best_index, best_t = math.inf, 0, 0.0
    point = np.asarray(point, dtype=float)
    for index in range(len(vertices) - 1):
        a, delta = vertices[index], vertices[index + 1] - vertices[index]
        length = float(np.linalg.norm(delta))
        if length < 1e-9:
            continue
        t = min(max(float(np.dot(point - a, delta)) / length ** 2, 0.0), 1.0)
        gap = float(np.linalg.norm(a + t * delta - point))
        if gap < best:
            best, best_index, best_t = gap, index, t
    return best_index, best_t


def route_length(points: Sequence[Sequence[float]]) -> Tuple[np.ndarray, np.ndarray]:
    """Return the polyline's vertices (N x 2) and the cumulative length at each."""
    vertices = np.asarray(points, dtype=float)
    lengths = np.linalg.norm(np.diff(vertices, axis=0), axis=1)
    return vertices, np.concatenate([[0.0], np.cumsum(lengths)])


def point_on_route(vertices: np.ndarray, cumulative: np.ndarray, s: float
                   ) -> Tuple[np.ndarray, float]:
    """Return the point at distance ``s`` along the polyline and the direction there."""
    index = int(np.clip(np.searchsorted(cumulative, s, side='right') - 1, 0, len(vertices) - 2))
    delta = vertices[index + 1] - vertices[index]
    length = max(float(np.linalg.norm(delta)), 1e-9)
    point = vertices[index] + delta * (s - cumulative[index]) / length
    return point, math.atan2(delta[1], delta[0])
