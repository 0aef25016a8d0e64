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
Tracking a route, or a path shifted sideways from it: plain numpy, no ROS, no sim.

The navigation expert steers with this law (and adds its lidar terms), and so does the learned
visuomotor policy: its network says how far beside the route to drive and how fast at most
(:mod:`adapter_switcher.demo.visuomotor`), and this fixed law turns that into a velocity, on the
robot (the inference node, along its plan) as in the closed loop. Why: the hazard teacher's
turn rates (a detour's steer out, hold and steer back, on top of the route's turns, up to the
turn-on-the-spot labels at the limit) were what the network failed to imitate; the detour's
offset from the route is one number per spill, read from where the spill lies in the image.
"""

from dataclasses import dataclass
import math
from typing import Callable, Optional, Tuple

from adapter_switcher.route_progress import PlanarPose
from adapter_switcher.route_progress import RouteProgress
from adapter_switcher.route_progress import segment_frame

import numpy as np

OffsetProfile = Callable[[float], float]   # metres along the segment -> metres left of it


@dataclass(frozen=True)
class TrackingParams:
    """Gains and limits of the tracking law (metres, seconds, radians)."""

    cruise_speed: float = 0.8
    lookahead: float = 0.8
    heading_gain: float = 2.0
    max_angular: float = 1.5
    turn_in_place: float = 0.7   # heading error above which the robot turns on the spot
    corner_gain: float = 0.8     # speed <= corner_gain * distance to the waypoint + min_speed
    min_speed: float = 0.15


def track_route(progress: RouteProgress, pose: PlanarPose, params: TrackingParams,
                offset: Optional[OffsetProfile] = None, speed_limit: float = math.inf,
                lookahead: Optional[float] = None) -> Tuple[float, float]:
    """
    Return ``(v, w)`` that steer the robot at ``pose`` along the route's current segment.

    :func:`steer`, with ``w`` capped at ``params.max_angular``.
    """
    v, w = steer(progress, pose, params, offset, speed_limit, lookahead)
    return v, max(-params.max_angular, min(params.max_angular, w))


def steer(progress: RouteProgress, pose: PlanarPose, params: TrackingParams,
          offset: Optional[OffsetProfile] = None, speed_limit: float = math.inf,
          lookahead: Optional[float] = None) -> Tuple[float, float]:
    """
    Return ``(v, w)`` towards the target on the route's current segment, ``w`` not yet capped.

    Advances ``progress`` to ``pose`` first; ``(0, 0)`` once the route is done. The target is
    ``lookahead`` (default ``params.lookahead``) ahead of the robot's projection on the segment,
    shifted left by ``offset(s)`` at that arc length ``s``; ``w`` is proportional to the heading
    error, ``v`` slows with the error's cosine, stops to turn on the spot past
    ``turn_in_place``, slows near the waypoint and never exceeds ``speed_limit``. The caller
    caps ``w`` (the navigation expert adds its lidar terms first).
    """
    progress.advance(pose)
    if progress.done:
        return 0.0, 0.0
    s_target, shift, start, along, normal, end = _aim(progress, pose,
                                                      lookahead or params.lookahead, offset)
    target = start + along * s_target + normal * shift
    error = (math.atan2(target[1] - pose[1], target[0] - pose[0]) - pose[2] + math.pi) \
        % (2 * math.pi) - math.pi
    v = 0.0 if abs(error) > params.turn_in_place else params.cruise_speed * math.cos(error)
    distance = float(np.linalg.norm(end - np.asarray(pose[:2], dtype=float)))
    v = min(v, params.corner_gain * distance + params.min_speed, speed_limit)
    return v, params.heading_gain * error


def target_arc_length(progress: RouteProgress, pose: PlanarPose, lookahead: float,
                      offset: Optional[OffsetProfile] = None) -> float:
    """Return the arc length on the current segment that :func:`steer` aims at."""
    return _aim(progress, pose, lookahead, offset)[0]


def _aim(progress: RouteProgress, pose: PlanarPose, lookahead: float,
         offset: Optional[OffsetProfile]):
    """
    Return the aimed arc length and offset, and the segment's start, direction, normal, end.

    The aim runs along the segment up to where the shifted path turns
    (:meth:`RouteProgress.corner_slope`): past the waypoint on the outside of the turn, short
    of it on the inside, so the robot drives the shifted path's corner instead of cutting it.
    There it aims with the shift the corner was placed by (the offset at the look-ahead), so
    a robot that gets to its target is level with its own turn and the waypoint counts as
    reached: with the offset at the corner point itself, smaller where a detour fades in at
    a turn, the robot stood on its target short of the turn, turning on the spot for good.
    On the last segment the offset narrows to the distance left to the goal, so the robot ends
    at the goal itself: the goal is reached only within the route's tolerance, and a detour
    still held there would otherwise keep the robot beside it for good (turning on the spot
    where its target and its position meet).
    """
    start, end = progress.segment(pose)
    position = np.asarray(pose[:2], dtype=float)
    length, along, normal = segment_frame(start, end, position)
    slope = progress.corner_slope(pose)
    s = max(float(np.dot(position - start, along)), 0.0)
    shift = offset(min(s + lookahead, length)) if offset else 0.0
    corner = length - shift * slope
    s = min(s, max(length, corner))
    s_target = min(s + lookahead, corner)
    if offset and s_target < corner:
        shift = offset(s_target)
    if progress.waypoints_reached == len(progress.waypoints) - 1:
        room = max(length - s_target, 0.0)
        shift = max(-room, min(room, shift))
    return s_target, shift, start, along, normal, end
