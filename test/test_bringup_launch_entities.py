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
