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
Sensor messages to numpy arrays and back, without cv_bridge.

The feature extractors and the policy take plain arrays so they stay ROS-free; this module is the
only place that knows the message layouts. Readings are passed through as they are (NaN and inf
in a scan's ranges stay NaN and inf, REP 117): deciding what they mean is the feature functions'
job. A message that cannot be trusted as a whole raises ValueError naming the field, so a node
logs and drops it and its watchdog does not count it as the sensor being alive: non-finite or
inconsistent scan geometry, a scan without one usable reading, a non-finite odometry twist,
image sizes that do not add up, and messages larger than any real sensor sends.
"""

from dataclasses import dataclass
import math
from typing import Tuple

import numpy as np
from sensor_msgs.msg import Image

# Channels per pixel of the 8-bit encodings the nodes accept.
IMAGE_CHANNELS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}
# Larger messages are refused before any copy: no lidar or camera the nodes serve sends them.
MAX_SCAN_RANGES = 100_000
MAX_IMAGE_BYTES = 64 << 20


@dataclass(frozen=True)
class ScanData:
    """A LaserScan's ranges and geometry, as the lidar feature function takes them."""

    ranges: np.ndarray
    angle_min: float
    angle_increment: float
    range_min: float
    range_max: float
    stamp: float


def stamp_to_seconds(stamp) -> float:
    """Return a builtin_interfaces/Time as float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def scan_to_data(msg) -> ScanData:
    """Convert a sensor_msgs/LaserScan, keeping NaN and inf ranges; ValueError if unusable."""
    count = len(msg.ranges)
    if count == 0:
        raise ValueError('scan has no ranges')
    if count > MAX_SCAN_RANGES:
        raise ValueError(f'scan has {count} ranges, more than {MAX_SCAN_RANGES}')
    geometry = {name: float(getattr(msg, name)) for name in
                ('angle_min', 'angle_max', 'angle_increment', 'range_min', 'range_max')}
    for name, value in geometry.items():
        if not math.isfinite(value):
            raise ValueError(f'scan {name} is {value}')
    step = geometry['angle_increment']
    if step == 0.0 and count > 1:
        raise ValueError('scan angle_increment is 0 with several ranges')
    last = geometry['angle_min'] + step * (count - 1)
    if abs(last - geometry['angle_max']) > abs(step) + 1e-3:
        raise ValueError(f'scan angles do not match its {count} ranges: angle_min + '
                         f'{count - 1} x angle_increment = {last:.4f}, angle_max '
                         f"{geometry['angle_max']:.4f}")
    if abs(step) * (count - 1) > 2 * math.pi + abs(step) + 1e-3:
        raise ValueError(f'scan covers {abs(step) * (count - 1):.2f} rad, more than a turn')
    if not 0.0 <= geometry['range_min'] < geometry['range_max']:
        raise ValueError(f"scan needs 0 <= range_min < range_max, got {geometry['range_min']:g} "
                         f"and {geometry['range_max']:g}")
    ranges = np.asarray(msg.ranges, dtype=np.float32)
    usable = np.isinf(ranges) | ((ranges >= geometry['range_min'])
                                 & (ranges <= geometry['range_max']))
    if not usable.any():
        raise ValueError('scan has no usable range: every one is NaN or outside '
                         f"[{geometry['range_min']:g}, {geometry['range_max']:g}]")
    return ScanData(
        ranges=ranges,
        angle_min=geometry['angle_min'],
        angle_increment=step,
        range_min=geometry['range_min'],
        range_max=geometry['range_max'],
        stamp=stamp_to_seconds(msg.header.stamp),
    )


def image_to_array(msg) -> Tuple[np.ndarray, str]:
    """
    Convert a sensor_msgs/Image to ``(array, encoding)``, honouring row padding.

    rgb8 and bgr8 give (H, W, 3) uint8 and mono8 gives (H, W) uint8, in the message's channel
    order (the feature functions take the encoding). ``step`` may exceed ``width * channels``
    (rows padded for alignment); the padding is dropped. Byte order does not matter for 8-bit
    data, so ``is_bigendian`` is ignored. Raises ValueError for other encodings and for sizes
    that do not add up.
    """
    encoding = msg.encoding
    if encoding not in IMAGE_CHANNELS:
        raise ValueError(
            f'image encoding {encoding!r} is not supported (use one of '
            f'{", ".join(sorted(IMAGE_CHANNELS))})')
    channels = IMAGE_CHANNELS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ValueError(f'image is empty ({width}x{height})')
    if len(msg.data) > MAX_IMAGE_BYTES or height * step > MAX_IMAGE_BYTES:
        raise ValueError(f'image of {max(len(msg.data), height * step)} bytes is larger than '
                         f'{MAX_IMAGE_BYTES}')
    row_bytes = width * channels
    if step < row_bytes:
        raise ValueError(
            f'image step {step} is smaller than width {width} x {channels} channels '
            f'= {row_bytes} bytes')
    data = np.frombuffer(msg.data, dtype=np.uint8)     # a view: no copy yet
    if data.size < height * step:
        raise ValueError(
            f'image data has {data.size} bytes, {encoding} {width}x{height} with step {step} '
            f'needs {height * step}')
    rows = data[:height * step].reshape(height, step)[:, :row_bytes]
    if channels == 1:
        return rows.copy(), encoding
    return rows.reshape(height, width, channels).copy(), encoding


def array_to_image(array: np.ndarray, encoding: str, step: int = 0):
    """
    Build a sensor_msgs/Image from an array, optionally with padded rows.

    The inverse of :func:`image_to_array`, for the synthetic camera publishers in the tests and
    benchmarks. ``step`` 0 means unpadded rows.
    """
    if encoding not in IMAGE_CHANNELS:
        raise ValueError(f'image encoding {encoding!r} is not supported')
    array = np.ascontiguousarray(array, dtype=np.uint8)
    height, width = array.shape[:2]
    row_bytes = width * IMAGE_CHANNELS[encoding]
    if array.size != height * row_bytes:
        raise ValueError(f'array shape {array.shape} does not match encoding {encoding}')
    step = step or row_bytes
    if step < row_bytes:
        raise ValueError(f'step {step} is smaller than a row ({row_bytes} bytes)')
    padded = np.zeros((height, step), dtype=np.uint8)
    padded[:, :row_bytes] = array.reshape(height, row_bytes)
    msg = Image()
    msg.height, msg.width, msg.step = height, width, step
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.data = padded.tobytes()
    return msg


def odom_to_twist(msg) -> Tuple[float, float, float]:
    """Return ``(linear_x, linear_y, angular_z)`` of a nav_msgs/Odometry, in the body frame."""
    twist = msg.twist.twist
    values = float(twist.linear.x), float(twist.linear.y), float(twist.angular.z)
    for name, value in zip(('linear.x', 'linear.y', 'angular.z'), values):
        if not math.isfinite(value):
            raise ValueError(f'odometry twist {name} is {value}')
    return values


def odom_to_pose(msg) -> Tuple[float, float, float]:
    """Return ``(x, y, yaw)`` of a nav_msgs/Odometry, in its header's frame; ValueError if NaN."""
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    yaw = math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z))
    values = float(p.x), float(p.y), yaw
    if not all(math.isfinite(value) for value in values):
        raise ValueError(f'odometry pose {values} is not finite')
    return values
