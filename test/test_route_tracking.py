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
The tracking law: the route, or a path beside it, turned into a velocity.

The navigation expert steers with it and the visuomotor policy's (speed, offset) goes through
it, in the closed loop and in the inference node alike.
"""

import math

from adapter_switcher.route_progress import RouteProgress
from adapter_switcher.route_tracking import target_arc_length
from adapter_switcher.route_tracking import track_route
from adapter_switcher.route_tracking import TrackingParams
from adapter_switcher.sim.experts import NavigationExpert
from adapter_switcher.sim.experts import NavigationParams
from adapter_switcher.sim.experts import Scan
from adapter_switcher.sim.geometry import Pose

import pytest

PARAMS = TrackingParams(lookahead=1.0, heading_gain=1.5, turn_in_place=1.2)
ROUTE = ((10.0, 0.0), (10.0, 5.0))


def test_on_the_route_the_robot_drives_straight_at_cruise_speed():
    v, w = track_route(RouteProgress(ROUTE, 0.4), (0.0, 0.0, 0.0), PARAMS)
    assert v == pytest.approx(PARAMS.cruise_speed) and w == pytest.approx(0.0)


def test_an_offset_steers_towards_the_side_it_names():
    left = track_route(RouteProgress(ROUTE, 0.4), (0.0, 0.0, 0.0), PARAMS, lambda _: 0.5)
    right = track_route(RouteProgress(ROUTE, 0.4), (0.0, 0.0, 0.0), PARAMS, lambda _: -0.5)
    assert left[1] == pytest.approx(1.5 * math.atan2(0.5, 1.0))
    assert right[1] == pytest.approx(-left[1])
    # Once the robot is there, heading along the route, it holds the offset: no turn. (The
    # first segment starts where the robot first was.)
    progress = RouteProgress(ROUTE, 0.4)
    track_route(progress, (0.0, 0.0, 0.0), PARAMS, lambda _: 0.5)
    assert track_route(progress, (2.0, 0.5, 0.0), PARAMS, lambda _: 0.5)[1] == \
        pytest.approx(0.0)


def test_a_route_with_an_origin_measures_the_robot_beside_it_from_that_line():
    # The robot starts 0.6 m left of a route that begins at (0, 0): it steers back to the
    # line, and an offset of 0.6 m holds it where it is (no origin: the first segment would
    # run from the robot to the waypoint, and the same offset would steer it 0.6 m further).
    beside = (0.0, 0.6, 0.0)
    progress = RouteProgress(ROUTE, 0.4, origin=(0.0, 0.0))
    assert track_route(progress, beside, PARAMS)[1] == pytest.approx(1.5 * math.atan2(-0.6, 1.0))
    assert track_route(progress, beside, PARAMS, lambda _: 0.6)[1] == pytest.approx(0.0)
    assert progress.carrot(beside, 1.0) == pytest.approx((1.0, 0.0))
    progress.reset()
    assert progress.segment((5.0, 2.0, 0.0))[0] == pytest.approx((0.0, 0.0))
    unanchored = RouteProgress(ROUTE, 0.4)
    assert track_route(unanchored, beside, PARAMS, lambda _: 0.6)[1] > 0.1


def test_the_speed_limit_caps_and_a_large_heading_error_turns_on_the_spot():
    progress = RouteProgress(ROUTE, 0.4)
    assert track_route(progress, (0.0, 0.0, 0.0), PARAMS, speed_limit=0.3)[0] == 0.3
    v, w = track_route(progress, (0.0, 0.0, math.pi / 2), PARAMS)   # facing away, left
    assert v == 0.0 and w == -PARAMS.max_angular


def test_the_robot_slows_before_the_corner_and_stops_at_the_goal():
    progress = RouteProgress(ROUTE, 0.4)
    track_route(progress, (0.0, 0.0, 0.0), PARAMS)
    v, _ = track_route(progress, (9.5, 0.0, 0.0), PARAMS)
    assert v == pytest.approx(PARAMS.corner_gain * 0.5 + PARAMS.min_speed)
    assert track_route(progress, (10.0, 4.9, math.pi / 2), PARAMS) == (0.0, 0.0)
    assert progress.done


def test_the_aimed_arc_length_stops_at_the_segment_end():
    progress = RouteProgress(ROUTE, 0.4)
    assert target_arc_length(progress, (0.0, 0.0, 0.0), 1.0) == pytest.approx(1.0)
    assert target_arc_length(progress, (2.0, 0.3, 0.0), 1.0) == pytest.approx(3.0)
    assert target_arc_length(progress, (9.5, 0.0, 0.0), 1.0) == pytest.approx(10.0)


def test_the_navigation_expert_steers_with_the_law_where_the_lidar_sees_nothing():
    params = NavigationParams(lookahead=1.0, heading_gain=1.5, turn_in_place=1.2)
    expert = NavigationExpert(ROUTE, 0.4, (-0.25, 0.25, -0.24, 0.24),
                              Pose((0.0, 0.0, 0.3), (1.0, 0.0, 0.0, 0.0)), params)
    nothing = Scan([math.inf] * 8, -math.pi, math.pi / 4)
    law = RouteProgress(ROUTE, 0.4)

    def offset(s):
        return 0.3 * math.sin(s)

    for pose in ((0.0, 0.0, 0.0), (3.0, 0.4, 0.2), (9.8, 0.1, 0.5), (10.1, 1.0, 1.4)):
        assert expert.act(pose, nothing, offset, 0.5) == track_route(law, pose, params,
                                                                     offset, 0.5)


def drive(route, offset, start=(0.0, 0.0, 0.0), dt=0.05, limit_s=60.0):
    """Drive a unicycle with the law holding ``offset``; return the poses and the progress."""
    progress, pose, poses = RouteProgress(route, 0.4), start, [start]
    for _ in range(int(limit_s / dt)):
        v, w = track_route(progress, pose, PARAMS, lambda _: offset, speed_limit=0.3)
        if progress.done:
            break
        x, y, yaw = pose
        pose = (x + v * math.cos(yaw) * dt, y + v * math.sin(yaw) * dt, yaw + w * dt)
        poses.append(pose)
    return poses, progress


@pytest.mark.parametrize('offset', [-0.8, 0.8])
def test_a_shifted_path_turns_at_its_own_corner_instead_of_cutting_across(offset):
    # ROUTE turns left at (10, 0). A path 0.8 m right of the route (outside the turn) has its
    # corner at (10.8, -0.8), one 0.8 m left (inside) at (9.2, 0.8): the robot keeps to the
    # shifted path around the turn, so a spill on the corner waypoint stays clear of it.
    poses, progress = drive(ROUTE + ((10.0, 10.0),), offset)
    corner = [math.hypot(x - 10.0, y) for x, y, _ in poses]
    assert progress.waypoints_reached >= 2
    assert min(corner) > 0.75 * abs(offset)
    if offset < 0:   # outside: it drives past the waypoint before turning, up to the corner
        assert max(x for x, _, _ in poses) > 10.0 + 0.6
    else:            # inside: it turns before it
        assert max(x for x, _, _ in poses) < 10.0 - 0.3


def test_a_path_shifted_on_the_last_segment_ends_at_the_goal():
    # The goal is reached only within the tolerance: an offset held to the end narrows to the
    # distance left, instead of keeping the robot beside the goal for good.
    poses, progress = drive(((10.0, 0.0),), 0.8)
    assert progress.done
    assert math.hypot(poses[-1][0] - 10.0, poses[-1][1]) < 0.4


def test_the_corner_slope_is_zero_at_the_goal_and_signed_by_the_turn():
    left = RouteProgress(((10.0, 0.0), (10.0, 5.0)), 0.4)
    right = RouteProgress(((10.0, 0.0), (10.0, -5.0)), 0.4)
    straight = RouteProgress(((10.0, 0.0), (20.0, 0.0)), 0.4)
    assert left.corner_slope((0.0, 0.0, 0.0)) == pytest.approx(1.0)      # tan(45 degrees)
    assert right.corner_slope((0.0, 0.0, 0.0)) == pytest.approx(-1.0)
    assert straight.corner_slope((0.0, 0.0, 0.0)) == pytest.approx(0.0)
    assert RouteProgress(((10.0, 0.0),), 0.4).corner_slope((0.0, 0.0, 0.0)) == 0.0
    back = RouteProgress(((10.0, 0.0), (0.0, 0.1)), 0.4)                 # nearly a U-turn
    assert back.corner_slope((0.0, 0.0, 0.0)) == 2.0


def test_a_detour_growing_at_the_turn_still_gets_round_it():
    # A detour that fades in at the turn (a spill just round it): where the law aims at the
    # corner of the shifted path, it aims with the shift that corner was placed by, so a robot
    # that gets there is level with its own turn. Aimed with the shift at the corner point
    # instead (smaller, still fading in), the robot stood on its target short of its turn,
    # turning on the spot until the time ran out.
    def offset(s):
        return 0.8 * min(max((s - 8.0) / 2.0, 0.0), 1.0)   # full at the waypoint

    progress = RouteProgress(ROUTE + ((10.0, 10.0),), 0.4, origin=(0.0, 0.0))
    pose = (7.0, 0.0, 0.0)
    for _ in range(int(40.0 / 0.05)):
        v, w = track_route(progress, pose, PARAMS, offset, speed_limit=0.3)
        if progress.waypoints_reached >= 1:
            break
        x, y, yaw = pose
        pose = (x + v * math.cos(yaw) * 0.05, y + v * math.sin(yaw) * 0.05, yaw + w * 0.05)
    assert progress.waypoints_reached >= 1
