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

"""Sensor message conversions, with real message objects: padding, encodings, bad sizes."""

import math

from adapter_switcher.nodes.conversions import array_to_image
from adapter_switcher.nodes.conversions import image_to_array
from adapter_switcher.nodes.conversions import odom_to_twist
from adapter_switcher.nodes.conversions import scan_to_data
from adapter_switcher.nodes.conversions import stamp_to_seconds

from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
import numpy as np
import pytest
from sensor_msgs.msg import Image
from sensor_msgs.msg import LaserScan


def _colour_image(height=3, width=4):
    return np.arange(height * width * 3, dtype=np.uint8).reshape(height, width, 3)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8'])
def test_colour_image_round_trips_with_padded_rows(encoding):
    array = _colour_image()
    msg = array_to_image(array, encoding, step=16)  # 12 bytes of pixels + 4 of padding per row
    assert msg.step == 16 and len(msg.data) == 3 * 16
    image, got_encoding = image_to_array(msg)
    assert got_encoding == encoding
    np.testing.assert_array_equal(image, array)


def test_padding_bytes_never_reach_the_pixels():
    msg = Image(height=2, width=2, encoding='mono8', step=4)
    msg.data = bytes([1, 2, 255, 255, 3, 4, 255, 255])
    image, _ = image_to_array(msg)
    np.testing.assert_array_equal(image, [[1, 2], [3, 4]])


def test_mono_image_is_two_dimensional():
    array = np.array([[0, 10, 20], [30, 40, 50]], dtype=np.uint8)
    image, encoding = image_to_array(array_to_image(array, 'mono8'))
    assert encoding == 'mono8' and image.shape == (2, 3)
    np.testing.assert_array_equal(image, array)


def test_big_endian_flag_does_not_change_8_bit_pixels():
    msg = array_to_image(_colour_image(), 'rgb8')
    msg.is_bigendian = 1
    np.testing.assert_array_equal(image_to_array(msg)[0], _colour_image())


def test_trailing_bytes_past_the_last_row_are_ignored():
    msg = array_to_image(_colour_image(), 'rgb8')
    msg.data = bytes(msg.data) + b'\x07\x07'
    np.testing.assert_array_equal(image_to_array(msg)[0], _colour_image())


@pytest.mark.parametrize('encoding', ['rgba8', '16UC1', 'bayer_rggb8', ''])
def test_other_encodings_are_refused_by_name(encoding):
    msg = Image(height=1, width=1, encoding=encoding, step=4, data=bytes(4))
    with pytest.raises(ValueError, match='not supported'):
        image_to_array(msg)


def test_step_shorter_than_a_row_is_refused():
    msg = Image(height=2, width=4, encoding='rgb8', step=8, data=bytes(16))
    with pytest.raises(ValueError, match='step 8 is smaller than width 4'):
        image_to_array(msg)


def test_short_data_is_refused_with_the_sizes():
    msg = Image(height=2, width=2, encoding='rgb8', step=6, data=bytes(11))
    with pytest.raises(ValueError, match='11 bytes.*needs 12'):
        image_to_array(msg)


def test_empty_image_is_refused():
    with pytest.raises(ValueError, match='empty'):
        image_to_array(Image(height=0, width=0, encoding='mono8', step=0))


def test_scan_keeps_nan_and_inf_for_the_features_to_handle():
    msg = LaserScan(angle_min=-math.pi, angle_max=math.pi / 2, angle_increment=math.pi / 2,
                    range_min=0.1, range_max=12.0,
                    ranges=[1.0, float('nan'), float('inf'), -float('inf')])
    msg.header.stamp = Time(sec=3, nanosec=500_000_000)
    scan = scan_to_data(msg)
    assert scan.ranges.dtype == np.float32 and scan.ranges[0] == 1.0
    assert math.isnan(scan.ranges[1]) and scan.ranges[2] == np.inf and scan.ranges[3] == -np.inf
    assert (scan.angle_min, scan.range_min, scan.range_max) == pytest.approx(
        (-math.pi, 0.1, 12.0))
    assert scan.stamp == pytest.approx(3.5)


def test_odometry_gives_body_twist_and_refuses_a_non_finite_one():
    msg = Odometry()
    msg.twist.twist.linear.x, msg.twist.twist.linear.y = 0.7, -0.1
    msg.twist.twist.angular.z = 0.25
    assert odom_to_twist(msg) == pytest.approx((0.7, -0.1, 0.25))
    msg.twist.twist.angular.z = float('nan')
    with pytest.raises(ValueError, match='odometry twist angular.z is nan'):
        odom_to_twist(msg)


def test_stamp_to_seconds():
    assert stamp_to_seconds(Time(sec=1, nanosec=250_000_000)) == pytest.approx(1.25)
