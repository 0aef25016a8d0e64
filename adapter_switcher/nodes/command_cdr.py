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
The velocity command as the bytes a ``geometry_msgs/Twist`` publisher sends.

rclpy publishes a message object by converting it to its C struct field by field (two nested
Vector3 objects, six type-checked doubles) before the middleware serializes it. A Twist is 48
bytes of little-endian doubles behind the CDR encapsulation header, so the inference node packs
those bytes once per tick and hands them to ``publish``, which accepts serialized messages
(``publish_raw``): the same bytes on the wire (tested against ``serialize_message``), about half
the publish call's own CPU.
"""

import struct

_TWIST = struct.Struct('<4s6d')
_CDR_LE = b'\x00\x01\x00\x00'      # plain CDR, little-endian, no options


def twist_cdr(linear_x: float, angular_z: float) -> bytes:
    """Return a serialized Twist with ``linear.x`` and ``angular.z`` set, the rest zero."""
    return _TWIST.pack(_CDR_LE, linear_x, 0.0, 0.0, 0.0, 0.0, angular_z)
