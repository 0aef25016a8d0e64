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
WarehouseSim: the embedded simulator, ROS-free.

A planar base driven kinematically by ``(v, w)`` commands (exact arc integration, the drive's
velocity limits), blocked by the static collision shapes: a step that would make the robot's
collision shapes touch any static one is not taken, the robot stays where it was and the step
counts as a collision. A step that ends with the robot's footprint on the slow zone at a speed
above the zone's limit starts a slow-zone violation (counted once until the robot slows down or
leaves). Sensors: the lidar and the camera of :mod:`sensors`; odometry is the
exact pose in the world frame (as ``gz-sim-odometry-publisher-system`` reports it) and the
velocities actually achieved. A seed fixes an episode completely, so the same seed and the same
commands reproduce the same run.
"""

from dataclasses import dataclass
import math
from typing import List, Optional, Tuple

from adapter_switcher.sim.geometry import integrate_unicycle
from adapter_switcher.sim.geometry import polygons_overlap
from adapter_switcher.sim.geometry import rectangle_corners
from adapter_switcher.sim.geometry import rectangle_overlaps_disc
from adapter_switcher.sim.mujoco_scene import build_mjcf
from adapter_switcher.sim.mujoco_scene import ROBOT_JOINTS
from adapter_switcher.sim.mujoco_scene import SLOW_ZONE
from adapter_switcher.sim.mujoco_scene import SLOW_ZONE_THICKNESS
from adapter_switcher.sim.mujoco_scene import spill_geom_size
from adapter_switcher.sim.mujoco_scene import spill_names
from adapter_switcher.sim.mujoco_scene import SPILL_THICKNESS
from adapter_switcher.sim.scenario import Episode
from adapter_switcher.sim.scenario import sample_episode
from adapter_switcher.sim.scenario import Scenario
from adapter_switcher.sim.scenario import SpillPlacement
from adapter_switcher.sim.scenario import ZonePlacement
from adapter_switcher.sim.sdf_world import World
from adapter_switcher.sim.sensors import Camera
from adapter_switcher.sim.sensors import Lidar

import mujoco
import numpy as np


class SimulationError(RuntimeError):
    """An episode cannot be set up (for example its start pose is inside an obstacle)."""


@dataclass(frozen=True)
class Odometry:
    """Pose in the world (= odom) frame and the body-frame velocities achieved last step."""

    x: float
    y: float
    yaw: float
    linear: float
    angular: float


@dataclass
class EpisodeStats:
    """Counters of one episode, for reports and tests."""

    collisions: int = 0
    spill_entries: int = 0
    slow_zone_violations: int = 0
    distance: float = 0.0


class WarehouseSim:
    """The warehouse world in MuJoCo: step it with velocity commands, read its sensors."""

    def __init__(self, world: World, scenario: Scenario, physics_rate_hz: float = 100.0,
                 seed: int = 0):
        if not 1.0 <= physics_rate_hz <= 10000.0:
            raise ValueError(f'physics rate must be in [1, 10000] Hz, got {physics_rate_hz}')
        self.world = world
        self.scenario = scenario
        self.dt_ns = round(1e9 / physics_rate_hz)
        self.model = mujoco.MjModel.from_xml_string(build_mjcf(
            world, scenario.spill, scenario.max_spills, scenario.slow_zone))
        self.data = mujoco.MjData(self.model)
        self.lidar = Lidar(self.model, self.data, world.robot.lidar)
        self._camera: Optional[Camera] = None
        # The last frame and the pose it was rendered at: the scene is static between resets,
        # so a robot that has not moved (blocked, or standing) sees the same image again.
        self._frame: Optional[Tuple[Tuple[float, float, float], np.ndarray]] = None
        self._qpos = np.array([self.model.jnt_qposadr[mujoco.mj_name2id(
            self.model, mujoco.mjtObj.mjOBJ_JOINT, name)] for name in ROBOT_JOINTS])
        self._spill_markings = [self._marking(name) for name in spill_names(scenario.max_spills)]
        self._zone_marking = self._marking(SLOW_ZONE) if scenario.has_slow_zone else None
        self.speeding = False
        self._footprint = world.robot.footprint()
        # Farthest footprint corner from the robot's origin: shapes whose bounding circle is
        # farther than this from it cannot touch the footprint (the exact tests are skipped).
        self._reach = max(math.hypot(x, y) for x in self._footprint[:2]
                          for y in self._footprint[2:])
        self.time_ns = 0
        self.stats = EpisodeStats()
        self.episode: Optional[Episode] = None
        self._pose = (0.0, 0.0, 0.0)
        self._velocity = (0.0, 0.0)
        self.collision = False
        self.on_spill = False
        self.reset(seed)

    @property
    def dt(self) -> float:
        """Physics step in seconds."""
        return self.dt_ns * 1e-9

    @property
    def time(self) -> float:
        """Sim time in seconds; it keeps running across resets, like a ROS clock must."""
        return self.time_ns * 1e-9

    def odometry(self) -> Odometry:
        """Return the current pose and the velocities of the last step."""
        return Odometry(*self._pose, *self._velocity)

    def reset(self, seed: int) -> Episode:
        """
        Start a new episode drawn from the scenario with ``seed``.

        Raises :class:`SimulationError` if the drawn start pose collides, and then leaves the
        current episode as it was.
        """
        return self.start_episode(sample_episode(self.scenario, seed))

    def start_episode(self, episode: Episode) -> Episode:
        """
        Start a given episode, as :meth:`reset` starts the one it draws from the scenario.

        For example a situation segment's (:func:`~adapter_switcher.sim.scenario.
        situation_segment`). The scene must have been built for as many spills, and for the
        zone if the episode has one.
        """
        if len(episode.spills) > self.scenario.max_spills or (
                episode.slow_zone is not None and self._zone_marking is None):
            raise SimulationError(f'episode with seed {episode.seed} has more markings than '
                                  'the scene was built for')
        seed = episode.seed
        previous = self.episode
        self.episode = episode
        self._place_markings(episode)
        try:
            self.place_robot(*episode.start)
        except SimulationError as exc:
            self.episode = previous
            self._place_markings(previous)
            raise SimulationError(f'episode with seed {seed}: {exc}') from None
        self.stats = EpisodeStats()
        self.speeding = False
        return episode

    def place_robot(self, x: float, y: float, yaw: float):
        """
        Put the robot at a pose without driving there (like Gazebo's set_pose service).

        Raises :class:`SimulationError` naming the obstacles if the robot would touch any, and
        then leaves it where it was.
        """
        blocking = self._set_pose(x, y, yaw)
        if blocking:
            self._set_pose(*self._pose)
            raise SimulationError(f'the pose {(x, y, yaw)} collides with {", ".join(blocking)}')
        self._pose = (x, y, yaw)
        self._velocity = (0.0, 0.0)
        self.collision = False
        self.on_spill = self._touches_spill(x, y, yaw)

    def step(self, linear: float, angular: float) -> bool:
        """
        Advance one physics step driving with ``(linear, angular)``; return whether it collided.

        Commands beyond the drive's limits are clamped, as the diff-drive system does.
        """
        if not (math.isfinite(linear) and math.isfinite(angular)):
            raise ValueError(f'velocity command must be finite, got ({linear}, {angular})')
        v, w = self.world.robot.drive.clamp(linear, angular)
        x, y, yaw = self._pose
        target = integrate_unicycle(x, y, yaw, v, w, self.dt)
        blocked = bool(self._set_pose(*target))
        if blocked:
            self._set_pose(x, y, yaw)
            self._velocity = (0.0, 0.0)
        else:
            self.stats.distance += math.hypot(target[0] - x, target[1] - y)
            self._pose = target
            self._velocity = (v, w)
        if blocked and not self.collision:
            self.stats.collisions += 1
        self.collision = blocked
        on_spill = self._touches_spill(*self._pose)
        if on_spill and not self.on_spill:
            self.stats.spill_entries += 1
        self.on_spill = on_spill
        speeding = self._speeding(*self._pose, abs(self._velocity[0]))
        if speeding and not self.speeding:
            self.stats.slow_zone_violations += 1
        self.speeding = speeding
        self.time_ns += self.dt_ns
        return blocked

    def scan(self) -> np.ndarray:
        """Return the lidar ranges from the current pose."""
        return self.lidar.scan()

    def image(self) -> np.ndarray:
        """Return the camera image from the current pose (the renderer starts on first use)."""
        if self._frame is not None and self._frame[0] == self._pose:
            return self._frame[1].copy()
        if self._camera is None:
            self._camera = Camera(self.model, self.data, self.world.robot.camera)
        image = self._camera.render()
        self._frame = (self._pose, image.copy())
        return image

    def close(self):
        """Release the renderer (idempotent)."""
        if self._camera is not None:
            self._camera.close()
            self._camera = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _set_pose(self, x: float, y: float, yaw: float) -> List[str]:
        """Move the robot; return the names of the static shapes it then touches."""
        self.data.qpos[self._qpos] = (x, y, yaw)
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_collision(self.model, self.data)
        if self.data.ncon == 0:
            return []
        geoms = set(self.data.contact.geom[:self.data.ncon].ravel().tolist())
        return sorted(mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_GEOM, g)
                      for g in geoms if self.model.geom_bodyid[g] == 0)

    def _marking(self, name: str) -> Tuple[int, int]:
        """Return the (geom, mocap) ids of a floor marking built by build_mjcf."""
        geom = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, name)
        body = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)
        return geom, int(self.model.body_mocapid[body])

    def _place_markings(self, episode: Optional[Episode]):
        """Move the spills and the slow zone where the episode has them; park the rest."""
        self._frame = None
        spills = episode.spills if episode else ()
        for index, (geom, mocap) in enumerate(self._spill_markings):
            spill = spills[index] if index < len(spills) else None
            if spill is None:  # not in this episode: park it under the floor
                self.data.mocap_pos[mocap] = (0.0, 0.0, -1.0)
                continue
            size = spill_geom_size(spill.shape, spill.size)
            self._move(geom, mocap, spill.position, spill.yaw, SPILL_THICKNESS, size)
            if spill.rgba is not None:
                self.model.geom_rgba[geom] = spill.rgba
        zone = episode.slow_zone if episode else None
        if self._zone_marking is not None:
            geom, mocap = self._zone_marking
            if zone is None:
                self.data.mocap_pos[mocap] = (0.0, 0.0, -1.0)
            else:
                size = (zone.size[0] / 2, zone.size[1] / 2, SLOW_ZONE_THICKNESS / 2)
                self._move(geom, mocap, zone.position, zone.yaw, SLOW_ZONE_THICKNESS, size)
        mujoco.mj_kinematics(self.model, self.data)

    def _move(self, geom: int, mocap: int, position, yaw: float, thickness: float, size):
        half_yaw = yaw / 2
        self.data.mocap_pos[mocap] = (*position, thickness / 2)
        self.data.mocap_quat[mocap] = (math.cos(half_yaw), 0, 0, math.sin(half_yaw))
        self.model.geom_size[geom] = size
        self.model.geom_rbound[geom] = math.sqrt(sum(s * s for s in size))

    def _speeding(self, x: float, y: float, yaw: float, speed: float) -> bool:
        zone = self.episode.slow_zone if self.episode else None
        return zone is not None and speed > zone.speed_limit + 1e-9 and \
            self._footprint_on(x, y, yaw, zone)

    def _footprint_on(self, x: float, y: float, yaw: float, zone: ZonePlacement) -> bool:
        length, width = zone.size
        if self._out_of_reach(x, y, zone.position, math.hypot(length, width) / 2):
            return False
        area = rectangle_corners(*zone.position, zone.yaw,
                                 (-length / 2, length / 2, -width / 2, width / 2))
        return polygons_overlap(rectangle_corners(x, y, yaw, self._footprint), area)

    def _touches_spill(self, x: float, y: float, yaw: float) -> bool:
        """Whether the footprint touches any of the episode's spills."""
        return any(self._touches(x, y, yaw, spill)
                   for spill in (self.episode.spills if self.episode else ()))

    def _touches(self, x: float, y: float, yaw: float, spill: SpillPlacement) -> bool:
        radius = spill.size[0] if spill.shape == 'cylinder' else math.hypot(*spill.size) / 2
        if self._out_of_reach(x, y, spill.position, radius):
            return False
        if spill.shape == 'cylinder':
            return rectangle_overlaps_disc(x, y, yaw, self._footprint, spill.position,
                                           spill.size[0])
        length, width = spill.size
        area = rectangle_corners(*spill.position, spill.yaw,
                                 (-length / 2, length / 2, -width / 2, width / 2))
        return polygons_overlap(rectangle_corners(x, y, yaw, self._footprint), area)

    def _out_of_reach(self, x: float, y: float, centre, radius: float) -> bool:
        """Whether a shape within ``radius`` of ``centre`` is surely clear of the footprint."""
        return math.hypot(centre[0] - x, centre[1] - y) > self._reach + radius + 1e-6
