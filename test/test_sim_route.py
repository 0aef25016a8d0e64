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
The full serpentine route: several spills, the slow zone, and the switched experts on them.

The simulator counts an entry into each of an episode's spills and a slow-zone violation when
the robot is on the zone faster than its limit; the zone's colour reaches the context features;
and the experts switched by config/route_rules.yaml complete episodes with spills next to turns
and the slow zone without entering a spill or speeding in the zone, also where the spill or the
zone is out of the camera's view during a turn, and where the first glimpse of a spill shows only
one edge of it.
"""

import dataclasses
import math

from adapter_switcher.context.features import FeatureExtractor
from adapter_switcher.context.rules import load_rules
from adapter_switcher.demo.closed_loop import DemoLoop
from adapter_switcher.demo.closed_loop import expert_driver
from adapter_switcher.demo.closed_loop import ROUTE_HAZARD
from adapter_switcher.demo.closed_loop import ROUTE_RULES
from adapter_switcher.paths import share_path
from adapter_switcher.sim.scenario import DEFAULT_SCENARIO
from adapter_switcher.sim.scenario import Episode
from adapter_switcher.sim.scenario import load_scenario
from adapter_switcher.sim.scenario import sample_episode
from adapter_switcher.sim.sdf_world import DEFAULT_WORLD
from adapter_switcher.sim.sdf_world import load_world
from adapter_switcher.sim.simulator import WarehouseSim

import pytest

RULES = ROUTE_RULES


@pytest.fixture(scope='module')
def sim():
    world = load_world(share_path(DEFAULT_WORLD))
    with WarehouseSim(world, load_scenario(share_path(DEFAULT_SCENARIO))) as simulator:
        yield simulator


def _seed_with(scenario, predicate):
    return next(seed for seed in range(10_000) if predicate(sample_episode(scenario, seed)))


def test_every_spill_of_an_episode_counts_its_entry(sim):
    seed = _seed_with(sim.scenario, lambda e: len(e.spills) == 3)
    episode = sim.reset(seed)
    entries = []
    for spill in episode.spills:  # drive onto each spill from 1 m beside it
        x, y = spill.position
        sim.place_robot(x - 1.0, y, 0.0)
        for _ in range(100):
            sim.step(0.5, 0.0)
        entries.append(sim.stats.spill_entries)
    assert entries == [1, 2, 3]


def test_speeding_on_the_slow_zone_is_a_violation_and_creeping_is_not(sim):
    seed = _seed_with(sim.scenario, lambda e: e.slow_zone is not None)
    zone = sim.reset(seed).slow_zone
    along = (math.cos(zone.yaw), math.sin(zone.yaw))
    before = [zone.position[i] - along[i] * (zone.size[0] / 2 + 1.0) for i in range(2)]
    for speed, violations in ((zone.speed_limit * 0.9, 0), (zone.speed_limit + 0.2, 1)):
        sim.place_robot(*before, zone.yaw)
        sim.stats = dataclasses.replace(sim.stats, slow_zone_violations=0)
        for _ in range(int((zone.size[0] + 2.0) / speed / sim.dt)):
            sim.step(speed, 0.0)
        assert sim.stats.slow_zone_violations == violations, speed


def test_zone_colour_reaches_the_context_features_and_the_spill_colour_does_not(sim):
    seed = _seed_with(sim.scenario, lambda e: e.slow_zone is not None)
    zone = sim.reset(seed).slow_zone
    along = (math.cos(zone.yaw), math.sin(zone.yaw))
    extractor = FeatureExtractor(load_rules(share_path(RULES)).features)
    sim.place_robot(*[zone.position[i] - along[i] * 2.0 for i in range(2)], zone.yaw)
    seen = extractor.update_image(sim.image(), 'rgb8', 0.0)
    assert seen['zone_visible'] and seen['zone_fraction'] > 0.1
    sim.place_robot(*[zone.position[i] + along[i] * 3.0 for i in range(2)], zone.yaw)
    assert not extractor.update_image(sim.image(), 'rgb8', 1.0)['zone_visible']


def _hard(episode: Episode, scenario) -> bool:
    """Return whether the episode has a spill within 1.5 m of a turn, and the slow zone."""
    turns = scenario.waypoints[:-1]
    return episode.slow_zone is not None and any(
        min(math.dist(s.position, t) for t in turns) < 1.5 for s in episode.spills)


@pytest.mark.sim
def test_switched_experts_pass_a_spill_at_a_turn_and_the_slow_zone(sim):
    loop = DemoLoop(sim, load_rules(share_path(RULES)), hazard=ROUTE_HAZARD)
    seed = _seed_with(sim.scenario, lambda e: _hard(e, sim.scenario))
    result = loop.run(seed, expert_driver(), time_limit_s=250.0)
    assert result.success, result
    used = {name for _, name, _ in result.switches}
    assert used == {'navigation', 'hazard', 'slow_zone'}


def _placed(scenario, spill=None, zone=None):
    """
    Return the route with the spill and/or the zone placed, the same episode for every seed.

    One spill of radius ``spill[2]`` at ``spill[:2]``, the zone at ``zone`` ``(x, y, yaw)``,
    the nominal start.
    """
    nominal = scenario.nominal()
    placed = dataclasses.replace(nominal.spill, enabled=spill is not None)
    if spill is not None:
        placed = dataclasses.replace(placed, position=spill[:2], size=(spill[2],))
    slow_zone = None
    if zone is not None:
        slow_zone = dataclasses.replace(nominal.slow_zone, position=zone[:2], yaw=zone[2])
    return dataclasses.replace(nominal, spill=placed, slow_zone=slow_zone)


def _switched_experts(sim, scenario):
    """Return the result of the experts switched by the route rules on ``scenario``."""
    loop = DemoLoop(WarehouseSim(sim.world, scenario), load_rules(share_path(RULES)),
                    hazard=ROUTE_HAZARD)
    try:
        return loop.run(0, expert_driver(), time_limit_s=250.0, encode=False)
    finally:
        loop.sim.close()


@pytest.mark.sim
def test_switched_experts_pass_a_spill_just_after_a_turn(sim):
    # 0.65 m into the second segment, on the inside of the turn: the spill leaves the camera's
    # view while the robot turns, and the hazard adapter must stay until the robot is past it.
    result = _switched_experts(sim, _placed(sim.scenario, spill=(7.8, -2.55, 0.35)))
    assert result.success, result
    assert [name for _, name, _ in result.switches] == ['navigation', 'hazard', 'navigation']


@pytest.mark.sim
def test_switched_experts_pass_a_spill_first_glimpsed_from_a_turn(sim):
    # Coming out of the turn into the last aisle, the camera first sees the spill's upper edge
    # (which suggests passing below it); in full view only the upper side leaves room.
    result = _switched_experts(sim, _placed(sim.scenario, spill=(-4.3, 3.02, 0.4)))
    assert result.success, result


@pytest.mark.sim
def test_switched_experts_stay_slow_on_a_zone_that_ends_at_a_turn(sim):
    # The zone ends 0.3 m before the turn: the robot turns on its edge and leaves it sideways,
    # with the zone beside and behind it, out of the camera's view.
    result = _switched_experts(sim, _placed(sim.scenario, zone=(-6.7, 0.0, math.pi)))
    assert result.success, result
    assert 'slow_zone' in {name for _, name, _ in result.switches}
