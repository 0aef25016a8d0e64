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

"""launch/robot.launch.py's entities: declared nodes, named boolean errors, override files."""

import importlib.util
from pathlib import Path

import pytest
import yaml

launch = pytest.importorskip('launch')
launch_ros = pytest.importorskip('launch_ros')
entities_module = pytest.importorskip('adapter_switcher.bringup.launch_entities')
BoolArgument = entities_module.BoolArgument
RobotNodeOverrides = entities_module.RobotNodeOverrides
robot_arguments = entities_module.robot_arguments
robot_launch_entities = entities_module.robot_launch_entities


def _context(**arguments):
    context = launch.LaunchContext()
    for name, (default, _) in robot_arguments().items():
        context.launch_configurations[name] = arguments.get(name, default)
    return context


def test_every_node_is_declared_not_hidden_in_a_function():
    entities = robot_launch_entities()
    nodes = [e for e in entities if isinstance(e, launch_ros.actions.Node)]
    assert len(nodes) == 3
    declared = {e.name for e in entities if isinstance(e, launch.actions.DeclareLaunchArgument)}
    assert {'namespace', 'params_file', 'adapters_dir', 'use_sim_time', 'respawn'} <= declared


def test_a_bad_boolean_names_the_argument():
    with pytest.raises(ValueError, match="^managed: expected true or false, got 'maybe'"):
        BoolArgument('managed').perform(_context(managed='maybe'))


def test_overrides_file_carries_what_the_bringup_sets(tmp_path):
    path = RobotNodeOverrides('inference_node').perform(
        _context(adapters_dir=str(tmp_path), state_dir=str(tmp_path / 'state')))
    values = yaml.safe_load(open(path))['/**']['ros__parameters']
    assert values['adapters_dirs'] == [str(tmp_path.resolve())]
    assert values['autostart'] is False
    assert values['state_file'].endswith('inference_node_state.json')


def _launch_file(name):
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parents[1] / 'launch' / f'{name}.launch.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def _started(description, **arguments):
    """Return {node name: (namespace, parameter files)} of the nodes these arguments start."""
    context = launch.LaunchContext()
    for entity in description.entities:
        if isinstance(entity, launch.actions.DeclareLaunchArgument):
            context.launch_configurations[entity.name] = arguments.get(
                entity.name, launch.utilities.perform_substitutions(context,
                                                                    entity.default_value))
    started = {}
    for node in description.entities:
        if not isinstance(node, launch_ros.actions.Node) or \
                node.node_package != 'adapter_switcher' or \
                (node.condition is not None and not node.condition.evaluate(context)):
            continue
        node._perform_substitutions(context)
        argv = []
        for part in node.cmd:
            try:
                argv.append(launch.utilities.perform_substitutions(context, part))
            except Exception:  # a ROS-specific argument only the running launch fills in
                argv.append(None)
        files = [yaml.safe_load(open(argv[i + 1])) for i, a in enumerate(argv)
                 if a == '--params-file']
        started[node.node_executable] = (node.expanded_node_namespace, files)
    return started


@pytest.mark.parametrize('name', ['sim', 'gazebo'])
def test_simulations_declare_their_nodes_and_pass_the_robot_arguments(name, tmp_path):
    description = _launch_file(name)
    declared = {e.node_executable for e in description.entities
                if isinstance(e, launch_ros.actions.Node)}
    assert {'context_manager', 'inference_node', 'expert_driver'} <= declared
    assert not any(isinstance(e, launch.actions.OpaqueFunction) for e in description.entities)
    started = _started(description, namespace='robot1', adapters_dir=str(tmp_path))
    assert 'expert_driver' not in started
    namespace, files = started['inference_node']
    assert namespace == '/robot1'
    overrides = files[-1]['/**']['ros__parameters']
    assert overrides == {'use_sim_time': True, 'adapters_dirs': [str(tmp_path.resolve())]}
    assert '/**/inference_node' in files[0]  # the installed parameter file
    expert = _started(description, driver='hazard')
    assert set(expert) == ({'simulator', 'expert_driver'} if name == 'sim' else {'expert_driver'})
    assert expert['expert_driver'][1][0]['/**']['ros__parameters']['expert'] == 'hazard'
