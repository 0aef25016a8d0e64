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
Build the MuJoCo scene (an MJCF string) of a :class:`~adapter_switcher.sim.sdf_world.World`.

Geom groups keep each sensor honest: the lidar casts rays against group 0 only (static
visuals, as Gazebo's gpu_lidar sees visuals); the camera renders groups 0 to 2 (structure,
floor, spill) but not the robot itself; collision shapes sit in group 4, never rendered nor
ray-cast. Only the robot's collision shapes and the static collision shapes can touch each other
(contype/conaffinity bits); floor planes never collide because the planar base rides on them,
and the spill has no collision at all.

The robot is one body on x/y slide joints and a yaw hinge, set kinematically (no dynamics).
Each spill and the slow zone are mocap bodies, so each episode can move (or hide) them without
rebuilding the model; the scene has as many spill bodies as an episode can have spills.
Rendering is set up for speed: no shadows, reflections or multisampling.
"""

import math
from typing import Iterable, List, Optional
from xml.sax.saxutils import quoteattr

from adapter_switcher.sim.scenario import SlowZoneConfig
from adapter_switcher.sim.scenario import SpillConfig
from adapter_switcher.sim.sdf_world import Shape
from adapter_switcher.sim.sdf_world import World

import numpy as np

GROUP_STRUCTURE = 0
GROUP_FLOOR = 1
GROUP_SPILL = 2
GROUP_ROBOT = 3
GROUP_COLLISION = 4
LIDAR_GEOMGROUP = (1, 0, 0, 0, 0, 0)
CAMERA_GEOMGROUP = (1, 1, 1, 0, 0, 0)

ROBOT_BODY = 'robot'
ROBOT_JOINTS = ('base_x', 'base_y', 'base_yaw')
SPILL_BODY = 'spill'
SPILL_GEOM = 'spill'
SPILL_THICKNESS = 0.002
SLOW_ZONE = 'slow_zone'          # body and geom of the slow zone
SLOW_ZONE_THICKNESS = 0.001      # below the spill, so a spill on the zone shows
CAMERA = 'camera'
SCENE_EXTENT = 10.0  # metres; MuJoCo scales the clip planes by it


def spill_names(count: int) -> List[str]:
    """Return the body (and geom) names of ``count`` spills: ``spill``, ``spill_1``, ..."""
    return [SPILL_BODY if i == 0 else f'{SPILL_BODY}_{i}' for i in range(count)]


def build_mjcf(world: World, spill: Optional[SpillConfig], spill_count: int = 1,
               slow_zone: Optional[SlowZoneConfig] = None) -> str:
    """
    Return the MJCF text of the world with its spills and slow zone.

    The scene has ``spill_count`` copies of the scenario's spill (``None`` or disabled: none)
    and its slow zone (``None`` or disabled: none).

    Geom names are SDF scoped names (``model::link::element``), so a scene can be checked
    against the SDF file shape by shape.
    """
    robot = world.robot
    camera = robot.camera
    lines = [
        f'<mujoco model={quoteattr(world.name)}>',
        '  <compiler angle="radian"/>',
        '  <option gravity="0 0 0"/>',
        f'  <statistic extent="{SCENE_EXTENT}" center="0 0 1"/>',
        '  <visual>',
        f'    <global offwidth="{camera.width}" offheight="{camera.height}"/>',
        '    <quality shadowsize="0" offsamples="0"/>',
        '    <headlight ambient="0.35 0.35 0.35" diffuse="0.3 0.3 0.3" specular="0 0 0"/>',
        f'    <map znear="{camera.near / SCENE_EXTENT:.6g}" '
        f'zfar="{camera.far / SCENE_EXTENT:.6g}"/>',
        '  </visual>',
        '  <asset>',
        '    <material name="matte" specular="0" shininess="0" reflectance="0"/>',
        '  </asset>',
        '  <worldbody>',
        '    <light name="overhead" directional="true" pos="0 0 10" dir="0.3 -0.2 -0.9" '
        'diffuse="0.5 0.5 0.5" specular="0 0 0" castshadow="false"/>',
    ]
    for shape in world.visuals:
        group = GROUP_FLOOR if shape.kind == 'plane' else GROUP_STRUCTURE
        lines.append('    ' + _geom(shape, group, contype=0, conaffinity=0))
    for shape in world.collisions:
        if shape.kind != 'plane':
            lines.append('    ' + _geom(shape, GROUP_COLLISION, contype=0, conaffinity=1))
    if spill is not None and spill.enabled:
        for name in spill_names(spill_count):
            lines += _spill_body(spill, name)
    if slow_zone is not None and slow_zone.enabled:
        lines += _zone_body(slow_zone)
    lines += _robot_body(world)
    lines += ['  </worldbody>', '</mujoco>', '']
    return '\n'.join(lines)


def spill_geom_size(shape: str, size) -> tuple:
    """Return MuJoCo's size triple for a spill of the scenario's shape and size."""
    if shape == 'cylinder':
        return (size[0], SPILL_THICKNESS / 2, 0.0)
    return (size[0] / 2, size[1] / 2, SPILL_THICKNESS / 2)


def _spill_body(spill: SpillConfig, name: str) -> List[str]:
    kind = 'cylinder' if spill.shape == 'cylinder' else 'box'
    size = spill_geom_size(spill.shape, spill.size)
    return _marking(name, kind, size, spill.position, spill.yaw, spill.rgba, SPILL_THICKNESS)


def _zone_body(zone: SlowZoneConfig) -> List[str]:
    size = (zone.size[0] / 2, zone.size[1] / 2, SLOW_ZONE_THICKNESS / 2)
    return _marking(SLOW_ZONE, 'box', size, zone.position, zone.yaw, zone.rgba,
                    SLOW_ZONE_THICKNESS)


def _marking(name: str, kind: str, size, position, yaw: float, rgba, thickness: float
             ) -> List[str]:
    """Return a flat, visual-only mocap body on the floor, seen by the camera only."""
    x, y = position
    return [
        f'    <body name="{name}" mocap="true" pos="{x:.9g} {y:.9g} '
        f'{thickness / 2:.9g}" euler="0 0 {yaw:.9g}">',
        f'      <geom name="{name}" type="{kind}" size="{_numbers(size)}" '
        f'rgba="{_numbers(rgba)}" material="matte" group="{GROUP_SPILL}" contype="0" '
        'conaffinity="0"/>',
        '    </body>',
    ]


def _robot_body(world: World) -> List[str]:
    robot = world.robot
    camera = robot.camera
    rotation = camera.pose.matrix()
    # MuJoCo cameras look along -z with +y up; Gazebo's look along +x with +z up.
    xyaxes = np.concatenate([rotation @ (0.0, -1.0, 0.0), rotation @ (0.0, 0.0, 1.0)])
    lines = [
        f'    <body name="{ROBOT_BODY}" pos="0 0 {robot.pose.position[2]:.9g}">',
        '      <inertial pos="0 0 0" mass="1" diaginertia="0.1 0.1 0.1"/>',
        f'      <joint name="{ROBOT_JOINTS[0]}" type="slide" axis="1 0 0"/>',
        f'      <joint name="{ROBOT_JOINTS[1]}" type="slide" axis="0 1 0"/>',
        f'      <joint name="{ROBOT_JOINTS[2]}" type="hinge" axis="0 0 1"/>',
        f'      <camera name="{CAMERA}" pos="{_numbers(camera.pose.position)}" '
        f'xyaxes="{_numbers(xyaxes)}" fovy="{math.degrees(camera.vertical_fov):.9g}"/>',
    ]
    for shape in robot.visuals:
        lines.append('      ' + _geom(shape, GROUP_ROBOT, contype=0, conaffinity=0))
    for shape in robot.collisions:
        lines.append('      ' + _geom(shape, GROUP_COLLISION, contype=1, conaffinity=0))
    lines.append('    </body>')
    return lines


def _geom(shape: Shape, group: int, contype: int, conaffinity: int) -> str:
    if shape.kind == 'box':
        size = tuple(s / 2 for s in shape.size)
    elif shape.kind == 'cylinder':
        size = (shape.size[0], shape.size[1] / 2)
    elif shape.kind == 'sphere':
        size = shape.size
    else:  # plane: half extents, then the spacing of the rendered grid
        size = (shape.size[0] / 2, shape.size[1] / 2, 1.0)
    return (f'<geom name={quoteattr(shape.name)} type="{shape.kind}" size="{_numbers(size)}" '
            f'pos="{_numbers(shape.pose.position)}" quat="{_numbers(shape.pose.quaternion)}" '
            f'rgba="{_numbers(shape.rgba)}" material="matte" group="{group}" '
            f'contype="{contype}" conaffinity="{conaffinity}"/>')


def _numbers(values: Iterable[float]) -> str:
    return ' '.join(f'{float(v):.9g}' for v in values)
