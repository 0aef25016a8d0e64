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
Scripted experts that drive the robot from its sensors: references, and teachers for training.

:class:`NavigationExpert` follows the route: pure pursuit along the segments between waypoints
(the aisle centrelines) on odometry, with the lidar limiting speed when something is close ahead
and steering away from anything brushing the sides. :class:`HazardExpert` adds the camera: it
segments the spill by colour, projects it onto the floor, remembers where it is, slows down and
shifts the path sideways around it, then returns to the centreline. :class:`SlowExpert` drives
the route at a capped speed, for slow zones. None reads the simulator's ground truth, so all
work the same on Gazebo's topics.
"""

from dataclasses import dataclass
import math
from typing import List, Optional, Sequence, Tuple

from adapter_switcher.route_progress import PlanarPose
from adapter_switcher.route_progress import RouteProgress
from adapter_switcher.route_progress import segment_frame
from adapter_switcher.route_tracking import OffsetProfile
from adapter_switcher.route_tracking import steer
from adapter_switcher.route_tracking import target_arc_length
from adapter_switcher.route_tracking import TrackingParams
from adapter_switcher.sim.geometry import integrate_unicycle
from adapter_switcher.sim.geometry import polygons_overlap
from adapter_switcher.sim.geometry import Pose
from adapter_switcher.sim.geometry import rectangle_corners
from adapter_switcher.sim.scenario import nearest_route_segment
from adapter_switcher.sim.scenario import route_length
from adapter_switcher.sim.sdf_world import CameraSpec
from adapter_switcher.sim.vision import floor_points
from adapter_switcher.sim.vision import pixel_grid
from adapter_switcher.sim.vision import spill_mask

import cv2
import numpy as np

Bounds = Tuple[float, float, float, float]


@dataclass(frozen=True)
class Scan:
    """A planar laser scan: ranges (REP 117 infinities allowed) and their angles."""

    ranges: np.ndarray
    angle_min: float
    angle_increment: float

    def points(self, mount: Pose) -> np.ndarray:
        """Return the finite returns as ``(x, y)`` in the robot base frame (N x 2)."""
        ranges = np.asarray(self.ranges, dtype=float)
        valid = np.isfinite(ranges)
        angles = self.angle_min + self.angle_increment * np.nonzero(valid)[0] + mount.yaw
        r = ranges[valid]
        return np.stack([mount.position[0] + r * np.cos(angles),
                         mount.position[1] + r * np.sin(angles)], axis=1)


@dataclass(frozen=True)
class NavigationParams(TrackingParams):
    """The tracking law's gains (:class:`TrackingParams`) and the expert's lidar terms."""

    slow_distance: float = 1.0   # free space ahead of the footprint where slowing starts
    stop_distance: float = 0.2   # ... and where the robot stops
    side_clearance: float = 0.08  # free space beside the footprint kept by steering away
    side_gain: float = 3.0


class NavigationExpert(RouteProgress):
    """Follow the route's waypoints in order; ``done`` once the last one is reached."""

    def __init__(self, waypoints: Sequence[Sequence[float]], tolerance: float,
                 footprint: Bounds, lidar_mount: Pose,
                 params: NavigationParams = NavigationParams(),
                 origin: Optional[Sequence[float]] = None):
        super().__init__(waypoints, tolerance, origin)
        self.footprint = footprint
        self.lidar_mount = lidar_mount
        self.params = params

    def act(self, pose: PlanarPose, scan: Scan, offset: Optional[OffsetProfile] = None,
            speed_limit: float = math.inf, lookahead: Optional[float] = None
            ) -> Tuple[float, float]:
        """
        Return ``(v, w)`` for the current pose and scan.

        ``offset`` shifts the path sideways along the current segment (the hazard expert's
        detour); ``speed_limit`` caps the forward speed; ``lookahead`` replaces the usual one
        (shorter: the path is tracked more tightly).
        """
        v, w = steer(self, pose, self.params, offset, speed_limit, lookahead)
        if self.done:
            return 0.0, 0.0
        p = self.params
        front, left, right = self.clearances(scan)
        v *= min(max((front - p.stop_distance) / (p.slow_distance - p.stop_distance), 0.0), 1.0)
        w -= p.side_gain * max(p.side_clearance - left, 0.0)
        w += p.side_gain * max(p.side_clearance - right, 0.0)
        return v, max(-p.max_angular, min(p.max_angular, w))

    def clearances(self, scan: Scan) -> Tuple[float, float, float]:
        """Return the free space ahead of, left of and right of the footprint, from the lidar."""
        xmin, xmax, ymin, ymax = self.footprint
        points = scan.points(self.lidar_mount)
        x, y = points[:, 0], points[:, 1]
        beside = (x > xmin - 0.05) & (x < xmax + 0.05)
        ahead = (x > xmax) & (y > ymin - 0.05) & (y < ymax + 0.05)
        front = np.min(x[ahead] - xmax, initial=math.inf)
        left = np.min(y[beside & (y > 0)] - ymax, initial=math.inf)
        right = np.min(ymin - y[beside & (y < 0)], initial=math.inf)
        return float(front), float(left), float(right)


