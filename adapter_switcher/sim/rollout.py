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
Run an expert in the embedded simulator without ROS: the experts' test bench and data source.

Sensors fire at their SDF rates on the sim clock (:class:`~adapter_switcher.sim.timing.
RateSchedule`), the expert acts on each lidar scan and sees each camera image, and the command
is held between scans: the same timing as the ROS nodes, minus the transport.
"""

from dataclasses import dataclass
from dataclasses import field
from typing import List, Tuple

from adapter_switcher.sim.experts import Scan
from adapter_switcher.sim.simulator import WarehouseSim
from adapter_switcher.sim.timing import RateSchedule


@dataclass
class Rollout:
    """What happened in one run."""

    completed: bool = False
    waypoints_reached: int = 0
    sim_time: float = 0.0
    collisions: int = 0
    spill_entries: int = 0
    poses: List[Tuple[float, float, float]] = field(default_factory=list)
    commands: List[Tuple[float, float]] = field(default_factory=list)
    spill_visible: List[bool] = field(default_factory=list)


def run_expert(sim: WarehouseSim, expert, time_limit_s: float = 200.0) -> Rollout:
    """
    Drive ``sim`` with ``expert`` until the route is complete or ``time_limit_s`` of sim time.

    ``expert`` is a NavigationExpert or a HazardExpert (anything with ``act``; ``observe`` is
    called with camera images when present). The pose, command and spill visibility are
    recorded at each control step (each scan).
    """
    lidar = sim.world.robot.lidar
    camera_schedule = RateSchedule(sim.world.robot.camera.update_rate, sim.time_ns)
    lidar_schedule = RateSchedule(lidar.update_rate, sim.time_ns)
    observe = getattr(expert, 'observe', None)
    result = Rollout()
    command = (0.0, 0.0)
    start_ns = sim.time_ns
    end_ns = start_ns + round(time_limit_s * 1e9)
    while sim.time_ns < end_ns and not expert.done:
        sim.step(*command)
        odometry = sim.odometry()
        pose = (odometry.x, odometry.y, odometry.yaw)
        if observe is not None and camera_schedule.due(sim.time_ns):
            observe(sim.image(), pose)
        if lidar_schedule.due(sim.time_ns):
            command = expert.act(pose, Scan(sim.scan(), lidar.min_angle, lidar.angle_increment))
            result.poses.append(pose)
            result.commands.append(command)
            result.spill_visible.append(bool(getattr(expert, 'visible', False)))
    result.completed = expert.done
    result.waypoints_reached = expert.waypoints_reached
    result.sim_time = (sim.time_ns - start_ns) * 1e-9
    result.collisions = sim.stats.collisions
    result.spill_entries = sim.stats.spill_entries
    return result
