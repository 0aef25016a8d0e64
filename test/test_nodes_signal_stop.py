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
Ctrl-C and SIGTERM over DDS: the robot is stopped before a node exits, and the exit is clean.

A driving inference node that gets SIGINT (Ctrl-C, ``ros2 launch``'s first signal) or SIGTERM
(``ros2 launch``'s and bringup's escalation) must publish one zero velocity on /cmd_vel while it
still can, then exit with status 0 and no error in its log: no "Failed to complete transition"
(a shutdown transition cut off half-way), no traceback. Checked as a plain self-starting node,
as a node driven by the lifecycle manager, and under ``adapter-switcher bringup``.
"""

import dataclasses
import signal
import sys

from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.demo.adapters import make_demo_adapters
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.paths import share_path

from dds_harness import DdsHarness
from dds_harness import QUERY_RESEND_S
from dds_harness import Scene
from dds_harness import SyntheticSensors
from geometry_msgs.msg import Twist
from lifecycle_msgs.srv import GetState
import pytest
import yaml

pytestmark = pytest.mark.dds

DOMAIN_ID = 53
START_TIMEOUT = 120.0
EXIT_TIMEOUT = 30.0
TIMEOUT = 30.0
DRIVING_MESSAGES = 10   # moving commands seen before the signal: the node is really driving
ERROR_LINES = ('Failed to complete transition', 'Unable to start transition',
               'context is invalid', 'Traceback', '[ERROR]')


@pytest.fixture(scope='module')
def demo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('signal_demo')
    make_demo_adapters(root)
    return root


def _moving(msg):
    return msg is not None and (abs(msg.linear.x) > 1e-6 or abs(msg.angular.z) > 1e-6)


def _specs(demo_dir, managed):
    """Return the robot's node specs on the demo adapters, the inference node on navigation."""
    specs = {s.name: s for s in robot_node_specs(adapters_dir=demo_dir / 'adapters',
                                                 managed=managed)}
    inference = specs['inference_node']
    specs['inference_node'] = dataclasses.replace(inference, parameters=tuple(
        inference.parameters) + ({'model_weights': str(demo_dir / 'base_policy.safetensors'),
                                  'adapter_override': 'navigation',
                                  'sensor_timeout_s': 5.0},))
    if managed:   # the manager drives the inference node alone
        specs['lifecycle_manager'] = dataclasses.replace(
            specs['lifecycle_manager'], parameters=tuple(
                specs['lifecycle_manager'].parameters) + ({'node_names': ['inference_node']},))
    return specs


def _driving(cmd):
    moving = [msg for msg in cmd.messages() if _moving(msg)]
    return len(moving) >= DRIVING_MESSAGES


def _assert_clean(output):
    for line in ERROR_LINES:
        assert line not in output, output


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
@pytest.mark.parametrize('managed', [False, True], ids=['plain', 'managed'])
def test_a_signal_stops_the_robot_before_the_inference_node_exits(
        demo_dir, tmp_path, managed, signum):
    specs = _specs(demo_dir, managed)
    with DdsHarness(DOMAIN_ID, tmp_path / 'logs') as dds:
        SyntheticSensors(dds, Scene())
        cmd = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        node = dds.start(specs['inference_node'])
        if managed:
            manager = dds.start(specs['lifecycle_manager'])
        dds.wait_for(lambda: _driving(cmd), START_TIMEOUT, 'the robot driving')
        node.popen.send_signal(signum)
        dds.wait_for(lambda: not node.alive(), EXIT_TIMEOUT, f'exit after {signum.name}',
                     require_alive=False)
        dds.wait_for(lambda: not _moving(cmd.last()), TIMEOUT, 'a zero velocity last',
                     require_alive=False)
        assert node.popen.returncode == 0, node.tail()
        last = cmd.last()
        assert (last.linear.x, last.linear.y, last.angular.z) == (0.0, 0.0, 0.0)
        _assert_clean(node.tail(20000))
        if managed:   # the manager saw its node go and stays up, quietly
            assert manager.alive() and 'Traceback' not in manager.tail()


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_a_signal_takes_an_active_context_manager_down_cleanly(demo_dir, tmp_path, signum):
    spec = _specs(demo_dir, managed=False)['context_manager']
    with DdsHarness(DOMAIN_ID, tmp_path / 'logs') as dds:
        node = dds.start(spec)
        dds.wait_for(lambda: dds.call_service(GetState, '/context_manager/get_state',
                                              GetState.Request(), TIMEOUT,
                                              resend_after=QUERY_RESEND_S)
                     .current_state.label == 'active', START_TIMEOUT, 'context_manager active')
        node.popen.send_signal(signum)
        dds.wait_for(lambda: not node.alive(), EXIT_TIMEOUT, f'exit after {signum.name}',
                     require_alive=False)
        assert node.popen.returncode == 0, node.tail()
        _assert_clean(node.tail(20000))


def test_ctrl_c_under_bringup_stops_the_robot_and_exits_cleanly(demo_dir, tmp_path):
    params = yaml.safe_load(share_path('config/adapter_switcher.yaml').read_text())
    inference = params['/**/inference_node']['ros__parameters']
    inference.update(model_weights=str(demo_dir / 'base_policy.safetensors'),
                     sensor_timeout_s=5.0)
    params_file = tmp_path / 'robot.yaml'
    params_file.write_text(yaml.safe_dump(params))
    argv = [sys.executable, '-m', 'adapter_switcher.cli', 'bringup', '--params-file',
            str(params_file), '--adapters-dir', str(demo_dir / 'adapters')]
    with DdsHarness(DOMAIN_ID, tmp_path / 'logs') as dds:
        SyntheticSensors(dds, Scene())
        cmd = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        bringup = dds.start_argv('bringup', argv)
        dds.wait_for(lambda: _driving(cmd), START_TIMEOUT, 'the robot driving')
        bringup.popen.send_signal(signal.SIGINT)
        dds.wait_for(lambda: not bringup.alive(), EXIT_TIMEOUT, 'bringup to exit after SIGINT',
                     require_alive=False)
        dds.wait_for(lambda: not _moving(cmd.last()), TIMEOUT, 'a zero velocity last',
                     require_alive=False)
        log = bringup.tail(50000)
        assert bringup.popen.returncode == 0, log
        assert 'still running after' not in log   # nobody needed SIGTERM or SIGKILL
        _assert_clean(log)
