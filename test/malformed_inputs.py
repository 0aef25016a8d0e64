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
Malformed sensor messages, for the fuzz tests and bench/reliability.py.

Each case starts from a valid message of the synthetic scene (dds_harness) and breaks one thing:
images with a wrong step, size or encoding, empty images; scans with non-finite, negative,
empty or mismatched geometry, or without one usable reading; non-finite odometry; messages far
larger than a real sensor sends. Every one must be dropped (with a warning), never crash a node
and never count as the sensor being alive.
"""

import copy
import math
from typing import Callable, List, Tuple

from adapter_switcher.nodes.sensor_inputs import SENSOR_TOPICS

from dds_harness import Scene
from dds_harness import scene_image
from dds_harness import scene_odom
from dds_harness import scene_scan
from rclpy.serialization import serialize_message

NAN, INF = float('nan'), float('inf')


def _with(scene_message, **fields):
    """Return a factory of the scene's message with ``fields`` set."""
    def make():
        msg = scene_message(Scene())
        for name, value in fields.items():
            setattr(msg, name, value)
        return msg
    return make


def _image(**fields):
    return _with(scene_image, **fields)


def _image_data(size: int):
    return _with(scene_image, data=bytes(size))


def _scan(**fields):
    return _with(scene_scan, **fields)


def _scan_ranges(values: Callable[[int], list], **fields):
    make_scan = _scan(**fields)

    def make():
        msg = make_scan()
        msg.ranges = values(len(msg.ranges))
        return msg
    return make


def _odom(**components):
    def make():
        msg = copy.deepcopy(scene_odom(Scene()))
        for path, value in components.items():
            group, axis = path.split('_')
            setattr(getattr(msg.twist.twist, group), axis, value)
        return msg
    return make


def _huge_scan():
    msg = scene_scan(Scene())
    count = 200_000
    msg.angle_increment = 2 * math.pi / count
    msg.angle_max = msg.angle_min + (count - 1) * msg.angle_increment
    msg.ranges = [4.0] * count
    return msg


# (case, sensor, factory) — a factory, so every use gets a fresh message.
SENSOR_CASES: List[Tuple[str, str, Callable]] = [
    ('image step below a row', 'camera', _image(step=10)),
    ('image step zero', 'camera', _image(step=0)),
    ('image data truncated', 'camera', _image_data(100)),
    ('image data empty', 'camera', _image_data(0)),
    ('image height zero', 'camera', _image(height=0)),
    ('image width zero', 'camera', _image(width=0)),
    ('image width larger than the data', 'camera', _image(width=4096, step=4096 * 3)),
    ('image height larger than the data', 'camera', _image(height=4096)),
    ('image encoding rgba8', 'camera', _image(encoding='rgba8')),
    ('image encoding 16UC1', 'camera', _image(encoding='16UC1')),
    ('image encoding empty', 'camera', _image(encoding='')),
    ('image encoding bayer', 'camera', _image(encoding='bayer_rggb8')),
    ('image encoding unicode', 'camera', _image(encoding='rgb8\u200b')),
    ('image huge declared size', 'camera', _image(height=65535, width=65535, step=65535 * 3)),
    ('image huge data', 'camera', _image_data(80 << 20)),
    ('scan empty', 'scan', _scan(ranges=[])),
    ('scan angle_min nan', 'scan', _scan(angle_min=NAN)),
    ('scan angle_max nan', 'scan', _scan(angle_max=NAN)),
    ('scan angle_increment nan', 'scan', _scan(angle_increment=NAN)),
    ('scan angle_increment inf', 'scan', _scan(angle_increment=INF)),
    ('scan angle_min -inf', 'scan', _scan(angle_min=-INF)),
    ('scan angle_increment zero', 'scan', _scan(angle_increment=0.0)),
    ('scan angle_increment negative', 'scan', _scan(angle_increment=-2 * math.pi / 360)),
    ('scan angle_max mismatched', 'scan', _scan(angle_max=0.5)),
    ('scan covers ten turns', 'scan', _scan_ranges(
        lambda n: [4.0] * n, angle_increment=20 * math.pi / 360,
        angle_max=-math.pi + 359 * 20 * math.pi / 360)),
    ('scan range_min nan', 'scan', _scan(range_min=NAN)),
    ('scan range_max inf', 'scan', _scan(range_max=INF)),
    ('scan range_min negative', 'scan', _scan(range_min=-1.0)),
    ('scan range_min above range_max', 'scan', _scan(range_min=20.0)),
    ('scan range_max negative', 'scan', _scan(range_max=-5.0)),
    ('scan all ranges nan', 'scan', _scan_ranges(lambda n: [NAN] * n)),
    ('scan all ranges negative', 'scan', _scan_ranges(lambda n: [-1.0] * n)),
    ('scan all ranges beyond range_max', 'scan', _scan_ranges(lambda n: [50.0] * n)),
    ('scan huge', 'scan', _huge_scan),
    ('odom linear.x nan', 'odom', _odom(linear_x=NAN)),
    ('odom linear.y nan', 'odom', _odom(linear_y=NAN)),
    ('odom angular.z nan', 'odom', _odom(angular_z=NAN)),
    ('odom linear.x inf', 'odom', _odom(linear_x=INF)),
    ('odom angular.z -inf', 'odom', _odom(angular_z=-INF)),
    ('odom all nan', 'odom', _odom(linear_x=NAN, linear_y=NAN, angular_z=NAN)),
]


def deliver(inputs, sensor: str, msg) -> None:
    """
    Hand a SensorInputs what DDS would.

    A node that reads its sensors on its own schedule takes them serialized
    (``SensorInputs.receive``, the path its taken subscriptions feed); a node that evaluates on
    every message gets the message in its subscription callback.
    """
    subscription = inputs.subscriptions[list(SENSOR_TOPICS).index(sensor)]
    if subscription.raw:
        inputs.receive(sensor, serialize_message(msg))
    else:
        subscription.callback(msg)
