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

"""BoundedThreadsExecutor: callback groups run side by side; each callback runs exactly once."""

import threading

from adapter_switcher.nodes.executor import BoundedThreadsExecutor

import pytest
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import String
from std_srvs.srv import Trigger

pytestmark = pytest.mark.dds

DOMAIN = 46
TIMEOUT = 30.0


def _spin_in_thread(executor):
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    return thread


def test_a_service_answers_while_the_control_callback_is_busy(context):
    node = rclpy.create_node('busy', context=context)
    client_node = rclpy.create_node('client', context=context)
    release = threading.Event()
    ticking = threading.Event()

    def control_tick():
        ticking.set()
        release.wait(TIMEOUT)  # a model forward that takes long

    def ping(_request, response):
        response.success = True
        return response
    node.create_timer(0.01, control_tick, callback_group=MutuallyExclusiveCallbackGroup())
    node.create_service(Trigger, 'ping', ping)
    executor = BoundedThreadsExecutor(num_threads=2, context=context)
    executor.add_node(node)
    client_executor = SingleThreadedExecutor(context=context)
    client_executor.add_node(client_node)
    thread = _spin_in_thread(executor)
    try:
        assert ticking.wait(TIMEOUT)
        client = client_node.create_client(Trigger, 'ping')
        assert client.wait_for_service(timeout_sec=TIMEOUT)
        future = client.call_async(Trigger.Request())
        client_executor.spin_until_future_complete(future, timeout_sec=TIMEOUT)
        assert future.done() and future.result().success
        assert not release.is_set()  # answered while the tick was still running
    finally:
        release.set()
        executor.shutdown(timeout_sec=5.0)
        thread.join(TIMEOUT)
        node.destroy_node()
        client_node.destroy_node()


def test_every_message_is_handled_exactly_once(context):
    node = rclpy.create_node('counter', context=context)
    seen = []
    done = threading.Event()

    def on_message(msg):
        seen.append(msg.data)
        if len(seen) >= 50:
            done.set()
    node.create_subscription(String, 'numbers', on_message, 100)
    publisher = node.create_publisher(String, 'numbers', 100)
    executor = BoundedThreadsExecutor(num_threads=2, context=context)
    executor.add_node(node)
    thread = _spin_in_thread(executor)
    try:
        for index in range(50):
            publisher.publish(String(data=str(index)))
        assert done.wait(TIMEOUT)
        assert sorted(seen, key=int) == [str(i) for i in range(50)]
    finally:
        executor.shutdown(timeout_sec=5.0)
        thread.join(TIMEOUT)
        node.destroy_node()


def test_a_failing_callback_stops_spin_with_its_exception(context):
    node = rclpy.create_node('failing', context=context)

    def broken():
        raise RuntimeError('callback failed')
    node.create_timer(0.01, broken)
    executor = BoundedThreadsExecutor(num_threads=2, context=context)
    executor.add_node(node)
    try:
        with pytest.raises(RuntimeError, match='callback failed'):
            for _ in range(1000):
                executor.spin_once(timeout_sec=1.0)
    finally:
        executor.shutdown(timeout_sec=5.0)
        node.destroy_node()
