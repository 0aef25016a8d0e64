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

"""ControlTimer: an rclpy timer on wall time, ticked from /clock's own callback under sim time."""

import time

from adapter_switcher.nodes.managed_node import ManagedNode
import pytest
from rclpy.experimental import EventsExecutor
from rclpy.parameter import Parameter
from rclpy.serialization import serialize_message
from rosgraph_msgs.msg import Clock

DOMAIN = 15
SECOND = 10**9


def make_node(context, use_sim_time: bool) -> ManagedNode:
    return ManagedNode('control_timer_test', context=context, parameter_overrides=[
        Parameter('use_sim_time', value=use_sim_time)])


def deliver_clock(node: ManagedNode, ns: int) -> None:
    """Hand one /clock message to the node's time source, as its raw subscription does."""
    message = Clock()
    message.clock.sec, message.clock.nanosec = divmod(ns, SECOND)
    node._clock_source._on_clock_bytes(serialize_message(message))


class Recorder:
    """A tick callback that notes the node's clock when it runs."""

    def __init__(self, node):
        self.node, self.times = node, []

    def __call__(self):
        self.times.append(self.node.get_clock().now().nanoseconds)


def test_under_sim_time_the_tick_runs_in_the_clock_callback_on_the_timer_grid(context):
    node = make_node(context, use_sim_time=True)
    try:
        tick = Recorder(node)
        timer = node.create_control_timer(0.5, tick)
        assert timer.follows_clock and timer.timer.is_canceled()
        deliver_clock(node, 1000 * SECOND)            # first time seen: the grid starts here
        assert tick.times == []
        for ns in (1000 * SECOND + SECOND // 4, 1000 * SECOND + SECOND // 2,
                   1000 * SECOND + 3 * SECOND // 4, 1001 * SECOND):
            deliver_clock(node, ns)
        # each tick ran inside the callback of the /clock that reached it, at that time
        assert tick.times == [1000 * SECOND + SECOND // 2, 1001 * SECOND]
        deliver_clock(node, 1003 * SECOND + SECOND // 10)   # a jump over 3 deadlines: one tick
        assert tick.times[-1] == 1003 * SECOND + SECOND // 10 and len(tick.times) == 3
        deliver_clock(node, 1003 * SECOND + SECOND // 5)    # the grid stays (1003.5 next)
        assert len(tick.times) == 3
        deliver_clock(node, 1003 * SECOND + SECOND // 2)
        assert len(tick.times) == 4
        deliver_clock(node, 10 * SECOND)                    # time went back (a sim reset)
        deliver_clock(node, 10 * SECOND + SECOND // 4)
        assert len(tick.times) == 4
        deliver_clock(node, 10 * SECOND + SECOND // 2)
        assert tick.times[-1] == 10 * SECOND + SECOND // 2
    finally:
        node.destroy_node()


def test_the_first_deadline_is_one_period_after_the_clock_time_at_creation(context):
    node = make_node(context, use_sim_time=True)
    try:
        deliver_clock(node, 50 * SECOND)
        tick = Recorder(node)
        node.create_control_timer(1.0, tick)
        deliver_clock(node, 50 * SECOND + SECOND // 2)
        assert tick.times == []
        deliver_clock(node, 51 * SECOND)
        assert tick.times == [51 * SECOND]
    finally:
        node.destroy_node()


def spin_for(executor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.02)


def test_on_wall_time_it_is_the_rclpy_timer_and_use_sim_time_switches_it(context):
    node = make_node(context, use_sim_time=False)
    executor = EventsExecutor(context=context)
    executor.add_node(node)
    try:
        tick = Recorder(node)
        timer = node.create_control_timer(0.02, tick)
        assert not timer.follows_clock and not timer.timer.is_canceled()
        spin_for(executor, 0.5)
        assert len(tick.times) >= 3   # wall-time ticks (bounded: the machine may be slow)
        assert node.set_parameters([Parameter('use_sim_time', value=True)])[0].successful
        assert timer.follows_clock and timer.timer.is_canceled()
        before = len(tick.times)
        spin_for(executor, 0.3)                        # no /clock: no tick
        assert len(tick.times) == before
        deliver_clock(node, 100 * SECOND)
        deliver_clock(node, 100 * SECOND + SECOND // 50)
        assert tick.times[before:] == [100 * SECOND + SECOND // 50]
        assert node.set_parameters([Parameter('use_sim_time', value=False)])[0].successful
        assert not timer.follows_clock and not timer.timer.is_canceled()
        before = len(tick.times)
        spin_for(executor, 0.5)
        assert len(tick.times) > before
        assert abs(tick.times[-1] * 1e-9 - time.time()) < 5
    finally:
        executor.shutdown()
        node.destroy_node()


def test_cancel_and_destroy_stop_both_paths(context):
    node = make_node(context, use_sim_time=True)
    try:
        tick = Recorder(node)
        timer = node.create_control_timer(0.5, tick)
        deliver_clock(node, SECOND)
        timer.cancel()
        deliver_clock(node, 2 * SECOND)
        assert tick.times == [] and not timer.follows_clock
        assert node.set_parameters([Parameter('use_sim_time', value=False)])[0].successful
        assert timer.timer.is_canceled()               # a cancelled timer stays cancelled
        timer.destroy()
        assert timer.timer not in node.timers
        assert node.set_parameters([Parameter('use_sim_time', value=True)])[0].successful
        deliver_clock(node, 3 * SECOND)
        deliver_clock(node, 4 * SECOND)
        assert tick.times == []
    finally:
        node.destroy_node()


def test_a_bad_period_is_refused(context):
    node = make_node(context, use_sim_time=True)
    try:
        for period in (0.0, -1.0, float('nan')):
            with pytest.raises(ValueError, match='timer period must be positive'):
                node.create_control_timer(period, lambda: None)
    finally:
        node.destroy_node()
