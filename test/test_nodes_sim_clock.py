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

"""Sim time from /clock's bytes: the same time as rclpy's TimeSource, the same use_sim_time."""

import struct
import time

from adapter_switcher.nodes.managed_node import ManagedNode
from adapter_switcher.nodes.sim_clock import CLOCK_QOS
from adapter_switcher.nodes.sim_clock import clock_time
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest
import rclpy
from rclpy.experimental import EventsExecutor
from rclpy.parameter import Parameter
from rclpy.serialization import serialize_message
from rclpy.time import Time
from rosgraph_msgs.msg import Clock

DOMAIN = 12


def clock_message(sec: int, nanosec: int) -> Clock:
    message = Clock()
    message.clock.sec, message.clock.nanosec = sec, nanosec
    return message


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 2**32 - 1))
def test_the_time_read_from_the_bytes_is_time_from_msg(sec, nanosec):
    message = clock_message(sec, nanosec)
    read = clock_time(serialize_message(message))
    assert read == Time.from_msg(message.clock)
    assert read.clock_type == Time.from_msg(message.clock).clock_type


def test_unreadable_messages_are_refused_like_time_from_msg():
    data = serialize_message(clock_message(5, 7))
    for cut in range(len(data)):
        with pytest.raises(ValueError):
            clock_time(data[:cut])
    negative = serialize_message(clock_message(-1, 0))
    with pytest.raises(ValueError):
        Time.from_msg(clock_message(-1, 0).clock)
    with pytest.raises(ValueError):
        clock_time(negative)


def test_a_big_endian_message_goes_through_deserialize_message():
    data = b'\x00\x00\x00\x00' + struct.pack('>iI', 12, 345)
    assert clock_time(data).nanoseconds == 12 * 10**9 + 345


class Harness:
    """A ManagedNode under test and a /clock publisher, spun by one EventsExecutor."""

    def __init__(self, context, use_sim_time: bool):
        self.node = ManagedNode('sim_clock_test', context=context, parameter_overrides=[
            Parameter('use_sim_time', value=use_sim_time)])
        self.source = rclpy.create_node('sim_clock_source', context=context)
        self.publisher = self.source.create_publisher(Clock, '/clock', CLOCK_QOS)
        self.executor = EventsExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.source)

    def clock_subscriptions(self) -> int:
        return sum(1 for info in self.source.get_subscriptions_info_by_topic('/clock')
                   if info.node_name == 'sim_clock_test')

    def spin_until(self, condition, timeout_s: float = 30.0, publish=None) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if publish is not None:
                self.publisher.publish(publish)
            self.executor.spin_once(timeout_sec=0.05)
            if condition():
                return True
        return False

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.source.destroy_node()


def test_a_managed_node_on_sim_time_follows_clock_and_its_timers_run_on_it(context):
    harness = Harness(context, use_sim_time=True)
    try:
        node = harness.node
        assert harness.spin_until(lambda: harness.clock_subscriptions() == 1)
        fired = []
        node.create_timer(0.5, lambda: fired.append(node.get_clock().now().nanoseconds))
        target = 1000 * 10**9 + 250
        assert harness.spin_until(lambda: node.get_clock().now().nanoseconds == target,
                                  publish=clock_message(1000, 250))
        later = clock_message(1001, 0)
        assert harness.spin_until(lambda: fired, publish=later)
        assert fired[0] == 1001 * 10**9
        # one /clock subscription, taking the bytes: rclpy's TimeSource no longer subscribes
        assert harness.clock_subscriptions() == 1
        clock_subscriptions = [s for s in node.subscriptions if s.topic_name == '/clock']
        assert len(clock_subscriptions) == 1 and clock_subscriptions[0].raw
    finally:
        harness.close()


def test_use_sim_time_changed_at_runtime_as_with_rclpys_time_source(context):
    harness = Harness(context, use_sim_time=False)
    try:
        node = harness.node
        assert abs(node.get_clock().now().nanoseconds * 1e-9 - time.time()) < 5
        assert not harness.spin_until(lambda: harness.clock_subscriptions() > 0, timeout_s=1.0)

        assert node.set_parameters([Parameter('use_sim_time', value=True)])[0].successful
        assert harness.spin_until(lambda: node.get_clock().now().nanoseconds == 42 * 10**9,
                                  publish=clock_message(42, 0))
        assert harness.clock_subscriptions() == 1

        refused = node.set_parameters([Parameter('use_sim_time', value='yes')])[0]
        assert not refused.successful
        assert node.get_parameter('use_sim_time').value is True

        assert node.set_parameters([Parameter('use_sim_time', value=False)])[0].successful
        assert abs(node.get_clock().now().nanoseconds * 1e-9 - time.time()) < 5
        assert harness.spin_until(lambda: harness.clock_subscriptions() == 0)
    finally:
        harness.close()
