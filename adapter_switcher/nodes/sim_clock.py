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
Sim time followed from /clock's serialized bytes: rclpy's TimeSource without the message.

Under ``use_sim_time`` rclpy's TimeSource subscribes to /clock and, for every message, has the
executor build a Python ``rosgraph_msgs/Clock`` (two nested message objects and their checks),
then ``Time.from_msg`` and ``set_ros_time_override``. At the simulator's 20 Hz that is most of
what following sim time costs beyond the wake-up itself (bench/sim_time.py). Here the
subscription is raw: the stamp is unpacked from the 12 bytes (encapsulation, int32 sec, uint32
nanosec) and the same ``Time`` goes to the same ``set_ros_time_override`` of every attached
clock.

Everything else is rclpy's own TimeSource, inherited: the ``use_sim_time`` parameter at start
and changed at runtime (subscribe, unsubscribe, a non-bool refused), the clocks attached, the
last time handed to a clock attached later, the QoS (depth 1, best effort). Another
encapsulation than little-endian CDR goes to ``deserialize_message``; a message that cannot be
read (cut short, a negative time) is dropped with a throttled warning, as the middleware drops
one it cannot deserialize for a typed subscription, and the clock keeps its last time.
"""

import struct
from typing import List, Optional

from adapter_switcher.nodes.sensor_cdr import CDR_LE
from adapter_switcher.nodes.sensor_cdr import HEADER_BYTES
from rclpy.clock_type import ClockType
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.qos import ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rclpy.time import Time
from rclpy.time_source import CLOCK_TOPIC
from rclpy.time_source import TimeSource
from rosgraph_msgs.msg import Clock

_STAMP = struct.Struct('<iI')
CLOCK_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)  # TimeSource's
WARN_PERIOD_S = 10.0


def clock_time(data: bytes) -> Time:
    """Return the ROS time in a serialized ``rosgraph_msgs/Clock``; ValueError if unreadable."""
    if data[:2] == CDR_LE:
        if len(data) < HEADER_BYTES + _STAMP.size:
            raise ValueError(f'/clock message cut short: {len(data)} bytes')
        sec, nanosec = _STAMP.unpack_from(data, HEADER_BYTES)
    else:
        try:
            stamp = deserialize_message(data, Clock).clock
        except Exception as error:  # the type support's own error types vary
            raise ValueError(f'/clock message unreadable: {error}') from None
        sec, nanosec = stamp.sec, stamp.nanosec
    return Time(seconds=sec, nanoseconds=nanosec, clock_type=ClockType.ROS_TIME)


class RawClockTimeSource(TimeSource):
    """
    rclpy's TimeSource whose /clock subscription takes the bytes (see the module doc).

    It also drives the node's :class:`~adapter_switcher.nodes.control_timer.ControlTimer` ticks
    from the /clock callback, and tells them when ``use_sim_time`` changes.
    """

    def __init__(self, *, node: Optional[Node] = None):
        self._control_timers: List = []   # before TimeSource sets ros_time_is_active
        super().__init__(node=node)

    @property
    def ros_time_is_active(self) -> bool:
        return self._ros_time_is_active

    @ros_time_is_active.setter
    def ros_time_is_active(self, enabled: bool) -> None:
        TimeSource.ros_time_is_active.fset(self, enabled)
        for timer in tuple(self._control_timers):
            timer.sim_time_changed(enabled)

    def add_control_timer(self, timer) -> None:
        """Run ``timer.clock_advanced(ns)`` after each /clock sets the time."""
        self._control_timers.append(timer)

    def remove_control_timer(self, timer) -> None:
        """Stop driving ``timer`` (no error if it was not added)."""
        if timer in self._control_timers:
            self._control_timers.remove(timer)

    def _subscribe_to_clock_topic(self) -> None:
        node = self._get_node()
        if self._clock_sub is None and node is not None:
            self._clock_sub = node.create_subscription(
                Clock, CLOCK_TOPIC, self._on_clock_bytes, CLOCK_QOS, raw=True)

    def _on_clock_bytes(self, data: bytes) -> None:
        try:
            now = clock_time(data)
        except ValueError as error:
            node = self._get_node()
            if node is not None:
                node.get_logger().warning(f'{error}; kept the last time',
                                          throttle_duration_sec=WARN_PERIOD_S)
            return
        self._last_time_set = now
        for clock in self._associated_clocks:
            clock.set_ros_time_override(now)
        for timer in tuple(self._control_timers):
            timer.clock_advanced(now.nanoseconds)


def follow_clock_bytes(node: Node) -> RawClockTimeSource:
    """
    Give ``node`` a :class:`RawClockTimeSource` in place of the TimeSource rclpy made for it.

    Call right after ``Node.__init__``: rclpy's TimeSource is detached (its /clock subscription,
    if any, destroyed; its parameter callback removed) and the new one attached to the node and
    its clock, reading ``use_sim_time`` as rclpy's did.
    """
    old = node._time_source
    node.remove_on_set_parameters_callback(old._on_parameter_event)
    old.detach_node()
    source = RawClockTimeSource(node=node)
    source.attach_clock(node.get_clock())
    node._time_source = source
    return source
