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

"""NoArgumentCallback: what a timer calls, with the signature rclpy's executors read from it."""

import inspect
import time

from adapter_switcher.nodes.timer_callback import NoArgumentCallback
import rclpy
from rclpy.context import Context
from rclpy.experimental import EventsExecutor
from rclpy.timer import TimerInfo


class Ticker:
    def __init__(self):
        self.calls = []

    def tick(self, info: TimerInfo = None):
        self.calls.append(info)
        return len(self.calls)


def test_it_calls_the_function_with_no_arguments_and_returns_its_result():
    ticker = Ticker()
    callback = NoArgumentCallback(ticker.tick)
    assert callback() == 1 and callback() == 2
    assert ticker.calls == [None, None]
    # rclpy hands a TimerInfo to a callback whose signature asks for one: this one asks for none.
    assert inspect.signature(callback).parameters == {}
    assert 'info' in inspect.signature(ticker.tick).parameters
    assert 'Ticker.tick' in repr(callback)


def test_the_events_executor_fires_the_timer_without_a_timer_info():
    context = Context()
    rclpy.init(context=context, domain_id=13)
    try:
        node = rclpy.create_node('timer_callback_test', context=context)
        ticker = Ticker()
        node.create_timer(0.01, NoArgumentCallback(ticker.tick))
        executor = EventsExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + 30.0
        while len(ticker.calls) < 5 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        assert len(ticker.calls) >= 5
        assert ticker.calls[:5] == [None] * 5
        executor.shutdown()
        node.destroy_node()
    finally:
        context.try_shutdown()
