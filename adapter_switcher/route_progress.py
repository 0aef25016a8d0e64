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
Progress along a route of waypoints, and the carrot ahead on it: plain numpy, no ROS, no sim.

Shared by the simulator's navigation expert and the inference node's plan follower, so the
learned policy's route input is computed the same way in training and on the robot, and the
node does not import the simulator's experts (OpenCV vision, world geometry) to get it.
"""

from typing import Optional, Sequence, Tuple

import numpy as np

PlanarPose = Tuple[float, float, float]


class RouteProgress:
    """
    Progress along a route of waypoints, and the carrot ahead on it.

    The navigation expert (:mod:`adapter_switcher.sim.experts`) tracks its route with it, and
    so does the inference node along the plan it is given
    (:mod:`adapter_switcher.nodes.route_plan`): the learned policy's route input is the same on
    the robot as in training.
    """

    def __init__(self, waypoints: Sequence[Sequence[float]], tolerance: float,
                 origin: Optional[Sequence[float]] = None):
        if len(waypoints) == 0:
            raise ValueError('the route needs at least one waypoint')
        self.waypoints = np.asarray(waypoints, dtype=float)
        self.tolerance = float(tolerance)
        # Where the first segment starts: by default where the robot is when first asked.
        # A route that begins on a line the robot starts beside (a stretch of a longer route)
        # names it, so offsets and the carrot are measured from that line, not a slanted one.
        self.origin = None if origin is None else np.asarray(origin, dtype=float)[:2]
        self.reset()

    def reset(self):
        """Start the route again from the first waypoint."""
        self.waypoints_reached = 0
        self._segment_start: Optional[np.ndarray] = self.origin
        self._route_start: Optional[np.ndarray] = self.origin

    @property
    def done(self) -> bool:
        """Whether the last waypoint has been reached."""
        return self.waypoints_reached == len(self.waypoints)

    def segment(self, pose: PlanarPose) -> Tuple[np.ndarray, np.ndarray]:
        """Return the current segment ``(start, end)``, the first from ``origin`` or ``pose``."""
        if self._segment_start is None:
            self._segment_start = self._route_start = np.asarray(pose[:2], dtype=float)
        return self._segment_start, self.waypoints[min(self.waypoints_reached,
                                                       len(self.waypoints) - 1)]

    def advance(self, pose: PlanarPose) -> None:
        """Count every waypoint the robot at ``pose`` has now reached."""
        position = np.asarray(pose[:2], dtype=float)
        self.segment(pose)
        while not self.done and self._reached(position):
            self._segment_start = self.waypoints[self.waypoints_reached]
            self.waypoints_reached += 1

    def carrot(self, pose: PlanarPose, distance: float) -> np.ndarray:
        """
        Return the route point ``distance`` ahead of the robot, in the world frame.

        Measured from the robot's projection on the current segment and continuing around the
        next waypoints, so a turn shows before the robot reaches it; the goal once it is nearer.
        This is the route input of the learned policy (what a global planner hands a local one).
        """
        start, end = self.segment(pose)
        position = np.asarray(pose[:2], dtype=float)
        length, along, _ = segment_frame(start, end, position)
        point = start + along * min(max(float(np.dot(position - start, along)), 0.0), length)
        remaining = distance
        for waypoint in self.waypoints[min(self.waypoints_reached, len(self.waypoints) - 1):]:
            step = float(np.linalg.norm(waypoint - point))
            if step >= remaining:
                return point + (waypoint - point) * (remaining / max(step, 1e-9))
            remaining -= step
            point = waypoint
        return point

    def polyline(self, pose: PlanarPose) -> np.ndarray:
        """
        Return the whole route as (count, 2) points: its start, then every waypoint.

        It starts where the first segment does (:meth:`segment`: ``origin``, or the first
        pose asked with). What a plan made along the whole route (a detour past a spill round
        a turn) is measured on.
        """
        self.segment(pose)
        return np.vstack([self._route_start[None, :], self.waypoints])

    def corner_slope(self, pose: PlanarPose) -> float:
        """
        Return ``tan(turn / 2)`` of the turn at the current waypoint (left turns positive).

        A path ``d`` metres left of the route turns where its offset lines meet, ``d * slope``
        before the waypoint along the current segment (after it where that is negative: on the
        outside of the turn). 0 at the goal, where nothing turns; capped at 2 (a turn of 127
        degrees), since the offset lines of a U-turn never meet.
        """
        if self.waypoints_reached >= len(self.waypoints) - 1:
            return 0.0
        start, waypoint = self.segment(pose)
        _, along, _ = segment_frame(start, waypoint, np.asarray(pose[:2], dtype=float))
        _, onward, _ = segment_frame(waypoint, self.waypoints[self.waypoints_reached + 1],
                                     waypoint)
        cross = float(along[0] * onward[1] - along[1] * onward[0])
        dot = float(np.dot(along, onward))
        return max(-2.0, min(2.0, cross / max(1.0 + dot, 1e-9)))

    def _reached(self, position: np.ndarray) -> bool:
        """
        Whether the current waypoint counts as reached.

        Within ``tolerance`` of it; an intermediate waypoint also once the robot is level with
        the turn of the path it drives (the route shifted sideways to where the robot is, a
        detour's offset: :meth:`corner_slope`), even if that keeps it off to the side (else a
        spill next to a turn would leave the robot circling a waypoint it must not drive onto).
        Level with the shifted path's turn, not the waypoint's: a robot on the outside of a
        turn that turned at the waypoint would cut across the corner it was kept off.
        """
        waypoint = self.waypoints[self.waypoints_reached]
        if np.linalg.norm(waypoint - position) < self.tolerance:
            return True
        if self.waypoints_reached == len(self.waypoints) - 1:
            return False
        start = self._segment_start
        length, along, normal = segment_frame(start, waypoint, position)
        across = float(np.dot(position - start, normal))
        turn = length - across * self.corner_slope(tuple(position) + (0.0,))
        return float(np.dot(position - start, along)) >= turn - self.tolerance / 2


def segment_frame(start: np.ndarray, end: np.ndarray, position: np.ndarray):
    """Return the segment length, its unit direction and left normal (degenerate: toward end)."""
    delta = end - start
    length = float(np.linalg.norm(delta))
    if length < 1e-9:
        delta = end - position
        norm = float(np.linalg.norm(delta))
        along = delta / norm if norm > 1e-9 else np.array([1.0, 0.0])
    else:
        along = delta / length
    return length, along, np.array([-along[1], along[0]])
