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
The visuomotor policy on the robot's nodes: it stands without a plan, and drives the sim route.

``observation: visuomotor`` (config/visuomotor.yaml): until a nav_msgs/Path arrives on ``plan``
the inference node publishes zero velocity with a WARN naming the missing plan; under
``adapter-switcher bringup --with-sim`` the simulator publishes its route and the robot drives.
"""

import sys

from adapter_switcher.nodes.diagnostics import status_values
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.paths import share_path
from adapter_switcher.sim import messages

from dds_harness import DdsHarness
from dds_harness import Scene
from dds_harness import SyntheticSensors
from diagnostic_msgs.msg import DiagnosticArray
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import Twist
from nav_msgs.msg import Path
import pytest
from std_srvs.srv import Trigger

pytestmark = pytest.mark.dds

PLAN_DOMAIN_ID = 83
SIM_DOMAIN_ID = 86
START_TIMEOUT = 120.0
TIMEOUT = 60.0
PARAMS = str(share_path('config/visuomotor.yaml'))


def _inference_status(diagnostics):
    for array in reversed(diagnostics.messages()):
        for status in array.status:
            if status.name.startswith('inference_node'):
                return status
    return None


def _moving(commands) -> bool:
    return any(abs(msg.linear.x) > 0.05 for msg in commands.messages())


def test_without_a_plan_the_node_stands_and_warns_then_drives_along_one(tmp_path):
    argv = [sys.executable, '-m', 'adapter_switcher.cli', 'bringup', '--params-file', PARAMS]
    with DdsHarness(PLAN_DOMAIN_ID, tmp_path / 'logs') as dds:
        SyntheticSensors(dds, Scene())
        commands = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        diagnostics = dds.subscribe(DiagnosticArray, '/diagnostics', COMMAND_QOS)
        dds.start_argv('bringup', argv)
        dds.wait_for(lambda: (_inference_status(diagnostics) or DiagnosticStatus()).message
                     == 'no plan received on plan; zero velocity', START_TIMEOUT,
                     'inference_node WARN naming the missing plan')
        status = _inference_status(diagnostics)
        assert status.level == DiagnosticStatus.WARN
        assert status_values(status)['observation'] == 'visuomotor'
        dds.wait_for(lambda: commands.count() >= 10, TIMEOUT, 'ten /cmd_vel messages')
        assert all(msg.linear.x == 0.0 and msg.angular.z == 0.0 for msg in commands.messages())

        plan = dds.publisher(Path, '/plan', LATCHED_QOS)
        plan.publish(messages.path_message([(20.0, 0.0), (20.0, 5.0)], 'odom', 0))
        dds.wait_for(lambda: _moving(commands), TIMEOUT, 'a moving /cmd_vel after the plan')
        dds.wait_for(lambda: _inference_status(diagnostics).level == DiagnosticStatus.OK,
                     TIMEOUT, 'inference_node OK with a plan')


def test_bringup_with_sim_drives_the_visuomotor_policy_on_the_route(tmp_path):
    argv = [sys.executable, '-m', 'adapter_switcher.cli', 'bringup', '--with-sim',
            '--params-file', PARAMS]
    with DdsHarness(SIM_DOMAIN_ID, tmp_path / 'logs') as dds:
        plans = dds.subscribe(Path, '/plan', LATCHED_QOS)
        commands = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        dds.start_argv('bringup', argv)
        dds.wait_for(lambda: plans.count() > 0, START_TIMEOUT, 'the simulator route on /plan')
        assert plans.last().header.frame_id == 'odom' and len(plans.last().poses) == 5
        dds.wait_for(lambda: _moving(commands), START_TIMEOUT, 'a moving /cmd_vel')
        reply = dds.call_service(Trigger, '/simulator/reset', Trigger.Request(), TIMEOUT)
        assert reply.success, reply.message
        dds.wait_for(lambda: plans.count() > 1, TIMEOUT, 'the route again on /plan at the reset')
        assert 'Traceback' not in dds.logs()
