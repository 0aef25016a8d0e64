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

"""BackgroundSpin: callbacks run while it spins; stop joins its thread before the shutdown."""

import threading
import time

from adapter_switcher.nodes.background_spin import BackgroundSpin

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import String

pytestmark = pytest.mark.dds

DOMAIN = 47
TIMEOUT = 10.0


@pytest.fixture
def thread_errors(monkeypatch):
    """Collect what any thread raises (a spinning thread's exception is otherwise only printed)."""
    errors = []
    monkeypatch.setattr(threading, 'excepthook', lambda args: errors.append(args.exc_value))
    return errors


def _until(predicate) -> bool:
    deadline = time.monotonic() + TIMEOUT
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def _pair(context, on_message):
    listener = rclpy.create_node('listener', context=context)
    talker = rclpy.create_node('talker', context=context)
    listener.create_subscription(String, 'chatter', on_message, 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(listener)
    return listener, talker, talker.create_publisher(String, 'chatter', 10), executor


def test_callbacks_run_until_stop_then_nodes_are_destroyed_quietly(context, thread_errors):
    heard = []
    listener, talker, publisher, executor = _pair(context, heard.append)
    spinner = BackgroundSpin(executor).start()
    assert _until(lambda: publisher.publish(String(data='hi')) or heard)

    assert spinner.stop() is True
    count = len(heard)
    for _ in range(20):
        publisher.publish(String(data='after'))
    time.sleep(0.3)
    listener.destroy_node()
    talker.destroy_node()
    context.try_shutdown()

    assert len(heard) == count     # nothing spins after stop
    assert thread_errors == []


def test_stop_waits_for_a_running_callback_and_says_when_it_could_not(context, thread_errors):
    entered, release = threading.Event(), threading.Event()

    def busy(_message):
        entered.set()
        release.wait(TIMEOUT)

    listener, talker, publisher, executor = _pair(context, busy)
    spinner = BackgroundSpin(executor).start()
    assert _until(lambda: publisher.publish(String(data='work')) or entered.is_set())

    assert spinner.stop(timeout_s=0.2) is False    # the callback still holds the thread
    release.set()
    listener.destroy_node()
    talker.destroy_node()
    assert thread_errors == []


def test_a_context_shut_down_elsewhere_ends_the_spin_quietly(context, thread_errors):
    listener, talker, _publisher, executor = _pair(context, lambda _message: None)
    spinner = BackgroundSpin(executor, step_s=0.05).start()
    context.try_shutdown()
    assert spinner.stop() is True
    assert thread_errors == []
