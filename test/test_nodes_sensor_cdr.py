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
sensor_cdr reads the sensor messages' bytes as rclpy's deserialize_message does.

Random messages (strings of every length, so every alignment; empty and long sequences; NaN and
inf) are serialized by rclpy and read both ways: the fields must be equal, and so must what the
node's conversions make of them (values or the ValueError). Every truncation of a message must
be refused by both, and bytes in another encapsulation go to deserialize_message itself.
"""

import math

from adapter_switcher.nodes.conversions import image_to_array
from adapter_switcher.nodes.conversions import odom_to_twist
from adapter_switcher.nodes.conversions import scan_to_data
from adapter_switcher.nodes.sensor_cdr import read_sensor
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from nav_msgs.msg import Odometry
import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image
from sensor_msgs.msg import LaserScan

TEXT = st.text(max_size=13)
F32 = st.floats(width=32, allow_nan=True, allow_infinity=True)
F64 = st.floats(allow_nan=True, allow_infinity=True)


def _header(msg, draw):
    msg.header.stamp.sec = draw(st.integers(-2 ** 31, 2 ** 31 - 1))
    msg.header.stamp.nanosec = draw(st.integers(0, 2 ** 32 - 1))
    msg.header.frame_id = draw(TEXT)


@st.composite
def scans(draw):
    msg = LaserScan()
    _header(msg, draw)
    (msg.angle_min, msg.angle_max, msg.angle_increment, msg.time_increment, msg.scan_time,
     msg.range_min, msg.range_max) = (draw(F32) for _ in range(7))
    msg.ranges = draw(st.lists(F32, max_size=40))
    msg.intensities = draw(st.lists(F32, max_size=5))
    return msg


@st.composite
def images(draw):
    msg = Image()
    _header(msg, draw)
    msg.height, msg.width = draw(st.integers(0, 9)), draw(st.integers(0, 9))
    msg.encoding = draw(st.sampled_from(['rgb8', 'bgr8', 'mono8', '16UC1', '', 'ünï']))
    msg.is_bigendian = draw(st.integers(0, 255))
    msg.step = draw(st.integers(0, 40))
    msg.data = draw(st.binary(max_size=300))
    return msg


@st.composite
def odoms(draw):
    msg = Odometry()
    _header(msg, draw)
    msg.child_frame_id = draw(TEXT)
    pose = msg.pose.pose
    pose.position.x, pose.position.y, pose.position.z = (draw(F64) for _ in range(3))
    q = pose.orientation
    q.x, q.y, q.z, q.w = (draw(F64) for _ in range(4))
    msg.pose.covariance = draw(st.lists(F64, min_size=36, max_size=36))
    twist = msg.twist.twist
    twist.linear.x, twist.linear.y, twist.linear.z = (draw(F64) for _ in range(3))
    twist.angular.x, twist.angular.y, twist.angular.z = (draw(F64) for _ in range(3))
    msg.twist.covariance = draw(st.lists(F64, min_size=36, max_size=36))
    return msg


def _same(a, b) -> bool:
    """Equal, with NaN equal to NaN, through sequences and nested messages."""
    if isinstance(a, float) or isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, (str, int)):
        return a == b
    if hasattr(b, 'get_fields_and_field_types'):
        return all(_same(getattr(a, name), getattr(b, name))
                   for name in b.get_fields_and_field_types())
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))
                                              if a.dtype.kind == 'f' else a == b))


def _outcome(convert, msg):
    try:
        return convert(msg)
    except ValueError as error:
        return ('ValueError', str(error))


def _same_outcome(a, b) -> bool:
    if isinstance(a, tuple) and isinstance(a[0], str):        # ('ValueError', message)
        return a == b
    if hasattr(a, 'ranges'):       # ScanData
        return all(_same(getattr(a, f), getattr(b, f)) for f in
                   ('ranges', 'angle_min', 'angle_increment', 'range_min', 'range_max', 'stamp'))
    if isinstance(a, tuple) and isinstance(a[0], np.ndarray):     # image, encoding
        return a[1] == b[1] and a[0].shape == b[0].shape and bool(np.all(a[0] == b[0]))
    return _same(list(a), list(b))


CASES = [(LaserScan, scans(), scan_to_data), (Image, images(), image_to_array),
         (Odometry, odoms(), odom_to_twist)]


@pytest.mark.parametrize('msg_type, strategy, convert', CASES,
                         ids=[c[0].__name__ for c in CASES])
def test_random_messages_read_as_rclpy_reads_them(msg_type, strategy, convert):
    @settings(max_examples=150, deadline=None)
    @given(strategy)
    def check(msg):
        data = serialize_message(msg)
        ours, theirs = read_sensor(data, msg_type), deserialize_message(data, msg_type)
        assert _same(ours, theirs)
        assert _same_outcome(_outcome(convert, ours), _outcome(convert, theirs))
    check()


@pytest.mark.parametrize('msg_type, strategy, convert', CASES,
                         ids=[c[0].__name__ for c in CASES])
def test_every_truncation_is_refused_by_both(msg_type, strategy, convert):
    @settings(max_examples=5, deadline=None)
    @given(strategy)
    def check(msg):
        data = serialize_message(msg)
        for cut in range(len(data)):
            with pytest.raises(Exception):
                deserialize_message(data[:cut], msg_type)
            with pytest.raises(ValueError if cut >= 4 else Exception):
                read_sensor(data[:cut], msg_type)
    check()


def test_text_that_is_not_utf8_is_refused():
    msg = Odometry()
    msg.header.frame_id = 'odom'
    data = bytearray(serialize_message(msg))
    data[data.index(b'odom')] = 0xff
    with pytest.raises(ValueError, match='UTF-8'):
        read_sensor(bytes(data), Odometry)


def test_another_encapsulation_is_read_by_deserialize_message():
    msg = Odometry()
    msg.twist.twist.linear.x = 1.5
    data = serialize_message(msg)
    big_endian = b'\x00\x00' + data[2:]         # same bytes, declared big-endian
    try:
        expected = deserialize_message(big_endian, Odometry)
    except Exception as error:  # noqa: B902 - then read_sensor must fail the same way
        with pytest.raises(type(error)):
            read_sensor(big_endian, Odometry)
    else:
        assert _same(read_sensor(big_endian, Odometry), expected)
        assert type(read_sensor(big_endian, Odometry)) is Odometry
