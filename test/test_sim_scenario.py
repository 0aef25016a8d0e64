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
The scenario file: validation with clear errors, and seeded episodes.

Every malformed scenario is rejected with a message naming the key and the problem; episodes
are deterministic for a seed, stay within the randomization ranges, and an episode whose start
pose is inside an obstacle is refused without disturbing the running one.
"""

import copy
import dataclasses
import itertools
import math

from adapter_switcher.paths import share_path
from adapter_switcher.sim.scenario import DEFAULT_SCENARIO
from adapter_switcher.sim.scenario import distance_along_route
from adapter_switcher.sim.scenario import load_scenario
from adapter_switcher.sim.scenario import parse_scenario
from adapter_switcher.sim.scenario import point_on_route
from adapter_switcher.sim.scenario import rgb_to_opencv_hsv
from adapter_switcher.sim.scenario import route_length
from adapter_switcher.sim.scenario import sample_episode
from adapter_switcher.sim.scenario import ScenarioError
from adapter_switcher.sim.scenario import SEGMENT_START_JITTER
from adapter_switcher.sim.scenario import situation_segment
from adapter_switcher.sim.sdf_world import DEFAULT_WORLD
from adapter_switcher.sim.sdf_world import load_world
from adapter_switcher.sim.simulator import SimulationError
from adapter_switcher.sim.simulator import WarehouseSim

import numpy as np
import pytest
import yaml

PATH = share_path(DEFAULT_SCENARIO)


@pytest.fixture
def data():
    return yaml.safe_load(PATH.read_text())


def test_default_scenario_loads():
    scenario = load_scenario(PATH)
    assert len(scenario.waypoints) == 5 and scenario.spill.enabled
    assert scenario.randomization.spill_position == (3.0, 0.25)


def _set(data, dotted, value):
    *parents, last = dotted.split('.')
    node = data
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize('key, value, message', [
    ('route.speed', 1.0, r"route: unknown key\(s\) \['speed'\]"),
    ('route.tolerance', _DELETE, r"route: missing key\(s\) \['tolerance'\]"),
    ('route.tolerance', 0, r'route.tolerance: expected a finite number in \[0.001'),
    ('route.waypoints', [], 'route.waypoints: expected a non-empty list'),
    ('route.waypoints', [[1.0, 2.0], [3.0]], r'route.waypoints\[1\]: expected a list of 2'),
    ('start.pose', [0, 0], 'start.pose: expected a list of 3 numbers'),
    ('start.pose', [0, 'x', 0], r"start.pose\[1\]: expected a number, got 'x'"),
    ('spill.shape', 'puddle', r"spill.shape: expected one of \['box', 'cylinder'\]"),
    ('spill.size', [0.4, 0.3], 'spill.size: expected a list of 1 numbers'),
    ('spill.enabled', 'yes', 'spill.enabled: expected true or false'),
    ('spill.rgba', [0, 0.8, 1.5, 1], r'spill.rgba\[2\]: expected a finite number in \[0.0, 1.0\]'),
    ('spill.hsv_lower', [200, 0, 0], 'spill.hsv_lower: hue is 0..179'),
    ('spill.hsv_lower', [95, 150, 60.5], 'spill.hsv_lower: expected whole numbers'),
    ('spill.hsv_lower', [101, 150, 60], 'spill.hsv_lower: must not exceed hsv_upper'),
    ('spill.rgba', [1.0, 1.0, 0.0, 1.0], 'spill.rgba: the colour is HSV .* outside'),
    ('randomization.spill_scale', 1.0, 'randomization.spill_scale: must be below 1'),
    ('randomization.start_yaw', -0.1, 'randomization.start_yaw: expected a finite number'),
    ('randomization.jitter', 0.1, r"randomization: unknown key\(s\) \['jitter'\]"),
])
def test_bad_scenarios_are_rejected_naming_the_key(data, key, value, message):
    with pytest.raises(ScenarioError, match=f'^my.yaml: {message}'):
        parse_scenario(_set(copy.deepcopy(data), key, value), 'my.yaml')


def test_scenario_must_be_a_mapping():
    with pytest.raises(ScenarioError, match='top level: expected a mapping, got list'):
        parse_scenario([1, 2], 'my.yaml')


def test_unreadable_and_invalid_files_are_reported(tmp_path):
    with pytest.raises(ScenarioError, match='cannot read scenario file'):
        load_scenario(tmp_path / 'missing.yaml')
    broken = tmp_path / 'broken.yaml'
    broken.write_text('start: [1, 2\n')
    with pytest.raises(ScenarioError, match='not valid YAML'):
        load_scenario(broken)


def test_spill_colour_is_inside_its_hsv_range():
    spill = load_scenario(PATH).spill
    hsv = rgb_to_opencv_hsv(spill.rgba[:3])
    assert all(lo <= v <= hi for v, lo, hi in zip(hsv, spill.hsv_lower, spill.hsv_upper))


def test_episodes_are_deterministic_and_within_the_ranges():
    scenario = _single_spill(load_scenario(PATH))
    episodes = [sample_episode(scenario, seed) for seed in range(50)]
    assert episodes == [sample_episode(scenario, seed) for seed in range(50)]
    assert len({e.start for e in episodes}) == 50
    rnd = scenario.randomization
    for episode in episodes:
        dx, dy = (a - b for a, b in zip(episode.start[:2], scenario.start[:2]))
        assert abs(dx) <= rnd.start_position[0] and abs(dy) <= rnd.start_position[1]
        assert abs(math.remainder(episode.start[2] - scenario.start[2], 2 * math.pi)) <= \
            rnd.start_yaw
        sx, sy = (a - b for a, b in zip(episode.spill.position, scenario.spill.position))
        assert abs(sx) <= rnd.spill_position[0] and abs(sy) <= rnd.spill_position[1]
        scale = episode.spill.size[0] / scenario.spill.size[0]
        assert 1 - rnd.spill_scale <= scale <= 1 + rnd.spill_scale


def _single_spill(scenario):
    return dataclasses.replace(scenario, randomization=dataclasses.replace(
        scenario.randomization, spill_count=None))


def _distance_to_route(points, point):
    best = math.inf
    for a, b in zip(points[:-1], points[1:]):
        a, b, p = (np.asarray(v, dtype=float) for v in (a, b, point))
        t = np.clip(np.dot(p - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0)
        best = min(best, float(np.linalg.norm(a + t * (b - a) - p)))
    return best


def test_route_episodes_place_spills_and_zone_along_the_whole_route():
    scenario = load_scenario(PATH)
    rnd, spill = scenario.randomization, scenario.spill
    episodes = [sample_episode(scenario, seed) for seed in range(300)]
    assert episodes == [sample_episode(scenario, seed) for seed in range(300)]
    counts = [len(e.spills) for e in episodes]
    assert set(counts) == set(range(rnd.spill_count[0], rnd.spill_count[1] + 1))
    zones = sum(e.slow_zone is not None for e in episodes) / len(episodes)
    assert abs(zones - rnd.slow_zone_probability) < 0.1
    near_turn = 0
    for episode in episodes:
        route = [episode.start[:2], *scenario.waypoints]
        for placed in episode.spills:
            assert _distance_to_route(route, placed.position) <= rnd.spill_position[1] + 1e-9
            scale = placed.size[0] / spill.size[0]
            assert 1 - rnd.spill_scale <= scale <= 1 + rnd.spill_scale
            hsv = rgb_to_opencv_hsv(placed.rgba[:3])
            assert all(lo <= v <= hi for v, lo, hi in zip(hsv, spill.hsv_lower, spill.hsv_upper))
            near_turn += min(math.dist(placed.position, w) for w in scenario.waypoints[:-1]) < 1.5
        if episode.slow_zone is not None:
            assert _distance_to_route(route, episode.slow_zone.position) < 1e-6
            assert episode.slow_zone.speed_limit == scenario.slow_zone.speed_limit
            for placed in episode.spills:  # never on the zone
                assert math.dist(placed.position, episode.slow_zone.position) > \
                    rnd.hazard_gap - rnd.spill_position[1]
        for a, b in itertools.combinations(episode.spills, 2):
            assert math.dist(a.position, b.position) > rnd.hazard_gap - 2 * rnd.spill_position[1]
    assert near_turn > 0  # turns are not spared
    assert len({e.spills[0].rgba for e in episodes if e.spills}) > 100  # the colour varies


@pytest.mark.parametrize('key, value, message', [
    ('randomization.spill_count', [2, 1], r'randomization.spill_count: expected whole numbers'),
    ('randomization.slow_zone_probability', 1.5,
     r'randomization.slow_zone_probability: expected a finite number in \[0.0, 1.0\]'),
    ('slow_zone.speed_limit', _DELETE, r"slow_zone: missing key\(s\) \['speed_limit'\]"),
    ('slow_zone.rgba', [0.0, 0.8, 0.9, 1.0], 'slow_zone.rgba: the colour is HSV .* outside'),
])
def test_bad_route_randomization_and_zone_are_rejected(data, key, value, message):
    with pytest.raises(ScenarioError, match=f'^my.yaml: {message}'):
        parse_scenario(_set(copy.deepcopy(data), key, value), 'my.yaml')


def test_nominal_scenario_gives_the_nominal_episode_for_any_seed():
    scenario = load_scenario(PATH).nominal()
    for seed in (0, 1, 12345):
        episode = sample_episode(scenario, seed)
        assert episode.start == scenario.start
        assert episode.spill.position == scenario.spill.position
    assert sample_episode(scenario.without_spill(), 3).spill is None


@pytest.mark.parametrize('seed', [-1, 1.5, True])
def test_bad_seeds_are_rejected(seed):
    with pytest.raises(ValueError, match='seed must be a non-negative integer'):
        sample_episode(load_scenario(PATH), seed)


def test_reset_into_an_obstacle_is_refused_and_keeps_the_episode(data):
    world = load_world(share_path(DEFAULT_WORLD))
    _set(data, 'start.pose', [-3.0, -3.2, 0.0])  # in the first aisle
    scenario = parse_scenario(_set(data, 'randomization.start_position', [0.0, 1.5]), 'x.yaml')
    with WarehouseSim(world, scenario.nominal()) as sim:
        sim.step(0.5, 0.0)
        before = (sim.episode, sim.odometry())
        sim.scenario = scenario  # the randomized one can put the robot into a shelf
        refused = [seed for seed in range(20) if _refused(sim, seed)]
        assert refused, 'no seed put the start pose into a shelf'
        sim.scenario = scenario.nominal()
        assert not _refused(sim, 0)
        assert sim.episode.start == scenario.start and before[0] == sim.episode


def _refused(sim, seed):
    before = (sim.episode, sim.odometry())
    try:
        sim.reset(seed)
    except SimulationError as exc:
        assert f'episode with seed {seed}: the pose' in str(exc)
        assert 'shelves::link::row_' in str(exc)
        assert (sim.episode, sim.odometry()) == before
        return True
    return False


def test_place_robot_into_an_obstacle_is_refused(data):
    world = load_world(share_path(DEFAULT_WORLD))
    with WarehouseSim(world, load_scenario(PATH).nominal()) as sim:
        before = sim.odometry()
        with pytest.raises(SimulationError, match='collides with shelves::link::row_3'):
            sim.place_robot(0.0, 1.5, 0.0)
        assert sim.odometry() == before


def test_situation_segments_are_short_routes_around_a_hazard_of_the_seed():
    scenario = load_scenario(PATH)
    kinds = set()
    for seed in range(40):
        segment, episode = situation_segment(scenario, seed)
        assert situation_segment(scenario, seed) == (segment, episode)
        full = sample_episode(scenario, seed)
        assert episode.slow_zone == full.slow_zone and set(episode.spills) <= set(full.spills)
        assert episode.start == segment.start
        vertices, cumulative = route_length([full.start[:2], *scenario.waypoints])
        start_s = distance_along_route(vertices, cumulative, segment.start[:2])
        goal_s = distance_along_route(vertices, cumulative, segment.waypoints[-1])
        hazards = [s.position for s in full.spills] + (
            [full.slow_zone.position] if full.slow_zone else [])
        covered = [h for h in hazards
                   if start_s + 2.5 < distance_along_route(vertices, cumulative, h) < goal_s - 1.0]
        assert covered or not hazards, seed
        kinds.update('spill' if h in [s.position for s in full.spills] else 'zone'
                     for h in covered)
        assert 5.0 < goal_s - start_s < 25.0
        # The route still runs along the aisle: it begins on the full route, level with the
        # start, which is beside it by up to the jitter (measures come from the route, not
        # from a line slanted towards where the robot starts).
        origin = segment.route_origin
        origin_s = distance_along_route(vertices, cumulative, origin)
        point, _ = point_on_route(vertices, cumulative, origin_s)
        assert math.dist(point, origin) < 1e-9
        assert math.dist(origin, segment.start[:2]) <= SEGMENT_START_JITTER[0] + 1e-9
        for spill in episode.spills:  # none under the start pose
            assert math.dist(spill.position, episode.start[:2]) > max(spill.size) + 0.4
    assert kinds == {'spill', 'zone'}


def test_a_situation_segment_starts_in_the_simulator(data):
    scenario = load_scenario(PATH)
    world = load_world(share_path(DEFAULT_WORLD))
    segment, episode = situation_segment(scenario, 7)
    with WarehouseSim(world, scenario) as sim:
        assert sim.start_episode(episode) == episode
        odometry = sim.odometry()
        assert (odometry.x, odometry.y, odometry.yaw) == pytest.approx(episode.start)
        spill = next(s for k in range(10) for s in sample_episode(scenario, k).spills)
        crowded = dataclasses.replace(episode, spills=(spill,) * (scenario.max_spills + 1))
        with pytest.raises(SimulationError, match='more markings than the scene was built for'):
            sim.start_episode(crowded)
        assert sim.episode == episode