@dataclass(frozen=True)
class HazardParams:
    """Perception and detour settings of the hazard expert."""

    min_pixels: int = 6          # spill pixels that make the spill "visible"
    max_range: float = 6.0       # ignore floor points farther than this from the camera
    margin: float = 0.12         # free space kept between the footprint and the spill
    lead: float = 0.3            # full detour starts this far before the spill (and ends after)
    ramp: float = 1.2            # length over which the detour fades in and out
    max_offset: float = 0.9      # the detour never leaves the centreline by more than this
    hazard_speed: float = 0.4    # speed limit while a spill is visible or being passed
    merge_distance: float = 0.5  # a blob this close to a known spill's box is that spill
    detour_lookahead: Optional[float] = None  # look-ahead during a detour (None: the usual)
    look_ahead_s: float = 1.0    # a command that would reach a spill this soon turns in place
    touch_margin: float = 0.05   # ... reaching = coming this close to the spill's box
    steer_offsets: Tuple[float, ...] = (0.0, 0.4, -0.4, 0.8, -0.8, 1.5, -1.5)  # rad/s tried
    min_turn: float = 0.5        # the slowest turn on the spot the filter takes (rad/s)


class _OnRoute:
    """An expert built on the navigation expert: route progress is the navigation expert's."""

    navigation: NavigationExpert

    @property
    def done(self) -> bool:
        """Whether the route is complete."""
        return self.navigation.done

    @property
    def waypoints_reached(self) -> int:
        """Route progress."""
        return self.navigation.waypoints_reached


