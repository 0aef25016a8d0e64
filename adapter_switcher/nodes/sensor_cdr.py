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
The three sensor messages read straight from their serialized (CDR) bytes: only what is used.

rclpy's ``deserialize_message`` builds the whole Python message: for an Odometry that is a dozen
nested message objects and two 36-float covariance arrays (~60-90 us) for the three numbers the
features use, and for an Image a copy of every pixel into an ``array`` before the node copies
them again. A node reading ~4 messages a tick at 20 Hz spends more on that than on its model.
Here the fields the conversions read come out of the bytes with ``struct`` and numpy views:
:func:`read_sensor` returns a light object with the same attribute names as the message
(``msg.twist.twist.linear.x``, ``msg.ranges``, ``msg.data``...; sequences as read-only numpy
views of the bytes, covariances as tuples), so :mod:`conversions` takes either.

Plain little-endian CDR (XCDR1), as ROS 2's middlewares send these types on x86 and ARM. Bytes that
are cut short, a string or sequence running past the end, or text that is not UTF-8 raise
ValueError, where ``deserialize_message`` raises too (test_nodes_sensor_cdr.py checks both on
random messages and every truncation). Any other encapsulation (big-endian, XCDR2) goes to
``deserialize_message``.
"""

import struct
from types import SimpleNamespace
from typing import Callable, Dict

from nav_msgs.msg import Odometry
import numpy as np
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Image
from sensor_msgs.msg import LaserScan

CDR_LE = b'\x00\x01'      # plain CDR, little-endian: what ROS 2 sends on the hosts it runs on
HEADER_BYTES = 4        # the encapsulation: representation id (2 bytes) and options (2 bytes)


class _Reader:
    """Reads CDR primitives in order, aligned relative to the end of the encapsulation."""

    __slots__ = ('data', 'pos')

    def __init__(self, data: bytes):
        self.data = data
        self.pos = HEADER_BYTES

    def _take(self, size: int, align: int) -> int:
        start = self.pos + (-(self.pos - HEADER_BYTES) % align)
        end = start + size
        if end > len(self.data):
            raise ValueError(f'message cut short: needs {end} bytes, has {len(self.data)}')
        self.pos = end
        return start

    def values(self, fmt: str, count: int, size: int):
        """Return ``count`` values of struct format ``fmt`` (each ``size`` bytes)."""
        return struct.unpack_from(f'<{count}{fmt}', self.data,
                                  self._take(size * count, size))

    def uint32(self) -> int:
        return self.values('I', 1, 4)[0]

    def string(self) -> str:
        length = self.uint32()
        start = self._take(length, 1)
        raw = self.data[start:start + length]
        try:
            return raw.rstrip(b'\0').decode('utf-8') if length else ''
        except UnicodeDecodeError as error:
            raise ValueError(f'string is not UTF-8: {error}') from None

    def array(self, dtype: str, itemsize: int) -> np.ndarray:
        """Return a sequence of numbers as a read-only numpy view of the bytes (no copy)."""
        count = self.uint32()
        start = self._take(count * itemsize, itemsize if count else 1)
        return np.frombuffer(self.data, dtype=np.dtype('<' + dtype), count=count,
                             offset=start)

    def header(self) -> SimpleNamespace:
        sec, nanosec = self.values('i', 1, 4) + self.values('I', 1, 4)
        return SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=nanosec),
                               frame_id=self.string())


def _scan(reader: _Reader) -> SimpleNamespace:
    header = reader.header()
    (angle_min, angle_max, angle_increment, time_increment, scan_time, range_min,
     range_max) = reader.values('f', 7, 4)
    return SimpleNamespace(header=header, angle_min=angle_min, angle_max=angle_max,
                           angle_increment=angle_increment, time_increment=time_increment,
                           scan_time=scan_time, range_min=range_min, range_max=range_max,
                           ranges=reader.array('f4', 4), intensities=reader.array('f4', 4))


def _image(reader: _Reader) -> SimpleNamespace:
    header = reader.header()
    height, width = reader.values('I', 2, 4)
    encoding = reader.string()
    is_bigendian = reader.values('B', 1, 1)[0]
    step = reader.uint32()
    return SimpleNamespace(header=header, height=height, width=width, encoding=encoding,
                           is_bigendian=is_bigendian, step=step, data=reader.array('u1', 1))


def _odom(reader: _Reader) -> SimpleNamespace:
    header = reader.header()
    child_frame_id = reader.string()
    pose = reader.values('d', 7 + 36, 8)
    twist = reader.values('d', 6 + 36, 8)
    linear = SimpleNamespace(x=twist[0], y=twist[1], z=twist[2])
    angular = SimpleNamespace(x=twist[3], y=twist[4], z=twist[5])
    return SimpleNamespace(
        header=header, child_frame_id=child_frame_id,
        pose=SimpleNamespace(pose=SimpleNamespace(
            position=SimpleNamespace(x=pose[0], y=pose[1], z=pose[2]),
            orientation=SimpleNamespace(x=pose[3], y=pose[4], z=pose[5], w=pose[6])),
            covariance=pose[7:]),
        twist=SimpleNamespace(twist=SimpleNamespace(linear=linear, angular=angular),
                              covariance=twist[6:]))


READERS: Dict[type, Callable[[_Reader], SimpleNamespace]] = {
    LaserScan: _scan,
    Image: _image,
    Odometry: _odom,
}


def read_sensor(data: bytes, msg_type):
    """
    Return the message in ``data`` as an object with the message's attribute names.

    Raises ValueError for bytes that are not a whole message of the type; a type or an
    encapsulation this module does not read comes back from ``deserialize_message``.
    """
    read = READERS.get(msg_type)
    if read is None or data[:2] != CDR_LE:
        return deserialize_message(data, msg_type)
    try:
        return read(_Reader(data))
    except struct.error as error:
        raise ValueError(f'cannot read the message: {error}') from None
