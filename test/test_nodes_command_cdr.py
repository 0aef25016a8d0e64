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

"""The /cmd_vel bytes the inference node publishes are a serialized geometry_msgs/Twist."""

import math

from adapter_switcher.nodes.command_cdr import twist_cdr
from geometry_msgs.msg import Twist
from hypothesis import given
from hypothesis import strategies as st
from rclpy.serialization import deserialize_message
from rclpy.serialization import serialize_message


def _twist(linear_x, angular_z):
    msg = Twist()
    msg.linear.x = linear_x
    msg.angular.z = angular_z
    return msg


@given(st.floats(allow_nan=True, allow_infinity=True),
       st.floats(allow_nan=True, allow_infinity=True))
def test_the_bytes_are_what_rclpy_serializes(linear_x, angular_z):
    data = twist_cdr(linear_x, angular_z)
    assert data == serialize_message(_twist(linear_x, angular_z))
    back = deserialize_message(data, Twist)
    for got, want in ((back.linear.x, linear_x), (back.angular.z, angular_z)):
        assert got == want or (math.isnan(got) and math.isnan(want))
        assert math.copysign(1.0, got) == math.copysign(1.0, want)
    assert (back.linear.y, back.linear.z, back.angular.x, back.angular.y) == (0.0,) * 4


def test_zero_is_the_stop_command():
    assert twist_cdr(0.0, 0.0) == serialize_message(Twist())