class HazardExpert(_OnRoute):
    """
    The navigation expert plus spill avoidance from the camera.

    Call :meth:`observe` with each camera image (and the odometry pose when it was taken), and
    :meth:`act` at the control rate. Each spill is an axis-aligned box in the odom frame, the
    union of the floor points of its blob seen so far: conservative, and stable once the robot
    is near. Several spills are told apart by their blobs in the image and where they lie.
    """

    def __init__(self, navigation: NavigationExpert, camera: CameraSpec,
                 hsv_lower: Sequence[int], hsv_upper: Sequence[int],
                 params: HazardParams = HazardParams()):
        self.navigation = navigation
        self.camera = camera
        self.hsv_lower = tuple(hsv_lower)
        self.hsv_upper = tuple(hsv_upper)
        self.params = params
        self.reset()

    def reset(self):
        """Forget the spills and start the route again."""
        self.navigation.reset()
        self.spill_boxes: List[Bounds] = []
        self._sides: List[float] = []
        self.visible = False
        self.avoiding = False
        self.path_command: Tuple[float, float] = (0.0, 0.0)
        self._profile: Optional[OffsetProfile] = None

    @property
    def spill_box(self) -> Optional[Bounds]:
        """Return the most recently seen spill's box (None before any is seen)."""
        return self.spill_boxes[self._last] if self.spill_boxes else None

    @property
    def active(self) -> bool:
        """Whether a spill shapes the current behaviour (visible, or being passed)."""
        return self.visible or self.avoiding

    def observe(self, image: np.ndarray, pose: PlanarPose) -> bool:
        """Update the spill estimates from one camera image; return whether a spill is seen."""
        mask = spill_mask(image, self.hsv_lower, self.hsv_upper)
        self.visible = False
        if np.count_nonzero(mask) < self.params.min_pixels:
            return False
        count, labels = cv2.connectedComponents(mask.astype(np.uint8))
        for label in range(1, count):
            points = floor_points(pixel_grid(labels == label), self.camera, pose,
                                  self.params.max_range)
            if len(points) < self.params.min_pixels:
                continue
            self.visible = True
            self._merge((float(points[:, 0].min()), float(points[:, 0].max()),
                         float(points[:, 1].min()), float(points[:, 1].max())))
        return self.visible

    def _merge(self, box: Bounds) -> None:
        """Grow the known spill this sighting belongs to, or remember a new one."""
        reach = self.params.merge_distance
        for index, old in enumerate(self.spill_boxes):
            if box[0] <= old[1] + reach and old[0] <= box[1] + reach and \
                    box[2] <= old[3] + reach and old[2] <= box[3] + reach:
                self.spill_boxes[index] = (min(old[0], box[0]), max(old[1], box[1]),
                                           min(old[2], box[2]), max(old[3], box[3]))
                self._last = index
                return
        self.spill_boxes.append(box)
        self._sides.append(0.0)
        self._last = len(self.spill_boxes) - 1

    def act(self, pose: PlanarPose, scan: Scan) -> Tuple[float, float]:
        """Return ``(v, w)``: the navigation command, detoured and slowed near the spills."""
        profile = self._profile = self._detour(pose)
        limit = self.params.hazard_speed if self.active else math.inf
        lookahead = self.params.detour_lookahead if profile is not None else None
        v, w = self.navigation.act(pose, scan, profile, limit, lookahead)
        self.path_command = (v, w)  # the detour before the look-ahead check below
        if v <= 0.0 or not self._drives_onto_spill(pose, v, w):
            return v, w
        # The path would reach a spill (out of a turn, a spill just ahead leaves no room to
        # shift sideways): take the nearest command that keeps off it, slower, else turn on
        # the spot (really turning: standing still would never end); if none does, keep the
        # path's command.
        limit = self.navigation.params.max_angular
        for speed in (v, v / 2, 0.0):
            for dw in sorted(self.params.steer_offsets, key=abs):
                turn = max(-limit, min(limit, w + dw))
                if speed == 0.0 and abs(turn) < self.params.min_turn:
                    continue
                if not self._drives_onto_spill(pose, speed, turn):
                    return speed, turn
        return v, w

    def planned_offset(self, pose: PlanarPose, lookahead: float) -> float:
        """
        Return the detour's offset from the route (left positive) ``lookahead`` ahead of ``pose``.

        From the detour planned at the last :meth:`act` (0 without one): what the learned
        policy imitates, tracked with the same law (:mod:`adapter_switcher.route_tracking`).
        """
        if self._profile is None:
            return 0.0
        return self._profile(target_arc_length(self.navigation, pose, lookahead, self._profile))

    def _drives_onto_spill(self, pose: PlanarPose, v: float, w: float) -> bool:
        """Whether holding ``(v, w)`` for ``look_ahead_s`` puts the footprint on a known spill."""
        p = self.params
        footprint = self.navigation.footprint
        m = p.touch_margin
        boxes = [rectangle_corners(0.0, 0.0, 0.0, (b[0] - m, b[1] + m, b[2] - m, b[3] + m))
                 for b in self.spill_boxes]
        if not boxes:
            return False
        for fraction in (0.25, 0.5, 0.75, 1.0):
            x, y, yaw = integrate_unicycle(*pose, v, w, p.look_ahead_s * fraction)
            robot = rectangle_corners(x, y, yaw, footprint)
            if any(polygons_overlap(robot, box) for box in boxes):
                return True
        return False

    def _detour(self, pose: PlanarPose) -> Optional[OffsetProfile]:
        """
        Return the lateral offset profile around the spills near the current segment, if any.

        Each spill is planned on the route segment it lies on (the nearest to its box's
        centre, :func:`~adapter_switcher.sim.scenario.nearest_route_segment`): which side,
        how far and from where to where along the route. The profile runs on the route's arc
        length, so a detour past a spill just after a turn begins before it
        and one past a spill just before a turn ends after it, on the same side (left of one
        segment is left of the next: the inside or the outside of the turn on both). Planned
        on the current segment only, a spill just round a corner was no detour until the robot
        had turned (the learner saw offset 0, then +-0.8 m, for one image), and a side chosen
        in the frame of the segment before the turn was kept in the frame after it, where it
        can be the spill's narrow side (docs/behaviour.md).
        """
        self.avoiding = False
        if not self.spill_boxes or self.navigation.done:
            return None
        p = self.params
        vertices, arc = route_length(self.navigation.polyline(pose))
        current = self.navigation.waypoints_reached
        start, end = vertices[current], vertices[current + 1]
        position = np.asarray(pose[:2], dtype=float)
        length, along, normal = segment_frame(start, end, position)
        here = arc[current] + float(np.dot(position - start, along))
        across = float(np.dot(position - start, normal))
        fxmin, fxmax, fymin, fymax = self.navigation.footprint
        clearance = max(abs(fymin), abs(fymax)) + p.margin
        lead = max(abs(fxmin), abs(fxmax)) + p.lead
        detours = []  # (s_lo, s_hi, shift) in metres of the route's arc length
        for index, (xmin, xmax, ymin, ymax) in enumerate(self.spill_boxes):
            corners = np.array([[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax]])
            owner, _ = nearest_route_segment(vertices, corners.mean(axis=0))
            o_start, o_end = vertices[owner], vertices[owner + 1]
            _, o_along, o_normal = segment_frame(o_start, o_end, o_start)
            s, lateral = (corners - o_start) @ o_along, (corners - o_start) @ o_normal
            s_lo, s_hi = arc[owner] + s.min() - lead, arc[owner] + s.max() + lead
            blocked = lateral.min() - clearance < 0 < lateral.max() + clearance
            if not blocked or s_hi + p.ramp < arc[current] or \
                    s_lo - p.ramp > arc[current] + length:
                continue
            left, right = lateral.max() + clearance, lateral.min() - clearance
            if self._sides[index] == 0.0 or here < s_lo:
                self._sides[index] = detour_side((left, right), across, p.max_offset)
            shift = left if self._sides[index] > 0 else right
            detours.append((s_lo, s_hi, max(-p.max_offset, min(p.max_offset, shift))))
            self.avoiding |= s_lo - p.ramp <= here <= s_hi + p.ramp
        if not detours:
            return None
        segment_arc = arc[current]

        def profile(at: float) -> float:
            at += segment_arc
            best = 0.0
            for s_lo, s_hi, shift in detours:
                fade = min(at - (s_lo - p.ramp), (s_hi + p.ramp) - at) / p.ramp
                value = shift * min(max(fade, 0.0), 1.0)
                best = value if abs(value) > abs(best) else best
            return best
        return profile


