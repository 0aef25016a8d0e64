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
Sensors of the embedded simulator against the geometry they observe.

Lidar ranges against walls and shelves at known distances; the camera sees the spill from 2 m
and sees nothing of its colour anywhere else; odometry integrates the commanded velocities
exactly, within the drive's limits, and stops at obstacles.
"""

from dataclasses import replace
import math

from adapter_switcher.paths import share_path
from adapter_switcher.sim.scenario import DEFAULT_SCENARIO
from adapter_switcher.sim.scenario import load_scenario
from adapter_switcher.sim.sdf_world import DEFAULT_WORLD
from adapter_switcher.sim.sdf_world import load_world
from adapter_switcher.sim.simulator import WarehouseSim
from adapter_switcher.sim.vision import spill_mask

import numpy as np
import pytest

# From worlds/warehouse.sdf: inner face of the west wall, faces of the middle aisle's shelves,
# the lidar 0.1 m ahead of base_link.
WEST_WALL_X = -10.0
AISLE_HALF_WIDTH = 1.2
LIDAR_AHEAD = 0.1


@pytest.fixture(scope='module')
def world():
    return load_world(share_path(DEFAULT_WORLD))


@pytest.fixture(scope='module')
def scenario():
    return load_scenario(share_path(DEFAULT_SCENARIO)).nominal()


@pytest.fixture
def sim(world, scenario):
    with WarehouseSim(world, scenario) as simulator:
        yield simulator


def _beam(sim, angle):
    spec = sim.world.robot.lidar
    return int(round((angle - spec.min_angle) / spec.angle_increment))


def test_lidar_measures_a_known_wall_within_1cm(sim):
    sim.place_robot(-8.0, 0.0, math.pi)  # facing the west wall from the cross-aisle
    ranges = sim.scan()
    lidar_x = -8.0 - LIDAR_AHEAD
    spec = sim.world.robot.lidar
    checked = 0
    for angle in np.radians(np.arange(-30, 31, 5)):
        measured = ranges[_beam(sim, angle)]
        beam_angle = spec.min_angle + _beam(sim, angle) * spec.angle_increment
        expected = (lidar_x - WEST_WALL_X) / math.cos(beam_angle)
        assert abs(measured - expected) < 0.01, (math.degrees(angle), measured, expected)
        checked += 1
    assert checked == 13


def test_lidar_measures_aisle_shelves_on_both_sides(sim):
    sim.place_robot(0.0, 0.0, 0.0)
    ranges = sim.scan()
    assert ranges[_beam(sim, math.pi / 2)] == pytest.approx(AISLE_HALF_WIDTH, abs=0.01)
    assert ranges[_beam(sim, -math.pi / 2)] == pytest.approx(AISLE_HALF_WIDTH, abs=0.01)


def test_lidar_reports_no_return_as_infinity_and_never_sees_the_robot(sim):
    sim.place_robot(-8.0, 0.0, 0.0)  # 17.8 m of aisle ahead, beyond the 10 m range
    ranges = sim.scan()
    assert ranges.dtype == np.float32 and len(ranges) == 360
    assert ranges[_beam(sim, 0.0)] == np.inf
    finite = ranges[np.isfinite(ranges)]
    assert finite.size > 0 and finite.min() > 0.5  # the robot's own shapes would be < 0.3 m


def test_lidar_rotates_with_the_robot(sim):
    sim.place_robot(0.0, 0.0, math.pi / 2)  # facing the shelf at y = +1.2
    ranges = sim.scan()
    assert ranges[_beam(sim, 0.0)] == pytest.approx(AISLE_HALF_WIDTH - LIDAR_AHEAD, abs=0.01)


def _spill_fraction(image, scenario):
    return spill_mask(image, scenario.spill.hsv_lower, scenario.spill.hsv_upper).mean()


def test_camera_sees_the_spill_from_2m_ahead(sim, scenario):
    sx, sy = scenario.spill.position
    sim.place_robot(sx - 2.0, sy, 0.0)
    image = sim.image()
    assert image.shape == (120, 160, 3) and image.dtype == np.uint8
    mask = spill_mask(image, scenario.spill.hsv_lower, scenario.spill.hsv_upper)
    assert mask.mean() > 0.01
    columns = np.nonzero(mask)[1]
    assert abs(columns.mean() - (160 - 1) / 2) < 3  # straight ahead: centred in the image


def test_camera_sees_the_spill_off_to_the_side_in_that_half_of_the_image(sim, scenario):
    sx, sy = scenario.spill.position
    sim.place_robot(sx - 2.0, sy - 0.5, 0.0)  # spill ahead and to the left
    mask = spill_mask(sim.image(), scenario.spill.hsv_lower, scenario.spill.hsv_upper)
    assert mask.any() and np.nonzero(mask)[1].mean() < 70


@pytest.mark.parametrize('pose', [(-7.0, -3.2, 0.0), (8.0, 0.0, math.pi / 2), (0.0, 3.2, math.pi),
                                  (-8.0, 0.0, -math.pi / 2), (-2.0, 0.0, math.pi)])
def test_nothing_else_in_the_world_has_the_spill_colour(world, scenario, pose):
    with WarehouseSim(world, scenario.without_spill()) as sim:
        sim.place_robot(*pose)
        assert _spill_fraction(sim.image(), scenario) == 0.0


def test_camera_does_not_see_the_spill_behind_the_robot(sim, scenario):
    sx, sy = scenario.spill.position
    sim.place_robot(sx + 2.0, sy, 0.0)
    assert _spill_fraction(sim.image(), scenario) == 0.0


def test_odometry_integrates_an_arc_exactly(sim):
    sim.place_robot(-4.0, 0.0, 0.0)
    v, w, duration = 0.5, 0.1, 4.0
    start_ns = sim.time_ns
    steps = round(duration / sim.dt)
    for _ in range(steps):
        assert not sim.step(v, w)
    odometry = sim.odometry()
    radius, heading = v / w, w * duration
    assert odometry.x == pytest.approx(-4.0 + radius * math.sin(heading), abs=1e-9)
    assert odometry.y == pytest.approx(radius * (1 - math.cos(heading)), abs=1e-9)
    assert odometry.yaw == pytest.approx(heading, abs=1e-9)
    assert (odometry.linear, odometry.angular) == (v, w)
    assert sim.time_ns - start_ns == steps * sim.dt_ns
    assert sim.stats.distance == pytest.approx(radius * heading, rel=1e-6)


def test_odometry_integrates_a_straight_line_and_a_turn_on_the_spot(sim):
    sim.place_robot(-4.0, 0.0, 0.0)
    for _ in range(200):
        sim.step(0.75, 0.0)
    for _ in range(100):
        sim.step(0.0, -math.pi / 2)
    odometry = sim.odometry()
    assert (odometry.x, odometry.y) == pytest.approx((-2.5, 0.0), abs=1e-9)
    assert odometry.yaw == pytest.approx(-math.pi / 2, abs=1e-9)


def test_commands_are_clamped_to_the_drive_limits(sim):
    sim.place_robot(-4.0, 0.0, 0.0)
    drive = sim.world.robot.drive
    sim.step(5.0, -9.0)
    odometry = sim.odometry()
    assert (odometry.linear, odometry.angular) == (drive.max_linear_velocity,
                                                   drive.min_angular_velocity)


def test_driving_into_a_shelf_stops_at_it_and_reports_the_collision(sim):
    sim.place_robot(0.0, 0.0, math.pi / 2)
    for _ in range(300):
        sim.step(0.5, 0.0)
    odometry = sim.odometry()
    front = sim.world.robot.footprint()[1]
    assert sim.collision and sim.stats.collisions == 1
    assert (odometry.linear, odometry.angular) == (0.0, 0.0)
    assert AISLE_HALF_WIDTH - 0.5 * sim.dt <= odometry.y + front <= AISLE_HALF_WIDTH
    sim.step(-0.5, 0.0)  # backing away is free again
    assert not sim.collision and sim.stats.collisions == 1


def test_on_spill_flag_follows_the_footprint(sim, scenario):
    sx, sy = scenario.spill.position
    radius = scenario.spill.size[0]
    front = sim.world.robot.footprint()[1]
    sim.place_robot(sx - radius - front - 0.05, sy, 0.0)
    sim.step(0.0, 0.0)
    assert not sim.on_spill
    for _ in range(10):
        sim.step(1.0, 0.0)
    assert sim.on_spill and sim.stats.spill_entries == 1


def test_on_spill_flag_follows_a_turned_box_spill(world, scenario):
    box = replace(scenario.spill, shape='box', size=(1.0, 0.6), yaw=math.pi / 4)
    with WarehouseSim(world, replace(scenario, spill=box)) as sim:
        sx, sy = box.position
        # Turned 45 degrees, a corner of the box reaches 0.566 m towards the robot (-x); the
        # footprint's front edge starts 0.1 m short of it.
        front = sim.world.robot.footprint()[1]
        start = sx - 0.5 * math.hypot(1.0, 0.6) * math.cos(math.pi / 4 - math.atan2(0.6, 1.0))
        sim.place_robot(start - front - 0.1, sy, 0.0)
        assert not sim.on_spill
        for _ in range(8):  # 8 cm
            sim.step(1.0, 0.0)
        assert not sim.on_spill
        for _ in range(4):  # 4 cm more: the corner is under the footprint
            sim.step(1.0, 0.0)
        assert sim.on_spill and sim.stats.spill_entries == 1
        mask = spill_mask(sim.image(), box.hsv_lower, box.hsv_upper)
        assert mask.mean() > 0.01  # the turned box renders in the spill colour


def test_same_seed_and_commands_reproduce_the_run(world):
    scenario = load_scenario(share_path(DEFAULT_SCENARIO))
    runs = []
    for _ in range(2):
        with WarehouseSim(world, scenario, seed=7) as sim:
            for i in range(150):
                sim.step(0.6, 0.3 * math.sin(i / 20))
            runs.append((sim.odometry(), sim.scan(), sim.image(), sim.episode))
    assert runs[0][0] == runs[1][0] and runs[0][3] == runs[1][3]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    with WarehouseSim(world, scenario, seed=8) as other:
        assert other.episode != runs[0][3]


def test_a_robot_that_has_not_moved_sees_what_a_fresh_render_shows(world, scenario, sim):
    sx, sy = scenario.spill.position
    sim.place_robot(sx - 2.0, sy, 0.1)
    first = sim.image()
    first[:] = 0  # the caller's copy: changing it changes nothing the simulator keeps
    sim.step(0.0, 0.0)
    again = sim.image()
    with WarehouseSim(world, scenario) as fresh:
        fresh.place_robot(sx - 2.0, sy, 0.1)
        np.testing.assert_array_equal(again, fresh.image())
    assert again.any()
    sim.step(0.5, 0.0)  # moved: a new frame, the spill nearer and bigger
    nearer = spill_mask(sim.image(), scenario.spill.hsv_lower, scenario.spill.hsv_upper)
    assert nearer.sum() > spill_mask(again, scenario.spill.hsv_lower,
                                     scenario.spill.hsv_upper).sum()


def test_a_new_episode_renders_its_own_markings_at_the_same_pose(world):
    scenario = load_scenario(share_path(DEFAULT_SCENARIO))
    with WarehouseSim(world, scenario) as sim, WarehouseSim(world, scenario) as fresh:
        seed = next(s for s in range(100) if sim.reset(s).spills)
        spill = sim.episode.spills[0].position
        pose = (spill[0] - 1.5, spill[1], 0.0)
        sim.reset(seed + 1)  # another episode, seen from that pose first
        sim.place_robot(*pose)
        before = sim.image()
        sim.reset(seed)
        sim.place_robot(*pose)
        fresh.reset(seed)
        fresh.place_robot(*pose)
        now = sim.image()
        np.testing.assert_array_equal(now, fresh.image())
        assert not np.array_equal(now, before)
