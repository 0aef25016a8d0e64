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
What the launch files start, and the Gazebo bridge mapping.

sim.launch.py and gazebo.launch.py only turn these NodeSpecs into launch_ros actions; the
bridge configuration must map exactly the topics the embedded simulator offers, onto the topics
the SDF's Gazebo plugins and sensors publish.
"""

import xml.etree.ElementTree as ET

from adapter_switcher.bringup.robot_nodes import DEFAULT_PARAMS_FILE
from adapter_switcher.paths import share_path
from adapter_switcher.sim import topics
from adapter_switcher.sim.launch_nodes import expert_driver_node_spec
from adapter_switcher.sim.launch_nodes import GAZEBO_LAUNCH_ARGUMENTS
from adapter_switcher.sim.launch_nodes import gazebo_launch_plan
from adapter_switcher.sim.launch_nodes import GZ_BRIDGE_CONFIG
from adapter_switcher.sim.launch_nodes import SIM_LAUNCH_ARGUMENTS
from adapter_switcher.sim.launch_nodes import sim_launch_specs
from adapter_switcher.sim.launch_nodes import simulator_node_spec
from adapter_switcher.sim.sdf_world import DEFAULT_WORLD

import pytest
import yaml


def test_sim_launch_with_an_expert_starts_simulator_and_expert_driver():
    specs = sim_launch_specs({'driver': 'hazard', 'seed': '7', 'real_time_factor': '0',
                              'world': '/w.sdf', 'scenario': '/s.yaml'})
    simulator, driver = specs
    assert (simulator.executable, simulator.module, simulator.name) == (
        'simulator', 'adapter_switcher.sim.simulator_node', 'simulator')
    assert simulator.parameters == ({'seed': 7, 'real_time_factor': 0.0, 'world': '/w.sdf',
                                     'scenario': '/s.yaml'},)
    assert (driver.executable, driver.module, driver.name) == (
        'expert_driver', 'adapter_switcher.sim.expert_driver_node', 'expert_driver')
    assert driver.parameters == ({'expert': 'hazard', 'use_sim_time': True, 'world': '/w.sdf',
                                  'scenario': '/s.yaml'},)


def test_sim_launch_defaults_simulate_the_demo_scenario_and_leave_the_world_to_the_node():
    simulator, _ = sim_launch_specs({'driver': 'auto'})
    # The scenario the shipped demo models drive, so a plain launch shows the switches.
    assert simulator.parameters == ({'seed': 0, 'real_time_factor': 1.0,
                                     'scenario': 'config/demo_scenario.yaml'},)
    assert set(SIM_LAUNCH_ARGUMENTS) == {'world', 'scenario', 'seed', 'real_time_factor',
                                         'driver', 'namespace', 'params_file', 'adapters_dir',
                                         'use_sim_time'}
    # --show-args shows the installed parameter file, as robot.launch.py's does.
    assert SIM_LAUNCH_ARGUMENTS['params_file'][0] == str(share_path(DEFAULT_PARAMS_FILE))


def test_sim_launch_with_the_robot_starts_the_robot_nodes_on_sim_time():
    from adapter_switcher.bringup.robot_nodes import robot_node_specs
    specs = sim_launch_specs({})
    assert specs[0] == simulator_node_spec(scenario='config/demo_scenario.yaml')
    assert specs[1:] == list(robot_node_specs(use_sim_time=True))


@pytest.mark.parametrize('plan', [
    lambda arguments: sim_launch_specs(arguments)[1:],
    lambda arguments: gazebo_launch_plan(arguments).nodes,
], ids=['sim', 'gazebo'])
def test_simulations_pass_the_robot_arguments_to_the_robot_nodes(plan, tmp_path):
    params = tmp_path / 'params.yaml'
    params.write_text('/**:\n  ros__parameters: {}\n')
    context, inference = plan({'namespace': '/robot1/', 'params_file': str(params),
                               'adapters_dir': str(tmp_path), 'use_sim_time': 'false'})
    assert (context.namespace, inference.namespace) == ('robot1', 'robot1')
    assert inference.parameters == (str(params.resolve()), {
        'use_sim_time': False, 'adapters_dirs': [str(tmp_path.resolve())]})
    assert context.parameters == (str(params.resolve()), {'use_sim_time': False})
    with pytest.raises(ValueError, match="use_sim_time: expected true or false, got 'often'"):
        plan({'use_sim_time': 'often'})
    with pytest.raises(FileNotFoundError, match='parameter file /nonexistent.yaml'):
        plan({'params_file': '/nonexistent.yaml'})


@pytest.mark.parametrize('arguments, message', [
    ({'seed': '-1'}, 'launch argument seed: expected a value >= 0'),
    ({'seed': 'x'}, "launch argument seed: expected int, got 'x'"),
    ({'real_time_factor': 'fast'}, 'launch argument real_time_factor: expected float'),
    ({'real_time_factor': 'nan'}, 'launch argument real_time_factor: expected a value >= 0'),
    ({'driver': 'human'}, 'launch argument driver: expected one of robot, navigation'),
    ({'speed': '1'}, r"unknown launch argument\(s\) \['speed'\]"),
])
def test_bad_launch_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        sim_launch_specs({'driver': 'auto', **arguments})


def test_node_specs_become_ros_arguments():
    argv = simulator_node_spec(seed=3, real_time_factor=0.0, lidar_rate_hz=10.0).command('py')
    assert argv[:3] == ['py', '-m', 'adapter_switcher.sim.simulator_node']
    assert {'seed:=3', 'real_time_factor:=0.0', 'lidar_rate_hz:=10.0'} <= set(argv)
    assert "expert:='navigation'" in expert_driver_node_spec('navigation').command('py')
    with pytest.raises(ValueError, match='expert must be one of navigation, hazard, auto'):
        expert_driver_node_spec('robot')


def test_gazebo_plan_runs_the_world_with_the_bridge_config():
    plan = gazebo_launch_plan({'driver': 'navigation', 'headless': 'true'})
    assert plan.gz_args == f'-s -r {share_path(DEFAULT_WORLD)}'
    assert plan.bridge_parameters == {'config_file': str(share_path(GZ_BRIDGE_CONFIG))}
    assert plan.nodes == [expert_driver_node_spec('navigation')]
    assert gazebo_launch_plan({'driver': 'auto', 'world': '/x.sdf'}).gz_args == '-r /x.sdf'
    assert set(GAZEBO_LAUNCH_ARGUMENTS) == {'world', 'driver', 'headless', 'namespace',
                                            'params_file', 'adapters_dir', 'use_sim_time'}
    with pytest.raises(ValueError, match='launch argument headless: expected boolean'):
        gazebo_launch_plan({'driver': 'auto', 'headless': 'maybe'})


def test_gz_bridge_maps_exactly_the_simulator_topics():
    entries = yaml.safe_load(share_path(GZ_BRIDGE_CONFIG).read_text())
    mapped = {e['ros_topic_name']: (e['ros_type_name'], e['gz_type_name'], e['direction'])
              for e in entries}
    assert len(mapped) == len(entries)
    assert mapped == topics.BRIDGED
    assert all(e['gz_topic_name'] == e['ros_topic_name'] for e in entries)


def test_sdf_plugins_and_sensors_publish_the_bridged_gazebo_topics():
    robot = ET.parse(share_path(DEFAULT_WORLD)).getroot().find("world/model[@name='robot']")

    def absolute(name):
        return name if name.startswith('/') else '/' + name

    lidar = robot.find(".//sensor[@type='gpu_lidar']")
    camera = robot.find(".//sensor[@type='camera']")
    odometry = robot.find("plugin[@filename='gz-sim-odometry-publisher-system']")
    drive = robot.find("plugin[@filename='gz-sim-diff-drive-system']")
    image = absolute(camera.findtext('topic'))
    published = {
        absolute(lidar.findtext('topic')): topics.SCAN,
        image: topics.IMAGE,
        image.rsplit('/', 1)[0] + '/camera_info': topics.CAMERA_INFO,  # gz-sensors' naming
        absolute(odometry.findtext('odom_topic')): topics.ODOM,
        absolute(odometry.findtext('tf_topic')): topics.TF,
        absolute(drive.findtext('topic')): topics.CMD_VEL,
    }
    assert all(gz == ros for gz, ros in published.items())
    assert odometry.findtext('odom_frame') == topics.ODOM_FRAME
    assert odometry.findtext('robot_base_frame') == robot.find('link').get('name')


def test_a_namespaced_simulation_moves_the_simulator_topics_with_the_robot():
    simulator, context, inference = sim_launch_specs({'namespace': '/robot1/'})
    assert (simulator.namespace, context.namespace, inference.namespace) == ('robot1',) * 3
    remapped = dict(simulator.remappings)
    assert remapped['/scan'] == '/robot1/scan'
    assert remapped['/cmd_vel'] == '/robot1/cmd_vel'
    assert remapped['/camera/image_raw'] == '/robot1/camera/image_raw'
    assert '/clock' not in remapped, 'one simulation: its /clock stays global'
    simulator, expert = sim_launch_specs({'namespace': 'robot1', 'driver': 'navigation'})
    assert expert.namespace == 'robot1'
    assert dict(expert.remappings) == remapped
