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
The lifecycle manager over DDS when a managed node's change_state answer never reaches it.

Fast DDS drops a service answer whose client reader the server has not matched yet (the node
logs "failed to send response (timeout)"), which a loaded machine makes likely for a new
client. Which answer is lost cannot be chosen on real DDS, so the managed node here is a node
that serves the two lifecycle services itself and answers change_state only after the
manager's timeout: the manager sees exactly a lost answer.
"""

import threading

from adapter_switcher.nodes.lifecycle_manager_node import LifecycleError
from adapter_switcher.nodes.lifecycle_manager_node import LifecycleManagerNode
from lifecycle_msgs.srv import ChangeState
from lifecycle_msgs.srv import GetState
import pytest
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

DOMAIN = 16
TIMEOUT_S = 1.0          # the manager's service_timeout_s
# The lifecycle protocol as the node plays it, written out here rather than taken from the
# manager's GOAL_STATES, so that a wrong table in the manager fails the test.
GOALS = {'configure': 'inactive', 'activate': 'active'}


class LateAnswers(Node):
    """A managed node that makes each transition at once and answers it too late, or never."""

    def __init__(self, context, transitions: bool):
        super().__init__('late', context=context)
        self.state = 'unconfigured'
        self.requested = []
        self._transitions = transitions
        self._stop = threading.Event()
        group = ReentrantCallbackGroup()
        self.create_service(GetState, '~/get_state', self._on_get_state, callback_group=group)
        self.create_service(ChangeState, '~/change_state', self._on_change_state,
                            callback_group=group)

    def _on_get_state(self, _request, response):
        response.current_state.label = self.state
        return response

    def _on_change_state(self, request, response):
        label = request.transition.label
        self.requested.append(label)
        if self._transitions:
            self.state = GOALS[label]
        self._stop.wait(3 * TIMEOUT_S)    # past the manager's timeout: the answer is lost
        response.success = True
        return response

    def release(self):
        self._stop.set()


@pytest.fixture
def running(context):
    """Start the manager and a late-answering node in one executor; yield a factory."""
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    nodes = []

    def start(transitions: bool):
        late = LateAnswers(context, transitions)
        manager = LifecycleManagerNode(context=context, parameter_overrides=[
            Parameter('node_names', value=['late']), Parameter('autostart', value=False),
            Parameter('service_timeout_s', value=TIMEOUT_S),
            Parameter('check_period_s', value=0.0)])
        for node in (late, manager):
            nodes.append(node)
            executor.add_node(node)
        return late, manager

    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    yield start
    for node in nodes:
        if isinstance(node, LateAnswers):
            node.release()
    executor.shutdown(timeout_sec=5.0)
    spinner.join(timeout=5.0)
    for node in nodes:
        node.destroy_node()


def test_a_transition_whose_answer_is_lost_counts_when_the_node_made_it(running):
    late, manager = running(transitions=True)
    assert manager.startup() == 'active: late'
    assert late.requested == ['configure', 'activate']     # each asked for once, never twice
    assert late.state == 'active'


def test_a_transition_that_neither_answers_nor_happens_fails_the_command(running):
    late, manager = running(transitions=False)
    with pytest.raises(LifecycleError,
                       match=r'late: no answer from /?late/change_state within 1 s'):
        manager.startup()
    assert late.requested == ['configure'] and late.state == 'unconfigured'
