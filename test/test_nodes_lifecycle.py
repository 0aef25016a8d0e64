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
Managed nodes over DDS: every lifecycle transition, failing configures, the lifecycle manager.

The nodes run as processes with ``autostart: false`` and are driven through their standard
lifecycle services (what ``ros2 lifecycle set`` and Nav2's lifecycle manager call).
"""

import dataclasses
import math
import shutil
import time

from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.demo.adapters import make_demo_adapters
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.paths import share_path

from dds_harness import DdsHarness
from dds_harness import QUERY_RESEND_S
from dds_harness import Scene
from dds_harness import SyntheticSensors
from geometry_msgs.msg import Twist
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from lifecycle_msgs.srv import GetState
import pytest
from std_msgs.msg import String
from std_srvs.srv import Trigger

pytestmark = pytest.mark.dds

DOMAIN_ID = 50
START_TIMEOUT = 120.0
TIMEOUT = 60.0


@pytest.fixture(scope='module')
def demo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('lifecycle_demo')
    make_demo_adapters(root)
    return root


def _specs(demo_dir, adapters_dir, rules_file, managed=False):
    """Both nodes (and their manager), autostart off; the context manager reads rules_file."""
    specs = {s.name: s for s in robot_node_specs(adapters_dir=adapters_dir, managed=managed)}
    extra = {'model_weights': str(demo_dir / 'base_policy.safetensors'),
             'sensor_timeout_s': 2.0, 'autostart': False}
    for name in ('inference_node', 'context_manager'):
        spec = specs[name]
        params = dict(extra) if name == 'inference_node' else {
            'rules_file': str(rules_file), 'autostart': False}
        specs[name] = dataclasses.replace(spec, parameters=tuple(spec.parameters) + (params,))
    return specs


def _state(dds, node):
    return dds.call_service(GetState, f'/{node}/get_state', GetState.Request(), TIMEOUT,
                            resend_after=QUERY_RESEND_S).current_state.label


def _change(dds, node, label):
    request = ChangeState.Request(transition=Transition(label=label))
    return dds.call_service(ChangeState, f'/{node}/change_state', request, TIMEOUT).success


def _manager(dds, command):
    return dds.call_service(Trigger, f'/lifecycle_manager/{command}', Trigger.Request(), TIMEOUT)


def _moving(msg):
    return msg is not None and (abs(msg.linear.x) > 1e-6 or abs(msg.angular.z) > 1e-6)


def test_every_transition_of_both_nodes_with_failing_configures(demo_dir, tmp_path):
    adapters = tmp_path / 'adapters'          # does not exist yet: configure must fail
    rules = tmp_path / 'rules.yaml'
    rules.write_text('adapters: [navigation\n')  # broken YAML: configure must fail
    specs = _specs(demo_dir, adapters, rules)
    with DdsHarness(DOMAIN_ID, tmp_path / 'logs') as dds:
        sensors = SyntheticSensors(dds, Scene())
        cmd = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        desired = dds.subscribe(String, '/desired_adapter', LATCHED_QOS)
        active = dds.subscribe(String, '/active_adapter', LATCHED_QOS)
        inference = dds.start(specs['inference_node'])
        context = dds.start(specs['context_manager'])
        for node in ('inference_node', 'context_manager'):
            dds.wait_for(lambda: _state(dds, node) == 'unconfigured', START_TIMEOUT,
                         f'{node} unconfigured')

        # Failing configures leave the nodes unconfigured, with one line saying why.
        assert not _change(dds, 'context_manager', 'configure')
        assert _state(dds, 'context_manager') == 'unconfigured'
        dds.wait_for(lambda: f'configure failed: rules_file {rules}' in context.tail(), TIMEOUT,
                     'the rules file named in the log')
        assert not _change(dds, 'inference_node', 'configure')
        assert _state(dds, 'inference_node') == 'unconfigured'
        dds.wait_for(lambda: (f'configure failed: adapters_dirs: directory {adapters} does not '
                              'exist') in inference.tail(), TIMEOUT,
                     'the missing adapters directory named in the log')

        # Fixed on disk, the same nodes configure; inactive nodes publish nothing.
        rules.write_text(share_path('config/context_rules.yaml').read_text())
        shutil.copytree(demo_dir / 'adapters', adapters)
        assert _change(dds, 'context_manager', 'configure')
        assert _change(dds, 'inference_node', 'configure')
        assert _state(dds, 'inference_node') == 'inactive'
        cmd.clear()
        dds.wait_for(lambda: _state(dds, 'context_manager') == 'inactive', TIMEOUT, 'inactive')
        assert cmd.count() == 0 and desired.last() is None

        # activate: the context manager decides, the inference node drives.
        assert _change(dds, 'context_manager', 'activate')
        assert _change(dds, 'inference_node', 'activate')
        dds.wait_for(lambda: desired.last() is not None and desired.last().data == 'navigation',
                     TIMEOUT, 'desired_adapter navigation')
        dds.wait_for(lambda: active.last() is not None and active.last().data == 'navigation',
                     TIMEOUT, 'active_adapter navigation')
        dds.wait_for(lambda: _moving(cmd.last()), TIMEOUT, 'a moving cmd_vel')

        # deactivate: exactly one zero velocity, then silence.
        assert _change(dds, 'inference_node', 'deactivate')
        dds.wait_for(lambda: not _moving(cmd.last()), TIMEOUT, 'the zero velocity')
        stopped_at = cmd.count()
        sensors.set_scene(Scene(front_m=5.0))   # keep the sensors flowing meanwhile
        dds.wait_for(lambda: _state(dds, 'inference_node') == 'inactive', TIMEOUT, 'inactive')
        _sleep_on(dds, 1.0)
        assert cmd.count() == stopped_at
        zero = cmd.last()
        assert math.isclose(zero.linear.x, 0.0) and math.isclose(zero.angular.z, 0.0)

        # activate again, then deactivate + cleanup + configure + activate (a full cycle).
        assert _change(dds, 'inference_node', 'activate')
        dds.wait_for(lambda: _moving(cmd.last()), TIMEOUT, 'moving again after reactivation')
        for label, state in (('deactivate', 'inactive'), ('cleanup', 'unconfigured'),
                             ('configure', 'inactive'), ('activate', 'active')):
            assert _change(dds, 'inference_node', label) and _state(
                dds, 'inference_node') == state
        dds.wait_for(lambda: _moving(cmd.last()), TIMEOUT, 'moving after a cleanup cycle')

        # Shutdown from inactive (the context manager) and from active (the inference node).
        for node, labels in (('context_manager', ('deactivate', 'shutdown')),
                             ('inference_node', ('shutdown',))):
            assert all(_change(dds, node, label) for label in labels)
            assert _state(dds, node) == 'finalized'
        dds.wait_for(lambda: not _moving(cmd.last()), TIMEOUT, 'zero velocity at shutdown')
        assert inference.alive() and context.alive()
        assert dds.stop(inference) == 0 and dds.stop(context) == 0


def test_lifecycle_manager_brings_up_pauses_resumes_and_stops_on_a_failed_configure(
        demo_dir, tmp_path):
    rules = share_path('config/context_rules.yaml')
    specs = _specs(demo_dir, demo_dir / 'adapters', rules, managed=True)
    with DdsHarness(DOMAIN_ID, tmp_path / 'logs') as dds:
        SyntheticSensors(dds, Scene())
        cmd = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        for name in ('context_manager', 'inference_node', 'lifecycle_manager'):
            dds.start(specs[name])
        dds.wait_for(lambda: _moving(cmd.last()), START_TIMEOUT, 'the manager brought it up')
        assert _manager(dds, 'is_active').success
        response = _manager(dds, 'pause')
        assert response.success, response.message
        assert _state(dds, 'inference_node') == 'inactive'
        assert _state(dds, 'context_manager') == 'inactive'
        dds.wait_for(lambda: not _moving(cmd.last()), TIMEOUT, 'zero velocity when paused')
        assert not _manager(dds, 'is_active').success
        response = _manager(dds, 'resume')
        assert response.success, response.message
        dds.wait_for(lambda: _moving(cmd.last()), TIMEOUT, 'moving after resume')
        assert _manager(dds, 'reset').success and _state(dds, 'inference_node') == 'unconfigured'

    missing = tmp_path / 'no_adapters'
    specs = _specs(demo_dir, missing, rules, managed=True)
    with DdsHarness(DOMAIN_ID, tmp_path / 'logs2') as dds:
        procs = {name: dds.start(specs[name])
                 for name in ('context_manager', 'inference_node', 'lifecycle_manager')}
        manager = procs['lifecycle_manager']
        dds.wait_for(lambda: not manager.alive(), START_TIMEOUT, 'the manager gives up',
                     require_alive=False)
        assert manager.popen.returncode == 1
        assert "startup failed: inference_node refused 'configure'" in manager.tail()
        assert f'adapters_dirs: directory {missing} does not exist' in (
            procs['inference_node'].tail())
        assert 'Traceback' not in manager.tail() + procs['inference_node'].tail()


def _sleep_on(dds, seconds):
    """Let ``seconds`` pass (bounded wait on a condition that only time makes true)."""
    deadline = time.monotonic() + seconds
    dds.wait_for(lambda: time.monotonic() >= deadline, seconds + 5.0, f'{seconds} s to pass')
