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
The scripted experts in the embedded simulator, without ROS.

The navigation expert completes the route without touching anything, and drives through a
spill on the route; the hazard expert completes the same route without ever entering the spill,
over several randomized episodes, and fails to when its camera cannot segment the spill colour,
which shows it avoids what it sees, not the simulator's ground truth.
"""

import dataclasses
import math

from adapter_switcher.demo.closed_loop import ROUTE_HAZARD
from adapter_switcher.paths import share_path
from adapter_switcher.sim.experts import detour_side
from adapter_switcher.sim.experts import hazard_expert
from adapter_switcher.sim.experts import HazardExpert
from adapter_switcher.sim.experts import navigation_expert
from adapter_switcher.sim.experts import Scan
from adapter_switcher.sim.rollout import run_expert
from adapter_switcher.sim.scenario import DEFAULT_SCENARIO
from adapter_switcher.sim.scenario import load_scenario
from adapter_switcher.sim.scenario import sample_episode
from adapter_switcher.sim.sdf_world import DEFAULT_WORLD
from adapter_switcher.sim.sdf_world import load_world
from adapter_switcher.sim.simulator import WarehouseSim

import numpy as np
import pytest


@pytest.fixture(scope='module')
def world():
    return load_world(share_path(DEFAULT_WORLD))


@pytest.fixture(scope='module')
def scenario():
    """Return the route with one spill around its configured place (no route placement)."""
    full = load_scenario(share_path(DEFAULT_SCENARIO))
    return dataclasses.replace(full, slow_zone=None, randomization=dataclasses.replace(
        full.randomization, spill_count=None))


@pytest.mark.sim
@pytest.mark.parametrize('seed', [0, 1])
def test_navigation_expert_completes_the_route(world, scenario, seed):
    with WarehouseSim(world, scenario.without_spill(), seed=seed) as sim:
        expert = navigation_expert(world, scenario)
        rollout = run_expert(sim, expert, time_limit_s=150.0)
        last = np.asarray(rollout.poses[-1][:2])
    assert rollout.completed and rollout.waypoints_reached == len(scenario.waypoints)
    assert rollout.collisions == 0
    assert np.linalg.norm(last - scenario.waypoints[-1]) < scenario.tolerance + 0.1


@pytest.mark.sim
def test_navigation_expert_alone_drives_through_a_spill_on_the_route(world, scenario):
    with WarehouseSim(world, scenario, seed=0) as sim:
        rollout = run_expert(sim, navigation_expert(world, scenario), time_limit_s=150.0)
    assert rollout.completed and rollout.spill_entries >= 1


@pytest.mark.sim
@pytest.mark.parametrize('seed', [0, 3, 4])
def test_hazard_expert_avoids_the_spill_and_completes_the_route(world, scenario, seed):
    with WarehouseSim(world, scenario, seed=seed) as sim:
        expert = hazard_expert(world, scenario)
        rollout = run_expert(sim, expert, time_limit_s=150.0)
        spill = sim.episode.spill
    assert rollout.completed and rollout.collisions == 0
    assert rollout.spill_entries == 0
    assert any(rollout.spill_visible)
    xmin, xmax, ymin, ymax = expert.spill_box  # what the camera saw contains the spill centre
    assert xmin <= spill.position[0] <= xmax and ymin <= spill.position[1] <= ymax


@pytest.mark.sim
def test_hazard_expert_slows_down_while_the_spill_is_in_view(world, scenario):
    with WarehouseSim(world, scenario, seed=0) as sim:
        expert = hazard_expert(world, scenario)
        rollout = run_expert(sim, expert, time_limit_s=150.0)
    speeds = np.array([v for v, _ in rollout.commands])
    visible = np.array(rollout.spill_visible)
    assert speeds[visible].max() <= expert.params.hazard_speed + 1e-9
    assert speeds[~visible].max() > expert.params.hazard_speed


@pytest.mark.sim
def test_hazard_expert_blind_to_the_spill_colour_drives_into_it(world, scenario):
    with WarehouseSim(world, scenario, seed=0) as sim:
        sighted = hazard_expert(world, scenario)
        blind = HazardExpert(sighted.navigation, sighted.camera, (0, 0, 0), (0, 0, 0))
        rollout = run_expert(sim, blind, time_limit_s=150.0)
    assert not any(rollout.spill_visible)
    assert rollout.spill_entries >= 1


@pytest.mark.sim
def test_spill_estimate_from_2m_is_close_to_the_truth(world, scenario):
    nominal = scenario.nominal()
    sx, sy = nominal.spill.position
    radius = nominal.spill.size[0]
    with WarehouseSim(world, nominal) as sim:
        sim.place_robot(sx - 2.0, sy, 0.0)
        expert = hazard_expert(world, scenario)
        assert expert.observe(sim.image(), (sx - 2.0, sy, 0.0))
    xmin, xmax, ymin, ymax = expert.spill_box
    assert (xmin + xmax) / 2 == pytest.approx(sx, abs=0.1)
    assert (ymin + ymax) / 2 == pytest.approx(sy, abs=0.03)
    assert ymax - ymin == pytest.approx(2 * radius, abs=0.06)


def test_clearances_come_from_the_lidar_around_the_footprint(world, scenario):
    expert = navigation_expert(world, scenario)
    xmin, xmax, ymin, ymax = world.robot.footprint()
    mount_x = world.robot.lidar.pose.position[0]
    angles = np.radians(np.arange(-180, 180, 1.0))
    # A wall 1 m ahead of the lidar, 0.5 m to the left; nothing to the right.
    ranges = np.full(360, np.inf)
    ahead = np.abs(angles) < math.radians(10)
    ranges[ahead] = 1.0 / np.cos(angles[ahead])
    left = np.abs(angles - math.pi / 2) < math.radians(10)
    ranges[left] = 0.5 / np.cos(angles[left] - math.pi / 2)
    front, left_gap, right_gap = expert.clearances(Scan(ranges, -math.pi, math.radians(1.0)))
    assert front == pytest.approx(mount_x + 1.0 - xmax, abs=1e-6)
    assert left_gap == pytest.approx(0.5 - ymax, abs=1e-6)
    assert right_gap == math.inf


def test_navigation_expert_stops_before_an_obstacle_ahead(world, scenario):
    expert = navigation_expert(world, scenario)
    ranges = np.full(360, np.inf)
    ranges[170:191] = 0.3  # something 0.3 m ahead of the lidar
    v, _ = expert.act((-7.0, -3.2, 0.0), Scan(ranges, -math.pi, math.radians(1.0)))
    assert v == 0.0
    clear = Scan(np.full(360, np.inf), -math.pi, math.radians(1.0))
    v, _ = expert.act((-7.0, -3.2, 0.0), clear)
    assert v > 0.5


@pytest.mark.sim
def test_path_command_is_the_detour_before_the_look_ahead_check(world, scenario):
    nominal = scenario.nominal()
    sx, sy = nominal.spill.position
    lidar = world.robot.lidar
    with WarehouseSim(world, nominal) as sim:
        expert = hazard_expert(world, scenario)
        sim.place_robot(sx - 2.0, sy, 0.0)
        assert expert.observe(sim.image(), (sx - 2.0, sy, 0.0))
        scan = Scan(sim.scan(), lidar.min_angle, lidar.angle_increment)
        free = expert.act((sx - 2.0, sy, 0.0), scan)
        assert free == expert.path_command  # 2 m away: the detour is driven as planned
        close = (sx - 0.8, sy, -0.3)  # turning away, but the detour still grazes the spill
        sim.place_robot(*close)
        command = expert.act(close, Scan(sim.scan(), lidar.min_angle, lidar.angle_increment))
    assert expert.path_command[0] > 0.0 and command != expert.path_command


def test_a_centred_spill_is_passed_on_the_left_from_the_centre_line():
    assert detour_side((0.7, -0.7), 0.0, 0.9) == 1.0
    assert detour_side((0.7, -0.7), 0.05, 0.9) == 1.0
    assert detour_side((0.7, -0.7), -0.05, 0.9) == -1.0  # already right of it: keep right


def test_a_spill_clearly_left_of_the_robot_is_passed_on_the_right():
    assert detour_side((1.0, -0.3), 0.0, 0.9) == -1.0
    assert detour_side((0.3, -1.0), 0.0, 0.9) == 1.0


def test_the_side_the_shelves_leave_no_room_on_is_not_taken():
    # The robot is left of the spill's centre, but the capped left shift would not clear it.
    assert detour_side((1.4, -0.2), 0.5, 0.9) == -1.0


@pytest.mark.sim
def test_the_detour_side_follows_the_robot_not_its_first_sighting(world, scenario):
    """
    One image, one label: the side follows where the robot is, not how it first saw the spill.

    Both experts start on the aisle's centre line 4 m before the spill (which sets the route
    segment). One then sees the spill from 0.3 m left of it, and later from 0.12 m right of it:
    there it plans what the expert that never was on the left plans, a detour on the right
    (hysteresis on the first choice kept the left, across the spill).
    """
    sx, sy = scenario.nominal().spill.position
    aisle = dataclasses.replace(scenario, waypoints=((-8.0, 0.0), (-8.0, 3.2)))  # driven in -x
    lidar = world.robot.lidar

    def plan(expert, sim, pose):
        sim.place_robot(*pose)
        assert expert.observe(sim.image(), pose)
        expert.act(pose, Scan(sim.scan(), lidar.min_angle, lidar.angle_increment))
        return expert.path_command

    centre = (sx + 4.0, sy, math.pi)
    left, right = (sx + 2.5, sy - 0.3, math.pi), (sx + 2.0, sy + 0.12, math.pi)
    with WarehouseSim(world, aisle.nominal()) as sim:
        remembering, fresh = hazard_expert(world, aisle), hazard_expert(world, aisle)
        for pose in (centre, left):
            plan(remembering, sim, pose)
        plan(fresh, sim, centre)
        v, w = plan(remembering, sim, right)
        assert w < 0.0
        assert (v, w) == pytest.approx(plan(fresh, sim, right), abs=0.05)


@pytest.mark.sim
def test_a_spill_just_round_a_turn_is_detoured_from_before_it_on_one_side(world, scenario):
    """
    A spill 1.2 m into the cross-aisle: the detour begins on the aisle, and keeps its side.

    The robot drives +x towards the left turn at (8, -3.2); the spill lies 0.1 m right of the
    cross-aisle's centre line, 1.2 m along it. Planned on the segment the robot was on, it was
    no detour until the robot had turned; planned along the route, the offset already leans to
    the spill's wide side (left of the cross-aisle, which is left of the aisle too) before the
    turn, and after the turn it is the same side.
    """
    drawn = sample_episode(scenario.nominal(), 0)
    spill = dataclasses.replace(drawn.spills[0], position=(8.1, -2.0))
    before, after = (6.0, -3.2, 0.0), (8.0, -2.95, math.pi / 2)
    lidar = world.robot.lidar
    with WarehouseSim(world, scenario) as sim:
        sim.start_episode(dataclasses.replace(drawn, start=before, spills=(spill,)))
        expert = hazard_expert(world, scenario, ROUTE_HAZARD)
        offsets = []
        for pose in (before, after):
            sim.place_robot(*pose)
            assert expert.observe(sim.image(), pose)
            expert.act(pose, Scan(sim.scan(), lidar.min_angle, lidar.angle_increment))
            offsets.append(expert.planned_offset(pose, 0.6))
        assert expert.waypoints_reached == 1   # round the turn
    assert offsets[0] > 0.2
    assert offsets[1] >= offsets[0]
