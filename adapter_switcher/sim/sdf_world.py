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
Read the subset of SDF 1.9 that the embedded simulator needs into plain dataclasses.

The subset: static models made of boxes, cylinders, spheres and (floor) planes with material
colours; one movable robot model whose shapes, gpu_lidar and camera sensors and diff-drive limits
are read; a visual-only spill model and a visual-only slow-zone marking (model ``slow_zone``,
optional). Anything outside the subset (meshes, includes, nested
models, ``relative_to`` frames, ...) raises :class:`WorldError` naming the element, because
silently skipping it would make the embedded simulator disagree with Gazebo.
"""

from dataclasses import dataclass
import math
from pathlib import Path
from typing import Dict, List, Optional, Tuple
import xml.etree.ElementTree as ET

from adapter_switcher.sim.geometry import Pose

import numpy as np

DEFAULT_RGBA = (0.7, 0.7, 0.7, 1.0)
DEFAULT_WORLD = 'worlds/warehouse.sdf'  # relative to the package share directory
LIDAR_TYPES = ('gpu_lidar', 'lidar', 'gpu_ray', 'ray')
SHAPE_KINDS = ('box', 'cylinder', 'sphere', 'plane')
SLOW_ZONE_MODEL = 'slow_zone'


class WorldError(ValueError):
    """The SDF file is malformed or uses something the embedded simulator cannot reproduce."""


@dataclass(frozen=True)
class Shape:
    """
    One geometry with its pose and colour.

    ``size`` is ``(sx, sy, sz)`` for a box, ``(radius, length)`` for a cylinder (along its local
    z), ``(radius,)`` for a sphere and ``(sx, sy)`` for a plane (normal +z). ``pose`` is in the
    world frame for static shapes and in the robot's base frame for the robot's shapes.
    """

    name: str
    kind: str
    size: Tuple[float, ...]
    pose: Pose
    rgba: Tuple[float, float, float, float] = DEFAULT_RGBA


@dataclass(frozen=True)
class LidarSpec:
    """A planar lidar: beams from ``min_angle`` to ``max_angle`` inclusive, spaced as in Gazebo."""

    name: str
    frame_id: str
    topic: str
    pose: Pose
    samples: int
    min_angle: float
    max_angle: float
    range_min: float
    range_max: float
    update_rate: float

    @property
    def angle_increment(self) -> float:
        """Angle between neighbouring beams."""
        if self.samples < 2:
            return 0.0
        return (self.max_angle - self.min_angle) / (self.samples - 1)

    def angles(self) -> np.ndarray:
        """Return the beam angles in the sensor frame, counter-clockwise from +x."""
        return self.min_angle + self.angle_increment * np.arange(self.samples)


@dataclass(frozen=True)
class CameraSpec:
    """A pinhole RGB camera looking along +x of its frame (Gazebo's convention), z up."""

    name: str
    frame_id: str
    topic: str
    pose: Pose
    width: int
    height: int
    horizontal_fov: float
    near: float
    far: float
    update_rate: float

    @property
    def focal_length(self) -> float:
        """Focal length in pixels (square pixels)."""
        return (self.width / 2.0) / math.tan(self.horizontal_fov / 2.0)

    @property
    def vertical_fov(self) -> float:
        """Vertical field of view in radians."""
        return 2.0 * math.atan((self.height / 2.0) / self.focal_length)

    def intrinsics(self) -> Tuple[float, float, float, float]:
        """
        Return ``(fx, fy, cx, cy)`` in ROS pixel coordinates (pixel centres at integers).

        The optical axis goes through the middle of the image, i.e. between pixels for even
        sizes: ``cx = (width - 1) / 2``.
        """
        f = self.focal_length
        return f, f, (self.width - 1) / 2.0, (self.height - 1) / 2.0


@dataclass(frozen=True)
class DriveSpec:
    """Differential-drive geometry and velocity limits from ``gz-sim-diff-drive-system``."""

    wheel_separation: float
    wheel_radius: float
    max_linear_velocity: float = math.inf
    min_linear_velocity: float = -math.inf
    max_angular_velocity: float = math.inf
    min_angular_velocity: float = -math.inf

    def clamp(self, v: float, w: float) -> Tuple[float, float]:
        """Return the command limited to what the drive accepts."""
        v = min(max(v, self.min_linear_velocity), self.max_linear_velocity)
        w = min(max(w, self.min_angular_velocity), self.max_angular_velocity)
        return v, w


@dataclass(frozen=True)
class RobotSpec:
    """The movable robot: shapes and sensors relative to its base frame, and its drive."""

    model: str
    base_frame: str
    pose: Pose
    visuals: Tuple[Shape, ...]
    collisions: Tuple[Shape, ...]
    lidar: LidarSpec
    camera: CameraSpec
    drive: DriveSpec

    def footprint(self) -> Tuple[float, float, float, float]:
        """Return ``(xmin, xmax, ymin, ymax)`` of the collision shapes seen from above."""
        boxes = np.array([_planar_bounds(s) for s in self.collisions])
        return (float(boxes[:, 0].min()), float(boxes[:, 1].max()),
                float(boxes[:, 2].min()), float(boxes[:, 3].max()))


@dataclass(frozen=True)
class World:
    """Everything the embedded simulator builds its scene from."""

    name: str
    visuals: Tuple[Shape, ...]
    collisions: Tuple[Shape, ...]
    spill: Optional[Shape]
    robot: RobotSpec
    slow_zone: Optional[Shape] = None


def load_world(path, robot_model: str = 'robot', spill_model: str = 'spill') -> World:
    """Read an SDF file; see :func:`parse_world`."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise WorldError(f'cannot read world file {path}: {exc.strerror}') from exc
    return parse_world(text, str(path), robot_model, spill_model)


def parse_world(text: str, source: str = '<string>', robot_model: str = 'robot',
                spill_model: str = 'spill') -> World:
    """
    Parse SDF text into a :class:`World`.

    ``robot_model`` names the one model that moves; ``spill_model`` names the visual-only
    spill (optional: a world without it has ``spill=None``).
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise WorldError(f'{source}: not well-formed XML: {exc}') from exc
    if root.tag != 'sdf':
        raise WorldError(f'{source}: the root element is <{root.tag}>, expected <sdf>')
    worlds = root.findall('world')
    if len(worlds) != 1:
        raise WorldError(f'{source}: expected exactly one <world>, found {len(worlds)}')
    world = worlds[0]
    if world.find('include') is not None:
        raise WorldError(f'{source}: <include> is not supported: the embedded simulator reads '
                         'one self-contained file')
    reader = _Reader(source)
    if robot_model not in [reader.name(model) for model in world.findall('model')]:
        raise WorldError(f'{source}: no model named {robot_model!r} (the robot)')
    visuals: List[Shape] = []
    collisions: List[Shape] = []
    spill = None
    slow_zone = None
    robot = None
    for model in world.findall('model'):
        name = reader.name(model)
        if name == robot_model:
            robot = reader.robot(model)
        elif name == spill_model:
            spill = reader.floor_marking(model, 'spill')
        elif name == SLOW_ZONE_MODEL:
            slow_zone = reader.floor_marking(model, 'slow zone')
        else:
            model_visuals, model_collisions = reader.static_model(model)
            visuals += model_visuals
            collisions += model_collisions
    return World(reader.name(world), tuple(visuals), tuple(collisions), spill, robot, slow_zone)


class _Reader:
    """Element readers that name the offending element in their errors."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, problem: str):
        raise WorldError(f'{self.source}: {where}: {problem}')

    def name(self, element) -> str:
        name = element.get('name')
        if not name:
            self.fail(f'<{element.tag}>', 'has no name attribute')
        return name

    def floats(self, element, where: str, counts=(1,)) -> Tuple[float, ...]:
        text = (element.text or '').split()
        try:
            values = tuple(float(t) for t in text)
        except ValueError:
            self.fail(where, f'expected numbers, got {element.text!r}')
        if len(values) not in counts:
            expected = ' or '.join(map(str, counts))
            self.fail(where, f'expected {expected} numbers, got {len(values)}')
        if not all(math.isfinite(v) for v in values):
            self.fail(where, f'expected finite numbers, got {element.text!r}')
        return values

    def number(self, parent, tag: str, where: str, default=None) -> float:
        element = parent.find(tag)
        if element is None:
            if default is None:
                self.fail(where, f'missing <{tag}>')
            return default
        return self.floats(element, f'{where}/{tag}')[0]

    def pose(self, element, where: str) -> Pose:
        pose = element.find('pose')
        if pose is None:
            return Pose()
        for attribute, value in pose.attrib.items():
            if attribute == 'relative_to' and value:
                self.fail(f'{where}/pose', 'relative_to is not supported: poses are relative to '
                          'the parent element (model, link)')
            if attribute == 'rotation_format' and value != 'euler_rpy':
                self.fail(f'{where}/pose', f'rotation_format={value!r} is not supported')
            if attribute not in ('relative_to', 'rotation_format', 'degrees'):
                self.fail(f'{where}/pose', f'attribute {attribute!r} is not supported')
        values = self.floats(pose, f'{where}/pose', counts=(6,))
        if pose.get('degrees', 'false').lower() in ('true', '1'):
            values = values[:3] + tuple(math.radians(v) for v in values[3:])
        return Pose.from_xyzrpy(*values)

    def rgba(self, visual, where: str) -> Tuple[float, float, float, float]:
        diffuse = visual.find('material/diffuse')
        if diffuse is None:
            return DEFAULT_RGBA
        values = self.floats(diffuse, f'{where}/material/diffuse', counts=(3, 4))
        if not all(0.0 <= v <= 1.0 for v in values):
            self.fail(f'{where}/material/diffuse',
                      f'colour components must be in [0, 1]: {values}')
        return values if len(values) == 4 else values + (1.0,)

    def shape(self, element, where: str, frame: Pose, with_colour: bool) -> Shape:
        geometry = element.find('geometry')
        if geometry is None or len(geometry) != 1:
            self.fail(where, 'expected one shape inside <geometry>')
        kind = geometry[0].tag
        g = geometry[0]
        gwhere = f'{where}/geometry/{kind}'
        if kind == 'box':
            size = self.floats(_required(self, g, 'size', gwhere), f'{gwhere}/size', counts=(3,))
        elif kind == 'cylinder':
            size = (self.number(g, 'radius', gwhere), self.number(g, 'length', gwhere))
        elif kind == 'sphere':
            size = (self.number(g, 'radius', gwhere),)
        elif kind == 'plane':
            normal = g.find('normal')
            if normal is not None and self.floats(normal, f'{gwhere}/normal', (3,)) != (0, 0, 1):
                self.fail(gwhere, 'only floor planes (normal 0 0 1) are supported')
            size = self.floats(_required(self, g, 'size', gwhere), f'{gwhere}/size', counts=(2,))
        else:
            self.fail(gwhere, f'unsupported shape: the embedded simulator supports '
                      f'{", ".join(SHAPE_KINDS)}')
        if not all(v > 0 for v in size):
            self.fail(gwhere, f'sizes must be positive, got {size}')
        rgba = self.rgba(element, where) if with_colour else DEFAULT_RGBA
        pose = frame.compose(self.pose(element, where))
        return Shape(where.replace('/', '::'), kind, size, pose, rgba)

    def links(self, model, frame: Pose):
        """Yield ``(link element, link name, link pose in frame)`` for each link."""
        model_name = self.name(model)
        if model.find('model') is not None or model.find('include') is not None:
            self.fail(model_name, 'nested models and includes are not supported')
        for link in model.findall('link'):
            name = self.name(link)
            yield link, name, frame.compose(self.pose(link, f'{model_name}/{name}'))

    def shapes(self, model, frame: Pose):
        """Return the visuals and collisions of a model, posed in ``frame``'s parent."""
        visuals, collisions = [], []
        model_name = self.name(model)
        for link, link_name, link_pose in self.links(model, frame):
            for element in link.findall('visual'):
                where = f'{model_name}/{link_name}/{self.name(element)}'
                visuals.append(self.shape(element, where, link_pose, with_colour=True))
            for element in link.findall('collision'):
                where = f'{model_name}/{link_name}/{self.name(element)}'
                collisions.append(self.shape(element, where, link_pose, with_colour=False))
        return visuals, collisions

    def static_model(self, model):
        name = self.name(model)
        if (model.findtext('static') or 'false').strip().lower() not in ('true', '1'):
            self.fail(name, 'is not static: only the robot model may move')
        return self.shapes(model, self.pose(model, name))

    def floor_marking(self, model, what: str) -> Shape:
        """Read a visual-only marking on the floor (the spill, the slow zone)."""
        name = self.name(model)
        visuals, collisions = self.static_model(model)
        if collisions:
            self.fail(name, f'the {what} must be visual only (no <collision>)')
        if len(visuals) != 1 or visuals[0].kind not in ('box', 'cylinder'):
            self.fail(name, f'the {what} must be exactly one box or cylinder visual')
        return visuals[0]

    def robot(self, model) -> RobotSpec:
        name = self.name(model)
        links = list(self.links(model, Pose()))
        if not links:
            self.fail(name, 'the robot has no links')
        canonical = model.get('canonical_link') or links[0][1]
        link_poses: Dict[str, Pose] = {link_name: pose for _, link_name, pose in links}
        if canonical not in link_poses:
            self.fail(name, f'canonical_link {canonical!r} is not a link of the model')
        to_base = link_poses[canonical].inverse()
        visuals, collisions = self.shapes(model, to_base)
        if not collisions:
            self.fail(name, 'the robot has no <collision> shapes')
        lidars, cameras = [], []
        for link, link_name, link_pose in links:
            for sensor in link.findall('sensor'):
                where = f'{name}/{link_name}/{self.name(sensor)}'
                pose = to_base.compose(link_pose).compose(self.pose(sensor, where))
                if sensor.get('type') in LIDAR_TYPES:
                    lidars.append(self.lidar(sensor, where, link_name, pose))
                elif sensor.get('type') == 'camera':
                    cameras.append(self.camera(sensor, where, link_name, pose))
        if len(lidars) != 1 or len(cameras) != 1:
            self.fail(name, f'the robot needs exactly one lidar and one camera sensor, found '
                      f'{len(lidars)} lidar(s) and {len(cameras)} camera(s)')
        pose = self.pose(model, name).compose(link_poses[canonical])
        return RobotSpec(name, canonical, pose, tuple(visuals), tuple(collisions),
                         lidars[0], cameras[0], self.drive(model))

    def sensor_common(self, sensor, where: str, link_name: str):
        frame_id = (sensor.findtext('gz_frame_id') or link_name).strip()
        topic = (sensor.findtext('topic') or self.name(sensor)).strip()
        rate = self.number(sensor, 'update_rate', where)
        if rate <= 0:
            self.fail(f'{where}/update_rate', f'must be positive, got {rate}')
        return frame_id, topic, rate

    def lidar(self, sensor, where: str, link_name: str, pose: Pose) -> LidarSpec:
        frame_id, topic, rate = self.sensor_common(sensor, where, link_name)
        block = sensor.find('lidar')
        if block is None:
            block = sensor.find('ray')
        if block is None:
            self.fail(where, 'missing <lidar>')
        horizontal = _required(self, block, 'scan/horizontal', f'{where}/lidar')
        hwhere = f'{where}/lidar/scan/horizontal'
        samples = self.number(horizontal, 'samples', hwhere)
        vertical = block.find('scan/vertical')
        if vertical is not None and self.number(vertical, 'samples', f'{where}/vertical', 1) != 1:
            self.fail(f'{where}/lidar/scan/vertical', 'only planar (1 vertical sample) lidars')
        spec = LidarSpec(
            name=self.name(sensor), frame_id=frame_id, topic=topic, pose=pose,
            samples=int(samples),
            min_angle=self.number(horizontal, 'min_angle', hwhere),
            max_angle=self.number(horizontal, 'max_angle', hwhere),
            range_min=self.number(block, 'range/min', f'{where}/lidar'),
            range_max=self.number(block, 'range/max', f'{where}/lidar'),
            update_rate=rate)
        if spec.samples < 1 or spec.samples != samples or spec.max_angle < spec.min_angle:
            self.fail(hwhere, 'needs a positive whole number of samples and min_angle <= '
                      'max_angle')
        if not 0 <= spec.range_min < spec.range_max:
            self.fail(f'{where}/lidar/range', 'needs 0 <= min < max')
        return spec

    def camera(self, sensor, where: str, link_name: str, pose: Pose) -> CameraSpec:
        frame_id, topic, rate = self.sensor_common(sensor, where, link_name)
        block = _required(self, sensor, 'camera', where)
        cwhere = f'{where}/camera'
        image_format = (block.findtext('image/format') or 'R8G8B8').strip()
        if image_format != 'R8G8B8':
            self.fail(f'{cwhere}/image/format', f'only R8G8B8 is supported, got {image_format}')
        spec = CameraSpec(
            name=self.name(sensor), frame_id=frame_id, topic=topic, pose=pose,
            width=int(self.number(block, 'image/width', cwhere)),
            height=int(self.number(block, 'image/height', cwhere)),
            horizontal_fov=self.number(block, 'horizontal_fov', cwhere),
            near=self.number(block, 'clip/near', cwhere),
            far=self.number(block, 'clip/far', cwhere),
            update_rate=rate)
        if spec.width < 1 or spec.height < 1 or not 0 < spec.horizontal_fov < math.pi:
            self.fail(cwhere, 'needs a positive image size and 0 < horizontal_fov < pi')
        if not 0 < spec.near < spec.far:
            self.fail(f'{cwhere}/clip', 'needs 0 < near < far')
        return spec

    def drive(self, model) -> DriveSpec:
        name = self.name(model)
        plugins = [p for p in model.findall('plugin')
                   if 'diff-drive' in (p.get('filename') or '')
                   or (p.get('name') or '').endswith('DiffDrive')]
        if len(plugins) != 1:
            self.fail(name, f'the robot needs one gz-sim-diff-drive-system plugin, '
                      f'found {len(plugins)}')
        p = plugins[0]
        where = f'{name}/plugin[DiffDrive]'
        return DriveSpec(
            wheel_separation=self.number(p, 'wheel_separation', where),
            wheel_radius=self.number(p, 'wheel_radius', where),
            max_linear_velocity=self.number(p, 'max_linear_velocity', where, math.inf),
            min_linear_velocity=self.number(p, 'min_linear_velocity', where, -math.inf),
            max_angular_velocity=self.number(p, 'max_angular_velocity', where, math.inf),
            min_angular_velocity=self.number(p, 'min_angular_velocity', where, -math.inf))


def _required(reader: _Reader, parent, path: str, where: str):
    element = parent.find(path)
    if element is None:
        reader.fail(where, f'missing <{path}>')
    return element


def _planar_bounds(shape: Shape) -> Tuple[float, float, float, float]:
    """Return the shape's ``(xmin, xmax, ymin, ymax)`` in its pose's parent frame."""
    r = shape.pose.matrix()
    if shape.kind == 'box':
        half = np.abs(r[:2, :]) @ (np.asarray(shape.size) / 2.0)
    elif shape.kind == 'cylinder':
        radius, length = shape.size
        axis = r[:2, 2]
        half = radius * np.sqrt(np.clip(1.0 - axis ** 2, 0.0, 1.0)) + np.abs(axis) * length / 2
    elif shape.kind == 'sphere':
        half = np.full(2, shape.size[0])
    else:
        half = np.asarray(shape.size) / 2.0
    x, y = shape.pose.position[:2]
    return x - half[0], x + half[0], y - half[1], y + half[1]
