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
The route carrot on the robot: a nav_msgs/Path in, the point ahead on it in the robot frame out.

A Nav2 controller gets its route the same way: a global planner's Path on a ``plan`` topic. The
visuomotor policy was trained with the route point :data:`CARROT_DISTANCE` ahead of the robot,
its progress along the route counted waypoint by waypoint
(:class:`~adapter_switcher.route_progress.RouteProgress`); :class:`PlanFollower` counts it with
that same class along the Path's poses, so the node feeds the network what training did. A new
Path restarts the progress (the simulator publishes its route again at every reset).
"""

import math
import threading
from typing import List, Optional, Sequence, Tuple

from adapter_switcher.demo.observations import CARROT_DISTANCE
from adapter_switcher.demo.visuomotor import carrot_in_robot_frame
from adapter_switcher.demo.visuomotor import held_offset_command
from adapter_switcher.offset_hold import OffsetHold
from adapter_switcher.route_progress import RouteProgress


def path_waypoints(msg) -> List[Tuple[float, float]]:
    """Return a nav_msgs/Path's positions; ValueError if one is not finite."""
    points = [(float(p.pose.position.x), float(p.pose.position.y)) for p in msg.poses]
    for index, point in enumerate(points):
        if not all(math.isfinite(value) for value in point):
            raise ValueError(f'plan pose {index} is not finite: {point}')
    return points


class PlanFollower:
    """The latest plan and the robot's progress along it; thread-safe (callback vs tick)."""

    def __init__(self, tolerance: float, distance: float = CARROT_DISTANCE):
        self.tolerance = tolerance
        self.distance = distance
        self._lock = threading.Lock()
        self._progress: Optional[RouteProgress] = None
        self._hold = OffsetHold()
        self.frame_id = ''

    def set_plan(self, waypoints: Sequence[Sequence[float]], frame_id: str = '') -> None:
        """Follow a new route from its start; an empty one means no plan (ValueError)."""
        if len(waypoints) == 0:
            raise ValueError('the plan has no poses')
        with self._lock:
            self._progress = RouteProgress(waypoints, self.tolerance)
            self._hold.reset()
            self.frame_id = frame_id

    @property
    def has_plan(self) -> bool:
        return self._progress is not None

    def progress(self) -> Tuple[int, int]:
        """Return (poses reached, poses in the plan); (0, 0) without a plan."""
        with self._lock:
            if self._progress is None:
                return 0, 0
            return self._progress.waypoints_reached, len(self._progress.waypoints)

    @property
    def done(self) -> bool:
        """Whether the robot has reached the plan's last pose."""
        with self._lock:
            return self._progress is not None and self._progress.done

    def carrot(self, pose: Sequence[float]) -> Optional[Tuple[float, float]]:
        """
        Advance the progress to ``pose`` (x, y, yaw) and return the carrot in the robot frame.

        None without a plan. As in the closed loop, progress advances before the carrot is taken.
        """
        with self._lock:
            progress = self._progress
            if progress is None:
                return None
            progress.advance(pose)
            return carrot_in_robot_frame(pose, progress.carrot(pose, self.distance))

    def track(self, pose: Sequence[float], speed: float, offset: float) -> Tuple[float, float]:
        """
        Return the velocity that drives ``offset`` beside the plan at most ``speed`` (m/s).

        The closed loop's tracking law (:func:`~adapter_switcher.demo.visuomotor.
        offset_command`) along this plan from ``pose``, the offset through the plan's detour
        memory (:class:`~adapter_switcher.offset_hold.OffsetHold`); zero without a plan.
        """
        with self._lock:
            if self._progress is None:
                return 0.0, 0.0
            return held_offset_command(self._progress, pose, speed, offset, self._hold)