def detour_side(shifts: Tuple[float, float], offset: float, max_offset: float) -> float:
    """
    Return the side the detour around a spill passes on: 1.0 left, -1.0 right.

    ``shifts`` are the lateral offsets from the route (left positive) that clear the spill on
    its left and on its right, ``offset`` is where the robot is across the route now. The side
    nearer to the robot wins, unless the shelves (``max_offset``) cap that side's shift short
    of clearing the spill; a tie goes left.

    It is a function of the present only (the spill's box and where the robot is): no first
    glimpse, no hysteresis. The learner imitates this choice from one camera image and the
    route carrot, and a choice that depended on how the spill first came into view, or on
    which side was chosen before, would give two labels to one image (for a nearly centred
    spill the regression averaged them and drove into it). A robot that has drifted to one
    side of the spill's centre is told to keep to that side, not to cross back over it.
    """
    cost = [abs(max(-max_offset, min(max_offset, shift)) - offset) +
            max(abs(shift) - max_offset, 0.0) * 10.0 for shift in shifts]
    return 1.0 if cost[0] <= cost[1] else -1.0


@dataclass(frozen=True)
class SlowParams:
    """The slow-zone expert's speed cap (m/s): below the zone's limit, with a margin."""

    slow_speed: float = 0.2


class SlowExpert(_OnRoute):
    """
    The navigation expert at a capped speed: how to drive through a slow zone.

    It needs no perception of its own: the context rules (which see the zone's colour) decide
    when it drives, and it keeps the route at ``slow_speed`` while it does.
    """

    def __init__(self, navigation: NavigationExpert, params: SlowParams = SlowParams()):
        self.navigation = navigation
        self.params = params

    def reset(self):
        """Start the route again."""
        self.navigation.reset()

    def act(self, pose: PlanarPose, scan: Scan) -> Tuple[float, float]:
        """Return ``(v, w)``: the navigation command at no more than ``slow_speed``."""
        return self.navigation.act(pose, scan, speed_limit=self.params.slow_speed)


def navigation_expert(world, scenario, params: NavigationParams = NavigationParams()):
    """Return the navigation expert for a world's robot and a scenario's route."""
    return NavigationExpert(scenario.waypoints, scenario.tolerance, world.robot.footprint(),
                            world.robot.lidar.pose, params, scenario.route_origin)


def hazard_expert(world, scenario, params: HazardParams = HazardParams(),
                  navigation: NavigationParams = NavigationParams()):
    """Return the hazard expert for a world's robot and a scenario's route and spill colour."""
    return HazardExpert(navigation_expert(world, scenario, navigation), world.robot.camera,
                        scenario.spill.hsv_lower, scenario.spill.hsv_upper, params)


def slow_expert(world, scenario, params: SlowParams = SlowParams(),
                navigation: NavigationParams = NavigationParams()):
    """Return the slow-zone expert for a world's robot and a scenario's route."""
    return SlowExpert(navigation_expert(world, scenario, navigation), params)
