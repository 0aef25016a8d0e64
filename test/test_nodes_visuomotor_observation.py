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
The inference node's visuomotor observation, without DDS: it equals the closed loop's.

The closed loop drives the full route; at every control tick the sensor data it encodes is
turned into the messages the simulator node publishes (image, scan, odometry, the route as a
Path), through the node's own conversions, plan following and encoder, and the tensor must be
the closed loop's bit for bit, turns included.
"""

import math

from adapter_switcher.demo.closed_loop import open_route_loop
from adapter_switcher.demo.observations import visuomotor_observation
from adapter_switcher.demo.policy_kinds import VISUOMOTOR
from adapter_switcher.demo.visuomotor import decode_offset_action
from adapter_switcher.demo.visuomotor import MAX_OFFSET
from adapter_switcher.demo.visuomotor import MAX_SPEED
from adapter_switcher.nodes.conversions import image_to_array
from adapter_switcher.nodes.conversions import scan_to_data
from adapter_switcher.nodes.engine_setup import build_engine
from adapter_switcher.nodes.inference_node import PARAMETERS
from adapter_switcher.nodes.observation import blank_visuomotor
from adapter_switcher.nodes.observation import GOAL_REACHED
from adapter_switcher.nodes.observation import rgb_image
from adapter_switcher.nodes.observation import VisuomotorInput
from adapter_switcher.nodes.params import defaults
from adapter_switcher.nodes.route_plan import path_waypoints
from adapter_switcher.nodes.route_plan import PlanFollower
from adapter_switcher.nodes.runner import StartupError
from adapter_switcher.nodes.sensor_inputs import SensorReading
from adapter_switcher.paths import share_path
from adapter_switcher.sim import messages
from adapter_switcher.sim import topics
from adapter_switcher.sim.launch_nodes import sim_launch_specs
import numpy as np
import pytest
import torch
import yaml

SEED = 12345


def _reading(loop, sensing):
    """Return the simulator node's messages of this tick's data, as the node reads them."""
    sim = loop.sim
    lidar, robot = sim.world.robot.lidar, sim.world.robot
    image = image_to_array(messages.image_message(sensing.image, robot.camera.frame_id, 0))
    scan = scan_to_data(messages.scan_message(sensing.ranges, lidar, 0, 0.1))
    odom = messages.odometry_message(sim.odometry(), topics.ODOM_FRAME, robot.base_frame, 0)
    return SensorReading(sensing.snapshot, {}, scan, image, odom)


def test_node_observation_and_command_equal_the_closed_loops_along_the_route():
    """
    The node's observation, and its command with command 'route_offset', are the closed loop's.

    The closed loop drives the experts' speeds and offsets through the policy's decoder and
    tracking law; at every tick the node builds its input from the simulator node's messages
    and tracks its plan from its odometry.
    """
    plan = PlanFollower(tolerance=0.4)
    node_input = VisuomotorInput(plan)
    loop = open_route_loop()
    compared = []

    def encoder(sensing):
        expected = visuomotor_observation(sensing)
        observation, why = node_input.observe(_reading(loop, sensing))
        assert why == ''
        assert torch.equal(observation, expected)
        return expected

    def drive(tick):
        speed, offset = tick.offsets[tick.decision.desired]   # the experts' speed and offset
        output = torch.tensor([[math.atanh(speed / MAX_SPEED), math.atanh(offset / MAX_OFFSET)]],
                              dtype=torch.float64)   # what a network answering that outputs
        expected = VISUOMOTOR.command(tick, output)
        assert plan.track(node_input.pose, *decode_offset_action(output)) == \
            pytest.approx(expected, abs=1e-9)
        compared.append(plan.progress()[0])
        return expected

    loop.encoder = encoder
    plan.set_plan(path_waypoints(messages.path_message(loop.sim.scenario.waypoints,
                                                       topics.ODOM_FRAME, 0)),
                  topics.ODOM_FRAME)
    assert plan.tolerance == loop.sim.scenario.tolerance   # plan_tolerance_m's default
    loop.run(SEED, drive, time_limit_s=45.0)
    assert len(compared) > 600
    assert max(compared) >= 1    # past the first turn: progress tracked as the closed loop does


def test_route_offset_needs_the_visuomotor_observation():
    params = defaults(PARAMETERS)
    params['command'] = 'route_offset'
    with pytest.raises(StartupError, match="command 'route_offset' tracks the plan, which only "
                                           "observation 'visuomotor' follows"):
        build_engine(params)


def test_plan_carrot_is_measured_along_the_path_in_the_robot_frame():
    plan = PlanFollower(tolerance=0.4, distance=1.5)
    assert plan.carrot((0.0, 0.0, 0.0)) is None     # no plan yet
    path = messages.path_message([(3.0, 0.0), (3.0, 3.0)], 'odom', 0)
    plan.set_plan(path_waypoints(path), path.header.frame_id)
    assert plan.carrot((0.0, 0.0, 0.0)) == pytest.approx((1.5, 0.0))
    # Facing +y: the route ahead is on the robot's right.
    assert plan.carrot((0.0, 0.0, math.pi / 2)) == pytest.approx((0.0, -1.5))
    # 0.5 m before the corner the carrot continues 1 m around it.
    assert plan.carrot((2.5, 0.0, 0.0)) == pytest.approx((0.5, 1.0))
    assert plan.progress() == (0, 2)
    # Within tolerance of the corner it is reached; the carrot runs along the second leg.
    assert plan.carrot((2.9, 0.1, math.pi / 2)) == pytest.approx((1.5, -0.1))
    assert plan.progress() == (1, 2)
    # Near the goal the carrot is the goal; reaching it completes the plan.
    assert plan.carrot((3.0, 2.0, math.pi / 2)) == pytest.approx((1.0, 0.0))
    plan.carrot((3.0, 2.8, math.pi / 2))
    assert plan.done
    # A new plan starts again from its first pose.
    plan.set_plan(path_waypoints(path), 'odom')
    assert not plan.done and plan.progress() == (0, 2)


def test_unusable_plans_are_refused():
    plan = PlanFollower(tolerance=0.4)
    with pytest.raises(ValueError, match='no poses'):
        plan.set_plan(path_waypoints(messages.path_message([], 'odom', 0)))
    path = messages.path_message([(1.0, 0.0), (2.0, 0.0)], 'odom', 0)
    path.poses[1].pose.position.y = float('nan')
    with pytest.raises(ValueError, match='plan pose 1 is not finite'):
        path_waypoints(path)
    assert not plan.has_plan


def test_without_plan_or_odometry_there_is_no_observation():
    plan = PlanFollower(tolerance=0.4)
    node_input = VisuomotorInput(plan)
    odom = messages.odometry_message(_StandingOdometry(), 'odom', 'base_link', 0)
    observation, why = node_input.observe(SensorReading(None, {}, None, None, odom))
    assert observation is None and why == 'no plan received on plan'
    plan.set_plan([(5.0, 0.0)], 'odom')
    observation, why = node_input.observe(SensorReading(None, {}, None, None, None))
    assert observation is None and 'no odometry' in why
    observation, why = node_input.observe(SensorReading(None, {}, None, None, odom))
    assert why == '' and torch.equal(observation[0, -4:], torch.tensor([0.0, 0.0, 0.75, 0.0]))
    plan.set_plan([(5.0, 0.0)], 'map')
    observation, why = node_input.observe(SensorReading(None, {}, None, None, odom))
    assert observation is None and why == "plan frame 'map' is not the odometry's frame 'odom'"
    plan.set_plan([(0.1, 0.0)], 'odom')
    node_input.observe(SensorReading(None, {}, None, None, odom))
    assert node_input.observe(SensorReading(None, {}, None, None, odom)) == (None, GOAL_REACHED)


def test_rgb_image_of_every_accepted_encoding():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert np.array_equal(rgb_image(rgb, 'rgb8'), rgb)
    assert np.array_equal(rgb_image(np.ascontiguousarray(rgb[:, :, ::-1]), 'bgr8'), rgb)
    mono = rgb[:, :, 0]
    assert np.array_equal(rgb_image(mono, 'mono8'), np.stack([mono] * 3, axis=2))


def _visuomotor_params():
    params = defaults(PARAMETERS)
    params.update(yaml.safe_load(share_path('config/visuomotor.yaml').read_text())
                  ['/**/inference_node']['ros__parameters'])
    return params


def test_the_visuomotor_config_builds_an_engine_on_the_visuomotor_input():
    setup = build_engine(_visuomotor_params())
    try:
        assert setup.engine.step(blank_visuomotor()).output.shape == (1, 2)
        assert sorted(info.name for info in setup.engine.adapters()) == [
            'hazard', 'navigation', 'slow_zone']
    finally:
        setup.close()


@pytest.mark.parametrize('observation,model', [
    ('visuomotor', 'features'), ('features', 'visuomotor')])
def test_an_observation_the_model_does_not_take_fails_at_startup(observation, model):
    params = _visuomotor_params() if model == 'visuomotor' else defaults(PARAMETERS)
    params['observation'] = observation
    params['command'] = 'velocity'   # the route offset needs the plan: its own error, below
    with pytest.raises(StartupError, match=f"observation '{observation}': the base model does "
                                           'not take its input') as raised:
        build_engine(params)
    assert '\n' not in str(raised.value)


@pytest.mark.parametrize('name,value,known', [
    ('observation', 'pixels', 'features, visuomotor'),
    ('command', 'twist', 'velocity, route_offset')])
def test_an_unknown_observation_or_command_fails_at_startup(name, value, known):
    params = defaults(PARAMETERS)
    params[name] = value
    with pytest.raises(StartupError, match=f"{name}: expected one of {known}, got '{value}'"):
        build_engine(params)


class _StandingOdometry:
    x = y = yaw = linear = angular = 0.0


def test_the_documented_launch_runs_the_route_with_the_visuomotor_config():
    specs = sim_launch_specs({'scenario': 'config/scenario.yaml',
                              'params_file': str(share_path('config/visuomotor.yaml'))})
    simulator, inference = specs[0], next(s for s in specs if s.name == 'inference_node')
    assert simulator.parameters[0]['scenario'] == 'config/scenario.yaml'
    assert inference.parameters[0] == str(share_path('config/visuomotor.yaml').resolve())
