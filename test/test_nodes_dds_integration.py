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
Both nodes as separate processes over real DDS, fed by synthetic sensors (must-show 1).

The commands on /cmd_vel are checked against the demo policy run in this process with plain
PEFT (ReferencePolicy) for the same sensor data: a match to 1e-3 shows which adapter produced
them, unmodified. Everything waits with a timeout; the harness kills the nodes at the end.
"""

import dataclasses
import math
import shutil
import time

from adapter_switcher.bringup.robot_nodes import robot_node_specs
from adapter_switcher.context import load_rules
from adapter_switcher.demo.adapters import make_demo_adapters
from adapter_switcher.demo.reference import ReferencePolicy
from adapter_switcher.nodes.diagnostics import ERROR
from adapter_switcher.nodes.diagnostics import OK
from adapter_switcher.nodes.diagnostics import status_values
from adapter_switcher.nodes.qos import COMMAND_QOS
from adapter_switcher.nodes.qos import LATCHED_QOS
from adapter_switcher.nodes.qos import SENSOR_QOS
from adapter_switcher.paths import share_path

from dds_harness import DdsHarness
from dds_harness import Scene
from dds_harness import scene_command
from dds_harness import SyntheticSensors
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import SetBool
from std_srvs.srv import Trigger

pytestmark = pytest.mark.dds

DOMAIN_ID = 41
START_TIMEOUT = 120.0   # two Python processes importing torch on a busy 2-core machine
TIMEOUT = 30.0
CLEAR = Scene()
SPILL = Scene(spill_fraction=0.06)
INFERENCE = '/inference_node'
DIAG_NAME = 'inference_node: adapters'


class Robot:
    """The running graph and what the test sees of it."""

    def __init__(self, dds, sensors, reference, demo_dir):
        self.dds = dds
        self.sensors = sensors
        self.reference = reference
        self.demo_dir = demo_dir
        self.desired = dds.subscribe(String, '/desired_adapter', LATCHED_QOS)
        self.predicted = dds.subscribe(String, '/predicted_adapter', LATCHED_QOS)
        self.active = dds.subscribe(String, '/active_adapter', LATCHED_QOS)
        self.cmd = dds.subscribe(Twist, '/cmd_vel', COMMAND_QOS)
        self.features = dds.subscribe(DiagnosticArray, '/context_manager/features',
                                      COMMAND_QOS)
        self.diagnostics = dds.subscribe(DiagnosticArray, '/diagnostics', COMMAND_QOS)

    def last(self, recorder):
        msg = recorder.last()
        return None if msg is None else msg.data

    def wait_topic(self, recorder, value, what, timeout=TIMEOUT):
        self.dds.wait_for(lambda: self.last(recorder) == value, timeout,
                          f"{what} == '{value}' (last: '{self.last(recorder)}')")

    def expected(self, adapter, scene):
        return scene_command(self.reference, adapter, scene)

    def wait_command(self, adapter, scene, timeout=TIMEOUT):
        """Wait until the latest /cmd_vel is the one ``adapter`` gives for ``scene``."""
        want = self.expected(adapter, scene)
        self.cmd.clear()

        def matches():
            msg = self.cmd.last()
            return msg is not None and _close((msg.linear.x, msg.angular.z), want)
        self.dds.wait_for(matches, timeout,
                          f'cmd_vel from {adapter} = {want} (last {_twist(self.cmd.last())})')

    def diag(self, predicate=lambda status: True, timeout=TIMEOUT):
        """Wait for an inference_node status satisfying ``predicate``; return it."""
        self.diagnostics.clear()

        def find():
            for array in reversed(self.diagnostics.messages()):
                for status in array.status:
                    if status.name == DIAG_NAME and predicate(status):
                        return status
            return None
        return self.dds.wait_for(find, timeout, 'a matching inference_node diagnostics status')

    def reset(self):
        """Back to the normal state: sensors on, clear scene, auto mode, navigation active."""
        self.sensors.resume()
        self.sensors.set_scene(CLEAR)
        response = self.dds.call_service(SetBool, f'{INFERENCE}/set_auto',
                                         SetBool.Request(data=True))
        assert response.success, response.message
        self.wait_topic(self.desired, 'navigation', 'desired_adapter')
        self.wait_topic(self.active, 'navigation', 'active_adapter')


def predicted_hazard(robot):
    return 'hazard' in [msg.data for msg in robot.predicted.messages()]


def _close(got, want, atol=1e-3):
    return all(math.isclose(g, w, abs_tol=atol) for g, w in zip(got, want))


def _twist(msg):
    return None if msg is None else (round(msg.linear.x, 4), round(msg.angular.z, 4))


@pytest.fixture(scope='module')
def robot(tmp_path_factory):
    root = tmp_path_factory.mktemp('robot')
    demo_dir = root / 'demo'
    make_demo_adapters(demo_dir)
    rules = load_rules(share_path('config/context_rules.yaml'))
    reference = ReferencePolicy(demo_dir, rules.features)
    # Load every adapter into PEFT now: loading holds the GIL for a while, which would pause
    # the synthetic sensors (they publish from this process) and trip the sensor timeout.
    for adapter in ('navigation', 'hazard', 'narrow_aisle'):
        scene_command(reference, adapter, SPILL)
    specs = robot_node_specs(adapters_dir=demo_dir / 'adapters')
    # A sensor timeout well above the scheduling hiccups of a busy 2-core machine.
    weights = {'model_weights': str(demo_dir / 'base_policy.safetensors'),
               'sensor_timeout_s': 2.0}
    specs = [dataclasses.replace(s, parameters=tuple(s.parameters) + (weights,))
             if s.name == 'inference_node' else s for s in specs]
    with DdsHarness(DOMAIN_ID, root / 'logs') as dds:
        sensors = SyntheticSensors(dds, CLEAR)
        result = Robot(dds, sensors, reference, demo_dir)
        for spec in specs:
            dds.start(spec)
        result.wait_topic(result.active, 'navigation', 'first active_adapter', START_TIMEOUT)
        yield result


def test_predicted_adapter_is_prefetched_before_it_is_needed(robot):
    robot.wait_command('navigation', CLEAR)
    status = robot.diag()
    assert 'hazard' not in status_values(status)['resident'].split(',')
    for step in range(1, 16):  # the spill grows towards the enter threshold, 0.02
        robot.sensors.set_scene(dataclasses.replace(CLEAR, spill_fraction=0.001 * step))
        time.sleep(0.2)
        if predicted_hazard(robot):
            break
    robot.dds.wait_for(lambda: predicted_hazard(robot), TIMEOUT, "predicted_adapter 'hazard'")
    status = robot.diag(lambda s: 'hazard' in status_values(s)['resident'].split(','))
    values = status_values(status)
    assert values['active'] == 'navigation' and values['desired'] == 'navigation'
    robot.sensors.set_scene(SPILL)
    robot.wait_topic(robot.desired, 'hazard', 'desired_adapter')
    robot.wait_topic(robot.active, 'hazard', 'active_adapter')
    status = robot.diag(lambda s: status_values(s)['active'] == 'hazard')
    assert float(status_values(status)['prefetch_hit_rate']) > 0.0


def test_desired_adapter_follows_the_features_and_cmd_vel_follows_the_adapter(robot):
    assert not _close(robot.expected('hazard', SPILL), robot.expected('navigation', SPILL),
                      atol=0.1)
    robot.reset()
    robot.wait_command('navigation', CLEAR)
    robot.sensors.set_scene(SPILL)
    robot.wait_topic(robot.desired, 'hazard', 'desired_adapter')
    robot.wait_topic(robot.active, 'hazard', 'active_adapter')
    robot.wait_command('hazard', SPILL)
    features = status_values(robot.features.last().status[0])
    assert float(features['spill_fraction']) > 0.02 and features['desired'] == 'hazard'
    robot.sensors.set_scene(CLEAR)  # hazard leaves after its 2 s dwell
    robot.wait_topic(robot.desired, 'navigation', 'desired_adapter')
    robot.wait_command('navigation', CLEAR)


def test_bgr8_camera_is_read_in_its_channel_order(robot):
    robot.reset()
    robot.sensors.set_scene(dataclasses.replace(SPILL, encoding='bgr8'))
    robot.wait_topic(robot.desired, 'hazard', 'desired_adapter with a bgr8 camera')
    robot.wait_command('hazard', dataclasses.replace(SPILL, encoding='bgr8'))


def test_unknown_override_is_refused_and_nothing_changes(robot):
    robot.reset()
    robot.wait_command('navigation', CLEAR)
    result, = robot.dds.set_parameters(INFERENCE, {'adapter_override': 'no_such_adapter'})
    assert not result.successful
    assert 'no_such_adapter' in result.reason
    params = robot.dds.get_parameters(INFERENCE, ['adapter_override', 'auto_mode'])
    assert params == {'adapter_override': '', 'auto_mode': True}
    assert robot.last(robot.active) == 'navigation'
    robot.wait_command('navigation', CLEAR)
    result, = robot.dds.set_parameters(INFERENCE, {'adapter_override': '../hazard'})
    assert not result.successful and 'invalid adapter name' in result.reason


def test_override_holds_against_the_context_until_auto_is_resumed(robot):
    robot.reset()
    result, = robot.dds.set_parameters(INFERENCE, {'adapter_override': 'narrow_aisle'})
    assert result.successful, result.reason
    robot.wait_topic(robot.active, 'narrow_aisle', 'active_adapter')
    robot.wait_command('narrow_aisle', CLEAR)
    robot.sensors.set_scene(SPILL)
    robot.wait_topic(robot.desired, 'hazard', 'desired_adapter')
    robot.wait_command('narrow_aisle', SPILL)  # manual: the context manager is not followed
    assert robot.diag(lambda s: True).level == OK
    response = robot.dds.call_service(SetBool, f'{INFERENCE}/set_auto',
                                      SetBool.Request(data=True))
    assert response.success and 'hazard' in response.message
    robot.wait_topic(robot.active, 'hazard', 'active_adapter')
    assert robot.dds.get_parameters(INFERENCE, ['adapter_override']) == {'adapter_override': ''}


def test_services_answer(robot):
    robot.reset()
    listing = robot.dds.call_service(Trigger, f'{INFERENCE}/list_adapters', Trigger.Request())
    assert listing.success
    lines = listing.message.splitlines()
    assert any(line.startswith('navigation [active') for line in lines), listing.message
    assert {line.split()[0] for line in lines} == {'hazard', 'narrow_aisle', 'navigation'}

    broken = robot.demo_dir / 'adapters' / 'broken'
    shutil.copytree(robot.demo_dir / 'adapters' / 'hazard', broken)
    (broken / 'manifest.json').unlink()  # named after its directory
    (broken / 'adapter_model.safetensors').write_bytes(b'not a safetensors file')
    try:
        reload = robot.dds.call_service(Trigger, f'{INFERENCE}/reload_adapters',
                                        Trigger.Request())
        assert reload.success and f'rejected {broken}: ' in reload.message, reload.message
        listing = robot.dds.call_service(Trigger, f'{INFERENCE}/list_adapters',
                                         Trigger.Request())
        assert any(line.startswith(f'{broken} [rejected]')
                   for line in listing.message.split('\n'))
        status = robot.diag(lambda s: 'broken' in status_values(s)['rejected'])
        assert status_values(status)['active'] == 'navigation'
    finally:
        shutil.rmtree(broken)
        robot.dds.call_service(Trigger, f'{INFERENCE}/reload_adapters', Trigger.Request())

    result, = robot.dds.set_parameters(INFERENCE, {'adapter_override': 'hazard'})
    assert result.successful, result.reason
    robot.wait_topic(robot.active, 'hazard', 'active_adapter')
    rollback = robot.dds.call_service(Trigger, f'{INFERENCE}/rollback', Trigger.Request())
    assert rollback.success and 'hazard -> navigation' in rollback.message, rollback.message
    robot.wait_topic(robot.active, 'navigation', 'active_adapter after rollback')
    assert robot.dds.get_parameters(INFERENCE, ['auto_mode', 'adapter_override']) == {
        'auto_mode': False, 'adapter_override': ''}

    manual = robot.dds.call_service(SetBool, f'{INFERENCE}/set_auto',
                                    SetBool.Request(data=False))
    assert manual.success and manual.message.startswith('manual')
    auto = robot.dds.call_service(SetBool, f'{INFERENCE}/set_auto', SetBool.Request(data=True))
    assert auto.success and auto.message.startswith('auto')


def test_sensor_timeout_publishes_zero_velocity_and_error_until_data_returns(robot):
    robot.reset()
    refused, = robot.dds.set_parameters(INFERENCE, {'sensor_timeout_s': 100.0})
    assert not refused.successful and 'out of range' in refused.reason
    accepted, = robot.dds.set_parameters(INFERENCE, {'sensor_timeout_s': 1.5})
    assert accepted.successful
    robot.wait_command('navigation', CLEAR)
    robot.sensors.silence('scan')
    status = robot.diag(lambda s: s.level == ERROR)
    assert 'scan' in status.message and status_values(status)['stale_sensors'] == 'scan'
    robot.cmd.clear()
    robot.dds.wait_for(lambda: robot.cmd.count() >= 5, TIMEOUT, '5 cmd_vel while stopped')
    assert all(m.linear.x == 0.0 and m.angular.z == 0.0 for m in robot.cmd.messages()[-5:])
    robot.sensors.resume()
    robot.diag(lambda s: s.level == OK)
    robot.wait_command('navigation', CLEAR)


def test_bad_sensor_data_never_crashes_a_node(robot):
    robot.reset()
    bad_image = Image(height=2, width=2, encoding='16UC1', step=4, data=bytes(8))
    short_image = Image(height=4, width=4, encoding='rgb8', step=12, data=bytes(10))
    publisher = robot.dds.publisher(Image, '/camera/image_raw', SENSOR_QOS)
    robot.sensors.silence('camera')
    robot.sensors.set_scene(dataclasses.replace(CLEAR, speed=float('nan'),
                                                front_m=float('inf')))
    for _ in range(20):
        publisher.publish(bad_image)
        publisher.publish(short_image)
        time.sleep(0.05)
    status = robot.diag(lambda s: s.level == ERROR)  # no usable camera frame: stopped
    assert 'camera' in status_values(status)['stale_sensors']
    robot.reset()
    robot.wait_command('navigation', CLEAR)
    assert all(p.alive() for p in robot.dds.processes)
